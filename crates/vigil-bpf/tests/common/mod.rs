//! Shared by the privileged tests: the kernel lock, loading, a workload child filtered by
//! its pid, and collecting its events.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vigil_abi::VIGIL_AUDIT_ARCH_X86_64;
use vigil_bpf::{EventReader, FilterSet, LoadOptions, Loader, SyscallEvent};
use vigil_testkit::{kernel_lock, require, KernelLock, Need};

pub struct Kit {
    pub loader: Loader,
    pub reader: EventReader,
    // Dropped last: the loader detaches before the lock is released.
    _lock: KernelLock,
}

/// Root + BTF, the kernel lock, a loaded object; `None` (printed skip) when impossible.
pub fn kit(test: &str) -> Option<Kit> {
    kit_with(test, &LoadOptions::default())
}

pub fn kit_with(test: &str, opts: &LoadOptions) -> Option<Kit> {
    if !require(test, &[Need::Root, Need::Btf]) {
        return None;
    }
    let lock = kernel_lock();
    let mut loader = Loader::load(opts).unwrap_or_else(|e| panic!("{test}: load: {e}"));
    let reader = loader.take_reader().expect("reader").expect("first take");
    Some(Kit {
        loader,
        reader,
        _lock: lock,
    })
}

pub fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vigil-bpf-workload"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn workload")
}

/// A filter for `names` (x86_64) and thread group `tgid`.
pub fn filter(names: &[&str], tgid: u32) -> FilterSet {
    let mut f = FilterSet {
        tgid: Some(tgid),
        rulesets: 1,
        ..FilterSet::default()
    };
    for n in names {
        f.add_name(VIGIL_AUDIT_ARCH_X86_64, n)
            .expect("known syscall");
    }
    f
}

/// Runs a workload with a filter on its pid for `names`; returns its stdout and events.
pub fn run(kit: &mut Kit, names: &[&str], args: &[&str]) -> (String, Vec<SyscallEvent>) {
    let mut child = spawn(args);
    let pid = child.id();
    kit.loader.apply(&filter(names, pid)).expect("apply");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("go");
    let out = child.wait_with_output().expect("wait");
    kit.loader.apply(&FilterSet::default()).expect("clear");
    let mut events = Vec::new();
    // Records are written before each syscall returns: after the child exited they are
    // all in the ring.
    while kit
        .reader
        .wait(Some(Duration::from_millis(200)))
        .expect("wait")
    {
        if kit.reader.drain(|e| {
            if e.task.pid == pid {
                events.push(e);
            }
        }) == 0
        {
            break;
        }
    }
    (String::from_utf8_lossy(&out.stdout).into_owned(), events)
}

/// `key=value` from the workload's line starting with `key`.
pub fn field(out: &str, line: &str, key: &str) -> i64 {
    let l = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(line))
        .unwrap_or_else(|| panic!("no line {line} in {out:?}"));
    l.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {l:?}"))
}

pub fn nr(name: &str) -> u32 {
    vigil_rules::tables::syscall_number(VIGIL_AUDIT_ARCH_X86_64, name).expect("syscall")
}

/// Runs the getppid loop workload with nothing attached (no filter applied).
pub fn run_detached_loop(kit: &mut Kit, n: u32) -> (String, Vec<SyscallEvent>) {
    let mut child = spawn(&["loop", &n.to_string()]);
    let pid = child.id();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("go");
    let out = child.wait_with_output().expect("wait");
    let mut events = Vec::new();
    kit.reader.drain(|e| {
        if e.task.pid == pid {
            events.push(e);
        }
    });
    (String::from_utf8_lossy(&out.stdout).into_owned(), events)
}
