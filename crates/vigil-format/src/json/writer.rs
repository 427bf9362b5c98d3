//! JSON lines writer: one object per event (schema [`JSON_SCHEMA`], docs/format.md).

use crate::escape::{push_hex_bytes, push_i64, push_u64};
use crate::model::{Event, Field, FieldName, Record, Value};
use crate::resolve::{arch_name, Resolver};
use crate::tables::{f, rt, Interp};
use crate::text::writer::push_value;
use crate::text::TextMode;

/// Version of the JSON schema (the `"schema"` member of every object).
pub const JSON_SCHEMA: u32 = 1;

/// Writes events as JSON lines into a caller's reusable buffer.
pub struct JsonWriter<R> {
    mode: TextMode,
    resolver: R,
    scratch: Vec<u8>,
}

impl<R: Resolver> JsonWriter<R> {
    /// `TextMode::Enriched` adds resolved names (`"UID":"root"`) next to numeric ids.
    pub fn new(mode: TextMode, resolver: R) -> JsonWriter<R> {
        JsonWriter {
            mode,
            resolver,
            scratch: Vec::with_capacity(256),
        }
    }

    pub fn resolver_mut(&mut self) -> &mut R {
        &mut self.resolver
    }

    /// Appends one line (with its newline).
    pub fn write_event(&mut self, ev: &Event, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"schema\":");
        push_u64(out, u64::from(JSON_SCHEMA));
        out.extend_from_slice(b",\"@timestamp\":\"");
        push_rfc3339(out, ev.id.sec, ev.id.msec);
        out.extend_from_slice(b"\",\"sec\":");
        push_u64(out, ev.id.sec);
        out.extend_from_slice(b",\"msec\":");
        push_u64(out, u64::from(ev.id.msec));
        out.extend_from_slice(b",\"serial\":");
        push_u64(out, ev.id.serial);
        if let Some(node) = &ev.id.node {
            out.extend_from_slice(b",\"node\":");
            push_json_str(out, node.as_bytes());
        }
        if let Some(Value::Str(key)) = ev.main_record().and_then(|r| r.get(f::KEY)) {
            out.extend_from_slice(b",\"keys\":[");
            for (i, k) in key.split(|&c| c == 1).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json_str(out, k);
            }
            out.push(b']');
        }
        let arch = ev
            .main_record()
            .and_then(|r| r.get(f::ARCH))
            .and_then(Value::as_u64)
            .map(|a| a as u32);
        let mut other: Vec<&Record> = Vec::new();
        let n = ev.records.len();
        // Which records are written already (small events need no allocation).
        let mut done_small = [false; 32];
        let mut done_big = Vec::new();
        let done: &mut [bool] = if n <= done_small.len() {
            &mut done_small[..n]
        } else {
            done_big.resize(n, false);
            &mut done_big
        };
        for i in 0..n {
            if done[i] {
                continue;
            }
            let r = &ev.records[i];
            let def = r.rtype.def().filter(|_| r.type_name.is_none());
            let Some(def) = def else {
                other.push(r);
                continue;
            };
            out.extend_from_slice(b",\"");
            push_lower(out, def.name);
            out.extend_from_slice(b"\":");
            if r.rtype == rt::EXECVE {
                Self::write_execve(ev, out);
                for (j, d) in done.iter_mut().enumerate().skip(i) {
                    *d |= ev.records[j].rtype == rt::EXECVE && ev.records[j].type_name.is_none();
                }
            } else if def.many {
                out.push(b'[');
                let mut first = true;
                for (j, d) in done.iter_mut().enumerate().skip(i) {
                    let rj = &ev.records[j];
                    if rj.rtype == r.rtype && rj.type_name.is_none() {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        self.write_record_object(rj, arch, None, out);
                        *d = true;
                    }
                }
                out.push(b']');
            } else {
                self.write_record_object(r, arch, None, out);
                done[i] = true;
                // A second record of a single-instance type goes to "other".
                for (j, d) in done.iter_mut().enumerate().skip(i + 1) {
                    if ev.records[j].rtype == r.rtype && ev.records[j].type_name.is_none() {
                        other.push(&ev.records[j]);
                        *d = true;
                    }
                }
            }
        }
        if !other.is_empty() {
            out.extend_from_slice(b",\"other\":[");
            for (i, r) in other.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let t = r.type_text();
                self.write_record_object(r, arch, Some(&t), out);
            }
            out.push(b']');
        }
        out.extend_from_slice(b"}\n");
    }

    fn write_execve(ev: &Event, out: &mut Vec<u8>) {
        let argc = ev
            .first(rt::EXECVE)
            .and_then(|r| r.get(f::ARGC))
            .and_then(Value::as_u64);
        let argv = ev.execve_argv();
        out.extend_from_slice(b"{\"argc\":");
        push_u64(out, argc.unwrap_or(argv.len() as u64));
        out.extend_from_slice(b",\"argv\":[");
        for (i, a) in argv.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_str(out, a);
        }
        out.push(b']');
        if argv.iter().any(|a| std::str::from_utf8(a).is_err()) {
            out.extend_from_slice(b",\"argv_hex\":[");
            for (i, a) in argv.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                push_hex_bytes(out, a);
                out.push(b'"');
            }
            out.push(b']');
        }
        out.push(b'}');
    }

    fn write_record_object(
        &mut self,
        r: &Record,
        arch: Option<u32>,
        type_text: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        out.push(b'{');
        let mut first = true;
        if let Some(t) = type_text {
            out.extend_from_slice(b"\"type\":");
            push_json_str(out, t.as_bytes());
            first = false;
        }
        for fl in &r.fields {
            if !first {
                out.push(b',');
            }
            first = false;
            self.write_field(fl, out);
        }
        if r.rtype == rt::PROCTITLE {
            if let Some(Value::Str(b)) = r.get(f::PROCTITLE) {
                out.extend_from_slice(if first { b"\"ARGV\":[" } else { b",\"ARGV\":[" });
                first = false;
                for (i, a) in b.split(|&c| c == 0).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_json_str(out, a);
                }
                out.push(b']');
            }
        }
        if self.mode == TextMode::Enriched {
            if r.enriched.is_empty() {
                self.write_interpretations(r, arch, &mut first, out);
            } else {
                for fl in &r.enriched {
                    let FieldName::Other(name) = &fl.name else {
                        continue;
                    };
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    push_json_str(out, name.as_bytes());
                    out.push(b':');
                    let text = match &fl.value {
                        Value::Str(b) | Value::Text(b) => b.as_slice(),
                        _ => b"",
                    };
                    push_json_str(out, text);
                }
            }
        }
        out.push(b'}');
    }

    fn write_field(&mut self, fl: &Field, out: &mut Vec<u8>) {
        if let FieldName::Bare(w) = &fl.name {
            push_json_str(out, w.as_bytes());
            out.extend_from_slice(b":true");
            return;
        }
        if let FieldName::Known(id) = fl.name {
            out.extend_from_slice(id.def().json_key.as_bytes());
        } else {
            self.scratch.clear();
            fl.name.push_to(&mut self.scratch);
            out.push(b'"');
            push_json_inner(out, &self.scratch);
            out.extend_from_slice(b"\":");
        }
        match &fl.value {
            Value::Dec(n) => push_u64(out, *n),
            Value::SDec(n) => push_i64(out, *n),
            Value::Null => out.extend_from_slice(b"null"),
            Value::Str(b) | Value::Msg(b) | Value::Text(b) => {
                if !push_json_str(out, b) {
                    // Not UTF-8: the exact bytes beside the lossy string.
                    self.scratch.clear();
                    fl.name.push_to(&mut self.scratch);
                    out.extend_from_slice(b",\"");
                    push_json_inner(out, &self.scratch);
                    out.extend_from_slice(b"_hex\":\"");
                    push_hex_bytes(out, b);
                    out.push(b'"');
                }
            }
            v => {
                // Hex, octal, device, token, hex bytes: their audit text form as a string.
                self.scratch.clear();
                push_value(&mut self.scratch, v);
                out.push(b'"');
                push_json_inner(out, &self.scratch);
                out.push(b'"');
            }
        }
    }

    fn write_interpretations(
        &mut self,
        r: &Record,
        arch: Option<u32>,
        first: &mut bool,
        out: &mut Vec<u8>,
    ) {
        for fl in &r.fields {
            let FieldName::Known(id) = fl.name else {
                continue;
            };
            let def = id.def();
            let text: Option<String> = match def.interp {
                Interp::None => None,
                Interp::Uid | Interp::Gid => {
                    let n = match fl.value {
                        Value::Dec(n) => u32::try_from(n).ok(),
                        Value::SDec(-1) => Some(u32::MAX),
                        Value::SDec(n) => u32::try_from(n).ok(),
                        _ => None,
                    };
                    n.map(|n| {
                        if n == u32::MAX {
                            "unset".to_string()
                        } else {
                            let name = if def.interp == Interp::Uid {
                                self.resolver.user(n)
                            } else {
                                self.resolver.group(n)
                            };
                            name.map_or_else(|| format!("unknown({n})"), str::to_string)
                        }
                    })
                }
                Interp::Arch => fl
                    .value
                    .as_u64()
                    .and_then(|a| arch_name(a as u32))
                    .map(str::to_string),
                Interp::Syscall => {
                    let a = r
                        .get(f::ARCH)
                        .and_then(Value::as_u64)
                        .map(|a| a as u32)
                        .or(arch);
                    match (a, fl.value.as_u64()) {
                        (Some(a), Some(nr)) => Some(
                            self.resolver
                                .syscall(a, nr as u32)
                                .map_or_else(|| format!("unknown-syscall({nr})"), str::to_string),
                        ),
                        _ => None,
                    }
                }
                Interp::UringOp => fl.value.as_u64().map(|op| {
                    self.resolver
                        .uring_op(op as u32)
                        .map_or_else(|| format!("unknown-uring-op({op})"), str::to_string)
                }),
                Interp::Saddr => {
                    if let Value::HexBytes(b) = &fl.value {
                        if !*first {
                            out.push(b',');
                        }
                        *first = false;
                        out.extend_from_slice(b"\"SADDR\":");
                        push_sockaddr_json(out, b);
                    }
                    None
                }
            };
            if let Some(t) = text {
                if !*first {
                    out.push(b',');
                }
                *first = false;
                out.push(b'"');
                out.extend_from_slice(def.upper.as_bytes());
                out.extend_from_slice(b"\":");
                push_json_str(out, t.as_bytes());
            }
        }
    }
}

/// `{"family":"inet","addr":"127.0.0.1","port":80}` and friends.
fn push_sockaddr_json(out: &mut Vec<u8>, sa: &[u8]) {
    let fam = if sa.len() >= 2 {
        u16::from_ne_bytes([sa[0], sa[1]])
    } else {
        u16::MAX
    };
    match fam {
        1 => {
            let path = &sa[2..];
            let (prefix, p) = if path.first() == Some(&0) {
                ("@", &path[1..])
            } else {
                ("", path)
            };
            let end = if prefix.is_empty() {
                p.iter().position(|&b| b == 0).unwrap_or(p.len())
            } else {
                p.len()
            };
            let mut full = prefix.as_bytes().to_vec();
            full.extend_from_slice(&p[..end]);
            out.extend_from_slice(b"{\"family\":\"local\",\"path\":");
            push_json_str(out, &full);
            out.push(b'}');
        }
        2 if sa.len() >= 8 => {
            let addr = std::net::Ipv4Addr::new(sa[4], sa[5], sa[6], sa[7]).to_string();
            out.extend_from_slice(b"{\"family\":\"inet\",\"addr\":\"");
            out.extend_from_slice(addr.as_bytes());
            out.extend_from_slice(b"\",\"port\":");
            push_u64(out, u64::from(u16::from_be_bytes([sa[2], sa[3]])));
            out.push(b'}');
        }
        10 if sa.len() >= 24 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&sa[8..24]);
            out.extend_from_slice(b"{\"family\":\"inet6\",\"addr\":\"");
            out.extend_from_slice(std::net::Ipv6Addr::from(a).to_string().as_bytes());
            out.extend_from_slice(b"\",\"port\":");
            push_u64(out, u64::from(u16::from_be_bytes([sa[2], sa[3]])));
            out.push(b'}');
        }
        _ => {
            out.extend_from_slice(b"{\"family\":");
            push_u64(out, u64::from(fam));
            out.push(b'}');
        }
    }
}

fn push_lower(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().map(|b| b.to_ascii_lowercase()));
}

/// Appends a JSON string (quotes included); invalid UTF-8 becomes U+FFFD and `false` is
/// returned.
pub fn push_json_str(out: &mut Vec<u8>, b: &[u8]) -> bool {
    out.push(b'"');
    let valid = push_json_inner(out, b);
    out.push(b'"');
    valid
}

fn push_json_inner(out: &mut Vec<u8>, b: &[u8]) -> bool {
    // Plain ASCII without escapes is the common case: one scan, one copy.
    if b.iter()
        .all(|&c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\')
    {
        out.extend_from_slice(b);
        return true;
    }
    if let Ok(s) = std::str::from_utf8(b) {
        push_escaped(out, s);
        true
    } else {
        push_escaped(out, &String::from_utf8_lossy(b));
        false
    }
}

fn push_escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// `2023-11-14T22:13:20.123Z` (civil date from days since the epoch).
fn push_rfc3339(out: &mut Vec<u8>, sec: u64, msec: u16) {
    let days = (sec / 86_400) as i64;
    let rem = sec % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let two = |out: &mut Vec<u8>, v: u64| {
        out.push(b'0' + (v / 10 % 10) as u8);
        out.push(b'0' + (v % 10) as u8);
    };
    push_i64(out, y);
    out.push(b'-');
    two(out, m as u64);
    out.push(b'-');
    two(out, d as u64);
    out.push(b'T');
    two(out, rem / 3600);
    out.push(b':');
    two(out, rem / 60 % 60);
    out.push(b':');
    two(out, rem % 60);
    out.push(b'.');
    let ms = u64::from(msec.min(999));
    out.push(b'0' + (ms / 100) as u8);
    two(out, ms % 100);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut v = Vec::new();
        super::push_rfc3339(&mut v, 1_700_000_000, 123);
        assert_eq!(v, b"2023-11-14T22:13:20.123Z");
        v.clear();
        super::push_rfc3339(&mut v, 951_782_400, 5);
        assert_eq!(v, b"2000-02-29T00:00:00.005Z");
    }
}
