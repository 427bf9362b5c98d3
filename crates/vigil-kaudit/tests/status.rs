//! Privileged: status and features against `auditctl -s`.

mod common;

use std::collections::HashMap;

use common::*;
use vigil_kaudit::{AuditStatus, Feature, StatusUpdate};
use vigil_testkit::{require, KernelAuditGuard};

/// `auditctl -s` as name -> first word of the value.
fn auditctl_status() -> HashMap<String, String> {
    auditctl(&["-s"])
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_owned(), w.next()?.to_owned()))
        })
        .collect()
}

fn assert_agrees(s: &AuditStatus) {
    let a = auditctl_status();
    for (name, ours) in [
        ("enabled", s.enabled),
        ("failure", s.failure),
        ("pid", s.pid),
        ("rate_limit", s.rate_limit),
        ("backlog_limit", s.backlog_limit),
        ("backlog_wait_time", s.backlog_wait_time),
    ] {
        assert_eq!(
            a.get(name),
            Some(&ours.to_string()),
            "{name}: auditctl -s says {a:?}"
        );
    }
}

#[test]
fn status_round_trip_agrees_with_auditctl() {
    if !require("status_round_trip_agrees_with_auditctl", NEEDS) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    let c = guard.client();
    let before = c.status().unwrap();
    assert_agrees(&before);
    assert_ne!(
        before.feature_bitmap, 0,
        "a 6.x kernel reports its features"
    );

    // Values that differ from the current ones. failure stays within 0/1: 2 panics the
    // machine on audit failure.
    let update = StatusUpdate {
        enabled: None,
        failure: Some(u32::from(before.failure == 0)),
        pid: None,
        rate_limit: Some(before.rate_limit + 7),
        backlog_limit: Some(before.backlog_limit + 17),
        backlog_wait_time: Some(if before.backlog_wait_time == 15_000 {
            16_000
        } else {
            15_000
        }),
    };
    c.set_status(&update).unwrap();
    let after = c.status().unwrap();
    assert_eq!(Some(after.failure), update.failure);
    assert_eq!(Some(after.rate_limit), update.rate_limit);
    assert_eq!(Some(after.backlog_limit), update.backlog_limit);
    assert_eq!(Some(after.backlog_wait_time), update.backlog_wait_time);
    assert_eq!(after.enabled, before.enabled, "enabled was not in the mask");
    assert_agrees(&after);

    guard.restore().unwrap();
    let restored = guard.client().status().unwrap();
    assert_eq!(
        (
            restored.failure,
            restored.rate_limit,
            restored.backlog_limit,
            restored.backlog_wait_time
        ),
        (
            before.failure,
            before.rate_limit,
            before.backlog_limit,
            before.backlog_wait_time
        )
    );
    assert_agrees(&restored);
}

#[test]
fn enabled_flag_toggles_and_refuses_bad_values() {
    if !require("enabled_flag_toggles_and_refuses_bad_values", NEEDS) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    let before = guard.saved_status().enabled;
    let c = guard.client();
    let flipped = u32::from(before == 0);
    c.set_enabled(flipped).unwrap();
    assert_eq!(c.status().unwrap().enabled, flipped);
    assert_agrees(&c.status().unwrap());
    // 3 is rejected before anything is sent; the kernel would refuse it too.
    assert!(c.set_enabled(3).is_err());
    guard.restore().unwrap();
    assert_eq!(guard.client().status().unwrap().enabled, before);
}

#[test]
fn loginuid_immutable_feature_round_trip() {
    if !require("loginuid_immutable_feature_round_trip", NEEDS) {
        return;
    }
    let mut guard = KernelAuditGuard::new();
    let c = guard.client();
    let f = c.features().unwrap();
    assert_eq!(f.vers, 1);
    if f.is_locked(Feature::LoginuidImmutable) {
        eprintln!("SKIP loginuid_immutable_feature_round_trip: feature locked until reboot");
        return;
    }
    let was = f.is_on(Feature::LoginuidImmutable);
    let line = |on: bool| format!("loginuid_immutable {} unlocked", u8::from(on));
    assert!(auditctl(&["-s"]).contains(&line(was)));
    // Never lock: that would last until reboot.
    c.set_feature(Feature::LoginuidImmutable, !was, false)
        .unwrap();
    assert_eq!(
        c.features().unwrap().is_on(Feature::LoginuidImmutable),
        !was
    );
    assert!(auditctl(&["-s"]).contains(&line(!was)));
    guard.restore().unwrap();
    let f = guard.client().features().unwrap();
    assert_eq!(f.is_on(Feature::LoginuidImmutable), was);
}
