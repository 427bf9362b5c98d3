//! What the exit hook captures per syscall: the `vigil_sysdesc` table, by syscall name so
//! that one list serves every architecture (numbers come from vigil-rules' syscall tables).

use vigil_abi::{SysClass, Sysdesc, VIGIL_ARG_NONE};

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

/// The table entry of `name`, as a map value.
pub fn desc_of(name: &str) -> Option<Sysdesc> {
    CAPTURE
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|&(_, class, arg0, arg1)| Sysdesc {
            class: class as u8,
            arg0,
            arg1,
            flags: 0,
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
    }
}
