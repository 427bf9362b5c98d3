//! Privileged: "no rules, no cost" (nothing attached without rules) and exclusions.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Command;

use vigil_abi::Counter;
use vigil_bpf::FilterSet;

/// Links (by kernel query) whose program is one of ours.
fn our_links(prog_ids: &[u32]) -> Vec<u32> {
    aya::programs::loaded_links()
        .filter_map(Result::ok)
        .filter(|l| prog_ids.contains(&l.program_id()))
        .map(|l| l.id())
        .collect()
}

/// Program ids bpftool lists as attached (independent of aya), when bpftool exists.
fn bpftool_linked_progs() -> Option<BTreeSet<u32>> {
    let out = Command::new("bpftool")
        .args(["-j", "link", "show"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(
        text.split("\"prog_id\":")
            .skip(1)
            .filter_map(|s| {
                s.split(|c: char| !c.is_ascii_digit())
                    .find(|t| !t.is_empty())
            })
            .filter_map(|t| t.parse().ok())
            .collect(),
    )
}

#[test]
fn nothing_attached_without_rules() {
    let Some(mut kit) = common::kit("nothing_attached_without_rules") else {
        return;
    };
    let ids = kit.loader.program_ids();
    assert!(!ids.is_empty());
    assert!(!kit.loader.is_attached());
    assert!(our_links(&ids).is_empty(), "attached right after load");

    let f = common::filter(&["getppid"], std::process::id());
    kit.loader.apply(&f).expect("apply");
    assert!(kit.loader.is_attached());
    // sys_exit, and signal_generate for signal targets where the kernel loads it.
    let want = 1 + usize::from(kit.loader.has_signal_hook());
    assert_eq!(our_links(&ids).len(), want, "links with rules");
    if let Some(progs) = bpftool_linked_progs() {
        assert!(
            ids.iter().any(|i| progs.contains(i)),
            "bpftool does not see our link"
        );
    }

    kit.loader.apply(&FilterSet::default()).expect("clear");
    assert!(!kit.loader.is_attached());
    assert!(our_links(&ids).is_empty(), "still attached with zero rules");
    if let Some(progs) = bpftool_linked_progs() {
        assert!(
            !ids.iter().any(|i| progs.contains(i)),
            "bpftool still sees our link"
        );
    }

    // Detached: the program does not run at all, so even candidates are not counted.
    let before = kit.loader.counters().expect("counters");
    let (_, events) = common::run_detached_loop(&mut kit, 2000);
    assert!(events.is_empty());
    let d = kit.loader.counters().expect("counters").since(&before);
    assert_eq!(
        d.get(Counter::Candidates),
        0,
        "program ran while detached: {d}"
    );
}

#[test]
fn excluded_task_yields_nothing_and_is_counted() {
    let Some(mut kit) = common::kit("excluded_task_yields_nothing_and_is_counted") else {
        return;
    };
    let mut child = common::spawn(&["loop", "500"]);
    let pid = child.id();
    kit.loader.exclude_tgid(pid).expect("exclude");
    kit.loader
        .apply(&common::filter(&["getppid"], pid))
        .expect("apply");
    let before = kit.loader.counters().expect("counters");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("go");
    let _ = child.wait_with_output().expect("wait");
    let d = kit.loader.counters().expect("counters").since(&before);
    kit.loader.apply(&FilterSet::default()).expect("clear");
    assert!(d.get(Counter::Excluded) >= 500, "excluded counter: {d}");
    let mut n = 0;
    kit.reader.drain(|e| n += usize::from(e.task.pid == pid));
    assert_eq!(n, 0, "events from an excluded task");
}

#[test]
fn features_are_detected() {
    let Some(kit) = common::kit("features_are_detected") else {
        return;
    };
    let f = kit.loader.features();
    eprintln!("features: {f:?}");
    assert!(f.kernel_btf && f.ringbuf, "{f:?}");
    // The BPF LSM is either usable or its refusal is explained.
    if let Err(why) = &f.lsm_load {
        assert!(!why.is_empty());
    }
}
