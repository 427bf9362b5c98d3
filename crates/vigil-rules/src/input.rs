//! What a rule evaluator sees of one event. Both the reference evaluator and the compiled
//! index take this; the daemon builds it from a kernel event, replay from a trace line.

use crate::ast::FilterList;

/// Identity of the task that caused the event (for io_uring: the ring owner).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskInput {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    /// Login uid; `u32::MAX` when unset.
    pub auid: u32,
    /// Session id; `u32::MAX` when unset.
    pub sessionid: u32,
    pub pers: u32,
    /// Absolute path of the executable, when known.
    pub exe: Option<Vec<u8>>,
    /// Audit container ids: the task's own first, then each enclosing container outward.
    /// Empty when the task is in no container.
    pub contids: Vec<u64>,
    /// Supplementary groups (`gid=`/`egid=` with `=`/`!=` also match these, as the kernel's
    /// `groups_search`).
    pub groups: Vec<u32>,
    /// LSM subject label (`user:role:type:level`), when an LSM provides one. `None` on machines
    /// without an LSM: `subj_*` fields then never match, as in the kernel.
    pub subj: Option<Vec<u8>>,
}

/// One object (file) the event touched, as PATH records describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectInput {
    /// Absolute, normalised path of the object, when known.
    pub path: Option<Vec<u8>>,
    /// `u64::MAX` when the object has no inode (a name that was not found): `filetype=`
    /// skips such objects, as the kernel's `AUDIT_INO_UNSET`.
    pub inode: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// `st_mode` (file type + permission bits).
    pub mode: u32,
    pub ouid: u32,
    pub ogid: u32,
    /// Filesystem magic (`statfs.f_type`).
    pub fstype: u32,
    /// Device number of a device node (`st_rdev`); `devmajor`/`devminor` match `dev` or `rdev`.
    pub rdev_major: u32,
    pub rdev_minor: u32,
    /// LSM object label (`user:role:type:level`), when an LSM provides one.
    pub obj: Option<Vec<u8>>,
}

/// One event as the filter sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInput {
    /// `Exit` for syscalls, `IoUring` for io_uring ops, `User`/`Exclude` for messages.
    pub list: Option<FilterList>,
    /// `AUDIT_ARCH_*` value (`0xc000003e` for x86_64); 0 for io_uring.
    pub arch: u32,
    /// Syscall number, or io_uring opcode.
    pub nr: u32,
    pub args: [u64; 4],
    /// Return value (syscall return or io_uring cqe res).
    pub exit: i64,
    pub success: bool,
    pub task: TaskInput,
    pub objects: Vec<ObjectInput>,
    /// Record type (for `user`/`exclude` lists).
    pub msgtype: u32,
    /// Socket address family, when the event has a SOCKADDR.
    pub saddr_fam: Option<u32>,
    /// `openat2` only: `open_how.flags` (the kernel copies it; `perm=` reads its access mode).
    pub openat2_flags: u64,
}

/// An absolute path with empty, `.` and `..` components folded, as path and dir rules compare
/// object paths (`..` above `/` stays at `/`). A trailing `/` is kept (the kernel's PARENT
/// items have one).
pub fn fold_path(joined: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in joined.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::with_capacity(joined.len());
    for p in &parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() || (joined.ends_with(b"/") && !parts.is_empty()) {
        out.push(b'/');
    }
    out
}
