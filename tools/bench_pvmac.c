/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-bench-pvmac: what POLYVAL-AES-128 (ainftp_pvmac.h) costs per
 * message on each path this CPU has, beside libsodium's
 * crypto_shorthash_siphashx24 (the wire's SipHash-2-4-128) on the same bytes.
 *
 * Each figure is the median of RUNS runs; a run tags the same message over
 * and over for about 2 ms (the count calibrated once per path and size), and
 * the runs of all candidates are interleaved so that a slow moment of the
 * machine spreads over all of them. Nanoseconds by CLOCK_MONOTONIC; cycles by
 * the TSC, which counts at its nominal rate whatever the core's clock.
 *
 * Usage: ainftp-bench-pvmac [RUNS]   (default 9; pin it: taskset -c 1 ...)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <x86intrin.h>

#include "ainftp_clock.h"
#include "ainftp_opt.h"
#include "ainftp_pvmac.h"

#define PROG "ainftp-bench-pvmac"
#define MAX_RUNS 99
#define MAX_LEN 8972
#define RUN_NS 2000000 /* per run: long enough to dwarf the clock reads */

static const size_t sizes[] = {64, 256, 1024, 2048, 8192, 8972};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static struct ainftp_pvmac_key pv_key;
static uint8_t sip_key[crypto_shorthash_siphashx24_KEYBYTES];
static uint8_t msg[MAX_LEN];
static volatile uint8_t sink; /* keeps the tags alive */

struct candidate {
	const char *name;
	int bits; /* ainftp_pvmac's max_bits; -1 for SipHash */
};

static const struct candidate candidates[] = {
	{"polyval-aes, reference (0)", 0},
	{"polyval-aes, pclmul+aes-ni (128)", 128},
	{"polyval-aes, vpclmulqdq (512)", 512},
	{"siphashx24 (libsodium)", -1},
};
#define N_CANDIDATES (sizeof(candidates) / sizeof(candidates[0]))

static void
tag_n(const struct candidate *c, size_t len, uint64_t n)
{
	uint8_t tag[AINFTP_PVMAC_TAG_LEN], acc = 0;
	uint64_t i;

	for (i = 0; i < n; i++) {
		if (c->bits < 0)
			crypto_shorthash_siphashx24(tag, msg, len, sip_key);
		else
			ainftp_pvmac(&pv_key, msg, len, tag, (unsigned int)c->bits);
		acc ^= tag[0];
	}
	sink = acc;
}

/* Messages per run: doubled until a run takes RUN_NS. */
static uint64_t
calibrate(const struct candidate *c, size_t len)
{
	uint64_t n = 1, t0;

	for (;; n *= 2) {
		t0 = ainftp_now_ns();
		tag_n(c, len, n);
		if (ainftp_now_ns() - t0 >= RUN_NS)
			return n;
	}
}

struct figure {
	double ns, cycles; /* per message */
};

static struct figure
time_run(const struct candidate *c, size_t len, uint64_t n)
{
	uint64_t t0 = ainftp_now_ns(), c0 = __rdtsc(), c1, t1;
	struct figure f;

	tag_n(c, len, n);
	c1 = __rdtsc();
	t1 = ainftp_now_ns();
	f.ns = (double)(t1 - t0) / (double)n;
	f.cycles = (double)(c1 - c0) / (double)n;
	return f;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int runs)
{
	qsort(v, (size_t)runs, sizeof(*v), cmp_double);
	return runs % 2 ? v[runs / 2] : (v[runs / 2 - 1] + v[runs / 2]) / 2;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [RUNS]\n"
		"  RUNS         runs per figure, the median taken (1..%d, default "
		"9)\n" AINFTP_OPT_STD_USAGE,
		MAX_RUNS);
}

static void
print_table(const char *what, double (*v)[N_SIZES], int cpb)
{
	size_t c, s;

	printf("\n%s\n%-36s", what, "bytes");
	for (s = 0; s < N_SIZES; s++)
		printf("%10zu", sizes[s]);
	printf("\n");
	for (c = 0; c < N_CANDIDATES; c++) {
		printf("%-36s", candidates[c].name);
		for (s = 0; s < N_SIZES; s++)
			printf(cpb ? "%10.3f" : "%10.1f",
			       cpb ? v[c][s] / (double)sizes[s] : v[c][s]);
		printf("\n");
	}
}

int
main(int argc, char **argv)
{
	static double ns[N_CANDIDATES][N_SIZES][MAX_RUNS], cyc[N_CANDIDATES][N_SIZES][MAX_RUNS];
	static uint64_t n[N_CANDIDATES][N_SIZES];
	double med_ns[N_CANDIDATES][N_SIZES], med_cyc[N_CANDIDATES][N_SIZES];
	unsigned long long u = 9;
	uint8_t h[16], k[16];
	size_t c, s;
	int r, runs;

	ainftp_opt_std(argc, argv, PROG, usage);
	if (argc > 2) {
		fprintf(stderr, PROG ": unexpected argument \"%s\" (see --help)\n", argv[2]);
		return 2;
	}
	if (argc == 2 && ainftp_opt_uint(PROG, "RUNS", argv[1], 1, MAX_RUNS, &u) < 0)
		return 2;
	runs = (int)u;
	if (sodium_init() < 0) {
		fprintf(stderr, PROG ": sodium_init failed\n");
		return 1;
	}
	randombytes_buf(h, sizeof(h));
	randombytes_buf(k, sizeof(k));
	randombytes_buf(sip_key, sizeof(sip_key));
	randombytes_buf(msg, sizeof(msg));
	ainftp_pvmac_key_init(&pv_key, h, k);

	for (c = 0; c < N_CANDIDATES; c++)
		for (s = 0; s < N_SIZES; s++)
			n[c][s] = calibrate(&candidates[c], sizes[s]);
	for (r = 0; r < runs; r++)
		for (s = 0; s < N_SIZES; s++)
			for (c = 0; c < N_CANDIDATES; c++) {
				struct figure f = time_run(&candidates[c], sizes[s], n[c][s]);

				ns[c][s][r] = f.ns;
				cyc[c][s][r] = f.cycles;
			}
	for (c = 0; c < N_CANDIDATES; c++)
		for (s = 0; s < N_SIZES; s++) {
			med_ns[c][s] = median(ns[c][s], runs);
			med_cyc[c][s] = median(cyc[c][s], runs);
		}

	printf("POLYVAL-AES-128 against SipHash-2-4-128, median of %d runs (libsodium %s); the "
	       "widest path here is %u bits, a path the CPU lacks runs the next one down\n",
	       runs, sodium_version_string(), ainftp_pvmac_path(512));
	print_table("ns per message", med_ns, 0);
	print_table("TSC cycles per byte", med_cyc, 1);
	return 0;
}
