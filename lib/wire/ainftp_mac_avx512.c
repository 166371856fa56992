/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX-512 (F, BW) SipHash-2-4-128: eight messages of one length per group,
 * one 64-bit lane each; the x16 kernel runs two groups interleaved.
 *
 * A block is 64 bytes of each message: eight loads, then an 8x8 transpose of
 * qwords in registers makes vector j hold word j of every lane (a gather per
 * word instead measured some 35% slower per message). The last
 * block is a masked byte load (nothing past the message is read, so a message
 * may end at the end of a page), which leaves the tail bytes of the final
 * word in place and zeros above them, as SipHash pads.
 */
#include <immintrin.h>

#include "ainftp_mac_private.h"

#define INLINE static inline __attribute__((always_inline))
/* Loops over arrays of vectors: unrolled, the arrays stay in registers. */
#define UNROLL _Pragma("GCC unroll 16")

#define GROUP 8	 /* lanes per group: qwords in a zmm */
#define BLOCK 64 /* bytes per lane and block: a zmm */
#define GROUPS_MAX 2

struct sip {
	__m512i v0, v1, v2, v3;
};

INLINE void
sip_round(struct sip *s)
{
	s->v0 = _mm512_add_epi64(s->v0, s->v1);
	s->v2 = _mm512_add_epi64(s->v2, s->v3);
	s->v1 = _mm512_xor_si512(_mm512_rol_epi64(s->v1, 13), s->v0);
	s->v3 = _mm512_xor_si512(_mm512_rol_epi64(s->v3, 16), s->v2);
	s->v0 = _mm512_rol_epi64(s->v0, 32);
	s->v2 = _mm512_add_epi64(s->v2, s->v1);
	s->v0 = _mm512_add_epi64(s->v0, s->v3);
	s->v1 = _mm512_xor_si512(_mm512_rol_epi64(s->v1, 17), s->v2);
	s->v3 = _mm512_xor_si512(_mm512_rol_epi64(s->v3, 21), s->v0);
	s->v2 = _mm512_rol_epi64(s->v2, 32);
}

/* n rounds of each of g groups, interleaved: the groups do not depend on each other. */
INLINE void
sip_rounds(struct sip *s, int g, int n)
{
	int i, r;

	UNROLL
	for (r = 0; r < n; r++) {
		UNROLL
		for (i = 0; i < g; i++)
			sip_round(&s[i]);
	}
}

/* One word into each of g groups. */
INLINE void
sip_compress(struct sip *s, const __m512i *m, int g)
{
	int i;

	UNROLL
	for (i = 0; i < g; i++)
		s[i].v3 = _mm512_xor_si512(s[i].v3, m[i]);
	sip_rounds(s, g, 2);
	UNROLL
	for (i = 0; i < g; i++)
		s[i].v0 = _mm512_xor_si512(s[i].v0, m[i]);
}

/* k0 (even qwords) and k1 (odd) of eight 16-byte keys, one lane each. */
INLINE void
sip_init(struct sip *s, const struct ainftp_mac_key *const mk[])
{
	const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
	const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
	__m512i a = _mm512_castsi128_si512(_mm_loadu_si128((const void *)mk[0]->k));
	__m512i b = _mm512_castsi128_si512(_mm_loadu_si128((const void *)mk[4]->k));
	__m512i k0, k1;

	/*
	 * The lane index of inserti32x4 is an immediate: spelt out, not a loop
	 * that only gcc's unrolling turns into constants (clang refuses it).
	 */
#define SIP_INSERT(i)                                                                      \
	do {                                                                               \
		a = _mm512_inserti32x4(a, _mm_loadu_si128((const void *)mk[i]->k), i);     \
		b = _mm512_inserti32x4(b, _mm_loadu_si128((const void *)mk[4 + i]->k), i); \
	} while (0)
	SIP_INSERT(1);
	SIP_INSERT(2);
	SIP_INSERT(3);
#undef SIP_INSERT
	k0 = _mm512_permutex2var_epi64(a, even, b);
	k1 = _mm512_permutex2var_epi64(a, odd, b);
	s->v0 = _mm512_xor_si512(k0, _mm512_set1_epi64((long long)AINFTP_SIP_V0));
	s->v1 = _mm512_xor_si512(k1, _mm512_set1_epi64((long long)AINFTP_SIP_V1));
	s->v2 = _mm512_xor_si512(k0, _mm512_set1_epi64((long long)AINFTP_SIP_V2));
	s->v3 = _mm512_xor_si512(k1, _mm512_set1_epi64((long long)AINFTP_SIP_V3));
}

/*
 * r[i] holds words 0..7 of lane i; afterwards r[j] holds word j of lanes
 * 0..7. Pairs of rows by unpack, then 128-bit quarters by shuffle_i64x2.
 */
INLINE void
transpose8(__m512i r[GROUP])
{
	__m512i t[GROUP], u[GROUP];
	int i;

	UNROLL
	for (i = 0; i < GROUP; i += 2) {
		t[i] = _mm512_unpacklo_epi64(r[i], r[i + 1]);	  /* words 0 2 4 6 */
		t[i + 1] = _mm512_unpackhi_epi64(r[i], r[i + 1]); /* words 1 3 5 7 */
	}
	UNROLL
	for (i = 0; i < GROUP; i += 4) {
		u[i] = _mm512_shuffle_i64x2(t[i], t[i + 2], 0x88);	   /* words 0 4 */
		u[i + 1] = _mm512_shuffle_i64x2(t[i], t[i + 2], 0xdd);	   /* words 2 6 */
		u[i + 2] = _mm512_shuffle_i64x2(t[i + 1], t[i + 3], 0x88); /* words 1 5 */
		u[i + 3] = _mm512_shuffle_i64x2(t[i + 1], t[i + 3], 0xdd); /* words 3 7 */
	}
	r[0] = _mm512_shuffle_i64x2(u[0], u[4], 0x88);
	r[4] = _mm512_shuffle_i64x2(u[0], u[4], 0xdd);
	r[2] = _mm512_shuffle_i64x2(u[1], u[5], 0x88);
	r[6] = _mm512_shuffle_i64x2(u[1], u[5], 0xdd);
	r[1] = _mm512_shuffle_i64x2(u[2], u[6], 0x88);
	r[5] = _mm512_shuffle_i64x2(u[2], u[6], 0xdd);
	r[3] = _mm512_shuffle_i64x2(u[3], u[7], 0x88);
	r[7] = _mm512_shuffle_i64x2(u[3], u[7], 0xdd);
}

/* Block off of each group's eight lanes as words: w[j][g] is word j of group g. */
INLINE void
load_block(__m512i w[GROUP][GROUPS_MAX], const void *const msg[], size_t off, __mmask64 k, int g)
{
	__m512i r[GROUP];
	int i, j;

	UNROLL
	for (i = 0; i < g; i++) {
		UNROLL
		for (j = 0; j < GROUP; j++)
			r[j] = _mm512_maskz_loadu_epi8(k, (const char *)msg[i * GROUP + j] + off);
		transpose8(r);
		UNROLL
		for (j = 0; j < GROUP; j++)
			w[j][i] = r[j];
	}
}

INLINE __m512i
sip_out(const struct sip *s)
{
	/* 0x96: a ^ b ^ c in one instruction. */
	return _mm512_xor_si512(_mm512_ternarylogic_epi64(s->v0, s->v1, s->v2, 0x96), s->v3);
}

/* Lane l's tag is (out0[l], out1[l]): even lanes from unpacklo, odd ones from unpackhi. */
INLINE void
store_tags(__m512i out0, __m512i out1, uint8_t *const t[])
{
	__m512i lo = _mm512_unpacklo_epi64(out0, out1);
	__m512i hi = _mm512_unpackhi_epi64(out0, out1);

	_mm_storeu_si128((void *)t[0], _mm512_castsi512_si128(lo));
	_mm_storeu_si128((void *)t[1], _mm512_castsi512_si128(hi));
	_mm_storeu_si128((void *)t[2], _mm512_extracti32x4_epi32(lo, 1));
	_mm_storeu_si128((void *)t[3], _mm512_extracti32x4_epi32(hi, 1));
	_mm_storeu_si128((void *)t[4], _mm512_extracti32x4_epi32(lo, 2));
	_mm_storeu_si128((void *)t[5], _mm512_extracti32x4_epi32(hi, 2));
	_mm_storeu_si128((void *)t[6], _mm512_extracti32x4_epi32(lo, 3));
	_mm_storeu_si128((void *)t[7], _mm512_extracti32x4_epi32(hi, 3));
}

/* The final word, the 128-bit finalisation, and each lane's tag to tag[lane]. */
INLINE void
sip_final(struct sip *s, const __m512i *b, uint8_t *const tag[], int g)
{
	__m512i out0[GROUPS_MAX];
	int i;

	sip_compress(s, b, g);
	UNROLL
	for (i = 0; i < g; i++)
		s[i].v2 = _mm512_xor_si512(s[i].v2, _mm512_set1_epi64(AINFTP_SIP_FIN0));
	sip_rounds(s, g, 4);
	UNROLL
	for (i = 0; i < g; i++) {
		out0[i] = sip_out(&s[i]);
		s[i].v1 = _mm512_xor_si512(s[i].v1, _mm512_set1_epi64(AINFTP_SIP_FIN1));
	}
	sip_rounds(s, g, 4);
	UNROLL
	for (i = 0; i < g; i++)
		store_tags(out0[i], sip_out(&s[i]), tag + i * GROUP);
}

/* g groups of eight lanes, all messages len bytes. */
INLINE void
mac_groups(const struct ainftp_mac_key *const mk[], const void *const msg[], size_t len,
	   uint8_t *const tag[], int g)
{
	const __m512i lenw = _mm512_set1_epi64((long long)((uint64_t)len << 56));
	struct sip s[GROUPS_MAX];
	/* w stays in registers; rest, indexed by a count, may not. */
	__m512i w[GROUP][GROUPS_MAX], rest[GROUP][GROUPS_MAX];
	size_t off, words;
	int i, j;

	UNROLL
	for (i = 0; i < g; i++)
		sip_init(&s[i], mk + i * GROUP);
	for (off = 0; off + BLOCK <= len; off += BLOCK) {
		load_block(w, msg, off, ~(__mmask64)0, g);
		UNROLL
		for (j = 0; j < GROUP; j++)
			sip_compress(s, w[j], g);
	}
	/* The rest: whole words, then the final word with the length in its top byte. */
	load_block(rest, msg, off, (UINT64_C(1) << (len - off)) - 1, g); /* len - off < 64 */
	words = (len - off) / 8;
	for (j = 0; (size_t)j < words; j++)
		sip_compress(s, rest[j], g);
	UNROLL
	for (i = 0; i < g; i++)
		rest[words][i] = _mm512_or_si512(rest[words][i], lenw);
	sip_final(s, rest[words], tag, g);
}

void
ainftp_mac_x8_avx512(const struct ainftp_mac_key *const mk[], const void *const msg[], size_t len,
		     uint8_t *const tag[])
{
	mac_groups(mk, msg, len, tag, 1);
}

void
ainftp_mac_x16_avx512(const struct ainftp_mac_key *const mk[], const void *const msg[], size_t len,
		      uint8_t *const tag[])
{
	mac_groups(mk, msg, len, tag, 2);
}
