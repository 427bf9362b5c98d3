//! A ring in one of the three issuing modes, driven one SQE at a time.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use anyhow::{bail, Context, Result};
use io_uring::{squeue, IoUring, Parameters};

use crate::out::Line;

/// Who runs the ops: the submitting thread inline, the ring's SQPOLL thread, or an io-wq
/// worker (every SQE carries `IOSQE_ASYNC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Plain,
    Sqpoll,
    Async,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Sqpoll => "sqpoll",
            Mode::Async => "async",
        }
    }
}

/// SQPOLL idle time: long enough that the thread stays awake between our ops.
const SQPOLL_IDLE_MS: u32 = 2000;

/// Size of `struct io_uring_params` as the kernel fills it in (what `Parameters` wraps).
pub const PARAMS_LEN: usize = std::mem::size_of::<Parameters>();

/// A completed op: the CQE's user data, result and flags.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    pub user_data: u64,
    pub res: i32,
    pub flags: u32,
}

pub struct Ring {
    inner: IoUring,
    mode: Mode,
    seq: u32,
    base: u64,
}

impl Ring {
    /// Creates a ring: SQPOLL set up at creation for [`Mode::Sqpoll`]; the other two modes
    /// differ only in the SQE flags.
    pub fn new(mode: Mode, entries: u32) -> Result<Ring> {
        let mut builder = IoUring::builder();
        if mode == Mode::Sqpoll {
            builder.setup_sqpoll(SQPOLL_IDLE_MS);
        }
        let ring = builder
            .build(entries)
            .with_context(|| format!("io_uring_setup({entries}, mode {})", mode.name()))?;
        Ok(Ring::wrap(ring, mode))
    }

    /// Maps a ring created by another process from its fd and the `io_uring_params` bytes
    /// the kernel returned to its creator.
    pub fn from_shared(fd: RawFd, params: &[u8; PARAMS_LEN], mode: Mode) -> Result<Ring> {
        // SAFETY: `Parameters` is a transparent wrapper of the plain-data struct
        // io_uring_params; the bytes are exactly that struct as the creator received it.
        let params: Parameters = unsafe { std::ptr::read_unaligned(params.as_ptr().cast()) };
        // SAFETY: the fd was received over SCM_RIGHTS, is owned by us from here on, refers
        // to an io_uring, and the params are the ones the kernel filled in for it.
        let ring = unsafe { IoUring::from_fd(fd, params) }.context("mapping the shared ring")?;
        Ok(Ring::wrap(ring, mode))
    }

    fn wrap(ring: IoUring, mode: Mode) -> Ring {
        let pid = u64::from(std::process::id());
        Ring {
            inner: ring,
            mode,
            seq: 0,
            base: pid << 32,
        }
    }

    pub fn fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// True when the kernel set the ring up with an SQPOLL thread (also for a shared ring
    /// whose creator asked for it).
    pub fn is_sqpoll(&self) -> bool {
        self.inner.params().is_setup_sqpoll()
    }

    /// The raw `io_uring_params` bytes, to hand the ring to another process.
    pub fn params_bytes(&self) -> [u8; PARAMS_LEN] {
        let mut out = [0u8; PARAMS_LEN];
        // SAFETY: Parameters is plain data of exactly PARAMS_LEN bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                std::ptr::from_ref(self.inner.params()).cast::<u8>(),
                out.as_mut_ptr(),
                PARAMS_LEN,
            );
        }
        out
    }

    /// The `ring` line describing this ring.
    pub fn describe(&self, role: &str) -> Line {
        Line::new("ring")
            .with("role", role)
            .with("mode", self.mode.name())
            .with("ring_fd", self.fd())
            .with("sqpoll", self.is_sqpoll())
            .with("sq_entries", self.inner.params().sq_entries())
    }

    pub fn register_personality(&self) -> Result<u16> {
        self.inner
            .submitter()
            .register_personality()
            .context("IORING_REGISTER_PERSONALITY")
    }

    /// The user data of the next op: our pid in the high half, a sequence number in the
    /// low half, so a test can find exactly our ops among everything a hook saw.
    pub fn next_user_data(&mut self) -> u64 {
        self.seq += 1;
        self.base | u64::from(self.seq)
    }

    /// Submits one SQE (with a fresh user data, `IOSQE_ASYNC` in async mode and the given
    /// personality) and waits for its completion.
    ///
    /// # Safety
    /// Every buffer or pointer `entry` refers to must stay valid until this returns (it
    /// returns only after the kernel posted the completion).
    pub unsafe fn run(
        &mut self,
        entry: squeue::Entry,
        personality: Option<u16>,
    ) -> Result<Completion> {
        let user_data = self.next_user_data();
        let mut entry = entry.user_data(user_data);
        if self.mode == Mode::Async {
            entry = entry.flags(squeue::Flags::ASYNC);
        }
        if let Some(p) = personality {
            entry = entry.personality(p);
        }
        // SAFETY: the caller keeps the entry's buffers alive until we return, and we wait
        // for this entry's completion below.
        unsafe { self.inner.submission().push(&entry) }.context("submission queue full")?;
        let cqe = self.wait_one()?;
        if cqe.user_data != user_data {
            bail!(
                "expected the completion of user_data {user_data:#x}, got {:#x} (res {})",
                cqe.user_data,
                cqe.res
            );
        }
        Ok(cqe)
    }

    /// Submits what is queued and waits for one completion (of anything).
    pub fn wait_one(&mut self) -> Result<Completion> {
        loop {
            if let Some(cqe) = self.inner.completion().next() {
                return Ok(Completion {
                    user_data: cqe.user_data(),
                    res: cqe.result(),
                    flags: cqe.flags(),
                });
            }
            match self.inner.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("io_uring_enter"),
            }
        }
    }
}

/// The fields every `op` line has.
pub fn op_line(ring: &Ring, op: &str, opcode: u8, done: Completion) -> Line {
    Line::new("op")
        .with("op", op)
        .with("opcode", opcode)
        .with("user_data", done.user_data)
        .with("mode", ring.mode().name())
        .with("ring_fd", ring.fd())
        .with("cqe_flags", done.flags)
        .result(done.res)
}
