//! `vigil search` against Debian's ausearch on logs built here (no root needed): the same
//! events, byte for byte, for each ausearch option vigil takes; JSON logs select what text
//! logs select; rotated sets; exit status; and flat memory on a large log.
//! The privileged comparison on logs written by the real auditd is in `search_interop.rs`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vigil() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.env("RUST_LOG", "warn")
        .env("LC_ALL", "C")
        .env("TZ", "UTC");
    c
}

fn here(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn have_ausearch() -> bool {
    let ok = Path::new("/sbin/ausearch").exists();
    if !ok {
        assert!(
            std::env::var_os("VIGIL_REQUIRE_PRIVILEGED").is_none_or(|v| v != "1"),
            "/sbin/ausearch is missing (Debian package auditd)"
        );
        eprintln!("skipping: /sbin/ausearch is missing (install Debian's auditd package)");
    }
    ok
}

fn ausearch(inputs: &[&Path], args: &[&str]) -> Output {
    let mut c = Command::new("/sbin/ausearch");
    for i in inputs {
        c.arg("-if").arg(i);
    }
    c.args(args)
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .output()
        .expect("run ausearch")
}

fn search(inputs: &[&Path], args: &[&str]) -> Output {
    let mut c = vigil();
    c.arg("search");
    for i in inputs {
        c.arg("-if").arg(i);
    }
    c.args(args).output().expect("run vigil search")
}

/// Runs both tools and insists on the same stdout and exit status.
fn same(log: &Path, args: &[&str]) {
    let a = ausearch(&[log], args);
    let v = search(&[log], args);
    let (ao, vo) = (
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&v.stdout),
    );
    if ao != vo {
        let diff: Vec<String> = ao
            .lines()
            .zip(vo.lines())
            .filter(|(x, y)| x != y)
            .take(3)
            .map(|(x, y)| format!("  ausearch: {x}\n  vigil:    {y}"))
            .collect();
        panic!(
            "{args:?} on {}: ausearch printed {} lines, vigil {}\n{}\nvigil stderr: {}",
            log.display(),
            ao.lines().count(),
            vo.lines().count(),
            diff.join("\n"),
            String::from_utf8_lossy(&v.stderr)
        );
    }
    assert_eq!(
        a.status.code(),
        v.status.code(),
        "{args:?}: exit status (ausearch stderr: {})",
        String::from_utf8_lossy(&a.stderr)
    );
}

const SYSCALL_TAIL: &str = "items=0 ppid=4000 pid=4242 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"cat\" exe=\"/usr/bin/cat\"";

/// A log with what auditd logs hold: daemon, config, user and login messages, syscall events
/// with quoted, hex (several keys) and null keys, interleaved records, out-of-order times,
/// nodes, ENRICHED lines, unknown types and junk lines.
fn crafted_log(enriched: bool) -> String {
    let base = 1_764_000_000u64;
    let mut s = String::new();
    let e = |s: &mut String, line: &str, extra: &str| {
        s.push_str(line);
        if enriched && !extra.is_empty() {
            s.push('\x1d');
            s.push_str(extra);
        }
        s.push('\n');
    };
    e(&mut s, &format!("type=DAEMON_START msg=audit({base}.001:1001): op=start ver=3.0.9 format=raw kernel=6.18.0 auid=4294967295 pid=811 uid=0 ses=4294967295 res=success"), "AUID=\"unset\" UID=\"root\"");
    e(&mut s, &format!("type=CONFIG_CHANGE msg=audit({base}.002:1): auid=0 ses=4294967295 op=add_rule key=\"watch-passwd\" list=4 res=1"), "AUID=\"root\"");
    e(&mut s, &format!("type=CONFIG_CHANGE msg=audit({base}.003:2): auid=0 ses=4294967295 op=remove_rule key=(null) list=4 res=0"), "AUID=\"root\"");
    for i in 0..40u64 {
        let sec = base + 1 + i / 4;
        let ms = (i % 4) * 250;
        let serial = 10 + i;
        let (nr, ok, exit) = match i % 5 {
            0 => (257, "yes", "3"),
            1 => (257, "no", "-13"),
            2 => (59, "yes", "0"),
            3 => (263, "yes", "0"),
            _ => (0, "yes", "12"),
        };
        let key = match i % 4 {
            0 => "key=\"watch-passwd\"".to_string(),
            1 => "key=6578656301726F6F742D636D64".to_string(), // exec \x01 root-cmd
            2 => "key=(null)".to_string(),
            _ => "key=\"other\"".to_string(),
        };
        let uid = if i % 3 == 0 { 0 } else { 1000 + (i % 2) };
        let pid = 4000 + i % 7;
        let tail = SYSCALL_TAIL
            .replace("uid=1000 gid", &format!("uid={uid} gid"))
            .replace("pid=4242", &format!("pid={pid}"));
        let stamp = format!("{sec}.{ms:03}:{serial}");
        let node = if i % 9 == 0 { "node=web1 " } else { "" };
        e(&mut s, &format!("{node}type=SYSCALL msg=audit({stamp}): arch=c000003e syscall={nr} success={ok} exit={exit} a0=ffffff9c a1=7ffd a2=0 a3=0 {tail} {key}"), "ARCH=x86_64 SYSCALL=openat AUID=\"alice\" UID=\"alice\"");
        // Interleave the previous event's trailing records with this one's.
        e(
            &mut s,
            &format!("{node}type=CWD msg=audit({stamp}): cwd=\"/home/alice\""),
            "",
        );
        if i % 2 == 0 {
            e(&mut s, &format!("{node}type=PATH msg=audit({stamp}): item=0 name=\"/etc/passwd\" inode=12 dev=fe:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"), "OUID=\"root\" OGID=\"root\"");
        }
        e(
            &mut s,
            &format!(
                "{node}type=PROCTITLE msg=audit({stamp}): proctitle=636174002F6574632F706173737764"
            ),
            "",
        );
        if i % 6 == 0 {
            e(&mut s, &format!("type=USER msg=audit({sec}.{:03}:{}): pid={pid} uid=0 auid=1000 ses=3 msg='op=marker uid=1001 exe=\"/usr/sbin/auditctl\" hostname=? addr=? terminal=pts/0 res=success'", ms + 1, 500 + i), "UID=\"root\" AUID=\"alice\"");
        }
        if i % 8 == 0 {
            e(&mut s, &format!("type=USER_LOGIN msg=audit({sec}.{:03}:{}): pid={pid} uid=0 auid=1001 ses=4 msg='op=login id=1001 exe=\"/usr/sbin/sshd\" hostname=h addr=10.0.0.1 terminal=ssh res=failed'", ms + 2, 600 + i), "");
            e(&mut s, &format!("type=LOGIN msg=audit({sec}.{:03}:{}): pid={pid} uid=0 subj=unconfined old-auid=4294967295 auid=1001 tty=(none) old-ses=4294967295 ses=4 res=1", ms + 3, 700 + i), "");
        }
    }
    // Out of order in the file, and a time jump back.
    e(&mut s, &format!("type=USER msg=audit({base}.000:999): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='early'"), "");
    e(&mut s, &format!("type=SYSCALL msg=audit({}.500:3000): arch=c000003e syscall=62 success=yes exit=0 a0=4d2 a1=9 a2=0 a3=0 {SYSCALL_TAIL} key=\"kill\"", base + 30), "");
    e(&mut s, &format!("type=OBJ_PID msg=audit({}.500:3000): opid=1234 oauid=1000 ouid=1000 oses=3 ocomm=\"sleep\"", base + 30), "");
    e(&mut s, "this line is not an audit record", "");
    e(
        &mut s,
        &format!(
            "type=UNKNOWN[1999] msg=audit({}.000:3001): something=1",
            base + 31
        ),
        "",
    );
    e(&mut s, &format!("type=DAEMON_END msg=audit({}.000:3002): op=terminate auid=0 uid=0 ses=4294967295 pid=1 res=success", base + 32), "");
    s
}

/// ausearch's options as vigil takes them, with arguments that select something in
/// `crafted_log` (and some that select nothing).
const OPTION_SETS: &[&[&str]] = &[
    &[],
    &["-k", "watch-passwd"],
    &["-k", "exec"],
    &["-k", "root"],
    &["-k", "null"],
    &["-k", "nothing-has-this"],
    &["-w", "-k", "exec"],
    &["-p", "4003"],
    &["-p", "811"],
    &["-pp", "4000"],
    &["-ui", "0"],
    &["-ui", "1001"],
    &["-ua", "1001"],
    &["-ua", "0"],
    &["-ul", "1000"],
    &["-ul", "4294967295"],
    &["-sc", "openat"],
    &["-sc", "execve"],
    &["-sc", "263"],
    &["-sc", "0"],
    &["-m", "SYSCALL"],
    &["-m", "USER,LOGIN"],
    &["-m", "CONFIG_CHANGE"],
    &["-m", "DAEMON_START,DAEMON_END"],
    &["-m", "PATH"],
    &["-m", "1999"],
    &["-sv", "yes"],
    &["-sv", "no"],
    &["-a", "15"],
    &["-a", "1001"],
    &["-ts", "11/24/25", "16:00:05"],
    &["-te", "16:00:07", "11/24/25"],
    &["-ts", "16:00:03"],
    &["-ts", "11/24/25", "16:00:02", "-te", "11/24/25", "16:00:04"],
    &["-ts", "today"],
    &["-ts", "this-year"],
    &["-te", "now"],
    &["-k", "exec", "-sv", "yes", "-ui", "1001"],
    &["-sc", "openat", "-sv", "no"],
    &["-n", "web1"],
    &["-x", "cat"],
    &["-c", "cat"],
    &["-e", "-13"],
    &["--session", "4"],
    &["-gi", "1000"],
];

#[test]
fn raw_output_is_ausearchs_on_crafted_logs() {
    if !have_ausearch() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for enriched in [false, true] {
        let log = dir
            .path()
            .join(if enriched { "enriched.log" } else { "raw.log" });
        std::fs::write(&log, crafted_log(enriched)).unwrap();
        for opts in OPTION_SETS {
            let mut args = opts.to_vec();
            args.push("--raw");
            same(&log, &args);
        }
    }
}

#[test]
fn default_output_is_ausearchs() {
    if !have_ausearch() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for enriched in [false, true] {
        let log = dir.path().join("crafted.log");
        std::fs::write(&log, crafted_log(enriched)).unwrap();
        for opts in [
            &["-k", "exec"][..],
            &["-m", "DAEMON_START,USER"],
            &["-sv", "no"],
            &[],
        ] {
            same(&log, opts);
        }
    }
}

/// `-i` prints what ausearch prints: same records, order, local times and interpretations
/// (ids named, arch, syscall, errno, flags, signals, modes, decoded strings).
#[test]
fn interpreted_output_is_ausearchs() {
    if !have_ausearch() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for enriched in [false, true] {
        let log = dir.path().join("crafted.log");
        std::fs::write(&log, crafted_log(enriched)).unwrap();
        for opts in [
            &["-i"][..],
            &["-i", "-k", "exec"],
            &["-i", "-m", "USER,LOGIN"],
        ] {
            same(&log, opts);
        }
    }
    let v = search(
        &[&dir.path().join("crafted.log")],
        &["-i", "-k", "watch-passwd"],
    );
    let v = String::from_utf8_lossy(&v.stdout);
    assert!(
        v.contains("arch=x86_64 syscall=openat success=yes exit=3 a0=AT_FDCWD"),
        "{v}"
    );
}

#[test]
fn nothing_found_says_so_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("crafted.log");
    std::fs::write(&log, crafted_log(false)).unwrap();
    let v = search(&[&log], &["-k", "nothing-has-this"]);
    assert_eq!(v.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&v.stderr), "<no matches>\n");
    let v = search(&[&log], &["-k", "nothing-has-this", "--raw"]);
    assert_eq!(v.status.code(), Some(1));
    assert!(v.stderr.is_empty(), "ausearch --raw is silent");
    let v = search(&[Path::new("/nonexistent/log")], &[]);
    assert_eq!(v.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&v.stderr).contains("/nonexistent/log"));
    let v = vigil().args(["search", "-k"]).output().unwrap();
    assert_eq!(v.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&v.stderr).contains("Argument is required for -k"));
}

/// Splits the crafted log over a rotated set (an event's records cross a file boundary):
/// `-if DIR` reads `audit.log.2 .1 audit.log` in that order, as ausearch does; several
/// `-if` read in the order given.
#[test]
fn rotated_sets_are_read_oldest_first() {
    if !have_ausearch() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = crafted_log(false);
    let lines: Vec<&str> = text.lines().collect();
    let third = lines.len() / 3 + 1;
    let chunks: Vec<String> = lines.chunks(third).map(|c| c.join("\n") + "\n").collect();
    for (name, chunk) in ["audit.log.2", "audit.log.1", "audit.log"]
        .iter()
        .zip(&chunks)
    {
        std::fs::write(dir.path().join(name), chunk).unwrap();
    }
    for opts in [
        &["--raw"][..],
        &["-k", "exec", "--raw"],
        &["-sv", "no", "--raw"],
    ] {
        let a = ausearch(&[dir.path()], opts);
        let v = search(&[dir.path()], opts);
        assert_eq!(
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&a.stdout),
            "-if DIR {opts:?}"
        );
        // The whole log in one file gives the same.
        let whole = dir.path().join("whole");
        std::fs::write(&whole, &text).unwrap();
        let w = search(&[&whole], opts);
        assert_eq!(w.stdout, v.stdout);
        let files: Vec<PathBuf> = ["audit.log.2", "audit.log.1", "audit.log"]
            .iter()
            .map(|n| dir.path().join(n))
            .collect();
        let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        assert_eq!(search(&refs, opts).stdout, v.stdout, "several -if");
        let base = dir.path().join("audit.log");
        let mut rot = vec!["--rotated"];
        rot.extend_from_slice(opts);
        assert_eq!(search(&[&base], &rot).stdout, v.stdout, "--rotated");
    }
}

fn serials(out: &[u8]) -> BTreeSet<u64> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| {
            if l.starts_with('{') {
                let at = l.find("\"serial\":")? + 9;
                l[at..].split([',', '}']).next()?.parse().ok()
            } else {
                l.split("msg=audit(")
                    .nth(1)?
                    .split(':')
                    .nth(1)?
                    .split(')')
                    .next()?
                    .parse()
                    .ok()
            }
        })
        .collect()
}

/// A log vigil wrote as JSON selects the same events as the same log written as text.
#[test]
fn json_logs_select_what_text_logs_select() {
    let dir = tempfile::tempdir().unwrap();
    let rules = here("tests/replay/mixed.rules");
    let trace = here("tests/replay/mixed.jsonl");
    let mut logs = Vec::new();
    for fmt in ["raw", "enriched", "json"] {
        let log = dir.path().join(format!("{fmt}.log"));
        let out = vigil()
            .args(["replay", "--rules"])
            .arg(&rules)
            .args(["--format", fmt, "--names", "none", "--output"])
            .arg(&log)
            .arg(&trace)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        logs.push(log);
    }
    let sets: &[&[&str]] = &[
        &[],
        &["-k", "shadow"],
        &["-k", "cmd"],
        &["-p", "7001"],
        &["-ui", "1000"],
        &["-ua", "1001"],
        &["-sc", "openat"],
        &["-sv", "no"],
        &["-m", "EXECVE"],
        &["-m", "USER"],
        &["-a", "9"],
        &["--contid", "42"],
        &["-ts", "11/25/25", "10:36:40"],
    ];
    for opts in sets {
        let raw = search(&[&logs[0]], opts);
        let got: Vec<BTreeSet<u64>> = logs
            .iter()
            .map(|l| {
                let mut a = opts.to_vec();
                a.push("--raw");
                serials(&search(&[l], &a).stdout)
            })
            .collect();
        assert!(
            !got[0].is_empty() || opts.contains(&"-ts"),
            "{opts:?} selects something"
        );
        assert_eq!(got[0], got[1], "ENRICHED vs RAW {opts:?}");
        assert_eq!(got[0], got[2], "JSON vs RAW {opts:?}");
        let mut j = opts.to_vec();
        j.push("--json");
        assert_eq!(
            serials(&search(&[&logs[2]], &j).stdout),
            got[0],
            "--json {opts:?}"
        );
        assert_eq!(raw.status.code(), Some(i32::from(got[0].is_empty())));
    }
    let c = search(&[&logs[0]], &["--contid", "42", "--raw"]);
    assert_eq!(serials(&c.stdout), BTreeSet::from([8]));
}

/// Peak memory of a search over a 200+ MiB log stays that of a small one.
#[test]
fn memory_stays_flat_on_a_large_log() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    let small = dir.path().join("small.log");
    let one = crafted_log(false);
    // Shift times so events keep completing as the log goes on.
    let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    let mut block = String::new();
    let mut written = 0usize;
    let mut round = 0u64;
    while written < 210 << 20 {
        block.clear();
        for line in one.lines() {
            let shifted = shift(line, round * 40);
            let _ = writeln!(block, "{shifted}");
        }
        f.write_all(block.as_bytes()).unwrap();
        if round == 0 {
            std::fs::write(&small, &block).unwrap();
        }
        written += block.len();
        round += 1;
    }
    f.flush().unwrap();
    drop(f);
    let peak_small = peak_rss_kib(&small);
    let peak_big = peak_rss_kib(&big);
    eprintln!(
        "peak RSS: {peak_small} KiB on 1 round, {peak_big} KiB on {round} rounds ({} MiB)",
        written >> 20
    );
    assert!(
        peak_big < peak_small + 16 * 1024,
        "peak RSS grew from {peak_small} KiB to {peak_big} KiB on a {} MiB log",
        written >> 20
    );
}

/// `line` with its timestamp moved `secs` later.
fn shift(line: &str, secs: u64) -> String {
    let Some(at) = line.find("msg=audit(") else {
        return line.to_string();
    };
    let start = at + 10;
    let end = start + line[start..].find('.').unwrap_or(0);
    match line[start..end].parse::<u64>() {
        Ok(sec) => format!("{}{}{}", &line[..start], sec + secs, &line[end..]),
        Err(_) => line.to_string(),
    }
}

/// Runs a search over `log` and returns the child's peak RSS (`ru_maxrss`, KiB).
fn peak_rss_kib(log: &Path) -> i64 {
    let child = vigil()
        .args(["search", "-if"])
        .arg(log)
        .args(["-k", "exec", "-sv", "no", "--raw"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: all-zero is a valid rusage; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our unreaped child; the pointers are valid.
    let r = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut ru) };
    assert_eq!(r, pid, "wait4");
    assert!(libc::WIFEXITED(status), "search died: {status}");
    std::mem::forget(child);
    ru.ru_maxrss
}

/// Logs vigil wrote (replayed traces, RAW and ENRICHED): ausearch and vigil search select the
/// same events for each option.
#[test]
fn vigil_written_logs_match_ausearch() {
    if !have_ausearch() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "mixed",
            here("tests/replay/mixed.rules"),
            vec![here("tests/replay/mixed.jsonl")],
        ),
        (
            "samples",
            here("tests/replay/basic.rules"),
            ["syscalls", "uring", "user", "hostile"]
                .iter()
                .map(|n| here(&format!("../vigil-format/tests/traces/{n}.jsonl")))
                .collect(),
        ),
    ];
    let sets: &[&[&str]] = &[
        &[],
        &["-k", "shadow"],
        &["-k", "exec"],
        &["-k", "uring"],
        &["-w", "-k", "cmd"],
        &["-p", "4242"],
        &["-p", "7001"],
        &["-pp", "4000"],
        &["-ui", "0"],
        &["-ui", "1000"],
        &["-ua", "1001"],
        &["-ul", "1000"],
        &["-sc", "openat"],
        &["-sc", "execve"],
        &["-sc", "42"],
        &["-sc", "io_uring_enter"],
        &["-m", "SYSCALL"],
        &["-m", "USER"],
        &["-m", "EXECVE,OBJ_PID"],
        &["-m", "URINGOP"],
        &["-sv", "yes"],
        &["-sv", "no"],
        &["-a", "5"],
        &["-ts", "11/25/25", "10:36:40"],
        &["-te", "11/14/23", "22:13:20"],
        &["-ts", "this-year"],
        &["-k", "exec", "-sv", "yes"],
    ];
    for (name, rules, traces) in &cases {
        for fmt in ["raw", "enriched"] {
            let log = dir.path().join(format!("{name}.{fmt}.log"));
            let out = vigil()
                .args(["replay", "--rules"])
                .arg(rules)
                .args(["--format", fmt, "--names", "none", "--output"])
                .arg(&log)
                .args(traces)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            for opts in sets {
                let mut args = opts.to_vec();
                args.push("--raw");
                same(&log, &args);
            }
        }
    }
}
