/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_DP_H
#define AINFTP_DP_H

/*
 * The aggregation data path of one RX lcore: check a worker's packet field by
 * field, add its payload into the slot that sums its chunk, and when the quorum
 * is in, send the result to every worker of the job: one payload mbuf shared by
 * a small header mbuf per worker (refcounts, no copy per worker). Per lcore and
 * per job, nothing shared with other lcores: each lcore owns the slots of the
 * lanes (RX queues) it polls.
 */

#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "ainftp_config.h"
#include "ainftp_net.h"
#include "ainftp_members.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"
#include "ainftp_quorum.h"
#include "ainftp_sentry.h"
#include "ainftp_sink_ops.h"
#include "ainftp_slot.h"
#include "ainftp_stats.h"
#include "ainftp_swarm.h"

struct ainftp_rx_ctx;
struct ainftp_runtime;

/*
 * Where results for a worker go: learnt from its last authenticated packet.
 *
 * The control lcore needs the address too, for heartbeats. Each RX lcore has
 * its own copy of this record and is its only writer, so it is published with
 * a sequence count and no lock: the writer makes addr_sc odd, writes udp_port,
 * mac and learnt_tsc, and makes it even again; the control lcore copies them
 * and retries if addr_sc was odd or moved. A worker whose lanes are on several
 * lcores is learnt by each of them; the control lcore takes the copy with the
 * latest learnt_tsc. One record shared by the lcores would need a writer lock
 * (or CAS) on the data path and would bounce its cache line between them.
 * Addresses change rarely (a worker restarts), so the reader seldom retries.
 */
struct ainftp_dp_worker {
	uint32_t ipv4;	   /* from cluster.json, network order */
	uint32_t addr_sc;  /* sequence count of udp_port, mac, learnt_tsc: odd while written */
	uint16_t udp_port; /* its source port, network order; 0 until seen */
	struct rte_ether_addr mac;
	uint64_t learnt_tsc;	   /* when this lcore last learnt it (TSC) */
	struct ainftp_mac_key key; /* derived once from the worker's key */
	/* Ethernet, IPv4 and UDP headers of its results, built when its address is learnt. */
	uint8_t tmpl[AINFTP_UDP_HDRS_LEN];
	/*
	 * How late its data is on this lcore, for the control lcore's ranking:
	 * single writer, relaxed atomics (as counters), read by ainftp_dp_worker_lag.
	 */
	uint64_t lag_ewma;    /* EWMA (gain 1/8) of lateness, 1/16 cycles */
	uint64_t lag_samples; /* contributions timed */
	uint64_t wait;	      /* cycles the oldest open slot waiting for it had waited, last scan */
	/* This lcore's sentry on it: contributions (or chunks) judged and flagged. Single
	 * writer, relaxed stores; the control lcore sums them over lcores each tick. */
	uint64_t sentry_seen;
	uint64_t sentry_flagged;
	/* Its contributions in a result, and its packets refused (authenticated as its,
	 * or from its address), on this lcore: single writer, for telemetry. */
	uint64_t contribs;
	uint64_t drops;
};

struct ainftp_dp_job {
	uint32_t id;
	uint16_t idx; /* in cfg->jobs and in the published quorum */
	uint16_t port_idx;
	uint16_t lanes;	    /* the port's RX queues: slot k is summed on queue k % lanes */
	uint8_t wire_enc;   /* enum ainftp_wire_encoding of contributions */
	uint8_t result_enc; /* and of results */
	bool auth;
	uint16_t quorum;
	uint16_t min_quorum; /* never a result with fewer contributors */
	uint64_t threshold;  /* straggler.threshold_ms in cycles */
	/* This lcore's copy of the published membership, refreshed once per poll. */
	struct ainftp_quorum_snap q;
	/* For the control lcore (single writer, relaxed atomics). */
	uint64_t max_step;	   /* the highest step of a chunk started here */
	uint64_t partial_wait_max; /* cycles from first contribution to a result without everyone */
	uint16_t elems;
	uint32_t n_slots;
	uint32_t payload_len; /* of a contribution */
	uint32_t result_len;  /* of a result's payload */
	uint16_t n_workers;
	uint8_t worker_idx[AINFTP_MAX_WORKERS]; /* worker id -> index, 0xff: none */
	struct ainftp_dp_worker workers[AINFTP_MAX_WORKERS];
	struct ainftp_slot **slots; /* n_slots; NULL where another lcore owns the slot */
	/* The sink's entry of slot 0 (slot k at k * sink_stride), NULL with the sink off;
	 * this lcore writes only the entries of its own slots. */
	struct ainftp_sink_mark *sink_entries;
	uint32_t sink_stride;
	uint32_t sink_put; /* results of the job this lcore marked (its doorbell's value) */
	/*
	 * The job's sentry on this lcore (docs/SENTRY.md), NULL with policy none.
	 * Worker w of the library is the worker's index here; its quarantine mask
	 * follows the published snapshot (q.quarantined), never its own score.
	 */
	struct ainftp_sentry *sentry;
};

_Static_assert(AINFTP_MAX_JOBS <= 32, "ainftp_dp.bells_due has a bit per job");

struct ainftp_dp {
	uint16_t n_jobs;
	struct ainftp_dp_job *jobs;
	const struct ainftp_quant_ops *ops;
	const struct ainftp_sentry_ops *sops; /* the sentry's kernels, capped like ops */
	struct rte_mempool *result_pool;
	struct rte_mempool *hdr_pool;
	float *scratch; /* float32 payloads copied to alignment before summing */
	/* HEARTBEAT_ACKs that passed their checks, to the control lcore (single producer
	 * and single consumer: this lcore and the control lcore). */
	struct rte_ring *hb_ring;
	struct ainftp_members *members; /* the published quorum (RCU reader) */
	const struct ainftp_sink *sink; /* the result arena, or NULL */
	uint16_t sink_rx;		/* this lcore's doorbell in each job's row */
	uint32_t bells_due;		/* jobs (bit = index) marked this poll, doorbell not rung */
	uint64_t now;			/* TSC at the start of this poll */
	uint64_t next_scan;		/* TSC of the next scan of the open slots */
	uint64_t scan_period;
};

/* How often an RX lcore scans its open slots for workers they wait for (and completes any
 * slot the quorum no longer holds back), in microseconds. */
#define AINFTP_DP_SCAN_US 1000

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

/* HEARTBEAT_ACKs an RX lcore can hold for the control lcore, which drains them every tick. */
#define AINFTP_HB_RING_SIZE 1024

/* Set up the jobs and the slots this lcore owns, on its socket. 0 or -1. */
int ainftp_dp_init(struct ainftp_rx_ctx *ctx, const struct ainftp_runtime *rt);
void ainftp_dp_free(struct ainftp_rx_ctx *ctx);

/*
 * Start of a poll: take the TSC, copy any quorum snapshot that moved and
 * report a quiescent state (ainftp_members.h); on a new snapshot, or every
 * AINFTP_DP_SCAN_US, scan the open slots (ainftp_dp_scan).
 */
void ainftp_dp_begin(struct ainftp_rx_ctx *ctx, uint64_t now);

/*
 * End of a poll: ring the sink's doorbell of every job this poll marked results
 * of, once per job however many (a consumer wakes per poll, not per result).
 */
static inline void
ainftp_dp_end(struct ainftp_dp *dp)
{
	while (dp->bells_due != 0) {
		unsigned int j = rte_bsf32(dp->bells_due);

		dp->bells_due &= dp->bells_due - 1;
		dp->sink->ops->ring(dp->sink, (uint16_t)j, dp->sink_rx, dp->jobs[j].sink_put);
	}
}

/*
 * Every open slot of this lcore at time now: complete those the quorum lets
 * complete, and publish per worker how long the oldest open slot that waits
 * for it has waited (waits under an eighth of the threshold count as 0).
 */
void ainftp_dp_scan(struct ainftp_rx_ctx *ctx, uint64_t now);

/* A UDP datagram to one of our ports, received by this lcore: consume it (always freed). */
void ainftp_dp_input(struct ainftp_rx_ctx *ctx, uint16_t port_idx, struct rte_mbuf *m,
		     struct ainftp_port_ctr *ctr);

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

/* Slots in the middle of a chunk, over every RX lcore (0 when all is quiet). */
unsigned int ainftp_dp_slots_busy(const struct ainftp_runtime *rt);

/* Results put into the sink's arena, over every RX lcore. */
uint64_t ainftp_dp_sink_written(const struct ainftp_runtime *rt);

/* Mbufs a socket's result and header pools need. */
unsigned int ainftp_dp_result_pool_size(const struct ainftp_config *cfg);

#endif
