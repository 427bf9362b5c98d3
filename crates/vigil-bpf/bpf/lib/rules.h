/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * The compiled rule index (vigil-rules, docs/design/rule-index.md) judged in BPF, all rule
 * sets in one pass:
 *   1. the task list, cached per task (lib/rules_task.h): never rules exclude, always rules
 *      record every syscall;
 *   2. the exit list: gather the candidate sources (the syscall's list, the index buckets of
 *      the event's own values, the residual), merge them in rule-id order, run each
 *      candidate's program (lib/rules_insn.h), first match per rule set;
 *   3. the inode phase (watches, path=, inode=), object by object: rules placed before the
 *      exit list's decision may override it.
 * What BPF cannot judge (LSM labels, containers, a name it cannot place) makes the rule set
 * *undecided*: the event goes to user space with that bit set and the exact evaluator
 * finishes it.
 */
#ifndef VIGIL_RULES_H
#define VIGIL_RULES_H

#include "rules_insn.h"

#define RX_MATCH 0
#define RX_NOMATCH 1
#define RX_UNDECIDED 2

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
#define IX_EXE 13
#define IX_EXIT 14
#define IX_A0 15
#define IX_A3 18
#define IX_PATH 21
#define IX_INODE 22
#define IX_FIELDS 24

struct rx_ctx {
	struct vigil_scratch *s;
	struct vigil_task *t;
	struct task_struct *task;
};

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
	r = insn_holds(s, c->t, in);
	if (r == RX_NO) {
		st->verdict = RX_NOMATCH;
		return 1;
	}
	if (r == RX_UNKNOWN)
		st->verdict = RX_UNDECIDED; /* unless a later condition fails */
	return 0;
}

/* Runs the candidate's program: cheap conditions first, the deferred ones if all held. */
static __always_inline void rx_run(struct rx_ctx *c, struct vigil_rx_rule *rule)
{
	struct vigil_scratch *s = c->s;
	struct rx_state *st = &s->rx;
	__u32 n = rule->insn_len > VIGIL_RX_MAX_INSNS ? VIGIL_RX_MAX_INSNS : rule->insn_len;

	st->insn_base = rule->insn_off;
	st->insn_len = rule->insn_len;
	st->verdict = RX_MATCH;
	st->deferred = 0;
	st->pass = 1;
	st->runs++;
	bpf_loop(n, rx_insn_step, c, 0);
	if (st->verdict == RX_NOMATCH || !st->deferred)
		return;
	vigil_rx_facts(s, st->deferred);
	st->pass = 2;
	bpf_loop(n, rx_insn_step, c, 0);
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
	/* The inode phase only counts rules placed before the exit list's decision. */
	if (st->phase == RX_PHASE_NAMES && best >= st->first[rs & (VIGIL_MAX_RULESETS - 1)])
		return 0;
	nr = st->nr;
	if (st->phase == RX_PHASE_TASK) {
		/* The task list has no syscall masks. */
	} else if (rule->mask == VIGIL_RX_NONE) {
		if (nr >= VIGIL_RX_ALL_BELOW)
			return 0;
	} else {
		struct vigil_sysmask *m;

		key = st->gen * st->caps.masks_cap + rule->mask;
		m = bpf_map_lookup_elem(&vigil_rx_masks, &key);
		if (!m || !((m->bits[(nr >> 6) & (VIGIL_SYSMASK_WORDS - 1)] >> (nr & 63)) & 1))
			return 0;
	}
	rx_run(c, rule);
	if (st->verdict == RX_MATCH) {
		st->found[rs & (VIGIL_MAX_RULESETS - 1)] = best;
		st->pending &= ~bit;
		if (rule->action == VIGIL_RX_ACTION_ALWAYS) {
			st->record |= bit;
			if (st->phase == RX_PHASE_TASK)
				st->task_always |= bit;
		} else {
			st->record &= ~bit;
			if (st->phase == RX_PHASE_TASK)
				st->task_never |= bit;
		}
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

static __always_inline void rx_sources_reset(struct rx_state *st)
{
	st->nsrc = 0;
	st->total = 0;
	st->last = VIGIL_RX_NONE;
}

/* Walks the gathered sources (first match per pending rule set). A global function: the
 * walk's callback is verified once, not once per phase that walks. */
__noinline int vigil_rx_walk(struct vigil_scratch *s)
{
	struct rx_ctx c = { .s = s, .task = bpf_get_current_task_btf() };
	struct vigil_syscall *sc;
	struct rx_state *st;
	__u32 total;

	if (!s)
		return 0;
	st = &s->rx;
	sc = (void *)s->rec;
	c.t = &sc->task;
	total = st->total;
	if (st->pending && total)
		bpf_loop(total > (1 << 20) ? (1 << 20) : total, rx_walk_step, &c, 0);
	return 0;
}

static __always_inline void rx_walk(struct rx_ctx *c)
{
	struct rx_state *st = &c->s->rx;

	if (st->pending && st->total)
		vigil_rx_walk(c->s);
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

static __always_inline void rx_lookup(struct rx_state *st, __u8 table, __u32 f, __u32 sel,
				      __u64 v)
{
	struct vigil_rx_key k = {
		.table = table,
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
	struct task_struct *task;
	__u64 bits;
	__u64 any;
	__u64 sel;
	__u32 table;
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
	struct rx_state *st;
	__u64 v, bit, any, sel;
	__u32 f;

	if (!s || !c->t)
		return 1;
	st = &s->rx;
	bit = c->bits & -c->bits;
	if (!bit)
		return 1;
	c->bits &= c->bits - 1;
	f = bit_index(bit);
	any = c->any & bit;
	sel = c->sel & bit;
	if (f == IX_EXE) {
		/* By the executable's inode and by its parent directory and name. */
		struct rx_exe *e = &st->exe;

		vigil_rx_facts(s, RXD_EXE);
		if (!e->ok)
			return 0;
		v = vigil_fid_key(e->dev, e->ino);
		if (any)
			rx_lookup(st, c->table, VIGIL_RX_PK_EXE_OBJ, VIGIL_RX_SEL_ANY, v);
		if (sel)
			rx_lookup(st, c->table, VIGIL_RX_PK_EXE_OBJ, st->nr, v);
		v = vigil_parent_key(e->pdev, e->pino, e->name_hash);
		if (any)
			rx_lookup(st, c->table, VIGIL_RX_PK_EXE_PARENT, VIGIL_RX_SEL_ANY, v);
		if (sel)
			rx_lookup(st, c->table, VIGIL_RX_PK_EXE_PARENT, st->nr, v);
		return 0;
	}
	if (!rx_index_value(st, c->t, f, &v)) {
		st->undecided |= st->pending;
		st->pending = 0;
		return 1;
	}
	if (any)
		rx_lookup(st, c->table, f, VIGIL_RX_SEL_ANY, v);
	if (sel)
		rx_lookup(st, c->table, f, st->nr, v);
	return 0;
}

static __always_inline void rx_gather(struct vigil_scratch *s, struct vigil_task *t,
				      struct task_struct *task, __u32 table, __u64 any, __u64 sel)
{
	struct rx_gather_ctx g = {
		.s = s, .t = t, .task = task, .bits = any | sel, .any = any, .sel = sel,
		.table = table,
	};
	__u32 nbits = __builtin_popcountll(g.bits);

	if (nbits)
		bpf_loop(nbits > IX_FIELDS ? IX_FIELDS : nbits, rx_gather_step, &g, 0);
}

#include "rules_task.h"
#include "rules_names.h"

/* The kernel's ACC_MODE: MAY_READ (4) / MAY_WRITE (2) of open flags. */
static __always_inline __u32 acc_mode(__u64 flags)
{
	__u32 m = flags & 3;

	return m == 0 ? 4 : m == 1 ? 2 : 6;
}

/* AUDIT_PERM_* classes the syscall matches with these arguments (audit_match_perm). */
static __always_inline __u32 rx_perm(struct rx_state *st)
{
	__u8 p = st->desc.perm;

	if (p & VIGIL_PERMK_OPEN)
		return acc_mode(st->args[1]);
	if (p & VIGIL_PERMK_OPENAT)
		return acc_mode(st->args[2]);
	if (p & VIGIL_PERMK_OPENAT2)
		return RX_PERM_UNKNOWN;
	if (p & VIGIL_PERMK_SOCKETCALL)
		return st->args[0] == 2 ? 2 : 0;
	return p & 0xf;
}

/*
 * Judges the event for every rule set of generation `gen`; results in s->rx: record (rule
 * sets that record it), undecided, found[] (deciding rule per decided rule set).
 */
static __always_inline void rx_judge(struct vigil_scratch *s, struct vigil_task *t,
				     struct task_struct *task, const struct vigil_genconf *conf,
				     const struct vigil_ctl *ctl, __u32 gen_seq, __u32 arch,
				     __u32 nr, long ret, const __u64 *args,
				     const struct vigil_sysdesc *desc)
{
	struct rx_state *st = &s->rx;
	struct rx_ctx c = { .s = s, .t = t, .task = task };
	__u32 gen = gen_seq & 1;
	__u64 all;
	__u32 key;

	all = conf->nrulesets >= 64 ? ~0ULL : ((1ULL << (conf->nrulesets & 63)) - 1);
	st->record = 0;
	st->undecided = 0;
	st->pending = all;
	rx_sources_reset(st);
	st->gen = gen;
	st->gen_seq = gen_seq;
	st->nr = nr;
	st->arch = arch == VIGIL_ARCH_IDX_I386 ? VIGIL_AUDIT_ARCH_I386 : VIGIL_AUDIT_ARCH_X86_64;
	st->ret = ret;
	st->success = !(ret >= -4095 && ret <= -1);
	for (int i = 0; i < 6; i++)
		st->args[i] = args[i];
	st->args[6] = 0;
	st->args[7] = 0;
	st->caps = *ctl;
	st->ngroups = 0;
	st->runs = 0;
	st->facts = 0;
	st->nobj = 0;
	st->conf_flags = conf->flags;
	st->task_never = 0;
	st->task_always = 0;
	st->names_ran = 0;
	st->task_walked = 0;
	st->obj_undecided = 0;
	if (desc)
		st->desc = *desc;
	else
		__builtin_memset(&st->desc, 0, sizeof(st->desc));
	st->ev_perm = rx_perm(st);
	__builtin_memset(st->found, 0xff, sizeof(st->found));
	if (conf->flags & VIGIL_CONF_F_ALL_UNDECIDED) {
		st->undecided = all;
		return;
	}
	if (conf->flags & VIGIL_CONF_F_TASK) {
		rx_task(s, t, task, conf);
		if (!st->pending)
			return;
	}
	st->phase = RX_PHASE_EXIT;
	st->in_syscall = 1;
	if (conf->flags & VIGIL_CONF_F_SOME_UNDECIDED) {
		struct vigil_sysmask *um;

		key = gen * VIGIL_NR_ARCH + arch;
		um = bpf_map_lookup_elem(&vigil_rx_umask, &key);
		if (!um || ((um->bits[(nr >> 6) & (VIGIL_SYSMASK_WORDS - 1)] >> (nr & 63)) & 1)) {
			st->undecided |= st->pending;
			st->pending = 0;
			return;
		}
	}

	key = (gen * VIGIL_NR_ARCH + arch) * VIGIL_MAX_SYSCALL + nr;
	rx_sources_reset(st);
	rx_push(st, bpf_map_lookup_elem(&vigil_rx_lists, &key));
	rx_gather(s, t, task, VIGIL_RX_TABLE_EXIT, conf->index_any, conf->index_sel);
	rx_push(st, arch == VIGIL_ARCH_IDX_I386 ? &conf->residual_i386 : &conf->residual_x86_64);
	rx_walk(&c);
	if (conf->flags & VIGIL_CONF_F_NAMES)
		rx_names(&c, conf, all, key);
}

struct rx_rules_ctx {
	struct vigil_scratch *s;
	struct vigil_rule_match *m;
};

/* The count lives in the scratch map (not the callback's context): the verifier then sees
 * an unknown number and checks the callback once instead of once per value. */
static long rx_rules_step(__u64 rs, void *arg)
{
	struct rx_rules_ctx *c = arg;
	struct vigil_scratch *s = c->s;
	struct vigil_rule_match *m = c->m;
	__u32 id, first, n;

	if (!s || !m)
		return 1;
	n = s->rx.nmatch;
	id = s->rx.found[rs & (VIGIL_MAX_RULESETS - 1)];
	if (id == VIGIL_RX_NONE || ((s->rx.undecided >> rs) & 1))
		return 0;
	m[n & (2 * VIGIL_MAX_RULESETS - 1)].ruleset = rs;
	m[n & (2 * VIGIL_MAX_RULESETS - 1)].rule = id;
	n++;
	/* The inode phase overrode the exit list: its rule's keys label the event when the
	 * overriding rule has none (the kernel keeps ctx->filterkey). */
	first = s->rx.first[rs & (VIGIL_MAX_RULESETS - 1)];
	if (s->rx.names_ran && first != VIGIL_RX_NONE && first != id) {
		m[n & (2 * VIGIL_MAX_RULESETS - 1)].ruleset = rs | VIGIL_RULE_F_KEY;
		m[n & (2 * VIGIL_MAX_RULESETS - 1)].rule = first;
		n++;
	}
	s->rx.nmatch = n;
	return 0;
}

/* VIGIL_ITEM_RULES: the deciding rule of every rule set decided in BPF. */
static __always_inline void item_rules(struct rec_ctx *r)
{
	struct vigil_item_hdr *h =
		item_begin(r, 2 * VIGIL_MAX_RULESETS * sizeof(struct vigil_rule_match));
	struct rx_rules_ctx c = { .s = r->s };
	__u32 n;

	if (!h)
		return;
	c.m = (void *)(h + 1);
	r->s->rx.nmatch = 0;
	bpf_loop(VIGIL_MAX_RULESETS, rx_rules_step, &c, 0);
	n = r->s->rx.nmatch;
	if (n)
		item_end(r, h, VIGIL_ITEM_RULES, 0, 0,
			 (n > 2 * VIGIL_MAX_RULESETS ? 2 * VIGIL_MAX_RULESETS : n) *
				 sizeof(struct vigil_rule_match));
}

/* VIGIL_ITEM_GROUPS: the supplementary groups (rules test gid=/egid=). */
static __always_inline void item_groups(struct rec_ctx *r, struct task_struct *task)
{
	struct rx_state *st = &r->s->rx;
	struct vigil_item_hdr *h;
	__u32 n;

	vigil_rx_facts(r->s, RXD_GROUPS);
	n = st->ngroups > VIGIL_GROUPS_MAX ? VIGIL_GROUPS_MAX : st->ngroups;
	h = item_begin(r, VIGIL_GROUPS_MAX * 4);
	if (!h)
		return;
	if (n)
		bpf_probe_read_kernel((void *)(h + 1), (n & (2 * VIGIL_GROUPS_MAX - 1)) * 4,
				      st->groups);
	item_end(r, h, VIGIL_ITEM_GROUPS, 0, st->ngroups > VIGIL_GROUPS_MAX ?
				   VIGIL_ITEM_F_TRUNCATED : 0, n * 4);
}

#endif
