/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The aggregation data path through a net_ring port and the RX lcore's real
 * poll: sums, the result fan-out, retransmissions, and every kind of bad packet
 * the issue names (wrong key, unknown worker, wrong job, stale step, truncated
 * payload, wrong element count) counted and never changing a sum. Frames are
 * built here by hand; expected sums are computed here with __int128.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_telemetry.h>

#include "ainftp_codec.h"
#include "ainftp_ctrl.h"
#include "ainftp_dp.h"
#include "ainftp_dp_view.h"
#include "ainftp_members.h"
#include "ainftp_partial.h"
#include "ainftp_quant.h"
#include "ainftp_quorum.h"
#include "ainftp_proto.h"
#include "ainftp_rx.h"
#include "ainftp_sentry.h"
#include "ainftp_stats.h"
#include "fixture.h"

#define JOB 7
#define ELEMS 64
#define SLOTS 8
#define NW 3
#define PORT 47474

static struct fixture fx;

static const uint8_t keys[NW][32] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};

/* The job: 3 workers with keys 01020300.., 04050600.., 07080900.., on ports and lcores as given. */
/* Every result waits for all three (min_quorum 3: the default is a majority, 2). */
#define DP_JSON(ports, rx, encoding) \
	DP_JSON_X(ports, rx, encoding, "\"straggler\": {\"min_quorum\": 3},")
/* The same with more keys for the job (`extra`: a comma-terminated list). */
#define DP_JSON_X(ports, rx, encoding, extra)                                                     \
	"{\"appliance\": {\"ipv4\": \"" FIX_IP "\", \"mac\": \"02:00:00:00:00:02\"},"             \
	" \"ports\": [{\"device\": \"net_ring_fix\"" ports "}],"                                  \
	" \"lcores\": {\"control\": 0, \"rx\": [" rx "]},"                                        \
	" \"jobs\": [{\"id\": 7, \"elems_per_packet\": 64, \"encoding\": \"" encoding "\"," extra \
	"   \"slots\": 8, \"workers\": ["                                                         \
	"    {\"id\": 0, \"ipv4\": \"198.18.0.11\", \"key\": "                                    \
	"\"0102030000000000000000000000000000000000000000000000000000000000\"},"                  \
	"    {\"id\": 1, \"ipv4\": \"198.18.0.12\", \"key\": "                                    \
	"\"0405060000000000000000000000000000000000000000000000000000000000\"},"                  \
	"    {\"id\": 2, \"ipv4\": \"198.18.0.13\", \"key\": "                                    \
	"\"0708090000000000000000000000000000000000000000000000000000000000\"}]}],"               \
	" \"telemetry\": {\"stats_interval_s\": 0}}"
#define RX_Q(q) "{\"lcore\": 1, \"port\": 0, \"queue\": " #q "}"

static const char dp_json[] = DP_JSON("", RX_Q(0), "int16");

/*
 * The UDP port worker w's current process sends from: 0 is the fixture's
 * (40000 + w); a restarted one's is another. Its frames leave from there and
 * what the appliance sends it must go there. Every test starts at 0.
 */
static uint16_t moved_port[NW];

/* Worker key's MAC keys, with the MAC of the job under test (cluster.json auth_mac). */
static void
job_mk(const uint8_t *key, struct ainftp_mac_key *mk)
{
	ck_assert_int_eq(ainftp_mac_key_init(mk, key), 0);
	mk->alg = (uint8_t)fx.cfg.jobs[0].auth_mac;
}

/*
 * fixture_data_frame tags with SipHash: a frame of len bytes whose tag ends
 * it, tagged again under the job's MAC.
 */
static size_t
job_retag(uint8_t *f, size_t len, const uint8_t *key)
{
	struct ainftp_mac_key mk;

	job_mk(key, &mk);
	ainftp_mac(&mk, f + 42, len - 42 - AINFTP_TAG_LEN, f + len - AINFTP_TAG_LEN);
	return len;
}

/* A frame built by fixture_data_frame for worker w, from its current process's port. */
static size_t
from_process(uint8_t *f, size_t len, unsigned int w)
{
	if (w < NW && moved_port[w] != 0)
		fixture_put16(f + 34, moved_port[w]); /* no UDP checksum to fix: it is 0 */
	return len;
}

/* One worker's contribution to one chunk. */
struct contrib {
	unsigned int w;
	uint32_t step, chunk;
	uint64_t desc; /* its request (ainftp_req_desc); 0: not said */
	int8_t e;
	int16_t q[ELEMS];
};

static void
setup(void)
{
	memset(moved_port, 0, sizeof(moved_port));
	fixture_up_json(&fx, dp_json);
}

static void
teardown(void)
{
	fixture_down(&fx);
}

static void
contrib_fill(struct contrib *c, unsigned int w, uint32_t step, uint32_t chunk, int8_t e)
{
	unsigned int i;

	c->w = w;
	c->step = step;
	c->chunk = chunk;
	c->desc = 0;
	c->e = e;
	for (i = 0; i < ELEMS; i++)
		c->q[i] = (int16_t)((int)((i * 2654435761u + w * 40503u + chunk * 977u) % 60001) -
				    30000);
}

/* An int16 contribution's frame. */
static size_t
data_frame(uint8_t *f, const struct contrib *c, const uint8_t *key, uint32_t job, uint16_t elems)
{
	struct ainftp_msg m = {
		.type = AINFTP_MSG_DATA,
		.encoding = AINFTP_ENC_INT16,
		.flags = AINFTP_F_AUTH,
		.job = job,
		.worker = (uint16_t)c->w,
		.elems = elems,
		.step = c->step,
		.chunk = c->chunk,
		.slot = (uint16_t)(c->chunk % SLOTS),
		.scale_exp = c->e,
		.bitmap = c->desc,
	};

	/* A little-endian host: int16 values are already in the wire's order. */
	return from_process(
		f, job_retag(f, fixture_data_frame(f, &m, c->q, (uint16_t)(elems * 2), key), key),
		c->w);
}

static void
send_contrib(const struct contrib *c)
{
	uint8_t f[2048];

	fixture_inject(&fx, f, (uint16_t)data_frame(f, c, keys[c->w], JOB, ELEMS));
}

/* The first n contributions of c, in order. */
static void
send_all(const struct contrib *c, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		send_contrib(&c[i]);
}

/* The exact sum of some contributions, converted as docs/QUANTIZATION.md says. */
static void
expected_sum(const struct contrib *c, unsigned int n, float *out)
{
	int emin = 127;
	unsigned int i, w;

	for (w = 0; w < n; w++)
		emin = c[w].e < emin ? c[w].e : emin;
	for (i = 0; i < ELEMS; i++) {
		__int128 s = 0;

		for (w = 0; w < n; w++)
			s += (__int128)c[w].q[i] * ((__int128)1 << (c[w].e - emin));
		out[i] = (float)ldexp((double)(int64_t)s, emin);
	}
}

/* Take every frame the appliance sent; return how many. */
static unsigned int
drain(struct rte_mbuf **out, unsigned int max)
{
	return rte_ring_dequeue_burst(fx.out, (void **)out, max, NULL);
}

/* The job's workers' keys as its cluster.json gives them (each fixture's own). */
static const uint8_t *
worker_key(unsigned int id)
{
	const struct ainftp_job_conf *j = &fx.cfg.jobs[0];
	uint16_t i;

	for (i = 0; i < j->n_workers; i++)
		if (j->workers[i].id == id)
			return j->workers[i].key;
	ck_abort_msg("the job has no worker %u", id);
	return NULL;
}

/* What the appliance sends after the header: a tag when the job has auth. */
static size_t
tag_len(void)
{
	return fx.cfg.jobs[0].auth ? AINFTP_TAG_LEN : 0;
}

/* The port's lanes: one UDP port, and RX queue, each. */
static unsigned int
lanes(void)
{
	return fx.cfg.ports[0].rx_queues;
}

/* A frame's bytes, copied (a chained result is read across its segments); its length. */
static uint16_t
frame_copy(struct rte_mbuf *m, uint8_t *buf, size_t cap)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const uint8_t *p;

	ck_assert_uint_le(len, cap);
	p = rte_pktmbuf_read(m, 0, len, buf);
	ck_assert_ptr_nonnull(p);
	if (p != buf)
		memcpy(buf, p, len);
	return (uint16_t)len;
}

/* The worker a frame from the appliance is addressed to, by its IPv4 destination. */
static unsigned int
frame_to(const uint8_t *f)
{
	return (unsigned int)f[33] - 11;
}

/* A reply is addressed to worker w: Ethernet, IPv4 and UDP destinations, from port `from`. */
static void
check_addressed(const uint8_t *f, unsigned int w, uint16_t from)
{
	ck_assert_uint_eq(f[5], 0x10 + w);	     /* Ethernet destination */
	ck_assert_uint_eq(f[33], 11 + w);	     /* IPv4 destination */
	ck_assert_uint_eq(f[34] << 8 | f[35], from); /* UDP source port */
	ck_assert_uint_eq(f[36] << 8 | f[37],	     /* UDP destination port */
			  w < NW && moved_port[w] != 0 ? moved_port[w] : 40000 + w);
}

/*
 * A RESULT as worker `to` takes it: addressed to it, tag (right after the
 * header, over header ‖ payload) checked under its own key when the job has
 * auth. The header read into msg; returns the payload, in buf, which holds
 * the frame (the check moves the header in place).
 */
static const uint8_t *
result_take(struct rte_mbuf *m, uint8_t *buf, unsigned int to, struct ainftp_msg *msg)
{
	uint16_t len = frame_copy(m, buf, 2048);
	struct ainftp_mac_key mk;

	ck_assert_uint_eq(len, 14 + 20 + 8 + 32 + tag_len() + ELEMS * 4);
	ck_assert_uint_eq(ainftp_hdr_check((const struct ainftp_hdr *)(buf + 42), len - 42u),
			  AINFTP_OK);
	ainftp_hdr_read((const struct ainftp_hdr *)(buf + 42), msg);
	/* From the slot's lane: the UDP port a worker sends that slot's data to. */
	check_addressed(buf, to, (uint16_t)(PORT + msg->slot % lanes()));
	ck_assert_uint_eq(msg->type, AINFTP_MSG_RESULT);
	ck_assert_uint_eq(msg->flags & AINFTP_F_AUTH, tag_len() != 0 ? AINFTP_F_AUTH : 0);
	if (tag_len() != 0) {
		job_mk(worker_key(to), &mk);
		ck_assert_msg(ainftp_result_verify(&mk, buf + 42, len - 42u) == 1,
			      "the result to worker %u has no tag of its key", to);
	}
	return buf + 42 + 32 + tag_len();
}

/* A result as a worker reads it: header fields and destination, tag, payload compared. */
static void
check_result(struct rte_mbuf *m, const struct contrib *chunk, const float *want, uint64_t bitmap,
	     unsigned int to_worker)
{
	uint8_t buf[2048];
	struct ainftp_msg msg;
	const uint8_t *payload = result_take(m, buf, to_worker, &msg);

	ck_assert_uint_eq(msg.job, JOB);
	ck_assert_uint_eq(msg.worker, AINFTP_WORKER_APPLIANCE);
	ck_assert_uint_eq(msg.step, chunk->step);
	ck_assert_uint_eq(msg.chunk, chunk->chunk);
	ck_assert_uint_eq(msg.slot, chunk->chunk % SLOTS);
	ck_assert_uint_eq(msg.encoding, AINFTP_ENC_FLOAT32);
	ck_assert_uint_eq(msg.contributors, __builtin_popcountll(bitmap));
	ck_assert_uint_eq(msg.bitmap, bitmap);
	ck_assert_uint_eq(msg.flags & AINFTP_F_OVERFLOW, 0);
	ck_assert_mem_eq(payload, want, ELEMS * 4);
}

/*
 * The one frame waiting is a STATE to worker w about the chunk (step, chunk)
 * it named: the header echoes it, the slot's contributors and bitmap, tagged
 * under w's key (and no other worker's) when the job has auth. Its body in si.
 */
static void
expect_state(unsigned int w, uint32_t step, uint32_t chunk, enum ainftp_state_reason reason,
	     struct ainftp_msg *msg, struct ainftp_state_info *si)
{
	struct rte_mbuf *out[8];
	unsigned int n = drain(out, 8), v;
	uint8_t buf[2048];
	const uint8_t *h = buf + 42;
	uint16_t len;

	ck_assert_uint_eq(n, 1);
	len = frame_copy(out[0], buf, sizeof(buf));
	rte_pktmbuf_free(out[0]);
	ck_assert_uint_eq(len, 42 + 32 + AINFTP_BODY_LEN + tag_len());
	check_addressed(buf, w, (uint16_t)(PORT + (chunk % SLOTS) % lanes()));
	ck_assert_uint_eq(ainftp_hdr_check((const struct ainftp_hdr *)h, len - 42u), AINFTP_OK);
	ainftp_hdr_read((const struct ainftp_hdr *)h, msg);
	ck_assert_uint_eq(msg->type, AINFTP_MSG_STATE);
	ck_assert_uint_eq(msg->job, JOB);
	ck_assert_uint_eq(msg->worker, AINFTP_WORKER_APPLIANCE);
	ck_assert_uint_eq(msg->step, step);
	ck_assert_uint_eq(msg->chunk, chunk);
	ck_assert_uint_eq(msg->slot, chunk % SLOTS);
	/* A mismatch's bitmap is the other request, not workers (ainftp_req_desc). */
	if (reason != AINFTP_STATE_MISMATCH)
		ck_assert_uint_eq(msg->contributors, __builtin_popcountll(msg->bitmap));
	if (tag_len() != 0) {
		ck_assert_uint_eq(msg->flags, AINFTP_F_AUTH);
		for (v = 0; v < fx.cfg.jobs[0].n_workers; v++) {
			struct ainftp_mac_key mk;

			job_mk(worker_key(fx.cfg.jobs[0].workers[v].id), &mk);
			ck_assert_int_eq(ainftp_mac_verify(&mk, h, 32 + AINFTP_BODY_LEN,
							   h + 32 + AINFTP_BODY_LEN),
					 fx.cfg.jobs[0].workers[v].id == w);
		}
	} else {
		ck_assert_uint_eq(msg->flags, 0);
	}
	ainftp_state_read((const struct ainftp_state *)(h + 32), si);
	ck_assert_msg(si->reason == reason, "STATE %s, want %s",
		      si->reason < AINFTP_STATE_REASON_MAX ? ainftp_state_reason_names[si->reason]
							   : "?",
		      ainftp_state_reason_names[reason]);
}

/* The STATE's body and header: where the slot is. */
static void
check_slot_state(const struct ainftp_msg *msg, const struct ainftp_state_info *si,
		 uint8_t slot_state, uint32_t slot_step, uint32_t slot_chunk, uint32_t next_step,
		 uint64_t bitmap)
{
	ck_assert_uint_eq(si->slot_state, slot_state);
	ck_assert_uint_eq(si->slot_step, slot_step);
	ck_assert_uint_eq(si->slot_chunk, slot_chunk);
	ck_assert_uint_eq(si->next_step, next_step);
	ck_assert_uint_eq(msg->bitmap, bitmap);
}

static uint64_t
proto_drops(enum ainftp_bad why)
{
	struct ainftp_port_ctr sum;

	ainftp_counters_port_sum(0, &sum);
	return sum.proto_drops[why];
}

static uint64_t
all_proto_drops(void)
{
	uint64_t n = 0;

	for (int why = AINFTP_OK + 1; why < AINFTP_BAD_MAX; why++)
		n += proto_drops((enum ainftp_bad)why);
	return n;
}

/* A port counter summed over the lcores. */
static uint64_t
port_ctr(size_t offset)
{
	struct ainftp_port_ctr sum;

	ainftp_counters_port_sum(0, &sum);
	return *(const uint64_t *)((const char *)&sum + offset);
}

#define CTR(field) port_ctr(offsetof(struct ainftp_port_ctr, field))

/* Three workers, one chunk: three results, one per worker, exact; nothing before the last. */
START_TEST(a_chunk_is_summed_and_sent_to_every_worker)
{
	struct contrib c[NW];
	struct rte_mbuf *out[8];
	float want[ELEMS];
	unsigned int w, n;

	for (w = 0; w < NW; w++)
		contrib_fill(&c[w], w, 1, 3, (int8_t)(-10 + 2 * (int)w));
	expected_sum(c, NW, want);
	for (w = 0; w < NW; w++) {
		send_contrib(&c[w]);
		n = drain(out, 8);
		ck_assert_uint_eq(n, w + 1 < NW ? 0 : NW);
	}
	for (w = 0; w < NW; w++)
		check_result(out[w], &c[0], want, 0x7, w);
	rte_pktmbuf_free_bulk(out, n);
}
END_TEST

/* Worker widx's contributions in a result and its refused packets, over the RX lcores. */
static void
assert_worker_counts(uint16_t widx, uint64_t contribs, uint64_t drops)
{
	struct ainftp_dp_lag l;

	ainftp_dp_worker_lag(&fx.rt, 0, widx, &l);
	ck_assert_uint_eq(l.contribs, contribs);
	ck_assert_uint_eq(l.drops, drops);
}

/* Retransmissions: before completion a duplicate; after, the kept result to that worker only. */
START_TEST(retransmissions_are_idempotent)
{
	struct contrib c[NW];
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	struct rte_mbuf *out[8];
	float want[ELEMS];
	unsigned int w, n;

	for (w = 0; w < NW; w++)
		contrib_fill(&c[w], w, 0, 5, -7);
	expected_sum(c, NW, want);
	send_contrib(&c[0]);
	send_contrib(&c[0]);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_DUPLICATE), 1);
	/* Answered: it is in, the chunk waits for the others (no step completed yet). */
	expect_state(0, 0, 5, AINFTP_STATE_HAVE, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 0, 5, 0, 0x1);
	ck_assert_uint_eq(CTR(states_sent), 1);
	send_contrib(&c[1]);
	send_contrib(&c[2]);
	n = drain(out, 8);
	ck_assert_uint_eq(n, NW);
	rte_pktmbuf_free_bulk(out, n);

	send_contrib(&c[1]); /* worker 1 lost its result */
	n = drain(out, 8);
	ck_assert_uint_eq(n, 1);
	check_result(out[0], &c[0], want, 0x7, 1);
	rte_pktmbuf_free_bulk(out, n);

	/* Still answered from the kept copy once the slot has moved on to its next chunk. */
	contrib_fill(&c[0], 0, 0, 5 + SLOTS, -7);
	send_contrib(&c[0]);
	contrib_fill(&c[2], 2, 0, 5, -7);
	send_contrib(&c[2]);
	n = drain(out, 8);
	ck_assert_uint_eq(n, 1);
	check_result(out[0], &c[1], want, 0x7, 2);
	rte_pktmbuf_free_bulk(out, n);
	/* Per worker: worker 0's duplicate is its drop; answered retransmissions are none. */
	assert_worker_counts(0, 2, 1);
	assert_worker_counts(1, 1, 0);
	assert_worker_counts(2, 1, 0);
}
END_TEST

/*
 * Two good contributions, then a bad frame, then the third good one: the result
 * must be the sum of the three good ones, and the bad frame counted under `why`.
 */
static void
bad_frame_never_changes_the_sum(const uint8_t *frame, size_t len, enum ainftp_bad why,
				const struct contrib *c)
{
	struct rte_mbuf *out[8];
	float want[ELEMS];
	uint64_t before = proto_drops(why);
	unsigned int n;

	expected_sum(c, NW, want);
	send_contrib(&c[0]);
	send_contrib(&c[1]);
	fixture_inject(&fx, frame, (uint16_t)len);
	ck_assert_uint_eq(drain(out, 8), 0);
	ck_assert_msg(proto_drops(why) == before + 1, "not counted as %s", ainftp_bad_names[why]);
	send_contrib(&c[2]);
	n = drain(out, 8);
	ck_assert_uint_eq(n, NW);
	check_result(out[0], &c[0], want, 0x7, 0);
	rte_pktmbuf_free_bulk(out, n);
}

static void
three(struct contrib *c, uint32_t step, uint32_t chunk)
{
	unsigned int w;

	for (w = 0; w < NW; w++)
		contrib_fill(&c[w], w, step, chunk, (int8_t)(-3 - (int)w));
}

START_TEST(wrong_key)
{
	struct contrib c[NW], evil;
	uint8_t f[2048];

	three(c, 2, 1);
	contrib_fill(&evil, 2, 2, 1, 20); /* worker 2's frame, signed with worker 1's key */
	bad_frame_never_changes_the_sum(f, data_frame(f, &evil, keys[1], JOB, ELEMS),
					AINFTP_BAD_TAG, c);
	/* From worker 2's address: its telemetry counts it, and nobody else's. */
	assert_worker_counts(1, 1, 0);
	assert_worker_counts(2, 1, 1);
}
END_TEST

/* A frame into the RX ring without a poll: several make one burst. */
static void
enqueue_frame(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fx.pool);

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(rte_pktmbuf_append(m, (uint16_t)len));
	memcpy(rte_pktmbuf_mtod(m, void *), f, len);
	ck_assert_int_eq(rte_ring_enqueue(fx.in, m), 0);
}

/*
 * Tags are checked a burst at a time, several per SIMD pass: in one burst of
 * every worker's contribution to every slot, exactly the two with a wrong tag
 * are refused and the others summed; sent again with their right tags, the
 * two chunks they held back complete with the exact sums.
 */
START_TEST(tags_checked_a_burst_at_a_time)
{
	static const uint32_t bad[] = {2, 5}; /* worker 1's frame of these chunks */
	uint64_t before = proto_drops(AINFTP_BAD_TAG);
	struct contrib c[SLOTS][NW];
	struct rte_mbuf *out[64];
	float want[ELEMS];
	uint8_t f[2048];
	unsigned int k, w, n, i;
	size_t len;

	for (k = 0; k < SLOTS; k++)
		three(c[k], 1, k);
	for (k = 0; k < SLOTS; k++)
		for (w = 0; w < NW; w++) {
			len = data_frame(f, &c[k][w], keys[w], JOB, ELEMS);
			if (w == 1 && (k == bad[0] || k == bad[1]))
				f[len - 1] ^= 0x40; /* the tag's last byte */
			enqueue_frame(f, len);
		}
	ck_assert_uint_eq(ainftp_rx_poll(fx.rt.rx[FIX_RX_LCORE]), SLOTS * NW);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_TAG), before + 2);
	n = drain(out, RTE_DIM(out));
	ck_assert_uint_eq(n, (SLOTS - 2) * NW);
	rte_pktmbuf_free_bulk(out, n);
	for (i = 0; i < 2; i++)
		enqueue_frame(f, data_frame(f, &c[bad[i]][1], keys[1], JOB, ELEMS));
	ainftp_rx_poll(fx.rt.rx[FIX_RX_LCORE]);
	n = drain(out, RTE_DIM(out));
	ck_assert_uint_eq(n, 2 * NW);
	for (i = 0; i < 2; i++) {
		expected_sum(c[bad[i]], NW, want);
		check_result(out[i * NW], c[bad[i]], want, 0x7, 0);
	}
	rte_pktmbuf_free_bulk(out, n);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_TAG), before + 2);
}
END_TEST

START_TEST(unknown_worker)
{
	struct contrib c[NW], evil;
	uint8_t f[2048];

	three(c, 2, 1);
	contrib_fill(&evil, 2, 2, 1, 20);
	evil.w = 9; /* not in the job; from worker 2's address */
	bad_frame_never_changes_the_sum(f, data_frame(f, &evil, keys[2], JOB, ELEMS),
					AINFTP_BAD_WORKER, c);
}
END_TEST

START_TEST(wrong_job)
{
	struct contrib c[NW], evil;
	uint8_t f[2048];

	three(c, 2, 1);
	contrib_fill(&evil, 2, 2, 1, 20);
	bad_frame_never_changes_the_sum(f, data_frame(f, &evil, keys[2], JOB + 1, ELEMS),
					AINFTP_BAD_JOB, c);
}
END_TEST

/*
 * A stale contribution is refused, counted, answered with a STATE that tells
 * its sender to skip the chunk (the slot sums a later step), and changes no sum.
 */
START_TEST(stale_step)
{
	struct contrib c[NW], old;
	struct rte_mbuf *out[8];
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	float want[ELEMS];
	uint8_t f[2048];
	unsigned int w, n;

	/* Steps 1 and 2 complete on slot 1; step 1 is then neither current nor kept. */
	for (w = 0; w < NW; w++) {
		contrib_fill(&c[w], w, 1, 1, -4);
		send_contrib(&c[w]);
	}
	for (w = 0; w < NW; w++) {
		contrib_fill(&c[w], w, 2, 1, -4);
		send_contrib(&c[w]);
	}
	rte_pktmbuf_free_bulk(out, drain(out, 8));
	rte_pktmbuf_free_bulk(out, drain(out, 8));
	three(c, 3, 1);
	expected_sum(c, NW, want);
	send_all(c, 2);
	contrib_fill(&old, 2, 1, 1, 20);
	fixture_inject(&fx, f, (uint16_t)data_frame(f, &old, keys[2], JOB, ELEMS));
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_STALE), 1);
	/* Slot 1 sums step 3 with workers 0 and 1; steps up to 2 are done: rejoin at 3. */
	expect_state(2, 1, 1, AINFTP_STATE_STALE, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 3, 1, 3, 0x3);
	send_contrib(&c[2]);
	n = drain(out, 8);
	ck_assert_uint_eq(n, NW);
	check_result(out[0], &c[0], want, 0x7, 0);
	rte_pktmbuf_free_bulk(out, n);
}
END_TEST

START_TEST(truncated_payload)
{
	struct contrib c[NW], evil;
	uint8_t f[2048];
	size_t n;

	three(c, 2, 1);
	contrib_fill(&evil, 2, 2, 1, 20);
	n = data_frame(f, &evil, keys[2], JOB, ELEMS);
	/* Cut 40 bytes off the end and make IPv4 and UDP agree: ainftp must notice. */
	fixture_put16(f + 16, (uint16_t)(n - 14 - 40));
	fixture_put16(f + 24, 0);
	fixture_put16(f + 24, fixture_ip_csum(f + 14));
	fixture_put16(f + 38, (uint16_t)(n - 34 - 40));
	bad_frame_never_changes_the_sum(f, n - 40, AINFTP_BAD_TRUNCATED, c);
}
END_TEST

START_TEST(wrong_element_count)
{
	struct contrib c[NW], evil;
	uint8_t f[2048];

	three(c, 2, 1);
	contrib_fill(&evil, 2, 2, 1, 20);
	/* A consistent frame (length, tag) for 32 elements where the job has 64. */
	bad_frame_never_changes_the_sum(f, data_frame(f, &evil, keys[2], JOB, ELEMS / 2),
					AINFTP_BAD_ELEMS, c);
}
END_TEST

/* A frame from worker 2 for (step 2, chunk 1), its header changed by `mutate` before signing. */
static size_t
mutated_frame(uint8_t *f, void (*mutate)(struct ainftp_msg *m, uint8_t *f))
{
	struct contrib c;
	struct ainftp_msg m;
	uint8_t *h = f + 42;
	size_t n;

	contrib_fill(&c, 2, 2, 1, 3);
	n = data_frame(f, &c, keys[2], JOB, ELEMS);
	ainftp_hdr_read((const struct ainftp_hdr *)h, &m);
	mutate(&m, f);
	ainftp_hdr_write((struct ainftp_hdr *)h, &m);
	ainftp_tag(keys[2], h, 32u + ELEMS * 2, h + 32 + ELEMS * 2);
	return n;
}

static void
m_type(struct ainftp_msg *m, uint8_t *f)
{
	(void)f;
	m->type = AINFTP_MSG_RESULT;
}

static void
m_aggregate(struct ainftp_msg *m, uint8_t *f)
{
	(void)f;
	m->flags |= AINFTP_F_AGGREGATE; /* a leaf box's sum: only a spine's job takes one */
}

static void
m_encoding(struct ainftp_msg *m, uint8_t *f)
{
	(void)f;
	m->encoding = 9;
}

static void
m_encoding_other(struct ainftp_msg *m, uint8_t *f)
{
	(void)f;
	/* A valid encoding with a consistent length, just not the job's: 32 int16 = 16 float32. */
	m->encoding = AINFTP_ENC_FLOAT32;
	m->elems = ELEMS / 2;
}

static void
m_auth_missing(struct ainftp_msg *m, uint8_t *f)
{
	(void)f;
	m->flags = 0; /* then the 16 tag bytes are trailing garbage: shorten the frame too */
}

static void
m_source(struct ainftp_msg *m, uint8_t *f)
{
	(void)m;
	f[14 + 15] = 99; /* IPv4 source: not worker 2's address */
	fixture_put16(f + 24, 0);
	fixture_put16(f + 24, fixture_ip_csum(f + 14));
}

static void
m_slot(struct ainftp_msg *m, uint8_t *f)
{
	(void)f;
	m->slot = (uint16_t)((m->slot + 1) % SLOTS); /* not chunk % slots */
}

static void
m_slot_range(struct ainftp_msg *m, uint8_t *f)
{
	(void)f;
	m->slot = SLOTS;
}

static void
m_seq_none(struct ainftp_msg *m, uint8_t *f)
{
	(void)f;
	/* The last chunk of the last step: the slots' "none", reserved (fuzz_rx found it). */
	m->step = UINT32_MAX;
	m->chunk = UINT32_MAX;
	m->slot = (uint16_t)(UINT32_MAX % SLOTS);
}

static void
m_none(struct ainftp_msg *m, uint8_t *f)
{
	(void)m;
	(void)f;
}

/* Each refused frame: its own counter, nothing sent, nothing summed (then a clean chunk). */
static void
expect_refused(const uint8_t *f, size_t len, enum ainftp_bad why)
{
	struct rte_mbuf *out[8];
	uint64_t before = proto_drops(why);

	fixture_inject(&fx, f, (uint16_t)len);
	ck_assert_uint_eq(drain(out, 8), 0);
	ck_assert_msg(proto_drops(why) == before + 1, "not counted as %s", ainftp_bad_names[why]);
}

START_TEST(every_bad_field_has_its_own_counter)
{
	struct contrib c[NW];
	uint8_t f[2048];
	size_t n;

	n = mutated_frame(f, m_none);
	f[42] = 1; /* a v1 header, after signing: the version is checked before the tag */
	expect_refused(f, n, AINFTP_BAD_VERSION);
	expect_refused(f, mutated_frame(f, m_type), AINFTP_BAD_TYPE);
	/* A worker's payload flagged as a leaf's sum: the job (no spine) refuses the type. */
	expect_refused(f, mutated_frame(f, m_aggregate), AINFTP_BAD_TYPE);
	expect_refused(f, mutated_frame(f, m_encoding), AINFTP_BAD_ENCODING);
	expect_refused(f, mutated_frame(f, m_encoding_other), AINFTP_BAD_ENCODING);
	expect_refused(f, mutated_frame(f, m_source), AINFTP_BAD_SOURCE);
	expect_refused(f, mutated_frame(f, m_slot), AINFTP_BAD_SLOT);
	expect_refused(f, mutated_frame(f, m_slot_range), AINFTP_BAD_SLOT);
	expect_refused(f, mutated_frame(f, m_seq_none), AINFTP_BAD_SLOT);

	/* Without the AUTH flag the tag's 16 bytes are extra: first a length error... */
	expect_refused(f, mutated_frame(f, m_auth_missing), AINFTP_BAD_LENGTH);
	/* ...and cut to the right length, the job wants a tag it does not get. */
	n = mutated_frame(f, m_auth_missing) - 16;
	fixture_put16(f + 16, (uint16_t)(n - 14));
	fixture_put16(f + 24, 0);
	fixture_put16(f + 24, fixture_ip_csum(f + 14));
	fixture_put16(f + 38, (uint16_t)(n - 34));
	expect_refused(f, n, AINFTP_BAD_AUTH_MISSING);

	/* One flipped payload bit under a valid-looking tag. */
	n = mutated_frame(f, m_none);
	f[80] ^= 1;
	expect_refused(f, n, AINFTP_BAD_TAG);

	/* None of it touched a sum: the chunk those frames named completes exactly. */
	three(c, 2, 1);
	bad_frame_never_changes_the_sum(f, mutated_frame(f, m_type), AINFTP_BAD_TYPE, c);
}
END_TEST

/* Refused as slot_busy and answered AHEAD: the slot still sums chunk 2 of the same step. */
START_TEST(a_newer_chunk_while_a_slot_sums_is_refused)
{
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	struct contrib c;

	contrib_fill(&c, 0, 0, 2, 1);
	send_contrib(&c); /* slot 2 now sums chunk 2 */
	contrib_fill(&c, 1, 0, 2 + SLOTS, 1);
	send_contrib(&c);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT_BUSY), 1);
	expect_state(1, 0, 2 + SLOTS, AINFTP_STATE_AHEAD, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 0, 2, 0, 0x1);
	ck_assert_uint_eq(ainftp_dp_slots_busy(&fx.rt), 1);
	ck_assert_uint_eq(CTR(chunks_abandoned) + CTR(chunks_early), 0);
}
END_TEST

/* The same job on a two-lane port: slot k belongs to queue k % 2 and UDP port 47474 + k % 2. */
static const char two_lanes_json[] = DP_JSON(", \"rx_queues\": 2", RX_Q(0) "," RX_Q(1), "int16");

START_TEST(a_packet_off_its_lane_is_refused)
{
	struct rte_mbuf *out[8];
	struct contrib c;
	uint8_t f[2048];
	uint64_t before, all_before;
	size_t n;

	fixture_down(&fx);
	fixture_up_json(&fx, two_lanes_json);
	before = proto_drops(AINFTP_BAD_LANE);
	contrib_fill(&c, 0, 0, 1, 1); /* slot 1: lane 1 */
	n = data_frame(f, &c, keys[0], JOB, ELEMS);
	fixture_inject_q1(&fx, f, (uint16_t)n); /* lane 0's port, lane 1's queue */
	fixture_inject(&fx, f, (uint16_t)n);	/* lane 0's port and queue */
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_LANE), before + 2);
	ck_assert_uint_eq(ainftp_dp_slots_busy(&fx.rt), 0);
	fixture_put16(f + 36, PORT + 1);
	fixture_inject_q1(&fx, f, (uint16_t)n); /* where it belongs */
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_LANE), before + 2);
	ck_assert_uint_eq(ainftp_dp_slots_busy(&fx.rt), 1);
	/* Its lane's port on the other queue of the same lcore: the slot is that lcore's. */
	all_before = all_proto_drops();
	contrib_fill(&c, 1, 0, 1, 1);
	n = data_frame(f, &c, keys[1], JOB, ELEMS);
	fixture_put16(f + 36, PORT + 1);
	fixture_inject(&fx, f, (uint16_t)n);
	ck_assert_uint_eq(all_proto_drops(), all_before);
	ck_assert_uint_eq(drain(out, 8), 0);
}
END_TEST

/* The same three workers on a float32 job: where a NaN or an infinity can arrive. */
static const char f32_json[] = DP_JSON("", RX_Q(0), "float32");

static size_t
f32_frame(uint8_t *f, unsigned int w, const float *x)
{
	struct ainftp_msg m = {
		.type = AINFTP_MSG_DATA,
		.encoding = AINFTP_ENC_FLOAT32,
		.flags = AINFTP_F_AUTH,
		.job = JOB,
		.worker = (uint16_t)w,
		.elems = ELEMS,
		.step = 0,
		.chunk = 4,
		.slot = 4,
	};

	return fixture_data_frame(f, &m, x, ELEMS * 4, keys[w]);
}

/* A NaN or an infinity in a float32 contribution is refused as `value` and sums nothing. */
START_TEST(non_finite_float32_is_refused)
{
	static const float bad_values[] = {NAN, INFINITY, -INFINITY};
	float x[NW][ELEMS], evil[ELEMS], want[ELEMS];
	struct rte_mbuf *out[8];
	uint8_t f[2048];
	unsigned int w, i, b;
	uint64_t before;

	fixture_down(&fx);
	fixture_up_json(&fx, f32_json);
	/* Small integers: their float32 sum is exact, so the expected result is plain addition. */
	for (i = 0; i < ELEMS; i++) {
		for (w = 0; w < NW; w++)
			x[w][i] = (float)((int)(i * 7 + w * 13) % 101 - 50);
		want[i] = x[0][i] + x[1][i] + x[2][i];
	}
	fixture_inject(&fx, f, (uint16_t)f32_frame(f, 0, x[0]));
	fixture_inject(&fx, f, (uint16_t)f32_frame(f, 1, x[1]));
	for (b = 0; b < RTE_DIM(bad_values); b++) {
		memcpy(evil, x[2], sizeof(evil));
		evil[ELEMS - 1 - b] = bad_values[b];
		before = proto_drops(AINFTP_BAD_VALUE);
		fixture_inject(&fx, f, (uint16_t)f32_frame(f, 2, evil));
		ck_assert_uint_eq(proto_drops(AINFTP_BAD_VALUE), before + 1);
		ck_assert_uint_eq(drain(out, 8), 0);
	}
	fixture_inject(&fx, f, (uint16_t)f32_frame(f, 2, x[2]));
	ck_assert_uint_eq(drain(out, 8), NW);
	for (w = 0; w < NW; w++) {
		uint8_t buf[2048];
		struct ainftp_msg msg;

		ck_assert_mem_eq(result_take(out[w], buf, w, &msg), want, sizeof(want));
	}
	rte_pktmbuf_free_bulk(out, NW);
}
END_TEST

/* Four workers, float32, every one needed: the fourth worker's contribution completes a chunk. */
static const char f32_four_json[] =
	"{\"appliance\": {\"ipv4\": \"" FIX_IP "\", \"mac\": \"02:00:00:00:00:02\"},"
	" \"ports\": [{\"device\": \"net_ring_fix\"}],"
	" \"lcores\": {\"control\": 0, \"rx\": [" RX_Q(
		0) "]},"
		   " \"jobs\": [{\"id\": 7, \"elems_per_packet\": 64, \"encoding\": \"float32\","
		   "   \"auth\": false, \"straggler\": {\"min_quorum\": 4}, \"slots\": 8, "
		   "\"workers\": ["
		   "    {\"id\": 0, \"ipv4\": \"198.18.0.11\"}, {\"id\": 1, \"ipv4\": "
		   "\"198.18.0.12\"},"
		   "    {\"id\": 2, \"ipv4\": \"198.18.0.13\"}, {\"id\": 3, \"ipv4\": "
		   "\"198.18.0.14\"}]}],"
		   " \"telemetry\": {\"stats_interval_s\": 0}}";

/*
 * Issue 18's finding 1: workers 0-2 valid, worker 3 with a NaN in element 0,
 * same chunk. The NaN would have completed the chunk: it is one outcome
 * (`value`), not also a shortage of result mbufs. Four frames, four outcomes.
 */
START_TEST(a_non_finite_contribution_that_would_complete_is_counted_once)
{
	static const uint8_t no_key[32];
	float x[ELEMS];
	struct rte_mbuf *out[8];
	uint8_t f[2048];
	unsigned int w, i;

	fixture_down(&fx);
	fixture_up_json(&fx, f32_four_json);
	for (w = 0; w < 4; w++) {
		for (i = 0; i < ELEMS; i++)
			x[i] = (float)(i + w);
		if (w == 3)
			x[0] = NAN;
		fixture_inject(
			&fx, f,
			(uint16_t)fixture_data_frame(
				f,
				&(struct ainftp_msg){
					.type = AINFTP_MSG_DATA,
					.encoding = AINFTP_ENC_FLOAT32,
					.flags = AINFTP_F_AUTH, /* tagged; the job checks none */
					.job = JOB,
					.worker = (uint16_t)w,
					.elems = ELEMS,
					.chunk = 4,
					.slot = 4,
				},
				x, ELEMS * 4, no_key));
	}
	ck_assert_uint_eq(drain(out, 8), 0);
	ck_assert_uint_eq(CTR(rx_pkts), 4);
	ck_assert_uint_eq(CTR(data_pkts), 3);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_VALUE), 1);
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_RESULT_NOMBUF]), 0);
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_NOMBUF]), 0);
	ck_assert_int_eq(fixture_unaccounted(), 0);
}
END_TEST

START_TEST(slots_are_idle_and_mbufs_back_after_a_run)
{
	unsigned int before = rte_mempool_in_use_count(fx.pool), w, k;
	struct ainftp_dp *dp;
	struct rte_mbuf *out[8];
	struct contrib c;

	for (k = 0; k < 3 * SLOTS; k++)
		for (w = 0; w < NW; w++) {
			contrib_fill(&c, w, 0, k, -5);
			send_contrib(&c);
			rte_pktmbuf_free_bulk(out, drain(out, 8));
		}
	ck_assert_uint_eq(ainftp_dp_slots_busy(&fx.rt), 0);
	ck_assert_uint_eq(rte_mempool_in_use_count(fx.pool), before);
	/* Each slot keeps exactly its last result; the lcore's stash holds the rest taken. */
	dp = &fx.rt.rx[FIX_RX_LCORE]->dp;
	ck_assert_uint_gt(ainftp_mstash_count(&dp->result_stash), 0);
	ck_assert_uint_eq(rte_mempool_in_use_count(fx.rt.result_pool[0]),
			  SLOTS + ainftp_mstash_count(&dp->result_stash));
	ck_assert_uint_eq(rte_mempool_in_use_count(fx.rt.hdr_pool[0]),
			  ainftp_mstash_count(&dp->hdr_stash));
	/* Which go back when it stops. */
	ainftp_dp_stop(dp);
	ck_assert_uint_eq(rte_mempool_in_use_count(fx.rt.result_pool[0]), SLOTS);
	ck_assert_uint_eq(rte_mempool_in_use_count(fx.rt.hdr_pool[0]), 0);
}
END_TEST

/* ------------------------------------------------------------ v2: probe, hello */

/* Each worker's copy of a result has its own tag: under any other worker's key it fails. */
START_TEST(each_result_copy_is_tagged_for_its_worker)
{
	struct contrib c[NW];
	struct rte_mbuf *out[8];
	struct ainftp_mac_key mk;
	uint8_t buf[2048];
	unsigned int w, v, n;
	uint16_t len;

	three(c, 1, 6);
	send_all(c, NW);
	n = drain(out, 8);
	ck_assert_uint_eq(n, NW);
	for (w = 0; w < NW; w++)
		for (v = 0; v < NW; v++) {
			len = frame_copy(out[w], buf, sizeof(buf));
			ck_assert_uint_eq(frame_to(buf), w);
			ck_assert_int_eq(ainftp_mac_key_init(&mk, keys[v]), 0);
			ck_assert_int_eq(ainftp_result_verify(&mk, buf + 42, len - 42u), v == w);
		}
	rte_pktmbuf_free_bulk(out, n);
}
END_TEST

/* A PROBE from worker w for (step, chunk) of request desc: header and tag, to the slot's lane. */
static size_t
probe_frame_desc(uint8_t *f, unsigned int w, uint32_t step, uint32_t chunk, uint64_t desc,
		 const uint8_t *key)
{
	static const uint8_t none[1];
	struct ainftp_msg m = {
		.type = AINFTP_MSG_PROBE,
		.encoding = AINFTP_ENC_INT16,
		.flags = AINFTP_F_AUTH,
		.job = JOB,
		.worker = (uint16_t)w,
		.step = step,
		.chunk = chunk,
		.slot = (uint16_t)(chunk % SLOTS),
		.bitmap = desc,
	};

	return from_process(f, job_retag(f, fixture_data_frame(f, &m, none, 0, key), key), w);
}

static size_t
probe_frame(uint8_t *f, unsigned int w, uint32_t step, uint32_t chunk, const uint8_t *key)
{
	return probe_frame_desc(f, w, step, chunk, 0, key);
}

static void
send_probe(unsigned int w, uint32_t step, uint32_t chunk)
{
	uint8_t f[256];

	fixture_inject(&fx, f, (uint16_t)probe_frame(f, w, step, chunk, keys[w]));
}

/*
 * Each answer a PROBE can get, on slot 3: MISSING before the slot saw
 * anything and for a chunk it has not started; HAVE from a worker in the
 * chunk, MISSING from one not in it; the kept result (to the prober alone)
 * once it completed; STALE once the slot kept a later one. A PROBE never
 * changes the slot.
 */
START_TEST(a_probe_gets_each_answer)
{
	struct contrib c[NW], d[NW];
	struct rte_mbuf *out[8];
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	float want[ELEMS], want2[ELEMS];
	uint8_t f[256];
	unsigned int n;

	three(c, 1, 3);
	expected_sum(c, NW, want);
	send_probe(0, 1, 3);
	expect_state(0, 1, 3, AINFTP_STATE_MISSING, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_IDLE, 0, 0, 0, 0);

	send_contrib(&c[0]);
	send_probe(0, 1, 3);
	expect_state(0, 1, 3, AINFTP_STATE_HAVE, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 1, 3, 0, 0x1);
	send_probe(1, 1, 3);
	expect_state(1, 1, 3, AINFTP_STATE_MISSING, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 1, 3, 0, 0x1);
	/* The slot's next chunk, not started: nothing of it here yet. */
	send_probe(2, 1, 3 + SLOTS);
	expect_state(2, 1, 3 + SLOTS, AINFTP_STATE_MISSING, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 1, 3, 0, 0x1);

	send_contrib(&c[1]);
	send_contrib(&c[2]);
	n = drain(out, 8);
	ck_assert_uint_eq(n, NW);
	rte_pktmbuf_free_bulk(out, n);
	/* Worker 1 lost its result: the probe brings the kept one, to it alone. */
	send_probe(1, 1, 3);
	n = drain(out, 8);
	ck_assert_uint_eq(n, 1);
	check_result(out[0], &c[0], want, 0x7, 1);
	rte_pktmbuf_free_bulk(out, n);
	ck_assert_uint_eq(CTR(results_resent), 1);

	three(d, 1, 3 + SLOTS);
	expected_sum(d, NW, want2);
	send_all(d, NW);
	rte_pktmbuf_free_bulk(out, drain(out, 8));
	/* Chunk 3 is neither summed nor kept now: skip it, step 1 is where slot 3 is. */
	send_probe(2, 1, 3);
	expect_state(2, 1, 3, AINFTP_STATE_STALE, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_DONE, 1, 3 + SLOTS, 2, 0x7);
	send_probe(0, 1, 3 + SLOTS);
	n = drain(out, 8);
	ck_assert_uint_eq(n, 1);
	check_result(out[0], &d[0], want2, 0x7, 0);
	rte_pktmbuf_free_bulk(out, n);

	ck_assert_uint_eq(CTR(probes), 7);
	ck_assert_uint_eq(CTR(states_sent), 5);
	ck_assert_uint_eq(CTR(chunks_done), 2);
	ck_assert_uint_eq(all_proto_drops(), 0);
	/* A probe under another worker's key, or to the wrong slot, is refused and not answered. */
	fixture_inject(&fx, f, (uint16_t)probe_frame(f, 1, 1, 3, keys[0]));
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_TAG), 1);
	probe_frame(f, 1, 1, 3, keys[1]);
	f[42 + 21] ^= 1; /* slot 2 for chunk 3 */
	ainftp_tag(keys[1], f + 42, 32, f + 42 + 32);
	fixture_inject(&fx, f, (uint16_t)(42 + 32 + 16));
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT), 1);
	/* Nor one for the reserved chunk: a fresh slot has no kept result to resend. */
	fixture_inject(&fx, f, (uint16_t)probe_frame(f, 1, UINT32_MAX, UINT32_MAX, keys[1]));
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT), 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(CTR(probes), 7);
}
END_TEST

/* What a worker says of the job in its HELLO: the fixture job's own, unless changed. */
struct hello_view {
	uint32_t job;
	uint16_t elems;
	uint8_t encoding;
	struct ainftp_hello_info body;
};

static struct hello_view
hello_right(void)
{
	struct hello_view v = {
		.job = JOB,
		.elems = ELEMS,
		.encoding = AINFTP_ENC_INT16,
		.body = {.slots = SLOTS,
			 .lanes = 1,
			 .result_encoding = AINFTP_ENC_FLOAT32,
			 .auth = 1},
	};

	return v;
}

/* A HELLO from worker `from`'s address claiming worker `claim`, tagged under key. */
static size_t
hello_frame(uint8_t *f, unsigned int from, uint16_t claim, const struct hello_view *v,
	    uint64_t nonce, const uint8_t *key)
{
	struct ainftp_msg m = {
		.type = AINFTP_MSG_HELLO,
		.encoding = v->encoding,
		.flags = AINFTP_F_AUTH,
		.job = v->job,
		.worker = (uint16_t)from,
		.elems = v->elems,
		.bitmap = nonce,
	};
	struct ainftp_hello body;
	uint8_t *h = f + 42;
	size_t len;

	ainftp_hello_write(&body, &v->body);
	len = fixture_data_frame(f, &m, &body, sizeof(body), key);
	/* The claimed worker in the header and the tag again; the source address stays from's. */
	fixture_put16(h + 8, claim);
	ainftp_tag(key, h, 32 + AINFTP_BODY_LEN, h + 32 + AINFTP_BODY_LEN);
	return from_process(f, len, from);
}

/*
 * The one frame waiting is a HELLO_ACK to the host of worker `to`, echoing
 * the job, the claimed worker and the nonce; tagged under key, or untagged
 * when key is NULL. Its body in hi.
 */
static void
expect_hello_ack(unsigned int to, uint32_t job, uint16_t claim, uint64_t nonce, const uint8_t *key,
		 struct ainftp_hello_info *hi)
{
	struct rte_mbuf *out[8];
	unsigned int n = drain(out, 8);
	uint8_t buf[2048];
	const uint8_t *h = buf + 42;
	struct ainftp_msg msg;
	uint16_t len;

	ck_assert_uint_eq(n, 1);
	len = frame_copy(out[0], buf, sizeof(buf));
	rte_pktmbuf_free(out[0]);
	ck_assert_uint_eq(len, 42 + 32 + AINFTP_BODY_LEN + (key != NULL ? AINFTP_TAG_LEN : 0));
	check_addressed(buf, to, PORT);
	ck_assert_uint_eq(ainftp_hdr_check((const struct ainftp_hdr *)h, len - 42u), AINFTP_OK);
	ainftp_hdr_read((const struct ainftp_hdr *)h, &msg);
	ck_assert_uint_eq(msg.type, AINFTP_MSG_HELLO_ACK);
	ck_assert_uint_eq(msg.job, job);
	ck_assert_uint_eq(msg.worker, claim);
	ck_assert_uint_eq(msg.bitmap, nonce);
	ck_assert_uint_eq(msg.flags, key != NULL ? AINFTP_F_AUTH : 0);
	if (key != NULL)
		ck_assert_int_eq(
			ainftp_tag_verify(key, h, 32 + AINFTP_BODY_LEN, h + 32 + AINFTP_BODY_LEN),
			1);
	ainftp_hello_read((const struct ainftp_hello *)(h + 32), hi);
}

/*
 * A HELLO that matches the job: HELLO_ACK with status OK, the nonce and the
 * job's geometry, tagged under the worker's key; its step is the one after
 * the highest completed (0 before any).
 */
START_TEST(a_hello_is_answered_with_the_jobs_geometry_and_step)
{
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	struct rte_mbuf *out[8];
	struct contrib c[NW];
	uint8_t f[256];

	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 1, 1, &v, 0x0123456789abcdef, keys[1]));
	expect_hello_ack(1, JOB, 1, 0x0123456789abcdef, keys[1], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(hi.slots, SLOTS);
	ck_assert_uint_eq(hi.lanes, 1);
	ck_assert_uint_eq(hi.result_encoding, AINFTP_ENC_FLOAT32);
	/* Its data and its results are tagged. */
	ck_assert_uint_eq(hi.auth, AINFTP_HELLO_AUTH_DATA | AINFTP_HELLO_AUTH_RESULTS);
	ck_assert_uint_eq(hi.step, 0);
	ck_assert_uint_eq(hi.shard, 0);
	ck_assert_uint_eq(hi.shards, 1);
	ck_assert_uint_eq(CTR(hellos), 1);
	ck_assert_uint_eq(all_proto_drops(), 0);

	/* Step 4 completes (on one slot), then step 2 on another: the step after the highest. */
	three(c, 4, 1);
	send_all(c, NW);
	three(c, 2, 2);
	send_all(c, NW);
	rte_pktmbuf_free_bulk(out, drain(out, 8));
	rte_pktmbuf_free_bulk(out, drain(out, 8));
	/* A sharding-aware worker states "shard 0 of 1" where an older one sends zeros: the same.
	 */
	v.body.shard = 0;
	v.body.shards = 1;
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, 42, keys[2]));
	expect_hello_ack(2, JOB, 2, 42, keys[2], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(hi.step, 5);
	ck_assert_uint_eq(CTR(hellos), 2);

	/* Under another worker's key: refused, unanswered (nobody joins as someone else). */
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, 43, keys[1]));
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_TAG), 1);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(CTR(hellos), 2);
}
END_TEST

/*
 * One field of the worker's view differs from the job: the ack names it, still
 * tagged, still with the job's own geometry so the worker can say what to fix.
 */
static void
m_hello_elems(struct hello_view *v)
{
	v->elems = ELEMS / 2;
}

static void
m_hello_encoding(struct hello_view *v)
{
	v->encoding = AINFTP_ENC_FLOAT32;
}

static void
m_hello_result_encoding(struct hello_view *v)
{
	v->body.result_encoding = AINFTP_ENC_INT16;
}

static void
m_hello_slots(struct hello_view *v)
{
	v->body.slots = SLOTS * 2;
}

static void
m_hello_lanes(struct hello_view *v)
{
	v->body.lanes = 2;
}

static void
m_hello_auth(struct hello_view *v)
{
	v->body.auth = 0;
}

/* The job is not sharded on this box: a worker that thinks it is shard 1, or of 2, is wrong. */
static void
m_hello_shard(struct hello_view *v)
{
	v->body.shard = 1;
}

static void
m_hello_shards(struct hello_view *v)
{
	v->body.shards = 2;
}

static const struct {
	void (*mutate)(struct hello_view *v);
	enum ainftp_hello_status want;
} hello_mismatches[] = {
	{m_hello_elems, AINFTP_HELLO_ELEMS},
	{m_hello_encoding, AINFTP_HELLO_ENCODING},
	{m_hello_result_encoding, AINFTP_HELLO_RESULT_ENC},
	{m_hello_slots, AINFTP_HELLO_SLOTS},
	{m_hello_lanes, AINFTP_HELLO_LANES},
	{m_hello_auth, AINFTP_HELLO_AUTH},
	{m_hello_shard, AINFTP_HELLO_SHARD},
	{m_hello_shards, AINFTP_HELLO_SHARD},
};

START_TEST(a_hello_names_the_first_difference)
{
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	uint8_t f[256];

	hello_mismatches[_i].mutate(&v);
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 0, 0, &v, 7 + (uint64_t)_i, keys[0]));
	expect_hello_ack(0, JOB, 0, 7 + (uint64_t)_i, keys[0], &hi);
	ck_assert_msg(hi.status == hello_mismatches[_i].want, "status %s, want %s",
		      hi.status < AINFTP_HELLO_MAX ? ainftp_hello_status_names[hi.status] : "?",
		      ainftp_hello_status_names[hello_mismatches[_i].want]);
	ck_assert_uint_eq(hi.slots, SLOTS);
	ck_assert_uint_eq(hi.lanes, 1);
	ck_assert_uint_eq(hi.result_encoding, AINFTP_ENC_FLOAT32);
	/* Its data and its results are tagged. */
	ck_assert_uint_eq(hi.auth, AINFTP_HELLO_AUTH_DATA | AINFTP_HELLO_AUTH_RESULTS);
	/* The box's own view of the shards, for the worker's message. */
	ck_assert_uint_eq(hi.shard, 0);
	ck_assert_uint_eq(hi.shards, 1);
	ck_assert_uint_eq(CTR(hellos), 1);
	ck_assert_uint_eq(all_proto_drops(), 0);
}
END_TEST

/* The job sharded over two boxes, this one the second (docs/PROTOCOL.md, "Shards"). */
static const char shard_json[] =
	DP_JSON_X("", RX_Q(0), "int16", "\"appliances\": [\"198.18.0.9\", \"" FIX_IP "\"],");

/*
 * A worker that agrees on the split (shard 1 of 2) joins; one whose
 * cluster.json puts this box elsewhere, or has it alone, is told the box's
 * own view instead of summing chunks that another box sums.
 */
START_TEST(a_hello_with_another_shard_view_is_refused)
{
	static const uint8_t views[][2] = {{1, 2}, {0, 2}, {1, 3}, {0, 0}};
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	uint8_t f[256];

	fixture_down(&fx);
	fixture_up_json(&fx, shard_json);
	for (unsigned int i = 0; i < RTE_DIM(views); i++) {
		v.body.shard = views[i][0];
		v.body.shards = views[i][1];
		fixture_inject(&fx, f, (uint16_t)hello_frame(f, 0, 0, &v, 100 + i, keys[0]));
		expect_hello_ack(0, JOB, 0, 100 + i, keys[0], &hi);
		ck_assert_msg(hi.status == (i == 0 ? AINFTP_HELLO_OK : AINFTP_HELLO_SHARD),
			      "view %u of %u: status %u", views[i][0], views[i][1], hi.status);
		ck_assert_uint_eq(hi.shard, 1);
		ck_assert_uint_eq(hi.shards, 2);
	}
	ck_assert_uint_eq(CTR(hellos), RTE_DIM(views));
}
END_TEST

/*
 * An unknown job or worker: an untagged HELLO_ACK naming it (there is no key
 * to tag it with), to where the HELLO came from, counted as a drop only (a
 * frame's one outcome: `hellos` counts the ones answered for their job).
 */
START_TEST(a_hello_for_an_unknown_job_or_worker_is_told_so)
{
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	uint8_t f[256];

	v.job = JOB + 1;
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 1, 1, &v, 99, keys[1]));
	expect_hello_ack(1, JOB + 1, 1, 99, NULL, &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_JOB);
	ck_assert_uint_eq(hi.slots, 0); /* no job: no geometry to give */
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_JOB), 1);

	v.job = JOB;
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 9, &v, 100, keys[2]));
	expect_hello_ack(2, JOB, 9, 100, NULL, &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_WORKER);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_WORKER), 1);
	ck_assert_uint_eq(CTR(hellos), 0);
	ck_assert_uint_eq(all_proto_drops(), 2);
}
END_TEST

/*
 * Issue 18's finding 4: workers on different collectives at one step (their
 * threads issued them in different orders, or their sizes differ). A
 * contribution of another request than the chunk's is never summed with it:
 * refused as `mismatch`, answered with a STATE naming the chunk's request;
 * the chunk's own workers learn it when they probe; a retransmission never
 * gets another request's result; whoever joins next starts after the step.
 * A DATA that says nothing (0) is never compared.
 */
START_TEST(chunks_of_different_collectives_are_never_summed)
{
	const uint64_t x = ainftp_req_desc(1000, 0), x_mean = ainftp_req_desc(1000, 1);
	const uint64_t y = ainftp_req_desc(3000, 0);
	struct ainftp_state_info si;
	struct rte_mbuf *out[8];
	struct ainftp_msg msg;
	struct contrib c[NW];
	uint8_t f[256];
	float want[ELEMS];

	three(c, 1, 0);
	c[0].desc = c[2].desc = x;
	send_contrib(&c[0]);
	/* Another size. */
	c[1].desc = y;
	send_contrib(&c[1]);
	expect_state(1, 1, 0, AINFTP_STATE_MISMATCH, &msg, &si);
	ck_assert_uint_eq(msg.bitmap, x);
	ck_assert_uint_eq(msg.contributors, 0);
	ck_assert_uint_eq(si.next_step, 2); /* the step is over for whoever joins */
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_MISMATCH), 1);
	/* The same size, another operation. */
	c[1].desc = x_mean;
	send_contrib(&c[1]);
	expect_state(1, 1, 0, AINFTP_STATE_MISMATCH, &msg, &si);
	ck_assert_uint_eq(msg.bitmap, x);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_MISMATCH), 2);
	/* Worker 0, whose data is in, asks: told of the other request (the last one seen). */
	fixture_inject(&fx, f, (uint16_t)probe_frame_desc(f, 0, 1, 0, x, keys[0]));
	expect_state(0, 1, 0, AINFTP_STATE_MISMATCH, &msg, &si);
	ck_assert_uint_eq(msg.bitmap, x_mean);
	/* Worker 2 agrees with the chunk: summed. Worker 1 saying nothing (0) is not compared. */
	send_contrib(&c[2]);
	ck_assert_uint_eq(drain(out, 8), 0);
	c[1].desc = 0;
	expected_sum(c, NW, want);
	send_contrib(&c[1]);
	ck_assert_uint_eq(drain(out, 8), NW);
	check_result(out[0], c, want, 0x7, 0);
	rte_pktmbuf_free_bulk(out, NW);
	/* A retransmission from the other request gets a STATE, not this chunk's result. */
	c[1].desc = y;
	send_contrib(&c[1]);
	expect_state(1, 1, 0, AINFTP_STATE_MISMATCH, &msg, &si);
	ck_assert_uint_eq(msg.bitmap, x);
	fixture_inject(&fx, f, (uint16_t)probe_frame_desc(f, 1, 1, 0, y, keys[1]));
	expect_state(1, 1, 0, AINFTP_STATE_MISMATCH, &msg, &si);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_MISMATCH), 3);
	ck_assert_uint_eq(CTR(data_pkts), 3);
	ck_assert_uint_eq(CTR(data_answered), 0);
	ck_assert_int_eq(fixture_unaccounted(), 0);
}
END_TEST

/*
 * A worker on another request that only probes the chunk (its data was
 * refused earlier, say while the slot was busy): it is told, and the chunk
 * keeps its request in mind, so that the chunk's own worker is told when it
 * probes too and both sides stop (before, only the prober was told). The step
 * is over, as when a contribution finds the mismatch: a worker joining next
 * starts after it (before, it was given the step its peers had left, and
 * waited there alone: e2e's "agreed" case, once under ASan).
 */
START_TEST(a_probe_of_another_request_is_remembered)
{
	const uint64_t x = ainftp_req_desc(1000, 0), x_mean = ainftp_req_desc(1000, 1);
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	struct ainftp_state_info si;
	struct ainftp_msg msg;
	struct contrib c[NW];
	uint8_t f[256];

	three(c, 1, 0);
	c[0].desc = x;
	send_contrib(&c[0]);
	fixture_inject(&fx, f, (uint16_t)probe_frame_desc(f, 1, 1, 0, x_mean, keys[1]));
	expect_state(1, 1, 0, AINFTP_STATE_MISMATCH, &msg, &si);
	ck_assert_uint_eq(msg.bitmap, x);
	fixture_inject(&fx, f, (uint16_t)probe_frame_desc(f, 0, 1, 0, x, keys[0]));
	expect_state(0, 1, 0, AINFTP_STATE_MISMATCH, &msg, &si);
	ck_assert_uint_eq(msg.bitmap, x_mean);
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, 77, keys[2]));
	expect_hello_ack(2, JOB, 2, 77, keys[2], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(hi.step, 2);
	ck_assert_int_eq(fixture_unaccounted(), 0);
}
END_TEST

/* A tagged frame of len bytes made untagged: AUTH cleared, 16 bytes shorter in UDP, IPv4, frame. */
static size_t
untag(uint8_t *f, size_t len)
{
	len -= AINFTP_TAG_LEN;
	f[42 + 3] &= (uint8_t)~AINFTP_F_AUTH;
	fixture_put16(f + 16, (uint16_t)(len - 14));
	fixture_put16(f + 24, 0);
	fixture_put16(f + 24, fixture_ip_csum(f + 14));
	fixture_put16(f + 38, (uint16_t)(len - 34));
	return len;
}

/*
 * A job without auth: nothing of v2's tags. Results as before (no AUTH, the
 * payload right after the header), STATE and HELLO_ACK untagged.
 */
static const char noauth_json[] = DP_JSON_X("", RX_Q(0), "int16", "\"auth\": false,");

START_TEST(without_auth_results_and_replies_carry_no_tag)
{
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	struct rte_mbuf *out[8];
	struct contrib c[NW];
	float want[ELEMS];
	uint8_t f[2048];
	unsigned int w, n;

	fixture_down(&fx);
	fixture_up_json(&fx, noauth_json);
	ck_assert_uint_eq(tag_len(), 0);
	three(c, 1, 2);
	expected_sum(c, NW, want);
	fixture_inject(&fx, f, (uint16_t)untag(f, data_frame(f, &c[0], keys[0], JOB, ELEMS)));
	fixture_inject(&fx, f, (uint16_t)untag(f, probe_frame(f, 0, 1, 2, keys[0])));
	expect_state(0, 1, 2, AINFTP_STATE_HAVE, &msg, &si);
	fixture_inject(&fx, f, (uint16_t)untag(f, data_frame(f, &c[0], keys[0], JOB, ELEMS)));
	expect_state(0, 1, 2, AINFTP_STATE_HAVE, &msg, &si);
	for (w = 1; w < NW; w++)
		fixture_inject(&fx, f,
			       (uint16_t)untag(f, data_frame(f, &c[w], keys[w], JOB, ELEMS)));
	n = drain(out, 8);
	ck_assert_uint_eq(n, NW);
	for (w = 0; w < NW; w++)
		check_result(out[w], &c[0], want, 0x7, w);
	rte_pktmbuf_free_bulk(out, n);

	v.body.auth = 0;
	fixture_inject(&fx, f, (uint16_t)untag(f, hello_frame(f, 2, 2, &v, 5, keys[2])));
	expect_hello_ack(2, JOB, 2, 5, NULL, &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(hi.auth, 0);
	ck_assert_uint_eq(hi.step, 2);
	ck_assert_uint_eq(all_proto_drops(), 1); /* the duplicate */
}
END_TEST

static const char polyval_json[] = DP_JSON_X(
	"", RX_Q(0), "int16", "\"auth_mac\": \"polyval-aes\", \"straggler\": {\"min_quorum\": 3},");

/*
 * A job that tags with POLYVAL-AES-128: its DATA, PROBEs, STATEs and RESULTs
 * carry that MAC's tags (the helpers check them under it), a SipHash tag on
 * its DATA is a wrong tag, the handshake stays SipHash's and its ack tells the
 * worker, and a HELLO from a worker that cannot tag with it is refused as auth.
 */
START_TEST(a_polyval_job_tags_everything_after_the_handshake_with_it)
{
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	struct ainftp_state_info si;
	struct ainftp_mac_key mk;
	struct ainftp_msg msg;
	struct rte_mbuf *out[8];
	struct contrib c[NW];
	float want[ELEMS];
	uint8_t f[2048];
	unsigned int w, n;
	size_t len;

	fixture_down(&fx);
	fixture_up_json(&fx, polyval_json);
	ck_assert_uint_eq(fx.cfg.jobs[0].auth_mac, AINFTP_MAC_POLYVAL_AES);

	/* SipHash-tagged DATA is not the job's: refused as a wrong tag, nothing summed. */
	three(c, 1, 2);
	expected_sum(c, NW, want);
	len = fixture_data_frame(f,
				 &(struct ainftp_msg){.type = AINFTP_MSG_DATA,
						      .encoding = AINFTP_ENC_INT16,
						      .flags = AINFTP_F_AUTH,
						      .job = JOB,
						      .worker = 0,
						      .elems = ELEMS,
						      .step = 1,
						      .chunk = 2,
						      .slot = 2,
						      .scale_exp = c[0].e},
				 c[0].q, ELEMS * 2, keys[0]);
	fixture_inject(&fx, f, (uint16_t)len);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_TAG), 1);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);

	/* Under the job's MAC: taken, probed (a STATE under it), summed, results under it. */
	send_contrib(&c[0]);
	fixture_inject(&fx, f, (uint16_t)probe_frame(f, 0, 1, 2, keys[0]));
	expect_state(0, 1, 2, AINFTP_STATE_HAVE, &msg, &si);
	for (w = 1; w < NW; w++)
		send_contrib(&c[w]);
	n = drain(out, 8);
	ck_assert_uint_eq(n, NW);
	for (w = 0; w < NW; w++)
		check_result(out[w], &c[0], want, 0x7, w);
	rte_pktmbuf_free_bulk(out, n);
	/* A RESULT's tag is the job's MAC, not SipHash. */
	send_contrib(&c[1]); /* completed: the kept result, to worker 1 */
	ck_assert_uint_eq(drain(out, 8), 1);
	len = frame_copy(out[0], f, sizeof(f));
	rte_pktmbuf_free(out[0]);
	ck_assert_int_eq(ainftp_mac_key_init(&mk, keys[1]), 0);
	ck_assert_int_eq(ainftp_result_verify(&mk, f + 42, len - 42u), 0);

	/* The handshake: SipHash both ways, the ack says POLYVAL-AES. */
	v.body.auth = AINFTP_HELLO_AUTH_DATA | AINFTP_HELLO_AUTH_POLYVAL;
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, 5, keys[2]));
	expect_hello_ack(2, JOB, 2, 5, keys[2], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(hi.auth, AINFTP_HELLO_AUTH_DATA | AINFTP_HELLO_AUTH_RESULTS |
					   AINFTP_HELLO_AUTH_POLYVAL);
	/* A worker that does not say it can: refused, the ack naming auth. */
	v.body.auth = AINFTP_HELLO_AUTH_DATA;
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 1, 1, &v, 6, keys[1]));
	expect_hello_ack(1, JOB, 1, 6, keys[1], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_AUTH);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_TAG), 1);
}
END_TEST

/* ------------------------------------------------------------ heartbeats */

/*
 * A result pool with nothing left: the contribution that completes a chunk is
 * counted as a shortage and not taken (the stash, refilled from the pool, has
 * nothing either), so its retransmission completes the chunk, with the exact
 * sum, once mbufs are back.
 */
START_TEST(result_shortage_is_retried)
{
	struct ainftp_dp *dp = &fx.rt.rx[FIX_RX_LCORE]->dp;
	struct rte_mempool *mp = fx.rt.result_pool[0];
	uint64_t before = CTR(drops[AINFTP_DROP_RESULT_NOMBUF]);
	unsigned int held = 0, n;
	struct rte_mbuf *out[8];
	struct contrib c[NW];
	float want[ELEMS];
	void **all;

	three(c, 1, 0);
	expected_sum(c, NW, want);
	ainftp_dp_stop(dp); /* the stash back to the pool, which the test then empties */
	all = malloc(mp->size * sizeof(*all));
	ck_assert_ptr_nonnull(all);
	while (held < mp->size && rte_mempool_get(mp, &all[held]) == 0)
		held++;
	send_contrib(&c[0]);
	send_contrib(&c[1]);
	send_contrib(&c[2]);
	ck_assert_uint_eq(drain(out, 8), 0);
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_RESULT_NOMBUF]), before + 1);
	rte_mempool_put_bulk(mp, all, held);
	free(all);
	send_contrib(&c[2]);
	n = drain(out, 8);
	ck_assert_uint_eq(n, NW);
	check_result(out[0], c, want, 0x7, 0);
	rte_pktmbuf_free_bulk(out, n);
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_RESULT_NOMBUF]), before + 1);
}
END_TEST

/*
 * A HEARTBEAT_ACK from worker `from` (its source address), claiming worker
 * `claim`, tagged under `key`, with AUTH when `auth`. Returns its length.
 */
static size_t
ack_frame(uint8_t *f, unsigned int from, uint16_t claim, const uint8_t *key, bool auth,
	  uint32_t seq, uint64_t tsc)
{
	static const uint8_t none[1];
	struct ainftp_msg m = {
		.type = AINFTP_MSG_HEARTBEAT_ACK,
		.flags = auth ? AINFTP_F_AUTH : 0,
		.job = JOB,
		.worker = (uint16_t)from,
		.step = seq,
		.bitmap = tsc,
	};
	size_t len = fixture_data_frame(f, &m, none, 0, key);
	uint8_t *ip = f + 14, *h = ip + 20 + 8;

	/* The claimed worker in the header, the tag again over it; the source stays from's. */
	fixture_put16(h + 8, claim);
	ainftp_tag(key, h, 32, h + 32);
	if (!auth) {
		/* No tag: 16 bytes shorter in UDP, IPv4 and the frame. */
		fixture_put16(ip + 2, (uint16_t)(20 + 8 + 32));
		fixture_put16(ip + 20 + 4, 8 + 32);
		fixture_put16(ip + 10, 0);
		fixture_put16(ip + 10, fixture_ip_csum(ip));
		len -= 16;
	}
	return len;
}

static unsigned int
acks_waiting(void)
{
	return rte_ring_count(fx.rt.rx[FIX_RX_LCORE]->dp.hb_ring);
}

/* A good ack reaches the control lcore's ring, fields intact, and nothing is sent back. */
START_TEST(a_heartbeat_ack_reaches_the_control_ring)
{
	struct ainftp_hb_ack a;
	uint8_t f[256];

	fixture_inject(&fx, f, (uint16_t)ack_frame(f, 2, 2, keys[2], true, 41, 0x1122334455667788));
	ck_assert_uint_eq(acks_waiting(), 1);
	ck_assert_uint_eq(CTR(heartbeat_acks), 1);
	ck_assert_uint_eq(all_proto_drops(), 0);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_int_eq(rte_ring_dequeue_elem(fx.rt.rx[FIX_RX_LCORE]->dp.hb_ring, &a, sizeof(a)),
			 0);
	ck_assert_uint_eq(a.job_idx, 0);
	ck_assert_uint_eq(a.widx, 2);
	ck_assert_uint_eq(a.kind, AINFTP_UP_ACK);
	ck_assert_uint_eq(a.seq, 41);
	ck_assert_uint_eq(a.tx_tsc, 0x1122334455667788);
	ck_assert_uint_ne(a.rx_tsc, 0);
}
END_TEST

static void
ack_refused(size_t len, const uint8_t *f, enum ainftp_bad why)
{
	uint64_t before = proto_drops(why);

	fixture_inject(&fx, f, (uint16_t)len);
	ck_assert_msg(proto_drops(why) == before + 1, "not counted as %s", ainftp_bad_names[why]);
	ck_assert_uint_eq(acks_waiting(), 0);
	ck_assert_uint_eq(CTR(heartbeat_acks), 0);
}

/* Another worker's key, an unknown worker, a worker's id from another's address, no tag. */
START_TEST(bad_heartbeat_acks_never_reach_the_control_ring)
{
	uint8_t f[256];
	size_t len;

	ack_refused(ack_frame(f, 1, 1, keys[0], true, 1, 1), f, AINFTP_BAD_TAG);
	ack_refused(ack_frame(f, 1, 9, keys[1], true, 1, 1), f, AINFTP_BAD_WORKER);
	ack_refused(ack_frame(f, 0, 1, keys[1], true, 1, 1), f, AINFTP_BAD_SOURCE);
	ack_refused(ack_frame(f, 1, 1, keys[1], false, 1, 1), f, AINFTP_BAD_AUTH_MISSING);
	/* A flipped bit in the echoed TSC after tagging. */
	len = ack_frame(f, 1, 1, keys[1], true, 1, 1);
	f[14 + 20 + 8 + 31] ^= 1;
	ack_refused(len, f, AINFTP_BAD_TAG);
	/* A HELLO without its body (a v1 one: header and tag) is cut short, and not answered. */
	len = ack_frame(f, 1, 1, keys[1], true, 1, 1);
	f[14 + 20 + 8 + 1] = AINFTP_MSG_HELLO;
	ack_refused(len, f, AINFTP_BAD_TRUNCATED);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(CTR(hellos), 0);
}
END_TEST

/* When the control lcore falls behind, acks are dropped and counted, never blocking. */
START_TEST(a_full_ack_ring_is_a_counted_drop)
{
	struct rte_ring *ring = fx.rt.rx[FIX_RX_LCORE]->dp.hb_ring;
	unsigned int cap = rte_ring_get_capacity(ring), i;
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	struct ainftp_hb_ack a;
	uint8_t f[256];
	size_t len = ack_frame(f, 0, 0, keys[0], true, 5, 5);

	for (i = 0; i < cap + 3; i++)
		fixture_inject(&fx, f, (uint16_t)len);
	ck_assert_uint_eq(acks_waiting(), cap);
	ck_assert_uint_eq(CTR(heartbeat_acks), cap);
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_HB_RING_FULL]), 3);
	/* A new process's HELLO that the control lcore cannot be told of: not taken and
	 * not answered (its client asks again); the same HELLO once there is room is. */
	len = hello_frame(f, 1, 1, &v, 77, keys[1]);
	fixture_inject(&fx, f, (uint16_t)len);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_HB_RING_FULL]), 4);
	ck_assert_uint_eq(CTR(hellos), 0);
	ck_assert_int_eq(rte_ring_dequeue_elem(ring, &a, sizeof(a)), 0);
	fixture_inject(&fx, f, (uint16_t)len);
	expect_hello_ack(1, JOB, 1, 77, keys[1], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(CTR(hellos), 1);
	ck_assert_uint_eq(acks_waiting(), cap);
}
END_TEST

/*
 * The whole loop in one process: a DATA teaches the address; the control
 * lcore's round sends one HEARTBEAT on its own TX queue, to that address; the
 * worker's echo comes back through the RX poll into the swarm, and a forged
 * echo (a TSC never sent) does not.
 */
START_TEST(heartbeat_round_trip_through_the_swarm)
{
	uint8_t f[2048], hb[256];
	struct ainftp_msg msg;
	struct rte_mbuf *m;
	struct contrib c;
	char err[256];
	const struct ainftp_peer *p;

	ck_assert_msg(ainftp_ctrl_setup(&fx.rt, err, sizeof(err)) == 0, "%s", err);
	/* Nobody known yet: nothing to send. */
	ck_assert_uint_eq(ainftp_ctrl_heartbeat(&fx.rt), 0);
	contrib_fill(&c, 1, 0, 0, 0);
	fixture_inject(&fx, f, (uint16_t)data_frame(f, &c, keys[1], JOB, ELEMS));
	ck_assert_uint_eq(ainftp_ctrl_heartbeat(&fx.rt), 1);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_int_eq(rte_ring_dequeue(fx.ctrl_out, (void **)&m), 0);
	ck_assert_uint_eq(rte_pktmbuf_pkt_len(m), 74);
	memcpy(hb, rte_pktmbuf_mtod(m, void *), 74);
	rte_pktmbuf_free(m);
	/* To worker 1's address and learnt port, from the appliance's base port. */
	ck_assert_mem_eq(hb + 14 + 16, ((const uint8_t[]){198, 18, 0, 12}), 4);
	ck_assert_uint_eq(hb[34] << 8 | hb[35], PORT);
	ck_assert_uint_eq(hb[36] << 8 | hb[37], 40001);
	ck_assert_uint_eq(ainftp_hdr_check((const struct ainftp_hdr *)(hb + 42), 32), AINFTP_OK);
	ainftp_hdr_read((const struct ainftp_hdr *)(hb + 42), &msg);
	ck_assert_uint_eq(msg.type, AINFTP_MSG_HEARTBEAT);
	ck_assert_uint_eq(msg.job, JOB);
	ck_assert_uint_eq(msg.worker, AINFTP_WORKER_APPLIANCE);
	ck_assert_uint_eq(msg.flags, 0);
	ck_assert_uint_eq(msg.step, 1); /* rounds are numbered, the empty first one too */
	ck_assert_uint_ne(msg.bitmap, 0);

	p = &fx.rt.swarm->jobs[0].peers[1];
	ck_assert_uint_eq(p->sent, 1);
	/* A forged echo first (a TSC after the ack's arrival), then the real one. */
	fixture_inject(&fx, f, (uint16_t)ack_frame(f, 1, 1, keys[1], true, 0, UINT64_MAX));
	fixture_inject(&fx, f, (uint16_t)ack_frame(f, 1, 1, keys[1], true, msg.step, msg.bitmap));
	ck_assert_uint_eq(ainftp_ctrl_acks_drain(&fx.rt), 2);
	ck_assert_uint_eq(p->acks, 1);
	ck_assert_uint_ne(p->srtt, 0);
	ck_assert_int_eq(ainftp_swarm_state(&fx.rt.swarm->jobs[0], p, p->last_ack_tsc),
			 AINFTP_PEER_UP);
	ck_assert_int_eq(ainftp_swarm_state(&fx.rt.swarm->jobs[0], &fx.rt.swarm->jobs[0].peers[0],
					    p->last_ack_tsc),
			 AINFTP_PEER_UNKNOWN);
}
END_TEST

/* ------------------------------------------------------------ quorum */

/* The three workers with a floor of 2 and a straggler threshold of 100 ms. */
static const char quorum_json[] = DP_JSON_X(
	"", RX_Q(0), "int16", "\"straggler\": {\"threshold_ms\": 100, \"min_quorum\": 2},");

static void
quorum_setup(void)
{
	char err[256];

	memset(moved_port, 0, sizeof(moved_port));
	fixture_up_json(&fx, quorum_json);
	ck_assert_msg(ainftp_ctrl_setup(&fx.rt, err, sizeof(err)) == 0, "%s", err);
}

static struct ainftp_rx_ctx *
rx_ctx(void)
{
	return fx.rt.rx[FIX_RX_LCORE];
}

/* One RX poll with nothing received: the lcore takes the published quorum. */
static void
poll_once(void)
{
	ainftp_rx_poll(rx_ctx());
}

/* Publish members (by worker id) for job 7, worker `late` required only from step join. */
static void
publish(uint64_t members, int late, uint64_t join)
{
	const struct ainftp_quorum_snap *cur = ainftp_members_current(fx.rt.members, 0);
	struct ainftp_quorum_snap q;

	memset(&q, 0, sizeof(q));
	q.version = cur->version + 1;
	q.members = members;
	if (late >= 0) {
		q.late = UINT64_C(1) << late;
		q.join_step[late] = join;
		q.max_join = join;
	}
	ck_assert(ainftp_members_publish(fx.rt.members, 0, &q));
}

/* Every frame waiting is a result of chunk c with `bitmap`, exact, one per worker in `to`. */
static void
expect_results(const struct contrib *c, const float *want, uint64_t bitmap, uint64_t to)
{
	struct rte_mbuf *out[8];
	unsigned int n = drain(out, 8), i, w;

	ck_assert_uint_eq(n, (unsigned int)__builtin_popcountll(to));
	for (i = 0, w = 0; i < n; i++, w++) {
		while (!(to & (UINT64_C(1) << w)))
			w++;
		check_result(out[i], c, want, bitmap, w);
	}
	rte_pktmbuf_free_bulk(out, n);
}

static uint64_t
lat_count(const struct ainftp_lat_hist *h)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i <= AINFTP_LAT_BUCKETS; i++)
		n += h->bucket[i];
	return n;
}

/* The job's latency holds one chunk, in the bucket of its sum. */
static void
latency_is_one_chunk(void)
{
	struct ainftp_lat_hist h;
	unsigned int i;

	ainftp_dp_job_latency(&fx.rt, 0, &h);
	ck_assert_uint_eq(lat_count(&h), 1);
	ck_assert_uint_gt(h.sum, 0);
	for (i = 0; i <= AINFTP_LAT_BUCKETS; i++)
		if (h.bucket[i] != 0) {
			ck_assert_uint_eq(h.bucket[i], 1);
			ck_assert(i == AINFTP_LAT_BUCKETS || h.sum <= h.le[i]);
			ck_assert(i == 0 || h.sum > h.le[i - 1]);
		}
}

/*
 * Worker 2 never sends; an open slot waits for it. A scan a threshold later
 * publishes the wait, the control lcore downranks worker 2 (lag), and the next
 * poll completes the slot with workers 0 and 1, counted as partial.
 */
START_TEST(a_straggler_is_downranked_and_the_slot_completes_without_it)
{
	uint64_t hz = rte_get_tsc_hz(), now;
	struct ainftp_lat_hist lat;
	struct contrib c[NW];
	struct ainftp_dp_lag lag;
	float want[ELEMS];

	three(c, 1, 3);
	expected_sum(c, 2, want);
	send_all(c, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	now = rte_rdtsc();
	/* Not yet a threshold: the wait is below it and nobody moves. */
	ainftp_dp_scan(rx_ctx(), now + hz / 20);
	ck_assert_uint_eq(ainftp_ctrl_quorum(&fx.rt, now + hz / 20), 0);
	ainftp_dp_scan(rx_ctx(), now + hz / 5);
	ainftp_dp_worker_lag(&fx.rt, 0, 2, &lag);
	ck_assert_uint_gt(lag.wait, hz / 10);
	ainftp_dp_worker_lag(&fx.rt, 0, 0, &lag);
	ck_assert_uint_eq(lag.wait, 0); /* it is in the slot */
	ck_assert_uint_eq(ainftp_ctrl_quorum(&fx.rt, now + hz / 5), 1);
	ck_assert_uint_eq(fx.rt.quorum->jobs[0].m[2].in, 0);
	ck_assert_uint_eq(fx.rt.quorum->jobs[0].m[2].reason, AINFTP_OUT_LAG);
	ck_assert_uint_eq(fx.rt.quorum->jobs[0].n_members, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	poll_once();
	expect_results(&c[0], want, 0x3, 0x3);
	ck_assert_uint_eq(CTR(chunks_partial), 1);
	ck_assert_uint_eq(CTR(chunks_done), 1);
	ck_assert_uint_gt(ainftp_dp_job_partial_wait(&fx.rt, 0), 0);
	latency_is_one_chunk();
	/* The next chunk of the slot needs only the two members. */
	three(c, 1, 3 + SLOTS);
	expected_sum(c, 2, want);
	send_all(c, 2);
	expect_results(&c[0], want, 0x3, 0x3);
	ainftp_dp_job_latency(&fx.rt, 0, &lat);
	ck_assert_uint_eq(lat_count(&lat), 2);
}
END_TEST

/*
 * The bucket a completion lands in: up to and including a bound is that
 * bound's bucket, one cycle more the next; past the last bound, the +Inf one.
 */
START_TEST(latency_buckets)
{
	struct ainftp_lat_hist h;
	unsigned int i;

	memset(&h, 0, sizeof(h));
	ainftp_lat_hist_init(&h, 1000000000); /* 1 GHz: a cycle a nanosecond */
	ck_assert_uint_eq(h.le[0], 1000);
	ck_assert_uint_eq(h.le[AINFTP_LAT_BUCKETS - 1], 1000ull << (AINFTP_LAT_BUCKETS - 1));
	ainftp_lat_hist_add(&h, 0);
	ainftp_lat_hist_add(&h, 1000);
	ck_assert_uint_eq(h.bucket[0], 2);
	ainftp_lat_hist_add(&h, 1001);
	ainftp_lat_hist_add(&h, 2000);
	ck_assert_uint_eq(h.bucket[1], 2);
	ainftp_lat_hist_add(&h, 1000000); /* 1 ms: up to 1.024 ms, bucket 10 */
	ck_assert_uint_eq(h.bucket[10], 1);
	ainftp_lat_hist_add(&h, h.le[AINFTP_LAT_BUCKETS - 1]);
	ck_assert_uint_eq(h.bucket[AINFTP_LAT_BUCKETS - 1], 1);
	ainftp_lat_hist_add(&h, h.le[AINFTP_LAT_BUCKETS - 1] + 1);
	ainftp_lat_hist_add(&h, UINT64_MAX / 2);
	ck_assert_uint_eq(h.bucket[AINFTP_LAT_BUCKETS], 2);
	ck_assert_uint_eq(lat_count(&h), 8);
	for (i = 0; i < AINFTP_LAT_BUCKETS; i++)
		if (i != 0 && i != 1 && i != 10 && i != AINFTP_LAT_BUCKETS - 1)
			ck_assert_uint_eq(h.bucket[i], 0);
	ck_assert_uint_eq(h.sum, 0 + 1000 + 1001 + 2000 + 1000000 +
					 2 * h.le[AINFTP_LAT_BUCKETS - 1] + 1 + UINT64_MAX / 2);
}
END_TEST

/* Below min_quorum a result waits, even with no member left to wait for. */
START_TEST(below_the_floor_results_wait)
{
	struct contrib c[NW];
	float want[ELEMS];

	publish(0x1, -1, 0); /* only worker 0 is in; the floor is 2 */
	poll_once();
	three(c, 2, 4);
	send_contrib(&c[0]);
	poll_once();
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(ainftp_dp_slots_busy(&fx.rt), 1);
	/* Worker 2, out of the quorum, still counts: its data is real. */
	send_contrib(&c[2]);
	c[1] = c[2];
	expected_sum(c, 2, want);
	expect_results(&c[0], want, 0x5, 0x5);
	/* Nobody in at all: still never a result of one. */
	publish(0, -1, 0);
	poll_once();
	three(c, 2, 5);
	send_contrib(&c[1]);
	poll_once();
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
}
END_TEST

/* Worker 2 back from step 5: a slot of step 4 does not wait for it, one of step 5 does. */
START_TEST(a_rejoined_worker_is_required_from_its_step)
{
	struct contrib c[NW];
	float want[ELEMS];

	publish(0x7, 2, 5);
	poll_once();
	three(c, 4, 1);
	expected_sum(c, 2, want);
	send_all(c, 2);
	expect_results(&c[0], want, 0x3, 0x3);
	three(c, 5, 2);
	expected_sum(c, NW, want);
	send_all(c, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	send_contrib(&c[2]);
	expect_results(&c[0], want, 0x7, 0x7);
	ck_assert_uint_eq(CTR(chunks_partial), 1);
}
END_TEST

/*
 * A departed worker's late contribution: for the chunk just completed without
 * it, the kept result (to it alone) and a lag sample; once the slot has moved
 * on, stale; never in a later sum.
 */
START_TEST(a_late_contribution_gets_the_result_and_changes_no_sum)
{
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	struct contrib c[NW], late;
	struct ainftp_dp_lag lag;
	float want[ELEMS], want2[ELEMS];

	/* Worker 2 is heard from first (its address is learnt), then leaves. */
	three(c, 1, 0);
	expected_sum(c, NW, want);
	send_all(c, NW);
	expect_results(&c[0], want, 0x7, 0x7);
	publish(0x3, -1, 0);
	poll_once();
	three(c, 1, 3);
	late = c[2];
	expected_sum(c, 2, want);
	send_all(c, 2);
	expect_results(&c[0], want, 0x3, 0x7);
	send_contrib(&late);
	expect_results(&c[0], want, 0x3, 0x4);
	ainftp_dp_worker_lag(&fx.rt, 0, 2, &lag);
	ck_assert_uint_eq(lag.samples, 2); /* its on-time chunk 0, and this one */
	/* The slot's next chunk, worker 2 first this time: in it, and the late data not. */
	three(c, 1, 3 + SLOTS);
	expected_sum(c, NW, want2);
	send_contrib(&c[2]);
	send_all(c, 2);
	expect_results(&c[0], want2, 0x7, 0x7);
	/* Chunk 3 again: neither current nor kept; told to skip it (slot 3 has step 1 done). */
	send_contrib(&late);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_STALE), 1);
	expect_state(2, 1, 3, AINFTP_STATE_STALE, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_DONE, 1, 3 + SLOTS, 2, 0x7);
	ainftp_dp_worker_lag(&fx.rt, 0, 2, &lag);
	/* A stale contribution counts as at least a threshold late: EWMA gain 1/8. */
	ck_assert_uint_ge(lag.ewma, rte_get_tsc_hz() / 10 / 8);
}
END_TEST

/*
 * RCU: a replaced snapshot is reused only after the RX lcore has reported a
 * quiescent state; until then a publication is put off, never blocking.
 */
START_TEST(a_snapshot_is_reused_only_after_the_readers_moved_on)
{
	unsigned int i;

	for (i = 0; i < AINFTP_MEMBERS_BUFS - 1; i++)
		publish(0x7, -1, 0);
	{
		struct ainftp_quorum_snap q = *ainftp_members_current(fx.rt.members, 0);

		q.version++;
		ck_assert(!ainftp_members_publish(fx.rt.members, 0, &q));
		ck_assert_uint_eq(fx.rt.members->deferred, 1);
		poll_once();
		ck_assert(ainftp_members_publish(fx.rt.members, 0, &q));
	}
	poll_once();
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].q.version,
			  ainftp_members_current(fx.rt.members, 0)->version);
}
END_TEST

/* ------------------------------------------------------------ a later step at a busy slot */

/*
 * Workers 0 and 1 sum (1, 1) on slot 1 and the job needs all three for a
 * result. Worker 0 moves to step 2 on that slot: worker 1 still sums, so it
 * is refused (AHEAD) and nothing is dropped. Once worker 1 has sent step 2
 * too, nobody waits for (1, 1): worker 0's retry abandons it and starts
 * (2, 1), whose result has none of the abandoned data in it.
 */
START_TEST(a_later_step_abandons_a_chunk_only_when_all_its_workers_left)
{
	struct contrib old[NW], c[NW], other;
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	float want[ELEMS];

	three(old, 1, 1);
	three(c, 2, 1);
	send_all(old, 2);
	send_contrib(&c[0]);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT_BUSY), 1);
	expect_state(0, 2, 1, AINFTP_STATE_AHEAD, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 1, 1, 0, 0x3);
	ck_assert_uint_eq(CTR(chunks_abandoned), 0);

	contrib_fill(&other, 1, 2, 2, -3); /* worker 1 at step 2, on slot 2 */
	send_contrib(&other);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	send_contrib(&c[0]);
	ck_assert_uint_eq(CTR(chunks_abandoned), 1);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT_BUSY), 1);

	send_contrib(&c[1]);
	send_contrib(&c[2]);
	expected_sum(c, NW, want);
	expect_results(&c[0], want, 0x7, 0x7);
	ck_assert_uint_eq(CTR(chunks_done), 1);
	ck_assert_uint_eq(CTR(chunks_early), 0);
}
END_TEST

/*
 * One worker running ahead can never make the box drop a chunk its peers
 * sum: worker 2 sends step after step to slot 1 while worker 1 is still in
 * (1, 1) (worker 0, also in it, has moved on). Each is refused AHEAD with the
 * slot unchanged; (1, 1) keeps waiting and completes, exactly, when worker
 * 2's own data for it comes.
 */
START_TEST(one_worker_ahead_never_drops_its_peers_chunk)
{
	struct contrib old[NW], ahead, other;
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	float want[ELEMS];
	uint32_t step;

	three(old, 1, 1);
	expected_sum(old, NW, want);
	send_all(old, 2);
	contrib_fill(&other, 0, 2, 2, -3); /* worker 0 at step 2, on slot 2 */
	send_contrib(&other);
	for (step = 2; step < 12; step++) {
		contrib_fill(&ahead, 2, step, 1, -3);
		send_contrib(&ahead);
		expect_state(2, step, 1, AINFTP_STATE_AHEAD, &msg, &si);
		check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 1, 1, 0, 0x3);
	}
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT_BUSY), 10);
	ck_assert_uint_eq(CTR(chunks_abandoned), 0);
	ck_assert_uint_eq(CTR(chunks_early), 0);
	ck_assert_uint_eq(CTR(chunks_done), 0);
	send_contrib(&old[2]);
	expect_results(&old[0], want, 0x7, 0x7);
}
END_TEST

/*
 * min_quorum 2 (quorum fixture): workers 0 and 1 are in (1, 1), which waits
 * for worker 2. Worker 2 sends step 2 to that slot: it will not contribute
 * to (1, 1), which is ready without it, so (1, 1) completes now, to the
 * workers heard from, without worker 2; worker 2's data starts (2, 1).
 */
START_TEST(a_later_step_completes_a_chunk_ready_without_its_sender)
{
	struct contrib old[NW], c[NW];
	float want[ELEMS], want2[ELEMS];

	three(old, 1, 1);
	three(c, 2, 1);
	expected_sum(old, 2, want);
	expected_sum(c, NW, want2);
	send_all(old, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	send_contrib(&c[2]);
	expect_results(&old[0], want, 0x3, 0x3);
	ck_assert_uint_eq(CTR(chunks_early), 1);
	ck_assert_uint_eq(CTR(chunks_partial), 1);
	ck_assert_uint_eq(CTR(chunks_abandoned), 0);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT_BUSY), 0);
	send_all(c, 2);
	expect_results(&c[0], want2, 0x7, 0x7);
	ck_assert_uint_eq(CTR(chunks_done), 2);
}
END_TEST

/*
 * min_quorum 2: (1, 1) has worker 0 alone, below the floor, so worker 2's
 * step 2 waits (AHEAD) and (1, 1) is kept; with worker 1 in, worker 2's
 * retry completes it early, with both, and starts (2, 1).
 */
START_TEST(a_later_step_waits_while_the_chunk_needs_its_peers)
{
	struct contrib old[NW], c[NW];
	struct ainftp_msg msg;
	struct ainftp_state_info si;
	float want[ELEMS], want2[ELEMS];

	three(old, 1, 1);
	three(c, 2, 1);
	expected_sum(old, 2, want);
	expected_sum(c, NW, want2);
	send_contrib(&old[0]);
	send_contrib(&c[2]);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT_BUSY), 1);
	expect_state(2, 2, 1, AINFTP_STATE_AHEAD, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 1, 1, 0, 0x1);
	send_contrib(&old[1]);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0); /* it still waits for worker 2 */
	send_contrib(&c[2]);
	expect_results(&old[0], want, 0x3, 0x3);
	ck_assert_uint_eq(CTR(chunks_early), 1);
	ck_assert_uint_eq(CTR(chunks_abandoned), 0);
	send_all(c, 2);
	expect_results(&c[0], want2, 0x7, 0x7);
}
END_TEST

/*
 * Step 1 completes on slot 2; (1, 1) has workers 0 and 1 (old, filled) and
 * waits for worker 2 (min_quorum 3); worker 2 restarts: its HELLO_ACK (nonce)
 * starts it at step 2, past (1, 1).
 */
static void
worker_2_restarts_past_its_chunk(struct contrib *old, uint64_t nonce)
{
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	struct contrib done[NW];
	float want[ELEMS];
	uint8_t f[256];

	three(done, 1, 2);
	expected_sum(done, NW, want);
	send_all(done, NW);
	expect_results(&done[0], want, 0x7, 0x7);
	three(old, 1, 1);
	send_all(old, 2);
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, nonce, keys[2]));
	expect_hello_ack(2, JOB, 2, nonce, keys[2], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(hi.step, 2);
}

/*
 * The soak's stall (issue 18): (1, 1) has workers 0 and 1 and needs worker 2
 * (min_quorum 3), but worker 2 restarted and its HELLO_ACK sent it on to step
 * 2 (step 1 completed elsewhere). Worker 2 will never come to (1, 1): its
 * step 2 there abandons the chunk instead of waiting for it forever, while
 * workers 0 and 1 would wait at step 1 for a worker at step 2. Worker 0's
 * probe is then told the chunk is stale, and it moves on to step 2 too.
 */
START_TEST(a_chunk_that_needs_a_worker_sent_past_it_is_abandoned)
{
	struct ainftp_state_info si;
	struct contrib old[NW], c;
	struct ainftp_msg msg;
	uint8_t f[256];

	worker_2_restarts_past_its_chunk(old, 7);
	contrib_fill(&c, 2, 2, 1, -3);
	send_contrib(&c);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0); /* taken: no STATE ahead */
	ck_assert_uint_eq(CTR(chunks_abandoned), 1);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_SLOT_BUSY), 0);
	fixture_inject(&fx, f, (uint16_t)probe_frame(f, 0, 1, 1, keys[0]));
	expect_state(0, 1, 1, AINFTP_STATE_STALE, &msg, &si);
	check_slot_state(&msg, &si, AINFTP_SLOT_WIRE_SUMMING, 2, 1, 2, 0x4);
}
END_TEST

/*
 * The same stall when the restarted worker never sends a later step to that
 * slot (its window is full of chunks that wait for the stuck workers: the
 * soak's second stall). The scan gives the chunk up once it has waited a
 * straggler threshold with nobody left to come: its workers' probes and
 * data are then told it is stale, and the slot takes the next chunk.
 */
START_TEST(a_chunk_nobody_can_complete_is_given_up_by_the_scan)
{
	uint64_t hz = rte_get_tsc_hz(), now;
	struct ainftp_state_info si;
	struct contrib old[NW], c;
	struct ainftp_msg msg;
	uint8_t f[256];

	worker_2_restarts_past_its_chunk(old, 9);
	now = rte_rdtsc();
	ainftp_dp_scan(rx_ctx(), now + hz / 4); /* within the threshold (500 ms): kept */
	ck_assert_uint_eq(CTR(chunks_abandoned), 0);
	ainftp_dp_scan(rx_ctx(), now + 2 * hz);
	ck_assert_uint_eq(CTR(chunks_abandoned), 1);
	fixture_inject(&fx, f, (uint16_t)probe_frame(f, 0, 1, 1, keys[0]));
	expect_state(0, 1, 1, AINFTP_STATE_STALE, &msg, &si);
	ck_assert_uint_eq(si.next_step, 2);
	send_contrib(&old[1]);
	expect_state(1, 1, 1, AINFTP_STATE_STALE, &msg, &si);
	contrib_fill(&c, 2, 2, 1, -3);
	send_contrib(&c);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0); /* taken: (2, 1) starts */
	ck_assert_uint_eq(CTR(data_pkts), 3 + 2 + 1);
}
END_TEST

/* ------------------------------------------------------------ restart */

#define NEW_PORT 41002 /* where worker 2's new process sends from */

/*
 * Worker 2 left the quorum (it never sent: its wait downranked it, as for a
 * straggler) and its process died. A new process joins with a HELLO from
 * another UDP port; its HELLO_ACK starts it at step 2, and from that step it
 * is a member again, at its new port: at once on the RX lcore (a snapshot
 * made before the control lcore saw the HELLO does not undo it), then in the
 * control lcore's quorum, alive and not downranked for the old process's
 * wait. (2, 1) waits for it, and its result has all three, exact, the new
 * process's copy at the new port. Copies of the HELLO move nothing: a bad
 * tag is refused unanswered, the same nonce again (from the old port) gets
 * the same step even once the job has moved on, and results still go to the
 * new port.
 */
START_TEST(a_restarted_worker_is_a_member_again_from_its_hello_step)
{
	uint64_t hz = rte_get_tsc_hz(), now;
	const struct ainftp_member *m = &fx.rt.quorum->jobs[0].m[2];
	const struct ainftp_quorum_snap *snap;
	struct hello_view v = hello_right();
	struct ainftp_hello_info hi;
	struct contrib c[NW];
	float want[ELEMS];
	uint8_t f[256];

	three(c, 1, 3);
	expected_sum(c, 2, want);
	send_all(c, 2);
	now = rte_rdtsc();
	ainftp_dp_scan(rx_ctx(), now + hz / 5);
	ck_assert_uint_eq(ainftp_ctrl_quorum(&fx.rt, now + hz / 5), 1);
	ck_assert_uint_eq(m->in, 0);
	poll_once();
	expect_results(&c[0], want, 0x3, 0x3);

	moved_port[2] = NEW_PORT;
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, 11, keys[2]));
	expect_hello_ack(2, JOB, 2, 11, keys[2], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(hi.step, 2);
	publish(0x3, -1, 0); /* the control lcore's, made before it took the HELLO */
	poll_once();
	three(c, 2, 1);
	expected_sum(c, NW, want);
	send_all(c, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(rte_ring_count(rx_ctx()->dp.hb_ring), 1);

	/* Signed with another worker's key: refused, unanswered, and nothing moves. */
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, 12, keys[1]));
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_TAG), 1);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(rte_ring_count(rx_ctx()->dp.hb_ring), 1);

	ck_assert_uint_eq(ainftp_ctrl_acks_drain(&fx.rt), 1);
	ck_assert_uint_eq(m->in, 1);
	ck_assert_uint_eq(m->join_step, 2);
	ck_assert_uint_eq(m->rejoined, 1);
	ck_assert_uint_eq(m->starts, 1);
	ck_assert_uint_ne(fx.rt.swarm->jobs[0].peers[2].hello_tsc, 0);
	/* Its wait above the threshold is the old process's: it stays in. */
	ck_assert_uint_eq(ainftp_ctrl_quorum(&fx.rt, m->start_tsc + hz / 100), 1);
	ck_assert_uint_eq(m->in, 1);
	snap = ainftp_members_current(fx.rt.members, 0);
	ck_assert_uint_eq(snap->members, 0x7);
	ck_assert_uint_eq(ainftp_quorum_required(snap, 2), 0x7);
	ck_assert_uint_eq(ainftp_quorum_required(snap, 1), 0x3);
	ck_assert_uint_eq(snap->starts[2], 1);
	poll_once();
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(CTR(chunks_abandoned), 0); /* its own HELLO is not taken twice */
	send_contrib(&c[2]);
	expect_results(&c[0], want, 0x7, 0x7);

	moved_port[2] = 0;
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, 11, keys[2]));
	expect_hello_ack(2, JOB, 2, 11, keys[2], &hi);
	ck_assert_uint_eq(hi.status, AINFTP_HELLO_OK);
	ck_assert_uint_eq(hi.step, 2);
	ck_assert_uint_eq(rte_ring_count(rx_ctx()->dp.hb_ring), 0);
	ck_assert_uint_eq(CTR(hellos), 2);
	moved_port[2] = NEW_PORT;
	three(c, 3, 1);
	expected_sum(c, NW, want);
	send_all(c, NW);
	expect_results(&c[0], want, 0x7, 0x7);
}
END_TEST

/*
 * Worker 2's process dies with its data in (2, 1), which also has worker
 * 0's, and step 1 complete (min_quorum 3). Its new process is told to start
 * at step 2 and sends (2, 1) again, with other values: the sum must be the
 * new process's, never the dead one's. Its HELLO forgets the chunk the old
 * data is in (counted as abandoned); worker 0's probe is told its data is
 * missing and it sends it again; the result is exactly the three live
 * contributions.
 */
START_TEST(a_restarted_worker_never_sums_its_old_process_data)
{
	struct hello_view v = hello_right();
	struct ainftp_state_info si;
	struct ainftp_hello_info hi;
	struct contrib done[NW], old, c[NW];
	struct ainftp_msg msg;
	float want[ELEMS];
	uint8_t f[256];

	three(done, 1, 2);
	expected_sum(done, NW, want);
	send_all(done, NW);
	expect_results(&done[0], want, 0x7, 0x7);
	three(c, 2, 1);
	contrib_fill(&old, 2, 2, 1, 9); /* what the dead process sent: another exponent */
	send_contrib(&c[0]);
	send_contrib(&old);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);

	moved_port[2] = NEW_PORT;
	fixture_inject(&fx, f, (uint16_t)hello_frame(f, 2, 2, &v, 21, keys[2]));
	expect_hello_ack(2, JOB, 2, 21, keys[2], &hi);
	ck_assert_uint_eq(hi.step, 2);
	ck_assert_uint_eq(CTR(chunks_abandoned), 1);
	send_contrib(&c[2]); /* taken, not a duplicate of the old one */
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_DUPLICATE), 0);
	send_probe(0, 2, 1);
	expect_state(0, 2, 1, AINFTP_STATE_MISSING, &msg, &si);
	send_contrib(&c[0]);
	send_contrib(&c[1]);
	expected_sum(c, NW, want);
	expect_results(&c[0], want, 0x7, 0x7);
}
END_TEST

/*
 * A HELLO another RX lcore took (the snapshot counts one more start of
 * worker 2, from step 2): this lcore forgets what the old process left in
 * its chunks of that step and later, and keeps the earlier ones.
 */
START_TEST(a_restart_taken_elsewhere_is_forgotten_here_too)
{
	struct ainftp_quorum_snap q = *ainftp_members_current(fx.rt.members, 0);
	struct contrib before[NW], c[NW];
	float want[ELEMS];

	three(before, 1, 1);
	three(c, 2, 2);
	send_all(before, 3 - 1);
	send_contrib(&c[2]);
	send_contrib(&c[1]);
	q.version++;
	q.starts[2] = 1;
	q.start_step[2] = 2;
	ck_assert(ainftp_members_publish(fx.rt.members, 0, &q));
	poll_once();
	ck_assert_uint_eq(CTR(chunks_abandoned), 1);
	ck_assert_uint_eq(ainftp_dp_slots_busy(&fx.rt), 1);
	send_all(c, NW); /* (2, 2) afresh: worker 0's is taken, the others' too */
	expected_sum(c, NW, want);
	expect_results(&c[0], want, 0x7, 0x7);
	send_contrib(&before[2]); /* (1, 1) kept its two */
	expected_sum(before, NW, want);
	expect_results(&before[0], want, 0x7, 0x7);
}
END_TEST

/* ------------------------------------------------------------ sentry */

/* The three workers under a sentry (`sentry`: the keys of the job's "sentry" object). */
#define SENTRY_JSON(sentry)                                                                       \
	DP_JSON_X(                                                                                \
		"", RX_Q(0), "int16",                                                             \
		"\"straggler\": {\"threshold_ms\": 100, \"min_quorum\": 2}, \"sentry\": {" sentry \
		"},")

static void
sentry_up(const char *json)
{
	char err[256];

	fixture_down(&fx);
	fixture_up_json(&fx, json);
	ck_assert_msg(ainftp_ctrl_setup(&fx.rt, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(rx_ctx()->dp.jobs[0].sentry);
}

/* The library on its own, with the job's conf and the app's kernels (--simd-bits 512). */
static void
ref_sentry(struct ainftp_sentry *ref)
{
	ck_assert_int_eq(ainftp_sentry_init(ref, &fx.cfg.jobs[0].sentry, NW, ELEMS,
					    ainftp_sentry_select(fx.rt.simd_bits)),
			 0);
}

/* Floats summed through a fresh accumulator and out as a float32 result, as the data path does. */
struct ref_acc {
	struct ainftp_acc a;
	unsigned char mem[1024] __attribute__((aligned(64)));
};

static void
ref_acc_init(struct ref_acc *r)
{
	ck_assert_uint_le(ainftp_acc_size(ELEMS), sizeof(r->mem));
	ainftp_acc_init(&r->a, ELEMS, r->mem);
}

static void
ref_acc_add(struct ref_acc *r, const float *x)
{
	ck_assert_int_eq(ainftp_quant_select(fx.rt.simd_bits)->acc_f32(&r->a, x), 0);
}

static void
ref_acc_result(const struct ref_acc *r, float *out)
{
	ainftp_quant_select(fx.rt.simd_bits)->res_f32(&r->a, out);
}

/* Every frame waiting is a result with `bitmap`; its payload copied to got (all the same). */
static void
take_results(unsigned int n_expected, uint64_t bitmap, float *got)
{
	struct rte_mbuf *out[8];
	unsigned int n = drain(out, 8), i;

	ck_assert_uint_eq(n, n_expected);
	for (i = 0; i < n; i++) {
		uint8_t buf[2048];
		struct ainftp_msg msg;
		const uint8_t *payload;

		ck_assert_uint_eq(frame_copy(out[i], buf, sizeof(buf)),
				  rte_pktmbuf_pkt_len(out[i]));
		/* Each copy tagged for whom it goes to. */
		payload = result_take(out[i], buf, frame_to(buf), &msg);
		ck_assert_uint_eq(msg.bitmap, bitmap);
		ck_assert_uint_eq(msg.contributors, __builtin_popcountll(bitmap));
		ck_assert_uint_eq(msg.flags & AINFTP_F_OVERFLOW, 0);
		if (i == 0)
			memcpy(got, payload, ELEMS * 4);
		else
			ck_assert_mem_eq(payload, got, ELEMS * 4);
	}
	rte_pktmbuf_free_bulk(out, n);
}

/* Worker w's int16 contribution as the floats the sentry sees. */
static void
dequant(const struct contrib *c, float *x)
{
	ainftp_sentry_select(fx.rt.simd_bits)->dequant_i16(c->q, ELEMS, c->e, x);
}

/*
 * trimmed_mean and median: the result is ainftp_sentry_robust over the three
 * rows in worker-id order, through acc_f32 and res_f32, bit for bit; not the
 * plain sum (worker 2 is 64 times larger); the same bytes for another arrival
 * order, and for a retransmission after completion.
 */
static void
robust_case(const char *json)
{
	struct ainftp_sentry ref;
	struct ref_acc r;
	struct contrib c[NW];
	float rows[NW][ELEMS], out[ELEMS], want[ELEMS], got[ELEMS], plain[ELEMS];
	const float *x[NW] = {rows[0], rows[1], rows[2]};
	const uint16_t workers[NW] = {0, 1, 2};
	unsigned int w;

	sentry_up(json);
	for (w = 0; w < NW; w++) {
		contrib_fill(&c[w], w, 1, 3, (int8_t)(w == 2 ? -4 : -10));
		dequant(&c[w], rows[w]);
	}
	ref_sentry(&ref);
	ck_assert_int_eq(ainftp_sentry_robust(&ref, x, workers, NW, out), 0);
	ref_acc_init(&r);
	ref_acc_add(&r, out);
	ref_acc_result(&r, want);
	expected_sum(c, NW, plain);
	ck_assert_int_ne(memcmp(want, plain, sizeof(want)), 0);

	send_all(c, NW);
	take_results(NW, 0x7, got);
	ck_assert_mem_eq(got, want, sizeof(want));

	/* The slot's next chunk, the same payloads, another order: the same bytes. */
	for (w = 0; w < NW; w++)
		c[w].chunk = 3 + SLOTS;
	send_contrib(&c[2]);
	send_contrib(&c[0]);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	send_contrib(&c[1]);
	take_results(NW, 0x7, got);
	ck_assert_mem_eq(got, want, sizeof(want));

	/* A lost result: the kept one, to that worker only. */
	send_contrib(&c[1]);
	take_results(1, 0x7, got);
	ck_assert_mem_eq(got, want, sizeof(want));
	ck_assert_uint_eq(CTR(results_resent), 1);
	ck_assert_uint_eq(CTR(data_pkts), 2 * NW);
}

START_TEST(trimmed_mean_is_the_library_rule_in_any_order)
{
	robust_case(SENTRY_JSON("\"policy\": \"trimmed_mean\", \"f\": 1"));
}
END_TEST

START_TEST(median_is_the_library_rule_in_any_order)
{
	robust_case(SENTRY_JSON("\"policy\": \"median\""));
}
END_TEST

/* Five workers (ids 0-4, keys k,0,0,.. for k = 1..5), trimmed_mean f = 1: trims 1 of 5 each side.
 */
#define NW5 5
#define W5(id, host, k)                                                     \
	"{\"id\": " #id ", \"ipv4\": \"198.18.0." #host "\", \"key\": \"" k \
	"00000000000000000000000000000000000000000000000000000000000000\"}"
static const char five_json[] =
	"{\"appliance\": {\"ipv4\": \"" FIX_IP "\", \"mac\": \"02:00:00:00:00:02\"},"
	" \"ports\": [{\"device\": \"net_ring_fix\"}],"
	" \"lcores\": {\"control\": 0, \"rx\": [" RX_Q(
		0) "]},"
		   " \"jobs\": [{\"id\": 7, \"elems_per_packet\": 64, \"encoding\": \"int16\","
		   "   \"sentry\": {\"policy\": \"trimmed_mean\", \"f\": 1}, \"slots\": 8, "
		   "\"workers\": [" W5(0, 11, "01") "," W5(1, 12, "02") "," W5(2, 13, "03") "," W5(
			   3, 14, "04") "," W5(4, 15,
					       "05") "]}],"
						     " \"telemetry\": {\"stats_interval_s\": 0}}";

static void
send5(const struct contrib *c)
{
	uint8_t f[2048], key[32] = {0};

	key[0] = (uint8_t)(c->w + 1);
	fixture_inject(&fx, f, (uint16_t)data_frame(f, c, key, JOB, ELEMS));
}

/*
 * trimmed_mean of 5 with f = 1 (not the median): the library's bytes through
 * the RX poll, in two orders; worker 4, 64 times larger, is outside the band
 * (e = 1) in every coordinate and flagged, the others are not.
 */
START_TEST(trimmed_mean_of_five_flags_the_outlier)
{
	static const unsigned int order2[NW5] = {4, 2, 0, 3, 1};
	struct ainftp_sentry ref;
	struct ref_acc r;
	struct contrib c[NW5];
	float rows[NW5][ELEMS], out[ELEMS], want[ELEMS], got[ELEMS], med[ELEMS];
	const float *x[NW5];
	const uint16_t workers[NW5] = {0, 1, 2, 3, 4};
	struct ainftp_sentry_conf mc;
	unsigned int w;

	sentry_up(five_json);
	for (w = 0; w < NW5; w++) {
		contrib_fill(&c[w], w, 0, 1, (int8_t)(w == 4 ? -4 : -10));
		dequant(&c[w], rows[w]);
		x[w] = rows[w];
	}
	ck_assert_int_eq(ainftp_sentry_init(&ref, &fx.cfg.jobs[0].sentry, NW5, ELEMS,
					    ainftp_sentry_select(fx.rt.simd_bits)),
			 0);
	ck_assert_int_eq(ainftp_sentry_robust(&ref, x, workers, NW5, out), 0);
	ck_assert_uint_eq(ref.w[4].flagged, 1);
	ref_acc_init(&r);
	ref_acc_add(&r, out);
	ref_acc_result(&r, want);
	/* Not the median's bytes. */
	mc = fx.cfg.jobs[0].sentry;
	mc.policy = AINFTP_SENTRY_MEDIAN;
	ck_assert_int_eq(
		ainftp_sentry_init(&ref, &mc, NW5, ELEMS, ainftp_sentry_select(fx.rt.simd_bits)),
		0);
	ck_assert_int_eq(ainftp_sentry_robust(&ref, x, workers, NW5, med), 0);
	ck_assert_int_ne(memcmp(out, med, sizeof(med)), 0);

	for (w = 0; w < NW5; w++)
		send5(&c[w]);
	take_results(NW5, 0x1f, got);
	ck_assert_mem_eq(got, want, sizeof(want));
	for (w = 0; w < NW5; w++)
		c[w].chunk = 1 + SLOTS;
	for (w = 0; w < NW5; w++)
		send5(&c[order2[w]]);
	take_results(NW5, 0x1f, got);
	ck_assert_mem_eq(got, want, sizeof(want));
	for (w = 0; w < NW5; w++) {
		ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[w].sentry_seen, 2);
		ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[w].sentry_flagged, w == 4 ? 2 : 0);
	}
}
END_TEST

/* clip: each contribution clipped by the library, then summed; worker 2's blocks are clipped. */
START_TEST(clip_clips_then_sums)
{
	struct ainftp_sentry ref;
	struct ref_acc r;
	struct contrib c[NW];
	float x[ELEMS], want[ELEMS], got[ELEMS], plain[ELEMS];
	unsigned int w;

	sentry_up(SENTRY_JSON("\"policy\": \"clip\", \"clip_norm\": 50"));
	ref_sentry(&ref);
	ref_acc_init(&r);
	for (w = 0; w < NW; w++) {
		contrib_fill(&c[w], w, 0, 2, (int8_t)(w == 2 ? -4 : -12));
		dequant(&c[w], x);
		ck_assert_int_eq(ainftp_sentry_clip(&ref, (uint16_t)w, x, x), w == 2 ? 2 : 0);
		ref_acc_add(&r, x);
	}
	ref_acc_result(&r, want);
	expected_sum(c, NW, plain);
	ck_assert_int_ne(memcmp(want, plain, sizeof(want)), 0);
	send_contrib(&c[1]);
	send_contrib(&c[2]);
	send_contrib(&c[0]);
	take_results(NW, 0x7, got);
	ck_assert_mem_eq(got, want, sizeof(want));
	/* Seen by this lcore's sentry: one each, worker 2 flagged. */
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[2].sentry_seen, 1);
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[2].sentry_flagged, 1);
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[0].sentry_flagged, 0);
}
END_TEST

/* clip on a float32 job: the payload clipped as it is; a NaN refused as `value`, never judged. */
START_TEST(clip_on_float32_and_non_finite_refused)
{
	struct ainftp_sentry ref;
	struct ref_acc r;
	float x[NW][ELEMS], y[ELEMS], want[ELEMS], got[ELEMS];
	uint8_t f[2048];
	unsigned int w, i;

	sentry_up(DP_JSON_X("", RX_Q(0), "float32",
			    "\"sentry\": {\"policy\": \"clip\", \"clip_norm\": 50},"));
	for (w = 0; w < NW; w++)
		for (i = 0; i < ELEMS; i++)
			x[w][i] = (float)((int)(i * 7 + w * 13) % 101 - 50) *
				  (w == 2 ? 1.0f : 0.125f);
	ref_sentry(&ref);
	ref_acc_init(&r);
	for (w = 0; w < NW; w++) {
		memcpy(y, x[w], sizeof(y));
		ck_assert_int_eq(ainftp_sentry_clip(&ref, (uint16_t)w, y, y), w == 2 ? 2 : 0);
		ref_acc_add(&r, y);
	}
	ref_acc_result(&r, want);
	fixture_inject(&fx, f, (uint16_t)f32_frame(f, 0, x[0]));
	fixture_inject(&fx, f, (uint16_t)f32_frame(f, 1, x[1]));
	memcpy(y, x[2], sizeof(y));
	y[5] = NAN;
	fixture_inject(&fx, f, (uint16_t)f32_frame(f, 2, y));
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_VALUE), 1);
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[2].sentry_seen, 0);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	fixture_inject(&fx, f, (uint16_t)f32_frame(f, 2, x[2]));
	take_results(NW, 0x7, got);
	ck_assert_mem_eq(got, want, sizeof(want));
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[2].sentry_flagged, 1);
}
END_TEST

/*
 * zscore: after warm-up, a contribution 256 times the others' norm is dropped:
 * counted, not in the sum, the bitmap or the count, and the slot completes
 * without waiting for it.
 */
START_TEST(zscore_drops_an_outlier_after_warmup)
{
	struct contrib c[NW];
	float want[ELEMS], got[ELEMS];
	uint32_t k;

	sentry_up(SENTRY_JSON("\"policy\": \"zscore\", \"k\": 3.5"));
	for (k = 0; k < AINFTP_SENTRY_WARMUP + 2; k++) {
		three(c, 0, k);
		send_all(c, NW);
		expected_sum(c, NW, want);
		take_results(NW, 0x7, got);
		ck_assert_mem_eq(got, want, sizeof(want));
	}
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_SENTRY]), 0);
	three(c, 0, k);
	c[2].e = (int8_t)(c[2].e + 8);
	send_all(c, NW);
	expected_sum(c, 2, want);
	take_results(NW, 0x3, got);
	ck_assert_mem_eq(got, want, sizeof(want));
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_SENTRY]), 1);
	ck_assert_uint_eq(CTR(data_pkts), NW * k + 2);
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[2].sentry_flagged, 1);
	/* Its retransmission is a duplicate: judged once. */
	send_contrib(&c[2]);
	take_results(1, 0x3, got);
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[2].sentry_seen, k + 1);
}
END_TEST

/* Worker w's DATA of `chunk` (step 0) in `enc`, payload bytes as given. */
static void
send_raw(unsigned int w, uint8_t enc, uint32_t chunk, const void *payload, uint16_t len)
{
	struct ainftp_msg m = {
		.type = AINFTP_MSG_DATA,
		.encoding = enc,
		.flags = AINFTP_F_AUTH,
		.job = JOB,
		.worker = (uint16_t)w,
		.elems = ELEMS,
		.step = 0,
		.chunk = chunk,
		.slot = (uint16_t)(chunk % SLOTS),
	};
	uint8_t f[2048];

	fixture_inject(&fx, f, (uint16_t)fixture_data_frame(f, &m, payload, len, keys[w]));
}

/* An int8 payload: 2 block exponents, then 64 values; worker w's, `big` times 2^6. */
struct i8_payload {
	int8_t e[ELEMS / AINFTP_BLOCK];
	int8_t q[ELEMS];
};

static void
i8_fill(struct i8_payload *p, unsigned int w, uint32_t chunk, bool big)
{
	unsigned int i;

	for (i = 0; i < ELEMS / AINFTP_BLOCK; i++)
		p->e[i] = (int8_t)(big ? -1 : -7);
	for (i = 0; i < ELEMS; i++)
		p->q[i] =
			(int8_t)((int)((i * 2654435761u + w * 40503u + chunk * 977u) % 201) - 100);
}

/* median on an int8 job: rows dequantized with ainftp_dequant_i8, the library's bytes. */
START_TEST(median_on_int8)
{
	struct ainftp_sentry ref;
	struct ref_acc r;
	struct i8_payload p[NW];
	float rows[NW][ELEMS], out[ELEMS], want[ELEMS], got[ELEMS];
	const float *x[NW] = {rows[0], rows[1], rows[2]};
	const uint16_t workers[NW] = {0, 1, 2};
	unsigned int w;

	sentry_up(DP_JSON_X("", RX_Q(0), "int8", "\"sentry\": {\"policy\": \"median\"},"));
	for (w = 0; w < NW; w++) {
		i8_fill(&p[w], w, 6, w == 1);
		ainftp_dequant_i8(p[w].e, p[w].q, ELEMS, rows[w]);
	}
	ref_sentry(&ref);
	ck_assert_int_eq(ainftp_sentry_robust(&ref, x, workers, NW, out), 0);
	ref_acc_init(&r);
	ref_acc_add(&r, out);
	ref_acc_result(&r, want);
	for (w = NW; w-- > 0;)
		send_raw(w, AINFTP_ENC_INT8, 6, &p[w], sizeof(p[w]));
	take_results(NW, 0x7, got);
	ck_assert_mem_eq(got, want, sizeof(want));
}
END_TEST

/* zscore on int8 and float32 jobs: the norm from the payload as it is; an outlier dropped. */
static void
zscore_other_encoding(uint8_t enc)
{
	uint32_t k, n = AINFTP_SENTRY_WARMUP + 2;
	float fx32[NW][ELEMS], want[ELEMS], got[ELEMS];
	struct i8_payload p[NW];
	unsigned int w, i;

	sentry_up(enc == AINFTP_ENC_INT8
			  ? DP_JSON_X("", RX_Q(0), "int8", "\"sentry\": {\"policy\": \"zscore\"},")
			  : DP_JSON_X("", RX_Q(0), "float32",
				      "\"sentry\": {\"policy\": \"zscore\"},"));
	for (k = 0; k <= n; k++) {
		bool outlier = k == n;

		for (w = 0; w < NW; w++) {
			i8_fill(&p[w], w, k, outlier && w == 2);
			ainftp_dequant_i8(p[w].e, p[w].q, ELEMS, fx32[w]);
			if (enc == AINFTP_ENC_INT8)
				send_raw(w, enc, k, &p[w], sizeof(p[w]));
			else
				send_raw(w, enc, k, fx32[w], sizeof(fx32[w]));
		}
		/* Small dyadic values: the float sums are exact. */
		for (i = 0; i < ELEMS; i++)
			want[i] = fx32[0][i] + fx32[1][i] + (outlier ? 0.0f : fx32[2][i]);
		take_results(NW, outlier ? 0x3 : 0x7, got);
		ck_assert_mem_eq(got, want, sizeof(want));
	}
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_SENTRY]), 1);
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[2].sentry_flagged, 1);
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].workers[0].sentry_seen, n + 1);
}

START_TEST(zscore_on_int8)
{
	zscore_other_encoding(AINFTP_ENC_INT8);
}
END_TEST

START_TEST(zscore_on_float32)
{
	zscore_other_encoding(AINFTP_ENC_FLOAT32);
}
END_TEST

static struct ainftp_member *
member(unsigned int w)
{
	return &fx.rt.quorum->jobs[0].m[w];
}

/* A readmit through the telemetry handler: whether it was taken. */
static void
tel_readmit(const char *params, bool taken)
{
	struct rte_tel_data *d = rte_tel_data_alloc();
	uint64_t before = fx.rt.ctrl->readmit[0];

	ck_assert_ptr_nonnull(d);
	ck_assert_int_ge(ainftp_tel_readmit("/ainftp/readmit", params, d), 0);
	rte_tel_data_free(d);
	if (taken)
		ck_assert_uint_ne(fx.rt.ctrl->readmit[0], before);
	else
		ck_assert_uint_eq(fx.rt.ctrl->readmit[0], before);
}

static void
readmit_refused(const char *params, const char *why)
{
	char err[128] = "";

	ck_assert_int_eq(ainftp_ctrl_readmit_request(&fx.rt, params, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, why) != NULL, "'%s': '%s' lacks '%s'", params, err, why);
	tel_readmit(params, false);
}

/* The stats line's worker `id`: quarantined or not, flagged so many times, suspicion in [0, 1). */
static void
stats_worker_check(unsigned int id, bool quarantined, unsigned int flagged)
{
	json_t *o = ainftp_stats_json(&fx.rt, 0), *v, *wk = NULL;
	size_t i;

	json_array_foreach(json_object_get(o, "workers"), i,
			   v) if (json_integer_value(json_object_get(v, "id")) == (json_int_t)id)
		wk = v;
	ck_assert_ptr_nonnull(wk);
	ck_assert(json_is_true(json_object_get(wk, "quarantined")) == quarantined);
	ck_assert_int_eq(json_integer_value(json_object_get(wk, "sentry_flagged")), flagged);
	ck_assert(json_real_value(json_object_get(wk, "suspicion")) >= 0 &&
		  json_real_value(json_object_get(wk, "suspicion")) < 1);
	ck_assert(quarantined == (json_real_value(json_object_get(wk, "suspicion")) >= 0.5));
	json_decref(o);
}

/*
 * /ainftp/sentry of the quarantine test: the policy, and worker 2 quarantined
 * with its flags. (The reply itself nests containers that only the telemetry
 * thread frees, after sending: not built here.)
 */
static void
sentry_json_check(void)
{
	json_t *o = ainftp_stats_sentry_json(&fx.rt, 0);
	json_t *w2 = json_object_get(json_object_get(o, "workers"), "w2");
	json_t *w0 = json_object_get(json_object_get(o, "workers"), "w0");

	ck_assert_str_eq(json_string_value(json_object_get(o, "policy")), "clip");
	ck_assert_double_eq(json_real_value(json_object_get(o, "suspicion_threshold")), 0.5);
	ck_assert_ptr_nonnull(w2);
	ck_assert(json_is_true(json_object_get(w2, "quarantined")));
	ck_assert_int_eq(json_integer_value(json_object_get(w2, "flagged")), 60);
	ck_assert_int_eq(json_integer_value(json_object_get(w2, "seen")), 60);
	ck_assert_int_eq(json_integer_value(json_object_get(w2, "quarantines")), 1);
	ck_assert(json_is_false(json_object_get(w0, "quarantined")));
	ck_assert_int_eq(json_integer_value(json_object_get(w0, "flagged")), 0);
	json_decref(o);
}

/*
 * clip with threshold 0.5: worker 2's blocks are all clipped, chunk after
 * chunk. The control lcore sums the lcores' flags, quarantines it (out of the
 * quorum and the snapshot's members), the RX lcore drops its data as
 * `quarantined` and slots complete without it; readmitted through the
 * telemetry handler, it is back from the next step.
 */
START_TEST(a_worker_over_the_threshold_is_quarantined_until_readmitted)
{
	struct ainftp_sentry ref;
	struct ref_acc r;
	struct contrib c[NW];
	float x[ELEMS], want[ELEMS], got[ELEMS];
	uint64_t seen, flagged;
	uint32_t k, n = 60;
	unsigned int w;

	sentry_up(SENTRY_JSON("\"policy\": \"clip\", \"clip_norm\": 50, "
			      "\"suspicion_threshold\": 0.5"));
	for (k = 0; k < n; k++) {
		for (w = 0; w < NW; w++)
			contrib_fill(&c[w], w, 0, k, (int8_t)(w == 2 ? -4 : -12));
		send_all(c, NW);
		take_results(NW, 0x7, got);
		/* Not yet: the control lcore has not looked. */
		if (k == n / 2) {
			ck_assert_uint_eq(ainftp_ctrl_quorum(&fx.rt, rte_rdtsc()), 0);
			ck_assert_uint_eq(member(2)->quarantined, 0);
			ck_assert_uint_gt(member(2)->suspicion, 0);
		}
	}
	ainftp_dp_worker_sentry(&fx.rt, 0, 2, &seen, &flagged);
	ck_assert_uint_eq(seen, n);
	ck_assert_uint_eq(flagged, n);
	ainftp_dp_worker_sentry(&fx.rt, 0, 0, &seen, &flagged);
	ck_assert_uint_eq(seen, n);
	ck_assert_uint_eq(flagged, 0);
	/* A worker that is not quarantined cannot be readmitted. */
	ainftp_stats_telemetry_register(&fx.rt); /* binds the handlers to this runtime */
	readmit_refused("7,2", "not quarantined");

	ck_assert_uint_eq(ainftp_ctrl_quorum(&fx.rt, rte_rdtsc()), 1);
	ck_assert_uint_eq(member(2)->quarantined, 1);
	ck_assert_uint_eq(member(2)->in, 0);
	ck_assert_uint_eq(member(2)->reason, AINFTP_OUT_SENTRY);
	ck_assert_uint_ge(member(2)->suspicion, AINFTP_QUORUM_Q16 / 2);
	ck_assert_uint_eq(member(0)->quarantined, 0);
	ck_assert_uint_lt(member(0)->suspicion, AINFTP_QUORUM_Q16 / 100);
	ck_assert_uint_eq(fx.rt.quorum->jobs[0].n_members, 2);
	ck_assert_uint_eq(ainftp_members_current(fx.rt.members, 0)->quarantined, 0x4);
	ck_assert_uint_eq(ainftp_members_current(fx.rt.members, 0)->members, 0x3);
	poll_once();
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].sentry->quarantined, 0x4);
	stats_worker_check(2, true, 60);
	stats_worker_check(0, false, 0);
	sentry_json_check();

	/* Its data dropped and counted; the slot completes with the other two, clipped sums. */
	for (w = 0; w < NW; w++)
		contrib_fill(&c[w], w, 0, n, (int8_t)(w == 2 ? -4 : -12));
	send_contrib(&c[2]);
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_QUARANTINED]), 1);
	ck_assert_uint_eq(ainftp_dp_slots_busy(&fx.rt), 0);
	send_contrib(&c[0]);
	send_contrib(&c[1]);
	ref_sentry(&ref);
	ref_acc_init(&r);
	for (w = 0; w < 2; w++) {
		dequant(&c[w], x);
		ck_assert_int_eq(ainftp_sentry_clip(&ref, (uint16_t)w, x, x), 0);
		ref_acc_add(&r, x);
	}
	ref_acc_result(&r, want);
	take_results(NW, 0x3, got);
	ck_assert_mem_eq(got, want, sizeof(want));
	/* A retransmission of worker 2 too: dropped, not answered. */
	send_contrib(&c[2]);
	ck_assert_uint_eq(CTR(drops[AINFTP_DROP_QUARANTINED]), 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	/* The ranking leaves it out, whatever its health. */
	ck_assert_uint_eq(ainftp_ctrl_quorum(&fx.rt, rte_rdtsc()), 0);
	ck_assert_uint_eq(member(2)->quarantined, 1);

	/* Bad requests: a clear error, nothing asked of the control lcore. */
	readmit_refused(NULL, "JOB_ID,WORKER_ID");
	readmit_refused("", "JOB_ID,WORKER_ID");
	readmit_refused("7", "JOB_ID,WORKER_ID");
	readmit_refused("7,", "JOB_ID,WORKER_ID");
	readmit_refused("7,2x", "JOB_ID,WORKER_ID");
	readmit_refused("-7,2", "JOB_ID,WORKER_ID");
	readmit_refused("8,2", "no job 8");
	readmit_refused("7,9", "has no worker 9");
	readmit_refused("7,1", "not quarantined");
	tel_readmit("7,2", true);
	ck_assert_uint_eq(fx.rt.ctrl->readmit[0], 0x4);
	ck_assert_uint_eq(ainftp_ctrl_quorum(&fx.rt, rte_rdtsc()), 1);
	ck_assert_uint_eq(fx.rt.ctrl->readmit[0], 0);
	ck_assert_uint_eq(member(2)->quarantined, 0);
	ck_assert_uint_eq(member(2)->in, 1);
	ck_assert_uint_eq(member(2)->readmits, 1);
	ck_assert_uint_eq(member(2)->suspicion, 0);
	ck_assert_uint_eq(member(2)->join_step, 1); /* steps so far: 0 */
	poll_once();
	ck_assert_uint_eq(rx_ctx()->dp.jobs[0].sentry->quarantined, 0);
	ck_assert_uint_eq(ainftp_members_current(fx.rt.members, 0)->members, 0x7);

	/* Step 1: all three in the sum again (worker 2 behaves now). */
	for (w = 0; w < NW; w++)
		contrib_fill(&c[w], w, 1, 0, -12);
	send_all(c, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	send_contrib(&c[2]);
	expected_sum(c, NW, want);
	take_results(NW, 0x7, got);
	ck_assert_mem_eq(got, want, sizeof(want));
}
END_TEST

/* ------------------------------------------------------------ the hierarchy: a spine */

/*
 * The fixture's box is the SPINE of job 7: two leaves at the addresses
 * fixture_data_frame gives workers 0 and 1 (198.18.0.11 and .12), with the
 * keys of this file's workers 0 and 1, so that on the spine (its own view)
 * "worker" 0 is leaf 0 and "worker" 1 is leaf 1. The job's real workers
 * 0..3 are elsewhere (198.18.0.21-24): leaf 0 has 0 and 1, leaf 1 has 2 and 3.
 * 256 elements: 8 blocks, so a partial sum has several parts.
 */
#define H_ELEMS 256
#define H_NW 4
#define SPINE_JSON(encoding)                                                                      \
	"{\"appliance\": {\"ipv4\": \"" FIX_IP "\", \"mac\": \"02:00:00:00:00:02\"},"             \
	" \"ports\": [{\"device\": \"net_ring_fix\"}],"                                           \
	" \"lcores\": {\"control\": 0, \"rx\": [" RX_Q(                                           \
		0) "]},"                                                                          \
		   " \"jobs\": [{\"id\": 7, \"elems_per_packet\": 256, \"encoding\": \"" encoding \
		   "\","                                                                          \
		   "   \"slots\": 8, \"spine\": \"" FIX_IP "\", \"leaves\": ["                    \
		   "    {\"appliance\": \"198.18.0.11\", \"workers\": [0, 1], \"key\": "          \
		   "\"0102030000000000000000000000000000000000000000000000000000000000\"},"       \
		   "    {\"appliance\": \"198.18.0.12\", \"workers\": [2, 3], \"key\": "          \
		   "\"0405060000000000000000000000000000000000000000000000000000000000\"}],"      \
		   "   \"workers\": ["                                                            \
		   "    {\"id\": 0, \"ipv4\": \"198.18.0.21\", \"key\": "                         \
		   "\"a100000000000000000000000000000000000000000000000000000000000000\"},"       \
		   "    {\"id\": 1, \"ipv4\": \"198.18.0.22\", \"key\": "                         \
		   "\"a200000000000000000000000000000000000000000000000000000000000000\"},"       \
		   "    {\"id\": 2, \"ipv4\": \"198.18.0.23\", \"key\": "                         \
		   "\"a300000000000000000000000000000000000000000000000000000000000000\"},"       \
		   "    {\"id\": 3, \"ipv4\": \"198.18.0.24\", \"key\": "                         \
		   "\"a400000000000000000000000000000000000000000000000000000000000000\"}]}],"    \
		   " \"telemetry\": {\"stats_interval_s\": 0}}"

static const char spine_json[] = SPINE_JSON("int16");
static const char spine_json_f32[] = SPINE_JSON("float32");

/* The leaves' keys with the spine: this file's keys[0] and keys[1]. */
#define LEAF_KEY(l) (keys[l])
/* Leaf l's workers (bit = worker id). */
#define LEAF_BITS(l) (UINT64_C(3) << (2 * (l)))

/*
 * The arithmetic as the boxes do it, with the real kernels: each worker's
 * contribution quantized by the job's codec, each leaf's accumulator over its
 * two workers (what it sends up in parts), and one accumulator over all four
 * (what one box would have summed): the spine's result must be its bits.
 */
static struct {
	const struct ainftp_codec *cd;
	struct ainftp_kernels k;
	struct ainftp_acc leaf[2], all;
	void *mem[3];
	uint8_t pay[H_NW][H_ELEMS * 4];
	int8_t exp[H_NW];
	uint8_t want[H_ELEMS * 4]; /* the float32 result of all */
	int8_t want_exp;
} hz;
static float hz_scratch[H_ELEMS] __attribute__((aligned(64)));

static void
hier_sums(void)
{
	static const unsigned int one_box_order[H_NW] = {3, 0, 2, 1};
	float x[H_ELEMS];
	unsigned int w, i;

	hz.cd = ainftp_codec_get(fx.cfg.jobs[0].encoding);
	ck_assert_ptr_nonnull(hz.cd);
	ainftp_kernels_init(&hz.k, &ainftp_quant_scalar);
	for (w = 0; w < H_NW; w++) {
		/* Workers at different scales: the leaves' exponents differ, the merge aligns them.
		 */
		for (i = 0; i < H_ELEMS; i++)
			x[i] = ldexpf(
				(float)((int)((i * 2654435761u + w * 40503u) % 60001) - 30000) /
					30000.0f,
				(int)(3 * w) - 4);
		ck_assert_int_eq(hz.cd->quantize(&hz.k, x, H_ELEMS, hz.pay[w], &hz.exp[w]), 0);
	}
	for (i = 0; i < 3; i++) {
		if (hz.mem[i] == NULL)
			hz.mem[i] = aligned_alloc(64, ainftp_acc_size(H_ELEMS));
		ck_assert_ptr_nonnull(hz.mem[i]);
	}
	ainftp_acc_init(&hz.leaf[0], H_ELEMS, hz.mem[0]);
	ainftp_acc_init(&hz.leaf[1], H_ELEMS, hz.mem[1]);
	ainftp_acc_init(&hz.all, H_ELEMS, hz.mem[2]);
	for (w = 0; w < H_NW; w++)
		ck_assert_int_eq(
			hz.cd->accumulate(&hz.k, &hz.leaf[w / 2], hz.pay[w], hz.exp[w], hz_scratch),
			0);
	for (w = 0; w < H_NW; w++)
		ck_assert_int_eq(hz.cd->accumulate(&hz.k, &hz.all, hz.pay[one_box_order[w]],
						   hz.exp[one_box_order[w]], hz_scratch),
				 0);
	ck_assert(!hz.all.overflow);
	hz.want_exp = ainftp_codec_get(AINFTP_ENC_FLOAT32)->result_encode(&hz.k, &hz.all, hz.want);
}

static void
setup_spine(void)
{
	memset(moved_port, 0, sizeof(moved_port));
	fixture_up_json(&fx, spine_json);
	hier_sums();
}

static void
teardown_spine(void)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		free(hz.mem[i]);
		hz.mem[i] = NULL;
	}
	fixture_down(&fx);
}

/* The spine's own view: its "workers" are the leaves, every one of them in every result. */
static void
check_spine_view(void)
{
	const struct ainftp_job_conf *j = &fx.cfg.jobs[0];

	ck_assert_int_eq(j->role, AINFTP_ROLE_SPINE);
	ck_assert_uint_eq(j->n_workers, 2);
	ck_assert_uint_eq(j->quorum, 2);
	ck_assert_uint_eq(j->straggler.min_quorum, 2);
}

/* An AGGREGATE DATA from leaf `leaf` carrying payload (a part, or not), tagged under key. */
static size_t
agg_frame(uint8_t *f, unsigned int leaf, uint32_t step, uint32_t chunk, uint64_t bitmap,
	  uint8_t count, const void *payload, size_t len, const uint8_t *key)
{
	struct ainftp_msg m = {
		.type = AINFTP_MSG_DATA,
		.encoding = (uint8_t)fx.cfg.jobs[0].encoding,
		.flags = AINFTP_F_AUTH | AINFTP_F_AGGREGATE,
		.job = JOB,
		.worker = (uint16_t)leaf,
		.elems = H_ELEMS,
		.step = step,
		.chunk = chunk,
		.slot = (uint16_t)(chunk % SLOTS),
		.contributors = count,
		.bitmap = bitmap,
	};

	return fixture_data_frame(f, &m, payload, (uint16_t)len, key);
}

/* Part `part` at bpp of leaf l's partial sum, into p; its length. */
static size_t
leaf_part_bytes(unsigned int l, uint32_t part, uint32_t bpp, uint8_t *p)
{
	size_t len = ainftp_part_write(&hz.leaf[l], part, bpp, p);

	ck_assert_uint_gt(len, 0);
	ck_assert_uint_eq(len, ainftp_part_len(H_ELEMS, part, bpp));
	return len;
}

/*
 * Leaf l's part as the leaf sends it: its workers, their count, its key, and
 * the request they are on (desc, 0: not said).
 */
static void
send_part_desc(unsigned int l, uint32_t step, uint32_t chunk, uint32_t part, uint32_t bpp,
	       uint64_t desc)
{
	uint8_t p[2048], f[2048];
	size_t len = leaf_part_bytes(l, part, bpp, p);

	ainftp_part_set_desc(p, desc);
	fixture_inject(
		&fx, f,
		(uint16_t)agg_frame(f, l, step, chunk, LEAF_BITS(l), 2, p, len, LEAF_KEY(l)));
}

static void
send_part_of(unsigned int l, uint32_t step, uint32_t chunk, uint32_t part, uint32_t bpp)
{
	send_part_desc(l, step, chunk, part, bpp, 0);
}

static void
send_part(unsigned int l, uint32_t part, uint32_t bpp)
{
	send_part_of(l, 1, 3, part, bpp);
}

/*
 * A RESULT from the spine as leaf `to` takes it: addressed to it, tagged under
 * its key with the spine (not the other leaf's), every worker of the job in
 * it, the payload the bits of one box that summed all four.
 */
static void
check_spine_result(struct rte_mbuf *m, unsigned int to, uint32_t step, uint32_t chunk)
{
	uint8_t buf[2048], copy[2048];
	uint16_t len = frame_copy(m, buf, sizeof(buf));
	struct ainftp_mac_key mk;
	struct ainftp_msg msg;

	ck_assert_uint_eq(len, 42 + 32 + AINFTP_TAG_LEN + H_ELEMS * 4);
	ck_assert_uint_eq(ainftp_hdr_check((const struct ainftp_hdr *)(buf + 42), len - 42u),
			  AINFTP_OK);
	ainftp_hdr_read((const struct ainftp_hdr *)(buf + 42), &msg);
	check_addressed(buf, to, (uint16_t)(PORT + msg.slot % lanes()));
	ck_assert_uint_eq(msg.type, AINFTP_MSG_RESULT);
	ck_assert_uint_eq(msg.job, JOB);
	ck_assert_uint_eq(msg.worker, AINFTP_WORKER_APPLIANCE);
	ck_assert_uint_eq(msg.step, step);
	ck_assert_uint_eq(msg.chunk, chunk);
	ck_assert_uint_eq(msg.slot, chunk % SLOTS);
	ck_assert_uint_eq(msg.encoding, AINFTP_ENC_FLOAT32);
	ck_assert_uint_eq(msg.contributors, 4);
	ck_assert_uint_eq(msg.bitmap, 0xf);
	ck_assert_uint_eq(msg.flags, AINFTP_F_AUTH);
	ck_assert_int_eq(msg.scale_exp, hz.want_exp);
	/* The other leaf's key does not verify it (the check moves the header: on a copy). */
	memcpy(copy, buf, len);
	ck_assert_int_eq(ainftp_mac_key_init(&mk, LEAF_KEY(1 - to)), 0);
	ck_assert_int_eq(ainftp_result_verify(&mk, copy + 42, len - 42u), 0);
	ck_assert_int_eq(ainftp_mac_key_init(&mk, LEAF_KEY(to)), 0);
	ck_assert_msg(ainftp_result_verify(&mk, buf + 42, len - 42u) == 1,
		      "the result to leaf %u has no tag of its key", to);
	ck_assert_mem_eq(buf + 42 + 32 + AINFTP_TAG_LEN, hz.want, H_ELEMS * 4);
}

/* The chunk's completion: exactly one RESULT per leaf, each as check_spine_result says. */
static void
expect_spine_results(uint32_t step, uint32_t chunk)
{
	struct rte_mbuf *out[8];
	unsigned int n = drain(out, 8), i, seen = 0;
	uint8_t b[64];

	ck_assert_uint_eq(n, 2);
	for (i = 0; i < n; i++) {
		unsigned int to;

		ck_assert_uint_ge(rte_pktmbuf_pkt_len(out[i]), 34);
		to = frame_to(rte_pktmbuf_read(out[i], 0, 34, b));
		ck_assert_uint_lt(to, 2);
		ck_assert_msg(!(seen >> to & 1), "two results to leaf %u", to);
		seen |= 1u << to;
		check_spine_result(out[i], to, step, chunk);
	}
	rte_pktmbuf_free_bulk(out, n);
}

/* Every part of both leaves at bpp, in order but the given last one, which completes. */
static void
send_all_parts(uint32_t step, uint32_t chunk, uint32_t bpp)
{
	uint32_t np = ainftp_part_count(H_ELEMS, bpp), l, p;

	for (l = 0; l < 2; l++)
		for (p = 0; p < np; p++) {
			send_part_of(l, step, chunk, p, bpp);
			if (l == 0 || p + 1 < np)
				ck_assert_uint_eq(rte_ring_count(fx.out), 0);
		}
}

/*
 * Two leaves' partial sums, parts out of order and interleaved between the
 * leaves: nothing leaves the spine before the last part, then one RESULT per
 * leaf, each the bits of one box that summed all four workers (the spine's
 * merge is exact), with every worker of the job in its bitmap.
 */
START_TEST(a_spine_merges_the_leaves_parts_into_one_boxs_result)
{
	static const struct {
		unsigned int leaf;
		uint32_t part;
	} order[] = {{1, 3}, {0, 1}, {0, 0}, {1, 0}, {0, 3}, {1, 2}, {1, 1}, {0, 2}};
	uint64_t data = CTR(data_pkts), done = CTR(chunks_done);
	unsigned int i;

	check_spine_view();
	/* bpp 2 of 8 blocks: four parts a leaf (the spine takes any bpp a leaf keeps to). */
	ck_assert_uint_eq(ainftp_part_count(H_ELEMS, 2), 4);
	for (i = 0; i < RTE_DIM(order); i++) {
		send_part(order[i].leaf, order[i].part, 2);
		if (i + 1 < RTE_DIM(order))
			ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	}
	expect_spine_results(1, 3);
	ck_assert_uint_eq(CTR(data_pkts), data + 8);
	ck_assert_uint_eq(CTR(chunks_done), done + 1);
	ck_assert_uint_eq(all_proto_drops(), 0);
}
END_TEST

/*
 * The same on a float32 job, at the part size a leaf uses on the port's MTU
 * (ainftp_hier_bpp): float32 turns into 31-bit integers per block, and the
 * merged sum is still the one box's bits.
 */
START_TEST(a_float32_spine_merges_parts_of_the_ports_size)
{
	uint32_t bpp;

	teardown_spine();
	fixture_up_json(&fx, spine_json_f32);
	hier_sums();
	check_spine_view();
	bpp = ainftp_hier_bpp(fx.cfg.ports[0].mtu);
	ck_assert_uint_eq(ainftp_part_count(H_ELEMS, bpp), 2); /* parts 0 and 1, below */
	/* Leaf 1 first this time, its parts last to first. */
	send_part(1, 1, bpp);
	send_part(1, 0, bpp);
	send_part(0, 1, bpp);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	send_part(0, 0, bpp);
	expect_spine_results(1, 3);
	ck_assert_uint_eq(all_proto_drops(), 0);
}
END_TEST

/*
 * A part the spine has is a duplicate until the chunk completes (counted,
 * nothing sent, nothing summed twice: the result is still exact); after, the
 * leaf lost the result, and gets the kept one again, alone.
 */
START_TEST(a_spine_refuses_a_part_twice_and_resends_the_kept_result_after)
{
	struct rte_mbuf *out[8];
	uint64_t dup = proto_drops(AINFTP_BAD_DUPLICATE), resent, answered;
	uint32_t p;

	send_part(0, 0, 2);
	send_part(0, 0, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_DUPLICATE), dup + 1);
	for (p = 1; p < 4; p++)
		send_part(0, p, 2);
	send_part(1, 2, 2); /* leaf 1: a part twice, not in a row */
	send_part(1, 0, 2);
	send_part(1, 2, 2);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_DUPLICATE), dup + 2);
	send_part(1, 1, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	send_part(1, 3, 2);
	expect_spine_results(1, 3);

	resent = CTR(results_resent);
	answered = CTR(data_answered);
	send_part(1, 2, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 1);
	ck_assert_uint_eq(drain(out, 8), 1);
	check_spine_result(out[0], 1, 1, 3);
	rte_pktmbuf_free(out[0]);
	ck_assert_uint_eq(CTR(results_resent), resent + 1);
	ck_assert_uint_eq(CTR(data_answered), answered + 1);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_DUPLICATE), dup + 2);
}
END_TEST

/*
 * Each refusal of a spine: its own counter, nothing sent, nothing merged (the
 * chunk, completed after them all, is still the one box's bits).
 */
START_TEST(a_spine_refuses_bad_parts_each_with_its_counter)
{
	uint8_t p[2048], q[2048], f[2048];
	size_t len = leaf_part_bytes(0, 0, 2, p), n;
	uint32_t pp;

	/* A worker's DATA, not a partial sum: the spine has no workers. */
	{
		struct ainftp_msg m = {
			.type = AINFTP_MSG_DATA,
			.encoding = (uint8_t)fx.cfg.jobs[0].encoding,
			.flags = AINFTP_F_AUTH,
			.job = JOB,
			.worker = 0,
			.elems = H_ELEMS,
			.step = 1,
			.chunk = 3,
			.slot = 3,
			.scale_exp = hz.exp[0],
		};

		n = fixture_data_frame(f, &m, hz.pay[0], (uint16_t)hz.cd->payload_len(H_ELEMS),
				       LEAF_KEY(0));
		expect_refused(f, n, AINFTP_BAD_TYPE);
	}
	/* A worker of the other leaf in the bitmap. */
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x5, 2, p, len, LEAF_KEY(0)), AINFTP_BAD_VALUE);
	/* A count that is not the bitmap's. */
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x3, 1, p, len, LEAF_KEY(0)), AINFTP_BAD_VALUE);
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x3, 3, p, len, LEAF_KEY(0)), AINFTP_BAD_VALUE);
	/* The other leaf's key. */
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x3, 2, p, len, LEAF_KEY(1)), AINFTP_BAD_TAG);
	/* A part short of its last sum (tagged as sent): its layout is wrong. */
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x3, 2, p, len - 8, LEAF_KEY(0)),
		       AINFTP_BAD_LENGTH);
	/* Not even a part's header. */
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x3, 2, p, AINFTP_PART_HDR_LEN - 4, LEAF_KEY(0)),
		       AINFTP_BAD_TRUNCATED);
	/* A sum no two contributions of the job's width can make. */
	memcpy(q, p, len);
	{
		uint64_t big = UINT64_C(1) << 62;

		memcpy(q + AINFTP_PART_HDR_LEN + AINFTP_PART_BLOCK_HDR_LEN, &big, sizeof(big));
	}
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x3, 2, q, len, LEAF_KEY(0)), AINFTP_BAD_VALUE);
	ck_assert_uint_eq(all_proto_drops(), 8);

	/* Leaf 0's first part, then one of another size: the leaf's parts keep to one bpp. */
	send_part(0, 0, 2);
	len = leaf_part_bytes(0, 1, 4, p); /* blocks 4..7: not a part the spine has */
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x3, 2, p, len, LEAF_KEY(0)), AINFTP_BAD_LENGTH);
	/* Another set of workers than the leaf's first part said. */
	len = leaf_part_bytes(0, 1, 2, p);
	expect_refused(f, agg_frame(f, 0, 1, 3, 0x1, 1, p, len, LEAF_KEY(0)), AINFTP_BAD_VALUE);
	ck_assert_uint_eq(all_proto_drops(), 10);

	/* Nothing of them in the sum. */
	for (pp = 1; pp < 4; pp++)
		send_part(0, pp, 2);
	for (pp = 0; pp < 4; pp++)
		send_part(1, pp, 2);
	expect_spine_results(1, 3);
	ck_assert_uint_eq(all_proto_drops(), 10);
}
END_TEST

/*
 * A PROBE from leaf l for (step, chunk): header and tag, nothing else; its
 * bitmap the request its workers are on (desc, 0: not said), as a leaf's.
 */
static void
send_leaf_probe_desc(unsigned int l, uint32_t step, uint32_t chunk, uint64_t desc)
{
	static const uint8_t none[1];
	struct ainftp_msg m = {
		.type = AINFTP_MSG_PROBE,
		.encoding = (uint8_t)fx.cfg.jobs[0].encoding,
		.flags = AINFTP_F_AUTH,
		.job = JOB,
		.worker = (uint16_t)l,
		.step = step,
		.chunk = chunk,
		.slot = (uint16_t)(chunk % SLOTS),
		.bitmap = desc,
	};
	uint8_t f[256];

	fixture_inject(&fx, f, (uint16_t)fixture_data_frame(f, &m, none, 0, LEAF_KEY(l)));
}

static void
send_leaf_probe(unsigned int l, uint32_t step, uint32_t chunk)
{
	send_leaf_probe_desc(l, step, chunk, 0);
}

/*
 * The one frame out is a STATE to leaf l about (step, chunk): reason as
 * given, its header's bitmap the parts the spine has of the leaf's partial
 * sum (bit = part), no contributors; tagged under the leaf's key only.
 */
static void
expect_spine_state(unsigned int l, uint32_t step, uint32_t chunk, enum ainftp_state_reason reason,
		   uint64_t parts)
{
	struct rte_mbuf *out[8];
	unsigned int n = drain(out, 8);
	struct ainftp_state_info si;
	struct ainftp_msg msg;
	uint8_t buf[2048];
	const uint8_t *h = buf + 42;
	uint16_t len;

	ck_assert_uint_eq(n, 1);
	len = frame_copy(out[0], buf, sizeof(buf));
	rte_pktmbuf_free(out[0]);
	ck_assert_uint_eq(len, 42 + 32 + AINFTP_BODY_LEN + AINFTP_TAG_LEN);
	check_addressed(buf, l, (uint16_t)(PORT + (chunk % SLOTS) % lanes()));
	ck_assert_uint_eq(ainftp_hdr_check((const struct ainftp_hdr *)h, len - 42u), AINFTP_OK);
	ainftp_hdr_read((const struct ainftp_hdr *)h, &msg);
	ck_assert_uint_eq(msg.type, AINFTP_MSG_STATE);
	ck_assert_uint_eq(msg.job, JOB);
	ck_assert_uint_eq(msg.worker, AINFTP_WORKER_APPLIANCE);
	ck_assert_uint_eq(msg.step, step);
	ck_assert_uint_eq(msg.chunk, chunk);
	ck_assert_uint_eq(msg.flags, AINFTP_F_AUTH);
	ck_assert_uint_eq(msg.contributors, 0);
	ck_assert_uint_eq(msg.bitmap, parts);
	ck_assert_int_eq(
		ainftp_tag_verify(LEAF_KEY(l), h, 32 + AINFTP_BODY_LEN, h + 32 + AINFTP_BODY_LEN),
		1);
	ck_assert_int_eq(ainftp_tag_verify(LEAF_KEY(1 - l), h, 32 + AINFTP_BODY_LEN,
					   h + 32 + AINFTP_BODY_LEN),
			 0);
	ainftp_state_read((const struct ainftp_state *)(h + 32), &si);
	ck_assert_msg(si.reason == reason, "STATE %s, want %s",
		      si.reason < AINFTP_STATE_REASON_MAX ? ainftp_state_reason_names[si.reason]
							  : "?",
		      ainftp_state_reason_names[reason]);
}

/*
 * A leaf's PROBE tells it what to send: missing with the parts the spine has
 * (none at first), have once all of its are in while the other leaf's are
 * not, the kept result once complete, stale for a chunk the slot went past.
 */
START_TEST(a_leafs_probe_is_answered_with_the_parts_the_spine_has)
{
	struct rte_mbuf *out[8];
	uint64_t probes = CTR(probes);
	uint32_t p;

	send_leaf_probe(0, 1, 3);
	expect_spine_state(0, 1, 3, AINFTP_STATE_MISSING, 0);
	send_part(0, 0, 2);
	send_part(0, 2, 2);
	send_leaf_probe(0, 1, 3);
	expect_spine_state(0, 1, 3, AINFTP_STATE_MISSING, 0x5);
	send_leaf_probe(1, 1, 3);
	expect_spine_state(1, 1, 3, AINFTP_STATE_MISSING, 0);
	send_part(0, 3, 2);
	send_part(0, 1, 2);
	send_leaf_probe(0, 1, 3);
	expect_spine_state(0, 1, 3, AINFTP_STATE_HAVE, 0xf);
	send_part(1, 1, 2);
	send_leaf_probe(1, 1, 3);
	expect_spine_state(1, 1, 3, AINFTP_STATE_MISSING, 0x2);
	for (p = 0; p < 4; p++)
		if (p != 1)
			send_part(1, p, 2);
	expect_spine_results(1, 3);
	send_leaf_probe(1, 1, 3);
	ck_assert_uint_eq(drain(out, 8), 1);
	check_spine_result(out[0], 1, 1, 3);
	rte_pktmbuf_free(out[0]);
	ck_assert_uint_eq(CTR(probes), probes + 6);

	/* Two chunks later in the same slot (3, 11, 19): chunk 3 is stale. */
	send_all_parts(1, 11, 2);
	expect_spine_results(1, 11);
	send_part_of(0, 1, 19, 0, 2);
	send_leaf_probe(0, 1, 3);
	expect_spine_state(0, 1, 3, AINFTP_STATE_STALE, 0);
	ck_assert_uint_eq(all_proto_drops(), 0);
}
END_TEST

/*
 * A spine waits for every leaf however long it takes: a chunk that one leaf
 * has sent only some parts of (the others lost) while the other leaf's
 * workers are slower than the straggler threshold (500 ms) is not given up
 * by the scan (it was: the leaf heard from but not complete counted neither
 * as in nor as one that may come, and both leaves' chunk went stale for
 * good); its probes are answered, and it completes with the parts sent again.
 */
START_TEST(a_spine_never_gives_up_a_chunk_its_leaves_may_complete)
{
	uint64_t hz = rte_get_tsc_hz(), now = rte_rdtsc();
	uint32_t p;

	send_part(1, 0, 2);
	send_part(1, 2, 2);
	ainftp_dp_scan(rx_ctx(), now + 2 * hz);
	ainftp_dp_scan(rx_ctx(), now + 60 * hz);
	ck_assert_uint_eq(CTR(chunks_abandoned), 0);
	send_leaf_probe(1, 1, 3);
	expect_spine_state(1, 1, 3, AINFTP_STATE_MISSING, 0x5);
	/* Leaf 0 in whole, leaf 1 still short: still not given up. */
	for (p = 0; p < 4; p++)
		send_part(0, p, 2);
	ainftp_dp_scan(rx_ctx(), now + 120 * hz);
	ck_assert_uint_eq(CTR(chunks_abandoned), 0);
	send_leaf_probe(0, 1, 3);
	expect_spine_state(0, 1, 3, AINFTP_STATE_HAVE, 0xf);
	send_part(1, 1, 2);
	ck_assert_uint_eq(rte_ring_count(fx.out), 0);
	send_part(1, 3, 2);
	expect_spine_results(1, 3);
	ck_assert_uint_eq(all_proto_drops(), 0);
}
END_TEST

/*
 * A leaf's view of its spine: down only when a chunk has waited a second and
 * nothing came for as long. An RX lcore's stamp of when it heard the spine
 * may be later than the reader's clock: heard just now, not centuries ago
 * (the control lcore once logged "silent for 7094901566811 ms" and called a
 * spine that had just answered down).
 */
START_TEST(a_spine_heard_after_the_readers_clock_is_up)
{
	uint64_t hz = rte_get_tsc_hz(), now = 1000 * hz;
	struct ainftp_dp_up_view v = {.oldest_tsc = now - 2 * hz};

	ck_assert_str_eq(ainftp_dp_upstream_state(&v, now, hz), "down");
	v.heard_tsc = now - 2 * hz;
	ck_assert_str_eq(ainftp_dp_upstream_state(&v, now, hz), "down");
	v.heard_tsc = now - hz / 2;
	ck_assert_str_eq(ainftp_dp_upstream_state(&v, now, hz), "up");
	v.heard_tsc = now + 10;
	ck_assert_str_eq(ainftp_dp_upstream_state(&v, now, hz), "up");
	ck_assert_uint_eq(ainftp_dp_tsc_since(now, v.heard_tsc), 0);
	v.oldest_tsc = now + 10;
	v.heard_tsc = 0;
	ck_assert_str_eq(ainftp_dp_upstream_state(&v, now, hz), "unknown");
}
END_TEST

/*
 * The leaves' workers on different requests at one chunk (issue order
 * differs across racks): the second leaf's parts are never summed with the
 * first's, and both leaves' probes are told, naming the other request, so
 * that every worker stops instead of taking a sum of two tensors.
 */
START_TEST(a_spine_never_sums_two_requests)
{
	uint64_t a = ainftp_req_desc(4096, 0), b = ainftp_req_desc(8192, 0);
	uint64_t mism = proto_drops(AINFTP_BAD_MISMATCH);
	struct rte_mbuf *out[8];
	uint32_t p;

	for (p = 0; p < 4; p++)
		send_part_desc(0, 1, 3, p, 2, a);
	for (p = 0; p < 4; p++)
		send_part_desc(1, 1, 3, p, 2, b);
	ck_assert_uint_eq(drain(out, 8), 0);
	ck_assert_uint_eq(proto_drops(AINFTP_BAD_MISMATCH), mism + 4);
	send_leaf_probe_desc(1, 1, 3, b);
	expect_spine_state(1, 1, 3, AINFTP_STATE_MISMATCH, a);
	send_leaf_probe_desc(0, 1, 3, a);
	expect_spine_state(0, 1, 3, AINFTP_STATE_MISMATCH, b);
}
END_TEST

/*
 * A job without a hierarchy takes no partial sum, even one whose part is
 * well formed (so that it is the job, not the layout, that refuses it).
 */
START_TEST(a_job_without_a_spine_refuses_a_well_formed_part)
{
	struct ainftp_acc a;
	void *mem = aligned_alloc(64, ainftp_acc_size(ELEMS));
	uint8_t p[1024], f[2048];
	size_t len;
	struct ainftp_msg m = {
		.type = AINFTP_MSG_DATA,
		.encoding = AINFTP_ENC_INT16,
		.flags = AINFTP_F_AUTH | AINFTP_F_AGGREGATE,
		.job = JOB,
		.worker = 0,
		.elems = ELEMS,
		.step = 1,
		.chunk = 3,
		.slot = 3,
		.contributors = 1,
		.bitmap = 1,
	};

	ck_assert_ptr_nonnull(mem);
	ainftp_acc_init(&a, ELEMS, mem);
	len = ainftp_part_write(&a, 0, 2, p);
	ck_assert_uint_eq(len, ainftp_part_len(ELEMS, 0, 2));
	expect_refused(f, fixture_data_frame(f, &m, p, (uint16_t)len, keys[0]), AINFTP_BAD_TYPE);
	free(mem);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dp");
	TCase *tc = tcase_create("net_ring");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_chunk_is_summed_and_sent_to_every_worker);
	tcase_add_test(tc, retransmissions_are_idempotent);
	tcase_add_test(tc, wrong_key);
	tcase_add_test(tc, tags_checked_a_burst_at_a_time);
	tcase_add_test(tc, result_shortage_is_retried);
	tcase_add_test(tc, unknown_worker);
	tcase_add_test(tc, wrong_job);
	tcase_add_test(tc, stale_step);
	tcase_add_test(tc, truncated_payload);
	tcase_add_test(tc, wrong_element_count);
	tcase_add_test(tc, every_bad_field_has_its_own_counter);
	tcase_add_test(tc, a_newer_chunk_while_a_slot_sums_is_refused);
	tcase_add_test(tc, a_packet_off_its_lane_is_refused);
	tcase_add_test(tc, non_finite_float32_is_refused);
	tcase_add_test(tc, a_non_finite_contribution_that_would_complete_is_counted_once);
	tcase_add_test(tc, slots_are_idle_and_mbufs_back_after_a_run);
	suite_add_tcase(s, tc);
	tc = tcase_create("v2");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, each_result_copy_is_tagged_for_its_worker);
	tcase_add_test(tc, a_probe_gets_each_answer);
	tcase_add_test(tc, a_hello_is_answered_with_the_jobs_geometry_and_step);
	tcase_add_loop_test(tc, a_hello_names_the_first_difference, 0,
			    (int)RTE_DIM(hello_mismatches));
	tcase_add_test(tc, a_hello_for_an_unknown_job_or_worker_is_told_so);
	tcase_add_test(tc, a_hello_with_another_shard_view_is_refused);
	tcase_add_test(tc, without_auth_results_and_replies_carry_no_tag);
	tcase_add_test(tc, a_polyval_job_tags_everything_after_the_handshake_with_it);
	tcase_add_test(tc, chunks_of_different_collectives_are_never_summed);
	tcase_add_test(tc, a_probe_of_another_request_is_remembered);
	suite_add_tcase(s, tc);
	tc = tcase_create("heartbeat");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_heartbeat_ack_reaches_the_control_ring);
	tcase_add_test(tc, bad_heartbeat_acks_never_reach_the_control_ring);
	tcase_add_test(tc, a_full_ack_ring_is_a_counted_drop);
	tcase_add_test(tc, heartbeat_round_trip_through_the_swarm);
	suite_add_tcase(s, tc);
	tc = tcase_create("quorum");
	tcase_add_checked_fixture(tc, quorum_setup, teardown);
	tcase_add_test(tc, a_straggler_is_downranked_and_the_slot_completes_without_it);
	tcase_add_test(tc, latency_buckets);
	tcase_add_test(tc, below_the_floor_results_wait);
	tcase_add_test(tc, a_rejoined_worker_is_required_from_its_step);
	tcase_add_test(tc, a_late_contribution_gets_the_result_and_changes_no_sum);
	tcase_add_test(tc, a_snapshot_is_reused_only_after_the_readers_moved_on);
	tcase_add_test(tc, a_later_step_completes_a_chunk_ready_without_its_sender);
	tcase_add_test(tc, a_later_step_waits_while_the_chunk_needs_its_peers);
	tcase_add_test(tc, a_restarted_worker_is_a_member_again_from_its_hello_step);
	suite_add_tcase(s, tc);
	tc = tcase_create("later");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_later_step_abandons_a_chunk_only_when_all_its_workers_left);
	tcase_add_test(tc, one_worker_ahead_never_drops_its_peers_chunk);
	tcase_add_test(tc, a_chunk_that_needs_a_worker_sent_past_it_is_abandoned);
	tcase_add_test(tc, a_chunk_nobody_can_complete_is_given_up_by_the_scan);
	tcase_add_test(tc, a_restarted_worker_never_sums_its_old_process_data);
	tcase_add_test(tc, a_restart_taken_elsewhere_is_forgotten_here_too);
	suite_add_tcase(s, tc);
	tc = tcase_create("sentry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, trimmed_mean_is_the_library_rule_in_any_order);
	tcase_add_test(tc, median_is_the_library_rule_in_any_order);
	tcase_add_test(tc, trimmed_mean_of_five_flags_the_outlier);
	tcase_add_test(tc, clip_clips_then_sums);
	tcase_add_test(tc, clip_on_float32_and_non_finite_refused);
	tcase_add_test(tc, zscore_drops_an_outlier_after_warmup);
	tcase_add_test(tc, median_on_int8);
	tcase_add_test(tc, zscore_on_int8);
	tcase_add_test(tc, zscore_on_float32);
	tcase_add_test(tc, a_worker_over_the_threshold_is_quarantined_until_readmitted);
	suite_add_tcase(s, tc);
	tc = tcase_create("spine");
	tcase_add_checked_fixture(tc, setup_spine, teardown_spine);
	tcase_add_test(tc, a_spine_merges_the_leaves_parts_into_one_boxs_result);
	tcase_add_test(tc, a_float32_spine_merges_parts_of_the_ports_size);
	tcase_add_test(tc, a_spine_refuses_a_part_twice_and_resends_the_kept_result_after);
	tcase_add_test(tc, a_spine_refuses_bad_parts_each_with_its_counter);
	tcase_add_test(tc, a_leafs_probe_is_answered_with_the_parts_the_spine_has);
	tcase_add_test(tc, a_spine_never_sums_two_requests);
	tcase_add_test(tc, a_spine_never_gives_up_a_chunk_its_leaves_may_complete);
	tcase_add_test(tc, a_spine_heard_after_the_readers_clock_is_up);
	suite_add_tcase(s, tc);
	tc = tcase_create("not_a_spine");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_job_without_a_spine_refuses_a_well_formed_part);
	suite_add_tcase(s, tc);
	fixture_eal_init("test_dp", 0);
	return fixture_run(s);
}
