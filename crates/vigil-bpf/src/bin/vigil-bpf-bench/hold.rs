//! `--hold SCENARIO`: attach what a scenario needs and keep it attached until standard input
//! closes. Other harnesses (xtask's `bench audit-compare`) measure in their own processes
//! while this one holds the hook; the hooks are BPF links owned by this process, so they go
//! away with it even if it is killed.

use std::io::{Read, Write};

use super::scenario::{Bench, Scenario};
use super::Res;
use vigil_microbench::Op;

pub fn run(args: &[String]) -> Res<()> {
    let [name] = args else {
        return Err("usage: vigil-bpf-bench --hold SCENARIO (closes on EOF of stdin)".into());
    };
    let sc = Scenario::parse(name).ok_or_else(|| format!("unknown scenario {name:?}"))?;
    let mut bench = Bench::default();
    bench
        .setup(sc, &Op::ALL)
        .map_err(|e| format!("scenario {name}: {e}"))?;
    let mut out = std::io::stdout();
    writeln!(out, "attached {name}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    // Block until the parent closes our stdin (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    bench.teardown()
}
