/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Partial sums between boxes (ainftp_partial.h): leaves that each sum some
 * workers and send their sums in parts, merged by a spine in any order, give
 * the same bits as one box that took every contribution; a part's layout and
 * values are checked before a spine takes it.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_codec.h"
#include "ainftp_partial.h"
#include "ainftp_quant.h"
#include "ainftp_test_rng.h"

#define NOPS 3
static const struct ainftp_quant_ops *const all_ops[NOPS] = {
	&ainftp_quant_scalar,
	&ainftp_quant_avx2,
	&ainftp_quant_avx512,
};

#define MAXN 4462
#define MAXB ((MAXN + AINFTP_BLOCK - 1) / AINFTP_BLOCK)
#define MAXW 64
#define MAXL 8
#define ITERS 400 /* per kernel set and encoding */

/* Uniform in (-1, 1), 24 bits. */
static float
rnd_unit(void)
{
	return (float)((int32_t)(rnd() >> 40) - (1 << 23)) * 0x1p-23f;
}

static void
shuffle(uint32_t *v, uint32_t m)
{
	uint32_t i;

	for (i = m; i > 1; i--) {
		uint32_t j = (uint32_t)(rnd() % i), t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* The ops set of loop index i, or NULL (and a note) when the CPU lacks it. */
static const struct ainftp_quant_ops *
ops_of(int i)
{
	if (!ainftp_quant_have(all_ops[i])) {
		printf("test_partial: skipping %s, not on this CPU\n", all_ops[i]->name);
		return NULL;
	}
	return all_ops[i];
}

/* ck_assert_msg without check's pipe write per passing assertion: for the long loops. */
#define check(cond, ...)                           \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* ------------------------------------------------------------ accumulators */

static struct ainftp_acc *
acc_new(void)
{
	struct ainftp_acc *a = calloc(1, sizeof(*a));
	void *mem = aligned_alloc(64, ainftp_acc_size(MAXN));

	ck_assert(a && mem);
	/* Junk where nothing was written: stale acc32 is what fresh must ignore. */
	memset(mem, 0x5a, ainftp_acc_size(MAXN));
	ainftp_acc_init(a, MAXN, mem);
	return a;
}

static void
acc_del(struct ainftp_acc *a)
{
	free(a->acc);
	free(a);
}

/* a's struct and allocation, to see that a refused merge changed nothing. */
struct acc_snap {
	struct ainftp_acc s;
	unsigned char *mem;
	size_t len;
};

static void
snap_take(struct acc_snap *sn, const struct ainftp_acc *a)
{
	memcpy(&sn->s, a, sizeof(*a));
	sn->len = ainftp_acc_size(a->n);
	sn->mem = malloc(sn->len);
	ck_assert(sn->mem);
	memcpy(sn->mem, a->acc, sn->len);
}

static void
snap_same(struct acc_snap *sn, const struct ainftp_acc *a, const char *what)
{
	ck_assert_msg(memcmp(&sn->s, a, sizeof(*a)) == 0, "%s: acc struct changed", what);
	ck_assert_msg(memcmp(sn->mem, a->acc, sn->len) == 0, "%s: acc memory changed", what);
	free(sn->mem);
}

/*
 * Two accumulators hold the same state, block by block and element by
 * element, each block at its lowest contribution's exponent (an int8 block
 * may hold room below it: ainftp_acc_room).
 */
static void
same_state(const struct ainftp_acc *x, const struct ainftp_acc *y, const char *what)
{
	uint32_t b, i;

	check(x->n == y->n, "%s: n %u != %u", what, x->n, y->n);
	for (b = 0; b < ainftp_blocks(x->n); b++) {
		struct ainftp_acc_block s = ainftp_acc_state(x, b), t = ainftp_acc_state(y, b);
		int32_t rx = ainftp_acc_room(x, b), ry = ainftp_acc_room(y, b);

		check(s.exp + rx == t.exp + ry && s.emax == t.emax,
		      "%s: n=%u block %u: exp/emax %d/%d != %d/%d", what, x->n, b, s.exp + rx,
		      s.emax, t.exp + ry, t.emax);
		if (s.exp == AINFTP_EXP_NONE)
			continue;
		for (i = b * AINFTP_BLOCK; i < b * AINFTP_BLOCK + ainftp_block_len(x->n, b); i++)
			check(ainftp_acc_at(x, i) / (INT64_C(1) << rx) ==
				      ainftp_acc_at(y, i) / (INT64_C(1) << ry),
			      "%s: n=%u elem %u: %lld != %lld", what, x->n, i,
			      (long long)(ainftp_acc_at(x, i) / (INT64_C(1) << rx)),
			      (long long)(ainftp_acc_at(y, i) / (INT64_C(1) << ry)));
	}
}

static unsigned char res_x[4 * MAXN + MAXB], res_y[4 * MAXN + MAXB];

/* Every result encoding of x (kernels kx) and y (ky): the same bytes and exponents. */
static void
same_results(const struct ainftp_kernels *kx, const struct ainftp_acc *x,
	     const struct ainftp_kernels *ky, const struct ainftp_acc *y, const char *what)
{
	int c;

	for (c = 0; ainftp_codec_list[c]; c++) {
		const struct ainftp_codec *rc = ainftp_codec_list[c];
		size_t len = rc->payload_len(x->n);
		int8_t ex, ey;

		if (!rc->result_encode)
			continue;
		memset(res_x, 0x11, len);
		memset(res_y, 0x22, len);
		ex = rc->result_encode(kx, x, res_x);
		ey = rc->result_encode(ky, y, res_y);
		check(ex == ey, "%s: %s result exponent %d != %d (n=%u)", what, rc->name, ex, ey,
		      x->n);
		check(memcmp(res_x, res_y, len) == 0, "%s: %s result bytes differ (n=%u)", what,
		      rc->name, x->n);
	}
}

/* ------------------------------------------------------------ contributions */

static float xs[MAXW][MAXN];
static unsigned char pay[MAXW][4 * MAXN + MAXB];
static int8_t pay_exp[MAXW];
static float scratch[MAXN] __attribute__((aligned(64)));

/*
 * Worker i's floats: per non-zero block one element of magnitude in [2^(k-1),
 * 2^k) fixes the block's exponent, the others anywhere below it (down to the
 * ones int8 and int16 round to 0), so that block exponents lie in [klo, khi].
 * Some blocks all zero, some contributions all zero.
 */
static void
gen(float *x, uint32_t n, int32_t klo, int32_t khi)
{
	int32_t kw = rnd_in(klo, khi);
	uint32_t b, j;

	memset(x, 0, sizeof(*x) * n);
	if (rnd() % 10 == 0)
		return;
	for (b = 0; b < ainftp_blocks(n); b++) {
		uint32_t m = ainftp_block_len(n, b), top = (uint32_t)(rnd() % m);
		/* Blocks of one worker near its own level: the int16 packet's exponent. */
		int32_t k = rnd() % 3 ? kw - rnd_in(0, 6) : rnd_in(klo, khi);
		float s;

		if (rnd() % 6 == 0)
			continue;
		k = k < klo ? klo : k;
		for (j = 0; j < m; j++) {
			float u = rnd_unit();

			if (rnd() % 8 == 0)
				u = 0;
			x[b * AINFTP_BLOCK + j] = ldexpf(u, k - rnd_in(0, 40));
		}
		s = rnd() & 1 ? -1.0f : 1.0f;
		x[b * AINFTP_BLOCK + top] = s * ldexpf(0.5f + 0.49f * fabsf(rnd_unit()), k);
	}
}

static uint32_t
rnd_n(void)
{
	static const uint32_t edge[] = {1, 2, 31, 32, 33, 63, 64, 65, 4095, 4096, MAXN};

	switch (rnd() % 4) {
	case 0:
		return edge[rnd() % (sizeof(edge) / sizeof(edge[0]))];
	case 1:
		return (uint32_t)rnd_in(1, MAXB - 1) * AINFTP_BLOCK + (uint32_t)rnd_in(-1, 1);
	default:
		return (uint32_t)rnd_in(1, MAXN);
	}
}

/* ------------------------------------------------------------ the hierarchy */

struct scenario {
	uint32_t n, nw, nl;
	int32_t klo, khi;
	int cancel;	   /* workers in pairs x, -x: every sum 0, exponents set */
	int spine_direct;  /* leaf nl's workers go into the spine itself */
	int32_t forced[2]; /* two workers scaled apart (>= 0), for overflow */
	int forced_apart;  /* the two in different leaves */
};

static struct ainftp_acc *leaves[MAXL + 1], *spine, *direct;
static unsigned char parts_buf[MAXL][8 * MAXN + 16 * MAXB + 8 * MAXB];
static unsigned char part_tmp[8 * MAXN + 16 * MAXB + 16];

struct item {
	uint32_t leaf, part; /* leaf == nl: worker part (its index) into the spine */
	size_t off, len;
};
static struct item items[MAXL * MAXB + MAXW];

/* What the random cases covered, to show they reach the corners. */
static struct {
	long long cases, one_leaf, empty_leaf, cancel, spine_direct, n1, n_odd, leaf_wide, parts;
} cov;

/*
 * One case: workers quantized with ops (codec cd), leaves summing theirs in a
 * random order with ops, their parts (random bpp) merged by a spine in a
 * random interleaving; one box summing all with the scalar kernels in another
 * order. Returns whether the one box overflowed (then only the flag is
 * compared).
 */
static bool
run_case(const struct ainftp_quant_ops *ops, const struct ainftp_codec *cd,
	 const struct scenario *sc)
{
	struct ainftp_kernels k, kref;
	uint32_t leaf_of[MAXW], count[MAXL + 1] = {0}, order[MAXW], nitems = 0, i, l;
	uint32_t nb = ainftp_blocks(sc->n);
	bool flag = false;
	char what[160];

	ainftp_kernels_init(&k, ops);
	ainftp_kernels_init(&kref, &ainftp_quant_scalar);
	snprintf(what, sizeof(what), "%s/%s n=%u workers=%u leaves=%u%s%s", ops->name, cd->name,
		 sc->n, sc->nw, sc->nl, sc->cancel ? " cancel" : "",
		 sc->spine_direct ? " +spine" : "");

	/* Contributions, and which leaf takes each (nl: the spine itself). */
	for (i = 0; i < sc->nw; i++) {
		if (sc->cancel && (i & 1)) {
			uint32_t j;

			for (j = 0; j < sc->n; j++)
				xs[i][j] = -xs[i - 1][j];
		} else {
			gen(xs[i], sc->n, sc->klo, sc->khi);
		}
		leaf_of[i] = (uint32_t)rnd_in(0, (int32_t)sc->nl - (sc->spine_direct ? 0 : 1));
	}
	if (sc->forced[0] >= 0) {
		uint32_t j, f0 = (uint32_t)sc->forced[0], f1 = (uint32_t)sc->forced[1];

		for (j = 0; j < sc->n; j++) {
			xs[f0][j] = ldexpf(0.75f + 0.2f * rnd_unit(), sc->khi);
			xs[f1][j] = ldexpf(0.75f + 0.2f * rnd_unit(), sc->klo);
		}
		leaf_of[f0] = 0;
		leaf_of[f1] = sc->forced_apart && sc->nl > 1 ? 1 : 0;
	}
	for (i = 0; i < sc->nw; i++) {
		check(cd->quantize(&k, xs[i], sc->n, pay[i], &pay_exp[i]) == 0, "%s: quantize",
		      what);
		count[leaf_of[i]]++;
	}

	/* One box, scalar, in one order. */
	ainftp_acc_init(direct, sc->n, direct->acc);
	for (i = 0; i < sc->nw; i++)
		order[i] = i;
	shuffle(order, sc->nw);
	for (i = 0; i < sc->nw; i++)
		check(cd->accumulate(&kref, direct, pay[order[i]], pay_exp[order[i]], scratch) == 0,
		      "%s: accumulate", what);

	/* The leaves, each in its own order, and their parts. */
	shuffle(order, sc->nw);
	for (l = 0; l < sc->nl; l++) {
		uint32_t bpp = (uint32_t)rnd_in(1, nb < AINFTP_PART_MAX_BPP ? (int32_t)nb
									    : AINFTP_PART_MAX_BPP);
		size_t off = 0;
		uint32_t p;

		ainftp_acc_init(leaves[l], sc->n, leaves[l]->acc);
		for (i = 0; i < sc->nw; i++)
			if (leaf_of[order[i]] == l)
				cd->accumulate(&k, leaves[l], pay[order[i]], pay_exp[order[i]],
					       scratch);
		flag |= leaves[l]->overflow;
		for (p = 0; p < ainftp_part_count(sc->n, bpp); p++) {
			size_t len = ainftp_part_write(leaves[l], p, bpp, parts_buf[l] + off);

			check(len == ainftp_part_len(sc->n, p, bpp) && len > 0,
			      "%s: part %u len %zu", what, p, len);
			items[nitems++] = (struct item){l, p, off, len};
			off += len;
		}
	}
	for (i = 0; i < sc->nw; i++)
		if (leaf_of[i] == sc->nl)
			items[nitems++] = (struct item){sc->nl, i, 0, 0};

	/* The spine: every part and its own workers, interleaved at random. */
	ainftp_acc_init(spine, sc->n, spine->acc);
	for (i = 0; i < nitems; i++) {
		uint32_t j = i + (uint32_t)(rnd() % (nitems - i));
		struct item t = items[i], *it = items + i;
		struct ainftp_part_info pi;
		unsigned char *src;
		size_t mis = rnd() % 8; /* any alignment */

		items[i] = items[j];
		items[j] = t;
		if (it->leaf == sc->nl) {
			cd->accumulate(&k, spine, pay[it->part], pay_exp[it->part], scratch);
			continue;
		}
		src = memcpy(part_tmp + mis, parts_buf[it->leaf] + it->off, it->len);
		check(ainftp_part_parse(src, it->len, sc->n, &pi) == 0 && pi.part == it->part,
		      "%s: parse of part %u", what, it->part);
		check(ainftp_acc_merge_part(spine, src, it->len, cd->qbits,
					    count[it->leaf] ? count[it->leaf] : 1) == 0,
		      "%s: merge of leaf %u part %u refused", what, it->leaf, it->part);
	}
	spine->overflow |= flag;
	cov.cases++;
	cov.one_leaf += sc->nl == 1;
	cov.cancel += sc->cancel;
	cov.spine_direct += sc->spine_direct;
	cov.n1 += sc->n == 1;
	cov.n_odd += sc->n % AINFTP_BLOCK != 0;
	cov.parts += nitems;
	for (l = 0; l < sc->nl; l++) {
		cov.empty_leaf += count[l] == 0;
		cov.leaf_wide += leaves[l]->uni.mag == AINFTP_MAG_WIDE &&
				 leaves[l]->mag[0] == AINFTP_MAG_WIDE;
	}

	check(spine->overflow == direct->overflow, "%s: overflow %d, one box %d", what,
	      spine->overflow, direct->overflow);
	if (direct->overflow)
		return true;
	same_state(spine, direct, what);
	same_results(&k, spine, &kref, direct, what);
	return false;
}

static void
setup(void)
{
	uint32_t l;

	for (l = 0; l <= MAXL; l++)
		leaves[l] = acc_new();
	spine = acc_new();
	direct = acc_new();
}

static void
teardown(void)
{
	uint32_t l;

	for (l = 0; l <= MAXL; l++)
		acc_del(leaves[l]);
	acc_del(spine);
	acc_del(direct);
}

static const struct ainftp_codec *
enc_of(int e)
{
	static const char *const names[] = {"int16", "int8", "float32"};
	const struct ainftp_codec *c = ainftp_codec_by_name(names[e]);

	ck_assert_ptr_nonnull(c);
	return c;
}

/* Block exponents within the span of every encoding (float32's 26 the least). */
#define K_LO (-12)
#define K_HI 12

START_TEST(hierarchy_matches_one_box)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	int e, it;

	if (!ops)
		return;
	rng = 0x5eed0000u + (uint64_t)_i;
	for (e = 0; e < 3; e++) {
		const struct ainftp_codec *cd = enc_of(e);

		for (it = 0; it < ITERS; it++) {
			struct scenario sc = {
				.n = rnd_n(),
				.nw = (uint32_t)rnd_in(2, MAXW),
				.nl = (uint32_t)rnd_in(1, MAXL),
				.klo = K_LO,
				.khi = K_HI,
				.cancel = rnd() % 8 == 0,
				.spine_direct = rnd() % 4 == 0,
				.forced = {-1, -1},
			};

			/* Small ones often: empty leaves, one worker per leaf. */
			if (rnd() % 4 == 0)
				sc.nw = (uint32_t)rnd_in(2, 10);
			check(!run_case(ops, cd, &sc), "%s/%s: overflow within the span", ops->name,
			      cd->name);
		}
	}
	printf("test_partial: %s: %lld cases (%lld one leaf, %lld with an empty leaf, %lld "
	       "cancelling, %lld with the spine's own workers, %lld n=1, %lld n not a multiple of "
	       "32, %lld leaves with block 0 wide, %lld parts merged)\n",
	       ops->name, cov.cases, cov.one_leaf, cov.empty_leaf, cov.cancel, cov.spine_direct,
	       cov.n1, cov.n_odd, cov.leaf_wide, cov.parts);
}
END_TEST

/* Exponents spread past the span: every box that sees it flags it, and so the spine. */
START_TEST(overflow_flags_match)
{
	const struct ainftp_quant_ops *ops = ops_of(_i);
	int e, it, over = 0, within = 0;

	if (!ops)
		return;
	rng = 0x0fe10000u + (uint64_t)_i;
	for (e = 0; e < 3; e++) {
		const struct ainftp_codec *cd = enc_of(e);
		int32_t span = ainftp_span(cd->qbits);

		for (it = 0; it < 40; it++) {
			struct scenario sc = {
				.n = rnd_n(),
				.nw = (uint32_t)rnd_in(2, 20),
				.nl = (uint32_t)rnd_in(1, MAXL),
				.forced = {-1, -1},
			};

			if (it % 2 == 0) {
				/* Two workers apart by more than the span, everywhere. */
				sc.klo = -span / 2 - 4;
				sc.khi = sc.klo + span + 1 + rnd_in(0, 10);
				sc.forced[0] = 0;
				sc.forced[1] = 1;
				sc.forced_apart = it % 4 == 0;
				check(run_case(ops, cd, &sc), "%s/%s: no overflow past the span",
				      ops->name, cd->name);
			} else {
				/* Random spreads around the span: the flag agrees, bits too without
				 * it. */
				sc.klo = -span / 2 - 8;
				sc.khi = sc.klo + span + rnd_in(-8, 8);
				if (run_case(ops, cd, &sc))
					over++;
				else
					within++;
			}
		}
	}
	printf("test_partial: %s: spread cases overflowed %d, within %d\n", ops->name, over,
	       within);
}
END_TEST

/* One leaf: the spine's sum is the leaf's, whatever bpp. */
START_TEST(single_leaf_round_trip)
{
	struct ainftp_kernels k;
	int e, it;

	rng = 0x1eaf;
	ainftp_kernels_init(&k, &ainftp_quant_scalar);
	for (e = 0; e < 3; e++) {
		const struct ainftp_codec *cd = enc_of(e);

		for (it = 0; it < 30; it++) {
			struct scenario sc = {
				.n = rnd_n(),
				.nw = (uint32_t)rnd_in(1, MAXW),
				.nl = 1,
				.klo = K_LO,
				.khi = K_HI,
				.forced = {-1, -1},
			};

			if (sc.nw < 2)
				sc.nw = 2;
			ck_assert(!run_case(&ainftp_quant_scalar, cd, &sc));
			same_state(spine, leaves[0], "round trip");
			same_results(&k, spine, &k, leaves[0], "round trip");
		}
	}
}
END_TEST

/* ------------------------------------------------------------ layout */

START_TEST(part_sizes)
{
	uint32_t n, bpp, p;

	ck_assert_uint_eq(ainftp_part_bpp(0), 0);
	ck_assert_uint_eq(ainftp_part_bpp(AINFTP_PART_HDR_LEN + 8 + 256 - 1), 0);
	ck_assert_uint_eq(ainftp_part_bpp(AINFTP_PART_HDR_LEN + 8 + 256), 1);
	ck_assert_uint_eq(ainftp_part_bpp(AINFTP_PART_HDR_LEN + 5 * 264 + 263), 5);
	ck_assert_uint_eq(ainftp_part_bpp(1400), 5);
	ck_assert_uint_eq(ainftp_part_bpp(9000), 34);
	ck_assert_uint_eq(ainftp_part_bpp(SIZE_MAX), 255);
	ck_assert_uint_eq(ainftp_part_count(100, 0), 0);
	ck_assert_uint_eq(ainftp_part_count(0, 3), 0);
	ck_assert_uint_eq(ainftp_part_count(1, 3), 1);
	ck_assert_uint_eq(ainftp_part_count(97, 3), 2);
	ck_assert_uint_eq(ainftp_part_count(96, 3), 1);
	ck_assert_uint_eq(ainftp_part_len(1, 0, 1), AINFTP_PART_HDR_LEN + 8 + 8);
	ck_assert_uint_eq(ainftp_part_len(1, 1, 1), 0);
	ck_assert_uint_eq(ainftp_part_len(33, 0, 1), AINFTP_PART_HDR_LEN + 8 + 256);
	ck_assert_uint_eq(ainftp_part_len(33, 1, 1), AINFTP_PART_HDR_LEN + 8 + 8);
	ck_assert_uint_eq(ainftp_part_len(33, 0, 2), AINFTP_PART_HDR_LEN + 16 + 33 * 8);
	/* The parts of any chunk: every element and block once. */
	for (n = 1; n <= 300; n++)
		for (bpp = 1; bpp <= 12; bpp++) {
			size_t sum = 0;
			uint32_t c = ainftp_part_count(n, bpp);

			for (p = 0; p < c; p++) {
				ck_assert_uint_gt(ainftp_part_len(n, p, bpp), AINFTP_PART_HDR_LEN);
				ck_assert_uint_le(ainftp_part_len(n, p, bpp),
						  AINFTP_PART_HDR_LEN + bpp * 264);
				sum += ainftp_part_len(n, p, bpp);
			}
			ck_assert_uint_eq(sum, (size_t)c * AINFTP_PART_HDR_LEN +
						       ainftp_blocks(n) * 8 + n * 8);
			ck_assert_uint_eq(ainftp_part_len(n, c, bpp), 0);
		}
}
END_TEST

static int64_t
rd64(const unsigned char *p)
{
	uint64_t u = 0;
	int i;

	for (i = 7; i >= 0; i--)
		u = u << 8 | p[i];
	return (int64_t)u;
}

static int32_t
rd32(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

static void
wr32(unsigned char *p, int32_t v)
{
	uint32_t u = (uint32_t)v;

	p[0] = (unsigned char)u, p[1] = (unsigned char)(u >> 8);
	p[2] = (unsigned char)(u >> 16), p[3] = (unsigned char)(u >> 24);
}

static void
wr64(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	for (i = 0; i < 8; i++, u >>= 8)
		p[i] = (unsigned char)u;
}

/* Every block of a written part empty: exp, emax NONE and sums 0. */
static void
all_empty(const unsigned char *p, uint32_t n, uint32_t part, uint32_t bpp)
{
	uint32_t b, j, first = part * bpp;
	const unsigned char *o = p + AINFTP_PART_HDR_LEN;

	ck_assert_uint_eq(p[0], part);
	ck_assert_uint_eq(p[1], bpp);
	for (b = first; b < first + p[4]; b++) {
		ck_assert_int_eq(rd32(o), AINFTP_EXP_NONE);
		ck_assert_int_eq(rd32(o + 4), AINFTP_EXP_NONE);
		o += 8;
		for (j = 0; j < ainftp_block_len(n, b); j++, o += 8)
			ck_assert(rd64(o) == 0);
	}
	ck_assert_uint_eq((size_t)(o - p), ainftp_part_len(n, part, bpp));
}

/* A fresh accumulator (acc32 junk) and one that took only zeros: empty parts, merged as nothing. */
START_TEST(empty_acc_parts)
{
	static const uint32_t ns[] = {1, 31, 32, 33, 1000, MAXN};
	struct ainftp_acc *a = acc_new(), *s = acc_new();
	struct ainftp_kernels k;
	size_t t;

	ainftp_kernels_init(&k, &ainftp_quant_scalar);
	for (t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		uint32_t n = ns[t], bpp, p;
		int round;

		for (round = 0; round < 3; round++) {
			ainftp_acc_init(a, n, a->acc);
			memset(a->acc32, 0x77, n * sizeof(*a->acc32)); /* fresh: junk ignored */
			if (round > 0) {
				/* Zeros, in each form: an int16 packet (uni), an int8 and a
				 * float32. */
				const struct ainftp_codec *cd = enc_of(round == 1 ? 0 : 1);
				int8_t ex;

				memset(xs[0], 0, n * sizeof(float));
				ck_assert_int_eq(cd->quantize(&k, xs[0], n, pay[0], &ex), 0);
				ck_assert_int_eq(cd->accumulate(&k, a, pay[0], ex, scratch), 0);
				ck_assert_int_eq(enc_of(2)->accumulate(&k, a, xs[0], 0, scratch),
						 0);
			}
			for (bpp = 1; bpp <= 5; bpp += 2) {
				ainftp_acc_init(s, n, s->acc);
				for (p = 0; p < ainftp_part_count(n, bpp); p++) {
					struct acc_snap sn;
					size_t len = ainftp_part_write(a, p, bpp, part_tmp);

					ck_assert_uint_eq(len, ainftp_part_len(n, p, bpp));
					all_empty(part_tmp, n, p, bpp);
					snap_take(&sn, s);
					ck_assert_int_eq(
						ainftp_acc_merge_part(s, part_tmp, len, 15, 1), 0);
					snap_same(&sn, s, "empty part");
				}
				ck_assert(s->fresh);
			}
		}
	}
	/* Parts that do not exist, or that the header cannot say. */
	ainftp_acc_init(a, 100, a->acc);
	ck_assert_uint_eq(ainftp_part_write(a, 4, 1, part_tmp), 0);
	ck_assert_uint_eq(ainftp_part_write(a, 0, 0, part_tmp), 0);
	ck_assert_uint_eq(ainftp_part_write(a, 0, 256, part_tmp), 0);
	{
		/* 300 blocks: part 256 of bpp 1 exists but its header cannot say so. */
		struct ainftp_acc big;
		void *mem = aligned_alloc(64, ainftp_acc_size(300 * AINFTP_BLOCK));

		ck_assert(mem);
		ainftp_acc_init(&big, 300 * AINFTP_BLOCK, mem);
		ck_assert_uint_eq(ainftp_part_write(&big, 256, 1, part_tmp), 0);
		ck_assert_uint_gt(ainftp_part_write(&big, 255, 1, part_tmp), 0);
		all_empty(part_tmp, big.n, 255, 1);
		free(mem);
	}
	acc_del(a);
	acc_del(s);
}
END_TEST

/* A leaf's acc with something in every block, and its part p at bpp in part_tmp. */
static size_t
leaf_part(struct ainftp_acc *a, uint32_t n, uint32_t p, uint32_t bpp, unsigned int workers)
{
	const struct ainftp_codec *cd = enc_of(0);
	struct ainftp_kernels k;
	unsigned int i;
	uint32_t j;

	ainftp_kernels_init(&k, &ainftp_quant_scalar);
	ainftp_acc_init(a, n, a->acc);
	for (i = 0; i < workers; i++) {
		int8_t ex;

		for (j = 0; j < n; j++)
			xs[0][j] = ldexpf(0.5f + 0.4f * rnd_unit(), (int)i * 3);
		ck_assert_int_eq(cd->quantize(&k, xs[0], n, pay[0], &ex), 0);
		cd->accumulate(&k, a, pay[0], ex, scratch);
	}
	return ainftp_part_write(a, p, bpp, part_tmp);
}

START_TEST(parse_refuses)
{
	struct ainftp_acc *a = acc_new();
	struct ainftp_part_info pi;
	uint32_t n = 200, bpp = 3; /* 7 blocks: parts of 3, 3, 1; the last 8 elements */
	size_t len;
	unsigned char save[AINFTP_PART_HDR_LEN];

	rng = 0x9a25e;
	len = leaf_part(a, n, 1, bpp, 2);
	ck_assert_uint_eq(len, ainftp_part_len(n, 1, bpp));
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len, n, &pi), 0);
	ck_assert_uint_eq(pi.part, 1);
	ck_assert_uint_eq(pi.bpp, 3);
	ck_assert_uint_eq(pi.first_block, 3);
	ck_assert_uint_eq(pi.n_blocks, 3);
	ck_assert_uint_eq(pi.desc, 0); /* written 0: a request said by the leaf is set after */
	ainftp_part_set_desc(part_tmp, UINT64_C(0x0001000000012345));
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len, n, &pi), 0);
	ck_assert_uint_eq(pi.desc, UINT64_C(0x0001000000012345));
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len - 1, n, &pi), -1);
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len + 1, n, &pi), -1);
	ck_assert_int_eq(ainftp_part_parse(part_tmp, 1, n, &pi), -1);
	ck_assert_int_eq(ainftp_part_parse(part_tmp, 0, n, &pi), -1);
	ck_assert_int_eq(ainftp_part_parse(part_tmp, AINFTP_PART_HDR_LEN, n, &pi), -1);
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len, n - 100, &pi), -1); /* another chunk */
	memcpy(save, part_tmp, sizeof(save));
#define MUTATE(byte, val)                                                             \
	do {                                                                          \
		part_tmp[byte] = (val);                                               \
		ck_assert_msg(ainftp_part_parse(part_tmp, len, n, &pi) == -1,         \
			      "byte %d = %d taken", byte, val);                       \
		ck_assert_int_eq(ainftp_acc_merge_part(a, part_tmp, len, 15, 2), -1); \
		memcpy(part_tmp, save, sizeof(save));                                 \
	} while (0)
	MUTATE(2, 2);	/* first_block */
	MUTATE(3, 1);	/* first_block's high byte */
	MUTATE(4, 2);	/* n_blocks */
	MUTATE(5, 1);	/* n_blocks' high byte */
	MUTATE(1, 0);	/* bpp 0 */
	MUTATE(1, 4);	/* another bpp: the header no longer matches */
	MUTATE(0, 3);	/* part >= count */
	MUTATE(0, 255); /* part >= count */
	MUTATE(6, 1);	/* pad */
	MUTATE(7, 0x80);
#undef MUTATE
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len, n, &pi), 0);
	/* The last, short part: its length from the chunk's last block. */
	len = ainftp_part_write(a, 2, bpp, part_tmp);
	ck_assert_uint_eq(len, AINFTP_PART_HDR_LEN + 8 + 8 * 8);
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len, n, &pi), 0);
	ck_assert_uint_eq(pi.n_blocks, 1);
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len, n + 1, &pi), -1);
	ck_assert_int_eq(ainftp_part_parse(part_tmp, len, n - 1, &pi), -1);
	acc_del(a);
}
END_TEST

/* Offset of block i of a part (0: the first) in part_tmp. */
static size_t
block_off(uint32_t n, uint32_t first, uint32_t i)
{
	size_t off = AINFTP_PART_HDR_LEN;
	uint32_t b;

	for (b = first; b < first + i; b++)
		off += 8 + 8 * (size_t)ainftp_block_len(n, b);
	return off;
}

START_TEST(merge_refuses)
{
	struct ainftp_acc *a = acc_new(), *s = acc_new();
	struct ainftp_kernels k;
	uint32_t n = 250, bpp = 4, first = 4, last = 3; /* part 1: blocks 4..7, 7 is short */
	unsigned int workers = 3;
	unsigned char good[8 * 4 * 32 + 64];
	size_t len, lo, bo;
	int32_t exp, emax;
	int64_t v;
	int w = AINFTP_QBITS_INT16;

	rng = 0x4e6e;
	ainftp_kernels_init(&k, &ainftp_quant_scalar);
	len = leaf_part(a, n, 1, bpp, workers);
	ck_assert_uint_le(len, sizeof(good));
	memcpy(good, part_tmp, len);
	/* The spine holds something already: a refusal must leave it exactly. */
	ainftp_acc_init(s, n, s->acc);
	{
		int8_t ex;
		uint32_t j;

		for (j = 0; j < n; j++)
			xs[1][j] = rnd_unit();
		ck_assert_int_eq(enc_of(0)->quantize(&k, xs[1], n, pay[1], &ex), 0);
		enc_of(0)->accumulate(&k, s, pay[1], ex, scratch);
	}
	bo = block_off(n, first, last); /* the last block: the others would be merged already */
	exp = rd32(good + bo);
	emax = rd32(good + bo + 4);
	ck_assert_int_lt(exp, emax);

#define REFUSED(why, cnt, ww)                                                             \
	do {                                                                              \
		struct acc_snap sn;                                                       \
		snap_take(&sn, s);                                                        \
		ck_assert_msg(ainftp_acc_merge_part(s, part_tmp, len, (ww), (cnt)) == -1, \
			      "%s: taken", why);                                          \
		snap_same(&sn, s, why);                                                   \
		memcpy(part_tmp, good, len);                                              \
	} while (0)

	memcpy(part_tmp, good, len);
	/* The bound itself is taken, one more is not, nor its negation. */
	lo = bo + 8 + 8 * (ainftp_block_len(n, first + last) - 1);
	v = (int64_t)workers << (w + emax - exp);
	wr64(part_tmp + lo, v + 1);
	REFUSED("value past the bound", workers, w);
	wr64(part_tmp + lo, -v - 1);
	REFUSED("negative value past the bound", workers, w);
	wr64(part_tmp + lo, INT64_MIN);
	REFUSED("INT64_MIN", workers, w);
	wr64(part_tmp + lo, ((int64_t)1 << (w + emax - exp)) + 1);
	REFUSED("fewer contributions than it holds", 1, w);
	REFUSED("narrower contributions", workers, AINFTP_QBITS_INT8);
	REFUSED("count 0", 0, w);
	REFUSED("count 65", 65, w);
	wr32(part_tmp + bo, emax + 1);
	REFUSED("emax < exp", workers, w);
	wr32(part_tmp + bo + 4, exp + ainftp_span(w) + 1);
	REFUSED("spread past the span", workers, w);
	wr32(part_tmp + bo, AINFTP_EXP_NONE);
	REFUSED("exp NONE, emax set", workers, w);
	wr32(part_tmp + bo + 4, AINFTP_EXP_NONE);
	REFUSED("emax NONE, exp set", workers, w);
	wr32(part_tmp + bo, AINFTP_EXP_NONE);
	wr32(part_tmp + bo + 4, AINFTP_EXP_NONE);
	REFUSED("exp NONE with non-zero values", workers, w);
	wr32(part_tmp + bo, AINFTP_PART_EXP_MIN - 1);
	wr32(part_tmp + bo + 4, AINFTP_PART_EXP_MIN + 10);
	REFUSED("exp below any real one", workers, w);
	wr32(part_tmp + bo, AINFTP_PART_EXP_MAX - 5);
	wr32(part_tmp + bo + 4, AINFTP_PART_EXP_MAX + 1);
	REFUSED("emax above any real one", workers, w);
	len--;
	REFUSED("truncated", workers, w);
	len++;
#undef REFUSED

	/* An empty block with zero sums is fine, and so is the bound exactly. */
	memcpy(part_tmp, good, len);
	wr64(part_tmp + lo, v);
	ck_assert_int_eq(ainftp_acc_merge_part(s, part_tmp, len, w, workers), 0);
	memcpy(part_tmp, good, len);
	wr32(part_tmp + bo, AINFTP_EXP_NONE);
	wr32(part_tmp + bo + 4, AINFTP_EXP_NONE);
	memset(part_tmp + bo + 8, 0, 8 * ainftp_block_len(n, first + last));
	ck_assert_int_eq(ainftp_acc_merge_part(s, part_tmp, len, w, workers), 0);
	/* The same, at an odd address. */
	memmove(part_tmp + 1, part_tmp, len);
	ck_assert_int_eq(ainftp_acc_merge_part(s, part_tmp + 1, len, w, workers), 0);
	acc_del(a);
	acc_del(s);
}
END_TEST

/* A one-block part of n elements at part_tmp + off: exp, emax and values. */
static size_t
craft(size_t off, uint32_t n, int32_t exp, int32_t emax, const int64_t *v)
{
	unsigned char *p = part_tmp + off;
	uint32_t j;

	memset(p, 0, AINFTP_PART_HDR_LEN);
	p[1] = 1; /* part 0, bpp 1, first block 0 */
	p[4] = 1; /* one block */
	wr32(p + AINFTP_PART_HDR_LEN, exp);
	wr32(p + AINFTP_PART_HDR_LEN + 4, emax);
	for (j = 0; j < n; j++)
		wr64(p + AINFTP_PART_HDR_LEN + 8 + 8 * j, v[j]);
	return AINFTP_PART_HDR_LEN + 8 + 8 * (size_t)n;
}

/* Past the span the merge rounds each side to nearest, ties to even, as ainftp_acc_prep. */
START_TEST(overflow_merge_rounds_to_nearest_even)
{
	static const int64_t low[6] = {3, 2, 6, -3, 5, 10}, want[6] = {1, 0, 2, -1, 1, 2};
	static const int64_t one[6] = {1, 1, 1, 1, 1, 1};
	int32_t top = ainftp_span(AINFTP_QBITS_INT16) + 2;
	struct ainftp_acc *a = acc_new();
	int order, j;

	for (order = 0; order < 2; order++) {
		size_t l1 = craft(0, 6, 0, 0, low), l2 = craft(l1 + 5, 6, top, top, one);
		const unsigned char *first = part_tmp + (order ? l1 + 5 : 0);
		const unsigned char *second = part_tmp + (order ? 0 : l1 + 5);

		ainftp_acc_init(a, 6, a->acc);
		ck_assert_int_eq(ainftp_acc_merge_part(a, first, l1, AINFTP_QBITS_INT16, 1), 0);
		ck_assert(!a->overflow);
		ck_assert_int_eq(ainftp_acc_merge_part(a, second, l2, AINFTP_QBITS_INT16, 1), 0);
		ck_assert(a->overflow);
		ck_assert_int_eq(ainftp_acc_state(a, 0).exp, 2);
		ck_assert_int_eq(ainftp_acc_state(a, 0).emax, top);
		for (j = 0; j < 6; j++)
			ck_assert_msg(ainftp_acc_at(a, (uint32_t)j) ==
					      want[j] + ((int64_t)1 << (top - 2)),
				      "order %d elem %d: %lld", order, j,
				      (long long)ainftp_acc_at(a, (uint32_t)j));
	}
	acc_del(a);
}
END_TEST

static Suite *
partial_suite(void)
{
	Suite *s = suite_create("partial");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, part_sizes);
	tcase_add_test(tc, empty_acc_parts);
	tcase_add_test(tc, parse_refuses);
	tcase_add_test(tc, merge_refuses);
	tcase_add_test(tc, single_leaf_round_trip);
	tcase_add_test(tc, overflow_merge_rounds_to_nearest_even);
	tcase_add_loop_test(tc, hierarchy_matches_one_box, 0, NOPS);
	tcase_add_loop_test(tc, overflow_flags_match, 0, NOPS);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(partial_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
