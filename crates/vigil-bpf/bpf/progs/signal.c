/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * OBJ_PID: who a kill-family syscall signalled. The exit hook sees only the pid argument;
 * the kernel records the target's identity when it checks the permission to signal it
 * (audit_signal_info). The signal_generate tracepoint fires in the sender's context with the
 * target task: its tgid, login uid, real uid, session and comm are kept per sending task
 * until the syscall's exit takes them. Signal 0 generates nothing (user space reads /proc
 * then); a process-group kill keeps its first target.
 */
#include "../lib/common.h"
#include "../lib/maps.h"

SEC("tp_btf/signal_generate")
int BPF_PROG(vigil_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *t,
	     int group, int result)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(cur);
	const struct vigil_sysdesc *desc;
	struct vigil_percpu *pc;
	struct vigil_sysmask *mask;
	struct vigil_ctl *ctl;
	struct sig_target *st;
	__u32 zero = 0, arch = VIGIL_ARCH_IDX_X86_64, nr, key;
	__s32 want, id;
	__u64 arg;

	if (!regs || !t)
		return 0;
	nr = (__u32)regs->orig_ax;
	if (nr >= VIGIL_MAX_SYSCALL)
		return 0;
	if (bpf_core_field_exists(cur->thread_info.status) &&
	    (cur->thread_info.status & VIGIL_TS_COMPAT))
		arch = VIGIL_ARCH_IDX_I386;
	key = arch * VIGIL_MAX_SYSCALL + nr;
	desc = bpf_map_lookup_elem(&vigil_sysdesc, &key);
	if (!desc || desc->class != VIGIL_CLASS_KILL || desc->arg0 >= 6)
		return 0;
	/* Only a syscall the exit hook will look at (a candidate of the live generation). */
	ctl = bpf_map_lookup_elem(&vigil_ctl, &zero);
	if (!ctl)
		return 0;
	key = (READ_ONCE(ctl->generation) & 1) * VIGIL_NR_ARCH + arch;
	mask = bpf_map_lookup_elem(&vigil_sysmask, &key);
	if (!mask || !((mask->bits[(nr >> 6) & (VIGIL_SYSMASK_WORDS - 1)] >> (nr & 63)) & 1))
		return 0;
	/* The signal the syscall asked for (not one the kernel raised meanwhile). */
	switch (desc->arg0) {
	case 0:
		arg = arch ? regs->bx : regs->di;
		break;
	case 1:
		arg = arch ? regs->cx : regs->si;
		break;
	default:
		return 0;
	}
	want = (__s32)arg;
	id = (desc->flags & VIGIL_SYSD_F_BY_TID) ? t->pid : t->tgid;
	if (want > 0 && id != want)
		return 0;
	st = bpf_task_storage_get(&vigil_sig_target, cur, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st || st->valid)
		return 0;
	st->sig = sig;
	st->obj.pid = t->tgid;
	st->obj.sig = sig;
	st->obj.flags = VIGIL_OBJ_F_FOUND;
	st->obj.uid = t->real_cred->uid.val;
	if (bpf_core_field_exists(t->loginuid)) {
		st->obj.auid = t->loginuid.val;
		st->obj.sessionid = t->sessionid;
	} else {
		st->obj.auid = 0xffffffff;
		st->obj.sessionid = 0xffffffff;
	}
	bpf_probe_read_kernel_str(st->obj.comm, sizeof(st->obj.comm), t->comm);
	st->valid = 1;
	pc = bpf_map_lookup_elem(&vigil_percpu, &zero);
	vigil_count(pc, VIGIL_CNT_KILL_TARGETS);
	return 0;
}
