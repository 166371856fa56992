/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Byzantine sentry: per-job state, the zscore rule, the suspicion score,
 * and the scalar reference kernels (docs/SENTRY.md).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ainftp_sentry.h"

/* 1 / Phi^-1(3/4): MAD times this estimates sigma for Gaussian data. */
#define MAD_TO_SIGMA 1.4826

/* Batcher's odd-even merge sort: comparators are emitted in order, for the next
 * power of two; those that touch an index >= n are left out, which is the same
 * as padding with +inf values that never move. */
int
ainftp_sortnet_build(struct ainftp_sortnet *net, uint32_t n)
{
	uint32_t p, k, j, i, len = 0, top = 1;

	if (net == NULL || n == 0 || n > AINFTP_MAX_WORKERS)
		return -EINVAL;
	while (top < n)
		top <<= 1;
	for (p = 1; p < top; p <<= 1)
		for (k = p; k >= 1; k >>= 1)
			for (j = k % p; j + k < top; j += 2 * k)
				for (i = 0; i < k && i + j + k < n; i++)
					if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) {
						net->lo[len] = (uint8_t)(i + j);
						net->hi[len] = (uint8_t)(i + j + k);
						len++;
					}
	net->n = n;
	net->len = len;
	return 0;
}

static uint32_t
ainftp_f32_bits(float x)
{
	uint32_t b;

	memcpy(&b, &x, sizeof(b));
	return b;
}

static float
ainftp_key_f32(int32_t k)
{
	uint32_t b = (uint32_t)ainftp_sentry_key((uint32_t)k);
	float x;

	memcpy(&x, &b, sizeof(x));
	return x;
}

static float
ainftp_sentry_trim_sum(const int32_t *s, uint32_t n, uint32_t t, float scale)
{
	float sum = 0.0f;
	uint32_t j;

	for (j = t; j < n - t; j++)
		sum += ainftp_key_f32(s[j]);
	return sum * scale;
}

/* Insertion sort: the reference's own way of sorting, independent of the networks. */
static void
ainftp_sort_keys(int32_t *v, uint32_t n)
{
	uint32_t i, j;

	for (i = 1; i < n; i++) {
		int32_t k = v[i];

		for (j = i; j > 0 && v[j - 1] > k; j--)
			v[j] = v[j - 1];
		v[j] = k;
	}
}

static void
ainftp_sentry_trim_ref(const float *const *x, uint32_t n, uint32_t from, uint32_t elems, uint32_t t,
		       uint32_t band, float scale, float *out, uint32_t *outside)
{
	int32_t key[AINFTP_MAX_WORKERS], s[AINFTP_MAX_WORKERS];
	uint32_t i, p;

	for (i = from; i < elems; i++) {
		for (p = 0; p < n; p++)
			key[p] = ainftp_sentry_key(ainftp_f32_bits(x[p][i] + 0.0f));
		memcpy(s, key, n * sizeof(s[0]));
		ainftp_sort_keys(s, n);
		out[i] = ainftp_sentry_trim_sum(s, n, t, scale);
		if (outside == NULL || band == 0)
			continue;
		for (p = 0; p < n; p++)
			outside[p] += key[p] < s[band] || key[p] > s[n - 1 - band];
	}
}

static void
trim_ref(const struct ainftp_sortnet *net, const float *const *x, uint32_t elems, uint32_t t,
	 uint32_t band, float scale, float *out, uint32_t *outside)
{
	ainftp_sentry_trim_ref(x, net->n, 0, elems, t, band, scale, out, outside);
}

double
ainftp_sentry_block_sumsq(const float *x, uint32_t m)
{
	double p[8] = {0};
	uint32_t j;

	for (j = 0; j < m; j++)
		p[j % 8] += (double)x[j] * x[j];
	return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

float
ainftp_sentry_clip_scale(double sumsq, double clip_norm)
{
	double norm = sqrt(sumsq);

	return norm > clip_norm ? (float)(clip_norm / norm) : 0.0f;
}

static uint32_t
clip_ref(const float *x, uint32_t n, double clip_norm, float *out)
{
	uint32_t b, j, clipped = 0;

	for (b = 0; b < ainftp_blocks(n); b++) {
		const float *xb = x + b * AINFTP_BLOCK;
		float *ob = out + b * AINFTP_BLOCK;
		uint32_t m = ainftp_block_len(n, b);
		float k = ainftp_sentry_clip_scale(ainftp_sentry_block_sumsq(xb, m), clip_norm);

		if (k == 0.0f) {
			if (ob != xb)
				memcpy(ob, xb, m * sizeof(*ob));
			continue;
		}
		for (j = 0; j < m; j++)
			ob[j] = xb[j] * k;
		clipped++;
	}
	return clipped;
}

static double
sumsq_ref(const float *x, uint32_t n)
{
	double sum = 0.0;
	uint32_t b;

	for (b = 0; b < ainftp_blocks(n); b++)
		sum += ainftp_sentry_block_sumsq(x + b * AINFTP_BLOCK, ainftp_block_len(n, b));
	return sum;
}

const struct ainftp_sentry_ops ainftp_sentry_scalar = {
	.name = "scalar",
	.trim = trim_ref,
	.clip = clip_ref,
	.sumsq = sumsq_ref,
	.dequant_i16 = ainftp_dequant_i16,
};

bool
ainftp_sentry_have(const struct ainftp_sentry_ops *ops)
{
	__builtin_cpu_init();
	if (ops == &ainftp_sentry_avx512)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
	if (ops == &ainftp_sentry_avx2)
		return __builtin_cpu_supports("avx2");
	return ops == &ainftp_sentry_scalar;
}

const struct ainftp_sentry_ops *
ainftp_sentry_select(unsigned int max_bits)
{
	if (max_bits >= 512 && ainftp_sentry_have(&ainftp_sentry_avx512))
		return &ainftp_sentry_avx512;
	if (max_bits >= 256 && ainftp_sentry_have(&ainftp_sentry_avx2))
		return &ainftp_sentry_avx2;
	return &ainftp_sentry_scalar;
}

/* The config parser's ranges (config/README.md), checked again for callers that build a conf. */
static bool
ainftp_sentry_conf_ok(const struct ainftp_sentry_conf *c, uint16_t n_workers)
{
	if (c->policy < AINFTP_SENTRY_NONE || c->policy >= AINFTP_SENTRY_MAX)
		return false;
	if (!(c->zscore_k > 0 && c->zscore_k <= 100) ||
	    !(c->clip_norm > 0 && isfinite(c->clip_norm)))
		return false;
	if (!(c->suspicion_threshold > 0 && c->suspicion_threshold <= 1))
		return false;
	if (c->trim_f < 1 || c->trim_f > AINFTP_MAX_WORKERS)
		return false;
	return c->policy != AINFTP_SENTRY_TRIMMED_MEAN || 2u * c->trim_f < n_workers;
}

int
ainftp_sentry_init(struct ainftp_sentry *s, const struct ainftp_sentry_conf *conf,
		   uint16_t n_workers, uint32_t elems, const struct ainftp_sentry_ops *ops)
{
	if (s == NULL || conf == NULL || ops == NULL || n_workers == 0 ||
	    n_workers > AINFTP_MAX_WORKERS || elems == 0 || !ainftp_sentry_conf_ok(conf, n_workers))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->conf = *conf;
	s->ops = ops;
	s->n_workers = n_workers;
	s->elems = elems;
	s->threshold_q16 = (uint32_t)ceil(conf->suspicion_threshold * AINFTP_SENTRY_Q16);
	return ainftp_sortnet_build(&s->net, n_workers);
}

/*
 * One observation of worker w: the score moves 1/64 of the way towards 1
 * (flagged) or 0, in integers so that it is the same on every machine. It
 * stays below 1, so a threshold of 1 never quarantines.
 */
static void
ainftp_sentry_observe(struct ainftp_sentry *s, uint16_t w, bool flagged)
{
	struct ainftp_sentry_worker *sw = &s->w[w];

	sw->seen++;
	if (flagged) {
		sw->flagged++;
		sw->score += (AINFTP_SENTRY_Q16 - sw->score) >> AINFTP_SENTRY_EWMA_SHIFT;
	} else {
		sw->score -= sw->score >> AINFTP_SENTRY_EWMA_SHIFT;
	}
	/* Never a majority: the rules assume one, and so would a wrong quarantine. */
	if (sw->score >= s->threshold_q16 && !(s->quarantined >> w & 1) &&
	    (uint32_t)__builtin_popcountll(s->quarantined) < (s->n_workers - 1u) / 2) {
		s->quarantined |= UINT64_C(1) << w;
		sw->quarantines++;
	}
}

int
ainftp_sentry_readmit(struct ainftp_sentry *s, uint16_t w)
{
	struct ainftp_sentry_worker *sw;

	if (s == NULL || w >= s->n_workers)
		return -EINVAL;
	sw = &s->w[w];
	s->quarantined &= ~(UINT64_C(1) << w);
	sw->score = 0;
	sw->norms = 0;
	sw->mean = 0;
	sw->m2 = 0;
	return 0;
}

double
ainftp_sentry_suspicion(const struct ainftp_sentry *s, uint16_t w)
{
	if (s == NULL || w >= s->n_workers)
		return -1;
	return (double)s->w[w].score / AINFTP_SENTRY_Q16;
}

double
ainftp_sentry_norm_f32(const struct ainftp_sentry *s, const float *x)
{
	return sqrt(s->ops->sumsq(x, s->elems));
}

/* Median of v[0..n-1], n >= 1, sorting v in place (n <= 64, not per packet). */
static double
ainftp_median(double *v, uint32_t n)
{
	uint32_t i, j;

	for (i = 1; i < n; i++) {
		double k = v[i];

		for (j = i; j > 0 && v[j - 1] > k; j--)
			v[j] = v[j - 1];
		v[j] = k;
	}
	return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The robust centre and sigma over the warm, admitted workers: the median of
 * their means, and the square root of the median within-worker variance plus
 * the between-worker variance from the MAD of the means. Medians: fewer than
 * half of the workers cannot move either.
 */
static void
ainftp_zscore_refresh(struct ainftp_sentry *s)
{
	double mean[AINFTP_MAX_WORKERS], var[AINFTP_MAX_WORKERS];
	uint32_t w, n = 0, admitted = 0;
	double mad;

	for (w = 0; w < s->n_workers; w++) {
		const struct ainftp_sentry_worker *sw = &s->w[w];

		if (!ainftp_sentry_admitted(s, (uint16_t)w))
			continue;
		admitted++;
		if (sw->norms < AINFTP_SENTRY_WARMUP)
			continue;
		mean[n] = sw->mean;
		var[n] = sw->m2 / (double)(sw->norms - 1);
		n++;
	}
	s->zs_checks = 0;
	s->zs_ready = n > 0 && n > admitted / 2;
	if (!s->zs_ready)
		return;
	s->zs_center = ainftp_median(mean, n);
	for (w = 0; w < n; w++)
		mean[w] = fabs(mean[w] - s->zs_center);
	mad = MAD_TO_SIGMA * ainftp_median(mean, n);
	s->zs_sigma = sqrt(ainftp_median(var, n) + mad * mad);
}

static void
ainftp_welford_add(struct ainftp_sentry_worker *sw, double x)
{
	double d = x - sw->mean;

	sw->norms++;
	sw->mean += d / (double)sw->norms;
	sw->m2 += d * (x - sw->mean);
}

int
ainftp_sentry_zscore_check(struct ainftp_sentry *s, uint16_t w, double norm)
{
	bool flagged;

	if (s == NULL || s->conf.policy != AINFTP_SENTRY_ZSCORE || !ainftp_sentry_admitted(s, w) ||
	    !(norm >= 0) || !isfinite(norm))
		return -EINVAL;
	/* Amortized: one refresh (a few sorts of <= 64 doubles) per n_workers checks. */
	if (!s->zs_ready || ++s->zs_checks >= s->n_workers)
		ainftp_zscore_refresh(s);
	flagged = s->zs_ready && fabs(norm - s->zs_center) > s->conf.zscore_k * s->zs_sigma;
	ainftp_welford_add(&s->w[w], norm);
	ainftp_sentry_observe(s, w, flagged);
	return flagged ? AINFTP_SENTRY_DROP : AINFTP_SENTRY_ACCEPT;
}

/*
 * The suspicion band e of robust: a worker counts as outside in a coordinate
 * when it lies strictly below the e-th lowest value or above the e-th highest,
 * and is flagged when outside in over (1 + 2e/n) / 2 of the coordinates,
 * halfway from what chance gives an honest worker (2e/n) to always. f Byzantine
 * workers can push honest ones outside, by sitting inside the band, at most
 * 2e/(n - f) on average: e is the largest with that 1/8 below the bar,
 * 2e/(n-f) + 1/8 <= 1/2 + e/n, i.e. e <= 3n(n-f) / 8(n+f), and at most f. So
 * with t = f up to (n-1)/2 (median's), honest workers are never flagged by
 * design, at the price of not flagging attackers that are outside less often
 * (more than e of them on one side); e is 0, no flags, below n = 5.
 */
uint32_t
ainftp_sentry_band(uint32_t n, uint32_t f)
{
	uint32_t e = 3 * n * (n - f) / (8 * (n + f));

	return e < f ? e : f;
}

/* Workers distinct, in range and admitted. */
static bool
ainftp_workers_ok(const struct ainftp_sentry *s, const uint16_t *workers, uint16_t n)
{
	uint64_t seen = 0;
	uint16_t p;

	for (p = 0; p < n; p++) {
		if (!ainftp_sentry_admitted(s, workers[p]) || (seen >> workers[p] & 1))
			return false;
		seen |= UINT64_C(1) << workers[p];
	}
	return true;
}

int
ainftp_sentry_robust(struct ainftp_sentry *s, const float *const *x, const uint16_t *workers,
		     uint16_t n, float *out)
{
	uint32_t outside[AINFTP_MAX_WORKERS] = {0};
	uint32_t t, band, half = ((uint32_t)n - 1) / 2;
	uint64_t bar;
	bool median = s != NULL && s->conf.policy == AINFTP_SENTRY_MEDIAN;
	uint16_t p;

	if (s == NULL || x == NULL || workers == NULL || out == NULL || n == 0 ||
	    n > s->n_workers || !ainftp_workers_ok(s, workers, n) ||
	    (s->conf.policy != AINFTP_SENTRY_TRIMMED_MEAN &&
	     s->conf.policy != AINFTP_SENTRY_MEDIAN))
		return -EINVAL;
	for (p = 0; p < n; p++)
		if (x[p] == NULL)
			return -EINVAL;
	t = median || s->conf.trim_f > half ? half : s->conf.trim_f;
	band = ainftp_sentry_band(n, t);
	if (s->net.n != n)
		ainftp_sortnet_build(&s->net, n);
	s->ops->trim(&s->net, x, s->elems, t, band, (float)n / (float)(n - 2 * t), out, outside);
	/* Flag beyond halfway from an honest worker's 2 band / n to all coordinates. */
	bar = (uint64_t)s->elems * (n + 2 * band);
	for (p = 0; p < n; p++)
		ainftp_sentry_observe(s, workers[p],
				      band > 0 && (uint64_t)outside[p] * 2 * n > bar);
	return 0;
}

int
ainftp_sentry_clip(struct ainftp_sentry *s, uint16_t w, const float *x, float *out)
{
	uint32_t clipped;

	if (s == NULL || x == NULL || out == NULL || s->conf.policy != AINFTP_SENTRY_CLIP ||
	    !ainftp_sentry_admitted(s, w))
		return -EINVAL;
	clipped = s->ops->clip(x, s->elems, s->conf.clip_norm, out);
	ainftp_sentry_observe(s, w, 2 * clipped > ainftp_blocks(s->elems));
	return (int)clipped;
}
