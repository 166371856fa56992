/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-worker: one worker of a job, through the client library, on a
 * synthetic gradient. Ops use it to check a worker host's path to the box and
 * measure it; the end-to-end tests use --verify, which checks every result
 * against the appliance's arithmetic redone here with the scalar reference
 * kernels, and against the true sum within the documented error bound.
 *
 *   ainftp-worker -c cluster.json --job 1 --worker 0 --size 64M --steps 5 --verify 4
 *
 * The gradient of worker w at step s is a function of (seed, w, s) alone, so
 * each worker can compute what all of them send and so the expected sums.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ainftp_client.h"
#include "ainftp_clock.h"
#include "ainftp_config.h"
#include "ainftp_opt.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"
#include "barrier.h"

#define EXIT_USAGE 2
#define EXIT_WRONG 3 /* a result differs from the reference */

struct args {
	const char *config;
	uint32_t job;
	int worker;
	size_t elems; /* gradient elements */
	unsigned int steps;
	int op;
	int verify_workers; /* 0: no checking; else the job's workers 0..N-1 all take part */
	uint64_t seed;
	bool json;
	bool same_gradient; /* --same-gradient: the first step's, copied in before each step */
	double progress_s;  /* 0: no progress lines */
	char *opt[32];	    /* name=value overrides of the client options */
	int n_opt;
	uint32_t end_step;	 /* --end-step: stop before this step of the job (0: none) */
	unsigned int pause_step; /* --pause: before this step, sleep pause_ms */
	unsigned int pause_ms;
	const char *barrier; /* --barrier: a file the run's workers share, or NULL */
};

/* The job's geometry, as the reference needs it (the same options the client takes). */
struct geometry {
	uint32_t elems;
	int encoding;
	int result_encoding;
	uint16_t workers;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: ainftp-worker -c cluster.json --job ID --worker ID [options]\n"
		"  --size N[K|M|G]     gradient size in bytes of float32 (default 64M)\n"
		"  --elems N           or in elements\n"
		"  --steps N           all-reduces to run (default 5)\n"
		"  --op sum|mean       (default sum)\n"
		"  --verify N          check every result: workers 0..N-1 of the job all run\n"
		"                      with the same --seed and size\n"
		"  --seed N            gradient seed (default 1)\n"
		"  --opt NAME=VALUE    a client option (client/ainftp_client.h), after the "
		"config's\n"
		"  --json              one JSON line of results at the end\n"
		"  --progress S        a progress line every S seconds of a run (default 5;\n"
		"                      0: none), on stdout, or on stderr with --json\n"
		"  --pause STEP:MS     sleep MS ms before step STEP (a slow worker falls "
		"behind)\n"
		"  --end-step N        stop before the job's step N, whatever --steps says\n"
		"                      (workers that fell behind and rejoined end with the "
		"others)\n"
		"  --same-gradient     every step sends the first step's gradient again, copied\n"
		"                      in (benchmarks: not with --verify, and every worker of\n"
		"                      the run alike)\n"
		"  --barrier FILE      benchmarks: every step starts when all the job's workers\n"
		"                      have their gradient in place (a file they all map, new\n"
		"                      for each run), as Gloo's benchmark barriers its "
		"ranks\n" AINFTP_OPT_STD_USAGE);
}

#define PROG "ainftp-worker"
#define ELEMS_MAX (1ull << 30) /* 4 GiB of float32: more is a typo, not a test */
#define BARRIER_TIMEOUT_S 600.0

/* N[K|M|G] bytes, a multiple of 4 in 4..4G. */
static int
parse_size(const char *s, size_t *out)
{
	unsigned long long v = 0;
	unsigned int shift = 0;
	char *end = NULL;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoull(s, &end, 10);
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
		end += shift != 0;
	}
	if (end == NULL || errno != 0 || *end != '\0' || v == 0 || v > (ELEMS_MAX * 4) >> shift ||
	    (v << shift) % 4 != 0) {
		fprintf(stderr, PROG ": --size: \"%s\" is not a multiple of 4 bytes in 4..4G\n", s);
		return -1;
	}
	*out = (size_t)(v << shift);
	return 0;
}

static int
bad_arg(const char *opt, const char *val)
{
	fprintf(stderr, PROG ": %s: bad value \"%s\"\n", opt, val);
	return -1;
}

/* --pause STEP:MS */
static int
parse_pause(const char *v, struct args *a)
{
	unsigned int step, ms;
	int end = 0;

	if (sscanf(v, "%u:%u%n", &step, &ms, &end) != 2 || v[end] != '\0' || ms > 3600000)
		return bad_arg("--pause (STEP:MS, MS at most 3600000)", v);
	a->pause_step = step;
	a->pause_ms = ms;
	return 0;
}

static int
parse_one(struct args *a, int ch, const char *v)
{
	unsigned long long u;
	size_t bytes;

	switch (ch) {
	case 'c':
		a->config = v;
		return 0;
	case 'j':
		return ainftp_opt_uint(PROG, "--job", v, 0, UINT32_MAX, &u) < 0
			       ? -1
			       : (a->job = (uint32_t)u, 0);
	case 'w':
		return ainftp_opt_uint(PROG, "--worker", v, 0, AINFTP_MAX_WORKERS - 1, &u) < 0
			       ? -1
			       : (a->worker = (int)u, 0);
	case 's':
		if (parse_size(v, &bytes) < 0)
			return -1;
		a->elems = bytes / 4;
		return 0;
	case 'e':
		return ainftp_opt_uint(PROG, "--elems", v, 1, ELEMS_MAX, &u) < 0
			       ? -1
			       : (a->elems = (size_t)u, 0);
	case 'n':
		return ainftp_opt_uint(PROG, "--steps", v, 1, 1000000, &u) < 0
			       ? -1
			       : (a->steps = (unsigned)u, 0);
	case 'o':
		if (strcmp(v, "sum") == 0)
			a->op = AINFTP_OP_SUM;
		else if (strcmp(v, "mean") == 0)
			a->op = AINFTP_OP_MEAN;
		else
			return bad_arg("--op (sum or mean)", v);
		return 0;
	case 'v':
		return ainftp_opt_uint(PROG, "--verify", v, 1, AINFTP_MAX_WORKERS, &u) < 0
			       ? -1
			       : (a->verify_workers = (int)u, 0);
	case 'S':
		return ainftp_opt_uint(PROG, "--seed", v, 0, UINT64_MAX, &u) < 0 ? -1
										 : (a->seed = u, 0);
	case 'O':
		if (strchr(v, '=') == NULL || a->n_opt == 32)
			return bad_arg("--opt (NAME=VALUE, at most 32)", v);
		a->opt[a->n_opt++] = (char *)v;
		return 0;
	case 'J':
		a->json = true;
		return 0;
	case 'G':
		a->same_gradient = true;
		return 0;
	case 'P':
		return ainftp_opt_real(PROG, "--progress", v, 0, 3600, false, &a->progress_s);
	case 'p':
		return parse_pause(v, a);
	case 'B':
		a->barrier = v;
		return 0;
	case 'E':
		return ainftp_opt_uint(PROG, "--end-step", v, 1, UINT32_MAX, &u) < 0
			       ? -1
			       : (a->end_step = (uint32_t)u, 0);
	}
	return -1;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {{"config", required_argument, NULL, 'c'},
					   {"job", required_argument, NULL, 'j'},
					   {"worker", required_argument, NULL, 'w'},
					   {"size", required_argument, NULL, 's'},
					   {"elems", required_argument, NULL, 'e'},
					   {"steps", required_argument, NULL, 'n'},
					   {"op", required_argument, NULL, 'o'},
					   {"verify", required_argument, NULL, 'v'},
					   {"seed", required_argument, NULL, 'S'},
					   {"opt", required_argument, NULL, 'O'},
					   {"json", no_argument, NULL, 'J'},
					   {"progress", required_argument, NULL, 'P'},
					   {"pause", required_argument, NULL, 'p'},
					   {"end-step", required_argument, NULL, 'E'},
					   {"same-gradient", no_argument, NULL, 'G'},
					   {"barrier", required_argument, NULL, 'B'},
					   {NULL, 0, NULL, 0}};
	int ch;

	*a = (struct args){.job = UINT32_MAX,
			   .worker = -1,
			   .elems = 16u << 20,
			   .steps = 5,
			   .seed = 1,
			   .progress_s = 5};
	bool job_set = false;

	ainftp_opt_std(argc, argv, PROG, usage);
	while ((ch = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		if (ch == '?') {
			usage(stderr);
			return -1;
		}
		if (parse_one(a, ch, optarg) < 0)
			return -1; /* the message names the option: no usage after it */
		job_set |= ch == 'j';
	}
	if (optind < argc) {
		fprintf(stderr, "ainftp-worker: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (a->config == NULL || !job_set || a->worker < 0) {
		fprintf(stderr, "ainftp-worker: -c, --job and --worker are required\n");
		usage(stderr);
		return -1;
	}
	if (a->verify_workers > 0 && a->same_gradient) {
		fprintf(stderr,
			"ainftp-worker: --same-gradient with --verify: the reference is each "
			"step's own gradient\n");
		return -1;
	}
	if (a->barrier != NULL && (a->end_step != 0 || a->pause_ms > 0)) {
		fprintf(stderr,
			"ainftp-worker: --barrier with --end-step or --pause: a worker "
			"that stops early or falls behind holds its peers at the barrier\n");
		return -1;
	}
	if (a->verify_workers > 0 && a->worker >= a->verify_workers) {
		fprintf(stderr, "ainftp-worker: --worker %d is not below --verify %d\n", a->worker,
			a->verify_workers);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the gradient */

static uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * Uniform in (-1, 1) with 24 random bits, times a power of two that changes
 * every 4096 elements (2^-12 .. 2^3), so chunks and blocks see many exponents.
 */
static void
gradient(uint64_t seed, int w, uint32_t step, size_t from, size_t n, float *x)
{
	uint64_t base = splitmix64(seed ^ splitmix64(((uint64_t)w << 32) | step));
	float pow2[16];

	/*
	 * The 16 scales once: an integer of 24 bits times one of them is exact,
	 * the same float as ldexpf's, which per element was half of a worker's
	 * CPU (the machine's, beside the client's) on a 2-core box.
	 */
	for (int e = 0; e < 16; e++)
		pow2[e] = ldexpf(1.0f, -24 + e - 12);
	for (size_t i = 0; i < n; i++) {
		size_t k = from + i;
		uint64_t r = splitmix64(base + k);
		float m = (float)(r >> 40) * pow2[(k >> 12) % 16];

		x[i] = (r & 1) ? -m : m;
	}
}

/* ------------------------------------------------------------ the reference */

struct ref {
	struct ainftp_acc acc;
	float *x;
	struct ainftp_kernels k; /* the scalar references */
	uint8_t *payload;	 /* a contribution or a result, in its encoding */
	float *scratch;
	float *want;
	double *exact;
	double *bound;
};

static int
ref_init(struct ref *r, uint32_t elems)
{
	r->acc.acc = aligned_alloc(64, (ainftp_acc_size(elems) + 63) / 64 * 64);
	if (r->acc.acc != NULL)
		ainftp_acc_init(&r->acc, elems, r->acc.acc);
	r->x = calloc(elems, sizeof(float));
	ainftp_kernels_init(&r->k, &ainftp_quant_scalar);
	r->payload = calloc(elems, sizeof(float));
	r->scratch = aligned_alloc(64, ((size_t)elems * sizeof(float) + 63) / 64 * 64);
	r->want = calloc(elems, sizeof(float));
	r->exact = calloc(elems, sizeof(double));
	r->bound = calloc(elems, sizeof(double));
	return r->acc.acc && r->x && r->payload && r->scratch && r->want && r->exact && r->bound
		       ? 0
		       : -1;
}

static void
ref_free(struct ref *r)
{
	free(r->acc.acc);
	free(r->x);
	free(r->payload);
	free(r->scratch);
	free(r->want);
	free(r->exact);
	free(r->bound);
}

/*
 * Error bound of one quantized contribution, per element: 2^e with the
 * exponents of docs/QUANTIZATION.md (int16: one per packet, int8 and the
 * appliance's float32 conversion: one per block of 32).
 */
static void
add_bound(const struct geometry *g, const float *x, double *bound)
{
	const struct ainftp_codec *codec = ainftp_codec_get((unsigned int)g->encoding);
	uint32_t blk = codec->exp_block != 0 ? codec->exp_block : g->elems;
	int qbits = codec->qbits;

	for (uint32_t b = 0; b < g->elems; b += blk) {
		uint32_t m = g->elems - b < blk ? g->elems - b : blk, maxbits = 0;

		for (uint32_t i = 0; i < m; i++) {
			uint32_t v;

			memcpy(&v, &x[b + i], 4);
			v &= 0x7fffffffu;
			maxbits = v > maxbits ? v : maxbits;
		}
		if (maxbits == 0)
			continue;
		for (uint32_t i = 0; i < m; i++)
			bound[b + i] += ldexp(1.0, ainftp_quant_exp(maxbits, qbits));
	}
}

static void
ref_add(struct ref *r, const struct geometry *g)
{
	const struct ainftp_codec *codec = ainftp_codec_get((unsigned int)g->encoding);
	int8_t e;

	codec->quantize(&r->k, r->x, g->elems, r->payload, &e);
	codec->accumulate(&r->k, &r->acc, r->payload, e, r->scratch);
	add_bound(g, r->x, r->bound);
	for (uint32_t i = 0; i < g->elems; i++)
		r->exact[i] += r->x[i];
}

/* The appliance's result for one chunk, in r->want; the true sum and bound beside it. */
static void
ref_chunk(struct ref *r, const struct geometry *g, const struct args *a, uint32_t step,
	  uint64_t bitmap, size_t off, size_t m)
{
	const struct ainftp_codec *rc = ainftp_codec_get((unsigned int)g->result_encoding);
	int8_t e;

	ainftp_acc_reset(&r->acc);
	memset(r->exact, 0, g->elems * sizeof(double));
	memset(r->bound, 0, g->elems * sizeof(double));
	for (int w = 0; w < a->verify_workers; w++) {
		if (!(bitmap >> w & 1))
			continue;
		memset(r->x, 0, g->elems * sizeof(float));
		gradient(a->seed, w, step, off, m, r->x);
		ref_add(r, g);
	}
	e = rc->result_encode(&r->k, &r->acc, r->payload);
	rc->to_f32(&r->k, r->payload, g->elems, e, r->want);
	/* A quantized result is one more rounding, at its own exponent. */
	if (rc->qbits != AINFTP_QBITS_FLOAT32)
		for (uint32_t i = 0; i < g->elems; i++)
			r->bound[i] += ldexp(1.0, e);
}

/* Bit-for-bit against the reference; within the bound of the true sum. 0 or -1. */
/*
 * A chunk the job completed without this worker holds its input: this
 * worker's own gradient, bit for bit.
 */
static int
verify_skipped(const struct args *a, uint32_t step, size_t off, size_t m, const float *got,
	       float *x)
{
	gradient(a->seed, a->worker, step, off, m, x);
	if (memcmp(got + off, x, m * sizeof(float)) == 0)
		return 0;
	fprintf(stderr, "ainftp-worker: step %u: a skipped chunk at element %zu lost its input\n",
		step, off);
	return -1;
}

/*
 * Every chunk against the reference over the workers in its sum (its
 * bitmap, as the appliance said): the mean divides by their count.
 */
static int
verify(const struct args *a, const struct geometry *g, uint32_t step, const uint64_t *bitmaps,
       const float *got, uint64_t *checked)
{
	struct ref r;
	int rc = 0;

	if (ref_init(&r, g->elems) < 0) {
		fprintf(stderr, "ainftp-worker: out of memory\n");
		ref_free(&r);
		return -1;
	}
	for (size_t off = 0, k = 0; off < a->elems && rc == 0; off += g->elems, k++) {
		size_t m = a->elems - off < g->elems ? a->elems - off : g->elems;
		int n = __builtin_popcountll(bitmaps[k]);

		if (n == 0) {
			rc = verify_skipped(a, step, off, m, got, r.x);
			*checked += m;
			continue;
		}
		ref_chunk(&r, g, a, step, bitmaps[k], off, m);
		for (size_t i = 0; i < m; i++) {
			float want = a->op == AINFTP_OP_MEAN ? r.want[i] / (float)n : r.want[i];
			double exact = a->op == AINFTP_OP_MEAN ? r.exact[i] / n : r.exact[i];
			double tol = r.bound[i] + fabs(exact) * 0x1p-23;

			if (memcmp(&got[off + i], &want, 4) != 0 ||
			    fabs(got[off + i] - exact) > tol) {
				fprintf(stderr,
					"ainftp-worker: step %u element %zu (workers 0x%llx): got "
					"%a, "
					"reference %a, true sum %a (bound %a)\n",
					step, off + i, (unsigned long long)bitmaps[k], got[off + i],
					want, exact, tol);
				rc = -1;
				break;
			}
		}
		*checked += m;
	}
	ref_free(&r);
	return rc;
}

/* ------------------------------------------------------------ the run */

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static int
open_client(const struct args *a, struct ainftp_client **c)
{
	struct ainftp_opts *o = ainftp_opts_new();
	int rc;

	if (o == NULL)
		return -1;
	rc = ainftp_opts_from_cluster(o, a->config, a->job, (uint16_t)a->worker);
	for (int i = 0; i < a->n_opt && rc == 0; i++) {
		char name[64], *eq = strchr(a->opt[i], '=');
		size_t len = (size_t)(eq - a->opt[i]);

		snprintf(name, sizeof(name), "%.*s", (int)(len < 63 ? len : 63), a->opt[i]);
		rc = ainftp_opts_set(o, name, eq + 1);
	}
	if (rc == 0)
		rc = ainftp_client_open(o, c);
	ainftp_opts_free(o);
	if (rc < 0) {
		fprintf(stderr, "ainftp-worker: %s\n", ainftp_last_error());
		return -1;
	}
	return 0;
}

/* The geometry the reference needs, read the way the client reads it. */
static int
job_geometry(const struct args *a, struct geometry *g)
{
	struct ainftp_config *cfg = calloc(1, sizeof(*cfg));
	char err[512];
	int rc = -1;

	if (cfg == NULL)
		return -1;
	if (ainftp_config_load(a->config, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "ainftp-worker: %s\n", err);
	} else {
		for (uint16_t j = 0; j < cfg->n_jobs; j++) {
			if (cfg->jobs[j].id != a->job)
				continue;
			g->elems = cfg->jobs[j].elems_per_packet;
			g->encoding = cfg->jobs[j].encoding;
			g->result_encoding = cfg->jobs[j].result_encoding;
			g->workers = cfg->jobs[j].n_workers;
			rc = 0;
		}
		if (rc < 0)
			fprintf(stderr, "ainftp-worker: %s: no job %u\n", a->config, a->job);
	}
	memset(cfg, 0, sizeof(*cfg));
	free(cfg);
	return rc;
}

/*
 * Progress of a long run, every --progress seconds, from a thread of its own
 * that reads the client's published stats: ainftp_allreduce() blocks, and the
 * stats are what the engine already publishes once per loop, under its lock.
 * A callback from the library would need a new exported call, and would run
 * on the engine thread, whose timers a slow terminal could then stall.
 */
struct progress {
	struct ainftp_client *c;
	FILE *out;
	double every_s;
	uint64_t total; /* chunks of all steps */
	double wall0;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
};

static void
progress_line(struct progress *p)
{
	struct ainftp_client_stats st;
	double t = ainftp_seconds(CLOCK_MONOTONIC) - p->wall0;

	ainftp_client_get_stats(p->c, &st);
	fprintf(p->out,
		"progress: %.1f s: %llu/%llu chunks (%.1f%%), %.3f Gbit/s sent, %.3f Gbit/s "
		"received, %llu retransmits\n",
		t, (unsigned long long)st.chunks, (unsigned long long)p->total,
		100.0 * (double)st.chunks / (double)p->total, st.bytes_sent * 8.0 / t / 1e9,
		st.bytes_received * 8.0 / t / 1e9, (unsigned long long)st.retransmits);
	fflush(p->out);
}

static void *
progress_run(void *arg)
{
	struct progress *p = arg;
	struct timespec ts;

	pthread_mutex_lock(&p->mu);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	while (!p->stop) {
		ts.tv_sec += (time_t)p->every_s;
		ts.tv_nsec += (long)((p->every_s - (double)(time_t)p->every_s) * 1e9);
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		/* A deadline, not a sleep: the line stops the moment the run does. */
		while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0)
			;
		if (!p->stop)
			progress_line(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* 0, or -1 when no thread could start: the run goes on without progress lines. */
static int
progress_start(struct progress *p, const struct args *a, const struct geometry *g,
	       struct ainftp_client *c)
{
	pthread_condattr_t ca;

	*p = (struct progress){.c = c,
			       .out = a->json ? stderr : stdout, /* --json's stdout is one line */
			       .every_s = a->progress_s,
			       .total = (a->elems + g->elems - 1) / g->elems * a->steps,
			       .wall0 = ainftp_seconds(CLOCK_MONOTONIC)};
	if (a->progress_s <= 0)
		return -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->thread, NULL, progress_run, p) != 0) {
		p->every_s = 0;
		return -1;
	}
	return 0;
}

static void
progress_stop(struct progress *p)
{
	if (p->every_s <= 0)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

struct results {
	double *lat;
	uint32_t step;	   /* of the last all-reduce */
	uint64_t *bitmaps; /* its chunks' contributors (ainftp_req_info) */
	unsigned int done; /* all-reduces run: --steps, or fewer with --end-step */
	size_t n_chunks;
	uint64_t checked;
	double cpu_s;  /* in the all-reduce calls only: the client's cost, all threads */
	double wall_s; /* their wall time */
	struct ainftp_client_stats st;
	struct ainftp_client_xdp_stats xst;
};

static void
sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One all-reduce, and what it was: its step and each chunk's contributors. */
static int
allreduce_step(struct ainftp_client *c, const struct args *a, float *buf, uint32_t step,
	       struct results *res)
{
	struct ainftp_req *r;
	int rc = ainftp_allreduce_start(c, buf, a->elems, a->op, &r);

	if (rc < 0)
		return rc;
	rc = ainftp_req_wait(r); /* its message, if any, in ainftp_last_error() */
	res->step = step;
	ainftp_req_info(r, &res->step, res->bitmaps, res->n_chunks);
	ainftp_req_free(r);
	return rc;
}

/*
 * Every step's all-reduce (buf, in place). With --same-gradient (pristine,
 * a second buffer) the first step's gradient is made once and copied in
 * before each step, as bench-gloo.py refills its tensor: making one costs
 * about 100 ms of a core per 64 MB on a small VM, and a worker still making
 * its own holds every chunk of its peers' steps (a chunk waits for every
 * worker), so a benchmark would time the generators.
 */
static int
run_steps(const struct args *a, const struct geometry *g, struct ainftp_client *c, float *buf,
	  float *pristine, struct ainftp_barrier *bar, struct results *res)
{
	for (unsigned int s = 0; s < a->steps; s++) {
		double t0, cpu0;
		uint32_t step;
		int rc;

		if (s == a->pause_step && a->pause_ms > 0)
			sleep_ms(a->pause_ms); /* a slow training step: it falls behind */
		/*
		 * The gradient is the step's (the one the client will use, not the loop's:
		 * a worker that fell behind rejoins at a later step), so that every worker's
		 * data for one step is known to all of them for --verify. It is not the
		 * client's work: the clocks leave it out.
		 */
		ainftp_client_next_step(c, &step);
		if (a->end_step != 0 && step >= a->end_step)
			break;
		res->done++;
		if (pristine == NULL) {
			gradient(a->seed, a->worker, step, 0, a->elems, buf);
		} else {
			if (res->done == 1)
				gradient(a->seed, a->worker, step, 0, a->elems, pristine);
			memcpy(buf, pristine, a->elems * sizeof(float));
		}
		/* A peer's step can take minutes (float32, a loss test): the wait allows one. */
		if (bar != NULL && ainftp_barrier_wait(bar, BARRIER_TIMEOUT_S) < 0)
			return 1;
		cpu0 = ainftp_seconds(CLOCK_PROCESS_CPUTIME_ID);
		t0 = ainftp_seconds(CLOCK_MONOTONIC);
		rc = allreduce_step(c, a, buf, step, res);
		res->lat[s] = ainftp_seconds(CLOCK_MONOTONIC) - t0;
		res->cpu_s += ainftp_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
		res->wall_s += res->lat[s];
		if (rc == AINFTP_E_SKIPPED) {
			/* Not a failure: the job went on without us, and the client rejoins. */
			fprintf(stderr, "ainftp-worker: worker %d step %u: %s\n", a->worker, s,
				ainftp_last_error());
		} else if (rc < 0) {
			fprintf(stderr, "ainftp-worker: worker %d step %u: %s\n", a->worker, s,
				ainftp_last_error());
			return 1;
		} else if (!a->json) {
			printf("step %u: %.1f ms, %.2f Gbit/s of float32 gradient\n", s,
			       res->lat[s] * 1e3, a->elems * 32.0 / res->lat[s] / 1e9);
		}
		if (a->verify_workers > 0 &&
		    verify(a, g, res->step, res->bitmaps, buf, &res->checked) < 0)
			return EXIT_WRONG;
	}
	return 0;
}

/* A JSON number, or null where there is none (no step ran: no median, no rate). */
static const char *
json_num(char *buf, size_t n, double v, int prec)
{
	if (!isfinite(v))
		return "null";
	snprintf(buf, n, "%.*f", prec, v);
	return buf;
}

static void
report(const struct args *a, struct results *r)
{
	double med, gbps, per_core_tx, per_core_rx;

	qsort(r->lat, r->done, sizeof(double), cmp_double);
	med = r->done > 0 ? r->lat[r->done / 2] : NAN;
	gbps = a->elems * 32.0 / med / 1e9;
	/* The engine's CPU and the caller's in the all-reduce calls (no gradient, no --verify). */
	per_core_tx = r->st.bytes_sent * 8.0 / r->cpu_s / 1e9;
	per_core_rx = r->st.bytes_received * 8.0 / r->cpu_s / 1e9;
	if (a->json) {
		char b_med[32], b_gbps[32], b_tx[32], b_rx[32];

		printf("{\"worker\":%d,\"job\":%u,\"elems\":%zu,\"steps\":%u,\"median_s\":%s,"
		       "\"gbps\":%s,\"retransmits\":%llu,\"dup_results\":%llu,"
		       "\"packets_sent\":%llu,\"bytes_sent\":%llu,\"bytes_received\":%llu,"
		       "\"cpu_s\":%.3f,\"wall_s\":%.3f,\"tx_gbps_per_core\":%s,"
		       "\"rx_gbps_per_core\":%s,\"srtt_us\":%llu,\"first_sends\":%llu,"
		       "\"checked\":%llu,\"probes\":%llu,\"chunks_skipped\":%llu,"
		       "\"requests_skipped\":%llu,\"bad_tags\":%llu,\"xdp_sent\":%llu,"
		       "\"xdp_received\":%llu,\"xdp_native\":%llu}\n",
		       a->worker, a->job, a->elems, r->done, json_num(b_med, sizeof(b_med), med, 6),
		       json_num(b_gbps, sizeof(b_gbps), gbps, 3),
		       (unsigned long long)r->st.retransmits, (unsigned long long)r->st.dup_results,
		       (unsigned long long)r->st.packets_sent, (unsigned long long)r->st.bytes_sent,
		       (unsigned long long)r->st.bytes_received, r->cpu_s, r->wall_s,
		       json_num(b_tx, sizeof(b_tx), per_core_tx, 3),
		       json_num(b_rx, sizeof(b_rx), per_core_rx, 3),
		       (unsigned long long)r->st.srtt_us,
		       /* Each chunk went out once before any retransmission: every chunk
			* of a finished run is one first send. */
		       (unsigned long long)r->st.chunks, (unsigned long long)r->checked,
		       (unsigned long long)r->st.probes, (unsigned long long)r->st.chunks_skipped,
		       (unsigned long long)r->st.requests_skipped,
		       (unsigned long long)r->st.bad_tags, (unsigned long long)r->xst.sent,
		       (unsigned long long)r->xst.received, (unsigned long long)r->xst.native);
		return;
	}
	printf("worker %d: %u steps of %zu elements: median %.1f ms, %.2f Gbit/s; "
	       "%llu retransmits, %llu duplicate results, srtt %llu us\n"
	       "  wire: %.2f Gbit/s sent, %.2f Gbit/s received per core of CPU time\n",
	       a->worker, r->done, a->elems, med * 1e3, gbps, (unsigned long long)r->st.retransmits,
	       (unsigned long long)r->st.dup_results, (unsigned long long)r->st.srtt_us,
	       per_core_tx, per_core_rx);
	if (r->xst.boxes > 0)
		printf("  AF_XDP (%s): %llu datagrams sent, %llu received\n",
		       r->xst.native == r->xst.boxes ? "native" : "generic",
		       (unsigned long long)r->xst.sent, (unsigned long long)r->xst.received);
	if (a->verify_workers > 0)
		printf("  verified: %llu elements, bit for bit and within the error bound\n",
		       (unsigned long long)r->checked);
}

int
main(int argc, char **argv)
{
	struct args a;
	struct geometry g = {0};
	struct ainftp_client *c;
	struct results res = {0};
	struct progress prog;
	struct ainftp_barrier bar = {0};
	float *buf, *pristine = NULL;
	int rc;

	if (parse_args(argc, argv, &a) < 0)
		return EXIT_USAGE;
	if (job_geometry(&a, &g) < 0)
		return EXIT_USAGE;
	/* Before the join: a file that cannot be had fails the run before it takes a place. */
	if (a.barrier != NULL && ainftp_barrier_open(&bar, a.barrier, g.workers) < 0)
		return 1;
	if (open_client(&a, &c) < 0) {
		ainftp_barrier_leave(&bar); /* the peers would wait for us until the timeout */
		ainftp_barrier_close(&bar);
		return EXIT_USAGE;
	}
	buf = aligned_alloc(64, (a.elems * 4 + 63) / 64 * 64);
	if (a.same_gradient)
		pristine = aligned_alloc(64, (a.elems * 4 + 63) / 64 * 64);
	res.lat = calloc(a.steps, sizeof(double));
	res.n_chunks = (a.elems + g.elems - 1) / g.elems;
	res.bitmaps = calloc(res.n_chunks, sizeof(*res.bitmaps));
	if (buf == NULL || res.lat == NULL || res.bitmaps == NULL ||
	    (a.same_gradient && pristine == NULL)) {
		fprintf(stderr, "ainftp-worker: out of memory\n");
		ainftp_barrier_leave(&bar);
		return 1;
	}
	progress_start(&prog, &a, &g, c);
	rc = run_steps(&a, &g, c, buf, pristine, a.barrier != NULL ? &bar : NULL, &res);
	if (rc != 0)
		ainftp_barrier_leave(&bar); /* the peers would wait for us until the timeout */
	progress_stop(&prog);
	ainftp_client_get_stats(c, &res.st);
	ainftp_client_get_xdp_stats(c, &res.xst);
	ainftp_client_close(c);
	if (rc == 0)
		report(&a, &res);
	free(buf);
	free(pristine);
	free(res.lat);
	free(res.bitmaps);
	ainftp_barrier_close(&bar);
	return rc;
}
