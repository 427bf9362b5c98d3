//! The compiled set as BPF walks it. Results never change, only where rules are found:
//! - `dir=` buckets (keyed by the hash of a path string) become part of the per-syscall
//!   lists (and the task residual): BPF tests a candidate's cheap conditions (`perm=`, ids)
//!   first and walks an object's ancestors only for the few that pass;
//! - `exe=` buckets are keyed by the executable's (device, inode) and by its parent
//!   directory and name, as BPF finds them for the task's `mm->exe_file`;
//! - watches (`path=` in the inode phase) get the same two keys, plus their last component
//!   (a relative name BPF cannot place fully), besides the compiled keys of absolute names;
//! - every directory at or above a `dir=` operand is marked (a relative name below one
//!   cannot be placed);
//! - per syscall, what the inode phase's perm prefilter needs.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;

use vigil_abi::{
    VIGIL_AUDIT_ARCH_I386, VIGIL_AUDIT_ARCH_X86_64, VIGIL_RXSI_F_NAMES, VIGIL_RXSI_F_NAMES_NOPERM,
    VIGIL_RX_PK_BASE, VIGIL_RX_PK_DIRANC, VIGIL_RX_PK_EXE_OBJ, VIGIL_RX_PK_EXE_PARENT,
    VIGIL_RX_PK_OBJ, VIGIL_RX_PK_PARENT,
};
use vigil_rules::ast::FilterList;
use vigil_rules::compile::hash::fnv1a;
use vigil_rules::compile::layout::{
    CompiledSet, IndexField, ListRef, TableKind, INSN_STR, RULE_NAME_SCOPED, SEL_ANY,
};

use super::rule_mask;
use crate::paths::{self, FileId, PathInfo, FIELD_DIR, FIELD_EXE, FIELD_WATCH};

const FIELD_GID: u16 = 5;
const FIELD_EGID: u16 = 6;
const FIELD_PERM: u16 = 106;
const OP_EQ: u8 = 0;
const OP_NE: u8 = 1;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// `vigil_fid_key` (`lib/rules_obj.h`).
pub fn fid_key(f: FileId) -> u64 {
    f.ino ^ (u64::from(f.dev) << 32)
}

/// `vigil_parent_key` (`lib/rules_obj.h`).
pub fn parent_key(parent: FileId, name_hash: u64) -> u64 {
    name_hash ^ fid_key(parent).wrapping_mul(FNV_PRIME)
}

/// An index key as BPF looks it up (without the generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub table: u8,
    pub field: u8,
    pub sel: u32,
    pub value: u64,
}

/// The set placed for BPF.
#[derive(Debug, Default)]
pub struct Placed {
    /// Candidate ids appended after `set.cands` (lists built here).
    pub extra_cands: Vec<u32>,
    /// Per arch index (0 x86_64, 1 i386): syscall -> the list BPF walks.
    pub lists: [BTreeMap<u32, ListRef>; 2],
    pub index: Vec<(Key, ListRef)>,
    pub index_any: u64,
    pub index_sel: u64,
    pub task_index_any: u64,
    pub task_residual: ListRef,
    pub names_index_any: u64,
    /// Path operands (string id -> what they resolve to).
    pub paths: BTreeMap<u32, PathInfo>,
    /// Per arch index: syscall -> (union of perm= classes, `VIGIL_RXSI_F_*`).
    pub sysinfo: [BTreeMap<u32, (u8, u8)>; 2],
    /// Some rule tests `gid=`/`egid=` with `=`/`!=` (supplementary groups).
    pub groups: bool,
    /// The task list has an `always` rule (every syscall is a candidate).
    pub task_always: bool,
    /// Some watched path (`path=`) ends with `/`.
    pub slash_watch: bool,
}

const ARCHES: [u32; 2] = [VIGIL_AUDIT_ARCH_X86_64, VIGIL_AUDIT_ARCH_I386];

impl Placed {
    fn list(&mut self, base: usize, ids: &[u32]) -> ListRef {
        let off = (base + self.extra_cands.len()) as u32;
        self.extra_cands.extend_from_slice(ids);
        ListRef {
            off,
            len: ids.len() as u32,
        }
    }
}

fn merged(a: &[u32], b: &BTreeSet<u32>) -> Vec<u32> {
    let mut v: Vec<u32> = a.iter().copied().chain(b.iter().copied()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// String ids of rule `id`'s `=` conditions on `field` whose hash is `value`.
fn operands(set: &CompiledSet, id: u32, field: u16, value: u64) -> Vec<u32> {
    let Some(r) = set.rules.get(id as usize) else {
        return Vec::new();
    };
    set.program(r)
        .iter()
        .filter(|i| i.field == field && i.op == OP_EQ && i.flags & INSN_STR != 0)
        .filter(|i| {
            set.strings
                .get(i.arg as usize)
                .is_some_and(|s| fnv1a(s) == value)
        })
        .map(|i| i.arg)
        .collect()
}

/// Every directory at or above `dir` (the operand resolved, symbolic links followed).
fn dir_ancestors(dir: &[u8]) -> Vec<FileId> {
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(dir));
    let Ok(real) = std::fs::canonicalize(p) else {
        return Vec::new();
    };
    real.ancestors()
        .filter_map(|a| paths::resolve(a.as_os_str().as_bytes()).obj)
        .collect()
}

/// Places `set` for BPF (resolving its path operands now).
pub fn place(set: &CompiledSet) -> Placed {
    let mut p = Placed {
        paths: paths::resolve_all(set),
        ..Placed::default()
    };
    let base = set.cands.len();
    let exit = set.table(TableKind::Exit);
    let dir_bit = IndexField::Dir.bit();
    p.index_any = exit.index_any & !dir_bit;
    p.index_sel = exit.index_sel & !dir_bit;
    p.task_index_any = set.table(TableKind::Task).index_any & !dir_bit;
    p.names_index_any = set.table(TableKind::Names).index_any;

    // dir= rules join the lists of their syscalls (or the task residual).
    let mut dir_rules: [BTreeMap<u32, BTreeSet<u32>>; 2] = Default::default();
    let mut task_dir: BTreeSet<u32> = BTreeSet::new();
    let mut buckets: BTreeMap<Key, BTreeSet<u32>> = BTreeMap::new();
    let mut put = |k: Key, ids: &[u32]| buckets.entry(k).or_default().extend(ids);
    for (k, l) in &set.index {
        let ids = set.list(*l);
        let table = k.table;
        let is = |t: TableKind| table == t as u8;
        if (is(TableKind::Exit) || is(TableKind::Task)) && k.field == IndexField::Dir as u8 {
            if is(TableKind::Task) {
                task_dir.extend(ids);
                continue;
            }
            for &id in ids {
                for (a, arch) in ARCHES.iter().enumerate() {
                    let m = rule_mask(set, id, *arch);
                    if k.sel == SEL_ANY {
                        for nr in m.iter() {
                            dir_rules[a].entry(nr).or_default().insert(id);
                        }
                    } else if m.contains(k.sel) {
                        dir_rules[a].entry(k.sel).or_default().insert(id);
                    }
                }
            }
        } else if (is(TableKind::Exit) || is(TableKind::Task)) && k.field == IndexField::Exe as u8 {
            for &id in ids {
                for s in operands(set, id, FIELD_EXE, k.value) {
                    let Some(info) = p.paths.get(&s).copied() else {
                        continue;
                    };
                    if let Some(o) = info.obj {
                        put(
                            Key {
                                table,
                                field: VIGIL_RX_PK_EXE_OBJ as u8,
                                sel: k.sel,
                                value: fid_key(o),
                            },
                            &[id],
                        );
                    }
                    if let Some(d) = info.parent {
                        put(
                            Key {
                                table,
                                field: VIGIL_RX_PK_EXE_PARENT as u8,
                                sel: k.sel,
                                value: parent_key(d, info.base_hash),
                            },
                            &[id],
                        );
                    }
                }
            }
        } else if is(TableKind::Exit) || is(TableKind::Task) || is(TableKind::Names) {
            put(
                Key {
                    table,
                    field: k.field,
                    sel: k.sel,
                    value: k.value,
                },
                ids,
            );
            if is(TableKind::Names) && k.field == IndexField::Path as u8 {
                for &id in ids {
                    for s in operands(set, id, FIELD_WATCH, k.value) {
                        let Some(info) = p.paths.get(&s).copied() else {
                            continue;
                        };
                        let key = |field: u32, value: u64| Key {
                            table,
                            field: field as u8,
                            sel: SEL_ANY,
                            value,
                        };
                        if let Some(o) = info.obj {
                            put(key(VIGIL_RX_PK_OBJ, fid_key(o)), &[id]);
                        }
                        if let Some(d) = info.parent {
                            put(
                                key(VIGIL_RX_PK_PARENT, parent_key(d, info.base_hash)),
                                &[id],
                            );
                        }
                        put(key(VIGIL_RX_PK_BASE, info.base_hash), &[id]);
                    }
                }
            }
        }
    }
    // Directories at or above a dir= operand (presence only).
    for (s, _) in paths::path_operands(set)
        .iter()
        .filter(|(_, f)| **f == FIELD_DIR)
    {
        let Some(dir) = set.strings.get(*s as usize) else {
            continue;
        };
        for a in dir_ancestors(dir) {
            buckets
                .entry(Key {
                    table: TableKind::Exit as u8,
                    field: VIGIL_RX_PK_DIRANC as u8,
                    sel: SEL_ANY,
                    value: fid_key(a),
                })
                .or_default();
        }
    }
    for (k, ids) in buckets {
        let ids: Vec<u32> = ids.into_iter().collect();
        let l = if ids.is_empty() {
            ListRef::default()
        } else {
            p.list(base, &ids)
        };
        p.index.push((k, l));
    }

    // The lists BPF walks per syscall.
    for (a, arch) in ARCHES.iter().enumerate() {
        let Some(slot) = super::slot_for(&exit.slots, *arch) else {
            continue;
        };
        let mut nrs: BTreeSet<u32> = dir_rules[a].keys().copied().collect();
        for (nr, l) in slot.lists.iter().enumerate() {
            if l.len != 0 {
                nrs.insert(nr as u32);
            }
        }
        for nr in nrs {
            let own = slot.lists.get(nr as usize).copied().unwrap_or_default();
            let l = match dir_rules[a].get(&nr) {
                Some(extra) => {
                    let v = merged(set.list(own), extra);
                    p.list(base, &v)
                }
                None => own,
            };
            p.lists[a].insert(nr, l);
        }
    }
    let task = set.table(TableKind::Task);
    p.task_residual = if task_dir.is_empty() {
        task.residual
    } else {
        let v = merged(set.list(task.residual), &task_dir);
        p.list(base, &v)
    };

    // The inode phase's perm prefilter, per syscall.
    for (id, r) in set.rules.iter().enumerate() {
        if r.flags & RULE_NAME_SCOPED == 0 {
            continue;
        }
        let perms: Vec<u8> = set
            .program(r)
            .iter()
            .filter(|i| i.field == FIELD_PERM && i.op != OP_NE)
            .map(|i| i.value as u8)
            .collect();
        for (a, arch) in ARCHES.iter().enumerate() {
            for nr in rule_mask(set, id as u32, *arch).iter() {
                let e = p.sysinfo[a].entry(nr).or_insert((0, 0));
                e.1 |= VIGIL_RXSI_F_NAMES as u8;
                if perms.is_empty() {
                    e.1 |= VIGIL_RXSI_F_NAMES_NOPERM as u8;
                }
                for v in &perms {
                    e.0 |= v;
                }
            }
        }
    }
    p.groups = set
        .insns
        .iter()
        .any(|i| matches!(i.field, FIELD_GID | FIELD_EGID) && i.op <= OP_NE);
    p.slash_watch = paths::path_operands(set)
        .iter()
        .any(|(s, f)| *f == FIELD_WATCH && p.paths.get(s).is_some_and(|i| i.slash));
    p.task_always = set
        .rules
        .iter()
        .any(|r| r.list == FilterList::Task.kernel_number() && r.action == 2);
    p
}
