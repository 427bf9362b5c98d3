//! `-S` lists (syscall names or numbers in an arch's table, io_uring opcodes) and `-a`'s
//! `LIST,ACTION`, read as auditctl reads them.

use std::collections::BTreeSet;

use crate::ast::{Action, FilterList};
use crate::cnum::strtol;
use crate::errors::Problem;
use crate::tables;

/// What one `-S` argument names.
#[derive(Debug, Default)]
pub(crate) struct Named {
    /// `all` was among the words.
    pub all: bool,
    pub numbers: BTreeSet<u32>,
}

/// `-S audited` on an io_uring rule.
pub(crate) const AUDITED: &str = "audited";

fn words(text: &str) -> impl Iterator<Item = &str> {
    // strtok: empty words (",,", a trailing comma) are skipped.
    text.split(',').filter(|p| !p.is_empty())
}

fn number(word: &str) -> Option<u32> {
    word.as_bytes()[0]
        .is_ascii_digit()
        .then(|| strtol(word, 0).value)
        .and_then(|n| u32::try_from(n).ok())
}

/// `-S openat,connect,36` on an io_uring rule. vigil's pseudo name `audited` stands for the
/// opcodes the kernel's own io_uring audit sees (those not marked `audit_skip`), as numbers.
pub(crate) fn uring_ops(text: &str) -> Result<Named, Problem> {
    let mut out = Named::default();
    for w in words(text) {
        if w == "all" {
            out.all = true;
            continue;
        }
        if w == AUDITED {
            out.numbers
                .extend((0..tables::uring_op_count()).filter(|n| !tables::uring_op_audit_skip(*n)));
            continue;
        }
        let nr = tables::uring_op_number(w)
            .or_else(|| number(w).filter(|n| *n < tables::uring_op_count()))
            .ok_or_else(|| Problem::UnknownUringOp(w.to_owned()))?;
        out.numbers.insert(nr);
    }
    Ok(out)
}

/// `-S open,openat,59` in the table of `arch` (an `AUDIT_ARCH_*`).
pub(crate) fn syscall_numbers(text: &str, arch: u32) -> Result<Named, Problem> {
    let table = tables::syscall_table_for_arch(arch);
    let mut out = Named::default();
    for w in words(text) {
        if w == "all" {
            out.all = true;
            continue;
        }
        let nr = match (table.and_then(|t| t.number_of(w)), number(w)) {
            (Some(n), _) => n,
            (None, Some(n)) if n < tables::SYSCALL_CLASS_FIRST => n,
            (None, Some(n)) if n < tables::SYSCALL_BITS => return Err(Problem::SyscallClassBit(n)),
            _ => {
                return Err(match table {
                    Some(t) => Problem::UnknownSyscall {
                        name: w.to_owned(),
                        table: t.name,
                    },
                    None => Problem::NoSyscallTable(arch),
                })
            }
        };
        out.numbers.insert(nr);
    }
    Ok(out)
}

/// auditctl's `check_rule_mismatch`: would `text` name other syscalls on the host's 32-bit
/// arch than `current` (the rule's numbers so far, read in the native table)?
pub(crate) fn differs_on_32bit(text: &str, native: u32, current: &BTreeSet<u32>) -> bool {
    let Some(arch32) = tables::arch_for_bits(native, false) else {
        return false;
    };
    if arch32 == native {
        return false;
    }
    let t32 = tables::syscall_table_for_arch(arch32);
    let mask32: BTreeSet<u32> = words(text)
        .filter_map(|w| t32.and_then(|t| t.number_of(w)).or_else(|| number(w)))
        .collect();
    mask32 != *current
}

/// `LIST,ACTION` in either order, as auditctl's `audit_rule_setup` reads it. `Ok(None)` is the
/// deprecated `possible` action, which auditctl skips.
pub(crate) fn list_action(text: &str) -> Result<Option<(FilterList, Action)>, Problem> {
    let bad = || Problem::BadListAction(text.to_owned());
    let Some((a, b)) = text.split_once(',') else {
        return Err(bad());
    };
    if b.contains(',') {
        return Err(bad());
    }
    let action = |s: &str| match s {
        "always" => Some(Some(Action::Always)),
        "never" => Some(Some(Action::Never)),
        "possible" => Some(None),
        _ => None,
    };
    let mut list = None;
    let mut act = None;
    match action(a) {
        Some(Some(x)) => act = Some(x),
        Some(None) => {}
        None => list = Some(tables::list_from_name(a).ok_or_else(bad)?),
    }
    if list.is_none() {
        list = tables::list_from_name(b);
    } else {
        match action(b) {
            Some(Some(x)) => act = Some(x),
            Some(None) => return Ok(None),
            None => return Err(bad()),
        }
    }
    match (list, act) {
        (Some(l), Some(a)) => Ok(Some((l, a))),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

    #[test]
    fn syscall_lists() {
        let n = syscall_numbers("open,,OPENAT,59,", AUDIT_ARCH_X86_64).unwrap();
        assert_eq!(n.numbers, BTreeSet::from([2, 59, 257]));
        assert!(syscall_numbers("all", AUDIT_ARCH_X86_64).unwrap().all);
        assert!(matches!(
            syscall_numbers("0x7f0", AUDIT_ARCH_X86_64),
            Err(Problem::SyscallClassBit(2032))
        ));
        assert!(syscall_numbers("-1", AUDIT_ARCH_X86_64).is_err());
        assert!(syscall_numbers("ALL", AUDIT_ARCH_X86_64).is_err());
        assert_eq!(
            syscall_numbers("open", AUDIT_ARCH_I386).unwrap().numbers,
            BTreeSet::from([5])
        );
        assert!(differs_on_32bit(
            "open",
            AUDIT_ARCH_X86_64,
            &BTreeSet::from([2])
        ));
        assert!(!differs_on_32bit(
            "all",
            AUDIT_ARCH_X86_64,
            &BTreeSet::new()
        ));
    }

    #[test]
    fn uring() {
        assert_eq!(
            uring_ops("openat,16").unwrap().numbers,
            BTreeSet::from([16, 18])
        );
        assert!(uring_ops("open").is_err());
        assert!(uring_ops("64").is_err());
    }

    #[test]
    fn uring_audited_is_the_kernels_set() {
        let n = uring_ops("audited").unwrap();
        assert!(!n.all);
        for op in 0..tables::uring_op_count() {
            assert_eq!(
                n.numbers.contains(&op),
                !tables::uring_op_audit_skip(op),
                "opcode {op}"
            );
        }
        // REFERENCE §3: openat and connect are audited, read and write are not.
        assert!(n.numbers.contains(&18) && n.numbers.contains(&16));
        assert!(!n.numbers.contains(&22) && !n.numbers.contains(&23));
        // Mixed with names.
        let m = uring_ops("read,audited").unwrap();
        assert!(m.numbers.contains(&22) && m.numbers.contains(&18));
        assert!(uring_ops("AUDITED").is_err());
    }

    #[test]
    fn lists_and_actions() {
        assert_eq!(
            list_action("exit,always"),
            Ok(Some((FilterList::Exit, Action::Always)))
        );
        assert_eq!(
            list_action("never,io_uring"),
            Ok(Some((FilterList::IoUring, Action::Never)))
        );
        assert_eq!(list_action("exit,possible"), Ok(None));
        assert!(list_action("possible,exit").is_err());
        assert!(list_action("always,exit,x").is_err());
        assert!(list_action("Always,exit").is_err());
    }
}
