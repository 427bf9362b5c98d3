//! [`UringEvent`] to vigil's raw event (URINGOP, PATH, CWD, SOCKADDR) and to the rule
//! evaluator's input; [`Denial`] to a `VIGIL_POLICY` audit event.

use vigil_abi::{
    Path, VIGIL_POL_HOOK_BIND4, VIGIL_POL_HOOK_BIND6, VIGIL_POL_HOOK_CONNECT4,
    VIGIL_POL_HOOK_CONNECT6, VIGIL_POL_HOOK_CREATE, VIGIL_POL_HOOK_LSM_CREDS,
    VIGIL_POL_HOOK_LSM_SOCKET, VIGIL_POL_HOOK_LSM_SQPOLL, VIGIL_POL_HOOK_SENDMSG4,
    VIGIL_POL_HOOK_SENDMSG6, VIGIL_POL_HOOK_SUBMIT, VIGIL_POL_HOW_KILLED, VIGIL_POL_HOW_LSM,
    VIGIL_POL_HOW_PREVENTED, VIGIL_POL_WHAT_OP, VIGIL_POL_WHAT_PERSONALITY, VIGIL_POL_WHAT_SQPOLL,
    VIGIL_UOP_F_INIT_FAILED, VIGIL_UOP_F_PERSONALITY, VIGIL_URING_CTX_IOWQ, VIGIL_URING_CTX_SQPOLL,
};
use vigil_format::model::{Event, Identity, Record, Value};
use vigil_format::raw::{RawCreds, RawUring, UringCtx};
use vigil_format::{f, rt, Bytes, RawEvent, RawKind, RawPath};
use vigil_rules::ast::FilterList;
use vigil_rules::input::EventInput;

use super::join::{Denial, UringEvent};
use super::ops;
use crate::convert::{c_str, dev, task, task_input, Clock};
use crate::decode::PathItem;

/// `io_uring_setup` and `io_uring_enter` on x86-64.
pub const SYS_IO_URING_SETUP: u32 = 425;
pub const SYS_IO_URING_ENTER: u32 = 426;

const SOCKFS_MAGIC: u32 = 0x534f_434b;
const PIPEFS_MAGIC: u32 = 0x5049_5045;
const ANON_INODE_FS_MAGIC: u32 = 0x0904_1934;

fn ctx(c: u32) -> UringCtx {
    match c {
        VIGIL_URING_CTX_SQPOLL => UringCtx::Sqpoll,
        VIGIL_URING_CTX_IOWQ => UringCtx::Iowq,
        _ => UringCtx::Inline,
    }
}

/// How the kernel names a file that is not in a directory tree (as /proc/PID/fd shows it).
fn special_name(o: &Path, walked: Option<&[u8]>) -> Option<Vec<u8>> {
    let tail = || {
        walked
            .map(|w| String::from_utf8_lossy(w.strip_prefix(b"/").unwrap_or(w)).into_owned())
            .unwrap_or_default()
    };
    match o.fs_magic {
        SOCKFS_MAGIC => Some(format!("socket:[{}]", o.ino).into_bytes()),
        PIPEFS_MAGIC => Some(format!("pipe:[{}]", o.ino).into_bytes()),
        ANON_INODE_FS_MAGIC => Some(format!("anon_inode:{}", tail()).into_bytes()),
        _ => None,
    }
}

fn raw_path(opcode: u32, named: Option<&PathItem>, object: Option<&PathItem>) -> RawPath {
    let index = named.or(object).map_or(0, |p| p.index);
    let obj = object.and_then(|p| p.object.as_ref());
    let walked = object
        .and_then(|p| p.full.as_ref())
        .map(|c| c.bytes.as_slice());
    let name = named
        .and_then(|p| p.name.as_ref())
        .filter(|c| !c.faulted())
        .map(|c| c.bytes.clone())
        .or_else(|| obj.and_then(|o| special_name(o, walked)))
        .or_else(|| walked.map(<[u8]>::to_vec));
    let mut rp = RawPath {
        name: name.map(Bytes),
        nametype: ops::nametype(opcode, index),
        ..RawPath::default()
    };
    if let Some(o) = obj {
        rp.inode = Some(o.ino);
        rp.dev = dev(o.dev);
        rp.mode = o.mode;
        rp.ouid = o.uid;
        rp.ogid = o.gid;
        rp.rdev = dev(o.rdev);
        rp.fstype = o.fs_magic;
    }
    rp
}

/// PATH items: the names captured at submit merged with the objects found at submit (CLOSE)
/// or completion, by item index.
fn paths(ev: &UringEvent) -> Vec<RawPath> {
    let opcode = ev.submit.op.opcode;
    let sub = &ev.submit.items.paths;
    let done: &[PathItem] = ev.complete.as_ref().map_or(&[], |c| &c.items.paths);
    let mut idx: Vec<u8> = sub.iter().chain(done).map(|p| p.index).collect();
    idx.sort_unstable();
    idx.dedup();
    idx.into_iter()
        .map(|i| {
            let s = sub.iter().find(|p| p.index == i);
            let d = done.iter().find(|p| p.index == i);
            let object = d
                .filter(|p| p.object.is_some())
                .or(s.filter(|p| p.object.is_some()));
            raw_path(opcode, s, object.or(d))
        })
        .collect()
}

/// The op's result: the completion's `res`, the init error, or 0 when no completion was
/// posted (`IOSQE_CQE_SKIP_SUCCESS`: it succeeded).
pub fn result(ev: &UringEvent) -> i64 {
    if let Some(c) = &ev.complete {
        return i64::from(c.cqe.res);
    }
    if ev.submit.op.flags & VIGIL_UOP_F_INIT_FAILED != 0 {
        return i64::from(ev.submit.op.error);
    }
    0
}

/// The borrowed credentials, when the SQE named a personality.
pub fn personality(ev: &UringEvent) -> Option<RawCreds> {
    let op = &ev.submit.op;
    (op.flags & VIGIL_UOP_F_PERSONALITY != 0).then_some(RawCreds {
        id: op.personality,
        uid: op.creds.uid,
        euid: op.creds.euid,
        suid: op.creds.suid,
        fsuid: op.creds.fsuid,
        gid: op.creds.gid,
        egid: op.creds.egid,
        sgid: op.creds.sgid,
        fsgid: op.creds.fsgid,
    })
}

/// The raw event of one op. `args` are the op's fd, flags (open flags, unlink/rename flags),
/// mode and the SQE's `user_data` (written as a0..a3 of the companion SYSCALL record).
pub fn to_raw(ev: &UringEvent, clock: &Clock) -> RawEvent {
    let op = &ev.submit.op;
    let tai = ev
        .complete
        .as_ref()
        .map_or(op.hdr.tai_ns, |c| c.cqe.hdr.tai_ns);
    let run_ctx = ev.complete.as_ref().map_or(op.ctx, |c| c.cqe.ctx);
    let sockaddr = ev
        .submit
        .items
        .sockaddr
        .as_ref()
        .or(ev.complete.as_ref().and_then(|c| c.items.sockaddr.as_ref()))
        .map(|c| Bytes(c.bytes.clone()));
    RawEvent {
        ts_ns: clock.realtime_ns(tai),
        kind: RawKind::Uring,
        arch: 0,
        nr: op.opcode,
        args: [
            i64::from(op.fd) as u64,
            op.open_flags,
            u64::from(op.mode),
            op.user_data,
        ],
        exit: result(ev),
        task: task(&op.task, ev.exe.as_deref()),
        cwd: ev.submit.items.cwd.as_ref().map(|c| Bytes(c.bytes.clone())),
        paths: paths(ev),
        argv: None,
        sockaddr,
        obj_pids: Vec::new(),
        proctitle: None,
        uring: Some(RawUring {
            ring: op.ring,
            ctx: ctx(run_ctx),
            personality: personality(ev),
        }),
        user: None,
        keys: Vec::new(),
        openat2_flags: 0,
    }
}

/// What the rule evaluator sees of the op (io_uring list, opcode, result). The uid/gid
/// fields are the credentials the op ran with, as the kernel's io_uring filter sees them:
/// a personality's when the SQE named one, else the submitter's.
pub fn to_event_input(ev: &UringEvent) -> EventInput {
    let op = &ev.submit.op;
    let mut task = task_input(&op.task, ev.exe.clone());
    if let Some(p) = personality(ev) {
        p.apply_to(&mut task);
    }
    let exit = result(ev);
    let sa = ev
        .submit
        .items
        .sockaddr
        .as_ref()
        .or(ev.complete.as_ref().and_then(|c| c.items.sockaddr.as_ref()));
    EventInput {
        list: Some(FilterList::IoUring),
        arch: 0,
        nr: op.opcode,
        args: [
            i64::from(op.fd) as u64,
            op.open_flags,
            u64::from(op.mode),
            op.user_data,
        ],
        exit,
        success: !(-4095..=-1).contains(&exit),
        task,
        saddr_fam: sa
            .filter(|c| c.bytes.len() >= 2)
            .map(|c| u32::from(u16::from_ne_bytes([c.bytes[0], c.bytes[1]]))),
        ..EventInput::default()
    }
}

/// Judges `ev` with rule set 0 of `set` (compiled from `rules`): `None` when it does not
/// record the op, else the deciding rule's keys. The BPF side only rejected by opcode.
pub fn keys_for(
    set: &vigil_rules::compile::CompiledSet,
    rules: &vigil_rules::ast::RuleSet,
    ev: &UringEvent,
) -> Option<Vec<Bytes>> {
    let d = set.evaluate(&to_event_input(ev));
    let v = d.verdicts.first().filter(|v| v.record)?;
    Some(
        v.key_rule
            .and_then(|i| rules.rules.get(i as usize))
            .map(|r| {
                r.keys
                    .iter()
                    .map(|k| Bytes(k.as_bytes().to_vec()))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn word(n: u32, table: &[(u32, &'static str)]) -> &'static str {
    table
        .iter()
        .find(|(k, _)| *k == n)
        .map_or("unknown", |(_, w)| w)
}

/// `how=` of a denial.
pub fn how_word(how: u32) -> &'static str {
    word(
        how,
        &[
            (VIGIL_POL_HOW_KILLED, "killed"),
            (VIGIL_POL_HOW_PREVENTED, "prevented"),
            (VIGIL_POL_HOW_LSM, "refused"),
        ],
    )
}

/// `what=` of a denial.
pub fn what_word(what: u32) -> &'static str {
    word(
        what,
        &[
            (VIGIL_POL_WHAT_SQPOLL, "sqpoll"),
            (VIGIL_POL_WHAT_PERSONALITY, "personality"),
            (VIGIL_POL_WHAT_OP, "op"),
        ],
    )
}

fn hook_word(hook: u32) -> &'static str {
    word(
        hook,
        &[
            (VIGIL_POL_HOOK_CREATE, "io_uring_create"),
            (VIGIL_POL_HOOK_SUBMIT, "io_uring_submit_req"),
            (VIGIL_POL_HOOK_CONNECT4, "cgroup_connect4"),
            (VIGIL_POL_HOOK_CONNECT6, "cgroup_connect6"),
            (VIGIL_POL_HOOK_BIND4, "cgroup_bind4"),
            (VIGIL_POL_HOOK_BIND6, "cgroup_bind6"),
            (VIGIL_POL_HOOK_SENDMSG4, "cgroup_sendmsg4"),
            (VIGIL_POL_HOOK_SENDMSG6, "cgroup_sendmsg6"),
            (VIGIL_POL_HOOK_LSM_SQPOLL, "lsm_uring_sqpoll"),
            (VIGIL_POL_HOOK_LSM_CREDS, "lsm_uring_override_creds"),
            (VIGIL_POL_HOOK_LSM_SOCKET, "lsm_socket"),
        ],
    )
}

/// The audit event of a denial: a SYSCALL record (`io_uring_setup` for a ring creation, else
/// `io_uring_enter`; `success=no exit=-1` (EPERM); a0 = opcode, a1 = ring, a2 = `user_data`,
/// a3 = rule) so that `ausearch -k KEY` / `-p PID` select it (ausearch 3.0.9 does not parse
/// vigil's record types), then `VIGIL_POLICY action=deny how= what= hook= rule= src= uring_op=
/// ring= ...` with the offender's identity and, for a personality, the borrowed credentials.
/// `origin` is where the rule was written (`file:line`).
pub fn denial_event(
    d: &Denial,
    clock: &Clock,
    serial: u64,
    keys: &[String],
    origin: &str,
) -> Event {
    let p = &d.rec.deny;
    let creation = p.hook == VIGIL_POL_HOOK_CREATE || p.hook == VIGIL_POL_HOOK_LSM_SQPOLL;
    let ts = clock.realtime_ns(p.hdr.tai_ns);
    let keys: Vec<Bytes> = keys.iter().map(|k| Bytes(k.as_bytes().to_vec())).collect();
    let carrier = RawEvent {
        ts_ns: ts,
        kind: RawKind::Syscall,
        arch: vigil_format::resolve::AUDIT_ARCH_X86_64,
        nr: if creation {
            SYS_IO_URING_SETUP
        } else {
            SYS_IO_URING_ENTER
        },
        args: [u64::from(p.opcode), p.ring, p.user_data, u64::from(p.rule)],
        exit: -1,
        task: task(&p.task, d.exe.as_deref()),
        keys: keys.clone(),
        ..RawEvent::default()
    };
    let id = Identity::from_ns(ts, serial);
    let mut ev = vigil_format::build_event(&carrier, id, &keys);
    let t = &p.task;
    let mut r = Record::new(rt::VIGIL_POLICY);
    r.push(f::ACTION, Value::tok("deny"));
    r.push(f::HOW, Value::tok(how_word(p.how)));
    r.push(f::WHAT, Value::tok(what_word(p.what)));
    r.push(f::HOOK, Value::tok(hook_word(p.hook)));
    r.push(f::RULE, Value::Dec(u64::from(p.rule)));
    r.push(f::SRC, Value::Str(origin.as_bytes().to_vec()));
    if !creation {
        r.push(f::URING_OP, Value::Dec(u64::from(p.opcode)));
    }
    r.push(f::RING, Value::Hex(p.ring));
    r.push(f::CTX, Value::tok(ctx(p.ctx).as_str()));
    r.push(f::PID, Value::Dec(t.pid.into()));
    r.push(f::AUID, Value::Dec(t.auid.into()));
    r.push(f::UID, Value::Dec(t.uid.into()));
    r.push(f::SES, Value::Dec(t.sessionid.into()));
    r.push(f::COMM, Value::Str(c_str(&t.comm).to_vec()));
    r.push(f::EXE, Value::opt_str(d.exe.as_deref()));
    if p.what == VIGIL_POL_WHAT_PERSONALITY {
        r.push(f::PERSONALITY, Value::Dec(p.personality.into()));
        r.push(f::PUID, Value::Dec(p.creds.uid.into()));
        r.push(f::PEUID, Value::Dec(p.creds.euid.into()));
        r.push(f::PGID, Value::Dec(p.creds.gid.into()));
    }
    if p.how == VIGIL_POL_HOW_KILLED {
        r.push(f::SIG, Value::Dec(9));
        r.push(f::SIG_RES, Value::SDec(i64::from(p.signal_ret)));
    }
    let key = if keys.is_empty() {
        Value::Null
    } else {
        Value::Str(
            keys.iter()
                .map(|k| k.0.clone())
                .collect::<Vec<_>>()
                .join(&1u8),
        )
    };
    r.push(f::KEY, key);
    ev.records.push(r);
    ev
}

#[cfg(test)]
mod tests;
