//! What the writer does when the log is full, the disk is short or a write fails.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use vigil_format::{f, rt, Record, Value};

use super::thread::{Fmt, Room, Writer};
use super::WriterConfig;
use super::{SPACE_BYTES, SPACE_INTERVAL};
use crate::config::{DiskAction, MaxLogFileAction};
use crate::logfile::file::{disk_space, LogError, LogFile};
use crate::logfile::stats::LossCause;

impl Writer {
    /// Applies `max_log_file_action` when the next event would pass `max_log_file`.
    pub(super) fn make_room(&mut self) -> Room {
        let max = self.cfg.max_log_file;
        match self.cfg.max_log_file_action {
            MaxLogFileAction::Ignore => Room::Anyway,
            MaxLogFileAction::Syslog => {
                self.warn_max(max);
                Room::Anyway
            }
            MaxLogFileAction::Suspend => {
                log::error!(
                    "audit log {} reached max_log_file ({} MiB): logging suspended \
                     (SIGUSR1 rotates, SIGUSR2 resumes)",
                    self.cfg.file.display(),
                    max >> 20
                );
                self.suspend(LossCause::MaxLogFile);
                Room::Refused
            }
            MaxLogFileAction::Rotate | MaxLogFileAction::KeepLogs => {
                if let Err(e) = self.rotate_now() {
                    log::error!("{e}");
                }
                match &self.file {
                    Some(f) if f.size() == 0 => Room::Fresh,
                    // Rotation disabled (num_logs < 2) or failed: keep the events.
                    Some(_) => Room::Anyway,
                    None => Room::Refused,
                }
            }
        }
    }

    fn warn_max(&mut self, max: u64) {
        if !self.max_warned {
            self.max_warned = true;
            log::warn!(
                "audit log {} reached max_log_file ({} MiB)",
                self.cfg.file.display(),
                max >> 20
            );
        }
    }

    /// Rotates as SIGUSR1 does: `keep_logs` shifts, everything else rotates by `num_logs`.
    pub(super) fn rotate_now(&mut self) -> Result<(), String> {
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

    pub(super) fn reconfigure(&mut self, cfg: WriterConfig) -> Result<(), String> {
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

    pub(super) fn reopen_if_closed(&mut self) {
        if self.file.is_none() {
            match LogFile::open(&self.cfg.file, &self.cfg.file_opts) {
                Ok(f) => self.file = Some(f),
                Err(e) => log::error!("cannot reopen the audit log: {e}"),
            }
        }
    }

    pub(super) fn suspend(&mut self, cause: LossCause) {
        self.suspended = Some(cause);
        self.shared.set_suspended(Some(cause));
    }

    pub(super) fn resume_all(&mut self) {
        if self.file.is_none() {
            return;
        }
        if self.suspended.take().is_some() {
            log::info!("audit log {} resumed", self.cfg.file.display());
        }
        self.suspend_level = 0;
        self.shared.set_suspended(None);
    }

    pub(super) fn write_failed(&mut self, e: &io::Error, events: u64) {
        if super::thread::is_space_error(e) {
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
    pub(super) fn act(&mut self, action: DiskAction, cause: LossCause, what: &str) {
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
                // Keep writing while the daemon stops: DAEMON_ABORT should reach the log
                // if the disk still takes it.
                log::error!("{what}: stopping (disk action `stop`, {})", cause.as_str());
                if !self.fatal_sent {
                    self.fatal_sent = true;
                    (self.on_fatal)(cause.as_str(), what.to_string());
                }
            }
        }
    }

    pub(super) fn space(&self) -> Option<(u64, u64)> {
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
    pub(super) fn check_space(&mut self, force: bool) {
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
/// `source` is a [`LossCause`] name or an event source's counter (`ringbuf`, ...).
pub fn loss_record(source: &str, lost: u64, total: u64) -> Record {
    let mut r = Record::new(rt::VIGIL_LOSS);
    r.push(f::SOURCE, Value::Tok(source.to_string().into()));
    r.push(f::LOST, Value::Dec(lost));
    r.push(f::TOTAL, Value::Dec(total));
    r
}
