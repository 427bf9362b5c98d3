//! The daemon under real kernel load (BPF source): rule changes with `vigil ctl` while a
//! flood runs (each event judged by the old or the new set, never a mix), rotation by size
//! and by SIGUSR1 with ausearch reading the rotated set, vigil's immutable mode (`-e 2`, the
//! daemon's own flag: kernel audit is never touched), and `kill -9` during a flood (the next
//! daemon on the log leaves only whole lines).

mod daemon_util;
mod support;

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::events::{ausearch_events, log_events, show, Ev};
use support::workload::{cs, run, spawn, Op};
use support::{need_kernel, pb, test_dir, unique_auid, KernelDaemon};
use vigil_testkit::unique_key;

/// An openat rule on one file for one login uid.
fn open_rule(auid: u32, file: &std::path::Path, key: &str) -> String {
    format!(
        "-a always,exit -F arch=b64 -S openat -F auid={auid} -F path={} -k {key}",
        file.display()
    )
}

/// Wall-clock milliseconds (the clock audit stamps use).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The source's and writer's loss counters summed.
fn lost(d: &KernelDaemon) -> u64 {
    d.status()
        .iter()
        .filter(|(k, _)| k.starts_with("lost_"))
        .map(|(_, v)| v.parse::<u64>().unwrap_or(0))
        .sum()
}

/// Waits until the daemon has taken `n` events of the test's rules off the ring buffer (each
/// matched, or counted lost), before a sync marker: the marker's source sync gives up when the
/// reader stalls for 2 s or after 20 s, and a loaded machine's reader can be far behind a flood.
fn wait_taken(d: &KernelDaemon, n: u64) {
    let t0 = Instant::now();
    loop {
        let matched = d.status_u64("events_matched");
        let lost = lost(d);
        if matched + lost >= n {
            return;
        }
        assert!(
            t0.elapsed() < daemon_util::PATIENCE,
            "the daemon took {matched} events and lost {lost} of {n}: {:?}",
            d.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rule_changes_under_load_judge_each_event_by_one_set() {
    const N: u32 = 60_000;
    // Floods of N opens at most (each ~36 MB of log).
    const MAX_RUNS: usize = 8;
    if !need_kernel("rule_changes_under_load_judge_each_event_by_one_set") {
        return;
    }
    let (ka, kb) = (unique_key("e2e-swap-a"), unique_key("e2e-swap-b"));
    let auid = unique_auid();
    let dir = test_dir("vigil-e2e-swap-");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let (rule_a, rule_b) = (open_rule(auid, &file, &ka), open_rule(auid, &file, &kb));
    let d = KernelDaemon::start(
        &format!("{rule_a}\n"),
        "[log]\nmax_log_file = 0\n[queue]\nq_depth = 262144\noverflow_action = \"block\"\n",
    );
    // One request swaps the rule: -R applies the whole file as one change.
    let to_b = dir.path().join("to_b.rules");
    let to_a = dir.path().join("to_a.rules");
    std::fs::write(&to_b, format!("-d{}\n{rule_b}\n", &rule_a[2..])).unwrap();
    std::fs::write(&to_a, format!("-d{}\n{rule_a}\n", &rule_b[2..])).unwrap();
    let done = AtomicBool::new(false);
    // (ms before the request, ms after the answer, the set now in force is B).
    let windows = std::sync::Mutex::new(Vec::<(u64, u64, bool)>::new());
    let runs = std::thread::scope(|s| {
        s.spawn(|| {
            let mut next_b = true;
            while !done.load(Ordering::Acquire) {
                let f = if next_b { &to_b } else { &to_a };
                let t0 = now_ms();
                d.ctl_ok(&["-R", &f.display().to_string()]);
                windows.lock().unwrap().push((t0, now_ms(), next_b));
                next_b = !next_b;
                std::thread::sleep(Duration::from_millis(30));
            }
        });
        // A fast machine can finish one flood before the rules changed twice: flood again
        // (a process of its own each time) until they have.
        let mut runs = Vec::new();
        while runs.is_empty() || (windows.lock().unwrap().len() < 3 && runs.len() < MAX_RUNS) {
            runs.push(run(vec![
                Op::SetLoginuid(auid),
                Op::OpenLoop(cs(pb(&file)), N),
            ]));
        }
        done.store(true, Ordering::Release);
        runs
    });
    for r in &runs {
        assert!(r.result(1) >= 0, "{r:?}");
    }
    let pids: Vec<u32> = runs.iter().map(|r| r.pid).collect();
    let total = u64::from(N) * runs.len() as u64;
    let windows = windows.into_inner().unwrap();
    let swaps = windows.len() as u32;
    wait_taken(&d, total);
    d.sync();
    let evs: Vec<Ev> = {
        let mut v: Vec<Ev> = log_events(&d.log)
            .into_iter()
            .filter(|e| e.is_syscall() && pids.contains(&e.pid()) && e.nr() == 257)
            .collect();
        v.sort_by_key(|e| e.0.id.serial);
        v
    };
    // Every event has exactly one of the two keys (one rule set judged it), and the keys
    // change in blocks, at most once per swap: in syscall order, A...A B...B A...A.
    let mut transitions = 0;
    let mut last: Option<bool> = None;
    for e in &evs {
        let keys = e.keys();
        assert_eq!(
            keys.len(),
            1,
            "one key per event: {}",
            show(std::slice::from_ref(e))
        );
        let is_b = keys[0] == kb;
        assert!(is_b || keys[0] == ka, "unknown key {keys:?}");
        if last.is_some_and(|l| l != is_b) {
            transitions += 1;
        }
        last = Some(is_b);
    }
    eprintln!(
        "{} events in {} floods, {swaps} swaps, {transitions} key changes",
        evs.len(),
        runs.len()
    );
    assert!(
        transitions <= swaps,
        "{transitions} key changes for {swaps} rule swaps"
    );
    assert!(
        swaps >= 2 && transitions >= 1,
        "{} floods ended before the rules changed twice ({swaps} swaps)",
        runs.len()
    );
    // By time: an event stamped clear of every swap window (1 ms either side: stamps are in
    // ms) carries the key of the set that was in force then.
    let mut checked = 0;
    for e in &evs {
        let t = e.millis();
        if windows.iter().any(|&(a, b, _)| t + 1 >= a && t <= b + 1) {
            continue;
        }
        let in_force_b = windows
            .iter()
            .rev()
            .find(|&&(_, b, _)| b + 1 < t)
            .is_some_and(|&(_, _, is_b)| is_b);
        let want = if in_force_b { &kb } else { &ka };
        assert!(
            e.has_key(want),
            "event at {t} ms judged by the wrong set (want {want}): {}; swaps {windows:?}",
            show(std::slice::from_ref(e))
        );
        checked += 1;
    }
    assert!(checked > 0, "no event clear of the swap windows");
    // Nothing lost in between: every open is in the log once (or counted as lost).
    let opens = evs.len() as u64;
    let lost = lost(&d);
    assert!(opens <= total, "{opens} events for {total} opens");
    assert!(
        opens + lost >= total,
        "{opens} events and {lost} lost for {total} opens"
    );
    // ausearch agrees on the split.
    let b: usize = pids
        .iter()
        .map(|p| ausearch_events(&d.log, &["-k", &kb, "-p", &p.to_string()]).len())
        .sum();
    let b_log = evs.iter().filter(|e| e.has_key(&kb)).count();
    assert_eq!(b, b_log, "ausearch -k {kb}");
}

#[test]
fn rotation_by_size_and_signal_keeps_every_event() {
    const N: u32 = 8_000;
    if !need_kernel("rotation_by_size_and_signal_keeps_every_event") {
        return;
    }
    let key = unique_key("e2e-rot");
    let auid = unique_auid();
    let dir = test_dir("vigil-e2e-rot-");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let mut d = KernelDaemon::start(
        &format!("{}\n", open_rule(auid, &file, &key)),
        "[log]\nmax_log_file = 1\nnum_logs = 100\nmax_log_file_action = \"rotate\"\n\
         [queue]\nq_depth = 262144\noverflow_action = \"block\"\n",
    );
    let first = run(vec![
        Op::SetLoginuid(auid),
        Op::OpenLoop(cs(pb(&file)), N / 2),
    ]);
    d.signal(libc::SIGUSR1);
    let second = run(vec![
        Op::SetLoginuid(auid),
        Op::OpenLoop(cs(pb(&file)), N / 2),
    ]);
    wait_taken(&d, u64::from(N));
    d.sync();
    let lost = lost(&d);
    assert_eq!(lost, 0, "losses: {:?}", d.status());
    let st = d.stop();
    assert!(st.success(), "{st}");
    let logdir = d.log.parent().unwrap().to_path_buf();
    let files: Vec<_> = std::fs::read_dir(&logdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // 8000 events of ~600 bytes in 1 MiB files, plus the signal: several files.
    assert!(files.len() >= 4, "{files:?}");
    for f in &files {
        let mode = std::fs::metadata(f).unwrap().permissions();
        let want = if *f == d.log { 0o600 } else { 0o400 };
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            want,
            "{}",
            f.display()
        );
        // No event is split between two files: each file's events are whole.
        for e in log_events(f) {
            let t = e.types();
            if t.iter().any(|x| x == "PATH" || x == "CWD") {
                assert_eq!(
                    t[0],
                    "SYSCALL",
                    "{}: event cut at a file edge: {t:?}",
                    f.display()
                );
            }
        }
    }
    // ausearch reads the whole set (a directory) and finds every event once.
    let evs = ausearch_events(&logdir, &["-k", &key]);
    for (r, n) in [(&first, N / 2), (&second, N / 2)] {
        let mine: Vec<&Ev> = evs.iter().filter(|e| e.pid() == r.pid).collect();
        assert_eq!(mine.len(), n as usize, "events of {} in the set", r.pid);
        let mut serials: Vec<u64> = mine.iter().map(|e| e.0.id.serial).collect();
        serials.dedup();
        assert_eq!(serials.len(), n as usize, "each event once");
    }
    let rotate = ausearch_events(&logdir, &["-m", "DAEMON_ROTATE"]);
    assert!(!rotate.is_empty(), "DAEMON_ROTATE in the set");
}

#[test]
fn immutable_mode_is_vigils_own_and_keeps_auditing() {
    if !need_kernel("immutable_mode_is_vigils_own_and_keeps_auditing") {
        return;
    }
    let key = unique_key("e2e-imm");
    let auid = unique_auid();
    let dir = test_dir("vigil-e2e-imm-");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let kernel_before = kernel_enabled();
    let d = KernelDaemon::start(&format!("{}\n", open_rule(auid, &file, &key)), "");
    d.ctl_ok(&["-e", "2"]);
    assert_eq!(d.status()["enabled"], "2");
    // Every change is refused, auditing included.
    for args in [
        &["-D"][..],
        &["-e", "0"],
        &[
            "-a",
            "always,exit",
            "-F",
            "arch=b64",
            "-S",
            "unlink",
            "-k",
            "x",
        ],
        &["-b", "10"],
    ] {
        let out = d.ctl(args);
        assert!(!out.status.success(), "{args:?} accepted under -e 2");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("immutable"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(d.status()["hook_mode"].contains("sys_exit"));
    let r = run(vec![
        Op::SetLoginuid(auid),
        Op::OpenAt(cs(pb(&file)), libc::O_RDONLY, 0),
    ]);
    let evs: Vec<Ev> = d
        .by_key(&key)
        .into_iter()
        .filter(|e| e.pid() == r.pid)
        .collect();
    assert_eq!(evs.len(), 1, "still auditing after refused -e 0");
    // The refusals are audited as the kernel does (res=0).
    let refused = ausearch_events(&d.log, &["-m", "CONFIG_CHANGE"]);
    let zero = refused
        .iter()
        .filter(|e| e.get("CONFIG_CHANGE", "res").as_deref() == Some("0"))
        .count();
    assert!(zero >= 4, "refusals audited:\n{}", show(&refused));
    // vigil's -e 2 is not the kernel's: kernel audit's flag is unchanged.
    assert_eq!(kernel_enabled(), kernel_before);
    assert_ne!(kernel_enabled().as_deref(), Some("2"));
}

/// `auditctl -s`'s enabled value (read only).
fn kernel_enabled() -> Option<String> {
    let out = std::process::Command::new("auditctl")
        .arg("-s")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("enabled ").map(str::to_owned))
}

#[test]
fn kill_9_during_a_kernel_flood_leaves_whole_lines_after_restart() {
    if !need_kernel("kill_9_during_a_kernel_flood_leaves_whole_lines_after_restart") {
        return;
    }
    let key = unique_key("e2e-kill9");
    let auid = unique_auid();
    let dir = test_dir("vigil-e2e-kill9-");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let mut d = KernelDaemon::start(
        &format!("{}\n", open_rule(auid, &file, &key)),
        "[log]\nmax_log_file = 0\nflush = \"none\"\n",
    );
    let mut flood = spawn(vec![
        Op::SetLoginuid(auid),
        Op::OpenLoop(cs(pb(&file)), 200_000),
    ]);
    flood.release();
    // Kill it while it writes.
    let t0 = Instant::now();
    while std::fs::metadata(&d.log).map_or(0, |m| m.len()) < 2 << 20 {
        assert!(
            t0.elapsed() < Duration::from_mins(1),
            "the flood never reached 2 MiB"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    d.signal(libc::SIGKILL);
    let st = d.wait(daemon_util::PATIENCE);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(libc::SIGKILL)
    );
    drop(flood);
    // SIGKILL can cut a write between pages (the kernel stops copying a write at a fatal
    // signal), so the file may end in a torn line; the next daemon on the log cuts it.
    let size = std::fs::metadata(&d.log).unwrap().len();
    let mut again = daemon_util::TestDaemon::start(daemon_util::Setup {
        rules: Some(String::new()),
        log: Some(d.log.clone()),
        ..daemon_util::Setup::default()
    });
    assert!(again.stop().success());
    let bytes = std::fs::read(&d.log).unwrap();
    assert_eq!(bytes.last(), Some(&b'\n'), "the last line is whole");
    // At most the torn line was cut (the new daemon appended its own records).
    let kept = bytes
        .windows(b"type=DAEMON_START".len())
        .rposition(|w| w == b"type=DAEMON_START")
        .unwrap_or(bytes.len()) as u64;
    assert!(
        kept + 9000 >= size,
        "more than a line was cut ({kept} of {size} bytes)"
    );
    let mut n = 0;
    for line in std::io::BufReader::new(&bytes[..]).split(b'\n') {
        let line = line.unwrap();
        vigil_format::text::parse_line(&line).unwrap_or_else(|e| {
            panic!("line {}: {e:?}: {}", n + 1, String::from_utf8_lossy(&line))
        });
        n += 1;
    }
    assert!(n > 1000, "{n} lines");
    // ausearch reads it to the end.
    let evs = ausearch_events(&d.log, &["-k", &key]);
    assert!(evs.len() > 300, "{} events", evs.len());
}
