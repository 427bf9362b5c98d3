//! The identity of a signal's target (`OBJ_PID`), which the exit hook cannot reach: the kernel
//! records the target task's tgid, login uid, real uid, session and comm when it checks the
//! permission to signal it (`audit_signal_info`). vigil reads them from /proc when the event
//! arrives. A target that has already exited (and had its pid reused) cannot be described
//! then; its identity stays unset (docs/design/kernel-differences.md, D9).

use std::path::PathBuf;

use vigil_format::raw::{Bytes, RawEvent};

const UNSET: u32 = u32::MAX;
const ESRCH: i64 = 3;

/// Syscall numbers (x86_64) whose `OBJ_PID` names a thread rather than a process.
const TKILL: u32 = 200;
const TGKILL: u32 = 234;
const RT_TGSIGQUEUEINFO: u32 = 297;

/// What /proc says about a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskIdentity {
    pub tgid: u32,
    pub uid: u32,
    pub auid: u32,
    pub ses: u32,
    pub comm: Vec<u8>,
}

/// Reads the identity of task `tid` (a process or a thread id) under `proc_root`.
pub fn read_identity(proc_root: &std::path::Path, tid: u32) -> Option<TaskIdentity> {
    let dir: PathBuf = proc_root.join(tid.to_string());
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let field = |name: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let num = |file: &str| -> u32 {
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(UNSET)
    };
    let mut comm = std::fs::read(dir.join("comm")).ok()?;
    if comm.last() == Some(&b'\n') {
        comm.pop();
    }
    Some(TaskIdentity {
        tgid: field("Tgid:")?,
        uid: field("Uid:")?,
        auid: num("loginuid"),
        ses: num("sessionid"),
        comm,
    })
}

/// Completes the `OBJ_PID` items of a captured x86_64 signal syscall from /proc: the target's
/// tgid (`opid`), `oauid`, `ouid`, `oses`, `ocomm`. Items already complete are left alone. A
/// call that found no target (`ESRCH`) signalled nobody: the kernel writes no `OBJ_PID` then.
pub fn fill_obj_pids(raw: &mut RawEvent) {
    fill_obj_pids_from(std::path::Path::new("/proc"), raw);
}

/// [`fill_obj_pids`] with another /proc (tests).
pub fn fill_obj_pids_from(proc_root: &std::path::Path, raw: &mut RawEvent) {
    if raw.obj_pids.is_empty() {
        return;
    }
    if raw.exit == -ESRCH {
        raw.obj_pids.clear();
        return;
    }
    let by_thread = raw.arch == 0xc000_003e && matches!(raw.nr, TKILL | TGKILL | RT_TGSIGQUEUEINFO);
    for o in &mut raw.obj_pids {
        let unset = o.comm.0.is_empty() && o.auid == UNSET && o.uid == UNSET;
        // pid 0 and negative pids name process groups: one target per member in the kernel.
        if !unset || o.pid == 0 || o.pid > i32::MAX as u32 {
            continue;
        }
        let Some(id) = read_identity(proc_root, o.pid) else {
            continue;
        };
        if by_thread || id.tgid == o.pid {
            o.pid = id.tgid;
            o.uid = id.uid;
            o.auid = id.auid;
            o.ses = id.ses;
            o.comm = Bytes(id.comm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_format::raw::RawObjPid;

    fn fake_proc(dir: &std::path::Path, tid: u32, tgid: u32) {
        let d = dir.join(tid.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("status"),
            format!("Name:\tsleep\nTgid:\t{tgid}\nPid:\t{tid}\nUid:\t1000\t0\t0\t0\n"),
        )
        .unwrap();
        std::fs::write(d.join("loginuid"), "1001").unwrap();
        std::fs::write(d.join("sessionid"), "7").unwrap();
        std::fs::write(d.join("comm"), "sleep\n").unwrap();
    }

    fn kill_event(nr: u32, pid: u32, exit: i64) -> RawEvent {
        RawEvent {
            arch: 0xc000_003e,
            nr,
            exit,
            obj_pids: vec![RawObjPid {
                pid,
                auid: UNSET,
                uid: UNSET,
                ses: UNSET,
                obj: None,
                comm: Bytes::default(),
            }],
            ..RawEvent::default()
        }
    }

    #[test]
    fn a_live_target_is_described() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 300, 300);
        let mut raw = kill_event(62, 300, 0);
        fill_obj_pids_from(dir.path(), &mut raw);
        let o = &raw.obj_pids[0];
        assert_eq!((o.pid, o.uid, o.auid, o.ses), (300, 1000, 1001, 7));
        assert_eq!(o.comm, Bytes::from("sleep"));
    }

    #[test]
    fn threads_are_named_by_their_process() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 301, 300);
        let mut raw = kill_event(TGKILL, 301, 0);
        fill_obj_pids_from(dir.path(), &mut raw);
        assert_eq!(raw.obj_pids[0].pid, 300);
        // kill(2) of a thread id does not signal that thread's process as such: left alone.
        let mut raw = kill_event(62, 301, 0);
        fill_obj_pids_from(dir.path(), &mut raw);
        assert_eq!(raw.obj_pids[0].comm, Bytes::default());
    }

    #[test]
    fn no_target_no_obj_pid() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = kill_event(62, 999, -ESRCH);
        fill_obj_pids_from(dir.path(), &mut raw);
        assert!(raw.obj_pids.is_empty());
        // Gone since: unset, not invented.
        let mut raw = kill_event(62, 999, 0);
        fill_obj_pids_from(dir.path(), &mut raw);
        assert_eq!(raw.obj_pids[0].auid, UNSET);
    }
}
