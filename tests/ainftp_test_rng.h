/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_TEST_RNG_H
#define AINFTP_TEST_RNG_H

/*
 * The unit tests' random inputs: SplitMix64 over one state per test file,
 * which each test seeds (rng = N) so that a failure repeats.
 */
#include <stddef.h>
#include <stdint.h>

static uint64_t rng;

static inline uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static inline void
rnd_bytes(void *p, size_t len)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)rnd();
}

/* Uniform in lo..hi (a modulo's bias, negligible for test ranges). */
static inline int32_t
rnd_in(int32_t lo, int32_t hi)
{
	return lo + (int32_t)(rnd() % (uint64_t)(hi - lo + 1));
}

#endif
