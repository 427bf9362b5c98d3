/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * What the rule index knows of an event beyond the task and the registers, gathered once
 * per event on first use: its objects (the file behind a descriptor, or a name argument
 * placed against its base directory), the ancestors of an object (dir=), the task's
 * executable (exe=), the socket address family, the supplementary groups.
 *
 * Paths are compared as the kernel's audit watches, trees and exe marks compare them: by
 * the object's (device, inode), or by its parent directory's (device, inode) and the hash
 * of its last component (a file created or replaced after the rules were loaded), against
 * what the loader resolved (vigil_rx_paths). A name argument BPF cannot place (`.`, `..`,
 * several components relative to a directory above a watched one) leaves the condition
 * undecided: user space judges it.
 */
#ifndef VIGIL_RULES_OBJ_H
#define VIGIL_RULES_OBJ_H

#include "maps.h"
#include "path.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
/* openat's "current directory" descriptor. */
#define VIGIL_AT_FDCWD (-100)

/* Kinds of facts a condition can need (rx_state.deferred). */
#define RXD_OBJ 1
#define RXD_ANC 2
#define RXD_EXE 4
#define RXD_SADDR 8
#define RXD_GROUPS 16

/* rx_state.facts */
#define RXF_OBJS 1
#define RXF_EXE 2
#define RXF_SADDR 4
#define RXF_GROUPS 8

/* Key of an object in the path buckets (collisions only add candidates: the condition
 * compares device and inode). */
static __always_inline __u64 vigil_fid_key(__u32 dev, __u64 ino)
{
	return ino ^ ((__u64)dev << 32);
}

static __always_inline __u64 vigil_parent_key(__u32 pdev, __u64 pino, __u64 name_hash)
{
	return name_hash ^ (vigil_fid_key(pdev, pino) * FNV_PRIME);
}

/* FNV-1a 64 of a kernel name (a dentry's, at most 255 bytes). */
static __always_inline __u64 kname_hash(struct vigil_scratch *s, const unsigned char *name,
					__u32 len)
{
	__u64 h = FNV_OFFSET;

	if (len > 255)
		len = 255;
	if (bpf_probe_read_kernel(s->name, (len + 1) & 511, name))
		return h;
	for (__u32 i = 0; i < 256; i++) {
		if (i >= len)
			break;
		h ^= s->name[i & 511];
		h *= FNV_PRIME;
	}
	return h;
}

/* Inode facts, parent and name hash of a dentry; `o->dentry`/`vfsmnt` for a later walk. */
static __always_inline void obj_from_path(struct vigil_scratch *s, struct rx_obj *o,
					  struct dentry *d, struct vfsmount *mnt)
{
	struct inode *inode = BPF_CORE_READ(d, d_inode);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);

	o->ino = BPF_CORE_READ(inode, i_ino);
	o->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	o->mode = BPF_CORE_READ(inode, i_mode);
	o->uid = BPF_CORE_READ(inode, i_uid.val);
	o->gid = BPF_CORE_READ(inode, i_gid.val);
	o->rdev = BPF_CORE_READ(inode, i_rdev);
	o->pdev = o->dev;
	o->pino = parent ? BPF_CORE_READ(parent, d_inode, i_ino) : o->ino;
	o->name_hash = kname_hash(s, BPF_CORE_READ(d, d_name.name), BPF_CORE_READ(d, d_name.len));
	o->dentry = (__u64)d;
	o->vfsmnt = (__u64)mnt;
}

/* Scan state of a name argument (bpf_loop callback context). */
struct name_scan {
	struct vigil_scratch *s;
	struct rx_obj *o;
	__u64 h;
	__u64 ch;
	__u32 len;
	__u32 comps;
	__u32 comp_len;
	__u32 dots;
	__u32 bad;
	__u32 abs;
};

static __always_inline void scan_prefix(struct name_scan *c, __u64 h)
{
	struct rx_obj *o = c->o;

	if (o->nprefix < RX_MAX_PREFIX)
		o->prefix[o->nprefix++ & (RX_MAX_PREFIX - 1)] = h;
	else
		o->flags |= RXO_F_ANC_TRUNC;
}

/* One byte of the name: hashes of the whole, of each prefix ending at a component
 * boundary, of the current component; `.`, `..` and empty components make it opaque.
 * One byte per iteration keeps the verifier's work linear. */
static long name_scan_step(__u64 i, void *arg)
{
	struct name_scan *c = arg;
	struct vigil_scratch *s = c->s;
	__u8 b;

	if (!s || !c->o || i >= c->len)
		return 1;
	b = s->name[i & (VIGIL_STR_MAX - 1)];
	if (b != '/') {
		c->h = (c->h ^ b) * FNV_PRIME;
		c->ch = (c->ch ^ b) * FNV_PRIME;
		c->comp_len++;
		if (b != '.')
			c->dots = 0;
		return 0;
	}
	if (i == 0) {
		c->h = (c->h ^ b) * FNV_PRIME;
		scan_prefix(c, c->h);
		return 0;
	}
	if (c->comp_len == 0 || (c->dots && c->comp_len <= 2))
		c->bad = 1;
	if (c->abs)
		scan_prefix(c, c->h);
	c->h = (c->h ^ b) * FNV_PRIME;
	c->comps++;
	c->comp_len = 0;
	c->ch = FNV_OFFSET;
	c->dots = 1;
	return c->bad ? 1 : 0;
}

/* Places a name argument of `len` bytes (in s->name). */
static __always_inline void obj_scan_name(struct vigil_scratch *s, struct rx_obj *o, __u32 len)
{
	struct name_scan c = {
		.s = s,
		.o = o,
		.h = FNV_OFFSET,
		.ch = FNV_OFFSET,
		.len = len,
		.dots = 1,
	};

	c.abs = s->name[0] == '/';
	bpf_loop(len, name_scan_step, &c, 0);
	if (c.abs && len == 1) {
		/* "/" itself. */
		o->full_hash = c.h;
		o->name_hash = c.h;
		o->flags |= RXO_F_ABS;
		return;
	}
	if (c.bad || c.comp_len == 0 || (c.dots && c.comp_len <= 2)) {
		o->flags |= RXO_F_OPAQUE;
		return;
	}
	c.comps++;
	o->name_hash = c.ch;
	if (c.abs) {
		scan_prefix(&c, c.h);
		o->full_hash = c.h;
		o->flags |= RXO_F_ABS;
	} else {
		o->flags |= c.comps == 1 ? RXO_F_REL1 : RXO_F_RELN;
	}
}

/* The directory a relative name is resolved from: the descriptor argument, or the cwd. */
static __always_inline void obj_base(struct rx_obj *o, struct task_struct *task, __u8 dirfd,
				     const __u64 *args)
{
	struct dentry *d = NULL;
	struct vfsmount *mnt = NULL;
	long fd = dirfd < 6 ? (long)(int)args[dirfd & 7] : VIGIL_AT_FDCWD;

	if (fd == VIGIL_AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);

		if (fs) {
			d = BPF_CORE_READ(fs, pwd.dentry);
			mnt = BPF_CORE_READ(fs, pwd.mnt);
		}
	} else {
		struct file *f = task_fd_file(task, fd);

		if (f) {
			d = BPF_CORE_READ(f, f_path.dentry);
			mnt = BPF_CORE_READ(f, f_path.mnt);
		}
	}
	if (!d || !mnt) {
		o->flags |= RXO_F_OPAQUE;
		return;
	}
	o->base_ino = BPF_CORE_READ(d, d_inode, i_ino);
	o->base_dev = BPF_CORE_READ(d, d_inode, i_sb, s_dev);
	o->dentry = (__u64)d;
	o->vfsmnt = (__u64)mnt;
	o->flags |= RXO_F_BASE;
}

/* A name argument from user memory (what user space sees as the object's name: no inode). */
static __always_inline void obj_name(struct vigil_scratch *s, struct rx_state *st,
				     struct task_struct *task, const void *uptr, __u8 dirfd,
				     int exec)
{
	__u32 n = st->nobj;
	struct rx_obj *o;
	long len;

	if (n >= RX_MAX_OBJS)
		return;
	o = &st->objs[n & (RX_MAX_OBJS - 1)];
	len = bpf_probe_read_user_str(s->name, VIGIL_STR_MAX, uptr);
	if (len == 1)
		return; /* an empty name (AT_EMPTY_PATH): no name is looked up */
	__builtin_memset(o, 0, sizeof(*o));
	o->kind = exec ? RXO_EXEC : RXO_NAME;
	o->ino = ~0ULL;
	st->nobj = n + 1;
	if (len < 1) {
		o->flags = RXO_F_NOPATH;
		return;
	}
	if (len >= VIGIL_STR_MAX) {
		o->flags = RXO_F_OPAQUE;
		return;
	}
	obj_scan_name(s, o, (__u32)len - 1);
	if (o->flags & (RXO_F_REL1 | RXO_F_RELN))
		obj_base(o, task, dirfd, st->args);
}

/* The file behind a descriptor. */
static __always_inline void obj_file(struct vigil_scratch *s, struct rx_state *st,
				     struct file *f)
{
	__u32 n = st->nobj;
	struct rx_obj *o;

	if (!f || n >= RX_MAX_OBJS)
		return;
	o = &st->objs[n & (RX_MAX_OBJS - 1)];
	__builtin_memset(o, 0, sizeof(*o));
	o->kind = RXO_FILE;
	obj_from_path(s, o, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
	st->nobj = n + 1;
}

/* The exec'd name (auxv AT_EXECFN on the new stack: the kernel's copy) and the new
 * executable's inode, as one object. */
static __always_inline void obj_exec(struct vigil_scratch *s, struct rx_state *st,
				     struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	__u64 *auxv = (void *)s->path;
	__u64 fn = 0;
	struct rx_obj *o;
	struct inode *inode;

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
	if (!fn)
		return;
	obj_name(s, st, task, (void *)fn, VIGIL_ARG_NONE, 1);
	if (st->nobj != 1 || !exe)
		return;
	o = &st->objs[0];
	inode = BPF_CORE_READ(exe, f_inode);
	o->ino = BPF_CORE_READ(inode, i_ino);
	o->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	o->mode = BPF_CORE_READ(inode, i_mode);
	o->uid = BPF_CORE_READ(inode, i_uid.val);
	o->gid = BPF_CORE_READ(inode, i_gid.val);
	o->rdev = BPF_CORE_READ(inode, i_rdev);
}

/* A name whose call found no child stands for its directory (convert::layout's
 * kernel_objects): the path up to its last `/`, that slash kept. */
static __always_inline void obj_parent_of(struct rx_obj *o)
{
	__u32 n = o->nprefix;

	o->flags |= RXO_F_PARENTOF;
	if (o->flags & (RXO_F_NOPATH | RXO_F_OPAQUE))
		o->flags = (o->flags & ~RXO_F_NOPATH) | RXO_F_OPAQUE;
	else if (o->flags & RXO_F_ABS) {
		if ((o->flags & RXO_F_ANC_TRUNC) || n < 2 || n > RX_MAX_PREFIX) {
			o->flags |= RXO_F_OPAQUE;
			return;
		}
		/* "/x" -> "/"; "/a/b/c" -> "/a/b/". */
		o->full_hash = n == 2 ? o->prefix[0] :
					(o->prefix[(n - 2) & (RX_MAX_PREFIX - 1)] ^ '/') * FNV_PRIME;
		o->nprefix = n - 1;
	}
}

static __always_inline int no_child(__u8 shape, long ret)
{
	if (shape == VIGIL_SHAPE_CREAT)
		return ret < 0;
	if (shape == VIGIL_SHAPE_WHOLE)
		return 0;
	return ret == -2 /* ENOENT */ || ret == -20 /* ENOTDIR */ || ret == -17 /* EEXIST */;
}

/* The event's objects, as the rule evaluators see them (convert::to_event_input). */
static __always_inline void rx_objects(struct vigil_scratch *s, struct task_struct *task)
{
	struct rx_state *st = &s->rx;
	struct vigil_sysdesc *d = &st->desc;
	__u8 a0 = d->arg0, a1 = d->arg1;

	if (st->facts & RXF_OBJS)
		return;
	st->facts |= RXF_OBJS;
	st->nobj = 0;
	switch (d->class) {
	case VIGIL_CLASS_OPEN:
		if (st->ret >= 0)
			obj_file(s, st, task_fd_file(task, st->ret));
		else if (a0 < 6)
			obj_name(s, st, task, (void *)st->args[a0 & 7], d->dirfd0, 0);
		break;
	case VIGIL_CLASS_PATH:
		if (a0 < 6 && d->shape != VIGIL_SHAPE_SYMLINK)
			obj_name(s, st, task, (void *)st->args[a0 & 7], d->dirfd0, 0);
		if (a1 < 6)
			obj_name(s, st, task, (void *)st->args[a1 & 7], d->dirfd1, 0);
		break;
	case VIGIL_CLASS_FD:
		if (a0 < 6)
			obj_file(s, st, task_fd_file(task, (long)(int)st->args[a0 & 7]));
		break;
	case VIGIL_CLASS_EXEC:
		if (st->ret == 0)
			obj_exec(s, st, task);
		else if (a0 < 6)
			obj_name(s, st, task, (void *)st->args[a0 & 7], d->dirfd0, 0);
		break;
	}
	if (no_child(d->shape, st->ret)) {
		/* link: the old name is looked up whole. */
		for (__u32 i = d->shape == VIGIL_SHAPE_LINK ? 1 : 0; i < RX_MAX_OBJS; i++)
			if (i < st->nobj && st->objs[i].kind != RXO_FILE)
				obj_parent_of(&st->objs[i]);
	}
}

/* Ancestor walk (bpf_loop callback): records (dev, ino) of each dentry, crossing mounts up
 * to the namespace's root. */
struct anc_walk {
	struct rx_obj *o;
	struct dentry *d;
	struct vfsmount *vmnt;
	struct mount *mnt;
	__u32 done;
};

static long anc_step(__u64 i, void *arg)
{
	struct anc_walk *w = arg;
	struct rx_obj *o = w->o;
	struct dentry *d = w->d, *parent, *mnt_root;
	/* Locals: a CO-RE read must not start from one of our own structs. */
	struct vfsmount *vmnt = w->vmnt;
	struct mount *m = w->mnt;
	struct inode *inode;
	__u32 n;

	if (!o || !d) {
		w->done = 1;
		return 1;
	}
	mnt_root = BPF_CORE_READ(vmnt, mnt_root);
	parent = BPF_CORE_READ(d, d_parent);
	if (d == mnt_root || d == parent) {
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);

		if (!mp || mp == m) {
			/* The root: record it and stop. */
			inode = BPF_CORE_READ(d, d_inode);
			n = o->nanc;
			if (n < RX_MAX_ANC) {
				o->anc_ino[n & (RX_MAX_ANC - 1)] = BPF_CORE_READ(inode, i_ino);
				o->anc_dev[n & (RX_MAX_ANC - 1)] = BPF_CORE_READ(inode, i_sb, s_dev);
				o->nanc = n + 1;
			}
			w->done = 1;
			return 1;
		}
		/* The mount's root is the mountpoint's directory seen from the parent mount. */
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = mp;
		w->vmnt = (void *)mp + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	inode = BPF_CORE_READ(d, d_inode);
	n = o->nanc;
	if (n >= RX_MAX_ANC)
		return 1;
	o->anc_ino[n & (RX_MAX_ANC - 1)] = BPF_CORE_READ(inode, i_ino);
	o->anc_dev[n & (RX_MAX_ANC - 1)] = BPF_CORE_READ(inode, i_sb, s_dev);
	o->nanc = n + 1;
	w->d = parent;
	return 0;
}

static __always_inline void obj_ancestors(struct rx_obj *o)
{
	struct anc_walk w = {};

	if (o->flags & RXO_F_ANC)
		return;
	o->flags |= RXO_F_ANC;
	o->nanc = 0;
	w.o = o;
	w.d = (struct dentry *)o->dentry;
	w.vmnt = (struct vfsmount *)o->vfsmnt;
	if (!w.d || !w.vmnt) {
		o->flags |= RXO_F_ANC_TRUNC;
		return;
	}
	w.mnt = real_mount(w.vmnt);
	bpf_loop(RX_MAX_ANC + 8, anc_step, &w, 0);
	if (!w.done)
		o->flags |= RXO_F_ANC_TRUNC;
}

/* The task's executable: inode, parent directory and name hash. */
static __always_inline void rx_exe_facts(struct vigil_scratch *s, struct task_struct *task)
{
	struct rx_state *st = &s->rx;
	struct rx_exe *e = &st->exe;
	struct file *exe;
	struct dentry *d, *parent;
	struct inode *inode;

	if (st->facts & RXF_EXE)
		return;
	st->facts |= RXF_EXE;
	e->ok = 0;
	exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return;
	d = BPF_CORE_READ(exe, f_path.dentry);
	inode = BPF_CORE_READ(exe, f_inode);
	parent = BPF_CORE_READ(d, d_parent);
	e->ino = BPF_CORE_READ(inode, i_ino);
	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->pdev = e->dev;
	e->pino = parent ? BPF_CORE_READ(parent, d_inode, i_ino) : e->ino;
	e->name_hash = kname_hash(s, BPF_CORE_READ(d, d_name.name), BPF_CORE_READ(d, d_name.len));
	e->ok = 1;
}

/* sa_family of the address the syscall passed (user memory, as the record's SOCKADDR). */
static __always_inline void rx_saddr(struct rx_state *st)
{
	struct vigil_sysdesc *d = &st->desc;
	__u8 a0 = d->arg0, a1 = d->arg1;
	__u16 fam = 0;

	if (st->facts & RXF_SADDR)
		return;
	st->facts |= RXF_SADDR;
	st->saddr_fam = -1;
	if (d->class == VIGIL_CLASS_SOCKADDR && a0 < 6 && a1 < 6) {
		__u64 p = st->args[a0 & 7], len = st->args[a1 & 7];

		if (p && len >= 2 && !bpf_probe_read_user(&fam, sizeof(fam), (void *)p))
			st->saddr_fam = fam;
	} else if (d->class == VIGIL_CLASS_SOCKADDR_MSG && a0 < 6) {
		struct user_msghdr mh = {};

		if (st->args[a0 & 7] &&
		    !bpf_probe_read_user(&mh, sizeof(mh), (void *)st->args[a0 & 7]) &&
		    mh.msg_name && mh.msg_namelen >= 2 &&
		    !bpf_probe_read_user(&fam, sizeof(fam), mh.msg_name))
			st->saddr_fam = fam;
	}
}

/* Supplementary groups, at most VIGIL_GROUPS_MAX (st->ngroups: how many the task has). */
static __always_inline void rx_groups(struct rx_state *st, struct task_struct *task)
{
	struct group_info *gi;
	__u32 n;

	if (st->facts & RXF_GROUPS)
		return;
	st->facts |= RXF_GROUPS;
	st->ngroups = 0;
	gi = BPF_CORE_READ(task, cred, group_info);
	if (!gi)
		return;
	n = BPF_CORE_READ(gi, ngroups);
	st->ngroups = n;
	if (n > VIGIL_GROUPS_MAX)
		n = VIGIL_GROUPS_MAX;
	if (n)
		bpf_probe_read_kernel(st->groups, (n & (2 * VIGIL_GROUPS_MAX - 1)) * 4, &gi->gid);
}

/* Gathers the facts `need` (RXD_*) asks for, once per event. A global function: the
 * verifier checks it once, not at every call site. */
__noinline int vigil_rx_facts(struct vigil_scratch *s, __u32 need)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct rx_state *st;

	if (!s)
		return 0;
	st = &s->rx;
	if ((need & RXD_OBJ) && st->in_syscall)
		rx_objects(s, task);
	if (need & RXD_EXE)
		rx_exe_facts(s, task);
	if ((need & RXD_SADDR) && st->in_syscall)
		rx_saddr(st);
	if (need & RXD_GROUPS)
		rx_groups(st, task);
	return 0;
}

#endif
