/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/* Feature probes: loaded once at start to learn what this kernel allows, never attached. */

/* Does the kernel load BPF LSM programs? (Refused with EPERM on some kernels.) */
SEC("lsm/file_open")
int BPF_PROG(vigil_probe_lsm, struct file *file)
{
	return 0;
}
