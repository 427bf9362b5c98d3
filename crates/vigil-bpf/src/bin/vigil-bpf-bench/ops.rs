//! The measured operations and the lmbench-style timing: each result is the best batch of
//! `calls` back-to-back calls, in ns per operation.

use std::ffi::CString;
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

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == s)
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
    dir: std::path::PathBuf,
    path: CString,
    zero: i32,
    null: i32,
    file: i32,
}

impl Fixture {
    pub fn new() -> super::Res<Fixture> {
        let dir = std::env::temp_dir().join(format!("vigil-bench-{}", std::process::id()));
        let io = |e: std::io::Error| format!("{}: {e}", dir.display());
        std::fs::create_dir_all(&dir).map_err(io)?;
        let file = dir.join("file");
        std::fs::write(&file, b"vigil bench\n").map_err(io)?;
        let path = CString::new(file.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        let open = |p: &str, flags| {
            let c = CString::new(p).expect("static path");
            // SAFETY: c is NUL-terminated.
            unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) }
        };
        let zero = open("/dev/zero", libc::O_RDONLY);
        let null = open("/dev/null", libc::O_WRONLY);
        // SAFETY: path is NUL-terminated.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if zero < 0 || null < 0 || fd < 0 {
            return Err("bench fixture: open failed".into());
        }
        Ok(Fixture {
            dir,
            path,
            zero,
            null,
            file: fd,
        })
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

    /// Best of `batches` batches of `calls` calls, ns per op.
    pub fn measure(&self, op: Op, batches: u32, calls: u32) -> f64 {
        // Room for a struct stat (144 bytes) too.
        let mut buf = [0u8; 256];
        let mut best = f64::INFINITY;
        for _ in 0..batches {
            let t = Instant::now();
            for _ in 0..calls {
                self.once(op, &mut buf);
            }
            let ns = t.elapsed().as_secs_f64() * 1e9 / f64::from(calls);
            best = best.min(ns);
        }
        best
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // SAFETY: closing fds this fixture opened.
        unsafe {
            libc::close(self.zero);
            libc::close(self.null);
            libc::close(self.file);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Pins the calling thread to `cpu`; with `fifo`, also `SCHED_FIFO` priority 50.
pub fn pin(cpu: usize, fifo: bool) -> super::Res<()> {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET stays in bounds for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set) != 0 {
            return Err(format!(
                "sched_setaffinity(cpu {cpu}): {}",
                std::io::Error::last_os_error()
            ));
        }
        if fifo {
            let p = libc::sched_param { sched_priority: 50 };
            if libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const p) != 0 {
                return Err(format!("SCHED_FIFO: {}", std::io::Error::last_os_error()));
            }
        }
    }
    Ok(())
}
