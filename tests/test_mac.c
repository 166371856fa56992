/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The multi-buffer MAC (ainftp_mac.h): every kernel the CPU has gives
 * libsodium's crypto_shorthash_siphashx24 bits, at every length, under mixed
 * keys, at odd addresses and with messages that end where an unreadable page
 * starts; ainftp_mac_many groups any mix of lengths; ainftp_mac_verify_many
 * clears exactly the bits of the bad messages; and the SipHash-2-4-128
 * vectors of the reference implementation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "ainftp_mac.h"
#include "ainftp_test_rng.h"

#define NOPS 3
static const struct ainftp_mac_ops *const all_ops[NOPS] = {
	&ainftp_mac_scalar,
	&ainftp_mac_avx2,
	&ainftp_mac_avx512,
};

#define MAXLEN 9100
#define NMSG (AINFTP_MAC_LANES_MAX * 2 + 3) /* the most messages in one call here */
#define NKEYS 5				    /* distinct keys among a call's messages */

/* Random SipHash keys (the kernels' MAC): random bytes, then the MAC named. */
static void
sip_keys(struct ainftp_mac_key *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		rnd_bytes(k[i].k, sizeof(k[i].k));
		k[i].alg = AINFTP_MAC_SIPHASH;
	}
}

/* The ops set of loop index i, or NULL (and a note) when the CPU lacks it. */
static const struct ainftp_mac_ops *
ops_of(int i)
{
	if (!ainftp_mac_have(all_ops[i])) {
		printf("test_mac: skipping %s, not on this CPU\n", all_ops[i]->name);
		return NULL;
	}
	return all_ops[i];
}

/*
 * One region per message slot, followed by a page that cannot be read: a
 * kernel that reads one byte past a message ending there faults.
 */
static unsigned char *region[NMSG];
static size_t region_size;

static unsigned char *
region_of(unsigned int slot)
{
	if (region[slot] == NULL) {
		size_t pg = (size_t)sysconf(_SC_PAGESIZE);

		region_size = (MAXLEN + 64 + pg - 1) / pg * pg;
		region[slot] = mmap(NULL, region_size + pg, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert(region[slot] != MAP_FAILED);
		ck_assert_int_eq(mprotect(region[slot] + region_size, pg, PROT_NONE), 0);
	}
	return region[slot];
}

/*
 * len random bytes in slot's region: every other call flush against the
 * unreadable page, else at an odd address.
 */
static const void *
place_msg(unsigned int slot, size_t len)
{
	unsigned char *r = region_of(slot);
	unsigned char *p = rnd() & 1 ? r + region_size - len : r + 1 + 2 * (rnd() % 32);

	rnd_bytes(p, len);
	return p;
}

static void
ref_tag(const struct ainftp_mac_key *mk, const void *msg, size_t len, uint8_t tag[AINFTP_TAG_LEN])
{
	crypto_shorthash_siphashx24(tag, msg, len, mk->k);
}

static void
assert_tag(const struct ainftp_mac_key *mk, const void *msg, size_t len,
	   const uint8_t tag[AINFTP_TAG_LEN], const char *what, unsigned int i)
{
	uint8_t want[AINFTP_TAG_LEN];

	ref_tag(mk, msg, len, want);
	ck_assert_msg(memcmp(want, tag, AINFTP_TAG_LEN) == 0, "%s: message %u of %zu bytes", what,
		      i, len);
}

START_TEST(select_and_names)
{
	const struct ainftp_mac_ops *s = ainftp_mac_select(0);
	int i;

	ck_assert_ptr_eq(s, &ainftp_mac_scalar);
	ck_assert(ainftp_mac_have(&ainftp_mac_scalar));
	ck_assert_str_eq(ainftp_mac_select(256)->name,
			 ainftp_mac_have(&ainftp_mac_avx2) ? "avx2" : "scalar");
	for (i = 0; i < NOPS; i++) {
		const struct ainftp_mac_ops *o = all_ops[i];

		ck_assert_uint_ge(o->lanes, 1);
		ck_assert_uint_le(o->lanes, AINFTP_MAC_LANES_MAX);
		ck_assert_uint_ge(o->min_fill, 1);
		ck_assert(o->fn != NULL);
		ck_assert((o->fn_half == NULL) == (o->lanes == 1));
	}
	printf("test_mac: ainftp_mac_select(512) is %s\n", ainftp_mac_select(512)->name);
}
END_TEST

/* Lengths 0..300, then a spread up to MAXLEN around the block sizes and past them. */
static size_t
length_at(unsigned int i)
{
	static const size_t spread[] = {
		319,  320,  383,  384,	511,  512,  513,  1023, 1024, 1025, 1031, 1472,	  1500,
		2047, 2048, 2049, 4095, 4096, 4097, 8191, 8192, 8193, 9000, 9099, MAXLEN,
	};

	if (i <= 300)
		return i;
	i -= 301;
	if (i < sizeof(spread) / sizeof(spread[0]))
		return spread[i];
	i -= sizeof(spread) / sizeof(spread[0]);
	return i < 100 ? 301 + rnd() % (MAXLEN - 300) : SIZE_MAX;
}

/* One call of a kernel of `lanes` lanes, each with its own key and message, against libsodium. */
static void
check_kernel(ainftp_mac_fn fn, unsigned int lanes, size_t len, const char *what)
{
	struct ainftp_mac_key keys[AINFTP_MAC_LANES_MAX];
	const struct ainftp_mac_key *mk[AINFTP_MAC_LANES_MAX] = {NULL};
	const void *msg[AINFTP_MAC_LANES_MAX] = {NULL};
	uint8_t tags[AINFTP_MAC_LANES_MAX][AINFTP_TAG_LEN];
	uint8_t *tag[AINFTP_MAC_LANES_MAX] = {NULL};
	unsigned int i;

	sip_keys(keys, AINFTP_MAC_LANES_MAX);
	for (i = 0; i < lanes; i++) {
		mk[i] = &keys[i];
		msg[i] = place_msg(i, len);
		tag[i] = tags[i];
	}
	fn(mk, msg, len, tag);
	for (i = 0; i < lanes; i++)
		assert_tag(mk[i], msg[i], len, tags[i], what, i);
}

START_TEST(kernels_every_length)
{
	const struct ainftp_mac_ops *ops = ops_of(_i);
	unsigned int i;
	size_t len;

	if (ops == NULL)
		return;
	rng = 1000 + (uint64_t)_i;
	for (i = 0; (len = length_at(i)) != SIZE_MAX; i++) {
		check_kernel(ops->fn, ops->lanes, len, ops->name);
		if (ops->fn_half != NULL)
			check_kernel(ops->fn_half, ops->lanes / 2, len, ops->name);
	}
}
END_TEST

/*
 * n messages: lengths drawn from `spread` distinct ones (so groups, full and
 * not, form), keys from NKEYS, then ainftp_mac_many under ops; the tags past n
 * must stay untouched.
 */
static void
check_many(const struct ainftp_mac_ops *ops, unsigned int n, unsigned int spread)
{
	struct ainftp_mac_key keys[NKEYS];
	const struct ainftp_mac_key *mk[NMSG];
	const void *msg[NMSG];
	size_t len[NMSG], pick[4];
	uint8_t tags[NMSG + 1][AINFTP_TAG_LEN];
	unsigned int i;

	sip_keys(keys, NKEYS);
	for (i = 0; i < spread; i++)
		pick[i] = rnd() % 4 == 0 ? rnd() % MAXLEN : rnd() % 1100;
	for (i = 0; i < n; i++) {
		len[i] = pick[rnd() % spread];
		mk[i] = &keys[rnd() % NKEYS];
		msg[i] = place_msg(i, len[i]);
	}
	memset(tags, 0xa5, sizeof(tags));
	ainftp_mac_many(ops, mk, msg, len, tags, n);
	for (i = 0; i < n; i++)
		assert_tag(mk[i], msg[i], len[i], tags[i], ops->name, i);
	for (i = n; i <= NMSG; i++) {
		uint8_t canary[AINFTP_TAG_LEN];

		memset(canary, 0xa5, sizeof(canary));
		ck_assert_msg(memcmp(tags[i], canary, AINFTP_TAG_LEN) == 0, "%s wrote tag %u of %u",
			      ops->name, i, n);
	}
}

START_TEST(many_mixed)
{
	const struct ainftp_mac_ops *ops = ops_of(_i);
	struct ainftp_mac_ops how[3];
	unsigned int n, h, trial;

	if (ops == NULL)
		return;
	rng = 2000 + (uint64_t)_i;
	/* As chosen; every leftover through a kernel; every leftover one by one. */
	how[0] = how[1] = how[2] = *ops;
	how[1].min_fill = 1;
	how[2].min_fill = AINFTP_MAC_LANES_MAX + 1;
	for (h = 0; h < 3; h++)
		for (n = 1; n <= NMSG; n++)
			for (trial = 0; trial < 6; trial++)
				check_many(&how[h], n, 1 + trial % 4);
}
END_TEST

/* A burst under several keys, its tags, and one message, one tag and one key made wrong. */
START_TEST(verify_many_flags_exactly_the_bad)
{
	const struct ainftp_mac_ops *ops = ops_of(_i);
	static const size_t lens[] = {0, 7, 64, 1000, 1001};
	struct ainftp_mac_key keys[NKEYS], other;
	const struct ainftp_mac_key *mk[NMSG];
	const void *msg[NMSG];
	size_t len[NMSG];
	uint8_t tags[NMSG][AINFTP_TAG_LEN];
	const uint8_t *want[NMSG];
	uint64_t all = (UINT64_C(1) << NMSG) - 1;
	unsigned int i, trial, bad_msg, bad_tag, bad_key;

	if (ops == NULL)
		return;
	rng = 3000 + (uint64_t)_i;
	for (trial = 0; trial < 200; trial++) {
		sip_keys(keys, NKEYS);
		for (i = 0; i < NMSG; i++) {
			len[i] = lens[rnd() % 5];
			mk[i] = &keys[rnd() % NKEYS];
			msg[i] = place_msg(i, len[i]);
			ref_tag(mk[i], msg[i], len[i], tags[i]);
			want[i] = tags[i];
		}
		ck_assert_uint_eq(ainftp_mac_verify_many(ops, mk, msg, len, want, NMSG), all);
		/* Three distinct messages; the first has a byte to flip. */
		do
			bad_msg = rnd() % NMSG;
		while (len[bad_msg] == 0);
		do
			bad_tag = rnd() % NMSG;
		while (bad_tag == bad_msg);
		do
			bad_key = rnd() % NMSG;
		while (bad_key == bad_msg || bad_key == bad_tag);
		((uint8_t *)msg[bad_msg])[rnd() % len[bad_msg]] ^= (uint8_t)(1u << (rnd() % 8));
		tags[bad_tag][rnd() % AINFTP_TAG_LEN] ^= (uint8_t)(1u << (rnd() % 8));
		other = *mk[bad_key];
		other.k[rnd() % sizeof(other.k)] ^= (uint8_t)(1u << (rnd() % 8));
		mk[bad_key] = &other;
		ck_assert_uint_eq(ainftp_mac_verify_many(ops, mk, msg, len, want, NMSG),
				  all & ~(UINT64_C(1) << bad_msg) & ~(UINT64_C(1) << bad_tag) &
					  ~(UINT64_C(1) << bad_key));
	}
	ck_assert_uint_eq(ainftp_mac_verify_many(ops, mk, msg, len, want, 0), 0);
}
END_TEST

/* 64 messages fill the mask; past 64 nothing is checked and the mask stays 64 bits. */
/*
 * Keys of both MACs in one call (a box with a SipHash job and a POLYVAL-AES
 * one): each message gets its own key's MAC, POLYVAL-AES's as the portable
 * reference computes it from the derived keys, and a wrong tag of either is
 * flagged.
 */
START_TEST(many_mixes_both_macs)
{
	const struct ainftp_mac_ops *ops = ops_of(_i);
	static const size_t lens[] = {0, 1, 48, 1024, 9000};
	struct ainftp_mac_key keys[NKEYS];
	const struct ainftp_mac_key *mk[NMSG];
	const void *msg[NMSG];
	size_t len[NMSG];
	uint8_t tags[NMSG][AINFTP_TAG_LEN], want[AINFTP_TAG_LEN], wk[AINFTP_KEY_BYTES];
	const uint8_t *wantp[NMSG];
	unsigned int i;

	if (ops == NULL)
		return;
	rng = 5000 + (uint64_t)_i;
	for (i = 0; i < NKEYS; i++) {
		rnd_bytes(wk, sizeof(wk));
		ck_assert_int_eq(ainftp_mac_key_init(&keys[i], wk), 0);
		keys[i].alg = i % 2 ? AINFTP_MAC_POLYVAL_AES : AINFTP_MAC_SIPHASH;
	}
	for (i = 0; i < NMSG; i++) {
		len[i] = lens[rnd() % 5];
		mk[i] = &keys[rnd() % NKEYS];
		msg[i] = place_msg(i, len[i]);
	}
	ainftp_mac_many(ops, mk, msg, len, tags, NMSG);
	for (i = 0; i < NMSG; i++) {
		if (mk[i]->alg == AINFTP_MAC_POLYVAL_AES)
			/* rk[0..3] are the AES key itself (FIPS-197's w[0..3]). */
			ainftp_pvmac_ref(mk[i]->pv.h, (const uint8_t *)mk[i]->pv.rk, msg[i], len[i],
					 want);
		else
			ref_tag(mk[i], msg[i], len[i], want);
		ck_assert_msg(memcmp(tags[i], want, AINFTP_TAG_LEN) == 0,
			      "%s: message %u (%s, %zu bytes): wrong tag", ops->name, i,
			      mk[i]->alg ? "polyval-aes" : "siphash", len[i]);
		wantp[i] = tags[i];
	}
	tags[3][0] ^= 1;
	tags[4][15] ^= 0x80;
	ck_assert_uint_eq(ainftp_mac_verify_many(ops, mk, msg, len, wantp, NMSG),
			  ((UINT64_C(1) << NMSG) - 1) & ~(UINT64_C(3) << 3));
}
END_TEST

START_TEST(verify_many_64)
{
	const struct ainftp_mac_ops *ops = ops_of(_i);
	enum { N = AINFTP_MAC_VERIFY_MAX + 6 };
	static uint8_t buf[N][100];
	struct ainftp_mac_key key;
	const struct ainftp_mac_key *mk[N];
	const void *msg[N];
	size_t len[N];
	uint8_t tags[N][AINFTP_TAG_LEN];
	const uint8_t *want[N];
	unsigned int i;

	if (ops == NULL)
		return;
	rng = 4000 + (uint64_t)_i;
	sip_keys(&key, 1);
	rnd_bytes(buf, sizeof(buf));
	for (i = 0; i < N; i++) {
		mk[i] = &key;
		msg[i] = buf[i];
		len[i] = 90 + i % 3;
		ref_tag(mk[i], msg[i], len[i], tags[i]);
		want[i] = tags[i];
	}
	ck_assert_uint_eq(ainftp_mac_verify_many(ops, mk, msg, len, want, 64), ~UINT64_C(0));
	ck_assert_uint_eq(ainftp_mac_verify_many(ops, mk, msg, len, want, N), ~UINT64_C(0));
	tags[63][0] ^= 1;
	ck_assert_uint_eq(ainftp_mac_verify_many(ops, mk, msg, len, want, N), ~UINT64_C(0) >> 1);
}
END_TEST

/*
 * SipHash-2-4 with 128-bit output, key 00 01 .. 0f, message 00 01 .. (len-1):
 * vectors_sip128[len] of the reference implementation's vectors.h, lengths
 * 0..15 (every tail, one whole word) and 63 (seven words and a tail).
 */
static const struct {
	size_t len;
	const char *tag; /* hex */
} paper[] = {
	{0, "a3817f04ba25a8e66df67214c7550293"},  {1, "da87c1d86b99af44347659119b22fc45"},
	{2, "8177228da4a45dc7fca38bdef60affe4"},  {3, "9c70b60c5267a94e5f33b6b02985ed51"},
	{4, "f88164c12d9c8faf7d0f6e7c7bcd5579"},  {5, "1368875980776f8854527a07690e9627"},
	{6, "14eeca338b208613485ea0308fd7a15e"},  {7, "a1f1ebbed8dbc153c0b84aa61ff08239"},
	{8, "3b62a9ba6258f5610f83e264f31497b4"},  {9, "264499060ad9baabc47f8b02bb6d71ed"},
	{10, "00110dc378146956c95447d3f3d0fbba"}, {11, "0151c568386b6677a2b4dc6f81e5dc18"},
	{12, "d626b266905ef35882634df68532c125"}, {13, "9869e247e9c08b10d029934fc4b952f7"},
	{14, "31fcefac66d7de9c7ec7485fe4494902"}, {15, "5493e99933b0a8117e08ec0f97cfc3d9"},
	{63, "5150d1772f50834a503e069a973fbd7c"},
};
#define NPAPER (sizeof(paper) / sizeof(paper[0]))
_Static_assert(NPAPER <= NMSG && AINFTP_MAC_LANES_MAX <= NMSG, "paper's arrays");

/* Every lane of one kernel call on the same vector message. */
static void
check_vector_kernel(ainftp_mac_fn fn, unsigned int lanes, const struct ainftp_mac_key *const mk[],
		    const void *p, size_t len, const uint8_t want[AINFTP_TAG_LEN], const char *what)
{
	const void *same[AINFTP_MAC_LANES_MAX] = {NULL};
	uint8_t tags[AINFTP_MAC_LANES_MAX][AINFTP_TAG_LEN], *tag[AINFTP_MAC_LANES_MAX] = {NULL};
	unsigned int i;

	for (i = 0; i < lanes; i++) {
		same[i] = p;
		tag[i] = tags[i];
	}
	fn(mk, same, len, tag);
	for (i = 0; i < lanes; i++)
		ck_assert_msg(memcmp(tags[i], want, AINFTP_TAG_LEN) == 0,
			      "%s lane %u of %u, %zu bytes", what, i, lanes, len);
}

START_TEST(siphash128_paper_vectors)
{
	const struct ainftp_mac_ops *ops = ops_of(_i);
	struct ainftp_mac_key key;
	const struct ainftp_mac_key *mk[NMSG]; /* both NPAPER and AINFTP_MAC_LANES_MAX */
	const void *msg[NPAPER];
	size_t len[NPAPER];
	uint8_t want[NPAPER][AINFTP_TAG_LEN], tags[NPAPER][AINFTP_TAG_LEN];
	const uint8_t *wantp[NPAPER];
	unsigned int i, v;

	if (ops == NULL)
		return;
	key.alg = AINFTP_MAC_SIPHASH;
	for (i = 0; i < sizeof(key.k); i++)
		key.k[i] = (uint8_t)i;
	for (i = 0; i < NMSG; i++)
		mk[i] = &key;
	for (v = 0; v < NPAPER; v++) {
		/* Each vector's message at its own odd address. */
		uint8_t *p = region_of(v) + 1 + 2 * v;

		ck_assert_int_eq(sodium_hex2bin(want[v], AINFTP_TAG_LEN, paper[v].tag,
						strlen(paper[v].tag), NULL, NULL, NULL),
				 0);
		for (i = 0; i < paper[v].len; i++)
			p[i] = (uint8_t)i;
		msg[v] = p;
		len[v] = paper[v].len;
		wantp[v] = want[v];
		ainftp_mac(&key, p, len[v], tags[v]);
		ck_assert_msg(memcmp(tags[v], want[v], AINFTP_TAG_LEN) == 0,
			      "ainftp_mac, %zu bytes", len[v]);
		check_vector_kernel(ops->fn, ops->lanes, mk, p, len[v], want[v], ops->name);
		if (ops->fn_half != NULL)
			check_vector_kernel(ops->fn_half, ops->lanes / 2, mk, p, len[v], want[v],
					    ops->name);
	}
	/* All of them in one call, each its own length; and checked. */
	memset(tags, 0, sizeof(tags));
	ainftp_mac_many(ops, mk, msg, len, tags, NPAPER);
	for (v = 0; v < NPAPER; v++)
		ck_assert_msg(memcmp(tags[v], want[v], AINFTP_TAG_LEN) == 0, "%s many, %zu bytes",
			      ops->name, len[v]);
	ck_assert_uint_eq(ainftp_mac_verify_many(ops, mk, msg, len, wantp, NPAPER),
			  (UINT64_C(1) << NPAPER) - 1);
}
END_TEST

static Suite *
mac_suite(void)
{
	Suite *s = suite_create("mac");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, select_and_names);
	tcase_add_loop_test(tc, siphash128_paper_vectors, 0, NOPS);
	tcase_add_loop_test(tc, kernels_every_length, 0, NOPS);
	tcase_add_loop_test(tc, many_mixed, 0, NOPS);
	tcase_add_loop_test(tc, verify_many_flags_exactly_the_bad, 0, NOPS);
	tcase_add_loop_test(tc, verify_many_64, 0, NOPS);
	tcase_add_loop_test(tc, many_mixes_both_macs, 0, NOPS);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mac_suite());
	int failed;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
