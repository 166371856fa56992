/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * POLYVAL-AES-128 (ainftp_pvmac.h): the reference against RFC 8452's POLYVAL
 * vectors and FIPS-197's AES-128 one; the AES-NI paths against FIPS-197
 * through a key that makes POLYVAL a plain xor; the MAC's own known answer;
 * every path the CPU has against the reference at every length up to 600 and
 * around every step boundary up to 9100 bytes, at odd addresses under random
 * keys and with messages that end where an unreadable page starts; and a
 * changed byte or length changing the tag.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ainftp_pvmac.h"
#include "ainftp_test_rng.h"

#define NPATHS 3
static const unsigned int paths[NPATHS] = {0, 128, 512};

#define MAXLEN 9100

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t i;

	ck_assert_uint_eq(strlen(hex), 2 * n);
	for (i = 0; i < n; i++) {
		unsigned int b;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

static void
assert_hex(const uint8_t *got, const char *want_hex, const char *what)
{
	uint8_t want[16];
	char hex[33];
	int i;

	unhex(want_hex, want, 16);
	for (i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", got[i]);
	ck_assert_msg(memcmp(got, want, 16) == 0, "%s: %s, want %s", what, hex, want_hex);
}

/* The path of loop index i, or 0 (and a note) when the CPU lacks it. */
static int
have_path(int i)
{
	if (ainftp_pvmac_path(paths[i]) != paths[i]) {
		printf("test_pvmac: skipping the %u-bit path, not on this CPU\n", paths[i]);
		return 0;
	}
	return 1;
}

START_TEST(path_choice)
{
	ck_assert_uint_eq(ainftp_pvmac_path(0), 0);
	ck_assert_uint_eq(ainftp_pvmac_path(256), ainftp_pvmac_path(128));
	ck_assert_uint_le(ainftp_pvmac_path(511), 128);
	ck_assert_uint_le(sizeof(struct ainftp_pvmac_key), 1024);
	printf("test_pvmac: ainftp_pvmac_path(512) is %u\n", ainftp_pvmac_path(512));
}
END_TEST

/*
 * RFC 8452: Appendix A's worked example, and the POLYVAL of Appendix C.1's
 * second AEAD_AES_128_GCM_SIV vector (its input ends in a length block).
 */
START_TEST(polyval_rfc8452)
{
	uint8_t h[16], x[32], out[16];

	unhex("25629347589242761d31f826ba4b757b", h, 16);
	unhex("4f4f95668c83dfb6401762bb2d01a262d1a24ddd2721d006bbe45f20d3c9f362", x, 32);
	ainftp_polyval_ref(h, x, 2, out);
	assert_hex(out, "f7a3b47b846119fae5b7866cf5e5b77e", "Appendix A");
	ainftp_polyval_ref(h, x, 0, out);
	assert_hex(out, "00000000000000000000000000000000", "no blocks");

	unhex("d9b360279694941ac5dbc6987ada7377", h, 16);
	unhex("0100000000000000000000000000000000000000000000004000000000000000", x, 32);
	ainftp_polyval_ref(h, x, 2, out);
	assert_hex(out, "eb93b7740962c5e49d2a90a7dc5cec74", "Appendix C.1");
}
END_TEST

/* FIPS-197 Appendix C.1, and Appendix C.1 of RFC 8452 (its first tag is one AES-128 block). */
START_TEST(aes128_fips197)
{
	uint8_t k[16], in[16], out[16];

	unhex("000102030405060708090a0b0c0d0e0f", k, 16);
	unhex("00112233445566778899aabbccddeeff", in, 16);
	ainftp_aes128_ref(k, in, out);
	assert_hex(out, "69c4e0d86a7b0430d8cdb78070b4c55a", "FIPS-197 C.1");

	unhex("4004a0dcd862f2a57360219d2d44ef6c", k, 16);
	unhex("03000000000000000000000000000000", in, 16);
	ainftp_aes128_ref(k, in, out);
	assert_hex(out, "dc20e2d83f25705bb49e439eca56de25", "RFC 8452 C.1");
}
END_TEST

/*
 * With h = x^128 mod P (the dot domain's one: dot(a, one) = a) POLYVAL is the
 * xor of its blocks, so a message of n zero bytes whose first block is
 * FIPS-197's plaintext xor L has S = that plaintext and FIPS-197's
 * ciphertext as its tag: every path's AES against the standard, at lengths
 * that take the kernels' tails and steps.
 */
START_TEST(aes_through_unit_h)
{
	static const size_t lens[] = {16, 32, 144, 272, 4096};
	static uint8_t msg[4096];
	uint8_t h[16], k[16], pt[16], tag[16];
	struct ainftp_pvmac_key key;
	size_t i;

	if (!have_path(_i))
		return;
	unhex("010000000000000000000000000000c2", h, 16);
	unhex("000102030405060708090a0b0c0d0e0f", k, 16);
	unhex("00112233445566778899aabbccddeeff", pt, 16);
	ainftp_pvmac_key_init(&key, h, k);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint64_t bits = lens[i] * 8;
		int b;

		memset(msg, 0, sizeof(msg));
		memcpy(msg, pt, 16);
		for (b = 0; b < 8; b++)
			msg[b] ^= (uint8_t)(bits >> (8 * b));
		ainftp_pvmac(&key, msg, lens[i], tag, paths[_i]);
		assert_hex(tag, "69c4e0d86a7b0430d8cdb78070b4c55a", "unit h");
		ainftp_pvmac_ref(h, k, msg, lens[i], tag);
		assert_hex(tag, "69c4e0d86a7b0430d8cdb78070b4c55a", "unit h, reference");
	}
}
END_TEST

/*
 * The MAC's known answer (docs): h = 00..0f, k = 10..1f, the 100 bytes
 * (7 i + 3) mod 256, i = 0..99; by the reference, and every path. Checked
 * when written against a separate computation: POLYVAL in Python's integers
 * (x^-128 as an inverse mod P) and AES-128 by OpenSSL (S =
 * 83220c8c4e89085bf55a76bcfafc5372).
 */
#define KAT_TAG "782f47dccbc6e8a1ad7df1dcc708c9c4"

START_TEST(mac_known_answer)
{
	uint8_t h[16], k[16], msg[100], tag[16];
	struct ainftp_pvmac_key key;
	int i;

	for (i = 0; i < 16; i++) {
		h[i] = (uint8_t)i;
		k[i] = (uint8_t)(16 + i);
	}
	for (i = 0; i < 100; i++)
		msg[i] = (uint8_t)((7 * i + 3) % 256);
	ainftp_pvmac_ref(h, k, msg, sizeof(msg), tag);
	printf("test_pvmac: known answer ");
	for (i = 0; i < 16; i++)
		printf("%02x", tag[i]);
	printf("\n");
	assert_hex(tag, KAT_TAG, "known answer, reference");
	if (!have_path(_i))
		return;
	ainftp_pvmac_key_init(&key, h, k);
	ainftp_pvmac(&key, msg, sizeof(msg), tag, paths[_i]);
	assert_hex(tag, KAT_TAG, "known answer");
}
END_TEST

/* path's tag of msg under random keys against the reference's. */
static void
assert_path(unsigned int path, const void *msg, size_t len, const char *what)
{
	uint8_t h[16], k[16], want[16], got[16];
	struct ainftp_pvmac_key key;

	rnd_bytes(h, 16);
	rnd_bytes(k, 16);
	ainftp_pvmac_key_init(&key, h, k);
	ainftp_pvmac(&key, msg, len, got, path);
	ainftp_pvmac_ref(h, k, msg, len, want);
	ck_assert_msg(memcmp(got, want, 16) == 0, "%u-bit path, %s: %zu bytes at %p", path, what,
		      len, msg);
}

/* Lengths 0..600, then every 128-byte step boundary up to MAXLEN and around it, and MTUs. */
START_TEST(paths_every_length)
{
	static const int around[] = {-17, -16, -15, -1, 0, 1, 15, 16, 17};
	static const size_t mtus[] = {1500, 4096, 8972, 9000, MAXLEN};
	static uint8_t buf[MAXLEN + 128];
	size_t len, i;

	if (!have_path(_i))
		return;
	rnd_bytes(buf, sizeof(buf));
	for (len = 0; len <= 600; len++)
		assert_path(paths[_i], buf + 1 + rnd() % 63, len, "short");
	for (len = 640; len <= MAXLEN; len += 128)
		for (i = 0; i < sizeof(around) / sizeof(around[0]); i++)
			if (len + around[i] <= MAXLEN)
				assert_path(paths[_i], buf + 1 + rnd() % 63, len + around[i],
					    "step boundary");
	for (i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
		assert_path(paths[_i], buf, mtus[i], "aligned");
		assert_path(paths[_i], buf + 1 + rnd() % 63, mtus[i], "odd address");
	}
}
END_TEST

/* Messages that end where a PROT_NONE page starts: a read past the end faults. */
START_TEST(paths_end_of_page)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len;
	uint8_t *r;

	if (!have_path(_i))
		return;
	r = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(r != MAP_FAILED);
	ck_assert_int_eq(mprotect(r + pg, pg, PROT_NONE), 0);
	rnd_bytes(r, pg);
	for (len = 0; len <= 300; len++)
		assert_path(paths[_i], r + pg - len, len, "end of page");
	munmap(r, 2 * pg);
}
END_TEST

/* One changed byte anywhere, or one byte fewer or one zero byte more, changes the tag. */
START_TEST(changes_change_the_tag)
{
	static uint8_t msg[1001];
	uint8_t h[16], k[16], tag[16], t2[16];
	struct ainftp_pvmac_key key;
	size_t i;

	if (!have_path(_i))
		return;
	rnd_bytes(h, 16);
	rnd_bytes(k, 16);
	rnd_bytes(msg, 1000);
	msg[1000] = 0;
	ainftp_pvmac_key_init(&key, h, k);
	ainftp_pvmac(&key, msg, 1000, tag, paths[_i]);
	for (i = 0; i < 1000; i++) {
		msg[i] ^= 1;
		ainftp_pvmac(&key, msg, 1000, t2, paths[_i]);
		msg[i] ^= 1;
		ck_assert_msg(memcmp(tag, t2, 16) != 0, "byte %zu changed, same tag", i);
	}
	ainftp_pvmac(&key, msg, 999, t2, paths[_i]);
	ck_assert(memcmp(tag, t2, 16) != 0);
	ainftp_pvmac(&key, msg, 1001, t2, paths[_i]); /* a trailing zero: only L differs */
	ck_assert(memcmp(tag, t2, 16) != 0);
}
END_TEST

static Suite *
pvmac_suite(void)
{
	Suite *s = suite_create("pvmac");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, path_choice);
	tcase_add_test(tc, polyval_rfc8452);
	tcase_add_test(tc, aes128_fips197);
	tcase_add_loop_test(tc, aes_through_unit_h, 0, NPATHS);
	tcase_add_loop_test(tc, mac_known_answer, 0, NPATHS);
	tcase_add_loop_test(tc, paths_every_length, 0, NPATHS);
	tcase_add_loop_test(tc, paths_end_of_page, 0, NPATHS);
	tcase_add_loop_test(tc, changes_change_the_tag, 0, NPATHS);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pvmac_suite());
	int failed;

	rng = 1; /* the random inputs' seed: each test starts from it */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
