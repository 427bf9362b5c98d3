//! The io_uring policy through `vigil daemon` (`[io_uring] policy`, `docs/io_uring.md`): an
//! SQPOLL ring creation kills its process, a CONNECT through io_uring gets EPERM in every mode
//! while the process lives on, a forbidden op kills its process before io-wq runs it; each
//! denial is a `VIGIL_POLICY` event found by `ausearch -k`. A policy with an error is refused
//! at SIGHUP and the running one stays; a good one replaces it. The shipped example policy
//! and configuration parse.

mod daemon_util;
mod uring_support;

use std::net::TcpListener;
use std::path::Path;

use uring_support::*;
use vigil_testkit::unique_key;

fn denials(d: &UringDaemon, key: &str, pid: u32) -> Vec<Event> {
    d.search(&["-k", key, "-p", &pid.to_string()])
        .into_iter()
        .filter(|e| e.rec("VIGIL_POLICY").is_some())
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)] // one daemon start for the whole scenario
fn policy_denials_and_reloads_through_the_daemon() {
    if !need_kernel("policy_denials_and_reloads_through_the_daemon") {
        return;
    }
    let (a_sq, a_net, a_op) = (unique_auid(), unique_auid(), unique_auid());
    let (k_sq, k_net, k_op) = (
        unique_key("uringd-nosq"),
        unique_key("uringd-nonet"),
        unique_key("uringd-noop"),
    );
    let tmp = test_dir("vigil-uringd-pol-");
    let policy = tmp.path().join("io_uring.policy");
    let pfile = policy.to_str().unwrap();
    let good = format!(
        "# test policy\n\
         -a deny,io_uring -F uring_sqpoll=1 -F auid={a_sq} -k {k_sq}\n\
         -a deny,io_uring -S connect -F auid={a_net} -k {k_net}\n\
         -a deny,io_uring -S mkdirat -F auid={a_op} -k {k_op}\n"
    );
    std::fs::write(&policy, &good).unwrap();
    // No io_uring audit rules: the policy alone loads and attaches what it needs.
    let mut d = UringDaemon::start("", &format!("[io_uring]\npolicy = \"{pfile}\"\n"));
    assert_eq!(d.status_str("io_uring_mode"), "cgroup+kill");
    assert_eq!(
        d.status_str("io_uring_policy"),
        format!("{pfile} (3 deny rules)")
    );

    // SQPOLL ring creation: killed inside io_uring_setup.
    let run = run_client(&["sqpoll-only", "--hold-ms", "2000"], a_sq);
    assert!(run.killed(), "sqpoll-only was not killed: {:?}", run.status);
    assert!(
        !run.lines.iter().any(|l| l["event"] == "ring"),
        "io_uring_setup returned: {:?}",
        run.lines
    );
    let ev = denials(&d, &k_sq, run.pid);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let p = ev[0].must("VIGIL_POLICY");
    for (f, v) in [
        ("action", "deny"),
        ("how", "killed"),
        ("what", "sqpoll"),
        ("hook", "io_uring_create"),
        ("rule", "0"),
        ("sig", "9"),
    ] {
        assert_eq!(p.f(f), v, "{}", p.line);
    }
    assert_eq!(p.f("src"), format!("{pfile}:2"));
    assert_eq!(p.f("auid"), a_sq.to_string());
    assert_eq!(ev[0].must("SYSCALL").f("syscall"), "425");

    // CONNECT through io_uring: EPERM in every mode, the process lives on.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let connect = |mode: &str, auid: u32| {
        let run = run_client(&["connect", "--addr", &addr, "--mode", mode], auid);
        assert!(run.status.success(), "{mode}: {}", run.stderr);
        let res = run.ops()[0]["res"].as_i64().unwrap();
        (run.pid, res)
    };
    for mode in ["plain", "sqpoll", "async"] {
        let (pid, res) = connect(mode, a_net);
        assert_eq!(res, -i64::from(libc::EPERM), "{mode}: connect result");
        let ev = denials(&d, &k_net, pid);
        assert_eq!(ev.len(), 1, "{mode}: {ev:#?}");
        let p = ev[0].must("VIGIL_POLICY");
        assert_eq!(
            (p.f("how"), p.f("what"), p.f("uring_op"), p.f("hook")),
            ("prevented", "op", "16", "cgroup_connect4"),
            "{mode}: {}",
            p.line
        );
    }
    // Another login uid connects freely.
    assert_eq!(connect("plain", unique_auid()).1, 0);

    // A forbidden op (MKDIRAT, queued to io-wq) kills its process before it runs.
    let work = test_dir("vigil-uringd-pol-op-");
    let run = run_client(
        &[
            "ops",
            "--mode",
            "async",
            "--dir",
            work.path().to_str().unwrap(),
        ],
        a_op,
    );
    assert!(run.killed(), "ops was not killed: {:?}", run.status);
    assert!(
        !work.path().join(format!("uring-{}", run.pid)).exists(),
        "the denied MKDIRAT ran"
    );
    let ev = denials(&d, &k_op, run.pid);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let p = ev[0].must("VIGIL_POLICY");
    assert_eq!(
        (p.f("how"), p.f("what"), p.f("uring_op"), p.f("src")),
        ("killed", "op", "37", &*format!("{pfile}:4")),
        "{}",
        p.line
    );

    // A policy with an error: the reload is refused whole, the policy in force stays.
    std::fs::write(
        &policy,
        format!("-a deny,io_uring -S connect -F auid={a_net} -k {k_net}\n-a deny,io_uring -F nosuchfield=1\n"),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    d.wait_log("refused reload", |t| t.contains("res=failed"));
    let err = d.stderr_text();
    assert!(
        err.contains(&format!("{pfile}:2:")),
        "the error names file:line:column:\n{err}"
    );
    assert_eq!(
        d.status_str("io_uring_policy"),
        format!("{pfile} (3 deny rules)")
    );
    assert_eq!(connect("plain", a_net).1, -i64::from(libc::EPERM));

    // A good policy without the connect rule replaces it.
    std::fs::write(
        &policy,
        format!("-a deny,io_uring -S mkdirat -F auid={a_op} -k {k_op}\n"),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    d.wait_log("accepted reload", |t| {
        t.matches("op=reconfigure").count() == 2 && t.contains("state=changed")
    });
    assert_eq!(
        d.status_str("io_uring_policy"),
        format!("{pfile} (1 deny rules)")
    );
    assert_eq!(connect("plain", a_net).1, 0, "connect after the rule went");
    let st = d.status();
    assert!(st["uring_denials"].parse::<u64>().unwrap() >= 6, "{st:?}");
    assert_eq!(st["lost_uring_ringbuf"], "0");
    assert!(d.stop().success());
}

#[test]
fn a_bad_policy_is_refused_by_check_and_at_start() {
    let tmp = test_dir("vigil-uringd-badpol-");
    let policy = tmp.path().join("bad.policy");
    std::fs::write(&policy, "# bad\n-a deny,io_uring -S nosuchop\n").unwrap();
    let cfg = tmp.path().join("vigil.toml");
    let log = tmp.path().join("logs/audit.log");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nsocket = \"{}\"\n[log]\nfile = \"{}\"\n[io_uring]\npolicy = \"{}\"\n",
            tmp.path().join("ctl.sock").display(),
            log.display(),
            policy.display()
        ),
    )
    .unwrap();
    let want = format!("{}:2:", policy.display());
    // --check validates the policy too (no kernel needed).
    let out = std::process::Command::new(daemon_util::VIGIL)
        .args(["daemon", "--check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&want), "{err}");
    if !need_kernel("a_bad_policy_is_refused_at_start") {
        return;
    }
    let _lock = vigil_testkit::kernel_lock();
    let out = std::process::Command::new(daemon_util::VIGIL)
        .args(["daemon", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&want), "{err}");
}

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn the_shipped_example_policy_and_config_parse() {
    let cfg = vigil::config::Config::load(
        Some(&repo_file("contrib/vigil.toml")),
        &vigil::config::Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.io_uring.policy.as_deref(),
        Some(Path::new("/etc/vigil/io_uring.policy"))
    );
    let example = repo_file("contrib/io_uring.policy");
    let p = vigil::daemon::uring::read_policy(&example).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(p.rules >= 3, "{p:?}");
    // The embedded default has no policy.
    assert_eq!(vigil::config::Config::embedded().io_uring.policy, None);
    // A relative policy path is refused with its place.
    let err = vigil::config::Config::parse("[io_uring]\npolicy = \"rel.policy\"\n", "t.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("t.toml:2:1: io_uring.policy: expected an absolute path"),
        "{err}"
    );
}
