//! The syscall micro-benchmark that `vigil-bpf-bench` (hook scenarios) and `cargo xtask bench
//! audit-compare`'s measuring child (vigil vs kernel audit) both time, lmbench-style: the
//! operations, the files they use, and CPU pinning. One copy, so both tools measure the same
//! thing. Errors are `std::io::Error`s carrying what failed; no dependency but libc.

use std::ffi::{CStr, CString};
use std::io;
use std::path::PathBuf;
use std::time::Instant;

/// One measured operation. Made with raw syscall numbers so the kernel sees exactly the
/// named syscall (glibc's `stat`/`fstat` go through `newfstatat`, `open` through `openat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Getppid,
    Read,
    Write,
    Stat,
    Fstat,
    /// openat + close (two syscalls), as lmbench's "open/close".
    Open,
}

impl Op {
    pub const ALL: [Op; 6] = [
        Op::Getppid,
        Op::Read,
        Op::Write,
        Op::Stat,
        Op::Fstat,
        Op::Open,
    ];

    /// The short name, as given on command lines (`--ops getppid,open`).
    pub fn name(self) -> &'static str {
        match self {
            Op::Getppid => "getppid",
            Op::Read => "read",
            Op::Write => "write",
            Op::Stat => "stat",
            Op::Fstat => "fstat",
            Op::Open => "open",
        }
    }

    /// The name that says every syscall made (`open+close`), for tables.
    pub fn label(self) -> &'static str {
        match self {
            Op::Open => "open+close",
            op => op.name(),
        }
    }

    /// An op by its [`name`](Op::name) or its [`label`](Op::label).
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL
            .into_iter()
            .find(|o| o.name() == s || o.label() == s)
    }

    /// The syscalls this op makes (names as auditctl spells them).
    pub fn syscalls(self) -> &'static [&'static str] {
        match self {
            Op::Getppid => &["getppid"],
            Op::Read => &["read"],
            Op::Write => &["write"],
            Op::Stat => &["stat"],
            Op::Fstat => &["fstat"],
            Op::Open => &["openat", "close"],
        }
    }
}

/// Files the operations use (created once, removed on drop).
pub struct Fixture {
    dir: PathBuf,
    path: CString,
    zero: i32,
    null: i32,
    file: i32,
}

impl Fixture {
    /// Creates a private directory with one small file, and opens `/dev/zero`, `/dev/null`
    /// and that file.
    pub fn new() -> io::Result<Fixture> {
        let dir = std::env::temp_dir().join(format!("vigil-bench-{}", std::process::id()));
        let at = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(&dir).map_err(at)?;
        let file = dir.join("file");
        std::fs::write(&file, b"vigil bench\n").map_err(at)?;
        let path = CString::new(file.as_os_str().as_encoded_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let open = |p: &CStr, flags| {
            // SAFETY: p is NUL-terminated.
            unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC) }
        };
        let zero = open(c"/dev/zero", libc::O_RDONLY);
        let null = open(c"/dev/null", libc::O_WRONLY);
        let fd = open(path.as_c_str(), libc::O_RDONLY);
        // Built first, so that its drop closes whichever of them did open.
        let fx = Fixture {
            dir,
            path,
            zero,
            null,
            file: fd,
        };
        if zero < 0 || null < 0 || fd < 0 {
            return Err(io::Error::other(format!(
                "opening /dev/zero, /dev/null or {} failed: {}",
                file.display(),
                io::Error::last_os_error()
            )));
        }
        Ok(fx)
    }

    /// One call of `op`.
    #[inline]
    fn once(&self, op: Op, buf: &mut [u8; 256]) {
        // SAFETY: valid fds and buffers owned by the fixture; raw syscalls by number.
        unsafe {
            match op {
                Op::Getppid => {
                    libc::syscall(libc::SYS_getppid);
                }
                Op::Read => {
                    libc::syscall(libc::SYS_read, self.zero, buf.as_mut_ptr(), 1);
                }
                Op::Write => {
                    libc::syscall(libc::SYS_write, self.null, buf.as_ptr(), 1);
                }
                Op::Stat => {
                    libc::syscall(libc::SYS_stat, self.path.as_ptr(), buf.as_mut_ptr());
                }
                Op::Fstat => {
                    libc::syscall(libc::SYS_fstat, self.file, buf.as_mut_ptr());
                }
                Op::Open => {
                    let fd = libc::syscall(
                        libc::SYS_openat,
                        libc::AT_FDCWD,
                        self.path.as_ptr(),
                        libc::O_RDONLY,
                    );
                    libc::syscall(libc::SYS_close, fd);
                }
            }
        }
    }

    /// One batch: `calls` back-to-back calls of `op`, in ns per call.
    pub fn batch(&self, op: Op, calls: u32) -> f64 {
        // Room for a struct stat (144 bytes) too.
        let mut buf = [0u8; 256];
        let t = Instant::now();
        for _ in 0..calls {
            self.once(op, &mut buf);
        }
        t.elapsed().as_secs_f64() * 1e9 / f64::from(calls)
    }

    /// Best of `batches` batches of `calls` calls, ns per call: the minimum is the cost
    /// with the least machine noise in it.
    pub fn best_of(&self, op: Op, batches: u32, calls: u32) -> f64 {
        (0..batches)
            .map(|_| self.batch(op, calls))
            .fold(f64::INFINITY, f64::min)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: closing fds this fixture opened (a failed open left -1: EBADF, harmless).
        unsafe {
            libc::close(self.zero);
            libc::close(self.null);
            libc::close(self.file);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Pins the calling thread to `cpu`; with `fifo`, also `SCHED_FIFO` priority 50.
pub fn pin(cpu: usize, fifo: bool) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cpu {cpu} is out of range"),
        ));
    }
    let last = |what: String| {
        let e = io::Error::last_os_error();
        io::Error::new(e.kind(), format!("{what}: {e}"))
    };
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET stays in bounds for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set) != 0 {
            return Err(last(format!("sched_setaffinity(cpu {cpu})")));
        }
        if fifo {
            let p = libc::sched_param { sched_priority: 50 };
            if libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const p) != 0 {
                return Err(last("SCHED_FIFO".into()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_parse_back() {
        for op in Op::ALL {
            assert_eq!(Op::parse(op.name()), Some(op));
            assert_eq!(Op::parse(op.label()), Some(op));
        }
        assert_eq!(Op::parse("open+close"), Some(Op::Open));
        assert_eq!(Op::parse("opn"), None);
    }

    #[test]
    fn every_op_runs_and_takes_time() {
        let fx = Fixture::new().expect("fixture");
        for op in Op::ALL {
            let ns = fx.best_of(op, 3, 20);
            assert!(ns.is_finite() && ns > 0.0, "{}: {ns} ns", op.name());
        }
    }
}
