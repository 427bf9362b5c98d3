//! The writer thread: batches events, writes them, flushes, reports losses.

use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Instant;

use vigil_format::json::JsonWriter;
use vigil_format::{Event, SystemResolver, TextMode, TextWriter};

use super::actions::loss_record;
use super::{Msg, WriterConfig, BATCH, RESUME_MIN_FREE, TICK};
use crate::config::LogFormat;
use crate::logfile::file::LogFile;
use crate::logfile::stats::{LossCause, Shared, Stamper};

/// What `max_log_file_action` made of a full log.
pub(super) enum Room {
    /// The log was rotated: an empty file.
    Fresh,
    /// Write past the limit.
    Anyway,
    /// Logging is suspended.
    Refused,
}

pub(super) enum Flow {
    Go,
    Stop(Option<Event>),
}

pub(super) enum Fmt {
    Text(TextWriter<SystemResolver>),
    Json(JsonWriter<SystemResolver>),
}

impl Fmt {
    pub(super) fn new(format: LogFormat) -> Fmt {
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

pub(super) struct Writer {
    pub(super) cfg: WriterConfig,
    pub(super) file: Option<LogFile>,
    pub(super) fmt: Fmt,
    pub(super) shared: Arc<Shared>,
    pub(super) stamper: Arc<Stamper>,
    pub(super) on_fatal: Box<dyn Fn(&'static str, String) + Send>,
    pub(super) buf: Vec<u8>,
    /// Per formatted event in `buf`: its end offset and its record count.
    pub(super) ends: Vec<(usize, u32)>,
    pub(super) suspended: Option<LossCause>,
    /// 0: enough space, 1: below `space_left`, 2: below `admin_space_left`.
    pub(super) space_level: u8,
    /// The level whose `suspend` action suspended logging.
    pub(super) suspend_level: u8,
    pub(super) last_space_check: Option<Instant>,
    pub(super) bytes_since_check: u64,
    pub(super) since_sync: u64,
    pub(super) flusher: Option<SyncSender<File>>,
    /// Losses already reported in-band, per cause.
    pub(super) reported: [u64; 6],
    pub(super) max_warned: bool,
    pub(super) error_warnings: u32,
    pub(super) fatal_sent: bool,
}

impl Writer {
    pub(super) fn new(
        cfg: WriterConfig,
        file: LogFile,
        shared: Arc<Shared>,
        stamper: Arc<Stamper>,
        on_fatal: Box<dyn Fn(&'static str, String) + Send>,
    ) -> Writer {
        let mut w = Writer {
            fmt: Fmt::new(cfg.format),
            cfg,
            file: Some(file),
            shared,
            stamper,
            on_fatal,
            buf: Vec::with_capacity(1 << 16),
            ends: Vec::with_capacity(1024),
            suspended: None,
            space_level: 0,
            suspend_level: 0,
            last_space_check: None,
            bytes_since_check: 0,
            since_sync: 0,
            flusher: None,
            reported: [0; 6],
            max_warned: false,
            error_warnings: 0,
            fatal_sent: false,
        };
        w.start_flusher();
        w
    }

    pub(super) fn start_flusher(&mut self) {
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

    pub(super) fn run(&mut self, rx: &Receiver<Msg>) {
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

    pub(super) fn format(&mut self, ev: &Event) {
        match (&self.cfg.node, &ev.id.node) {
            (Some(node), None) => {
                let mut e = ev.clone();
                e.id.node = Some(node.clone());
                self.fmt.write(&e, &mut self.buf);
            }
            _ => self.fmt.write(ev, &mut self.buf),
        }
        self.ends.push((
            self.buf.len(),
            u32::try_from(ev.records.len()).unwrap_or(u32::MAX),
        ));
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
            .any(|&c| self.shared.lost(c) > self.reported[c.index()])
    }

    fn write_batch_force(&mut self) {
        self.write_inner(true);
    }

    pub(super) fn write_batch(&mut self) {
        self.write_inner(false);
    }

    /// Writes the batch: the pending loss report first, then the events in chunks that
    /// respect `max_log_file` (so one big batch cannot overshoot it), acting at each limit.
    fn write_inner(&mut self, report_only: bool) {
        if self.ends.is_empty() && !report_only {
            return;
        }
        let total = self.ends.len();
        if let Some(cause) = self.suspended {
            self.shared.add_lost(cause, total as u64);
            self.clear_buf();
            return;
        }
        if self.file.is_none() {
            self.shared.add_lost(LossCause::DiskError, total as u64);
            self.clear_buf();
            return;
        }
        let (prefix, totals) = self.loss_records();
        if !prefix.is_empty() && self.append_chunk(&prefix, 0, 0) {
            self.reported = totals;
        }
        let buf = std::mem::take(&mut self.buf);
        let ends = std::mem::take(&mut self.ends);
        let (mut done, mut pos) = (0usize, 0usize);
        while done < ends.len() {
            let left = (ends.len() - done) as u64;
            if let Some(cause) = self.suspended {
                self.shared.add_lost(cause, left);
                break;
            }
            if self.file.is_none() {
                self.shared.add_lost(LossCause::DiskError, left);
                break;
            }
            let mut n = self.fitting(&ends[done..], pos);
            if n == 0 {
                match self.make_room() {
                    // A fresh file, or suspended / no file (the checks above count the rest).
                    Room::Fresh | Room::Refused => continue,
                    Room::Anyway => n = ends.len() - done,
                }
            }
            self.append_events(&buf, &ends[done..done + n], pos);
            pos = ends[done + n - 1].0;
            done += n;
        }
        self.buf = buf;
        self.ends = ends;
        self.clear_buf();
    }

    /// How many of the next events fit under `max_log_file` (at least one in an empty file).
    fn fitting(&self, ends: &[(usize, u32)], pos: usize) -> usize {
        let max = self.cfg.max_log_file;
        if max == 0 {
            return ends.len();
        }
        let size = self.file.as_ref().map_or(0, LogFile::size);
        let room = max.saturating_sub(size);
        let n = ends.partition_point(|&(end, _)| (end - pos) as u64 <= room);
        if n == 0 && size == 0 {
            1
        } else {
            n
        }
    }

    /// Appends the events `ends` (their end offsets in `buf`; the first starts at `pos`). When
    /// the disk refuses them all for want of space, the first half is tried, and so on down to
    /// one event: a nearly full disk still gets every whole event it has room for, as auditd
    /// writing event by event would, and the first event that does not fit counts the rest
    /// as lost and runs the disk-full action.
    fn append_events(&mut self, buf: &[u8], ends: &[(usize, u32)], pos: usize) {
        let (mut pos, mut ends) = (pos, ends);
        while !ends.is_empty() {
            let mut n = ends.len();
            loop {
                let end = ends[n - 1].0;
                let records: u64 = ends[..n].iter().map(|e| u64::from(e.1)).sum();
                match self.try_append(&buf[pos..end], n as u64, records) {
                    Ok(()) => break,
                    Err(e) if n > 1 && is_space_error(&e) => n /= 2,
                    Err(e) => {
                        self.write_failed(&e, ends.len() as u64);
                        return;
                    }
                }
            }
            pos = ends[n - 1].0;
            ends = &ends[n..];
        }
    }

    /// Appends one chunk holding `events` events; counts them as written or lost.
    fn append_chunk(&mut self, bytes: &[u8], events: u64, records: u64) -> bool {
        match self.try_append(bytes, events, records) {
            Ok(()) => true,
            Err(e) => {
                self.write_failed(&e, events);
                false
            }
        }
    }

    /// Appends one chunk (whole or not at all) and counts it as written; the caller decides
    /// what a failure means.
    fn try_append(&mut self, bytes: &[u8], events: u64, records: u64) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("no audit log file open"));
        };
        match file.append(bytes) {
            Ok(()) => {
                let sh = &self.shared;
                sh.events_written.fetch_add(events, Ordering::Relaxed);
                sh.records_written.fetch_add(records, Ordering::Relaxed);
                sh.bytes_written
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                sh.file_size.store(file.size(), Ordering::Relaxed);
                self.bytes_since_check += bytes.len() as u64;
                self.since_sync += records;
                self.maybe_sync();
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn clear_buf(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// `VIGIL_LOSS` records for losses not yet reported, and the totals they report.
    fn loss_records(&mut self) -> (Vec<u8>, [u64; 6]) {
        let mut out = Vec::new();
        let mut totals = self.reported;
        for c in LossCause::ALL {
            let total = self.shared.lost(c);
            let i = c.index();
            if total > self.reported[i] {
                let mut ev = Event {
                    id: self.stamper.now(),
                    records: vec![loss_record(c.as_str(), total - self.reported[i], total)],
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
}

/// ENOSPC, EDQUOT, EFBIG: the disk (or quota, or file size limit) has no room for the write.
pub(super) fn is_space_error(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
    )
}
