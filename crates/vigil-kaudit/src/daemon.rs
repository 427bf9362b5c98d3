//! Being the audit daemon: the kernel unicasts every record to the registered socket.

use std::time::Duration;

use crate::client::AuditClient;
use crate::error::Result;
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
    /// timeout; `Err(Error::Overrun)` when the kernel dropped records for lack of buffer,
    /// `Err(Error::Malformed)` for a datagram that could not be split (reading may continue
    /// after either).
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        self.client().sock.recv_record(timeout)
    }

    /// Reads records until `pred` accepts one or `timeout` passes; returns every record
    /// read (the accepted one last) and whether one was accepted.
    pub fn recv_until(
        &mut self,
        timeout: Duration,
        pred: impl FnMut(&Record) -> bool,
    ) -> Result<(Vec<Record>, bool)> {
        self.client().sock.recv_record_until(timeout, pred)
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
