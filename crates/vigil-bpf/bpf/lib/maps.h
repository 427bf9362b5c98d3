/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Every map of the object. Names are ABI too: the loader looks them up by name. */
#ifndef VIGIL_MAPS_H
#define VIGIL_MAPS_H

#include "common.h"

/* Per-CPU build area. An ARRAY indexed by CPU (the loader sizes it to the possible CPUs)
 * because per-CPU array values are limited to 32 KiB. Programs on the syscall tracepoints
 * run with preemption disabled, so one CPU's area has one user at a time. */
#define VIGIL_PATHBUF_SLACK 512
/* State of one rule-index walk (lib/rules.h). */
struct rx_state {
	__u32 cur[VIGIL_RX_MAX_SOURCES];
	__u32 end[VIGIL_RX_MAX_SOURCES];
	__u32 head[VIGIL_RX_MAX_SOURCES];
	__u32 found[VIGIL_MAX_RULESETS];
	__u64 pending;
	__u64 record;
	__u64 undecided;
	__u32 nsrc;
	__u32 total;
	__u32 last;
	__u32 best;
	__u32 at;
	__u32 pad;
	__u32 gen;
	__u32 nr;
	__u32 arch;
	__u32 success;
	__s64 ret;
	__u64 args[4];
	struct vigil_ctl caps;
	/* Current candidate's program walk. */
	__u32 insn_base;
	__u32 insn_len;
	__u32 verdict;
	__u32 ngroups;
	__u64 runs;
};

struct vigil_scratch {
	struct rx_state rx;
	__u8 rec[VIGIL_REC_MAX + VIGIL_STR_MAX + 256];
	__u8 path[VIGIL_STR_MAX + VIGIL_PATHBUF_SLACK];
	__u8 chunk[sizeof(struct vigil_argv_chunk) + VIGIL_ARGV_CHUNK + 256];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} vigil_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_ctl);
} vigil_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NR_GEN);
	__type(key, __u32);
	__type(value, struct vigil_genconf);
} vigil_genconf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NR_GEN * VIGIL_NR_ARCH);
	__type(key, __u32);
	__type(value, struct vigil_sysmask);
} vigil_sysmask SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NR_ARCH * VIGIL_MAX_SYSCALL);
	__type(key, __u32);
	__type(value, struct vigil_sysdesc);
} vigil_sysdesc SEC(".maps");

/* Excluded thread groups (vigil's own process): tgid -> flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} vigil_excl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_percpu);
} vigil_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_scratch);
} vigil_scratch SEC(".maps");

/* Compiled rule index, double-buffered: entry i of generation g at g * cap + i (caps in
 * vigil_ctl; the loader sizes the maps to 2 * cap). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct vigil_rx_rule);
} vigil_rx_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct vigil_rx_insn);
} vigil_rx_insns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} vigil_rx_cands SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct vigil_sysmask);
} vigil_rx_masks SEC(".maps");

/* Per generation, arch and syscall: the exit table's per-syscall candidate list. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NR_GEN * VIGIL_NR_ARCH * VIGIL_MAX_SYSCALL);
	__type(key, __u32);
	__type(value, struct vigil_rx_list);
} vigil_rx_lists SEC(".maps");

/* Per generation and arch: syscalls left undecided to user space (watches, exe, dir, ...). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NR_GEN * VIGIL_NR_ARCH);
	__type(key, __u32);
	__type(value, struct vigil_sysmask);
} vigil_rx_umask SEC(".maps");

/* The index buckets (both generations; the key carries the generation). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, struct vigil_rx_key);
	__type(value, struct vigil_rx_list);
} vigil_rx_index SEC(".maps");

static __always_inline void vigil_count(struct vigil_percpu *pc, __u32 idx)
{
	if (pc && idx < VIGIL_NR_COUNTERS)
		pc->counters[idx]++;
}

#endif
