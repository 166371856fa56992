/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GPU consumer's arithmetic and host side, in C, without a GPU:
 * gpu/ainftp_gpu_apply.h (the per-element dequantize and SGD / momentum update,
 * the same inline functions the CUDA kernel compiles as __host__ __device__)
 * against hand-computed cases, float32 and int16 payloads; and gpu/ainftp_gpu_ref.c
 * (the host watcher's log of an arena's results, the reference update from
 * it, the gap count) on an arena written here with the sink's write protocol.
 * Every expected value is exact in binary32, so the asserts compare bits.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_gpu_apply.h"
#include "ainftp_gpu_ref.h"

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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
