//! Per-syscall cost of a rule set: the kernel's linear walk versus vigil's index.
//!
//! Kernel (kernel/auditsc.c): once any exit rule exists, every syscall of every audited task
//! walks the whole exit list (`audit_filter_syscall`), testing each rule's syscall mask and
//! evaluating the fields of those whose mask holds the number; names collected by the syscall
//! then walk their inode hash bucket (watches). vigil: a syscall whose bit is clear in the
//! per-arch bitmap costs one bit test; otherwise the candidates are its per-syscall list, the
//! residual list and one bucket per index field the event's values hit.

use std::collections::HashMap;

use crate::ast::{FilterList, RuleSet};
use crate::compile::layout::{CompiledSet, IndexField, Table, TableKind, NONE, SEL_ANY};
use crate::compile::{compile, CompileError};
use crate::reference::{in_mask, is_name_scoped};
use crate::tables::{self, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

/// The cost of one syscall on one arch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallCost {
    /// `AUDIT_ARCH_*` value.
    pub arch: u32,
    pub nr: u32,
    /// The name from the syscall table.
    pub name: &'static str,
    /// Kernel: exit-list rules walked (all of them, when none matches).
    pub kernel_walked: u32,
    /// Kernel: rules whose syscall mask holds the number, whose fields it evaluates.
    pub kernel_evaluated: u32,
    /// vigil: the syscall passes the O(1) bitmap (some rule can match it).
    pub vigil_passes: bool,
    /// vigil: most candidate rules one event can gather (per-syscall list, residual and the
    /// largest bucket of every index field), 0 when the bitmap rejects the syscall.
    pub vigil_candidates: u32,
}

/// The cost report of a rule set, for `vigil rules check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostReport {
    /// Exit-list rules the kernel walks on every syscall (watches excluded).
    pub kernel_exit_rules: u32,
    /// Exit rules in the kernel's inode hash (`-w`, `path=`, `inode=`), walked per name.
    pub kernel_inode_rules: u32,
    /// vigil's longest residual list of the exit table (per arch): rules every event of that
    /// arch that passes the bitmap evaluates (no `-S`, no `perm=`, no `=` field).
    pub vigil_residual: u32,
    /// Hash lookups per exit event that passes the bitmap (non-empty index fields).
    pub vigil_lookups: u32,
    /// One row per syscall of the x86_64 and i386 tables.
    pub syscalls: Vec<SyscallCost>,
}

impl CostReport {
    /// The `n` syscalls the kernel spends the most on, worst first.
    pub fn worst(&self, n: usize) -> Vec<&SyscallCost> {
        let mut v: Vec<&SyscallCost> = self.syscalls.iter().collect();
        v.sort_by_key(|c| {
            (
                std::cmp::Reverse(c.kernel_evaluated),
                std::cmp::Reverse(c.vigil_candidates),
                c.arch,
                c.nr,
            )
        });
        v.truncate(n);
        v
    }

    /// Syscalls of `arch` that pass vigil's bitmap, and how many the table has.
    pub fn passing(&self, arch: u32) -> (usize, usize) {
        let rows = self.syscalls.iter().filter(|c| c.arch == arch);
        let total = rows.clone().count();
        (rows.filter(|c| c.vigil_passes).count(), total)
    }

    /// One line: what the kernel walks versus what vigil evaluates.
    pub fn summary(&self) -> String {
        let (pass64, all64) = self.passing(AUDIT_ARCH_X86_64);
        let worst_vigil = self
            .syscalls
            .iter()
            .map(|c| c.vigil_candidates)
            .max()
            .unwrap_or(0);
        let worst_kernel = self
            .syscalls
            .iter()
            .map(|c| c.kernel_evaluated)
            .max()
            .unwrap_or(0);
        format!(
            "kernel: every syscall walks {} exit rules (evaluating up to {}), plus the inode hash \
             bucket of each path name ({} watch rules); vigil: {} of {} x86_64 syscalls \
             rejected by one bit test, at most {} candidate rules and {} hash lookups for the \
             others",
            self.kernel_exit_rules,
            worst_kernel,
            self.kernel_inode_rules,
            all64 - pass64,
            all64,
            worst_vigil,
            self.vigil_lookups,
        )
    }
}

/// The largest index bucket per (table, field, syscall or `SEL_ANY`).
struct Largest(HashMap<(u8, u8, u32), u32>);

impl Largest {
    fn new(c: &CompiledSet) -> Largest {
        let mut m: HashMap<(u8, u8, u32), u32> = HashMap::new();
        for (k, r) in &c.index {
            let e = m.entry((k.table, k.field, k.sel)).or_default();
            *e = (*e).max(r.len);
        }
        Largest(m)
    }

    /// Most candidates the index buckets of `table` can give one event of syscall `nr`.
    fn candidates(&self, table: &Table, nr: u32) -> u32 {
        IndexField::ALL
            .iter()
            .filter(|f| (table.index_any | table.index_sel) & f.bit() != 0)
            .map(|f| {
                let get = |sel| {
                    self.0
                        .get(&(table.kind as u8, *f as u8, sel))
                        .copied()
                        .unwrap_or(0)
                };
                get(SEL_ANY) + get(nr)
            })
            .sum()
    }
}

/// Estimate the per-syscall cost of `set` under the kernel and under vigil.
pub fn estimate(set: &RuleSet) -> Result<CostReport, CompileError> {
    let compiled = compile(std::slice::from_ref(set))?;
    let exit_rules: Vec<_> = set
        .list(FilterList::Exit)
        .filter(|r| !is_name_scoped(r))
        .collect();
    let inode_rules = set
        .list(FilterList::Exit)
        .filter(|r| is_name_scoped(r))
        .count() as u32;
    let table = compiled.table(TableKind::Exit);
    let names = compiled.table(TableKind::Names);
    let largest = Largest::new(&compiled);
    let mut syscalls = Vec::new();
    for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386] {
        let Some(t) = tables::syscall_table_for_arch(arch) else {
            continue;
        };
        let slot = table
            .slots
            .iter()
            .find(|s| s.arch == arch)
            .or_else(|| table.slots.iter().find(|s| s.arch == NONE));
        for (nr, name) in t.entries() {
            let evaluated = exit_rules.iter().filter(|r| in_mask(r, *nr)).count() as u32;
            let passes = slot.is_some_and(|s| s.bitmap.contains(*nr));
            let candidates = if passes {
                let list = slot
                    .and_then(|s| s.lists.get(*nr as usize))
                    .map_or(0, |l| l.len);
                list + slot.map_or(0, |s| s.residual.len)
                    + largest.candidates(table, *nr)
                    + names.residual.len
                    + largest.candidates(names, *nr)
            } else {
                0
            };
            syscalls.push(SyscallCost {
                arch,
                nr: *nr,
                name,
                kernel_walked: exit_rules.len() as u32,
                kernel_evaluated: evaluated,
                vigil_passes: passes,
                vigil_candidates: candidates,
            });
        }
    }
    let lookups = ((table.index_any | table.index_sel).count_ones()
        + (names.index_any | names.index_sel).count_ones()) as u32;
    Ok(CostReport {
        kernel_exit_rules: exit_rules.len() as u32,
        kernel_inode_rules: inode_rules,
        vigil_residual: table
            .slots
            .iter()
            .map(|s| s.residual.len)
            .max()
            .unwrap_or(0),
        vigil_lookups: lookups,
        syscalls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Action, Condition, Field, Op, Origin, Rule, Syscalls, Value};

    fn exit(nrs: &[u32], conds: Vec<Condition>) -> Rule {
        Rule {
            list: FilterList::Exit,
            action: Action::Always,
            syscalls: if nrs.is_empty() {
                Syscalls::All
            } else {
                Syscalls::Set(nrs.iter().copied().collect())
            },
            conditions: conds,
            keys: vec![],
            is_watch: false,
            origin: Origin::default(),
        }
    }

    #[test]
    fn all_syscall_rules_cost_the_kernel_everywhere_and_vigil_one_bucket() {
        let mut rules: Vec<Rule> = (0..100)
            .map(|i| {
                exit(
                    &[],
                    vec![Condition::Field {
                        field: Field::Uid,
                        op: Op::Eq,
                        value: Value::Num(2000 + i),
                    }],
                )
            })
            .collect();
        rules.push(exit(&[257], vec![]));
        let set = RuleSet {
            rules,
            ..RuleSet::default()
        };
        let r = estimate(&set).unwrap();
        assert_eq!(r.kernel_exit_rules, 101);
        let openat = r
            .syscalls
            .iter()
            .find(|c| c.arch == AUDIT_ARCH_X86_64 && c.nr == 257)
            .unwrap();
        assert_eq!(openat.kernel_evaluated, 101);
        // The openat list (1) plus the largest uid bucket (1).
        assert_eq!(openat.vigil_candidates, 2);
        assert_eq!(r.vigil_lookups, 1);
        assert_eq!(r.worst(1)[0].nr, 257);
        assert!(
            r.summary().contains("walks 101 exit rules"),
            "{}",
            r.summary()
        );
    }

    #[test]
    fn syscalls_no_rule_names_pass_no_bitmap() {
        let set = RuleSet {
            rules: vec![exit(&[59], vec![])],
            ..RuleSet::default()
        };
        let r = estimate(&set).unwrap();
        let (pass, all) = r.passing(AUDIT_ARCH_X86_64);
        assert_eq!(pass, 1);
        assert!(all > 300);
        let getpid = r
            .syscalls
            .iter()
            .find(|c| c.arch == AUDIT_ARCH_X86_64 && c.nr == 39)
            .unwrap();
        // The kernel still walks the one rule; vigil stops at the bitmap.
        assert_eq!((getpid.kernel_walked, getpid.vigil_candidates), (1, 0));
    }
}
