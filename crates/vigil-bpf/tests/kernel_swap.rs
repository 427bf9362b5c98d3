//! Privileged: counters agree with delivered events; a filter swap under load is atomic
//! (no event is judged by a set after the apply that replaced it returned).

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vigil_abi::Counter;
use vigil_bpf::FilterSet;

#[test]
fn counters_agree_with_events() {
    let Some(mut kit) = common::kit("counters_agree_with_events") else {
        return;
    };
    let before = kit.loader.counters().expect("counters");
    let (_, events) = common::run(&mut kit, &["getppid"], &["loop", "1000"]);
    let d = kit.loader.counters().expect("counters").since(&before);
    let n = events
        .iter()
        .filter(|e| e.nr == common::nr("getppid"))
        .count();
    assert_eq!(n, 1000);
    assert_eq!(d.get(Counter::Matched), 1000, "{d}");
    assert_eq!(d.get(Counter::Emitted), 1000, "{d}");
    assert_eq!(d.get(Counter::DropRingbuf), 0, "{d}");
    assert!(d.get(Counter::Candidates) >= 1000, "{d}");
    assert_eq!(
        d.get(Counter::Candidates),
        d.get(Counter::Matched) + d.get(Counter::Filtered) + d.get(Counter::Excluded),
        "every candidate is matched, filtered or excluded: {d}"
    );
    // Sequence numbers: one per emitted event.
    assert_eq!(d.events, 1000, "{d}");
}

/// Kills and reaps the child on drop (also when an assertion fails first).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tai_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is valid for the kernel to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_TAI, &raw mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn swap_under_load_is_atomic() {
    let Some(kit) = common::kit("swap_under_load_is_atomic") else {
        return;
    };
    let common::Kit {
        mut loader,
        mut reader,
        ..
    } = kit;
    // The child paces getppid until killed after the last apply: a fixed number of calls
    // (~250 ms of them) ran out before the loop did when an apply's RCU grace period took
    // longer (5-30 ms each here, more on a loaded machine), leaving fewer sets with events.
    let mut child = KillOnDrop(common::spawn(&["pace", "100000000", "20", "500"]));
    let pid = child.0.id();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let collector = std::thread::spawn(move || {
        let mut got = Vec::new();
        while !stop2.load(Ordering::Relaxed) {
            let _ = reader.wait(Some(Duration::from_millis(20)));
            reader.drain(|e| {
                if e.task.pid == pid {
                    got.push((e.tai_ns, e.rulesets));
                }
            });
        }
        reader.drain(|e| {
            if e.task.pid == pid {
                got.push((e.tai_ns, e.rulesets));
            }
        });
        got
    });
    // (time apply was called, time it returned, rulesets) for each set.
    let mut sets = Vec::new();
    let mut f = common::filter(&["getppid"], pid);
    child
        .0
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("go");
    // Apply a new set every 15 ms while the child makes syscalls (12 sets).
    for i in 0..12u64 {
        f.rulesets = 1 << i;
        let called = tai_now();
        loader.apply(&f).expect("apply");
        sets.push((called, tai_now(), f.rulesets));
        std::thread::sleep(Duration::from_millis(15));
    }
    drop(child);
    loader.apply(&FilterSet::default()).expect("clear");
    stop.store(true, Ordering::Relaxed);
    let got = collector.join().expect("collector");
    let c = loader.counters().expect("counters");
    assert_eq!(c.lost(), 0, "ring buffer overflowed: {c}");
    assert!(got.len() > 1000, "only {} events", got.len());
    let mut seen = std::collections::BTreeSet::new();
    for (tai, rs) in &got {
        let j = sets
            .iter()
            .position(|s| s.2 == *rs)
            .unwrap_or_else(|| panic!("event with unknown rulesets {rs:#x}"));
        seen.insert(j);
        assert!(
            *tai >= sets[j].0,
            "set {j} used before its apply was called"
        );
        if let Some(next) = sets.get(j + 1) {
            assert!(
                *tai <= next.1,
                "set {j} still used after set {} was applied",
                j + 1
            );
        }
    }
    assert!(seen.len() >= 6, "events under only {} sets", seen.len());
}
