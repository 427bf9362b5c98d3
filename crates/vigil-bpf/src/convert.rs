//! Decoded BPF events to vigil's raw event model ([`vigil_format::RawEvent`]).
//! Fields the BPF side does not know yet (keys, container id, a kill target's identity)
//! are left for the daemon to fill.

use vigil_abi::{Task, VIGIL_OBJ_F_FOUND};
use vigil_format::raw::{DevNum, NameType, RawObjPid};
use vigil_format::{Bytes, RawEvent, RawKind, RawPath, RawTask};

use crate::decode::{Captured, SyscallEvent};

/// Converts the BPF clock (`bpf_ktime_get_tai_ns`) to wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// `CLOCK_TAI` - `CLOCK_REALTIME` in ns (whole seconds: the kernel's TAI offset).
    pub tai_minus_real_ns: i64,
}

fn clock_ns(id: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for the kernel to fill.
    unsafe { libc::clock_gettime(id, &raw mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

impl Clock {
    /// Reads the current TAI offset (re-read it after a leap second).
    pub fn now() -> Clock {
        let diff = clock_ns(libc::CLOCK_TAI) - clock_ns(libc::CLOCK_REALTIME);
        // Round to whole seconds: the two reads are a few ns apart.
        let secs = (diff + 500_000_000).div_euclid(1_000_000_000);
        Clock {
            tai_minus_real_ns: secs * 1_000_000_000,
        }
    }

    pub fn realtime_ns(&self, tai_ns: u64) -> u64 {
        (tai_ns as i64 - self.tai_minus_real_ns).max(0) as u64
    }
}

/// Bytes up to the first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

fn bytes(c: &Captured) -> Bytes {
    Bytes(c.bytes.clone())
}

fn task(t: &Task, exe: Option<&Captured>) -> RawTask {
    let tty = c_str(&t.tty);
    RawTask {
        pid: t.pid,
        tid: t.tid,
        ppid: t.ppid,
        uid: t.uid,
        euid: t.euid,
        suid: t.suid,
        fsuid: t.fsuid,
        gid: t.gid,
        egid: t.egid,
        sgid: t.sgid,
        fsgid: t.fsgid,
        auid: t.auid,
        ses: t.sessionid,
        tty: (!tty.is_empty()).then(|| String::from_utf8_lossy(tty).into_owned()),
        comm: Bytes(c_str(&t.comm).to_vec()),
        exe: exe.map(bytes),
        subj: None,
        contid: None,
    }
}

/// The kernel's nametype for path item `index` of syscall `name`.
fn nametype(name: &str, index: u8) -> NameType {
    match (name, index) {
        ("unlink" | "unlinkat" | "rmdir" | "rename" | "renameat" | "renameat2", 0) => {
            NameType::Delete
        }
        ("rename" | "renameat" | "renameat2" | "link" | "linkat" | "symlink" | "symlinkat", 1)
        | ("mkdir" | "mkdirat" | "mknod" | "mknodat" | "creat", 0) => NameType::Create,
        _ => NameType::Normal,
    }
}

/// Splits a kernel `dev_t` (major in the top 12 bits of 32).
pub fn dev(d: u32) -> DevNum {
    DevNum {
        major: d >> 20,
        minor: d & 0xf_ffff,
    }
}

/// Builds the raw event; `clock` converts the timestamp.
pub fn to_raw(ev: &SyscallEvent, clock: &Clock) -> RawEvent {
    let sname = vigil_rules::tables::syscall_name(ev.arch, ev.nr).unwrap_or("");
    let paths = ev
        .paths
        .iter()
        .map(|p| {
            let name = p
                .name
                .as_ref()
                .filter(|c| !c.faulted())
                .or(p.full.as_ref())
                .map(bytes);
            let mut rp = RawPath {
                name,
                nametype: nametype(sname, p.index),
                ..RawPath::default()
            };
            if let Some(o) = &p.object {
                rp.inode = Some(o.ino);
                rp.dev = dev(o.dev);
                rp.mode = o.mode;
                rp.ouid = o.uid;
                rp.ogid = o.gid;
                rp.rdev = dev(o.rdev);
            }
            rp
        })
        .collect();
    let argv = ev
        .argv
        .as_ref()
        .map(|a| a.args.iter().map(|x| Bytes(x.clone())).collect::<Vec<_>>());
    let proctitle = ev.argv.as_ref().map(|a| {
        let mut t = a.args.join(&0u8);
        t.truncate(128);
        Bytes(t)
    });
    let obj_pids = ev
        .obj_pid
        .iter()
        .map(|o| {
            let found = o.flags & VIGIL_OBJ_F_FOUND != 0;
            RawObjPid {
                pid: o.pid as u32,
                auid: if found { o.auid } else { u32::MAX },
                uid: if found { o.uid } else { u32::MAX },
                ses: if found { o.sessionid } else { u32::MAX },
                obj: None,
                comm: Bytes(c_str(&o.comm).to_vec()),
            }
        })
        .collect();
    RawEvent {
        ts_ns: clock.realtime_ns(ev.tai_ns),
        kind: RawKind::Syscall,
        arch: ev.arch,
        nr: ev.nr,
        args: [ev.args[0], ev.args[1], ev.args[2], ev.args[3]],
        exit: ev.ret,
        task: task(&ev.task, ev.exe.as_ref()),
        cwd: ev.cwd.as_ref().map(bytes),
        paths,
        argv,
        sockaddr: ev.sockaddr.as_ref().map(bytes),
        obj_pids,
        proctitle,
        uring: None,
        user: None,
        keys: Vec::new(),
    }
}

/// What the rule evaluators see of a BPF event (for the rule sets BPF left undecided, and
/// for tests comparing BPF with `CompiledSet::evaluate`). Supplementary groups, LSM labels
/// and container ids are not in BPF events yet (empty).
pub fn to_event_input(ev: &SyscallEvent) -> vigil_rules::input::EventInput {
    use vigil_rules::input::{EventInput, ObjectInput, TaskInput};
    let t = &ev.task;
    let objects = ev
        .paths
        .iter()
        .map(|p| {
            let path = p
                .full
                .as_ref()
                .or(p.name.as_ref().filter(|n| n.bytes.first() == Some(&b'/')))
                .map(|c| c.bytes.clone());
            match &p.object {
                Some(o) => ObjectInput {
                    path,
                    inode: o.ino,
                    dev_major: o.dev >> 20,
                    dev_minor: o.dev & 0xf_ffff,
                    mode: o.mode,
                    ouid: o.uid,
                    ogid: o.gid,
                    fstype: o.fs_magic,
                    rdev_major: o.rdev >> 20,
                    rdev_minor: o.rdev & 0xf_ffff,
                    obj: None,
                },
                None => ObjectInput {
                    path,
                    inode: u64::MAX,
                    ..ObjectInput::default()
                },
            }
        })
        .collect();
    EventInput {
        list: Some(vigil_rules::ast::FilterList::Exit),
        arch: ev.arch,
        nr: ev.nr,
        args: [ev.args[0], ev.args[1], ev.args[2], ev.args[3]],
        exit: ev.ret,
        success: !(-4095..=-1).contains(&ev.ret),
        task: TaskInput {
            pid: t.pid,
            ppid: t.ppid,
            uid: t.uid,
            euid: t.euid,
            suid: t.suid,
            fsuid: t.fsuid,
            gid: t.gid,
            egid: t.egid,
            sgid: t.sgid,
            fsgid: t.fsgid,
            auid: t.auid,
            sessionid: t.sessionid,
            pers: t.pers,
            exe: ev.exe.as_ref().map(|e| e.bytes.clone()),
            contids: Vec::new(),
            groups: Vec::new(),
            subj: None,
        },
        objects,
        msgtype: 0,
        saddr_fam: ev
            .sockaddr
            .as_ref()
            .filter(|s| s.bytes.len() >= 2)
            .map(|s| u32::from(u16::from_ne_bytes([s.bytes[0], s.bytes[1]]))),
        openat2_flags: 0,
    }
}
