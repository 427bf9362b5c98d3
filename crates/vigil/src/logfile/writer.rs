//! The writer thread and its handles.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vigil_format::json::JsonWriter;
use vigil_format::{f, rt, Event, Record, SystemResolver, TextMode, TextWriter, Value};

use super::file::{disk_space, group_gid, FileOptions, LogError, LogFile};
use super::stats::{LossCause, Shared, Stamper};
use crate::config::{Config, DiskAction, DiskConfig, LogFormat, MaxLogFileAction, OverflowAction};

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
    /// Queues an event under `overflow_action`; `false` when it was dropped (and counted).
    pub fn submit(&self, ev: Event) -> bool {
        let overflow = overflow_from(self.shared.overflow.load(Ordering::Relaxed));
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
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
    /// `on_fatal` is called from the writer thread when a `stop` action fires.
    pub fn spawn(
        cfg: WriterConfig,
        q_depth: usize,
        stamper: Arc<Stamper>,
        on_fatal: Box<dyn Fn(String) + Send>,
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

enum Flow {
    Go,
    Stop(Option<Event>),
}

enum Fmt {
    Text(TextWriter<SystemResolver>),
    Json(JsonWriter<SystemResolver>),
}

impl Fmt {
    fn new(format: LogFormat) -> Fmt {
        match format {
            LogFormat::Raw => Fmt::Text(TextWriter::new(TextMode::Raw, SystemResolver::new())),
            LogFormat::Enriched => {
                Fmt::Text(TextWriter::new(TextMode::Enriched, SystemResolver::new()))
            }
            LogFormat::Json => {
                Fmt::Json(JsonWriter::new(TextMode::Enriched, SystemResolver::new()))
            }
        }
    }

    fn write(&mut self, ev: &Event, out: &mut Vec<u8>) {
        match self {
            Fmt::Text(w) => w.write_event(ev, out),
            Fmt::Json(w) => w.write_event(ev, out),
        }
    }
}

struct Writer {
    cfg: WriterConfig,
    file: Option<LogFile>,
    fmt: Fmt,
    shared: Arc<Shared>,
    stamper: Arc<Stamper>,
    on_fatal: Box<dyn Fn(String) + Send>,
    buf: Vec<u8>,
    buf_events: u64,
    buf_records: u64,
    suspended: Option<LossCause>,
    /// 0: enough space, 1: below `space_left`, 2: below `admin_space_left`.
    space_level: u8,
    /// The level whose `suspend` action suspended logging.
    suspend_level: u8,
    last_space_check: Option<Instant>,
    bytes_since_check: u64,
    since_sync: u64,
    flusher: Option<SyncSender<File>>,
    /// Losses already reported in-band, per cause.
    reported: [u64; 5],
    max_warned: bool,
    error_warnings: u32,
    fatal_sent: bool,
}

impl Writer {
    fn new(
        cfg: WriterConfig,
        file: LogFile,
        shared: Arc<Shared>,
        stamper: Arc<Stamper>,
        on_fatal: Box<dyn Fn(String) + Send>,
    ) -> Writer {
        let mut w = Writer {
            fmt: Fmt::new(cfg.format),
            cfg,
            file: Some(file),
            shared,
            stamper,
            on_fatal,
            buf: Vec::with_capacity(1 << 16),
            buf_events: 0,
            buf_records: 0,
            suspended: None,
            space_level: 0,
            suspend_level: 0,
            last_space_check: None,
            bytes_since_check: 0,
            since_sync: 0,
            flusher: None,
            reported: [0; 5],
            max_warned: false,
            error_warnings: 0,
            fatal_sent: false,
        };
        w.start_flusher();
        w
    }

    fn start_flusher(&mut self) {
        self.flusher = None;
        if self.cfg.file_opts.flush != crate::config::Flush::IncrementalAsync {
            return;
        }
        let (tx, rx) = mpsc::sync_channel::<File>(1);
        let spawned = std::thread::Builder::new()
            .name("vigil-flush".into())
            .spawn(move || {
                for f in rx {
                    if let Err(e) = f.sync_data() {
                        log::warn!("fdatasync of the audit log failed: {e}");
                    }
                }
            });
        match spawned {
            Ok(_) => self.flusher = Some(tx),
            Err(e) => log::warn!("no flush thread ({e}); flushing in the writer thread"),
        }
    }

    fn run(&mut self, rx: &Receiver<Msg>) {
        self.check_space(true);
        loop {
            let first = match rx.recv_timeout(TICK) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    self.idle();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut next = Some(first);
            let mut taken = 0;
            while let Some(m) = next.take() {
                if let Flow::Stop(record) = self.handle(m) {
                    self.write_batch();
                    self.finish(record);
                    return;
                }
                taken += 1;
                if taken < BATCH {
                    next = rx.try_recv().ok();
                }
            }
            self.write_batch();
            self.check_space(false);
        }
        self.write_batch();
        self.finish(None);
    }

    /// Handles one message; `Stop` ends the loop and carries the final record.
    fn handle(&mut self, m: Msg) -> Flow {
        match m {
            Msg::Event(ev) => {
                self.shared.queued.fetch_sub(1, Ordering::Relaxed);
                self.format(&ev);
            }
            Msg::Rotate { record, done } => {
                self.write_batch();
                let res = self.rotate_now();
                if res.is_ok() {
                    self.resume_all();
                }
                if let Some(r) = record {
                    self.format(&r);
                    self.write_batch();
                }
                if let Some(d) = done {
                    let _ = d.send(res);
                }
            }
            Msg::Resume(record) => {
                self.write_batch();
                self.reopen_if_closed();
                self.resume_all();
                if let Some(r) = record {
                    self.format(&r);
                }
            }
            Msg::Reconfigure(cfg, done) => {
                self.write_batch();
                let _ = done.send(self.reconfigure(*cfg));
            }
            Msg::Barrier(done) => {
                self.write_batch();
                let _ = done.send(());
            }
            Msg::Stop(record) => return Flow::Stop(record),
        }
        Flow::Go
    }

    fn format(&mut self, ev: &Event) {
        match (&self.cfg.node, &ev.id.node) {
            (Some(node), None) => {
                let mut e = ev.clone();
                e.id.node = Some(node.clone());
                self.fmt.write(&e, &mut self.buf);
            }
            _ => self.fmt.write(ev, &mut self.buf),
        }
        self.buf_events += 1;
        self.buf_records += ev.records.len() as u64;
    }

    fn finish(&mut self, record: Option<Event>) {
        if let Some(r) = record {
            self.format(&r);
            self.write_batch();
        }
        if let Some(f) = &self.file {
            let _ = f.sync_data();
        }
        self.flusher = None;
    }

    fn idle(&mut self) {
        self.check_space(false);
        if self.suspended == Some(LossCause::DiskFull) {
            if let Some((free, total)) = self.space() {
                let need = self
                    .cfg
                    .disk
                    .admin_space_left
                    .bytes(total)
                    .max(RESUME_MIN_FREE);
                if free >= need {
                    log::info!("disk space is back ({free} bytes free): resuming the audit log");
                    self.resume_all();
                }
            }
        }
        // Report losses counted while idle (queue drops cannot happen then, disk ones can).
        if self.suspended.is_none() && self.unreported() {
            self.write_batch_force();
        }
    }

    fn unreported(&self) -> bool {
        LossCause::ALL
            .iter()
            .any(|&c| self.shared.lost(c) > self.reported[c as usize])
    }

    fn write_batch_force(&mut self) {
        self.write_inner(true);
    }

    fn write_batch(&mut self) {
        self.write_inner(false);
    }

    fn write_inner(&mut self, report_only: bool) {
        if self.buf.is_empty() && !report_only {
            return;
        }
        let events = self.buf_events;
        let records = self.buf_records;
        if let Some(cause) = self.suspended {
            self.shared.add_lost(cause, events);
            self.clear_buf();
            return;
        }
        if self.file.is_none() {
            self.shared.add_lost(LossCause::DiskError, events);
            self.clear_buf();
            return;
        }
        let (prefix, totals) = self.loss_records();
        let len = (prefix.len() + self.buf.len()) as u64;
        if len == 0 {
            return;
        }
        if !self.room_for(len) {
            let cause = self.suspended.unwrap_or(LossCause::MaxLogFile);
            self.shared.add_lost(cause, events);
            self.clear_buf();
            return;
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let mut res = Ok(());
        if !prefix.is_empty() {
            res = file.append(&prefix);
        }
        if res.is_ok() && !self.buf.is_empty() {
            res = file.append(&self.buf);
            if res.is_err() && !prefix.is_empty() {
                // The loss report made it; the batch did not. Count the batch, keep the report.
                self.reported = totals;
            }
        }
        match res {
            Ok(()) => {
                self.reported = totals;
                let sh = &self.shared;
                sh.events_written.fetch_add(events, Ordering::Relaxed);
                sh.records_written.fetch_add(records, Ordering::Relaxed);
                sh.bytes_written.fetch_add(len, Ordering::Relaxed);
                sh.file_size.store(file.size(), Ordering::Relaxed);
                self.bytes_since_check += len;
                self.since_sync += records;
                self.maybe_sync();
            }
            Err(e) => self.write_failed(&e, events),
        }
        self.clear_buf();
    }

    fn clear_buf(&mut self) {
        self.buf.clear();
        self.buf_events = 0;
        self.buf_records = 0;
    }

    /// `VIGIL_LOSS` records for losses not yet reported, and the totals they report.
    fn loss_records(&mut self) -> (Vec<u8>, [u64; 5]) {
        let mut out = Vec::new();
        let mut totals = self.reported;
        for c in LossCause::ALL {
            let total = self.shared.lost(c);
            let i = c as usize;
            if total > self.reported[i] {
                let mut ev = Event {
                    id: self.stamper.now(),
                    records: vec![loss_record(c, total - self.reported[i], total)],
                };
                if let Some(n) = &self.cfg.node {
                    ev.id.node = Some(n.clone());
                }
                self.fmt.write(&ev, &mut out);
                totals[i] = total;
            }
        }
        (out, totals)
    }

    fn maybe_sync(&mut self) {
        use crate::config::Flush;
        let freq = u64::from(self.cfg.freq.max(1));
        match self.cfg.file_opts.flush {
            Flush::Incremental if self.since_sync >= freq => {
                self.since_sync = 0;
                if let Some(f) = &self.file {
                    if let Err(e) = f.sync_data() {
                        log::warn!("fdatasync of the audit log failed: {e}");
                    }
                }
            }
            Flush::IncrementalAsync if self.since_sync >= freq => {
                self.since_sync = 0;
                if let (Some(tx), Some(f)) = (&self.flusher, &self.file) {
                    if let Ok(dup) = f.try_clone_file() {
                        // Full: a flush is pending and will cover these records too.
                        let _ = tx.try_send(dup);
                    }
                }
            }
            _ => {}
        }
    }

    /// Applies `max_log_file_action` when `len` more bytes would pass `max_log_file`.
    /// Returns whether the bytes may be written.
    fn room_for(&mut self, len: u64) -> bool {
        let max = self.cfg.max_log_file;
        let size = self.file.as_ref().map_or(0, LogFile::size);
        if max == 0 || size == 0 || size + len <= max {
            return true;
        }
        match self.cfg.max_log_file_action {
            MaxLogFileAction::Ignore => true,
            MaxLogFileAction::Syslog => {
                if !self.max_warned {
                    self.max_warned = true;
                    log::warn!(
                        "audit log {} reached max_log_file ({} MiB)",
                        self.cfg.file.display(),
                        max >> 20
                    );
                }
                true
            }
            MaxLogFileAction::Suspend => {
                log::error!(
                    "audit log {} reached max_log_file ({} MiB): logging suspended \
                     (SIGUSR1 rotates, SIGUSR2 resumes)",
                    self.cfg.file.display(),
                    max >> 20
                );
                self.suspend(LossCause::MaxLogFile);
                false
            }
            MaxLogFileAction::Rotate | MaxLogFileAction::KeepLogs => {
                if let Err(e) = self.rotate_now() {
                    log::error!("{e}");
                }
                true
            }
        }
    }

    /// Rotates as SIGUSR1 does: `keep_logs` shifts, everything else rotates by `num_logs`.
    fn rotate_now(&mut self) -> Result<(), String> {
        let Some(file) = self.file.as_mut() else {
            return Err("no audit log is open".into());
        };
        let res = if self.cfg.max_log_file_action == MaxLogFileAction::KeepLogs {
            file.shift().map(|()| true)
        } else {
            file.rotate(self.cfg.num_logs)
        };
        match res {
            Ok(true) => {
                self.shared.rotations.fetch_add(1, Ordering::Relaxed);
                self.shared.file_size.store(file.size(), Ordering::Relaxed);
                self.max_warned = false;
                self.since_sync = 0;
                Ok(())
            }
            Ok(false) => {
                if !self.max_warned {
                    self.max_warned = true;
                    log::warn!("log rotation is disabled (num_logs < 2)");
                }
                Ok(())
            }
            Err(e) => {
                let msg = format!("rotating the audit log failed: {e}");
                if let LogError::Dir { .. } | LogError::File { .. } = e {
                    // The fresh file could not be opened: nothing to write to.
                    self.file = None;
                    self.suspend(LossCause::DiskError);
                }
                Err(msg)
            }
        }
    }

    fn reconfigure(&mut self, cfg: WriterConfig) -> Result<(), String> {
        let reopen = cfg.file != self.cfg.file || cfg.file_opts != self.cfg.file_opts;
        if reopen || self.file.is_none() {
            let f = LogFile::open(&cfg.file, &cfg.file_opts).map_err(|e| e.to_string())?;
            self.shared.file_size.store(f.size(), Ordering::Relaxed);
            self.file = Some(f);
        }
        if cfg.format != self.cfg.format {
            self.fmt = Fmt::new(cfg.format);
        }
        let flush_changed = cfg.file_opts.flush != self.cfg.file_opts.flush;
        self.cfg = cfg;
        if flush_changed {
            self.start_flusher();
        }
        self.max_warned = false;
        self.error_warnings = 0;
        self.space_level = 0;
        self.resume_all();
        self.check_space(true);
        Ok(())
    }

    fn reopen_if_closed(&mut self) {
        if self.file.is_none() {
            match LogFile::open(&self.cfg.file, &self.cfg.file_opts) {
                Ok(f) => self.file = Some(f),
                Err(e) => log::error!("cannot reopen the audit log: {e}"),
            }
        }
    }

    fn suspend(&mut self, cause: LossCause) {
        self.suspended = Some(cause);
        self.shared.set_suspended(Some(cause));
    }

    fn resume_all(&mut self) {
        if self.file.is_none() {
            return;
        }
        if self.suspended.take().is_some() {
            log::info!("audit log {} resumed", self.cfg.file.display());
        }
        self.suspend_level = 0;
        self.shared.set_suspended(None);
    }

    fn write_failed(&mut self, e: &io::Error, events: u64) {
        let full = matches!(
            e.raw_os_error(),
            Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
        );
        if full {
            self.shared.add_lost(LossCause::DiskFull, events);
            let what = format!(
                "no space left for the audit log {} ({e}): {events} events lost",
                self.cfg.file.display()
            );
            self.act(self.cfg.disk.disk_full_action, LossCause::DiskFull, &what);
        } else {
            self.shared.add_lost(LossCause::DiskError, events);
            let what = format!(
                "error writing the audit log {} ({e}): {events} events lost",
                self.cfg.file.display()
            );
            self.error_warnings += 1;
            // auditd logs the first five write errors; so do we, unless told to act.
            if self.cfg.disk.disk_error_action != DiskAction::Syslog || self.error_warnings <= 5 {
                self.act(self.cfg.disk.disk_error_action, LossCause::DiskError, &what);
            }
        }
    }

    /// Runs a disk action once.
    fn act(&mut self, action: DiskAction, cause: LossCause, what: &str) {
        match action {
            DiskAction::Ignore => {}
            DiskAction::Syslog => log::warn!("{what}"),
            DiskAction::Rotate => {
                log::warn!("{what}: rotating the logs to free space");
                if let Err(e) = self.rotate_now() {
                    log::error!("{e}");
                }
            }
            DiskAction::Suspend => {
                log::error!("{what}: suspending the audit log");
                self.suspend(cause);
            }
            DiskAction::Stop => {
                log::error!("{what}: stopping (disk action `stop`)");
                self.suspend(cause);
                if !self.fatal_sent {
                    self.fatal_sent = true;
                    (self.on_fatal)(what.to_string());
                }
            }
        }
    }

    fn space(&self) -> Option<(u64, u64)> {
        let dir = self
            .cfg
            .file
            .parent()
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
        match disk_space(&dir) {
            Ok(s) => {
                self.shared.free_bytes.store(s.0, Ordering::Relaxed);
                Some(s)
            }
            Err(e) => {
                log::warn!("statvfs {}: {e}", dir.display());
                None
            }
        }
    }

    /// Compares free space with the thresholds when due (`force`: now).
    fn check_space(&mut self, force: bool) {
        let due = force
            || self.bytes_since_check >= SPACE_BYTES
            || self
                .last_space_check
                .is_none_or(|t| t.elapsed() >= SPACE_INTERVAL);
        if !due {
            return;
        }
        self.last_space_check = Some(Instant::now());
        self.bytes_since_check = 0;
        let Some((free, total)) = self.space() else {
            return;
        };
        let d = self.cfg.disk.clone();
        let level = if free < d.admin_space_left.bytes(total) {
            2
        } else {
            u8::from(free < d.space_left.bytes(total))
        };
        let old = self.space_level;
        self.space_level = level;
        if level > old {
            if old < 1 {
                let what = format!(
                    "low disk space for the audit log: {} MiB free, space_left is {}",
                    free >> 20,
                    d.space_left
                );
                self.act_space(d.space_left_action, 1, &what);
            }
            if level == 2 {
                let what = format!(
                    "very low disk space for the audit log: {} MiB free, admin_space_left is {}",
                    free >> 20,
                    d.admin_space_left
                );
                self.act_space(d.admin_space_left_action, 2, &what);
            }
        } else if level < old
            && self.suspended == Some(LossCause::LowSpace)
            && level < self.suspend_level
        {
            log::info!("disk space is back ({} MiB free)", free >> 20);
            self.resume_all();
        }
    }

    fn act_space(&mut self, action: DiskAction, level: u8, what: &str) {
        if action == DiskAction::Suspend && self.suspended.is_none() {
            self.suspend_level = level;
        }
        self.act(action, LossCause::LowSpace, what);
    }
}

/// `type=VIGIL_LOSS ... source=CAUSE lost=N total=M`: N events lost since the last report.
pub fn loss_record(cause: LossCause, lost: u64, total: u64) -> Record {
    let mut r = Record::new(rt::VIGIL_LOSS);
    r.push(f::SOURCE, Value::tok(cause.as_str()));
    r.push(f::LOST, Value::Dec(lost));
    r.push(f::TOTAL, Value::Dec(total));
    r
}
