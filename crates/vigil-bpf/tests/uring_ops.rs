//! io_uring ops audited in every issuing mode: the client (crates/vigil-uring-client) runs
//! MKDIRAT, OPENAT, WRITE, FSYNC, READ, CLOSE, STATX, RENAMEAT, UNLINKAT, SOCKET, CONNECT (to its
//! own listener on 127.0.0.1), SEND, RECV; every op must come back with the owner's pid, the
//! right path/address/file and the result the client saw; then ausearch finds them by key.

mod uring_kit;

use std::time::Duration;

use uring_kit::*;
use vigil_bpf::convert::Clock;
use vigil_bpf::uring::{convert, UringEvent};
use vigil_format::raw::UringCtx;

const ALL_OPS: &[&str] = &[
    "mkdirat", "openat", "write", "fsync", "read", "close", "statx", "renameat", "unlinkat",
    "socket", "connect", "send", "recv",
];

fn run_mode(test: &str, mode: &str) {
    let Some(mut kit) = kit(test) else { return };
    kit.loader.apply(&config(ALL_OPS)).expect("apply");
    let dir = tempfile::tempdir().expect("tmp");
    let child = spawn(&["ops", "--mode", mode, "--dir", dir.path().to_str().unwrap()]);
    let pid = child.id();
    let out = child.wait_with_output().expect("client");
    let lines = lines(&out);
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client_ops = op_lines(&lines);
    let got = collect(&mut kit.reader, Duration::from_secs(5), |o| {
        ops_of(o, pid).len() >= client_ops.len()
    });
    kit.loader
        .apply(&vigil_bpf::uring::UringConfig::default())
        .expect("clear");
    let evs = ops_of(&got, pid);
    let clock = Clock::now();
    let counters = kit.loader.counters().expect("counters");
    assert_eq!(counters.lost(), 0, "{counters}");
    assert_eq!(
        evs.len(),
        client_ops.len(),
        "{mode}: {} events for {} ops; counters {counters}; got {:#?}",
        evs.len(),
        client_ops.len(),
        evs.iter().map(|e| opname(e)).collect::<Vec<_>>()
    );
    // End to end: the rules' keys, the audit text, ausearch finds every op by key and pid.
    let key = vigil_testkit::unique_key("uring");
    let rules = vigil_rules::parse_str(
        &format!("-a always,io_uring -S {} -k {key}\n", ALL_OPS.join(",")),
        "test.rules",
    )
    .expect("rules")
    .rules;
    let text = audit_text(&evs, &[], Some(&rules));
    if std::env::var_os("VIGIL_URING_SHOW").is_some() {
        eprintln!("{text}");
    }
    let found = ausearch(&text, &["-k", &key, "-p", &pid.to_string()]);
    assert!(found.success(), "ausearch: {}", found.stderr);
    let serials = found.stdout.matches("type=URINGOP").count();
    assert_eq!(
        serials,
        client_ops.len(),
        "{mode}: ausearch found {serials}\n{}",
        found.stdout
    );
    for line in &client_ops {
        let ud = line["user_data"].as_u64().unwrap();
        let e: &UringEvent = evs
            .iter()
            .find(|e| e.submit.op.user_data == ud)
            .unwrap_or_else(|| panic!("{mode}: no event for {line}"));
        let op = line["op"].as_str().unwrap();
        assert_eq!(opname(e), op, "{line}");
        let raw = convert::to_raw(e, &clock);
        assert_eq!(raw.task.pid, pid, "{mode} {op}: pid");
        assert_eq!(
            raw.exit,
            line["res"].as_i64().unwrap(),
            "{mode} {op}: result"
        );
        assert!(e.complete.is_some(), "{mode} {op}: completion joined");
        let ctx = raw.uring.as_ref().unwrap().ctx;
        match mode {
            "sqpoll" => assert_ne!(ctx, UringCtx::Inline, "{mode} {op}: ctx"),
            "async" => assert_eq!(ctx, UringCtx::Iowq, "{mode} {op}: ctx"),
            _ => {}
        }
        assert_eq!(
            raw.task.exe.as_ref().map(|b| b.0.clone()),
            Some(client().as_os_str().as_encoded_bytes().to_vec()),
            "{mode} {op}: exe"
        );
        let names = path_names(e, clock);
        match op {
            "mkdirat" | "statx" | "unlinkat" => {
                assert_eq!(names, vec![line["path"].as_str().unwrap()], "{mode} {op}");
            }
            "openat" => {
                assert_eq!(names, vec![line["path"].as_str().unwrap()], "{mode} {op}");
                assert!(
                    raw.paths[0].inode.is_some(),
                    "{mode} openat: object of the new fd"
                );
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
                assert!(raw.paths[0].inode.is_some());
            }
            "connect" => {
                let sa = raw.sockaddr.as_ref().expect("sockaddr").0.clone();
                let addr: std::net::SocketAddr = line["addr"].as_str().unwrap().parse().unwrap();
                assert_eq!(u16::from_ne_bytes([sa[0], sa[1]]), 2, "AF_INET");
                assert_eq!(u16::from_be_bytes([sa[2], sa[3]]), addr.port());
                assert_eq!(&sa[4..8], &[127, 0, 0, 1]);
                assert!(names[0].starts_with("socket:["), "{names:?}");
            }
            "send" | "recv" => assert!(names[0].starts_with("socket:["), "{mode} {op} {names:?}"),
            _ => {}
        }
    }
}

#[test]
fn plain_mode() {
    run_mode("uring plain_mode", "plain");
}

#[test]
fn sqpoll_mode() {
    run_mode("uring sqpoll_mode", "sqpoll");
}

#[test]
fn async_mode() {
    run_mode("uring async_mode", "async");
}
