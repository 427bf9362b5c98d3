//! A record's fields as written, found by scanning its text once (no full parse: most
//! records of a large log are only looked at, and the text is what ausearch compares), and
//! the C-like conversions ausearch applies to them.

use super::Malformed;

/// One field: name and value ranges in the body (`value.0 == u32::MAX`: a bare word).
pub type Span = (u32, u32, u32, u32);

/// The fields of one record.
pub struct Fields<'a> {
    body: &'a [u8],
    pub(super) rtype: u32,
    idx: &'a mut Vec<Span>,
}

impl<'a> Fields<'a> {
    /// `line` is one record's text (the raw part, before any 0x1D); `idx` is scratch space
    /// reused from record to record.
    pub fn new(rtype: u32, line: &'a [u8], idx: &'a mut Vec<Span>) -> Fields<'a> {
        let body = line
            .windows(3)
            .position(|w| w == b"): ")
            .map_or(&line[line.len()..], |p| &line[p + 3..]);
        idx.clear();
        scan(body, idx);
        Fields { body, rtype, idx }
    }

    /// The value of the first field called `name`, as written in the log.
    pub fn text(&mut self, name: &str) -> Option<&'a [u8]> {
        let name = name.as_bytes();
        let body = self.body;
        self.idx
            .iter()
            .find(|&&(ns, ne, vs, _)| vs != u32::MAX && &body[ns as usize..ne as usize] == name)
            .map(|&(_, _, vs, ve)| &body[vs as usize..ve as usize])
    }

    /// Whether the record holds the bare word `w` (`denied` in an AVC).
    pub fn has_word(&self, w: &str) -> bool {
        self.idx.iter().any(|&(ns, ne, vs, _)| {
            vs == u32::MAX && &self.body[ns as usize..ne as usize] == w.as_bytes()
        })
    }

    /// `strtoul` of the field (a number, or `None` when absent).
    pub fn num(&mut self, name: &str) -> Option<u64> {
        self.text(name).map(strtoul)
    }

    pub(super) fn num_or(&mut self, name: &str, required: bool) -> Result<Option<u32>, Malformed> {
        match self.num(name) {
            Some(n) => Ok(Some(n as u32)),
            None if required => Err(Malformed),
            None => Ok(None),
        }
    }
}

/// Splits `t` into fields: `name=value` with `"..."` values kept whole, `msg='...'` running
/// to the last quote of the line, and bare words.
fn scan(t: &[u8], out: &mut Vec<Span>) {
    let n = t.len();
    let mut i = 0;
    while i < n {
        while i < n && t[i] == b' ' {
            i += 1;
        }
        if i >= n {
            break;
        }
        let start = i;
        while i < n && t[i] != b' ' && t[i] != b'=' {
            i += 1;
        }
        let name_end = i;
        if i >= n || t[i] == b' ' {
            out.push((start as u32, name_end as u32, u32::MAX, u32::MAX));
            continue;
        }
        i += 1;
        let v = i;
        match t.get(i) {
            Some(b'"') => {
                i += 1;
                i += t[i..]
                    .iter()
                    .position(|&b| b == b'"')
                    .map_or(n - i, |p| p + 1);
                while i < n && t[i] != b' ' {
                    i += 1;
                }
            }
            // User text runs to the last quote of the line.
            Some(b'\'') if &t[start..name_end] == b"msg" => {
                i = t[i + 1..]
                    .iter()
                    .rposition(|&b| b == b'\'')
                    .map_or(n, |p| i + 1 + p + 1);
            }
            _ => {
                i += t[i..].iter().position(|&b| b == b' ').unwrap_or(n - i);
            }
        }
        out.push((start as u32, name_end as u32, v as u32, i as u32));
    }
}

/// C's `strtoul`: optional sign, leading digits, wrapping negation, 0 when there are none.
pub fn strtoul(s: &[u8]) -> u64 {
    let s = s.strip_prefix(b" ").unwrap_or(s);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: u64 = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

/// C's `strtoll` with base 0 (decimal, `0x` hex or leading-zero octal).
pub fn strtoll(s: &[u8]) -> i64 {
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix(b"0x").or(body.strip_prefix(b"0X")) {
        (16, h)
    } else if body.len() > 1 && body[0] == b'0' {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let mut n: i64 = 0;
    for &b in digits {
        let Some(d) = (b as char).to_digit(radix) else {
            break;
        };
        n = n
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// ausearch's `unescape` of an unquoted value: `(null)`-style words stay as they are, hex is
/// decoded (the leading run of hex digits).
pub fn unescape(v: &[u8]) -> Vec<u8> {
    if v.first() == Some(&b'(') {
        let end = v.iter().position(|&b| b == b')').map_or(v.len(), |p| p + 1);
        return v[..end].to_vec();
    }
    let hex = v.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    v[..hex]
        .chunks_exact(2)
        .map(|p| {
            let h = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            h(p[0]) << 4 | h(p[1])
        })
        .take_while(|&b| b != 0)
        .collect()
}

/// All of `v` decoded from hex (pairs), NULs included.
pub fn unescape_all(v: &[u8]) -> Vec<u8> {
    v.chunks_exact(2)
        .map(|p| {
            let h = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            h(p[0]) << 4 | h(p[1])
        })
        .collect()
}

/// A quoted string's content, or the unescaped hex.
pub(super) fn string_value(v: &[u8]) -> Vec<u8> {
    match v.strip_prefix(b"\"") {
        Some(rest) => rest[..rest.iter().position(|&b| b == b'"').unwrap_or(rest.len())].to_vec(),
        None => unescape(v),
    }
}

/// Keys of a `key=` value: a quoted key is one key; hex is split at 0x01.
pub(super) fn keys_of(v: &[u8]) -> Vec<Vec<u8>> {
    if v.first() == Some(&b'"') {
        return vec![string_value(v)];
    }
    unescape(v)
        .split(|&b| b == 1)
        .filter(|k| !k.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}
