//! Task-list rules on real kernel events. vigil judges the task list with each event's
//! identity (docs/design/kernel-differences.md, D12; the kernel judges it once, when the task
//! is forked): a `never` task rule silences a task while it matches, whatever its exit rules
//! say, and an `always` task rule records every syscall of it.

mod daemon_util;
mod support;

use support::events::{ausearch_events, show, Ev};
use support::workload::{cs, run, Op};
use support::{need_kernel, pb, test_dir, unique_auid, KernelDaemon};
use vigil_testkit::unique_key;

fn of_pid(evs: &[Ev], pid: u32) -> Vec<Ev> {
    let mut v: Vec<Ev> = evs.iter().filter(|e| e.pid() == pid).cloned().collect();
    v.sort_by_key(|e| e.0.id.serial);
    v
}

fn nrs(evs: &[Ev]) -> Vec<i64> {
    evs.iter().map(Ev::nr).collect()
}

#[test]
fn never_task_rules_silence_matching_tasks() {
    if !need_kernel("never_task_rules_silence_matching_tasks") {
        return;
    }
    let key = unique_key("e2e-task");
    let (excluded, control) = (unique_auid(), unique_auid());
    let dir = test_dir("vigil-e2e-task-");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let d = KernelDaemon::start(
        &format!(
            "-a never,task -F auid={excluded}\n\
             -a always,exit -F arch=b64 -S openat -F auid={excluded} -k {key}\n\
             -a always,exit -F arch=b64 -S openat -F auid={control} -k {key}\n"
        ),
        "",
    );
    let ops = |auid| {
        vec![
            Op::SetLoginuid(auid),
            Op::OpenAt(cs(pb(&file)), libc::O_RDONLY, 0),
            Op::Fork(vec![Op::OpenAt(cs(pb(&file)), libc::O_RDONLY, 0)]),
        ]
    };
    let a = run(ops(excluded));
    let b = run(ops(control));
    let evs = d.by_key(&key);
    let child = |r: &support::workload::Run| u32::try_from(r.result(2)).expect("fork");
    // The control workload and its child are audited by the same exit rule...
    assert_eq!(nrs(&of_pid(&evs, b.pid)), vec![257], "{}", show(&evs));
    assert_eq!(nrs(&of_pid(&evs, child(&b))), vec![257], "{}", show(&evs));
    // ...the excluded one is not, nor its child (the kernel would audit the parent's open:
    // it was forked before it took the login uid).
    assert!(of_pid(&evs, a.pid).is_empty(), "{}", show(&evs));
    assert!(of_pid(&evs, child(&a)).is_empty(), "{}", show(&evs));
}

#[test]
fn always_task_rules_record_every_syscall() {
    if !need_kernel("always_task_rules_record_every_syscall") {
        return;
    }
    let auid = unique_auid();
    let dir = test_dir("vigil-e2e-task-all-");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    // auditctl takes no key on a task rule (a key needs -S, and the task list has none).
    let d = KernelDaemon::start(&format!("-a always,task -F auid={auid}\n"), "");
    let r = run(vec![
        Op::SetLoginuid(auid),
        Op::Getppid,
        Op::OpenAt(cs(pb(&file)), libc::O_RDONLY, 0),
        Op::Chdir(cs(pb(dir.path()))),
    ]);
    d.sync();
    let evs = of_pid(&ausearch_events(&d.log, &["-ua", &auid.to_string()]), r.pid);
    let n = nrs(&evs);
    // Every syscall after the login uid was set: each op, the close after the open, and the
    // writes that report the results.
    for want in [110, 257, 3, 80, 1] {
        assert!(n.contains(&want), "syscall {want} missing: {}", show(&evs));
    }
    for e in &evs {
        assert_eq!(e.sc_num("auid"), Some(i64::from(auid)));
        assert!(e.keys().is_empty());
    }
}
