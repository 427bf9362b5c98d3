//! The rule language on a fixed, fake host: every construct, every error, the printer.
//! Expected listings are what auditctl 3.0.9 printed for the same lines on a real kernel
//! (`rules_auditctl.rs` checks that against the live tools); io_uring and contid are vigil's.

use vigil_rules::ast::{Condition, Field, FilterList, Op, Syscalls, Value};
use vigil_rules::{list_rules, Command, FakeHost, Loader, Problem, Setting};

fn host() -> FakeHost {
    let mut h = FakeHost::new();
    h.users.insert("alice".into(), 1000);
    h.groups.insert("wheel".into(), 10);
    for d in [
        "/tmp",
        "/var",
        "/var/log",
        "/var/log/audit",
        "/usr",
        "/usr/bin",
    ] {
        h.dirs.insert(d.into());
    }
    h.files.insert("/etc/passwd".into());
    h
}

/// Loads `text` (continuing past errors) and returns the listing and the error problems.
fn load(text: &str) -> (String, Vec<(u32, Problem)>) {
    let h = host();
    let mut l = Loader::new(&h).continue_on_error(true);
    let report = l.load_str(text, "t.rules").expect("-c never rejects");
    let errors = report
        .diagnostics
        .into_iter()
        .filter(vigil_rules::Diagnostic::is_error)
        .map(|d| (d.location.line, d.problem))
        .collect();
    (list_rules(l.ruleset()), errors)
}

/// The listing of lines that must all load.
fn listing(text: &str) -> String {
    let (out, errors) = load(text);
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    out
}

/// The error of a one-line text that must fail.
fn error(line: &str) -> Problem {
    let (_, mut errors) = load(line);
    assert_eq!(errors.len(), 1, "{line:?} should fail once, got {errors:?}");
    errors.remove(0).1
}

#[test]
fn lists_actions_and_order() {
    assert_eq!(
        listing("-a exit,always -F arch=b64 -S open\n-a never,task\n-a always,user -F uid=0\n-A always,exit -F arch=b64 -S close\n-a always,exclude -F msgtype=CWD\n-a never,filesystem -F fstype=debugfs\n"),
        "-a always,user -F uid=0\n-a never,task\n-a always,exit -F arch=b64 -S close\n-a always,exit -F arch=b64 -S open\n-a always,exclude -F msgtype=CWD\n-a never,filesystem -F fstype=debugfs\n"
    );
    assert_eq!(listing("# nothing\n\n   \n"), "No rules\n");
    for bad in [
        "-a ALWAYS,EXIT -S open",
        "-a always,exit,foo",
        "-a never",
        "-a exit,exit",
        "-a always,always",
    ] {
        assert!(matches!(error(bad), Problem::BadListAction(_)), "{bad}");
    }
    assert!(matches!(
        error("-a always,exit -a always,exit -S 5"),
        Problem::MultipleRuleOps
    ));
    // "possible" is skipped with a warning, as auditctl does.
    assert_eq!(listing("-a exit,possible -S open\n"), "No rules\n");
}

#[test]
fn syscalls() {
    assert_eq!(
        listing("-a always,exit -F arch=b64 -S openat,open -S close -S 59\n"),
        "-a always,exit -F arch=b64 -S open,close,execve,openat\n"
    );
    assert_eq!(
        listing("-a always,exit -F arch=b32 -S open\n-a always,exit -S 5 -k carried\n"),
        "-a always,exit -F arch=b32 -S open\n-a always,exit -S open -F key=carried\n"
    );
    assert_eq!(
        listing("-a always,exit -S all -k a\n"),
        "-a always,exit -S all -F key=a\n"
    );
    assert_eq!(
        listing("-a always,exit -F arch=b64 -S open -S all\n"),
        "-a always,exit -F arch=b64 -S all\n"
    );
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open,bogus"),
        Problem::UnknownSyscall { .. }
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S 3000"),
        Problem::UnknownSyscall { .. }
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S 2040"),
        Problem::SyscallClassBit(2040)
    ));
    assert!(matches!(
        error("-a task,always -S 5"),
        Problem::SyscallsOnList("task")
    ));
    assert!(matches!(
        error("-S 5 -a task,always"),
        Problem::SyscallsOnList("task")
    ));
    assert!(matches!(
        error("-a always,user -S 5"),
        Problem::SyscallsOnList("user")
    ));
    assert!(matches!(
        error("-a never,exclude -S 5"),
        Problem::SyscallsOnList("exclude")
    ));
    assert!(matches!(
        error("-a never,filesystem -S 5"),
        Problem::SyscallsOnList("filesystem")
    ));
    assert!(matches!(
        error("-a always,exit -S close -F arch=b64"),
        Problem::ArchAfterSyscall
    ));
    assert!(matches!(error("-S open"), Problem::SyscallWithoutList));
}

#[test]
fn fields_and_operators() {
    assert_eq!(
        listing("-a always,exit -F arch=b64 -S fork -F a0=-1 -F a1>=0x7fffffff -F a2<=12 -F a3!=4 -F a0&0x7C020000 -F a1&=3\n"),
        "-a always,exit -F arch=b64 -S fork -F a0=0xFFFFFFFF -F a1>=0x7FFFFFFF -F a2<=0xC -F a3!=0x4 -F a0&0x7C020000 -F a1&=0x3\n"
    );
    assert_eq!(
        listing("-a always,exit -F arch=b64 -S open -F auid>=1000 -F auid!=unset -F uid=alice -F gid=wheel -F euid<5 -F inode=4294967295\n"),
        "-a always,exit -F arch=b64 -S open -F auid>=1000 -F auid!=-1 -F uid=1000 -F gid=10 -F euid<5 -F inode=4294967295\n"
    );
    assert_eq!(
        listing("-a always,exit -F arch=b64 -S kill -F exit=-EACCES -F exit!=-2 -F exit=EPERM -F exit=-300 -F success=0\n"),
        "-a always,exit -F arch=b64 -S kill -F exit=-EACCES -F exit!=-ENOENT -F exit=1 -F exit=-300 -F success=0\n"
    );
    assert_eq!(
        listing("-a always,exit -F arch=b64 -S execve -F exe!=/usr/bin/ls -F filetype=FILE -F subj_type=x_t\n"),
        "-a always,exit -F arch=b64 -S execve -F exe=/usr/bin/ls -F filetype=32768 -F subj_type=x_t\n"
    );
    assert_eq!(
        listing("-a never,filesystem -F fstype=0x1234 -k k\n"),
        "-a never,filesystem -F fstype=4660 -F key=k\n"
    );
    assert_eq!(
        listing("-a never,exclude -F msgtype=9999\n"),
        "-a never,exclude -F msgtype=9999\n"
    );
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F uidd=1"),
        Problem::UnknownField { .. }
    ));
    let shown = error("-a always,exit -F arch=b64 -S open -F uidd=1").to_string();
    assert!(
        shown.starts_with("unknown field \"uidd\" (expected one of: pid, uid,"),
        "{shown}"
    );
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F uid&1"),
        Problem::OperatorNotAllowed { .. }
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F uid=nobody-here"),
        Problem::UnknownUser(_)
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F gid=nogroup-here"),
        Problem::UnknownGroup(_)
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F uid=unset"),
        Problem::InvalidValue { .. }
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F auid>=unset"),
        Problem::InvalidValue { .. }
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F pid=-5"),
        Problem::NotANumber { .. }
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F exit=-EBOGUS"),
        Problem::UnknownErrno(_)
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F msgtype=CWD"),
        Problem::FieldNotOnList { .. }
    ));
    assert!(matches!(
        error("-a never,exclude -F euid=5"),
        Problem::FieldNotOnList { .. }
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F perm!=w"),
        Problem::OperatorNotAllowed { .. }
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F uid"),
        Problem::MissingOperator(_)
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F =5"),
        Problem::MissingFieldName(_)
    ));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F uid="),
        Problem::MissingValue(_)
    ));
    assert!(matches!(error("-F uid=0"), Problem::ListBeforeField(_)));
    assert!(matches!(
        error("-a always,exit -F arch=sparc -S open"),
        Problem::UnknownArch(_)
    ));
    assert!(matches!(
        error("-a always,exit -F saddr_fam=46 -S connect"),
        Problem::InvalidValue { .. }
    ));
}

#[test]
fn comparisons() {
    assert_eq!(
        listing(
            "-a always,exit -F arch=b64 -S open -C euid!=uid -C loginuid=obj_uid -C sgid!=fsgid\n"
        ),
        "-a always,exit -F arch=b64 -S open -C uid!=euid -C auid=obj_uid -C sgid!=fsgid\n"
    );
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -C uid=gid"),
        Problem::CompareIncompatible(..)
    ));
    assert!(matches!(
        error("-a always,task -C uid=euid"),
        Problem::CompareNotOnList
    ));
    assert!(matches!(
        error("-a always,exit -S open -C uid<euid"),
        Problem::CompareSyntax(_)
    ));
}

#[test]
fn keys() {
    assert_eq!(
        listing("-a always,exit -F arch=b64 -S close -F key=k1 -k k2\n"),
        "-a always,exit -F arch=b64 -S close -F key=k1 -F key=k2\n"
    );
    assert!(matches!(
        error("-a always,exit -F uid=1234 -k foo"),
        Problem::KeyNeedsRule
    ));
    assert!(matches!(
        error("-a always,user -F uid=0 -F key=x"),
        Problem::KeyNeedsRule
    ));
    assert!(matches!(
        error("-k foo -a always,exit -S open"),
        Problem::KeyNeedsRule
    ));
    let long = "k".repeat(256);
    assert!(
        load(&format!("-a always,exit -F arch=b64 -S read -k {long}\n"))
            .1
            .is_empty()
    );
    assert!(matches!(
        error(&format!(
            "-a always,exit -F arch=b64 -S read -k {long} -k x"
        )),
        Problem::KeyTooLong(258)
    ));
}

#[test]
fn watches() {
    assert_eq!(
        listing("-w /etc/passwd -p wa -k identity\n-w /var/log/audit/ -k audit\n-w /tmp/missing -p r\n"),
        "-w /etc/passwd -p wa -k identity\n-w /var/log/audit -p rwxa -k audit\n-w /tmp/missing -p r\n"
    );
    // Written as a rule, printed as a watch in field order (auditctl's own quirk).
    assert_eq!(
        listing("-a always,exit -F perm=x -F path=/usr/bin/dnf-3 -F key=inst\n-a always,exit -F dir=/tmp/ -F perm=wa\n"),
        " -p x-w /usr/bin/dnf-3 -k inst\n-w /tmp/ -p wa\n"
    );
    assert_eq!(
        listing("-w /tmp/l -p x -k a -k b -p w\n"),
        "-w /tmp/l -p w -k a -k b\n"
    );
    // A missing watch target in an existing directory is fine for the kernel: a warning.
    let h = host();
    let r = Loader::new(&h)
        .load_str("-w /tmp/missing -p r\n", "w.rules")
        .unwrap();
    assert!(
        matches!(&r.diagnostics[..], [d] if !d.is_error()
            && d.problem == Problem::WatchTargetMissing("/tmp/missing".into())
            && d.to_string().starts_with("w.rules:1:4: warning: /tmp/missing does not exist")),
        "{:?}",
        r.diagnostics
    );
    assert_eq!(listing("-w /tmp/a\\ b -p R\n"), "-w /tmp/a b -p r\n");
    assert!(matches!(
        error("-w relative -p r"),
        Problem::WatchPath { .. }
    ));
    assert!(matches!(
        error("-w /nope/file -p r"),
        Problem::PathMissing(_)
    ));
    assert!(matches!(
        error("-a always,exit -F dir=/nope/ -F perm=r"),
        Problem::PathMissing(_)
    ));
    assert!(matches!(
        error("-a always,exit -F path=/tmp/ -F perm=r"),
        Problem::KernelRejects(_)
    ));
    assert!(matches!(error("-w /tmp/x -p rwxaw"), Problem::BadPerm(_)));
    assert!(matches!(
        error("-w /tmp/x -a always,exit"),
        Problem::MultipleRuleOps
    ));
    assert!(matches!(
        error("-a always,exit -S open -p w"),
        Problem::PermWithoutRule
    ));
    assert!(matches!(error("-p wa"), Problem::PermWithoutRule));
    assert!(matches!(
        error("-a always,exit -F arch=b64 -S open -F inode=5 -F path=/etc/y"),
        Problem::KernelRejects(_)
    ));
}

#[test]
fn deletes_and_duplicates() {
    let text =
        "-a always,exit -F arch=b64 -S open -k a1\n-a always,exit -F arch=b64 -S open -k a1\n";
    let (out, errors) = load(text);
    assert_eq!(out, "-a always,exit -F arch=b64 -S open -F key=a1\n");
    assert!(matches!(&errors[..], [(2, Problem::RuleExists(at))] if at == "t.rules:1"));
    // -A does not look for duplicates in the kernel.
    assert_eq!(
        listing("-A always,exit -F arch=b64 -S open\n-A always,exit -F arch=b64 -S open\n"),
        "-a always,exit -F arch=b64 -S open\n-a always,exit -F arch=b64 -S open\n"
    );
    assert_eq!(
        listing("-w /etc/passwd -p wa\n-a always,exit -F arch=b64 -S execve -k a1\n-a always,exit -F arch=b64 -S execve -k b1\n-W /etc/passwd -p wa\n-D -k a\n"),
        "-a always,exit -F arch=b64 -S execve -F key=b1\n"
    );
    assert_eq!(listing("-w /etc/passwd -p wa\n-D\n"), "No rules\n");
    assert!(matches!(error("-W /etc/passwd"), Problem::NoRuleMatches));
    assert!(matches!(error("-D -x"), Problem::BadSetting { .. }));
}

#[test]
fn settings_and_immutability() {
    let h = host();
    let mut l = Loader::new(&h);
    l.load_str(
        "-e 1\n-b 8192\n-f 2\n-r 100\n--backlog_wait_time 60000\n--loginuid-immutable\n",
        "s.rules",
    )
    .unwrap();
    let s = &l.ruleset().settings;
    assert_eq!(
        (
            s.enabled,
            s.backlog_limit,
            s.failure,
            s.rate_limit,
            s.backlog_wait_time,
            s.loginuid_immutable
        ),
        (Some(1), Some(8192), Some(2), Some(100), Some(60000), true)
    );
    for bad in ["-e 3", "-f x", "-b abc", "-r -1", "--backlog_wait_time x"] {
        assert!(matches!(error(bad), Problem::BadSetting { .. }), "{bad}");
    }
    let (_, errors) = load("-e 2\n-w /etc/passwd -p wa\n-e 1\n");
    assert!(
        matches!(&errors[..], [(2, Problem::Immutable(at)), (3, Problem::Immutable(_))] if at.starts_with("t.rules:1"))
    );
}

#[test]
fn file_error_semantics() {
    let h = host();
    let bad = "-w /etc/passwd -p wa\n-a always,exit -F uidd=1\n-w /tmp -p r\n";
    // Rejected whole, every error reported, nothing loaded.
    let mut l = Loader::new(&h);
    let e = l.load_str(bad, "x.rules").unwrap_err();
    assert_eq!(e.errors().count(), 1);
    assert_eq!(l.ruleset().rules.len(), 0);
    // -i: loads the rest, succeeds.
    let r = Loader::new(&h)
        .load_str(&format!("-i\n{bad}"), "x.rules")
        .unwrap();
    assert!(!r.failed);
    // -c: loads the rest, fails.
    let mut l = Loader::new(&h);
    let r = l.load_str(&format!("-c\n{bad}"), "x.rules").unwrap();
    assert!(r.failed);
    assert_eq!(l.ruleset().rules.len(), 2);
    // -i after the error does not save it.
    assert!(Loader::new(&h)
        .load_str(&format!("{bad}-i\n"), "x.rules")
        .is_err());
    // Display: file:line:column: problem.
    assert!(
        e.to_string()
            .starts_with("x.rules:2:19: unknown field \"uidd\""),
        "{e}"
    );
}

#[test]
fn words_and_options() {
    assert_eq!(
        listing("-a always,exit -Farch=b64 -Sfchmod -Fkey=attached\n"),
        "-a always,exit -F arch=b64 -S fchmod -F key=attached\n"
    );
    for (line, want) in [
        ("\t-w /tmp/x -p r", "PermWithoutRule"),
        ("\t-w /tmp/x", "NoOption"),
        ("-w /tmp/c -p r # trailing", "StrayArgument"),
        ("-Q", "UnknownOption"),
        ("foo", "NoOption"),
        ("-w /tmp/j -p", "MissingArgument"),
        ("-R /etc/audit/audit.rules", "NestedRulesFile"),
    ] {
        let p = error(line);
        assert!(format!("{p:?}").starts_with(want), "{line}: {p:?}");
    }
    assert!(matches!(error(&"x".repeat(7000)), Problem::LineTooLong(_)));
    // CRLF: auditctl keeps the CR in the last word; vigil too, and says so.
    let h = host();
    let mut l = Loader::new(&h);
    let r = l
        .load_str("-w /etc/passwd -p wa -k id\r\n", "crlf.rules")
        .unwrap();
    assert!(r
        .diagnostics
        .iter()
        .any(|d| d.problem == Problem::CarriageReturn));
    assert_eq!(l.ruleset().rules[0].keys, ["id\r"]);
}

#[test]
fn too_many_fields() {
    let fields = (0..61)
        .map(|i| format!(" -F a{}={i}", i % 4))
        .collect::<Vec<_>>()
        .concat();
    assert!(load(&format!(
        "-a always,exit -F arch=b64 -S open{fields} -k k\n"
    ))
    .1
    .is_empty());
    assert!(matches!(
        error(&format!(
            "-a always,exit -F arch=b64 -S open -F pid=1{fields} -k k"
        )),
        Problem::TooManyFields
    ));
}

#[test]
fn io_uring_rules() {
    assert_eq!(
        listing("-a always,io_uring -S openat,connect -S 36 -k uring\n-a never,io_uring -S all -F uid=alice\n-a always,io_uring -F auid!=unset -F exit=-EACCES -C uid!=euid\n"),
        "-a always,io_uring -S connect,openat,unlinkat -F key=uring\n-a never,io_uring -S all -F uid=1000\n-a always,io_uring -S all -F auid!=-1 -F exit=-EACCES -C uid!=euid\n"
    );
    assert_eq!(
        listing("-a always,io_uring -S IORING_OP_READ\n"),
        "-a always,io_uring -S read\n"
    );
    assert!(matches!(
        error("-a always,io_uring -F arch=b64 -S openat"),
        Problem::ArchOnUring
    ));
    assert!(matches!(
        error("-a always,io_uring -S openat -F perm=r"),
        Problem::FieldNotOnList { .. }
    ));
    assert!(matches!(
        error("-a always,io_uring -S openat -F dir=/tmp"),
        Problem::FieldNotOnList { .. }
    ));
    assert!(matches!(
        error("-a always,io_uring -S open"),
        Problem::UnknownUringOp(_)
    ));
    assert!(matches!(
        error("-a always,io_uring -S 64"),
        Problem::UnknownUringOp(_)
    ));
    let h = host();
    let out = vigil_rules::parse_argv(&["-a", "always,io_uring", "-S", "openat"], &h);
    let Command::Add { rule, .. } = &out.commands[0] else {
        panic!("{out:?}")
    };
    assert_eq!(rule.list, FilterList::IoUring);
    assert_eq!(rule.syscalls, Syscalls::Set([18].into()));
}

#[test]
fn container_ids() {
    assert_eq!(
        listing("-a always,exit -F arch=b64 -S execve -F contid=42 -k c\n-a never,io_uring -F contid_tree!=0x10\n-a never,task -F contid=18446744073709551615\n"),
        "-a never,task -F contid=18446744073709551615\n-a always,exit -F arch=b64 -S execve -F contid=42 -F key=c\n-a never,io_uring -S all -F contid_tree!=16\n"
    );
    assert!(matches!(
        error("-a always,exit -S all -F contid>5"),
        Problem::OperatorNotAllowed { .. }
    ));
    assert!(matches!(
        error("-a always,exit -S all -F contid=abc"),
        Problem::NotANumber { .. }
    ));
    assert!(matches!(
        error("-a never,filesystem -F contid=1"),
        Problem::FieldNotOnList { .. }
    ));
    let h = host();
    let out = vigil_rules::parse_argv(
        &["-a", "always,exit", "-S", "all", "-F", "contid_tree=7"],
        &h,
    );
    let Command::Add { rule, .. } = &out.commands[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        rule.conditions,
        vec![Condition::Field {
            field: Field::ContIdTree,
            op: Op::Eq,
            value: Value::Num(7)
        }]
    );
}

#[test]
fn command_line() {
    let h = host();
    let mut l = Loader::new(&h);
    l.apply_argv(&["-w", "/etc/passwd", "-p", "wa", "-k", "id"])
        .unwrap();
    let e = l
        .apply_argv(&["-a", "always,exit", "-S", "open", "-F", "uidd=1"])
        .unwrap_err();
    let first = e.errors().next().unwrap().to_string();
    assert!(first.starts_with("command line:1:27: unknown field"), "{e}");
    assert_eq!(list_rules(l.ruleset()), "-w /etc/passwd -p wa -k id\n");
    let out = vigil_rules::parse_argv(&["-e", "2"], &h);
    assert_eq!(out.commands, vec![Command::Set(Setting::Enabled(2))]);
}
