//! Two processes share one ring; the client borrows the server's credentials through a
//! registered personality. Needs root (the client drops to uid 65534).

mod common;

use std::io::{BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};

use common::{finish, i64_of, parse_lines, read_until, u64_of, BIN};
use serde_json::Value;

const CLIENT_UID: u64 = 65534;

fn check_personality(test: &str, server_flags: &[&str], client_flags: &[&str]) {
    if !common::require_root(test) {
        return;
    }
    let sqpoll = server_flags.contains(&"--sqpoll");
    let tmp = tempfile::tempdir().unwrap();
    // The client (uid 65534) must reach the socket and the prepared directory.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = tmp.path().join("server.sock");
    let dir = tmp.path().join("shared");
    let (socket_s, dir_s) = (socket.to_str().unwrap(), dir.to_str().unwrap());

    let mut server = Command::new(BIN)
        .args(["personality-server", "--socket", socket_s, "--dir", dir_s])
        .args(server_flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server_out = BufReader::new(server.stdout.take().expect("stdout was piped"));
    let early = read_until(&mut server_out, "listening");
    let server_ring = &early[0];
    assert_eq!(server_ring["event"], "ring");
    assert_eq!(server_ring["sqpoll"], sqpoll);
    let personality = u64_of(server_ring, "personality");

    let client = Command::new(BIN)
        .args(["personality-client", "--socket", socket_s, "--dir", dir_s])
        .args(client_flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let c = finish(client);
    let mut rest = Vec::new();
    server_out.read_to_end(&mut rest).unwrap();
    let server_status = server.wait().unwrap();
    let server_lines = parse_lines(&rest);
    assert!(c.success(), "client failed\n{}", c.dump());
    assert!(server_status.success(), "server failed: {server_lines:?}");
    assert_eq!(server_lines.last().unwrap()["client_said"], "done");

    let ring = c.one("ring");
    assert!(
        ring["via"] == "scm_rights" || ring["via"] == "pidfd_getfd",
        "{ring}"
    );
    assert_eq!(u64_of(ring, "server_pid"), u64_of(server_ring, "pid"));
    let mut judged: Vec<&Value> = c.ops().into_iter().filter(|o| o["op"] != "close").collect();
    assert_eq!(judged.len(), 7, "{}", c.dump());
    // Last: a personality id nobody registered is refused before the op runs.
    let bogus = judged.pop().unwrap();
    assert_eq!(bogus["errno"], "EINVAL", "{bogus}");
    assert_eq!(u64_of(bogus, "personality"), personality + 100);
    for o in &judged {
        assert_eq!(
            u64_of(o, "euid"),
            CLIENT_UID,
            "the client submitted as 65534: {o}"
        );
        assert_eq!(u64_of(o, "pid"), u64::from(c.pid));
        assert_eq!(o["ran_as"], o["expected_creds"], "{o}");
        let with = !o["personality"].is_null();
        if with {
            assert_eq!(u64_of(o, "personality"), personality);
        }
        let expect = if with || sqpoll { "server" } else { "client" };
        assert_eq!(o["expected_creds"], expect, "{o}");
    }
    // The secret opens only with the server's credentials.
    let secret: Vec<&&Value> = judged
        .iter()
        .filter(|o| o["path"].as_str().unwrap().ends_with("/secret"))
        .collect();
    assert!(i64_of(secret[0], "res") >= 0, "{}", secret[0]);
    if sqpoll {
        assert!(i64_of(secret[1], "res") >= 0, "{}", secret[1]);
    } else {
        assert_eq!(secret[1]["errno"], "EACCES", "{}", secret[1]);
    }
    // Owners and survivors on disk, checked independently of what the client said.
    let owner = |name: &str| u64::from(std::fs::metadata(dir.join(name)).unwrap().uid());
    assert_eq!(owner("created-personality"), 0);
    assert_eq!(owner("created-plain"), if sqpoll { 0 } else { CLIENT_UID });
    assert!(!dir.join("victim-personality").exists());
    assert_eq!(dir.join("victim-plain").exists(), !sqpoll);
}

#[test]
fn personality_plain() {
    check_personality("personality_plain", &[], &[]);
}

#[test]
fn personality_async() {
    check_personality("personality_async", &[], &["--async"]);
}

#[test]
fn personality_on_a_shared_sqpoll_ring_runs_everything_as_the_creator() {
    check_personality("personality_sqpoll", &["--sqpoll"], &[]);
}

#[test]
fn personality_client_without_a_server_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("nobody.sock");
    let r = common::run(&[
        "personality-client",
        "--socket",
        sock.to_str().unwrap(),
        "--dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(!r.success());
    let err = r.one("error");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("nobody.sock: connect"),
        "{err}"
    );
}
