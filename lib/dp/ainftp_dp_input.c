/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The first stage: a datagram to one of our lanes, checked field by field
 * against its job and dispatched by message type (one row per type the
 * appliance takes); only what passes every check reaches the aggregation.
 */
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_prefetch.h>

#include "ainftp_dp_private.h"
#include "ainftp_partial.h"
#include "ainftp_prefetch.h"

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

/* Every field of a DATA packet against its job up to its tag: AINFTP_OK or why not. */
static enum ainftp_bad
data_check(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	   const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp, const struct ainftp_hdr *h,
	   int *widx)
{
	uint16_t wid = rte_be_to_cpu_16(h->worker);

	RTE_SET_USED(ctx);

	if (wid >= AINFTP_MAX_WORKERS || job->worker_idx[wid] == AINFTP_DP_NO_WORKER)
		return AINFTP_BAD_WORKER;
	*widx = job->worker_idx[wid];
	if (ip->src_addr != job->workers[*widx].ipv4)
		return AINFTP_BAD_SOURCE;
	/* A leaf's partial sum goes to the spine, and only there (docs/SCALEOUT.md). */
	if (unlikely(((h->flags & AINFTP_F_AGGREGATE) != 0) != (job->role == AINFTP_ROLE_SPINE)))
		return AINFTP_BAD_TYPE;
	/* The header's check let a worker-sized payload by: a spine takes parts only. */
	if (unlikely(job->role == AINFTP_ROLE_SPINE) &&
	    !ainftp_part_valid(h, rte_be_to_cpu_16(udp->dgram_len) - sizeof(*udp)))
		return AINFTP_BAD_LENGTH;
	if (h->encoding != job->codec->enc)
		return AINFTP_BAD_ENCODING;
	if (rte_be_to_cpu_16(h->elems) != job->elems)
		return AINFTP_BAD_ELEMS;
	if (job->auth && !(h->flags & AINFTP_F_AUTH))
		return AINFTP_BAD_AUTH_MISSING;
	return AINFTP_OK;
}

/* The fields of an authenticated DATA packet that say where it goes: its slot and lane. */
static enum ainftp_bad
data_route(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	   const struct rte_udp_hdr *udp, const struct ainftp_hdr *h)
{
	uint16_t k = rte_be_to_cpu_16(h->slot);
	uint16_t lane = rte_be_to_cpu_16(udp->dst_port) - rte_be_to_cpu_16(ctx->net.udp_port);

	if (k >= job->n_slots || k != rte_be_to_cpu_32(h->chunk) % job->n_slots)
		return AINFTP_BAD_SLOT;
	/*
	 * The last chunk of the last step is the slots' "none" (AINFTP_SEQ_NONE):
	 * a fresh slot would take it for its kept result, which it does not have,
	 * and resend a NULL payload. Never a chunk (fuzz_rx found it).
	 */
	if (ainftp_seq(rte_be_to_cpu_32(h->step), rte_be_to_cpu_32(h->chunk)) == AINFTP_SEQ_NONE)
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

static size_t
data_signed_len(const struct ainftp_dp_job *job, const struct ainftp_hdr *h)
{
	const uint8_t *part = (const uint8_t *)(h + 1);

	/* A part's size is its own (its header was checked with the packet's length). */
	if (unlikely(h->flags & AINFTP_F_AGGREGATE))
		return sizeof(struct ainftp_hdr) + ainftp_part_len(job->elems, part[0], part[1]);
	return sizeof(struct ainftp_hdr) + job->payload_len;
}

/*
 * Ahead of its sum: every line of the payload (it was written by another
 * core, or by the NIC) and, when it starts a chunk, the slot's int32 sums it
 * will write (last written a window of chunks ago) and the mbuf of the result
 * it keeps.
 */
static void
data_prefetch(const struct ainftp_dp_job *job, const struct ainftp_hdr *h)
{
	const char *b = (const char *)(h + 1);
	uint16_t k = rte_be_to_cpu_16(h->slot);
	const struct ainftp_slot *s;
	uint32_t off;

	for (off = 0; off < job->payload_len; off += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(b + off);
	if (k >= job->n_slots || (s = job->slots[k]) == NULL || !s->done)
		return;
	/* The result it keeps, freed when this chunk completes: its mbuf came back cold. */
	if (s->shadow != NULL)
		rte_prefetch0(s->shadow);
	for (off = 0; off < job->elems * sizeof(int32_t); off += RTE_CACHE_LINE_SIZE)
		ainftp_prefetch_w((const char *)s->acc.acc32 + off);
}

/*
 * A HEARTBEAT_ACK, PROBE or HELLO against its job: the checks of a DATA that
 * apply to a message without payload (worker, source, AUTH, tag), so that
 * only the worker itself can say it is alive, ask after its data or join.
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
	return AINFTP_OK;
}

static size_t
ack_signed_len(const struct ainftp_dp_job *job, const struct ainftp_hdr *h)
{
	RTE_SET_USED(job);
	RTE_SET_USED(h);
	return sizeof(struct ainftp_hdr);
}

static size_t
hello_signed_len(const struct ainftp_dp_job *job, const struct ainftp_hdr *h)
{
	RTE_SET_USED(job);
	RTE_SET_USED(h);
	return sizeof(struct ainftp_hdr) + AINFTP_BODY_LEN;
}

/* A leaf's: what its spine sends it, from the spine's address (the tag, if any, later). */
static enum ainftp_bad
spine_check(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	    const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp,
	    const struct ainftp_hdr *h, int *widx)
{
	RTE_SET_USED(ctx);
	RTE_SET_USED(udp);
	*widx = -1;
	return ainftp_dp_spine_check(job, ip, h);
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
	a.kind = AINFTP_UP_ACK;
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
 * its job before its tag (AINFTP_OK, and the worker's index in widx, or why
 * not), the bytes the tag covers, the checks after it (NULL: none) and what
 * then happens to it. A type without a row is refused (AINFTP_BAD_TYPE).
 * Tags are checked between the two sets of checks, for a whole burst at once.
 */
struct dp_msg {
	enum ainftp_bad (*check)(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
				 const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp,
				 const struct ainftp_hdr *h, int *widx);
	size_t (*signed_len)(const struct ainftp_dp_job *job, const struct ainftp_hdr *h);
	/*
	 * Not in the burst's tags: the handler checks its own (a RESULT's sits
	 * after its header) or it has none (a HEARTBEAT).
	 */
	bool own_tag;
	/* What handle will read and write, read ahead of it (NULL: nothing worth it). */
	void (*prefetch)(const struct ainftp_dp_job *job, const struct ainftp_hdr *h);
	enum ainftp_bad (*route)(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
				 const struct rte_udp_hdr *udp, const struct ainftp_hdr *h);
	void (*handle)(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		       const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		       const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr);
	/* Refusals of a worker's own packets (past the source check) show in its telemetry. */
	bool worker_drops;
};

static const struct dp_msg dp_msgs[] = {
	[AINFTP_MSG_DATA] = {.check = data_check,
			     .signed_len = data_signed_len,
			     .prefetch = data_prefetch,
			     .route = data_route,
			     .handle = ainftp_dp_contribution,
			     .worker_drops = true},
	[AINFTP_MSG_HEARTBEAT_ACK] = {.check = ack_check,
				      .signed_len = ack_signed_len,
				      .handle = ack_forward},
	[AINFTP_MSG_HELLO] = {.check = ack_check,
			      .signed_len = hello_signed_len,
			      .handle = ainftp_dp_hello,
			      .worker_drops = true},
	[AINFTP_MSG_PROBE] = {.check = ack_check,
			      .signed_len = ack_signed_len,
			      .route = data_route,
			      .handle = ainftp_dp_probe,
			      .worker_drops = true},
	/* A leaf's, from its spine. */
	[AINFTP_MSG_RESULT] = {.check = spine_check,
			       .own_tag = true,
			       .route = data_route,
			       .handle = ainftp_dp_leaf_result},
	[AINFTP_MSG_STATE] = {.check = spine_check,
			      .own_tag = true,
			      .route = data_route,
			      .handle = ainftp_dp_leaf_state},
	[AINFTP_MSG_HEARTBEAT] = {.check = spine_check,
				  .own_tag = true,
				  .handle = ainftp_dp_leaf_heartbeat},
};

/* One datagram of a burst between its stages: NULL msg once refused. */
struct dp_pkt {
	const struct rte_ether_hdr *eth;
	const struct rte_udp_hdr *udp;
	const struct ainftp_hdr *h;
	const struct dp_msg *msg;
	struct ainftp_dp_job *job;
	int widx;
};

/* A refusal, counted; a worker's own (from its address) shows in its telemetry too. */
static void
pkt_refuse(struct dp_pkt *p, enum ainftp_bad why, struct ainftp_port_ctr *ctr)
{
	ainftp_dp_bad(ctr, why);
	if (p->msg != NULL && p->msg->worker_drops && p->widx >= 0 && why != AINFTP_BAD_SOURCE)
		ainftp_ctr_add(&p->job->workers[p->widx].drops, 1);
	p->msg = NULL;
}

/*
 * A HELLO from a job or worker the appliance does not have, or without the
 * tag its job wants, gets a HELLO_ACK that says so, untagged (there is no key
 * to tag it with, or the client has none to check it), so the client
 * names the mistake at once instead of timing out. It echoes the client's
 * nonce, so only who saw the HELLO can forge one.
 */
static void
hello_refuse(struct ainftp_rx_ctx *ctx, uint16_t port_idx, const struct dp_pkt *p,
	     const struct rte_ipv4_hdr *ip, enum ainftp_bad why, struct ainftp_port_ctr *ctr)
{
	if (why == AINFTP_BAD_JOB)
		ainftp_dp_hello_out(ctx, port_idx, NULL, NULL, p->h, AINFTP_HELLO_JOB, 0, p->eth,
				    ip->src_addr, p->udp, ctr);
	else if (why == AINFTP_BAD_WORKER)
		ainftp_dp_hello_out(ctx, port_idx, NULL, NULL, p->h, AINFTP_HELLO_WORKER, 0, p->eth,
				    ip->src_addr, p->udp, ctr);
	else if (why == AINFTP_BAD_AUTH_MISSING) /* a client without the job's key */
		ainftp_dp_hello_out(ctx, port_idx, p->job, NULL, p->h, AINFTP_HELLO_AUTH,
				    p->job->done_next, p->eth, ip->src_addr, p->udp, ctr);
}

/* Header, type, job and the type's checks before the tag; false when refused (counted). */
static bool
pkt_check(struct ainftp_rx_ctx *ctx, uint16_t port_idx, struct rte_mbuf *m, struct dp_pkt *p,
	  struct ainftp_port_ctr *ctr)
{
	const struct rte_ipv4_hdr *ip;
	enum ainftp_bad why;

	p->eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	ip = (const struct rte_ipv4_hdr *)(p->eth + 1);
	p->udp = (const struct rte_udp_hdr *)((const char *)ip + rte_ipv4_hdr_len(ip));
	p->h = (const struct ainftp_hdr *)(p->udp + 1);
	p->msg = NULL;
	p->job = NULL;
	p->widx = -1;
	why = ainftp_hdr_check(p->h, rte_be_to_cpu_16(p->udp->dgram_len) - sizeof(*p->udp));
	if (why == AINFTP_OK) {
		if (p->h->type < RTE_DIM(dp_msgs) && dp_msgs[p->h->type].check != NULL)
			p->msg = &dp_msgs[p->h->type];
		else
			why = AINFTP_BAD_TYPE;
	}
	if (why == AINFTP_OK) {
		p->job = job_find(&ctx->dp, rte_be_to_cpu_32(p->h->job));
		if (p->job == NULL || p->job->port_idx != port_idx)
			why = AINFTP_BAD_JOB;
	}
	if (why == AINFTP_OK)
		why = p->msg->check(ctx, p->job, ip, p->udp, p->h, &p->widx);
	if (likely(why == AINFTP_OK))
		return true;
	if (unlikely(p->h->type == AINFTP_MSG_HELLO))
		hello_refuse(ctx, port_idx, p, ip, why, ctr);
	pkt_refuse(p, why, ctr);
	return false;
}

/* A HELLO's tag is SipHash's whatever the job's MAC: the worker learns that from the ack. */
static void
hello_verify(struct dp_pkt *p, struct ainftp_port_ctr *ctr)
{
	size_t len = p->msg->signed_len(p->job, p->h);

	if (!ainftp_mac_verify_as(&p->job->workers[p->widx].key, AINFTP_MAC_SIPHASH, p->h, len,
				  (const uint8_t *)p->h + len))
		pkt_refuse(p, AINFTP_BAD_TAG, ctr);
}

/*
 * The tags of the burst's authenticated packets, all at once: the MAC runs
 * several packets per pass in SIMD lanes (ainftp_mac.h). A wrong tag refuses
 * its packet.
 */
static void
burst_verify(const struct ainftp_dp *dp, struct dp_pkt *p, uint16_t n, struct ainftp_port_ctr *ctr)
{
	const struct ainftp_mac_key *mk[AINFTP_BURST];
	const void *msg[AINFTP_BURST];
	const uint8_t *tag[AINFTP_BURST];
	size_t len[AINFTP_BURST];
	uint8_t who[AINFTP_BURST];
	uint16_t i, na = 0;
	uint64_t good;

	for (i = 0; i < n; i++) {
		if (!p[i].job->auth || p[i].msg->own_tag)
			continue;
		if (unlikely(p[i].h->type == AINFTP_MSG_HELLO)) {
			hello_verify(&p[i], ctr);
			continue;
		}
		mk[na] = &p[i].job->workers[p[i].widx].key;
		msg[na] = p[i].h;
		len[na] = p[i].msg->signed_len(p[i].job, p[i].h);
		tag[na] = (const uint8_t *)p[i].h + len[na];
		who[na++] = (uint8_t)i;
	}
	if (na == 0)
		return;
	good = ainftp_mac_verify_many(dp->mac, mk, msg, len, tag, na);
	for (i = 0; i < na; i++)
		if (!(good >> i & 1))
			pkt_refuse(&p[who[i]], AINFTP_BAD_TAG, ctr);
}

void
ainftp_dp_input_burst(struct ainftp_rx_ctx *ctx, uint16_t port_idx, struct rte_mbuf **m, uint16_t n,
		      struct ainftp_port_ctr *ctr)
{
	struct dp_pkt p[AINFTP_BURST];
	enum ainftp_bad why;
	uint16_t i, np = 0;

	for (i = 0; i < n; i++)
		np += pkt_check(ctx, port_idx, m[i], &p[np], ctr);
	burst_verify(&ctx->dp, p, np, ctr);
	for (i = 0; i < np; i++) {
		if (p[i].msg == NULL)
			continue;
		if (i + 1 < np && p[i + 1].msg != NULL && p[i + 1].msg->prefetch != NULL)
			p[i + 1].msg->prefetch(p[i + 1].job, p[i + 1].h);
		why = p[i].msg->route == NULL ? AINFTP_OK
					      : p[i].msg->route(ctx, p[i].job, p[i].udp, p[i].h);
		if (unlikely(why != AINFTP_OK)) {
			pkt_refuse(&p[i], why, ctr);
			continue;
		}
		p[i].msg->handle(ctx, p[i].job, (unsigned int)p[i].widx, p[i].h, p[i].eth, p[i].udp,
				 ctr);
	}
}
