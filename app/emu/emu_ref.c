/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The emulator's oracle (emu_private.h): every worker's gradient, made again
 * from (seed, worker, chunk) whenever it is needed, its payload as it goes on
 * the wire, and the reference result of a chunk, decoded and summed here in
 * plain int128 arithmetic, none of the library's accumulator, so a result is
 * checked against something computed another way.
 */

#include <math.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>

#include "emu_private.h"

/* ------------------------------------------------------------ gradients */

/*
 * Worker w's gradient for chunk g, deterministic from (seed, w, g). Per chunk a
 * magnitude 2^u with u in [-12, 12] ([-10, 10] for float32: see qbits), per
 * block a further 2^-v with v in 0..3, random signs, so exponents differ across
 * workers and blocks; every 17th chunk one worker sends zeros; a block is zero
 * for one worker now and then, and for every worker now and then.
 */
static void
gradient(const struct ainftp_emu *e, unsigned int w, uint64_t g, float *x)
{
	uint64_t s = emu_mix3(e->conf.seed, w + 1, g + 1);
	int u = (int)(emu_splitmix64(&s) % (2 * (uint64_t)e->u_range + 1)) - e->u_range;
	uint32_t b, i, n;

	if (g % 17 == 16 && w == (g / 17) % e->n_workers) {
		memset(x, 0, e->elems * sizeof(*x));
		return;
	}
	for (b = 0; b < e->blocks; b++) {
		uint64_t r = emu_splitmix64(&s);
		int v = (int)(r & 3);
		float scale = ldexpf(1.0f, u - v - 24);
		bool zero = ((r >> 8) & 31) == 0 || emu_mix3(e->conf.seed, ~g, b) % 53 == 0;

		n = RTE_MIN((uint32_t)AINFTP_BLOCK, e->elems - b * AINFTP_BLOCK);
		for (i = 0; i < n; i++) {
			uint64_t d = emu_splitmix64(&s);
			float m = (float)(uint32_t)(d >> 40) * scale; /* 24 bits: exact */

			x[b * AINFTP_BLOCK + i] = zero ? 0.0f : (d & 1) ? -m : m;
		}
	}
}

/*
 * Worker w's payload for chunk g, as a worker's client makes it (the codec's
 * quantize: what goes on the wire, on a little-endian host as the appliance
 * is); its header exponent in *se.
 */
void
emu_payload_make(struct ainftp_emu *e, unsigned int w, uint64_t g, uint8_t *out, int8_t *se)
{
	gradient(e, w, g, e->x);
	e->codec->quantize(&e->k, e->x, e->elems, out, se);
}

/* ------------------------------------------------------------ reference */

/*
 * The oracle's own decoders, one per encoding, written from docs/QUANTIZATION.md
 * and not from the library: block b of a payload (n <= AINFTP_BLOCK values
 * from element base) as integers q and the block's exponent. An encoding the
 * emulator runs needs one here: the check is only as independent as this.
 */
typedef int32_t (*emu_decode_fn)(const struct ainftp_emu *e, const uint8_t *p, int8_t se,
				 uint32_t b, uint32_t base, uint32_t n, int64_t *q);

static int32_t
decode_i16(const struct ainftp_emu *e, const uint8_t *p, int8_t se, uint32_t b, uint32_t base,
	   uint32_t n, int64_t *q)
{
	uint32_t i;

	RTE_SET_USED(e);
	RTE_SET_USED(b);
	for (i = 0; i < n; i++) {
		uint16_t v;

		memcpy(&v, p + 2 * (base + i), 2);
		q[i] = (int16_t)rte_le_to_cpu_16(v);
	}
	return se;
}

/* n_blocks exponent bytes, then the values. */
static int32_t
decode_i8(const struct ainftp_emu *e, const uint8_t *p, int8_t se, uint32_t b, uint32_t base,
	  uint32_t n, int64_t *q)
{
	uint32_t i;

	RTE_SET_USED(se);
	for (i = 0; i < n; i++)
		q[i] = (int8_t)p[e->blocks + base + i];
	return (int8_t)p[b];
}

/* float32: e_b = frexp exponent of the block's max - 31, RNE in double. */
static int32_t
decode_f32(const struct ainftp_emu *e, const uint8_t *p, int8_t se, uint32_t b, uint32_t base,
	   uint32_t n, int64_t *q)
{
	float xs[AINFTP_BLOCK];
	float mx = 0;
	uint32_t i;
	int fe;

	RTE_SET_USED(e);
	RTE_SET_USED(se);
	RTE_SET_USED(b);
	for (i = 0; i < n; i++) {
		uint32_t v;

		memcpy(&v, p + 4 * (base + i), 4);
		v = rte_le_to_cpu_32(v);
		memcpy(&xs[i], &v, 4);
		mx = fmaxf(mx, fabsf(xs[i]));
	}
	if (mx == 0) {
		memset(q, 0, n * sizeof(*q));
		return 0;
	}
	frexp((double)mx, &fe);
	for (i = 0; i < n; i++)
		q[i] = (int64_t)nearbyint(ldexp((double)xs[i], AINFTP_QBITS_FLOAT32 - fe));
	return fe - AINFTP_QBITS_FLOAT32;
}

static const emu_decode_fn emu_decoders[] = {
	[AINFTP_ENC_FLOAT32] = decode_f32,
	[AINFTP_ENC_INT16] = decode_i16,
	[AINFTP_ENC_INT8] = decode_i8,
};

/*
 * A payload as integers and per-block exponents, decoded here (not by the
 * library): value = q * 2^exp; a block whose integers are all zero gets
 * AINFTP_EXP_NONE and takes no part in the block's exponent.
 */
static void
payload_decode(const struct ainftp_emu *e, const uint8_t *p, int8_t se, int64_t *q, int32_t *exp)
{
	emu_decode_fn decode = emu_decoders[e->codec->enc];
	uint32_t b, i, n;

	for (b = 0; b < e->blocks; b++) {
		uint32_t base = b * AINFTP_BLOCK;
		bool any = false;
		int32_t eb;

		n = RTE_MIN((uint32_t)AINFTP_BLOCK, e->elems - base);
		eb = decode(e, p, se, b, base, n, q + base);
		for (i = 0; i < n; i++)
			any |= q[base + i] != 0;
		exp[b] = any ? eb : AINFTP_EXP_NONE;
	}
}

/*
 * int16 result of the exact sums s (at exponent E[b] per block), by the rule
 * of res_i16 in lib/wire/ainftp_quant.h (docs/QUANTIZATION.md): K = the largest bit
 * length of |s| plus its block's exponent, over every non-zero sum; the
 * exponent is K - 15 clamped to [-128, 127] (-128 and all zero when no sum is
 * non-zero); each element is s * 2^(E - exponent) rounded to nearest, ties to
 * even, saturated at +-32767.
 */
static int8_t
ref_res_i16(const struct ainftp_emu *e, const emu_i128 *s, const int32_t *E, int16_t *out)
{
	int32_t k = INT32_MIN, eo;
	uint32_t i;

	for (i = 0; i < e->elems; i++) {
		emu_i128 v = s[i] < 0 ? -s[i] : s[i];
		int32_t bits = 0;

		if (v == 0 || E[i / AINFTP_BLOCK] == AINFTP_EXP_NONE)
			continue;
		while (v != 0) {
			v >>= 1;
			bits++;
		}
		k = RTE_MAX(k, bits + E[i / AINFTP_BLOCK]);
	}
	if (k == INT32_MIN) {
		memset(out, 0, e->elems * sizeof(*out));
		return AINFTP_WIRE_EXP_ZERO; /* the header's exponent of an all-zero payload */
	}
	eo = RTE_MIN(RTE_MAX(k - AINFTP_QBITS_INT16, -128), 127);
	for (i = 0; i < e->elems; i++) {
		int32_t eb = E[i / AINFTP_BLOCK];
		emu_i128 v = s[i], a = v < 0 ? -v : v, r;
		int32_t d;

		if (eb == AINFTP_EXP_NONE || v == 0) {
			out[i] = 0;
			continue;
		}
		d = eb - eo;
		if (d > AINFTP_QBITS_INT16) {
			r = INT16_MAX; /* only where the exponent was clamped at 127 */
		} else if (d >= 0) {
			r = a << d;
		} else if (-d > 120) {
			r = 0; /* |s| < 2^(64 + 6): far below one half */
		} else {
			emu_i128 half = (emu_i128)1 << (-d - 1),
				 rem = a & (((emu_i128)1 << -d) - 1);

			r = a >> -d;
			if (rem > half || (rem == half && (r & 1)))
				r++;
		}
		if (r > INT16_MAX)
			r = INT16_MAX;
		out[i] = (int16_t)(v < 0 ? -r : r);
	}
	return (int8_t)eo;
}

/* a * 2^d for a >= 0 (a < 2^71, d <= 7 but where an exponent clamped at 127), rounded to
 * nearest, ties to even; 2^71 stands for anything past 7 bits. */
static emu_i128
ref_scale(emu_i128 a, int32_t d)
{
	emu_i128 half, rem, r;

	if (d >= 0)
		return d > AINFTP_QBITS_INT8 ? (emu_i128)1 << 71 : a << d;
	if (-d > 120)
		return 0; /* far below one half */
	half = (emu_i128)1 << (-d - 1);
	rem = a & (((emu_i128)1 << -d) - 1);
	r = a >> -d;
	return r + (rem > half || (rem == half && (r & 1)));
}

/*
 * int8 result of the exact sums s (at E[b]), block b, by the rule of res_i8
 * (docs/QUANTIZATION.md): K = the bit length of the block's largest |s| plus
 * E; the exponent is K - 7, or K - 6 when that largest sum rounds to 128 at
 * K - 7, clamped to [-128, 127] (-128 and all zero for a zero block); each
 * element is s * 2^(E - exponent) rounded to nearest, ties to even,
 * saturated at +-127.
 */
static int8_t
ref_res_i8_block(const struct ainftp_emu *e, uint32_t b, const emu_i128 *s, int32_t E, int8_t *q)
{
	uint32_t i, n = RTE_MIN((uint32_t)AINFTP_BLOCK, e->elems - b * AINFTP_BLOCK);
	emu_i128 top = 0, v;
	int32_t eo = 0;

	for (i = 0; E != AINFTP_EXP_NONE && i < n; i++)
		top = RTE_MAX(top, s[i] < 0 ? -s[i] : s[i]);
	if (top == 0) {
		memset(q, 0, n);
		return AINFTP_WIRE_EXP_ZERO;
	}
	for (v = top; v != 0; v >>= 1)
		eo++;
	eo += E - AINFTP_QBITS_INT8;
	if (eo > E && eo < 127 && ref_scale(top, E - eo) > INT8_MAX)
		eo++;
	eo = RTE_MIN(RTE_MAX(eo, -128), 127);
	for (i = 0; i < n; i++) {
		emu_i128 r =
			RTE_MIN(ref_scale(s[i] < 0 ? -s[i] : s[i], E - eo), (emu_i128)INT8_MAX);

		q[i] = (int8_t)(s[i] < 0 ? -r : r);
	}
	return (int8_t)eo;
}

/*
 * The oracle's result encoders, one per result encoding: the exact sums
 * (e->ref_sum at e->ref_E per block) as the result's payload at out, and its
 * exponent.
 */
typedef int8_t (*emu_result_fn)(struct ainftp_emu *e, uint8_t *out);

/* Each sum rounded once to float. */
static int8_t
result_f32(struct ainftp_emu *e, uint8_t *out)
{
	uint32_t i;

	for (i = 0; i < e->elems; i++) {
		int32_t E = e->ref_E[i / AINFTP_BLOCK];
		float f = E == AINFTP_EXP_NONE ? 0.0f
					       : (float)ldexp((double)(int64_t)e->ref_sum[i], E);
		uint32_t v;

		memcpy(&v, &f, 4);
		v = rte_cpu_to_le_32(v);
		memcpy(out + 4 * i, &v, 4);
	}
	return 0;
}

static int8_t
result_i16(struct ainftp_emu *e, uint8_t *out)
{
	int8_t exp = ref_res_i16(e, e->ref_sum, e->ref_E, e->q16);
	uint32_t i;

	for (i = 0; i < e->elems; i++) {
		uint16_t v = rte_cpu_to_le_16((uint16_t)e->q16[i]);

		memcpy(out + 2 * i, &v, 2);
	}
	return exp;
}

/* The int8 payload: the blocks' exponents, then the values; the header's exponent is 0. */
static int8_t
result_i8(struct ainftp_emu *e, uint8_t *out)
{
	uint32_t b;

	for (b = 0; b < e->blocks; b++)
		out[b] = (uint8_t)ref_res_i8_block(e, b, e->ref_sum + b * AINFTP_BLOCK, e->ref_E[b],
						   (int8_t *)out + e->blocks + b * AINFTP_BLOCK);
	return 0;
}

static const emu_result_fn emu_results[] = {
	[AINFTP_ENC_FLOAT32] = result_f32,
	[AINFTP_ENC_INT16] = result_i16,
	[AINFTP_ENC_INT8] = result_i8,
};

/*
 * The reference sum of the decoded contributions in e->wq and e->wexp, into
 * out (the result's payload) and r (its exponent, and whether the inputs
 * overflow what the appliance sums exactly). Plain arithmetic in int128, none
 * of the library's accumulator: per block, E is the smallest exponent among the
 * workers whose block is not all zero, and S = sum of q * 2^(e - E).
 */
static void
ref_compute(struct ainftp_emu *e, struct emu_ref *r, uint8_t *out)
{
	uint32_t b, i, n;
	unsigned int w;

	r->overflow = false;
	r->exp = 0;
	for (b = 0; b < e->blocks; b++) {
		uint32_t base = b * AINFTP_BLOCK;
		int32_t E = INT32_MAX;
		emu_i128 *sum = e->ref_sum + base;

		n = RTE_MIN((uint32_t)AINFTP_BLOCK, e->elems - base);
		/* E: the smallest exponent among the workers whose block is not all zero. */
		for (w = 0; w < e->n_workers; w++) {
			int32_t ew = e->wexp[(size_t)w * e->blocks + b];

			if (ew != AINFTP_EXP_NONE && emu_in_sum(e, r, w))
				E = RTE_MIN(E, ew);
		}
		for (i = 0; i < n; i++)
			sum[i] = 0;
		for (w = 0; E != INT32_MAX && w < e->n_workers; w++) {
			int32_t ew = e->wexp[(size_t)w * e->blocks + b];
			const int64_t *q = e->wq + (size_t)w * e->elems + base;

			if (ew == AINFTP_EXP_NONE || !emu_in_sum(e, r, w))
				continue;
			if (ew - E > 126 - AINFTP_QBITS_FLOAT32 - AINFTP_WORKER_BITS) {
				r->overflow = true; /* beyond even an int128 */
				continue;
			}
			for (i = 0; i < n; i++)
				sum[i] += (emu_i128)q[i] * ((emu_i128)1 << (ew - E));
		}
		/* The span the appliance sums exactly (docs/QUANTIZATION.md): inputs stay in it. */
		for (w = 0; E != INT32_MAX && w < e->n_workers; w++) {
			int32_t ew = e->wexp[(size_t)w * e->blocks + b];

			if (ew != AINFTP_EXP_NONE && emu_in_sum(e, r, w) &&
			    ew - E > 63 - AINFTP_WORKER_BITS - e->qbits)
				r->overflow = true;
		}
		for (i = 0; i < n; i++)
			if (sum[i] > INT64_MAX || sum[i] < INT64_MIN)
				r->overflow = true;
		e->ref_E[b] = E == INT32_MAX ? AINFTP_EXP_NONE : E;
	}
	r->exp = emu_results[e->rcodec->enc](e, out);
}

/*
 * The result every worker must get for chunk g: the sum of the payloads of the
 * workers the result's bitmap names (all of them, unless some were left out).
 */
const struct emu_ref *
emu_reference(struct ainftp_emu *e, uint64_t g, uint64_t bitmap, const uint8_t **payload)
{
	/* By slot: a recomputation when a slot's next chunk came first (a straggler's late result).
	 */
	uint32_t idx = emu_chunk_slot(e, g) % e->ref_n;
	struct emu_ref *r = &e->ref[idx];
	uint8_t *out = e->ref_payload + (size_t)idx * e->result_len;
	unsigned int w;
	int8_t se;

	*payload = out;
	if (r->g == g && r->bitmap == bitmap)
		return r;
	r->bitmap = bitmap;
	for (w = 0; w < e->n_workers; w++) {
		const struct emu_worker *wk = &e->workers[w];
		uint32_t k = wk->slot_out[emu_chunk_slot(e, g)];
		const uint8_t *p = e->payload;

		if (!emu_in_sum(e, r, w))
			continue;
		/* The bytes the worker sent, while it keeps them; else made again. */
		if (k != EMU_NONE && wk->out[k].g == g) {
			const struct ainftp_hdr *h =
				rte_pktmbuf_mtod_offset(wk->out[k].keep, const struct ainftp_hdr *,
							EMU_HDRS_LEN - sizeof(struct ainftp_hdr));

			p = (const uint8_t *)(h + 1);
			se = h->scale_exp;
		} else {
			emu_payload_make(e, w, g, e->payload, &se);
		}
		payload_decode(e, p, se, e->wq + (size_t)w * e->elems,
			       e->wexp + (size_t)w * e->blocks);
	}
	r->g = g;
	ref_compute(e, r, out);
	return r;
}

/* The payload against the reference: true when every bit is equal. */
bool
emu_result_compare(struct ainftp_emu *e, const struct emu_worker *wk, const struct ainftp_msg *msg,
		   const uint8_t *got, const struct emu_ref *r, const uint8_t *want)
{
	uint32_t i, size = (uint32_t)e->rcodec->payload_len(1);

	if (r->overflow) {
		emu_result_bad(e, wk, msg->step, msg->chunk,
			       "the test's own inputs overflow the exact sum (emulator bug)");
		return false;
	}
	if (msg->scale_exp != r->exp) {
		emu_result_bad(e, wk, msg->step, msg->chunk, "scale_exp %d, want %d",
			       msg->scale_exp, r->exp);
		return false;
	}
	if (memcmp(got, want, e->result_len) == 0)
		return true;
	if (e->rcodec->payload_len(2) != 2 * (size_t)size) {
		/* Block exponents in the payload (int8): no fixed bytes per element. */
		for (i = 0; got[i] == want[i]; i++)
			;
		emu_result_bad(
			e, wk, msg->step, msg->chunk,
			"payload byte %u (of %u block exponents, then values) is %d, want %d", i,
			e->blocks, (int8_t)got[i], (int8_t)want[i]);
		return false;
	}
	for (i = 0; i < e->elems; i++) {
		uint32_t a = 0, b = 0;

		memcpy(&a, got + size * i, size);
		memcpy(&b, want + size * i, size);
		if (a == b)
			continue;
		if (size == 4) {
			float fa, fb;

			memcpy(&fa, &a, 4);
			memcpy(&fb, &b, 4);
			emu_result_bad(e, wk, msg->step, msg->chunk,
				       "element %u is %a (0x%08x), want %a (0x%08x)", i, (double)fa,
				       a, (double)fb, b);
		} else {
			emu_result_bad(e, wk, msg->step, msg->chunk, "element %u is %d, want %d", i,
				       (int16_t)a, (int16_t)b);
		}
		break;
	}
	return false;
}
