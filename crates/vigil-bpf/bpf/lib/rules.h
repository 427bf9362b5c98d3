/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * The compiled rule index (vigil-rules, docs/design/rule-index.md), exit table, phase 1:
 * gather the candidate sources (the syscall's list, the index buckets of the event's own
 * values, the residual), merge them in rule-id order, run each candidate's program, first
 * match per rule set. Every rule set is judged in the same pass.
 *
 * What BPF does not evaluate here (objects: dir/path/inode/..., exe, perm, saddr_fam, LSM
 * labels, -C, containers, the task and inode-phase tables) makes the rule set *undecided*:
 * the event goes to user space with that bit set and the exact evaluator finishes it.
 */
#ifndef VIGIL_RULES_H
#define VIGIL_RULES_H

#include "maps.h"

#define RX_MATCH 0
#define RX_NOMATCH 1
#define RX_UNDECIDED 2

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
#define F_EXIT 103
#define F_SUCCESS 104
#define F_ARG0 200
#define F_ARG3 203
#define F_FALSE 0xffff

/* vigil-rules IndexField bit positions gathered here. */
#define IX_PID 0
#define IX_PPID 1
#define IX_UID 2
#define IX_EUID 3
#define IX_SUID 4
#define IX_FSUID 5
#define IX_SGID 6
#define IX_FSGID 7
#define IX_AUID 8
#define IX_SESSIONID 9
#define IX_PERS 10
#define IX_EXIT 14
#define IX_A0 15
#define IX_A3 18
#define IX_FIELDS 24

struct rx_ctx {
	struct vigil_scratch *s;
	struct vigil_task *t;
	struct task_struct *task;
};

static __always_inline int c32(__u32 l, __u8 op, __u32 r)
{
	switch (op) {
	case 0:
		return l == r;
	case 1:
		return l != r;
	case 2:
		return (l & r) != 0;
	case 3:
		return (l & r) == r;
	case 4:
		return l < r;
	case 5:
		return l > r;
	case 6:
		return l <= r;
	case 7:
		return l >= r;
	}
	return 0;
}

/* uid/gid fields ignore & and &=. */
static __always_inline int ucmp(__u32 l, __u8 op, __u32 r)
{
	return (op == 2 || op == 3) ? 0 : c32(l, op, r);
}

/* Supplementary group count, read on first use. */
static __always_inline __u32 rx_ngroups(struct rx_state *st, struct task_struct *task)
{
	if (st->ngroups == VIGIL_RX_NONE)
		st->ngroups = VIGIL_RX_NONE;
	return st->ngroups;
}

/* gid=/egid= with = or != also search the supplementary groups: undecided when there are. */
static __always_inline int gid_holds(struct rx_state *st, struct task_struct *task, __u32 g,
				     __u8 op, __u32 val)
{
	int r = ucmp(g, op, val);

	if (op == 0 && !r && rx_ngroups(st, task))
		return 2;
	if (op == 1 && r && rx_ngroups(st, task))
		return 2;
	return r;
}

/* 1 holds, 0 does not, 2 undecided (BPF does not evaluate the field). */
static __always_inline int insn_holds(struct rx_state *st, struct vigil_task *t,
				      struct task_struct *task, struct vigil_rx_insn *in)
{
	__u32 val = (__u32)in->value;
	__u8 op = in->op;
	__u16 f = in->field;

	if (op > 7)
		return 0;
	if (f >= F_ARG0 && f <= F_ARG3)
		return c32((__u32)st->args[(f - F_ARG0) & 3], op, val);
	switch (f) {
	case F_FALSE:
		return 0;
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
		return gid_holds(st, task, t->gid, op, val);
	case F_EGID:
		return gid_holds(st, task, t->egid, op, val);
	case F_SESSIONID:
		return c32(t->sessionid, op, val);
	case F_PERS:
		return c32(t->pers, op, val);
	case F_LOGINUID_SET:
		return c32(t->auid != 0xffffffff, op, val);
	case F_MSGTYPE:
		return 0;
	case F_PPID:
		return c32(t->ppid, op, val);
	case F_ARCH:
		return c32(st->arch, op, val);
	case F_EXIT:
		return c32((__u32)st->ret, op, val);
	case F_SUCCESS:
		return c32(st->success ? 1 : 2, op, val);
	}
	return 2;
}

/* One instruction of the current candidate's program (bpf_loop callback). */
static long rx_insn_step(__u64 i, void *arg)
{
	struct rx_ctx *c = arg;
	struct vigil_scratch *s = c->s;
	struct rx_state *st;
	struct vigil_rx_insn *in;
	__u32 key;
	int r;

	if (!s)
		return 1;
	st = &s->rx;
	key = st->gen * st->caps.insns_cap + st->insn_base + (__u32)i;
	in = bpf_map_lookup_elem(&vigil_rx_insns, &key);
	if (!in) {
		st->verdict = RX_UNDECIDED;
		return 1;
	}
	r = insn_holds(st, c->t, c->task, in);
	if (r == 0) {
		st->verdict = RX_NOMATCH;
		return 1;
	}
	if (r == 2)
		st->verdict = RX_UNDECIDED; /* unless a later condition fails */
	return 0;
}

static __always_inline __u32 rx_cand(struct rx_state *st, __u32 pos)
{
	__u32 key = st->gen * st->caps.cands_cap + pos;
	__u32 *id = bpf_map_lookup_elem(&vigil_rx_cands, &key);

	return id ? *id : VIGIL_RX_NONE;
}

/* Next candidate in rule-id order over all sources (bpf_loop callback). */
static long rx_walk_step(__u64 i, void *arg)
{
	struct rx_ctx *c = arg;
	struct vigil_scratch *s = c->s;
	struct rx_state *st;
	struct vigil_rx_rule *rule;
	__u32 best = VIGIL_RX_NONE, at = VIGIL_RX_MAX_SOURCES, key, rs, nr;
	__u64 bit;

	if (!s)
		return 1;
	st = &s->rx;
	/* The minimum is kept in memory, not registers: the verifier then need not tell apart
	 * which source held it, and checks the loop body once per iteration. */
	st->best = VIGIL_RX_NONE;
	st->at = VIGIL_RX_MAX_SOURCES;
	for (__u32 k = 0; k < VIGIL_RX_MAX_SOURCES; k++) {
		if (k >= st->nsrc)
			break;
		if (st->head[k] < st->best) {
			st->best = st->head[k];
			st->at = k;
		}
	}
	best = st->best;
	at = st->at;
	if (at >= VIGIL_RX_MAX_SOURCES)
		return 1; /* every source exhausted */
	at &= VIGIL_RX_MAX_SOURCES - 1;
	st->cur[at]++;
	st->head[at] = st->cur[at] < st->end[at] ? rx_cand(st, st->cur[at]) : VIGIL_RX_NONE;
	if (best == st->last)
		return 0; /* in two sources */
	st->last = best;
	key = st->gen * st->caps.rules_cap + best;
	rule = bpf_map_lookup_elem(&vigil_rx_rules, &key);
	if (!rule) {
		st->undecided |= st->pending;
		st->pending = 0;
		return 1;
	}
	rs = rule->ruleset;
	if (rs >= VIGIL_MAX_RULESETS)
		return 0;
	bit = 1ULL << rs;
	if (!(st->pending & bit))
		return 0;
	nr = st->nr;
	if (rule->mask == VIGIL_RX_NONE) {
		if (nr >= VIGIL_RX_ALL_BELOW)
			return 0;
	} else {
		struct vigil_sysmask *m;

		key = st->gen * st->caps.masks_cap + rule->mask;
		m = bpf_map_lookup_elem(&vigil_rx_masks, &key);
		if (!m || !((m->bits[(nr >> 6) & (VIGIL_SYSMASK_WORDS - 1)] >> (nr & 63)) & 1))
			return 0;
	}
	st->insn_base = rule->insn_off;
	st->insn_len = rule->insn_len;
	st->verdict = RX_MATCH;
	st->runs++;
	bpf_loop(rule->insn_len > VIGIL_RX_MAX_INSNS ? VIGIL_RX_MAX_INSNS : rule->insn_len,
		 rx_insn_step, c, 0);
	if (st->verdict == RX_MATCH) {
		st->found[rs & (VIGIL_MAX_RULESETS - 1)] = best;
		st->pending &= ~bit;
		if (rule->action == VIGIL_RX_ACTION_ALWAYS)
			st->record |= bit;
	} else if (st->verdict == RX_UNDECIDED) {
		st->undecided |= bit;
		st->pending &= ~bit;
	}
	return st->pending == 0;
}

static __always_inline void rx_push(struct rx_state *st, const struct vigil_rx_list *l)
{
	__u32 k;

	if (!l || !l->len)
		return;
	if (st->nsrc >= VIGIL_RX_MAX_SOURCES) {
		/* More sources than the merge holds: let user space judge. */
		st->undecided |= st->pending;
		st->pending = 0;
		return;
	}
	k = st->nsrc & (VIGIL_RX_MAX_SOURCES - 1);
	st->cur[k] = l->off;
	st->end[k] = l->off + l->len;
	st->head[k] = rx_cand(st, l->off);
	st->nsrc++;
	st->total += l->len;
}

/* The value of index field `f` for this event; 0 when BPF does not gather it. */
static __always_inline int rx_index_value(struct rx_state *st, struct vigil_task *t, __u32 f,
					  __u64 *v)
{
	if (f >= IX_A0 && f <= IX_A3) {
		*v = (__u32)st->args[(f - IX_A0) & 3];
		return 1;
	}
	switch (f) {
	case IX_PID:
		*v = t->pid;
		return 1;
	case IX_PPID:
		*v = t->ppid;
		return 1;
	case IX_UID:
		*v = t->uid;
		return 1;
	case IX_EUID:
		*v = t->euid;
		return 1;
	case IX_SUID:
		*v = t->suid;
		return 1;
	case IX_FSUID:
		*v = t->fsuid;
		return 1;
	case IX_SGID:
		*v = t->sgid;
		return 1;
	case IX_FSGID:
		*v = t->fsgid;
		return 1;
	case IX_AUID:
		*v = t->auid;
		return 1;
	case IX_SESSIONID:
		*v = t->sessionid;
		return 1;
	case IX_PERS:
		*v = t->pers;
		return 1;
	case IX_EXIT:
		*v = (__u32)st->ret;
		return 1;
	}
	return 0;
}

static __always_inline void rx_lookup(struct rx_state *st, __u32 f, __u32 sel, __u64 v)
{
	struct vigil_rx_key k = {
		.table = VIGIL_RX_TABLE_EXIT,
		.field = f,
		.generation = st->gen,
		.sel = sel,
		.value = v,
	};

	rx_push(st, bpf_map_lookup_elem(&vigil_rx_index, &k));
}

struct rx_gather_ctx {
	struct vigil_scratch *s;
	struct vigil_task *t;
	const struct vigil_genconf *conf;
	__u64 bits;
};

/* Position of the single set bit of `b` (six comparisons; BPF has no ctz). */
static __always_inline __u32 bit_index(__u64 b)
{
	__u32 n = 0;

	if (b & 0xffffffff00000000ULL)
		n += 32;
	if (b & 0xffff0000ffff0000ULL)
		n += 16;
	if (b & 0xff00ff00ff00ff00ULL)
		n += 8;
	if (b & 0xf0f0f0f0f0f0f0f0ULL)
		n += 4;
	if (b & 0xccccccccccccccccULL)
		n += 2;
	if (b & 0xaaaaaaaaaaaaaaaaULL)
		n += 1;
	return n;
}

/* The next index field with entries: look up the buckets of this event's value (bpf_loop
 * callback, one iteration per field in use). */
static long rx_gather_step(__u64 i, void *arg)
{
	struct rx_gather_ctx *c = arg;
	struct vigil_scratch *s = c->s;
	const struct vigil_genconf *conf = c->conf;
	struct rx_state *st;
	__u64 v, bit, any, sel;
	__u32 f;

	if (!s || !conf || !c->t)
		return 1;
	st = &s->rx;
	bit = c->bits & -c->bits;
	if (!bit)
		return 1;
	c->bits &= c->bits - 1;
	f = bit_index(bit);
	any = conf->index_any & bit;
	sel = conf->index_sel & bit;
	if (!rx_index_value(st, c->t, f, &v)) {
		st->undecided |= st->pending;
		st->pending = 0;
		return 1;
	}
	if (any)
		rx_lookup(st, f, VIGIL_RX_SEL_ANY, v);
	if (sel)
		rx_lookup(st, f, st->nr, v);
	return 0;
}

/*
 * Judges the event for every rule set of generation `gen`; results in s->rx: record (rule
 * sets that record it), undecided, found[] (deciding rule per decided rule set).
 */
static __always_inline void rx_judge(struct vigil_scratch *s, struct vigil_task *t,
				     struct task_struct *task, const struct vigil_genconf *conf,
				     const struct vigil_ctl *ctl, __u32 gen, __u32 arch, __u32 nr,
				     long ret, const __u64 *args)
{
	struct rx_state *st = &s->rx;
	struct rx_ctx c = { .s = s, .t = t, .task = task };
	struct rx_gather_ctx g = { .s = s, .t = t, .conf = conf };
	__u32 nbits;
	__u64 all;
	__u32 key, total;

	all = conf->nrulesets >= 64 ? ~0ULL : ((1ULL << (conf->nrulesets & 63)) - 1);
	st->record = 0;
	st->undecided = 0;
	st->pending = all;
	st->nsrc = 0;
	st->total = 0;
	st->last = VIGIL_RX_NONE;
	st->gen = gen;
	st->nr = nr;
	st->arch = arch == VIGIL_ARCH_IDX_I386 ? VIGIL_AUDIT_ARCH_I386 : VIGIL_AUDIT_ARCH_X86_64;
	st->ret = ret;
	st->success = !(ret >= -4095 && ret <= -1);
	st->args[0] = args[0];
	st->args[1] = args[1];
	st->args[2] = args[2];
	st->args[3] = args[3];
	st->caps = *ctl;
	st->ngroups = VIGIL_RX_NONE;
	st->runs = 0;
	__builtin_memset(st->found, 0xff, sizeof(st->found));
	if (conf->flags & VIGIL_CONF_F_ALL_UNDECIDED) {
		st->undecided = all;
		return;
	}
	if (conf->flags & VIGIL_CONF_F_SOME_UNDECIDED) {
		struct vigil_sysmask *um;

		key = gen * VIGIL_NR_ARCH + arch;
		um = bpf_map_lookup_elem(&vigil_rx_umask, &key);
		if (!um || ((um->bits[(nr >> 6) & (VIGIL_SYSMASK_WORDS - 1)] >> (nr & 63)) & 1)) {
			st->undecided = all;
			return;
		}
	}

	key = (gen * VIGIL_NR_ARCH + arch) * VIGIL_MAX_SYSCALL + nr;
	rx_push(st, bpf_map_lookup_elem(&vigil_rx_lists, &key));
	g.bits = conf->index_any | conf->index_sel;
	nbits = __builtin_popcountll(g.bits);
	if (nbits)
		bpf_loop(nbits > IX_FIELDS ? IX_FIELDS : nbits, rx_gather_step, &g, 0);
	rx_push(st, arch == VIGIL_ARCH_IDX_I386 ? &conf->residual_i386 : &conf->residual_x86_64);
	total = st->total;
	if (st->pending && total)
		bpf_loop(total > (1 << 20) ? (1 << 20) : total, rx_walk_step, &c, 0);
}

struct rx_rules_ctx {
	struct vigil_scratch *s;
	struct vigil_rule_match *m;
	__u32 n;
};

static long rx_rules_step(__u64 rs, void *arg)
{
	struct rx_rules_ctx *c = arg;
	struct vigil_scratch *s = c->s;
	struct vigil_rule_match *m = c->m;
	__u32 id, n = c->n;

	if (!s || !m)
		return 1;
	id = s->rx.found[rs & (VIGIL_MAX_RULESETS - 1)];
	if (id == VIGIL_RX_NONE || ((s->rx.undecided >> rs) & 1))
		return 0;
	m[n & (VIGIL_MAX_RULESETS - 1)].ruleset = rs;
	m[n & (VIGIL_MAX_RULESETS - 1)].rule = id;
	c->n = n + 1;
	return 0;
}

/* VIGIL_ITEM_RULES: the deciding rule of every rule set decided in BPF. */
static __always_inline void item_rules(struct rec_ctx *r)
{
	struct vigil_item_hdr *h =
		item_begin(r, VIGIL_MAX_RULESETS * sizeof(struct vigil_rule_match));
	struct rx_rules_ctx c = { .s = r->s };

	if (!h)
		return;
	c.m = (void *)(h + 1);
	bpf_loop(VIGIL_MAX_RULESETS, rx_rules_step, &c, 0);
	if (c.n)
		item_end(r, h, VIGIL_ITEM_RULES, 0, 0,
			 (c.n > VIGIL_MAX_RULESETS ? VIGIL_MAX_RULESETS : c.n) *
				 sizeof(struct vigil_rule_match));
}

#endif
