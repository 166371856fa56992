/* SPDX-License-Identifier: BSD-3-Clause */
#include "barrier.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ainftp_clock.h"

#define MAP_LEN 4096

int
ainftp_barrier_open(struct ainftp_barrier *b, const char *path, uint32_t parties)
{
	struct stat st;
	void *p;
	int fd;

	*b = (struct ainftp_barrier){.parties = parties, .path = path};
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0) {
		fprintf(stderr, "ainftp-worker: --barrier %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* Every party may extend the new file at once: the same size, zero-filled. */
	if (fstat(fd, &st) < 0 || (st.st_size < MAP_LEN && ftruncate(fd, MAP_LEN) < 0)) {
		fprintf(stderr, "ainftp-worker: --barrier %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	p = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "ainftp-worker: --barrier %s: mmap: %s\n", path, strerror(errno));
		return -1;
	}
	b->count = p;
	return 0;
}

/*
 * The file's first word: arrivals so far, and GONE once a party left the run
 * (it failed). One word, so that a waiter's futex sees the leaving too: set
 * between its look and its sleep, it changes the word and the sleep returns.
 */
#define GONE (UINT32_C(1) << 31)

static _Atomic uint32_t *
counter(struct ainftp_barrier *b)
{
	return (_Atomic uint32_t *)b->count;
}

/* Sleep while the count is SEEN, at most until DEADLINE (CLOCK_MONOTONIC seconds). */
static void
futex_wait(struct ainftp_barrier *b, uint32_t seen, double deadline)
{
	double left = deadline - ainftp_seconds(CLOCK_MONOTONIC);
	struct timespec ts;

	if (left <= 0)
		return;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
	/* Not FUTEX_PRIVATE: the word is in a file that other processes map. */
	syscall(SYS_futex, b->count, FUTEX_WAIT, seen, &ts, NULL, 0);
}

int
ainftp_barrier_wait(struct ainftp_barrier *b, double timeout_s)
{
	uint32_t target = b->parties * (b->rounds + 1), now;
	double deadline = ainftp_seconds(CLOCK_MONOTONIC) + timeout_s;

	now = (atomic_fetch_add(counter(b), 1) + 1) & ~GONE;
	/* A count from an earlier run would let this one through unsynchronized. */
	if (b->rounds == 0 && now > b->parties) {
		fprintf(stderr,
			"ainftp-worker: --barrier %s: %u arrivals already at the first step: the "
			"file belongs to another run, give each run a new one\n",
			b->path, now - 1);
		return -1;
	}
	if (now == target)
		syscall(SYS_futex, b->count, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	for (uint32_t w; (now = (w = atomic_load(counter(b))) & ~GONE) < target;) {
		if (w & GONE) {
			fprintf(stderr,
				"ainftp-worker: --barrier %s: another worker of the run failed and "
				"left it\n",
				b->path);
			return -1;
		}
		if (ainftp_seconds(CLOCK_MONOTONIC) >= deadline) {
			fprintf(stderr,
				"ainftp-worker: --barrier %s: %u of %u workers at barrier %u after "
				"%.0f s\n",
				b->path, now - (target - b->parties), b->parties, b->rounds,
				timeout_s);
			return -1;
		}
		futex_wait(b, w, deadline);
	}
	b->rounds++;
	return 0;
}

void
ainftp_barrier_leave(struct ainftp_barrier *b)
{
	if (b->count == NULL)
		return;
	atomic_fetch_or(counter(b), GONE);
	/* The waiters sleep on the count: woken, they see the run is over. */
	syscall(SYS_futex, b->count, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void
ainftp_barrier_close(struct ainftp_barrier *b)
{
	if (b->count != NULL)
		munmap(b->count, MAP_LEN);
	b->count = NULL;
}
