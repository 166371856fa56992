/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_PARTIAL_H
#define AINFTP_PARTIAL_H

/*
 * Exact partial sums between boxes: a leaf sums its own workers into an
 * accumulator as ever (ainftp_quant.h), then sends that accumulator's state
 * upstream in parts; a spine merges the leaves' parts into its own
 * accumulator. Because a block's sum is an integer at an exponent and the
 * merge is the same int64 rule as one contribution's (docs/QUANTIZATION.md,
 * "Summing"), the spine's sum is the same bits as one box that took every
 * worker's contribution, in any order, while no block's exponents spread past
 * ainftp_span(w). Past it every box involved flags overflow, as one box would,
 * though the rounded values may then differ.
 *
 * The wire layout of one part of a chunk of n elements (B = ainftp_blocks(n)
 * blocks, bpp blocks per part; part p covers blocks [p * bpp, min((p + 1) *
 * bpp, B))), all little-endian:
 *   header, AINFTP_PART_HDR_LEN bytes: u8 part, u8 bpp, u16 first_block,
 *           u16 n_blocks, u16 zero, u64 desc (the request's descriptor,
 *           ainftp_req_desc, as the leaf's workers gave it; 0: not said);
 *   then per block: i32 exp, i32 emax (both AINFTP_EXP_NONE for an empty
 *           block), then ainftp_block_len(n, b) x i64 sums at exp (all zero
 *           for an empty block).
 *
 * Plain C11, no DPDK.
 */

#include <stddef.h>
#include <stdint.h>

#include "ainftp_quant.h"

#define AINFTP_PART_HDR_LEN 16
#define AINFTP_PART_BLOCK_HDR_LEN 8 /* exp, emax */
#define AINFTP_PART_MAX_BPP 255	    /* the header's u8 */
#define AINFTP_PART_MAX_PARTS 256   /* part is a u8 too */

/*
 * The exponents a real accumulator's block can hold, so a spine refuses
 * others: a contribution's exponent is an int8 for int16 and int8, and
 * ainftp_frexp_bits - AINFTP_QBITS_FLOAT32 for float32, from -148 - 31 (the
 * smallest subnormal) to 128 - 31 (FLT_MAX). exp is the smallest of them or,
 * after overflow, emax - span, which is larger; emax the largest.
 */
#define AINFTP_PART_EXP_MIN (-148 - AINFTP_QBITS_FLOAT32)
#define AINFTP_PART_EXP_MAX 127

struct ainftp_part_info {
	uint32_t part;
	uint32_t bpp;
	uint32_t first_block;
	uint32_t n_blocks;
	uint64_t desc;
};

/* Blocks per part whose payload fits max_payload bytes (full blocks), at most 255; 0 if not one. */
uint32_t ainftp_part_bpp(size_t max_payload);

/* Parts of a chunk of n elements at bpp blocks each (0 when bpp is 0). */
uint32_t ainftp_part_count(uint32_t n, uint32_t bpp);

/* Payload bytes of part p of a chunk of n elements; 0 when there is no such part. */
size_t ainftp_part_len(uint32_t n, uint32_t part, uint32_t bpp);

/*
 * Part p of a's state (any form: uni, narrow, wide, fresh) at out,
 * ainftp_part_len(a->n, part, bpp) bytes, at any alignment; returns the bytes
 * written, or 0 (writing nothing) when the part does not exist or its header
 * cannot say it (bpp or part past a u8, a block index past a u16).
 */
size_t ainftp_part_write(const struct ainftp_acc *a, uint32_t part, uint32_t bpp, void *out);

/* The request's descriptor in a part written by ainftp_part_write (which writes 0). */
void ainftp_part_set_desc(void *part, uint64_t desc);

/*
 * The layout of a received part payload p of len bytes (any alignment) for a
 * chunk of n elements: 0 and its info in pi when it is exactly right (bpp >=
 * 1, part < ainftp_part_count(n, bpp), first_block == part * bpp, n_blocks
 * what the part covers, pad zero, len exact), else -1. Values not checked.
 */
int ainftp_part_parse(const void *p, size_t len, uint32_t n, struct ainftp_part_info *pi);

/*
 * Merge a received part payload p of len bytes into a (whatever its form),
 * for a chunk of a->n elements (ainftp_part_parse's checks first, so the
 * caller need not parse; it may, to learn which part it is). count: the
 * contributions the sender's partial holds (1..64); w: their bits (the job's
 * codec->qbits). Before changing anything, every block must be what a real
 * accumulator of count contributions of w bits can hold: exp and emax both
 * AINFTP_EXP_NONE with all sums 0, or AINFTP_PART_EXP_MIN <= exp <= emax <=
 * AINFTP_PART_EXP_MAX, emax - exp <= ainftp_span(w) (overflow raises exp to
 * keep it so), and every |sum| <= count * 2^(w + emax - exp). Returns -1 with
 * a unchanged when any check fails, 0 when merged. The sender's overflow flag
 * is not in the part: the caller ORs it into a->overflow. The spine's blocks
 * that take a non-empty block turn wide.
 */
int ainftp_acc_merge_part(struct ainftp_acc *a, const void *p, size_t len, int w,
			  unsigned int count);

#endif
