//! Privileged: Debian's STIG example rules, built as ASTs, give the kernel exactly what
//! auditctl gives it. (Hand-built until the rule parser is wired in here; each line is
//! checked to be in the shipped file.)

mod common;

use common::*;
use vigil_rules::ast::{Action, Field, FilterList, Op, Rule, Syscalls};
use vigil_rules::tables::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use vigil_testkit::{require, KernelAuditGuard};

const STIG: &str = "/usr/share/doc/auditd/examples/rules/30-stig.rules";
const UNSET: u64 = u32::MAX as u64;

fn exit_rule(
    arch_nr: u32,
    names: &[&str],
    mut conds: Vec<vigil_rules::ast::Condition>,
    key: &str,
) -> Rule {
    conds.insert(0, arch(arch_nr));
    rule(
        FilterList::Exit,
        Action::Always,
        syscalls(arch_nr, names),
        conds,
        &[key],
    )
}

fn auid_user() -> Vec<vigil_rules::ast::Condition> {
    vec![
        num(Field::Auid, Op::Ge, 1000),
        num(Field::Auid, Op::Ne, UNSET),
    ]
}

#[test]
fn stig_rules_encode_as_auditctl_does() {
    if !require("stig_rules_encode_as_auditctl_does", NEEDS) {
        return;
    }
    let Ok(file) = std::fs::read_to_string(STIG) else {
        assert!(
            std::env::var("VIGIL_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "{STIG} missing"
        );
        eprintln!("SKIP stig_rules_encode_as_auditctl_does: {STIG} missing");
        return;
    };
    let mut guard = KernelAuditGuard::new();
    let open_family = [
        "open",
        "truncate",
        "ftruncate",
        "creat",
        "openat",
        "openat2",
        "open_by_handle_at",
    ];
    let cases: Vec<(&str, Rule)> = vec![
        (
            "-a always,exit -F arch=b32 -S adjtimex,settimeofday,stime -F key=time-change",
            exit_rule(AUDIT_ARCH_I386, &["adjtimex", "settimeofday", "stime"], vec![], "time-change"),
        ),
        (
            "-a always,exit -F arch=b64 -S adjtimex,settimeofday -F key=time-change",
            exit_rule(AUDIT_ARCH_X86_64, &["adjtimex", "settimeofday"], vec![], "time-change"),
        ),
        (
            "-a always,exit -F arch=b64 -S clock_settime -F a0=0x0 -F key=time-change",
            exit_rule(
                AUDIT_ARCH_X86_64,
                &["clock_settime"],
                vec![num(Field::Arg(0), Op::Eq, 0)],
                "time-change",
            ),
        ),
        ("-w /etc/localtime -p wa -k time-change", watch("/etc/localtime", "wa", "time-change")),
        ("-w /etc/passwd -p wa -k identity", watch("/etc/passwd", "wa", "identity")),
        (
            "-a always,exit -F arch=b32 -S lchown,fchown,chown,fchownat -F auid>=1000 -F auid!=unset -F key=perm_mod",
            exit_rule(AUDIT_ARCH_I386, &["lchown", "fchown", "chown", "fchownat"], auid_user(), "perm_mod"),
        ),
        (
            "-a always,exit -F arch=b64 -S open,truncate,ftruncate,creat,openat,openat2,open_by_handle_at -F exit=-EACCES -F auid>=1000 -F auid!=unset -F key=access",
            exit_rule(
                AUDIT_ARCH_X86_64,
                &open_family,
                [vec![exit_errno("EACCES")], auid_user()].concat(),
                "access",
            ),
        ),
        (
            "-a always,exit -F arch=b64 -S unlink,unlinkat,rename,renameat -F auid>=1000 -F auid!=unset -F key=delete",
            exit_rule(
                AUDIT_ARCH_X86_64,
                &["unlink", "unlinkat", "rename", "renameat"],
                auid_user(),
                "delete",
            ),
        ),
        // A watch written with a trailing slash: auditctl strips it, so do we.
        ("-w /etc/sudoers.d/ -p wa -k actions", {
            let mut r = watch("/etc/sudoers.d/", "wa", "actions");
            r.conditions[0] = text(Field::Path, Op::Eq, "/etc/sudoers.d");
            r
        }),
    ];
    for (line, r) in &cases {
        assert!(
            file.lines().any(|l| l.trim() == *line),
            "not in {STIG}: {line}"
        );
        let mut encoded = r.clone();
        if line.starts_with("-w /etc/sudoers.d/") {
            // Encode from the AST as written (with the slash); compare decoded without.
            encoded.conditions[0] = text(Field::Path, Op::Eq, "/etc/sudoers.d/");
            let ours = vigil_kaudit::encode_rule(&encoded).unwrap();
            assert_eq!(ours, vigil_kaudit::encode_rule(r).unwrap());
        }
        same_as_auditctl(guard.client(), line, r);
    }
    // A dir= rule on a directory this host may lack: same verdict as auditctl.
    let line = "-a always,exit -F dir=/etc/NetworkManager/ -F perm=wa -F key=system-locale";
    assert!(
        file.lines().any(|l| l.trim() == line),
        "not in {STIG}: {line}"
    );
    let mut r = rule(
        FilterList::Exit,
        Action::Always,
        Syscalls::All,
        vec![
            text(Field::Dir, Op::Eq, "/etc/NetworkManager/"),
            num(Field::Perm, Op::Eq, 10),
        ],
        &["system-locale"],
    );
    r.is_watch = true;
    if std::path::Path::new("/etc/NetworkManager").is_dir() {
        same_as_auditctl(guard.client(), line, &r);
    } else {
        assert_eq!(both_refused(guard.client(), line, &r), libc::ENOENT);
    }
    guard.restore().unwrap();
}
