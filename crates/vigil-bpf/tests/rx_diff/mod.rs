//! The differential harness of the privileged rule-index tests: two loaders on one child
//! process. One catches every syscall of the child (the complete list); the other judges
//! with compiled rule sets. Every syscall the user-space evaluator wants must be emitted,
//! and every rule set BPF decided must agree with it: record bit, deciding rule, keys.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use vigil_abi::VIGIL_AUDIT_ARCH_X86_64;
use vigil_bpf::convert::to_event_input;
use vigil_bpf::verdict::decide;
use vigil_bpf::{Counters, EventReader, FilterSet, LoadOptions, Loader, SyscallEvent};
use vigil_rules::ast::RuleSet;
use vigil_rules::compile::{compile_with, CompileOptions, CompiledSet};
use vigil_testkit::{kernel_lock, require, KernelLock, Need};

pub fn ruleset(text: &str) -> RuleSet {
    let f = vigil_rules::parse_str(text, "test.rules").unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!f.failed, "{:?}", f.diagnostics);
    f.rules
}

fn collect(reader: &mut EventReader, pid: u32) -> Vec<SyscallEvent> {
    let mut out = Vec::new();
    while reader.wait(Some(Duration::from_millis(200))).expect("wait") {
        if reader.drain(|e| {
            if e.task.pid == pid {
                out.push(e);
            }
        }) == 0
        {
            break;
        }
    }
    out.sort_by_key(|e| e.tai_ns);
    out
}

pub fn name(e: &SyscallEvent) -> &'static str {
    vigil_rules::tables::syscall_name(e.arch, e.nr).unwrap_or("?")
}

/// One differential run.
pub struct Setup<'a> {
    /// Rule set texts; `PID` (the child), `ME` (the test), `DIR` (a temporary directory
    /// holding `sub/` and the file `linked`) and `EXE` (the workload binary) are
    /// substituted.
    pub sets: &'a [&'a str],
    /// Workload arguments (`DIR` substituted).
    pub args: &'a [&'a str],
    /// The child's login uid (its own audit session), if set.
    pub auid: Option<u32>,
    /// Events whose verdicts may differ (BPF compares inodes where user space compares
    /// names: hard links); checked by the caller.
    pub exempt: &'a dyn Fn(&SyscallEvent) -> bool,
}

/// What a run gives for the caller's own checks.
pub struct Run {
    pub sets: Vec<RuleSet>,
    pub compiled: CompiledSet,
    /// Every syscall of the child; the rule loader's event for it, when it sent one.
    pub pairs: Vec<(SyscallEvent, Option<SyscallEvent>)>,
    pub counters: Counters,
    pub dir: String,
    pub stdout: String,
}

impl Run {
    pub fn judged(&self) -> impl Iterator<Item = &SyscallEvent> {
        self.pairs.iter().filter_map(|(_, j)| j.as_ref())
    }

    pub fn undecided(&self) -> Vec<&SyscallEvent> {
        self.judged().filter(|j| j.undecided != 0).collect()
    }

    /// Keys rule set `rs` labels `e` with (BPF's verdict, user space for what it left).
    pub fn keys(&self, e: &SyscallEvent, rs: usize) -> Option<Vec<String>> {
        let (d, _) = decide(e, &self.compiled);
        d.wants(rs).then(|| d.keys(&self.sets, rs).to_vec())
    }
}

struct Guard {
    loaders: [Loader; 2],
    _lock: KernelLock,
}

/// Runs `s` (None: the machine cannot run privileged tests; printed).
pub fn run(test: &str, s: &Setup) -> Option<Run> {
    if !require(test, &[Need::Root, Need::Btf]) {
        return None;
    }
    let lock = kernel_lock();
    let mut all_loader = Loader::load(&LoadOptions::default()).expect("load");
    let mut all_reader = all_loader.take_reader().expect("reader").expect("first");
    let mut rules_loader = Loader::load(&LoadOptions::default()).expect("second loader");
    let mut rules_reader = rules_loader.take_reader().expect("reader").expect("first");
    let mut g = Guard {
        loaders: [all_loader, rules_loader],
        _lock: lock,
    };

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::fs::canonicalize(tmp.path()).expect("canonical");
    std::fs::create_dir(dir.join("sub")).expect("sub");
    std::fs::write(dir.join("linked"), "x").expect("linked");
    let dir = dir.to_str().expect("utf-8").to_string();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_vigil-bpf-workload")).expect("exe");
    let args: Vec<String> = s.args.iter().map(|a| a.replace("DIR", &dir)).collect();
    let mut cmd = Command::new(&exe);
    cmd.args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(auid) = s.auid {
        // SAFETY: only a write to /proc in the child before exec.
        unsafe {
            cmd.pre_exec(move || std::fs::write("/proc/self/loginuid", auid.to_string()));
        }
    }
    let mut child = cmd.spawn().expect("spawn workload");
    let pid = child.id();
    let me = std::process::id();
    let sub = |t: &str| {
        t.replace("PID", &pid.to_string())
            .replace("ME", &me.to_string())
            .replace("DIR", &dir)
            .replace("EXE", exe.to_str().expect("utf-8"))
    };
    let sets: Vec<RuleSet> = s.sets.iter().map(|t| ruleset(&sub(t))).collect();
    // As the daemon compiles: rules with an = field in index buckets.
    let compiled = compile_with(&sets, &CompileOptions { crowded_list: 1 }).expect("compile");
    g.loaders[1]
        .apply_rules(&compiled, false)
        .expect("apply rules");
    let mut all = FilterSet {
        tgid: Some(pid),
        rulesets: 1,
        ..FilterSet::default()
    };
    for nr in 0..470 {
        all.add(VIGIL_AUDIT_ARCH_X86_64, nr);
    }
    g.loaders[0].apply(&all).expect("apply all");
    let before = g.loaders[1].counters().expect("counters");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("go");
    let out = child.wait_with_output().expect("wait");
    for l in &mut g.loaders {
        l.apply(&FilterSet::default()).expect("clear");
    }
    let complete = collect(&mut all_reader, pid);
    let judged = collect(&mut rules_reader, pid);
    let counters = g.loaders[1].counters().expect("counters").since(&before);
    assert_eq!(counters.lost(), 0, "{counters}");
    assert!(complete.len() > 10, "only {} syscalls seen", complete.len());

    let mut pairs = Vec::new();
    let mut judged_iter = judged.into_iter().peekable();
    for ev in complete {
        let j = judged_iter.next_if(|j| {
            j.nr == ev.nr && j.args == ev.args && j.ret == ev.ret && j.task.tid == ev.task.tid
        });
        pairs.push((ev, j));
    }
    let rest: Vec<_> = judged_iter.collect();
    assert!(
        rest.is_empty(),
        "BPF emitted events not in the child's list: {rest:?}"
    );
    let run = Run {
        sets,
        compiled,
        pairs,
        counters,
        dir,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    };
    check(&run, s.exempt);
    drop(tmp);
    Some(run)
}

/// Every syscall user space wants is emitted; every rule set BPF decided agrees with the
/// reference evaluator (record, rule, keys).
fn check(run: &Run, exempt: &dyn Fn(&SyscallEvent) -> bool) {
    let n = run.sets.len();
    let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    for (ev, j) in &run.pairs {
        if exempt(ev) {
            continue;
        }
        let nm = name(ev);
        let src = j.as_ref().unwrap_or(ev);
        let input = to_event_input(src);
        let reference = vigil_rules::reference::evaluate(&run.sets, &input);
        let Some(j) = j else {
            assert_eq!(
                reference.wanted, 0,
                "{nm} ret={} wanted by {:#x} but not emitted by BPF",
                ev.ret, reference.wanted
            );
            continue;
        };
        assert!(j.rulesets | j.undecided != 0, "{nm}: emitted for nobody");
        let decided = !j.undecided & all;
        assert_eq!(
            j.rulesets & decided,
            reference.wanted & decided,
            "{nm} ret={}: BPF {:#x} vs reference {:#x} (undecided {:#x}): {j:?}",
            j.ret,
            j.rulesets,
            reference.wanted,
            j.undecided
        );
        for &(rs, id) in &j.matches {
            let rule = run.compiled.rules[id as usize].index;
            assert_eq!(
                reference.verdicts[rs as usize].rule,
                Some(rule),
                "{nm}: rule set {rs} decided by another rule"
            );
        }
        let (d, judged) = decide(j, &run.compiled);
        assert_eq!(judged.inconsistent, 0, "{nm}: BPF answer does not fit");
        assert_eq!(d.wanted, reference.wanted, "{nm}: verdict differs");
        for i in 0..n {
            assert_eq!(
                d.keys(&run.sets, i),
                reference.keys(&run.sets, i),
                "{nm}: keys of set {i}"
            );
        }
    }
}

/// Prints what BPF sent (for a failing test's log).
pub fn dump(run: &Run) {
    for j in run.judged() {
        eprintln!(
            "  {} ret={} rulesets={:#x} undecided={:#x} matches={:?}",
            name(j),
            j.ret,
            j.rulesets,
            j.undecided,
            j.matches
        );
    }
    eprintln!(
        "{} syscalls, {} sent, {} undecided; {}",
        run.pairs.len(),
        run.judged().count(),
        run.undecided().len(),
        run.counters
    );
}
