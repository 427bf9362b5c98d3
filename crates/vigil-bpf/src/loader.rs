//! Loading the object, attaching/detaching the syscall hook, and the atomic rule swap.
//!
//! Rule-dependent maps are double-buffered by generation: [`Loader::apply`] fills the
//! inactive half, flips `vigil_ctl.generation` (the programs read it once per event), then waits
//! for an RCU grace period (`membarrier(MEMBARRIER_CMD_GLOBAL)` runs `synchronize_rcu()`;
//! BPF tracepoint programs run inside RCU read sections) so that when `apply` returns no
//! program is still judging an event with the old half, which the next `apply` rewrites.
//!
//! No rules, no cost: while the filter names no syscall, no program is attached.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, Lsm, RawTracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use vigil_abi::{
    Ctl, Genconf, Percpu, Sysdesc, Sysmask, VIGIL_ARCH_IDX_I386, VIGIL_ARCH_IDX_X86_64,
    VIGIL_AUDIT_ARCH_I386, VIGIL_AUDIT_ARCH_X86_64, VIGIL_CONF_F_EMIT_ALL, VIGIL_CONF_F_TGID,
    VIGIL_CONF_F_UID, VIGIL_MAX_SYSCALL, VIGIL_NR_ARCH,
};
use vigil_rules::compile::layout::CompiledSet;

use crate::capture;
use crate::counters::Counters;
use crate::error::{Error, Result};
use crate::features::{self, Features};
use crate::object;
use crate::reader::EventReader;
use crate::rules::{RuleCaps, RxMaps};

/// The signal target program (progs/signal.c).
const SIGNAL_PROG: &str = "vigil_signal_generate";

/// Which flavour of the `sys_exit` program to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hook {
    /// `raw_tp/sys_exit`: reads the syscall's registers through a helper call.
    RawTp,
    /// `tp_btf/sys_exit` (default): the registers are a trusted BTF argument read with plain
    /// loads, which keeps the reject path of every syscall near the bare hook's cost
    /// (docs/BENCHMARKS.md). Needs kernel BTF, which the programs need anyway.
    #[default]
    TpBtf,
}

impl Hook {
    fn program(self) -> &'static str {
        match self {
            Hook::RawTp => "vigil_sys_exit",
            Hook::TpBtf => "vigil_sys_exit_btf",
        }
    }
}

/// Options of [`Loader::load`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Ring buffer size in bytes (a power of two, multiple of the page size).
    pub ringbuf_bytes: u32,
    pub hook: Hook,
    /// Exclude the loading process from auditing (vigil's own threads).
    pub exclude_self: bool,
    /// Capacity of the compiled rule index maps.
    pub rule_caps: RuleCaps,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            ringbuf_bytes: 8 << 20,
            hook: Hook::default(),
            exclude_self: true,
            rule_caps: RuleCaps::default(),
        }
    }
}

/// The interim filter, until the compiled rule index drives the maps: which syscalls can
/// match (the O(1) bitmap), optionally only one thread group and/or one uid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSet {
    /// `AUDIT_ARCH_*` -> syscall numbers.
    pub syscalls: BTreeMap<u32, BTreeSet<u32>>,
    pub tgid: Option<u32>,
    pub uid: Option<u32>,
    /// Reported in every event's `rulesets` field.
    pub rulesets: u64,
}

impl FilterSet {
    /// True when no syscall can match: nothing needs to be attached.
    pub fn is_empty(&self) -> bool {
        self.syscalls.values().all(BTreeSet::is_empty)
    }

    pub fn add(&mut self, arch: u32, nr: u32) -> &mut Self {
        self.syscalls.entry(arch).or_default().insert(nr);
        self
    }

    /// Adds syscall `name` of `arch` (names as auditctl spells them).
    pub fn add_name(&mut self, arch: u32, name: &str) -> Result<&mut Self> {
        let nr = vigil_rules::tables::syscall_number(arch, name)
            .ok_or_else(|| Error::Filter(format!("unknown syscall {name:?} for arch {arch:#x}")))?;
        Ok(self.add(arch, nr))
    }
}

fn arch_index(arch: u32) -> Option<u32> {
    match arch {
        VIGIL_AUDIT_ARCH_X86_64 => Some(VIGIL_ARCH_IDX_X86_64),
        VIGIL_AUDIT_ARCH_I386 => Some(VIGIL_ARCH_IDX_I386),
        _ => None,
    }
}

pub(crate) fn map_err(name: &'static str) -> impl FnOnce(aya::maps::MapError) -> Error {
    move |source| Error::Map { name, source }
}

pub(crate) fn prog_err(name: &'static str) -> impl FnOnce(aya::programs::ProgramError) -> Error {
    move |source| Error::Program { name, source }
}

/// Typed handles; they own the map fds the programs were relocated against.
struct Maps {
    _sysdesc: Array<MapData, [u8; Sysdesc::SIZE]>,
    ctl: Array<MapData, [u8; Ctl::SIZE]>,
    genconf: Array<MapData, [u8; Genconf::SIZE]>,
    sysmask: Array<MapData, [u8; Sysmask::SIZE]>,
    excl: HashMap<MapData, u32, u32>,
    percpu: PerCpuArray<MapData, [u8; Percpu::SIZE]>,
}

/// The loaded object: maps created, the `sys_exit` program verified, nothing attached.
pub struct Loader {
    ebpf: Ebpf,
    maps: Maps,
    rx: RxMaps,
    ring: Option<RingBuf<MapData>>,
    hook: Hook,
    link: Option<LinkHandle>,
    /// `tp_btf/signal_generate` (`OBJ_PID` identities) loaded, attached with the syscall
    /// hook; false when the kernel refused it (user space reads /proc instead).
    sig_prog: bool,
    sig_link: Option<aya::programs::tp_btf::BtfTracePointLinkId>,
    /// Live generation (`vigil_ctl.generation`): counts swaps; its low bit is the live half.
    gen: u32,
    live_syscalls: usize,
    emit_all: bool,
    filter: FilterSet,
    rules_reason: Option<String>,
    features: Features,
}

enum LinkHandle {
    Raw(aya::programs::raw_trace_point::RawTracePointLinkId),
    Btf(aya::programs::tp_btf::BtfTracePointLinkId),
}

pub(crate) fn take<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(Error::MissingMap(name))?;
    T::try_from(map).map_err(map_err(name))
}

/// Stops auditing (and, on the io_uring side, denying) thread group `tgid`.
pub(crate) fn exclude(excl: &mut HashMap<MapData, u32, u32>, tgid: u32) -> Result<()> {
    excl.insert(tgid, 1, 0).map_err(map_err("vigil_excl"))
}

/// Undoes [`exclude`]; a `tgid` that was not excluded is no error.
pub(crate) fn include(excl: &mut HashMap<MapData, u32, u32>, tgid: u32) -> Result<()> {
    match excl.remove(&tgid) {
        Ok(()) | Err(aya::maps::MapError::KeyNotFound) => Ok(()),
        Err(e) => Err(map_err("vigil_excl")(e)),
    }
}

/// Calls `f` with each CPU's copy of the single entry of the per-CPU array `name`.
pub(crate) fn each_cpu<const N: usize>(
    map: &PerCpuArray<MapData, [u8; N]>,
    name: &'static str,
    mut f: impl FnMut(&[u8; N]),
) -> Result<()> {
    for raw in map.get(&0, 0).map_err(map_err(name))?.iter() {
        f(raw);
    }
    Ok(())
}

/// Kernel ids of the programs loaded from `ebpf` (to find them in `bpftool`/`loaded_links`).
pub(crate) fn program_ids(ebpf: &Ebpf) -> Vec<u32> {
    ebpf.programs()
        .filter_map(|(_, p)| p.info().ok().map(|i| i.id()))
        .collect()
}

/// The C representation of an ABI value, as a map value.
pub(crate) fn encode<const N: usize>(write: impl FnOnce(&mut Vec<u8>)) -> [u8; N] {
    let mut v = Vec::with_capacity(N);
    write(&mut v);
    let mut a = [0u8; N];
    a.copy_from_slice(&v[..N]);
    a
}

impl Loader {
    /// Loads the embedded object (checking its ABI version), fills the capture table,
    /// verifies the chosen `sys_exit` program and probes the kernel's features.
    pub fn load(opts: &LoadOptions) -> Result<Loader> {
        object::check_abi(object::OBJECT)?;
        let cpus = aya::util::nr_cpus().map_err(|(what, e)| Error::Io {
            what: if what.is_empty() {
                "possible cpus"
            } else {
                "possible cpus (sysfs)"
            },
            source: e,
        })?;
        let btf = Btf::from_sys_fs().ok();
        let caps = opts.rule_caps;
        let mut ebpf = EbpfLoader::new()
            .btf(btf.as_ref())
            .map_max_entries("vigil_events", opts.ringbuf_bytes)
            .map_max_entries("vigil_scratch", u32::try_from(cpus).unwrap_or(u32::MAX))
            .map_max_entries("vigil_rx_rules", 2 * caps.rules)
            .map_max_entries("vigil_rx_insns", 2 * caps.insns)
            .map_max_entries("vigil_rx_cands", 2 * caps.cands)
            .map_max_entries("vigil_rx_masks", 2 * caps.masks)
            .map_max_entries("vigil_rx_index", 2 * caps.index)
            .map_max_entries("vigil_rx_paths", 2 * caps.paths)
            // The task-list cache is a TASK_STORAGE map aya has no type for.
            .allow_unsupported_maps()
            .load(object::OBJECT)?;

        let mut sysdesc: Array<MapData, [u8; Sysdesc::SIZE]> = take(&mut ebpf, "vigil_sysdesc")?;
        for (arch, idx) in [
            (VIGIL_AUDIT_ARCH_X86_64, VIGIL_ARCH_IDX_X86_64),
            (VIGIL_AUDIT_ARCH_I386, VIGIL_ARCH_IDX_I386),
        ] {
            for nr in 0..VIGIL_MAX_SYSCALL {
                let Some(name) = vigil_rules::tables::syscall_name(arch, nr) else {
                    continue;
                };
                let Some(desc) = capture::desc_of(arch, nr, name) else {
                    continue;
                };
                sysdesc
                    .set(idx * VIGIL_MAX_SYSCALL + nr, encode(|v| desc.write(v)), 0)
                    .map_err(map_err("vigil_sysdesc"))?;
            }
        }
        let maps = Maps {
            _sysdesc: sysdesc,
            ctl: take(&mut ebpf, "vigil_ctl")?,
            genconf: take(&mut ebpf, "vigil_genconf")?,
            sysmask: take(&mut ebpf, "vigil_sysmask")?,
            excl: take(&mut ebpf, "vigil_excl")?,
            percpu: take(&mut ebpf, "vigil_percpu")?,
        };
        let ring = Some(take(&mut ebpf, "vigil_events")?);
        let rx = RxMaps::take(&mut ebpf, caps)?;

        let lsm = Self::probe_lsm(&mut ebpf, btf.as_ref());
        let name = opts.hook.program();
        match opts.hook {
            Hook::RawTp => {
                let p: &mut RawTracePoint = ebpf
                    .program_mut(name)
                    .ok_or(Error::Object(format!("no program {name}")))?
                    .try_into()
                    .map_err(prog_err("vigil_sys_exit"))?;
                p.load().map_err(prog_err("vigil_sys_exit"))?;
            }
            Hook::TpBtf => {
                let btf = btf
                    .as_ref()
                    .ok_or(Error::Object("tp_btf needs kernel BTF".into()))?;
                let p: &mut BtfTracePoint = ebpf
                    .program_mut(name)
                    .ok_or(Error::Object(format!("no program {name}")))?
                    .try_into()
                    .map_err(prog_err("vigil_sys_exit_btf"))?;
                p.load("sys_exit", btf)
                    .map_err(prog_err("vigil_sys_exit_btf"))?;
            }
        }
        let sig_prog = match btf.as_ref() {
            Some(btf) => Self::load_signal(&mut ebpf, btf)
                .map_err(|e| log::warn!("signal targets from /proc only: {e}"))
                .is_ok(),
            None => false,
        };
        let features = features::detect(btf.is_some(), lsm);
        let mut loader = Loader {
            ebpf,
            maps,
            rx,
            ring,
            hook: opts.hook,
            link: None,
            sig_prog,
            sig_link: None,
            gen: 0,
            live_syscalls: 0,
            emit_all: false,
            filter: FilterSet::default(),
            rules_reason: None,
            features,
        };
        if opts.exclude_self {
            loader.exclude_tgid(std::process::id())?;
        }
        Ok(loader)
    }

    fn load_signal(ebpf: &mut Ebpf, btf: &Btf) -> Result<()> {
        let p: &mut BtfTracePoint = ebpf
            .program_mut(SIGNAL_PROG)
            .ok_or(Error::Object(format!("no program {SIGNAL_PROG}")))?
            .try_into()
            .map_err(prog_err(SIGNAL_PROG))?;
        p.load("signal_generate", btf)
            .map_err(prog_err(SIGNAL_PROG))
    }

    /// Whether the kernel loads BPF LSM programs: `Ok` or the refusal.
    fn probe_lsm(ebpf: &mut Ebpf, btf: Option<&Btf>) -> std::result::Result<(), String> {
        let btf = btf.ok_or("no kernel BTF")?;
        let prog = ebpf
            .program_mut("vigil_probe_lsm")
            .ok_or("no probe program")?;
        let p: &mut Lsm = prog.try_into().map_err(|e| format!("{e}"))?;
        let r = p.load("file_open", btf).map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            msg
        });
        let _ = p.unload();
        r
    }

    pub fn features(&self) -> &Features {
        &self.features
    }

    pub fn hook(&self) -> Hook {
        self.hook
    }

    /// The filter currently live in the kernel.
    pub fn filter(&self) -> &FilterSet {
        &self.filter
    }

    /// Makes `f` live atomically (see the module comment), attaching the hook when `f` names
    /// a syscall and detaching it when `f` is empty.
    pub fn apply(&mut self, f: &FilterSet) -> Result<()> {
        let mut masks = [Sysmask::default(), Sysmask::default()];
        for (&arch, nrs) in &f.syscalls {
            let idx = arch_index(arch)
                .ok_or_else(|| Error::Filter(format!("arch {arch:#x} not supported in BPF")))?;
            for &nr in nrs {
                if nr >= VIGIL_MAX_SYSCALL {
                    return Err(Error::Filter(format!(
                        "syscall {nr} beyond {VIGIL_MAX_SYSCALL}"
                    )));
                }
                masks[idx as usize].bits[(nr / 64) as usize] |= 1 << (nr % 64);
            }
        }
        let conf = Genconf {
            flags: f.tgid.map_or(0, |_| VIGIL_CONF_F_TGID) | f.uid.map_or(0, |_| VIGIL_CONF_F_UID),
            tgid: f.tgid.unwrap_or(0),
            uid: f.uid.unwrap_or(0),
            rulesets: f.rulesets,
            ..Genconf::default()
        };
        self.publish(self.gen.wrapping_add(1), &conf, &masks)?;
        self.filter = f.clone();
        self.rules_reason = None;
        Ok(())
    }

    /// Makes a compiled rule index live atomically: the BPF side judges every rule set of
    /// `set` in one pass (bit i of an event's `rulesets` = rule set i records it) and marks
    /// what it cannot judge `undecided`. `emit_all` sends every candidate (tests).
    pub fn apply_rules(&mut self, set: &CompiledSet, emit_all: bool) -> Result<()> {
        let next = self.gen.wrapping_add(1);
        let (mut conf, masks) = self.rx.write(next & 1, set)?;
        if emit_all {
            conf.flags |= VIGIL_CONF_F_EMIT_ALL;
        }
        self.emit_all = emit_all;
        self.publish(next, &conf, &masks)?;
        self.filter = FilterSet::default();
        self.rules_reason = crate::rules::all_undecided_reason(set).or_else(|| {
            crate::rules::undecided_syscalls(set).map(|(why, m)| {
                format!(
                    "{why}: {} x86_64 syscalls judged in user space",
                    m[0].count()
                )
            })
        });
        Ok(())
    }

    /// Resolves the paths `set` names (watches, `dir=`, `exe=`) again and, when one changed
    /// since `set` was applied, applies `set` again (a new generation). `Ok(true)`: swapped.
    pub fn refresh_paths(&mut self, set: &CompiledSet) -> Result<bool> {
        if !self.rx.paths_changed(set) {
            return Ok(false);
        }
        let emit_all = self.emit_all;
        self.apply_rules(set, emit_all)?;
        Ok(true)
    }

    /// Why (part of) the live rule set is judged in user space, when it is.
    pub fn undecided_reason(&self) -> Option<&str> {
        self.rules_reason.as_deref()
    }

    /// The live rule generation: events carry the generation that judged them
    /// ([`crate::SyscallEvent::generation`]); the next swap makes it `generation() + 1`.
    pub fn generation(&self) -> u32 {
        self.gen
    }

    /// Syscalls (x86_64 and i386 together) the live bitmaps let through.
    pub fn live_syscalls(&self) -> usize {
        self.live_syscalls
    }

    /// Writes generation `next`'s conf and bitmaps (in half `next & 1`), flips, waits for a
    /// grace period, then attaches (some syscall can match) or detaches (none can).
    fn publish(&mut self, next: u32, conf: &Genconf, masks: &[Sysmask; 2]) -> Result<()> {
        let half = next & 1;
        for (idx, mask) in masks.iter().enumerate() {
            self.maps
                .sysmask
                .set(
                    half * VIGIL_NR_ARCH + idx as u32,
                    encode(|v| mask.write(v)),
                    0,
                )
                .map_err(map_err("vigil_sysmask"))?;
        }
        self.maps
            .genconf
            .set(half, encode(|v| conf.write(v)), 0)
            .map_err(map_err("vigil_genconf"))?;
        let caps = self.rx.caps;
        let ctl = Ctl {
            generation: next,
            flags: 0,
            rules_cap: caps.rules,
            insns_cap: caps.insns,
            cands_cap: caps.cands,
            masks_cap: caps.masks,
        };
        self.maps
            .ctl
            .set(0, encode(|v| ctl.write(v)), 0)
            .map_err(map_err("vigil_ctl"))?;
        self.gen = next;
        sync_rcu();
        self.live_syscalls = masks
            .iter()
            .map(|m| {
                m.bits
                    .iter()
                    .map(|w| w.count_ones() as usize)
                    .sum::<usize>()
            })
            .sum();
        if masks.iter().all(|m| m.bits.iter().all(|w| *w == 0)) {
            self.detach()
        } else {
            self.attach()
        }
    }

    /// Attaches the `sys_exit` program (idempotent), and `signal_generate` with it.
    pub fn attach(&mut self) -> Result<()> {
        if self.link.is_some() {
            return Ok(());
        }
        if self.sig_prog && self.sig_link.is_none() {
            let p: &mut BtfTracePoint = self
                .ebpf
                .program_mut(SIGNAL_PROG)
                .ok_or(Error::Object(format!("no program {SIGNAL_PROG}")))?
                .try_into()
                .map_err(prog_err(SIGNAL_PROG))?;
            self.sig_link = Some(p.attach().map_err(prog_err(SIGNAL_PROG))?);
        }
        let name = self.hook.program();
        let prog = self
            .ebpf
            .program_mut(name)
            .ok_or(Error::Object(format!("no program {name}")))?;
        self.link = Some(match self.hook {
            Hook::RawTp => {
                let p: &mut RawTracePoint = prog.try_into().map_err(prog_err("vigil_sys_exit"))?;
                LinkHandle::Raw(p.attach("sys_exit").map_err(prog_err("vigil_sys_exit"))?)
            }
            Hook::TpBtf => {
                let p: &mut BtfTracePoint =
                    prog.try_into().map_err(prog_err("vigil_sys_exit_btf"))?;
                LinkHandle::Btf(p.attach().map_err(prog_err("vigil_sys_exit_btf"))?)
            }
        });
        Ok(())
    }

    /// Detaches every hook: syscalls take the kernel's fast path again.
    pub fn detach(&mut self) -> Result<()> {
        if let Some(id) = self.sig_link.take() {
            if let Some(p) = self.ebpf.program_mut(SIGNAL_PROG) {
                let p: &mut BtfTracePoint = p.try_into().map_err(prog_err(SIGNAL_PROG))?;
                p.detach(id).map_err(prog_err(SIGNAL_PROG))?;
            }
        }
        let Some(link) = self.link.take() else {
            return Ok(());
        };
        let name = self.hook.program();
        let prog = self
            .ebpf
            .program_mut(name)
            .ok_or(Error::Object(format!("no program {name}")))?;
        match link {
            LinkHandle::Raw(id) => {
                let p: &mut RawTracePoint = prog.try_into().map_err(prog_err("vigil_sys_exit"))?;
                p.detach(id).map_err(prog_err("vigil_sys_exit"))
            }
            LinkHandle::Btf(id) => {
                let p: &mut BtfTracePoint =
                    prog.try_into().map_err(prog_err("vigil_sys_exit_btf"))?;
                p.detach(id).map_err(prog_err("vigil_sys_exit_btf"))
            }
        }
    }

    /// Whether `signal_generate` (signal targets for `OBJ_PID`) is loaded: it is attached
    /// with the `sys_exit` hook.
    pub fn has_signal_hook(&self) -> bool {
        self.sig_prog
    }

    pub fn is_attached(&self) -> bool {
        self.link.is_some()
    }

    /// Run time and run count of the `sys_exit` program (zero unless the kernel's BPF
    /// statistics are enabled: `aya::sys::enable_stats` or `kernel.bpf_stats_enabled`).
    pub fn program_stats(&self) -> Result<(Duration, u64)> {
        let name = self.hook.program();
        let prog = self
            .ebpf
            .program(name)
            .ok_or(Error::Object(format!("no program {name}")))?;
        let info = prog.info().map_err(prog_err("vigil_sys_exit"))?;
        Ok((info.run_time(), info.run_count()))
    }

    /// Kernel ids of the loaded programs (to find them in `bpftool`/`loaded_links`).
    pub fn program_ids(&self) -> Vec<u32> {
        program_ids(&self.ebpf)
    }

    /// Stops auditing thread group `tgid` (vigil's own process, helpers).
    pub fn exclude_tgid(&mut self, tgid: u32) -> Result<()> {
        exclude(&mut self.maps.excl, tgid)
    }

    pub fn include_tgid(&mut self, tgid: u32) -> Result<()> {
        include(&mut self.maps.excl, tgid)
    }

    /// The BPF counters, summed over CPUs.
    pub fn counters(&self) -> Result<Counters> {
        let mut c = Counters::default();
        each_cpu(&self.maps.percpu, "vigil_percpu", |raw| {
            if let Some(p) = Percpu::read(raw) {
                c.add(&p);
            }
        })?;
        Ok(c)
    }

    /// The ring-buffer reader (once; later calls give `None`).
    pub fn take_reader(&mut self) -> Result<Option<EventReader>> {
        match self.ring.take() {
            Some(r) => EventReader::new(r).map(Some),
            None => Ok(None),
        }
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        let _ = self.detach();
    }
}

/// Waits until every BPF program that may have read the previous generation has finished:
/// tracepoint, cgroup and LSM programs run inside RCU read sections, and
/// `membarrier(MEMBARRIER_CMD_GLOBAL)` runs `synchronize_rcu()`. Used by both loaders.
pub(crate) fn sync_rcu() {
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    // SAFETY: membarrier takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) };
    if rc != 0 {
        // nohz_full kernels refuse it; BPF programs here run for microseconds with
        // preemption disabled, so a generous sleep is the fallback.
        std::thread::sleep(Duration::from_millis(50));
    }
}
