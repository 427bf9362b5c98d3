/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Every map of the object. Names are ABI too: the loader looks them up by name. */
#ifndef VIGIL_MAPS_H
#define VIGIL_MAPS_H

#include "common.h"

/* Per-CPU build area. An ARRAY indexed by CPU (the loader sizes it to the possible CPUs)
 * because per-CPU array values are limited to 32 KiB. Programs on the syscall tracepoints
 * run with preemption disabled, so one CPU's area has one user at a time. */
#define VIGIL_PATHBUF_SLACK 512

/* Per sending task: the first target of the signal its kill-family syscall generated
 * (progs/signal.c), taken by the syscall's exit for OBJ_PID. */
struct sig_target {
	__u32 valid;
	__u32 sig;
	struct vigil_obj_pid obj;
};

/* Objects of one event as the rule index sees them (lib/rules_obj.h). */
#define RX_MAX_OBJS 2
#define RX_MAX_ANC 32
#define RX_MAX_PREFIX 16

/* rx_obj.kind */
#define RXO_NONE 0
/* An open file: inode facts and its dentry. */
#define RXO_FILE 1
/* A name argument only: no inode (the facts user space sees: none). */
#define RXO_NAME 2
/* The name an exec used (AT_EXECFN) and the new executable's inode. */
#define RXO_EXEC 3

/* rx_obj.flags: how the object's name can be placed. */
/* No usable name (the read faulted): path conditions do not hold. */
#define RXO_F_NOPATH 1
/* Absolute and normalised: full_hash and prefix[]. */
#define RXO_F_ABS 2
/* One component, relative to the base directory. */
#define RXO_F_REL1 4
/* Several components relative to the base directory, none `.` or `..`. */
#define RXO_F_RELN 8
/* BPF cannot place it (`.`, `..`, `//`, a trailing `/`, too long). */
#define RXO_F_OPAQUE 16
/* anc[] holds the object's (FILE) or base directory's (REL*) ancestors, self first. */
#define RXO_F_ANC 32
/* The ancestor walk or prefix[] stopped before the root. */
#define RXO_F_ANC_TRUNC 64
/* base_dev/base_ino and the base dentry are known. */
#define RXO_F_BASE 128
/* The call found no child: the object is the name's directory (a name ending in `/`). */
#define RXO_F_PARENTOF 256

struct rx_obj {
	__u32 kind;
	__u32 flags;
	__u64 ino;
	__u32 dev;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 rdev;
	__u32 pdev;
	__u64 pino;
	/* FNV-1a 64 of the last component (FILE: d_name). */
	__u64 name_hash;
	/* FNV-1a 64 of the whole name (ABS). */
	__u64 full_hash;
	__u64 base_ino;
	__u32 base_dev;
	__u32 nprefix;
	__u32 nanc;
	__u32 pad;
	/* Where an ancestor walk starts (FILE: the object; REL*: the base directory). */
	__u64 dentry;
	__u64 vfsmnt;
	__u64 prefix[RX_MAX_PREFIX];
	__u64 anc_ino[RX_MAX_ANC];
	__u32 anc_dev[RX_MAX_ANC];
};

/* The task's executable (exe=). */
struct rx_exe {
	__u32 ok;
	__u32 dev;
	__u64 ino;
	__u32 pdev;
	__u32 pad;
	__u64 pino;
	__u64 name_hash;
};

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
	/* a0..a5 (and two zeros, so an index masked with 7 stays inside). */
	__u64 args[8];
	struct vigil_ctl caps;
	/* Current candidate's program walk. */
	__u32 insn_base;
	__u32 insn_len;
	__u32 verdict;
	__u32 ngroups;
	__u64 runs;
	/* RX_PHASE_*: task list, exit list, inode phase. */
	__u32 phase;
	/* Inode phase: the object judged. */
	__u32 cur_obj;
	/* The walk has a syscall context (not the task list). */
	__u32 in_syscall;
	/* RXF_*: facts gathered so far. */
	__u32 facts;
	/* Current candidate: kinds of conditions deferred to the second pass (RXD_*). */
	__u32 deferred;
	/* 1: cheap conditions; 2: the deferred ones. */
	__u32 pass;
	__u32 nobj;
	/* AUDIT_PERM_* classes the event matches (RX_PERM_UNKNOWN: openat2). */
	__u32 ev_perm;
	/* Socket address family, -1 when none. */
	__s32 saddr_fam;
	/* vigil_genconf.flags of the live generation. */
	__u32 conf_flags;
	__u32 gen_seq;
	/* The inode phase ran (first[] is valid). */
	__u32 names_ran;
	/* The task list was walked (its cache missed). */
	__u32 task_walked;
	/* An object could not be placed (counted once per event). */
	__u32 obj_undecided;
	/* RULES item entries written. */
	__u32 nmatch;
	/* Task list: rule sets its never / always rules decided. */
	__u64 task_never;
	__u64 task_always;
	__u32 groups[VIGIL_GROUPS_MAX];
	/* Exit list result, before the inode phase (its limit per rule set). */
	__u32 first[VIGIL_MAX_RULESETS];
	struct vigil_sysdesc desc;
	struct rx_exe exe;
	struct rx_obj objs[RX_MAX_OBJS];
};

struct vigil_scratch {
	struct rx_state rx;
	/* This syscall's signal target, taken from vigil_sig_target. */
	struct sig_target sig;
	/* A name read for judging, and a kernel name being hashed. */
	__u8 name[VIGIL_STR_MAX + 64];
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

/* Per generation, arch and syscall: what the inode-phase prefilter needs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_NR_GEN * VIGIL_NR_ARCH * VIGIL_MAX_SYSCALL);
	__type(key, __u32);
	__type(value, struct vigil_rx_sysinfo);
} vigil_rx_sysinfo SEC(".maps");

/* Path operands resolved by the loader (both generations; the key carries it). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, struct vigil_rx_pathkey);
	__type(value, struct vigil_rx_path);
} vigil_rx_paths SEC(".maps");

/* Per task: the task list's verdict, valid for one generation and identity. */
#define RX_TASK_DECIDED_MAX 8
struct rx_task_cache {
	__u32 generation;
	__u32 auid;
	__u32 sessionid;
	__u32 pers;
	__u64 cred;
	__u64 exe;
	__u64 never;
	__u64 always;
	__u64 undecided;
	__u32 valid;
	__u32 ndecided;
	struct vigil_rule_match decided[RX_TASK_DECIDED_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rx_task_cache);
} vigil_task_rx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sig_target);
} vigil_sig_target SEC(".maps");

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
