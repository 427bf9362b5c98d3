//! `vigil daemon` as a process: start-up records, signals, reload, rotation, replay, losses.

mod daemon_util;

use std::time::Duration;

use daemon_util::{need_ausearch, need_root, syscall_event, Setup, TestDaemon, PATIENCE};

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|w| w.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

fn line_of<'a>(text: &'a str, rtype: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("type={rtype} ")))
        .unwrap_or_else(|| panic!("no {rtype} record in:\n{text}"))
}

#[test]
fn embedded_defaults_start_and_sigterm_names_the_sender() {
    if !need_root("embedded_defaults_start_and_sigterm_names_the_sender") {
        return;
    }
    let mut d = TestDaemon::start(Setup {
        embedded_config: true,
        ..Setup::default()
    });
    let text = d.wait_log("DAEMON_START", |t| t.contains("type=DAEMON_START "));
    let start = line_of(&text, "DAEMON_START");
    assert_eq!(field(start, "op"), Some("start"), "{start}");
    assert_eq!(field(start, "ver"), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(field(start, "format"), Some("raw"));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(field(start, "kernel"), Some(release.trim()));
    assert_eq!(field(start, "pid"), Some(d.pid().to_string().as_str()));
    assert_eq!(field(start, "uid"), Some("0"));
    assert!(start.ends_with(" res=success"), "{start}");
    // The embedded rules are loaded.
    assert!(d.status_u64("rules") > 0, "embedded default rules missing");
    assert_eq!(
        std::fs::metadata(&d.log).map(|m| m.len() > 0).ok(),
        Some(true)
    );

    let st = d.stop();
    assert!(st.success(), "exit status {st}");
    let text = d.log_text();
    let end = line_of(&text, "DAEMON_END");
    assert_eq!(field(end, "op"), Some("terminate"));
    assert_eq!(
        field(end, "pid"),
        Some(std::process::id().to_string().as_str()),
        "DAEMON_END must name the signal's sender: {end}"
    );
    assert_eq!(field(end, "uid"), Some("0"));
    assert!(
        text.ends_with(" res=success\n"),
        "DAEMON_END is last: {text}"
    );
    assert!(!d.sock.exists(), "socket file left behind");
}

#[test]
fn sigint_also_stops_cleanly() {
    if !need_root("sigint_also_stops_cleanly") {
        return;
    }
    let mut d = TestDaemon::start(Setup {
        rules: Some(String::new()),
        ..Setup::default()
    });
    d.signal(libc::SIGINT);
    assert!(d.wait(PATIENCE).success());
    assert!(d.log_text().contains("type=DAEMON_END "));
}

#[test]
fn sigusr1_rotates_with_daemon_rotate_in_the_new_file() {
    if !need_root("sigusr1_rotates_with_daemon_rotate_in_the_new_file") {
        return;
    }
    let mut d = TestDaemon::start(Setup {
        rules: Some(String::new()),
        ..Setup::default()
    });
    d.signal(libc::SIGUSR1);
    let text = d.wait_log("DAEMON_ROTATE", |t| t.contains("type=DAEMON_ROTATE "));
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("type=DAEMON_ROTATE "), "{text}");
    assert_eq!(field(first, "op"), Some("rotate-logs"));
    assert_eq!(
        field(first, "pid"),
        Some(std::process::id().to_string().as_str())
    );
    let rotated = vigil::logfile::numbered(&d.log, 1);
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.starts_with("type=DAEMON_START "), "{old}");
    assert_eq!(vigil::logfile::file::mode_of(&rotated).unwrap(), 0o400);
    assert_eq!(vigil::logfile::file::mode_of(&d.log).unwrap(), 0o600);
    // The control socket can rotate too.
    d.ctl_ok(&["--rotate"]);
    assert!(vigil::logfile::numbered(&d.log, 2).exists());
    assert_eq!(d.status_u64("rotations"), 2);
    assert!(d.stop().success());
}

#[test]
fn sighup_with_bad_rules_keeps_the_old_set() {
    if !need_root("sighup_with_bad_rules_keeps_the_old_set") {
        return;
    }
    let key = vigil_testkit::unique_key("hup");
    let good = format!("-a always,exit -F arch=b64 -S openat -k {key}\n");
    let mut d = TestDaemon::start(Setup {
        rules: Some(good.clone()),
        ..Setup::default()
    });
    let before = d.ctl_ok(&["-l"]);
    assert!(before.contains(&key), "{before}");

    // Line 3 is wrong: the whole file is refused.
    let bad = format!("{good}-w /etc/shadow -p wa -k other\n-a always,exit -S no_such_call\n");
    std::fs::write(&d.rules, bad).unwrap();
    d.signal(libc::SIGHUP);
    let text = d.wait_log("a failed DAEMON_CONFIG", |t| {
        t.contains("type=DAEMON_CONFIG ") && t.contains("res=failed")
    });
    let cfg = line_of(&text, "DAEMON_CONFIG");
    assert!(cfg.contains("op=reconfigure state=no-change"), "{cfg}");
    assert_eq!(
        field(cfg, "pid"),
        Some(std::process::id().to_string().as_str())
    );
    assert_eq!(d.ctl_ok(&["-l"]), before, "rules changed despite the error");
    let err = d.stderr_text();
    let place = format!("{}:3:", d.rules.display());
    assert!(err.contains(&place), "the error must name {place}:\n{err}");

    // A good file is applied, with one CONFIG_CHANGE per rule added or removed.
    let key2 = vigil_testkit::unique_key("hup2");
    std::fs::write(&d.rules, format!("-w /etc/hosts -p wa -k {key2}\n")).unwrap();
    d.signal(libc::SIGHUP);
    let text = d.wait_log("a successful DAEMON_CONFIG", |t| {
        t.contains("state=changed")
    });
    assert!(
        text.contains(&format!("op=remove_rule key=\"{key}\" list=4 res=1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("op=add_rule key=\"{key2}\" list=4 res=1")),
        "{text}"
    );
    let after = d.ctl_ok(&["-l"]);
    assert_eq!(after, format!("-w /etc/hosts -p wa -k {key2}\n"));
    assert!(d.stop().success());
}

#[test]
fn sighup_with_bad_config_keeps_the_old_configuration() {
    if !need_root("sighup_with_bad_config_keeps_the_old_configuration") {
        return;
    }
    let mut d = TestDaemon::start(Setup {
        rules: Some(String::new()),
        ..Setup::default()
    });
    let mut cfg = std::fs::read_to_string(&d.config).unwrap();
    cfg.push_str("[queue]\nq_dpth = 5\n");
    std::fs::write(&d.config, &cfg).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_log("a failed DAEMON_CONFIG", |t| t.contains("res=failed"));
    let lines = cfg.lines().count();
    let place = format!("{}:{lines}:", d.config.display());
    assert!(d.stderr_text().contains(&place), "{}", d.stderr_text());
    assert_eq!(d.status()["q_depth"], "8192");
    assert!(d.stop().success());
}

#[test]
fn replayed_events_are_filtered_by_the_rules() {
    if !need_ausearch("replayed_events_are_filtered_by_the_rules") {
        return;
    }
    let key = vigil_testkit::unique_key("replay");
    let rules = format!("-a always,exit -F arch=b64 -S openat -F uid=1000 -k {key}\n");
    let events = vec![
        syscall_event(257, 70001, 1000, "/etc/passwd"),
        syscall_event(257, 70002, 0, "/etc/passwd"),
        syscall_event(87, 70003, 1000, "/tmp/x"),
        syscall_event(257, 70004, 1000, "/etc/group"),
    ];
    let mut d = TestDaemon::start(Setup {
        rules: Some(rules),
        replay: Some(events),
        ..Setup::default()
    });
    let marker = vigil_testkit::unique_key("marker");
    d.wait_replayed(4);
    d.ctl_ok(&["-m", &marker]);
    let found = d.ausearch(&["-k", &key, "--raw"]);
    let pids: Vec<&str> = found
        .lines()
        .filter(|l| l.starts_with("type=SYSCALL"))
        .filter_map(|l| field(l, "pid"))
        .collect();
    assert_eq!(pids, ["70001", "70004"], "{found}");
    assert_eq!(d.status_u64("events_matched"), 2);
    assert!(d.stop().success());
}

#[test]
fn file_size_limit_is_a_counted_loss_not_a_crash() {
    if !need_root("file_size_limit_is_a_counted_loss_not_a_crash") {
        return;
    }
    let key = vigil_testkit::unique_key("fsize");
    let events: Vec<_> = (0..3000)
        .map(|i| syscall_event(257, 80000 + i, 1000, "/etc/passwd"))
        .collect();
    let mut d = TestDaemon::start(Setup {
        rules: Some(format!("-a always,exit -F arch=b64 -S openat -k {key}\n")),
        replay: Some(events),
        fsize_limit: Some(64 << 10),
        config: "[disk]\ndisk_full_action = \"suspend\"\n".into(),
        ..Setup::default()
    });
    d.wait_replayed(3000);
    d.ctl(&["-m", "sync"]);
    let st = d.status();
    let lost: u64 = st["lost_disk_full"].parse().unwrap();
    let written: u64 = st["events_written"].parse().unwrap();
    assert!(lost > 0, "no loss counted: {st:?}");
    // Every event is written or counted (3000 + DAEMON_START + the two -m markers).
    assert!(written + lost >= 3001, "{written} + {lost}: {st:?}");
    let text = d.log_text();
    assert!(text.len() as u64 <= 64 << 10);
    assert!(text.ends_with('\n'), "torn line at the size limit");
    assert!(d.stop().success(), "{}", d.stderr_text());
}

#[test]
fn kill_9_during_a_flood_leaves_no_torn_line() {
    if !need_root("kill_9_during_a_flood_leaves_no_torn_line") {
        return;
    }
    let key = vigil_testkit::unique_key("flood");
    let events: Vec<_> = (0..100_000)
        .map(|i| syscall_event(257, 100_000 + i, 1000, "/etc/passwd"))
        .collect();
    let mut d = TestDaemon::start(Setup {
        rules: Some(format!("-a always,exit -F arch=b64 -S openat -k {key}\n")),
        replay: Some(events),
        config: "[log]\nmax_log_file = 0\n[queue]\noverflow_action = \"block\"\n".into(),
        ..Setup::default()
    });
    // Kill while the flood is being written.
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&d.log).map_or(0, |m| m.len()) < (1 << 20) {
        assert!(t0.elapsed() < PATIENCE, "flood never reached 1 MiB");
        std::thread::sleep(Duration::from_millis(5));
    }
    d.signal(libc::SIGKILL);
    d.wait(PATIENCE);
    let size = std::fs::metadata(&d.log).unwrap().len();
    // A daemon started again on the same log must leave only whole lines.
    let mut again = TestDaemon::start(Setup {
        rules: Some(String::new()),
        log: Some(d.log.clone()),
        ..Setup::default()
    });
    assert!(again.stop().success());
    let text = std::fs::read(&d.log).unwrap();
    assert!(text.len() as u64 >= size - 9000, "more than a line was cut");
    assert!(text.ends_with(b"\n"));
    let mut lines = 0;
    for l in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(
            vigil_format::text::parse_line(l).is_ok(),
            "bad line: {}",
            String::from_utf8_lossy(l)
        );
        lines += 1;
    }
    assert!(lines > 1000);
}

/// Wall-clock seconds (the clock `-r` counts by).
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn openat_rules(key: &str, extra: &str) -> String {
    format!("-a always,exit -F arch=b64 -S openat -k {key}\n{extra}")
}

fn flood(n: u32) -> Vec<vigil_format::RawEvent> {
    (0..n)
        .map(|i| syscall_event(257, 200_000 + i, 1000, "/etc/passwd"))
        .collect()
}

#[test]
fn disabled_auditing_writes_no_events() {
    if !need_ausearch("disabled_auditing_writes_no_events") {
        return;
    }
    let key = vigil_testkit::unique_key("off");
    let mut d = TestDaemon::start(Setup {
        rules: Some(openat_rules(&key, "-e 0\n")),
        replay: Some(flood(50)),
        ..Setup::default()
    });
    d.wait_replayed(50);
    d.ctl_ok(&["-m", "sync"]);
    assert_eq!(d.status_u64("events_matched"), 0);
    assert_eq!(d.ausearch(&["-k", &key]), "");
    assert!(d.stop().success());
}

#[test]
fn rate_limit_drops_are_counted_and_reported_in_band() {
    if !need_root("rate_limit_drops_are_counted_and_reported_in_band") {
        return;
    }
    let key = vigil_testkit::unique_key("rate");
    let start_sec = unix_secs();
    let mut d = TestDaemon::start(Setup {
        rules: Some(openat_rules(&key, "-r 10\n")),
        replay: Some(flood(2000)),
        ..Setup::default()
    });
    d.wait_replayed(2000);
    // -r counts per wall-clock second: at most 10 for each second the replay touched (it ran
    // between these two readings, however slow the machine).
    let seconds = unix_secs() - start_sec + 1;
    d.ctl_ok(&["-m", "after the flood"]);
    let lost = d.status_u64("lost_rate_limit");
    let written = d.log_text().matches(&format!("key=\"{key}\"")).count() as u64;
    assert_eq!(written + lost, 2000, "every event written or counted");
    assert!(
        written <= 10 * seconds && lost > 0,
        "{written} written with -r 10 in {seconds} s"
    );
    // Reports may come in several parts during the flood; the last one has the total.
    let total = format!("total={lost}");
    d.wait_log("a rate_limit VIGIL_LOSS with the total", |t| {
        t.lines().any(|l| {
            l.starts_with("type=VIGIL_LOSS ")
                && l.contains(" source=rate_limit ")
                && l.ends_with(&total)
        })
    });
    assert!(d.stop().success());
}

#[test]
fn bad_trace_lines_are_counted_and_reported_in_band() {
    if !need_root("bad_trace_lines_are_counted_and_reported_in_band") {
        return;
    }
    let key = vigil_testkit::unique_key("badtrace");
    let mut good = Vec::new();
    vigil_format::trace::write_event(&syscall_event(257, 300_001, 1000, "/etc/passwd"), &mut good);
    let text = format!(
        "{{\"vigil_trace\":1}}\n{{\"kind\":\"teleport\"}}\nnot json at all\n{}",
        String::from_utf8(good).unwrap()
    );
    let mut d = TestDaemon::start(Setup {
        rules: Some(openat_rules(&key, "")),
        trace_text: Some(text),
        ..Setup::default()
    });
    d.wait_replayed(1);
    // The main loop reports source losses when it wakes: the two bad lines may come in one
    // report or in two (`lost=1 total=1`, `lost=1 total=2`); the good line is queued by the
    // source thread, so it may be written before or after the report.
    let reports = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("type=VIGIL_LOSS ") && l.contains(" source=trace_errors "))
            .map(str::to_owned)
            .collect()
    };
    let with_key = format!("key=\"{key}\"");
    let log = d.wait_log(
        "a trace_errors VIGIL_LOSS with total=2 and the good line",
        |t| t.contains(&with_key) && reports(t).iter().any(|l| l.ends_with(" total=2")),
    );
    let reported: u64 = reports(&log)
        .iter()
        .map(|l| {
            field(l, "lost")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(
        reported, 2,
        "the reports' lost= add up to the total:\n{log}"
    );
    let err = d.stderr_text();
    assert!(
        err.contains("trace.jsonl:2:"),
        "bad line named by file:line: {err}"
    );
    assert_eq!(d.status_u64("lost_trace_errors"), 2);
    assert!(d.stop().success());
}

#[test]
fn json_log_format_writes_json_lines() {
    if !need_root("json_log_format_writes_json_lines") {
        return;
    }
    let key = vigil_testkit::unique_key("json");
    let mut d = TestDaemon::start(Setup {
        rules: Some(openat_rules(&key, "")),
        replay: Some(flood(3)),
        config: "[log]\nformat = \"json\"\n".into(),
        ..Setup::default()
    });
    d.wait_replayed(3);
    d.ctl_ok(&["-m", "json marker"]);
    assert!(d.stop().success());
    let text = d.log_text();
    let mut with_key = 0;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("schema").is_some(), "{line}");
        if line.contains(&key) {
            with_key += 1;
        }
    }
    assert_eq!(with_key, 3, "{text}");
    assert!(text.contains("json marker"));
}

#[test]
fn enriched_log_with_node_names_is_read_by_ausearch() {
    if !need_ausearch("enriched_log_with_node_names_is_read_by_ausearch") {
        return;
    }
    let key = vigil_testkit::unique_key("enr");
    let mut d = TestDaemon::start(Setup {
        rules: Some(openat_rules(&key, "")),
        replay: Some(flood(2)),
        config: "[log]\nformat = \"enriched\"\n[node]\nname_format = \"user\"\nname = \"node-7\"\n"
            .into(),
        ..Setup::default()
    });
    d.wait_replayed(2);
    d.ctl_ok(&["-m", "enriched marker"]);
    let text = d.log_text();
    assert!(
        text.lines().all(|l| l.starts_with("node=node-7 type=")),
        "{text}"
    );
    assert!(text.contains('\x1d'), "no enriched separator:\n{text}");
    let found = d.ausearch(&["-k", &key, "-i"]);
    assert_eq!(found.matches("type=SYSCALL").count(), 2, "{found}");
    assert!(found.contains("node=node-7"), "{found}");
    assert!(found.contains("syscall=openat"), "{found}");
    assert!(d.stop().success());
}

#[test]
fn stop_action_aborts_with_daemon_abort() {
    if !need_root("stop_action_aborts_with_daemon_abort") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs/audit.log");
    let cfg = dir.path().join("vigil.toml");
    // Any real filesystem has less than 99% free: the threshold is crossed at once.
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nsocket = \"{}\"\n[log]\nfile = \"{}\"\n[disk]\nspace_left = \"99%\"\n\
             space_left_action = \"stop\"\nadmin_space_left = 0\n",
            dir.path().join("ctl.sock").display(),
            log.display()
        ),
    )
    .unwrap();
    let rules = dir.path().join("empty.rules");
    std::fs::write(&rules, "").unwrap();
    let out = std::process::Command::new(daemon_util::VIGIL)
        .args(["daemon", "--no-kernel", "--config"])
        .arg(&cfg)
        .arg("--rules")
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let abort = line_of(&text, "DAEMON_ABORT");
    assert!(abort.contains("op=abort reason=low_space "), "{abort}");
    assert!(abort.ends_with(" res=failed"), "{abort}");
    assert!(!text.contains("type=DAEMON_END "), "{text}");
}

#[test]
fn check_validates_config_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.rules");
    std::fs::write(&rules, "-w /etc/passwd -p wa\n-a always,exit -S nope\n").unwrap();
    let out = std::process::Command::new(daemon_util::VIGIL)
        .args(["daemon", "--check", "--rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", rules.display())), "{err}");
    let ok = std::process::Command::new(daemon_util::VIGIL)
        .args(["daemon", "--check"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("rules OK"));
}
