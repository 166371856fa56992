/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_DP_H
#define AINFTP_DP_H

/*
 * The aggregation data path of one RX lcore, in the order a packet walks it:
 * ainftp_dp_input.c checks a worker's packet field by field and dispatches it
 * by message type; ainftp_dp_agg.c judges a contribution (the sentry) and adds
 * its payload into the slot that sums its chunk (the codec), and completes the
 * slot when the quorum is in; ainftp_dp_out.c sends the result to every worker
 * of the job (one payload mbuf shared by a small header mbuf per worker:
 * refcounts, no copy per worker) and puts it into the result sink. Per lcore
 * and per job, nothing shared with other lcores: each lcore owns the slots of
 * the lanes (RX queues) it polls. Its state is ainftp_lcore_conf.h; what the
 * control lcore and telemetry read of it, ainftp_dp_view.h.
 */

#include <stdint.h>

#include "ainftp_lcore_conf.h"
#include "ainftp_runtime.h"

/* How often an RX lcore scans its open slots for workers they wait for (and completes any
 * slot the quorum no longer holds back), in microseconds. */
#define AINFTP_DP_SCAN_US 1000

/*
 * A leaf probes the spine for a partial sum whose result has not come in
 * this long (the spine answers with the result, or with the parts it has,
 * and the leaf sends the others), doubling up to 8 times it while it waits
 * (the spine may wait for another leaf's workers, which is no loss).
 */
#define AINFTP_DP_LEAF_RTO_MS 5
#define AINFTP_DP_LEAF_BACKOFF_MAX 3

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

/*
 * UDP datagrams to our ports, n <= AINFTP_BURST of one burst from one port,
 * received by this lcore: consume them (the caller frees them). In stages, each
 * over the whole burst: the checks before the tag, the tags (several per SIMD
 * pass), then each datagram's route and handling, in arrival order.
 */
void ainftp_dp_input_burst(struct ainftp_rx_ctx *ctx, uint16_t port_idx, struct rte_mbuf **m,
			   uint16_t n, struct ainftp_port_ctr *ctr);

/*
 * The result copies of the burst whose tags are due: their tags, all in one
 * pass of the MAC's lanes, then onto the TX queues. After every burst and
 * every scan, before the TX queues are flushed.
 */
void ainftp_dp_tags_flush(struct ainftp_rx_ctx *ctx);

/*
 * The lcore leaves its loop: the mbufs it took ahead go back to their pools,
 * so that their counts are exact while it is stopped (it takes them again on
 * its next result).
 */
static inline void
ainftp_dp_stop(struct ainftp_dp *dp)
{
	ainftp_mstash_release(&dp->result_stash);
	ainftp_mstash_release(&dp->hdr_stash);
}

/* Mbufs a socket's result and header pools need. */
unsigned int ainftp_dp_result_pool_size(const struct ainftp_config *cfg);

#endif
