//! Socket plumbing: C socket addresses for CONNECT, passing an fd over a unix socket with
//! `SCM_RIGHTS`, and taking one from another process with `pidfd_getfd` (the kernel
//! refuses io_uring fds in `SCM_RIGHTS` with EINVAL since 6.7).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// A `sockaddr_in` or `sockaddr_in6` built from a [`SocketAddr`].
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl From<SocketAddr> for SockAddr {
    fn from(addr: SocketAddr) -> SockAddr {
        // SAFETY: sockaddr_storage is plain data; all zeroes is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*a.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin) };
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin6) };
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        SockAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }
}

impl SockAddr {
    pub fn as_ptr(&self) -> *const libc::sockaddr {
        std::ptr::from_ref(&self.storage).cast()
    }

    pub fn len(&self) -> libc::socklen_t {
        self.len
    }
}

/// Room for one fd in a control message (`CMSG_SPACE` of one int, rounded up generously).
const CMSG_BUF: usize = 64;

/// Sends `payload` with `fd` attached as `SCM_RIGHTS`.
pub fn send_fd(sock: &UnixStream, fd: RawFd, payload: &[u8]) -> io::Result<()> {
    let mut cbuf = [0u64; CMSG_BUF / 8];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr().cast_mut().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; zero is a valid starting value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure size computation.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    // SAFETY: msg_control points at a buffer of at least msg_controllen bytes, so the first
    // header and its data fit.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
    }
    // SAFETY: msg and everything it points to are valid for the call.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &raw const msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != payload.len() {
        return Err(io::Error::other(format!(
            "short sendmsg: {n} of {}",
            payload.len()
        )));
    }
    Ok(())
}

/// Receives exactly `payload.len()` bytes and the fd sent with them, if any.
pub fn recv_fd(sock: &UnixStream, payload: &mut [u8]) -> io::Result<Option<OwnedFd>> {
    let mut cbuf = [0u64; CMSG_BUF / 8];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; zero is a valid starting value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = CMSG_BUF;
    // SAFETY: msg and the buffers it points to are valid for the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &raw mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != payload.len() {
        return Err(io::Error::other(format!(
            "expected {} bytes with the ring fd, got {n}",
            payload.len()
        )));
    }
    // SAFETY: the kernel filled in msg_control; the CMSG macros walk within msg_controllen.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Ok(None);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

/// Duplicates fd number `target_fd` of process `pid` into this process
/// (`pidfd_open` + `pidfd_getfd`; needs ptrace access to `pid`, e.g. root).
pub fn take_fd(pid: u32, target_fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: raw syscalls with plain integer arguments; results checked.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0);
        if pidfd < 0 {
            return Err(io::Error::last_os_error());
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as RawFd);
        let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target_fd, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd as RawFd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn sockaddr_v4_is_network_order() {
        let a = SockAddr::from("127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(a.len() as usize, std::mem::size_of::<libc::sockaddr_in>());
        // SAFETY: built as a sockaddr_in above.
        let sin: libc::sockaddr_in = unsafe { std::ptr::read(a.as_ptr().cast()) };
        assert_eq!(sin.sin_family, libc::AF_INET as libc::sa_family_t);
        assert_eq!(u16::from_be(sin.sin_port), 8080);
        assert_eq!(u32::from_be(sin.sin_addr.s_addr), 0x7f00_0001);
    }

    #[test]
    fn an_fd_crosses_a_socketpair() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut pr, mut pw) = UnixStream::pair().unwrap();
        send_fd(&a, pw.as_raw_fd(), b"hello").unwrap();
        let mut buf = [0u8; 5];
        let got = recv_fd(&b, &mut buf).unwrap().expect("an fd");
        assert_eq!(&buf, b"hello");
        assert_ne!(
            got.as_raw_fd(),
            pw.as_raw_fd(),
            "a new fd number in the receiver"
        );
        // Writing through the received fd reaches the same socket.
        let mut dup = UnixStream::from(got);
        dup.write_all(b"x").unwrap();
        drop(dup);
        pw.write_all(b"y").unwrap();
        let mut two = [0u8; 2];
        pr.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"xy");
    }

    #[test]
    fn a_message_without_fd_yields_none() {
        let (a, b) = UnixStream::pair().unwrap();
        (&a).write_all(b"abc").unwrap();
        let mut buf = [0u8; 3];
        assert!(recv_fd(&b, &mut buf).unwrap().is_none());
        assert_eq!(&buf, b"abc");
    }

    #[test]
    fn take_fd_duplicates_our_own_fd() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let dup = take_fd(std::process::id(), b.as_raw_fd()).unwrap();
        let mut dup = UnixStream::from(dup);
        a.write_all(b"z").unwrap();
        let mut one = [0u8; 1];
        dup.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"z");
    }
}
