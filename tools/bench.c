/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-bench: throughput and latency of the aggregation data path, each
 * figure next to two ceilings measured in the same process, because on a shared
 * machine only figures taken side by side mean anything:
 *
 *   ainftp   the RX lcore's own loop (ainftp_rx_poll) on lcore 1
 *   iofwd    the same generator against an io-forward loop on lcore 1, which is
 *            testpmd's io mode on the same ring vdev: what the I/O alone allows
 *   compute  the selected SIMD kernel summing the same payloads from memory on
 *            lcore 1: what the arithmetic alone allows
 *
 * Lcore 0 is the generator: the W workers of one job, each chunk's W
 * contributions copied from a template per worker, at most `slots` chunks in
 * flight (the workers' window), W result copies back per chunk. The appliance
 * runs on a ring port cross-connected with the generator's, as the emulator's
 * (an ainftp_ringpair: g2a is its in[], a2g its out[]):
 *
 *   generator TX l  --(g2a ring l)---> appliance RX l  (lane l: slots k with k % lanes == l)
 *   generator RX q  <--(a2g ring q)-- appliance TX q  (q < lanes: RX lcore 1 + q; lanes: control)
 *
 * One RX lcore and one lane by default; with --rx-lcores 2 (and in --scaling),
 * lcores 1 and 2 poll lanes 0 and 1, as a NIC with rte_flow would steer them:
 * the generator sends each contribution to its slot's lane's UDP port, on the
 * TX queue that reaches that lane's RX queue. The control lcore (0 in the
 * config) is never run: nothing here needs it.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_udp.h>
#include <rte_version.h>

#include "ainftp_config.h"
#include "ainftp_opt.h"
#include "bench_plain.h"
#include "ainftp_lcore.h"
#include "ainftp_port.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"
#include "ainftp_ringpair.h"
#include "ainftp_rx.h"
#include "ainftp_stats.h"

#define DUT_LCORE 1 /* the appliance's first RX lcore, or the ceiling under test */
#define MAX_RX 2    /* RX lcores, and lanes: RX lcore DUT_LCORE + l polls lane l */
#define APP_NAME "bench_app"
#define GEN_NAME "bench_gen"
#define APP_IP "198.18.0.2"
#define APP_MAC "02:00:00:00:00:02"
#define WORKER_NET "198.18.0."
#define WORKER_HOST_BASE 11
#define WORKER_UDP_BASE 40000
#define UDP_PORT 47474
#define JOB_ID 1
#define MTU 9000
/* RTE_IPV4 shifts an int: 198 << 24 overflows it (UBSan says so). */
#define IPV4(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define HDR_OFF (RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))
#define HDRS_LEN (HDR_OFF + sizeof(struct ainftp_hdr))
#define MAX_PAYLOAD 8192
#define MAX_FRAME (HDRS_LEN + MAX_PAYLOAD + AINFTP_TAG_LEN)
#define GEN_BURST 32 /* contributions per TX burst, rounded to whole chunks */
#define RX_BURST 64
#define POOL_CACHE 256
#define LAT_CAP (1u << 21) /* latency samples per run: 8 MiB, allocated once */
#define STALL_S 1.0
#define MAX_REPS 9
#define PROG "ainftp-bench"
#define COMPUTE_WARM_S 0.01
#define TAGS_BYTES (256u << 20) /* pre-made tags: 16 M contributions at most */
#define N_ENC 8			/* codecs the table can hold: every row of ainftp_codec_list */

static const uint32_t sizes_full[] = {256, 512, 1024, 2048, 4096, 8192};
static const uint32_t sizes_quick[] = {256, 1024, 8192};

/* The encodings measured: every codec, in the table's order (ainftp_codec_list). */
static unsigned int
n_enc(void)
{
	unsigned int n = 0;

	while (ainftp_codec_list[n] != NULL && n < N_ENC)
		n++;
	return n;
}

static enum ainftp_encoding
enc_at(unsigned int e)
{
	return ainftp_codec_list[e]->enc;
}

struct opts {
	bool quick;
	bool auth;
	bool untagged_results; /* --untagged-results: the table's jobs with result_tags false */
	enum ainftp_mac_alg auth_mac; /* --auth-mac: the MAC of authenticated points */
	bool verbose;
	bool ceilings;	    /* iofwd and compute next to ainftp */
	int only_enc;	    /* -1, or the one encoding to run (profiling) */
	uint32_t only_size; /* with only_enc */
	uint16_t workers;
	uint32_t slots;
	unsigned int reps;
	double run_s, warm_s, compute_s;
	enum ainftp_encoding result_enc;
	bool result_auto; /* float32 results where they fit the MTU, else int16, else int8 */
	/* --sentry: the policies to measure against none, side by side (n_sentry 0: not asked) */
	unsigned int n_sentry;
	enum ainftp_sentry_policy sentry[AINFTP_SENTRY_MAX];
	bool sink;		/* --sink: the result sink's cost only */
	unsigned int rx_lcores; /* --rx-lcores: the appliance's RX lcores, and lanes */
	bool scaling;		/* --scaling: 1 RX lcore against 2 on one point only */
	const char *lcores;	/* --lcores: EAL's lcore map, or NULL: the default's */
	bool no_yield;		/* --no-yield: lcores that share a CPU poll it without a break */
};

/* One measured configuration: an encoding and a payload size. */
struct point {
	enum ainftp_encoding enc;
	const struct ainftp_codec *codec;
	uint32_t target; /* payload bytes asked for */
	uint32_t elems;
	uint32_t payload; /* payload bytes sent: target, or just below it for int8 */
	bool auth;
	bool untagged_results;	     /* with auth: cluster.json result_tags false */
	enum ainftp_mac_alg mac;     /* with auth: cluster.json auth_mac */
	uint32_t job;		     /* its job id in the appliance's config */
	enum ainftp_encoding result; /* the job's result encoding */
	bool fits;		     /* its results fit the MTU: results are never fragmented */
	enum ainftp_sentry_policy sentry; /* the job's sentry, default parameters */
};

/* What the workers send: a frame per worker, and what else the ceilings need. */
struct traffic {
	uint32_t frame_len;
	uint8_t *tmpl[AINFTP_MAX_WORKERS];
	uint8_t *payload[AINFTP_MAX_WORKERS]; /* 64-byte aligned copies, for compute alone */
	int8_t exp[AINFTP_MAX_WORKERS];	      /* int16 scale exponents */
	struct ainftp_mac_key mk[AINFTP_MAX_WORKERS];
	/*
	 * Authenticated runs: the tags of chunks tag_g0 .. tag_g0 + tag_n - 1, every
	 * worker's, made before the run (tags_make), so that the generator only copies
	 * them and the appliance, not the generator, is what a run measures. A chunk
	 * past them is tagged as it is sent, and counted in tags_late.
	 */
	uint8_t *tags; /* tag_n x W x AINFTP_TAG_LEN */
	uint64_t tag_g0, tag_n, tag_cap;
	uint64_t tag_hint; /* chunks the next authenticated run is likely to send */
	bool tags_unread;  /* iofwd: nothing checks a tag, the bytes of the template's go */
	uint64_t tags_late;
};

/*
 * The workers' window over one appliance's life: chunk numbers only grow, as a
 * slot only moves forward. All W workers send every chunk together, so one
 * window stands for all of them; a chunk is done when its W copies are back.
 */
struct window {
	uint64_t next_g;
	uint64_t done;
	uint32_t in_flight;
	uint32_t *chunk; /* per slot: the chunk in flight there */
	uint16_t *got;	 /* per slot: copies back */
	uint8_t *busy;
	uint64_t *sent_tsc;
	uint64_t stray;	       /* frames that belong to no chunk in flight */
	uint64_t passes, full; /* generator passes, and those the window let send nothing */
	uint64_t last_progress;
	bool record;
	uint32_t *lat; /* cycles, first contribution sent to first copy back */
	uint32_t n_lat;
	/* Per lane: contributions built and not yet taken by its TX queue. */
	struct rte_mbuf *pend[MAX_RX][AINFTP_MAX_WORKERS * 2];
	uint16_t lane_pend[MAX_RX], lane_off[MAX_RX];
	uint16_t n_pend, pend_new; /* all lanes'; pend_new: chunks whose send time is not set */
};

/* An appliance built through the app's own path, on the ring port. */
struct app {
	struct ainftp_config cfg;
	struct ainftp_runtime rt;
	bool up;
};

struct sample {
	bool ok;
	double mpps, p50_us, p99_us;
	double lc_mpps[MAX_RX]; /* each RX lcore's contributions/s (its data_pkts), same window */
	double cyc; /* TSC cycles per frame in the polls that found frames; NAN: not counted */
};

struct row {
	bool ok;
	double mpps, gbps, p50_us, p99_us, io_mpps, cmp_mpps;
	double sf_mpps;	    /* the sumfwd ceiling's */
	double cyc, sf_cyc; /* TSC cycles per frame on the RX lcores: ainftp's, sumfwd's */
	/* The plain-SIMD baselines (bench_plain.c): a widening add into int32 (float32: a
	 * float add) and into int64, contributions/s; NAN where there is none. */
	double plain32_mpps, plain64_mpps;
	double lc_mpps[MAX_RX]; /* per RX lcore, of the appliance's runs */
};

struct bench {
	struct opts o;
	uint64_t hz;
	int socket;
	struct rte_mempool *pool;  /* the generator's frames */
	struct ainftp_ringpair rp; /* the appliance's port, and the generator's (its peer) */
	unsigned int pool_start;
	unsigned int failures; /* stalls and leaks */
	const struct ainftp_quant_ops *ops;
	const struct bench_plain_ops *plain; /* the baselines at the kernels' SIMD level */
	struct window win;
	struct traffic tr;
	struct app app;
	char sink_path[64]; /* the appliance's arena file, or "": no sink */
	unsigned int n_rx;  /* the appliance's RX lcores and lanes now: 1..MAX_RX */
	bool gen_yield;	    /* the generator shares its CPU with an RX lcore of this run */
};

/* Lcore 1's loops stop when this is set. */
static uint32_t dut_stop;

enum dut {
	DUT_APP,
	DUT_IOFWD,
	DUT_SUMFWD,
};

static const char *const dut_names[] = {"ainftp", "iofwd", "sumfwd"};

/* ------------------------------------------------------------ helpers */

static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ainftp-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of n values (NAN in, NAN out: a failed repetition fails the point). */
static double
median(double *v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (isnan(v[i]))
			return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
cycles_to_us(const struct bench *b, uint64_t c)
{
	return (double)c * 1e6 / (double)b->hz;
}

static void
point_label(const struct point *pt, char *buf, size_t len)
{
	snprintf(buf, len, "%s %u B%s", ainftp_encoding_name(pt->enc), pt->payload,
		 pt->auth ? " auth" : "");
}

/* ------------------------------------------------------------ lcores and CPUs */

/* The CPUs lcore runs on, as a list: "1", "0,1". */
static void
lcore_cpus(unsigned int lcore, char *buf, size_t len)
{
	rte_cpuset_t set = rte_lcore_cpuset(lcore);
	size_t n = 0;
	unsigned int c;

	buf[0] = '\0';
	for (c = 0; c < CPU_SETSIZE && n < len; c++)
		if (CPU_ISSET(c, &set))
			n += (size_t)snprintf(buf + n, len - n, "%s%u", n ? "," : "", c);
}

static bool
cpus_shared(unsigned int a, unsigned int b)
{
	rte_cpuset_t x = rte_lcore_cpuset(a), y = rte_lcore_cpuset(b), both;

	CPU_AND(&both, &x, &y);
	return CPU_COUNT(&both) != 0;
}

/* The RX lcores a run can have: MAX_RX for --scaling, else --rx-lcores. */
static unsigned int
rx_max(const struct opts *o)
{
	return o->scaling ? MAX_RX : o->rx_lcores;
}

/*
 * Where each lcore runs, and which of them time-share a CPU: there a run
 * shows what the lcores sum to, not what each would do on a core of its own.
 */
static void
cpus_print(const struct bench *b)
{
	unsigned int n = rx_max(&b->o), l, m;
	char cpus[64];

	printf("CPUs:");
	for (l = 0; l <= n; l++) {
		lcore_cpus(l, cpus, sizeof(cpus));
		printf("%s lcore %u on %s", l ? "," : "", l, cpus);
	}
	for (l = 0; l <= n; l++)
		for (m = l + 1; m <= n; m++)
			if (cpus_shared(l, m))
				printf("; lcores %u and %u share a CPU", l, m);
	printf("\n");
}

/* The RX lcores of the runs, in words. */
static const char *
rx_lcores_name(const struct bench *b)
{
	return b->n_rx == 1 ? "one RX lcore (lcore 1)" : "2 RX lcores (lcores 1 and 2, 2 lanes)";
}

/* Whether any two of lcores 0 .. n (the generator and n RX lcores) share a CPU. */
static bool
lcores_share(unsigned int n)
{
	unsigned int l, m;

	for (l = 0; l <= n; l++)
		for (m = l + 1; m <= n; m++)
			if (cpus_shared(l, m))
				return true;
	return false;
}

/* ------------------------------------------------------------ points */

/* Elements whose payload is the size asked for: for int8, the nearest at or below it. */
static struct point
point_make(const struct opts *o, enum ainftp_encoding enc, uint32_t target, bool auth)
{
	struct point pt = {.enc = enc,
			   .codec = ainftp_codec_get(enc),
			   .target = target,
			   .auth = auth,
			   .mac = o->auth_mac,
			   .job = JOB_ID};
	uint32_t step = pt.codec->elems_multiple;

	/* Whole steps of elems_multiple elements (int8: 32 in 33 bytes). */
	pt.elems = target / (uint32_t)pt.codec->payload_len(step) * step;
	pt.payload = (uint32_t)pt.codec->payload_len(pt.elems);
	pt.result = o->result_enc;
	if (o->result_auto && ainftp_payload_len(pt.result, pt.elems) + AINFTP_PKT_OVERHEAD > MTU)
		pt.result = AINFTP_ENC_INT16;
	/* int8 at 8 KB: only int8 results fit a frame (the sink reads none: config refuses). */
	if (o->result_auto && !o->sink &&
	    ainftp_payload_len(pt.result, pt.elems) + AINFTP_PKT_OVERHEAD > MTU)
		pt.result = AINFTP_ENC_INT8;
	pt.fits = ainftp_payload_len(pt.result, pt.elems) + AINFTP_PKT_OVERHEAD <= MTU;
	return pt;
}

/* ------------------------------------------------------------ traffic */

/* A worker's gradient: uniform in +-2^-(w % 4), a different stream per worker. */
static void
gradient(uint16_t w, uint32_t n, float *x)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (w + 1u);
	float scale = ldexpf(1.0f, -(int)(w % 4));
	uint32_t i;

	for (i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		x[i] = scale * ((float)(s >> 40) / (float)(1u << 23) - 1.0f);
	}
}

/* Worker w's payload as it goes on the wire (little-endian, as the host). */
static void
payload_make(const struct point *pt, uint16_t w, uint8_t *out, int8_t *exp)
{
	float *x = malloc(pt->elems * sizeof(*x));
	struct ainftp_kernels k;

	if (x == NULL)
		die("out of memory");
	gradient(w, pt->elems, x);
	ainftp_kernels_init(&k, &ainftp_quant_scalar);
	pt->codec->quantize(&k, x, pt->elems, out, exp);
	free(x);
}

/* Worker w's 32-byte key: the config gets it in hex, the generator derives its MAC key. */
static void
worker_key(uint16_t w, uint8_t key[AINFTP_KEY_BYTES])
{
	unsigned int i;

	for (i = 0; i < AINFTP_KEY_BYTES; i++)
		key[i] = (uint8_t)(0x40 + w * AINFTP_KEY_BYTES + i);
}

static void
eth_ip_udp_write(uint8_t *f, uint16_t w, uint16_t udp_len)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	struct rte_ether_addr app_mac = {{0x02, 0, 0, 0, 0, 0x02}};
	struct rte_ether_addr wmac = {{0x02, 0, 0, 0, 0x01, (uint8_t)w}};

	rte_ether_addr_copy(&app_mac, &eth->dst_addr);
	rte_ether_addr_copy(&wmac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + udp_len));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(IPV4(198, 18, 0, WORKER_HOST_BASE + w));
	ip->dst_addr = rte_cpu_to_be_32(IPV4(198, 18, 0, 2));
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16((uint16_t)(WORKER_UDP_BASE + w));
	udp->dst_port = rte_cpu_to_be_16(UDP_PORT); /* lane 0's: frame_patch sets each chunk's */
	udp->dgram_len = rte_cpu_to_be_16(udp_len);
	udp->dgram_cksum = 0;
}

/* Worker w's template: everything but step, chunk, slot and the tag, which change per chunk. */
static void
frame_make(uint8_t *f, const struct point *pt, uint16_t w, const uint8_t *payload, int8_t exp)
{
	uint32_t tag = pt->auth ? AINFTP_TAG_LEN : 0;
	struct ainftp_msg msg = {
		.type = AINFTP_MSG_DATA,
		.encoding = (uint8_t)pt->enc,
		.flags = pt->auth ? AINFTP_F_AUTH : 0,
		.job = pt->job,
		.worker = w,
		.elems = (uint16_t)pt->elems,
		.scale_exp = exp,
	};

	eth_ip_udp_write(f, w,
			 (uint16_t)(sizeof(struct rte_udp_hdr) + sizeof(struct ainftp_hdr) +
				    pt->payload + tag));
	ainftp_hdr_write((struct ainftp_hdr *)(f + HDR_OFF), &msg);
	memcpy(f + HDRS_LEN, payload, pt->payload);
	memset(f + HDRS_LEN + pt->payload, 0, tag);
}

static void
traffic_make(struct bench *b, const struct point *pt)
{
	struct traffic *tr = &b->tr;
	uint8_t key[AINFTP_KEY_BYTES];
	uint16_t w;

	tr->frame_len = (uint32_t)HDRS_LEN + pt->payload + (pt->auth ? AINFTP_TAG_LEN : 0);
	for (w = 0; w < b->o.workers; w++) {
		payload_make(pt, w, tr->payload[w], &tr->exp[w]);
		frame_make(tr->tmpl[w], pt, w, tr->payload[w], tr->exp[w]);
		worker_key(w, key);
		if (ainftp_mac_key_init(&tr->mk[w], key) != 0)
			die("libsodium does not initialise");
		tr->mk[w].alg = (uint8_t)pt->mac;
	}
}

/* ------------------------------------------------------------ the appliance */

/* One job of the config: the point's encoding and size, W workers with their keys. */
static size_t
job_json(const struct bench *b, const struct point *pt, char *buf, size_t len)
{
	uint8_t key[AINFTP_KEY_BYTES];
	size_t n;
	uint16_t w;
	unsigned int i;

	n = (size_t)snprintf(buf, len,
			     "{\"id\": %u, \"slots\": %u, \"elems_per_packet\": %u, \"encoding\": "
			     "\"%s\", \"result_encoding\": \"%s\", \"auth\": %s, "
			     "\"result_tags\": %s, \"auth_mac\": \"%s\", \"sentry\": {\"policy\": "
			     "\"%s\"}, \"workers\": [",
			     pt->job, b->o.slots, pt->elems, ainftp_encoding_name(pt->enc),
			     ainftp_encoding_name(pt->result), pt->auth ? "true" : "false",
			     pt->untagged_results ? "false" : "true", ainftp_mac_alg_names[pt->mac],
			     ainftp_sentry_name(pt->sentry));
	for (w = 0; w < b->o.workers && n < len; w++) {
		n += (size_t)snprintf(buf + n, len - n,
				      "%s{\"id\": %u, \"ipv4\": \"" WORKER_NET "%u\", \"key\": \"",
				      w ? ", " : "", w, WORKER_HOST_BASE + w);
		worker_key(w, key);
		for (i = 0; i < AINFTP_KEY_BYTES && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%02x", key[i]);
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, "\"}");
	}
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, "]}");
	return n;
}

/*
 * The appliance: one port (the ring pair) with a queue per lane, which is the
 * job's lane count, n_rx RX lcores (lcore DUT_LCORE + l polls queue l), one
 * job per point. Each RX lcore has a TX queue, and the control lcore one more
 * (ainftp_lcores_setup: RX lcores by rank, then control).
 */
static int
config_json(const struct bench *b, const struct point *pts, unsigned int n_pts, char *buf,
	    size_t len)
{
	unsigned int j, l;
	size_t n;

	n = (size_t)snprintf(buf, len,
			     "{\"appliance\": {\"ipv4\": \"" APP_IP "\", \"mac\": \"" APP_MAC "\", "
			     "\"udp_port\": %u},"
			     " \"ports\": [{\"device\": \"net_ring_" APP_NAME
			     "\", \"rx_queues\": %u, "
			     "\"tx_queues\": %u, \"mtu\": %u}],"
			     " \"lcores\": {\"control\": 0, \"rx\": [",
			     UDP_PORT, b->n_rx, b->n_rx + 1, MTU);
	for (l = 0; l < b->n_rx && n < len; l++)
		n += (size_t)snprintf(buf + n, len - n,
				      "%s{\"lcore\": %u, \"port\": 0, \"queue\": %u}",
				      l ? ", " : "", DUT_LCORE + l, l);
	if (n < len)
		n += (size_t)snprintf(
			buf + n, len - n,
			"]}, \"telemetry\": {\"enabled\": false, \"stats_interval_s\": 0},");
	if (b->sink_path[0] != '\0' && n < len)
		n += (size_t)snprintf(buf + n, len - n,
				      " \"sink\": {\"backend\": \"host\", \"path\": \"%s\"},",
				      b->sink_path);
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " \"jobs\": [");
	for (j = 0; j < n_pts && n < len; j++) {
		if (j != 0)
			n += (size_t)snprintf(buf + n, len - n, ", ");
		if (n < len)
			n += job_json(b, &pts[j], buf + n, len - n);
	}
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, "]}");
	return n < len ? 0 : -1;
}

/* The app's own bring-up (config, ports, lcores) on a fresh ring port preset as port 0. */
static int
app_up(struct bench *b, const struct point *pts, unsigned int n_pts)
{
	struct app *a = &b->app;
	char json[32768], err[512];
	int port;

	memset(a, 0, sizeof(*a));
	if (config_json(b, pts, n_pts, json, sizeof(json)) != 0)
		die("config too long");
	if (ainftp_config_parse(json, "bench.json", &a->cfg, err, sizeof(err)) != 0)
		die("%s", err);
	port = ainftp_ringpair_app_port(&b->rp, APP_NAME, err, sizeof(err));
	if (port < 0)
		die("%s", err);
	a->up = true;
	a->rt.cfg = &a->cfg;
	a->rt.stats_out = stdout;
	a->rt.simd_bits = 512;
	a->rt.ports[0].port_id = (uint16_t)port;
	a->rt.ports[0].preset = true;
	ainftp_counters_reset();
	if (ainftp_ports_setup(&a->rt, err, sizeof(err)) != 0 ||
	    ainftp_lcores_setup(&a->rt, err, sizeof(err)) != 0) {
		printf("bench: appliance setup failed: %s\n", err);
		return -1;
	}
	return 0;
}

/* Results the slots of one RX lcore keep for retransmissions: in use, and no leak. */
static unsigned int
shadows_held_by(const struct ainftp_rx_ctx *ctx)
{
	unsigned int n = 0;
	uint32_t k;
	uint16_t j;

	for (j = 0; ctx != NULL && ctx->dp.jobs != NULL && j < ctx->dp.n_jobs; j++) {
		const struct ainftp_dp_job *job = &ctx->dp.jobs[j];

		/* slots[k] is NULL on the lcores that do not own slot k's lane. */
		for (k = 0; job->slots != NULL && k < job->n_slots; k++)
			n += job->slots[k] != NULL && job->slots[k]->shadow != NULL;
	}
	return n;
}

static unsigned int
shadows_held(const struct bench *b)
{
	unsigned int n = 0, l;

	for (l = 0; l < b->n_rx; l++)
		n += shadows_held_by(b->app.rt.rx[DUT_LCORE + l]);
	return n;
}

static unsigned int
in_use(struct rte_mempool *mp)
{
	return mp == NULL ? 0 : rte_mempool_in_use_count(mp);
}

/* Every pool back where it started (results kept by slots apart): 0, or -1 and a line. */
static int
pools_check(struct bench *b, const char *when)
{
	const struct app *a = &b->app;
	int s = a->rt.ports[0].socket;
	unsigned int gen = in_use(b->pool), kept = shadows_held(b);
	unsigned int res = in_use(a->rt.result_pool[s]), hdr = in_use(a->rt.hdr_pool[s]);
	unsigned int rx = in_use(a->rt.pool[s]);

	if (gen == b->pool_start && res == kept && hdr == 0 && rx == 0)
		return 0;
	printf("bench: LEAK after %s: generator pool %u in use (%u at start), result pool %u "
	       "(%u kept by slots), header pool %u, RX pool %u\n",
	       when, gen, b->pool_start, res, kept, hdr, rx);
	b->failures++;
	return -1;
}

static void
app_down(struct bench *b, const char *label)
{
	struct app *a = &b->app;

	if (!a->up)
		return;
	ainftp_lcores_free(&a->rt); /* the slots give back the results they kept */
	pools_check(b, label);
	ainftp_ports_close(&a->rt);
	/* Its vdev removed, so that the next point can make it again. */
	ainftp_ringpair_app_remove(&b->rp);
	a->up = false;
}

/*
 * A counter of port 0 summed over the appliance's RX lcores: ctr is lcore
 * DUT_LCORE's, the others' are at the same place in their blocks.
 */
static uint64_t
rx_ctr(const struct bench *b, const uint64_t *ctr)
{
	const char *first = (const char *)&ainftp_stats[DUT_LCORE].port[0];
	size_t off = (size_t)((const char *)ctr - first);
	uint64_t n = 0;
	unsigned int l;

	for (l = 0; l < b->n_rx; l++)
		n += ainftp_ctr_read(
			(const uint64_t *)((const char *)&ainftp_stats[DUT_LCORE + l].port[0] +
					   off));
	return n;
}

#define RX_CTR(b, field) rx_ctr(b, &ainftp_stats[DUT_LCORE].port[0].field)

/* What the appliance's RX lcores refused or lost, on one line; empty when nothing. */
static void
app_drops(const struct bench *b, char *buf, size_t len)
{
	size_t n = 0;
	uint64_t v;
	unsigned int i;

	buf[0] = '\0';
	for (i = 1; i < AINFTP_BAD_MAX && n < len; i++)
		if ((v = RX_CTR(b, proto_drops[i])) != 0)
			n += (size_t)snprintf(buf + n, len - n, " %s=%" PRIu64, ainftp_bad_names[i],
					      v);
	for (i = 0; i < AINFTP_DROP_MAX && n < len; i++)
		if ((v = RX_CTR(b, drops[i])) != 0)
			n += (size_t)snprintf(buf + n, len - n, " %s=%" PRIu64,
					      ainftp_drop_names[i], v);
}

/* ------------------------------------------------------------ lcores 1 and 2 */

static bool
dut_stopped(void)
{
	return __atomic_load_n(&dut_stop, __ATOMIC_RELAXED) != 0;
}

/*
 * What an RX lcore polls, and how busy it was: the generator-bound runs show as
 * idle polls. yield: it shares its CPU with another lcore of the run, and
 * gives it up after a poll that found nothing (sched_yield). A busy poll would
 * keep it for the scheduler's whole slice, milliseconds, in which the other
 * lcore's lane fills the window and everything waits (docs/PERFORMANCE.md).
 */
struct dut_loop {
	struct ainftp_rx_ctx *ctx;
	uint16_t port, queue; /* iofwd: its lane's RX queue, and its own TX queue */
	bool yield;
	struct sumfwd *sf; /* sumfwd: the slots' sums, shared by the lanes (k % lanes) */
	uint64_t polls, busy, frames;
	uint64_t busy_tsc; /* TSC cycles in the polls that found frames (the appliance's) */
};

/* The appliance's RX lcore, as ainftp_rx_loop with its loop counters kept here. */
static int
app_main(void *arg)
{
	struct dut_loop *d = arg;
	uint64_t polls = 0, busy = 0, frames = 0, busy_tsc = 0, t0;
	uint16_t n;

	while (!dut_stopped()) {
		t0 = rte_rdtsc();
		n = ainftp_rx_poll(d->ctx);
		polls++;
		busy += n != 0;
		frames += n;
		/* The cost of a frame to the lcore, whatever the generator's pace. */
		if (n != 0)
			busy_tsc += rte_rdtsc() - t0;
		else if (d->yield)
			sched_yield();
	}
	/* As ainftp_rx_loop leaves: what it took ahead back to the pools, which are counted. */
	ainftp_rx_stop(d->ctx);
	d->busy_tsc = busy_tsc;
	d->polls = polls;
	d->busy = busy;
	d->frames = frames;
	return 0;
}

/* testpmd's io mode: back out of the port it came in on, what does not fit is freed. */
static int
iofwd_main(void *arg)
{
	struct dut_loop *d = arg;
	uint64_t polls = 0, busy = 0, frames = 0;
	struct rte_mbuf *pkts[AINFTP_BURST];
	uint16_t n, sent;

	while (!dut_stopped()) {
		polls++;
		n = rte_eth_rx_burst(d->port, d->queue, pkts, AINFTP_BURST);
		if (n == 0) {
			if (d->yield)
				sched_yield();
			continue;
		}
		busy++;
		frames += n;
		sent = rte_eth_tx_burst(d->port, d->queue, pkts, n);
		if (unlikely(sent < n))
			rte_pktmbuf_free_bulk(&pkts[sent], n - sent);
	}
	d->polls = polls;
	d->busy = busy;
	d->frames = frames;
	return 0;
}

static void
dut_launch(lcore_function_t *fn, void *arg, unsigned int lcore)
{
	__atomic_store_n(&dut_stop, 0, __ATOMIC_RELAXED);
	if (rte_eal_remote_launch(fn, arg, lcore) != 0)
		die("lcore %u is busy", lcore);
}

/* The loops on lcores DUT_LCORE .. DUT_LCORE + n - 1 stopped and joined. */
static void
dut_join(unsigned int n)
{
	unsigned int l;

	__atomic_store_n(&dut_stop, 1, __ATOMIC_RELAXED);
	for (l = 0; l < n; l++)
		rte_eal_wait_lcore(DUT_LCORE + l);
}

/* Compute alone: one kernel, the workers' payloads from memory, a slot's accumulator. */
struct compute {
	struct ainftp_kernels k;
	float *scratch; /* a float32 payload's alignment copy, as the RX lcore's */
	const struct point *pt;
	const struct traffic *tr;
	uint16_t workers;
	struct ainftp_acc acc;
};

/* A kernel timed alone on lcore 1: chunk(arg) once per chunk of W contributions. */
struct timed {
	void (*chunk)(void *arg);
	void *arg;
	uint16_t workers;
	uint64_t warm, cycles; /* how long to run */
	uint64_t adds, elapsed;
};

static inline void
compute_add(struct compute *c, uint16_t w)
{
	/* As the RX lcore adds a payload: float32 through its alignment copy too. */
	(void)c->pt->codec->accumulate(&c->k, &c->acc, c->tr->payload[w], c->tr->exp[w],
				       c->scratch);
}

/* One chunk: the accumulator starts empty, as a slot's does, and takes W contributions. */
static void
compute_chunk(void *arg)
{
	struct compute *c = arg;
	uint16_t w;

	ainftp_acc_reset(&c->acc);
	for (w = 0; w < c->workers; w++)
		compute_add(c, w);
}

static int
timed_main(void *arg)
{
	struct timed *t = arg;
	uint64_t start = rte_rdtsc(), now;
	unsigned int i;

	while (rte_rdtsc() - start < t->warm)
		t->chunk(t->arg);
	start = rte_rdtsc();
	t->adds = 0;
	do {
		for (i = 0; i < 16; i++)
			t->chunk(t->arg);
		t->adds += 16u * t->workers;
		now = rte_rdtsc();
	} while (now - start < t->cycles);
	t->elapsed = now - start;
	return 0;
}

/* Contributions/s of t on lcore 1. */
static double
timed_run(const struct bench *b, struct timed *t)
{
	t->warm = (uint64_t)(COMPUTE_WARM_S * b->hz);
	t->cycles = (uint64_t)(b->o.compute_s * b->hz);
	t->workers = b->o.workers;
	dut_launch(timed_main, t, DUT_LCORE);
	rte_eal_wait_lcore(DUT_LCORE);
	return (double)t->adds * (double)b->hz / (double)t->elapsed / 1e6;
}

/* ------------------------------------------------------------ the generator */

static void
window_reset(struct window *w, uint32_t slots)
{
	w->next_g = w->done = 0;
	w->in_flight = 0;
	w->stray = 0;
	w->n_pend = w->pend_new = 0;
	memset(w->lane_pend, 0, sizeof(w->lane_pend));
	memset(w->lane_off, 0, sizeof(w->lane_off));
	memset(w->busy, 0, slots);
	memset(w->got, 0, slots * sizeof(*w->got));
}

/* Chunk g's lane: its slot's, k % lanes (README, lanes and steering). */
static inline uint16_t
lane_of(const struct bench *b, uint64_t g)
{
	return (uint16_t)((g & (b->o.slots - 1)) % b->n_rx);
}

/*
 * Worker w's frame of chunk g at f: the template, and what changes per chunk,
 * the UDP port of its lane too (no UDP checksum: the template sends none).
 */
static inline struct ainftp_hdr *
frame_patch(const struct bench *b, uint16_t w, uint64_t g, uint16_t lane, uint8_t *f)
{
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(f + HDR_OFF - sizeof(*udp));
	struct ainftp_hdr *h = (struct ainftp_hdr *)(f + HDR_OFF);

	rte_memcpy(f, b->tr.tmpl[w], b->tr.frame_len);
	udp->dst_port = rte_cpu_to_be_16((uint16_t)(UDP_PORT + lane));
	h->step = 0;
	h->chunk = rte_cpu_to_be_32((uint32_t)g);
	h->slot = rte_cpu_to_be_16((uint16_t)(g & (b->o.slots - 1)));
	return h;
}

/* With auth, its tag: made ahead of time (tags_make), or now when the run outran them. */
static inline void
contribution_build(struct bench *b, const struct point *pt, uint16_t w, uint64_t g, uint16_t lane,
		   struct rte_mbuf *m)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct ainftp_hdr *h = frame_patch(b, w, g, lane, f);
	uint64_t i = g - b->tr.tag_g0;

	m->data_len = (uint16_t)b->tr.frame_len;
	m->pkt_len = b->tr.frame_len;
	if (!pt->auth || b->tr.tags_unread)
		return;
	if (likely(i < b->tr.tag_n)) {
		memcpy(f + HDRS_LEN + pt->payload,
		       b->tr.tags + (i * b->o.workers + w) * AINFTP_TAG_LEN, AINFTP_TAG_LEN);
		return;
	}
	ainftp_mac(&b->tr.mk[w], h, sizeof(*h) + pt->payload, f + HDRS_LEN + pt->payload);
	b->tr.tags_late++;
}

/*
 * The tags of the next chunks the window will send, n of them (at most what
 * tag_cap holds), before a run: a run then costs the generator a copy per
 * contribution, not a MAC (issue 14: the appliance is what is measured).
 */
static void
tags_make(struct bench *b, const struct point *pt, uint64_t n)
{
	struct traffic *tr = &b->tr;
	uint8_t f[MAX_FRAME];
	uint64_t i;
	uint16_t w;

	tr->tag_g0 = b->win.next_g;
	tr->tag_n = RTE_MIN(n, tr->tag_cap);
	tr->tags_late = 0;
	for (i = 0; pt->auth && i < tr->tag_n; i++)
		for (w = 0; w < b->o.workers; w++) {
			uint64_t g = tr->tag_g0 + i;
			struct ainftp_hdr *h = frame_patch(b, w, g, lane_of(b, g), f);

			ainftp_mac(&tr->mk[w], h, sizeof(*h) + pt->payload,
				   tr->tags + (i * b->o.workers + w) * AINFTP_TAG_LEN);
		}
}

/*
 * As many whole chunks as the window and one burst allow, built into their
 * lanes' pend[] (with 2 lanes, chunks alternate between them).
 */
static void
chunks_build(struct bench *b, const struct point *pt)
{
	struct window *win = &b->win;
	struct rte_mbuf *m[RTE_DIM(win->pend[0])];
	uint16_t W = b->o.workers, max = RTE_MAX(GEN_BURST / W, 1), n = 0, c, w, lane;
	uint32_t mask = b->o.slots - 1;

	while (n < max && !win->busy[(win->next_g + n) & mask])
		n++;
	win->full += n == 0;
	if (n == 0 || rte_pktmbuf_alloc_bulk(b->pool, m, (unsigned int)n * W) != 0)
		return; /* the window is full, or the pool is (then results will free some) */
	for (c = 0; c < n; c++) {
		uint64_t g = win->next_g + c;
		uint32_t k = (uint32_t)(g & mask);

		lane = lane_of(b, g);
		for (w = 0; w < W; w++) {
			contribution_build(b, pt, w, g, lane, m[c * W + w]);
			win->pend[lane][win->lane_pend[lane]++] = m[c * W + w];
		}
		win->busy[k] = 1;
		win->got[k] = 0;
		win->chunk[k] = (uint32_t)g;
	}
	win->n_pend = (uint16_t)(n * W);
	win->pend_new = n;
}

/* What a lane's TX queue takes of its pending contributions. */
static void
lane_send(struct bench *b, uint16_t lane)
{
	struct window *win = &b->win;
	uint16_t n = win->lane_pend[lane], sent;

	if (n == 0)
		return;
	sent = rte_eth_tx_burst(b->rp.peer_port, lane, &win->pend[lane][win->lane_off[lane]], n);
	win->lane_off[lane] = (uint16_t)(win->lane_off[lane] + sent);
	win->lane_pend[lane] = (uint16_t)(n - sent);
	win->n_pend = (uint16_t)(win->n_pend - sent);
	if (win->lane_pend[lane] == 0)
		win->lane_off[lane] = 0;
}

static void
chunks_send(struct bench *b)
{
	struct window *win = &b->win;
	uint32_t mask = b->o.slots - 1;
	uint64_t now = rte_rdtsc();
	uint16_t c, lane;

	/* A chunk's latency starts as its first contribution leaves. */
	for (c = 0; c < win->pend_new; c++) {
		win->sent_tsc[(win->next_g + c) & mask] = now;
		if (win->in_flight++ == 0)
			win->last_progress = now;
	}
	win->next_g += win->pend_new;
	win->pend_new = 0;
	for (lane = 0; lane < b->n_rx; lane++)
		lane_send(b, lane);
}

/* Whether the pass sent anything. */
static bool
gen_send(struct bench *b, const struct point *pt, bool more)
{
	uint16_t before;

	if (b->win.n_pend == 0 && more)
		chunks_build(b, pt);
	if (b->win.n_pend == 0)
		return false;
	before = b->win.n_pend;
	chunks_send(b);
	return b->win.n_pend != before;
}

/* One frame back: a result copy (ainftp) or a contribution (iofwd), by its chunk. */
static inline void
frame_take(struct bench *b, const struct rte_mbuf *m, uint8_t type, uint64_t now)
{
	struct window *win = &b->win;
	const struct ainftp_hdr *h;
	uint32_t chunk, k;

	if (unlikely(rte_pktmbuf_data_len(m) < HDRS_LEN)) {
		win->stray++;
		return;
	}
	h = rte_pktmbuf_mtod_offset(m, const struct ainftp_hdr *, HDR_OFF);
	chunk = rte_be_to_cpu_32(h->chunk);
	k = chunk & (b->o.slots - 1);
	if (unlikely(h->type != type || !win->busy[k] || win->chunk[k] != chunk)) {
		win->stray++;
		return;
	}
	if (win->got[k]++ == 0 && win->record && win->n_lat < LAT_CAP)
		win->lat[win->n_lat++] = (uint32_t)(now - win->sent_tsc[k]);
	if (win->got[k] == b->o.workers) {
		win->busy[k] = 0;
		win->in_flight--;
		win->done++;
	}
	win->last_progress = now;
}

/* Frames back from the appliance (or iofwd), taken and freed: how many. */
static unsigned int
gen_recv(struct bench *b, uint8_t type)
{
	struct rte_mbuf *pkts[RX_BURST];
	unsigned int got = 0;
	uint16_t q, n, i;
	uint64_t now;

	/* Every TX queue of the appliance: each RX lcore's, then the control lcore's. */
	for (q = 0; q <= b->n_rx; q++) {
		n = rte_eth_rx_burst(b->rp.peer_port, q, pkts, RX_BURST);
		if (n == 0)
			continue;
		for (i = 0; i < n; i++)
			rte_prefetch0(rte_pktmbuf_mtod_offset(pkts[i], void *, HDR_OFF));
		now = rte_rdtsc();
		for (i = 0; i < n; i++)
			frame_take(b, pkts[i], type, now);
		rte_pktmbuf_free_bulk(pkts, n);
		got += n;
	}
	return got;
}

/* Latency percentiles of the run, in microseconds. */
static void
latency_fill(struct bench *b, struct sample *s)
{
	struct window *win = &b->win;

	if (win->n_lat == 0) {
		s->p50_us = s->p99_us = NAN;
		return;
	}
	qsort(win->lat, win->n_lat, sizeof(*win->lat), cmp_u32);
	s->p50_us = cycles_to_us(b, win->lat[win->n_lat / 2]);
	s->p99_us = cycles_to_us(b, win->lat[(uint64_t)win->n_lat * 99 / 100]);
}

/* Contributions each RX lcore has summed so far: its data_pkts, which only it writes. */
static void
lcores_summed(const struct bench *b, uint64_t pkts[MAX_RX])
{
	unsigned int l;

	for (l = 0; l < b->n_rx; l++)
		pkts[l] = ainftp_ctr_read(&ainftp_stats[DUT_LCORE + l].port[0].data_pkts);
}

/* Each RX lcore's contributions/s between pkts0 (at t0) and now; NAN past n_rx. */
static void
lcores_rate(const struct bench *b, const uint64_t pkts0[MAX_RX], uint64_t cycles, struct sample *s)
{
	uint64_t pkts[MAX_RX];
	unsigned int l;

	lcores_summed(b, pkts);
	for (l = 0; l < MAX_RX; l++)
		s->lc_mpps[l] = l < b->n_rx ? (double)(pkts[l] - pkts0[l]) * (double)b->hz /
						      (double)cycles / 1e6
					    : NAN;
}

/*
 * Warm up, measure for run_s, then stop sending and wait for every chunk in
 * flight. Returns false on a stall: chunks in flight and nothing back for STALL_S.
 */
static bool
gen_run(struct bench *b, const struct point *pt, uint8_t type, struct sample *s)
{
	struct window *win = &b->win;
	uint64_t pkts0[MAX_RX];
	uint64_t now = rte_rdtsc(), t0 = 0, done0 = 0, stall = (uint64_t)(STALL_S * b->hz);
	uint64_t t_warm = now + (uint64_t)(b->o.warm_s * b->hz);
	uint64_t t_end = t_warm + (uint64_t)(b->o.run_s * b->hz);
	int phase = 0; /* 0 warm-up, 1 measuring, 2 draining */
	bool busy;

	win->last_progress = now;
	win->n_lat = 0;
	win->passes = win->full = 0;
	for (;;) {
		win->passes++;
		now = rte_rdtsc();
		if (phase == 0 && now >= t_warm) {
			phase = 1;
			t0 = now;
			done0 = win->done;
			lcores_summed(b, pkts0);
			win->record = true;
		} else if (phase == 1 && now >= t_end) {
			phase = 2;
			win->record = false;
			s->mpps = (double)(win->done - done0) * b->o.workers * (double)b->hz /
				  (double)(now - t0) / 1e6;
			lcores_rate(b, pkts0, now - t0, s);
		}
		busy = gen_send(b, pt, phase < 2);
		busy |= gen_recv(b, type) != 0;
		if (phase == 2 && win->in_flight == 0)
			break;
		/* Sharing a CPU with an RX lcore: an idle pass lets it run (struct dut_loop). */
		if (!busy && b->gen_yield)
			sched_yield();
		/* Signed: sends and receives stamp last_progress later than this pass's now. */
		if (win->in_flight != 0 && (int64_t)(now - win->last_progress) > (int64_t)stall)
			return false;
	}
	latency_fill(b, s);
	return true;
}

/* ------------------------------------------------------------ runs */

/* After lcore 1 stopped: what a stalled or aborted run left behind goes back to its pool. */
static unsigned int
leftovers_free(struct bench *b)
{
	struct window *win = &b->win;
	unsigned int n = ainftp_ringpair_drain(&b->rp, AINFTP_RINGPAIR_IN | AINFTP_RINGPAIR_OUT);
	uint16_t lane;

	for (lane = 0; lane < MAX_RX; lane++) {
		if (win->lane_pend[lane] != 0)
			rte_pktmbuf_free_bulk(&win->pend[lane][win->lane_off[lane]],
					      win->lane_pend[lane]);
		win->lane_pend[lane] = win->lane_off[lane] = 0;
	}
	n += win->n_pend;
	win->n_pend = 0;
	return n;
}

/* Frames waiting in the first n of rings. */
static unsigned int
rings_count(struct rte_ring *const *rings, unsigned int n)
{
	unsigned int c = 0, q;

	for (q = 0; q < n; q++)
		c += rte_ring_count(rings[q]);
	return c;
}

static void
stall_report(struct bench *b, const struct point *pt, enum dut dut)
{
	char label[64], drops[512];

	point_label(pt, label, sizeof(label));
	app_drops(b, drops, sizeof(drops));
	printf("bench: STALL: %s, %s: no result for %.0f s with %u chunks in flight "
	       "(sent %" PRIu64 " chunks, %" PRIu64 " done, %" PRIu64 " stray frames",
	       label, dut_names[dut], STALL_S, b->win.in_flight, b->win.next_g, b->win.done,
	       b->win.stray);
	if (dut == DUT_APP)
		printf("; appliance: %" PRIu64 " contributions summed, %" PRIu64
		       " chunks done, %" PRIu64 " result copies sent, drops:%s",
		       RX_CTR(b, data_pkts), RX_CTR(b, chunks_done), RX_CTR(b, results_sent),
		       drops[0] ? drops : " none");
	printf("; frames in the rings: to the appliance %u, from it %u); point aborted\n",
	       rings_count(b->rp.in, b->rp.n_rxq), rings_count(b->rp.out, b->rp.n_txq));
	b->failures++;
}

/* After an authenticated run: the next is sized on this one; say if the tags ran out. */
static void
tags_note(struct bench *b, const struct point *pt, enum dut dut, uint64_t sent)
{
	char label[64];

	b->tr.tag_hint = sent + sent / 2 + b->o.slots;
	if (b->tr.tags_late == 0)
		return;
	point_label(pt, label, sizeof(label));
	printf("bench: note: %s, %s: %" PRIu64 " contributions tagged as they were sent: the "
	       "%" PRIu64 " pre-made chunks ran out\n",
	       label, dut_names[dut], b->tr.tags_late, b->tr.tag_n);
}

/* Whether lcore l gives up its CPU when idle: it shares it with another of this run's. */
static bool
lcore_yields(const struct bench *b, unsigned int l)
{
	unsigned int m;

	for (m = 0; m < DUT_LCORE + b->n_rx && !b->o.no_yield; m++)
		if (m != l && cpus_shared(l, m))
			return true;
	return false;
}

/* A line per RX lcore: how busy its loop was, and what it summed while measuring. */
static void
dut_verbose(const struct bench *b, const struct dut_loop *d, const struct sample *s)
{
	unsigned int l;

	for (l = 0; l < b->n_rx; l++) {
		printf("    lcore %u: %.0f%% of %" PRIu64 " polls busy, %.1f frames per busy poll",
		       DUT_LCORE + l, 100.0 * (double)d[l].busy / (double)d[l].polls, d[l].polls,
		       (double)d[l].frames / (double)RTE_MAX(d[l].busy, UINT64_C(1)));
		if (d[l].busy_tsc != 0)
			printf(", %.0f TSC cycles per frame in them",
			       (double)d[l].busy_tsc / (double)RTE_MAX(d[l].frames, UINT64_C(1)));
		if (!isnan(s->lc_mpps[l]))
			printf(", %.3f Mpps summed", s->lc_mpps[l]);
		printf("\n");
	}
}

static int sumfwd_main(void *arg);

/* The appliance (or a ceiling) on each RX lcore of the run, lane l's on lcore DUT_LCORE + l. */
static void
duts_launch(struct bench *b, enum dut dut, struct sumfwd *sf, struct dut_loop d[MAX_RX])
{
	static lcore_function_t *const fns[] = {app_main, iofwd_main, sumfwd_main};
	unsigned int l;

	b->gen_yield = lcore_yields(b, 0);
	for (l = 0; l < b->n_rx; l++) {
		d[l] = (struct dut_loop){.ctx = b->app.rt.rx[DUT_LCORE + l],
					 .port = b->app.rt.ports[0].port_id,
					 .queue = (uint16_t)l,
					 .yield = lcore_yields(b, DUT_LCORE + l),
					 .sf = sf};
		dut_launch(fns[dut], &d[l], DUT_LCORE + l);
	}
}

/* What the appliance's RX lcores have counted, together: to check a run against. */
struct app_counts {
	uint64_t done; /* chunks the generator saw complete */
	uint64_t summed, chunks, results;
};

static void
app_counts_read(const struct bench *b, struct app_counts *c)
{
	c->done = b->win.done;
	c->summed = RX_CTR(b, data_pkts);
	c->chunks = RX_CTR(b, chunks_done);
	c->results = RX_CTR(b, results_sent);
}

/*
 * After a clean run, lcores joined: every chunk the generator saw complete was
 * summed once from W contributions, finished once and sent once to each
 * worker, over however many lanes; nothing else was. A sentry may drop
 * contributions (not in the sum), so only jobs without one are held to it.
 */
static bool
app_counts_check(struct bench *b, const struct point *pt, const struct app_counts *c0)
{
	struct app_counts c;
	uint64_t n;
	char label[64];

	app_counts_read(b, &c);
	n = c.done - c0->done;
	if (pt->sentry != AINFTP_SENTRY_NONE ||
	    (c.summed - c0->summed == n * b->o.workers && c.chunks - c0->chunks == n &&
	     c.results - c0->results == n * b->o.workers))
		return true;
	point_label(pt, label, sizeof(label));
	printf("bench: MISMATCH: %s, %u lane(s): %" PRIu64 " chunks of %u came back complete; the "
	       "appliance summed %" PRIu64 " contributions, finished %" PRIu64
	       " chunks, sent %" PRIu64 " result copies\n",
	       label, b->n_rx, n, b->o.workers, c.summed - c0->summed, c.chunks - c0->chunks,
	       c.results - c0->results);
	b->failures++;
	return false;
}

/* The RX lcores' cycles per frame in the polls that found frames (NAN: iofwd counts none). */
static double
dut_cycles(const struct bench *b, const struct dut_loop *d)
{
	uint64_t tsc = 0, frames = 0;
	unsigned int l;

	for (l = 0; l < b->n_rx; l++) {
		tsc += d[l].busy_tsc;
		frames += d[l].frames;
	}
	return tsc != 0 && frames != 0 ? (double)tsc / (double)frames : NAN;
}

static struct sumfwd *sumfwd_make(const struct bench *b, const struct point *pt);
static void sumfwd_free(struct sumfwd *sf);

/* One timed run of the generator against the RX lcores running the appliance or a ceiling. */
static bool
traffic_run(struct bench *b, const struct point *pt, enum dut dut, struct sample *s)
{
	struct sumfwd *sf = dut == DUT_SUMFWD ? sumfwd_make(b, pt) : NULL;
	struct dut_loop d[MAX_RX];
	struct app_counts c0;
	char label[96];
	unsigned int left, l;
	uint64_t g0 = b->win.next_g;

	s->mpps = s->p50_us = s->p99_us = NAN;
	/* A forwarder reads no tag: it sends frames of the same length, tag bytes as they are. */
	b->tr.tags_unread = dut != DUT_APP;
	if (pt->auth && dut == DUT_APP)
		tags_make(b, pt, b->tr.tag_hint);
	app_counts_read(b, &c0);
	duts_launch(b, dut, sf, d);
	s->ok = gen_run(b, pt, dut == DUT_APP ? AINFTP_MSG_RESULT : AINFTP_MSG_DATA, s);
	dut_join(b->n_rx);
	sumfwd_free(sf);
	s->cyc = dut_cycles(b, d);
	if (dut != DUT_APP) /* a forwarder sums nothing: its lcores' counters stay still */
		for (l = 0; l < MAX_RX; l++)
			s->lc_mpps[l] = NAN;
	if (pt->auth && dut == DUT_APP)
		tags_note(b, pt, dut, b->win.next_g - g0);
	if (!s->ok)
		stall_report(b, pt, dut);
	else if (dut == DUT_APP && !app_counts_check(b, pt, &c0))
		s->ok = false;
	left = leftovers_free(b);
	if (s->ok && left != 0)
		printf("bench: %u frames left in the rings after a clean run\n", left);
	point_label(pt, label, sizeof(label));
	snprintf(label + strlen(label), sizeof(label) - strlen(label), " (%s)", dut_names[dut]);
	if (pools_check(b, label) != 0)
		s->ok = false;
	if (!b->o.verbose)
		return s->ok;
	printf("  %s: %.3f Mpps, p50 %.1f us, p99 %.1f us; generator: %.0f%% of passes with the "
	       "window full\n",
	       label, s->mpps, s->p50_us, s->p99_us,
	       100.0 * (double)b->win.full / (double)RTE_MAX(b->win.passes, UINT64_C(1)));
	dut_verbose(b, d, s);
	return s->ok;
}

static double
compute_run(struct bench *b, const struct point *pt, const struct ainftp_quant_ops *ops)
{
	struct compute c = {.pt = pt, .tr = &b->tr, .workers = b->o.workers};
	struct timed t = {.chunk = compute_chunk, .arg = &c};
	void *acc_mem;
	double mpps;

	acc_mem = rte_malloc("bench_acc", ainftp_acc_size(pt->elems), 64);
	c.scratch = rte_malloc("bench_scratch", pt->elems * sizeof(float), 64);
	if (acc_mem == NULL || c.scratch == NULL)
		die("out of memory for the accumulator");
	ainftp_acc_init(&c.acc, pt->elems, acc_mem);
	ainftp_kernels_init(&c.k, ops);
	mpps = timed_run(b, &t);
	rte_free(acc_mem);
	rte_free(c.scratch);
	return mpps;
}

/*
 * The plain baselines: what summing the same bytes costs without ainftp's exact
 * accumulator, one widening add per contribution into lanes of `bits` (32 or 64;
 * float32: a float add, 32 only). Same structure as compute alone: one
 * accumulator, cleared per chunk, W contributions from memory.
 */
struct plain {
	const struct bench_plain_ops *ops;
	const struct point *pt;
	const struct traffic *tr;
	uint16_t workers;
	unsigned int bits;
	void (*add)(const struct plain *p, const uint8_t *x);
	void *acc;
};

/* A baseline's add of one payload; NULL where an encoding has none at that width. */
typedef void (*plain_add_fn)(const struct plain *p, const uint8_t *x);

static void
plain_i16_32(const struct plain *p, const uint8_t *x)
{
	p->ops->i16_32(p->acc, (const int16_t *)x, p->pt->elems);
}

static void
plain_i16_64(const struct plain *p, const uint8_t *x)
{
	p->ops->i16_64(p->acc, (const int16_t *)x, p->pt->elems);
}

/* int8: the values, after the blocks' exponent bytes. */
static void
plain_i8_32(const struct plain *p, const uint8_t *x)
{
	p->ops->i8_32(p->acc, (const int8_t *)x + ainftp_blocks(p->pt->elems), p->pt->elems);
}

static void
plain_i8_64(const struct plain *p, const uint8_t *x)
{
	p->ops->i8_64(p->acc, (const int8_t *)x + ainftp_blocks(p->pt->elems), p->pt->elems);
}

static void
plain_f32(const struct plain *p, const uint8_t *x)
{
	p->ops->f32(p->acc, x, p->pt->elems);
}

/* By encoding: [0] into 32-bit lanes, [1] into 64-bit ones. */
static const plain_add_fn plain_adds[][2] = {
	[AINFTP_ENC_INT16] = {plain_i16_32, plain_i16_64},
	[AINFTP_ENC_INT8] = {plain_i8_32, plain_i8_64},
	[AINFTP_ENC_FLOAT32] = {plain_f32, NULL},
};

static plain_add_fn
plain_add_get(enum ainftp_encoding enc, unsigned int bits)
{
	return (unsigned int)enc < RTE_DIM(plain_adds) ? plain_adds[enc][bits == 64] : NULL;
}

static void
plain_chunk(void *arg)
{
	struct plain *p = arg;
	uint16_t w;

	memset(p->acc, 0, (size_t)p->pt->elems * p->bits / 8);
	for (w = 0; w < p->workers; w++)
		p->add(p, p->tr->payload[w]);
}

/* Contributions/s of the plain baseline in `bits` lanes; NAN where it has none (float32 x 64). */
static double
plain_run(struct bench *b, const struct point *pt, unsigned int bits)
{
	struct plain p = {
		.ops = b->plain, .pt = pt, .tr = &b->tr, .workers = b->o.workers, .bits = bits};
	struct timed t = {.chunk = plain_chunk, .arg = &p};
	double mpps;

	p.add = plain_add_get(pt->enc, bits);
	if (p.add == NULL)
		return NAN;
	p.acc = rte_zmalloc("bench_plain", (size_t)pt->elems * bits / 8, 64);
	if (p.acc == NULL)
		die("out of memory for the plain accumulator");
	mpps = timed_run(b, &t);
	rte_free(p.acc);
	return mpps;
}

/*
 * sumfwd, a third ceiling: io-forward that first adds each frame's payload into
 * its slot's sums with the plain widening add above (int32 lanes; float32: a
 * float add), laid out as the appliance's (slots x elems x 4 bytes), the next
 * frame's payload and sums fetched ahead as the appliance fetches them. It is
 * the least an aggregator does with the bytes it receives: read every payload
 * line, once, from the core that wrote it, and update its slot's sums. It has
 * none of ainftp's checks, exactness or results. So sumfwd / iofwd is what
 * touching the data costs on this machine, and ainftp / sumfwd what ainftp's
 * own work costs beyond it.
 *
 * Its mbufs go the appliance's way: it frees each contribution on its own
 * lcore and sends back, in its place, a frame of its headers in an mbuf of the
 * appliance's header pool (the generator counts it as a result copy). A
 * contribution forwarded back instead would be refilled at once from the
 * generator's mempool cache while its lines are still in this core's: the
 * generator, not sumfwd, would set the pace (docs/PERFORMANCE.md).
 */
struct sumfwd {
	struct plain p;		/* p.acc: the slot's sums, set per frame */
	struct rte_mempool *mp; /* the frames sent back: the appliance's header pool */
	uint8_t *acc;
	size_t stride; /* bytes of one slot's sums */
	uint32_t slots, payload;
};

static struct sumfwd *
sumfwd_make(const struct bench *b, const struct point *pt)
{
	struct sumfwd *sf = rte_zmalloc("bench_sumfwd", sizeof(*sf), 64);

	if (sf == NULL)
		die("out of memory for sumfwd");
	sf->p = (struct plain){
		.ops = b->plain, .pt = pt, .bits = 32, .add = plain_add_get(pt->enc, 32)};
	if (sf->p.add == NULL)
		die("sumfwd: no plain add for %s", ainftp_encoding_name(pt->enc));
	sf->stride = RTE_ALIGN_CEIL((size_t)pt->elems * 4, RTE_CACHE_LINE_SIZE);
	sf->slots = b->o.slots;
	sf->payload = pt->payload;
	/* The pool of the appliance's result headers, which its lcore takes as ainftp's do. */
	sf->mp = b->app.rt.hdr_pool[b->app.rt.ports[0].socket];
	if (sf->mp == NULL)
		sf->mp = b->pool;
	sf->acc = rte_zmalloc("bench_sumfwd_acc", sf->stride * sf->slots, 64);
	if (sf->acc == NULL)
		die("out of memory for sumfwd's %u slots", sf->slots);
	return sf;
}

static void
sumfwd_free(struct sumfwd *sf)
{
	if (sf == NULL)
		return;
	rte_free(sf->acc);
	rte_free(sf);
}

/* The slot's sums of frame m (its header's slot; --slots is a power of two). */
static uint8_t *
sumfwd_sums(const struct sumfwd *sf, struct rte_mbuf *m)
{
	const struct ainftp_hdr *h = rte_pktmbuf_mtod_offset(m, const struct ainftp_hdr *, HDR_OFF);

	return sf->acc + (size_t)(rte_be_to_cpu_16(h->slot) & (sf->slots - 1)) * sf->stride;
}

/* Frame m's payload and sums on their way, every line, as the appliance's data_prefetch. */
static void
sumfwd_prefetch(const struct sumfwd *sf, struct rte_mbuf *m)
{
	const uint8_t *x = rte_pktmbuf_mtod_offset(m, const uint8_t *, HDRS_LEN);
	const uint8_t *acc = sumfwd_sums(sf, m);
	size_t o;

	for (o = 0; o < sf->payload; o += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(x + o);
	for (o = 0; o < sf->stride; o += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(acc + o);
}

static int
sumfwd_main(void *arg)
{
	struct dut_loop *d = arg;
	struct plain p = d->sf->p;
	uint64_t polls = 0, busy = 0, frames = 0, busy_tsc = 0, t0;
	struct rte_mbuf *pkts[AINFTP_BURST], *back[AINFTP_BURST];
	uint16_t n, sent, i;

	while (!dut_stopped()) {
		polls++;
		t0 = rte_rdtsc();
		n = rte_eth_rx_burst(d->port, d->queue, pkts, AINFTP_BURST);
		if (n == 0) {
			if (d->yield)
				sched_yield();
			continue;
		}
		busy++;
		frames += n;
		for (i = 0; i < n; i++)
			rte_prefetch0(rte_pktmbuf_mtod_offset(pkts[i], void *, HDR_OFF));
		sumfwd_prefetch(d->sf, pkts[0]);
		for (i = 0; i < n; i++) {
			if (i + 1 < n)
				sumfwd_prefetch(d->sf, pkts[i + 1]);
			p.acc = sumfwd_sums(d->sf, pkts[i]);
			p.add(&p, rte_pktmbuf_mtod_offset(pkts[i], uint8_t *, HDRS_LEN));
		}
		/* Too few mbufs for the headers' frames: the contributions go back. */
		if (likely(rte_pktmbuf_alloc_bulk(d->sf->mp, back, n) == 0)) {
			for (i = 0; i < n; i++) {
				rte_memcpy(rte_pktmbuf_mtod(back[i], void *),
					   rte_pktmbuf_mtod(pkts[i], void *), HDRS_LEN);
				back[i]->data_len = HDRS_LEN;
				back[i]->pkt_len = HDRS_LEN;
			}
			rte_pktmbuf_free_bulk(pkts, n);
			memcpy(pkts, back, n * sizeof(pkts[0]));
		}
		sent = rte_eth_tx_burst(d->port, d->queue, pkts, n);
		if (unlikely(sent < n))
			rte_pktmbuf_free_bulk(&pkts[sent], n - sent);
		busy_tsc += rte_rdtsc() - t0;
	}
	d->busy_tsc = busy_tsc;
	d->polls = polls;
	d->busy = busy;
	d->frames = frames;
	return 0;
}

/* The baselines at the level of the kernels in use: the same vector width. */
static const struct bench_plain_ops *
plain_select(const struct ainftp_quant_ops *ops)
{
	static const struct bench_plain_ops *const levels[] = {&bench_plain_avx512,
							       &bench_plain_avx2};
	unsigned int i;

	for (i = 0; i < RTE_DIM(levels); i++)
		if (strcmp(levels[i]->name, ops->name) == 0)
			return levels[i];
	return &bench_plain_scalar;
}

/* ------------------------------------------------------------ points */

/* The samples of one kind of run over the repetitions. */
struct series {
	unsigned int n;
	double mpps[MAX_REPS], p50[MAX_REPS], p99[MAX_REPS], cyc[MAX_REPS];
	double lc[MAX_RX][MAX_REPS];
};

static void
series_add(struct series *se, const struct sample *s)
{
	unsigned int l;

	se->mpps[se->n] = s->mpps;
	se->p50[se->n] = s->p50_us;
	se->p99[se->n] = s->p99_us;
	se->cyc[se->n] = s->cyc;
	for (l = 0; l < MAX_RX; l++)
		se->lc[l][se->n] = s->lc_mpps[l];
	se->n++;
}

/* Each figure's median on its own; NAN when a repetition failed or none ran. */
static void
series_median(struct series *se, const struct point *pt, struct row *r)
{
	unsigned int l;

	r->mpps = se->n ? median(se->mpps, se->n) : NAN;
	r->gbps = r->mpps * pt->payload * 8 / 1e3;
	r->p50_us = se->n ? median(se->p50, se->n) : NAN;
	r->p99_us = se->n ? median(se->p99, se->n) : NAN;
	r->cyc = se->n ? median(se->cyc, se->n) : NAN;
	for (l = 0; l < MAX_RX; l++)
		r->lc_mpps[l] = se->n ? median(se->lc[l], se->n) : NAN;
}

/* The repetitions interleaved (ainftp, iofwd, compute), so that drift hits all three alike. */
static struct row
point_measure(struct bench *b, const struct point *pt, bool ceilings)
{
	struct series app = {.n = 0}, io = {.n = 0}, sf = {.n = 0};
	double cmp[MAX_REPS], p32[MAX_REPS], p64[MAX_REPS];
	struct row r = {.ok = true}, r_io, r_sf;
	struct sample s;
	unsigned int i;

	for (i = 0; i < b->o.reps && r.ok; i++) {
		/* After a stall the appliance is in no state for more. */
		r.ok = traffic_run(b, pt, DUT_APP, &s);
		series_add(&app, &s);
		if (!r.ok || !ceilings)
			continue;
		r.ok = traffic_run(b, pt, DUT_IOFWD, &s);
		series_add(&io, &s);
		if (r.ok) {
			r.ok = traffic_run(b, pt, DUT_SUMFWD, &s);
			series_add(&sf, &s);
		}
		cmp[i] = compute_run(b, pt, b->ops);
		p32[i] = plain_run(b, pt, 32);
		p64[i] = plain_run(b, pt, 64);
	}
	series_median(&app, pt, &r);
	series_median(&io, pt, &r_io);
	series_median(&sf, pt, &r_sf);
	r.io_mpps = r_io.mpps;
	r.sf_mpps = r_sf.mpps;
	r.sf_cyc = r_sf.cyc;
	r.cmp_mpps = ceilings && r.ok ? median(cmp, i) : NAN;
	r.plain32_mpps = ceilings && r.ok ? median(p32, i) : NAN;
	r.plain64_mpps = ceilings && r.ok ? median(p64, i) : NAN;
	return r;
}

static void
point_notes(const struct bench *b, const struct point *pt)
{
	char label[64], drops[512];

	app_drops(b, drops, sizeof(drops));
	if (drops[0] == '\0')
		return;
	point_label(pt, label, sizeof(label));
	printf("bench: note: %s: the appliance dropped:%s\n", label, drops);
}

static struct row
point_run(struct bench *b, const struct point *pt, bool ceilings)
{
	struct row r = {.ok = false};
	char label[64];

	point_label(pt, label, sizeof(label));
	traffic_make(b, pt);
	window_reset(&b->win, b->o.slots);
	if (app_up(b, pt, 1) == 0) {
		r = point_measure(b, pt, ceilings);
		point_notes(b, pt);
	} else {
		b->failures++;
	}
	app_down(b, label);
	return r;
}

/* ------------------------------------------------------------ output */

static void
fmt(char *buf, size_t len, int width, int prec, double v)
{
	if (isnan(v))
		snprintf(buf, len, "%*s", width, "-");
	else
		snprintf(buf, len, "%*.*f", width, prec, v);
}

#define ROW_FMT \
	"%-8s  %9s  %8s  %8s  %8s  %8s  %10s  %8s  %12s  %13s  %12s  %12s  %12s  %11s  %12s\n"

static void
table_header(void)
{
	printf(ROW_FMT, "encoding", "payload_B", "Mpps", "Gbit/s", "p50_us", "p99_us", "iofwd_Mpps",
	       "ratio_io", "compute_Mpps", "ratio_compute", "plain32_Mpps", "plain64_Mpps",
	       "ratio_kernel", "sumfwd_Mpps", "ratio_sumfwd");
}

static void
table_row(const struct point *pt, const struct row *r)
{
	char c[14][24];

	snprintf(c[0], sizeof(c[0]), "%9u", pt->payload);
	fmt(c[1], sizeof(c[1]), 8, 3, r->mpps);
	fmt(c[2], sizeof(c[2]), 8, 2, r->gbps);
	fmt(c[3], sizeof(c[3]), 8, 1, r->p50_us);
	fmt(c[4], sizeof(c[4]), 8, 1, r->p99_us);
	fmt(c[5], sizeof(c[5]), 10, 3, r->io_mpps);
	fmt(c[6], sizeof(c[6]), 8, 2, r->mpps / r->io_mpps);
	fmt(c[7], sizeof(c[7]), 12, 3, r->cmp_mpps);
	fmt(c[8], sizeof(c[8]), 13, 2, r->mpps / r->cmp_mpps);
	fmt(c[9], sizeof(c[9]), 12, 3, r->plain32_mpps);
	fmt(c[10], sizeof(c[10]), 12, 3, r->plain64_mpps);
	fmt(c[11], sizeof(c[11]), 12, 2, r->cmp_mpps / r->plain32_mpps);
	fmt(c[12], sizeof(c[12]), 11, 3, r->sf_mpps);
	fmt(c[13], sizeof(c[13]), 12, 2, r->mpps / r->sf_mpps);
	printf(ROW_FMT, ainftp_encoding_name(pt->enc), c[0], c[1], c[2], c[3], c[4], c[5], c[6],
	       c[7], c[8], c[9], c[10], c[11], c[12], c[13]);
	fflush(stdout);
}

static void
cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256], *p;

	snprintf(buf, len, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "model name", 10) != 0 || (p = strchr(line, ':')) == NULL)
			continue;
		p += 1 + strspn(p + 1, " \t");
		p[strcspn(p, "\n")] = '\0';
		snprintf(buf, len, "%s", p);
		break;
	}
	fclose(f);
}

static void
header_print(const struct bench *b, int eal_argc, char **eal_argv)
{
	const struct opts *o = &b->o;
	const uint32_t *sizes = o->quick ? sizes_quick : sizes_full;
	size_t n_sizes = o->quick ? RTE_DIM(sizes_quick) : RTE_DIM(sizes_full);
	char cpu[128];
	int i;

	cpu_model(cpu, sizeof(cpu));
	printf("ainftp-bench %s, %s\n", AINFTP_VERSION, rte_version());
	printf("machine: %s, nproc %ld, TSC %.3f GHz\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
	       (double)b->hz / 1e9);
	printf("EAL:");
	for (i = 1; i < eal_argc; i++)
		printf(" %s", eal_argv[i]);
	if (rx_max(o) == 1)
		printf("\nlcores: 0 generator (main), %d the appliance's RX lcore, or iofwd, or "
		       "compute; control lcore 0 in the config, never run\n",
		       DUT_LCORE);
	else
		printf("\nlcores: 0 generator (main), %d and %d the appliance's RX lcores on "
		       "lanes 0 and 1 (UDP ports %u and %u, RX queues 0 and 1), or iofwd on each; "
		       "compute on %d; control lcore 0 in the config, never run\n",
		       DUT_LCORE, DUT_LCORE + 1, UDP_PORT, UDP_PORT + 1, DUT_LCORE);
	cpus_print(b);
	printf("job: %u workers, %u slots, quorum %u, auth %s, result %s, %s, MTU %u, "
	       "ring ports (rings of %u)\n",
	       o->workers, o->slots, o->workers, o->auth ? "on" : "off",
	       o->result_auto ? "float32 where it fits the MTU, else int16, else int8"
			      : ainftp_encoding_name(o->result_enc),
	       o->scaling	   ? "1 lane, then 2"
	       : o->rx_lcores == 1 ? "1 lane"
				   : "2 lanes",
	       MTU, rte_ring_get_capacity(b->rp.in[0]) + 1);
	printf("sizes (B):");
	for (i = 0; i < (int)n_sizes; i++)
		printf(" %u", sizes[i]);
	printf("%s; encodings int16, int8, float32\n", o->quick ? " (--quick)" : "");
	printf("each point: median of %u repetitions; a repetition is ainftp, then iofwd, %.2f s "
	       "each after %.2f s warm-up, then compute %.2f s\n",
	       o->reps, o->run_s, o->warm_s, o->compute_s);
	printf("Mpps: contributions aggregated per second by the %s; Gbit/s: "
	       "contributions x payload bytes x 8\n",
	       rx_max(o) == 1 ? "one RX lcore" : "RX lcores together");
	printf("latency: TSC at a chunk's first contribution sent to its first result copy "
	       "received, every chunk that completes while measuring (up to %u)\n",
	       LAT_CAP);
	printf("iofwd: rx_burst/tx_burst back on the appliance port's TX queue 0 (testpmd io "
	       "mode); compute: %s acc kernel on payloads in memory, accumulator reset per "
	       "chunk of %u as a slot's\n",
	       b->ops->name, o->workers);
	printf("payload_B: int16 2n, float32 4n, int8 n + n/32 with n a multiple of 32 "
	       "(the largest at or below the size)\n");
	printf("simd: %s (ainftp_quant_select(512))\n", b->ops->name);
	printf("plain32/plain64: a plain %s widening add of the same payloads into int32 / int64 "
	       "lanes (float32: a float add), same structure as compute; ratio_kernel = "
	       "compute_Mpps / plain32_Mpps\n",
	       b->plain->name);
	printf("sumfwd: iofwd that first adds each payload into its slot's int32 sums (the plain "
	       "%s add above; float32: a float add), frees the contribution and sends back its "
	       "headers in a frame of its own: the least an aggregator does with its bytes; "
	       "ratio_sumfwd = Mpps / sumfwd_Mpps\n",
	       b->plain->name);
	printf("last line, at 1 KB: ratio_io = Mpps / iofwd_Mpps (int16; _int8, _float32), "
	       "ratio_compute = Mpps / compute_Mpps, ratio_kernel_ENC, auth_cost = Mpps with auth "
	       "/ Mpps without, auth_ratio_io = Mpps with auth / iofwd_Mpps on frames of the "
	       "same length (both directions tagged), result_auth_cost = Mpps with results "
	       "tagged / Mpps with results untagged (auth on); the generator's tags are made "
	       "before each run; sumfwd_ratio_io(_ENC) = sumfwd_Mpps / iofwd_Mpps, cycles_ainftp "
	       "and cycles_sumfwd = int16 TSC cycles per frame on the RX lcore in the polls that "
	       "found frames (medians)\n\n");
	fflush(stdout);
}

/* ------------------------------------------------------------ setup */

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG
		" [--quick] [--workers N] [--slots N] [--time S] [--reps N] [--auth]\n"
		"          [--auth-mac polyval-aes|siphash]\n"
		"          [--result float32|int16|int8] [--verbose] [--only ENC:SIZE] "
		"[--no-ceilings]\n"
		"          [--sentry POLICY[,POLICY...]] [--sink] [--rx-lcores N] [--scaling]\n"
		"          [--lcores MAP] [--no-yield]\n"
		"  --quick      sizes 256, 1024 and 8192 only, 0.2 s per point\n"
		"  --workers N  workers of the job (default 4, 1..64)\n"
		"  --slots N    the job's slots, the window (default 256, a power of two)\n"
		"  --time S     seconds per measured run (default 0.5)\n"
		"  --reps N     repetitions per point, median taken (default 3, 1..%d)\n"
		"  --auth       authenticate every contribution in the table too\n"
		"  --auth-mac M  the MAC of authenticated points: polyval-aes (default) or "
		"siphash\n"
		"               (cluster.json auth_mac); the auth point measures the other too\n"
		"  --untagged-results  with --auth, the table's results untagged (result_tags "
		"false):\n"
		"               with --verbose, the RX lcore's cycles per frame of result tags\n"
		"  --result E   the job's result encoding (default: float32 where it fits the MTU, "
		"else int16, else int8)\n"
		"  --verbose    a line per run: lcore 1's busy polls, the generator's window\n"
		"  --only E:S   one point of the table only, e.g. int16:1024 (for profiling)\n"
		"  --no-ceilings  ainftp alone, without iofwd and compute\n"
		"  --sentry P   only the sentry's cost: each policy (zscore, trimmed_mean, "
		"median,\n"
		"               clip; default parameters) and none as jobs of one appliance, runs\n"
		"               interleaved, int16 and float32 at 1 KB: chunks/s, Gbit/s, vs "
		"none\n"
		"  --sink       only the result sink's cost: the same job without a sink and with "
		"a\n"
		"               host arena, runs interleaved (an appliance each), int16 and "
		"float32\n"
		"               at 1 KB: chunks/s, Gbit/s, vs off\n"
		"  --rx-lcores N  the appliance's RX lcores, 1 or 2 (default 1); with 2,\n"
		"               lcores 1 and 2 poll RX queues 0 and 1, the job's 2 lanes\n"
		"               (slot k on lane k %% 2); the generator sends each chunk to its\n"
		"               lane's UDP port, on the TX queue that reaches its lane's queue\n"
		"  --scaling    only 1 RX lcore against 2 on one point (int16:1024, or --only),\n"
		"               an appliance each, runs interleaved: total and per-lcore Mpps\n"
		"  --lcores MAP EAL's lcore-to-CPU map, e.g. 0@0,1@1,2@1 (default -l 0-1; with\n"
		"               2 RX lcores -l 0-2, or 0@0,1@1,2@1 on fewer than 3 CPUs)\n"
		"  --no-yield   lcores that share a CPU poll without a break (by default an idle\n"
		"               poll gives the CPU to the other lcore: "
		"sched_yield)\n" AINFTP_OPT_STD_USAGE "\n"
		"On 2 CPUs the 3 lcores of 2 RX lcores share one: 0@0,1@1,2@1 (the RX lcores\n"
		"time-share CPU 1) or 0@0,1@1,2@0 (lcore 2 time-shares the generator's). Such a\n"
		"run shows that 2 lanes are exact (every chunk complete, no drops) and that the\n"
		"lcores share no slot state: their rates sum to most of one lcore's on the CPU\n"
		"they share, what is lost going to switching, not to contention. It cannot show\n"
		"linear scaling, which needs a CPU per RX lcore and one for the generator (3 or\n"
		"more); an RX lcore sharing a CPU runs at about half rate.\n",
		MAX_REPS);
}

/* --sentry P[,P...]: policies by their config names, none implied (it is the baseline). */
static int
sentry_parse(const char *arg, struct opts *o)
{
	const char *p = arg;

	o->n_sentry = 0;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		int pol;

		/* Every rule of the table but none (row 0). */
		for (pol = AINFTP_SENTRY_NONE + 1; pol < AINFTP_SENTRY_MAX; pol++)
			if (strlen(ainftp_sentry_name(pol)) == n &&
			    strncmp(p, ainftp_sentry_name(pol), n) == 0)
				break;
		if (pol == AINFTP_SENTRY_MAX || o->n_sentry == RTE_DIM(o->sentry) - 1)
			return -1;
		o->sentry[o->n_sentry++] = (enum ainftp_sentry_policy)pol;
		p += n + (p[n] == ',');
	}
	return o->n_sentry == 0 ? -1 : 0;
}

/* --only ENC:SIZE, one point of the table (to profile it); SIZE one of the full table's. */
static int
only_parse(const char *arg, struct opts *o)
{
	unsigned long long size;
	unsigned int e, i;
	size_t n = strcspn(arg, ":");

	for (e = 0; e < n_enc(); e++) {
		const char *name = ainftp_encoding_name(enc_at(e));

		if (strlen(name) == n && strncmp(arg, name, n) == 0 && arg[n] == ':')
			break;
	}
	if (e == n_enc()) {
		fprintf(stderr, PROG ": --only: \"%s\" is not ENC:SIZE, ENC an encoding's name\n",
			arg);
		return -1;
	}
	if (ainftp_opt_uint(PROG, "--only SIZE", arg + n + 1, sizes_full[0],
			    sizes_full[RTE_DIM(sizes_full) - 1], &size) < 0)
		return -1;
	for (i = 0; i < RTE_DIM(sizes_full) && sizes_full[i] != size; i++)
		;
	if (i == RTE_DIM(sizes_full)) {
		fprintf(stderr,
			PROG ": --only SIZE: \"%s\" is not in the table (256, 512, ... 8192)\n",
			arg + n + 1);
		return -1;
	}
	o->only_enc = (int)enc_at(e);
	o->only_size = (uint32_t)size;
	return 0;
}

/*
 * --lcores MAP: handed to EAL as it is; checked here only for its characters,
 * so that a typo gets one line before EAL starts (EAL checks the rest).
 */
static int
lcores_parse(const char *arg, struct opts *o)
{
	size_t n = strlen(arg);

	if (n == 0 || n > 64 || arg[strspn(arg, "0123456789@,()-")] != '\0') {
		fprintf(stderr,
			PROG ": --lcores: \"%s\" is not an EAL lcore map such as 0@0,1@1,2@1\n",
			arg);
		return -1;
	}
	o->lcores = arg;
	return 0;
}

/* --slots N: the job's slots, the workers' window; a power of two. */
static int
slots_parse(const char *arg, struct opts *o)
{
	unsigned long long u;

	if (ainftp_opt_uint(PROG, "--slots", arg, 1, 65536, &u) < 0)
		return -1;
	if (!rte_is_power_of_2((uint32_t)u)) {
		fprintf(stderr, PROG ": --slots: \"%s\" is not a power of two\n", arg);
		return -1;
	}
	o->slots = (uint32_t)u;
	return 0;
}

/* --result float32|int16|int8: one result encoding for every point (default: per point). */
static int
result_parse(const char *arg, struct opts *o)
{
	if (strcmp(arg, "int16") == 0) {
		o->result_enc = AINFTP_ENC_INT16;
	} else if (strcmp(arg, "int8") == 0) {
		o->result_enc = AINFTP_ENC_INT8;
	} else if (strcmp(arg, "float32") != 0) {
		fprintf(stderr, PROG ": --result: \"%s\" is not float32, int16 or int8\n", arg);
		return -1;
	}
	o->result_auto = false;
	return 0;
}

static void
opts_default(struct opts *o)
{
	*o = (struct opts){.workers = 4,
			   .slots = 256,
			   .reps = 3,
			   .run_s = 0.5,
			   .warm_s = 0.05,
			   .compute_s = 0.1,
			   .result_enc = AINFTP_ENC_FLOAT32,
			   .result_auto = true,
			   .ceilings = true,
			   .only_enc = -1,
			   .auth_mac = AINFTP_MAC_POLYVAL_AES,
			   .rx_lcores = 1};
}

static int
mac_parse(const char *arg, struct opts *o)
{
	int a;

	for (a = 0; a < AINFTP_MAC_ALG_MAX; a++)
		if (strcmp(arg, ainftp_mac_alg_names[a]) == 0) {
			o->auth_mac = (enum ainftp_mac_alg)a;
			return 0;
		}
	fprintf(stderr, PROG ": --auth-mac: \"%s\" is not polyval-aes or siphash\n", arg);
	return -1;
}

/*
 * One option from getopt_long (--time into *t: --quick's times give way to it
 * afterwards). 0; -1 after a line on stderr (a bad value); 1: not an option of
 * ours.
 */
static int
opt_apply(int c, const char *arg, struct opts *o, double *t)
{
	unsigned long long u;

	switch (c) {
	case 'q':
		o->quick = true;
		return 0;
	case 'w':
		if (ainftp_opt_uint(PROG, "--workers", arg, 1, AINFTP_MAX_WORKERS, &u) < 0)
			return -1;
		o->workers = (uint16_t)u;
		return 0;
	case 's':
		return slots_parse(arg, o);
	case 't':
		return ainftp_opt_real(PROG, "--time", arg, 0, 60, true, t) < 0 ? -1 : 0;
	case 'r':
		if (ainftp_opt_uint(PROG, "--reps", arg, 1, MAX_REPS, &u) < 0)
			return -1;
		o->reps = (unsigned int)u;
		return 0;
	case 'a':
		o->auth = true;
		return 0;
	case 'U':
		o->untagged_results = true;
		return 0;
	case 'M':
		return mac_parse(arg, o);
	case 'v':
		o->verbose = true;
		return 0;
	case 'n':
		o->ceilings = false;
		return 0;
	case 'o':
		return only_parse(arg, o) != 0 ? -1 : 0;
	case 'S':
		if (sentry_parse(arg, o) != 0) {
			fprintf(stderr,
				PROG ": --sentry: \"%s\" is not a list of zscore, trimmed_mean, "
				     "median, clip\n",
				arg);
			return -1;
		}
		return 0;
	case 'k':
		o->sink = true;
		return 0;
	case 'e':
		return result_parse(arg, o);
	case 'x':
		if (ainftp_opt_uint(PROG, "--rx-lcores", arg, 1, MAX_RX, &u) < 0)
			return -1;
		o->rx_lcores = (unsigned int)u;
		return 0;
	case 'c':
		o->scaling = true;
		return 0;
	case 'l':
		return lcores_parse(arg, o);
	case 'y':
		o->no_yield = true;
		return 0;
	default:
		return 1;
	}
}

/* What options ask together: 0, or -1 after one line on stderr. */
static int
opts_check(const struct opts *o)
{
	if (o->scaling && (o->n_sentry != 0 || o->sink)) {
		fprintf(stderr, PROG ": --scaling runs alone: not with --sentry or --sink\n");
		return -1;
	}
	if (o->sink && !o->result_auto && o->result_enc == AINFTP_ENC_INT8) {
		fprintf(stderr, PROG ": --result int8 with --sink: the sink's consumers read no "
				     "int8 results\n");
		return -1;
	}
	/* Slot k is on lane k % 2: with one slot, lcore 2 would have nothing to sum. */
	if (rx_max(o) > 1 && o->slots < rx_max(o)) {
		fprintf(stderr, PROG ": %s needs --slots %u or more: slot k is on lane k %% %u\n",
			o->scaling ? "--scaling" : "--rx-lcores 2", rx_max(o), rx_max(o));
		return -1;
	}
	return 0;
}

static void
opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"quick", no_argument, NULL, 'q'},
		{"workers", required_argument, NULL, 'w'},
		{"slots", required_argument, NULL, 's'},
		{"time", required_argument, NULL, 't'},
		{"reps", required_argument, NULL, 'r'},
		{"auth", no_argument, NULL, 'a'},
		{"untagged-results", no_argument, NULL, 'U'},
		{"auth-mac", required_argument, NULL, 'M'},
		{"result", required_argument, NULL, 'e'},
		{"verbose", no_argument, NULL, 'v'},
		{"only", required_argument, NULL, 'o'},
		{"no-ceilings", no_argument, NULL, 'n'},
		{"sentry", required_argument, NULL, 'S'},
		{"sink", no_argument, NULL, 'k'},
		{"rx-lcores", required_argument, NULL, 'x'},
		{"scaling", no_argument, NULL, 'c'},
		{"lcores", required_argument, NULL, 'l'},
		{"no-yield", no_argument, NULL, 'y'},
		{NULL, 0, NULL, 0},
	};
	double t = 0;
	unsigned int i;
	int c, ret;

	opts_default(o);
	ainftp_opt_std(argc, argv, PROG, usage);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		ret = opt_apply(c, optarg, o, &t);
		if (ret < 0)
			exit(2);
		if (ret > 0)
			goto bad;
	}
	if (o->quick) {
		o->run_s = 0.2;
		o->warm_s = o->compute_s = 0.05;
	}
	if (t > 0)
		o->run_s = t;
	if (optind != argc)
		goto bad;
	if (opts_check(o) != 0)
		exit(2);
	/* A rule that trims the default f = 1 needs 2f < workers (config/README.md). */
	for (i = 0; i < o->n_sentry; i++)
		if (ainftp_sentry_rule(o->sentry[i])->uses_trim_f && o->workers < 3) {
			fprintf(stderr, PROG ": --sentry %s needs --workers 3 or more\n",
				ainftp_sentry_name(o->sentry[i]));
			exit(2);
		}
	return;
bad:
	usage(stderr);
	exit(2);
}

static uint8_t *
zalloc(size_t n)
{
	uint8_t *p = rte_zmalloc("bench", n, 64);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void
bench_setup(struct bench *b)
{
	/* The window's contributions plus what every lcore's cache and bursts may hold. */
	unsigned int inflight = b->o.slots * b->o.workers, lanes = rx_max(&b->o);
	unsigned int ring = rte_align32pow2(RTE_MAX(2 * inflight, 4096u));
	unsigned int n = rte_align32pow2(inflight + (1 + lanes) * POOL_CACHE + 4 * RX_BURST +
					 2 * AINFTP_MAX_WORKERS + 1) -
			 1;
	struct window *win = &b->win;
	char err[256];
	uint16_t w;

	b->hz = rte_get_tsc_hz();
	b->socket = (int)rte_socket_id();
	b->n_rx = b->o.rx_lcores;
	b->ops = ainftp_quant_select(512);
	b->plain = plain_select(b->ops);
	b->pool = rte_pktmbuf_pool_create("bench_gen", n, POOL_CACHE, 0,
					  (uint16_t)(RTE_PKTMBUF_HEADROOM + MAX_FRAME), b->socket);
	if (b->pool == NULL)
		die("cannot create the generator's pool: %s", rte_strerror(rte_errno));
	b->pool_start = in_use(b->pool);
	/*
	 * The generator's side of the pair: RX from the appliance's TX rings, TX into
	 * its RX. A ring per lane and per TX queue of the most RX lcores a run has: an
	 * appliance with fewer configures fewer queues on the same port.
	 */
	if (ainftp_ringpair_create(&b->rp, "bench", (uint16_t)lanes, (uint16_t)(lanes + 1), ring,
				   b->socket, err, sizeof(err)) != 0 ||
	    ainftp_ringpair_peer_port(&b->rp, GEN_NAME, b->pool, err, sizeof(err)) < 0)
		die("%s", err);
	for (w = 0; w < b->o.workers; w++) {
		b->tr.tmpl[w] = zalloc(MAX_FRAME);
		b->tr.payload[w] = zalloc(MAX_PAYLOAD);
	}
	b->tr.tag_cap = TAGS_BYTES / ((uint64_t)b->o.workers * AINFTP_TAG_LEN);
	b->tr.tags = malloc(TAGS_BYTES);
	if (b->tr.tags == NULL)
		die("out of memory for the pre-made tags");
	/* A first guess: 4 M contributions a second; then what the last run sent, and more. */
	b->tr.tag_hint = (uint64_t)(4e6 * (b->o.warm_s + b->o.run_s + 0.2)) / b->o.workers;
	win->chunk = (uint32_t *)zalloc(b->o.slots * sizeof(*win->chunk));
	win->got = (uint16_t *)zalloc(b->o.slots * sizeof(*win->got));
	win->busy = zalloc(b->o.slots);
	win->sent_tsc = (uint64_t *)zalloc(b->o.slots * sizeof(*win->sent_tsc));
	win->lat = malloc(LAT_CAP * sizeof(*win->lat));
	if (win->lat == NULL)
		die("out of memory for latency samples");
}

static void
bench_teardown(struct bench *b)
{
	ainftp_ringpair_free(&b->rp);
	rte_mempool_free(b->pool);
	free(b->win.lat);
	free(b->tr.tags);
}

/*
 * EAL's lcores: 0 and 1, and 2 when a run has two RX lcores, each on a CPU of
 * its own where there are 3; on fewer, both RX lcores on CPU 1, so that the
 * generator keeps a CPU to itself. --lcores MAP replaces either.
 */
static void
eal_lcores(const struct opts *o, char **flag, char **val)
{
	*flag = "-l";
	*val = "0-1";
	if (o->lcores != NULL) {
		*flag = "--lcores";
		*val = (char *)o->lcores;
	} else if (rx_max(o) > 1 && sysconf(_SC_NPROCESSORS_ONLN) >= 3) {
		*val = "0-2";
	} else if (rx_max(o) > 1) {
		*flag = "--lcores";
		*val = "0@0,1@1,2@1";
	}
}

static void
eal_start(const struct opts *o, const char *prog, char *prefix, size_t len, int *argc, char **argv)
{
	char *flag, *val;
	char *args[] = {(char *)prog,
			"-l",
			"0-1",
			"--no-huge",
			"-m",
			"2048",
			"--no-pci",
			"--no-shconf",
			"--file-prefix",
			prefix,
			"--no-telemetry",
			"--log-level=lib.eal:warning",
			"--log-level=ainftp:warning",
			NULL};
	char *copy[RTE_DIM(args)];
	unsigned int l;

	eal_lcores(o, &flag, &val);
	args[1] = flag;
	args[2] = val;
	snprintf(prefix, len, "ainftp-bench-%d", (int)getpid());
	*argc = (int)RTE_DIM(args) - 1;
	memcpy(argv, args, sizeof(args));
	/* rte_eal_init may permute its argv: hand it a copy, keep ours to print. */
	memcpy(copy, args, sizeof(args));
	if (rte_eal_init(*argc, copy) < 0)
		die("rte_eal_init: %s", rte_strerror(rte_errno));
	/* The generator is the main lcore, 0; the RX lcores are 1 and up. */
	for (l = 0; l <= rx_max(o); l++)
		if (!rte_lcore_is_enabled(l) || rte_get_main_lcore() != 0)
			die("needs lcores 0 (the main one) to %u, has %s %s", rx_max(o), flag, val);
}

/* ------------------------------------------------------------ main */

static struct bench bench;

/* The table: every encoding and size, with both ceilings. */
static struct row
table_run(struct bench *b, struct row at1k[N_ENC])
{
	const uint32_t *sizes = b->o.quick && b->o.only_enc < 0 ? sizes_quick : sizes_full;
	size_t n = b->o.quick && b->o.only_enc < 0 ? RTE_DIM(sizes_quick) : RTE_DIM(sizes_full), i;
	unsigned int e;
	struct row r = {.ok = false};

	table_header();
	for (e = 0; e < n_enc(); e++) {
		for (i = 0; i < n; i++) {
			struct point pt = point_make(&b->o, enc_at(e), sizes[i], b->o.auth);

			pt.untagged_results = b->o.untagged_results;
			if (b->o.only_enc >= 0 &&
			    (b->o.only_enc != (int)enc_at(e) || b->o.only_size != sizes[i]))
				continue;
			if (!pt.fits) {
				printf("%-8s  %9u  skipped: its %s results (%u elements) exceed "
				       "MTU %u\n",
				       ainftp_encoding_name(pt.enc), pt.payload,
				       ainftp_encoding_name(pt.result), pt.elems, MTU);
				continue;
			}
			r = point_run(b, &pt, b->o.ceilings);
			table_row(&pt, &r);
			if (sizes[i] == 1024)
				at1k[e] = r;
		}
	}
	printf("\n");
	return r;
}

/*
 * What the authenticated int16 1 KB point says: on/off, on against iofwd, and
 * on against on with untagged results (what tagging every result costs).
 */
struct auth_figures {
	double on_off, on_io, result_tags;
	double other_io; /* the other MAC's (--auth-mac's is on_io) */
};

/*
 * int16 at 1 KB with and without authentication, side by side: two jobs of one
 * appliance, their runs interleaved. Chunk numbers keep growing across both,
 * which is all a slot asks. The generator's tags are made before each run, so
 * iofwd on the same frames is the packet-I/O ceiling of the "on" run.
 */
static struct auth_figures
auth_run(struct bench *b)
{
	struct point pts[4] = {point_make(&b->o, AINFTP_ENC_INT16, 1024, false),
			       point_make(&b->o, AINFTP_ENC_INT16, 1024, true),
			       point_make(&b->o, AINFTP_ENC_INT16, 1024, true),
			       point_make(&b->o, AINFTP_ENC_INT16, 1024, true)};
	struct series off = {.n = 0}, on = {.n = 0}, io = {.n = 0}, untagged = {.n = 0},
		      other = {.n = 0};
	struct row r_off, r_on, r_io, r_untagged, r_other;
	struct sample s;
	bool ok;
	unsigned int i;

	pts[1].job = JOB_ID + 1;
	pts[2].job = JOB_ID + 2;
	pts[2].untagged_results = true;
	pts[3].job = JOB_ID + 3;
	pts[3].mac =
		b->o.auth_mac == AINFTP_MAC_SIPHASH ? AINFTP_MAC_POLYVAL_AES : AINFTP_MAC_SIPHASH;
	window_reset(&b->win, b->o.slots);
	ok = app_up(b, pts, 4) == 0;
	for (i = 0; i < b->o.reps && ok; i++) {
		traffic_make(b, &pts[0]);
		ok = traffic_run(b, &pts[0], DUT_APP, &s);
		series_add(&off, &s);
		traffic_make(b, &pts[1]);
		ok = ok && traffic_run(b, &pts[1], DUT_APP, &s);
		series_add(&on, &s);
		ok = ok && traffic_run(b, &pts[1], DUT_IOFWD, &s);
		series_add(&io, &s);
		traffic_make(b, &pts[2]);
		ok = ok && traffic_run(b, &pts[2], DUT_APP, &s);
		series_add(&untagged, &s);
		traffic_make(b, &pts[3]);
		ok = ok && traffic_run(b, &pts[3], DUT_APP, &s);
		series_add(&other, &s);
	}
	if (b->app.up)
		point_notes(b, &pts[1]);
	else
		b->failures++;
	app_down(b, "the auth point");
	series_median(&off, &pts[0], &r_off);
	series_median(&on, &pts[1], &r_on);
	series_median(&io, &pts[1], &r_io);
	series_median(&untagged, &pts[2], &r_untagged);
	series_median(&other, &pts[3], &r_other);
	printf("auth, int16 1024 B, median of %u, interleaved: on (%s) %.3f Mpps (p50 %.1f us, p99 "
	       "%.1f us), off %.3f Mpps (p50 %.1f us, p99 %.1f us), on/off %.2f; iofwd on frames "
	       "of the "
	       "same length %.3f Mpps, on/iofwd %.2f\n",
	       b->o.reps, ainftp_mac_alg_names[pts[1].mac], r_on.mpps, r_on.p50_us, r_on.p99_us,
	       r_off.mpps, r_off.p50_us, r_off.p99_us, r_on.mpps / r_off.mpps, r_io.mpps,
	       r_on.mpps / r_io.mpps);
	printf("auth, int16 1024 B: results tagged %.3f Mpps, untagged (result_tags false) %.3f "
	       "Mpps, tagged/untagged %.2f\n",
	       r_on.mpps, r_untagged.mpps, r_on.mpps / r_untagged.mpps);
	printf("auth, int16 1024 B: %s %.3f Mpps, %s %.3f Mpps, %s/iofwd %.2f\n",
	       ainftp_mac_alg_names[pts[1].mac], r_on.mpps, ainftp_mac_alg_names[pts[3].mac],
	       r_other.mpps, ainftp_mac_alg_names[pts[3].mac], r_other.mpps / r_io.mpps);
	if (!ok)
		return (struct auth_figures){NAN, NAN, NAN, NAN};
	return (struct auth_figures){r_on.mpps / r_off.mpps, r_on.mpps / r_io.mpps,
				     r_on.mpps / r_untagged.mpps, r_other.mpps / r_io.mpps};
}

/* A row of a cost table: what labels it, then r's figures and r against the baseline's. */
static void
cost_row(const struct bench *b, const char *labels, const struct row *r, const struct row *base)
{
	printf("%s  %10.0f  %8.3f  %8.2f  %8.1f  %8.1f  %7.2fx\n", labels,
	       r->mpps * 1e6 / b->o.workers, r->mpps, r->gbps, r->p50_us, r->p99_us,
	       base->mpps / r->mpps);
}

/*
 * The sentry's cost on the RX lcore: for one encoding at 1 KB, one appliance
 * with a job per policy (none first), every job's runs interleaved, so drift
 * hits all alike; each policy's rate next to none's from the same run. The
 * control lcore is not run: nothing is quarantined.
 */
static bool
sentry_point(struct bench *b, enum ainftp_encoding enc)
{
	struct point pts[AINFTP_SENTRY_MAX];
	struct series se[AINFTP_SENTRY_MAX];
	struct row r[AINFTP_SENTRY_MAX];
	unsigned int n = b->o.n_sentry + 1, i, k;
	struct sample s;
	char label[64];
	bool ok;

	memset(se, 0, sizeof(se));
	for (k = 0; k < n; k++) {
		pts[k] = point_make(&b->o, enc, 1024, b->o.auth);
		pts[k].job = JOB_ID + k;
		pts[k].sentry = k == 0 ? AINFTP_SENTRY_NONE : b->o.sentry[k - 1];
	}
	window_reset(&b->win, b->o.slots);
	ok = app_up(b, pts, n) == 0;
	for (i = 0; i < b->o.reps && ok; i++)
		for (k = 0; k < n && ok; k++) {
			traffic_make(b, &pts[k]);
			ok = traffic_run(b, &pts[k], DUT_APP, &s);
			series_add(&se[k], &s);
		}
	if (b->app.up)
		point_notes(b, &pts[0]);
	else
		b->failures++;
	point_label(&pts[0], label, sizeof(label));
	app_down(b, label);
	for (k = 0; k < n; k++) {
		series_median(&se[k], &pts[k], &r[k]);
		snprintf(label, sizeof(label), "%-8s  %9u  %-12s", ainftp_encoding_name(enc),
			 pts[k].payload, ainftp_sentry_name(pts[k].sentry));
		cost_row(b, label, &r[k], &r[0]);
	}
	fflush(stdout);
	return ok;
}

static void
sentry_run(struct bench *b)
{
	printf("sentry cost: %s, %u workers, %u slots, median of %u "
	       "interleaved runs of %.2f s per policy; chunks/s of %u contributions each, Gbit/s "
	       "of contributions (payload bytes in); vs none: how many times slower\n",
	       rx_lcores_name(b), b->o.workers, b->o.slots, b->o.reps, b->o.run_s, b->o.workers);
	printf("%-8s  %9s  %-12s  %10s  %8s  %8s  %8s  %8s  %8s\n", "encoding", "payload_B",
	       "policy", "chunks/s", "Mpps", "Gbit/s", "p50_us", "p99_us", "vs none");
	sentry_point(b, AINFTP_ENC_INT16);
	sentry_point(b, AINFTP_ENC_FLOAT32);
}

/*
 * The result sink's cost on the RX lcore: one encoding at 1 KB, the same job on
 * an appliance without a sink and on one with a host arena, brought up in turn
 * for each run so drift hits both alike; the sink's rate next to off's.
 */
static bool
sink_point(struct bench *b, enum ainftp_encoding enc)
{
	static const char *const modes[] = {"off", "host"};
	struct point pt = point_make(&b->o, enc, 1024, b->o.auth);
	struct series se[RTE_DIM(modes)];
	struct row r[RTE_DIM(modes)];
	char label[64];
	struct sample s;
	unsigned int i, k;
	bool ok = true;

	memset(se, 0, sizeof(se));
	point_label(&pt, label, sizeof(label));
	for (i = 0; i < b->o.reps && ok; i++)
		for (k = 0; k < RTE_DIM(modes) && ok; k++) {
			if (k == 0)
				b->sink_path[0] = '\0';
			else
				snprintf(b->sink_path, sizeof(b->sink_path),
					 "/dev/shm/ainftp-bench-sink-%d", (int)getpid());
			window_reset(&b->win, b->o.slots);
			ok = app_up(b, &pt, 1) == 0;
			if (ok) {
				traffic_make(b, &pt);
				ok = traffic_run(b, &pt, DUT_APP, &s);
				series_add(&se[k], &s);
			} else {
				b->failures++;
			}
			app_down(b, label);
			if (b->sink_path[0] != '\0')
				unlink(b->sink_path);
		}
	b->sink_path[0] = '\0';
	for (k = 0; k < RTE_DIM(modes); k++) {
		series_median(&se[k], &pt, &r[k]);
		snprintf(label, sizeof(label), "%-8s  %9u  %-8s  %-5s", ainftp_encoding_name(enc),
			 pt.payload, ainftp_encoding_name(pt.result), modes[k]);
		cost_row(b, label, &r[k], &r[0]);
	}
	fflush(stdout);
	return ok;
}

static void
sink_run(struct bench *b)
{
	printf("sink cost: %s, %u workers, %u slots, median of %u "
	       "interleaved runs of %.2f s each; chunks/s of %u contributions each, Gbit/s of "
	       "contributions (payload bytes in); vs off: how many times slower\n",
	       rx_lcores_name(b), b->o.workers, b->o.slots, b->o.reps, b->o.run_s, b->o.workers);
	printf("%-8s  %9s  %-8s  %-5s  %10s  %8s  %8s  %8s  %8s  %8s\n", "encoding", "payload_B",
	       "result", "sink", "chunks/s", "Mpps", "Gbit/s", "p50_us", "p99_us", "vs off");
	sink_point(b, AINFTP_ENC_INT16);
	sink_point(b, AINFTP_ENC_FLOAT32);
}

/* What --scaling measured, medians: 1 RX lcore, 2 together, and each of the 2. */
struct scaling {
	struct point pt;
	double one, two, lc[MAX_RX];
};

/* One run of pt on an appliance of its own with n RX lcores (and lanes), into se. */
static bool
scaling_once(struct bench *b, const struct point *pt, unsigned int n, struct series *se)
{
	char label[64];
	struct sample s;
	bool ok;

	b->n_rx = n;
	window_reset(&b->win, b->o.slots);
	point_label(pt, label, sizeof(label));
	ok = app_up(b, pt, 1) == 0;
	if (ok) {
		traffic_make(b, pt);
		ok = traffic_run(b, pt, DUT_APP, &s);
		series_add(se, &s);
		point_notes(b, pt);
	} else {
		b->failures++;
	}
	app_down(b, label);
	return ok;
}

/*
 * One point (int16 1 KB, or --only's) on 1 RX lcore and on 2, an appliance
 * brought up for each run, runs interleaved so that drift hits both alike. The
 * two lcores own disjoint slots (k % 2) and share nothing else the data path
 * writes, so 2 lcores against 1 is what lanes cost or give: on CPUs of their
 * own, twice the rate; time-sharing one, nearly the same total.
 */
static struct scaling
scaling_run(struct bench *b)
{
	struct scaling sc = {
		.pt = point_make(&b->o,
				 b->o.only_enc >= 0 ? (enum ainftp_encoding)b->o.only_enc
						    : AINFTP_ENC_INT16,
				 b->o.only_enc >= 0 ? b->o.only_size : 1024, b->o.auth)};
	struct series se[MAX_RX];
	struct row r[MAX_RX];
	unsigned int i, n;
	bool ok = true;
	char label[64];

	printf("scaling: the same job on 1 RX lcore (lcore %d, 1 lane) and on 2 (lcores %d and "
	       "%d, 2 lanes), an appliance each, runs of %.2f s interleaved, median of %u; Mpps: "
	       "contributions whose chunks came back complete, per second; per lcore: its "
	       "data_pkts over the same window\n",
	       DUT_LCORE, DUT_LCORE, DUT_LCORE + 1, b->o.run_s, b->o.reps);
	memset(se, 0, sizeof(se));
	point_label(&sc.pt, label, sizeof(label));
	if (!sc.pt.fits) {
		printf("bench: %s: its %s results exceed MTU %u\n", label,
		       ainftp_encoding_name(sc.pt.result), MTU);
		b->failures++;
		ok = false;
	}
	for (i = 0; i < b->o.reps && ok; i++)
		for (n = 1; n <= MAX_RX && ok; n++)
			ok = scaling_once(b, &sc.pt, n, &se[n - 1]);
	for (n = 0; n < MAX_RX; n++)
		series_median(&se[n], &sc.pt, &r[n]);
	sc.one = r[0].mpps;
	sc.two = r[1].mpps;
	memcpy(sc.lc, r[1].lc_mpps, sizeof(sc.lc));
	printf("scaling, %s, median of %u interleaved: 1 lcore %.3f Mpps; 2 lcores %.3f Mpps "
	       "(lcore %d %.3f, lcore %d %.3f), per-lcore ratio (2 lcores / 2) / 1 lcore = %.2f\n",
	       label, b->o.reps, sc.one, sc.two, DUT_LCORE, sc.lc[0], DUT_LCORE + 1, sc.lc[1],
	       sc.two / 2 / sc.one);
	if (lcores_share(MAX_RX))
		printf("note: lcores share a CPU (CPUs above): this shows 2 lanes exact and "
		       "independent, not linear scaling, which needs a CPU per RX lcore and one "
		       "for the generator\n");
	return sc;
}

/* The last line of --scaling, key=value. */
static void
scaling_summary(const struct bench *b, const struct scaling *sc)
{
	printf("bench: scaling point=%s:%u 1lcore_Mpps=%.3f 2lcores_Mpps=%.3f lcore%d_Mpps=%.3f "
	       "lcore%d_Mpps=%.3f per_lcore_ratio=%.2f shared_cpu=%s failures=%u\n",
	       ainftp_encoding_name(sc->pt.enc), sc->pt.payload, sc->one, sc->two, DUT_LCORE,
	       sc->lc[0], DUT_LCORE + 1, sc->lc[1], sc->two / 2 / sc->one,
	       lcores_share(MAX_RX) ? "yes" : "no", b->failures);
}

/* The int16 kernel at 1 KB at every SIMD level the CPU has, levels interleaved. */
static void
simd_run(struct bench *b)
{
	const struct ainftp_quant_ops *levels[] = {&ainftp_quant_scalar, &ainftp_quant_avx2,
						   &ainftp_quant_avx512};
	struct point pt = point_make(&b->o, AINFTP_ENC_INT16, 1024, false);
	double v[RTE_DIM(levels)][MAX_REPS];
	unsigned int l, i;

	traffic_make(b, &pt);
	for (i = 0; i < b->o.reps; i++)
		for (l = 0; l < RTE_DIM(levels); l++)
			v[l][i] =
				ainftp_quant_have(levels[l]) ? compute_run(b, &pt, levels[l]) : NAN;
	printf("compute alone, int16 1024 B, Mpps, median of %u, interleaved:", b->o.reps);
	for (l = 0; l < RTE_DIM(levels); l++)
		printf(" %s %.3f", levels[l]->name, median(v[l], b->o.reps));
	printf(" (selected: %s)\n", b->ops->name);
}

/*
 * The last line, key=value (scripts and plot-bench read it): int16 at 1 KB as
 * before, and each encoding's io and kernel ratios at 1 KB.
 */
static void
summary_print(const struct bench *b, const struct row at1k[N_ENC], const struct auth_figures *a)
{
	const struct row *r = &at1k[0]; /* the first codec: int16 */
	unsigned int e;

	printf("bench: int16_1KB_Mpps=%.3f int16_1KB_Gbps=%.2f int16_1KB_p99_us=%.1f "
	       "ratio_io=%.2f ratio_compute=%.2f auth_cost=%.2f",
	       r->mpps, r->gbps, r->p99_us, r->mpps / r->io_mpps, r->mpps / r->cmp_mpps, a->on_off);
	for (e = 0; e < n_enc(); e++)
		printf(" ratio_kernel_%s=%.2f", ainftp_encoding_name(enc_at(e)),
		       at1k[e].cmp_mpps / at1k[e].plain32_mpps);
	for (e = 1; e < n_enc(); e++)
		printf(" ratio_io_%s=%.2f", ainftp_encoding_name(enc_at(e)),
		       at1k[e].mpps / at1k[e].io_mpps);
	/* The sumfwd ceiling: what touching the data leaves of iofwd, and ainftp against it. */
	printf(" ratio_sumfwd=%.2f sumfwd_ratio_io=%.2f", r->mpps / r->sf_mpps,
	       r->sf_mpps / r->io_mpps);
	for (e = 1; e < n_enc(); e++)
		printf(" sumfwd_ratio_io_%s=%.2f", ainftp_encoding_name(enc_at(e)),
		       at1k[e].sf_mpps / at1k[e].io_mpps);
	printf(" cycles_ainftp=%.0f cycles_sumfwd=%.0f", r->cyc, r->sf_cyc);
	printf(" auth_ratio_io=%.2f auth_mac=%s auth_ratio_io_%s=%.2f result_auth_cost=%.2f "
	       "simd=%s failures=%u\n",
	       a->on_io, ainftp_mac_alg_names[b->o.auth_mac],
	       b->o.auth_mac == AINFTP_MAC_SIPHASH ? "polyval_aes" : "siphash", a->other_io,
	       a->result_tags, b->ops->name, b->failures);
}

int
main(int argc, char **argv)
{
	struct bench *b = &bench;
	char prefix[64], *eal_argv[16];
	struct row at1k[N_ENC];
	struct auth_figures auth = {NAN, NAN, NAN, NAN};
	unsigned int e;
	int eal_argc;

	opts_parse(argc, argv, &b->o);
	eal_start(&b->o, argv[0], prefix, sizeof(prefix), &eal_argc, eal_argv);
	bench_setup(b);
	header_print(b, eal_argc, eal_argv);
	if (b->o.scaling) {
		struct scaling sc = scaling_run(b);

		bench_teardown(b);
		scaling_summary(b, &sc);
		rte_eal_cleanup();
		return b->failures == 0 ? 0 : 1;
	}
	if (b->o.n_sentry != 0 || b->o.sink) {
		if (b->o.n_sentry != 0)
			sentry_run(b);
		if (b->o.sink)
			sink_run(b);
		bench_teardown(b);
		printf("bench: %s failures=%u\n", b->o.sink ? "sink" : "sentry", b->failures);
		rte_eal_cleanup();
		return b->failures == 0 ? 0 : 1;
	}
	for (e = 0; e < N_ENC; e++)
		at1k[e] = (struct row){.mpps = NAN,
				       .gbps = NAN,
				       .p99_us = NAN,
				       .io_mpps = NAN,
				       .cmp_mpps = NAN,
				       .sf_mpps = NAN,
				       .cyc = NAN,
				       .sf_cyc = NAN,
				       .plain32_mpps = NAN,
				       .plain64_mpps = NAN};
	table_run(b, at1k);
	if (b->o.only_enc < 0) {
		auth = auth_run(b);
		simd_run(b);
	}
	bench_teardown(b);
	summary_print(b, at1k, &auth);
	rte_eal_cleanup();
	return b->failures == 0 ? 0 : 1;
}
