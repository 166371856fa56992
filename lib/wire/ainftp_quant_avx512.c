/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX-512 (F, BW, DQ, VL) kernels: the same bits as the scalar reference in
 * ainftp_quant.c. A block of 32 is one zmm of int16, two of float32 and four
 * of int64; short tail blocks use masks.
 */
#include <immintrin.h>
#include <string.h>

#include "ainftp_quant.h"

#define INLINE static inline __attribute__((always_inline))
/* Loops over arrays of vectors: unrolled, the arrays stay in registers. */
#define UNROLL _Pragma("GCC unroll 8")

static __mmask32
block_mask(uint32_t len)
{
	return len == AINFTP_BLOCK ? ~(__mmask32)0 : ((__mmask32)1 << len) - 1;
}

static uint32_t
max_abs_bits(const float *x, uint32_t n)
{
	const __m512i abs = _mm512_set1_epi32(0x7fffffff);
	__m512i m = _mm512_setzero_si512();
	uint32_t i;

	for (i = 0; i + 16 <= n; i += 16)
		m = _mm512_max_epu32(m, _mm512_and_si512(_mm512_loadu_si512(x + i), abs));
	if (i < n) {
		__m512i v = _mm512_maskz_loadu_epi32((__mmask16)((1u << (n - i)) - 1), x + i);

		m = _mm512_max_epu32(m, _mm512_and_si512(v, abs));
	}
	return _mm512_reduce_max_epu32(m);
}

/* rne(x * 2^p) saturated to [-lim, lim]; scalef is exact here, as the double product is. */
static __m512i
quant_v(__m512 x, __m512 p, __m512i lim)
{
	__m512i v = _mm512_cvtps_epi32(_mm512_scalef_ps(x, p));

	return _mm512_max_epi32(_mm512_min_epi32(v, lim),
				_mm512_sub_epi32(_mm512_setzero_si512(), lim));
}

static int
quant_i16(const float *x, uint32_t n, int16_t *q, int8_t *e)
{
	const __m512i lim = _mm512_set1_epi32(INT16_MAX);
	uint32_t m = max_abs_bits(x, n), i;
	__m512 p;

	if (m >= AINFTP_F32_ABS_INF)
		return -1;
	if (m == 0) {
		*e = AINFTP_WIRE_EXP_ZERO;
		memset(q, 0, sizeof(*q) * n);
		return 0;
	}
	*e = (int8_t)ainftp_quant_exp(m, AINFTP_QBITS_INT16);
	p = _mm512_set1_ps((float)-*e);
	for (i = 0; i + 16 <= n; i += 16)
		_mm256_storeu_si256((__m256i *)(q + i),
				    _mm512_cvtepi32_epi16(quant_v(_mm512_loadu_ps(x + i), p, lim)));
	if (i < n) {
		__mmask16 k = (__mmask16)((1u << (n - i)) - 1);
		__m512i v = quant_v(_mm512_maskz_loadu_ps(k, x + i), p, lim);

		_mm256_mask_storeu_epi16(q + i, k, _mm512_cvtepi32_epi16(v));
	}
	return 0;
}

static int
quant_i8(const float *x, uint32_t n, int8_t *e, int8_t *q)
{
	const __m512i lim = _mm512_set1_epi32(INT8_MAX), abs = _mm512_set1_epi32(0x7fffffff);
	uint32_t b;

	for (b = 0; b < ainftp_blocks(n); b++) {
		uint32_t off = b * AINFTP_BLOCK, m;
		__mmask32 k = block_mask(ainftp_block_len(n, b));
		__m512 x0 = _mm512_maskz_loadu_ps((__mmask16)k, x + off);
		__m512 x1 = _mm512_maskz_loadu_ps((__mmask16)(k >> 16), x + off + 16);
		__m256i v;
		__m512 p;

		m = _mm512_reduce_max_epu32(
			_mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(x0), abs),
					 _mm512_and_si512(_mm512_castps_si512(x1), abs)));
		if (m >= AINFTP_F32_ABS_INF)
			return -1;
		if (m == 0) {
			e[b] = AINFTP_WIRE_EXP_ZERO;
			_mm256_mask_storeu_epi8(q + off, k, _mm256_setzero_si256());
			continue;
		}
		e[b] = (int8_t)ainftp_quant_exp(m, AINFTP_QBITS_INT8);
		p = _mm512_set1_ps((float)-e[b]);
		v = _mm256_set_m128i(_mm512_cvtepi32_epi8(quant_v(x1, p, lim)),
				     _mm512_cvtepi32_epi8(quant_v(x0, p, lim)));
		_mm256_mask_storeu_epi8(q + off, k, v);
	}
	return 0;
}

/* acc32 = acc32 * 2^ash + c * 2^csh on one block; full is a constant at each call site. */
INLINE void
add32(int32_t *d, const __m512i c[2], __mmask32 k, bool full, int32_t ash, int32_t csh)
{
	__m128i as = _mm_cvtsi32_si128(ash), cs = _mm_cvtsi32_si128(csh);
	int g;

	UNROLL
	for (g = 0; g < 2; g++) {
		__mmask16 kg = (__mmask16)(k >> (16 * g));
		__m512i v = full ? _mm512_loadu_si512(d + 16 * g)
				 : _mm512_maskz_loadu_epi32(kg, d + 16 * g);

		if (ash)
			v = _mm512_sll_epi32(v, as);
		v = _mm512_add_epi32(v, _mm512_sll_epi32(c[g], cs));
		if (full)
			_mm512_storeu_si512(d + 16 * g, v);
		else
			_mm512_mask_storeu_epi32(d + 16 * g, kg, v);
	}
}

/* acc = acc * 2^ash + c * 2^csh on one block, csh >= 0. */
INLINE void
add64(int64_t *d, const __m512i c[2], __mmask32 k, bool full, int32_t ash, int32_t csh)
{
	__m128i as = _mm_cvtsi32_si128(ash), cs = _mm_cvtsi32_si128(csh);
	int g;

	UNROLL
	for (g = 0; g < 4; g++) {
		__mmask8 kg = (__mmask8)(k >> (8 * g));
		__m256i half = g % 2 ? _mm512_extracti64x4_epi64(c[g / 2], 1)
				     : _mm512_castsi512_si256(c[g / 2]);
		__m512i v = full ? _mm512_loadu_si512(d + 8 * g)
				 : _mm512_maskz_loadu_epi64(kg, d + 8 * g);

		if (ash)
			v = _mm512_sll_epi64(v, as);
		v = _mm512_add_epi64(v, _mm512_sll_epi64(_mm512_cvtepi32_epi64(half), cs));
		if (full)
			_mm512_storeu_si512(d + 8 * g, v);
		else
			_mm512_mask_storeu_epi64(d + 8 * g, kg, v);
	}
}

/*
 * Add one block's contributions, as int32 in c[0..1] (lanes past the block
 * zero), at exponent e: the rule of ainftp_acc_quick and ainftp_acc_step.
 */
INLINE void
add_block(struct ainftp_acc *a, uint32_t b, const __m512i c[2], __mmask32 k, bool full, int32_t e,
	  int w)
{
	size_t off = (size_t)b * AINFTP_BLOCK;
	__m512i any = _mm512_or_si512(c[0], c[1]);
	int32_t ash = 0, csh = 0;
	int how;

	if (!_mm512_test_epi32_mask(any, any))
		return; /* zeros change nothing, not even mag */
	ainftp_acc_uni_off(a);
	how = ainftp_acc_quick(&a->blk[b], e, w, &csh);
	if (how == AINFTP_STEP_SLOW)
		how = ainftp_acc_step(a, b, e, w, &ash, &csh);
	if (how == AINFTP_STEP_32) {
		add32(a->acc32 + off, c, k, full, ash, csh);
	} else if (csh >= 0) {
		add64(a->acc + off, c, k, full, ash, csh);
	} else {
		/* Overflow rounds the contribution: rare, scalar. */
		int32_t t32[AINFTP_BLOCK];
		int64_t t[AINFTP_BLOCK];
		int j;

		_mm512_storeu_si512(t32, c[0]);
		_mm512_storeu_si512(t32 + 16, c[1]);
		for (j = 0; j < AINFTP_BLOCK; j++)
			t[j] = t32[j];
		ainftp_acc_apply(a->acc + off, t, ainftp_block_len(a->n, b), ash, csh);
	}
}

/* 32 int16 as two vectors of int32. */
INLINE void
widen_i16(__m512i v, __m512i c[2])
{
	c[0] = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(v));
	c[1] = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(v, 1));
}

/* How many blocks of an int16 payload are not all zero. */
static uint32_t
nonzero_blocks_i16(const int16_t *q, uint32_t n)
{
	uint32_t nz = 0, b;

	for (b = 0; b < ainftp_blocks(n); b++) {
		__m512i v = _mm512_maskz_loadu_epi16(block_mask(ainftp_block_len(n, b)),
						     q + (size_t)b * AINFTP_BLOCK);

		nz += _mm512_test_epi16_mask(v, v) != 0;
	}
	return nz;
}

/*
 * acc32 = acc32 * 2^ash + q * 2^csh over the whole payload, 32 elements (a
 * block) at a time: the int16 packet while every block shares one state, no
 * per-block state at all. Returns how many blocks of q are not zero (the
 * test rides on the loads). shl_acc is a constant at each call site: without
 * it this is the plain widening sum.
 */
INLINE uint32_t
uni_add(int32_t *d, const int16_t *q, uint32_t n, int32_t ash, int32_t csh, bool shl_acc)
{
	__m128i as = _mm_cvtsi32_si128(ash), cs = _mm_cvtsi32_si128(csh);
	uint32_t i, nz = 0;
	__m512i c[2];

	for (i = 0; i + 32 <= n; i += 32) {
		__m512i v = _mm512_loadu_si512(q + i);
		__m512i d0 = _mm512_loadu_si512(d + i), d1 = _mm512_loadu_si512(d + i + 16);

		nz += _mm512_test_epi16_mask(v, v) != 0;
		widen_i16(v, c);
		if (shl_acc) {
			d0 = _mm512_sll_epi32(d0, as);
			d1 = _mm512_sll_epi32(d1, as);
		}
		_mm512_storeu_si512(d + i, _mm512_add_epi32(d0, _mm512_sll_epi32(c[0], cs)));
		_mm512_storeu_si512(d + i + 16, _mm512_add_epi32(d1, _mm512_sll_epi32(c[1], cs)));
	}
	if (i < n) {
		__mmask32 k = block_mask(n - i);
		__m512i v = _mm512_maskz_loadu_epi16(k, q + i);

		nz += _mm512_test_epi16_mask(v, v) != 0;
		widen_i16(v, c);
		add32(d + i, c, k, false, ash, csh);
	}
	return nz;
}

static void
acc_i16(struct ainftp_acc *a, const int16_t *q, int8_t e)
{
	uint32_t nb = ainftp_blocks(a->n), full = a->n / AINFTP_BLOCK, b;
	struct ainftp_acc_block next;
	int32_t ash, csh;
	int k = ainftp_acc_uni_plan(a, e, AINFTP_QBITS_INT16, &next, &ash, &csh);
	__m512i c[2];

	if (k == 1) {
		ainftp_acc_uni_done(a, &next, uni_add(a->acc32, q, a->n, 0, csh, false), q);
		return;
	}
	if (k == 2) {
		uint32_t nz = nonzero_blocks_i16(q, a->n);

		if (nz == 0)
			return; /* every block would skip it */
		if (nz == nb) {
			ainftp_acc_uni_commit(a, &next);
			uni_add(a->acc32, q, a->n, ash, csh, true);
			return;
		}
	}
	for (b = 0; b < full; b++) {
		widen_i16(_mm512_loadu_si512(q + (size_t)b * AINFTP_BLOCK), c);
		add_block(a, b, c, ~(__mmask32)0, true, e, AINFTP_QBITS_INT16);
	}
	if (b < nb) {
		__mmask32 k = block_mask(ainftp_block_len(a->n, b));

		widen_i16(_mm512_maskz_loadu_epi16(k, q + (size_t)b * AINFTP_BLOCK), c);
		add_block(a, b, c, k, false, e, AINFTP_QBITS_INT16);
	}
	ainftp_acc_uni_try(a);
}

static void
acc_i8(struct ainftp_acc *a, const int8_t *e, const int8_t *q)
{
	uint32_t nb = ainftp_blocks(a->n), full = a->n / AINFTP_BLOCK, b;
	__m512i c[2];

	for (b = 0; b < full; b++) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(q + (size_t)b * AINFTP_BLOCK));

		c[0] = _mm512_cvtepi8_epi32(_mm256_castsi256_si128(v));
		c[1] = _mm512_cvtepi8_epi32(_mm256_extracti128_si256(v, 1));
		add_block(a, b, c, ~(__mmask32)0, true, e[b], AINFTP_QBITS_INT8);
	}
	if (b < nb) {
		__mmask32 k = block_mask(ainftp_block_len(a->n, b));
		__m256i v = _mm256_maskz_loadu_epi8(k, q + (size_t)b * AINFTP_BLOCK);

		c[0] = _mm512_cvtepi8_epi32(_mm256_castsi256_si128(v));
		c[1] = _mm512_cvtepi8_epi32(_mm256_extracti128_si256(v, 1));
		add_block(a, b, c, k, false, e[b], AINFTP_QBITS_INT8);
	}
}

/* One float32 block to 32-bit integers at its own exponent; false when all zero. */
INLINE bool
f32_block(const float *x, __mmask32 k, bool full, __m512i c[2], int32_t *e)
{
	const __m512i abs = _mm512_set1_epi32(0x7fffffff), lim = _mm512_set1_epi32(INT32_MAX);
	__m512 x0 = full ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps((__mmask16)k, x);
	__m512 x1 = full ? _mm512_loadu_ps(x + 16)
			 : _mm512_maskz_loadu_ps((__mmask16)(k >> 16), x + 16);
	uint32_t m = _mm512_reduce_max_epu32(
		_mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(x0), abs),
				 _mm512_and_si512(_mm512_castps_si512(x1), abs)));
	__m512 p;

	if (m == 0)
		return false;
	*e = ainftp_frexp_bits(m) - AINFTP_QBITS_FLOAT32;
	p = _mm512_set1_ps((float)-*e);
	c[0] = quant_v(x0, p, lim); /* |c| < 2^31: the clamp never bites */
	c[1] = quant_v(x1, p, lim);
	return true;
}

static int
acc_f32(struct ainftp_acc *a, const float *x)
{
	uint32_t nb = ainftp_blocks(a->n), full = a->n / AINFTP_BLOCK, b;
	__m512i c[2];
	int32_t e;

	if (max_abs_bits(x, a->n) >= AINFTP_F32_ABS_INF)
		return -1;
	for (b = 0; b < full; b++)
		if (f32_block(x + (size_t)b * AINFTP_BLOCK, ~(__mmask32)0, true, c, &e))
			add_block(a, b, c, ~(__mmask32)0, true, e, AINFTP_QBITS_FLOAT32);
	if (b < nb) {
		__mmask32 k = block_mask(ainftp_block_len(a->n, b));

		if (f32_block(x + (size_t)b * AINFTP_BLOCK, k, false, c, &e))
			add_block(a, b, c, k, false, e, AINFTP_QBITS_FLOAT32);
	}
	return 0;
}

/* Group g (8 elements) of block b's sums as int64, from acc32 while the block is narrow. */
static __m512i
load_sum(const struct ainftp_acc *a, uint32_t b, int g, __mmask8 kg)
{
	size_t off = (size_t)b * AINFTP_BLOCK + 8 * (size_t)g;

	if (a->blk[b].mag != AINFTP_MAG_WIDE)
		return _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(kg, a->acc32 + off));
	return _mm512_maskz_loadu_epi64(kg, a->acc + off);
}

static void
res_f32(const struct ainftp_acc *a, float *out)
{
	uint32_t b;
	int g;

	for (b = 0; b < ainftp_blocks(a->n); b++) {
		__mmask32 k = block_mask(ainftp_block_len(a->n, b));
		int32_t exp = a->blk[b].exp;
		/* An empty block holds zeros: any scale gives 0.0f. scalef is ldexp. */
		__m512d p = _mm512_set1_pd(exp == AINFTP_EXP_NONE ? 0 : exp);

		for (g = 0; g < 4; g++) {
			__mmask8 kg = (__mmask8)(k >> (8 * g));
			__m512d v = _mm512_cvtepi64_pd(load_sum(a, b, g, kg));

			_mm256_mask_storeu_ps(out + (size_t)b * AINFTP_BLOCK + 8 * g, kg,
					      _mm512_cvtpd_ps(_mm512_scalef_pd(v, p)));
		}
	}
}

/* Bit length of the largest |acc| of a block (|INT64_MIN| counts as 2^63). */
static int32_t
block_bits(const struct ainftp_acc *a, uint32_t b, __mmask32 k)
{
	__m512i or = _mm512_setzero_si512();
	uint64_t u;
	int g;

	for (g = 0; g < 4; g++)
		or = _mm512_or_si512(or,
				     _mm512_abs_epi64(load_sum(a, b, g, (__mmask8)(k >> (8 * g)))));
	u = (uint64_t)_mm512_reduce_or_epi64(or);
	return u ? 64 - __builtin_clzll(u) : 0;
}

/* v * 2^-s rounded to nearest even, 1 <= s <= 63. */
static __m512i
shr_rne(__m512i v, int32_t s)
{
	const __m512i one = _mm512_set1_epi64(1);
	__m512i q = _mm512_sra_epi64(v, _mm_cvtsi32_si128(s));
	__m512i r = _mm512_and_si512(v, _mm512_set1_epi64((int64_t)((UINT64_C(1) << s) - 1)));
	__m512i half = _mm512_set1_epi64((int64_t)(UINT64_C(1) << (s - 1)));
	__mmask8 up = _mm512_cmpgt_epi64_mask(r, half) |
		      (_mm512_cmpeq_epi64_mask(r, half) & _mm512_test_epi64_mask(q, one));

	return _mm512_mask_add_epi64(q, up, q, one);
}

/* One block to int16 at a shift d that leaves at most 15 bits (or saturates at 2^15). */
static void
res_i16_block(const struct ainftp_acc *a, uint32_t b, __mmask32 k, int32_t dsh, int16_t *out)
{
	const __m512i lim = _mm512_set1_epi64(INT16_MAX), nlim = _mm512_set1_epi64(-INT16_MAX);
	int g;

	for (g = 0; g < 4; g++) {
		__mmask8 kg = (__mmask8)(k >> (8 * g));
		__m512i v = load_sum(a, b, g, kg);

		if (dsh >= 0)
			v = _mm512_sll_epi64(v, _mm_cvtsi32_si128(dsh));
		else if (dsh < -63)
			v = _mm512_setzero_si512();
		else
			v = shr_rne(v, -dsh);
		v = _mm512_max_epi64(_mm512_min_epi64(v, lim), nlim);
		_mm_mask_storeu_epi16(out + 8 * g, kg, _mm512_cvtepi64_epi16(v));
	}
}

static int8_t
res_i16(const struct ainftp_acc *a, int16_t *out)
{
	uint32_t nb = ainftp_blocks(a->n), b, i;
	int32_t k = AINFTP_EXP_NONE;
	int8_t eo;

	for (b = 0; b < nb; b++) {
		int32_t bits, exp = a->blk[b].exp;

		if (exp == AINFTP_EXP_NONE)
			continue;
		bits = block_bits(a, b, block_mask(ainftp_block_len(a->n, b)));
		if (bits && bits + exp > k)
			k = bits + exp;
	}
	eo = ainftp_res_i16_exp(k);
	if (k != AINFTP_EXP_NONE && k - AINFTP_QBITS_INT16 > eo) {
		/* Exponent clamped at 127: values saturate; rare, scalar. */
		for (i = 0; i < a->n; i++) {
			int32_t exp = a->blk[i / AINFTP_BLOCK].exp;

			out[i] = exp == AINFTP_EXP_NONE
					 ? 0
					 : ainftp_res_i16_one(ainftp_acc_at(a, i), exp - eo);
		}
		return eo;
	}
	for (b = 0; b < nb; b++) {
		int32_t exp = a->blk[b].exp;

		/* An empty block holds zeros: any shift gives 0. */
		res_i16_block(a, b, block_mask(ainftp_block_len(a->n, b)),
			      exp == AINFTP_EXP_NONE ? 0 : exp - eo,
			      out + (size_t)b * AINFTP_BLOCK);
	}
	return eo;
}

const struct ainftp_quant_ops ainftp_quant_avx512 = {
	.name = "avx512",
	.quant_i16 = quant_i16,
	.quant_i8 = quant_i8,
	.acc_i16 = acc_i16,
	.acc_i8 = acc_i8,
	.acc_f32 = acc_f32,
	.res_f32 = res_f32,
	.res_i16 = res_i16,
};
