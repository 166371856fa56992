/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-sink-read: a local consumer of the result arena (lib/sink/ainftp_sink.h,
 * docs/SINK.md). Maps the file read-only, checks its header and every entry's
 * ready mark, and prints per job how many entries hold a result, how many
 * results were put in all (each entry's generation counts its writes) and
 * what the job's doorbells say.
 *
 *   ainftp-sink-read PATH [--expect N]     (exit 1: an invalid arena, or not N results)
 *
 * Read while the appliance runs, an entry being written is retried; after it
 * stopped, the arena is what it left. --expect is for an arena at rest: it also
 * requires every job's doorbells to count exactly the results its marks count.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ainftp_opt.h"
#include "ainftp_sink.h"

#define PROG "ainftp-sink-read"
#define RETRIES 1000

static void
usage(FILE *f)
{
	fprintf(f, "usage: " PROG " PATH [--expect N]\n"
		   "Checks a result arena's header and marks, prints per job its results and\n"
		   "doorbells (man ainftp-sink-read).\n"
		   "  --expect N   an arena at rest: exactly N results\n" AINFTP_OPT_STD_USAGE);
}

static int
job_check(void *arena, uint16_t j, const struct ainftp_sink_job *sj, bool at_rest,
	  uint64_t *results)
{
	uint64_t ready = 0, n = 0, seq_max = 0;
	uint32_t k, bell = ainftp_sink_bell(arena, j);
	int bad = 0;

	for (k = 0; k < sj->n_slots; k++) {
		const struct ainftp_sink_mark *m = ainftp_sink_entry(arena, sj, k);
		struct ainftp_sink_mark c;
		int r = -1, i;

		for (i = 0; i < RETRIES && r < 0; i++)
			r = ainftp_sink_read(m, &c, NULL, 0);
		if (r < 0) {
			fprintf(stderr, "job %u slot %u: being written (gen %u)\n", sj->id, k,
				m->gen);
			bad = 1;
			continue;
		}
		n += c.gen / 2;
		if (r == 0) {
			if (m->gen != 0) {
				fprintf(stderr, "job %u slot %u: written %u time(s), never ready\n",
					sj->id, k, m->gen / 2);
				bad = 1;
			}
			continue;
		}
		ready++;
		seq_max = c.seq_ready - 1 > seq_max ? c.seq_ready - 1 : seq_max;
		/* A chunk lands on slot chunk % n_slots; its mark names its contributors. */
		if ((uint32_t)(c.seq_ready - 1) % sj->n_slots != k ||
		    c.count != __builtin_popcountll(c.bitmap) || c.gen == 0) {
			fprintf(stderr,
				"job %u slot %u: bad mark: seq %" PRIu64
				" count %u bitmap %#" PRIx64 "\n",
				sj->id, k, c.seq_ready - 1, c.count, c.bitmap);
			bad = 1;
		}
	}
	printf("job %u (index %u): slots=%u elems=%u encoding=%s ready=%" PRIu64 " results=%" PRIu64
	       " doorbells=%" PRIu32 " last_step=%" PRIu64 "\n",
	       sj->id, j, sj->n_slots, sj->elems,
	       sj->encoding == AINFTP_SINK_ENC_INT16 ? "int16" : "float32", ready, n, bell,
	       seq_max >> 32);
	/* Doorbells count mod 2^32; at rest each result was rung exactly once. */
	if (at_rest && bell != (uint32_t)n) {
		fprintf(stderr,
			"job %u: its doorbells count %" PRIu32 " results, its marks %" PRIu64 "\n",
			sj->id, bell, n);
		bad = 1;
	}
	*results += n;
	return bad;
}

int
main(int argc, char **argv)
{
	const struct ainftp_sink_hdr *h;
	unsigned long long expect = 0;
	bool expecting = false;
	uint64_t results = 0;
	struct stat st;
	void *arena;
	int fd, bad = 0;
	uint32_t j;

	ainftp_opt_std(argc, argv, PROG, usage);
	if (argc < 2 || argv[1][0] == '-') {
		usage(stderr);
		return 2;
	}
	if (argc == 4 && strcmp(argv[2], "--expect") == 0) {
		if (ainftp_opt_uint(PROG, "--expect", argv[3], 0, UINT64_MAX, &expect) < 0)
			return 2;
		expecting = true;
	} else if (argc != 2) {
		usage(stderr);
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if ((size_t)st.st_size < sizeof(*h)) {
		fprintf(stderr, "%s: not an ainftp result arena (too short)\n", argv[1]);
		return 1;
	}
	arena = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (arena == MAP_FAILED) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	h = arena;
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != AINFTP_SINK_MAGIC ||
	    h->version != AINFTP_SINK_VERSION || h->n_jobs > AINFTP_SINK_MAX_JOBS ||
	    h->size > (uint64_t)st.st_size || h->n_rx == 0 ||
	    h->doorbells + (uint64_t)h->n_jobs * h->n_rx * AINFTP_SINK_ALIGN > h->size) {
		fprintf(stderr, "%s: not an ainftp result arena of version %d\n", argv[1],
			AINFTP_SINK_VERSION);
		return 1;
	}
	printf("sink %s: version=%u jobs=%u rx_lcores=%u bytes=%" PRIu64 "\n", argv[1], h->version,
	       h->n_jobs, h->n_rx, h->size);
	for (j = 0; j < h->n_jobs; j++) {
		const struct ainftp_sink_job *sj = &h->jobs[j];

		if (sj->offset + (uint64_t)sj->stride * sj->n_slots > h->size ||
		    sj->stride < AINFTP_SINK_ALIGN + sj->payload_len || sj->n_slots == 0) {
			fprintf(stderr, "job %u: its entries lie outside the arena\n", sj->id);
			return 1;
		}
		bad |= job_check(arena, (uint16_t)j, sj, expecting, &results);
	}
	printf("results=%" PRIu64 "\n", results);
	if (expecting && expect != results) {
		fprintf(stderr, "%s: %" PRIu64 " results, expected %llu\n", argv[1], results,
			expect);
		bad = 1;
	}
	munmap(arena, (size_t)st.st_size);
	return bad;
}
