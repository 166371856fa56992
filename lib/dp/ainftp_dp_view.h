/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_DP_VIEW_H
#define AINFTP_DP_VIEW_H

/*
 * What the control lcore and telemetry read of the RX lcores' state, and the
 * only way they read it: without locks, by the protocol each field of
 * ainftp_lcore_conf.h states (relaxed single-writer values, a seqcount for a
 * worker's address). Nothing here writes to an RX lcore's state.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ring.h>

#include "ainftp_counters.h"
#include "ainftp_runtime.h"

/* One worker's lateness over every RX lcore, for the control lcore. */
struct ainftp_dp_lag {
	uint64_t ewma;	   /* cycles: the largest lateness EWMA of an lcore */
	uint64_t wait;	   /* cycles: the longest wait of an open slot for it */
	uint64_t samples;  /* contributions timed, all lcores */
	uint64_t contribs; /* contributions in a result, all lcores */
	uint64_t drops;	   /* its packets refused, all lcores */
};

/* A worker's address as the RX lcores learnt it, for the control lcore. */
struct ainftp_dp_addr {
	uint16_t udp_port; /* network order */
	struct rte_ether_addr mac;
	uint64_t learnt_tsc;
};

/*
 * The freshest address of worker widx of job job_idx over every RX lcore,
 * without locks (control lcore). false when no lcore has learnt it yet.
 */
bool ainftp_dp_worker_addr(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
			   struct ainftp_dp_addr *out);

/* Worker widx of job job_idx: its lateness over every RX lcore, without locks (control lcore). */
void ainftp_dp_worker_lag(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
			  struct ainftp_dp_lag *out);

/* Worker widx of job job_idx: the sentry's judged and flagged, summed over every RX lcore. */
void ainftp_dp_worker_sentry(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
			     uint64_t *seen, uint64_t *flagged);

/* The highest step any RX lcore has started for a job. */
uint64_t ainftp_dp_job_max_step(const struct ainftp_runtime *rt, uint16_t job_idx);

/* Cycles: the longest any RX lcore took from first contribution to a partial result. */
uint64_t ainftp_dp_job_partial_wait(const struct ainftp_runtime *rt, uint16_t job_idx);

/*
 * A job's chunk completion latency over every RX lcore: the buckets and the
 * sum (cycles) added up, the bounds of any lcore (all have the same). Zero
 * when no RX lcore serves the job. Relaxed loads of live counters: the sum
 * may be a completion or two apart from the buckets, never a bucket from its
 * count (the count is their sum).
 */
void ainftp_dp_job_latency(const struct ainftp_runtime *rt, uint16_t job_idx,
			   struct ainftp_lat_hist *out);

/*
 * A leaf's way up to its spine (docs/SCALEOUT.md), over every RX lcore: the
 * counters added up, when the spine was last heard (the latest of any lcore)
 * and when the oldest chunk still waiting for its result started (the
 * earliest; 0 when none waits). TSC values.
 */
struct ainftp_dp_up_view {
	uint64_t heard_tsc;
	uint64_t oldest_tsc;
	uint64_t partials;
	uint64_t probes;
	uint64_t resent;
	uint64_t results;
	uint64_t arp_sent;
};

void ainftp_dp_job_upstream(const struct ainftp_runtime *rt, uint16_t job_idx,
			    struct ainftp_dp_up_view *out);

/*
 * TSC cycles from tsc to now, 0 when tsc is later: an RX lcore stamps the
 * time it heard the spine with its own clock reading, which may be taken
 * after the reader's now (unsigned, the difference would wrap to centuries).
 */
static inline uint64_t
ainftp_dp_tsc_since(uint64_t now, uint64_t tsc)
{
	return now > tsc ? now - tsc : 0;
}

/* The spine is down for a leaf: a chunk waits for it this long, and nothing came from it. */
#define AINFTP_UPSTREAM_DOWN_MS 1000

/* "down", "up" (heard from), or "unknown" (not yet heard, nothing waits) at TSC now. */
const char *ainftp_dp_upstream_state(const struct ainftp_dp_up_view *v, uint64_t now, uint64_t hz);

/* Slots in the middle of a chunk, over every RX lcore (0 when all is quiet). */
unsigned int ainftp_dp_slots_busy(const struct ainftp_runtime *rt);

/* Results put into the sink's arena, over every RX lcore. */
uint64_t ainftp_dp_sink_written(const struct ainftp_runtime *rt);

/* The ring an RX lcore hands its checked HEARTBEAT_ACKs up in (ainftp_publish.h); NULL if
 * the lcore has none. The control lcore is its only consumer. */
struct rte_ring *ainftp_dp_ack_ring(const struct ainftp_runtime *rt, unsigned int lcore);

#endif
