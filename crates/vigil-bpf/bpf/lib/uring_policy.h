/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * io_uring deny rules (docs/io_uring.md "Policy"): at most VIGIL_POL_MAX_RULES rules of at
 * most VIGIL_POL_MAX_CONDS conditions each, first match wins. Evaluated at ring creation
 * (SQPOLL rules), at submit (ops, personalities, ops on SQPOLL rings) and in the cgroup
 * sock_addr and LSM hooks, always with the identity of the process the op is attributed to.
 */
#ifndef VIGIL_URING_POLICY_H
#define VIGIL_URING_POLICY_H

#include "compare.h"
#include "uring.h"

/* Where a rule is being evaluated. */
#define POL_AT_CREATE 0
#define POL_AT_SUBMIT 1
#define POL_AT_CGROUP 2
#define POL_AT_LSM 3

/* Kernel AUDIT_* field numbers the policy accepts (user space refuses others). */
#define PF_PID 0
#define PF_UID 1
#define PF_EUID 2
#define PF_SUID 3
#define PF_FSUID 4
#define PF_GID 5
#define PF_EGID 6
#define PF_SGID 7
#define PF_FSGID 8
#define PF_LOGINUID 9
#define PF_PERS 10
#define PF_PPID 18
#define PF_LOGINUID_SET 24
#define PF_SESSIONID 25

/* Opcodes the cgroup sock_addr hooks see (CONNECT; BIND; SENDMSG, SEND, SEND_ZC,
 * SENDMSG_ZC): io_uring's own numbers (uapi, stable). */
#define POL_OPS_CONNECT (1ULL << 16)
#define POL_OPS_BIND (1ULL << 56)
#define POL_OPS_SEND ((1ULL << 9) | (1ULL << 26) | (1ULL << 47) | (1ULL << 48))
#define POL_OPS_CGROUP (POL_OPS_CONNECT | POL_OPS_BIND | POL_OPS_SEND)

/* What is being judged. */
struct pol_subject {
	struct vigil_task *t;
	__u64 exe_ino;
	__u32 exe_dev;
	__u32 at;
	/* Opcodes of the operation (one bit; the cgroup hooks pass a set). */
	__u64 ops;
	__u32 sqpoll;
	__u32 personality;
	__u32 gen;
	__u32 conf_flags;
	__u32 npol;
	/* Result: first matching rule, or -1. */
	__s32 rule;
	/* The rule being judged (map key) and whether its conditions hold so far. */
	__u32 rule_key;
	__u32 holds;
};

/* The subject's value of field `f` (32-bit fields); 0 when the field is not one of them. */
static __always_inline int pol_value(struct vigil_task *t, __u16 f, __u32 *l)
{
	switch (f) {
	case PF_PID:
		*l = t->pid;
		return 1;
	case PF_UID:
		*l = t->uid;
		return 1;
	case PF_EUID:
		*l = t->euid;
		return 1;
	case PF_SUID:
		*l = t->suid;
		return 1;
	case PF_FSUID:
		*l = t->fsuid;
		return 1;
	case PF_GID:
		*l = t->gid;
		return 1;
	case PF_EGID:
		*l = t->egid;
		return 1;
	case PF_SGID:
		*l = t->sgid;
		return 1;
	case PF_FSGID:
		*l = t->fsgid;
		return 1;
	case PF_LOGINUID:
		*l = t->auid;
		return 1;
	case PF_PERS:
		*l = t->pers;
		return 1;
	case PF_PPID:
		*l = t->ppid;
		return 1;
	case PF_LOGINUID_SET:
		*l = t->auid != 0xffffffff;
		return 1;
	case PF_SESSIONID:
		*l = t->sessionid;
		return 1;
	}
	return 0;
}

/* Condition `i` of the rule being judged (bpf_loop callback: verified once, whatever the
 * number of conditions). Clears sj->holds and stops at the first one that fails. */
static long pol_cond_step(__u64 i, void *arg)
{
	struct pol_subject *sj = arg;
	const struct vigil_pol_rule *rule = bpf_map_lookup_elem(&vigil_pol_rules, &sj->rule_key);
	__u32 k = (__u32)i & (VIGIL_POL_MAX_CONDS - 1);
	__u16 f;
	__u8 op;
	__u64 v;
	__u32 l = 0;
	int ok;

	if (!rule) {
		sj->holds = 0;
		return 1;
	}
	f = rule->field[k];
	op = rule->op[k];
	v = rule->value[k];
	if (f == VIGIL_POL_FIELD_EXE) {
		int same = sj->exe_ino == v && sj->exe_dev == rule->arg[k];

		ok = op == 1 ? !same : same;
	} else if (f == VIGIL_POL_FIELD_CONTID) {
		/* No container ids in BPF yet: every task is outside any container. */
		ok = op == 1;
	} else if (pol_value(sj->t, f, &l)) {
		ok = c32(l, op, (__u32)v);
	} else {
		ok = 0;
	}
	if (!ok) {
		sj->holds = 0;
		return 1;
	}
	return 0;
}

/* Does rule `i` apply here (before its conditions)? */
static __always_inline int pol_applies(const struct vigil_pol_rule *rule, struct pol_subject *sj)
{
	__u32 fl = rule->flags;

	if ((fl & VIGIL_POL_F_SQPOLL) && !sj->sqpoll)
		return 0;
	if ((fl & VIGIL_POL_F_NOT_SQPOLL) && sj->sqpoll)
		return 0;
	switch (sj->at) {
	case POL_AT_CREATE:
		return (fl & VIGIL_POL_F_CREATE) != 0;
	case POL_AT_SUBMIT:
		if ((fl & VIGIL_POL_F_PERSONALITY) && !sj->personality)
			return 0;
		if ((fl & VIGIL_POL_F_NOT_PERSONALITY) && sj->personality)
			return 0;
		if (!(rule->ops & sj->ops))
			return 0;
		/* The socket hooks (cgroup or LSM) refuse these ops themselves: no kill. */
		if ((fl & VIGIL_POL_F_CGROUP) &&
		    (sj->conf_flags & (VIGIL_UCONF_F_CGROUP | VIGIL_UCONF_F_LSM)) &&
		    (sj->ops & POL_OPS_CGROUP))
			return 0;
		return 1;
	case POL_AT_CGROUP:
		return (fl & VIGIL_POL_F_CGROUP) && (rule->ops & sj->ops);
	case POL_AT_LSM:
		/* uring_override_creds does not know the opcode: only rules for every op. */
		if (sj->personality)
			return (fl & VIGIL_POL_F_PERSONALITY) && rule->ops == ~0ULL;
		return (fl & VIGIL_POL_F_CGROUP) && (rule->ops & sj->ops);
	}
	return 0;
}

static long pol_step(__u64 i, void *arg)
{
	struct pol_subject *sj = arg;
	__u32 key = sj->gen * VIGIL_POL_MAX_RULES + (__u32)i;
	const struct vigil_pol_rule *rule;
	__u32 n;

	if (i >= sj->npol)
		return 1;
	rule = bpf_map_lookup_elem(&vigil_pol_rules, &key);
	if (!rule)
		return 1;
	if (!pol_applies(rule, sj))
		return 0;
	n = rule->nconds > VIGIL_POL_MAX_CONDS ? VIGIL_POL_MAX_CONDS : rule->nconds;
	sj->rule_key = key;
	sj->holds = 1;
	if (n)
		bpf_loop(n, pol_cond_step, sj, 0);
	if (!sj->holds)
		return 0;
	sj->rule = (__s32)i;
	return 1;
}

/* Fills the executable's identity of `task` and judges; sj->rule is the result. */
static __always_inline __s32 pol_judge(struct pol_subject *sj, struct task_struct *task,
				       const struct vigil_uring_conf *conf, __u32 gen)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);

	sj->exe_ino = exe ? BPF_CORE_READ(exe, f_inode, i_ino) : 0;
	sj->exe_dev = exe ? BPF_CORE_READ(exe, f_inode, i_sb, s_dev) : 0;
	sj->gen = gen;
	sj->conf_flags = conf->flags;
	sj->npol = conf->npol > VIGIL_POL_MAX_RULES ? VIGIL_POL_MAX_RULES : conf->npol;
	sj->rule = -1;
	if (sj->npol)
		bpf_loop(VIGIL_POL_MAX_RULES, pol_step, sj, 0);
	return sj->rule;
}

/* Builds and sends a POLICY record in r->s->rec (an EXE item follows the fixed part). */
static __always_inline void pol_record(struct uring_env *e, struct task_struct *task,
				       struct pol_subject *sj, __u32 what, __u32 how, __u32 hook,
				       __u32 opcode, __u64 ring, __u64 user_data, __s32 sig_ret,
				       const struct cred *creds, __u32 personality)
{
	struct vigil_uring_deny *d = (void *)e->s->rec;
	struct rec_ctx r = {};
	struct file *exe;

	__builtin_memset(d, 0, sizeof(*d));
	d->hdr.kind = VIGIL_KIND_URING_POLICY;
	d->hdr.event_id = uring_event_id(e);
	d->hdr.tai_ns = bpf_ktime_get_tai_ns();
	d->ring = ring;
	d->user_data = user_data;
	d->rule = sj->rule;
	d->what = what;
	d->how = how;
	d->hook = hook;
	d->opcode = opcode;
	d->signal_ret = sig_ret;
	d->ctx = uring_ctx_of(task);
	d->personality = personality;
	if (creds)
		cred_copy(&d->creds, creds);
	__builtin_memcpy(&d->task, sj->t, sizeof(d->task));
	r.s = e->s;
	r.pc = e->pc;
	r.off = sizeof(*d);
	exe = BPF_CORE_READ(task, mm, exe_file);
	if (exe)
		item_kpath(&r, task, &exe->f_path, VIGIL_ITEM_EXE, 0);
	d->nitems = r.nitems;
	d->hdr.flags = r.flags;
	d->hdr.len = r.off > VIGIL_REC_MAX ? VIGIL_REC_MAX : r.off;
	/* The caller counts the denial itself: it happened even if this record is lost. */
	uring_output(&r, e->upc, VIGIL_URING_NR_COUNTERS, VIGIL_UCNT_DROP_POLICY);
}

#endif
