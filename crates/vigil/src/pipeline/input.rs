//! [`RawEvent`] -> [`EventInput`]: what the rule filter sees of a captured event.

use vigil_format::raw::{Bytes, RawEvent, RawKind, RawPath};
use vigil_rules::ast::FilterList;
use vigil_rules::input::{EventInput, ObjectInput, TaskInput};
use vigil_rules::reference::INO_UNSET;

/// Record type numbers used as `msgtype` of the event's main record.
const SYSCALL: u32 = 1300;
const URINGOP: u32 = 1336;
const USER: u32 = 1005;

/// The filter's view of `raw`. Paths become absolute (relative names are joined to the cwd
/// and `.`/`..` folded), since path and dir rules compare absolute paths.
pub fn event_input(raw: &RawEvent) -> EventInput {
    let t = &raw.task;
    let (list, msgtype) = match raw.kind {
        RawKind::Syscall => (FilterList::Exit, SYSCALL),
        RawKind::Uring => (FilterList::IoUring, URINGOP),
        RawKind::User => (
            FilterList::User,
            raw.user.as_ref().map_or(USER, |u| u.rtype),
        ),
    };
    let cwd = raw.cwd.as_ref().map(Bytes::as_slice);
    let mut input = EventInput {
        list: Some(list),
        arch: raw.arch,
        nr: raw.nr,
        args: raw.args,
        exit: raw.exit,
        success: raw.success(),
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
            sessionid: t.ses,
            pers: t.pers,
            exe: t.exe.as_ref().map(|e| e.0.clone()),
            contids: t.contid.into_iter().collect(),
            groups: t.groups.clone(),
            subj: t.subj.as_ref().map(|s| s.0.clone()),
        },
        objects: raw.paths.iter().map(|p| object_input(p, cwd)).collect(),
        msgtype,
        saddr_fam: raw
            .sockaddr
            .as_ref()
            .and_then(|s| saddr_family(s.as_slice())),
        openat2_flags: raw.openat2_flags,
    };
    if let Some(p) = raw.uring.as_ref().and_then(|u| u.personality.as_ref()) {
        p.apply_to(&mut input.task);
    }
    input
}

fn object_input(p: &RawPath, cwd: Option<&[u8]>) -> ObjectInput {
    ObjectInput {
        path: p.name.as_ref().map(|n| absolute(n.as_slice(), cwd)),
        inode: p.inode.unwrap_or(INO_UNSET),
        dev_major: p.dev.major,
        dev_minor: p.dev.minor,
        mode: p.mode,
        ouid: p.ouid,
        ogid: p.ogid,
        rdev_major: p.rdev.major,
        rdev_minor: p.rdev.minor,
        fstype: p.fstype,
        obj: p.obj.as_ref().map(|o| o.0.clone()),
    }
}

/// `sa_family` of a raw sockaddr (native-endian u16), when there are two bytes.
pub fn saddr_family(sa: &[u8]) -> Option<u32> {
    match sa {
        [a, b, ..] => Some(u32::from(u16::from_ne_bytes([*a, *b]))),
        _ => None,
    }
}

/// `name` made absolute against `cwd` (when relative and a cwd is known), with empty, `.`
/// and `..` components folded. A trailing `/` is kept (the kernel's PARENT items have one).
pub fn absolute(name: &[u8], cwd: Option<&[u8]>) -> Vec<u8> {
    let mut joined = Vec::with_capacity(name.len() + cwd.map_or(0, <[u8]>::len) + 1);
    match (name.first(), cwd) {
        (Some(b'/'), _) | (_, None) => joined.extend_from_slice(name),
        (_, Some(c)) => {
            joined.extend_from_slice(c);
            joined.push(b'/');
            joined.extend_from_slice(name);
        }
    }
    if joined.first() != Some(&b'/') {
        return joined;
    }
    vigil_rules::input::fold_path(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_format::raw::{DevNum, RawTask, RawUserMsg};

    #[test]
    fn paths_become_absolute() {
        assert_eq!(absolute(b"passwd", Some(b"/etc")), b"/etc/passwd");
        assert_eq!(
            absolute(b"../etc/./shadow", Some(b"/home/a")),
            b"/home/etc/shadow"
        );
        assert_eq!(absolute(b"/etc/", None), b"/etc/");
        assert_eq!(absolute(b"/../..", None), b"/");
        assert_eq!(absolute(b"rel", None), b"rel");
    }

    #[test]
    fn syscall_event_maps_every_field() {
        let raw = RawEvent {
            kind: RawKind::Syscall,
            arch: 0xc000_003e,
            nr: 257,
            args: [1, 2, 3, 4],
            exit: -13,
            task: RawTask {
                pid: 10,
                ppid: 9,
                uid: 1000,
                euid: 1001,
                auid: 1000,
                ses: 3,
                exe: Some(Bytes::from("/usr/bin/cat")),
                contid: Some(77),
                pers: 0x0040_0000,
                groups: vec![24, 27],
                ..RawTask::default()
            },
            cwd: Some(Bytes::from("/etc")),
            paths: vec![RawPath {
                name: Some(Bytes::from("passwd")),
                inode: Some(12),
                dev: DevNum { major: 8, minor: 1 },
                mode: 0o100_644,
                fstype: 0xef53,
                ..RawPath::default()
            }],
            sockaddr: Some(Bytes(vec![2, 0, 0, 80])),
            openat2_flags: 0o2,
            ..RawEvent::default()
        };
        let ev = event_input(&raw);
        assert_eq!(ev.list, Some(FilterList::Exit));
        assert_eq!(
            (ev.arch, ev.nr, ev.args, ev.exit),
            (0xc000_003e, 257, [1, 2, 3, 4], -13)
        );
        assert!(!ev.success);
        assert_eq!((ev.task.pid, ev.task.ppid, ev.task.euid), (10, 9, 1001));
        assert_eq!(ev.task.contids, vec![77]);
        assert_eq!(
            (ev.task.pers, &ev.task.groups[..]),
            (0x0040_0000, &[24, 27][..])
        );
        assert_eq!((ev.objects[0].fstype, ev.openat2_flags), (0xef53, 0o2));
        assert_eq!(ev.task.exe.as_deref(), Some(&b"/usr/bin/cat"[..]));
        assert_eq!(ev.objects[0].path.as_deref(), Some(&b"/etc/passwd"[..]));
        assert_eq!((ev.objects[0].inode, ev.objects[0].dev_major), (12, 8));
        assert_eq!(ev.saddr_fam, Some(2));
        assert_eq!(ev.msgtype, 1300);
    }

    #[test]
    fn user_and_uring_lists() {
        let mut raw = RawEvent {
            kind: RawKind::User,
            user: Some(RawUserMsg {
                rtype: 1100,
                text: Bytes::from("hi"),
            }),
            ..RawEvent::default()
        };
        let ev = event_input(&raw);
        assert_eq!((ev.list, ev.msgtype), (Some(FilterList::User), 1100));
        raw.kind = RawKind::Uring;
        raw.paths.push(RawPath::default());
        let ev = event_input(&raw);
        assert_eq!(ev.list, Some(FilterList::IoUring));
        assert_eq!(ev.objects[0].inode, INO_UNSET);
        assert_eq!(ev.objects[0].path, None);
    }
}
