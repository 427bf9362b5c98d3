/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * The task list, judged per task and cached in task storage: a `never` rule excludes the
 * task (its syscalls cost one storage lookup), an `always` rule records every syscall of it.
 * The cache holds for one rule generation and one identity (credentials, login uid,
 * session, personality, executable): it is the task list evaluated with the event's
 * identity, as vigil-rules' evaluators do (the kernel evaluates it once, at fork).
 * Included by rules.h.
 */
#ifndef VIGIL_RULES_TASK_H
#define VIGIL_RULES_TASK_H

static __always_inline void rx_task_walk(struct rx_ctx *c, const struct vigil_genconf *conf)
{
	struct rx_state *st = &c->s->rx;

	st->phase = RX_PHASE_TASK;
	st->in_syscall = 0;
	rx_sources_reset(st);
	rx_gather(c->s, c->t, c->task, VIGIL_RX_TABLE_TASK, conf->task_index_any, 0);
	rx_push(st, &conf->task_residual);
	rx_walk(c);
}

/* Keeps the decided rule sets' rules (at most RX_TASK_DECIDED_MAX; the rest undecided). */
static __always_inline void rx_task_store(struct rx_state *st, struct rx_task_cache *tc)
{
	__u64 bits = st->task_never | st->task_always;
	__u32 n = 0;

	for (__u32 i = 0; i < RX_TASK_DECIDED_MAX; i++) {
		__u64 b = bits & -bits;
		__u32 rs;

		if (!b)
			break;
		bits &= bits - 1;
		rs = bit_index(b) & (VIGIL_MAX_RULESETS - 1);
		tc->decided[i].ruleset = rs;
		tc->decided[i].rule = st->found[rs];
		n++;
	}
	if (bits) {
		st->undecided |= bits;
		st->task_never &= ~bits;
		st->task_always &= ~bits;
	}
	tc->ndecided = n;
	tc->never = st->task_never;
	tc->always = st->task_always;
	tc->undecided = st->undecided;
}

static __always_inline void rx_task(struct vigil_scratch *s, struct vigil_task *t,
				    struct task_struct *task, const struct vigil_genconf *conf)
{
	struct rx_state *st = &s->rx;
	struct rx_ctx c = { .s = s, .t = t, .task = task };
	struct rx_task_cache *tc;
	__u64 all = st->pending, cred = 0, exe = 0;
	struct mm_struct *mm;

	bpf_probe_read_kernel(&cred, sizeof(cred), &task->cred);
	mm = BPF_CORE_READ(task, mm);
	if (mm)
		bpf_probe_read_kernel(&exe, sizeof(exe), &mm->exe_file);
	tc = bpf_task_storage_get(&vigil_task_rx, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (tc && tc->valid && tc->generation == st->gen_seq && tc->cred == cred &&
	    tc->auid == t->auid && tc->sessionid == t->sessionid && tc->pers == t->pers &&
	    tc->exe == exe) {
		for (__u32 i = 0; i < RX_TASK_DECIDED_MAX; i++) {
			if (i >= tc->ndecided)
				break;
			st->found[tc->decided[i].ruleset & (VIGIL_MAX_RULESETS - 1)] =
				tc->decided[i].rule;
		}
		st->task_never = tc->never;
		st->task_always = tc->always;
		st->undecided = tc->undecided;
	} else {
		st->task_walked = 1;
		rx_task_walk(&c, conf);
		if (tc) {
			tc->valid = 0;
			rx_task_store(st, tc);
			tc->generation = st->gen_seq;
			tc->cred = cred;
			tc->auid = t->auid;
			tc->sessionid = t->sessionid;
			tc->pers = t->pers;
			tc->exe = exe;
			tc->valid = 1;
		}
	}
	st->record = st->task_always;
	st->pending = all & ~(st->task_never | st->task_always | st->undecided);
}

#endif
