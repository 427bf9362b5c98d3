//! Syscall arguments as ausearch's `-i` prints them for the calls audit logs mostly hold: the
//! directory fd of the `*at` calls (`AT_FDCWD`), open flags, signal numbers, the ids of the
//! `set*id` and `chown` calls. Everything else prints as `0x` hex (auparse decodes more:
//! socket families, mmap and clone flags, ...). x86_64 numbers only (other arches: hex).

use vigil_rules::tables::AUDIT_ARCH_X86_64;

/// What one argument of a syscall is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    DirFd,
    OpenFlags,
    Signal,
    Uid,
    Gid,
}

/// An interpreted argument: text, or an id for the caller to name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgText {
    Text(String),
    Uid(u32),
    Gid(u32),
}

/// `(syscall, argument index, kind)` for x86_64.
const ARGS: &[(u32, usize, Arg)] = &[
    (2, 1, Arg::OpenFlags),   // open
    (257, 0, Arg::DirFd),     // openat
    (257, 2, Arg::OpenFlags), // openat
    (258, 0, Arg::DirFd),     // mkdirat
    (259, 0, Arg::DirFd),     // mknodat
    (260, 0, Arg::DirFd),     // fchownat
    (261, 0, Arg::DirFd),     // futimesat
    (262, 0, Arg::DirFd),     // newfstatat
    (263, 0, Arg::DirFd),     // unlinkat
    (264, 0, Arg::DirFd),     // renameat
    (265, 0, Arg::DirFd),     // linkat
    (266, 1, Arg::DirFd),     // symlinkat
    (267, 0, Arg::DirFd),     // readlinkat
    (268, 0, Arg::DirFd),     // fchmodat
    (269, 0, Arg::DirFd),     // faccessat
    (280, 0, Arg::DirFd),     // utimensat
    (316, 0, Arg::DirFd),     // renameat2
    (322, 0, Arg::DirFd),     // execveat
    (332, 0, Arg::DirFd),     // statx
    (439, 0, Arg::DirFd),     // faccessat2
    (62, 1, Arg::Signal),     // kill
    (200, 1, Arg::Signal),    // tkill
    (234, 2, Arg::Signal),    // tgkill
    (105, 0, Arg::Uid),       // setuid
    (106, 0, Arg::Gid),       // setgid
    (113, 0, Arg::Uid),       // setreuid
    (113, 1, Arg::Uid),
    (114, 0, Arg::Gid), // setregid
    (114, 1, Arg::Gid),
    (117, 0, Arg::Uid), // setresuid
    (117, 1, Arg::Uid),
    (117, 2, Arg::Uid),
    (119, 0, Arg::Gid), // setresgid
    (119, 1, Arg::Gid),
    (119, 2, Arg::Gid),
    (122, 0, Arg::Uid), // setfsuid
    (123, 0, Arg::Gid), // setfsgid
    (92, 1, Arg::Uid),  // chown
    (92, 2, Arg::Gid),
    (93, 1, Arg::Uid), // fchown
    (93, 2, Arg::Gid),
    (94, 1, Arg::Uid), // lchown
    (94, 2, Arg::Gid),
    (260, 2, Arg::Uid), // fchownat
    (260, 3, Arg::Gid),
];

/// Open flags as ausearch 3.0.9 names them, in the order it prints them.
const OPEN_FLAGS: &[(u64, &str)] = &[
    (0o1, "O_WRONLY"),
    (0o2, "O_RDWR"),
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o200_000, "O_DIRECTORY"),
    (0o400_000, "O_NOFOLLOW"),
    (0o1_000_000, "O_NOATIME"),
    (0o2_000_000, "O_CLOEXEC"),
    (0o4_000_000, "__O_SYNC"),
    (0o10_000_000, "O_PATH"),
    (0o20_000_000, "__O_TMPFILE"),
];

const SIGNALS: [&str; 32] = [
    "SIG0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// Argument `idx` (0..4) of `syscall` on `arch` with value `v`, as ausearch `-i` prints it.
pub fn syscall_arg(arch: u32, syscall: Option<u32>, idx: usize, v: u64) -> ArgText {
    let kind = (arch == AUDIT_ARCH_X86_64)
        .then(|| {
            let nr = syscall?;
            ARGS.iter()
                .find(|(n, i, _)| *n == nr && *i == idx)
                .map(|(_, _, k)| *k)
        })
        .flatten();
    ArgText::Text(match kind {
        Some(Arg::DirFd) if v as u32 as i32 == -100 => "AT_FDCWD".into(),
        Some(Arg::OpenFlags) => open_flags(v),
        Some(Arg::Signal) => SIGNALS
            .get(v as usize)
            .map_or_else(|| format!("unknown-signal(0x{v:x})"), |s| (*s).to_string()),
        Some(Arg::Uid) => return ArgText::Uid(v as u32),
        Some(Arg::Gid) => return ArgText::Gid(v as u32),
        _ => format!("0x{v:x}"),
    })
}

const CAPS: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Whether field `name` holds a capability set (`BPRM_FCAPS`, `CAPSET`, PATH records).
pub fn is_cap_set(name: &str) -> bool {
    matches!(
        name,
        "cap_fp"
            | "cap_fi"
            | "fp"
            | "fi"
            | "old_pp"
            | "old_pi"
            | "old_pe"
            | "old_pa"
            | "pp"
            | "pi"
            | "pe"
            | "pa"
            | "cap_pi"
            | "cap_pe"
            | "cap_pp"
            | "cap_pa"
    )
}

/// A capability set (hex) as names: `none`, or `chown,kill,...`.
pub fn cap_set(v: u64) -> String {
    if v == 0 {
        return "none".into();
    }
    let names: Vec<String> = (0..64)
        .filter(|b| v & (1u64 << b) != 0)
        .map(|b| {
            CAPS.get(b)
                .map_or_else(|| format!("unknown({b})"), |s| (*s).to_string())
        })
        .collect();
    names.join(",")
}

/// `O_RDONLY|O_CLOEXEC`-style text.
pub fn open_flags(v: u64) -> String {
    let mut s = String::new();
    if v.trailing_zeros() >= 2 {
        s.push_str("O_RDONLY");
    }
    for (bit, name) in OPEN_FLAGS {
        if v & bit != 0 {
            if !s.is_empty() {
                s.push('|');
            }
            s.push_str(name);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values checked against ausearch 3.0.9 `-i`.
    #[test]
    fn as_ausearch_prints_them() {
        let x = AUDIT_ARCH_X86_64;
        let t = |a: ArgText| match a {
            ArgText::Text(s) => s,
            other => format!("{other:?}"),
        };
        assert_eq!(t(syscall_arg(x, Some(257), 0, 0xffff_ff9c)), "AT_FDCWD");
        assert_eq!(t(syscall_arg(x, Some(257), 0, 5)), "0x5");
        assert_eq!(
            t(syscall_arg(x, Some(257), 2, 0x241)),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(
            t(syscall_arg(x, Some(257), 2, 0x80000)),
            "O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(
            t(syscall_arg(x, Some(257), 2, 0x10_1000)),
            "O_RDONLY|O_DSYNC|__O_SYNC"
        );
        assert_eq!(
            t(syscall_arg(x, Some(257), 2, 0xc2)),
            "O_RDWR|O_CREAT|O_EXCL"
        );
        assert_eq!(t(syscall_arg(x, Some(257), 3, 0x1b6)), "0x1b6");
        assert_eq!(t(syscall_arg(x, Some(62), 1, 9)), "SIGKILL");
        assert_eq!(t(syscall_arg(x, Some(62), 1, 0x15)), "SIGTTIN");
        assert_eq!(t(syscall_arg(x, Some(62), 1, 0x64)), "unknown-signal(0x64)");
        assert_eq!(t(syscall_arg(0x4000_0003, Some(257), 2, 1)), "0x1");
        assert_eq!(syscall_arg(x, Some(105), 0, 0xfffe), ArgText::Uid(65534));
        assert_eq!(syscall_arg(x, Some(260), 3, 5), ArgText::Gid(5));
        assert_eq!(cap_set(0), "none");
        assert_eq!(cap_set(0x21), "chown,kill");
    }
}
