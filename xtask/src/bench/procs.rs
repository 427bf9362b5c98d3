//! Processes the harness starts: the binaries it builds, children that die with it
//! (`PR_SET_PDEATHSIG`), and the measuring child's line protocol.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::measure::{Op, Plan, Sample};

/// The release binaries the harness runs.
#[derive(Debug, Clone)]
pub struct Bins {
    pub vigil: PathBuf,
    pub bpf_bench: PathBuf,
}

/// Builds `vigil` and `vigil-bpf-bench` in release mode (unless `build` is false) and
/// returns their paths in cargo's target directory.
pub fn binaries(build: bool) -> anyhow::Result<Bins> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let root = crate::workspace_root();
    if build {
        eprintln!("building vigil and vigil-bpf-bench (release)...");
        let st = Command::new(&cargo)
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "vigil",
                "--bin",
                "vigil",
            ])
            .args(["-p", "vigil-bpf", "--bin", "vigil-bpf-bench"])
            .status()
            .context("running cargo build")?;
        if !st.success() {
            bail!("cargo build of vigil / vigil-bpf-bench failed ({st})");
        }
    }
    let dir = target_dir(&cargo, &root)?.join("release");
    let bins = Bins {
        vigil: dir.join("vigil"),
        bpf_bench: dir.join("vigil-bpf-bench"),
    };
    for b in [&bins.vigil, &bins.bpf_bench] {
        if !b.exists() {
            bail!("{} is missing (run without --no-build)", b.display());
        }
    }
    Ok(bins)
}

/// Cargo's target directory, as `cargo metadata` reports it.
fn target_dir(cargo: &str, root: &Path) -> anyhow::Result<PathBuf> {
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let key = "\"target_directory\":\"";
    let start = text
        .find(key)
        .context("cargo metadata: no target_directory")?
        + key.len();
    let end = text[start..]
        .find('"')
        .context("cargo metadata: unterminated target_directory")?;
    Ok(PathBuf::from(&text[start..start + end]))
}

/// Makes `cmd`'s process receive SIGTERM when the harness dies, so that no daemon or hook
/// outlives an interrupted run.
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        })
    }
}

/// SIGTERM, then wait up to `grace` (SIGKILL after).
pub fn terminate(child: &mut Child, what: &str, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(st)) = child.try_wait() {
        return Some(st);
    }
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                eprintln!(
                    "warning: {what} (pid {}) ignored SIGTERM; killing it",
                    child.id()
                );
                let _ = child.kill();
                return child.wait().ok();
            }
        }
    }
}

/// A measuring child between `ready` and `done`.
pub struct MeasureChild {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub pid: u32,
}

impl MeasureChild {
    /// Starts `xtask bench measure-child` and waits for `ready`.
    pub fn spawn(plan: &Plan) -> anyhow::Result<MeasureChild> {
        let exe = std::env::current_exe().context("locating the xtask binary")?;
        let mut cmd = Command::new(exe);
        cmd.args(["bench", "measure-child"])
            .args(plan.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = die_with_parent(&mut cmd)
            .spawn()
            .context("starting the measuring child")?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("child stdout")?);
        let mut me = MeasureChild {
            child,
            stdin,
            stdout,
            pid: 0,
        };
        let line = me.line()?;
        me.pid = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .with_context(|| format!("measuring child: expected `ready PID`, got {line:?}"))?;
        Ok(me)
    }

    fn line(&mut self) -> anyhow::Result<String> {
        let mut s = String::new();
        if self.stdout.read_line(&mut s)? == 0 {
            let st = self.child.wait()?;
            bail!("measuring child exited early ({st})");
        }
        Ok(s.trim_end().to_string())
    }

    /// Lets it measure and collects one sample per op, in `ops` order.
    pub fn run(mut self, ops: &[Op]) -> anyhow::Result<Vec<Sample>> {
        let mut stdin = self.stdin.take().context("child stdin")?;
        writeln!(stdin, "go")?;
        drop(stdin);
        let mut out = Vec::new();
        for op in ops {
            let line = self.line()?;
            let mut f = line.split(' ');
            let (Some(name), Some(ns), Some(calls)) = (f.next(), f.next(), f.next()) else {
                bail!("measuring child: bad line {line:?}");
            };
            if name != op.label() {
                bail!("measuring child: expected {}, got {line:?}", op.label());
            }
            out.push(Sample {
                ns: ns.parse().with_context(|| format!("bad ns in {line:?}"))?,
                calls: calls
                    .parse()
                    .with_context(|| format!("bad calls in {line:?}"))?,
            });
        }
        let done = self.line()?;
        if done != "done" {
            bail!("measuring child: expected `done`, got {done:?}");
        }
        let st = self.child.wait()?;
        if !st.success() {
            bail!("measuring child failed ({st})");
        }
        Ok(out)
    }
}

impl Drop for MeasureChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `vigil-bpf-bench --hold SCENARIO`: a bare hook held attached until dropped.
pub struct BareHold {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl BareHold {
    pub fn attach(bins: &Bins, scenario: &str) -> anyhow::Result<BareHold> {
        let mut cmd = Command::new(&bins.bpf_bench);
        cmd.args(["--hold", scenario])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = die_with_parent(&mut cmd)
            .spawn()
            .with_context(|| format!("starting {}", bins.bpf_bench.display()))?;
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().context("holder stdout")?);
        let mut line = String::new();
        out.read_line(&mut line)?;
        if !line.starts_with("attached") {
            let st = child.wait()?;
            bail!("vigil-bpf-bench --hold {scenario} did not attach ({st}): {line:?}");
        }
        Ok(BareHold { child, stdin })
    }
}

impl Drop for BareHold {
    fn drop(&mut self) {
        // EOF on its stdin: it detaches and exits.
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        terminate(
            &mut self.child,
            "vigil-bpf-bench --hold",
            Duration::from_secs(5),
        );
    }
}
