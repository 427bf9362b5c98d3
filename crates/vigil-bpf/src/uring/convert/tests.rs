use vigil_abi::{Creds, Path, RecHdr, Task, UringCqe, UringDeny, UringOp};
use vigil_format::{TextMode, TextWriter};

use super::*;
use crate::decode::Captured;
use crate::uring::decode::{CompleteRec, Items, PolicyRec, SubmitRec};

fn cap(b: &[u8]) -> Captured {
    Captured {
        bytes: b.to_vec(),
        flags: 0,
    }
}

fn task(pid: u32, uid: u32) -> Task {
    let mut t = Task {
        pid,
        tid: pid + 1,
        ppid: 1,
        uid,
        euid: uid,
        suid: uid,
        fsuid: uid,
        gid: uid,
        egid: uid,
        sgid: uid,
        fsgid: uid,
        auid: 1000,
        sessionid: 3,
        ..Task::default()
    };
    t.comm[..5].copy_from_slice(b"vigil");
    t
}

fn openat_event() -> UringEvent {
    let op = UringOp {
        hdr: RecHdr {
            event_id: 1,
            tai_ns: 37_000_000_000 + 1_700_000_000_000_000_000,
            ..RecHdr::default()
        },
        ring: 5,
        user_data: (4242u64 << 32) | 2,
        opcode: 18,
        fd: 0,
        dfd: -100,
        open_flags: 0o102,
        mode: 0o600,
        ctx: 0,
        flags: VIGIL_UOP_F_PERSONALITY,
        personality: 1,
        creds: Creds {
            uid: 0,
            euid: 0,
            ..Creds::default()
        },
        task: task(4242, 65534),
        ..UringOp::default()
    };
    let submit = SubmitRec {
        op,
        items: Items {
            cwd: Some(cap(b"/root")),
            paths: vec![PathItem {
                index: 0,
                name: Some(cap(b"/tmp/x/data")),
                ..PathItem::default()
            }],
            ..Items::default()
        },
    };
    let complete = CompleteRec {
        cqe: UringCqe {
            hdr: RecHdr {
                event_id: 1,
                tai_ns: 37_000_000_000 + 1_700_000_000_500_000_000,
                ..RecHdr::default()
            },
            res: 7,
            ctx: 2,
            opcode: 18,
            ..UringCqe::default()
        },
        items: Items {
            paths: vec![PathItem {
                index: 0,
                full: Some(cap(b"/tmp/x/data")),
                object: Some(Path {
                    ino: 99,
                    dev: (8 << 20) | 1,
                    mode: 0o100_600,
                    ..Path::default()
                }),
                ..PathItem::default()
            }],
            ..Items::default()
        },
    };
    UringEvent {
        submit,
        complete: Some(complete),
        missing: None,
        exe: Some(b"/usr/bin/client".to_vec()),
    }
}

fn clock() -> Clock {
    Clock {
        tai_minus_real_ns: 37_000_000_000,
    }
}

fn text(ev: &Event) -> String {
    let mut w = TextWriter::new(TextMode::Raw, vigil_format::NoResolver);
    let mut out = Vec::new();
    w.write_event(ev, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn openat_with_personality() {
    let ev = openat_event();
    let raw = to_raw(&ev, &clock());
    assert_eq!(raw.kind, RawKind::Uring);
    assert_eq!(raw.nr, 18);
    assert_eq!(raw.exit, 7);
    assert_eq!(raw.ts_ns, 1_700_000_000_500_000_000);
    assert_eq!(raw.task.pid, 4242);
    assert_eq!(raw.task.uid, 65534);
    assert_eq!(raw.paths.len(), 1);
    assert_eq!(raw.paths[0].name.as_ref().unwrap().0, b"/tmp/x/data");
    assert_eq!(raw.paths[0].inode, Some(99));
    let u = raw.uring.as_ref().unwrap();
    assert_eq!((u.ring, u.ctx), (5, UringCtx::Iowq));
    assert_eq!(u.personality.as_ref().unwrap().uid, 0);
    let id = Identity::from_ns(raw.ts_ns, 12);
    let t = text(&vigil_format::build_event(&raw, id, &[Bytes::from("k1")]));
    assert!(t.contains("type=SYSCALL msg=audit(1700000000.500:12): arch=c000003e syscall=426 success=yes exit=7"), "{t}");
    assert!(t.contains("type=URINGOP msg=audit(1700000000.500:12): uring_op=18 success=yes exit=7 items=1 ppid=1 pid=4242 uid=65534"), "{t}");
    assert!(t.contains("ctx=iowq ring=5 personality=1 puid=0"), "{t}");
    assert!(t.contains("type=PATH msg=audit(1700000000.500:12): item=0 name=\"/tmp/x/data\" inode=99 dev=08:01 mode=0100600"), "{t}");
    assert!(
        t.contains("type=CWD msg=audit(1700000000.500:12): cwd=\"/root\""),
        "{t}"
    );
    // Rules see the credentials the op ran with.
    let input = to_event_input(&ev);
    assert_eq!(input.task.uid, 0);
    assert_eq!(input.task.auid, 1000);
    assert_eq!(input.nr, 18);
    assert!(input.success);
    assert_eq!(input.task.exe.as_deref(), Some(&b"/usr/bin/client"[..]));
}

#[test]
fn skipped_and_failed_results() {
    let mut ev = openat_event();
    ev.complete = None;
    ev.missing = Some(crate::uring::NoCompletion::Skipped);
    assert_eq!(result(&ev), 0);
    ev.submit.op.flags |= VIGIL_UOP_F_INIT_FAILED;
    ev.submit.op.error = -22;
    assert_eq!(result(&ev), -22);
    let raw = to_raw(&ev, &clock());
    assert!(!raw.success());
    // The name is still there; no object without a completion.
    assert_eq!(raw.paths[0].inode, None);
}

#[test]
fn sockets_and_renames_are_named_as_the_kernel_names_them() {
    let obj = Path {
        ino: 1234,
        fs_magic: SOCKFS_MAGIC,
        mode: 0o140_777,
        ..Path::default()
    };
    let item = PathItem {
        index: 0,
        full: Some(cap(b"/TCP")),
        object: Some(obj),
        ..PathItem::default()
    };
    assert_eq!(
        raw_path(22, None, Some(&item)).name.unwrap().0,
        b"socket:[1234]"
    );
    let mut ev = openat_event();
    ev.submit.op.opcode = 35;
    ev.submit.op.flags = 0;
    ev.submit.items.paths.push(PathItem {
        index: 1,
        name: Some(cap(b"/tmp/x/renamed")),
        ..PathItem::default()
    });
    ev.complete.as_mut().unwrap().items.paths.clear();
    let raw = to_raw(&ev, &clock());
    let nt: Vec<_> = raw.paths.iter().map(|p| p.nametype.as_str()).collect();
    assert_eq!(nt, vec!["DELETE", "CREATE"]);
    assert!(raw.uring.unwrap().personality.is_none());
}

#[test]
fn denial_event_is_found_by_key() {
    let mut deny = UringDeny {
        hdr: RecHdr {
            tai_ns: 37_000_000_000 + 1_700_000_001_000_000_000,
            ..RecHdr::default()
        },
        ring: 9,
        rule: 2,
        what: VIGIL_POL_WHAT_SQPOLL,
        how: VIGIL_POL_HOW_KILLED,
        hook: VIGIL_POL_HOOK_CREATE,
        opcode: 64,
        task: task(777, 1000),
        ..UringDeny::default()
    };
    deny.ctx = 0;
    let d = Denial {
        rec: PolicyRec {
            deny,
            items: Items::default(),
        },
        exe: Some(b"/usr/bin/sq".to_vec()),
    };
    let ev = denial_event(
        &d,
        &clock(),
        5,
        &["nosq".into()],
        "/etc/vigil/policy.rules:3",
    );
    let t = text(&ev);
    assert!(t.starts_with("type=SYSCALL msg=audit(1700000001.000:5): arch=c000003e syscall=425 success=no exit=-1 a0=40 a1=9 a2=0 a3=2 items=0 ppid=1 pid=777"), "{t}");
    assert!(t.contains(" key=\"nosq\"\ntype=VIGIL_POLICY msg=audit(1700000001.000:5): action=deny how=killed what=sqpoll hook=io_uring_create rule=2 src=\"/etc/vigil/policy.rules:3\" ring=9 ctx=inline pid=777 auid=1000 uid=1000 ses=3 comm=\"vigil\" exe=\"/usr/bin/sq\" sig=9 sig_res=0 key=\"nosq\"\n"), "{t}");
    assert_eq!(how_word(VIGIL_POL_HOW_PREVENTED), "prevented");
    assert_eq!(what_word(99), "unknown");
}
