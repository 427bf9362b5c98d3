//! Debian's auditd as a test fixture: foreground (`-n`), private config directory, log in
//! a temporary directory, no plugins; stopped with SIGTERM on drop, kernel state restored.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use vigil_kaudit::consts::AUDIT_USER;
use vigil_kaudit::AuditClient;

use crate::guard::KernelAuditGuard;
use crate::key::unique_key;

const AUDITD: &str = "/sbin/auditd";
const AUSEARCH: &str = "/sbin/ausearch";

/// How the fixture configures auditd.
#[derive(Debug, Clone)]
pub struct AuditdOptions {
    /// `RAW` or `ENRICHED` (auditd's `log_format`).
    pub log_format: String,
    /// `-s enable` (the default, as a real boot) or `-s nochange`.
    pub enable: bool,
    /// Extra or overriding `auditd.conf` lines (`name`, `value`).
    pub extra_conf: Vec<(String, String)>,
    /// How long to wait for auditd to register as the audit daemon.
    pub start_timeout: Duration,
}

impl Default for AuditdOptions {
    fn default() -> Self {
        AuditdOptions {
            log_format: "RAW".into(),
            enable: true,
            extra_conf: Vec::new(),
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// A running auditd. Holds a [`KernelAuditGuard`] (and so the kernel lock) for its
/// whole life; drop stops auditd first, then restores the kernel state.
#[derive(Debug)]
pub struct Auditd {
    child: Option<Child>,
    pid: u32,
    log: PathBuf,
    stderr: PathBuf,
    dir: tempfile::TempDir,
    guard: KernelAuditGuard,
}

/// Output of an audit tool run.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ToolOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl Auditd {
    /// Starts auditd with default options and waits until it is the audit daemon.
    /// Panics (with auditd's own messages) when it cannot.
    pub fn start() -> Auditd {
        Auditd::start_with(&AuditdOptions::default())
    }

    /// Starts auditd with `opts`.
    pub fn start_with(opts: &AuditdOptions) -> Auditd {
        Auditd::start_guarded(KernelAuditGuard::new(), opts)
    }

    /// Starts auditd under a guard the caller already made (its snapshot is what gets
    /// restored).
    pub fn start_guarded(mut guard: KernelAuditGuard, opts: &AuditdOptions) -> Auditd {
        let before = guard
            .client()
            .status()
            .unwrap_or_else(|e| panic!("Auditd: reading audit status: {e}"));
        assert!(
            before.pid == 0 || !Path::new(&format!("/proc/{}", before.pid)).exists(),
            "Auditd: process {} is already the audit daemon; stop it first",
            before.pid
        );
        let dir = tempfile::Builder::new()
            .prefix("vigil-auditd-")
            .tempdir()
            .unwrap_or_else(|e| panic!("Auditd: temp dir: {e}"));
        let conf_dir = dir.path().join("etc");
        let plugins = conf_dir.join("plugins.d");
        let log_dir = dir.path().join("log");
        for d in [&conf_dir, &plugins, &log_dir] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("Auditd: mkdir {}: {e}", d.display()));
            fs::set_permissions(d, fs::Permissions::from_mode(0o700))
                .unwrap_or_else(|e| panic!("Auditd: chmod {}: {e}", d.display()));
        }
        let log = log_dir.join("audit.log");
        let conf = conf_dir.join("auditd.conf");
        fs::write(&conf, config_text(opts, &log, &plugins))
            .unwrap_or_else(|e| panic!("Auditd: writing {}: {e}", conf.display()));
        // auditd refuses a config file others can write.
        fs::set_permissions(&conf, fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("Auditd: chmod {}: {e}", conf.display()));
        let stderr = dir.path().join("auditd.stderr");
        let err_file = fs::File::create(&stderr)
            .unwrap_or_else(|e| panic!("Auditd: {}: {e}", stderr.display()));
        let mut cmd = Command::new(AUDITD);
        cmd.arg("-n")
            .arg("-c")
            .arg(&conf_dir)
            .arg("-s")
            .arg(if opts.enable { "enable" } else { "nochange" })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file);
        // SAFETY: prctl is async-signal-safe; if the test process dies without running
        // drop, auditd gets SIGTERM instead of outliving it as the audit daemon.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("Auditd: cannot run {AUDITD}: {e}"));
        let pid = child.id();
        let mut me = Auditd {
            child: Some(child),
            pid,
            log,
            stderr,
            dir,
            guard,
        };
        me.wait_registered(opts.start_timeout);
        me
    }

    fn wait_registered(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(st)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "Auditd: auditd exited during start-up ({st}); its stderr:\n{}",
                        self.stderr_text()
                    );
                }
            }
            let status = self.guard.client().status();
            if matches!(&status, Ok(s) if s.pid == self.pid) && self.log.exists() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Auditd: auditd (pid {}) not registered after {timeout:?} (status {status:?}); \
                 its stderr:\n{}",
                self.pid,
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// auditd's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The log auditd writes.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The fixture's temporary directory (config, log, stderr).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A kernel audit client (the guard's).
    pub fn client(&mut self) -> &mut AuditClient {
        self.guard.client()
    }

    /// What auditd printed on stderr so far.
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The log's contents so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a USER message with a unique marker and waits until auditd has written it:
    /// every record the kernel queued before it is then on disk too. Returns the marker.
    /// Needs auditing enabled (the kernel drops user messages otherwise).
    pub fn sync(&mut self, timeout: Duration) -> String {
        let marker = unique_key("vigil-sync");
        self.guard
            .client()
            .send_user_message(AUDIT_USER, &marker)
            .unwrap_or_else(|e| panic!("Auditd::sync: sending marker: {e}"));
        let deadline = Instant::now() + timeout;
        while !self.log_text().contains(&marker) {
            assert!(
                Instant::now() < deadline,
                "Auditd::sync: marker {marker} not in {} after {timeout:?}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        marker
    }

    /// `ausearch -if LOG ARGS...` on this auditd's log.
    pub fn ausearch(&self, args: &[&str]) -> ToolOutput {
        ausearch(&self.log, args)
    }

    /// Stops auditd: SIGTERM, wait (SIGKILL after 10 s). Returns its exit status, or
    /// `None` when it was already stopped.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(st)) => return Some(st),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    eprintln!("Auditd: auditd {} ignored SIGTERM; killing it", self.pid);
                    let _ = child.kill();
                    return child.wait().ok();
                }
            }
        }
    }
}

impl Drop for Auditd {
    fn drop(&mut self) {
        self.stop();
        // The guard (a field) drops next and restores rules, enabled and the rest.
    }
}

fn config_text(opts: &AuditdOptions, log: &Path, plugins: &Path) -> String {
    // Values chosen so that a test never suspends or rotates: flush every record, never
    // act on disk space.
    let mut conf: Vec<(String, String)> = [
        ("local_events", "yes"),
        ("write_logs", "yes"),
        ("log_file", &log.display().to_string()),
        ("log_format", &opts.log_format),
        ("flush", "INCREMENTAL_ASYNC"),
        ("freq", "1"),
        ("max_log_file", "1000"),
        ("num_logs", "2"),
        ("max_log_file_action", "IGNORE"),
        ("space_left", "2"),
        ("space_left_action", "IGNORE"),
        ("admin_space_left", "1"),
        ("admin_space_left_action", "IGNORE"),
        ("disk_full_action", "IGNORE"),
        ("disk_error_action", "IGNORE"),
        ("plugin_dir", &plugins.display().to_string()),
        ("end_of_event_timeout", "2"),
        ("q_depth", "2000"),
        ("overflow_action", "SYSLOG"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in &opts.extra_conf {
        match conf.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1.clone_from(v),
            None => conf.push((k.clone(), v.clone())),
        }
    }
    let mut text = String::new();
    for (k, v) in &conf {
        text.push_str(k);
        text.push_str(" = ");
        text.push_str(v);
        text.push('\n');
    }
    text
}

/// `ausearch -if LOG ARGS...`: stdout, stderr and status (ausearch exits 1 on no match).
pub fn ausearch(log: &Path, args: &[&str]) -> ToolOutput {
    let out = Command::new(AUSEARCH)
        .arg("-if")
        .arg(log)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {AUSEARCH}: {e}"));
    ToolOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
