use vigil_abi::{RecHdr, UringCqe, UringDeny, UringOp};

use super::*;
use crate::decode::Captured;
use crate::uring::decode::Items;

fn submit(id: u64, pid: u32, flags: u32, exe: Option<&[u8]>) -> UringRecord {
    let mut op = UringOp {
        hdr: RecHdr {
            event_id: id,
            ..RecHdr::default()
        },
        opcode: 18,
        flags,
        ..UringOp::default()
    };
    op.task.pid = pid;
    UringRecord::Submit(SubmitRec {
        op,
        items: Items {
            exe: exe.map(|b| Captured {
                bytes: b.to_vec(),
                flags: 0,
            }),
            ..Items::default()
        },
    })
}

fn complete(id: u64, res: i32, cflags: u32) -> UringRecord {
    UringRecord::Complete(CompleteRec {
        cqe: UringCqe {
            hdr: RecHdr {
                event_id: id,
                ..RecHdr::default()
            },
            res,
            cflags,
            ..UringCqe::default()
        },
        items: Items::default(),
    })
}

fn run(j: &mut Joiner, recs: Vec<UringRecord>, now: Instant) -> Vec<UringOutput> {
    let mut out = Vec::new();
    for r in recs {
        j.push(r, now, &mut |o| out.push(o));
    }
    out
}

fn op(o: &UringOutput) -> &UringEvent {
    match o {
        UringOutput::Op(e) => e,
        UringOutput::Denial(_) => panic!("denial"),
    }
}

#[test]
fn joins_in_any_interleaving_and_caches_exe() {
    let mut j = Joiner::new(JoinLimits::default());
    let t = Instant::now();
    // Our own pid: the /proc fallback must not be needed for 1 (exe sent) but 2 has none sent.
    let out = run(
        &mut j,
        vec![
            submit(1, 4000, 0, Some(b"/usr/bin/a")),
            submit(2, 4000, 0, None),
            complete(2, 5, 0),
            complete(1, -2, 0),
        ],
        t,
    );
    assert_eq!(out.len(), 2);
    assert_eq!(op(&out[0]).submit.op.hdr.event_id, 2);
    assert_eq!(op(&out[0]).complete.as_ref().unwrap().cqe.res, 5);
    assert_eq!(op(&out[0]).exe.as_deref(), Some(&b"/usr/bin/a"[..]));
    assert_eq!(op(&out[1]).complete.as_ref().unwrap().cqe.res, -2);
    assert_eq!(j.waiting(), 0);
    assert_eq!(j.stats().exe_from_proc, 0);
    // An unknown completion is counted, not delivered.
    assert!(run(&mut j, vec![complete(99, 0, 0)], t).is_empty());
    assert_eq!(j.stats().orphan_completions, 1);
}

#[test]
fn multishot_delivers_each_completion() {
    let mut j = Joiner::new(JoinLimits::default());
    let t = Instant::now();
    let out = run(
        &mut j,
        vec![
            submit(1, 1, 0, None),
            complete(1, 7, 2),
            complete(1, 8, 2),
            complete(1, 9, 0),
            complete(1, 10, 0),
        ],
        t,
    );
    let res: Vec<i32> = out
        .iter()
        .map(|o| op(o).complete.as_ref().unwrap().cqe.res)
        .collect();
    assert_eq!(res, vec![7, 8, 9]);
    assert_eq!(j.stats().orphan_completions, 1);
}

#[test]
fn skip_success_no_join_and_eviction() {
    let limits = JoinLimits {
        max_pending: 2,
        skip_wait: Duration::from_millis(100),
        max_exes: 4,
        max_files: 4,
    };
    let mut j = Joiner::new(limits);
    let t = Instant::now();
    let out = run(
        &mut j,
        vec![
            submit(1, 1, VIGIL_UOP_F_CQE_SKIP, None),
            submit(2, 1, VIGIL_UOP_F_NO_JOIN, None),
            submit(3, 1, 0, None),
        ],
        t,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(op(&out[0]).missing, Some(NoCompletion::NotJoined));
    // Not yet expired.
    let mut out = Vec::new();
    j.expire(t + Duration::from_millis(50), &mut |o| out.push(o));
    assert!(out.is_empty());
    j.expire(t + Duration::from_millis(150), &mut |o| out.push(o));
    assert_eq!(out.len(), 1);
    assert_eq!(op(&out[0]).missing, Some(NoCompletion::Skipped));
    // The normal op stays waiting; two more push it out (max_pending 2).
    let out = run(
        &mut j,
        vec![submit(4, 1, 0, None), submit(5, 1, 0, None)],
        t,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(op(&out[0]).submit.op.hdr.event_id, 3);
    assert_eq!(op(&out[0]).missing, Some(NoCompletion::Evicted));
    let mut out = Vec::new();
    j.flush(&mut |o| out.push(o));
    assert_eq!(out.len(), 2);
    let s = j.stats();
    assert_eq!((s.skipped, s.not_joined, s.evicted), (1, 1, 3));
}

#[test]
fn denials_pass_through() {
    let mut j = Joiner::new(JoinLimits::default());
    let mut deny = UringDeny::default();
    deny.task.pid = 77;
    let out = run(
        &mut j,
        vec![UringRecord::Policy(PolicyRec {
            deny,
            items: Items {
                exe: Some(Captured {
                    bytes: b"/bin/x".to_vec(),
                    flags: 0,
                }),
                ..Items::default()
            },
        })],
        Instant::now(),
    );
    match &out[0] {
        UringOutput::Denial(d) => assert_eq!(d.exe.as_deref(), Some(&b"/bin/x"[..])),
        UringOutput::Op(_) => panic!("op"),
    }
    assert_eq!(j.stats().denials, 1);
}

#[test]
fn file_paths_are_kept_per_open_file() {
    use vigil_abi::{Path, VIGIL_UCQE_F_PATH_CACHED};
    let mut j = Joiner::new(JoinLimits::default());
    let t = Instant::now();
    let obj = Path {
        ino: 5,
        dev: 9,
        ..Path::default()
    };
    let done = |id: u64, cached: bool, walked: Option<&[u8]>, ino: u64| {
        let mut c = complete(id, 4096, 0);
        if let UringRecord::Complete(cr) = &mut c {
            cr.cqe.file_ref = 0xffff_8880_0000_1000;
            cr.cqe.vflags = if cached { VIGIL_UCQE_F_PATH_CACHED } else { 0 };
            cr.items.paths.push(crate::decode::PathItem {
                index: 0,
                full: walked.map(|w| Captured {
                    bytes: w.to_vec(),
                    flags: 0,
                }),
                object: Some(Path { ino, ..obj }),
                ..crate::decode::PathItem::default()
            });
        }
        c
    };
    let mut subs = Vec::new();
    for id in 1..=3 {
        let UringRecord::Submit(mut s) = submit(id, 4000, 0, Some(b"/x")) else {
            unreachable!()
        };
        s.op.fd = -1; // no /proc fallback
        subs.push(UringRecord::Submit(s));
    }
    let mut recs = subs;
    recs.push(done(1, false, Some(b"/dev/shm/f"), 5));
    recs.push(done(2, true, None, 5));
    // Same file id, another inode (the file was closed and the id reused): not the kept path.
    recs.push(done(3, true, None, 6));
    let out = run(&mut j, recs, t);
    let full = |i: usize| {
        op(&out[i]).complete.as_ref().unwrap().items.paths[0]
            .full
            .as_ref()
            .map(|c| c.bytes.clone())
    };
    assert_eq!(full(0).as_deref(), Some(&b"/dev/shm/f"[..]));
    assert_eq!(full(1).as_deref(), Some(&b"/dev/shm/f"[..]));
    assert_eq!(full(2), None);
    let s = j.stats();
    assert_eq!((s.file_path_cached, s.file_path_missing), (1, 1));
}
