/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Benchmark floor: hooks that return at once (what any BPF design pays per syscall). */

SEC("raw_tp/sys_exit")
int BPF_PROG(vigil_bench_bare, struct pt_regs *regs, long ret)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_bench_bare_btf, struct pt_regs *regs, long ret)
{
	return 0;
}
