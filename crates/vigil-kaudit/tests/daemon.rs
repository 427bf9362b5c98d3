//! Privileged: becoming the audit daemon and receiving the kernel's records.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use vigil_kaudit::consts::{AUDIT_EOE, AUDIT_EXECVE, AUDIT_SYSCALL, AUDIT_USER};
use vigil_kaudit::{AuditClient, AuditReader, Placement, Record};
use vigil_rules::ast::{Action, Field, FilterList, Op};
use vigil_rules::tables::AUDIT_ARCH_X86_64;
use vigil_testkit::{require, unique_key, KernelAuditGuard};

fn quoted(s: &str) -> Vec<u8> {
    format!("\"{s}\"").into_bytes()
}

#[test]
fn audit_daemon_receives_the_syscall_record_of_its_rule() {
    if !require(
        "audit_daemon_receives_the_syscall_record_of_its_rule",
        DAEMON_NEEDS,
    ) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    let me = std::process::id();
    let key = unique_key("kaudit-daemon");

    let mut d = AuditClient::open().unwrap().become_daemon().unwrap();
    assert_eq!(guard.client().status().unwrap().pid, me);
    // A second registration is refused while we are alive, with a typed error.
    let e = AuditClient::open().unwrap().become_daemon().unwrap_err();
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");

    d.client().set_enabled(1).unwrap();
    // The kernel never audits the daemon itself, so the rule catches our child's execve.
    let rule = rule(
        FilterList::Exit,
        Action::Always,
        syscalls(AUDIT_ARCH_X86_64, &["execve"]),
        vec![
            arch(AUDIT_ARCH_X86_64),
            num(Field::Ppid, Op::Eq, u64::from(me)),
        ],
        &[&key],
    );
    d.client().add_rule(&rule, Placement::Append).unwrap();
    let child = Command::new("/bin/true").spawn().unwrap();
    let child_pid = child.id();
    let status = child.wait_with_output().unwrap().status;
    assert!(status.success());

    let want_key = quoted(&key);
    let (seen, found) = d
        .recv_until(Duration::from_secs(10), |r| {
            r.msg_type == AUDIT_SYSCALL && r.field("key") == Some(&want_key[..])
        })
        .unwrap();
    assert!(
        found,
        "no SYSCALL record with key {key}; got {} records",
        seen.len()
    );
    let sys = seen.last().unwrap();
    assert_eq!(sys.field("syscall"), Some(&b"59"[..]));
    assert_eq!(sys.field("success"), Some(&b"yes"[..]));
    assert_eq!(sys.field("ppid"), Some(me.to_string().as_bytes()));
    assert_eq!(sys.field("pid"), Some(child_pid.to_string().as_bytes()));
    assert_eq!(sys.field("exe"), Some(&b"\"/usr/bin/true\""[..]));
    let stamp = sys.stamp().expect("SYSCALL record has a stamp");

    // The rest of the event shares the stamp and ends with EOE.
    let (rest, eoe) = d
        .recv_until(Duration::from_secs(5), |r| {
            r.msg_type == AUDIT_EOE && r.stamp() == Some(stamp)
        })
        .unwrap();
    assert!(eoe, "no EOE for {stamp:?}");
    let same: Vec<&Record> = rest.iter().filter(|r| r.stamp() == Some(stamp)).collect();
    assert!(same.iter().any(|r| r.msg_type == AUDIT_EXECVE), "{same:?}");

    // A user message arrives as a USER record with a later serial.
    let marker = unique_key("kaudit-user");
    d.client().send_user_message(AUDIT_USER, &marker).unwrap();
    let (after, got) = d
        .recv_until(Duration::from_secs(5), |r| {
            r.msg_type == AUDIT_USER && r.text_lossy().contains(&marker)
        })
        .unwrap();
    assert!(got, "user message {marker} not received");
    let user = after.last().unwrap();
    assert!(user.stamp().unwrap().serial > stamp.serial);
    assert_eq!(user.field("pid"), Some(me.to_string().as_bytes()));

    let mut client = d.release().unwrap();
    assert_eq!(client.status().unwrap().pid, 0);
    client.delete_rule(&rule).unwrap();
    guard.restore().unwrap();
}

#[test]
fn dropping_the_daemon_unregisters_it() {
    if !require("dropping_the_daemon_unregisters_it", DAEMON_NEEDS) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    {
        let _d = AuditClient::open().unwrap().become_daemon().unwrap();
        assert_eq!(guard.client().status().unwrap().pid, std::process::id());
    }
    assert_eq!(guard.client().status().unwrap().pid, 0);
    // Signal info is answered whether or not anyone signalled a daemon.
    guard.client().signal_info().unwrap();
}

#[test]
fn multicast_reader_sees_records_without_being_the_daemon() {
    if !require(
        "multicast_reader_sees_records_without_being_the_daemon",
        DAEMON_NEEDS,
    ) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    let me = std::process::id();
    let key = unique_key("kaudit-reader");
    let mut reader = AuditReader::subscribe().unwrap();
    let c = guard.client();
    c.set_enabled(1).unwrap();
    let rule = rule(
        FilterList::Exit,
        Action::Always,
        syscalls(AUDIT_ARCH_X86_64, &["execve"]),
        vec![
            arch(AUDIT_ARCH_X86_64),
            num(Field::Ppid, Op::Eq, u64::from(me)),
        ],
        &[&key],
    );
    c.add_rule(&rule, Placement::Append).unwrap();
    assert!(Command::new("/bin/true").status().unwrap().success());
    let want_key = quoted(&key);
    let (seen, found) = reader
        .recv_until(Duration::from_secs(10), |r| {
            r.msg_type == AUDIT_SYSCALL && r.field("key") == Some(&want_key[..])
        })
        .unwrap();
    assert!(
        found,
        "no SYSCALL with key {key} among {} records",
        seen.len()
    );
    assert_eq!(
        seen.last().unwrap().field("ppid"),
        Some(me.to_string().as_bytes())
    );
    guard.restore().unwrap();
}
