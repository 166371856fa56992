/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Emulated Byzantine workers and the harness that measures a sentry policy
 * against them (ainftp_attack.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_attack.h"

#define STREAM_SCALE 0
#define STREAM_TRUTH 1
#define STREAM_HONEST 2	    /* + worker */
#define STREAM_NOISE 0x1000 /* + worker */

static const char *const attack_names[AINFTP_ATTACK_COUNT] = {
	[AINFTP_ATTACK_NONE] = "none",	[AINFTP_ATTACK_SIGN_FLIP] = "sign_flip",
	[AINFTP_ATTACK_SCALE] = "x100", [AINFTP_ATTACK_NOISE] = "noise",
	[AINFTP_ATTACK_ALIE] = "alie",	[AINFTP_ATTACK_IPM] = "ipm",
};

const char *
ainftp_attack_name(enum ainftp_attack_kind kind)
{
	return kind < AINFTP_ATTACK_COUNT ? attack_names[kind] : "?";
}

void
ainftp_attack_defaults(struct ainftp_attack_conf *a, enum ainftp_attack_kind kind)
{
	a->kind = kind;
	a->scale = 100;
	a->noise = 100;
	a->alie_z = 1;
	a->ipm_eps = 0.1;
}

void
ainftp_grad_model_defaults(struct ainftp_grad_model *m, uint64_t seed)
{
	m->seed = seed;
	m->sigma = 1;
	m->spread = 1;
}

/* splitmix64, one independent stream per (seed, chunk, stream). */
struct rng {
	uint64_t s;
};

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static struct rng
rng_make(uint64_t seed, uint64_t chunk, uint64_t stream)
{
	struct rng r = {mix64(seed ^ mix64(chunk ^ mix64(stream + 0x9e3779b97f4a7c15u)))};

	return r;
}

static uint64_t
rng_next(struct rng *r)
{
	return mix64(r->s += 0x9e3779b97f4a7c15u);
}

/* Uniform in (0, 1]: 53 bits. */
static double
rng_unit(struct rng *r)
{
	return (double)((rng_next(r) >> 11) + 1) * 0x1p-53;
}

/* Box-Muller: one N(0, 1) per two uniforms. */
static double
rng_normal(struct rng *r)
{
	double u1 = rng_unit(r), u2 = rng_unit(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double
chunk_scale(const struct ainftp_grad_model *m, uint64_t c)
{
	struct rng r = rng_make(m->seed, c, STREAM_SCALE);

	return exp2(m->spread * (2.0 * rng_unit(&r) - 1.0));
}

void
ainftp_attack_honest(const struct ainftp_grad_model *m, uint64_t c, uint16_t n, uint32_t elems,
		     float *const *x)
{
	struct rng truth = rng_make(m->seed, c, STREAM_TRUTH);
	double s = chunk_scale(m, c);
	uint32_t i;
	uint16_t w;

	for (i = 0; i < elems; i++) {
		double g = s * rng_normal(&truth);

		for (w = 0; w < n; w++)
			x[w][i] = (float)g;
	}
	for (w = 0; w < n; w++) {
		struct rng r = rng_make(m->seed, c, STREAM_HONEST + w);

		for (i = 0; i < elems; i++)
			x[w][i] = (float)(x[w][i] + s * m->sigma * rng_normal(&r));
	}
}

/* Mean and standard deviation of coordinate i over the h honest workers. */
static void
honest_stats(float *const *x, uint16_t h, uint32_t i, double *mu, double *sd)
{
	double sum = 0, ss = 0;
	uint16_t w;

	for (w = 0; w < h; w++)
		sum += x[w][i];
	*mu = sum / h;
	for (w = 0; w < h; w++)
		ss += (x[w][i] - *mu) * (x[w][i] - *mu);
	*sd = sqrt(ss / h);
}

static void
attack_shared(const struct ainftp_attack_conf *a, uint16_t n, uint16_t f, uint32_t elems,
	      float *const *x)
{
	uint16_t h = n - f, w;
	double mu, sd, v;
	uint32_t i;

	for (i = 0; i < elems; i++) {
		honest_stats(x, h, i, &mu, &sd);
		v = a->kind == AINFTP_ATTACK_ALIE ? mu - a->alie_z * sd : -a->ipm_eps * mu;
		for (w = h; w < n; w++)
			x[w][i] = (float)v;
	}
}

int
ainftp_attack_apply(const struct ainftp_attack_conf *a, const struct ainftp_grad_model *m,
		    uint64_t c, uint16_t n, uint16_t f, uint32_t elems, float *const *x)
{
	double s = chunk_scale(m, c);
	uint32_t i;
	uint16_t w;

	if (a == NULL || m == NULL || x == NULL || f >= n || a->kind >= AINFTP_ATTACK_COUNT)
		return -EINVAL;
	if (a->kind == AINFTP_ATTACK_ALIE || a->kind == AINFTP_ATTACK_IPM) {
		attack_shared(a, n, f, elems, x);
		return 0;
	}
	for (w = n - f; w < n; w++) {
		struct rng r = rng_make(m->seed, c, STREAM_NOISE + w);

		for (i = 0; i < elems && a->kind != AINFTP_ATTACK_NONE; i++) {
			if (a->kind == AINFTP_ATTACK_SIGN_FLIP)
				x[w][i] = -x[w][i];
			else if (a->kind == AINFTP_ATTACK_SCALE)
				x[w][i] = (float)(a->scale * x[w][i]);
			else
				x[w][i] = (float)(s * a->noise * rng_normal(&r));
		}
	}
	return 0;
}

/* What a run allocates: n contributions, and elems each of the rest. */
struct run_mem {
	float *x[AINFTP_MAX_WORKERS];
	float *mu;
	float *out;
	float *tmp;
	double *sum;
};

static void
run_mem_free(struct run_mem *m)
{
	uint16_t w;

	for (w = 0; w < AINFTP_MAX_WORKERS; w++)
		free(m->x[w]);
	free(m->mu);
	free(m->out);
	free(m->tmp);
	free(m->sum);
}

static int
run_mem_alloc(struct run_mem *m, uint16_t n, uint32_t elems)
{
	uint16_t w;

	memset(m, 0, sizeof(*m));
	for (w = 0; w < n; w++)
		m->x[w] = calloc(elems, sizeof(float));
	m->mu = calloc(elems, sizeof(float));
	m->out = calloc(elems, sizeof(float));
	m->tmp = calloc(elems, sizeof(float));
	m->sum = calloc(elems, sizeof(double));
	for (w = 0; w < n; w++)
		if (m->x[w] == NULL)
			break;
	if (w < n || !m->mu || !m->out || !m->tmp || !m->sum) {
		run_mem_free(m);
		return -ENOMEM;
	}
	return 0;
}

static void
sum_add(double *sum, const float *x, uint32_t elems)
{
	uint32_t i;

	for (i = 0; i < elems; i++)
		sum[i] += x[i];
}

/* One chunk through the policy: m->out = the aggregate's mean. Counts zscore drops. */
static void
run_aggregate(const struct ainftp_attack_run *r, struct ainftp_sentry *s, struct run_mem *m,
	      struct ainftp_attack_result *res)
{
	const struct ainftp_sentry_rule *rule = ainftp_sentry_rule(r->sentry.policy);
	const struct ainftp_codec *f32 = ainftp_codec_get(AINFTP_ENC_FLOAT32);
	const float *used[AINFTP_MAX_WORKERS];
	uint16_t ids[AINFTP_MAX_WORKERS], k = 0, w;
	struct ainftp_kernels kern;
	uint32_t i;

	ainftp_kernels_init(&kern, &ainftp_quant_scalar);
	kern.sumsq = s->ops->sumsq;
	memset(m->sum, 0, r->elems * sizeof(double));
	for (w = 0; w < r->n; w++) {
		enum ainftp_judgement v = AINFTP_JUDGE_PAYLOAD;

		if (rule->judge != NULL) {
			if (!ainftp_sentry_admitted(s, w))
				continue;
			/* A kept row is the payload itself: to_f32 moves it onto itself. */
			v = rule->judge(s, w, f32, &kern, m->x[w], 0,
					rule->keeps_rows ? m->x[w] : m->tmp);
		}
		if (v == AINFTP_JUDGE_DROP) {
			*(w >= r->n - r->f ? &res->byz_dropped : &res->honest_dropped) += 1;
			continue;
		}
		/* Sums in double: the harness measures the rule, not the exact accumulator. */
		sum_add(m->sum, v == AINFTP_JUDGE_FLOATS ? m->tmp : m->x[w], r->elems);
		used[k] = m->x[w];
		ids[k++] = w;
	}
	if (k > 0 && rule->keeps_rows) {
		rule->finish(s, used, ids, k, m->out);
		for (i = 0; i < r->elems; i++)
			m->out[i] /= k;
		return;
	}
	for (i = 0; i < r->elems; i++)
		m->out[i] = k ? (float)(m->sum[i] / k) : 0.0f;
}

static double
rel_dist(const float *a, const float *mu, uint32_t elems)
{
	double d = 0, nm = 0;
	uint32_t i;

	for (i = 0; i < elems; i++) {
		d += ((double)a[i] - mu[i]) * ((double)a[i] - mu[i]);
		nm += (double)mu[i] * mu[i];
	}
	return sqrt(d / nm);
}

static void
honest_mean(float *const *x, uint16_t h, uint32_t elems, float *mu)
{
	double sd;
	double v;
	uint32_t i;

	for (i = 0; i < elems; i++) {
		honest_stats(x, h, i, &v, &sd);
		mu[i] = (float)v;
	}
}

static void
run_summary(const struct ainftp_attack_run *r, const struct ainftp_sentry *s,
	    struct ainftp_attack_result *res)
{
	uint16_t w;

	for (w = 0; ainftp_sentry_rule(r->sentry.policy)->judge != NULL && w < r->n; w++) {
		bool byz = w >= r->n - r->f;
		bool q = !ainftp_sentry_admitted(s, w);

		if (byz) {
			res->byz_quarantined += q;
			res->byz_suspicion += ainftp_sentry_suspicion(s, w) / r->f;
		} else {
			res->honest_quarantined += q;
			res->honest_suspicion += ainftp_sentry_suspicion(s, w) / (r->n - r->f);
		}
	}
}

int
ainftp_attack_run(const struct ainftp_attack_run *r, struct ainftp_attack_result *res)
{
	struct ainftp_sentry s;
	struct run_mem m;
	uint64_t c;
	int rc;

	if (r == NULL || res == NULL || r->n == 0 || r->n > AINFTP_MAX_WORKERS || r->f >= r->n ||
	    r->elems == 0 || r->chunks == 0 || r->ops == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	rc = ainftp_sentry_init(&s, &r->sentry, r->n, r->elems, r->ops);
	if (rc < 0)
		return rc;
	rc = run_mem_alloc(&m, r->n, r->elems);
	if (rc < 0)
		return rc;
	for (c = 0; c < (uint64_t)r->warmup + r->chunks; c++) {
		ainftp_attack_honest(&r->model, c, r->n, r->elems, m.x);
		honest_mean(m.x, r->n - r->f, r->elems, m.mu);
		ainftp_attack_apply(&r->attack, &r->model, c, r->n, r->f, r->elems, m.x);
		run_aggregate(r, &s, &m, res);
		if (c < r->warmup)
			continue;
		double d = rel_dist(m.out, m.mu, r->elems);

		res->rel_dist += d / r->chunks;
		res->rel_dist_max = d > res->rel_dist_max ? d : res->rel_dist_max;
	}
	run_summary(r, &s, res);
	run_mem_free(&m);
	return 0;
}
