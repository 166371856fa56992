/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX-512 sentry kernels: the same bits as the scalar reference in
 * ainftp_sentry.c. trim sorts 16 coordinates at a time, one zmm of int32 keys
 * per worker, through the sorting network with lane-wise min/max; clip and
 * sumsq keep a block's eight partial sums of squares in one zmm of double.
 * Coordinates past the last multiple of 16, and short blocks, go to the
 * reference.
 */
#include <immintrin.h>
#include <string.h>

#include "ainftp_sentry.h"

#define INLINE static inline __attribute__((always_inline))

/* ainftp_sentry_key on 16 lanes, -0 made +0 first (x + 0 does it). */
INLINE __m512i
key16(const float *p)
{
	__m512i b = _mm512_castps_si512(_mm512_add_ps(_mm512_loadu_ps(p), _mm512_setzero_ps()));

	return _mm512_xor_si512(b, _mm512_srli_epi32(_mm512_srai_epi32(b, 31), 1));
}

INLINE __m512
unkey16(__m512i k)
{
	return _mm512_castsi512_ps(
		_mm512_xor_si512(k, _mm512_srli_epi32(_mm512_srai_epi32(k, 31), 1)));
}

static void
trim(const struct ainftp_sortnet *net, const float *const *x, uint32_t elems, uint32_t t,
     uint32_t band, float scale, float *out, uint32_t *outside)
{
	__m512i key[AINFTP_MAX_WORKERS], v[AINFTP_MAX_WORKERS], cnt[AINFTP_MAX_WORKERS];
	const __m512 k = _mm512_set1_ps(scale);
	const __m512i one = _mm512_set1_epi32(1);
	const uint32_t n = net->n;
	const bool count = outside != NULL && band > 0;
	uint32_t i, p, c;

	for (p = 0; p < n; p++)
		cnt[p] = _mm512_setzero_si512();
	for (i = 0; i + 16 <= elems; i += 16) {
		__m512 sum = _mm512_setzero_ps();

		for (p = 0; p < n; p++)
			key[p] = v[p] = key16(x[p] + i);
		for (c = 0; c < net->len; c++) {
			__m512i a = v[net->lo[c]], b = v[net->hi[c]];

			v[net->lo[c]] = _mm512_min_epi32(a, b);
			v[net->hi[c]] = _mm512_max_epi32(a, b);
		}
		for (p = t; p < n - t; p++)
			sum = _mm512_add_ps(sum, unkey16(v[p]));
		_mm512_storeu_ps(out + i, _mm512_mul_ps(sum, k));
		if (!count)
			continue;
		for (p = 0; p < n; p++) {
			__mmask16 o = _mm512_cmpgt_epi32_mask(v[band], key[p]) |
				      _mm512_cmpgt_epi32_mask(key[p], v[n - 1 - band]);

			cnt[p] = _mm512_mask_add_epi32(cnt[p], o, cnt[p], one);
		}
	}
	for (p = 0; count && p < n; p++)
		outside[p] += (uint32_t)_mm512_reduce_add_epi32(cnt[p]);
	ainftp_sentry_trim_ref(x, n, i, elems, t, band, scale, out, outside);
}

/* x[0..7] squared, added lane-wise to the eight partial sums. */
INLINE __m512d
sq_add(__m512d acc, __m256 v)
{
	__m512d d = _mm512_cvtps_pd(v);

	return _mm512_add_pd(acc, _mm512_mul_pd(d, d));
}

/* ainftp_sentry_block_sumsq of a full block: lane j holds p_j. */
INLINE double
block_sumsq(const float *x)
{
	__m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
	__m512d p = _mm512_setzero_pd();
	__m256d q;
	__m128d r;

	p = sq_add(p, _mm512_castps512_ps256(v0));
	p = sq_add(p, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v0), 1)));
	p = sq_add(p, _mm512_castps512_ps256(v1));
	p = sq_add(p, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v1), 1)));
	q = _mm256_add_pd(_mm512_castpd512_pd256(p), _mm512_extractf64x4_pd(p, 1));
	r = _mm_add_pd(_mm256_castpd256_pd128(q), _mm256_extractf128_pd(q, 1));
	return _mm_cvtsd_f64(r) + _mm_cvtsd_f64(_mm_unpackhi_pd(r, r));
}

static uint32_t
clip(const float *x, uint32_t n, double clip_norm, float *out)
{
	uint32_t b, j, full = n / AINFTP_BLOCK, clipped = 0;

	for (b = 0; b < ainftp_blocks(n); b++) {
		const float *xb = x + b * AINFTP_BLOCK;
		float *ob = out + b * AINFTP_BLOCK;
		uint32_t m = ainftp_block_len(n, b);
		double ss = b < full ? block_sumsq(xb) : ainftp_sentry_block_sumsq(xb, m);
		float s = ainftp_sentry_clip_scale(ss, clip_norm);

		if (s == 0.0f) {
			if (ob != xb)
				memcpy(ob, xb, m * sizeof(*ob));
			continue;
		}
		clipped++;
		for (j = 0; j + 16 <= m; j += 16)
			_mm512_storeu_ps(ob + j,
					 _mm512_mul_ps(_mm512_loadu_ps(xb + j), _mm512_set1_ps(s)));
		for (; j < m; j++)
			ob[j] = xb[j] * s;
	}
	return clipped;
}

static double
sumsq(const float *x, uint32_t n)
{
	uint32_t b, full = n / AINFTP_BLOCK;
	double sum = 0.0;

	for (b = 0; b < full; b++)
		sum += block_sumsq(x + b * AINFTP_BLOCK);
	if (full < ainftp_blocks(n))
		sum += ainftp_sentry_block_sumsq(x + full * AINFTP_BLOCK, n - full * AINFTP_BLOCK);
	return sum;
}

const struct ainftp_sentry_ops ainftp_sentry_avx512 = {
	.name = "avx512",
	.trim = trim,
	.clip = clip,
	.sumsq = sumsq,
};
