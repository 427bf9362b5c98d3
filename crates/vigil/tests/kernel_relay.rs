//! The kernel audit relay (`[kernel_audit] relay`): a user message sent through the kernel
//! (`auditctl -m`, as PAM and sshd send theirs) reaches vigil's log as auditd writes it, and
//! ausearch finds it by type, text and sender pid; without the relay it never does.
//! `enable = true` turns kernel audit on for the daemon's lifetime and back off at exit.

mod daemon_util;

use std::process::Command;
use std::time::{Duration, Instant};

use daemon_util::{Setup, TestDaemon};
use vigil_testkit::{require, unique_key, KernelAuditGuard, Need};

fn needs(test: &str) -> bool {
    require(test, &[Need::Root, Need::AuditTools, Need::AuditNetlink])
}

/// `auditctl -m TEXT` (the kernel writes it as `type=USER`); returns auditctl's pid.
fn auditctl_m(text: &str) -> u32 {
    let child = Command::new("auditctl")
        .args(["-m", text])
        .spawn()
        .expect("run auditctl -m");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait auditctl");
    assert!(out.status.success(), "auditctl -m {text} failed: {out:?}");
    pid
}

fn start(config: &str) -> TestDaemon {
    TestDaemon::start(Setup {
        config: config.to_owned(),
        ..Setup::default()
    })
}

/// The USER records from `pid` ausearch finds, raw.
fn user_records_of(d: &TestDaemon, pid: u32) -> String {
    d.ausearch(&["-m", "USER", "-p", &pid.to_string(), "--raw"])
}

fn kernel_enabled(guard: &mut KernelAuditGuard) -> u32 {
    guard.client().status().expect("audit status").enabled
}

#[test]
fn relay_writes_kernel_user_messages_as_auditd() {
    if !needs("relay_writes_kernel_user_messages_as_auditd") {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    // Off, so `enable = true` has something to do (the guard restores the machine's value).
    guard.client().set_enabled(0).expect("auditctl -e 0");
    let mut d = start("[kernel_audit]\nrelay = true\nenable = true\n");
    assert_eq!(
        kernel_enabled(&mut guard),
        1,
        "enable = true must turn kernel audit on:\n{}",
        d.stderr_text()
    );
    let text = unique_key("relay-user");
    let pid = auditctl_m(&text);
    let marker = unique_key("relay-marker");
    d.ctl_ok(&["-m", &marker]);
    // The relay writes on its own thread: wait for the record rather than assume an order.
    let t0 = Instant::now();
    let found = loop {
        let found = user_records_of(&d, pid);
        if found.contains(&text) || t0.elapsed() > Duration::from_mins(1) {
            break found;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = d.log_text();
    assert!(
        found.contains(&text),
        "ausearch -m USER -p {pid} does not find {text}:\n{found}\nlog:\n{log}\ndaemon:\n{}",
        d.stderr_text()
    );
    // Exactly the kernel's record: its pid, the text in msg='...' with auditctl's fields.
    let line = log
        .lines()
        .find(|l| l.contains(&text))
        .expect("the relayed line");
    assert!(line.starts_with("type=USER msg=audit("), "{line}");
    assert!(line.contains(&format!(" pid={pid} uid=0 ")), "{line}");
    // auditctl -m sends `text=TEXT` and its own exe/hostname/addr/terminal fields.
    assert!(line.contains(&format!("msg='text={text} exe=")), "{line}");
    assert!(line.ends_with(" res=success'"), "{line}");
    // The kernel's own identity, not vigil's: the marker's serial is vigil's.
    assert!(log.contains(&marker), "the ctl -m marker is in the log");
    // A kernel rule's multi-record event (SYSCALL, CWD, PATH, PROCTITLE) keeps its key and
    // its one identity: `ausearch -k` finds it whole. `cat` is forked after audit was
    // enabled, so it has an audit context.
    let key = unique_key("relay-k");
    let file = d.dir.path().join("watched");
    std::fs::write(&file, "x").unwrap();
    let rule = format!(
        "-a always,exit -F arch=b64 -S openat -F path={} -k {key}",
        file.display()
    );
    let st = Command::new("auditctl")
        .args(rule.split(' '))
        .status()
        .expect("auditctl -a");
    assert!(st.success(), "auditctl {rule}");
    let cat = Command::new("cat").arg(&file).output().expect("cat");
    assert!(cat.status.success());
    let t0 = Instant::now();
    let by_key = loop {
        let found = d.ausearch(&["-k", &key, "--raw"]);
        // auditctl's own CONFIG_CHANGE event carries the key and a PATH (of the directory)
        // too: wait for cat's event, its SYSCALL and the PATH of the file.
        let cats = found.contains("syscall=257")
            && found
                .lines()
                .any(|l| l.starts_with("type=PATH") && l.contains(&*file.display().to_string()));
        if cats || t0.elapsed() > Duration::from_mins(1) {
            break found;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let syscall = by_key
        .lines()
        .find(|l| l.starts_with("type=SYSCALL") && l.contains("syscall=257"))
        .unwrap_or_else(|| {
            panic!(
                "ausearch -k {key} finds no SYSCALL:\n{by_key}\nlog:\n{}",
                d.log_text()
            )
        });
    assert!(syscall.contains(&format!("key=\"{key}\"")), "{syscall}");
    let stamp = |l: &str| {
        l.split(": ")
            .next()
            .and_then(|h| h.split("msg=").nth(1))
            .map(str::to_owned)
    };
    let id = stamp(syscall);
    assert!(
        by_key.lines().any(|l| l.starts_with("type=PATH")
            && stamp(l) == id
            && l.contains(&*file.display().to_string())),
        "the PATH record of {id:?} is missing:\n{by_key}"
    );
    assert!(
        !d.log_text().contains("type=EOE"),
        "EOE records are not logged (auditd does not)"
    );
    let st = d.status();
    assert!(
        st.get("kaudit_relayed")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n >= 1),
        "status: {st:?}"
    );
    assert!(st.contains_key("lost_kaudit_overruns"), "status: {st:?}");
    assert!(
        st.contains_key("lost_kaudit_parse_errors"),
        "status: {st:?}"
    );
    assert!(d.stop().success(), "daemon exit:\n{}", d.stderr_text());
    assert_eq!(
        kernel_enabled(&mut guard),
        0,
        "the daemon must put the enabled flag back at exit:\n{}",
        d.stderr_text()
    );
}

#[test]
fn without_relay_kernel_messages_stay_out() {
    if !needs("without_relay_kernel_messages_stay_out") {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    // On, so the kernel does take the message (and would multicast it to a relay).
    guard.client().set_enabled(1).expect("auditctl -e 1");
    let d = start("[kernel_audit]\nrelay = false\n");
    let text = unique_key("norelay-user");
    let pid = auditctl_m(&text);
    let marker = unique_key("norelay-marker");
    d.ctl_ok(&["-m", &marker]);
    // Longer than the relay's idle wait: a relay would have written by now.
    std::thread::sleep(Duration::from_millis(500));
    let found = d.ausearch(&["-m", "USER", "--raw"]);
    assert!(found.contains(&marker), "the marker is found:\n{found}");
    assert!(
        !found.contains(&text) && user_records_of(&d, pid).is_empty(),
        "relay = false, yet the kernel's message is in the log:\n{found}"
    );
    assert!(!d.status().contains_key("kaudit_relayed"));
}

#[test]
fn exclude_rules_drop_relayed_records_by_type() {
    if !needs("exclude_rules_drop_relayed_records_by_type") {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    guard.client().set_enabled(1).expect("auditctl -e 1");
    let d = TestDaemon::start(Setup {
        rules: Some("-a always,exclude -F msgtype=USER\n".to_owned()),
        config: "[kernel_audit]\nrelay = true\n".to_owned(),
        ..Setup::default()
    });
    let dropped = unique_key("excluded-user");
    let pid = auditctl_m(&dropped);
    // A USER_AUTH (1100) sent after it: once it is in the log, the USER was handled.
    let kept = unique_key("kept-user-auth");
    guard
        .client()
        .send_user_message(1100, &format!("op=test acct=\"{kept}\" res=success"))
        .expect("send USER_AUTH");
    let log = d.wait_log("the relayed USER_AUTH", |t| t.contains(&kept));
    let line = log.lines().find(|l| l.contains(&kept)).unwrap();
    assert!(line.starts_with("type=USER_AUTH msg=audit("), "{line}");
    assert!(
        line.contains(&format!(" pid={} ", std::process::id())),
        "{line}"
    );
    assert!(
        !log.contains(&dropped) && user_records_of(&d, pid).is_empty(),
        "-F msgtype=USER is excluded, yet the USER record was written:\n{log}"
    );
}
