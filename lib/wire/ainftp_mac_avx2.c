/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX2 SipHash-2-4-128: four messages of one length per group, one 64-bit
 * lane each; the x8 kernel runs two groups interleaved.
 *
 * AVX2 has no 64-bit rotate: by 32 it is a dword shuffle, by 16 a byte
 * shuffle, the others two shifts and an or. A block is 32 bytes of each
 * message, transposed 4x4 in registers. The last block is copied into a
 * zeroed buffer first (AVX2 masks whole dwords, not bytes), which also pads
 * the final word as SipHash does.
 */
#include <immintrin.h>
#include <string.h>

#include "ainftp_mac_private.h"

#define INLINE static inline __attribute__((always_inline))
/* Loops over arrays of vectors: unrolled, the arrays stay in registers. */
#define UNROLL _Pragma("GCC unroll 16")

#define GROUP 4	 /* lanes per group: qwords in a ymm */
#define BLOCK 32 /* bytes per lane and block: a ymm */
#define GROUPS_MAX 2

struct sip {
	__m256i v0, v1, v2, v3;
};

#define ROTL(x, r) _mm256_or_si256(_mm256_slli_epi64((x), (r)), _mm256_srli_epi64((x), 64 - (r)))
#define ROT32(x) _mm256_shuffle_epi32((x), 0xb1)

INLINE __m256i
rot16(__m256i x)
{
	/* Byte i of each qword from byte i - 2. */
	const __m256i idx = _mm256_setr_epi8(6, 7, 0, 1, 2, 3, 4, 5, 14, 15, 8, 9, 10, 11, 12, 13,
					     6, 7, 0, 1, 2, 3, 4, 5, 14, 15, 8, 9, 10, 11, 12, 13);

	return _mm256_shuffle_epi8(x, idx);
}

INLINE void
sip_round(struct sip *s)
{
	s->v0 = _mm256_add_epi64(s->v0, s->v1);
	s->v2 = _mm256_add_epi64(s->v2, s->v3);
	s->v1 = _mm256_xor_si256(ROTL(s->v1, 13), s->v0);
	s->v3 = _mm256_xor_si256(rot16(s->v3), s->v2);
	s->v0 = ROT32(s->v0);
	s->v2 = _mm256_add_epi64(s->v2, s->v1);
	s->v0 = _mm256_add_epi64(s->v0, s->v3);
	s->v1 = _mm256_xor_si256(ROTL(s->v1, 17), s->v2);
	s->v3 = _mm256_xor_si256(ROTL(s->v3, 21), s->v0);
	s->v2 = ROT32(s->v2);
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
sip_compress(struct sip *s, const __m256i *m, int g)
{
	int i;

	UNROLL
	for (i = 0; i < g; i++)
		s[i].v3 = _mm256_xor_si256(s[i].v3, m[i]);
	sip_rounds(s, g, 2);
	UNROLL
	for (i = 0; i < g; i++)
		s[i].v0 = _mm256_xor_si256(s[i].v0, m[i]);
}

/* k0 and k1 of four 16-byte keys, one lane each. */
INLINE void
sip_init(struct sip *s, const struct ainftp_mac_key *const mk[])
{
	__m256i a = _mm256_inserti128_si256(
		_mm256_castsi128_si256(_mm_loadu_si128((const void *)mk[0]->k)),
		_mm_loadu_si128((const void *)mk[2]->k), 1);
	__m256i b = _mm256_inserti128_si256(
		_mm256_castsi128_si256(_mm_loadu_si128((const void *)mk[1]->k)),
		_mm_loadu_si128((const void *)mk[3]->k), 1);
	/* Lanes 0 1 | 2 3 of k0 from the low qwords, of k1 from the high ones. */
	__m256i k0 = _mm256_unpacklo_epi64(a, b), k1 = _mm256_unpackhi_epi64(a, b);

	s->v0 = _mm256_xor_si256(k0, _mm256_set1_epi64x((long long)AINFTP_SIP_V0));
	s->v1 = _mm256_xor_si256(k1, _mm256_set1_epi64x((long long)AINFTP_SIP_V1));
	s->v2 = _mm256_xor_si256(k0, _mm256_set1_epi64x((long long)AINFTP_SIP_V2));
	s->v3 = _mm256_xor_si256(k1, _mm256_set1_epi64x((long long)AINFTP_SIP_V3));
}

/* r[i] holds words 0..3 of lane i; afterwards r[j] holds word j of lanes 0..3. */
INLINE void
transpose4(__m256i r[GROUP])
{
	__m256i t0 = _mm256_unpacklo_epi64(r[0], r[1]); /* words 0 2 of lanes 0 1 */
	__m256i t1 = _mm256_unpackhi_epi64(r[0], r[1]); /* words 1 3 */
	__m256i t2 = _mm256_unpacklo_epi64(r[2], r[3]);
	__m256i t3 = _mm256_unpackhi_epi64(r[2], r[3]);

	r[0] = _mm256_permute2x128_si256(t0, t2, 0x20);
	r[1] = _mm256_permute2x128_si256(t1, t3, 0x20);
	r[2] = _mm256_permute2x128_si256(t0, t2, 0x31);
	r[3] = _mm256_permute2x128_si256(t1, t3, 0x31);
}

/* Lane l's bytes from p[l] + off as words: w[j][g] is word j of group g. */
INLINE void
load_block(__m256i w[GROUP][GROUPS_MAX], const void *const p[], size_t off, int g)
{
	__m256i r[GROUP];
	int i, j;

	UNROLL
	for (i = 0; i < g; i++) {
		UNROLL
		for (j = 0; j < GROUP; j++)
			r[j] = _mm256_loadu_si256(
				(const void *)((const char *)p[i * GROUP + j] + off));
		transpose4(r);
		UNROLL
		for (j = 0; j < GROUP; j++)
			w[j][i] = r[j];
	}
}

INLINE __m256i
sip_out(const struct sip *s)
{
	return _mm256_xor_si256(_mm256_xor_si256(s->v0, s->v1), _mm256_xor_si256(s->v2, s->v3));
}

/* Lane l's tag is (out0[l], out1[l]): even lanes from unpacklo, odd ones from unpackhi. */
INLINE void
store_tags(__m256i out0, __m256i out1, uint8_t *const t[])
{
	__m256i lo = _mm256_unpacklo_epi64(out0, out1);
	__m256i hi = _mm256_unpackhi_epi64(out0, out1);

	_mm_storeu_si128((void *)t[0], _mm256_castsi256_si128(lo));
	_mm_storeu_si128((void *)t[1], _mm256_castsi256_si128(hi));
	_mm_storeu_si128((void *)t[2], _mm256_extracti128_si256(lo, 1));
	_mm_storeu_si128((void *)t[3], _mm256_extracti128_si256(hi, 1));
}

/* The final word, the 128-bit finalisation, and each lane's tag to tag[lane]. */
INLINE void
sip_final(struct sip *s, const __m256i *b, uint8_t *const tag[], int g)
{
	__m256i out0[GROUPS_MAX];
	int i;

	sip_compress(s, b, g);
	UNROLL
	for (i = 0; i < g; i++)
		s[i].v2 = _mm256_xor_si256(s[i].v2, _mm256_set1_epi64x(AINFTP_SIP_FIN0));
	sip_rounds(s, g, 4);
	UNROLL
	for (i = 0; i < g; i++) {
		out0[i] = sip_out(&s[i]);
		s[i].v1 = _mm256_xor_si256(s[i].v1, _mm256_set1_epi64x(AINFTP_SIP_FIN1));
	}
	sip_rounds(s, g, 4);
	UNROLL
	for (i = 0; i < g; i++)
		store_tags(out0[i], sip_out(&s[i]), tag + i * GROUP);
}

/* g groups of four lanes, all messages len bytes. */
INLINE void
mac_groups(const struct ainftp_mac_key *const mk[], const void *const msg[], size_t len,
	   uint8_t *const tag[], int g)
{
	const __m256i lenw = _mm256_set1_epi64x((long long)((uint64_t)len << 56));
	uint8_t last[GROUP * GROUPS_MAX][BLOCK];
	const void *lastp[GROUP * GROUPS_MAX];
	struct sip s[GROUPS_MAX];
	/* w stays in registers; rest, indexed by a count, may not. */
	__m256i w[GROUP][GROUPS_MAX], rest[GROUP][GROUPS_MAX];
	size_t off, words;
	int i, j;

	UNROLL
	for (i = 0; i < g; i++)
		sip_init(&s[i], mk + i * GROUP);
	for (off = 0; off + BLOCK <= len; off += BLOCK) {
		load_block(w, msg, off, g);
		UNROLL
		for (j = 0; j < GROUP; j++)
			sip_compress(s, w[j], g);
	}
	/* The rest: whole words, then the final word with the length in its top byte. */
	for (i = 0; i < g * GROUP; i++) {
		memset(last[i], 0, BLOCK);
		memcpy(last[i], (const char *)msg[i] + off, len - off);
		lastp[i] = last[i];
	}
	load_block(rest, lastp, 0, g);
	words = (len - off) / 8;
	for (j = 0; (size_t)j < words; j++)
		sip_compress(s, rest[j], g);
	UNROLL
	for (i = 0; i < g; i++)
		rest[words][i] = _mm256_or_si256(rest[words][i], lenw);
	sip_final(s, rest[words], tag, g);
}

void
ainftp_mac_x4_avx2(const struct ainftp_mac_key *const mk[], const void *const msg[], size_t len,
		   uint8_t *const tag[])
{
	mac_groups(mk, msg, len, tag, 1);
}

void
ainftp_mac_x8_avx2(const struct ainftp_mac_key *const mk[], const void *const msg[], size_t len,
		   uint8_t *const tag[])
{
	mac_groups(mk, msg, len, tag, 2);
}
