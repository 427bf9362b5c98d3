//! The io_uring ring-buffer consumer: epoll on `vigil_uring_events`, records decoded
//! ([`super::decode`]) and joined ([`super::join`]).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use aya::maps::{MapData, RingBuf};

use super::decode;
use super::join::{JoinLimits, JoinStats, Joiner, UringOutput};
use crate::decode::DecodeError;
use crate::error::Result;
use crate::reader::{epoll_on, wait_one};

/// Longest wait without looking at the ring (`URING_WAKEUP_BYTES` in `lib/uring.h`).
pub const POLL: Duration = Duration::from_millis(50);

/// What the reader saw (losses are data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReaderStats {
    pub records: u64,
    /// Records refused by the decoder.
    pub decode_errors: u64,
    pub join: JoinStats,
}

pub struct UringReader {
    ring: RingBuf<MapData>,
    epoll: OwnedFd,
    joiner: Joiner,
    records: u64,
    decode_errors: u64,
    last_error: Option<DecodeError>,
}

impl UringReader {
    pub(crate) fn new(ring: RingBuf<MapData>) -> Result<UringReader> {
        let epoll = epoll_on(ring.as_fd())?;
        Ok(UringReader {
            ring,
            epoll,
            joiner: Joiner::new(JoinLimits::default()),
            records: 0,
            decode_errors: 0,
            last_error: None,
        })
    }

    /// Replaces the join limits (before reading).
    pub fn set_limits(&mut self, limits: JoinLimits) {
        self.joiner = Joiner::new(limits);
    }

    /// Waits until records are available or `timeout` passes (at most [`POLL`]: the BPF side
    /// wakes the reader only once 64 KiB wait, so a trickle of records is picked up by
    /// polling). Returns whether woken.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let t = timeout.map_or(POLL, |d| d.min(POLL));
        let ms = i32::try_from(t.as_millis()).unwrap_or(i32::MAX);
        wait_one(self.epoll.as_fd(), ms)
    }

    /// Decodes and joins every record waiting now, then delivers expired `CQE_SKIP` ops.
    /// Returns how many records were read.
    pub fn drain(&mut self, deliver: &mut dyn FnMut(UringOutput)) -> usize {
        let now = Instant::now();
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            n += 1;
            self.records += 1;
            match decode::decode(&item) {
                Ok(rec) => self.joiner.push(rec, now, deliver),
                Err(e) => {
                    self.decode_errors += 1;
                    log::debug!("io_uring record refused: {e}");
                    self.last_error = Some(e);
                }
            }
        }
        self.joiner.expire(now, deliver);
        n
    }

    /// Delivers the ops still waiting for a completion (stopping).
    pub fn flush(&mut self, deliver: &mut dyn FnMut(UringOutput)) {
        self.joiner.flush(deliver);
    }

    /// Reads until `timeout` passes or `done` says so after an output.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        done: &mut dyn FnMut(&UringOutput) -> bool,
        out: &mut Vec<UringOutput>,
    ) -> io::Result<bool> {
        let end = Instant::now() + timeout;
        let mut finished = false;
        while !finished {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.wait(Some(left.min(Duration::from_millis(50))))?;
            self.drain(&mut |o| {
                if done(&o) {
                    finished = true;
                }
                out.push(o);
            });
        }
        Ok(finished)
    }

    pub fn stats(&self) -> ReaderStats {
        ReaderStats {
            records: self.records,
            decode_errors: self.decode_errors,
            join: self.joiner.stats(),
        }
    }

    /// Ops waiting for their completion.
    pub fn waiting(&self) -> usize {
        self.joiner.waiting()
    }

    pub fn last_error(&self) -> Option<&DecodeError> {
        self.last_error.as_ref()
    }
}

impl AsFd for UringReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}
