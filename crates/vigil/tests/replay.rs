//! `vigil replay`: golden files (trace + rules -> the audit log the daemon would write), an
//! interop check with Debian's ausearch on the replayed log, and error reporting.
//!
//! Regenerate the golden files with `VIGIL_BLESS=1 cargo test -p vigil --test replay` and
//! review the diff.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vigil() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.env("RUST_LOG", "warn").env("LC_ALL", "C");
    c
}

fn here(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn format_trace(name: &str) -> PathBuf {
    here(&format!("../vigil-format/tests/traces/{name}.jsonl"))
}

fn run(args: &[&str], traces: &[PathBuf]) -> Output {
    let out = vigil()
        .arg("replay")
        .args(args)
        .args(traces)
        .output()
        .expect("run vigil replay");
    assert!(
        out.status.success(),
        "vigil replay {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Compares `got` with the golden file, or rewrites it under `VIGIL_BLESS=1`.
fn golden(name: &str, got: &[u8]) {
    let path = here(&format!("tests/golden/replay/{name}"));
    if std::env::var_os("VIGIL_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with VIGIL_BLESS=1 to create it)",
            path.display()
        )
    });
    if want != got {
        let (w, g) = (String::from_utf8_lossy(&want), String::from_utf8_lossy(got));
        let first = w
            .lines()
            .zip(g.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(w.lines().count().min(g.lines().count()));
        panic!(
            "{} differs at line {}:\n want: {:?}\n  got: {:?}\n(VIGIL_BLESS=1 regenerates it)",
            path.display(),
            first + 1,
            w.lines().nth(first),
            g.lines().nth(first)
        );
    }
}

/// `--format` value and golden file suffix.
const FORMATS: [(&str, &str); 3] = [
    ("raw", "raw.log"),
    ("enriched", "enriched.log"),
    ("json", "jsonl"),
];

#[test]
fn golden_mixed_trace() {
    let rules = here("tests/replay/mixed.rules");
    let trace = here("tests/replay/mixed.jsonl");
    for (fmt, ext) in FORMATS {
        let out = run(
            &[
                "--rules",
                rules.to_str().unwrap(),
                "--format",
                fmt,
                "--names",
                "none",
            ],
            std::slice::from_ref(&trace),
        );
        golden(&format!("mixed.{ext}"), &out.stdout);
    }
}

#[test]
fn golden_exclude_rules_drop_record_types() {
    let rules = here("tests/replay/mixed-exclude.rules");
    let out = run(
        &["--rules", rules.to_str().unwrap(), "--names", "none"],
        &[here("tests/replay/mixed.jsonl")],
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(!text.contains("type=PROCTITLE") && !text.contains("type=CWD"));
    assert!(text.contains("type=PATH"), "other records stay");
    golden("mixed-exclude.raw.log", &out.stdout);
}

#[test]
fn golden_format_sample_traces() {
    let rules = here("tests/replay/basic.rules");
    let traces: Vec<PathBuf> = ["syscalls", "uring", "user", "hostile"]
        .iter()
        .map(|n| format_trace(n))
        .collect();
    for (fmt, ext) in FORMATS {
        let out = run(
            &[
                "--rules",
                rules.to_str().unwrap(),
                "--format",
                fmt,
                "--names",
                "none",
            ],
            &traces,
        );
        golden(&format!("samples.{ext}"), &out.stdout);
    }
}

/// Serial -> keys of every event ausearch prints.
fn ausearch_events(log: &Path, args: &[&str]) -> BTreeMap<u64, String> {
    let out = Command::new("/sbin/ausearch")
        .arg("-if")
        .arg(log)
        .args(args)
        .arg("--raw")
        .env("LC_ALL", "C")
        .output()
        .expect("run ausearch");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut events = BTreeMap::new();
    for line in text.lines() {
        let serial: u64 = line
            .split("msg=audit(")
            .nth(1)
            .and_then(|s| s.split(':').nth(1))
            .and_then(|s| s.split(')').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no serial in {line:?}"));
        let e = events.entry(serial).or_insert_with(String::new);
        if let Some(k) = line.split(" key=").nth(1) {
            e.push_str(k.split(' ').next().unwrap_or(""));
        }
    }
    events
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

/// The replayed log is read by ausearch: every key selects exactly the events whose deciding
/// rule carries it (serials by trace order of the selected events, see mixed.jsonl).
#[test]
fn ausearch_finds_each_key_in_the_replayed_log() {
    if !have_ausearch() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("replay.log");
    let rules = here("tests/replay/mixed.rules");
    run(
        &[
            "--rules",
            rules.to_str().unwrap(),
            "--output",
            log.to_str().unwrap(),
        ],
        &[here("tests/replay/mixed.jsonl")],
    );
    let expected: &[(&str, &[u64])] = &[
        ("shadow", &[1, 11]),
        ("data", &[2, 12]),
        ("eacces", &[3]),
        ("u1001", &[4]),
        ("exec", &[5]),
        ("cmd", &[5]),
        ("inet", &[6]),
        ("sigkill", &[7]),
        ("tenant42", &[8]),
        ("uring-open", &[9]),
    ];
    for (key, serials) in expected {
        let found = ausearch_events(&log, &["-k", key, "-w"]);
        let got: BTreeSet<u64> = found.keys().copied().collect();
        let want: BTreeSet<u64> = serials.iter().copied().collect();
        assert_eq!(got, want, "ausearch -k {key} on the replayed log");
        // vigil search agrees byte for byte.
        let a = Command::new("/sbin/ausearch")
            .args(["-if", log.to_str().unwrap(), "-k", key, "-w", "--raw"])
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        let v = vigil()
            .args([
                "search",
                "-if",
                log.to_str().unwrap(),
                "-k",
                key,
                "-w",
                "--raw",
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&a.stdout),
            "vigil search -k {key}"
        );
    }
    // Events without a key are there too: the user message (serial 10).
    let all = ausearch_events(&log, &[]);
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
}

#[test]
fn bad_trace_lines_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("bad.jsonl");
    std::fs::write(
        &trace,
        "{\"vigil_trace\":1}\n{\"kind\":\"syscall\",\"nr\":\"x\"}\n",
    )
    .unwrap();
    let out = vigil()
        .args(["replay", "--rules"])
        .arg(here("tests/replay/basic.rules"))
        .arg(&trace)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:", trace.display())),
        "error names file and line: {err}"
    );
}

#[test]
fn bad_rules_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.rules");
    std::fs::write(&rules, "-a always,exit -S nosuchcall -k x\n").unwrap();
    let out = vigil()
        .args(["replay", "--rules"])
        .arg(&rules)
        .arg(here("tests/replay/mixed.jsonl"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.rules:1:"), "{err}");
    assert!(out.stdout.is_empty(), "nothing is written");
}
