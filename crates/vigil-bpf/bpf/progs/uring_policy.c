/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * io_uring policy where the kernel offers a hook that can refuse:
 *   - cgroup sock_addr hooks (connect4/6, bind4/6, sendmsg4/6), attached to the cgroup v2
 *     root: io_uring socket ops of a scoped process get EPERM in every mode (the hooks run
 *     in the executing context: the submitter inside io_uring_enter, the SQPOLL thread or an
 *     io-wq worker, all of the owner's thread group). Plain socket syscalls pass untouched.
 *   - BPF LSM hooks (uring_sqpoll, uring_override_creds, socket_*), used instead of killing
 *     where the kernel loads LSM programs (not on the development kernel, which refuses them:
 *     the loader detects this and keeps the kill path).
 * Needs progs/uring.c (vigil_uring_regs_off).
 */

/* Is the current task issuing an io_uring op: an io thread, or inside io_uring_enter? */
static __always_inline int in_uring(struct task_struct *task)
{
	__u32 zero = 0;
	__u64 *off, stack, orig_ax = 0;
	struct pt_regs *regs;

	if (BPF_CORE_READ(task, flags) & VIGIL_PF_IO_WORKER)
		return 1;
	off = bpf_map_lookup_elem(&vigil_uring_regs_off, &zero);
	if (!off || !*off)
		return 0;
	stack = (__u64)BPF_CORE_READ(task, stack);
	if (!stack)
		return 0;
	regs = (struct pt_regs *)(stack + *off);
	if (bpf_probe_read_kernel(&orig_ax, sizeof(orig_ax), &regs->orig_ax))
		return 0;
	return orig_ax == URING_NR_ENTER;
}

/* 1: allow, 0: refuse (EPERM). */
static __always_inline int uring_sock_hook(__u64 ops, __u32 hook)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct uring_env e = {};
	struct pol_subject sj = {};
	__u32 tgid;

	if (!uring_env_conf(&e) || !(e.conf->flags & VIGIL_UCONF_F_CGROUP) || !e.conf->npol)
		return 1;
	if (!(e.conf->pol_ops & ops) || !in_uring(task))
		return 1;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&vigil_excl, &tgid) || !uring_env_scratch(&e))
		return 1;
	sj.t = (void *)e.s->chunk;
	uring_fill_task_core(sj.t, task);
	sj.at = POL_AT_CGROUP;
	sj.ops = ops;
	if (pol_judge(&sj, task, e.conf, e.gen) < 0)
		return 1;
	ucount(e.upc, VIGIL_UCNT_DENY_PREVENT);
	pol_record(&e, task, &sj, VIGIL_POL_WHAT_OP, VIGIL_POL_HOW_PREVENTED, hook,
		   ops == POL_OPS_CONNECT ? 16
		   : ops == POL_OPS_BIND  ? 56
					  : 9,
		   0, 0, 0, NULL, 0);
	return 0;
}

SEC("cgroup/connect4")
int vigil_uring_connect4(struct bpf_sock_addr *ctx)
{
	return uring_sock_hook(POL_OPS_CONNECT, VIGIL_POL_HOOK_CONNECT4);
}

SEC("cgroup/connect6")
int vigil_uring_connect6(struct bpf_sock_addr *ctx)
{
	return uring_sock_hook(POL_OPS_CONNECT, VIGIL_POL_HOOK_CONNECT6);
}

SEC("cgroup/bind4")
int vigil_uring_bind4(struct bpf_sock_addr *ctx)
{
	return uring_sock_hook(POL_OPS_BIND, VIGIL_POL_HOOK_BIND4);
}

SEC("cgroup/bind6")
int vigil_uring_bind6(struct bpf_sock_addr *ctx)
{
	return uring_sock_hook(POL_OPS_BIND, VIGIL_POL_HOOK_BIND6);
}

SEC("cgroup/sendmsg4")
int vigil_uring_sendmsg4(struct bpf_sock_addr *ctx)
{
	return uring_sock_hook(POL_OPS_SEND, VIGIL_POL_HOOK_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int vigil_uring_sendmsg6(struct bpf_sock_addr *ctx)
{
	return uring_sock_hook(POL_OPS_SEND, VIGIL_POL_HOOK_SENDMSG6);
}

/* ---- BPF LSM (kernels that load LSM programs) ---- */

#define U_EPERM 1

/* Judges `ops` for the current task in an LSM hook; -EPERM when a rule denies. */
static __always_inline int uring_lsm_judge(__u32 at, __u64 ops, __u32 sqpoll, __u32 pers,
					   __u32 what, __u32 hook, __u32 opcode,
					   const struct cred *creds)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct uring_env e = {};
	struct pol_subject sj = {};
	__u32 tgid;

	if (!uring_env_conf(&e) || !(e.conf->flags & VIGIL_UCONF_F_LSM) || !e.conf->npol)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&vigil_excl, &tgid) || !uring_env_scratch(&e))
		return 0;
	sj.t = (void *)e.s->chunk;
	uring_fill_task(sj.t, task);
	sj.at = at;
	sj.ops = ops;
	sj.sqpoll = sqpoll;
	sj.personality = pers;
	if (pol_judge(&sj, task, e.conf, e.gen) < 0)
		return 0;
	ucount(e.upc, VIGIL_UCNT_DENY_LSM);
	pol_record(&e, task, &sj, what, VIGIL_POL_HOW_LSM, hook, opcode, 0, 0, 0, creds, 0);
	return -U_EPERM;
}

/* Creating an SQPOLL ring (io_uring_setup fails with EPERM). */
SEC("lsm/uring_sqpoll")
int BPF_PROG(vigil_lsm_uring_sqpoll)
{
	return uring_lsm_judge(POL_AT_CREATE, 0, 1, 0, VIGIL_POL_WHAT_SQPOLL,
			       VIGIL_POL_HOOK_LSM_SQPOLL, VIGIL_URING_MAX_OPS, NULL);
}

/* Using a personality (the SQE fails at init). The opcode is not known here: rules for
 * personalities on every op are enforced here, the others by the kill at submit. */
SEC("lsm/uring_override_creds")
int BPF_PROG(vigil_lsm_uring_creds, const struct cred *new)
{
	return uring_lsm_judge(POL_AT_LSM, ~0ULL, 0, 1, VIGIL_POL_WHAT_PERSONALITY,
			       VIGIL_POL_HOOK_LSM_CREDS, VIGIL_URING_MAX_OPS, new);
}

SEC("lsm/socket_connect")
int BPF_PROG(vigil_lsm_connect, struct socket *sock, struct sockaddr *address, int addrlen)
{
	if (!in_uring(bpf_get_current_task_btf()))
		return 0;
	return uring_lsm_judge(POL_AT_LSM, POL_OPS_CONNECT, 0, 0, VIGIL_POL_WHAT_OP,
			       VIGIL_POL_HOOK_LSM_SOCKET, 16, NULL);
}

SEC("lsm/socket_bind")
int BPF_PROG(vigil_lsm_bind, struct socket *sock, struct sockaddr *address, int addrlen)
{
	if (!in_uring(bpf_get_current_task_btf()))
		return 0;
	return uring_lsm_judge(POL_AT_LSM, POL_OPS_BIND, 0, 0, VIGIL_POL_WHAT_OP,
			       VIGIL_POL_HOOK_LSM_SOCKET, 56, NULL);
}

SEC("lsm/socket_sendmsg")
int BPF_PROG(vigil_lsm_sendmsg, struct socket *sock, struct msghdr *msg, int size)
{
	if (!in_uring(bpf_get_current_task_btf()))
		return 0;
	return uring_lsm_judge(POL_AT_LSM, POL_OPS_SEND, 0, 0, VIGIL_POL_WHAT_OP,
			       VIGIL_POL_HOOK_LSM_SOCKET, 9, NULL);
}
