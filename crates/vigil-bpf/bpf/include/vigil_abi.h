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
#define VIGIL_ABI_VERSION 5

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
/* Bytes of the command line kept for PROCTITLE (the kernel's MAX_PROCTITLE_AUDIT_LEN). */
#define VIGIL_PROCTITLE_MAX 128
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
	/* struct vigil_rule_match[]: per decided rule set, the compiled rule id that decided
	 * (and, flagged VIGIL_RULE_F_KEY, the rule whose keys label the event when that is
	 * another one). */
	VIGIL_ITEM_RULES = 9,
	/* __u32[]: the task's supplementary groups (sent when rules test gid=/egid=). */
	VIGIL_ITEM_GROUPS = 10,
	/* Bytes: the task's command line (mm->arg_start.., at most VIGIL_PROCTITLE_MAX), read from
	 * user memory at exit: the PROCTITLE record. Not sent with a successful execve's argv. */
	VIGIL_ITEM_PROCTITLE = 11,
	/* String: the directory (dentry walk) a relative name argument `index` is resolved
	 * from, when that is a directory descriptor rather than the working directory. */
	VIGIL_ITEM_PATH_BASE = 12,
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
	/* Candidates every rule set's task list excludes (-a never,task). */
	VIGIL_CNT_TASK_EXCLUDED = 16,
	/* Task-list walks (the per-task cache missed: new task, identity or rules changed). */
	VIGIL_CNT_TASK_WALKS = 17,
	/* Undecided events because an object could not be placed (a name BPF cannot resolve,
	 * a directory deeper than it walks). */
	VIGIL_CNT_UNDECIDED_OBJECT = 18,
	/* Supplementary groups beyond VIGIL_GROUPS_MAX (gid=/egid= left undecided). */
	VIGIL_CNT_GROUPS_TRUNC = 19,
	/* Signal targets recorded at signal_generate for OBJ_PID. */
	VIGIL_CNT_KILL_TARGETS = 20,
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
/* The open that returned the descriptor created the file (FMODE_CREATED). */
#define VIGIL_PATH_F_CREATED 8

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
/* Syscalls in vigil_rx_umask[gen][arch] are undecided (rules BPF cannot judge name them). */
#define VIGIL_CONF_F_SOME_UNDECIDED 32
/* The task list has rules: judged per task (cached in task storage) before the exit list. */
#define VIGIL_CONF_F_TASK 64
/* The inode phase (watches, path=, inode=) has rules. */
#define VIGIL_CONF_F_NAMES 128
/* Filesystem-list rules hide objects: conditions on objects are left to user space. */
#define VIGIL_CONF_F_OBJ_UNDECIDED 256
/* Rules test gid=/egid=: events carry the supplementary groups (VIGIL_ITEM_GROUPS). */
#define VIGIL_CONF_F_GROUPS 512
/* Some watched path ends with `/` (VIGIL_RXP_F_SLASH). */
#define VIGIL_CONF_F_SLASH_WATCH 1024

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
/* Table numbers in index keys (vigil-rules TableKind). */
#define VIGIL_RX_TABLE_TASK 0
#define VIGIL_RX_TABLE_EXIT 1
#define VIGIL_RX_TABLE_NAMES 2
/* Index fields of keys the loader derives from resolved paths (vigil_rx_key.field; the
 * compiled set's own fields are below 32). Values: vigil_fid_key / vigil_parent_key in
 * lib/rules_obj.h, an FNV-1a 64 hash for BASE. */
/* Inode phase: the object a watched path resolves to. */
#define VIGIL_RX_PK_OBJ 32
/* Inode phase: a watched path's parent directory and last component. */
#define VIGIL_RX_PK_PARENT 33
/* Inode phase: a watched path's last component (presence only). */
#define VIGIL_RX_PK_BASE 34
/* exe=: the executable a path resolves to. */
#define VIGIL_RX_PK_EXE_OBJ 35
/* exe=: its parent directory and last component. */
#define VIGIL_RX_PK_EXE_PARENT 36
/* A dir= operand or a directory above one (presence only). */
#define VIGIL_RX_PK_DIRANC 37
/* Supplementary groups read and compared per event. */
#define VIGIL_GROUPS_MAX 32
/* vigil_rule_match.ruleset flag: the rule whose keys label the event (inode phase). */
#define VIGIL_RULE_F_KEY 0x80000000

/* vigil_sysdesc: no argument */
#define VIGIL_ARG_NONE 255
/* vigil_sysdesc.flags: the signal target argument (arg0) is a thread id (tkill, tgkill,
 * rt_tgsigqueueinfo), not a process id. */
#define VIGIL_SYSD_F_BY_TID 1
/* vigil_sysdesc.shape (convert::layout::Shape): when the call found no child (ENOENT,
 * ENOTDIR, EEXIST; creat: any failure) its objects are the names' directories. */
#define VIGIL_SHAPE_WHOLE 0
#define VIGIL_SHAPE_PARENT 1
#define VIGIL_SHAPE_CREAT 2
#define VIGIL_SHAPE_RENAME 3
#define VIGIL_SHAPE_LINK 4
/* The first name (the link's content) is not looked up: no object. */
#define VIGIL_SHAPE_SYMLINK 5
/* vigil_sysdesc.perm: AUDIT_PERM_* classes of the syscall (exec 1, write 2, read 4,
 * attr 8) and how perm= reads the arguments instead (audit_classify_syscall). */
#define VIGIL_PERMK_OPEN 16
#define VIGIL_PERMK_OPENAT 32
#define VIGIL_PERMK_OPENAT2 64
#define VIGIL_PERMK_SOCKETCALL 128

/* vigil_rx_path.flags */
#define VIGIL_RXP_F_OBJ 1
#define VIGIL_RXP_F_PARENT 2
/* The operand ends with `/` (only a directory object named with one can equal it). */
#define VIGIL_RXP_F_SLASH 4

/* vigil_rx_sysinfo.flags */
/* Some inode-phase rule can match the syscall. */
#define VIGIL_RXSI_F_NAMES 1
/* ... and one of them has no perm= (the perm prefilter cannot skip the phase). */
#define VIGIL_RXSI_F_NAMES_NOPERM 2

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
	/* vigil_ctl.generation that judged the event (which compiled set `rulesets`,
	 * `undecided` and the RULES item refer to). */
	__u32 generation;
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
	/* Live generation; its low bit picks the half of every double-buffered map. Read once
	 * per event. The syscall loader counts it up on every swap (records carry it). */
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
	/* Task table (VIGIL_CONF_F_TASK): IndexField bits with entries, residual list. */
	__u64 task_index_any;
	struct vigil_rx_list task_residual;
	/* Inode phase (VIGIL_CONF_F_NAMES): IndexField bits with entries, residual list. */
	__u64 names_index_any;
	struct vigil_rx_list names_residual;
};

/* vigil_rx_paths key: a path operand (string id) of generation `generation & 1`. */
struct vigil_rx_pathkey {
	__u32 generation;
	__u32 str;
};

/* vigil_rx_paths value: a path operand (path=, dir=, exe=) as the loader resolved it. */
struct vigil_rx_path {
	__u64 obj_ino;
	__u64 parent_ino;
	/* FNV-1a 64 of the last component. */
	__u64 base_hash;
	/* FNV-1a 64 of the operand as the rule gives it. */
	__u64 full_hash;
	/* Kernel dev_t of the object and of its parent directory. */
	__u32 obj_dev;
	__u32 parent_dev;
	/* VIGIL_RXP_F_*: which of the two exist. */
	__u32 flags;
	__u32 pad0;
};

/* vigil_rx_sysinfo[(gen * VIGIL_NR_ARCH + arch) * VIGIL_MAX_SYSCALL + nr]. */
struct vigil_rx_sysinfo {
	/* Union of the perm= classes of the inode-phase rules that can match the syscall. */
	__u8 names_perm;
	/* VIGIL_RXSI_F_* */
	__u8 flags;
	__u16 pad0;
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
	/* Directory descriptor argument the name in arg0 / arg1 is relative to
	 * (VIGIL_ARG_NONE: the working directory). */
	__u8 dirfd0;
	__u8 dirfd1;
	/* AUDIT_PERM_* classes | VIGIL_PERMK_* */
	__u8 perm;
	/* VIGIL_SHAPE_*: which names the kernel looks up whole and which from their parent. */
	__u8 shape;
};

/* vigil_percpu[0], per CPU: event sequence and counters. */
struct vigil_percpu {
	__u64 seq;
	__u64 counters[VIGIL_NR_COUNTERS];
};

/* ==== io_uring (issue 5): record kinds 100-199, own maps and ring buffer ==== */

/* io_uring opcodes are below this (one u64 bitmap). */
#define VIGIL_URING_MAX_OPS 64
/* Policy rules per generation, conditions per policy rule. */
#define VIGIL_POL_MAX_RULES 32
#define VIGIL_POL_MAX_CONDS 8
#define VIGIL_URING_NR_COUNTERS 32

/* Kind of a record in vigil_uring_events (vigil_rec_hdr.kind). */
enum vigil_uring_kind {
	/* An op as submitted (or failed at init): struct vigil_uring_op + items. */
	VIGIL_KIND_URING_SUBMIT = 100,
	/* Its completion: struct vigil_uring_cqe + items; hdr.event_id is the SUBMIT's. */
	VIGIL_KIND_URING_COMPLETE = 101,
	/* A policy denial: struct vigil_uring_deny + items (EXE). */
	VIGIL_KIND_URING_POLICY = 102,
};

/* How an op's arguments are captured at submit (vigil_uring_opdesc.class). */
enum vigil_uring_class {
	VIGIL_UCLASS_NONE = 0,
	/* io_open.filename (OPENAT, OPENAT2); file_slot: no new fd. */
	VIGIL_UCLASS_OPEN = 1,
	/* io_unlink.filename */
	VIGIL_UCLASS_UNLINK = 2,
	/* io_mkdir.filename */
	VIGIL_UCLASS_MKDIR = 3,
	/* io_statx.filename */
	VIGIL_UCLASS_STATX = 4,
	/* io_xattr.filename (SETXATTR, GETXATTR) */
	VIGIL_UCLASS_XATTR = 5,
	/* io_rename.oldpath, newpath */
	VIGIL_UCLASS_RENAME = 6,
	/* io_link.oldpath, newpath (LINKAT, SYMLINKAT) */
	VIGIL_UCLASS_LINK = 7,
	/* async_data is a bare sockaddr_storage (CONNECT, BIND on 6.18). */
	VIGIL_UCLASS_SOCKADDR = 8,
	/* async_data is a struct io_async_msghdr; msg_name set when an address was given. */
	VIGIL_UCLASS_MSGHDR = 9,
	/* io_close.fd: the file being closed, at submit. */
	VIGIL_UCLASS_CLOSE = 10,
	/* io_accept.file_slot */
	VIGIL_UCLASS_ACCEPT = 11,
	/* io_socket.file_slot */
	VIGIL_UCLASS_SOCKET = 12,
};

/* vigil_uring_opdesc.flags */
/* The op's file (req->file) at completion. */
#define VIGIL_UOPD_F_FILE 1
/* cqe res is a new fd: its file at completion (unless a fixed slot was asked for). */
#define VIGIL_UOPD_F_NEWFD 2
/* The new fd is a socket: its peer address at completion (ACCEPT). */
#define VIGIL_UOPD_F_PEER 4
/* A path op: the submitter's working directory. */
#define VIGIL_UOPD_F_CWD 8

/* Where code ran (vigil_uring_op.ctx, vigil_uring_cqe.ctx). */
#define VIGIL_URING_CTX_INLINE 0
#define VIGIL_URING_CTX_SQPOLL 1
#define VIGIL_URING_CTX_IOWQ 2

/* vigil_uring_op.flags */
/* IOSQE_CQE_SKIP_SUCCESS: no completion is posted when the op succeeds. */
#define VIGIL_UOP_F_CQE_SKIP 1
/* The SQE named a personality: creds are the borrowed credentials. */
#define VIGIL_UOP_F_PERSONALITY 2
/* IOSQE_FIXED_FILE: fd is an index in the ring's file table. */
#define VIGIL_UOP_F_FIXED_FILE 4
/* The op failed in init (io_uring_req_failed); error holds the errno. */
#define VIGIL_UOP_F_INIT_FAILED 8
/* The ring was set up with IORING_SETUP_SQPOLL. */
#define VIGIL_UOP_F_SQPOLL_RING 16
/* The ring was created while vigil was loaded: ring_tgid is its creator. */
#define VIGIL_UOP_F_OWNER_KNOWN 32
/* The pending map was full: no completion will be joined to this op. */
#define VIGIL_UOP_F_NO_JOIN 64
/* The op carries IOSQE_ASYNC or was forced to io-wq by prep. */
#define VIGIL_UOP_F_FORCE_ASYNC 128
/* A policy rule killed the submitting process at this op. */
#define VIGIL_UOP_F_DENIED 256
/* The personality id was read from the SQE in the shared ring memory (user-writable). */
#define VIGIL_UOP_F_PERS_ID_SQE 512
/* A fixed file slot was asked for: cqe res is not an fd. */
#define VIGIL_UOP_F_FILE_SLOT 1024

/* vigil_uring_deny.what */
#define VIGIL_POL_WHAT_SQPOLL 1
#define VIGIL_POL_WHAT_PERSONALITY 2
#define VIGIL_POL_WHAT_OP 3
/* vigil_uring_deny.how */
/* bpf_send_signal(SIGKILL) to the offending process. */
#define VIGIL_POL_HOW_KILLED 1
/* The operation was refused (EPERM) by a cgroup sock_addr hook. */
#define VIGIL_POL_HOW_PREVENTED 2
/* The operation was refused by a BPF LSM hook. */
#define VIGIL_POL_HOW_LSM 3
/* vigil_uring_deny.hook */
#define VIGIL_POL_HOOK_CREATE 1
#define VIGIL_POL_HOOK_SUBMIT 2
#define VIGIL_POL_HOOK_CONNECT4 3
#define VIGIL_POL_HOOK_CONNECT6 4
#define VIGIL_POL_HOOK_BIND4 5
#define VIGIL_POL_HOOK_BIND6 6
#define VIGIL_POL_HOOK_SENDMSG4 7
#define VIGIL_POL_HOOK_SENDMSG6 8
#define VIGIL_POL_HOOK_LSM_SQPOLL 9
#define VIGIL_POL_HOOK_LSM_CREDS 10
#define VIGIL_POL_HOOK_LSM_SOCKET 11

/* vigil_pol_rule.flags */
/* Only SQPOLL rings (uring_sqpoll=1); with VIGIL_POL_F_CREATE also their creation. */
#define VIGIL_POL_F_SQPOLL 1
/* Only ops with a personality (uring_personality=1). */
#define VIGIL_POL_F_PERSONALITY 2
/* The rule forbids creating the ring (uring_sqpoll=1 without -S). */
#define VIGIL_POL_F_CREATE 4
/* Only rings that are not SQPOLL (uring_sqpoll=0). */
#define VIGIL_POL_F_NOT_SQPOLL 8
/* Only ops without a personality (uring_personality=0). */
#define VIGIL_POL_F_NOT_PERSONALITY 16
/* Socket ops of the rule are refused by the cgroup hooks instead of killing. */
#define VIGIL_POL_F_CGROUP 32

/* vigil_uring_conf.flags (VIGIL_CONF_F_TGID / VIGIL_CONF_F_UID as vigil_genconf). */
/* Policy: cgroup sock_addr hooks are attached (socket ops are prevented there). */
#define VIGIL_UCONF_F_CGROUP 256
/* Policy: LSM hooks are attached (creation and personalities are refused there). */
#define VIGIL_UCONF_F_LSM 512

/* Pseudo fields of policy conditions besides the kernel's AUDIT_* numbers. */
/* exe: value = inode, arg = kernel dev_t of the rule's executable. */
#define VIGIL_POL_FIELD_EXE 112
#define VIGIL_POL_FIELD_CONTID 1000

/* Credentials (kuid/kgid values). */
struct vigil_creds {
	__u32 uid;
	__u32 euid;
	__u32 suid;
	__u32 fsuid;
	__u32 gid;
	__u32 egid;
	__u32 sgid;
	__u32 fsgid;
};

/* vigil_uring_rings value (key: the kernel's ring pointer, never sent to user space). */
struct vigil_uring_ring {
	/* vigil's ring id: 1, 2, ... in creation order (or first sight). */
	__u64 id;
	/* Creator's thread group and start time (pid reuse). */
	__u32 tgid;
	/* IORING_SETUP_* */
	__u32 setup_flags;
	__u64 start_boottime;
	/* Creator's uid. */
	__u32 uid;
	/* VIGIL_UOP_F_OWNER_KNOWN when recorded at io_uring_create. */
	__u32 flags;
};

/* An io_uring op at submit; items (vigil_item_hdr + payload) follow. */
struct vigil_uring_op {
	struct vigil_rec_hdr hdr;
	/* vigil ring id (vigil_uring_ring.id). */
	__u64 ring;
	__u64 user_data;
	/* REQ_F_* at submit. */
	__u64 req_flags;
	/* OPENAT/OPENAT2: open_how.flags; MKDIRAT/OPENAT: mode in `mode`. */
	__u64 open_flags;
	__u32 opcode;
	/* The SQE's fd (fixed-table index with VIGIL_UOP_F_FIXED_FILE), or CLOSE's fd; -1 none. */
	__s32 fd;
	/* dfd of path ops (AT_FDCWD = -100); RENAMEAT/LINKAT: old_dfd. */
	__s32 dfd;
	/* Init failure (VIGIL_UOP_F_INIT_FAILED): the negative errno. */
	__s32 error;
	__u32 mode;
	/* VIGIL_UOP_F_* */
	__u32 flags;
	/* VIGIL_URING_CTX_* of the submitting context. */
	__u32 ctx;
	/* Personality id (0: none or unknown). */
	__u32 personality;
	/* Ring creator's thread group (0: unknown). */
	__u32 ring_tgid;
	/* Policy rule that denied the op (VIGIL_UOP_F_DENIED). */
	__u32 deny_rule;
	__u16 nitems;
	__u16 pad0;
	__u32 pad1;
	/* Borrowed credentials (VIGIL_UOP_F_PERSONALITY). */
	struct vigil_creds creds;
	/* The submitter; for SQPOLL rings the SQPOLL thread, whose thread group is the
	 * creator's. comm is the thread group leader's when the submitter is an io thread. */
	struct vigil_task task;
};

/* vigil_uring_cqe.vflags */
/* Item 0 (the op's file, req->file) carries its inode facts but no PATH_FULL: the path went
 * with an earlier completion of the same file_ref, inode and thread group (user space keeps
 * it). */
#define VIGIL_UCQE_F_PATH_CACHED 1

/* Completion of an op; hdr.event_id is the event_id of its SUBMIT record. */
struct vigil_uring_cqe {
	struct vigil_rec_hdr hdr;
	__u64 ring;
	__u64 user_data;
	/* Opaque id of the op's file (item 0), for VIGIL_UCQE_F_PATH_CACHED; 0 for none. */
	__u64 file_ref;
	__s32 res;
	__u32 cflags;
	/* VIGIL_URING_CTX_* of the context that posted the completion. */
	__u32 ctx;
	/* Thread that posted it. */
	__u32 tid;
	__u32 opcode;
	/* VIGIL_UCQE_F_* */
	__u32 vflags;
	__u16 nitems;
	__u16 flags;
	__u32 pad0;
};

/* A policy denial (VIGIL_KIND_URING_POLICY); items: EXE. */
struct vigil_uring_deny {
	struct vigil_rec_hdr hdr;
	__u64 ring;
	__u64 user_data;
	/* Index of the policy rule in the live policy. */
	__u32 rule;
	/* VIGIL_POL_WHAT_* */
	__u32 what;
	/* VIGIL_POL_HOW_* */
	__u32 how;
	/* VIGIL_POL_HOOK_* */
	__u32 hook;
	/* Opcode (VIGIL_URING_MAX_OPS for a ring creation). */
	__u32 opcode;
	/* bpf_send_signal's return value (VIGIL_POL_HOW_KILLED). */
	__s32 signal_ret;
	/* VIGIL_URING_CTX_* of the context the denial happened in. */
	__u32 ctx;
	/* Personality id (VIGIL_POL_WHAT_PERSONALITY). */
	__u32 personality;
	__u16 nitems;
	__u16 pad0;
	__u32 pad1;
	/* Borrowed credentials (VIGIL_POL_WHAT_PERSONALITY). */
	struct vigil_creds creds;
	struct vigil_task task;
};

/* vigil_uring_opdesc[opcode]: how the op is captured (filled by the loader). */
struct vigil_uring_opdesc {
	/* enum vigil_uring_class */
	__u8 class;
	/* VIGIL_UOPD_F_* */
	__u8 flags;
	__u16 pad0;
};

/* vigil_uring_pending value (key: the kernel's request pointer), submit to completion. */
struct vigil_uring_pending {
	__u64 event_id;
	__u64 user_data;
	__u64 ring;
	/* Submit time (bpf_ktime_get_tai_ns): user space sweeps entries never completed. */
	__u64 tai_ns;
	__u32 opcode;
	/* VIGIL_UOP_F_* of the op. */
	__u32 flags;
};

/* vigil_uring_ctl[0]: live generation of vigil_uring_conf / vigil_pol_rules. */
struct vigil_uring_ctl {
	__u32 generation;
	__u32 flags;
};

/* vigil_uring_conf[gen]: what to audit and the policy's summary. */
struct vigil_uring_conf {
	/* Audited opcodes (bit n: opcode n): the O(1) reject at submit. */
	__u64 ops;
	/* Opcodes whose completions may have a pending entry: ops of this and the previous
	 * generation (an op submitted before a swap still completes after it). */
	__u64 join_ops;
	/* Opcodes the submit program looks at: ops and every pol_*ops (its O(1) reject). */
	__u64 submit_ops;
	/* Opcodes a policy rule may deny at submit: rules without a ring or personality
	 * condition; rules for ops with a personality; rules for ops on SQPOLL rings. */
	__u64 pol_ops;
	__u64 pol_pers_ops;
	__u64 pol_sqpoll_ops;
	/* Bitmask of rule sets reported for a match (interim filter). */
	__u64 rulesets;
	/* VIGIL_CONF_F_TGID / VIGIL_CONF_F_UID / VIGIL_UCONF_F_* */
	__u32 flags;
	__u32 tgid;
	__u32 uid;
	/* Policy rules in vigil_pol_rules for this generation. */
	__u32 npol;
	/* Some rule has VIGIL_POL_F_CREATE. */
	__u32 pol_create;
	__u32 pad0;
};

/* vigil_pol_rules[gen * VIGIL_POL_MAX_RULES + i]: one deny rule. Condition k is
 * (field[k], op[k], arg[k], value[k]): field an AUDIT_* number or VIGIL_POL_FIELD_*, op in
 * the kernel's internal order (eq ne bitmask bittest lt gt le ge). */
struct vigil_pol_rule {
	/* Opcodes it denies at submit (bit n: opcode n). */
	__u64 ops;
	/* VIGIL_POL_F_* */
	__u32 flags;
	__u32 nconds;
	__u64 value[VIGIL_POL_MAX_CONDS];
	__u32 arg[VIGIL_POL_MAX_CONDS];
	__u16 field[VIGIL_POL_MAX_CONDS];
	__u8 op[VIGIL_POL_MAX_CONDS];
};

/* vigil_uring_percpu[0], per CPU: event sequence and counters. */
struct vigil_uring_percpu {
	__u64 seq;
	__u64 counters[VIGIL_URING_NR_COUNTERS];
};

/* Per-CPU counters of the io_uring programs (vigil_uring_percpu.counters index). Item-level
 * losses (record too big, truncated strings and walks, read faults) are counted by the shared
 * item helpers in the io_uring instance's own vigil_percpu map (enum vigil_counter). */
enum vigil_uring_counter {
	/* Submits that passed the opcode bitmaps (audit or policy). */
	VIGIL_UCNT_CANDIDATES = 0,
	/* Candidates from an excluded thread group. */
	VIGIL_UCNT_EXCLUDED = 1,
	/* Candidates the interim filter dropped. */
	VIGIL_UCNT_FILTERED = 2,
	/* SUBMIT records written. */
	VIGIL_UCNT_EMITTED = 3,
	/* COMPLETE records written. */
	VIGIL_UCNT_COMPLETED = 4,
	/* SUBMIT records lost: ring buffer full. */
	VIGIL_UCNT_DROP_SUBMIT = 5,
	/* COMPLETE records lost: ring buffer full. */
	VIGIL_UCNT_DROP_COMPLETE = 6,
	/* Pending map full: an op's completion cannot be joined (SUBMIT flagged NO_JOIN). */
	VIGIL_UCNT_PENDING_FULL = 7,
	/* A completion whose pending entry belonged to another op (request reused). */
	VIGIL_UCNT_PENDING_MISMATCH = 8,
	/* Internal: scratch area missing. */
	VIGIL_UCNT_NO_SCRATCH = 9,
	/* Rings seen at io_uring_create. */
	VIGIL_UCNT_RINGS_CREATED = 10,
	/* Rings first seen at submit (created before vigil was loaded). */
	VIGIL_UCNT_RINGS_INFERRED = 11,
	/* Ring map insert failed. */
	VIGIL_UCNT_RINGS_FULL = 12,
	/* Policy: processes killed. */
	VIGIL_UCNT_DENY_KILL = 13,
	/* Policy: operations refused by a cgroup hook. */
	VIGIL_UCNT_DENY_PREVENT = 14,
	/* Policy: operations refused by an LSM hook. */
	VIGIL_UCNT_DENY_LSM = 15,
	/* POLICY records lost: ring buffer full. */
	VIGIL_UCNT_DROP_POLICY = 16,
	/* Ops that failed in init (io_uring_req_failed). */
	VIGIL_UCNT_INIT_FAILED = 17,
	/* bpf_send_signal refused. */
	VIGIL_UCNT_KILL_FAILED = 18,
	/* Completions with a pending entry (joined). */
	VIGIL_UCNT_JOINED = 19,
};

#endif /* VIGIL_ABI_H */
