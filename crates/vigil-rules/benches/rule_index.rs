//! ns per evaluated event: the reference walk (what the kernel does) versus the compiled index,
//! for rule sets of 0 to 10,000 rules. Not a test: `cargo bench -p vigil-rules --bench
//! rule_index` prints a markdown table (docs/BENCHMARKS.md, "Rule index").
//!
//! Rule sets: half all-syscall rules on uid/auid equality (`-a always,exit -F arch=b64 -S all
//! -F uid=N`), half rules naming syscalls other than the measured ones (`-S chmod -F
//! auid>=1000 -F auid!=unset`, the STIG shape), plus 4 rules naming openat whose fields do not
//! match. Events: getppid (no rule names it) and openat (4 rules name it), from uid 1000, that
//! no rule matches, so both evaluators do all their work.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use vigil_rules::ast::{
    Action, Condition, Field, FilterList, Op, Origin, Rule, RuleSet, Syscalls, Value,
};
use vigil_rules::compile::compile;
use vigil_rules::input::{EventInput, ObjectInput, TaskInput};
use vigil_rules::reference::{self, Decision};

const X86_64: u64 = 0xc000_003e;
const GETPPID: u32 = 110;
const OPENAT: u32 = 257;
const SIZES: [usize; 5] = [0, 10, 100, 1_000, 10_000];
const ROUNDS: usize = 7;
const TARGET: Duration = Duration::from_millis(150);

fn field(field: Field, op: Op, v: u64) -> Condition {
    Condition::Field {
        field,
        op,
        value: Value::Num(v),
    }
}

fn rule(nrs: Option<&[u32]>, conditions: Vec<Condition>, key: String) -> Rule {
    let mut all = vec![field(Field::Arch, Op::Eq, X86_64)];
    all.extend(conditions);
    Rule {
        list: FilterList::Exit,
        action: Action::Always,
        syscalls: nrs.map_or(Syscalls::All, |n| {
            Syscalls::Set(n.iter().copied().collect::<BTreeSet<u32>>())
        }),
        conditions: all,
        keys: vec![key],
        is_watch: false,
        origin: Origin::default(),
    }
}

/// x86_64 syscall numbers rules may name: everything below 335 but the two measured ones.
fn other_syscalls() -> Vec<u32> {
    (0..335).filter(|n| *n != GETPPID && *n != OPENAT).collect()
}

fn rule_set(n: usize) -> RuleSet {
    let mut rules = Vec::with_capacity(n);
    if n >= 10 {
        let eacces = u64::from(-13i32 as u32);
        let eperm = u64::from(-1i32 as u32);
        rules.push(rule(
            Some(&[OPENAT]),
            vec![field(Field::Exit, Op::Eq, eacces)],
            "hot0".into(),
        ));
        rules.push(rule(
            Some(&[OPENAT]),
            vec![field(Field::Exit, Op::Eq, eperm)],
            "hot1".into(),
        ));
        rules.push(rule(
            Some(&[OPENAT, 85]),
            vec![
                field(Field::Success, Op::Eq, 0),
                field(Field::Auid, Op::Ge, 1000),
            ],
            "hot2".into(),
        ));
        rules.push(rule(
            Some(&[OPENAT]),
            vec![
                Condition::Field {
                    field: Field::Dir,
                    op: Op::Eq,
                    value: Value::Str("/etc".into()),
                },
                field(Field::Perm, Op::Eq, 2),
            ],
            "hot3".into(),
        ));
    }
    let others = other_syscalls();
    let mut i = 0u64;
    while rules.len() < n {
        if i.is_multiple_of(2) {
            // All-syscall rules on uid/auid equality; no value is the event's.
            let f = if i.is_multiple_of(4) {
                Field::Uid
            } else {
                Field::Auid
            };
            rules.push(rule(
                None,
                vec![field(f, Op::Eq, 2000 + i)],
                format!("all{i}"),
            ));
        } else {
            let nr = others[(i as usize / 2) % others.len()];
            rules.push(rule(
                Some(&[nr]),
                vec![
                    field(Field::Auid, Op::Ge, 1000),
                    field(Field::Auid, Op::Ne, u64::from(u32::MAX)),
                ],
                format!("named{i}"),
            ));
        }
        i += 1;
    }
    RuleSet {
        rules,
        ..RuleSet::default()
    }
}

fn event(nr: u32) -> EventInput {
    EventInput {
        list: Some(FilterList::Exit),
        arch: X86_64 as u32,
        nr,
        args: [0xffff_ff9c, 0x7ffd_0000, 0, 0],
        exit: 3,
        success: true,
        task: TaskInput {
            pid: 4242,
            ppid: 1,
            uid: 1000,
            euid: 1000,
            suid: 1000,
            fsuid: 1000,
            gid: 1000,
            egid: 1000,
            sgid: 1000,
            fsgid: 1000,
            auid: 1000,
            sessionid: 7,
            exe: Some(b"/usr/bin/cat".to_vec()),
            ..TaskInput::default()
        },
        objects: if nr == OPENAT {
            vec![ObjectInput {
                path: Some(b"/tmp/x".to_vec()),
                inode: 1234,
                dev_major: 8,
                dev_minor: 1,
                mode: 0o100_644,
                fstype: 0xef53,
                ..ObjectInput::default()
            }]
        } else {
            Vec::new()
        },
        ..EventInput::default()
    }
}

/// Best and median ns per call of `f` over [`ROUNDS`] rounds of about [`TARGET`] each.
fn measure(mut f: impl FnMut()) -> (f64, f64) {
    let start = Instant::now();
    let mut calibrate = 0u32;
    while start.elapsed() < Duration::from_millis(20) {
        f();
        calibrate += 1;
    }
    let per = start.elapsed().as_secs_f64() / f64::from(calibrate);
    let iters = ((TARGET.as_secs_f64() / per) as u32).max(10);
    let mut ns: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    (ns[0], ns[ROUNDS / 2])
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    println!("| rules | syscall | reference walk ns (min / median) | compiled ns (min / median) | compile ms |");
    println!("|---:|---|---:|---:|---:|");
    for n in SIZES {
        let sets = [rule_set(n)];
        let t = Instant::now();
        let compiled = compile(&sets).expect("benchmark rules compile");
        let compile_ms = t.elapsed().as_secs_f64() * 1e3;
        for (name, nr) in [
            ("getppid (no rule names it)", GETPPID),
            ("openat (4 rules name it)", OPENAT),
        ] {
            let ev = event(nr);
            // Both evaluators must agree here too, and decide nothing (the worst case).
            let want = reference::evaluate(&sets, &ev);
            assert_eq!(compiled.evaluate(&ev), want);
            assert_eq!(want.wanted, 0, "the benchmark event must not match");
            let (r_min, r_med) = measure(|| {
                black_box(reference::evaluate(black_box(&sets), black_box(&ev)));
            });
            let mut out = Decision::default();
            let (c_min, c_med) = measure(|| {
                compiled.evaluate_into(black_box(&ev), &mut out);
                black_box(&out);
            });
            println!(
                "| {n} | {name} | {r_min:.0} / {r_med:.0} | {c_min:.0} / {c_med:.0} | {compile_ms:.1} |"
            );
        }
    }
}
