/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Includes and small helpers shared by every vigil program. */
#ifndef VIGIL_COMMON_H
#define VIGIL_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil_abi.h"

#ifndef READ_ONCE
#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#endif

/* x86 thread_info.status bit: the task is in a 32-bit syscall. */
#define VIGIL_TS_COMPAT 0x0002
/* task->flags bits (include/linux/sched.h). */
#define VIGIL_PF_IO_WORKER 0x00000010
#define VIGIL_PF_KTHREAD 0x00200000
/* auxv tag of the exec'd file name (include/uapi/linux/auxvec.h). */
#define VIGIL_AT_EXECFN 31

#endif
