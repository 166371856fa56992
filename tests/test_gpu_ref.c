/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GPU consumer's arithmetic and host side, in C, without a GPU:
 * gpu/ainftp_gpu_apply.h (the per-element dequantize and SGD / momentum update,
 * the same inline functions the CUDA kernel compiles as __host__ __device__)
 * against hand-computed cases, float32 and int16 payloads; and gpu/ainftp_gpu_ref.c
 * (the host watcher's log of an arena's results, the reference update from
 * it, the gap count) on an arena written here with the sink's write protocol.
 * Every expected value is exact in binary32, so the asserts compare bits.
 * Also the consumers' shared parts: the synthetic results (ainftp_sink_synth.h)
 * and their reference, and the sweep's plan and rules (ainftp_sink_sweep.h),
 * the latter driving a reader over an arena written here in several orders.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_gpu_apply.h"
#include "ainftp_gpu_ref.h"
#include "ainftp_sink_sweep.h"
#include "ainftp_sink_synth.h"

static int
same(float a, float b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

#define ck_float(a, b)                                                                            \
	ck_assert_msg(same((a), (b)), "%s = %a (%g), want %a (%g)", #a, (double)(a), (double)(a), \
		      (double)(b), (double)(b))

START_TEST(pow2_and_value)
{
	int16_t q[4] = {3, -8, 1, -32768};
	float f[2] = {1.5f, -0.25f};

	ck_float(ainftp_gpu_pow2(0), 1.0f);
	ck_float(ainftp_gpu_pow2(-2), 0.25f);
	ck_float(ainftp_gpu_pow2(10), 1024.0f);
	ck_float(ainftp_gpu_pow2(-126), 0x1p-126f);
	ck_float(ainftp_gpu_pow2(127), 0x1p127f);
	ck_float(ainftp_gpu_pow2(-128), 0.0f);
	ck_float(ainftp_gpu_value(q, AINFTP_SINK_ENC_INT16, 0, 0.25f), 0.75f);
	ck_float(ainftp_gpu_value(q, AINFTP_SINK_ENC_INT16, 1, 0.25f), -2.0f);
	ck_float(ainftp_gpu_value(q, AINFTP_SINK_ENC_INT16, 3, 0.5f), -16384.0f);
	ck_float(ainftp_gpu_value(f, AINFTP_SINK_ENC_FLOAT32, 1, 123.0f), -0.25f); /* no scale */
}
END_TEST

START_TEST(sgd_float32)
{
	float p[4] = {1.0f, 2.0f, -0.5f, 0.0f}, v[4] = {0};
	float g[4] = {4.0f, -2.0f, 1.0f, 0.0f};

	/* count 2, lr 0.5: p -= 0.5 * g / 2 */
	ainftp_gpu_apply(p, v, g, AINFTP_SINK_ENC_FLOAT32, 4, 0, 2, AINFTP_GPU_SGD, 0.5f, 0.9f, 0,
			 1);
	ck_float(p[0], 0.0f);
	ck_float(p[1], 2.5f);
	ck_float(p[2], -0.75f);
	ck_float(p[3], 0.0f);
	ck_float(v[0], 0.0f); /* SGD leaves the velocity */
}
END_TEST

START_TEST(sgd_int16)
{
	float p[4] = {1.0f, 1.0f, 1.0f, 1.0f}, v[4] = {0};
	int16_t q[4] = {3, -8, 1, 0};

	/* value = q * 2^-2 = {0.75, -2, 0.25, 0}; count 1, lr 1 */
	ainftp_gpu_apply(p, v, q, AINFTP_SINK_ENC_INT16, 4, -2, 1, AINFTP_GPU_SGD, 1.0f, 0.0f, 0,
			 1);
	ck_float(p[0], 0.25f);
	ck_float(p[1], 3.0f);
	ck_float(p[2], 0.75f);
	ck_float(p[3], 1.0f);
	/* count 0: nothing applied */
	ainftp_gpu_apply(p, v, q, AINFTP_SINK_ENC_INT16, 4, -2, 0, AINFTP_GPU_SGD, 1.0f, 0.0f, 0,
			 1);
	ck_float(p[0], 0.25f);
}
END_TEST

START_TEST(momentum_float32)
{
	float p[1] = {1.0f}, v[1] = {0.5f}, g[1] = {2.0f};

	/* mu 0.5, lr 0.25: v = 0.25 + 2 = 2.25, p = 1 - 0.5625 */
	ainftp_gpu_apply(p, v, g, AINFTP_SINK_ENC_FLOAT32, 1, 0, 1, AINFTP_GPU_MOMENTUM, 0.25f,
			 0.5f, 0, 1);
	ck_float(v[0], 2.25f);
	ck_float(p[0], 0.4375f);
	/* again: v = 1.125 + 2 = 3.125, p = 0.4375 - 0.78125 */
	ainftp_gpu_apply(p, v, g, AINFTP_SINK_ENC_FLOAT32, 1, 0, 1, AINFTP_GPU_MOMENTUM, 0.25f,
			 0.5f, 0, 1);
	ck_float(v[0], 3.125f);
	ck_float(p[0], -0.34375f);
}
END_TEST

START_TEST(momentum_int16)
{
	float p[2] = {1.0f, 0.0f}, v[2] = {0.0f, 1.0f};
	int16_t q[2] = {100, -4};

	/* 2^-3: {12.5, -0.5}; count 4: g = {3.125, -0.125}; mu 0.5, lr 0.125 */
	ainftp_gpu_apply(p, v, q, AINFTP_SINK_ENC_INT16, 2, -3, 4, AINFTP_GPU_MOMENTUM, 0.125f,
			 0.5f, 0, 1);
	ck_float(v[0], 3.125f);
	ck_float(p[0], 0.609375f);
	ck_float(v[1], 0.375f);	    /* 0.5 * 1 - 0.125 */
	ck_float(p[1], -0.046875f); /* 0 - 0.125 * 0.375 */
}
END_TEST

START_TEST(strided_equals_whole)
{
	/* A GPU block's threads (first, step) cover what one host loop does, same bits. */
	enum { N = 37 };
	float a[N], b[N], va[N] = {0}, vb[N] = {0}, g[N];
	uint32_t i, t;

	for (i = 0; i < N; i++) {
		a[i] = b[i] = ainftp_gpu_param_init(i);
		g[i] = (float)i * 0.3f - 5.0f;
	}
	ck_assert(ainftp_gpu_param_init(0) >= -0.5f && ainftp_gpu_param_init(12345) < 0.5f);
	ainftp_gpu_apply(a, va, g, AINFTP_SINK_ENC_FLOAT32, N, 0, 3, AINFTP_GPU_MOMENTUM, 0.01f,
			 0.9f, 0, 1);
	for (t = 0; t < 8; t++)
		ainftp_gpu_apply(b, vb, g, AINFTP_SINK_ENC_FLOAT32, N, 0, 3, AINFTP_GPU_MOMENTUM,
				 0.01f, 0.9f, t, 8);
	ck_assert(memcmp(a, b, sizeof(a)) == 0 && memcmp(va, vb, sizeof(va)) == 0);
}
END_TEST

/* ------------------------------------------------ an arena written here */

#define SLOTS 2
#define ELEMS 4
#define CPS 4

struct arena {
	struct ainftp_sink_hdr hdr;
	unsigned char entries[SLOTS][128];
};

static struct arena *
arena_new(void)
{
	struct arena *a = aligned_alloc(64, sizeof(*a));

	ck_assert_ptr_nonnull(a);
	memset(a, 0, sizeof(*a));
	a->hdr.magic = AINFTP_SINK_MAGIC;
	a->hdr.version = AINFTP_SINK_VERSION;
	a->hdr.n_jobs = 1;
	a->hdr.size = sizeof(*a);
	a->hdr.jobs[0] = (struct ainftp_sink_job){
		.id = 7,
		.n_slots = SLOTS,
		.elems = ELEMS,
		.encoding = AINFTP_SINK_ENC_FLOAT32,
		.payload_len = ELEMS * 4,
		.stride = 128,
		.offset = offsetof(struct arena, entries),
	};
	return a;
}

/* The sink's write protocol: step s, chunk c, every element (s + 1) * (c + 1). */
static void
put(struct arena *a, uint32_t s, uint32_t c)
{
	struct ainftp_sink_mark *m = ainftp_sink_entry(a, &a->hdr.jobs[0], c % SLOTS);
	float *pl = ainftp_sink_payload(m);
	uint32_t i;

	__atomic_store_n(&m->gen, m->gen + 1, __ATOMIC_RELEASE);
	for (i = 0; i < ELEMS; i++)
		pl[i] = (float)((s + 1) * (c + 1));
	m->bitmap = 1;
	m->count = 1;
	__atomic_store_n(&m->seq_ready, ((uint64_t)s << 32 | c) + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&m->gen, m->gen + 1, __ATOMIC_RELEASE);
}

START_TEST(log_and_reference)
{
	struct arena *a = arena_new();
	struct ainftp_gpu_log l;
	uint64_t seqs[2 * CPS];
	float p[CPS * ELEMS] = {0}, v[CPS * ELEMS] = {0};
	uint32_t s, c, i, n = 0;

	ck_assert_int_eq(ainftp_gpu_log_init(&l, &a->hdr.jobs[0], 2 * CPS + 4), 0);
	ck_assert_uint_eq(ainftp_gpu_log_poll(&l, a, 1), 0); /* nothing yet */
	for (s = 0; s < 2; s++)
		for (c = 0; c < CPS; c++) {
			put(a, s, c);
			ck_assert_uint_eq(ainftp_gpu_log_poll(&l, a, 100 + n), 1);
			ck_assert_uint_eq(ainftp_gpu_log_poll(&l, a, 100 + n),
					  0); /* seen already */
			seqs[n++] = (uint64_t)s << 32 | c;
		}
	/* An entry being written: not taken, counted as torn. */
	{
		struct ainftp_sink_mark *m = ainftp_sink_entry(a, &a->hdr.jobs[0], 0);

		m->gen++;
		m->seq_ready += 1000;
		ck_assert_uint_eq(ainftp_gpu_log_poll(&l, a, 999), 0);
		ck_assert_uint_eq(l.torn, 1);
		ck_assert_uint_eq(l.overflow, 0);
	}
	ck_assert_uint_eq(l.n, 2 * CPS);
	ck_assert_uint_eq(l.rec[5].seq, (uint64_t)1 << 32 | 1);
	ck_assert_uint_eq(l.rec[5].t_ns, 105);
	ainftp_gpu_log_sort(&l);
	ck_assert_int_eq(ainftp_gpu_log_find(&l, (uint64_t)1 << 32 | 3), 7);
	ck_assert_int_eq(ainftp_gpu_log_find(&l, 99), -1);

	/* In any order of consumption: chunk c gets 1*(c+1) then 2*(c+1), lr 1, SGD. */
	for (i = 0; i < n / 2; i++) {
		uint64_t t = seqs[i];

		seqs[i] = seqs[n - 1 - i];
		seqs[n - 1 - i] = t;
	}
	ck_assert_int_eq(ainftp_gpu_ref_apply(p, v, CPS, &l, seqs, n, AINFTP_GPU_SGD, 1.0f, 0.0f),
			 0);
	for (c = 0; c < CPS; c++)
		for (i = 0; i < ELEMS; i++)
			ck_float(p[c * ELEMS + i], -3.0f * (float)(c + 1));
	ck_assert_uint_eq(ainftp_gpu_gaps(seqs, n, SLOTS, CPS), 0);

	/* Drop step 0 chunk 2 (slot 0): one gap; a seq the log lacks: missing. */
	{
		uint64_t part[] = {0,
				   1,
				   3,
				   (uint64_t)1 << 32 | 0,
				   (uint64_t)1 << 32 | 1,
				   (uint64_t)1 << 32 | 2,
				   (uint64_t)1 << 32 | 3};
		uint64_t more[] = {0, (uint64_t)5 << 32 | 1};

		ck_assert_uint_eq(ainftp_gpu_gaps(part, 7, SLOTS, CPS), 1);
		ck_assert_int_eq(
			ainftp_gpu_ref_apply(p, v, CPS, &l, more, 2, AINFTP_GPU_SGD, 1.0f, 0.0f),
			1);
		more[1] = CPS; /* a chunk beyond the parameters */
		ck_assert_int_eq(
			ainftp_gpu_ref_apply(p, v, CPS, &l, more, 2, AINFTP_GPU_SGD, 1.0f, 0.0f),
			-1);
	}
	ainftp_gpu_log_free(&l);
	free(a);
}
END_TEST

/* ------------------------------------------------ synthetic results */

START_TEST(synth_payload_and_mark)
{
	uint8_t pat[64], pl[64], pl2[64];
	uint32_t p, i, left_out = 0, exps = 0;
	uint64_t seq = (uint64_t)3 << 32 | 77;
	int16_t q[32];
	float f[16];

	/* int16: elements 0 and 1 are the chunk and the step; the rest the pattern's. */
	memset(pat, 0, sizeof(pat));
	ainftp_synth_pattern_fill(ainftp_synth_pattern(seq), 1, 32, pat);
	ainftp_synth_payload_from(seq, 1, pat, 64, pl);
	memcpy(q, pl, sizeof(q));
	ck_assert_int_eq(q[0], 77);
	ck_assert_int_eq(q[1], 3);
	for (i = 0; i < 32; i++)
		ck_assert_int_eq(q[i], ainftp_synth_q(seq, i));
	ck_assert_uint_eq(ainftp_synth_check(seq, 1, 32, pl), 0);
	ck_assert_int_eq(ainftp_synth_check_from(seq, 1, pat, 64, pl), 0);
	/* Another seq's payload, one flipped bit, the same pattern under another seq: caught. */
	ck_assert_uint_ne(ainftp_synth_check(seq + 1, 1, 32, pl), 0);
	memcpy(pl2, pl, sizeof(pl2));
	pl2[40] ^= 1;
	ck_assert_uint_eq(ainftp_synth_check(seq, 1, 32, pl2), 1);
	ck_assert_int_eq(ainftp_synth_check_from(seq, 1, pat, 64, pl2), 1);
	ck_assert_int_ne(ainftp_synth_check_from(seq + ((uint64_t)1 << 32), 1, pat, 64, pl), 0);

	/* float32: exact multiples of 2^-12, finite. */
	ainftp_synth_pattern_fill(ainftp_synth_pattern(seq), 0, 16, pat);
	ainftp_synth_payload_from(seq, 0, pat, 64, pl);
	memcpy(f, pl, sizeof(f));
	ck_float(f[0], 77.0f);
	ck_float(f[1], 3.0f);
	for (i = 0; i < 16; i++) {
		ck_float(f[i], ainftp_synth_f(seq, i));
		ck_assert(f[i] * 4096.0f == (float)(int32_t)(f[i] * 4096.0f));
	}
	ck_assert_uint_eq(ainftp_synth_check(seq, 0, 16, pl), 0);

	/* Marks: count is the bitmap's, a worker left out about one time in four. */
	for (p = 0; p < 1000; p++) {
		uint64_t bitmap;
		uint16_t count;
		int8_t exp;

		ainftp_synth_mark(p, 8, &bitmap, &count, &exp);
		ck_assert_uint_eq(count, (uint16_t)__builtin_popcountll(bitmap));
		ck_assert_uint_eq(bitmap & ~UINT64_C(0xff), 0);
		ck_assert(count == 8 || count == 7);
		left_out += count == 7;
		ck_assert(exp <= -6 && exp >= -11);
		exps |= 1u << (-exp);
	}
	ck_assert(left_out > 150 && left_out < 350);
	ck_assert_uint_eq(exps, 0xfc0); /* every exponent -6..-11 came up */
}
END_TEST

/* The synthetic reference equals the update applied to the payloads themselves. */
START_TEST(synth_reference)
{
	struct ainftp_sink_job job = {
		.n_slots = 4, .elems = 8, .encoding = AINFTP_SINK_ENC_INT16, .payload_len = 16};
	float a[4 * 8], va[4 * 8] = {0}, b[4 * 8], vb[4 * 8] = {0};
	uint64_t seqs[12];
	uint8_t pat[16], pl[16];
	uint32_t i, part;

	for (i = 0; i < 32; i++)
		a[i] = b[i] = ainftp_gpu_param_init(i);
	for (i = 0; i < 12; i++)
		seqs[i] = (uint64_t)(i / 4) << 32 | (i % 4);
	for (i = 0; i < 12; i++) {
		uint64_t bitmap;
		uint16_t count;
		int8_t exp;

		ainftp_synth_pattern_fill(ainftp_synth_pattern(seqs[i]), 1, 8, pat);
		ainftp_synth_payload_from(seqs[i], 1, pat, 16, pl);
		ainftp_synth_mark(seqs[i], 8, &bitmap, &count, &exp);
		ainftp_gpu_apply(a + (seqs[i] & 3) * 8, va + (seqs[i] & 3) * 8, pl, 1, 8, exp,
				 count, AINFTP_GPU_MOMENTUM, 0.01f, 0.9f, 0, 1);
	}
	/* In three parts, as the consumer's threads do it. */
	for (part = 0; part < 3; part++)
		ck_assert_int_eq(ainftp_gpu_synth_apply(b, vb, 4, &job, 8, seqs, 12,
							AINFTP_GPU_MOMENTUM, 0.01f, 0.9f, part, 3),
				 0);
	ck_assert(memcmp(a, b, sizeof(a)) == 0 && memcmp(va, vb, sizeof(va)) == 0);
	ck_assert(memcmp(a, (float[32]){0}, sizeof(a)) != 0);
	seqs[11] = 4; /* chunk 4 of a 4-chunk step */
	ck_assert_int_eq(ainftp_gpu_synth_apply(b, vb, 4, &job, 8, seqs, 12, AINFTP_GPU_SGD, 0.01f,
						0.9f, 0, 1),
			 -1);
}
END_TEST

/* ------------------------------------------------ the sweep */

#define SW_SLOTS 16
#define SW_RX 4

struct sweep_arena {
	struct ainftp_sink_hdr hdr;
	unsigned char bells[SW_RX][64];
	unsigned char entries[SW_SLOTS][128];
};

/* An arena of SW_SLOTS slots and SW_RX RX lcores; lanes 0: owners not published. */
static struct sweep_arena *
sweep_arena_new(uint32_t lanes, const uint64_t *masks)
{
	struct sweep_arena *a = aligned_alloc(64, sizeof(*a));
	uint32_t r;

	ck_assert_ptr_nonnull(a);
	memset(a, 0, sizeof(*a));
	a->hdr.magic = AINFTP_SINK_MAGIC;
	a->hdr.version = AINFTP_SINK_VERSION;
	a->hdr.n_jobs = 1;
	a->hdr.n_rx = SW_RX;
	a->hdr.size = sizeof(*a);
	a->hdr.doorbells = offsetof(struct sweep_arena, bells);
	a->hdr.jobs[0] = (struct ainftp_sink_job){
		.id = 3,
		.n_slots = SW_SLOTS,
		.elems = 4,
		.encoding = AINFTP_SINK_ENC_FLOAT32,
		.payload_len = 16,
		.stride = 128,
		.offset = offsetof(struct sweep_arena, entries),
	};
	for (r = 0; lanes != 0 && r < SW_RX; r++) {
		memcpy(a->bells[r] + AINFTP_SINK_BELL_LANES, &lanes, sizeof(lanes));
		memcpy(a->bells[r] + AINFTP_SINK_BELL_LANE_MASK, &masks[r], sizeof(masks[r]));
	}
	return a;
}

START_TEST(sweep_plan)
{
	const uint64_t one_each[SW_RX] = {1, 2, 4, 8}, two_lanes[SW_RX] = {3, 0, 0xc, 0};
	const uint64_t twice[SW_RX] = {3, 1, 0xc, 0};
	struct ainftp_sweep_plan p;
	uint32_t slots[SW_SLOTS], pos[SW_SLOTS], g, i;
	struct sweep_arena *a = sweep_arena_new(4, one_each);

	/* Lane r to RX lcore r: four groups of slots r, r + 4, r + 8, r + 12. */
	ck_assert_int_eq(ainftp_sink_owns(a, 0, 2, 6), 1);
	ck_assert_int_eq(ainftp_sink_owns(a, 0, 2, 7), 0);
	ainftp_sweep_plan_init(&p, a, 0, slots, pos);
	ck_assert_uint_eq(p.owners_known, 1);
	ck_assert_uint_eq(p.n_groups, 4);
	for (g = 0; g < 4; g++) {
		ck_assert_uint_eq(p.len[g], 4);
		ck_assert_uint_eq(p.bell_first[g], g);
		ck_assert_uint_eq(p.bell_count[g], 1);
		for (i = 0; i < 4; i++) {
			ck_assert_uint_eq(slots[p.start[g] + i], g + 4 * i);
			ck_assert_uint_eq(pos[g + 4 * i], i);
		}
	}
	free(a);

	/* Two RX lcores of two lanes each, two polling none: two groups of eight. */
	a = sweep_arena_new(4, two_lanes);
	ainftp_sweep_plan_init(&p, a, 0, slots, pos);
	ck_assert_uint_eq(p.n_groups, 2);
	ck_assert_uint_eq(p.bell_first[1], 2);
	ck_assert_uint_eq(p.len[0] + p.len[1], SW_SLOTS);
	ck_assert_uint_eq(slots[p.start[1] + 1], 3);
	free(a);

	/* A lane claimed twice, or owners not published: one group, every doorbell. */
	a = sweep_arena_new(4, twice);
	ainftp_sweep_plan_init(&p, a, 0, slots, pos);
	ck_assert_uint_eq(p.owners_known, 0);
	ck_assert_uint_eq(p.n_groups, 1);
	free(a);
	a = sweep_arena_new(0, NULL);
	ck_assert_int_eq(ainftp_sink_owns(a, 0, 0, 0), -1);
	ainftp_sweep_plan_init(&p, a, 0, slots, pos);
	ck_assert_uint_eq(p.owners_known, 0);
	ck_assert_uint_eq(p.n_groups, 1);
	ck_assert_uint_eq(p.len[0], SW_SLOTS);
	ck_assert_uint_eq(p.bell_count[0], SW_RX);
	ck_assert_uint_eq(slots[9], 9);
	free(a);
}
END_TEST

/* The rules alone, on a group of 8: in order, out of order, found early, overwritten. */
START_TEST(sweep_rules)
{
	struct ainftp_sweep_group g = {0};
	uint32_t first = 99;

	ck_assert_uint_eq(ainftp_sweep_window(&g, 8, &first), 0); /* nothing rung */
	/* Three rung, in order at 0..2: a window of exactly those three. */
	ainftp_sweep_rung(&g, 3);
	ck_assert_int_eq(g.pend, 3);
	ck_assert_uint_eq(ainftp_sweep_window(&g, 8, &first), 3);
	ck_assert_uint_eq(first, 0);
	ainftp_sweep_done(&g, 8, 3, 3, 3, 2);
	ck_assert_int_eq(g.pend, 0);
	ck_assert_uint_eq(g.cur, 3);
	/* One rung, but it landed at 5 (4 and 3 still open): the first window misses, the
	 * next goes on from 4 to the group's end, finds it; the cursor follows it. */
	ainftp_sweep_rung(&g, 4);
	ck_assert_uint_eq(ainftp_sweep_window(&g, 8, &first), 1);
	ck_assert_uint_eq(first, 3);
	ainftp_sweep_done(&g, 8, 1, 0, 0, 0);
	ck_assert_uint_eq(g.off, 1);
	ck_assert_uint_eq(ainftp_sweep_window(&g, 8, &first), 7);
	ck_assert_uint_eq(first, 4);
	ainftp_sweep_done(&g, 8, 7, 1, 6, 5);
	ck_assert_int_eq(g.pend, 0);
	ck_assert_uint_eq(g.cur, 6);
	ck_assert_uint_eq(g.head, 6);
	/* The late one (at 3, older than the head) found: the cursor stays. */
	ainftp_sweep_rung(&g, 5);
	ainftp_sweep_done(&g, 8, 1, 0, 0, 0);
	ainftp_sweep_done(&g, 8, 7, 1, 4, 3);
	ck_assert_uint_eq(g.cur, 6);
	ck_assert_int_eq(g.pend, 0);
	/* Found before its doorbell was rung: pend below zero, the ring brings it to 0. */
	ainftp_sweep_rung(&g, 5);
	g.pend -= 1; /* as ainftp_sweep_done(found 1) does */
	ck_assert_uint_eq(ainftp_sweep_window(&g, 8, &first), 0);
	ainftp_sweep_rung(&g, 6);
	ck_assert_int_eq(g.pend, 0);
	ck_assert_uint_eq(ainftp_sweep_window(&g, 8, &first), 0);
	/* Two rung, one overwritten by the other: a whole round finds one, then resyncs. */
	ainftp_sweep_rung(&g, 8);
	ck_assert_uint_eq(ainftp_sweep_window(&g, 8, &first), 2);
	ainftp_sweep_done(&g, 8, 2, 1, 9, 6);
	ck_assert_int_eq(g.pend, 1);
	while ((first = ainftp_sweep_window(&g, 8, &first)) != 0)
		ainftp_sweep_done(&g, 8, first, 0, 0, 0);
	ck_assert_int_eq(g.pend, 0);
	ck_assert_uint_eq(g.resyncs, 1);
	/* Doorbells count mod 2^32. */
	g.bell = UINT32_MAX;
	g.pend = 0;
	ainftp_sweep_rung(&g, 1);
	ck_assert_int_eq(g.pend, 2);
}
END_TEST

/* A writer and a reader by the sweep, in turn, over SW_RX RX lcores with published owners. */
struct sim {
	struct sweep_arena *a;
	struct ainftp_sweep_plan p;
	struct ainftp_sweep_group g[AINFTP_SWEEP_MAX_GROUPS];
	uint32_t slots[SW_SLOTS], pos[SW_SLOTS], bells[SW_RX];
	uint64_t seen[SW_SLOTS], reads, found;
};

static void
sim_put(struct sim *s, uint64_t i, int ring)
{
	uint32_t k = (uint32_t)(i % SW_SLOTS), r = k % SW_RX;
	struct ainftp_sink_mark *m = ainftp_sink_entry(s->a, &s->a->hdr.jobs[0], k);

	m->gen += 2;
	m->bitmap = 1;
	m->count = 1;
	__atomic_store_n(&m->seq_ready, i + 1, __ATOMIC_RELEASE);
	s->bells[r]++;
	if (ring)
		__atomic_store_n(ainftp_sink_doorbell(s->a, 0, r), s->bells[r], __ATOMIC_RELEASE);
}

static void
sim_ring_all(struct sim *s)
{
	uint32_t r;

	for (r = 0; r < SW_RX; r++)
		__atomic_store_n(ainftp_sink_doorbell(s->a, 0, r), s->bells[r], __ATOMIC_RELEASE);
}

/* One reader pass, as ainftp-sink-follow makes it. */
static void
sim_pass(struct sim *s)
{
	uint32_t gi, n, first = 0;

	for (gi = 0; gi < s->p.n_groups; gi++) {
		struct ainftp_sweep_group *g = &s->g[gi];
		uint32_t len = s->p.len[gi], bell = 0, b, w;

		for (b = 0; b < s->p.bell_count[gi]; b++)
			bell += *ainftp_sink_doorbell(s->a, 0, s->p.bell_first[gi] + b);
		ainftp_sweep_rung(g, bell);
		for (w = 0; w < 4 && (n = ainftp_sweep_window(g, len, &first)) != 0; w++) {
			uint32_t i, found = 0, best_pos = 0;
			uint64_t best = 0;

			for (i = 0; i < n; i++) {
				uint32_t pp = (first + i) % len, k = s->slots[s->p.start[gi] + pp];
				uint64_t sr =
					ainftp_sink_entry(s->a, &s->a->hdr.jobs[0], k)->seq_ready;

				s->reads++;
				if (sr <= s->seen[k])
					continue;
				s->seen[k] = sr;
				found++;
				if (sr > best) {
					best = sr;
					best_pos = pp;
				}
			}
			ainftp_sweep_done(g, len, n, found, best, best_pos);
			s->found += found;
		}
	}
}

START_TEST(sweep_reads_what_was_rung)
{
	const uint64_t one_each[SW_RX] = {1, 2, 4, 8};
	struct sim *s = calloc(1, sizeof(*s));
	uint64_t i, resyncs = 0;
	uint32_t g;

	ck_assert_ptr_nonnull(s);
	s->a = sweep_arena_new(4, one_each);
	ainftp_sweep_plan_init(&s->p, s->a, 0, s->slots, s->pos);
	/* In order, a pass after each result: one mark read per result, no more. */
	for (i = 0; i < 1000; i++) {
		sim_put(s, i, 1);
		sim_pass(s);
	}
	ck_assert_uint_eq(s->found, 1000);
	ck_assert_uint_eq(s->reads, 1000);
	/* Bursts of 3 per ring, out of order inside each group (i + 4 before i): every one
	 * found, a few more reads. */
	for (i = 1000; i < 2000; i += 8) {
		uint32_t j;

		for (j = 4; j < 8; j++)
			sim_put(s, i + j, 0);
		for (j = 0; j < 4; j++)
			sim_put(s, i + j, 0);
		sim_ring_all(s);
		sim_pass(s);
	}
	ck_assert_uint_eq(s->found, 2000);
	ck_assert(s->reads < 2000 + 1000);
	/* Group 0 (slots 0, 4, 8, 12): 2004 rung before 2000 is there, 2008 marked and not
	 * rung. The pass misses at slot 0, goes on and finds both: found before rung. */
	sim_put(s, 2004, 1);
	sim_put(s, 2008, 0);
	sim_pass(s);
	ck_assert_uint_eq(s->found, 2002);
	ck_assert_int_eq(s->g[0].pend, -1);
	i = s->reads;
	sim_ring_all(s); /* 2008's ring: nothing left to read */
	sim_pass(s);
	ck_assert_uint_eq(s->reads, i);
	ck_assert_int_eq(s->g[0].pend, 0);
	sim_put(s, 2000, 1); /* the late one, behind the cursor: found round the group */
	sim_pass(s);
	ck_assert_uint_eq(s->found, 2003);
	ck_assert_int_eq(s->g[0].pend, 0);
	/* Overwritten before read: 2 * SW_SLOTS results, the reader sees the last SW_SLOTS,
	 * then resyncs once per group and reads nothing more after. */
	for (i = 2016; i < 2016 + 2 * SW_SLOTS; i++)
		sim_put(s, i, 1);
	sim_pass(s);
	sim_pass(s);
	sim_pass(s);
	sim_pass(s);
	for (g = 0; g < s->p.n_groups; g++)
		resyncs += s->g[g].resyncs;
	ck_assert_uint_eq(s->found, 2003 + SW_SLOTS);
	ck_assert_uint_eq(resyncs, SW_RX);
	i = s->reads;
	sim_pass(s);
	ck_assert_uint_eq(s->reads, i);
	free(s->a);
	free(s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("gpu_ref");
	TCase *tc = tcase_create("gpu_ref");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, pow2_and_value);
	tcase_add_test(tc, sgd_float32);
	tcase_add_test(tc, sgd_int16);
	tcase_add_test(tc, momentum_float32);
	tcase_add_test(tc, momentum_int16);
	tcase_add_test(tc, strided_equals_whole);
	tcase_add_test(tc, log_and_reference);
	tcase_add_test(tc, synth_payload_and_mark);
	tcase_add_test(tc, synth_reference);
	tcase_add_test(tc, sweep_plan);
	tcase_add_test(tc, sweep_rules);
	tcase_add_test(tc, sweep_reads_what_was_rung);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
