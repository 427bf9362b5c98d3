//! io_uring auditing cost (`docs/BENCHMARKS.md`, "`io_uring`"): fio's io_uring engine doing 4 KiB
//! random reads of a file on tmpfs, side by side in one run, rounds interleaved (the order
//! rotates every round):
//!   - `none`: nothing attached;
//!   - `openat`: vigil auditing io_uring OPENAT only (fio opens its file with open(2), so every
//!     READ is rejected by the opcode bitmap: the cost of having the hooks attached);
//!   - `all`: vigil auditing every op: each READ is captured, joined with its completion,
//!     judged by the compiled rules, built and written as audit text to a log on tmpfs by a
//!     consumer thread on the other CPU.
//!
//! `sudo cargo run --release -p vigil-bpf --example uring_bench -- [--rounds N] [--secs S]
//! [--iodepth D] [--size MiB] [--fio-cpu C] [--reader-cpu C]` (root, BTF, fio).

#![allow(clippy::cast_precision_loss)] // rates and ratios for a report

use std::io::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use vigil_bpf::convert::Clock;
use vigil_bpf::uring::{convert, UringConfig, UringLoader, UringOptions, UringOutput};
use vigil_format::model::Identity;
use vigil_format::{TextMode, TextWriter};

struct Args {
    /// Also report each program's average run time (BPF stats on while running).
    prog_stats: bool,
    rounds: usize,
    secs: u32,
    iodepth: u32,
    size_mib: u32,
    fio_cpu: usize,
    reader_cpu: usize,
}

fn args() -> Args {
    let mut a = Args {
        prog_stats: false,
        rounds: 5,
        secs: 5,
        iodepth: 32,
        size_mib: 256,
        fio_cpu: 0,
        reader_cpu: 1,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        if v[i] == "--prog-stats" {
            a.prog_stats = true;
            i += 1;
            continue;
        }
        assert!(i + 1 < v.len(), "{} needs a value", v[i]);
        let n = |s: &str| {
            s.parse::<usize>()
                .unwrap_or_else(|_| panic!("{}: not a number: {s}", v[i]))
        };
        match v[i].as_str() {
            "--rounds" => a.rounds = n(&v[i + 1]),
            "--secs" => a.secs = n(&v[i + 1]) as u32,
            "--iodepth" => a.iodepth = n(&v[i + 1]) as u32,
            "--size" => a.size_mib = n(&v[i + 1]) as u32,
            "--fio-cpu" => a.fio_cpu = n(&v[i + 1]),
            "--reader-cpu" => a.reader_cpu = n(&v[i + 1]),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    a
}

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set);
    }
}

/// fio's read IOPS for one run.
fn fio(a: &Args, file: &str) -> f64 {
    let out = Command::new("fio")
        .args([
            "--name=bench",
            "--ioengine=io_uring",
            "--rw=randread",
            "--bs=4k",
            "--time_based",
            "--output-format=json",
        ])
        .arg(format!("--filename={file}"))
        .arg(format!("--size={}M", a.size_mib))
        .arg(format!("--iodepth={}", a.iodepth))
        .arg(format!("--runtime={}", a.secs))
        .arg(format!("--cpus_allowed={}", a.fio_cpu))
        .output()
        .expect("run fio");
    assert!(
        out.status.success(),
        "fio: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fio json");
    v["jobs"][0]["read"]["iops"].as_f64().expect("iops")
}

/// (name, run count, run time ns) of the programs `ids`, from `bpftool -j prog show`.
fn prog_stats(ids: &[u32]) -> Vec<(String, u64, u64)> {
    let Ok(out) = Command::new("bpftool")
        .args(["-j", "prog", "show"])
        .output()
    else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .filter(|p| {
                    p["id"]
                        .as_u64()
                        .is_some_and(|id| ids.contains(&(id as u32)))
                })
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("?").to_string(),
                        p["run_cnt"].as_u64().unwrap_or(0),
                        p["run_time_ns"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default, Clone, Copy)]
struct Written {
    events: u64,
    bytes: u64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir_in("/dev/shm").expect("tmpfs dir");
    let file = dir.path().join("fio.dat");
    let file_s = file.to_str().unwrap().to_string();
    // Lay the file out once (plain writes), outside the measurement.
    {
        let mut f = std::fs::File::create(&file).unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        for _ in 0..a.size_mib {
            f.write_all(&chunk).unwrap();
        }
    }
    let log = dir.path().join("audit.log");
    let mut loader = UringLoader::load(&UringOptions::default()).expect("load (root, BTF)");
    let mut reader = loader.take_reader().unwrap().unwrap();
    let rules = vigil_rules::parse_str("-a always,io_uring -S all -k bench\n", "bench.rules")
        .expect("rules")
        .rules;
    let compiled = vigil_rules::compile::compile(std::slice::from_ref(&rules)).expect("compile");
    let all_ops = vigil_bpf::uring::loader::ops_of(&compiled);
    let openat = 1u64 << vigil_rules::tables::uring_op_number("openat").unwrap();

    // The consumer: decode, join, judge, build, write, on its own CPU, for the whole run.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(std::sync::Mutex::new(Written::default()));
    let consumer = {
        let stop = stop.clone();
        let written = written.clone();
        let log = log.clone();
        let cpu = a.reader_cpu;
        thread::spawn(move || {
            pin(cpu);
            let clock = Clock::now();
            let mut out =
                std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&log).unwrap());
            let mut w = TextWriter::new(TextMode::Raw, vigil_format::NoResolver);
            let mut buf = Vec::with_capacity(1 << 16);
            let mut serial = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _ = reader.wait(Some(Duration::from_millis(20)));
                let mut n = Written::default();
                reader.drain(&mut |o| {
                    if let UringOutput::Op(e) = o {
                        let Some(keys) = convert::keys_for(&compiled, &rules, &e) else {
                            return;
                        };
                        let raw = convert::to_raw(&e, &clock);
                        serial += 1;
                        let ev = vigil_format::build_event(
                            &raw,
                            Identity::from_ns(raw.ts_ns, serial),
                            &keys,
                        );
                        buf.clear();
                        w.write_event(&ev, &mut buf);
                        out.write_all(&buf).unwrap();
                        n.events += 1;
                        n.bytes += buf.len() as u64;
                    }
                });
                let mut t = written.lock().unwrap();
                t.events += n.events;
                t.bytes += n.bytes;
            }
            out.flush().unwrap();
            reader.stats()
        })
    };

    let _stats_on = a
        .prog_stats
        .then(|| aya::sys::enable_stats(aya::sys::Stats::RunTime).expect("BPF_ENABLE_STATS"));
    let ids = loader.program_ids();
    let scenarios: [(&str, u64); 3] = [("none", 0), ("openat", openat), ("all", all_ops)];
    let mut iops: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut ev_rate: Vec<f64> = Vec::new();
    let mut lost_total = 0u64;
    for round in 0..a.rounds {
        // Rotate the order each round: no scenario always follows the same one.
        for k in 0..scenarios.len() {
            let i = (k + round) % scenarios.len();
            let (name, ops) = &scenarios[i];
            loader
                .apply(&UringConfig {
                    ops: *ops,
                    rulesets: 1,
                    ..UringConfig::default()
                })
                .expect("apply");
            assert_eq!(loader.is_attached(), *ops != 0);
            let p0 = if a.prog_stats {
                prog_stats(&ids)
            } else {
                Vec::new()
            };
            let c0 = loader.counters().unwrap();
            let w0 = *written.lock().unwrap();
            let t0 = Instant::now();
            let r = fio(&a, &file_s);
            // Let the consumer catch up with what is already in the ring.
            thread::sleep(Duration::from_millis(300));
            let dt = t0.elapsed().as_secs_f64();
            let c = loader.counters().unwrap().since(&c0);
            let w1 = *written.lock().unwrap();
            let events = w1.events - w0.events;
            lost_total += c.lost();
            iops[i].push(r);
            if *name == "all" {
                ev_rate.push(events as f64 / dt);
            }
            for (pn, cnt, ns) in if a.prog_stats {
                prog_stats(&ids)
            } else {
                Vec::new()
            } {
                let (c0, t0) = p0.iter().find(|p| p.0 == pn).map_or((0, 0), |p| (p.1, p.2));
                if cnt > c0 {
                    eprintln!(
                        "    {pn:<24} {:>10} runs {:>7.0} ns/run",
                        cnt - c0,
                        (ns - t0) as f64 / (cnt - c0) as f64
                    );
                }
            }
            eprintln!(
                "round {round} {name:>6}: {r:>10.0} IOPS  events {events:>9} ({:.0}/s)  lost {}  emitted {} completed {}",
                events as f64 / dt,
                c.lost(),
                c.get(vigil_abi::UringCounter::Emitted),
                c.get(vigil_abi::UringCounter::Completed),
            );
        }
    }
    loader.apply(&UringConfig::default()).expect("clear");
    stop.store(true, Ordering::Relaxed);
    let stats = consumer.join().expect("consumer");
    let base = median(&mut iops[0].clone());
    println!("| scenario | IOPS min | IOPS median | median vs none |");
    println!("|---|---:|---:|---:|");
    for (i, (name, _)) in scenarios.iter().enumerate() {
        let mut v = iops[i].clone();
        let m = median(&mut v);
        let min = v[0];
        println!("| {name} | {min:.0} | {m:.0} | {:.1}% |", 100.0 * m / base);
    }
    let w = *written.lock().unwrap();
    println!(
        "\nall: {:.0} events/s written (median of rounds), {} events, {} bytes of audit text; \
         lost in the kernel: {lost_total}; decode errors: {}; joined without completion: {}",
        median(&mut ev_rate.clone()),
        w.events,
        w.bytes,
        stats.decode_errors,
        stats.join.evicted + stats.join.not_joined,
    );
}
