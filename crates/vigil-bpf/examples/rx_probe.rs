//! Dev probe: in-kernel cost per run of the `sys_exit` program (BPF run-time statistics) for
//! getppid under: a filter naming other syscalls, the interim filter naming getppid for
//! another pid, N compiled rules naming getppid that never match (N from argv).
//! `cargo run --release -p vigil-bpf --example rx_probe -- 10 c10 1000` (root).
use std::fmt::Write as _;

use vigil_abi::{Counter, VIGIL_AUDIT_ARCH_X86_64};
use vigil_bpf::{FilterSet, LoadOptions, Loader};

fn measure(l: &Loader, what: &str) {
    let (t0, n0) = l.program_stats().expect("stats");
    let c0 = l.counters().expect("counters");
    for _ in 0..20000 {
        // SAFETY: getppid has no arguments.
        unsafe { libc::syscall(libc::SYS_getppid) };
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
