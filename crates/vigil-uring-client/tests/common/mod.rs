//! Running the client binary and reading its JSON lines.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_vigil-uring-client");

/// Env variable that turns a skip into a failure (shared with vigil-testkit).
const REQUIRE_ENV: &str = "VIGIL_REQUIRE_PRIVILEGED";

/// True when running as root; otherwise prints `SKIP` and returns false, or panics when
/// `VIGIL_REQUIRE_PRIVILEGED=1`.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        return true;
    }
    let msg = format!("SKIP {test}: not root (euid {euid})");
    assert!(
        std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
        "{msg} ({REQUIRE_ENV}=1 forbids skipping)"
    );
    eprintln!("{msg}");
    false
}

/// Parses stdout as JSON lines; panics naming the line that is not JSON.
pub fn parse_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("stdout line {}: not JSON ({e}): {l}", i + 1))
        })
        .collect()
}

/// A finished run: status, parsed stdout, stderr text.
pub struct Run {
    pub output: Output,
    pub lines: Vec<Value>,
    pub pid: u32,
}

impl Run {
    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything the run printed, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "status {:?}\nstdout:\n{}\nstderr:\n{}",
            self.output.status,
            String::from_utf8_lossy(&self.output.stdout),
            self.stderr()
        )
    }

    pub fn events<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Value> + 'a {
        let kind = kind.to_owned();
        self.lines
            .iter()
            .filter(move |l| l["event"] == kind.as_str())
    }

    pub fn ops(&self) -> Vec<&Value> {
        self.events("op").collect()
    }

    pub fn one(&self, kind: &str) -> &Value {
        let all: Vec<_> = self.events(kind).collect();
        assert_eq!(all.len(), 1, "expected one `{kind}` line\n{}", self.dump());
        all[0]
    }
}

/// Runs the client to completion with `args`.
pub fn run(args: &[&str]) -> Run {
    let child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {BIN}: {e}"));
    finish(child)
}

pub fn finish(child: Child) -> Run {
    let pid = child.id();
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {BIN}: {e}"));
    let lines = parse_lines(&output.stdout);
    Run { output, lines, pid }
}

/// Reads JSON lines from a running child until one of kind `event` arrives; returns all
/// lines read so far. Panics at EOF (the child died or never printed it).
pub fn read_until(out: &mut BufReader<ChildStdout>, event: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        let n = out
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("reading the child's stdout: {e}"));
        assert!(
            n > 0,
            "child ended before printing `{event}`; it printed {seen:?}"
        );
        let v: Value = serde_json::from_str(line.trim_end())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let done = v["event"] == event;
        seen.push(v);
        if done {
            return seen;
        }
    }
}

pub fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not an unsigned number in {v}"))
}

pub fn i64_of(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {v}"))
}
