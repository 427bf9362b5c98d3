//! Decoded BPF events to vigil's raw event model ([`vigil_format::RawEvent`]).
//! Fields the BPF side does not know yet (keys, container id, a kill target's identity)
//! are left for the daemon to fill.

use vigil_abi::{Task, VIGIL_OBJ_F_FOUND, VIGIL_PATH_F_CREATED};
use vigil_format::raw::{DevNum, NameType, RawObjPid};
use vigil_format::{Bytes, RawEvent, RawKind, RawPath, RawTask};

use crate::decode::{Captured, SyscallEvent};

pub(crate) mod layout;
pub use layout::{parent_len, parent_name};

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

/// The ABI task as a raw task (`exe`: the captured path, or the io_uring joiner's cache).
pub(crate) fn task(t: &Task, exe: Option<&[u8]>) -> RawTask {
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
        exe: exe.map(|e| Bytes(e.to_vec())),
        subj: None,
        contid: None,
        pers: t.pers,
        groups: Vec::new(),
    }
}

/// The ABI task as the rule evaluators see it (`exe`: the captured path, or the io_uring
/// joiner's cache). Groups, LSM label and container ids stay empty: a caller adds what its
/// event carries.
pub(crate) fn task_input(t: &Task, exe: Option<Vec<u8>>) -> vigil_rules::input::TaskInput {
    vigil_rules::input::TaskInput {
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
        exe,
        ..vigil_rules::input::TaskInput::default()
    }
}

/// The supplementary groups of the GROUPS item (sent when rules test `gid=`/`egid=`).
fn groups(ev: &SyscallEvent) -> Vec<u32> {
    ev.groups.as_ref().map_or_else(Vec::new, |g| {
        g.bytes
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
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

/// Whether a syscall that returned `ret` failed because a name was not found: the kernel's
/// PATH item for a name whose lookup failed says `nametype=UNKNOWN` and has no inode.
fn lookup_failed(ret: i64) -> bool {
    ret == -i64::from(libc::ENOENT) || ret == -i64::from(libc::ENOTDIR)
}

/// The kernel's proctitle: at most 128 bytes of the command line, trailing unprintable bytes
/// (the NUL after the last argument, ...) trimmed (`audit_proctitle_rtrim`).
pub fn proctitle(cmdline: &[u8]) -> Option<Bytes> {
    let printable = |c: u8| (0x20..0x7f).contains(&c);
    let mut t = &cmdline[..cmdline.len().min(128)];
    while t.len() > 1 && !printable(t[t.len() - 1]) {
        t = &t[..t.len() - 1];
    }
    if t.len() == 1 && !printable(t[0]) {
        t = &[];
    }
    (!t.is_empty()).then(|| Bytes(t.to_vec()))
}

/// Splits a kernel `dev_t` (major in the top 12 bits of 32).
pub fn dev(d: u32) -> DevNum {
    DevNum {
        major: d >> 20,
        minor: d & 0xf_ffff,
    }
}

/// Whether the kernel would log `ev` at all. A new task's return from fork/clone (0 in the
/// child) passes the exit hook, but the kernel's child has no syscall context then and never
/// logs it: only the parent's call (returning the child's id) is an event.
pub fn kernel_logs(ev: &SyscallEvent) -> bool {
    if ev.ret != 0 {
        return true;
    }
    let sname = vigil_rules::tables::syscall_name(ev.arch, ev.nr).unwrap_or("");
    !matches!(sname, "clone" | "clone3" | "fork" | "vfork")
}

/// Builds the raw event; `clock` converts the timestamp.
pub fn to_raw(ev: &SyscallEvent, clock: &Clock) -> RawEvent {
    let sname = vigil_rules::tables::syscall_name(ev.arch, ev.nr).unwrap_or("");
    let paths: Vec<RawPath> = ev
        .paths
        .iter()
        .filter_map(|p| {
            let name = p
                .name
                .as_ref()
                .filter(|c| !c.faulted())
                .or(p.full.as_ref())
                .map(bytes);
            // An empty name with AT_EMPTY_PATH names the descriptor: the kernel looks no
            // name up and writes no PATH item for it.
            let empty = p
                .name
                .as_ref()
                .is_some_and(|c| !c.faulted() && c.bytes.is_empty());
            if empty && p.object.is_none() && p.full.is_none() {
                return None;
            }
            let mut rp = RawPath {
                name,
                nametype: nametype(sname, p.index),
                ..RawPath::default()
            };
            match &p.object {
                Some(o) => {
                    rp.inode = Some(o.ino);
                    rp.dev = dev(o.dev);
                    rp.mode = o.mode;
                    rp.ouid = o.uid;
                    rp.ogid = o.gid;
                    rp.rdev = dev(o.rdev);
                    rp.fstype = o.fs_magic;
                }
                None if lookup_failed(ev.ret) => rp.nametype = NameType::Unknown,
                None => {}
            }
            Some(rp)
        })
        .collect();
    // The kernel writes CWD only when the syscall looked a name up.
    let cwd = if paths.is_empty() && !ev.paths.is_empty() {
        None
    } else {
        ev.cwd.as_ref().map(bytes)
    };
    // An open that made its file (FMODE_CREATED) is a creat: PARENT, then CREATE.
    let created = ev.ret >= 0
        && matches!(sname, "open" | "openat" | "openat2")
        && ev.paths.iter().any(|p| {
            p.object
                .as_ref()
                .is_some_and(|o| o.flags & VIGIL_PATH_F_CREATED != 0)
        });
    let mut paths = paths;
    let shape = if created {
        for p in &mut paths {
            p.nametype = NameType::Create;
        }
        layout::Shape::Creat
    } else {
        layout::shape(sname)
    };
    let paths = layout::kernel_layout(
        shape,
        ev.ret,
        ev.cwd.as_ref().map(|c| c.bytes.as_slice()),
        paths,
    );
    let argv = ev
        .argv
        .as_ref()
        .map(|a| a.args.iter().map(|x| Bytes(x.clone())).collect::<Vec<_>>());
    let proctitle = match (&ev.argv, &ev.proctitle) {
        (Some(a), _) => proctitle(&a.args.join(&0u8)),
        (None, Some(c)) if !c.faulted() => proctitle(&c.bytes),
        _ => None,
    };
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
        task: RawTask {
            groups: groups(ev),
            ..task(&ev.task, ev.exe.as_ref().map(|c| c.bytes.as_slice()))
        },
        cwd,
        paths,
        argv,
        sockaddr: ev.sockaddr.as_ref().map(bytes),
        obj_pids,
        proctitle,
        uring: None,
        user: None,
        keys: Vec::new(),
        openat2_flags: 0,
    }
}

/// `name` made absolute against `cwd`, with empty, `.` and `..` components folded (as path
/// and dir rules compare); `None` for a relative name without a working directory. A
/// trailing `/` is kept.
pub fn absolute(name: &[u8], cwd: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut joined = Vec::with_capacity(name.len() + cwd.map_or(0, <[u8]>::len) + 1);
    match (name.first(), cwd) {
        (Some(b'/'), _) => joined.extend_from_slice(name),
        (_, Some(c)) if c.first() == Some(&b'/') => {
            joined.extend_from_slice(c);
            joined.push(b'/');
            joined.extend_from_slice(name);
        }
        _ => return None,
    }
    Some(vigil_rules::input::fold_path(&joined))
}

/// The objects the kernel's rules see for `ev` (see [`layout`]): a child the call did not
/// find or make is not one (its directory is), nor is a symlink's target (never looked up).
fn kernel_objects(
    ev: &SyscallEvent,
    mut objects: Vec<vigil_rules::input::ObjectInput>,
) -> Vec<vigil_rules::input::ObjectInput> {
    let sname = vigil_rules::tables::syscall_name(ev.arch, ev.nr).unwrap_or("");
    let shape = layout::shape(sname);
    if shape == layout::Shape::Symlink && !objects.is_empty() {
        objects.remove(0);
    }
    if layout::no_child(shape, ev.ret) && shape != layout::Shape::Creat {
        let cwd = ev.cwd.as_ref().map(|c| c.bytes.as_slice());
        // link: the old name (first) is looked up whole.
        let skip = usize::from(shape == layout::Shape::Link);
        for o in objects.iter_mut().skip(skip) {
            let dir = o
                .path
                .as_deref()
                .map(|p| p[..parent_len(p).max(1).min(p.len())].to_vec());
            *o = vigil_rules::input::ObjectInput {
                path: dir.or_else(|| cwd.map(<[u8]>::to_vec)),
                inode: u64::MAX,
                ..vigil_rules::input::ObjectInput::default()
            };
        }
    }
    objects
}

/// What the rule evaluators see of a BPF event (for the rule sets BPF left undecided, and
/// for tests comparing BPF with `CompiledSet::evaluate`). Supplementary groups, LSM labels
/// and container ids are not in BPF events yet (empty).
pub fn to_event_input(ev: &SyscallEvent) -> vigil_rules::input::EventInput {
    use vigil_rules::input::{EventInput, ObjectInput};
    let objects = ev
        .paths
        .iter()
        // An empty name with AT_EMPTY_PATH names the descriptor: no name is looked up (as
        // `to_raw`, which writes no PATH item for it).
        .filter(|p| {
            p.object.is_some()
                || p.full.is_some()
                || p.name
                    .as_ref()
                    .is_none_or(|n| n.faulted() || !n.bytes.is_empty())
        })
        .map(|p| {
            // The object's own path (dentry walk) when BPF reached it, else the name made
            // absolute against the working directory.
            let path = match (&p.full, &p.name) {
                (Some(f), _) => Some(f.bytes.clone()),
                (None, Some(n)) if !n.faulted() && !n.bytes.is_empty() => {
                    let base = p.base.as_ref().or(ev.cwd.as_ref());
                    absolute(&n.bytes, base.map(|c| c.bytes.as_slice()))
                }
                _ => None,
            };
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
    let objects = kernel_objects(ev, objects);
    EventInput {
        list: Some(vigil_rules::ast::FilterList::Exit),
        arch: ev.arch,
        nr: ev.nr,
        args: [ev.args[0], ev.args[1], ev.args[2], ev.args[3]],
        exit: ev.ret,
        success: !(-4095..=-1).contains(&ev.ret),
        task: vigil_rules::input::TaskInput {
            groups: groups(ev),
            ..task_input(&ev.task, ev.exe.as_ref().map(|e| e.bytes.clone()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::PathItem;

    fn named(index: u8, name: &str) -> PathItem {
        PathItem {
            index,
            name: Some(Captured {
                bytes: name.as_bytes().to_vec(),
                flags: 0,
            }),
            ..PathItem::default()
        }
    }

    fn event(nr: u32, ret: i64, paths: Vec<PathItem>) -> SyscallEvent {
        SyscallEvent {
            arch: vigil_abi::VIGIL_AUDIT_ARCH_X86_64,
            nr,
            ret,
            cwd: Some(Captured {
                bytes: b"/tmp".to_vec(),
                flags: 0,
            }),
            paths,
            ..SyscallEvent::default()
        }
    }

    #[test]
    fn proctitle_is_cut_and_trimmed_as_the_kernel_does() {
        assert_eq!(
            proctitle(b"cat\0/etc/passwd\0"),
            Some(Bytes::from("cat\0/etc/passwd"))
        );
        assert_eq!(proctitle(&[b'a'; 200]).unwrap().0.len(), 128);
        assert_eq!(proctitle(b"\0"), None);
        assert_eq!(proctitle(b""), None);
        assert_eq!(proctitle(b"x\x01\xff"), Some(Bytes::from("x")));
    }

    #[test]
    fn names_not_found_are_unknown() {
        let clock = Clock {
            tai_minus_real_ns: 0,
        };
        // chmod(90) of a missing name, and refused.
        let raw = to_raw(&event(90, -2, vec![named(0, "gone")]), &clock);
        assert_eq!(raw.paths[0].nametype, NameType::Unknown);
        let raw = to_raw(&event(90, -13, vec![named(0, "locked")]), &clock);
        assert_eq!(raw.paths[0].nametype, NameType::Normal);
        // unlink(87): PARENT then DELETE; only PARENT when the name was not there.
        let raw = to_raw(&event(87, 0, vec![named(0, "here")]), &clock);
        let nt: Vec<NameType> = raw.paths.iter().map(|p| p.nametype).collect();
        assert_eq!(nt, vec![NameType::Parent, NameType::Delete]);
        assert_eq!(raw.paths[0].name, Some(Bytes::from("/tmp")));
        assert_eq!(raw.paths[0].inode, None);
        let raw = to_raw(&event(87, -2, vec![named(0, "gone")]), &clock);
        let nt: Vec<NameType> = raw.paths.iter().map(|p| p.nametype).collect();
        assert_eq!(nt, vec![NameType::Parent]);
        // The rules see the directory, not the missing child.
        let input = to_event_input(&event(87, -2, vec![named(0, "gone")]));
        assert_eq!(input.objects[0].path.as_deref(), Some(&b"/tmp/"[..]));
    }

    #[test]
    fn the_childs_return_from_fork_is_no_event() {
        // clone(56) in the child returns 0; in the parent, the child's id.
        assert!(!kernel_logs(&event(56, 0, Vec::new())));
        assert!(kernel_logs(&event(56, 4242, Vec::new())));
        assert!(!kernel_logs(&event(435, 0, Vec::new())));
        assert!(kernel_logs(&event(39, 0, Vec::new())));
    }

    #[test]
    fn an_empty_name_is_no_path_and_no_cwd() {
        let clock = Clock {
            tai_minus_real_ns: 0,
        };
        // newfstatat(fd, "", AT_EMPTY_PATH)
        let raw = to_raw(&event(262, 0, vec![named(1, "")]), &clock);
        assert!(raw.paths.is_empty());
        assert_eq!(raw.cwd, None);
        let raw = to_raw(&event(262, 0, vec![named(1, "x")]), &clock);
        assert_eq!(raw.paths.len(), 1);
        assert_eq!(raw.cwd, Some(Bytes::from("/tmp")));
    }
}
