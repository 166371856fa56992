/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX2 kernels: the same bits as the scalar reference in ainftp_quant.c. A
 * block of 32 is four ymm of float32 and eight of int64. Short tail blocks go
 * to the scalar reference on a view of that one block.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ainftp_quant.h"

#define INLINE static inline __attribute__((always_inline))
/* Loops over arrays of vectors: unrolled, the arrays stay in registers. */
#define UNROLL _Pragma("GCC unroll 8")

static uint32_t
hmax_epu32(__m256i m)
{
	__m128i v = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));

	v = _mm_max_epu32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
	v = _mm_max_epu32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
	return (uint32_t)_mm_cvtsi128_si32(v);
}

static __m256i
abs_bits(__m256 x)
{
	return _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff));
}

static uint32_t
max_abs_bits(const float *x, uint32_t n)
{
	__m256i m = _mm256_setzero_si256();
	uint32_t i, r;

	for (i = 0; i + 8 <= n; i += 8)
		m = _mm256_max_epu32(m, abs_bits(_mm256_loadu_ps(x + i)));
	r = hmax_epu32(m);
	for (; i < n; i++) {
		uint32_t u;

		memcpy(&u, x + i, sizeof(u));
		u &= 0x7fffffffu;
		r = u > r ? u : r;
	}
	return r;
}

static float
pow2f(int32_t p)
{
	uint32_t u = (uint32_t)(p + 127) << 23;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/*
 * Multiplying by 2^p as s1 * s2, both normal floats (p reaches 179): the
 * products are exact, or so small that they round to 0 either way.
 */
struct scale {
	__m256 s1, s2;
};

static struct scale
scale_of(int32_t p)
{
	int32_t p1 = p > 127 ? 64 : p;

	return (struct scale){_mm256_set1_ps(pow2f(p1)), _mm256_set1_ps(pow2f(p - p1))};
}

/* rne(x * 2^p) saturated to [-lim, lim], as 8 int32. */
static __m256i
quant_v(__m256 x, struct scale s, __m256i lim)
{
	__m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_mul_ps(x, s.s1), s.s2));

	return _mm256_max_epi32(_mm256_min_epi32(v, lim),
				_mm256_sub_epi32(_mm256_setzero_si256(), lim));
}

/* The scalar reference on block b alone: a view that shares its state (results only). */
static struct ainftp_acc
block_view(const struct ainftp_acc *a, uint32_t b)
{
	return (struct ainftp_acc){
		.n = ainftp_block_len(a->n, b),
		.fresh = a->fresh,
		.uni = a->uni,
		.exp = a->exp + b,
		.emax = a->emax + b,
		.mag = a->mag + b,
		.elo = a->elo + b,
		.acc = a->acc + (size_t)b * AINFTP_BLOCK,
		.acc32 = a->acc32 + (size_t)b * AINFTP_BLOCK,
	};
}

static int
quant_i16(const float *x, uint32_t n, int16_t *q, int8_t *e)
{
	const __m256i lim = _mm256_set1_epi32(INT16_MAX);
	uint32_t m = max_abs_bits(x, n), i;
	struct scale s;

	if (m >= AINFTP_F32_ABS_INF)
		return -1;
	if (m == 0) {
		*e = AINFTP_WIRE_EXP_ZERO;
		memset(q, 0, sizeof(*q) * n);
		return 0;
	}
	*e = (int8_t)ainftp_quant_exp(m, AINFTP_QBITS_INT16);
	s = scale_of(-*e);
	for (i = 0; i + 16 <= n; i += 16) {
		__m256i v0 = quant_v(_mm256_loadu_ps(x + i), s, lim);
		__m256i v1 = quant_v(_mm256_loadu_ps(x + i + 8), s, lim);
		__m256i v = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1),
						     _MM_SHUFFLE(3, 1, 2, 0));

		_mm256_storeu_si256((__m256i *)(q + i), v);
	}
	for (; i < n; i++)
		q[i] = (int16_t)ainftp_quant_one(x[i], ldexp(1.0, -*e), INT16_MAX);
	return 0;
}

static int
quant_i8(const float *x, uint32_t n, int8_t *e, int8_t *q)
{
	const __m256i lim = _mm256_set1_epi32(INT8_MAX);
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	uint32_t full = n / AINFTP_BLOCK, b;

	for (b = 0; b < full; b++) {
		const float *xb = x + (size_t)b * AINFTP_BLOCK;
		__m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8);
		__m256 x2 = _mm256_loadu_ps(xb + 16), x3 = _mm256_loadu_ps(xb + 24);
		uint32_t m =
			hmax_epu32(_mm256_max_epu32(_mm256_max_epu32(abs_bits(x0), abs_bits(x1)),
						    _mm256_max_epu32(abs_bits(x2), abs_bits(x3))));
		__m256i v01, v23;
		struct scale s;

		if (m >= AINFTP_F32_ABS_INF)
			return -1;
		if (m == 0) {
			e[b] = AINFTP_WIRE_EXP_ZERO;
			_mm256_storeu_si256((__m256i *)(q + (size_t)b * AINFTP_BLOCK),
					    _mm256_setzero_si256());
			continue;
		}
		e[b] = (int8_t)ainftp_quant_exp(m, AINFTP_QBITS_INT8);
		s = scale_of(-e[b]);
		v01 = _mm256_packs_epi32(quant_v(x0, s, lim), quant_v(x1, s, lim));
		v23 = _mm256_packs_epi32(quant_v(x2, s, lim), quant_v(x3, s, lim));
		/* packs works within 128-bit lanes: 4-byte groups come out as 0 2 4 6 1 3 5 7. */
		_mm256_storeu_si256(
			(__m256i *)(q + (size_t)b * AINFTP_BLOCK),
			_mm256_permutevar8x32_epi32(_mm256_packs_epi16(v01, v23), order));
	}
	if (b < ainftp_blocks(n))
		return ainftp_quant_scalar.quant_i8(x + (size_t)b * AINFTP_BLOCK, n % AINFTP_BLOCK,
						    e + b, q + (size_t)b * AINFTP_BLOCK);
	return 0;
}

/* acc32 = acc32 * 2^ash + c * 2^csh on one full block. */
INLINE void
add32(int32_t *d, const __m256i c[4], int32_t ash, int32_t csh)
{
	__m128i as = _mm_cvtsi32_si128(ash), cs = _mm_cvtsi32_si128(csh);
	int g;

	UNROLL
	for (g = 0; g < 4; g++) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(d + 8 * g));

		if (ash)
			v = _mm256_sll_epi32(v, as);
		v = _mm256_add_epi32(v, _mm256_sll_epi32(c[g], cs));
		_mm256_storeu_si256((__m256i *)(d + 8 * g), v);
	}
}

/* acc = acc * 2^ash + c * 2^csh on one full block, csh >= 0. */
INLINE void
add64(int64_t *d, const __m256i c[4], int32_t ash, int32_t csh)
{
	__m128i as = _mm_cvtsi32_si128(ash), cs = _mm_cvtsi32_si128(csh);
	int g;

	UNROLL
	for (g = 0; g < 8; g++) {
		__m128i half = g % 2 ? _mm256_extracti128_si256(c[g / 2], 1)
				     : _mm256_castsi256_si128(c[g / 2]);
		__m256i v = _mm256_loadu_si256((const __m256i *)(d + 4 * g));

		if (ash)
			v = _mm256_sll_epi64(v, as);
		v = _mm256_add_epi64(v, _mm256_sll_epi64(_mm256_cvtepi32_epi64(half), cs));
		_mm256_storeu_si256((__m256i *)(d + 4 * g), v);
	}
}

/*
 * Add one full block's contributions, as int32 in c[0..3], at exponent e:
 * the rule of ainftp_acc_quick and ainftp_acc_step.
 */
INLINE void
add_block(struct ainftp_acc *a, uint32_t b, const __m256i c[4], int32_t e, int w)
{
	size_t off = (size_t)b * AINFTP_BLOCK;
	__m256i any = _mm256_or_si256(_mm256_or_si256(c[0], c[1]), _mm256_or_si256(c[2], c[3]));
	int32_t ash = 0, csh = 0;
	int how;

	if (_mm256_testz_si256(any, any))
		return; /* zeros change nothing, not even mag */
	ainftp_acc_uni_off(a);
	how = ainftp_acc_quick(a, b, e, w, &csh);
	if (how == AINFTP_STEP_SLOW)
		how = ainftp_acc_step(a, b, e, w, &ash, &csh);
	if (how == AINFTP_STEP_32) {
		add32(a->acc32 + off, c, ash, csh);
	} else if (csh >= 0) {
		add64(a->acc + off, c, ash, csh);
	} else {
		/* Overflow rounds the contribution: rare, scalar. */
		int32_t t32[AINFTP_BLOCK];
		int64_t t[AINFTP_BLOCK];
		int g;

		UNROLL
		for (g = 0; g < 4; g++)
			_mm256_storeu_si256((__m256i *)(t32 + 8 * g), c[g]);
		for (g = 0; g < AINFTP_BLOCK; g++)
			t[g] = t32[g];
		ainftp_acc_apply(a->acc + off, t, AINFTP_BLOCK, ash, csh);
	}
}

/* What uni_add does with acc32: add, shift and add, or store (a fresh acc32). */
enum uni_op { UNI_ADD, UNI_SHL, UNI_STORE };

/*
 * acc32 = acc32 * 2^ash + q * 2^csh over the whole payload, a block (32
 * elements) at a time, for ainftp_acc_uni_after: returns how many blocks of
 * q are not zero (the test rides on the loads). op is a constant at each
 * call site: UNI_ADD is the plain widening sum, and a shift.
 */
INLINE uint32_t
uni_add(int32_t *d, const int16_t *q, uint32_t n, int32_t ash, int32_t csh, enum uni_op op)
{
	__m128i as = _mm_cvtsi32_si128(ash), cs = _mm_cvtsi32_si128(csh);
	uint32_t i, nz = 0;
	int g;

	for (i = 0; i + 32 <= n; i += 32) {
		__m256i any = _mm256_setzero_si256();

		UNROLL
		for (g = 0; g < 2; g++) {
			__m256i v = _mm256_loadu_si256((const __m256i *)(q + i + 16 * g));
			__m256i *p = (__m256i *)(d + i + 16 * g);
			__m256i c0 = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(v));
			__m256i c1 = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1));
			__m256i d0, d1;

			any = _mm256_or_si256(any, v);
			if (op == UNI_STORE) {
				/* ash = csh = 0: exp is this packet's. */
				_mm256_storeu_si256(p, c0);
				_mm256_storeu_si256(p + 1, c1);
				continue;
			}
			d0 = _mm256_loadu_si256(p);
			d1 = _mm256_loadu_si256(p + 1);
			if (op == UNI_SHL) {
				d0 = _mm256_sll_epi32(d0, as);
				d1 = _mm256_sll_epi32(d1, as);
			}
			_mm256_storeu_si256(p, _mm256_add_epi32(d0, _mm256_sll_epi32(c0, cs)));
			_mm256_storeu_si256(p + 1, _mm256_add_epi32(d1, _mm256_sll_epi32(c1, cs)));
		}
		nz += !_mm256_testz_si256(any, any);
	}
	if (i < n) {
		int16_t any = 0;

		for (; i < n; i++) {
			any |= q[i];
			d[i] = op == UNI_STORE ? q[i]
					       : (int32_t)(((uint32_t)d[i] << ash) +
							   ((uint32_t)q[i] << csh));
		}
		nz += any != 0;
	}
	return nz;
}

/* An int16 packet when uni's quick check fails: exp or emax change, or block by block. */
static __attribute__((noinline)) void
acc_i16_slow(struct ainftp_acc *a, const int16_t *q, int8_t e)
{
	uint32_t full = a->n / AINFTP_BLOCK, b;
	struct ainftp_acc_block next;
	int32_t ash, csh;
	__m256i c[4];
	int g;

	if (ainftp_acc_uni_plan(a, e, AINFTP_QBITS_INT16, &next, &ash, &csh)) {
		uint32_t nz = a->fresh ? uni_add(a->acc32, q, a->n, 0, 0, UNI_STORE)
				       : uni_add(a->acc32, q, a->n, ash, csh, UNI_SHL);

		if (nz)
			a->fresh = false; /* zeros stored where anything was: still fresh */
		ainftp_acc_uni_after(a, &next, ash, nz, q);
		return;
	}
	for (b = 0; b < full; b++) {
		const int16_t *p = q + (size_t)b * AINFTP_BLOCK;

		UNROLL
		for (g = 0; g < 4; g++)
			c[g] = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(p + 8 * g)));
		add_block(a, b, c, e, AINFTP_QBITS_INT16);
	}
	if (b < ainftp_blocks(a->n)) {
		int64_t t[AINFTP_BLOCK];
		uint32_t j;

		for (j = 0; j < a->n - b * AINFTP_BLOCK; j++)
			t[j] = q[b * AINFTP_BLOCK + j];
		ainftp_acc_block_add(a, b, t, e, AINFTP_QBITS_INT16);
	}
	ainftp_acc_uni_try(a);
}

static void
acc_i16(struct ainftp_acc *a, const int16_t *q, int8_t e)
{
	struct ainftp_acc_block next;
	int32_t csh = ainftp_acc_uni_quick(a, e, AINFTP_QBITS_INT16, &next);

	/* The common case: one check for the packet, then the plain widening sum. */
	if (__builtin_expect(csh >= 0, 1))
		ainftp_acc_uni_after(a, &next, 0, uni_add(a->acc32, q, a->n, 0, csh, UNI_ADD), q);
	else
		acc_i16_slow(a, q, e);
}

static void
acc_i8(struct ainftp_acc *a, const int8_t *e, const int8_t *q)
{
	uint32_t full = a->n / AINFTP_BLOCK, b;
	__m256i c[4];
	int g;

	for (b = 0; b < full; b++) {
		const int8_t *p = q + (size_t)b * AINFTP_BLOCK;

		UNROLL
		for (g = 0; g < 4; g++)
			c[g] = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8 * g)));
		add_block(a, b, c, e[b], AINFTP_QBITS_INT8);
	}
	if (b < ainftp_blocks(a->n)) {
		int64_t t[AINFTP_BLOCK];
		uint32_t j;

		for (j = 0; j < a->n - b * AINFTP_BLOCK; j++)
			t[j] = q[b * AINFTP_BLOCK + j];
		ainftp_acc_block_add(a, b, t, e[b], AINFTP_QBITS_INT8);
	}
}

/*
 * float32: each block converts at its own exponent, 31 bits below its
 * largest |x|, and adds into int64 sums. As in the AVX-512 kernel, a first
 * pass finds the full blocks' maxima, 8 blocks to one transposing reduction,
 * and refuses NaN and infinity before anything changes; the second converts
 * and adds, 8 blocks' exponent rule at a time (f32_fast).
 */
#define F32_MAX_CACHED 128 /* full blocks whose maxima the first pass keeps */

/* The largest |x| bits of a full block, 8 lanes still to reduce. */
INLINE __m256i
f32_block_abs(const float *xb)
{
	return _mm256_max_epu32(
		_mm256_max_epu32(abs_bits(_mm256_loadu_ps(xb)), abs_bits(_mm256_loadu_ps(xb + 8))),
		_mm256_max_epu32(abs_bits(_mm256_loadu_ps(xb + 16)),
				 abs_bits(_mm256_loadu_ps(xb + 24))));
}

/*
 * The largest |x| bits of full blocks b0.. (cnt, 1..8), lane i for block
 * b0 + i and zero past cnt: one reduction for 8 blocks. Stage by stage, a
 * vector holds 2, 4, then 8 blocks' candidates, halving each block's.
 */
INLINE __m256i
f32_group_max(const float *x, uint32_t b0, uint32_t cnt)
{
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	__m256i v[8], w[4], y[2], r;
	uint32_t i;

	UNROLL
	for (i = 0; i < 8; i++)
		v[i] = i < cnt ? f32_block_abs(x + (size_t)(b0 + i) * AINFTP_BLOCK)
			       : _mm256_setzero_si256();
	/* w[i]: block 2i in the low 128 bits, block 2i + 1 in the high. */
	UNROLL
	for (i = 0; i < 4; i++)
		w[i] = 2 * i < cnt
			       ? _mm256_max_epu32(
					 _mm256_permute2x128_si256(v[2 * i], v[2 * i + 1], 0x20),
					 _mm256_permute2x128_si256(v[2 * i], v[2 * i + 1], 0x31))
			       : _mm256_setzero_si256();
	/* y[i]: in 128-bit lane k, block 4i + k in dwords 0-1, block 4i + 2 + k in 2-3. */
	UNROLL
	for (i = 0; i < 2; i++)
		y[i] = 4 * i < cnt ? _mm256_max_epu32(_mm256_unpacklo_epi64(w[2 * i], w[2 * i + 1]),
						      _mm256_unpackhi_epi64(w[2 * i], w[2 * i + 1]))
				   : _mm256_setzero_si256();
	/* Dword j of 128-bit lane k: block k + 2j. */
	r = _mm256_max_epu32(_mm256_castps_si256(_mm256_shuffle_ps(
				     _mm256_castsi256_ps(y[0]), _mm256_castsi256_ps(y[1]), 0x88)),
			     _mm256_castps_si256(_mm256_shuffle_ps(
				     _mm256_castsi256_ps(y[0]), _mm256_castsi256_ps(y[1]), 0xdd)));
	return _mm256_permutevar8x32_epi32(r, order);
}

/* A full block as int32 at exponent e (x * 2^-e is exact and below 2^31: no clamp). */
INLINE void
f32_conv(const float *xb, int32_t e, __m256i c[4])
{
	struct scale s = scale_of(-e);
	int g;

	UNROLL
	for (g = 0; g < 4; g++)
		c[g] = _mm256_cvtps_epi32(
			_mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * g), s.s1), s.s2));
}

/*
 * Full blocks b0.. (cnt, 1..8) with maxima m, when every one that is not
 * zero is wide and stays within the span (ainftp_acc_prep's case without
 * overflow, ainftp_acc_quick's included): exp falls to lo = min(e, exp),
 * emax rises to max(e, emax), and acc = acc * 2^(exp - lo) + c * 2^(e - lo).
 * false, with nothing changed, when some block is not in that case.
 */
static bool
f32_fast(struct ainftp_acc *a, const float *x, __m256i m, uint32_t b0, uint32_t cnt)
{
	const __m256i zero = _mm256_setzero_si256();
	__m256i km = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cnt),
					_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	__m256i bexp = _mm256_srli_epi32(m, 23);
	/* frexp(max) - 31 for a normal maximum: its biased exponent less 157. */
	__m256i e = _mm256_sub_epi32(bexp, _mm256_set1_epi32(157));
	__m256i exp = _mm256_maskload_epi32(a->exp + b0, km);
	__m256i emax = _mm256_maskload_epi32(a->emax + b0, km);
	__m256i mag = _mm256_maskload_epi32((const int *)a->mag + b0, km);
	__m256i lo = _mm256_min_epi32(e, exp), hi = _mm256_max_epi32(e, emax);
	__m256i nz = _mm256_andnot_si256(_mm256_cmpeq_epi32(m, zero), km), bad;
	int32_t as[8], cs[8], es[8];
	uint32_t i, k;

	bad = _mm256_or_si256(_mm256_cmpeq_epi32(bexp, zero),
			      _mm256_cmpeq_epi32(exp, _mm256_set1_epi32(AINFTP_EXP_NONE)));
	bad = _mm256_or_si256(bad, _mm256_xor_si256(_mm256_cmpeq_epi32(mag, _mm256_set1_epi32(-1)),
						    _mm256_set1_epi32(-1)));
	bad = _mm256_or_si256(
		bad, _mm256_cmpgt_epi32(_mm256_sub_epi32(hi, lo),
					_mm256_set1_epi32(ainftp_span(AINFTP_QBITS_FLOAT32))));
	if (!_mm256_testz_si256(bad, nz))
		return false;
	_mm256_maskstore_epi32(a->exp + b0, nz, lo);
	_mm256_maskstore_epi32(a->emax + b0, nz, hi);
	_mm256_storeu_si256((__m256i *)as, _mm256_sub_epi32(exp, lo));
	_mm256_storeu_si256((__m256i *)cs, _mm256_sub_epi32(e, lo));
	_mm256_storeu_si256((__m256i *)es, e);
	k = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(nz));
	for (i = 0; i < cnt; i++) {
		__m256i c[4];

		if (!(k >> i & 1))
			continue;
		f32_conv(x + (size_t)(b0 + i) * AINFTP_BLOCK, es[i], c);
		add64(a->acc + (size_t)(b0 + i) * AINFTP_BLOCK, c, as[i], cs[i]);
	}
	return true;
}

static int
acc_f32(struct ainftp_acc *a, const float *x)
{
	const __m256i inf = _mm256_set1_epi32((int)(AINFTP_F32_ABS_INF - 1));
	uint32_t full = a->n / AINFTP_BLOCK, b0, cnt, i;
	uint32_t mb[F32_MAX_CACHED + 8], more[8];
	const uint32_t *gm;
	__m256i bad = _mm256_setzero_si256(), any = _mm256_setzero_si256();
	const float *xt = x + (size_t)full * AINFTP_BLOCK;
	uint32_t tail = a->n - full * AINFTP_BLOCK, mt = tail ? max_abs_bits(xt, tail) : 0;

	for (b0 = 0; b0 < full; b0 += cnt) {
		__m256i m;

		cnt = full - b0 < 8 ? full - b0 : 8;
		m = f32_group_max(x, b0, cnt);
		/* |x| bits above INF - 1, unsigned: max(m, INF - 1) != INF - 1. */
		bad = _mm256_or_si256(
			bad, _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(m, inf), inf),
					      _mm256_set1_epi32(-1)));
		any = _mm256_or_si256(any, m);
		if (b0 < F32_MAX_CACHED)
			_mm256_storeu_si256((__m256i *)(mb + b0), m);
	}
	if (!_mm256_testz_si256(bad, bad) || mt >= AINFTP_F32_ABS_INF)
		return -1;
	if (_mm256_testz_si256(any, any) && mt == 0)
		return 0; /* zeros change nothing */
	for (b0 = 0; b0 < full; b0 += cnt) {
		__m256i m;

		cnt = full - b0 < 8 ? full - b0 : 8;
		if (b0 < F32_MAX_CACHED) {
			gm = mb + b0;
			m = _mm256_loadu_si256((const __m256i *)gm);
		} else {
			m = f32_group_max(x, b0, cnt);
			_mm256_storeu_si256((__m256i *)more, m);
			gm = more;
		}
		if (!_mm256_testz_si256(m, m))
			ainftp_acc_uni_off(a);
		if (f32_fast(a, x, m, b0, cnt))
			continue;
		/* Block by block, by ainftp_acc_quick and _step: the rarer case. */
		for (i = 0; i < cnt; i++) {
			__m256i c[4];
			int32_t e;

			/* Zeros change nothing (and 0 has no frexp exponent). */
			if (gm[i] == 0)
				continue;
			e = ainftp_frexp_bits(gm[i]) - AINFTP_QBITS_FLOAT32;
			f32_conv(x + (size_t)(b0 + i) * AINFTP_BLOCK, e, c);
			add_block(a, b0 + i, c, e, AINFTP_QBITS_FLOAT32);
		}
	}
	if (mt != 0) {
		int32_t e = ainftp_frexp_bits(mt) - AINFTP_QBITS_FLOAT32;
		int64_t t[AINFTP_BLOCK];

		for (i = 0; i < tail; i++)
			t[i] = ainftp_quant_one(xt[i], ldexp(1.0, -e), INT32_MAX);
		ainftp_acc_block_add(a, full, t, e, AINFTP_QBITS_FLOAT32);
	}
	return 0;
}

/* Elements j..j+3 of block b's sums as int64, from acc32 while the block is narrow. */
static __m256i
load_sum(const struct ainftp_acc *a, uint32_t b, uint32_t j)
{
	size_t off = (size_t)b * AINFTP_BLOCK + j;

	if (!ainftp_acc_wide(a, b))
		return _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(a->acc32 + off)));
	return _mm256_loadu_si256((const __m256i *)(a->acc + off));
}

/*
 * int64 to double rounded to nearest even, as vcvtqq2pd would: the top 16
 * bits times 2^48 and the low 48 bits are both exact doubles (built through
 * magic exponents), so their sum is the only rounding.
 */
static __m256d
i64_to_f64(__m256i x)
{
	const __m256d magic_hi = _mm256_set1_pd(0x1.8p68); /* 3 * 2^67, ulp 2^16 */
	const __m256d magic_lo = _mm256_set1_pd(0x1p52);   /* ulp 1 */
	const __m256d magic_all = _mm256_set1_pd(0x1.8p68 + 0x1p52);
	__m256i hi = _mm256_srai_epi32(x, 16); /* high dword: the top 16 bits, signed */

	hi = _mm256_blend_epi16(hi, _mm256_setzero_si256(), 0x33);
	hi = _mm256_add_epi64(hi, _mm256_castpd_si256(magic_hi));
	x = _mm256_blend_epi16(x, _mm256_castpd_si256(magic_lo), 0x88);
	return _mm256_add_pd(_mm256_sub_pd(_mm256_castsi256_pd(hi), magic_all),
			     _mm256_castsi256_pd(x));
}

static double
pow2d(int32_t p)
{
	uint64_t u = (uint64_t)(p + 1023) << 52;
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/* ainftp_res_f32_narrow: acc32 to float and times 2^e, 8 at a time (the tail as C does it). */
static void
res_f32_narrow(const struct ainftp_acc *a, float *out)
{
	const float s = ainftp_pow2f(a->uni.exp);
	const __m256 p = _mm256_set1_ps(s);
	uint32_t i;

	for (i = 0; i + 8 <= a->n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(
								(const __m256i *)(a->acc32 + i))),
							p));
	for (; i < a->n; i++)
		out[i] = (float)a->acc32[i] * s;
}

/*
 * A whole narrow block at its exponent exp, as the AVX-512 kernel's
 * res_f32_block32 (int8, 1 KB: 222 TSC cycles a chunk against 699).
 */
static bool
res_f32_block32(const struct ainftp_acc *a, uint32_t b, int32_t exp, float *out)
{
	const int32_t *s = a->acc32 + (size_t)b * AINFTP_BLOCK;
	__m256 p;
	int g;

	if (!ainftp_res_f32_block_narrow(a, b, exp))
		return false;
	p = _mm256_set1_ps(exp == AINFTP_EXP_NONE ? 1.0f : ainftp_pow2f(exp));
	for (g = 0; g < 4; g++)
		_mm256_storeu_ps(out + 8 * g, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(
								    (const __m256i *)(s + 8 * g))),
							    p));
	return true;
}

static void
res_f32(const struct ainftp_acc *a, float *out)
{
	uint32_t full = a->n / AINFTP_BLOCK, b;
	int g;

	if (a->fresh) {
		memset(out, 0, sizeof(*out) * a->n); /* every block empty, acc32 anything */
		return;
	}
	if (ainftp_res_f32_narrow(a)) {
		res_f32_narrow(a, out);
		return;
	}
	for (b = 0; b < full; b++) {
		int32_t exp = ainftp_acc_state(a, b).exp;
		__m256d p;

		if (res_f32_block32(a, b, exp, out + (size_t)b * AINFTP_BLOCK))
			continue;
		/*
		 * Block exponents stay within those of contributions (-179..127), so
		 * 2^exp is a normal double and the product exact, as ldexp's. An empty
		 * block holds zeros.
		 */
		p = _mm256_set1_pd(exp == AINFTP_EXP_NONE ? 0.0 : pow2d(exp));
		for (g = 0; g < 8; g++) {
			__m256d v = i64_to_f64(load_sum(a, b, 4 * (uint32_t)g));

			_mm_storeu_ps(out + (size_t)b * AINFTP_BLOCK + 4 * g,
				      _mm256_cvtpd_ps(_mm256_mul_pd(v, p)));
		}
	}
	if (b < ainftp_blocks(a->n)) {
		struct ainftp_acc t = block_view(a, b);

		ainftp_quant_scalar.res_f32(&t, out + (size_t)b * AINFTP_BLOCK);
	}
}

static __m256i
abs_i64(__m256i v)
{
	__m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);

	return _mm256_sub_epi64(_mm256_xor_si256(v, sign), sign);
}

/* Bit length of the largest |acc| of block b (|INT64_MIN| counts as 2^63). */
static int32_t
block_bits(const struct ainftp_acc *a, uint32_t b)
{
	uint32_t len = ainftp_block_len(a->n, b), j;
	__m256i or = _mm256_setzero_si256();
	uint64_t u = 0;

	for (j = 0; j + 4 <= len; j += 4)
		or = _mm256_or_si256(or, abs_i64(load_sum(a, b, j)));
	for (; j < len; j++) {
		int64_t v = ainftp_acc_at(a, b * AINFTP_BLOCK + j);

		u |= v < 0 ? -(uint64_t)v : (uint64_t)v;
	}
	u |= (uint64_t)_mm256_extract_epi64(or, 0) | (uint64_t)_mm256_extract_epi64(or, 1) |
	     (uint64_t)_mm256_extract_epi64(or, 2) | (uint64_t)_mm256_extract_epi64(or, 3);
	return u ? 64 - __builtin_clzll(u) : 0;
}

/* v * 2^-s rounded to nearest even, 1 <= s <= 63 (AVX2 has no 64-bit arithmetic shift). */
static __m256i
shr_rne(__m256i v, int32_t s)
{
	const __m256i one = _mm256_set1_epi64x(1);
	__m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
	__m256i q = _mm256_or_si256(_mm256_srl_epi64(v, _mm_cvtsi32_si128(s)),
				    _mm256_sll_epi64(sign, _mm_cvtsi32_si128(64 - s)));
	__m256i r = _mm256_and_si256(v, _mm256_set1_epi64x((int64_t)((UINT64_C(1) << s) - 1)));
	__m256i half = _mm256_set1_epi64x((int64_t)(UINT64_C(1) << (s - 1)));
	__m256i odd = _mm256_cmpeq_epi64(_mm256_and_si256(q, one), one);
	__m256i up = _mm256_or_si256(_mm256_cmpgt_epi64(r, half),
				     _mm256_and_si256(_mm256_cmpeq_epi64(r, half), odd));

	return _mm256_sub_epi64(q, up); /* up is -1 where rounding up */
}

static __m256i
res_i16_shift(__m256i v, int32_t dsh)
{
	if (dsh >= 0)
		return _mm256_sll_epi64(v, _mm_cvtsi32_si128(dsh));
	if (dsh < -63)
		return _mm256_setzero_si256();
	return shr_rne(v, -dsh);
}

/* One full block to int16 at a shift d that leaves at most 15 bits (or 2^15 once rounded). */
static void
res_i16_block(const struct ainftp_acc *a, uint32_t b, int32_t dsh, int16_t *out)
{
	const __m256i lim = _mm256_set1_epi32(INT16_MAX), nlim = _mm256_set1_epi32(-INT16_MAX);
	const __m256i low = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
	int g;

	for (g = 0; g < 8; g += 2) {
		/* The results fit in 32 bits: take the low dword of each lane, then clamp. */
		__m256i v0 = _mm256_permutevar8x32_epi32(
			res_i16_shift(load_sum(a, b, 4 * (uint32_t)g), dsh), low);
		__m256i v1 = _mm256_permutevar8x32_epi32(
			res_i16_shift(load_sum(a, b, 4 * (uint32_t)g + 4), dsh), low);
		__m256i v = _mm256_blend_epi32(v0, v1, 0xf0);

		v = _mm256_max_epi32(_mm256_min_epi32(v, lim), nlim);
		_mm_storeu_si128(
			(__m128i *)(out + 4 * g),
			_mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
	}
}

/* Bit length of the largest |acc32| (|INT32_MIN| counts as 2^31). */
static int32_t
narrow_bits(const struct ainftp_acc *a)
{
	__m256i or = _mm256_setzero_si256();
	uint32_t i, u = 0;

	for (i = 0; i + 8 <= a->n; i += 8)
		or = _mm256_or_si256(or, _mm256_abs_epi32(_mm256_loadu_si256(
						 (const __m256i *)(a->acc32 + i))));
	for (; i < a->n; i++)
		u |= a->acc32[i] < 0 ? -(uint32_t)a->acc32[i] : (uint32_t)a->acc32[i];
	or = _mm256_or_si256(or, _mm256_shuffle_epi32(or, 0x4e));
	or = _mm256_or_si256(or, _mm256_shuffle_epi32(or, 0xb1));
	u |= (uint32_t)_mm256_extract_epi32(or, 0) | (uint32_t)_mm256_extract_epi32(or, 4);
	return u ? 32 - __builtin_clz(u) : 0;
}

/* v * 2^-s rounded to nearest even in int32 lanes, 1 <= s <= 31. */
static __m256i
shr_rne32(__m256i v, int32_t s)
{
	const __m256i one = _mm256_set1_epi32(1);
	__m256i q = _mm256_sra_epi32(v, _mm_cvtsi32_si128(s));
	/* r and half are below 2^31: a signed compare is right for them. */
	__m256i r = _mm256_and_si256(v, _mm256_set1_epi32((int32_t)((UINT32_C(1) << s) - 1)));
	__m256i half = _mm256_set1_epi32((int32_t)(UINT32_C(1) << (s - 1)));
	__m256i odd = _mm256_cmpeq_epi32(_mm256_and_si256(q, one), one);
	__m256i up = _mm256_or_si256(_mm256_cmpgt_epi32(r, half),
				     _mm256_and_si256(_mm256_cmpeq_epi32(r, half), odd));

	return _mm256_sub_epi32(q, up); /* up is -1 where rounding up */
}

/*
 * res_i16 while every block is narrow at one exponent (ainftp_res_i16_narrow):
 * int32 lanes, 8 at a time (the tail as C does it), instead of int64 per
 * block. -1: the exponent would clamp at 127, where values saturate.
 */
static int
res_i16_narrow(const struct ainftp_acc *a, int16_t *out, int8_t *eo)
{
	const __m256i lim = _mm256_set1_epi32(INT16_MAX), nlim = _mm256_set1_epi32(-INT16_MAX);
	int32_t bits = narrow_bits(a), k, d;
	uint32_t i;

	if (bits == 0) {
		memset(out, 0, sizeof(*out) * a->n);
		*eo = ainftp_res_i16_exp(AINFTP_EXP_NONE);
		return 0;
	}
	k = bits + a->uni.exp;
	*eo = ainftp_res_i16_exp(k);
	if (k - AINFTP_QBITS_INT16 > *eo)
		return -1;
	d = a->uni.exp - *eo; /* at most 15 - bits */
	for (i = 0; i + 8 <= a->n; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(a->acc32 + i));

		if (d >= 0)
			v = _mm256_sll_epi32(v, _mm_cvtsi32_si128(d));
		else if (d < -31)
			v = _mm256_setzero_si256(); /* |v| * 2^-32 <= 1/2: 0, ties to even */
		else
			v = shr_rne32(v, -d);
		v = _mm256_max_epi32(_mm256_min_epi32(v, lim), nlim);
		_mm_storeu_si128(
			(__m128i *)(out + i),
			_mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
	}
	for (; i < a->n; i++)
		out[i] = ainftp_res_i16_one(a->acc32[i], d);
	return 0;
}

static int8_t
res_i16(const struct ainftp_acc *a, int16_t *out)
{
	uint32_t nb = ainftp_blocks(a->n), nvec = a->n / AINFTP_BLOCK, b, i;
	int32_t k = AINFTP_EXP_NONE;
	int8_t eo;

	if (a->fresh) {
		memset(out, 0, sizeof(*out) * a->n); /* every block empty, acc32 anything */
		return AINFTP_WIRE_EXP_ZERO;
	}
	if (ainftp_res_i16_narrow(a) && res_i16_narrow(a, out, &eo) == 0)
		return eo;
	for (b = 0; b < nb; b++) {
		int32_t bits, exp = ainftp_acc_state(a, b).exp;

		if (exp == AINFTP_EXP_NONE)
			continue;
		bits = block_bits(a, b);
		if (bits && bits + exp > k)
			k = bits + exp;
	}
	eo = ainftp_res_i16_exp(k);
	/* Exponent clamped at 127: values saturate; rare, all scalar. */
	if (k != AINFTP_EXP_NONE && k - AINFTP_QBITS_INT16 > eo)
		nvec = 0;
	for (b = 0; b < nvec; b++) {
		int32_t exp = ainftp_acc_state(a, b).exp;

		/* An empty block holds zeros: any shift gives 0. */
		res_i16_block(a, b, exp == AINFTP_EXP_NONE ? 0 : exp - eo,
			      out + (size_t)b * AINFTP_BLOCK);
	}
	for (i = nvec * AINFTP_BLOCK; i < a->n; i++) {
		int32_t exp = ainftp_acc_state(a, i / AINFTP_BLOCK).exp;

		out[i] = exp == AINFTP_EXP_NONE ? 0
						: ainftp_res_i16_one(ainftp_acc_at(a, i), exp - eo);
	}
	return eo;
}

/* 8 sums at shift d (d <= 7 - their bit length), rounded; packs saturates them later. */
static __m256i
res_i8_8(__m256i v, int32_t d)
{
	if (d >= 0)
		return _mm256_sll_epi32(v, _mm_cvtsi32_si128(d));
	if (d < -31)
		return _mm256_setzero_si256(); /* |v| * 2^-32 <= 1/2: 0, ties to even */
	return shr_rne32(v, -d);
}

/*
 * One narrow block (its sums in acc32 at exp) to int8: the largest |sum|
 * sets the exponent (as the reference's, whose rounding is symmetric), then
 * 8 shifts at a time. false: a short block, or the exponent clamped at 127
 * and values would saturate, which the reference does.
 */
static bool
res_i8_narrow(const struct ainftp_acc *a, uint32_t b, int32_t exp, int8_t *eo, int8_t *q)
{
	const __m256i lim = _mm256_set1_epi32(INT8_MAX), nlim = _mm256_set1_epi32(-INT8_MAX);
	const __m256i *s = (const __m256i *)(a->acc32 + (size_t)b * AINFTP_BLOCK);
	__m256i v[4], m, p01, p23;
	uint32_t top;
	int32_t d;
	int g;

	if (ainftp_block_len(a->n, b) < AINFTP_BLOCK)
		return false; /* a short last block: the reference's, once per result */
	for (g = 0; g < 4; g++)
		v[g] = _mm256_loadu_si256(s + g);
	m = _mm256_max_epu32(_mm256_max_epu32(_mm256_abs_epi32(v[0]), _mm256_abs_epi32(v[1])),
			     _mm256_max_epu32(_mm256_abs_epi32(v[2]), _mm256_abs_epi32(v[3])));
	m = _mm256_max_epu32(m, _mm256_shuffle_epi32(m, 0x4e));
	m = _mm256_max_epu32(m, _mm256_shuffle_epi32(m, 0xb1));
	top = (uint32_t)_mm256_extract_epi32(m, 0);
	top = top > (uint32_t)_mm256_extract_epi32(m, 4) ? top
							 : (uint32_t)_mm256_extract_epi32(m, 4);
	*eo = ainftp_res_i8_exp(top, exp);
	if (top == 0) {
		memset(q, 0, AINFTP_BLOCK);
		return true;
	}
	d = exp - *eo;
	if (d >= 0 && 32 - __builtin_clz(top) + d > AINFTP_QBITS_INT8)
		return false;
	for (g = 0; g < 4; g++)
		v[g] = _mm256_max_epi32(_mm256_min_epi32(res_i8_8(v[g], d), lim), nlim);
	/* Packing interleaves the 128-bit lanes: put the dwords back in order. */
	p01 = _mm256_packs_epi32(v[0], v[1]);
	p23 = _mm256_packs_epi32(v[2], v[3]);
	_mm256_storeu_si256((__m256i *)q,
			    _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23),
							_mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
	return true;
}

/* res_i8: full narrow blocks in int32 lanes, the rest (wide, a short last one) by the reference. */
static void
res_i8(const struct ainftp_acc *a, int8_t *e, int8_t *q)
{
	ainftp_res_i8_blocks(a, e, q, res_i8_narrow);
}

const struct ainftp_quant_ops ainftp_quant_avx2 = {
	.name = "avx2",
	.quant_i16 = quant_i16,
	.quant_i8 = quant_i8,
	.acc_i16 = acc_i16,
	.acc_i8 = acc_i8,
	.acc_f32 = acc_f32,
	.res_f32 = res_f32,
	.res_i16 = res_i16,
	.res_i8 = res_i8,
	.max_abs_bits = max_abs_bits,
};
