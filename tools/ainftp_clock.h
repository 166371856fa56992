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

/* Any clock in seconds: CLOCK_MONOTONIC for time, CLOCK_THREAD_CPUTIME_ID for CPU time. */
static inline double
ainftp_seconds(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
