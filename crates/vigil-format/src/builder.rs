//! [`RawEvent`] -> [`Event`]: the records in the kernel's order with the kernel's field values
//! (kernel/auditsc.c `audit_log_exit`, `audit_log_uring`, `audit_log_execve_info`).

use crate::escape::needs_hex;
use crate::model::{Event, Field, FieldName, Identity, Record, Value};
use crate::raw::{Bytes, RawEvent, RawKind, RawPath, RawTask};
use crate::tables::{f, rt};

/// The kernel's budget for the argument text of one EXECVE record.
pub const MAX_EXECVE_AUDIT_LEN: usize = 7500;
/// Room the kernel keeps for the non-argument text of one argument (`abuf`).
const EXECVE_ABUF: usize = 96;

/// `io_uring_enter` on x86_64.
pub const SYS_IO_URING_ENTER: u32 = 426;

/// Choices the kernel's format leaves open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// For io_uring ops: also write a SYSCALL record (this syscall number, the op's result,
    /// `args` as a0..a3, the owner's identity, the key) before URINGOP. Debian's ausearch 3.0.9
    /// does not parse URINGOP ("Unparsed type:1336"), so an event made of URINGOP alone cannot
    /// be selected with `-k`, `-p`, `-ui`, ...; with the SYSCALL record it can. `None` writes
    /// URINGOP alone, as the kernel does for async ops.
    pub uring_syscall: Option<u32>,
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions {
            uring_syscall: Some(SYS_IO_URING_ENTER),
        }
    }
}

/// Builds the audit records of one event with [`BuildOptions::default`]. `keys` are the
/// matching rule's keys (joined with 0x01 in `key=`); an empty slice gives `key=(null)`.
pub fn build_event(raw: &RawEvent, id: Identity, keys: &[Bytes]) -> Event {
    build_event_with(raw, id, keys, BuildOptions::default())
}

/// [`build_event`] with explicit options.
pub fn build_event_with(raw: &RawEvent, id: Identity, keys: &[Bytes], opts: BuildOptions) -> Event {
    let mut records = Vec::with_capacity(5 + raw.paths.len());
    let key = join_keys(keys);
    match raw.kind {
        RawKind::User => {
            let rtype = raw.user.as_ref().map_or(rt::USER.0, |u| u.rtype);
            let mut r = Record::new(crate::tables::RecordType(rtype));
            let t = &raw.task;
            r.push(f::PID, Value::Dec(t.pid.into()));
            r.push(f::UID, Value::Dec(t.uid.into()));
            r.push(f::AUID, Value::Dec(t.auid.into()));
            r.push(f::SES, Value::Dec(t.ses.into()));
            if let Some(s) = &t.subj {
                r.push(f::SUBJ, tok_bytes(&s.0));
            }
            let text = raw
                .user
                .as_ref()
                .map(|u| u.text.0.clone())
                .unwrap_or_default();
            r.push(f::MSG, Value::Msg(text));
            records.push(r);
            return Event { id, records };
        }
        RawKind::Syscall => records.push(syscall_record(raw, key)),
        RawKind::Uring => {
            if let Some(nr) = opts.uring_syscall {
                let mut sys = syscall_record(raw, key.clone());
                sys.fields[0].value = Value::Hex(u64::from(if raw.arch == 0 {
                    crate::resolve::AUDIT_ARCH_X86_64
                } else {
                    raw.arch
                }));
                sys.fields[1].value = Value::Dec(nr.into());
                records.push(sys);
            }
            records.push(uringop_record(raw, key));
        }
    }
    if let Some(argv) = &raw.argv {
        records.extend(execve_records(argv));
    }
    if let Some(sa) = &raw.sockaddr {
        records.push(Record::with_fields(
            rt::SOCKADDR,
            vec![Field::new(f::SADDR, Value::HexBytes(sa.0.clone()))],
        ));
    }
    for o in &raw.obj_pids {
        let mut r = Record::new(rt::OBJ_PID);
        r.push(f::OPID, Value::Dec(o.pid.into()));
        // The kernel prints these two with %d: unset is -1.
        r.push(f::OAUID, Value::SDec(i64::from(o.auid as i32)));
        r.push(f::OUID, Value::Dec(o.uid.into()));
        r.push(f::OSES, Value::SDec(i64::from(o.ses as i32)));
        if let Some(obj) = &o.obj {
            r.push(f::OBJ, tok_bytes(&obj.0));
        }
        r.push(f::OCOMM, Value::Str(o.comm.0.clone()));
        records.push(r);
    }
    if let Some(cwd) = &raw.cwd {
        records.push(Record::with_fields(
            rt::CWD,
            vec![Field::new(f::CWD, Value::Str(cwd.0.clone()))],
        ));
    }
    for (i, p) in raw.paths.iter().enumerate() {
        records.push(path_record(i, p));
    }
    if let Some(c) = raw.task.contid {
        records.push(Record::with_fields(
            rt::CONTAINER_ID,
            vec![Field::new(f::CONTID, Value::Dec(c))],
        ));
    }
    // io_uring ops have no PROCTITLE in the kernel's records (audit_log_uring); keep that.
    if raw.kind == RawKind::Syscall {
        if let Some(pt) = &raw.proctitle {
            let trimmed = trim_trailing_nul(&pt.0);
            if !trimmed.is_empty() {
                records.push(Record::with_fields(
                    rt::PROCTITLE,
                    vec![Field::new(f::PROCTITLE, Value::Str(trimmed.to_vec()))],
                ));
            }
        }
    }
    Event { id, records }
}

fn trim_trailing_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
    &b[..end]
}

fn join_keys(keys: &[Bytes]) -> Value {
    if keys.is_empty() {
        return Value::Null;
    }
    let mut v = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            v.push(1);
        }
        v.extend_from_slice(&k.0);
    }
    Value::Str(v)
}

/// A bare word from captured bytes (LSM labels): verbatim text.
fn tok_bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::Tok(s.to_string().into()),
        Err(_) => Value::Text(b.to_vec()),
    }
}

fn tty_value(t: &RawTask) -> Value {
    match &t.tty {
        Some(s) if !s.is_empty() => Value::Tok(s.clone().into()),
        _ => Value::tok("(none)"),
    }
}

fn success_value(raw: &RawEvent) -> Value {
    Value::tok(if raw.success() { "yes" } else { "no" })
}

/// The task's credentials in the kernel's order (as SYSCALL and URINGOP records give them).
fn push_creds(r: &mut Record, t: &RawTask) {
    r.push(f::UID, Value::Dec(t.uid.into()));
    r.push(f::GID, Value::Dec(t.gid.into()));
    r.push(f::EUID, Value::Dec(t.euid.into()));
    r.push(f::SUID, Value::Dec(t.suid.into()));
    r.push(f::FSUID, Value::Dec(t.fsuid.into()));
    r.push(f::EGID, Value::Dec(t.egid.into()));
    r.push(f::SGID, Value::Dec(t.sgid.into()));
    r.push(f::FSGID, Value::Dec(t.fsgid.into()));
}

fn syscall_record(raw: &RawEvent, key: Value) -> Record {
    let t = &raw.task;
    let mut r = Record::new(rt::SYSCALL);
    r.fields.reserve(27);
    r.push(f::ARCH, Value::Hex(raw.arch.into()));
    r.push(f::SYSCALL, Value::Dec(raw.nr.into()));
    r.push(f::SUCCESS, success_value(raw));
    r.push(f::EXIT, Value::SDec(raw.exit));
    r.push(f::A0, Value::Hex(raw.args[0]));
    r.push(f::A1, Value::Hex(raw.args[1]));
    r.push(f::A2, Value::Hex(raw.args[2]));
    r.push(f::A3, Value::Hex(raw.args[3]));
    r.push(f::ITEMS, Value::Dec(raw.paths.len() as u64));
    r.push(f::PPID, Value::Dec(t.ppid.into()));
    r.push(f::PID, Value::Dec(t.pid.into()));
    r.push(f::AUID, Value::Dec(t.auid.into()));
    push_creds(&mut r, t);
    r.push(f::TTY, tty_value(t));
    r.push(f::SES, Value::Dec(t.ses.into()));
    r.push(f::COMM, Value::Str(t.comm.0.clone()));
    r.push(
        f::EXE,
        Value::opt_str(t.exe.as_ref().map(|b| b.0.as_slice())),
    );
    if let Some(s) = &t.subj {
        r.push(f::SUBJ, tok_bytes(&s.0));
    }
    r.push(f::KEY, key);
    r
}

fn uringop_record(raw: &RawEvent, key: Value) -> Record {
    let t = &raw.task;
    let mut r = Record::new(rt::URINGOP);
    r.fields.reserve(24);
    // The kernel's fields, in its order.
    r.push(f::URING_OP, Value::Dec(raw.nr.into()));
    r.push(f::SUCCESS, success_value(raw));
    r.push(f::EXIT, Value::SDec(raw.exit));
    r.push(f::ITEMS, Value::Dec(raw.paths.len() as u64));
    r.push(f::PPID, Value::Dec(t.ppid.into()));
    r.push(f::PID, Value::Dec(t.pid.into()));
    push_creds(&mut r, t);
    if let Some(s) = &t.subj {
        r.push(f::SUBJ, tok_bytes(&s.0));
    }
    r.push(f::KEY, key);
    // vigil's additions, after the kernel's so positional readers are unaffected.
    r.push(f::AUID, Value::Dec(t.auid.into()));
    r.push(f::SES, Value::Dec(t.ses.into()));
    r.push(f::COMM, Value::Str(t.comm.0.clone()));
    r.push(
        f::EXE,
        Value::opt_str(t.exe.as_ref().map(|b| b.0.as_slice())),
    );
    let (ctx, ring) = raw
        .uring
        .as_ref()
        .map_or(("inline", 0), |u| (u.ctx.as_str(), u.ring));
    r.push(f::CTX, Value::tok(ctx));
    r.push(f::RING, Value::Hex(ring));
    if let Some(p) = raw.uring.as_ref().and_then(|u| u.personality.as_ref()) {
        r.push(f::PERSONALITY, Value::Dec(p.id.into()));
        r.push(f::PUID, Value::Dec(p.uid.into()));
        r.push(f::PGID, Value::Dec(p.gid.into()));
        r.push(f::PEUID, Value::Dec(p.euid.into()));
        r.push(f::PSUID, Value::Dec(p.suid.into()));
        r.push(f::PFSUID, Value::Dec(p.fsuid.into()));
        r.push(f::PEGID, Value::Dec(p.egid.into()));
        r.push(f::PSGID, Value::Dec(p.sgid.into()));
        r.push(f::PFSGID, Value::Dec(p.fsgid.into()));
    }
    r
}

fn path_record(item: usize, p: &RawPath) -> Record {
    let mut r = Record::new(rt::PATH);
    r.fields.reserve(16);
    r.push(f::ITEM, Value::Dec(item as u64));
    r.push(
        f::NAME,
        Value::opt_str(p.name.as_ref().map(|b| b.0.as_slice())),
    );
    if let Some(ino) = p.inode {
        r.push(f::INODE, Value::Dec(ino));
        r.push(f::DEV, Value::Dev(p.dev.major, p.dev.minor));
        r.push(f::MODE, Value::Oct(p.mode));
        r.push(f::OUID, Value::Dec(p.ouid.into()));
        r.push(f::OGID, Value::Dec(p.ogid.into()));
        r.push(f::RDEV, Value::Dev(p.rdev.major, p.rdev.minor));
    }
    if let Some(obj) = &p.obj {
        r.push(f::OBJ, tok_bytes(&obj.0));
    }
    r.push(f::NAMETYPE, Value::tok(p.nametype.as_str()));
    let c = p.caps.unwrap_or_default();
    r.push(f::CAP_FP, Value::Cap(c.fp));
    r.push(f::CAP_FI, Value::Cap(c.fi));
    r.push(f::CAP_FE, Value::Dec(c.fe.into()));
    r.push(f::CAP_FVER, Value::Hex(c.fver.into()));
    r.push(f::CAP_FROOTID, Value::SDec(c.frootid));
    r
}

fn dec_len(mut n: u64) -> usize {
    let mut l = 1;
    while n >= 10 {
        n /= 10;
        l += 1;
    }
    l
}

/// EXECVE records for `argv`, split as the kernel does: the first record starts `argc=N`; an
/// argument that does not fit the room left becomes `aN_len=L aN[0]=.. aN[1]=..`; an argument
/// with a byte outside 0x21-0x7e (or `"`) or of 7500 bytes or more is hex; each record carries
/// at most [`MAX_EXECVE_AUDIT_LEN`] bytes of argument text.
pub fn execve_records(argv: &[Bytes]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut cur = Record::new(rt::EXECVE);
    cur.push(f::ARGC, Value::Dec(argv.len() as u64));
    let mut rem = MAX_EXECVE_AUDIT_LEN;
    for (i, arg) in argv.iter().enumerate() {
        let i = i as u32;
        let arg = &arg.0;
        let encode = arg.len() >= MAX_EXECVE_AUDIT_LEN || needs_hex(arg);
        let full = if encode { arg.len() * 2 } else { arg.len() };
        let mut pos = 0usize;
        let mut iter = 0u32;
        loop {
            let left = arg.len() - pos;
            let text_left = if encode { left * 2 } else { left + 2 };
            if EXECVE_ABUF + 8 > rem {
                out.push(std::mem::replace(&mut cur, Record::new(rt::EXECVE)));
                rem = MAX_EXECVE_AUDIT_LEN;
            }
            let split = iter > 0 || text_left + EXECVE_ABUF > rem;
            let id_len = dec_len(u64::from(i));
            if split {
                if iter == 0 {
                    cur.fields.push(Field {
                        name: FieldName::ArgLen(i),
                        value: Value::Dec(full as u64),
                    });
                    rem -= 6 + id_len + dec_len(full as u64); // " aN_len=L"
                }
                cur.fields.push(Field {
                    name: FieldName::ArgPart(i, iter),
                    value: Value::Null,
                });
                rem -= 5 + id_len + dec_len(u64::from(iter)); // " aN[i]="
                iter += 1;
            } else {
                cur.fields.push(Field {
                    name: FieldName::Arg(i),
                    value: Value::Null,
                });
                rem -= 3 + id_len; // " aN="
            }
            let mut take = left;
            if text_left > rem {
                take = if encode {
                    rem / 2
                } else {
                    rem.saturating_sub(2)
                };
            }
            let chunk = arg[pos..pos + take].to_vec();
            let last = cur.fields.last_mut().expect("just pushed");
            last.value = if split && encode {
                Value::HexBytes(chunk)
            } else {
                Value::Str(chunk)
            };
            rem -= if encode { take * 2 } else { take + 2 };
            pos += take;
            if pos >= arg.len() {
                break;
            }
        }
    }
    out.push(cur);
    out
}
