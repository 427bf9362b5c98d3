//! Privileged: the guard really restores kernel audit state, also after a panic.

use vigil_kaudit::{AuditClient, Placement, RuleData, StatusUpdate};
use vigil_rules::ast::{Action, Condition, Field, FilterList, Op, Origin, Rule, Syscalls, Value};
use vigil_rules::tables::{self, AUDIT_ARCH_X86_64};
use vigil_testkit::{kernel_lock, require, unique_key, KernelAuditGuard, KernelLock, Need};

const NEEDS: &[Need] = &[Need::Root, Need::AuditNetlink];

fn keyed_rule(key: &str) -> Rule {
    Rule {
        list: FilterList::Exit,
        action: Action::Always,
        syscalls: Syscalls::Set(
            [tables::syscall_number(AUDIT_ARCH_X86_64, "getppid").unwrap()].into(),
        ),
        conditions: vec![Condition::Field {
            field: Field::Arch,
            op: Op::Eq,
            value: Value::Num(u64::from(AUDIT_ARCH_X86_64)),
        }],
        keys: vec![key.to_owned()],
        is_watch: false,
        origin: Origin::default(),
    }
}

fn has_key(rules: &[Rule], key: &str) -> bool {
    rules.iter().any(|r| r.keys.iter().any(|k| k == key))
}

#[test]
fn guard_restores_rules_and_status_on_drop_and_on_panic() {
    if !require(
        "guard_restores_rules_and_status_on_drop_and_on_panic",
        NEEDS,
    ) {
        return;
    }
    let key = unique_key("testkit-guard");
    let key2 = key.clone();
    let outcome = std::panic::catch_unwind(move || {
        let mut g = KernelAuditGuard::new();
        let c = g.client();
        c.add_rule(&keyed_rule(&key2), Placement::Append).unwrap();
        let s = c.status().unwrap();
        c.set_status(&StatusUpdate {
            backlog_limit: Some(s.backlog_limit + 3),
            ..StatusUpdate::default()
        })
        .unwrap();
        c.set_enabled(u32::from(s.enabled == 0)).unwrap();
        panic!("deliberate test panic");
    });
    assert!(outcome.is_err());
    // The guard restored before releasing the lock; check under the lock.
    let g = KernelAuditGuard::new();
    let saved = *g.saved_status();
    let lock = g.into_lock();
    let mut c = AuditClient::open().unwrap();
    assert!(
        !has_key(&c.list_rules().unwrap(), &key),
        "rule {key} survived the panic"
    );
    let now = c.status().unwrap();
    assert_eq!(
        (now.backlog_limit, now.enabled),
        (saved.backlog_limit, saved.enabled)
    );
    drop(lock);
}

// Deletes the rules added here even if an assertion fails (no guard covers them),
// holding the kernel lock while it does.
struct Cleanup {
    before: Vec<RuleData>,
    lock: Option<KernelLock>,
}
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _lock = self.lock.take().unwrap_or_else(kernel_lock);
        let mut c = AuditClient::open().unwrap();
        for r in c.list_rules_raw().unwrap() {
            if !self.before.contains(&r) {
                let _ = c.delete_rule_raw(&r);
            }
        }
    }
}

#[test]
fn guard_re_adds_saved_rules_in_order() {
    if !require("guard_re_adds_saved_rules_in_order", NEEDS) {
        return;
    }
    let (k1, k2, k3) = (
        unique_key("testkit-order"),
        unique_key("testkit-order"),
        unique_key("testkit-order"),
    );
    let mut cleanup = Cleanup {
        before: Vec::new(),
        lock: Some(kernel_lock()),
    };
    let mut c = AuditClient::open().unwrap();
    cleanup.before = c.list_rules_raw().unwrap();
    c.add_rule(&keyed_rule(&k1), Placement::Append).unwrap();
    c.add_rule(&keyed_rule(&k2), Placement::Append).unwrap();
    let saved: Vec<RuleData> = c.list_rules_raw().unwrap();
    let mut g = KernelAuditGuard::with_lock(cleanup.lock.take().unwrap());
    let gc = g.client();
    // Delete a saved rule, add one in front: both must be undone, order kept.
    gc.delete_rule(&keyed_rule(&k1)).unwrap();
    gc.add_rule(&keyed_rule(&k3), Placement::Prepend).unwrap();
    assert_ne!(gc.list_rules_raw().unwrap(), saved);
    cleanup.lock = Some(g.into_lock());
    assert_eq!(c.list_rules_raw().unwrap(), saved);
}
