//! Audit logs read back as events (vigil-format's reader), selected by ausearch where the test
//! names a key: ausearch is the oracle for what a reader finds, the reader gives the fields.

use std::io::BufReader;
use std::path::Path;
use std::process::Command;

use vigil_format::text::writer::push_value;
use vigil_format::{Event, Record, TextReader, Value};

/// One event as read from a log.
#[derive(Debug, Clone)]
pub struct Ev(pub Event);

/// A value as text: strings decoded (hex ones too), `(null)`, numbers as written.
pub fn text(v: &Value) -> String {
    match v {
        Value::Str(b) | Value::Text(b) => String::from_utf8_lossy(b).into_owned(),
        other => {
            let mut out = Vec::new();
            push_value(&mut out, other);
            String::from_utf8_lossy(&out).into_owned()
        }
    }
}

/// One PATH record's fields.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PathItem {
    pub item: u32,
    pub name: String,
    pub inode: Option<u64>,
    pub dev: Option<String>,
    pub mode: Option<String>,
    pub ouid: Option<u32>,
    pub ogid: Option<u32>,
    pub nametype: String,
}

impl Ev {
    /// `SEC.MSEC:SERIAL`.
    pub fn stamp(&self) -> String {
        let id = &self.0.id;
        format!("{}.{:03}:{}", id.sec, id.msec, id.serial)
    }

    /// Milliseconds since the epoch.
    pub fn millis(&self) -> u64 {
        self.0.id.millis()
    }

    pub fn types(&self) -> Vec<String> {
        self.0
            .records
            .iter()
            .map(|r| r.type_text().into_owned())
            .collect()
    }

    pub fn recs<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.0
            .records
            .iter()
            .filter(move |r| r.type_text().as_ref() == ty)
    }

    pub fn rec(&self, ty: &str) -> Option<&Record> {
        self.0.records.iter().find(|r| r.type_text() == ty)
    }

    /// Field `name` of the first `ty` record, as text.
    pub fn get(&self, ty: &str, name: &str) -> Option<String> {
        self.rec(ty)?.get_by_name(name).map(text)
    }

    /// A SYSCALL field as text.
    pub fn sc(&self, name: &str) -> Option<String> {
        self.get("SYSCALL", name)
    }

    /// A numeric SYSCALL field (decimal or hex as the format writes it).
    pub fn sc_num(&self, name: &str) -> Option<i64> {
        let v = self.rec("SYSCALL")?.get_by_name(name)?;
        v.as_i64()
            .or_else(|| v.as_u64().map(|n| n as i64))
            .or_else(|| text(v).parse().ok())
    }

    pub fn is_syscall(&self) -> bool {
        self.rec("SYSCALL").is_some()
    }

    pub fn pid(&self) -> u32 {
        self.sc_num("pid").unwrap_or(-1) as u32
    }

    pub fn nr(&self) -> i64 {
        self.sc_num("syscall").unwrap_or(-1)
    }

    pub fn success(&self) -> Option<bool> {
        self.sc("success").map(|s| s == "yes")
    }

    pub fn exit(&self) -> Option<i64> {
        self.sc_num("exit")
    }

    /// The event's keys (split at 0x01); empty for `key=(null)`.
    pub fn keys(&self) -> Vec<String> {
        self.0
            .keys()
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.keys().iter().any(|k| k == key)
    }

    pub fn paths(&self) -> Vec<PathItem> {
        self.recs("PATH")
            .map(|r| {
                let s = |n: &str| r.get_by_name(n).map(text);
                let n = |n: &str| r.get_by_name(n).and_then(Value::as_u64);
                PathItem {
                    item: n("item").unwrap_or(u64::MAX) as u32,
                    name: s("name").unwrap_or_default(),
                    inode: n("inode"),
                    dev: s("dev"),
                    mode: s("mode"),
                    ouid: n("ouid").map(|v| v as u32),
                    ogid: n("ogid").map(|v| v as u32),
                    nametype: s("nametype").unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The command line from the EXECVE records.
    pub fn argv(&self) -> Vec<Vec<u8>> {
        self.0.execve_argv()
    }

    /// PROCTITLE's bytes.
    pub fn proctitle(&self) -> Option<Vec<u8>> {
        self.rec("PROCTITLE")?
            .get_by_name("proctitle")?
            .as_bytes()
            .map(<[u8]>::to_vec)
    }
}

/// Every event of audit text, panicking on a line the reader refuses (with its position).
pub fn parse_events(text: &[u8], name: &str) -> Vec<Ev> {
    TextReader::new(BufReader::new(text), name)
        .map(|r| Ev(r.unwrap_or_else(|e| panic!("{name}: {e}"))))
        .collect()
}

/// Every event of the log file at `path`.
pub fn log_events(path: &Path) -> Vec<Ev> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_events(&bytes, &path.display().to_string())
}

/// `ausearch -if LOG ARGS... --raw`, its output parsed into events. No match is an empty list;
/// any other ausearch failure panics with its stderr.
pub fn ausearch_events(log: &Path, args: &[&str]) -> Vec<Ev> {
    let out = Command::new("ausearch")
        .arg("-if")
        .arg(log)
        .args(args)
        .arg("--raw")
        .env("LC_ALL", "C")
        .output()
        .expect("run ausearch");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Exit 1 is "no match" (ausearch prints nothing with --raw, `<no matches>` without).
        assert!(
            out.status.code() == Some(1) && (stderr.is_empty() || stderr.contains("<no matches>")),
            "ausearch -if {} {args:?} failed ({}): {stderr}",
            log.display(),
            out.status
        );
        return Vec::new();
    }
    parse_events(&out.stdout, "ausearch output")
}

/// `ausearch -i` (interpreted) text for `args`, for checks on interpretation.
pub fn ausearch_interpreted(log: &Path, args: &[&str]) -> String {
    let out = Command::new("ausearch")
        .arg("-if")
        .arg(log)
        .args(args)
        .arg("-i")
        .env("LC_ALL", "C")
        .output()
        .expect("run ausearch");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Short text of events for failure messages.
pub fn show(evs: &[Ev]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for e in evs {
        let _ = writeln!(
            s,
            "{} {:?} nr={} success={:?} exit={:?} pid={} keys={:?} paths={:?}",
            e.stamp(),
            e.types(),
            e.nr(),
            e.success(),
            e.exit(),
            e.pid(),
            e.keys(),
            e.paths()
                .iter()
                .map(|p| (&p.name, &p.nametype))
                .collect::<Vec<_>>()
        );
    }
    s
}
