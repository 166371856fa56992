/* SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "ainftp_codec.h"

#define CODEC_DIM(a) (sizeof(a) / sizeof((a)[0]))

/* float32 values all finite (no NaN, no infinity), without branching per element. */
static bool
all_finite(const float *x, uint32_t n)
{
	uint32_t i, bad = 0;

	for (i = 0; i < n; i++) {
		uint32_t b;

		memcpy(&b, &x[i], sizeof(b));
		bad |= (b & AINFTP_F32_ABS_INF) == AINFTP_F32_ABS_INF;
	}
	return bad == 0;
}

double
ainftp_norm_i16(const int16_t *q, uint32_t n, int8_t e)
{
	uint64_t sum = 0; /* n < 2^33 values below 2^30 each */
	uint32_t i;

	for (i = 0; i < n; i++)
		sum += (uint64_t)((int32_t)q[i] * q[i]);
	return ldexp(sqrt((double)sum), e);
}

double
ainftp_norm_i8(const int8_t *e, const int8_t *q, uint32_t n)
{
	double sum = 0.0;
	uint32_t b, j;

	for (b = 0; b < ainftp_blocks(n); b++) {
		const int8_t *qb = q + b * AINFTP_BLOCK;
		uint32_t bs = 0; /* 32 values below 2^14 */

		for (j = 0; j < ainftp_block_len(n, b); j++)
			bs += (uint32_t)(qb[j] * qb[j]);
		sum += ldexp((double)bs, 2 * e[b]);
	}
	return sqrt(sum);
}

/* ------------------------------------------------------------ int16: one exponent per packet */

static size_t
i16_len(uint32_t n)
{
	return 2 * (size_t)n;
}

static int
i16_quantize(const struct ainftp_kernels *k, const float *x, uint32_t n, void *out, int8_t *exp)
{
	return k->q->quant_i16(x, n, out, exp);
}

static int
i16_accumulate(const struct ainftp_kernels *k, struct ainftp_acc *a, const void *p, int8_t exp,
	       float *scratch)
{
	(void)scratch;
	k->q->acc_i16(a, p, exp);
	return 0;
}

static int
i16_to_f32(const struct ainftp_kernels *k, const void *p, uint32_t n, int8_t exp, float *out)
{
	k->dequant_i16(p, n, exp, out);
	return 0;
}

static double
i16_norm(const struct ainftp_kernels *k, const void *p, uint32_t n, int8_t exp, float *scratch)
{
	(void)k;
	(void)scratch;
	return ainftp_norm_i16(p, n, exp);
}

static int8_t
i16_result(const struct ainftp_kernels *k, const struct ainftp_acc *a, void *out)
{
	return k->q->res_i16(a, out);
}

static const struct ainftp_codec codec_int16 = {
	.name = "int16",
	.enc = AINFTP_ENC_INT16,
	.elems_multiple = 1,
	.qbits = AINFTP_QBITS_INT16,
	.exp_block = 0,
	.payload_len = i16_len,
	.quantize = i16_quantize,
	.accumulate = i16_accumulate,
	.to_f32 = i16_to_f32,
	.norm = i16_norm,
	.result_encode = i16_result,
};

/* ------------------------------------------------------------ int8: exponents of the blocks,
 * then the values */

static size_t
i8_len(uint32_t n)
{
	/* size_t before the rounding: n + 31 may not fit in 32 bits */
	return (size_t)n + ((size_t)n + AINFTP_BLOCK - 1) / AINFTP_BLOCK;
}

static int
i8_quantize(const struct ainftp_kernels *k, const float *x, uint32_t n, void *out, int8_t *exp)
{
	*exp = 0;
	return k->q->quant_i8(x, n, out, (int8_t *)out + ainftp_blocks(n));
}

static int
i8_accumulate(const struct ainftp_kernels *k, struct ainftp_acc *a, const void *p, int8_t exp,
	      float *scratch)
{
	(void)exp;
	(void)scratch;
	k->q->acc_i8(a, p, (const int8_t *)p + ainftp_blocks(a->n));
	return 0;
}

static int
i8_to_f32(const struct ainftp_kernels *k, const void *p, uint32_t n, int8_t exp, float *out)
{
	(void)k;
	(void)exp;
	ainftp_dequant_i8(p, (const int8_t *)p + ainftp_blocks(n), n, out);
	return 0;
}

static double
i8_norm(const struct ainftp_kernels *k, const void *p, uint32_t n, int8_t exp, float *scratch)
{
	(void)k;
	(void)exp;
	(void)scratch;
	return ainftp_norm_i8(p, (const int8_t *)p + ainftp_blocks(n), n);
}

/* Exponents per block in the payload, as contributions have: the header's is 0. */
static int8_t
i8_result(const struct ainftp_kernels *k, const struct ainftp_acc *a, void *out)
{
	k->q->res_i8(a, out, (int8_t *)out + ainftp_blocks(a->n));
	return 0;
}

static const struct ainftp_codec codec_int8 = {
	.name = "int8",
	.enc = AINFTP_ENC_INT8,
	.elems_multiple = AINFTP_BLOCK,
	.qbits = AINFTP_QBITS_INT8,
	.exp_block = AINFTP_BLOCK,
	.payload_len = i8_len,
	.quantize = i8_quantize,
	.accumulate = i8_accumulate,
	.to_f32 = i8_to_f32,
	.norm = i8_norm,
	.result_encode = i8_result,
};

/* ------------------------------------------------------------ float32: IEEE binary32, as is */

static size_t
f32_len(uint32_t n)
{
	return 4 * (size_t)n;
}

static int
f32_quantize(const struct ainftp_kernels *k, const float *x, uint32_t n, void *out, int8_t *exp)
{
	(void)k;
	*exp = 0;
	memcpy(out, x, f32_len(n));
	return all_finite(x, n) ? 0 : -1;
}

static int
f32_accumulate(const struct ainftp_kernels *k, struct ainftp_acc *a, const void *p, int8_t exp,
	       float *scratch)
{
	(void)exp;
	if (k->q->acc_f32_any != NULL)
		return k->q->acc_f32_any(a, p);
	/* At frame offset 74 a float32 payload is not 4-byte aligned. */
	memcpy(scratch, p, f32_len(a->n));
	return k->q->acc_f32(a, scratch);
}

static int
f32_to_f32(const struct ainftp_kernels *k, const void *p, uint32_t n, int8_t exp, float *out)
{
	(void)k;
	(void)exp;
	memmove(out, p, f32_len(n)); /* p may be out: a kept row converted in place */
	return all_finite(out, n) ? 0 : -1;
}

static double
f32_norm(const struct ainftp_kernels *k, const void *p, uint32_t n, int8_t exp, float *scratch)
{
	if (f32_to_f32(k, p, n, exp, scratch) != 0)
		return -1;
	return sqrt(k->sumsq(scratch, n));
}

static int8_t
f32_result(const struct ainftp_kernels *k, const struct ainftp_acc *a, void *out)
{
	k->q->res_f32(a, out);
	return 0;
}

static const struct ainftp_codec codec_float32 = {
	.name = "float32",
	.enc = AINFTP_ENC_FLOAT32,
	.elems_multiple = 1,
	.qbits = AINFTP_QBITS_FLOAT32,
	.exp_block = AINFTP_BLOCK,
	.payload_len = f32_len,
	.quantize = f32_quantize,
	.accumulate = f32_accumulate,
	.to_f32 = f32_to_f32,
	.norm = f32_norm,
	.result_encode = f32_result,
};

/* ------------------------------------------------------------ the table */

const struct ainftp_codec *const ainftp_codec_list[] = {
	&codec_int16,
	&codec_int8,
	&codec_float32,
	NULL,
};

/* By wire value: every received header is looked up (ainftp_hdr_check), so no scan. */
static const struct ainftp_codec *const codec_by_enc[] = {
	[AINFTP_ENC_FLOAT32] = &codec_float32,
	[AINFTP_ENC_INT16] = &codec_int16,
	[AINFTP_ENC_INT8] = &codec_int8,
};

const struct ainftp_codec *
ainftp_codec_get(unsigned int enc)
{
	return enc < CODEC_DIM(codec_by_enc) ? codec_by_enc[enc] : NULL;
}

const struct ainftp_codec *
ainftp_codec_by_name(const char *name)
{
	const struct ainftp_codec *const *c;

	for (c = ainftp_codec_list; *c != NULL; c++)
		if (strcmp((*c)->name, name) == 0)
			return *c;
	return NULL;
}

const char *
ainftp_encoding_name(unsigned int enc)
{
	const struct ainftp_codec *c = ainftp_codec_get(enc);

	return c == NULL ? "unknown" : c->name;
}

void
ainftp_kernels_init(struct ainftp_kernels *k, const struct ainftp_quant_ops *q)
{
	k->q = q;
	k->dequant_i16 = ainftp_dequant_i16;
	k->sumsq = NULL;
}
