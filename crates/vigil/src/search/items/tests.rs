//! Items read as ausearch 3.0.9 reads them; the expectations were checked against it.

use super::*;
use crate::search::record::Rec;

fn recs(lines: &[&str]) -> Vec<Rec> {
    lines
        .iter()
        .map(|l| Rec::from_line(l.as_bytes().to_vec()).unwrap().1)
        .collect()
}

fn items(lines: &[&str], needs: Needs) -> Result<Items, Malformed> {
    let rs = recs(lines);
    extract(rs.iter().map(|r| (r.rtype, r.raw_part())), &needs)
}

const ALL: Needs = Needs {
    pid: true,
    ppid: true,
    uid: true,
    euid: true,
    loginuid: true,
    gid: true,
    egid: true,
    session: true,
    success: true,
    exit: true,
    key: true,
    arch: true,
    comm: true,
    exe: true,
    contid: true,
};

const SYSCALL: &str = "type=SYSCALL msg=audit(1.000:3): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=4000 pid=4242 auid=1000 uid=1001 gid=1002 euid=1003 suid=1 fsuid=1 egid=1004 sgid=1 fsgid=1 tty=pts0 ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=6B31016B32";

#[test]
fn syscall_records_yield_task_ids_and_split_keys() {
    let it = items(&[SYSCALL], ALL).unwrap();
    assert_eq!((it.pid, it.ppid, it.uid, it.euid), (4242, 4000, 1001, 1003));
    assert_eq!(
        (it.loginuid, it.gid, it.egid, it.session),
        (1000, 1002, 1004, 3)
    );
    assert_eq!(
        (it.syscall, it.arch, it.exit),
        (257, 0xc000_003e, Some(-13))
    );
    assert_eq!(it.success, S_FAILED);
    assert_eq!(it.keys, Some(vec![b"k1".to_vec(), b"k2".to_vec()]));
    assert_eq!(it.comm.as_deref(), Some(&b"cat"[..]));
}

#[test]
fn unset_items_keep_ausearch_defaults() {
    let it = items(&["type=PATH msg=audit(1.000:3): item=0 name=\"/x\""], ALL).unwrap();
    assert_eq!(it, Items::default());
    assert_eq!((it.syscall, it.loginuid), (0, u32::MAX - 1));
}

#[test]
fn null_key_is_the_word_null() {
    let line = SYSCALL.replace("key=6B31016B32", "key=(null)");
    let it = items(&[&line], ALL).unwrap();
    assert_eq!(it.keys, Some(vec![b"(null)".to_vec()]));
}

#[test]
fn a_missing_needed_field_makes_the_event_malformed() {
    let no_pid = SYSCALL.replace(" pid=4242", "");
    assert!(items(&[&no_pid], ALL).is_err());
    let needs = Needs {
        key: true,
        ..Needs::default()
    };
    assert!(items(&[&no_pid], needs).is_ok());
    // a0 is always required.
    assert!(items(&[&SYSCALL.replace(" a0=ffffff9c", "")], Needs::default()).is_err());
}

#[test]
fn user_messages_take_the_uid_inside_msg() {
    let line = "type=USER msg=audit(1.000:6): pid=4242 uid=0 auid=1000 ses=3 msg='hello uid=55 exe=\"/usr/bin/x\" res=failed'";
    let it = items(&[line], ALL).unwrap();
    assert_eq!((it.pid, it.uid, it.loginuid), (4242, 55, 1000));
    assert_eq!(it.success, S_FAILED);
    let line = "type=USER_LOGIN msg=audit(1.000:6): pid=1 uid=0 auid=1 ses=3 msg='op=login xuid=5 res=success'";
    assert!(
        items(&[line], ALL).is_err(),
        "a uid= glued to another word is malformed"
    );
}

#[test]
fn daemon_and_config_records() {
    let d = "type=DAEMON_START msg=audit(1.000:1): op=start ver=3.0.9 format=raw kernel=6.18 auid=4294967295 pid=100 uid=0 ses=4294967295 res=success";
    let it = items(&[d], ALL).unwrap();
    assert_eq!(
        (it.pid, it.uid, it.loginuid, it.success),
        (100, 0, u32::MAX, S_SUCCESS)
    );
    let c = "type=CONFIG_CHANGE msg=audit(1.000:2): auid=0 ses=1 op=add_rule key=\"mykey\" list=4 res=1";
    let it = items(&[c], ALL).unwrap();
    assert_eq!(it.pid, u32::MAX, "CONFIG_CHANGE gives no pid");
    assert_eq!(it.keys, Some(vec![b"mykey".to_vec()]));
    assert_eq!(it.success, S_SUCCESS);
}

#[test]
fn uring_and_container_records_are_vigils() {
    let u = "type=URINGOP msg=audit(1.000:4): uring_op=18 success=yes exit=3 items=0 ppid=4000 pid=4242 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 key=\"k3\" auid=7 ses=3";
    let c = "type=CONTAINER_ID msg=audit(1.000:4): contid=42";
    let it = items(&[u, c], ALL).unwrap();
    assert_eq!((it.pid, it.loginuid, it.success), (4242, 7, S_SUCCESS));
    assert_eq!(it.keys, Some(vec![b"k3".to_vec()]));
    assert_eq!(it.contids, vec![42]);
}

#[test]
fn strtoul_and_unescape_are_c_like() {
    assert_eq!(strtoul(b"12abc"), 12);
    assert_eq!(strtoul(b"-1") as u32, u32::MAX);
    assert_eq!(strtoul(b"x"), 0);
    assert_eq!(strtoll(b"-0x10"), -16);
    assert_eq!(strtoll(b"010"), 8);
    assert_eq!(unescape(b"414243 rest"), b"ABC");
    assert_eq!(unescape(b"(none)x"), b"(none)");
}
