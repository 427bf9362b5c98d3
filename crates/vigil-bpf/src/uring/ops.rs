//! What is captured of each io_uring opcode (the `vigil_uring_opdesc` map): which kernel copy
//! of its arguments at submit, which file at completion. Opcode names and numbers come from
//! vigil-rules' opcode table; the BPF side only knows the classes.

use vigil_abi::{
    UringClass, UringOpdesc, VIGIL_UOPD_F_CWD, VIGIL_UOPD_F_FILE, VIGIL_UOPD_F_NEWFD,
    VIGIL_UOPD_F_PEER, VIGIL_URING_MAX_OPS,
};
use vigil_rules::tables;

const FILE: u32 = VIGIL_UOPD_F_FILE;
const NEWFD: u32 = VIGIL_UOPD_F_NEWFD;
const PEER: u32 = VIGIL_UOPD_F_PEER;
const CWD: u32 = VIGIL_UOPD_F_CWD;

/// `(opcode name, class, flags)`. Opcodes not listed carry nothing besides their identity
/// and result (NOP, TIMEOUT, `POLL_REMOVE`, `ASYNC_CANCEL`, `FUTEX_*`, ...).
pub const CAPTURE: &[(&str, UringClass, u32)] = &[
    ("openat", UringClass::Open, NEWFD | CWD),
    ("openat2", UringClass::Open, NEWFD | CWD),
    ("unlinkat", UringClass::Unlink, CWD),
    ("mkdirat", UringClass::Mkdir, CWD),
    ("statx", UringClass::Statx, CWD),
    ("setxattr", UringClass::Xattr, CWD),
    ("getxattr", UringClass::Xattr, CWD),
    ("renameat", UringClass::Rename, CWD),
    ("symlinkat", UringClass::Link, CWD),
    ("linkat", UringClass::Link, CWD),
    ("connect", UringClass::Sockaddr, FILE),
    ("bind", UringClass::Sockaddr, FILE),
    ("sendmsg", UringClass::Msghdr, FILE),
    ("sendmsg_zc", UringClass::Msghdr, FILE),
    ("send", UringClass::Msghdr, FILE),
    ("send_zc", UringClass::Msghdr, FILE),
    ("accept", UringClass::Accept, FILE | NEWFD | PEER),
    ("socket", UringClass::Socket, NEWFD),
    ("close", UringClass::Close, 0),
    ("fixed_fd_install", UringClass::None, NEWFD),
    ("read", UringClass::None, FILE),
    ("write", UringClass::None, FILE),
    ("readv", UringClass::None, FILE),
    ("writev", UringClass::None, FILE),
    ("read_fixed", UringClass::None, FILE),
    ("write_fixed", UringClass::None, FILE),
    ("readv_fixed", UringClass::None, FILE),
    ("writev_fixed", UringClass::None, FILE),
    ("read_multishot", UringClass::None, FILE),
    ("recv", UringClass::None, FILE),
    ("recvmsg", UringClass::None, FILE),
    ("recv_zc", UringClass::None, FILE),
    ("fsync", UringClass::None, FILE),
    ("sync_file_range", UringClass::None, FILE),
    ("fallocate", UringClass::None, FILE),
    ("fadvise", UringClass::None, FILE),
    ("ftruncate", UringClass::None, FILE),
    ("fsetxattr", UringClass::None, FILE),
    ("fgetxattr", UringClass::None, FILE),
    ("splice", UringClass::None, FILE),
    ("tee", UringClass::None, FILE),
    ("shutdown", UringClass::None, FILE),
    ("listen", UringClass::None, FILE),
    ("epoll_ctl", UringClass::None, FILE),
    ("epoll_wait", UringClass::None, FILE),
    ("poll_add", UringClass::None, FILE),
    ("uring_cmd", UringClass::None, FILE),
];

/// The descriptor of `opcode` (all zero when nothing is captured).
pub fn desc(opcode: u32) -> UringOpdesc {
    let name = tables::uring_op_name(opcode).unwrap_or("");
    CAPTURE.iter().find(|(n, ..)| *n == name).map_or_else(
        UringOpdesc::default,
        |(_, class, flags)| UringOpdesc {
            class: *class as u8,
            flags: u8::try_from(*flags).unwrap_or(0),
            pad0: 0,
        },
    )
}

/// Every opcode's descriptor, index = opcode.
pub fn table() -> Vec<UringOpdesc> {
    (0..VIGIL_URING_MAX_OPS).map(desc).collect()
}

/// Whether the op's PATH item `index` names an object it removes or creates (the kernel's
/// nametype): DELETE for UNLINKAT and RENAMEAT's source, CREATE for MKDIRAT, the targets of
/// RENAMEAT, LINKAT and SYMLINKAT.
pub fn nametype(opcode: u32, index: u8) -> vigil_format::raw::NameType {
    use vigil_format::raw::NameType;
    match (tables::uring_op_name(opcode).unwrap_or(""), index) {
        ("unlinkat" | "renameat", 0) => NameType::Delete,
        ("renameat" | "linkat" | "symlinkat", 1) | ("mkdirat", 0) => NameType::Create,
        _ => NameType::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_an_opcode_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (name, ..) in CAPTURE {
            let nr = tables::uring_op_number(name).unwrap_or_else(|| panic!("{name}"));
            assert!(nr < VIGIL_URING_MAX_OPS, "{name}");
            assert!(seen.insert(nr), "{name} twice");
        }
    }

    #[test]
    fn descriptors() {
        let t = table();
        assert_eq!(t.len(), 64);
        let openat = &t[18];
        assert_eq!(openat.class, UringClass::Open as u8);
        assert_eq!(u32::from(openat.flags), NEWFD | CWD);
        assert_eq!(t[16].class, UringClass::Sockaddr as u8);
        assert_eq!(u32::from(t[22].flags), FILE);
        assert_eq!(t[0], UringOpdesc::default());
        // RENAMEAT: both names, the first deleted, the second created.
        assert_eq!(t[35].class, UringClass::Rename as u8);
        assert_eq!(nametype(35, 0), vigil_format::raw::NameType::Delete);
        assert_eq!(nametype(35, 1), vigil_format::raw::NameType::Create);
        assert_eq!(nametype(18, 0), vigil_format::raw::NameType::Normal);
    }
}
