//! `-i`: records with numbers turned into names, laid out as ausearch lays them out
//! (`type=T msg=audit(DATE TIME.MS:SERIAL) : name=value ...`, records newest first). The
//! interpretations cover what audit logs mostly hold (ids, arch, syscall, errno, mode, socket
//! addresses, decoded strings); other values print as written.

use std::fmt::Write as _;

use vigil_format::resolve::{arch_name, sockaddr_text, syscall_name};
use vigil_format::tables::Interp;
use vigil_format::text::writer::push_value;
use vigil_format::{Field, FieldName, Record, Resolver, SystemResolver, Value};

use super::argtext::ArgText;
use super::record::{Ev, Rec};
use super::time;

/// Interprets records for `-i`.
pub struct Interpreter {
    resolver: SystemResolver,
    scratch: Vec<u8>,
    /// The ENRICHED names of the record being printed (`UID` -> `root`): ausearch takes an
    /// id's name from there before asking this host.
    names: Vec<(String, String)>,
}

impl Default for Interpreter {
    fn default() -> Self {
        Interpreter::new()
    }
}

impl Interpreter {
    pub fn new() -> Interpreter {
        Interpreter {
            resolver: SystemResolver::new(),
            scratch: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Appends the interpreted records of `ev` (newest first, as ausearch prints them).
    pub fn event(&mut self, ev: &Ev, out: &mut Vec<u8>) {
        let when = time::format_local(ev.id.sec);
        let last = ev.recs.last().map_or(0, |r| r.rtype);
        let recs: Vec<&Rec> = if (1200..1300).contains(&last) {
            ev.recs.last().into_iter().collect()
        } else {
            ev.recs.iter().rev().collect()
        };
        for r in recs {
            if let Some(node) = &ev.id.node {
                out.extend_from_slice(format!("node={node} ").as_bytes());
            }
            let Some(rec) = r.record() else {
                out.extend_from_slice(r.raw_part());
                out.push(b'\n');
                continue;
            };
            out.extend_from_slice(
                format!(
                    "type={} msg=audit({when}.{:03}:{}) : ",
                    rec.type_text(),
                    ev.id.msec,
                    ev.id.serial
                )
                .as_bytes(),
            );
            // A record whose fields start with a space (EXECVE continuations) keeps it.
            if r.line.windows(4).any(|w| w == b"):  ") {
                out.push(b' ');
            }
            self.record(rec, out);
            out.push(b'\n');
        }
    }

    fn record(&mut self, rec: &Record, out: &mut Vec<u8>) {
        let arch = rec
            .get_by_name("arch")
            .and_then(Value::as_u64)
            .map_or(0, |a| a as u32);
        let is_syscall = rec.rtype.0 == 1300;
        let syscall = rec
            .get_by_name("syscall")
            .and_then(Value::as_u64)
            .map(|s| s as u32);
        self.names.clear();
        for e in &rec.enriched {
            if let Some(v) = e.value.as_bytes() {
                let v = v.strip_prefix(b"\"").unwrap_or(v);
                let v = v.strip_suffix(b"\"").unwrap_or(v);
                self.names.push((
                    e.name.to_text().into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ));
            }
        }
        for fl in &rec.fields {
            if let FieldName::Bare(w) = &fl.name {
                out.extend_from_slice(w.as_bytes());
                out.push(b' ');
                continue;
            }
            let name = fl.name.to_text();
            if name == "key" {
                self.key(fl, out);
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            match (&*name, &fl.value) {
                ("a0" | "a1" | "a2" | "a3", Value::Hex(x)) if is_syscall => {
                    let idx = usize::from(name.as_bytes()[1] - b'0');
                    let text = match super::argtext::syscall_arg(arch, syscall, idx, *x) {
                        ArgText::Text(t) => t,
                        ArgText::Uid(u) => self.user_name(u),
                        ArgText::Gid(g) => self.group_name(g),
                    };
                    out.extend_from_slice(text.as_bytes());
                }
                // ausearch prints nothing of a message without `=` (not even a space).
                ("msg", Value::Msg(m)) if !m.contains(&b'=') => continue,
                ("msg", Value::Msg(m)) => self.msg(m, out),
                _ => self.value(&name, fl, arch, is_syscall, out),
            }
            out.push(b' ');
        }
    }

    /// A user message's text, its `name=value` words interpreted as ausearch does: quotes
    /// dropped, hex strings decoded, ids named.
    fn msg(&mut self, m: &[u8], out: &mut Vec<u8>) {
        out.push(b'\'');
        for (i, word) in words(m).enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            let Some(eq) = word.iter().position(|&b| b == b'=') else {
                out.extend_from_slice(word);
                continue;
            };
            let (name, value) = (&word[..eq], &word[eq + 1..]);
            out.extend_from_slice(&word[..=eq]);
            let n = std::str::from_utf8(name).unwrap_or("");
            if let Some(inner) = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
            {
                push_printable(out, inner);
            } else if matches!(
                n,
                "uid" | "auid" | "euid" | "suid" | "fsuid" | "ouid" | "id"
            ) && value.iter().all(u8::is_ascii_digit)
                && !value.is_empty()
            {
                let text = self
                    .enriched(n)
                    .unwrap_or_else(|| self.user_name(super::items::strtoul(value) as u32));
                out.extend_from_slice(text.as_bytes());
            } else if matches!(n, "acct" | "exe" | "comm" | "cwd" | "cmd" | "name" | "path")
                && value.len() % 2 == 0
                && !value.is_empty()
                && value.iter().all(u8::is_ascii_hexdigit)
            {
                push_printable(out, &super::items::unescape(value));
            } else {
                out.extend_from_slice(value);
            }
        }
        out.push(b'\'');
    }

    /// The record's ENRICHED value for field `name` (`uid` -> `UID="root"`).
    fn enriched(&self, name: &str) -> Option<String> {
        self.names
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// A uid as auparse names it: `unset` for -1, the user, or `unknown(N)`.
    fn user_name(&mut self, u: u32) -> String {
        if u == u32::MAX {
            return "unset".into();
        }
        self.resolver
            .user(u)
            .map_or_else(|| format!("unknown({u})"), str::to_string)
    }

    fn group_name(&mut self, g: u32) -> String {
        if g == u32::MAX {
            return "unset".into();
        }
        self.resolver
            .group(g)
            .map_or_else(|| format!("unknown({g})"), str::to_string)
    }

    fn key(&mut self, fl: &Field, out: &mut Vec<u8>) {
        match &fl.value {
            Value::Str(k) => {
                for (i, part) in k.split(|&b| b == 1).enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(b"key=");
                    push_printable(out, part);
                }
                out.push(b' ');
            }
            v => {
                out.extend_from_slice(b"key=");
                self.scratch.clear();
                push_value(&mut self.scratch, v);
                out.extend_from_slice(&self.scratch);
                out.push(b' ');
            }
        }
    }

    fn value(&mut self, name: &str, fl: &Field, arch: u32, is_syscall: bool, out: &mut Vec<u8>) {
        let interp = match &fl.name {
            FieldName::Known(id) => id.def().interp,
            _ => Interp::None,
        };
        // A string kept verbatim because it was not written canonically (an odd hex case):
        // decode it as ausearch would.
        let decoded;
        let mut v = &fl.value;
        if let (Value::Text(t), FieldName::Known(id)) = (v, &fl.name) {
            if id.def().encoding == vigil_format::tables::Encoding::Str
                && !t.is_empty()
                && t.len() % 2 == 0
                && t.iter().all(u8::is_ascii_hexdigit)
            {
                decoded = Value::Str(super::items::unescape_all(t));
                v = &decoded;
            }
        }
        // -1 printed signed (OBJ_PID's oauid) is unset too.
        let n = match v {
            Value::SDec(-1) => Some(u64::from(u32::MAX)),
            _ => v.as_u64(),
        };
        let text = match (interp, n) {
            (Interp::Uid, Some(u)) => Some(
                self.enriched(name)
                    .unwrap_or_else(|| self.user_name(u as u32)),
            ),
            (Interp::Gid, Some(g)) => Some(
                self.enriched(name)
                    .unwrap_or_else(|| self.group_name(g as u32)),
            ),
            (Interp::Arch, Some(a)) => self
                .enriched(name)
                .or_else(|| arch_name(a as u32).map(str::to_string)),
            (Interp::Syscall, Some(s)) => self
                .enriched(name)
                .or_else(|| syscall_name(arch, s as u32).map(str::to_string)),
            (Interp::UringOp, Some(o)) => {
                vigil_rules::tables::uring_op_name(o as u32).map(str::to_string)
            }
            (Interp::Saddr, _) => match v {
                Value::HexBytes(b) => Some(sockaddr_text(b)),
                _ => None,
            },
            _ => Self::by_name(name, v, is_syscall),
        };
        match text {
            Some(t) => out.extend_from_slice(t.as_bytes()),
            None => match v {
                Value::Str(b) if name == "proctitle" => {
                    let spaced: Vec<u8> =
                        b.iter().map(|&c| if c == 0 { b' ' } else { c }).collect();
                    push_printable(out, &spaced);
                }
                // Strings end at a NUL, as C strings do (a leading NUL, as of an abstract
                // socket name, is skipped first, as auparse does).
                Value::Str(b) | Value::HexBytes(b) if !matches!(name, "saddr") => {
                    let b = b.strip_prefix(&[0]).unwrap_or(b);
                    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                    push_printable(out, &b[..end]);
                }
                _ => {
                    self.scratch.clear();
                    push_value(&mut self.scratch, v);
                    out.extend_from_slice(&self.scratch);
                }
            },
        }
    }

    fn by_name(name: &str, v: &Value, is_syscall: bool) -> Option<String> {
        match (name, v) {
            ("ses", Value::Dec(s)) if *s == u64::from(u32::MAX) => Some("unset".into()),
            ("exit", Value::SDec(e)) if is_syscall && *e < 0 && *e >= -4095 => {
                let errno = (-*e) as u32;
                let name = vigil_rules::tables::errno_name(errno)?;
                let msg = std::io::Error::from_raw_os_error(errno as i32).to_string();
                let msg = msg.split(" (os error").next().unwrap_or(&msg).to_string();
                Some(format!("{name}({msg})"))
            }
            ("mode", Value::Oct(m)) => Some(mode_text(*m)),
            ("list", _) => {
                let name = match v
                    .as_u64()
                    .or_else(|| v.as_bytes().map(super::items::strtoul))?
                {
                    0 => "user",
                    1 => "task",
                    4 => "exit",
                    5 => "exclude",
                    6 => "filesystem",
                    7 => "io_uring",
                    _ => return None,
                };
                Some(name.into())
            }
            (n, _) if super::argtext::is_cap_set(n) => {
                let hex = match v {
                    Value::Cap(c) | Value::Hex(c) => *c,
                    _ => u64::from_str_radix(std::str::from_utf8(v.as_bytes()?).ok()?, 16).ok()?,
                };
                Some(super::argtext::cap_set(hex))
            }
            ("res", _) => match v.as_bytes() {
                Some(b"1") => Some("yes".into()),
                Some(b"0") => Some("no".into()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The space-separated words of a user message (a double-quoted value keeps its spaces).
fn words(m: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < m.len() && m[i] == b' ' {
            i += 1;
        }
        if i >= m.len() {
            return None;
        }
        let start = i;
        let mut quoted = false;
        while i < m.len() && (quoted || m[i] != b' ') {
            if m[i] == b'"' {
                quoted = !quoted;
            }
            i += 1;
        }
        Some(&m[start..i])
    })
}

/// `file,644`, `dir,sticky,777` (auparse's mode text).
fn mode_text(m: u32) -> String {
    let kind = match m & 0o170_000 {
        0o100_000 => "file",
        0o040_000 => "dir",
        0o020_000 => "character-device",
        0o060_000 => "block-device",
        0o010_000 => "fifo",
        0o120_000 => "link",
        0o140_000 => "socket",
        _ => return format!("{m:o}"),
    };
    let mut s = kind.to_string();
    if m & 0o4000 != 0 {
        s.push_str(",suid");
    }
    if m & 0o2000 != 0 {
        s.push_str(",sgid");
    }
    if m & 0o1000 != 0 {
        s.push_str(",sticky");
    }
    let _ = write!(s, ",{:03o}", m & 0o777);
    s
}

/// Bytes with control bytes as `\ooo` (ausearch's tty escaping); others as they are.
fn push_printable(out: &mut Vec<u8>, b: &[u8]) {
    for &c in b {
        if c < 0x20 {
            out.extend_from_slice(format!("\\{c:03o}").as_bytes());
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interprets_a_syscall_event() {
        let mut ev = Ev {
            id: vigil_format::Identity::new(1_700_000_000, 123, 100),
            recs: Vec::new(),
            json: None,
        };
        for l in [
            "type=SYSCALL msg=audit(1700000000.123:100): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd5a3b1e50 a2=0 a3=0 items=1 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"cat\" exe=\"/usr/bin/cat\" key=610162",
            "type=PATH msg=audit(1700000000.123:100): item=0 name=\"/etc/passwd\" inode=1 dev=fe:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0",
            "type=PROCTITLE msg=audit(1700000000.123:100): proctitle=636174002F6574632F706173737764",
        ] {
            ev.recs.push(Rec::from_line(l.as_bytes().to_vec()).unwrap().1);
        }
        let mut out = Vec::new();
        Interpreter::new().event(&ev, &mut out);
        let s = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].starts_with("type=PROCTITLE msg=audit("), "{s}");
        assert!(
            lines[0].ends_with(".123:100) : proctitle=cat /etc/passwd "),
            "{s}"
        );
        assert!(lines[1].contains("mode=file,644 ouid=root"), "{s}");
        assert!(lines[2].contains("arch=x86_64 syscall=openat success=no exit=EACCES(Permission denied) a0=AT_FDCWD a1=0x7ffd5a3b1e50 a2=O_RDONLY"), "{s}");
        assert!(lines[2].contains("auid=unset uid=root"), "{s}");
        assert!(
            lines[2].contains("ses=unset comm=cat exe=/usr/bin/cat key=a key=b "),
            "{s}"
        );
    }
}
