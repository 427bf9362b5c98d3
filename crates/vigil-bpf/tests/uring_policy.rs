//! io_uring policy on this kernel (no BPF LSM): SQPOLL ring creation and forbidden ops kill
//! the offending process as early as the kernel tells; io_uring socket ops (CONNECT, BIND,
//! SENDMSG) get EPERM from cgroup `sock_addr` hooks in every mode while plain socket syscalls
//! pass; each denial yields a `VIGIL_POLICY` record that ausearch finds by key. Rules are scoped
//! to this test's children (ppid=) or to this process (pid=), never to other processes.

mod uring_kit;

use std::net::{TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use io_uring::{opcode, types};
use uring_kit::*;
use vigil_abi::{
    VIGIL_POL_HOOK_BIND4, VIGIL_POL_HOOK_BIND6, VIGIL_POL_HOOK_CONNECT4, VIGIL_POL_HOOK_CREATE,
    VIGIL_POL_HOOK_SENDMSG4, VIGIL_POL_HOOK_SUBMIT, VIGIL_POL_HOW_KILLED, VIGIL_POL_HOW_PREVENTED,
    VIGIL_POL_WHAT_OP, VIGIL_POL_WHAT_PERSONALITY, VIGIL_POL_WHAT_SQPOLL,
};
use vigil_bpf::uring::{Denial, PolicyMode, UringConfig, UringOutput};

fn me() -> u32 {
    std::process::id()
}

fn denials(kit: &mut Kit, pid: u32, n: usize) -> Vec<Denial> {
    let got = collect(&mut kit.reader, Duration::from_secs(3), |o| {
        denials_of(o, pid).len() >= n
    });
    got.into_iter()
        .filter_map(|o| match o {
            UringOutput::Denial(d) if d.rec.deny.task.pid == pid => Some(*d),
            _ => None,
        })
        .collect()
}

/// The denial's audit event is found by ausearch with its key.
fn found_by_key(d: &Denial, key: &str) -> String {
    let text = audit_text(&[], &[(d, vec![key.to_string()])], None);
    let r = ausearch(&text, &["-k", key, "-p", &d.rec.deny.task.pid.to_string()]);
    assert!(r.success(), "ausearch: {}\n{text}", r.stderr);
    assert!(r.stdout.contains("type=VIGIL_POLICY"), "{}", r.stdout);
    r.stdout
}

#[test]
fn mode_on_this_kernel() {
    let Some(kit) = kit("uring mode_on_this_kernel") else {
        return;
    };
    let f = kit.loader.features();
    // This kernel refuses BPF LSM programs (REFERENCE §5): the cgroup+kill mode is chosen.
    let expect = PolicyMode::select(f.lsm_usable());
    assert_eq!(kit.loader.mode(), expect, "{f:?}");
    if f.lsm_load.is_err() {
        assert_eq!(kit.loader.mode(), PolicyMode::Hooks);
    }
    assert!(!kit.loader.is_attached() && !kit.loader.cgroup_attached());
}

#[test]
fn sqpoll_ring_creation_kills_the_process() {
    let Some(mut kit) = kit("uring sqpoll_creation") else {
        return;
    };
    let key = vigil_testkit::unique_key("nosq");
    let cfg = UringConfig {
        policy: policy(&format!(
            "-a deny,io_uring -F uring_sqpoll=1 -F ppid={} -k {key}\n",
            me()
        )),
        ..UringConfig::default()
    };
    kit.loader.apply(&cfg).expect("apply");
    assert!(kit.loader.is_attached());
    let plain = spawn(&["connect", "--addr", "127.0.0.1:9", "--mode", "plain"])
        .wait_with_output()
        .unwrap();
    let child = spawn(&["sqpoll-only", "--nop", "--hold-ms", "2000"]);
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let got = denials(&mut kit, pid, 1);
    kit.loader.apply(&UringConfig::default()).expect("clear");
    assert!(!kit.loader.is_attached());
    // A plain ring is not concerned.
    assert!(
        lines(&plain).iter().any(|l| l["event"] == "op"),
        "{plain:?}"
    );
    // Killed inside io_uring_setup: it printed nothing.
    assert_eq!(out.status.signal(), Some(9), "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(got.len(), 1);
    let d = &got[0].rec.deny;
    assert_eq!(
        (d.what, d.how, d.hook, d.rule),
        (
            VIGIL_POL_WHAT_SQPOLL,
            VIGIL_POL_HOW_KILLED,
            VIGIL_POL_HOOK_CREATE,
            0
        )
    );
    assert_eq!(d.signal_ret, 0);
    let text = found_by_key(&got[0], &key);
    assert!(
        text.contains("syscall=425") && text.contains("action=deny how=killed what=sqpoll"),
        "{text}"
    );
}

#[test]
fn forbidden_op_kills_the_process_before_io_wq_runs_it() {
    let Some(mut kit) = kit("uring forbidden_op") else {
        return;
    };
    let key = vigil_testkit::unique_key("nomkdir");
    let cfg = UringConfig {
        ops: ops(&["mkdirat"]),
        policy: policy(&format!(
            "-a deny,io_uring -S mkdirat -F ppid={} -k {key}\n",
            me()
        )),
        ..UringConfig::default()
    };
    kit.loader.apply(&cfg).expect("apply");
    let dir = tempfile::tempdir().unwrap();
    let child = spawn(&[
        "ops",
        "--mode",
        "plain",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    // The denial, and the op's own audit event (cancelled).
    let evs = collect(&mut kit.reader, Duration::from_secs(3), |o| {
        !denials_of(o, pid).is_empty() && !ops_of(o, pid).is_empty()
    });
    let got: Vec<Denial> = denials_of(&evs, pid).into_iter().cloned().collect();
    kit.loader.apply(&UringConfig::default()).expect("clear");
    assert_eq!(out.status.signal(), Some(9), "{out:?}");
    // MKDIRAT goes to io-wq; the kill cancelled it: the directory does not exist.
    assert!(!dir.path().join(format!("uring-{pid}")).exists());
    let d = &got[0].rec.deny;
    assert_eq!(
        (d.what, d.how, d.hook, d.opcode),
        (
            VIGIL_POL_WHAT_OP,
            VIGIL_POL_HOW_KILLED,
            VIGIL_POL_HOOK_SUBMIT,
            37
        )
    );
    let e = ops_of(&evs, pid);
    assert_eq!(e.len(), 1, "the op's own event");
    assert!(e[0].submit.op.flags & vigil_abi::VIGIL_UOP_F_DENIED != 0);
    assert_eq!(e[0].submit.op.deny_rule, 0);
    assert_eq!(vigil_bpf::uring::convert::result(e[0]), -125, "ECANCELED");
    let text = found_by_key(&got[0], &key);
    assert!(
        text.contains("what=op hook=io_uring_submit_req rule=0") && text.contains("uring_op=37"),
        "{text}"
    );
}

#[test]
fn connect_gets_eperm_in_every_mode_and_plain_connect_passes() {
    let Some(mut kit) = kit("uring connect_eperm") else {
        return;
    };
    let key = vigil_testkit::unique_key("nonet");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cfg = UringConfig {
        ops: ops(&["connect"]),
        policy: policy(&format!(
            "-a deny,io_uring -S connect -F ppid={} -k {key}\n",
            me()
        )),
        ..UringConfig::default()
    };
    kit.loader.apply(&cfg).expect("apply");
    assert!(
        kit.loader.cgroup_attached(),
        "cgroup hooks at {:?}",
        kit.loader.cgroup_dir()
    );
    for mode in ["plain", "sqpoll", "async"] {
        let child = spawn(&["connect", "--addr", &addr, "--mode", mode]);
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let l = lines(&out);
        let op = op_lines(&l)[0].clone();
        assert_eq!(op["errno"], "EPERM", "{mode}: {op}");
        assert!(out.status.signal().is_none(), "{mode}: not killed");
        // The denial and the op's own audit event (with its EPERM result).
        let all = collect(&mut kit.reader, Duration::from_secs(3), |o| {
            !denials_of(o, pid).is_empty() && !ops_of(o, pid).is_empty()
        });
        let got: Vec<Denial> = denials_of(&all, pid).into_iter().cloned().collect();
        let d = &got[0].rec.deny;
        assert_eq!(
            (d.what, d.how, d.hook, d.opcode),
            (
                VIGIL_POL_WHAT_OP,
                VIGIL_POL_HOW_PREVENTED,
                VIGIL_POL_HOOK_CONNECT4,
                16
            ),
            "{mode}"
        );
        let text = found_by_key(&got[0], &key);
        assert!(
            text.contains("how=prevented what=op hook=cgroup_connect4"),
            "{text}"
        );
        let e = ops_of(&all, pid);
        assert_eq!(e.len(), 1, "{mode}: the op's own event");
        assert_eq!(vigil_bpf::uring::convert::result(e[0]), -1, "{mode}");
    }
    // connect(2) by a child of this test is not an io_uring op.
    let st = std::process::Command::new("bash")
        .args([
            "-c",
            &format!("exec 3<>/dev/tcp/{}", addr.replace(':', "/")),
        ])
        .status()
        .unwrap();
    kit.loader.apply(&UringConfig::default()).expect("clear");
    assert!(!kit.loader.cgroup_attached());
    assert!(st.success(), "plain connect refused");
}

#[test]
fn bind_and_sendmsg_get_eperm_through_io_uring() {
    let Some(mut kit) = kit("uring bind_sendmsg_eperm") else {
        return;
    };
    kit.loader.include_tgid(me()).unwrap();
    let key = vigil_testkit::unique_key("nosock");
    let cfg = UringConfig {
        policy: policy(&format!(
            "-a deny,io_uring -S bind,sendmsg -F pid={} -k {key}\n",
            me()
        )),
        // Audited too: the ops' own events carry the kernel's copy of the address.
        ops: ops(&["bind", "sendmsg"]),
        ..UringConfig::default()
    };
    kit.loader.apply(&cfg).expect("apply");
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut hooks = Vec::new();
    for (mode, v6) in [
        ("plain", false),
        ("sqpoll", false),
        ("async", false),
        ("plain", true),
    ] {
        let local = if v6 { "[::1]:0" } else { "127.0.0.1:0" };
        let bound = UdpSocket::bind(local).unwrap();
        let fresh = socket2_udp(v6);
        let sa = if v6 {
            sockaddr6_loopback()
        } else {
            sockaddr4_loopback()
        };
        let r = uring_op(
            mode,
            opcode::Bind::new(types::Fd(fresh), sa.as_ptr().cast(), sa.len() as u32).build(),
        );
        assert_eq!(r, -libc::EPERM, "{mode} v6={v6}: bind");
        hooks.push(if v6 {
            VIGIL_POL_HOOK_BIND6
        } else {
            VIGIL_POL_HOOK_BIND4
        });
        if !v6 {
            let to = sockaddr_of(peer.local_addr().unwrap());
            let mut payload = *b"hi";
            let mut iov = libc::iovec {
                iov_base: payload.as_mut_ptr().cast(),
                iov_len: 2,
            };
            // SAFETY: a zeroed msghdr is valid; the pointers outlive the op.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = to.as_ptr() as *mut _;
            msg.msg_namelen = to.len() as u32;
            msg.msg_iov = &raw mut iov;
            msg.msg_iovlen = 1;
            let r = uring_op(
                mode,
                opcode::SendMsg::new(types::Fd(bound.as_raw_fd()), &raw const msg).build(),
            );
            assert_eq!(r, -libc::EPERM, "{mode}: sendmsg");
            hooks.push(VIGIL_POL_HOOK_SENDMSG4);
        }
        // SAFETY: fresh is our socket.
        unsafe { libc::close(fresh) };
    }
    // Plain syscalls are untouched.
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"x", peer.local_addr().unwrap())
        .unwrap();
    let mine = |o: &UringOutput| match o {
        UringOutput::Op(e) => e.submit.op.task.pid == me(),
        UringOutput::Denial(_) => false,
    };
    let all = collect(&mut kit.reader, Duration::from_secs(3), |o| {
        denials_of(o, me()).len() >= hooks.len()
            && o.iter().filter(|x| mine(x)).count() >= hooks.len()
    });
    let got: Vec<Denial> = denials_of(&all, me()).into_iter().cloned().collect();
    kit.loader.apply(&UringConfig::default()).expect("clear");
    let evs: Vec<_> = all
        .iter()
        .filter_map(|o| match o {
            UringOutput::Op(e) if mine(o) => Some(&**e),
            _ => None,
        })
        .collect();
    assert_eq!(evs.len(), hooks.len());
    for e in &evs {
        // BIND: the bare sockaddr in async_data; SENDMSG: the msghdr's copy of msg_name.
        let sa = &e.submit.items.sockaddr.as_ref().expect("sockaddr").bytes;
        let fam = u16::from_ne_bytes([sa[0], sa[1]]);
        assert!(fam == 2 || fam == 10, "family {fam}");
        if e.submit.op.opcode == 9 {
            assert_eq!(sa, &sockaddr_of(peer.local_addr().unwrap()));
        }
        assert_eq!(vigil_bpf::uring::convert::result(e), -1, "EPERM");
    }
    let seen: Vec<u32> = got.iter().map(|d| d.rec.deny.hook).collect();
    assert_eq!(seen, hooks);
    assert!(got
        .iter()
        .all(|d| d.rec.deny.how == VIGIL_POL_HOW_PREVENTED));
    found_by_key(&got[0], &key);
}

#[test]
fn personality_use_kills_the_borrower() {
    let Some(mut kit) = kit("uring personality_denied") else {
        return;
    };
    let key = vigil_testkit::unique_key("nopers");
    let cfg = UringConfig {
        policy: policy(&format!(
            "-a deny,io_uring -F uring_personality=1 -F ppid={} -k {key}\n",
            me()
        )),
        ..UringConfig::default()
    };
    kit.loader.apply(&cfg).expect("apply");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let sock = tmp.path().join("s");
    let dir = tmp.path().join("d");
    // No --timeout-ms: the server is killed below; a short one could expire before a slow
    // machine started the client.
    let mut server = std::process::Command::new(client())
        .args([
            "personality-server",
            "--socket",
            sock.to_str().unwrap(),
            "--dir",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its "listening" line, not the socket file: the file exists from bind(2), before
    // listen(2), and a connect in between is refused.
    let mut server_out = std::io::BufReader::new(server.stdout.take().unwrap());
    loop {
        let mut l = String::new();
        let n = std::io::BufRead::read_line(&mut server_out, &mut l).unwrap();
        assert!(n > 0, "personality-server ended before listening");
        if serde_json::from_str::<serde_json::Value>(&l).unwrap()["event"] == "listening" {
            break;
        }
    }
    let c = spawn(&[
        "personality-client",
        "--socket",
        sock.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let pid = c.id();
    let out = c.wait_with_output().unwrap();
    let got = denials(&mut kit, pid, 1);
    let _ = server.kill();
    let _ = server.wait();
    kit.loader.apply(&UringConfig::default()).expect("clear");
    assert_eq!(out.status.signal(), Some(9), "{out:?}");
    let d = &got[0].rec.deny;
    assert_eq!(
        (d.what, d.how, d.personality, d.creds.uid),
        (VIGIL_POL_WHAT_PERSONALITY, VIGIL_POL_HOW_KILLED, 1, 0)
    );
    assert_eq!(d.task.uid, 65534, "the borrower");
    let text = found_by_key(&got[0], &key);
    assert!(
        text.contains("what=personality") && text.contains("personality=1 puid=0"),
        "{text}"
    );
}

fn socket2_udp(v6: bool) -> i32 {
    let fam = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: plain syscall.
    let fd = unsafe { libc::socket(fam, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    fd
}

fn sockaddr4_loopback() -> Vec<u8> {
    sockaddr_of("127.0.0.1:0".parse().unwrap())
}

fn sockaddr6_loopback() -> Vec<u8> {
    sockaddr_of("[::1]:0".parse().unwrap())
}

/// The C sockaddr of `a`, as bytes.
fn sockaddr_of(a: std::net::SocketAddr) -> Vec<u8> {
    match a {
        std::net::SocketAddr::V4(v) => {
            let mut b = vec![0u8; 16];
            b[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&v.port().to_be_bytes());
            b[4..8].copy_from_slice(&v.ip().octets());
            b
        }
        std::net::SocketAddr::V6(v) => {
            let mut b = vec![0u8; 28];
            b[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&v.port().to_be_bytes());
            b[8..24].copy_from_slice(&v.ip().octets());
            b
        }
    }
}
