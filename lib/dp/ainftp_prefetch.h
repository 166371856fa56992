/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_PREFETCH_H
#define AINFTP_PREFETCH_H

/*
 * A line prefetched to be written: in exclusive state, so the store that
 * follows needs no second trip to take it from the core that had it (a
 * result's mbufs come back from the core or NIC that freed them). DPDK
 * 22.11's rte_prefetch0_write is experimental, and gcc emits PREFETCHW only
 * for -march levels with it, which Debian's libdpdk.pc does not ask for; the
 * instruction itself is a hint everywhere on x86-64 (a NOP where not
 * implemented), so it is written out here.
 */

static inline void
ainftp_prefetch_w(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const volatile char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

#endif
