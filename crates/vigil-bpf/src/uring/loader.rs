//! The io_uring instance of the BPF object: load, apply (atomic generation swap, as the
//! syscall side), attach/detach, cgroup and LSM hooks, counters, pending-map sweeping.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::cgroup_sock_addr::CgroupSockAddrLinkId;
use aya::programs::links::CgroupAttachMode;
use aya::programs::lsm::LsmLinkId;
use aya::programs::tp_btf::BtfTracePointLinkId;
use aya::programs::{BtfTracePoint, CgroupSockAddr, Lsm, Program, ProgramError};
use aya::{Btf, Ebpf, EbpfLoader};
use vigil_abi::{
    Percpu, PolRule, UringConf, UringCtl, UringOpdesc, UringPending, UringPercpu,
    VIGIL_CONF_F_TGID, VIGIL_CONF_F_UID, VIGIL_POL_MAX_RULES, VIGIL_UCONF_F_CGROUP,
    VIGIL_UCONF_F_LSM, VIGIL_UOP_F_CQE_SKIP,
};
use vigil_rules::compile::layout::{CompiledSet, TableKind};

use super::counters::UringCounters;
use super::ops;
use super::policy::{CompiledPolicy, PolicyMode};
use super::reader::UringReader;
use crate::error::{Error, Result};
use crate::features::{self, Features};
use crate::loader::{
    each_cpu, encode, exclude, include, map_err, prog_err, program_ids, sync_rcu, take,
};
use crate::object;

/// Tracepoint programs: (program, tracepoint).
const TRACEPOINTS: &[(&str, &str)] = &[
    ("vigil_uring_create", "io_uring_create"),
    ("vigil_uring_submit", "io_uring_submit_req"),
    ("vigil_uring_req_failed", "io_uring_req_failed"),
    ("vigil_uring_complete", "io_uring_complete"),
];
/// cgroup `sock_addr` programs.
const CGROUP_PROGS: &[&str] = &[
    "vigil_uring_connect4",
    "vigil_uring_connect6",
    "vigil_uring_bind4",
    "vigil_uring_bind6",
    "vigil_uring_sendmsg4",
    "vigil_uring_sendmsg6",
];
/// LSM programs: (program, hook).
pub const LSM_PROGS: &[(&str, &str)] = &[
    ("vigil_lsm_uring_sqpoll", "uring_sqpoll"),
    ("vigil_lsm_uring_creds", "uring_override_creds"),
    ("vigil_lsm_connect", "socket_connect"),
    ("vigil_lsm_bind", "socket_bind"),
    ("vigil_lsm_sendmsg", "socket_sendmsg"),
];

/// Options of [`UringLoader::load`].
#[derive(Debug, Clone)]
pub struct UringOptions {
    /// `vigil_uring_events` size (a power of two, a multiple of the page size).
    pub ringbuf_bytes: u32,
    /// Ops that may wait for their completion at once (`vigil_uring_pending`).
    pub pending_max: u32,
    /// Exclude the loading process (vigil's own io_uring use).
    pub exclude_self: bool,
    /// cgroup v2 directory the `sock_addr` hooks attach to (default: the v2 root mount).
    pub cgroup: Option<PathBuf>,
    /// Force an enforcement mode (default: LSM when the kernel allows it).
    pub mode: Option<PolicyMode>,
}

impl Default for UringOptions {
    fn default() -> Self {
        UringOptions {
            ringbuf_bytes: 16 << 20,
            pending_max: 65_536,
            exclude_self: true,
            cgroup: None,
            mode: None,
        }
    }
}

/// What to audit and what to deny.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UringConfig {
    /// Audited opcodes (bit n: opcode n); see [`ops_of`].
    pub ops: u64,
    /// Interim filter, as the syscall side's [`crate::FilterSet`].
    pub tgid: Option<u32>,
    pub uid: Option<u32>,
    /// Reported per event (interim filter).
    pub rulesets: u64,
    pub policy: CompiledPolicy,
}

impl UringConfig {
    pub fn is_empty(&self) -> bool {
        self.ops == 0 && self.policy.is_empty()
    }
}

/// Opcodes some io_uring rule of `set` can match: the union of the io_uring table's per-arch
/// bitmaps, all of them when a task-list `always` rule records every event of a task.
pub fn ops_of(set: &CompiledSet) -> u64 {
    let task_always = set
        .rules
        .iter()
        .any(|r| r.list == vigil_rules::ast::FilterList::Task.kernel_number() && r.action == 2);
    if task_always {
        return u64::MAX;
    }
    set.table(TableKind::IoUring)
        .slots
        .iter()
        .fold(0, |m, s| m | s.bitmap.words[0])
}

/// Program `name` of the object as its aya type `P` (`BtfTracePoint`, `CgroupSockAddr`, `Lsm`).
fn program<'a, P>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut P>
where
    &'a mut P: TryFrom<&'a mut Program, Error = ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or_else(|| Error::Object(format!("no program {name}")))?
        .try_into()
        .map_err(prog_err(name))
}

/// The mount point of the cgroup v2 hierarchy (`/sys/fs/cgroup` or, in the hybrid layout,
/// `/sys/fs/cgroup/unified`).
pub fn cgroup2_root() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        pre.split(' ').nth(4).map(PathBuf::from)
    })
}

struct Maps {
    _opdesc: Array<MapData, [u8; UringOpdesc::SIZE]>,
    ctl: Array<MapData, [u8; UringCtl::SIZE]>,
    conf: Array<MapData, [u8; UringConf::SIZE]>,
    pol: Array<MapData, [u8; PolRule::SIZE]>,
    pending: HashMap<MapData, u64, [u8; UringPending::SIZE]>,
    excl: HashMap<MapData, u32, u32>,
    upc: PerCpuArray<MapData, [u8; UringPercpu::SIZE]>,
    pc: PerCpuArray<MapData, [u8; Percpu::SIZE]>,
}

/// The loaded io_uring instance.
pub struct UringLoader {
    ebpf: Ebpf,
    maps: Maps,
    ring: Option<RingBuf<MapData>>,
    gen: u32,
    config: UringConfig,
    tp_links: Vec<(&'static str, BtfTracePointLinkId)>,
    cg_links: Vec<(&'static str, CgroupSockAddrLinkId)>,
    lsm_links: Vec<(&'static str, LsmLinkId)>,
    cgroup: Option<PathBuf>,
    mode: PolicyMode,
    features: Features,
}

impl UringLoader {
    /// Loads the object (ABI check), fills the opcode table and verifies the tracepoint
    /// programs; learns whether the kernel loads BPF LSM programs (the enforcement mode).
    pub fn load(opts: &UringOptions) -> Result<UringLoader> {
        object::check_abi(object::OBJECT)?;
        let cpus = aya::util::nr_cpus().map_err(|(_, e)| Error::Io {
            what: "possible cpus",
            source: e,
        })?;
        let btf = Btf::from_sys_fs()
            .map_err(|_| Error::Object("io_uring auditing needs kernel BTF (tp_btf)".into()))?;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .allow_unsupported_maps()
            // The syscall side's ring buffer is unused by this instance: keep it one page.
            .map_max_entries("vigil_events", 4096)
            .map_max_entries("vigil_scratch", u32::try_from(cpus).unwrap_or(u32::MAX))
            .map_max_entries("vigil_uring_events", opts.ringbuf_bytes)
            .map_max_entries("vigil_uring_pending", opts.pending_max)
            .load(object::OBJECT)?;

        let mut opdesc: Array<MapData, [u8; UringOpdesc::SIZE]> =
            take(&mut ebpf, "vigil_uring_opdesc")?;
        for (i, d) in ops::table().iter().enumerate() {
            opdesc
                .set(i as u32, encode(|v| d.write(v)), 0)
                .map_err(map_err("vigil_uring_opdesc"))?;
        }
        let maps = Maps {
            _opdesc: opdesc,
            ctl: take(&mut ebpf, "vigil_uring_ctl")?,
            conf: take(&mut ebpf, "vigil_uring_conf")?,
            pol: take(&mut ebpf, "vigil_pol_rules")?,
            pending: take(&mut ebpf, "vigil_uring_pending")?,
            excl: take(&mut ebpf, "vigil_excl")?,
            upc: take(&mut ebpf, "vigil_uring_percpu")?,
            pc: take(&mut ebpf, "vigil_percpu")?,
        };
        let ring = Some(take(&mut ebpf, "vigil_uring_events")?);
        for (name, tp) in TRACEPOINTS {
            let p = program::<BtfTracePoint>(&mut ebpf, name)?;
            p.load(tp, &btf).map_err(prog_err(name))?;
        }
        let lsm = load_lsm(&mut ebpf, &btf, LSM_PROGS[0]);
        let features = features::detect(true, lsm);
        let mode = opts
            .mode
            .unwrap_or_else(|| PolicyMode::select(features.lsm_usable()));
        if mode == PolicyMode::Lsm {
            if let Err(e) = &features.lsm_load {
                return Err(Error::Object(format!(
                    "LSM mode: the kernel refuses LSM programs: {e}"
                )));
            }
            for p in &LSM_PROGS[1..] {
                load_lsm(&mut ebpf, &btf, *p)
                    .map_err(|e| Error::Object(format!("{}: {e}", p.0)))?;
            }
        } else {
            for name in CGROUP_PROGS {
                let p = program::<CgroupSockAddr>(&mut ebpf, name)?;
                p.load().map_err(prog_err(name))?;
            }
        }
        let mut l = UringLoader {
            ebpf,
            maps,
            ring,
            gen: 0,
            config: UringConfig::default(),
            tp_links: Vec::new(),
            cg_links: Vec::new(),
            lsm_links: Vec::new(),
            cgroup: opts.cgroup.clone().or_else(cgroup2_root),
            mode,
            features,
        };
        if opts.exclude_self {
            l.exclude_tgid(std::process::id())?;
        }
        Ok(l)
    }

    pub fn features(&self) -> &Features {
        &self.features
    }

    /// How denials are enforced (status: `lsm` or `cgroup+kill`).
    pub fn mode(&self) -> PolicyMode {
        self.mode
    }

    pub fn config(&self) -> &UringConfig {
        &self.config
    }

    /// Whether the io_uring tracepoints are attached.
    pub fn is_attached(&self) -> bool {
        !self.tp_links.is_empty()
    }

    /// Whether the cgroup `sock_addr` hooks are attached.
    pub fn cgroup_attached(&self) -> bool {
        !self.cg_links.is_empty()
    }

    /// Makes `cfg` live atomically (the inactive generation is written, then flipped, then an
    /// RCU grace period passes), then attaches what it needs and detaches the rest: nothing
    /// stays attached when nothing is audited or denied.
    pub fn apply(&mut self, cfg: &UringConfig) -> Result<()> {
        let next = self.gen ^ 1;
        let p = &cfg.policy;
        if p.rules.len() > VIGIL_POL_MAX_RULES as usize {
            return Err(Error::Filter(format!(
                "{} deny rules; at most {VIGIL_POL_MAX_RULES}",
                p.rules.len()
            )));
        }
        for (i, r) in p.rules.iter().enumerate() {
            self.maps
                .pol
                .set(
                    next * VIGIL_POL_MAX_RULES + i as u32,
                    encode(|v| r.write(v)),
                    0,
                )
                .map_err(map_err("vigil_pol_rules"))?;
        }
        // Without a cgroup v2 hierarchy the socket ops fall back to the kill at submit.
        let cgroup = p.needs_cgroup(self.mode) && self.cgroup.is_some();
        if p.needs_cgroup(self.mode) && !cgroup {
            log::warn!(
                "no cgroup v2 hierarchy: io_uring socket ops of the policy are killed, not refused"
            );
        }
        let mut flags =
            cfg.tgid.map_or(0, |_| VIGIL_CONF_F_TGID) | cfg.uid.map_or(0, |_| VIGIL_CONF_F_UID);
        if cgroup {
            flags |= VIGIL_UCONF_F_CGROUP;
        }
        if self.mode == PolicyMode::Lsm && !p.is_empty() {
            flags |= VIGIL_UCONF_F_LSM;
        }
        let conf = UringConf {
            ops: cfg.ops,
            join_ops: cfg.ops | self.config.ops,
            submit_ops: cfg.ops | p.pol_ops | p.pol_pers_ops | p.pol_sqpoll_ops,
            pol_ops: p.pol_ops,
            pol_pers_ops: p.pol_pers_ops,
            pol_sqpoll_ops: p.pol_sqpoll_ops,
            rulesets: cfg.rulesets,
            flags,
            tgid: cfg.tgid.unwrap_or(0),
            uid: cfg.uid.unwrap_or(0),
            npol: p.rules.len() as u32,
            pol_create: u32::from(p.pol_create),
            pad0: 0,
        };
        self.maps
            .conf
            .set(next, encode(|v| conf.write(v)), 0)
            .map_err(map_err("vigil_uring_conf"))?;
        let ctl = UringCtl {
            generation: next,
            flags: 0,
        };
        self.maps
            .ctl
            .set(0, encode(|v| ctl.write(v)), 0)
            .map_err(map_err("vigil_uring_ctl"))?;
        self.gen = next;
        sync_rcu();
        self.config = cfg.clone();
        if cfg.is_empty() {
            self.detach_tracepoints()?;
        } else {
            self.attach_tracepoints()?;
        }
        if cgroup {
            self.attach_cgroup()?;
        } else {
            self.detach_cgroup()?;
        }
        if self.mode == PolicyMode::Lsm && !p.is_empty() {
            self.attach_lsm()
        } else {
            self.detach_lsm()
        }
    }

    fn attach_tracepoints(&mut self) -> Result<()> {
        if !self.tp_links.is_empty() {
            return Ok(());
        }
        for (name, _) in TRACEPOINTS {
            let p = program::<BtfTracePoint>(&mut self.ebpf, name)?;
            let id = p.attach().map_err(prog_err(name))?;
            self.tp_links.push((name, id));
        }
        Ok(())
    }

    fn detach_tracepoints(&mut self) -> Result<()> {
        for (name, id) in std::mem::take(&mut self.tp_links) {
            let p = program::<BtfTracePoint>(&mut self.ebpf, name)?;
            p.detach(id).map_err(prog_err(name))?;
        }
        Ok(())
    }

    fn attach_cgroup(&mut self) -> Result<()> {
        if !self.cg_links.is_empty() {
            return Ok(());
        }
        let dir = self.cgroup.clone().ok_or_else(|| {
            Error::Object("no cgroup v2 hierarchy mounted: socket ops cannot be refused".into())
        })?;
        let fd = File::open(&dir).map_err(|source| Error::Io {
            what: "cgroup v2 directory",
            source,
        })?;
        for name in CGROUP_PROGS {
            let p = program::<CgroupSockAddr>(&mut self.ebpf, name)?;
            // A BPF link (kernels >= 5.7) always coexists with other programs of the
            // cgroup; the kernel wants link flags 0 (Single).
            let id = p
                .attach(&fd, CgroupAttachMode::Single)
                .map_err(prog_err(name))?;
            self.cg_links.push((name, id));
        }
        Ok(())
    }

    fn detach_cgroup(&mut self) -> Result<()> {
        for (name, id) in std::mem::take(&mut self.cg_links) {
            let p = program::<CgroupSockAddr>(&mut self.ebpf, name)?;
            p.detach(id).map_err(prog_err(name))?;
        }
        Ok(())
    }

    fn attach_lsm(&mut self) -> Result<()> {
        if !self.lsm_links.is_empty() {
            return Ok(());
        }
        for (name, _) in LSM_PROGS {
            let p = program::<Lsm>(&mut self.ebpf, name)?;
            let id = p.attach().map_err(prog_err(name))?;
            self.lsm_links.push((name, id));
        }
        Ok(())
    }

    fn detach_lsm(&mut self) -> Result<()> {
        for (name, id) in std::mem::take(&mut self.lsm_links) {
            let p = program::<Lsm>(&mut self.ebpf, name)?;
            p.detach(id).map_err(prog_err(name))?;
        }
        Ok(())
    }

    /// Stops auditing (and denying) thread group `tgid`.
    pub fn exclude_tgid(&mut self, tgid: u32) -> Result<()> {
        exclude(&mut self.maps.excl, tgid)
    }

    pub fn include_tgid(&mut self, tgid: u32) -> Result<()> {
        include(&mut self.maps.excl, tgid)
    }

    /// The counters, summed over CPUs.
    pub fn counters(&self) -> Result<UringCounters> {
        let mut c = UringCounters::default();
        each_cpu(&self.maps.upc, "vigil_uring_percpu", |raw| {
            if let Some(p) = UringPercpu::read(raw) {
                c.add(&p);
            }
        })?;
        each_cpu(&self.maps.pc, "vigil_percpu", |raw| {
            if let Some(p) = Percpu::read(raw) {
                c.items.add(&p);
            }
        })?;
        Ok(c)
    }

    /// Ops waiting for a completion in the kernel's pending map.
    pub fn pending(&self) -> usize {
        self.maps.pending.keys().flatten().count()
    }

    /// Removes pending entries no completion will come for: `IOSQE_CQE_SKIP_SUCCESS` ops
    /// older than `skip_age` (they succeeded), and any op older than `any_age` when given.
    /// Returns how many were removed.
    pub fn sweep_pending(&mut self, skip_age: Duration, any_age: Option<Duration>) -> usize {
        let now = tai_now_ns();
        let stale: Vec<u64> = self
            .maps
            .pending
            .iter()
            .filter_map(std::result::Result::ok)
            .filter_map(|(k, v)| {
                let p = UringPending::read(&v)?;
                let age = Duration::from_nanos(now.saturating_sub(p.tai_ns));
                let skip = p.flags & VIGIL_UOP_F_CQE_SKIP != 0 && age > skip_age;
                (skip || any_age.is_some_and(|a| age > a)).then_some(k)
            })
            .collect();
        stale
            .iter()
            .filter(|k| self.maps.pending.remove(k).is_ok())
            .count()
    }

    /// The ring-buffer reader (once).
    pub fn take_reader(&mut self) -> Result<Option<UringReader>> {
        match self.ring.take() {
            Some(r) => UringReader::new(r).map(Some),
            None => Ok(None),
        }
    }

    /// Kernel ids of the loaded programs.
    pub fn program_ids(&self) -> Vec<u32> {
        program_ids(&self.ebpf)
    }
}

/// `CLOCK_TAI` now (the clock of `bpf_ktime_get_tai_ns`).
fn tai_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for the kernel to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_TAI, &raw mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

fn load_lsm(
    ebpf: &mut Ebpf,
    btf: &Btf,
    (name, hook): (&str, &str),
) -> std::result::Result<(), String> {
    let prog = ebpf
        .program_mut(name)
        .ok_or("no LSM program in the object")?;
    let p: &mut Lsm = prog.try_into().map_err(|e| format!("{e}"))?;
    p.load(hook, btf).map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg = format!("{msg}: {s}");
            src = s.source();
        }
        msg
    })
}

impl Drop for UringLoader {
    fn drop(&mut self) {
        let _ = self.detach_lsm();
        let _ = self.detach_cgroup();
        let _ = self.detach_tracepoints();
    }
}

/// Where the cgroup hooks attach (for status).
impl UringLoader {
    pub fn cgroup_dir(&self) -> Option<&Path> {
        self.cgroup.as_deref()
    }
}
