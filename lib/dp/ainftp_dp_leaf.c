/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A leaf box of a hierarchical job (docs/SCALEOUT.md): a slot its own
 * workers completed goes up to the spine as the exact partial sum, in
 * parts of a frame each (ainftp_partial.h), authenticated under the leaf's
 * key; the spine's result comes back on the slot's lane and goes out to the
 * workers as if this box had made it. Until then the slot waits (pending):
 * after each rto (doubling) the leaf probes the spine, which answers with
 * the result or the parts it has, and the leaf sends the others; the
 * spine's silence shows in the job's telemetry and the box's log.
 */
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ip.h>

#include "ainftp_dp_private.h"
#include "ainftp_partial.h"

/*
 * The spine's MAC is not known yet: ask for it (ARP, broadcast), at most
 * every rto. The reply is learnt by ainftp_net_input into the neighbours.
 */
static void
arp_ask(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_upstream *up = &job->up;
	struct rte_mbuf *m;

	if (ctx->dp.now < up->arp_next)
		return;
	up->arp_next = ctx->dp.now + up->rto;
	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &m, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_NOMBUF);
		return;
	}
	ainftp_arp_request(rte_pktmbuf_append(m, AINFTP_ARP_FRAME_LEN),
			   &ctx->net.mac[job->port_idx], ctx->net.ipv4, up->ipv4);
	ainftp_ctr_add(&up->arp_sent, 1);
	ainftp_tx_enqueue(&ctx->txq[job->port_idx], m, ctr);
}

/*
 * Whether the spine's MAC is known: learnt by ARP since the last look, by
 * this lcore or another (the reply lands on whichever queue the NIC picks;
 * neighbours are read by other lcores without locks, ainftp_net.h).
 */
static bool
spine_mac(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job)
{
	const struct ainftp_runtime *rt = ctx->dp.rt;
	unsigned int lcore;
	uint16_t port;

	if (likely(job->up.mac_known))
		return true;
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_rx_ctx *c = lcore == ctx->lcore ? ctx : rt->rx[lcore];

		if (c != NULL &&
		    ainftp_neigh_lookup(&c->net.neigh, job->up.ipv4, &job->up.mac, &port) == 0 &&
		    port == job->port_idx) {
			job->up.mac_known = true;
			return true;
		}
	}
	return false;
}

/* Part p of slot k's partial sum, as one frame to the spine; -1: no mbuf. */
static int
part_out(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, const struct ainftp_slot *s,
	 uint16_t k, uint32_t p, struct ainftp_port_ctr *ctr)
{
	const struct ainftp_dp_upstream *up = &job->up;
	size_t len = ainftp_part_len(job->elems, p, up->bpp);
	size_t tl = job->auth ? AINFTP_TAG_LEN : 0;
	uint16_t port =
		rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ctx->net.udp_port) + k % job->lanes));
	struct ainftp_msg msg = {
		.type = AINFTP_MSG_DATA,
		.encoding = (uint8_t)job->codec->enc,
		.flags = (uint8_t)(AINFTP_F_AGGREGATE | (job->auth ? AINFTP_F_AUTH : 0) |
				   (s->acc.overflow ? AINFTP_F_OVERFLOW : 0)),
		.job = job->id,
		.worker = up->leaf,
		.elems = job->elems,
		.step = (uint32_t)(s->seq >> 32),
		.chunk = (uint32_t)s->seq,
		.slot = k,
		.contributors = s->n_incl,
		.bitmap = s->incl,
	};
	struct ainftp_hdr *h;
	struct rte_mbuf *m;
	char *f;

	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &m, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_NOMBUF);
		return -1;
	}
	f = rte_pktmbuf_append(m, (uint16_t)(AINFTP_UDP_HDRS_LEN + sizeof(*h) + len + tl));
	/* From the slot's lane, so that the result comes back to this lcore's queue. */
	ainftp_udp_headers(f, &ctx->net.mac[job->port_idx], &up->mac, ctx->net.ipv4, up->ipv4, port,
			   port, (uint16_t)(sizeof(*h) + len + tl));
	h = (struct ainftp_hdr *)(f + AINFTP_UDP_HDRS_LEN);
	ainftp_hdr_write(h, &msg);
	ainftp_part_write(&s->acc, p, up->bpp, h + 1);
	ainftp_part_set_desc(h + 1, s->desc); /* the spine compares the leaves' requests */
	if (tl != 0)
		ainftp_mac(&up->key, h, sizeof(*h) + len, (uint8_t *)(h + 1) + len);
	ainftp_tx_enqueue(&ctx->txq[job->port_idx], m, ctr);
	return 0;
}

/*
 * The parts of slot k's partial sum the spine lacks (have: those it has),
 * to the spine, now; the slot waits an rto from now. Without the spine's
 * MAC it asks for it instead, and nothing has gone (the scan sends it all).
 */
static void
partial_out(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s, uint16_t k,
	    uint32_t have, struct ainftp_port_ctr *ctr)
{
	uint32_t p, n = ainftp_part_count(job->elems, job->up.bpp);

	s->up_tsc = ctx->dp.now;
	if (!spine_mac(ctx, job)) {
		arp_ask(ctx, job, ctr);
		return;
	}
	s->up_sent = true;
	for (p = 0; p < n; p++)
		if (!(have >> p & 1) && part_out(ctx, job, s, k, p, ctr) != 0)
			return;
}

/*
 * A PROBE to the spine for slot k's chunk, as a worker probes a box: what it
 * answers (the result, or which parts it has) costs a header, not a partial
 * sum of several frames, when the spine only waits for another leaf.
 */
static void
probe_out(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, const struct ainftp_slot *s,
	  uint16_t k, struct ainftp_port_ctr *ctr)
{
	size_t len = sizeof(struct ainftp_hdr) + (job->auth ? AINFTP_TAG_LEN : 0);
	uint16_t port =
		rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ctx->net.udp_port) + k % job->lanes));
	struct ainftp_msg msg = {
		.type = AINFTP_MSG_PROBE,
		.encoding = (uint8_t)job->codec->enc,
		.flags = job->auth ? AINFTP_F_AUTH : 0,
		.job = job->id,
		.worker = job->up.leaf,
		.step = (uint32_t)(s->seq >> 32),
		.chunk = (uint32_t)s->seq,
		.slot = k,
		.bitmap = s->desc, /* as a worker's: a spine that saw another request says so */
	};
	struct rte_mbuf *m;
	char *p;

	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &m, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_NOMBUF);
		return;
	}
	p = rte_pktmbuf_append(m, (uint16_t)(AINFTP_UDP_HDRS_LEN + len));
	ainftp_udp_headers(p, &ctx->net.mac[job->port_idx], &job->up.mac, ctx->net.ipv4,
			   job->up.ipv4, port, port, (uint16_t)len);
	p += AINFTP_UDP_HDRS_LEN;
	ainftp_hdr_write((struct ainftp_hdr *)p, &msg);
	if (job->auth)
		ainftp_mac(&job->up.key, p, sizeof(struct ainftp_hdr),
			   (uint8_t *)p + sizeof(struct ainftp_hdr));
	ainftp_tx_enqueue(&ctx->txq[job->port_idx], m, ctr);
}

void
ainftp_dp_leaf_up(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s,
		  uint16_t k, struct ainftp_port_ctr *ctr)
{
	s->up_sent = false;
	partial_out(ctx, job, s, k, 0, ctr);
	ainftp_ctr_add(&job->up.partials, 1);
}

void
ainftp_dp_leaf_scan(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s,
		    uint16_t k, uint64_t now, uint64_t *oldest)
{
	uint8_t shift = RTE_MIN(s->up_tries, AINFTP_DP_LEAF_BACKOFF_MAX);

	if (s->first_tsc < *oldest)
		*oldest = s->first_tsc;
	if (now - s->up_tsc < job->up.rto << shift)
		return;
	s->up_tries++;
	s->up_tsc = now;
	if (s->up_sent) {
		probe_out(ctx, job, s, k, &ctx->stats->port[job->port_idx]);
		ainftp_ctr_add(&job->up.probes, 1);
	} else {
		/* Nothing went (no MAC for the spine then): all of it, or an ARP request again. */
		partial_out(ctx, job, s, k, 0, &ctx->stats->port[job->port_idx]);
		ainftp_ctr_add(&job->up.resent, 1);
	}
}

void
ainftp_dp_leaf_scan_done(struct ainftp_dp_job *job, uint64_t oldest)
{
	__atomic_store_n(&job->up.oldest_tsc, oldest == UINT64_MAX ? 0 : oldest, __ATOMIC_RELAXED);
}

/* Checks of a packet from the spine (a RESULT or a HEARTBEAT) before its tag. */
enum ainftp_bad
ainftp_dp_spine_check(const struct ainftp_dp_job *job, const struct rte_ipv4_hdr *ip,
		      const struct ainftp_hdr *h)
{
	if (job->role != AINFTP_ROLE_LEAF)
		return AINFTP_BAD_TYPE;
	if (rte_be_to_cpu_16(h->worker) != AINFTP_WORKER_APPLIANCE)
		return AINFTP_BAD_WORKER;
	if (ip->src_addr != job->up.ipv4)
		return AINFTP_BAD_SOURCE;
	return AINFTP_OK;
}

/*
 * The result's payload where a RESULT frame has it: after the header and
 * its tag (tagged results), the same bytes a single box would have sent.
 */
static const void *
result_payload(const struct ainftp_hdr *h)
{
	return (const uint8_t *)(h + 1) + ((h->flags & AINFTP_F_AUTH) ? AINFTP_TAG_LEN : 0);
}

/*
 * The spine's result for a pending slot: its workers in it are exactly the
 * ones this leaf sent up, the tag (when the job tags results) is the
 * spine's under this leaf's key. Returns why not, or AINFTP_OK.
 */
static enum ainftp_bad
result_judge(const struct ainftp_dp_job *job, const struct ainftp_slot *s,
	     const struct ainftp_hdr *h, size_t udp_len)
{
	uint64_t bitmap = rte_be_to_cpu_64(h->bitmap), mine = job->leaf_workers[job->up.leaf];
	unsigned int count = h->contributors;

	if (h->encoding != job->rcodec->enc)
		return AINFTP_BAD_ENCODING;
	if (rte_be_to_cpu_16(h->elems) != job->elems)
		return AINFTP_BAD_ELEMS;
	if (job->result_tags && !(h->flags & AINFTP_F_AUTH))
		return AINFTP_BAD_AUTH_MISSING;
	if (!ainftp_slot_upstream(s) ||
	    ainftp_seq(rte_be_to_cpu_32(h->step), rte_be_to_cpu_32(h->chunk)) != s->seq)
		return AINFTP_BAD_STALE; /* a copy of a result taken, or of a chunk gone */
	/* The frame is ours to change: the check moves the header next to the payload. */
	if ((h->flags & AINFTP_F_AUTH) &&
	    !ainftp_result_verify(&job->up.key, (uint8_t *)(uintptr_t)h, udp_len))
		return AINFTP_BAD_TAG;
	if ((bitmap & mine) != s->incl || count != (unsigned int)__builtin_popcountll(bitmap))
		return AINFTP_BAD_VALUE;
	return AINFTP_OK;
}

void
ainftp_dp_leaf_result(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		      const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		      const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	uint16_t k = rte_be_to_cpu_16(h->slot);
	struct ainftp_slot *s = job->slots[k];
	/* Read before the tag's check moves the header. */
	uint8_t flags = h->flags, count = h->contributors;
	uint64_t bitmap = rte_be_to_cpu_64(h->bitmap);
	int8_t exp = h->scale_exp;
	const void *src = result_payload(h);
	enum ainftp_bad why;
	struct rte_mbuf *m;
	void *out;

	RTE_SET_USED(widx);
	RTE_SET_USED(eth);
	why = result_judge(job, s, h, rte_be_to_cpu_16(udp->dgram_len) - sizeof(*udp));
	if (unlikely(why != AINFTP_OK)) {
		ainftp_dp_bad(ctr, why);
		return;
	}
	__atomic_store_n(&job->up.heard_tsc, ctx->dp.now, __ATOMIC_RELAXED);
	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &m, 1) != 0)) {
		/* The frame's outcome (the spine sends the result again when asked). */
		ainftp_drop(ctr, AINFTP_DROP_RESULT_NOMBUF);
		return;
	}
	out = rte_pktmbuf_append(m, (uint16_t)job->result_len);
	memcpy(out, src, job->result_len);
	s->shadow_exp = exp;
	s->shadow_bitmap = bitmap;
	s->shadow_count = count;
	s->shadow_flags = flags & AINFTP_F_OVERFLOW;
	ainftp_ctr_add(&job->up.results, 1);
	ainftp_ctr_add(&ctr->spine_results, 1);
	ainftp_dp_slot_done(ctx, job, s, k, out, m, ctr);
}

/*
 * A HEARTBEAT from the spine (its control lcore): answered as a worker
 * answers, tagged under this leaf's key, so that the spine's quorum sees
 * the leaf alive; and the spine is heard.
 */
void
ainftp_dp_leaf_heartbeat(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
			 const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
			 const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	size_t len = sizeof(struct ainftp_hdr) + (job->auth ? AINFTP_TAG_LEN : 0);
	struct ainftp_msg m;
	struct rte_mbuf *r;
	char *p;

	RTE_SET_USED(widx);
	__atomic_store_n(&job->up.heard_tsc, ctx->dp.now, __ATOMIC_RELAXED);
	ainftp_ctr_add(&ctr->spine_heartbeats, 1); /* its outcome; an ack lost is counted apart */
	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &r, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_NOMBUF);
		return;
	}
	ainftp_hdr_read(h, &m); /* the sequence and the spine's TSC, echoed */
	m.type = AINFTP_MSG_HEARTBEAT_ACK;
	m.flags = job->auth ? AINFTP_F_AUTH : 0;
	m.worker = job->up.leaf;
	p = rte_pktmbuf_append(r, (uint16_t)(AINFTP_UDP_HDRS_LEN + len));
	ainftp_udp_headers(p, &ctx->net.mac[job->port_idx], &eth->src_addr, ctx->net.ipv4,
			   job->up.ipv4, udp->dst_port, udp->src_port, (uint16_t)len);
	p += AINFTP_UDP_HDRS_LEN;
	ainftp_hdr_write((struct ainftp_hdr *)p, &m);
	if (job->auth)
		ainftp_mac(&job->up.key, p, sizeof(struct ainftp_hdr),
			   (uint8_t *)p + sizeof(struct ainftp_hdr));
	ainftp_tx_enqueue(&ctx->txq[job->port_idx], r, ctr);
}

/*
 * The spine's STATE about a pending slot's partial sum (the answer to a
 * PROBE), tagged under this leaf's key: have, it waits for other leaves
 * (the next probe an rto later); missing, the parts it lacks go now (its
 * bitmap has the ones it has: none after a restart). Stale: the spine went
 * past the chunk, which only a spine that lost it can; the workers time out.
 */
void
ainftp_dp_leaf_state(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		     const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		     const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	uint16_t k = rte_be_to_cpu_16(h->slot);
	struct ainftp_slot *s = job->slots[k];
	const struct ainftp_state *b = (const struct ainftp_state *)(h + 1);
	size_t len = sizeof(*h) + AINFTP_BODY_LEN;
	uint64_t seq = ainftp_seq(rte_be_to_cpu_32(h->step), rte_be_to_cpu_32(h->chunk));
	struct ainftp_state_info si;

	RTE_SET_USED(widx);
	RTE_SET_USED(eth);
	RTE_SET_USED(udp);
	if (job->auth && (!(h->flags & AINFTP_F_AUTH) ||
			  !ainftp_mac_verify(&job->up.key, h, len, (const uint8_t *)h + len))) {
		ainftp_dp_bad(ctr, (h->flags & AINFTP_F_AUTH) ? AINFTP_BAD_TAG
							      : AINFTP_BAD_AUTH_MISSING);
		return;
	}
	__atomic_store_n(&job->up.heard_tsc, ctx->dp.now, __ATOMIC_RELAXED);
	ainftp_ctr_add(&ctr->spine_states, 1);
	if (!ainftp_slot_upstream(s) || seq != s->seq)
		return; /* answered already: the result came */
	ainftp_state_read(b, &si);
	if (si.reason == AINFTP_STATE_MISSING) {
		partial_out(ctx, job, s, k, (uint32_t)rte_be_to_cpu_64(h->bitmap), ctr);
		ainftp_ctr_add(&job->up.resent, 1);
	} else if (si.reason == AINFTP_STATE_MISMATCH) {
		/* Another leaf's workers are on another request: this one's probes say so. */
		s->desc_other = rte_be_to_cpu_64(h->bitmap);
	}
}
