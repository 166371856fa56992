/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-bench-sentry: what each sentry policy costs an RX lcore, next to the
 * plain sum (none), measured in the same run on the same data: N workers'
 * contributions of one chunk, already in memory (no I/O), aggregated again and
 * again on one thread. Repetitions are interleaved across policies, so a
 * noisy neighbour slows them all alike; the medians and their ratios to none
 * are printed. What one chunk costs, per policy:
 *
 *   none          acc_reset, N x acc (int16 or float32 payload), res_f32
 *   zscore        the same, plus per contribution its norm and zscore_check
 *   clip          per contribution: dequantize (int16, the sentry's kernel) into a float buffer,
 *                 clip, acc_f32; then res_f32
 *   trimmed_mean  per contribution: dequantize (int16) or copy (float32) into
 *   median        the slot's per-worker buffers; then ainftp_sentry_robust,
 *                 whose output is the float32 result
 */
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ainftp_attack.h"
#include "ainftp_opt.h"
#include "ainftp_quant.h"
#include "ainftp_sentry.h"
#include "ainftp_sentry_policy.h"

#define MAX_REPS 15
#define ELEMS_MAX 65536 /* per chunk: a jumbo frame holds a few thousand */
#define PROG "ainftp-bench-sentry"
#define N_ENC 2

/* Every rule, in the table's order (ainftp_sentry_policy.h): none first, the baseline. */
#define N_POLICIES AINFTP_SENTRY_MAX
static const enum ainftp_encoding encodings[N_ENC] = {AINFTP_ENC_INT16, AINFTP_ENC_FLOAT32};

struct opts {
	uint16_t workers;
	uint32_t elems;
	unsigned int reps;
	double run_s;
	int cpu;
	uint16_t trim_f;
};

/* One kernel set and encoding: the workers' payloads and the buffers a lcore would own. */
struct bench {
	const struct opts *o;
	const struct ainftp_quant_ops *qops;
	const struct ainftp_sentry_ops *sops;
	enum ainftp_encoding enc;
	int16_t *q[AINFTP_MAX_WORKERS];
	int8_t e[AINFTP_MAX_WORKERS];
	float *x[AINFTP_MAX_WORKERS];	 /* float32 payloads */
	float *slot[AINFTP_MAX_WORKERS]; /* trimmed_mean / median: contributions kept */
	float *tmp;
	float *out;
	uint16_t ids[AINFTP_MAX_WORKERS];
	struct ainftp_acc acc;
	struct ainftp_kernels k; /* qops and sops, as an RX lcore holds them */
	struct ainftp_sentry sentry;
};

static void *
xalloc(size_t n)
{
	void *p = aligned_alloc(64, (n + 63) / 64 * 64);

	if (p == NULL) {
		fprintf(stderr, "ainftp-bench-sentry: out of memory\n");
		exit(1);
	}
	memset(p, 0, n);
	return p;
}

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void
bench_data(struct bench *b)
{
	struct ainftp_grad_model m;
	uint32_t n = b->o->elems;
	uint16_t w;

	ainftp_grad_model_defaults(&m, 1);
	for (w = 0; w < b->o->workers; w++) {
		b->x[w] = xalloc(n * sizeof(float));
		b->q[w] = xalloc(n * sizeof(int16_t));
		b->slot[w] = xalloc(n * sizeof(float));
		b->ids[w] = w;
	}
	ainftp_attack_honest(&m, 0, b->o->workers, n, b->x);
	for (w = 0; w < b->o->workers; w++)
		ainftp_quant_scalar.quant_i16(b->x[w], n, b->q[w], &b->e[w]);
	b->tmp = xalloc(n * sizeof(float));
	b->out = xalloc(n * sizeof(float));
	ainftp_acc_init(&b->acc, n, xalloc(ainftp_acc_size(n)));
}

static void
bench_free(struct bench *b)
{
	uint16_t w;

	for (w = 0; w < b->o->workers; w++) {
		free(b->x[w]);
		free(b->q[w]);
		free(b->slot[w]);
	}
	free(b->tmp);
	free(b->out);
	free(b->acc.acc);
}

static void
sentry_setup(struct bench *b, enum ainftp_sentry_policy p)
{
	struct ainftp_sentry_conf c = {.policy = p,
				       .zscore_k = 3.5,
				       .trim_f = b->o->trim_f,
				       .clip_norm = 16,
				       .suspicion_threshold = 1}; /* nobody quarantined mid-run */

	if (ainftp_sentry_init(&b->sentry, &c, b->o->workers, b->o->elems, b->sops) < 0) {
		fprintf(stderr, "ainftp-bench-sentry: bad sentry setup (f %u of %u workers)\n",
			b->o->trim_f, b->o->workers);
		exit(2);
	}
}

/* One chunk of every worker through the rule, as an RX lcore takes it (ainftp_sentry_take). */
static void
chunk_run(struct bench *b, enum ainftp_sentry_policy p)
{
	const struct ainftp_sentry_rule *rule = ainftp_sentry_rule(p);
	const struct ainftp_codec *c = ainftp_codec_get(b->enc);
	uint16_t w, n = b->o->workers;

	ainftp_acc_reset(&b->acc);
	for (w = 0; w < n; w++) {
		bool q = b->enc == AINFTP_ENC_INT16;

		ainftp_sentry_take(rule, &b->sentry, w, c, &b->k,
				   q ? (const void *)b->q[w] : b->x[w], q ? b->e[w] : 0, &b->acc,
				   b->slot[w], b->tmp);
	}
	if (rule->keeps_rows)
		rule->finish(&b->sentry, (const float *const *)b->slot, b->ids, n, b->out);
	else
		b->qops->res_f32(&b->acc, b->out);
}

/* Chunks per second of one repetition of run_s seconds. */
static double
rep_run(struct bench *b, enum ainftp_sentry_policy p)
{
	double t0 = now_s(), t;
	uint64_t chunks = 0;
	unsigned int i;

	do {
		for (i = 0; i < 64; i++)
			chunk_run(b, p);
		chunks += 64;
		t = now_s();
	} while (t - t0 < b->o->run_s);
	return (double)chunks / (t - t0);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
set_run(const struct opts *o, const struct ainftp_quant_ops *qops,
	const struct ainftp_sentry_ops *sops)
{
	double rate[N_ENC][N_POLICIES][MAX_REPS];
	struct bench b[N_ENC];
	unsigned int e, p, r;

	for (e = 0; e < N_ENC; e++) {
		memset(&b[e], 0, sizeof(b[e]));
		b[e] = (struct bench){.o = o, .qops = qops, .sops = sops, .enc = encodings[e]};
		ainftp_kernels_init(&b[e].k, qops);
		b[e].k.dequant_i16 = sops->dequant_i16;
		b[e].k.sumsq = sops->sumsq;
		bench_data(&b[e]);
	}
	/* Interleaved: each repetition runs every encoding and policy once, warm first. */
	for (r = 0; r <= o->reps; r++) {
		for (e = 0; e < N_ENC; e++) {
			for (p = 0; p < N_POLICIES; p++) {
				sentry_setup(&b[e], (enum ainftp_sentry_policy)p);
				double v = rep_run(&b[e], (enum ainftp_sentry_policy)p);

				if (r > 0)
					rate[e][p][r - 1] = v;
			}
		}
	}
	for (e = 0; e < N_ENC; e++) {
		double bytes =
			(double)o->workers * o->elems * (encodings[e] == AINFTP_ENC_INT16 ? 2 : 4);
		double none = 0;

		for (p = 0; p < N_POLICIES; p++) {
			double med;

			qsort(rate[e][p], o->reps, sizeof(double), cmp_double);
			med = rate[e][p][o->reps / 2];
			if (p == 0)
				none = med;
			printf("%-7s %-8s %-14s %10.0f %10.2f %9.2f %8.2fx\n", sops->name,
			       encodings[e] == AINFTP_ENC_INT16 ? "int16" : "float32",
			       ainftp_sentry_name((enum ainftp_sentry_policy)p), med, 1e6 / med,
			       med * bytes * 8 / 1e9, none / med);
		}
		bench_free(&b[e]);
	}
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: " PROG
		     " [--workers N] [--elems N] [--f F] [--reps N] [--time S] [--cpu C]\n"
		     "Per-lcore aggregation rate of each sentry policy next to none, same run:\n"
		     "medians of --reps repetitions of --time seconds, for every kernel "
		     "set.\n" AINFTP_OPT_STD_USAGE);
}

static int
opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"workers", required_argument, NULL, 'w'},
		{"elems", required_argument, NULL, 'e'},
		{"f", required_argument, NULL, 'f'},
		{"reps", required_argument, NULL, 'r'},
		{"time", required_argument, NULL, 't'},
		{"cpu", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){
		.workers = 16, .elems = 364, .reps = 5, .run_s = 0.2, .cpu = -1, .trim_f = 1};
	ainftp_opt_std(argc, argv, PROG, usage);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		unsigned long long u = 0;
		int rc = 0;

		switch (c) {
		case 'w':
			rc = ainftp_opt_uint(PROG, "--workers", optarg, 3, AINFTP_MAX_WORKERS, &u);
			o->workers = (uint16_t)u;
			break;
		case 'e':
			rc = ainftp_opt_uint(PROG, "--elems", optarg, 1, ELEMS_MAX, &u);
			o->elems = (uint32_t)u;
			break;
		case 'f':
			/* 2f < workers is checked with the sentry's setup. */
			rc = ainftp_opt_uint(PROG, "--f", optarg, 1, AINFTP_MAX_WORKERS / 2 - 1,
					     &u);
			o->trim_f = (uint16_t)u;
			break;
		case 'r':
			rc = ainftp_opt_uint(PROG, "--reps", optarg, 1, MAX_REPS, &u);
			o->reps = (unsigned int)u;
			break;
		case 't':
			rc = ainftp_opt_real(PROG, "--time", optarg, 0, 60, true, &o->run_s);
			break;
		case 'c':
			rc = ainftp_opt_uint(PROG, "--cpu", optarg, 0, CPU_SETSIZE - 1, &u);
			o->cpu = (int)u;
			break;
		default:
			usage(stderr);
			return -1;
		}
		if (rc < 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (2u * o->trim_f >= o->workers) { /* trimmed_mean keeps workers - 2f */
		fprintf(stderr, PROG ": --f %u needs --workers %u or more\n", o->trim_f,
			2u * o->trim_f + 1);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const unsigned int bits[] = {512, 256, 0};
	struct opts o;
	unsigned int i;

	if (opts_parse(argc, argv, &o) < 0)
		return 2;
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			perror("ainftp-bench-sentry: sched_setaffinity");
	}
	printf("ainftp-bench-sentry: %u workers x %u elements per chunk, trimmed_mean f=%u;\n"
	       "medians of %u interleaved repetitions of %.2f s on one thread; Gbit/s of\n"
	       "contributions (payload bytes in); vs none: how many times slower.\n",
	       o.workers, o.elems, o.trim_f, o.reps, o.run_s);
	printf("%-7s %-8s %-14s %10s %10s %9s %9s\n", "kernels", "payload", "policy", "chunks/s",
	       "us/chunk", "Gbit/s", "vs none");
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		const struct ainftp_sentry_ops *sops = ainftp_sentry_select(bits[i]);
		const struct ainftp_quant_ops *qops = ainftp_quant_select(bits[i]);

		if (strcmp(sops->name, qops->name) != 0 ||
		    (i > 0 && sops == ainftp_sentry_select(bits[i - 1])))
			continue; /* the CPU lacks this set */
		set_run(&o, qops, sops);
	}
	return 0;
}
