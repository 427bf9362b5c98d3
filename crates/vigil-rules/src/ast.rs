//! The rule model: what a rules file (or a `vigil ctl` command line) means once parsed.
//!
//! Values follow the kernel's `struct audit_rule_data` semantics: every numeric comparison
//! is done on `u32` (the kernel's `audit_comparator` takes `u32`), except vigil's `contid`
//! which is a `u64`. `exit=-EPERM` is stored as the two's-complement `u32` of -1.

use std::collections::BTreeSet;
use std::ops::BitAnd;

/// Where a rule came from, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
    /// 1-based line number.
    pub line: u32,
}

/// Kernel filter lists (`AUDIT_FILTER_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterList {
    User,
    Task,
    Exit,
    Exclude,
    Filesystem,
    IoUring,
}

impl FilterList {
    /// The kernel's number for this list (`AUDIT_FILTER_USER` = 0 ... `AUDIT_FILTER_URING_EXIT` = 7).
    pub fn kernel_number(self) -> u32 {
        match self {
            FilterList::User => 0,
            FilterList::Task => 1,
            FilterList::Exit => 4,
            FilterList::Exclude => 5,
            FilterList::Filesystem => 6,
            FilterList::IoUring => 7,
        }
    }
}

/// `always` or `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Never,
    Always,
}

/// Comparison operators, with the kernel's encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    /// `&`: any of the bits set.
    BitMask,
    /// `&=`: all of the bits set.
    BitTest,
}

impl Op {
    /// `AUDIT_EQUAL` etc. from `linux/audit.h`.
    pub fn kernel_number(self) -> u32 {
        match self {
            Op::BitMask => 0x0800_0000,
            Op::Lt => 0x1000_0000,
            Op::Gt => 0x2000_0000,
            Op::Ne => 0x3000_0000,
            Op::Eq => 0x4000_0000,
            Op::BitTest => 0x4800_0000,
            Op::Le => 0x5000_0000,
            Op::Ge => 0x6000_0000,
        }
    }

    /// Whether `l OP r` holds, as the kernel's `audit_comparator` decides it (`&`: any bit of
    /// `r` is set in `l`; `&=`: all of them are). Generic over the width: the kernel compares
    /// `u32`, vigil's `contid` is `u64`.
    pub fn holds<T>(self, l: T, r: T) -> bool
    where
        T: Copy + Ord + BitAnd<Output = T> + From<u8>,
    {
        match self {
            Op::Eq => l == r,
            Op::Ne => l != r,
            Op::Lt => l < r,
            Op::Gt => l > r,
            Op::Le => l <= r,
            Op::Ge => l >= r,
            Op::BitMask => l & r != T::from(0),
            Op::BitTest => l & r == r,
        }
    }

    /// Whether the operator is a bit test (`&`, `&=`), which uid/gid fields ignore.
    pub fn is_bit_test(self) -> bool {
        matches!(self, Op::BitMask | Op::BitTest)
    }

    /// The operator as auditctl writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::BitMask => "&",
            Op::BitTest => "&=",
        }
    }
}

/// Rule fields (`-F name=...`). Kernel numbers come from the field table (see `tables/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Pid,
    Uid,
    Euid,
    Suid,
    Fsuid,
    Gid,
    Egid,
    Sgid,
    Fsgid,
    /// `auid` / `loginuid`.
    Auid,
    Pers,
    Arch,
    MsgType,
    SubjUser,
    SubjRole,
    SubjType,
    SubjSen,
    SubjClr,
    Ppid,
    ObjUser,
    ObjRole,
    ObjType,
    ObjLevLow,
    ObjLevHigh,
    LoginuidSet,
    SessionId,
    FsType,
    DevMajor,
    DevMinor,
    Inode,
    Exit,
    Success,
    /// `path=` (a watch on one object).
    Path,
    Perm,
    /// `dir=` (a watch on a subtree).
    Dir,
    FileType,
    ObjUid,
    ObjGid,
    Exe,
    SaddrFam,
    /// `a0`..`a3`.
    Arg(u8),
    /// `key=` / `-k`.
    Key,
    /// vigil: audit container id of the task.
    ContId,
    /// vigil: the task's container or any container it is nested in.
    ContIdTree,
}

impl Field {
    /// An LSM label field (`subj_*`, `obj_*`): compared as text, by the LSM.
    pub fn is_lsm(self) -> bool {
        matches!(
            self,
            Field::SubjUser
                | Field::SubjRole
                | Field::SubjType
                | Field::SubjSen
                | Field::SubjClr
                | Field::ObjUser
                | Field::ObjRole
                | Field::ObjType
                | Field::ObjLevLow
                | Field::ObjLevHigh
        )
    }

    /// Whether a condition on the field compares text (paths, executables, LSM labels) rather
    /// than a number. `key` is not a condition: keys are kept in [`Rule::keys`].
    pub fn takes_text(self) -> bool {
        self.is_lsm() || matches!(self, Field::Exe | Field::Path | Field::Dir)
    }
}

/// A field's value as written in the rule, after name resolution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// Numbers, resolved names (users, groups, errno, arch, msgtype, filetype, perm bits).
    Num(u64),
    /// Strings: path, dir, exe, key, subj_*/obj_* labels.
    Str(String),
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `-F field OP value`
    Field { field: Field, op: Op, value: Value },
    /// `-C left OP right` (only `=` and `!=` are valid).
    Compare { left: Field, op: Op, right: Field },
}

/// Which syscalls (or io_uring opcodes) a rule names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Syscalls {
    /// No `-S` on a list that takes one, or `-S all`: every syscall/opcode.
    All,
    /// The numbers named, in the rule's arch (or the io_uring opcode table).
    Set(BTreeSet<u32>),
}

/// One rule as the kernel would hold it (a `-w` watch is an exit rule with path/dir + perm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub list: FilterList,
    pub action: Action,
    pub syscalls: Syscalls,
    /// In the order written (arch included); keys are kept in `keys`, not here.
    pub conditions: Vec<Condition>,
    /// `-k` keys, in order; the kernel joins them with 0x01.
    pub keys: Vec<String>,
    /// Set when the rule was written as `-w`, so it prints back as a watch.
    pub is_watch: bool,
    pub origin: Origin,
}

/// Non-rule settings a rules file can carry (`-e -b -f -r --backlog_wait_time ...`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub enabled: Option<u32>,
    pub backlog_limit: Option<u32>,
    pub failure: Option<u32>,
    pub rate_limit: Option<u32>,
    pub backlog_wait_time: Option<u32>,
    pub loginuid_immutable: bool,
}

/// The state that results from applying a rules file: ordered rules plus settings.
/// Rule order matters: within each list the first matching rule decides.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub settings: Settings,
}

impl RuleSet {
    /// The rules of one list, in evaluation order.
    pub fn list(&self, list: FilterList) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.list == list)
    }
}

#[cfg(test)]
mod tests {
    use super::Op;

    #[test]
    fn operators_compare_as_the_kernel_does() {
        // (op, left, right, holds): ordering is unsigned, `&` wants any bit, `&=` all bits.
        let cases = [
            (Op::Eq, 7u32, 7, true),
            (Op::Ne, 7, 7, false),
            (Op::Lt, 1, u32::MAX, true),
            (Op::Gt, u32::MAX, 1, true),
            (Op::Le, 3, 3, true),
            (Op::Ge, 2, 3, false),
            (Op::BitMask, 0b0110, 0b0011, true),
            (Op::BitMask, 0b0100, 0b0011, false),
            (Op::BitMask, 5, 0, false),
            (Op::BitTest, 0b0111, 0b0011, true),
            (Op::BitTest, 0b0101, 0b0011, false),
            (Op::BitTest, 5, 0, true),
        ];
        for (op, l, r, want) in cases {
            assert_eq!(op.holds(l, r), want, "{l} {} {r}", op.as_str());
            assert_eq!(
                op.holds(u64::from(l) << 32, u64::from(r) << 32),
                want,
                "u64 {l} {} {r}",
                op.as_str()
            );
        }
        assert!(Op::BitMask.is_bit_test() && Op::BitTest.is_bit_test() && !Op::Ge.is_bit_test());
    }
}
