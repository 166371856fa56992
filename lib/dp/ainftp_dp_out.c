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
 * One copy of the result to one worker in h: its headers (tmpl: Ethernet,
 * IPv4 and UDP to it; learnt: its learnt template, to its lane 0's port when
 * it is a leaf), room for its tag when results are tagged (returned, else
 * NULL), then the payload, shared or copied. Not sent yet: its tag may be due.
 */
static uint8_t *
result_copy(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job, const uint8_t *tmpl,
	    bool learnt, const struct ainftp_hdr *rh, uint16_t lane, struct rte_mbuf *payload,
	    struct rte_mbuf *h, struct ainftp_port_ctr *ctr)
{
	bool chain = ctx->multiseg[job->port_idx];
	uint16_t tl = result_tag_len(job);
	char *p = rte_pktmbuf_append(h, RESULT_HDRS_LEN + tl + (chain ? 0 : job->result_len));
	struct rte_udp_hdr *udp =
		(struct rte_udp_hdr *)(p + RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr));
	uint8_t *tag = tl != 0 ? (uint8_t *)p + RESULT_HDRS_LEN : NULL;

	memcpy(p, tmpl, AINFTP_UDP_HDRS_LEN);
	udp->src_port = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ctx->net.udp_port) + lane));
	/* A leaf (the spine's "worker") takes a slot's result on the port of the slot's lane. */
	if (learnt && job->role == AINFTP_ROLE_SPINE)
		udp->dst_port =
			rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(udp->dst_port) + lane));
	memcpy(udp + 1, rh, sizeof(*rh));
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
	return tag;
}

void
ainftp_dp_tags_flush(struct ainftp_rx_ctx *ctx)
{
	struct ainftp_tags_due *d = &ctx->dp.tags_due;
	uint8_t tags[AINFTP_TAGS_DUE][AINFTP_TAG_LEN];
	unsigned int i;

	if (d->n == 0)
		return;
	ainftp_mac_many(ctx->dp.mac, d->mk, d->msg, d->len, tags, d->n);
	for (i = 0; i < d->n; i++) {
		uint16_t port = d->port_idx[i];

		memcpy(d->tag[i], tags[i], AINFTP_TAG_LEN);
		if (d->hold[i] != NULL)
			rte_pktmbuf_free(d->hold[i]);
		ainftp_tx_enqueue(&ctx->txq[port], d->m[i], &ctx->stats->port[port]);
	}
	d->n = 0;
}

/*
 * A copy whose tag is due at the end of the burst, over the bytes at msg
 * (the header copied in front of the shared payload, in its headroom, which
 * is never sent: each copy's own header is in its own mbuf). A copied
 * payload's mbuf gets a reference until then; a chained one has its own.
 */
static void
tag_due(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job, struct rte_mbuf *h,
	uint8_t *tag, const struct ainftp_mac_key *mk, const void *msg, struct rte_mbuf *hold)
{
	struct ainftp_tags_due *d = &ctx->dp.tags_due;

	if (unlikely(d->n == AINFTP_TAGS_DUE))
		ainftp_dp_tags_flush(ctx);
	d->m[d->n] = h;
	d->port_idx[d->n] = job->port_idx;
	d->tag[d->n] = tag;
	d->hold[d->n] = hold;
	d->mk[d->n] = mk;
	d->msg[d->n] = msg;
	d->len[d->n] = sizeof(struct ainftp_hdr) + job->result_len;
	d->n++;
}

/*
 * The result to n workers (tmpl: their frame headers, else each one's learnt
 * template): their header mbufs in one allocation, and the payload's
 * reference count raised once for all the copies that share it. Tagged, each
 * copy waits for the end of the burst, when the tags of every result of the
 * burst are made together (ainftp_dp_tags_flush).
 */
static void
result_send(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	    struct ainftp_dp_worker *const *to, unsigned int n, const uint8_t *tmpl,
	    const struct ainftp_hdr *rh, uint16_t lane, struct rte_mbuf *payload,
	    struct ainftp_port_ctr *ctr)
{
	bool chain = ctx->multiseg[job->port_idx];
	struct rte_mbuf *h[AINFTP_MAX_WORKERS];
	char *signed_bytes = rte_pktmbuf_mtod(payload, char *) - sizeof(*rh);
	unsigned int i;

	if (n == 0)
		return;
	if (unlikely(ainftp_mstash_take(chain ? &ctx->dp.hdr_stash : &ctx->dp.result_stash, h, n) !=
		     0)) {
		ainftp_ctr_add(&ctr->drops[AINFTP_DROP_NOMBUF], n);
		return;
	}
	RTE_BUILD_BUG_ON(RTE_PKTMBUF_HEADROOM < sizeof(struct ainftp_hdr));
	if (job->result_tags)
		memcpy(signed_bytes, rh, sizeof(*rh));
	if (chain || job->result_tags)
		rte_mbuf_refcnt_update(payload, (int16_t)n);
	for (i = 0; i < n; i++) {
		uint8_t *tag = result_copy(ctx, job, tmpl != NULL ? tmpl : to[i]->tmpl,
					   tmpl == NULL, rh, lane, payload, h[i], ctr);

		if (tag != NULL)
			tag_due(ctx, job, h[i], tag, &to[i]->key, signed_bytes,
				chain ? NULL : payload);
		else
			ainftp_tx_enqueue(&ctx->txq[job->port_idx], h[i], ctr);
	}
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
	result_send(ctx, job, to, n, NULL, &rh, (uint16_t)(k % job->lanes), payload, ctr);
}

void
ainftp_dp_result_resend(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			struct ainftp_dp_worker *w, const struct ainftp_slot *s, uint16_t k,
			const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
			struct ainftp_port_ctr *ctr)
{
	uint8_t tmpl[AINFTP_UDP_HDRS_LEN];
	const uint8_t *to = w->tmpl;
	struct ainftp_hdr rh;

	/*
	 * To where it asked from: a restarted worker's first packets are stale or
	 * probes, which never teach its address (only a fresh contribution does),
	 * so what was learnt may be its old process's port.
	 */
	if (udp->src_port != w->udp_port || !rte_is_same_ether_addr(&eth->src_addr, &w->mac)) {
		ainftp_udp_headers(tmpl, &ctx->net.mac[job->port_idx], &eth->src_addr,
				   ctx->net.ipv4, w->ipv4, ctx->net.udp_port, udp->src_port,
				   (uint16_t)(sizeof(struct ainftp_hdr) + result_tag_len(job) +
					      job->result_len));
		to = tmpl;
	}
	result_header(job, s, k, &rh);
	result_send(ctx, job, &w, 1, to, &rh, (uint16_t)(k % job->lanes), s->shadow, ctr);
	ainftp_ctr_add(&ctr->results_resent, 1);
}

/*
 * A reply to one packet: Ethernet, IPv4 and UDP back to where it came from
 * (its source MAC, address and port, from the port it was sent to), then the
 * header and the 16-byte body, tagged under mk with alg unless mk is NULL. No mbuf: lost,
 * counted; the worker asks again.
 */
static void
reply_out(struct ainftp_rx_ctx *ctx, uint16_t port_idx, const struct ainftp_msg *m,
	  const void *body, const struct ainftp_mac_key *mk, enum ainftp_mac_alg alg,
	  const struct rte_ether_hdr *eth, uint32_t dst_ip, const struct rte_udp_hdr *udp,
	  struct ainftp_port_ctr *ctr)
{
	size_t signed_len = sizeof(struct ainftp_hdr) + AINFTP_BODY_LEN;
	size_t len = signed_len + (mk != NULL ? AINFTP_TAG_LEN : 0);
	struct rte_mbuf *r;
	char *p;

	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &r, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_NOMBUF);
		return;
	}
	p = rte_pktmbuf_append(r, (uint16_t)(AINFTP_UDP_HDRS_LEN + len));
	ainftp_udp_headers(p, &ctx->net.mac[port_idx], &eth->src_addr, ctx->net.ipv4, dst_ip,
			   udp->dst_port, udp->src_port, (uint16_t)len);
	p += AINFTP_UDP_HDRS_LEN;
	ainftp_hdr_write((struct ainftp_hdr *)p, m);
	memcpy(p + sizeof(struct ainftp_hdr), body, AINFTP_BODY_LEN);
	if (mk != NULL)
		ainftp_mac_as(mk, alg, p, signed_len, (uint8_t *)p + signed_len);
	ainftp_tx_enqueue(&ctx->txq[port_idx], r, ctr);
}

/* A STATE whose header says contributors and bitmap as given (the slot's, or a spine's parts). */
static void
state_reply(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	    const struct ainftp_dp_worker *w, const struct ainftp_slot *s,
	    const struct ainftp_hdr *h, enum ainftp_state_reason reason, uint8_t contributors,
	    uint64_t bitmap, const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
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
	m.contributors = contributors;
	m.bitmap = bitmap;
	if (si.slot_state == AINFTP_SLOT_WIRE_IDLE)
		si.slot_step = si.slot_chunk = 0;
	ainftp_state_write(&body, &si);
	reply_out(ctx, job->port_idx, &m, &body, job->auth ? &w->key : NULL, w->key.alg, eth,
		  w->ipv4, udp, ctr);
	ainftp_ctr_add(&ctr->states_sent, 1);
}

void
ainftp_dp_state_out(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
		    const struct ainftp_dp_worker *w, const struct ainftp_slot *s,
		    const struct ainftp_hdr *h, enum ainftp_state_reason reason,
		    const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
		    struct ainftp_port_ctr *ctr)
{
	/* A mismatch names the other request instead (ainftp_req_desc): no workers. */
	if (reason == AINFTP_STATE_MISMATCH)
		state_reply(ctx, job, w, s, h, reason, 0,
			    ainftp_slot_desc_conflict(s,
						      ainftp_seq(rte_be_to_cpu_32(h->step),
								 rte_be_to_cpu_32(h->chunk)),
						      rte_be_to_cpu_64(h->bitmap), true),
			    eth, udp, ctr);
	else
		state_reply(ctx, job, w, s, h, reason, s->count, s->bitmap, eth, udp, ctr);
}

void
ainftp_dp_parts_out(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
		    const struct ainftp_dp_worker *w, const struct ainftp_slot *s,
		    const struct ainftp_hdr *h, enum ainftp_state_reason reason, uint64_t bitmap,
		    const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
		    struct ainftp_port_ctr *ctr)
{
	state_reply(ctx, job, w, s, h, reason, 0, bitmap, eth, udp, ctr);
}

void
ainftp_dp_hello_out(struct ainftp_rx_ctx *ctx, uint16_t port_idx, const struct ainftp_dp_job *job,
		    const struct ainftp_mac_key *mk, const struct ainftp_hdr *h,
		    enum ainftp_hello_status status, uint32_t step, const struct rte_ether_hdr *eth,
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
		hi.step = step;
		hi.auth = (uint8_t)((job->auth ? AINFTP_HELLO_AUTH_DATA : 0) |
				    (job->result_tags ? AINFTP_HELLO_AUTH_RESULTS : 0) |
				    (job->auth && job->auth_mac == AINFTP_MAC_POLYVAL_AES
					     ? AINFTP_HELLO_AUTH_POLYVAL
					     : 0));
		hi.shard = job->shard_index;
		hi.shards = job->shard_count;
	}
	ainftp_hello_write(&body, &hi);
	/* The handshake is SipHash's: the worker learns the job's MAC from this ack. */
	reply_out(ctx, port_idx, &m, &body, mk, AINFTP_MAC_SIPHASH, eth, src_ip, udp, ctr);
}
