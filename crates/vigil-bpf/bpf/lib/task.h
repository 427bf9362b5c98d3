/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Identity of the current task, as SYSCALL records need it. */
#ifndef VIGIL_TASK_H
#define VIGIL_TASK_H

#include "common.h"

static __always_inline void fill_task(struct vigil_task *t, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct cred *cred = BPF_CORE_READ(task, cred);
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	__u32 pf = BPF_CORE_READ(task, flags);

	t->pid = pid_tgid >> 32;
	t->tid = (__u32)pid_tgid;
	t->ppid = BPF_CORE_READ(task, real_parent, tgid);
	t->uid = BPF_CORE_READ(cred, uid.val);
	t->euid = BPF_CORE_READ(cred, euid.val);
	t->suid = BPF_CORE_READ(cred, suid.val);
	t->fsuid = BPF_CORE_READ(cred, fsuid.val);
	t->gid = BPF_CORE_READ(cred, gid.val);
	t->egid = BPF_CORE_READ(cred, egid.val);
	t->sgid = BPF_CORE_READ(cred, sgid.val);
	t->fsgid = BPF_CORE_READ(cred, fsgid.val);
	if (bpf_core_field_exists(task->loginuid)) {
		t->auid = BPF_CORE_READ(task, loginuid.val);
		t->sessionid = BPF_CORE_READ(task, sessionid);
	} else {
		t->auid = 0xffffffff;
		t->sessionid = 0xffffffff;
	}
	t->pers = BPF_CORE_READ(task, personality);
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

#endif
