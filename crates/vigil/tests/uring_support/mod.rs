//! Shared by the io_uring daemon tests (`tests/uring_daemon*.rs`): `vigil daemon` on the kernel
//! under the kernel lock, the io_uring test client (crates/vigil-uring-client) and fio run
//! under a login uid of their own (every rule and deny rule of a test filters on it, so the
//! machine-wide hooks single out the test's processes), and ausearch output grouped into
//! events.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_testkit::{kernel_lock, require, unique_key, KernelLock, Need};

use crate::daemon_util::{Setup, TestDaemon};

/// Root, BTF and ausearch.
pub fn need_kernel(test: &str) -> bool {
    require(test, &[Need::Root, Need::Btf, Need::AuditTools])
}

static AUID: AtomicU32 = AtomicU32::new(0);

/// A login uid nothing else on the machine has (distinct from the e2e tests' range).
pub fn unique_auid() -> u32 {
    let n = AUID.fetch_add(1, Ordering::Relaxed);
    2_100_000_000 + (std::process::id() % 1_000_000) * 64 + (n % 64)
}

/// `vigil daemon` on kernel events, with the kernel lock held until it is dropped.
pub struct UringDaemon {
    pub d: TestDaemon,
    _lock: KernelLock,
}

impl std::ops::Deref for UringDaemon {
    type Target = TestDaemon;
    fn deref(&self) -> &TestDaemon {
        &self.d
    }
}

impl std::ops::DerefMut for UringDaemon {
    fn deref_mut(&mut self) -> &mut TestDaemon {
        &mut self.d
    }
}

impl UringDaemon {
    /// Starts a daemon with `rules` and extra TOML `config` under the kernel lock.
    pub fn start(rules: &str, config: &str) -> UringDaemon {
        let lock = kernel_lock();
        let d = TestDaemon::start(Setup {
            rules: Some(rules.to_owned()),
            config: config.to_owned(),
            kernel: true,
            ..Setup::default()
        });
        assert_eq!(d.status()["source"], "bpf", "the daemon must run on BPF");
        UringDaemon { d, _lock: lock }
    }

    /// `vigil ctl -m MARKER`: afterwards every op captured before is in the log.
    pub fn sync(&self) {
        let marker = unique_key("uring-sync");
        self.d.ctl_ok(&["-m", &marker]);
        assert!(
            self.d.log_text().contains(&marker),
            "marker {marker} not in the log"
        );
    }

    /// Events `ausearch -if LOG ARGS` selects (after a sync).
    pub fn search(&self, args: &[&str]) -> Vec<Event> {
        self.sync();
        let mut a = args.to_vec();
        a.push("--raw");
        group(&self.d.ausearch(&a))
    }

    pub fn status_str(&self, name: &str) -> String {
        let st = self.d.status();
        st.get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in status: {st:?}"))
    }
}

/// One record: its type and fields (values unquoted; hex-encoded strings left as they are).
#[derive(Debug, Clone)]
pub struct Rec {
    pub rtype: String,
    pub fields: Vec<(String, String)>,
    pub line: String,
}

impl Rec {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The field, or a panic naming the record.
    pub fn f(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("no {name} in {}", self.line))
    }
}

/// One event: its serial and records.
#[derive(Debug, Clone)]
pub struct Event {
    pub serial: u64,
    pub recs: Vec<Rec>,
}

impl Event {
    pub fn rec(&self, rtype: &str) -> Option<&Rec> {
        self.recs.iter().find(|r| r.rtype == rtype)
    }

    pub fn recs_of(&self, rtype: &str) -> Vec<&Rec> {
        self.recs.iter().filter(|r| r.rtype == rtype).collect()
    }

    pub fn must(&self, rtype: &str) -> &Rec {
        self.rec(rtype)
            .unwrap_or_else(|| panic!("no {rtype} record in {self:#?}"))
    }
}

/// Splits `a=b c="d e" f=(null)` into fields.
fn fields(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        let name = text[start..i].to_owned();
        i += 1;
        let value = if b.get(i) == Some(&b'"') {
            let end = text[i + 1..].find('"').map_or(b.len(), |e| i + 1 + e);
            let v = text[i + 1..end].to_owned();
            i = end + 1;
            v
        } else {
            let s = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            text[s..i].to_owned()
        };
        out.push((name, value));
    }
    out
}

/// Parses one raw log line.
pub fn record(line: &str) -> Option<(u64, Rec)> {
    let rest = line.strip_prefix("type=")?;
    let (rtype, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("msg=audit(")?;
    let (stamp, rest) = rest.split_once("): ")?;
    let serial = stamp.split_once(':')?.1.parse().ok()?;
    Some((
        serial,
        Rec {
            rtype: rtype.to_owned(),
            fields: fields(rest.trim_start_matches('\u{1d}')),
            line: line.to_owned(),
        },
    ))
}

/// Groups raw log lines (ausearch `--raw` output or a log file) into events by serial.
pub fn group(text: &str) -> Vec<Event> {
    let mut by: BTreeMap<u64, Vec<Rec>> = BTreeMap::new();
    for l in text.lines() {
        if let Some((serial, r)) = record(l) {
            by.entry(serial).or_default().push(r);
        }
    }
    by.into_iter()
        .map(|(serial, recs)| Event { serial, recs })
        .collect()
}

/// The bytes of a hex-encoded field (`saddr=`).
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The io_uring test client, built on first use into this test's target directory.
pub fn client() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test exe");
        let dir = exe.parent().and_then(Path::parent).expect("target dir");
        let bin = dir.join("vigil-uring-client");
        let profile = dir.file_name().and_then(|s| s.to_str()).unwrap_or("debug");
        let target = dir.parent().expect("target root");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-q", "-p", "vigil-uring-client"])
            .env("CARGO_TARGET_DIR", target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile == "release" {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("cargo build vigil-uring-client");
        assert!(st.success(), "building vigil-uring-client failed");
        bin
    })
}

/// `program ARGS` with login uid `auid` (written before exec, as `pam_loginuid` does).
pub fn command(program: &Path, args: &[&str], auid: u32) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    let text = CString::new(auid.to_string()).unwrap();
    // SAFETY: open/write/close are async-signal-safe; the buffers were made before fork.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(c"/proc/self/loginuid".as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let b = text.as_bytes();
            let n = libc::write(fd, b.as_ptr().cast(), b.len());
            libc::close(fd);
            if n != b.len() as isize {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// The client's run: pid, exit status, JSON lines.
pub struct Run {
    pub pid: u32,
    pub status: ExitStatus,
    pub lines: Vec<Value>,
    pub stderr: String,
}

impl Run {
    pub fn ops(&self) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["event"] == "op").collect()
    }

    /// Killed by SIGKILL.
    pub fn killed(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal() == Some(libc::SIGKILL)
    }
}

pub fn finish(child: Child) -> Run {
    let pid = child.id();
    let out: Output = child.wait_with_output().expect("wait");
    Run {
        pid,
        status: out.status,
        lines: String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the client with `args` under `auid` to the end.
pub fn run_client(args: &[&str], auid: u32) -> Run {
    finish(command(client(), args, auid).spawn().expect("spawn client"))
}

/// A world-readable temporary directory (the personality client drops root).
pub fn test_dir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Whether vigil's io_uring programs are loaded (names start `vigil_uring`, or `vigil_lsm`),
/// and how many links attach them. The test holds the kernel lock, so they are its daemon's.
pub fn uring_links() -> (bool, usize) {
    let ids: Vec<u32> = aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| {
            p.name_as_str()
                .is_some_and(|n| n.starts_with("vigil_uring") || n.starts_with("vigil_lsm"))
        })
        .map(|p| p.id())
        .collect();
    let links = aya::programs::loaded_links()
        .filter_map(Result::ok)
        .filter(|l| ids.contains(&l.program_id()))
        .count();
    (!ids.is_empty(), links)
}

/// Waits until `cond` holds (or panics after a minute: a loaded machine is slow).
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < crate::daemon_util::PATIENCE, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
