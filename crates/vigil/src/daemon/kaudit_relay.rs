//! The kernel audit relay (`[kernel_audit] relay = true`, docs/daemon.md): records kernel
//! audit emits (user messages sent to the audit socket by PAM, sshd, `auditctl -m`; the
//! kernel's own `CONFIG_CHANGE`, `ANOM_*`, `AVC`, `SECCOMP` ...) read from the read-log
//! multicast group, which needs no audit daemon registration and so does not conflict with a
//! running auditd. Records keep the kernel's identity and text: the log shows them as auditd
//! would write them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vigil_format::text::parse_line;
use vigil_format::{
    Event, Field, FieldName, NoResolver, Record, RecordType, TextMode, TextWriter, Value,
};
use vigil_kaudit::{AuditClient, AuditReader, Record as KRecord, Stamp};
use vigil_rules::input::{EventInput, TaskInput};

use super::core::Daemon;
use crate::config::KernelAuditConfig;

/// `AUDIT_EOE`: the kernel's end of a multi-record event (auditd does not log it).
const EOE: u16 = 1320;
/// How long a started event waits for more records before it is written: kauditd sends
/// the records of one event back to back.
const IDLE: Duration = Duration::from_millis(50);
/// More records than this under one identity: write what is there and start again.
const MAX_RECORDS: usize = 512;

/// What the relay counts (shown by `vigil ctl -s`; losses also in-band as `VIGIL_LOSS`).
#[derive(Debug, Default)]
pub struct RelayCounters {
    /// Records written to the log.
    pub relayed: AtomicU64,
    /// Netlink receive-buffer overruns (ENOBUFS): each lost an unknown number of records.
    pub overruns: AtomicU64,
    /// Records dropped because they were not well-formed audit text (or datagrams that were
    /// not well-formed netlink).
    pub parse_errors: AtomicU64,
}

impl RelayCounters {
    /// Loss causes, by the names `vigil ctl -s` (`lost_NAME`) and `VIGIL_LOSS source=` use.
    pub fn lost(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            (
                "kaudit_overruns".to_string(),
                self.overruns.load(Ordering::Relaxed),
            ),
            (
                "kaudit_parse_errors".to_string(),
                self.parse_errors.load(Ordering::Relaxed),
            ),
        ])
    }

    pub fn stats(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([(
            "kaudit_relayed".to_string(),
            self.relayed.load(Ordering::Relaxed),
        )])
    }
}

/// Sets kernel audit's enabled flag to 1 while alive; puts the previous value back on drop.
pub struct KernelEnabled {
    client: AuditClient,
    previous: u32,
}

impl Drop for KernelEnabled {
    fn drop(&mut self) {
        match self.client.set_enabled(self.previous) {
            Ok(()) => log::info!("kernel audit enabled flag restored to {}", self.previous),
            Err(e) => log::error!(
                "could not restore the kernel audit enabled flag to {}: {e}",
                self.previous
            ),
        }
    }
}

/// What the daemon opens at start for `[kernel_audit]`.
pub struct Setup {
    pub reader: Option<AuditReader>,
    pub enabled: Option<KernelEnabled>,
}

impl Setup {
    /// Subscribes (when `relay`), enables kernel audit (when `enable` and it is off), and
    /// says in the daemon's log when user messages cannot arrive.
    pub fn open(cfg: &KernelAuditConfig) -> anyhow::Result<Setup> {
        let reader = if cfg.relay {
            Some(AuditReader::subscribe().map_err(|e| {
                anyhow::anyhow!(
                    "[kernel_audit] relay: cannot subscribe to kernel audit records: {e} \
                     (needs CAP_AUDIT_READ); set relay = false to run without it"
                )
            })?)
        } else {
            None
        };
        if !cfg.relay && !cfg.enable {
            return Ok(Setup {
                reader,
                enabled: None,
            });
        }
        let mut client = AuditClient::open()
            .map_err(|e| anyhow::anyhow!("[kernel_audit]: cannot open kernel audit: {e}"))?;
        let status = client
            .status()
            .map_err(|e| anyhow::anyhow!("[kernel_audit]: cannot read kernel audit status: {e}"))?;
        let mut enabled = None;
        if status.enabled == 0 && cfg.enable {
            client.set_enabled(1).map_err(|e| {
                anyhow::anyhow!("[kernel_audit] enable: cannot enable kernel audit: {e}")
            })?;
            log::info!(
                "kernel audit enabled (was 0; restored at exit): tasks forked from now on take \
                 audit's syscall slow path"
            );
            enabled = Some(KernelEnabled {
                client,
                previous: 0,
            });
        } else if status.enabled == 0 && cfg.relay {
            log::warn!(
                "kernel audit relay: kernel audit is disabled (enabled 0), so the kernel drops \
                 user messages (AUDIT_USER, USER_LOGIN, USER_AUTH, CRED_* ...) until it is \
                 enabled; set [kernel_audit] enable = true or run `auditctl -e 1`"
            );
        }
        Ok(Setup { reader, enabled })
    }
}

/// Groups records into events by their `audit(SEC.MSEC:SERIAL)` stamp.
#[derive(Debug, Default)]
pub struct Grouper {
    pending: Option<(Stamp, Vec<KRecord>)>,
}

impl Grouper {
    /// Takes one record; returns the events it closed (at most two: the pending one, and a
    /// record without a stamp, alone).
    pub fn push(&mut self, rec: KRecord) -> Vec<Vec<KRecord>> {
        let mut out = Vec::new();
        let Some(stamp) = rec.stamp() else {
            out.extend(self.flush());
            out.push(vec![rec]);
            return out;
        };
        let same = self.pending.as_ref().is_some_and(|(s, _)| *s == stamp);
        if !same {
            out.extend(self.flush());
        }
        if rec.msg_type == EOE {
            // Ends its event; an EOE of another (already written) event closes nothing new.
            if same {
                out.extend(self.flush());
            }
            return out;
        }
        let (_, recs) = self.pending.get_or_insert_with(|| (stamp, Vec::new()));
        recs.push(rec);
        if recs.len() >= MAX_RECORDS {
            out.extend(self.flush());
        }
        out
    }

    /// The pending event, if any.
    pub fn flush(&mut self) -> Option<Vec<KRecord>> {
        self.pending.take().map(|(_, recs)| recs)
    }
}

/// The records of one event as an event to write, each parsed from `type=NAME msg=TEXT` as
/// auditd would have written it. Records that do not parse are counted and left out.
pub fn to_event(records: &[KRecord], parse_errors: &AtomicU64) -> Option<Event> {
    let mut ev: Option<Event> = None;
    let mut line = Vec::with_capacity(512);
    let mut check = Vec::with_capacity(512);
    let mut writer = TextWriter::new(TextMode::Raw, NoResolver);
    for r in records {
        let t = RecordType(u32::from(r.msg_type));
        line.clear();
        line.extend_from_slice(b"type=");
        match t.name() {
            Some(n) => line.extend_from_slice(n.as_bytes()),
            None => line.extend_from_slice(format!("UNKNOWN[{}]", r.msg_type).as_bytes()),
        }
        line.extend_from_slice(b" msg=");
        line.extend_from_slice(&r.text);
        let (id, mut rec) = match parse_line(&line) {
            Ok(x) => x,
            Err(e) => {
                parse_errors.fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "kernel audit relay: record type {} column {}: {}",
                    r.msg_type,
                    e.column,
                    e.problem
                );
                continue;
            }
        };
        // The number the kernel sent, whatever name vigil's table gave it.
        rec.rtype = t;
        rec.type_name = None;
        // Text the parser does not give back byte for byte (AVC's double spaces, ...) is
        // kept as its words, so the log still shows exactly what the kernel sent.
        check.clear();
        writer.write_record(&id, &rec, &mut check);
        if check.strip_suffix(b"\n") != Some(&line[..]) {
            rec = verbatim(t, r.body());
        }
        match &mut ev {
            Some(e) => e.records.push(rec),
            None => {
                ev = Some(Event {
                    id,
                    records: vec![rec],
                });
            }
        }
    }
    ev
}

/// A record whose fields are the body's words as they are (empty words keep double spaces).
fn verbatim(t: RecordType, body: &[u8]) -> Record {
    let mut rec = Record::new(t);
    // Written as is: no special first-field spacing (EXECVE) applies.
    rec.type_name = Some(
        t.name()
            .map_or_else(|| format!("UNKNOWN[{}]", t.0), str::to_string),
    );
    rec.fields = body
        .split(|&b| b == b' ')
        .map(|w| Field {
            name: FieldName::Bare(String::from_utf8_lossy(w).into_owned()),
            value: Value::Null,
        })
        .collect();
    rec
}

fn dec_field(r: &KRecord, name: &str) -> Option<u32> {
    std::str::from_utf8(r.field(name)?).ok()?.parse().ok()
}

/// What `exclude` rules see of a relayed event: the sender's ids as its first record gives
/// them (unset login uid and session when absent).
pub fn exclude_input(records: &[KRecord]) -> EventInput {
    let first = records.first();
    let get = |name| first.and_then(|r| dec_field(r, name));
    EventInput {
        task: TaskInput {
            pid: get("pid").unwrap_or(0),
            uid: get("uid").unwrap_or(0),
            auid: get("auid").unwrap_or(u32::MAX),
            sessionid: get("ses").unwrap_or(u32::MAX),
            ..TaskInput::default()
        },
        ..EventInput::default()
    }
}

/// Runs the relay until `stop`: receive, group, write. Never fails: errors are counted.
pub fn run(mut reader: AuditReader, daemon: &Daemon, counters: &RelayCounters, stop: &AtomicBool) {
    let mut grouper = Grouper::default();
    let write = |recs: Vec<KRecord>| {
        let Some(ev) = to_event(&recs, &counters.parse_errors) else {
            return;
        };
        let n = ev.records.len() as u64;
        if daemon.relay(ev, &exclude_input(&recs)) {
            counters.relayed.fetch_add(n, Ordering::Relaxed);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        match reader.recv(Some(IDLE)) {
            Ok(Some(rec)) => grouper.push(rec).into_iter().for_each(write),
            Ok(None) => grouper.flush().into_iter().for_each(write),
            Err(vigil_kaudit::Error::Overrun) => {
                counters
                    .overruns
                    .store(reader.overruns(), Ordering::Relaxed);
            }
            Err(e @ vigil_kaudit::Error::Malformed { .. }) => {
                counters.parse_errors.fetch_add(1, Ordering::Relaxed);
                log::debug!("kernel audit relay: {e}");
            }
            Err(e) => {
                log::warn!("kernel audit relay: {e}");
                std::thread::sleep(IDLE);
            }
        }
    }
    grouper.flush().into_iter().for_each(write);
}

/// Starts [`run`] on its own thread.
pub fn spawn(
    reader: AuditReader,
    daemon: Arc<Daemon>,
    counters: Arc<RelayCounters>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("vigil-kaudit".into())
        .spawn(move || run(reader, &daemon, &counters, &stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: u16, text: &str) -> KRecord {
        KRecord::new(t, text.as_bytes())
    }

    fn written(ev: &Event) -> String {
        let mut out = Vec::new();
        TextWriter::new(TextMode::Raw, NoResolver).write_event(ev, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_come_out_as_auditd_writes_them() {
        let cases = [
            (1005, "USER", "audit(1764084000.123:77): pid=4242 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='relay-test x=\"y\" res=success'"),
            (1112, "USER_LOGIN", "audit(1764084000.123:78): pid=9 uid=0 auid=1000 ses=3 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=10.0.0.1 addr=10.0.0.1 terminal=/dev/pts/1 res=success'"),
            (1305, "CONFIG_CHANGE", "audit(1764084000.500:79): op=set audit_enabled=1 old=0 auid=0 ses=1 res=1"),
            (1326, "SECCOMP", "audit(1764084001.001:80): auid=1000 uid=1000 gid=1000 ses=2 pid=77 comm=\"sh\" exe=\"/bin/dash\" sig=31 arch=c000003e syscall=39 compat=0 ip=0x7f0 code=0x0"),
            (1400, "AVC", "audit(1764084001.002:81): avc:  denied  { read } for  pid=1 comm=\"a b\" scontext=x tcontext=y tclass=file permissive=0"),
        ];
        for (t, name, text) in cases {
            let errs = AtomicU64::new(0);
            let ev = to_event(&[rec(t, text)], &errs).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(written(&ev), format!("type={name} msg={text}\n"));
            assert_eq!(errs.load(Ordering::Relaxed), 0);
        }
    }

    #[test]
    fn unknown_types_are_written_by_number() {
        let errs = AtomicU64::new(0);
        let text = "audit(1764084000.123:90): a=1";
        let ev = to_event(&[rec(1999, text)], &errs).unwrap();
        assert_eq!(written(&ev), format!("type=UNKNOWN[1999] msg={text}\n"));
    }

    #[test]
    fn malformed_records_are_counted_not_fatal() {
        let errs = AtomicU64::new(0);
        let recs = [
            rec(1005, "garbage"),
            rec(1005, "audit(1.002:3): pid=1 msg='ok'"),
            rec(1005, ""),
        ];
        let ev = to_event(&recs, &errs).unwrap();
        assert_eq!(ev.records.len(), 1);
        assert_eq!(errs.load(Ordering::Relaxed), 2);
        assert!(to_event(&[rec(1005, "\u{1}")], &errs).is_none());
        assert_eq!(errs.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn grouping_by_stamp_and_eoe() {
        let mut g = Grouper::default();
        assert!(g.push(rec(1300, "audit(1.001:5): a=1")).is_empty());
        assert!(g.push(rec(1302, "audit(1.001:5): b=2")).is_empty());
        // EOE closes event 5 and is not kept.
        let out = g.push(rec(EOE, "audit(1.001:5): "));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 2);
        assert!(g.push(rec(1005, "audit(1.002:6): x=1")).is_empty());
        // A new identity closes the previous event.
        let out = g.push(rec(1005, "audit(1.002:7): x=2"));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][0].text, b"audit(1.002:6): x=1");
        // A stray EOE of an event already written closes the pending one, adds nothing.
        let out = g.push(rec(EOE, "audit(1.001:5): "));
        assert_eq!(out.len(), 1);
        assert!(g.flush().is_none());
        // No stamp: closed alone (to be counted as a parse error).
        let out = g.push(rec(1005, "nonsense"));
        assert_eq!(out, vec![vec![rec(1005, "nonsense")]]);
    }

    #[test]
    fn exclude_input_reads_the_sender() {
        let i = exclude_input(&[rec(
            1005,
            "audit(1.2:3): pid=42 uid=7 auid=1000 ses=3 msg='x'",
        )]);
        assert_eq!(
            (i.task.pid, i.task.uid, i.task.auid, i.task.sessionid),
            (42, 7, 1000, 3)
        );
        let i = exclude_input(&[rec(1305, "audit(1.2:3): op=set")]);
        assert_eq!((i.task.auid, i.task.sessionid), (u32::MAX, u32::MAX));
    }
}
