/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_MAC_PRIVATE_H
#define AINFTP_MAC_PRIVATE_H

/* For the kernels (ainftp_mac*.c) only: what every version of SipHash-2-4-128 shares. */

#include "ainftp_mac.h"

/*
 * SipHash's initial state ("somepseudorandomlygeneratedbytes"); v1 has the
 * 128-bit output's 0xee in it, as libsodium's siphashx24 does.
 */
#define AINFTP_SIP_V0 UINT64_C(0x736f6d6570736575)
#define AINFTP_SIP_V1 (UINT64_C(0x646f72616e646f6d) ^ 0xee)
#define AINFTP_SIP_V2 UINT64_C(0x6c7967656e657261)
#define AINFTP_SIP_V3 UINT64_C(0x7465646279746573)
/* Finalisation: v2 ^= 0xee before the first half of the output, v1 ^= 0xdd before the second. */
#define AINFTP_SIP_FIN0 0xee
#define AINFTP_SIP_FIN1 0xdd

void ainftp_mac_x4_avx2(const struct ainftp_mac_key *const mk[], const void *const msg[],
			size_t len, uint8_t *const tag[]);
void ainftp_mac_x8_avx2(const struct ainftp_mac_key *const mk[], const void *const msg[],
			size_t len, uint8_t *const tag[]);
void ainftp_mac_x8_avx512(const struct ainftp_mac_key *const mk[], const void *const msg[],
			  size_t len, uint8_t *const tag[]);
void ainftp_mac_x16_avx512(const struct ainftp_mac_key *const mk[], const void *const msg[],
			   size_t len, uint8_t *const tag[]);

#endif
