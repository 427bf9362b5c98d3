//! The kernel audit netlink interface, in pure Rust over libc sockets.
//!
//! - [`AuditClient`]: status (`AUDIT_GET/SET`), rules (`AUDIT_LIST_RULES/ADD_RULE/DEL_RULE`,
//!   encoded from and decoded into `vigil_rules::ast::Rule`), user messages, features,
//!   signal info.
//! - [`AuditDaemon`]: this process registered as the audit daemon, receiving [`Record`]s.
//! - [`AuditReader`]: read-only multicast subscription to the same records.
//! - [`RuleData`]: the kernel's `struct audit_rule_data`, byte-exact.
//!
//! Every message from the kernel is length-checked; malformed input is an [`Error`],
//! never a panic.

mod client;
pub mod consts;
mod convert;
mod daemon;
mod error;
pub mod netlink;
mod reader;
mod record;
mod rule;
mod socket;
mod status;

pub use client::{AuditClient, Placement};
pub use convert::{comparison_number, decode_rule, encode_rule, field_from_number, field_number};
pub use daemon::AuditDaemon;
pub use error::{Error, Result};
pub use reader::AuditReader;
pub use record::{Record, Stamp};
pub use rule::{is_string_field, RawField, RawValue, RuleData};
pub use socket::AuditSocket;
pub use status::{AuditFeatures, AuditStatus, Feature, SignalInfo, StatusUpdate};
