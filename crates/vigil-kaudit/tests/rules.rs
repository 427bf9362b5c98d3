//! Privileged: our rule encoding against the kernel, with auditctl as the oracle.

mod common;

use common::*;
use vigil_kaudit::{Error, Placement};
use vigil_rules::ast::{Action, Condition, Field, FilterList, Op, Rule, Syscalls};
use vigil_rules::tables::{self, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use vigil_testkit::{require, unique_key, KernelAuditGuard};

const UNSET: u64 = u32::MAX as u64;

#[test]
fn rules_match_auditctl_byte_for_byte() {
    if !require("rules_match_auditctl_byte_for_byte", NEEDS) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    let k = unique_key("kaudit-rule");
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_str().unwrap().to_owned();
    let cwd = u64::from(tables::msgtype_number("CWD").unwrap());
    let cases = vec![
        (
            format!("-a always,exit -F arch=b64 -S openat,openat2 -F exit=-EACCES -F auid>=1000 -F auid!=unset -k {k}"),
            rule(
                FilterList::Exit,
                Action::Always,
                syscalls(AUDIT_ARCH_X86_64, &["openat", "openat2"]),
                vec![
                    arch(AUDIT_ARCH_X86_64),
                    exit_errno("EACCES"),
                    num(Field::Auid, Op::Ge, 1000),
                    num(Field::Auid, Op::Ne, UNSET),
                ],
                &[&k],
            ),
        ),
        (
            format!("-w /etc/passwd -p wa -k {k}"),
            watch("/etc/passwd", "wa", &k),
        ),
        (
            // auditctl -l prints this as a watch (-w DIR), so it decodes as one.
            format!("-a always,exit -F dir={dir_path} -F perm=rwa -F key={k}"),
            Rule {
                is_watch: true,
                ..rule(
                    FilterList::Exit,
                    Action::Always,
                    Syscalls::All,
                    vec![
                        text(Field::Dir, Op::Eq, &dir_path),
                        num(Field::Perm, Op::Eq, u64::from(tables::perm_bits("rwa").unwrap())),
                    ],
                    &[&k],
                )
            },
        ),
        (
            format!("-a never,exit -F arch=b32 -S chmod,fchmodat -F a0=0x10 -k {k}"),
            rule(
                FilterList::Exit,
                Action::Never,
                syscalls(AUDIT_ARCH_I386, &["chmod", "fchmodat"]),
                vec![arch(AUDIT_ARCH_I386), num(Field::Arg(0), Op::Eq, 0x10)],
                &[&k],
            ),
        ),
        (
            format!("-a always,exit -F arch=b64 -S execve -C uid!=euid -F euid=0 -k {k}"),
            rule(
                FilterList::Exit,
                Action::Always,
                syscalls(AUDIT_ARCH_X86_64, &["execve"]),
                vec![
                    arch(AUDIT_ARCH_X86_64),
                    Condition::Compare {
                        left: Field::Uid,
                        op: Op::Ne,
                        right: Field::Euid,
                    },
                    num(Field::Euid, Op::Eq, 0),
                ],
                &[&k],
            ),
        ),
        (
            format!("-a always,exit -F arch=b64 -S kill -F a1&=9 -F pers!=0 -F success=0 -k {k} -k second"),
            rule(
                FilterList::Exit,
                Action::Always,
                syscalls(AUDIT_ARCH_X86_64, &["kill"]),
                vec![
                    arch(AUDIT_ARCH_X86_64),
                    num(Field::Arg(1), Op::BitTest, 9),
                    num(Field::Pers, Op::Ne, 0),
                    num(Field::Success, Op::Eq, 0),
                ],
                &[&k, "second"],
            ),
        ),
        (
            format!("-a always,exit -F arch=b64 -S all -F exe=/usr/bin/true -F uid<=1001 -k {k}"),
            rule(
                FilterList::Exit,
                Action::Always,
                Syscalls::All,
                vec![
                    arch(AUDIT_ARCH_X86_64),
                    text(Field::Exe, Op::Eq, "/usr/bin/true"),
                    num(Field::Uid, Op::Le, 1001),
                ],
                &[&k],
            ),
        ),
        (
            // No -S: every syscall (auditctl wants -S before a key here, so no key).
            "-a always,exit -F uid=54321".to_owned(),
            rule(
                FilterList::Exit,
                Action::Always,
                Syscalls::All,
                vec![num(Field::Uid, Op::Eq, 54321)],
                &[],
            ),
        ),
        (
            "-a always,user -F uid=54321".to_owned(),
            rule(
                FilterList::User,
                Action::Always,
                Syscalls::All,
                vec![num(Field::Uid, Op::Eq, 54321)],
                &[],
            ),
        ),
        (
            "-a never,task -F uid=54321".to_owned(),
            rule(
                FilterList::Task,
                Action::Never,
                Syscalls::All,
                vec![num(Field::Uid, Op::Eq, 54321)],
                &[],
            ),
        ),
        (
            "-a always,exclude -F msgtype=CWD -F uid=54321".to_owned(),
            rule(
                FilterList::Exclude,
                Action::Always,
                Syscalls::All,
                vec![num(Field::MsgType, Op::Eq, cwd), num(Field::Uid, Op::Eq, 54321)],
                &[],
            ),
        ),
    ];
    for (line, r) in &cases {
        same_as_auditctl(guard.client(), line, r);
    }
    guard.restore().unwrap();
}

#[test]
fn kernel_errors_are_typed() {
    if !require("kernel_errors_are_typed", NEEDS) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    let k = unique_key("kaudit-err");
    let r = rule(
        FilterList::Exit,
        Action::Always,
        syscalls(AUDIT_ARCH_X86_64, &["getppid"]),
        vec![arch(AUDIT_ARCH_X86_64)],
        &[&k],
    );
    let c = guard.client();
    let e = c.delete_rule(&r).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    assert!(
        matches!(
            e,
            Error::Kernel {
                request: "AUDIT_DEL_RULE",
                ..
            }
        ),
        "{e:?}"
    );
    c.add_rule(&r, Placement::Append).unwrap();
    let e = c.add_rule(&r, Placement::Append).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
    assert!(e.to_string().contains("AUDIT_ADD_RULE"), "{e}");
    // The kernel validates operators: arch takes only = and !=.
    let bad = rule(
        FilterList::Exit,
        Action::Always,
        syscalls(AUDIT_ARCH_X86_64, &["getppid"]),
        vec![num(Field::Arch, Op::Lt, u64::from(AUDIT_ARCH_X86_64))],
        &[&k],
    );
    let e = c.add_rule(&bad, Placement::Append).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    c.delete_rule(&r).unwrap();
}

#[test]
fn prepend_puts_the_rule_first() {
    if !require("prepend_puts_the_rule_first", NEEDS) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    let k1 = unique_key("kaudit-order");
    let k2 = unique_key("kaudit-order");
    let mk = |k: &str| {
        rule(
            FilterList::Exit,
            Action::Always,
            syscalls(AUDIT_ARCH_X86_64, &["getppid"]),
            vec![arch(AUDIT_ARCH_X86_64)],
            &[k],
        )
    };
    let c = guard.client();
    c.add_rule(&mk(&k1), Placement::Append).unwrap();
    c.add_rule(&mk(&k2), Placement::Prepend).unwrap();
    let exit_rules: Vec<_> = c
        .list_rules()
        .unwrap()
        .into_iter()
        .filter(|r| r.list == FilterList::Exit)
        .collect();
    assert_eq!(exit_rules[0].keys, vec![k2.clone()]);
    assert!(exit_rules.iter().any(|r| r.keys == vec![k1.clone()]));
    // auditctl agrees on the order.
    let listing = auditctl(&["-l"]);
    let p1 = listing.find(&k1).unwrap();
    let p2 = listing.find(&k2).unwrap();
    assert!(p2 < p1, "{listing}");
}

#[test]
fn io_uring_rule_is_accepted_and_listed_back() {
    if !require("io_uring_rule_is_accepted_and_listed_back", NEEDS) {
        return;
    }
    // auditctl 3.0.9 predates the io_uring list: the kernel is the only oracle here.
    let mut guard = KernelAuditGuard::new();
    let k = unique_key("kaudit-uring");
    let ops: Syscalls = Syscalls::Set(
        ["openat", "connect"]
            .iter()
            .map(|n| tables::uring_op_number(n).unwrap())
            .collect(),
    );
    let r = rule(
        FilterList::IoUring,
        Action::Always,
        ops,
        vec![num(Field::Uid, Op::Eq, 54321)],
        &[&k],
    );
    let c = guard.client();
    let before = c.list_rules_raw().unwrap();
    c.add_rule(&r, Placement::Append).unwrap();
    let new = added(&before, &c.list_rules_raw().unwrap());
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].list(), 7);
    assert_eq!(vigil_kaudit::decode_rule(&new[0]).unwrap(), r);
    c.delete_rule(&r).unwrap();
}
