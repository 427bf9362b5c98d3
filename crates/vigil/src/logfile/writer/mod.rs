//! The writer: its configuration, the queue's producer side ([`Submitter`]) and the daemon's
//! handle ([`WriterHandle`]); the thread itself is in `thread`, disk actions in `actions`.

mod actions;
mod thread;

pub use actions::loss_record;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vigil_format::Event;

use self::thread::Writer;
use super::file::{group_gid, FileOptions, LogError, LogFile};
use super::stats::{LossCause, Shared, Stamper};
use crate::config::{Config, DiskConfig, LogFormat, MaxLogFileAction, OverflowAction};

/// Events taken from the queue before one write.
const BATCH: usize = 512;
/// How often the thread wakes with nothing to do (space checks, resuming).
const TICK: Duration = Duration::from_millis(200);
/// Space is checked at least this often while writing ...
const SPACE_INTERVAL: Duration = Duration::from_secs(1);
/// ... or after this many bytes.
const SPACE_BYTES: u64 = 1 << 20;
/// Least free space before a writer suspended by a full disk tries again.
const RESUME_MIN_FREE: u64 = 256 << 10;
/// Queue-full warnings are logged at most this often.
const WARN_INTERVAL: Duration = Duration::from_secs(5);

/// The writer's part of the configuration, resolved (group names to ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    pub file: PathBuf,
    pub format: LogFormat,
    pub file_opts: FileOptions,
    pub freq: u32,
    /// Bytes; 0 = no limit.
    pub max_log_file: u64,
    pub num_logs: u32,
    pub max_log_file_action: MaxLogFileAction,
    pub disk: DiskConfig,
    pub overflow: OverflowAction,
    pub node: Option<String>,
}

impl WriterConfig {
    pub fn from_config(cfg: &Config) -> Result<WriterConfig, String> {
        let gid = group_gid(&cfg.log.group).map_err(|e| format!("log.group: {e}"))?;
        Ok(WriterConfig {
            file: cfg.log.file.clone(),
            format: cfg.log.format,
            file_opts: FileOptions {
                flush: cfg.log.flush,
                gid,
            },
            freq: cfg.log.freq,
            max_log_file: cfg.log.max_log_file.saturating_mul(1 << 20),
            num_logs: cfg.log.num_logs,
            max_log_file_action: cfg.log.max_log_file_action,
            disk: cfg.disk.clone(),
            overflow: cfg.queue.overflow_action,
            node: cfg.node_name(),
        })
    }
}

enum Msg {
    Event(Event),
    /// Rotate now (SIGUSR1, `vigil ctl`), then write `record` into the fresh file.
    Rotate {
        record: Option<Event>,
        done: Option<SyncSender<Result<(), String>>>,
    },
    /// Resume a suspended log (SIGUSR2), then write `record`.
    Resume(Option<Event>),
    Reconfigure(Box<WriterConfig>, SyncSender<Result<(), String>>),
    /// Replies once everything queued before it is written.
    Barrier(SyncSender<()>),
    /// Writes `record`, syncs and ends the thread.
    Stop(Option<Event>),
}

/// The producer side: cheap to clone, one per event source.
#[derive(Clone)]
pub struct Submitter {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    last_warn: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Submitter {
    /// Queues an event under `-r`, `-b` and `overflow_action`; `false` when it was dropped
    /// (and counted).
    pub fn submit(&self, ev: Event) -> bool {
        let sh = &self.shared;
        if !self.within_rate() {
            sh.add_lost(LossCause::RateLimit, 1);
            return false;
        }
        let overflow = overflow_from(sh.overflow.load(Ordering::Relaxed));
        let limit = sh.backlog_limit.load(Ordering::Relaxed);
        let queued = sh.queued.fetch_add(1, Ordering::Relaxed);
        if limit > 0 && queued >= limit && overflow != OverflowAction::Block {
            sh.queued.fetch_sub(1, Ordering::Relaxed);
            sh.add_lost(LossCause::QueueFull, 1);
            if overflow == OverflowAction::Syslog {
                self.warn_full();
            }
            return false;
        }
        let res = if overflow == OverflowAction::Block {
            self.tx.send(Msg::Event(ev)).map_err(|_| ())
        } else {
            match self.tx.try_send(Msg::Event(ev)) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => {
                    self.shared.add_lost(LossCause::QueueFull, 1);
                    if overflow == OverflowAction::Syslog {
                        self.warn_full();
                    }
                    Err(())
                }
                Err(TrySendError::Disconnected(_)) => Err(()),
            }
        };
        if res.is_err() {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        }
        res.is_ok()
    }

    /// `-r`: at most `rate_limit` events per wall-clock second.
    fn within_rate(&self) -> bool {
        let sh = &self.shared;
        let limit = sh.rate_limit.load(Ordering::Relaxed);
        if limit == 0 {
            return true;
        }
        let sec = super::stats::now_ns() / 1_000_000_000;
        if sh.rate_window.swap(sec, Ordering::Relaxed) != sec {
            sh.rate_count.store(0, Ordering::Relaxed);
        }
        sh.rate_count.fetch_add(1, Ordering::Relaxed) < limit
    }

    /// Queues an event vigil must not drop (its own records): waits for room.
    pub fn submit_wait(&self, ev: Event) -> bool {
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        let ok = self.tx.send(Msg::Event(ev)).is_ok();
        if !ok {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        }
        ok
    }

    /// Waits until every event queued before this call has been written (or counted lost).
    pub fn barrier(&self) -> bool {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx.send(Msg::Barrier(tx)).is_ok() && rx.recv().is_ok()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn warn_full(&self) {
        let Ok(mut last) = self.last_warn.lock() else {
            return;
        };
        if last.is_none_or(|t| t.elapsed() >= WARN_INTERVAL) {
            *last = Some(Instant::now());
            log::warn!(
                "writer queue full (q_depth {}): {} events dropped so far",
                self.shared.q_depth.load(Ordering::Relaxed),
                self.shared.lost(LossCause::QueueFull)
            );
        }
    }
}

/// The daemon's handle: a submitter plus the controls only the daemon uses.
pub struct WriterHandle {
    sub: Submitter,
    thread: Option<JoinHandle<()>>,
}

fn overflow_to(o: OverflowAction) -> u8 {
    match o {
        OverflowAction::Drop => 0,
        OverflowAction::Syslog => 1,
        OverflowAction::Block => 2,
    }
}

fn overflow_from(v: u8) -> OverflowAction {
    match v {
        0 => OverflowAction::Drop,
        2 => OverflowAction::Block,
        _ => OverflowAction::Syslog,
    }
}

impl WriterHandle {
    /// Opens the log (errors here stop the daemon from starting) and starts the thread.
    /// `on_fatal(cause, message)` is called from the writer thread when a `stop` action
    /// fires (`cause`: a [`LossCause`] name).
    pub fn spawn(
        cfg: WriterConfig,
        q_depth: usize,
        stamper: Arc<Stamper>,
        on_fatal: Box<dyn Fn(&'static str, String) + Send>,
    ) -> Result<WriterHandle, LogError> {
        let file = LogFile::open(&cfg.file, &cfg.file_opts)?;
        let shared = Arc::new(Shared::default());
        shared.q_depth.store(q_depth, Ordering::Relaxed);
        shared.free_bytes.store(u64::MAX, Ordering::Relaxed);
        shared.file_size.store(file.size(), Ordering::Relaxed);
        shared
            .overflow
            .store(overflow_to(cfg.overflow), Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(q_depth);
        let mut w = Writer::new(cfg, file, Arc::clone(&shared), stamper, on_fatal);
        let thread = std::thread::Builder::new()
            .name("vigil-writer".into())
            .spawn(move || w.run(&rx))
            .map_err(|e| LogError::Io {
                path: PathBuf::new(),
                op: "spawn writer thread",
                source: e,
            })?;
        Ok(WriterHandle {
            sub: Submitter {
                tx,
                shared,
                last_warn: Arc::default(),
            },
            thread: Some(thread),
        })
    }

    pub fn submitter(&self) -> Submitter {
        self.sub.clone()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.sub.shared
    }

    /// Rotates now; `record` (`DAEMON_ROTATE`) opens the new file.
    pub fn rotate(&self, record: Option<Event>) -> Result<(), String> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Msg::Rotate {
            record,
            done: Some(tx),
        })?;
        rx.recv().map_err(|_| "writer thread ended".to_string())?
    }

    pub fn resume(&self, record: Option<Event>) -> Result<(), String> {
        self.send(Msg::Resume(record))
    }

    /// Applies a new configuration (log path, format, limits, actions).
    pub fn reconfigure(&self, cfg: WriterConfig) -> Result<(), String> {
        self.sub
            .shared
            .overflow
            .store(overflow_to(cfg.overflow), Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Msg::Reconfigure(Box::new(cfg), tx))?;
        rx.recv().map_err(|_| "writer thread ended".to_string())?
    }

    /// Writes `record` (`DAEMON_END`) after everything queued, syncs, and joins the thread.
    pub fn stop(mut self, record: Option<Event>) {
        if self.send(Msg::Stop(record)).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn send(&self, m: Msg) -> Result<(), String> {
        self.sub
            .tx
            .send(m)
            .map_err(|_| "writer thread ended".to_string())
    }
}
