/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The result sink through the RX lcore's real poll (tests/fixture.c): every
 * completed chunk lands in the arena once, at its slot's entry, with the seq,
 * bitmap, count, exp and flags of the result sent to the workers and the same
 * payload bytes; a retransmission resends without writing again; marks only
 * grow; off writes nothing. And the fallbacks of the GPU backends on a box
 * without a GPU, and the consumer's read protocol.
 */
#include <check.h>
#include <dlfcn.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "ainftp_dp.h"
#include "ainftp_proto.h"
#include "ainftp_rx.h"
#include "ainftp_sink.h"
#include "ainftp_sink_ops.h"
#include "ainftp_stats.h"
#include "fake_gpudev.h"
#include "fixture.h"

#define JOB 7
#define ELEMS 64
#define SLOTS 8
#define NW 3
#define PORT 47474
#define HDRS 42 /* Ethernet, IPv4, UDP */

static struct fixture fx;
static char sink_path[128];

static const uint8_t keys[NW][32] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};

/* The job of test_dp (3 workers, 8 slots), its result encoding and a sink section. */
#define SINK_JSON_FMT                                                                         \
	"{\"appliance\": {\"ipv4\": \"" FIX_IP "\", \"mac\": \"02:00:00:00:00:02\"},"         \
	" \"ports\": [{\"device\": \"net_ring_fix\"}],"                                       \
	" \"lcores\": {\"control\": 0, \"rx\": [{\"lcore\": 1, \"port\": 0, \"queue\": 0}]}," \
	" \"jobs\": [{\"id\": 7, \"elems_per_packet\": 64, \"encoding\": \"int16\","          \
	"   \"result_encoding\": \"%s\", \"slots\": 8, \"workers\": ["                        \
	"    {\"id\": 0, \"ipv4\": \"198.18.0.11\", \"key\": "                                \
	"\"0102030000000000000000000000000000000000000000000000000000000000\"},"              \
	"    {\"id\": 1, \"ipv4\": \"198.18.0.12\", \"key\": "                                \
	"\"0405060000000000000000000000000000000000000000000000000000000000\"},"              \
	"    {\"id\": 2, \"ipv4\": \"198.18.0.13\", \"key\": "                                \
	"\"0708090000000000000000000000000000000000000000000000000000000000\"}]}],"           \
	" \"telemetry\": {\"stats_interval_s\": 0}%s}"

/* Up with result encoding res and sink section sink ("" for none). */
static void
up(const char *res, const char *sink)
{
	char json[4096];

	snprintf(json, sizeof(json), SINK_JSON_FMT, res, sink);
	fixture_up_json(&fx, json);
}

static void
up_host(const char *res)
{
	char sink[256];

	snprintf(sink, sizeof(sink), ", \"sink\": {\"backend\": \"host\", \"path\": \"%s\"}",
		 sink_path);
	up(res, sink);
}

static void
setup(void)
{
	snprintf(sink_path, sizeof(sink_path), "/dev/shm/ainftp-test-sink-%d", (int)getpid());
}

static void
teardown(void)
{
	fixture_down(&fx);
	unlink(sink_path);
}

/* Worker w's int16 contribution to (step, chunk), as test_dp builds its frames. */
static void
send_contrib(unsigned int w, uint32_t step, uint32_t chunk)
{
	uint8_t f[2048];
	uint16_t payload = ELEMS * 2;
	struct ainftp_msg m = {
		.type = AINFTP_MSG_DATA,
		.encoding = AINFTP_ENC_INT16,
		.flags = AINFTP_F_AUTH,
		.job = JOB,
		.worker = (uint16_t)w,
		.elems = ELEMS,
		.step = step,
		.chunk = chunk,
		.slot = (uint16_t)(chunk % SLOTS),
		.scale_exp = (int8_t)(w - 1),
	};
	int16_t q[ELEMS];
	unsigned int i;

	for (i = 0; i < ELEMS; i++)
		q[i] = (int16_t)((int)((i * 2654435761u + w * 40503u + chunk * 977u + step) %
				       60001) -
				 30000);
	/* A little-endian host: int16 values are already in the wire's order. */
	fixture_inject(&fx, f, (uint16_t)fixture_data_frame(f, &m, q, payload, keys[w]));
}

struct result {
	struct ainftp_msg m;
	uint8_t payload[ELEMS * 4];
};

/* Every frame the appliance sent: results into r (max n), the rest dropped. */
static unsigned int
drain(struct result *r, unsigned int max)
{
	struct rte_mbuf *out[64];
	unsigned int n = rte_ring_dequeue_burst(fx.out, (void **)out, RTE_DIM(out), NULL), i, k = 0;

	for (i = 0; i < n; i++) {
		struct ainftp_hdr h;
		const void *p = rte_pktmbuf_read(out[i], HDRS, sizeof(h), &h);

		if (p != NULL && k < max) {
			ainftp_hdr_read(p, &r[k].m);
			if (r[k].m.type == AINFTP_MSG_RESULT) {
				uint32_t len = ainftp_payload_len(r[k].m.encoding, ELEMS);
				/* After the header and, with auth, the tag (protocol v2). */
				uint32_t at = HDRS + 32 +
					      (r[k].m.flags & AINFTP_F_AUTH ? AINFTP_TAG_LEN : 0);
				/* A pointer into the mbuf when contiguous, else into the copy. */
				const void *pl = rte_pktmbuf_read(out[i], at, len, r[k].payload);

				ck_assert_ptr_nonnull(pl);
				memmove(r[k].payload, pl, len);
				k++;
			}
		}
		rte_pktmbuf_free(out[i]);
	}
	return k;
}

static const struct ainftp_sink_job *
sink_job(void)
{
	const struct ainftp_sink_hdr *h = fx.rt.sink->base;

	ck_assert_uint_eq(h->magic, AINFTP_SINK_MAGIC);
	ck_assert_uint_eq(h->version, AINFTP_SINK_VERSION);
	ck_assert_uint_eq(h->n_jobs, 1);
	ck_assert_uint_eq(h->jobs[0].id, JOB);
	ck_assert_uint_eq(h->jobs[0].n_slots, SLOTS);
	ck_assert_uint_eq(h->jobs[0].elems, ELEMS);
	return &h->jobs[0];
}

static struct ainftp_sink_mark *
entry(uint32_t slot)
{
	return ainftp_sink_entry(fx.rt.sink->base, sink_job(), slot);
}

/* The entry of r's slot holds r: the mark's fields and the payload's bytes. */
static void
assert_entry_is(const struct result *r)
{
	const struct ainftp_sink_job *sj = sink_job();
	struct ainftp_sink_mark *e = entry(r->m.slot), c;
	uint8_t buf[ELEMS * 4];

	ck_assert_uint_eq(r->m.chunk % SLOTS, r->m.slot);
	ck_assert_int_eq(ainftp_sink_read(e, &c, buf, sj->payload_len), 1);
	ck_assert_uint_eq(c.seq_ready, ainftp_seq(r->m.step, r->m.chunk) + 1);
	ck_assert_uint_eq(c.bitmap, r->m.bitmap);
	ck_assert_uint_eq(c.count, r->m.contributors);
	ck_assert_int_eq(c.exp, r->m.scale_exp);
	ck_assert_uint_eq(c.flags, r->m.flags & AINFTP_F_OVERFLOW);
	ck_assert_uint_eq(sj->payload_len, ainftp_payload_len(r->m.encoding, ELEMS));
	ck_assert_mem_eq(buf, r->payload, sj->payload_len);
}

static uint64_t
stats_sink_written(void)
{
	json_t *o = ainftp_stats_json(&fx.rt, 0), *s = json_object_get(o, "sink");
	uint64_t n;

	ck_assert_ptr_nonnull(s);
	n = (uint64_t)json_integer_value(json_object_get(s, "written"));
	json_decref(o);
	return n;
}

/* Results marked in the arena, over its entries (gen / 2 counts an entry's completed writes). */
static uint64_t
marks_done(void)
{
	uint64_t n = 0;
	uint32_t k;

	for (k = 0; k < SLOTS; k++)
		n += __atomic_load_n(&entry(k)->gen, __ATOMIC_RELAXED) / 2;
	return n;
}

/* With the fake GPU: results marked when its last rte_gpu_wmb ran. */
static struct fake_gpu *gpu;
static uint64_t marks_at_wmb;

static void
on_gpu_wmb(void *arg __rte_unused)
{
	/* The first comes from the backend trying the barrier while the sink opens. */
	marks_at_wmb = fx.rt.sink != NULL ? marks_done() : 0;
}

/*
 * The doorbell after a poll that completed result number total: rung once with
 * total, so the sum of the job's doorbells is total. Through gpudev, three
 * barriers went by for it (before the entry's write, before its mark, before the
 * flag) and the last came after its mark: the flag never runs ahead of a mark.
 */
static void
assert_rung(uint64_t total, unsigned long *wmbs)
{
	ck_assert_uint_eq(*ainftp_sink_doorbell(fx.rt.sink->base, 0, 0), total);
	ck_assert_uint_eq(ainftp_sink_bell(fx.rt.sink->base, 0), total);
	ck_assert_uint_eq(fx.rt.rx[FIX_RX_LCORE]->dp.bells_due, 0);
	if (fx.rt.sink->ops != &ainftp_sink_gpudev_ops || gpu->refuse_wmb)
		return;
	ck_assert_uint_eq(gpu->wmbs, *wmbs + 3);
	ck_assert_uint_eq(marks_at_wmb, total);
	*wmbs = gpu->wmbs;
}

/*
 * Three steps of 16 chunks (each slot twice a step) on an arena already up with
 * result encoding res: after each chunk's last contribution, its result went out
 * and its entry holds exactly it, written once more than before (gen + 2); marks
 * only grow; the doorbell counts every result; the counts agree.
 */
static void
chunks_land_once(void)
{
	uint32_t gen[SLOTS] = {0};
	uint64_t last[SLOTS] = {0}, total = 0;
	unsigned long wmbs = gpu != NULL ? gpu->wmbs : 0;
	uint32_t step, chunk, k;
	struct result r[8];
	unsigned int w, n;

	ck_assert_ptr_nonnull(fx.rt.sink);
	ck_assert_uint_eq(ainftp_sink_bell(fx.rt.sink->base, 0), 0);
	for (k = 0; k < SLOTS; k++) {
		ck_assert_uint_eq(entry(k)->seq_ready, 0);
		ck_assert_uint_eq(entry(k)->gen, 0);
	}
	for (step = 0; step < 3; step++) {
		for (chunk = 0; chunk < 16; chunk++) {
			k = chunk % SLOTS;
			for (w = 0; w < NW; w++) {
				send_contrib(w, step, chunk);
				n = drain(r, RTE_DIM(r));
				/* Nothing before the last contribution, and no write either. */
				if (w < NW - 1) {
					ck_assert_uint_eq(n, 0);
					ck_assert_uint_eq(entry(k)->gen, gen[k]);
					ck_assert_uint_eq(ainftp_sink_bell(fx.rt.sink->base, 0),
							  total);
					continue;
				}
				ck_assert_uint_eq(n, NW);
				ck_assert_uint_eq(r[0].m.step, step);
				ck_assert_uint_eq(r[0].m.chunk, chunk);
				ck_assert_uint_eq(r[0].m.contributors, NW);
				assert_entry_is(&r[0]);
			}
			gen[k] += 2;
			ck_assert_uint_eq(entry(k)->gen, gen[k]);
			ck_assert_uint_gt(entry(k)->seq_ready, last[k]);
			last[k] = entry(k)->seq_ready;
			total++;
			assert_rung(total, &wmbs);
		}
	}
	ck_assert_uint_eq(total, 48);
	ck_assert_uint_eq(ainftp_ctr_read(&ainftp_stats[FIX_RX_LCORE].sink_written), total);
	ck_assert_uint_eq(ainftp_ctr_read(&ainftp_stats[FIX_RX_LCORE].port[0].chunks_done), total);
	ck_assert_uint_eq(stats_sink_written(), total);
}

static void
every_chunk_once(const char *res)
{
	up_host(res);
	ck_assert_str_eq(fx.rt.sink->ops->name, "host");
	chunks_land_once();
}

START_TEST(test_every_chunk_once_f32)
{
	every_chunk_once("float32");
}
END_TEST

/* int16 results: the mark's exp is the result header's scale_exp. */
START_TEST(test_every_chunk_once_i16)
{
	every_chunk_once("int16");
}
END_TEST

/* A worker that lost its result retransmits: the shadow goes out again, the entry is untouched. */
START_TEST(test_resend_not_rewritten)
{
	struct ainftp_sink_mark before;
	struct result r[8];
	unsigned int w;

	up_host("float32");
	for (w = 0; w < NW; w++)
		send_contrib(w, 4, 3);
	ck_assert_uint_eq(drain(r, RTE_DIM(r)), NW);
	assert_entry_is(&r[0]);
	before = *entry(3);
	ck_assert_uint_eq(before.gen, 2);
	send_contrib(1, 4, 3);
	ck_assert_uint_eq(drain(r, RTE_DIM(r)), 1);
	ck_assert_uint_eq(ainftp_ctr_read(&ainftp_stats[FIX_RX_LCORE].port[0].results_resent), 1);
	ck_assert_mem_eq(entry(3), &before, sizeof(before));
	assert_entry_is(&r[0]);
	ck_assert_uint_eq(ainftp_ctr_read(&ainftp_stats[FIX_RX_LCORE].sink_written), 1);
	/* Nor does a duplicate of a contribution still summing (the next chunk of the slot). */
	send_contrib(0, 4, 3 + SLOTS);
	send_contrib(0, 4, 3 + SLOTS);
	ck_assert_uint_eq(drain(r, RTE_DIM(r)), 0);
	ck_assert_mem_eq(entry(3), &before, sizeof(before));
}
END_TEST

/* off, given or by leaving "sink" out: no arena, no file, nothing counted. */
static void
assert_off(void)
{
	struct result r[8];
	unsigned int w;

	ck_assert_ptr_null(fx.rt.sink);
	ck_assert_ptr_null(fx.rt.rx[FIX_RX_LCORE]->dp.jobs[0].sink_entries);
	for (w = 0; w < NW; w++)
		send_contrib(w, 0, 0);
	ck_assert_uint_eq(drain(r, RTE_DIM(r)), NW);
	ck_assert_uint_eq(ainftp_ctr_read(&ainftp_stats[FIX_RX_LCORE].sink_written), 0);
	ck_assert_uint_eq(stats_sink_written(), 0);
	ck_assert_int_ne(access(sink_path, F_OK), 0);
}

START_TEST(test_off)
{
	char sink[256];

	snprintf(sink, sizeof(sink), ", \"sink\": {\"backend\": \"off\", \"path\": \"%s\"}",
		 sink_path);
	up("float32", sink);
	assert_off();
}
END_TEST

START_TEST(test_absent_is_off)
{
	up("float32", "");
	assert_off();
}
END_TEST

/* No GPU through gpudev (Debian's DPDK has no GPU driver): host, marked as a fallback. */
START_TEST(test_gpudev_falls_back)
{
	char sink[256];

	snprintf(sink, sizeof(sink), ", \"sink\": {\"backend\": \"gpudev\", \"path\": \"%s\"}",
		 sink_path);
	up("float32", sink);
	ck_assert_ptr_nonnull(fx.rt.sink);
	ck_assert_str_eq(fx.rt.sink->ops->name, "host");
	ck_assert(fx.rt.sink->fell_back);
	send_contrib(0, 0, 1);
	send_contrib(1, 0, 1);
	send_contrib(2, 0, 1);
	ck_assert_uint_eq(entry(1)->seq_ready, ainftp_seq(0, 1) + 1);
}
END_TEST

/*
 * A GPU through gpudev (the fake device): the arena registered whole with it,
 * every chunk lands once, each doorbell is an rte_gpu_comm flag set after
 * rte_gpu_wmb; at close the registration is given back.
 */
static void
gpu_setup(void)
{
	setup();
	gpu = fake_gpu_attach();
	gpu->on_wmb = on_gpu_wmb;
}

static void
gpu_teardown(void)
{
	teardown();
	ck_assert_ptr_null(gpu->reg_ptr);
	fake_gpu_detach(gpu);
	gpu = NULL;
}

static void
up_gpudev(const char *res)
{
	char sink[256];

	snprintf(sink, sizeof(sink),
		 ", \"sink\": {\"backend\": \"gpudev\", \"device\": %d, \"path\": \"%s\"}",
		 gpu->dev_id, sink_path);
	up(res, sink);
}

static void
gpudev_chunks(const char *res)
{
	up_gpudev(res);
	ck_assert_str_eq(fx.rt.sink->ops->name, "gpudev");
	ck_assert(!fx.rt.sink->fell_back);
	ck_assert_uint_eq(gpu->registrations, 1);
	ck_assert_ptr_eq(gpu->reg_ptr, fx.rt.sink->base);
	ck_assert_uint_eq(gpu->reg_size, fx.rt.sink->size);
	chunks_land_once();
}

START_TEST(test_gpudev_f32)
{
	gpudev_chunks("float32");
}
END_TEST

START_TEST(test_gpudev_i16)
{
	gpudev_chunks("int16");
}
END_TEST

/* A GPU that refuses the registration: host, marked as a fallback, results still land. */
START_TEST(test_gpudev_refused)
{
	gpu->refuse_register = 1;
	up_gpudev("float32");
	ck_assert_str_eq(fx.rt.sink->ops->name, "host");
	ck_assert(fx.rt.sink->fell_back);
	ck_assert_uint_eq(gpu->registrations, 0);
	chunks_land_once();
	ck_assert_uint_eq(gpu->wmbs, 0);
}
END_TEST

/*
 * A device whose rte_gpu_wmb fails (gpu/cuda's ENOTSUP, without GPUDirect RDMA write
 * ordering): still gpudev, tried once at open and never again; CPU fences order the
 * arena, and every result lands and rings as before.
 */
START_TEST(test_gpudev_no_wmb)
{
	gpu->refuse_wmb = 1;
	up_gpudev("float32");
	ck_assert_str_eq(fx.rt.sink->ops->name, "gpudev");
	ck_assert(!fx.rt.sink->fell_back);
	ck_assert_uint_eq(gpu->wmbs, 1);
	chunks_land_once();
	ck_assert_uint_eq(gpu->wmbs, 1);
}
END_TEST

/* A device id gpudev does not have: the same. */
START_TEST(test_gpudev_no_such_device)
{
	char sink[256];

	snprintf(sink, sizeof(sink),
		 ", \"sink\": {\"backend\": \"gpudev\", \"device\": %d, \"path\": \"%s\"}",
		 gpu->dev_id + 1, sink_path);
	up("float32", sink);
	ck_assert_str_eq(fx.rt.sink->ops->name, "host");
	ck_assert(fx.rt.sink->fell_back);
	ck_assert_uint_eq(gpu->registrations, 0);
}
END_TEST

/* The same through CUDA where the driver cannot be loaded (skipped on a box that has one). */
START_TEST(test_cuda_falls_back)
{
	void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	char sink[256];

	if (driver != NULL) {
		dlclose(driver);
		fprintf(stderr, "test_cuda_falls_back: libcuda.so.1 is here, skipped\n");
		return;
	}
	snprintf(sink, sizeof(sink), ", \"sink\": {\"backend\": \"cuda\", \"path\": \"%s\"}",
		 sink_path);
	up("float32", sink);
	ck_assert_str_eq(fx.rt.sink->ops->name, "host");
	ck_assert(fx.rt.sink->fell_back);
}
END_TEST

/* The consumer's side of the protocol, on an entry written by hand. */
START_TEST(test_read_protocol)
{
	_Alignas(64) uint8_t raw[AINFTP_SINK_ALIGN + 16] = {0};
	struct ainftp_sink_mark *m = (struct ainftp_sink_mark *)raw, c;
	uint8_t buf[16];

	ck_assert_int_eq(ainftp_sink_read(m, &c, buf, sizeof(buf)), 0);
	m->gen = 1; /* being written */
	ck_assert_int_eq(ainftp_sink_read(m, &c, buf, sizeof(buf)), -1);
	memset(ainftp_sink_payload(m), 0xab, 16);
	m->bitmap = 5;
	m->count = 2;
	m->exp = -3;
	m->seq_ready = ainftp_seq(2, 9) + 1;
	m->gen = 2;
	ck_assert_int_eq(ainftp_sink_read(m, &c, buf, sizeof(buf)), 1);
	ck_assert_uint_eq(c.seq_ready, ainftp_seq(2, 9) + 1);
	ck_assert_uint_eq(c.bitmap, 5);
	ck_assert_uint_eq(c.count, 2);
	ck_assert_int_eq(c.exp, -3);
	ck_assert_uint_eq(c.gen, 2);
	ck_assert_uint_eq(buf[0], 0xab);
	ck_assert_uint_eq(buf[15], 0xab);
}
END_TEST

static Suite *
sink_suite(void)
{
	Suite *s = suite_create("sink");
	TCase *tc = tcase_create("dp");
	TCase *unit = tcase_create("protocol");
	TCase *gpu_tc = tcase_create("gpudev");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_every_chunk_once_f32);
	tcase_add_test(tc, test_every_chunk_once_i16);
	tcase_add_test(tc, test_resend_not_rewritten);
	tcase_add_test(tc, test_off);
	tcase_add_test(tc, test_absent_is_off);
	tcase_add_test(tc, test_gpudev_falls_back);
	tcase_add_test(tc, test_cuda_falls_back);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(gpu_tc, gpu_setup, gpu_teardown);
	tcase_add_test(gpu_tc, test_gpudev_f32);
	tcase_add_test(gpu_tc, test_gpudev_i16);
	tcase_add_test(gpu_tc, test_gpudev_refused);
	tcase_add_test(gpu_tc, test_gpudev_no_wmb);
	tcase_add_test(gpu_tc, test_gpudev_no_such_device);
	suite_add_tcase(s, gpu_tc);
	tcase_add_test(unit, test_read_protocol);
	suite_add_tcase(s, unit);
	return s;
}

int
main(void)
{
	fixture_eal_init("test_sink", 0);
	return fixture_run(sink_suite());
}
