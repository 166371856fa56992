/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The last stage: a finished slot's result to the result sink and to every
 * worker of the job, and a kept result again to a worker that retransmitted.
 */
#include <string.h>

#include <rte_ip.h>

#include "ainftp_dp_private.h"

/* What each result copy carries in front of the payload: its frame headers and ainftp's. */
#define RESULT_HDRS_LEN (AINFTP_UDP_HDRS_LEN + sizeof(struct ainftp_hdr))

/* A RESULT's tag follows its header, so the payload after it is shared by every copy. */
static inline uint16_t
result_tag_len(const struct ainftp_dp_job *job)
{
	return job->result_tags ? AINFTP_TAG_LEN : 0;
}

/*
 * Ethernet, IPv4 and UDP of every result copy to one worker: the same bytes each
 * time but for the UDP source port (the lane's), so they are built once, when
 * the worker's address is learnt, checksum included.
 */
void
ainftp_dp_result_template(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			  struct ainftp_dp_worker *w)
{
	ainftp_udp_headers(
		w->tmpl, &ctx->net.mac[job->port_idx], &w->mac, ctx->net.ipv4, w->ipv4,
		ctx->net.udp_port, w->udp_port,
		(uint16_t)(sizeof(struct ainftp_hdr) + result_tag_len(job) + job->result_len));
}

/*
 * One copy of the result to one worker in h: its headers and its tag (NULL:
 * the job has no auth), then the payload, shared or copied.
 */
static void
result_copy(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	    const struct ainftp_dp_worker *w, const struct ainftp_hdr *rh, const uint8_t *tag,
	    uint16_t lane, struct rte_mbuf *payload, struct rte_mbuf *h,
	    struct ainftp_port_ctr *ctr)
{
	bool chain = ctx->multiseg[job->port_idx];
	uint16_t tl = result_tag_len(job);
	char *p = rte_pktmbuf_append(h, RESULT_HDRS_LEN + tl + (chain ? 0 : job->result_len));
	struct rte_udp_hdr *udp =
		(struct rte_udp_hdr *)(p + RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr));

	memcpy(p, w->tmpl, sizeof(w->tmpl));
	udp->src_port = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ctx->net.udp_port) + lane));
	memcpy(udp + 1, rh, sizeof(*rh));
	if (tl != 0)
		memcpy(p + RESULT_HDRS_LEN, tag, tl);
	p += tl;
	if (chain) {
		h->next = payload;
		h->nb_segs = 2;
		h->pkt_len += job->result_len;
	} else {
		/* The port cannot send chains: one copy per worker. */
		memcpy(p + RESULT_HDRS_LEN, rte_pktmbuf_mtod(payload, void *), job->result_len);
	}
	ainftp_ctr_add(&ctr->results_sent, 1);
	ainftp_tx_enqueue(&ctx->txq[job->port_idx], h, ctr);
}

/*
 * Each worker's tag over the result's header and payload. The workers' keys
 * differ but the bytes do not, so the MAC's SIMD lanes take them all in one
 * pass: the header is copied into the payload mbuf's headroom, right in
 * front of the payload, which makes the signed bytes contiguous (the
 * headroom is never sent: each copy's own header goes in its own mbuf).
 */
static void
result_tags(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	    struct ainftp_dp_worker *const *to, unsigned int n, const struct ainftp_hdr *rh,
	    struct rte_mbuf *payload, uint8_t (*tags)[AINFTP_TAG_LEN])
{
	const struct ainftp_mac_key *mk[AINFTP_MAX_WORKERS];
	const void *msg[AINFTP_MAX_WORKERS];
	size_t len[AINFTP_MAX_WORKERS];
	char *signed_bytes = rte_pktmbuf_mtod(payload, char *) - sizeof(*rh);
	unsigned int i;

	RTE_BUILD_BUG_ON(RTE_PKTMBUF_HEADROOM < sizeof(struct ainftp_hdr));
	memcpy(signed_bytes, rh, sizeof(*rh));
	for (i = 0; i < n; i++) {
		mk[i] = &to[i]->key;
		msg[i] = signed_bytes;
		len[i] = sizeof(*rh) + job->result_len;
	}
	ainftp_mac_many(ctx->dp.mac, mk, msg, len, tags, n);
}

/*
 * The result to n workers: their header mbufs in one allocation, and the
 * payload's reference count raised once for all the copies that share it.
 */
static void
result_send(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	    struct ainftp_dp_worker *const *to, unsigned int n, const struct ainftp_hdr *rh,
	    uint16_t lane, struct rte_mbuf *payload, struct ainftp_port_ctr *ctr)
{
	bool chain = ctx->multiseg[job->port_idx];
	struct rte_mbuf *h[AINFTP_MAX_WORKERS];
	uint8_t tags[AINFTP_MAX_WORKERS][AINFTP_TAG_LEN];
	unsigned int i;

	if (n == 0)
		return;
	if (unlikely(ainftp_mstash_take(chain ? &ctx->dp.hdr_stash : &ctx->dp.result_stash, h, n) !=
		     0)) {
		ainftp_ctr_add(&ctr->drops[AINFTP_DROP_RESULT_NOMBUF], n);
		return;
	}
	if (job->result_tags)
		result_tags(ctx, job, to, n, rh, payload, tags);
	if (chain)
		rte_mbuf_refcnt_update(payload, (int16_t)n);
	for (i = 0; i < n; i++)
		result_copy(ctx, job, to[i], rh, tags[i], lane, payload, h[i], ctr);
}

static void
result_header(const struct ainftp_dp_job *job, const struct ainftp_slot *s, uint16_t k,
	      struct ainftp_hdr *rh)
{
	struct ainftp_msg msg = {
		.type = AINFTP_MSG_RESULT,
		.encoding = (uint8_t)job->rcodec->enc,
		.flags = (uint8_t)(s->shadow_flags | (job->result_tags ? AINFTP_F_AUTH : 0)),
		.job = job->id,
		.worker = AINFTP_WORKER_APPLIANCE,
		.elems = job->elems,
		.step = (uint32_t)(s->shadow_seq >> 32),
		.chunk = (uint32_t)s->shadow_seq,
		.slot = k,
		.scale_exp = s->shadow_exp,
		.contributors = s->shadow_count,
		.bitmap = s->shadow_bitmap,
	};

	ainftp_hdr_write(rh, &msg);
}

/*
 * The payload is final: the same bytes go to the arena, once per completed chunk
 * (a retransmission resends the shadow and never comes here).
 */
static void
sink_put(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, const struct ainftp_slot *s,
	 uint16_t k, const void *out)
{
	ainftp_sink_put(ctx->dp.sink,
			(struct ainftp_sink_mark *)((char *)job->sink_entries +
						    (size_t)k * job->sink_stride),
			s->shadow_seq, out, job->result_len, s->shadow_bitmap, s->shadow_count,
			s->shadow_exp, s->shadow_flags);
	ainftp_ctr_add(&ctx->stats->sink_written, 1);
	job->sink_put++;
	ctx->dp.bells_due |= UINT32_C(1) << job->idx;
}

void
ainftp_dp_result_out(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job,
		     const struct ainftp_slot *s, uint16_t k, const void *out,
		     struct rte_mbuf *payload, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_worker *to[AINFTP_MAX_WORKERS];
	struct ainftp_hdr rh;
	unsigned int n = 0;
	uint16_t i;

	if (job->sink_entries != NULL)
		sink_put(ctx, job, s, k, out);
	result_header(job, s, k, &rh);
	/* Every worker that has been heard from; the others have nowhere to be sent to. */
	for (i = 0; i < job->n_workers; i++)
		if (job->workers[i].udp_port != 0)
			to[n++] = &job->workers[i];
	result_send(ctx, job, to, n, &rh, (uint16_t)(k % job->lanes), payload, ctr);
}

void
ainftp_dp_result_resend(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			struct ainftp_dp_worker *w, const struct ainftp_slot *s, uint16_t k,
			struct ainftp_port_ctr *ctr)
{
	struct ainftp_hdr rh;

	result_header(job, s, k, &rh);
	/* Only to a worker heard from here: it is where its template comes from. */
	result_send(ctx, job, &w, w->udp_port != 0, &rh, (uint16_t)(k % job->lanes), s->shadow,
		    ctr);
	ainftp_ctr_add(&ctr->results_resent, 1);
}

/*
 * A reply to one packet: Ethernet, IPv4 and UDP back to where it came from
 * (its source MAC, address and port, from the port it was sent to), then the
 * header and the 16-byte body, tagged under mk unless NULL. No mbuf: lost,
 * counted; the worker asks again.
 */
static void
reply_out(struct ainftp_rx_ctx *ctx, uint16_t port_idx, const struct ainftp_msg *m,
	  const void *body, const struct ainftp_mac_key *mk, const struct rte_ether_hdr *eth,
	  uint32_t dst_ip, const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	size_t signed_len = sizeof(struct ainftp_hdr) + AINFTP_BODY_LEN;
	size_t len = signed_len + (mk != NULL ? AINFTP_TAG_LEN : 0);
	struct rte_mbuf *r;
	char *p;

	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &r, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_RESULT_NOMBUF);
		return;
	}
	p = rte_pktmbuf_append(r, (uint16_t)(AINFTP_UDP_HDRS_LEN + len));
	ainftp_udp_headers(p, &ctx->net.mac[port_idx], &eth->src_addr, ctx->net.ipv4, dst_ip,
			   udp->dst_port, udp->src_port, (uint16_t)len);
	p += AINFTP_UDP_HDRS_LEN;
	ainftp_hdr_write((struct ainftp_hdr *)p, m);
	memcpy(p + sizeof(struct ainftp_hdr), body, AINFTP_BODY_LEN);
	if (mk != NULL)
		ainftp_mac(mk, p, signed_len, (uint8_t *)p + signed_len);
	ainftp_tx_enqueue(&ctx->txq[port_idx], r, ctr);
}

void
ainftp_dp_state_out(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
		    const struct ainftp_dp_worker *w, const struct ainftp_slot *s,
		    const struct ainftp_hdr *h, enum ainftp_state_reason reason,
		    const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
		    struct ainftp_port_ctr *ctr)
{
	struct ainftp_msg m;
	struct ainftp_state_info si = {
		.slot_step = (uint32_t)(s->seq >> 32),
		.slot_chunk = (uint32_t)s->seq,
		.next_step = job->done_next,
		.reason = (uint8_t)reason,
		.slot_state = s->seq == AINFTP_SEQ_NONE ? AINFTP_SLOT_WIRE_IDLE
			      : s->done			? AINFTP_SLOT_WIRE_DONE
							: AINFTP_SLOT_WIRE_SUMMING,
	};
	struct ainftp_state body;

	/* The chunk answered, as the worker named it; the slot's own state in the body. */
	ainftp_hdr_read(h, &m);
	m.type = AINFTP_MSG_STATE;
	m.encoding = 0;
	m.flags = job->auth ? AINFTP_F_AUTH : 0;
	m.worker = AINFTP_WORKER_APPLIANCE;
	m.elems = 0;
	m.scale_exp = 0;
	m.contributors = s->count;
	m.bitmap = s->bitmap;
	if (si.slot_state == AINFTP_SLOT_WIRE_IDLE)
		si.slot_step = si.slot_chunk = 0;
	ainftp_state_write(&body, &si);
	reply_out(ctx, job->port_idx, &m, &body, job->auth ? &w->key : NULL, eth, w->ipv4, udp,
		  ctr);
	ainftp_ctr_add(&ctr->states_sent, 1);
}

void
ainftp_dp_hello_out(struct ainftp_rx_ctx *ctx, uint16_t port_idx, const struct ainftp_dp_job *job,
		    const struct ainftp_mac_key *mk, const struct ainftp_hdr *h,
		    enum ainftp_hello_status status, const struct rte_ether_hdr *eth,
		    uint32_t src_ip, const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	struct ainftp_hello_info hi = {.status = (uint8_t)status};
	struct ainftp_hello body;
	struct ainftp_msg m;

	ainftp_hdr_read(h, &m); /* job, worker and the nonce (bitmap) echoed */
	m.type = AINFTP_MSG_HELLO_ACK;
	m.flags = mk != NULL ? AINFTP_F_AUTH : 0;
	m.step = m.chunk = 0;
	m.slot = 0;
	m.scale_exp = 0;
	m.contributors = 0;
	if (job != NULL) {
		m.encoding = (uint8_t)job->codec->enc;
		m.elems = job->elems;
		hi.slots = job->n_slots;
		hi.lanes = job->lanes;
		hi.result_encoding = (uint8_t)job->rcodec->enc;
		hi.step = job->done_next;
		hi.auth = (uint8_t)((job->auth ? AINFTP_HELLO_AUTH_DATA : 0) |
				    (job->result_tags ? AINFTP_HELLO_AUTH_RESULTS : 0));
	}
	ainftp_hello_write(&body, &hi);
	reply_out(ctx, port_idx, &m, &body, mk, eth, src_ip, udp, ctr);
	ainftp_ctr_add(&ctr->hellos, 1);
}
