//! The measuring child of `bench audit-compare`: a fresh process per cell (so it is created
//! under the audit state of that cell, as a real workload started then would be), pinned to
//! one CPU, timing each operation lmbench-style: the best of `batches` batches, ns per op.
//!
//! Protocol on stdio: the child prints `ready PID`, waits for one line on stdin, measures,
//! prints one `OP NS CALLS` line per operation, then `done`.

use std::ffi::CString;
use std::io::{BufRead, Write};
use std::time::Instant;

use anyhow::{bail, Context};

/// One measured operation, made by raw syscall number so the kernel sees exactly that
/// syscall (glibc's `stat` goes through `newfstatat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Getppid,
    Read,
    Write,
    Stat,
    Fstat,
    /// openat + close (two syscalls), lmbench's "open/close".
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
            Op::Open => "open+close",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        let s = if s == "open" { "open+close" } else { s };
        Op::ALL.into_iter().find(|o| o.name() == s)
    }

    /// The syscalls this op makes, as auditctl spells them.
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

/// How a child measures.
#[derive(Debug, Clone)]
pub struct Plan {
    pub cpu: usize,
    pub fifo: bool,
    pub batches: u32,
    /// Wanted duration of one batch; the call count follows from a short probe, so slow
    /// cells (kernel audit with 1,000 rules) stay bounded in time.
    pub batch_us: u32,
    /// Upper bound on calls per batch (lmbench-style 20,000).
    pub max_calls: u32,
    pub ops: Vec<Op>,
}

impl Plan {
    /// The child's command-line arguments (after `bench measure-child`).
    pub fn to_args(&self) -> Vec<String> {
        let ops: Vec<&str> = self.ops.iter().map(|o| o.name()).collect();
        let mut v = vec![
            "--cpu".into(),
            self.cpu.to_string(),
            "--batches".into(),
            self.batches.to_string(),
            "--batch-us".into(),
            self.batch_us.to_string(),
            "--calls".into(),
            self.max_calls.to_string(),
            "--ops".into(),
            ops.join(","),
        ];
        if self.fifo {
            v.push("--fifo".into());
        }
        v
    }

    fn from_args(args: &[String]) -> anyhow::Result<Plan> {
        let mut p = Plan {
            cpu: 1,
            fifo: false,
            batches: 21,
            batch_us: 3000,
            max_calls: 20_000,
            ops: Op::ALL.to_vec(),
        };
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let mut val = || it.next().with_context(|| format!("{k} needs a value"));
            match k.as_str() {
                "--cpu" => p.cpu = val()?.parse()?,
                "--batches" => p.batches = val()?.parse()?,
                "--batch-us" => p.batch_us = val()?.parse()?,
                "--calls" => p.max_calls = val()?.parse()?,
                "--fifo" => p.fifo = true,
                "--ops" => p.ops = parse_ops(val()?)?,
                other => bail!("measure-child: unknown option {other:?}"),
            }
        }
        Ok(p)
    }
}

pub fn parse_ops(s: &str) -> anyhow::Result<Vec<Op>> {
    s.split(',')
        .map(|o| Op::parse(o).with_context(|| format!("unknown op {o:?}")))
        .collect()
}

/// One op's result.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub ns: f64,
    pub calls: u32,
}

/// Entry point of `bench measure-child`.
pub fn child(args: &[String]) -> anyhow::Result<()> {
    let plan = Plan::from_args(args)?;
    let fx = Fixture::new()?;
    pin(plan.cpu, plan.fifo)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {}", std::process::id())?;
    out.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != "go" {
        bail!("measure-child: expected `go`, got {line:?}");
    }
    for op in &plan.ops {
        let s = fx.measure(*op, &plan);
        writeln!(out, "{} {:.3} {}", op.name(), s.ns, s.calls)?;
    }
    writeln!(out, "done")?;
    out.flush()?;
    Ok(())
}

/// Files the operations use (created once, removed on drop).
struct Fixture {
    dir: std::path::PathBuf,
    path: CString,
    zero: i32,
    null: i32,
    file: i32,
}

impl Fixture {
    fn new() -> anyhow::Result<Fixture> {
        let dir = std::env::temp_dir().join(format!("vigil-bench-m{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
        let file = dir.join("file");
        std::fs::write(&file, b"vigil bench\n").with_context(|| file.display().to_string())?;
        let path = CString::new(file.as_os_str().as_encoded_bytes())?;
        let open = |p: &CString, flags| {
            // SAFETY: p is NUL-terminated.
            unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC) }
        };
        let zero = open(&CString::new("/dev/zero")?, libc::O_RDONLY);
        let null = open(&CString::new("/dev/null")?, libc::O_WRONLY);
        let fd = open(&path, libc::O_RDONLY);
        if zero < 0 || null < 0 || fd < 0 {
            bail!("measure-child: opening the fixture files failed");
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
        // SAFETY: fds and buffers owned by the fixture; raw syscalls by number.
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

    fn batch(&self, op: Op, calls: u32, buf: &mut [u8; 256]) -> f64 {
        let t = Instant::now();
        for _ in 0..calls {
            self.once(op, buf);
        }
        t.elapsed().as_secs_f64() * 1e9 / f64::from(calls)
    }

    /// Best of `plan.batches` batches; the batch size aims at `plan.batch_us`.
    fn measure(&self, op: Op, plan: &Plan) -> Sample {
        // Room for a struct stat (144 bytes) too.
        let mut buf = [0u8; 256];
        let probe = self
            .batch(op, 50, &mut buf)
            .min(self.batch(op, 50, &mut buf));
        let want = f64::from(plan.batch_us) * 1000.0 / probe.max(1.0);
        let calls = (want as u32).clamp(50, plan.max_calls.max(50));
        let mut best = f64::INFINITY;
        for _ in 0..plan.batches {
            best = best.min(self.batch(op, calls, &mut buf));
        }
        Sample { ns: best, calls }
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
pub fn pin(cpu: usize, fifo: bool) -> anyhow::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        bail!("cpu {cpu} is out of range");
    }
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET stays in bounds for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set) != 0 {
            bail!(
                "sched_setaffinity(cpu {cpu}): {}",
                std::io::Error::last_os_error()
            );
        }
        if fifo {
            let p = libc::sched_param { sched_priority: 50 };
            if libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const p) != 0 {
                bail!("SCHED_FIFO: {}", std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}
