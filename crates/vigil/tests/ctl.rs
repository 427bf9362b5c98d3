//! `vigil ctl` against a running daemon: permissions, every command, immutability, bad
//! clients, and the `-m` marker as ausearch sees it.

mod daemon_util;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;

use daemon_util::{need_ausearch, need_root, Setup, TestDaemon, VIGIL};

fn start(rules: &str) -> TestDaemon {
    TestDaemon::start(Setup {
        rules: Some(rules.to_string()),
        ..Setup::default()
    })
}

/// `vigil ctl` run as `nobody`.
fn ctl_as_nobody(d: &TestDaemon, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(VIGIL);
    cmd.arg("ctl").arg("--socket").arg(&d.sock).args(args);
    // SAFETY: setgid/setuid are async-signal-safe; run in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("run vigil ctl as nobody")
}

#[test]
fn socket_is_root_only() {
    if !need_root("socket_is_root_only") {
        return;
    }
    let d = start("");
    let mode = std::fs::metadata(&d.sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The tempdir is 0700: open it up so only the socket's own checks stand in the way.
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let out = ctl_as_nobody(&d, &["-s"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Permission denied"),
        "file mode must refuse: {err}"
    );
    // With the file opened to all, the peer credential check still refuses.
    std::fs::set_permissions(&d.sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = ctl_as_nobody(&d, &["-D"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("accepts only root (you are uid 65534)"),
        "peer check must refuse: {err}"
    );
    assert!(d.ctl_ok(&["-s"]).contains("enabled 1"));
}

#[test]
fn rule_commands_change_the_set_and_are_audited() {
    if !need_root("rule_commands_change_the_set_and_are_audited") {
        return;
    }
    let k = vigil_testkit::unique_key("ctl");
    let d = start("");
    assert_eq!(d.ctl_ok(&["-l"]), "No rules\n");
    d.ctl_ok(&[
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "openat",
        "-k",
        &format!("{k}-a"),
    ]);
    d.ctl_ok(&[
        "-A",
        "exit,always",
        "-F",
        "arch=b64",
        "-S",
        "unlink",
        "-k",
        &format!("{k}-b"),
    ]);
    d.ctl_ok(&["-w", "/etc/hosts", "-p", "wa", "-k", &format!("{k}-w")]);
    let listed = d.ctl_ok(&["-l"]);
    assert_eq!(
        listed,
        format!(
            "-a always,exit -F arch=b64 -S unlink -F key={k}-b\n\
             -a always,exit -F arch=b64 -S openat -F key={k}-a\n\
             -w /etc/hosts -p wa -k {k}-w\n"
        )
    );
    assert_eq!(d.status_u64("rules"), 3);
    // A duplicate is refused and audited with res=0.
    let dup = d.ctl(&[
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "openat",
        "-k",
        &format!("{k}-a"),
    ]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("Error sending add rule"));
    // -l -k filters by key.
    assert_eq!(
        d.ctl_ok(&["-l", "-k", &format!("{k}-w")]),
        format!("-w /etc/hosts -p wa -k {k}-w\n")
    );
    d.ctl_ok(&["-W", "/etc/hosts", "-p", "wa", "-k", &format!("{k}-w")]);
    d.ctl_ok(&[
        "-d",
        "exit,always",
        "-F",
        "arch=b64",
        "-S",
        "unlink",
        "-k",
        &format!("{k}-b"),
    ]);
    let gone = d.ctl(&[
        "-d",
        "exit,always",
        "-F",
        "arch=b64",
        "-S",
        "unlink",
        "-k",
        &format!("{k}-b"),
    ]);
    assert!(!gone.status.success(), "deleting a missing rule must fail");
    assert_eq!(d.status_u64("rules"), 1);
    d.ctl_ok(&["-D"]);
    assert_eq!(d.ctl_ok(&["-l"]), "No rules\n");

    let log = d.log_text();
    let changes: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("type=CONFIG_CHANGE "))
        .map(|l| l.split("): ").nth(1).unwrap())
        .collect();
    let me = "auid=4294967295 ses=4294967295";
    let me = if std::fs::read_to_string("/proc/self/loginuid")
        .unwrap()
        .trim()
        == "4294967295"
    {
        me.to_string()
    } else {
        let auid = std::fs::read_to_string("/proc/self/loginuid").unwrap();
        let ses = std::fs::read_to_string("/proc/self/sessionid").unwrap();
        format!("auid={} ses={}", auid.trim(), ses.trim())
    };
    assert_eq!(
        changes,
        [
            format!("{me} op=add_rule key=\"{k}-a\" list=4 res=1"),
            format!("{me} op=add_rule key=\"{k}-b\" list=4 res=1"),
            format!("{me} op=add_rule key=\"{k}-w\" list=4 res=1"),
            format!("{me} op=add_rule key=\"{k}-a\" list=4 res=0"),
            format!("{me} op=remove_rule key=\"{k}-w\" list=4 res=1"),
            format!("{me} op=remove_rule key=\"{k}-b\" list=4 res=1"),
            format!("{me} op=remove_rule key=\"{k}-b\" list=4 res=0"),
            format!("{me} op=remove_rule key=\"{k}-a\" list=4 res=1"),
        ]
    );
}

#[test]
fn bad_command_lines_name_the_column() {
    if !need_root("bad_command_lines_name_the_column") {
        return;
    }
    let d = start("");
    let out = d.ctl(&["-a", "always,exit", "-S", "no_such_syscall"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("command line:1:"), "{err}");
    assert!(err.contains("no_such_syscall"), "{err}");
    assert_eq!(d.ctl_ok(&["-l"]), "No rules\n");
}

#[test]
fn settings_and_rules_files() {
    if !need_root("settings_and_rules_files") {
        return;
    }
    let d = start("");
    d.ctl_ok(&["-b", "100"]);
    d.ctl_ok(&["-f", "2"]);
    d.ctl_ok(&["-r", "500"]);
    d.ctl_ok(&["--backlog_wait_time", "3000"]);
    let st = d.status();
    assert_eq!(st["backlog_limit"], "100");
    assert_eq!(st["failure"], "2");
    assert_eq!(st["rate_limit"], "500");
    assert_eq!(st["backlog_wait_time"], "3000");
    d.ctl_ok(&["-e", "0"]);
    assert_eq!(d.status()["enabled"], "0");
    d.ctl_ok(&["-e", "1"]);
    let log = d.log_text();
    for want in [
        "op=set audit_backlog_limit=100 old=8192",
        "op=set audit_failure=2 old=1",
        "op=set audit_rate_limit=500 old=0",
        "op=set audit_backlog_wait_time=3000 old=0",
        "op=set audit_enabled=0 old=1",
        "op=set audit_enabled=1 old=0",
    ] {
        assert!(log.contains(want), "missing {want:?} in:\n{log}");
    }

    let k = vigil_testkit::unique_key("load");
    let file = d.dir.path().join("more.rules");
    std::fs::write(
        &file,
        format!(
            "# comment\n-w /etc/passwd -p wa -k {k}\n-a always,exit -F arch=b64 -S chmod -k {k}\n"
        ),
    )
    .unwrap();
    d.ctl_ok(&["-R", file.to_str().unwrap()]);
    assert_eq!(d.status_u64("rules"), 2);
    // A file with an error loads nothing and names file:line.
    let bad = d.dir.path().join("bad.rules");
    std::fs::write(&bad, "-w /etc/group -p wa\n-a never,bogus\n").unwrap();
    let out = d.ctl(&["-R", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", bad.display())), "{err}");
    assert_eq!(d.status_u64("rules"), 2);
    d.ctl_ok(&["-D", "-k", &k]);
    assert_eq!(d.status_u64("rules"), 0);
}

#[test]
fn immutable_mode_refuses_and_audits_every_change() {
    if !need_root("immutable_mode_refuses_and_audits_every_change") {
        return;
    }
    let k = vigil_testkit::unique_key("lock");
    let d = start(&format!("-w /etc/passwd -p wa -k {k}\n"));
    d.ctl_ok(&["-e", "2"]);
    assert_eq!(d.status()["enabled"], "2");
    for args in [
        vec![
            "-a",
            "always,exit",
            "-F",
            "arch=b64",
            "-S",
            "openat",
            "-k",
            "x",
        ],
        vec!["-D"],
        vec!["-e", "1"],
        vec!["-W", "/etc/passwd", "-p", "wa", "-k", k.as_str()],
    ] {
        let out = d.ctl(&args);
        assert!(!out.status.success(), "{args:?} accepted in immutable mode");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("immutable"),
            "{args:?}"
        );
    }
    let file = d.dir.path().join("late.rules");
    std::fs::write(&file, "-w /etc/group -p wa\n").unwrap();
    assert!(!d.ctl(&["-R", file.to_str().unwrap()]).status.success());
    assert_eq!(d.ctl_ok(&["-l"]), format!("-w /etc/passwd -p wa -k {k}\n"));
    let log = d.log_text();
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("audit_enabled=2 res=0"))
        .collect();
    assert_eq!(refusals.len(), 5, "{log}");
    let me = std::process::id();
    assert!(refusals[0].contains(" op=add_rule "), "{}", refusals[0]);
    assert!(refusals[1].contains(" op=remove_rule "), "{}", refusals[1]);
    assert!(refusals[2].contains(" op=set "), "{}", refusals[2]);
    // The ctl client is a child of this test: its pid is not ours but its uid is root.
    assert!(
        refusals.iter().all(|r| r.contains(" uid=0 ")),
        "{refusals:?}"
    );
    assert!(!refusals.iter().any(|r| r.contains(&format!("pid={me} "))));
}

fn raw_exchange(d: &TestDaemon, bytes: &[u8]) -> String {
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.write_all(bytes).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    if out.len() < 4 {
        return String::new();
    }
    String::from_utf8_lossy(&out[4..]).into_owned()
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn malformed_messages_get_errors_and_the_daemon_survives() {
    if !need_root("malformed_messages_get_errors_and_the_daemon_survives") {
        return;
    }
    let d = start("");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (frame(b"not json"), "malformed request"),
        (frame(b"{\"op\":\"status\"}"), "numeric \\\"v\\\""),
        (
            frame(b"{\"v\":99,\"op\":\"status\"}"),
            "version 99 is not supported",
        ),
        (
            frame(b"{\"v\":1,\"op\":\"self_destruct\"}"),
            "malformed request",
        ),
        (
            frame(b"{\"v\":1,\"op\":\"rules\",\"argv\":\"-D\"}"),
            "malformed request",
        ),
        (0xffff_ffffu32.to_be_bytes().to_vec(), "larger than"),
        (frame(&[0xff, 0xfe, 0x00]), "malformed request"),
    ];
    for (bytes, want) in cases {
        let reply = raw_exchange(&d, &bytes);
        assert!(reply.contains("\"ok\":false"), "{reply}");
        assert!(reply.contains(want), "want {want:?} in {reply}");
    }
    // Truncated frames and silent clients get nothing and hurt nothing.
    assert_eq!(raw_exchange(&d, &[0, 0, 0, 50, b'{']), "");
    assert_eq!(raw_exchange(&d, &[]), "");
    let reply = raw_exchange(&d, &frame(b"{\"v\":1,\"op\":\"list\"}"));
    assert!(reply.contains("No rules"), "{reply}");
    assert!(d.ctl_ok(&["-s"]).contains(&format!("pid {}", d.pid())));
}

#[test]
fn message_marker_is_found_by_ausearch() {
    if !need_ausearch("message_marker_is_found_by_ausearch") {
        return;
    }
    let d = start("");
    let marker = vigil_testkit::unique_key("marker");
    d.ctl_ok(&["-m", &marker]);
    // ctl -m returns once the record is on disk: no waiting needed.
    let found = d.ausearch(&["-m", "USER", "--raw"]);
    let line = found
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("ausearch did not find {marker}:\n{found}"));
    assert!(line.starts_with("type=USER msg=audit("), "{line}");
    assert!(line.contains(" uid=0 "), "{line}");
    assert!(
        line.contains(&format!("msg='{marker} exe=\"{VIGIL}\"")),
        "{line}"
    );
    assert!(line.ends_with(" res=success'"), "{line}");
    // And ausearch's interpretation agrees on the sender.
    let interp = d.ausearch(&["-m", "USER", "-i"]);
    assert!(interp.contains("uid=root"), "{interp}");
}
