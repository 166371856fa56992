/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The spine of a hierarchical job (docs/SCALEOUT.md): its contributors are
 * the leaves (worker index = leaf index), each sending its partial sum of a
 * chunk in parts (ainftp_partial.h). Every part is merged into the slot's
 * exact sum as it comes, in any order; a leaf is in once all its parts are,
 * and the chunk completes with every leaf in: the result, the same bits as
 * one box summing every worker, goes back to the leaves with the workers'
 * bitmap and count, and is kept for a leaf that sends a part again.
 */
#include <rte_cycles.h>

#include "ainftp_dp_private.h"
#include "ainftp_partial.h"

/* Every part of a partial sum of the job's chunks, in parts of bpp blocks. */
static inline uint32_t
parts_full(const struct ainftp_dp_job *job, uint32_t bpp)
{
	uint32_t n = ainftp_part_count(job->elems, bpp);

	return n >= 32 ? UINT32_MAX : (UINT32_C(1) << n) - 1;
}

/*
 * Where the part goes: AINFTP_OK to merge it into s (started for seq when
 * the slot's last chunk is complete), or why not. A part of the chunk kept
 * is answered with its result (RESEND as the slot says it).
 */
static enum ainftp_slot_action
part_offer(struct ainftp_slot *s, uint64_t seq, unsigned int leaf, uint32_t part)
{
	if (seq == s->shadow_seq)
		return AINFTP_SLOT_RESEND;
	if (seq == s->seq && !s->done)
		return (s->parts[leaf] >> part & 1) ? AINFTP_SLOT_DUP : AINFTP_SLOT_ADD;
	if (s->seq == AINFTP_SEQ_NONE || (seq > s->seq && s->done)) {
		ainftp_slot_start(s, seq);
		return AINFTP_SLOT_ADD;
	}
	/* An earlier chunk still sums: the leaf sends it again after its rto. */
	return seq > s->seq ? AINFTP_SLOT_BUSY : AINFTP_SLOT_STALE;
}

/*
 * What the part says of its leaf's partial sum against what earlier parts
 * said: its workers are the leaf's and counted right, and agree with the
 * leaf's earlier parts (the same workers, the same part size).
 */
static enum ainftp_bad
part_judge(const struct ainftp_dp_job *job, const struct ainftp_slot *s, unsigned int leaf,
	   const struct ainftp_part_info *pi, uint64_t bitmap, unsigned int count)
{
	uint64_t mine = job->leaf_workers[leaf];

	if ((bitmap & ~mine) != 0 || count != (unsigned int)__builtin_popcountll(bitmap))
		return AINFTP_BAD_VALUE;
	if (s->parts[leaf] == 0)
		return AINFTP_OK;
	if (pi->bpp != s->part_bpp[leaf])
		return AINFTP_BAD_LENGTH;
	return (s->wbitmap & mine) == bitmap ? AINFTP_OK : AINFTP_BAD_VALUE;
}

/*
 * The request the part's workers are on (its descriptor) against the
 * chunk's, the first leaf's: another one is never summed with it, and is
 * kept in mind so that a probe of either is told (ainftp_dp_spine_probe).
 */
static enum ainftp_bad
part_desc(struct ainftp_slot *s, uint64_t desc)
{
	if (s->bitmap == 0) {
		s->desc = desc;
		s->desc_other = 0;
	} else if (s->desc == 0) {
		s->desc = desc;
	} else if (desc != 0 && desc != s->desc) {
		s->desc_other = desc;
		return AINFTP_BAD_MISMATCH;
	}
	return AINFTP_OK;
}

/* The request other than desc that the summing chunk seq holds, 0 when none. */
static uint64_t
probe_desc_conflict(const struct ainftp_slot *s, uint64_t seq, uint64_t desc)
{
	if (desc == 0 || seq != s->seq || s->done)
		return 0;
	if (s->desc != 0 && s->desc != desc)
		return s->desc;
	return s->desc_other != 0 && s->desc_other != desc ? s->desc_other : 0;
}

/* The leaf's first part of the chunk: its workers are in the result's bitmap. */
static void
leaf_first(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s,
	   unsigned int leaf, uint32_t bpp, uint64_t bitmap, unsigned int count)
{
	uint64_t step = s->seq >> 32;

	if (s->bitmap == 0) { /* the chunk's first part, of any leaf */
		s->first_tsc = ctx->dp.now;
		if (step > job->max_step)
			__atomic_store_n(&job->max_step, step, __ATOMIC_RELAXED);
	}
	s->part_bpp[leaf] = (uint8_t)bpp;
	s->wbitmap |= bitmap;
	s->wcount = (uint8_t)(s->wcount + count);
	/* Heard from, so that a chunk in which no leaf has a worker is not taken for new. */
	s->bitmap |= UINT64_C(1) << leaf;
}

/* A refused part, counted; a kept chunk's is answered with its result. */
static void
part_refused(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job, struct ainftp_dp_worker *w,
	     const struct ainftp_slot *s, uint16_t k, enum ainftp_slot_action action,
	     const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
	     struct ainftp_port_ctr *ctr)
{
	static const enum ainftp_bad why[] = {
		[AINFTP_SLOT_DUP] = AINFTP_BAD_DUPLICATE,
		[AINFTP_SLOT_STALE] = AINFTP_BAD_STALE,
		[AINFTP_SLOT_BUSY] = AINFTP_BAD_SLOT_BUSY,
	};

	if (action == AINFTP_SLOT_RESEND) {
		ainftp_ctr_add(&ctr->data_answered, 1);
		ainftp_dp_result_resend(ctx, job, w, s, k, eth, udp, ctr);
		return;
	}
	ainftp_dp_bad(ctr, why[action]);
	ainftp_ctr_add(&w->drops, 1);
}

void
ainftp_dp_spine_part(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		     const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		     const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_worker *w = &job->workers[widx];
	uint16_t k = rte_be_to_cpu_16(h->slot);
	uint64_t seq = ainftp_seq(rte_be_to_cpu_32(h->step), rte_be_to_cpu_32(h->chunk));
	uint64_t bitmap = rte_be_to_cpu_64(h->bitmap);
	size_t len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(*udp) - sizeof(*h) -
		     ((h->flags & AINFTP_F_AUTH) ? AINFTP_TAG_LEN : 0);
	struct ainftp_slot *s = job->slots[k];
	struct rte_mbuf *result = NULL;
	enum ainftp_slot_action action;
	struct ainftp_part_info pi;
	enum ainftp_bad why;
	uint16_t base;

	/* The layout was checked whole before the tag (data_check): this only reads it. */
	(void)ainftp_part_parse(h + 1, len, job->elems, &pi);
	action = part_offer(s, seq, widx, pi.part);
	if (action != AINFTP_SLOT_ADD) {
		part_refused(ctx, job, w, s, k, action, eth, udp, ctr);
		return;
	}
	why = part_judge(job, s, widx, &pi, bitmap, h->contributors);
	if (why == AINFTP_OK)
		why = part_desc(s, pi.desc);
	/* A leaf whose sentry dropped every worker sends an empty sum: nothing to merge. */
	if (why == AINFTP_OK && h->contributors != 0 &&
	    ainftp_acc_merge_part(&s->acc, h + 1, len, job->codec->qbits, h->contributors) != 0)
		why = AINFTP_BAD_VALUE;
	if (unlikely(why != AINFTP_OK)) {
		ainftp_dp_bad(ctr, why);
		ainftp_ctr_add(&w->drops, 1);
		return;
	}
	if (s->parts[widx] == 0)
		leaf_first(ctx, job, s, widx, pi.bpp, bitmap, h->contributors);
	if (h->flags & AINFTP_F_OVERFLOW)
		s->acc.overflow = true;
	s->parts[widx] |= UINT32_C(1) << pi.part;
	/*
	 * A leaf sends a slot's parts from the port of the slot's lane (so that
	 * what answers it reaches the lcore that holds the slot): its port here
	 * is its lane 0's, and its results go to the port of their lane.
	 */
	base = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(udp->src_port) - k % job->lanes));
	if (unlikely(w->udp_port != base || !rte_is_same_ether_addr(&w->mac, &eth->src_addr)))
		ainftp_dp_worker_learn_at(ctx, job, w, eth, base);
	ainftp_ctr_add(&ctr->data_pkts, 1);
	if (s->parts[widx] != parts_full(job, pi.bpp))
		return;
	/* The leaf is in: a contributor of the slot like a worker of a box. */
	s->count++;
	ainftp_slot_include(s, UINT64_C(1) << widx);
	ainftp_ctr_add(&w->contribs, 1);
	if (!ainftp_dp_slot_ready(job, s))
		return;
	/* No mbuf for the result: the next scan completes it (the part is summed: its outcome). */
	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &result, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_NOMBUF);
		return;
	}
	ainftp_dp_slot_finish(ctx, job, s, k, result, ctr);
}

/*
 * A leaf's PROBE after its rto: the kept result if the chunk is complete,
 * else a STATE with the parts of its partial sum the spine has (have: all,
 * the chunk waits for other leaves; missing: the leaf sends the others), or
 * stale for a chunk the slot has gone past. A spine that restarted has
 * nothing, and says so: the leaf sends it all again.
 */
void
ainftp_dp_spine_probe(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		      const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		      const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_worker *w = &job->workers[widx];
	uint16_t k = rte_be_to_cpu_16(h->slot);
	uint64_t seq = ainftp_seq(rte_be_to_cpu_32(h->step), rte_be_to_cpu_32(h->chunk));
	const struct ainftp_slot *s = job->slots[k];
	enum ainftp_state_reason reason = AINFTP_STATE_MISSING;
	uint64_t parts = 0, other = probe_desc_conflict(s, seq, rte_be_to_cpu_64(h->bitmap));

	ainftp_ctr_add(&ctr->probes, 1);
	if (other != 0) {
		ainftp_dp_parts_out(ctx, job, w, s, h, AINFTP_STATE_MISMATCH, other, eth, udp, ctr);
		return;
	}
	if (seq == s->shadow_seq) {
		ainftp_dp_result_resend(ctx, job, w, s, k, eth, udp, ctr);
		return;
	}
	if (seq == s->seq && !s->done) {
		parts = s->parts[widx];
		if (s->bitmap >> widx & 1 && parts == parts_full(job, s->part_bpp[widx]))
			reason = AINFTP_STATE_HAVE;
	} else if (s->seq != AINFTP_SEQ_NONE && seq < s->seq) {
		reason = AINFTP_STATE_STALE;
	}
	ainftp_dp_parts_out(ctx, job, w, s, h, reason, parts, eth, udp, ctr);
}
