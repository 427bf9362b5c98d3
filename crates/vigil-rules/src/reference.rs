//! The reference evaluator: a plain linear walk over every rule of every rule set, with the
//! kernel's semantics (kernel/auditsc.c `audit_filter_rules`, kernel/auditfilter.c
//! `audit_filter`). Slow and obviously correct; the compiled index must agree with it.
//!
//! Semantics, per rule set (each rule set is judged as if it were the only one):
//! - `exit`/`io_uring` events: the task list first (evaluated without a syscall context, as at
//!   fork): a matching `never` rule means the task is not audited at all, a matching `always`
//!   rule records every event of the task with that rule's key. Then the exit (or io_uring)
//!   list: the first rule whose syscall mask holds the number and whose conditions all hold
//!   decides. Exit rules with `path=` or `inode=` live in the kernel's inode hash: they are
//!   judged afterwards, object by object, and only those placed before the rule that decided
//!   (higher priority) may override it; the first object that matches one of them ends the walk.
//!   The key is the deciding rule's; a keyless rule from the inode phase keeps the earlier key.
//! - `filesystem` list: an object whose filesystem magic matches an `fstype` field of a `never`
//!   rule is not collected: no condition sees it.
//! - user/exclude messages: the first matching rule decides (`never` or any exclude rule drops
//!   the message); a field the kernel cannot evaluate there (keys included) stops the walk and
//!   the message is audited. A rule without conditions never matches there.
//! - Numbers compare as `u32` (`audit_comparator`); uid/gid fields ignore `&`/`&=`; `exit`,
//!   `inode`, `a0`..`a3` are truncated to `u32` as the kernel does; `contid` is `u64`.
//! - path/dir/exe compare strings (the kernel compares inodes; the BPF side resolves the
//!   rule's path to an inode): `path` is the object's exact path, `dir` the directory itself
//!   or anything below it on a component boundary.

use crate::ast::{Action, Condition, Field, FilterList, Op, Rule, RuleSet, Syscalls, Value};
use crate::compile::classes::perm_matches;
use crate::compile::hash::trim_dir;
use crate::compile::layout::{MAX_OBJECTS, MAX_RULESETS};
use crate::input::{EventInput, ObjectInput, TaskInput};
use crate::tables::SYSCALL_CLASS_FIRST;

/// The container id of a task in no container (`AUDIT_CID_UNSET`).
pub const CONTID_UNSET: u64 = u64::MAX;
/// An object without an inode (`AUDIT_INO_UNSET`).
pub const INO_UNSET: u64 = u64::MAX;
const S_IFMT: u32 = 0o170_000;

/// Why a rule set decided as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reason {
    /// No rule matched: the list's default (exit: not recorded; user/exclude: audited).
    #[default]
    NoMatch,
    /// A task-list rule decided (`never`: the task is not audited; `always`: everything is).
    Task,
    /// A rule of the event's list decided.
    Rule,
    /// user/exclude: the walk stopped at a field the kernel cannot evaluate there; audited.
    Aborted,
}

/// One rule set's judgement of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The rule set records (keeps) the event.
    pub record: bool,
    pub reason: Reason,
    /// Index into `RuleSet::rules` of the rule that decided.
    pub rule: Option<u32>,
    /// Index of the rule whose keys label the event (usually `rule`).
    pub key_rule: Option<u32>,
    /// Bit i: `objects[i]` is hidden by a `filesystem` rule (not collected).
    pub hidden: u64,
}

/// The judgement of one event by several rule sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Bit i: rule set i records the event.
    pub wanted: u64,
    /// One per rule set (at most [`MAX_RULESETS`]).
    pub verdicts: Vec<Verdict>,
}

impl Decision {
    /// Whether rule set `i` records the event.
    pub fn wants(&self, i: usize) -> bool {
        i < 64 && self.wanted & (1 << i) != 0
    }

    /// The keys that label the event for rule set `i` (`sets` as evaluated).
    pub fn keys<'a>(&self, sets: &'a [RuleSet], i: usize) -> &'a [String] {
        self.verdicts
            .get(i)
            .and_then(|v| v.key_rule)
            .and_then(|r| sets.get(i)?.rules.get(r as usize))
            .map_or(&[], |r| r.keys.as_slice())
    }

    /// Clear for `n` rule sets, keeping the allocation.
    pub fn reset(&mut self, n: usize) {
        self.wanted = 0;
        self.verdicts.clear();
        self.verdicts
            .resize(n.min(MAX_RULESETS), Verdict::default());
    }

    /// Recompute `wanted` from the verdicts.
    pub fn finish(&mut self) {
        self.wanted = self
            .verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| v.record)
            .fold(0, |m, (i, _)| m | 1 << i);
    }
}

/// Judge `ev` by every rule set (the first [`MAX_RULESETS`]) with a linear walk.
pub fn evaluate(sets: &[RuleSet], ev: &EventInput) -> Decision {
    let mut d = Decision::default();
    d.reset(sets.len());
    for (i, set) in sets.iter().take(MAX_RULESETS).enumerate() {
        d.verdicts[i] = evaluate_set(set, ev);
    }
    d.finish();
    d
}

/// Judge `ev` by one rule set.
pub fn evaluate_set(set: &RuleSet, ev: &EventInput) -> Verdict {
    let objects = &ev.objects[..ev.objects.len().min(MAX_OBJECTS)];
    match ev.list {
        None => Verdict::default(),
        Some(list @ (FilterList::User | FilterList::Exclude)) => message_walk(set, list, ev),
        Some(FilterList::Task) => match task_walk(set, ev) {
            Some(v) => Verdict {
                record: v.record,
                ..v
            },
            None => Verdict {
                record: true,
                ..Verdict::default()
            },
        },
        Some(FilterList::Filesystem) => Verdict {
            hidden: hidden_objects(set, objects),
            ..Verdict::default()
        },
        Some(list @ (FilterList::Exit | FilterList::IoUring)) => {
            let hidden = hidden_objects(set, objects);
            if let Some(v) = task_walk(set, ev) {
                return Verdict { hidden, ..v };
            }
            Verdict {
                hidden,
                ..syscall_walk(set, list, ev, objects, hidden)
            }
        }
    }
}

fn has_keys(set: &RuleSet, i: usize) -> bool {
    !set.rules[i].keys.is_empty()
}

fn rules_of(set: &RuleSet, list: FilterList) -> impl Iterator<Item = (usize, &Rule)> {
    set.rules
        .iter()
        .enumerate()
        .filter(move |(_, r)| r.list == list)
}

/// The task list, as at fork: no syscall context. `None` when no task rule matches.
fn task_walk(set: &RuleSet, ev: &EventInput) -> Option<Verdict> {
    let cx = Ctx {
        ev,
        task: &ev.task,
        in_syscall: false,
        name: None,
        objects: &[],
        hidden: 0,
    };
    let (i, r) = rules_of(set, FilterList::Task).find(|(_, r)| conditions_hold(r, &cx))?;
    let always = r.action == Action::Always;
    Some(Verdict {
        record: always,
        reason: Reason::Task,
        rule: Some(i as u32),
        key_rule: (always && has_keys(set, i)).then_some(i as u32),
        hidden: 0,
    })
}

/// Objects the filesystem list hides: any `fstype` field of a `never` rule matches.
fn hidden_objects(set: &RuleSet, objects: &[ObjectInput]) -> u64 {
    let mut hidden = 0;
    for (i, o) in objects.iter().enumerate() {
        let hide = rules_of(set, FilterList::Filesystem)
            .filter(|(_, r)| r.action == Action::Never)
            .any(|(_, r)| {
                r.conditions.iter().any(|c| match c {
                    Condition::Field {
                        field: Field::FsType,
                        op,
                        value: Value::Num(v),
                    } => op.holds(o.fstype, *v as u32),
                    _ => false,
                })
            });
        if hide {
            hidden |= 1 << i;
        }
    }
    hidden
}

/// Whether the rule lives in the kernel's inode hash (exit list, `path=` or `inode=`).
pub fn is_name_scoped(r: &Rule) -> bool {
    r.list == FilterList::Exit
        && r.conditions.iter().any(|c| {
            matches!(
                c,
                Condition::Field {
                    field: Field::Path,
                    ..
                } | Condition::Field {
                    field: Field::Inode,
                    op: Op::Eq,
                    ..
                }
            )
        })
}

/// `audit_in_mask`: `-S all` covers every number below the class bits.
pub fn in_mask(r: &Rule, nr: u32) -> bool {
    match &r.syscalls {
        Syscalls::All => nr < SYSCALL_CLASS_FIRST,
        Syscalls::Set(s) => nr < 2048 && s.contains(&nr),
    }
}

fn syscall_walk(
    set: &RuleSet,
    list: FilterList,
    ev: &EventInput,
    objects: &[ObjectInput],
    hidden: u64,
) -> Verdict {
    let mut cx = Ctx {
        ev,
        task: &ev.task,
        in_syscall: true,
        name: None,
        objects,
        hidden,
    };
    // The list walk (audit_filter_syscall / audit_filter_uring).
    let first = rules_of(set, list)
        .filter(|(_, r)| !is_name_scoped(r))
        .find(|(_, r)| in_mask(r, ev.nr) && conditions_hold(r, &cx))
        .map(|(i, _)| i);
    // The inode hash walk (audit_filter_inodes): exit list only, object by object, rules of
    // higher priority (earlier) than the one that decided.
    let mut second = None;
    if list == FilterList::Exit {
        let limit = first.unwrap_or(usize::MAX);
        for (oi, o) in objects.iter().enumerate() {
            if hidden & (1 << oi) != 0 {
                continue;
            }
            cx.name = Some(o);
            second = rules_of(set, list)
                .filter(|(i, r)| *i < limit && is_name_scoped(r))
                .find(|(_, r)| in_mask(r, ev.nr) && conditions_hold(r, &cx))
                .map(|(i, _)| i);
            if second.is_some() {
                break;
            }
        }
    }
    let Some(decider) = second.or(first) else {
        return Verdict::default();
    };
    let key_rule = if has_keys(set, decider) {
        Some(decider)
    } else {
        first.filter(|f| second.is_some() && has_keys(set, *f))
    };
    Verdict {
        record: set.rules[decider].action == Action::Always,
        reason: Reason::Rule,
        rule: Some(decider as u32),
        key_rule: key_rule.map(|k| k as u32),
        hidden,
    }
}

/// The kernel's `audit_filter` for the user and exclude lists.
fn message_walk(set: &RuleSet, list: FilterList, ev: &EventInput) -> Verdict {
    for (i, r) in rules_of(set, list) {
        let mut result = false;
        // Keys are one more field, the last (auditctl adds it after the others).
        let key_field = (!r.keys.is_empty()).then_some(None);
        for c in r.conditions.iter().map(Some).chain(key_field) {
            match c.and_then(|c| message_condition(c, ev)) {
                Some(b) => result = b,
                None => {
                    return Verdict {
                        record: true,
                        reason: Reason::Aborted,
                        rule: Some(i as u32),
                        key_rule: None,
                        hidden: 0,
                    }
                }
            }
            if !result {
                break;
            }
        }
        if result {
            let drop = r.action == Action::Never || list == FilterList::Exclude;
            return Verdict {
                record: !drop,
                reason: Reason::Rule,
                rule: Some(i as u32),
                key_rule: has_keys(set, i).then_some(i as u32),
                hidden: 0,
            };
        }
    }
    Verdict {
        record: true,
        ..Verdict::default()
    }
}

/// One condition in `audit_filter`; `None` = a field the kernel cannot evaluate there.
fn message_condition(c: &Condition, ev: &EventInput) -> Option<bool> {
    let Condition::Field { field, op, value } = c else {
        return None;
    };
    let t = &ev.task;
    let (op, value) = (*op, value);
    Some(match field {
        Field::Pid => num32(value).is_some_and(|v| op.holds(t.pid, v)),
        Field::Uid => num32(value).is_some_and(|v| uid_cmp(t.uid, op, v)),
        Field::Gid => num32(value).is_some_and(|v| uid_cmp(t.gid, op, v)),
        Field::Auid => num32(value).is_some_and(|v| uid_cmp(t.auid, op, v)),
        Field::LoginuidSet => num32(value).is_some_and(|v| op.holds(loginuid_set(t), v)),
        Field::MsgType => num32(value).is_some_and(|v| op.holds(ev.msgtype, v)),
        Field::SubjUser | Field::SubjRole | Field::SubjType | Field::SubjSen | Field::SubjClr => {
            label_matches(t.subj.as_deref(), *field, op, value)
        }
        Field::Exe => exe_matches(t, op, value),
        Field::ContId => num(value).is_some_and(|v| op.holds(contid(t), v)),
        Field::ContIdTree => contid_tree(t, op, value),
        _ => return None,
    })
}

/// What a condition sees (`audit_filter_rules` arguments).
struct Ctx<'a> {
    ev: &'a EventInput,
    task: &'a TaskInput,
    /// There is a syscall context (false for the task list, evaluated at fork).
    in_syscall: bool,
    /// The object the inode phase is judging.
    name: Option<&'a ObjectInput>,
    objects: &'a [ObjectInput],
    hidden: u64,
}

impl Ctx<'_> {
    fn visible(&self) -> impl Iterator<Item = &ObjectInput> {
        let n = if self.in_syscall {
            self.objects.len()
        } else {
            0
        };
        self.objects[..n]
            .iter()
            .enumerate()
            .filter(|(i, _)| self.hidden & (1 << i) == 0)
            .map(|(_, o)| o)
    }

    /// The inode phase's object, or any collected object (the kernel's name/ctx pattern).
    fn object_test(&self, f: impl Fn(&ObjectInput) -> bool) -> bool {
        match self.name {
            Some(n) => f(n),
            None => self.visible().any(f),
        }
    }
}

fn conditions_hold(r: &Rule, cx: &Ctx) -> bool {
    r.conditions.iter().all(|c| condition_holds(c, cx))
}

fn num(v: &Value) -> Option<u64> {
    match v {
        Value::Num(n) => Some(*n),
        Value::Str(_) => None,
    }
}

fn num32(v: &Value) -> Option<u32> {
    num(v).map(|n| n as u32)
}

fn text(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Str(s) => Some(s.as_bytes()),
        Value::Num(_) => None,
    }
}

/// `audit_uid_comparator` / `audit_gid_comparator`: no bit operators.
pub fn uid_cmp(l: u32, op: Op, r: u32) -> bool {
    !op.is_bit_test() && op.holds(l, r)
}

fn loginuid_set(t: &TaskInput) -> u32 {
    u32::from(t.auid != u32::MAX)
}

fn contid(t: &TaskInput) -> u64 {
    t.contids.first().copied().unwrap_or(CONTID_UNSET)
}

/// `contid_tree`: `=` holds when the task's container or an enclosing one has the id, `!=`
/// when none has it; other operators hold when some id in the chain compares true.
fn contid_tree(t: &TaskInput, op: Op, value: &Value) -> bool {
    let Some(v) = num(value) else { return false };
    match op {
        Op::Ne => !t.contids.contains(&v),
        _ => t.contids.iter().any(|c| op.holds(*c, v)),
    }
}

/// `exe=`: equal paths; `!=` negates; other operators act as `=` (the kernel's code path).
fn exe_matches(t: &TaskInput, op: Op, value: &Value) -> bool {
    let Some(want) = text(value) else {
        return false;
    };
    let m = t.exe.as_deref() == Some(want);
    if op == Op::Ne {
        !m
    } else {
        m
    }
}

/// Whether `path` is `dir` or below it on a component boundary.
pub fn path_under(path: &[u8], dir: &[u8]) -> bool {
    let dir = trim_dir(dir);
    if dir == b"/" {
        return path.first() == Some(&b'/');
    }
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

/// LSM label fields on `user:role:type:level` labels: `=`/`!=` compare one component
/// (`*_sen`/`*_lev_low` the low level, `*_clr`/`*_lev_high` the high level). Other operators
/// (MLS dominance) are not modelled and never hold. No label (no LSM): never holds, as in the
/// kernel where the rule has no LSM rule attached.
pub fn label_matches(label: Option<&[u8]>, field: Field, op: Op, value: &Value) -> bool {
    let (Some(label), Some(want)) = (label, text(value)) else {
        return false;
    };
    let part = label_part(label, field);
    match op {
        Op::Eq => part == want,
        Op::Ne => part != want,
        _ => false,
    }
}

/// One component of an LSM label.
pub fn label_part(label: &[u8], field: Field) -> &[u8] {
    let mut it = label.splitn(4, |b| *b == b':');
    let user = it.next().unwrap_or(&[]);
    let role = it.next().unwrap_or(&[]);
    let ty = it.next().unwrap_or(&[]);
    let level = it.next().unwrap_or(&[]);
    let (low, high) = match level.iter().position(|b| *b == b'-') {
        Some(p) => (&level[..p], &level[p + 1..]),
        None => (level, level),
    };
    match field {
        Field::SubjUser | Field::ObjUser => user,
        Field::SubjRole | Field::ObjRole => role,
        Field::SubjType | Field::ObjType => ty,
        Field::SubjSen | Field::ObjLevLow => low,
        Field::SubjClr | Field::ObjLevHigh => high,
        _ => &[],
    }
}

/// A task (or object) number for `-C`; `None` for fields `-C` cannot read.
fn task_value(t: &TaskInput, f: Field) -> Option<u32> {
    Some(match f {
        Field::Uid => t.uid,
        Field::Euid => t.euid,
        Field::Suid => t.suid,
        Field::Fsuid => t.fsuid,
        Field::Gid => t.gid,
        Field::Egid => t.egid,
        Field::Sgid => t.sgid,
        Field::Fsgid => t.fsgid,
        Field::Auid => t.auid,
        Field::Pid => t.pid,
        Field::Ppid => t.ppid,
        Field::SessionId => t.sessionid,
        _ => return None,
    })
}

fn object_value(o: &ObjectInput, f: Field) -> Option<u32> {
    match f {
        Field::ObjUid => Some(o.ouid),
        Field::ObjGid => Some(o.ogid),
        _ => None,
    }
}

/// `-C left op right` (`audit_field_compare`): object sides hold if any object satisfies it.
fn compare_holds(cx: &Ctx, left: Field, op: Op, right: Field) -> bool {
    let is_obj = |f| matches!(f, Field::ObjUid | Field::ObjGid);
    match (is_obj(left), is_obj(right)) {
        (false, false) => match (task_value(cx.task, left), task_value(cx.task, right)) {
            (Some(l), Some(r)) => uid_cmp(l, op, r),
            _ => false,
        },
        (lo, ro) => {
            cx.in_syscall && {
                // The kernel checks the inode phase's object first, then every object: any will do.
                cx.visible().any(|o| {
                    let l = if lo {
                        object_value(o, left)
                    } else {
                        task_value(cx.task, left)
                    };
                    let r = if ro {
                        object_value(o, right)
                    } else {
                        task_value(cx.task, right)
                    };
                    matches!((l, r), (Some(l), Some(r)) if uid_cmp(l, op, r))
                })
            }
        }
    }
}

/// One condition in `audit_filter_rules`.
fn condition_holds(cond: &Condition, cx: &Ctx) -> bool {
    let (field, op, value) = match cond {
        Condition::Compare { left, op, right } => return compare_holds(cx, *left, *op, *right),
        Condition::Field { field, op, value } => (*field, *op, value),
    };
    if field == Field::Key {
        return true;
    }
    // A value of the wrong kind (a number for a path, text for a uid) never holds.
    if field.takes_text() != matches!(value, Value::Str(_)) {
        return false;
    }
    let task = cx.task;
    let ev = cx.ev;
    let n32 = num32(value);
    let task_cmp = |x: u32| n32.is_some_and(|v| op.holds(x, v));
    let task_uid = |x: u32| n32.is_some_and(|v| uid_cmp(x, op, v));
    let ctx_cmp = |x: u32| cx.in_syscall && task_cmp(x);
    let negate = |m: bool| if op == Op::Ne { !m } else { m };
    match field {
        Field::Pid => task_cmp(task.pid),
        Field::Ppid => ctx_cmp(task.ppid),
        Field::Exe => exe_matches(task, op, value),
        Field::Uid => task_uid(task.uid),
        Field::Euid => task_uid(task.euid),
        Field::Suid => task_uid(task.suid),
        Field::Fsuid => task_uid(task.fsuid),
        Field::Auid => task_uid(task.auid),
        Field::Gid | Field::Egid => {
            let Some(v) = n32 else { return false };
            let g = if field == Field::Gid {
                task.gid
            } else {
                task.egid
            };
            let r = uid_cmp(g, op, v);
            match op {
                Op::Eq => r || task.groups.contains(&v),
                Op::Ne => r && !task.groups.contains(&v),
                _ => r,
            }
        }
        Field::Sgid => task_uid(task.sgid),
        Field::Fsgid => task_uid(task.fsgid),
        Field::SessionId => task_cmp(task.sessionid),
        Field::Pers => task_cmp(task.pers),
        Field::Arch => ctx_cmp(ev.arch),
        Field::Exit => ctx_cmp(ev.exit as u64 as u32),
        Field::Success => {
            let rv = if ev.success { 1 } else { 2 };
            cx.in_syscall && n32.is_some_and(|v| op.holds(rv, if v != 0 { 1 } else { 2 }))
        }
        Field::DevMajor => n32.is_some_and(|v| {
            cx.object_test(|o| op.holds(o.dev_major, v) || op.holds(o.rdev_major, v))
        }),
        Field::DevMinor => n32.is_some_and(|v| {
            cx.object_test(|o| op.holds(o.dev_minor, v) || op.holds(o.rdev_minor, v))
        }),
        Field::Inode => n32.is_some_and(|v| cx.object_test(|o| op.holds(o.inode as u32, v))),
        Field::ObjUid => n32.is_some_and(|v| cx.object_test(|o| uid_cmp(o.ouid, op, v))),
        Field::ObjGid => n32.is_some_and(|v| cx.object_test(|o| uid_cmp(o.ogid, op, v))),
        Field::Path => match (cx.name, text(value)) {
            (Some(n), Some(p)) => negate(n.path.as_deref() == Some(p)),
            _ => false,
        },
        Field::Dir => {
            cx.in_syscall
                && text(value).is_some_and(|d| {
                    negate(
                        cx.visible()
                            .any(|o| o.path.as_deref().is_some_and(|p| path_under(p, d))),
                    )
                })
        }
        Field::LoginuidSet => task_cmp(loginuid_set(task)),
        Field::SaddrFam => cx.in_syscall && ev.saddr_fam.is_some_and(task_cmp),
        Field::SubjUser | Field::SubjRole | Field::SubjType | Field::SubjSen | Field::SubjClr => {
            label_matches(task.subj.as_deref(), field, op, value)
        }
        Field::ObjUser | Field::ObjRole | Field::ObjType | Field::ObjLevLow | Field::ObjLevHigh => {
            cx.in_syscall && cx.object_test(|o| label_matches(o.obj.as_deref(), field, op, value))
        }
        Field::Arg(n) => cx.in_syscall && n < 4 && task_cmp(ev.args[n as usize] as u32),
        Field::Key => true,
        Field::Perm => {
            let m = cx.in_syscall
                && n32.is_some_and(|p| perm_matches(ev.arch, ev.nr, &ev.args, ev.openat2_flags, p));
            negate(m)
        }
        Field::FileType => {
            let m = cx.in_syscall
                && n32.is_some_and(|ty| {
                    cx.visible()
                        .any(|o| o.inode != INO_UNSET && o.mode & S_IFMT == ty)
                });
            negate(m)
        }
        Field::ContId => num(value).is_some_and(|v| op.holds(contid(task), v)),
        Field::ContIdTree => contid_tree(task, op, value),
        // Not evaluated by audit_filter_rules: the rule cannot match.
        Field::MsgType | Field::FsType => false,
    }
}

#[cfg(test)]
mod tests;
