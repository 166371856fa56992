/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The middle stage: a checked contribution offered to its slot, judged by the
 * job's sentry, added into the slot's sum by the job's codec and timed; a slot
 * whose quorum is in turned into its result and handed to the output stage.
 * Also what each poll starts with: the quorum's snapshot and the scan of the
 * open slots.
 */
#include <rte_cycles.h>
#include <rte_ring.h>

#include "ainftp_dp_private.h"

/* What this lcore's sentry said of worker widx so far, for the control lcore. */
static inline void
sentry_publish(struct ainftp_dp_job *job, unsigned int widx)
{
	const struct ainftp_sentry_worker *sw = &job->sentry->w[widx];
	struct ainftp_dp_worker *w = &job->workers[widx];

	__atomic_store_n(&w->sentry_seen, sw->seen, __ATOMIC_RELAXED);
	__atomic_store_n(&w->sentry_flagged, sw->flagged, __ATOMIC_RELAXED);
}

/*
 * trimmed_mean / median at completion: the rule over the rows of the workers
 * included, in worker-id order (so the result does not depend on arrival
 * order), minus any quarantined since they contributed; its output (centre
 * times n) is the slot's one contribution, through acc_f32 like any float32
 * payload, so the result encoding is the job's. An output that is not finite
 * (a float overflow of centre x n) leaves the sum empty, flagged overflow.
 */
static void
robust_finish(struct ainftp_dp *dp, struct ainftp_dp_job *job, struct ainftp_slot *s)
{
	const float *x[AINFTP_MAX_WORKERS];
	uint16_t widx[AINFTP_MAX_WORKERS], n = 0, i;
	uint64_t incl = s->incl & ~job->q.quarantined, m;

	for (m = incl; m != 0; m &= m - 1) {
		uint8_t idx = job->worker_idx[__builtin_ctzll(m)];

		x[n] = s->rows + (size_t)idx * job->elems;
		widx[n++] = idx;
	}
	ainftp_acc_reset(&s->acc);
	s->incl = incl;
	s->n_incl = (uint8_t)n;
	if (n == 0)
		return;
	if (unlikely(job->rule->finish(job->sentry, x, widx, n, dp->scratch) != 0)) {
		/* Cannot happen (the workers are distinct and admitted); never a wrong sum. */
		s->incl = 0;
		s->n_incl = 0;
		return;
	}
	for (i = 0; i < n; i++)
		sentry_publish(job, widx[i]);
	if (unlikely(dp->k.q->acc_f32(&s->acc, dp->scratch) != 0)) {
		ainftp_acc_reset(&s->acc);
		s->acc.overflow = true;
	}
}

/* A checked payload into the slot's sum; -1 when a float32 payload holds NaN or Inf. */
static inline int
payload_add(struct ainftp_dp *dp, const struct ainftp_dp_job *job, struct ainftp_slot *s,
	    const struct ainftp_hdr *h)
{
	return job->codec->accumulate(&dp->k, &s->acc, h + 1, h->scale_exp, dp->scratch);
}

/*
 * A checked contribution of worker widx under the job's sentry rule: 1 used
 * (added, or kept as its row for the robust rules), 0 dropped by the sentry,
 * -1 a float32 payload with a NaN or an infinity (judged by nobody).
 */
static int
sentry_add(struct ainftp_dp *dp, struct ainftp_dp_job *job, unsigned int widx,
	   struct ainftp_slot *s, const struct ainftp_hdr *h)
{
	float *row = s->rows == NULL ? NULL : s->rows + (size_t)widx * job->elems;
	int used = ainftp_sentry_take(job->rule, job->sentry, (uint16_t)widx, job->codec, &dp->k,
				      h + 1, h->scale_exp, &s->acc, row, dp->scratch);

	sentry_publish(job, widx);
	return used;
}

/* One more lateness sample of worker w on this lcore (single writer: plain arithmetic). */
static inline void
lag_sample(struct ainftp_dp_worker *w, uint64_t cycles)
{
	int64_t e = (int64_t)w->lag_ewma;

	e += ((int64_t)(cycles << 4) - e) / 8;
	__atomic_store_n(&w->lag_ewma, (uint64_t)e, __ATOMIC_RELAXED);
	ainftp_ctr_add(&w->lag_samples, 1);
}

/*
 * What a refused contribution says of its sender's lag. A retransmission of a
 * chunk it is in says nothing (its result was lost); of a chunk completed
 * without it, the lateness is exact; a stale one is later still than the
 * chunk kept, and at least a threshold late: its slot has moved on without it.
 */
static void
late_sample(const struct ainftp_dp *dp, const struct ainftp_dp_job *job, struct ainftp_dp_worker *w,
	    const struct ainftp_slot *s, uint64_t bit, bool stale)
{
	uint64_t late = s->shadow_seq == AINFTP_SEQ_NONE ? 0 : dp->now - s->shadow_first_tsc;

	if (stale)
		lag_sample(w, RTE_MAX(late, job->threshold));
	else if (!(s->shadow_bitmap & bit))
		lag_sample(w, late);
}

/* After an ADD: a new chunk starts its clock (and may raise the highest step), or one more is
 * timed against it. */
static void
added_timing(struct ainftp_dp *dp, struct ainftp_dp_job *job, struct ainftp_dp_worker *w,
	     struct ainftp_slot *s)
{
	uint64_t step = s->seq >> 32;

	if (s->count == 1) {
		s->first_tsc = dp->now;
		if (step > job->max_step)
			__atomic_store_n(&job->max_step, step, __ATOMIC_RELAXED);
	}
	lag_sample(w, dp->now - s->first_tsc);
}

/* The members the slot's chunk waits for, and whether it may complete now. */
bool
ainftp_dp_slot_ready(const struct ainftp_dp_job *job, const struct ainftp_slot *s)
{
	return ainftp_slot_ready(s, ainftp_quorum_required(&job->q, (uint32_t)(s->seq >> 32)),
				 job->quorum, job->min_quorum);
}

/* A result without every worker: counted, and how long its slot waited, for the report. */
static void
partial_done(const struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job,
	     const struct ainftp_slot *s, struct ainftp_port_ctr *ctr)
{
	uint64_t waited = ctx->dp.now - s->first_tsc;

	ainftp_ctr_add(&ctr->chunks_partial, 1);
	if (waited > job->partial_wait_max)
		__atomic_store_n(&job->partial_wait_max, waited, __ATOMIC_RELAXED);
}

void
ainftp_dp_slot_done(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s,
		    uint16_t k, const void *out, struct rte_mbuf *payload,
		    struct ainftp_port_ctr *ctr)
{
	rte_pktmbuf_free(ainftp_slot_complete(s, payload));
	if ((uint32_t)(s->shadow_seq >> 32) >= job->done_next)
		job->done_next = (uint32_t)(s->shadow_seq >> 32) + 1;
	ainftp_ctr_add(&ctr->chunks_done, 1);
	ainftp_lat_hist_add(&job->latency, ctx->dp.now - s->first_tsc);
	if (s->count < job->n_workers)
		partial_done(ctx, job, s, ctr);
	if (s->shadow_flags & AINFTP_F_OVERFLOW)
		ainftp_ctr_add(&ctr->overflows, 1);
	ainftp_dp_result_out(ctx, job, s, k, out, payload, ctr);
}

void
ainftp_dp_slot_finish(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s,
		      uint16_t k, struct rte_mbuf *payload, struct ainftp_port_ctr *ctr)
{
	void *out;

	/* A leaf's sum is not the result: it goes to the spine, whose result completes it. */
	if (job->role == AINFTP_ROLE_LEAF) {
		rte_pktmbuf_free(payload);
		ainftp_dp_leaf_up(ctx, job, s, k, ctr);
		return;
	}
	out = rte_pktmbuf_append(payload, (uint16_t)job->result_len);
	if (s->rows != NULL)
		robust_finish(&ctx->dp, job, s);
	s->shadow_exp = job->rcodec->result_encode(&ctx->dp.k, &s->acc, out);
	/* Who is in it: those heard from, less any the sentry dropped (a spine: the leaves'). */
	s->shadow_bitmap = job->role == AINFTP_ROLE_SPINE ? s->wbitmap : s->incl;
	s->shadow_count = job->role == AINFTP_ROLE_SPINE ? s->wcount : s->n_incl;
	s->shadow_flags = s->acc.overflow ? AINFTP_F_OVERFLOW : 0;
	ainftp_dp_slot_done(ctx, job, s, k, out, payload, ctr);
}

/*
 * A new address for a worker (its MAC and its port, network order):
 * published to the control lcore (ainftp_dp_worker addr_sc).
 */
void
ainftp_dp_worker_learn_at(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
			  struct ainftp_dp_worker *w, const struct rte_ether_hdr *eth,
			  uint16_t port)
{
	uint32_t sc = w->addr_sc;

	__atomic_store_n(&w->addr_sc, sc + 1, __ATOMIC_RELAXED);
	/* The odd count is visible before any of the fields change. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	w->udp_port = port;
	rte_ether_addr_copy(&eth->src_addr, &w->mac);
	w->learnt_tsc = rte_rdtsc();
	/* And the fields before the even count. */
	__atomic_store_n(&w->addr_sc, sc + 2, __ATOMIC_RELEASE);
	ainftp_dp_result_template(ctx, job, w);
}

void
ainftp_dp_worker_learn(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
		       struct ainftp_dp_worker *w, const struct rte_ether_hdr *eth,
		       const struct rte_udp_hdr *udp)
{
	ainftp_dp_worker_learn_at(ctx, job, w, eth, udp->src_port);
}

/*
 * A STATE stale for a chunk of `step` sends worker w on to the job's next
 * step: the steps in between that it has not begun (by what this lcore saw
 * of it) it will leave out.
 */
static void
worker_sent_past(const struct ainftp_dp_job *job, struct ainftp_dp_worker *w, uint32_t step)
{
	uint64_t lo = RTE_MAX((uint64_t)step + 1, w->step_seen);

	if (lo < job->done_next) {
		w->absent_lo = (uint32_t)lo;
		w->absent_hi = job->done_next;
	}
}

/*
 * A contribution its slot refused: a retransmission of a chunk completed is
 * answered with the kept result; a duplicate, a stale or an early one with a
 * STATE that tells the worker where the slot is, so that it waits, skips or
 * catches up instead of timing out; each is counted.
 */
static void
offer_refused(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_dp_worker *w,
	      struct ainftp_slot *s, uint16_t k, uint64_t bit, enum ainftp_slot_action action,
	      const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
	      const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	enum ainftp_state_reason reason;

	switch (action) {
	case AINFTP_SLOT_RESEND:
		late_sample(&ctx->dp, job, w, s, bit, false);
		ainftp_ctr_add(&ctr->data_answered, 1);
		ainftp_dp_result_resend(ctx, job, w, s, k, eth, udp, ctr);
		return;
	case AINFTP_SLOT_DUP:
		ainftp_dp_bad(ctr, AINFTP_BAD_DUPLICATE);
		reason = AINFTP_STATE_HAVE;
		break;
	case AINFTP_SLOT_STALE:
		late_sample(&ctx->dp, job, w, s, bit, true);
		ainftp_dp_bad(ctr, AINFTP_BAD_STALE);
		worker_sent_past(job, w, rte_be_to_cpu_32(h->step));
		reason = AINFTP_STATE_STALE;
		break;
	case AINFTP_SLOT_BUSY:
		ainftp_dp_bad(ctr, AINFTP_BAD_SLOT_BUSY);
		reason = AINFTP_STATE_AHEAD;
		break;
	case AINFTP_SLOT_ADD:
	case AINFTP_SLOT_LATER:
	default:
		return;
	}
	ainftp_ctr_add(&w->drops, 1);
	ainftp_dp_state_out(ctx, job, w, s, h, reason, eth, udp, ctr);
}

/*
 * A contribution added (used > 0), or judged and dropped by the sentry (0):
 * where the worker is, from a fresh authenticated contribution only (a replayed
 * packet, a duplicate, cannot redirect its results), and what it counts for.
 * Dropped by the sentry, it still counts as heard from (the slot needs nobody
 * else to complete), but is not in the result's bitmap or count.
 */
static void
contribution_taken(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_dp_worker *w,
		   struct ainftp_slot *s, uint64_t bit, int used, const struct rte_ether_hdr *eth,
		   const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	if (unlikely(w->udp_port != udp->src_port ||
		     !rte_is_same_ether_addr(&w->mac, &eth->src_addr)))
		ainftp_dp_worker_learn(ctx, job, w, eth, udp);
	if (likely(used > 0)) {
		ainftp_slot_include(s, bit);
		ainftp_ctr_add(&ctr->data_pkts, 1);
		ainftp_ctr_add(&w->contribs, 1);
	} else {
		ainftp_drop(ctr, AINFTP_DROP_SENTRY);
		ainftp_ctr_add(&w->drops, 1);
	}
	added_timing(&ctx->dp, job, w, s);
}

/* Every worker in the slot's chunk has sent a later step since: nobody waits for its result. */
static bool
slot_deserted(const struct ainftp_dp_job *job, const struct ainftp_slot *s)
{
	uint64_t step = s->seq >> 32, m;

	for (m = s->bitmap; m != 0; m &= m - 1) {
		uint8_t idx = job->worker_idx[__builtin_ctzll(m)];

		if (job->workers[idx].step_seen <= step + 1)
			return false;
	}
	return true;
}

/*
 * Whether the slot's chunk can no longer reach min_quorum: with those heard
 * from, every other worker of the job that may still come (not told to leave
 * its step out, not quarantined) would not be enough. Nothing else decides
 * it: a worker running ahead on its own is never taken for one that left.
 * Heard from, not counted: a spine's leaf is in the bitmap from its first
 * part and in the count from its last, and one whose other parts were lost
 * still sends them when its probe is answered.
 */
static bool
slot_hopeless(const struct ainftp_dp_job *job, const struct ainftp_slot *s)
{
	uint32_t step = (uint32_t)(s->seq >> 32), may = 0;
	uint16_t id;

	for (id = 0; id < AINFTP_MAX_WORKERS; id++) {
		uint8_t idx = job->worker_idx[id];
		const struct ainftp_dp_worker *w;

		if (idx == AINFTP_DP_NO_WORKER || (s->bitmap >> id & 1) ||
		    (job->q.quarantined >> id & 1))
			continue;
		w = &job->workers[idx];
		may += !(step >= w->absent_lo && step < w->absent_hi);
	}
	return (unsigned int)__builtin_popcountll(s->bitmap) + may < job->min_quorum;
}

/* The slot's chunk may complete without the worker with this bit (it moved on). */
static bool
slot_ready_without(const struct ainftp_dp_job *job, const struct ainftp_slot *s, uint64_t bit)
{
	return ainftp_slot_ready(s,
				 ainftp_quorum_required(&job->q, (uint32_t)(s->seq >> 32)) & ~bit,
				 job->quorum, job->min_quorum);
}

/*
 * A later step's contribution to a slot still summing (AINFTP_SLOT_LATER):
 * its sender skipped the chunk or restarted, so the chunk no longer waits for
 * it. Deserted by every worker in it, or beyond reach of min_quorum with the
 * workers the appliance itself sent past its step (a restarted worker joined
 * later, one that fell behind was sent on: nobody else can come), the chunk is
 * dropped; ready without the sender, it completes now (its workers get a
 * result without it); else the later one must wait (BUSY). Never does one
 * worker's data alone drop what its peers are still summing. Returns what to
 * do with the contribution.
 */
static enum ainftp_slot_action
offer_later(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s, uint16_t k,
	    uint64_t seq, uint16_t wid, struct ainftp_port_ctr *ctr)
{
	struct rte_mbuf *result;

	if (slot_deserted(job, s) || slot_hopeless(job, s)) {
		ainftp_slot_abandon(s, seq, wid);
		ainftp_ctr_add(&ctr->chunks_abandoned, 1);
		return AINFTP_SLOT_ADD;
	}
	if (!slot_ready_without(job, s, UINT64_C(1) << wid))
		return AINFTP_SLOT_BUSY;
	/* A leaf's chunk completes at the spine: the later one waits for its result. */
	if (job->role == AINFTP_ROLE_LEAF) {
		ainftp_dp_slot_finish(ctx, job, s, k, NULL, ctr);
		return AINFTP_SLOT_BUSY;
	}
	/* No mbuf to complete it: the later one is refused as BUSY, its frame's one outcome. */
	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &result, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_NOMBUF);
		return AINFTP_SLOT_BUSY;
	}
	ainftp_dp_slot_finish(ctx, job, s, k, result, ctr);
	ainftp_ctr_add(&ctr->chunks_early, 1);
	return ainftp_slot_offer(s, seq, wid);
}

/*
 * A step found mixing two requests is over, whether a contribution or a probe
 * found it: whoever joins next starts after it (done_next), so that a
 * joiner is not given a step its peers have left.
 */
static void
step_given_up(struct ainftp_dp_job *job, uint64_t seq)
{
	uint32_t step = (uint32_t)(seq >> 32);

	if (step >= job->done_next && step != UINT32_MAX)
		job->done_next = step + 1;
}

/*
 * A contribution to a chunk of another request (issue order differs between
 * the workers, or sizes do): never summed with it. Kept in mind while the
 * chunk sums, so that its other workers' probes are told too; the sender
 * gets a STATE that names the other request. The step is over: its workers
 * stop, and whoever joins next starts after it (done_next), so that the
 * chunk left half summed is abandoned once they move on, and the job does
 * not stay stuck on it.
 */
static void
contribution_mismatch(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job,
		      struct ainftp_dp_worker *w, struct ainftp_slot *s, uint64_t seq,
		      uint64_t desc, const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		      const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	if (seq == s->seq && !s->done)
		s->desc_other = desc;
	step_given_up(job, seq);
	ainftp_dp_bad(ctr, AINFTP_BAD_MISMATCH);
	ainftp_ctr_add(&w->drops, 1);
	ainftp_dp_state_out(ctx, job, w, s, h, AINFTP_STATE_MISMATCH, eth, udp, ctr);
}

/*
 * A leaf's slot whose partial sum is at the spine takes nothing until the
 * result is back: its own worker is told to wait for it (a copy of its
 * data, or the next chunk too early); one left out of the partial (the
 * quorum went on without it) to send again later, when the kept result
 * answers it.
 */
static void
upstream_refused(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_dp_worker *w,
		 struct ainftp_slot *s, uint64_t seq, uint64_t bit, const struct ainftp_hdr *h,
		 const struct rte_ether_hdr *eth, const struct rte_udp_hdr *udp,
		 struct ainftp_port_ctr *ctr)
{
	bool in = seq == s->seq && (s->bitmap & bit);

	ainftp_dp_bad(ctr, in ? AINFTP_BAD_DUPLICATE : AINFTP_BAD_SLOT_BUSY);
	ainftp_ctr_add(&w->drops, 1);
	ainftp_dp_state_out(ctx, job, w, s, h, in ? AINFTP_STATE_UPSTREAM : AINFTP_STATE_AHEAD, eth,
			    udp, ctr);
}

/* A contribution offered and not taken after all: out of the slot's contributors again. */
static inline void
offer_undo(struct ainftp_slot *s, uint64_t bit)
{
	s->bitmap &= ~bit;
	s->count--;
}

void
ainftp_dp_contribution(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		       const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		       const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_worker *w = &job->workers[widx];
	uint16_t k = rte_be_to_cpu_16(h->slot), wid = rte_be_to_cpu_16(h->worker);
	uint32_t step = rte_be_to_cpu_32(h->step);
	uint64_t seq = ainftp_seq(step, rte_be_to_cpu_32(h->chunk));
	uint64_t bit = UINT64_C(1) << wid, desc = rte_be_to_cpu_64(h->bitmap);
	struct ainftp_slot *s = job->slots[k];
	struct rte_mbuf *result = NULL;
	enum ainftp_slot_action action;
	int used;

	if (job->role == AINFTP_ROLE_SPINE) {
		ainftp_dp_spine_part(ctx, job, widx, h, eth, udp, ctr);
		return;
	}
	/* Quarantined by the sentry: nothing of it is used until an operator readmits it. */
	if (unlikely(job->q.quarantined & bit)) {
		ainftp_drop(ctr, AINFTP_DROP_QUARANTINED);
		ainftp_ctr_add(&w->drops, 1);
		return;
	}
	if (unlikely((uint64_t)step + 1 > w->step_seen))
		w->step_seen = (uint64_t)step + 1;
	if (unlikely(ainftp_slot_desc_conflict(s, seq, desc, false) != 0)) {
		contribution_mismatch(ctx, job, w, s, seq, desc, h, eth, udp, ctr);
		return;
	}
	if (unlikely(ainftp_slot_upstream(s)) && seq >= s->seq) {
		upstream_refused(ctx, job, w, s, seq, bit, h, eth, udp, ctr);
		return;
	}
	action = ainftp_slot_offer(s, seq, wid);
	if (unlikely(action == AINFTP_SLOT_LATER))
		action = offer_later(ctx, job, s, k, seq, wid, ctr);
	if (action != AINFTP_SLOT_ADD) {
		offer_refused(ctx, job, w, s, k, bit, action, h, eth, udp, ctr);
		return;
	}
	/* The chunk's request is its first contributor's (or the first that says one). */
	if (s->count == 1) {
		s->desc = desc;
		s->desc_other = 0;
	} else if (s->desc == 0) {
		s->desc = desc;
	}
	/* The contribution that completes it: take the result's mbuf first, so a shortage is
	 * retried. */
	if (ainftp_dp_slot_ready(job, s) &&
	    unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &result, 1) != 0)) {
		offer_undo(s, bit);
		ainftp_drop(ctr, AINFTP_DROP_RESULT_NOMBUF);
		return;
	}
	if (job->sentry == NULL)
		used = payload_add(&ctx->dp, job, s, h) == 0 ? 1 : -1;
	else
		used = sentry_add(&ctx->dp, job, widx, s, h);
	if (unlikely(used < 0)) {
		/* One outcome for the frame: the value, not a shortage (its mbuf is given back). */
		rte_pktmbuf_free(result);
		offer_undo(s, bit);
		ainftp_dp_bad(ctr, AINFTP_BAD_VALUE);
		ainftp_ctr_add(&w->drops, 1);
		return;
	}
	contribution_taken(ctx, job, w, s, bit, used, eth, udp, ctr);
	if (result != NULL)
		ainftp_dp_slot_finish(ctx, job, s, k, result, ctr);
}

/*
 * A PROBE: the worker's timer ran out on a chunk and it asks before it sends
 * the data again. The kept result if that chunk completed; otherwise a STATE
 * saying whether its contribution is in (wait), missing (send it again) or
 * too old for the slot (skip it). So a lost packet costs one data
 * retransmission, by the one worker whose data is missing.
 */
void
ainftp_dp_probe(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_worker *w = &job->workers[widx];
	uint16_t k = rte_be_to_cpu_16(h->slot);
	uint64_t seq = ainftp_seq(rte_be_to_cpu_32(h->step), rte_be_to_cpu_32(h->chunk));
	uint64_t bit = UINT64_C(1) << rte_be_to_cpu_16(h->worker);
	uint64_t desc = rte_be_to_cpu_64(h->bitmap);
	struct ainftp_slot *s = job->slots[k];
	enum ainftp_state_reason reason;

	if (job->role == AINFTP_ROLE_SPINE) {
		ainftp_dp_spine_probe(ctx, job, widx, h, eth, udp, ctr);
		return;
	}
	ainftp_ctr_add(&ctr->probes, 1);
	/* Before the kept result: it may be another request's. */
	if (unlikely(ainftp_slot_desc_conflict(s, seq, desc, true) != 0)) {
		reason = AINFTP_STATE_MISMATCH;
		/*
		 * The prober is on another request than the chunk's own (its data
		 * was refused earlier, a newer chunk while the slot was busy): the
		 * chunk keeps it in mind, as for a contribution, so that its own
		 * workers' probes are told too and both sides stop.
		 */
		if (seq == s->seq && !s->done && desc != s->desc && s->desc_other == 0)
			s->desc_other = desc;
		step_given_up(job, seq);
	} else if (seq == s->shadow_seq) {
		ainftp_dp_result_resend(ctx, job, w, s, k, eth, udp, ctr);
		return;
	} else if (seq == s->seq && ainftp_slot_upstream(s) && (s->bitmap & bit)) {
		reason = AINFTP_STATE_UPSTREAM;
	} else if (seq == s->seq && !s->done)
		reason = (s->bitmap & bit) ? AINFTP_STATE_HAVE : AINFTP_STATE_MISSING;
	else if (s->seq == AINFTP_SEQ_NONE || seq > s->seq)
		reason = AINFTP_STATE_MISSING;
	else
		reason = AINFTP_STATE_STALE;
	if (reason == AINFTP_STATE_STALE)
		worker_sent_past(job, w, rte_be_to_cpu_32(h->step));
	ainftp_dp_state_out(ctx, job, w, s, h, reason, eth, udp, ctr);
}

/* The first field where the worker's view of the job (HELLO) differs from the job's. */
static enum ainftp_hello_status
hello_compare(const struct ainftp_dp_job *job, const struct ainftp_hdr *h)
{
	struct ainftp_hello_info hi;

	ainftp_hello_read((const struct ainftp_hello *)(h + 1), &hi);
	/* The encoding first: a worker with another encoding has other elems too. */
	if (h->encoding != job->codec->enc)
		return AINFTP_HELLO_ENCODING;
	if (rte_be_to_cpu_16(h->elems) != job->elems)
		return AINFTP_HELLO_ELEMS;
	if (hi.result_encoding != job->rcodec->enc)
		return AINFTP_HELLO_RESULT_ENC;
	if (hi.slots != job->n_slots)
		return AINFTP_HELLO_SLOTS;
	if (hi.lanes != job->lanes)
		return AINFTP_HELLO_LANES;
	if (((hi.auth & AINFTP_HELLO_AUTH_DATA) != 0) != job->auth)
		return AINFTP_HELLO_AUTH;
	/* A worker from before POLYVAL-AES could not tag the job's messages. */
	if (job->auth && job->auth_mac == AINFTP_MAC_POLYVAL_AES &&
	    !(hi.auth & AINFTP_HELLO_AUTH_POLYVAL))
		return AINFTP_HELLO_AUTH;
	/* Another split of the chunks: this box would sum chunks others sum too, or none. */
	if (hi.shard != job->shard_index || hi.shards != job->shard_count)
		return AINFTP_HELLO_SHARD;
	return AINFTP_HELLO_OK;
}

/*
 * A new process of worker widx (id `id`) starts at `step`, told so by a
 * HELLO_ACK (here, or on another lcore: the snapshot's starts). What the old
 * process left on this lcore must not count for the new one: its data in
 * chunks of `step` and later, which the new one sends again, is forgotten
 * with the chunks it is in (their other workers' probes are told that
 * their data is missing, and they send it again: a sum never mixes two
 * processes of one worker); chunks before `step` keep it (the old run's
 * steps, which the new process leaves out). Its lateness starts afresh: the
 * control lcore ranks the new process, not the old one.
 */
static void
worker_restarted(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		 unsigned int id, uint32_t step)
{
	struct ainftp_dp_worker *w = &job->workers[widx];
	uint64_t bit = UINT64_C(1) << id;
	uint32_t k;

	for (k = 0; k < job->n_slots; k++) {
		struct ainftp_slot *s = job->slots[k];

		/* Pending at the spine, the old process's data is in its sum already. */
		if (s == NULL || s->seq == AINFTP_SEQ_NONE || s->done || !(s->bitmap & bit) ||
		    (uint32_t)(s->seq >> 32) < step || ainftp_slot_upstream(s))
			continue;
		ainftp_slot_forget(s);
		ainftp_ctr_add(&ctx->stats->port[job->port_idx].chunks_abandoned, 1);
	}
	w->absent_lo = 0;
	w->absent_hi = step;
	__atomic_store_n(&w->lag_ewma, 0, __ATOMIC_RELAXED);
}

/*
 * A new process's HELLO, taken: it is a member from the step its HELLO_ACK
 * gives (this lcore's copy of the quorum says so now; the control lcore,
 * told through the ring, says so to every lcore with its next snapshot and
 * takes it for alive), and its results go to its new port. 0, or -1 when the
 * ring is full: nothing moved, and nothing is answered (its client asks
 * again).
 */
static int
hello_take(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
	   const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
	   const struct rte_udp_hdr *udp)
{
	struct ainftp_dp_worker *w = &job->workers[widx];
	unsigned int id = rte_be_to_cpu_16(h->worker);
	struct ainftp_hb_ack a = {
		.job_idx = job->idx,
		.widx = (uint8_t)widx,
		.kind = AINFTP_UP_HELLO,
		.seq = job->done_next,
		.rx_tsc = rte_rdtsc(),
	};

	if (unlikely(rte_ring_enqueue_elem(ctx->dp.hb_ring, &a, sizeof(a)) != 0))
		return -1;
	w->hello_taken = true;
	w->hello_nonce = rte_be_to_cpu_64(h->bitmap);
	w->hello_step = job->done_next;
	w->starts++;
	worker_restarted(ctx, job, widx, id, w->hello_step);
	if (!(job->q.quarantined >> id & 1))
		ainftp_quorum_admit(&job->q, id, w->hello_step);
	if (w->udp_port != udp->src_port || !rte_is_same_ether_addr(&w->mac, &eth->src_addr))
		ainftp_dp_worker_learn(ctx, job, w, eth, udp);
	return 0;
}

/*
 * A HELLO that passed its checks and tag. With the job's geometry, and a
 * nonce other than the one this lcore took last from the worker, it is a new
 * process's: taken in (hello_take). The same nonce again is the same
 * process asking again (its ack lost) or a copy of its HELLO on the wire:
 * answered as the first one was, and nothing moves.
 */
void
ainftp_dp_hello(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
		const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
		const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_worker *w = &job->workers[widx];
	enum ainftp_hello_status status = hello_compare(job, h);
	uint32_t step = job->done_next;

	if (status == AINFTP_HELLO_OK) {
		if ((!w->hello_taken || w->hello_nonce != rte_be_to_cpu_64(h->bitmap)) &&
		    unlikely(hello_take(ctx, job, widx, h, eth, udp) != 0)) {
			ainftp_drop(ctr, AINFTP_DROP_HB_RING_FULL);
			ainftp_ctr_add(&w->drops, 1);
			return;
		}
		step = w->hello_step;
	}
	ainftp_ctr_add(&ctr->hellos, 1);
	ainftp_dp_hello_out(ctx, job->port_idx, job, job->auth ? &w->key : NULL, h, status, step,
			    eth, w->ipv4, udp, ctr);
}

/* A slot the quorum no longer holds back: complete it now (a shortage of mbufs: next scan). */
static void
scan_complete(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s,
	      uint16_t k)
{
	struct ainftp_port_ctr *ctr = &ctx->stats->port[job->port_idx];
	struct rte_mbuf *result;

	if (unlikely(ainftp_mstash_take(&ctx->dp.result_stash, &result, 1) != 0)) {
		ainftp_drop(ctr, AINFTP_DROP_NOMBUF);
		return;
	}
	ainftp_dp_slot_finish(ctx, job, s, k, result, ctr);
}

/* Each member an open slot waits for: the slot's age, where it is the longest seen. */
static void
scan_waits(const struct ainftp_dp_job *job, const struct ainftp_slot *s, uint64_t age,
	   uint64_t *wait)
{
	uint64_t missing = ainftp_quorum_required(&job->q, (uint32_t)(s->seq >> 32)) & ~s->bitmap;

	for (; missing != 0; missing &= missing - 1) {
		uint8_t idx = job->worker_idx[__builtin_ctzll(missing)];

		if (idx != AINFTP_DP_NO_WORKER && age > wait[idx])
			wait[idx] = age;
	}
}

static void
scan_job(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, uint64_t now)
{
	uint64_t wait[AINFTP_MAX_WORKERS] = {0}, oldest = UINT64_MAX;
	uint32_t k;
	uint16_t i;

	for (k = 0; k < job->n_slots; k++) {
		struct ainftp_slot *s = job->slots[k];
		uint64_t age;

		if (s == NULL || s->seq == AINFTP_SEQ_NONE || s->done || s->count == 0)
			continue;
		if (ainftp_slot_upstream(s)) {
			ainftp_dp_leaf_scan(ctx, job, s, (uint16_t)k, now, &oldest);
			continue;
		}
		if (ainftp_dp_slot_ready(job, s)) {
			scan_complete(ctx, job, s, (uint16_t)k);
			continue;
		}
		/* Short waits are every slot's between its first and last contribution. */
		age = now > s->first_tsc ? now - s->first_tsc : 0;
		/*
		 * Waiting long for workers sent past it: it can never complete, and
		 * those who could abandon it with a later step may never send one
		 * there (their window is full of chunks that wait for its workers).
		 */
		if (age > job->threshold && slot_hopeless(job, s)) {
			ainftp_slot_drop(s);
			ainftp_ctr_add(&ctx->stats->port[job->port_idx].chunks_abandoned, 1);
			continue;
		}
		if (age > job->threshold / 8)
			scan_waits(job, s, age, wait);
	}
	for (i = 0; i < job->n_workers; i++)
		__atomic_store_n(&job->workers[i].wait, wait[i], __ATOMIC_RELAXED);
	if (job->role == AINFTP_ROLE_LEAF)
		ainftp_dp_leaf_scan_done(job, oldest);
}

void
ainftp_dp_scan(struct ainftp_rx_ctx *ctx, uint64_t now)
{
	uint16_t j;

	ctx->dp.now = now;
	for (j = 0; j < ctx->dp.n_jobs; j++)
		scan_job(ctx, &ctx->dp.jobs[j], now);
	ainftp_dp_tags_flush(ctx);
	ctx->dp.next_scan = now + ctx->dp.scan_period;
}

/*
 * A new snapshot: the sentry's quarantine mask follows it (one source of
 * truth, the control lcore's); a worker readmitted starts afresh here too.
 */
static void
sentry_sync(struct ainftp_dp_job *job)
{
	struct ainftp_sentry *se = job->sentry;
	uint16_t id;

	if (se == NULL)
		return;
	for (id = 0; id < AINFTP_MAX_WORKERS; id++) {
		uint8_t idx = job->worker_idx[id];
		uint64_t bit;
		bool out;

		if (idx == AINFTP_DP_NO_WORKER)
			continue;
		bit = UINT64_C(1) << idx;
		out = (job->q.quarantined >> id & 1) != 0;
		if (out && !(se->quarantined & bit)) {
			se->quarantined |= bit;
			se->w[idx].quarantines++;
		} else if (!out && (se->quarantined & bit)) {
			ainftp_sentry_readmit(se, idx);
		}
	}
}

/*
 * A new snapshot against what this lcore knows of the workers' processes:
 * one taken in by a HELLO elsewhere (its start counted there first) is
 * forgotten here too; one this lcore took in that the snapshot does not
 * count yet stays a member in the copy (a snapshot made before the control
 * lcore saw the HELLO must not undo it).
 */
static void
starts_sync(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job)
{
	uint16_t id;

	for (id = 0; id < AINFTP_MAX_WORKERS; id++) {
		uint8_t idx = job->worker_idx[id];
		struct ainftp_dp_worker *w;
		int32_t ahead;

		if (idx == AINFTP_DP_NO_WORKER)
			continue;
		w = &job->workers[idx];
		ahead = (int32_t)(job->q.starts[id] - w->starts);
		if (ahead > 0) {
			w->starts = job->q.starts[id];
			worker_restarted(ctx, job, idx, id, job->q.start_step[id]);
		} else if (ahead < 0 && !(job->q.quarantined >> id & 1)) {
			ainftp_quorum_admit(&job->q, id, w->hello_step);
		}
	}
}

void
ainftp_dp_begin(struct ainftp_rx_ctx *ctx, uint64_t now)
{
	struct ainftp_dp *dp = &ctx->dp;
	bool moved = false;
	uint16_t j;

	dp->now = now;
	for (j = 0; j < dp->n_jobs; j++) {
		const struct ainftp_quorum_snap *q = ainftp_members_current(dp->members, j);

		/* Rare: a copy only when the control lcore published a new version. */
		if (unlikely(q->version != dp->jobs[j].q.version)) {
			dp->jobs[j].q = *q;
			starts_sync(ctx, &dp->jobs[j]);
			sentry_sync(&dp->jobs[j]);
			moved = true;
		}
	}
	ainftp_members_quiescent(dp->members, ctx->lcore);
	/* A quorum that shrank may complete slots that waited for a worker now out. */
	if (unlikely(moved) || now >= dp->next_scan)
		ainftp_dp_scan(ctx, now);
}
