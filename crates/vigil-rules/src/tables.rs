//! The audit lookup tables: syscalls per arch, io_uring opcodes, rule fields, errno names,
//! machine (`AUDIT_ARCH_*`) values, record type names, file types, filesystem types, permission
//! bits and field comparisons.
//!
//! One table, used everywhere: the rule parser and printer, the compiler, the BPF map builder,
//! the log formatter and `--help` all read these functions. The data lives in
//! `crates/vigil-rules/tables/*.tsv` (facts from the kernel headers and Debian's auditd 3.0.9,
//! whose naming auditctl uses) and is turned into Rust by `build.rs`.
//!
//! `arch` arguments are `AUDIT_ARCH_*` values as the kernel reports them in `arch=` (for example
//! [`AUDIT_ARCH_X86_64`]), not machine names.

use crate::ast::{Field, FilterList, Op};

/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_ARM`.
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// `__AUDIT_ARCH_64BIT`: set in every 64-bit `AUDIT_ARCH_*` value.
pub const AUDIT_ARCH_64BIT: u32 = 0x8000_0000;

/// Syscall numbers at and above this value are the kernel's syscall-class bits, not syscalls
/// (`AUDIT_BITMASK_SIZE * 32 - AUDIT_SYSCALL_CLASSES`).
pub const SYSCALL_CLASS_FIRST: u32 = 2048 - 16;
/// Size of the kernel's syscall bitmap (`AUDIT_BITMASK_SIZE * 32`).
pub const SYSCALL_BITS: u32 = 2048;

/// One arch's syscall table.
#[derive(Debug)]
pub struct SyscallTable {
    /// Table name (`x86_64`, `i386`, `aarch64`, `arm`, `ppc`, `s390`, `s390x`).
    pub name: &'static str,
    by_nr: &'static [(u32, &'static str)],
    by_name: &'static [(&'static str, u32)],
}

impl SyscallTable {
    /// Name of syscall `nr`, as auditctl spells it.
    pub fn name_of(&self, nr: u32) -> Option<&'static str> {
        self.by_nr
            .binary_search_by_key(&nr, |(n, _)| *n)
            .ok()
            .map(|i| self.by_nr[i].1)
    }

    /// Number of the syscall called `name` (case-insensitive, as auditctl).
    pub fn number_of(&self, name: &str) -> Option<u32> {
        let lower = name.to_ascii_lowercase();
        self.by_name
            .binary_search_by_key(&lower.as_str(), |(s, _)| s)
            .ok()
            .map(|i| self.by_name[i].1)
    }

    /// Every `(number, name)`, by number.
    pub fn entries(&self) -> &'static [(u32, &'static str)] {
        self.by_nr
    }
}

/// What kind of value a field takes, which decides how `-F name=VALUE` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Decimal/hex/octal number (must start with a digit).
    Num,
    /// User: number, `-N`, `unset`, or a user name looked up on this host.
    Uid,
    /// Group: number or a group name looked up on this host.
    Gid,
    /// Unsigned inode number.
    Inode,
    /// `b32`, `b64`, a machine name or an `AUDIT_ARCH_*` number.
    Arch,
    /// Record type name or number.
    MsgType,
    /// An LSM label string (`subj_*`, `obj_*`).
    Lsm,
    /// Session id: number or `unset`.
    SessionId,
    /// Filesystem magic or name.
    FsType,
    /// Syscall return: number or errno name (`-EPERM`).
    Exit,
    /// A watched file (`path=`).
    Path,
    /// A watched subtree (`dir=`).
    Dir,
    /// Permission letters `rwxa`.
    Perm,
    /// File type name (`file`, `dir`, ...).
    FileType,
    /// Executable path.
    Exe,
    /// Socket address family number.
    SaddrFam,
    /// Syscall argument (number, may be negative).
    Arg,
    /// Rule key.
    Key,
    /// vigil: audit container id (u64).
    ContId,
}

/// Operators a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpSet {
    /// Every operator, bit tests included.
    All,
    /// `= != < > <= >=`.
    NoBit,
    /// `=` and `!=`.
    Eq,
    /// Only `=`.
    Assign,
}

impl OpSet {
    /// Whether `op` is in the set.
    pub fn allows(self, op: Op) -> bool {
        match self {
            OpSet::All => true,
            OpSet::NoBit => !op.is_bit_test(),
            OpSet::Eq => matches!(op, Op::Eq | Op::Ne),
            OpSet::Assign => op == Op::Eq,
        }
    }

    /// The operators, as auditctl writes them.
    pub fn symbols(self) -> &'static str {
        match self {
            OpSet::All => "= != < > <= >= & &=",
            OpSet::NoBit => "= != < > <= >=",
            OpSet::Eq => "= !=",
            OpSet::Assign => "=",
        }
    }
}

/// One row of the field table.
#[derive(Debug)]
pub struct FieldInfo {
    /// Name in rules (`auid`, `loginuid`, `a0`, ...).
    pub name: &'static str,
    /// The kernel's `AUDIT_*` field number (vigil extensions use numbers >= 1000).
    pub kernel: u32,
    /// The AST field.
    pub field: Field,
    /// How the value is read.
    pub kind: ValueKind,
    lists: u32,
    /// Operators the field accepts.
    pub ops: OpSet,
}

impl FieldInfo {
    /// Whether rules on `list` may use this field.
    pub fn allowed_on(&self, list: FilterList) -> bool {
        self.lists & (1 << list.kernel_number()) != 0
    }

    /// Lists that accept the field, by name.
    pub fn allowed_lists(&self) -> Vec<&'static str> {
        ALL_LISTS
            .iter()
            .filter(|l| self.allowed_on(**l))
            .map(|l| list_name(*l))
            .collect()
    }

    /// Whether the field is a vigil extension the kernel does not know.
    pub fn is_vigil_extension(&self) -> bool {
        self.kernel >= 1000
    }
}

/// The generated tables (`build.rs` output).
#[allow(clippy::unreadable_literal)]
mod generated {
    use super::{Field, FieldInfo, OpSet, SyscallTable, ValueKind};
    include!(concat!(env!("OUT_DIR"), "/tables_gen.rs"));
}
pub use generated::fno;
use generated::{
    field_row, COMPARES, ERRNO_BY_NAME, ERRNO_BY_NR, FIELDS, FILETYPES, FSTYPES, MACHINES,
    MSGTYPE_BY_NAME, MSGTYPE_BY_NR, MSGTYPE_VIGIL_ONLY, PERMS, SYSCALL_TABLES, URING_OPS,
};

/// Every filter list, in the kernel's order.
pub const ALL_LISTS: [FilterList; 6] = [
    FilterList::User,
    FilterList::Task,
    FilterList::Exit,
    FilterList::Exclude,
    FilterList::Filesystem,
    FilterList::IoUring,
];

/// The list's name in rules (`-a always,exit`).
pub fn list_name(list: FilterList) -> &'static str {
    match list {
        FilterList::User => "user",
        FilterList::Task => "task",
        FilterList::Exit => "exit",
        FilterList::Exclude => "exclude",
        FilterList::Filesystem => "filesystem",
        FilterList::IoUring => "io_uring",
    }
}

/// The list called `name` (case-sensitive, as auditctl).
pub fn list_from_name(name: &str) -> Option<FilterList> {
    ALL_LISTS.iter().copied().find(|l| list_name(*l) == name)
}

/// The syscall table called `name` (`x86_64`, `i386`, ...).
pub fn syscall_table(name: &str) -> Option<&'static SyscallTable> {
    SYSCALL_TABLES.iter().find(|t| t.name == name)
}

/// The syscall table for an `AUDIT_ARCH_*` value, if vigil has one.
pub fn syscall_table_for_arch(arch: u32) -> Option<&'static SyscallTable> {
    MACHINES
        .iter()
        .find(|(_, a, _)| *a == arch)
        .and_then(|(_, _, t)| syscall_table(t))
}

/// Name of syscall `nr` on `arch` (an `AUDIT_ARCH_*` value), as auditctl/ausearch spell it.
pub fn syscall_name(arch: u32, nr: u32) -> Option<&'static str> {
    syscall_table_for_arch(arch)?.name_of(nr)
}

/// Number of syscall `name` on `arch` (case-insensitive).
pub fn syscall_number(arch: u32, name: &str) -> Option<u32> {
    syscall_table_for_arch(arch)?.number_of(name)
}

/// Name of io_uring opcode `nr` (`openat`, `connect`, ...).
pub fn uring_op_name(nr: u32) -> Option<&'static str> {
    URING_OPS.get(nr as usize).map(|(n, _)| *n)
}

/// Number of io_uring opcode `name` (case-insensitive; `IORING_OP_` prefix allowed).
pub fn uring_op_number(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("ioring_op_").unwrap_or(&lower);
    URING_OPS
        .iter()
        .position(|(n, _)| *n == bare)
        .map(|i| i as u32)
}

/// Whether the kernel marks opcode `nr` `audit_skip` (its own audit never sees it).
/// Unknown opcodes return `false`.
pub fn uring_op_audit_skip(nr: u32) -> bool {
    URING_OPS.get(nr as usize).is_some_and(|(_, s)| *s)
}

/// Number of io_uring opcodes vigil knows (`0..uring_op_count()`).
pub fn uring_op_count() -> u32 {
    URING_OPS.len() as u32
}

/// Name of errno `nr` (`EPERM` for 1).
pub fn errno_name(nr: u32) -> Option<&'static str> {
    ERRNO_BY_NR
        .binary_search_by_key(&nr, |(n, _)| *n)
        .ok()
        .map(|i| ERRNO_BY_NR[i].1)
}

/// Number of errno `name` (case-insensitive, without sign: `EACCES` -> 13).
pub fn errno_number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    ERRNO_BY_NAME
        .binary_search_by_key(&upper.as_str(), |(s, _)| s)
        .ok()
        .map(|i| ERRNO_BY_NAME[i].1)
}

/// Name of record type `nr` (`SYSCALL` for 1300), including types only vigil writes.
pub fn msgtype_name(nr: u32) -> Option<&'static str> {
    MSGTYPE_BY_NR
        .binary_search_by_key(&nr, |(n, _)| *n)
        .ok()
        .map(|i| MSGTYPE_BY_NR[i].1)
}

/// Name of record type `nr` only if auditctl 3.0.9 knows it (what `auditctl -l` prints).
pub fn msgtype_name_auditctl(nr: u32) -> Option<&'static str> {
    if MSGTYPE_VIGIL_ONLY.contains(&nr) {
        None
    } else {
        msgtype_name(nr)
    }
}

/// Number of record type `name` (case-insensitive).
pub fn msgtype_number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    MSGTYPE_BY_NAME
        .binary_search_by_key(&upper.as_str(), |(s, _)| s)
        .ok()
        .map(|i| MSGTYPE_BY_NAME[i].1)
}

/// `AUDIT_ARCH_*` value of a machine name (`x86_64`, `i686`, `aarch64`; case-insensitive).
/// `b32`/`b64` are not machine names: see [`arch_for_bits`].
pub fn arch_from_machine(name: &str) -> Option<u32> {
    MACHINES
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, a, _)| *a)
}

/// Canonical machine name of an `AUDIT_ARCH_*` value (`x86_64` for `0xc000003e`).
pub fn machine_name(arch: u32) -> Option<&'static str> {
    // The first name listed for a value is the one auditctl prints (i386, ppc64, armeb, ...).
    MACHINES
        .iter()
        .find(|(_, a, _)| *a == arch)
        .map(|(n, _, _)| *n)
}

/// Whether vigil knows `arch` as a machine (`audit_elf_to_machine` succeeds in auditctl).
pub fn arch_is_known(arch: u32) -> bool {
    MACHINES.iter().any(|(_, a, _)| *a == arch)
}

/// The `AUDIT_ARCH_*` value of the machine vigil was built for.
pub fn native_arch() -> u32 {
    arch_from_machine(std::env::consts::ARCH).unwrap_or(AUDIT_ARCH_X86_64)
}

/// `b64` or `b32` resolved against `native` (an `AUDIT_ARCH_*`), as auditctl does: on x86_64
/// `b32` is i386; on aarch64 it is arm. `None` when the machine has no such bit width.
pub fn arch_for_bits(native: u32, bits64: bool) -> Option<u32> {
    match (native, bits64) {
        (a, true) if a & AUDIT_ARCH_64BIT != 0 => Some(a),
        (AUDIT_ARCH_X86_64 | AUDIT_ARCH_I386, false) => Some(AUDIT_ARCH_I386),
        (AUDIT_ARCH_AARCH64 | AUDIT_ARCH_ARM, false) => Some(AUDIT_ARCH_ARM),
        (0x8000_0015 | 0x0000_0014, false) => Some(0x0000_0014),
        (0x8000_0016 | 0x0000_0016, false) => Some(0x0000_0016),
        (a, false) if a & AUDIT_ARCH_64BIT == 0 => Some(a),
        _ => None,
    }
}

/// Name of a file type (`st_mode & S_IFMT`): `file`, `dir`, ...
pub fn filetype_name(mode: u32) -> Option<&'static str> {
    FILETYPES.iter().find(|(m, _)| *m == mode).map(|(_, n)| *n)
}

/// `S_IF*` bits of file type `name` (case-insensitive).
pub fn filetype_value(name: &str) -> Option<u32> {
    FILETYPES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(m, _)| *m)
}

/// Name of a filesystem magic (`tracefs`), including names newer than auditctl 3.0.9.
pub fn fstype_name(magic: u32) -> Option<&'static str> {
    FSTYPES
        .iter()
        .find(|(m, _, _)| *m == magic)
        .map(|(_, n, _)| *n)
}

/// Filesystem name only if auditctl 3.0.9 knows it (what `auditctl -l` prints).
pub fn fstype_name_auditctl(magic: u32) -> Option<&'static str> {
    FSTYPES
        .iter()
        .find(|(m, _, a)| *m == magic && *a)
        .map(|(_, n, _)| *n)
}

/// Magic of filesystem `name` (case-insensitive).
pub fn fstype_value(name: &str) -> Option<u32> {
    FSTYPES
        .iter()
        .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
        .map(|(m, _, _)| *m)
}

/// `AUDIT_PERM_*` bits of permission letters (`"wa"` -> 10; case-insensitive).
/// `None` if a letter is not one of `rwxa`.
pub fn perm_bits(letters: &str) -> Option<u32> {
    letters.chars().try_fold(0, |acc, c| {
        PERMS
            .iter()
            .find(|(l, _)| *l == c.to_ascii_lowercase())
            .map(|(_, b)| acc | b)
    })
}

/// Permission letters for `AUDIT_PERM_*` bits, in auditctl's order (`rwxa`).
pub fn perm_string(bits: u32) -> String {
    PERMS
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(l, _)| *l)
        .collect()
}

/// Every field row, in table order.
pub fn fields() -> &'static [FieldInfo] {
    FIELDS
}

/// The field called `name` in rules (case-insensitive).
pub fn field_by_name(name: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// The canonical row of an AST field (the name auditctl prints).
///
/// # Panics
/// For `Field::Arg(n)` with `n > 3`, which no parser produces (every other field has a row,
/// as a test checks).
pub fn field_info(field: Field) -> &'static FieldInfo {
    let row = field_row(field).expect("every ast::Field but a4.. has a row in tables/fields.tsv");
    &FIELDS[row]
}

/// The field with kernel number `nr`.
pub fn field_by_kernel(nr: u32) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.kernel == nr)
}

/// `AUDIT_COMPARE_*` value for `-C left=right` (either order), or `None` if the kernel cannot
/// compare those two fields.
pub fn compare_id(left: Field, right: Field) -> Option<u32> {
    let (l, r) = (field_info(left).name, field_info(right).name);
    COMPARES
        .iter()
        .find(|(_, a, b)| (*a == l && *b == r) || (*a == r && *b == l))
        .map(|(id, _, _)| *id)
}

/// The two field names of `AUDIT_COMPARE_*` value `id`, in the order `auditctl -l` prints them.
pub fn compare_names(id: u32) -> Option<(&'static str, &'static str)> {
    COMPARES
        .iter()
        .find(|(i, _, _)| *i == id)
        .map(|(_, a, b)| (*a, *b))
}

impl Field {
    /// The name auditctl prints for this field (`auid`, `a0`, `key`, ...).
    pub fn name(self) -> &'static str {
        field_info(self).name
    }

    /// The kernel's `AUDIT_*` number (vigil extensions: >= 1000).
    pub fn kernel_number(self) -> u32 {
        field_info(self).kernel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscalls_by_arch() {
        assert_eq!(syscall_name(AUDIT_ARCH_X86_64, 59), Some("execve"));
        assert_eq!(syscall_name(AUDIT_ARCH_I386, 11), Some("execve"));
        assert_eq!(syscall_name(AUDIT_ARCH_AARCH64, 221), Some("execve"));
        assert_eq!(syscall_number(AUDIT_ARCH_X86_64, "OpenAt"), Some(257));
        assert_eq!(syscall_number(AUDIT_ARCH_I386, "open"), Some(5));
        assert_eq!(syscall_number(AUDIT_ARCH_X86_64, "mseal"), Some(462));
        assert_eq!(syscall_number(AUDIT_ARCH_X86_64, "nonsense"), None);
        assert_eq!(syscall_name(0x1234, 1), None);
    }

    #[test]
    fn every_table_round_trips() {
        for t in SYSCALL_TABLES {
            for (nr, name) in t.entries() {
                assert_eq!(t.number_of(name), Some(*nr), "{} {name}", t.name);
            }
        }
    }

    #[test]
    fn uring_ops_match_reference() {
        assert_eq!(uring_op_name(18), Some("openat"));
        assert_eq!(uring_op_number("IORING_OP_CONNECT"), Some(16));
        assert!(uring_op_audit_skip(22));
        assert!(!uring_op_audit_skip(18));
        assert_eq!(uring_op_count(), 64);
    }

    #[test]
    fn small_tables() {
        assert_eq!(errno_name(13), Some("EACCES"));
        assert_eq!(errno_number("eperm"), Some(1));
        assert_eq!(msgtype_name(1300), Some("SYSCALL"));
        assert_eq!(msgtype_number("user_login"), Some(1112));
        assert_eq!(msgtype_name(1020), Some("CONTAINER_OP"));
        assert_eq!(msgtype_name_auditctl(1020), None);
        assert_eq!(arch_from_machine("I686"), Some(AUDIT_ARCH_I386));
        assert_eq!(
            arch_for_bits(AUDIT_ARCH_X86_64, false),
            Some(AUDIT_ARCH_I386)
        );
        assert_eq!(arch_for_bits(AUDIT_ARCH_I386, true), None);
        assert_eq!(filetype_value("FILE"), Some(0o100_000));
        assert_eq!(fstype_value("tracefs"), Some(0x7472_6163));
        assert_eq!(perm_bits("wa"), Some(10));
        assert_eq!(perm_bits("wz"), None);
        assert_eq!(perm_string(15), "rwxa");
        assert_eq!(compare_id(Field::Euid, Field::Uid), Some(11));
        assert_eq!(compare_names(11), Some(("uid", "euid")));
        assert_eq!(compare_id(Field::Uid, Field::Gid), None);
    }

    #[test]
    fn every_ast_field_has_a_row() {
        for f in FIELDS {
            assert_eq!(field_info(f.field).kernel, f.kernel);
        }
        assert_eq!(Field::Auid.name(), "auid");
        assert_eq!(
            field_by_name("LOGINUID").map(|f| f.field),
            Some(Field::Auid)
        );
        assert_eq!(Field::Arg(2).kernel_number(), 202);
        // The AST's idea of text and LSM fields agrees with the table's value kinds.
        for f in FIELDS {
            let lsm = f.kind == ValueKind::Lsm;
            let text = lsm || matches!(f.kind, ValueKind::Path | ValueKind::Dir | ValueKind::Exe);
            assert_eq!(f.field.is_lsm(), lsm, "{}", f.name);
            assert_eq!(f.field.takes_text(), text, "{}", f.name);
        }
        assert!(field_info(Field::ContId).is_vigil_extension());
    }
}
