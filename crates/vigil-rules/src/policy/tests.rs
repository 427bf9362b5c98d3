use std::collections::BTreeSet;

use super::*;
use crate::ast::{Op, Value};
use crate::host::FakeHost;

fn line(text: &str) -> Result<(PolicyRule, Vec<Diagnostic>), Vec<Diagnostic>> {
    let Line::Words(words) = lexer::split_line(text) else {
        panic!("not a line: {text}");
    };
    let mut host = FakeHost::new();
    host.dirs.insert("/usr/bin".into());
    parse_policy_tokens(&words, "policy.rules", 7, &host)
}

fn ok(text: &str) -> PolicyRule {
    line(text).unwrap_or_else(|e| panic!("{text}: {e:?}")).0
}

fn err(text: &str) -> Vec<Diagnostic> {
    match line(text) {
        Ok(r) => panic!("{text} accepted: {r:?}"),
        Err(e) => e,
    }
}

fn has(diags: &[Diagnostic], p: &PolicyProblem) -> bool {
    diags
        .iter()
        .any(|d| d.problem == Problem::Policy(p.clone()))
}

#[test]
fn sqpoll_rule_without_ops_forbids_creation() {
    let r = ok("-a deny,io_uring -F uring_sqpoll=1 -F uid>=1000 -k no-sqpoll");
    assert_eq!(r.scope.sqpoll, Some(true));
    assert_eq!(r.scope.personality, None);
    assert_eq!(r.ops, Syscalls::All);
    assert!(!r.ops_given);
    assert!(r.denies_creation());
    assert_eq!(
        r.conditions,
        vec![Condition::Field {
            field: Field::Uid,
            op: Op::Ge,
            value: Value::Num(1000)
        }]
    );
    assert_eq!(r.keys, vec!["no-sqpoll".to_string()]);
    assert_eq!(r.origin.line, 7);
}

#[test]
fn opcode_rule_either_order_and_exe() {
    let r = ok("-a io_uring,deny -S connect,bind -F exe=/usr/bin/true -F auid=1000 -k net");
    assert_eq!(r.ops, Syscalls::Set(BTreeSet::from([16, 56])));
    assert!(r.ops_given);
    assert!(!r.denies_creation());
    assert_eq!(r.conditions.len(), 2);
    assert!(matches!(
        &r.conditions[0],
        Condition::Field { field: Field::Exe, op: Op::Eq, value: Value::Str(p) } if p == "/usr/bin/true"
    ));
    // -S audited is accepted here too.
    let a = ok("-a deny,io_uring -S audited");
    let Syscalls::Set(s) = a.ops else {
        panic!("audited is a set")
    };
    assert!(s.contains(&18) && !s.contains(&22));
}

#[test]
fn personality_and_single_word_forms() {
    let r = ok("-a deny,io_uring -Furing_personality=1 -F uid!=0");
    assert_eq!(r.scope.personality, Some(true));
    assert_eq!(r.ops, Syscalls::All);
    let r = ok("-adeny,io_uring -F uring_sqpoll=0 -S openat");
    assert_eq!(r.scope.sqpoll, Some(false));
    assert!(!r.denies_creation());
    // A rule of pseudo fields only still takes a key.
    let r = ok("-a deny,io_uring -F uring_personality=1 -k borrowed");
    assert_eq!(r.keys, vec!["borrowed".to_string()]);
    assert!(r.conditions.is_empty());
}

#[test]
fn refusals_name_the_problem_and_column() {
    let e = err("-a deny,exit -S open");
    assert!(has(&e, &PolicyProblem::NotUring));
    let e = err("-a deny,io_uring -S openat -F success=1");
    assert!(has(&e, &PolicyProblem::Field("success")), "{e:?}");
    assert_eq!(e[0].location.column, 31);
    assert_eq!(e[0].location.line, 7);
    assert_eq!(e[0].location.file, "policy.rules");
    let e = err("-a deny,io_uring -F uring_sqpoll=2");
    assert!(has(&e, &PolicyProblem::PseudoValue("uring_sqpoll")));
    let e = err("-a deny,io_uring -F uring_sqpoll=1 -F uring_sqpoll=0");
    assert!(has(&e, &PolicyProblem::PseudoTwice("uring_sqpoll")));
    let e = err("-a deny,io_uring -S openat -C uid!=auid");
    assert!(has(&e, &PolicyProblem::Compare));
    let e = err("-a deny,io_uring -F contid_tree=5");
    assert!(has(&e, &PolicyProblem::Field("contid_tree")), "{e:?}");
    let many = (0..9)
        .map(|i| format!(" -F uid!={i}"))
        .collect::<Vec<_>>()
        .concat();
    let e = err(&format!("-a deny,io_uring{many}"));
    assert!(has(
        &e,
        &PolicyProblem::TooManyConditions { count: 9, max: 8 }
    ));
    // What the rule parser refuses stays refused (unknown opcode).
    let e = err("-a deny,io_uring -S frobnicate");
    assert!(e
        .iter()
        .any(|d| matches!(d.problem, Problem::UnknownUringOp(_))));
}

#[test]
fn policy_files() {
    let host = FakeHost::new();
    let text = "# io_uring policy\n\n-a deny,io_uring -F uring_sqpoll=1\n-a deny,io_uring -S connect -F uid=1000 -k nonet\n";
    let (rules, warnings) = parse_policy(text, "p.rules", &host).expect("loads");
    assert!(warnings.is_empty());
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1].origin.line, 4);
    let bad = "-a deny,io_uring -S connect\n-w /etc/passwd -p wa\n-a deny,io_uring -F path=/x\n";
    let e = parse_policy(bad, "p.rules", &host).expect_err("refused");
    let lines: Vec<u32> = e.errors().map(|d| d.location.line).collect();
    assert_eq!(lines, vec![2, 3]);
    assert!(e.to_string().contains("p.rules:2:1"), "{e}");
    let many = (0..33)
        .map(|i| format!("-a deny,io_uring -F uid={i}\n"))
        .collect::<Vec<_>>()
        .concat();
    let e = parse_policy(&many, "p.rules", &host).expect_err("too many");
    assert!(has(
        &e.diagnostics,
        &PolicyProblem::TooManyRules { count: 33, max: 32 }
    ));
}

#[test]
fn recognises_policy_lines() {
    let words = |t: &str| match lexer::split_line(t) {
        Line::Words(w) => w,
        _ => Vec::new(),
    };
    assert!(is_policy_line(&words("-a deny,io_uring -S connect")));
    assert!(is_policy_line(&words("-A io_uring,deny")));
    assert!(!is_policy_line(&words("-a always,io_uring -S connect")));
    assert!(!is_policy_line(&words("-w /etc/passwd -p wa -k deny")));
}
