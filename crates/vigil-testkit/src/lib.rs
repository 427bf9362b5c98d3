//! Support for vigil's privileged tests (a dev-dependency; never shipped).
//!
//! - [`kernel_lock`]: the machine-wide exclusive lock every test touching kernel audit,
//!   auditd or BPF holds (`/tmp/vigil-kernel.lock`).
//! - [`KernelAuditGuard`]: takes the lock, snapshots kernel audit state, restores it on drop
//!   (also when the test panics).
//! - [`require_privileged`] / [`require`]: skip with a printed reason when the machine
//!   cannot run a test; panic instead when `VIGIL_REQUIRE_PRIVILEGED=1`.
//! - [`Auditd`]: Debian's auditd in the foreground with a private config and log;
//!   [`ausearch`] reads that log.
//! - [`unique_key`]: a rule key no other test (or run) uses.

mod auditd;
mod guard;
mod key;
mod lock;
mod skip;

pub use auditd::{ausearch, Auditd, AuditdOptions, ToolOutput};
pub use guard::KernelAuditGuard;
pub use key::unique_key;
pub use lock::{kernel_lock, KernelLock, KERNEL_LOCK_PATH};
pub use skip::{require, require_privileged, Need};
