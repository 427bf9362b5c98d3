//! Record types and fields, generated from `data/*.txt` by `build.rs`.

use std::fmt;

/// An audit record type number (`type=NAME` in text).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct RecordType(pub u32);

/// One row of the record type table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTypeDef {
    pub number: u32,
    pub name: &'static str,
    /// May occur several times in one event (JSON writes an array).
    pub many: bool,
    /// Part of a multi-record event although its number alone would close the event.
    pub aux: bool,
    /// Defined by vigil, not by the kernel or audit-userspace.
    pub vigil: bool,
}

/// How a field's value is written in audit text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Dec,
    SDec,
    Hex,
    Cap,
    Oct,
    Dev,
    Str,
    HexBytes,
    Tok,
    Msg,
}

/// What a field's value means, for ENRICHED text and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interp {
    None,
    Uid,
    Gid,
    Arch,
    Syscall,
    Saddr,
    UringOp,
}

/// Index into [`FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u16);

/// One row of the field table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    /// `" name="`: what the writer appends before the value (one copy per field).
    pub sep_name_eq: &'static str,
    /// `"name":`: the member name in JSON.
    pub json_key: &'static str,
    /// Name of the interpreted value in ENRICHED text (`UID`, `ARCH`, ...).
    pub upper: &'static str,
    pub encoding: Encoding,
    pub interp: Interp,
}

include!(concat!(env!("OUT_DIR"), "/tables.rs"));

impl RecordType {
    pub fn def(self) -> Option<&'static RecordTypeDef> {
        record_type_index(self.0).map(|i| &RECORD_TYPES[i])
    }

    /// The name written after `type=`; `None` for types vigil has no name for. Types without
    /// a row here (no flags needed) take their name from vigil-rules' message type table.
    pub fn name(self) -> Option<&'static str> {
        self.def()
            .map(|d| d.name)
            .or_else(|| vigil_rules::tables::msgtype_name(self.0))
    }

    /// Parses `SYSCALL`, `UNKNOWN[1300]` or a bare number.
    pub fn from_name(name: &[u8]) -> Option<RecordType> {
        if let Some(n) = record_type_by_name_exact(name) {
            return Some(RecordType(n));
        }
        if let Some(n) = std::str::from_utf8(name)
            .ok()
            .filter(|s| {
                s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            })
            .and_then(vigil_rules::tables::msgtype_number)
        {
            return Some(RecordType(n));
        }
        let inner = name
            .strip_prefix(b"UNKNOWN[")
            .and_then(|r| r.strip_suffix(b"]"))
            .unwrap_or(name);
        crate::escape::parse_dec(inner)
            .and_then(|n| u32::try_from(n).ok())
            .map(RecordType)
    }

    /// Whether a record of this type ends its event (the rule auparse applies: PROCTITLE, EOE,
    /// user and daemon messages, kernel anomaly and later ranges), unless the table marks the
    /// type as an auxiliary record.
    pub fn closes_event(self) -> bool {
        if self.def().is_some_and(|d| d.aux) {
            return false;
        }
        let t = self.0;
        t == rt::PROCTITLE.0
            || t == rt::EOE.0
            || (t > rt::LOGIN.0 && t < rt::SYSCALL.0)
            || t == rt::USER.0
            || t >= 2100
            || t == rt::KERNEL.0
            || (1414..=1419).contains(&t)
    }

    /// Whether several records of this type may occur in one event.
    pub fn many(self) -> bool {
        self.def().is_none_or(|d| d.many)
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "UNKNOWN[{}]", self.0),
        }
    }
}

impl FieldId {
    pub fn def(self) -> &'static FieldDef {
        &FIELDS[self.0 as usize]
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }

    pub fn from_name(name: &[u8]) -> Option<FieldId> {
        field_index(name).map(FieldId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_types_agree_with_vigil_rules_table() {
        // Where both tables name a type, the names agree. (Some kernel types, REPLACE and
        // DM_*, are missing from auditd 3.0.9's table; vigil's 3000-3002 are vigil's.)
        for d in RECORD_TYPES {
            if let Some(theirs) = vigil_rules::tables::msgtype_name(d.number) {
                assert_eq!(theirs, d.name, "type {}", d.number);
            }
        }
        // Names only the larger table knows still parse and print.
        let t = RecordType::from_name(b"VIRT_MACHINE_ID").expect("from vigil-rules");
        assert_eq!(t.name(), Some("VIRT_MACHINE_ID"));
        assert_eq!(
            RecordType::from_name(b"UNKNOWN[1400]"),
            Some(RecordType(1400))
        );
        assert_eq!(RecordType(3001).to_string(), "VIGIL_LOSS");
        assert_eq!(RecordType(2999).to_string(), "UNKNOWN[2999]");
        assert!(
            rt::PROCTITLE.closes_event()
                && !rt::CONTAINER_ID.closes_event()
                && rt::VIGIL_LOSS.closes_event()
        );
    }
}
