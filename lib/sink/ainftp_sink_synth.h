/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SINK_SYNTH_H
#define AINFTP_SINK_SYNTH_H

/*
 * Synthetic results: what ainftp-sink-write (tools/sink_write.c) puts into an
 * arena for the result of seq = (step << 32 | chunk), a function of seq alone,
 * so that every reader (ainftp-sink-follow on the host, ainftp-gpu-consumer
 * --synthetic on a GPU) checks each result it takes without a copy of what was
 * written. Plain C; compiled by nvcc as __host__ __device__ too.
 *
 * The payload is one of AINFTP_SYNTH_PATTERNS precomputed patterns (the writer
 * copies, it does not compute, so its rate is the arena's, not the hash's),
 * chosen by seq, with the chunk and the step in elements 0 and 1 (low 15
 * bits): a stale or torn payload does not pass for the right one. The mark's
 * fields vary with seq too: one worker in four results is left out (count and
 * bitmap move), and int16 results have exponents -6..-11.
 */

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define AINFTP_SYNTH_HD __host__ __device__ __forceinline__
#else
#define AINFTP_SYNTH_HD static inline
#endif

#define AINFTP_SYNTH_PATTERNS 256

/* splitmix64's finaliser: every bit of x moves about half the bits of the result. */
AINFTP_SYNTH_HD uint64_t
ainftp_synth_mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

AINFTP_SYNTH_HD uint32_t
ainftp_synth_pattern(uint64_t seq)
{
	return (uint32_t)(ainftp_synth_mix(seq ^ UINT64_C(0x5eed)) % AINFTP_SYNTH_PATTERNS);
}

/* Element i of pattern p: an int16 q, or a float32 that is an exact multiple of 2^-12. */
AINFTP_SYNTH_HD int16_t
ainftp_synth_pattern_q(uint32_t p, uint32_t i)
{
	return (int16_t)(uint16_t)(ainftp_synth_mix((uint64_t)p << 32 | i) >> 17);
}

AINFTP_SYNTH_HD float
ainftp_synth_pattern_f(uint32_t p, uint32_t i)
{
	int32_t v = (int32_t)(ainftp_synth_mix((uint64_t)p << 32 | i) >> 40) - (1 << 23);

	return (float)v * (1.0f / 4096.0f); /* |v| < 2^24: exact */
}

/* Element i of seq's payload (encoding 1: int16, else float32), as its bytes would hold. */
AINFTP_SYNTH_HD int16_t
ainftp_synth_q(uint64_t seq, uint32_t i)
{
	if (i == 0)
		return (int16_t)(seq & 0x7fff);
	if (i == 1)
		return (int16_t)((seq >> 32) & 0x7fff);
	return ainftp_synth_pattern_q(ainftp_synth_pattern(seq), i);
}

AINFTP_SYNTH_HD float
ainftp_synth_f(uint64_t seq, uint32_t i)
{
	if (i == 0)
		return (float)(seq & 0x7fff);
	if (i == 1)
		return (float)((seq >> 32) & 0x7fff);
	return ainftp_synth_pattern_f(ainftp_synth_pattern(seq), i);
}

/* seq's mark fields, for a job of `workers` workers (1..64). */
AINFTP_SYNTH_HD void
ainftp_synth_mark(uint64_t seq, uint32_t workers, uint64_t *bitmap, uint16_t *count, int8_t *exp)
{
	uint64_t h = ainftp_synth_mix(seq ^ UINT64_C(0xb17a9));
	uint64_t all = workers >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << workers) - 1;
	uint64_t b = all;
	uint16_t n = 0;

	if ((h & 3) == 0 && workers > 1)
		b &= ~(UINT64_C(1) << ((h >> 8) % workers)); /* a straggler left out */
	*bitmap = b;
	for (; b != 0; b &= b - 1)
		n++;
	*count = n;
	*exp = (int8_t)(-6 - (int)((h >> 16) % 6));
}

/* Pattern p's payload of elems elements (the writer's table, built once per pattern). */
static inline void
ainftp_synth_pattern_fill(uint32_t p, uint32_t encoding, uint32_t elems, void *buf)
{
	uint32_t i;

	for (i = 0; i < elems; i++) {
		if (encoding == 1) {
			int16_t q = ainftp_synth_pattern_q(p, i);

			memcpy((char *)buf + 2 * (size_t)i, &q, sizeof(q));
		} else {
			float f = ainftp_synth_pattern_f(p, i);

			memcpy((char *)buf + 4 * (size_t)i, &f, sizeof(f));
		}
	}
}

/* seq's payload from its pattern (as filled above): elements 0 and 1 set to seq's. */
static inline void
ainftp_synth_payload_from(uint64_t seq, uint32_t encoding, const void *pattern, uint32_t len,
			  void *buf)
{
	memcpy(buf, pattern, len);
	if (encoding == 1) {
		int16_t q[2] = {ainftp_synth_q(seq, 0), ainftp_synth_q(seq, 1)};

		memcpy(buf, q, len < sizeof(q) ? len : sizeof(q));
	} else {
		float f[2] = {ainftp_synth_f(seq, 0), ainftp_synth_f(seq, 1)};

		memcpy(buf, f, len < sizeof(f) ? len : sizeof(f));
	}
}

/*
 * Whether payload (len bytes) is seq's, given seq's pattern as filled above: a compare,
 * not a hash per element, so a host reader checks at the rate it reads. 0: it is.
 */
static inline int
ainftp_synth_check_from(uint64_t seq, uint32_t encoding, const void *pattern, uint32_t len,
			const void *payload)
{
	uint32_t head = encoding == 1 ? 4 : 8; /* elements 0 and 1 */

	if (len < head)
		return -1;
	if (encoding == 1) {
		int16_t q[2] = {ainftp_synth_q(seq, 0), ainftp_synth_q(seq, 1)};

		if (memcmp(payload, q, sizeof(q)) != 0)
			return 1;
	} else {
		float f[2] = {ainftp_synth_f(seq, 0), ainftp_synth_f(seq, 1)};

		if (memcmp(payload, f, sizeof(f)) != 0)
			return 1;
	}
	return memcmp((const char *)payload + head, (const char *)pattern + head, len - head) != 0;
}

/* Elements of payload that differ from seq's (0: the payload is seq's, byte for byte). */
static inline uint32_t
ainftp_synth_check(uint64_t seq, uint32_t encoding, uint32_t elems, const void *payload)
{
	uint32_t i, bad = 0;

	for (i = 0; i < elems; i++) {
		if (encoding == 1) {
			int16_t q, want = ainftp_synth_q(seq, i);

			memcpy(&q, (const char *)payload + 2 * (size_t)i, sizeof(q));
			bad += q != want;
		} else {
			float f, want = ainftp_synth_f(seq, i);

			bad += memcmp((const char *)payload + 4 * (size_t)i, &want, sizeof(f)) != 0;
		}
	}
	return bad;
}

#endif
