//! The measuring child of `bench audit-compare`: a fresh process per cell (so it is created
//! under the audit state of that cell, as a real workload started then would be), pinned to
//! one CPU, timing each operation lmbench-style: the best of `batches` batches, ns per op.
//!
//! Protocol on stdio: the child prints `ready PID`, waits for one line on stdin, measures,
//! prints one `OP NS CALLS` line per operation, then `done`.

use std::io::{BufRead, Write};

use anyhow::{bail, Context};
use vigil_microbench::Fixture;

// The ops, their fixture and pinning are shared with vigil-bpf-bench, so both time the
// same calls; here an op is named by its label (`open+close`) on the wire and in reports.
pub use vigil_microbench::Op;

/// How a child measures.
#[derive(Debug, Clone)]
pub struct Plan {
    pub cpu: usize,
    pub fifo: bool,
    pub batches: u32,
    /// Wanted duration of one batch; the call count follows from a short probe, so slow
    /// cells (kernel audit with 1,000 rules) stay bounded in time.
    pub batch_us: u32,
    /// Upper bound on calls per batch (lmbench-style 20,000).
    pub max_calls: u32,
    pub ops: Vec<Op>,
}

impl Plan {
    /// The child's command-line arguments (after `bench measure-child`).
    pub fn to_args(&self) -> Vec<String> {
        let ops: Vec<&str> = self.ops.iter().map(|o| o.label()).collect();
        let mut v = vec![
            "--cpu".into(),
            self.cpu.to_string(),
            "--batches".into(),
            self.batches.to_string(),
            "--batch-us".into(),
            self.batch_us.to_string(),
            "--calls".into(),
            self.max_calls.to_string(),
            "--ops".into(),
            ops.join(","),
        ];
        if self.fifo {
            v.push("--fifo".into());
        }
        v
    }

    fn from_args(args: &[String]) -> anyhow::Result<Plan> {
        let mut p = Plan {
            cpu: 1,
            fifo: false,
            batches: 21,
            batch_us: 3000,
            max_calls: 20_000,
            ops: Op::ALL.to_vec(),
        };
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let mut val = || it.next().with_context(|| format!("{k} needs a value"));
            match k.as_str() {
                "--cpu" => p.cpu = val()?.parse()?,
                "--batches" => p.batches = val()?.parse()?,
                "--batch-us" => p.batch_us = val()?.parse()?,
                "--calls" => p.max_calls = val()?.parse()?,
                "--fifo" => p.fifo = true,
                "--ops" => p.ops = parse_ops(val()?)?,
                other => bail!("measure-child: unknown option {other:?}"),
            }
        }
        Ok(p)
    }
}

pub fn parse_ops(s: &str) -> anyhow::Result<Vec<Op>> {
    s.split(',')
        .map(|o| Op::parse(o).with_context(|| format!("unknown op {o:?}")))
        .collect()
}

/// One op's result.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub ns: f64,
    pub calls: u32,
}

/// Entry point of `bench measure-child`.
pub fn child(args: &[String]) -> anyhow::Result<()> {
    let plan = Plan::from_args(args)?;
    let fx = Fixture::new().context("bench fixture")?;
    vigil_microbench::pin(plan.cpu, plan.fifo)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {}", std::process::id())?;
    out.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != "go" {
        bail!("measure-child: expected `go`, got {line:?}");
    }
    for op in &plan.ops {
        let s = measure(&fx, *op, &plan);
        writeln!(out, "{} {:.3} {}", op.label(), s.ns, s.calls)?;
    }
    writeln!(out, "done")?;
    out.flush()?;
    Ok(())
}

/// Best of `plan.batches` batches; the batch size aims at `plan.batch_us`.
fn measure(fx: &Fixture, op: Op, plan: &Plan) -> Sample {
    let probe = fx.batch(op, 50).min(fx.batch(op, 50));
    let want = f64::from(plan.batch_us) * 1000.0 / probe.max(1.0);
    let calls = (want as u32).clamp(50, plan.max_calls.max(50));
    Sample {
        ns: fx.best_of(op, plan.batches, calls),
        calls,
    }
}
