//! A deterministic workload in a forked child: a list of operations, each one raw syscall
//! (so the syscall number is exactly the one named: `open` is `open`, not glibc's `openat`),
//! run in order; every result (the raw return value, `-errno` on failure) goes back to the
//! parent through a pipe.
//!
//! The child is forked from the (multi-threaded) test process, so it does only raw syscalls
//! on memory prepared before the fork: no allocation, no locks. It can start gated (the parent
//! learns its pid first, e.g. to add `-F pid=` rules) and ends with `_exit` or an `execve`.

use std::ffi::CString;
use std::io::Read;
use std::net::SocketAddrV4;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// One step of a workload.
#[derive(Debug, Clone)]
pub enum Op {
    /// `open(path, flags, mode)` (syscall 2); a returned fd is closed at once.
    Open(CString, i32, u32),
    /// `openat(AT_FDCWD, path, flags, mode)`; a returned fd is closed at once.
    OpenAt(CString, i32, u32),
    /// `creat(path, mode)`; the fd is closed.
    Creat(CString, u32),
    /// `unlink(path)`.
    Unlink(CString),
    /// `unlinkat(AT_FDCWD, path, flags)`.
    UnlinkAt(CString, i32),
    /// `rename(from, to)`.
    Rename(CString, CString),
    /// `renameat2(AT_FDCWD, from, AT_FDCWD, to, 0)`.
    RenameAt2(CString, CString),
    /// `mkdir(path, mode)`.
    Mkdir(CString, u32),
    /// `chmod(path, mode)`.
    Chmod(CString, u32),
    /// `openat(path, O_RDONLY)`, `fchmod(fd, mode)`, close; the result is fchmod's.
    Fchmod(CString, u32),
    /// `link(old, new)`.
    Link(CString, CString),
    /// `symlink(target, linkpath)`.
    Symlink(CString, CString),
    /// `fchmodat(AT_FDCWD, path, mode)`.
    FchmodAt(CString, u32),
    /// `chown(path, uid, gid)`.
    Chown(CString, u32, u32),
    /// `fchownat(AT_FDCWD, path, uid, gid, 0)`.
    FchownAt(CString, u32, u32),
    /// `chdir(path)`.
    Chdir(CString),
    /// `setuid(uid)`.
    Setuid(u32),
    /// `kill(pid, sig)`.
    Kill(i32, i32),
    /// A TCP socket, `connect` to the address, close. The result is connect's.
    Connect(SocketAddrV4),
    /// `getppid()` (a cheap syscall for floods and never rules).
    Getppid,
    /// `getppid()` `n` times; the result is the last one.
    GetppidLoop(u32),
    /// `openat(AT_FDCWD, path, O_RDONLY)` + close, `n` times; the result is the last open's.
    OpenLoop(CString, u32),
    /// Writes `/proc/self/loginuid` (open, write, close): the child's audit login uid.
    SetLoginuid(u32),
    /// `setgroups(0)`, `setresgid(gid)`, `setresuid(uid)`: the child drops root.
    DropTo(u32, u32),
    /// `execve(path, argv, envp)`: the last op when it succeeds (the pipe closes at exec).
    Exec(CString, Vec<CString>),
    /// `nanosleep` for this many milliseconds (a target for signals).
    Sleep(u64),
    /// `fork()`: the new process runs these ops (results not reported) and exits; the parent
    /// waits for it. The result is the new process's pid.
    Fork(Vec<Op>),
}

/// Per-op state prepared before the fork (pointers the child may use without allocating).
struct Prepared {
    op: Op,
    argv: Vec<*const libc::c_char>,
    text: Vec<u8>,
    addr: libc::sockaddr_in,
    sub: Vec<Prepared>,
}

fn prepare(op: Op) -> Prepared {
    let mut argv = Vec::new();
    let mut text = Vec::new();
    let mut sub = Vec::new();
    let mut addr: libc::sockaddr_in =
        // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
        unsafe { std::mem::zeroed() };
    match &op {
        Op::Exec(_, args) => {
            argv = args.iter().map(|a| a.as_ptr()).collect();
            argv.push(std::ptr::null());
        }
        Op::SetLoginuid(auid) => text = auid.to_string().into_bytes(),
        Op::Fork(ops) => sub = ops.iter().cloned().map(prepare).collect(),
        Op::Connect(sa) => {
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_port = sa.port().to_be();
            addr.sin_addr.s_addr = u32::from_ne_bytes(sa.ip().octets());
        }
        _ => {}
    }
    Prepared {
        op,
        argv,
        text,
        addr,
        sub,
    }
}

/// A forked child waiting for [`Pending::go`] (or already running).
pub struct Pending {
    pid: libc::pid_t,
    gate: Option<OwnedFd>,
    results: OwnedFd,
    reaped: bool,
}

/// A finished workload.
#[derive(Debug, Clone)]
pub struct Run {
    pub pid: u32,
    /// One raw result per op run, in order (an `Exec` that succeeded leaves none).
    pub results: Vec<i64>,
    /// The wait status (`WEXITSTATUS` etc.).
    pub status: i32,
}

impl Run {
    /// The result of op `i`, panicking with the whole list when it did not run.
    pub fn result(&self, i: usize) -> i64 {
        *self
            .results
            .get(i)
            .unwrap_or_else(|| panic!("op {i} of workload {} did not run: {self:?}", self.pid))
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 returned two new descriptors we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Forks the workload; it waits for [`Pending::go`] before its first op.
pub fn spawn(ops: Vec<Op>) -> Pending {
    let prepared: Vec<Prepared> = ops.into_iter().map(prepare).collect();
    let envp: [*const libc::c_char; 2] = [c"PATH=/usr/bin:/bin".as_ptr(), std::ptr::null()];
    let (gate_r, gate_w) = pipe();
    let (res_r, res_w) = pipe();
    // SAFETY: the child runs only raw syscalls on memory prepared above and leaves with
    // _exit or execve; it never returns into Rust code of the test.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: see above.
        unsafe { child(&prepared, &envp, gate_r.as_raw_fd(), res_w.as_raw_fd()) }
    }
    drop(gate_r);
    drop(res_w);
    Pending {
        pid,
        gate: Some(gate_w),
        results: res_r,
        reaped: false,
    }
}

/// Forks the workload and runs it to the end.
pub fn run(ops: Vec<Op>) -> Run {
    spawn(ops).go()
}

impl Pending {
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the child run and waits (up to 2 min) for it to finish.
    pub fn go(mut self) -> Run {
        self.release();
        let mut bytes = Vec::new();
        let mut f = std::fs::File::from(self.results.try_clone().expect("dup"));
        f.read_to_end(&mut bytes).expect("read workload results");
        let results = bytes
            .chunks_exact(8)
            .map(|c| i64::from_ne_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let status = self.reap(Duration::from_mins(2));
        Run {
            pid: self.pid as u32,
            results,
            status,
        }
    }

    /// Opens the gate without waiting (the child runs while the caller does other work).
    pub fn release(&mut self) {
        if let Some(g) = self.gate.take() {
            // SAFETY: writing one byte from a valid buffer to our pipe end.
            let n = unsafe { libc::write(g.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
            assert_eq!(n, 1, "gate write: {}", std::io::Error::last_os_error());
        }
    }

    fn reap(&mut self, timeout: Duration) -> i32 {
        let t0 = Instant::now();
        loop {
            let mut st = 0;
            // SAFETY: waiting for our own child.
            let rc = unsafe { libc::waitpid(self.pid, &raw mut st, libc::WNOHANG) };
            if rc == self.pid {
                self.reaped = true;
                return st;
            }
            assert!(rc == 0, "waitpid: {}", std::io::Error::last_os_error());
            assert!(
                t0.elapsed() < timeout,
                "workload {} still running after {timeout:?}",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: our own unreaped child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

unsafe fn sys(nr: libc::c_long, a: [usize; 5]) -> i64 {
    // SAFETY: the caller passes valid arguments for syscall `nr`.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]) };
    if r == -1 {
        -i64::from(unsafe { *libc::__errno_location() })
    } else {
        r
    }
}

fn p(s: &CString) -> usize {
    s.as_ptr() as usize
}

const CWD: usize = libc::AT_FDCWD as usize;

unsafe fn close_if_fd(r: i64) {
    if r >= 0 {
        unsafe { libc::syscall(libc::SYS_close, r) };
    }
}

/// The child: wait at the gate, run each op, report, `_exit(0)`.
unsafe fn child(
    ops: &[Prepared],
    envp: &[*const libc::c_char; 2],
    gate: libc::c_int,
    out: libc::c_int,
) -> ! {
    unsafe {
        // Die with the test rather than linger.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let mut b = 0u8;
        if libc::read(gate, (&raw mut b).cast(), 1) != 1 {
            libc::_exit(3);
        }
        for pr in ops {
            let r = run_op(pr, envp);
            let bytes = r.to_ne_bytes();
            if libc::write(out, bytes.as_ptr().cast(), 8) != 8 {
                libc::_exit(4);
            }
        }
        libc::_exit(0)
    }
}

unsafe fn run_op(pr: &Prepared, envp: &[*const libc::c_char; 2]) -> i64 {
    use libc::{
        SYS_chdir, SYS_chmod, SYS_chown, SYS_creat, SYS_fchmodat, SYS_fchownat, SYS_getppid,
        SYS_kill, SYS_mkdir, SYS_open, SYS_openat, SYS_rename, SYS_renameat2, SYS_setuid,
        SYS_unlink, SYS_unlinkat,
    };
    unsafe {
        match &pr.op {
            Op::Open(path, flags, mode) => {
                let r = sys(SYS_open, [p(path), *flags as usize, *mode as usize, 0, 0]);
                close_if_fd(r);
                r
            }
            Op::OpenAt(path, flags, mode) => {
                let r = sys(
                    SYS_openat,
                    [CWD, p(path), *flags as usize, *mode as usize, 0],
                );
                close_if_fd(r);
                r
            }
            Op::Creat(path, mode) => {
                let r = sys(SYS_creat, [p(path), *mode as usize, 0, 0, 0]);
                close_if_fd(r);
                r
            }
            Op::Unlink(path) => sys(SYS_unlink, [p(path), 0, 0, 0, 0]),
            Op::UnlinkAt(path, flags) => sys(SYS_unlinkat, [CWD, p(path), *flags as usize, 0, 0]),
            Op::Rename(a, b) => sys(SYS_rename, [p(a), p(b), 0, 0, 0]),
            Op::RenameAt2(a, b) => sys(SYS_renameat2, [CWD, p(a), CWD, p(b), 0]),
            Op::Mkdir(path, mode) => sys(SYS_mkdir, [p(path), *mode as usize, 0, 0, 0]),
            Op::Chmod(path, mode) => sys(SYS_chmod, [p(path), *mode as usize, 0, 0, 0]),
            Op::Fchmod(path, mode) => {
                let fd = sys(SYS_openat, [CWD, p(path), libc::O_RDONLY as usize, 0, 0]);
                if fd < 0 {
                    return fd;
                }
                let r = sys(libc::SYS_fchmod, [fd as usize, *mode as usize, 0, 0, 0]);
                close_if_fd(fd);
                r
            }
            Op::Link(a, b) => sys(libc::SYS_link, [p(a), p(b), 0, 0, 0]),
            Op::Symlink(a, b) => sys(libc::SYS_symlink, [p(a), p(b), 0, 0, 0]),
            Op::FchmodAt(path, mode) => sys(SYS_fchmodat, [CWD, p(path), *mode as usize, 0, 0]),
            Op::Chown(path, u, g) => sys(SYS_chown, [p(path), *u as usize, *g as usize, 0, 0]),
            Op::FchownAt(path, u, g) => {
                sys(SYS_fchownat, [CWD, p(path), *u as usize, *g as usize, 0])
            }
            Op::Chdir(path) => sys(SYS_chdir, [p(path), 0, 0, 0, 0]),
            Op::Setuid(u) => sys(SYS_setuid, [*u as usize, 0, 0, 0, 0]),
            Op::Kill(pid, sig) => sys(SYS_kill, [*pid as usize, *sig as usize, 0, 0, 0]),
            Op::Getppid => sys(SYS_getppid, [0; 5]),
            Op::GetppidLoop(n) => {
                let mut r = 0;
                for _ in 0..*n {
                    r = sys(SYS_getppid, [0; 5]);
                }
                r
            }
            Op::OpenLoop(path, n) => {
                let mut r = 0;
                for _ in 0..*n {
                    r = sys(SYS_openat, [CWD, p(path), libc::O_RDONLY as usize, 0, 0]);
                    close_if_fd(r);
                }
                r
            }
            Op::Connect(_) => {
                let fd = sys(
                    libc::SYS_socket,
                    [libc::AF_INET as usize, libc::SOCK_STREAM as usize, 0, 0, 0],
                );
                if fd < 0 {
                    return fd;
                }
                let r = sys(
                    libc::SYS_connect,
                    [
                        fd as usize,
                        (&raw const pr.addr) as usize,
                        std::mem::size_of::<libc::sockaddr_in>(),
                        0,
                        0,
                    ],
                );
                close_if_fd(fd);
                r
            }
            Op::SetLoginuid(_) => {
                let fd = sys(
                    SYS_openat,
                    [
                        CWD,
                        c"/proc/self/loginuid".as_ptr() as usize,
                        libc::O_WRONLY as usize,
                        0,
                        0,
                    ],
                );
                if fd < 0 {
                    return fd;
                }
                let r = sys(
                    libc::SYS_write,
                    [fd as usize, pr.text.as_ptr() as usize, pr.text.len(), 0, 0],
                );
                close_if_fd(fd);
                r
            }
            Op::DropTo(uid, gid) => {
                let mut r = sys(libc::SYS_setgroups, [0; 5]);
                if r == 0 {
                    let g = *gid as usize;
                    r = sys(libc::SYS_setresgid, [g, g, g, 0, 0]);
                }
                if r == 0 {
                    let u = *uid as usize;
                    r = sys(libc::SYS_setresuid, [u, u, u, 0, 0]);
                }
                r
            }
            Op::Sleep(ms) => {
                let ts = libc::timespec {
                    tv_sec: (*ms / 1000) as libc::time_t,
                    tv_nsec: ((*ms % 1000) * 1_000_000) as libc::c_long,
                };
                sys(libc::SYS_nanosleep, [(&raw const ts) as usize, 0, 0, 0, 0])
            }
            Op::Fork(_) => {
                let pid = libc::fork();
                if pid == 0 {
                    for sub in &pr.sub {
                        run_op(sub, envp);
                    }
                    libc::_exit(0);
                }
                if pid < 0 {
                    return -i64::from(*libc::__errno_location());
                }
                libc::waitpid(pid, std::ptr::null_mut(), 0);
                i64::from(pid)
            }
            Op::Exec(path, _) => sys(
                libc::SYS_execve,
                [
                    p(path),
                    pr.argv.as_ptr() as usize,
                    envp.as_ptr() as usize,
                    0,
                    0,
                ],
            ),
        }
    }
}

/// `s` as a C string (test paths and arguments never hold NUL).
pub fn cs(s: impl AsRef<[u8]>) -> CString {
    CString::new(s.as_ref()).expect("no NUL in a workload string")
}
