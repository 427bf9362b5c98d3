//! Building the compiled set: lowering every rule, then placing each in exactly one candidate
//! source of its table (a per-syscall list, one index bucket, or the residual list).

use std::collections::HashMap;

use super::classes::perm_syscalls;
use super::hash::FastHash;
use super::layout::{
    ArchSlot, CompiledSet, IndexField, IndexKey, ListRef, RuleHeader, RulesetInfo, SyscallMask,
    Table, TableKind, MAX_ARCH_SLOTS, MAX_FIELDS, MAX_KEY_LEN, MAX_LIST_LEN, MAX_RULES,
    MAX_RULESETS, MAX_STRING, NONE, SEL_ANY, SYSCALL_BITS,
};
use super::lower::{lower, Lowered, Strings};
use super::{CompileError, CompileOptions};
use crate::ast::{Action, Condition, Field, Op, Rule, RuleSet, Syscalls, Value};
use crate::tables::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SYSCALL_CLASS_FIRST};

/// A per-syscall list longer than this makes rules that also have an `=` field move to the
/// (field, value, syscall) index instead, so one busy syscall does not walk them all.
pub const CROWDED: usize = 16;

/// The syscall mask a rule's `-S` gives (before arch and `perm=`).
pub fn base_mask(r: &Rule) -> SyscallMask {
    match &r.syscalls {
        Syscalls::All => SyscallMask::below(SYSCALL_CLASS_FIRST),
        Syscalls::Set(s) => {
            let mut m = SyscallMask::EMPTY;
            for nr in s {
                m.set(*nr);
            }
            m
        }
    }
}

/// Whether the rule's syscalls are narrower than "all" (by `-S` or by a `perm=` class).
pub fn is_restricted(r: &Rule) -> bool {
    matches!(r.syscalls, Syscalls::Set(_)) || perm_conditions(r).next().is_some()
}

fn perm_conditions(r: &Rule) -> impl Iterator<Item = u32> + '_ {
    r.conditions.iter().filter_map(|c| match c {
        Condition::Field {
            field: Field::Perm,
            op,
            value: Value::Num(p),
        } if *op != Op::Ne => Some(*p as u32),
        _ => None,
    })
}

fn arch_conditions(r: &Rule) -> impl Iterator<Item = (Op, u32)> + '_ {
    r.conditions.iter().filter_map(|c| match c {
        Condition::Field {
            field: Field::Arch,
            op,
            value: Value::Num(v),
        } => Some((*op, *v as u32)),
        _ => None,
    })
}

/// Syscalls the rule can match on `arch` ([`NONE`]: any arch no rule names with `=`; it must
/// not stand for i386, whose `perm=` classes differ).
pub fn effective_mask(r: &Rule, arch: u32) -> SyscallMask {
    let possible = if arch == NONE {
        arch_conditions(r).all(|(op, _)| op != Op::Eq)
    } else {
        arch_conditions(r).all(|(op, v)| op.holds(arch, v))
    };
    if !possible {
        return SyscallMask::EMPTY;
    }
    let mut m = base_mask(r);
    let class_arch = if arch == NONE { 0 } else { arch };
    for p in perm_conditions(r) {
        m.intersect(&perm_syscalls(class_arch, p));
    }
    m
}

/// The arch slots of a table: the given arches, those its rules name with `arch=`, and the
/// default slot last.
pub fn slot_arches<'a>(base: &[u32], rules: impl Iterator<Item = &'a Rule>) -> Vec<u32> {
    let mut arches = base.to_vec();
    for r in rules {
        for (op, v) in arch_conditions(r) {
            if op == Op::Eq && !arches.contains(&v) {
                arches.push(v);
            }
        }
    }
    arches.push(NONE);
    arches
}

/// The rank of an index field when a rule has several `=` fields: the more selective first.
fn rank(f: IndexField) -> u8 {
    match f {
        IndexField::Pid | IndexField::Path | IndexField::Inode => 0,
        IndexField::Exe => 1,
        IndexField::SessionId => 2,
        IndexField::ContId => 3,
        IndexField::Ppid => 4,
        IndexField::A0 | IndexField::A1 | IndexField::A2 | IndexField::A3 => 5,
        IndexField::Exit => 6,
        IndexField::Uid => 7,
        IndexField::Euid => 8,
        IndexField::Suid => 9,
        IndexField::Fsuid => 10,
        IndexField::Auid => 11,
        IndexField::Sgid => 12,
        IndexField::Fsgid => 13,
        IndexField::MsgType => 14,
        IndexField::Pers => 15,
        IndexField::ContIdTree => 16,
        IndexField::Dir => 17,
        IndexField::FsType => 18,
    }
}

/// One arch slot under construction: (arch, bitmap, per-syscall lists, residual).
type SlotB = (u32, SyscallMask, HashMap<u32, Vec<u32>>, Vec<u32>);

struct TableB {
    kind: TableKind,
    rules: u32,
    slots: Vec<SlotB>,
    index_any: u64,
    index_sel: u64,
    residual: Vec<u32>,
}

impl TableB {
    fn new(kind: TableKind, arches: &[u32]) -> TableB {
        TableB {
            kind,
            rules: 0,
            slots: arches
                .iter()
                .map(|a| (*a, SyscallMask::EMPTY, HashMap::new(), Vec::new()))
                .collect(),
            index_any: 0,
            index_sel: 0,
            residual: Vec::new(),
        }
    }
}

type Buckets = HashMap<IndexKey, Vec<u32>, FastHash>;

fn key(table: TableKind, f: IndexField, sel: u32, value: u64) -> IndexKey {
    IndexKey {
        table: table as u8,
        field: f as u8,
        pad: 0,
        sel,
        value,
    }
}

/// The key among `keys` whose bucket is smallest so far (ties: the more selective field).
fn choose(keys: &[(IndexField, u64)], t: TableKind, sel: u32, b: &Buckets) -> (IndexField, u64) {
    *keys
        .iter()
        .min_by_key(|(f, v)| (b.get(&key(t, *f, sel, *v)).map_or(0, Vec::len), rank(*f)))
        .expect("choose is called with keys")
}

fn origin(r: &Rule) -> String {
    format!("{}:{}", r.origin.file, r.origin.line)
}

/// Lower every rule and build the tables. See [`super::compile`].
pub fn build(sets: &[RuleSet], opts: &CompileOptions) -> Result<CompiledSet, CompileError> {
    if sets.len() > MAX_RULESETS {
        return Err(CompileError::TooManyRulesets {
            count: sets.len(),
            max: MAX_RULESETS,
        });
    }
    let total: usize = sets.iter().map(|s| s.rules.len()).sum();
    if total > MAX_RULES {
        return Err(CompileError::TooManyRules {
            count: total,
            max: MAX_RULES,
        });
    }
    let mut strings = Strings::default();
    let mut masks: Vec<SyscallMask> = Vec::new();
    let mut mask_ids: HashMap<SyscallMask, u32> = HashMap::new();
    let mut rules = Vec::with_capacity(total);
    let mut insns = Vec::new();
    let mut rulesets = Vec::with_capacity(sets.len());
    let mut lowered: Vec<(Lowered, &Rule)> = Vec::with_capacity(total);
    for (si, set) in sets.iter().enumerate() {
        let first = rules.len() as u32;
        for (ri, r) in set.rules.iter().enumerate() {
            if r.conditions.len() > MAX_FIELDS {
                return Err(CompileError::TooManyFields {
                    at: origin(r),
                    count: r.conditions.len(),
                    max: MAX_FIELDS,
                });
            }
            let lw = lower(r, &mut strings);
            if lw.longest_string > MAX_STRING {
                return Err(CompileError::StringTooLong {
                    at: origin(r),
                    len: lw.longest_string,
                    max: MAX_STRING,
                });
            }
            let joined = r.keys.join("\u{1}");
            if joined.len() > MAX_KEY_LEN {
                return Err(CompileError::KeyTooLong {
                    at: origin(r),
                    len: joined.len(),
                    max: MAX_KEY_LEN,
                });
            }
            let key = if r.keys.is_empty() {
                NONE
            } else {
                strings.intern(joined.as_bytes())
            };
            let mask = match (&r.syscalls, lw.table) {
                (Syscalls::Set(_), TableKind::Exit | TableKind::Names | TableKind::IoUring) => {
                    let m = base_mask(r);
                    let next = masks.len() as u32;
                    *mask_ids.entry(m).or_insert_with(|| {
                        masks.push(m);
                        next
                    })
                }
                _ => NONE,
            };
            rules.push(RuleHeader {
                ruleset: si as u32,
                index: ri as u32,
                list: r.list.kernel_number(),
                action: if r.action == Action::Always { 2 } else { 0 },
                insn_off: insns.len() as u32,
                insn_len: lw.insns.len() as u32,
                mask,
                key,
                flags: lw.flags,
            });
            insns.extend_from_slice(&lw.insns);
            lowered.push((lw, r));
        }
        rulesets.push(RulesetInfo {
            first,
            count: rules.len() as u32 - first,
        });
    }

    let in_table = |k: TableKind| {
        lowered
            .iter()
            .filter(move |(l, _)| l.table == k)
            .map(|(_, r)| *r)
    };
    let exit_arches = slot_arches(
        &[AUDIT_ARCH_X86_64, AUDIT_ARCH_I386],
        in_table(TableKind::Exit).chain(in_table(TableKind::Names)),
    );
    // i386 always has its own slot: its perm= classes differ, and the default slot uses the
    // native ones.
    let uring_arches = slot_arches(
        &[AUDIT_ARCH_X86_64, AUDIT_ARCH_I386],
        in_table(TableKind::IoUring),
    );
    for arches in [&exit_arches, &uring_arches] {
        if arches.len() > MAX_ARCH_SLOTS {
            return Err(CompileError::TooManyArches {
                count: arches.len() - 1,
                max: MAX_ARCH_SLOTS - 1,
            });
        }
    }
    let mut tables: Vec<TableB> = TableKind::ALL
        .iter()
        .map(|k| match k {
            TableKind::Exit => TableB::new(*k, &exit_arches),
            TableKind::IoUring => TableB::new(*k, &uring_arches),
            _ => TableB::new(*k, &[]),
        })
        .collect();
    let mut buckets: Buckets = HashMap::default();

    // Crowding of the per-syscall lists, to decide which rules move to the (field, syscall)
    // index.
    let mut crowd: HashMap<(TableKind, usize, u32), usize> = HashMap::new();
    let mut slot_masks: Vec<Vec<SyscallMask>> = Vec::with_capacity(lowered.len());
    for (lw, r) in &lowered {
        let arches = match lw.table {
            TableKind::Exit | TableKind::Names => &exit_arches[..],
            TableKind::IoUring => &uring_arches[..],
            _ => &[][..],
        };
        let per_slot: Vec<SyscallMask> = arches.iter().map(|a| effective_mask(r, *a)).collect();
        if lw.table != TableKind::Names && is_restricted(r) {
            for (si, m) in per_slot.iter().enumerate() {
                for nr in m.iter() {
                    *crowd.entry((lw.table, si, nr)).or_default() += 1;
                }
            }
        }
        slot_masks.push(per_slot);
    }

    for (id, ((lw, r), per_slot)) in lowered.iter().zip(&slot_masks).enumerate() {
        let id32 = id as u32;
        if rules[id].flags & super::layout::RULE_NEVER != 0 {
            continue;
        }
        let t = lw.table;
        let selector = matches!(t, TableKind::Exit | TableKind::Names | TableKind::IoUring);
        if selector {
            if per_slot.iter().all(SyscallMask::is_empty) {
                // No syscall on any arch can satisfy -S, arch= and perm= together.
                rules[id].flags |= super::layout::RULE_NEVER;
                continue;
            }
            let bitmap_table = if t == TableKind::Names {
                TableKind::Exit
            } else {
                t
            };
            for (slot, m) in tables[bitmap_table as usize].slots.iter_mut().zip(per_slot) {
                slot.1.union(m);
            }
        }
        let tb = &mut tables[t as usize];
        tb.rules += 1;
        if t == TableKind::Fs {
            if lw.keys.is_empty() {
                tb.residual.push(id32);
            }
            for (f, v) in &lw.keys {
                buckets
                    .entry(key(t, *f, SEL_ANY, *v))
                    .or_default()
                    .push(id32);
                tb.index_any |= f.bit();
            }
            continue;
        }
        let restricted = selector && t != TableKind::Names && is_restricted(r);
        if restricted {
            let crowded = per_slot.iter().enumerate().any(|(si, m)| {
                m.iter()
                    .any(|nr| crowd.get(&(t, si, nr)).copied().unwrap_or(0) > opts.crowded_list)
            });
            if crowded && !lw.keys.is_empty() {
                let mut all = SyscallMask::EMPTY;
                for m in per_slot {
                    all.union(m);
                }
                let first = all.iter().next().unwrap_or(0);
                let (f, v) = choose(&lw.keys, t, first, &buckets);
                for nr in all.iter() {
                    buckets.entry(key(t, f, nr, v)).or_default().push(id32);
                }
                tb.index_sel |= f.bit();
            } else {
                for (slot, m) in tb.slots.iter_mut().zip(per_slot) {
                    for nr in m.iter() {
                        slot.2.entry(nr).or_default().push(id32);
                    }
                }
            }
        } else if lw.keys.is_empty() {
            if selector && t != TableKind::Names {
                // Per arch, so a rule that names one arch costs the others nothing.
                for (slot, m) in tb.slots.iter_mut().zip(per_slot) {
                    if !m.is_empty() {
                        slot.3.push(id32);
                    }
                }
            } else {
                tb.residual.push(id32);
            }
        } else {
            let (f, v) = choose(&lw.keys, t, SEL_ANY, &buckets);
            buckets.entry(key(t, f, SEL_ANY, v)).or_default().push(id32);
            tb.index_any |= f.bit();
        }
    }

    // Flatten every list into `cands`.
    let mut cands: Vec<u32> = Vec::new();
    let mut flat = |ids: &[u32], what: &dyn Fn() -> String| -> Result<ListRef, CompileError> {
        if ids.len() > MAX_LIST_LEN {
            return Err(CompileError::ListTooLong {
                what: what(),
                len: ids.len(),
                max: MAX_LIST_LEN,
            });
        }
        if ids.is_empty() {
            return Ok(ListRef::default());
        }
        let r = ListRef {
            off: cands.len() as u32,
            len: ids.len() as u32,
        };
        cands.extend_from_slice(ids);
        Ok(r)
    };
    let mut out_tables = Vec::with_capacity(tables.len());
    for tb in &tables {
        let mut slots = Vec::with_capacity(tb.slots.len());
        for (arch, bitmap, lists, residual) in &tb.slots {
            // A slot without per-syscall lists keeps none (every lookup reads as empty).
            let mut refs = if lists.is_empty() {
                Vec::new()
            } else {
                vec![ListRef::default(); SYSCALL_BITS]
            };
            let mut nrs: Vec<&u32> = lists.keys().collect();
            nrs.sort_unstable();
            for nr in nrs {
                refs[*nr as usize] = flat(&lists[nr], &|| {
                    format!("the {:?} list of syscall {nr} (arch {arch:#x})", tb.kind)
                })?;
            }
            let residual = flat(residual, &|| {
                format!(
                    "the {:?} residual list of arch {arch:#x} (rules with no -S and no = field)",
                    tb.kind
                )
            })?;
            slots.push(ArchSlot {
                arch: *arch,
                bitmap: *bitmap,
                lists: refs,
                residual,
            });
        }
        out_tables.push(Table {
            kind: tb.kind,
            rules: tb.rules,
            slots,
            index_any: tb.index_any,
            index_sel: tb.index_sel,
            residual: flat(&tb.residual, &|| {
                format!(
                    "the {:?} residual list (rules with no -S and no = field)",
                    tb.kind
                )
            })?,
        });
    }
    let mut index = HashMap::with_capacity_and_hasher(buckets.len(), FastHash);
    let mut sorted: Vec<(&IndexKey, &Vec<u32>)> = buckets.iter().collect();
    // A stable layout: same rules, same bytes.
    sorted.sort_by_key(|(k, _)| (k.table, k.field, k.sel, k.value));
    for (k, ids) in sorted {
        let r = flat(ids, &|| {
            format!(
                "the index bucket {:?}={} of the {:?} table",
                IndexField::ALL[k.field as usize],
                k.value,
                TableKind::ALL[k.table as usize]
            )
        })?;
        index.insert(*k, r);
    }
    Ok(CompiledSet {
        rulesets,
        rules,
        insns,
        masks,
        cands,
        strings: strings.list,
        tables: out_tables,
        index,
    })
}
