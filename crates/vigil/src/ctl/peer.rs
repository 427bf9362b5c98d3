//! Who is on the other end: a control-socket client (`SO_PEERCRED`) or a signal's sender
//! (`si_pid`/`si_uid`), with the audit identity the kernel keeps for it in /proc.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// The identity vigil records for whoever asked for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
    /// Login uid; `u32::MAX` when unset or unknown.
    pub auid: u32,
    /// Session id; `u32::MAX` when unset or unknown.
    pub ses: u32,
    /// Executable path, when /proc still shows it.
    pub exe: Option<String>,
    /// Controlling terminal (`pts/0`), when it has one.
    pub tty: Option<String>,
}

impl Peer {
    /// A peer known only by pid and uid (a signal); the rest is read from /proc.
    pub fn from_pid(pid: u32, uid: u32) -> Peer {
        let (auid, ses) = audit_ids(pid);
        Peer {
            pid,
            uid,
            gid: u32::MAX,
            auid,
            ses,
            exe: exe_of(pid),
            tty: tty_of(pid),
        }
    }

    /// The process itself.
    pub fn this_process() -> Peer {
        // SAFETY: getuid/getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let mut p = Peer::from_pid(std::process::id(), uid);
        p.gid = gid;
        p
    }
}

/// The peer of a connected unix socket, from `SO_PEERCRED` (set by the kernel at connect).
pub fn peer_of(stream: &UnixStream) -> io::Result<Peer> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid out pointers of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let pid = u32::try_from(cred.pid).unwrap_or(0);
    let mut p = Peer::from_pid(pid, cred.uid);
    p.gid = cred.gid;
    Ok(p)
}

/// `/proc/PID/loginuid` and `/proc/PID/sessionid`.
pub fn audit_ids(pid: u32) -> (u32, u32) {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{name}"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    if pid == 0 {
        return (u32::MAX, u32::MAX);
    }
    (read("loginuid"), read("sessionid"))
}

fn exe_of(pid: u32) -> Option<String> {
    if pid == 0 {
        return None;
    }
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The controlling terminal from `/proc/PID/stat` field 7 (`tty_nr`), as `pts/N` or `ttyN`.
fn tty_of(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let tty_nr: u32 = rest.split_whitespace().nth(4)?.parse().ok()?;
    if tty_nr == 0 {
        return None;
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => Some(format!("pts/{}", (major - 136) * 256 + minor)),
        4 if minor < 64 => Some(format!("tty{minor}")),
        4 => Some(format!("ttyS{}", minor - 64)),
        _ => Some(format!("tty({major}:{minor})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_of_a_socketpair_is_us() {
        let (a, _b) = UnixStream::pair().unwrap();
        let p = peer_of(&a).unwrap();
        assert_eq!(p.pid, std::process::id());
        // SAFETY: getuid has no preconditions.
        assert_eq!(p.uid, unsafe { libc::getuid() });
        let me = Peer::this_process();
        assert_eq!((p.auid, p.ses), (me.auid, me.ses));
        assert!(p.exe.is_some());
    }
}
