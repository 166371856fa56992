/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Byzantine sentry: every SIMD kernel gives the scalar reference's bits,
 * results do not depend on the order of the contributions, the API refuses bad
 * input, zscore / suspicion / quarantine / readmit behave as documented, and
 * against emulated attackers (f = 1..7 of 16) trimmed_mean and median stay
 * bounded where the plain mean does not, while zscore's known blind spots (ALIE,
 * IPM, sign flip) are recorded as such (docs/SENTRY.md).
 */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_attack.h"
#include "ainftp_sentry.h"
#include "ainftp_test_rng.h"

#define NOPS 3
static const struct ainftp_sentry_ops *const all_ops[NOPS] = {
	&ainftp_sentry_scalar,
	&ainftp_sentry_avx2,
	&ainftp_sentry_avx512,
};
static const struct ainftp_sentry_ops *const ref = &ainftp_sentry_scalar;

#define MAXE 1000
static const uint32_t sizes[] = {1, 7, 8, 15, 16, 17, 31, 32, 33, 364, 1000};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static uint32_t
rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* Mostly ordinary values, with ties, signed zeros, huge values and infinities. */
static float
rnd_value(void)
{
	static const float special[] = {0.0f,	  -0.0f,     1.0f,    -1.0f,	FLT_MAX,  -FLT_MAX,
					INFINITY, -INFINITY, FLT_MIN, -FLT_MIN, 0x1p-149f};
	uint32_t r = rnd_below(16);

	if (r == 0)
		return special[rnd_below(sizeof(special) / sizeof(special[0]))];
	if (r == 1)
		return (float)(int32_t)rnd_below(5) - 2.0f; /* ties */
	return (float)((int32_t)(rnd() >> 40) - (1 << 23)) * 0x1p-20f;
}

static const struct ainftp_sentry_ops *
ops_of(int i)
{
	if (!ainftp_sentry_have(all_ops[i])) {
		printf("test_sentry: skipping %s, not on this CPU\n", all_ops[i]->name);
		return NULL;
	}
	return all_ops[i];
}

static float xs[AINFTP_MAX_WORKERS][MAXE];

static void
fill(uint32_t n, uint32_t elems, const float **x)
{
	uint32_t p, i;

	for (p = 0; p < n; p++) {
		for (i = 0; i < elems; i++)
			xs[p][i] = rnd_value();
		x[p] = xs[p];
	}
}

START_TEST(sortnet_sorts)
{
	struct ainftp_sortnet net;
	int32_t v[AINFTP_MAX_WORKERS];
	uint32_t n, rep, c, i;

	ck_assert_int_eq(ainftp_sortnet_build(&net, 0), -EINVAL);
	ck_assert_int_eq(ainftp_sortnet_build(&net, AINFTP_MAX_WORKERS + 1), -EINVAL);
	ck_assert_int_eq(ainftp_sortnet_build(&net, 16), 0);
	ck_assert_uint_eq(net.len, 63); /* Batcher's 16-input network */
	ck_assert_int_eq(ainftp_sortnet_build(&net, 64), 0);
	ck_assert_uint_eq(net.len, AINFTP_SORTNET_MAX);
	for (n = 1; n <= AINFTP_MAX_WORKERS; n++) {
		ck_assert_int_eq(ainftp_sortnet_build(&net, n), 0);
		for (rep = 0; rep < 200; rep++) {
			for (i = 0; i < n; i++)
				v[i] = (int32_t)rnd_below(rep < 100 ? 2
								    : 1000); /* 0-1 inputs first */
			for (c = 0; c < net.len; c++) {
				int32_t a = v[net.lo[c]], b = v[net.hi[c]];

				ck_assert(net.lo[c] < net.hi[c] && net.hi[c] < n);
				v[net.lo[c]] = a < b ? a : b;
				v[net.hi[c]] = a < b ? b : a;
			}
			for (i = 1; i < n; i++)
				ck_assert_msg(v[i - 1] <= v[i], "n %u: not sorted at %u", n, i);
		}
	}
}
END_TEST

/* trim of ops and of the reference on the same random data: same bits, same counts. */
static void
trim_compare(const struct ainftp_sentry_ops *ops, uint32_t n, uint32_t elems, uint32_t t,
	     uint32_t band)
{
	static float out[MAXE], want[MAXE];
	uint32_t outside[AINFTP_MAX_WORKERS] = {0}, want_out[AINFTP_MAX_WORKERS] = {0};
	const float *x[AINFTP_MAX_WORKERS];
	struct ainftp_sortnet net;
	float scale = (float)n / (float)(n - 2 * t);

	fill(n, elems, x);
	ck_assert_int_eq(ainftp_sortnet_build(&net, n), 0);
	ops->trim(&net, x, elems, t, band, scale, out, outside);
	ref->trim(&net, x, elems, t, band, scale, want, want_out);
	ck_assert_msg(memcmp(out, want, elems * sizeof(float)) == 0,
		      "%s trim n %u elems %u t %u: not the reference's bits", ops->name, n, elems,
		      t);
	ck_assert_msg(memcmp(outside, want_out, n * sizeof(uint32_t)) == 0,
		      "%s trim n %u elems %u band %u: other counts", ops->name, n, elems, band);
}

START_TEST(trim_matches_reference)
{
	const struct ainftp_sentry_ops *ops = ops_of(_i);
	uint32_t s, n, rep;

	if (ops == NULL)
		return;
	rng = 1;
	for (s = 0; s < NSIZES; s++) {
		for (n = 1; n <= AINFTP_MAX_WORKERS; n += (n < 20 ? 1 : 11)) {
			for (rep = 0; rep < 3; rep++) {
				uint32_t t = rnd_below((n - 1) / 2 + 1);

				trim_compare(ops, n, sizes[s], t, rnd_below((n - 1) / 2 + 1));
			}
		}
	}
}
END_TEST

/* Any order of the contributions: the same output bits, the counts permuted with them. */
START_TEST(trim_order_independent)
{
	const struct ainftp_sentry_ops *ops = ops_of(_i);
	static float out[MAXE], first[MAXE];
	const float *x[16], *y[16];
	uint32_t cx[16], cy[16], perm[16], rep, p;
	struct ainftp_sortnet net;

	if (ops == NULL)
		return;
	rng = 2;
	ainftp_sortnet_build(&net, 16);
	fill(16, 364, x);
	memset(cx, 0, sizeof(cx));
	ops->trim(&net, x, 364, 3, 2, 16.0f / 10.0f, first, cx);
	for (rep = 0; rep < 20; rep++) {
		for (p = 0; p < 16; p++)
			perm[p] = p;
		for (p = 15; p > 0; p--) {
			uint32_t j = rnd_below(p + 1), tmp = perm[p];

			perm[p] = perm[j];
			perm[j] = tmp;
		}
		for (p = 0; p < 16; p++)
			y[p] = x[perm[p]];
		memset(cy, 0, sizeof(cy));
		ops->trim(&net, y, 364, 3, 2, 16.0f / 10.0f, out, cy);
		ck_assert(memcmp(out, first, sizeof(float) * 364) == 0);
		for (p = 0; p < 16; p++)
			ck_assert_uint_eq(cy[p], cx[perm[p]]);
	}
}
END_TEST

/* Hand-checked values, and the edges: one or two contributions, nothing trimmed. */
START_TEST(trim_known_values)
{
	const struct ainftp_sentry_ops *ops = ops_of(_i);
	static const float v[5] = {3.0f, -1.0f, 100.0f, 2.0f, -50.0f};
	static float m[5][16];
	float out[16];
	const float *x[5];
	uint32_t outside[5] = {0}, p, i, want;
	struct ainftp_sortnet net;

	if (ops == NULL)
		return;
	/* Five workers, coordinate i a rotation of v, 16 coordinates (one SIMD pass or two). */
	for (p = 0; p < 5; p++) {
		for (i = 0; i < 16; i++)
			m[p][i] = v[(p + i) % 5];
		x[p] = m[p];
	}
	ainftp_sortnet_build(&net, 5);
	/* Sorted: -50 -1 2 3 100. Trim 1: (-1 + 2 + 3) * 5/3 = 4 * 5/3. */
	ops->trim(&net, x, 16, 1, 1, 5.0f / 3.0f, out, outside);
	for (i = 0; i < 16; i++)
		ck_assert_float_eq(out[i], 4.0f * (5.0f / 3.0f));
	/* The band of 1: -50 and 100 are outside, in every coordinate one worker each. */
	for (p = 0; p < 5; p++) {
		for (i = 0, want = 0; i < 16; i++)
			want += (p + i) % 5 == 2 || (p + i) % 5 == 4; /* 100 or -50 */
		ck_assert_uint_eq(outside[p], want);
	}
	/* Median: 2 * 5. */
	ops->trim(&net, x, 16, 2, 0, 5.0f, out, NULL);
	for (i = 0; i < 16; i++)
		ck_assert_float_eq(out[i], 10.0f);
	/* Nothing trimmed: the sum, in sorted order. */
	ops->trim(&net, x, 16, 0, 0, 1.0f, out, NULL);
	for (i = 0; i < 16; i++)
		ck_assert_float_eq(out[i], 54.0f);
	/* One contribution: itself; two: their sum (median times 2). */
	ainftp_sortnet_build(&net, 1);
	ops->trim(&net, x, 16, 0, 0, 1.0f, out, NULL);
	ck_assert(memcmp(out, m[0], sizeof(out)) == 0);
	ainftp_sortnet_build(&net, 2);
	ops->trim(&net, x, 16, 0, 0, 1.0f, out, NULL);
	for (i = 0; i < 16; i++)
		ck_assert_float_eq(out[i], m[0][i] + m[1][i]);
	/* -0 is +0: the median of {-0, -0, +0} is +0 whatever the order. */
	m[0][0] = -0.0f, m[1][0] = -0.0f, m[2][0] = 0.0f;
	ainftp_sortnet_build(&net, 3);
	ops->trim(&net, x, 1, 1, 0, 3.0f, out, NULL);
	ck_assert(!signbit(out[0]) && out[0] == 0.0f);
}
END_TEST

START_TEST(clip_matches_reference)
{
	const struct ainftp_sentry_ops *ops = ops_of(_i);
	static float out[MAXE], want[MAXE], in[MAXE];
	uint32_t s, rep, i;

	if (ops == NULL)
		return;
	rng = 3;
	for (s = 0; s < NSIZES; s++) {
		for (rep = 0; rep < 20; rep++) {
			uint32_t n = sizes[s];
			double norm = ldexp(1.0, (int)rnd_below(30) - 5);
			uint32_t got, exp;

			for (i = 0; i < n; i++)
				in[i] = rep == 0 ? rnd_value() : (float)(rnd_value() * 1e-3);
			got = ops->clip(in, n, norm, out);
			exp = ref->clip(in, n, norm, want);
			ck_assert_uint_eq(got, exp);
			ck_assert_msg(memcmp(out, want, n * sizeof(float)) == 0,
				      "%s clip n %u: not the reference's bits", ops->name, n);
			ck_assert(ops->sumsq(in, n) == ref->sumsq(in, n) ||
				  (isnan(ops->sumsq(in, n)) && isnan(ref->sumsq(in, n))));
			/* In place, the same bits. */
			ops->clip(in, n, norm, in);
			ck_assert(memcmp(in, want, n * sizeof(float)) == 0);
		}
	}
}
END_TEST

/* Clipped blocks end at clip_norm (to float rounding), the others are untouched: the
 * first 4 blocks have norms near 33, the others near 3.3. */
START_TEST(clip_bounds)
{
	static float in[364], out[364];
	uint32_t b, i, clipped = 0;

	rng = 4;
	for (i = 0; i < 364; i++)
		in[i] = (float)((int32_t)(rnd() >> 40) - (1 << 23)) * 0x1p-23f * (i < 128 ? 10 : 1);
	ck_assert_uint_eq(ref->clip(in, 364, 10.0, out), 4);
	for (b = 0; b < ainftp_blocks(364); b++) {
		uint32_t m = ainftp_block_len(364, b);
		double before = sqrt(ainftp_sentry_block_sumsq(in + 32 * b, m));
		double after = sqrt(ainftp_sentry_block_sumsq(out + 32 * b, m));

		if (before > 10.0) {
			clipped++;
			ck_assert_double_eq_tol(after, 10.0, 10.0 * 1e-6);
		} else {
			ck_assert(memcmp(in + 32 * b, out + 32 * b, m * sizeof(float)) == 0);
		}
	}
	ck_assert_uint_eq(clipped, 4);
}
END_TEST

/* dequant_i16: ainftp_dequant_i16's bits for every exponent, subnormal results included. */
START_TEST(dequant_matches_quant)
{
	const struct ainftp_sentry_ops *ops = ops_of(_i);
	static const int16_t edge[] = {INT16_MIN, INT16_MAX, -INT16_MAX, 0, 1, -1, 3};
	static int16_t q[37];
	static float out[37], want[37];
	int e;
	uint32_t i;

	if (ops == NULL)
		return;
	rng = 8;
	for (e = -128; e <= 127; e++) {
		for (i = 0; i < 37; i++)
			q[i] = i < 7 ? edge[i] : (int16_t)rnd();
		ops->dequant_i16(q, 37, (int8_t)e, out);
		ainftp_dequant_i16(q, 37, (int8_t)e, want);
		ck_assert_msg(memcmp(out, want, sizeof(out)) == 0, "%s dequant_i16 e %d", ops->name,
			      e);
	}
}
END_TEST

/* Norms from the wire encodings equal those of the dequantized floats. */
START_TEST(norms)
{
	static int16_t q16[364];
	static int8_t q8[384], e8[12];
	static float f[384];
	uint32_t i;

	rng = 5;
	for (i = 0; i < 364; i++)
		q16[i] = (int16_t)((int32_t)rnd_below(65535) - 32767);
	ainftp_dequant_i16(q16, 364, -20, f);
	ck_assert_double_eq_tol(ainftp_norm_i16(q16, 364, -20), sqrt(ref->sumsq(f, 364)), 1e-12);
	for (i = 0; i < 384; i++)
		q8[i] = (int8_t)((int32_t)rnd_below(255) - 127);
	for (i = 0; i < 12; i++)
		e8[i] = (int8_t)((int32_t)rnd_below(20) - 10);
	ainftp_dequant_i8(e8, q8, 384, f);
	ck_assert_double_eq_tol(ainftp_norm_i8(e8, q8, 384), sqrt(ref->sumsq(f, 384)),
				1e-9 * sqrt(ref->sumsq(f, 384)));
}
END_TEST

static struct ainftp_sentry_conf
conf_of(enum ainftp_sentry_policy p)
{
	struct ainftp_sentry_conf c = {.policy = p,
				       .zscore_k = 3.5,
				       .trim_f = 1,
				       .clip_norm = 1.0,
				       .suspicion_threshold = 0.5};

	return c;
}

START_TEST(api_errors)
{
	struct ainftp_sentry s;
	struct ainftp_sentry_conf c = conf_of(AINFTP_SENTRY_TRIMMED_MEAN);
	const float *x[2] = {xs[0], xs[1]};
	uint16_t ids[2] = {0, 0};
	float out[8];

	ck_assert_int_eq(ainftp_sentry_init(NULL, &c, 4, 8, ref), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_init(&s, NULL, 4, 8, ref), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 4, 8, NULL), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 0, 8, ref), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 65, 8, ref), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 4, 0, ref), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 2, 8, ref), -EINVAL); /* 2f >= n */
	c.zscore_k = NAN;
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 4, 8, ref), -EINVAL);
	c = conf_of(AINFTP_SENTRY_CLIP);
	c.clip_norm = INFINITY;
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 4, 8, ref), -EINVAL);
	c = conf_of(AINFTP_SENTRY_MEDIAN);
	c.suspicion_threshold = 1.5;
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 4, 8, ref), -EINVAL);
	c.suspicion_threshold = 1;
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 4, 8, ref), 0);
	/* Policy mismatches, duplicate and unknown workers, empty chunks, bad norms. */
	ck_assert_int_eq(ainftp_sentry_zscore_check(&s, 0, 1.0), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_clip(&s, 0, xs[0], out), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_robust(&s, x, ids, 2, out), -EINVAL);
	ids[1] = 4;
	ck_assert_int_eq(ainftp_sentry_robust(&s, x, ids, 2, out), -EINVAL);
	ids[1] = 1;
	ck_assert_int_eq(ainftp_sentry_robust(&s, x, ids, 0, out), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_robust(&s, x, ids, 5, out), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_robust(&s, x, ids, 2, NULL), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_robust(&s, x, ids, 2, out), 0);
	ck_assert_int_eq(ainftp_sentry_readmit(&s, 4), -EINVAL);
	ck_assert_double_eq(ainftp_sentry_suspicion(&s, 4), -1);
	ck_assert(!ainftp_sentry_admitted(&s, 4));
	c = conf_of(AINFTP_SENTRY_ZSCORE);
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 4, 8, ref), 0);
	ck_assert_int_eq(ainftp_sentry_zscore_check(&s, 0, NAN), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_zscore_check(&s, 0, -1.0), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_zscore_check(&s, 0, INFINITY), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_zscore_check(&s, 9, 1.0), -EINVAL);
}
END_TEST

/* Honest norms around 10 (+-1): never dropped; then 1000 is, whoever sends it. */
START_TEST(zscore_drops_outliers)
{
	struct ainftp_sentry s;
	struct ainftp_sentry_conf c = conf_of(AINFTP_SENTRY_ZSCORE);
	uint32_t round, w;

	c.suspicion_threshold = 1; /* no quarantine here */
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 8, 64, ref), 0);
	rng = 6;
	for (round = 0; round < 200; round++) {
		for (w = 0; w < 8; w++) {
			double norm = 10.0 + ((double)rnd_below(2001) - 1000) / 1000.0;
			/* Worker 7 attacks from the very start: it must not hide by inflating
			 * sigma. */
			int v = ainftp_sentry_zscore_check(&s, (uint16_t)w, w == 7 ? 1000.0 : norm);

			/* Warming up until a majority of workers has WARMUP norms each. */
			if (round < AINFTP_SENTRY_WARMUP - 1)
				ck_assert_int_eq(v, AINFTP_SENTRY_ACCEPT);
			else if (round >= AINFTP_SENTRY_WARMUP)
				ck_assert_int_eq(v, w == 7 ? AINFTP_SENTRY_DROP
							   : AINFTP_SENTRY_ACCEPT);
		}
	}
	ck_assert_uint_ge(s.w[7].flagged, 200 - AINFTP_SENTRY_WARMUP);
	ck_assert_uint_eq(s.w[0].flagged, 0);
	/* A tiny norm is as far: dropped too (two-sided). */
	ck_assert_int_eq(ainftp_sentry_zscore_check(&s, 0, 0.0), AINFTP_SENTRY_DROP);
}
END_TEST

/* A worker flagged every time is quarantined, refused, then readmitted by the operator. */
START_TEST(suspicion_quarantine_readmit)
{
	static float big[64], small[64], out[64];
	struct ainftp_sentry s;
	struct ainftp_sentry_conf c = conf_of(AINFTP_SENTRY_CLIP);
	uint32_t i, chunk, quarantined_at = 0;
	double expect = 0;

	for (i = 0; i < 64; i++) {
		big[i] = 1.0f; /* block norm sqrt(32) > 1: clipped */
		small[i] = 0.01f;
	}
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 5, 64, ref), 0);
	for (chunk = 1; chunk <= 100 && !quarantined_at; chunk++) {
		ck_assert_int_eq(ainftp_sentry_clip(&s, 3, big, out), 2);
		ck_assert_int_eq(ainftp_sentry_clip(&s, 1, small, out), 0);
		expect += (1 - expect) / 64;
		ck_assert_double_eq_tol(ainftp_sentry_suspicion(&s, 3), expect, 1e-3);
		if (!ainftp_sentry_admitted(&s, 3))
			quarantined_at = chunk;
	}
	/* 1 - (63/64)^k >= 0.5 from k = 44 (integer rounding may take one more). */
	ck_assert_uint_ge(quarantined_at, 44);
	ck_assert_uint_le(quarantined_at, 46);
	ck_assert_uint_eq(s.w[3].quarantines, 1);
	ck_assert(s.quarantined == 1u << 3);
	ck_assert_double_eq(ainftp_sentry_suspicion(&s, 1), 0);
	ck_assert_int_eq(ainftp_sentry_clip(&s, 3, big, out), -EINVAL);
	ck_assert_int_eq(ainftp_sentry_readmit(&s, 3), 0);
	ck_assert(ainftp_sentry_admitted(&s, 3));
	ck_assert_double_eq(ainftp_sentry_suspicion(&s, 3), 0);
	ck_assert_int_eq(ainftp_sentry_clip(&s, 3, small, out), 0);
	/* Never a majority: of 5 workers at most 2 are held, whatever they send. */
	for (chunk = 0; chunk < 200; chunk++)
		for (i = 0; i < 5; i++)
			if (ainftp_sentry_admitted(&s, (uint16_t)i))
				ainftp_sentry_clip(&s, (uint16_t)i, big, out);
	ck_assert_int_eq(__builtin_popcountll(s.quarantined), 2);
	/* A threshold of 1 never quarantines. */
	c.suspicion_threshold = 1;
	ck_assert_int_eq(ainftp_sentry_init(&s, &c, 5, 64, ref), 0);
	for (chunk = 0; chunk < 5000; chunk++)
		ainftp_sentry_clip(&s, 0, big, out);
	ck_assert(ainftp_sentry_admitted(&s, 0));
}
END_TEST

/* The suspicion band keeps an honest majority below the bar (ainftp_sentry_band). */
START_TEST(band_safe_for_honest)
{
	uint32_t n, f, e;

	ck_assert_uint_eq(ainftp_sentry_band(16, 7), 2);
	ck_assert_uint_eq(ainftp_sentry_band(16, 1), 1);
	ck_assert_uint_eq(ainftp_sentry_band(3, 1), 0);
	ck_assert_uint_eq(ainftp_sentry_band(1, 0), 0);
	for (n = 1; n <= AINFTP_MAX_WORKERS; n++) {
		for (f = 0; 2 * f < n; f++) {
			e = ainftp_sentry_band(n, f);
			ck_assert_uint_le(e, f);
			/* 2e/(n-f) + 1/8 <= (1 + 2e/n) / 2 */
			ck_assert(16.0 * e * n + (double)n * (n - f) <=
				  4.0 * n * (n - f) + 8.0 * e * (n - f));
		}
	}
}
END_TEST

START_TEST(attacks_emulated)
{
	struct ainftp_grad_model m;
	struct ainftp_attack_conf a;
	float *x[4], *y[4];
	uint32_t i, w;

	ainftp_grad_model_defaults(&m, 7);
	for (w = 0; w < 4; w++) {
		x[w] = xs[w];
		y[w] = xs[4 + w];
	}
	ainftp_attack_honest(&m, 3, 4, 64, x);
	ainftp_attack_honest(&m, 3, 4, 64, y);
	for (w = 0; w < 4; w++)
		ck_assert(memcmp(x[w], y[w], 64 * sizeof(float)) == 0); /* deterministic */
	ck_assert(memcmp(x[0], x[1], 64 * sizeof(float)) != 0);

	ainftp_attack_defaults(&a, AINFTP_ATTACK_SIGN_FLIP);
	ck_assert_int_eq(ainftp_attack_apply(&a, &m, 3, 4, 1, 64, y), 0);
	for (i = 0; i < 64; i++)
		ck_assert_float_eq(y[3][i], -x[3][i]);
	ck_assert(memcmp(x[2], y[2], 64 * sizeof(float)) == 0);
	ainftp_attack_defaults(&a, AINFTP_ATTACK_SCALE);
	ainftp_attack_honest(&m, 3, 4, 64, y);
	ainftp_attack_apply(&a, &m, 3, 4, 2, 64, y);
	for (i = 0; i < 64; i++)
		ck_assert_float_eq(y[2][i], (float)(100.0 * x[2][i]));
	ainftp_attack_defaults(&a, AINFTP_ATTACK_IPM);
	ainftp_attack_honest(&m, 3, 4, 64, y);
	ainftp_attack_apply(&a, &m, 3, 4, 2, 64, y);
	for (i = 0; i < 64; i++) {
		double mu = ((double)x[0][i] + x[1][i]) / 2;

		ck_assert_float_eq(y[2][i], (float)(-0.1 * mu));
		ck_assert_float_eq(y[3][i], y[2][i]);
	}
	ainftp_attack_defaults(&a, AINFTP_ATTACK_ALIE);
	ainftp_attack_honest(&m, 3, 4, 64, y);
	ainftp_attack_apply(&a, &m, 3, 4, 2, 64, y);
	for (i = 0; i < 64; i++) {
		double mu = ((double)x[0][i] + x[1][i]) / 2, sd = fabs(x[0][i] - mu);

		ck_assert_float_eq_tol(y[3][i], (float)(mu - sd), 1e-6);
	}
	ck_assert_int_eq(ainftp_attack_apply(&a, &m, 3, 4, 4, 64, y), -EINVAL);
}
END_TEST

/* f = 1..7 of 16 under every attack, each policy: the bounds docs/SENTRY.md states. */
#define N 16
static double dist[AINFTP_ATTACK_COUNT][AINFTP_SENTRY_CLIP + 1][8];

static void
attack_runs(enum ainftp_attack_kind kind)
{
	enum ainftp_sentry_policy p;
	uint16_t f;

	for (p = AINFTP_SENTRY_NONE; p <= AINFTP_SENTRY_CLIP; p++) {
		for (f = 1; f <= 7; f++) {
			struct ainftp_attack_result res;
			struct ainftp_attack_run r = {
				.ops = ainftp_sentry_select(512),
				.n = N,
				.f = f,
				.elems = 364,
				.warmup = 16,
				.chunks = 16,
				.sentry = {.policy = p,
					   .zscore_k = 3.5,
					   .trim_f = f,
					   .clip_norm = 16,
					   .suspicion_threshold = 0.5},
			};

			ainftp_grad_model_defaults(&r.model, 1);
			ainftp_attack_defaults(&r.attack, kind);
			ck_assert_int_eq(ainftp_attack_run(&r, &res), 0);
			dist[kind][p][f] = res.rel_dist;
			/* The honest majority is never quarantined, whatever the attack. */
			ck_assert_msg(res.honest_quarantined == 0, "%s %s f %u: honest quarantined",
				      ainftp_attack_name(kind), ainftp_sentry_name(p), f);
		}
	}
}

START_TEST(robust_bounded_under_attack)
{
	enum ainftp_attack_kind kind = (enum ainftp_attack_kind)(_i + AINFTP_ATTACK_SIGN_FLIP);
	uint16_t f;

	attack_runs(kind);
	for (f = 1; f <= 7; f++) {
		const double *d = &dist[kind][0][0] + f;
#define D(p) d[(p)*8]
		printf("test_sentry: %-9s f=%u  none %.3f  zscore %.3f  trimmed %.3f  median %.3f  "
		       "clip %.3f\n",
		       ainftp_attack_name(kind), f, D(AINFTP_SENTRY_NONE), D(AINFTP_SENTRY_ZSCORE),
		       D(AINFTP_SENTRY_TRIMMED_MEAN), D(AINFTP_SENTRY_MEDIAN),
		       D(AINFTP_SENTRY_CLIP));
		/* trimmed_mean and median: bounded for every attack, f <= 7 of 16. */
		ck_assert_double_lt(D(AINFTP_SENTRY_TRIMMED_MEAN), 1.0);
		ck_assert_double_lt(D(AINFTP_SENTRY_MEDIAN), 1.0);
		switch (kind) {
		case AINFTP_ATTACK_SCALE:
		case AINFTP_ATTACK_NOISE:
			/* The plain mean is not; zscore and clip are. */
			ck_assert_double_gt(D(AINFTP_SENTRY_NONE), 5.0);
			ck_assert_double_lt(D(AINFTP_SENTRY_ZSCORE), 0.01);
			ck_assert_double_lt(D(AINFTP_SENTRY_CLIP), 1.0);
			ck_assert_double_lt(D(AINFTP_SENTRY_TRIMMED_MEAN),
					    D(AINFTP_SENTRY_NONE) / 10);
			break;
		case AINFTP_ATTACK_SIGN_FLIP:
		case AINFTP_ATTACK_ALIE:
		case AINFTP_ATTACK_IPM:
			/* zscore's known failure: norms look honest, nothing is dropped. */
			ck_assert_double_ge(D(AINFTP_SENTRY_ZSCORE), D(AINFTP_SENTRY_NONE) * 0.999);
			break;
		default:
			break;
		}
#undef D
	}
}
END_TEST

static Suite *
sentry_suite(void)
{
	Suite *s = suite_create("sentry");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, sortnet_sorts);
	tcase_add_loop_test(tc, trim_matches_reference, 0, NOPS);
	tcase_add_loop_test(tc, trim_order_independent, 0, NOPS);
	tcase_add_loop_test(tc, trim_known_values, 0, NOPS);
	tcase_add_loop_test(tc, clip_matches_reference, 0, NOPS);
	tcase_add_test(tc, clip_bounds);
	tcase_add_loop_test(tc, dequant_matches_quant, 0, NOPS);
	tcase_add_test(tc, norms);
	tcase_add_test(tc, api_errors);
	tcase_add_test(tc, zscore_drops_outliers);
	tcase_add_test(tc, suspicion_quarantine_readmit);
	tcase_add_test(tc, band_safe_for_honest);
	tcase_add_test(tc, attacks_emulated);
	tcase_add_loop_test(tc, robust_bounded_under_attack, 0,
			    AINFTP_ATTACK_COUNT - AINFTP_ATTACK_SIGN_FLIP);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sentry_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
