/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * Syscall auditing from the sys_exit tracepoint alone. On x86-64 the task's saved user
 * registers still hold the syscall number (orig_ax) and arguments at exit, so no entry hook
 * is needed; after a successful execve they belong to the new program, whose argv and
 * executable are read from the new mm instead.
 *
 * Order of work, cheapest rejection first: per-arch per-syscall bitmap of the live
 * generation; excluded tasks; the filter; then the record.
 */
#include "../lib/common.h"
#include "../lib/maps.h"
#include "../lib/record.h"
#include "../lib/task.h"
#include "../lib/path.h"
#include "../lib/rules.h"

static __always_inline void capture_argv(struct rec_ctx *r, struct task_struct *task,
					 __u64 event_id, __u64 now)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct vigil_argv_chunk *c = (void *)r->s->chunk;
	struct vigil_item_hdr *h;
	struct vigil_argv_info *info;
	__u64 start, end, total, done = 0;
	__u32 nchunks = 0, flags = 0;

	h = item_begin(r, sizeof(*info));
	if (!h)
		return;
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	total = end > start ? end - start : 0;
	for (int i = 0; i < VIGIL_ARGV_CHUNKS_MAX; i++) {
		__u64 len = total - done;

		if (done >= total)
			break;
		if (len > VIGIL_ARGV_CHUNK)
			len = VIGIL_ARGV_CHUNK;
		if (bpf_probe_read_user((void *)(c + 1), len, (void *)(start + done))) {
			flags |= VIGIL_ARGV_F_FAULT;
			vigil_count(r->pc, VIGIL_CNT_READ_FAULT);
			break;
		}
		c->hdr.kind = VIGIL_KIND_ARGV_CHUNK;
		c->hdr.flags = 0;
		c->hdr.len = sizeof(*c) + len;
		c->hdr.event_id = event_id;
		c->hdr.tai_ns = now;
		c->index = i;
		c->offset = done;
		c->len = len;
		c->flags = 0;
		if (bpf_ringbuf_output(&vigil_events, c, sizeof(*c) + len, 0)) {
			vigil_count(r->pc, VIGIL_CNT_DROP_ARGV);
			break;
		}
		done += len;
		nchunks++;
	}
	if (done < total && !(flags & VIGIL_ARGV_F_FAULT)) {
		flags |= VIGIL_ARGV_F_TRUNCATED;
		vigil_count(r->pc, VIGIL_CNT_TRUNC_ARGV);
	}
	info = (void *)(h + 1);
	info->total_len = total;
	info->captured_len = done;
	info->nchunks = nchunks;
	info->flags = flags;
	item_end(r, h, VIGIL_ITEM_ARGV, 0, 0, sizeof(*info));
}

/* The file name the new program was exec'd by: the kernel copied it to the top of the new
 * stack and left its address in auxv (AT_EXECFN). The new program has one thread and has
 * not run yet, so no one can have changed it. */
static __always_inline void capture_execfn(struct rec_ctx *r, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u64 *auxv = (void *)r->s->path;
	__u64 fn = 0;

	if (bpf_probe_read_kernel(auxv, sizeof(mm->saved_auxv), &mm->saved_auxv))
		return;
	for (int i = 0; i + 1 < (int)(sizeof(mm->saved_auxv) / 8); i += 2) {
		if (auxv[i] == 0)
			break;
		if (auxv[i] == VIGIL_AT_EXECFN) {
			fn = auxv[i + 1];
			break;
		}
	}
	if (fn)
		item_user_str(r, VIGIL_ITEM_PATH_NAME, 0, (void *)fn);
}

/* VIGIL_ITEM_PATH_BASE: a relative name resolved from a directory descriptor (not the
 * cwd) gets that directory's path, so user space places the name as the kernel did. */
static __always_inline void item_dirfd_base(struct rec_ctx *r, struct task_struct *task,
					    __u8 dirfd, const __u64 *args, const void *name,
					    __u8 index)
{
	struct file *f;
	char first = 0;
	long fd;

	if (dirfd >= 6)
		return;
	fd = (long)(int)args[dirfd & 7];
	if (fd == VIGIL_AT_FDCWD || bpf_probe_read_user(&first, 1, name) || first == '/' || !first)
		return;
	f = task_fd_file(task, fd);
	if (f)
		item_kpath(r, task, &f->f_path, VIGIL_ITEM_PATH_BASE, index);
}

/* The command line for PROCTITLE, as the kernel reads it (get_cmdline) when it logs a
 * syscall event: at most VIGIL_PROCTITLE_MAX bytes from mm->arg_start, user memory. */
static __always_inline void capture_proctitle(struct rec_ctx *r, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct vigil_item_hdr *h;
	__u64 start, end, len;
	__u8 flags = VIGIL_ITEM_F_USER_MEM;

	if (!mm)
		return;
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	if (end <= start)
		return;
	len = end - start;
	if (len > VIGIL_PROCTITLE_MAX) {
		len = VIGIL_PROCTITLE_MAX;
		flags |= VIGIL_ITEM_F_TRUNCATED;
	}
	h = item_begin(r, VIGIL_PROCTITLE_MAX);
	if (!h)
		return;
	if (bpf_probe_read_user((void *)(h + 1), len & (2 * VIGIL_PROCTITLE_MAX - 1),
				(void *)start)) {
		flags |= VIGIL_ITEM_F_FAULT;
		vigil_count(r->pc, VIGIL_CNT_READ_FAULT);
		len = 0;
	}
	item_end(r, h, VIGIL_ITEM_PROCTITLE, 0, flags, len);
}

/* The signal target progs/signal.c kept for this syscall, taken (once) into the scratch. */
static __always_inline void take_sig_target(struct vigil_scratch *s, struct task_struct *task)
{
	struct sig_target *st = bpf_task_storage_get(&vigil_sig_target, task, 0, 0);

	if (!st || !st->valid)
		return;
	s->sig = *st;
	st->valid = 0;
}

static __always_inline void capture_class(struct rec_ctx *r, struct task_struct *task,
					  const struct vigil_sysdesc *desc, __u64 *args, long ret,
					  __u64 event_id, __u64 now)
{
	__u8 a0 = desc->arg0, a1 = desc->arg1;
	__u64 v0 = a0 < 6 ? args[a0 & 7] : 0;
	__u64 v1 = a1 < 6 ? args[a1 & 7] : 0;
	int cwd = 1;

	switch (desc->class) {
	case VIGIL_CLASS_OPEN:
		if (a0 < 6) {
			item_user_str(r, VIGIL_ITEM_PATH_NAME, 0, (void *)v0);
			if (ret < 0)
				item_dirfd_base(r, task, desc->dirfd0, args, (void *)v0, 0);
		}
		if (ret >= 0)
			item_file(r, task, task_fd_file(task, ret), 0, VIGIL_PATH_F_FROM_FD);
		break;
	case VIGIL_CLASS_PATH:
		if (a0 < 6) {
			item_user_str(r, VIGIL_ITEM_PATH_NAME, 0, (void *)v0);
			item_dirfd_base(r, task, desc->dirfd0, args, (void *)v0, 0);
		}
		if (a1 < 6) {
			item_user_str(r, VIGIL_ITEM_PATH_NAME, 1, (void *)v1);
			item_dirfd_base(r, task, desc->dirfd1, args, (void *)v1, 1);
		}
		break;
	case VIGIL_CLASS_FD:
		if (a0 < 6)
			item_file(r, task, task_fd_file(task, (long)v0), 0, VIGIL_PATH_F_FROM_FD);
		break;
	case VIGIL_CLASS_EXEC:
		if (ret == 0) {
			struct file *exe = BPF_CORE_READ(task, mm, exe_file);

			capture_argv(r, task, event_id, now);
			capture_execfn(r, task);
			if (exe)
				item_inode(r, BPF_CORE_READ(exe, f_inode), 0, VIGIL_PATH_F_EXE);
		} else if (a0 < 6) {
			/* Failed: the registers are still the caller's. */
			item_user_str(r, VIGIL_ITEM_PATH_NAME, 0, (void *)v0);
		}
		break;
	case VIGIL_CLASS_SOCKADDR:
		cwd = 0;
		if (a0 < 6 && v0)
			item_user_bytes(r, VIGIL_ITEM_SOCKADDR, (void *)v0, a1 < 6 ? v1 : 0);
		break;
	case VIGIL_CLASS_SOCKADDR_MSG: {
		struct user_msghdr mh = {};

		cwd = 0;
		if (a0 < 6 && v0 && !bpf_probe_read_user(&mh, sizeof(mh), (void *)v0) &&
		    mh.msg_name && mh.msg_namelen > 0)
			item_user_bytes(r, VIGIL_ITEM_SOCKADDR, mh.msg_name, mh.msg_namelen);
		break;
	}
	case VIGIL_CLASS_KILL: {
		struct vigil_item_hdr *h = item_begin(r, sizeof(struct vigil_obj_pid));
		struct vigil_obj_pid *o;

		cwd = 0;
		if (!h)
			break;
		o = (void *)(h + 1);
		if (r->s->sig.valid && r->s->sig.sig == (a1 < 6 ? (__u32)v1 : 0)) {
			/* The target's identity, as signal_generate saw it. */
			*o = r->s->sig.obj;
		} else {
			__builtin_memset(o, 0, sizeof(*o));
			o->pid = a0 < 6 ? (__s32)v0 : 0;
			o->sig = a1 < 6 ? (__u32)v1 : 0;
		}
		item_end(r, h, VIGIL_ITEM_OBJ_PID, 0, 0, sizeof(*o));
		break;
	}
	default:
		cwd = 0;
		break;
	}
	if (cwd) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		if (fs)
			item_kpath(r, task, &fs->pwd, VIGIL_ITEM_CWD, 0);
	}
}

/* regs: the tracepoint's own argument where it is a trusted BTF pointer (tp_btf), else NULL
 * and taken from the task (raw_tp: one more helper call on every syscall). */
static __always_inline int on_sys_exit(struct pt_regs *regs, long ret)
{
	/* Trusted BTF pointers: fields are read with plain (exception-fixed) loads. The reject
	 * path of every syscall reads only the registers and two bitmap words: not even the
	 * current task, which costs a helper call (dear on CPUs with return-thunk mitigations). */
	struct task_struct *task;
	struct vigil_percpu *pc;
	struct vigil_ctl *ctl;
	struct vigil_sysmask *mask, *mask32;
	struct vigil_genconf *conf;
	const struct vigil_sysdesc *desc;
	struct vigil_scratch *s;
	struct vigil_syscall *sc;
	struct rec_ctx r = {};
	struct file *exe;
	__u32 zero = 0, arch = VIGIL_ARCH_IDX_X86_64, gen, gen_seq, key, nr, tgid, cpu, word, bit;
	__u64 pid_tgid, now, event_id;
	int compat = 0;

	if (!regs)
		regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!regs)
		return 0;
	nr = (__u32)regs->orig_ax;
	if (nr >= VIGIL_MAX_SYSCALL)
		return 0;
	ctl = bpf_map_lookup_elem(&vigil_ctl, &zero);
	if (!ctl)
		return 0;
	gen_seq = READ_ONCE(ctl->generation);
	gen = gen_seq & 1;
	key = gen * VIGIL_NR_ARCH + VIGIL_ARCH_IDX_X86_64;
	mask = bpf_map_lookup_elem(&vigil_sysmask, &key);
	key = gen * VIGIL_NR_ARCH + VIGIL_ARCH_IDX_I386;
	mask32 = bpf_map_lookup_elem(&vigil_sysmask, &key);
	if (!mask || !mask32)
		return 0;
	/* The O(1) reject, before the arch is known: no rule of either arch names nr. */
	word = (nr >> 6) & (VIGIL_SYSMASK_WORDS - 1);
	bit = nr & 63;
	if (!(((mask->bits[word] | mask32->bits[word]) >> bit) & 1))
		return 0;

	task = bpf_get_current_task_btf();
	if (bpf_core_field_exists(task->thread_info.status) &&
	    (task->thread_info.status & VIGIL_TS_COMPAT)) {
		arch = VIGIL_ARCH_IDX_I386;
		compat = 1;
		mask = mask32;
	}
	if (!((mask->bits[word] >> bit) & 1))
		return 0;

	pc = bpf_map_lookup_elem(&vigil_percpu, &zero);
	if (!pc)
		return 0;
	vigil_count(pc, VIGIL_CNT_CANDIDATES);
	cpu = bpf_get_smp_processor_id();
	s = bpf_map_lookup_elem(&vigil_scratch, &cpu);
	if (!s) {
		vigil_count(pc, VIGIL_CNT_NO_SCRATCH);
		return 0;
	}
	key = arch * VIGIL_MAX_SYSCALL + nr;
	desc = bpf_map_lookup_elem(&vigil_sysdesc, &key);
	s->sig.valid = 0;
	if (desc && desc->class == VIGIL_CLASS_KILL)
		take_sig_target(s, task);
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	if (bpf_map_lookup_elem(&vigil_excl, &tgid)) {
		vigil_count(pc, VIGIL_CNT_EXCLUDED);
		return 0;
	}
	conf = bpf_map_lookup_elem(&vigil_genconf, &gen);
	if (!conf)
		return 0;
	if (!(conf->flags & VIGIL_CONF_F_RULES) &&
	    (((conf->flags & VIGIL_CONF_F_TGID) && conf->tgid != tgid) ||
	     ((conf->flags & VIGIL_CONF_F_UID) &&
	      conf->uid != (__u32)bpf_get_current_uid_gid()))) {
		vigil_count(pc, VIGIL_CNT_FILTERED);
		return 0;
	}

	sc = (void *)s->rec;
	if (compat) {
		sc->args[0] = (__u32)regs->bx;
		sc->args[1] = (__u32)regs->cx;
		sc->args[2] = (__u32)regs->dx;
		sc->args[3] = (__u32)regs->si;
		sc->args[4] = (__u32)regs->di;
		sc->args[5] = (__u32)regs->bp;
	} else {
		sc->args[0] = regs->di;
		sc->args[1] = regs->si;
		sc->args[2] = regs->dx;
		sc->args[3] = regs->r10;
		sc->args[4] = regs->r8;
		sc->args[5] = regs->r9;
	}
	fill_ids(&sc->task, task);
	sc->rulesets = conf->rulesets;
	sc->undecided = 0;
	if (conf->flags & VIGIL_CONF_F_RULES) {
		struct rx_state *st = &s->rx;

		rx_judge(s, &sc->task, task, conf, ctl, gen_seq, arch, nr, ret, sc->args, desc);
		sc->rulesets = st->record;
		sc->undecided = st->undecided;
		pc->counters[VIGIL_CNT_RULES_RUN] += st->runs;
		if (st->task_walked)
			vigil_count(pc, VIGIL_CNT_TASK_WALKS);
		if (sc->undecided) {
			vigil_count(pc, VIGIL_CNT_UNDECIDED);
			if (st->obj_undecided)
				vigil_count(pc, VIGIL_CNT_UNDECIDED_OBJECT);
		}
		if (!(sc->rulesets | sc->undecided) && !(conf->flags & VIGIL_CONF_F_EMIT_ALL)) {
			__u64 all = conf->nrulesets >= 64 ? ~0ULL :
							    ((1ULL << (conf->nrulesets & 63)) - 1);

			vigil_count(pc, st->task_never == all ? VIGIL_CNT_TASK_EXCLUDED :
								VIGIL_CNT_FILTERED);
			return 0;
		}
	}
	vigil_count(pc, VIGIL_CNT_MATCHED);
	fill_extra(&sc->task, task);

	now = bpf_ktime_get_tai_ns();
	event_id = ((__u64)cpu << 48) | (pc->seq++ & 0xffffffffffffULL);
	sc->hdr.kind = VIGIL_KIND_SYSCALL;
	sc->hdr.flags = 0;
	sc->hdr.event_id = event_id;
	sc->hdr.tai_ns = now;
	sc->arch = compat ? VIGIL_AUDIT_ARCH_I386 : VIGIL_AUDIT_ARCH_X86_64;
	sc->nr = nr;
	sc->ret = ret;

	r.s = s;
	r.pc = pc;
	r.off = sizeof(*sc);
	exe = BPF_CORE_READ(task, mm, exe_file);
	if (exe)
		item_kpath(&r, task, &exe->f_path, VIGIL_ITEM_EXE, 0);

	if (desc && desc->class != VIGIL_CLASS_NONE)
		capture_class(&r, task, desc, sc->args, ret, event_id, now);
	/* A successful execve carries its new argv, which is the command line. */
	if (!(desc && desc->class == VIGIL_CLASS_EXEC && ret == 0))
		capture_proctitle(&r, task);

	sc->generation = gen_seq;
	if (conf->flags & VIGIL_CONF_F_RULES)
		item_rules(&r);
	if (conf->flags & VIGIL_CONF_F_GROUPS)
		item_groups(&r, task);
	sc->nitems = r.nitems;
	sc->flags = (compat ? VIGIL_SC_F_COMPAT : 0) | r.flags;
	sc->hdr.len = r.off > VIGIL_REC_MAX ? VIGIL_REC_MAX : r.off;
	rec_output(&r, VIGIL_CNT_EMITTED);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(vigil_sys_exit, struct pt_regs *regs, long ret)
{
	return on_sys_exit(NULL, ret);
}

/* The same hook as a BTF-typed tracepoint (cheaper entry on some kernels; needs kernel BTF). */
SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit_btf, struct pt_regs *regs, long ret)
{
	return on_sys_exit(regs, ret);
}
