/* SPDX-License-Identifier: BSD-3-Clause */
/* An RX lcore's share of every job: set up before launch, freed after. */
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "ainftp_dp_private.h"

static bool
lcore_polls(const struct ainftp_rx_ctx *ctx, uint16_t port_idx, uint16_t queue)
{
	uint16_t i;

	for (i = 0; i < ctx->n_rxq; i++)
		if (ctx->rxq[i].port_idx == port_idx && ctx->rxq[i].queue == queue)
			return true;
	return false;
}

/* rows: floats of per-worker rows for the robust rules (n_workers x elems), or 0. */
static struct ainftp_slot *
slot_create(uint32_t elems, size_t rows, int socket)
{
	struct ainftp_slot *s = rte_zmalloc_socket("ainftp_slot", sizeof(*s), 0, socket);
	void *mem;

	if (s == NULL)
		return NULL;
	if (rows != 0) {
		s->rows = rte_zmalloc_socket("ainftp_rows", rows * sizeof(float), 64, socket);
		if (s->rows == NULL) {
			rte_free(s);
			return NULL;
		}
	}
	mem = rte_malloc_socket("ainftp_acc", ainftp_acc_size(elems), 64, socket);
	if (mem == NULL) {
		rte_free(s->rows);
		rte_free(s);
		return NULL;
	}
	ainftp_acc_init(&s->acc, elems, mem);
	ainftp_slot_init(s);
	return s;
}

static void
slot_destroy(struct ainftp_slot *s)
{
	if (s == NULL)
		return;
	rte_pktmbuf_free(s->shadow);
	rte_free(s->acc.acc); /* the accumulator's one allocation */
	rte_free(s->rows);
	rte_free(s);
}

static int
job_workers_init(struct ainftp_dp_job *job, const struct ainftp_job_conf *jc)
{
	uint16_t i;

	memset(job->worker_idx, AINFTP_DP_NO_WORKER, sizeof(job->worker_idx));
	job->n_workers = jc->n_workers;
	for (i = 0; i < jc->n_workers; i++) {
		job->worker_idx[jc->workers[i].id] = (uint8_t)i;
		job->workers[i].ipv4 = jc->workers[i].ipv4;
		if (jc->auth && ainftp_mac_key_init(&job->workers[i].key, jc->workers[i].key) != 0)
			return -1;
		job->workers[i].key.alg = (uint8_t)jc->auth_mac;
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
	if (job->rule->judge == NULL)
		return 0;
	job->sentry = rte_zmalloc_socket("ainftp_sentry", sizeof(*job->sentry), 64, socket);
	if (job->sentry == NULL ||
	    ainftp_sentry_init(job->sentry, &jc->sentry, jc->n_workers, job->elems, dp->sops) != 0)
		return -1;
	job->sentry->threshold_q16 = UINT32_MAX;
	return 0;
}

/*
 * Where a hierarchical job's sums go: a leaf's to its spine (its key, its
 * place, how many blocks a frame carries), a spine's leaves' workers.
 */
static int
job_tree_init(struct ainftp_dp_job *job, const struct ainftp_runtime *rt,
	      const struct ainftp_job_conf *jc)
{
	uint8_t i;

	job->role = jc->role;
	for (i = 0; i < jc->n_leaves; i++)
		job->leaf_workers[i] = jc->leaves[i].workers;
	if (jc->role != AINFTP_ROLE_LEAF)
		return 0;
	job->up.ipv4 = jc->spine;
	job->up.leaf = jc->leaf_index;
	job->up.bpp = (uint16_t)ainftp_hier_bpp(rt->cfg->ports[jc->port].mtu);
	job->up.rto = rte_get_tsc_hz() / 1000 * AINFTP_DP_LEAF_RTO_MS;
	if (jc->auth && ainftp_mac_key_init(&job->up.key, jc->leaves[jc->leaf_index].key) != 0)
		return -1;
	job->up.key.alg = (uint8_t)jc->auth_mac; /* the spine's job has the same auth_mac */
	return job->up.bpp == 0 ? -1 : 0;
}

static int
job_init(struct ainftp_dp_job *job, const struct ainftp_rx_ctx *ctx,
	 const struct ainftp_runtime *rt, const struct ainftp_job_conf *jc, int socket)
{
	const struct ainftp_sentry_rule *rule = ainftp_sentry_rule(jc->sentry.policy);
	size_t rows = rule->keeps_rows ? (size_t)jc->n_workers * jc->elems_per_packet : 0;
	uint32_t k;

	job->id = jc->id;
	job->idx = (uint16_t)(jc - rt->cfg->jobs);
	job->port_idx = jc->port;
	job->lanes = rt->ports[jc->port].n_rxq;
	job->rule = rule;
	job->codec = ainftp_codec_get(jc->encoding);
	job->rcodec = ainftp_codec_get(jc->result_encoding);
	job->auth = jc->auth;
	job->result_tags = jc->auth && jc->result_tags;
	job->auth_mac = (uint8_t)jc->auth_mac;
	job->shard_index = jc->shard_index;
	job->shard_count = jc->shard_count;
	job->quorum = jc->quorum;
	job->min_quorum = jc->straggler.min_quorum;
	job->threshold = rte_get_tsc_hz() / 1000 * jc->straggler.threshold_ms;
	ainftp_lat_hist_init(&job->latency, rte_get_tsc_hz());
	job->q = *ainftp_members_current(rt->members, job->idx);
	job->elems = (uint16_t)jc->elems_per_packet;
	job->n_slots = jc->slots;
	job->payload_len = (uint32_t)job->codec->payload_len(job->elems);
	job->result_len = (uint32_t)job->rcodec->payload_len(job->elems);
	if (job_workers_init(job, jc) != 0 || sentry_create(job, &ctx->dp, jc, socket) != 0 ||
	    job_tree_init(job, rt, jc) != 0)
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

	dp->sops = ainftp_sentry_select(rt->simd_bits);
	dp->mac = ainftp_mac_select(rt->simd_bits);
	ainftp_kernels_init(&dp->k, ainftp_quant_select(rt->simd_bits));
	dp->k.dequant_i16 = dp->sops->dequant_i16;
	dp->k.sumsq = dp->sops->sumsq;
	dp->result_pool = rt->result_pool[port_socket];
	dp->hdr_pool = rt->hdr_pool[port_socket];
	ainftp_mstash_init(&dp->result_stash, dp->result_pool);
	ainftp_mstash_init(&dp->hdr_stash, dp->hdr_pool);
	dp->n_jobs = cfg->n_jobs;
	dp->members = rt->members;
	dp->rt = rt;
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
	ainftp_dp_stop(dp);
	rte_free(dp->jobs);
	rte_free(dp->scratch);
	rte_ring_free(dp->hb_ring);
	dp->jobs = NULL;
	dp->scratch = NULL;
	dp->hb_ring = NULL;
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
