/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * io_uring auditing from the io_uring tracepoints (tp_btf), in every mode (inline, SQPOLL,
 * io-wq). An op is captured in two records joined by event_id:
 *   - SUBMIT at io_uring_submit_req (or io_uring_req_failed): the submitter's identity, the
 *     kernel's copies of the op's arguments (path names from struct filename, socket
 *     addresses from async_data), the borrowed credentials of a personality. Path copies are
 *     released before completion, so they can only be read here.
 *   - COMPLETE at io_uring_complete: the result, the executing context, and the file the op
 *     acted on (req->file, or the new fd), which only exists once the op ran.
 * A hash keyed by the request pointer carries the SUBMIT's event id to the completion.
 * Policy (deny rules): lib/uring_policy.h, here at ring creation and submit.
 */
#include "../lib/uring_policy.h"

/* io_uring_enter on x86-64: an inline op runs inside it. */
#define URING_NR_ENTER 426

/* Offset of pt_regs from task->stack, learned from bpf_task_pt_regs (tracing programs have
 * it, the cgroup hooks do not). Written at the first submit, before any io_uring socket op
 * can reach a cgroup hook. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vigil_uring_regs_off SEC(".maps");

static __always_inline void uring_calibrate_regs(struct task_struct *task)
{
	__u32 zero = 0;
	__u64 *off = bpf_map_lookup_elem(&vigil_uring_regs_off, &zero);
	struct pt_regs *rp;
	__u64 stack, regs = 0;

	if (!off || *off)
		return;
	stack = (__u64)BPF_CORE_READ(task, stack);
	rp = (struct pt_regs *)bpf_task_pt_regs(task);
	/* The address as a number (pointer arithmetic on it is refused): read it back. */
	bpf_probe_read_kernel(&regs, sizeof(regs), &rp);
	if (stack && regs > stack)
		*off = regs - stack;
}

/* The command area of a request (io_kiocb_to_cmd). */
static __always_inline void *req_cmd(struct io_kiocb *req)
{
	return (void *)((__u64)req + bpf_core_field_offset(struct io_kiocb, cmd));
}

/* Personality id of the SQE being submitted: the SQE is read back from the SQ ring (shared
 * with user space, so only trusted when its user_data matches the request's). 0: unknown. */
static __always_inline __u32 sqe_personality(struct io_ring_ctx *ctx, __u64 user_data)
{
	__u32 entries = BPF_CORE_READ(ctx, sq_entries);
	__u32 setup = BPF_CORE_READ(ctx, flags);
	__u32 head = BPF_CORE_READ(ctx, cached_sq_head) - 1;
	struct io_uring_sqe *sqes = BPF_CORE_READ(ctx, sq_sqes);
	__u32 *arr = BPF_CORE_READ(ctx, sq_array);
	__u64 ud = 0;
	__u16 pers = 0;

	if (!entries || !sqes)
		return 0;
	head &= entries - 1;
	if (!(setup & U_SETUP_NO_SQARRAY)) {
		if (!arr || bpf_probe_read_kernel(&head, sizeof(head), &arr[head]))
			return 0;
		if (head >= entries)
			return 0;
	}
	if (setup & U_SETUP_SQE128)
		head <<= 1;
	if (bpf_probe_read_kernel(&ud, sizeof(ud), &sqes[head].user_data) || ud != user_data)
		return 0;
	if (bpf_probe_read_kernel(&pers, sizeof(pers), &sqes[head].personality))
		return 0;
	return pers;
}

static __always_inline void item_filename(struct rec_ctx *r, __u8 index, struct filename *fn)
{
	if (fn)
		item_kstr(r, VIGIL_ITEM_PATH_NAME, index, BPF_CORE_READ(fn, name));
}

/* The kernel's copies of the op's arguments, by class (vigil_uring_opdesc). */
static __always_inline void capture_submit(struct rec_ctx *r, struct vigil_uring_op *op,
					   struct io_kiocb *req, struct task_struct *task,
					   const struct vigil_uring_opdesc *desc)
{
	void *cmd = req_cmd(req);
	void *async = req->async_data;
	int has_async = (op->req_flags & U_REQ_F_ASYNC_DATA) && async;

	switch (desc->class) {
	case VIGIL_UCLASS_OPEN: {
		struct io_open *o = cmd;

		op->dfd = BPF_CORE_READ(o, dfd);
		op->open_flags = BPF_CORE_READ(o, how.flags);
		op->mode = BPF_CORE_READ(o, how.mode);
		if (BPF_CORE_READ(o, file_slot))
			op->flags |= VIGIL_UOP_F_FILE_SLOT;
		item_filename(r, 0, BPF_CORE_READ(o, filename));
		break;
	}
	case VIGIL_UCLASS_UNLINK: {
		struct io_unlink *u = cmd;

		op->dfd = BPF_CORE_READ(u, dfd);
		op->open_flags = (__u32)BPF_CORE_READ(u, flags);
		item_filename(r, 0, BPF_CORE_READ(u, filename));
		break;
	}
	case VIGIL_UCLASS_MKDIR: {
		struct io_mkdir *m = cmd;

		op->dfd = BPF_CORE_READ(m, dfd);
		op->mode = BPF_CORE_READ(m, mode);
		item_filename(r, 0, BPF_CORE_READ(m, filename));
		break;
	}
	case VIGIL_UCLASS_STATX: {
		struct io_statx *sx = cmd;

		op->dfd = BPF_CORE_READ(sx, dfd);
		op->open_flags = BPF_CORE_READ(sx, flags);
		item_filename(r, 0, BPF_CORE_READ(sx, filename));
		break;
	}
	case VIGIL_UCLASS_XATTR: {
		struct io_xattr *x = cmd;

		op->dfd = -100;
		item_filename(r, 0, BPF_CORE_READ(x, filename));
		break;
	}
	case VIGIL_UCLASS_RENAME: {
		struct io_rename *rn = cmd;

		op->dfd = BPF_CORE_READ(rn, old_dfd);
		op->open_flags = (__u32)BPF_CORE_READ(rn, flags);
		item_filename(r, 0, BPF_CORE_READ(rn, oldpath));
		item_filename(r, 1, BPF_CORE_READ(rn, newpath));
		break;
	}
	case VIGIL_UCLASS_LINK: {
		struct io_link *l = cmd;

		op->dfd = BPF_CORE_READ(l, old_dfd);
		op->open_flags = (__u32)BPF_CORE_READ(l, flags);
		item_filename(r, 0, BPF_CORE_READ(l, oldpath));
		item_filename(r, 1, BPF_CORE_READ(l, newpath));
		break;
	}
	case VIGIL_UCLASS_SOCKADDR: {
		/* 6.18: a bare sockaddr_storage; trust it only with a known family. */
		struct io_connect *c = cmd;
		__u16 fam = 0;
		__s32 alen = BPF_CORE_READ(c, addr_len);

		if (!has_async || bpf_probe_read_kernel(&fam, sizeof(fam), async))
			break;
		if (fam != U_AF_INET && fam != U_AF_INET6 && fam != U_AF_UNIX)
			break;
		if (op->opcode == 56)
			alen = BPF_CORE_READ((struct io_bind *)cmd, addr_len);
		if (alen > 0)
			item_kbytes(r, VIGIL_ITEM_SOCKADDR, async, alen);
		break;
	}
	case VIGIL_UCLASS_MSGHDR: {
		struct io_async_msghdr *am = async;
		__s32 alen;

		if (!has_async || !BPF_CORE_READ(am, msg.msg_name))
			break;
		alen = BPF_CORE_READ(am, msg.msg_namelen);
		if (alen > 0)
			item_kbytes(r, VIGIL_ITEM_SOCKADDR, &am->addr, alen);
		break;
	}
	case VIGIL_UCLASS_CLOSE: {
		struct io_close *cl = cmd;

		op->fd = BPF_CORE_READ(cl, fd);
		if (!BPF_CORE_READ(cl, file_slot))
			item_file(r, task, task_fd_file(task, op->fd), 0, VIGIL_PATH_F_FROM_FD);
		else
			op->flags |= VIGIL_UOP_F_FILE_SLOT;
		break;
	}
	case VIGIL_UCLASS_ACCEPT:
		if (BPF_CORE_READ((struct io_accept *)cmd, file_slot))
			op->flags |= VIGIL_UOP_F_FILE_SLOT;
		break;
	case VIGIL_UCLASS_SOCKET:
		if (BPF_CORE_READ((struct io_socket *)cmd, file_slot))
			op->flags |= VIGIL_UOP_F_FILE_SLOT;
		break;
	}
	if (desc->flags & VIGIL_UOPD_F_CWD) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		if (fs)
			item_kpath(r, task, &fs->pwd, VIGIL_ITEM_CWD, 0);
	}
}

/* Kill the submitting process for a matched deny rule; returns the signal's result. */
static __always_inline long pol_kill(struct uring_env *e)
{
	long ret = bpf_send_signal(U_SIGKILL);

	ucount(e->upc, ret ? VIGIL_UCNT_KILL_FAILED : VIGIL_UCNT_DENY_KILL);
	return ret;
}

/*
 * One op at submit (failed: the init error, 0 from io_uring_submit_req). `sqe` is set only
 * for failed inits, where the SQE is an argument.
 */
static __always_inline int on_submit(struct io_kiocb *req, const struct io_uring_sqe *sqe,
				     int failed)
{
	struct task_struct *task;
	struct uring_env e = {};
	struct io_ring_ctx *ctx;
	struct vigil_uring_ring *ring;
	struct vigil_uring_op *op;
	const struct vigil_uring_opdesc *desc;
	struct vigil_uring_pending pend = {};
	struct pol_subject sj = {};
	struct uring_exe_seen seen;
	struct rec_ctx r = {};
	const struct cred *creds = NULL;
	__u64 bit, req_flags, key, ring_id = 0, user_data;
	__u32 opcode, tgid, sqpoll, pers = 0, pers_id = 0, setup;
	int audit, pol, exe_item, inserted;
	__s32 deny = -1;
	__u32 *cnt;

	/* The O(1) reject first: one map lookup and direct loads (req is a BTF pointer). */
	if (!uring_env_gen_conf(&e))
		return 0;
	opcode = req->opcode;
	if (opcode >= VIGIL_URING_MAX_OPS || !((e.conf->submit_ops >> opcode) & 1))
		return 0;
	if (!uring_env_counters(&e))
		return 0;
	task = bpf_get_current_task_btf();
	bit = 1ULL << opcode;
	req_flags = req->flags;
	ctx = req->ctx;
	setup = ctx->flags;
	sqpoll = (setup & U_SETUP_SQPOLL) != 0;
	pers = !failed && (req_flags & U_REQ_F_CREDS);
	audit = (e.conf->ops & bit) != 0;
	pol = !failed && ((e.conf->pol_ops & bit) || (pers && (e.conf->pol_pers_ops & bit)) ||
			  (sqpoll && (e.conf->pol_sqpoll_ops & bit)));
	if (!audit && !pol)
		return 0;
	ucount(e.upc, VIGIL_UCNT_CANDIDATES);
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&vigil_excl, &tgid)) {
		ucount(e.upc, VIGIL_UCNT_EXCLUDED);
		return 0;
	}
	if (!uring_env_scratch(&e))
		return 0;
	if (e.conf->flags & (VIGIL_UCONF_F_CGROUP | VIGIL_UCONF_F_LSM))
		uring_calibrate_regs(task);
	ring = uring_ring(ctx, task, e.upc);
	if (ring)
		ring_id = ring->id;
	user_data = req->cqe.user_data;
	if (pers) {
		creds = req->creds;
		pers_id = sqe_personality(ctx, user_data);
	}
	if (failed && sqe)
		pers_id = BPF_CORE_READ(sqe, personality);

	/* The submitter's identity, kept in the chunk area for both records. */
	sj.t = (void *)e.s->chunk;
	uring_fill_task(sj.t, task);
	if (pol) {
		sj.at = POL_AT_SUBMIT;
		sj.ops = bit;
		sj.sqpoll = sqpoll;
		sj.personality = pers;
		deny = pol_judge(&sj, task, e.conf, e.gen);
		if (deny >= 0) {
			long sig = pol_kill(&e);

			pol_record(&e, task, &sj,
				   (pers && (e.conf->pol_pers_ops & bit) && !(e.conf->pol_ops & bit))
					   ? VIGIL_POL_WHAT_PERSONALITY
				   : (sqpoll && (e.conf->pol_sqpoll_ops & bit) &&
				      !(e.conf->pol_ops & bit))
					   ? VIGIL_POL_WHAT_SQPOLL
					   : VIGIL_POL_WHAT_OP,
				   VIGIL_POL_HOW_KILLED, VIGIL_POL_HOOK_SUBMIT, opcode, ring_id,
				   user_data, sig, creds, pers_id);
		}
	}
	if (!audit)
		return 0;
	if (((e.conf->flags & VIGIL_CONF_F_TGID) && e.conf->tgid != tgid) ||
	    ((e.conf->flags & VIGIL_CONF_F_UID) && e.conf->uid != sj.t->uid)) {
		ucount(e.upc, VIGIL_UCNT_FILTERED);
		return 0;
	}

	op = (void *)e.s->rec;
	__builtin_memset(op, 0, sizeof(*op));
	__builtin_memcpy(&op->task, sj.t, sizeof(op->task));
	op->hdr.kind = VIGIL_KIND_URING_SUBMIT;
	op->hdr.event_id = uring_event_id(&e);
	op->hdr.tai_ns = bpf_ktime_get_tai_ns();
	op->ring = ring_id;
	op->user_data = user_data;
	op->req_flags = req_flags;
	op->opcode = opcode;
	op->fd = failed ? -1 : req->cqe.fd;
	op->dfd = -100;
	op->error = failed;
	op->ctx = uring_ctx_of_btf(task);
	op->personality = pers_id;
	op->flags = (req_flags & U_REQ_F_CQE_SKIP ? VIGIL_UOP_F_CQE_SKIP : 0) |
		    (req_flags & U_REQ_F_FIXED_FILE ? VIGIL_UOP_F_FIXED_FILE : 0) |
		    (req_flags & U_REQ_F_FORCE_ASYNC ? VIGIL_UOP_F_FORCE_ASYNC : 0) |
		    (failed ? VIGIL_UOP_F_INIT_FAILED : 0) | (sqpoll ? VIGIL_UOP_F_SQPOLL_RING : 0) |
		    (pers_id && !failed ? VIGIL_UOP_F_PERS_ID_SQE : 0);
	if (ring) {
		op->ring_tgid = ring->tgid;
		op->flags |= ring->flags & VIGIL_UOP_F_OWNER_KNOWN;
	}
	if (deny >= 0) {
		op->flags |= VIGIL_UOP_F_DENIED;
		op->deny_rule = deny;
	}
	if (creds) {
		op->flags |= VIGIL_UOP_F_PERSONALITY;
		cred_copy(&op->creds, creds);
	}
	if (failed)
		ucount(e.upc, VIGIL_UCNT_INIT_FAILED);

	r.s = e.s;
	r.pc = e.pc;
	r.off = sizeof(*op);
	exe_item = item_exe_once(&r, task, &seen);
	desc = bpf_map_lookup_elem(&vigil_uring_opdesc, &opcode);
	if (desc && !failed)
		capture_submit(&r, op, req, task, desc);

	/* Join key for the completion; a full map is counted and said in the record. */
	/* The request's address as a number (it is hashed: pointer arithmetic is refused). */
	bpf_probe_read_kernel(&key, sizeof(key), &req);
	pend.event_id = op->hdr.event_id;
	pend.user_data = user_data;
	pend.ring = ring_id;
	pend.tai_ns = op->hdr.tai_ns;
	pend.opcode = opcode;
	pend.flags = op->flags;
	/* A request reused after an op that posted no completion replaces that op's entry
	 * (and keeps its filter count); a new entry counts in the filter. */
	inserted = 0;
	if (!bpf_map_update_elem(&vigil_uring_pending, &key, &pend, BPF_NOEXIST)) {
		inserted = 1;
		cnt = pfilter(key);
		if (cnt)
			__sync_fetch_and_add(cnt, 1);
	} else if (bpf_map_update_elem(&vigil_uring_pending, &key, &pend, BPF_EXIST)) {
		ucount(e.upc, VIGIL_UCNT_PENDING_FULL);
		op->flags |= VIGIL_UOP_F_NO_JOIN;
	}
	op->nitems = r.nitems;
	op->hdr.flags = r.flags;
	op->hdr.len = r.off > VIGIL_REC_MAX ? VIGIL_REC_MAX : r.off;
	if (uring_output(&r, e.upc, VIGIL_UCNT_EMITTED, VIGIL_UCNT_DROP_SUBMIT)) {
		/* Nothing to join with: drop the pending entry too. */
		if (!bpf_map_delete_elem(&vigil_uring_pending, &key) && inserted) {
			cnt = pfilter(key);
			if (cnt)
				__sync_fetch_and_add(cnt, -1);
		}
		return 0;
	}
	if (exe_item)
		uring_exe_sent(task, &seen);
	return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(vigil_uring_submit, struct io_kiocb *req)
{
	return on_submit(req, NULL, 0);
}

/* Init failed (bad personality, bad flags, ...): no submit_req, but a completion follows. */
SEC("tp_btf/io_uring_req_failed")
int BPF_PROG(vigil_uring_req_failed, const struct io_uring_sqe *sqe, struct io_kiocb *req,
	     int error)
{
	return on_submit(req, sqe, error ? error : -1);
}

/* The peer address of the socket behind `f` as a sockaddr item (ACCEPT). */
static __always_inline void item_peer(struct rec_ctx *r, struct file *f)
{
	struct socket *sock = f ? BPF_CORE_READ(f, private_data) : NULL;
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	__u8 *b = r->s->path;
	__u16 fam, port;

	if (!sk)
		return;
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	port = BPF_CORE_READ(sk, __sk_common.skc_dport);
	__builtin_memset(b, 0, 32);
	if (fam == U_AF_INET) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		*(__u16 *)&b[0] = fam;
		*(__u16 *)&b[2] = port;
		*(__u32 *)&b[4] = a;
		item_kbytes(r, VIGIL_ITEM_SOCKADDR, b, 16);
	} else if (fam == U_AF_INET6) {
		*(__u16 *)&b[0] = fam;
		*(__u16 *)&b[2] = port;
		BPF_CORE_READ_INTO(&b[8], sk, __sk_common.skc_v6_daddr);
		item_kbytes(r, VIGIL_ITEM_SOCKADDR, b, 28);
	}
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(vigil_uring_complete, struct io_ring_ctx *ring_ctx, void *req,
	     struct io_uring_cqe *cqe)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct io_kiocb *rq = req;
	struct uring_env e = {};
	struct vigil_uring_pending *p;
	struct vigil_uring_cqe *c;
	const struct vigil_uring_opdesc *desc;
	struct rec_ctx r = {};
	struct file *f = NULL;
	__u64 key = (__u64)req, user_data;
	__u32 opcode, cflags, last, pflags;
	__s32 res;
	__u32 *cnt;
	__u8 index = 0, op8 = 0;
	struct uring_file_seen fseen = {};
	__u64 fref = 0;
	int walked = 0;

	/* No request: a CQE posted for another ring (MSG_RING), audited as the MSG_RING op. */
	if (!req || !uring_env_gen_conf(&e) || !e.conf->join_ops)
		return 0;
	cnt = pfilter(key);
	if (!cnt || !READ_ONCE(*cnt))
		return 0;
	/* req is not a BTF pointer here: one kernel read for the opcode. */
	if (bpf_probe_read_kernel(&op8, sizeof(op8),
				  (void *)((__u64)req + bpf_core_field_offset(struct io_kiocb, opcode))))
		return 0;
	opcode = op8;
	if (opcode >= VIGIL_URING_MAX_OPS || !((e.conf->join_ops >> opcode) & 1))
		return 0;
	if (!uring_env_counters(&e))
		return 0;
	p = bpf_map_lookup_elem(&vigil_uring_pending, &key);
	if (!p)
		return 0;
	user_data = cqe->user_data;
	res = cqe->res;
	cflags = cqe->flags;
	last = !(cflags & U_CQE_F_MORE);
	if (p->user_data != user_data || p->opcode != opcode) {
		/* The request was reused without our seeing the earlier op complete. */
		ucount(e.upc, VIGIL_UCNT_PENDING_MISMATCH);
		if (!bpf_map_delete_elem(&vigil_uring_pending, &key))
			__sync_fetch_and_add(cnt, -1);
		return 0;
	}
	ucount(e.upc, VIGIL_UCNT_JOINED);
	if (!uring_env_scratch(&e))
		goto out;
	c = (void *)e.s->rec;
	__builtin_memset(c, 0, sizeof(*c));
	c->hdr.kind = VIGIL_KIND_URING_COMPLETE;
	c->hdr.event_id = p->event_id;
	c->hdr.tai_ns = bpf_ktime_get_tai_ns();
	c->ring = p->ring;
	c->user_data = user_data;
	c->res = res;
	c->cflags = cflags;
	c->ctx = uring_ctx_of_btf(task);
	c->tid = (__u32)bpf_get_current_pid_tgid();
	c->opcode = opcode;
	pflags = p->flags;

	r.s = e.s;
	r.pc = e.pc;
	r.off = sizeof(*c);
	desc = bpf_map_lookup_elem(&vigil_uring_opdesc, &opcode);
	if (desc && (desc->flags & VIGIL_UOPD_F_FILE)) {
		f = BPF_CORE_READ(rq, file);
		if (f) {
			struct inode *inode = BPF_CORE_READ(f, f_inode);
			struct uring_file_seen *old;

			bpf_probe_read_kernel(&fref, sizeof(fref), &f);
			fseen.ino = BPF_CORE_READ(inode, i_ino);
			fseen.dev = BPF_CORE_READ(inode, i_sb, s_dev);
			fseen.tgid = bpf_get_current_pid_tgid() >> 32;
			c->file_ref = fref;
			item_inode(&r, inode, 0, 0);
			old = bpf_map_lookup_elem(&vigil_uring_file_seen, &fref);
			if (old && old->ino == fseen.ino && old->dev == fseen.dev &&
			    old->tgid == fseen.tgid) {
				c->vflags |= VIGIL_UCQE_F_PATH_CACHED;
			} else {
				item_kpath(&r, task, &f->f_path, VIGIL_ITEM_PATH_FULL, 0);
				walked = 1;
			}
		}
		index = 1;
	}
	if (desc && (desc->flags & VIGIL_UOPD_F_NEWFD) && res >= 0 &&
	    !(pflags & VIGIL_UOP_F_FILE_SLOT)) {
		f = task_fd_file(task, res);
		item_file(&r, task, f, index, VIGIL_PATH_F_FROM_FD);
		if (desc->flags & VIGIL_UOPD_F_PEER)
			item_peer(&r, f);
	}
	c->nitems = r.nitems;
	c->flags = r.flags;
	c->hdr.len = r.off > VIGIL_REC_MAX ? VIGIL_REC_MAX : r.off;
	if (!uring_output(&r, e.upc, VIGIL_UCNT_COMPLETED, VIGIL_UCNT_DROP_COMPLETE) && walked)
		bpf_map_update_elem(&vigil_uring_file_seen, &fref, &fseen, BPF_ANY);
out:
	if (last && !bpf_map_delete_elem(&vigil_uring_pending, &key))
		__sync_fetch_and_add(cnt, -1);
	return 0;
}

/* Ring creation: remember its owner; deny SQPOLL rings when a rule says so. */
SEC("tp_btf/io_uring_create")
int BPF_PROG(vigil_uring_create, int fd, void *ring_ctx, __u32 sq_entries, __u32 cq_entries,
	     __u32 flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct uring_env e = {};
	struct vigil_uring_ring ring = {};
	struct pol_subject sj = {};
	__u64 key = (__u64)ring_ctx;
	__u32 zero = 0, tgid;
	__u64 *seq;
	__s32 deny;

	if (!uring_env_conf(&e))
		return 0;
	seq = bpf_map_lookup_elem(&vigil_uring_ring_seq, &zero);
	if (!seq)
		return 0;
	ring.id = __sync_fetch_and_add(seq, 1) + 1;
	ring.tgid = BPF_CORE_READ(task, tgid);
	ring.setup_flags = flags;
	ring.start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
	ring.uid = BPF_CORE_READ(task, real_cred, uid.val);
	ring.flags = VIGIL_UOP_F_OWNER_KNOWN;
	/* BPF_ANY: a ring allocated where a dead one was gets a new id. */
	if (bpf_map_update_elem(&vigil_uring_rings, &key, &ring, BPF_ANY))
		ucount(e.upc, VIGIL_UCNT_RINGS_FULL);
	else
		ucount(e.upc, VIGIL_UCNT_RINGS_CREATED);

	if (!e.conf->pol_create || !(flags & U_SETUP_SQPOLL) ||
	    (e.conf->flags & VIGIL_UCONF_F_LSM))
		return 0;
	tgid = ring.tgid;
	if (bpf_map_lookup_elem(&vigil_excl, &tgid) || !uring_env_scratch(&e))
		return 0;
	sj.t = (void *)e.s->chunk;
	uring_fill_task(sj.t, task);
	sj.at = POL_AT_CREATE;
	sj.sqpoll = 1;
	deny = pol_judge(&sj, task, e.conf, e.gen);
	if (deny < 0)
		return 0;
	/* The SQPOLL thread exists already and dies with the process; the ring fd is
	 * installed but io_uring_setup never returns to user space. */
	pol_record(&e, task, &sj, VIGIL_POL_WHAT_SQPOLL, VIGIL_POL_HOW_KILLED,
		   VIGIL_POL_HOOK_CREATE, VIGIL_URING_MAX_OPS, ring.id, 0, pol_kill(&e), NULL, 0);
	return 0;
}
