use super::*;
use crate::decode::{Captured, PathItem};
use vigil_abi::{Path, Task, VIGIL_AUDIT_ARCH_X86_64};
use vigil_rules::ast::RuleSet;
use vigil_rules::compile::compile;

fn sets(texts: &[&str]) -> Vec<RuleSet> {
    texts
        .iter()
        .map(|t| {
            let f = vigil_rules::parse_str(t, "t.rules").unwrap_or_else(|e| panic!("{e:?}"));
            assert!(!f.failed, "{:?}", f.diagnostics);
            f.rules
        })
        .collect()
}

fn nr(name: &str) -> u32 {
    vigil_rules::tables::syscall_number(VIGIL_AUDIT_ARCH_X86_64, name).expect("syscall")
}

fn event(name: &str, uid: u32, ret: i64, path: Option<&str>) -> SyscallEvent {
    SyscallEvent {
        arch: VIGIL_AUDIT_ARCH_X86_64,
        nr: nr(name),
        ret,
        task: Task {
            pid: 100,
            uid,
            auid: uid,
            ..Task::default()
        },
        paths: path
            .map(|p| PathItem {
                index: 0,
                full: Some(Captured {
                    bytes: p.as_bytes().to_vec(),
                    flags: 0,
                }),
                object: Some(Path {
                    ino: 7,
                    ..Path::default()
                }),
                ..PathItem::default()
            })
            .into_iter()
            .collect(),
        ..SyscallEvent::default()
    }
}

/// What a correct BPF side reports for `ev`: the compiled evaluator's answer as bits and
/// (rule set, compiled id) pairs.
fn as_bpf(set: &CompiledSet, ev: &mut SyscallEvent) {
    let d = set.evaluate(&to_event_input(ev));
    ev.rulesets = d.wanted;
    ev.matches.clear();
    for (rs, v) in d.verdicts.iter().enumerate() {
        if let Some(rule) = v.rule {
            let id = set
                .rules
                .iter()
                .position(|r| r.ruleset as usize == rs && r.index == rule)
                .expect("compiled id");
            ev.matches.push((rs as u32, id as u32));
        }
    }
}

const HOST: &str = "\
-a never,exit -F arch=b64 -S openat -F uid=0 -k never-key
-a always,exit -F arch=b64 -S openat,unlink -F uid>=1000 -k a -k b -k c
-a never,exit -F arch=b64 -S unlink -F exit=-2
-a always,exit -F arch=b64 -S unlink -k del
-a always,exit -F arch=b64 -S chmod -F dir=/etc -k etc
";
const TENANT: &str = "\
-a never,task -F uid=4242
-a always,exit -F arch=b64 -S all -F uid=1000 -k t1 -k t2
";

#[test]
fn bpf_decided_keys_equal_the_reference() {
    let rs = sets(&[HOST, TENANT]);
    let set = compile(&rs).expect("compile");
    let cases = [
        event("openat", 0, 3, Some("/etc/passwd")),
        event("openat", 1000, 3, Some("/home/a")),
        event("openat", 4242, 3, Some("/home/b")),
        event("unlink", 1000, -2, Some("/tmp/x")),
        event("unlink", 5, -2, Some("/tmp/x")),
        event("unlink", 5, 0, Some("/tmp/x")),
        event("chmod", 5, 0, Some("/etc/shadow")),
        event("chmod", 5, 0, Some("/etcx/shadow")),
        event("getpid", 1000, 100, None),
    ];
    let mut wanted = 0;
    for mut ev in cases {
        as_bpf(&set, &mut ev);
        let reference = vigil_rules::reference::evaluate(&rs, &to_event_input(&ev));
        let (d, j) = decide(&ev, &set);
        assert_eq!(j.in_user_space, 0, "{ev:?}");
        assert_eq!(d.wanted, reference.wanted, "{ev:?}");
        for i in 0..rs.len() {
            assert_eq!(d.keys(&rs, i), reference.keys(&rs, i), "set {i}: {ev:?}");
            assert_eq!(d.verdicts[i].rule, reference.verdicts[i].rule, "{ev:?}");
            assert_eq!(d.verdicts[i].reason, reference.verdicts[i].reason, "{ev:?}");
        }
        wanted += usize::from(d.wanted != 0);
    }
    assert!(wanted >= 5, "the cases exercise recording rules");
    // Several keys of one rule come back in order.
    let mut ev = event("openat", 1000, 3, Some("/home/a"));
    as_bpf(&set, &mut ev);
    let (d, _) = decide(&ev, &set);
    assert_eq!(d.keys(&rs, 0), ["a", "b", "c"]);
    assert_eq!(d.keys(&rs, 1), ["t1", "t2"]);
}

#[test]
fn undecided_sets_are_judged_in_user_space_others_keep_bpf() {
    let rs = sets(&[HOST, TENANT]);
    let set = compile(&rs).expect("compile");
    let mut ev = event("chmod", 1000, 0, Some("/etc/shadow"));
    as_bpf(&set, &mut ev);
    let truth = ev.clone();
    // BPF left set 0 undecided (dir=) and said nothing about it.
    ev.undecided = 1;
    ev.rulesets &= !1;
    ev.matches.retain(|(r, _)| *r != 0);
    let (d, j) = decide(&ev, &set);
    assert_eq!((j.in_bpf, j.in_user_space), (0b10, 0b01));
    let (want, _) = decide(&truth, &set);
    assert_eq!(d, want);
    assert_eq!(d.keys(&rs, 0), ["etc"]);
}

#[test]
fn an_answer_that_does_not_fit_is_judged_again() {
    let rs = sets(&[HOST, TENANT]);
    let set = compile(&rs).expect("compile");
    let mut ev = event("unlink", 5, 0, Some("/tmp/x"));
    as_bpf(&set, &mut ev);
    let truth = decide(&ev, &set).0;
    // A rule id of rule set 1 reported for rule set 0.
    let other = set.rules.iter().position(|r| r.ruleset == 1).unwrap() as u32;
    for m in &mut ev.matches {
        if m.0 == 0 {
            m.1 = other;
        }
    }
    let (d, j) = decide(&ev, &set);
    assert_eq!(j.inconsistent, 1);
    assert_eq!(d, truth);
    // A record bit without a deciding rule.
    let mut ev = event("getpid", 5, 0, None);
    ev.rulesets = 1;
    let (d, j) = decide(&ev, &set);
    assert_eq!(j.inconsistent, 1);
    assert_eq!(d.wanted, 0);
}
