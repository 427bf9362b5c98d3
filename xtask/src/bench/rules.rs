//! The rule sets of `bench audit-compare`, written as auditctl rules files that kernel audit
//! (`auditctl -R`) and vigil (`vigil daemon --rules`) both load.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::measure::Op;

/// Debian's example STIG rule set.
pub const STIG: &str = "/usr/share/doc/auditd/examples/rules/30-stig.rules";

/// Directories named by `dir=` rules of the STIG set; kernel audit refuses a `dir=` rule on a
/// path that does not exist, so the harness creates missing ones for the run.
pub const STIG_DIRS: &[&str] = &["/etc/NetworkManager", "/etc/selinux"];

/// Syscalls the measuring child never makes (rule kind (c) of docs/BENCHMARKS.md).
const OTHER: &[&str] = &[
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "mknod",
    "mknodat",
    "truncate",
    "ftruncate",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "execveat",
    "connect",
    "bind",
    "listen",
    "accept4",
    "ptrace",
    "mount",
    "umount2",
    "sethostname",
    "setdomainname",
    "settimeofday",
    "adjtimex",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "chroot",
    "pivot_root",
    "acct",
    "quotactl",
];

/// One rule set of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSet {
    /// N rules naming syscalls the benchmark never makes.
    Other(usize),
    /// N rules naming the measured syscalls with a uid no process has: they never match.
    Named(usize),
    /// N rules without `-S` (every syscall), half on a uid, half on an auid no process has:
    /// the kernel walks them on every syscall; vigil's index looks each field up once.
    AllSyscalls(usize),
    /// Debian's 30-stig.rules.
    Stig,
}

impl RuleSet {
    pub fn parse(s: &str) -> Option<RuleSet> {
        if s == "stig" {
            return Some(RuleSet::Stig);
        }
        if let Some(n) = s.strip_prefix("named-") {
            return n.parse().ok().map(RuleSet::Named);
        }
        if let Some(n) = s.strip_prefix("all-") {
            return n.parse().ok().map(RuleSet::AllSyscalls);
        }
        s.strip_prefix("other-")
            .or(Some(s))
            .and_then(|n| n.parse().ok())
            .map(RuleSet::Other)
    }

    pub fn name(self) -> String {
        match self {
            RuleSet::Other(n) => format!("other-{n}"),
            RuleSet::Named(n) => format!("named-{n}"),
            RuleSet::AllSyscalls(n) => format!("all-{n}"),
            RuleSet::Stig => "stig".into(),
        }
    }

    /// The rules column of the latency table.
    pub fn short(self) -> String {
        match self {
            RuleSet::Other(0) => "0".into(),
            RuleSet::Other(n) => format!("{n} other"),
            RuleSet::Named(n) => format!("{n} named"),
            RuleSet::AllSyscalls(n) => format!("{n} all-syscall"),
            RuleSet::Stig => "STIG".into(),
        }
    }

    /// The row label of the tables.
    pub fn label(self) -> String {
        match self {
            RuleSet::Other(0) => "0 rules".into(),
            RuleSet::Other(n) => format!("{n} rules, other syscalls"),
            RuleSet::Named(n) => format!("{n} rules naming the measured syscalls, never matching"),
            RuleSet::AllSyscalls(n) => format!("{n} rules without -S on uid/auid, never matching"),
            RuleSet::Stig => "Debian 30-stig.rules".into(),
        }
    }

    /// Writes the rules file into `dir`.
    pub fn write(self, dir: &Path, ops: &[Op]) -> anyhow::Result<PathBuf> {
        let path = dir.join(format!("{}.rules", self.name()));
        let text = match self {
            RuleSet::Stig => std::fs::read_to_string(STIG).with_context(|| {
                format!("{STIG} (Debian's auditd package ships it; apt-get install auditd)")
            })?,
            _ => self.text(ops),
        };
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
        Ok(path)
    }

    fn text(self, ops: &[Op]) -> String {
        let named: Vec<&str> = ops
            .iter()
            .flat_map(|o| o.syscalls().iter().copied())
            .collect();
        let mut t = String::new();
        match self {
            RuleSet::Other(n) => {
                for i in 0..n {
                    let _ = writeln!(
                        t,
                        "-a always,exit -F arch=b64 -S {} -F auid>=1000 -F auid!=unset -k k{i}",
                        OTHER[i % OTHER.len()]
                    );
                }
            }
            RuleSet::Named(n) => {
                for i in 0..n {
                    let _ = writeln!(
                        t,
                        "-a always,exit -F arch=b64 -S {} -F uid={} -k k{i}",
                        named.join(","),
                        54_321 + i
                    );
                }
            }
            RuleSet::AllSyscalls(n) => {
                for i in 0..n {
                    let field = if i % 2 == 0 { "uid" } else { "auid" };
                    let _ = writeln!(
                        t,
                        "-a always,exit -F arch=b64 -S all -F {field}={} -k k{i}",
                        54_321 + i
                    );
                }
            }
            RuleSet::Stig => {}
        }
        t
    }
}

/// Directories created for the STIG set, removed (if still empty) on drop.
pub struct StigDirs {
    created: Vec<PathBuf>,
}

impl StigDirs {
    pub fn create() -> anyhow::Result<StigDirs> {
        let mut created = Vec::new();
        for d in STIG_DIRS {
            let p = Path::new(d);
            if !p.exists() {
                if let Err(e) = std::fs::create_dir(p) {
                    bail!("creating {d} for the STIG set's dir= rule: {e}");
                }
                created.push(p.to_path_buf());
            }
        }
        Ok(StigDirs { created })
    }

    pub fn created(&self) -> &[PathBuf] {
        &self.created
    }
}

impl Drop for StigDirs {
    fn drop(&mut self) {
        for p in &self.created {
            if let Err(e) = std::fs::remove_dir(p) {
                eprintln!(
                    "warning: could not remove {} (created for the run): {e}",
                    p.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use vigil_rules::ast::Syscalls;

    use super::{Op, RuleSet};

    /// The measured syscalls' x86-64 numbers, from libc (not from the rules crate).
    fn measured() -> BTreeSet<u32> {
        [
            libc::SYS_getppid,
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_stat,
            libc::SYS_fstat,
            libc::SYS_openat,
            libc::SYS_close,
        ]
        .into_iter()
        .map(|n| n as u32)
        .collect()
    }

    fn parsed(set: RuleSet) -> Vec<vigil_rules::ast::Rule> {
        let text = set.text(&Op::ALL);
        let file = vigil_rules::parse_str(&text, &set.name())
            .unwrap_or_else(|e| panic!("{}: {e:?}", set.name()));
        assert!(
            !file.failed && file.diagnostics.is_empty(),
            "{:?}",
            file.diagnostics
        );
        file.rules.rules
    }

    #[test]
    fn other_rules_never_name_a_measured_syscall() {
        let rules = parsed(RuleSet::Other(1000));
        assert_eq!(rules.len(), 1000);
        let m = measured();
        for r in &rules {
            let Syscalls::Set(s) = &r.syscalls else {
                panic!("rule without -S: {r:?}");
            };
            assert!(s.is_disjoint(&m), "{s:?} names a measured syscall");
        }
    }

    #[test]
    fn named_rules_name_every_measured_syscall() {
        let rules = parsed(RuleSet::Named(160));
        assert_eq!(rules.len(), 160);
        for r in &rules {
            let Syscalls::Set(s) = &r.syscalls else {
                panic!("rule without -S: {r:?}");
            };
            assert_eq!(*s, measured());
        }
    }

    #[test]
    fn all_syscall_rules_have_no_syscall_list() {
        let rules = parsed(RuleSet::AllSyscalls(10));
        assert_eq!(rules.len(), 10);
        for r in &rules {
            assert!(
                !matches!(r.syscalls, Syscalls::Set(_)),
                "rule names syscalls: {r:?}"
            );
        }
    }

    #[test]
    fn set_names_parse_back() {
        for s in [
            RuleSet::Other(0),
            RuleSet::Other(80),
            RuleSet::Named(40),
            RuleSet::AllSyscalls(100),
            RuleSet::Stig,
        ] {
            assert_eq!(RuleSet::parse(&s.name()), Some(s));
        }
        assert_eq!(RuleSet::parse("160"), Some(RuleSet::Other(160)));
        assert_eq!(RuleSet::parse("named-x"), None);
        assert_eq!(RuleSet::parse("bogus"), None);
    }
}
