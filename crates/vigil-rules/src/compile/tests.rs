//! Compiler unit tests: placement, the O(1) reject, bounds. Agreement with the reference on
//! random input is the property test's job (`tests/prop_compiled_vs_reference.rs`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::layout::{IndexField, TableKind, RULE_NEVER};
use super::*;
use crate::ast::{Action, Condition, Field, FilterList, Op, Origin, Rule, Syscalls, Value};
use crate::input::{EventInput, ObjectInput, TaskInput};
use crate::reference;

const X86_64: u32 = 0xc000_003e;
const I386: u32 = 0x4000_0003;

fn f(field: Field, op: Op, v: u64) -> Condition {
    Condition::Field {
        field,
        op,
        value: Value::Num(v),
    }
}

fn s(field: Field, v: &str) -> Condition {
    Condition::Field {
        field,
        op: Op::Eq,
        value: Value::Str(v.into()),
    }
}

fn exit(nrs: &[u32], conds: Vec<Condition>) -> Rule {
    Rule {
        list: FilterList::Exit,
        action: Action::Always,
        syscalls: if nrs.is_empty() {
            Syscalls::All
        } else {
            Syscalls::Set(nrs.iter().copied().collect::<BTreeSet<u32>>())
        },
        conditions: conds,
        keys: vec!["k".into()],
        is_watch: false,
        origin: Origin {
            file: "test.rules".into(),
            line: 1,
        },
    }
}

fn set(rules: Vec<Rule>) -> RuleSet {
    RuleSet {
        rules,
        ..RuleSet::default()
    }
}

fn event(nr: u32, uid: u32) -> EventInput {
    EventInput {
        list: Some(FilterList::Exit),
        arch: X86_64,
        nr,
        success: true,
        task: TaskInput {
            uid,
            auid: uid,
            ..TaskInput::default()
        },
        ..EventInput::default()
    }
}

/// Compiled and reference agree on `ev`; returns the decision.
fn agree(sets: &[RuleSet], c: &CompiledSet, ev: &EventInput) -> reference::Decision {
    let want = reference::evaluate(sets, ev);
    assert_eq!(c.evaluate(ev), want, "{ev:#?}");
    want
}

fn slot(c: &CompiledSet, kind: TableKind, arch: u32) -> &layout::ArchSlot {
    c.table(kind)
        .slots
        .iter()
        .find(|s| s.arch == arch)
        .expect("slot")
}

#[test]
fn all_syscall_rules_go_to_the_field_index() {
    let rules = (0..1000)
        .map(|i| {
            let field = if i % 2 == 0 { Field::Uid } else { Field::Auid };
            exit(&[], vec![f(field, Op::Eq, 10_000 + i)])
        })
        .collect();
    let sets = [set(rules)];
    let c = compile(&sets).unwrap();
    let t = c.table(TableKind::Exit);
    assert_eq!(t.index_any, IndexField::Uid.bit() | IndexField::Auid.bit());
    assert_eq!(t.residual.len, 0);
    assert!(slot(&c, TableKind::Exit, X86_64).lists.is_empty());
    let d = agree(&sets, &c, &event(39, 10_500));
    assert_eq!(d.verdicts[0].rule, Some(500));
    let d = agree(&sets, &c, &event(39, 42));
    assert_eq!(d.wanted, 0);
}

#[test]
fn syscalls_no_rule_names_fail_the_bitmap() {
    let sets = [set(vec![exit(
        &[257, 2],
        vec![f(Field::Arch, Op::Eq, u64::from(X86_64))],
    )])];
    let c = compile(&sets).unwrap();
    let b64 = slot(&c, TableKind::Exit, X86_64);
    assert_eq!(b64.bitmap.iter().collect::<Vec<_>>(), vec![2, 257]);
    // arch=b64: the i386 slot and the default slot stay empty.
    assert!(slot(&c, TableKind::Exit, I386).bitmap.is_empty());
    assert!(slot(&c, TableKind::Exit, layout::NONE).bitmap.is_empty());
    agree(&sets, &c, &event(257, 0));
    let mut b32 = event(2, 0);
    b32.arch = I386;
    assert_eq!(agree(&sets, &c, &b32).wanted, 0);
}

#[test]
fn perm_classes_narrow_watches() {
    // -w /etc/passwd -p wa
    let sets = [set(vec![exit(
        &[],
        vec![s(Field::Path, "/etc/passwd"), f(Field::Perm, Op::Eq, 10)],
    )])];
    let c = compile(&sets).unwrap();
    let b = &slot(&c, TableKind::Exit, X86_64).bitmap;
    for nr in [2, 257, 437, 82, 87, 90, 92, 188, 76] {
        assert!(b.contains(nr), "{nr}");
    }
    for nr in [0, 1, 39, 59, 89, 191] {
        assert!(!b.contains(nr), "{nr}");
    }
    assert_eq!(c.table(TableKind::Names).index_any, IndexField::Path.bit());
    let mut ev = event(87, 0);
    ev.objects = vec![ObjectInput {
        path: Some(b"/etc/passwd".to_vec()),
        inode: 5,
        ..ObjectInput::default()
    }];
    assert!(agree(&sets, &c, &ev).wants(0));
}

#[test]
fn crowded_syscall_lists_move_to_the_field_syscall_index() {
    let rules = (0..40)
        .map(|i| exit(&[257], vec![f(Field::Uid, Op::Eq, 100 + i)]))
        .chain([exit(&[257], vec![f(Field::Auid, Op::Ge, 1000)])])
        .collect();
    let sets = [set(rules)];
    let c = compile(&sets).unwrap();
    let t = c.table(TableKind::Exit);
    assert_eq!(t.index_sel, IndexField::Uid.bit());
    // Only the rule without an `=` field stays in the syscall list.
    assert_eq!(slot(&c, TableKind::Exit, X86_64).lists[257].len, 1);
    assert_eq!(
        agree(&sets, &c, &event(257, 120)).verdicts[0].rule,
        Some(20)
    );
    assert_eq!(
        agree(&sets, &c, &event(257, 1500)).verdicts[0].rule,
        Some(40)
    );
    assert_eq!(agree(&sets, &c, &event(2, 120)).wanted, 0);
}

#[test]
fn many_sources_spill_to_the_heap() {
    // 40 watched directories along one path: a deep object hits 40 dir buckets, more sources
    // than the evaluator keeps on the stack.
    let mut dir = String::new();
    let mut rules = Vec::new();
    for i in 0..40 {
        write!(dir, "/d{i}").unwrap();
        let mut r = exit(&[], vec![s(Field::Dir, &dir)]);
        r.action = if i == 39 {
            Action::Always
        } else {
            Action::Never
        };
        rules.push(r);
    }
    rules.reverse();
    let sets = [set(rules)];
    let c = compile(&sets).unwrap();
    let mut ev = event(2, 7);
    ev.objects = vec![ObjectInput {
        path: Some(format!("{dir}/file").into_bytes()),
        ..ObjectInput::default()
    }];
    let d = agree(&sets, &c, &ev);
    assert_eq!(d.verdicts[0].rule, Some(0));
    assert!(d.wants(0));
}

#[test]
fn never_matching_rules_are_placed_nowhere() {
    let sets = [set(vec![
        // msgtype is not an exit field: audit_filter_rules never matches it.
        exit(&[], vec![f(Field::MsgType, Op::Eq, 1300)]),
        // arch=b64 with -S open and perm=x: no syscall satisfies all three.
        exit(
            &[2],
            vec![
                f(Field::Arch, Op::Eq, u64::from(X86_64)),
                f(Field::Perm, Op::Eq, 1),
            ],
        ),
    ])];
    let c = compile(&sets).unwrap();
    assert!(c.rules.iter().all(|r| r.flags & RULE_NEVER != 0));
    assert!(c.cands.is_empty());
    assert!(c.index.is_empty());
}

#[test]
fn bounds_are_compile_errors() {
    let many = vec![RuleSet::default(); 65];
    assert!(matches!(
        compile(&many),
        Err(CompileError::TooManyRulesets { count: 65, .. })
    ));
    let fields = set(vec![exit(&[], vec![f(Field::Uid, Op::Ne, 1); 65])]);
    let e = compile(&[fields]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "test.rules:1: the rule has 65 conditions; the kernel allows at most 64"
    );
    let long = set(vec![exit(&[], vec![s(Field::Exe, &"x".repeat(5000))])]);
    assert!(matches!(
        compile(&[long]),
        Err(CompileError::StringTooLong { len: 5000, .. })
    ));
    let mut keyed = exit(&[], vec![]);
    keyed.keys = vec!["k".repeat(200), "k".repeat(100)];
    assert!(matches!(
        compile(&[set(vec![keyed])]),
        Err(CompileError::KeyTooLong { len: 301, .. })
    ));
}

#[test]
fn overfull_lists_are_compile_errors() {
    let rules = vec![exit(&[], vec![f(Field::Auid, Op::Ge, 1000)]); layout::MAX_LIST_LEN + 1];
    let e = compile(&[set(rules)]).unwrap_err();
    assert!(
        e.to_string()
            .contains("Exit residual list of arch 0xc000003e"),
        "{e}"
    );
}

#[test]
fn layout_is_deterministic() {
    let rules: Vec<Rule> = (0..50)
        .map(|i| exit(&[i % 7], vec![f(Field::Euid, Op::Eq, u64::from(i % 3))]))
        .collect();
    let sets = [set(rules.clone()), set(rules)];
    let a = compile(&sets).unwrap();
    let b = compile(&sets).unwrap();
    assert_eq!(a.cands, b.cands);
    assert_eq!(a.index, b.index);
    assert_eq!(a.rules, b.rules);
    assert_eq!(a.rulesets[1].first, 50);
}
