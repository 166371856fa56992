/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-sentry-table: how far each sentry policy's aggregate lands from the
 * honest mean under each emulated attack, for f = 1..7 Byzantine workers of
 * N = 16 (docs/SENTRY.md keeps its output). Quarantine is off for the distance
 * tables (threshold 1), so they measure the aggregation rules alone; a last
 * table shows what the suspicion score quarantines at the default threshold.
 * Deterministic for a seed: no timing, no threads.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_attack.h"
#include "ainftp_opt.h"

#define N_WORKERS 16
#define F_MAX 7
#define N_POLICIES AINFTP_SENTRY_MAX /* every rule of the table, none first */
#define ELEMS_MAX 65536		     /* per chunk: a jumbo frame holds a few thousand */
#define CHUNKS_MAX 1000000	     /* per run, and there are some 200 runs */
#define PROG "ainftp-sentry-table"

struct opts {
	struct ainftp_grad_model model;
	uint32_t elems;
	uint32_t warmup;
	uint32_t chunks;
	uint32_t q_chunks; /* chunks of the quarantine table */
	double clip_norm;
	double k;
	unsigned int simd_bits;
};

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " [--seed S] [--elems N] [--chunks N] [--warmup N] [--q-chunks N]\n"
		"       [--sigma X] [--spread X] [--clip-norm X] [--k X] [--simd-bits 512|256|0]\n"
		"The relative L2 distance of each policy's aggregate from the honest mean,\n"
		"for each attack and f = 1..%d Byzantine workers of %d.\n" AINFTP_OPT_STD_USAGE,
		F_MAX, N_WORKERS);
}

static void
opts_default(struct opts *o)
{
	ainftp_grad_model_defaults(&o->model, 1);
	o->elems = 364;
	o->warmup = 16;
	o->chunks = 64;
	o->q_chunks = 256;
	o->clip_norm = 16;
	o->k = 3.5;
	o->simd_bits = 512;
}

/* --simd-bits 512|256|0: the sentry kernels, as the appliance's option. */
static int
simd_bits_parse(const char *arg, struct opts *o)
{
	unsigned long long u = 0;
	int rc = ainftp_opt_uint(PROG, "--simd-bits", arg, 0, 512, &u);

	if (rc == 0 && u != 0 && u != 256 && u != 512) {
		fprintf(stderr, PROG ": --simd-bits: \"%s\" is not 512, 256 or 0\n", arg);
		rc = -1;
	}
	o->simd_bits = (unsigned int)u;
	return rc;
}

/*
 * One option from getopt_long: 0, or -1 after a line on stderr (the usage, for
 * an option that is not ours).
 */
static int
opt_apply(int c, const char *arg, struct opts *o)
{
	unsigned long long u = 0;
	int rc = 0;

	switch (c) {
	case 's':
		rc = ainftp_opt_uint(PROG, "--seed", arg, 0, UINT64_MAX, &u);
		o->model.seed = u;
		break;
	case 'e':
		rc = ainftp_opt_uint(PROG, "--elems", arg, 1, ELEMS_MAX, &u);
		o->elems = (uint32_t)u;
		break;
	case 'c':
		rc = ainftp_opt_uint(PROG, "--chunks", arg, 1, CHUNKS_MAX, &u);
		o->chunks = (uint32_t)u;
		break;
	case 'w':
		rc = ainftp_opt_uint(PROG, "--warmup", arg, 0, CHUNKS_MAX, &u);
		o->warmup = (uint32_t)u;
		break;
	case 'q':
		rc = ainftp_opt_uint(PROG, "--q-chunks", arg, 1, CHUNKS_MAX, &u);
		o->q_chunks = (uint32_t)u;
		break;
	case 'g':
		rc = ainftp_opt_real(PROG, "--sigma", arg, 0, 1000, false, &o->model.sigma);
		break;
	case 'p':
		/* The chunk scale is 2^[-spread, spread]: float32 must hold it squared. */
		rc = ainftp_opt_real(PROG, "--spread", arg, 0, 32, false, &o->model.spread);
		break;
	case 'l':
		rc = ainftp_opt_real(PROG, "--clip-norm", arg, 0, 1e9, true, &o->clip_norm);
		break;
	case 'k':
		/* The config's range for sentry.k (config/README.md). */
		rc = ainftp_opt_real(PROG, "--k", arg, 0, 100, true, &o->k);
		break;
	case 'b':
		rc = simd_bits_parse(arg, o);
		break;
	default:
		usage(stderr);
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

static int
opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"seed", required_argument, NULL, 's'},
		{"elems", required_argument, NULL, 'e'},
		{"chunks", required_argument, NULL, 'c'},
		{"warmup", required_argument, NULL, 'w'},
		{"q-chunks", required_argument, NULL, 'q'},
		{"sigma", required_argument, NULL, 'g'},
		{"spread", required_argument, NULL, 'p'},
		{"clip-norm", required_argument, NULL, 'l'},
		{"k", required_argument, NULL, 'k'},
		{"simd-bits", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	int c;

	opts_default(o);
	ainftp_opt_std(argc, argv, PROG, usage);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		if (opt_apply(c, optarg, o) < 0)
			return -1;
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	return 0;
}

static const char *
policy_label(enum ainftp_sentry_policy p)
{
	static char label[32];
	const struct ainftp_sentry_rule *r = ainftp_sentry_rule(p);

	snprintf(label, sizeof(label), "%s%s", r->name,
		 r->judge == NULL ? " (mean)"
		 : r->uses_trim_f ? "(f)"
				  : "");
	return label;
}

static struct ainftp_attack_run
run_make(const struct opts *o, enum ainftp_attack_kind kind, enum ainftp_sentry_policy p,
	 uint16_t f, double threshold)
{
	struct ainftp_attack_run r = {
		.model = o->model,
		.ops = ainftp_sentry_select(o->simd_bits),
		.n = N_WORKERS,
		.f = f,
		.elems = o->elems,
		.warmup = o->warmup,
		.chunks = o->chunks,
		.sentry = {.policy = p,
			   .zscore_k = o->k,
			   .trim_f = f,
			   .clip_norm = o->clip_norm,
			   .suspicion_threshold = threshold},
	};

	ainftp_attack_defaults(&r.attack, kind);
	return r;
}

static int
distance_table(const struct opts *o, enum ainftp_attack_kind kind)
{
	struct ainftp_attack_result res;
	unsigned int i;
	uint16_t f;

	printf("\nattack: %s\n%-16s", ainftp_attack_name(kind), "policy");
	for (f = 1; f <= F_MAX; f++)
		printf("  f=%-5u", f);
	printf("\n");
	for (i = 0; i < N_POLICIES; i++) {
		printf("%-16s", policy_label((enum ainftp_sentry_policy)i));
		for (f = 1; f <= F_MAX; f++) {
			struct ainftp_attack_run r =
				run_make(o, kind, (enum ainftp_sentry_policy)i, f, 1.0);

			if (ainftp_attack_run(&r, &res) < 0)
				return -1;
			printf("  %7.3f", res.rel_dist);
		}
		printf("\n");
	}
	return 0;
}

/* Byzantine workers quarantined of f, and honest ones quarantined, after q_chunks. */
static int
quarantine_table(const struct opts *o, enum ainftp_sentry_policy p)
{
	struct ainftp_attack_result res;
	unsigned int kind;
	uint16_t f;

	printf("%-16s", policy_label(p));
	for (kind = AINFTP_ATTACK_SIGN_FLIP; kind < AINFTP_ATTACK_COUNT; kind++) {
		for (f = 1; f <= F_MAX; f += 3) {
			struct ainftp_attack_run r = run_make(o, kind, p, f, 0.5);

			r.warmup = 0;
			r.chunks = o->q_chunks;
			if (ainftp_attack_run(&r, &res) < 0)
				return -1;
			printf(" %u/%u+%-2u", res.byz_quarantined, f, res.honest_quarantined);
		}
		printf(" |");
	}
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	unsigned int kind, i;

	if (opts_parse(argc, argv, &o) < 0)
		return 2;
	printf("ainftp-sentry-table: N=%d workers, the last f Byzantine; %u elements per chunk;\n"
	       "honest: chunk scale 2^U(-%g,%g), noise sigma %g x the true gradient; seed %llu;\n"
	       "zscore k=%g, trimmed_mean f = the attackers' f, clip_norm %g; kernels %s.\n"
	       "Relative L2 distance |aggregate mean - honest mean| / |honest mean|, mean of\n"
	       "%u chunks after %u warm-up chunks, quarantine off.\n",
	       N_WORKERS, o.elems, o.model.spread, o.model.spread, o.model.sigma,
	       (unsigned long long)o.model.seed, o.k, o.clip_norm,
	       ainftp_sentry_select(o.simd_bits)->name, o.chunks, o.warmup);
	for (kind = AINFTP_ATTACK_SIGN_FLIP; kind < AINFTP_ATTACK_COUNT; kind++)
		if (distance_table(&o, kind) < 0)
			return 1;
	printf("\nQuarantine at suspicion_threshold 0.5 after %u chunks: Byzantine quarantined/f"
	       " + honest quarantined,\nfor f = 1, 4, 7 under each attack:\n%-16s",
	       o.q_chunks, "policy");
	for (kind = AINFTP_ATTACK_SIGN_FLIP; kind < AINFTP_ATTACK_COUNT; kind++)
		printf(" %-21s|", ainftp_attack_name(kind));
	printf("\n");
	for (i = 1; i < N_POLICIES; i++)
		if (quarantine_table(&o, (enum ainftp_sentry_policy)i) < 0)
			return 1;
	return 0;
}
