//! Property tests: the parser never panics, whatever it is fed, and what the printer writes
//! reads back: printing, parsing and printing again reaches a fixed point after one round
//! (one round may normalise, e.g. `-F dir=/tmp/ -F perm=wa` lists as `-w /tmp/ -p wa`, which
//! reads back as a watch on `/tmp`). A few forms auditctl prints but cannot read back are
//! skipped, see below.

use proptest::prelude::*;
use vigil_rules::ast::{Condition, Field, FilterList, Value};
use vigil_rules::lexer::argv_tokens;
use vigil_rules::parse::parse_tokens;
use vigil_rules::tables::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use vigil_rules::{format_rule, list_rules, Command, FakeHost, Loader};

fn host() -> FakeHost {
    let mut h = FakeHost::new();
    h.users.insert("alice".into(), 1000);
    h.dirs.insert("/tmp".into());
    h.files.insert("/etc/passwd".into());
    h
}

const WORDS: &[&str] = &[
    "-a",
    "-A",
    "-d",
    "-w",
    "-W",
    "-S",
    "-F",
    "-C",
    "-k",
    "-p",
    "-e",
    "-D",
    "-i",
    "-c",
    "-b",
    "-f",
    "-r",
    "--backlog_wait_time",
    "--loginuid-immutable",
    "-l",
    "-s",
    "always,exit",
    "exit,never",
    "never,task",
    "always,user",
    "never,exclude",
    "never,filesystem",
    "always,io_uring",
    "io_uring,never",
    "possible,exit",
    "exit,possible",
    "open",
    "openat,close",
    "all",
    "59",
    "2040",
    "connect",
    "bogus",
    "read,write,execve",
    "uid=0",
    "auid!=unset",
    "auid>=1000",
    "auid=-1",
    "uid=alice",
    "gid=root",
    "a0&=3",
    "a1&0x10",
    "a2<=-1",
    "arch=b64",
    "arch=b32",
    "arch=aarch64",
    "arch!=b64",
    "pid=1",
    "path=/etc/passwd",
    "path=/tmp/x",
    "dir=/tmp",
    "dir=/tmp/",
    "perm=wa",
    "perm=x",
    "key=x",
    "key=",
    "exit=-EACCES",
    "exit=2",
    "success=1",
    "msgtype=CWD",
    "fstype=tracefs",
    "filetype=dir",
    "exe=/tmp/prog",
    "exe!=/tmp/prog",
    "inode=5",
    "contid=7",
    "contid_tree!=0x10",
    "subj_type=x_t",
    "sessionid=unset",
    "saddr_fam=2",
    "euid=uid",
    "auid!=obj_uid",
    "gid=sgid",
    "uid=gid",
    "/etc/passwd",
    "/tmp",
    "/tmp/",
    "wa",
    "rwxa",
    "rx",
    "k1",
    "k2",
    "0",
    "1",
    "2",
    "100",
    "=",
    "!=",
    "",
    " ",
    "#",
    "\\",
    "\u{1}",
    "é",
    "-",
    "--",
    "-Fuid=0",
    "-Sopen",
    "-ic",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

const LISTS: &[&str] = &[
    "always,exit",
    "never,exit",
    "exit,always",
    "never,task",
    "always,user",
    "never,exclude",
    "never,filesystem",
    "always,io_uring",
];
const PIECES: &[&[&str]] = &[
    &["-S", "open"],
    &["-S", "openat,close"],
    &["-S", "all"],
    &["-S", "59"],
    &["-S", "connect"],
    &["-F", "arch=b64"],
    &["-F", "arch=b32"],
    &["-F", "uid=0"],
    &["-F", "auid!=unset"],
    &["-F", "auid>=1000"],
    &["-F", "gid=root"],
    &["-F", "a0&=3"],
    &["-F", "a1!=-1"],
    &["-F", "pid=1"],
    &["-F", "path=/etc/passwd"],
    &["-F", "dir=/tmp/"],
    &["-F", "perm=wa"],
    &["-F", "exit=-EACCES"],
    &["-F", "success=0"],
    &["-F", "msgtype=CWD"],
    &["-F", "fstype=tracefs"],
    &["-F", "filetype=dir"],
    &["-F", "exe=/tmp/prog"],
    &["-F", "exe!=/tmp/prog"],
    &["-F", "inode=5"],
    &["-F", "contid=7"],
    &["-F", "contid_tree!=0x10"],
    &["-F", "subj_type=x_t"],
    &["-F", "sessionid=3"],
    &["-F", "key=fk"],
    &["-C", "euid=uid"],
    &["-C", "auid!=obj_uid"],
    &["-k", "k1"],
    &["-k", "k2"],
    &["-p", "rx"],
];

/// A plausible rule line: a list and a few pieces, or a watch.
fn rule_line() -> impl Strategy<Value = Vec<String>> {
    let pieces = proptest::collection::vec(proptest::sample::select(PIECES), 0..6);
    prop_oneof![
        (
            proptest::sample::select(&["-a", "-A"][..]),
            proptest::sample::select(LISTS),
            pieces
        )
            .prop_map(|(op, list, ps)| {
                let mut v = vec![op.to_owned(), list.to_owned()];
                v.extend(ps.iter().flat_map(|p| p.iter().map(|w| (*w).to_owned())));
                v
            }),
        (
            proptest::sample::select(&["/etc/passwd", "/tmp", "/tmp/", "/tmp/new"][..]),
            proptest::sample::select(&["r", "wa", "rwxa"][..]),
            proptest::option::of(proptest::sample::select(&["k1", "k2"][..])),
        )
            .prop_map(|(path, perm, key)| {
                let mut v = vec!["-w".into(), path.into(), "-p".into(), perm.into()];
                if let Some(k) = key {
                    v.extend(["-k".into(), k.into()]);
                }
                v
            }),
    ]
}

fn line() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        3 => rule_line(),
        1 => proptest::collection::vec(word(), 0..10),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,400}") {
        let h = host();
        let _ = Loader::new(&h).load_str(&text, "fuzz.rules");
        let _ = Loader::new(&h).continue_on_error(true).load_str(&text, "fuzz.rules");
    }

    #[test]
    fn arbitrary_argv_never_panics(argv in proptest::collection::vec(".{0,16}", 0..8)) {
        let h = host();
        let _ = vigil_rules::parse_argv(&argv, &h);
    }

    #[test]
    fn printed_rules_read_back(lines in proptest::collection::vec(line(), 1..12)) {
        let h = host();
        let text: String = lines.iter().map(|l| l.join(" ") + "\n").collect();
        let mut loader = Loader::new(&h).continue_on_error(true);
        let _ = loader.load_str(&text, "fuzz.rules");
        let _ = list_rules(loader.ruleset());
        if std::env::var_os("VIGIL_FUZZ_STATS").is_some() {
            eprintln!("rules loaded: {}", loader.ruleset().rules.len());
        }
        for rule in &loader.ruleset().rules {
            let p1 = format_rule(rule);
            // Forms auditctl itself prints but does not read back: " -p x-w PATH" (perm
            // before path), file types as numbers, and arches listed only as b32/b64 (an
            // aarch64 rule lists as b64, which reads back as x86_64 on this host).
            let foreign_arch = rule.conditions.iter().any(|c| {
                matches!(c, Condition::Field { field: Field::Arch, value: Value::Num(a), .. }
                    if ![AUDIT_ARCH_X86_64, AUDIT_ARCH_I386].contains(&(*a as u32)))
            });
            // Also -p on other lists than exit: accepted, listed as perm=, which -F refuses.
            let perm_off_exit = rule.list != FilterList::Exit
                && rule.conditions.iter().any(
                    |c| matches!(c, Condition::Field { field: Field::Perm, .. }),
                );
            if !p1.starts_with('-') || p1.contains("filetype=") || foreign_arch || perm_off_exit {
                continue;
            }
            let p2 = reprint(&p1, &h);
            let p3 = reprint(&p2, &h);
            prop_assert_eq!(&p2, &p3, "from {:?} (line {})", p1, rule.origin.line);
        }
    }
}

/// Parses one printed rule and prints it again; the printed form must always be accepted.
fn reprint(printed: &str, h: &FakeHost) -> String {
    let words: Vec<&str> = printed.split(' ').collect();
    let out = parse_tokens(&argv_tokens(&words), "printed", 1, h);
    assert!(
        !out.failed(),
        "printed rule {printed:?} does not read back: {:?}",
        out.diagnostics
    );
    match out.commands.as_slice() {
        [Command::Add { rule, .. }] => format_rule(rule),
        other => panic!("printed rule {printed:?} read back as {other:?}"),
    }
}
