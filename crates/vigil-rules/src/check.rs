//! Rule set analysis for `vigil rules check`: warnings auditctl never gives (rules that can
//! never match, duplicates, rules shadowed by earlier ones, rules every event pays for) and the
//! per-syscall cost of the set under the kernel's linear walk versus vigil's index.
//!
//! Every warning is certain unless its kind is [`WarningKind::Suspicious`].

use std::collections::HashMap;
use std::fmt;

use crate::ast::{
    Action, Condition, Field, FilterList, Op, Origin, Rule, RuleSet, Syscalls, Value,
};
use crate::compile::layout::{SyscallMask, TableKind, RULE_NEVER};
use crate::compile::lower::{lower, Strings};
use crate::compile::place::{base_mask, effective_mask, is_restricted, slot_arches};
use crate::compile::CompileError;
use crate::cost::{estimate, CostReport};
use crate::reference::path_under;
use crate::tables::{self, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SYSCALL_CLASS_FIRST};

/// What a warning says about a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The rule can never match.
    NeverMatches,
    /// The rule repeats rule `of` (index into `RuleSet::rules`); the kernel refuses the copy.
    Duplicate { of: usize },
    /// Rule `by`, earlier in the same list, matches whenever this one does: it never decides.
    Shadowed { by: usize },
    /// The rule almost certainly does not do what it says (see the message).
    Suspicious,
    /// The rule is evaluated for every event of its list: no `-S`, `perm=` or `=` field an
    /// index can choose it by.
    EveryEvent,
}

/// One finding about one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    /// Index into `RuleSet::rules`.
    pub rule: usize,
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: warning: {}",
            self.origin.file, self.origin.line, self.message
        )
    }
}

/// The result of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// By rule, in rule order.
    pub warnings: Vec<Warning>,
    /// `Err` when the set exceeds a bound of the compiled form.
    pub cost: Result<CostReport, CompileError>,
}

impl fmt::Display for Report {
    /// What `vigil rules check` prints: one line per warning, then the cost summary and the
    /// syscalls the kernel spends the most on.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.warnings {
            writeln!(f, "{w}")?;
        }
        match &self.cost {
            Err(e) => writeln!(f, "cost: the set cannot be compiled: {e}"),
            Ok(c) => {
                writeln!(f, "cost: {}", c.summary())?;
                for s in c.worst(5).into_iter().filter(|s| s.kernel_evaluated > 0) {
                    writeln!(
                        f,
                        "  {} ({}): kernel walks {} rules and evaluates {}; vigil evaluates at \
                         most {}",
                        s.name,
                        tables::machine_name(s.arch).unwrap_or("?"),
                        s.kernel_walked,
                        s.kernel_evaluated,
                        s.vigil_candidates
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Analyse one rule set.
pub fn check(set: &RuleSet) -> Report {
    let mut warnings = Vec::new();
    let mut strings = Strings::default();
    let mut never = vec![false; set.rules.len()];
    for (i, r) in set.rules.iter().enumerate() {
        let mut say = |kind, message: String| {
            warnings.push(Warning {
                kind,
                rule: i,
                origin: r.origin.clone(),
                message,
            });
        };
        let lowered = lower(r, &mut strings);
        if lowered.flags & RULE_NEVER != 0 {
            let why = lowered.never.unwrap_or_else(|| "it cannot match".into());
            say(
                WarningKind::NeverMatches,
                format!("rule never matches: {why}"),
            );
            never[i] = true;
            continue;
        }
        if let Some(why) = contradiction(r) {
            say(
                WarningKind::NeverMatches,
                format!("rule never matches: {why}"),
            );
            never[i] = true;
            continue;
        }
        if matches!(r.list, FilterList::Exit | FilterList::IoUring) {
            if let Some((kind, why)) = syscall_problems(r) {
                if kind == WarningKind::NeverMatches {
                    never[i] = true;
                }
                say(kind, why);
                if never[i] {
                    continue;
                }
            }
            let table = lowered.table;
            if table != TableKind::Names && !is_restricted(r) && lowered.keys.is_empty() {
                let what = if r.list == FilterList::Exit {
                    "syscall"
                } else {
                    "io_uring operation"
                };
                let arch = arch_eq(r)
                    .and_then(tables::machine_name)
                    .map_or(String::new(), |m| format!("{m} "));
                say(
                    WarningKind::EveryEvent,
                    format!(
                        "rule is evaluated for every {arch}{what} of every task: it has no -S, \
                         perm= or = field (uid=, auid=, exe=, ...) an index can choose it by"
                    ),
                );
            }
        }
        if let Some(why) = suspicious(r) {
            say(WarningKind::Suspicious, why);
        }
    }
    overlaps(set, &never, &mut warnings);
    warnings.sort_by_key(|w| w.rule);
    Report {
        warnings,
        cost: estimate(set),
    }
}

/// Fields with one value per event, compared as numbers.
fn single_valued(f: Field) -> bool {
    matches!(
        f,
        Field::Pid
            | Field::Ppid
            | Field::Uid
            | Field::Euid
            | Field::Suid
            | Field::Fsuid
            | Field::Sgid
            | Field::Fsgid
            | Field::Auid
            | Field::SessionId
            | Field::Pers
            | Field::Arch
            | Field::Exit
            | Field::MsgType
            | Field::Arg(_)
            | Field::LoginuidSet
            | Field::SaddrFam
            | Field::ContId
    )
}

/// Fields the kernel compares with `audit_uid_comparator`/`audit_gid_comparator`.
fn uid_like(f: Field) -> bool {
    matches!(
        f,
        Field::Uid
            | Field::Euid
            | Field::Suid
            | Field::Fsuid
            | Field::Gid
            | Field::Egid
            | Field::Sgid
            | Field::Fsgid
            | Field::Auid
            | Field::ObjUid
            | Field::ObjGid
    )
}

fn width_max(f: Field) -> u64 {
    if f == Field::ContId {
        u64::MAX
    } else {
        u64::from(u32::MAX)
    }
}

fn text(field: Field, op: Op, v: u64) -> String {
    format!("{}{}{}", field.name(), op.as_str(), v)
}

/// What the conditions on one single-valued field allow.
#[derive(Debug, Clone)]
struct Feasible {
    lo: u64,
    hi: u64,
    eq: Option<u64>,
    ne: Vec<u64>,
    bits: Vec<(Op, u64)>,
}

fn numeric(r: &Rule, field: Field) -> impl Iterator<Item = (Op, u64)> + '_ {
    let max = width_max(field);
    r.conditions.iter().filter_map(move |c| match c {
        Condition::Field {
            field: f,
            op,
            value: Value::Num(v),
        } if *f == field => Some((*op, *v & max)),
        _ => None,
    })
}

/// The values of `field` that satisfy every condition of `r` on it; `None` if there are none.
fn feasible(r: &Rule, field: Field) -> Option<Feasible> {
    let mut fz = Feasible {
        lo: 0,
        hi: width_max(field),
        eq: None,
        ne: Vec::new(),
        bits: Vec::new(),
    };
    for (op, v) in numeric(r, field) {
        match op {
            Op::Eq => {
                if fz.eq.is_some_and(|e| e != v) {
                    return None;
                }
                fz.eq = Some(v);
            }
            Op::Ne => fz.ne.push(v),
            Op::Lt => fz.hi = fz.hi.min(v.checked_sub(1)?),
            Op::Le => fz.hi = fz.hi.min(v),
            Op::Gt => {
                fz.lo = fz
                    .lo
                    .max(v.checked_add(1).filter(|x| *x <= width_max(field))?);
            }
            Op::Ge => fz.lo = fz.lo.max(v),
            Op::BitMask | Op::BitTest => fz.bits.push((op, v)),
        }
    }
    if let Some(e) = fz.eq {
        let ok = e >= fz.lo
            && e <= fz.hi
            && !fz.ne.contains(&e)
            && fz.bits.iter().all(|(op, m)| op.holds(e, *m));
        return ok.then_some(fz);
    }
    if fz.lo > fz.hi {
        return None;
    }
    let mut ne: Vec<u64> = fz
        .ne
        .iter()
        .copied()
        .filter(|v| *v >= fz.lo && *v <= fz.hi)
        .collect();
    ne.sort_unstable();
    ne.dedup();
    if (ne.len() as u64) > fz.hi - fz.lo {
        return None;
    }
    if fz.hi - fz.lo < 4096 {
        // Small ranges: try every value.
        let any = (fz.lo..=fz.hi)
            .any(|v| !ne.contains(&v) && fz.bits.iter().all(|(op, m)| op.holds(v, *m)));
        return any.then_some(fz);
    }
    for (op, m) in &fz.bits {
        let impossible = match op {
            Op::BitMask => *m == 0,
            _ => *m > fz.hi,
        };
        if impossible {
            return None;
        }
    }
    Some(fz)
}

/// Whether every value `fz` allows satisfies `op v`.
fn always(fz: &Feasible, op: Op, v: u64) -> bool {
    if let Some(e) = fz.eq {
        return op.holds(e, v);
    }
    match op {
        Op::Eq => fz.lo == v && fz.hi == v,
        Op::Ne => v < fz.lo || v > fz.hi || fz.ne.contains(&v),
        Op::Lt => fz.hi < v,
        Op::Le => fz.hi <= v,
        Op::Gt => fz.lo > v,
        Op::Ge => fz.lo >= v,
        Op::BitMask | Op::BitTest => fz.lo == fz.hi && op.holds(fz.lo, v),
    }
}

/// The low 32 bits of `-4095..=-1`: what a failed syscall returns.
const ERRNO_LO: u64 = 0xffff_f001;

/// Conditions that cannot hold together.
fn contradiction(r: &Rule) -> Option<String> {
    for c in &r.conditions {
        if let Condition::Field {
            field,
            op: op @ (Op::BitMask | Op::BitTest),
            value: Value::Num(v),
        } = c
        {
            if uid_like(*field) {
                return Some(format!(
                    "{} never holds: the kernel ignores & and &= on uid and gid fields",
                    text(*field, *op, *v)
                ));
            }
        }
    }
    let mut seen = Vec::new();
    for c in &r.conditions {
        let Condition::Field { field, .. } = c else {
            continue;
        };
        if !single_valued(*field) || seen.contains(field) {
            continue;
        }
        seen.push(*field);
        if feasible(r, *field).is_none() {
            let all: Vec<String> = numeric(r, *field)
                .map(|(op, v)| text(*field, op, v))
                .collect();
            let why = if *field == Field::Exit && all.iter().any(|t| t.contains('<')) {
                " (the kernel compares exit as an unsigned 32-bit number: nothing is below 0)"
            } else {
                ""
            };
            return Some(format!("{} cannot all hold{why}", all.join(" and ")));
        }
    }
    // success= against exit=: a failed call returns -errno.
    let states: Vec<u64> = [1u64, 2]
        .into_iter()
        .filter(|rv| {
            numeric(r, Field::Success).all(|(op, v)| op.holds(*rv, if v != 0 { 1 } else { 2 }))
        })
        .collect();
    if states.is_empty() {
        return Some("its success= conditions cannot all hold".into());
    }
    if states == [2] {
        if let Some(fz) = feasible(r, Field::Exit) {
            if fz.eq.unwrap_or(fz.hi) < ERRNO_LO {
                return Some("a failed syscall returns -4095..-1, which exit= rules out".into());
            }
        }
    }
    None
}

/// Syscall numbers that cannot be matched.
fn syscall_problems(r: &Rule) -> Option<(WarningKind, String)> {
    let arches = slot_arches(&[AUDIT_ARCH_X86_64, AUDIT_ARCH_I386], std::iter::once(r));
    if arches.iter().all(|a| effective_mask(r, *a).is_empty()) {
        return Some((
            WarningKind::NeverMatches,
            "rule never matches: no syscall satisfies its -S, arch= and perm= together".into(),
        ));
    }
    let Syscalls::Set(nrs) = &r.syscalls else {
        return None;
    };
    let beyond: Vec<u32> = nrs
        .iter()
        .copied()
        .filter(|n| *n >= SYSCALL_CLASS_FIRST)
        .collect();
    if !beyond.is_empty() {
        return Some((
            WarningKind::Suspicious,
            format!("syscall numbers {beyond:?} are outside the kernel's syscall mask"),
        ));
    }
    if r.list == FilterList::IoUring {
        let unknown: Vec<u32> = nrs
            .iter()
            .copied()
            .filter(|n| *n >= tables::uring_op_count())
            .collect();
        return (!unknown.is_empty()).then(|| {
            (
                WarningKind::Suspicious,
                format!("io_uring opcodes {unknown:?} do not exist"),
            )
        });
    }
    let arch = arch_eq(r)?;
    let table = tables::syscall_table_for_arch(arch)?;
    let unknown: Vec<u32> = nrs
        .iter()
        .copied()
        .filter(|n| table.name_of(*n).is_none())
        .collect();
    (!unknown.is_empty()).then(|| {
        (
            WarningKind::Suspicious,
            format!(
                "syscall numbers {unknown:?} do not exist on {} (arch=)",
                table.name
            ),
        )
    })
}

/// The arch an `arch=` condition pins the rule to.
fn arch_eq(r: &Rule) -> Option<u32> {
    r.conditions.iter().find_map(|c| match c {
        Condition::Field {
            field: Field::Arch,
            op: Op::Eq,
            value: Value::Num(a),
        } => Some(*a as u32),
        _ => None,
    })
}

/// Rules that match in theory but almost certainly not in practice.
fn suspicious(r: &Rule) -> Option<String> {
    let only_success = numeric(r, Field::Success).next().is_some()
        && numeric(r, Field::Success).all(|(op, v)| op.holds(1, if v != 0 { 1 } else { 2 }))
        && !numeric(r, Field::Success).all(|(op, v)| op.holds(2, if v != 0 { 1 } else { 2 }));
    let errno_exit = feasible(r, Field::Exit).is_some_and(|fz| fz.eq.unwrap_or(fz.lo) >= ERRNO_LO);
    (only_success && errno_exit).then(|| {
        "success=1 with an errno exit= value: only a successful call whose return value ends \
         in 0xfffff001..0xffffffff (an address, say) can match"
            .into()
    })
}

/// Duplicates and shadowed rules.
fn overlaps(set: &RuleSet, never: &[bool], out: &mut Vec<Warning>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut earlier: HashMap<FilterList, Vec<usize>> = HashMap::new();
    for (i, r) in set.rules.iter().enumerate() {
        if never[i] || r.list == FilterList::Filesystem {
            continue;
        }
        let key = canonical(r);
        if let Some(first) = seen.get(&key) {
            out.push(Warning {
                kind: WarningKind::Duplicate { of: *first },
                rule: i,
                origin: r.origin.clone(),
                message: format!(
                    "rule repeats the rule at {}:{} (the kernel refuses a second copy)",
                    set.rules[*first].origin.file, set.rules[*first].origin.line
                ),
            });
            continue;
        }
        seen.insert(key, i);
        let prior = earlier.entry(r.list).or_default();
        let sig = signature(r);
        let mask = masked(r);
        if let Some(by) = prior.iter().copied().find(|e| {
            let er = &set.rules[*e];
            signature(er) & !sig == 0 && mask_covers(er, mask.as_ref()) && implies(r, er)
        }) {
            let e = &set.rules[by];
            out.push(Warning {
                kind: WarningKind::Shadowed { by },
                rule: i,
                origin: r.origin.clone(),
                message: format!(
                    "rule never decides: the {} rule at {}:{} matches whenever it does",
                    if e.action == Action::Never {
                        "never"
                    } else {
                        "always"
                    },
                    e.origin.file,
                    e.origin.line
                ),
            });
        }
        prior.push(i);
    }
}

/// A rule's identity for duplicate detection (conditions in any order).
fn canonical(r: &Rule) -> String {
    let mut conds: Vec<String> = r.conditions.iter().map(|c| format!("{c:?}")).collect();
    conds.sort();
    format!(
        "{:?}|{:?}|{:?}|{}|{:?}",
        r.list,
        r.action,
        r.syscalls,
        conds.join(","),
        r.keys
    )
}

/// One bit per field a rule's conditions name (keys aside): a rule can only be implied by
/// another whose fields are a subset.
fn signature(r: &Rule) -> u64 {
    r.conditions.iter().fold(0, |m, c| {
        let f = match c {
            Condition::Field {
                field: Field::Key, ..
            } => return m,
            Condition::Field { field, .. } => *field,
            Condition::Compare { left, .. } => *left,
        };
        let bit = |f| 1u64 << (crate::compile::lower::field_number(f) % 64);
        // A watched path implies dir= conditions on the directories above it.
        if f == Field::Path {
            m | bit(f) | bit(Field::Dir)
        } else {
            m | bit(f)
        }
    })
}

fn masked(r: &Rule) -> Option<SyscallMask> {
    matches!(r.list, FilterList::Exit | FilterList::IoUring).then(|| base_mask(r))
}

/// Whether `e`'s syscalls include every syscall of the other rule (`r_mask`).
fn mask_covers(e: &Rule, r_mask: Option<&SyscallMask>) -> bool {
    match r_mask {
        None => true,
        Some(rm) => base_mask(e).is_superset(rm),
    }
}

/// Whether every condition of `e` holds whenever all conditions of `r` hold.
fn implies(r: &Rule, e: &Rule) -> bool {
    e.conditions.iter().all(|c| condition_implied(r, c))
}

fn condition_implied(r: &Rule, c: &Condition) -> bool {
    if r.conditions.contains(c) {
        return true;
    }
    match c {
        Condition::Field {
            field: Field::Key, ..
        } => true,
        Condition::Field {
            field: Field::Perm,
            op: Op::Eq,
            value: Value::Num(p),
        } => r.conditions.iter().any(|rc| {
            matches!(rc, Condition::Field {
                field: Field::Perm,
                op: Op::Eq,
                value: Value::Num(q),
            } if q & !p == 0)
        }),
        // dir=D holds when any object is D or below it: a watched path or a deeper dir
        // below D implies it.
        Condition::Field {
            field: Field::Dir,
            op: Op::Eq,
            value: Value::Str(d),
        } => r.conditions.iter().any(|rc| {
            matches!(rc, Condition::Field {
                field: Field::Path | Field::Dir,
                op: Op::Eq,
                value: Value::Str(p),
            } if path_under(p.as_bytes(), d.as_bytes()))
        }),
        Condition::Field {
            field,
            op,
            value: Value::Num(v),
        } if single_valued(*field) => {
            if uid_like(*field) && op.is_bit_test() {
                return false;
            }
            numeric(r, *field).next().is_some()
                && feasible(r, *field).is_some_and(|fz| always(&fz, *op, *v & width_max(*field)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
