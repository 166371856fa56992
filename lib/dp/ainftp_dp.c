/* SPDX-License-Identifier: BSD-3-Clause */
#include <stddef.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_udp.h>

#include "ainftp_dp.h"
#include "ainftp_rx.h"

#define NO_WORKER 0xff
/* What each result copy carries in front of the payload: its frame headers and ainftp's. */
#define RESULT_HDRS_LEN (AINFTP_UDP_HDRS_LEN + sizeof(struct ainftp_hdr))

static bool
lcore_polls(const struct ainftp_rx_ctx *ctx, uint16_t port_idx, uint16_t queue)
{
	uint16_t i;

	for (i = 0; i < ctx->n_rxq; i++)
		if (ctx->rxq[i].port_idx == port_idx && ctx->rxq[i].queue == queue)
			return true;
	return false;
}

static bool
policy_robust(enum ainftp_sentry_policy p)
{
	return p == AINFTP_SENTRY_TRIMMED_MEAN || p == AINFTP_SENTRY_MEDIAN;
}

/* rows: floats of per-worker rows for the robust rules (n_workers x elems), or 0. */
static struct ainftp_slot *
slot_create(uint32_t elems, size_t rows, int socket)
{
	struct ainftp_slot *s = rte_zmalloc_socket("ainftp_slot", sizeof(*s), 0, socket);

	if (s == NULL)
		return NULL;
	if (rows != 0) {
		s->rows = rte_zmalloc_socket("ainftp_rows", rows * sizeof(float), 64, socket);
		if (s->rows == NULL) {
			rte_free(s);
			return NULL;
		}
	}
	s->acc.n = elems;
	s->acc.acc = rte_malloc_socket("ainftp_acc", elems * sizeof(int64_t), 64, socket);
	s->acc.blk = rte_malloc_socket("ainftp_acc_blk",
				       ainftp_blocks(elems) * sizeof(struct ainftp_acc_block), 0,
				       socket);
	if (s->acc.acc == NULL || s->acc.blk == NULL) {
		rte_free(s->acc.acc);
		rte_free(s->acc.blk);
		rte_free(s->rows);
		rte_free(s);
		return NULL;
	}
	ainftp_slot_init(s);
	return s;
}

static void
slot_destroy(struct ainftp_slot *s)
{
	if (s == NULL)
		return;
	rte_pktmbuf_free(s->shadow);
	rte_free(s->acc.acc);
	rte_free(s->acc.blk);
	rte_free(s->rows);
	rte_free(s);
}

static int
job_workers_init(struct ainftp_dp_job *job, const struct ainftp_job_conf *jc)
{
	uint16_t i;

	memset(job->worker_idx, NO_WORKER, sizeof(job->worker_idx));
	job->n_workers = jc->n_workers;
	for (i = 0; i < jc->n_workers; i++) {
		job->worker_idx[jc->workers[i].id] = (uint8_t)i;
		job->workers[i].ipv4 = jc->workers[i].ipv4;
		if (jc->auth && ainftp_mac_key_init(&job->workers[i].key, jc->workers[i].key) != 0)
			return -1;
	}
	return 0;
}

/*
 * The job's sentry on this lcore. Its own quarantine is off (a threshold above
 * any score): quarantine is the control lcore's job-wide decision, which
 * reaches this struct through the snapshot (sentry_sync).
 */
static int
sentry_create(struct ainftp_dp_job *job, const struct ainftp_dp *dp,
	      const struct ainftp_job_conf *jc, int socket)
{
	if (jc->sentry.policy == AINFTP_SENTRY_NONE)
		return 0;
	job->sentry = rte_zmalloc_socket("ainftp_sentry", sizeof(*job->sentry), 64, socket);
	if (job->sentry == NULL ||
	    ainftp_sentry_init(job->sentry, &jc->sentry, jc->n_workers, job->elems, dp->sops) != 0)
		return -1;
	job->sentry->threshold_q16 = UINT32_MAX;
	return 0;
}

static int
job_init(struct ainftp_dp_job *job, const struct ainftp_rx_ctx *ctx,
	 const struct ainftp_runtime *rt, const struct ainftp_job_conf *jc, int socket)
{
	size_t rows =
		policy_robust(jc->sentry.policy) ? (size_t)jc->n_workers * jc->elems_per_packet : 0;
	uint32_t k;

	job->id = jc->id;
	job->idx = (uint16_t)(jc - rt->cfg->jobs);
	job->port_idx = jc->port;
	job->lanes = rt->ports[jc->port].n_rxq;
	job->wire_enc = ainftp_wire_encoding(jc->encoding);
	job->result_enc = ainftp_wire_encoding(jc->result_encoding);
	job->auth = jc->auth;
	job->quorum = jc->quorum;
	job->min_quorum = jc->straggler.min_quorum;
	job->threshold = rte_get_tsc_hz() / 1000 * jc->straggler.threshold_ms;
	job->q = *ainftp_members_current(rt->members, job->idx);
	job->elems = (uint16_t)jc->elems_per_packet;
	job->n_slots = jc->slots;
	job->payload_len = (uint32_t)ainftp_payload_len(job->wire_enc, job->elems);
	job->result_len = (uint32_t)ainftp_payload_len(job->result_enc, job->elems);
	if (job_workers_init(job, jc) != 0 || sentry_create(job, &ctx->dp, jc, socket) != 0)
		return -1;
	if (rt->sink != NULL)
		job->sink_entries = ainftp_sink_job_entries(rt->sink, job->idx, &job->sink_stride);
	job->slots = rte_zmalloc_socket("ainftp_slots", jc->slots * sizeof(*job->slots), 0, socket);
	if (job->slots == NULL)
		return -1;
	for (k = 0; k < jc->slots; k++) {
		if (!lcore_polls(ctx, job->port_idx, (uint16_t)(k % job->lanes)))
			continue;
		job->slots[k] = slot_create(job->elems, rows, socket);
		if (job->slots[k] == NULL)
			return -1;
	}
	return 0;
}

/* One ring per RX lcore, so each has a single producer and needs no lock prefix to enqueue. */
static int
hb_ring_create(struct ainftp_rx_ctx *ctx, int socket)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "ainftp_hb%u", ctx->lcore);
	ctx->dp.hb_ring =
		rte_ring_create_elem(name, sizeof(struct ainftp_hb_ack), AINFTP_HB_RING_SIZE,
				     socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	return ctx->dp.hb_ring == NULL ? -1 : 0;
}

int
ainftp_dp_init(struct ainftp_rx_ctx *ctx, const struct ainftp_runtime *rt)
{
	const struct ainftp_config *cfg = rt->cfg;
	struct ainftp_dp *dp = &ctx->dp;
	int socket = (int)rte_lcore_to_socket_id(ctx->lcore);
	int port_socket = rt->ports[ctx->rxq[0].port_idx].socket;
	uint32_t max_elems = 0;
	uint16_t j;

	dp->ops = ainftp_quant_select(rt->simd_bits);
	dp->sops = ainftp_sentry_select(rt->simd_bits);
	dp->result_pool = rt->result_pool[port_socket];
	dp->hdr_pool = rt->hdr_pool[port_socket];
	dp->n_jobs = cfg->n_jobs;
	dp->members = rt->members;
	dp->sink = rt->sink;
	dp->sink_rx = (uint16_t)ainftp_config_rx_lcore_rank(cfg, ctx->lcore);
	dp->scan_period = rte_get_tsc_hz() / 1000000 * AINFTP_DP_SCAN_US;
	dp->jobs = rte_zmalloc_socket("ainftp_jobs", cfg->n_jobs * sizeof(*dp->jobs), 0, socket);
	if (dp->jobs == NULL)
		return -1;
	for (j = 0; j < cfg->n_jobs; j++) {
		if (job_init(&dp->jobs[j], ctx, rt, &cfg->jobs[j], socket) != 0)
			return -1;
		max_elems = RTE_MAX(max_elems, cfg->jobs[j].elems_per_packet);
	}
	dp->scratch = rte_malloc_socket("ainftp_scratch", max_elems * sizeof(float), 64, socket);
	if (dp->scratch == NULL)
		return -1;
	return hb_ring_create(ctx, socket);
}

void
ainftp_dp_free(struct ainftp_rx_ctx *ctx)
{
	struct ainftp_dp *dp = &ctx->dp;
	uint32_t k;
	uint16_t j;

	for (j = 0; dp->jobs != NULL && j < dp->n_jobs; j++) {
		for (k = 0; dp->jobs[j].slots != NULL && k < dp->jobs[j].n_slots; k++)
			slot_destroy(dp->jobs[j].slots[k]);
		rte_free(dp->jobs[j].slots);
		rte_free(dp->jobs[j].sentry);
	}
	rte_free(dp->jobs);
	rte_free(dp->scratch);
	rte_ring_free(dp->hb_ring);
	dp->jobs = NULL;
	dp->scratch = NULL;
	dp->hb_ring = NULL;
}

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

static inline void
bad(struct ainftp_port_ctr *ctr, enum ainftp_bad why)
{
	ainftp_ctr_add(&ctr->proto_drops[why], 1);
}

/*
 * Ethernet, IPv4 and UDP of every result copy to one worker: the same bytes each
 * time but for the UDP source port (the lane's), so they are built once, when
 * the worker's address is learnt, checksum included.
 */
static void
result_template(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
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
	if (unlikely(rte_pktmbuf_alloc_bulk(chain ? ctx->dp.hdr_pool : ctx->dp.result_pool, h, n) !=
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
		.encoding = job->result_enc,
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
	if (unlikely(ainftp_sentry_robust(job->sentry, x, widx, n, dp->scratch) != 0)) {
		/* Cannot happen (the workers are distinct and admitted); never a wrong sum. */
		s->incl = 0;
		s->n_incl = 0;
		return;
	}
	for (i = 0; i < n; i++)
		sentry_publish(job, widx[i]);
	if (unlikely(dp->ops->acc_f32(&s->acc, dp->scratch) != 0)) {
		ainftp_acc_reset(&s->acc);
		s->acc.overflow = true;
	}
}

/* The slot may complete: turn the sum into the result, keep it, send it to every worker. */
static void
slot_finish(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s, uint16_t k,
	    struct rte_mbuf *payload, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_worker *to[AINFTP_MAX_WORKERS];
	struct ainftp_hdr rh;
	void *out = rte_pktmbuf_append(payload, (uint16_t)job->result_len);
	uint16_t i, lane = (uint16_t)(k % job->lanes);
	unsigned int n = 0;

	if (s->rows != NULL)
		robust_finish(&ctx->dp, job, s);
	if (job->result_enc == AINFTP_WIRE_INT16)
		s->shadow_exp = ctx->dp.ops->res_i16(&s->acc, out);
	else {
		ctx->dp.ops->res_f32(&s->acc, out);
		s->shadow_exp = 0;
	}
	/* Who is in it: those heard from, less any the sentry dropped. */
	s->shadow_bitmap = s->incl;
	s->shadow_count = s->n_incl;
	s->shadow_flags = s->acc.overflow ? AINFTP_F_OVERFLOW : 0;
	rte_pktmbuf_free(ainftp_slot_complete(s, payload));
	/* The payload is final: the same bytes go to the arena, once per completed chunk
	 * (a retransmission resends the shadow and never comes here). */
	if (job->sink_entries != NULL) {
		ainftp_sink_put(ctx->dp.sink,
				(struct ainftp_sink_mark *)((char *)job->sink_entries +
							    (size_t)k * job->sink_stride),
				s->shadow_seq, out, job->result_len, s->shadow_bitmap,
				s->shadow_count, s->shadow_exp, s->shadow_flags);
		ainftp_ctr_add(&ctx->stats->sink_written, 1);
		job->sink_put++;
		ctx->dp.bells_due |= UINT32_C(1) << job->idx;
	}
	ainftp_ctr_add(&ctr->chunks_done, 1);
	if (s->count < job->n_workers)
		partial_done(ctx, job, s, ctr);
	if (s->acc.overflow)
		ainftp_ctr_add(&ctr->overflows, 1);
	result_header(job, s, k, &rh);
	/* Every worker that has been heard from; the others have nowhere to be sent to. */
	for (i = 0; i < job->n_workers; i++)
		if (job->workers[i].udp_port != 0)
			to[n++] = &job->workers[i];
	result_send(ctx, job, to, n, &rh, lane, payload, ctr);
}

/* A new address for a worker: published to the control lcore (ainftp_dp_worker addr_sc). */
static void
worker_learn(const struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job,
	     struct ainftp_dp_worker *w, const struct rte_ether_hdr *eth,
	     const struct rte_udp_hdr *udp)
{
	uint32_t sc = w->addr_sc;

	__atomic_store_n(&w->addr_sc, sc + 1, __ATOMIC_RELAXED);
	/* The odd count is visible before any of the fields change. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	w->udp_port = udp->src_port;
	rte_ether_addr_copy(&eth->src_addr, &w->mac);
	w->learnt_tsc = rte_rdtsc();
	/* And the fields before the even count. */
	__atomic_store_n(&w->addr_sc, sc + 2, __ATOMIC_RELEASE);
	result_template(ctx, job, w);
}

/* Add a checked payload; -1 when a float32 payload holds NaN or Inf. */
static int
payload_add(struct ainftp_dp *dp, const struct ainftp_dp_job *job, struct ainftp_slot *s,
	    const struct ainftp_hdr *h)
{
	const char *payload = (const char *)(h + 1);

	switch (job->wire_enc) {
	case AINFTP_WIRE_INT16:
		dp->ops->acc_i16(&s->acc, (const int16_t *)payload, h->scale_exp);
		return 0;
	case AINFTP_WIRE_INT8:
		dp->ops->acc_i8(&s->acc, (const int8_t *)payload,
				(const int8_t *)payload + ainftp_blocks(job->elems));
		return 0;
	default:
		/* At frame offset 74 a float32 payload is not 4-byte aligned. */
		memcpy(dp->scratch, payload, job->payload_len);
		return dp->ops->acc_f32(&s->acc, dp->scratch);
	}
}

/* float32 values all finite (no NaN, no infinity): the test acc_f32 makes. */
static inline bool
all_finite(const float *x, uint32_t n)
{
	uint32_t i, bad = 0;

	for (i = 0; i < n; i++) {
		uint32_t b;

		memcpy(&b, &x[i], sizeof(b));
		bad |= (b & 0x7f800000u) == 0x7f800000u;
	}
	return bad == 0;
}

/* A checked payload as floats in out: what the sentry's float rules see. -1: not finite. */
static int
payload_floats(const struct ainftp_dp *dp, const struct ainftp_dp_job *job,
	       const struct ainftp_hdr *h, float *out)
{
	const char *payload = (const char *)(h + 1);

	switch (job->wire_enc) {
	case AINFTP_WIRE_INT16:
		dp->sops->dequant_i16((const int16_t *)payload, job->elems, h->scale_exp, out);
		return 0;
	case AINFTP_WIRE_INT8:
		ainftp_dequant_i8((const int8_t *)payload,
				  (const int8_t *)payload + ainftp_blocks(job->elems), job->elems,
				  out);
		return 0;
	default:
		memcpy(out, payload, job->payload_len);
		return all_finite(out, job->elems) ? 0 : -1;
	}
}

/* zscore: the contribution's L2 norm, or -1 for a float32 payload that is not finite. */
static double
payload_norm(const struct ainftp_dp *dp, const struct ainftp_dp_job *job,
	     const struct ainftp_hdr *h)
{
	const char *payload = (const char *)(h + 1);

	switch (job->wire_enc) {
	case AINFTP_WIRE_INT16:
		return ainftp_sentry_norm_i16((const int16_t *)payload, job->elems, h->scale_exp);
	case AINFTP_WIRE_INT8:
		return ainftp_sentry_norm_i8((const int8_t *)payload,
					     (const int8_t *)payload + ainftp_blocks(job->elems),
					     job->elems);
	default:
		memcpy(dp->scratch, payload, job->payload_len);
		if (!all_finite(dp->scratch, job->elems))
			return -1;
		return ainftp_sentry_norm_f32(job->sentry, dp->scratch);
	}
}

/*
 * A checked contribution of worker widx under the job's sentry: 1 used (added,
 * or kept as its row for the robust rules), 0 dropped by the sentry, -1 a
 * float32 payload with a NaN or an infinity (judged by nobody).
 */
static int
sentry_add(struct ainftp_dp *dp, struct ainftp_dp_job *job, unsigned int widx,
	   struct ainftp_slot *s, const struct ainftp_hdr *h)
{
	struct ainftp_sentry *se = job->sentry;
	double norm;
	int r;

	switch (se->conf.policy) {
	case AINFTP_SENTRY_ZSCORE:
		norm = payload_norm(dp, job, h);
		if (unlikely(norm < 0))
			return -1;
		r = ainftp_sentry_zscore_check(se, (uint16_t)widx, norm);
		sentry_publish(job, widx);
		if (r == AINFTP_SENTRY_DROP)
			return 0;
		if (unlikely(r != AINFTP_SENTRY_ACCEPT))
			return -1;
		/* A float32 payload is in the scratch already. */
		if (job->wire_enc == AINFTP_WIRE_FLOAT32)
			return dp->ops->acc_f32(&s->acc, dp->scratch) == 0 ? 1 : -1;
		return payload_add(dp, job, s, h) == 0 ? 1 : -1;
	case AINFTP_SENTRY_CLIP:
		if (unlikely(payload_floats(dp, job, h, dp->scratch) != 0))
			return -1;
		r = ainftp_sentry_clip(se, (uint16_t)widx, dp->scratch, dp->scratch);
		sentry_publish(job, widx);
		if (unlikely(r < 0))
			return -1;
		return dp->ops->acc_f32(&s->acc, dp->scratch) == 0 ? 1 : -1;
	default:
		/* trimmed_mean, median: judged with the others at completion. */
		return payload_floats(dp, job, h, s->rows + (size_t)widx * job->elems) == 0 ? 1
											    : -1;
	}
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
static inline bool
slot_ready(const struct ainftp_dp_job *job, const struct ainftp_slot *s)
{
	return ainftp_slot_ready(s, ainftp_quorum_required(&job->q, (uint32_t)(s->seq >> 32)),
				 job->quorum, job->min_quorum);
}

/* A contribution that passed every check: sum it, or answer a retransmission. */
static void
contribution(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, unsigned int widx,
	     const struct ainftp_hdr *h, const struct rte_ether_hdr *eth,
	     const struct rte_udp_hdr *udp, struct ainftp_port_ctr *ctr)
{
	struct ainftp_dp_worker *w = &job->workers[widx];
	uint16_t k = rte_be_to_cpu_16(h->slot), wid = rte_be_to_cpu_16(h->worker);
	uint64_t seq = ainftp_seq(rte_be_to_cpu_32(h->step), rte_be_to_cpu_32(h->chunk));
	uint64_t bit = UINT64_C(1) << wid;
	struct ainftp_slot *s = job->slots[k];
	struct rte_mbuf *result = NULL;
	struct ainftp_hdr rh;
	bool ready;
	int used;

	/* Quarantined by the sentry: nothing of it is used until an operator readmits it. */
	if (unlikely(job->q.quarantined & bit)) {
		ainftp_drop(ctr, AINFTP_DROP_QUARANTINED);
		ainftp_ctr_add(&w->drops, 1);
		return;
	}
	switch (ainftp_slot_offer(s, seq, wid)) {
	case AINFTP_SLOT_ADD:
		break;
	case AINFTP_SLOT_ABANDON:
		ainftp_ctr_add(&ctr->chunks_abandoned, 1);
		break;
	case AINFTP_SLOT_RESEND:
		late_sample(&ctx->dp, job, w, s, bit, false);
		result_header(job, s, k, &rh);
		/* Only to a worker heard from here: it is where its template comes from. */
		result_send(ctx, job, &w, w->udp_port != 0, &rh, (uint16_t)(k % job->lanes),
			    s->shadow, ctr);
		ainftp_ctr_add(&ctr->results_resent, 1);
		return;
	case AINFTP_SLOT_DUP:
		bad(ctr, AINFTP_BAD_DUPLICATE);
		ainftp_ctr_add(&w->drops, 1);
		return;
	case AINFTP_SLOT_STALE:
		late_sample(&ctx->dp, job, w, s, bit, true);
		bad(ctr, AINFTP_BAD_STALE);
		ainftp_ctr_add(&w->drops, 1);
		return;
	case AINFTP_SLOT_BUSY:
		bad(ctr, AINFTP_BAD_SLOT_BUSY);
		ainftp_ctr_add(&w->drops, 1);
		return;
	}
	/* The contribution that completes it: take the result's mbuf first, so a shortage is
	 * retried. */
	ready = slot_ready(job, s);
	if (ready) {
		result = rte_pktmbuf_alloc(ctx->dp.result_pool);
		if (unlikely(result == NULL))
			goto undo;
	}
	if (job->sentry == NULL)
		used = payload_add(&ctx->dp, job, s, h) == 0 ? 1 : -1;
	else
		used = sentry_add(&ctx->dp, job, widx, s, h);
	if (unlikely(used < 0)) {
		bad(ctr, AINFTP_BAD_VALUE);
		ainftp_ctr_add(&w->drops, 1);
		rte_pktmbuf_free(result);
		result = NULL;
		goto undo;
	}
	/*
	 * Where the worker is, from a fresh authenticated contribution only: a
	 * replayed packet (a duplicate) cannot redirect its results.
	 */
	if (unlikely(w->udp_port != udp->src_port ||
		     !rte_is_same_ether_addr(&w->mac, &eth->src_addr)))
		worker_learn(ctx, job, w, eth, udp);
	/*
	 * Dropped by the sentry, it still counts as heard from (the slot needs
	 * nobody else to complete), but is not in the result's bitmap or count.
	 */
	if (likely(used > 0)) {
		ainftp_slot_include(s, bit);
		ainftp_ctr_add(&ctr->data_pkts, 1);
		ainftp_ctr_add(&w->contribs, 1);
	} else {
		ainftp_drop(ctr, AINFTP_DROP_SENTRY);
		ainftp_ctr_add(&w->drops, 1);
	}
	added_timing(&ctx->dp, job, w, s);
	if (result != NULL)
		slot_finish(ctx, job, s, k, result, ctr);
	return;
undo:
	if (result == NULL && ready)
		ainftp_drop(ctr, AINFTP_DROP_RESULT_NOMBUF);
	s->bitmap &= ~bit;
	s->count--;
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

	if (wid >= AINFTP_MAX_WORKERS || job->worker_idx[wid] == NO_WORKER)
		return AINFTP_BAD_WORKER;
	*widx = job->worker_idx[wid];
	w = &job->workers[*widx];
	if (ip->src_addr != w->ipv4)
		return AINFTP_BAD_SOURCE;
	if (h->encoding != job->wire_enc)
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
ack_check(const struct ainftp_dp_job *job, const struct rte_ipv4_hdr *ip,
	  const struct ainftp_hdr *h, int *widx)
{
	uint16_t wid = rte_be_to_cpu_16(h->worker);
	const struct ainftp_dp_worker *w;

	if (wid >= AINFTP_MAX_WORKERS || job->worker_idx[wid] == NO_WORKER)
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
ack_forward(struct ainftp_rx_ctx *ctx, const struct ainftp_dp_job *job, int widx,
	    const struct ainftp_hdr *h, struct ainftp_port_ctr *ctr)
{
	struct ainftp_msg msg;
	struct ainftp_hb_ack a;

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
	struct ainftp_dp_job *job = NULL;
	enum ainftp_bad why;
	int widx = -1;

	why = ainftp_hdr_check(h, udp_len);
	if (why == AINFTP_OK && h->type != AINFTP_MSG_DATA && h->type != AINFTP_MSG_HEARTBEAT_ACK)
		why = AINFTP_BAD_TYPE;
	if (why == AINFTP_OK) {
		job = job_find(&ctx->dp, rte_be_to_cpu_32(h->job));
		if (job == NULL || job->port_idx != port_idx)
			why = AINFTP_BAD_JOB;
	}
	if (why == AINFTP_OK && unlikely(h->type == AINFTP_MSG_HEARTBEAT_ACK)) {
		why = ack_check(job, ip, h, &widx);
		if (why == AINFTP_OK)
			ack_forward(ctx, job, widx, h, ctr);
		else
			bad(ctr, why);
		return;
	}
	if (why == AINFTP_OK)
		why = data_check(ctx, job, ip, udp, h, &widx);
	if (unlikely(why != AINFTP_OK)) {
		bad(ctr, why);
		/* A worker's own, from its address: its telemetry shows it (a wrong key, a
		 * wrong size). */
		if (widx >= 0 && why != AINFTP_BAD_SOURCE)
			ainftp_ctr_add(&job->workers[widx].drops, 1);
		return;
	}
	contribution(ctx, job, (unsigned int)widx, h, eth, udp, ctr);
}

/* A slot the quorum no longer holds back: complete it now (a shortage of mbufs: next scan). */
static void
scan_complete(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, struct ainftp_slot *s,
	      uint16_t k)
{
	struct ainftp_port_ctr *ctr = &ctx->stats->port[job->port_idx];
	struct rte_mbuf *result = rte_pktmbuf_alloc(ctx->dp.result_pool);

	if (unlikely(result == NULL)) {
		ainftp_drop(ctr, AINFTP_DROP_RESULT_NOMBUF);
		return;
	}
	slot_finish(ctx, job, s, k, result, ctr);
}

/* Each member an open slot waits for: the slot's age, where it is the longest seen. */
static void
scan_waits(const struct ainftp_dp_job *job, const struct ainftp_slot *s, uint64_t age,
	   uint64_t *wait)
{
	uint64_t missing = ainftp_quorum_required(&job->q, (uint32_t)(s->seq >> 32)) & ~s->bitmap;

	for (; missing != 0; missing &= missing - 1) {
		uint8_t idx = job->worker_idx[__builtin_ctzll(missing)];

		if (idx != NO_WORKER && age > wait[idx])
			wait[idx] = age;
	}
}

static void
scan_job(struct ainftp_rx_ctx *ctx, struct ainftp_dp_job *job, uint64_t now)
{
	uint64_t wait[AINFTP_MAX_WORKERS] = {0};
	uint32_t k;
	uint16_t i;

	for (k = 0; k < job->n_slots; k++) {
		struct ainftp_slot *s = job->slots[k];
		uint64_t age;

		if (s == NULL || s->seq == AINFTP_SEQ_NONE || s->done || s->count == 0)
			continue;
		if (slot_ready(job, s)) {
			scan_complete(ctx, job, s, (uint16_t)k);
			continue;
		}
		/* Short waits are every slot's between its first and last contribution. */
		age = now > s->first_tsc ? now - s->first_tsc : 0;
		if (age > job->threshold / 8)
			scan_waits(job, s, age, wait);
	}
	for (i = 0; i < job->n_workers; i++)
		__atomic_store_n(&job->workers[i].wait, wait[i], __ATOMIC_RELAXED);
}

void
ainftp_dp_scan(struct ainftp_rx_ctx *ctx, uint64_t now)
{
	uint16_t j;

	ctx->dp.now = now;
	for (j = 0; j < ctx->dp.n_jobs; j++)
		scan_job(ctx, &ctx->dp.jobs[j], now);
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

		if (idx == NO_WORKER)
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
			sentry_sync(&dp->jobs[j]);
			moved = true;
		}
	}
	ainftp_members_quiescent(dp->members, ctx->lcore);
	/* A quorum that shrank may complete slots that waited for a worker now out. */
	if (unlikely(moved) || now >= dp->next_scan)
		ainftp_dp_scan(ctx, now);
}

/* One RX lcore's copy, consistent (see struct ainftp_dp_worker). */
static void
addr_read(const struct ainftp_dp_worker *w, struct ainftp_dp_addr *a)
{
	uint32_t sc0, sc1;

	do {
		sc0 = __atomic_load_n(&w->addr_sc, __ATOMIC_ACQUIRE);
		a->udp_port = w->udp_port;
		rte_ether_addr_copy(&w->mac, &a->mac);
		a->learnt_tsc = w->learnt_tsc;
		/* The copies above complete before the count is read again. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		sc1 = __atomic_load_n(&w->addr_sc, __ATOMIC_RELAXED);
	} while ((sc0 & 1) != 0 || sc0 != sc1);
}

bool
ainftp_dp_worker_addr(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
		      struct ainftp_dp_addr *out)
{
	struct ainftp_dp_addr a;
	unsigned int lcore;
	bool found = false;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_rx_ctx *ctx = rt->rx[lcore];

		if (ctx == NULL || job_idx >= ctx->dp.n_jobs)
			continue;
		addr_read(&ctx->dp.jobs[job_idx].workers[widx], &a);
		if (a.udp_port != 0 && (!found || a.learnt_tsc > out->learnt_tsc)) {
			*out = a;
			found = true;
		}
	}
	return found;
}

void
ainftp_dp_worker_lag(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
		     struct ainftp_dp_lag *out)
{
	unsigned int lcore;

	memset(out, 0, sizeof(*out));
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_rx_ctx *ctx = rt->rx[lcore];
		const struct ainftp_dp_worker *w;

		if (ctx == NULL || job_idx >= ctx->dp.n_jobs)
			continue;
		w = &ctx->dp.jobs[job_idx].workers[widx];
		out->ewma =
			RTE_MAX(out->ewma, __atomic_load_n(&w->lag_ewma, __ATOMIC_RELAXED) >> 4);
		out->wait = RTE_MAX(out->wait, __atomic_load_n(&w->wait, __ATOMIC_RELAXED));
		out->samples += __atomic_load_n(&w->lag_samples, __ATOMIC_RELAXED);
		out->contribs += __atomic_load_n(&w->contribs, __ATOMIC_RELAXED);
		out->drops += __atomic_load_n(&w->drops, __ATOMIC_RELAXED);
	}
}

void
ainftp_dp_worker_sentry(const struct ainftp_runtime *rt, uint16_t job_idx, uint16_t widx,
			uint64_t *seen, uint64_t *flagged)
{
	unsigned int lcore;

	*seen = *flagged = 0;
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_rx_ctx *ctx = rt->rx[lcore];
		const struct ainftp_dp_worker *w;

		if (ctx == NULL || job_idx >= ctx->dp.n_jobs)
			continue;
		w = &ctx->dp.jobs[job_idx].workers[widx];
		*seen += __atomic_load_n(&w->sentry_seen, __ATOMIC_RELAXED);
		*flagged += __atomic_load_n(&w->sentry_flagged, __ATOMIC_RELAXED);
	}
}

/* The largest of a per-lcore field of a job over every RX lcore. */
static uint64_t
job_field_max(const struct ainftp_runtime *rt, uint16_t job_idx, size_t offset)
{
	unsigned int lcore;
	uint64_t v = 0;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_rx_ctx *ctx = rt->rx[lcore];
		const uint64_t *f;

		if (ctx == NULL || job_idx >= ctx->dp.n_jobs)
			continue;
		f = (const uint64_t *)((const char *)&ctx->dp.jobs[job_idx] + offset);
		v = RTE_MAX(v, __atomic_load_n(f, __ATOMIC_RELAXED));
	}
	return v;
}

uint64_t
ainftp_dp_job_max_step(const struct ainftp_runtime *rt, uint16_t job_idx)
{
	return job_field_max(rt, job_idx, offsetof(struct ainftp_dp_job, max_step));
}

uint64_t
ainftp_dp_job_partial_wait(const struct ainftp_runtime *rt, uint16_t job_idx)
{
	return job_field_max(rt, job_idx, offsetof(struct ainftp_dp_job, partial_wait_max));
}

uint64_t
ainftp_dp_sink_written(const struct ainftp_runtime *rt)
{
	uint64_t n = 0;
	unsigned int lcore;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++)
		if (rt->rx[lcore] != NULL)
			n += ainftp_ctr_read(&rt->rx[lcore]->stats->sink_written);
	return n;
}

unsigned int
ainftp_dp_slots_busy(const struct ainftp_runtime *rt)
{
	unsigned int lcore, n = 0;
	uint32_t k;
	uint16_t j;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		const struct ainftp_rx_ctx *ctx = rt->rx[lcore];

		for (j = 0; ctx != NULL && j < ctx->dp.n_jobs; j++)
			for (k = 0; k < ctx->dp.jobs[j].n_slots; k++) {
				const struct ainftp_slot *s = ctx->dp.jobs[j].slots[k];

				n += s != NULL && s->seq != AINFTP_SEQ_NONE && !s->done;
			}
	}
	return n;
}

unsigned int
ainftp_dp_result_pool_size(const struct ainftp_config *cfg)
{
	unsigned int n = 0;
	uint16_t j;

	/* Every slot keeps its last result. */
	for (j = 0; j < cfg->n_jobs; j++)
		n += cfg->jobs[j].slots;
	return n;
}
