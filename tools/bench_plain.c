/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The plain-SIMD baselines of ainftp-bench (issue 14): what summing the same
 * bytes costs with nothing of ainftp's exactness in it, a plain widening add
 * of each contribution's integers into int32 or int64 lanes (a float add for
 * float32). Plain C loops the compiler vectorizes; built once per SIMD level
 * (tools/meson.build gives each copy its -m flags and its name), so the
 * baseline uses the same vector width as the kernel it is compared with.
 */
#include <stdint.h>
#include <string.h>

#include "bench_plain.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, CAT(_, BENCH_PLAIN_LEVEL))
#define STR2(x) #x
#define STR(x) STR2(x)

static void
FN(i16_32)(int32_t *restrict acc, const int16_t *restrict q, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		acc[i] += q[i];
}

static void
FN(i16_64)(int64_t *restrict acc, const int16_t *restrict q, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		acc[i] += q[i];
}

static void
FN(i8_32)(int32_t *restrict acc, const int8_t *restrict q, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		acc[i] += q[i];
}

static void
FN(i8_64)(int64_t *restrict acc, const int8_t *restrict q, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		acc[i] += q[i];
}

/* x as it lies in a frame (sumfwd reads float32 at offset 74, 2 mod 4): loaded by memcpy,
 * which the compiler turns into unaligned vector loads. */
static void
FN(f32)(float *restrict acc, const void *restrict x, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		float v;

		memcpy(&v, (const char *)x + (size_t)i * sizeof(v), sizeof(v));
		acc[i] += v;
	}
}

const struct bench_plain_ops CAT(bench_plain_, BENCH_PLAIN_LEVEL) = {
	.name = STR(BENCH_PLAIN_LEVEL),
	.i16_32 = FN(i16_32),
	.i16_64 = FN(i16_64),
	.i8_32 = FN(i8_32),
	.i8_64 = FN(i8_64),
	.f32 = FN(f32),
};
