/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * POLYVAL-AES-128 (ainftp_pvmac.h) with VPCLMULQDQ on zmm: four blocks per
 * vector, 32 per step, each multiplied by its own power of h (h^32 for the
 * first, the running S xored into it, down to h^1), the products summed
 * unreduced across lanes and the step's vectors, the four lanes folded into
 * one and reduced once per step as in ainftp_pvmac_x86.c. Steps are a chain
 * (S, its product, the fold, the reduction, the next S): with 16 blocks a
 * step Zen 4 waited on it (8 KB at 0.133 TSC cycles a byte against 0.109
 * with 32, where the multiplications take longer than the chain).
 * Schoolbook products, four carry-less multiplications a block: Karatsuba's
 * three and a shuffle measured no faster here (0.110).
 *
 * The last step (under 256 bytes, then L) loads with byte masks: masked-off
 * bytes are neither read nor faulted on, so a message may end where an
 * unmapped page starts, and they read as the zero padding POLYVAL wants.
 * L goes into the lane after the last block; lanes past it hold zeros and
 * meet the zero blocks after h^1 in the key.
 */
#include <immintrin.h>

#include "ainftp_pvmac.h"

#define INLINE static inline __attribute__((always_inline))
#define VECS 8	/* vectors per step */
#define STEP 32 /* blocks per step */
_Static_assert(STEP <= AINFTP_PVMAC_POWERS, "a step's powers are in the key");
#define XOR3 0x96 /* vpternlog's a ^ b ^ c */

struct prod {
	__m512i lo, mid, hi; /* lo + mid * x^64 + hi * x^128, per lane */
};

INLINE void
mul_add(struct prod *a, __m512i x, __m512i h)
{
	a->lo = _mm512_xor_si512(a->lo, _mm512_clmulepi64_epi128(x, h, 0x00));
	a->hi = _mm512_xor_si512(a->hi, _mm512_clmulepi64_epi128(x, h, 0x11));
	a->mid = _mm512_ternarylogic_epi64(a->mid, _mm512_clmulepi64_epi128(x, h, 0x01),
					   _mm512_clmulepi64_epi128(x, h, 0x10), XOR3);
}

/* The xor of a vector's four lanes. */
INLINE __m128i
fold_lanes(__m512i v)
{
	__m256i y = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));

	return _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
}

/* The lanes summed, then ainftp_pvmac_x86.c's Montgomery reduction (why it works: there). */
INLINE __m128i
reduce(struct prod a)
{
	const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ull, 1);
	__m128i mid = fold_lanes(a.mid);
	__m128i lo = _mm_xor_si128(fold_lanes(a.lo), _mm_slli_si128(mid, 8));
	__m128i hi = _mm_xor_si128(fold_lanes(a.hi), _mm_srli_si128(mid, 8));

	lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x10));
	lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x10));
	return _mm_xor_si128(lo, hi);
}

INLINE struct prod
prod_zero(void)
{
	struct prod a = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};

	return a;
}

/* S after 4 * nv whole blocks at p, pw the powers of a step's last nv vectors. */
INLINE __m128i
polyval_step(const __m512i *pw, int nv, const uint8_t *p, __m128i s)
{
	struct prod a = prod_zero();
	int v;

	for (v = 1; v < nv; v++)
		mul_add(&a, _mm512_loadu_si512(p + 64 * v), pw[v]);
	/* last: only it waits for S */
	mul_add(&a, _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_zextsi128_si512(s)), pw[0]);
	return reduce(a);
}

/* The first n bytes of a vector, n >= 0. */
INLINE __mmask64
byte_mask(size_t n)
{
	return n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1;
}

/* S after the last r < 256 bytes at p, zero-padded, and L: at most 17 blocks. */
static __m128i
polyval_last(const struct ainftp_pvmac_key *key, const uint8_t *p, size_t r, size_t len, __m128i s)
{
	struct prod a = prod_zero();
	size_t d = (r + 15) / 16, m = d + 1, v;
	const uint8_t(*pw)[16] = key->pow + AINFTP_PVMAC_POWERS - m;
	__m128i l = _mm_set_epi64x(0, (long long)((uint64_t)len * 8));
	__m512i x, first = _mm512_zextsi128_si512(s);

	for (v = 0; 4 * v < m; v++) {
		size_t off = 64 * v < r ? 64 * v : 0; /* no pointer past the end */

		x = _mm512_maskz_loadu_epi8(byte_mask(64 * v < r ? r - off : 0), p + off);
		if (d / 4 == v) /* block d is wholly past the message: zeros until L */
			x = _mm512_mask_broadcast_i32x4(x, (__mmask16)(0xf << (4 * (d % 4))), l);
		mul_add(&a, _mm512_xor_si512(x, first), _mm512_loadu_si512(pw + 4 * v));
		first = _mm512_setzero_si512();
	}
	return reduce(a);
}

INLINE __m128i
aes128(const struct ainftp_pvmac_key *key, __m128i x)
{
	const __m128i *rk = (const __m128i *)key->rk;
	int i;

	x = _mm_xor_si128(x, _mm_loadu_si128(rk));
	for (i = 1; i < 10; i++)
		x = _mm_aesenc_si128(x, _mm_loadu_si128(rk + i));
	return _mm_aesenclast_si128(x, _mm_loadu_si128(rk + 10));
}

void
ainftp_pvmac_avx512(const struct ainftp_pvmac_key *key, const void *msg, size_t len,
		    uint8_t tag[AINFTP_PVMAC_TAG_LEN])
{
	const uint8_t *p = msg;
	__m128i s = _mm_setzero_si128();
	__m512i pw[VECS];
	size_t off = 0;
	int v;

	if (len >= 8 * STEP) { /* the steps' powers, not worth it for the last alone */
		for (v = 0; v < VECS; v++)
			pw[v] = _mm512_loadu_si512(key->pow[AINFTP_PVMAC_POWERS - STEP + 4 * v]);
		for (; len - off >= 16 * STEP; off += 16 * STEP)
			s = polyval_step(pw, VECS, p + off, s);
		if (len - off >=
		    8 * STEP) { /* half a step: leaves polyval_last 17 blocks at most */
			s = polyval_step(pw + VECS / 2, VECS / 2, p + off, s);
			off += 8 * STEP;
		}
	}
	s = polyval_last(key, p + off, len - off, len, s);
	_mm_storeu_si128((__m128i *)tag, aes128(key, s));
}
