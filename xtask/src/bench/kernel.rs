//! Kernel audit for the benchmarks: the machine-wide lock and state snapshot (vigil-testkit's
//! `KernelAuditGuard`, restored on return, error or panic), rule loading with Debian's
//! auditctl, and Debian's auditd run privately (foreground, own config and log directory,
//! no plugins), as vigil-testkit's `Auditd` fixture does.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use vigil_kaudit::{AuditStatus, StatusUpdate};
use vigil_testkit::KernelAuditGuard;

use super::procs::{die_with_parent, terminate};

const AUDITCTL: &str = "/sbin/auditctl";
const AUDITD: &str = "/sbin/auditd";

/// Exclusive use of kernel audit for the whole run; the state found at the start comes back
/// when this is dropped.
pub struct Kernel {
    guard: KernelAuditGuard,
}

impl Kernel {
    /// Waits for `/tmp/vigil-kernel.lock`, snapshots the state, and refuses to run on top of
    /// somebody's rules or audit daemon.
    pub fn take() -> anyhow::Result<Kernel> {
        eprintln!("taking {} ...", vigil_testkit::KERNEL_LOCK_PATH);
        let mut guard = KernelAuditGuard::new();
        let st = guard.client().status().context("reading audit status")?;
        let rules = guard.saved_rules().len();
        if rules != 0 {
            bail!("kernel audit has {rules} rules loaded; the benchmark needs none (auditctl -D)");
        }
        if st.pid != 0 && Path::new(&format!("/proc/{}", st.pid)).exists() {
            bail!(
                "process {} is the audit daemon; stop it before benchmarking",
                st.pid
            );
        }
        Ok(Kernel { guard })
    }

    pub fn status(&mut self) -> anyhow::Result<AuditStatus> {
        Ok(self.guard.client().status()?)
    }

    /// The status found at the start.
    pub fn saved_status(&self) -> AuditStatus {
        *self.guard.saved_status()
    }

    /// `-e 0` or `-e 1` (never 2: that would lock the machine's audit state until reboot).
    pub fn set_enabled(&mut self, enabled: u32) -> anyhow::Result<()> {
        if enabled > 1 {
            bail!("refusing to set enabled={enabled}");
        }
        self.guard.client().set_enabled(enabled)?;
        Ok(())
    }

    /// `-b N`.
    pub fn set_backlog_limit(&mut self, limit: u32) -> anyhow::Result<()> {
        self.guard.client().set_status(&StatusUpdate {
            backlog_limit: Some(limit),
            ..StatusUpdate::default()
        })?;
        Ok(())
    }

    /// A `USER` record (`auditctl -m TEXT`): once auditd wrote it, everything the kernel
    /// queued before it is written too.
    pub fn user_message(&mut self, text: &str) -> anyhow::Result<()> {
        self.guard
            .client()
            .send_user_message(vigil_kaudit::consts::AUDIT_USER, text)?;
        Ok(())
    }

    /// The number of rules loaded.
    pub fn rule_count(&mut self) -> anyhow::Result<usize> {
        Ok(self.guard.client().list_rules_raw()?.len())
    }

    /// Deletes every rule (`auditctl -D`).
    pub fn clear_rules(&mut self) -> anyhow::Result<()> {
        let c = self.guard.client();
        for r in c.list_rules_raw()? {
            c.delete_rule_raw(&r)?;
        }
        Ok(())
    }

    /// `auditctl -R FILE`; returns the number of rules then loaded.
    pub fn load_rules(&mut self, file: &Path) -> anyhow::Result<usize> {
        auditctl(&["-R".as_ref(), file.as_os_str()])?;
        self.rule_count()
    }

    /// Puts everything back as it was found (also done on drop).
    pub fn restore(&mut self) -> anyhow::Result<()> {
        self.guard.restore().map_err(anyhow::Error::msg)
    }
}

/// Runs auditctl; its output on success, an error with its stderr otherwise.
pub fn auditctl(args: &[&std::ffi::OsStr]) -> anyhow::Result<String> {
    let out = Command::new(AUDITCTL)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {AUDITCTL}"))?;
    if !out.status.success() {
        bail!(
            "auditctl {:?} failed ({}): {}",
            args,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// auditd's settings that matter here.
#[derive(Debug, Clone)]
pub struct AuditdConf {
    /// `RAW` or `ENRICHED`.
    pub format: String,
    /// `flush` and `freq` (Debian's defaults: `INCREMENTAL_ASYNC`, 50).
    pub flush: String,
    pub freq: u32,
}

impl Default for AuditdConf {
    fn default() -> Self {
        AuditdConf {
            format: "RAW".into(),
            flush: "INCREMENTAL_ASYNC".into(),
            freq: 50,
        }
    }
}

/// Debian's auditd, registered as the audit daemon while this lives.
pub struct Auditd {
    child: Option<Child>,
    pub pid: u32,
    pub log: PathBuf,
    dir: PathBuf,
}

impl Auditd {
    /// Starts `auditd -n -c DIR -s enable` in `dir` and waits until the kernel names it
    /// the audit daemon.
    pub fn start(kernel: &mut Kernel, dir: &Path, conf: &AuditdConf) -> anyhow::Result<Auditd> {
        let etc = dir.join("etc");
        let plugins = etc.join("plugins.d");
        let logs = dir.join("log");
        for d in [&etc, &plugins, &logs] {
            fs::create_dir_all(d).with_context(|| d.display().to_string())?;
            fs::set_permissions(d, fs::Permissions::from_mode(0o700))?;
        }
        let log = logs.join("audit.log");
        let conf_file = etc.join("auditd.conf");
        fs::write(&conf_file, config_text(conf, &log, &plugins))?;
        // auditd refuses a config file others can write.
        fs::set_permissions(&conf_file, fs::Permissions::from_mode(0o600))?;
        let err = fs::File::create(dir.join("auditd.stderr"))?;
        let mut cmd = Command::new(AUDITD);
        cmd.arg("-n")
            .arg("-c")
            .arg(&etc)
            .args(["-s", "enable"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        let child = die_with_parent(&mut cmd)
            .spawn()
            .with_context(|| format!("starting {AUDITD}"))?;
        let mut me = Auditd {
            pid: child.id(),
            child: Some(child),
            log,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(st))) = me.child.as_mut().map(Child::try_wait) {
                me.child = None;
                bail!("auditd exited at start ({st}): {}", me.stderr_text());
            }
            let st = kernel.status()?;
            if st.pid == me.pid && me.log.exists() {
                return Ok(me);
            }
            if Instant::now() > deadline {
                bail!(
                    "auditd (pid {}) not registered after 20 s: {}",
                    me.pid,
                    me.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr_text(&self) -> String {
        fs::read_to_string(self.dir.join("auditd.stderr")).unwrap_or_default()
    }

    /// SIGTERM and wait (auditd flushes its log and unregisters).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c, "auditd", Duration::from_secs(20));
        }
    }
}

impl Drop for Auditd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config_text(conf: &AuditdConf, log: &Path, plugins: &Path) -> String {
    // Debian's shipped auditd.conf, except: private log and plugin directory, the chosen
    // format and flush, and no action on log size or disk space (the benchmark must never
    // suspend or rotate).
    let lines = [
        ("local_events", "yes".to_string()),
        ("write_logs", "yes".to_string()),
        ("log_file", log.display().to_string()),
        ("log_format", conf.format.clone()),
        ("flush", conf.flush.clone()),
        ("freq", conf.freq.to_string()),
        ("priority_boost", "4".to_string()),
        ("max_log_file", "8".to_string()),
        ("num_logs", "2".to_string()),
        ("max_log_file_action", "IGNORE".to_string()),
        ("space_left", "2".to_string()),
        ("space_left_action", "IGNORE".to_string()),
        ("admin_space_left", "1".to_string()),
        ("admin_space_left_action", "IGNORE".to_string()),
        ("disk_full_action", "IGNORE".to_string()),
        ("disk_error_action", "IGNORE".to_string()),
        ("plugin_dir", plugins.display().to_string()),
        ("end_of_event_timeout", "2".to_string()),
        ("q_depth", "2000".to_string()),
        ("overflow_action", "SYSLOG".to_string()),
    ];
    let mut s = String::new();
    for (k, v) in lines {
        s.push_str(k);
        s.push_str(" = ");
        s.push_str(&v);
        s.push('\n');
    }
    s
}
