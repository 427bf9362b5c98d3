//! `struct audit_status` (`AUDIT_GET` / `AUDIT_SET`) and `struct audit_features`.

use crate::consts::{
    AUDIT_STATUS_BACKLOG_LIMIT, AUDIT_STATUS_BACKLOG_WAIT_TIME, AUDIT_STATUS_ENABLED,
    AUDIT_STATUS_FAILURE, AUDIT_STATUS_PID, AUDIT_STATUS_RATE_LIMIT,
};
use crate::error::{Error, Result};
use crate::netlink::read_u32;

/// Number of u32 words in the kernel's current `struct audit_status`.
const STATUS_WORDS: usize = 11;
/// Older kernels send fewer words; these eight have existed since the beginning.
const STATUS_MIN_WORDS: usize = 8;

/// The kernel's audit state as `auditctl -s` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditStatus {
    pub mask: u32,
    /// 0 disabled, 1 enabled, 2 enabled and locked until reboot.
    pub enabled: u32,
    /// 0 silent, 1 printk, 2 panic.
    pub failure: u32,
    /// Process id of the audit daemon, 0 when none.
    pub pid: u32,
    pub rate_limit: u32,
    pub backlog_limit: u32,
    pub lost: u32,
    pub backlog: u32,
    /// `AUDIT_FEATURE_BITMAP_*` bits (the old `version` field).
    pub feature_bitmap: u32,
    pub backlog_wait_time: u32,
    pub backlog_wait_time_actual: u32,
}

impl AuditStatus {
    /// Decodes an `AUDIT_GET` reply. Shorter structs from older kernels leave the later
    /// fields 0; anything shorter than the original eight words is malformed.
    pub fn decode(payload: &[u8]) -> Result<AuditStatus> {
        if payload.len() < STATUS_MIN_WORDS * 4 {
            return Err(Error::malformed(
                "audit_status",
                format!(
                    "{} bytes, need at least {}",
                    payload.len(),
                    STATUS_MIN_WORDS * 4
                ),
            ));
        }
        let w = |i: usize| read_u32(payload, i * 4).unwrap_or(0);
        Ok(AuditStatus {
            mask: w(0),
            enabled: w(1),
            failure: w(2),
            pid: w(3),
            rate_limit: w(4),
            backlog_limit: w(5),
            lost: w(6),
            backlog: w(7),
            feature_bitmap: w(8),
            backlog_wait_time: w(9),
            backlog_wait_time_actual: w(10),
        })
    }

    /// Encodes the full struct (the kernel reads only what `mask` selects).
    pub fn encode(&self) -> Vec<u8> {
        let words: [u32; STATUS_WORDS] = [
            self.mask,
            self.enabled,
            self.failure,
            self.pid,
            self.rate_limit,
            self.backlog_limit,
            self.lost,
            self.backlog,
            self.feature_bitmap,
            self.backlog_wait_time,
            self.backlog_wait_time_actual,
        ];
        words.iter().flat_map(|w| w.to_ne_bytes()).collect()
    }

    /// True when the configuration is locked until reboot (`auditctl -e 2`).
    pub fn is_immutable(&self) -> bool {
        self.enabled == 2
    }
}

/// The settable part of the status (`AUDIT_SET`); `None` leaves a value unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusUpdate {
    pub enabled: Option<u32>,
    pub failure: Option<u32>,
    pub pid: Option<u32>,
    pub rate_limit: Option<u32>,
    pub backlog_limit: Option<u32>,
    pub backlog_wait_time: Option<u32>,
}

impl StatusUpdate {
    /// The `AUDIT_SET` payload: mask bits for the fields present.
    pub fn to_status(&self) -> AuditStatus {
        let mut s = AuditStatus::default();
        let mut set = |v: Option<u32>, bit: u32, slot: &mut u32| {
            if let Some(v) = v {
                s.mask |= bit;
                *slot = v;
            }
        };
        set(self.enabled, AUDIT_STATUS_ENABLED, &mut s.enabled);
        set(self.failure, AUDIT_STATUS_FAILURE, &mut s.failure);
        set(self.pid, AUDIT_STATUS_PID, &mut s.pid);
        set(self.rate_limit, AUDIT_STATUS_RATE_LIMIT, &mut s.rate_limit);
        set(
            self.backlog_limit,
            AUDIT_STATUS_BACKLOG_LIMIT,
            &mut s.backlog_limit,
        );
        set(
            self.backlog_wait_time,
            AUDIT_STATUS_BACKLOG_WAIT_TIME,
            &mut s.backlog_wait_time,
        );
        s
    }

    pub fn is_empty(&self) -> bool {
        *self == StatusUpdate::default()
    }
}

/// Kernel audit features (`struct audit_features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditFeatures {
    pub vers: u32,
    pub mask: u32,
    /// Bit per feature: set when on.
    pub features: u32,
    /// Bit per feature: set when locked (cannot change until reboot).
    pub lock: u32,
}

/// The features the kernel knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// `only_unset_loginuid`: loginuid may only be set when unset.
    OnlyUnsetLoginuid,
    /// `loginuid_immutable` (`auditctl --loginuid-immutable`).
    LoginuidImmutable,
}

impl Feature {
    pub fn bit(self) -> u32 {
        let n = match self {
            Feature::OnlyUnsetLoginuid => crate::consts::AUDIT_FEATURE_ONLY_UNSET_LOGINUID,
            Feature::LoginuidImmutable => crate::consts::AUDIT_FEATURE_LOGINUID_IMMUTABLE,
        };
        1 << n
    }
}

impl AuditFeatures {
    pub fn decode(payload: &[u8]) -> Result<AuditFeatures> {
        let w = |i: usize| {
            read_u32(payload, i * 4).ok_or_else(|| {
                Error::malformed(
                    "audit_features",
                    format!("{} bytes, need 16", payload.len()),
                )
            })
        };
        Ok(AuditFeatures {
            vers: w(0)?,
            mask: w(1)?,
            features: w(2)?,
            lock: w(3)?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        [self.vers, self.mask, self.features, self.lock]
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .collect()
    }

    pub fn is_on(&self, f: Feature) -> bool {
        self.features & f.bit() != 0
    }

    pub fn is_locked(&self, f: Feature) -> bool {
        self.lock & f.bit() != 0
    }
}

/// Who last signalled the audit daemon (`AUDIT_SIGNAL_INFO`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalInfo {
    /// Login uid of the sender; `u32::MAX` when unset or never signalled.
    pub uid: u32,
    /// Sender pid; -1 when never signalled.
    pub pid: i32,
    /// LSM context of the sender, when the kernel has one.
    pub context: Option<String>,
}

impl SignalInfo {
    pub fn decode(payload: &[u8]) -> Result<SignalInfo> {
        let (Some(uid), Some(pid)) = (read_u32(payload, 0), read_u32(payload, 4)) else {
            return Err(Error::malformed(
                "audit_sig_info",
                format!("{} bytes, need 8", payload.len()),
            ));
        };
        let ctx = &payload[8..];
        let ctx = ctx.split(|&b| b == 0).next().unwrap_or_default();
        Ok(SignalInfo {
            uid,
            pid: pid as i32,
            context: (!ctx.is_empty()).then(|| String::from_utf8_lossy(ctx).into_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trip_and_short_structs() {
        let s = AuditStatus {
            mask: 1,
            enabled: 1,
            failure: 1,
            pid: 77,
            rate_limit: 5,
            backlog_limit: 8192,
            lost: 3,
            backlog: 2,
            feature_bitmap: 0x7f,
            backlog_wait_time: 60000,
            backlog_wait_time_actual: 9,
        };
        let bytes = s.encode();
        assert_eq!(bytes.len(), 44);
        assert_eq!(AuditStatus::decode(&bytes).unwrap(), s);
        let old = AuditStatus::decode(&bytes[..32]).unwrap();
        assert_eq!(old.backlog, 2);
        assert_eq!(old.feature_bitmap, 0);
        assert!(AuditStatus::decode(&bytes[..31]).is_err());
    }

    #[test]
    fn update_sets_only_named_fields() {
        let u = StatusUpdate {
            backlog_limit: Some(320),
            pid: Some(0),
            ..StatusUpdate::default()
        };
        let s = u.to_status();
        assert_eq!(s.mask, AUDIT_STATUS_BACKLOG_LIMIT | AUDIT_STATUS_PID);
        assert_eq!(s.backlog_limit, 320);
        assert!(StatusUpdate::default().is_empty());
    }

    #[test]
    fn features_and_signal_info() {
        let f = AuditFeatures {
            vers: 1,
            mask: 2,
            features: 2,
            lock: 0,
        };
        let d = AuditFeatures::decode(&f.encode()).unwrap();
        assert!(d.is_on(Feature::LoginuidImmutable));
        assert!(!d.is_on(Feature::OnlyUnsetLoginuid));
        assert!(AuditFeatures::decode(&[0; 15]).is_err());
        let mut p = Vec::new();
        p.extend_from_slice(&1000u32.to_ne_bytes());
        p.extend_from_slice(&(-1i32).to_ne_bytes());
        let si = SignalInfo::decode(&p).unwrap();
        assert_eq!((si.uid, si.pid, si.context), (1000, -1, None));
        p.extend_from_slice(b"unconfined\0");
        assert_eq!(
            SignalInfo::decode(&p).unwrap().context.as_deref(),
            Some("unconfined")
        );
        assert!(SignalInfo::decode(&p[..7]).is_err());
    }
}
