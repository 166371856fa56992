/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * POLYVAL-AES-128 (ainftp_pvmac.h) with PCLMULQDQ and AES-NI on xmm.
 *
 * POLYVAL's little-endian blocks load into xmm as they are: no byte swap.
 * Eight blocks per step, each multiplied by its own power of h (h^8 for the
 * first, the running S xored into it, down to h^1): the 256-bit products
 * are summed unreduced and reduced once, as in Gueron's AES-GCM-SIV code.
 * The last step takes what is left: whole blocks, the partial one (nothing
 * past the message is read), and L.
 * Without AVX-512 this is the path; on the zmm kernel's CPUs it is the
 * fallback that max_bits 128 or 256 asks for.
 */
#include <string.h>

#include <immintrin.h>

#include "ainftp_pvmac.h"

#define INLINE static inline __attribute__((always_inline))
#define STEP 8 /* blocks per reduction */
#define UNROLL _Pragma("GCC unroll 8")

/* A sum of unreduced products: lo + (mid + lo + hi) * x^64 + hi * x^128 (Karatsuba). */
struct prod {
	__m128i lo, mid, hi;
};

INLINE __m128i
load(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

/* The qwords xored, in both: (lo ^ hi, lo ^ hi). */
INLINE __m128i
kara(__m128i v)
{
	return _mm_xor_si128(v, _mm_shuffle_epi32(v, 0x4e));
}

/*
 * Karatsuba: x.lo h.lo, x.hi h.hi and (x.lo ^ x.hi)(h.lo ^ h.hi), from which
 * the cross terms follow once per step. Three carry-less multiplications a
 * block instead of four: they are what a step waits for (an xmm one issues
 * about every 2 cycles on Zen 4), and 8 KB took a fifth less time than with
 * four. hk = kara(h).
 */
INLINE void
mul_add(struct prod *a, __m128i x, __m128i h, __m128i hk)
{
	a->lo = _mm_xor_si128(a->lo, _mm_clmulepi64_si128(x, h, 0x00));
	a->hi = _mm_xor_si128(a->hi, _mm_clmulepi64_si128(x, h, 0x11));
	a->mid = _mm_xor_si128(a->mid, _mm_clmulepi64_si128(kara(x), hk, 0x00));
}

/*
 * (lo + hi * x^128) * x^-128 mod P, 64 bits at a time: adding l0 * P to
 * l0 + l1 * x^64 clears l0, and dividing by x^64 leaves
 * l1 + l0 * x^64 + l0 * (x^63 + x^62 + x^57), i.e. the halves swapped plus
 * l0 times 0xc2 << 56. Twice, then hi. Linear, so one reduction serves a sum.
 */
INLINE __m128i
reduce(struct prod a)
{
	const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ull, 1);
	__m128i mid = _mm_xor_si128(a.mid, _mm_xor_si128(a.lo, a.hi));
	__m128i lo = _mm_xor_si128(a.lo, _mm_slli_si128(mid, 8));
	__m128i hi = _mm_xor_si128(a.hi, _mm_srli_si128(mid, 8));

	lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x10));
	lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x10));
	return _mm_xor_si128(lo, hi);
}

/* S after STEP whole blocks at p. */
INLINE __m128i
polyval_step(const __m128i pw[STEP], const __m128i pk[STEP], const uint8_t *p, __m128i s)
{
	struct prod a = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
	int j;

	UNROLL
	for (j = 1; j < STEP; j++)
		mul_add(&a, load(p + 16 * j), pw[j], pk[j]);
	mul_add(&a, _mm_xor_si128(load(p), s), pw[0], pk[0]); /* last: only it waits for S */
	return reduce(a);
}

/*
 * The block of the message's last n bytes (0 < n < 16) at end - n,
 * zero-padded. When the message has 16 bytes or more, one load ending at its
 * end, and a pshufb moving the n bytes down to 0 and zeroing the rest (index
 * bytes with the top bit set give zeros): a copy into a zeroed block cost
 * some 40 cycles more, its narrow stores failing to forward to the load.
 */
static __m128i
load_partial(const uint8_t *end, size_t n, size_t len)
{
	const __m128i iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	__m128i idx = _mm_add_epi8(iota, _mm_set1_epi8((char)(16 - n)));
	uint8_t b[16] = {0};

	if (len >= 16) {
		idx = _mm_or_si128(idx, _mm_cmpgt_epi8(idx, _mm_set1_epi8(15)));
		return _mm_shuffle_epi8(load(end - 16), idx);
	}
	memcpy(b, end - n, n);
	return load(b);
}

/* S after the last r < 16 * STEP bytes at p, zero-padded, and L: at most STEP + 1 blocks. */
static __m128i
polyval_last(const struct ainftp_pvmac_key *key, const uint8_t *p, size_t r, size_t len, __m128i s)
{
	struct prod a = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
	size_t d = (r + 15) / 16, j;
	const uint8_t(*pw)[16] = key->pow + AINFTP_PVMAC_POWERS - (d + 1);
	__m128i x, h;

	for (j = 0; j < d; j++) {
		x = 16 * j + 16 <= r ? load(p + 16 * j) : load_partial(p + r, r - 16 * j, len);
		h = load(pw[j]);
		mul_add(&a, _mm_xor_si128(x, s), h, kara(h)); /* S goes into the first block */
		s = _mm_setzero_si128();
	}
	x = _mm_set_epi64x(0, (long long)((uint64_t)len * 8));
	h = load(pw[d]);
	mul_add(&a, _mm_xor_si128(x, s), h, kara(h));
	return reduce(a);
}

INLINE __m128i
aes128(const struct ainftp_pvmac_key *key, __m128i x)
{
	int i;

	x = _mm_xor_si128(x, load(key->rk));
	for (i = 1; i < 10; i++)
		x = _mm_aesenc_si128(x, load(key->rk + 4 * i));
	return _mm_aesenclast_si128(x, load(key->rk + 40));
}

void
ainftp_pvmac_x86(const struct ainftp_pvmac_key *key, const void *msg, size_t len,
		 uint8_t tag[AINFTP_PVMAC_TAG_LEN])
{
	const uint8_t *p = msg;
	__m128i s = _mm_setzero_si128(), pw[STEP], pk[STEP];
	size_t off = 0;
	int j;

	if (len >= 16 * STEP) { /* the steps' powers, not worth it for the last alone */
		for (j = 0; j < STEP; j++) {
			pw[j] = load(key->pow[AINFTP_PVMAC_POWERS - STEP + j]);
			pk[j] = kara(pw[j]);
		}
		for (; len - off >= 16 * STEP; off += 16 * STEP)
			s = polyval_step(pw, pk, p + off, s);
	}
	s = polyval_last(key, p + off, len - off, len, s);
	_mm_storeu_si128((__m128i *)tag, aes128(key, s));
}
