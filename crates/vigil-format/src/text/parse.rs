//! One line of audit text -> identity + record. Never panics; values that would not be
//! written back byte for byte are kept verbatim ([`Value::Text`]), so reading is lossless.

use crate::escape::{decode_hex, parse_dec, parse_hex, parse_oct, parse_sdec};
use crate::model::{Field, FieldName, Identity, Record, Value};
use crate::tables::{rt, Encoding, FieldId, RecordType};
use crate::text::writer::{push_value, ENRICH_SEP};

/// Why a line is not an audit record, and the byte offset where that was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub column: usize,
    pub problem: &'static str,
}

fn err(column: usize, problem: &'static str) -> LineError {
    LineError {
        column: column + 1,
        problem,
    }
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<(Identity, Record), LineError> {
    let mut scratch = Vec::new();
    parse_line_with(line, &mut scratch)
}

/// As [`parse_line`], with a caller's scratch buffer (used to check canonical forms).
pub fn parse_line_with(
    line: &[u8],
    scratch: &mut Vec<u8>,
) -> Result<(Identity, Record), LineError> {
    let mut pos = 0;
    let mut node = None;
    if let Some(rest) = line.strip_prefix(b"node=") {
        let end = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or(err(5, "node= without a following type="))?;
        node = Some(String::from_utf8_lossy(&rest[..end]).into_owned());
        pos = 5 + end + 1;
    }
    let rest = &line[pos..];
    let rest = rest
        .strip_prefix(b"type=")
        .ok_or(err(pos, "expected type="))?;
    pos += 5;
    let end = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or(err(pos, "expected a space after the type"))?;
    let tname = &rest[..end];
    if tname.is_empty() {
        return Err(err(pos, "empty type name"));
    }
    let (rtype, type_name) = match RecordType::from_name(tname) {
        Some(t) => (t, None),
        None => (
            RecordType(0),
            Some(String::from_utf8_lossy(tname).into_owned()),
        ),
    };
    pos += end + 1;
    let rest = &line[pos..];
    let rest = rest
        .strip_prefix(b"msg=audit(")
        .ok_or(err(pos, "expected msg=audit("))?;
    pos += 10;
    let close = rest
        .iter()
        .position(|&b| b == b')')
        .ok_or(err(pos, "msg=audit( without )"))?;
    let stamp = &rest[..close];
    let (sec, msec, serial) =
        parse_stamp(stamp).ok_or(err(pos, "bad timestamp, want SEC.MSEC:SERIAL"))?;
    pos += close + 1;
    let rest = &line[pos..];
    let rest = rest
        .strip_prefix(b":")
        .ok_or(err(pos, "expected ): after the timestamp"))?;
    pos += 1;
    let body_start = pos + usize::from(rest.first() == Some(&b' '));
    let body = &line[body_start..];
    let (raw_part, enriched_part) = match body.iter().position(|&b| b == ENRICH_SEP) {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    let mut rec = Record {
        rtype,
        type_name,
        fields: Vec::with_capacity(24),
        enriched: Vec::new(),
    };
    parse_fields(raw_part, rtype, false, &mut rec.fields, scratch);
    if let Some(e) = enriched_part {
        parse_fields(e, rtype, true, &mut rec.enriched, scratch);
    }
    let id = Identity {
        sec,
        msec,
        serial,
        node,
    };
    Ok((id, rec))
}

fn parse_stamp(s: &[u8]) -> Option<(u64, u16, u64)> {
    let dot = s.iter().position(|&b| b == b'.')?;
    let colon = s.iter().position(|&b| b == b':')?;
    if colon < dot {
        return None;
    }
    let sec = parse_dec(&s[..dot])?;
    let ms_text = &s[dot + 1..colon];
    if ms_text.len() != 3 {
        return None;
    }
    let msec = parse_dec(ms_text)? as u16;
    let serial = parse_dec(&s[colon + 1..])?;
    Some((sec, msec, serial))
}

/// Splits `text` into fields. `enriched`: the part after 0x1D (names are free-form there).
fn parse_fields(
    text: &[u8],
    rtype: RecordType,
    enriched: bool,
    out: &mut Vec<Field>,
    scratch: &mut Vec<u8>,
) {
    let mut i = 0;
    let n = text.len();
    while i < n {
        if text[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && text[i] != b' ' && text[i] != b'=' {
            i += 1;
        }
        let name = &text[start..i];
        if i >= n || text[i] == b' ' {
            out.push(Field {
                name: FieldName::Bare(String::from_utf8_lossy(name).into_owned()),
                value: Value::Text(Vec::new()),
            });
            continue;
        }
        i += 1; // '='
        let vstart = i;
        match text.get(i) {
            Some(b'"') => {
                i += 1;
                while i < n && text[i] != b'"' {
                    i += 1;
                }
                i = (i + 1).min(n);
                // A quoted value runs to its closing quote; anything glued after it belongs too.
                while i < n && text[i] != b' ' {
                    i += 1;
                }
            }
            Some(b'\'') if name == b"msg" => {
                // User text: to the last quote of the line (it may hold spaces and quotes).
                i = text[i + 1..]
                    .iter()
                    .rposition(|&b| b == b'\'')
                    .map_or(n, |p| i + 1 + p + 1);
                while i < n && text[i] != b' ' {
                    i += 1;
                }
            }
            Some(b'{') if enriched => {
                i = text[i..]
                    .iter()
                    .position(|&b| b == b'}')
                    .map_or(n, |p| i + p + 1);
            }
            _ => {
                while i < n && text[i] != b' ' {
                    i += 1;
                }
            }
        }
        let raw = &text[vstart..i];
        let (fname, value) = if enriched {
            (
                FieldName::Other(String::from_utf8_lossy(name).into_owned()),
                parse_unknown(raw),
            )
        } else {
            typed(name, raw, rtype)
        };
        let value = canonical_or_text(value, raw, scratch);
        out.push(Field { name: fname, value });
    }
}

/// Keeps `value` only if writing it back gives exactly `raw`.
pub(crate) fn canonical_or_text(value: Value, raw: &[u8], scratch: &mut Vec<u8>) -> Value {
    // Cheap answers for the common kinds; the rest are rendered and compared.
    match &value {
        Value::Text(_) | Value::Null => return value,
        Value::Dec(_) if raw.len() == 1 || raw[0] != b'0' => return value,
        Value::Tok(_) if !raw.iter().any(|&b| b == b'\r' || b == 0 || b == b'\t') => return value,
        Value::Str(inner) if raw.first() == Some(&b'"') => {
            return if crate::escape::needs_hex(inner) {
                Value::Text(raw.to_vec())
            } else {
                value
            };
        }
        _ => {}
    }
    scratch.clear();
    push_value(scratch, &value);
    if scratch.as_slice() == raw {
        value
    } else {
        Value::Text(raw.to_vec())
    }
}

fn unquote(raw: &[u8], q: u8) -> Option<&[u8]> {
    if raw.len() >= 2 && raw[0] == q && raw[raw.len() - 1] == q {
        Some(&raw[1..raw.len() - 1])
    } else {
        None
    }
}

fn parse_unknown(raw: &[u8]) -> Value {
    match unquote(raw, b'"') {
        Some(inner) => Value::Str(inner.to_vec()),
        None => Value::Text(raw.to_vec()),
    }
}

/// EXECVE names: `aN`, `aN_len`, `aN[i]`.
fn exec_name(name: &[u8]) -> Option<FieldName> {
    let rest = name.strip_prefix(b"a")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let idx = parse_dec(&rest[..digits])? as u32;
    let tail = &rest[digits..];
    if tail.is_empty() {
        return Some(FieldName::Arg(idx));
    }
    if tail == b"_len" {
        return Some(FieldName::ArgLen(idx));
    }
    let inner = tail.strip_prefix(b"[")?.strip_suffix(b"]")?;
    if inner.is_empty() || inner.len() > 9 {
        return None;
    }
    Some(FieldName::ArgPart(idx, parse_dec(inner)? as u32))
}

pub(crate) fn typed(name: &[u8], raw: &[u8], rtype: RecordType) -> (FieldName, Value) {
    if rtype == rt::EXECVE {
        if let Some(fname) = exec_name(name) {
            let value = match fname {
                FieldName::ArgLen(_) => {
                    parse_dec(raw).map_or_else(|| Value::Text(raw.to_vec()), Value::Dec)
                }
                FieldName::ArgPart(..) => match unquote(raw, b'"') {
                    Some(inner) => Value::Str(inner.to_vec()),
                    None => {
                        decode_hex(raw).map_or_else(|| Value::Text(raw.to_vec()), Value::HexBytes)
                    }
                },
                _ => parse_str(raw),
            };
            return (fname, value);
        }
    }
    let Some(id) = FieldId::from_name(name) else {
        return (
            FieldName::Other(String::from_utf8_lossy(name).into_owned()),
            parse_unknown(raw),
        );
    };
    let text = || Value::Text(raw.to_vec());
    let value = match id.def().encoding {
        Encoding::Dec => parse_dec(raw).map_or_else(text, Value::Dec),
        Encoding::SDec => parse_sdec(raw).map_or_else(text, Value::SDec),
        Encoding::Hex => parse_hex(raw).map_or_else(text, Value::Hex),
        Encoding::Cap => parse_hex(raw).map_or_else(text, Value::Cap),
        Encoding::Oct => parse_oct(raw).map_or_else(text, Value::Oct),
        Encoding::Dev => parse_dev(raw).map_or_else(text, |(a, b)| Value::Dev(a, b)),
        Encoding::Str => parse_str(raw),
        Encoding::HexBytes => decode_hex(raw).map_or_else(text, Value::HexBytes),
        Encoding::Tok => match std::str::from_utf8(raw) {
            Ok(s) if !s.starts_with('"') => Value::Tok(intern(s)),
            _ => text(),
        },
        Encoding::Msg => match unquote(raw, b'\'') {
            Some(inner) => Value::Msg(inner.to_vec()),
            None => decode_hex(raw).map_or_else(text, Value::Msg),
        },
    };
    (FieldName::Known(id), value)
}

/// Common bare words without an allocation.
fn intern(s: &str) -> std::borrow::Cow<'static, str> {
    const WORDS: &[&str] = &[
        "yes", "no", "NORMAL", "PARENT", "CREATE", "DELETE", "UNKNOWN", "(none)", "success",
        "failed", "?", "inline", "sqpoll", "iowq",
    ];
    match WORDS.iter().find(|w| **w == s) {
        Some(w) => std::borrow::Cow::Borrowed(w),
        None => std::borrow::Cow::Owned(s.to_string()),
    }
}

fn parse_str(raw: &[u8]) -> Value {
    if raw == b"(null)" {
        return Value::Null;
    }
    match unquote(raw, b'"') {
        Some(inner) => Value::Str(inner.to_vec()),
        None => decode_hex(raw).map_or_else(|| Value::Text(raw.to_vec()), Value::Str),
    }
}

fn parse_dev(raw: &[u8]) -> Option<(u32, u32)> {
    let c = raw.iter().position(|&b| b == b':')?;
    let a = u32::try_from(parse_hex(&raw[..c])?).ok()?;
    let b = u32::try_from(parse_hex(&raw[c + 1..])?).ok()?;
    Some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::f;

    #[test]
    fn parses_a_kernel_line() {
        let line = b"node=h1 type=PATH msg=audit(1700000000.123:42): item=0 name=\"/etc/passwd\" inode=12 dev=fd:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0";
        let (id, r) = parse_line(line).unwrap();
        assert_eq!(
            id,
            Identity {
                sec: 1_700_000_000,
                msec: 123,
                serial: 42,
                node: Some("h1".into())
            }
        );
        assert_eq!(r.rtype, rt::PATH);
        assert_eq!(r.get(f::NAME), Some(&Value::Str(b"/etc/passwd".to_vec())));
        assert_eq!(r.get(f::DEV), Some(&Value::Dev(0xfd, 1)));
        assert_eq!(r.get(f::MODE), Some(&Value::Oct(0o100_644)));
    }

    #[test]
    fn odd_values_stay_verbatim() {
        let (_, r) = parse_line(
            b"type=SYSCALL msg=audit(1.000:1): syscall=007 exe=? key=(null) foo=\"a b\" bare",
        )
        .unwrap();
        assert_eq!(r.get(f::SYSCALL), Some(&Value::Text(b"007".to_vec())));
        assert_eq!(r.get(f::EXE), Some(&Value::Text(b"?".to_vec())));
        assert_eq!(r.get(f::KEY), Some(&Value::Null));
        assert_eq!(
            r.get_by_name("foo"),
            Some(&Value::Text(b"\"a b\"".to_vec()))
        );
        assert!(matches!(r.fields.last().unwrap().name, FieldName::Bare(_)));
    }

    #[test]
    fn rejects_garbage_with_a_column() {
        assert_eq!(parse_line(b"hello").unwrap_err().column, 1);
        assert!(parse_line(b"type=X msg=audit(1.1:2): a=b").is_err());
        assert!(parse_line(b"type=X msg=audit(1.001:x): a=b").is_err());
        assert!(parse_line(b"type=X msg=audit(1.001:2) a=b").is_err());
    }
}
