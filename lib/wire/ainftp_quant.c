/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scalar reference of every kernel (docs/QUANTIZATION.md), the block rules
 * the SIMD versions share, and the run-time choice between them.
 */
#include <math.h>
#include <string.h>

#include "ainftp_quant.h"

static uint32_t
abs_bits(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof(u));
	return u & 0x7fffffffu;
}

/* Largest |x| as bits: for non-negative floats the integer order is the float order. */
static uint32_t
max_abs_bits(const float *x, uint32_t n)
{
	uint32_t m = 0, i;

	for (i = 0; i < n; i++) {
		uint32_t u = abs_bits(x[i]);

		m = u > m ? u : m;
	}
	return m;
}

static unsigned int
bit_len(uint64_t u)
{
	return u ? 64 - __builtin_clzll(u) : 0;
}

static uint64_t
abs_u64(int64_t v)
{
	return v < 0 ? -(uint64_t)v : (uint64_t)v;
}

int32_t
ainftp_quant_one(float x, double scale, int32_t lim)
{
	double v = nearbyint((double)x * scale);

	if (v > lim)
		return lim;
	if (v < -lim)
		return -lim;
	return (int32_t)v;
}

static size_t
round64(size_t len)
{
	return (len + 63) / 64 * 64;
}

size_t
ainftp_acc_size(uint32_t n)
{
	return round64((size_t)n * sizeof(int64_t)) + round64((size_t)n * sizeof(int32_t)) +
	       ainftp_blocks(n) * sizeof(struct ainftp_acc_block);
}

void
ainftp_acc_init(struct ainftp_acc *a, uint32_t n, void *mem)
{
	unsigned char *p = mem;
	size_t off32 = round64((size_t)n * sizeof(int64_t));

	a->n = n;
	a->acc = mem;
	a->acc32 = (void *)(p + off32);
	a->blk = (void *)(p + off32 + round64((size_t)n * sizeof(int32_t)));
	ainftp_acc_reset(a);
}

static const struct ainftp_acc_block empty_block = {
	.exp = AINFTP_EXP_NONE,
	.emax = AINFTP_EXP_NONE,
	.mag = 0,
};

/* uni when the blocks go on their own. */
static const struct ainftp_acc_block no_uni = {
	.exp = AINFTP_EXP_NONE,
	.emax = AINFTP_EXP_NONE,
	.mag = AINFTP_MAG_WIDE,
};

void
ainftp_acc_reset(struct ainftp_acc *a)
{
	uint32_t b;

	/* acc32 only: a block's acc is written whole when the block widens. */
	memset(a->acc32, 0, sizeof(*a->acc32) * a->n);
	for (b = 0; b < ainftp_blocks(a->n); b++)
		a->blk[b] = empty_block;
	a->uni = empty_block;
	a->overflow = false;
}

int32_t
ainftp_acc_prep(struct ainftp_acc *a, uint32_t b, int32_t e, int w, int32_t *acc_shl)
{
	struct ainftp_acc_block *bk = &a->blk[b];
	int64_t *acc = a->acc + (size_t)b * AINFTP_BLOCK;
	int32_t lo, hi, x;
	uint32_t j;

	if (bk->exp == AINFTP_EXP_NONE) {
		bk->exp = bk->emax = e;
		*acc_shl = 0;
		return 0;
	}
	lo = e < bk->exp ? e : bk->exp;
	hi = e > bk->emax ? e : bk->emax;
	/* Past the span, keep exp high enough that 64 contributions still fit. */
	x = hi - ainftp_span(w);
	x = x > lo ? x : lo;
	if (x > lo)
		a->overflow = true;
	if (x > bk->exp) {
		for (j = 0; j < ainftp_block_len(a->n, b); j++)
			acc[j] = ainftp_shr_rne(acc[j], x - bk->exp);
		*acc_shl = 0;
	} else {
		*acc_shl = bk->exp - x;
	}
	bk->exp = x;
	bk->emax = hi;
	return e - x;
}

void
ainftp_acc_apply(int64_t *acc, const int64_t *c, uint32_t m, int32_t acc_shl, int32_t c_shift)
{
	uint32_t j;

	/* Unsigned: more than 2^AINFTP_WORKER_BITS contributions wrap instead of UB. */
	for (j = 0; j < m; j++)
		acc[j] = (int64_t)(((uint64_t)acc[j] << acc_shl) +
				   (uint64_t)ainftp_scale_rne(c[j], c_shift));
}

void
ainftp_acc_apply32(int32_t *acc32, const int64_t *c, uint32_t m, int32_t ash, int32_t csh)
{
	uint32_t j;

	/* Unsigned, as in ainftp_acc_apply: mag keeps it in range, nothing relies on UB. */
	for (j = 0; j < m; j++)
		acc32[j] = (int32_t)(((uint32_t)acc32[j] << ash) + ((uint32_t)c[j] << csh));
}

/*
 * The narrow state after a non-zero contribution of w bits at e, when its
 * bound stays within 31 bits: the sum shifts left by ash (exp falls to e),
 * the contribution by csh, and mag follows both.
 */
static bool
narrow_next(const struct ainftp_acc_block *bk, int32_t e, int w, struct ainftp_acc_block *next,
	    int32_t *ash, int32_t *csh)
{
	struct ainftp_acc_block n = {.exp = e, .emax = e, .mag = 0};
	uint64_t mag;

	*ash = 0;
	if (bk->exp != AINFTP_EXP_NONE) {
		n.exp = e < bk->exp ? e : bk->exp;
		n.emax = e > bk->emax ? e : bk->emax;
		*ash = bk->exp - n.exp;
		n.mag = bk->mag;
	}
	*csh = e - n.exp;
	if (*ash > AINFTP_NARROW_BITS || w + *csh > AINFTP_NARROW_BITS)
		return false;
	mag = ((uint64_t)n.mag << *ash) + (UINT64_C(1) << (w + *csh));
	if (mag > INT32_MAX)
		return false;
	n.mag = (uint32_t)mag;
	*next = n;
	return true;
}

/* Block b's sums into acc, for good: the same integers, at the same exponent. */
static void
widen(struct ainftp_acc *a, uint32_t b)
{
	size_t off = (size_t)b * AINFTP_BLOCK;
	uint32_t j;

	for (j = 0; j < ainftp_block_len(a->n, b); j++)
		a->acc[off + j] = a->acc32[off + j];
	a->blk[b].mag = AINFTP_MAG_WIDE;
}

int
ainftp_acc_step(struct ainftp_acc *a, uint32_t b, int32_t e, int w, int32_t *ash, int32_t *csh)
{
	struct ainftp_acc_block *bk = &a->blk[b];

	if (bk->mag != AINFTP_MAG_WIDE) {
		if (narrow_next(bk, e, w, bk, ash, csh))
			return AINFTP_STEP_32;
		widen(a, b);
	}
	*csh = ainftp_acc_prep(a, b, e, w, ash);
	return AINFTP_STEP_64;
}

int
ainftp_acc_uni_plan(const struct ainftp_acc *a, int32_t e, int w, struct ainftp_acc_block *next,
		    int32_t *ash, int32_t *csh)
{
	/* What every block would do on its own (ainftp_acc_quick, then _step), done once. */
	if (a->uni.mag == AINFTP_MAG_WIDE || !narrow_next(&a->uni, e, w, next, ash, csh))
		return 0;
	return next->exp == a->uni.exp && next->emax == a->uni.emax ? 1 : 2;
}

void
ainftp_acc_uni_commit(struct ainftp_acc *a, const struct ainftp_acc_block *next)
{
	uint32_t b;

	if (next->exp != a->uni.exp || next->emax != a->uni.emax)
		for (b = 0; b < ainftp_blocks(a->n); b++) {
			a->blk[b].exp = next->exp;
			a->blk[b].emax = next->emax;
		}
	a->uni = *next;
}

void
ainftp_acc_uni_done(struct ainftp_acc *a, const struct ainftp_acc_block *next, uint32_t nz,
		    const int16_t *q)
{
	uint32_t nb = ainftp_blocks(a->n), b, j;

	if (nz == nb) {
		a->uni = *next;
		return;
	}
	if (nz == 0)
		return;
	/* Zero blocks kept their mag, the others took next's: rare, per block from now on. */
	for (b = 0; b < nb; b++) {
		int16_t any = 0;

		for (j = 0; j < ainftp_block_len(a->n, b); j++)
			any |= q[b * AINFTP_BLOCK + j];
		a->blk[b].mag = any ? next->mag : a->uni.mag;
	}
	a->uni = no_uni;
}

void
ainftp_acc_uni_drop(struct ainftp_acc *a)
{
	uint32_t b;

	if (a->uni.mag == AINFTP_MAG_WIDE)
		return;
	for (b = 0; b < ainftp_blocks(a->n); b++)
		a->blk[b].mag = a->uni.mag;
	a->uni = no_uni;
}

void
ainftp_acc_uni_try(struct ainftp_acc *a)
{
	const struct ainftp_acc_block *b0 = a->blk;
	uint32_t b;

	/* Still uni: no block took anything on its own (blk[].mag is stale then). */
	if (a->uni.mag != AINFTP_MAG_WIDE || a->n == 0 || b0->mag == AINFTP_MAG_WIDE)
		return;
	for (b = 1; b < ainftp_blocks(a->n); b++)
		if (a->blk[b].exp != b0->exp || a->blk[b].emax != b0->emax ||
		    a->blk[b].mag != b0->mag)
			return;
	a->uni = *b0;
}

void
ainftp_acc_block_add(struct ainftp_acc *a, uint32_t b, const int64_t *c, int32_t e, int w)
{
	size_t off = (size_t)b * AINFTP_BLOCK;
	uint32_t m = ainftp_block_len(a->n, b), j;
	int32_t ash = 0, csh = 0;
	uint64_t any = 0;
	int how;

	for (j = 0; j < m; j++)
		any |= (uint64_t)c[j];
	if (!any)
		return; /* zeros change nothing, not even mag */
	ainftp_acc_uni_off(a);
	how = ainftp_acc_quick(&a->blk[b], e, w, &csh);
	if (how == AINFTP_STEP_SLOW)
		how = ainftp_acc_step(a, b, e, w, &ash, &csh);
	if (how == AINFTP_STEP_32)
		ainftp_acc_apply32(a->acc32 + off, c, m, ash, csh);
	else
		ainftp_acc_apply(a->acc + off, c, m, ash, csh);
}

static int
quant_i16_ref(const float *x, uint32_t n, int16_t *q, int8_t *e)
{
	uint32_t m = max_abs_bits(x, n), i;
	double scale;

	if (m >= AINFTP_F32_ABS_INF)
		return -1;
	if (m == 0) {
		*e = AINFTP_WIRE_EXP_ZERO;
		memset(q, 0, sizeof(*q) * n);
		return 0;
	}
	*e = (int8_t)ainftp_quant_exp(m, AINFTP_QBITS_INT16);
	scale = ldexp(1.0, -*e);
	for (i = 0; i < n; i++)
		q[i] = (int16_t)ainftp_quant_one(x[i], scale, INT16_MAX);
	return 0;
}

static int
quant_i8_ref(const float *x, uint32_t n, int8_t *e, int8_t *q)
{
	uint32_t b, j;

	for (b = 0; b < ainftp_blocks(n); b++) {
		const float *xb = x + (size_t)b * AINFTP_BLOCK;
		int8_t *qb = q + (size_t)b * AINFTP_BLOCK;
		uint32_t len = ainftp_block_len(n, b);
		uint32_t m = max_abs_bits(xb, len);
		double scale;

		if (m >= AINFTP_F32_ABS_INF)
			return -1;
		if (m == 0) {
			e[b] = AINFTP_WIRE_EXP_ZERO;
			memset(qb, 0, len);
			continue;
		}
		e[b] = (int8_t)ainftp_quant_exp(m, AINFTP_QBITS_INT8);
		scale = ldexp(1.0, -e[b]);
		for (j = 0; j < len; j++)
			qb[j] = (int8_t)ainftp_quant_one(xb[j], scale, INT8_MAX);
	}
	return 0;
}

/* How many blocks of an int16 payload are not all zero. */
static uint32_t
nonzero_blocks_i16(const int16_t *q, uint32_t n)
{
	uint32_t nb = ainftp_blocks(n), nz = 0, b, j;

	for (b = 0; b < nb; b++) {
		int16_t any = 0;

		for (j = 0; j < ainftp_block_len(n, b); j++)
			any |= q[b * AINFTP_BLOCK + j];
		nz += any != 0;
	}
	return nz;
}

static void
acc_i16_ref(struct ainftp_acc *a, const int16_t *q, int8_t e)
{
	struct ainftp_acc_block next;
	int32_t ash, csh;
	int64_t c[AINFTP_BLOCK];
	uint32_t b, j;
	int k = ainftp_acc_uni_plan(a, e, AINFTP_QBITS_INT16, &next, &ash, &csh);

	if (k == 1) {
		for (j = 0; j < a->n; j++)
			a->acc32[j] = (int32_t)((uint32_t)a->acc32[j] + ((uint32_t)q[j] << csh));
		ainftp_acc_uni_done(a, &next, nonzero_blocks_i16(q, a->n), q);
		return;
	}
	if (k == 2) {
		uint32_t nz = nonzero_blocks_i16(q, a->n);

		if (nz == 0)
			return; /* every block would skip it */
		if (nz == ainftp_blocks(a->n)) {
			ainftp_acc_uni_commit(a, &next);
			for (j = 0; j < a->n; j++)
				a->acc32[j] = (int32_t)(((uint32_t)a->acc32[j] << ash) +
							((uint32_t)q[j] << csh));
			return;
		}
	}
	for (b = 0; b < ainftp_blocks(a->n); b++) {
		for (j = 0; j < ainftp_block_len(a->n, b); j++)
			c[j] = q[b * AINFTP_BLOCK + j];
		ainftp_acc_block_add(a, b, c, e, AINFTP_QBITS_INT16);
	}
	ainftp_acc_uni_try(a);
}

static void
acc_i8_ref(struct ainftp_acc *a, const int8_t *e, const int8_t *q)
{
	int64_t c[AINFTP_BLOCK];
	uint32_t b, j;

	for (b = 0; b < ainftp_blocks(a->n); b++) {
		for (j = 0; j < ainftp_block_len(a->n, b); j++)
			c[j] = q[b * AINFTP_BLOCK + j];
		ainftp_acc_block_add(a, b, c, e[b], AINFTP_QBITS_INT8);
	}
}

static int
acc_f32_ref(struct ainftp_acc *a, const float *x)
{
	int64_t c[AINFTP_BLOCK];
	uint32_t b, j;

	if (max_abs_bits(x, a->n) >= AINFTP_F32_ABS_INF)
		return -1;
	for (b = 0; b < ainftp_blocks(a->n); b++) {
		const float *xb = x + (size_t)b * AINFTP_BLOCK;
		uint32_t len = ainftp_block_len(a->n, b);
		uint32_t m = max_abs_bits(xb, len);
		int32_t eb;
		double scale;

		if (m == 0)
			continue;
		eb = ainftp_frexp_bits(m) - AINFTP_QBITS_FLOAT32;
		scale = ldexp(1.0, -eb);
		for (j = 0; j < len; j++)
			c[j] = ainftp_quant_one(xb[j], scale, INT32_MAX);
		ainftp_acc_block_add(a, b, c, eb, AINFTP_QBITS_FLOAT32);
	}
	return 0;
}

static void
res_f32_ref(const struct ainftp_acc *a, float *out)
{
	uint32_t i;

	for (i = 0; i < a->n; i++) {
		int32_t exp = a->blk[i / AINFTP_BLOCK].exp;

		out[i] = exp == AINFTP_EXP_NONE ? 0.0f
						: (float)ldexp((double)ainftp_acc_at(a, i), exp);
	}
}

int8_t
ainftp_res_i16_exp(int32_t k)
{
	if (k == AINFTP_EXP_NONE)
		return AINFTP_WIRE_EXP_ZERO;
	k -= AINFTP_QBITS_INT16;
	return (int8_t)(k < -128 ? -128 : (k > 127 ? 127 : k));
}

int16_t
ainftp_res_i16_one(int64_t v, int32_t d)
{
	int64_t r;

	if (v == 0)
		return 0;
	if (d >= 0) {
		/* Only an exponent clamped at 127 can leave more than 15 bits here. */
		if (d > AINFTP_QBITS_INT16 || (int32_t)bit_len(abs_u64(v)) + d > AINFTP_QBITS_INT16)
			return v < 0 ? -INT16_MAX : INT16_MAX;
		return (int16_t)(v * ((int64_t)1 << d));
	}
	r = ainftp_shr_rne(v, -d);
	return (int16_t)(r > INT16_MAX ? INT16_MAX : (r < -INT16_MAX ? -INT16_MAX : r));
}

static int8_t
res_i16_ref(const struct ainftp_acc *a, int16_t *out)
{
	int32_t k = AINFTP_EXP_NONE;
	uint32_t b, j;
	int8_t eo;

	for (b = 0; b < ainftp_blocks(a->n); b++) {
		uint64_t or = 0;
		int32_t kb;

		if (a->blk[b].exp == AINFTP_EXP_NONE)
			continue;
		for (j = 0; j < ainftp_block_len(a->n, b); j++)
			or |= abs_u64(ainftp_acc_at(a, b * AINFTP_BLOCK + j));
		if (! or)
			continue;
		kb = (int32_t)bit_len(or) + a->blk[b].exp;
		k = kb > k ? kb : k;
	}
	eo = ainftp_res_i16_exp(k);
	for (b = 0; b < ainftp_blocks(a->n); b++) {
		int32_t exp = a->blk[b].exp;

		for (j = 0; j < ainftp_block_len(a->n, b); j++) {
			size_t i = (size_t)b * AINFTP_BLOCK + j;

			out[i] = exp == AINFTP_EXP_NONE
					 ? 0
					 : ainftp_res_i16_one(ainftp_acc_at(a, i), exp - eo);
		}
	}
	return eo;
}

void
ainftp_dequant_i16(const int16_t *q, uint32_t n, int8_t e, float *out)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		out[i] = ldexpf((float)q[i], e);
}

void
ainftp_dequant_i8(const int8_t *e, const int8_t *q, uint32_t n, float *out)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		out[i] = ldexpf((float)q[i], e[i / AINFTP_BLOCK]);
}

const struct ainftp_quant_ops ainftp_quant_scalar = {
	.name = "scalar",
	.quant_i16 = quant_i16_ref,
	.quant_i8 = quant_i8_ref,
	.acc_i16 = acc_i16_ref,
	.acc_i8 = acc_i8_ref,
	.acc_f32 = acc_f32_ref,
	.res_f32 = res_f32_ref,
	.res_i16 = res_i16_ref,
};

bool
ainftp_quant_have(const struct ainftp_quant_ops *ops)
{
	__builtin_cpu_init();
	/* The -mbmi2 / -mfma the SIMD files are built with let gcc use those too. */
	if (ops == &ainftp_quant_avx512)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("bmi2");
	if (ops == &ainftp_quant_avx2)
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
		       __builtin_cpu_supports("bmi2");
	return ops == &ainftp_quant_scalar;
}

const struct ainftp_quant_ops *
ainftp_quant_select(unsigned int max_bits)
{
	if (max_bits >= 512 && ainftp_quant_have(&ainftp_quant_avx512))
		return &ainftp_quant_avx512;
	if (max_bits >= 256 && ainftp_quant_have(&ainftp_quant_avx2))
		return &ainftp_quant_avx2;
	return &ainftp_quant_scalar;
}
