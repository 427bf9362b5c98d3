//! Privileged: the auditd fixture runs Debian's auditd for real, and ausearch finds
//! what the kernel sent it.

use std::process::Command;
use std::time::Duration;

use vigil_kaudit::{AuditClient, Placement};
use vigil_rules::ast::{Action, Condition, Field, FilterList, Op, Origin, Rule, Syscalls, Value};
use vigil_rules::tables::{self, AUDIT_ARCH_X86_64};
use vigil_testkit::{require, unique_key, Auditd, KernelAuditGuard, Need};

const NEEDS: &[Need] = &[
    Need::Root,
    Need::AuditNetlink,
    Need::AuditTools,
    Need::FreeAuditPid,
];

fn num(field: Field, v: u64) -> Condition {
    Condition::Field {
        field,
        op: Op::Eq,
        value: Value::Num(v),
    }
}

#[test]
fn auditd_fixture_logs_a_triggered_rule_for_ausearch() {
    if !require("auditd_fixture_logs_a_triggered_rule_for_ausearch", NEEDS) {
        return;
    }
    let me = std::process::id();
    let key = unique_key("testkit-auditd");
    let saved;
    {
        let mut auditd = Auditd::start();
        let c = auditd.client();
        let status = c.status().unwrap();
        assert_eq!(status.enabled, 1, "auditd -s enable turns auditing on");
        // Our children's execve: the test process itself is not the daemon here, but a
        // ppid filter keeps other processes out.
        let rule = Rule {
            list: FilterList::Exit,
            action: Action::Always,
            syscalls: Syscalls::Set(
                [tables::syscall_number(AUDIT_ARCH_X86_64, "execve").unwrap()].into(),
            ),
            conditions: vec![
                num(Field::Arch, u64::from(AUDIT_ARCH_X86_64)),
                num(Field::Ppid, u64::from(me)),
            ],
            keys: vec![key.clone()],
            is_watch: false,
            origin: Origin::default(),
        };
        c.add_rule(&rule, Placement::Append).unwrap();
        assert!(Command::new("/bin/true").status().unwrap().success());
        auditd.sync(Duration::from_secs(10));
        let found = auditd.ausearch(&["-k", &key]);
        assert!(
            found.success(),
            "ausearch -k {key}: {}{}",
            found.stdout,
            found.stderr
        );
        assert!(found.stdout.contains("type=SYSCALL"), "{}", found.stdout);
        assert!(
            found.stdout.contains("exe=\"/usr/bin/true\""),
            "{}",
            found.stdout
        );
        assert!(
            found.stdout.contains(&format!("ppid={me} ")),
            "{}",
            found.stdout
        );
        // The oracle can say no.
        let none = auditd.ausearch(&["-k", &unique_key("testkit-absent")]);
        assert!(
            !none.success(),
            "ausearch matched a key nobody used: {}",
            none.stdout
        );

        let exit = auditd.stop().expect("auditd was running");
        assert!(
            exit.success(),
            "auditd exit {exit}: {}",
            auditd.stderr_text()
        );
        let log = auditd.log_text();
        assert!(log.contains("type=DAEMON_START"), "{log}");
        // auditd asked the kernel who signalled it (AUDIT_SIGNAL_INFO): us.
        let end = log
            .lines()
            .find(|l| l.starts_with("type=DAEMON_END"))
            .unwrap_or_else(|| panic!("no DAEMON_END in {log}"));
        // auditd 3.0.9 writes pid=-1 when its own AUDIT_SIGNAL_INFO request times out (seen
        // on this loaded 2-core machine); any pid it does name must be ours. The kernel's
        // answer, checked next, is the strong assertion.
        assert!(
            end.contains(&format!(" pid={me} ")) || end.contains(" pid=-1 "),
            "DAEMON_END names another pid: {end}"
        );
        let info = auditd.client().signal_info().unwrap();
        assert_eq!(info.pid, me as i32);
        // After stop the record is still on disk.
        assert!(auditd.ausearch(&["-k", &key]).success());
        saved = auditd.client().status().unwrap();
        assert_eq!(saved.pid, 0, "auditd unregistered on exit");
    }
    // Dropping the fixture restored the kernel: our rule is gone, auditing as before.
    let g = KernelAuditGuard::new();
    let lock = g.into_lock();
    let mut c = AuditClient::open().unwrap();
    let rules = c.list_rules().unwrap();
    assert!(
        !rules.iter().any(|r| r.keys.contains(&key)),
        "rule survived the fixture"
    );
    assert_eq!(c.status().unwrap().pid, 0);
    drop(lock);
}
