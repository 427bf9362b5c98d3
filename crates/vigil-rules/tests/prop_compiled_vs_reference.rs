//! Property test: the compiled index judges every event exactly as the reference walk does
//! (decision, deciding rule, key, hidden objects), on random rule sets and events.
//!
//! Rule sets mix every list, every field and operator, all-syscall rules, never rules,
//! watches, task exclusions, overlapping conditions and several tenants; values come from
//! small domains so conditions often hold. `VIGIL_PROP_CASES` overrides the case count.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vigil_rules::ast::{
    Action, Condition, Field, FilterList, Op, Origin, Rule, RuleSet, Syscalls, Value,
};
use vigil_rules::compile::{compile_with, CompileOptions};
use vigil_rules::input::{EventInput, ObjectInput, TaskInput};
use vigil_rules::reference::{self, Reason};

const X86_64: u32 = 0xc000_003e;
const I386: u32 = 0x4000_0003;
const AARCH64: u32 = 0xc000_00b7;

/// Syscall numbers rules and events share: read, write, open, execve, unlink, chmod, openat,
/// i386 execve/open/socketcall, openat2, class bits, out of range.
const NRS: &[u32] = &[0, 1, 2, 59, 87, 90, 257, 11, 5, 102, 437, 2000, 2040, 3000];
const UIDS: &[u64] = &[0, 1, 1000, 1001, 4_294_967_295];
const SMALL: &[u64] = &[0, 1, 100, 101, 4_294_967_295];
const PATHS: &[&str] = &[
    "/etc/passwd",
    "/etc/ssh/sshd_config",
    "/etc",
    "/tmp/x",
    "/home/u/f",
    "/etcx/y",
];
const DIRS: &[&str] = &["/etc", "/etc/", "/", "/tmp", "/home/u", "/et", ""];
const EXES: &[&str] = &["/usr/bin/sudo", "/bin/sh"];
const LABELS: &[&str] = &[
    "system_u",
    "unconfined_u",
    "sshd_t",
    "object_r",
    "s0",
    "s0:c0.c1023",
];
const FULL_LABELS: &[&str] = &[
    "system_u:system_r:sshd_t:s0-s0:c0.c1023",
    "unconfined_u:object_r:etc_t:s0",
];

fn pick<T: Clone + std::fmt::Debug + 'static>(xs: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(xs)
}

fn op() -> impl Strategy<Value = Op> {
    pick(&[
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Gt,
        Op::Le,
        Op::Ge,
        Op::BitMask,
        Op::BitTest,
    ])
}

/// A value fitting `field` (now and then one of the wrong kind).
fn value_for(field: Field) -> BoxedStrategy<Value> {
    let num = |xs: &'static [u64]| pick(xs).prop_map(Value::Num).boxed();
    let text = |xs: &'static [&'static str]| pick(xs).prop_map(|s| Value::Str(s.into())).boxed();
    let right = match field {
        Field::Uid
        | Field::Euid
        | Field::Suid
        | Field::Fsuid
        | Field::Gid
        | Field::Egid
        | Field::Sgid
        | Field::Fsgid
        | Field::Auid
        | Field::ObjUid
        | Field::ObjGid => num(UIDS),
        Field::Pid | Field::Ppid | Field::SessionId | Field::Pers => num(SMALL),
        Field::Arch => num(&[0xc000_003e, 0x4000_0003, 0xc000_00b7, 0]),
        Field::MsgType => num(&[1100, 1300, 1112, 1005]),
        Field::Exit => num(&[0, 1, 2, 4_294_967_295, 4_294_967_283]),
        Field::Success => num(&[0, 1, 2]),
        Field::DevMajor | Field::DevMinor => num(&[0, 8, 253]),
        Field::Inode => num(&[1, 2, 100]),
        Field::Path => text(PATHS),
        Field::Dir => text(DIRS),
        Field::Exe => text(EXES),
        Field::Perm => (0u64..16).prop_map(Value::Num).boxed(),
        Field::FileType => num(&[0o100_000, 0o040_000, 0o120_000]),
        Field::SaddrFam => num(&[1, 2, 10]),
        Field::Arg(_) => num(&[0, 1, 2, 3, 0xffff_ffff, 0x1_0000_0001]),
        Field::FsType => num(&[0xef53, 0x0102_1994, 0x9fa0]),
        Field::ContId | Field::ContIdTree => num(&[1, 2, 3, u64::MAX]),
        Field::LoginuidSet => num(&[0, 1]),
        Field::Key => text(&["kx"]),
        _ => text(LABELS),
    };
    prop_oneof![
        12 => right,
        1 => prop_oneof![Just(Value::Num(1)), Just(Value::Str("/etc".into()))],
    ]
    .boxed()
}

const FIELDS: &[Field] = &[
    Field::Pid,
    Field::Uid,
    Field::Euid,
    Field::Suid,
    Field::Fsuid,
    Field::Gid,
    Field::Egid,
    Field::Sgid,
    Field::Fsgid,
    Field::Auid,
    Field::Pers,
    Field::Arch,
    Field::MsgType,
    Field::SubjUser,
    Field::SubjRole,
    Field::SubjType,
    Field::SubjSen,
    Field::SubjClr,
    Field::Ppid,
    Field::ObjUser,
    Field::ObjRole,
    Field::ObjType,
    Field::ObjLevLow,
    Field::ObjLevHigh,
    Field::LoginuidSet,
    Field::SessionId,
    Field::FsType,
    Field::DevMajor,
    Field::DevMinor,
    Field::Inode,
    Field::Exit,
    Field::Success,
    Field::Path,
    Field::Perm,
    Field::Dir,
    Field::FileType,
    Field::ObjUid,
    Field::ObjGid,
    Field::Exe,
    Field::SaddrFam,
    Field::Arg(0),
    Field::Arg(1),
    Field::Arg(2),
    Field::Arg(3),
    Field::Key,
    Field::ContId,
    Field::ContIdTree,
];

/// Fields rules index by: generated more often, with `=`, so indexes fill up.
const INDEXED: &[Field] = &[
    Field::Uid,
    Field::Auid,
    Field::Pid,
    Field::Exe,
    Field::Exit,
    Field::Arg(1),
    Field::ContId,
    Field::ContIdTree,
    Field::Dir,
    Field::MsgType,
    Field::Euid,
    Field::SessionId,
];

const CMP_FIELDS: &[Field] = &[
    Field::Uid,
    Field::Euid,
    Field::Suid,
    Field::Fsuid,
    Field::Auid,
    Field::Gid,
    Field::Egid,
    Field::Sgid,
    Field::Fsgid,
    Field::ObjUid,
    Field::ObjGid,
    Field::Pid,
];

fn condition() -> impl Strategy<Value = Condition> {
    let any_field = (pick(FIELDS), op())
        .prop_flat_map(|(f, o)| value_for(f).prop_map(move |v| (f, o, v)))
        .prop_map(|(field, op, value)| Condition::Field { field, op, value });
    let eq_field = pick(INDEXED)
        .prop_flat_map(|f| value_for(f).prop_map(move |v| (f, v)))
        .prop_map(|(field, value)| Condition::Field {
            field,
            op: Op::Eq,
            value,
        });
    let watch = prop_oneof![
        3 => pick(PATHS).prop_map(|p| Condition::Field {
            field: Field::Path,
            op: Op::Eq,
            value: Value::Str(p.into()),
        }),
        1 => pick(&[1u64, 2, 100]).prop_map(|i| Condition::Field {
            field: Field::Inode,
            op: Op::Eq,
            value: Value::Num(i),
        }),
        1 => (0u64..16).prop_map(|p| Condition::Field {
            field: Field::Perm,
            op: Op::Eq,
            value: Value::Num(p),
        }),
    ];
    let compare = (pick(CMP_FIELDS), op(), pick(CMP_FIELDS))
        .prop_map(|(left, op, right)| Condition::Compare { left, op, right });
    prop_oneof![6 => any_field, 5 => eq_field, 3 => watch, 1 => compare]
}

fn list() -> impl Strategy<Value = FilterList> {
    prop_oneof![
        10 => Just(FilterList::Exit),
        2 => Just(FilterList::Task),
        3 => Just(FilterList::IoUring),
        2 => Just(FilterList::User),
        2 => Just(FilterList::Exclude),
        1 => Just(FilterList::Filesystem),
    ]
}

fn syscalls() -> impl Strategy<Value = Syscalls> {
    prop_oneof![
        2 => Just(Syscalls::All),
        3 => proptest::collection::btree_set(pick(NRS), 1..4).prop_map(Syscalls::Set),
    ]
}

/// Conditions of a rule on `list`: filesystem rules mostly carry `fstype` fields.
fn conditions_for(list: FilterList) -> BoxedStrategy<Vec<Condition>> {
    if list == FilterList::Filesystem {
        let fstype = (
            prop_oneof![3 => Just(Op::Eq), 1 => op()],
            pick(&[0xef53u64, 0x0102_1994, 0x9fa0]),
        )
            .prop_map(|(op, v)| Condition::Field {
                field: Field::FsType,
                op,
                value: Value::Num(v),
            });
        proptest::collection::vec(prop_oneof![3 => fstype, 1 => condition()], 0..3).boxed()
    } else {
        proptest::collection::vec(condition(), 0..4).boxed()
    }
}

fn rule() -> impl Strategy<Value = Rule> {
    list()
        .prop_flat_map(|list| {
            let never = if list == FilterList::Filesystem { 3 } else { 1 };
            (
                Just(list),
                prop_oneof![3 => Just(Action::Always), never => Just(Action::Never)],
                syscalls(),
                conditions_for(list),
                proptest::collection::vec(pick(&["k1", "k2"]), 0..3),
            )
        })
        .prop_map(|(list, action, syscalls, conditions, keys)| Rule {
            list,
            action,
            syscalls,
            conditions,
            keys: keys.into_iter().map(String::from).collect(),
            is_watch: false,
            origin: Origin::default(),
        })
}

fn ruleset() -> impl Strategy<Value = RuleSet> {
    proptest::collection::vec(rule(), 0..14).prop_map(|rules| RuleSet {
        rules,
        ..RuleSet::default()
    })
}

fn object() -> impl Strategy<Value = ObjectInput> {
    (
        proptest::option::weighted(0.9, pick(PATHS)),
        pick(&[1u64, 2, 100, 0x1_0000_0001, u64::MAX]),
        (pick(&[0u32, 8, 253]), pick(&[0u32, 8, 253])),
        pick(&[0o100_644u32, 0o040_755, 0o120_777, 0o020_666]),
        (pick(UIDS), pick(UIDS)),
        pick(&[0xef53u32, 0x0102_1994, 0x9fa0]),
        proptest::option::weighted(0.3, pick(FULL_LABELS)),
    )
        .prop_map(
            |(path, inode, (maj, min), mode, (ouid, ogid), fstype, obj)| ObjectInput {
                path: path.map(|p| p.as_bytes().to_vec()),
                inode,
                dev_major: maj,
                dev_minor: min,
                mode,
                ouid: ouid as u32,
                ogid: ogid as u32,
                fstype,
                rdev_major: min,
                rdev_minor: maj,
                obj: obj.map(|l| l.as_bytes().to_vec()),
            },
        )
}

fn task() -> impl Strategy<Value = TaskInput> {
    (
        (pick(SMALL), pick(SMALL), pick(SMALL), pick(SMALL)),
        (pick(UIDS), pick(UIDS), pick(UIDS), pick(UIDS), pick(UIDS)),
        (pick(UIDS), pick(UIDS), pick(UIDS), pick(UIDS)),
        proptest::option::weighted(0.8, pick(EXES)),
        proptest::collection::vec(pick(&[1u64, 2, 3]), 0..3),
        proptest::collection::vec(pick(UIDS), 0..2),
        proptest::option::weighted(0.3, pick(FULL_LABELS)),
    )
        .prop_map(
            |(
                (pid, ppid, ses, pers),
                (uid, euid, suid, fsuid, auid),
                (gid, egid, sgid, fsgid),
                exe,
                contids,
                groups,
                subj,
            )| TaskInput {
                pid: pid as u32,
                ppid: ppid as u32,
                uid: uid as u32,
                euid: euid as u32,
                suid: suid as u32,
                fsuid: fsuid as u32,
                gid: gid as u32,
                egid: egid as u32,
                sgid: sgid as u32,
                fsgid: fsgid as u32,
                auid: auid as u32,
                sessionid: ses as u32,
                pers: pers as u32,
                exe: exe.map(|e| e.as_bytes().to_vec()),
                contids,
                groups: groups.into_iter().map(|g| g as u32).collect(),
                subj: subj.map(|s| s.as_bytes().to_vec()),
            },
        )
}

fn event() -> impl Strategy<Value = EventInput> {
    let ev_list = prop_oneof![
        8 => Just(Some(FilterList::Exit)),
        3 => Just(Some(FilterList::IoUring)),
        2 => Just(Some(FilterList::User)),
        2 => Just(Some(FilterList::Exclude)),
        1 => Just(Some(FilterList::Task)),
        1 => Just(Some(FilterList::Filesystem)),
        1 => Just(None),
    ];
    (
        ev_list,
        pick(&[X86_64, X86_64, I386, 0, AARCH64]),
        prop_oneof![4 => pick(NRS), 1 => 0u32..3000],
        proptest::array::uniform4(pick(&[0u64, 1, 2, 3, 0x41, 0x1_0000_0001])),
        (pick(&[0i64, 1, 2, -1, -13, 0x1_0000_0000]), any::<bool>()),
        task(),
        proptest::collection::vec(object(), 0..4),
        (
            pick(&[1100u32, 1300, 1112, 1005]),
            proptest::option::of(pick(&[1u32, 2, 10])),
        ),
        pick(&[0u64, 1, 2, 0x241]),
    )
        .prop_map(
            |(list, arch, nr, args, (exit, success), task, objects, (msgtype, saddr_fam), o2)| {
                EventInput {
                    list,
                    arch,
                    nr,
                    args,
                    exit,
                    success,
                    task,
                    objects,
                    msgtype,
                    saddr_fam,
                    openat2_flags: o2,
                }
            },
        )
}

#[derive(Default)]
struct Stats {
    cases: AtomicU64,
    events: AtomicU64,
    verdicts: AtomicU64,
    by_rule: AtomicU64,
    by_task: AtomicU64,
    aborted: AtomicU64,
    recorded: AtomicU64,
    keyed: AtomicU64,
    inode_phase: AtomicU64,
    key_elsewhere: AtomicU64,
    hidden: AtomicU64,
    rules: AtomicU64,
    sel_index: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn compiled_equals_reference() {
    let cases: u32 = std::env::var("VIGIL_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // ChaCha is slow unoptimised; the cases need no cryptographic randomness.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..Config::default()
    });
    let stats = Stats::default();
    let strategy = (
        proptest::collection::vec(ruleset(), 1..4),
        proptest::collection::vec(event(), 8),
        pick(&[0usize, 1, 2, 16]),
    );
    let result = runner.run(&strategy, |(sets, events, crowded)| {
        let compiled = compile_with(
            &sets,
            &CompileOptions {
                crowded_list: crowded,
            },
        )
        .map_err(|e| TestCaseError::fail(format!("compile failed: {e}")))?;
        bump(&stats.cases);
        stats.rules.fetch_add(
            sets.iter().map(|s| s.rules.len() as u64).sum(),
            Ordering::Relaxed,
        );
        if compiled.tables.iter().any(|t| t.index_sel != 0) {
            bump(&stats.sel_index);
        }
        for ev in &events {
            let want = reference::evaluate(&sets, ev);
            let got = compiled.evaluate(ev);
            prop_assert_eq!(&got, &want, "event {:#?}", ev);
            for (i, v) in want.verdicts.iter().enumerate() {
                prop_assert_eq!(got.keys(&sets, i), want.keys(&sets, i));
                bump(&stats.verdicts);
                match v.reason {
                    Reason::Rule => bump(&stats.by_rule),
                    Reason::Task => bump(&stats.by_task),
                    Reason::Aborted => bump(&stats.aborted),
                    Reason::NoMatch => {}
                }
                if v.record && v.reason != Reason::NoMatch {
                    bump(&stats.recorded);
                }
                if v.key_rule.is_some() {
                    bump(&stats.keyed);
                }
                if v.key_rule.is_some() && v.key_rule != v.rule {
                    bump(&stats.key_elsewhere);
                }
                if v.hidden != 0 {
                    bump(&stats.hidden);
                }
                let rule = v.rule.map(|r| &sets[i].rules[r as usize]);
                if v.reason == Reason::Rule
                    && rule
                        .is_some_and(|r| r.list == FilterList::Exit && reference::is_name_scoped(r))
                {
                    bump(&stats.inode_phase);
                }
            }
            bump(&stats.events);
        }
        Ok(())
    });
    let s = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "cases {} rules {} events {} verdicts {}: decided by a rule {}, by the task list {}, \
         walk aborted {}, recorded {}, keyed {} (by another rule {}), inode phase {}, with \
         hidden objects {}; cases using the (field, syscall) index {}",
        s(&stats.cases),
        s(&stats.rules),
        s(&stats.events),
        s(&stats.verdicts),
        s(&stats.by_rule),
        s(&stats.by_task),
        s(&stats.aborted),
        s(&stats.recorded),
        s(&stats.keyed),
        s(&stats.key_elsewhere),
        s(&stats.inode_phase),
        s(&stats.hidden),
        s(&stats.sel_index),
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator must exercise every path, or agreement proves little (checked on full
    // runs only: a short run may miss the rarest ones).
    if cases < 5_000 {
        return;
    }
    let v = s(&stats.verdicts);
    assert!(s(&stats.cases) >= u64::from(cases), "too few cases");
    assert!(s(&stats.by_rule) * 10 > v, "rules decide too rarely");
    for (what, c, per) in [
        ("task", &stats.by_task, 2_000),
        ("aborted", &stats.aborted, 2_000),
        ("hidden", &stats.hidden, 2_000),
        ("keyed", &stats.keyed, 2_000),
        ("inode phase", &stats.inode_phase, 2_000),
        ("keys from an earlier rule", &stats.key_elsewhere, 20_000),
    ] {
        assert!(s(c) * per >= v, "{what} too rare: {} of {v}", s(c));
    }
    assert!(
        s(&stats.sel_index) * 50 >= s(&stats.cases),
        "the (field, syscall) index is too rarely used"
    );
}
