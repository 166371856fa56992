/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_PVMAC_H
#define AINFTP_PVMAC_H

/*
 * POLYVAL-AES-128: a nonce-free MAC, POLYVAL (RFC 8452, AES-GCM-SIV's hash)
 * of the message, encrypted with AES-128.
 *
 *   keys: h (16 bytes, the POLYVAL key), k (16 bytes, an AES-128 key)
 *   S   = POLYVAL(h, X_1, ..., X_n, L)  where X_1..X_n is msg padded with zero
 *         bytes to a multiple of 16 (n = 0 for an empty msg) and L is the
 *         length block: the length of msg in bits as a 64-bit little-endian
 *         integer in bytes 0..7, zeros in bytes 8..15
 *   tag = AES-128-Encrypt(k, S)          (16 bytes)
 *
 * POLYVAL is RFC 8452's: GF(2^128) with the polynomial
 * x^128 + x^127 + x^126 + x^121 + 1, bit i of a block (a 16-byte little-endian
 * integer) the coefficient of x^i, dot(a, b) = a * b * x^-128, S_0 = 0 and
 * S_j = dot(S_{j-1} xor X_j, h). L makes messages that differ only in trailing
 * zero bytes differ; encrypting S hides h.
 *
 * Three paths, one result bit for bit: the portable C reference, PCLMULQDQ and
 * AES-NI on xmm (8 blocks per reduction), and VPCLMULQDQ on zmm (32 blocks per
 * reduction). Plain C11, no DPDK, like the rest of lib/wire.
 */

#include <stddef.h>
#include <stdint.h>

#define AINFTP_PVMAC_TAG_LEN 16
/* Powers of h kept in the key: the most blocks one reduction takes (the zmm kernel's step). */
#define AINFTP_PVMAC_POWERS 32

struct ainftp_pvmac_key { /* read-only after ainftp_pvmac_key_init; lcores share it */
	uint8_t h[16];
	uint32_t rk[44]; /* AES-128 round keys: the 176 bytes of FIPS-197's w[0..43] in order */
	/*
	 * pow[i] = h^(POWERS - i) in the dot domain (h^1 = h, h^(j+1) = dot(h^j, h)),
	 * highest first so that a group of m blocks ending in L takes
	 * pow[POWERS - m ..], then 4 zero blocks: a kernel's last vector of a group
	 * may run past h^1 over lanes that hold no block.
	 */
	_Alignas(16) uint8_t pow[AINFTP_PVMAC_POWERS + 4][16];
};

void ainftp_pvmac_key_init(struct ainftp_pvmac_key *key, const uint8_t h[16], const uint8_t k[16]);

/*
 * The tag of msg[0..len): the fastest path this CPU runs, capped at max_bits
 * (512: VPCLMULQDQ on zmm; 256 or 128: PCLMULQDQ and AES-NI on xmm; 0: the
 * portable reference). Any len, any alignment; nothing past msg + len is read,
 * so a message may end where an unmapped page starts. Thread-safe.
 */
void ainftp_pvmac(const struct ainftp_pvmac_key *key, const void *msg, size_t len,
		  uint8_t tag[AINFTP_PVMAC_TAG_LEN], unsigned int max_bits);

/* The width of the path ainftp_pvmac takes under max_bits on this CPU: 512, 128 or 0. */
unsigned int ainftp_pvmac_path(unsigned int max_bits);

/* The portable reference, plain C: bitwise GF(2^128) arithmetic and a byte-oriented AES-128. */
void ainftp_pvmac_ref(const uint8_t h[16], const uint8_t k[16], const void *msg, size_t len,
		      uint8_t tag[AINFTP_PVMAC_TAG_LEN]);
/* RFC 8452 POLYVAL over nblocks whole 16-byte blocks. */
void ainftp_polyval_ref(const uint8_t h[16], const void *blocks, size_t nblocks, uint8_t out[16]);
void ainftp_aes128_ref(const uint8_t k[16], const uint8_t in[16], uint8_t out[16]);

/*
 * The kernels behind ainftp_pvmac, for its dispatch only: each needs its
 * instructions (ainftp_pvmac_path says which the CPU has).
 */
void ainftp_pvmac_x86(const struct ainftp_pvmac_key *key, const void *msg, size_t len,
		      uint8_t tag[AINFTP_PVMAC_TAG_LEN]);
void ainftp_pvmac_avx512(const struct ainftp_pvmac_key *key, const void *msg, size_t len,
			 uint8_t tag[AINFTP_PVMAC_TAG_LEN]);

#endif
