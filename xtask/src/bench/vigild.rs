//! `vigil daemon` for the benchmarks: private configuration, rules file, log and control
//! socket; started, asked with `vigil ctl`, and stopped by the harness.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::procs::{die_with_parent, terminate};

/// The daemon's settings that matter here.
#[derive(Debug, Clone)]
pub struct VigilConf {
    /// `raw` or `enriched`.
    pub format: String,
    /// `flush` and `freq` (vigil's defaults: `incremental_async`, 50, as auditd's).
    pub flush: String,
    pub freq: u32,
    pub q_depth: u32,
}

impl Default for VigilConf {
    fn default() -> Self {
        VigilConf {
            format: "raw".into(),
            flush: "incremental_async".into(),
            freq: 50,
            q_depth: 8192,
        }
    }
}

pub struct Vigild {
    child: Option<Child>,
    vigil: PathBuf,
    pub log: PathBuf,
    socket: PathBuf,
    dir: PathBuf,
}

impl Vigild {
    /// Starts `vigil daemon --config --rules --log --socket` in `dir` and waits until its
    /// control socket answers.
    pub fn start(
        vigil: &Path,
        dir: &Path,
        rules: &Path,
        conf: &VigilConf,
    ) -> anyhow::Result<Vigild> {
        fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        let config = dir.join("vigil.toml");
        fs::write(&config, config_text(conf))?;
        let log = dir.join("log").join("audit.log");
        let socket = dir.join("ctl.sock");
        let err = fs::File::create(dir.join("vigil.stderr"))?;
        let mut cmd = Command::new(vigil);
        cmd.arg("daemon")
            .arg("--config")
            .arg(&config)
            .arg("--rules")
            .arg(rules)
            .arg("--log")
            .arg(&log)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        let child = die_with_parent(&mut cmd)
            .spawn()
            .with_context(|| format!("starting {} daemon", vigil.display()))?;
        let mut me = Vigild {
            child: Some(child),
            vigil: vigil.to_path_buf(),
            log,
            socket,
            dir: dir.to_path_buf(),
        };
        // Loading verifies the BPF programs: seconds, more on a loaded machine.
        let deadline = Instant::now() + Duration::from_mins(3);
        loop {
            if let Some(Ok(Some(st))) = me.child.as_mut().map(Child::try_wait) {
                me.child = None;
                bail!("vigil daemon exited at start ({st}): {}", me.stderr_text());
            }
            if me.socket.exists() && me.status().is_ok() {
                return Ok(me);
            }
            if Instant::now() > deadline {
                bail!(
                    "vigil daemon not answering after 180 s: {}",
                    me.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn stderr_text(&self) -> String {
        fs::read_to_string(self.dir.join("vigil.stderr")).unwrap_or_default()
    }

    /// `vigil ctl --socket S ARGS`; its standard output.
    pub fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(&self.vigil)
            .arg("ctl")
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running vigil ctl")?;
        if !out.status.success() {
            bail!(
                "vigil ctl {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `vigil ctl -s` as name -> value.
    pub fn status(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let text = self.ctl(&["-s"])?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// SIGTERM and wait: everything queued is written, then `DAEMON_END`.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            let st = terminate(&mut c, "vigil daemon", Duration::from_mins(1));
            if !st.is_some_and(|s| s.success()) {
                bail!("vigil daemon stopped with {st:?}: {}", self.stderr_text());
            }
        }
        Ok(())
    }
}

impl Drop for Vigild {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("warning: {e}");
        }
    }
}

/// A status's loss counters by cause (`lost_CAUSE` lines; `lost`, the auditctl line, is
/// their total and is used only when no per-cause line is present).
pub fn lost_counters(status: &BTreeMap<String, String>) -> BTreeMap<String, u64> {
    let value = |v: &String| v.trim().parse::<u64>().unwrap_or(0);
    let causes: BTreeMap<String, u64> = status
        .iter()
        .filter(|(k, _)| k.starts_with("lost_"))
        .map(|(k, v)| (k.clone(), value(v)))
        .collect();
    if causes.is_empty() {
        return BTreeMap::from([("lost".to_string(), status.get("lost").map_or(0, value))]);
    }
    causes
}

/// Sum of the loss counters, and the non-zero ones as `NAME=N`.
pub fn lost(status: &BTreeMap<String, String>) -> (u64, Vec<String>) {
    let c = lost_counters(status);
    let named = c
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    (c.values().sum(), named)
}

fn config_text(conf: &VigilConf) -> String {
    // No action on log size or disk space: the benchmark must never suspend or rotate.
    format!(
        "[log]\nformat = \"{}\"\nflush = \"{}\"\nfreq = {}\nmax_log_file = 0\n\n\
         [disk]\nspace_left = 2\nspace_left_action = \"ignore\"\nadmin_space_left = 1\n\
         admin_space_left_action = \"ignore\"\ndisk_full_action = \"ignore\"\n\
         disk_error_action = \"ignore\"\n\n[queue]\nq_depth = {}\noverflow_action = \"drop\"\n",
        conf.format, conf.flush, conf.freq, conf.q_depth
    )
}
