//! `struct audit_rule_data` as bytes: the kernel's wire form of one filter rule.
//! This layer knows field numbers and lengths but nothing of vigil's rule model
//! (`convert.rs` maps between the two).

use crate::consts::{
    AUDIT_BITMASK_SIZE, AUDIT_FILTER_PREPEND, AUDIT_MAX_FIELDS, AUDIT_MAX_KEY_LEN, PATH_MAX,
    RULE_DATA_HEADER,
};
use crate::error::{Error, Result};
use crate::netlink::read_u32;

/// Kernel field numbers whose value is a string in `buf` (the value word holds its length).
pub fn is_string_field(field: u32) -> bool {
    // subj_user..subj_clr, obj_user..obj_lev_high, watch, dir, exe, filterkey.
    matches!(field, 13..=17 | 19..=23 | 105 | 107 | 112 | 210)
}

/// Longest string the kernel accepts for a string field.
fn max_string_len(field: u32) -> usize {
    if field == 210 {
        AUDIT_MAX_KEY_LEN
    } else {
        PATH_MAX
    }
}

/// A field's value on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RawValue {
    Num(u32),
    /// Raw bytes (not NUL-terminated on the wire).
    Str(Vec<u8>),
}

/// One `fields[i]` / `fieldflags[i]` / `values[i]` triple.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawField {
    /// `AUDIT_*` field number.
    pub field: u32,
    /// `AUDIT_EQUAL` etc.
    pub op: u32,
    pub value: RawValue,
}

/// A kernel rule (`struct audit_rule_data`), decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleData {
    /// Filter list number (`AUDIT_FILTER_*`), possibly or-ed with `AUDIT_FILTER_PREPEND`.
    pub flags: u32,
    /// `AUDIT_NEVER` (0) or `AUDIT_ALWAYS` (2).
    pub action: u32,
    /// Syscall bitmap (bit n of word n/32 = syscall n; top 16 bits are syscall classes).
    pub mask: [u32; AUDIT_BITMASK_SIZE],
    pub fields: Vec<RawField>,
}

impl RuleData {
    /// The list number without the prepend flag.
    pub fn list(&self) -> u32 {
        self.flags & !AUDIT_FILTER_PREPEND
    }

    /// Encodes the struct plus its string buffer, checking every limit the kernel checks.
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.fields.len() > AUDIT_MAX_FIELDS {
            return Err(Error::Invalid(format!(
                "{} fields, the kernel takes at most {AUDIT_MAX_FIELDS}",
                self.fields.len()
            )));
        }
        let mut fields = [0u32; AUDIT_MAX_FIELDS];
        let mut values = [0u32; AUDIT_MAX_FIELDS];
        let mut flags = [0u32; AUDIT_MAX_FIELDS];
        let mut buf = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            fields[i] = f.field;
            flags[i] = f.op;
            match (&f.value, is_string_field(f.field)) {
                (RawValue::Num(v), false) => values[i] = *v,
                (RawValue::Str(s), true) => {
                    let max = max_string_len(f.field);
                    if s.is_empty() || s.len() > max {
                        return Err(Error::Invalid(format!(
                            "field {} string of {} bytes, must be 1..={max}",
                            f.field,
                            s.len()
                        )));
                    }
                    values[i] = s.len() as u32;
                    buf.extend_from_slice(s);
                }
                (RawValue::Num(_), true) => {
                    return Err(Error::Invalid(format!(
                        "field {} takes a string, got a number",
                        f.field
                    )))
                }
                (RawValue::Str(_), false) => {
                    return Err(Error::Invalid(format!(
                        "field {} takes a number, got a string",
                        f.field
                    )))
                }
            }
        }
        let head = [self.flags, self.action, self.fields.len() as u32];
        let buflen = [buf.len() as u32];
        let words = head
            .iter()
            .chain(&self.mask)
            .chain(&fields)
            .chain(&values)
            .chain(&flags)
            .chain(&buflen);
        let mut out = Vec::with_capacity(RULE_DATA_HEADER + buf.len());
        for w in words {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decodes a rule from an `AUDIT_LIST_RULES` reply. Every count and length is checked
    /// against the bytes actually present.
    pub fn decode(payload: &[u8]) -> Result<RuleData> {
        let bad = |detail: String| Error::malformed("audit_rule_data", detail);
        if payload.len() < RULE_DATA_HEADER {
            return Err(bad(format!(
                "{} bytes, the fixed part alone is {RULE_DATA_HEADER}",
                payload.len()
            )));
        }
        let w = |i: usize| read_u32(payload, i * 4).unwrap_or(0);
        let field_count = w(2) as usize;
        if field_count > AUDIT_MAX_FIELDS {
            return Err(bad(format!(
                "field_count {field_count} > {AUDIT_MAX_FIELDS}"
            )));
        }
        let mut mask = [0u32; AUDIT_BITMASK_SIZE];
        for (i, m) in mask.iter_mut().enumerate() {
            *m = w(3 + i);
        }
        let fields_at = 3 + AUDIT_BITMASK_SIZE;
        let values_at = fields_at + AUDIT_MAX_FIELDS;
        let flags_at = values_at + AUDIT_MAX_FIELDS;
        let buflen = w(flags_at + AUDIT_MAX_FIELDS) as usize;
        let buf = &payload[RULE_DATA_HEADER..];
        if buflen > buf.len() {
            return Err(bad(format!(
                "buflen {buflen} but only {} bytes follow",
                buf.len()
            )));
        }
        let buf = &buf[..buflen];
        let mut used = 0usize;
        let mut fields = Vec::with_capacity(field_count);
        for i in 0..field_count {
            let field = w(fields_at + i);
            let value = w(values_at + i);
            let op = w(flags_at + i);
            let value = if is_string_field(field) {
                let len = value as usize;
                let s = used
                    .checked_add(len)
                    .and_then(|end| buf.get(used..end))
                    .ok_or_else(|| {
                        bad(format!(
                            "field {i} (#{field}) string of {len} bytes overruns buflen {buflen}"
                        ))
                    })?;
                used += len;
                RawValue::Str(s.to_vec())
            } else {
                RawValue::Num(value)
            };
            fields.push(RawField { field, op, value });
        }
        Ok(RuleData {
            flags: w(0),
            action: w(1),
            mask,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RuleData {
        let mut mask = [0u32; AUDIT_BITMASK_SIZE];
        mask[257 / 32] |= 1 << (257 % 32);
        RuleData {
            flags: 4,
            action: 2,
            mask,
            fields: vec![
                RawField {
                    field: 11,
                    op: 0x4000_0000,
                    value: RawValue::Num(0xc000_003e),
                },
                RawField {
                    field: 105,
                    op: 0x4000_0000,
                    value: RawValue::Str(b"/etc/passwd".to_vec()),
                },
                RawField {
                    field: 210,
                    op: 0x4000_0000,
                    value: RawValue::Str(b"identity".to_vec()),
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let r = sample();
        let bytes = r.encode().unwrap();
        assert_eq!(bytes.len(), RULE_DATA_HEADER + 19);
        assert_eq!(RuleData::decode(&bytes).unwrap(), r);
    }

    #[test]
    fn encode_checks_limits() {
        let mut r = sample();
        r.fields[2].value = RawValue::Str(vec![b'k'; AUDIT_MAX_KEY_LEN + 1]);
        assert!(r.encode().is_err());
        r.fields[2].value = RawValue::Num(1);
        assert!(r.encode().is_err());
        let mut r = sample();
        r.fields[0].value = RawValue::Str(b"x".to_vec());
        assert!(r.encode().is_err());
        let mut r = sample();
        r.fields = vec![r.fields[0].clone(); AUDIT_MAX_FIELDS + 1];
        assert!(r.encode().is_err());
    }

    #[test]
    fn decode_rejects_lies_without_panicking() {
        let bytes = sample().encode().unwrap();
        // Every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(RuleData::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        // field_count too large.
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&65u32.to_ne_bytes());
        assert!(RuleData::decode(&b).is_err());
        // A string length running past buflen.
        let mut b = bytes.clone();
        let values_at = 4 * (3 + AUDIT_BITMASK_SIZE + AUDIT_MAX_FIELDS);
        b[values_at + 4..values_at + 8].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(RuleData::decode(&b).is_err());
    }
}
