//! Lowering one AST rule into a program of [`Insn`]s, the table it belongs to, and the index
//! keys it can be placed under.

use std::collections::HashMap;

use super::hash::{fnv1a, trim_dir};
use super::layout::{
    pseudo, IndexField, Insn, OpCode, TableKind, INSN_LSM, INSN_STR, RULE_ABORTS, RULE_LSM,
    RULE_NAME_SCOPED, RULE_NEVER,
};
use crate::ast::{Action, Condition, Field, FilterList, Op, Rule, Value};
use crate::reference::is_name_scoped;

/// Kernel `AUDIT_*` field numbers used in [`Insn::field`] (generated from the field table).
pub use crate::tables::fno;

/// The kernel field number of an AST field. `a4` and beyond (no parser makes them, the AST
/// allows them) get `A0 + n`, which no instruction evaluates: lowering judges them never.
pub fn field_number(f: Field) -> u16 {
    match f {
        Field::Arg(n) => fno::A0 + u16::from(n),
        // Field numbers fit 16 bits: build.rs checks every row.
        f => f.kernel_number() as u16,
    }
}

/// The table a rule is judged in.
pub fn table_of(r: &Rule) -> TableKind {
    match r.list {
        FilterList::Task => TableKind::Task,
        FilterList::Exit if is_name_scoped(r) => TableKind::Names,
        FilterList::Exit => TableKind::Exit,
        FilterList::IoUring => TableKind::IoUring,
        FilterList::User => TableKind::User,
        FilterList::Exclude => TableKind::Exclude,
        FilterList::Filesystem => TableKind::Fs,
    }
}

fn list_of(t: TableKind) -> FilterList {
    match t {
        TableKind::Task => FilterList::Task,
        TableKind::Exit | TableKind::Names => FilterList::Exit,
        TableKind::IoUring => FilterList::IoUring,
        TableKind::User => FilterList::User,
        TableKind::Exclude => FilterList::Exclude,
        TableKind::Fs => FilterList::Filesystem,
    }
}

/// String operands, deduplicated.
#[derive(Default)]
pub struct Strings {
    pub list: Vec<Vec<u8>>,
    ids: HashMap<Vec<u8>, u32>,
}

impl Strings {
    pub fn intern(&mut self, s: &[u8]) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.list.len() as u32;
        self.list.push(s.to_vec());
        self.ids.insert(s.to_vec(), id);
        id
    }
}

/// A lowered rule.
#[derive(Debug, Clone)]
pub struct Lowered {
    pub table: TableKind,
    pub insns: Vec<Insn>,
    /// `RULE_*` bits.
    pub flags: u32,
    /// Why the rule can never match, when `flags` has `RULE_NEVER`.
    pub never: Option<String>,
    /// Index keys the rule may be placed under (any one of them suffices, except for the
    /// filesystem table where the rule is placed under every one).
    pub keys: Vec<(IndexField, u64)>,
    /// The longest string operand, for the size check.
    pub longest_string: usize,
}

enum One {
    Insn(Insn),
    True,
    /// The condition can never hold here; why.
    False(String),
    Abort,
}

/// Fields `audit_filter_rules` can only evaluate inside a syscall context.
fn needs_ctx(f: Field) -> bool {
    matches!(
        f,
        Field::Ppid
            | Field::Arch
            | Field::Exit
            | Field::Success
            | Field::DevMajor
            | Field::DevMinor
            | Field::Inode
            | Field::ObjUid
            | Field::ObjGid
            | Field::Path
            | Field::Dir
            | Field::SaddrFam
            | Field::Arg(_)
            | Field::ObjUser
            | Field::ObjRole
            | Field::ObjType
            | Field::ObjLevLow
            | Field::ObjLevHigh
    )
}

/// Fields the kernel's `audit_filter` (user and exclude lists) evaluates.
fn message_field(f: Field) -> bool {
    matches!(
        f,
        Field::Pid
            | Field::Uid
            | Field::Gid
            | Field::Auid
            | Field::LoginuidSet
            | Field::MsgType
            | Field::SubjUser
            | Field::SubjRole
            | Field::SubjType
            | Field::SubjSen
            | Field::SubjClr
            | Field::Exe
            | Field::ContId
            | Field::ContIdTree
    )
}

fn lower_condition(
    c: &Condition,
    table: TableKind,
    strings: &mut Strings,
    longest: &mut usize,
) -> One {
    let (field, op, value) = match c {
        Condition::Compare { left, op, right } => {
            let obj = |f| matches!(f, Field::ObjUid | Field::ObjGid);
            return match table {
                TableKind::User | TableKind::Exclude => One::Abort,
                TableKind::Task if obj(*left) || obj(*right) => One::False(
                    "an object comparison cannot hold on the task list (no objects at fork)".into(),
                ),
                _ => One::Insn(Insn {
                    field: pseudo::COMPARE,
                    op: OpCode::from(*op) as u8,
                    flags: 0,
                    arg: u32::from(field_number(*left)) | u32::from(field_number(*right)) << 16,
                    value: 0,
                }),
            };
        }
        Condition::Field { field, op, value } => (*field, *op, value),
    };
    let message = matches!(table, TableKind::User | TableKind::Exclude);
    if message && !message_field(field) {
        return One::Abort;
    }
    if field == Field::Key {
        return One::True;
    }
    // A number where a string belongs or the reverse: the condition cannot hold.
    if field.takes_text() != matches!(value, Value::Str(_)) {
        return One::False(format!("{} has a value of the wrong kind", field.name()));
    }
    if !message {
        match field {
            Field::MsgType | Field::FsType => {
                return One::False(format!(
                    "{} is not evaluated on the {} list",
                    field.name(),
                    crate::tables::list_name(list_of(table))
                ))
            }
            Field::Path if table != TableKind::Names => {
                return One::False("path= only matches on the exit list".into())
            }
            // Without a context these fields read as false, `!=` negates it.
            Field::Perm | Field::FileType if table == TableKind::Task => {
                return if op == Op::Ne {
                    One::True
                } else {
                    One::False(format!(
                        "{} cannot hold on the task list (evaluated at fork, without a syscall)",
                        field.name()
                    ))
                };
            }
            f if table == TableKind::Task && needs_ctx(f) => {
                return One::False(format!(
                    "{} cannot hold on the task list (evaluated at fork, without a syscall)",
                    f.name()
                ))
            }
            _ => {}
        }
    }
    let mut insn = Insn {
        field: field_number(field),
        op: OpCode::from(op) as u8,
        flags: 0,
        arg: 0,
        value: 0,
    };
    match (field.takes_text(), value) {
        (true, Value::Str(s)) => {
            let bytes = if field == Field::Dir {
                trim_dir(s.as_bytes())
            } else {
                s.as_bytes()
            };
            *longest = (*longest).max(bytes.len());
            insn.arg = strings.intern(bytes);
            insn.flags = INSN_STR | if field.is_lsm() { INSN_LSM } else { 0 };
        }
        (false, Value::Num(n)) => {
            insn.value = match field {
                Field::ContId | Field::ContIdTree => *n,
                Field::Success => {
                    if *n as u32 != 0 {
                        1
                    } else {
                        2
                    }
                }
                _ => u64::from(*n as u32),
            };
            if let Field::Arg(i) = field {
                if i > 3 {
                    return One::False(format!("a{i} does not exist"));
                }
                insn.arg = u32::from(i);
            }
        }
        _ => return One::False(format!("{} has a value of the wrong kind", field.name())),
    }
    One::Insn(insn)
}

/// The index key an `=` condition gives, if the table can look it up.
fn index_key(table: TableKind, insn: &Insn, strings: &Strings) -> Option<(IndexField, u64)> {
    if insn.op != OpCode::Eq as u8 {
        return None;
    }
    let v = insn.value;
    let task_fields = |f: u16| -> Option<IndexField> {
        Some(match f {
            fno::PID => IndexField::Pid,
            fno::UID => IndexField::Uid,
            fno::EUID => IndexField::Euid,
            fno::SUID => IndexField::Suid,
            fno::FSUID => IndexField::Fsuid,
            fno::SGID => IndexField::Sgid,
            fno::FSGID => IndexField::Fsgid,
            fno::AUID => IndexField::Auid,
            fno::SESSIONID => IndexField::SessionId,
            fno::PERS => IndexField::Pers,
            fno::CONTID => IndexField::ContId,
            fno::CONTID_TREE => IndexField::ContIdTree,
            fno::EXE => IndexField::Exe,
            _ => return None,
        })
    };
    let str_hash = || fnv1a(&strings.list[insn.arg as usize]);
    let f = match table {
        TableKind::Task => task_fields(insn.field)?,
        TableKind::Exit | TableKind::IoUring => match insn.field {
            fno::PPID => IndexField::Ppid,
            fno::EXIT => IndexField::Exit,
            fno::DIR => IndexField::Dir,
            a @ fno::A0..=fno::A3 => [
                IndexField::A0,
                IndexField::A1,
                IndexField::A2,
                IndexField::A3,
            ][(a - fno::A0) as usize],
            f => task_fields(f)?,
        },
        TableKind::Names => match insn.field {
            fno::PATH => IndexField::Path,
            fno::INODE => IndexField::Inode,
            _ => return None,
        },
        TableKind::User | TableKind::Exclude => match insn.field {
            fno::PID => IndexField::Pid,
            fno::UID => IndexField::Uid,
            fno::AUID => IndexField::Auid,
            fno::MSGTYPE => IndexField::MsgType,
            fno::CONTID => IndexField::ContId,
            fno::CONTID_TREE => IndexField::ContIdTree,
            fno::EXE => IndexField::Exe,
            _ => return None,
        },
        TableKind::Fs => match insn.field {
            fno::FSTYPE => IndexField::FsType,
            _ => return None,
        },
    };
    let value = match f {
        // An empty directory has no ancestor to be looked up by: leave it to the residual.
        IndexField::Dir if strings.list[insn.arg as usize].is_empty() => return None,
        IndexField::Exe | IndexField::Dir | IndexField::Path => str_hash(),
        _ => v,
    };
    Some((f, value))
}

/// Lower `r` to a program, flags and index keys.
pub fn lower(r: &Rule, strings: &mut Strings) -> Lowered {
    let table = table_of(r);
    let mut insns = Vec::new();
    let mut flags = 0;
    let mut longest = 0;
    let message = matches!(table, TableKind::User | TableKind::Exclude);
    let mut never: Option<String> = None;
    if table == TableKind::Fs {
        // The filesystem list reads only `fstype` fields of `never` rules.
        for c in &r.conditions {
            if let Condition::Field {
                field: Field::FsType,
                op,
                value: Value::Num(n),
            } = c
            {
                insns.push(Insn {
                    field: fno::FSTYPE,
                    op: OpCode::from(*op) as u8,
                    flags: 0,
                    arg: 0,
                    value: u64::from(*n as u32),
                });
            }
        }
        if r.action != Action::Never {
            never = Some("the filesystem list only acts on never rules".into());
        } else if insns.is_empty() {
            never = Some("a filesystem rule without fstype= hides nothing".into());
        }
    } else {
        for c in &r.conditions {
            match lower_condition(c, table, strings, &mut longest) {
                One::Insn(i) => insns.push(i),
                One::True => {}
                One::False(why) => {
                    never.get_or_insert(why);
                    // In the message walk a false field ends the rule before any later abort.
                    if message {
                        break;
                    }
                }
                One::Abort => {
                    insns.push(abort());
                    break;
                }
            }
        }
        if message && never.is_none() && !r.keys.is_empty() && insns.last() != Some(&abort()) {
            // The key is one more field, which `audit_filter` cannot evaluate.
            insns.push(abort());
        }
        if message && insns.is_empty() && never.is_none() {
            never = Some(format!(
                "a {} rule without fields never matches",
                crate::tables::list_name(r.list)
            ));
        }
        if message && insns.last() == Some(&abort()) && never.is_none() {
            flags |= RULE_ABORTS;
        }
    }
    if never.is_some() {
        insns = vec![Insn {
            field: pseudo::FALSE,
            op: 0,
            flags: 0,
            arg: 0,
            value: 0,
        }];
        flags = RULE_NEVER;
    }
    if table == TableKind::Names {
        flags |= RULE_NAME_SCOPED;
    }
    if insns.iter().any(|i| i.flags & INSN_LSM != 0) {
        flags |= RULE_LSM;
    }
    let keys = if flags & (RULE_NEVER | RULE_ABORTS) != 0 {
        Vec::new()
    } else if table == TableKind::Fs {
        // Placed under each value only if every fstype field is `=`: then hiding implies one.
        let all_eq = insns.iter().all(|i| i.op == OpCode::Eq as u8);
        if all_eq {
            insns
                .iter()
                .filter_map(|i| index_key(table, i, strings))
                .collect()
        } else {
            Vec::new()
        }
    } else {
        insns
            .iter()
            .filter_map(|i| index_key(table, i, strings))
            .collect()
    };
    Lowered {
        table,
        insns,
        flags,
        never,
        keys,
        longest_string: longest,
    }
}

fn abort() -> Insn {
    Insn {
        field: pseudo::ABORT,
        op: 0,
        flags: 0,
        arg: 0,
        value: 0,
    }
}
