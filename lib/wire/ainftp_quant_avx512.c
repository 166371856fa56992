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

/*
 * Loads and stores of the lanes of k, plain where k has every lane (all but a
 * payload's or an array's end). On Zen 4 a masked access costs more than a
 * plain one even with every lane set (int8's first packet of a chunk: 200
 * TSC cycles with masked stores, 157 with plain ones, 1 KB).
 */
INLINE void
store_k32(void *p, __mmask16 k, __m512i v)
{
	if (k == (__mmask16)~0u)
		_mm512_storeu_si512(p, v);
	else
		_mm512_mask_storeu_epi32(p, k, v);
}

INLINE __m512i
load_k32(const void *p, __mmask16 k)
{
	return k == (__mmask16)~0u ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi32(k, p);
}

/* 32 bytes, the lanes of k (the rest zero). */
INLINE __m256i
load_k8(const int8_t *p, __mmask32 k)
{
	return k == ~(__mmask32)0 ? _mm256_loadu_si256((const __m256i *)p)
				  : _mm256_maskz_loadu_epi8(k, p);
}

/*
 * Element i of float32s at x, which need not be float-aligned (a payload in a
 * frame): float32 is read here only through unaligned vector loads, so the
 * address is kept as bytes, never as a misaligned float pointer.
 */
static inline const void *
f32_at(const void *x, size_t i)
{
	return (const char *)x + i * sizeof(float);
}

static uint32_t
max_abs_bits(const void *x, uint32_t n)
{
	const __m512i abs = _mm512_set1_epi32(0x7fffffff);
	__m512i m = _mm512_setzero_si512();
	uint32_t i;

	for (i = 0; i + 16 <= n; i += 16)
		m = _mm512_max_epu32(m, _mm512_and_si512(_mm512_loadu_si512(f32_at(x, i)), abs));
	if (i < n) {
		__m512i v =
			_mm512_maskz_loadu_epi32((__mmask16)((1u << (n - i)) - 1), f32_at(x, i));

		m = _mm512_max_epu32(m, _mm512_and_si512(v, abs));
	}
	return _mm512_reduce_max_epu32(m);
}

/* max_abs_bits of float-aligned floats (ainftp_quant_ops.max_abs_bits). */
static uint32_t
max_abs_f32(const float *x, uint32_t n)
{
	return max_abs_bits(x, n);
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
 * full and known are constants at each call site; known: c is not zero and
 * uni is gone (float32's blocks).
 */
INLINE void
add_block_as(struct ainftp_acc *a, uint32_t b, const __m512i c[2], __mmask32 k, bool full,
	     int32_t e, int w, bool known)
{
	size_t off = (size_t)b * AINFTP_BLOCK;
	__m512i any = _mm512_or_si512(c[0], c[1]);
	int32_t ash = 0, csh = 0;
	int how;

	if (!known) {
		if (!_mm512_test_epi32_mask(any, any))
			return; /* zeros change nothing, not even mag */
		ainftp_acc_uni_off(a);
	}
	how = ainftp_acc_quick(a, b, e, w, &csh);
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

INLINE void
add_block(struct ainftp_acc *a, uint32_t b, const __m512i c[2], __mmask32 k, bool full, int32_t e,
	  int w)
{
	add_block_as(a, b, c, k, full, e, w, false);
}

/* 32 int16 as two vectors of int32. */
INLINE void
widen_i16(__m512i v, __m512i c[2])
{
	c[0] = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(v));
	c[1] = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(v, 1));
}

/* What uni_add does with acc32: add, shift and add, or store (a fresh acc32). */
enum uni_op { UNI_ADD, UNI_SHL, UNI_STORE };

/*
 * acc32 = acc32 * 2^ash + q * 2^csh over the whole payload, a block (32
 * elements) at a time, for ainftp_acc_uni_after: returns how many blocks of
 * q are not zero (the test rides on the loads). op and shift_c (csh != 0)
 * are constants at each call site: UNI_ADD without shift_c is the plain
 * widening sum.
 */
INLINE uint32_t
uni_add(int32_t *d, const int16_t *q, uint32_t n, int32_t ash, int32_t csh, enum uni_op op,
	bool shift_c)
{
	__m128i as = _mm_cvtsi32_si128(ash), cs = _mm_cvtsi32_si128(csh);
	uint32_t i, nz = 0;
	__m512i c[2];

	for (i = 0; i + 32 <= n; i += 32) {
		__m512i v = _mm512_loadu_si512(q + i), d0, d1;

		nz += _mm512_test_epi16_mask(v, v) != 0;
		widen_i16(v, c);
		if (op == UNI_STORE) {
			/* ash = csh = 0: exp is this packet's. */
			_mm512_storeu_si512(d + i, c[0]);
			_mm512_storeu_si512(d + i + 16, c[1]);
			continue;
		}
		d0 = _mm512_loadu_si512(d + i);
		d1 = _mm512_loadu_si512(d + i + 16);
		if (op == UNI_SHL) {
			d0 = _mm512_sll_epi32(d0, as);
			d1 = _mm512_sll_epi32(d1, as);
		}
		if (shift_c) {
			c[0] = _mm512_sll_epi32(c[0], cs);
			c[1] = _mm512_sll_epi32(c[1], cs);
		}
		_mm512_storeu_si512(d + i, _mm512_add_epi32(d0, c[0]));
		_mm512_storeu_si512(d + i + 16, _mm512_add_epi32(d1, c[1]));
	}
	if (i < n) {
		__mmask32 k = block_mask(n - i);
		__m512i v = _mm512_maskz_loadu_epi16(k, q + i);

		nz += _mm512_test_epi16_mask(v, v) != 0;
		widen_i16(v, c);
		if (op == UNI_STORE) {
			_mm512_mask_storeu_epi32(d + i, (__mmask16)k, c[0]);
			_mm512_mask_storeu_epi32(d + i + 16, (__mmask16)(k >> 16), c[1]);
		} else {
			add32(d + i, c, k, false, ash, csh);
		}
	}
	return nz;
}

/* An int16 packet when uni's quick check fails: exp or emax change, or block by block. */
static __attribute__((noinline)) void
acc_i16_slow(struct ainftp_acc *a, const int16_t *q, int8_t e)
{
	uint32_t nb = ainftp_blocks(a->n), full = a->n / AINFTP_BLOCK, b;
	struct ainftp_acc_block next;
	int32_t ash, csh;
	__m512i c[2];

	if (ainftp_acc_uni_plan(a, e, AINFTP_QBITS_INT16, &next, &ash, &csh)) {
		uint32_t nz = a->fresh ? uni_add(a->acc32, q, a->n, 0, 0, UNI_STORE, false)
			      : csh    ? uni_add(a->acc32, q, a->n, ash, csh, UNI_SHL, true)
				       : uni_add(a->acc32, q, a->n, ash, 0, UNI_SHL, false);

		if (nz)
			a->fresh = false; /* zeros stored where anything was: still fresh */
		ainftp_acc_uni_after(a, &next, ash, nz, q);
		return;
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
acc_i16(struct ainftp_acc *a, const int16_t *q, int8_t e)
{
	struct ainftp_acc_block next;
	int32_t csh = ainftp_acc_uni_quick(a, e, AINFTP_QBITS_INT16, &next);

	/* The common case: one check for the packet, then the plain widening sum. */
	if (__builtin_expect(csh > 0, 1))
		ainftp_acc_uni_after(a, &next, 0, uni_add(a->acc32, q, a->n, 0, csh, UNI_ADD, true),
				     q);
	else if (csh == 0)
		ainftp_acc_uni_after(a, &next, 0, uni_add(a->acc32, q, a->n, 0, 0, UNI_ADD, false),
				     q);
	else
		acc_i16_slow(a, q, e);
}

/*
 * The narrow rule (ainftp_acc_quick, and ainftp_acc_step's narrow_next) for
 * cnt (1..16) full int8 blocks from b0 at once, on the state arrays: fit has
 * the blocks it takes as acc32 = acc32 * 2^ash + c * 2^csh (those past 31
 * bits, or wide, are not in it), and when their c is not zero, their state
 * becomes lo, hi and mag * 2^ash + add.
 */
struct i8_plan {
	__m512i lo, hi, ash, csh, add, mag, elo;
	__mmask16 fit, shl; /* shl: ash != 0 */
};

INLINE struct i8_plan
i8_plan(const struct ainftp_acc *a, const int8_t *e, uint32_t b0, uint32_t cnt)
{
	const __m512i w = _mm512_set1_epi32(AINFTP_QBITS_INT8);
	const __m512i most = _mm512_set1_epi32(AINFTP_NARROW_BITS);
	__mmask16 km = (__mmask16)((UINT32_C(1) << cnt) - 1), empty;
	__m512i ev = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(km, e + b0));
	__m512i exp = _mm512_maskz_loadu_epi32(km, a->exp + b0);
	__m512i emax = _mm512_maskz_loadu_epi32(km, a->emax + b0);
	struct i8_plan p;

	p.mag = _mm512_maskz_loadu_epi32(km, a->mag + b0);
	/* An empty block starts at e less its room; its mag is 0. */
	empty = _mm512_cmpeq_epi32_mask(exp, _mm512_set1_epi32(AINFTP_EXP_NONE));
	p.lo = _mm512_mask_min_epi32(_mm512_sub_epi32(ev, _mm512_set1_epi32(AINFTP_I8_ROOM)),
				     (__mmask16)~empty, ev, exp);
	p.hi = _mm512_mask_max_epi32(ev, (__mmask16)~empty, ev, emax);
	p.elo = _mm512_mask_min_epi32(ev, (__mmask16)~empty, ev,
				      _mm512_maskz_loadu_epi32(km, a->elo + b0));
	p.ash = _mm512_maskz_sub_epi32((__mmask16)~empty, exp, p.lo);
	p.csh = _mm512_sub_epi32(ev, p.lo);
	p.add = _mm512_sllv_epi32(_mm512_set1_epi32(1), _mm512_add_epi32(p.csh, w));
	/* Narrow, shifts in range, and (mag << ash) + add <= INT32_MAX. */
	p.fit = _mm512_mask_cmpneq_epu32_mask(km, p.mag, _mm512_set1_epi32((int)AINFTP_MAG_WIDE));
	p.fit = _mm512_mask_cmple_epi32_mask(p.fit, p.ash, most);
	p.fit = _mm512_mask_cmple_epi32_mask(p.fit, _mm512_add_epi32(p.csh, w), most);
	p.fit = _mm512_mask_cmple_epu32_mask(
		p.fit, p.mag,
		_mm512_srlv_epi32(_mm512_sub_epi32(_mm512_set1_epi32(INT32_MAX), p.add), p.ash));
	p.shl = _mm512_test_epi32_mask(p.ash, p.ash);
	return p;
}

/* The new state of the blocks of p.fit whose c was not zero (nz). */
INLINE void
i8_settle(struct ainftp_acc *a, uint32_t b0, const struct i8_plan *p, __mmask16 nz)
{
	__mmask16 k = p->fit & nz;

	_mm512_mask_storeu_epi32(a->exp + b0, k, p->lo);
	_mm512_mask_storeu_epi32(a->emax + b0, k, p->hi);
	_mm512_mask_storeu_epi32(a->elo + b0, k, p->elo);
	_mm512_mask_storeu_epi32(a->mag + b0, k,
				 _mm512_add_epi32(_mm512_sllv_epi32(p->mag, p->ash), p->add));
}

/*
 * acc32 = acc32 * 2^as[i] + c * 2^cs[i] for blocks i < cnt from d, q:
 * shift_acc and shift_c are constants at each call site (without either,
 * the plain widening sum). A zero block must not shift: its sum shifts by 0.
 * Returns which blocks of q are not zero.
 */
INLINE uint32_t
i8_loop(int32_t *d, const int8_t *qb, const int32_t *as, const int32_t *cs, uint32_t cnt,
	bool shift_acc, bool shift_c)
{
	uint32_t i, nz = 0;

	for (i = 0; i < cnt; i++, d += AINFTP_BLOCK, qb += AINFTP_BLOCK) {
		__m256i v = _mm256_loadu_si256((const __m256i *)qb);
		__m512i c0 = _mm512_cvtepi8_epi32(_mm256_castsi256_si128(v));
		__m512i c1 = _mm512_cvtepi8_epi32(_mm256_extracti128_si256(v, 1));
		__m512i d0 = _mm512_loadu_si512(d), d1 = _mm512_loadu_si512(d + 16);
		uint32_t any = !_mm256_testz_si256(v, v);

		nz |= any << i;
		if (shift_acc) {
			__m512i av = _mm512_set1_epi32(as[i] & -(int32_t)any);

			d0 = _mm512_sllv_epi32(d0, av);
			d1 = _mm512_sllv_epi32(d1, av);
		}
		if (shift_c) {
			__m512i cv = _mm512_set1_epi32(cs[i]);

			c0 = _mm512_sllv_epi32(c0, cv);
			c1 = _mm512_sllv_epi32(c1, cv);
		}
		_mm512_storeu_si512(d, _mm512_add_epi32(d0, c0));
		_mm512_storeu_si512(d + 16, _mm512_add_epi32(d1, c1));
	}
	return nz;
}

/* Blocks b0.. (cnt of them) when some are not in ainftp_acc_quick's case: apart, so rarer. */
static __attribute__((noinline)) void
i8_group(struct ainftp_acc *a, const int8_t *e, const int8_t *q, uint32_t b0, uint32_t cnt)
{
	struct i8_plan p = i8_plan(a, e, b0, cnt);
	int32_t *d = a->acc32 + (size_t)b0 * AINFTP_BLOCK, as[16], cs[16];
	const int8_t *qb = q + (size_t)b0 * AINFTP_BLOCK;
	__mmask16 nz = 0;
	uint32_t i;

	/* Vector stores, then scalar reads of their lanes: no vector shuffles per block. */
	_mm512_storeu_si512(as, p.ash);
	_mm512_storeu_si512(cs, p.csh);
	if (p.fit == (__mmask16)((UINT32_C(1) << cnt) - 1)) {
		/* Every block in the plan: a loop without a branch per block. */
		bool sc = _mm512_test_epi32_mask(p.csh, p.csh) != 0;

		if (p.shl)
			nz = (__mmask16)(sc ? i8_loop(d, qb, as, cs, cnt, true, true)
					    : i8_loop(d, qb, as, cs, cnt, true, false));
		else
			nz = (__mmask16)(sc ? i8_loop(d, qb, as, cs, cnt, false, true)
					    : i8_loop(d, qb, as, cs, cnt, false, false));
		i8_settle(a, b0, &p, nz);
		return;
	}
	for (i = 0; i < cnt; i++, d += AINFTP_BLOCK, qb += AINFTP_BLOCK) {
		__m256i v = _mm256_loadu_si256((const __m256i *)qb);
		__m512i c[2] = {_mm512_cvtepi8_epi32(_mm256_castsi256_si128(v)),
				_mm512_cvtepi8_epi32(_mm256_extracti128_si256(v, 1))};
		int32_t any = !_mm256_testz_si256(v, v);
		__m512i av, cv;

		if (!(p.fit >> i & 1)) {
			add_block(a, b0 + i, c, ~(__mmask32)0, true, e[b0 + i], AINFTP_QBITS_INT8);
			continue;
		}
		/* A zero block changes nothing, not even a shift: its sum shifts by 0. */
		nz |= (__mmask16)(any << i);
		av = _mm512_set1_epi32(as[i] & -any);
		cv = _mm512_set1_epi32(cs[i]);
		_mm512_storeu_si512(d,
				    _mm512_add_epi32(_mm512_sllv_epi32(_mm512_loadu_si512(d), av),
						     _mm512_sllv_epi32(c[0], cv)));
		_mm512_storeu_si512(
			d + 16, _mm512_add_epi32(_mm512_sllv_epi32(_mm512_loadu_si512(d + 16), av),
						 _mm512_sllv_epi32(c[1], cv)));
	}
	i8_settle(a, b0, &p, nz);
}

/*
 * The first int8 packet after a reset (a fresh acc32, every block empty):
 * each block's sum is its contribution at its room (AINFTP_I8_ROOM), so
 * store that, zeros included (an empty block's sum is 0), and where it is not
 * all zero the block's state is exp = e - room, emax = e, mag 2^(7 + room).
 * Nothing to read or zero first.
 */
static __attribute__((noinline)) void
i8_first(struct ainftp_acc *a, const int8_t *e, const int8_t *q)
{
	uint32_t nb = ainftp_blocks(a->n), b0, i;

	for (b0 = 0; b0 < nb; b0 += 16) {
		uint32_t cnt = nb - b0 < 16 ? nb - b0 : 16;
		__mmask16 km = (__mmask16)((UINT32_C(1) << cnt) - 1), nz = 0;
		__m512i ev = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(km, e + b0));

		for (i = 0; i < cnt; i++) {
			uint32_t b = b0 + i;
			__mmask32 k = block_mask(ainftp_block_len(a->n, b));
			__m256i v = load_k8(q + (size_t)b * AINFTP_BLOCK, k);
			int32_t *d = a->acc32 + (size_t)b * AINFTP_BLOCK;

			nz |= (__mmask16)((uint32_t)!_mm256_testz_si256(v, v) << i);
			store_k32(d, (__mmask16)k,
				  _mm512_slli_epi32(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(v)),
						    AINFTP_I8_ROOM));
			store_k32(d + 16, (__mmask16)(k >> 16),
				  _mm512_slli_epi32(
					  _mm512_cvtepi8_epi32(_mm256_extracti128_si256(v, 1)),
					  AINFTP_I8_ROOM));
		}
		ev = _mm512_mask_mov_epi32(_mm512_set1_epi32(AINFTP_EXP_NONE), nz, ev);
		store_k32(a->exp + b0, km,
			  _mm512_mask_sub_epi32(ev, nz, ev, _mm512_set1_epi32(AINFTP_I8_ROOM)));
		store_k32(a->emax + b0, km, ev);
		store_k32(a->elo + b0, km, ev);
		store_k32(a->mag + b0, km,
			  _mm512_maskz_mov_epi32(nz, _mm512_set1_epi32(1 << (AINFTP_QBITS_INT8 +
									     AINFTP_I8_ROOM))));
	}
	a->uni.mag = AINFTP_MAG_WIDE; /* uni goes, as ainftp_acc_uni_drop */
	a->uni.exp = a->uni.emax = AINFTP_EXP_NONE;
	a->fresh = false;
}

/*
 * Blocks b0.. (cnt of them), or false when i8_group must take them: the
 * common case, every block narrow and not empty, e at or above its exp (its
 * room: AINFTP_I8_ROOM), with room in mag, so nothing but the widening sum,
 * each block's contribution shifted by its csh. That is ainftp_acc_quick's
 * case, and also e above emax, which the scalar rule leaves to narrow_next:
 * with exp unchanged (ash = 0) it gives the same state, emax = e. A zero
 * block adds zeros; it just must not count.
 */
INLINE bool
i8_fast(struct ainftp_acc *a, const int8_t *e, const int8_t *q, uint32_t b0, uint32_t cnt)
{
	__mmask16 km = (__mmask16)((UINT32_C(1) << cnt) - 1), fit, up;
	__m512i ev = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(km, e + b0));
	__m512i exp = _mm512_maskz_loadu_epi32(km, a->exp + b0);
	__m512i mag = _mm512_maskz_loadu_epi32(km, a->mag + b0);
	__m512i emax = _mm512_maskz_loadu_epi32(km, a->emax + b0);
	__m512i csh = _mm512_sub_epi32(ev, exp); /* garbage where empty: not taken */
	__m512i wcs = _mm512_add_epi32(csh, _mm512_set1_epi32(AINFTP_QBITS_INT8));
	__m512i add = _mm512_sllv_epi32(_mm512_set1_epi32(1), wcs);
	/* Locals: the stores below may alias *a, so a->acc32 would be read again each time. */
	int32_t *d = a->acc32 + (size_t)b0 * AINFTP_BLOCK, sh[16];
	const int8_t *qb = q + (size_t)b0 * AINFTP_BLOCK;
	uint32_t nz;

	fit = _mm512_mask_cmpneq_epi32_mask(km, exp, _mm512_set1_epi32(AINFTP_EXP_NONE));
	fit = _mm512_mask_cmpge_epi32_mask(fit, ev, exp);
	fit = _mm512_mask_cmple_epi32_mask(fit, wcs, _mm512_set1_epi32(AINFTP_NARROW_BITS));
	/* Room in mag; a wide block's AINFTP_MAG_WIDE never has it. */
	fit = _mm512_mask_cmple_epu32_mask(fit, mag,
					   _mm512_sub_epi32(_mm512_set1_epi32(INT32_MAX), add));
	if (fit != km)
		return false;
	/* A vector store, then scalar reads of its lanes: from the store, no vector shuffles. */
	_mm512_storeu_si512(sh, csh);
	if (_mm512_test_epi32_mask(csh, csh) == 0)
		nz = i8_loop(d, qb, NULL, sh, cnt, false, false); /* every e at its block's exp */
	else
		nz = i8_loop(d, qb, NULL, sh, cnt, false, true);
	_mm512_mask_storeu_epi32(a->mag + b0, (__mmask16)nz, _mm512_add_epi32(mag, add));
	up = _mm512_mask_cmpgt_epi32_mask((__mmask16)nz, ev, emax);
	if (up) /* rarer than not: a masked store only then */
		_mm512_mask_storeu_epi32(a->emax + b0, up, ev);
	_mm512_mask_storeu_epi32(a->elo + b0, (__mmask16)nz,
				 _mm512_min_epi32(ev, _mm512_maskz_loadu_epi32(km, a->elo + b0)));
	return true;
}

/* Whether n bytes are all zero. */
static bool
all_zero(const int8_t *q, uint32_t n)
{
	__m512i or = _mm512_setzero_si512();
	uint32_t i;

	for (i = 0; i + 64 <= n; i += 64)
		or = _mm512_or_si512(or, _mm512_loadu_si512(q + i));
	if (i < n)
		or = _mm512_or_si512(or, _mm512_maskz_loadu_epi8(
						 (__mmask64)(UINT64_MAX >> (64 - (n - i))), q + i));
	return !_mm512_test_epi8_mask(or, or);
}

/* The last block, shorter than 32: add_block. */
static __attribute__((noinline)) void
i8_tail(struct ainftp_acc *a, const int8_t *e, const int8_t *q, uint32_t b)
{
	__mmask32 k = block_mask(ainftp_block_len(a->n, b));
	__m256i v = _mm256_maskz_loadu_epi8(k, q + (size_t)b * AINFTP_BLOCK);
	__m512i c[2] = {_mm512_cvtepi8_epi32(_mm256_castsi256_si128(v)),
			_mm512_cvtepi8_epi32(_mm256_extracti128_si256(v, 1))};

	add_block(a, b, c, k, false, e[b], AINFTP_QBITS_INT8);
}

static void
acc_i8(struct ainftp_acc *a, const int8_t *e, const int8_t *q)
{
	uint32_t full = a->n / AINFTP_BLOCK, b, cnt;
	bool fast;

	/* Blocks on their own, as add_block would make them at the first non-zero one. */
	if (a->uni.mag != AINFTP_MAG_WIDE) {
		if (all_zero(q, a->n))
			return;
		if (a->fresh) {
			i8_first(a, e, q);
			return;
		}
		ainftp_acc_uni_drop(a);
	}
	/*
	 * A packet whose first group is not in the quick case rarely has a later
	 * one that is (a worker's scale moves its every block's exponent alike):
	 * the rest go straight to i8_group, without the quick check's loads.
	 */
	for (b = 0, fast = true; b < full; b += cnt) {
		cnt = full - b < 16 ? full - b : 16;
		if (!fast || !i8_fast(a, e, q, b, cnt)) {
			fast = false;
			i8_group(a, e, q, b, cnt);
		}
	}
	if (full < ainftp_blocks(a->n))
		i8_tail(a, e, q, full);
}

/*
 * float32: each block converts at its own exponent, 31 bits below its
 * largest |x|, and adds into int64 sums. A packet is read twice: a first
 * pass finds every block's largest |x| (rejecting NaN and infinity before
 * anything changes), the second converts and adds, 16 blocks' exponent
 * bookkeeping at a time where ainftp_acc_quick and _prep would take one.
 */
#define F32_MAX_CACHED 128 /* blocks whose maxima the first pass keeps (4096 floats) */

/* |x| bits of block b's first (h = 0) or second half, lanes past n zero. */
INLINE __m512i
f32_abs_half(const void *x, uint32_t n, uint32_t b, int h)
{
	__mmask32 k = block_mask(ainftp_block_len(n, b));

	return _mm512_and_si512(load_k32(f32_at(x, (size_t)b * AINFTP_BLOCK + 16 * (size_t)h),
					 (__mmask16)(k >> (16 * h))),
				_mm512_set1_epi32(0x7fffffff));
}

/*
 * The largest |x| bits of blocks b0.. (cnt, 1..16), lane i for block b0 + i
 * and zero past cnt: one reduction for 16 blocks (about 3 operations a
 * block, where a block's own costs 8). Stage by stage, a vector holds 2, 4,
 * 8, then 16 blocks' candidates, halving each block's.
 */
INLINE __m512i
f32_group_max(const void *x, uint32_t n, uint32_t b0, uint32_t cnt)
{
	const __m512i order =
		_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
	__m512i v[16], w[8], y[4], z[2], r;
	uint32_t i;

	UNROLL
	for (i = 0; i < 16; i++)
		v[i] = i < cnt ? _mm512_max_epu32(f32_abs_half(x, n, b0 + i, 0),
						  f32_abs_half(x, n, b0 + i, 1))
			       : _mm512_setzero_si512();
	/* w[i]: block 2i in 128-bit lanes 0-1, block 2i + 1 in lanes 2-3. */
	UNROLL
	for (i = 0; i < 8; i++)
		w[i] = 2 * i < cnt ? _mm512_max_epu32(
					     _mm512_shuffle_i32x4(v[2 * i], v[2 * i + 1], 0x44),
					     _mm512_shuffle_i32x4(v[2 * i], v[2 * i + 1], 0xee))
				   : _mm512_setzero_si512();
	/* y[i]: block 4i + k in 128-bit lane k. */
	UNROLL
	for (i = 0; i < 4; i++)
		y[i] = 4 * i < cnt ? _mm512_max_epu32(
					     _mm512_shuffle_i32x4(w[2 * i], w[2 * i + 1], 0x88),
					     _mm512_shuffle_i32x4(w[2 * i], w[2 * i + 1], 0xdd))
				   : _mm512_setzero_si512();
	/* z[i]: in 128-bit lane k, block 8i + k in dwords 0-1, block 8i + 4 + k in 2-3. */
	UNROLL
	for (i = 0; i < 2; i++)
		z[i] = 8 * i < cnt ? _mm512_max_epu32(_mm512_unpacklo_epi64(y[2 * i], y[2 * i + 1]),
						      _mm512_unpackhi_epi64(y[2 * i], y[2 * i + 1]))
				   : _mm512_setzero_si512();
	/* Dword j of 128-bit lane k: block k + 4j. */
	r = _mm512_max_epu32(_mm512_castps_si512(_mm512_shuffle_ps(
				     _mm512_castsi512_ps(z[0]), _mm512_castsi512_ps(z[1]), 0x88)),
			     _mm512_castps_si512(_mm512_shuffle_ps(
				     _mm512_castsi512_ps(z[0]), _mm512_castsi512_ps(z[1]), 0xdd)));
	return _mm512_permutexvar_epi32(order, r);
}

/* The lanes k of one float32 block times 2^p, to 32-bit integers. */
INLINE void
f32_conv(const void *x, __mmask32 k, __m512 p, __m512i c[2])
{
	c[0] = _mm512_cvtps_epi32(
		_mm512_scalef_ps(_mm512_castsi512_ps(load_k32(x, (__mmask16)k)), p));
	c[1] = _mm512_cvtps_epi32(_mm512_scalef_ps(
		_mm512_castsi512_ps(load_k32(f32_at(x, 16), (__mmask16)(k >> 16))), p));
}

/*
 * One float32 block to 32-bit integers at its own exponent e, given its
 * largest |x| bits mb (not zero): x * 2^-e is exact and below 2^31 in
 * magnitude (e is mb's frexp exponent less 31), so the conversion neither
 * rounds anything but what lies below 1/2 nor needs a clamp.
 */
INLINE int32_t
f32_block(const void *x, __mmask32 k, uint32_t mb, __m512i c[2])
{
	int32_t e = ainftp_frexp_bits(mb) - AINFTP_QBITS_FLOAT32;

	f32_conv(x, k, _mm512_set1_ps((float)-e), c);
	return e;
}

/*
 * The first float32 packet after a reset (a fresh acc32, every block empty):
 * a block that is not zero goes wide at once, its sum the contribution
 * (acc32 zeroed as ainftp_acc_uni_drop would have), a zero one stays empty
 * with a zero acc32. Nothing to read or add, no acc32 to copy over.
 */
static __attribute__((noinline)) void
f32_first(struct ainftp_acc *a, const void *x, const uint32_t *mb)
{
	uint32_t b, g;

	for (b = 0; b < ainftp_blocks(a->n); b++) {
		uint32_t len = ainftp_block_len(a->n, b);
		__mmask32 k = block_mask(len);
		int64_t *d = a->acc + (size_t)b * AINFTP_BLOCK;
		__m512i c[2];
		int32_t e;

		store_k32(a->acc32 + (size_t)b * AINFTP_BLOCK, (__mmask16)k,
			  _mm512_setzero_si512());
		store_k32(a->acc32 + (size_t)b * AINFTP_BLOCK + 16, (__mmask16)(k >> 16),
			  _mm512_setzero_si512());
		if (mb[b] == 0) {
			a->exp[b] = a->emax[b] = AINFTP_EXP_NONE;
			a->mag[b] = 0;
			continue;
		}
		e = f32_block(f32_at(x, (size_t)b * AINFTP_BLOCK), k, mb[b], c);
		a->exp[b] = a->emax[b] = e;
		a->mag[b] = AINFTP_MAG_WIDE;
		UNROLL
		for (g = 0; g < 4; g++) {
			__m256i half = g % 2 ? _mm512_extracti64x4_epi64(c[g / 2], 1)
					     : _mm512_castsi512_si256(c[g / 2]);
			__m512i v = _mm512_cvtepi32_epi64(half);

			if (len == AINFTP_BLOCK)
				_mm512_storeu_si512(d + 8 * g, v);
			else
				_mm512_mask_storeu_epi64(d + 8 * g, (__mmask8)(k >> (8 * g)), v);
		}
	}
	a->uni.mag = AINFTP_MAG_WIDE; /* uni goes, as ainftp_acc_uni_drop */
	a->uni.exp = a->uni.emax = AINFTP_EXP_NONE;
	a->fresh = false;
}

/*
 * Blocks b0.. (cnt, 1..16) with maxima m, when every one that is not zero is
 * wide and stays within the span (ainftp_acc_prep's case without overflow,
 * ainftp_acc_quick's included): its exp falls to lo = min(e, exp), emax
 * rises to max(e, emax), and acc = acc * 2^(exp - lo) + c * 2^(e - lo).
 * false, with nothing changed, when some block is not in that case (narrow,
 * empty, past the span, or a subnormal maximum).
 */
static bool
f32_fast(struct ainftp_acc *a, const void *x, __m512i m, uint32_t b0, uint32_t cnt)
{
	__mmask16 km = (__mmask16)((UINT32_C(1) << cnt) - 1), nz, ok;
	__m512i bexp = _mm512_srli_epi32(m, 23);
	/* frexp(max) - 31 for a normal maximum: its biased exponent less 157. */
	__m512i e = _mm512_sub_epi32(bexp, _mm512_set1_epi32(157));
	__m512i exp = _mm512_maskz_loadu_epi32(km, a->exp + b0);
	__m512i emax = _mm512_maskz_loadu_epi32(km, a->emax + b0);
	__m512i mag = _mm512_maskz_loadu_epi32(km, a->mag + b0);
	__m512i lo = _mm512_min_epi32(e, exp), hi = _mm512_max_epi32(e, emax);
	int32_t as[16], cs[16];
	float ps[16];
	uint32_t full = a->n / AINFTP_BLOCK, i;

	nz = _mm512_mask_test_epi32_mask(km, m, m);
	ok = _mm512_mask_test_epi32_mask(nz, bexp, bexp);
	ok = _mm512_mask_cmpeq_epi32_mask(ok, mag, _mm512_set1_epi32((int)AINFTP_MAG_WIDE));
	ok = _mm512_mask_cmpneq_epi32_mask(ok, exp, _mm512_set1_epi32(AINFTP_EXP_NONE));
	ok = _mm512_mask_cmple_epi32_mask(ok, _mm512_sub_epi32(hi, lo),
					  _mm512_set1_epi32(ainftp_span(AINFTP_QBITS_FLOAT32)));
	if (ok != nz)
		return false;
	_mm512_mask_storeu_epi32(a->exp + b0, nz, lo);
	_mm512_mask_storeu_epi32(a->emax + b0, nz, hi);
	_mm512_storeu_si512(as, _mm512_sub_epi32(exp, lo));
	_mm512_storeu_si512(cs, _mm512_sub_epi32(e, lo));
	_mm512_storeu_ps(ps, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_setzero_si512(), e)));
	for (i = 0; i < cnt; i++) {
		uint32_t b = b0 + i;
		const void *xb = f32_at(x, (size_t)b * AINFTP_BLOCK);
		__m512 p = _mm512_set1_ps(ps[i]);
		__m512i c[2];

		if (!(nz >> i & 1))
			continue;
		/* The mask a constant in each branch: a full block's accesses unmasked, untested.
		 */
		if (b < full) {
			f32_conv(xb, ~(__mmask32)0, p, c);
			add64(a->acc + (size_t)b * AINFTP_BLOCK, c, ~(__mmask32)0, true, as[i],
			      cs[i]);
		} else {
			__mmask32 k = block_mask(ainftp_block_len(a->n, b));

			f32_conv(xb, k, p, c);
			add64(a->acc + (size_t)b * AINFTP_BLOCK, c, k, false, as[i], cs[i]);
		}
	}
	return true;
}

/* Blocks b0.. (cnt) one at a time, by ainftp_acc_quick and _step: the rarer case. */
static __attribute__((noinline)) void
f32_group(struct ainftp_acc *a, const void *x, const uint32_t *mb, uint32_t b0, uint32_t cnt)
{
	uint32_t b;

	for (b = b0; b < b0 + cnt; b++) {
		__mmask32 k = block_mask(ainftp_block_len(a->n, b));
		bool full = k == ~(__mmask32)0;
		__m512i c[2];
		int32_t e;

		if (mb[b - b0] == 0)
			continue;
		e = f32_block(f32_at(x, (size_t)b * AINFTP_BLOCK), k, mb[b - b0], c);
		if (full)
			add_block_as(a, b, c, k, true, e, AINFTP_QBITS_FLOAT32, true);
		else
			add_block_as(a, b, c, k, false, e, AINFTP_QBITS_FLOAT32, true);
	}
}

/*
 * The first pass: every block's largest |x| bits into mb (as far as
 * F32_MAX_CACHED blocks; past that, only checked). false on a NaN or an
 * infinity; *all_zero when every value is zero.
 */
static bool
f32_maxima(const void *x, uint32_t n, uint32_t *mb, bool *all_zero)
{
	const __m512i inf = _mm512_set1_epi32((int)AINFTP_F32_ABS_INF);
	uint32_t nb = ainftp_blocks(n), b0, cnt;
	__mmask16 bad = 0, any = 0;

	for (b0 = 0; b0 < nb; b0 += cnt) {
		__m512i m;

		cnt = nb - b0 < 16 ? nb - b0 : 16;
		m = f32_group_max(x, n, b0, cnt);
		bad |= _mm512_cmpge_epu32_mask(m, inf);
		any |= _mm512_test_epi32_mask(m, m);
		if (b0 < F32_MAX_CACHED)
			_mm512_storeu_si512(mb + b0, m);
	}
	*all_zero = any == 0;
	return bad == 0;
}

/* acc_f32 of float32s at any alignment (ainftp_quant_ops.acc_f32_any). */
static int
acc_f32_any(struct ainftp_acc *a, const void *x)
{
	uint32_t nb = ainftp_blocks(a->n), b0, cnt;
	/* 16 past the cache: a group's store there, from the first pass. */
	uint32_t mb[F32_MAX_CACHED + 16] __attribute__((aligned(64)));
	const uint32_t *gm;
	uint32_t more[16];
	bool zero;

	if (!f32_maxima(x, a->n, mb, &zero))
		return -1;
	if (zero)
		return 0; /* zeros change nothing */
	if (a->fresh && nb <= F32_MAX_CACHED) {
		f32_first(a, x, mb);
		return 0;
	}
	/* A longer fresh one goes the general way: uni_off zeroes acc32 and ends fresh. */
	ainftp_acc_uni_off(a);
	for (b0 = 0; b0 < nb; b0 += cnt) {
		__m512i m;

		cnt = nb - b0 < 16 ? nb - b0 : 16;
		if (b0 < F32_MAX_CACHED) {
			gm = mb + b0;
			m = _mm512_loadu_si512(gm);
		} else {
			m = f32_group_max(x, a->n, b0, cnt);
			_mm512_storeu_si512(more, m);
			gm = more;
		}
		if (!f32_fast(a, x, m, b0, cnt))
			f32_group(a, x, gm, b0, cnt);
	}
	return 0;
}

static int
acc_f32(struct ainftp_acc *a, const float *x)
{
	return acc_f32_any(a, x);
}

/* Group g (8 elements) of block b's sums as int64, from acc32 while the block is narrow. */
static __m512i
load_sum(const struct ainftp_acc *a, uint32_t b, int g, __mmask8 kg)
{
	size_t off = (size_t)b * AINFTP_BLOCK + 8 * (size_t)g;

	if (!ainftp_acc_wide(a, b))
		return _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(kg, a->acc32 + off));
	return _mm512_maskz_loadu_epi64(kg, a->acc + off);
}

/* ainftp_res_f32_narrow: acc32 to float and times 2^e, 16 at a time. */
static void
res_f32_narrow(const struct ainftp_acc *a, float *out)
{
	const __m512 p = _mm512_set1_ps(ainftp_pow2f(a->uni.exp));
	uint32_t i;

	for (i = 0; i + 16 <= a->n; i += 16)
		_mm512_storeu_ps(
			out + i,
			_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(a->acc32 + i)), p));
	if (i < a->n) {
		__mmask16 k = (__mmask16)((1u << (a->n - i)) - 1);

		_mm512_mask_storeu_ps(
			out + i, k,
			_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, a->acc32 + i)),
				      p));
	}
}

/*
 * One narrow block as res_f32_narrow does a whole accumulator, when its
 * exponent allows (ainftp_res_f32_block_narrow): the same floats as through
 * int64 and double, 16 at a time rather than 8. For int8, whose blocks have
 * exponents of their own, that halves the result: 530 TSC cycles a 1 KB chunk
 * the double way, 258 this way. (float32's blocks are wide: the double way.)
 * The upper bound is the reference's rule; above it both ways round to the
 * same float or infinity.
 */
static bool
res_f32_block32(const struct ainftp_acc *a, uint32_t b, __mmask32 k, int32_t exp, float *out)
{
	const int32_t *s = a->acc32 + (size_t)b * AINFTP_BLOCK;
	__m512 p;
	int g;

	if (!ainftp_res_f32_block_narrow(a, b, exp))
		return false;
	p = _mm512_set1_ps(exp == AINFTP_EXP_NONE ? 1.0f : ainftp_pow2f(exp));
	for (g = 0; g < 2; g++) {
		__mmask16 kg = (__mmask16)(k >> (16 * g));
		__m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(load_k32(s + 16 * g, kg)), p);

		store_k32(out + 16 * g, kg, _mm512_castps_si512(v));
	}
	return true;
}

static void
res_f32(const struct ainftp_acc *a, float *out)
{
	uint32_t b;
	int g;

	if (a->fresh) {
		memset(out, 0, sizeof(*out) * a->n); /* every block empty, acc32 anything */
		return;
	}
	if (ainftp_res_f32_narrow(a)) {
		res_f32_narrow(a, out);
		return;
	}
	for (b = 0; b < ainftp_blocks(a->n); b++) {
		__mmask32 k = block_mask(ainftp_block_len(a->n, b));
		int32_t exp = ainftp_acc_state(a, b).exp;
		__m512d p;

		if (res_f32_block32(a, b, k, exp, out + (size_t)b * AINFTP_BLOCK))
			continue;
		/* An empty block holds zeros: any scale gives 0.0f. scalef is ldexp. */
		p = _mm512_set1_pd(exp == AINFTP_EXP_NONE ? 0 : exp);
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

/* Bit length of the largest |acc32| (|INT32_MIN| counts as 2^31). */
static int32_t
narrow_bits(const struct ainftp_acc *a)
{
	__m512i or = _mm512_setzero_si512();
	uint32_t i, u;

	for (i = 0; i + 16 <= a->n; i += 16)
		or = _mm512_or_si512(or, _mm512_abs_epi32(_mm512_loadu_si512(a->acc32 + i)));
	if (i < a->n)
		or = _mm512_or_si512(or,
				     _mm512_abs_epi32(_mm512_maskz_loadu_epi32(
					     (__mmask16)((1u << (a->n - i)) - 1), a->acc32 + i)));
	u = (uint32_t)_mm512_reduce_or_epi32(or);
	return u ? 32 - __builtin_clz(u) : 0;
}

/* v * 2^-s rounded to nearest even in int32 lanes, 1 <= s <= 31. */
static __m512i
shr_rne32(__m512i v, int32_t s)
{
	const __m512i one = _mm512_set1_epi32(1);
	__m512i q = _mm512_sra_epi32(v, _mm_cvtsi32_si128(s));
	__m512i r = _mm512_and_si512(v, _mm512_set1_epi32((int32_t)((UINT32_C(1) << s) - 1)));
	__m512i half = _mm512_set1_epi32((int32_t)(UINT32_C(1) << (s - 1)));
	__mmask16 up = _mm512_cmpgt_epu32_mask(r, half) |
		       (_mm512_cmpeq_epi32_mask(r, half) & _mm512_test_epi32_mask(q, one));

	return _mm512_mask_add_epi32(q, up, q, one);
}

/* 16 sums to int16 at shift d (d <= 15 - their bit length), clamped to +-(2^15 - 1). */
static void
res_i16_16(__m512i v, int32_t d, __mmask16 k, int16_t *out)
{
	const __m512i lim = _mm512_set1_epi32(INT16_MAX), nlim = _mm512_set1_epi32(-INT16_MAX);

	if (d >= 0)
		v = _mm512_sll_epi32(v, _mm_cvtsi32_si128(d));
	else if (d < -31)
		v = _mm512_setzero_si512(); /* |v| * 2^-32 <= 1/2: 0, ties to even */
	else
		v = shr_rne32(v, -d);
	v = _mm512_max_epi32(_mm512_min_epi32(v, lim), nlim);
	_mm256_mask_storeu_epi16(out, k, _mm512_cvtepi32_epi16(v));
}

/*
 * res_i16 while every block is narrow at one exponent (ainftp_res_i16_narrow):
 * int32 lanes, 16 at a time, instead of int64 per block. -1: the exponent
 * would clamp at 127, where values saturate (the general path).
 */
static int
res_i16_narrow(const struct ainftp_acc *a, int16_t *out, int8_t *eo)
{
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
	d = a->uni.exp - *eo;
	for (i = 0; i + 16 <= a->n; i += 16)
		res_i16_16(_mm512_loadu_si512(a->acc32 + i), d, 0xffff, out + i);
	if (i < a->n) {
		__mmask16 k16 = (__mmask16)((1u << (a->n - i)) - 1);

		res_i16_16(_mm512_maskz_loadu_epi32(k16, a->acc32 + i), d, k16, out + i);
	}
	return 0;
}

static int8_t
res_i16(const struct ainftp_acc *a, int16_t *out)
{
	uint32_t nb = ainftp_blocks(a->n), b, i;
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
		bits = block_bits(a, b, block_mask(ainftp_block_len(a->n, b)));
		if (bits && bits + exp > k)
			k = bits + exp;
	}
	eo = ainftp_res_i16_exp(k);
	if (k != AINFTP_EXP_NONE && k - AINFTP_QBITS_INT16 > eo) {
		/* Exponent clamped at 127: values saturate; rare, scalar. */
		for (i = 0; i < a->n; i++) {
			int32_t exp = ainftp_acc_state(a, i / AINFTP_BLOCK).exp;

			out[i] = exp == AINFTP_EXP_NONE
					 ? 0
					 : ainftp_res_i16_one(ainftp_acc_at(a, i), exp - eo);
		}
		return eo;
	}
	for (b = 0; b < nb; b++) {
		int32_t exp = ainftp_acc_state(a, b).exp;

		/* An empty block holds zeros: any shift gives 0. */
		res_i16_block(a, b, block_mask(ainftp_block_len(a->n, b)),
			      exp == AINFTP_EXP_NONE ? 0 : exp - eo,
			      out + (size_t)b * AINFTP_BLOCK);
	}
	return eo;
}

/* 16 sums to int8 at shift d (d <= 7 - their bit length), clamped to +-127. */
static __m128i
res_i8_16(__m512i v, int32_t d)
{
	if (d >= 0)
		v = _mm512_sll_epi32(v, _mm_cvtsi32_si128(d));
	else if (d < -31)
		v = _mm512_setzero_si512(); /* |v| * 2^-32 <= 1/2: 0, ties to even */
	else
		v = shr_rne32(v, -d);
	v = _mm512_max_epi32(_mm512_min_epi32(v, _mm512_set1_epi32(INT8_MAX)),
			     _mm512_set1_epi32(-INT8_MAX));
	return _mm512_cvtepi32_epi8(v);
}

/*
 * One narrow block (its sums in acc32 at exp) to int8: the largest |sum|
 * sets the exponent (as the reference's, whose rounding is symmetric), then
 * 32 shifts at once. false: the exponent clamped at 127 and values would
 * saturate, which the reference does.
 */
static bool
res_i8_narrow(const struct ainftp_acc *a, uint32_t b, int32_t exp, int8_t *eo, int8_t *q)
{
	__mmask32 k = block_mask(ainftp_block_len(a->n, b));
	const int32_t *s = a->acc32 + (size_t)b * AINFTP_BLOCK;
	__m512i v0 = _mm512_maskz_loadu_epi32((__mmask16)k, s);
	__m512i v1 = _mm512_maskz_loadu_epi32((__mmask16)(k >> 16), s + 16);
	uint32_t top = (uint32_t)_mm512_reduce_max_epu32(
		_mm512_max_epu32(_mm512_abs_epi32(v0), _mm512_abs_epi32(v1)));
	int32_t d;

	*eo = ainftp_res_i8_exp(top, exp);
	if (top == 0) {
		memset(q, 0, ainftp_block_len(a->n, b));
		return true;
	}
	d = exp - *eo;
	if (d >= 0 && 32 - __builtin_clz(top) + d > AINFTP_QBITS_INT8)
		return false;
	_mm_mask_storeu_epi8(q, (__mmask16)k, res_i8_16(v0, d));
	_mm_mask_storeu_epi8(q + 16, (__mmask16)(k >> 16), res_i8_16(v1, d));
	return true;
}

/* res_i8: narrow blocks in int32 lanes, wide ones (int64 sums) by the reference. */
static void
res_i8(const struct ainftp_acc *a, int8_t *e, int8_t *q)
{
	ainftp_res_i8_blocks(a, e, q, res_i8_narrow);
}

const struct ainftp_quant_ops ainftp_quant_avx512 = {
	.name = "avx512",
	.quant_i16 = quant_i16,
	.quant_i8 = quant_i8,
	.acc_i16 = acc_i16,
	.acc_i8 = acc_i8,
	.acc_f32 = acc_f32,
	.acc_f32_any = acc_f32_any,
	.res_f32 = res_f32,
	.res_i16 = res_i16,
	.res_i8 = res_i8,
	.max_abs_bits = max_abs_f32,
};
