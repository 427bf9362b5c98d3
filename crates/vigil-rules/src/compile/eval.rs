//! Evaluating a [`CompiledSet`]: gather the candidate sources of the event, walk their union in
//! rule-id order (first match per rule set), run each candidate's program. This mirrors what the
//! BPF program does (see docs/design/rule-index.md); the reference evaluator is the oracle.

use super::classes::perm_matches;
use super::hash::{ancestors, fnv1a};
use super::layout::{
    pseudo, CompiledSet, IndexField, IndexKey, Insn, ListRef, OpCode, RuleHeader, Table, TableKind,
    MAX_OBJECTS, NONE, RULE_NAME_SCOPED, SEL_ANY,
};
use super::lower::fno;
use crate::ast::{Field, FilterList, Op};
use crate::input::{EventInput, ObjectInput, TaskInput};
use crate::reference::{
    label_part, path_under, Decision, Reason, Verdict, CONTID_UNSET, INO_UNSET,
};
use crate::tables::SYSCALL_CLASS_FIRST;

const S_IFMT: u32 = 0o170_000;
/// Sources kept on the stack before spilling to the heap.
const INLINE_SOURCES: usize = 24;

/// The candidate sources of one walk.
struct Sources {
    n: usize,
    inline: [ListRef; INLINE_SOURCES],
    spill: Vec<ListRef>,
}

impl Sources {
    fn new() -> Sources {
        Sources {
            n: 0,
            inline: [ListRef::default(); INLINE_SOURCES],
            spill: Vec::new(),
        }
    }

    fn push(&mut self, r: ListRef) {
        if r.len == 0 {
            return;
        }
        if self.n < INLINE_SOURCES {
            self.inline[self.n] = r;
        } else {
            self.spill.push(r);
        }
        self.n += 1;
    }

    fn iter(&self) -> impl Iterator<Item = &ListRef> {
        self.inline[..self.n.min(INLINE_SOURCES)]
            .iter()
            .chain(self.spill.iter())
    }
}

/// What a program sees.
struct Cx<'a> {
    ev: &'a EventInput,
    objs: &'a [ObjectInput],
    /// There is a syscall context (false for the task list).
    in_syscall: bool,
    /// The user/exclude walk (`audit_filter`).
    msg: bool,
    /// The inode phase's object.
    name: Option<usize>,
    /// Objects hidden for the rule set being judged.
    hidden: u64,
}

impl Cx<'_> {
    fn visible(&self) -> impl Iterator<Item = &ObjectInput> {
        let n = if self.in_syscall { self.objs.len() } else { 0 };
        let hidden = self.hidden;
        self.objs[..n]
            .iter()
            .enumerate()
            .filter(move |(i, _)| hidden >> i & 1 == 0)
            .map(|(_, o)| o)
    }

    fn object_test(&self, f: impl Fn(&ObjectInput) -> bool) -> bool {
        match self.name {
            Some(i) => f(&self.objs[i]),
            None => self.visible().any(f),
        }
    }
}

/// Parameters of one first-match walk.
#[derive(Clone, Copy)]
struct Walk<'w> {
    /// Objects hidden per rule set.
    hidden: &'w [u64],
    /// The syscall whose mask candidates must hold (`None`: lists without masks).
    nr: Option<u32>,
    /// Rule sets still to be decided (bit per rule set).
    open: u64,
    /// Per rule set: only ids below it count (the inode phase's priority limit).
    limit: &'w [u32],
}

enum Outcome {
    Match,
    NoMatch,
    Abort,
}

/// `audit_comparator` on a compiled operator.
fn c32(l: u32, op: OpCode, r: u32) -> bool {
    Op::from(op).holds(l, r)
}

/// `audit_uid_comparator`: bit tests never hold.
fn ucmp(l: u32, op: OpCode, r: u32) -> bool {
    !matches!(op, OpCode::BitMask | OpCode::BitTest) && c32(l, op, r)
}

/// `contid` is compared on 64 bits.
fn c64(l: u64, op: OpCode, r: u64) -> bool {
    Op::from(op).holds(l, r)
}

fn task_number(t: &TaskInput, f: u16) -> Option<u32> {
    Some(match f {
        fno::UID => t.uid,
        fno::EUID => t.euid,
        fno::SUID => t.suid,
        fno::FSUID => t.fsuid,
        fno::GID => t.gid,
        fno::EGID => t.egid,
        fno::SGID => t.sgid,
        fno::FSGID => t.fsgid,
        fno::AUID => t.auid,
        fno::PID => t.pid,
        fno::PPID => t.ppid,
        fno::SESSIONID => t.sessionid,
        _ => return None,
    })
}

fn lsm_field(f: u16) -> Field {
    match f {
        fno::SUBJ_USER => Field::SubjUser,
        fno::SUBJ_ROLE => Field::SubjRole,
        fno::SUBJ_TYPE => Field::SubjType,
        fno::SUBJ_SEN => Field::SubjSen,
        fno::SUBJ_CLR => Field::SubjClr,
        fno::OBJ_USER => Field::ObjUser,
        fno::OBJ_ROLE => Field::ObjRole,
        fno::OBJ_TYPE => Field::ObjType,
        fno::OBJ_LEV_LOW => Field::ObjLevLow,
        _ => Field::ObjLevHigh,
    }
}

impl CompiledSet {
    fn string(&self, i: &Insn) -> &[u8] {
        self.strings.get(i.arg as usize).map_or(&[], Vec::as_slice)
    }

    fn label(&self, label: Option<&[u8]>, i: &Insn, op: OpCode) -> bool {
        let Some(label) = label else { return false };
        let part = label_part(label, lsm_field(i.field));
        match op {
            OpCode::Eq => part == self.string(i),
            OpCode::Ne => part != self.string(i),
            _ => false,
        }
    }

    /// One instruction; `None` = the kernel stops the user/exclude walk here.
    fn insn_holds(&self, insn: &Insn, cx: &Cx) -> Option<bool> {
        let Some(op) = OpCode::from_u8(insn.op) else {
            return Some(false);
        };
        let task = &cx.ev.task;
        let ev = cx.ev;
        let val = insn.value as u32;
        let neg = |m: bool| if op == OpCode::Ne { !m } else { m };
        Some(match insn.field {
            pseudo::FALSE => false,
            pseudo::ABORT => return None,
            pseudo::COMPARE => compare(insn, op, cx),
            fno::PID => c32(task.pid, op, val),
            fno::UID => ucmp(task.uid, op, val),
            fno::EUID => ucmp(task.euid, op, val),
            fno::SUID => ucmp(task.suid, op, val),
            fno::FSUID => ucmp(task.fsuid, op, val),
            fno::AUID => ucmp(task.auid, op, val),
            fno::SGID => ucmp(task.sgid, op, val),
            fno::FSGID => ucmp(task.fsgid, op, val),
            fno::GID | fno::EGID => {
                let g = if insn.field == fno::GID {
                    task.gid
                } else {
                    task.egid
                };
                let r = ucmp(g, op, val);
                match op {
                    _ if cx.msg => r,
                    OpCode::Eq => r || task.groups.contains(&val),
                    OpCode::Ne => r && !task.groups.contains(&val),
                    _ => r,
                }
            }
            fno::SESSIONID => c32(task.sessionid, op, val),
            fno::PERS => c32(task.pers, op, val),
            fno::LOGINUID_SET => c32(u32::from(task.auid != u32::MAX), op, val),
            fno::MSGTYPE => cx.msg && c32(ev.msgtype, op, val),
            fno::PPID => cx.in_syscall && c32(task.ppid, op, val),
            fno::ARCH => cx.in_syscall && c32(ev.arch, op, val),
            fno::EXIT => cx.in_syscall && c32(ev.exit as u64 as u32, op, val),
            fno::SUCCESS => cx.in_syscall && c32(if ev.success { 1 } else { 2 }, op, val),
            fno::SADDR_FAM => cx.in_syscall && ev.saddr_fam.is_some_and(|f| c32(f, op, val)),
            a @ fno::A0..=fno::A3 => {
                cx.in_syscall && c32(ev.args[usize::from(a - fno::A0)] as u32, op, val)
            }
            fno::DEVMAJOR => {
                cx.object_test(|o| c32(o.dev_major, op, val) || c32(o.rdev_major, op, val))
            }
            fno::DEVMINOR => {
                cx.object_test(|o| c32(o.dev_minor, op, val) || c32(o.rdev_minor, op, val))
            }
            fno::INODE => cx.object_test(|o| c32(o.inode as u32, op, val)),
            fno::OBJ_UID => cx.object_test(|o| ucmp(o.ouid, op, val)),
            fno::OBJ_GID => cx.object_test(|o| ucmp(o.ogid, op, val)),
            fno::PATH => match cx.name {
                Some(n) => neg(cx.objs[n].path.as_deref() == Some(self.string(insn))),
                None => false,
            },
            fno::DIR => {
                cx.in_syscall && {
                    let d = self.string(insn);
                    neg(cx
                        .visible()
                        .any(|o| o.path.as_deref().is_some_and(|p| path_under(p, d))))
                }
            }
            fno::PERM => {
                neg(cx.in_syscall && perm_matches(ev.arch, ev.nr, &ev.args, ev.openat2_flags, val))
            }
            fno::FILETYPE => neg(cx.in_syscall
                && cx
                    .visible()
                    .any(|o| o.inode != INO_UNSET && o.mode & S_IFMT == val)),
            fno::EXE => neg(task.exe.as_deref() == Some(self.string(insn))),
            fno::SUBJ_USER..=fno::SUBJ_CLR => self.label(task.subj.as_deref(), insn, op),
            fno::OBJ_USER..=fno::OBJ_LEV_HIGH => {
                cx.in_syscall && cx.object_test(|o| self.label(o.obj.as_deref(), insn, op))
            }
            fno::CONTID => c64(
                task.contids.first().copied().unwrap_or(CONTID_UNSET),
                op,
                insn.value,
            ),
            fno::CONTID_TREE => match op {
                OpCode::Ne => !task.contids.contains(&insn.value),
                _ => task.contids.iter().any(|c| c64(*c, op, insn.value)),
            },
            _ => false,
        })
    }

    fn run(&self, r: &RuleHeader, cx: &Cx) -> Outcome {
        for i in self.program(r) {
            match self.insn_holds(i, cx) {
                Some(true) => {}
                Some(false) => return Outcome::NoMatch,
                None => return Outcome::Abort,
            }
        }
        Outcome::Match
    }

    fn in_mask(&self, r: &RuleHeader, nr: u32) -> bool {
        if r.mask == NONE {
            nr < SYSCALL_CLASS_FIRST
        } else {
            self.masks[r.mask as usize].contains(nr)
        }
    }

    fn lookup(&self, t: TableKind, f: IndexField, sel: u32, value: u64) -> ListRef {
        let k = IndexKey {
            table: t as u8,
            field: f as u8,
            pad: 0,
            sel,
            value,
        };
        self.index.get(&k).copied().unwrap_or_default()
    }

    /// The index buckets of the event's own field values.
    fn gather_index(
        &self,
        table: &Table,
        ev: &EventInput,
        objs: &[ObjectInput],
        sel: Option<u32>,
        out: &mut Sources,
    ) {
        let mut bits = table.index_any | if sel.is_some() { table.index_sel } else { 0 };
        while bits != 0 {
            let f = IndexField::ALL[bits.trailing_zeros() as usize];
            bits &= bits - 1;
            let any = table.index_any & f.bit() != 0;
            let by_sel = sel.filter(|_| table.index_sel & f.bit() != 0);
            let mut each = |value: u64| {
                if any {
                    out.push(self.lookup(table.kind, f, SEL_ANY, value));
                }
                if let Some(nr) = by_sel {
                    out.push(self.lookup(table.kind, f, nr, value));
                }
            };
            event_values(f, ev, objs, &mut each);
        }
    }

    /// Walk the union of `srcs` in rule-id order; `visit` returns false to stop.
    fn merge(&self, srcs: &Sources, mut visit: impl FnMut(u32) -> bool) {
        if srcs.n == 1 {
            for id in self.list(srcs.inline[0]) {
                if !visit(*id) {
                    return;
                }
            }
            return;
        }
        if srcs.n == 0 {
            return;
        }
        let mut inline: [&[u32]; INLINE_SOURCES] = [&[]; INLINE_SOURCES];
        let mut spill: Vec<&[u32]> = Vec::new();
        let heads: &mut [&[u32]] = if srcs.n <= INLINE_SOURCES {
            for (h, r) in inline.iter_mut().zip(srcs.iter()) {
                *h = self.list(*r);
            }
            &mut inline[..srcs.n]
        } else {
            spill.extend(srcs.iter().map(|r| self.list(*r)));
            &mut spill
        };
        let mut last = NONE;
        loop {
            let mut best = NONE;
            let mut at = usize::MAX;
            for (i, h) in heads.iter().enumerate() {
                if let Some(&id) = h.first() {
                    if id < best {
                        best = id;
                        at = i;
                    }
                }
            }
            if at == usize::MAX {
                return;
            }
            heads[at] = &heads[at][1..];
            if best == last {
                continue;
            }
            last = best;
            if !visit(best) {
                return;
            }
        }
    }

    /// First matching rule per rule set among `srcs` (`found[rs]`, [`NONE`] if none), for
    /// the rule sets in `w.open`. Returns the rule sets whose walk was aborted (user/exclude).
    fn first_matches(&self, srcs: &Sources, cx: &mut Cx, w: &Walk, found: &mut [u32]) -> u64 {
        let Walk {
            hidden,
            nr,
            open,
            limit,
        } = *w;
        let mut aborted = 0u64;
        let mut pending = open;
        if pending == 0 {
            return 0;
        }
        self.merge(srcs, |id| {
            let r = &self.rules[id as usize];
            let rs = r.ruleset as usize;
            if pending >> rs & 1 == 0 || id >= limit[rs] {
                return true;
            }
            if nr.is_some_and(|nr| !self.in_mask(r, nr)) {
                return true;
            }
            cx.hidden = hidden[rs];
            match self.run(r, cx) {
                Outcome::NoMatch => {}
                Outcome::Match => {
                    found[rs] = id;
                    pending &= !(1 << rs);
                }
                Outcome::Abort => {
                    found[rs] = id;
                    aborted |= 1 << rs;
                    pending &= !(1 << rs);
                }
            }
            pending != 0
        });
        aborted
    }

    /// Judge `ev`; the same result as [`crate::reference::evaluate`] on the compiled sets.
    pub fn evaluate(&self, ev: &EventInput) -> Decision {
        let mut d = Decision::default();
        self.evaluate_into(ev, &mut d);
        d
    }

    /// [`Self::evaluate`] into a reused [`Decision`].
    pub fn evaluate_into(&self, ev: &EventInput, out: &mut Decision) {
        let n = self.rulesets.len();
        out.reset(n);
        let all: u64 = if n >= 64 { u64::MAX } else { (1 << n) - 1 };
        let objs = &ev.objects[..ev.objects.len().min(MAX_OBJECTS)];
        match ev.list {
            None => {}
            Some(list @ (FilterList::User | FilterList::Exclude)) => {
                self.eval_message(list, ev, all, out);
            }
            Some(FilterList::Task) => {
                for v in &mut out.verdicts {
                    v.record = true;
                }
                self.eval_task(ev, all, out);
            }
            Some(FilterList::Filesystem) => {
                let hidden = self.hidden(objs, n);
                for (v, h) in out.verdicts.iter_mut().zip(hidden) {
                    v.hidden = h;
                }
            }
            Some(list @ (FilterList::Exit | FilterList::IoUring)) => {
                self.eval_syscall(list, ev, objs, all, out);
            }
        }
        out.finish();
    }

    fn key_of(&self, id: u32) -> Option<u32> {
        let r = &self.rules[id as usize];
        (r.key != NONE).then_some(r.index)
    }

    /// The first matching rule of each of the `n` rule sets in `table`, for the lists judged
    /// without objects or a syscall (task; user and exclude with `msg`). Returns the rule ids
    /// (`NONE`: no match) and the rule sets whose walk aborted.
    fn first_matches_without_objects(
        &self,
        table: &Table,
        ev: &EventInput,
        all: u64,
        n: usize,
        msg: bool,
    ) -> ([u32; 64], u64) {
        let mut srcs = Sources::new();
        self.gather_index(table, ev, &[], None, &mut srcs);
        srcs.push(table.residual);
        let mut found = [NONE; 64];
        let limit = [NONE; 64];
        let hidden = [0u64; 64];
        let mut cx = Cx {
            ev,
            objs: &[],
            in_syscall: false,
            msg,
            name: None,
            hidden: 0,
        };
        let walk = Walk {
            hidden: &hidden,
            nr: None,
            open: all,
            limit: &limit,
        };
        let aborted = self.first_matches(&srcs, &mut cx, &walk, &mut found[..n]);
        (found, aborted)
    }

    /// The task list; returns the rule sets it decided.
    fn eval_task(&self, ev: &EventInput, all: u64, out: &mut Decision) -> u64 {
        let table = self.table(TableKind::Task);
        if table.rules == 0 {
            return 0;
        }
        let n = out.verdicts.len();
        let (found, _) = self.first_matches_without_objects(table, ev, all, n, false);
        let mut decided = 0;
        for (rs, id) in found[..n].iter().enumerate() {
            if *id == NONE {
                continue;
            }
            let r = &self.rules[*id as usize];
            let always = r.action == 2;
            out.verdicts[rs] = Verdict {
                record: always,
                reason: Reason::Task,
                rule: Some(r.index),
                key_rule: if always { self.key_of(*id) } else { None },
                hidden: 0,
            };
            decided |= 1 << rs;
        }
        decided
    }

    /// Objects hidden by the filesystem list, per rule set.
    fn hidden(&self, objs: &[ObjectInput], n: usize) -> [u64; 64] {
        let mut hidden = [0u64; 64];
        let table = self.table(TableKind::Fs);
        if table.rules == 0 {
            return hidden;
        }
        for (i, o) in objs.iter().enumerate() {
            let mut srcs = Sources::new();
            if table.index_any != 0 {
                srcs.push(self.lookup(
                    TableKind::Fs,
                    IndexField::FsType,
                    SEL_ANY,
                    u64::from(o.fstype),
                ));
            }
            srcs.push(table.residual);
            self.merge(&srcs, |id| {
                let r = &self.rules[id as usize];
                let hides = self.program(r).iter().any(|insn| {
                    OpCode::from_u8(insn.op).is_some_and(|op| c32(o.fstype, op, insn.value as u32))
                });
                if hides && (r.ruleset as usize) < n {
                    hidden[r.ruleset as usize] |= 1 << i;
                }
                true
            });
        }
        hidden
    }

    fn eval_message(&self, list: FilterList, ev: &EventInput, all: u64, out: &mut Decision) {
        for v in &mut out.verdicts {
            v.record = true;
        }
        let kind = if list == FilterList::User {
            TableKind::User
        } else {
            TableKind::Exclude
        };
        let table = self.table(kind);
        if table.rules == 0 {
            return;
        }
        let n = out.verdicts.len();
        let (found, aborted) = self.first_matches_without_objects(table, ev, all, n, true);
        for (rs, id) in found[..n].iter().enumerate() {
            if *id == NONE {
                continue;
            }
            let r = &self.rules[*id as usize];
            out.verdicts[rs] = if aborted >> rs & 1 != 0 {
                Verdict {
                    record: true,
                    reason: Reason::Aborted,
                    rule: Some(r.index),
                    key_rule: None,
                    hidden: 0,
                }
            } else {
                Verdict {
                    record: r.action == 2 && kind == TableKind::User,
                    reason: Reason::Rule,
                    rule: Some(r.index),
                    key_rule: self.key_of(*id),
                    hidden: 0,
                }
            };
        }
    }

    fn eval_syscall(
        &self,
        list: FilterList,
        ev: &EventInput,
        objs: &[ObjectInput],
        all: u64,
        out: &mut Decision,
    ) {
        let n = out.verdicts.len();
        let hidden = self.hidden(objs, n);
        let by_task = self.eval_task(ev, all, out);
        for (rs, v) in out.verdicts.iter_mut().enumerate() {
            v.hidden = hidden[rs];
        }
        let open = all & !by_task;
        if open == 0 {
            return;
        }
        let (kind, names) = if list == FilterList::Exit {
            (TableKind::Exit, self.table(TableKind::Names))
        } else {
            (TableKind::IoUring, self.table(TableKind::Names))
        };
        let table = self.table(kind);
        let nr = ev.nr;
        // The O(1) reject: no rule of any rule set can match this syscall on this arch.
        let Some(slot) = table
            .slots
            .iter()
            .find(|s| s.arch == ev.arch)
            .or_else(|| table.slots.last())
        else {
            return;
        };
        if !slot.bitmap.contains(nr) {
            return;
        }
        let mut cx = Cx {
            ev,
            objs,
            in_syscall: true,
            msg: false,
            name: None,
            hidden: 0,
        };
        // Phase 1: the list walk.
        let mut first = [NONE; 64];
        let no_limit = [NONE; 64];
        if table.rules != 0 {
            let mut srcs = Sources::new();
            srcs.push(slot.lists.get(nr as usize).copied().unwrap_or_default());
            self.gather_index(table, ev, objs, Some(nr), &mut srcs);
            srcs.push(slot.residual);
            let walk = Walk {
                hidden: &hidden,
                nr: Some(nr),
                open,
                limit: &no_limit,
            };
            self.first_matches(&srcs, &mut cx, &walk, &mut first[..n]);
        }
        // Phase 2: the inode hash walk, object by object (exit list only).
        let mut second = [NONE; 64];
        if kind == TableKind::Exit && names.rules != 0 {
            let mut open2 = open;
            for (oi, o) in objs.iter().enumerate() {
                if open2 == 0 {
                    break;
                }
                let mut srcs = Sources::new();
                if names.index_any & IndexField::Path.bit() != 0 {
                    if let Some(p) = o.path.as_deref() {
                        srcs.push(self.lookup(
                            TableKind::Names,
                            IndexField::Path,
                            SEL_ANY,
                            fnv1a(p),
                        ));
                    }
                }
                if names.index_any & IndexField::Inode.bit() != 0 {
                    srcs.push(self.lookup(
                        TableKind::Names,
                        IndexField::Inode,
                        SEL_ANY,
                        u64::from(o.inode as u32),
                    ));
                }
                srcs.push(names.residual);
                // Rule sets for which this object is hidden skip it.
                let visible_for = (0..n).fold(0u64, |m, rs| {
                    if hidden[rs] >> oi & 1 == 0 {
                        m | 1 << rs
                    } else {
                        m
                    }
                });
                cx.name = Some(oi);
                let mut found = [NONE; 64];
                let walk = Walk {
                    hidden: &hidden,
                    nr: Some(nr),
                    open: open2 & visible_for,
                    limit: &first,
                };
                self.first_matches(&srcs, &mut cx, &walk, &mut found[..n]);
                for rs in 0..n {
                    if found[rs] != NONE {
                        second[rs] = found[rs];
                        open2 &= !(1 << rs);
                    }
                }
            }
        }
        for rs in 0..n {
            if open >> rs & 1 == 0 {
                continue;
            }
            let decider = if second[rs] == NONE {
                first[rs]
            } else {
                second[rs]
            };
            if decider == NONE {
                continue;
            }
            let r = &self.rules[decider as usize];
            debug_assert!(second[rs] == NONE || r.flags & RULE_NAME_SCOPED != 0);
            let key_rule = self.key_of(decider).or_else(|| {
                if second[rs] != NONE && first[rs] != NONE {
                    self.key_of(first[rs])
                } else {
                    None
                }
            });
            out.verdicts[rs] = Verdict {
                record: r.action == 2,
                reason: Reason::Rule,
                rule: Some(r.index),
                key_rule,
                hidden: hidden[rs],
            };
        }
    }
}

/// The values of index field `f` this event is looked up by.
fn event_values(f: IndexField, ev: &EventInput, objs: &[ObjectInput], each: &mut impl FnMut(u64)) {
    let t = &ev.task;
    let one = |v: u32| u64::from(v);
    match f {
        IndexField::Pid => each(one(t.pid)),
        IndexField::Ppid => each(one(t.ppid)),
        IndexField::Uid => each(one(t.uid)),
        IndexField::Euid => each(one(t.euid)),
        IndexField::Suid => each(one(t.suid)),
        IndexField::Fsuid => each(one(t.fsuid)),
        IndexField::Sgid => each(one(t.sgid)),
        IndexField::Fsgid => each(one(t.fsgid)),
        IndexField::Auid => each(one(t.auid)),
        IndexField::SessionId => each(one(t.sessionid)),
        IndexField::Pers => each(one(t.pers)),
        IndexField::ContId => each(t.contids.first().copied().unwrap_or(CONTID_UNSET)),
        IndexField::ContIdTree => t.contids.iter().for_each(|c| each(*c)),
        IndexField::Exe => {
            if let Some(e) = t.exe.as_deref() {
                each(fnv1a(e));
            }
        }
        IndexField::Exit => each(one(ev.exit as u64 as u32)),
        IndexField::A0 => each(one(ev.args[0] as u32)),
        IndexField::A1 => each(one(ev.args[1] as u32)),
        IndexField::A2 => each(one(ev.args[2] as u32)),
        IndexField::A3 => each(one(ev.args[3] as u32)),
        IndexField::MsgType => each(one(ev.msgtype)),
        IndexField::Dir => {
            for o in objs {
                if let Some(p) = o.path.as_deref() {
                    for a in ancestors(p) {
                        each(fnv1a(a));
                    }
                }
            }
        }
        // Looked up per object by the inode phase and the filesystem list.
        IndexField::Path | IndexField::Inode | IndexField::FsType => {}
    }
}

/// `-C left op right`: object sides hold if any visible object satisfies it.
fn compare(insn: &Insn, op: OpCode, cx: &Cx) -> bool {
    let (lf, rf) = ((insn.arg & 0xffff) as u16, (insn.arg >> 16) as u16);
    let obj = |f| f == fno::OBJ_UID || f == fno::OBJ_GID;
    let task = &cx.ev.task;
    if !obj(lf) && !obj(rf) {
        return match (task_number(task, lf), task_number(task, rf)) {
            (Some(lv), Some(rv)) => ucmp(lv, op, rv),
            _ => false,
        };
    }
    let side = |f: u16, o: &ObjectInput| match f {
        fno::OBJ_UID => Some(o.ouid),
        fno::OBJ_GID => Some(o.ogid),
        f => task_number(task, f),
    };
    cx.in_syscall
        && cx
            .visible()
            .any(|o| matches!((side(lf, o), side(rf, o)), (Some(lv), Some(rv)) if ucmp(lv, op, rv)))
}
