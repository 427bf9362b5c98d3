use vigil_rules::lexer::{split_line, Line};
use vigil_rules::policy::parse_policy_tokens;
use vigil_rules::FakeHost;

use super::*;

fn rules(lines: &[&str]) -> Vec<PolicyRule> {
    let mut host = FakeHost::new();
    host.dirs.insert("/usr/bin".into());
    host.users.insert("alice".into(), 1000);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let Line::Words(w) = split_line(l) else {
                panic!("{l}")
            };
            parse_policy_tokens(&w, "p.rules", i as u32 + 1, &host)
                .unwrap_or_else(|e| panic!("{l}: {e:?}"))
                .0
        })
        .collect()
}

fn fake_exe(path: &str) -> Option<(u32, u64)> {
    (path == "/usr/bin/curl").then_some(((8 << 20) | 1, 4242))
}

#[test]
fn flags_masks_and_summary() {
    let p = compile(
        &rules(&[
            "-a deny,io_uring -F uring_sqpoll=1 -F uid>=1000 -k nosq",
            "-a deny,io_uring -F uring_personality=1 -S openat",
            "-a deny,io_uring -S connect,mkdirat -F exe=/usr/bin/curl -k net",
            "-a deny,io_uring -S connect -F uring_sqpoll=1",
        ]),
        &fake_exe,
    )
    .unwrap();
    assert_eq!(p.rules.len(), 4);
    let sq = &p.rules[0];
    assert_eq!(sq.flags, VIGIL_POL_F_SQPOLL | VIGIL_POL_F_CREATE);
    assert_eq!(sq.ops, ALL_OPS);
    assert_eq!(
        (sq.nconds, sq.field[0], sq.op[0], sq.value[0]),
        (1, 1, 7, 1000)
    );
    let pers = &p.rules[1];
    assert_eq!(pers.flags, VIGIL_POL_F_PERSONALITY);
    assert_eq!(pers.ops, 1 << 18);
    let net = &p.rules[2];
    assert_eq!(net.flags, VIGIL_POL_F_CGROUP);
    assert_eq!(net.ops, (1 << 16) | (1 << 37));
    assert_eq!(
        (net.field[0], net.op[0], net.arg[0], net.value[0]),
        (112, 0, (8 << 20) | 1, 4242)
    );
    // SQPOLL-scoped connect: the socket hooks cannot tell the ring, so it is a kill.
    assert_eq!(p.rules[3].flags, VIGIL_POL_F_SQPOLL);
    assert_eq!(p.pol_ops, (1 << 16) | (1 << 37));
    assert_eq!(p.pol_pers_ops, 1 << 18);
    assert_eq!(p.pol_sqpoll_ops, ALL_OPS);
    assert!(p.pol_create);
    assert_eq!(p.socket_ops, 1 << 16);
    assert_eq!(p.keys[0], vec!["nosq".to_string()]);
    assert_eq!(p.origins[2], "p.rules:3");
    assert!(p.warnings.is_empty());
}

#[test]
fn missing_exe_never_matches_and_warns() {
    let p = compile(
        &rules(&["-a deny,io_uring -S openat -F exe=/usr/bin/nothere"]),
        &fake_exe,
    )
    .unwrap();
    assert_eq!(p.rules[0].arg[0], u32::MAX);
    assert_eq!(p.rules[0].value[0], u64::MAX);
    assert!(p.warnings[0].contains("p.rules:1"), "{:?}", p.warnings);
}

#[test]
fn mode_selection_and_enforcement() {
    assert_eq!(PolicyMode::select(true), PolicyMode::Lsm);
    assert_eq!(PolicyMode::select(false), PolicyMode::Hooks);
    let p = compile(
        &rules(&[
            "-a deny,io_uring -F uring_sqpoll=1",
            "-a deny,io_uring -S connect,openat",
            "-a deny,io_uring -F uring_personality=1",
            "-a deny,io_uring -F uring_personality=1 -S unlinkat",
        ]),
        &fake_exe,
    )
    .unwrap();
    let hooks = PolicyMode::Hooks;
    let lsm = PolicyMode::Lsm;
    assert!(p.needs_cgroup(hooks) && !p.needs_cgroup(lsm));
    let e = p.enforcement(0, hooks).unwrap();
    assert_eq!(e.creation, Some(How::Killed));
    assert_eq!(p.enforcement(0, lsm).unwrap().creation, Some(How::Lsm));
    let e = p.enforcement(1, hooks).unwrap();
    assert_eq!(e.ops, vec![(16, How::Prevented), (18, How::Killed)]);
    let e = p.enforcement(1, lsm).unwrap();
    assert_eq!(e.ops, vec![(16, How::Lsm), (18, How::Killed)]);
    // A personality on any op: uring_override_creds under LSM, else kill at submit.
    assert!(p
        .enforcement(2, lsm)
        .unwrap()
        .ops
        .iter()
        .all(|(_, h)| *h == How::Lsm));
    assert!(p
        .enforcement(2, hooks)
        .unwrap()
        .ops
        .iter()
        .all(|(_, h)| *h == How::Killed));
    // For one op only the LSM hook cannot tell the op: kill at submit.
    assert_eq!(p.enforcement(3, lsm).unwrap().ops, vec![(36, How::Killed)]);
    assert!(p.enforcement(9, lsm).is_none());
    assert_eq!(hooks.as_str(), "cgroup+kill");
}

#[test]
fn bounds() {
    let many: Vec<String> = (0..33)
        .map(|i| format!("-a deny,io_uring -F uid={i}"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let e = compile(&rules(&refs), &fake_exe).unwrap_err();
    assert!(
        matches!(e, PolicyError::TooManyRules { count: 33, .. }),
        "{e}"
    );
    assert!(e.to_string().starts_with("p.rules:33:"), "{e}");
}

#[test]
fn kernel_dev_encoding() {
    // st_dev 8:1 (new_encode_dev) -> kernel MKDEV(8, 1).
    assert_eq!(kernel_dev(libc::makedev(8, 1)), (8 << 20) | 1);
    assert_eq!(
        kernel_dev(libc::makedev(259, 70_000)),
        (259 << 20) | 0x1_1170
    );
}
