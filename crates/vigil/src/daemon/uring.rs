//! The io_uring side of the kernel source (`docs/io_uring.md`, issue 5): vigil-bpf's
//! [`UringService`] run beside the syscall source, with its own thread but the daemon's rules,
//! serial counter and writer.
//!
//! - Nothing is loaded until the rules have an io_uring-list rule or a policy is configured
//!   (loading verifies the programs and maps a 16 MiB ring buffer); once loaded the instance
//!   stays, and is detached whenever neither needs it: no io_uring rule and no policy, no hook.
//! - Rule changes reach it with the syscall side's ([`super::sources::KernelSources`]); its
//!   ops are judged here with the daemon's compiled rules (the BPF side only rejects opcodes
//!   no rule names) and handed to the daemon's sink as judged events, so they get the same
//!   keys, serials and writer as syscall events.
//! - Denials of the policy become `VIGIL_POLICY` events (with a SYSCALL record for ausearch)
//!   written with the daemon's serial, whatever the rules say.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use vigil_abi::UringCounter;
use vigil_bpf::convert::Clock;
use vigil_bpf::uring::{convert, loader::ops_of, policy, UringOptions, UringService};
use vigil_format::{Event, RawEvent};

use super::signals::poll_readable;
use super::source::Delivery;
use super::sync::SyncPoint;
use crate::pipeline::{event_input, RuleFilter};

/// Writes one denial event: the argument builds it from a serial the writer picks.
pub type WriteDenial<'a> = dyn FnMut(&dyn Fn(u64) -> Event) + 'a;

/// How long the reader waits on the ring buffer (the BPF side wakes it only past 64 KiB).
const POLL: Duration = Duration::from_millis(50);

/// A policy file, read and checked (parsed and compiled for the maps) but not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UringPolicy {
    /// The file, as named in errors and in `src=` of denial records.
    pub file: String,
    pub text: String,
    /// Deny rules in it.
    pub rules: usize,
    /// Conditions that can never hold here (an `exe=` that does not exist), and the parser's
    /// warnings.
    pub warnings: Vec<String>,
}

/// Reads and checks the policy file `path` (`[io_uring] policy`). Errors name
/// `file:line:column`; nothing is applied.
pub fn read_policy(path: &Path) -> Result<UringPolicy, Vec<String>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("{file}: cannot read the io_uring policy: {e}")])?;
    check_policy(text, file)
}

/// The policy the configuration names (`[io_uring] policy`), read and checked.
pub fn configured_policy(cfg: &crate::config::Config) -> Result<Option<UringPolicy>, Vec<String>> {
    cfg.io_uring.policy.as_deref().map(read_policy).transpose()
}

/// [`read_policy`] on text already read.
pub fn check_policy(text: String, file: String) -> Result<UringPolicy, Vec<String>> {
    let (rules, diags) = vigil_rules::policy::parse_policy(&text, &file, &vigil_rules::SystemHost)
        .map_err(|e| {
            e.diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        })?;
    let compiled =
        policy::compile(&rules, &policy::resolve_exe).map_err(|e| vec![e.to_string()])?;
    let mut warnings: Vec<String> = diags.iter().map(ToString::to_string).collect();
    warnings.extend(compiled.warnings.iter().cloned());
    Ok(UringPolicy {
        file,
        text,
        rules: rules.len(),
        warnings,
    })
}

/// What the io_uring side was last asked to do.
#[derive(Default)]
struct Wanted {
    /// Opcodes some rule can record (0: none, or `-e 0`).
    ops: u64,
    policy: Option<UringPolicy>,
}

impl Wanted {
    fn needs_hooks(&self) -> bool {
        self.ops != 0 || self.policy.as_ref().is_some_and(|p| p.rules > 0)
    }
}

#[derive(Default)]
struct Counts {
    /// Ops read from the ring buffer (joined with their completion or written without).
    seen: AtomicU64,
    /// Ops the host's rules record.
    audited: AtomicU64,
    /// Denial records read.
    denials: AtomicU64,
}

pub struct UringSource {
    opts: UringOptions,
    service: Mutex<Option<UringService>>,
    /// The ring buffer's fd once loaded (-1 before); the service is never dropped while the
    /// source lives, so the number stays valid for polling without the lock.
    fd: AtomicI32,
    wanted: Mutex<Wanted>,
    /// The rules ops are judged with, and a version the reader compares.
    judge: Mutex<Option<RuleFilter>>,
    judge_version: AtomicU64,
    counts: Counts,
    sync: SyncPoint,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl UringSource {
    /// Nothing is loaded yet (see the module comment).
    pub fn new(opts: UringOptions) -> UringSource {
        UringSource {
            opts,
            service: Mutex::new(None),
            fd: AtomicI32::new(-1),
            wanted: Mutex::new(Wanted::default()),
            judge: Mutex::new(None),
            judge_version: AtomicU64::new(0),
            counts: Counts::default(),
            sync: SyncPoint::default(),
        }
    }

    /// Whether the BPF instance is loaded.
    pub fn loaded(&self) -> bool {
        self.fd.load(Ordering::Acquire) >= 0
    }

    /// Loads the instance when `want` needs hooks and it is not loaded yet.
    fn ensure_loaded<'a>(
        &'a self,
        want: &Wanted,
    ) -> Result<MutexGuard<'a, Option<UringService>>, String> {
        let mut svc = locked(&self.service);
        if svc.is_none() && want.needs_hooks() {
            let t0 = Instant::now();
            let s = UringService::load(&self.opts)
                .map_err(|e| format!("cannot load vigil's io_uring programs: {e}"))?;
            log::info!(
                "io_uring programs loaded in {} ms (enforcement mode {})",
                t0.elapsed().as_millis(),
                s.loader().mode().as_str()
            );
            self.fd.store(s.as_fd().as_raw_fd(), Ordering::Release);
            *svc = Some(s);
        }
        Ok(svc)
    }

    /// The opcodes `filter`'s host rule set can record (none with `-e 0`).
    fn ops_for(filter: &RuleFilter) -> u64 {
        match filter.sets().first() {
            Some(s) if s.settings.enabled != Some(0) => ops_of(filter.compiled()),
            _ => 0,
        }
    }

    /// Loads the instance if the new rules need it (the one step of a rule change that may
    /// fail for reasons other than the rules), changing nothing else.
    pub fn prepare(&self, filter: &RuleFilter) -> Result<(), String> {
        let want = {
            let w = locked(&self.wanted);
            Wanted {
                ops: Self::ops_for(filter),
                policy: w.policy.clone(),
            }
        };
        self.ensure_loaded(&want).map(drop)
    }

    /// Makes `filter` the rules: the audited opcodes in BPF, and the judge of the ops read.
    pub fn rules_changed(&self, filter: &RuleFilter) -> Result<(), String> {
        let mut w = locked(&self.wanted);
        let next = Wanted {
            ops: Self::ops_for(filter),
            policy: w.policy.clone(),
        };
        let mut svc = self.ensure_loaded(&next)?;
        if let (Some(s), Some(set)) = (svc.as_mut(), filter.sets().first()) {
            s.set_rules(set)?;
        }
        drop(svc);
        w.ops = next.ops;
        *locked(&self.judge) = Some(filter.clone());
        self.judge_version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Applies a checked policy (`None`: no policy). Refused whole on error; the live policy
    /// stays. Returns the warnings.
    pub fn policy_changed(&self, policy: Option<&UringPolicy>) -> Result<Vec<String>, String> {
        let mut w = locked(&self.wanted);
        let next = Wanted {
            ops: w.ops,
            policy: policy.cloned(),
        };
        let mut svc = self.ensure_loaded(&next)?;
        let mut warnings = Vec::new();
        if let Some(s) = svc.as_mut() {
            warnings = match policy {
                Some(p) => s.set_policy(&p.text, &p.file)?,
                None => s.set_policy("", "")?,
            };
        }
        drop(svc);
        w.policy = next.policy;
        Ok(warnings)
    }

    /// Reads ops and denials until `stop`: ops are judged with the current rules and handed
    /// to `deliver`; each denial is built by the closure `denial` receives, given a serial.
    pub fn run(
        &self,
        deliver: &mut dyn FnMut(Delivery),
        denial: &mut WriteDenial<'_>,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let res = self.read_loop(deliver, denial, stop);
        self.sync.end();
        res
    }

    fn read_loop(
        &self,
        deliver: &mut dyn FnMut(Delivery),
        denial: &mut WriteDenial<'_>,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let mut clock = Clock::now();
        let mut last_clock = Instant::now();
        let mut filter: Option<RuleFilter> = None;
        let mut version = u64::MAX;
        let mut ops: Vec<RawEvent> = Vec::new();
        let mut denied: Vec<(vigil_bpf::uring::Denial, Vec<String>, String)> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let asked = self.sync.pass_begins();
            let fd: RawFd = self.fd.load(Ordering::Acquire);
            if fd < 0 {
                std::thread::sleep(POLL);
                self.sync.pass_done(asked);
                continue;
            }
            let ms = i32::try_from(POLL.as_millis()).unwrap_or(50);
            if let Err(e) = poll_readable(&[fd], ms) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("io_uring ring buffer: {e}"));
                }
            }
            if last_clock.elapsed() >= Duration::from_secs(1) {
                clock = Clock::now();
                last_clock = Instant::now();
            }
            // Read under the lock, judge and write outside it: a blocked writer queue must
            // not hold up rule changes.
            if let Some(s) = locked(&self.service).as_mut() {
                s.poll(&mut |raw| ops.push(raw), &mut |d, keys, origin| {
                    denied.push((d.clone(), keys.to_vec(), origin.to_owned()));
                });
            }
            let v = self.judge_version.load(Ordering::Acquire);
            if v != version {
                filter.clone_from(&locked(&self.judge));
                version = v;
            }
            for raw in ops.drain(..) {
                self.counts.seen.fetch_add(1, Ordering::Relaxed);
                let Some(f) = filter.as_mut() else { continue };
                let sel = f.select(&event_input(&raw));
                if sel.iter().any(|s| s.set == 0) {
                    self.counts.audited.fetch_add(1, Ordering::Relaxed);
                }
                deliver(Delivery {
                    raw,
                    judged: Some(sel),
                });
            }
            for (d, keys, origin) in denied.drain(..) {
                self.counts.denials.fetch_add(1, Ordering::Relaxed);
                denial(&|serial| convert::denial_event(&d, &clock, serial, &keys, &origin));
            }
            self.sync.pass_done(asked);
        }
        Ok(())
    }

    /// Returns once every record in the ring buffer when called has been delivered.
    pub fn sync(&self, deadline: Instant) {
        if self.loaded() {
            let c = &self.counts;
            self.sync.wait("io_uring", deadline, &|| {
                c.seen.load(Ordering::Relaxed) + c.denials.load(Ordering::Relaxed)
            });
        }
    }

    /// Losses (records that never became events) and degraded events (written with part
    /// of their data missing), by cause; empty until loaded.
    pub fn losses(&self) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
        let svc = locked(&self.service);
        let Some(s) = svc.as_ref() else {
            return (BTreeMap::new(), BTreeMap::new());
        };
        let mut lost = s.lost();
        let mut degraded = BTreeMap::new();
        // Written, but without their result or with items cut.
        for name in ["uring_pending_full", "uring_evicted", "uring_items_cut"] {
            if let Some(v) = lost.remove(name) {
                degraded.insert(name.to_owned(), v);
            }
        }
        (lost, degraded)
    }

    /// Counters for status.
    pub fn stats(&self) -> BTreeMap<String, u64> {
        let c = &self.counts;
        let mut m = BTreeMap::from([
            ("uring_ops_seen".to_owned(), c.seen.load(Ordering::Relaxed)),
            (
                "uring_ops_audited".to_owned(),
                c.audited.load(Ordering::Relaxed),
            ),
            (
                "uring_denials".to_owned(),
                c.denials.load(Ordering::Relaxed),
            ),
        ]);
        let svc = locked(&self.service);
        if let Some(Ok(k)) = svc.as_ref().map(|s| s.loader().counters()) {
            for (name, counter) in [
                ("uring_candidates", UringCounter::Candidates),
                ("uring_emitted", UringCounter::Emitted),
                ("uring_rings_created", UringCounter::RingsCreated),
                ("uring_deny_killed", UringCounter::DenyKill),
                ("uring_deny_prevented", UringCounter::DenyPrevent),
                ("uring_deny_refused", UringCounter::DenyLsm),
                ("uring_kill_failed", UringCounter::KillFailed),
            ] {
                m.insert(name.to_owned(), k.get(counter));
            }
        }
        m
    }

    /// `io_uring`, `io_uring_mode` and `io_uring_policy` lines for status.
    pub fn info(&self) -> BTreeMap<String, String> {
        let w = locked(&self.wanted);
        let policy = w.policy.as_ref().map_or_else(
            || "none".to_owned(),
            |p| format!("{} ({} deny rules)", p.file, p.rules),
        );
        let svc = locked(&self.service);
        let (state, mode) = match svc.as_ref() {
            None => (
                "not loaded (no io_uring rule, no policy)".to_owned(),
                "-".to_owned(),
            ),
            Some(s) => {
                let l = s.loader();
                let hooks = match (l.is_attached(), l.cgroup_attached()) {
                    (false, _) => "nothing attached".to_owned(),
                    (true, cg) => format!(
                        "tracepoints attached ({} opcodes audited{})",
                        w.ops.count_ones(),
                        if cg { ", cgroup hooks" } else { "" }
                    ),
                };
                (hooks, l.mode().as_str().to_owned())
            }
        };
        BTreeMap::from([
            ("io_uring".to_owned(), state),
            ("io_uring_mode".to_owned(), mode),
            ("io_uring_policy".to_owned(), policy),
        ])
    }
}

#[cfg(test)]
mod tests;
