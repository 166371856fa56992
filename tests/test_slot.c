/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The slot pool's state machine with the real accumulator: any order of
 * arrival, with duplicates and retransmissions mixed in, gives the same bits;
 * retransmissions never add twice; a slot moves on only when its chunk is done.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_quant.h"
#include "ainftp_slot.h"

#define ELEMS 100
#define MAXW 64

static unsigned char acc_mem[2048] __attribute__((aligned(64)));

static struct ainftp_slot *
slot_new(void)
{
	static struct ainftp_slot s;

	memset(&s, 0, sizeof(s));
	ck_assert_uint_le(ainftp_acc_size(ELEMS), sizeof(acc_mem));
	ainftp_acc_init(&s.acc, ELEMS, acc_mem);
	ainftp_slot_init(&s);
	return &s;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct contrib {
	int8_t e;
	int16_t q[ELEMS];
};

static void
contribs_fill(struct contrib *c, unsigned int n)
{
	unsigned int w, i;

	for (w = 0; w < n; w++) {
		c[w].e = (int8_t)((int)(next() % 21) - 10);
		for (i = 0; i < ELEMS; i++)
			c[w].q[i] = (int16_t)((int)(next() % 65535) - 32767);
	}
}

/*
 * Offer the n contributions in a random order with duplicates sprinkled in,
 * until the slot is full, through ops; return the float32 result (and the
 * int16 one, when q16).
 */
static struct ainftp_slot *
run_ops(const struct ainftp_quant_ops *ops, const struct contrib *c, unsigned int n, float *out,
	int16_t *q16, int8_t *e16, unsigned int *dups)
{
	struct ainftp_slot *s = slot_new();
	unsigned int order[MAXW], i, j, tmp, sent = 0;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = (unsigned int)(next() % (i + 1));
		tmp = order[i], order[i] = order[j], order[j] = tmp;
	}
	for (i = 0; i < n; i++) {
		unsigned int w = order[i];

		ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(4, 2), w), AINFTP_SLOT_ADD);
		ops->acc_i16(&s->acc, c[w].q, c[w].e);
		sent++;
		/* A retransmission of someone already in: refused, the sum untouched. */
		if (next() % 3 == 0) {
			unsigned int d = order[next() % (i + 1)];

			ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(4, 2), d),
					 AINFTP_SLOT_DUP);
			(*dups)++;
		}
		ck_assert_uint_eq(s->count, sent);
		ck_assert(ainftp_slot_ready(s, n == 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1, n,
					    n) == (sent == n));
	}
	ops->res_f32(&s->acc, out);
	if (q16)
		*e16 = ops->res_i16(&s->acc, q16);
	return s;
}

static void
run_once(const struct contrib *c, unsigned int n, float *out, unsigned int *dups)
{
	run_ops(&ainftp_quant_scalar, c, n, out, NULL, NULL, dups);
}

START_TEST(order_and_duplicates_do_not_change_the_bits)
{
	static const unsigned int ns[] = {2, 8, 32, 64};
	struct contrib c[MAXW];
	float first[ELEMS], again[ELEMS];
	unsigned int t, r, dups = 0;

	for (t = 0; t < 4; t++) {
		contribs_fill(c, ns[t]);
		run_once(c, ns[t], first, &dups);
		for (r = 0; r < 25; r++) {
			run_once(c, ns[t], again, &dups);
			ck_assert_mem_eq(first, again, sizeof(first));
		}
	}
	ck_assert_uint_gt(dups, 0);
}
END_TEST

/*
 * 64 workers of the largest int16 values at exponents up to `spread` apart,
 * half of them at the top: from a spread of 10 a block's int32 sum could
 * leave 31 bits, so the slot's blocks move to int64 (docs/QUANTIZATION.md),
 * at a point that depends on the order. Some blocks and workers are all zero.
 */
static void
contribs_fill_switch(struct contrib *c, unsigned int n, int spread)
{
	unsigned int w, i;

	for (w = 0; w < n; w++) {
		bool zero_worker = next() % 16 == 0;

		c[w].e = (int8_t)(-30 +
				  (w % 2 ? spread : (int)(next() % (unsigned int)(spread + 1))));
		for (i = 0; i < ELEMS; i++) {
			bool zero = zero_worker || ((i / AINFTP_BLOCK + w) % 7 == 0);
			bool neg = (i % 3 == 0) != (next() % 8 == 0);

			c[w].q[i] = (int16_t)(zero ? 0 : (neg ? -32768 : 32767));
		}
	}
}

/* The float32 result by __int128 (docs/QUANTIZATION.md, "Results"), independent of the library. */
static void
expect_f32(const struct contrib *c, unsigned int n, float *out)
{
	unsigned int b, i, w;

	for (b = 0; b * AINFTP_BLOCK < ELEMS; b++) {
		unsigned int end = (b + 1) * AINFTP_BLOCK < ELEMS ? (b + 1) * AINFTP_BLOCK : ELEMS;
		int lo = INT32_MAX;

		for (w = 0; w < n; w++)
			for (i = b * AINFTP_BLOCK; i < end; i++)
				if (c[w].q[i] && c[w].e < lo)
					lo = c[w].e;
		for (i = b * AINFTP_BLOCK; i < end; i++) {
			__int128 sum = 0;

			for (w = 0; w < n && lo != INT32_MAX; w++)
				if (c[w].q[i]) /* a zero block's exponent may be below lo */
					sum += (__int128)c[w].q[i] * ((__int128)1 << (c[w].e - lo));
			out[i] = lo == INT32_MAX ? 0.0f : (float)ldexp((double)sum, lo);
		}
	}
}

START_TEST(every_kernel_across_the_switch_to_int64_gives_the_same_bits)
{
	static const struct ainftp_quant_ops *const all[] = {
		&ainftp_quant_scalar, &ainftp_quant_avx2, &ainftp_quant_avx512};
	static const int spreads[] = {3, 9, 10, 13, 16};
	struct contrib c[MAXW];
	float want[ELEMS], first[ELEMS], again[ELEMS];
	int16_t q_first[ELEMS], q_again[ELEMS];
	int8_t e_first, e_again;
	unsigned int t, k, r, dups = 0;

	for (t = 0; t < 5; t++) {
		contribs_fill_switch(c, MAXW, spreads[t]);
		expect_f32(c, MAXW, want);
		run_ops(&ainftp_quant_scalar, c, MAXW, first, q_first, &e_first, &dups);
		ck_assert_mem_eq(want, first, sizeof(want));
		for (k = 0; k < 3; k++) {
			if (!ainftp_quant_have(all[k])) {
				printf("test_slot: skipping %s, not on this CPU\n", all[k]->name);
				continue;
			}
			for (r = 0; r < 25; r++) {
				struct ainftp_slot *s =
					run_ops(all[k], c, MAXW, again, q_again, &e_again, &dups);
				bool wide = false;
				uint32_t b;

				ck_assert_mem_eq(first, again, sizeof(first));
				ck_assert_int_eq(e_first, e_again);
				ck_assert_mem_eq(q_first, q_again, sizeof(q_first));
				/* Up to a spread of 9 every block sums narrow; from 13, some
				 * widened. */
				for (b = 0; b < ainftp_blocks(ELEMS); b++)
					wide |= ainftp_acc_wide(&s->acc, b);
				if (spreads[t] <= 9)
					ck_assert(!wide);
				if (spreads[t] >= 13)
					ck_assert(wide);
			}
		}
	}
	ck_assert_uint_gt(dups, 0);
}
END_TEST

START_TEST(a_slot_moves_on_only_when_done)
{
	struct ainftp_slot *s = slot_new();
	int result_a, result_b;

	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 3), 0), AINFTP_SLOT_ADD);
	/* A newer chunk while this one sums: the sender broke the window rule. */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 11), 1), AINFTP_SLOT_BUSY);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 3), 1), AINFTP_SLOT_ADD);
	ck_assert(ainftp_slot_complete(s, &result_a) == NULL);

	/* Retransmissions of the completed chunk get the kept result. */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 3), 0), AINFTP_SLOT_RESEND);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 11), 0), AINFTP_SLOT_ADD);
	ck_assert_int_eq(s->count, 1);
	/* Still kept while the next chunk sums: worker 1 may have lost it. */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 3), 1), AINFTP_SLOT_RESEND);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 11), 1), AINFTP_SLOT_ADD);
	ck_assert_ptr_eq(ainftp_slot_complete(s, &result_b), &result_a);
	/* Now chunk 3 is neither summing nor kept. */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 3), 1), AINFTP_SLOT_STALE);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(0, 11), 1), AINFTP_SLOT_RESEND);
	/* A new step restarts chunk numbers: (1, 3) is newer than (0, 11). */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(1, 3), 1), AINFTP_SLOT_ADD);
}
END_TEST

START_TEST(a_later_step_is_left_to_the_caller_and_abandon_restarts_the_slot)
{
	struct ainftp_slot *s = slot_new();
	int result;

	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(2, 3), 0), AINFTP_SLOT_ADD);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(2, 3), 1), AINFTP_SLOT_ADD);
	/* Within the step a newer chunk is still a broken window rule... */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(2, 11), 2), AINFTP_SLOT_BUSY);
	/* ...a later step is the data path's to judge, and the slot is left as it was. */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(3, 0), 2), AINFTP_SLOT_LATER);
	ck_assert_int_eq(s->count, 2);
	ck_assert_uint_eq(s->bitmap, 3u);
	ck_assert_uint_eq(s->seq, ainftp_seq(2, 3));
	/* Abandoned (everyone in it moved on): that worker alone in the new chunk. */
	ainftp_slot_abandon(s, ainftp_seq(3, 0), 2);
	ck_assert_int_eq(s->count, 1);
	ck_assert_uint_eq(s->bitmap, 1u << 2);
	ck_assert(!s->done);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(2, 3), 0), AINFTP_SLOT_STALE);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(3, 0), 0), AINFTP_SLOT_ADD);
	ck_assert_int_eq(s->count, 2);
	/* A complete chunk is kept: the next step just moves on. */
	ck_assert(ainftp_slot_complete(s, &result) == NULL);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(4, 0), 0), AINFTP_SLOT_ADD);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(3, 0), 1), AINFTP_SLOT_RESEND);
}
END_TEST

/*
 * Completion: every required member in and the floor reached, or `quorum`
 * contributors; never below min_quorum, even with nobody left to wait for.
 */
START_TEST(ready_needs_the_members_and_the_floor)
{
	struct ainftp_slot *s = slot_new();

	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(1, 0), 0), AINFTP_SLOT_ADD);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(1, 0), 2), AINFTP_SLOT_ADD);
	/* Workers 0..3, quorum 4, floor 2. */
	ck_assert(!ainftp_slot_ready(s, 0xf, 4, 2));
	ck_assert(ainftp_slot_ready(s, 0x5, 4, 2));  /* 1 and 3 are out: 0 and 2 are enough */
	ck_assert(!ainftp_slot_ready(s, 0x5, 4, 3)); /* but not below a floor of 3 */
	ck_assert(!ainftp_slot_ready(s, 0, 4, 3));   /* nobody to wait for: still the floor */
	ck_assert(ainftp_slot_ready(s, 0, 4, 2));
	ck_assert(ainftp_slot_ready(s, 0xf, 2, 2)); /* a quorum of 2: whoever they are */
	/* Someone out of the quorum still counts towards the floor. */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(1, 0), 3), AINFTP_SLOT_ADD);
	ck_assert(ainftp_slot_ready(s, 0x1, 4, 3));
	ck_assert(!ainftp_slot_ready(s, 0x3, 4, 3));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("slot");
	TCase *tc = tcase_create("state");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, order_and_duplicates_do_not_change_the_bits);
	tcase_add_test(tc, every_kernel_across_the_switch_to_int64_gives_the_same_bits);
	tcase_add_test(tc, a_slot_moves_on_only_when_done);
	tcase_add_test(tc, a_later_step_is_left_to_the_caller_and_abandon_restarts_the_slot);
	tcase_add_test(tc, ready_needs_the_members_and_the_floor);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
