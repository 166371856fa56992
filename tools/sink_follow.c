/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-sink-follow: a host consumer of a live result arena, the CPU's
 * counterpart of ainftp-gpu-consumer (docs/SINK.md, "Sweeping" and "Rate").
 * It waits for the doorbells to move and reads only the marks they name
 * (lib/sink/ainftp_sink_sweep.h, the GPU consumer's rules), takes each new
 * result with the consumer's read (ainftp_sink_read), and with --synthetic
 * checks it against what ainftp-sink-write puts (ainftp_sink_synth.h): marks
 * and every payload byte.
 *
 *   ainftp-sink-follow ARENA --chunks N [--job INDEX] [--synthetic] [--workers W]
 *       [--cps C] [--sweep owners|full] [--allow-gaps] [--ready-file PATH]
 *       [--idle-ms MS] [--wait-ms MS]
 *   ainftp-sink-follow ARENA --owners
 *
 * Follows until N results (the writer's --chunks) or none new for --idle-ms.
 * Prints what it took, results/s and GB/s of payload (first to last result
 * taken), and mark reads per result. --sweep full: every mark of the job
 * whenever the doorbells move (the sweep before the doorbells named slots),
 * to compare. --ready-file: created once the arena is mapped (a writer's
 * --go-file). --owners: for an arena at rest, prints who writes which slots
 * and checks that each RX lcore's doorbell counts the results of its slots.
 *
 * Exit 0: all N taken once each, in order per slot, none differing (with
 * --allow-gaps: none differing or taken twice, however many were overwritten
 * before read); 1 otherwise; 2 usage or no arena.
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
#include <time.h>
#include <unistd.h>

#include "ainftp_clock.h"
#include "ainftp_opt.h"
#include "ainftp_sink.h"
#include "ainftp_sink_sweep.h"
#include "ainftp_sink_synth.h"

#define PROG "ainftp-sink-follow"
#define TORN_RETRIES 10000 /* a writer is inside one entry for well under a microsecond */

struct args {
	const char *arena, *ready_file;
	unsigned long long chunks, job, workers, cps, idle_ms, wait_ms;
	bool synthetic, full, allow_gaps, owners;
};

struct follow {
	const struct args *a;
	void *arena;
	const struct ainftp_sink_job *sj;
	struct ainftp_sweep_plan plan;
	struct ainftp_sweep_group grp[AINFTP_SWEEP_MAX_GROUPS];
	uint32_t *slots, *pos;
	uint64_t *seen;	   /* per slot: the newest seq_ready found */
	uint8_t *taken;	   /* per result index i: taken (a bit each) */
	uint8_t *payload;  /* one result's copy */
	uint8_t *patterns; /* --synthetic: the writer's AINFTP_SYNTH_PATTERNS payloads */
	uint64_t n, dup, beyond, bad_mark, bad_payload, torn, reads;
	uint64_t t_first, t_last, t_new;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: " PROG " ARENA --chunks N [--job INDEX] [--synthetic] [--workers W]\n"
		   "       [--cps C] [--sweep owners|full] [--allow-gaps] [--ready-file PATH]\n"
		   "       [--idle-ms MS] [--wait-ms MS]\n"
		   "       " PROG " ARENA --owners\n"
		   "Follows a live result arena until N results or none new for --idle-ms,\n"
		   "checking each against ainftp-sink-write's with --synthetic; --owners\n"
		   "prints who writes which slots of an arena at rest (man "
		   "ainftp-sink-follow).\n" AINFTP_OPT_STD_USAGE);
}

static int
parse(int argc, char **argv, struct args *a)
{
	int i;

	*a = (struct args){.workers = 8, .idle_ms = 2000, .wait_ms = 30000};
	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;

		if (strcmp(o, "--synthetic") == 0) {
			a->synthetic = true;
			continue;
		}
		if (strcmp(o, "--allow-gaps") == 0) {
			a->allow_gaps = true;
			continue;
		}
		if (strcmp(o, "--owners") == 0) {
			a->owners = true;
			continue;
		}
		if (o[0] != '-') {
			if (a->arena != NULL)
				goto bad;
			a->arena = o;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, PROG ": %s: a value is missing\n", o);
			return -1;
		}
		i++;
		if (strcmp(o, "--chunks") == 0)
			rc = ainftp_opt_uint(PROG, o, v, 1, UINT64_C(1) << 36, &a->chunks);
		else if (strcmp(o, "--job") == 0)
			rc = ainftp_opt_uint(PROG, o, v, 0, AINFTP_SINK_MAX_JOBS - 1, &a->job);
		else if (strcmp(o, "--workers") == 0)
			rc = ainftp_opt_uint(PROG, o, v, 1, 64, &a->workers);
		else if (strcmp(o, "--cps") == 0)
			rc = ainftp_opt_uint(PROG, o, v, 1, UINT32_MAX, &a->cps);
		else if (strcmp(o, "--idle-ms") == 0)
			rc = ainftp_opt_uint(PROG, o, v, 1, 3600000, &a->idle_ms);
		else if (strcmp(o, "--wait-ms") == 0)
			rc = ainftp_opt_uint(PROG, o, v, 1, 3600000, &a->wait_ms);
		else if (strcmp(o, "--ready-file") == 0)
			a->ready_file = v;
		else if (strcmp(o, "--sweep") == 0 && strcmp(v, "owners") == 0)
			a->full = false;
		else if (strcmp(o, "--sweep") == 0 && strcmp(v, "full") == 0)
			a->full = true;
		else if (strcmp(o, "--sweep") == 0) {
			fprintf(stderr, PROG ": --sweep: \"%s\" is not owners or full\n", v);
			return -1;
		} else
			goto bad;
		if (rc != 0)
			return -1;
	}
	if (a->arena == NULL || (a->chunks == 0 && !a->owners))
		goto bad;
	if (a->cps == 0)
		a->cps = a->chunks < UINT32_MAX ? a->chunks : UINT32_MAX;
	return 0;
bad:
	usage(stderr);
	return -1;
}

/* The arena once its magic is there (the appliance or the writer writes it last). */
static void *
arena_wait(const struct args *a, size_t *size)
{
	uint64_t t0 = ainftp_now_ns();

	for (;;) {
		int fd = open(a->arena, O_RDONLY);
		struct stat st;

		if (fd >= 0 && fstat(fd, &st) == 0 &&
		    (size_t)st.st_size >= sizeof(struct ainftp_sink_hdr)) {
			void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
			const struct ainftp_sink_hdr *h = p;

			close(fd);
			if (p != MAP_FAILED) {
				if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) ==
					    AINFTP_SINK_MAGIC &&
				    h->version == AINFTP_SINK_VERSION &&
				    h->size <= (uint64_t)st.st_size && h->n_rx >= 1 &&
				    a->job < h->n_jobs &&
				    h->doorbells + (uint64_t)h->n_jobs * h->n_rx *
							    AINFTP_SINK_ALIGN <=
					    h->size) {
					*size = (size_t)st.st_size;
					return p;
				}
				munmap(p, (size_t)st.st_size);
			}
		} else if (fd >= 0) {
			close(fd);
		}
		if (ainftp_now_ns() - t0 > a->wait_ms * 1000000ull)
			return NULL;
		usleep(1000);
	}
}

static uint32_t
group_bell(struct follow *f, uint32_t g)
{
	uint32_t b, sum = 0;

	for (b = 0; b < f->plan.bell_count[g]; b++)
		sum += __atomic_load_n(ainftp_sink_doorbell(f->arena, (uint32_t)f->a->job,
							    f->plan.bell_first[g] + b),
				       __ATOMIC_ACQUIRE);
	return sum;
}

/* Slot k's result, newer than the last taken from it: checked and counted. 1 new, 0 not. */
static int
take(struct follow *f, uint32_t k, uint64_t t)
{
	const struct args *a = f->a;
	const struct ainftp_sink_mark *m = ainftp_sink_entry(f->arena, f->sj, k);
	struct ainftp_sink_mark c;
	uint64_t seq, i;
	int r = -1, tries;

	for (tries = 0; tries < TORN_RETRIES && r < 0; tries++) {
		r = ainftp_sink_read(m, &c, f->payload, f->sj->payload_len);
		f->torn += r < 0;
	}
	if (r <= 0 || c.seq_ready <= f->seen[k])
		return 0;
	f->seen[k] = c.seq_ready;
	seq = c.seq_ready - 1;
	i = (seq >> 32) * a->cps + (uint32_t)seq;
	if ((uint32_t)seq % f->sj->n_slots != k || (uint32_t)seq >= a->cps) {
		f->bad_mark++;
		return 1;
	}
	if (i >= a->chunks) {
		f->beyond++;
	} else if (f->taken[i / 8] & (1u << (i % 8))) {
		f->dup++;
	} else {
		f->taken[i / 8] |= (uint8_t)(1u << (i % 8));
		f->n++;
	}
	if (a->synthetic) {
		uint64_t bitmap;
		uint16_t count;
		int8_t exp;

		ainftp_synth_mark(seq, (uint32_t)a->workers, &bitmap, &count, &exp);
		if (c.bitmap != bitmap || c.count != count || c.flags != 0 ||
		    c.exp != (f->sj->encoding == AINFTP_SINK_ENC_INT16 ? exp : 0))
			f->bad_mark++;
		if (ainftp_synth_check_from(seq, f->sj->encoding,
					    f->patterns + (size_t)ainftp_synth_pattern(seq) *
								  f->sj->payload_len,
					    f->sj->payload_len, f->payload) != 0)
			f->bad_payload++;
	}
	if (f->t_first == 0)
		f->t_first = t;
	f->t_last = t;
	return 1;
}

/* One pass over every group: read its doorbells, then the windows they call for. */
static uint32_t
pass(struct follow *f)
{
	uint32_t g, found_all = 0;
	uint64_t t = ainftp_now_ns();

	for (g = 0; g < f->plan.n_groups; g++) {
		struct ainftp_sweep_group *gr = &f->grp[g];
		uint32_t len = f->plan.len[g], first = 0, n, w, bell = group_bell(f, g);

		if (f->a->full) {
			/* Every mark of the job each time the doorbells moved. */
			if (bell == gr->bell)
				continue;
			gr->bell = bell;
			for (w = 0; w < len; w++) {
				uint32_t k = f->slots[f->plan.start[g] + w];
				const struct ainftp_sink_mark *m =
					ainftp_sink_entry(f->arena, f->sj, k);

				f->reads++;
				if (__atomic_load_n(&m->seq_ready, __ATOMIC_ACQUIRE) > f->seen[k])
					found_all += (uint32_t)take(f, k, t);
			}
			continue;
		}
		ainftp_sweep_rung(gr, bell);
		/* A round at most per pass: a group never holds the others up for long. */
		for (w = 0; w <= len / AINFTP_SWEEP_WINDOW + 1 &&
			    (n = ainftp_sweep_window(gr, len, &first)) != 0;
		     w++) {
			uint32_t i, found = 0, best_pos = 0;
			uint64_t best = 0;

			for (i = 0; i < n; i++) {
				uint32_t p = (first + i) % len, k = f->slots[f->plan.start[g] + p];
				const struct ainftp_sink_mark *m =
					ainftp_sink_entry(f->arena, f->sj, k);

				f->reads++;
				if (__atomic_load_n(&m->seq_ready, __ATOMIC_ACQUIRE) <=
					    f->seen[k] ||
				    !take(f, k, t))
					continue;
				found++;
				if (f->seen[k] > best) {
					best = f->seen[k];
					best_pos = p;
				}
			}
			ainftp_sweep_done(gr, len, n, found, best, best_pos);
			found_all += found;
		}
	}
	return found_all;
}

/* --owners: who writes which slots, and each RX lcore's doorbell against its slots' marks. */
static int
owners(struct follow *f)
{
	const struct ainftp_sink_hdr *h = f->arena;
	uint32_t g, w;
	int bad = 0;

	printf("sink-follow: job %u (index %llu): slots=%u rx_lcores=%u groups=%u owners=%s\n",
	       f->sj->id, f->a->job, f->sj->n_slots, h->n_rx, f->plan.n_groups,
	       f->plan.owners_known ? "published" : "unknown");
	for (g = 0; g < f->plan.n_groups; g++) {
		uint64_t marked = 0;
		uint32_t bell = group_bell(f, g);

		for (w = 0; w < f->plan.len[g]; w++)
			marked += ainftp_sink_entry(f->arena, f->sj, f->slots[f->plan.start[g] + w])
					  ->gen /
				  2;
		printf("sink-follow: group %u: doorbells %u..%u slots=%u first=%u doorbell=%u "
		       "marked=%" PRIu64 "\n",
		       g, f->plan.bell_first[g], f->plan.bell_first[g] + f->plan.bell_count[g] - 1,
		       f->plan.len[g], f->plan.len[g] ? f->slots[f->plan.start[g]] : 0, bell,
		       marked);
		if ((uint32_t)marked != bell) {
			fprintf(stderr,
				PROG ": group %u: its doorbells count %u, its slots %" PRIu64 "\n",
				g, bell, marked);
			bad = 1;
		}
	}
	return bad;
}

/* The job's entries inside the arena (size bytes), as the reads assume: 0, or 2. */
static int
job_check(struct follow *f, size_t size)
{
	const struct ainftp_sink_job *sj = f->sj;

	if (sj->n_slots == 0 || sj->offset + (uint64_t)sj->stride * sj->n_slots > size ||
	    sj->stride < AINFTP_SINK_ALIGN + sj->payload_len ||
	    sj->payload_len < sj->elems * (sj->encoding == AINFTP_SINK_ENC_INT16 ? 2u : 4u)) {
		fprintf(stderr, PROG ": job index %llu: its entries lie outside the arena\n",
			f->a->job);
		return 2;
	}
	return 0;
}

/* The per-slot and per-result state, and (--synthetic) the writer's payloads: 0, or 2. */
static int
follow_alloc(struct follow *f)
{
	const struct ainftp_sink_job *sj = f->sj;
	uint32_t p;

	f->slots = calloc(sj->n_slots, sizeof(*f->slots));
	f->pos = calloc(sj->n_slots, sizeof(*f->pos));
	f->seen = calloc(sj->n_slots, sizeof(*f->seen));
	f->payload = malloc(sj->payload_len);
	f->taken = calloc((size_t)(f->a->chunks / 8 + 1), 1);
	if (f->slots == NULL || f->pos == NULL || f->seen == NULL || f->payload == NULL ||
	    f->taken == NULL) {
		fprintf(stderr, PROG ": %s\n", strerror(ENOMEM));
		return 2;
	}
	if (!f->a->synthetic)
		return 0;
	f->patterns = malloc((size_t)AINFTP_SYNTH_PATTERNS * sj->payload_len);
	if (f->patterns == NULL) {
		fprintf(stderr, PROG ": %s\n", strerror(ENOMEM));
		return 2;
	}
	/* Padding past the elements is the writer's too: zeros in its buffer's copy. */
	memset(f->patterns, 0, (size_t)AINFTP_SYNTH_PATTERNS * sj->payload_len);
	for (p = 0; p < AINFTP_SYNTH_PATTERNS; p++)
		ainftp_synth_pattern_fill(p, sj->encoding, sj->elems,
					  f->patterns + (size_t)p * sj->payload_len);
	return 0;
}

/* --sweep full: the sweep of old, one group of every slot, read whole. */
static void
plan_full(struct follow *f)
{
	memset(&f->plan, 0, sizeof(f->plan));
	f->plan.n_slots = f->sj->n_slots;
	f->plan.n_groups = 1;
	f->plan.len[0] = f->sj->n_slots;
	f->plan.bell_count[0] = ((const struct ainftp_sink_hdr *)f->arena)->n_rx;
	for (uint32_t k = 0; k < f->sj->n_slots; k++)
		f->slots[k] = k;
}

/* --ready-file: says the arena is mapped (a writer's --go-file). 0, or 2. */
static int
ready_file(const struct args *a)
{
	FILE *rf;

	if (a->ready_file == NULL)
		return 0;
	rf = fopen(a->ready_file, "w");
	if (rf == NULL || fclose(rf) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", a->ready_file, strerror(errno));
		return 2;
	}
	return 0;
}

/* Passes until N results are taken, or none new for idle_ms (wait_ms before the first). */
static void
follow_run(struct follow *f)
{
	const struct args *a = f->a;
	uint64_t idle_ns = a->idle_ms * 1000000ull;

	f->t_new = ainftp_now_ns();
	while (f->n < a->chunks) {
		uint64_t t;

		if (pass(f) != 0) {
			f->t_new = ainftp_now_ns();
			continue;
		}
		t = ainftp_now_ns();
		/* Before the first result the writer may still be starting: wait_ms. */
		if (t - f->t_new > (f->t_first == 0 ? a->wait_ms * 1000000ull : idle_ns))
			break;
		/* Idle for a millisecond: give the core back between passes (a shared CPU). */
		if (t - f->t_new > 1000000) {
			struct timespec ts = {0, 20000};

			nanosleep(&ts, NULL);
		}
	}
}

/* What was taken, and at what rate; PASS or FAIL. The exit code: 0, or 1. */
static int
report(const struct follow *f)
{
	const struct args *a = f->a;
	double secs = f->t_last > f->t_first ? (double)(f->t_last - f->t_first) / 1e9 : 0;
	uint64_t resyncs = 0;
	uint32_t g;
	int rc;

	printf("sink-follow: job=%u slots=%u elems=%u encoding=%s payload_B=%u groups=%u "
	       "owners=%s sweep=%s\n",
	       f->sj->id, f->sj->n_slots, f->sj->elems,
	       f->sj->encoding == AINFTP_SINK_ENC_INT16 ? "int16" : "float32", f->sj->payload_len,
	       f->plan.n_groups, f->plan.owners_known && !a->full ? "published" : "unknown",
	       a->full ? "full" : "owners");
	for (g = 0; g < f->plan.n_groups; g++)
		resyncs += f->grp[g].resyncs;
	printf("sink-follow: taken=%" PRIu64 " want=%llu missed=%" PRIu64 " twice=%" PRIu64
	       " beyond=%" PRIu64 " bad_marks=%" PRIu64 " bad_payloads=%" PRIu64 " torn=%" PRIu64
	       " resyncs=%" PRIu64 "\n",
	       f->n, a->chunks, (uint64_t)a->chunks - f->n, f->dup, f->beyond, f->bad_mark,
	       f->bad_payload, f->torn, resyncs);
	printf("sink-follow: mark_reads_per_result=%.2f\n",
	       f->n ? (double)f->reads / (double)f->n : 0.0);
	printf("sink-follow: results_per_s=%.0f GB_per_s=%.3f (%" PRIu64 " results in %.6f s)\n",
	       secs > 0 ? (double)(f->n - 1) / secs : 0.0,
	       secs > 0 ? (double)(f->n - 1) * f->sj->payload_len / secs / 1e9 : 0.0, f->n, secs);
	rc = f->dup != 0 || f->beyond != 0 || f->bad_mark != 0 || f->bad_payload != 0 ||
	     f->n == 0 || (!a->allow_gaps && f->n != a->chunks);
	printf("sink-follow: %s\n", rc ? "FAIL" : "PASS");
	return rc;
}

/* The arena, the job checked, the state allocated, then --owners or the follow. */
int
main(int argc, char **argv)
{
	struct follow f;
	struct args a;
	size_t size = 0;
	int rc;

	ainftp_opt_std(argc, argv, PROG, usage);
	if (parse(argc, argv, &a) != 0)
		return 2;
	memset(&f, 0, sizeof(f));
	f.a = &a;
	f.arena = arena_wait(&a, &size);
	if (f.arena == NULL) {
		fprintf(stderr, PROG ": %s: no arena with job index %llu after %llu ms\n", a.arena,
			a.job, a.wait_ms);
		return 2;
	}
	f.sj = &((const struct ainftp_sink_hdr *)f.arena)->jobs[a.job];
	rc = job_check(&f, size);
	if (rc == 0)
		rc = follow_alloc(&f);
	if (rc != 0)
		goto out;
	ainftp_sweep_plan_init(&f.plan, f.arena, (uint32_t)a.job, f.slots, f.pos);
	if (a.owners) {
		rc = owners(&f);
		goto out;
	}
	if (a.full)
		plan_full(&f);
	rc = ready_file(&a);
	if (rc != 0)
		goto out;
	follow_run(&f);
	rc = report(&f);
out:
	munmap(f.arena, size);
	free(f.slots);
	free(f.pos);
	free(f.seen);
	free(f.payload);
	free(f.patterns);
	free(f.taken);
	return rc;
}
