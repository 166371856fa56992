/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the appliance's receive path: one EAL and one
 * appliance for the process, built through the app's own path
 * (tests/fixture.c) on a net_ring port; each input is up to FZ_MAX_FRAMES
 * frames, each injected into the port's RX ring and followed by one RX poll.
 * The data path starts afresh for each input (fz_reset_dp).
 *
 * An input is a sequence of records (tests/fuzz/make_corpus.py writes them):
 *
 *   ctrl (1 byte) | len (2 bytes, big-endian) | len bytes of Ethernet frame
 *
 * ctrl's bits ask the harness to make the frame valid where a fuzzer cannot
 * by itself (a checksum, a keyed MAC), so that it gets past the checks into
 * the slots, the sentry and the results: FZ_TAG_APPEND / FZ_TAG_FIX tag the
 * ainftp message under the key of the job and worker its header names, and
 * FZ_FIX_L3 sets the IPv4 and UDP lengths and the IPv4 (and ICMP) checksums
 * to the frame. A short last record takes what is left.
 *
 * After every input, the RX lcore's counters must account for every frame
 * received exactly once (ainftp_counters_unaccounted); anything else is
 * abort()ed on, and the sanitizers catch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "ainftp_counters.h"
#include "ainftp_ctrl.h"
#include "ainftp_dp.h"
#include "../fixture.h"

#define FZ_MAX_FRAMES 8
#define FZ_MAX_FRAME 2000 /* within a default mbuf's data room */
#define FZ_WORKERS 4

enum fz_ctrl {
	FZ_FIX_L3 = 1 << 0,	/* IPv4 total length, UDP length, IPv4 and ICMP checksums */
	FZ_TAG_APPEND = 1 << 1, /* 16 more bytes, the tag */
	FZ_TAG_FIX = 1 << 2,	/* the last 16 bytes are the tag */
};

/*
 * Key of worker w of job j: byte 0 the job, byte 1 the worker + 1, the rest
 * 0: the harness tags with them (make_corpus.py leaves tags to it).
 * Throwaway keys of a test.
 */
#define FZ_KEY(j, w) "\"" j w "000000000000000000000000000000000000000000000000000000000000\""
#define FZ_W(id, ip, j, w) \
	"{\"id\": " id ", \"ipv4\": \"198.18.0." ip "\", \"key\": " FZ_KEY(j, w) "}"
/* clang-format off: one line per job reads better than what it would make of them */
#define FZ_WORKERS_JSON(j)                                                          \
	"\"workers\": [" FZ_W("0", "11", j, "01") "," FZ_W("1", "12", j, "02") ","  \
	FZ_W("2", "13", j, "03") "," FZ_W("3", "14", j, "04") "]"

/*
 * Four jobs of four workers: each encoding, auth on and off (and untagged
 * results), int16 and int8 results, a sentry policy on three, few slots.
 * Job 5: this box is the spine of leaves at workers 0 and 1's addresses
 * (their keys as workers 0 and 1 of job 5's). Job 6: this box is leaf 0
 * (workers 0 and 1) under a spine at worker 4's address (198.18.0.15),
 * whose messages to it are tagged under leaf 0's key, all zero (fz_key's
 * for the appliance's worker id); results untagged, so the fuzzer can make
 * them.
 */
static const char fz_json[] =
	"{\"appliance\": {\"ipv4\": \"" FIX_IP "\", \"mac\": \"02:00:00:00:00:02\"},"
	" \"ports\": [{\"device\": \"net_ring_fix\"}],"
	" \"lcores\": {\"control\": 0, \"rx\": [{\"lcore\": 1, \"port\": 0, \"queue\": 0}]},"
	" \"jobs\": ["
	"  {\"id\": 1, \"elems_per_packet\": 64, \"encoding\": \"int16\","
	"   \"result_encoding\": \"int16\", \"slots\": 4, " FZ_WORKERS_JSON("01") "},"
	"  {\"id\": 2, \"elems_per_packet\": 64, \"encoding\": \"int8\", \"auth\": false,"
	"   \"result_encoding\": \"int8\", \"slots\": 2, \"sentry\": {\"policy\": \"median\"},"
	"   " FZ_WORKERS_JSON("02") "},"
	"  {\"id\": 3, \"elems_per_packet\": 32, \"encoding\": \"float32\", \"result_tags\": false,"
	"   \"slots\": 4, \"sentry\": {\"policy\": \"trimmed_mean\", \"f\": 1},"
	"   " FZ_WORKERS_JSON("03") "},"
	"  {\"id\": 4, \"elems_per_packet\": 32, \"encoding\": \"int16\", \"auth\": false,"
	"   \"slots\": 1, \"straggler\": {\"min_quorum\": 2},"
	"   \"sentry\": {\"policy\": \"zscore\", \"k\": 3.5}, " FZ_WORKERS_JSON("04") "},"
	"  {\"id\": 5, \"elems_per_packet\": 64, \"encoding\": \"int16\","
	"   \"result_encoding\": \"int16\", \"slots\": 4, \"spine\": \"" FIX_IP "\","
	"   \"leaves\": [{\"appliance\": \"198.18.0.11\", \"key\": " FZ_KEY("05", "01") ","
	"                \"workers\": [0, 1]},"
	"               {\"appliance\": \"198.18.0.12\", \"key\": " FZ_KEY("05", "02") ","
	"                \"workers\": [2, 3]}],"
	"   \"workers\": [" FZ_W("0", "21", "05", "07") "," FZ_W("1", "22", "05", "08") ","
	"                 " FZ_W("2", "23", "05", "09") "," FZ_W("3", "24", "05", "0a") "]},"
	"  {\"id\": 6, \"elems_per_packet\": 64, \"encoding\": \"int16\","
	"   \"result_encoding\": \"int16\", \"slots\": 4, \"result_tags\": false,"
	"   \"spine\": \"198.18.0.15\","
	"   \"leaves\": [{\"appliance\": \"" FIX_IP "\", \"key\": " FZ_KEY("00", "00") ","
	"                \"workers\": [0, 1]},"
	"               {\"appliance\": \"198.18.0.20\", \"key\": " FZ_KEY("06", "09") ","
	"                \"workers\": [2, 3]}],"
	"   " FZ_WORKERS_JSON("06") "}],"
	" \"telemetry\": {\"stats_interval_s\": 0}}";
/* clang-format on */

static struct fixture fz;

/*
 * With AINFTP_FUZZ_STATS set, the RX lcore's counters at exit: what a corpus
 * reaches (results, STATEs, HELLOs, each refusal), to check the seeds by.
 */
static void
fz_stats(void)
{
	const struct ainftp_port_ctr *c = &ainftp_stats[FIX_RX_LCORE].port[0];
	unsigned int i;

	fprintf(stderr,
		"fuzz_rx: rx %llu tx %llu data %llu chunks_done %llu results %llu resent %llu "
		"states %llu hellos %llu probes %llu hb_acks %llu arp %llu icmp %llu\n",
		(unsigned long long)c->rx_pkts, (unsigned long long)c->tx_pkts,
		(unsigned long long)c->data_pkts, (unsigned long long)c->chunks_done,
		(unsigned long long)c->results_sent, (unsigned long long)c->results_resent,
		(unsigned long long)c->states_sent, (unsigned long long)c->hellos,
		(unsigned long long)c->probes, (unsigned long long)c->heartbeat_acks,
		(unsigned long long)c->arp_replies, (unsigned long long)c->icmp_replies);
	for (i = 1; i < AINFTP_BAD_MAX; i++)
		if (c->proto_drops[i] != 0)
			fprintf(stderr, "fuzz_rx: refused %s %llu\n", ainftp_bad_names[i],
				(unsigned long long)c->proto_drops[i]);
	for (i = 0; i < AINFTP_DROP_MAX; i++)
		if (c->drops[i] != 0)
			fprintf(stderr, "fuzz_rx: dropped %s %llu\n", ainftp_drop_names[i],
				(unsigned long long)c->drops[i]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_eal_init("fuzz_rx", 0);
	fixture_up_json(&fz, fz_json);
	if (getenv("AINFTP_FUZZ_STATS") != NULL)
		atexit(fz_stats);
	return 0;
}

static uint16_t
fz_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071 over n bytes (n even or odd). */
static uint16_t
fz_csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The IPv4 header's length, or 0 when the frame is not IPv4 with a sane IHL. */
static size_t
fz_ihl(const uint8_t *f, size_t len)
{
	size_t ihl;

	if (len < 14 + 20 || fz_get16(f + 12) != 0x0800)
		return 0;
	ihl = (size_t)(f[14] & 0x0f) * 4;
	return ihl >= 20 && 14 + ihl <= len ? ihl : 0;
}

/* Lengths and checksums to the frame: what a fuzzer would rarely get right. */
static void
fz_fix_l3(uint8_t *f, size_t len)
{
	size_t ihl = fz_ihl(f, len), l4 = 14 + ihl;
	uint8_t *ip = f + 14;

	if (ihl == 0)
		return;
	fixture_put16(ip + 2, (uint16_t)(len - 14));
	if (ip[9] == 17 && len >= l4 + 8) {
		fixture_put16(f + l4 + 4, (uint16_t)(len - l4));
		fixture_put16(f + l4 + 6, 0); /* no UDP checksum */
	} else if (ip[9] == 1 && len >= l4 + 4) {
		fixture_put16(f + l4 + 2, 0);
		fixture_put16(f + l4 + 2, fz_csum(f + l4, len - l4));
	}
	fixture_put16(ip + 10, 0);
	fixture_put16(ip + 10, fz_csum(ip, ihl));
}

/* The ainftp message's key: its job's and worker's, or all zero for another. */
static void
fz_key(const struct ainftp_hdr *h, uint8_t key[AINFTP_KEY_BYTES])
{
	struct ainftp_msg m;

	ainftp_hdr_read(h, &m);
	memset(key, 0, AINFTP_KEY_BYTES);
	if (m.job >= 1 && m.job <= 6 && m.worker < FZ_WORKERS) {
		key[0] = (uint8_t)m.job;
		key[1] = (uint8_t)(m.worker + 1);
	}
}

/* The last 16 bytes: the tag over the ainftp message before them. */
static void
fz_tag(uint8_t *f, size_t len)
{
	size_t ihl = fz_ihl(f, len), msg = 14 + ihl + 8;
	uint8_t key[AINFTP_KEY_BYTES];

	if (ihl == 0 || len < msg + sizeof(struct ainftp_hdr) + AINFTP_TAG_LEN)
		return;
	fz_key((const struct ainftp_hdr *)(f + msg), key);
	ainftp_tag(key, f + msg, len - msg - AINFTP_TAG_LEN, f + len - AINFTP_TAG_LEN);
}

/* What the appliance sent: freed (its content is the unit tests' business). */
static void
fz_drain(struct rte_ring *r)
{
	struct rte_mbuf *m[32];
	unsigned int n, i;

	while ((n = rte_ring_dequeue_burst(r, (void **)m, RTE_DIM(m), NULL)) > 0)
		for (i = 0; i < n; i++)
			rte_pktmbuf_free(m[i]);
}

static void
fz_frame(uint8_t ctrl, const uint8_t *data, size_t len)
{
	uint8_t f[FZ_MAX_FRAME + AINFTP_TAG_LEN];

	memcpy(f, data, len);
	if (ctrl & FZ_TAG_APPEND) {
		memset(f + len, 0, AINFTP_TAG_LEN);
		len += AINFTP_TAG_LEN;
	}
	if (ctrl & FZ_FIX_L3)
		fz_fix_l3(f, len);
	if (ctrl & (FZ_TAG_APPEND | FZ_TAG_FIX))
		fz_tag(f, len);
	fixture_inject(&fz, f, (uint16_t)len);
	fz_drain(fz.out);
	fz_drain(fz.ctrl_out);
}

/* Every frame the RX lcore received is in exactly one outcome. */
static void
fz_check(void)
{
	const struct ainftp_port_ctr *c = &ainftp_stats[FIX_RX_LCORE].port[0];
	int64_t u = ainftp_counters_unaccounted(c);

	if (u != 0) {
		fprintf(stderr, "fuzz_rx: %lld frames unaccounted for after %llu received\n",
			(long long)u, (unsigned long long)c->rx_pkts);
		abort();
	}
}

/*
 * The data path afresh (slots, sentries, kept results): each input starts from
 * the same appliance, so a finding replays alone, and steps that one input
 * moved on do not make every later input stale. The ports, the lcores' setup,
 * the neighbours and the counters stay.
 */
static void
fz_reset_dp(void)
{
	struct ainftp_rx_ctx *ctx = fz.rt.rx[FIX_RX_LCORE];

	ainftp_dp_free(ctx);
	memset(&ctx->dp, 0, sizeof(ctx->dp));
	if (ainftp_dp_init(ctx, &fz.rt) != 0) {
		fprintf(stderr, "fuzz_rx: ainftp_dp_init failed\n");
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int frames = 0;

	fz_reset_dp();

	while (size >= 3 && frames < FZ_MAX_FRAMES) {
		uint8_t ctrl = data[0];
		size_t len = fz_get16(data + 1);

		data += 3, size -= 3;
		len = len < size ? len : size;
		if (len > FZ_MAX_FRAME)
			len = FZ_MAX_FRAME;
		fz_frame(ctrl, data, len);
		data += len, size -= len;
		frames++;
	}
	/* HEARTBEAT_ACKs go to the control lcore's ring: its half of the path. */
	ainftp_ctrl_acks_drain(&fz.rt);
	fz_drain(fz.ctrl_out);
	fz_check();
	return 0;
}
