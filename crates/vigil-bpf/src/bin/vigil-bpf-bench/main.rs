//! Syscall latency, lmbench style, under several hook scenarios (`cargo xtask bench` runs
//! this in release mode).
//!
//! Run it on an otherwise idle machine, as root (BPF scenarios):
//! `cargo xtask bench [--rounds 10] [--batches 21] [--calls 20000]
//!  [--cpu 1] [--fifo] [--ops getppid,read,...] [--scenarios none,bare-raw,...]`.
//! Each cell is the best batch of `calls` calls; rounds interleave the scenarios so that
//! machine noise hits them alike; the table gives the minimum and the median over rounds.

mod hold;
mod scenario;

/// Errors are messages: this is a tool run by hand.
pub type Res<T> = Result<T, String>;

use scenario::{Bench, Scenario};
use vigil_microbench::{Fixture, Op};

struct Args {
    rounds: u32,
    batches: u32,
    calls: u32,
    cpu: usize,
    fifo: bool,
    hook: vigil_bpf::Hook,
    ops: Vec<Op>,
    scenarios: Vec<Scenario>,
}

fn parse_args(args: &[String]) -> Res<Args> {
    let mut a = Args {
        rounds: 10,
        batches: 21,
        calls: 20_000,
        cpu: 1,
        fifo: false,
        hook: vigil_bpf::Hook::default(),
        ops: Op::ALL.to_vec(),
        scenarios: Scenario::DEFAULT.to_vec(),
    };
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--rounds" => a.rounds = num(val()?)?,
            "--batches" => a.batches = num(val()?)?,
            "--calls" => a.calls = num(val()?)?,
            "--cpu" => a.cpu = num(val()?)?,
            "--fifo" => a.fifo = true,
            "--hook" => {
                a.hook = match val()?.as_str() {
                    "raw" => vigil_bpf::Hook::RawTp,
                    "btf" => vigil_bpf::Hook::TpBtf,
                    h => return Err(format!("--hook raw|btf, not {h:?}")),
                };
            }
            "--ops" => {
                a.ops = val()?
                    .split(',')
                    .map(|s| Op::parse(s).ok_or_else(|| format!("unknown op {s:?}")))
                    .collect::<Res<_>>()?;
            }
            "--scenarios" => {
                a.scenarios = val()?
                    .split(',')
                    .map(|s| Scenario::parse(s).ok_or_else(|| format!("unknown scenario {s:?}")))
                    .collect::<Res<_>>()?;
            }
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other:?}\n{HELP}")),
        }
    }
    if a.rounds == 0 || a.batches == 0 || a.calls == 0 {
        return Err("--rounds, --batches and --calls must be positive".into());
    }
    Ok(a)
}

const HELP: &str = "usage: cargo xtask bench [--rounds N] [--batches N] \
[--calls N] [--cpu N] [--fifo] [--hook raw|btf] [--ops getppid,read,write,stat,fstat,open] \
[--scenarios none,bare-raw,bare-btf,vigil-other,vigil-named,vigil-named-btf,rx-other-N,rx-named-N,\
rx-list-N]\n--hook: the hook of the rx-* scenarios (default: the loader's default).";

fn num<T: std::str::FromStr>(s: &str) -> Res<T> {
    s.parse().map_err(|_| format!("not a number: {s:?}"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--hold") {
        return hold::run(&args[1..]);
    }
    let a = parse_args(&args)?;
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; use `cargo xtask bench` (release)");
    }
    vigil_microbench::pin(a.cpu, a.fifo).map_err(|e| e.to_string())?;
    let fx = Fixture::new().map_err(|e| format!("bench fixture: {e}"))?;
    // results[scenario][op] = one value per round
    let mut results = vec![vec![Vec::new(); a.ops.len()]; a.scenarios.len()];
    let mut bench = Bench::default();
    bench.hook = a.hook;
    for round in 0..a.rounds {
        for (si, sc) in a.scenarios.iter().enumerate() {
            bench
                .setup(*sc, &a.ops)
                .map_err(|e| format!("scenario {}: {e}", sc.name()))?;
            for (oi, op) in a.ops.iter().enumerate() {
                results[si][oi].push(fx.best_of(*op, a.batches, a.calls));
            }
            bench.teardown()?;
        }
        eprintln!("round {}/{} done", round + 1, a.rounds);
    }
    let uname = std::process::Command::new("uname").arg("-r").output().ok();
    println!(
        "kernel {}, cpu {} of {}, {} rounds x best of {} batches x {} calls{}, rx hook {:?}; \
         ns per op",
        uname.map_or_else(String::new, |o| String::from_utf8_lossy(&o.stdout)
            .trim()
            .to_string()),
        a.cpu,
        // SAFETY: sysconf has no memory arguments.
        unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) },
        a.rounds,
        a.batches,
        a.calls,
        if a.fifo { ", SCHED_FIFO" } else { "" },
        a.hook
    );
    println!();
    let header: Vec<&str> = a.ops.iter().map(|o| o.name()).collect();
    println!("| scenario | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(header.len()));
    for (si, sc) in a.scenarios.iter().enumerate() {
        let cells: Vec<String> = results[si]
            .iter_mut()
            .map(|v| {
                let min = v.iter().copied().fold(f64::INFINITY, f64::min);
                format!("{min:.0} ({:.0})", median(v))
            })
            .collect();
        println!("| {} | {} |", sc.name(), cells.join(" | "));
    }
    println!();
    println!("cells: minimum over rounds (median in parentheses)");
    for sc in &a.scenarios {
        println!("- {}: {}", sc.name(), sc.describe());
    }
    Ok(())
}
