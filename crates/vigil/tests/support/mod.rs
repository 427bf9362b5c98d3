//! Support for the privileged end-to-end tests (tests/kernel_*.rs, tests/diff_*.rs): a forked
//! workload doing exact syscalls ([`workload`]), reading audit logs into events with
//! vigil-format's reader and selecting them with ausearch ([`events`]), and a `vigil daemon`
//! on real kernel events under the kernel lock ([`KernelDaemon`]).

#![allow(dead_code)]

pub mod events;
pub mod norm;
pub mod workload;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use vigil_testkit::{kernel_lock, require, unique_key, KernelLock, Need};

use crate::daemon_util::{Setup, TestDaemon};
pub use events::{ausearch_events, log_events, Ev};

/// Root, BTF and ausearch: what a test running `vigil daemon` on kernel events needs.
pub fn need_kernel(test: &str) -> bool {
    require(test, &[Need::Root, Need::Btf, Need::AuditTools])
}

/// Kernel audit as well (the differential tests run Debian's auditd).
pub fn need_kernel_audit(test: &str) -> bool {
    require(
        test,
        &[
            Need::Root,
            Need::Btf,
            Need::AuditTools,
            Need::AuditNetlink,
            Need::FreeAuditPid,
        ],
    )
}

static AUID_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A login uid no other test (or other process on the machine) has: the workload writes it to
/// /proc/self/loginuid and every rule of the test filters on it, so the machine-wide hooks
/// single out the test's own processes.
pub fn unique_auid() -> u32 {
    let n = AUID_COUNTER.fetch_add(1, Ordering::Relaxed);
    2_000_000_000 + (std::process::id() % 1_000_000) * 64 + (n % 64)
}

/// A uid that no account on this machine has (for workloads that drop root).
pub const TEST_UID: u32 = 61_234;
pub const TEST_GID: u32 = 61_234;

/// `vigil daemon` on kernel events with the kernel lock held (BPF hooks see the whole
/// machine). Dropping it kills the daemon, then releases the lock.
pub struct KernelDaemon {
    pub d: TestDaemon,
    _lock: KernelLock,
}

impl std::ops::Deref for KernelDaemon {
    type Target = TestDaemon;
    fn deref(&self) -> &TestDaemon {
        &self.d
    }
}

impl std::ops::DerefMut for KernelDaemon {
    fn deref_mut(&mut self) -> &mut TestDaemon {
        &mut self.d
    }
}

impl KernelDaemon {
    /// Takes the kernel lock and starts a daemon with `rules` and extra TOML `config`.
    pub fn start(rules: &str, config: &str) -> KernelDaemon {
        let lock = kernel_lock();
        KernelDaemon::start_locked(lock, rules, config)
    }

    /// As [`KernelDaemon::start`] under a lock the caller holds.
    pub fn start_locked(lock: KernelLock, rules: &str, config: &str) -> KernelDaemon {
        let d = TestDaemon::start(Setup {
            rules: Some(rules.to_owned()),
            config: config.to_owned(),
            kernel: true,
            ..Setup::default()
        });
        assert_eq!(d.status()["source"], "bpf", "the daemon must run on BPF");
        KernelDaemon { d, _lock: lock }
    }

    /// `vigil ctl -m MARKER`: when it returns, every event captured before it is in the log.
    /// Checks that ausearch finds the marker, and returns it.
    pub fn sync(&self) -> String {
        let marker = unique_key("sync");
        self.d.ctl_ok(&["-m", &marker]);
        let found = self.d.ausearch(&["-m", "USER", "--raw"]);
        assert!(
            found.contains(&marker),
            "ausearch -m USER does not find the marker {marker} in {}",
            self.d.log.display()
        );
        marker
    }

    /// The events ausearch selects with `-k KEY` (after a sync marker), parsed.
    pub fn by_key(&self, key: &str) -> Vec<Ev> {
        self.sync();
        ausearch_events(&self.d.log, &["-k", key])
    }

    /// The log's events, parsed (active file only).
    pub fn events(&self) -> Vec<Ev> {
        log_events(&self.d.log)
    }
}

/// A directory for a test's files, world-readable (workloads drop root), removed on drop.
pub fn test_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// `dir/name` as a path and as bytes.
pub fn join(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// The bytes of a path (test paths are UTF-8).
pub fn pb(p: &Path) -> Vec<u8> {
    p.as_os_str().as_encoded_bytes().to_vec()
}
