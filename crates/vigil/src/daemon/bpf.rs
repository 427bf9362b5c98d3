//! The kernel event source: vigil-bpf's `sys_exit` program and ring buffer, judging with the
//! compiled rule index in the kernel.
//!
//! A rule change hands the daemon's compiled set (the same one the daemon's own filter uses)
//! to `Loader::apply_rules`, which swaps it in atomically and attaches the hook only while
//! some syscall can match (none with no rules or `-e 0`). BPF judges every candidate syscall:
//! it sends only events some rule set records or leaves *undecided*, and tells which rule
//! decided. Per event, the source takes BPF's verdicts and judges in user space only the
//! rule sets BPF left undecided ([`vigil_bpf::verdict`]), with the compiled set of the
//! generation that judged the event (records carry it), so an event is judged by one rule
//! set whatever changes after it, and a BPF decision is never judged again.
//! The daemon's own process is excluded in the kernel.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vigil_abi::Counter;
use vigil_bpf::convert::{kernel_logs, to_raw, Clock};
use vigil_bpf::verdict::decide_into;
use vigil_bpf::{EventReader, FilterSet, LoadOptions, Loader};
use vigil_rules::reference::Decision;

use super::source::{Delivery, EventSource};
use super::sync::SyncPoint;
use crate::pipeline::{fill_obj_pids, RuleFilter};

/// How long the reader waits for the ring buffer before looking at `stop` and sync requests.
const POLL: Duration = Duration::from_millis(50);
/// Rule generations kept for events still in the ring buffer (more than enough: an event
/// of generation g cannot follow one of g + 2 in the ring, see `prune`).
const MAX_JUDGES: usize = 16;
/// How often watched paths and executables are resolved again (a file created or replaced
/// after the rules were loaded: BPF also matches it by parent directory and name at once).
const REFRESH_PATHS: Duration = Duration::from_secs(2);

/// Counters of the source itself (status).
#[derive(Default)]
struct Stats {
    /// Events whose every rule set BPF decided.
    judged_in_bpf: AtomicU64,
    /// Events with at least one rule set judged in user space.
    judged_in_user_space: AtomicU64,
    /// BPF answers that did not fit the compiled set (judged again in user space).
    inconsistent: AtomicU64,
    /// Events of a generation the source no longer knew (judged by the daemon's rules).
    unknown_generation: AtomicU64,
}

pub struct BpfSource {
    loader: Mutex<Loader>,
    reader: Mutex<Option<EventReader>>,
    /// (generation, the rules it judges with), oldest first.
    judges: Mutex<VecDeque<(u32, RuleFilter)>>,
    judges_version: AtomicU64,
    decode_errors: AtomicU64,
    orphan_chunks: AtomicU64,
    argv_incomplete: AtomicU64,
    stats: Stats,
    sync: SyncPoint,
}

/// `a` is older than `b` (generations wrap).
fn older(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl BpfSource {
    /// Loads and verifies the programs (nothing attached yet) and excludes this process.
    pub fn load() -> Result<BpfSource, String> {
        let mut loader = Loader::load(&LoadOptions {
            exclude_self: true,
            ..LoadOptions::default()
        })
        .map_err(|e| e.to_string())?;
        let reader = loader
            .take_reader()
            .map_err(|e| e.to_string())?
            .ok_or("the ring buffer reader is already taken")?;
        Ok(BpfSource {
            loader: Mutex::new(loader),
            reader: Mutex::new(Some(reader)),
            judges: Mutex::new(VecDeque::new()),
            judges_version: AtomicU64::new(0),
            decode_errors: AtomicU64::new(0),
            orphan_chunks: AtomicU64::new(0),
            argv_incomplete: AtomicU64::new(0),
            stats: Stats::default(),
            sync: SyncPoint::default(),
        })
    }

    fn loader(&self) -> std::sync::MutexGuard<'_, Loader> {
        self.loader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn judges(&self) -> std::sync::MutexGuard<'_, VecDeque<(u32, RuleFilter)>> {
        self.judges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets generations older than `oldest` (the reader has seen events of `oldest + 1`,
    /// so every event of a generation before `oldest` was read: a generation's events are
    /// all in the ring before the swap after the next one starts).
    fn prune(&self, oldest: u32) {
        let mut j = self.judges();
        let before = j.len();
        while j.len() > 1 && j.front().is_some_and(|(g, _)| older(*g, oldest)) {
            j.pop_front();
        }
        if j.len() != before {
            self.judges_version.fetch_add(1, Ordering::Release);
        }
    }

    /// Resolves watched paths and executables again; a change swaps in a new generation.
    fn refresh_paths(&self) {
        // The loader lock first: a rule change holds it while it registers its set, so the
        // newest set read under it is the one in force.
        let mut l = self.loader();
        if !l.is_attached() {
            return;
        }
        let Some((_, filter)) = self.judges().back().cloned() else {
            return;
        };
        let next = l.generation().wrapping_add(1);
        self.push_judge(next, filter.clone());
        match l.refresh_paths(filter.compiled()) {
            Ok(true) => log::info!("watched paths changed: rules swapped in again"),
            Ok(false) => self.drop_judge(next),
            Err(e) => {
                self.drop_judge(next);
                log::warn!("resolving watched paths again: {e}");
            }
        }
    }

    fn push_judge(&self, generation: u32, filter: RuleFilter) {
        let mut j = self.judges();
        j.push_back((generation, filter));
        while j.len() > MAX_JUDGES {
            j.pop_front();
        }
        self.judges_version.fetch_add(1, Ordering::Release);
    }

    fn drop_judge(&self, generation: u32) {
        self.judges().retain(|(g, _)| *g != generation);
        self.judges_version.fetch_add(1, Ordering::Release);
    }
}

impl EventSource for BpfSource {
    fn describe(&self) -> String {
        "bpf".into()
    }

    fn hook_mode(&self) -> String {
        let l = self.loader();
        if l.is_attached() {
            format!("{:?} sys_exit ({} syscalls)", l.hook(), l.live_syscalls())
        } else {
            "none (no rule needs a hook)".into()
        }
    }

    fn rules_changed(&self, filter: &RuleFilter) -> Result<(), String> {
        let mut l = self.loader();
        let off = filter
            .sets()
            .first()
            .is_none_or(|s| s.settings.enabled == Some(0));
        if off {
            return l
                .apply(&FilterSet::default())
                .map_err(|e| format!("BPF filter: {e}"));
        }
        // Known before the swap: the first event of the new generation may be read at once.
        let next = l.generation().wrapping_add(1);
        self.push_judge(next, filter.clone());
        if let Err(e) = l.apply_rules(filter.compiled(), false) {
            self.drop_judge(next);
            return Err(format!("BPF rules: {e}"));
        }
        match l.undecided_reason() {
            Some(why) => log::info!("rules judged in BPF except: {why}"),
            None => log::info!("rules judged entirely in BPF"),
        }
        Ok(())
    }

    fn run(&self, deliver: &mut dyn FnMut(Delivery), stop: &AtomicBool) -> Result<(), String> {
        let taken = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(mut reader) = taken else {
            return Err("the BPF source runs only once".into());
        };
        let mut clock = Clock::now();
        let mut since_clock = 0u32;
        let mut last_refresh = Instant::now();
        let mut local: Vec<(u32, RuleFilter)> = Vec::new();
        let mut version = u64::MAX;
        let mut decision = Decision::default();
        let mut newest_seen: Option<u32> = None;
        while !stop.load(Ordering::Relaxed) {
            let asked = self.sync.pass_begins();
            if let Err(e) = reader.wait(Some(POLL)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.sync.end();
                    return Err(format!("ring buffer: {e}"));
                }
            }
            // The TAI -> realtime offset moves with clock adjustments: refresh it now and then.
            since_clock += 1;
            if since_clock >= 20 {
                clock = Clock::now();
                since_clock = 0;
            }
            let refresh = |local: &mut Vec<(u32, RuleFilter)>, version: &mut u64| {
                let v = self.judges_version.load(Ordering::Acquire);
                if v != *version {
                    *local = self.judges().iter().cloned().collect();
                    *version = v;
                }
            };
            refresh(&mut local, &mut version);
            reader.drain(|ev| {
                if !kernel_logs(&ev) {
                    return;
                }
                let mut raw = to_raw(&ev, &clock);
                // What the exit hook cannot reach: a signal target's identity.
                fill_obj_pids(&mut raw);
                if newest_seen.is_none_or(|n| older(n, ev.generation)) {
                    newest_seen = Some(ev.generation);
                }
                let mut at = local.iter().position(|(g, _)| *g == ev.generation);
                if at.is_none() {
                    // Pushed after the last look (the judge always precedes the swap).
                    refresh(&mut local, &mut version);
                    at = local.iter().position(|(g, _)| *g == ev.generation);
                }
                let Some(at) = at else {
                    self.stats
                        .unknown_generation
                        .fetch_add(1, Ordering::Relaxed);
                    deliver(Delivery::unjudged(raw));
                    return;
                };
                let filter = &local[at].1;
                let j = decide_into(&ev, filter.compiled(), &mut decision);
                let s = &self.stats;
                if j.in_user_space == 0 {
                    s.judged_in_bpf.fetch_add(1, Ordering::Relaxed);
                } else {
                    s.judged_in_user_space.fetch_add(1, Ordering::Relaxed);
                }
                if j.inconsistent != 0 {
                    s.inconsistent.fetch_add(1, Ordering::Relaxed);
                }
                deliver(Delivery {
                    raw,
                    judged: Some(filter.selections(&decision)),
                });
            });
            if let Some(n) = newest_seen {
                let oldest = n.wrapping_sub(1);
                if local.first().is_some_and(|(g, _)| older(*g, oldest)) {
                    self.prune(oldest);
                }
            }
            let st = reader.stats();
            self.decode_errors.store(st.errors, Ordering::Relaxed);
            self.orphan_chunks
                .store(st.orphan_chunks, Ordering::Relaxed);
            self.argv_incomplete
                .store(st.argv_incomplete, Ordering::Relaxed);
            self.sync.pass_done(asked);
            if last_refresh.elapsed() >= REFRESH_PATHS {
                last_refresh = Instant::now();
                self.refresh_paths();
            }
        }
        self.sync.end();
        Ok(())
    }

    fn sync(&self, deadline: Instant) {
        // Every delivered event counts as exactly one of these.
        let s = &self.stats;
        self.sync.wait("BPF", deadline, &|| {
            s.judged_in_bpf.load(Ordering::Relaxed)
                + s.judged_in_user_space.load(Ordering::Relaxed)
                + s.unknown_generation.load(Ordering::Relaxed)
        });
    }

    fn lost(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::from([
            (
                "decode_errors".to_string(),
                self.decode_errors.load(Ordering::Relaxed),
            ),
            (
                "argv_orphan_chunks".to_string(),
                self.orphan_chunks.load(Ordering::Relaxed),
            ),
        ]);
        match self.loader().counters() {
            Ok(c) => {
                for (name, counter) in [
                    ("ringbuf", Counter::DropRingbuf),
                    ("ringbuf_argv", Counter::DropArgv),
                    ("no_scratch", Counter::NoScratch),
                ] {
                    m.insert(name.into(), c.get(counter));
                }
            }
            Err(e) => log::warn!("BPF counters: {e}"),
        }
        m
    }

    fn degraded(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::from([(
            "argv_incomplete".to_string(),
            self.argv_incomplete.load(Ordering::Relaxed),
        )]);
        match self.loader().counters() {
            Ok(c) => {
                for (name, counter) in [
                    ("record_too_big", Counter::DropTooBig),
                    ("truncated_string", Counter::TruncString),
                    ("truncated_path", Counter::TruncPath),
                    ("truncated_argv", Counter::TruncArgv),
                ] {
                    m.insert(name.into(), c.get(counter));
                }
            }
            Err(e) => log::warn!("BPF counters: {e}"),
        }
        m
    }

    fn stats(&self) -> BTreeMap<String, u64> {
        let s = &self.stats;
        let mut m = BTreeMap::from([
            (
                "bpf_events_judged_in_bpf".to_string(),
                s.judged_in_bpf.load(Ordering::Relaxed),
            ),
            (
                "bpf_events_judged_in_user_space".to_string(),
                s.judged_in_user_space.load(Ordering::Relaxed),
            ),
            (
                "bpf_verdicts_inconsistent".to_string(),
                s.inconsistent.load(Ordering::Relaxed),
            ),
            (
                "bpf_unknown_generation".to_string(),
                s.unknown_generation.load(Ordering::Relaxed),
            ),
        ]);
        match self.loader().counters() {
            Ok(c) => {
                for (name, counter) in [
                    ("bpf_candidates", Counter::Candidates),
                    ("bpf_excluded", Counter::Excluded),
                    ("bpf_filtered", Counter::Filtered),
                    ("bpf_emitted", Counter::Emitted),
                    ("bpf_undecided", Counter::Undecided),
                    ("bpf_rules_run", Counter::RulesRun),
                    ("bpf_read_faults", Counter::ReadFault),
                ] {
                    m.insert(name.into(), c.get(counter));
                }
            }
            Err(e) => log::warn!("BPF counters: {e}"),
        }
        m
    }
}
