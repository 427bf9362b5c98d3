//! The markdown report of `bench audit-compare`: machine and method, the latency table (min
//! and median over rounds), ratios to no auditing and to kernel audit, the issue's bars with
//! the numbers behind each verdict, and per-cell diagnostics.

use std::fmt::Write as _;
use std::path::PathBuf;

use vigil_kaudit::AuditStatus;

use super::compare::{CellRun, Scenario};
use super::measure::Plan;
use super::rules::RuleSet;

/// Noise allowance of the "no more than" and "indistinguishable" bars, as a fraction of the
/// compared value: the spread of minima between repeated identical cells on this machine.
pub const NOISE: f64 = 0.03;

/// One row of the table over all rounds.
pub struct Cell {
    pub sc: Scenario,
    /// ns per op, one value per round, per op.
    ns: Vec<Vec<f64>>,
    /// Fewest calls per batch seen, per op.
    calls: Vec<u32>,
    /// Calls per batch, one value per round, per op.
    round_calls: Vec<Vec<u32>>,
    rules: Option<usize>,
    own_events: usize,
    vigil_hook: Option<String>,
    vigil_seen: Vec<u64>,
    vigil_lost: Vec<String>,
}

impl Cell {
    pub fn new(sc: Scenario, ops: usize) -> Cell {
        Cell {
            sc,
            ns: vec![Vec::new(); ops],
            calls: vec![u32::MAX; ops],
            round_calls: vec![Vec::new(); ops],
            rules: None,
            own_events: 0,
            vigil_hook: None,
            vigil_seen: Vec::new(),
            vigil_lost: Vec::new(),
        }
    }

    pub fn add(&mut self, r: &CellRun) {
        for (i, s) in r.samples.iter().enumerate() {
            if let Some(v) = self.ns.get_mut(i) {
                v.push(s.ns);
                self.calls[i] = self.calls[i].min(s.calls);
                self.round_calls[i].push(s.calls);
            }
        }
        self.rules = r.rules.or(self.rules);
        self.own_events += r.own_events.unwrap_or(0);
        if r.vigil_hook.is_some() {
            self.vigil_hook.clone_from(&r.vigil_hook);
        }
        self.vigil_seen.extend(r.vigil_seen);
        self.vigil_lost.extend(r.vigil_lost.clone());
    }

    pub fn min(&self, op: usize) -> f64 {
        self.ns[op].iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn median(&self, op: usize) -> f64 {
        let mut v = self.ns[op].clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }

    fn set(&self) -> Option<RuleSet> {
        match self.sc {
            Scenario::Kernel(s) | Scenario::Vigil(s) => Some(s),
            _ => None,
        }
    }
}

pub struct Report {
    pub args: String,
    pub plan: Plan,
    pub rounds: u32,
    pub cells: Vec<Cell>,
    pub sets: Vec<RuleSet>,
    pub start_status: AuditStatus,
    pub stig_created: Vec<PathBuf>,
    pub load_start: String,
    pub load_end: String,
    pub seconds: f64,
    /// `--no-audit-context`: the (a), (c), (d) rows measured tasks without audit context.
    pub no_audit_context: bool,
}

/// `/proc/loadavg`'s first three fields.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// "AMD EPYC, 2 vCPU, Linux 6.18.44".
pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    // SAFETY: sysconf has no memory arguments.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let uname = std::process::Command::new("uname")
        .arg("-r")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{model}, {cpus} vCPU, Linux {uname}")
}

impl Report {
    fn find(&self, sc: Scenario) -> Option<&Cell> {
        self.cells.iter().find(|c| c.sc == sc)
    }

    fn ops_header(&self) -> (String, String) {
        let names: Vec<&str> = self.plan.ops.iter().map(|o| o.label()).collect();
        (
            format!("| {} |", names.join(" | ")),
            "---:|".repeat(names.len()),
        )
    }

    pub fn markdown(&self) -> String {
        let mut t = String::new();
        self.method(&mut t);
        self.latency_table(&mut t);
        self.ratio_tables(&mut t);
        self.bars(&mut t);
        self.diagnostics(&mut t);
        t
    }

    /// Every measurement: scenario, rules, op, round, ns per op, calls per batch.
    pub fn raw_tsv(&self) -> String {
        let mut t = String::from("scenario\trules\top\tround\tns\tcalls\n");
        for c in &self.cells {
            let set = c.set().map_or_else(|| "-".to_string(), RuleSet::name);
            for (i, op) in self.plan.ops.iter().enumerate() {
                for (r, ns) in c.ns[i].iter().enumerate() {
                    let calls = c.round_calls[i].get(r).copied().unwrap_or(0);
                    let _ = writeln!(
                        t,
                        "{}\t{set}\t{}\t{}\t{ns:.1}\t{calls}",
                        c.sc.tag(),
                        op.label(),
                        r + 1
                    );
                }
            }
        }
        t
    }

    fn method(&self, t: &mut String) {
        let p = &self.plan;
        let s = &self.start_status;
        let _ = writeln!(
            t,
            "Command: `cargo run --release -p xtask -- {}`",
            self.args
        );
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "- Machine: {}; load average {} at the start, {} at the end; run took {:.0} s.",
            machine(),
            self.load_start,
            self.load_end,
            self.seconds
        );
        let _ = writeln!(
            t,
            "- Kernel audit before the run: enabled={} pid={} backlog_limit={} rules=0. Kernel audit \
             has been enabled since boot (the harness enables it once before round 1, so all rounds \
             see the same state): every task forked since then carries audit's syscall-entry/exit \
             work unless a `-a never,task` rule matched at its fork (row a0).",
            s.enabled, s.pid, s.backlog_limit
        );
        if self.no_audit_context {
            let _ = writeln!(
                t,
                "- `--no-audit-context`: the measuring processes of the (a), (c) and (d) rows were \
                 also forked under `-a never,task` (no audit context), as on a machine where \
                 kernel audit was never enabled; (b) rows necessarily have one."
            );
        }
        if self.sets.contains(&RuleSet::Stig) {
            let created = if self.stig_created.is_empty() {
                "none had to be created".to_string()
            } else {
                let v: Vec<String> = self
                    .stig_created
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                format!("created for the run and removed after: {}", v.join(", "))
            };
            let _ = writeln!(t, "- STIG set: Debian's file unchanged; its `dir=` rules need their directories ({created}).");
        }
        let _ = writeln!(t, "- vigil: {}.", revision());
        let _ = writeln!(
            t,
            "- Rules column: `N other` = N rules `-a always,exit -F arch=b64 -S <a syscall the \
             benchmark never makes> -F auid>=1000 -F auid!=unset -k kI` (kind (c)); `N named` = N \
             rules `-a always,exit -F arch=b64 -S getppid,read,write,stat,fstat,openat,close -F \
             uid=<54321+I> -k kI` (kind (d): they name the measured syscalls and never match, the \
             measuring process is uid 0); STIG = Debian's 30-stig.rules (rules the kernel listed)."
        );
        let _ = writeln!(
            t,
            "- Method: {} interleaved rounds; in each round every scenario is set up (daemon started, \
             rules loaded, hook attached), measured by a freshly forked process pinned to CPU {}{}, \
             and torn down. Per op: the best of {} batches; a batch is up to {} calls, fewer when \
             the op is slow (batches of about {} µs). Ops are raw syscalls; open+close is openat + \
             close. Cells: minimum over rounds (median in parentheses), ns per op.",
            self.rounds,
            p.cpu,
            if p.fifo { " at SCHED_FIFO 50" } else { "" },
            p.batches,
            p.max_calls,
            p.batch_us
        );
        let _ = writeln!(t);
    }

    fn latency_table(&self, t: &mut String) {
        let (h, sep) = self.ops_header();
        let _ = writeln!(t, "| scenario | rules {h}");
        let _ = writeln!(t, "|---|---|{sep}");
        for c in &self.cells {
            let rules = match c.set() {
                Some(RuleSet::Stig) => format!("STIG ({})", c.rules.unwrap_or(0)),
                Some(s) => s.short(),
                None => "-".into(),
            };
            let cells: Vec<String> = (0..self.plan.ops.len())
                .map(|i| format!("{:.0} ({:.0})", c.min(i), c.median(i)))
                .collect();
            let _ = writeln!(
                t,
                "| {} | {} | {} |",
                c.sc.label(),
                rules,
                cells.join(" | ")
            );
        }
        let _ = writeln!(t);
    }

    fn ratio_tables(&self, t: &mut String) {
        let Some(a) = self.find(Scenario::Disabled) else {
            return;
        };
        let (h, sep) = self.ops_header();
        let _ = writeln!(t, "Ratios of the minima: kernel audit (b) ÷ no auditing (a) / vigil (c) ÷ (a) / vigil (c) ÷ kernel audit (b)");
        let _ = writeln!(t);
        let _ = writeln!(t, "| rules {h}");
        let _ = writeln!(t, "|---|{sep}");
        for s in &self.sets {
            let (Some(b), Some(c)) = (
                self.find(Scenario::Kernel(*s)),
                self.find(Scenario::Vigil(*s)),
            ) else {
                continue;
            };
            let cells: Vec<String> = (0..self.plan.ops.len())
                .map(|i| {
                    format!(
                        "{:.2} / {:.2} / **{:.2}**",
                        b.min(i) / a.min(i),
                        c.min(i) / a.min(i),
                        c.min(i) / b.min(i)
                    )
                })
                .collect();
            let _ = writeln!(t, "| {} | {} |", s.label(), cells.join(" | "));
        }
        for d in ["bare-raw", "bare-btf"] {
            if let Some(dc) = self.find(Scenario::Bare(d)) {
                let cells: Vec<String> = (0..self.plan.ops.len())
                    .map(|i| format!("floor {:.2}", dc.min(i) / a.min(i)))
                    .collect();
                let _ = writeln!(t, "| (d) {d} ÷ (a) | {} |", cells.join(" | "));
            }
        }
        let _ = writeln!(t);
    }

    fn bars(&self, t: &mut String) {
        let n = self.plan.ops.len();
        let ops: Vec<&str> = self.plan.ops.iter().map(|o| o.label()).collect();
        let _ = writeln!(t, "Bars (computed from the minima; noise allowance {:.0}% where a bar says \"no more than\" or \"indistinguishable\"):", NOISE * 100.0);
        let _ = writeln!(t);
        // 1. Flat.
        let flat = |big: RuleSet, small: RuleSet| -> Option<(bool, String)> {
            let x = self.find(Scenario::Vigil(big))?;
            let y = self.find(Scenario::Vigil(small))?;
            let pcts: Vec<f64> = (0..n)
                .map(|i| (x.min(i) / y.min(i) - 1.0) * 100.0)
                .collect();
            let ok = pcts.iter().all(|p| *p <= 5.0);
            let detail: Vec<String> = ops
                .iter()
                .zip(&pcts)
                .map(|(o, p)| format!("{o} {p:+.1}%"))
                .collect();
            Some((ok, detail.join(", ")))
        };
        if let Some((ok, d)) = flat(RuleSet::Other(1000), RuleSet::Other(10)) {
            let _ = writeln!(
                t,
                "1. **Flat** (vigil at 1,000 rules within 5% of vigil at 10): **{}**: {d}.",
                verdict(ok)
            );
        }
        if let Some((ok, d)) = flat(RuleSet::Named(160), RuleSet::Named(10)) {
            let _ = writeln!(
                t,
                "   Same test for rules naming the measured syscalls, 160 vs 10: {}: {d}.",
                verdict(ok)
            );
        }
        // 2. Overhead no more than the floor of the hooks attached.
        if let Some(a) = self.find(Scenario::Disabled) {
            let mut fails = Vec::new();
            let mut checked = 0;
            for c in self
                .cells
                .iter()
                .filter(|c| matches!(c.sc, Scenario::Vigil(_)))
            {
                let hook = c.vigil_hook.clone().unwrap_or_default();
                let floor = if hook.starts_with("RawTp") {
                    self.find(Scenario::Bare("bare-raw"))
                } else if hook.starts_with("TpBtf") {
                    self.find(Scenario::Bare("bare-btf"))
                } else {
                    None
                };
                for (i, op) in ops.iter().enumerate() {
                    let (f, fname) = floor.map_or((a.min(i), "(a)"), |d| (d.min(i), "floor"));
                    checked += 1;
                    if c.min(i) > f * (1.0 + NOISE) {
                        fails.push(format!(
                            "{} {}: +{:.0} ns over (a) vs {fname} +{:.0}",
                            c.set().map(RuleSet::name).unwrap_or_default(),
                            op,
                            c.min(i) - a.min(i),
                            f - a.min(i)
                        ));
                    }
                }
            }
            let _ = writeln!(
                t,
                "2. **Overhead no more than the floor of the hooks attached** (vigil's minimum ≤ the bare hook's of the same kind, or ≤ (a) when vigil attached nothing): **{}** ({} of {checked} cells over){}",
                verdict(fails.is_empty()),
                fails.len(),
                if fails.is_empty() { ".".to_string() } else { format!(": {}.", fails.join("; ")) }
            );
            // 3. Zero rules.
            if let Some(c0) = self.find(Scenario::Vigil(RuleSet::Other(0))) {
                let pcts: Vec<f64> = (0..n)
                    .map(|i| (c0.min(i) / a.min(i) - 1.0) * 100.0)
                    .collect();
                let ok = pcts.iter().all(|p| p.abs() <= NOISE * 100.0);
                let detail: Vec<String> = ops
                    .iter()
                    .zip(&pcts)
                    .map(|(o, p)| format!("{o} {p:+.1}%"))
                    .collect();
                let _ = writeln!(
                    t,
                    "3. **Zero rules indistinguishable from no auditing** (hook: {}): **{}**: {}.",
                    c0.vigil_hook.as_deref().unwrap_or("?"),
                    verdict(ok),
                    detail.join(", ")
                );
            }
        }
        // 4. Below kernel audit.
        let mut fails = Vec::new();
        let mut checked = 0;
        for s in self.sets.iter().filter(|s| **s != RuleSet::Other(0)) {
            let (Some(b), Some(c)) = (
                self.find(Scenario::Kernel(*s)),
                self.find(Scenario::Vigil(*s)),
            ) else {
                continue;
            };
            for (i, op) in ops.iter().enumerate() {
                checked += 1;
                if c.min(i) >= b.min(i) {
                    fails.push(format!(
                        "{} {}: vigil {:.0} vs kernel {:.0}",
                        s.name(),
                        op,
                        c.min(i),
                        b.min(i)
                    ));
                }
            }
        }
        let _ = writeln!(
            t,
            "4. **Below kernel audit at every rule count from 10 up and for STIG, every op**: **{}** ({} of {checked} cells not below){}",
            verdict(fails.is_empty()),
            fails.len(),
            if fails.is_empty() { ".".to_string() } else { format!(": {}.", fails.join("; ")) }
        );
        let _ = writeln!(t);
    }

    fn diagnostics(&self, t: &mut String) {
        let _ = writeln!(t, "Per-cell notes:");
        let _ = writeln!(t);
        for c in &self.cells {
            let mut notes = Vec::new();
            let short: Vec<String> = self
                .plan
                .ops
                .iter()
                .zip(&c.calls)
                .filter(|(_, n)| **n < self.plan.max_calls)
                .map(|(o, n)| format!("{} {n}", o.label()))
                .collect();
            if !short.is_empty() {
                notes.push(format!("calls per batch: {}", short.join(", ")));
            }
            if let Some(h) = &c.vigil_hook {
                notes.push(format!("hook {h}"));
            }
            if !c.vigil_seen.is_empty() {
                let max = c.vigil_seen.iter().max().copied().unwrap_or(0);
                notes.push(format!(
                    "events sent to user space per measuring run: up to {max}"
                ));
            }
            if !c.vigil_lost.is_empty() {
                notes.push(format!("losses: {}", c.vigil_lost.join("; ")));
            }
            if matches!(c.sc, Scenario::Kernel(_) | Scenario::Vigil(_)) {
                notes.push(format!(
                    "SYSCALL records of the measuring process: {}",
                    c.own_events
                ));
            }
            if notes.is_empty() {
                continue;
            }
            let set = c
                .set()
                .map(|s| format!(", {}", s.name()))
                .unwrap_or_default();
            let _ = writeln!(t, "- {}{set}: {}", c.sc.label(), notes.join("; "));
        }
    }
}

/// The commit measured, and whether the working tree differed from it.
fn revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(crate::workspace_root())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "revision unknown (no git)".into();
    };
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).map_or(0, |s| s.lines().count());
    if dirty == 0 {
        format!("built from commit {head}")
    } else {
        format!("built from commit {head} plus uncommitted changes in {dirty} files")
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "holds"
    } else {
        "does not hold"
    }
}
