//! Acceptance (privileged): on logs written by Debian's auditd on this machine, in RAW and
//! ENRICHED format, `vigil search OPTIONS --raw` prints what `ausearch OPTIONS --raw` prints,
//! byte for byte and with the same exit status, for each ausearch option vigil takes; the
//! default output too, and `-i` up to the decoding of syscall arguments.
//!
//! The test starts /sbin/auditd with a private config (vigil-testkit's fixture, which holds
//! the kernel lock and restores the kernel's audit state), loads rules keyed uniquely and
//! scoped to this test's children (`ppid=`), runs a small workload in two phases a few
//! seconds apart (so time ranges split the log), and stops auditd.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::os::unix::process::CommandExt as _;
use vigil_testkit::{require, unique_key, Auditd, AuditdOptions, Need};

fn auditctl(args: &[&str]) {
    let out = Command::new("/sbin/auditctl")
        .args(args)
        .output()
        .expect("run auditctl");
    assert!(
        out.status.success(),
        "auditctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_child(cmd: &mut Command) -> u32 {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn workload");
    let pid = child.id();
    child.wait().expect("wait workload");
    pid
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Waits until the clock is at least `t`.
fn wait_until(t: u64) {
    while now() < t {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the workload did, for the queries.
struct Facts {
    key: String,
    cat_pid: u32,
    auditd_pid: u32,
    /// First second of phase 2 (phase 1 ended at least a second before).
    phase2: u64,
}

/// Runs auditd with `format`, the rules and the workload; returns the log's copy.
fn auditd_log(format: &str, dir: &Path) -> (PathBuf, Facts) {
    let mut d = Auditd::start_with(&AuditdOptions {
        log_format: format.into(),
        ..AuditdOptions::default()
    });
    let key = unique_key("srch");
    let me = std::process::id().to_string();
    let ppid = format!("ppid={me}");
    let k = |s: &str| format!("{key}-{s}");
    auditctl(&[
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "openat",
        "-F",
        &ppid,
        "-F",
        "success=0",
        "-k",
        &k("fail"),
    ]);
    auditctl(&[
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "execve",
        "-F",
        &ppid,
        "-k",
        &k("exec"),
        "-k",
        &k("x2"),
    ]);
    auditctl(&[
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "openat",
        "-F",
        &ppid,
        "-F",
        "dir=/etc",
        "-k",
        &k("etc"),
    ]);
    auditctl(&[
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "unlink,unlinkat",
        "-F",
        &ppid,
        "-k",
        &k("rm"),
    ]);
    auditctl(&[
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "all",
        "-F",
        &ppid,
        "-F",
        "uid=65534",
        "-k",
        &k("nobody"),
    ]);

    // Phase 1: a read in /etc, a failed open, an unlink.
    let cat_pid = run_child(Command::new("/bin/cat").arg("/etc/hostname"));
    run_child(Command::new("/bin/cat").arg(format!("/nonexistent-{key}")));
    let victim = dir.join(format!("victim-{format}"));
    std::fs::write(&victim, "x").unwrap();
    run_child(Command::new("/bin/rm").arg(&victim));
    auditctl(&["-m", &format!("{key} phase one")]);
    d.sync(Duration::from_mins(1));

    // Phase 2, at least one whole second later.
    let phase2 = now() + 2;
    wait_until(phase2);
    run_child(Command::new("/bin/true").uid(65534).gid(65534));
    run_child(Command::new("/bin/cat").arg("/etc/passwd"));
    run_child(Command::new("/bin/ls").arg(format!("/nonexistent-{key}")));
    auditctl(&["-m", &format!("{key} phase two")]);
    d.sync(Duration::from_mins(1));
    let auditd_pid = d.pid();
    d.stop();
    let log = dir.join(format!("auditd-{format}.log"));
    std::fs::copy(d.log_path(), &log).expect("copy the auditd log");
    drop(d);
    (
        log,
        Facts {
            key,
            cat_pid,
            auditd_pid,
            phase2,
        },
    )
}

fn tool(bin: &str, log: &Path, args: &[String]) -> Output {
    let mut c = Command::new(bin);
    if bin.ends_with("vigil") {
        c.arg("search");
    }
    c.arg("-if")
        .arg(log)
        .args(args)
        .env("LC_ALL", "C")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"))
}

/// `date '+%x'` and `date '+%T'` of `sec` in the C locale (ausearch's date and time forms).
fn local_date_time(sec: u64) -> (String, String) {
    let out = Command::new("date")
        .arg("-d")
        .arg(format!("@{sec}"))
        .arg("+%x %T")
        .env("LC_ALL", "C")
        .output()
        .expect("run date");
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (d, t) = s.split_once(' ').expect("date output");
    (d.to_string(), t.to_string())
}

/// Serials of the first SYSCALL and the first USER record of the log.
fn some_serials(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut out = Vec::new();
    for ty in ["type=SYSCALL ", "type=USER ", "type=DAEMON_START "] {
        if let Some(line) = text.lines().find(|l| l.starts_with(ty)) {
            let serial = line
                .split("msg=audit(")
                .nth(1)
                .and_then(|s| s.split(':').nth(1))
                .and_then(|s| s.split(')').next())
                .unwrap_or("0");
            out.push(serial.to_string());
        }
    }
    out
}

fn option_sets(f: &Facts, log: &Path) -> Vec<Vec<String>> {
    let k = |s: &str| format!("{}-{s}", f.key);
    let me = std::process::id().to_string();
    let (date2, time2) = local_date_time(f.phase2);
    let (_, time1_end) = local_date_time(f.phase2 - 1);
    let loginuid = std::fs::read_to_string("/proc/self/loginuid")
        .unwrap_or_default()
        .trim()
        .to_string();
    let mut sets: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-k", &f.key],
        vec!["-w", "-k", &f.key],
        vec!["-p", "0"],
        vec!["-pp", &me],
        vec!["-ui", "65534"],
        vec!["-ui", "0"],
        vec!["-ua", "65534"],
        vec!["-ua", "0"],
        vec!["-ul", &loginuid],
        vec!["-ul", "0"],
        vec!["-sc", "openat"],
        vec!["-sc", "execve"],
        vec!["-sc", "unlinkat"],
        vec!["-sc", "257"],
        vec!["-m", "SYSCALL"],
        vec!["-m", "USER"],
        vec!["-m", "CONFIG_CHANGE"],
        vec!["-m", "DAEMON_START,DAEMON_END"],
        vec!["-m", "PATH,CWD"],
        vec!["-m", "EXECVE"],
        vec!["-sv", "yes"],
        vec!["-sv", "no"],
        vec!["-ts", &time2],
        vec!["-te", &time1_end],
        vec!["-ts", &date2, &time2],
        vec!["-ts", &time1_end, "-te", &time2],
        vec!["-ts", "today"],
        vec!["-ts", "recent"],
        vec!["-ts", "this-week"],
        vec!["-ts", "this-month"],
        vec!["-ts", "this-year"],
        vec!["-ts", "yesterday"],
        vec!["-ts", "week-ago"],
        vec!["-te", "now"],
        vec!["-te", "yesterday"],
        vec!["-sc", "openat", "-sv", "no", "-pp", &me],
        vec!["-ui", "65534", "-sc", "execve"],
    ];
    let keys: Vec<String> = ["fail", "exec", "x2", "etc", "rm", "nobody"]
        .iter()
        .map(|s| k(s))
        .collect();
    for key in &keys {
        sets.push(vec!["-k", key]);
    }
    let cat = f.cat_pid.to_string();
    let auditd = f.auditd_pid.to_string();
    sets.push(vec!["-p", &cat]);
    sets.push(vec!["-p", &auditd]);
    let serials = some_serials(log);
    for s in &serials {
        sets.push(vec!["-a", s]);
    }
    sets.into_iter()
        .map(|s| s.into_iter().map(str::to_string).collect())
        .collect()
}

/// The text with the values of SYSCALL's `a0=`..`a3=` blanked.
fn without_args(s: &str) -> String {
    s.split(' ')
        .map(|w| match w.as_bytes() {
            [b'a', b'0'..=b'3', b'=', ..] => &w[..3],
            _ => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn compare(log: &Path, f: &Facts) -> usize {
    let vigil = env!("CARGO_BIN_EXE_vigil");
    let mut nonempty = 0;
    for opts in option_sets(f, log) {
        // -i on the events of the -S all rule (every syscall of a process: mmap flags,
        // socket families, ...) would compare auparse's whole decoding table; -i is compared
        // on the other events.
        let interpreted = match opts.as_slice() {
            [k, v] if k == "-k" => *v != f.key && !v.ends_with("nobody"),
            [m, v] if m == "-m" => {
                ["USER", "CONFIG_CHANGE", "DAEMON_START,DAEMON_END", "EXECVE"].contains(&v.as_str())
            }
            [p, _] => p == "-p",
            _ => false,
        };
        for mode in ["--raw", "", "-i"] {
            if mode == "-i" && !interpreted {
                continue;
            }
            let raw = mode == "--raw";
            let mut args = opts.clone();
            if !mode.is_empty() {
                args.push(mode.into());
            }
            let a = tool("/sbin/ausearch", log, &args);
            let v = tool(vigil, log, &args);
            let (mut ao, mut vo) = (
                String::from_utf8_lossy(&a.stdout).into_owned(),
                String::from_utf8_lossy(&v.stdout).into_owned(),
            );
            if mode == "-i" {
                // auparse decodes the arguments of many more syscalls (socket families,
                // mmap flags, ...) than vigil; everything else must be the same.
                ao = without_args(&ao);
                vo = without_args(&vo);
            }
            if ao != vo {
                let first = ao
                    .lines()
                    .zip(vo.lines())
                    .find(|(x, y)| x != y)
                    .map(|(x, y)| format!("\n  ausearch: {x}\n  vigil:    {y}"))
                    .unwrap_or_default();
                panic!(
                    "{} {args:?}: ausearch printed {} lines, vigil {}{first}\nvigil stderr: {}",
                    log.display(),
                    ao.lines().count(),
                    vo.lines().count(),
                    String::from_utf8_lossy(&v.stderr)
                );
            }
            assert_eq!(a.status.code(), v.status.code(), "{args:?}: exit status");
            if raw && !ao.is_empty() {
                nonempty += 1;
            }
        }
    }
    nonempty
}

#[test]
fn search_prints_what_ausearch_prints_on_auditd_logs() {
    if !require(
        "search_prints_what_ausearch_prints_on_auditd_logs",
        &[
            Need::Root,
            Need::AuditNetlink,
            Need::AuditTools,
            Need::FreeAuditPid,
        ],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for format in ["RAW", "ENRICHED"] {
        let (log, facts) = auditd_log(format, dir.path());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains(&format!("{}-fail", facts.key)),
            "the workload was not audited; the log:\n{text}"
        );
        let sets = option_sets(&facts, &log).len();
        let nonempty = compare(&log, &facts);
        eprintln!("{format}: {sets} option sets compared, {nonempty} select something");
        assert!(nonempty >= sets * 2 / 3, "most queries select events");
    }
}
