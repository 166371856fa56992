/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Many tags at once: messages grouped by length into the SIMD kernels
 * (ainftp_mac_avx2.c, ainftp_mac_avx512.c), the run-time choice between them,
 * and the batch check.
 */
#include <string.h>

#include <sodium.h>

#include "ainftp_mac_private.h"

/* One message per call: libsodium's own, the reference every kernel must match. */
static void
mac_scalar(const struct ainftp_mac_key *const mk[], const void *const msg[], size_t len,
	   uint8_t *const tag[])
{
	ainftp_mac(mk[0], msg[0], len, tag[0]);
}

const struct ainftp_mac_ops ainftp_mac_scalar = {
	.name = "scalar",
	.lanes = 1,
	.fn = mac_scalar,
	.fn_half = NULL,
	.min_fill = 1,
};

/*
 * Two groups of lanes interleaved in one kernel: a SipHash round is a chain of
 * dependent operations, and one group alone leaves the vector units idle part
 * of the time. At 1 KB on Zen 4, 92 ns per message for 16 AVX-512 lanes
 * against 111 for 8, 134 for 8 AVX2 lanes against 179 for 4. min_fill: two
 * lone messages cost less one by one than in an 8-lane AVX-512 call (371 ns
 * each against 434), a little more than in a 4-lane AVX2 call (371 against
 * 353).
 */
const struct ainftp_mac_ops ainftp_mac_avx2 = {
	.name = "avx2",
	.lanes = 8,
	.fn = ainftp_mac_x8_avx2,
	.fn_half = ainftp_mac_x4_avx2,
	.min_fill = 2,
};

const struct ainftp_mac_ops ainftp_mac_avx512 = {
	.name = "avx512",
	.lanes = 16,
	.fn = ainftp_mac_x16_avx512,
	.fn_half = ainftp_mac_x8_avx512,
	.min_fill = 3,
};

bool
ainftp_mac_have(const struct ainftp_mac_ops *ops)
{
	__builtin_cpu_init();
	if (ops == &ainftp_mac_avx512)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
	if (ops == &ainftp_mac_avx2)
		return __builtin_cpu_supports("avx2");
	return ops == &ainftp_mac_scalar;
}

const struct ainftp_mac_ops *
ainftp_mac_select(unsigned int max_bits)
{
	if (max_bits >= 512 && ainftp_mac_have(&ainftp_mac_avx512))
		return &ainftp_mac_avx512;
	if (max_bits >= 256 && ainftp_mac_have(&ainftp_mac_avx2))
		return &ainftp_mac_avx2;
	return &ainftp_mac_scalar;
}

/* The messages of one kernel call, by index into the caller's arrays. */
struct group {
	size_t len;
	unsigned int cnt;
	unsigned int idx[AINFTP_MAC_LANES_MAX];
};

/*
 * One call of fn (lanes wide) on g's messages. Idle lanes (cnt < lanes)
 * repeat lane 0 and write their tags to a spare: a kernel always runs all
 * its lanes.
 */
static void
run_group(ainftp_mac_fn fn, unsigned int lanes, const struct ainftp_mac_key *const mk[],
	  const void *const msg[], uint8_t (*tags)[AINFTP_TAG_LEN], const struct group *g)
{
	const struct ainftp_mac_key *k[AINFTP_MAC_LANES_MAX];
	const void *m[AINFTP_MAC_LANES_MAX];
	uint8_t *t[AINFTP_MAC_LANES_MAX];
	uint8_t spare[AINFTP_TAG_LEN];
	unsigned int i;

	for (i = 0; i < lanes; i++) {
		unsigned int j = g->idx[i < g->cnt ? i : 0];

		k[i] = mk[j];
		m[i] = msg[j];
		t[i] = i < g->cnt ? tags[j] : spare;
	}
	fn(k, m, g->len, t);
}

/* What is left of one length after the full groups (struct ainftp_mac_ops says where it goes). */
static void
run_rest(const struct ainftp_mac_ops *ops, const struct ainftp_mac_key *const mk[],
	 const void *const msg[], uint8_t (*tags)[AINFTP_TAG_LEN], const struct group *g)
{
	unsigned int i;

	if (g->cnt < ops->min_fill) {
		for (i = 0; i < g->cnt; i++)
			ainftp_mac(mk[g->idx[i]], msg[g->idx[i]], g->len, tags[g->idx[i]]);
	} else if (ops->fn_half != NULL && g->cnt <= ops->lanes / 2) {
		run_group(ops->fn_half, ops->lanes / 2, mk, msg, tags, g);
	} else {
		run_group(ops->fn, ops->lanes, mk, msg, tags, g);
	}
}

/*
 * POLYVAL-AES needs no lanes: its hash runs 4 blocks of one message per
 * VPCLMULQDQ, so messages go one by one, as wide as ops allows (PCLMULQDQ on
 * xmm below AVX-512).
 */
static unsigned int
pvmac_bits(const struct ainftp_mac_ops *ops)
{
	return ops == &ainftp_mac_avx512 ? 512 : 128;
}

/* The POLYVAL-AES messages of base..base+n-1, tagged; returns their bits. */
static uint64_t
pvmac_each(const struct ainftp_mac_ops *ops, const struct ainftp_mac_key *const mk[],
	   const void *const msg[], const size_t len[], uint8_t (*tags)[AINFTP_TAG_LEN],
	   unsigned int base, unsigned int n)
{
	unsigned int bits = pvmac_bits(ops);
	uint64_t done = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (mk[base + i]->alg != AINFTP_MAC_POLYVAL_AES)
			continue;
		ainftp_pvmac(&mk[base + i]->pv, msg[base + i], len[base + i], tags[base + i], bits);
		done |= UINT64_C(1) << i;
	}
	return done;
}

/*
 * Messages base..base+n-1 (n <= 64, one bit each in todo): the first one left
 * picks a length, every message left of that length joins it, full groups go
 * to the kernel as they fill, then the rest. One pass per distinct length.
 */
static void
mac_up_to_64(const struct ainftp_mac_ops *ops, const struct ainftp_mac_key *const mk[],
	     const void *const msg[], const size_t len[], uint8_t (*tags)[AINFTP_TAG_LEN],
	     unsigned int base, unsigned int n)
{
	uint64_t todo = n == 64 ? ~UINT64_C(0) : (UINT64_C(1) << n) - 1;

	todo &= ~pvmac_each(ops, mk, msg, len, tags, base, n);
	while (todo != 0) {
		struct group g = {.len = len[base + __builtin_ctzll(todo)], .cnt = 0};
		uint64_t left = todo;

		while (left != 0) {
			unsigned int i = base + __builtin_ctzll(left);

			left &= left - 1;
			if (len[i] != g.len)
				continue;
			todo &= ~(UINT64_C(1) << (i - base));
			g.idx[g.cnt++] = i;
			if (g.cnt == ops->lanes) {
				run_group(ops->fn, ops->lanes, mk, msg, tags, &g);
				g.cnt = 0;
			}
		}
		if (g.cnt > 0)
			run_rest(ops, mk, msg, tags, &g);
	}
}

void
ainftp_mac_many(const struct ainftp_mac_ops *ops, const struct ainftp_mac_key *const mk[],
		const void *const msg[], const size_t len[], uint8_t (*tags)[AINFTP_TAG_LEN],
		unsigned int n)
{
	unsigned int base, i;

	if (ops->lanes == 1) { /* nothing to group */
		for (i = 0; i < n; i++)
			if (mk[i]->alg == AINFTP_MAC_POLYVAL_AES)
				ainftp_pvmac(&mk[i]->pv, msg[i], len[i], tags[i], pvmac_bits(ops));
			else
				ainftp_mac(mk[i], msg[i], len[i], tags[i]);
		return;
	}
	for (base = 0; base < n; base += 64)
		mac_up_to_64(ops, mk, msg, len, tags, base, n - base < 64 ? n - base : 64);
}

/*
 * 1 when two tags are equal, else 0, in constant time: no branch on their
 * bytes, and the barrier keeps the compiler from adding one. sodium_memcmp
 * does the same a byte at a time and cost a fifth of a 1 KB AVX-512 check.
 */
static uint64_t
tag_eq(const uint8_t a[AINFTP_TAG_LEN], const uint8_t b[AINFTP_TAG_LEN])
{
	uint64_t a0, a1, b0, b1, d;

	memcpy(&a0, a, sizeof(a0));
	memcpy(&a1, a + 8, sizeof(a1));
	memcpy(&b0, b, sizeof(b0));
	memcpy(&b1, b + 8, sizeof(b1));
	d = (a0 ^ b0) | (a1 ^ b1);
	__asm__("" : "+r"(d));
	return 1 ^ ((d | (0 - d)) >> 63);
}

uint64_t
ainftp_mac_verify_many(const struct ainftp_mac_ops *ops, const struct ainftp_mac_key *const mk[],
		       const void *const msg[], const size_t len[], const uint8_t *const want[],
		       unsigned int n)
{
	uint8_t tags[AINFTP_MAC_VERIFY_MAX][AINFTP_TAG_LEN];
	uint64_t good = 0;
	unsigned int i;

	if (n > AINFTP_MAC_VERIFY_MAX)
		n = AINFTP_MAC_VERIFY_MAX;
	ainftp_mac_many(ops, mk, msg, len, tags, n);
	for (i = 0; i < n; i++)
		good |= tag_eq(tags[i], want[i]) << i;
	/* The right tag of a forged message is what its forger lacks: none stays on the stack. */
	sodium_memzero(tags, (size_t)n * AINFTP_TAG_LEN);
	return good;
}
