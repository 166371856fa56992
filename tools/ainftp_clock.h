/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CLOCK_H
#define AINFTP_CLOCK_H

/* The tools' one clock: CLOCK_MONOTONIC in nanoseconds (no DPDK, no TSC calibration). */

#include <stdint.h>
#include <time.h>

static inline uint64_t
ainftp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
