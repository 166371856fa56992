/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX-512 sentry kernels: the same bits as the scalar reference in
 * ainftp_sentry.c. trim sorts 16 coordinates at a time, one zmm of int32 keys
 * per worker, through the sorting network with lane-wise min/max; clip and
 * sumsq keep a block's eight partial sums of squares in one zmm of double.
 * The last coordinates are a masked pass; short blocks go to the reference.
 */
#include <immintrin.h>
#include <string.h>

#include "ainftp_sentry.h"

#define INLINE static inline __attribute__((always_inline))

/* ainftp_sentry_key on 16 lanes, -0 made +0 first (x + 0 does it). */
INLINE __m512i
key16(__m512 x)
{
	__m512i b = _mm512_castps_si512(_mm512_add_ps(x, _mm512_setzero_ps()));

	return _mm512_xor_si512(b, _mm512_srli_epi32(_mm512_srai_epi32(b, 31), 1));
}

INLINE __m512
unkey16(__m512i k)
{
	return _mm512_castsi512_ps(
		_mm512_xor_si512(k, _mm512_srli_epi32(_mm512_srai_epi32(k, 31), 1)));
}

/* The scratch of trim: per worker its keys, their sorted order, and its outside counts. */
struct trim_state {
	__m512i key[AINFTP_MAX_WORKERS];
	__m512i v[AINFTP_MAX_WORKERS];
	__m512i cnt[AINFTP_MAX_WORKERS];
};

/* Coordinates i..i+15, the lanes of live only: a masked tail does the same per lane. */
INLINE void
trim16(struct trim_state *st, const struct ainftp_sortnet *net, const float *const *x, uint32_t i,
       __mmask16 live, uint32_t t, uint32_t band, float scale, float *out, bool count)
{
	const uint32_t n = net->n;
	__m512 sum = _mm512_setzero_ps();
	uint32_t p, c;

	for (p = 0; p < n; p++)
		st->key[p] = st->v[p] = key16(_mm512_maskz_loadu_ps(live, x[p] + i));
	for (c = 0; c < net->len; c++) {
		__m512i a = st->v[net->lo[c]], b = st->v[net->hi[c]];

		st->v[net->lo[c]] = _mm512_min_epi32(a, b);
		st->v[net->hi[c]] = _mm512_max_epi32(a, b);
	}
	for (p = t; p < n - t; p++)
		sum = _mm512_add_ps(sum, unkey16(st->v[p]));
	_mm512_mask_storeu_ps(out + i, live, _mm512_mul_ps(sum, _mm512_set1_ps(scale)));
	for (p = 0; count && p < n; p++) {
		__mmask16 o = _mm512_cmpgt_epi32_mask(st->v[band], st->key[p]) |
			      _mm512_cmpgt_epi32_mask(st->key[p], st->v[n - 1 - band]);

		st->cnt[p] = _mm512_mask_add_epi32(st->cnt[p], o & live, st->cnt[p],
						   _mm512_set1_epi32(1));
	}
}

static void
trim(const struct ainftp_sortnet *net, const float *const *x, uint32_t elems, uint32_t t,
     uint32_t band, float scale, float *out, uint32_t *outside)
{
	const bool count = outside != NULL && band > 0;
	struct trim_state st;
	uint32_t i, p;

	for (p = 0; p < net->n; p++)
		st.cnt[p] = _mm512_setzero_si512();
	for (i = 0; i + 16 <= elems; i += 16)
		trim16(&st, net, x, i, 0xffff, t, band, scale, out, count);
	if (i < elems)
		trim16(&st, net, x, i, (__mmask16)((1u << (elems - i)) - 1), t, band, scale, out,
		       count);
	for (p = 0; count && p < net->n; p++)
		outside[p] += (uint32_t)_mm512_reduce_add_epi32(st.cnt[p]);
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

/* out[0..m) = x[0..m) * s. */
INLINE void
scale_run(const float *x, float *out, uint32_t m, float s)
{
	uint32_t j;

	for (j = 0; j + 16 <= m; j += 16)
		_mm512_storeu_ps(out + j, _mm512_mul_ps(_mm512_loadu_ps(x + j), _mm512_set1_ps(s)));
	for (; j < m; j++)
		out[j] = x[j] * s;
}

#include "ainftp_sentry_blocks.h"

static void
dequant_i16(const int16_t *q, uint32_t n, int8_t e, float *out)
{
	const float k = ainftp_sentry_pow2f(e);
	uint32_t i;

	for (i = 0; i + 16 <= n; i += 16)
		_mm512_storeu_ps(
			out + i,
			_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(
					      _mm256_loadu_si256((const __m256i *)(q + i)))),
				      _mm512_set1_ps(k)));
	for (; i < n; i++)
		out[i] = (float)q[i] * k;
}

const struct ainftp_sentry_ops ainftp_sentry_avx512 = {
	.name = "avx512",
	.trim = trim,
	.clip = clip,
	.sumsq = sumsq,
	.dequant_i16 = dequant_i16,
};
