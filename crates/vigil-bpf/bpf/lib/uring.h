/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * io_uring auditing and policy: maps and helpers (progs/uring.c, progs/uring_policy.c).
 * docs/design/io_uring.md says which kernel field is valid at which tracepoint; docs/io_uring.md
 * what vigil records from them.
 *
 * The io_uring programs run in their own instance of the object (crates/vigil-bpf/src/uring):
 * their own ring buffer, generations and counters, so the syscall side's maps and
 * attach/detach cycle are untouched by them. The shared item helpers (record.h, path.h) count
 * item-level losses in this instance's vigil_percpu.
 */
#ifndef VIGIL_URING_H
#define VIGIL_URING_H

#include "record.h"
#include "task.h"
#include "path.h"

/* REQ_F_* (enum in BTF; values checked on 6.18, docs/design/io_uring.md section 4). */
#define U_REQ_F_FIXED_FILE 0x1ULL
#define U_REQ_F_FORCE_ASYNC 0x10ULL
#define U_REQ_F_CQE_SKIP 0x40ULL
#define U_REQ_F_CREDS 0x80000ULL
#define U_REQ_F_ASYNC_DATA 0x400000ULL
/* IORING_SETUP_* (uapi). */
#define U_SETUP_SQPOLL 0x2U
#define U_SETUP_SQE128 0x400U
#define U_SETUP_NO_SQARRAY 0x10000U
/* IORING_CQE_F_MORE: a multishot op will post more completions. */
#define U_CQE_F_MORE 0x2U
#define U_AF_UNIX 1
#define U_AF_INET 2
#define U_AF_INET6 10
#define U_SIGKILL 9

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} vigil_uring_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_uring_ctl);
} vigil_uring_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NR_GEN);
	__type(key, __u32);
	__type(value, struct vigil_uring_conf);
} vigil_uring_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NR_GEN * VIGIL_POL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct vigil_pol_rule);
} vigil_pol_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_URING_MAX_OPS);
	__type(key, __u32);
	__type(value, struct vigil_uring_opdesc);
} vigil_uring_opdesc SEC(".maps");

/* Kernel ring pointer -> owner. No tracepoint marks a ring's end: LRU evicts the oldest. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct vigil_uring_ring);
} vigil_uring_rings SEC(".maps");

/* Kernel request pointer -> the op's SUBMIT event, until its (last) completion. A plain hash
 * so that a full map is seen and counted; user space sweeps entries never completed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct vigil_uring_pending);
} vigil_uring_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_uring_percpu);
} vigil_uring_percpu SEC(".maps");

/* A counting filter over request pointers: how many pending entries hash to each bucket.
 * A completion whose bucket reads 0 has no pending entry: it returns after one inlined array
 * read, without reading the request (its pointer is not a BTF pointer at io_uring_complete).
 * Entries removed by user space (the sweep) leave their bucket counted: a slower path for
 * that bucket, never a missed join. */
#define URING_FILTER_BUCKETS 65536

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, URING_FILTER_BUCKETS);
	__type(key, __u32);
	__type(value, __u32);
} vigil_uring_pfilter SEC(".maps");

/* Requests come from a slab of 256-byte objects: drop the low bits, fold the high ones. */
static __always_inline __u32 pfilter_bucket(__u64 req)
{
	return (__u32)((req >> 8) ^ (req >> 24)) & (URING_FILTER_BUCKETS - 1);
}

static __always_inline __u32 *pfilter(__u64 req)
{
	__u32 b = pfilter_bucket(req);

	return bpf_map_lookup_elem(&vigil_uring_pfilter, &b);
}

/* Next ring id. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vigil_uring_ring_seq SEC(".maps");

/* Thread group -> the executable whose path was last sent for it: the EXE item (a dentry
 * walk) is sent once per process and executable, not per op; user space keeps the path. */
struct uring_exe_seen {
	__u64 start_boottime;
	__u64 ino;
	__u32 dev;
	__u32 pad0;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct uring_exe_seen);
} vigil_uring_exe_seen SEC(".maps");

/* Open file -> the inode and thread group whose path was last sent with it: the dentry walk
 * of a file an op acts on (READ, WRITE, SEND, RECV, ...) is sent once per open file, not per
 * op; user space keeps the path by (thread group, file_ref, inode). */
struct uring_file_seen {
	__u64 ino;
	__u32 dev;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct uring_file_seen);
} vigil_uring_file_seen SEC(".maps");

/* Everything one program needs: the live generation's conf, counters, scratch. */
struct uring_env {
	struct vigil_uring_conf *conf;
	struct vigil_uring_percpu *upc;
	struct vigil_percpu *pc;
	struct vigil_scratch *s;
	__u32 gen;
	__u32 cpu;
};

static __always_inline void ucount(struct vigil_uring_percpu *upc, __u32 idx)
{
	if (upc && idx < VIGIL_URING_NR_COUNTERS)
		upc->counters[idx]++;
}

/* The live generation's conf; 0 when a map is missing (never, once loaded). */
static __always_inline int uring_env_gen_conf(struct uring_env *e)
{
	__u32 zero = 0;
	struct vigil_uring_ctl *ctl = bpf_map_lookup_elem(&vigil_uring_ctl, &zero);

	if (!ctl)
		return 0;
	e->gen = READ_ONCE(ctl->generation) & 1;
	e->conf = bpf_map_lookup_elem(&vigil_uring_conf, &e->gen);
	return e->conf != NULL;
}

/* The counters (after the cheap reject). */
static __always_inline int uring_env_counters(struct uring_env *e)
{
	__u32 zero = 0;

	e->upc = bpf_map_lookup_elem(&vigil_uring_percpu, &zero);
	e->pc = bpf_map_lookup_elem(&vigil_percpu, &zero);
	return e->upc != NULL;
}

static __always_inline int uring_env_conf(struct uring_env *e)
{
	return uring_env_gen_conf(e) && uring_env_counters(e);
}

static __always_inline int uring_env_scratch(struct uring_env *e)
{
	e->cpu = bpf_get_smp_processor_id();
	e->s = bpf_map_lookup_elem(&vigil_scratch, &e->cpu);
	if (!e->s) {
		ucount(e->upc, VIGIL_UCNT_NO_SCRATCH);
		return 0;
	}
	return 1;
}

static __always_inline __u64 uring_event_id(struct uring_env *e)
{
	return ((__u64)e->cpu << 48) | (e->upc->seq++ & 0xffffffffffffULL);
}

/* Inline (a syscall of the task), SQPOLL thread, or io-wq worker. SQPOLL and io-wq threads
 * both carry PF_IO_WORKER; only io-wq workers have worker_private. */
static __always_inline __u32 uring_ctx_of(struct task_struct *task)
{
	__u32 pf = BPF_CORE_READ(task, flags);

	if (!(pf & VIGIL_PF_IO_WORKER))
		return VIGIL_URING_CTX_INLINE;
	return BPF_CORE_READ(task, worker_private) ? VIGIL_URING_CTX_IOWQ : VIGIL_URING_CTX_SQPOLL;
}

/* uring_ctx_of for a BTF task pointer (tracing programs): direct loads. */
static __always_inline __u32 uring_ctx_of_btf(struct task_struct *task)
{
	if (!(task->flags & VIGIL_PF_IO_WORKER))
		return VIGIL_URING_CTX_INLINE;
	return task->worker_private ? VIGIL_URING_CTX_IOWQ : VIGIL_URING_CTX_SQPOLL;
}

/* The task's identity; an io thread's comm ("iou-sqp-N", "iou-wrk-N") is replaced by its
 * process's (the thread group leader's), so the record names the program. */
static __always_inline void uring_fill_task(struct vigil_task *t, struct task_struct *task)
{
	fill_task(t, task);
	if (t->flags & VIGIL_TASK_F_IO_WORKER)
		bpf_core_read_str(t->comm, sizeof(t->comm), &task->group_leader->comm);
}

/* The same identity from a task pointer that is not a BTF pointer (cgroup hooks get theirs
 * from bpf_get_current_task): every field through bpf_probe_read_kernel. */
static __always_inline void uring_fill_task_core(struct vigil_task *t, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct cred *cred = BPF_CORE_READ(task, cred);
	__u32 pf = BPF_CORE_READ(task, flags);

	__builtin_memset(t, 0, sizeof(*t));
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
	t->auid = 0xffffffff;
	t->sessionid = 0xffffffff;
	if (bpf_core_field_exists(task->loginuid)) {
		t->auid = BPF_CORE_READ(task, loginuid.val);
		t->sessionid = BPF_CORE_READ(task, sessionid);
	}
	t->pers = BPF_CORE_READ(task, personality);
	t->flags = ((pf & VIGIL_PF_IO_WORKER) ? VIGIL_TASK_F_IO_WORKER : 0) |
		   ((pf & VIGIL_PF_KTHREAD) ? VIGIL_TASK_F_KTHREAD : 0);
	t->cgroup_id = bpf_get_current_cgroup_id();
	t->start_boottime = BPF_CORE_READ(task, start_boottime);
	if (pf & VIGIL_PF_IO_WORKER) {
		struct task_struct *leader = BPF_CORE_READ(task, group_leader);

		bpf_core_read_str(t->comm, sizeof(t->comm), &leader->comm);
	} else
		bpf_get_current_comm(t->comm, sizeof(t->comm));
}

static __always_inline void cred_copy(struct vigil_creds *c, const struct cred *cred)
{
	c->uid = BPF_CORE_READ(cred, uid.val);
	c->euid = BPF_CORE_READ(cred, euid.val);
	c->suid = BPF_CORE_READ(cred, suid.val);
	c->fsuid = BPF_CORE_READ(cred, fsuid.val);
	c->gid = BPF_CORE_READ(cred, gid.val);
	c->egid = BPF_CORE_READ(cred, egid.val);
	c->sgid = BPF_CORE_READ(cred, sgid.val);
	c->fsgid = BPF_CORE_READ(cred, fsgid.val);
}

/* String from kernel memory (the kernel's copy of a path: struct filename->name). */
static __always_inline void item_kstr(struct rec_ctx *r, __u16 type, __u8 index, const void *kptr)
{
	struct vigil_item_hdr *h;
	__u8 flags = 0;
	__u32 len = 0;
	long n;

	if (!kptr)
		return;
	h = item_begin(r, VIGIL_STR_MAX);
	if (!h)
		return;
	n = bpf_probe_read_kernel_str((void *)(h + 1), VIGIL_STR_MAX, kptr);
	if (n < 0) {
		flags |= VIGIL_ITEM_F_FAULT;
		vigil_count(r->pc, VIGIL_CNT_READ_FAULT);
	} else if (n > 0) {
		len = n - 1;
		if (n >= VIGIL_STR_MAX) {
			flags |= VIGIL_ITEM_F_TRUNCATED;
			vigil_count(r->pc, VIGIL_CNT_TRUNC_STRING);
		}
	}
	item_end(r, h, type, index, flags, len);
}

/* Bytes from kernel memory (a sockaddr the kernel copied in). */
static __always_inline void item_kbytes(struct rec_ctx *r, __u16 type, const void *kptr,
					__u32 size)
{
	struct vigil_item_hdr *h = item_begin(r, VIGIL_SOCKADDR_MAX);
	__u8 flags = 0;
	__u32 len = size;

	if (!h)
		return;
	if (len > VIGIL_SOCKADDR_MAX) {
		len = VIGIL_SOCKADDR_MAX;
		flags |= VIGIL_ITEM_F_TRUNCATED;
	}
	/* Keep the mask: clang drops it when it can prove the bound, the verifier cannot. */
	barrier_var(len);
	len &= 2 * VIGIL_SOCKADDR_MAX - 1;
	if (len == 0 || bpf_probe_read_kernel((void *)(h + 1), len, kptr)) {
		if (len) {
			flags |= VIGIL_ITEM_F_FAULT;
			vigil_count(r->pc, VIGIL_CNT_READ_FAULT);
		}
		len = 0;
	}
	item_end(r, h, type, 0, flags, len);
}

/* The EXE item unless this process's executable was already sent (vigil_uring_exe_seen);
 * returns 1 when an item was added (the caller confirms with uring_exe_sent once output). */
static __always_inline int item_exe_once(struct rec_ctx *r, struct task_struct *task,
					 struct uring_exe_seen *seen)
{
	/* task is a BTF pointer here: direct loads (the hot path of every audited op). */
	struct mm_struct *mm = task->mm;
	struct file *exe = mm ? mm->exe_file : NULL;
	__u32 tgid = task->tgid;
	struct uring_exe_seen *old;

	if (!exe)
		return 0;
	seen->start_boottime = task->group_leader->start_boottime;
	seen->ino = exe->f_inode->i_ino;
	seen->dev = exe->f_inode->i_sb->s_dev;
	seen->pad0 = 0;
	old = bpf_map_lookup_elem(&vigil_uring_exe_seen, &tgid);
	if (old && old->start_boottime == seen->start_boottime && old->ino == seen->ino &&
	    old->dev == seen->dev)
		return 0;
	item_kpath(r, task, &exe->f_path, VIGIL_ITEM_EXE, 0);
	return 1;
}

static __always_inline void uring_exe_sent(struct task_struct *task, struct uring_exe_seen *seen)
{
	__u32 tgid = task->tgid;

	bpf_map_update_elem(&vigil_uring_exe_seen, &tgid, seen, BPF_ANY);
}

/* The reader is woken once this much waits in the ring buffer (a wakeup per record costs
 * the producer an irq_work and the consumer a context switch); it also polls on its own at
 * least every URING_READER_POLL_MS (src/uring/reader.rs), which bounds the latency. */
#define URING_WAKEUP_BYTES (64 * 1024)

/* Sends the record built in r->s->rec to vigil_uring_events; 0 on success. */
static __always_inline long uring_output(struct rec_ctx *r, struct vigil_uring_percpu *upc,
					 __u32 ok, __u32 drop)
{
	__u32 len = r->off;
	__u64 flags = BPF_RB_NO_WAKEUP;
	long err;

	if (len > VIGIL_REC_MAX)
		len = VIGIL_REC_MAX;
	if (bpf_ringbuf_query(&vigil_uring_events, BPF_RB_AVAIL_DATA) >= URING_WAKEUP_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	err = bpf_ringbuf_output(&vigil_uring_events, r->s->rec, len, flags);
	ucount(upc, err ? drop : ok);
	return err;
}

/* The ring's entry, created on first sight for rings made before vigil was loaded (their
 * creator is unknown: the first submitter stands in). */
static __always_inline struct vigil_uring_ring *uring_ring(struct io_ring_ctx *ctx,
							   struct task_struct *task,
							   struct vigil_uring_percpu *upc)
{
	__u64 key = (__u64)ctx;
	struct vigil_uring_ring *ring = bpf_map_lookup_elem(&vigil_uring_rings, &key);
	struct vigil_uring_ring fresh = {};
	__u32 zero = 0;
	__u64 *seq;

	if (ring)
		return ring;
	seq = bpf_map_lookup_elem(&vigil_uring_ring_seq, &zero);
	if (!seq)
		return NULL;
	fresh.id = __sync_fetch_and_add(seq, 1) + 1;
	fresh.tgid = BPF_CORE_READ(task, tgid);
	fresh.setup_flags = BPF_CORE_READ(ctx, flags);
	fresh.start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
	fresh.uid = BPF_CORE_READ(task, real_cred, uid.val);
	fresh.flags = 0;
	if (bpf_map_update_elem(&vigil_uring_rings, &key, &fresh, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&vigil_uring_rings, &key)) {
		ucount(upc, VIGIL_UCNT_RINGS_FULL);
		return NULL;
	}
	ucount(upc, VIGIL_UCNT_RINGS_INFERRED);
	return bpf_map_lookup_elem(&vigil_uring_rings, &key);
}

#endif
