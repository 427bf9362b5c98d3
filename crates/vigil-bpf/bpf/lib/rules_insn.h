/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * One condition of a compiled rule program, with the kernel's semantics (and vigil-rules'
 * reference evaluator's). A program runs in two passes: the first tests what the task and
 * the registers give at once and defers the rest (objects, ancestors, the executable, the
 * socket address, supplementary groups); the second runs only if no condition failed, after
 * the deferred facts were gathered. A condition BPF cannot judge leaves the rule set
 * undecided unless another condition of the rule fails.
 */
#ifndef VIGIL_RULES_INSN_H
#define VIGIL_RULES_INSN_H

#include "compare.h"
#include "rules_obj.h"

/* insn_holds results */
#define RX_NO 0
#define RX_YES 1
#define RX_UNKNOWN 2
#define RX_DEFER 3

/* rx_state.phase */
#define RX_PHASE_TASK 0
#define RX_PHASE_EXIT 1
#define RX_PHASE_NAMES 2

/* ev_perm when the classes cannot be told (openat2's flags are in user memory). */
#define RX_PERM_UNKNOWN 0x100

/* Kernel AUDIT_* field numbers (include/uapi/linux/audit.h) and vigil's pseudo fields. */
#define F_PID 0
#define F_UID 1
#define F_EUID 2
#define F_SUID 3
#define F_FSUID 4
#define F_GID 5
#define F_EGID 6
#define F_SGID 7
#define F_FSGID 8
#define F_LOGINUID 9
#define F_PERS 10
#define F_ARCH 11
#define F_MSGTYPE 12
#define F_PPID 18
#define F_LOGINUID_SET 24
#define F_SESSIONID 25
#define F_DEVMAJOR 100
#define F_DEVMINOR 101
#define F_INODE 102
#define F_EXIT 103
#define F_SUCCESS 104
#define F_WATCH 105
#define F_PERM 106
#define F_DIR 107
#define F_FILETYPE 108
#define F_OBJ_UID 109
#define F_OBJ_GID 110
#define F_COMPARE 111
#define F_EXE 112
#define F_SADDR_FAM 113
#define F_ARG0 200
#define F_ARG3 203
#define F_FALSE 0xffff

#define S_IFMT_BITS 0170000

/* uid/gid fields ignore & and &=. */
static __always_inline int ucmp(__u32 l, __u8 op, __u32 r)
{
	return (op == 2 || op == 3) ? 0 : c32(l, op, r);
}

/* `!=` negates perm=, filetype=, dir=, path=, exe= (tri-state). */
static __always_inline int neg3(__u8 op, int r)
{
	if (op != 1 || r == RX_UNKNOWN)
		return r;
	return !r;
}

/* A task number -C compares (vigil-rules task_number); -1: not one. */
static __always_inline long task_number(struct vigil_task *t, __u16 f)
{
	switch (f) {
	case F_UID:
		return t->uid;
	case F_EUID:
		return t->euid;
	case F_SUID:
		return t->suid;
	case F_FSUID:
		return t->fsuid;
	case F_GID:
		return t->gid;
	case F_EGID:
		return t->egid;
	case F_SGID:
		return t->sgid;
	case F_FSGID:
		return t->fsgid;
	case F_LOGINUID:
		return t->auid;
	case F_PID:
		return t->pid;
	case F_PPID:
		return t->ppid;
	case F_SESSIONID:
		return t->sessionid;
	}
	return -1;
}

/* What a condition needs beyond the task and registers (0: nothing). */
static __always_inline __u32 insn_kind(struct rx_state *st, __u16 f, __u8 op, __u32 arg)
{
	switch (f) {
	case F_DIR:
		return RXD_OBJ | RXD_ANC;
	case F_WATCH:
	case F_INODE:
	case F_DEVMAJOR:
	case F_DEVMINOR:
	case F_OBJ_UID:
	case F_OBJ_GID:
	case F_FILETYPE:
		return RXD_OBJ;
	case F_COMPARE: {
		__u16 l = arg & 0xffff, r = arg >> 16;

		return (l == F_OBJ_UID || l == F_OBJ_GID || r == F_OBJ_UID || r == F_OBJ_GID) ?
			       RXD_OBJ :
			       0;
	}
	case F_EXE:
		return RXD_EXE;
	case F_SADDR_FAM:
		return RXD_SADDR;
	case F_GID:
	case F_EGID:
		return (op == 0 || op == 1) ? RXD_GROUPS : 0;
	}
	return 0;
}

/* The resolved path operand `str` of the live generation, or NULL. */
static __always_inline struct vigil_rx_path *rx_path(struct rx_state *st, __u32 str)
{
	struct vigil_rx_pathkey k = { .generation = st->gen, .str = str };

	return bpf_map_lookup_elem(&vigil_rx_paths, &k);
}

/* The object is the path operand (path=, the inode phase). */
static __always_inline int obj_is(struct rx_obj *o, struct vigil_rx_path *p)
{
	if (!p)
		return RX_UNKNOWN;
	if (o->kind == RXO_FILE) {
		if ((p->flags & VIGIL_RXP_F_OBJ) && o->dev == p->obj_dev && o->ino == p->obj_ino)
			return RX_YES;
		return (p->flags & VIGIL_RXP_F_PARENT) && o->pdev == p->parent_dev &&
		       o->pino == p->parent_ino && o->name_hash == p->base_hash;
	}
	if (o->flags & RXO_F_NOPATH)
		return RX_NO;
	if (o->flags & RXO_F_ABS)
		return o->full_hash == p->full_hash;
	if (o->flags & RXO_F_PARENTOF)
		/* A directory named with a trailing `/` we cannot spell here. */
		return (p->flags & VIGIL_RXP_F_SLASH) ? RX_UNKNOWN : RX_NO;
	if (o->flags & RXO_F_REL1)
		return (o->flags & RXO_F_BASE) && (p->flags & VIGIL_RXP_F_PARENT) &&
		       o->base_dev == p->parent_dev && o->base_ino == p->parent_ino &&
		       o->name_hash == p->base_hash;
	if (o->flags & RXO_F_RELN)
		return o->name_hash == p->base_hash ? RX_UNKNOWN : RX_NO;
	return RX_UNKNOWN;
}

/* dir `p` is in anc[] (the object's or its base's ancestors, self first). */
static __always_inline int anc_has(struct rx_obj *o, struct vigil_rx_path *p)
{
	if (!p)
		return RX_UNKNOWN;
	if (!(p->flags & VIGIL_RXP_F_OBJ))
		return RX_NO;
	obj_ancestors(o);
	for (__u32 i = 0; i < RX_MAX_ANC; i++) {
		if (i >= o->nanc)
			break;
		if (o->anc_ino[i] == p->obj_ino && o->anc_dev[i] == p->obj_dev)
			return RX_YES;
	}
	return (o->flags & RXO_F_ANC_TRUNC) ? RX_UNKNOWN : RX_NO;
}

/* The object is dir `p` or below it. */
static __always_inline int obj_under(struct rx_state *st, struct rx_obj *o,
				     struct vigil_rx_path *p)
{
	if (!p)
		return RX_UNKNOWN;
	if (o->kind == RXO_FILE)
		return anc_has(o, p);
	if (o->flags & RXO_F_NOPATH)
		return RX_NO;
	if (o->flags & RXO_F_ABS) {
		for (__u32 i = 0; i < RX_MAX_PREFIX; i++) {
			if (i >= o->nprefix)
				break;
			if (o->prefix[i] == p->full_hash)
				return RX_YES;
		}
		return (o->flags & RXO_F_ANC_TRUNC) ? RX_UNKNOWN : RX_NO;
	}
	if ((o->flags & (RXO_F_REL1 | RXO_F_RELN)) && (o->flags & RXO_F_BASE)) {
		int r = anc_has(o, p);
		struct vigil_rx_key k = {
			.table = VIGIL_RX_TABLE_EXIT,
			.field = VIGIL_RX_PK_DIRANC,
			.generation = st->gen,
			.sel = VIGIL_RX_SEL_ANY,
			.value = vigil_fid_key(o->base_dev, o->base_ino),
		};

		if (r != RX_NO)
			return r;
		/* The name itself is the directory. */
		if ((o->flags & RXO_F_REL1) && !(o->flags & RXO_F_PARENTOF) &&
		    (p->flags & VIGIL_RXP_F_PARENT) &&
		    o->base_dev == p->parent_dev && o->base_ino == p->parent_ino &&
		    o->name_hash == p->base_hash)
			return RX_YES;
		/* Several components below a directory above some dir= operand: cannot tell. */
		if ((o->flags & RXO_F_RELN) && bpf_map_lookup_elem(&vigil_rx_index, &k))
			return RX_UNKNOWN;
		return RX_NO;
	}
	return RX_UNKNOWN;
}

/* Facts of one object user space compares (INO_UNSET and zeros for a name only). */
static __always_inline int obj_field(struct rx_obj *o, __u16 f, __u8 op, __u32 val)
{
	switch (f) {
	case F_INODE:
		return c32((__u32)o->ino, op, val);
	case F_DEVMAJOR:
		return c32(o->dev >> 20, op, val) || c32(o->rdev >> 20, op, val);
	case F_DEVMINOR:
		return c32(o->dev & 0xfffff, op, val) || c32(o->rdev & 0xfffff, op, val);
	case F_OBJ_UID:
		return ucmp(o->uid, op, val);
	case F_OBJ_GID:
		return ucmp(o->gid, op, val);
	}
	return RX_NO;
}

/* -C with an object side: both sides' numbers for one object. */
static __always_inline int obj_compare(struct vigil_task *t, struct rx_obj *o, __u32 arg,
				       __u8 op)
{
	__u16 lf = arg & 0xffff, rf = arg >> 16;
	long l = lf == F_OBJ_UID ? (long)o->uid : lf == F_OBJ_GID ? (long)o->gid : task_number(t, lf);
	long r = rf == F_OBJ_UID ? (long)o->uid : rf == F_OBJ_GID ? (long)o->gid : task_number(t, rf);

	return l >= 0 && r >= 0 && ucmp((__u32)l, op, (__u32)r);
}

/* An object condition over the objects it applies to: the inode phase's object, else any
 * object (`all`: any object in both phases, as filetype= and -C). */
static __always_inline int obj_cond(struct rx_state *st, struct vigil_task *t,
				    struct vigil_rx_insn *in, struct vigil_rx_path *p, int all)
{
	__u16 f = in->field;
	__u8 op = in->op;
	__u32 val = (__u32)in->value;
	int res = RX_NO;

	for (__u32 i = 0; i < RX_MAX_OBJS; i++) {
		struct rx_obj *o = &st->objs[i];
		int r;

		if (i >= st->nobj)
			break;
		if (!all && st->phase == RX_PHASE_NAMES && i != st->cur_obj)
			continue;
		switch (f) {
		case F_WATCH:
			r = obj_is(o, p);
			break;
		case F_DIR:
			r = obj_under(st, o, p);
			break;
		case F_FILETYPE:
			r = o->ino != ~0ULL && (o->mode & S_IFMT_BITS) == val;
			break;
		case F_COMPARE:
			r = obj_compare(t, o, in->arg, op);
			break;
		default:
			r = obj_field(o, f, op, val);
			break;
		}
		if (r == RX_YES)
			return RX_YES;
		if (r == RX_UNKNOWN)
			res = RX_UNKNOWN;
	}
	if (res == RX_UNKNOWN)
		st->obj_undecided = 1;
	return res;
}

/* gid=/egid= with = or != also search the supplementary groups (groups_search). */
static __always_inline int gid_holds(struct rx_state *st, __u32 g, __u8 op, __u32 val)
{
	int r = ucmp(g, op, val), found = 0;

	if ((op == 0 && r) || (op == 1 && !r))
		return r;
	for (__u32 i = 0; i < VIGIL_GROUPS_MAX; i++) {
		if (i >= st->ngroups)
			break;
		if (st->groups[i] == val) {
			found = 1;
			break;
		}
	}
	if (!found && st->ngroups > VIGIL_GROUPS_MAX)
		return RX_UNKNOWN;
	return op == 0 ? found : !found;
}

/* The deferred conditions: facts are gathered (rx_gather_facts) before this runs. */
static __always_inline int insn_deferred(struct rx_state *st, struct vigil_task *t,
					 struct vigil_rx_insn *in)
{
	__u16 f = in->field;
	__u8 op = in->op;
	__u32 val = (__u32)in->value;
	struct vigil_rx_path *p = NULL;

	switch (f) {
	case F_GID:
		return gid_holds(st, t->gid, op, val);
	case F_EGID:
		return gid_holds(st, t->egid, op, val);
	case F_SADDR_FAM:
		return st->in_syscall && st->saddr_fam >= 0 && c32((__u32)st->saddr_fam, op, val);
	}
	if (f == F_WATCH || f == F_DIR || f == F_EXE) {
		p = rx_path(st, in->arg);
		if (!p)
			return RX_UNKNOWN;
	}
	if (f == F_EXE) {
		struct rx_exe *e = &st->exe;
		int r = RX_NO;

		if (e->ok && p)
			r = ((p->flags & VIGIL_RXP_F_OBJ) && e->dev == p->obj_dev &&
			     e->ino == p->obj_ino) ||
			    ((p->flags & VIGIL_RXP_F_PARENT) && e->pdev == p->parent_dev &&
			     e->pino == p->parent_ino && e->name_hash == p->base_hash);
		return neg3(op, r);
	}
	if (!st->in_syscall) {
		/* The task list: no objects (filetype= still honours `!=`). */
		if (f == F_FILETYPE)
			return neg3(op, RX_NO);
		return RX_NO;
	}
	if (st->conf_flags & VIGIL_CONF_F_OBJ_UNDECIDED)
		return RX_UNKNOWN;
	switch (f) {
	case F_WATCH:
		if (st->phase != RX_PHASE_NAMES)
			return RX_NO;
		return neg3(op, obj_cond(st, t, in, p, 0));
	case F_DIR:
		return neg3(op, obj_cond(st, t, in, p, 1));
	case F_FILETYPE:
		return neg3(op, obj_cond(st, t, in, p, 1));
	case F_COMPARE:
		return obj_cond(st, t, in, p, 1);
	}
	return obj_cond(st, t, in, p, 0);
}

/* insn_deferred as a global function (verified once). */
__noinline int vigil_rx_deferred(struct vigil_scratch *s, struct vigil_rx_insn *in)
{
	struct vigil_syscall *sc;

	if (!s || !in)
		return RX_UNKNOWN;
	sc = (void *)s->rec;
	return insn_deferred(&s->rx, &sc->task, in);
}

/* RX_YES / RX_NO / RX_UNKNOWN, or RX_DEFER (first pass, for a deferred kind). */
static __always_inline int insn_holds(struct vigil_scratch *s, struct vigil_task *t,
				      struct vigil_rx_insn *in)
{
	struct rx_state *st = &s->rx;
	__u32 val = (__u32)in->value;
	__u8 op = in->op;
	__u16 f = in->field;
	__u32 kind;

	if (op > 7)
		return RX_NO;
	kind = insn_kind(st, f, op, in->arg);
	if (st->pass == 2)
		return kind ? vigil_rx_deferred(s, in) : RX_YES;
	if (kind) {
		/* gid=/egid= only need the groups when the primary id does not decide. */
		if (kind == RXD_GROUPS) {
			__u32 g = f == F_GID ? t->gid : t->egid;
			int r = ucmp(g, op, val);

			if ((op == 0 && r) || (op == 1 && !r))
				return r;
		}
		st->deferred |= kind;
		return RX_DEFER;
	}
	if (f >= F_ARG0 && f <= F_ARG3)
		return st->in_syscall && c32((__u32)st->args[(f - F_ARG0) & 3], op, val);
	switch (f) {
	case F_FALSE:
		return RX_NO;
	case F_PID:
		return c32(t->pid, op, val);
	case F_UID:
		return ucmp(t->uid, op, val);
	case F_EUID:
		return ucmp(t->euid, op, val);
	case F_SUID:
		return ucmp(t->suid, op, val);
	case F_FSUID:
		return ucmp(t->fsuid, op, val);
	case F_LOGINUID:
		return ucmp(t->auid, op, val);
	case F_SGID:
		return ucmp(t->sgid, op, val);
	case F_FSGID:
		return ucmp(t->fsgid, op, val);
	case F_GID:
		return ucmp(t->gid, op, val);
	case F_EGID:
		return ucmp(t->egid, op, val);
	case F_SESSIONID:
		return c32(t->sessionid, op, val);
	case F_PERS:
		return c32(t->pers, op, val);
	case F_LOGINUID_SET:
		return c32(t->auid != 0xffffffff, op, val);
	case F_MSGTYPE:
		return RX_NO;
	case F_PPID:
		return st->in_syscall && c32(t->ppid, op, val);
	case F_ARCH:
		return st->in_syscall && c32(st->arch, op, val);
	case F_EXIT:
		return st->in_syscall && c32((__u32)st->ret, op, val);
	case F_SUCCESS:
		return st->in_syscall && c32(st->success ? 1 : 2, op, val);
	case F_PERM:
		if (!st->in_syscall)
			return neg3(op, RX_NO);
		if (st->ev_perm & RX_PERM_UNKNOWN)
			return RX_UNKNOWN;
		return neg3(op, (val & st->ev_perm) != 0);
	case F_COMPARE: {
		long l = task_number(t, in->arg & 0xffff), r = task_number(t, in->arg >> 16);

		return l >= 0 && r >= 0 && ucmp((__u32)l, op, (__u32)r);
	}
	}
	/* LSM labels, containers: user space. */
	return RX_UNKNOWN;
}

#endif
