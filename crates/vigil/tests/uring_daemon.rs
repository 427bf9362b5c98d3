//! `vigil daemon` auditing io_uring end to end (`docs/io_uring.md`): the test client's ops in
//! plain, SQPOLL and io-wq modes and fio's io_uring engine are found by `ausearch -if LOG -k
//! KEY` after a `vigil ctl -m` marker, with the owner's pid and the right path, address and
//! result, in one serial space with syscall events; the io_uring side is loaded and attached
//! only while rules need it and follows `vigil ctl` and SIGHUP rule changes.

mod daemon_util;
mod uring_support;

use uring_support::*;
use vigil_testkit::unique_key;

const OPS: &[&str] = &[
    "mkdirat", "openat", "write", "fsync", "read", "close", "statx", "renameat", "unlinkat",
    "socket", "connect", "send", "recv",
];

/// The event of the op whose `user_data` is `ud` (the companion SYSCALL's a3).
fn by_user_data(evs: &[Event], ud: u64) -> Option<&Event> {
    let hex = format!("{ud:x}");
    evs.iter()
        .find(|e| e.rec("SYSCALL").is_some_and(|s| s.get("a3") == Some(&hex)))
}

fn check_mode(d: &UringDaemon, auid: u32, key: &str, mode: &str) {
    let dir = test_dir("vigil-uringd-ops-");
    let run = run_client(
        &["ops", "--mode", mode, "--dir", dir.path().to_str().unwrap()],
        auid,
    );
    assert!(
        run.status.success(),
        "{mode}: client failed: {}",
        run.stderr
    );
    let ops = run.ops();
    assert!(ops.len() >= OPS.len(), "{mode}: client ops {ops:?}");
    let pid = run.pid.to_string();
    let evs: Vec<Event> = d
        .search(&["-k", key, "-p", &pid])
        .into_iter()
        .filter(|e| e.rec("URINGOP").is_some())
        .collect();
    assert_eq!(
        evs.len(),
        ops.len(),
        "{mode}: ausearch -k {key} -p {pid} found {} events for {} ops:\n{evs:#?}",
        evs.len(),
        ops.len()
    );
    for line in &ops {
        let op = line["op"].as_str().unwrap();
        let ud = line["user_data"].as_u64().unwrap();
        let e = by_user_data(&evs, ud).unwrap_or_else(|| panic!("{mode}: no event for {line}"));
        let u = e.must("URINGOP");
        let s = e.must("SYSCALL");
        assert_eq!(u.f("uring_op"), line["opcode"].to_string(), "{mode} {op}");
        assert_eq!(u.f("exit"), line["res"].to_string(), "{mode} {op}: result");
        assert_eq!(s.f("exit"), line["res"].to_string(), "{mode} {op}: result");
        assert_eq!((u.f("pid"), s.f("pid")), (&*pid, &*pid), "{mode} {op}: pid");
        assert_eq!(u.f("auid"), auid.to_string(), "{mode} {op}");
        assert_eq!(u.f("key"), key);
        assert_eq!(u.f("exe"), client().to_str().unwrap(), "{mode} {op}: exe");
        match mode {
            "sqpoll" => assert_ne!(u.f("ctx"), "inline", "{mode} {op}: ctx"),
            "async" => assert_eq!(u.f("ctx"), "iowq", "{mode} {op}: ctx"),
            _ => {}
        }
        let names: Vec<&str> = e.recs_of("PATH").iter().map(|p| p.f("name")).collect();
        match op {
            "mkdirat" | "statx" | "unlinkat" | "openat" => {
                assert_eq!(names, vec![line["path"].as_str().unwrap()], "{mode} {op}");
            }
            "renameat" => assert_eq!(
                names,
                vec![
                    line["path"].as_str().unwrap(),
                    line["path2"].as_str().unwrap()
                ],
                "{mode} {op}"
            ),
            "read" | "write" | "fsync" => {
                assert!(names[0].ends_with("/data"), "{mode} {op}: file {names:?}");
                assert!(e.recs_of("PATH")[0].get("inode").is_some(), "{mode} {op}");
            }
            "connect" => {
                let sa = unhex(e.must("SOCKADDR").f("saddr"));
                let addr: std::net::SocketAddr = line["addr"].as_str().unwrap().parse().unwrap();
                assert_eq!(u16::from_ne_bytes([sa[0], sa[1]]), 2, "AF_INET");
                assert_eq!(u16::from_be_bytes([sa[2], sa[3]]), addr.port());
                assert_eq!(&sa[4..8], &[127, 0, 0, 1]);
            }
            "send" | "recv" => assert!(names[0].starts_with("socket:["), "{mode} {op}"),
            _ => {}
        }
    }
}

#[test]
fn client_ops_in_every_mode_are_found_by_ausearch() {
    if !need_kernel("client_ops_in_every_mode_are_found_by_ausearch") {
        return;
    }
    let (auid, key, skey) = (
        unique_auid(),
        unique_key("uringd-ops"),
        unique_key("uringd-sys"),
    );
    // A syscall rule on the same processes: both kinds share one serial counter.
    let d = UringDaemon::start(
        &format!(
            "-a always,io_uring -S {} -F auid={auid} -k {key}\n\
             -a always,exit -F arch=b64 -S io_uring_setup -F auid={auid} -k {skey}\n",
            OPS.join(",")
        ),
        "",
    );
    assert!(
        d.status_str("io_uring").starts_with("tracepoints attached"),
        "{}",
        d.status_str("io_uring")
    );
    for mode in ["plain", "sqpoll", "async"] {
        check_mode(&d, auid, &key, mode);
    }
    let setups = d.search(&["-k", &skey]);
    assert_eq!(setups.len(), 3, "one io_uring_setup per client run");
    // One identity space: no serial is used twice in the log.
    let all = group(&d.log_text());
    for e in &all {
        assert!(
            e.recs_of("SYSCALL").len() <= 1 && e.recs_of("URINGOP").len() <= 1,
            "two events under one serial: {e:#?}"
        );
    }
    let st = d.status();
    let n = |k: &str| st[k].parse::<u64>().unwrap();
    assert!(n("uring_ops_audited") >= 3 * OPS.len() as u64, "{st:?}");
    for (k, v) in &st {
        if k.starts_with("lost_uring") {
            assert_eq!(v, "0", "{k}");
        }
    }
}

#[test]
fn fio_io_uring_engine_is_audited_through_the_daemon() {
    if !need_kernel("fio_io_uring_engine_is_audited_through_the_daemon") {
        return;
    }
    let Some(fio) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("fio"))
            .find(|f| f.exists())
    }) else {
        assert!(
            std::env::var("VIGIL_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "fio missing"
        );
        eprintln!("SKIP fio_io_uring_engine_is_audited_through_the_daemon: no fio");
        return;
    };
    let (auid, key) = (unique_auid(), unique_key("uringd-fio"));
    let d = UringDaemon::start(
        &format!("-a always,io_uring -S read,readv,read_fixed -F auid={auid} -k {key}\n"),
        "",
    );
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let file = dir.path().join("fio.data");
    std::fs::write(&file, vec![7u8; 1 << 20]).unwrap();
    let run = finish(
        command(
            &fio,
            &[
                "--name=vigil",
                "--ioengine=io_uring",
                "--size=1M",
                "--bs=4k",
                "--rw=randread",
                "--iodepth=8",
                &format!("--filename={}", file.display()),
            ],
            auid,
        )
        .spawn()
        .unwrap(),
    );
    assert!(run.status.success(), "fio: {}", run.stderr);
    let evs = d.search(&["-k", &key]);
    // 1 MiB in 4 KiB reads; fio's job runs in a child process of its own.
    assert_eq!(evs.len(), 256, "fio reads found: {}", evs.len());
    for e in &evs {
        let u = e.must("URINGOP");
        assert_eq!(u.f("exit"), "4096", "{}", u.line);
        assert_eq!(u.f("exe"), fio.to_str().unwrap());
        assert_eq!(u.f("auid"), auid.to_string());
        let p = e.must("PATH");
        assert_eq!(p.f("name"), file.to_str().unwrap());
        // The owner: the SYSCALL and URINGOP name the same process.
        assert_eq!(e.must("SYSCALL").f("pid"), u.f("pid"));
    }
}

/// Ops with a borrowed personality are judged with its credentials (the kernel's io_uring
/// filter sees them), and their records show both identities.
#[test]
fn personality_ops_show_both_identities_and_rules_see_the_borrowed_ids() {
    if !need_kernel("personality_ops_show_both_identities") {
        return;
    }
    let (auid, kb, ko) = (
        unique_auid(),
        unique_key("uringd-borrowed"),
        unique_key("uringd-owner"),
    );
    let d = UringDaemon::start(
        &format!(
            "-a always,io_uring -S openat,unlinkat,close -F auid={auid} -F uid=0 -k {kb}\n\
             -a always,io_uring -S openat,unlinkat,close -F auid={auid} -F uid=65534 -k {ko}\n"
        ),
        "",
    );
    let tmp = test_dir("vigil-uringd-pers-");
    let socket = tmp.path().join("server.sock");
    let dir = tmp.path().join("shared");
    let (socket_s, dir_s) = (socket.to_str().unwrap(), dir.to_str().unwrap());
    let mut server = command(
        client(),
        &["personality-server", "--socket", socket_s, "--dir", dir_s],
        auid,
    )
    .spawn()
    .unwrap();
    // The server prints `listening` once the socket exists.
    let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut personality = 0;
    loop {
        let mut l = String::new();
        assert!(
            std::io::BufRead::read_line(&mut out, &mut l).unwrap() > 0,
            "server ended early"
        );
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        if v["event"] == "ring" {
            personality = v["personality"].as_u64().unwrap();
        }
        if v["event"] == "listening" {
            break;
        }
    }
    let c = run_client(
        &["personality-client", "--socket", socket_s, "--dir", dir_s],
        auid,
    );
    assert!(c.status.success(), "client: {}", c.stderr);
    assert!(server.wait().unwrap().success());
    let ops = c.ops();
    let borrowed = d.search(&["-k", &kb, "-p", &c.pid.to_string()]);
    let owned = d.search(&["-k", &ko, "-p", &c.pid.to_string()]);
    let mut with = 0;
    for line in &ops {
        let ud = line["user_data"].as_u64().unwrap();
        match line["personality"].as_u64() {
            Some(id) if id == personality => {
                with += 1;
                let e = by_user_data(&borrowed, ud)
                    .unwrap_or_else(|| panic!("{line}: not under the borrowed-uid key"));
                let u = e.must("URINGOP");
                // The submitter's ids and the borrowed ones.
                assert_eq!((u.f("uid"), u.f("euid")), ("65534", "65534"), "{line}");
                assert_eq!(u.f("personality"), id.to_string());
                assert_eq!((u.f("puid"), u.f("peuid")), ("0", "0"), "{line}");
                assert!(by_user_data(&owned, ud).is_none());
            }
            Some(_) => {} // an unregistered id: fails at init, judged either way
            None => {
                let e = by_user_data(&owned, ud)
                    .unwrap_or_else(|| panic!("{line}: not under the owner's key"));
                let u = e.must("URINGOP");
                assert_eq!(u.f("uid"), "65534");
                assert!(u.get("personality").is_none(), "{}", u.line);
                assert!(by_user_data(&borrowed, ud).is_none());
            }
        }
    }
    assert!(with > 0, "the client used no personality: {ops:?}");
}

#[test]
fn nothing_is_attached_without_io_uring_rules_and_rule_changes_reach_it() {
    if !need_kernel("nothing_is_attached_without_io_uring_rules") {
        return;
    }
    let (auid, key) = (unique_auid(), unique_key("uringd-chg"));
    let mut d = UringDaemon::start(
        &format!("-a always,exit -F arch=b64 -S unlinkat -F auid={auid} -k {key}-sys\n"),
        "",
    );
    // Syscall rules only: no io_uring program is even loaded.
    assert!(
        d.status_str("io_uring").starts_with("not loaded"),
        "{}",
        d.status_str("io_uring")
    );
    assert_eq!(uring_links(), (false, 0));
    let dir = test_dir("vigil-uringd-chg-");
    let dir_s = dir.path().to_str().unwrap();
    let ops = |d: &UringDaemon| {
        let r = run_client(&["ops", "--mode", "plain", "--dir", dir_s], auid);
        assert!(r.status.success(), "{}", r.stderr);
        d.search(&["-k", &key, "-p", &r.pid.to_string()]).len()
    };
    let rule = format!("always,io_uring -S mkdirat,unlinkat -F auid={auid} -k {key}");
    let argv: Vec<&str> = rule.split(' ').collect();
    d.ctl_ok(&[&["-a"], &argv[..]].concat());
    assert!(d.status_str("io_uring").starts_with("tracepoints attached"));
    let (loaded, links) = uring_links();
    assert!(loaded && links == 4, "the four tracepoints: {links}");
    assert_eq!(ops(&d), 2, "mkdirat and unlinkat");
    d.ctl_ok(&[&["-d"], &argv[..]].concat());
    assert!(d.status_str("io_uring").starts_with("nothing attached"));
    assert_eq!(uring_links(), (true, 0), "detached after -d");
    assert_eq!(ops(&d), 0);
    // -R with syscall and io_uring rules: one change for both sides.
    let rfile = dir.path().join("more.rules");
    std::fs::write(&rfile, format!("-a {rule}\n")).unwrap();
    d.ctl_ok(&["-R", rfile.to_str().unwrap()]);
    assert_eq!(ops(&d), 2);
    d.ctl_ok(&["-D"]);
    assert_eq!(uring_links(), (true, 0), "detached after -D");
    // -e 0 keeps the rules but audits nothing: nothing attached.
    d.ctl_ok(&["-R", rfile.to_str().unwrap()]);
    d.ctl_ok(&["-e", "0"]);
    assert_eq!(uring_links().1, 0, "attached under -e 0");
    d.ctl_ok(&["-e", "1"]);
    assert_eq!(uring_links().1, 4);
    // SIGHUP re-reads the rules file: the io_uring rule goes with it.
    std::fs::write(
        &d.rules,
        format!("-a always,exit -F arch=b64 -S unlinkat -F auid={auid}\n"),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_for("reload", || d.log_text().contains("op=reconfigure"));
    assert_eq!(
        uring_links().1,
        0,
        "attached after the reload dropped the rule"
    );
    assert_eq!(ops(&d), 0);
    assert!(d.stop().success());
}
