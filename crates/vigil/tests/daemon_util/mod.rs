//! Spawning `vigil daemon` for a test: its own temp directory, log, socket and rules, so tests
//! run in parallel; killed on drop, even when the test panics.

#![allow(dead_code)]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use vigil_format::raw::{Bytes, RawEvent, RawKind, RawPath, RawTask};
use vigil_testkit::{require, Need};

pub const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

/// How long a wait for the daemon may take before the test fails: generous, since a loaded CI
/// machine can be many times slower than a developer's (a passing test never waits this long).
pub const PATIENCE: Duration = Duration::from_mins(1);

/// Root is needed: the control socket answers only uid 0.
pub fn need_root(test: &str) -> bool {
    require(test, &[Need::Root])
}

/// Whether ausearch is installed.
pub fn need_ausearch(test: &str) -> bool {
    require(test, &[Need::Root, Need::AuditTools])
}

#[derive(Default)]
pub struct Setup {
    /// Rules file text (`None`: the embedded default rules).
    pub rules: Option<String>,
    /// Extra TOML appended to the generated configuration.
    pub config: String,
    /// Replay trace lines (without header); `None`: no event source.
    pub replay: Option<Vec<RawEvent>>,
    /// `RLIMIT_FSIZE` for the daemon, bytes.
    pub fsize_limit: Option<u64>,
    /// Do not write a configuration file: embedded config with --log/--socket overrides.
    pub embedded_config: bool,
    /// Write to this log instead of a fresh one.
    pub log: Option<PathBuf>,
    /// Take events from the kernel (BPF) when there is no replay; else `--no-kernel`.
    pub kernel: bool,
    /// A replay trace given as text (lines may be malformed on purpose).
    pub trace_text: Option<String>,
}

pub struct TestDaemon {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    pub sock: PathBuf,
    pub rules: PathBuf,
    pub config: PathBuf,
    pub stderr: PathBuf,
}

impl TestDaemon {
    #[allow(clippy::needless_pass_by_value)] // callers build a Setup in place
    pub fn start(setup: Setup) -> TestDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = setup
            .log
            .clone()
            .unwrap_or_else(|| dir.path().join("logs").join("audit.log"));
        let sock = dir.path().join("ctl.sock");
        let rules = dir.path().join("audit.rules");
        let config = dir.path().join("vigil.toml");
        let stderr = dir.path().join("stderr.txt");
        let mut cmd = Command::new(VIGIL);
        cmd.arg("daemon");
        if setup.embedded_config {
            cmd.arg("--log").arg(&log).arg("--socket").arg(&sock);
        } else {
            let mut text = format!(
                "[daemon]\nsocket = {}\n{}[log]\nfile = {}\n",
                toml_str(&sock),
                setup
                    .rules
                    .as_ref()
                    .map(|_| format!("rules = {}\n", toml_str(&rules)))
                    .unwrap_or_default(),
                toml_str(&log)
            );
            // Tests share the machine's disk: no space threshold may suspend them.
            text.push_str("[disk]\nspace_left = 0\nadmin_space_left = 0\n");
            text.push_str(&setup.config);
            let text = merge_sections(&text);
            std::fs::write(&config, text).unwrap();
            cmd.arg("--config").arg(&config);
        }
        if let Some(r) = &setup.rules {
            std::fs::write(&rules, r).unwrap();
            if setup.embedded_config {
                cmd.arg("--rules").arg(&rules);
            }
        }
        if let Some(events) = &setup.replay {
            let trace = dir.path().join("trace.jsonl");
            write_trace(&trace, events);
            cmd.arg("--replay").arg(&trace);
        } else if let Some(text) = &setup.trace_text {
            let trace = dir.path().join("trace.jsonl");
            std::fs::write(&trace, text).unwrap();
            cmd.arg("--replay").arg(&trace);
        } else if !setup.kernel {
            cmd.arg("--no-kernel");
        }
        cmd.env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap());
        if let Some(limit) = setup.fsize_limit {
            // SAFETY: setrlimit is async-signal-safe; runs in the child before exec.
            unsafe {
                cmd.pre_exec(move || {
                    let l = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &raw const l) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().expect("spawn vigil daemon");
        let mut d = TestDaemon {
            child: Some(child),
            dir,
            log,
            sock,
            rules,
            config,
            stderr,
        };
        d.wait_ready();
        d
    }

    fn wait_ready(&mut self) {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "vigil daemon exited at start ({st}):\n{}",
                    self.stderr_text()
                );
            }
            if std::os::unix::net::UnixStream::connect(&self.sock).is_ok() {
                return;
            }
            assert!(
                t0.elapsed() < PATIENCE,
                "daemon not ready after {PATIENCE:?}:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `vigil ctl --socket SOCK ARGS...`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(VIGIL)
            .arg("ctl")
            .arg("--socket")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("run vigil ctl")
    }

    /// Runs ctl and panics unless it succeeds; returns stdout.
    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "vigil ctl {args:?} failed ({}): {}\ndaemon:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.stderr_text()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `-s` as name -> value.
    pub fn status(&self) -> std::collections::BTreeMap<String, String> {
        self.ctl_ok(&["-s"])
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Waits until a replay has delivered all its `n` events and finished. `events_seen` alone
    /// is not enough: it counts an event before the rules judge it and it is queued, so a
    /// `vigil ctl -m` sent right then could be written before it. The replay logs its end only
    /// after the last event was queued.
    pub fn wait_replayed(&self, n: u64) {
        let t0 = Instant::now();
        loop {
            let seen = self.status_u64("events_seen");
            let err = self.stderr_text();
            let finished = err
                .lines()
                .any(|l| l.contains("replay of ") && l.ends_with(" finished"));
            if seen >= n && finished {
                assert_eq!(seen, n, "the replay delivered more events than it holds");
                return;
            }
            assert!(
                t0.elapsed() < PATIENCE,
                "source delivered {seen} of {n} events (replay finished: {finished}):\n{err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn status_u64(&self, name: &str) -> u64 {
        let st = self.status();
        st.get(name)
            .unwrap_or_else(|| panic!("no {name} in status: {st:?}"))
            .parse()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: signalling our own child.
        let rc = unsafe { libc::kill(self.pid() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Waits for the daemon to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("daemon already reaped");
        let t0 = Instant::now();
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                self.child = None;
                return st;
            }
            assert!(
                t0.elapsed() < timeout,
                "daemon still running after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait(PATIENCE)
    }

    /// Polls `cond` on the log text until it holds.
    pub fn wait_log(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let text = self.log_text();
            if cond(&text) {
                return text;
            }
            assert!(
                t0.elapsed() < PATIENCE,
                "log never showed {what}:\n{text}\ndaemon:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `ausearch -if LOG ARGS...` (stdout; exit status ignored: "no matches" is status 1).
    pub fn ausearch(&self, args: &[&str]) -> String {
        ausearch(&self.log, args)
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn ausearch(log: &Path, args: &[&str]) -> String {
    let out = Command::new("ausearch")
        .arg("-if")
        .arg(log)
        .args(args)
        .output()
        .expect("run ausearch");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path as a TOML string (test paths are plain ASCII).
fn toml_str(p: &Path) -> String {
    format!("\"{}\"", p.display())
}

/// Joins repeated `[section]` headers so appended TOML may reuse a section name.
fn merge_sections(text: &str) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut body: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            cur = t.to_string();
            if !order.contains(&cur) {
                order.push(cur.clone());
            }
            continue;
        }
        let e = body.entry(cur.clone()).or_default();
        e.push_str(line);
        e.push('\n');
    }
    let mut out = body.remove("").unwrap_or_default();
    for s in order {
        out.push_str(&s);
        out.push('\n');
        out.push_str(&body.remove(&s).unwrap_or_default());
    }
    out
}

pub fn write_trace(path: &Path, events: &[RawEvent]) {
    let mut out = Vec::new();
    vigil_format::trace::write_header(&mut out);
    for e in events {
        vigil_format::trace::write_event(e, &mut out);
    }
    std::fs::write(path, out).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// An x86_64 syscall event of `pid` by `uid` on `path`.
pub fn syscall_event(nr: u32, pid: u32, uid: u32, path: &str) -> RawEvent {
    RawEvent {
        ts_ns: 1_700_000_000_000_000_000 + u64::from(pid),
        kind: RawKind::Syscall,
        arch: 0xc000_003e,
        nr,
        args: [0xffff_ff9c, 0x7ffd_0000, 0, 0],
        exit: 3,
        task: RawTask {
            pid,
            tid: pid,
            ppid: 1,
            uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            gid: uid,
            egid: uid,
            sgid: uid,
            fsgid: uid,
            auid: uid,
            ses: 1,
            tty: None,
            comm: Bytes::from("cat"),
            exe: Some(Bytes::from("/usr/bin/cat")),
            ..RawTask::default()
        },
        cwd: Some(Bytes::from("/")),
        paths: vec![RawPath {
            name: Some(Bytes::from(path)),
            inode: Some(42),
            mode: 0o100_644,
            ..RawPath::default()
        }],
        proctitle: Some(Bytes::from("cat")),
        ..RawEvent::default()
    }
}

/// Reads the whole of a reader (helper for raw socket tests).
pub fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}
