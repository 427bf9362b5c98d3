//! Writing vigil-rules' compiled rule index (`CompiledSet`, docs/design/rule-index.md) into
//! one generation of the `vigil_rx_*` maps, and what BPF leaves to user space.
//!
//! BPF evaluates the exit table's first phase for the fields listed in `lib/rules.h`. What
//! it cannot judge goes to user space *undecided*, to be judged with
//! `CompiledSet::evaluate` (see [`crate::convert::to_event_input`]): every candidate when
//! the task list has rules; the syscalls of watch rules (inode phase) and of exit rules
//! indexed by exe/dir/contid; single rule sets whose candidate has such a condition.

use std::collections::BTreeMap;

use aya::maps::{Array, HashMap, MapData};
use vigil_abi::{
    Genconf, RxInsn, RxKey, RxList, RxRule, Sysmask, VIGIL_ARCH_IDX_I386, VIGIL_ARCH_IDX_X86_64,
    VIGIL_AUDIT_ARCH_I386, VIGIL_AUDIT_ARCH_X86_64, VIGIL_CONF_F_ALL_UNDECIDED, VIGIL_CONF_F_RULES,
    VIGIL_CONF_F_SOME_UNDECIDED, VIGIL_MAX_RULESETS, VIGIL_MAX_SYSCALL, VIGIL_NR_ARCH,
    VIGIL_RX_TABLE_EXIT,
};
use vigil_rules::compile::classes::perm_syscalls;
use vigil_rules::compile::layout::{
    ArchSlot, CompiledSet, IndexField, ListRef, SyscallMask, TableKind, NONE, SEL_ANY,
};
use vigil_rules::tables::SYSCALL_CLASS_FIRST;

use crate::error::{Error, Result};
use crate::paths::PathInfo;

/// Capacity of each generation's half of the rule-index maps (entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleCaps {
    pub rules: u32,
    pub insns: u32,
    pub cands: u32,
    pub masks: u32,
    /// Index buckets (both generations share the hash map).
    pub index: u32,
}

impl Default for RuleCaps {
    fn default() -> Self {
        RuleCaps {
            rules: 16_384,
            insns: 65_536,
            cands: 262_144,
            masks: 1024,
            index: 65_536,
        }
    }
}

/// Index fields the BPF side gathers itself (lib/rules.h `rx_index_value`).
const GATHERED: &[IndexField] = &[
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
    IndexField::Exit,
    IndexField::A0,
    IndexField::A1,
    IndexField::A2,
    IndexField::A3,
];

/// Why the whole set is left to user space, if it is.
pub fn all_undecided_reason(set: &CompiledSet) -> Option<String> {
    let task = set.table(TableKind::Task);
    (task.rules != 0).then(|| {
        format!(
            "{} task-list rules (task storage cache not yet in BPF)",
            task.rules
        )
    })
}

/// The syscalls of rules BPF cannot judge (watches: the inode phase; exit rules indexed by
/// a field BPF does not gather), per arch (`VIGIL_ARCH_IDX_*`), and why; `None` when there
/// are none. Events of those syscalls go to user space undecided.
pub fn undecided_syscalls(set: &CompiledSet) -> Option<(String, [SyscallMask; 2])> {
    let gathered = GATHERED.iter().fold(0u64, |m, f| m | f.bit());
    let mut masks = [SyscallMask::EMPTY, SyscallMask::EMPTY];
    let mut why = Vec::new();
    let archs = [VIGIL_AUDIT_ARCH_X86_64, VIGIL_AUDIT_ARCH_I386];
    let add_rule = |id: u32, masks: &mut [SyscallMask; 2]| {
        for (m, arch) in masks.iter_mut().zip(archs) {
            m.union(&rule_mask(set, id, arch));
        }
    };
    let names = set.table(TableKind::Names);
    if names.rules != 0 {
        why.push(format!("{} watch (path/inode) rules", names.rules));
        for id in set.list(names.residual) {
            add_rule(*id, &mut masks);
        }
    }
    let mut fields = 0u64;
    for (k, l) in &set.index {
        if k.table == TableKind::Names as u8 {
            for id in set.list(*l) {
                add_rule(*id, &mut masks);
            }
        } else if k.table == TableKind::Exit as u8 && (1u64 << k.field) & gathered == 0 {
            fields |= 1 << k.field;
            if k.sel == SEL_ANY {
                for id in set.list(*l) {
                    add_rule(*id, &mut masks);
                }
            } else {
                for m in &mut masks {
                    m.set(k.sel);
                }
            }
        }
    }
    if fields != 0 {
        let names: Vec<String> = IndexField::ALL
            .iter()
            .filter(|f| fields & f.bit() != 0)
            .map(|f| format!("{f:?}"))
            .collect();
        why.push(format!("exit rules indexed by {}", names.join(", ")));
    }
    (!why.is_empty()).then(|| (why.join("; "), masks))
}

/// Kernel `AUDIT_PERM` and `Audit_not_equal`.
const FIELD_PERM: u16 = 106;
const OP_NE: u8 = 1;

/// The syscalls rule `id` can match on `arch`: its `-S` mask narrowed by its `perm=`
/// conditions (a superset when `arch=` narrows it further: only costs, not results).
fn rule_mask(set: &CompiledSet, id: u32, arch: u32) -> SyscallMask {
    let Some(r) = set.rules.get(id as usize) else {
        return SyscallMask::EMPTY;
    };
    let mut m = if r.mask == NONE {
        SyscallMask::below(SYSCALL_CLASS_FIRST)
    } else {
        set.masks
            .get(r.mask as usize)
            .copied()
            .unwrap_or(SyscallMask::EMPTY)
    };
    for insn in set.program(r) {
        if insn.field == FIELD_PERM && insn.op != OP_NE {
            m.intersect(&perm_syscalls(arch, insn.value as u32));
        }
    }
    m
}

/// Typed handles of the rule-index maps.
pub(crate) struct RxMaps {
    pub rules: Array<MapData, [u8; RxRule::SIZE]>,
    pub insns: Array<MapData, [u8; RxInsn::SIZE]>,
    pub cands: Array<MapData, [u8; 4]>,
    pub masks: Array<MapData, [u8; Sysmask::SIZE]>,
    pub lists: Array<MapData, [u8; RxList::SIZE]>,
    pub umask: Array<MapData, [u8; Sysmask::SIZE]>,
    pub index: HashMap<MapData, [u8; RxKey::SIZE], [u8; RxList::SIZE]>,
    pub caps: RuleCaps,
    /// Per generation: keys written to `lists` and `index`, cleared before reuse.
    written_lists: [Vec<u32>; 2],
    written_index: [Vec<[u8; RxKey::SIZE]>; 2],
    /// The path operands of the live set, as resolved when it was written.
    resolved: BTreeMap<u32, PathInfo>,
}

fn enc<const N: usize>(write: impl FnOnce(&mut Vec<u8>)) -> [u8; N] {
    let mut v = Vec::with_capacity(N);
    write(&mut v);
    let mut a = [0u8; N];
    a.copy_from_slice(&v[..N]);
    a
}

fn map_err(name: &'static str) -> impl Fn(aya::maps::MapError) -> Error {
    move |source| Error::Map { name, source }
}

fn list(r: ListRef) -> RxList {
    RxList {
        off: r.off,
        len: r.len,
    }
}

fn too_big(what: &str, n: usize, cap: u32) -> Result<()> {
    if n > cap as usize {
        return Err(Error::Filter(format!(
            "compiled rules need {n} {what}; the BPF maps hold {cap} (LoadOptions::rule_caps)"
        )));
    }
    Ok(())
}

/// The slot of `arch` (or the default slot, last).
fn slot_for(slots: &[ArchSlot], arch: u32) -> Option<&ArchSlot> {
    slots
        .iter()
        .find(|s| s.arch == arch)
        .or_else(|| slots.last())
}

impl RxMaps {
    /// Takes the rule-index maps out of the loaded object.
    pub fn take(ebpf: &mut aya::Ebpf, caps: RuleCaps) -> Result<RxMaps> {
        fn one<T>(ebpf: &mut aya::Ebpf, name: &'static str) -> Result<T>
        where
            T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
        {
            let map = ebpf.take_map(name).ok_or(Error::MissingMap(name))?;
            T::try_from(map).map_err(map_err(name))
        }
        Ok(RxMaps {
            rules: one(ebpf, "vigil_rx_rules")?,
            insns: one(ebpf, "vigil_rx_insns")?,
            cands: one(ebpf, "vigil_rx_cands")?,
            masks: one(ebpf, "vigil_rx_masks")?,
            lists: one(ebpf, "vigil_rx_lists")?,
            umask: one(ebpf, "vigil_rx_umask")?,
            index: one(ebpf, "vigil_rx_index")?,
            caps,
            written_lists: [Vec::new(), Vec::new()],
            written_index: [Vec::new(), Vec::new()],
            resolved: BTreeMap::new(),
        })
    }

    /// Whether a path `set` names resolves to another object than when it was written.
    pub fn paths_changed(&self, set: &CompiledSet) -> bool {
        crate::paths::resolve_all(set) != self.resolved
    }

    /// Writes `set` into generation `gen` (not live); returns its genconf and per-arch
    /// bitmaps (the O(1) reject).
    pub fn write(&mut self, gen: u32, set: &CompiledSet) -> Result<(Genconf, [Sysmask; 2])> {
        let c = self.caps;
        too_big("rules", set.rules.len(), c.rules)?;
        too_big("instructions", set.insns.len(), c.insns)?;
        too_big("candidate ids", set.cands.len(), c.cands)?;
        too_big("syscall masks", set.masks.len(), c.masks)?;
        if set.rulesets.len() > VIGIL_MAX_RULESETS as usize {
            return Err(Error::Filter(format!(
                "{} rule sets; at most 64",
                set.rulesets.len()
            )));
        }
        let g = gen as usize & 1;
        self.resolved = crate::paths::resolve_all(set);

        // Clear what this generation's half held before (lists and buckets are looked up
        // by key; everything else is only reached through them).
        for key in std::mem::take(&mut self.written_lists[g]) {
            self.lists
                .set(key, [0; RxList::SIZE], 0)
                .map_err(map_err("vigil_rx_lists"))?;
        }
        for key in std::mem::take(&mut self.written_index[g]) {
            match self.index.remove(&key) {
                Ok(()) | Err(aya::maps::MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err("vigil_rx_index")(e)),
            }
        }

        for (id, r) in set.rules.iter().enumerate() {
            let v = RxRule {
                ruleset: r.ruleset,
                action: r.action,
                insn_off: r.insn_off,
                insn_len: r.insn_len,
                mask: r.mask,
                flags: r.flags,
            };
            self.rules
                .set(gen * c.rules + id as u32, enc(|o| v.write(o)), 0)
                .map_err(map_err("vigil_rx_rules"))?;
        }
        for (i, insn) in set.insns.iter().enumerate() {
            let v = RxInsn {
                field: insn.field,
                op: insn.op,
                flags: insn.flags,
                arg: insn.arg,
                value: insn.value,
            };
            self.insns
                .set(gen * c.insns + i as u32, enc(|o| v.write(o)), 0)
                .map_err(map_err("vigil_rx_insns"))?;
        }
        for (i, id) in set.cands.iter().enumerate() {
            self.cands
                .set(gen * c.cands + i as u32, id.to_ne_bytes(), 0)
                .map_err(map_err("vigil_rx_cands"))?;
        }
        for (i, m) in set.masks.iter().enumerate() {
            let v = Sysmask { bits: m.words };
            self.masks
                .set(gen * c.masks + i as u32, enc(|o| v.write(o)), 0)
                .map_err(map_err("vigil_rx_masks"))?;
        }

        let exit = set.table(TableKind::Exit);
        let mut bitmaps = [Sysmask::default(), Sysmask::default()];
        let mut residual = [RxList::default(), RxList::default()];
        for (arch, idx) in [
            (VIGIL_AUDIT_ARCH_X86_64, VIGIL_ARCH_IDX_X86_64),
            (VIGIL_AUDIT_ARCH_I386, VIGIL_ARCH_IDX_I386),
        ] {
            let Some(slot) = slot_for(&exit.slots, arch) else {
                continue;
            };
            bitmaps[idx as usize].bits = slot.bitmap.words;
            residual[idx as usize] = list(slot.residual);
            for (nr, l) in slot
                .lists
                .iter()
                .enumerate()
                .take(VIGIL_MAX_SYSCALL as usize)
            {
                if l.len == 0 {
                    continue;
                }
                let key = (gen * VIGIL_NR_ARCH + idx) * VIGIL_MAX_SYSCALL + nr as u32;
                let v = list(*l);
                self.lists
                    .set(key, enc(|o| v.write(o)), 0)
                    .map_err(map_err("vigil_rx_lists"))?;
                self.written_lists[g].push(key);
            }
        }
        let mut n_index = 0usize;
        for (k, l) in &set.index {
            if k.table != TableKind::Exit as u8 {
                continue;
            }
            n_index += 1;
            too_big("index buckets", n_index, c.index)?;
            let key = RxKey {
                table: VIGIL_RX_TABLE_EXIT as u8,
                field: k.field,
                generation: gen as u16,
                sel: k.sel,
                value: k.value,
            };
            let kb = enc(|o| key.write(o));
            let v = list(*l);
            self.index
                .insert(kb, enc(|o| v.write(o)), 0)
                .map_err(map_err("vigil_rx_index"))?;
            self.written_index[g].push(kb);
        }

        let undecided = all_undecided_reason(set);
        let some = undecided_syscalls(set);
        for (idx, m) in some
            .as_ref()
            .map_or([SyscallMask::EMPTY; 2], |s| s.1)
            .iter()
            .enumerate()
        {
            let v = Sysmask { bits: m.words };
            self.umask
                .set(gen * VIGIL_NR_ARCH + idx as u32, enc(|o| v.write(o)), 0)
                .map_err(map_err("vigil_rx_umask"))?;
        }
        if set.table(TableKind::Task).rules != 0 {
            // A task-list `always` rule wants every syscall of its tasks.
            for b in &mut bitmaps {
                b.bits = [u64::MAX; vigil_abi::VIGIL_SYSMASK_WORDS as usize];
            }
        }
        let conf = Genconf {
            flags: VIGIL_CONF_F_RULES
                | if undecided.is_some() {
                    VIGIL_CONF_F_ALL_UNDECIDED
                } else {
                    0
                }
                | if some.is_some() {
                    VIGIL_CONF_F_SOME_UNDECIDED
                } else {
                    0
                },
            nrulesets: set.rulesets.len() as u32,
            index_any: exit.index_any,
            index_sel: exit.index_sel,
            residual_x86_64: residual[VIGIL_ARCH_IDX_X86_64 as usize],
            residual_i386: residual[VIGIL_ARCH_IDX_I386 as usize],
            ..Genconf::default()
        };
        Ok((conf, bitmaps))
    }
}
