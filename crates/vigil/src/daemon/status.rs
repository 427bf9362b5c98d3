//! `vigil ctl -s`: the daemon's state, printed first as `auditctl -s` prints the kernel's, then
//! vigil's own lines (rules, source, log, losses per cause).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::logfile::WriterStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Status {
    /// 0 off, 1 on, 2 on and immutable.
    pub enabled: u32,
    pub failure: u32,
    pub pid: u32,
    pub rate_limit: u32,
    pub backlog_limit: u32,
    /// Events lost, all causes (writer and source).
    pub lost: u64,
    /// Events queued for the writer.
    pub backlog: u64,
    pub backlog_wait_time: u32,
    pub loginuid_immutable: bool,
    pub rules: usize,
    /// The event source (`replay FILE`, `bpf`, `none`) and how it hooks the kernel.
    pub source: String,
    pub hook_mode: String,
    pub log_file: String,
    pub writer: WriterStatus,
    /// Losses the source counts (ring buffer full, decode errors, rate limit ...).
    pub source_lost: BTreeMap<String, u64>,
    /// Other counters of the source (BPF: candidates, events judged in user space, ...).
    #[serde(default)]
    pub source_stats: BTreeMap<String, u64>,
    /// Named states of the source (`io_uring`, `io_uring_mode`, `io_uring_policy`).
    #[serde(default)]
    pub source_info: BTreeMap<String, String>,
    pub events_seen: u64,
    pub events_matched: u64,
}

impl Status {
    /// The text `vigil ctl -s` prints.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "enabled {}", self.enabled);
        let _ = writeln!(o, "failure {}", self.failure);
        let _ = writeln!(o, "pid {}", self.pid);
        let _ = writeln!(o, "rate_limit {}", self.rate_limit);
        let _ = writeln!(o, "backlog_limit {}", self.backlog_limit);
        let _ = writeln!(o, "lost {}", self.lost);
        let _ = writeln!(o, "backlog {}", self.backlog);
        let _ = writeln!(o, "backlog_wait_time {}", self.backlog_wait_time);
        // vigil never waits for backlog room (see `queue.overflow_action = "block"`).
        let _ = writeln!(o, "backlog_wait_time_actual 0");
        let _ = writeln!(
            o,
            "loginuid_immutable {} {}",
            u8::from(self.loginuid_immutable),
            if self.loginuid_immutable {
                "locked"
            } else {
                "unlocked"
            }
        );
        let _ = writeln!(o, "rules {}", self.rules);
        let _ = writeln!(o, "source {}", self.source);
        let _ = writeln!(o, "hook_mode {}", self.hook_mode);
        let _ = writeln!(o, "events_seen {}", self.events_seen);
        let _ = writeln!(o, "events_matched {}", self.events_matched);
        let w = &self.writer;
        let _ = writeln!(o, "log_file {}", self.log_file);
        let _ = writeln!(o, "log_state {}", w.state);
        let _ = writeln!(o, "log_size {}", w.file_size);
        if let Some(free) = w.free_bytes {
            let _ = writeln!(o, "log_free {free}");
        }
        let _ = writeln!(o, "events_written {}", w.events_written);
        let _ = writeln!(o, "rotations {}", w.rotations);
        let _ = writeln!(o, "q_depth {}", w.q_depth);
        for (cause, n) in &w.lost {
            let _ = writeln!(o, "lost_{cause} {n}");
        }
        for (cause, n) in &self.source_lost {
            let _ = writeln!(o, "lost_{cause} {n}");
        }
        for (name, n) in &self.source_stats {
            let _ = writeln!(o, "{name} {n}");
        }
        for (name, v) in &self.source_info {
            let _ = writeln!(o, "{name} {v}");
        }
        o
    }
}
