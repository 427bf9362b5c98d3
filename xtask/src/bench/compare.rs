//! `bench audit-compare`: syscall latency under no auditing, kernel audit + auditd, vigil,
//! and a bare BPF hook, side by side in one run with interleaved rounds (docs/BENCHMARKS.md,
//! "Syscall latency: vigil vs kernel audit").

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::kernel::{auditctl, Auditd, AuditdConf, Kernel};
use super::measure::{parse_ops, Op, Plan, Sample};
use super::procs::{binaries, BareHold, Bins, MeasureChild};
use super::report::{self, Cell, Report};
use super::rules::{RuleSet, StigDirs};
use super::vigild::{self, VigilConf, Vigild};

/// What is in force while a cell measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Audit disabled and no rules, measuring task forked under `-a never,task`: it carries
    /// no audit context, as on a machine where audit was never enabled since boot.
    NoContext,
    /// (a) audit disabled (enabled=0), no rules, nothing attached.
    Disabled,
    /// (d) a bare BPF `sys_exit` program that returns at once (`bare-raw` / `bare-btf`).
    Bare(&'static str),
    /// (b) kernel audit enabled with Debian's auditd and the rule set.
    Kernel(RuleSet),
    /// (c) `vigil daemon` with the same rules file.
    Vigil(RuleSet),
}

impl Scenario {
    /// Short name for the raw data.
    pub fn tag(self) -> &'static str {
        match self {
            Scenario::NoContext => "a0",
            Scenario::Disabled => "a",
            Scenario::Bare("bare-raw") => "d-raw",
            Scenario::Bare(_) => "d-btf",
            Scenario::Kernel(_) => "b",
            Scenario::Vigil(_) => "c",
        }
    }

    pub fn label(self) -> String {
        match self {
            Scenario::NoContext => "(a0) no audit context (task forked under -a never,task)".into(),
            Scenario::Disabled => "(a) no auditing: enabled=0, no rules".into(),
            Scenario::Bare("bare-raw") => "(d) bare raw_tp sys_exit, returns at once".into(),
            Scenario::Bare(_) => "(d) bare tp_btf sys_exit, returns at once".into(),
            Scenario::Kernel(_) => "(b) kernel audit + auditd".into(),
            Scenario::Vigil(_) => "(c) vigil daemon".into(),
        }
    }
}

struct Args {
    rounds: u32,
    plan: Plan,
    sets: Vec<RuleSet>,
    bare: bool,
    no_context: bool,
    no_audit_context: bool,
    build: bool,
    keep: bool,
    settle: Duration,
    out: Option<PathBuf>,
    raw: Option<PathBuf>,
}

const HELP: &str = "usage: cargo run --release -p xtask -- bench audit-compare [OPTIONS]
  --rounds N        interleaved rounds (default 10)
  --batches N       batches per cell, the best one counts (default 21)
  --batch-us N      wanted batch duration, sets the calls per batch (default 3000)
  --calls N         at most N calls per batch (default 20000)
  --cpu N           CPU the measuring process is pinned to (default 1)
  --no-fifo         do not run the measuring process at SCHED_FIFO priority 50
  --ops LIST        getppid,read,write,stat,fstat,open (default all)
  --sets LIST       rule sets: N (N rules naming other syscalls), named-N, all-N (rules
                    without -S on uid/auid), stig
                    (default 0,10,20,40,80,160,1000,named-10,named-40,named-160,stig)
  --no-bare         skip the bare BPF hook rows (d)
  --no-a0           skip the (a0) row (task without audit context)
  --no-audit-context  fork the measuring process of the (a), (c) and (d) rows under
                    `-a never,task` too, as on a machine where audit was never enabled
  --settle-ms N     pause after a daemon started before measuring (default 300)
  --no-build        use the release binaries already built
  --keep            keep the run directory (logs, rules files, configs)
  --out FILE        also write the markdown report to FILE
  --raw FILE        write every measurement (scenario, rules, op, round, ns, calls) as TSV";

fn parse_args(args: &[String]) -> anyhow::Result<Args> {
    let mut a = Args {
        rounds: 10,
        plan: Plan {
            cpu: 1,
            fifo: true,
            batches: 21,
            batch_us: 3000,
            max_calls: 20_000,
            ops: Op::ALL.to_vec(),
        },
        sets: parse_sets("0,10,20,40,80,160,1000,named-10,named-40,named-160,stig")?,
        bare: true,
        no_context: true,
        no_audit_context: false,
        build: true,
        keep: false,
        settle: Duration::from_millis(300),
        out: None,
        raw: None,
    };
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut val = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--rounds" => a.rounds = num(val()?)?,
            "--batches" => a.plan.batches = num(val()?)?,
            "--batch-us" => a.plan.batch_us = num(val()?)?,
            "--calls" => a.plan.max_calls = num(val()?)?,
            "--cpu" => a.plan.cpu = num(val()?)?,
            "--no-fifo" => a.plan.fifo = false,
            "--ops" => a.plan.ops = parse_ops(val()?)?,
            "--sets" => a.sets = parse_sets(val()?)?,
            "--no-bare" => a.bare = false,
            "--no-a0" => a.no_context = false,
            "--no-audit-context" => a.no_audit_context = true,
            "--settle-ms" => a.settle = Duration::from_millis(num(val()?)?),
            "--no-build" => a.build = false,
            "--keep" => a.keep = true,
            "--out" => a.out = Some(PathBuf::from(val()?)),
            "--raw" => a.raw = Some(PathBuf::from(val()?)),
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?}\n{HELP}"),
        }
    }
    if a.rounds == 0 || a.plan.batches == 0 || a.plan.max_calls == 0 || a.plan.batch_us == 0 {
        bail!("--rounds, --batches, --calls and --batch-us must be positive");
    }
    Ok(a)
}

fn num<T: std::str::FromStr>(s: &str) -> anyhow::Result<T> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("not a number: {s:?}"))
}

fn parse_sets(s: &str) -> anyhow::Result<Vec<RuleSet>> {
    s.split(',')
        .map(|x| RuleSet::parse(x).with_context(|| format!("unknown rule set {x:?}")))
        .collect()
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// SIGINT/SIGTERM/SIGHUP end the run at the next cell boundary, so that every daemon is
/// stopped and kernel audit restored on the way out.
fn catch_signals() {
    for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        let handler: extern "C" fn(libc::c_int) = on_signal;
        unsafe { libc::signal(s, handler as libc::sighandler_t) };
    }
}

fn check_interrupted() -> anyhow::Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

/// The run's scratch directory, removed at the end unless `--keep`.
pub struct RunDir {
    pub path: PathBuf,
    keep: bool,
}

impl RunDir {
    pub fn new(prefix: &str, keep: bool) -> anyhow::Result<RunDir> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| path.display().to_string())?;
        Ok(RunDir { path, keep })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("run directory kept: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let a = parse_args(args)?;
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: debug build; use `cargo run --release -p xtask -- bench audit-compare`"
        );
    }
    // SAFETY: geteuid has no arguments.
    if unsafe { libc::geteuid() } != 0 {
        bail!("bench audit-compare needs root (kernel audit, auditd, BPF)");
    }
    let bins = binaries(a.build)?;
    catch_signals();
    let dir = RunDir::new("vigil-bench-compare", a.keep)?;
    let mut kernel = Kernel::take()?;
    let result = measure_all(&a, &bins, &dir.path, &mut kernel);
    let restored = kernel.restore();
    drop(kernel);
    let rep = result?;
    restored.context("restoring kernel audit state")?;
    let text = rep.markdown();
    print!("{text}");
    if let Some(raw) = &a.raw {
        std::fs::write(raw, rep.raw_tsv()).with_context(|| raw.display().to_string())?;
    }
    if let Some(out) = &a.out {
        std::fs::write(out, &text).with_context(|| out.display().to_string())?;
    }
    Ok(())
}

fn scenarios(a: &Args) -> Vec<Scenario> {
    let mut v = Vec::new();
    if a.no_context {
        v.push(Scenario::NoContext);
    }
    v.push(Scenario::Disabled);
    if a.bare {
        v.push(Scenario::Bare("bare-raw"));
        v.push(Scenario::Bare("bare-btf"));
    }
    for s in &a.sets {
        v.push(Scenario::Kernel(*s));
        v.push(Scenario::Vigil(*s));
    }
    v
}

fn measure_all(a: &Args, bins: &Bins, dir: &Path, kernel: &mut Kernel) -> anyhow::Result<Report> {
    let start_status = kernel.saved_status();
    let stig = if a.sets.contains(&RuleSet::Stig) {
        Some(StigDirs::create()?)
    } else {
        None
    };
    let mut files = Vec::new();
    for s in &a.sets {
        files.push((*s, s.write(dir, &a.plan.ops)?));
    }
    // Kernel audit has been enabled since boot once the first (b) cell ran; enable it once
    // now so that every round, the first included, measures the same machine state.
    kernel.set_enabled(1)?;
    kernel.set_enabled(0)?;
    kernel.clear_rules()?;
    let order = scenarios(a);
    let mut cells: Vec<Cell> = order
        .iter()
        .map(|sc| Cell::new(*sc, a.plan.ops.len()))
        .collect();
    let load_start = report::loadavg();
    let t0 = Instant::now();
    for round in 0..a.rounds {
        // Alternate which of (b) and (c) goes first for a rule set.
        let mut idx: Vec<usize> = (0..order.len()).collect();
        if round % 2 == 1 {
            let base = order.len() - 2 * a.sets.len();
            for j in 0..a.sets.len() {
                idx.swap(base + 2 * j, base + 2 * j + 1);
            }
        }
        for i in idx {
            check_interrupted()?;
            let sc = order[i];
            let file = match sc {
                Scenario::Kernel(s) | Scenario::Vigil(s) => {
                    files.iter().find(|(x, _)| *x == s).map(|(_, f)| f.clone())
                }
                _ => None,
            };
            let cdir = dir.join(format!("r{round}-{i}"));
            let r = run_cell(a, bins, kernel, sc, file.as_deref(), &cdir)
                .with_context(|| format!("round {}: {}", round + 1, cell_name(sc)))?;
            cells[i].add(&r);
            if !a.keep {
                let _ = std::fs::remove_dir_all(&cdir);
            }
        }
        eprintln!(
            "round {}/{} done ({:.0} s)",
            round + 1,
            a.rounds,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(Report {
        args: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        plan: a.plan.clone(),
        rounds: a.rounds,
        cells,
        sets: a.sets.clone(),
        start_status,
        stig_created: stig
            .as_ref()
            .map(|s| s.created().to_vec())
            .unwrap_or_default(),
        load_start,
        load_end: report::loadavg(),
        no_audit_context: a.no_audit_context,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn cell_name(sc: Scenario) -> String {
    match sc {
        Scenario::Kernel(s) => format!("kernel audit, {}", s.name()),
        Scenario::Vigil(s) => format!("vigil, {}", s.name()),
        other => other.label(),
    }
}

/// What one cell of one round measured.
pub struct CellRun {
    pub samples: Vec<Sample>,
    /// Rules the kernel / vigil reported loaded.
    pub rules: Option<usize>,
    /// SYSCALL records of the measuring process found in the log (must be 0).
    pub own_events: Option<usize>,
    /// vigil: what `vigil ctl -s` said (hook, events seen while measuring, losses).
    pub vigil_hook: Option<String>,
    pub vigil_seen: Option<u64>,
    pub vigil_lost: Option<String>,
}

fn run_cell(
    a: &Args,
    bins: &Bins,
    kernel: &mut Kernel,
    sc: Scenario,
    rules: Option<&Path>,
    cdir: &Path,
) -> anyhow::Result<CellRun> {
    let mut r = CellRun {
        samples: Vec::new(),
        rules: None,
        own_events: None,
        vigil_hook: None,
        vigil_seen: None,
        vigil_lost: None,
    };
    match sc {
        Scenario::NoContext => {
            r.samples = spawn_without_context(a, kernel)?.run(&a.plan.ops)?;
        }
        Scenario::Disabled => {
            r.samples = spawn_plain(a, kernel)?.run(&a.plan.ops)?;
        }
        Scenario::Bare(name) => {
            let hold = BareHold::attach(bins, name)?;
            std::thread::sleep(a.settle);
            r.samples = spawn_plain(a, kernel)?.run(&a.plan.ops)?;
            drop(hold);
        }
        Scenario::Kernel(_) => {
            let rules = rules.context("rules file")?;
            let mut auditd = Auditd::start(kernel, cdir, &AuditdConf::default())?;
            let loaded = kernel.load_rules(rules);
            let measured = loaded.and_then(|n| {
                r.rules = Some(n);
                std::thread::sleep(a.settle);
                let child = MeasureChild::spawn(&a.plan)?;
                let pid = child.pid;
                Ok((child.run(&a.plan.ops)?, pid))
            });
            // Clean up whatever happened.
            let cleared = kernel.clear_rules();
            auditd.stop();
            kernel.set_enabled(0)?;
            cleared?;
            let (samples, pid) = measured?;
            r.samples = samples;
            r.own_events = Some(count_syscalls(&auditd.log, pid));
        }
        Scenario::Vigil(_) => {
            let rules = rules.context("rules file")?;
            let mut v = Vigild::start(&bins.vigil, cdir, rules, &VigilConf::default())?;
            std::thread::sleep(a.settle);
            let before = v.status()?;
            let child = spawn_plain(a, kernel)?;
            let pid = child.pid;
            r.samples = child.run(&a.plan.ops)?;
            let after = v.status()?;
            v.stop()?;
            let seen = |s: &std::collections::BTreeMap<String, String>| {
                s.get("events_seen").and_then(|x| x.parse::<u64>().ok())
            };
            r.rules = after.get("rules").and_then(|x| x.parse().ok());
            r.vigil_hook = after.get("hook_mode").cloned();
            r.vigil_seen = seen(&after)
                .zip(seen(&before))
                .map(|(x, y)| x.saturating_sub(y));
            let (lost, named) = vigild::lost(&after);
            r.vigil_lost = (lost > 0).then(|| named.join(" "));
            r.own_events = Some(count_syscalls(&v.log, pid));
        }
    }
    Ok(r)
}

/// A measuring child forked under `-a never,task` (audit disabled, no other rules): it
/// carries no audit context, so it takes none of audit's syscall work.
fn spawn_without_context(a: &Args, kernel: &mut Kernel) -> anyhow::Result<MeasureChild> {
    auditctl(&["-a".as_ref(), "task,never".as_ref()])?;
    let child = MeasureChild::spawn(&a.plan);
    kernel.clear_rules()?;
    child
}

/// The measuring child of the (a), (c) and (d) cells: in the machine's audit state, or
/// without audit context with `--no-audit-context`.
fn spawn_plain(a: &Args, kernel: &mut Kernel) -> anyhow::Result<MeasureChild> {
    if a.no_audit_context {
        spawn_without_context(a, kernel)
    } else {
        MeasureChild::spawn(&a.plan)
    }
}

/// SYSCALL records of process `pid` in an audit log.
fn count_syscalls(log: &Path, pid: u32) -> usize {
    let pat = format!(" pid={pid} ");
    std::fs::read_to_string(log).map_or(0, |t| {
        t.lines()
            .filter(|l| l.starts_with("type=SYSCALL") && l.contains(&pat))
            .count()
    })
}
