//! Being the audit daemon: the kernel unicasts every record to the registered socket.

use std::time::{Duration, Instant};

use crate::client::AuditClient;
use crate::error::{Error, Result};
use crate::netlink::{self, is_reply_type};
use crate::record::Record;
use crate::status::StatusUpdate;

/// Receive buffer asked for: records arrive in bursts and the kernel drops on overflow.
const DAEMON_RCVBUF: usize = 8 << 20;

/// This process registered as the audit daemon. Unregisters (pid 0) on drop.
#[derive(Debug)]
pub struct AuditDaemon {
    /// Always `Some` until `release` takes it (which consumes the daemon).
    client: Option<AuditClient>,
    registered: bool,
}

impl AuditDaemon {
    pub(crate) fn register(mut client: AuditClient) -> Result<AuditDaemon> {
        if let Err(e) = client.sock.set_recv_buffer(DAEMON_RCVBUF) {
            log::warn!("audit daemon socket keeps its default buffer: {e}");
        }
        client.set_status(&StatusUpdate {
            pid: Some(std::process::id()),
            ..StatusUpdate::default()
        })?;
        Ok(AuditDaemon {
            client: Some(client),
            registered: true,
        })
    }

    /// Requests on the daemon's own socket (records arriving meanwhile are kept).
    pub fn client(&mut self) -> &mut AuditClient {
        self.client
            .as_mut()
            .expect("client is present until release() consumes the daemon")
    }

    /// The next record, waiting at most `timeout` (`None` waits forever). `Ok(None)` on
    /// timeout; `Err(Error::Overrun)` when the kernel dropped records for lack of buffer
    /// (reading may continue).
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        if let Some(r) = self.client().sock.take_pending() {
            return Ok(Some(r));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let dgram = match self.client().sock.recv_datagram(left) {
                Ok(Some(d)) => d,
                Ok(None) => return Ok(None),
                Err(Error::Overrun) => {
                    self.client().sock.count_overrun();
                    return Err(Error::Overrun);
                }
                Err(e) => return Err(e),
            };
            let mut first = None;
            for m in netlink::parse_datagram(&dgram)? {
                if is_reply_type(m.msg_type) {
                    // A late reply to a request that timed out; nothing waits for it.
                    continue;
                }
                first = Some(Record::new(m.msg_type, m.payload));
                break;
            }
            if let Some(r) = first {
                return Ok(Some(r));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Reads records until `pred` accepts one or `timeout` passes; returns every record
    /// read (the accepted one last) and whether one was accepted.
    pub fn recv_until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Record) -> bool,
    ) -> Result<(Vec<Record>, bool)> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok((seen, false));
            }
            match self.recv(Some(left)) {
                Ok(Some(r)) => {
                    let hit = pred(&r);
                    seen.push(r);
                    if hit {
                        return Ok((seen, true));
                    }
                }
                Ok(None) => return Ok((seen, false)),
                Err(Error::Overrun) => log::warn!("audit records lost (receive buffer overrun)"),
                Err(e) => return Err(e),
            }
        }
    }

    /// Unregisters (pid 0) and gives the client back.
    pub fn release(mut self) -> Result<AuditClient> {
        self.unregister()?;
        Ok(self
            .client
            .take()
            .expect("client is present until release() consumes the daemon"))
    }

    fn unregister(&mut self) -> Result<()> {
        if !self.registered {
            return Ok(());
        }
        self.registered = false;
        self.client().set_status(&StatusUpdate {
            pid: Some(0),
            ..StatusUpdate::default()
        })
    }
}

impl Drop for AuditDaemon {
    fn drop(&mut self) {
        if let Err(e) = self.unregister() {
            log::warn!("could not unregister as audit daemon: {e}");
        }
    }
}
