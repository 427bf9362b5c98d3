//! Helpers shared by the privileged tests: hand-built rules (until the rule parser is
//! used here) and auditctl as the oracle.
#![allow(dead_code)]

use std::process::Command;

use vigil_kaudit::{AuditClient, RuleData};
use vigil_rules::ast::{Action, Condition, Field, FilterList, Op, Origin, Rule, Syscalls, Value};
use vigil_rules::tables;
use vigil_testkit::Need;

pub const NEEDS: &[Need] = &[Need::Root, Need::AuditNetlink, Need::AuditTools];
/// Tests that register as the audit daemon.
pub const DAEMON_NEEDS: &[Need] = &[
    Need::Root,
    Need::AuditNetlink,
    Need::AuditTools,
    Need::FreeAuditPid,
];

pub fn num(field: Field, op: Op, v: u64) -> Condition {
    Condition::Field {
        field,
        op,
        value: Value::Num(v),
    }
}

pub fn text(field: Field, op: Op, v: &str) -> Condition {
    Condition::Field {
        field,
        op,
        value: Value::Str(v.to_owned()),
    }
}

pub fn arch(a: u32) -> Condition {
    num(Field::Arch, Op::Eq, u64::from(a))
}

/// `-F exit=-ENAME` as the AST stores it (two's complement in 32 bits).
pub fn exit_errno(name: &str) -> Condition {
    let n = tables::errno_number(name).unwrap_or_else(|| panic!("errno {name}"));
    num(
        Field::Exit,
        Op::Eq,
        u64::from((n as i32).wrapping_neg() as u32),
    )
}

pub fn syscalls(arch: u32, names: &[&str]) -> Syscalls {
    Syscalls::Set(
        names
            .iter()
            .map(|n| tables::syscall_number(arch, n).unwrap_or_else(|| panic!("syscall {n}")))
            .collect(),
    )
}

pub fn rule(
    list: FilterList,
    action: Action,
    syscalls: Syscalls,
    conditions: Vec<Condition>,
    keys: &[&str],
) -> Rule {
    Rule {
        list,
        action,
        syscalls,
        conditions,
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        is_watch: false,
        origin: Origin::default(),
    }
}

pub fn watch(path: &str, perm: &str, key: &str) -> Rule {
    let mut r = rule(
        FilterList::Exit,
        Action::Always,
        Syscalls::All,
        vec![
            text(Field::Path, Op::Eq, path),
            num(
                Field::Perm,
                Op::Eq,
                u64::from(tables::perm_bits(perm).unwrap()),
            ),
        ],
        &[key],
    );
    r.is_watch = true;
    r
}

/// Runs auditctl with `args`; panics with its stderr on failure.
pub fn auditctl(args: &[&str]) -> String {
    let out = Command::new("/sbin/auditctl")
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("run auditctl");
    assert!(
        out.status.success(),
        "auditctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rules in `after` that were not in `before` (as a multiset).
pub fn added(before: &[RuleData], after: &[RuleData]) -> Vec<RuleData> {
    let mut left: Vec<Option<&RuleData>> = before.iter().map(Some).collect();
    let mut out = Vec::new();
    for r in after {
        if let Some(slot) = left.iter_mut().find(|s| **s == Some(r)) {
            *slot = None;
        } else {
            out.push(r.clone());
        }
    }
    out
}

/// Lines of `auditctl -l` that are not in `before`.
pub fn listing_added(before: &str, after: &str) -> Vec<String> {
    let mut left: Vec<&str> = before.lines().collect();
    let mut out = Vec::new();
    for l in after.lines() {
        if let Some(i) = left.iter().position(|b| *b == l) {
            left.remove(i);
        } else {
            out.push(l.to_owned());
        }
    }
    out
}

/// Loads `line` with auditctl and `rule` through our encoding, one after the other, and
/// checks that the kernel holds byte-identical rules, that `auditctl -l` prints them the
/// same, that the kernel's rule decodes back to `rule`, and that deleting works.
pub fn same_as_auditctl(client: &mut AuditClient, line: &str, rule: &Rule) {
    let args: Vec<&str> = line.split_whitespace().collect();
    let before = client.list_rules_raw().unwrap();
    let listing_before = auditctl(&["-l"]);

    auditctl(&args);
    let theirs = added(&before, &client.list_rules_raw().unwrap());
    assert_eq!(theirs.len(), 1, "auditctl {line}: one new kernel rule");
    let their_listing = listing_added(&listing_before, &auditctl(&["-l"]));
    client.delete_rule_raw(&theirs[0]).unwrap();
    assert_eq!(client.list_rules_raw().unwrap(), before, "{line}: deleted");

    client
        .add_rule(rule, vigil_kaudit::Placement::Append)
        .unwrap_or_else(|e| panic!("{line}: kernel refused our encoding: {e}"));
    let ours = added(&before, &client.list_rules_raw().unwrap());
    assert_eq!(ours, theirs, "{line}: kernel rule differs from auditctl's");
    let our_listing = listing_added(&listing_before, &auditctl(&["-l"]));
    assert_eq!(our_listing, their_listing, "{line}: auditctl -l differs");
    let decoded = vigil_kaudit::decode_rule(&ours[0]).unwrap();
    assert_eq!(&decoded, rule, "{line}: decoded kernel rule");

    client.delete_rule(rule).unwrap();
    assert_eq!(
        client.list_rules_raw().unwrap(),
        before,
        "{line}: our delete"
    );
}

/// For a line the kernel refuses on this host (e.g. a `dir=` that does not exist):
/// auditctl fails, and so does our encoding, with the same errno auditctl reports.
pub fn both_refused(client: &mut AuditClient, line: &str, rule: &Rule) -> i32 {
    let before = client.list_rules_raw().unwrap();
    let out = Command::new("/sbin/auditctl")
        .args(line.split_whitespace())
        .env("LC_ALL", "C")
        .output()
        .expect("run auditctl");
    assert!(!out.status.success(), "auditctl accepted {line}");
    let e = client
        .add_rule(rule, vigil_kaudit::Placement::Append)
        .expect_err("kernel accepted our encoding of a line auditctl could not load");
    let errno = e.errno().expect("a kernel errno");
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(text),
        "auditctl said {stderr:?}, we got {e}"
    );
    assert_eq!(client.list_rules_raw().unwrap(), before);
    errno
}
