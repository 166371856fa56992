/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The first stage: a datagram to one of our lanes, checked field by field
 * against its job and dispatched by message type (one row per type the
 * appliance takes); only what passes every check reaches the aggregation.
 */
#include <rte_cycles.h>
#include <rte_ip.h>

#include "ainftp_dp_private.h"

static inline struct ainftp_dp_job *
job_find(struct ainftp_dp *dp, uint32_t id)
{
	uint16_t j;

	/* A handful of jobs at most: a scan beats a hash here. */
	for (j = 0; j < dp->n_jobs; j++)
		if (dp->jobs[j].id == id)
			return &dp->jobs[j];
	return NULL;
}

/* Every field of a DATA packet against its job: AINFTP_OK or why not. */
static enum ainftp_bad
data_check(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	   const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp, const struct ainftp_hdr *h,
	   int *widx)
{
	uint16_t wid = rte_be_to_cpu_16(h->worker), k = rte_be_to_cpu_16(h->slot);
	uint16_t lane = rte_be_to_cpu_16(udp->dst_port) - rte_be_to_cpu_16(ctx->net.udp_port);
	const struct ainftp_dp_worker *w;

	if (wid >= AINFTP_MAX_WORKERS || job->worker_idx[wid] == AINFTP_DP_NO_WORKER)
		return AINFTP_BAD_WORKER;
	*widx = job->worker_idx[wid];
	w = &job->workers[*widx];
	if (ip->src_addr != w->ipv4)
		return AINFTP_BAD_SOURCE;
	if (h->encoding != job->codec->enc)
		return AINFTP_BAD_ENCODING;
	if (rte_be_to_cpu_16(h->elems) != job->elems)
		return AINFTP_BAD_ELEMS;
	if (job->auth && !(h->flags & AINFTP_F_AUTH))
		return AINFTP_BAD_AUTH_MISSING;
	if (job->auth && !ainftp_mac_verify(&w->key, h, sizeof(*h) + job->payload_len,
					    (const uint8_t *)(h + 1) + job->payload_len))
		return AINFTP_BAD_TAG;
	if (k >= job->n_slots || k != rte_be_to_cpu_32(h->chunk) % job->n_slots)
		return AINFTP_BAD_SLOT;
	/*
	 * The slot's lane is the UDP port that steers it to its queue. The queue it
	 * came in on matters only through the lcore: a slot is summed by the lcore
	 * that polls its lane's queue, and only that lcore has it (slots[k] is NULL
	 * elsewhere). So a kernel that spreads the lanes of one lcore over its
	 * queues by its own hash (net_tap without flower) costs nothing.
	 */
	if (lane != k % job->lanes || job->slots[k] == NULL)
		return AINFTP_BAD_LANE;
	return AINFTP_OK;
}

/*
 * A HEARTBEAT_ACK against its job: the checks of a DATA that apply to a
 * header without payload (worker, source, AUTH, tag), so that only the worker
 * itself can say it is alive.
 */
static enum ainftp_bad
ack_check(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	  const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp, const struct ainftp_hdr *h,
	  int *widx)
{
	uint16_t wid = rte_be_to_cpu_16(h->worker);
	const struct ainftp_dp_worker *w;

	RTE_SET_USED(ctx);
	RTE_SET_USED(udp);

	if (wid >= AINFTP_MAX_WORKERS || job->worker_idx[wid] == AINFTP_DP_NO_WORKER)
		return AINFTP_BAD_WORKER;
	*widx = job->worker_idx[wid];
	w = &job->workers[*widx];
	if (ip->src_addr != w->ipv4)
		return AINFTP_BAD_SOURCE;
	if (job->auth && !(h->flags & AINFTP_F_AUTH))
		return AINFTP_BAD_AUTH_MISSING;
	if (job->auth && !ainftp_mac_verify(&w->key, h, sizeof(*h), (const uint8_t *)(h + 1)))
		return AINFTP_BAD_TAG;
	return AINFTP_OK;
}

/* A checked ack to the control lcore, which times it; a full ring loses it, counted. */
static void
ack_forward(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
	    const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
	    const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	struct ainftp_msg msg;
	struct ainftp_hb_ack a;

	RTE_SET_USED(eth);
	RTE_SET_USED(udp);

	ainftp_hdr_read(h, &msg);
	a.job_idx = (uint16_t)(job - ctx->dp.jobs);
	a.widx = (uint8_t)widx;
	a.pad = 0;
	a.seq = msg.step;
	a.tx_tsc = msg.bitmap;
	a.rx_tsc = rte_rdtsc();

	if (unlikely(rte_ring_enqueue_elem(ctx->dp.hb_ring, &a, sizeof(a)) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_HB_RING_FULL);
		return;
	}
	ainftp_ctr_add(&ctr->heartbeat_acks, 1);
}

/*
 * What the appliance takes, by message type: the checks of the type against
 * its job (AINFTP_OK, and the worker's index in widx, or why not) and what
 * then happens to it. A type without a row is refused (AINFTP_BAD_TYPE).
 */
struct dp_msg {
	enum ainftp_bad (*check)(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
				 const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp,
				 const struct ainftp_hdr *h, int *widx);
	void (*handle)(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		       const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		       const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);
	/* Refusals of a worker's own packets (past the source check) show in its telemetry. */
	bool worker_drops;
};

static const struct dp_msg dp_msgs[] = {
	[AINFTP_MSG_DATA] = {.check = data_check,
			     .handle = ainftp_dp_contribution,
			     .worker_drops = true},
	[AINFTP_MSG_HEARTBEAT_ACK] = {.check = ack_check, .handle = ack_forward},
};

void
ainftp_dp_input(struct ainftp_rx_ctx *ctx, uint16_t port_idx, struct rte_mbuf *m,
		struct ainftp_port_ctr *ctr)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	const struct rte_udp_hdr *udp =
		(const struct rte_udp_hdr *)((const char *)ip + rte_ipv4_hdr_len(ip));
	const struct ainftp_hdr *h = (const struct ainftp_hdr *)(udp + 1);
	size_t udp_len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(*udp);
	const struct dp_msg *msg = NULL;
	struct ainftp_dp_job *job = NULL;
	enum ainftp_bad why;
	int widx = -1;

	why = ainftp_hdr_check(h, udp_len);
	if (why == AINFTP_OK) {
		if (h->type < RTE_DIM(dp_msgs) && dp_msgs[h->type].check != NULL)
			msg = &dp_msgs[h->type];
		else
			why = AINFTP_BAD_TYPE;
	}
	if (why == AINFTP_OK) {
		job = job_find(&ctx->dp, rte_be_to_cpu_32(h->job));
		if (job == NULL || job->port_idx != port_idx)
			why = AINFTP_BAD_JOB;
	}
	if (why == AINFTP_OK)
		why = msg->check(ctx, job, ip, udp, h, &widx);
	if (unlikely(why != AINFTP_OK)) {
		ainftp_dp_bad(ctr, why);
		/* A worker's own, from its address: its telemetry shows it (a wrong key, a
		 * wrong size). */
		if (msg != NULL && msg->worker_drops && widx >= 0 && why != AINFTP_BAD_SOURCE)
			ainftp_ctr_add(&job->workers[widx].drops, 1);
		return;
	}
	msg->handle(ctx, job, (unsigned int)widx, h, eth, udp, ctr);
}
