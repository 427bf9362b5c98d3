//! Records and events as `vigil search` holds them: the verbatim line (what `--raw` prints),
//! the identity and type read from its header, and the fields parsed only when a criterion
//! needs them (most records of a large log are never parsed).

use std::cell::OnceCell;

use vigil_format::text::{parse_line, TextMode, TextWriter, ENRICH_SEP};
use vigil_format::{Identity, NoResolver, Record, RecordType};

/// One record (one line of audit text).
#[derive(Debug)]
pub struct Rec {
    /// The line without its newline, byte for byte as read (or as rendered from JSON).
    pub line: Vec<u8>,
    /// Record type number; 0 when the name is unknown to vigil.
    pub rtype: u32,
    parsed: OnceCell<Option<Record>>,
}

/// One event: every record sharing one identity, in the order read.
#[derive(Debug)]
pub struct Ev {
    pub id: Identity,
    pub recs: Vec<Rec>,
    /// The original JSON line, when the event was read from a JSON lines log.
    pub json: Option<Vec<u8>>,
}

impl Ev {
    /// Whether any record carries ENRICHED fields (after 0x1D).
    pub fn enriched(&self) -> bool {
        self.recs.iter().any(|r| r.line.contains(&ENRICH_SEP))
    }

    /// The event as vigil-format's model (records that do not parse are left out).
    pub fn to_model(&self) -> vigil_format::Event {
        vigil_format::Event {
            id: self.id.clone(),
            records: self
                .recs
                .iter()
                .filter_map(|r| r.record().cloned())
                .collect(),
        }
    }
}

impl Rec {
    /// Reads the header of an audit text line as ausearch does (`[node=N ]type=T
    /// msg=audit(SEC.MSEC:SERIAL)`); `None` when the line has none (ausearch skips it too).
    pub fn from_line(line: Vec<u8>) -> Option<(Identity, Rec)> {
        let (id, rtype) = header(&line)?;
        Some((
            id,
            Rec {
                line,
                rtype,
                parsed: OnceCell::new(),
            },
        ))
    }

    /// A record that came parsed (from JSON): its line is rendered as RAW text.
    pub fn from_record(id: &Identity, r: Record) -> Rec {
        let mut line = Vec::with_capacity(256);
        TextWriter::new(TextMode::Raw, NoResolver).write_record(id, &r, &mut line);
        while line.last() == Some(&b'\n') {
            line.pop();
        }
        let cell = OnceCell::new();
        let rtype = r.rtype.0;
        let _ = cell.set(Some(r));
        Rec {
            line,
            rtype,
            parsed: cell,
        }
    }

    /// The parsed fields; `None` when the line does not parse as a record.
    pub fn record(&self) -> Option<&Record> {
        self.parsed
            .get_or_init(|| parse_line(&self.line).ok().map(|(_, r)| r))
            .as_ref()
    }

    /// The line without its ENRICHED part (what ausearch prints in its default format).
    pub fn raw_part(&self) -> &[u8] {
        match self.line.iter().position(|&b| b == ENRICH_SEP) {
            Some(p) => &self.line[..p],
            None => &self.line,
        }
    }
}

/// Splits off the next space-separated token, as `strtok` would.
fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = s.iter().position(|&b| b != b' ')?;
    let s = &s[start..];
    let end = s.iter().position(|&b| b == b' ').unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

/// Leading decimal digits as a number (`strtoul` without the error cases).
fn lead_dec(s: &[u8]) -> Option<u64> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 19 {
        return None;
    }
    Some(
        s[..n]
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')),
    )
}

/// `(identity, type)` of a line.
fn header(line: &[u8]) -> Option<(Identity, u32)> {
    let (mut tok, mut rest) = token(line)?;
    let mut node = None;
    if let Some(n) = tok.strip_prefix(b"node=") {
        node = Some(String::from_utf8_lossy(n).into_owned());
        (tok, rest) = token(rest)?;
    }
    let tname = tok.strip_prefix(b"type=")?;
    let rtype = RecordType::from_name(tname).map_or(0, |t| t.0);
    let (msg, _) = token(rest)?;
    let open = msg.iter().position(|&b| b == b'(')?;
    let stamp = &msg[open + 1..];
    let stamp = &stamp[..stamp.iter().position(|&b| b == b')')?];
    let sec = lead_dec(stamp)?;
    let dot = stamp.iter().position(|&b| b == b'.')?;
    let after = &stamp[dot + 1..];
    let msec = lead_dec(after)?;
    let colon = after.iter().position(|&b| b == b':')?;
    let serial = lead_dec(&after[colon + 1..])?;
    let id = Identity {
        sec,
        msec: u16::try_from(msec).ok()?,
        serial,
        node,
    };
    Some((id, rtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_read_like_ausearch() {
        let (id, r) = Rec::from_line(
            b"node=web1 type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e".to_vec(),
        )
        .unwrap();
        assert_eq!((id.sec, id.msec, id.serial), (1_700_000_000, 123, 42));
        assert_eq!(id.node.as_deref(), Some("web1"));
        assert_eq!(r.rtype, 1300);
        let (_, r) =
            Rec::from_line(b"type=UNKNOWN[3000] msg=audit(1.002:3): x=1".to_vec()).unwrap();
        assert_eq!(r.rtype, 3000);
        assert!(Rec::from_line(b"garbage".to_vec()).is_none());
        assert!(Rec::from_line(b"type=SYSCALL msg=audit(12 x".to_vec()).is_none());
    }

    #[test]
    fn fields_parse_on_demand() {
        let (_, r) =
            Rec::from_line(b"type=CWD msg=audit(1.000:1): cwd=\"/tmp\"\x1dUID=\"root\"".to_vec())
                .unwrap();
        assert_eq!(r.raw_part(), b"type=CWD msg=audit(1.000:1): cwd=\"/tmp\"");
        assert!(r.record().is_some());
    }
}
