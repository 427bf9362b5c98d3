//! Privileged: every rule of Debian's example rule files, parsed by vigil-rules and
//! encoded by us, leaves the kernel in exactly the state `auditctl -R` leaves it in
//! (byte-identical rule list, identical `auditctl -l`).

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::*;
use vigil_kaudit::{AuditClient, Placement, RuleData};
use vigil_rules::{Loader, SystemHost};
use vigil_testkit::{require, KernelAuditGuard};

const EXAMPLES: &str = "/usr/share/doc/auditd/examples/rules";

/// Only the rule lines of a file: control lines (`-e`, `-f`, `-b`,
/// `--loginuid-immutable`, `-D` ...) change machine-wide settings, some until reboot.
fn rule_lines(text: &str) -> String {
    // -c: keep going past lines this host rejects (auditctl and vigil alike).
    let mut out = String::from("-c\n");
    for l in text.lines() {
        let t = l.trim();
        if t.starts_with("-a ") || t.starts_with("-A ") || t.starts_with("-w ") {
            let _ = writeln!(out, "{t}");
        }
    }
    out
}

/// Kernel rules and `auditctl -l` after loading `file` with auditctl; clears them again.
fn with_auditctl(c: &mut AuditClient, file: &Path) -> (Vec<RuleData>, String) {
    let _ = std::process::Command::new("/sbin/auditctl")
        .arg("-R")
        .arg(file)
        .env("LC_ALL", "C")
        .output()
        .expect("run auditctl");
    let raw = c.list_rules_raw().unwrap();
    let listing = auditctl(&["-l"]);
    c.delete_all_rules().unwrap();
    (raw, listing)
}

/// The same through vigil-rules and our encoding; returns what the kernel refused.
fn with_vigil(c: &mut AuditClient, file: &Path) -> (Vec<RuleData>, String, Vec<String>) {
    let host = SystemHost;
    let mut loader = Loader::new(&host);
    // Errors are expected for lines this host cannot load; the rule set holds the rest.
    let _ = loader.load_file(file);
    let mut refused = Vec::new();
    for r in &loader.ruleset().rules {
        if let Err(e) = c.add_rule(r, Placement::Append) {
            refused.push(format!("{}:{}: {e}", r.origin.file, r.origin.line));
        }
    }
    let raw = c.list_rules_raw().unwrap();
    let listing = auditctl(&["-l"]);
    c.delete_all_rules().unwrap();
    (raw, listing, refused)
}

#[test]
fn example_rule_files_load_as_with_auditctl() {
    if !require("example_rule_files_load_as_with_auditctl", NEEDS) {
        return;
    }
    let Ok(dir) = std::fs::read_dir(EXAMPLES) else {
        assert!(
            std::env::var("VIGIL_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "{EXAMPLES} missing"
        );
        eprintln!("SKIP example_rule_files_load_as_with_auditctl: {EXAMPLES} missing");
        return;
    };
    let mut files: Vec<_> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rules"))
        .collect();
    files.sort();
    assert!(
        files.len() > 20,
        "expected Debian's example set, got {files:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut guard = KernelAuditGuard::new();
    let c = guard.client();
    c.delete_all_rules().unwrap();
    let mut total = 0;
    for path in &files {
        let rules = rule_lines(&std::fs::read_to_string(path).unwrap());
        if rules.lines().count() == 1 {
            continue;
        }
        let name = path.file_name().unwrap();
        let only_rules = tmp.path().join(name);
        std::fs::write(&only_rules, &rules).unwrap();
        let (theirs, their_listing) = with_auditctl(c, &only_rules);
        let (ours, our_listing, refused) = with_vigil(c, &only_rules);
        assert!(
            refused.is_empty(),
            "{}: kernel refused {refused:#?}",
            path.display()
        );
        assert_eq!(
            our_listing,
            their_listing,
            "{}: auditctl -l differs",
            path.display()
        );
        assert_eq!(ours, theirs, "{}: kernel rules differ", path.display());
        total += ours.len();
    }
    assert!(total > 100, "only {total} rules loaded from the examples");
    eprintln!(
        "{total} kernel rules from {} example files matched auditctl",
        files.len()
    );
    guard.restore().unwrap();
}
