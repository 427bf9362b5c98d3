//! The ring-buffer consumer: epoll on the ring's fd, records decoded by [`Decoder`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use aya::maps::{MapData, RingBuf};

use crate::decode::{DecodeError, DecodeStats, Decoder, SyscallEvent};
use crate::error::{Error, Result};

/// Reads events from `vigil_events`. Also usable from the caller's own epoll via
/// [`AsFd`] (readable = records waiting).
pub struct EventReader {
    ring: RingBuf<MapData>,
    epoll: OwnedFd,
    decoder: Decoder,
    last_error: Option<DecodeError>,
}

impl EventReader {
    pub(crate) fn new(ring: RingBuf<MapData>) -> Result<EventReader> {
        let epoll = epoll_on(ring.as_fd())?;
        Ok(EventReader {
            ring,
            epoll,
            decoder: Decoder::new(),
            last_error: None,
        })
    }

    /// Waits until records are available or `timeout` passes (`None`: forever).
    /// Returns whether the ring is readable.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let ms = timeout.map_or(-1, |d| i32::try_from(d.as_millis()).unwrap_or(i32::MAX));
        wait_one(self.epoll.as_fd(), ms)
    }

    /// Decodes every record waiting now; returns how many events were delivered.
    pub fn drain(&mut self, mut deliver: impl FnMut(SyscallEvent)) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            match self.decoder.push(&item) {
                Ok(Some(ev)) => {
                    deliver(ev);
                    n += 1;
                }
                Ok(None) => {}
                Err(e) => {
                    log::debug!("ring-buffer record refused: {e}");
                    self.last_error = Some(e);
                }
            }
        }
        n
    }

    /// Waits and drains until `deadline` or until `done` returns true for a delivered event.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        mut deliver: impl FnMut(SyscallEvent) -> bool,
    ) -> io::Result<bool> {
        let end = Instant::now() + timeout;
        let mut done = false;
        while !done {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.wait(Some(left.min(Duration::from_millis(100))))?;
            self.drain(|ev| {
                if !done && deliver(ev) {
                    done = true;
                }
            });
        }
        Ok(done)
    }

    pub fn stats(&self) -> DecodeStats {
        self.decoder.stats()
    }

    /// The last refused record's error, for diagnostics.
    pub fn last_error(&self) -> Option<&DecodeError> {
        self.last_error.as_ref()
    }
}

impl AsFd for EventReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

/// An epoll instance watching `fd` for input (for a ring buffer: records waiting).
pub(crate) fn epoll_on(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    let io_err = |what| move |source| Error::Io { what, source };
    // SAFETY: epoll_create1 has no memory arguments; the fd is checked then owned.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(io_err("epoll_create1")(io::Error::last_os_error()));
    }
    // SAFETY: raw is a fresh, valid descriptor that nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: both fds are valid; ev lives across the call.
    let rc = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &raw mut ev,
        )
    };
    if rc < 0 {
        return Err(io_err("epoll_ctl")(io::Error::last_os_error()));
    }
    Ok(epoll)
}

/// Waits on `epoll` for up to `ms` milliseconds (-1: forever), retrying on EINTR.
/// Returns whether an fd became ready.
pub(crate) fn wait_one(epoll: BorrowedFd<'_>, ms: i32) -> io::Result<bool> {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    loop {
        // SAFETY: ev is valid for one entry; the epoll fd is valid for the call.
        let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), &raw mut ev, 1, ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
