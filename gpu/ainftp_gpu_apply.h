/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_GPU_APPLY_H
#define AINFTP_GPU_APPLY_H

/*
 * The GPU consumer's per-element arithmetic, shared by the CUDA kernel
 * (gpu/ainftp_consumer.cu, compiled by nvcc as __host__ __device__) and the
 * host reference (gpu/ainftp_gpu_ref.c, compiled as C11 and unit-tested by
 * tests/test_gpu_ref.c): the GPU path's math is the tested one.
 *
 * A result of a chunk (lib/sink/ainftp_sink.h) is the sum of `count` workers'
 * gradients, as float32 or as int16 q with value q * 2^exp. Applied to the
 * parameters of that chunk, params[chunk * elems + i]:
 *
 *   g = value / count                        (the mean gradient)
 *   sgd:      p = p - lr * g
 *   momentum: v = mu * v + g;  p = p - lr * v
 *
 * Every operation is one IEEE-754 single-precision operation, rounded to
 * nearest, in this order: both sides must be compiled without contraction
 * into FMA (nvcc -fmad=false, cc -ffp-contract=off) and without fast math,
 * so that the GPU's parameters equal the host reference bit for bit.
 */

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define AINFTP_HD __host__ __device__ __forceinline__
#else
#define AINFTP_HD static inline
#endif

enum ainftp_gpu_rule {
	AINFTP_GPU_SGD = 0,
	AINFTP_GPU_MOMENTUM = 1,
};

/* 2^e as a float, exact for -126 <= e <= 127 (an int8 exponent beyond: clamped, 0 or inf). */
AINFTP_HD float
ainftp_gpu_pow2(int e)
{
	uint32_t bits;
	float f;

	if (e < -126)
		return 0.0f; /* q * 2^e with |q| < 2^15: below the subnormals' useful range */
	if (e > 127)
		bits = 0x7f800000u;
	else
		bits = (uint32_t)(e + 127) << 23;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* Element i of a payload as a float: a float32 as is, an int16 times scale (= 2^exp, exact). */
AINFTP_HD float
ainftp_gpu_value(const void *payload, uint32_t encoding, uint32_t i, float scale)
{
	if (encoding == 1 /* AINFTP_SINK_ENC_INT16 */) {
		int16_t q;

		memcpy(&q, (const char *)payload + 2 * (size_t)i, sizeof(q));
		return (float)q * scale;
	}
	{
		float f;

		memcpy(&f, (const char *)payload + 4 * (size_t)i, sizeof(f));
		return f;
	}
}

/* One element's update; v is only read and written under momentum. */
AINFTP_HD void
ainftp_gpu_update(float *p, float *v, float value, float count_f, uint32_t rule, float lr, float mu)
{
	float g = value / count_f; /* count_f: the count as a float */

	if (rule == AINFTP_GPU_MOMENTUM) {
		float t = mu * *v;

		*v = t + g;
		g = *v;
	}
	{
		float d = lr * g;

		*p = *p - d;
	}
}

/*
 * Apply one result to its chunk's parameters, elements first, first + step, ...
 * (a GPU block's threads share the work with first = threadIdx.x, step =
 * blockDim.x; the host reference does all with 0, 1). params and vel point at
 * the chunk's first element. count 0 (no contributor) applies nothing.
 */
AINFTP_HD void
ainftp_gpu_apply(float *params, float *vel, const void *payload, uint32_t encoding, uint32_t elems,
		 int exp, uint32_t count, uint32_t rule, float lr, float mu, uint32_t first,
		 uint32_t step)
{
	float scale = ainftp_gpu_pow2(exp), c = (float)count;
	uint32_t i;

	if (count == 0)
		return;
	for (i = first; i < elems; i += step)
		ainftp_gpu_update(&params[i], &vel[i],
				  ainftp_gpu_value(payload, encoding, i, scale), c, rule, lr, mu);
}

/* The parameters' deterministic start: element i in [-0.5, 0.5), a multiple of 2^-24. */
AINFTP_HD float
ainftp_gpu_param_init(uint64_t i)
{
	uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(i >> 32);

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return (float)(h >> 8) * (1.0f / 16777216.0f) - 0.5f;
}

#endif
