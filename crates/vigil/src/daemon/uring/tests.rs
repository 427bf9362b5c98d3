//! The daemon judges io_uring ops as vigil-bpf's own conversion does (the kernel's semantics:
//! uid/gid fields see a personality's credentials), and policy files are checked before use.

use vigil_abi::{Creds, RecHdr, Task, UringCqe, UringOp, VIGIL_UOP_F_PERSONALITY};
use vigil_bpf::convert::Clock;
use vigil_bpf::decode::{Captured, PathItem};
use vigil_bpf::uring::convert::{keys_for, to_event_input, to_raw};
use vigil_bpf::uring::decode::{CompleteRec, Items, SubmitRec};
use vigil_bpf::uring::UringEvent;

use super::*;

fn task(pid: u32, uid: u32) -> Task {
    let mut t = Task {
        pid,
        tid: pid,
        ppid: 1,
        uid,
        euid: uid,
        suid: uid,
        fsuid: uid,
        gid: uid + 1,
        egid: uid + 1,
        sgid: uid + 1,
        fsgid: uid + 1,
        auid: 1000,
        sessionid: 3,
        ..Task::default()
    };
    t.comm[..3].copy_from_slice(b"cli");
    t
}

/// An OPENAT of `/tmp/f` by uid 65534, with root's credentials borrowed when `pers`.
fn openat(pers: bool) -> UringEvent {
    let op = UringOp {
        hdr: RecHdr {
            event_id: 1,
            tai_ns: 1_700_000_037_000_000_000,
            ..RecHdr::default()
        },
        ring: 1,
        user_data: (777 << 32) | 1,
        opcode: 18,
        dfd: -100,
        open_flags: 0o102,
        mode: 0o600,
        flags: if pers { VIGIL_UOP_F_PERSONALITY } else { 0 },
        personality: u32::from(pers),
        creds: Creds::default(),
        task: task(777, 65534),
        ..UringOp::default()
    };
    UringEvent {
        submit: SubmitRec {
            op,
            items: Items {
                paths: vec![PathItem {
                    index: 0,
                    name: Some(Captured {
                        bytes: b"/tmp/f".to_vec(),
                        flags: 0,
                    }),
                    full: None,
                    object: None,
                    base: None,
                }],
                ..Items::default()
            },
        },
        complete: Some(CompleteRec {
            cqe: UringCqe {
                res: 5,
                ..UringCqe::default()
            },
            items: Items::default(),
        }),
        missing: None,
        exe: Some(b"/usr/bin/cli".to_vec()),
    }
}

fn filter(text: &str) -> RuleFilter {
    let set = vigil_rules::parse_str(text, "t.rules")
        .unwrap_or_else(|e| panic!("{e:?}"))
        .rules;
    RuleFilter::new(vec![set]).expect("compile")
}

#[test]
fn daemon_input_equals_the_bpf_crates_for_uring_ops() {
    for pers in [false, true] {
        let ev = openat(pers);
        let raw = to_raw(&ev, &Clock::now());
        let ours = event_input(&raw);
        let theirs = to_event_input(&ev);
        assert_eq!(ours.list, theirs.list);
        assert_eq!(
            (ours.nr, ours.args, ours.exit),
            (theirs.nr, theirs.args, theirs.exit)
        );
        assert_eq!(ours.success, theirs.success);
        let (a, b) = (&ours.task, &theirs.task);
        assert_eq!(
            (a.pid, a.ppid, a.auid, a.sessionid, &a.exe),
            (b.pid, b.ppid, b.auid, b.sessionid, &b.exe)
        );
        assert_eq!(
            [a.uid, a.euid, a.suid, a.fsuid, a.gid, a.egid, a.sgid, a.fsgid],
            [b.uid, b.euid, b.suid, b.fsuid, b.gid, b.egid, b.sgid, b.fsgid],
            "personality {pers}"
        );
        let want = if pers { 0 } else { 65534 };
        assert_eq!(a.uid, want, "uid the rules see, personality {pers}");
        // The record itself keeps the owner's ids.
        assert_eq!(raw.task.uid, 65534);
    }
}

#[test]
fn uid_rules_see_the_borrowed_credentials_as_the_kernel() {
    let rules = "-a always,io_uring -S openat -F uid=0 -k borrowed\n\
                 -a always,io_uring -S openat -F uid=65534 -k owner\n";
    let mut f = filter(rules);
    for (pers, key) in [(true, "borrowed"), (false, "owner")] {
        let ev = openat(pers);
        let raw = to_raw(&ev, &Clock::now());
        let sel = f.select(&event_input(&raw));
        assert_eq!(sel.len(), 1, "personality {pers}");
        assert_eq!(sel[0].keys, vec![vigil_format::Bytes::from(key)]);
        // vigil-bpf's own judge agrees.
        let set = f.sets()[0].clone();
        let c = vigil_rules::compile::compile(std::slice::from_ref(&set)).unwrap();
        assert_eq!(
            keys_for(&c, &set, &ev),
            Some(vec![vigil_format::Bytes::from(key)])
        );
    }
}

#[test]
fn policy_errors_name_file_line_column() {
    let text = "# comment\n-a deny,io_uring -F uring_sqpoll=1 -k ok\n-a deny,io_uring -F bogus=1\n";
    let errs = check_policy(text.into(), "/etc/vigil/p.policy".into()).unwrap_err();
    assert!(
        errs.iter().any(|e| e.starts_with("/etc/vigil/p.policy:3:")),
        "{errs:?}"
    );
    let errs =
        check_policy("-a always,io_uring -S openat\n".into(), "x.policy".into()).unwrap_err();
    assert!(errs[0].starts_with("x.policy:1:"), "{errs:?}");
    let ok = check_policy(
        "-a deny,io_uring -S connect -F uid!=0 -k net\n\n".into(),
        "y.policy".into(),
    )
    .unwrap();
    assert_eq!(ok.rules, 1);
    let missing = read_policy(Path::new("/nonexistent/vigil.policy")).unwrap_err();
    assert!(
        missing[0].starts_with("/nonexistent/vigil.policy: cannot read"),
        "{missing:?}"
    );
}

#[test]
fn nothing_is_loaded_before_rules_or_a_policy_need_it() {
    let u = UringSource::new(UringOptions::default());
    // Syscall rules only, and io_uring rules under -e 0: no io_uring program is loaded.
    u.prepare(&filter("-a always,exit -F arch=b64 -S openat -k k\n"))
        .unwrap();
    u.rules_changed(&filter("-a always,exit -F arch=b64 -S openat -k k\n"))
        .unwrap();
    u.rules_changed(&filter("-a always,io_uring -S openat -k k\n-e 0\n"))
        .unwrap();
    u.policy_changed(None).unwrap();
    u.policy_changed(Some(
        &check_policy("# nothing\n".into(), "empty.policy".into()).unwrap(),
    ))
    .unwrap();
    assert!(!u.loaded());
    let info = u.info();
    assert!(info["io_uring"].starts_with("not loaded"), "{info:?}");
    assert_eq!(info["io_uring_policy"], "empty.policy (0 deny rules)");
    assert!(u.losses().0.is_empty());
    assert_eq!(u.stats()["uring_ops_seen"], 0);
}
