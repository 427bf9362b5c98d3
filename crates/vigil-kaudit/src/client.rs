//! Requests to kernel audit: status, rules, user messages, features, signal info.

use std::time::Duration;

use vigil_rules::ast::Rule;

use crate::consts::{
    AUDIT_ADD_RULE, AUDIT_DEL_RULE, AUDIT_FEATURE_VERSION, AUDIT_FILTER_PREPEND,
    AUDIT_FIRST_USER_MSG, AUDIT_FIRST_USER_MSG2, AUDIT_GET, AUDIT_GET_FEATURE, AUDIT_LAST_USER_MSG,
    AUDIT_LAST_USER_MSG2, AUDIT_LIST_RULES, AUDIT_MESSAGE_TEXT_MAX, AUDIT_SET, AUDIT_SET_FEATURE,
    AUDIT_SIGNAL_INFO, AUDIT_USER,
};
use crate::convert::{decode_rule, encode_rule};
use crate::daemon::AuditDaemon;
use crate::error::{Error, Result};
use crate::rule::RuleData;
use crate::socket::{AuditSocket, Expect};
use crate::status::{AuditFeatures, AuditStatus, Feature, SignalInfo, StatusUpdate};

/// Where a new rule goes in its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// At the end (`auditctl -a`).
    #[default]
    Append,
    /// At the front (`auditctl -A`).
    Prepend,
}

/// A connection to kernel audit. Needs `CAP_AUDIT_CONTROL` for most requests and
/// `CAP_AUDIT_WRITE` for user messages.
#[derive(Debug)]
pub struct AuditClient {
    pub(crate) sock: AuditSocket,
}

impl AuditClient {
    /// Opens a `NETLINK_AUDIT` socket.
    pub fn open() -> Result<AuditClient> {
        Ok(AuditClient {
            sock: AuditSocket::open_groups(0)?,
        })
    }

    /// How long each request waits for the kernel's answer (default 5 s).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.sock.set_timeout(timeout);
    }

    /// The underlying socket (buffer size, counters).
    pub fn socket_mut(&mut self) -> &mut AuditSocket {
        &mut self.sock
    }

    /// `AUDIT_GET`.
    pub fn status(&mut self) -> Result<AuditStatus> {
        let replies = self
            .sock
            .request("AUDIT_GET", AUDIT_GET, &[], Expect::One(AUDIT_GET))?;
        let payload = replies
            .first()
            .ok_or_else(|| Error::malformed("AUDIT_GET reply", "ACK without status"))?;
        AuditStatus::decode(payload)
    }

    /// `AUDIT_SET` with the fields present in `update`.
    pub fn set_status(&mut self, update: &StatusUpdate) -> Result<()> {
        if update.is_empty() {
            return Ok(());
        }
        let payload = update.to_status().encode();
        self.sock
            .request("AUDIT_SET", AUDIT_SET, &payload, Expect::Ack)?;
        Ok(())
    }

    /// `auditctl -e N`. Note that 2 locks the configuration until reboot.
    pub fn set_enabled(&mut self, enabled: u32) -> Result<()> {
        if enabled > 2 {
            return Err(Error::Invalid(format!(
                "enabled must be 0, 1 or 2, not {enabled}"
            )));
        }
        self.set_status(&StatusUpdate {
            enabled: Some(enabled),
            ..StatusUpdate::default()
        })
    }

    /// Raw kernel rules in list order (`AUDIT_LIST_RULES`).
    pub fn list_rules_raw(&mut self) -> Result<Vec<RuleData>> {
        self.sock
            .request(
                "AUDIT_LIST_RULES",
                AUDIT_LIST_RULES,
                &[],
                Expect::Multi(AUDIT_LIST_RULES),
            )?
            .iter()
            .map(|p| RuleData::decode(p))
            .collect()
    }

    /// Kernel rules decoded into vigil's rule model.
    pub fn list_rules(&mut self) -> Result<Vec<Rule>> {
        self.list_rules_raw()?.iter().map(decode_rule).collect()
    }

    /// `AUDIT_ADD_RULE` with a raw rule.
    pub fn add_rule_raw(&mut self, rule: &RuleData) -> Result<()> {
        let payload = rule.encode()?;
        self.sock
            .request("AUDIT_ADD_RULE", AUDIT_ADD_RULE, &payload, Expect::Ack)?;
        Ok(())
    }

    /// Encodes `rule` and adds it (`auditctl -a`/`-A`).
    pub fn add_rule(&mut self, rule: &Rule, placement: Placement) -> Result<()> {
        let mut raw = encode_rule(rule)?;
        if placement == Placement::Prepend {
            raw.flags |= AUDIT_FILTER_PREPEND;
        }
        self.add_rule_raw(&raw)
    }

    /// `AUDIT_DEL_RULE` with a raw rule (it must match a kernel rule exactly).
    pub fn delete_rule_raw(&mut self, rule: &RuleData) -> Result<()> {
        let mut rule = rule.clone();
        rule.flags &= !AUDIT_FILTER_PREPEND;
        let payload = rule.encode()?;
        self.sock
            .request("AUDIT_DEL_RULE", AUDIT_DEL_RULE, &payload, Expect::Ack)?;
        Ok(())
    }

    /// Encodes `rule` and deletes the identical kernel rule (`auditctl -d`).
    pub fn delete_rule(&mut self, rule: &Rule) -> Result<()> {
        self.delete_rule_raw(&encode_rule(rule)?)
    }

    /// Deletes every rule (`auditctl -D`); returns how many were deleted.
    pub fn delete_all_rules(&mut self) -> Result<usize> {
        let rules = self.list_rules_raw()?;
        for r in &rules {
            self.delete_rule_raw(r)?;
        }
        Ok(rules.len())
    }

    /// Sends a user-space message (`auditctl -m TEXT` uses `AUDIT_USER`). `msg_type` must be
    /// `AUDIT_USER` (1005) or in 1100..=1199 / 2100..=2999. The kernel drops it silently
    /// while auditing is disabled.
    pub fn send_user_message(&mut self, msg_type: u16, text: &str) -> Result<()> {
        let ok = msg_type == AUDIT_USER
            || (AUDIT_FIRST_USER_MSG..=AUDIT_LAST_USER_MSG).contains(&msg_type)
            || (AUDIT_FIRST_USER_MSG2..=AUDIT_LAST_USER_MSG2).contains(&msg_type);
        if !ok {
            return Err(Error::Invalid(format!(
                "message type {msg_type} is not a user message type"
            )));
        }
        if text.len() >= AUDIT_MESSAGE_TEXT_MAX {
            return Err(Error::Invalid(format!(
                "user message of {} bytes, limit {}",
                text.len(),
                AUDIT_MESSAGE_TEXT_MAX - 1
            )));
        }
        let mut payload = text.as_bytes().to_vec();
        payload.push(0);
        self.sock
            .request("AUDIT_USER", msg_type, &payload, Expect::Ack)?;
        Ok(())
    }

    /// `AUDIT_GET_FEATURE`.
    pub fn features(&mut self) -> Result<AuditFeatures> {
        let replies = self.sock.request(
            "AUDIT_GET_FEATURE",
            AUDIT_GET_FEATURE,
            &[],
            Expect::One(AUDIT_GET_FEATURE),
        )?;
        let payload = replies
            .first()
            .ok_or_else(|| Error::malformed("AUDIT_GET_FEATURE reply", "ACK without data"))?;
        AuditFeatures::decode(payload)
    }

    /// `AUDIT_SET_FEATURE`: turn `feature` on or off; `lock` makes it permanent until reboot.
    pub fn set_feature(&mut self, feature: Feature, on: bool, lock: bool) -> Result<()> {
        let f = AuditFeatures {
            vers: AUDIT_FEATURE_VERSION,
            mask: feature.bit(),
            features: if on { feature.bit() } else { 0 },
            lock: if lock { feature.bit() } else { 0 },
        };
        self.sock.request(
            "AUDIT_SET_FEATURE",
            AUDIT_SET_FEATURE,
            &f.encode(),
            Expect::Ack,
        )?;
        Ok(())
    }

    /// `AUDIT_SIGNAL_INFO`: who last sent SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 to the audit daemon.
    pub fn signal_info(&mut self) -> Result<SignalInfo> {
        let replies = self.sock.request(
            "AUDIT_SIGNAL_INFO",
            AUDIT_SIGNAL_INFO,
            &[],
            Expect::One(AUDIT_SIGNAL_INFO),
        )?;
        let payload = replies
            .first()
            .ok_or_else(|| Error::malformed("AUDIT_SIGNAL_INFO reply", "ACK without data"))?;
        SignalInfo::decode(payload)
    }

    /// Registers this process as the audit daemon (`AUDIT_SET` pid): from now on the kernel
    /// sends every record to this socket. Fails with EEXIST while another daemon is alive.
    pub fn become_daemon(self) -> Result<AuditDaemon> {
        AuditDaemon::register(self)
    }
}
