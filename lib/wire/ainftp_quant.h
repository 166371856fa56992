/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_QUANT_H
#define AINFTP_QUANT_H

/*
 * Quantization (worker side) and exact accumulation (appliance side).
 *
 * Every value on the wire is an integer times a power of two: int16 with one
 * exponent per packet, int8 with one exponent per block of 32 elements, and
 * float32, which the appliance turns into a 32-bit integer per block on arrival.
 * The appliance sums those integers exactly at a per-block exponent, so a sum
 * is the same bits whatever the order of arrival, as long as the exponents of
 * one block's contributions stay within a span the int64 can hold
 * (AINFTP_SPAN_*); past it the slot is flagged overflow, never silently wrong.
 * A block sums in int32 ("narrow") while a bound on its sum stays within 31
 * bits, and moves to int64 ("wide") for good when it would not: the same
 * integers either way, in half the memory traffic while narrow.
 *
 * Plain C11, no DPDK: the worker client library links it too. Each kernel has a
 * scalar reference (the _ref functions) and AVX2 / AVX-512 versions that must
 * give the same bits; ainftp_quant_select() picks one at run time.
 *
 * Payloads are little-endian. int8 payload: n_blocks exponent bytes, then n values.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AINFTP_BLOCK 32		    /* elements per accumulator block (and per int8 scale) */
#define AINFTP_EXP_NONE INT32_MIN   /* a block with nothing in it yet */
#define AINFTP_WIRE_EXP_ZERO (-128) /* wire exponent of an all-zero packet or block */

/* Bits of magnitude a contribution's integer can have, by encoding. */
#define AINFTP_QBITS_INT16 15
#define AINFTP_QBITS_INT8 7
#define AINFTP_QBITS_FLOAT32 31
#define AINFTP_WORKER_BITS 6 /* up to 64 contributions */

static inline uint32_t
ainftp_blocks(uint32_t n)
{
	return (n + AINFTP_BLOCK - 1) / AINFTP_BLOCK;
}

/* A block's mag once it sums in acc (int64): no bound is kept any more. */
#define AINFTP_MAG_WIDE UINT32_MAX

/* A block's state: value of element i = sum[i] * 2^exp. */
struct ainftp_acc_block {
	int32_t exp;  /* AINFTP_EXP_NONE until a non-zero contribution arrives */
	int32_t emax; /* largest contribution exponent, for the overflow check */
	/*
	 * Narrow (sum in acc32): a bound on every |acc32[i]| of the block, the
	 * sum of 2^(w + shift) over the non-zero contributions it took, at most
	 * INT32_MAX. Wide (sum in acc): AINFTP_MAG_WIDE. A block only ever
	 * widens; reset makes it narrow.
	 */
	uint32_t mag;
};

/*
 * One allocation of ainftp_acc_size(n) bytes, laid out by ainftp_acc_init;
 * acc is its start, so freeing acc frees it all.
 */
struct ainftp_acc {
	uint32_t n;    /* elements */
	bool overflow; /* some block's exponents spread past what int64 holds exactly */
	/*
	 * Reset since acc32 was last written: every block is empty (uni) and
	 * acc32 holds anything, so reset costs nothing per element. The first
	 * int16 packet (and on AVX-512 the first int8 or float32 one) stores its
	 * values; anything else zeroes acc32 first.
	 */
	bool fresh;
	/*
	 * While uni.mag != AINFTP_MAG_WIDE, uni is the state of every block and
	 * the arrays below are stale: an int16 packet then costs one exponent
	 * check, not one per block. ainftp_acc_state reads either.
	 */
	struct ainftp_acc_block uni;
	/* Otherwise block b's state, as arrays: the SIMD kernels check 16 blocks at once. */
	int32_t *exp;
	int32_t *emax;
	uint32_t *mag;
	/*
	 * A narrow block's lowest contribution exponent, of any encoding: exp
	 * itself but where an int8 contribution opened the block, which puts
	 * exp up to AINFTP_I8_ROOM below it (ainftp_room). Stale once wide.
	 */
	int32_t *elo;
	int64_t *acc;	/* n entries, 64-byte aligned: the sums of wide blocks */
	int32_t *acc32; /* n entries, 64-byte aligned: the sums of narrow blocks */
};

/* Bytes an accumulator of n elements needs: one allocation, 64-byte aligned. */
size_t ainftp_acc_size(uint32_t n);

/* Lay a out over mem (ainftp_acc_size(n) bytes, 64-byte aligned) and empty it. */
void ainftp_acc_init(struct ainftp_acc *a, uint32_t n, void *mem);

/*
 * How far block b's exp lies below its lowest contribution (ainftp_room; 0
 * but for int8's narrow blocks): its sums are multiples of 2^room, and at
 * exp + room they are what they would be without room.
 */
static inline int32_t
ainftp_acc_room(const struct ainftp_acc *a, uint32_t b)
{
	if (a->uni.mag != AINFTP_MAG_WIDE || a->mag[b] == AINFTP_MAG_WIDE ||
	    a->exp[b] == AINFTP_EXP_NONE)
		return 0;
	return a->elo[b] - a->exp[b];
}

/* Block b's state, whether uni holds or not. */
static inline struct ainftp_acc_block
ainftp_acc_state(const struct ainftp_acc *a, uint32_t b)
{
	if (a->uni.mag != AINFTP_MAG_WIDE)
		return a->uni;
	return (struct ainftp_acc_block){a->exp[b], a->emax[b], a->mag[b]};
}

/*
 * Whether int32 sums at exponent e may go to floats directly: -126 <= e <= 96.
 * Then v * 2^e (0 < |v| <= 2^31) is a normal float, so int32 -> float rounds
 * once, to nearest even, and the power of two is exact: the same float as
 * (float)ldexp((double)v, e), the reference, at half the vector width's work
 * of going through int64 and double.
 */
static inline bool
ainftp_res_f32_exp_direct(int32_t e)
{
	return e >= -126 && e <= 96;
}

/* Whether res_f32 may turn all of acc32 into floats so: every block narrow at one such e. */
static inline bool
ainftp_res_f32_narrow(const struct ainftp_acc *a)
{
	return a->uni.mag != AINFTP_MAG_WIDE && a->uni.exp != AINFTP_EXP_NONE &&
	       ainftp_res_f32_exp_direct(a->uni.exp);
}

/*
 * Whether res_i16 may read acc32 at one exponent: every block narrow at
 * uni.exp, which is not empty. Its largest |sum| then sets the result's
 * exponent, and each value is one int32 shift and rounding away.
 */
static inline bool
ainftp_res_i16_narrow(const struct ainftp_acc *a)
{
	return a->uni.mag != AINFTP_MAG_WIDE && a->uni.exp != AINFTP_EXP_NONE;
}

/* 2^e as a float, for -126 <= e <= 127: its bits. */
static inline float
ainftp_pow2f(int32_t e)
{
	union {
		uint32_t u;
		float f;
	} v = {.u = (uint32_t)(e + 127) << 23};

	return v.f;
}

/* Whether block b sums in acc (int64); uni never is. */
static inline bool
ainftp_acc_wide(const struct ainftp_acc *a, uint32_t b)
{
	return a->uni.mag == AINFTP_MAG_WIDE && a->mag[b] == AINFTP_MAG_WIDE;
}

/*
 * The same for block b alone, at its exponent exp (as ainftp_acc_state gives
 * it): narrow, and empty (its sums are zeros, times 1) or at such an exp.
 */
static inline bool
ainftp_res_f32_block_narrow(const struct ainftp_acc *a, uint32_t b, int32_t exp)
{
	return !ainftp_acc_wide(a, b) && (exp == AINFTP_EXP_NONE || ainftp_res_f32_exp_direct(exp));
}

/* The sum of element i, at its block's exponent, whichever form the block is in. */
static inline int64_t
ainftp_acc_at(const struct ainftp_acc *a, uint32_t i)
{
	if (a->fresh)
		return 0;
	return ainftp_acc_wide(a, i / AINFTP_BLOCK) ? a->acc[i] : a->acc32[i];
}

/* Empty the accumulator (all zero, every block narrow and AINFTP_EXP_NONE), in O(1). */
void ainftp_acc_reset(struct ainftp_acc *a);

/*
 * Worker side. Return 0, or -1 (and write nothing useful) when x holds a NaN
 * or an infinity. Exponents: value = q * 2^e.
 *   int16: one e per packet; |error| <= 2^e, and <= 2^-15 * 2^ceil(log2 max|x|)
 *          while max|x| >= 2^-113 (below that e is clamped at -128).
 *   int8:  one e per block of 32; the same bounds with 2^-7 and each block's
 *          max (while it is >= 2^-121).
 */
typedef int (*ainftp_quant_i16_fn)(const float *x, uint32_t n, int16_t *q, int8_t *e);
typedef int (*ainftp_quant_i8_fn)(const float *x, uint32_t n, int8_t *e, int8_t *q);

/*
 * Appliance side: add one contribution, read straight from the wire payload.
 * Return 0, or -1 when a float32 payload holds a NaN or an infinity (then the
 * accumulator is unchanged).
 */
typedef void (*ainftp_acc_i16_fn)(struct ainftp_acc *a, const int16_t *q, int8_t e);
typedef void (*ainftp_acc_i8_fn)(struct ainftp_acc *a, const int8_t *e, const int8_t *q);
typedef int (*ainftp_acc_f32_fn)(struct ainftp_acc *a, const float *x);

/*
 * Results: float32, int16 with one exponent (returned), or int8 blocks: one
 * exponent per block at e, the values at q (the int8 payload's two parts).
 */
typedef void (*ainftp_res_f32_fn)(const struct ainftp_acc *a, float *out);
typedef int8_t (*ainftp_res_i16_fn)(const struct ainftp_acc *a, int16_t *out);
typedef void (*ainftp_res_i8_fn)(const struct ainftp_acc *a, int8_t *e, int8_t *q);

/* ainftp_dequant_i16's bits (q * 2^e, one rounding), and a sum of squares of floats (the
 * sentry's SIMD kernels give both: ainftp_sentry.h). */
typedef void (*ainftp_dequant_i16_fn)(const int16_t *q, uint32_t n, int8_t e, float *out);
typedef double (*ainftp_sumsq_fn)(const float *x, uint32_t n);

/*
 * The largest |x[i]| as its float's bits, which order as the values do; at or
 * above AINFTP_F32_ABS_INF, a NaN or an infinity is among them. The client's
 * check of a whole gradient before it sends any of it.
 */
typedef uint32_t (*ainftp_max_abs_fn)(const float *x, uint32_t n);

struct ainftp_quant_ops {
	const char *name; /* "scalar", "avx2", "avx512" */
	ainftp_quant_i16_fn quant_i16;
	ainftp_quant_i8_fn quant_i8;
	ainftp_acc_i16_fn acc_i16;
	ainftp_acc_i8_fn acc_i8;
	ainftp_acc_f32_fn acc_f32;
	/*
	 * acc_f32 of float32s at any address (a payload where a frame puts it,
	 * offset 74): the same sum without the alignment copy. NULL where the
	 * kernels read floats as floats: the caller copies to alignment first.
	 */
	int (*acc_f32_any)(struct ainftp_acc *a, const void *x);
	ainftp_res_f32_fn res_f32;
	ainftp_res_i16_fn res_i16;
	ainftp_res_i8_fn res_i8;
	ainftp_max_abs_fn max_abs_bits;
};

extern const struct ainftp_quant_ops ainftp_quant_scalar;
extern const struct ainftp_quant_ops ainftp_quant_avx2; /* check ainftp_quant_have() first */
extern const struct ainftp_quant_ops ainftp_quant_avx512;

/* Whether the CPU runs a set of kernels ("scalar" always does). */
bool ainftp_quant_have(const struct ainftp_quant_ops *ops);

/* The widest set the CPU has, capped at max_bits (512, 256, or 0 for scalar). */
const struct ainftp_quant_ops *ainftp_quant_select(unsigned int max_bits);

/* Worker side, from a result: float32 from int16 and its exponent (exact). */
void ainftp_dequant_i16(const int16_t *q, uint32_t n, int8_t e, float *out);
void ainftp_dequant_i8(const int8_t *e, const int8_t *q, uint32_t n, float *out);

/*
 * For the kernels (ainftp_quant*.c) only: the block rules shared by the scalar
 * reference and the SIMD versions, so that they cannot drift apart.
 */

#define AINFTP_F32_ABS_INF 0x7f800000u /* bits of |x| at or above this: NaN or infinity */

/* Elements in block b. */
static inline uint32_t
ainftp_block_len(uint32_t n, uint32_t b)
{
	uint32_t rest = n - b * AINFTP_BLOCK;

	return rest < AINFTP_BLOCK ? rest : AINFTP_BLOCK;
}

/* Exponent spread a block holds exactly for contributions of w bits. */
static inline int32_t
ainftp_span(int w)
{
	return 63 - AINFTP_WORKER_BITS - w;
}

/* frexp exponent of a finite m > 0 given the bits of |m|: m = f * 2^k, f in [0.5, 1). */
static inline int32_t
ainftp_frexp_bits(uint32_t bits)
{
	if (bits >> 23)
		return (int32_t)(bits >> 23) - 126;
	return (32 - __builtin_clz(bits)) - 149;
}

/* Wire exponent for a maximum |x| given by its bits (non-zero, finite). */
static inline int32_t
ainftp_quant_exp(uint32_t maxbits, int qbits)
{
	int32_t e = ainftp_frexp_bits(maxbits) - qbits;

	return e < -128 ? -128 : (e > 127 ? 127 : e);
}

/* rne(x * scale) saturated to [-lim, lim]; scale = 2^-e makes the product exact in double. */
int32_t ainftp_quant_one(float x, double scale, int32_t lim);

/* v / 2^s rounded to nearest, ties to even; any s >= 1. */
static inline int64_t
ainftp_shr_rne(int64_t v, int32_t s)
{
	uint64_t r, half;
	int64_t q;

	if (s > 63)
		return 0; /* |v| <= 2^63: at most a tie at 1/2, which goes to 0 */
	q = v >> s;
	r = (uint64_t)v & ((UINT64_C(1) << s) - 1);
	half = UINT64_C(1) << (s - 1);
	return q + (r > half || (r == half && (q & 1)));
}

/* v * 2^s, s < 64: a left shift (two's complement, never UB) or ainftp_shr_rne. */
static inline int64_t
ainftp_scale_rne(int64_t v, int32_t s)
{
	return s >= 0 ? (int64_t)((uint64_t)v << s) : ainftp_shr_rne(v, -s);
}

/*
 * How a block takes a non-zero contribution (docs/QUANTIZATION.md,
 * "Summing"; an all-zero one changes nothing, not even mag), for shifts ash
 * (the sum's) and csh (the contribution's):
 *   32:   acc32 = acc32 * 2^ash + c * 2^csh (no overflow: mag bounds it);
 *   64:   acc = acc * 2^ash + c * 2^csh, csh < 0 only on overflow (rounded);
 *   SLOW: not for ainftp_acc_quick: ainftp_acc_step decides.
 */
enum { AINFTP_STEP_32 = 1, AINFTP_STEP_64, AINFTP_STEP_SLOW };

/* Largest w + shift a narrow block takes: 2^30 added to mag <= INT32_MAX cannot wrap. */
#define AINFTP_NARROW_BITS 30

/*
 * Room below an int8 block's first contribution: the block starts at exp =
 * e - AINFTP_I8_ROOM, that contribution shifted left by it, so that a later
 * one up to 2^4 times smaller (another worker's block of the same gradient:
 * the usual case) adds without the sum shifting first (ainftp_acc_quick's
 * case). Exact either way. elo keeps the lowest exponent, and exp returns to
 * it when the block widens (ainftp_acc_widen) or leaves in a part, so the
 * int64 rule and its overflow see the same exponents as without room. int16
 * keeps none: its packet-wide state (uni) shifts once per packet, not per
 * block.
 */
#define AINFTP_I8_ROOM 4

static inline int32_t
ainftp_room(int w)
{
	return w == AINFTP_QBITS_INT8 ? AINFTP_I8_ROOM : 0;
}

/*
 * The common case, once uni is gone: block b not empty and e within [exp,
 * emax], so nothing but mag changes (ash = 0); a narrow block also needs
 * mag's room. Returns 32 or 64 (and updates mag), else SLOW.
 */
static inline int
ainftp_acc_quick(struct ainftp_acc *a, uint32_t b, int32_t e, int w, int32_t *csh)
{
	uint32_t mag = a->mag[b], add;

	if (e < a->exp[b] || e > a->emax[b])
		return AINFTP_STEP_SLOW;
	*csh = e - a->exp[b];
	if (mag == AINFTP_MAG_WIDE)
		return AINFTP_STEP_64;
	if (w + *csh > AINFTP_NARROW_BITS)
		return AINFTP_STEP_SLOW;
	add = UINT32_C(1) << (w + *csh);
	if (mag > (uint32_t)INT32_MAX - add)
		return AINFTP_STEP_SLOW;
	a->mag[b] = mag + add;
	/* Whatever w: an int16 contribution may come below an int8 block's elo. */
	if (e < a->elo[b])
		a->elo[b] = e;
	return AINFTP_STEP_32;
}

/*
 * Everything ainftp_acc_quick left: updates exp, emax, mag, elo and overflow,
 * widens the block (acc32 to acc) when its bound would pass 31 bits, and
 * rounds acc right in place when overflow raises exp. Returns 32 or 64.
 */
int ainftp_acc_step(struct ainftp_acc *a, uint32_t b, int32_t e, int w, int32_t *ash, int32_t *csh);

/*
 * Block b's sums into acc, for good: the same values (uni gone), at elo, the
 * exponent they would have without room (exact: every sum is a multiple of
 * 2^(elo - exp)).
 */
void ainftp_acc_widen(struct ainftp_acc *a, uint32_t b);

/* Blocks on their own: the arrays take uni, which goes. */
void ainftp_acc_uni_drop(struct ainftp_acc *a);

/* Before a block takes a non-zero contribution on its own (zeros keep uni). */
static inline void
ainftp_acc_uni_off(struct ainftp_acc *a)
{
	if (__builtin_expect(a->uni.mag != AINFTP_MAG_WIDE, 0))
		ainftp_acc_uni_drop(a);
}

/*
 * The int16 packet as a whole while uni holds: every block would do the same
 * on its own if its part of c is not zero, so add c to all of acc32, acc32 =
 * acc32 * 2^ash + c * 2^csh, count the blocks of c that are not zero (nz),
 * and settle with ainftp_acc_uni_after. Adding a zero block changes nothing
 * but the shift, which ainftp_acc_uni_split undoes exactly.
 *
 * ainftp_acc_uni_quick is the common case, inline: e within [exp, emax] with
 * room in mag, ash = 0; returns the shift csh, or -1. ainftp_acc_uni_plan is
 * the rest (exp or emax change): returns false when the packet must go block
 * by block (then ainftp_acc_uni_try after it). When a->fresh (plan: ash =
 * csh = 0), store c in acc32 rather than add it, and clear fresh.
 */
static inline int32_t
ainftp_acc_uni_quick(const struct ainftp_acc *a, int32_t e, int w, struct ainftp_acc_block *next)
{
	int32_t csh;

	if (e < a->uni.exp || e > a->uni.emax) /* also when uni is gone or all empty */
		return -1;
	csh = e - a->uni.exp;
	if (w + csh > AINFTP_NARROW_BITS ||
	    a->uni.mag > (uint32_t)INT32_MAX - (UINT32_C(1) << (w + csh)))
		return -1;
	*next = a->uni;
	next->mag += UINT32_C(1) << (w + csh);
	return csh;
}

bool ainftp_acc_uni_plan(const struct ainftp_acc *a, int32_t e, int w,
			 struct ainftp_acc_block *next, int32_t *ash, int32_t *csh);
void ainftp_acc_uni_split(struct ainftp_acc *a, const struct ainftp_acc_block *next, int32_t ash,
			  uint32_t nz, const int16_t *q);

static inline void
ainftp_acc_uni_after(struct ainftp_acc *a, const struct ainftp_acc_block *next, int32_t ash,
		     uint32_t nz, const int16_t *q)
{
	if (__builtin_expect(nz == ainftp_blocks(a->n), 1))
		a->uni = *next;
	else
		ainftp_acc_uni_split(a, next, ash, nz, q);
}

/* After an int16 packet went block by block: uni again if every block is narrow and alike. */
void ainftp_acc_uni_try(struct ainftp_acc *a);

/*
 * The int64 rule on a wide block b, for a non-zero contribution of w bits at
 * exponent e: updates exp, emax and overflow (rounding the block's acc right
 * in place when overflow raises exp). Returns the shift of the contribution
 * (< 0 only on overflow) and sets *acc_shl, the left shift still owed to the
 * block's acc.
 */
int32_t ainftp_acc_prep(struct ainftp_acc *a, uint32_t b, int32_t e, int w, int32_t *acc_shl);
/* acc[j] = acc[j] * 2^acc_shl + c[j] * 2^c_shift (rounded), j < m. */
void ainftp_acc_apply(int64_t *acc, const int64_t *c, uint32_t m, int32_t acc_shl, int32_t c_shift);
/* acc32[j] = acc32[j] * 2^ash + c[j] * 2^csh, j < m (mag has checked the range). */
void ainftp_acc_apply32(int32_t *acc32, const int64_t *c, uint32_t m, int32_t ash, int32_t csh);
/* The whole rule for one block (zero test, quick, step, apply), on widened contributions. */
void ainftp_acc_block_add(struct ainftp_acc *a, uint32_t b, const int64_t *c, int32_t e, int w);

/* res_i16: the exponent from K (AINFTP_EXP_NONE: nothing), and one element at shift d. */
int8_t ainftp_res_i16_exp(int32_t k);
int16_t ainftp_res_i16_one(int64_t v, int32_t d);

/*
 * res_i8, per block: the exponent from the block's sum of largest magnitude
 * (top, at exp; top == 0 or exp == AINFTP_EXP_NONE: the block is zero), the
 * smallest at which top rounds within +-127; and one element at shift d.
 * ainftp_res_i8_ref is the scalar reference (the SIMD sets convert narrow
 * blocks themselves and hand it wide or saturating ones, one block at a time).
 */
int8_t ainftp_res_i8_exp(int64_t top, int32_t exp);
int8_t ainftp_res_i8_one(int64_t v, int32_t d);
int8_t ainftp_res_i8_block_ref(const struct ainftp_acc *a, uint32_t b, int8_t *q);
void ainftp_res_i8_ref(const struct ainftp_acc *a, int8_t *e, int8_t *q);

/*
 * res_i8 for a SIMD set: empty blocks zero, each other narrow block (sums in
 * acc32 at exp) to narrow(), which returns false to leave it, like every
 * wide block, to the reference.
 */
typedef bool (*ainftp_res_i8_narrow_fn)(const struct ainftp_acc *a, uint32_t b, int32_t exp,
					int8_t *eo, int8_t *q);
void ainftp_res_i8_blocks(const struct ainftp_acc *a, int8_t *e, int8_t *q,
			  ainftp_res_i8_narrow_fn narrow);

#endif
