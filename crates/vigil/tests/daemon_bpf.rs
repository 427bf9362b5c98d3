//! `vigil daemon` on real kernel events (vigil-bpf): a rule catches a real syscall, ausearch
//! finds it after a `vigil ctl -m` marker, hooks are attached only while rules need them,
//! BPF's verdicts and keys are what the log shows, BPF losses are reported in-band.
//! Holds the kernel lock: BPF hooks see the whole machine.

mod daemon_util;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use daemon_util::{Setup, TestDaemon};
use vigil_testkit::{kernel_lock, require, unique_key, Need};

fn need_bpf(test: &str) -> bool {
    require(test, &[Need::Root, Need::Btf, Need::AuditTools])
}

/// `cat PATH` as nobody (uid 65534), so the rule's uid filter singles it out.
fn cat_as_nobody(path: &std::path::Path) {
    let mut cmd = Command::new("cat");
    cmd.arg(path).stdout(std::process::Stdio::null());
    // SAFETY: setgid/setuid are async-signal-safe; run in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let st = cmd.status().expect("run cat as nobody");
    assert!(st.success(), "cat {} as nobody: {st}", path.display());
}

#[test]
fn a_real_syscall_is_audited_and_found_by_ausearch() {
    if !need_bpf("a_real_syscall_is_audited_and_found_by_ausearch") {
        return;
    }
    let _lock = kernel_lock();
    let key = unique_key("bpf");
    let d = TestDaemon::start(Setup {
        rules: Some(format!(
            "-a always,exit -F arch=b64 -S openat -F uid=65534 -k {key}\n"
        )),
        kernel: true,
        ..Setup::default()
    });
    let st = d.status();
    assert_eq!(st["source"], "bpf");
    assert!(st["hook_mode"].contains("sys_exit"), "{st:?}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let target = dir.path().join(format!("{key}.txt"));
    std::fs::write(&target, "x").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    cat_as_nobody(&target);
    let marker = unique_key("bpf-marker");
    d.ctl_ok(&["-m", &marker]);

    let found = d.ausearch(&["-k", &key, "--raw"]);
    let name = format!("name=\"{}\"", target.display());
    let path_line = found
        .lines()
        .find(|l| l.starts_with("type=PATH") && l.contains(&name))
        .unwrap_or_else(|| panic!("no PATH {name} under key {key}:\n{found}"));
    let serial = path_line
        .split("msg=audit(")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let syscall = found
        .lines()
        .find(|l| l.starts_with("type=SYSCALL") && l.contains(serial))
        .unwrap_or_else(|| panic!("no SYSCALL for {serial}:\n{found}"));
    for want in [
        "arch=c000003e syscall=257 success=yes",
        " uid=65534 ",
        " comm=\"cat\" ",
        &format!(" key=\"{key}\""),
    ] {
        assert!(syscall.contains(want), "missing {want:?} in {syscall}");
    }
    // The marker comes after the event in the log.
    let log = d.log_text();
    let ev_at = log.find(&name).unwrap();
    let marker_at = log.find(&marker).expect("marker in the log");
    assert!(ev_at < marker_at, "the event must precede the marker");
}

#[test]
fn hooks_follow_the_rules_and_the_enabled_flag() {
    if !need_bpf("hooks_follow_the_rules_and_the_enabled_flag") {
        return;
    }
    let _lock = kernel_lock();
    let mut d = TestDaemon::start(Setup {
        rules: Some(String::new()),
        kernel: true,
        ..Setup::default()
    });
    let hook = |d: &TestDaemon| d.status()["hook_mode"].clone();
    assert!(hook(&d).starts_with("none"), "attached with no rules");
    d.ctl_ok(&[
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "unlinkat",
        "-k",
        "h",
    ]);
    assert!(hook(&d).contains("(1 syscalls)"), "{}", hook(&d));
    d.ctl_ok(&["-e", "0"]);
    assert!(hook(&d).starts_with("none"), "attached while disabled");
    d.ctl_ok(&["-e", "1"]);
    assert!(hook(&d).contains("sys_exit"));
    d.ctl_ok(&["-D"]);
    assert!(hook(&d).starts_with("none"), "attached after -D");
    let st = d.status();
    for c in ["lost_ringbuf", "lost_ringbuf_argv", "lost_decode_errors"] {
        assert!(st.contains_key(c), "{c} missing from status: {st:?}");
    }
    assert!(d.stop().success());
}

/// The `msg=audit(STAMP)` of a raw record line.
fn stamp(line: &str) -> Option<&str> {
    line.split("msg=audit(").nth(1)?.split(')').next()
}

/// `cmd` as nobody (uid/gid 65534), its exit status ignored (calls may fail on purpose).
fn as_nobody(cmd: &mut Command) {
    // SAFETY: setgid/setuid are async-signal-safe; run in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _ = cmd.status().expect("run as nobody");
}

/// Events BPF decided keep its verdict and keys (several keys, a never rule before them); a
/// file watched before it exists is audited once created; a name cut at the BPF side's limit
/// shows in `vigil ctl -s` and in-band as a `VIGIL_LOSS` record.
#[test]
fn bpf_verdicts_keys_watches_and_losses_in_band() {
    if !need_bpf("bpf_verdicts_keys_watches_and_losses_in_band") {
        return;
    }
    let _lock = kernel_lock();
    let k1 = unique_key("bpfk1");
    let k2 = unique_key("bpfk2");
    let kw = unique_key("bpfkw");
    let kl = unique_key("bpfkl");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let watched = dir.path().join("watched");
    let d = TestDaemon::start(Setup {
        rules: Some(format!(
            "-a never,exit -F arch=b64 -S fchmodat -F uid=65534 -F a2=0700\n\
             -a always,exit -F arch=b64 -S fchmodat -F uid=65534 -k {k1} -k {k2}\n\
             -w {} -p wa -k {kw}\n\
             -a always,exit -F arch=b64 -S openat -F uid=65534 -F exit=-ENAMETOOLONG -k {kl}\n",
            watched.display()
        )),
        kernel: true,
        ..Setup::default()
    });
    let target = dir.path().join("f");
    std::fs::write(&target, "x").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o666)).unwrap();
    let long = format!("/{}", "a".repeat(5000));
    as_nobody(Command::new("chmod").arg("755").arg(&target));
    as_nobody(Command::new("chmod").arg("700").arg(&target));
    as_nobody(Command::new("cat").arg(&long));
    // Created after the rules were loaded.
    std::fs::write(&watched, "x").unwrap();
    let marker = unique_key("bpf-marker");
    d.ctl_ok(&["-m", &marker]);

    let target_name = format!("name=\"{}\"", target.display());
    for k in [&k1, &k2] {
        let found = d.ausearch(&["-k", k, "--raw"]);
        // The rule takes any process of uid 65534 on the machine: count only the events on
        // this test's file.
        let ours: Vec<&str> = found
            .lines()
            .filter(|l| l.starts_with("type=PATH") && l.contains(&target_name))
            .filter_map(stamp)
            .collect();
        let syscalls: Vec<&str> = found
            .lines()
            .filter(|l| {
                l.starts_with("type=SYSCALL") && stamp(l).is_some_and(|s| ours.contains(&s))
            })
            .collect();
        // chmod 755 (EPERM: nobody does not own the file); not 700 (the never rule).
        assert_eq!(syscalls.len(), 1, "{k}: {found}");
        assert!(syscalls[0].contains(" a2=1ed "), "{found}");
    }
    let l = d.ausearch(&["-k", &kl, "--raw"]);
    assert!(l.contains(" exit=-36 "), "the name too long: {l}");
    let w = d.ausearch(&["-k", &kw, "--raw"]);
    assert!(
        w.contains(&format!("name=\"{}\"", watched.display())),
        "the file created after the rules: {w}"
    );
    let st = d.status();
    let num = |k: &str| st.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    assert!(num("bpf_events_judged_in_bpf") >= 3, "{st:?}");
    assert_eq!(num("bpf_verdicts_inconsistent"), 0, "{st:?}");
    assert!(num("lost_truncated_string") >= 1, "{st:?}");
    d.wait_log("a truncated_string VIGIL_LOSS", |t| {
        t.lines()
            .any(|l| l.starts_with("type=VIGIL_LOSS ") && l.contains(" source=truncated_string "))
    });
}
