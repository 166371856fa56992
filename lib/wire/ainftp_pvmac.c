/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * POLYVAL-AES-128 (ainftp_pvmac.h): the key, the portable reference and the
 * run-time choice of kernel (ainftp_pvmac_x86.c, ainftp_pvmac_avx512.c).
 *
 * The reference is written to be checked by eye against RFC 8452 and
 * FIPS-197, not to be fast: GF(2^128) one bit at a time, AES one byte at a
 * time with the S-box as a table (so not constant-time: it is a reference,
 * and the key schedule runs once per key).
 */
#include <string.h>

#include "ainftp_pvmac.h"

/* A block as a polynomial: lo holds the coefficients of x^0..x^63, hi of x^64..x^127. */
struct gf {
	uint64_t lo, hi;
};

static struct gf
gf_load(const uint8_t b[16])
{
	struct gf a = {0, 0};
	int i;

	for (i = 7; i >= 0; i--) {
		a.lo = a.lo << 8 | b[i];
		a.hi = a.hi << 8 | b[i + 8];
	}
	return a;
}

static void
gf_store(struct gf a, uint8_t b[16])
{
	int i;

	for (i = 0; i < 8; i++) {
		b[i] = (uint8_t)(a.lo >> (8 * i));
		b[i + 8] = (uint8_t)(a.hi >> (8 * i));
	}
}

/*
 * dot(a, b) = a * b * x^-128 mod P, bit-serial Montgomery: for each bit of a,
 * lowest first, add b if the bit is set, then divide by x (adding P first
 * when x^0 is set, so the division is exact; P's x^128 lands on bit 127).
 * After 128 steps the term of bit i has been divided by x 128 - i times.
 */
static struct gf
gf_dot(struct gf a, struct gf b)
{
	const uint64_t p_hi = UINT64_C(0xc2) << 56; /* x^127 + x^126 + x^121 */
	struct gf r = {0, 0};
	int i;

	for (i = 0; i < 128; i++) {
		uint64_t m = 0 - ((i < 64 ? a.lo >> i : a.hi >> (i - 64)) & 1);

		r.lo ^= b.lo & m;
		r.hi ^= b.hi & m;
		m = 0 - (r.lo & 1);
		r.lo ^= m & 1;
		r.hi ^= m & p_hi;
		r.lo = r.lo >> 1 | r.hi << 63;
		r.hi = r.hi >> 1 | (m & UINT64_C(1) << 63);
	}
	return r;
}

/* S = dot(S xor X, h) for one block. */
static struct gf
polyval_block(struct gf s, struct gf h, const uint8_t x[16])
{
	struct gf b = gf_load(x);

	s.lo ^= b.lo;
	s.hi ^= b.hi;
	return gf_dot(s, h);
}

void
ainftp_polyval_ref(const uint8_t h[16], const void *blocks, size_t nblocks, uint8_t out[16])
{
	const uint8_t *p = blocks;
	struct gf hh = gf_load(h), s = {0, 0};
	size_t i;

	for (i = 0; i < nblocks; i++)
		s = polyval_block(s, hh, p + 16 * i);
	gf_store(s, out);
}

/* S of the MAC: msg zero-padded to whole blocks, then the length block. */
static void
polyval_msg(const uint8_t h[16], const void *msg, size_t len, uint8_t out[16])
{
	const uint8_t *p = msg;
	struct gf hh = gf_load(h), s = {0, 0};
	uint8_t b[16];
	uint64_t bits = (uint64_t)len * 8;
	size_t off;
	int i;

	for (off = 0; off + 16 <= len; off += 16)
		s = polyval_block(s, hh, p + off);
	if (off < len) {
		memset(b, 0, sizeof(b));
		memcpy(b, p + off, len - off);
		s = polyval_block(s, hh, b);
	}
	memset(b, 0, sizeof(b));
	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(bits >> (8 * i));
	s = polyval_block(s, hh, b);
	gf_store(s, out);
}

static const uint8_t sbox[256] = {
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab,
	0x76, 0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4,
	0x72, 0xc0, 0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71,
	0xd8, 0x31, 0x15, 0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2,
	0xeb, 0x27, 0xb2, 0x75, 0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6,
	0xb3, 0x29, 0xe3, 0x2f, 0x84, 0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb,
	0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf, 0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45,
	0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8, 0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5,
	0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2, 0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44,
	0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73, 0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a,
	0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb, 0xe0, 0x32, 0x3a, 0x0a, 0x49,
	0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79, 0xe7, 0xc8, 0x37, 0x6d,
	0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08, 0xba, 0x78, 0x25,
	0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a, 0x70, 0x3e,
	0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e, 0xe1,
	0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb,
	0x16,
};

/* Multiplication by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1. */
static uint8_t
xtime(uint8_t a)
{
	return (uint8_t)(a << 1 ^ (a >> 7) * 0x1b);
}

/* FIPS-197 5.2: w[0..43] as 176 bytes, the layout AES-NI loads a round key from. */
static void
aes128_expand(const uint8_t k[16], uint8_t rk[176])
{
	uint8_t rcon = 1, t[4];
	int i, j;

	memcpy(rk, k, 16);
	for (i = 16; i < 176; i += 4) {
		memcpy(t, rk + i - 4, 4);
		if (i % 16 == 0) { /* RotWord, SubWord, Rcon */
			uint8_t t0 = t[0];

			t[0] = sbox[t[1]] ^ rcon;
			t[1] = sbox[t[2]];
			t[2] = sbox[t[3]];
			t[3] = sbox[t0];
			rcon = xtime(rcon);
		}
		for (j = 0; j < 4; j++)
			rk[i + j] = rk[i - 16 + j] ^ t[j];
	}
}

/* SubBytes and ShiftRows: byte 4c + r of the state is row r of column c. */
static void
sub_shift(uint8_t s[16])
{
	uint8_t t[16];
	int c, r;

	for (c = 0; c < 4; c++)
		for (r = 0; r < 4; r++)
			t[4 * c + r] = sbox[s[4 * ((c + r) % 4) + r]];
	memcpy(s, t, 16);
}

static void
mix_columns(uint8_t s[16])
{
	int c;

	for (c = 0; c < 4; c++) {
		uint8_t *a = s + 4 * c, a0 = a[0], all = a[0] ^ a[1] ^ a[2] ^ a[3];

		a[0] ^= all ^ xtime(a[0] ^ a[1]);
		a[1] ^= all ^ xtime(a[1] ^ a[2]);
		a[2] ^= all ^ xtime(a[2] ^ a[3]);
		a[3] ^= all ^ xtime(a[3] ^ a0);
	}
}

static void
add_round_key(uint8_t s[16], const uint8_t *rk)
{
	int i;

	for (i = 0; i < 16; i++)
		s[i] ^= rk[i];
}

static void
aes128_encrypt(const uint8_t rk[176], const uint8_t in[16], uint8_t out[16])
{
	uint8_t s[16];
	int round;

	memcpy(s, in, 16);
	add_round_key(s, rk);
	for (round = 1; round < 10; round++) {
		sub_shift(s);
		mix_columns(s);
		add_round_key(s, rk + 16 * round);
	}
	sub_shift(s);
	add_round_key(s, rk + 160);
	memcpy(out, s, 16);
}

void
ainftp_aes128_ref(const uint8_t k[16], const uint8_t in[16], uint8_t out[16])
{
	uint8_t rk[176];

	aes128_expand(k, rk);
	aes128_encrypt(rk, in, out);
}

void
ainftp_pvmac_ref(const uint8_t h[16], const uint8_t k[16], const void *msg, size_t len,
		 uint8_t tag[AINFTP_PVMAC_TAG_LEN])
{
	uint8_t s[16];

	polyval_msg(h, msg, len, s);
	ainftp_aes128_ref(k, s, tag);
}

void
ainftp_pvmac_key_init(struct ainftp_pvmac_key *key, const uint8_t h[16], const uint8_t k[16])
{
	struct gf hh = gf_load(h), p = hh;
	int i;

	memset(key, 0, sizeof(*key)); /* the zero blocks past h^1 too */
	memcpy(key->h, h, 16);
	aes128_expand(k, (uint8_t *)key->rk);
	for (i = AINFTP_PVMAC_POWERS - 1; i >= 0; i--) {
		gf_store(p, key->pow[i]);
		p = gf_dot(p, hh);
	}
}

/*
 * The widest kernel the CPU runs: 512, 128 or 0. Probed once and kept; lcores
 * that race on the first calls all store the same value, so a relaxed atomic
 * is enough, and a call costs one load.
 */
static unsigned int
cpu_path(void)
{
	static unsigned int cached; /* 1 + the path; 0 until probed */
	unsigned int c = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (c == 0) {
		__builtin_cpu_init();
		if (!__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("aes") ||
		    !__builtin_cpu_supports("sse4.1"))
			c = 1;
		else if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
			 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vpclmulqdq"))
			c = 1 + 512;
		else
			c = 1 + 128;
		__atomic_store_n(&cached, c, __ATOMIC_RELAXED);
	}
	return c - 1;
}

unsigned int
ainftp_pvmac_path(unsigned int max_bits)
{
	unsigned int cpu = cpu_path();

	if (max_bits >= 512 && cpu >= 512)
		return 512;
	if (max_bits >= 128 && cpu >= 128)
		return 128;
	return 0;
}

void
ainftp_pvmac(const struct ainftp_pvmac_key *key, const void *msg, size_t len,
	     uint8_t tag[AINFTP_PVMAC_TAG_LEN], unsigned int max_bits)
{
	uint8_t s[16];

	switch (ainftp_pvmac_path(max_bits)) {
	case 512:
		ainftp_pvmac_avx512(key, msg, len, tag);
		break;
	case 128:
		ainftp_pvmac_x86(key, msg, len, tag);
		break;
	default:
		polyval_msg(key->h, msg, len, s);
		aes128_encrypt((const uint8_t *)key->rk, s, tag);
	}
}
