//! Reads vigil's JSON lines back into the model.

use std::io::BufRead;

use crate::builder::execve_records;
use crate::error::{Error, Snippet};
use crate::escape::decode_hex;
use crate::json::value::J;
use crate::model::{Event, Field, FieldName, Identity, Record, Value};
use crate::raw::Bytes;
use crate::tables::{f, Encoding, FieldId, RecordType};
use crate::text::parse::{canonical_or_text, typed};
use crate::text::reader::read_line_bounded;

/// Longest JSON line accepted (a huge argv fits; memory stays bounded).
pub const MAX_LINE: usize = 64 << 20;

/// Members of the event object that are not records.
const EVENT_META: &[&str] = &[
    "schema",
    "@timestamp",
    "sec",
    "msec",
    "serial",
    "node",
    "keys",
];

/// Parses one JSON line into an event. The error is a short description.
pub fn event_from_json(line: &[u8]) -> Result<Event, String> {
    let j: J = serde_json::from_slice(line).map_err(|e| format!("column {}: {e}", e.column()))?;
    let J::Obj(members) = &j else {
        return Err("not a JSON object".into());
    };
    match j.get("schema").and_then(J::as_u64) {
        Some(v) if v as u32 == super::JSON_SCHEMA => {}
        Some(v) => return Err(format!("unsupported schema {v}")),
        None => return Err("missing \"schema\"".into()),
    }
    let num = |k: &str| {
        j.get(k)
            .and_then(J::as_u64)
            .ok_or_else(|| format!("missing or bad \"{k}\""))
    };
    let node = match j.get("node") {
        Some(J::Str(s)) => Some(s.clone()),
        None | Some(J::Null) => None,
        Some(_) => return Err("\"node\" must be a string".into()),
    };
    let msec = u16::try_from(num("msec")?)
        .ok()
        .filter(|m| *m < 1000)
        .ok_or("\"msec\" must be 0..999")?;
    let id = Identity {
        sec: num("sec")?,
        msec,
        serial: num("serial")?,
        node,
    };
    let mut records = Vec::new();
    for (key, val) in members {
        if EVENT_META.contains(&key.as_str()) {
            continue;
        }
        if key == "other" {
            let J::Arr(items) = val else {
                return Err("\"other\" must be an array".into());
            };
            for item in items {
                let t = match item.get("type") {
                    Some(J::Str(t)) => t.clone(),
                    _ => return Err("records in \"other\" need a \"type\" string".into()),
                };
                let (rtype, type_name) = match RecordType::from_name(t.as_bytes()) {
                    Some(rt) => (rt, None),
                    None => (RecordType(0), Some(t)),
                };
                records.push(record_from(rtype, type_name, item, true)?);
            }
            continue;
        }
        let upper = key.to_ascii_uppercase();
        let rtype = RecordType::from_name(upper.as_bytes())
            .filter(|t| t.def().is_some())
            .ok_or_else(|| format!("unknown record key {key:?}"))?;
        if rtype == crate::tables::rt::EXECVE {
            records.extend(execve_from(val)?);
            continue;
        }
        match val {
            J::Arr(items) => {
                for item in items {
                    records.push(record_from(rtype, None, item, false)?);
                }
            }
            J::Obj(_) => records.push(record_from(rtype, None, val, false)?),
            _ => return Err(format!("record {key:?} must be an object or an array")),
        }
    }
    Ok(Event { id, records })
}

fn execve_from(val: &J) -> Result<Vec<Record>, String> {
    let strings = |k: &str| -> Result<Option<Vec<String>>, String> {
        match val.get(k) {
            None => Ok(None),
            Some(J::Arr(a)) => a
                .iter()
                .map(|x| match x {
                    J::Str(s) => Ok(s.clone()),
                    _ => Err(format!("execve \"{k}\" must hold strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!("execve \"{k}\" must be an array")),
        }
    };
    let argv: Vec<Bytes> = match strings("argv_hex")? {
        Some(h) => h
            .iter()
            .map(|s| {
                decode_hex(s.as_bytes())
                    .map(Bytes)
                    .ok_or_else(|| "bad hex in execve argv_hex".to_string())
            })
            .collect::<Result<_, _>>()?,
        None => strings("argv")?
            .unwrap_or_default()
            .into_iter()
            .map(|s| Bytes(s.into_bytes()))
            .collect(),
    };
    let mut recs = execve_records(&argv);
    if let Some(argc) = val.get("argc").and_then(J::as_u64) {
        if let Some(fl) = recs.first_mut().and_then(|r| r.fields.first_mut()) {
            *fl = Field::new(f::ARGC, Value::Dec(argc));
        }
    }
    Ok(recs)
}

fn record_from(
    rtype: RecordType,
    type_name: Option<String>,
    obj: &J,
    has_type: bool,
) -> Result<Record, String> {
    let J::Obj(members) = obj else {
        return Err("a record must be an object".into());
    };
    let mut rec = Record {
        rtype,
        type_name,
        fields: Vec::new(),
        enriched: Vec::new(),
    };
    for (i, (k, v)) in members.iter().enumerate() {
        if has_type && i == 0 && k == "type" {
            continue;
        }
        if k.starts_with(|c: char| c.is_ascii_uppercase()) {
            // Interpretations: kept like ENRICHED text's, derived ones (ARGV, SADDR) skipped.
            if let J::Str(s) = v {
                rec.enriched.push(Field {
                    name: FieldName::Other(k.clone()),
                    value: Value::Str(s.clone().into_bytes()),
                });
            }
            continue;
        }
        if let Some(base) = k.strip_suffix("_hex") {
            if let Some(fl) = rec
                .fields
                .iter_mut()
                .rev()
                .find(|fl| fl.name.to_text() == base)
            {
                let J::Str(h) = v else {
                    return Err(format!("{k:?} must be a string"));
                };
                let bytes = decode_hex(h.as_bytes()).ok_or_else(|| format!("{k:?} is not hex"))?;
                match &mut fl.value {
                    Value::Str(b) | Value::Msg(b) | Value::Text(b) => *b = bytes,
                    // A non-UTF-8 value of another kind was written verbatim (Text).
                    other => *other = Value::Text(bytes),
                }
                continue;
            }
        }
        rec.fields.push(field_from(rtype, k, v)?);
    }
    Ok(rec)
}

fn field_from(rtype: RecordType, name: &str, v: &J) -> Result<Field, String> {
    // Text never yields a name with a space or '=' (they delimit fields); anything else is kept.
    if name.bytes().any(|b| b == b' ' || b == b'=') {
        return Err(format!("bad field name {name:?}"));
    }
    let known = FieldId::from_name(name.as_bytes());
    let enc = known.map(|id| id.def().encoding);
    let value = match v {
        J::Bool(true) => {
            return Ok(Field {
                name: FieldName::Bare(name.to_string()),
                value: Value::Text(Vec::new()),
            })
        }
        J::Null => Value::Null,
        J::Str(s) if matches!(enc, Some(Encoding::Str)) => Value::Str(s.clone().into_bytes()),
        J::Str(s) if matches!(enc, Some(Encoding::Msg)) => Value::Msg(s.clone().into_bytes()),
        J::Str(s) | J::Num(s) => {
            // Everything else is the value's audit text form: parse it as text does.
            if s.bytes()
                .any(|b| b == b' ' || b == b'\n' || b == b'\r' || b == 0 || b == 0x1d)
            {
                Value::Text(s.clone().into_bytes())
            } else {
                let (fname, v) = typed(name.as_bytes(), s.as_bytes(), rtype);
                let mut scratch = Vec::new();
                return Ok(Field {
                    name: fname,
                    value: canonical_or_text(v, s.as_bytes(), &mut scratch),
                });
            }
        }
        _ => return Err(format!("field {name:?} has an unsupported JSON value")),
    };
    let fname = known.map_or_else(|| FieldName::Other(name.to_string()), FieldName::Known);
    Ok(Field { name: fname, value })
}

/// The lines of a JSON-lines input (vigil's JSON log, replay traces): numbered, bounded to
/// `max_line` bytes, every failure an error naming the source, line and column.
pub(crate) struct JsonLines<B> {
    input: B,
    name: String,
    max_line: usize,
    line_no: u64,
    buf: Vec<u8>,
}

impl<B: BufRead> JsonLines<B> {
    pub(crate) fn new(input: B, name: String, max_line: usize) -> JsonLines<B> {
        JsonLines {
            input,
            name,
            max_line,
            line_no: 0,
            buf: Vec::new(),
        }
    }

    /// Lines read so far.
    pub(crate) fn line_number(&self) -> u64 {
        self.line_no
    }

    /// The next item: `parse` reads each line in turn, `Ok(None)` skipping it, until one
    /// yields an item or fails (`Err((column, problem))`). `None` at the end of the input.
    pub(crate) fn next_item<T>(
        &mut self,
        mut parse: impl FnMut(&[u8]) -> Result<Option<T>, (usize, String)>,
    ) -> Option<Result<T, Error>> {
        loop {
            let too_long = match read_line_bounded(&mut self.input, &mut self.buf, self.max_line) {
                Ok(None) => return None,
                Ok(Some(t)) => t,
                Err(err) => {
                    return Some(Err(Error::Io {
                        source_name: self.name.clone(),
                        line: self.line_no,
                        err,
                    }))
                }
            };
            self.line_no += 1;
            let failed = if too_long {
                (
                    self.max_line + 1,
                    format!("line longer than {} bytes", self.max_line),
                )
            } else {
                match parse(&self.buf) {
                    Ok(None) => continue,
                    Ok(Some(item)) => return Some(Ok(item)),
                    Err(e) => e,
                }
            };
            let (column, problem) = failed;
            return Some(Err(Error::Parse {
                source_name: self.name.clone(),
                line: self.line_no,
                column,
                problem,
                text: Snippet::of(&self.buf),
            }));
        }
    }
}

/// Iterator over the events of a JSON lines stream.
pub struct JsonReader<B> {
    lines: JsonLines<B>,
}

impl<B: BufRead> JsonReader<B> {
    pub fn new(input: B, name: impl Into<String>) -> JsonReader<B> {
        JsonReader {
            lines: JsonLines::new(input, name.into(), MAX_LINE),
        }
    }
}

impl<B: BufRead> Iterator for JsonReader<B> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.lines.next_item(|line| {
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            event_from_json(line)
                .map(Some)
                .map_err(|problem| (1, problem))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[u8]) -> Result<Option<Vec<u8>>, (usize, String)> {
        match line {
            b"" => Ok(None),
            b"bad" => Err((2, "bad line".into())),
            l => Ok(Some(l.to_vec())),
        }
    }

    #[test]
    fn lines_are_numbered_bounded_and_located() {
        let input: &[u8] = b"ab\n\nbad\n0123456789\ncd\n";
        let mut lines = JsonLines::new(input, "in.json".into(), 8);
        assert_eq!(lines.next_item(parse).unwrap().unwrap(), b"ab");
        let e = lines.next_item(parse).unwrap().unwrap_err().to_string();
        assert!(
            e.contains("in.json") && e.contains(":3:2") && e.contains("bad line"),
            "{e}"
        );
        let e = lines.next_item(parse).unwrap().unwrap_err().to_string();
        assert!(
            e.contains(":4:9") && e.contains("longer than 8 bytes"),
            "{e}"
        );
        assert_eq!(lines.next_item(parse).unwrap().unwrap(), b"cd");
        assert_eq!(lines.line_number(), 5);
        assert!(lines.next_item(parse).is_none());
    }
}
