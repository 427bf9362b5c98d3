//! Snapshot kernel audit state, restore it on drop.

use vigil_kaudit::{AuditClient, AuditFeatures, AuditStatus, Feature, RuleData, StatusUpdate};

use crate::lock::{kernel_lock, KernelLock};

/// Holds the kernel lock and restores, on drop (panics included), what the test changed:
/// rules (added ones deleted, removed ones re-added in order), enabled, failure,
/// `rate_limit`, `backlog_limit`, `backlog_wait_time`, `loginuid_immutable`, and the audit pid
/// when this process took it.
///
/// Do not hold a separate [`kernel_lock`] in the same thread: the guard takes its own
/// (use [`KernelAuditGuard::with_lock`] to hand one over).
#[derive(Debug)]
pub struct KernelAuditGuard {
    client: AuditClient,
    status: AuditStatus,
    rules: Vec<RuleData>,
    features: Option<AuditFeatures>,
    // Dropped last: the state is restored before the next test may start. `None` only
    // after `into_lock` took it.
    lock: Option<KernelLock>,
}

impl KernelAuditGuard {
    /// Takes the kernel lock (blocking) and snapshots the state. Panics with the reason
    /// when kernel audit cannot be read, or when it is immutable (enabled=2), since no
    /// test could restore anything then.
    pub fn new() -> KernelAuditGuard {
        KernelAuditGuard::with_lock(kernel_lock())
    }

    /// Like [`KernelAuditGuard::new`] with a lock the caller already holds.
    pub fn with_lock(lock: KernelLock) -> KernelAuditGuard {
        let mut client = AuditClient::open().unwrap_or_else(|e| panic!("KernelAuditGuard: {e}"));
        let status = client
            .status()
            .unwrap_or_else(|e| panic!("KernelAuditGuard: reading audit status: {e}"));
        assert!(
            !status.is_immutable(),
            "KernelAuditGuard: kernel audit is immutable (enabled=2) until reboot; \
             tests that change audit state cannot run on this boot"
        );
        let rules = client
            .list_rules_raw()
            .unwrap_or_else(|e| panic!("KernelAuditGuard: listing rules: {e}"));
        // Old kernels lack AUDIT_GET_FEATURE; then there is nothing to restore.
        let features = client.features().ok();
        KernelAuditGuard {
            client,
            status,
            rules,
            features,
            lock: Some(lock),
        }
    }

    /// A client for the test to use (any client works; this one is already open).
    pub fn client(&mut self) -> &mut AuditClient {
        &mut self.client
    }

    /// The status at creation.
    pub fn saved_status(&self) -> &AuditStatus {
        &self.status
    }

    /// The rules at creation.
    pub fn saved_rules(&self) -> &[RuleData] {
        &self.rules
    }

    /// Restores the snapshot (panicking if it cannot) and hands back the kernel lock, still
    /// held: for a test that must check the restored state before anyone else runs.
    pub fn into_lock(mut self) -> KernelLock {
        if let Err(e) = self.restore() {
            panic!("KernelAuditGuard: could not restore kernel audit state: {e}");
        }
        self.lock
            .take()
            .expect("the lock is present until into_lock takes it")
    }

    /// Restores the snapshot now (drop does it again, harmlessly). Returns every problem
    /// met; it keeps going after one so that as much as possible is restored.
    pub fn restore(&mut self) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Err(e) = self.restore_rules() {
            problems.push(e);
        }
        if let Err(e) = self.restore_status() {
            problems.push(e);
        }
        if let Err(e) = self.restore_features() {
            problems.push(e);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    fn restore_rules(&mut self) -> Result<(), String> {
        let now = self
            .client
            .list_rules_raw()
            .map_err(|e| format!("listing rules: {e}"))?;
        if now == self.rules {
            return Ok(());
        }
        // Delete what was added (each saved rule protects one identical current rule).
        let mut saved: Vec<Option<&RuleData>> = self.rules.iter().map(Some).collect();
        for r in &now {
            if let Some(slot) = saved.iter_mut().find(|s| **s == Some(r)) {
                *slot = None;
                continue;
            }
            self.client
                .delete_rule_raw(r)
                .map_err(|e| format!("deleting rule added by the test: {e}"))?;
        }
        let now = self
            .client
            .list_rules_raw()
            .map_err(|e| format!("listing rules: {e}"))?;
        if now == self.rules {
            return Ok(());
        }
        // Saved rules were deleted or reordered: rebuild the lists in the saved order.
        for r in &now {
            self.client
                .delete_rule_raw(r)
                .map_err(|e| format!("clearing rules: {e}"))?;
        }
        for r in &self.rules {
            self.client
                .add_rule_raw(r)
                .map_err(|e| format!("re-adding saved rule: {e}"))?;
        }
        Ok(())
    }

    fn restore_status(&mut self) -> Result<(), String> {
        let now = self
            .client
            .status()
            .map_err(|e| format!("reading status: {e}"))?;
        let saved = self.status;
        if now.is_immutable() {
            return Err(
                "kernel audit was made immutable (enabled=2) during the test; \
                        nothing can be restored until reboot"
                    .into(),
            );
        }
        let differ = |a: u32, b: u32| (a != b).then_some(b);
        let update = StatusUpdate {
            enabled: differ(now.enabled, saved.enabled),
            failure: differ(now.failure, saved.failure),
            pid: None,
            rate_limit: differ(now.rate_limit, saved.rate_limit),
            backlog_limit: differ(now.backlog_limit, saved.backlog_limit),
            backlog_wait_time: differ(now.backlog_wait_time, saved.backlog_wait_time),
        };
        self.client
            .set_status(&update)
            .map_err(|e| format!("restoring {update:?}: {e}"))?;
        if now.pid == saved.pid {
            return Ok(());
        }
        let me = std::process::id();
        if now.pid == me {
            // Only the registered process may unregister; that is us.
            self.client
                .set_status(&StatusUpdate {
                    pid: Some(0),
                    ..StatusUpdate::default()
                })
                .map_err(|e| format!("releasing audit pid {me}: {e}"))?;
            return Ok(());
        }
        if now.pid != 0 && process_alive(now.pid) {
            return Err(format!(
                "audit pid is {} (alive), was {} before the test: a daemon the test started \
                 is still running",
                now.pid, saved.pid
            ));
        }
        // A registered process that died is cleared by the kernel on its next send; an
        // audit daemon that was running before and stopped cannot be brought back here.
        Ok(())
    }

    fn restore_features(&mut self) -> Result<(), String> {
        let Some(saved) = self.features else {
            return Ok(());
        };
        let now = self
            .client
            .features()
            .map_err(|e| format!("reading features: {e}"))?;
        for f in [Feature::LoginuidImmutable, Feature::OnlyUnsetLoginuid] {
            if now.is_on(f) != saved.is_on(f) {
                if now.is_locked(f) {
                    return Err(format!("feature {f:?} was changed and locked by the test"));
                }
                self.client
                    .set_feature(f, saved.is_on(f), false)
                    .map_err(|e| format!("restoring feature {f:?}: {e}"))?;
            }
        }
        Ok(())
    }
}

impl Default for KernelAuditGuard {
    fn default() -> Self {
        KernelAuditGuard::new()
    }
}

impl Drop for KernelAuditGuard {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            // Panicking while already unwinding would abort and hide the first failure.
            if std::thread::panicking() {
                eprintln!("KernelAuditGuard: could not restore kernel audit state: {e}");
            } else {
                panic!("KernelAuditGuard: could not restore kernel audit state: {e}");
            }
        }
    }
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
