/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A barrier between the worker processes of one benchmark run, through a file
 * they all map: the step starts when every worker has its gradient in place,
 * as scripts/bench-gloo.py's dist.barrier() does for Gloo. Without it a
 * worker's clock runs while its peers still refill theirs, and the run times
 * the refills (four 64 MB copies on one core) as all-reduce.
 */
#ifndef AINFTP_TOOLS_BARRIER_H
#define AINFTP_TOOLS_BARRIER_H

#include <stdint.h>

struct ainftp_barrier {
	uint32_t *count; /* arrivals so far, in the mapped file */
	uint32_t parties;
	uint32_t rounds; /* barriers this process has passed */
	const char *path;
};

/* Map PATH (created zero if absent) for PARTIES processes: 0, or -1 with a message. */
int ainftp_barrier_open(struct ainftp_barrier *b, const char *path, uint32_t parties);

/* Wait for every party's arrival at this round, at most TIMEOUT_S: 0, or -1 with a message. */
int ainftp_barrier_wait(struct ainftp_barrier *b, double timeout_s);

/* This party failed: the others stop waiting for it, each with a message. */
void ainftp_barrier_leave(struct ainftp_barrier *b);

void ainftp_barrier_close(struct ainftp_barrier *b);

#endif
