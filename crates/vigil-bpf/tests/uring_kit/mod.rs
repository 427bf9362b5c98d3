//! Shared by the io_uring privileged tests: the kernel lock, the io_uring instance, the test
//! client (crates/vigil-uring-client), collecting a client's events by pid, and writing them as
//! an audit log for ausearch.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_bpf::convert::Clock;
use vigil_bpf::uring::{
    convert, Denial, UringConfig, UringEvent, UringLoader, UringOptions, UringOutput, UringReader,
};
use vigil_format::model::Identity;
use vigil_format::{TextMode, TextWriter};
use vigil_rules::ast::RuleSet;
use vigil_testkit::{kernel_lock, require, KernelLock, Need};

pub struct Kit {
    pub loader: UringLoader,
    pub reader: UringReader,
    // Dropped last: the loader detaches before the lock is released.
    _lock: KernelLock,
}

/// Root + BTF, the kernel lock, a loaded io_uring instance; `None` (printed skip) otherwise.
pub fn kit(test: &str) -> Option<Kit> {
    kit_with(test, &UringOptions::default())
}

pub fn kit_with(test: &str, opts: &UringOptions) -> Option<Kit> {
    if !require(test, &[Need::Root, Need::Btf]) {
        return None;
    }
    let lock = kernel_lock();
    let mut loader = UringLoader::load(opts).unwrap_or_else(|e| panic!("{test}: load: {e}"));
    let reader = loader.take_reader().expect("reader").expect("first take");
    Some(Kit {
        loader,
        reader,
        _lock: lock,
    })
}

/// The test client, built on first use into this test's target directory.
pub fn client() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test exe");
        // target/<profile>/deps/<test> -> target/<profile>/
        let dir = exe.parent().and_then(Path::parent).expect("target dir");
        let bin = dir.join("vigil-uring-client");
        let profile = dir.file_name().and_then(|s| s.to_str()).unwrap_or("debug");
        let target = dir.parent().expect("target root");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-q", "-p", "vigil-uring-client"])
            .env("CARGO_TARGET_DIR", target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile == "release" {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("cargo build vigil-uring-client");
        assert!(st.success(), "building vigil-uring-client failed");
        assert!(bin.exists(), "{} missing after build", bin.display());
        bin
    })
}

pub fn spawn(args: &[&str]) -> Child {
    Command::new(client())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vigil-uring-client")
}

/// Parses the client's JSON lines.
pub fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The client's `op` lines.
pub fn op_lines(v: &[Value]) -> Vec<&Value> {
    v.iter().filter(|l| l["event"] == "op").collect()
}

/// Opcode bitmap of names.
pub fn ops(names: &[&str]) -> u64 {
    names.iter().fold(0, |m, n| {
        m | 1 << vigil_rules::tables::uring_op_number(n).unwrap_or_else(|| panic!("op {n}"))
    })
}

pub fn config(names: &[&str]) -> UringConfig {
    UringConfig {
        ops: ops(names),
        rulesets: 1,
        ..UringConfig::default()
    }
}

/// Reads outputs until `done` holds for the collected ones or `timeout` passes.
pub fn collect(
    reader: &mut UringReader,
    timeout: Duration,
    mut done: impl FnMut(&[UringOutput]) -> bool,
) -> Vec<UringOutput> {
    let end = Instant::now() + timeout;
    let mut out = Vec::new();
    while Instant::now() < end {
        reader.wait(Some(Duration::from_millis(50))).expect("wait");
        reader.drain(&mut |o| out.push(o));
        if done(&out) {
            break;
        }
    }
    out
}

/// The ops of thread group `pid` (the client puts `pid << 32` in every `user_data`).
pub fn ops_of(out: &[UringOutput], pid: u32) -> Vec<&UringEvent> {
    out.iter()
        .filter_map(|o| match o {
            UringOutput::Op(e) if e.submit.op.user_data >> 32 == u64::from(pid) => Some(&**e),
            _ => None,
        })
        .collect()
}

pub fn denials_of(out: &[UringOutput], pid: u32) -> Vec<&Denial> {
    out.iter()
        .filter_map(|o| match o {
            UringOutput::Denial(d) if d.rec.deny.task.pid == pid => Some(&**d),
            _ => None,
        })
        .collect()
}

pub fn opname(e: &UringEvent) -> &'static str {
    vigil_rules::tables::uring_op_name(e.submit.op.opcode).unwrap_or("?")
}

pub fn path_names(e: &UringEvent, clock: Clock) -> Vec<String> {
    convert::to_raw(e, &clock)
        .paths
        .iter()
        .map(|p| {
            p.name.as_ref().map_or(String::new(), |b| {
                String::from_utf8_lossy(&b.0).into_owned()
            })
        })
        .collect()
}

/// Writes the ops' events, keyed by `rules`' evaluation (as the daemon will), and denials,
/// as raw audit text. Ops no rule records are left out.
pub fn audit_text(
    events: &[&UringEvent],
    denials: &[(&Denial, Vec<String>)],
    rules: Option<&RuleSet>,
) -> String {
    let clock = Clock::now();
    let compiled =
        rules.map(|r| vigil_rules::compile::compile(std::slice::from_ref(r)).expect("compile"));
    let mut w = TextWriter::new(TextMode::Raw, vigil_format::NoResolver);
    let mut out = Vec::new();
    let mut serial = 1000;
    for e in events {
        let raw = convert::to_raw(e, &clock);
        let keys = match (&compiled, rules) {
            (Some(c), Some(r)) => match convert::keys_for(c, r, e) {
                Some(k) => k,
                None => continue,
            },
            _ => Vec::new(),
        };
        serial += 1;
        let ev = vigil_format::build_event(&raw, Identity::from_ns(raw.ts_ns, serial), &keys);
        w.write_event(&ev, &mut out);
    }
    for (d, keys) in denials {
        serial += 1;
        let ev = convert::denial_event(d, &clock, serial, keys, "test.rules:1");
        w.write_event(&ev, &mut out);
    }
    String::from_utf8(out).expect("utf-8 log")
}

/// Writes `text` to a log file in a fresh directory and runs `ausearch -if LOG ARGS`.
pub fn ausearch(text: &str, args: &[&str]) -> vigil_testkit::ToolOutput {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    std::fs::write(&log, text).expect("write log");
    vigil_testkit::ausearch(&log, args)
}

/// Deny rules from policy text (`-a deny,io_uring ...` lines), compiled for the maps.
pub fn policy(text: &str) -> vigil_bpf::uring::CompiledPolicy {
    let (rules, _) =
        vigil_rules::policy::parse_policy(text, "test.policy", &vigil_rules::SystemHost)
            .unwrap_or_else(|e| panic!("policy: {e}"));
    vigil_bpf::uring::policy::compile(&rules, &vigil_bpf::uring::policy::resolve_exe)
        .unwrap_or_else(|e| panic!("policy: {e}"))
}

/// One op through io_uring in this process: `mode` is plain, sqpoll or async.
pub fn uring_op(mode: &str, entry: io_uring::squeue::Entry) -> i32 {
    let mut b = io_uring::IoUring::<io_uring::squeue::Entry, io_uring::cqueue::Entry>::builder();
    if mode == "sqpoll" {
        b.setup_sqpoll(1000);
    }
    let mut ring = b.build(8).expect("io_uring");
    let entry = if mode == "async" {
        entry.flags(io_uring::squeue::Flags::ASYNC)
    } else {
        entry
    };
    // SAFETY: the buffers the entry points to outlive the wait below.
    unsafe { ring.submission().push(&entry).expect("sq full") };
    ring.submit_and_wait(1).expect("submit");
    let cqe: io_uring::cqueue::Entry = ring.completion().next().expect("cqe");
    cqe.result()
}
