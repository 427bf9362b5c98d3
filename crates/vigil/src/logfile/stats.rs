//! Counters the writer shares with the daemon (status) and with producers (queue drops), and
//! the clock that stamps the daemon's own records.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use vigil_format::Identity;

/// Why events were lost. Each cause is counted separately, reported in-band as a `VIGIL_LOSS`
/// record (`source=`) and in `vigil ctl -s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossCause {
    /// The writer queue was full (`queue.overflow_action = drop|syslog`).
    QueueFull,
    /// The disk refused the write (ENOSPC, EDQUOT, EFBIG) or logging was suspended for it.
    DiskFull,
    /// Any other write error, or logging suspended after one.
    DiskError,
    /// Logging suspended by `max_log_file_action = suspend`.
    MaxLogFile,
    /// Logging suspended by a `space_left`/`admin_space_left` action.
    LowSpace,
    /// More events in one second than `-r` allows.
    RateLimit,
}

impl LossCause {
    pub const ALL: [LossCause; 6] = [
        LossCause::QueueFull,
        LossCause::DiskFull,
        LossCause::DiskError,
        LossCause::MaxLogFile,
        LossCause::LowSpace,
        LossCause::RateLimit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LossCause::QueueFull => "queue_full",
            LossCause::DiskFull => "disk_full",
            LossCause::DiskError => "disk_error",
            LossCause::MaxLogFile => "max_log_file",
            LossCause::LowSpace => "low_space",
            LossCause::RateLimit => "rate_limit",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn from_index(i: u8) -> Option<LossCause> {
        LossCause::ALL.get(usize::from(i)).copied()
    }
}

/// Lock-free counters shared by the writer thread, producers and status.
#[derive(Debug, Default)]
pub struct Shared {
    lost: [AtomicU64; 6],
    pub events_written: AtomicU64,
    pub records_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub rotations: AtomicU64,
    /// Events queued and not yet taken by the writer.
    pub queued: AtomicUsize,
    pub q_depth: AtomicUsize,
    /// `-b`: events queued beyond this are overflow (at most `q_depth`; 0 = `q_depth`).
    pub backlog_limit: AtomicUsize,
    /// `-r`: events per second accepted (0 = no limit).
    pub rate_limit: AtomicU64,
    /// Current second and events accepted in it, for `rate_limit`.
    pub rate_window: AtomicU64,
    pub rate_count: AtomicU64,
    /// 0 = writing, else 1 + the [`LossCause`] index that suspended logging.
    suspended: AtomicU8,
    pub overflow: AtomicU8,
    pub file_size: AtomicU64,
    /// Free bytes at the last disk-space check (`u64::MAX` before the first).
    pub free_bytes: AtomicU64,
}

impl Shared {
    pub fn add_lost(&self, cause: LossCause, n: u64) {
        self.lost[cause.index()].fetch_add(n, Ordering::Relaxed);
    }

    pub fn lost(&self, cause: LossCause) -> u64 {
        self.lost[cause.index()].load(Ordering::Relaxed)
    }

    pub fn total_lost(&self) -> u64 {
        LossCause::ALL.iter().map(|&c| self.lost(c)).sum()
    }

    pub fn set_suspended(&self, cause: Option<LossCause>) {
        let v = cause.map_or(0, |c| c.index() as u8 + 1);
        self.suspended.store(v, Ordering::Relaxed);
    }

    pub fn suspended(&self) -> Option<LossCause> {
        match self.suspended.load(Ordering::Relaxed) {
            0 => None,
            n => LossCause::from_index(n - 1),
        }
    }

    pub fn snapshot(&self) -> WriterStatus {
        WriterStatus {
            state: match self.suspended() {
                None => "writing".to_string(),
                Some(c) => format!("suspended ({})", c.as_str()),
            },
            events_written: self.events_written.load(Ordering::Relaxed),
            records_written: self.records_written.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            rotations: self.rotations.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            q_depth: self.q_depth.load(Ordering::Relaxed),
            file_size: self.file_size.load(Ordering::Relaxed),
            free_bytes: match self.free_bytes.load(Ordering::Relaxed) {
                u64::MAX => None,
                n => Some(n),
            },
            lost: LossCause::ALL
                .iter()
                .map(|&c| (c.as_str().to_string(), self.lost(c)))
                .collect(),
        }
    }
}

/// What `vigil ctl -s` shows of the writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WriterStatus {
    pub state: String,
    pub events_written: u64,
    pub records_written: u64,
    pub bytes_written: u64,
    pub rotations: u64,
    pub queued: usize,
    pub q_depth: usize,
    pub file_size: u64,
    pub free_bytes: Option<u64>,
    /// Events lost per cause (every cause listed, zeros included).
    pub lost: BTreeMap<String, u64>,
}

/// Stamps records vigil writes itself (and events that carry no serial): wall-clock time and
/// a serial from one counter for the whole daemon.
#[derive(Debug)]
pub struct Stamper {
    serial: AtomicU64,
}

impl Default for Stamper {
    fn default() -> Self {
        Stamper::new()
    }
}

impl Stamper {
    /// Starts at a value derived from the clock, as auditd starts at a random one, so two
    /// daemon runs in the same second do not reuse serials.
    pub fn new() -> Stamper {
        let start = now_ns() / 1_000 % 10_000 + 1;
        Stamper {
            serial: AtomicU64::new(start),
        }
    }

    pub fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// The identity of a new event at the current time.
    pub fn now(&self) -> Identity {
        Identity::from_ns(now_ns(), self.next_serial())
    }
}

/// Realtime clock in nanoseconds.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
