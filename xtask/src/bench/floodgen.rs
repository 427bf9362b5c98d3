//! The flood generator of `bench flood` (run as `xtask bench flood-child`): openat + close of
//! one file in a loop from N threads, as a dedicated uid (the flood rule matches that uid
//! only), paced to a target total rate or as fast as possible (rate 0).
//! Prints `ops N elapsed SECONDS errors E`.

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct FloodPlan {
    pub uid: u32,
    pub threads: u32,
    /// Total openat per second; 0 = as fast as possible.
    pub rate: u64,
    pub seconds: f64,
    pub path: String,
}

impl FloodPlan {
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--uid".into(),
            self.uid.to_string(),
            "--threads".into(),
            self.threads.to_string(),
            "--rate".into(),
            self.rate.to_string(),
            "--seconds".into(),
            self.seconds.to_string(),
            "--path".into(),
            self.path.clone(),
        ]
    }

    fn from_args(args: &[String]) -> anyhow::Result<FloodPlan> {
        let mut p = FloodPlan {
            uid: 0,
            threads: 1,
            rate: 0,
            seconds: 3.0,
            path: String::new(),
        };
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let v = it.next().with_context(|| format!("{k} needs a value"))?;
            match k.as_str() {
                "--uid" => p.uid = v.parse()?,
                "--threads" => p.threads = v.parse()?,
                "--rate" => p.rate = v.parse()?,
                "--seconds" => p.seconds = v.parse()?,
                "--path" => p.path.clone_from(v),
                other => bail!("flood-child: unknown option {other:?}"),
            }
        }
        if p.uid == 0 || p.threads == 0 || p.path.is_empty() || p.seconds <= 0.0 {
            bail!("flood-child: --uid (not 0), --threads, --path and --seconds are required");
        }
        Ok(p)
    }
}

/// Entry point of `bench flood-child`.
pub fn child(args: &[String]) -> anyhow::Result<()> {
    let p = FloodPlan::from_args(args)?;
    let path = Arc::new(CString::new(p.path.clone())?);
    // Drop to the flood uid for every thread (glibc applies set*id to all threads; none
    // exist yet anyway).
    // SAFETY: plain syscalls without memory arguments (setgroups with a null list of 0).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(p.uid, p.uid, p.uid) != 0
            || libc::setresuid(p.uid, p.uid, p.uid) != 0
        {
            bail!(
                "dropping to uid {}: {}",
                p.uid,
                std::io::Error::last_os_error()
            );
        }
    }
    let ops = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let per_thread = p.rate as f64 / f64::from(p.threads);
    let run_for = Duration::from_secs_f64(p.seconds);
    let t0 = Instant::now();
    let handles: Vec<_> = (0..p.threads)
        .map(|_| {
            let (path, ops, errors) = (path.clone(), ops.clone(), errors.clone());
            std::thread::spawn(move || flood(&path, per_thread, t0, run_for, &ops, &errors))
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let elapsed = t0.elapsed().as_secs_f64();
    println!(
        "ops {} elapsed {elapsed:.6} errors {}",
        ops.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}

fn flood(
    path: &CString,
    rate: f64,
    t0: Instant,
    run_for: Duration,
    ops: &AtomicU64,
    errors: &AtomicU64,
) {
    let mut done: u64 = 0;
    let mut bad: u64 = 0;
    loop {
        let now = t0.elapsed();
        if now >= run_for {
            break;
        }
        if rate > 0.0 {
            let allowed = (now.as_secs_f64() * rate) as u64;
            if done >= allowed {
                std::thread::sleep(Duration::from_micros(100));
                continue;
            }
        }
        // A few calls between clock reads.
        for _ in 0..8 {
            // SAFETY: path is NUL-terminated; the fd is closed right away.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat,
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    libc::O_RDONLY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                bad += 1;
            } else {
                // SAFETY: closing the fd just opened.
                unsafe { libc::close(fd as i32) };
            }
            done += 1;
        }
    }
    ops.fetch_add(done, Ordering::Relaxed);
    errors.fetch_add(bad, Ordering::Relaxed);
}
