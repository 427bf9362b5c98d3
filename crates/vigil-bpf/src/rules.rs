//! Writing vigil-rules' compiled rule index (`CompiledSet`, docs/design/rule-index.md) into
//! one generation of the `vigil_rx_*` maps ([`place`] arranges it for BPF), and what BPF
//! leaves to user space.
//!
//! BPF judges the task list, the exit list and the inode phase (`lib/rules*.h`). What it
//! cannot judge goes to user space *undecided*, to be judged with `CompiledSet::evaluate`
//! (see [`crate::verdict`]): the syscalls of exit rules indexed by a container id; single
//! rule sets whose candidate has a condition BPF does not evaluate (LSM labels, contid) or an
//! object it cannot place.

mod place;

use std::collections::BTreeMap;

use aya::maps::{Array, HashMap, MapData};
use vigil_abi::{
    Genconf, RxInsn, RxKey, RxList, RxPath, RxPathkey, RxRule, RxSysinfo, Sysmask,
    VIGIL_ARCH_IDX_I386, VIGIL_ARCH_IDX_X86_64, VIGIL_AUDIT_ARCH_I386, VIGIL_AUDIT_ARCH_X86_64,
    VIGIL_CONF_F_GROUPS, VIGIL_CONF_F_NAMES, VIGIL_CONF_F_OBJ_UNDECIDED, VIGIL_CONF_F_RULES,
    VIGIL_CONF_F_SLASH_WATCH, VIGIL_CONF_F_SOME_UNDECIDED, VIGIL_CONF_F_TASK, VIGIL_MAX_RULESETS,
    VIGIL_MAX_SYSCALL, VIGIL_NR_ARCH, VIGIL_RXP_F_OBJ, VIGIL_RXP_F_PARENT, VIGIL_RXP_F_SLASH,
};
use vigil_rules::compile::classes::perm_syscalls;
use vigil_rules::compile::layout::{
    ArchSlot, CompiledSet, IndexField, ListRef, SyscallMask, TableKind, NONE, SEL_ANY,
};
use vigil_rules::tables::SYSCALL_CLASS_FIRST;

use crate::error::{Error, Result};
use crate::paths::PathInfo;
pub use place::{fid_key, parent_key};

/// Capacity of each generation's half of the rule-index maps (entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleCaps {
    pub rules: u32,
    pub insns: u32,
    pub cands: u32,
    pub masks: u32,
    /// Index buckets (both generations share the hash map).
    pub index: u32,
    /// Path operands (`path=`, `dir=`, `exe=`) resolved per generation.
    pub paths: u32,
}

impl Default for RuleCaps {
    fn default() -> Self {
        RuleCaps {
            rules: 16_384,
            insns: 65_536,
            cands: 262_144,
            masks: 1024,
            index: 65_536,
            paths: 8192,
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
    // By (device, inode) and parent + name: `place`.
    IndexField::Exe,
    // Moved into the per-syscall lists: `place`.
    IndexField::Dir,
];

/// Why the whole set is left to user space, if it is (nothing today: kept for kernels
/// where a part of the walk cannot run in BPF).
pub fn all_undecided_reason(_set: &CompiledSet) -> Option<String> {
    None
}

/// The syscalls of rules BPF cannot judge (exit rules indexed by a field BPF does not
/// gather: container ids), per arch (`VIGIL_ARCH_IDX_*`), and why; `None` when there are
/// none. Events of those syscalls go to user space undecided.
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
    let mut fields = 0u64;
    for (k, l) in &set.index {
        if k.table == TableKind::Exit as u8 && (1u64 << k.field) & gathered == 0 {
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
pub(crate) fn rule_mask(set: &CompiledSet, id: u32, arch: u32) -> SyscallMask {
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
    pub sysinfo: Array<MapData, [u8; RxSysinfo::SIZE]>,
    pub index: HashMap<MapData, [u8; RxKey::SIZE], [u8; RxList::SIZE]>,
    pub paths: HashMap<MapData, [u8; RxPathkey::SIZE], [u8; RxPath::SIZE]>,
    pub caps: RuleCaps,
    /// Per generation: keys written to `lists`, `sysinfo`, `index` and `paths`, cleared
    /// before the generation is written again.
    written_lists: [Vec<u32>; 2],
    written_sysinfo: [Vec<u32>; 2],
    written_index: [Vec<[u8; RxKey::SIZE]>; 2],
    written_paths: [Vec<[u8; RxPathkey::SIZE]>; 2],
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
pub(crate) fn slot_for(slots: &[ArchSlot], arch: u32) -> Option<&ArchSlot> {
    slots
        .iter()
        .find(|s| s.arch == arch)
        .or_else(|| slots.last())
}

fn flag(on: bool, f: u32) -> u32 {
    if on {
        f
    } else {
        0
    }
}

fn remove_all<K: aya::Pod, V: aya::Pod>(
    map: &mut HashMap<MapData, K, V>,
    keys: Vec<K>,
    name: &'static str,
) -> Result<()> {
    for key in keys {
        match map.remove(&key) {
            Ok(()) | Err(aya::maps::MapError::KeyNotFound) => {}
            Err(e) => return Err(map_err(name)(e)),
        }
    }
    Ok(())
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
            sysinfo: one(ebpf, "vigil_rx_sysinfo")?,
            index: one(ebpf, "vigil_rx_index")?,
            paths: one(ebpf, "vigil_rx_paths")?,
            caps,
            written_lists: [Vec::new(), Vec::new()],
            written_sysinfo: [Vec::new(), Vec::new()],
            written_index: [Vec::new(), Vec::new()],
            written_paths: [Vec::new(), Vec::new()],
            resolved: BTreeMap::new(),
        })
    }

    /// Whether a path `set` names resolves to another object than when it was written.
    pub fn paths_changed(&self, set: &CompiledSet) -> bool {
        crate::paths::resolve_all(set) != self.resolved
    }

    /// Clears what generation half `g` held (lists and buckets are looked up by key;
    /// everything else is only reached through them).
    fn clear(&mut self, g: usize) -> Result<()> {
        for key in std::mem::take(&mut self.written_lists[g]) {
            self.lists
                .set(key, [0; RxList::SIZE], 0)
                .map_err(map_err("vigil_rx_lists"))?;
        }
        for key in std::mem::take(&mut self.written_sysinfo[g]) {
            self.sysinfo
                .set(key, [0; RxSysinfo::SIZE], 0)
                .map_err(map_err("vigil_rx_sysinfo"))?;
        }
        remove_all(
            &mut self.index,
            std::mem::take(&mut self.written_index[g]),
            "vigil_rx_index",
        )?;
        remove_all(
            &mut self.paths,
            std::mem::take(&mut self.written_paths[g]),
            "vigil_rx_paths",
        )
    }

    /// Writes `set` into generation half `gen` (not live); returns its genconf and per-arch
    /// bitmaps (the O(1) reject).
    #[allow(clippy::too_many_lines)]
    pub fn write(&mut self, gen: u32, set: &CompiledSet) -> Result<(Genconf, [Sysmask; 2])> {
        let c = self.caps;
        let placed = place::place(set);
        too_big("rules", set.rules.len(), c.rules)?;
        too_big("instructions", set.insns.len(), c.insns)?;
        too_big(
            "candidate ids",
            set.cands.len() + placed.extra_cands.len(),
            c.cands,
        )?;
        too_big("syscall masks", set.masks.len(), c.masks)?;
        too_big("index buckets", placed.index.len(), c.index)?;
        too_big("path operands", placed.paths.len(), c.paths)?;
        if set.rulesets.len() > VIGIL_MAX_RULESETS as usize {
            return Err(Error::Filter(format!(
                "{} rule sets; at most 64",
                set.rulesets.len()
            )));
        }
        let g = gen as usize & 1;
        self.clear(g)?;
        self.resolved.clone_from(&placed.paths);

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
        for (i, id) in set.cands.iter().chain(&placed.extra_cands).enumerate() {
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
            for (&nr, l) in &placed.lists[idx as usize] {
                if nr >= VIGIL_MAX_SYSCALL || l.len == 0 {
                    continue;
                }
                let key = (gen * VIGIL_NR_ARCH + idx) * VIGIL_MAX_SYSCALL + nr;
                let v = list(*l);
                self.lists
                    .set(key, enc(|o| v.write(o)), 0)
                    .map_err(map_err("vigil_rx_lists"))?;
                self.written_lists[g].push(key);
            }
            for (&nr, &(perm, flags)) in &placed.sysinfo[idx as usize] {
                if nr >= VIGIL_MAX_SYSCALL {
                    continue;
                }
                let key = (gen * VIGIL_NR_ARCH + idx) * VIGIL_MAX_SYSCALL + nr;
                let v = RxSysinfo {
                    names_perm: perm,
                    flags,
                    pad0: 0,
                };
                self.sysinfo
                    .set(key, enc(|o| v.write(o)), 0)
                    .map_err(map_err("vigil_rx_sysinfo"))?;
                self.written_sysinfo[g].push(key);
            }
        }
        for (k, l) in &placed.index {
            let key = RxKey {
                table: k.table,
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
        for (&str_id, info) in &placed.paths {
            let key = RxPathkey {
                generation: gen,
                str: str_id,
            };
            let obj = info.obj.unwrap_or_default();
            let parent = info.parent.unwrap_or_default();
            let v = RxPath {
                obj_ino: obj.ino,
                parent_ino: parent.ino,
                base_hash: info.base_hash,
                full_hash: info.full_hash,
                obj_dev: obj.dev,
                parent_dev: parent.dev,
                flags: flag(info.obj.is_some(), VIGIL_RXP_F_OBJ)
                    | flag(info.parent.is_some(), VIGIL_RXP_F_PARENT)
                    | flag(info.slash, VIGIL_RXP_F_SLASH),
                pad0: 0,
            };
            let kb = enc(|o| key.write(o));
            self.paths
                .insert(kb, enc(|o| v.write(o)), 0)
                .map_err(map_err("vigil_rx_paths"))?;
            self.written_paths[g].push(kb);
        }

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
        if placed.task_always {
            // A task-list `always` rule wants every syscall of its tasks.
            for b in &mut bitmaps {
                b.bits = [u64::MAX; vigil_abi::VIGIL_SYSMASK_WORDS as usize];
            }
        }
        let conf = Genconf {
            flags: VIGIL_CONF_F_RULES
                | flag(some.is_some(), VIGIL_CONF_F_SOME_UNDECIDED)
                | flag(set.table(TableKind::Task).rules != 0, VIGIL_CONF_F_TASK)
                | flag(set.table(TableKind::Names).rules != 0, VIGIL_CONF_F_NAMES)
                | flag(
                    set.table(TableKind::Fs).rules != 0,
                    VIGIL_CONF_F_OBJ_UNDECIDED,
                )
                | flag(placed.groups, VIGIL_CONF_F_GROUPS)
                | flag(placed.slash_watch, VIGIL_CONF_F_SLASH_WATCH),
            nrulesets: set.rulesets.len() as u32,
            index_any: placed.index_any,
            index_sel: placed.index_sel,
            residual_x86_64: residual[VIGIL_ARCH_IDX_X86_64 as usize],
            residual_i386: residual[VIGIL_ARCH_IDX_I386 as usize],
            task_index_any: placed.task_index_any,
            task_residual: list(placed.task_residual),
            names_index_any: placed.names_index_any,
            names_residual: list(set.table(TableKind::Names).residual),
            ..Genconf::default()
        };
        Ok((conf, bitmaps))
    }
}
