//! `ops`, `msg-ring`, `sqpoll-only`, `connect` run for real on this machine.

mod common;

use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use common::{i64_of, read_until, run, u64_of, BIN};

/// What `ops` does, in order: (op name, `IORING_OP_` number from the kernel's uapi enum).
const OPS: [(&str, u64); 16] = [
    ("mkdirat", 37),
    ("openat", 18),
    ("write", 23),
    ("fsync", 3),
    ("read", 22),
    ("close", 19),
    ("statx", 21),
    ("renameat", 35),
    ("openat", 18),
    ("close", 19),
    ("unlinkat", 36),
    ("socket", 45),
    ("connect", 16),
    ("send", 26),
    ("recv", 27),
    ("close", 19),
];

const PAYLOAD: &[u8] = b"vigil io_uring test payload\n";

fn check_ops(mode: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let r = run(&["ops", "--mode", mode, "--dir", dir]);
    assert!(r.success(), "ops --mode {mode} failed\n{}", r.dump());

    let ring = r.one("ring");
    assert_eq!(ring["sqpoll"], mode == "sqpoll", "{ring}");
    let ops = r.ops();
    let seen: Vec<(&str, u64)> = ops
        .iter()
        .map(|o| (o["op"].as_str().unwrap(), u64_of(o, "opcode")))
        .collect();
    assert_eq!(seen, OPS, "op sequence\n{}", r.dump());

    let mut user_data = HashSet::new();
    for o in &ops {
        assert_eq!(o["ok"], true, "{o}");
        assert_eq!(o["mode"], mode, "{o}");
        assert_eq!(u64_of(o, "pid"), u64::from(r.pid), "{o}");
        let ud = u64_of(o, "user_data");
        assert_eq!(ud >> 32, u64::from(r.pid), "user_data carries the pid: {o}");
        assert!(user_data.insert(ud), "user_data {ud:#x} used twice");
    }
    let summary = r.one("summary");
    assert_eq!(summary["ok"], true);
    assert_eq!(u64_of(summary, "ops"), OPS.len() as u64);

    // The file system shows what the ops did: written, renamed, the scratch file unlinked.
    let work = tmp.path().join(format!("uring-{}", r.pid));
    assert_eq!(std::fs::read(work.join("renamed")).unwrap(), PAYLOAD);
    assert!(!work.join("data").exists(), "data was renamed away");
    assert!(!work.join("scratch").exists(), "scratch was unlinked");
    let openat = ops.iter().find(|o| o["op"] == "openat").unwrap();
    assert_eq!(openat["path"], work.join("data").to_str().unwrap());
}

#[test]
fn ops_plain() {
    check_ops("plain");
}

#[test]
fn ops_sqpoll() {
    check_ops("sqpoll");
}

#[test]
fn ops_async() {
    check_ops("async");
}

#[test]
fn ops_connects_to_the_given_echo_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = [0u8; 4];
        conn.read_exact(&mut got).unwrap();
        conn.write_all(&got).unwrap();
        got
    });
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&[
        "ops",
        "--dir",
        tmp.path().to_str().unwrap(),
        "--connect",
        &addr.to_string(),
    ]);
    assert!(r.success(), "{}", r.dump());
    assert_eq!(&server.join().unwrap(), b"ping");
    let connect = r.ops().into_iter().find(|o| o["op"] == "connect").unwrap();
    assert_eq!(connect["addr"], addr.to_string());
    assert_eq!(i64_of(connect, "res"), 0);
}

#[test]
fn ops_reports_a_failed_op_and_exits_nonzero() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no/such/dir");
    let r = run(&["ops", "--dir", missing.to_str().unwrap()]);
    assert!(!r.success(), "{}", r.dump());
    let mkdir = &r.ops()[0];
    assert_eq!(mkdir["op"], "mkdirat");
    assert_eq!(mkdir["errno"], "ENOENT", "{mkdir}");
    assert_eq!(mkdir["ok"], false);
    assert_eq!(r.one("summary")["ok"], false);
}

fn check_msg_ring(mode: &str) {
    let r = run(&["msg-ring", "--mode", mode]);
    assert!(r.success(), "{}", r.dump());
    let op = r.one("op");
    assert_eq!(op["op"], "msg_ring");
    assert_eq!(u64_of(op, "opcode"), 40);
    assert_eq!(i64_of(op, "res"), 0, "{op}");
    let cqe = r.one("cqe");
    assert_eq!(
        cqe["ring_fd"], op["target_ring_fd"],
        "the CQE arrived on the target ring"
    );
    assert_eq!(cqe["user_data"], op["target_user_data"]);
    assert_eq!(cqe["res"], op["target_res"]);
    assert_ne!(op["ring_fd"], cqe["ring_fd"]);
}

#[test]
fn msg_ring_plain() {
    check_msg_ring("plain");
}

#[test]
fn msg_ring_sqpoll() {
    check_msg_ring("sqpoll");
}

#[test]
fn msg_ring_async() {
    check_msg_ring("async");
}

#[test]
fn sqpoll_only_runs_an_sqpoll_thread_of_its_own_process() {
    let mut child = Command::new(BIN)
        .args(["sqpoll-only", "--nop", "--hold-ms", "3000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().expect("stdout was piped"));
    let early = read_until(&mut out, "op");
    assert_eq!(early[0]["event"], "ring");
    assert_eq!(early[0]["sqpoll"], true);
    assert_eq!(i64_of(&early[1], "res"), 0, "NOP on the SQPOLL ring");
    // While it holds the ring, one of its threads is the SQPOLL thread.
    let comms: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|c| c.trim_end().to_owned())
        .collect();
    assert!(
        comms.contains(&format!("iou-sqp-{pid}")),
        "threads of {pid}: {comms:?}"
    );
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "rest of stdout: {rest}");
    assert!(rest.contains("\"summary\""), "{rest}");
}

#[test]
fn connect_succeeds_in_every_mode() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    for mode in ["plain", "sqpoll", "async"] {
        let r = run(&["connect", "--addr", &addr, "--mode", mode]);
        assert!(r.success(), "{}", r.dump());
        let op = r.one("op");
        assert_eq!(op["op"], "connect");
        assert_eq!(u64_of(op, "opcode"), 16);
        assert_eq!(i64_of(op, "res"), 0, "{op}");
        assert_eq!(op["addr"], addr.as_str());
        assert_eq!(r.ops().len(), 1, "CONNECT is the only op");
        listener.accept().unwrap();
    }
}

/// A TCP socket bound to a free 127.0.0.1 port and not listening, and its port: a connect to
/// the port is refused, and no other socket can take the port while this one holds it (a
/// port freed again could be bound by another test or process before the connect).
fn bound_not_listening() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscalls; the fd is checked, then owned; the sockaddr structs outlive
    // the calls that read or fill them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let rc = libc::bind(fd, (&raw const sa).cast(), len);
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        let mut got_len = len;
        let rc = libc::getsockname(fd, (&raw mut sa).cast(), &raw mut got_len);
        assert_eq!(rc, 0, "getsockname: {}", std::io::Error::last_os_error());
        (owned, u16::from_be(sa.sin_port))
    }
}

#[test]
fn connect_reports_a_refused_connection() {
    let (_held, port) = bound_not_listening();
    let r = run(&["connect", "--addr", &format!("127.0.0.1:{port}")]);
    assert!(
        r.success(),
        "the result is reported, not judged\n{}",
        r.dump()
    );
    let op = r.one("op");
    assert_eq!(op["errno"], "ECONNREFUSED", "{op}");
    assert_eq!(i64_of(op, "res"), -i64::from(libc::ECONNREFUSED));
    assert_eq!(op["ok"], false);
}

#[test]
fn a_bad_mode_is_a_usage_error() {
    let r = run(&["ops", "--mode", "bogus", "--dir", "/tmp"]);
    assert_eq!(r.output.status.code(), Some(2), "{}", r.dump());
    assert!(
        r.stderr().contains("invalid value 'bogus'"),
        "{}",
        r.stderr()
    );
}
