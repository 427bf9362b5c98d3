//! Records the daemon writes itself (not built from a kernel event): daemon lifecycle, rule
//! changes, container id changes, loss reports. Field order follows auditd / the kernel.

use crate::model::{Field, Record, Value};
use crate::tables::{f, rt};

/// Who did something (for DAEMON_* and `CONFIG_CHANGE` records).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    pub pid: u32,
    pub uid: u32,
    /// `u32::MAX` when unset.
    pub auid: u32,
    /// `u32::MAX` when unset.
    pub ses: u32,
}

fn res(ok: bool) -> Value {
    Value::tok(if ok { "success" } else { "failed" })
}

fn word(s: &str) -> Value {
    Value::Tok(s.to_string().into())
}

/// `DAEMON_START`: `op=start ver= format= kernel= auid= pid= uid= ses= res=`.
pub fn daemon_start(version: &str, format: &str, kernel: &str, who: &Actor, ok: bool) -> Record {
    Record::with_fields(
        rt::DAEMON_START,
        vec![
            Field::new(f::OP, Value::tok("start")),
            Field::new(f::VER, word(version)),
            Field::new(f::FORMAT, word(format)),
            Field::new(f::KERNEL, word(kernel)),
            Field::new(f::AUID, Value::Dec(who.auid.into())),
            Field::new(f::PID, Value::Dec(who.pid.into())),
            Field::new(f::UID, Value::Dec(who.uid.into())),
            Field::new(f::SES, Value::Dec(who.ses.into())),
            Field::new(f::RES, res(ok)),
        ],
    )
}

fn daemon_op(rtype: crate::tables::RecordType, op: &str, who: &Actor, ok: bool) -> Record {
    Record::with_fields(
        rtype,
        vec![
            Field::new(f::OP, word(op)),
            Field::new(f::AUID, Value::Dec(who.auid.into())),
            Field::new(f::UID, Value::Dec(who.uid.into())),
            Field::new(f::SES, Value::Dec(who.ses.into())),
            Field::new(f::PID, Value::Dec(who.pid.into())),
            Field::new(f::RES, res(ok)),
        ],
    )
}

/// `DAEMON_END`: `op=terminate auid= uid= ses= pid= res=`; `who` is the sender of the signal.
pub fn daemon_end(who: &Actor) -> Record {
    daemon_op(rt::DAEMON_END, "terminate", who, true)
}

/// `DAEMON_ROTATE`: `op=rotate-logs ...`; `who` is the sender of the signal.
pub fn daemon_rotate(who: &Actor) -> Record {
    daemon_op(rt::DAEMON_ROTATE, "rotate-logs", who, true)
}

/// `DAEMON_ABORT`: `op=abort ... res=failed reason=..`.
pub fn daemon_abort(who: &Actor, reason: &str) -> Record {
    let mut r = daemon_op(rt::DAEMON_ABORT, "abort", who, false);
    r.push(f::REASON, word(reason));
    r
}

/// `CONFIG_CHANGE` as the kernel writes it for a rule change:
/// `auid= ses= op=add_rule|remove_rule key= list= res=`.
pub fn config_change(who: &Actor, op: &str, key: Option<&[u8]>, list: u32, ok: bool) -> Record {
    Record::with_fields(
        rt::CONFIG_CHANGE,
        vec![
            Field::new(f::AUID, Value::Dec(who.auid.into())),
            Field::new(f::SES, Value::Dec(who.ses.into())),
            Field::new(f::OP, word(op)),
            Field::new(f::KEY, Value::opt_str(key)),
            Field::new(f::LIST, Value::Dec(list.into())),
            Field::new(f::RES, Value::Dec(u64::from(ok))),
        ],
    )
}

/// `CONTAINER_OP` (1020): `op=set opid= contid= old-contid= pid= uid= auid= ses= res=`.
/// `old` is `None` when the task had no container id (written as `18446744073709551615`,
/// the proposal's -1).
pub fn container_op(who: &Actor, opid: u32, contid: u64, old: Option<u64>, ok: bool) -> Record {
    Record::with_fields(
        rt::CONTAINER_OP,
        vec![
            Field::new(f::OP, Value::tok("set")),
            Field::new(f::OPID, Value::Dec(opid.into())),
            Field::new(f::CONTID, Value::Dec(contid)),
            Field::new(f::OLD_CONTID, Value::Dec(old.unwrap_or(u64::MAX))),
            Field::new(f::PID, Value::Dec(who.pid.into())),
            Field::new(f::UID, Value::Dec(who.uid.into())),
            Field::new(f::AUID, Value::Dec(who.auid.into())),
            Field::new(f::SES, Value::Dec(who.ses.into())),
            Field::new(f::RES, res(ok)),
        ],
    )
}

/// `VIGIL_LOSS` (3001): `source= lost= total= [cpu=]`: `lost` events were dropped at
/// `source` (`ringbuf`, `queue`, `record_too_big`, ...) since the previous report, `total`
/// since start.
pub fn loss(source: &str, lost: u64, total: u64, cpu: Option<u32>) -> Record {
    let mut r = Record::with_fields(
        rt::VIGIL_LOSS,
        vec![
            Field::new(f::SOURCE, word(source)),
            Field::new(f::LOST, Value::Dec(lost)),
            Field::new(f::TOTAL, Value::Dec(total)),
        ],
    );
    if let Some(c) = cpu {
        r.push(f::CPU, Value::Dec(c.into()));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Identity, NoResolver, TextMode, TextWriter};

    fn text(r: Record) -> String {
        let mut w = TextWriter::new(TextMode::Raw, NoResolver);
        let mut out = Vec::new();
        w.write_event(
            &Event {
                id: Identity::new(1, 2, 3),
                records: vec![r],
            },
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn daemon_records_read_like_auditd() {
        let who = Actor {
            pid: 42,
            uid: 0,
            auid: u32::MAX,
            ses: u32::MAX,
        };
        assert_eq!(
            text(daemon_start("0.1.0", "raw", "6.18.0", &who, true)),
            "type=DAEMON_START msg=audit(1.002:3): op=start ver=0.1.0 format=raw kernel=6.18.0 auid=4294967295 pid=42 uid=0 ses=4294967295 res=success\n"
        );
        assert_eq!(
            text(loss("ringbuf", 5, 17, Some(1))),
            "type=VIGIL_LOSS msg=audit(1.002:3): source=ringbuf lost=5 total=17 cpu=1\n"
        );
        assert!(text(container_op(&who, 7, 9, None, true))
            .contains("op=set opid=7 contid=9 old-contid=18446744073709551615 "));
        assert!(text(config_change(&who, "add_rule", None, 4, true))
            .ends_with("op=add_rule key=(null) list=4 res=1\n"));
    }
}
