//! Measures how much of a workload BPF leaves undecided (judged in user space) for a rules
//! file, with the compiled index as the daemon loads it (`crowded_list: 1`).
//!
//! `cargo run --release -p vigil-bpf --example undecided_rate -- RULES[.gz] [ROUNDS]` (root);
//! `... -- RULES machine:SECS`: the whole machine's syscalls for SECS seconds instead (the
//! BPF counters: candidates, undecided, sent).
//! The workload runs as a login session of uid 1000 (its own audit session id, which is how
//! its events are told apart from the rest of the machine): file reads and writes in a
//! temporary directory, reads of watched files, chmod, rename, unlink, small execs. Every
//! candidate syscall is sent (`emit_all`) so the share BPF decided can be counted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use vigil_bpf::{LoadOptions, Loader};
use vigil_rules::compile::{compile_with, CompileOptions};

const WORKLOAD: &str = r#"
cat /proc/self/sessionid; echo
read go
D=$(mktemp -d)
i=0
while [ $i -lt $ROUNDS ]; do
  cat /etc/passwd /etc/group /etc/hosts > /dev/null
  ls -l /usr/bin > /dev/null
  echo x > "$D/f$i"
  echo y >> "$D/f$i"
  chmod 600 "$D/f$i"
  mv "$D/f$i" "$D/g$i"
  cp "$D/g$i" "$D/h$i"
  ( cd "$D" && cat "h$i" > /dev/null && rm "h$i" )
  rm "$D/g$i"
  mkdir "$D/d$i" && rmdir "$D/d$i"
  cat /etc/shadow > /dev/null 2>&1
  id > /dev/null
  i=$((i + 1))
done
rm -rf "$D"
"#;

fn read_rules(path: &str) -> String {
    if std::path::Path::new(path)
        .extension()
        .is_some_and(|e| e == "gz")
    {
        let out = Command::new("zcat").arg(path).output().expect("zcat");
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: undecided_rate RULES [ROUNDS]");
    let arg = args.next().unwrap_or_else(|| "50".into());
    let file = vigil_rules::parse_str(&read_rules(&path), &path).expect("rules");
    let set = compile_with(&[file.rules], &CompileOptions { crowded_list: 1 }).expect("compile");

    let mut loader = Loader::load(&LoadOptions {
        ringbuf_bytes: 64 << 20,
        ..LoadOptions::default()
    })
    .expect("load (root, BTF)");
    let mut reader = loader.take_reader().expect("reader").expect("reader");
    loader.apply_rules(&set, true).expect("apply");
    println!(
        "{path}: BPF leaves to user space: {}",
        loader.undecided_reason().unwrap_or("nothing")
    );
    let before = loader.counters().expect("counters");
    if let Some(secs) = arg.strip_prefix("machine:") {
        loader.apply_rules(&set, false).expect("apply");
        let before = loader.counters().expect("counters");
        let mut sent = 0u64;
        let t0 = std::time::Instant::now();
        let secs: u64 = secs.parse().expect("seconds");
        while t0.elapsed() < Duration::from_secs(secs) {
            let _ = reader.wait(Some(Duration::from_millis(100)));
            sent += reader.drain(|_| {}) as u64;
        }
        let d = loader.counters().expect("counters").since(&before);
        println!(
            "whole machine, {secs} s: {} candidates, {} undecided, {} sent ({sent} read), {} lost",
            d.get(vigil_abi::Counter::Candidates),
            d.get(vigil_abi::Counter::Undecided),
            d.get(vigil_abi::Counter::Emitted),
            d.lost()
        );
        return;
    }
    let rounds: u32 = arg.parse().expect("rounds");

    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(WORKLOAD)
        .env("ROUNDS", rounds.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    // SAFETY: only a write to /proc in the child before exec.
    unsafe {
        cmd.pre_exec(|| std::fs::write("/proc/self/loginuid", "1000"));
    }
    let mut child = cmd.spawn().expect("spawn workload");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("session id");
    let ses: u32 = line.trim().parse().expect("session id number");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("go");

    let (mut total, mut undecided, mut wanted) = (0u64, 0u64, 0u64);
    let mut by_nr: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut done = false;
    loop {
        let _ = reader.wait(Some(Duration::from_millis(50)));
        reader.drain(|e| {
            if e.task.sessionid != ses {
                return;
            }
            total += 1;
            let slot = by_nr.entry(e.nr).or_default();
            slot.0 += 1;
            if e.undecided != 0 {
                undecided += 1;
                slot.1 += 1;
            } else if e.rulesets != 0 {
                wanted += 1;
            }
        });
        if done {
            break;
        }
        if child.try_wait().expect("wait").is_some() {
            done = true;
        }
    }
    let d = loader.counters().expect("counters").since(&before);
    println!(
        "{rounds} rounds: {total} candidate syscalls; {wanted} recorded by a BPF decision; \
         {undecided} undecided ({}%), sent to user space: {}; ring-buffer losses {}",
        // Integer percent: enough for a rate.
        undecided * 100 / total.max(1),
        wanted + undecided,
        d.lost()
    );
    let mut top: Vec<_> = by_nr.iter().filter(|(_, v)| v.1 > 0).collect();
    top.sort_by_key(|(_, v)| std::cmp::Reverse(v.1));
    for (nr, (n, u)) in top.iter().take(15) {
        println!(
            "  {:<16} {u:>6} undecided of {n}",
            vigil_rules::tables::syscall_name(0xc000_003e, **nr).unwrap_or("?")
        );
    }
}
