//! Audit text writer, RAW and ENRICHED (docs/format.md): one record per line, at most
//! [`MAX_LINE`] bytes per line including the newline.

use crate::escape::{
    push_hex_bytes, push_hex_lower, push_hex_lower_min, push_i64, push_oct, push_u64,
    push_untrusted,
};
use crate::model::{Event, Field, FieldName, Identity, Record, Value};
use crate::resolve::{arch_name, sockaddr_text, Resolver};
use crate::tables::{f, rt, Interp};

/// Longest line a reader accepts (auditd's `MAX_AUDIT_MESSAGE_LENGTH`), newline included.
pub const MAX_LINE: usize = 8970;

/// The ENRICHED separator between raw and interpreted fields.
pub const ENRICH_SEP: u8 = 0x1d;

/// Which text format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TextMode {
    #[default]
    Raw,
    Enriched,
}

/// Counters a writer keeps (losses are data).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub records: u64,
    /// Lines shortened to fit [`MAX_LINE`].
    pub truncated: u64,
}

/// Writes events as audit text into a caller's reusable buffer.
pub struct TextWriter<R> {
    mode: TextMode,
    resolver: R,
    /// `msg=audit(SEC.MSEC:SERIAL): ` of the event being written.
    stamp: Vec<u8>,
    pub stats: WriterStats,
}

impl<R: Resolver> TextWriter<R> {
    pub fn new(mode: TextMode, resolver: R) -> TextWriter<R> {
        TextWriter {
            mode,
            resolver,
            stamp: Vec::with_capacity(64),
            stats: WriterStats::default(),
        }
    }

    pub fn mode(&self) -> TextMode {
        self.mode
    }

    pub fn resolver_mut(&mut self) -> &mut R {
        &mut self.resolver
    }

    /// Appends every record of `ev`, one line each.
    pub fn write_event(&mut self, ev: &Event, out: &mut Vec<u8>) {
        self.set_stamp(&ev.id);
        out.reserve(256 * ev.records.len());
        // The arch of the event's SYSCALL names its syscall in ENRICHED mode.
        for r in &ev.records {
            self.write_line(&ev.id, r, out);
        }
    }

    /// Appends one record as one line.
    pub fn write_record(&mut self, id: &Identity, r: &Record, out: &mut Vec<u8>) {
        self.set_stamp(id);
        self.write_line(id, r, out);
    }

    fn set_stamp(&mut self, id: &Identity) {
        let s = &mut self.stamp;
        s.clear();
        s.extend_from_slice(b" msg=audit(");
        push_u64(s, id.sec);
        s.push(b'.');
        let ms = id.msec.min(999);
        s.push(b'0' + (ms / 100) as u8);
        s.push(b'0' + (ms / 10 % 10) as u8);
        s.push(b'0' + (ms % 10) as u8);
        s.push(b':');
        push_u64(s, id.serial);
        s.extend_from_slice(b"): ");
    }

    fn write_line(&mut self, id: &Identity, r: &Record, out: &mut Vec<u8>) {
        let start = out.len();
        self.stats.records += 1;
        self.render(id, r, out, usize::MAX);
        if out.len() - start < MAX_LINE {
            return;
        }
        // Too long: drop the interpreted fields, then shorten the largest values.
        self.stats.truncated += 1;
        let mut cut = r.clone();
        for _ in 0..64 {
            out.truncate(start);
            self.render(id, &cut, out, 0);
            let len = out.len() - start;
            if len < MAX_LINE {
                return;
            }
            if !shrink_largest(&mut cut, len + 1 - MAX_LINE) {
                cut.fields.pop();
            }
        }
        out.truncate(start);
        self.render(id, &Record::new(r.rtype), out, 0);
    }

    /// `enrich_limit`: 0 = no interpreted fields.
    fn render(&mut self, id: &Identity, r: &Record, out: &mut Vec<u8>, enrich_limit: usize) {
        if let Some(node) = &id.node {
            out.extend_from_slice(b"node=");
            push_token(out, node.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(b"type=");
        match (&r.type_name, r.rtype.name()) {
            (Some(n), _) => push_token(out, n.as_bytes()),
            (None, Some(n)) => out.extend_from_slice(n.as_bytes()),
            (None, None) => {
                out.extend_from_slice(b"UNKNOWN[");
                push_u64(out, u64::from(r.rtype.0));
                out.push(b']');
            }
        }
        out.extend_from_slice(&self.stamp);
        // The kernel starts EXECVE records after the first with " aN..." (two spaces).
        if r.rtype == rt::EXECVE
            && r.type_name.is_none()
            && r.fields
                .first()
                .is_some_and(|fl| fl.name != FieldName::Known(f::ARGC))
        {
            out.push(b' ');
        }
        for (i, fl) in r.fields.iter().enumerate() {
            if let FieldName::Known(id) = fl.name {
                // One copy for separator, name and '='.
                let s = id.def().sep_name_eq.as_bytes();
                out.extend_from_slice(if i == 0 { &s[1..] } else { s });
                push_value(out, &fl.value);
                continue;
            }
            if i > 0 {
                out.push(b' ');
            }
            push_field(out, fl);
        }
        if self.mode == TextMode::Enriched && enrich_limit > 0 {
            let mark = out.len();
            out.push(ENRICH_SEP);
            let before = out.len();
            if r.enriched.is_empty() {
                self.push_interpreted(r, out);
            } else {
                for (i, fl) in r.enriched.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    push_field(out, fl);
                }
            }
            if out.len() == before {
                out.truncate(mark);
            }
        }
        out.push(b'\n');
    }

    fn push_interpreted(&mut self, r: &Record, out: &mut Vec<u8>) {
        let start = out.len();
        let arch = r.get(f::ARCH).and_then(Value::as_u64).map(|a| a as u32);
        for fl in &r.fields {
            let FieldName::Known(id) = fl.name else {
                continue;
            };
            let def = id.def();
            if def.interp == Interp::None {
                continue;
            }
            let mark = out.len();
            if out.len() > start {
                out.push(b' ');
            }
            out.extend_from_slice(def.upper.as_bytes());
            out.push(b'=');
            let ok = match def.interp {
                Interp::Uid | Interp::Gid => match id_value(&fl.value) {
                    Some(n) => {
                        out.push(b'"');
                        if n == u32::MAX {
                            out.extend_from_slice(b"unset");
                        } else {
                            let name = if def.interp == Interp::Uid {
                                self.resolver.user(n)
                            } else {
                                self.resolver.group(n)
                            };
                            if let Some(s) = name {
                                push_quoted_name(out, s.as_bytes());
                            } else {
                                out.extend_from_slice(b"unknown(");
                                push_u64(out, u64::from(n));
                                out.push(b')');
                            }
                        }
                        out.push(b'"');
                        true
                    }
                    None => false,
                },
                Interp::Arch => match fl.value.as_u64().and_then(|a| arch_name(a as u32)) {
                    Some(n) => {
                        out.extend_from_slice(n.as_bytes());
                        true
                    }
                    None => false,
                },
                Interp::Syscall => match (arch, fl.value.as_u64()) {
                    (Some(a), Some(nr)) => {
                        if let Some(n) = self.resolver.syscall(a, nr as u32) {
                            out.extend_from_slice(n.as_bytes());
                        } else {
                            out.extend_from_slice(b"unknown-syscall(");
                            push_u64(out, nr);
                            out.push(b')');
                        }
                        true
                    }
                    _ => false,
                },
                Interp::UringOp => match fl.value.as_u64() {
                    Some(op) => {
                        if let Some(n) = self.resolver.uring_op(op as u32) {
                            out.extend_from_slice(n.as_bytes());
                        } else {
                            out.extend_from_slice(b"unknown-uring-op(");
                            push_u64(out, op);
                            out.push(b')');
                        }
                        true
                    }
                    None => false,
                },
                Interp::Saddr => match &fl.value {
                    Value::HexBytes(b) => {
                        out.extend_from_slice(sockaddr_text(b).as_bytes());
                        true
                    }
                    _ => false,
                },
                Interp::None => false,
            };
            if !ok {
                out.truncate(mark);
            }
        }
    }
}

/// A uid/gid as the kernel printed it (`-1` in `OBJ_PID` means unset).
fn id_value(v: &Value) -> Option<u32> {
    match *v {
        Value::Dec(n) => u32::try_from(n).ok(),
        Value::SDec(n) => u32::try_from(n)
            .ok()
            .or(if n == -1 { Some(u32::MAX) } else { None }),
        _ => None,
    }
}

fn push_quoted_name(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        out.push(if b == b'"' || !(0x20..0x7f).contains(&b) || b == b' ' {
            b'?'
        } else {
            b
        });
    }
}

/// Bytes that would break a line or a field: replaced in verbatim text.
#[inline]
fn is_hazard(b: u8) -> bool {
    b == b'\n' || b == b'\r' || b == 0 || b == ENRICH_SEP
}

/// A bare word: no byte that ends a field or a line.
fn push_token(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        out.push(if is_hazard(b) || b == b' ' || b == b'\t' {
            b'_'
        } else {
            b
        });
    }
}

fn push_field(out: &mut Vec<u8>, fl: &Field) {
    if let FieldName::Bare(w) = &fl.name {
        push_token(out, w.as_bytes());
        return;
    }
    fl.name.push_to(out);
    out.push(b'=');
    push_value(out, &fl.value);
}

/// Appends a value in its audit text form.
#[inline]
pub fn push_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Dec(n) => push_u64(out, *n),
        Value::SDec(n) => push_i64(out, *n),
        Value::Hex(n) => push_hex_lower(out, *n),
        Value::Cap(n) => push_hex_lower_min(out, *n, if *n == 0 { 1 } else { 16 }),
        Value::Oct(n) => push_oct(out, *n),
        Value::Dev(a, b) => {
            push_hex_lower_min(out, u64::from(*a), 2);
            out.push(b':');
            push_hex_lower_min(out, u64::from(*b), 2);
        }
        Value::Str(b) => push_untrusted(out, b),
        Value::Null => out.extend_from_slice(b"(null)"),
        Value::HexBytes(b) => push_hex_bytes(out, b),
        Value::Tok(s) => push_token(out, s.as_bytes()),
        Value::Msg(b) => {
            if msg_needs_hex(b) {
                push_hex_bytes(out, b);
            } else {
                out.push(b'\'');
                out.extend_from_slice(b);
                out.push(b'\'');
            }
        }
        Value::Text(b) => {
            for &c in b {
                out.push(if is_hazard(c) { b'_' } else { c });
            }
        }
    }
}

/// User text stays readable unless it holds a control byte or a quote that would end it.
pub fn msg_needs_hex(b: &[u8]) -> bool {
    b.iter().any(|&c| c < 0x20 || c == 0x7f || c == b'\'')
}

/// Shortens the longest byte value of `r` by at least `excess` written bytes.
fn shrink_largest(r: &mut Record, excess: usize) -> bool {
    let mut best: Option<(usize, usize)> = None;
    for (i, fl) in r.fields.iter().enumerate() {
        let len = match &fl.value {
            Value::Str(b) | Value::HexBytes(b) | Value::Msg(b) | Value::Text(b) => b.len(),
            _ => 0,
        };
        if len > 0 && best.is_none_or(|(_, l)| len > l) {
            best = Some((i, len));
        }
    }
    let Some((i, len)) = best else { return false };
    // Written bytes per source byte: 2 for hex, 1 otherwise.
    let per = match &r.fields[i].value {
        Value::HexBytes(_) => 2,
        Value::Str(b) if crate::escape::needs_hex(b) => 2,
        Value::Msg(b) if msg_needs_hex(b) => 2,
        _ => 1,
    };
    let keep = len.saturating_sub(excess.div_ceil(per));
    match &mut r.fields[i].value {
        Value::Str(b) | Value::HexBytes(b) | Value::Msg(b) | Value::Text(b) => b.truncate(keep),
        _ => {}
    }
    true
}
