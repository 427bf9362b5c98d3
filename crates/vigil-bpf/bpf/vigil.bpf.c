/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* vigil's BPF object: one compilation unit; each hook family lives in progs/. */
#include "lib/common.h"
#include "vigil_abi_anchor.h"

/* The loader reads this (symbol in .rodata) and refuses an object built for another ABI. */
const volatile __u32 vigil_abi_version = VIGIL_ABI_VERSION;

#include "progs/syscall.c"
#include "progs/signal.c"
#include "progs/probe.c"
#include "progs/bench.c"
#include "progs/uring.c"
#include "progs/uring_policy.c"

char LICENSE[] SEC("license") = "GPL";
