//! Records the daemon writes about itself, field for field as auditd 3.0.9 and the kernel
//! write them (`DAEMON_*` as auditd, `CONFIG_CHANGE` as kernel/auditfilter.c and audit.c,
//! `USER` as `auditctl -m`).

use vigil_format::raw::RawUserMsg;
use vigil_format::{
    build_event, f, rt, Event, Field, FieldName, RawEvent, RawKind, RawTask, Record, RecordType,
    Value,
};
use vigil_rules::ast::Rule;
use vigil_rules::kernel::KernelRule;

use crate::ctl::peer::Peer;
use crate::logfile::Stamper;

/// Builds records with one stamper (time and serial).
pub struct Records<'a> {
    pub stamper: &'a Stamper,
}

fn other(name: &str, value: Value) -> Field {
    Field {
        name: FieldName::Other(name.to_string()),
        value,
    }
}

fn res_word(ok: bool) -> Value {
    Value::tok(if ok { "success" } else { "failed" })
}

/// `uname -r`.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "?".into(), |s| s.trim().chars().take(56).collect())
}

impl Records<'_> {
    fn event(&self, r: Record) -> Event {
        Event {
            id: self.stamper.now(),
            records: vec![r],
        }
    }

    /// `DAEMON_START op=start ver= format= kernel= auid= pid= uid= ses= res=success`.
    pub fn start(&self, format: &str) -> Event {
        let me = Peer::this_process();
        let mut r = Record::new(rt::DAEMON_START);
        r.push(f::OP, Value::tok("start"));
        r.push(f::VER, Value::tok(env!("CARGO_PKG_VERSION")));
        r.push(f::FORMAT, Value::Tok(format.to_string().into()));
        r.push(f::KERNEL, Value::Tok(kernel_release().into()));
        r.push(f::AUID, Value::Dec(me.auid.into()));
        r.push(f::PID, Value::Dec(me.pid.into()));
        r.push(f::UID, Value::Dec(me.uid.into()));
        r.push(f::SES, Value::Dec(me.ses.into()));
        r.push(f::RES, res_word(true));
        self.event(r)
    }

    /// `op=OP auid= uid= ses= pid= res=` naming who asked (signal sender or ctl client).
    fn by_peer(&self, rtype: RecordType, op: &'static str, who: &Peer, ok: bool) -> Event {
        let mut r = Record::new(rtype);
        r.push(f::OP, Value::tok(op));
        r.push(f::AUID, Value::Dec(who.auid.into()));
        r.push(f::UID, Value::Dec(who.uid.into()));
        r.push(f::SES, Value::Dec(who.ses.into()));
        r.push(f::PID, Value::Dec(who.pid.into()));
        r.push(f::RES, res_word(ok));
        self.event(r)
    }

    /// `DAEMON_END op=terminate` naming the sender of SIGTERM/SIGINT.
    pub fn end(&self, who: &Peer) -> Event {
        self.by_peer(rt::DAEMON_END, "terminate", who, true)
    }

    /// `DAEMON_ROTATE op=rotate-logs`.
    pub fn rotate(&self, who: &Peer) -> Event {
        self.by_peer(rt::DAEMON_ROTATE, "rotate-logs", who, true)
    }

    /// `DAEMON_RESUME op=resume-logging`.
    pub fn resume(&self, who: &Peer) -> Event {
        self.by_peer(rt::DAEMON_RESUME, "resume-logging", who, true)
    }

    /// `DAEMON_CONFIG op=reconfigure state=changed|no-change ... res=`.
    pub fn reconfigure(&self, who: &Peer, ok: bool) -> Event {
        let mut ev = self.by_peer(rt::DAEMON_CONFIG, "reconfigure", who, ok);
        let state = Value::tok(if ok { "changed" } else { "no-change" });
        ev.records[0].fields.insert(1, other("state", state));
        ev
    }

    /// `DAEMON_ABORT op=abort reason=WORD auid= pid= res=failed` (`reason`: a short word such
    /// as `disk_full`, `low_space`, `source_error`; the details go to the daemon's log).
    pub fn abort(&self, reason: &str) -> Event {
        let me = Peer::this_process();
        let mut r = Record::new(rt::DAEMON_ABORT);
        r.push(f::OP, Value::tok("abort"));
        r.fields
            .push(other("reason", Value::Tok(reason.to_string().into())));
        r.push(f::AUID, Value::Dec(me.auid.into()));
        r.push(f::PID, Value::Dec(me.pid.into()));
        r.push(f::RES, res_word(false));
        self.event(r)
    }

    /// `CONFIG_CHANGE auid= ses= op=add_rule|remove_rule key= list= res=1|0`, as the kernel
    /// logs a rule change.
    pub fn rule_change(&self, who: &Peer, op: &'static str, rule: &Rule, ok: bool) -> Event {
        let mut r = Record::new(rt::CONFIG_CHANGE);
        r.push(f::AUID, Value::Dec(who.auid.into()));
        r.push(f::SES, Value::Dec(who.ses.into()));
        r.push(f::OP, Value::tok(op));
        let k = KernelRule::from_rule(rule);
        r.push(f::KEY, Value::opt_str(k.key().map(str::as_bytes)));
        r.push(f::LIST, Value::Dec(rule.list.kernel_number().into()));
        r.push(f::RES, Value::Dec(u64::from(ok)));
        self.event(r)
    }

    /// `CONFIG_CHANGE op=set NAME=NEW old=OLD auid= ses= res=1|0`, as `auditctl -e/-f/-b/-r`.
    pub fn setting_change(&self, who: &Peer, name: &str, new: u32, old: u32, ok: bool) -> Event {
        let mut r = Record::new(rt::CONFIG_CHANGE);
        r.push(f::OP, Value::tok("set"));
        r.fields.push(other(name, Value::Dec(new.into())));
        r.push(f::OLD, Value::Dec(old.into()));
        r.push(f::AUID, Value::Dec(who.auid.into()));
        r.push(f::SES, Value::Dec(who.ses.into()));
        r.push(f::RES, Value::Dec(u64::from(ok)));
        self.event(r)
    }

    /// `CONFIG_CHANGE pid= uid= auid= ses= op=add_rule|remove_rule audit_enabled=2 res=0`:
    /// a rule change refused because the configuration is immutable.
    pub fn locked_refusal(&self, who: &Peer, op: &'static str) -> Event {
        let mut r = Record::new(rt::CONFIG_CHANGE);
        r.push(f::PID, Value::Dec(who.pid.into()));
        r.push(f::UID, Value::Dec(who.uid.into()));
        r.push(f::AUID, Value::Dec(who.auid.into()));
        r.push(f::SES, Value::Dec(who.ses.into()));
        r.push(f::OP, Value::tok(op));
        r.push(f::AUDIT_ENABLED, Value::Dec(2));
        r.push(f::RES, Value::Dec(0));
        self.event(r)
    }

    /// `USER pid= uid= auid= ses= msg='TEXT exe="..." hostname=? addr=? terminal=.. res=success'`
    /// as `auditctl -m TEXT` makes the kernel write it.
    pub fn user_message(&self, who: &Peer, text: &str) -> Event {
        let full = format!(
            "{text} exe=\"{}\" hostname=? addr=? terminal={} res=success",
            who.exe.as_deref().unwrap_or("?"),
            who.tty.as_deref().unwrap_or("?")
        );
        let raw = RawEvent {
            kind: RawKind::User,
            task: RawTask {
                pid: who.pid,
                uid: who.uid,
                auid: who.auid,
                ses: who.ses,
                ..RawTask::default()
            },
            user: Some(RawUserMsg {
                rtype: rt::USER.0,
                text: full.into_bytes().into(),
            }),
            ..RawEvent::default()
        };
        build_event(&raw, self.stamper.now(), &[])
    }
}
