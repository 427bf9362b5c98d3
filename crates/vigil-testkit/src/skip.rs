//! Deciding whether this machine can run a privileged test.

use std::path::Path;

/// What a test needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Effective uid 0.
    Root,
    /// Kernel BTF (`/sys/kernel/btf/vmlinux`), for CO-RE BPF.
    Btf,
    /// A working `NETLINK_AUDIT` socket answering `AUDIT_GET`.
    AuditNetlink,
    /// Debian's auditd tools: /sbin/auditd, auditctl, ausearch.
    AuditTools,
    /// No other living process is registered as the audit daemon (a system auditd would
    /// keep a test from registering its own).
    FreeAuditPid,
}

/// Env variable that turns every skip into a failure (set in CI).
pub const REQUIRE_ENV: &str = "VIGIL_REQUIRE_PRIVILEGED";

fn missing(need: Need) -> Option<String> {
    match need {
        Need::Root => {
            // SAFETY: geteuid has no preconditions.
            let euid = unsafe { libc::geteuid() };
            (euid != 0).then(|| format!("not root (euid {euid})"))
        }
        Need::Btf => (!Path::new("/sys/kernel/btf/vmlinux").exists())
            .then(|| "no kernel BTF (/sys/kernel/btf/vmlinux)".to_owned()),
        Need::AuditNetlink => {
            match vigil_kaudit::AuditClient::open().and_then(|mut c| c.status()) {
                Ok(_) => None,
                Err(e) => Some(format!("no kernel audit netlink ({e})")),
            }
        }
        Need::AuditTools => ["/sbin/auditd", "/sbin/auditctl", "/sbin/ausearch"]
            .iter()
            .find(|p| !Path::new(p).exists())
            .map(|p| format!("{p} missing (apt-get install auditd)")),
        Need::FreeAuditPid => {
            let me = std::process::id();
            match vigil_kaudit::AuditClient::open().and_then(|mut c| c.status()) {
                Ok(s)
                    if s.pid != 0
                        && s.pid != me
                        && Path::new(&format!("/proc/{}", s.pid)).exists() =>
                {
                    Some(format!("process {} is the audit daemon", s.pid))
                }
                Ok(_) => None,
                Err(e) => Some(format!("no kernel audit netlink ({e})")),
            }
        }
    }
}

/// True when the machine has everything in `needs`. Otherwise prints
/// `SKIP <test>: <why>` and returns false, or panics when `VIGIL_REQUIRE_PRIVILEGED=1`.
pub fn require(test: &str, needs: &[Need]) -> bool {
    let why: Vec<String> = needs.iter().filter_map(|&n| missing(n)).collect();
    if why.is_empty() {
        return true;
    }
    let msg = format!("SKIP {test}: {}", why.join("; "));
    assert!(
        std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
        "{msg} ({REQUIRE_ENV}=1 forbids skipping)"
    );
    eprintln!("{msg}");
    false
}

/// [`require`] with root, BTF and kernel audit netlink.
pub fn require_privileged(test: &str) -> bool {
    require(test, &[Need::Root, Need::Btf, Need::AuditNetlink])
}
