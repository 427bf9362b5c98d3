//! `cargo xtask bench [ARGS]`: runs the syscall latency harness
//! (crates/vigil-bpf/src/bin/vigil-bpf-bench) in release mode. xtask does not link vigil-bpf
//! itself, so that `cargo xtask abi` still builds when the generated files are stale.

use std::process::Command;

use anyhow::{bail, Context};

pub fn run(args: &[String]) -> anyhow::Result<()> {
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
