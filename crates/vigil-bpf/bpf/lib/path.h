/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Kernel objects as the kernel holds them: a path built by walking dentries (bpf_d_path is
 * not allowed in tracepoint programs), crossing mounts, stopping at the task's root; the
 * inode facts PATH records carry; the file behind a descriptor. */
#ifndef VIGIL_PATH_H
#define VIGIL_PATH_H

#include "record.h"

#define WALK_DONE 1
#define WALK_TRUNC 2

struct walk_ctx {
	struct dentry *d;
	struct vfsmount *vmnt;
	struct mount *mnt;
	struct dentry *root_d;
	struct vfsmount *root_mnt;
	__u8 *buf;
	__u32 pos;
	__u32 flags;
};

static __always_inline struct mount *real_mount(struct vfsmount *vmnt)
{
	return (void *)vmnt - bpf_core_field_offset(struct mount, mnt);
}

/* One step up; bpf_loop callback, so the verifier checks it once whatever the depth. */
static long walk_step(__u64 i, void *arg)
{
	struct walk_ctx *w = arg;
	struct dentry *d = w->d;
	struct vfsmount *vmnt = w->vmnt;
	struct dentry *parent, *mnt_root;
	const unsigned char *name;
	__u32 len, pos;
	__u8 *buf = w->buf;

	if (!buf || !d) {
		w->flags |= WALK_DONE;
		return 1;
	}
	if (d == w->root_d && vmnt == w->root_mnt) {
		w->flags |= WALK_DONE;
		return 1;
	}
	mnt_root = BPF_CORE_READ(vmnt, mnt_root);
	parent = BPF_CORE_READ(d, d_parent);
	if (d == mnt_root || d == parent) {
		struct mount *m = w->mnt;
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);

		if (!mp || mp == m) {
			/* The namespace's root mount, or a detached one. */
			w->flags |= WALK_DONE;
			return 1;
		}
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = mp;
		w->vmnt = (void *)mp + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	len = BPF_CORE_READ(d, d_name.len);
	name = BPF_CORE_READ(d, d_name.name);
	if (len > 255)
		len = 255;
	if (len + 1 > w->pos) {
		w->flags |= WALK_TRUNC;
		return 1;
	}
	pos = w->pos - len - 1;
	bpf_probe_read_kernel(&buf[(pos + 1) & (VIGIL_STR_MAX - 1)], len & 255, name);
	buf[pos & (VIGIL_STR_MAX - 1)] = '/';
	w->pos = pos;
	w->d = parent;
	return 0;
}

/* Walk `path` up to the task's root and append the result as an item. */
static __always_inline void item_kpath(struct rec_ctx *r, struct task_struct *task,
				       const struct path *path, __u16 type, __u8 index)
{
	struct walk_ctx w = {};
	struct vigil_item_hdr *h;
	__u32 len;
	__u8 flags = 0;

	w.d = BPF_CORE_READ(path, dentry);
	w.vmnt = BPF_CORE_READ(path, mnt);
	if (!w.d || !w.vmnt)
		return;
	w.mnt = real_mount(w.vmnt);
	w.root_d = BPF_CORE_READ(task, fs, root.dentry);
	w.root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	w.buf = r->s->path;
	w.pos = VIGIL_STR_MAX;
	bpf_loop(VIGIL_PATH_DEPTH_MAX, walk_step, &w, 0);
	if (!(w.flags & WALK_DONE) || (w.flags & WALK_TRUNC)) {
		flags |= VIGIL_ITEM_F_TRUNCATED | VIGIL_ITEM_F_PARTIAL;
		vigil_count(r->pc, VIGIL_CNT_TRUNC_PATH);
	}
	if (w.pos >= VIGIL_STR_MAX) {
		/* Nothing prepended: the root itself. */
		w.pos = VIGIL_STR_MAX - 1;
		r->s->path[VIGIL_STR_MAX - 1] = '/';
	}
	len = VIGIL_STR_MAX - w.pos;
	if (len > VIGIL_STR_MAX)
		len = VIGIL_STR_MAX;
	h = item_begin(r, VIGIL_STR_MAX);
	if (!h)
		return;
	bpf_probe_read_kernel((void *)(h + 1), len, &r->s->path[w.pos & (VIGIL_STR_MAX - 1)]);
	item_end(r, h, type, index, flags, len);
}

/* Inode facts of `inode` as a PATH item. */
static __always_inline void item_inode(struct rec_ctx *r, struct inode *inode, __u8 index,
				       __u32 pflags)
{
	struct vigil_item_hdr *h = item_begin(r, sizeof(struct vigil_path));
	struct vigil_path *p;

	if (!h)
		return;
	p = (void *)(h + 1);
	p->ino = BPF_CORE_READ(inode, i_ino);
	p->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	p->rdev = BPF_CORE_READ(inode, i_rdev);
	p->mode = BPF_CORE_READ(inode, i_mode);
	p->uid = BPF_CORE_READ(inode, i_uid.val);
	p->gid = BPF_CORE_READ(inode, i_gid.val);
	p->fs_magic = BPF_CORE_READ(inode, i_sb, s_magic);
	p->flags = pflags | VIGIL_PATH_F_INODE;
	p->pad0 = 0;
	item_end(r, h, VIGIL_ITEM_PATH, index, 0, sizeof(*p));
}

/* file->f_mode bit the open that made the file sets (include/linux/fs.h, 6.x; a macro, so
 * not in BTF). */
#define VIGIL_FMODE_CREATED (1U << 20)

/* The open file behind descriptor `fd` of `task`, or NULL. */
static __always_inline struct file *task_fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt;
	struct file **arr;
	struct file *f = NULL;
	__u32 max;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(task, files, fdt);
	max = BPF_CORE_READ(fdt, max_fds);
	if ((__u64)fd >= max)
		return NULL;
	arr = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

/* PATH + PATH_FULL for an open file. */
static __always_inline void item_file(struct rec_ctx *r, struct task_struct *task,
				      struct file *f, __u8 index, __u32 pflags)
{
	if (!f)
		return;
	if (BPF_CORE_READ(f, f_mode) & VIGIL_FMODE_CREATED)
		pflags |= VIGIL_PATH_F_CREATED;
	item_inode(r, BPF_CORE_READ(f, f_inode), index, pflags);
	item_kpath(r, task, &f->f_path, VIGIL_ITEM_PATH_FULL, index);
}

#endif
