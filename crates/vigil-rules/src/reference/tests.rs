//! The reference evaluator against behaviours of the kernel's filter code, case by case.

use super::*;
use crate::ast::{Origin, Settings};
use crate::input::{EventInput, ObjectInput, TaskInput};
use std::collections::BTreeSet;

const X86_64: u32 = 0xc000_003e;
const I386: u32 = 0x4000_0003;

fn f(field: Field, op: Op, v: u64) -> Condition {
    Condition::Field {
        field,
        op,
        value: Value::Num(v),
    }
}

fn s(field: Field, op: Op, v: &str) -> Condition {
    Condition::Field {
        field,
        op,
        value: Value::Str(v.into()),
    }
}

fn rule(
    list: FilterList,
    action: Action,
    nrs: &[u32],
    conds: Vec<Condition>,
    keys: &[&str],
) -> Rule {
    Rule {
        list,
        action,
        syscalls: if nrs.is_empty() {
            Syscalls::All
        } else {
            Syscalls::Set(nrs.iter().copied().collect::<BTreeSet<u32>>())
        },
        conditions: conds,
        keys: keys.iter().map(|k| (*k).to_string()).collect(),
        is_watch: false,
        origin: Origin::default(),
    }
}

fn exit(action: Action, nrs: &[u32], conds: Vec<Condition>, keys: &[&str]) -> Rule {
    rule(FilterList::Exit, action, nrs, conds, keys)
}

fn set(rules: Vec<Rule>) -> RuleSet {
    RuleSet {
        rules,
        settings: Settings::default(),
    }
}

fn task() -> TaskInput {
    TaskInput {
        pid: 4242,
        ppid: 1,
        uid: 1000,
        euid: 1000,
        suid: 1000,
        fsuid: 1000,
        gid: 1000,
        egid: 1000,
        sgid: 1000,
        fsgid: 1000,
        auid: 1000,
        sessionid: 3,
        exe: Some(b"/usr/bin/cat".to_vec()),
        ..TaskInput::default()
    }
}

fn syscall(nr: u32) -> EventInput {
    EventInput {
        list: Some(FilterList::Exit),
        arch: X86_64,
        nr,
        success: true,
        task: task(),
        ..EventInput::default()
    }
}

fn file(path: &str, inode: u64) -> ObjectInput {
    ObjectInput {
        path: Some(path.as_bytes().to_vec()),
        inode,
        dev_major: 8,
        dev_minor: 1,
        mode: 0o100_644,
        fstype: 0xef53,
        ..ObjectInput::default()
    }
}

fn one(rs: &RuleSet, ev: &EventInput) -> Verdict {
    evaluate(std::slice::from_ref(rs), ev).verdicts[0]
}

#[test]
fn first_matching_rule_decides_and_keys() {
    let rs = set(vec![
        exit(
            Action::Always,
            &[257],
            vec![f(Field::Uid, Op::Eq, 0)],
            &["root"],
        ),
        exit(
            Action::Always,
            &[257],
            vec![f(Field::Auid, Op::Ge, 1000)],
            &["user"],
        ),
        exit(Action::Never, &[257], vec![], &["late"]),
    ]);
    let v = one(&rs, &syscall(257));
    assert_eq!((v.record, v.rule, v.key_rule), (true, Some(1), Some(1)));
    let d = evaluate(std::slice::from_ref(&rs), &syscall(257));
    assert_eq!(d.keys(std::slice::from_ref(&rs), 0), ["user".to_string()]);
    assert_eq!(d.wanted, 1);
    // A syscall no rule names: nothing decides.
    assert_eq!(one(&rs, &syscall(39)), Verdict::default());
}

#[test]
fn never_rule_short_circuits() {
    let rs = set(vec![
        exit(Action::Never, &[], vec![f(Field::Auid, Op::Eq, 1000)], &[]),
        exit(Action::Always, &[257], vec![], &["k"]),
    ]);
    let v = one(&rs, &syscall(257));
    assert_eq!((v.record, v.rule, v.reason), (false, Some(0), Reason::Rule));
}

#[test]
fn all_syscall_rules_stop_below_the_class_bits() {
    let rs = set(vec![exit(
        Action::Always,
        &[],
        vec![f(Field::Uid, Op::Eq, 1000)],
        &[],
    )]);
    assert!(one(&rs, &syscall(0)).record);
    assert!(one(&rs, &syscall(2031)).record);
    // 2032..2047 are class bits, 2048+ is outside the kernel's mask (x32 numbers).
    assert!(!one(&rs, &syscall(2040)).record);
    assert!(!one(&rs, &syscall(0x4000_0000)).record);
}

#[test]
fn numbers_compare_as_u32() {
    let mut ev = syscall(2);
    ev.exit = -13;
    ev.args = [0x1_0000_0001, 0, 0, 0];
    let eacces = u64::from(-13i32 as u32);
    let hit = |c| one(&set(vec![exit(Action::Always, &[], vec![c], &[])]), &ev).record;
    assert!(hit(f(Field::Exit, Op::Eq, eacces)));
    // exit<0 never holds: the kernel compares the return value as an unsigned 32-bit number.
    assert!(!hit(f(Field::Exit, Op::Lt, 0)));
    assert!(hit(f(Field::Exit, Op::Gt, 0)));
    // Arguments are truncated to 32 bits.
    assert!(hit(f(Field::Arg(0), Op::Eq, 1)));
    assert!(hit(f(Field::Arg(0), Op::BitTest, 1)));
    // uid fields ignore bit operators (audit_uid_comparator).
    assert!(!hit(f(Field::Uid, Op::BitMask, 1000)));
    assert!(hit(f(Field::Pid, Op::BitMask, 2)));
}

#[test]
fn success_compares_kernel_return_states() {
    let mut ok = syscall(2);
    ok.success = true;
    let mut failed = syscall(2);
    failed.success = false;
    let r = |c| set(vec![exit(Action::Always, &[], vec![c], &[])]);
    assert!(one(&r(f(Field::Success, Op::Eq, 1)), &ok).record);
    assert!(!one(&r(f(Field::Success, Op::Eq, 1)), &failed).record);
    assert!(one(&r(f(Field::Success, Op::Eq, 0)), &failed).record);
    // The value picks AUDITSC_SUCCESS (1) or AUDITSC_FAILURE (2) as the right-hand side:
    // success>1 means "state > 1", the failures; success>0 means "state > 2", nothing.
    assert!(one(&r(f(Field::Success, Op::Gt, 1)), &failed).record);
    assert!(!one(&r(f(Field::Success, Op::Gt, 1)), &ok).record);
    assert!(!one(&r(f(Field::Success, Op::Gt, 0)), &failed).record);
}

#[test]
fn gid_matches_supplementary_groups() {
    let mut ev = syscall(2);
    ev.task.groups = vec![27];
    let r = |op| {
        set(vec![exit(
            Action::Always,
            &[],
            vec![f(Field::Gid, op, 27)],
            &[],
        )])
    };
    assert!(one(&r(Op::Eq), &ev).record);
    assert!(!one(&r(Op::Ne), &ev).record);
    // sgid has no group search.
    let sg = set(vec![exit(
        Action::Always,
        &[],
        vec![f(Field::Sgid, Op::Eq, 27)],
        &[],
    )]);
    assert!(!one(&sg, &ev).record);
}

#[test]
fn field_comparisons() {
    let mut ev = syscall(2);
    ev.task.euid = 0;
    let cmp = |left, op, right| {
        set(vec![exit(
            Action::Always,
            &[],
            vec![Condition::Compare { left, op, right }],
            &[],
        )])
    };
    assert!(one(&cmp(Field::Uid, Op::Ne, Field::Euid), &ev).record);
    assert!(!one(&cmp(Field::Uid, Op::Eq, Field::Euid), &ev).record);
    // Object sides: any object will do; no object, no match.
    assert!(!one(&cmp(Field::Uid, Op::Eq, Field::ObjUid), &ev).record);
    let mut owned = file("/home/u/f", 10);
    owned.ouid = 1000;
    ev.objects = vec![file("/etc/passwd", 11), owned];
    assert!(one(&cmp(Field::Uid, Op::Eq, Field::ObjUid), &ev).record);
}

#[test]
fn watches_follow_perm_classes() {
    // -w /etc/passwd -p wa
    let rs = set(vec![exit(
        Action::Always,
        &[],
        vec![
            s(Field::Path, Op::Eq, "/etc/passwd"),
            f(Field::Perm, Op::Eq, 10),
        ],
        &["identity"],
    )]);
    let at = |nr, flags: u64| {
        let mut ev = syscall(nr);
        ev.args = [0, 0, flags, 0];
        ev.objects = vec![file("/etc/passwd", 7)];
        one(&rs, &ev).record
    };
    assert!(at(257, 1), "openat O_WRONLY is a write");
    assert!(at(257, 2), "openat O_RDWR is a write");
    assert!(!at(257, 0), "openat O_RDONLY is a read");
    assert!(at(87, 0), "unlink is in the write class");
    assert!(at(90, 0), "chmod is in the attribute class");
    assert!(!at(0, 0), "read(2) is in no class");
    // The i386 numbering applies to i386 events: chmod is 15 there.
    let mut ev = syscall(15);
    ev.arch = I386;
    ev.objects = vec![file("/etc/passwd", 7)];
    assert!(one(&rs, &ev).record);
    // Another file: no match.
    let mut other = syscall(87);
    other.objects = vec![file("/etc/shadow", 8)];
    assert!(!one(&rs, &other).record);
}

#[test]
fn dir_matches_on_component_boundaries() {
    let rs = set(vec![exit(
        Action::Always,
        &[],
        vec![s(Field::Dir, Op::Eq, "/etc/")],
        &[],
    )]);
    for (path, hit) in [
        ("/etc/passwd", true),
        ("/etc", true),
        ("/etc/ssh/sshd_config", true),
        ("/etcx/y", false),
        ("/tmp/etc", false),
    ] {
        let mut ev = syscall(87);
        ev.objects = vec![file(path, 1)];
        assert_eq!(one(&rs, &ev).record, hit, "{path}");
    }
}

#[test]
fn task_never_excludes_and_task_always_records() {
    let exits = vec![exit(Action::Always, &[], vec![], &["exit"])];
    let mut never = exits.clone();
    never.insert(
        0,
        rule(
            FilterList::Task,
            Action::Never,
            &[],
            vec![f(Field::Uid, Op::Eq, 1000)],
            &[],
        ),
    );
    let v = one(&set(never), &syscall(2));
    assert_eq!((v.record, v.reason, v.rule), (false, Reason::Task, Some(0)));

    let mut always = exits;
    always.push(rule(
        FilterList::Task,
        Action::Always,
        &[],
        vec![],
        &["all"],
    ));
    let v = one(&set(always), &syscall(2));
    assert_eq!(
        (v.record, v.reason, v.rule, v.key_rule),
        (true, Reason::Task, Some(1), Some(1))
    );
    // Context fields cannot hold at fork: a task rule on ppid never matches.
    let ppid = set(vec![rule(
        FilterList::Task,
        Action::Never,
        &[],
        vec![f(Field::Ppid, Op::Eq, 1)],
        &[],
    )]);
    assert_eq!(one(&ppid, &syscall(2)).reason, Reason::NoMatch);
}

#[test]
fn inode_phase_overrides_only_with_higher_priority() {
    let watch = exit(
        Action::Never,
        &[],
        vec![s(Field::Path, Op::Eq, "/etc/passwd")],
        &[],
    );
    let any = exit(Action::Always, &[], vec![], &["any"]);
    let mut ev = syscall(2);
    ev.objects = vec![file("/etc/passwd", 5)];
    // The watch comes first: it overrides, and keeps the exit rule's key (it has none).
    let v = one(&set(vec![watch.clone(), any.clone()]), &ev);
    assert_eq!((v.record, v.rule, v.key_rule), (false, Some(0), Some(1)));
    // The watch comes second: the exit rule has higher priority.
    let v = one(&set(vec![any, watch]), &ev);
    assert_eq!((v.record, v.rule), (true, Some(0)));
}

#[test]
fn inode_phase_stops_at_the_first_object_that_matches() {
    let rs = set(vec![
        exit(
            Action::Always,
            &[],
            vec![s(Field::Path, Op::Eq, "/etc/shadow")],
            &["shadow"],
        ),
        exit(
            Action::Always,
            &[],
            vec![s(Field::Path, Op::Eq, "/etc/passwd")],
            &["passwd"],
        ),
    ]);
    let mut ev = syscall(82);
    ev.objects = vec![file("/etc/passwd", 5), file("/etc/shadow", 6)];
    // audit_filter_inodes walks the names in order and stops at the first that matches:
    // the second rule decides although the first one is earlier in the list.
    assert_eq!(one(&rs, &ev).rule, Some(1));
}

#[test]
fn filesystem_never_hides_objects() {
    let rs = set(vec![
        rule(
            FilterList::Filesystem,
            Action::Never,
            &[],
            vec![f(Field::FsType, Op::Eq, 0x9fa0)],
            &[],
        ),
        exit(
            Action::Always,
            &[],
            vec![s(Field::Dir, Op::Eq, "/proc")],
            &[],
        ),
    ]);
    let mut ev = syscall(2);
    let mut proc_file = file("/proc/self/status", 3);
    proc_file.fstype = 0x9fa0;
    ev.objects = vec![proc_file];
    let v = one(&rs, &ev);
    assert_eq!((v.record, v.hidden), (false, 1));
}

#[test]
fn exclude_and_user_lists() {
    let msg = |list, msgtype| EventInput {
        list: Some(list),
        msgtype,
        task: task(),
        ..EventInput::default()
    };
    let excl = |action, conds, keys: &[&str]| {
        set(vec![rule(FilterList::Exclude, action, &[], conds, keys)])
    };
    // Any matching exclude rule drops the record type, whatever its action.
    for action in [Action::Always, Action::Never] {
        let v = one(
            &excl(action, vec![f(Field::MsgType, Op::Eq, 1300)], &[]),
            &msg(FilterList::Exclude, 1300),
        );
        assert_eq!((v.record, v.reason), (false, Reason::Rule));
    }
    assert!(
        one(
            &excl(Action::Always, vec![f(Field::MsgType, Op::Eq, 1300)], &[]),
            &msg(FilterList::Exclude, 1302)
        )
        .record
    );
    // No field: never matches.
    assert!(
        one(
            &excl(Action::Always, vec![], &[]),
            &msg(FilterList::Exclude, 1300)
        )
        .record
    );
    // A key is a field audit_filter cannot evaluate: the walk stops and the record stays.
    let v = one(
        &excl(
            Action::Always,
            vec![f(Field::MsgType, Op::Eq, 1300)],
            &["k"],
        ),
        &msg(FilterList::Exclude, 1300),
    );
    assert_eq!((v.record, v.reason), (true, Reason::Aborted));
    // user list: never drops, always keeps, an unsupported field stops the walk.
    let user = |action, conds| set(vec![rule(FilterList::User, action, &[], conds, &[])]);
    assert!(
        !one(
            &user(Action::Never, vec![f(Field::Uid, Op::Eq, 1000)]),
            &msg(FilterList::User, 1100)
        )
        .record
    );
    let v = one(
        &user(Action::Never, vec![f(Field::Ppid, Op::Eq, 1)]),
        &msg(FilterList::User, 1100),
    );
    assert_eq!((v.record, v.reason), (true, Reason::Aborted));
}

#[test]
fn io_uring_list_uses_opcodes_and_the_task_list() {
    let rs = set(vec![rule(
        FilterList::IoUring,
        Action::Always,
        &[18],
        vec![],
        &["uring"],
    )]);
    let mut ev = syscall(18);
    ev.list = Some(FilterList::IoUring);
    ev.arch = 0;
    assert!(one(&rs, &ev).record);
    ev.nr = 22;
    assert!(!one(&rs, &ev).record);
    // exit rules do not apply to io_uring ops.
    let exits = set(vec![exit(Action::Always, &[], vec![], &[])]);
    ev.nr = 18;
    assert!(!one(&exits, &ev).record);
}

#[test]
fn container_ids() {
    let mut ev = syscall(2);
    ev.task.contids = vec![7, 3];
    let r = |c| set(vec![exit(Action::Always, &[], vec![c], &[])]);
    assert!(one(&r(f(Field::ContId, Op::Eq, 7)), &ev).record);
    assert!(!one(&r(f(Field::ContId, Op::Eq, 3)), &ev).record);
    assert!(one(&r(f(Field::ContIdTree, Op::Eq, 3)), &ev).record);
    assert!(!one(&r(f(Field::ContIdTree, Op::Ne, 3)), &ev).record);
    ev.task.contids.clear();
    assert!(one(&r(f(Field::ContId, Op::Eq, CONTID_UNSET)), &ev).record);
}

#[test]
fn lsm_labels_need_an_lsm() {
    let rs = set(vec![exit(
        Action::Always,
        &[],
        vec![s(Field::SubjType, Op::Eq, "sshd_t")],
        &[],
    )]);
    let mut ev = syscall(2);
    assert!(!one(&rs, &ev).record, "no label, no match");
    ev.task.subj = Some(b"system_u:system_r:sshd_t:s0-s0:c0.c1023".to_vec());
    assert!(one(&rs, &ev).record);
    assert_eq!(
        label_part(b"u:r:t:s0-s0:c0.c1023", Field::SubjClr),
        b"s0:c0.c1023"
    );
}

#[test]
fn several_rule_sets_judge_independently() {
    let a = set(vec![exit(Action::Always, &[2], vec![], &["a"])]);
    let b = set(vec![exit(Action::Never, &[2], vec![], &[])]);
    let c = set(vec![exit(
        Action::Always,
        &[],
        vec![f(Field::Uid, Op::Eq, 1000)],
        &["c"],
    )]);
    let sets = [a, b, c];
    let d = evaluate(&sets, &syscall(2));
    assert_eq!(d.wanted, 0b101);
    assert_eq!(d.keys(&sets, 2), ["c".to_string()]);
    assert!(!d.wants(1));
}
