//! Diagnostics: every error and warning names the file, line, column and offending token, and
//! says what was expected.

use std::fmt;

/// Where a diagnostic points. Columns are 1-based byte offsets into the line as written
/// (for a command line: into the arguments joined by single spaces); 0 means the whole line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column == 0 {
            write!(f, "{}:{}", self.file, self.line)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// Error: the line is rejected (as auditctl or the kernel would). Warning: accepted, but
/// probably not what was meant, or true only on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// What is wrong. The text says what was found and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    // --- command line shape ---
    #[error("unknown option \"{0}\" (expected one of: -a -A -d -D -w -W -S -F -C -k -p -e -f -b -r -i -c --backlog_wait_time --loginuid-immutable)")]
    UnknownOption(String),
    #[error("option {0} needs an argument")]
    MissingArgument(String),
    #[error("\"{0}\" is neither an option nor an option's argument (auditctl: parameter passed without an option given); note that only spaces separate words and \"#\" starts a comment only at the start of a line")]
    StrayArgument(String),
    #[error("line has no option: \"{0}\" is not one (expected a line starting with -a, -w, -D, -e, ...; only spaces separate words)")]
    NoOption(String),
    #[error("line longer than {0} bytes; auditctl would split it into two lines")]
    LineTooLong(usize),
    #[error("nested rules files (-R) are not supported in a rules file")]
    NestedRulesFile,
    #[error("cannot read rules: {0}")]
    Io(String),

    // --- -a/-A/-d ---
    #[error("bad list,action \"{0}\" (expected LIST,ACTION or ACTION,LIST with LIST one of user, task, exit, exclude, filesystem, io_uring and ACTION always or never)")]
    BadListAction(String),
    #[error("action \"possible\" is deprecated and ignored (expected always or never)")]
    PossibleDeprecated,
    #[error("only one rule operation (-a, -A, -d, -w, -W) per line")]
    MultipleRuleOps,
    #[error("-w/-W cannot be combined with -a/-A/-d on one line (a watch is its own rule)")]
    WatchWithRule,

    // --- -S ---
    #[error("syscalls (-S) cannot be used on the {0} list (only exit and io_uring rules take -S)")]
    SyscallsOnList(&'static str),
    #[error("-S given without a list (expected -a/-A/-d LIST,ACTION on the same line)")]
    SyscallWithoutList,
    #[error("unknown syscall \"{name}\" for {table} (expected a syscall name, a number below 2032, or all)")]
    UnknownSyscall { name: String, table: &'static str },
    #[error(
        "syscall number {0} is one of the kernel's syscall-class bits (2032-2047), not a syscall"
    )]
    SyscallClassBit(u32),
    #[error("no syscall table for arch {0:#x}: give syscalls as numbers")]
    NoSyscallTable(u32),
    #[error("unknown io_uring operation \"{0}\" (expected an opcode name such as openat, connect, or a number below 64, all, or audited (the opcodes kernel audit sees))")]
    UnknownUringOp(String),

    // --- -F ---
    #[error("fields (-F) need the list first: put -a/-A/-d LIST,ACTION before {0}")]
    ListBeforeField(&'static str),
    #[error(
        "\"{0}\" has no operator (expected FIELD OP VALUE with OP one of = != < > <= >= & &=)"
    )]
    MissingOperator(String),
    #[error("\"{0}\" has no field name before the operator")]
    MissingFieldName(String),
    #[error("\"{0}\" has no value after the operator")]
    MissingValue(String),
    #[error("unknown field \"{name}\" (expected one of: {expected})")]
    UnknownField { name: String, expected: String },
    #[error("field {field} cannot be used on the {list} list (it is allowed on: {allowed})")]
    FieldNotOnList {
        field: &'static str,
        list: &'static str,
        allowed: String,
    },
    #[error("operator {op} cannot be used with field {field} (expected one of: {allowed})")]
    OperatorNotAllowed {
        field: &'static str,
        op: &'static str,
        allowed: &'static str,
    },
    #[error("value \"{value}\" of {field} should be a number")]
    NotANumber { field: &'static str, value: String },
    #[error("unknown user \"{0}\" on this host (expected a user name from the passwd database, a number, or unset)")]
    UnknownUser(String),
    #[error("unknown group \"{0}\" on this host (expected a group name from the group database or a number)")]
    UnknownGroup(String),
    #[error("unknown errno \"{0}\" (expected a number or an errno name such as -EPERM, -EACCES)")]
    UnknownErrno(String),
    #[error("unknown record type \"{0}\" (expected a number or a name such as SYSCALL, USER_LOGIN, CWD)")]
    UnknownMsgType(String),
    #[error("unknown file type \"{0}\" (expected one of: file, dir, socket, link, character, block, fifo)")]
    UnknownFileType(String),
    #[error("unknown filesystem type \"{0}\" (expected a number or one of: tracefs, debugfs)")]
    UnknownFsType(String),
    #[error("unknown arch \"{0}\" (expected b64, b32, a machine name such as x86_64, i686, aarch64, or an AUDIT_ARCH number)")]
    UnknownArch(String),
    #[error("arch {0} is not available on this machine")]
    ArchBits(String),
    #[error("arch must come before -S (the syscall names are looked up in the arch's table)")]
    ArchAfterSyscall,
    #[error("io_uring rules take no arch field (opcodes are the same on every arch)")]
    ArchOnUring,
    #[error("bad permission \"{0}\" (expected up to 4 of the letters r, w, x, a)")]
    BadPerm(String),
    #[error("{field} value is {len} bytes long (at most {max})")]
    StringTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field}={value} is rejected by the kernel: {reason}")]
    InvalidValue {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("a key needs a syscall (-S), watch (-w, path=, dir=, perm=), exe= or fstype= given before it")]
    KeyNeedsRule,
    #[error("keys of one rule are {0} bytes long together (at most 256)")]
    KeyTooLong(usize),
    #[error("too many fields in rule (at most 63, the key included)")]
    TooManyFields,
    #[error("{0}")]
    KernelRejects(&'static str),

    // --- -w / -p ---
    #[error("watch path \"{path}\" {reason}")]
    WatchPath { path: String, reason: &'static str },
    #[error("-p needs a watch or rule given before it")]
    PermWithoutRule,
    #[error("{0} on this host, so the kernel would reject the rule")]
    PathMissing(String),

    // --- -C ---
    #[error("\"{0}\" is not a comparison (expected FIELD=FIELD or FIELD!=FIELD)")]
    CompareSyntax(String),
    #[error("unknown field \"{0}\" in -C")]
    CompareUnknownField(String),
    #[error("the kernel cannot compare {0} with {1} (expected a uid field with a uid field or a gid field with a gid field, for example auid!=obj_uid)")]
    CompareIncompatible(&'static str, &'static str),
    #[error("-C can only be used on the exit and io_uring lists")]
    CompareNotOnList,

    // --- settings ---
    #[error("{option} must be {expected}, not \"{value}\"")]
    BadSetting {
        option: &'static str,
        value: String,
        expected: &'static str,
    },

    // --- applying to the rule set ---
    #[error("rule exists: the same rule was added at {0} (the kernel refuses duplicates)")]
    RuleExists(String),
    #[error("no rule matches (nothing to delete)")]
    NoRuleMatches,
    #[error("the audit configuration was made immutable (-e 2) at {0}; no changes are allowed until reboot")]
    Immutable(String),

    // --- warnings ---
    #[error("option {0} does nothing in a rules file; ignored")]
    IgnoredOption(String),
    #[error("32/64 bit syscall mismatch: {0} has different numbers on the 32-bit arch; you should specify -F arch=b64 or -F arch=b32")]
    ArchMismatch(String),
    #[error("watch path \"{0}\" uses {1}, which the kernel does not interpret")]
    WatchPathNotation(String, &'static str),
    #[error(
        "value \"{value}\" of {field} is read as {read} (auditctl ignores what follows the number)"
    )]
    NumberTrailing {
        field: &'static str,
        value: String,
        read: String,
    },
    #[error(
        "duplicate of the rule at {0}: the kernel accepts duplicates added with -A, and lists both"
    )]
    DuplicatePrepend(String),
    #[error("key \"{0}\" contains the key separator byte 0x01")]
    KeySeparator(String),
    #[error("line ends with a carriage return (a CRLF file?); like auditctl, vigil keeps it as part of the last word")]
    CarriageReturn,
    #[error("{0} does not exist on this host (yet); the kernel watches for it to appear")]
    WatchTargetMissing(String),
    /// io_uring deny rules (`-a deny,io_uring`, [`crate::policy`]).
    #[error(transparent)]
    Policy(crate::policy::PolicyProblem),
}

/// One error or warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Location,
    /// The offending text as written (the whole argument of the option, or the option).
    pub token: String,
    pub problem: Problem,
}

impl Diagnostic {
    /// Whether this is an error (the line is rejected).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => write!(f, "{}: {}", self.location, self.problem),
            Severity::Warning => write!(f, "{}: warning: {}", self.location, self.problem),
        }
    }
}

impl std::error::Error for Diagnostic {}

/// A rejected rules file or command line: every error found, and the warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Errors {
    pub diagnostics: Vec<Diagnostic>,
}

impl Errors {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in &self.diagnostics {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}
