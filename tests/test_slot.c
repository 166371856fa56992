/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The slot pool's state machine with the real accumulator: any order of
 * arrival, with duplicates and retransmissions mixed in, gives the same bits;
 * retransmissions never add twice; a slot moves on only when its chunk is done.
 */
#include <check.h>
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
 * until the slot is full; return the float32 result.
 */
static void
run_once(const struct contrib *c, unsigned int n, float *out, unsigned int *dups)
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
		ainftp_quant_scalar.acc_i16(&s->acc, c[w].q, c[w].e);
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
	ainftp_quant_scalar.res_f32(&s->acc, out);
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

START_TEST(a_later_step_abandons_a_chunk_its_workers_gave_up)
{
	struct ainftp_slot *s = slot_new();
	int result;

	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(2, 3), 0), AINFTP_SLOT_ADD);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(2, 3), 1), AINFTP_SLOT_ADD);
	/* Within the step a newer chunk is still a broken window rule... */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(2, 11), 2), AINFTP_SLOT_BUSY);
	/* ...a later step restarts the slot with that worker alone. */
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(3, 0), 2), AINFTP_SLOT_ABANDON);
	ck_assert_int_eq(s->count, 1);
	ck_assert_uint_eq(s->bitmap, 1u << 2);
	ck_assert(!s->done);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(2, 3), 0), AINFTP_SLOT_STALE);
	ck_assert_int_eq(ainftp_slot_offer(s, ainftp_seq(3, 0), 0), AINFTP_SLOT_ADD);
	ck_assert_int_eq(s->count, 2);
	/* A complete chunk is kept, not abandoned: the next step just moves on. */
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
	tcase_add_test(tc, a_slot_moves_on_only_when_done);
	tcase_add_test(tc, a_later_step_abandons_a_chunk_its_workers_gave_up);
	tcase_add_test(tc, ready_needs_the_members_and_the_floor);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
