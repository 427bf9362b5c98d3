//! Attribution: two processes share one ring (the client takes the server's ring fd and
//! borrows its credentials through a registered personality); `MSG_RING` between rings.
//! Records must name the submitting process with its own ids and, for a personality, the
//! borrowed ids too; on a shared SQPOLL ring every op runs in the creator's SQPOLL thread,
//! so the creator is the only process the kernel can name (`docs/io_uring.md`).

mod uring_kit;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use uring_kit::*;
use vigil_abi::{VIGIL_UOP_F_INIT_FAILED, VIGIL_UOP_F_OWNER_KNOWN, VIGIL_UOP_F_SQPOLL_RING};
use vigil_bpf::convert::Clock;
use vigil_bpf::uring::convert;

struct Shared {
    server_pid: u32,
    client_pid: u32,
    personality: u64,
    client_ops: Vec<Value>,
}

/// Runs personality-server and personality-client; returns their pids and the client's ops.
fn share(server_flags: &[&str], client_flags: &[&str]) -> Shared {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = tmp.path().join("server.sock");
    let dir = tmp.path().join("shared");
    let (socket_s, dir_s) = (socket.to_str().unwrap(), dir.to_str().unwrap());
    let mut server = Command::new(client())
        .args(["personality-server", "--socket", socket_s, "--dir", dir_s])
        .args(server_flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let server_pid = server.id();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut personality = 0;
    loop {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "server ended early");
        let v: Value = serde_json::from_str(&l).unwrap();
        if v["event"] == "ring" {
            personality = v["personality"].as_u64().unwrap();
        }
        if v["event"] == "listening" {
            break;
        }
    }
    let c = Command::new(client())
        .args(["personality-client", "--socket", socket_s, "--dir", dir_s])
        .args(client_flags)
        .output()
        .unwrap();
    assert!(
        c.status.success(),
        "client: {}",
        String::from_utf8_lossy(&c.stderr)
    );
    let client_lines = lines(&c);
    let client_pid = client_lines[0]["pid"].as_u64().unwrap() as u32;
    assert!(server.wait().unwrap().success());
    Shared {
        server_pid,
        client_pid,
        personality,
        client_ops: op_lines(&client_lines).into_iter().cloned().collect(),
    }
}

fn check(test: &str, server_flags: &[&str], client_flags: &[&str]) {
    let Some(mut kit) = kit(test) else { return };
    kit.loader
        .apply(&config(&["openat", "unlinkat", "close"]))
        .expect("apply");
    let sqpoll = server_flags.contains(&"--sqpoll");
    let s = share(server_flags, client_flags);
    // The client's user_data carries its pid in the high half, whoever ran the op.
    let want = s.client_ops.len();
    let got = collect(&mut kit.reader, Duration::from_secs(5), |o| {
        ops_of(o, s.client_pid).len() >= want
    });
    kit.loader
        .apply(&vigil_bpf::uring::UringConfig::default())
        .expect("clear");
    let evs = ops_of(&got, s.client_pid);
    assert_eq!(
        evs.len(),
        want,
        "{test}: {} of {want} ops; {}",
        evs.len(),
        kit.loader.counters().unwrap()
    );
    let clock = Clock::now();
    for line in &s.client_ops {
        let ud = line["user_data"].as_u64().unwrap();
        let e = evs
            .iter()
            .find(|e| e.submit.op.user_data == ud)
            .expect("event");
        let raw = convert::to_raw(e, &clock);
        let op = &e.submit.op;
        assert_eq!(raw.exit, line["res"].as_i64().unwrap(), "{line}");
        // The ring was created by the server while we watched.
        assert_eq!(op.ring_tgid, s.server_pid, "{line}");
        assert!(op.flags & VIGIL_UOP_F_OWNER_KNOWN != 0);
        if sqpoll {
            // Every op runs in the server's SQPOLL thread, with its ids: only it is knowable.
            assert_eq!(raw.task.pid, s.server_pid, "{line}");
            assert_eq!(raw.task.uid, 0, "{line}");
            assert!(op.flags & VIGIL_UOP_F_SQPOLL_RING != 0);
        } else {
            assert_eq!(raw.task.pid, s.client_pid, "{line}");
            assert_eq!(raw.task.uid, 65534, "{line}");
            assert_eq!(raw.task.euid, 65534, "{line}");
        }
        let asked = line["personality"].as_u64();
        let p = raw.uring.as_ref().unwrap().personality.as_ref();
        match asked {
            Some(id) if id == s.personality => {
                let p = p.unwrap_or_else(|| panic!("{test}: personality lost: {line}"));
                assert_eq!(
                    (p.id, p.uid, p.euid, p.fsuid),
                    (id as u32, 0, 0, 0),
                    "{line}"
                );
            }
            Some(bad) => {
                // An unregistered id fails at init: seen by io_uring_req_failed.
                assert!(op.flags & VIGIL_UOP_F_INIT_FAILED != 0, "{line}");
                assert_eq!(op.personality as u64, bad);
                assert_eq!(raw.exit, -22);
            }
            None => assert!(p.is_none(), "{line}"),
        }
    }
    // ausearch finds the client's ops; the URINGOP records carry both identities.
    let key = vigil_testkit::unique_key("uring-pers");
    let rules = vigil_rules::parse_str(
        &format!("-a always,io_uring -S openat,unlinkat,close -k {key}\n"),
        "t.rules",
    )
    .unwrap()
    .rules;
    let text = audit_text(&evs, &[], Some(&rules));
    let pid = if sqpoll { s.server_pid } else { s.client_pid };
    let found = ausearch(&text, &["-k", &key, "-p", &pid.to_string()]);
    assert!(found.success(), "{}", found.stderr);
    assert_eq!(
        found.stdout.matches("type=URINGOP").count(),
        want,
        "{}",
        found.stdout
    );
    let with = found
        .stdout
        .lines()
        .filter(|l| {
            l.starts_with("type=URINGOP")
                && l.contains(&format!(" personality={} puid=0 ", s.personality))
        })
        .count();
    let asked = s
        .client_ops
        .iter()
        .filter(|l| l["personality"].as_u64() == Some(s.personality))
        .count();
    assert_eq!(with, asked, "{}", found.stdout);
}

#[test]
fn personality_plain_ring() {
    check("uring personality_plain_ring", &[], &[]);
}

#[test]
fn personality_async() {
    check("uring personality_async", &[], &["--async"]);
}

#[test]
fn shared_sqpoll_ring_is_attributed_to_its_creator() {
    check("uring shared_sqpoll_ring", &["--sqpoll"], &[]);
}

#[test]
fn msg_ring_is_attributed_to_the_sender() {
    let Some(mut kit) = kit("uring msg_ring") else {
        return;
    };
    kit.loader.apply(&config(&["msg_ring"])).expect("apply");
    let out = spawn(&["msg-ring"]).wait_with_output().unwrap();
    assert!(out.status.success());
    let l = lines(&out);
    let op = op_lines(&l)[0].clone();
    let pid = op["pid"].as_u64().unwrap() as u32;
    let got = collect(&mut kit.reader, Duration::from_secs(3), |o| {
        !ops_of(o, pid).is_empty()
    });
    kit.loader
        .apply(&vigil_bpf::uring::UringConfig::default())
        .expect("clear");
    let evs = ops_of(&got, pid);
    // One event: the MSG_RING op (the CQE it posts on the target ring is not an op).
    assert_eq!(evs.len(), 1, "{evs:#?}");
    let raw = convert::to_raw(evs[0], &Clock::now());
    assert_eq!((raw.nr, raw.task.pid, raw.exit), (40, pid, 0));
}
