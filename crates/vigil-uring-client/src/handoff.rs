//! What the personality server hands its client: the ring (fd number and params), the
//! personality id, the server's identity, and a page of memory mapped at the same address
//! in both processes.
//!
//! The page exists for SQPOLL rings: their thread runs in the creator's address space, so
//! a path pointer from the client is only valid there if it points into memory both share
//! at the same address (otherwise the op fails with EFAULT).

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{bail, ensure, Result};

use crate::ring::PARAMS_LEN;

/// Size of the shared page.
pub const PAGE_LEN: usize = 4096;

/// Bytes of the fixed header before the ring params.
const HEADER_LEN: usize = 32;
/// Bytes of a whole hand-off message.
pub const MSG_LEN: usize = HEADER_LEN + PARAMS_LEN;

/// The hand-off message (all integers little-endian): personality u16, flags u16 (bit 0:
/// SQPOLL ring), server pid, uid, gid, ring fd number, page memfd number (u32 each), page
/// address (u64), then the ring's `io_uring_params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub personality: u16,
    pub sqpoll: bool,
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
    pub ring_fd: u32,
    pub page_fd: u32,
    pub page_addr: u64,
    pub params: [u8; PARAMS_LEN],
}

impl Handoff {
    pub fn encode(&self) -> [u8; MSG_LEN] {
        let mut m = [0u8; MSG_LEN];
        m[0..2].copy_from_slice(&self.personality.to_le_bytes());
        m[2..4].copy_from_slice(&u16::from(self.sqpoll).to_le_bytes());
        m[4..8].copy_from_slice(&self.pid.to_le_bytes());
        m[8..12].copy_from_slice(&self.uid.to_le_bytes());
        m[12..16].copy_from_slice(&self.gid.to_le_bytes());
        m[16..20].copy_from_slice(&self.ring_fd.to_le_bytes());
        m[20..24].copy_from_slice(&self.page_fd.to_le_bytes());
        m[24..32].copy_from_slice(&self.page_addr.to_le_bytes());
        m[HEADER_LEN..].copy_from_slice(&self.params);
        m
    }

    pub fn decode(m: &[u8; MSG_LEN]) -> Result<Handoff> {
        let u16_at = |i: usize| u16::from_le_bytes([m[i], m[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([m[i], m[i + 1], m[i + 2], m[i + 3]]);
        let flags = u16_at(2);
        ensure!(
            flags & !1 == 0,
            "hand-off message: unknown flags {flags:#x}"
        );
        let mut addr = [0u8; 8];
        addr.copy_from_slice(&m[24..32]);
        let mut params = [0u8; PARAMS_LEN];
        params.copy_from_slice(&m[HEADER_LEN..]);
        Ok(Handoff {
            personality: u16_at(0),
            sqpoll: flags & 1 != 0,
            pid: u32_at(4),
            uid: u32_at(8),
            gid: u32_at(12),
            ring_fd: u32_at(16),
            page_fd: u32_at(20),
            page_addr: u64::from_le_bytes(addr),
            params,
        })
    }
}

/// A shared page backed by a memfd.
pub struct SharedPage {
    fd: OwnedFd,
    addr: *mut u8,
    used: usize,
}

impl SharedPage {
    /// Creates the page (server side).
    pub fn create() -> Result<SharedPage> {
        // SAFETY: memfd_create with a valid C string; result checked.
        let raw = unsafe { libc::memfd_create(c"vigil-uring-shared".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error().into());
        }
        // SAFETY: raw is a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ftruncate on our memfd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), PAGE_LEN as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error().into());
        }
        SharedPage::map(fd, std::ptr::null_mut(), 0)
    }

    /// Maps the server's page at the same address (client side).
    pub fn attach(fd: OwnedFd, addr: u64) -> Result<SharedPage> {
        SharedPage::map(fd, addr as *mut c_void, libc::MAP_FIXED_NOREPLACE)
    }

    fn map(fd: OwnedFd, want: *mut c_void, extra: libc::c_int) -> Result<SharedPage> {
        // SAFETY: mapping our own memfd; the result is checked before use.
        let p = unsafe {
            libc::mmap(
                want,
                PAGE_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | extra,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error().into());
        }
        if !want.is_null() && p != want {
            // An old kernel that ignored MAP_FIXED_NOREPLACE put it elsewhere.
            // SAFETY: unmapping what we just mapped.
            unsafe { libc::munmap(p, PAGE_LEN) };
            bail!("could not map the shared page at {want:p}");
        }
        Ok(SharedPage {
            fd,
            addr: p.cast(),
            used: 0,
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn addr(&self) -> u64 {
        self.addr as u64
    }

    /// Copies `path` with a NUL into the page and returns its address there; the pointer
    /// is valid as long as the page is mapped.
    pub fn put_path(&mut self, path: &Path) -> Result<*const libc::c_char> {
        let bytes = path.as_os_str().as_encoded_bytes();
        ensure!(
            !bytes.contains(&0),
            "{}: path contains a NUL byte",
            path.display()
        );
        ensure!(
            self.used + bytes.len() < PAGE_LEN,
            "{}: no room left in the shared page",
            path.display()
        );
        // SAFETY: the range [used, used + len] lies inside our PAGE_LEN mapping.
        unsafe {
            let dst = self.addr.add(self.used);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
            *dst.add(bytes.len()) = 0;
            self.used += bytes.len() + 1;
            Ok(dst.cast_const().cast())
        }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: our own mapping of PAGE_LEN bytes.
        unsafe { libc::munmap(self.addr.cast(), PAGE_LEN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_round_trips() {
        let mut params = [0u8; PARAMS_LEN];
        params[0] = 7;
        params[PARAMS_LEN - 1] = 9;
        let h = Handoff {
            personality: 3,
            sqpoll: true,
            pid: 1234,
            uid: 0,
            gid: 0,
            ring_fd: 5,
            page_fd: 6,
            page_addr: 0x7f00_dead_b000,
            params,
        };
        assert_eq!(Handoff::decode(&h.encode()).unwrap(), h);
    }

    #[test]
    fn handoff_rejects_unknown_flags() {
        let mut m = [0u8; MSG_LEN];
        m[2] = 2;
        let e = Handoff::decode(&m).unwrap_err().to_string();
        assert!(e.contains("unknown flags 0x2"), "{e}");
    }

    #[test]
    fn shared_page_holds_paths_and_fills_up() {
        let mut page = SharedPage::create().unwrap();
        let p = page.put_path(Path::new("/tmp/x")).unwrap();
        // SAFETY: put_path wrote a NUL-terminated copy there.
        let back = unsafe { std::ffi::CStr::from_ptr(p) };
        assert_eq!(back.to_bytes(), b"/tmp/x");
        let long = "a".repeat(PAGE_LEN);
        assert!(page.put_path(Path::new(&long)).is_err());
    }
}
