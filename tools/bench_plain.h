/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef BENCH_PLAIN_H
#define BENCH_PLAIN_H

/* ainftp-bench's plain-SIMD baselines (bench_plain.c): acc[i] += x[i], widened. */

#include <stdint.h>

struct bench_plain_ops {
	const char *name; /* "scalar", "avx2", "avx512": the quant ops' names */
	void (*i16_32)(int32_t *acc, const int16_t *q, uint32_t n);
	void (*i16_64)(int64_t *acc, const int16_t *q, uint32_t n);
	void (*i8_32)(int32_t *acc, const int8_t *q, uint32_t n);
	void (*i8_64)(int64_t *acc, const int8_t *q, uint32_t n);
	void (*f32)(float *acc, const void *x, uint32_t n); /* x: any alignment */
};

extern const struct bench_plain_ops bench_plain_scalar;
extern const struct bench_plain_ops bench_plain_avx2;
extern const struct bench_plain_ops bench_plain_avx512;

#endif
