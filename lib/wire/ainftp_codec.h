/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CODEC_H
#define AINFTP_CODEC_H

/*
 * One row per wire encoding, as testpmd has one struct fwd_engine per mode:
 * everything that differs by encoding, for the appliance (accumulate, what the
 * sentry sees, the result), the client and the emulated workers (quantize,
 * decode a result), and the config (names, sizes). Adding an encoding is a
 * new row in ainftp_codec.c and its value in enum ainftp_encoding; no code
 * elsewhere switches on an encoding.
 *
 * Plain C11, no DPDK: the client library links it too.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ainftp_quant.h"

/* The encodings by their wire value (the header's encoding byte, and the result
 * sink's arena, whose GPU consumers read it: never renumber). */
enum ainftp_encoding {
	AINFTP_ENC_FLOAT32 = 0,
	AINFTP_ENC_INT16 = 1,
	AINFTP_ENC_INT8 = 2,
};

/*
 * The SIMD kernels a codec calls, chosen once by whoever holds the buffers (an
 * RX lcore, a client): the quantization ops, and the two float kernels the
 * sentry selects with the same bits as their scalar references (ainftp_sentry.h).
 * sumsq may be NULL where norm is never asked for (client, emulator).
 */
struct ainftp_kernels {
	const struct ainftp_quant_ops *q;
	ainftp_dequant_i16_fn dequant_i16;
	ainftp_sumsq_fn sumsq;
};

struct ainftp_codec {
	const char *name; /* in cluster.json, the client's options and the docs */
	enum ainftp_encoding enc;
	uint32_t elems_multiple; /* a packet's elements: a multiple of this (int8's block) */
	/* Its quantization (docs/QUANTIZATION.md): bits of a value, and elements per exponent
	 * (0: one per packet; float32 is turned into 31-bit integers per block on arrival). */
	int qbits;
	uint32_t exp_block;
	/* Payload bytes of n elements. */
	size_t (*payload_len)(uint32_t n);
	/*
	 * Worker side: n floats x into the payload at out, *exp its scale exponent
	 * (0 where the encoding has none in the header). -1: x holds NaN or Inf.
	 */
	int (*quantize)(const struct ainftp_kernels *k, const float *x, uint32_t n, void *out,
			int8_t *exp);
	/*
	 * Add a received payload p (as it lies in the frame: only 2-byte aligned)
	 * of exponent exp into a. scratch: a.n floats, 64-byte aligned. -1: a
	 * float32 payload with NaN or Inf (a is then unchanged).
	 */
	int (*accumulate)(const struct ainftp_kernels *k, struct ainftp_acc *a, const void *p,
			  int8_t exp, float *scratch);
	/* The first n values of p as floats in out (aligned). -1: not all finite. */
	int (*to_f32)(const struct ainftp_kernels *k, const void *p, uint32_t n, int8_t exp,
		      float *out);
	/* Its L2 norm, for the sentry (k->sumsq needed for float32); -1: not finite. */
	double (*norm)(const struct ainftp_kernels *k, const void *p, uint32_t n, int8_t exp,
		       float *scratch);
	/*
	 * A sum as a result payload in this encoding at out; returns the result's
	 * scale exponent. NULL: the encoding is not a result encoding.
	 */
	int8_t (*result_encode)(const struct ainftp_kernels *k, const struct ainftp_acc *a,
				void *out);
};

/* Every codec, in the order users are shown them (cluster.json's errors, docs), NULL-ended. */
extern const struct ainftp_codec *const ainftp_codec_list[];

/* The codec of a wire value; NULL for a value no row has. */
const struct ainftp_codec *ainftp_codec_get(unsigned int enc);

/* The codec of a name ("int16"); NULL for a name no row has. */
const struct ainftp_codec *ainftp_codec_by_name(const char *name);

/* A wire value's name; "unknown" for one no row has. */
const char *ainftp_encoding_name(unsigned int enc);

/* The portable kernels: the scalar references, or the quant ops given (no sumsq). */
void ainftp_kernels_init(struct ainftp_kernels *k, const struct ainftp_quant_ops *q);

/* L2 norms of int16 and int8 payloads, exact sums of squares in integers first. */
double ainftp_norm_i16(const int16_t *q, uint32_t n, int8_t e);
double ainftp_norm_i8(const int8_t *e, const int8_t *q, uint32_t n);

#endif
