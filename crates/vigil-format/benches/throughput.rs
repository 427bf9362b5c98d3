//! Record format throughput (not a test): events/s on one core for writing RAW, ENRICHED and
//! JSON, and for reading them back. Event: SYSCALL + CWD + 2 PATH + PROCTITLE.
//! Rates are per CPU second of the measuring thread (`CLOCK_THREAD_CPUTIME_ID`), so other load
//! on the machine does not lower them much (caches are still shared).
//! Run: `cargo bench -p vigil-format` (results in docs/BENCHMARKS.md).
#![allow(clippy::cast_precision_loss)] // rates are printed, not computed on

use std::hint::black_box;
use std::time::Duration;

use vigil_format::json::{JsonReader, JsonWriter};
use vigil_format::raw::{DevNum, NameType};
use vigil_format::{
    build_event, Bytes, Event, Identity, RawEvent, RawKind, RawPath, RawTask, SystemResolver,
    TextMode, TextReader, TextWriter,
};

fn sample_raw() -> RawEvent {
    let path = |name: &str, inode, nametype| RawPath {
        name: Some(Bytes::from(name)),
        inode: Some(inode),
        dev: DevNum {
            major: 254,
            minor: 1,
        },
        mode: 0o100_644,
        ouid: 0,
        ogid: 0,
        rdev: DevNum::default(),
        nametype,
        obj: None,
        caps: None,
        fstype: 0,
    };
    RawEvent {
        ts_ns: 1_700_000_000_123_456_789,
        kind: RawKind::Syscall,
        arch: 0xc000_003e,
        nr: 257,
        args: [0xffff_ff9c, 0x7ffd_5a3b_1e50, 0x241, 0x1b6],
        exit: 3,
        task: RawTask {
            pid: 4242,
            tid: 4242,
            ppid: 4000,
            uid: 1000,
            euid: 1000,
            suid: 1000,
            fsuid: 1000,
            gid: 1000,
            egid: 1000,
            sgid: 1000,
            fsgid: 1000,
            auid: 1000,
            ses: 3,
            tty: Some("pts0".into()),
            comm: Bytes::from("touch"),
            exe: Some(Bytes::from("/usr/bin/touch")),
            subj: None,
            contid: None,
            pers: 0,
            groups: Vec::new(),
        },
        cwd: Some(Bytes::from("/home/alice/project")),
        paths: vec![
            path("/home/alice/project/", 1_311_233, NameType::Parent),
            path(
                "/home/alice/project/new file.txt",
                1_311_234,
                NameType::Create,
            ),
        ],
        proctitle: Some(Bytes::from("touch\0new file.txt")),
        keys: vec![Bytes::from("project-files")],
        ..RawEvent::default()
    }
}

/// CPU time of this thread: the rate per core, whatever else runs on the machine.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` for about `target` of CPU time; best of 3 rounds, in calls per CPU second.
fn measure(target: Duration, mut f: impl FnMut(u64)) -> f64 {
    let mut best = 0f64;
    for _ in 0..3 {
        let start = cpu_now();
        let mut n = 0u64;
        while cpu_now().saturating_sub(start) < target {
            for _ in 0..1000 {
                f(n);
                n += 1;
            }
        }
        best = best.max(n as f64 / cpu_now().saturating_sub(start).as_secs_f64());
    }
    best
}

fn events(ev: &Event, n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut e = ev.clone();
            e.id = Identity::new(1_700_000_000 + i / 1000, (i % 1000) as u16, i + 1);
            e
        })
        .collect()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it: then
    // only a quick smoke run, so the test suite stays fast.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let ms = if smoke {
        5
    } else {
        std::env::var("VIGIL_BENCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1500)
    };
    let target = Duration::from_millis(ms);
    let n_events = if smoke { 2_000 } else { 200_000 };
    let raw = sample_raw();
    let base = build_event(&raw, Identity::new(1_700_000_000, 123, 1), &raw.keys);
    let mut rows: Vec<(String, f64, usize)> = Vec::new();
    // VIGIL_BENCH_ONLY=text runs only the operations whose name contains it (for profiling).
    let only = std::env::var("VIGIL_BENCH_ONLY").ok();
    let want = |n: &str| only.as_deref().is_none_or(|o| n.contains(o));

    if want("build") {
        let r = measure(target, |i| {
            black_box(build_event(
                black_box(&raw),
                Identity::new(1_700_000_000, 123, i),
                &raw.keys,
            ));
        });
        rows.push(("build RawEvent -> Event".into(), r, 0));
    }

    let mut buf = Vec::with_capacity(1 << 20);
    for (name, mode) in [
        ("write RAW", TextMode::Raw),
        ("write ENRICHED", TextMode::Enriched),
    ] {
        if !want(name) {
            continue;
        }
        let mut w = TextWriter::new(mode, SystemResolver::new());
        let mut ev = base.clone();
        let mut bytes = 0;
        let r = measure(target, |i| {
            ev.id.serial = i;
            if buf.len() > 1 << 20 {
                buf.clear();
            }
            let before = buf.len();
            w.write_event(&ev, &mut buf);
            bytes = buf.len() - before;
        });
        rows.push((name.into(), r, bytes));
    }
    for (name, mode) in [
        ("write JSON", TextMode::Raw),
        ("write JSON enriched", TextMode::Enriched),
    ] {
        if !want(name) {
            continue;
        }
        let mut w = JsonWriter::new(mode, SystemResolver::new());
        let mut ev = base.clone();
        let mut bytes = 0;
        let r = measure(target, |i| {
            ev.id.serial = i;
            if buf.len() > 1 << 20 {
                buf.clear();
            }
            let before = buf.len();
            w.write_event(&ev, &mut buf);
            bytes = buf.len() - before;
        });
        rows.push((name.into(), r, bytes));
    }

    // Reading: a log of distinct events, read start to end, best of 3.
    let evs = events(&base, n_events);
    for (name, mode, json) in [
        ("read RAW", TextMode::Raw, false),
        ("read ENRICHED", TextMode::Enriched, false),
        ("read JSON", TextMode::Raw, true),
    ] {
        if !want(name) {
            continue;
        }
        let mut log = Vec::new();
        if json {
            let mut w = JsonWriter::new(mode, SystemResolver::new());
            for e in &evs {
                w.write_event(e, &mut log);
            }
        } else {
            let mut w = TextWriter::new(mode, SystemResolver::new());
            for e in &evs {
                w.write_event(e, &mut log);
            }
        }
        let mut best = 0f64;
        for _ in 0..3 {
            let start = cpu_now();
            let n = if json {
                JsonReader::new(log.as_slice(), "bench").flatten().count()
            } else {
                TextReader::new(log.as_slice(), "bench").flatten().count()
            };
            assert_eq!(n, evs.len(), "{name}: events lost");
            best = best.max(n as f64 / cpu_now().saturating_sub(start).as_secs_f64());
        }
        rows.push((name.into(), best, log.len() / evs.len()));
    }

    println!(
        "{:<26} {:>14} {:>12} {:>10}",
        "operation", "events/s", "MB/s", "bytes/ev"
    );
    for (name, r, bytes) in rows {
        let mbs = if bytes > 0 {
            format!("{:.0}", r * bytes as f64 / 1e6)
        } else {
            "-".into()
        };
        println!("{name:<26} {r:>14.0} {mbs:>12} {bytes:>10}");
    }
}
