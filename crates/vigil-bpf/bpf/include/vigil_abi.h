/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * vigil's kernel/user ABI: the single source of truth. The Rust mirror in
 * crates/vigil-abi/src/generated.rs is generated from this file by `cargo xtask abi`;
 * a test checks every struct against the BTF of the compiled object.
 *
 * The generator reads a C subset, so keep to it:
 *   - `#define VIGIL_NAME <integer literal>` (decimal or hex);
 *   - `enum vigil_x { VIGIL_X_A = <literal>, ... };` with an explicit value on every entry
 *     (numbers are stable: never renumber, only add);
 *   - `struct vigil_x { ... };` whose fields are __u8/__u16/__u32/__u64/__s32/__s64, fixed
 *     arrays of those (size a literal or a #define above), or another vigil struct;
 *     no implicit padding (add explicit `padN` fields; the generator refuses holes);
 *   - a comment right above an item becomes its Rust doc comment.
 * The includer provides the __uN/__sN types (vmlinux.h in BPF).
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

/* Bumped on every incompatible change; the loader refuses an object with another value. */
#define VIGIL_ABI_VERSION 2

/* Architectures: index into per-arch maps. */
#define VIGIL_ARCH_IDX_X86_64 0
#define VIGIL_ARCH_IDX_I386 1
#define VIGIL_NR_ARCH 2
/* AUDIT_ARCH_* values written in records. */
#define VIGIL_AUDIT_ARCH_X86_64 0xc000003e
#define VIGIL_AUDIT_ARCH_I386 0x40000003

/* Syscall numbers 0..VIGIL_MAX_SYSCALL-1 are indexable per arch (the kernel's audit mask
 * size, AUDIT_BITMASK_SIZE * 32, as vigil-rules' compiled index). */
#define VIGIL_MAX_SYSCALL 2048
#define VIGIL_SYSMASK_WORDS 32
/* Rule sets (tenants) judged in one pass: one bit each in vigil_syscall.rulesets. */
#define VIGIL_MAX_RULESETS 64
/* Rule generations: the writer fills the inactive one, then flips vigil_ctl.gen. */
#define VIGIL_NR_GEN 2

/* Size limits. */
#define VIGIL_REC_MAX 32768
#define VIGIL_STR_MAX 4096
#define VIGIL_PATH_DEPTH_MAX 64
#define VIGIL_ARGV_CHUNK 16384
#define VIGIL_ARGV_CHUNKS_MAX 8
#define VIGIL_SOCKADDR_MAX 128
#define VIGIL_COMM_LEN 16
#define VIGIL_TTY_LEN 32
#define VIGIL_NR_COUNTERS 24

/* Reserved ranges of record kinds. */
#define VIGIL_KIND_SYSCALL_FIRST 1
#define VIGIL_KIND_SYSCALL_LAST 99
#define VIGIL_KIND_URING_FIRST 100
#define VIGIL_KIND_URING_LAST 199
#define VIGIL_KIND_CONTROL_FIRST 200
#define VIGIL_KIND_CONTROL_LAST 299

/* Kind of a ring-buffer record (vigil_rec_hdr.kind). */
enum vigil_kind {
	/* One syscall event: struct vigil_syscall followed by items. */
	VIGIL_KIND_SYSCALL = 1,
	/* A piece of an execve's argv (struct vigil_argv_chunk + bytes); precedes its SYSCALL. */
	VIGIL_KIND_ARGV_CHUNK = 2,
};

/* Type of an item that follows the fixed part of a SYSCALL record. */
enum vigil_item_type {
	/* String: executable path (mm->exe_file, dentry walk). */
	VIGIL_ITEM_EXE = 1,
	/* String: working directory (fs->pwd, dentry walk). */
	VIGIL_ITEM_CWD = 2,
	/* struct vigil_path: the kernel object of path item `index`. */
	VIGIL_ITEM_PATH = 3,
	/* String: the name argument of path item `index`, read from user memory at exit. */
	VIGIL_ITEM_PATH_NAME = 4,
	/* String: path of the object of path item `index`, by dentry walk. */
	VIGIL_ITEM_PATH_FULL = 5,
	/* Bytes: the socket address argument, read from user memory at exit. */
	VIGIL_ITEM_SOCKADDR = 6,
	/* struct vigil_argv_info: how much argv the ARGV_CHUNK records carry. */
	VIGIL_ITEM_ARGV = 7,
	/* struct vigil_obj_pid: target of kill/tkill/tgkill. */
	VIGIL_ITEM_OBJ_PID = 8,
	/* struct vigil_rule_match[]: per decided rule set, the compiled rule id that decided. */
	VIGIL_ITEM_RULES = 9,
};

/* How the exit hook captures a syscall (vigil_sysdesc.class). */
enum vigil_sys_class {
	VIGIL_CLASS_NONE = 0,
	/* Open family: name in arg0, object = the returned fd. */
	VIGIL_CLASS_OPEN = 1,
	/* Path names in arg0 (and arg1 if not 255), user memory. */
	VIGIL_CLASS_PATH = 2,
	/* File descriptor in arg0: its object. */
	VIGIL_CLASS_FD = 3,
	/* execve/execveat: argv and the new executable. */
	VIGIL_CLASS_EXEC = 4,
	/* sockaddr pointer in arg0, its length in arg1. */
	VIGIL_CLASS_SOCKADDR = 5,
	/* struct msghdr pointer in arg0 (msg_name). */
	VIGIL_CLASS_SOCKADDR_MSG = 6,
	/* Signal target: pid in arg0, signal in arg1. */
	VIGIL_CLASS_KILL = 7,
};

/* Per-CPU counters (vigil_percpu.counters index). Summed over CPUs by the loader. */
enum vigil_counter {
	/* Syscalls that passed the per-syscall bitmap. */
	VIGIL_CNT_CANDIDATES = 0,
	/* Candidates from an excluded task (vigil itself, never rules). */
	VIGIL_CNT_EXCLUDED = 1,
	/* Candidates no ruleset wanted. */
	VIGIL_CNT_FILTERED = 2,
	/* Events some ruleset wants. */
	VIGIL_CNT_MATCHED = 3,
	/* SYSCALL records written to the ring buffer. */
	VIGIL_CNT_EMITTED = 4,
	/* Records lost: ring buffer full. */
	VIGIL_CNT_DROP_RINGBUF = 5,
	/* Items left out because the record reached VIGIL_REC_MAX. */
	VIGIL_CNT_DROP_TOO_BIG = 6,
	/* Strings cut at VIGIL_STR_MAX. */
	VIGIL_CNT_TRUNC_STRING = 7,
	/* Path walks stopped at VIGIL_PATH_DEPTH_MAX or VIGIL_STR_MAX. */
	VIGIL_CNT_TRUNC_PATH = 8,
	/* argv cut at VIGIL_ARGV_CHUNKS_MAX * VIGIL_ARGV_CHUNK. */
	VIGIL_CNT_TRUNC_ARGV = 9,
	/* Reads of user memory that faulted. */
	VIGIL_CNT_READ_FAULT = 10,
	/* ARGV_CHUNK records lost: ring buffer full. */
	VIGIL_CNT_DROP_ARGV = 11,
	/* Internal: per-CPU scratch buffer missing. */
	VIGIL_CNT_NO_SCRATCH = 12,
	/* Internal: reserved (syscall numbers beyond VIGIL_MAX_SYSCALL are never candidates). */
	VIGIL_CNT_BAD_NR = 13,
	/* Events left (in part) to user space: a candidate needs a field BPF does not evaluate. */
	VIGIL_CNT_UNDECIDED = 14,
	/* Rule candidates whose program ran (the rule index's work). */
	VIGIL_CNT_RULES_RUN = 15,
};

/* vigil_item_hdr.flags */
#define VIGIL_ITEM_F_TRUNCATED 1
#define VIGIL_ITEM_F_USER_MEM 2
#define VIGIL_ITEM_F_FAULT 4
/* The walk did not reach the task's root (unreachable or too deep). */
#define VIGIL_ITEM_F_PARTIAL 8

/* vigil_syscall.flags */
#define VIGIL_SC_F_COMPAT 1
#define VIGIL_SC_F_ITEMS_DROPPED 2

/* vigil_task.flags */
#define VIGIL_TASK_F_IO_WORKER 1
#define VIGIL_TASK_F_KTHREAD 2

/* vigil_path.flags */
#define VIGIL_PATH_F_INODE 1
#define VIGIL_PATH_F_FROM_FD 2
#define VIGIL_PATH_F_EXE 4

/* vigil_argv_info.flags */
#define VIGIL_ARGV_F_TRUNCATED 1
#define VIGIL_ARGV_F_FAULT 2

/* vigil_obj_pid.flags: the target identity fields are valid. */
#define VIGIL_OBJ_F_FOUND 1

/* vigil_genconf.flags */
#define VIGIL_CONF_F_TGID 1
#define VIGIL_CONF_F_UID 2
/* Judge with the compiled rule index (vigil_rx_* maps) instead of tgid/uid. */
#define VIGIL_CONF_F_RULES 4
/* Every candidate is undecided (the index uses what BPF cannot gather): user space judges. */
#define VIGIL_CONF_F_ALL_UNDECIDED 8
/* Emit every candidate, wanted or not (tests: compare BPF with user space). */
#define VIGIL_CONF_F_EMIT_ALL 16

/* Compiled rule index (vigil-rules' layout, docs/design/rule-index.md). */
#define VIGIL_RX_NONE 0xffffffff
#define VIGIL_RX_SEL_ANY 0xffffffff
/* Rule actions. */
#define VIGIL_RX_ACTION_NEVER 0
#define VIGIL_RX_ACTION_ALWAYS 2
/* Most candidate sources merged per event (syscall list, index buckets, residual). */
#define VIGIL_RX_MAX_SOURCES 32
/* Most instructions per rule program (AUDIT_MAX_FIELDS). */
#define VIGIL_RX_MAX_INSNS 64
/* Syscall masks of "-S all": numbers below this. */
#define VIGIL_RX_ALL_BELOW 2032
/* Exit table number in index keys (vigil-rules TableKind::Exit). */
#define VIGIL_RX_TABLE_EXIT 1

/* vigil_sysdesc: no argument */
#define VIGIL_ARG_NONE 255

/* Header of every ring-buffer record. */
struct vigil_rec_hdr {
	/* enum vigil_kind */
	__u16 kind;
	__u16 flags;
	/* Whole record, this header included. */
	__u32 len;
	/* (cpu << 48) | per-CPU sequence: shared by all records of one event. */
	__u64 event_id;
	/* bpf_ktime_get_tai_ns() when the event was built. */
	__u64 tai_ns;
};

/* Identity of the task that made the syscall. */
struct vigil_task {
	/* Thread group id (audit's pid). */
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 euid;
	__u32 suid;
	__u32 fsuid;
	__u32 gid;
	__u32 egid;
	__u32 sgid;
	__u32 fsgid;
	/* loginuid; 0xffffffff when unset. */
	__u32 auid;
	/* 0xffffffff when unset. */
	__u32 sessionid;
	__u32 pers;
	/* VIGIL_TASK_F_* */
	__u32 flags;
	__u32 pad0;
	__u64 cgroup_id;
	/* task->start_boottime: with pid, identifies the process across pid reuse. */
	__u64 start_boottime;
	__u8 comm[VIGIL_COMM_LEN];
	/* tty name ("pts0"), empty when none. */
	__u8 tty[VIGIL_TTY_LEN];
};

/* Fixed part of a SYSCALL record; items (vigil_item_hdr + payload, 8-aligned) follow. */
struct vigil_syscall {
	struct vigil_rec_hdr hdr;
	/* AUDIT_ARCH_* */
	__u32 arch;
	/* Syscall number (orig_ax). */
	__u32 nr;
	__u64 args[6];
	__s64 ret;
	/* Bit i: ruleset i wants this event. */
	__u64 rulesets;
	/* Bit i: ruleset i must be judged in user space (see VIGIL_CNT_UNDECIDED). */
	__u64 undecided;
	__u16 nitems;
	/* VIGIL_SC_F_* */
	__u16 flags;
	__u32 pad0;
	struct vigil_task task;
};

/* Header of an item inside a SYSCALL record. */
struct vigil_item_hdr {
	/* enum vigil_item_type */
	__u16 type;
	/* Path item number for PATH/PATH_NAME/PATH_FULL, else 0. */
	__u8 index;
	/* VIGIL_ITEM_F_* */
	__u8 flags;
	/* Payload bytes after this header; the next item starts 8-aligned. */
	__u32 len;
};

/* A file object the syscall acted on (PATH record facts). */
struct vigil_path {
	__u64 ino;
	/* Kernel dev_t: major = dev >> 20, minor = dev & 0xfffff. */
	__u32 dev;
	__u32 rdev;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	/* Filesystem magic (sb->s_magic). */
	__u32 fs_magic;
	/* VIGIL_PATH_F_* */
	__u32 flags;
	__u32 pad0;
};

/* argv of a successful execve, sent in ARGV_CHUNK records before the SYSCALL record. */
struct vigil_argv_info {
	/* mm->arg_end - mm->arg_start */
	__u32 total_len;
	/* Bytes sent in ARGV_CHUNK records. */
	__u32 captured_len;
	/* ARGV_CHUNK records emitted: the reader checks it received them all. */
	__u32 nchunks;
	/* VIGIL_ARGV_F_* */
	__u32 flags;
};

/* One piece of argv (NUL-separated strings); len bytes follow. */
struct vigil_argv_chunk {
	struct vigil_rec_hdr hdr;
	__u32 index;
	__u32 offset;
	__u32 len;
	__u32 flags;
};

/* Target of a signal. */
struct vigil_obj_pid {
	/* pid argument as given (may be negative: a process group). */
	__s32 pid;
	__u32 sig;
	/* VIGIL_OBJ_F_* */
	__u32 flags;
	__u32 auid;
	__u32 uid;
	__u32 sessionid;
	__u8 comm[VIGIL_COMM_LEN];
};

/* vigil_ctl[0]: which generation of the rule maps is live, and the capacity of each
 * per-generation half of the vigil_rx_* maps (entry i of generation g is g * cap + i). */
struct vigil_ctl {
	/* Live generation (0 or 1); read once per event. */
	__u32 generation;
	__u32 flags;
	__u32 rules_cap;
	__u32 insns_cap;
	__u32 cands_cap;
	__u32 masks_cap;
};

/* A run of rule ids in vigil_rx_cands (vigil-rules ListRef). */
struct vigil_rx_list {
	__u32 off;
	__u32 len;
};

/* vigil_rx_rules[gen * rules_cap + id]: what BPF needs of a compiled rule header. */
struct vigil_rx_rule {
	__u32 ruleset;
	/* VIGIL_RX_ACTION_* */
	__u32 action;
	__u32 insn_off;
	__u32 insn_len;
	/* Index into vigil_rx_masks, VIGIL_RX_NONE for "-S all". */
	__u32 mask;
	/* vigil-rules RULE_* bits. */
	__u32 flags;
};

/* vigil_rx_insns[gen * insns_cap + i]: one condition (vigil-rules Insn). */
struct vigil_rx_insn {
	/* Kernel AUDIT_* field number or a pseudo field. */
	__u16 field;
	/* Kernel operator order: eq ne bitmask bittest lt gt le ge. */
	__u8 op;
	__u8 flags;
	__u32 arg;
	__u64 value;
};

/* vigil_rx_index key: (table, field, generation, syscall or SEL_ANY, value). */
struct vigil_rx_key {
	__u8 table;
	__u8 field;
	__u16 generation;
	__u32 sel;
	__u64 value;
};

/* Payload element of VIGIL_ITEM_RULES. */
struct vigil_rule_match {
	__u32 ruleset;
	/* Compiled rule id (vigil-rules CompiledSet::rules index). */
	__u32 rule;
};

/* vigil_genconf[gen]: simple filter until the compiled rule index is in place. */
struct vigil_genconf {
	/* VIGIL_CONF_F_* */
	__u32 flags;
	/* Only this thread group (VIGIL_CONF_F_TGID). */
	__u32 tgid;
	/* Only this uid (VIGIL_CONF_F_UID). */
	__u32 uid;
	/* Rule sets in the compiled index (VIGIL_CONF_F_RULES). */
	__u32 nrulesets;
	/* Bitmask of rulesets reported for a match (interim filter). */
	__u64 rulesets;
	/* Exit table: IndexField bits with SEL_ANY entries, with per-syscall entries. */
	__u64 index_any;
	__u64 index_sel;
	/* Exit table residual list of each arch slot. */
	struct vigil_rx_list residual_x86_64;
	struct vigil_rx_list residual_i386;
};

/* vigil_sysmask[gen * VIGIL_NR_ARCH + arch]: syscalls some rule can match. */
struct vigil_sysmask {
	__u64 bits[VIGIL_SYSMASK_WORDS];
};

/* vigil_sysdesc[arch * VIGIL_MAX_SYSCALL + nr]: what the exit hook captures. */
struct vigil_sysdesc {
	/* enum vigil_sys_class */
	__u8 class;
	/* Argument index used by the class, VIGIL_ARG_NONE for none. */
	__u8 arg0;
	__u8 arg1;
	__u8 flags;
};

/* vigil_percpu[0], per CPU: event sequence and counters. */
struct vigil_percpu {
	__u64 seq;
	__u64 counters[VIGIL_NR_COUNTERS];
};


#endif /* VIGIL_ABI_H */
