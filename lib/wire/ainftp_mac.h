/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_MAC_H
#define AINFTP_MAC_H

/*
 * The tags of many messages at once: SipHash-2-4-128 (ainftp_mac in
 * ainftp_proto.h, libsodium's crypto_shorthash_siphashx24) computed in SIMD
 * lanes, several messages per instruction, the way intel-ipsec-mb runs its
 * multi-buffer MACs. The same MAC, the same bits: the wire does not change.
 *
 * The lanes of a kernel run in lockstep, so they take messages of one length;
 * ainftp_mac_many groups a burst by length (an appliance's burst is nearly
 * always one length) and sends what is left over to a kernel with idle lanes
 * or to the scalar code, whichever is cheaper (docs/PROTOCOL.md,
 * "Authentication"). ainftp_mac_select() picks the kernels at run time. Keys
 * of a job that tags with POLYVAL-AES-128 (ainftp_pvmac.h) need no lanes:
 * their messages go one by one to its kernel, as wide as the ops set allows.
 *
 * Plain C11 and libsodium, no DPDK, like the rest of lib/wire.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ainftp_proto.h"

#define AINFTP_MAC_LANES_MAX 16	 /* the most messages one kernel call takes */
#define AINFTP_MAC_VERIFY_MAX 64 /* the most ainftp_mac_verify_many checks: bits of its mask */

/*
 * A kernel: tag[i] = SipHash-2-4-128(mk[i], msg[i][0..len)) for each of its
 * lanes, all of one length len.
 */
typedef void (*ainftp_mac_fn)(const struct ainftp_mac_key *const mk[], const void *const msg[],
			      size_t len, uint8_t *const tag[]);

/*
 * A set of kernels. A burst's messages of one length go to fn in full groups
 * of lanes; c left over (c < lanes) go to the scalar code one by one when c <
 * min_fill, else to fn_half with idle lanes when c <= lanes / 2, else to fn
 * with idle lanes (the choice measured by ainftp-bench-auth --many).
 */
struct ainftp_mac_ops {
	const char *name;   /* "scalar", "avx2", "avx512" */
	unsigned int lanes; /* messages per call of fn */
	ainftp_mac_fn fn;
	ainftp_mac_fn fn_half; /* lanes / 2 messages per call; NULL when lanes is 1 */
	unsigned int min_fill; /* fewest left over worth a kernel call */
};

extern const struct ainftp_mac_ops ainftp_mac_scalar;
extern const struct ainftp_mac_ops ainftp_mac_avx2; /* check ainftp_mac_have() first */
extern const struct ainftp_mac_ops ainftp_mac_avx512;

/* Whether the CPU runs a set of kernels ("scalar" always does). */
bool ainftp_mac_have(const struct ainftp_mac_ops *ops);

/* The widest set the CPU has, capped at max_bits (512, 256, or 0 for scalar). */
const struct ainftp_mac_ops *ainftp_mac_select(unsigned int max_bits);

/*
 * tags[i] = the MAC of msg[i][0..len[i]) under mk[i] (its alg) for i < n: any
 * n, any lengths, any alignment, keys and MACs in any mix.
 */
void ainftp_mac_many(const struct ainftp_mac_ops *ops, const struct ainftp_mac_key *const mk[],
		     const void *const msg[], const size_t len[], uint8_t (*tags)[AINFTP_TAG_LEN],
		     unsigned int n);

/*
 * Checks want[i] against the tag of msg[i] for i < n, each in constant time
 * (all 16 bytes, no branch on them), and returns the good ones as a mask: bit i set when
 * message i's tag is right. n <= AINFTP_MAC_VERIFY_MAX; messages past it are
 * not checked and have no bit, so they read as bad.
 */
uint64_t ainftp_mac_verify_many(const struct ainftp_mac_ops *ops,
				const struct ainftp_mac_key *const mk[], const void *const msg[],
				const size_t len[], const uint8_t *const want[], unsigned int n);

#endif
