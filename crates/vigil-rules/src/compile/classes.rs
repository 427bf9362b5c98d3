//! The syscall classes behind `perm=` (the kernel's `audit_match_perm`), read from the data
//! table `perm_classes.tsv` and resolved through the shared syscall tables.
//!
//! Modelled for an x86-64 kernel: events with arch i386 use the ia32 (compat) classes, every
//! other arch the native ones (`audit_classify_syscall` only special-cases i386).

use std::sync::OnceLock;

use super::layout::SyscallMask;
use crate::tables::{self, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

/// `AUDIT_PERM_EXEC`.
pub const PERM_EXEC: u32 = 1;
/// `AUDIT_PERM_WRITE`.
pub const PERM_WRITE: u32 = 2;
/// `AUDIT_PERM_READ`.
pub const PERM_READ: u32 = 4;
/// `AUDIT_PERM_ATTR`.
pub const PERM_ATTR: u32 = 8;

/// `SYS_BIND`, the socketcall(2) call number `perm=w` matches.
const SYS_BIND: u64 = 2;

const DATA: &str = include_str!("perm_classes.tsv");

/// The classes of one syscall table.
#[derive(Debug, Default)]
struct Classes {
    write: SyscallMask,
    read: SyscallMask,
    attr: SyscallMask,
    open: SyscallMask,
    openat: SyscallMask,
    openat2: SyscallMask,
    execve: SyscallMask,
    socketcall: SyscallMask,
}

struct AllClasses {
    native: Classes,
    compat: Classes,
}

fn classes() -> &'static AllClasses {
    static CELL: OnceLock<AllClasses> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut all = AllClasses {
            native: Classes::default(),
            compat: Classes::default(),
        };
        for line in DATA.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(class), Some(table), Some(names)) = (cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            let (arch, dst) = match table {
                "x86_64" => (AUDIT_ARCH_X86_64, &mut all.native),
                "i386" => (AUDIT_ARCH_I386, &mut all.compat),
                _ => continue,
            };
            let set = match class {
                "write" => &mut dst.write,
                "read" => &mut dst.read,
                "attr" => &mut dst.attr,
                "open" => &mut dst.open,
                "openat" => &mut dst.openat,
                "openat2" => &mut dst.openat2,
                "execve" => &mut dst.execve,
                "socketcall" => &mut dst.socketcall,
                _ => continue,
            };
            // An unknown name is caught by the unit test below; at run time it is skipped.
            for nr in names
                .split_whitespace()
                .filter_map(|n| tables::syscall_number(arch, n))
            {
                set.set(nr);
            }
        }
        all
    })
}

fn for_arch(arch: u32) -> &'static Classes {
    let c = classes();
    if arch == AUDIT_ARCH_I386 {
        &c.compat
    } else {
        &c.native
    }
}

/// The kernel's `ACC_MODE`: the `MAY_READ`/`MAY_WRITE` bits of open flags.
fn acc_mode(flags: u64) -> u32 {
    [4, 2, 6, 6][(flags & 3) as usize]
}

/// Whether `perm` (`AUDIT_PERM_*` bits) matches syscall `nr` on `arch` with these arguments,
/// as the kernel's `audit_match_perm`.
pub fn perm_matches(arch: u32, nr: u32, args: &[u64; 4], openat2_flags: u64, perm: u32) -> bool {
    let c = for_arch(arch);
    if c.open.contains(nr) {
        return perm & acc_mode(args[1]) != 0;
    }
    if c.openat.contains(nr) {
        return perm & acc_mode(args[2]) != 0;
    }
    if c.openat2.contains(nr) {
        return perm & acc_mode(openat2_flags & 0xffff_ffff) != 0;
    }
    if c.execve.contains(nr) {
        return perm & PERM_EXEC != 0;
    }
    if c.socketcall.contains(nr) {
        return perm & PERM_WRITE != 0 && args[0] == SYS_BIND;
    }
    (perm & PERM_WRITE != 0 && c.write.contains(nr))
        || (perm & PERM_READ != 0 && c.read.contains(nr))
        || (perm & PERM_ATTR != 0 && c.attr.contains(nr))
}

/// Every syscall on `arch` for which `perm` can match with some arguments.
pub fn perm_syscalls(arch: u32, perm: u32) -> SyscallMask {
    let c = for_arch(arch);
    let mut m = SyscallMask::EMPTY;
    if perm & PERM_WRITE != 0 {
        m.union(&c.write);
        m.union(&c.socketcall);
    }
    if perm & PERM_READ != 0 {
        m.union(&c.read);
    }
    if perm & PERM_ATTR != 0 {
        m.union(&c.attr);
    }
    if perm & (PERM_READ | PERM_WRITE) != 0 {
        m.union(&c.open);
        m.union(&c.openat);
        m.union(&c.openat2);
    }
    if perm & PERM_EXEC != 0 {
        m.union(&c.execve);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves() {
        for line in DATA
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let arch = if cols[1] == "i386" {
                AUDIT_ARCH_I386
            } else {
                AUDIT_ARCH_X86_64
            };
            for n in cols[2].split_whitespace() {
                assert!(
                    tables::syscall_number(arch, n).is_some(),
                    "{} has no syscall {n}",
                    cols[1]
                );
            }
        }
    }

    #[test]
    fn kernel_examples() {
        let a = [0; 4];
        // chmod (90) is attr, not write; unlink (87) is write; readlink (89) is read.
        assert!(perm_matches(AUDIT_ARCH_X86_64, 90, &a, 0, PERM_ATTR));
        assert!(!perm_matches(AUDIT_ARCH_X86_64, 90, &a, 0, PERM_WRITE));
        assert!(perm_matches(AUDIT_ARCH_X86_64, 87, &a, 0, PERM_WRITE));
        assert!(perm_matches(AUDIT_ARCH_X86_64, 89, &a, 0, PERM_READ));
        // openat(2) with O_WRONLY (a2 = 1) is a write, not a read.
        let wr = [0, 0, 1, 0];
        assert!(perm_matches(AUDIT_ARCH_X86_64, 257, &wr, 0, PERM_WRITE));
        assert!(!perm_matches(AUDIT_ARCH_X86_64, 257, &wr, 0, PERM_READ));
        // execve matches x only; i386 execve is 11.
        assert!(perm_matches(AUDIT_ARCH_X86_64, 59, &a, 0, PERM_EXEC));
        assert!(perm_matches(AUDIT_ARCH_I386, 11, &a, 0, PERM_EXEC));
        // i386 socketcall(SYS_BIND) is a write.
        assert!(perm_matches(
            AUDIT_ARCH_I386,
            102,
            &[2, 0, 0, 0],
            0,
            PERM_WRITE
        ));
        assert!(!perm_matches(
            AUDIT_ARCH_I386,
            102,
            &[3, 0, 0, 0],
            0,
            PERM_WRITE
        ));
        // getpid is in no class.
        assert!(!perm_matches(AUDIT_ARCH_X86_64, 39, &a, 0, 15));
    }

    #[test]
    fn syscall_sets_cover_matches() {
        for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, 0] {
            for perm in 1..16 {
                let set = perm_syscalls(arch, perm);
                for nr in 0..600 {
                    for args in [[0, 0, 0, 0], [2, 1, 1, 0], [0, 2, 2, 0]] {
                        if perm_matches(arch, nr, &args, 1, perm) {
                            assert!(set.contains(nr), "arch {arch:x} perm {perm} nr {nr}");
                        }
                    }
                }
            }
        }
    }
}
