/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Quantization and exact accumulation: every SIMD kernel gives the scalar
 * reference's bits, the reference keeps its error bounds, and sums match an
 * independent __int128 computation whatever the order of arrival.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ainftp_quant.h"
#include "ainftp_test_rng.h"

#define DIM(a) (sizeof(a) / sizeof((a)[0]))

#define NOPS 3
static const struct ainftp_quant_ops *const all_ops[NOPS] = {
	&ainftp_quant_scalar,
	&ainftp_quant_avx2,
	&ainftp_quant_avx512,
};
static const struct ainftp_quant_ops *const ref = &ainftp_quant_scalar;

static const uint32_t sizes[] = {1, 31, 32, 33, 256, 512, 1000, 2048};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAXN 4160 /* past the 128 blocks of maxima AVX-512 keeps for float32 */

/* Uniform in (-1, 1), 24 bits. */
static float
rnd_unit(void)
{
	return (float)((int32_t)(rnd() >> 40) - (1 << 23)) * 0x1p-23f;
}

/* The ops set of loop index i, or NULL (and a note) when the CPU lacks it. */
static const struct ainftp_quant_ops *
ops_of(int i)
{
	if (!ainftp_quant_have(all_ops[i])) {
		printf("test_quant: skipping %s, not on this CPU\n", all_ops[i]->name);
		return NULL;
	}
	return all_ops[i];
}

/* Byte offset of the first difference, or -1. */
static long
first_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	size_t i;

	for (i = 0; i < len; i++)
		if (x[i] != y[i])
			return (long)i;
	return -1;
}

/*
 * ck_assert_msg, without the pipe write that check's fork mode makes for
 * every assertion that passes: for the loops that check millions of things.
 */
#define check(cond, ...)                           \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

#define ck_assert_same(a, b, len, ...)                 \
	do {                                           \
		long _d = first_diff((a), (b), (len)); \
		check(_d < 0, __VA_ARGS__);            \
	} while (0)

/*
 * Buffers that end where an unmapped page begins: a kernel that reads or
 * writes past a payload or an output faults (sanitizers do not see SIMD loads).
 */
enum { G_IN, G_IN8, G_EXP, G_OUT, G_SLOTS };
static unsigned char *guard_base[G_SLOTS];
static size_t guard_size;

static void *
guard_end(int slot, size_t len)
{
	if (!guard_base[slot]) {
		size_t pg = (size_t)sysconf(_SC_PAGESIZE);

		guard_size = (MAXN * sizeof(float) + pg - 1) / pg * pg;
		guard_base[slot] = mmap(NULL, guard_size + pg, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert(guard_base[slot] != MAP_FAILED);
		ck_assert_int_eq(mprotect(guard_base[slot] + guard_size, pg, PROT_NONE), 0);
	}
	return guard_base[slot] + guard_size - len;
}

static void *
guard_copy(int slot, const void *src, size_t len)
{
	return memcpy(guard_end(slot, len), src, len);
}

/*
 * One allocation of ainftp_acc_size(n) bytes and 64 more, all a canary first:
 * the gaps between acc, acc32 and the block arrays and the bytes after them
 * must survive (acc itself too, while every block is narrow: only widening
 * writes it).
 */
#define CANARY 0xa5

static size_t
acc_bytes(uint32_t n)
{
	return ainftp_acc_size(n) + 64;
}

static void
acc_init(struct ainftp_acc *a, uint32_t n)
{
	void *mem = aligned_alloc(64, acc_bytes(n));

	ck_assert(mem);
	memset(mem, CANARY, acc_bytes(n));
	ainftp_acc_init(a, n, mem);
	ck_assert_ptr_eq(a->acc, mem);
}

static void
canary_check(const unsigned char *p, size_t from, size_t to, const char *what, uint32_t n)
{
	size_t i;

	for (i = from; i < to; i++)
		ck_assert_msg(p[i] == CANARY, "written past %s (n=%u, byte %zu)", what, n, i);
}

/* The parts of an accumulator's allocation, in order: where each starts and its bytes. */
static void
acc_parts(const struct ainftp_acc *a, const void *at[6], size_t len[6])
{
	size_t nb = ainftp_blocks(a->n);

	at[0] = a->acc, len[0] = a->n * sizeof(*a->acc);
	at[1] = a->acc32, len[1] = a->n * sizeof(*a->acc32);
	at[2] = a->exp, len[2] = nb * sizeof(*a->exp);
	at[3] = a->emax, len[3] = nb * sizeof(*a->emax);
	at[4] = a->mag, len[4] = nb * sizeof(*a->mag);
	at[5] = a->elo, len[5] = nb * sizeof(*a->elo);
}

static void
acc_free(struct ainftp_acc *a)
{
	static const char *const names[6] = {"acc", "acc32", "exp", "emax", "mag", "elo"};
	const unsigned char *p = (const unsigned char *)a->acc;
	const void *at[6];
	size_t len[6];
	int k;

	acc_parts(a, at, len);
	for (k = 0; k < 6; k++) {
		size_t from = (size_t)((const unsigned char *)at[k] - p) + len[k];
		size_t to =
			k < 5 ? (size_t)((const unsigned char *)at[k + 1] - p) : acc_bytes(a->n);

		ck_assert_uint_le(from, to);
		canary_check(p, from, to, names[k], a->n);
	}
	free(a->acc);
}

static void
acc_copy(struct ainftp_acc *dst, const struct ainftp_acc *src)
{
	const void *from[6], *to[6];
	size_t len[6];
	int k;

	dst->overflow = src->overflow;
	dst->fresh = src->fresh;
	dst->uni = src->uni;
	acc_parts(src, from, len);
	acc_parts(dst, to, len);
	for (k = 0; k < 6; k++)
		memcpy((void *)(uintptr_t)to[k], from[k], len[k]);
}

static void
assert_acc_same(const struct ainftp_acc *want, const struct ainftp_acc *got, const char *what)
{
	check(want->overflow == got->overflow, "%s: overflow %d, want %d", what, got->overflow,
	      want->overflow);
	ck_assert_same(&want->uni, &got->uni, sizeof(want->uni), "%s: uni state differs (n=%u)",
		       what, want->n);
	ck_assert_same(want->exp, got->exp, ainftp_blocks(want->n) * sizeof(*want->exp),
		       "%s: block state differs (n=%u)", what, want->n);
	ck_assert_same(want->emax, got->emax, ainftp_blocks(want->n) * sizeof(*want->emax),
		       "%s: block state differs (n=%u)", what, want->n);
	ck_assert_same(want->mag, got->mag, ainftp_blocks(want->n) * sizeof(*want->mag),
		       "%s: block state differs (n=%u)", what, want->n);
	/* elo where it counts (an int8 narrow block's), stale elsewhere. */
	for (uint32_t b = 0; b < ainftp_blocks(want->n); b++)
		check(ainftp_acc_room(want, b) == ainftp_acc_room(got, b),
		      "%s: block %u room %d, want %d", what, b, ainftp_acc_room(got, b),
		      ainftp_acc_room(want, b));
	ck_assert_same(want->acc, got->acc, want->n * sizeof(*want->acc),
		       "%s: acc differs at byte %ld (n=%u)", what, _d, want->n);
	check(want->fresh == got->fresh, "%s: fresh %d, want %d", what, got->fresh, want->fresh);
	/* A fresh acc32 holds anything (every block is empty). */
	if (!want->fresh)
		ck_assert_same(want->acc32, got->acc32, want->n * sizeof(*want->acc32),
			       "%s: acc32 differs at byte %ld (n=%u)", what, _d, want->n);
}

/* The int8 payload (exponents, then values) res_i8 writes for a, at out (guarded). */
static int8_t *
res_i8_payload(const struct ainftp_quant_ops *ops, const struct ainftp_acc *a)
{
	size_t len = a->n + ainftp_blocks(a->n);
	int8_t *out = guard_end(G_OUT, len);

	ops->res_i8(a, out, out + ainftp_blocks(a->n));
	return out;
}

static void
assert_res_i8_same(const struct ainftp_quant_ops *ops, const struct ainftp_acc *a, const char *what)
{
	static int8_t want[MAXN + MAXN / 32];
	size_t len = a->n + ainftp_blocks(a->n);

	memcpy(want, res_i8_payload(ref, a), len);
	ck_assert_same(want, res_i8_payload(ops, a), len,
		       "%s res_i8 %s: differs at byte %ld (n=%u)", ops->name, what, _d, a->n);
}

/*
 * res_i8 is a function of the exact sums alone: a copy of a with every block
 * wide and its sums shifted left (exponents lowered) by amounts int64 holds
 * gives the same payload as a, narrow or wide.
 */
static void
assert_res_i8_any_state(const struct ainftp_quant_ops *ops, const struct ainftp_acc *a,
			const char *what)
{
	static int8_t want[MAXN + MAXN / 32];
	size_t len = a->n + ainftp_blocks(a->n);
	struct ainftp_acc w;
	uint32_t b, i;

	memcpy(want, res_i8_payload(ops, a), len);
	acc_init(&w, a->n);
	w.fresh = false;
	w.uni.mag = AINFTP_MAG_WIDE;
	for (b = 0; b < ainftp_blocks(a->n); b++) {
		struct ainftp_acc_block st = ainftp_acc_state(a, b);
		uint32_t i0 = b * AINFTP_BLOCK, blen = ainftp_block_len(a->n, b);
		int room = 63, sh;

		for (i = i0; st.exp != AINFTP_EXP_NONE && i < i0 + blen; i++) {
			int64_t v = ainftp_acc_at(a, i);
			int used =
				v == 0 ? 0
				       : 64 - __builtin_clzll(v < 0 ? -(uint64_t)v : (uint64_t)v);

			room = 63 - used < room ? 63 - used : room;
		}
		/* No rnd(): the callers' random sequences stay as they were. */
		room = room < 0 ? 0 : room; /* INT64_MIN */
		sh = st.exp == AINFTP_EXP_NONE ? 0 : (int)((b * 7 + a->n) % (uint32_t)(room + 1));
		w.exp[b] = st.exp == AINFTP_EXP_NONE ? st.exp : st.exp - sh;
		w.emax[b] = st.emax;
		w.mag[b] = AINFTP_MAG_WIDE;
		for (i = i0; i < i0 + blen; i++)
			w.acc[i] = st.exp == AINFTP_EXP_NONE
					   ? 0
					   : (int64_t)((uint64_t)ainftp_acc_at(a, i) << sh);
	}
	ck_assert_same(want, res_i8_payload(ops, &w), len,
		       "%s res_i8 %s: widened and shifted, differs at byte %ld (n=%u)", ops->name,
		       what, _d, a->n);
	acc_free(&w);
}

/* The result kernels of ops against the reference. */
static void
assert_res_same(const struct ainftp_quant_ops *ops, const struct ainftp_acc *a, const char *what)
{
	static float fw[MAXN];
	static int16_t iw[MAXN];
	float *fg = guard_end(G_OUT, a->n * sizeof(float));
	int16_t *ig;
	int8_t ew, eg;

	ref->res_f32(a, fw);
	ops->res_f32(a, fg);
	ck_assert_same(fw, fg, a->n * sizeof(float), "%s res_f32 %s: differs at byte %ld (n=%u)",
		       ops->name, what, _d, a->n);
	ew = ref->res_i16(a, iw);
	ig = guard_end(G_OUT, a->n * sizeof(int16_t));
	eg = ops->res_i16(a, ig);
	ck_assert_msg(ew == eg, "%s res_i16 %s: exponent %d, want %d", ops->name, what, eg, ew);
	ck_assert_same(iw, ig, a->n * sizeof(int16_t), "%s res_i16 %s: differs at byte %ld (n=%u)",
		       ops->name, what, _d, a->n);
	assert_res_i8_same(ops, a, what);
}

/* ---- inputs ---- */

enum gen {
	G_RANDOM, /* one scale for all */
	G_WIDE,	  /* each element its own scale, 2^-60 .. 2^60 */
	G_ZERO,
	G_NEGZERO,  /* -0.0 among zeros, and all -0.0 */
	G_FLTMAX,   /* +/-FLT_MAX and neighbours */
	G_ROUNDUP,  /* max|x| just below a power of two: rounds to 2^15 (2^7), saturates */
	G_DENORMAL, /* all subnormal: the exponent clamps at -128 */
	G_TINY,	    /* normal but below 2^-113: clamps too */
	G_HUGE,	    /* one huge value among small ones */
	G_ALTERNATE,
	G_POW2,	  /* max|x| a power of two */
	G_TIES16, /* halfway cases of the int16 rounding */
	G_TIES8,  /* halfway cases of the int8 rounding, per block */
	G_MAX
};

static void
fill(enum gen g, float *x, uint32_t n)
{
	int32_t s = rnd_in(-20, 20);
	uint32_t i;

	for (i = 0; i < n; i++) {
		float u = rnd_unit();

		switch (g) {
		case G_RANDOM:
			x[i] = ldexpf(u, s);
			break;
		case G_WIDE:
			x[i] = ldexpf(u, rnd_in(-60, 60));
			break;
		case G_ZERO:
			x[i] = 0.0f;
			break;
		case G_NEGZERO:
			x[i] = s < 0 ? -0.0f : (i % 3 ? 0.0f : -0.0f);
			break;
		case G_FLTMAX:
			x[i] = (i % 2 ? -1 : 1) * (i % 3 ? FLT_MAX : nextafterf(FLT_MAX, 0) * u);
			break;
		case G_ROUNDUP:
			x[i] = i % 5 ? u : (i % 2 ? -1 : 1) * (1.0f - 0x1p-24f);
			break;
		case G_DENORMAL:
			x[i] = ldexpf((float)rnd_in(-(1 << 23) + 1, (1 << 23) - 1), -149);
			break;
		case G_TINY:
			x[i] = ldexpf(u, -114 - (s + 20) / 4);
			break;
		case G_HUGE:
			x[i] = u * 1e-20f;
			break;
		case G_ALTERNATE:
			x[i] = (i % 2 ? -1 : 1) * (1.0f + fabsf(u));
			break;
		case G_POW2:
			x[i] = i % 7 ? u * 0.5f : -1.0f;
			break;
		case G_TIES16:
			/* max 1.0: e = -14, so (j + 1/2) * 2^-14 are ties. */
			x[i] = i == 0 ? 1.0f : ((float)rnd_in(-16383, 16382) + 0.5f) * 0x1p-14f;
			break;
		case G_TIES8:
			x[i] = i % AINFTP_BLOCK == 0 ? 1.0f
						     : ((float)rnd_in(-63, 62) + 0.5f) * 0x1p-6f;
			break;
		case G_MAX:
			break;
		}
	}
	if (g == G_HUGE)
		x[rnd() % n] = (rnd() & 1 ? -3e30f : 3e30f);
}

/* ---- worker side ---- */

static void
check_quant_same(const struct ainftp_quant_ops *ops, const float *x, uint32_t n, const char *what)
{
	static int16_t qw[MAXN];
	static int8_t bw[MAXN], ew8[MAXN / 32];
	const float *xg = guard_copy(G_IN, x, n * sizeof(float));
	int16_t *qg = guard_end(G_OUT, n * sizeof(int16_t));
	int8_t *bg, *eg8, ew = 0, eg = 0;
	int rw, rg;

	rw = ref->quant_i16(x, n, qw, &ew);
	rg = ops->quant_i16(xg, n, qg, &eg);
	ck_assert_msg(rw == rg, "%s quant_i16 %s n=%u: returns %d, want %d", ops->name, what, n, rg,
		      rw);
	if (rw == 0) {
		ck_assert_msg(ew == eg, "%s quant_i16 %s n=%u: e %d, want %d", ops->name, what, n,
			      eg, ew);
		ck_assert_same(qw, qg, n * sizeof(*qw), "%s quant_i16 %s n=%u: byte %ld differs",
			       ops->name, what, n, _d);
	}
	rw = ref->quant_i8(x, n, ew8, bw);
	bg = guard_end(G_OUT, n);
	eg8 = guard_end(G_EXP, ainftp_blocks(n));
	rg = ops->quant_i8(xg, n, eg8, bg);
	ck_assert_msg(rw == rg, "%s quant_i8 %s n=%u: returns %d, want %d", ops->name, what, n, rg,
		      rw);
	if (rw == 0) {
		ck_assert_same(ew8, eg8, ainftp_blocks(n), "%s quant_i8 %s n=%u: exponent %ld",
			       ops->name, what, n, _d);
		ck_assert_same(bw, bg, n, "%s quant_i8 %s n=%u: byte %ld differs", ops->name, what,
			       n, _d);
	}
}

/*
 * max_abs_bits, the client's NaN and infinity check: the reference's answer
 * at every size, for every special value at the first, a middle and the last
 * element (and with none), and at or above AINFTP_F32_ABS_INF exactly when one
 * is there. Each of the float's bits moves the answer: NaN payloads, -0,
 * subnormals and the largest finite float.
 */
START_TEST(max_abs_matches_reference)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	const uint32_t special[] = {0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x7f800000u,
				    0xff800000u, 0x80000000u, 0x00000001u, 0x807fffffu,
				    0x7f7fffffu, 0xff7fffffu};
	static float x[MAXN];
	uint32_t s, k, w;

	if (!ops)
		return;
	rng = 8;
	for (s = 0; s < NSIZES; s++) {
		uint32_t n = sizes[s], where[3] = {0, n / 2, n - 1};

		fill(G_RANDOM, x, n);
		ck_assert_uint_eq(ops->max_abs_bits(x, n), ref->max_abs_bits(x, n));
		ck_assert_uint_lt(ops->max_abs_bits(x, n), AINFTP_F32_ABS_INF);
		for (k = 0; k < DIM(special); k++)
			for (w = 0; w < 3; w++) {
				uint32_t i = where[w], want;
				float keep = x[i];

				memcpy(&x[i], &special[k], sizeof(float));
				want = ref->max_abs_bits(x, n);
				ck_assert_msg(
					ops->max_abs_bits(x, n) == want,
					"%s max_abs_bits n=%u, bits %08x at %u: %08x, want %08x",
					ops->name, n, special[k], i, ops->max_abs_bits(x, n), want);
				ck_assert_uint_eq(want >= AINFTP_F32_ABS_INF, !isfinite(x[i]));
				x[i] = keep;
			}
	}
	/* All zero, and all -0: the answer is 0. */
	memset(x, 0, sizeof(x));
	ck_assert_uint_eq(ops->max_abs_bits(x, MAXN), 0);
	for (k = 0; k < MAXN; k++)
		x[k] = -0.0f;
	ck_assert_uint_eq(ops->max_abs_bits(x, MAXN), 0);
}
END_TEST

/*
 * A result back to floats: the same bits as ldexpf element by element (what
 * the dequantizers were), for every exponent a wire can carry, the extreme
 * values and the subnormal and infinite results among them.
 */
START_TEST(dequant_is_ldexpf)
{
	static const int16_t q16[] = {0,    1,	  -1,	 2,	3,	-3,    255,
				      -256, 4097, -4097, 32767, -32767, -32768};
	static const int8_t q8[] = {0, 1, -1, 3, 5, -7, 63, -64, 127, -127, -128};
	float got[64], want;
	int8_t e8[2];
	int8_t v8[64];
	uint32_t i;
	int e;

	for (e = -128; e <= 127; e++) {
		ainftp_dequant_i16(q16, (uint32_t)DIM(q16), (int8_t)e, got);
		for (i = 0; i < (uint32_t)DIM(q16); i++) {
			want = ldexpf((float)q16[i], e);
			ck_assert_msg(memcmp(&got[i], &want, sizeof(want)) == 0,
				      "int16 %d e %d: %a, ldexpf %a", q16[i], e, got[i], want);
		}
		/* Two blocks at exponents e and -e - 1 (both in range). */
		e8[0] = (int8_t)e;
		e8[1] = (int8_t)(-e - 1);
		for (i = 0; i < 64; i++)
			v8[i] = q8[i % (uint32_t)DIM(q8)];
		ainftp_dequant_i8(e8, v8, 64, got);
		for (i = 0; i < 64; i++) {
			want = ldexpf((float)v8[i], e8[i / 32]);
			ck_assert_msg(memcmp(&got[i], &want, sizeof(want)) == 0,
				      "int8 %d e %d: %a, ldexpf %a", v8[i], e8[i / 32], got[i],
				      want);
		}
	}
}
END_TEST

START_TEST(quant_matches_reference)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	static float x[MAXN];
	uint32_t s, seed;
	int g;

	if (!ops)
		return;
	for (seed = 1; seed <= 4; seed++) {
		rng = seed;
		for (s = 0; s < NSIZES; s++)
			for (g = 0; g < G_MAX; g++) {
				char what[32];

				fill(g, x, sizes[s]);
				snprintf(what, sizeof(what), "gen %d seed %u", g, seed);
				check_quant_same(ops, x, sizes[s], what);
			}
	}
}
END_TEST

START_TEST(quant_rejects_nan_inf)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	const float bad[] = {NAN, -NAN, INFINITY, -INFINITY};
	static float x[MAXN];
	static int16_t q[MAXN];
	static int8_t q8[MAXN], e8[MAXN / 32];
	struct ainftp_acc a, before;
	uint32_t s, k, where[3];
	int8_t e;

	if (!ops)
		return;
	rng = 7;
	for (s = 0; s < NSIZES; s++) {
		uint32_t n = sizes[s];

		acc_init(&a, n);
		acc_init(&before, n);
		fill(G_RANDOM, x, n);
		ck_assert_int_eq(ops->acc_f32(&a, x), 0);
		where[0] = 0;
		where[1] = n / 2;
		where[2] = n - 1;
		for (k = 0; k < 12; k++) {
			uint32_t i = where[k % 3];
			float keep = x[i];

			x[i] = bad[k / 3];
			acc_copy(&before, &a);
			ck_assert_int_eq(ops->quant_i16(x, n, q, &e), -1);
			ck_assert_int_eq(ops->quant_i8(x, n, e8, q8), -1);
			ck_assert_int_eq(ops->acc_f32(&a, x), -1);
			assert_acc_same(&before, &a, "rejected acc_f32");
			x[i] = keep;
		}
		acc_free(&a);
		acc_free(&before);
	}
}
END_TEST

/* |dequant(quant(x)) - x| <= 2^e, <= 2^(e-1) unless saturated, and the header's relative bound. */
static void
check_bound(const float *x, const float *y, uint32_t n, int8_t e, int lim, const int32_t *q,
	    int qbits, const char *what)
{
	uint32_t m = 0, i;
	double rel;

	for (i = 0; i < n; i++)
		m = fabsf(x[i]) > fabsf(x[m]) ? i : m;
	rel = x[m] == 0 ? 0 : ldexp(1.0, (int)ceil(log2(fabs(x[m]))) - qbits);
	for (i = 0; i < n; i++) {
		double err = fabs((double)y[i] - (double)x[i]);

		ck_assert_msg(err <= ldexp(1.0, e), "%s: |err| %a > 2^%d at %u", what, err, e, i);
		if (abs(q[i]) < lim)
			ck_assert_msg(err <= ldexp(1.0, e - 1), "%s: |err| %a > 2^%d at %u", what,
				      err, e - 1, i);
		if (fabsf(x[m]) >= ldexpf(1.0f, qbits - 128))
			ck_assert_msg(err <= rel, "%s: |err| %a > %a at %u", what, err, rel, i);
	}
}

START_TEST(quant_error_bound)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	static float x[MAXN], y[MAXN];
	static int16_t q[MAXN];
	static int8_t q8[MAXN], e8[MAXN / 32];
	static int32_t wide[MAXN];
	uint32_t s, seed, i, b;
	int8_t e;
	int g;

	if (!ops)
		return;
	for (seed = 1; seed <= 4; seed++) {
		rng = 100 + seed;
		for (s = 0; s < NSIZES; s++)
			for (g = 0; g < G_MAX; g++) {
				uint32_t n = sizes[s];

				fill(g, x, n);
				ck_assert_int_eq(ops->quant_i16(x, n, q, &e), 0);
				ainftp_dequant_i16(q, n, e, y);
				for (i = 0; i < n; i++)
					wide[i] = q[i];
				check_bound(x, y, n, e, INT16_MAX, wide, 15, "int16");

				ck_assert_int_eq(ops->quant_i8(x, n, e8, q8), 0);
				ainftp_dequant_i8(e8, q8, n, y);
				for (i = 0; i < n; i++)
					wide[i] = q8[i];
				for (b = 0; b < ainftp_blocks(n); b++)
					check_bound(x + b * 32, y + b * 32, ainftp_block_len(n, b),
						    e8[b], INT8_MAX, wide + b * 32, 7, "int8");
			}
	}
}
END_TEST

START_TEST(quant_exponents)
{
	/* x = {max/4, -max, 0}: the exponents and what -max becomes. */
	static const struct {
		float max;
		int8_t e16, e8;
		int16_t q16;
		int8_t q8;
	} cases[] = {
		{1.0f, -14, -6, -16384, -64},
		{1.0f - 0x1p-24f, -15, -7, -32767, -127}, /* rounds to 2^15: saturates */
		{FLT_MAX, 113, 121, -32767, -127},
		{0x1p-113f, -127, -119, -16384, -64},
		{0x1p-114f, -128, -120, -16384, -64},
		{0x1p-121f, -128, -127, -128, -64}, /* int16 clamped: fewer bits */
		{0x1p-149f, -128, -128, 0, 0},
		{0.0f, AINFTP_WIRE_EXP_ZERO, AINFTP_WIRE_EXP_ZERO, 0, 0},
	};
	const struct ainftp_quant_ops *ops = ops_of(_i);
	float x[3];
	int16_t q[3];
	int8_t q8[3], e;
	unsigned int c;

	if (!ops)
		return;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		x[0] = cases[c].max * 0.25f;
		x[1] = -cases[c].max;
		x[2] = -0.0f;
		ck_assert_int_eq(ops->quant_i16(x, 3, q, &e), 0);
		ck_assert_int_eq(e, cases[c].e16);
		ck_assert_int_eq(q[1], cases[c].q16);
		ck_assert_int_eq(q[2], 0);
		ck_assert_int_eq(ops->quant_i8(x, 3, &e, q8), 0);
		ck_assert_int_eq(e, cases[c].e8);
		ck_assert_int_eq(q8[1], cases[c].q8);
	}
}
END_TEST

/* ---- appliance side ---- */

enum enc { ENC_I16, ENC_I8, ENC_F32 };

static int16_t c16[MAXN];
static int8_t c8[MAXN], ce8[MAXN / 32];
static float cf[MAXN];
static int8_t ce16;

/* Random int16 values with some zero blocks and extremes. */
static void
gen_i16(uint32_t n, int32_t elo, int32_t ehi)
{
	uint32_t i, mode = rnd() % 8;

	ce16 = (int8_t)rnd_in(elo, ehi);
	for (i = 0; i < n; i++) {
		bool zero_block = mode == 1 && (i / 32) % 3 == 0;

		if (mode == 0 || zero_block)
			c16[i] = 0;
		else if (mode == 2)
			c16[i] = (int16_t)(i % 2 ? -32768 : 32767);
		else
			c16[i] = (int16_t)(rnd() >> (48 + rnd() % 16));
	}
}

static void
gen_i8(uint32_t n, int32_t elo, int32_t ehi)
{
	uint32_t i, b;

	for (b = 0; b < ainftp_blocks(n); b++) {
		uint32_t mode = rnd() % 8;

		ce8[b] = (int8_t)(mode == 0 ? AINFTP_WIRE_EXP_ZERO : rnd_in(elo, ehi));
		for (i = b * 32; i < b * 32 + ainftp_block_len(n, b); i++)
			c8[i] = (int8_t)(mode <= 1 ? 0
						   : (mode == 2 ? (i % 2 ? -128 : 127)
								: (int8_t)rnd()));
	}
}

/* Floats: one of the generators, scaled by 2^[slo, shi] (may overflow to Inf). */
static void
gen_f32(uint32_t n, int32_t slo, int32_t shi)
{
	int32_t s = rnd_in(slo, shi);
	uint32_t i;

	fill((enum gen)(rnd() % G_MAX), cf, n);
	for (i = 0; i < n; i++)
		cf[i] = ldexpf(cf[i], s);
}

/* Floats whose block maxima are all in [2^(s-1), 2^s), s in [slo, shi]; some zero blocks. */
static void
gen_f32_spread(uint32_t n, int32_t slo, int32_t shi)
{
	int32_t s = rnd_in(slo, shi);
	uint32_t i;
	bool zero = false;

	for (i = 0; i < n; i++) {
		if (i % AINFTP_BLOCK == 0)
			zero = rnd() % 8 == 0;
		if (zero)
			cf[i] = 0.0f;
		else if (i % AINFTP_BLOCK == 0)
			cf[i] = ldexpf(rnd() & 1 ? -0.75f : 0.75f, s);
		else
			cf[i] = ldexpf(rnd_unit(), s);
	}
}

static void
gen(enum enc enc, uint32_t n, int32_t lo, int32_t hi)
{
	if (enc == ENC_I16)
		gen_i16(n, lo, hi);
	else if (enc == ENC_I8)
		gen_i8(n, lo, hi);
	else
		gen_f32(n, lo, hi);
}

/* The current contribution, from guarded copies of its payload. */
static int
add(const struct ainftp_quant_ops *ops, struct ainftp_acc *a, enum enc enc)
{
	uint32_t n = a->n;

	if (enc == ENC_I16)
		ops->acc_i16(a, guard_copy(G_IN, c16, n * sizeof(int16_t)), ce16);
	else if (enc == ENC_I8)
		ops->acc_i8(a, guard_copy(G_EXP, ce8, ainftp_blocks(n)), guard_copy(G_IN8, c8, n));
	else
		return ops->acc_f32(a, guard_copy(G_IN, cf, n * sizeof(float)));
	return 0;
}

/* A run of contributions through ops and the reference, compared after each. */
static void
acc_run(const struct ainftp_quant_ops *ops, uint32_t n, enum enc enc, int32_t lo, int32_t hi,
	int steps)
{
	struct ainftp_acc w, g;
	char what[64];
	int k;

	acc_init(&w, n);
	acc_init(&g, n);
	for (k = 0; k < steps; k++) {
		int rw, rg;

		gen(enc, n, lo, hi);
		rw = add(ref, &w, enc);
		rg = add(ops, &g, enc);
		snprintf(what, sizeof(what), "%s enc %d exps [%d,%d] step %d", ops->name, enc, lo,
			 hi, k);
		ck_assert_msg(rw == rg, "%s: returns %d, want %d", what, rg, rw);
		assert_acc_same(&w, &g, what);
	}
	assert_res_same(ops, &g, what);
	acc_free(&w);
	acc_free(&g);
}

START_TEST(acc_matches_reference)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	uint32_t s, seed;
	int enc;

	if (!ops)
		return;
	for (seed = 1; seed <= 4; seed++) {
		rng = 1000 + seed;
		for (s = 0; s < NSIZES; s++)
			for (enc = ENC_I16; enc <= ENC_F32; enc++) {
				/* Exact, then exponents spread past the limit (overflow paths). */
				acc_run(ops, sizes[s], enc, -10, 10, 16);
				acc_run(ops, sizes[s], enc, -128, 127, 16);
			}
		for (s = 0; s < NSIZES; s++) {
			acc_run(ops, sizes[s], ENC_I16, -20, 30, 64);
			acc_run(ops, sizes[s], ENC_I8, 60, 127, 64);
			acc_run(ops, sizes[s], ENC_F32, -40, 40, 64);
		}
	}
}
END_TEST

/*
 * float32 longer than the 128 blocks whose maxima AVX-512's first pass keeps:
 * past them, the second pass finds a group's maxima again. The reference's
 * state after every contribution (a fresh accumulator's first included), and
 * a NaN or an infinity before, at and past that limit refused with nothing
 * changed, fresh or not.
 */
START_TEST(acc_f32_long)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	const float bad[] = {NAN, -INFINITY};
	const uint32_t n = MAXN, at[] = {0, 4095, 4096, MAXN - 1};
	struct ainftp_acc a, before;
	unsigned int k, i;
	int fresh;

	if (!ops)
		return;
	rng = 5150;
	acc_run(ops, n, ENC_F32, -10, 10, 12);
	acc_run(ops, n, ENC_F32, -128, 127, 12);
	acc_init(&a, n);
	acc_init(&before, n);
	for (fresh = 0; fresh < 2; fresh++) {
		gen(ENC_F32, n, -10, 10);
		if (fresh)
			ainftp_acc_reset(&a);
		else
			ck_assert_int_eq(ops->acc_f32(&a, cf), 0);
		for (k = 0; k < DIM(bad); k++)
			for (i = 0; i < DIM(at); i++) {
				float keep = cf[at[i]];

				cf[at[i]] = bad[k];
				acc_copy(&before, &a);
				ck_assert_int_eq(ops->acc_f32(&a, cf), -1);
				assert_acc_same(&before, &a, "refused long acc_f32");
				cf[at[i]] = keep;
			}
	}
	acc_free(&a);
	acc_free(&before);
}
END_TEST

/* Accumulator states the adds rarely reach: ties, extremes, clamped exponents. */
static int64_t
crafted_value(uint32_t kind)
{
	int64_t r = (int64_t)rnd();

	switch (kind) {
	case 0:
		return r;
	case 1:
		return r >> rnd_in(1, 63);
	case 2:
		return rnd() & 1 ? INT64_MIN + (int64_t)(rnd() % 2)
				 : INT64_MAX - (int64_t)(rnd() % 2);
	case 3: /* int64 -> double ties: 2^53 + 1 scaled */
		return (int64_t)(((UINT64_C(1) << 53) + 1 + 2 * (rnd() % 4)) << rnd_in(0, 9)) *
		       (rnd() & 1 ? -1 : 1);
	case 4: /* double -> float ties */
		return (((int64_t)1 << 24) + 1 + 2 * (int64_t)(rnd() % 64)) * (rnd() & 1 ? -1 : 1);
	case 5: /* int16 result ties at a shift of 8 */
		return (int64_t)(((r >> 48) * 256) | 128);
	default:
		return 0;
	}
}

START_TEST(res_crafted_states)
{
	static const int32_t exps[][2] = {{-179, 127}, {-40, 40},  {-8, 8},
					  {0, 0},      {100, 127}, {-128, -128}};
	const struct ainftp_quant_ops *ops = ops_of(_i);
	struct ainftp_acc a;
	uint32_t s, r, b, i, c;

	if (!ops)
		return;
	rng = 99;
	for (s = 0; s < NSIZES; s++) {
		acc_init(&a, sizes[s]);
		for (r = 0; r < 8; r++)
			for (c = 0; c < sizeof(exps) / sizeof(exps[0]); c++) {
				uint32_t kind = rnd() % 7;

				/* Every block wide (narrow ones: res_crafted_narrow). */
				a.uni.mag = AINFTP_MAG_WIDE;
				for (b = 0; b < ainftp_blocks(a.n); b++) {
					bool empty = rnd() % 8 == 0;

					a.exp[b] = empty ? AINFTP_EXP_NONE
							 : rnd_in(exps[c][0], exps[c][1]);
					a.emax[b] = a.exp[b];
					a.mag[b] = AINFTP_MAG_WIDE;
					for (i = b * 32; i < b * 32 + ainftp_block_len(a.n, b); i++)
						a.acc[i] = empty ? 0
								 : crafted_value(
									   rnd() % 4 ? kind
										     : rnd() % 7);
				}
				if (kind == 5 && a.exp[0] != AINFTP_EXP_NONE)
					a.acc[0] = (int64_t)1 << 22; /* eo = exp + 8 */
				assert_res_same(ops, &a, "crafted");
			}
		acc_free(&a);
	}
}
END_TEST

/* A narrow sum: ties of int32 -> float, the int32 extremes, zeros, random values. */
static int32_t
crafted_narrow_value(void)
{
	int64_t v;

	switch (rnd() % 4) {
	case 0:
		v = ((int64_t)1 << 24) + 1 + 2 * (int64_t)(rnd() % 64);
		v <<= rnd() % 7;
		break;
	case 1:
		v = INT32_MAX - (int64_t)(rnd() % 3);
		break;
	case 2:
		v = 0;
		break;
	default:
		v = (int32_t)rnd();
	}
	return (int32_t)(rnd() & 1 ? -v : v);
}

/*
 * Narrow states (every block in acc32 at one exponent) on both sides of where
 * res_f32 converts int32 straight to float (ainftp_res_f32_narrow: exponents
 * -126..96): ties of int32 -> float, the int32 extremes, random values.
 */
START_TEST(res_crafted_narrow)
{
	static const int32_t exps[] = {-179, -128, -127, -126, -125, -20, 0, 95, 96, 97, 127};
	const struct ainftp_quant_ops *ops = ops_of(_i);
	struct ainftp_acc a;
	uint32_t s, c, r, i;

	if (!ops)
		return;
	rng = 7;
	for (s = 0; s < NSIZES; s++) {
		acc_init(&a, sizes[s]);
		for (c = 0; c < sizeof(exps) / sizeof(exps[0]); c++)
			for (r = 0; r < 4; r++) {
				ainftp_acc_reset(&a);
				a.fresh = false;
				a.uni.exp = exps[c];
				a.uni.emax = exps[c];
				a.uni.mag = (uint32_t)INT32_MAX;
				for (i = 0; i < a.n; i++)
					a.acc32[i] = crafted_narrow_value();
				assert_res_same(ops, &a, "crafted narrow");
			}
		acc_free(&a);
	}
}
END_TEST

/*
 * Block by block (int8's and float32's accumulators): narrow blocks each at an
 * exponent of its own on both sides of where res_f32 converts a block's int32
 * sums straight to float (-126..96, as res_crafted_narrow for one exponent),
 * beside wide blocks and empty ones.
 */
START_TEST(res_crafted_blocks)
{
	static const int32_t exps[] = {-179, -127, -126, -125, -3, 0, 95, 96, 97, 127};
	const struct ainftp_quant_ops *ops = ops_of(_i);
	struct ainftp_acc a;
	uint32_t s, r, b, i;

	if (!ops)
		return;
	rng = 11;
	for (s = 0; s < NSIZES; s++) {
		acc_init(&a, sizes[s]);
		for (r = 0; r < 40; r++) {
			ainftp_acc_reset(&a);
			a.fresh = false;
			a.uni.mag = AINFTP_MAG_WIDE;
			for (b = 0; b < ainftp_blocks(a.n); b++) {
				uint32_t kind = rnd() % 8;
				uint32_t i0 = b * AINFTP_BLOCK, end = i0 + ainftp_block_len(a.n, b);

				a.exp[b] = kind == 0
						   ? AINFTP_EXP_NONE
						   : exps[rnd() % (sizeof(exps) / sizeof(exps[0]))];
				a.emax[b] = a.exp[b];
				a.mag[b] = kind == 1   ? AINFTP_MAG_WIDE
					   : kind == 0 ? 0
						       : (uint32_t)INT32_MAX;
				for (i = i0; i < end; i++) {
					if (kind == 1)
						a.acc[i] = crafted_value(rnd() % 7);
					else
						a.acc32[i] = kind == 0 ? 0 : crafted_narrow_value();
				}
			}
			assert_res_same(ops, &a, "crafted blocks");
		}
		acc_free(&a);
	}
}
END_TEST

/*
 * res_i16 on narrow states (its int32 path, ainftp_res_i16_narrow) at every
 * shift it takes: the largest |sum| of B bits (1..31) sets a right shift of
 * B - 15 (or a left one below 15 bits), and the other sums sit on a tie of
 * that shift, one either side of it, or round up to 2^15 and saturate.
 */
START_TEST(res_i16_narrow_ties)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	struct ainftp_acc a;
	uint32_t s, bits, i;

	if (!ops)
		return;
	rng = 11;
	for (s = 0; s < NSIZES; s++) {
		acc_init(&a, sizes[s]);
		for (bits = 1; bits <= 31; bits++) {
			int32_t sh = bits > 15 ? (int32_t)bits - 15 : 0;

			ainftp_acc_reset(&a);
			a.fresh = false;
			a.uni.exp = (int32_t)(rnd() % 64) - 32;
			a.uni.emax = a.uni.exp;
			a.uni.mag = (uint32_t)INT32_MAX;
			for (i = 0; i < a.n; i++) {
				int64_t top = (int64_t)1 << (bits - 1), v;
				int64_t half = sh ? (int64_t)1 << (sh - 1) : 0;

				switch (i == 0 ? 0 : rnd() % 5) {
				case 0:
					v = top;
					break;
				case 1: /* saturates once rounded: 2^15 - 1/2 units */
					v = 2 * top - 1 - (half ? half - 1 : 0);
					break;
				default: /* on a tie, or one either side */
					v = (int64_t)(rnd() % (uint32_t)top) & ~((half * 2) - 1);
					v += half + (int64_t)(rnd() % 3) - 1;
					v = v < 0 ? 0 : (v >= 2 * top ? 2 * top - 1 : v);
				}
				a.acc32[i] = (int32_t)(rnd() & 1 ? -v : v);
			}
			assert_res_same(ops, &a, "narrow ties");
		}
		acc_free(&a);
	}
}
END_TEST

/*
 * acc_f32_any, where a set has it, on float32s at every misalignment (a
 * payload sits at frame offset 74): the same sum as acc_f32 on an aligned
 * copy, a first packet and a later one, and NaN refused alike.
 */
START_TEST(acc_f32_any_alignment)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	static float x[MAXN], y[MAXN];
	static unsigned char raw[MAXN * sizeof(float) + 8];
	struct ainftp_acc want, got;
	uint32_t s, off;

	if (!ops || ops->acc_f32_any == NULL)
		return;
	rng = 11;
	for (s = 0; s < NSIZES; s++) {
		uint32_t n = sizes[s];

		acc_init(&want, n);
		acc_init(&got, n);
		for (off = 0; off < 4; off++) {
			ainftp_acc_reset(&want);
			ainftp_acc_reset(&got);
			fill(G_RANDOM, x, n);
			fill(G_RANDOM, y, n);
			ck_assert_int_eq(ops->acc_f32(&want, x), 0);
			ck_assert_int_eq(ops->acc_f32(&want, y), 0);
			memcpy(raw + off, x, n * sizeof(float));
			ck_assert_int_eq(ops->acc_f32_any(&got, raw + off), 0);
			memcpy(raw + off, y, n * sizeof(float));
			ck_assert_int_eq(ops->acc_f32_any(&got, raw + off), 0);
			assert_acc_same(&want, &got, "acc_f32_any");
			y[n / 2] = NAN;
			memcpy(raw + off, y, n * sizeof(float));
			ck_assert_int_eq(ops->acc_f32_any(&got, raw + off), -1);
			assert_acc_same(&want, &got, "acc_f32_any refusing NaN");
		}
		acc_free(&want);
		acc_free(&got);
	}
}
END_TEST

START_TEST(zero_contributions_change_nothing)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	static const int8_t es[] = {-128, -20, 0, 5, 127};
	struct ainftp_acc a, before;
	uint32_t s, k;

	if (!ops)
		return;
	rng = 5;
	for (s = 0; s < NSIZES; s++) {
		uint32_t n = sizes[s];

		acc_init(&a, n);
		acc_init(&before, n);
		for (k = 0; k < 2; k++) {
			unsigned int j;

			/* First on an empty accumulator, then on one holding a sum. */
			acc_copy(&before, &a);
			memset(c16, 0, sizeof(c16));
			memset(c8, 0, sizeof(c8));
			for (j = 0; j < sizeof(es); j++) {
				memset(ce8, es[j], sizeof(ce8));
				ops->acc_i16(&a, c16, es[j]);
				ops->acc_i8(&a, ce8, c8);
			}
			fill(G_ZERO, cf, n);
			ck_assert_int_eq(ops->acc_f32(&a, cf), 0);
			fill(G_NEGZERO, cf, n);
			ck_assert_int_eq(ops->acc_f32(&a, cf), 0);
			assert_acc_same(&before, &a, ops->name);
			gen_i16(n, -5, 5);
			c16[0] = 1;
			ops->acc_i16(&a, c16, ce16);
		}
		acc_free(&a);
		acc_free(&before);
	}
}
END_TEST

/* ---- exactness ---- */

static unsigned int
bits128(unsigned __int128 u)
{
	unsigned int k = 0;

	for (; u; u >>= 1)
		k++;
	return k;
}

/* round(v * 2^-s), ties to even, by floor division: independent of the library's shifts. */
static __int128
shr128(__int128 v, int s)
{
	__int128 d = (__int128)1 << s, q = v / d, r = v % d;

	if (r < 0) {
		q -= 1;
		r += d;
	}
	if (2 * r > d || (2 * r == d && (q & 1)))
		q++;
	return q;
}

#define MAXW 64

/* Contributions as (integer, exponent) per element: the wire ones, or float32 converted here. */
static int32_t cint[MAXW][MAXN];
static int32_t cexp[MAXW][MAXN / 32];

static void
record(int w, enum enc enc, uint32_t n)
{
	uint32_t b, i;

	for (b = 0; b < ainftp_blocks(n); b++) {
		int32_t e = enc == ENC_I16 ? ce16 : ce8[b];
		float m = 0;
		int k;

		if (enc == ENC_F32) {
			for (i = b * 32; i < b * 32 + ainftp_block_len(n, b); i++)
				m = fmaxf(m, fabsf(cf[i]));
			frexpf(m, &k);
			e = k - 31;
		}
		cexp[w][b] = e;
		for (i = b * 32; i < b * 32 + ainftp_block_len(n, b); i++)
			cint[w][i] = enc == ENC_I16  ? c16[i]
				     : enc == ENC_I8 ? c8[i]
						     : (int32_t)nearbyint(ldexp(cf[i], -e));
	}
}

/* Per block, the least and the largest exponent of the non-zero contributions (expect). */
static int32_t emin[MAXN / 32], emax_of[MAXN / 32];

/* The sum of nw contributions by __int128, then the defined conversions. */
/* expect's sums, at exponent emin[b] in block b. */
static __int128 xsum[MAXN];

static bool
expect(int nw, uint32_t n, int wbits, float *f, int16_t *q, int8_t *qe)
{
	__int128 *sum = xsum;
	int32_t k = INT32_MIN, eo;
	bool overflow = false;
	uint32_t b, i;
	int w;

	for (b = 0; b < ainftp_blocks(n); b++) {
		int32_t lo = INT32_MAX, hi = INT32_MIN;
		uint32_t len = ainftp_block_len(n, b);

		for (w = 0; w < nw; w++) {
			bool nz = false;

			for (i = b * 32; i < b * 32 + len; i++)
				nz |= cint[w][i] != 0;
			if (nz) {
				lo = cexp[w][b] < lo ? cexp[w][b] : lo;
				hi = cexp[w][b] > hi ? cexp[w][b] : hi;
			}
		}
		emin[b] = lo;
		emax_of[b] = hi;
		if (lo == INT32_MAX)
			continue;
		overflow |= hi - lo + wbits + AINFTP_WORKER_BITS > 63;
		for (i = b * 32; i < b * 32 + len; i++) {
			unsigned __int128 mag;

			sum[i] = 0;
			for (w = 0; w < nw; w++)
				if (cint[w][i])
					sum[i] += (__int128)cint[w][i] *
						  ((__int128)1 << (cexp[w][b] - lo));
			mag = sum[i] < 0 ? -(unsigned __int128)sum[i] : (unsigned __int128)sum[i];
			if (mag && (int32_t)bits128(mag) + lo > k)
				k = (int32_t)bits128(mag) + lo;
		}
	}
	eo = k == INT32_MIN ? -128 : k - 15;
	eo = eo < -128 ? -128 : (eo > 127 ? 127 : eo);
	*qe = (int8_t)eo;
	for (i = 0; i < n; i++) {
		__int128 v;

		b = i / 32;
		if (emin[b] == INT32_MAX) {
			f[i] = 0.0f;
			q[i] = 0;
			continue;
		}
		f[i] = (float)ldexp((double)sum[i], emin[b]);
		v = emin[b] >= eo ? sum[i] * ((__int128)1 << (emin[b] - eo))
				  : shr128(sum[i], eo - emin[b]);
		q[i] = (int16_t)(v > 32767 ? 32767 : (v < -32767 ? -32767 : v));
	}
	return overflow;
}

static unsigned __int128
mag128(__int128 v)
{
	return v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
}

/* v * 2^s for any s (a right shift rounds to nearest even). */
static __int128
scale128(__int128 v, int32_t s)
{
	return s >= 0 ? v * ((__int128)1 << s) : shr128(v, -s);
}

/*
 * The int8 result of expect's sums (e8: per block, q8: the values), from the
 * __int128 sums: per block, e = K - 7 with K the bit length of the largest
 * |sum| plus the block's exponent, one more if that maximum rounds to 128.
 */
static void
expect_i8(uint32_t n, int8_t *e8, int8_t *q8)
{
	uint32_t b, i;

	for (b = 0; b < ainftp_blocks(n); b++) {
		uint32_t i0 = b * 32, len = ainftp_block_len(n, b);
		unsigned __int128 top = 0;
		int32_t e, lo = emin[b];

		for (i = i0; lo != INT32_MAX && i < i0 + len; i++)
			top = mag128(xsum[i]) > top ? mag128(xsum[i]) : top;
		if (top == 0) {
			e8[b] = AINFTP_WIRE_EXP_ZERO;
			memset(q8 + i0, 0, len);
			continue;
		}
		e = (int32_t)bits128(top) + lo - 7;
		if (e > lo && e < 127 && shr128((__int128)top, e - lo) > 127)
			e++;
		e = e < -128 ? -128 : (e > 127 ? 127 : e);
		e8[b] = (int8_t)e;
		for (i = i0; i < i0 + len; i++) {
			__int128 v = scale128(xsum[i], lo - e);

			q8[i] = (int8_t)(v > 127 ? 127 : (v < -127 ? -127 : v));
		}
	}
}

/*
 * What an int8 result must be, whatever computed it, for expect's sums: an
 * all-zero block at -128; every |q| <= 127 and q x 2^e within 2^(e-1) of the
 * exact sum (but +-127 for any sum beyond, at e clamped at 127); e the
 * smallest exponent that holds the block's maximum (at e - 1 it would round
 * past 127), unless clamped at -128.
 */
static void
check_i8_bound(uint32_t n, const int8_t *e8, const int8_t *q8, const char *what)
{
	uint32_t b, i;

	for (b = 0; b < ainftp_blocks(n); b++) {
		uint32_t i0 = b * 32, len = ainftp_block_len(n, b);
		int32_t e = e8[b], lo = emin[b], m;
		unsigned __int128 top = 0;

		for (i = i0; lo != INT32_MAX && i < i0 + len; i++)
			top = mag128(xsum[i]) > top ? mag128(xsum[i]) : top;
		if (top == 0) {
			check(e == AINFTP_WIRE_EXP_ZERO, "%s: zero block %u at exponent %d", what,
			      b, e);
			for (i = i0; i < i0 + len; i++)
				check(q8[i] == 0, "%s: zero block %u, value %d", what, b, q8[i]);
			continue;
		}
		m = e < lo ? e : lo; /* both sides exact at 2^m */
		for (i = i0; i < i0 + len; i++) {
			__int128 d = (__int128)q8[i] * ((__int128)1 << (e - m)) -
				     xsum[i] * ((__int128)1 << (lo - m));

			check(q8[i] >= -127, "%s: element %u is -128", what, i);
			/* Clamped at 127 (a sum of 2^134 or more): saturated, on the sum's side. */
			if (e == 127 && (q8[i] == 127 || q8[i] == -127) && (d < 0) == (q8[i] > 0))
				continue;
			check(2 * mag128(d) <= (unsigned __int128)1 << (e - m),
			      "%s: element %u: %d x 2^%d is more than half a unit from the sum",
			      what, i, q8[i], e);
		}
		check(e == -128 || mag128(scale128((__int128)top, lo - (e - 1))) > 127,
		      "%s: block %u at 2^%d, but 2^%d holds its maximum", what, b, e, e - 1);
	}
}

/*
 * The result of ops on a (whose sums expect computed) against expect_i8 and
 * the bound, and the same bits from a widened copy at lower exponents.
 */
static void
check_res_i8(const struct ainftp_quant_ops *ops, const struct ainftp_acc *a, const char *what)
{
	static int8_t e8[MAXN / 32], q8[MAXN];
	uint32_t nb = ainftp_blocks(a->n);
	const int8_t *got = res_i8_payload(ops, a);

	expect_i8(a->n, e8, q8);
	ck_assert_same(e8, got, nb, "%s: res_i8 exponent of block %ld", what, _d);
	ck_assert_same(q8, got + nb, a->n, "%s: res_i8 element %ld", what, _d);
	check_i8_bound(a->n, got, got + nb, what);
	assert_res_i8_any_state(ops, a, what);
}

static void
shuffle(int *p, int nw)
{
	int i;

	for (i = nw - 1; i > 0; i--) {
		int j = (int)(rnd() % (uint64_t)(i + 1)), t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
}

/* Re-create contribution w from the record, in its wire form. */
static void
replay(int w, enum enc enc, uint32_t n, const float *xs)
{
	uint32_t i, b;

	if (enc == ENC_F32) {
		memcpy(cf, xs + (size_t)w * n, n * sizeof(float));
		return;
	}
	ce16 = (int8_t)cexp[w][0];
	for (b = 0; b < ainftp_blocks(n); b++)
		ce8[b] = (int8_t)cexp[w][b];
	for (i = 0; i < n; i++) {
		c16[i] = (int16_t)cint[w][i];
		c8[i] = (int8_t)cint[w][i];
	}
}

START_TEST(sums_exact_and_order_independent)
{
	static const int nws[] = {2, 8, 64};
	static const uint32_t ns[] = {33, 1000};
	static const int wbits[] = {AINFTP_QBITS_INT16, AINFTP_QBITS_INT8, AINFTP_QBITS_FLOAT32};
	const struct ainftp_quant_ops *ops = ops_of(_i);
	static float xs[MAXW * 1000], fw[MAXN], fg[MAXN];
	static int16_t qw[MAXN], qg[MAXN];
	int perm[MAXW];
	struct ainftp_acc a;
	unsigned int in, iw;
	char what[80];
	int enc;

	if (!ops)
		return;
	rng = 4242;
	for (in = 0; in < 2; in++)
		for (iw = 0; iw < 3; iw++)
			for (enc = ENC_I16; enc <= ENC_F32; enc++) {
				uint32_t n = ns[in];
				int nw = nws[iw], w, p;
				int32_t base = rnd_in(-60, 60);
				int8_t ew, eg;

				for (w = 0; w < nw; w++) {
					/* int16 exponents spread over 20, int8 40, floats 20. */
					if (enc == ENC_I16)
						gen_i16(n, base, base + 20);
					else if (enc == ENC_I8)
						gen_i8(n, base, base + 40);
					else
						gen_f32_spread(n, base, base + 20);
					record(w, enc, n);
					if (enc == ENC_F32)
						memcpy(xs + (size_t)w * n, cf, n * sizeof(float));
					perm[w] = w;
				}
				ck_assert_msg(!expect(nw, n, wbits[enc], fw, qw, &ew),
					      "test inputs spread too far");
				acc_init(&a, n);
				for (p = 0; p < 20; p++) {
					ainftp_acc_reset(&a);
					shuffle(perm, nw);
					for (w = 0; w < nw; w++) {
						replay(perm[w], enc, n, xs);
						ck_assert_int_eq(add(ops, &a, enc), 0);
					}
					ck_assert(!a.overflow);
					ops->res_f32(&a, fg);
					eg = ops->res_i16(&a, qg);
					ck_assert_same(fw, fg, n * sizeof(float),
						       "%s enc %d nw %d perm %d: res_f32 byte %ld",
						       ops->name, enc, nw, p, _d);
					ck_assert_int_eq(eg, ew);
					ck_assert_same(qw, qg, n * sizeof(int16_t),
						       "%s enc %d nw %d perm %d: res_i16 byte %ld",
						       ops->name, enc, nw, p, _d);
					snprintf(what, sizeof(what), "%s enc %d nw %d n %u perm %d",
						 ops->name, enc, nw, n, p);
					check_res_i8(ops, &a, what);
				}
				acc_free(&a);
			}
}
END_TEST

/*
 * Encodings mixed in one accumulator (int16 then int8 while every block
 * still shares one state, float32 onto narrow blocks...): the reference's
 * bits after every contribution and the __int128 sum, in any order.
 */
START_TEST(mixed_encodings_exact_any_order)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	static float xs[MAXW * MAXN], fw[MAXN], fg[MAXN];
	static int16_t qw[MAXN], qg[MAXN];
	enum enc encs[MAXW];
	struct ainftp_acc a, r;
	int perm[MAXW], round;
	char what[80];

	if (!ops)
		return;
	rng = 6060;
	for (round = 0; round < 24; round++) {
		uint32_t n = sizes[rnd() % NSIZES];
		int nw = rnd_in(2, 12), w, p;
		int8_t ew, eg;

		for (w = 0; w < nw; w++) {
			encs[w] = (enum enc)(rnd() % 3);
			/* Exponents close enough for every block to stay exact. */
			if (encs[w] == ENC_I16)
				gen_i16(n, -3, 3);
			else if (encs[w] == ENC_I8)
				gen_i8(n, -3, 3);
			else
				gen_f32_spread(n, 28, 34);
			record(w, encs[w], n);
			memcpy(xs + (size_t)w * n, cf, n * sizeof(float));
			perm[w] = w;
		}
		check(!expect(nw, n, AINFTP_QBITS_FLOAT32, fw, qw, &ew), "inputs spread too far");
		acc_init(&a, n);
		acc_init(&r, n);
		for (p = 0; p < 6; p++) {
			ainftp_acc_reset(&a);
			ainftp_acc_reset(&r);
			shuffle(perm, nw);
			for (w = 0; w < nw; w++) {
				replay(perm[w], encs[perm[w]], n, xs);
				snprintf(what, sizeof(what),
					 "%s round %d n %u order %d add %d (enc %d)", ops->name,
					 round, n, p, w, encs[perm[w]]);
				check(add(ref, &r, encs[perm[w]]) == 0 &&
					      add(ops, &a, encs[perm[w]]) == 0,
				      "%s: refused", what);
				assert_acc_same(&r, &a, what);
			}
			ops->res_f32(&a, fg);
			eg = ops->res_i16(&a, qg);
			ck_assert_same(fw, fg, n * sizeof(float), "%s: res_f32 byte %ld", what, _d);
			check(eg == ew, "%s: res_i16 exponent %d, want %d", what, eg, ew);
			ck_assert_same(qw, qg, n * sizeof(int16_t), "%s: res_i16 byte %ld", what,
				       _d);
			check_res_i8(ops, &a, what);
		}
		acc_free(&a);
		acc_free(&r);
	}
}
END_TEST

/* ---- the switch from int32 to int64 ---- */

/*
 * One contribution of a scenario at the switch: values of magnitude up to
 * 2^W (sign mostly shared per element, so sums grow), exponents base + [0,
 * spread] (int8: per block), some zero blocks and some all-zero workers.
 */
static void
gen_switch(uint32_t n, int w, int32_t base, int32_t spread, bool zeros)
{
	uint32_t i, b;
	bool all_zero = zeros && rnd() % 8 == 0;

	ce16 = (int8_t)(base + rnd_in(0, spread));
	for (b = 0; b < ainftp_blocks(n); b++) {
		bool zero = all_zero || (zeros && rnd() % 5 == 0);

		ce8[b] = (int8_t)(zero && rnd() & 1 ? AINFTP_WIRE_EXP_ZERO
						    : base + rnd_in(0, spread));
		for (i = b * 32; i < b * 32 + ainftp_block_len(n, b); i++) {
			/* Element i's sign is fixed, but a worker in 8 flips it, and magnitudes
			 * vary. */
			bool neg = ((i * 7 + (uint32_t)w) % 3 == 0) != (rnd() % 8 == 0);
			int32_t m16 = rnd() % 4 ? 32767 : (int32_t)(rnd() % 32768);
			int32_t m8 = rnd() % 4 ? 127 : (int32_t)(rnd() % 128);

			if (zero) {
				c16[i] = 0;
				c8[i] = 0;
			} else {
				c16[i] = (int16_t)(neg ? -m16 - (m16 == 32767)
						       : m16); /* -32768 too */
				c8[i] = (int8_t)(neg ? -m8 - (m8 == 127) : m8);
			}
		}
	}
}

/* Whether any block of a is wide. */
static bool
any_wide(const struct ainftp_acc *a)
{
	uint32_t b;

	for (b = 0; b < ainftp_blocks(a->n); b++)
		if (ainftp_acc_wide(a, b))
			return true;
	return false;
}

/*
 * nw contributions around the point where a block's sum leaves 31 bits, in
 * many orders: ops gives the reference's bits after every contribution, and
 * the results and block exponents of an independent __int128 sum at the end,
 * whether the blocks widened early, late or not at all.
 */
static void
switch_run(const struct ainftp_quant_ops *ops, enum enc enc, uint32_t n, int nw, int32_t base,
	   int32_t spread, bool zeros, int orders, int *widened, int *narrow)
{
	static float fw[MAXN], fg[MAXN];
	static int16_t qw[MAXN], qg[MAXN];
	struct ainftp_acc a, r;
	int perm[MAXW], w, p, wbits = enc == ENC_I16 ? AINFTP_QBITS_INT16 : AINFTP_QBITS_INT8;
	int8_t ew, eg;
	uint32_t b;
	char what[96];

	for (w = 0; w < nw; w++) {
		gen_switch(n, w, base, spread, zeros);
		record(w, enc, n);
		perm[w] = w;
	}
	ck_assert_msg(!expect(nw, n, wbits, fw, qw, &ew), "test inputs spread too far");
	acc_init(&a, n);
	acc_init(&r, n);
	for (p = 0; p < orders; p++) {
		bool was_narrow = false;

		ainftp_acc_reset(&a);
		ainftp_acc_reset(&r);
		shuffle(perm, nw);
		for (w = 0; w < nw; w++) {
			replay(perm[w], enc, n, NULL);
			snprintf(what, sizeof(what),
				 "%s enc %d n %u nw %d exps %d+[0,%d] order %d add %d", ops->name,
				 enc, n, nw, base, spread, p, w);
			check(add(ref, &r, enc) == 0 && add(ops, &a, enc) == 0, "%s: refused",
			      what);
			assert_acc_same(&r, &a, what);
			was_narrow |= w > 0 && !any_wide(&a) &&
				      ainftp_acc_state(&a, 0).exp != AINFTP_EXP_NONE;
		}
		check(!a.overflow, "%s: overflow", what);
		if (any_wide(&a))
			*widened += 1 + was_narrow; /* 2: it summed narrow first */
		else
			(*narrow)++;
		for (b = 0; b < ainftp_blocks(n); b++) {
			struct ainftp_acc_block s = ainftp_acc_state(&a, b);

			if (emin[b] == INT32_MAX) {
				check(s.exp == AINFTP_EXP_NONE, "%s: block %u not empty", what, b);
				continue;
			}
			/* exp may lie below the lowest by int8's room: elo says how far. */
			check(s.exp + ainftp_acc_room(&a, b) == emin[b] && s.emax == emax_of[b],
			      "%s: block %u exponents [%d+%d,%d], want [%d,%d]", what, b, s.exp,
			      ainftp_acc_room(&a, b), s.emax, emin[b], emax_of[b]);
			check(ainftp_acc_room(&a, b) >= 0 &&
				      ainftp_acc_room(&a, b) <=
					      (enc == ENC_I8 ? AINFTP_I8_ROOM : 0),
			      "%s: block %u room %d", what, b, ainftp_acc_room(&a, b));
		}
		ops->res_f32(&a, fg);
		eg = ops->res_i16(&a, qg);
		ck_assert_same(fw, fg, n * sizeof(float), "%s: res_f32 byte %ld", what, _d);
		check(eg == ew, "%s: res_i16 exponent %d, want %d", what, eg, ew);
		ck_assert_same(qw, qg, n * sizeof(int16_t), "%s: res_i16 byte %ld", what, _d);
		check_res_i8(ops, &a, what);
	}
	acc_free(&a);
	acc_free(&r);
}

START_TEST(switch_to_int64_exact_any_order)
{
	/* int16 leaves 31 bits with 64 workers at a spread of 10, int8 at 18. */
	static const int32_t spreads16[] = {0, 6, 9, 10, 11, 16, 24};
	static const int32_t spreads8[] = {0, 8, 16, 17, 18, 19, 30};
	static const uint32_t ns[] = {33, 100, 512};
	static const int nws[] = {2, 17, 64};
	const struct ainftp_quant_ops *ops = ops_of(_i);
	int widened = 0, narrow = 0, enc, s, z;
	unsigned int in, iw;

	if (!ops)
		return;
	rng = 31337;
	for (enc = ENC_I16; enc <= ENC_I8; enc++)
		for (s = 0; s < 7; s++)
			for (in = 0; in < 3; in++)
				for (iw = 0; iw < 3; iw++)
					for (z = 0; z < 2; z++) {
						int32_t sp =
							enc == ENC_I16 ? spreads16[s] : spreads8[s];
						/* The exponents' extremes, and between. */
						int32_t base = (in + iw + (uint32_t)s) % 3 == 0
								       ? -128
							       : (in + iw + (uint32_t)s) % 3 == 1
								       ? 127 - sp
								       : rnd_in(-40, 40);

						switch_run(ops, enc, ns[in], nws[iw], base, sp, z,
							   6, &widened, &narrow);
					}
	/* Both sides of the switch, and blocks that widened after summing narrow, were seen. */
	ck_assert_int_gt(narrow, 0);
	ck_assert_int_gt(widened, 0);
	ck_assert_int_gt(widened % 2 + widened / 2, 0);
}
END_TEST

/*
 * The exact count where int32 ends: K contributions of -2^W (or of 2^W - 1) at
 * one exponent stay narrow while K * 2^W <= INT32_MAX, and one more widens
 * the block; with one contribution 10 (int16) or 16 (int8) exponents lower,
 * 63 (255) at the upper exponent are the most. The sums stay exact (__int128)
 * and the reference's bits, wherever the lower one comes (pos: at random
 * when negative). The bound is mag's rule: the sum of 2^(W + e - exp) over
 * the contributions, exp the lowest e or, for int8, the first one's less its
 * room (AINFTP_I8_ROOM) if that is lower; so an int8 block whose lower
 * contribution came first holds 2^4 times fewer.
 */
static void
count_run(const struct ainftp_quant_ops *ops, enum enc enc, int32_t lower, uint32_t most,
	  int32_t e0, bool neg, int pos_at)
{
	enum { N = 40 }; /* a full block and a short one */
	struct ainftp_acc a, r;
	int wbits = enc == ENC_I16 ? AINFTP_QBITS_INT16 : AINFTP_QBITS_INT8;
	int32_t v = neg ? -(1 << wbits) : (1 << wbits) - 1, base = INT32_MAX;
	uint32_t k, i,
		pos = !lower	    ? UINT32_MAX
		      : pos_at >= 0 ? (uint32_t)pos_at
				    : (uint32_t)(rnd() % (most + 2));
	uint64_t bound, units = 0; /* the contributions' 2^(e - e0), summed */
	__int128 want = 0;
	char what[96];

	acc_init(&a, N);
	acc_init(&r, N);
	for (k = 0; k < most + 2 + (lower != 0); k++) {
		bool low = lower && k == pos;
		int32_t e = low ? e0 : e0 + lower;

		if (k == 0)
			base = e - (enc == ENC_I8 ? AINFTP_I8_ROOM : 0);
		base = e < base ? e : base;
		units += UINT64_C(1) << (e - e0);

		for (i = 0; i < N; i++) {
			c16[i] = (int16_t)v;
			c8[i] = (int8_t)v;
		}
		ce16 = (int8_t)e;
		memset(ce8, e, sizeof(ce8));
		check(add(ref, &r, enc) == 0 && add(ops, &a, enc) == 0, "refused");
		want += (__int128)v * ((__int128)1 << (low ? 0 : lower));
		snprintf(what, sizeof(what), "%s enc %d lower %d at %u: contribution %u", ops->name,
			 enc, lower, pos, k + 1);
		/* Every 64th, the last ones, and where the lower one went: all bytes. */
		if (k % 64 == 0 || k + 4 > most || k == pos)
			assert_acc_same(&r, &a, what);
		/* Narrow exactly while the bound on the sum, in units of 2^exp, fits 31 bits. */
		bound = base <= e0 ? units << (wbits + e0 - base) : (units << wbits) >> (base - e0);
		if (bound <= INT32_MAX)
			check(!any_wide(&a), "%s: widened early", what);
		else
			check(ainftp_acc_wide(&a, 0) && ainftp_acc_wide(&a, 1), "%s: still narrow",
			      what);
		/* The sums at the block's exp: e0, or below it by the room a narrow one keeps. */
		if (lower == 0 || pos <= k)
			for (i = 0; i < N; i++) {
				int32_t exp = ainftp_acc_state(&a, i / AINFTP_BLOCK).exp;

				check(exp <= e0 && ainftp_acc_at(&a, i) ==
							   want * ((__int128)1 << (e0 - exp)),
				      "%s: sum[%u] wrong", what, i);
			}
	}
	ck_assert(!a.overflow);
	assert_res_same(ops, &a, what);
	acc_free(&a);
	acc_free(&r);
}

START_TEST(switch_at_the_exact_count)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	int k;

	if (!ops)
		return;
	rng = 2718;
	/* 65535 * 2^15 <= INT32_MAX < 65536 * 2^15; -2^31 itself would fit, one more would not. */
	count_run(ops, ENC_I16, 0, 65535, -20, true, -1);
	count_run(ops, ENC_I16, 0, 65535, 100, false, -1);
	for (k = 0; k < 4; k++) {
		/* 2^15 + 63 * 2^25 <= INT32_MAX < 2^15 + 64 * 2^25: 64 workers at a spread of 10.
		 */
		count_run(ops, ENC_I16, 10, 63, k % 2 ? -128 : 117, k < 2, -1);
		/* 2^7 + 255 * 2^23 <= INT32_MAX < 2^7 + 256 * 2^23 (the lower one not first). */
		count_run(ops, ENC_I8, 16, 255, k % 2 ? -128 : 111, k < 2, 1 + (int)(rnd() % 257));
		/* First, it leaves room: 2^11 + 15 * 2^27 <= INT32_MAX < 2^11 + 16 * 2^27. */
		count_run(ops, ENC_I8, 16, 15, k % 2 ? -128 : 111, k < 2, 0);
	}
}
END_TEST

/* Two contributions at exponents d apart in every block: overflow exactly past the span. */
START_TEST(overflow_past_span)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	static const int span[] = {42, 50, 26};
	struct ainftp_acc a;
	uint32_t n = 70, i;
	int enc, d, first;

	if (!ops)
		return;
	acc_init(&a, n);
	for (enc = ENC_I16; enc <= ENC_F32; enc++)
		for (d = span[enc] - 1; d <= span[enc] + 2; d++)
			for (first = 0; first < 2; first++) {
				int32_t lo = -40, e[2] = {lo, lo + d};
				int k;

				ainftp_acc_reset(&a);
				for (k = 0; k < 2; k++) {
					int32_t ek = e[k ^ first];

					for (i = 0; i < n; i++) {
						c16[i] = (int16_t)(i % 2 ? -32767 : 32767);
						c8[i] = (int8_t)(i % 2 ? -127 : 127);
						/* block max 2^(e+31) - 1 ulp: e_b = e */
						cf[i] = (i % 2 ? -1 : 1) *
							ldexpf(1.0f - 0x1p-24f, ek + 31);
					}
					ce16 = (int8_t)ek;
					memset(ce8, ek, sizeof(ce8));
					ck_assert_int_eq(add(ops, &a, enc), 0);
				}
				ck_assert_msg(a.overflow == (d > span[enc]),
					      "%s enc %d spread %d: overflow %d", ops->name, enc, d,
					      a.overflow);
				for (i = 0; i < ainftp_blocks(n); i++)
					ck_assert_int_eq(a.emax[i] - a.exp[i],
							 d > span[enc] ? span[enc] : d);
			}
	acc_free(&a);
}
END_TEST

/*
 * An empty block's elo is stale after AVX-512's f32_first (it writes exp, not
 * elo): an int8 chunk leaves elo -50, a reset, then a float32 packet with
 * block 0 all zero and one with 1.5 there (exponent -30, wide at once). The
 * widening of the empty block must not take the stale elo for its exp: the
 * kernels end with the reference's state, exp -30.
 */
START_TEST(room_stale_on_empty)
{
	enum { N = 64 };
	static float x[N];
	struct ainftp_acc a, r;
	int8_t e8[N / AINFTP_BLOCK], q8[N];
	int i, k, p;

	acc_init(&a, N);
	acc_init(&r, N);
	for (k = 0; k < NOPS; k++) {
		const struct ainftp_quant_ops *ops = ops_of(k);
		struct ainftp_acc *acc[2] = {&r, &a};
		const struct ainftp_quant_ops *set[2] = {ref, ops};

		if (!ops)
			continue;
		for (p = 0; p < 2; p++) {
			ainftp_acc_reset(acc[p]);
			memset(e8, -50, sizeof(e8));
			memset(q8, 1, sizeof(q8));
			set[p]->acc_i8(acc[p], e8, q8);
			ainftp_acc_reset(acc[p]);
			for (i = 0; i < N; i++)
				x[i] = i < AINFTP_BLOCK ? 0.0f : 1.0f;
			ck_assert_int_eq(set[p]->acc_f32(acc[p], x), 0);
			for (i = 0; i < N; i++)
				x[i] = 1.5f;
			ck_assert_int_eq(set[p]->acc_f32(acc[p], x), 0);
		}
		ck_assert_int_eq(ainftp_acc_state(&r, 0).exp, -30);
		assert_acc_same(&r, &a, ops->name);
	}
	acc_free(&a);
	acc_free(&r);
}
END_TEST

/*
 * Room under mixed encodings: an int8 packet opens its blocks 4 exponents low
 * (elo 0), an int16 one adds inside that room (e = -2, the quick path), and a
 * third far above widens them. The widened sums must be exact at elo -2:
 * 2^42 + 4 + 1 in units of 2^-2 (with elo left at 0, widening would divide
 * 1 + 2^-2 by 2^4 and lose the int16 part).
 */
START_TEST(room_mixed_encodings)
{
	enum { N = 64 };
	struct ainftp_acc a;
	int8_t e8[N / AINFTP_BLOCK], q8[N];
	int16_t q16[N];
	int i, k;

	acc_init(&a, N);
	for (k = 0; k < NOPS; k++) {
		const struct ainftp_quant_ops *ops = ops_of(k);

		if (!ops)
			continue;
		ainftp_acc_reset(&a);
		memset(e8, 0, sizeof(e8));
		memset(q8, 1, sizeof(q8));
		ops->acc_i8(&a, e8, q8);
		ck_assert_int_eq(ainftp_acc_room(&a, 0), AINFTP_I8_ROOM);
		for (i = 0; i < N; i++)
			q16[i] = 1;
		ops->acc_i16(&a, q16, -2);
		ck_assert_msg(ainftp_acc_room(&a, 0) == AINFTP_I8_ROOM - 2 &&
				      !ainftp_acc_wide(&a, 0),
			      "%s: room %d after int16 at -2", ops->name, ainftp_acc_room(&a, 0));
		ops->acc_i16(&a, q16, 40);
		for (i = 0; i < N; i++) {
			int32_t exp = ainftp_acc_state(&a, (uint32_t)i / AINFTP_BLOCK).exp;

			ck_assert_msg(
				ainftp_acc_wide(&a, (uint32_t)i / AINFTP_BLOCK) && exp == -2 &&
					ainftp_acc_at(&a, (uint32_t)i) == (INT64_C(1) << 42) + 5,
				"%s: elem %d: %lld at exp %d", ops->name, i,
				(long long)ainftp_acc_at(&a, (uint32_t)i), exp);
		}
		ck_assert(!a.overflow);
	}
	acc_free(&a);
}
END_TEST

START_TEST(overflow_rounds_to_nearest_even)
{
	struct ainftp_acc a;
	int16_t q[32] = {0};
	int i;

	/* 3 and 5 at 2^0, then 1 at 2^45: exp rises to 2^3, 3/8 and 5/8 round to 0 and 1. */
	acc_init(&a, 32);
	for (i = 0; i < NOPS; i++) {
		const struct ainftp_quant_ops *ops = ops_of(i);

		if (!ops)
			continue;
		ainftp_acc_reset(&a);
		q[0] = 3;
		q[1] = 5;
		q[2] = 12; /* 12/8 = 1.5: the tie goes to 2 */
		q[3] = 20; /* 20/8 = 2.5: the tie goes to 2 */
		ops->acc_i16(&a, q, 0);
		memset(q, 0, sizeof(q));
		q[4] = 1;
		ops->acc_i16(&a, q, 45);
		ck_assert(a.overflow);
		ck_assert_int_eq(a.exp[0], 3);
		ck_assert_int_eq(a.emax[0], 45);
		ck_assert_int_eq(a.acc[0], 0);
		ck_assert_int_eq(a.acc[1], 1);
		ck_assert_int_eq(a.acc[2], 2);
		ck_assert_int_eq(a.acc[3], 2);
		ck_assert_int_eq(a.acc[4], INT64_C(1) << 42);
	}
	acc_free(&a);
}
END_TEST

/* The result exponent at its clamps: saturation at 127, fewer bits at -128. */
START_TEST(res_i16_clamps)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	struct ainftp_acc a;
	int16_t q[40] = {0}, out[40];
	float f[40];

	if (!ops)
		return;
	acc_init(&a, 40);
	q[0] = 32767;
	q[1] = -32767;
	q[2] = 1;
	q[33] = 3;
	ops->acc_i16(&a, q, 127);
	ops->acc_i16(&a, q, 127); /* 65534 * 2^127: K = 143 */
	ck_assert_int_eq(ops->res_i16(&a, out), 127);
	ck_assert_int_eq(out[0], 32767);
	ck_assert_int_eq(out[1], -32767);
	ck_assert_int_eq(out[2], 2);
	ck_assert_int_eq(out[33], 6);
	ops->res_f32(&a, f);
	ck_assert(isinf(f[0]) && f[0] > 0 && isinf(f[1]) && f[1] < 0);

	ainftp_acc_reset(&a);
	ck_assert_int_eq(ops->res_i16(&a, out), AINFTP_WIRE_EXP_ZERO);
	ck_assert_int_eq(out[0], 0);
	memset(q, 0, sizeof(q));
	q[39] = -1;
	ops->acc_i16(&a, q, -128);
	ck_assert_int_eq(ops->res_i16(&a, out), -128);
	ck_assert_int_eq(out[39], -1);
	ops->res_f32(&a, f);
	ck_assert(f[39] == -0x1p-128f && f[0] == 0.0f);
	acc_free(&a);
}
END_TEST

/*
 * res_i8 on crafted block states, by hand: ties either way and negative, a
 * maximum that rounds to 128 (one exponent more), powers of two, empty and
 * cancelled blocks, both clamps, the int64 extremes.
 */
struct i8_case {
	int32_t exp;  /* AINFTP_EXP_NONE: empty */
	int64_t v[6]; /* the block's first sums; the rest are 0 */
	int8_t e;     /* the result's exponent */
	int8_t q[6];
};

static const struct i8_case i8_cases[] = {
	{0, {129, 3, -3, 1, -1, 5}, 1, {64, 2, -2, 0, 0, 2}},
	{0, {255, -255, 254, 2}, 2, {64, -64, 64, 0}}, /* 127.5 units at 2^1 */
	{-3, {-255, -131, -129, 6, -6}, -1, {-64, -33, -32, 2, -2}},
	{AINFTP_EXP_NONE, {0}, AINFTP_WIRE_EXP_ZERO, {0}},
	{5, {0}, AINFTP_WIRE_EXP_ZERO, {0}}, /* contributions that cancelled */
	{10, {128, -64, 1}, 11, {64, -32, 0}},
	{-130, {3, 1, 2, -2, 6}, -128, {1, 0, 0, 0, 2}},      /* below the clamp: fewer bits */
	{127, {1 << 20, -(1 << 20), 1}, 127, {127, -127, 1}}, /* above it: saturated */
	{0, {127, -127}, 0, {127, -127}},
	{0, {INT64_MIN, INT64_MAX, 1}, 57, {-64, 64, 0}},
	{0, {-128, 1}, 1, {-64, 0}},
	{0, {383, 191}, 2, {96, 48}},
	{-7, {8128, -8192}, 0, {64, -64}}, /* 63.5 units: to even */
};
#define N_I8_CASES (sizeof(i8_cases) / sizeof(i8_cases[0]))

START_TEST(res_i8_crafted)
{
	const struct ainftp_quant_ops *ops = ops_of(_i / 2);
	const uint32_t n = N_I8_CASES * AINFTP_BLOCK - 5; /* a short last block */
	struct ainftp_acc a;
	const int8_t *out;
	uint32_t b, j;

	if (!ops)
		return;
	acc_init(&a, n);
	a.fresh = false;
	a.uni.mag = AINFTP_MAG_WIDE;
	for (b = 0; b < N_I8_CASES; b++) {
		/* _i odd: every block whose sums fit int32 narrow (in acc32), the rest wide. */
		bool narrow = _i % 2 == 1;

		a.exp[b] = i8_cases[b].exp;
		a.emax[b] = i8_cases[b].exp;
		for (j = 0; j < 6; j++)
			narrow = narrow && i8_cases[b].v[j] >= -INT32_MAX &&
				 i8_cases[b].v[j] <= INT32_MAX;
		a.mag[b] = narrow ? (uint32_t)INT32_MAX : AINFTP_MAG_WIDE;
		for (j = 0; j < ainftp_block_len(n, b); j++) {
			int64_t v = j < 6 ? i8_cases[b].v[j] : 0;

			if (narrow)
				a.acc32[b * AINFTP_BLOCK + j] = (int32_t)v;
			else
				a.acc[b * AINFTP_BLOCK + j] = v;
		}
	}
	out = res_i8_payload(ops, &a);
	for (b = 0; b < N_I8_CASES; b++) {
		const int8_t *q = out + ainftp_blocks(n) + b * AINFTP_BLOCK;

		const char *kind = a.mag[b] == AINFTP_MAG_WIDE ? "wide" : "narrow";

		ck_assert_msg(out[b] == i8_cases[b].e, "%s %s block %u: exponent %d, want %d",
			      ops->name, kind, b, out[b], i8_cases[b].e);
		for (j = 0; j < ainftp_block_len(n, b); j++)
			ck_assert_msg(q[j] == (j < 6 ? i8_cases[b].q[j] : 0),
				      "%s %s block %u element %u: %d, want %d", ops->name, kind, b,
				      j, q[j], j < 6 ? i8_cases[b].q[j] : 0);
	}
	assert_res_same(ops, &a, "crafted i8");
	assert_res_i8_any_state(ops, &a, "crafted i8");
	acc_free(&a);
}
END_TEST

/*
 * 64 workers of the largest values, each encoding: the int8 result against
 * the __int128 sum and its bound, in any order, narrow or widened (the
 * exponents of some blocks spread past what int32 holds).
 */
static void
fill_extreme(int w, uint32_t n, int scenario)
{
	uint32_t i, b;

	for (b = 0; b < ainftp_blocks(n); b++) {
		/* Block 3 spreads its exponents by 20 (wide); the others share one. */
		int32_t e = b == 3 && w % 2 ? 20 : 0;

		ce8[b] = (int8_t)e;
		ce16 = scenario == 1 ? 127 : (int8_t)(w % 2 ? 20 : 0);
		for (i = b * 32; i < b * 32 + ainftp_block_len(n, b); i++) {
			/* block 0 all +max, block 1 all -max, the rest alternating */
			bool neg = b == 1 || (b >= 2 && (i + (uint32_t)w) % 2);

			c8[i] = (int8_t)(neg ? -128 : 127);
			c16[i] = (int16_t)(neg ? -32768 : 32767);
			cf[i] = neg ? -FLT_MAX : FLT_MAX;
		}
	}
}

START_TEST(res_i8_extremes_any_order)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	static float fw[MAXN], xs[MAXW * 160];
	static int16_t qw[MAXN];
	static const int wbits[] = {AINFTP_QBITS_INT16, AINFTP_QBITS_INT8, AINFTP_QBITS_FLOAT32};
	const uint32_t n = 160;
	struct ainftp_acc a;
	int perm[MAXW], enc, scenario, w, p;
	char what[80];
	int8_t ew;

	if (!ops)
		return;
	rng = 31337;
	acc_init(&a, n);
	for (enc = ENC_I16; enc <= ENC_F32; enc++)
		for (scenario = 0; scenario < 2; scenario++) {
			for (w = 0; w < MAXW; w++) {
				fill_extreme(w, n, scenario);
				record(w, (enum enc)enc, n);
				memcpy(xs + (size_t)w * n, cf, n * sizeof(float));
				perm[w] = w;
			}
			ck_assert(!expect(MAXW, n, wbits[enc], fw, qw, &ew));
			for (p = 0; p < 6; p++) {
				ainftp_acc_reset(&a);
				shuffle(perm, MAXW);
				for (w = 0; w < MAXW; w++) {
					replay(perm[w], (enum enc)enc, n, xs);
					ck_assert_int_eq(add(ops, &a, (enum enc)enc), 0);
				}
				ck_assert(!a.overflow);
				snprintf(what, sizeof(what), "%s enc %d scenario %d order %d",
					 ops->name, enc, scenario, p);
				check_res_i8(ops, &a, what);
			}
		}
	acc_free(&a);
}
END_TEST

START_TEST(select_and_names)
{
	ck_assert_str_eq(ainftp_quant_scalar.name, "scalar");
	ck_assert_str_eq(ainftp_quant_avx2.name, "avx2");
	ck_assert_str_eq(ainftp_quant_avx512.name, "avx512");
	ck_assert(ainftp_quant_have(&ainftp_quant_scalar));
	ck_assert_ptr_eq(ainftp_quant_select(0), &ainftp_quant_scalar);
	ck_assert_ptr_eq(ainftp_quant_select(128), &ainftp_quant_scalar);
	ck_assert_ptr_eq(ainftp_quant_select(256), ainftp_quant_have(&ainftp_quant_avx2)
							   ? &ainftp_quant_avx2
							   : &ainftp_quant_scalar);
	if (ainftp_quant_have(&ainftp_quant_avx512))
		ck_assert_ptr_eq(ainftp_quant_select(512), &ainftp_quant_avx512);
	else
		ck_assert_ptr_eq(ainftp_quant_select(512), ainftp_quant_select(256));
}
END_TEST

static Suite *
quant_suite(void)
{
	Suite *s = suite_create("quant");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, select_and_names);
	tcase_add_loop_test(tc, quant_matches_reference, 0, NOPS);
	tcase_add_test(tc, dequant_is_ldexpf);
	tcase_add_loop_test(tc, max_abs_matches_reference, 0, NOPS);
	tcase_add_loop_test(tc, quant_rejects_nan_inf, 0, NOPS);
	tcase_add_loop_test(tc, quant_error_bound, 0, NOPS);
	tcase_add_loop_test(tc, quant_exponents, 0, NOPS);
	tcase_add_loop_test(tc, acc_matches_reference, 0, NOPS);
	tcase_add_loop_test(tc, acc_f32_long, 0, NOPS);
	tcase_add_loop_test(tc, res_crafted_states, 0, NOPS);
	tcase_add_loop_test(tc, res_crafted_narrow, 0, NOPS);
	tcase_add_loop_test(tc, res_crafted_blocks, 0, NOPS);
	tcase_add_loop_test(tc, res_i16_narrow_ties, 0, NOPS);
	tcase_add_loop_test(tc, acc_f32_any_alignment, 0, NOPS);
	tcase_add_loop_test(tc, zero_contributions_change_nothing, 0, NOPS);
	tcase_add_loop_test(tc, sums_exact_and_order_independent, 0, NOPS);
	tcase_add_loop_test(tc, mixed_encodings_exact_any_order, 0, NOPS);
	tcase_add_loop_test(tc, switch_to_int64_exact_any_order, 0, NOPS);
	tcase_add_loop_test(tc, switch_at_the_exact_count, 0, NOPS);
	tcase_add_loop_test(tc, overflow_past_span, 0, NOPS);
	tcase_add_test(tc, overflow_rounds_to_nearest_even);
	tcase_add_test(tc, room_mixed_encodings);
	tcase_add_test(tc, room_stale_on_empty);
	tcase_add_loop_test(tc, res_i16_clamps, 0, NOPS);
	tcase_add_loop_test(tc, res_i8_crafted, 0, 2 * NOPS); /* wide blocks, then narrow */
	tcase_add_loop_test(tc, res_i8_extremes_any_order, 0, NOPS);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(quant_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
