//! `vigil rules list|check` as a user runs them: exit codes, where output goes, diagnostics.
//! (What the listing must be is checked against auditctl in vigil-rules' privileged tests,
//! default.rules included.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("running the vigil binary")
}

fn default_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default.rules")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn default_rules_list_and_check_clean() {
    let path = default_rules();
    let p = path.to_str().unwrap();
    let out = vigil(&["rules", "list", p]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let want = vigil_rules::list_rules(
        &vigil_rules::parse_file(&path)
            .unwrap_or_else(|e| panic!("default.rules must parse:\n{e}"))
            .rules,
    );
    assert_eq!(text(&out.stdout), want);
    assert!(
        want.contains("-w /etc/shadow -p wa -k identity\n"),
        "{want}"
    );
    assert!(want.contains("-S io_uring_setup"), "{want}");
    let out = vigil(&["rules", "check", p]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains(": error"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn errors_reject_the_file_and_name_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.rules");
    std::fs::write(
        &bad,
        "-w /etc/passwd -p wa -k id\n-a always,exit -F arch=b64 -S open -F uidd=1\n",
    )
    .unwrap();
    let b = bad.to_str().unwrap();
    let out = vigil(&["rules", "list", b]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "No rules\n");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{b}:2:39: unknown field \"uidd\"")),
        "{err}"
    );
    assert!(err.contains("rejected"), "{err}");

    // -c loads the rest, and still fails.
    let out = vigil(&["rules", "list", "-c", b]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "-w /etc/passwd -p wa -k id\n");

    let out = vigil(&["rules", "check", b]);
    assert_eq!(out.status.code(), Some(1));

    let out = vigil(&["rules", "list", "/nonexistent/vigil.rules"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/vigil.rules"));
}

#[test]
fn several_files_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.rules");
    let b = dir.path().join("b.rules");
    std::fs::write(&a, "-w /etc/passwd -p wa -k one\n").unwrap();
    std::fs::write(
        &b,
        "-A always,exit -F arch=b64 -S execve -k two\n-W /etc/passwd -p wa -k one\n",
    )
    .unwrap();
    let out = vigil(&["rules", "list", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "-a always,exit -F arch=b64 -S execve -F key=two\n"
    );
}

#[test]
fn check_reports_shadowed_rules_and_cost() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("shadow.rules");
    std::fs::write(
        &f,
        "-a always,exit -F arch=b64 -S openat -k broad\n\
         -a always,exit -F arch=b64 -S openat -F uid=1000 -k narrow\n\
         -a always,exit -F arch=b64 -S getpid -F uid=1 -F uid=2 -k never\n",
    )
    .unwrap();
    let out = vigil(&["rules", "check", f.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("shadow.rules:2:") && stdout.contains("never decides"),
        "{stdout}"
    );
    assert!(
        stdout.contains("shadow.rules:3: warning: rule never matches"),
        "{stdout}"
    );
    assert!(stdout.contains("cost: "), "{stdout}");
}
