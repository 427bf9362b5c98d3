//! The machine-wide lock serialising tests that change kernel-global state.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

/// Path of the lock file every vigil test that touches kernel audit/auditd/BPF holds.
pub const KERNEL_LOCK_PATH: &str = "/tmp/vigil-kernel.lock";

/// An exclusive `flock` on [`KERNEL_LOCK_PATH`]; released on drop (or process death).
#[derive(Debug)]
pub struct KernelLock {
    file: File,
}

/// Blocks until this caller holds the kernel lock. Each call opens its own file
/// description, so two threads of one test binary also exclude each other.
pub fn kernel_lock() -> KernelLock {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(KERNEL_LOCK_PATH)
        .unwrap_or_else(|e| panic!("cannot open {KERNEL_LOCK_PATH}: {e}"));
    loop {
        // SAFETY: flock on a valid fd we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return KernelLock { file };
        }
        let err = std::io::Error::last_os_error();
        assert!(
            err.kind() == std::io::ErrorKind::Interrupted,
            "flock({KERNEL_LOCK_PATH}): {err}"
        );
    }
}

impl Drop for KernelLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlock first to make it explicit.
        // SAFETY: flock on a valid fd we own.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}
