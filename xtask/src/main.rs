//! Developer tasks: code generation, BPF object refresh, benchmarks.

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    anyhow::bail!("unknown xtask {task:?}")
}
