//! What the exit hook captures per syscall: the `vigil_sysdesc` table, by syscall name so
//! that one list serves every architecture (numbers come from vigil-rules' syscall tables).

use vigil_abi::{
    SysClass, Sysdesc, VIGIL_ARG_NONE, VIGIL_PERMK_OPEN, VIGIL_PERMK_OPENAT, VIGIL_PERMK_OPENAT2,
    VIGIL_PERMK_SOCKETCALL, VIGIL_SHAPE_CREAT, VIGIL_SHAPE_LINK, VIGIL_SHAPE_PARENT,
    VIGIL_SHAPE_RENAME, VIGIL_SHAPE_SYMLINK, VIGIL_SHAPE_WHOLE, VIGIL_SYSD_F_BY_TID,
};

use crate::convert::layout::Shape;

const N: u8 = VIGIL_ARG_NONE as u8;

/// (syscall name, class, first argument index, second argument index).
pub const CAPTURE: &[(&str, SysClass, u8, u8)] = &[
    // Open family: the name argument (user memory) and the object behind the returned fd.
    ("open", SysClass::Open, 0, N),
    ("openat", SysClass::Open, 1, N),
    ("creat", SysClass::Open, 0, N),
    ("openat2", SysClass::Open, 1, N),
    ("open_by_handle_at", SysClass::Open, N, N),
    // Names read from user memory at exit.
    ("unlink", SysClass::Path, 0, N),
    ("unlinkat", SysClass::Path, 1, N),
    ("rmdir", SysClass::Path, 0, N),
    ("mkdir", SysClass::Path, 0, N),
    ("mkdirat", SysClass::Path, 1, N),
    ("mknod", SysClass::Path, 0, N),
    ("mknodat", SysClass::Path, 1, N),
    ("rename", SysClass::Path, 0, 1),
    ("renameat", SysClass::Path, 1, 3),
    ("renameat2", SysClass::Path, 1, 3),
    ("link", SysClass::Path, 0, 1),
    ("linkat", SysClass::Path, 1, 3),
    ("symlink", SysClass::Path, 0, 1),
    ("symlinkat", SysClass::Path, 0, 2),
    ("chmod", SysClass::Path, 0, N),
    ("fchmodat", SysClass::Path, 1, N),
    ("fchmodat2", SysClass::Path, 1, N),
    ("chown", SysClass::Path, 0, N),
    ("lchown", SysClass::Path, 0, N),
    ("fchownat", SysClass::Path, 1, N),
    ("truncate", SysClass::Path, 0, N),
    ("chdir", SysClass::Path, 0, N),
    ("chroot", SysClass::Path, 0, N),
    ("access", SysClass::Path, 0, N),
    ("faccessat", SysClass::Path, 1, N),
    ("faccessat2", SysClass::Path, 1, N),
    ("stat", SysClass::Path, 0, N),
    ("lstat", SysClass::Path, 0, N),
    ("newfstatat", SysClass::Path, 1, N),
    ("statx", SysClass::Path, 1, N),
    ("readlink", SysClass::Path, 0, N),
    ("readlinkat", SysClass::Path, 1, N),
    ("utime", SysClass::Path, 0, N),
    ("utimes", SysClass::Path, 0, N),
    ("futimesat", SysClass::Path, 1, N),
    ("setxattr", SysClass::Path, 0, N),
    ("lsetxattr", SysClass::Path, 0, N),
    ("getxattr", SysClass::Path, 0, N),
    ("lgetxattr", SysClass::Path, 0, N),
    ("listxattr", SysClass::Path, 0, N),
    ("llistxattr", SysClass::Path, 0, N),
    ("removexattr", SysClass::Path, 0, N),
    ("lremovexattr", SysClass::Path, 0, N),
    ("mount", SysClass::Path, 0, 1),
    ("umount2", SysClass::Path, 0, N),
    ("pivot_root", SysClass::Path, 0, 1),
    ("swapon", SysClass::Path, 0, N),
    ("swapoff", SysClass::Path, 0, N),
    ("acct", SysClass::Path, 0, N),
    ("uselib", SysClass::Path, 0, N),
    ("name_to_handle_at", SysClass::Path, 1, N),
    ("inotify_add_watch", SysClass::Path, 1, N),
    // The object behind a descriptor argument.
    ("fchmod", SysClass::Fd, 0, N),
    ("fchown", SysClass::Fd, 0, N),
    ("fchdir", SysClass::Fd, 0, N),
    ("ftruncate", SysClass::Fd, 0, N),
    ("fsetxattr", SysClass::Fd, 0, N),
    ("fremovexattr", SysClass::Fd, 0, N),
    // execve: argv and the new executable from the new mm; the name on failure.
    ("execve", SysClass::Exec, 0, N),
    ("execveat", SysClass::Exec, 1, N),
    // Socket addresses (pointer, length).
    ("connect", SysClass::Sockaddr, 1, 2),
    ("bind", SysClass::Sockaddr, 1, 2),
    ("sendto", SysClass::Sockaddr, 4, 5),
    ("sendmsg", SysClass::SockaddrMsg, 1, N),
    // Signal targets (pid, signal).
    ("kill", SysClass::Kill, 0, 1),
    ("tkill", SysClass::Kill, 0, 1),
    ("tgkill", SysClass::Kill, 1, 2),
    ("rt_sigqueueinfo", SysClass::Kill, 0, 1),
    ("rt_tgsigqueueinfo", SysClass::Kill, 1, 2),
];

/// The directory descriptor argument each name argument of a `*at` syscall is relative to
/// (`VIGIL_ARG_NONE`: the working directory). `symlinkat`'s first name is the link's
/// content, not a lookup.
const DIRFD: &[(&str, u8, u8)] = &[
    ("openat", 0, N),
    ("openat2", 0, N),
    ("unlinkat", 0, N),
    ("mkdirat", 0, N),
    ("mknodat", 0, N),
    ("renameat", 0, 2),
    ("renameat2", 0, 2),
    ("linkat", 0, 2),
    ("symlinkat", N, 1),
    ("fchmodat", 0, N),
    ("fchmodat2", 0, N),
    ("fchownat", 0, N),
    ("faccessat", 0, N),
    ("faccessat2", 0, N),
    ("newfstatat", 0, N),
    ("statx", 0, N),
    ("readlinkat", 0, N),
    ("futimesat", 0, N),
    ("name_to_handle_at", 0, N),
    ("execveat", 0, N),
];

/// `vigil_sysdesc.perm` of syscall `nr` on `arch`: the `perm=` classes it belongs to, or
/// how `perm=` reads its arguments (vigil-rules' `perm_classes.tsv`, the kernel's
/// `audit_classify_syscall`).
pub fn perm_of(arch: u32, nr: u32) -> u8 {
    use vigil_rules::compile::classes::{perm_matches, PERM_ATTR, PERM_READ, PERM_WRITE};
    match vigil_rules::tables::syscall_name(arch, nr) {
        Some("open") => VIGIL_PERMK_OPEN as u8,
        Some("openat") => VIGIL_PERMK_OPENAT as u8,
        Some("openat2") => VIGIL_PERMK_OPENAT2 as u8,
        Some("socketcall") => VIGIL_PERMK_SOCKETCALL as u8,
        Some(_) => {
            let zero = [0u64; 4];
            [PERM_WRITE, PERM_READ, PERM_ATTR, 1]
                .iter()
                .filter(|&&p| perm_matches(arch, nr, &zero, 0, p))
                .fold(0u8, |m, &p| m | p as u8)
        }
        None => 0,
    }
}

/// The table entry of `name` on `arch` (number `nr`), as a map value; `None` when the
/// syscall needs nothing (no capture, no `perm=` class).
pub fn desc_of(arch: u32, nr: u32, name: &str) -> Option<Sysdesc> {
    let perm = perm_of(arch, nr);
    let (dirfd0, dirfd1) = DIRFD
        .iter()
        .find(|(n, ..)| *n == name)
        .map_or((N, N), |&(_, a, b)| (a, b));
    let (class, arg0, arg1) = CAPTURE
        .iter()
        .find(|(n, ..)| *n == name)
        .map_or((SysClass::None, N, N), |&(_, c, a, b)| (c, a, b));
    let by_tid = matches!(name, "tkill" | "tgkill" | "rt_tgsigqueueinfo");
    let shape = match crate::convert::layout::shape(name) {
        Shape::Whole => VIGIL_SHAPE_WHOLE,
        Shape::Parent => VIGIL_SHAPE_PARENT,
        Shape::Creat => VIGIL_SHAPE_CREAT,
        Shape::Rename => VIGIL_SHAPE_RENAME,
        Shape::Link => VIGIL_SHAPE_LINK,
        Shape::Symlink => VIGIL_SHAPE_SYMLINK,
    } as u8;
    (class != SysClass::None || perm != 0).then_some(Sysdesc {
        class: class as u8,
        arg0,
        arg1,
        flags: if by_tid { VIGIL_SYSD_F_BY_TID as u8 } else { 0 },
        dirfd0,
        dirfd1,
        perm,
        shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_exist_and_args_are_in_range() {
        for (name, class, a0, a1) in CAPTURE {
            assert!(
                vigil_rules::tables::syscall_number(vigil_abi::VIGIL_AUDIT_ARCH_X86_64, name)
                    .is_some(),
                "{name}: not an x86_64 syscall"
            );
            assert!(*a0 < 6 || *a0 == N, "{name}: arg0 {a0}");
            assert!(*a1 < 6 || *a1 == N, "{name}: arg1 {a1}");
            assert_ne!(*class, SysClass::None);
        }
        let mut names: Vec<_> = CAPTURE.iter().map(|c| c.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CAPTURE.len(), "duplicate names");
        for (name, ..) in DIRFD {
            assert!(CAPTURE.iter().any(|c| c.0 == *name), "{name}: not captured");
        }
    }

    #[test]
    fn perm_classes_as_the_kernel() {
        let x = vigil_abi::VIGIL_AUDIT_ARCH_X86_64;
        let nr = |n| vigil_rules::tables::syscall_number(x, n).unwrap();
        assert_eq!(perm_of(x, nr("chmod")), 8);
        assert_eq!(perm_of(x, nr("unlink")), 2);
        assert_eq!(perm_of(x, nr("readlink")), 4);
        assert_eq!(perm_of(x, nr("execve")), 1);
        assert_eq!(perm_of(x, nr("link")), 2 | 8);
        assert_eq!(perm_of(x, nr("openat")), VIGIL_PERMK_OPENAT as u8);
        assert_eq!(perm_of(x, nr("getpid")), 0);
        let d = desc_of(x, nr("renameat2"), "renameat2").unwrap();
        assert_eq!((d.arg0, d.arg1, d.dirfd0, d.dirfd1), (1, 3, 0, 2));
        assert!(desc_of(x, nr("getpid"), "getpid").is_none());
        let q = desc_of(x, nr("quotactl"), "quotactl").unwrap();
        assert_eq!((q.class, q.perm), (SysClass::None as u8, 2 | 4));
    }
}
