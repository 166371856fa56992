/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Straggler ranking on synthetic clocks, without EAL: who leaves the quorum
 * and why, the hysteresis of rejoining, the join step, and what a slot of a
 * given step waits for. HZ is 1 MHz: one cycle is one microsecond.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_config.h"
#include "ainftp_quorum.h"

#define HZ 1000000ull
#define MS 1000ull
#define T (500 * MS) /* the job's threshold */
#define NW 4

static struct ainftp_quorum q;
static struct ainftp_config cfg;
static struct ainftp_health h[NW];
static struct ainftp_quorum_job *job;

/* One job (id 9) of four workers, ids 0, 1, 2 and 5; threshold 500 ms, floor 2. */
static void
setup(void)
{
	static const uint16_t ids[NW] = {0, 1, 2, 5};
	unsigned int w;

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_jobs = 1;
	cfg.jobs[0].id = 9;
	cfg.jobs[0].n_workers = NW;
	for (w = 0; w < NW; w++)
		cfg.jobs[0].workers[w].id = ids[w];
	cfg.jobs[0].straggler.threshold_ms = 500;
	cfg.jobs[0].straggler.min_quorum = 2;
	ainftp_quorum_init(&q, &cfg, HZ, 100);
	job = &q.jobs[0];
	memset(h, 0, sizeof(h));
	for (w = 0; w < NW; w++) {
		h[w].state = AINFTP_PEER_UP;
		h[w].srtt = 200;
	}
}

static uint64_t
members(void)
{
	struct ainftp_quorum_snap s;

	ainftp_quorum_snapshot(job, &s);
	return s.members;
}

START_TEST(everyone_starts_in)
{
	struct ainftp_quorum_snap s;

	ck_assert_uint_eq(job->threshold, T);
	ck_assert_uint_eq(job->min_quorum, 2);
	ainftp_quorum_snapshot(job, &s);
	ck_assert_uint_eq(s.version, 1);
	ck_assert_uint_eq(s.members, 0x27);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 0), 0x27);
	ck_assert_uint_eq(ainftp_quorum_required(&s, UINT32_MAX), 0x27);
	/* Healthy workers: nothing moves, nothing to publish. */
	ck_assert(!ainftp_quorum_update(job, h, 10, 1000 * MS));
	ck_assert_uint_eq(job->version, 1);
}
END_TEST

/*
 * Ranks: members first, then by the larger of RTT and lag, ties by worker
 * order; a worker that left ranks below every member, whatever its RTT. The
 * counts of the tick are kept beside.
 */
START_TEST(ranks_order_members_by_rtt_and_lag)
{
	h[0].srtt = 300;
	h[1].lag = 250; /* 250 > its RTT of 200 */
	h[2].srtt = 100;
	h[3].srtt = 100; /* ties with worker 2: after it */
	h[3].contribs = 7;
	h[3].drops = 2;
	ainftp_quorum_update(job, h, 0, 1000 * MS);
	ck_assert_uint_eq(job->m[0].rank, 4);
	ck_assert_uint_eq(job->m[1].rank, 3);
	ck_assert_uint_eq(job->m[2].rank, 1);
	ck_assert_uint_eq(job->m[3].rank, 2);
	ck_assert_uint_eq(job->m[3].contribs, 7);
	ck_assert_uint_eq(job->m[3].drops, 2);
	/* Worker 2 goes silent and leaves: last, though its RTT is the best. */
	h[2].state = AINFTP_PEER_SILENT;
	ck_assert(ainftp_quorum_update(job, h, 0, 1001 * MS));
	ck_assert_uint_eq(job->m[2].rank, 4);
	ck_assert_uint_eq(job->m[3].rank, 1);
	ck_assert_uint_eq(job->m[1].rank, 2);
	ck_assert_uint_eq(job->m[0].rank, 3);
}
END_TEST

/* Each reason on its own worker; exactly at the threshold is still in. */
START_TEST(silence_rtt_and_lag_downrank)
{
	h[0].state = AINFTP_PEER_SILENT;
	h[1].srtt = T + 1;
	h[2].lag = T + 1;
	h[3].lag = T;
	ck_assert(ainftp_quorum_update(job, h, 3, 1000 * MS));
	ck_assert_uint_eq(members(), 0x20);
	ck_assert_uint_eq(job->version, 2);
	ck_assert_uint_eq(job->n_members, 1);
	ck_assert_uint_eq(job->m[0].reason, AINFTP_OUT_SILENT);
	ck_assert_uint_eq(job->m[1].reason, AINFTP_OUT_RTT);
	ck_assert_uint_eq(job->m[2].reason, AINFTP_OUT_LAG);
	ck_assert_uint_eq(job->m[2].downranked, 1);
	ck_assert_uint_eq(job->m[2].lag, T + 1);
	ck_assert_uint_eq(job->m[3].downranked, 0);
	ck_assert_str_eq(ainftp_out_reason_name(AINFTP_OUT_LAG), "lag");
	/* The same again: nothing new. */
	ck_assert(!ainftp_quorum_update(job, h, 3, 1010 * MS));
	ck_assert_uint_eq(job->m[2].downranked, 1);
}
END_TEST

/*
 * A spine's job: its workers are the leaves, each in every result. Silence,
 * RTT and lag over the threshold move none of them out (a leaf paced by its
 * slowest worker used to be logged as "worker N leaves the quorum").
 */
START_TEST(a_spines_leaves_never_leave)
{
	cfg.jobs[0].role = AINFTP_ROLE_SPINE;
	ainftp_quorum_init(&q, &cfg, HZ, 100);
	h[0].state = AINFTP_PEER_SILENT;
	h[1].srtt = T + 1;
	h[2].lag = T + 1;
	ck_assert(!ainftp_quorum_update(job, h, 3, 1000 * MS));
	ck_assert_uint_eq(members(), 0x27);
	ck_assert_uint_eq(job->version, 1);
	ck_assert_uint_eq(job->m[2].downranked, 0);
	ck_assert_uint_eq(job->m[2].lag, T + 1); /* still shown */
	/* A leaf's job is ranked as one box's. */
	cfg.jobs[0].role = AINFTP_ROLE_LEAF;
	ainftp_quorum_init(&q, &cfg, HZ, 100);
	ck_assert(ainftp_quorum_update(job, h, 3, 1000 * MS));
	ck_assert_uint_eq(members(), 0x20);
}
END_TEST

/* Out at t0 with lag; each rejoining condition held back in turn, then all met. */
START_TEST(rejoining_needs_every_sign_of_health)
{
	uint64_t t0 = 1000 * MS;
	struct ainftp_quorum_snap s;

	h[2].lag = 2 * T;
	h[2].samples = 100;
	h[2].acks = 50;
	ck_assert(ainftp_quorum_update(job, h, 7, t0));
	/* Healthy at once, but out for less than a threshold. */
	h[2].lag = T / 4;
	h[2].samples = 200;
	h[2].acks = 60;
	ck_assert(!ainftp_quorum_update(job, h, 8, t0 + T - 1));
	/* Lag between half the threshold and the threshold: in would stay in, out stays out. */
	h[2].lag = T / 2 + 1;
	ck_assert(!ainftp_quorum_update(job, h, 8, t0 + T));
	h[2].lag = T / 4;
	/* RTT above half the threshold. */
	h[2].srtt = T / 2 + 1;
	ck_assert(!ainftp_quorum_update(job, h, 8, t0 + T));
	h[2].srtt = 200;
	/* Too few contributions timed since it left. */
	h[2].samples = 100 + AINFTP_QUORUM_REJOIN_SAMPLES - 1;
	ck_assert(!ainftp_quorum_update(job, h, 8, t0 + T));
	h[2].samples = 100 + AINFTP_QUORUM_REJOIN_SAMPLES;
	/* No ack since it left. */
	h[2].acks = 50;
	ck_assert(!ainftp_quorum_update(job, h, 8, t0 + T));
	h[2].acks = 51;
	ck_assert_uint_eq(members(), 0x23);
	ck_assert(ainftp_quorum_update(job, h, 8, t0 + T));
	ck_assert_uint_eq(job->m[2].rejoined, 1);
	ck_assert_uint_eq(job->m[2].join_step, 9);
	ck_assert_uint_eq(job->version, 3);

	/* Required from step 9 on: a slot of step 8 does not wait for it. */
	ainftp_quorum_snapshot(job, &s);
	ck_assert_uint_eq(s.members, 0x27);
	ck_assert_uint_eq(s.late, 0x4);
	ck_assert_uint_eq(s.max_join, 9);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 8), 0x23);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 9), 0x27);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 1000), 0x27);
}
END_TEST

/* Two rejoins at different steps: each required from its own. */
START_TEST(each_rejoin_has_its_own_step)
{
	struct ainftp_quorum_snap s;
	uint64_t t0 = 1000 * MS;

	h[1].state = AINFTP_PEER_SILENT;
	h[3].lag = 2 * T;
	ck_assert(ainftp_quorum_update(job, h, 2, t0));
	h[1].state = AINFTP_PEER_UP;
	h[1].acks = 1;
	h[1].samples = 20;
	ck_assert(ainftp_quorum_update(job, h, 4, t0 + T));
	h[3].lag = 0;
	h[3].acks = 1;
	h[3].samples = 20;
	ck_assert(ainftp_quorum_update(job, h, 6, t0 + 2 * T));
	ainftp_quorum_snapshot(job, &s);
	ck_assert_uint_eq(s.members, 0x27);
	ck_assert_uint_eq(s.max_join, 7);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 4), 0x05);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 5), 0x07);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 6), 0x07);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 7), 0x27);
}
END_TEST

/* Heartbeats off: the swarm says nothing, and data alone brings a worker back. */
START_TEST(without_heartbeats_data_decides)
{
	uint64_t t0 = 1000 * MS;
	unsigned int w;

	ainftp_quorum_init(&q, &cfg, HZ, 0);
	for (w = 0; w < NW; w++)
		h[w].state = AINFTP_PEER_UNKNOWN;
	h[0].lag = T + 1;
	ck_assert(ainftp_quorum_update(job, h, 0, t0));
	h[0].lag = 0;
	h[0].samples = AINFTP_QUORUM_REJOIN_SAMPLES;
	ck_assert(ainftp_quorum_update(job, h, 0, t0 + T));
	ck_assert_uint_eq(members(), 0x27);
	ck_assert_uint_eq(job->m[0].join_step, 1);
}
END_TEST

/* The sentry's job-wide suspicion and quarantine (clip, threshold 0.5), and the readmit. */
START_TEST(the_sentry_quarantines_at_most_a_minority_until_readmitted)
{
	uint64_t seen[NW] = {0}, flagged[NW] = {0};
	struct ainftp_quorum_snap s;
	double susp;
	unsigned int w;

	/* Without a sentry, flags never quarantine. */
	for (w = 0; w < NW; w++)
		seen[w] = flagged[w] = 1000;
	ck_assert(!ainftp_quorum_sentry(job, seen, flagged));
	ck_assert_uint_eq(job->m[1].quarantined, 0);

	cfg.jobs[0].sentry.policy = AINFTP_SENTRY_CLIP;
	cfg.jobs[0].sentry.suspicion_threshold = 0.5;
	ainftp_quorum_init(&q, &cfg, HZ, 100);
	job = &q.jobs[0];
	ck_assert_uint_eq(job->sentry_threshold, AINFTP_QUORUM_Q16 / 2);
	/* Workers 1 and 3 (id 5) flagged at every one of 64 chunks, 0 and 2 never. */
	memset(seen, 0, sizeof(seen));
	memset(flagged, 0, sizeof(flagged));
	for (w = 0; w < NW; w++) {
		seen[w] = 64;
		flagged[w] = w % 2 ? 64 : 0;
	}
	ck_assert(ainftp_quorum_sentry(job, seen, flagged));
	susp = (double)job->m[1].suspicion / AINFTP_QUORUM_Q16;
	ck_assert_double_eq_tol(susp, 1 - pow(63.0 / 64, 64), 1e-4);
	ck_assert_uint_eq(job->m[0].suspicion, 0);
	/* Only one of four at once: never a majority, (n - 1) / 2. */
	ck_assert_uint_eq(job->m[1].quarantined, 1);
	ck_assert_uint_eq(job->m[1].in, 0);
	ck_assert_uint_eq(job->m[1].reason, AINFTP_OUT_SENTRY);
	ck_assert_uint_eq(job->m[3].quarantined, 0);
	ck_assert_uint_ge(job->m[3].suspicion, job->sentry_threshold);
	ck_assert_uint_eq(job->n_members, 3);
	ck_assert_uint_eq(job->version, 2);
	ainftp_quorum_snapshot(job, &s);
	ck_assert_uint_eq(s.members, 0x25);
	ck_assert_uint_eq(s.quarantined, 0x2);
	/* Healthy by every other sign, it stays out; nothing new: nothing to publish. */
	ck_assert(!ainftp_quorum_update(job, h, 10, 100000 * MS));
	ck_assert(!ainftp_quorum_sentry(job, seen, flagged));
	ck_assert_uint_eq(job->m[1].in, 0);
	/* Counters that went back (an lcore restarted) move only the baseline. */
	seen[0] = 10;
	ck_assert(!ainftp_quorum_sentry(job, seen, flagged));
	ck_assert_uint_eq(job->m[0].suspicion, 0);

	ck_assert_int_eq(ainftp_quorum_readmit(job, 0, 10), -EINVAL);
	ck_assert_int_eq(ainftp_quorum_readmit(job, NW, 10), -EINVAL);
	ck_assert_int_eq(ainftp_quorum_readmit(job, 1, 10), 0);
	ck_assert_uint_eq(job->m[1].quarantined, 0);
	ck_assert_uint_eq(job->m[1].in, 1);
	ck_assert_uint_eq(job->m[1].suspicion, 0);
	ck_assert_uint_eq(job->m[1].join_step, 11);
	ck_assert_uint_eq(job->n_members, 4);
	ainftp_quorum_snapshot(job, &s);
	ck_assert_uint_eq(s.members, 0x27);
	ck_assert_uint_eq(s.quarantined, 0);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 10), 0x25);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 11), 0x27);
	/* Now there is room: worker 3 (still flagged) goes at the next tick. */
	seen[3] += 1;
	flagged[3] += 1;
	ck_assert(ainftp_quorum_sentry(job, seen, flagged));
	ck_assert_uint_eq(job->m[3].quarantined, 1);
	ck_assert_int_eq(ainftp_quorum_readmit(job, 1, 10), -EINVAL);
}
END_TEST

/* The floor first: with min_quorum = every worker, a flagged worker is suspected, not quarantined.
 */
/*
 * A new process's HELLO (worker index 2, id 2, told to start at step 40):
 * back in from its step, however it left, and counted in the snapshot; the
 * lag measured before it (the old process's) does not send it out again for
 * a threshold, then counts; its silence counts at once. A quarantined worker
 * stays out: only the operator readmits it.
 */
START_TEST(a_hello_brings_a_new_process_in_from_its_step)
{
	struct ainftp_quorum_snap s;
	uint64_t t0 = 1000 * MS, v;

	h[2].lag = T + 1;
	ck_assert(ainftp_quorum_update(job, h, 30, t0));
	ck_assert_uint_eq(job->m[2].in, 0);
	v = job->version;
	ainftp_quorum_hello(job, 2, 40, t0 + 10 * MS);
	ck_assert_uint_eq(job->version, v + 1);
	ck_assert_uint_eq(job->m[2].in, 1);
	ck_assert_uint_eq(job->m[2].join_step, 40);
	ck_assert_uint_eq(job->m[2].rejoined, 1);
	ck_assert_uint_eq(job->n_members, NW);
	ainftp_quorum_snapshot(job, &s);
	ck_assert_uint_eq(s.members, 0x27);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 39), 0x23);
	ck_assert_uint_eq(ainftp_quorum_required(&s, 40), 0x27);
	ck_assert_uint_eq(s.starts[2], 1);
	ck_assert_uint_eq(s.start_step[2], 40);
	ck_assert_uint_eq(s.starts[0], 0);
	/* The old lag, within a threshold of the HELLO: it stays. */
	ck_assert(!ainftp_quorum_update(job, h, 40, t0 + 10 * MS + T - 1));
	ck_assert_uint_eq(job->m[2].in, 1);
	/* A threshold on, the lag is the new process's: out. */
	ck_assert(ainftp_quorum_update(job, h, 40, t0 + 10 * MS + T));
	ck_assert_uint_eq(job->m[2].in, 0);
	ck_assert_uint_eq(job->m[2].reason, AINFTP_OUT_LAG);
	/* Another new process, silent: out at once. */
	ainftp_quorum_hello(job, 2, 50, t0 + 2000 * MS);
	ck_assert_uint_eq(job->m[2].in, 1);
	ck_assert_uint_eq(job->m[2].starts, 2);
	h[2].lag = 0;
	h[2].state = AINFTP_PEER_SILENT;
	ck_assert(ainftp_quorum_update(job, h, 50, t0 + 2001 * MS));
	ck_assert_uint_eq(job->m[2].reason, AINFTP_OUT_SILENT);
	/* A member already: only its join step moves. */
	ainftp_quorum_hello(job, 0, 60, t0 + 3000 * MS);
	ck_assert_uint_eq(job->m[0].in, 1);
	ck_assert_uint_eq(job->m[0].rejoined, 0);
	ck_assert_uint_eq(job->m[0].join_step, 60);
	ck_assert_uint_eq(job->n_members, NW - 1);
}
END_TEST

/* A quarantined worker's new process is counted, and stays out. */
START_TEST(a_hello_never_lifts_a_quarantine)
{
	uint64_t seen[NW] = {64, 64, 64, 64}, flagged[NW] = {0, 64, 0, 0};
	struct ainftp_quorum_snap s;

	cfg.jobs[0].sentry.policy = AINFTP_SENTRY_CLIP;
	cfg.jobs[0].sentry.suspicion_threshold = 0.5;
	ainftp_quorum_init(&q, &cfg, HZ, 100);
	job = &q.jobs[0];
	ck_assert(ainftp_quorum_sentry(job, seen, flagged));
	ck_assert_uint_eq(job->m[1].quarantined, 1);
	ainftp_quorum_hello(job, 1, 7, 1000 * MS);
	ck_assert_uint_eq(job->m[1].in, 0);
	ck_assert_uint_eq(job->m[1].quarantined, 1);
	ck_assert_uint_eq(job->n_members, NW - 1);
	ainftp_quorum_snapshot(job, &s);
	ck_assert_uint_eq(s.members, 0x25);
	ck_assert_uint_eq(s.quarantined, 0x2);
	ck_assert_uint_eq(s.starts[1], 1);
}
END_TEST

START_TEST(the_sentry_never_quarantines_below_the_floor)
{
	uint64_t seen[NW] = {64, 64, 64, 64}, flagged[NW] = {0, 64, 0, 0};

	cfg.jobs[0].sentry.policy = AINFTP_SENTRY_CLIP;
	cfg.jobs[0].sentry.suspicion_threshold = 0.5;
	cfg.jobs[0].straggler.min_quorum = NW;
	ainftp_quorum_init(&q, &cfg, HZ, 100);
	job = &q.jobs[0];
	ck_assert(!ainftp_quorum_sentry(job, seen, flagged));
	ck_assert_uint_ge(job->m[1].suspicion, job->sentry_threshold);
	ck_assert_uint_eq(job->m[1].quarantined, 0);
	ck_assert_uint_eq(job->m[1].in, 1);
	/* One below every worker: room for exactly one. */
	cfg.jobs[0].straggler.min_quorum = NW - 1;
	ainftp_quorum_init(&q, &cfg, HZ, 100);
	job = &q.jobs[0];
	ck_assert(ainftp_quorum_sentry(job, seen, flagged));
	ck_assert_uint_eq(job->m[1].quarantined, 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("quorum");
	TCase *tc = tcase_create("ranking");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, everyone_starts_in);
	tcase_add_test(tc, ranks_order_members_by_rtt_and_lag);
	tcase_add_test(tc, silence_rtt_and_lag_downrank);
	tcase_add_test(tc, rejoining_needs_every_sign_of_health);
	tcase_add_test(tc, each_rejoin_has_its_own_step);
	tcase_add_test(tc, without_heartbeats_data_decides);
	tcase_add_test(tc, the_sentry_quarantines_at_most_a_minority_until_readmitted);
	tcase_add_test(tc, the_sentry_never_quarantines_below_the_floor);
	tcase_add_test(tc, a_hello_brings_a_new_process_in_from_its_step);
	tcase_add_test(tc, a_hello_never_lifts_a_quarantine);
	tcase_add_test(tc, a_spines_leaves_never_leave);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
