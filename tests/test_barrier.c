/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-worker's --barrier (tools/barrier.c) between real processes: no
 * party leaves a round before the last one has arrived at it, over many
 * rounds and with one party late each time; a file from another run, a
 * party that never comes and one that failed are each reported in one line,
 * not waited on forever.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ainftp_clock.h"
#include "barrier.h"

#define PARTIES 4
#define ROUNDS 50

/* What the parties saw, in memory they share: arrivals and departures per round. */
struct log {
	_Atomic uint64_t arrived[ROUNDS];
	_Atomic uint64_t left_early[ROUNDS]; /* departures that saw arrived < PARTIES */
};

static char path[64];

static void
setup(void)
{
	snprintf(path, sizeof(path), "/tmp/ainftp-test-barrier.%d", (int)getpid());
	unlink(path);
}

static void
teardown(void)
{
	unlink(path);
}

static void
nap_us(long us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};

	nanosleep(&ts, NULL);
}

static int
party(int id, struct log *lg)
{
	struct ainftp_barrier b;

	if (ainftp_barrier_open(&b, path, PARTIES) < 0)
		return 1;
	for (int r = 0; r < ROUNDS; r++) {
		/* One party late at each round, a different one each time. */
		if (r % PARTIES == id)
			nap_us(2000);
		atomic_fetch_add(&lg->arrived[r], 1);
		if (ainftp_barrier_wait(&b, 10.0) < 0)
			return 1;
		if (atomic_load(&lg->arrived[r]) < PARTIES)
			atomic_fetch_add(&lg->left_early[r], 1);
	}
	ainftp_barrier_close(&b);
	return 0;
}

START_TEST(test_rounds)
{
	struct log *lg =
		mmap(NULL, sizeof(*lg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid[PARTIES];
	int st;

	ck_assert_ptr_ne(lg, MAP_FAILED);
	memset(lg, 0, sizeof(*lg));
	for (int i = 0; i < PARTIES; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0)
			_exit(party(i, lg));
	}
	for (int i = 0; i < PARTIES; i++) {
		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "party %d failed", i);
	}
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_uint_eq(lg->arrived[r], PARTIES);
		ck_assert_msg(lg->left_early[r] == 0, "round %d: %llu left before the last came", r,
			      (unsigned long long)lg->left_early[r]);
	}
	munmap(lg, sizeof(*lg));
}
END_TEST

/* Stderr of f() in a child, and its exit status. */
static int
child_stderr(int (*f)(void), char *out, size_t n)
{
	int fd[2], st;
	ssize_t got;
	pid_t pid;

	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd[1], 2);
		_exit(f());
	}
	close(fd[1]);
	got = read(fd[0], out, n - 1);
	out[got > 0 ? got : 0] = '\0';
	close(fd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Two parties' first round passed in this file; a run of 2 opening it again is refused. */
static int
stale(void)
{
	struct ainftp_barrier b;

	if (ainftp_barrier_open(&b, path, 2) < 0)
		return 2;
	return ainftp_barrier_wait(&b, 1.0) < 0 ? 1 : 0;
}

START_TEST(test_stale_file)
{
	struct ainftp_barrier a, b;
	char err[512];

	ck_assert_int_eq(ainftp_barrier_open(&a, path, 2), 0);
	ck_assert_int_eq(ainftp_barrier_open(&b, path, 2), 0);
	ck_assert_int_eq(ainftp_barrier_wait(&a, 0.0), -1); /* arrives, gives up at once */
	ck_assert_int_eq(ainftp_barrier_wait(&b, 1.0), 0);  /* the second: the round is full */
	ainftp_barrier_close(&a);
	ainftp_barrier_close(&b);
	ck_assert_int_eq(child_stderr(stale, err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "belongs to another run") != NULL, "%s", err);
	ck_assert_ptr_eq(strchr(err, '\n'), err + strlen(err) - 1); /* one line */
}
END_TEST

/* One party of 3 alone: it gives up after the timeout, naming who came. */
static int
alone(void)
{
	struct ainftp_barrier b;

	if (ainftp_barrier_open(&b, path, 3) < 0)
		return 2;
	return ainftp_barrier_wait(&b, 0.2) < 0 ? 1 : 0;
}

START_TEST(test_timeout)
{
	char err[512];

	ck_assert_int_eq(child_stderr(alone, err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "1 of 3 workers at barrier 0 after") != NULL, "%s", err);
}
END_TEST

/* One party of 2 fails before the round: the other stops waiting at once, not after 30 s. */
static int
deserted(void)
{
	struct ainftp_barrier b;
	double t0 = ainftp_seconds(CLOCK_MONOTONIC);
	int rc;

	if (ainftp_barrier_open(&b, path, 2) < 0)
		return 2;
	rc = ainftp_barrier_wait(&b, 30.0);
	return rc < 0 && ainftp_seconds(CLOCK_MONOTONIC) - t0 < 10.0 ? 1 : 0;
}

START_TEST(test_leave)
{
	struct ainftp_barrier b;
	char err[512];
	pid_t pid;
	int fd[2], st;
	ssize_t got;

	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd[1], 2);
		_exit(deserted());
	}
	close(fd[1]);
	nap_us(200000); /* the other party waits by now */
	ck_assert_int_eq(ainftp_barrier_open(&b, path, 2), 0);
	ainftp_barrier_leave(&b);
	ainftp_barrier_close(&b);
	got = read(fd[0], err, sizeof(err) - 1);
	err[got > 0 ? got : 0] = '\0';
	close(fd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, err);
	ck_assert_msg(strstr(err, "another worker of the run failed") != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_path)
{
	struct ainftp_barrier b;

	ck_assert_int_eq(ainftp_barrier_open(&b, "/nonexistent-dir/barrier", 2), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("barrier");
	TCase *tc = tcase_create("barrier");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rounds);
	tcase_add_test(tc, test_stale_file);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_leave);
	tcase_add_test(tc, test_bad_path);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
