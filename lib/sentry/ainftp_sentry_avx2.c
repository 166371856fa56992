/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX2 sentry kernels: the same bits as the scalar reference in
 * ainftp_sentry.c. trim sorts 8 coordinates at a time, one ymm of int32 keys
 * per worker, through the sorting network with lane-wise min/max; clip and
 * sumsq keep a block's eight partial sums of squares in two ymm of double.
 * The last coordinates are a masked pass; short blocks go to the reference.
 */
#include <immintrin.h>
#include <string.h>

#include "ainftp_sentry.h"

#define INLINE static inline __attribute__((always_inline))

/* ainftp_sentry_key on 8 lanes, -0 made +0 first (x + 0 does it). */
INLINE __m256i
key8(__m256 x)
{
	__m256i b = _mm256_castps_si256(_mm256_add_ps(x, _mm256_setzero_ps()));

	return _mm256_xor_si256(b, _mm256_srli_epi32(_mm256_srai_epi32(b, 31), 1));
}

INLINE __m256
unkey8(__m256i k)
{
	return _mm256_castsi256_ps(
		_mm256_xor_si256(k, _mm256_srli_epi32(_mm256_srai_epi32(k, 31), 1)));
}

INLINE uint32_t
hsum_epu32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	return (uint32_t)_mm_cvtsi128_si32(s);
}

/* The scratch of trim: per worker its keys, their sorted order, and its outside counts. */
struct trim_state {
	__m256i key[AINFTP_MAX_WORKERS];
	__m256i v[AINFTP_MAX_WORKERS];
	__m256i cnt[AINFTP_MAX_WORKERS];
};

/* Coordinates i..i+7, the lanes of live only (-1): a masked tail does the same per lane. */
INLINE void
trim8(struct trim_state *st, const struct ainftp_sortnet *net, const float *const *x, uint32_t i,
      __m256i live, uint32_t t, uint32_t band, float scale, float *out, bool count)
{
	const uint32_t n = net->n;
	__m256 sum = _mm256_setzero_ps();
	uint32_t p, c;

	for (p = 0; p < n; p++)
		st->key[p] = st->v[p] = key8(_mm256_maskload_ps(x[p] + i, live));
	for (c = 0; c < net->len; c++) {
		__m256i a = st->v[net->lo[c]], b = st->v[net->hi[c]];

		st->v[net->lo[c]] = _mm256_min_epi32(a, b);
		st->v[net->hi[c]] = _mm256_max_epi32(a, b);
	}
	for (p = t; p < n - t; p++)
		sum = _mm256_add_ps(sum, unkey8(st->v[p]));
	_mm256_maskstore_ps(out + i, live, _mm256_mul_ps(sum, _mm256_set1_ps(scale)));
	for (p = 0; count && p < n; p++) {
		__m256i o = _mm256_or_si256(_mm256_cmpgt_epi32(st->v[band], st->key[p]),
					    _mm256_cmpgt_epi32(st->key[p], st->v[n - 1 - band]));

		st->cnt[p] = _mm256_sub_epi32(st->cnt[p], _mm256_and_si256(o, live)); /* -1: out */
	}
}

static void
trim(const struct ainftp_sortnet *net, const float *const *x, uint32_t elems, uint32_t t,
     uint32_t band, float scale, float *out, uint32_t *outside)
{
	const bool count = outside != NULL && band > 0;
	const __m256i all = _mm256_set1_epi32(-1);
	struct trim_state st;
	uint32_t i, p;

	for (p = 0; p < net->n; p++)
		st.cnt[p] = _mm256_setzero_si256();
	for (i = 0; i + 8 <= elems; i += 8)
		trim8(&st, net, x, i, all, t, band, scale, out, count);
	if (i < elems) {
		__m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(elems - i)),
						  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));

		trim8(&st, net, x, i, live, t, band, scale, out, count);
	}
	for (p = 0; count && p < net->n; p++)
		outside[p] += hsum_epu32(st.cnt[p]);
}

/* x[0..7] squared into lanes 0-3 (a) and 4-7 (b), added to the partial sums. */
INLINE void
sq_add(const float *x, __m256d *a, __m256d *b)
{
	__m256 v = _mm256_loadu_ps(x);
	__m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
	__m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));

	*a = _mm256_add_pd(*a, _mm256_mul_pd(lo, lo));
	*b = _mm256_add_pd(*b, _mm256_mul_pd(hi, hi));
}

/* ainftp_sentry_block_sumsq of a full block: a holds p0..p3, b p4..p7. */
INLINE double
block_sumsq(const float *x)
{
	__m256d a = _mm256_setzero_pd(), b = _mm256_setzero_pd();
	__m128d r;

	sq_add(x, &a, &b);
	sq_add(x + 8, &a, &b);
	sq_add(x + 16, &a, &b);
	sq_add(x + 24, &a, &b);
	a = _mm256_add_pd(a, b); /* p0+p4, p1+p5, p2+p6, p3+p7 */
	r = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
	return _mm_cvtsd_f64(r) + _mm_cvtsd_f64(_mm_unpackhi_pd(r, r));
}

/* out[0..m) = x[0..m) * s. */
INLINE void
scale_run(const float *x, float *out, uint32_t m, float s)
{
	uint32_t j;

	for (j = 0; j + 8 <= m; j += 8)
		_mm256_storeu_ps(out + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), _mm256_set1_ps(s)));
	for (; j < m; j++)
		out[j] = x[j] * s;
}

#include "ainftp_sentry_blocks.h"

static void
dequant_i16(const int16_t *q, uint32_t n, int8_t e, float *out)
{
	const float k = ainftp_sentry_pow2f(e);
	uint32_t i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i,
				 _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(
						       _mm_loadu_si128((const __m128i *)(q + i)))),
					       _mm256_set1_ps(k)));
	for (; i < n; i++)
		out[i] = (float)q[i] * k;
}

const struct ainftp_sentry_ops ainftp_sentry_avx2 = {
	.name = "avx2",
	.trim = trim,
	.clip = clip,
	.sumsq = sumsq,
	.dequant_i16 = dequant_i16,
};
