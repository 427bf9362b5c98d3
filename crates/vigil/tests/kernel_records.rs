//! One trigger test per record family on real kernel events: `vigil daemon` (BPF source) with
//! a rules file, a forked workload doing exact syscalls under a login uid of its own, a
//! `vigil ctl -m` sync marker, then `ausearch -if LOG -k KEY` selects the events and
//! vigil-format's reader gives their fields, which are checked against the workload's own
//! results and `stat` of the files (ground truth, not hard-coded values).

mod daemon_util;
mod support;

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use support::events::{ausearch_interpreted, show, Ev, PathItem};
use support::workload::{cs, run, Op};
use support::{need_kernel, pb, test_dir, unique_auid, KernelDaemon, TEST_GID, TEST_UID};
use vigil_testkit::unique_key;

/// `-a always,exit -F arch=b64 -S SYSCALLS -F auid=AUID -k KEY`.
fn rule(syscalls: &str, auid: u32, key: &str) -> String {
    format!("-a always,exit -F arch=b64 -S {syscalls} -F auid={auid} -k {key}\n")
}

/// The events of `pid` among `evs`, in serial order (ausearch prints an event when it ends,
/// so its output order is not always the order of the syscalls).
fn of_pid(evs: Vec<Ev>, pid: u32) -> Vec<Ev> {
    let mut v: Vec<Ev> = evs.into_iter().filter(|e| e.pid() == pid).collect();
    v.sort_by_key(|e| e.0.id.serial);
    v
}

/// The single event with syscall `nr`, panicking with the list otherwise.
fn one(evs: &[Ev], nr: i64) -> &Ev {
    let m: Vec<&Ev> = evs.iter().filter(|e| e.nr() == nr).collect();
    assert_eq!(m.len(), 1, "want one event of syscall {nr}:\n{}", show(evs));
    m[0]
}

/// `dev=` as the format writes it (`%02x:%02x`).
fn dev_text(dev: u64) -> String {
    format!("{:02x}:{:02x}", libc::major(dev), libc::minor(dev))
}

/// Checks a PATH item against `stat` of `file`.
fn assert_object(p: &PathItem, file: &Path) {
    let md = std::fs::symlink_metadata(file).unwrap();
    assert_eq!(
        p.inode,
        Some(md.ino()),
        "inode of {}: {p:?}",
        file.display()
    );
    assert_eq!(p.dev.as_deref(), Some(dev_text(md.dev()).as_str()), "{p:?}");
    assert_eq!(p.mode, Some(format!("0{:o}", md.mode())), "{p:?}");
    assert_eq!((p.ouid, p.ogid), (Some(md.uid()), Some(md.gid())), "{p:?}");
}

/// SYSCALL fields every event of a workload run as root under `auid` has.
fn assert_identity(e: &Ev, pid: u32, auid: u32, key: &str) {
    assert_eq!(e.pid(), pid);
    assert_eq!(
        e.sc_num("auid"),
        Some(i64::from(auid)),
        "{}",
        show(std::slice::from_ref(e))
    );
    assert_eq!(e.sc("arch").as_deref(), Some("c000003e"));
    assert!(e.has_key(key), "key {key} missing: {:?}", e.keys());
    // The kernel ends every syscall event with PROCTITLE: readers close the event there.
    assert_eq!(
        e.types().last().map(String::as_str),
        Some("PROCTITLE"),
        "PROCTITLE must end the event: {:?}",
        e.types()
    );
}

fn assert_result(e: &Ev, result: i64) {
    assert_eq!(
        e.exit(),
        Some(result),
        "exit of {}",
        show(std::slice::from_ref(e))
    );
    assert_eq!(e.success(), Some(result >= 0));
}

#[test]
fn open_family_paths_cwd_and_objects() {
    if !need_kernel("open_family_paths_cwd_and_objects") {
        return;
    }
    let key = unique_key("e2e-open");
    let auid = unique_auid();
    let d = KernelDaemon::start(&rule("open,openat,creat", auid, &key), "");
    let dir = test_dir("vigil-e2e-open-");
    let existing = dir.path().join("existing");
    std::fs::write(&existing, "x").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&existing, Some(TEST_UID), Some(TEST_GID)).unwrap();
    let created = dir.path().join("created");
    let ops = vec![
        Op::SetLoginuid(auid),
        Op::Chdir(cs(pb(dir.path()))),
        Op::Open(cs("existing"), libc::O_RDONLY, 0),
        Op::OpenAt(cs(pb(&existing)), libc::O_RDONLY, 0),
        Op::Creat(cs("created"), 0o600),
        Op::OpenAt(cs("missing"), libc::O_RDONLY, 0),
    ];
    let r = run(ops);
    assert!(r.result(0) > 0 && r.result(1) == 0, "set-up failed: {r:?}");
    let evs = of_pid(d.by_key(&key), r.pid);
    assert_eq!(evs.len(), 4, "one event per open:\n{}", show(&evs));
    let cwd = dir.path().display().to_string();
    for e in &evs {
        assert_identity(e, r.pid, auid, &key);
        assert_eq!(e.get("CWD", "cwd"), Some(cwd.clone()), "CWD");
        assert_eq!(e.sc_num("items"), Some(e.paths().len() as i64));
    }
    // open("existing"): the name as passed, the object's facts.
    let open = one(&evs, 2);
    assert_result(open, r.result(2));
    let p = &open.paths()[0];
    assert_eq!(
        (p.item, p.name.as_str(), p.nametype.as_str()),
        (0, "existing", "NORMAL")
    );
    assert_object(p, &existing);
    // openat by absolute path and openat of a missing name.
    let openats: Vec<&Ev> = evs.iter().filter(|e| e.nr() == 257).collect();
    assert_eq!(openats.len(), 2, "{}", show(&evs));
    assert_result(openats[0], r.result(3));
    assert_eq!(openats[0].paths()[0].name, existing.display().to_string());
    assert_object(&openats[0].paths()[0], &existing);
    assert_result(openats[1], r.result(5));
    assert_eq!(r.result(5), -i64::from(libc::ENOENT));
    let missing = &openats[1].paths()[0];
    assert_eq!(missing.name, "missing");
    assert_eq!(
        missing.inode, None,
        "no object for a missing name: {missing:?}"
    );
    assert_eq!(
        missing.nametype, "UNKNOWN",
        "the kernel's nametype for a failed lookup"
    );
    // creat: the new file, nametype CREATE.
    let creat = one(&evs, 85);
    assert_result(creat, r.result(4));
    let p = creat
        .paths()
        .into_iter()
        .find(|p| p.nametype == "CREATE")
        .unwrap_or_else(|| panic!("no CREATE item: {:?}", creat.paths()));
    assert_eq!(p.name, "created");
    assert_object(&p, &created);
}

#[test]
fn execve_long_and_binary_arguments() {
    if !need_kernel("execve_long_and_binary_arguments") {
        return;
    }
    let key = unique_key("e2e-exec");
    let auid = unique_auid();
    let d = KernelDaemon::start(&rule("execve", auid, &key), "");
    // An argument over 8 KiB (split as aN_len/aN[i] and over several EXECVE records), one
    // with bytes that must be hex (space, quote, 0xff), one plain.
    let long: Vec<u8> = (0..9000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let binary: Vec<u8> = b"sp ace\"q\xff\x01end".to_vec();
    let argv = vec![cs("/bin/true"), cs(&long), cs(&binary), cs("plain")];
    let r = run(vec![
        Op::SetLoginuid(auid),
        Op::Exec(cs("/nonexistent/prog"), vec![cs("prog")]),
        Op::Exec(cs("/bin/true"), argv.clone()),
    ]);
    assert_eq!(r.result(1), -i64::from(libc::ENOENT));
    assert_eq!(r.results.len(), 2, "the second exec succeeds: {r:?}");
    assert_eq!(r.status, 0, "/bin/true exits 0");
    let evs = of_pid(d.by_key(&key), r.pid);
    assert_eq!(evs.len(), 2, "{}", show(&evs));
    for e in &evs {
        assert_identity(e, r.pid, auid, &key);
    }
    // The failed exec: the name it tried, not found.
    let failed = &evs[0];
    assert_result(failed, r.result(1));
    assert_eq!(failed.paths()[0].name, "/nonexistent/prog");
    // The successful one: argv back byte for byte, split as the kernel splits it.
    let ok = &evs[1];
    assert_result(ok, 0);
    assert_eq!(ok.sc("comm").as_deref(), Some("true"));
    let want: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    assert_eq!(ok.argv(), want, "EXECVE argv");
    assert_eq!(ok.get("EXECVE", "argc"), Some("4".into()));
    let execve_recs = ok.recs("EXECVE").count();
    assert!(execve_recs >= 2, "9000 bytes need several EXECVE records");
    let first = ok.rec("EXECVE").unwrap();
    assert!(
        first.get_by_name("a1_len").is_some() && first.get_by_name("a1[0]").is_some(),
        "the long argument is split as a1_len/a1[i]"
    );
    let exe = ok.paths();
    assert_eq!(exe[0].name, "/bin/true");
    assert_object(&exe[0], Path::new("/bin/true"));
    // PROCTITLE: argv joined by NUL, cut at 128 bytes.
    let mut title = want.join(&0u8);
    title.truncate(128);
    assert_eq!(ok.proctitle(), Some(title));
    // ausearch reassembles and interprets the split argument.
    let i = ausearch_interpreted(&d.log, &["-k", &key, "-p", &r.pid.to_string()]);
    assert!(
        i.contains(std::str::from_utf8(&long[..100]).unwrap()),
        "ausearch -i shows the long argument"
    );
}

#[test]
fn connect_sockaddr_interpreted_by_ausearch() {
    if !need_kernel("connect_sockaddr_interpreted_by_ausearch") {
        return;
    }
    let key = unique_key("e2e-net");
    let auid = unique_auid();
    let d = KernelDaemon::start(&rule("connect", auid, &key), "");
    // A port that was just free: connect is refused.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let open_port = listener.local_addr().unwrap().port();
    let r = run(vec![
        Op::SetLoginuid(auid),
        Op::Connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)),
        Op::Connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, open_port)),
    ]);
    assert_eq!(r.result(1), -i64::from(libc::ECONNREFUSED));
    assert_eq!(r.result(2), 0);
    let evs = of_pid(d.by_key(&key), r.pid);
    assert_eq!(evs.len(), 2, "{}", show(&evs));
    for (e, (res, p)) in evs.iter().zip([(r.result(1), port), (0, open_port)]) {
        assert_identity(e, r.pid, auid, &key);
        assert_result(e, res);
        // struct sockaddr_in as the kernel prints it: family 2 (LE), port and address in
        // network order, 8 bytes of padding.
        let want = format!("0200{p:04X}7F0000010000000000000000");
        assert_eq!(e.get("SOCKADDR", "saddr"), Some(want));
        assert!(
            e.rec("CWD").is_none(),
            "the kernel writes no CWD for connect"
        );
    }
    let i = ausearch_interpreted(&d.log, &["-k", &key, "-p", &r.pid.to_string()]);
    for p in [port, open_port] {
        let want = format!("saddr={{ saddr_fam=inet laddr=127.0.0.1 lport={p} }}");
        assert!(i.contains(&want), "ausearch -i: want {want} in\n{i}");
    }
}

#[test]
fn unlink_and_rename_name_types() {
    if !need_kernel("unlink_and_rename_name_types") {
        return;
    }
    let key = unique_key("e2e-del");
    let auid = unique_auid();
    let d = KernelDaemon::start(
        &rule("unlink,unlinkat,rename,renameat2,mkdir", auid, &key),
        "",
    );
    let dir = test_dir("vigil-e2e-del-");
    for f in ["a", "b", "c"] {
        std::fs::write(dir.path().join(f), f).unwrap();
    }
    let r = run(vec![
        Op::SetLoginuid(auid),
        Op::Chdir(cs(pb(dir.path()))),
        Op::Unlink(cs("a")),
        Op::UnlinkAt(cs("missing"), 0),
        Op::Rename(cs("b"), cs("b2")),
        Op::RenameAt2(cs("c"), cs("c2")),
        Op::Mkdir(cs("sub"), 0o755),
        Op::UnlinkAt(cs("sub"), libc::AT_REMOVEDIR),
    ]);
    assert_eq!(&r.results[2..], &[0, -i64::from(libc::ENOENT), 0, 0, 0, 0]);
    let evs = of_pid(d.by_key(&key), r.pid);
    assert_eq!(evs.len(), 6, "{}", show(&evs));
    let nt = |e: &Ev| -> Vec<(String, String)> {
        e.paths()
            .into_iter()
            .filter(|p| p.nametype != "PARENT")
            .map(|p| (p.name, p.nametype))
            .collect()
    };
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    for (e, res) in evs.iter().zip(&r.results[2..]) {
        assert_identity(e, r.pid, auid, &key);
        assert_result(e, *res);
        assert_eq!(e.get("CWD", "cwd"), Some(dir.path().display().to_string()));
    }
    // The kernel's layout: a PARENT item (the directory part of the name, here the working
    // directory) for each name looked up from its parent, then the child when it was there.
    let parents = |e: &Ev| -> Vec<String> {
        e.paths()
            .into_iter()
            .filter(|p| p.nametype == "PARENT")
            .map(|p| p.name)
            .collect()
    };
    let cwd = dir.path().display().to_string();
    for (i, e) in evs.iter().enumerate() {
        let want = if matches!(i, 2 | 3) { 2 } else { 1 };
        assert_eq!(parents(e), vec![cwd.clone(); want], "{}", show(&evs));
        assert_eq!(e.sc_num("items"), Some(e.paths().len() as i64));
    }
    assert_eq!(nt(&evs[0]), vec![s("a", "DELETE")], "unlink");
    assert_eq!(
        nt(&evs[1]),
        vec![],
        "unlinkat of nothing: the directory only"
    );
    assert_eq!(
        nt(&evs[2]),
        vec![s("b", "DELETE"), s("b2", "CREATE")],
        "rename"
    );
    assert_eq!(
        nt(&evs[3]),
        vec![s("c", "DELETE"), s("c2", "CREATE")],
        "renameat2"
    );
    assert_eq!(nt(&evs[4]), vec![s("sub", "CREATE")], "mkdir");
    assert_eq!(nt(&evs[5]), vec![s("sub", "DELETE")], "rmdir by unlinkat");
    assert_eq!(evs[2].nr(), 82);
    assert_eq!(evs[3].nr(), 316);
}

#[test]
fn chmod_and_chown_arguments_and_failures() {
    if !need_kernel("chmod_and_chown_arguments_and_failures") {
        return;
    }
    let key = unique_key("e2e-attr");
    let auid = unique_auid();
    let d = KernelDaemon::start(&rule("chmod,fchmodat,chown,fchownat", auid, &key), "");
    let dir = test_dir("vigil-e2e-attr-");
    let f = dir.path().join("f");
    std::fs::write(&f, "x").unwrap();
    let r = run(vec![
        Op::SetLoginuid(auid),
        Op::Chdir(cs(pb(dir.path()))),
        Op::Chmod(cs("f"), 0o600),
        Op::FchmodAt(cs(pb(&f)), 0o640),
        Op::Chown(cs("f"), TEST_UID, TEST_GID),
        Op::FchownAt(cs("missing"), 0, 0),
        Op::DropTo(TEST_UID + 1, TEST_GID + 1),
        // Not the owner any more: EPERM.
        Op::Chmod(cs("f"), 0o777),
    ]);
    let eperm = -i64::from(libc::EPERM);
    let want = [0, 0, 0, -i64::from(libc::ENOENT), 0, eperm];
    assert_eq!(&r.results[2..], &want, "{r:?}");
    let evs = of_pid(d.by_key(&key), r.pid);
    assert_eq!(evs.len(), 5, "{}", show(&evs));
    let results = [0, 0, 0, -i64::from(libc::ENOENT), eperm];
    for (e, res) in evs.iter().zip(results) {
        assert_identity(e, r.pid, auid, &key);
        assert_result(e, res);
    }
    // The mode and ids are the syscall's arguments, in hex.
    assert_eq!((evs[0].nr(), evs[0].sc("a1").as_deref()), (90, Some("180")));
    assert_eq!(
        (evs[1].nr(), evs[1].sc("a2").as_deref()),
        (268, Some("1a0"))
    );
    let ids = format!("{TEST_UID:x}");
    assert_eq!(evs[2].sc("a1"), Some(ids.clone()));
    assert_eq!(evs[2].sc("a2"), Some(ids));
    assert_eq!(evs[0].paths()[0].name, "f");
    assert_eq!(evs[1].paths()[0].name, f.display().to_string());
    assert_eq!(evs[3].paths()[0].nametype, "UNKNOWN");
    // The failed chmod ran as the new uid.
    let uid = i64::from(TEST_UID + 1);
    assert_eq!(
        (evs[4].sc_num("uid"), evs[4].sc_num("euid")),
        (Some(uid), Some(uid))
    );
    assert_eq!(evs[4].sc_num("gid"), Some(i64::from(TEST_GID + 1)));
    assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o7777, 0o640);
}

#[test]
fn setuid_success_and_failure_with_credentials() {
    if !need_kernel("setuid_success_and_failure_with_credentials") {
        return;
    }
    let key = unique_key("e2e-id");
    let auid = unique_auid();
    let d = KernelDaemon::start(&rule("setuid,setresuid", auid, &key), "");
    let r = run(vec![
        Op::SetLoginuid(auid),
        Op::Setuid(0),
        Op::DropTo(TEST_UID, TEST_GID),
        Op::Setuid(0),
    ]);
    assert_eq!(&r.results[1..], &[0, 0, -i64::from(libc::EPERM)]);
    let evs = of_pid(d.by_key(&key), r.pid);
    assert_eq!(
        evs.iter().map(Ev::nr).collect::<Vec<_>>(),
        vec![105, 117, 105],
        "{}",
        show(&evs)
    );
    for e in &evs {
        assert_identity(e, r.pid, auid, &key);
        // The login uid survives every change of uid.
        assert_eq!(e.sc_num("auid"), Some(i64::from(auid)));
    }
    assert_result(&evs[0], 0);
    assert_eq!(evs[0].sc_num("uid"), Some(0));
    // setresuid: the credentials at exit are the new ones.
    assert_result(&evs[1], 0);
    let u = i64::from(TEST_UID);
    for f in ["uid", "euid", "suid", "fsuid"] {
        assert_eq!(evs[1].sc_num(f), Some(u), "{f}");
    }
    assert_eq!(evs[1].sc("a0"), Some(format!("{TEST_UID:x}")));
    assert_result(&evs[2], -i64::from(libc::EPERM));
    assert_eq!(evs[2].sc("a0").as_deref(), Some("0"));
    // ausearch selects by the uid the event ran as.
    let by_uid =
        support::events::ausearch_events(&d.log, &["-k", &key, "-ui", &TEST_UID.to_string()]);
    assert_eq!(of_pid(by_uid, r.pid).len(), 2);
}

#[test]
fn kill_target_identity_in_obj_pid() {
    if !need_kernel("kill_target_identity_in_obj_pid") {
        return;
    }
    let key = unique_key("e2e-kill");
    let auid = unique_auid();
    let d = KernelDaemon::start(&rule("kill,tkill,tgkill", auid, &key), "");
    // A target with a login uid (and so a session) of its own.
    let target_auid = unique_auid();
    let mut target =
        support::workload::spawn(vec![Op::SetLoginuid(target_auid), Op::Sleep(120_000)]);
    target.release();
    let tpid = target.pid();
    let proc_num = |f: &str| -> String {
        // Wait for the target to have set its login uid (it may not run at once on a loaded
        // machine).
        let t0 = std::time::Instant::now();
        while t0.elapsed() < daemon_util::PATIENCE {
            let v = std::fs::read_to_string(format!("/proc/{tpid}/{f}")).unwrap();
            if f != "loginuid" || v.trim() == target_auid.to_string() {
                return v.trim().to_string();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("target {tpid} never set its login uid");
    };
    let _ = proc_num("loginuid");
    let ses = proc_num("sessionid");
    let comm = proc_num("comm");
    let r = run(vec![
        Op::SetLoginuid(auid),
        Op::Kill(tpid as i32, 0),
        // No such process: the kernel records no target.
        Op::Kill(i32::MAX - 7, 0),
    ]);
    assert_eq!(&r.results[1..], &[0, -i64::from(libc::ESRCH)]);
    let evs = of_pid(d.by_key(&key), r.pid);
    assert_eq!(evs.len(), 2, "{}", show(&evs));
    for e in &evs {
        assert_identity(e, r.pid, auid, &key);
        assert_eq!(e.nr(), 62);
        assert!(e.rec("CWD").is_none() && e.rec("PATH").is_none());
    }
    assert_result(&evs[0], 0);
    let o = evs[0]
        .rec("OBJ_PID")
        .expect("OBJ_PID for a signalled process");
    let get = |n: &str| o.get_by_name(n).map(support::events::text);
    assert_eq!(get("opid"), Some(tpid.to_string()));
    assert_eq!(get("oauid"), Some(target_auid.to_string()));
    assert_eq!(get("ouid"), Some("0".into()));
    assert_eq!(get("oses"), Some(ses));
    assert_eq!(get("ocomm"), Some(comm));
    assert_eq!(evs[0].sc("a0"), Some(format!("{tpid:x}")));
    assert_result(&evs[1], -i64::from(libc::ESRCH));
    assert!(evs[1].rec("OBJ_PID").is_none(), "no target, no OBJ_PID");
    drop(target);
}
