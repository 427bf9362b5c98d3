/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */
/*
 * The audit comparison operators on 32-bit values, as the kernel's audit_comparator (the op
 * numbers of vigil-rules' layout: = != & &= < > <= >=). Shared by the rule programs and the
 * io_uring policy.
 */
#ifndef VIGIL_COMPARE_H
#define VIGIL_COMPARE_H

static __always_inline int c32(__u32 l, __u8 op, __u32 r)
{
	switch (op) {
	case 0:
		return l == r;
	case 1:
		return l != r;
	case 2:
		return (l & r) != 0;
	case 3:
		return (l & r) == r;
	case 4:
		return l < r;
	case 5:
		return l > r;
	case 6:
		return l <= r;
	case 7:
		return l >= r;
	}
	return 0;
}

#endif
