//! `check` on rules written as auditctl text.

use super::*;
use crate::parse_str;

fn run(text: &str) -> Report {
    let file = parse_str(text, "t.rules").expect("rules parse");
    check(&file.rules)
}

/// (line, kind) of every warning.
fn found(r: &Report) -> Vec<(u32, WarningKind)> {
    r.warnings
        .iter()
        .map(|w| (w.origin.line, w.kind.clone()))
        .collect()
}

#[test]
fn contradictions_never_match() {
    let r = run(
        "-a always,exit -F arch=b64 -S openat -F uid=1 -F uid=2 -k a\n\
                 -a always,exit -F arch=b64 -S openat -F exit<0 -k b\n\
                 -a always,exit -F arch=b64 -S openat -F success=0 -F exit=0 -k c\n\
                 -a always,exit -F arch=b64 -S openat -F auid>=1000 -F auid<500 -k d\n",
    );
    assert_eq!(
        found(&r),
        (1..=4)
            .map(|l| (l, WarningKind::NeverMatches))
            .collect::<Vec<_>>()
    );
    assert!(
        r.warnings[0]
            .message
            .contains("uid=1 and uid=2 cannot all hold"),
        "{}",
        r.warnings[0]
    );
    assert!(
        r.warnings[1].message.contains("unsigned"),
        "{}",
        r.warnings[1]
    );
    assert_eq!(
        r.warnings[0].to_string(),
        "t.rules:1: warning: rule never matches: uid=1 and uid=2 cannot all hold"
    );
}

#[test]
fn impossible_syscalls_and_fields() {
    let r = run("-a always,exit -F arch=b64 -S open -F perm=x -k a\n\
                 -a always,exit -F arch=b64 -S openat -F success=1 -F exit=-EPERM -k c\n");
    assert_eq!(
        found(&r),
        vec![(1, WarningKind::NeverMatches), (2, WarningKind::Suspicious)]
    );
    assert!(r.warnings[0].message.contains("-S, arch= and perm="));
}

fn rule(list: FilterList, conds: Vec<Condition>, keys: &[&str], line: u32) -> Rule {
    Rule {
        list,
        action: Action::Always,
        syscalls: Syscalls::All,
        conditions: conds,
        keys: keys.iter().map(|k| (*k).to_string()).collect(),
        is_watch: false,
        origin: Origin {
            file: "ast".into(),
            line,
        },
    }
}

fn msgtype(t: u64) -> Condition {
    Condition::Field {
        field: Field::MsgType,
        op: Op::Eq,
        value: Value::Num(t),
    }
}

#[test]
fn rules_built_elsewhere() {
    // Sets built by other means than a rules file (vigil ctl, a merged tenant set) can hold
    // what auditctl refuses: fields a list cannot evaluate, duplicates, empty exclude rules.
    let set = RuleSet {
        rules: vec![
            rule(FilterList::Exit, vec![msgtype(1300)], &[], 1),
            rule(FilterList::Exclude, vec![], &[], 2),
            rule(FilterList::Exclude, vec![msgtype(1307)], &[], 3),
            rule(FilterList::Exclude, vec![msgtype(1307)], &[], 4),
        ],
        ..RuleSet::default()
    };
    let r = check(&set);
    assert_eq!(
        found(&r),
        vec![
            (1, WarningKind::NeverMatches),
            (2, WarningKind::NeverMatches),
            (4, WarningKind::Duplicate { of: 2 }),
        ]
    );
    assert!(r.warnings[0]
        .message
        .contains("msgtype is not evaluated on the exit list"));
    assert!(r.warnings[1].message.contains("without fields"));
}

#[test]
fn duplicates_and_shadows() {
    let r = run(
        "-a always,exit -F arch=b64 -S all -F auid>=1000 -F auid!=unset -k all\n\
                 -a always,exit -F arch=b64 -S openat -F auid>=1000 -F auid!=unset -k open\n\
                 -a always,exit -F arch=b64 -S openat -F auid=1001 -k one\n\
                 -a always,exit -F arch=b64 -S openat -F auid>=500 -k wider\n\
                 -a never,exit -F arch=b64 -F uid=0\n\
                 -a always,exit -F arch=b64 -S execve -F uid=0 -F euid=0 -k root\n\
                 -a always,exit -F arch=b32 -S execve -F uid=0 -k root32\n",
    );
    assert_eq!(
        found(&r),
        vec![
            (1, WarningKind::EveryEvent),
            (2, WarningKind::Shadowed { by: 0 }),
            (3, WarningKind::Shadowed { by: 0 }),
            (6, WarningKind::Shadowed { by: 4 }),
        ]
    );
    assert!(r.warnings[1]
        .message
        .contains("the always rule at t.rules:1"));
}

#[test]
fn watches_after_broader_rules_are_shadowed() {
    let r = run(
        "-a always,exit -F arch=b64 -S unlink,unlinkat,rename,renameat -F auid>=1000 -k del\n\
                 -w /etc/passwd -p wa -k identity\n\
                 -a never,exit -F arch=b64 -F auid=4294967295\n",
    );
    // The watch is not shadowed: it also covers writes and attribute changes.
    assert!(found(&r).iter().all(|(l, _)| *l != 2), "{:?}", r.warnings);
    let r = run("-a never,exit -F dir=/etc -F perm=wa\n-w /etc/passwd -p wa -k identity\n");
    assert_eq!(found(&r), vec![(2, WarningKind::Shadowed { by: 0 })]);
}

#[test]
fn the_cost_report_comes_along() {
    let r = run("-a always,exit -F arch=b64 -S openat -F uid=1001 -k a\n\
                 -a always,exit -S all -F uid=1002 -k b\n");
    let text = r.to_string();
    assert!(
        text.starts_with("cost: kernel: every syscall walks 2 exit rules"),
        "{text}"
    );
    assert!(
        text.contains(
            "openat (x86_64): kernel walks 2 rules and evaluates 2; vigil evaluates at most 2"
        ),
        "{text}"
    );
    let cost = r.cost.unwrap();
    assert_eq!(cost.kernel_exit_rules, 2);
    assert_eq!(cost.vigil_residual, 0);
    assert!(
        cost.summary().contains("walks 2 exit rules"),
        "{}",
        cost.summary()
    );
}
