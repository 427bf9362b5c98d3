/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Building a SYSCALL record in the per-CPU scratch area: a fixed part, then items. */
#ifndef VIGIL_RECORD_H
#define VIGIL_RECORD_H

#include "maps.h"

struct rec_ctx {
	struct vigil_scratch *s;
	struct vigil_percpu *pc;
	__u32 off;
	__u16 nitems;
	__u16 flags;
};

/* Room for an item with up to `need` payload bytes, or NULL (counted) when the record is
 * full. The mask keeps the verifier's bound: off never exceeds VIGIL_REC_MAX. */
static __always_inline struct vigil_item_hdr *item_begin(struct rec_ctx *r, __u32 need)
{
	if (r->off > VIGIL_REC_MAX - sizeof(struct vigil_item_hdr) - need) {
		vigil_count(r->pc, VIGIL_CNT_DROP_TOO_BIG);
		r->flags |= VIGIL_SC_F_ITEMS_DROPPED;
		return NULL;
	}
	return (void *)&r->s->rec[r->off & (VIGIL_REC_MAX - 1)];
}

static __always_inline void item_end(struct rec_ctx *r, struct vigil_item_hdr *h, __u16 type,
				     __u8 index, __u8 flags, __u32 len)
{
	h->type = type;
	h->index = index;
	h->flags = flags;
	h->len = len;
	r->off += (sizeof(*h) + len + 7) & ~7U;
	r->nitems++;
}

/* String from user memory (a syscall's name argument). Not evidence of what the kernel
 * used: another thread may change it around the kernel's read (REFERENCE §5). */
static __always_inline void item_user_str(struct rec_ctx *r, __u16 type, __u8 index,
					  const void *uptr)
{
	struct vigil_item_hdr *h = item_begin(r, VIGIL_STR_MAX);
	__u8 flags = VIGIL_ITEM_F_USER_MEM;
	__u32 len = 0;
	long n;

	if (!h)
		return;
	n = bpf_probe_read_user_str((void *)(h + 1), VIGIL_STR_MAX, uptr);
	if (n < 0) {
		flags |= VIGIL_ITEM_F_FAULT;
		vigil_count(r->pc, VIGIL_CNT_READ_FAULT);
	} else if (n > 0) {
		len = n - 1; /* drop the NUL */
		if (n >= VIGIL_STR_MAX) {
			flags |= VIGIL_ITEM_F_TRUNCATED;
			vigil_count(r->pc, VIGIL_CNT_TRUNC_STRING);
		}
	}
	item_end(r, h, type, index, flags, len);
}

/* Raw bytes from user memory (sockaddr). */
static __always_inline void item_user_bytes(struct rec_ctx *r, __u16 type, const void *uptr,
					    __u64 size)
{
	struct vigil_item_hdr *h = item_begin(r, VIGIL_SOCKADDR_MAX);
	__u8 flags = VIGIL_ITEM_F_USER_MEM;
	__u32 len = size;

	if (!h)
		return;
	if (size > VIGIL_SOCKADDR_MAX) {
		len = VIGIL_SOCKADDR_MAX;
		flags |= VIGIL_ITEM_F_TRUNCATED;
	}
	if (bpf_probe_read_user((void *)(h + 1), len & (2 * VIGIL_SOCKADDR_MAX - 1), uptr)) {
		flags |= VIGIL_ITEM_F_FAULT;
		vigil_count(r->pc, VIGIL_CNT_READ_FAULT);
		len = 0;
	}
	item_end(r, h, type, 0, flags, len);
}

/* Emit the record built in r->s->rec; `hdr_len` bytes. */
static __always_inline void rec_output(struct rec_ctx *r, __u32 counter_ok)
{
	__u32 len = r->off;

	if (len > VIGIL_REC_MAX)
		len = VIGIL_REC_MAX;
	if (bpf_ringbuf_output(&vigil_events, r->s->rec, len, 0))
		vigil_count(r->pc, VIGIL_CNT_DROP_RINGBUF);
	else
		vigil_count(r->pc, counter_ok);
}

#endif
