//! Read-only subscription to kernel audit records (`AUDIT_NLGRP_READLOG` multicast), as
//! `journald` uses it: no daemon registration, needs `CAP_AUDIT_READ`. Best effort: the
//! kernel drops multicast records a slow reader cannot take, so loss shows as overruns.

use std::time::Duration;

use crate::error::Result;
use crate::record::Record;
use crate::socket::AuditSocket;

/// `AUDIT_NLGRP_READLOG` (group 1) as a bind bitmask.
const READLOG_GROUPS: u32 = 1;

/// A socket subscribed to the audit read-log multicast group.
#[derive(Debug)]
pub struct AuditReader {
    sock: AuditSocket,
}

impl AuditReader {
    /// Subscribes; every record the kernel emits from now on is delivered here too.
    pub fn subscribe() -> Result<AuditReader> {
        let mut sock = AuditSocket::open_groups(READLOG_GROUPS)?;
        if let Err(e) = sock.set_recv_buffer(8 << 20) {
            log::warn!("audit reader keeps its default buffer: {e}");
        }
        Ok(AuditReader { sock })
    }

    /// The next record, waiting at most `timeout` (`None`: forever); see
    /// [`crate::AuditDaemon::recv`].
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        self.sock.recv_record(timeout)
    }

    /// Reads until `pred` accepts a record or `timeout` passes.
    pub fn recv_until(
        &mut self,
        timeout: Duration,
        pred: impl FnMut(&Record) -> bool,
    ) -> Result<(Vec<Record>, bool)> {
        self.sock.recv_record_until(timeout, pred)
    }

    /// Receive-buffer overruns seen (each: an unknown number of records lost).
    pub fn overruns(&self) -> u64 {
        self.sock.overruns()
    }
}
