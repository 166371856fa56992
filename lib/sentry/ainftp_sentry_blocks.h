/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SENTRY_BLOCKS_H
#define AINFTP_SENTRY_BLOCKS_H

/*
 * clip and sumsq over blocks, the same loop for every SIMD level: included by
 * ainftp_sentry_avx2.c and ainftp_sentry_avx512.c after each defines
 *
 *   double block_sumsq(const float *x)
 *       a full block's sum of squares, in ainftp_sentry_block_sumsq's order;
 *   void scale_run(const float *x, float *out, uint32_t m, float s)
 *       out[0..m) = x[0..m) * s.
 *
 * Short blocks go to the scalar reference, so every level gives its bits.
 */
#include <string.h>

#include "ainftp_sentry.h"

static uint32_t
clip(const float *x, uint32_t n, double clip_norm, float *out)
{
	uint32_t b, full = n / AINFTP_BLOCK, clipped = 0;

	for (b = 0; b < ainftp_blocks(n); b++) {
		const float *xb = x + b * AINFTP_BLOCK;
		float *ob = out + b * AINFTP_BLOCK;
		uint32_t m = ainftp_block_len(n, b);
		double ss = b < full ? block_sumsq(xb) : ainftp_sentry_block_sumsq(xb, m);
		float s = ainftp_sentry_clip_scale(ss, clip_norm);

		if (s == 0.0f) {
			if (ob != xb)
				memcpy(ob, xb, m * sizeof(*ob));
			continue;
		}
		clipped++;
		scale_run(xb, ob, m, s);
	}
	return clipped;
}

static double
sumsq(const float *x, uint32_t n)
{
	uint32_t b, full = n / AINFTP_BLOCK;
	double sum = 0.0;

	for (b = 0; b < full; b++)
		sum += block_sumsq(x + b * AINFTP_BLOCK);
	if (full < ainftp_blocks(n))
		sum += ainftp_sentry_block_sumsq(x + full * AINFTP_BLOCK, n - full * AINFTP_BLOCK);
	return sum;
}

#endif
