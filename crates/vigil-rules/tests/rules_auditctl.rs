//! Privileged tier: vigil's rule language against the real auditctl and kernel on this host.
//!
//! For every Debian example rules file (and vigil's own corpus of tricky lines), each line is
//! loaded into the kernel with `auditctl -R` (one line per file, so every rejected line is seen),
//! then `auditctl -l` must equal vigil's listing byte for byte, and the lines vigil calls errors
//! must be exactly the lines auditctl or the kernel refused. Lines that change kernel settings
//! (`-e`, `-f`, `-b`, `-r`, `--backlog_wait_time`, `--loginuid-immutable`) are never sent to
//! the kernel (`-e 2` would lock audit until reboot); vigil must parse them into settings.
//! Kernel state is restored by `KernelAuditGuard` (rules, enabled flag, settings), panics
//! included.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;

use vigil_rules::lexer::{split_line, Line};
use vigil_rules::{list_rules, Command, FakeHost, Loader, SystemHost};
use vigil_testkit::{require, KernelAuditGuard, Need};

const EXAMPLES: &str = "/usr/share/doc/auditd/examples/rules";
const SETTINGS: &[&str] = &[
    "-e",
    "-f",
    "-b",
    "-r",
    "--backlog_wait_time",
    "--loginuid-immutable",
];

fn auditctl(args: &[&str]) -> (bool, String, String) {
    let out = Proc::new("auditctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running auditctl {args:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_not_immutable() {
    let (_, status, _) = auditctl(&["-s"]);
    assert!(
        !status.lines().any(|l| l.trim() == "enabled 2"),
        "kernel audit became immutable: the test must never send -e 2"
    );
}

/// What the kernel ended up with, and which lines auditctl or the kernel refused.
struct Oracle {
    listing: String,
    rejected: BTreeSet<u32>,
}

/// Loads `text` line by line with `auditctl -R` (settings lines skipped) and lists the result.
fn kernel_oracle(text: &str, scratch: &Path) -> Oracle {
    let (ok, _, err) = auditctl(&["-D"]);
    assert!(ok, "auditctl -D: {err}");
    let mut rejected = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = u32::try_from(i + 1).unwrap();
        let Line::Words(words) = split_line(line) else {
            continue;
        };
        if SETTINGS.contains(&words[0].text.as_str()) {
            continue;
        }
        std::fs::write(scratch, format!("{line}\n")).unwrap();
        let (ok, _, _) = auditctl(&["-R", scratch.to_str().unwrap()]);
        if !ok {
            rejected.insert(lineno);
        }
        assert_not_immutable();
    }
    let (ok, listing, err) = auditctl(&["-l"]);
    assert!(ok, "auditctl -l: {err}");
    let (ok, _, err) = auditctl(&["-D"]);
    assert!(ok, "auditctl -D: {err}");
    Oracle { listing, rejected }
}

fn check_file(name: &str, text: &str, scratch: &Path) {
    let oracle = kernel_oracle(text, scratch);

    // vigil, continuing past errors as the line-by-line load did.
    let host = SystemHost;
    let mut loader = Loader::new(&host).continue_on_error(true);
    let report = loader
        .load_str(text, name)
        .unwrap_or_else(|e| panic!("{name}: vigil rejected the file even with -c:\n{e}"));
    let vigil_errors: BTreeSet<u32> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.location.line)
        .collect();
    let listing = list_rules(loader.ruleset());
    assert_eq!(
        listing, oracle.listing,
        "{name}: vigil's listing differs from auditctl -l"
    );
    assert_eq!(
        vigil_errors, oracle.rejected,
        "{name}: lines vigil flags as errors (left) vs lines auditctl/the kernel refused (right); diagnostics: {:#?}",
        report.diagnostics
    );
    eprintln!(
        "{name}: {} rules listed, {} lines refused by auditctl and by vigil",
        oracle.listing.lines().filter(|l| *l != "No rules").count(),
        oracle.rejected.len()
    );
    for d in report.diagnostics.iter().filter(|d| d.is_error()) {
        let shown = d.to_string();
        assert!(
            shown.starts_with(&format!("{name}:{}:", d.location.line)),
            "{name}: diagnostic does not name file:line: {shown}"
        );
    }

    // Without -c the file is rejected whole iff auditctl would have stopped on an error
    // before any -i/-c line.
    let mut ignore_from = u32::MAX;
    for (i, line) in text.lines().enumerate() {
        if let Line::Words(w) = split_line(line) {
            if w[0].text == "-i" || w[0].text == "-c" {
                ignore_from = ignore_from.min(u32::try_from(i + 1).unwrap());
            }
        }
    }
    let stops = oracle.rejected.iter().any(|l| *l < ignore_from);
    let strict = Loader::new(&host).load_str(text, name).is_err();
    assert_eq!(
        strict, stops,
        "{name}: vigil rejects the whole file = {strict}, auditctl -R would stop = {stops}"
    );

    // Settings lines were not sent; vigil must have read each of them as a setting.
    for (i, line) in text.lines().enumerate() {
        let Line::Words(words) = split_line(line) else {
            continue;
        };
        if !SETTINGS.contains(&words[0].text.as_str()) {
            continue;
        }
        let argv: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        let out = vigil_rules::parse_argv(&argv, &FakeHost::new());
        assert!(
            !out.failed() && out.commands.iter().all(|c| matches!(c, Command::Set(_))),
            "{name}:{}: vigil did not read {line:?} as a setting: {:?}",
            i + 1,
            out.diagnostics
        );
    }
}

fn scratch_file() -> PathBuf {
    std::env::temp_dir().join(format!("vigil-rules-auditctl-{}.rules", std::process::id()))
}

#[test]
fn debian_examples_match_auditctl() {
    if !require(
        "debian_examples_match_auditctl",
        &[Need::Root, Need::AuditNetlink, Need::AuditTools],
    ) {
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(EXAMPLES)
        .unwrap_or_else(|e| panic!("{EXAMPLES}: {e} (Debian's auditd package installs it)"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rules"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected Debian's ~35 example files in {EXAMPLES}"
    );
    let scratch = scratch_file();
    let _guard = KernelAuditGuard::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        check_file(&f.display().to_string(), &text, &scratch);
    }
    let _ = std::fs::remove_file(&scratch);
}

#[test]
fn corpus_matches_auditctl() {
    if !require(
        "corpus_matches_auditctl",
        &[Need::Root, Need::AuditNetlink, Need::AuditTools],
    ) {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let scratch =
        std::env::temp_dir().join(format!("vigil-rules-corpus-{}.rules", std::process::id()));
    let _guard = KernelAuditGuard::new();
    // vigil's shipped default rules must mean the same to auditctl too.
    let default_rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigil/rules/default.rules");
    for path in [
        dir.join("auditctl_corpus.rules"),
        dir.join("auditctl_errors.rules"),
        default_rules,
    ] {
        let text = std::fs::read_to_string(&path).unwrap();
        check_file(&path.display().to_string(), &text, &scratch);
    }
    let _ = std::fs::remove_file(&scratch);
}
