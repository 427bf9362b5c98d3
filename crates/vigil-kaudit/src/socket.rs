//! The `NETLINK_AUDIT` socket: send a request, collect its reply and ACK (in either order:
//! the kernel sends replies from a separate thread, so the ACK may arrive first), and keep
//! audit records that arrive meanwhile for the record reader.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::consts::{NETLINK_AUDIT, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_REQUEST};
use crate::error::{Error, Result};
use crate::netlink::{self, is_reply_type, Message};
use crate::record::Record;

/// Records buffered while waiting for a reply; beyond this they are dropped and counted.
const MAX_PENDING_RECORDS: usize = 65_536;

/// What a request expects besides the ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Only the ACK.
    Ack,
    /// One reply of this type, then (or before) the ACK.
    One(u16),
    /// Replies of this type until `NLMSG_DONE`.
    Multi(u16),
}

/// An open `NETLINK_AUDIT` socket.
#[derive(Debug)]
pub struct AuditSocket {
    fd: OwnedFd,
    seq: u32,
    timeout: Duration,
    pending: VecDeque<Record>,
    dropped: u64,
    overruns: u64,
}

impl AuditSocket {
    /// Opens a socket bound to a kernel-assigned port (and the given multicast groups).
    pub(crate) fn open_groups(groups: u32) -> Result<AuditSocket> {
        // SAFETY: plain socket(2) call; the returned fd is checked and then owned.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_AUDIT,
            )
        };
        if raw < 0 {
            return Err(Error::io("socket"));
        }
        // SAFETY: raw is a fresh, valid fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let addr = sockaddr_nl(groups);
        // SAFETY: addr is a valid sockaddr_nl and the length matches it.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::from_ref(&addr).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(Error::io("bind"));
        }
        Ok(AuditSocket {
            fd,
            seq: 0,
            timeout: Duration::from_secs(5),
            pending: VecDeque::new(),
            dropped: 0,
            overruns: 0,
        })
    }

    /// How long a request waits for its answer (default 5 s).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Enlarges the receive buffer (`SO_RCVBUFFORCE` when allowed, else `SO_RCVBUF`).
    pub fn set_recv_buffer(&mut self, bytes: usize) -> Result<()> {
        let v = i32::try_from(bytes).unwrap_or(i32::MAX);
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: v is an i32 living for the call; the length matches.
            let rc = unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    std::ptr::from_ref(&v).cast(),
                    size_of::<i32>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                return Ok(());
            }
        }
        Err(Error::io("setsockopt(SO_RCVBUF)"))
    }

    /// Records dropped because nobody read them while requests were answered.
    pub fn dropped_records(&self) -> u64 {
        self.dropped
    }

    /// Receive-buffer overruns (ENOBUFS) seen while waiting for replies: each means the
    /// kernel dropped an unknown number of records meant for this socket.
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// The next audit record (queued ones first), waiting at most `timeout`.
    pub(crate) fn recv_record(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        if let Some(r) = self.pending.pop_front() {
            return Ok(Some(r));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let dgram = match self.recv_datagram(left) {
                Ok(Some(d)) => d,
                Ok(None) => return Ok(None),
                Err(Error::Overrun) => {
                    self.overruns += 1;
                    return Err(Error::Overrun);
                }
                Err(e) => return Err(e),
            };
            // Replies here are late answers to requests that timed out: nothing waits.
            let record = netlink::parse_datagram(&dgram)?
                .into_iter()
                .find(|m| !is_reply_type(m.msg_type))
                .map(|m| Record::new(m.msg_type, m.payload));
            if let Some(r) = record {
                return Ok(Some(r));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Reads records until `pred` accepts one or `timeout` passes; returns every record
    /// read (the accepted one last) and whether one was accepted. Overruns and malformed
    /// datagrams are logged and counted, not fatal.
    pub(crate) fn recv_record_until(
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
            match self.recv_record(Some(left)) {
                Ok(Some(r)) => {
                    let hit = pred(&r);
                    seen.push(r);
                    if hit {
                        return Ok((seen, true));
                    }
                }
                Ok(None) => return Ok((seen, false)),
                Err(Error::Overrun) => log::warn!("audit records lost (receive buffer overrun)"),
                Err(e @ Error::Malformed { .. }) => log::warn!("skipping datagram: {e}"),
                Err(e) => return Err(e),
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        // 0 is what kernel records carry; never use it for a request.
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&mut self, msg_type: u16, flags: u16, payload: &[u8]) -> Result<u32> {
        let seq = self.next_seq();
        let msg = netlink::build(msg_type, flags, seq, payload)?;
        let addr = sockaddr_nl(0);
        loop {
            // SAFETY: msg and addr are valid for the call; lengths match.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    std::ptr::from_ref(&addr).cast(),
                    size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n >= 0 {
                return Ok(seq);
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::Io {
                    op: "sendto",
                    source: err,
                });
            }
        }
    }

    /// Waits up to `timeout` for a datagram and returns it, or `None` on timeout.
    /// Datagrams not sent by the kernel (port 0) are discarded.
    pub(crate) fn recv_datagram(&mut self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let wait_ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    // Round up so a sub-millisecond remainder still waits.
                    i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
                }
            };
            if !poll_in(self.fd.as_raw_fd(), wait_ms)? {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
                continue;
            }
            // Ask for the real size first: list replies can exceed any fixed buffer.
            let size = match recv_raw(
                self.fd.as_raw_fd(),
                &mut [],
                libc::MSG_PEEK | libc::MSG_TRUNC,
            )? {
                Received::Again => continue,
                Received::Data(n, _) => n,
            };
            let mut buf = vec![0u8; size.max(1)];
            if let Received::Data(n, from) = recv_raw(self.fd.as_raw_fd(), &mut buf, 0)? {
                if from == 0 {
                    buf.truncate(n);
                    return Ok(Some(buf));
                }
                log::debug!("ignoring netlink datagram from port {from}");
            }
        }
    }

    fn stash_record(&mut self, m: &Message<'_>) {
        if self.pending.len() >= MAX_PENDING_RECORDS {
            self.dropped += 1;
            return;
        }
        self.pending.push_back(Record::new(m.msg_type, m.payload));
    }

    /// Sends one request and waits for everything it produces. Returns the payloads of the
    /// expected reply messages (empty for `Expect::Ack`).
    pub(crate) fn request(
        &mut self,
        name: &'static str,
        msg_type: u16,
        payload: &[u8],
        expect: Expect,
    ) -> Result<Vec<Vec<u8>>> {
        let seq = self.send(msg_type, NLM_F_REQUEST | NLM_F_ACK, payload)?;
        let deadline = Instant::now() + self.timeout;
        let mut replies = Vec::new();
        let mut acked = false;
        let mut done = matches!(expect, Expect::Ack);
        while !(acked && done) {
            let left = deadline.saturating_duration_since(Instant::now());
            let dgram = match self.recv_datagram(Some(left)) {
                Ok(Some(d)) => d,
                Ok(None) => {
                    return Err(Error::Timeout {
                        request: name,
                        after: self.timeout,
                    })
                }
                // Records were lost (counted); our reply may still be queued.
                Err(Error::Overrun) => {
                    self.overruns += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for m in netlink::parse_datagram(&dgram)? {
                if !is_reply_type(m.msg_type) {
                    self.stash_record(&m);
                    continue;
                }
                if m.seq != seq {
                    // A late answer to an earlier request that timed out.
                    log::debug!(
                        "dropping stale netlink message type {} seq {}",
                        m.msg_type,
                        m.seq
                    );
                    continue;
                }
                match m.msg_type {
                    NLMSG_ERROR => {
                        let (err, _) = netlink::parse_error(m.payload)?;
                        if err != 0 {
                            return Err(Error::Kernel {
                                request: name,
                                errno: -err,
                            });
                        }
                        acked = true;
                    }
                    NLMSG_DONE => done = true,
                    t => match expect {
                        Expect::One(want) if t == want => {
                            replies.push(m.payload.to_vec());
                            done = true;
                        }
                        Expect::Multi(want) if t == want => replies.push(m.payload.to_vec()),
                        _ => log::debug!("unexpected reply type {t} to {name}"),
                    },
                }
            }
        }
        Ok(replies)
    }
}

impl AsRawFd for AuditSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn sockaddr_nl(groups: u32) -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_pid = 0;
    addr.nl_groups = groups;
    addr
}

/// poll(2) for input; `Ok(false)` on timeout or EINTR.
fn poll_in(fd: RawFd, timeout_ms: i32) -> Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&raw mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(Error::Io {
            op: "poll",
            source: err,
        });
    }
    Ok(rc > 0)
}

enum Received {
    Again,
    /// Length (the full datagram length with `MSG_TRUNC`) and the sender's port.
    Data(usize, u32),
}

fn recv_raw(fd: RawFd, buf: &mut [u8], flags: i32) -> Result<Received> {
    let mut from = sockaddr_nl(0);
    let mut from_len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: buf and from are valid for writes of the given lengths.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags | libc::MSG_DONTWAIT,
            std::ptr::from_mut(&mut from).cast(),
            &raw mut from_len,
        )
    };
    if n >= 0 {
        return Ok(Received::Data(n as usize, from.nl_pid));
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN | libc::EINTR) => Ok(Received::Again),
        Some(libc::ENOBUFS) => Err(Error::Overrun),
        _ => Err(Error::Io {
            op: "recvfrom",
            source: err,
        }),
    }
}
