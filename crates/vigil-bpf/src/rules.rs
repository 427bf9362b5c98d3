//! Writing vigil-rules' compiled rule index (`CompiledSet`, docs/design/rule-index.md) into
//! one generation of the `vigil_rx_*` maps, and what BPF leaves to user space.
//!
//! BPF evaluates the exit table's first phase for the fields listed in `lib/rules.h`. When
//! the set needs what BPF does not gather (the task or inode-phase tables, index fields like
//! exe/dir/contid), every candidate is sent *undecided* and user space judges it with
//! `CompiledSet::evaluate` (see [`crate::convert::to_event_input`]).

use aya::maps::{Array, HashMap, MapData};
use vigil_abi::{
    Genconf, RxInsn, RxKey, RxList, RxRule, Sysmask, VIGIL_ARCH_IDX_I386, VIGIL_ARCH_IDX_X86_64,
    VIGIL_AUDIT_ARCH_I386, VIGIL_AUDIT_ARCH_X86_64, VIGIL_CONF_F_ALL_UNDECIDED, VIGIL_CONF_F_RULES,
    VIGIL_MAX_RULESETS, VIGIL_MAX_SYSCALL, VIGIL_NR_ARCH, VIGIL_RX_TABLE_EXIT,
};
use vigil_rules::compile::layout::{ArchSlot, CompiledSet, IndexField, ListRef, TableKind};

use crate::error::{Error, Result};

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
    if task.rules != 0 {
        return Some(format!(
            "{} task-list rules (task storage cache not yet in BPF)",
            task.rules
        ));
    }
    let names = set.table(TableKind::Names);
    if names.rules != 0 {
        return Some(format!(
            "{} path/inode (watch) rules (inode phase not yet in BPF)",
            names.rules
        ));
    }
    let exit = set.table(TableKind::Exit);
    let gathered = GATHERED.iter().fold(0u64, |m, f| m | f.bit());
    let missing = (exit.index_any | exit.index_sel) & !gathered;
    if missing != 0 {
        let names: Vec<String> = IndexField::ALL
            .iter()
            .filter(|f| missing & f.bit() != 0)
            .map(|f| format!("{f:?}"))
            .collect();
        return Some(format!(
            "index on {} (not gathered in BPF)",
            names.join(", ")
        ));
    }
    None
}

/// Typed handles of the rule-index maps.
pub(crate) struct RxMaps {
    pub rules: Array<MapData, [u8; RxRule::SIZE]>,
    pub insns: Array<MapData, [u8; RxInsn::SIZE]>,
    pub cands: Array<MapData, [u8; 4]>,
    pub masks: Array<MapData, [u8; Sysmask::SIZE]>,
    pub lists: Array<MapData, [u8; RxList::SIZE]>,
    pub index: HashMap<MapData, [u8; RxKey::SIZE], [u8; RxList::SIZE]>,
    pub caps: RuleCaps,
    /// Per generation: keys written to `lists` and `index`, cleared before reuse.
    written_lists: [Vec<u32>; 2],
    written_index: [Vec<[u8; RxKey::SIZE]>; 2],
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
    pub fn new(
        rules: Array<MapData, [u8; RxRule::SIZE]>,
        insns: Array<MapData, [u8; RxInsn::SIZE]>,
        cands: Array<MapData, [u8; 4]>,
        masks: Array<MapData, [u8; Sysmask::SIZE]>,
        lists: Array<MapData, [u8; RxList::SIZE]>,
        index: HashMap<MapData, [u8; RxKey::SIZE], [u8; RxList::SIZE]>,
        caps: RuleCaps,
    ) -> RxMaps {
        RxMaps {
            rules,
            insns,
            cands,
            masks,
            lists,
            index,
            caps,
            written_lists: [Vec::new(), Vec::new()],
            written_index: [Vec::new(), Vec::new()],
        }
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
