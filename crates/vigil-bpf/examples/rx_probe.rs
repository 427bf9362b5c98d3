//! Dev probe: in-kernel cost per run of the `sys_exit` program (BPF run-time statistics) for
//! getppid under: a filter naming other syscalls, the interim filter naming getppid for
//! another pid, N compiled rules naming getppid that never match (N from argv); with
//! `file:RULES`, for that rules file (compiled as the daemon does) and several operations:
//! getppid, a read-only and a write open of a file, chmod.
//! `cargo run --release -p vigil-bpf --example rx_probe -- 10 c10 1000 file:x.rules` (root).
use std::fmt::Write as _;

use vigil_abi::{Counter, VIGIL_AUDIT_ARCH_X86_64};
use vigil_bpf::{FilterSet, LoadOptions, Loader};

fn measure(l: &Loader, what: &str) {
    measure_op(l, what, &mut || {
        // SAFETY: getppid has no arguments.
        unsafe { libc::syscall(libc::SYS_getppid) };
    });
}

fn measure_op(l: &Loader, what: &str, op: &mut dyn FnMut()) {
    let (t0, n0) = l.program_stats().expect("stats");
    let c0 = l.counters().expect("counters");
    for _ in 0..20000 {
        op();
    }
    let (t1, n1) = l.program_stats().expect("stats");
    let d = l.counters().expect("counters").since(&c0);
    println!(
        "{what}: {} ns per run ({} runs), rules run per candidate {}",
        t1.saturating_sub(t0).as_nanos() / u128::from((n1 - n0).max(1)),
        n1 - n0,
        d.get(Counter::RulesRun) / d.get(Counter::Candidates).max(1)
    );
}

#[allow(clippy::many_single_char_names)]
fn main() {
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).expect("BPF stats (root?)");
    let mut l = Loader::load(&LoadOptions {
        exclude_self: false,
        ..LoadOptions::default()
    })
    .expect("load");
    let mut f = FilterSet {
        tgid: Some(1),
        rulesets: 1,
        ..FilterSet::default()
    };
    f.add_name(VIGIL_AUDIT_ARCH_X86_64, "chmod").expect("chmod");
    l.apply(&f).expect("apply");
    measure(&l, "bitmap reject");
    f.add_name(VIGIL_AUDIT_ARCH_X86_64, "getppid")
        .expect("getppid");
    l.apply(&f).expect("apply");
    measure(&l, "interim filter reject");
    // N: default placement; cN: every list with an = field goes to the index (crowded_list 0).
    for arg in std::env::args().skip(1) {
        if let Some(path) = arg.strip_prefix("file:") {
            rules_file(&mut l, path);
            continue;
        }
        let (crowded, n) = match arg.strip_prefix('c') {
            Some(n) => (Some(0), n.parse::<usize>().expect("count")),
            None => (None, arg.parse::<usize>().expect("count")),
        };
        let mut t = String::new();
        for i in 0..n {
            let _ = writeln!(
                t,
                "-a always,exit -F arch=b64 -S getppid,read -F uid={} -k k{i}",
                54_321 + i
            );
        }
        let rules = vigil_rules::parse_str(&t, "probe").expect("rules").rules;
        let set = match crowded {
            Some(c) => vigil_rules::compile::compile_with(
                &[rules],
                &vigil_rules::compile::CompileOptions { crowded_list: c },
            ),
            None => vigil_rules::compile::compile(&[rules]),
        }
        .expect("compile");
        l.apply_rules(&set, false).expect("apply rules");
        measure(&l, &format!("{arg}: {n} compiled rules, never match"));
    }
}

/// The operations a rules file is measured with (each 20,000 times).
fn rules_file(l: &mut Loader, path: &str) {
    let text = std::fs::read_to_string(path).expect("rules file");
    let rules = vigil_rules::parse_str(&text, path).expect("rules").rules;
    let set = vigil_rules::compile::compile_with(
        &[rules],
        &vigil_rules::compile::CompileOptions { crowded_list: 1 },
    )
    .expect("compile");
    l.apply_rules(&set, false).expect("apply rules");
    let dir = std::env::temp_dir().join(format!("rx_probe.{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let f = std::ffi::CString::new(dir.join("f").to_str().expect("utf-8")).expect("path");
    let ro = c"/etc/hostname";
    measure(l, &format!("{path}: getppid"));
    for (what, name, flags) in [
        ("open read-only", ro, libc::O_RDONLY),
        (
            "open for writing",
            f.as_c_str(),
            libc::O_WRONLY | libc::O_CREAT,
        ),
    ] {
        measure_op(l, &format!("{path}: {what}"), &mut || {
            // SAFETY: a NUL-terminated path; the descriptor is closed at once.
            unsafe {
                let fd = libc::open(name.as_ptr(), flags, 0o600);
                libc::close(fd);
            }
        });
    }
    measure_op(l, &format!("{path}: chmod"), &mut || {
        // SAFETY: a NUL-terminated path.
        unsafe { libc::chmod(f.as_ptr(), 0o600) };
    });
    let _ = std::fs::remove_dir_all(&dir);
}
