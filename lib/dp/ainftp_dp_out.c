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

/*
 * Ethernet, IPv4 and UDP of every result copy to one worker: the same bytes each
 * time but for the UDP source port (the lane's), so they are built once, when
 * the worker's address is learnt, checksum included.
 */
void
ainftp_dp_result_template(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			  struct ainftp_dp_worker *w)
{
	ainftp_udp_headers(w->tmpl, &ctx->net.mac[job->port_idx], &w->mac, ctx->net.ipv4, w->ipv4,
			   ctx->net.udp_port, w->udp_port,
			   (uint16_t)(sizeof(struct ainftp_hdr) + job->result_len));
}

/* One copy of the result to one worker in h: its headers, then the payload, shared or copied. */
static void
result_copy(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	    const struct ainftp_dp_worker *w, const struct ainftp_hdr *rh, uint16_t lane,
	    struct rte_mbuf *payload, struct rte_mbuf *h, struct ainftp_port_ctr *ctr)
{
	bool chain = ctx->multiseg[job->port_idx];
	char *p = rte_pktmbuf_append(h, RESULT_HDRS_LEN + (chain ? 0 : job->result_len));
	struct rte_udp_hdr *udp =
		(struct rte_udp_hdr *)(p + RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr));

	memcpy(p, w->tmpl, sizeof(w->tmpl));
	udp->src_port = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ctx->net.udp_port) + lane));
	memcpy(udp + 1, rh, sizeof(*rh));
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
	unsigned int i;

	if (n == 0)
		return;
	if (unlikely(ainftp_mstash_take(chain ? &ctx->dp.hdr_stash : &ctx->dp.result_stash, h, n) !=
		     0)) {
		ainftp_ctr_add(&ctr->drops[AINFTP_DROP_RESULT_NOMBUF], n);
		return;
	}
	if (chain)
		rte_mbuf_refcnt_update(payload, (int16_t)n);
	for (i = 0; i < n; i++)
		result_copy(ctx, job, to[i], rh, lane, payload, h[i], ctr);
}

static void
result_header(const struct ainftp_dp_job *job, const struct ainftp_slot *s, uint16_t k,
	      struct ainftp_hdr *rh)
{
	struct ainftp_msg msg = {
		.type = AINFTP_MSG_RESULT,
		.encoding = (uint8_t)job->rcodec->enc,
		.flags = s->shadow_flags,
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
