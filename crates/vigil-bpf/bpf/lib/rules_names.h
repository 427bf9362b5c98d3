/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * The inode phase (the kernel's audit_filter_inodes): rules with path=/inode= (watches),
 * object by object, only those placed before the exit list's decision may override it; the
 * first object for which one matches ends the walk for that rule set. Candidates per
 * object: the buckets of its inode, of its parent directory and name (a watched path
 * resolved by the loader), of its absolute name, and the residual. A perm prefilter skips
 * the phase for syscalls whose class no watch of that syscall asks for (`-p wa` and a
 * read-only open). Included by rules.h.
 */
#ifndef VIGIL_RULES_NAMES_H
#define VIGIL_RULES_NAMES_H

/* The object's candidate sources; 0 when BPF cannot place the object. */
static __always_inline int rx_names_sources(struct rx_state *st, struct rx_obj *o,
					    const struct vigil_genconf *conf)
{
	__u64 any = conf->names_index_any;
	__u8 T = VIGIL_RX_TABLE_NAMES;

	if (o->kind == RXO_FILE) {
		rx_lookup(st, T, VIGIL_RX_PK_OBJ, VIGIL_RX_SEL_ANY, vigil_fid_key(o->dev, o->ino));
		rx_lookup(st, T, VIGIL_RX_PK_PARENT, VIGIL_RX_SEL_ANY,
			  vigil_parent_key(o->pdev, o->pino, o->name_hash));
	} else if (o->flags & RXO_F_OPAQUE) {
		return 0;
	} else if ((o->flags & RXO_F_PARENTOF) && !(o->flags & RXO_F_ABS)) {
		/* A relative name's directory: only a watch spelt with a trailing `/` could be
		 * it, and its string is not known here. */
		if (conf->flags & VIGIL_CONF_F_SLASH_WATCH)
			return 0;
	} else if (o->flags & RXO_F_ABS) {
		if (any & (1ULL << IX_PATH))
			rx_lookup(st, T, IX_PATH, VIGIL_RX_SEL_ANY, o->full_hash);
	} else if (o->flags & RXO_F_REL1) {
		if (!(o->flags & RXO_F_BASE))
			return 0;
		rx_lookup(st, T, VIGIL_RX_PK_PARENT, VIGIL_RX_SEL_ANY,
			  vigil_parent_key(o->base_dev, o->base_ino, o->name_hash));
	} else if (o->flags & RXO_F_RELN) {
		/* Several components: only the last one's hash is known. */
		struct vigil_rx_key k = {
			.table = T,
			.field = VIGIL_RX_PK_BASE,
			.generation = st->gen,
			.sel = VIGIL_RX_SEL_ANY,
			.value = o->name_hash,
		};

		if (bpf_map_lookup_elem(&vigil_rx_index, &k))
			return 0;
	}
	if (any & (1ULL << IX_INODE))
		rx_lookup(st, T, IX_INODE, VIGIL_RX_SEL_ANY, (__u32)o->ino);
	return 1;
}

static __always_inline void rx_names(struct rx_ctx *c, const struct vigil_genconf *conf,
				     __u64 all, __u32 list_key)
{
	struct vigil_scratch *s = c->s;
	struct rx_state *st = &s->rx;
	struct vigil_rx_sysinfo *si = bpf_map_lookup_elem(&vigil_rx_sysinfo, &list_key);
	__u64 open2;

	if (!si || !(si->flags & VIGIL_RXSI_F_NAMES))
		return;
	if (!(si->flags & VIGIL_RXSI_F_NAMES_NOPERM) && !(st->ev_perm & RX_PERM_UNKNOWN) &&
	    !(st->ev_perm & si->names_perm))
		return;
	open2 = all & ~(st->task_never | st->task_always) & ~st->undecided;
	if (!open2)
		return;
	__builtin_memcpy(st->first, st->found, sizeof(st->first));
	st->names_ran = 1;
	vigil_rx_facts(s, RXD_OBJ);
	if (conf->flags & VIGIL_CONF_F_OBJ_UNDECIDED) {
		st->undecided |= open2;
		return;
	}
	for (__u32 i = 0; i < RX_MAX_OBJS; i++) {
		if (i >= st->nobj || !open2)
			break;
		st->phase = RX_PHASE_NAMES;
		st->cur_obj = i;
		st->pending = open2;
		rx_sources_reset(st);
		if (!rx_names_sources(st, &st->objs[i & (RX_MAX_OBJS - 1)], conf)) {
			st->undecided |= open2;
			st->obj_undecided = 1;
			return;
		}
		rx_push(st, &conf->names_residual);
		rx_walk(c);
		open2 &= st->pending;
	}
}

#endif
