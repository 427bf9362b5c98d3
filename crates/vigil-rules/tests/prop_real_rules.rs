//! Compiled == reference on real rule files: every file of Debian's auditd `examples/rules`,
//! parsed by vigil, each alone and all together as one multi-tenant set, judged on events
//! built from the rules' own values (their syscalls, uids, paths, errno values, arguments).
//!
//! The rule files come from Debian's `auditd` package (scripts/deps.sh installs it); without
//! it the test says so and checks nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vigil_rules::ast::{Condition, FilterList, RuleSet, Syscalls, Value};
use vigil_rules::compile::compile;
use vigil_rules::input::{EventInput, ObjectInput, TaskInput};
use vigil_rules::reference;
use vigil_rules::{Host, Loader, PathKind, SystemHost};

const EXAMPLES: &str = "/usr/share/doc/auditd/examples/rules";
const EVENTS_PER_FILE: usize = 3_000;

/// This machine, except that missing users and paths exist (the files name users and
/// directories of other distributions): a path ending in `/` is a directory, others files.
struct AnyHost;

impl Host for AnyHost {
    fn uid_of(&self, name: &str) -> Option<u32> {
        SystemHost.uid_of(name).or(Some(4242))
    }
    fn gid_of(&self, name: &str) -> Option<u32> {
        SystemHost.gid_of(name).or(Some(4343))
    }
    fn path_kind(&self, path: &str) -> PathKind {
        match SystemHost.path_kind(path) {
            PathKind::Missing if path.ends_with('/') => PathKind::Dir,
            PathKind::Missing if Path::new(path).extension().is_none() => PathKind::Dir,
            PathKind::Missing => PathKind::Other,
            k => k,
        }
    }
    fn native_arch(&self) -> u32 {
        SystemHost.native_arch()
    }
}

/// A small deterministic generator (xorshift64*): reproducible events without a seed file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The values the rules compare against, to build events that reach them.
#[derive(Default)]
struct Vocab {
    nrs: Vec<u32>,
    nums: Vec<u64>,
    paths: Vec<String>,
}

impl Vocab {
    fn of(sets: &[RuleSet]) -> Vocab {
        let mut nrs = BTreeSet::from([0u32, 2, 59, 87, 257]);
        let mut nums = BTreeSet::from([0u64, 1, 2, 1000, 1001, 4_294_967_295, 4_294_967_283]);
        let mut paths = BTreeSet::from(["/tmp/x".to_string()]);
        for r in sets.iter().flat_map(|s| s.rules.iter()) {
            if let Syscalls::Set(s) = &r.syscalls {
                nrs.extend(s.iter().copied());
            }
            for c in &r.conditions {
                match c {
                    Condition::Field {
                        value: Value::Num(v),
                        ..
                    } => {
                        nums.insert(*v);
                        nums.insert(v.wrapping_add(1) & 0xffff_ffff);
                        nums.insert(v.wrapping_sub(1) & 0xffff_ffff);
                    }
                    Condition::Field {
                        value: Value::Str(s),
                        ..
                    } => {
                        paths.insert(s.clone());
                        paths.insert(format!("{}/child", s.trim_end_matches('/')));
                    }
                    Condition::Compare { .. } => {}
                }
            }
        }
        Vocab {
            nrs: nrs.into_iter().collect(),
            nums: nums.into_iter().collect(),
            paths: paths.into_iter().collect(),
        }
    }

    fn num32(&self, rng: &mut Rng) -> u32 {
        rng.pick(&self.nums) as u32
    }

    fn event(&self, rng: &mut Rng) -> EventInput {
        let list = match rng.below(20) {
            0..=13 => FilterList::Exit,
            14 | 15 => FilterList::IoUring,
            16 => FilterList::User,
            17 => FilterList::Exclude,
            18 => FilterList::Task,
            _ => FilterList::Filesystem,
        };
        let mut task = TaskInput {
            pid: self.num32(rng),
            ppid: self.num32(rng),
            uid: self.num32(rng),
            euid: self.num32(rng),
            suid: self.num32(rng),
            fsuid: self.num32(rng),
            gid: self.num32(rng),
            egid: self.num32(rng),
            sgid: self.num32(rng),
            fsgid: self.num32(rng),
            auid: self.num32(rng),
            sessionid: self.num32(rng),
            pers: 0,
            exe: None,
            contids: Vec::new(),
            groups: vec![self.num32(rng)],
            subj: None,
        };
        if rng.chance(50) {
            task.exe = Some(rng.pick(&self.paths_ref()).as_bytes().to_vec());
        }
        let objects = (0..rng.below(4))
            .map(|_| ObjectInput {
                path: Some(rng.pick(&self.paths_ref()).as_bytes().to_vec()),
                inode: rng.next() % 5,
                dev_major: 8,
                dev_minor: 1,
                mode: rng.pick(&[0o100_644, 0o040_755, 0o120_777]),
                ouid: self.num32(rng),
                ogid: self.num32(rng),
                fstype: rng.pick(&[0xef53, 0x9fa0, 0x6265_6572, 0x0102_1994]),
                ..ObjectInput::default()
            })
            .collect();
        EventInput {
            list: Some(list),
            arch: if list == FilterList::IoUring {
                0
            } else {
                rng.pick(&[0xc000_003e, 0xc000_003e, 0x4000_0003])
            },
            nr: if rng.chance(80) {
                rng.pick(&self.nrs)
            } else {
                rng.below(500) as u32
            },
            args: [
                rng.pick(&self.nums),
                rng.pick(&self.nums),
                rng.pick(&[0, 1, 2, 0x241]),
                rng.pick(&self.nums),
            ],
            exit: i64::from(rng.pick(&self.nums) as u32 as i32),
            success: rng.chance(60),
            task,
            objects,
            msgtype: rng.pick(&[1100, 1300, 1302, 1307, 1112, 1327]),
            saddr_fam: None,
            openat2_flags: rng.pick(&[0, 1, 2]),
        }
    }

    fn paths_ref(&self) -> Vec<&str> {
        self.paths.iter().map(String::as_str).collect()
    }
}

fn load(path: &Path) -> RuleSet {
    let host = AnyHost;
    let mut loader = Loader::new(&host);
    let report = loader
        .load_file(path)
        .unwrap_or_else(|e| panic!("{} does not load: {e:?}", path.display()));
    assert!(
        !report.failed,
        "{}: {:?}",
        path.display(),
        report.diagnostics
    );
    loader.into_ruleset()
}

/// Judge `events` events built from `sets`; returns how many verdicts a rule decided.
fn agree(sets: &[RuleSet], rng: &mut Rng, events: usize, what: &str) -> usize {
    let compiled = compile(sets).unwrap_or_else(|e| panic!("{what}: {e}"));
    let vocab = Vocab::of(sets);
    let mut decided = 0;
    for _ in 0..events {
        let ev = vocab.event(rng);
        let want = reference::evaluate(sets, &ev);
        let got = compiled.evaluate(&ev);
        assert_eq!(got, want, "{what}: {ev:#?}");
        decided += want.verdicts.iter().filter(|v| v.rule.is_some()).count();
    }
    decided
}

#[test]
fn debian_example_rules_compile_to_the_same_decisions() {
    let Ok(dir) = std::fs::read_dir(EXAMPLES) else {
        println!("skipped: {EXAMPLES} is missing (Debian's auditd package; scripts/deps.sh)");
        return;
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rules"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "expected Debian's example rule files");
    let sets: Vec<RuleSet> = files.iter().map(|p| load(p)).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decided = 0;
    let mut rules = 0;
    for (p, s) in files.iter().zip(&sets) {
        rules += s.rules.len();
        decided += agree(
            std::slice::from_ref(s),
            &mut rng,
            EVENTS_PER_FILE,
            &p.display().to_string(),
        );
    }
    // All files as tenants of one compiled set.
    decided += agree(&sets, &mut rng, EVENTS_PER_FILE * 4, "all files together");
    println!(
        "{} files, {rules} rules, {} events: {decided} verdicts decided by a rule",
        files.len(),
        files.len() * EVENTS_PER_FILE + EVENTS_PER_FILE * 4
    );
    assert!(rules > 200, "the files hold {rules} rules");
    assert!(
        decided > 10_000,
        "events reach the rules too rarely: {decided}"
    );
}
