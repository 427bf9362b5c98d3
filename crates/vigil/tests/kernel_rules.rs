//! Rule semantics on real kernel events (`vigil daemon` on BPF): all-syscall rules, never
//! rules and their order, exit/success filters, `-w` watches on a file and a directory, and
//! task-list exclusion. Each test's workload has its own login uid, which every rule names;
//! events are selected with `ausearch -if LOG` after a `vigil ctl -m` marker.

mod daemon_util;
mod support;

use std::os::unix::fs::PermissionsExt;

use support::events::{ausearch_events, show, Ev};
use support::workload::{cs, run, Op};
use support::{need_kernel, pb, test_dir, unique_auid, KernelDaemon, TEST_GID, TEST_UID};
use vigil_testkit::unique_key;

fn of_pid(evs: Vec<Ev>, pid: u32) -> Vec<Ev> {
    let mut v: Vec<Ev> = evs.into_iter().filter(|e| e.pid() == pid).collect();
    v.sort_by_key(|e| e.0.id.serial);
    v
}

fn nrs(evs: &[Ev]) -> Vec<i64> {
    evs.iter().map(Ev::nr).collect()
}

#[test]
fn all_syscall_rules_with_and_without_a_key() {
    if !need_kernel("all_syscall_rules_with_and_without_a_key") {
        return;
    }
    let key = unique_key("e2e-all");
    let (a1, a2) = (unique_auid(), unique_auid());
    let u = TEST_UID;
    // auditctl wants -S before -k: `-S all` names every syscall; without -S the rule also
    // applies to every syscall, and has no key.
    let d = KernelDaemon::start(
        &format!(
            "-a always,exit -F arch=b64 -S all -F uid={u} -F auid={a1} -k {key}\n\
             -a always,exit -F arch=b64 -F uid={u} -F auid={a2}\n"
        ),
        "",
    );
    let dir = test_dir("vigil-e2e-all-");
    std::fs::write(dir.path().join("f"), "x").unwrap();
    let ops = |auid| {
        vec![
            Op::SetLoginuid(auid),
            Op::Getppid,
            Op::DropTo(TEST_UID, TEST_GID),
            Op::Getppid,
            Op::Getppid,
            Op::OpenAt(cs(pb(&dir.path().join("f"))), libc::O_RDONLY, 0),
            Op::Chdir(cs(pb(dir.path()))),
        ]
    };
    let r1 = run(ops(a1));
    let r2 = run(ops(a2));
    d.sync();
    let with_key = of_pid(ausearch_events(&d.log, &["-k", &key]), r1.pid);
    let without = of_pid(ausearch_events(&d.log, &["-ua", &a2.to_string()]), r2.pid);
    for (evs, keyed) in [(&with_key, true), (&without, false)] {
        let n = nrs(evs);
        // Every syscall the workload made as uid U, none of those made as root: setgroups and
        // setresgid ran as root, setresuid ended as U.
        for e in evs {
            assert_eq!(e.sc_num("uid"), Some(i64::from(u)), "{}", show(evs));
            assert_eq!(e.has_key(&key), keyed);
            if !keyed {
                assert_eq!(e.sc("key").as_deref(), Some("(null)"));
            }
        }
        assert_eq!(n.iter().filter(|&&x| x == 110).count(), 2, "getppid: {n:?}");
        for want in [117, 257, 80, 1] {
            assert!(n.contains(&want), "syscall {want} missing: {n:?}");
        }
        for never in [116, 119] {
            assert!(!n.contains(&never), "syscall {never} ran as root: {n:?}");
        }
    }
}

#[test]
fn never_rules_decide_by_order() {
    if !need_kernel("never_rules_decide_by_order") {
        return;
    }
    let key = unique_key("e2e-never");
    let a = unique_auid();
    let dir = test_dir("vigil-e2e-never-");
    let p = |n: &str| dir.path().join(n);
    for n in ["skip", "keep", "late"] {
        std::fs::write(p(n), n).unwrap();
    }
    let d = KernelDaemon::start(
        &format!(
            "-a never,exit -F arch=b64 -S openat -F auid={a} -F path={skip}\n\
             -a always,exit -F arch=b64 -S openat -F auid={a} -k {key}\n\
             -a never,exit -F arch=b64 -S openat -F auid={a} -F path={late}\n",
            skip = p("skip").display(),
            late = p("late").display()
        ),
        "",
    );
    let r = run(vec![
        Op::SetLoginuid(a),
        Op::OpenAt(cs(pb(&p("skip"))), libc::O_RDONLY, 0),
        Op::OpenAt(cs(pb(&p("keep"))), libc::O_RDONLY, 0),
        Op::OpenAt(cs(pb(&p("late"))), libc::O_RDONLY, 0),
    ]);
    let evs = of_pid(d.by_key(&key), r.pid);
    let names: Vec<String> = evs.iter().map(|e| e.paths()[0].name.clone()).collect();
    // The first matching rule decides: the never rule after the always rule never decides.
    assert_eq!(
        names,
        vec![
            p("keep").display().to_string(),
            p("late").display().to_string()
        ],
        "{}",
        show(&evs)
    );
}

#[test]
fn exit_and_success_filters() {
    if !need_kernel("exit_and_success_filters") {
        return;
    }
    let key = unique_key("e2e-exit");
    let a = unique_auid();
    let dir = test_dir("vigil-e2e-exit-");
    let secret = dir.path().join("secret");
    let open = dir.path().join("open");
    std::fs::write(&secret, "s").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&open, "o").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let d = KernelDaemon::start(
        &format!(
            "-a always,exit -F arch=b64 -S openat,open -F exit=-EACCES -F auid={a} -k {key}-eacces\n\
             -a always,exit -F arch=b64 -S openat,open -F success=0 -F auid={a} -k {key}-failed\n\
             -a always,exit -F arch=b64 -S openat,open -F exit>=0 -F auid={a} -F uid=0 -k {key}-ok\n"
        ),
        "",
    );
    let r = run(vec![
        Op::SetLoginuid(a),
        Op::OpenAt(cs(pb(&open)), libc::O_RDONLY, 0),
        Op::DropTo(TEST_UID, TEST_GID),
        Op::OpenAt(cs(pb(&secret)), libc::O_RDONLY, 0),
        Op::Open(cs(pb(&dir.path().join("missing"))), libc::O_RDONLY, 0),
        Op::OpenAt(cs(pb(&open)), libc::O_RDONLY, 0),
    ]);
    let (eacces, enoent) = (-i64::from(libc::EACCES), -i64::from(libc::ENOENT));
    assert_eq!(r.results[3..6], [eacces, enoent, r.result(5)]);
    assert!(r.result(5) >= 0);
    let get = |k: &str| of_pid(d.by_key(&format!("{key}-{k}")), r.pid);
    let denied = get("eacces");
    assert_eq!(nrs(&denied), vec![257], "{}", show(&denied));
    assert_eq!(denied[0].exit(), Some(eacces));
    let failed = get("failed");
    assert_eq!(nrs(&failed), vec![2], "{}", show(&failed));
    assert_eq!(failed[0].exit(), Some(enoent));
    // The success as uid 0 only (the one as TEST_UID matches no rule).
    let ok = get("ok");
    assert_eq!(nrs(&ok), vec![257], "{}", show(&ok));
    assert_eq!(ok[0].success(), Some(true));
    assert_eq!(ok[0].sc_num("uid"), Some(0));
}

#[test]
fn watches_on_a_file_and_a_directory() {
    if !need_kernel("watches_on_a_file_and_a_directory") {
        return;
    }
    let key = unique_key("e2e-watch");
    let dir = test_dir("vigil-e2e-watch-");
    let file = dir.path().join("watched");
    let wdir = dir.path().join("wdir");
    std::fs::write(&file, "x").unwrap();
    std::fs::create_dir(&wdir).unwrap();
    // Watches take no login uid: the files are the test's own.
    let d = KernelDaemon::start(
        &format!(
            "-w {} -p wa -k {key}-file\n-w {} -p rwxa -k {key}-dir\n",
            file.display(),
            wdir.display()
        ),
        "",
    );
    let inside = wdir.join("new");
    let r = run(vec![
        Op::OpenAt(cs(pb(&file)), libc::O_RDONLY, 0),
        Op::OpenAt(cs(pb(&file)), libc::O_WRONLY, 0),
        Op::Chmod(cs(pb(&file)), 0o600),
        Op::Creat(cs(pb(&inside)), 0o644),
        Op::OpenAt(cs(pb(&inside)), libc::O_RDONLY, 0),
        Op::Rename(cs(pb(&inside)), cs(pb(&wdir.join("renamed")))),
        Op::Unlink(cs(pb(&wdir.join("renamed")))),
        Op::OpenAt(cs(pb(dir.path())), libc::O_RDONLY | libc::O_DIRECTORY, 0),
    ]);
    assert!(r.results.iter().all(|&x| x >= 0), "{r:?}");
    let on_file = of_pid(d.by_key(&format!("{key}-file")), r.pid);
    // -p wa: the write open and the chmod, not the read.
    assert_eq!(nrs(&on_file), vec![257, 90], "{}", show(&on_file));
    assert_eq!(on_file[0].sc("a2"), Some(format!("{:x}", libc::O_WRONLY)));
    let on_dir = of_pid(d.by_key(&format!("{key}-dir")), r.pid);
    // -p rwxa on a directory: everything done to what is below it (not the parent's open).
    assert_eq!(nrs(&on_dir), vec![85, 257, 82, 87], "{}", show(&on_dir));
    let inside_text = inside.display().to_string();
    assert!(on_dir[0]
        .paths()
        .iter()
        .any(|p| p.name == inside_text && p.nametype == "CREATE"));
}
