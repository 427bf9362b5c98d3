//! Where the daemon's events come from. A source yields [`RawEvent`]s; the daemon filters them
//! with the current rules and writes what they select. Sources:
//! - [`ReplaySource`]: a trace file (docs/replay-trace.md), so the whole daemon runs without
//!   BPF or root (`vigil daemon --replay TRACE`);
//! - [`IdleSource`]: nothing (the daemon still writes its own records and serves `vigil ctl`);
//! - [`super::bpf::BpfSource`]: crates/vigil-bpf's loader and ring-buffer reader;
//!   [`EventSource::rules_changed`] is where a new rule set becomes kernel maps and hooks are
//!   attached or detached.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vigil_format::trace::TraceReader;
use vigil_format::RawEvent;

use crate::pipeline::{RuleFilter, Selection};

/// One event as a source hands it over.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub raw: RawEvent,
    /// The rule sets that record it and their keys, when the source judged it already (the
    /// BPF source judges in the kernel with the rule generation live at the event, and in
    /// user space only what BPF left undecided); `None`: the daemon judges it now.
    pub judged: Option<Vec<Selection>>,
}

impl Delivery {
    /// An event for the daemon to judge.
    pub fn unjudged(raw: RawEvent) -> Delivery {
        Delivery { raw, judged: None }
    }
}

/// An event source. Shared between the source thread (`run`) and the control path
/// (`rules_changed`, status), hence `&self` everywhere.
pub trait EventSource: Send + Sync {
    /// What `vigil ctl -s` shows as `source`.
    fn describe(&self) -> String;

    /// How the source hooks the kernel (`none`, `sys_exit`, ...), for status.
    fn hook_mode(&self) -> String {
        "none".into()
    }

    /// Called with the daemon's state lock held whenever the rule set changes (and once at
    /// start), before the new set judges any event. `filter` holds the rule sets (the host's
    /// first) and their compiled form. An error refuses the change.
    fn rules_changed(&self, _filter: &RuleFilter) -> Result<(), String> {
        Ok(())
    }

    /// Delivers events until `stop` is set or the input ends. Bad input is counted and
    /// skipped, never fatal.
    fn run(&self, deliver: &mut dyn FnMut(Delivery), stop: &AtomicBool) -> Result<(), String>;

    /// Returns once every event the kernel had captured when called has been delivered
    /// (`vigil ctl -m` markers come after them in the log), or at `deadline`.
    fn sync(&self, _deadline: Instant) {}

    /// Events lost by the source, by cause (for status and `VIGIL_LOSS`).
    fn lost(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }

    /// Events written with part of their data missing, by cause (a string or path cut at a
    /// limit, items left out of a full record): reported like losses, not counted in `lost`.
    fn degraded(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }

    /// Other counters of the source, by name (for status).
    fn stats(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }

    /// Named states for status (the io_uring side: what is attached, the enforcement mode).
    fn info(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// Called with the daemon's state lock held when the io_uring policy changes (and once at
    /// start); `None`: no policy. An error refuses the change (the live policy stays).
    /// Returns warnings. A source that does not hook the kernel enforces nothing.
    fn policy_changed(
        &self,
        policy: Option<&super::uring::UringPolicy>,
    ) -> Result<Vec<String>, String> {
        Ok(policy
            .filter(|p| p.rules > 0)
            .map(|p| {
                vec![format!(
                    "{}: the io_uring policy is not enforced: the event source ({}) does not \
                     hook the kernel",
                    p.file,
                    self.describe()
                )]
            })
            .unwrap_or_default())
    }
}

/// No events at all.
#[derive(Debug, Default)]
pub struct IdleSource;

impl EventSource for IdleSource {
    fn describe(&self) -> String {
        "none".into()
    }

    fn run(&self, _deliver: &mut dyn FnMut(Delivery), stop: &AtomicBool) -> Result<(), String> {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

/// Events from a replay trace, delivered once, as fast as the writer takes them.
#[derive(Debug)]
pub struct ReplaySource {
    path: PathBuf,
    bad_lines: AtomicU64,
}

impl ReplaySource {
    pub fn new(path: PathBuf) -> ReplaySource {
        ReplaySource {
            path,
            bad_lines: AtomicU64::new(0),
        }
    }
}

impl EventSource for ReplaySource {
    fn describe(&self) -> String {
        format!("replay {}", self.path.display())
    }

    fn run(&self, deliver: &mut dyn FnMut(Delivery), stop: &AtomicBool) -> Result<(), String> {
        let f = std::fs::File::open(&self.path)
            .map_err(|e| format!("replay trace {}: {e}", self.path.display()))?;
        let reader = TraceReader::new(BufReader::new(f), self.path.display().to_string());
        for item in reader {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match item {
                Ok(ev) => deliver(Delivery::unjudged(ev)),
                Err(e @ vigil_format::Error::Io { .. }) => return Err(e.to_string()),
                Err(e) => {
                    self.bad_lines.fetch_add(1, Ordering::Relaxed);
                    log::error!("{e}");
                }
            }
        }
        log::info!("replay of {} finished", self.path.display());
        Ok(())
    }

    fn lost(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([(
            "trace_errors".to_string(),
            self.bad_lines.load(Ordering::Relaxed),
        )])
    }
}
