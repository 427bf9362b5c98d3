/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Identity of the current task, as SYSCALL records need it. `task` must be a BTF pointer
 * (bpf_get_current_task_btf): fields are read with direct loads. */
#ifndef VIGIL_TASK_H
#define VIGIL_TASK_H

#include "common.h"

/* The identity rules can test: pids, credentials, loginuid, session, personality. */
static __always_inline void fill_ids(struct vigil_task *t, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct cred *cred = task->cred;

	t->pid = pid_tgid >> 32;
	t->tid = (__u32)pid_tgid;
	t->ppid = task->real_parent->tgid;
	t->uid = cred->uid.val;
	t->euid = cred->euid.val;
	t->suid = cred->suid.val;
	t->fsuid = cred->fsuid.val;
	t->gid = cred->gid.val;
	t->egid = cred->egid.val;
	t->sgid = cred->sgid.val;
	t->fsgid = cred->fsgid.val;
	if (bpf_core_field_exists(task->loginuid)) {
		t->auid = task->loginuid.val;
		t->sessionid = task->sessionid;
	} else {
		t->auid = 0xffffffff;
		t->sessionid = 0xffffffff;
	}
	t->pers = task->personality;
}

/* The rest of the identity, read only for events that are emitted. */
static __always_inline void fill_extra(struct vigil_task *t, struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	__u32 pf = BPF_CORE_READ(task, flags);

	t->flags = ((pf & VIGIL_PF_IO_WORKER) ? VIGIL_TASK_F_IO_WORKER : 0) |
		   ((pf & VIGIL_PF_KTHREAD) ? VIGIL_TASK_F_KTHREAD : 0);
	t->pad0 = 0;
	t->cgroup_id = bpf_get_current_cgroup_id();
	t->start_boottime = BPF_CORE_READ(task, start_boottime);
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	__builtin_memset(t->tty, 0, sizeof(t->tty));
	if (tty)
		bpf_core_read_str(t->tty, sizeof(t->tty), &tty->name);
}

/* The whole identity. */
static __always_inline void fill_task(struct vigil_task *t, struct task_struct *task)
{
	fill_ids(t, task);
	fill_extra(t, task);
}

#endif
