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

/* Byte offsets of acc32, exp, emax, mag and elo in an accumulator's allocation (acc at 0). */
static void
acc_layout(uint32_t n, size_t off[5])
{
	size_t blocks = round64(ainftp_blocks(n) * sizeof(int32_t));

	off[0] = round64((size_t)n * sizeof(int64_t));
	off[1] = off[0] + round64((size_t)n * sizeof(int32_t));
	off[2] = off[1] + blocks;
	off[3] = off[2] + blocks;
	off[4] = off[3] + blocks;
}

size_t
ainftp_acc_size(uint32_t n)
{
	size_t off[5];

	acc_layout(n, off);
	return off[4] + round64(ainftp_blocks(n) * sizeof(int32_t));
}

static const struct ainftp_acc_block empty_block = {
	.exp = AINFTP_EXP_NONE,
	.emax = AINFTP_EXP_NONE,
	.mag = 0,
};

/* uni once the blocks go on their own. */
static const struct ainftp_acc_block no_uni = {
	.exp = AINFTP_EXP_NONE,
	.emax = AINFTP_EXP_NONE,
	.mag = AINFTP_MAG_WIDE,
};

/* Block b's state in the arrays. */
static void
set_state(struct ainftp_acc *a, uint32_t b, const struct ainftp_acc_block *s)
{
	a->exp[b] = s->exp;
	a->emax[b] = s->emax;
	a->mag[b] = s->mag;
	a->elo[b] = s->exp; /* exp is the lowest where there is no room (uni: int16's) */
}

void
ainftp_acc_init(struct ainftp_acc *a, uint32_t n, void *mem)
{
	unsigned char *p = mem;
	size_t off[5];
	uint32_t b;

	acc_layout(n, off);
	a->n = n;
	a->acc = mem;
	a->acc32 = (void *)(p + off[0]);
	a->exp = (void *)(p + off[1]);
	a->emax = (void *)(p + off[2]);
	a->mag = (void *)(p + off[3]);
	a->elo = (void *)(p + off[4]);
	/* Stale while uni holds, but defined. */
	for (b = 0; b < ainftp_blocks(n); b++)
		set_state(a, b, &empty_block);
	ainftp_acc_reset(a);
}

void
ainftp_acc_reset(struct ainftp_acc *a)
{
	/*
	 * Nothing per element: acc32 is written whole by the first int16 packet
	 * or zeroed when uni goes, a block's acc when it widens, the arrays when
	 * uni goes.
	 */
	a->uni = empty_block;
	a->overflow = false;
	a->fresh = true;
}

int32_t
ainftp_acc_prep(struct ainftp_acc *a, uint32_t b, int32_t e, int w, int32_t *acc_shl)
{
	int64_t *acc = a->acc + (size_t)b * AINFTP_BLOCK;
	int32_t lo, hi, x, exp = a->exp[b];
	uint32_t j;

	if (exp == AINFTP_EXP_NONE) {
		a->exp[b] = a->emax[b] = e;
		*acc_shl = 0;
		return 0;
	}
	lo = e < exp ? e : exp;
	hi = e > a->emax[b] ? e : a->emax[b];
	/* Past the span, keep exp high enough that 64 contributions still fit. */
	x = hi - ainftp_span(w);
	x = x > lo ? x : lo;
	if (x > lo)
		a->overflow = true;
	if (x > exp) {
		for (j = 0; j < ainftp_block_len(a->n, b); j++)
			acc[j] = ainftp_shr_rne(acc[j], x - exp);
		*acc_shl = 0;
	} else {
		*acc_shl = exp - x;
	}
	a->exp[b] = x;
	a->emax[b] = hi;
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
	struct ainftp_acc_block n = {.exp = e - ainftp_room(w), .emax = e, .mag = 0};
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

/*
 * The room an int8 block took below its lowest contribution, given back as
 * it widens: every sum is a multiple of 2^(elo - exp), so the division is
 * exact, and exp = elo is the exponent the block would have had without room.
 */
static void
widen_room(struct ainftp_acc *a, uint32_t b)
{
	int64_t *acc = a->acc + (size_t)b * AINFTP_BLOCK;
	uint32_t m = ainftp_block_len(a->n, b), j;
	int32_t s;

	/* An empty block's elo may be stale (AVX-512's f32_first leaves it): nothing to give. */
	if (a->exp[b] == AINFTP_EXP_NONE)
		return;
	s = a->elo[b] - a->exp[b];
	if (s <= 0)
		return;
	for (j = 0; j < m; j++)
		acc[j] /= INT64_C(1) << s;
	a->exp[b] = a->elo[b];
}

void
ainftp_acc_widen(struct ainftp_acc *a, uint32_t b)
{
	size_t off = (size_t)b * AINFTP_BLOCK;
	uint32_t m = ainftp_block_len(a->n, b), j;

	/* A full block's loop has a constant count: the compiler makes it vectors. */
	if (m == AINFTP_BLOCK)
		for (j = 0; j < AINFTP_BLOCK; j++)
			a->acc[off + j] = a->acc32[off + j];
	else
		for (j = 0; j < m; j++)
			a->acc[off + j] = a->acc32[off + j];
	a->mag[b] = AINFTP_MAG_WIDE;
	widen_room(a, b);
}

int
ainftp_acc_step(struct ainftp_acc *a, uint32_t b, int32_t e, int w, int32_t *ash, int32_t *csh)
{
	if (a->mag[b] != AINFTP_MAG_WIDE) {
		struct ainftp_acc_block cur = {a->exp[b], a->emax[b], a->mag[b]}, next;

		if (narrow_next(&cur, e, w, &next, ash, csh)) {
			/* The lowest exponent, e or as it was, whatever w (encodings may mix). */
			int32_t lo = cur.exp == AINFTP_EXP_NONE || e < a->elo[b] ? e : a->elo[b];

			set_state(a, b, &next);
			a->elo[b] = lo;
			return AINFTP_STEP_32;
		}
		ainftp_acc_widen(a, b);
	}
	*csh = ainftp_acc_prep(a, b, e, w, ash);
	return AINFTP_STEP_64;
}

bool
ainftp_acc_uni_plan(const struct ainftp_acc *a, int32_t e, int w, struct ainftp_acc_block *next,
		    int32_t *ash, int32_t *csh)
{
	/* What every block would do on its own (ainftp_acc_quick, then _step), done once. */
	return a->uni.mag != AINFTP_MAG_WIDE && narrow_next(&a->uni, e, w, next, ash, csh);
}

void
ainftp_acc_uni_split(struct ainftp_acc *a, const struct ainftp_acc_block *next, int32_t ash,
		     uint32_t nz, const int16_t *q)
{
	uint32_t b, j;

	/*
	 * Some blocks of q were zero: they keep uni's state, and shifting their
	 * sums left by ash did not overflow (mag allowed it), so dividing undoes
	 * it exactly. Rare: per block from now on, unless every block was zero.
	 */
	for (b = 0; b < ainftp_blocks(a->n); b++) {
		int32_t *d = a->acc32 + (size_t)b * AINFTP_BLOCK;
		uint32_t m = ainftp_block_len(a->n, b);
		int16_t any = 0;

		for (j = 0; j < m; j++)
			any |= q[b * AINFTP_BLOCK + j];
		if (nz)
			set_state(a, b, any ? next : &a->uni);
		if (!any && ash)
			for (j = 0; j < m; j++)
				d[j] /= (int32_t)1 << ash;
	}
	if (nz)
		a->uni = no_uni;
}

void
ainftp_acc_uni_drop(struct ainftp_acc *a)
{
	uint32_t b;

	if (a->uni.mag == AINFTP_MAG_WIDE)
		return;
	if (a->fresh) {
		memset(a->acc32, 0, sizeof(*a->acc32) * a->n);
		a->fresh = false;
	}
	for (b = 0; b < ainftp_blocks(a->n); b++)
		set_state(a, b, &a->uni);
	a->uni = no_uni;
}

void
ainftp_acc_uni_try(struct ainftp_acc *a)
{
	uint32_t b;

	/* Still uni: no block took anything on its own (the arrays are stale then). */
	if (a->uni.mag != AINFTP_MAG_WIDE || a->n == 0 || a->mag[0] == AINFTP_MAG_WIDE)
		return;
	/* uni has no room (elo): blocks with room (int8's, in a mixed chunk) stay apart. */
	for (b = 0; b < ainftp_blocks(a->n); b++)
		if (a->exp[b] != a->exp[0] || a->emax[b] != a->emax[0] || a->mag[b] != a->mag[0] ||
		    a->elo[b] != a->exp[b])
			return;
	a->uni = (struct ainftp_acc_block){a->exp[0], a->emax[0], a->mag[0]};
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
	how = ainftp_acc_quick(a, b, e, w, &csh);
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
	int32_t ash = 0, csh = ainftp_acc_uni_quick(a, e, AINFTP_QBITS_INT16, &next);
	int64_t c[AINFTP_BLOCK];
	uint32_t b, j;

	if (csh >= 0 || ainftp_acc_uni_plan(a, e, AINFTP_QBITS_INT16, &next, &ash, &csh)) {
		uint32_t nz = nonzero_blocks_i16(q, a->n);

		if (a->fresh)
			memset(a->acc32, 0, sizeof(*a->acc32) * a->n);
		if (nz)
			a->fresh = false; /* zeros stored where anything was: still fresh */
		for (j = 0; j < a->n; j++)
			a->acc32[j] =
				(int32_t)(((uint32_t)a->acc32[j] << ash) + ((uint32_t)q[j] << csh));
		ainftp_acc_uni_after(a, &next, ash, nz, q);
		return;
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
		int32_t exp = ainftp_acc_state(a, i / AINFTP_BLOCK).exp;

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

/* v * 2^d rounded to nearest even, saturated to +-(2^bits - 1): one element of an integer result.
 */
static int64_t
res_one(int64_t v, int32_t d, int bits)
{
	const int64_t lim = ((int64_t)1 << bits) - 1;
	int64_t r;

	if (v == 0)
		return 0;
	if (d >= 0) {
		/* Only an exponent clamped at 127 can leave more than `bits` bits here. */
		if (d > bits || (int32_t)bit_len(abs_u64(v)) + d > bits)
			return v < 0 ? -lim : lim;
		return v * ((int64_t)1 << d);
	}
	r = ainftp_shr_rne(v, -d);
	return r > lim ? lim : (r < -lim ? -lim : r);
}

int16_t
ainftp_res_i16_one(int64_t v, int32_t d)
{
	return (int16_t)res_one(v, d, AINFTP_QBITS_INT16);
}

int8_t
ainftp_res_i8_exp(int64_t top, int32_t exp)
{
	int32_t e;
	int64_t r;

	if (top == 0 || exp == AINFTP_EXP_NONE)
		return AINFTP_WIRE_EXP_ZERO;
	e = (int32_t)bit_len(abs_u64(top)) + exp - AINFTP_QBITS_INT8;
	/*
	 * |top| x 2^exp is below 128 units of 2^e but may round to 128: then one
	 * exponent more (where it is below 64 units), so that no value saturates
	 * and each is within half a unit. int16 saturates there instead, at a
	 * cost of 2^-15 of its maximum; at 7 bits it would be 2^-7.
	 */
	if (e > exp && e < 127) {
		r = ainftp_shr_rne(top, e - exp);
		if (r > INT8_MAX || r < -INT8_MAX)
			e++;
	}
	return (int8_t)(e < -128 ? -128 : (e > 127 ? 127 : e));
}

int8_t
ainftp_res_i8_one(int64_t v, int32_t d)
{
	return (int8_t)res_one(v, d, AINFTP_QBITS_INT8);
}

/* res_i8, one block: the values at q, its exponent returned. */
int8_t
ainftp_res_i8_block_ref(const struct ainftp_acc *a, uint32_t b, int8_t *q)
{
	int32_t exp = ainftp_acc_state(a, b).exp;
	uint32_t j, len = ainftp_block_len(a->n, b);
	size_t i0 = (size_t)b * AINFTP_BLOCK;
	int64_t top = 0;
	int8_t eo;

	if (exp != AINFTP_EXP_NONE)
		for (j = 0; j < len; j++)
			if (abs_u64(ainftp_acc_at(a, i0 + j)) > abs_u64(top))
				top = ainftp_acc_at(a, i0 + j);
	eo = ainftp_res_i8_exp(top, exp);
	for (j = 0; j < len; j++)
		q[j] = top == 0 ? 0 : ainftp_res_i8_one(ainftp_acc_at(a, i0 + j), exp - eo);
	return eo;
}

void
ainftp_res_i8_blocks(const struct ainftp_acc *a, int8_t *e, int8_t *q,
		     ainftp_res_i8_narrow_fn narrow)
{
	uint32_t b;

	for (b = 0; b < ainftp_blocks(a->n); b++) {
		int32_t exp = ainftp_acc_state(a, b).exp;
		int8_t *qb = q + (size_t)b * AINFTP_BLOCK;

		if (a->fresh || exp == AINFTP_EXP_NONE) { /* an empty block: zeros */
			e[b] = AINFTP_WIRE_EXP_ZERO;
			memset(qb, 0, ainftp_block_len(a->n, b));
		} else if (ainftp_acc_wide(a, b) || !narrow(a, b, exp, &e[b], qb)) {
			e[b] = ainftp_res_i8_block_ref(a, b, qb);
		}
	}
}

void
ainftp_res_i8_ref(const struct ainftp_acc *a, int8_t *e, int8_t *q)
{
	uint32_t b;

	for (b = 0; b < ainftp_blocks(a->n); b++)
		e[b] = ainftp_res_i8_block_ref(a, b, q + (size_t)b * AINFTP_BLOCK);
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

		if (ainftp_acc_state(a, b).exp == AINFTP_EXP_NONE)
			continue;
		for (j = 0; j < ainftp_block_len(a->n, b); j++)
			or |= abs_u64(ainftp_acc_at(a, b * AINFTP_BLOCK + j));
		if (! or)
			continue;
		kb = (int32_t)bit_len(or) + ainftp_acc_state(a, b).exp;
		k = kb > k ? kb : k;
	}
	eo = ainftp_res_i16_exp(k);
	for (b = 0; b < ainftp_blocks(a->n); b++) {
		int32_t exp = ainftp_acc_state(a, b).exp;

		for (j = 0; j < ainftp_block_len(a->n, b); j++) {
			size_t i = (size_t)b * AINFTP_BLOCK + j;

			out[i] = exp == AINFTP_EXP_NONE
					 ? 0
					 : ainftp_res_i16_one(ainftp_acc_at(a, i), exp - eo);
		}
	}
	return eo;
}

/*
 * q * 2^e with one multiply by 2^e, which is a float for any int8 e (a
 * subnormal below -126): the product of an integer of at most 15 bits and
 * 2^e >= 2^-128 is a multiple of 2^-149, so it is exact (or infinite past
 * FLT_MAX) and the same bits as ldexpf's, at a small fraction of its cost
 * (ldexpf per element was 40% of a worker's CPU on int16 results).
 */
void
ainftp_dequant_i16(const int16_t *q, uint32_t n, int8_t e, float *out)
{
	const float p = ldexpf(1.0f, e);
	uint32_t i;

	for (i = 0; i < n; i++)
		out[i] = (float)q[i] * p;
}

void
ainftp_dequant_i8(const int8_t *e, const int8_t *q, uint32_t n, float *out)
{
	uint32_t b, i;

	for (b = 0; b < ainftp_blocks(n); b++) {
		const float p = ldexpf(1.0f, e[b]);
		uint32_t end = b * AINFTP_BLOCK + ainftp_block_len(n, b);

		for (i = b * AINFTP_BLOCK; i < end; i++)
			out[i] = (float)q[i] * p;
	}
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
	.res_i8 = ainftp_res_i8_ref,
	.max_abs_bits = max_abs_bits,
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
