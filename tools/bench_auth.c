/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-bench-auth: what each candidate MAC of the wire format costs per
 * packet on this CPU. docs/PROTOCOL.md ("Authentication") keeps the table this
 * prints and the choice made from it.
 *
 * Every candidate is keyed once, the way the appliance keys its workers at
 * start, and then timed per message; a memcpy of the same bytes is the
 * baseline. Runs of all candidates are interleaved so that a slow moment of the
 * machine spreads over all of them, and the median of the runs is printed.
 *
 * --many times the appliance's multi-buffer check instead
 * (ainftp_mac_verify_many in ainftp_mac.h): the SipHash-2-4-128 tags of
 * bursts of same-length messages under mixed worker keys, checked,
 * scalar against the AVX2 and AVX-512 kernels, and what a few messages left
 * over of one length cost through a kernel with idle lanes or one by one.
 *
 * Usage: ainftp-bench-auth [--many] [RUNS]   (default 9; pin it: taskset -c 1 ...)
 */
/*
 * The low-level SHA256_* calls are deprecated in OpenSSL 3, but they are the
 * only ones whose precomputed HMAC state lcores could share read-only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "ainftp_mac.h"
#include "ainftp_opt.h"

#define TAG_LEN 16
#define MAX_LEN 8192
#define MAX_RUNS 99
#define BYTES_PER_RUN (32u << 20) /* enough work per run to dwarf the clock reads */

static const size_t sizes[] = {64, 256, 1024, 2048, 8192};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static uint8_t key[32];
static uint8_t msg[MAX_LEN];
static uint8_t copy_dst[MAX_LEN];

/* Per-key state of the candidates that have one, set up once. */
static crypto_generichash_state b2_state;
static crypto_auth_hmacsha256_state sodium_hmac_state;
static uint8_t sip_key[crypto_shorthash_siphashx24_KEYBYTES];
static SHA256_CTX sha_ipad, sha_opad;
static EVP_MAC_CTX *ossl_hmac, *ossl_cmac;

static void
mac_memcpy(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	memcpy(copy_dst, m, len);
	memcpy(tag, copy_dst, TAG_LEN);
}

static void
mac_blake2b(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	crypto_generichash(tag, TAG_LEN, m, len, key, sizeof(key));
}

/* The same, from a state keyed in advance: saves the parameter block only,
 * since BLAKE2b keeps the key block buffered until data follows. */
static void
mac_blake2b_state(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	crypto_generichash_state st = b2_state;

	crypto_generichash_update(&st, m, len);
	crypto_generichash_final(&st, tag, TAG_LEN);
}

static void
mac_sodium_hmac(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	uint8_t full[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256(full, m, len, key);
	memcpy(tag, full, TAG_LEN);
}

static void
mac_sodium_hmac_state(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	crypto_auth_hmacsha256_state st = sodium_hmac_state;
	uint8_t full[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_update(&st, m, len);
	crypto_auth_hmacsha256_final(&st, full);
	memcpy(tag, full, TAG_LEN);
}

static void
mac_siphash128(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	crypto_shorthash_siphashx24(tag, m, len, sip_key);
}

/* HMAC() with the key every call: what a context-free one-shot costs. */
static void
mac_ossl_hmac_oneshot(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	uint8_t full[SHA256_DIGEST_LENGTH];

	HMAC(EVP_sha256(), key, sizeof(key), m, len, full, NULL);
	memcpy(tag, full, TAG_LEN);
}

/* EVP_MAC keyed once; a NULL key at init restarts from the kept pads. */
static void
mac_ossl_evp(EVP_MAC_CTX *ctx, const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	size_t out;

	EVP_MAC_init(ctx, NULL, 0, NULL);
	EVP_MAC_update(ctx, m, len);
	EVP_MAC_final(ctx, full, &out, sizeof(full));
	memcpy(tag, full, TAG_LEN);
}

static void
mac_ossl_hmac_evp(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	mac_ossl_evp(ossl_hmac, m, len, tag);
}

static void
mac_ossl_cmac(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	mac_ossl_evp(ossl_cmac, m, len, tag);
}

/* HMAC by hand from the two padded-key SHA-256 states (SHA-NI underneath). */
static void
mac_ossl_hmac_sha256ctx(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN])
{
	SHA256_CTX c = sha_ipad;
	uint8_t inner[SHA256_DIGEST_LENGTH], full[SHA256_DIGEST_LENGTH];

	SHA256_Update(&c, m, len);
	SHA256_Final(inner, &c);
	c = sha_opad;
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(full, &c);
	memcpy(tag, full, TAG_LEN);
}

struct candidate {
	const char *name;
	void (*mac)(const uint8_t *m, size_t len, uint8_t tag[TAG_LEN]);
};

static const struct candidate candidates[] = {
	{"memcpy (baseline)", mac_memcpy},
	{"sodium blake2b-128 keyed", mac_blake2b},
	{"sodium blake2b-128, kept state", mac_blake2b_state},
	{"sodium hmac-sha256/128", mac_sodium_hmac},
	{"sodium hmac-sha256/128, kept state", mac_sodium_hmac_state},
	{"sodium siphash-2-4-128", mac_siphash128},
	{"openssl HMAC() one-shot", mac_ossl_hmac_oneshot},
	{"openssl hmac-sha256/128 EVP_MAC", mac_ossl_hmac_evp},
	{"openssl hmac-sha256/128 SHA256_CTX", mac_ossl_hmac_sha256ctx},
	{"openssl aes128-cmac EVP_MAC", mac_ossl_cmac},
};
#define N_CANDIDATES (sizeof(candidates) / sizeof(candidates[0]))

static EVP_MAC_CTX *
evp_mac_keyed(const char *alg, const char *param, const char *value, const uint8_t *k, size_t klen)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, alg, NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(param, (char *)value, 0),
		OSSL_PARAM_construct_end(),
	};

	EVP_MAC_free(mac); /* the context holds its own reference */
	if (ctx == NULL || !EVP_MAC_init(ctx, k, klen, params)) {
		fprintf(stderr, "bench_auth: cannot set up OpenSSL %s\n", alg);
		exit(1);
	}
	return ctx;
}

static void
sha256_pad_state(SHA256_CTX *c, uint8_t pad)
{
	uint8_t block[SHA256_CBLOCK];
	size_t i;

	memset(block, pad, sizeof(block));
	for (i = 0; i < sizeof(key); i++)
		block[i] ^= key[i];
	SHA256_Init(c);
	SHA256_Update(c, block, sizeof(block));
}

static void
setup_keys(void)
{
	uint8_t k128[16];

	randombytes_buf(key, sizeof(key));
	randombytes_buf(msg, sizeof(msg));
	crypto_generichash_init(&b2_state, key, sizeof(key), TAG_LEN);
	crypto_auth_hmacsha256_init(&sodium_hmac_state, key, sizeof(key));
	/* 128-bit keys (SipHash, AES-128) derived from the 32-byte one. */
	crypto_generichash(sip_key, sizeof(sip_key), NULL, 0, key, sizeof(key));
	crypto_generichash(k128, sizeof(k128), (const uint8_t *)"cmac", 4, key, sizeof(key));
	sha256_pad_state(&sha_ipad, 0x36);
	sha256_pad_state(&sha_opad, 0x5c);
	ossl_hmac = evp_mac_keyed("HMAC", OSSL_MAC_PARAM_DIGEST, "SHA256", key, sizeof(key));
	ossl_cmac = evp_mac_keyed("CMAC", OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", k128, sizeof(k128));
}

/* The HMAC built by hand must agree with OpenSSL's own, or its time is moot. */
static void
check_hand_hmac(void)
{
	uint8_t a[TAG_LEN], b[TAG_LEN];

	mac_ossl_hmac_sha256ctx(msg, 1000, a);
	mac_ossl_hmac_oneshot(msg, 1000, b);
	if (memcmp(a, b, TAG_LEN) != 0) {
		fprintf(stderr, "bench_auth: hand-made HMAC differs from HMAC()\n");
		exit(1);
	}
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * ns per MAC over one run. Each tag feeds the next message, so no call can be
 * dropped or overlapped with the next one, as a packet's verdict gates its use.
 */
static double
time_run(const struct candidate *c, size_t len)
{
	size_t iters = BYTES_PER_RUN / len, i;
	uint8_t tag[TAG_LEN];
	double t0;

	if (iters > 200000)
		iters = 200000; /* short messages: enough calls, and the slow ones stay short */
	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		c->mac(msg, len, tag);
		msg[0] ^= tag[0];
	}
	return (now_ns() - t0) / iters;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* --many: bursts through ainftp_mac_verify_many, as the appliance's RX path checks them. */

#define BURST 32      /* an RX burst */
#define MANY_KEYS 8   /* workers whose packets share a burst */
#define LEFT_LEN 1024 /* message length of the leftover table */

/*
 * Messages MSG_STRIDE apart: a multiple of 4 KiB would put block i of every
 * message in one L1 set, which packet buffers (mbufs of some 2.2 KiB) never do.
 */
#define MSG_STRIDE (MAX_LEN + 320)
static uint8_t burst_msg[BURST][MSG_STRIDE];
static struct ainftp_mac_key burst_keys[MANY_KEYS];
static const struct ainftp_mac_key *burst_mk[BURST];
static const void *burst_ptr[BURST];

struct many_case {
	const char *name;
	struct ainftp_mac_ops ops;
};

static unsigned int n_many;
static struct many_case many[3];

static void
many_setup(void)
{
	const struct ainftp_mac_ops *all[] = {&ainftp_mac_scalar, &ainftp_mac_avx2,
					      &ainftp_mac_avx512};
	size_t i;

	randombytes_buf(burst_msg, sizeof(burst_msg));
	randombytes_buf(burst_keys, sizeof(burst_keys));
	for (i = 0; i < BURST; i++) {
		burst_mk[i] = &burst_keys[i % MANY_KEYS];
		burst_ptr[i] = burst_msg[i];
	}
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (ainftp_mac_have(all[i]))
			many[n_many++] = (struct many_case){all[i]->name, *all[i]};
}

/* Every set must give libsodium's tags, or its time is moot. */
static void
many_check(void)
{
	uint8_t tags[BURST][TAG_LEN], want[TAG_LEN];
	size_t lens[BURST], i;
	unsigned int c;

	for (i = 0; i < BURST; i++)
		lens[i] = 1000 + i % 3; /* three lengths: full groups and leftovers */
	for (c = 0; c < n_many; c++) {
		ainftp_mac_many(&many[c].ops, burst_mk, burst_ptr, lens, tags, BURST);
		for (i = 0; i < BURST; i++) {
			crypto_shorthash_siphashx24(want, burst_msg[i], lens[i], burst_mk[i]->k);
			if (memcmp(want, tags[i], TAG_LEN) != 0) {
				fprintf(stderr, "bench_auth: %s differs from libsodium\n",
					many[c].name);
				exit(1);
			}
		}
	}
}

/*
 * ns per message over one run of ainftp_mac_verify_many, what the appliance
 * calls, on n messages of len bytes with their right tags: every run checks
 * that all n pass.
 */
static double
time_many(const struct ainftp_mac_ops *ops, size_t len, unsigned int n)
{
	size_t iters = BYTES_PER_RUN / (len * n), lens[BURST], i;
	uint8_t tags[BURST][TAG_LEN];
	const uint8_t *want[BURST];
	uint64_t all = (UINT64_C(1) << n) - 1, good = all;
	double t0, t;

	if (iters > 20000)
		iters = 20000;
	for (i = 0; i < n; i++) {
		lens[i] = len;
		crypto_shorthash_siphashx24(tags[i], burst_msg[i], len, burst_mk[i]->k);
		want[i] = tags[i];
	}
	t0 = now_ns();
	for (i = 0; i < iters; i++)
		good &= ainftp_mac_verify_many(ops, burst_mk, burst_ptr, lens, want, n);
	t = now_ns() - t0;
	if (good != all) {
		fprintf(stderr, "bench_auth: %s rejected a right tag\n", ops->name);
		exit(1);
	}
	return t / ((double)iters * n);
}

static double
median(double *v, int runs)
{
	qsort(v, runs, sizeof(double), cmp_double);
	return v[runs / 2];
}

/* Bursts of BURST messages of one length: ns per message and the ratio to scalar. */
static void
many_bursts(int runs)
{
	static double ns[3][N_SIZES][MAX_RUNS];
	double med[3][N_SIZES];
	unsigned int c;
	size_t s;
	int r;

	for (r = 0; r < runs; r++)
		for (s = 0; s < N_SIZES; s++)
			for (c = 0; c < n_many; c++)
				ns[c][s][r] = time_many(&many[c].ops, sizes[s], BURST);
	printf("ns per message checked, bursts of %d messages of one length under %d keys, median "
	       "of %d runs\n",
	       BURST, MANY_KEYS, runs);
	printf("%-36s", "bytes");
	for (s = 0; s < N_SIZES; s++)
		printf("%9zu", sizes[s]);
	printf("\n");
	for (c = 0; c < n_many; c++) {
		char name[64];

		if (many[c].ops.lanes == 1)
			snprintf(name, sizeof(name), "%s (libsodium)", many[c].name);
		else
			snprintf(name, sizeof(name), "%s (%u lanes)", many[c].name,
				 many[c].ops.lanes);
		printf("%-36s", name);
		for (s = 0; s < N_SIZES; s++)
			printf("%9.1f", med[c][s] = median(ns[c][s], runs));
		printf("\n");
	}
	for (c = 1; c < n_many; c++) {
		char name[64];

		snprintf(name, sizeof(name), "%s: times faster than scalar", many[c].name);
		printf("%-36s", name);
		for (s = 0; s < N_SIZES; s++)
			printf("%9.2f", med[0][s] / med[c][s]);
		printf("\n");
	}
}

/*
 * c < lanes messages of one length, alone: through a kernel with idle lanes
 * (min_fill 1) or one by one (min_fill past lanes), ns per message.
 */
static void
many_leftovers(int runs)
{
	static double ns[2][AINFTP_MAC_LANES_MAX][MAX_RUNS];
	unsigned int c, n, way;
	int r;

	for (c = 1; c < n_many; c++) {
		struct ainftp_mac_ops ops[2] = {many[c].ops, many[c].ops};

		ops[0].min_fill = 1;
		ops[1].min_fill = AINFTP_MAC_LANES_MAX;
		for (r = 0; r < runs; r++)
			for (n = 1; n < ops[0].lanes; n++)
				for (way = 0; way < 2; way++)
					ns[way][n][r] = time_many(&ops[way], LEFT_LEN, n);
		printf("\n%s: %d-byte messages left over of one length, ns per message checked, "
		       "median of %d runs\n",
		       many[c].name, LEFT_LEN, runs);
		printf("%-20s", "left over");
		for (n = 1; n < ops[0].lanes; n++)
			printf("%6u", n);
		printf("\n");
		for (way = 0; way < 2; way++) {
			printf("%-20s", way == 0 ? "kernel, idle lanes" : "scalar, one by one");
			for (n = 1; n < ops[0].lanes; n++)
				printf("%6.0f", median(ns[way][n], runs));
			printf("\n");
		}
		printf("%-20s%u (the set's min_fill)\n", "kernel from", many[c].ops.min_fill);
	}
}

#define PROG "ainftp-bench-auth"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--many] [RUNS]\n"
		"  RUNS         runs per figure, the median taken (1..%d, default 9)\n"
		"  --many       multi-buffer SipHash against scalar\n" AINFTP_OPT_STD_USAGE,
		MAX_RUNS);
}

static int
candidates_table(int runs)
{
	static double ns[N_CANDIDATES][N_SIZES][MAX_RUNS];
	size_t c, s;
	int r;

	setup_keys();
	check_hand_hmac();
	for (r = 0; r < runs; r++)
		for (s = 0; s < N_SIZES; s++)
			for (c = 0; c < N_CANDIDATES; c++)
				ns[c][s][r] = time_run(&candidates[c], sizes[s]);

	printf("ns per MAC, median of %d runs (libsodium %s, %s)\n", runs, sodium_version_string(),
	       OpenSSL_version(OPENSSL_VERSION));
	printf("%-36s", "bytes");
	for (s = 0; s < N_SIZES; s++)
		printf("%9zu", sizes[s]);
	printf("\n");
	for (c = 0; c < N_CANDIDATES; c++) {
		printf("%-36s", candidates[c].name);
		for (s = 0; s < N_SIZES; s++)
			printf("%9.1f", median(ns[c][s], runs));
		printf("\n");
	}
	EVP_MAC_CTX_free(ossl_hmac);
	EVP_MAC_CTX_free(ossl_cmac);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long long u = 9;
	int arg = 1, many_mode = 0;

	ainftp_opt_std(argc, argv, PROG, usage);
	if (argc > 1 && strcmp(argv[1], "--many") == 0) {
		many_mode = 1;
		arg++;
	}
	if (argc > arg + 1) {
		fprintf(stderr, PROG ": unexpected argument \"%s\" (see --help)\n", argv[arg + 1]);
		return 2;
	}
	if (argc == arg + 1 && ainftp_opt_uint(PROG, "RUNS", argv[arg], 1, MAX_RUNS, &u) < 0)
		return 2;
	if (sodium_init() < 0) {
		fprintf(stderr, PROG ": sodium_init failed\n");
		return 1;
	}
	if (!many_mode)
		return candidates_table((int)u);
	many_setup();
	many_check();
	many_bursts((int)u);
	many_leftovers((int)u);
	return 0;
}
