//! Syscall latency harness (placeholder until the harness lands).
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("bench: not yet implemented")
}
