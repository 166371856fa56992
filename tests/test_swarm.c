/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The swarm's arithmetic on synthetic clocks, without EAL: RTT and jitter
 * EWMAs, loss over the remembered heartbeats, acks that must be ignored, and
 * the state a worker is in. HZ is 1 MHz: one cycle is one microsecond.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_config.h"
#include "ainftp_swarm.h"

#define HZ 1000000ull
#define MS 1000ull
#define T0 (1000 * MS)
#define F (1u << AINFTP_SWARM_FRAC_BITS) /* srtt and jitter are in 1/F cycles */

static struct ainftp_swarm sw;
static struct ainftp_config cfg;

/* One job (id 9) of two workers, ids 3 and 5; heartbeats every 100 ms, stragglers at 500 ms. */
static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_jobs = 1;
	cfg.jobs[0].id = 9;
	cfg.jobs[0].n_workers = 2;
	cfg.jobs[0].workers[0].id = 3;
	cfg.jobs[0].workers[1].id = 5;
	cfg.jobs[0].straggler.threshold_ms = 500;
	ainftp_swarm_init(&sw, &cfg, HZ, 100);
}

static struct ainftp_peer *
peer(unsigned int w)
{
	return &sw.jobs[0].peers[w];
}

/* Heartbeat seq at T0 + seq * 100 ms, acked after rtt cycles when rtt != 0. */
static void
beat(struct ainftp_peer *p, uint32_t seq, uint64_t rtt)
{
	uint64_t tx = T0 + seq * 100 * MS;

	ainftp_swarm_sent(p, seq, tx);
	if (rtt != 0)
		ck_assert(ainftp_swarm_ack(p, seq, tx, tx + rtt));
}

START_TEST(test_init)
{
	ck_assert_uint_eq(sw.interval, 100 * MS);
	/* max(3 intervals, 500 ms) */
	ck_assert_uint_eq(sw.jobs[0].silent_after, 500 * MS);
	cfg.jobs[0].straggler.threshold_ms = 100;
	ainftp_swarm_init(&sw, &cfg, HZ, 100);
	ck_assert_uint_eq(sw.jobs[0].silent_after, 300 * MS);
	ck_assert_uint_eq(sw.jobs[0].worker_id[1], 5);
}
END_TEST

START_TEST(test_rtt_ewma)
{
	struct ainftp_peer *p = peer(0);
	uint64_t srtt = 800 * F, jit = 0, d;
	uint32_t s;

	ainftp_swarm_known(p);
	beat(p, 0, 800);
	ck_assert_uint_eq(p->srtt, 800 * F);
	ck_assert_uint_eq(p->jitter, 0);
	/* Alternating 1600 and 800: every step checked against the formulas. */
	for (s = 1; s < 40; s++) {
		uint64_t rtt = (s % 2 ? 1600 : 800) * F;

		beat(p, s, rtt / F);
		d = rtt > srtt ? rtt - srtt : srtt - rtt;
		srtt = (uint64_t)((int64_t)srtt + ((int64_t)rtt - (int64_t)srtt) / 8);
		jit = (uint64_t)((int64_t)jit + ((int64_t)d - (int64_t)jit) / 16);
		ck_assert_uint_eq(p->srtt, srtt);
		ck_assert_uint_eq(p->jitter, jit);
	}
	/* Settles between the two, with a jitter of about half their distance. */
	ck_assert_uint_gt(p->srtt, 1000 * F);
	ck_assert_uint_lt(p->srtt, 1400 * F);
	ck_assert_uint_gt(p->jitter, 250 * F);
	ck_assert_uint_lt(p->jitter, 500 * F);
	/* A steady RTT pulls srtt to it and jitter toward 0. */
	for (; s < 200; s++)
		beat(p, s, 500);
	ck_assert_uint_le(p->srtt, 501 * F);
	ck_assert_uint_lt(p->jitter, 2 * F);
	ck_assert_uint_eq(p->acks, 200);
	ck_assert_uint_eq(p->sent, 200);
}
END_TEST

START_TEST(test_loss)
{
	struct ainftp_peer *p = peer(0);
	uint32_t s;

	ainftp_swarm_known(p);
	ck_assert(ainftp_swarm_loss(p) == 0.0);
	/* The latest heartbeat is in flight: no loss yet. */
	beat(p, 0, 0);
	ck_assert(ainftp_swarm_loss(p) == 0.0);
	beat(p, 1, 0);
	ck_assert(ainftp_swarm_loss(p) == 1.0);
	/* Every fourth lost, over more than the window. */
	for (s = 2; s < 200; s++)
		beat(p, s, s % 4 == 0 ? 0 : 100);
	ck_assert_double_eq_tol(ainftp_swarm_loss(p), 0.25, 0.02);
	/* A late ack for an old heartbeat still counts; a second one does not. */
	ck_assert(ainftp_swarm_ack(p, 196, T0 + 196 * 100 * MS, T0 + 199 * 100 * MS));
	ck_assert(!ainftp_swarm_ack(p, 196, T0 + 196 * 100 * MS, T0 + 199 * 100 * MS));
	/* All answered from now on: loss falls to 0 once the window has turned over. */
	for (; s < 300; s++)
		beat(p, s, 100);
	ck_assert(ainftp_swarm_loss(p) == 0.0);
	/* None answered: loss rises to 1. */
	for (; s < 400; s++)
		beat(p, s, 0);
	ck_assert(ainftp_swarm_loss(p) == 1.0);
}
END_TEST

START_TEST(test_ignored_acks)
{
	struct ainftp_peer *p = peer(1);
	uint64_t tx = T0 + 10 * 100 * MS;

	ainftp_swarm_known(p);
	/* Nothing sent yet. */
	ck_assert(!ainftp_swarm_ack(p, 0, T0, T0 + 1));
	beat(p, 10, 0);
	/* A sequence number never sent (ahead), one before the first sent, one past the window. */
	ck_assert(!ainftp_swarm_ack(p, 11, tx, tx + 1));
	ck_assert(!ainftp_swarm_ack(p, 9, tx, tx + 1));
	ck_assert(!ainftp_swarm_ack(p, 10 - AINFTP_SWARM_WINDOW, tx, tx + 1));
	/* An echoed TSC in the future, or before the first heartbeat went. */
	ck_assert(!ainftp_swarm_ack(p, 10, tx + 5, tx + 1));
	ck_assert(!ainftp_swarm_ack(p, 10, T0, tx + 1));
	ck_assert_uint_eq(p->acks, 0);
	ck_assert_uint_eq(p->srtt, 0);
	ck_assert_uint_eq(p->last_ack_tsc, 0);
	/* The real one. */
	ck_assert(ainftp_swarm_ack(p, 10, tx, tx + 7));
	ck_assert_uint_eq(p->srtt, 7 * F);
	ck_assert_uint_eq(p->acks, 1);
	/* Sequence numbers wrap. */
	ainftp_swarm_sent(p, UINT32_MAX, tx + 100);
	ainftp_swarm_sent(p, 0, tx + 200);
	ck_assert(ainftp_swarm_ack(p, UINT32_MAX, tx + 100, tx + 300));
	ck_assert(!ainftp_swarm_ack(p, 1, tx + 100, tx + 300));
	ck_assert_uint_eq(p->acks, 2);
}
END_TEST

START_TEST(test_state)
{
	const struct ainftp_swarm_job *job = &sw.jobs[0];
	struct ainftp_peer *p = peer(0);
	struct ainftp_peer_view v;
	uint64_t t;

	ck_assert_int_eq(ainftp_swarm_state(job, p, T0), AINFTP_PEER_UNKNOWN);
	ainftp_swarm_known(p);
	ck_assert_int_eq(ainftp_swarm_state(job, p, T0), AINFTP_PEER_UP);
	/* Never answering: up for the silence bound after the first heartbeat, then silent. */
	ainftp_swarm_sent(p, 0, T0);
	ck_assert_int_eq(ainftp_swarm_state(job, p, T0 + 500 * MS), AINFTP_PEER_UP);
	ck_assert_int_eq(ainftp_swarm_state(job, p, T0 + 501 * MS), AINFTP_PEER_SILENT);
	/* An ack brings it back; silence after its last ack makes it silent again. */
	ainftp_swarm_sent(p, 1, T0 + 600 * MS);
	ck_assert(ainftp_swarm_ack(p, 1, T0 + 600 * MS, T0 + 601 * MS));
	ck_assert_int_eq(ainftp_swarm_state(job, p, T0 + 700 * MS), AINFTP_PEER_UP);
	t = T0 + 601 * MS + 500 * MS + 1;
	ck_assert_int_eq(ainftp_swarm_state(job, p, t), AINFTP_PEER_SILENT);

	ainftp_swarm_view(&sw, 0, 0, t, &v);
	ck_assert_uint_eq(v.job, 9);
	ck_assert_uint_eq(v.id, 3);
	ck_assert_int_eq(v.state, AINFTP_PEER_SILENT);
	ck_assert_str_eq(ainftp_peer_state_name(v.state), "silent");
	ck_assert_double_eq_tol(v.rtt_us, 1000.0, 1e-9);
	ck_assert_int_eq(v.last_seen_ms, 500);
	ck_assert_uint_eq(v.sent, 2);
	ck_assert_uint_eq(v.acks, 1);
	ck_assert_double_eq(v.loss, 1.0); /* of the two, the older was never acked */
	ainftp_swarm_view(&sw, 0, 1, t, &v);
	ck_assert_str_eq(ainftp_peer_state_name(v.state), "unknown");
	ck_assert_int_eq(v.last_seen_ms, -1);
}
END_TEST

/*
 * A new process's HELLO: heard from then, for the silence bound, though the
 * old process never answered; its RTT is measured afresh (the old one's is
 * not its), the counts go on.
 */
START_TEST(test_hello)
{
	const struct ainftp_swarm_job *job = &sw.jobs[0];
	struct ainftp_peer *p = peer(0);

	ainftp_swarm_known(p);
	beat(p, 0, 40 * MS);
	ainftp_swarm_sent(p, 1, T0 + 100 * MS);
	ck_assert_int_eq(ainftp_swarm_state(job, p, T0 + 2000 * MS), AINFTP_PEER_SILENT);
	ainftp_swarm_hello(p, T0 + 2000 * MS);
	ck_assert_uint_eq(p->srtt, 0);
	ck_assert_uint_eq(p->jitter, 0);
	ck_assert_int_eq(ainftp_swarm_state(job, p, T0 + 2500 * MS), AINFTP_PEER_UP);
	ck_assert_int_eq(ainftp_swarm_state(job, p, T0 + 2501 * MS), AINFTP_PEER_SILENT);
	/* A HELLO older than the last news moves nothing. */
	ainftp_swarm_hello(p, T0 + 1500 * MS);
	ck_assert_int_eq(ainftp_swarm_state(job, p, T0 + 2501 * MS), AINFTP_PEER_SILENT);
	/* The new process's first ack is its first RTT sample, not an EWMA step from the old. */
	ainftp_swarm_sent(p, 2, T0 + 2600 * MS);
	ck_assert(ainftp_swarm_ack(p, 2, T0 + 2600 * MS, T0 + 2600 * MS + 2 * MS));
	ck_assert_uint_eq(p->srtt, 2 * MS * F);
	ck_assert_uint_eq(p->acks, 2);
	ck_assert_uint_eq(p->sent, 3);
	/* ... which an older HELLO, late through the ring, leaves alone. */
	ainftp_swarm_hello(p, T0 + 2000 * MS);
	ck_assert_uint_eq(p->srtt, 2 * MS * F);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("swarm");
	TCase *tc = tcase_create("swarm");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_rtt_ewma);
	tcase_add_test(tc, test_loss);
	tcase_add_test(tc, test_ignored_acks);
	tcase_add_test(tc, test_state);
	tcase_add_test(tc, test_hello);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
