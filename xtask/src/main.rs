//! Developer tasks: code generation, BPF object refresh, benchmarks.
//!
//! - `cargo xtask abi [--check]`: regenerate the Rust ABI mirror (crates/vigil-abi) and the
//!   BTF anchor header from crates/vigil-bpf/bpf/include/vigil_abi.h.
//! - `cargo xtask bpf [--check]`: rebuild the committed BPF object with clang, or check that
//!   it is up to date.
//! - `cargo xtask bench [...]`: syscall latency harness (see `cargo xtask bench --help`).

mod abi;
mod bench;
mod bpf;

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match task.as_str() {
        "abi" => abi::run(&rest),
        "bpf" => bpf::run(&rest),
        "bench" => bench::run(&rest),
        _ => anyhow::bail!("unknown xtask {task:?}; known: abi, bpf, bench"),
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}
