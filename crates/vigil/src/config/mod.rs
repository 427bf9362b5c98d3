//! The daemon's configuration: TOML, every key documented in docs/config.md.
//!
//! Defaults live in one place, the `Default` impls below; `config/default.toml` (embedded in
//! the binary, used when no `--config` is given) spells the same values and a test keeps the
//! two equal. Errors name `file:line:column` and what was expected.

pub mod types;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use types::{
    DiskAction, Flush, LogFormat, MaxLogFileAction, NameFormat, OverflowAction, Space,
};

/// The configuration used when `vigil daemon` is given no `--config`.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
/// Name used for the embedded configuration in messages.
pub const DEFAULT_NAME: &str = "<embedded default.toml>";

/// Largest queue vigil accepts: more hides a stalled writer instead of reporting losses.
pub const MAX_Q_DEPTH: usize = 1 << 20;
/// auditd's limit on `num_logs`.
pub const MAX_NUM_LOGS: u32 = 999;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub log: LogConfig,
    pub disk: DiskConfig,
    pub queue: QueueConfig,
    pub node: NodeConfig,
    pub io_uring: IoUringConfig,
    pub kernel_audit: KernelAuditConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Rules file (auditctl syntax); `None`: the embedded default rule set.
    pub rules: Option<PathBuf>,
    /// Control socket for `vigil ctl`.
    pub socket: PathBuf,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            rules: None,
            socket: PathBuf::from("/run/vigil/control.sock"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub file: PathBuf,
    pub format: LogFormat,
    /// Group that may read the logs: `root` gives 0600 files, another group 0640.
    pub group: String,
    pub flush: Flush,
    /// Records between two `fdatasync` calls in the incremental modes.
    pub freq: u32,
    /// MiB; 0 = no size limit.
    pub max_log_file: u64,
    /// Log files kept by `rotate`, the active one included.
    pub num_logs: u32,
    pub max_log_file_action: MaxLogFileAction,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            file: PathBuf::from("/var/log/vigil/audit.log"),
            format: LogFormat::Raw,
            group: "root".to_string(),
            flush: Flush::IncrementalAsync,
            freq: 50,
            max_log_file: 8,
            num_logs: 5,
            max_log_file_action: MaxLogFileAction::Rotate,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskConfig {
    pub space_left: Space,
    pub space_left_action: DiskAction,
    pub admin_space_left: Space,
    pub admin_space_left_action: DiskAction,
    pub disk_full_action: DiskAction,
    pub disk_error_action: DiskAction,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig {
            space_left: Space::Mib(75),
            space_left_action: DiskAction::Syslog,
            admin_space_left: Space::Mib(50),
            admin_space_left_action: DiskAction::Suspend,
            disk_full_action: DiskAction::Suspend,
            disk_error_action: DiskAction::Suspend,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Events the writer queue holds before `overflow_action` applies.
    pub q_depth: usize,
    pub overflow_action: OverflowAction,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            q_depth: 8192,
            overflow_action: OverflowAction::Syslog,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    pub name_format: NameFormat,
    /// The node name for `name_format = "user"`.
    pub name: Option<String>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            name_format: NameFormat::None,
            name: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct IoUringConfig {
    /// io_uring deny rules (`-a deny,io_uring ...` lines, `docs/io_uring.md`); `None`: no policy.
    pub policy: Option<PathBuf>,
}

/// The kernel audit relay (docs/daemon.md, "Kernel audit relay").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct KernelAuditConfig {
    /// Copy the records kernel audit emits (user messages, `CONFIG_CHANGE`, `AVC`, ...)
    /// into vigil's log, read from the audit read-log multicast group.
    pub relay: bool,
    /// Set the kernel's audit enabled flag to 1 while the daemon runs (the previous value is
    /// put back at exit). Read at start only.
    pub enable: bool,
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the configuration: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Command-line values that replace the file's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub rules: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub socket: Option<PathBuf>,
}

impl Config {
    /// The embedded default configuration.
    pub fn embedded() -> Config {
        // A test proves the embedded text parses; never fails at run time.
        Config::parse(DEFAULT_TOML, DEFAULT_NAME).unwrap_or_default()
    }

    /// Reads `path`, or the embedded default when `None`, and applies `ov`.
    pub fn load(path: Option<&Path>, ov: &Overrides) -> Result<Config, ConfigError> {
        let mut cfg = match path {
            Some(p) => {
                let name = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                    file: name.clone(),
                    source,
                })?;
                Config::parse(&text, &name)?
            }
            None => Config::embedded(),
        };
        cfg.apply(ov);
        Ok(cfg)
    }

    pub fn apply(&mut self, ov: &Overrides) {
        if let Some(r) = &ov.rules {
            self.daemon.rules = Some(r.clone());
        }
        if let Some(l) = &ov.log {
            self.log.file.clone_from(l);
        }
        if let Some(s) = &ov.socket {
            self.daemon.socket.clone_from(s);
        }
    }

    /// Parses and validates configuration text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            ConfigError::Invalid {
                file: file.to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        cfg.validate().map_err(|(section, key, message)| {
            let (line, column) = locate_key(text, section, key);
            ConfigError::Invalid {
                file: file.to_string(),
                line,
                column,
                message: format!("{section}.{key}: {message}"),
            }
        })?;
        Ok(cfg)
    }

    /// Checks values that each parse alone but do not make sense (together).
    fn validate(&self) -> Result<(), (&'static str, &'static str, String)> {
        let l = &self.log;
        if l.file.as_os_str().is_empty() || !l.file.is_absolute() {
            return Err(("log", "file", "expected an absolute path".into()));
        }
        if l.file.file_name().is_none() {
            return Err((
                "log",
                "file",
                "expected a file name, not a directory".into(),
            ));
        }
        if l.num_logs > MAX_NUM_LOGS {
            return Err((
                "log",
                "num_logs",
                format!("{} is more than {MAX_NUM_LOGS}", l.num_logs),
            ));
        }
        if matches!(l.flush, Flush::Incremental | Flush::IncrementalAsync) && l.freq == 0 {
            return Err((
                "log",
                "freq",
                "must be at least 1 with an incremental flush".into(),
            ));
        }
        if l.group.is_empty() {
            return Err(("log", "group", "expected a group name".into()));
        }
        if self
            .io_uring
            .policy
            .as_ref()
            .is_some_and(|p| !p.is_absolute())
        {
            return Err(("io_uring", "policy", "expected an absolute path".into()));
        }
        if !self.daemon.socket.is_absolute() {
            return Err(("daemon", "socket", "expected an absolute path".into()));
        }
        let d = &self.disk;
        if d.disk_error_action == DiskAction::Rotate {
            return Err((
                "disk",
                "disk_error_action",
                "`rotate` cannot fix a write error; use `ignore`, `syslog`, `suspend` or `stop`"
                    .into(),
            ));
        }
        if let (Space::Mib(a), Space::Mib(s)) = (d.admin_space_left, d.space_left) {
            if a > s {
                return Err((
                    "disk",
                    "admin_space_left",
                    format!("{a} MiB is more than space_left ({s} MiB); it is the lower threshold"),
                ));
            }
        }
        if let (Space::Percent(a), Space::Percent(s)) = (d.admin_space_left, d.space_left) {
            if a > s {
                return Err((
                    "disk",
                    "admin_space_left",
                    format!("{a}% is more than space_left ({s}%); it is the lower threshold"),
                ));
            }
        }
        let q = &self.queue;
        if q.q_depth == 0 || q.q_depth > MAX_Q_DEPTH {
            return Err((
                "queue",
                "q_depth",
                format!("{} is not in 1..={MAX_Q_DEPTH}", q.q_depth),
            ));
        }
        let n = &self.node;
        match (n.name_format, &n.name) {
            (NameFormat::User, None) => {
                return Err((
                    "node",
                    "name_format",
                    "`user` needs `name = \"...\"` in [node]".into(),
                ))
            }
            (_, Some(name)) if !valid_node_name(name) => {
                return Err((
                    "node",
                    "name",
                    format!("{name:?} must be 1-64 printable characters without spaces"),
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// The `node=` value records carry, if any.
    pub fn node_name(&self) -> Option<String> {
        match self.node.name_format {
            NameFormat::None => None,
            NameFormat::User => self.node.name.clone(),
            NameFormat::Hostname => hostname(),
        }
    }
}

fn valid_node_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_graphic())
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    valid_node_name(&name).then_some(name)
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Where `key` is set inside `[section]` (1:1 when it is not written, i.e. a default).
fn locate_key(text: &str, section: &str, key: &str) -> (usize, usize) {
    let mut current = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if let Some(rest) = line.strip_prefix('[') {
            current = rest
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            continue;
        }
        if current != section {
            continue;
        }
        if let Some(after) = line.strip_prefix(key) {
            if after.trim_start().starts_with('=') {
                return (i + 1, raw.len() - line.len() + 1);
            }
        }
    }
    (1, 1)
}

impl fmt::Display for Config {
    /// A short summary for the start-up log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "log={} format={} flush={} max_log_file={}MiB x{} ({}) q_depth={} overflow={}",
            self.log.file.display(),
            self.log.format,
            self.log.flush,
            self.log.max_log_file,
            self.log.num_logs,
            self.log.max_log_file_action,
            self.queue.q_depth,
            self.queue.overflow_action
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("a\nbc = 1", 3), (2, 2));
        assert_eq!(line_col("", 10), (1, 1));
    }

    #[test]
    fn locate_key_finds_the_section() {
        let t = "[log]\nfile = \"/x\"\n[node]\n  name = \"a b\"\n";
        assert_eq!(locate_key(t, "node", "name"), (4, 3));
        assert_eq!(locate_key(t, "queue", "q_depth"), (1, 1));
    }
}
