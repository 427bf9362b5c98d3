//! The compiled form: plain, fixed-size data the BPF loader turns into maps.
//!
//! Everything here is `u32`/`u64` fields, arrays and one hash map; nothing points anywhere
//! except by index. See `docs/design/rule-index.md` for how a BPF program walks it.

use std::collections::HashMap;

use super::hash::FastHash;
use crate::ast::Op;

/// Most rule sets (tenants) judged in one pass: one bit each in [`crate::reference::Decision::wanted`].
pub const MAX_RULESETS: usize = 64;
/// Most conditions in one rule (`AUDIT_MAX_FIELDS`).
pub const MAX_FIELDS: usize = 64;
/// Most rules over all rule sets.
pub const MAX_RULES: usize = 1 << 20;
/// Most candidates in one list (syscall list, index bucket, residual).
pub const MAX_LIST_LEN: usize = 1 << 16;
/// Longest string operand (`PATH_MAX`).
pub const MAX_STRING: usize = 4096;
/// Longest key, all `-k` of a rule joined by 0x01 (`AUDIT_MAX_KEY_LEN`).
pub const MAX_KEY_LEN: usize = 256;
/// Bits of a syscall (or io_uring opcode) mask (`AUDIT_BITMASK_SIZE * 32`).
pub const SYSCALL_BITS: usize = 2048;
/// Most arch slots of one table (x86_64, i386, the default slot, plus arches rules name).
pub const MAX_ARCH_SLOTS: usize = 16;
/// "No such entry" in `u32` index fields.
pub const NONE: u32 = u32::MAX;
/// `IndexKey::sel` of entries that hold for every syscall.
pub const SEL_ANY: u32 = u32::MAX;
/// Objects an evaluator considers per event (both evaluators ignore any beyond).
pub const MAX_OBJECTS: usize = 64;

/// A set of syscall numbers (or io_uring opcodes), `0..SYSCALL_BITS`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SyscallMask {
    pub words: [u64; SYSCALL_BITS / 64],
}

impl SyscallMask {
    pub const EMPTY: SyscallMask = SyscallMask {
        words: [0; SYSCALL_BITS / 64],
    };

    /// The numbers below `end`.
    pub fn below(end: u32) -> SyscallMask {
        let end = end.min(SYSCALL_BITS as u32) as usize;
        let mut m = SyscallMask::EMPTY;
        for (i, w) in m.words.iter_mut().enumerate() {
            let lo = i * 64;
            if end >= lo + 64 {
                *w = u64::MAX;
            } else if end > lo {
                *w = (1 << (end - lo)) - 1;
            }
        }
        m
    }

    pub fn set(&mut self, nr: u32) {
        if (nr as usize) < SYSCALL_BITS {
            self.words[nr as usize / 64] |= 1 << (nr % 64);
        }
    }

    pub fn contains(&self, nr: u32) -> bool {
        (nr as usize) < SYSCALL_BITS && self.words[nr as usize / 64] & (1 << (nr % 64)) != 0
    }

    pub fn union(&mut self, other: &SyscallMask) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
    }

    pub fn intersect(&mut self, other: &SyscallMask) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a &= b;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn count(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// Whether every number of `other` is in `self`.
    pub fn is_superset(&self, other: &SyscallMask) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .all(|(a, b)| b & !a == 0)
    }

    /// The numbers in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, w)| {
            let mut w = *w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some(i as u32 * 64 + b)
            })
        })
    }
}

impl std::fmt::Debug for SyscallMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Pseudo field numbers of [`Insn::field`] beside the kernel's `AUDIT_*` numbers.
pub mod pseudo {
    /// Never true: the rule can never match (a field the list cannot evaluate).
    pub const FALSE: u16 = 0xffff;
    /// user/exclude lists: the kernel stops the walk here and audits the message.
    pub const ABORT: u16 = 0xfffe;
    /// `-C left op right`: `Insn::arg` = left kernel field | right kernel field << 16.
    pub const COMPARE: u16 = 111;
}

/// One condition of a rule program.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Kernel `AUDIT_*` field number (vigil extensions >= 1000), or a [`pseudo`] field.
    pub field: u16,
    /// The kernel's internal operator (`Audit_equal` = 0 ... see [`OpCode`]).
    pub op: u8,
    /// [`INSN_STR`], [`INSN_LSM`].
    pub flags: u8,
    /// String id (string fields), the -C field pair, or the argument index.
    pub arg: u32,
    /// Numeric operand (u32 fields use the low 32 bits; contid all 64). `success` holds the
    /// kernel's `AUDITSC_SUCCESS` (1) or `AUDITSC_FAILURE` (2).
    pub value: u64,
}

/// `Insn::arg` is a string id into [`CompiledSet::strings`].
pub const INSN_STR: u8 = 1;
/// An LSM label field: user space only (see the design document).
pub const INSN_LSM: u8 = 2;

/// Operators in the kernel's internal order (`enum audit_op`... `Audit_equal` = 0).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    Eq = 0,
    Ne = 1,
    BitMask = 2,
    BitTest = 3,
    Lt = 4,
    Gt = 5,
    Le = 6,
    Ge = 7,
}

impl OpCode {
    pub fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0 => OpCode::Eq,
            1 => OpCode::Ne,
            2 => OpCode::BitMask,
            3 => OpCode::BitTest,
            4 => OpCode::Lt,
            5 => OpCode::Gt,
            6 => OpCode::Le,
            7 => OpCode::Ge,
            _ => return None,
        })
    }
}

impl From<Op> for OpCode {
    fn from(op: Op) -> OpCode {
        match op {
            Op::Eq => OpCode::Eq,
            Op::Ne => OpCode::Ne,
            Op::BitMask => OpCode::BitMask,
            Op::BitTest => OpCode::BitTest,
            Op::Lt => OpCode::Lt,
            Op::Gt => OpCode::Gt,
            Op::Le => OpCode::Le,
            Op::Ge => OpCode::Ge,
        }
    }
}

impl From<OpCode> for Op {
    fn from(op: OpCode) -> Op {
        match op {
            OpCode::Eq => Op::Eq,
            OpCode::Ne => Op::Ne,
            OpCode::BitMask => Op::BitMask,
            OpCode::BitTest => Op::BitTest,
            OpCode::Lt => Op::Lt,
            OpCode::Gt => Op::Gt,
            OpCode::Le => Op::Le,
            OpCode::Ge => Op::Ge,
        }
    }
}

/// The rule lives in the exit list's inode phase (`path=` / `inode=`; the kernel's inode hash).
pub const RULE_NAME_SCOPED: u32 = 1;
/// A condition can never hold: the rule is in no candidate list.
pub const RULE_NEVER: u32 = 2;
/// The program has an LSM condition (evaluated in user space, see the design document).
pub const RULE_LSM: u32 = 4;
/// user/exclude: the program can stop the kernel's walk ([`pseudo::ABORT`]).
pub const RULE_ABORTS: u32 = 8;

/// One compiled rule. Rule ids (the index into [`CompiledSet::rules`]) follow
/// (rule set, position in the rule set), so id order is first-match order within a list.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleHeader {
    /// Index of the rule set (tenant), `0..MAX_RULESETS`.
    pub ruleset: u32,
    /// Index into that rule set's `RuleSet::rules`.
    pub index: u32,
    /// Kernel list number (`FilterList::kernel_number`).
    pub list: u32,
    /// `AUDIT_NEVER` (0) or `AUDIT_ALWAYS` (2).
    pub action: u32,
    pub insn_off: u32,
    pub insn_len: u32,
    /// Index into [`CompiledSet::masks`]; [`NONE`] = every syscall below 2032 (`-S all`).
    pub mask: u32,
    /// String id of the joined keys, or [`NONE`].
    pub key: u32,
    /// `RULE_*` bits.
    pub flags: u32,
}

/// A run of rule ids in [`CompiledSet::cands`], sorted ascending.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct ListRef {
    pub off: u32,
    pub len: u32,
}

/// The fields an index partitions rules by (bit positions in `Table::index_any/_sel`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexField {
    Pid = 0,
    Ppid,
    Uid,
    Euid,
    Suid,
    Fsuid,
    Sgid,
    Fsgid,
    Auid,
    SessionId,
    Pers,
    ContId,
    /// Looked up once per container id of the task (own and enclosing).
    ContIdTree,
    /// FNV-1a 64 of the executable path.
    Exe,
    /// The return value as `u32`.
    Exit,
    A0,
    A1,
    A2,
    A3,
    MsgType,
    /// FNV-1a 64 of a directory; looked up for every ancestor of every object.
    Dir,
    /// FNV-1a 64 of a watched path; looked up per object (inode phase).
    Path,
    /// Low 32 bits of the inode (as the kernel compares); per object (inode phase).
    Inode,
    /// Filesystem magic; per object (filesystem list).
    FsType,
}

impl IndexField {
    pub const ALL: [IndexField; 24] = [
        IndexField::Pid,
        IndexField::Ppid,
        IndexField::Uid,
        IndexField::Euid,
        IndexField::Suid,
        IndexField::Fsuid,
        IndexField::Sgid,
        IndexField::Fsgid,
        IndexField::Auid,
        IndexField::SessionId,
        IndexField::Pers,
        IndexField::ContId,
        IndexField::ContIdTree,
        IndexField::Exe,
        IndexField::Exit,
        IndexField::A0,
        IndexField::A1,
        IndexField::A2,
        IndexField::A3,
        IndexField::MsgType,
        IndexField::Dir,
        IndexField::Path,
        IndexField::Inode,
        IndexField::FsType,
    ];

    pub fn bit(self) -> u64 {
        1 << (self as u8)
    }
}

/// Key of the one hash map: (table, field, syscall or [`SEL_ANY`], value). 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndexKey {
    pub table: u8,
    pub field: u8,
    pub pad: u16,
    pub sel: u32,
    pub value: u64,
}

/// Which evaluation phase a table serves.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// `task` list (per task; the BPF side caches the result in task storage).
    Task = 0,
    /// `exit` list, rules without `path=`/`inode=` (the kernel's exit list walk).
    Exit = 1,
    /// `exit` list, rules with `path=`/`inode=` (the kernel's inode hash walk, per object).
    Names = 2,
    /// `io_uring` list, per opcode.
    IoUring = 3,
    /// `user` list (user space messages).
    User = 4,
    /// `exclude` list (per record type).
    Exclude = 5,
    /// `filesystem` list: `never` rules with `fstype` hide objects.
    Fs = 6,
}

impl TableKind {
    pub const ALL: [TableKind; 7] = [
        TableKind::Task,
        TableKind::Exit,
        TableKind::Names,
        TableKind::IoUring,
        TableKind::User,
        TableKind::Exclude,
        TableKind::Fs,
    ];
}

/// Per-arch part of a table whose rules are chosen by syscall (exit) or opcode (io_uring).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchSlot {
    /// `AUDIT_ARCH_*` value, or [`NONE`] for the default slot (every other arch).
    pub arch: u32,
    /// Syscalls some rule of the table can match on this arch: the O(1) reject.
    pub bitmap: SyscallMask,
    /// Per syscall: rules chosen by syscall (their `-S` or `perm=` class), `SYSCALL_BITS`
    /// long, or empty when no rule is chosen by syscall on this arch.
    pub lists: Vec<ListRef>,
    /// Rules of every syscall that no index can choose (no `-S`, no `perm=`, no `=` field),
    /// for this arch only (`-F arch=b32 -S all` costs x86_64 events nothing).
    pub residual: ListRef,
}

/// The index of one list (one [`TableKind`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub kind: TableKind,
    /// Rules placed in this table (0: the table costs nothing).
    pub rules: u32,
    /// Exit and io_uring only; the last slot is the default slot.
    pub slots: Vec<ArchSlot>,
    /// [`IndexField`] bits with entries keyed by [`SEL_ANY`].
    pub index_any: u64,
    /// [`IndexField`] bits with entries keyed by syscall number.
    pub index_sel: u64,
    /// Rules no index can choose: evaluated for every event that reaches the table (tables
    /// with arch slots keep theirs per slot instead).
    pub residual: ListRef,
}

/// One rule set's place in the compiled set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RulesetInfo {
    /// First rule id of the rule set (its rules are `first..first+count`).
    pub first: u32,
    pub count: u32,
}

/// The compiled form of several rule sets. Built by [`super::compile`].
#[derive(Clone, Debug)]
pub struct CompiledSet {
    pub rulesets: Vec<RulesetInfo>,
    pub rules: Vec<RuleHeader>,
    pub insns: Vec<Insn>,
    /// Distinct syscall masks referenced by `RuleHeader::mask`.
    pub masks: Vec<SyscallMask>,
    /// Candidate lists, concatenated (see [`ListRef`]).
    pub cands: Vec<u32>,
    /// String operands and keys, by id (paths normalised, keys joined by 0x01).
    pub strings: Vec<Vec<u8>>,
    /// One per [`TableKind`], in `TableKind::ALL` order.
    pub tables: Vec<Table>,
    pub index: HashMap<IndexKey, ListRef, FastHash>,
}

impl CompiledSet {
    pub fn table(&self, kind: TableKind) -> &Table {
        &self.tables[kind as usize]
    }

    pub fn list(&self, r: ListRef) -> &[u32] {
        &self.cands[r.off as usize..(r.off + r.len) as usize]
    }

    pub fn program(&self, rule: &RuleHeader) -> &[Insn] {
        &self.insns[rule.insn_off as usize..(rule.insn_off + rule.insn_len) as usize]
    }
}
