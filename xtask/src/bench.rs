//! `cargo xtask bench [ARGS]`: runs the syscall latency harness
//! (crates/vigil-bpf/src/bin/vigil-bpf-bench) in release mode. xtask does not link vigil-bpf
//! itself, so that `cargo xtask abi` still builds when the generated files are stale.
//!
//! `bench audit-compare` (vigil vs kernel audit, docs/BENCHMARKS.md) and `bench flood`
//! (sustained event rate) run here, driving the binaries as separate processes.

// Counts and rates here stay far below 2^52; one-letter names are the tables' (a)..(d).
#[allow(clippy::cast_precision_loss, clippy::many_single_char_names)]
mod compare;
#[allow(clippy::cast_precision_loss, clippy::many_single_char_names)]
mod flood;
#[allow(clippy::cast_precision_loss, clippy::many_single_char_names)]
mod floodgen;
mod kernel;
mod measure;
mod procs;
#[allow(clippy::cast_precision_loss, clippy::many_single_char_names)]
mod report;
mod rules;
mod vigild;

use std::process::Command;

use anyhow::{bail, Context};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("audit-compare") => return compare::run(&args[1..]),
        Some("flood") => return flood::run(&args[1..]),
        // Children of the two above (re-executions of this binary).
        Some("measure-child") => return measure::child(&args[1..]),
        Some("flood-child") => return flood::child(&args[1..]),
        _ => {}
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .current_dir(crate::workspace_root())
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "vigil-bpf",
            "--bin",
            "vigil-bpf-bench",
            "--",
        ])
        .args(args)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("vigil-bpf-bench failed ({status})");
    }
    Ok(())
}
