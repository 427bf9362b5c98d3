//! The record model: an event is an identity and its records in order; a record is a type and
//! its fields in order; a field's value keeps its kind so it is written back byte for byte.

use std::borrow::Cow;

use crate::tables::{f, rt, Encoding, FieldId, RecordType};

/// `audit(SEC.MSEC:SERIAL)` plus the optional `node=` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Identity {
    pub sec: u64,
    /// 0..=999.
    pub msec: u16,
    pub serial: u64,
    pub node: Option<String>,
}

impl Identity {
    pub fn new(sec: u64, msec: u16, serial: u64) -> Identity {
        Identity {
            sec,
            msec,
            serial,
            node: None,
        }
    }

    /// From a realtime timestamp in nanoseconds.
    pub fn from_ns(ts_ns: u64, serial: u64) -> Identity {
        Identity::new(
            ts_ns / 1_000_000_000,
            ((ts_ns / 1_000_000) % 1000) as u16,
            serial,
        )
    }

    /// Milliseconds since the epoch.
    pub fn millis(&self) -> u64 {
        self.sec
            .saturating_mul(1000)
            .saturating_add(u64::from(self.msec))
    }
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    pub id: Identity,
    pub records: Vec<Record>,
}

/// One record (one line of audit text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub rtype: RecordType,
    /// The type's name as read, only when it is neither in vigil's table nor `UNKNOWN[n]`
    /// (then `rtype` is 0).
    pub type_name: Option<String>,
    pub fields: Vec<Field>,
    /// Interpreted fields of ENRICHED text (after 0x1D), as read; empty otherwise.
    pub enriched: Vec<Field>,
}

/// A field: name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: FieldName,
    pub value: Value,
}

/// A field's name. EXECVE argument names are structured so no string is built for them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldName {
    Known(FieldId),
    /// EXECVE `aN`.
    Arg(u32),
    /// EXECVE `aN_len`.
    ArgLen(u32),
    /// EXECVE `aN[i]`.
    ArgPart(u32, u32),
    /// Any other name, as read (never contains a space, `=` or a control byte).
    Other(String),
    /// A word without `=` (as in `SELinux` AVC text); written alone, its value is ignored.
    Bare(String),
}

/// A field's value with the kind that decides how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Unsigned decimal.
    Dec(u64),
    /// Signed decimal.
    SDec(i64),
    /// Lowercase hex without prefix (`arch=c000003e`, `a0=7ffd...`).
    Hex(u64),
    /// Capability set: `0`, else 16 hex digits.
    Cap(u64),
    /// Octal with a leading zero (`mode=0100644`).
    Oct(u32),
    /// `major:minor`, each at least two hex digits.
    Dev(u32, u32),
    /// Untrusted string: quoted when safe, else uppercase hex.
    Str(Vec<u8>),
    /// `(null)`: an absent untrusted string.
    Null,
    /// Bytes always written as uppercase hex (`saddr=`).
    HexBytes(Vec<u8>),
    /// Bare word (`yes`, `NORMAL`, `pts0`, `(none)`).
    Tok(Cow<'static, str>),
    /// User text written as `'...'` (USER messages' `msg=`).
    Msg(Vec<u8>),
    /// Text kept verbatim (a field vigil does not know, or a value its table did not expect).
    Text(Vec<u8>),
}

impl Value {
    pub fn tok(s: &'static str) -> Value {
        Value::Tok(Cow::Borrowed(s))
    }

    /// An untrusted string, or `(null)` when absent.
    pub fn opt_str(s: Option<&[u8]>) -> Value {
        s.map_or(Value::Null, |b| Value::Str(b.to_vec()))
    }

    /// The value as an unsigned number, when it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Dec(n) | Value::Hex(n) | Value::Cap(n) => Some(n),
            Value::SDec(n) => u64::try_from(n).ok(),
            Value::Oct(n) => Some(u64::from(n)),
            _ => None,
        }
    }

    /// The value as a signed number, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::SDec(n) => Some(n),
            Value::Dec(n) | Value::Hex(n) | Value::Cap(n) => i64::try_from(n).ok(),
            Value::Oct(n) => Some(i64::from(n)),
            _ => None,
        }
    }

    /// The bytes of a string-like value (decoded untrusted string, token, text).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(b) | Value::HexBytes(b) | Value::Msg(b) | Value::Text(b) => Some(b),
            Value::Tok(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// Whether this value kind is what the table's encoding produces.
    pub fn matches_encoding(&self, enc: Encoding) -> bool {
        matches!(
            (self, enc),
            (Value::Dec(_), Encoding::Dec)
                | (Value::SDec(_), Encoding::SDec)
                | (Value::Hex(_), Encoding::Hex)
                | (Value::Cap(_), Encoding::Cap)
                | (Value::Oct(_), Encoding::Oct)
                | (Value::Dev(..), Encoding::Dev)
                | (Value::Str(_) | Value::Null, Encoding::Str)
                | (Value::HexBytes(_), Encoding::HexBytes)
                | (Value::Tok(_), Encoding::Tok)
                | (Value::Msg(_), Encoding::Msg)
                | (Value::Text(_), _)
        )
    }
}

impl Field {
    pub fn new(id: FieldId, value: Value) -> Field {
        Field {
            name: FieldName::Known(id),
            value,
        }
    }
}

impl FieldName {
    /// Appends the name as written in audit text.
    pub fn push_to(&self, out: &mut Vec<u8>) {
        match self {
            FieldName::Known(id) => out.extend_from_slice(id.name().as_bytes()),
            FieldName::Arg(i) => {
                out.push(b'a');
                crate::escape::push_u64(out, u64::from(*i));
            }
            FieldName::ArgLen(i) => {
                out.push(b'a');
                crate::escape::push_u64(out, u64::from(*i));
                out.extend_from_slice(b"_len");
            }
            FieldName::ArgPart(i, j) => {
                out.push(b'a');
                crate::escape::push_u64(out, u64::from(*i));
                out.push(b'[');
                crate::escape::push_u64(out, u64::from(*j));
                out.push(b']');
            }
            FieldName::Other(s) | FieldName::Bare(s) => out.extend_from_slice(s.as_bytes()),
        }
    }

    /// The name as a string (allocates for EXECVE names).
    pub fn to_text(&self) -> Cow<'static, str> {
        match self {
            FieldName::Known(id) => Cow::Borrowed(id.name()),
            other => {
                let mut v = Vec::new();
                other.push_to(&mut v);
                Cow::Owned(String::from_utf8_lossy(&v).into_owned())
            }
        }
    }
}

impl Record {
    pub fn new(rtype: RecordType) -> Record {
        Record {
            rtype,
            type_name: None,
            fields: Vec::new(),
            enriched: Vec::new(),
        }
    }

    pub fn with_fields(rtype: RecordType, fields: Vec<Field>) -> Record {
        Record {
            rtype,
            type_name: None,
            fields,
            enriched: Vec::new(),
        }
    }

    pub fn push(&mut self, id: FieldId, value: Value) {
        self.fields.push(Field::new(id, value));
    }

    /// First value of a known field.
    pub fn get(&self, id: FieldId) -> Option<&Value> {
        self.fields
            .iter()
            .find(|fl| fl.name == FieldName::Known(id))
            .map(|fl| &fl.value)
    }

    /// First value of a field by its text name.
    pub fn get_by_name(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|fl| fl.name.to_text() == name)
            .map(|fl| &fl.value)
    }

    /// Type name as written (`SYSCALL`, `UNKNOWN[1400]`, or the unknown name read).
    pub fn type_text(&self) -> Cow<'_, str> {
        if let Some(n) = &self.type_name {
            return Cow::Borrowed(n);
        }
        match self.rtype.name() {
            Some(n) => Cow::Borrowed(n),
            None => Cow::Owned(format!("UNKNOWN[{}]", self.rtype.0)),
        }
    }
}

impl Event {
    pub fn first(&self, rtype: RecordType) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.rtype == rtype && r.type_name.is_none())
    }

    /// The record that describes the action: SYSCALL, URINGOP, or the first record.
    pub fn main_record(&self) -> Option<&Record> {
        self.first(rt::SYSCALL)
            .or_else(|| self.first(rt::URINGOP))
            .or(self.records.first())
    }

    /// The event's keys (the `key=` of its main record split at 0x01); empty for `(null)`.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self.main_record().and_then(|r| r.get(f::KEY)) {
            Some(Value::Str(b)) => b.split(|&c| c == 1).collect(),
            _ => Vec::new(),
        }
    }

    /// The command line reassembled from the EXECVE records (`aN`, `aN[i]` parts joined).
    pub fn execve_argv(&self) -> Vec<Vec<u8>> {
        let mut argv: Vec<Vec<u8>> = Vec::new();
        for r in self.records.iter().filter(|r| r.rtype == rt::EXECVE) {
            for fl in &r.fields {
                let (i, part) = match fl.name {
                    FieldName::Arg(i) => (i as usize, false),
                    FieldName::ArgPart(i, _) => (i as usize, true),
                    _ => continue,
                };
                // Bound the index by what was actually seen, so a hostile aN cannot allocate.
                if i > argv.len() {
                    continue;
                }
                if i == argv.len() {
                    argv.push(Vec::new());
                }
                let bytes = fl.value.as_bytes().unwrap_or_default();
                if part {
                    argv[i].extend_from_slice(bytes);
                } else {
                    argv[i] = bytes.to_vec();
                }
            }
        }
        argv
    }
}
