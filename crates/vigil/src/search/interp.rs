//! `-i`: records with numbers turned into names, laid out as ausearch lays them out
//! (`type=T msg=audit(DATE TIME.MS:SERIAL) : name=value ...`, records newest first). The
//! interpretations cover what audit logs mostly hold (ids, arch, syscall, errno, mode, socket
//! addresses, decoded strings); other values print as written.

use std::fmt::Write as _;

use vigil_format::resolve::{arch_name, sockaddr_text, syscall_name};
use vigil_format::tables::Interp;
use vigil_format::text::writer::push_value;
use vigil_format::{Field, FieldName, Record, Resolver, SystemResolver, Value};

use super::record::{Ev, Rec};
use super::time;

/// Interprets records for `-i`.
pub struct Interpreter {
    resolver: SystemResolver,
    scratch: Vec<u8>,
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
            self.value(&name, fl, arch, is_syscall, out);
            out.push(b' ');
        }
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
        let v = &fl.value;
        let n = v.as_u64();
        let text = match (interp, n) {
            (Interp::Uid, Some(u)) => Some(if u == u64::from(u32::MAX) {
                "unset".to_string()
            } else {
                self.resolver
                    .user(u as u32)
                    .map_or_else(|| format!("unknown({u})"), str::to_string)
            }),
            (Interp::Gid, Some(g)) => Some(if g == u64::from(u32::MAX) {
                "unset".to_string()
            } else {
                self.resolver
                    .group(g as u32)
                    .map_or_else(|| format!("unknown({g})"), str::to_string)
            }),
            (Interp::Arch, Some(a)) => arch_name(a as u32).map(str::to_string),
            (Interp::Syscall, Some(s)) => syscall_name(arch, s as u32).map(str::to_string),
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
                Value::Str(b) | Value::HexBytes(b) if !matches!(name, "saddr") => {
                    push_printable(out, b);
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
            ("a0" | "a1" | "a2" | "a3", Value::Hex(x)) if is_syscall => Some(format!("0x{x:x}")),
            ("mode", Value::Oct(m)) => Some(mode_text(*m)),
            ("cap_fp" | "cap_fi" | "cap_fe", Value::Cap(0)) => Some("none".into()),
            ("res", _) => match v.as_bytes() {
                Some(b"1") => Some("yes".into()),
                Some(b"0") => Some("no".into()),
                _ => None,
            },
            _ => None,
        }
    }
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

/// Bytes with control and non-ASCII bytes as `\ooo` (ausearch's tty escaping).
fn push_printable(out: &mut Vec<u8>, b: &[u8]) {
    for &c in b {
        if (0x20..0x7f).contains(&c) {
            out.push(c);
        } else {
            out.extend_from_slice(format!("\\{c:03o}").as_bytes());
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
        assert!(lines[2].contains("arch=x86_64 syscall=openat success=no exit=EACCES(Permission denied) a0=0xffffff9c"), "{s}");
        assert!(lines[2].contains("auid=unset uid=root"), "{s}");
        assert!(
            lines[2].contains("ses=unset comm=cat exe=/usr/bin/cat key=a key=b "),
            "{s}"
        );
    }
}
