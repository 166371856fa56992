/* SPDX-License-Identifier: BSD-3-Clause */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "ainftp_ctrl.h"
#include "ainftp_lcore.h"
#include "ainftp_port.h"
#include "ainftp_rx.h"
#include "ainftp_stats.h"
#include "fixture.h"

static const char fixture_json[] =
	"{\"appliance\": {\"ipv4\": \"" FIX_IP "\", \"mac\": \"02:00:00:00:00:02\"},"
	" \"ports\": [{\"device\": \"net_ring_fix\", \"rx_queues\": 1}],"
	" \"lcores\": {\"control\": 0, \"rx\": [{\"lcore\": 1, \"port\": 0, \"queue\": 0}]},"
	" \"jobs\": [{\"id\": 1, \"elems_per_packet\": 256, \"encoding\": \"int16\","
	"   \"auth\": false, \"workers\": [{\"id\": 0, \"ipv4\": \"198.18.0.11\"}]}],"
	" \"telemetry\": {\"enabled\": true, \"stats_interval_s\": 0}}";

static void
die(const char *what)
{
	fprintf(stderr, "fixture: %s\n", what);
	abort();
}

void
fixture_eal_init(const char *prog, int telemetry)
{
	char prefix[64];
	char *argv[] = {(char *)prog,
			"-l",
			"0-1",
			"--no-huge",
			"-m",
			"256",
			"--no-pci",
			"--no-shconf",
			"--file-prefix",
			prefix,
			"--log-level=lib.eal:error",
			telemetry ? "--telemetry" : "--no-telemetry",
			NULL};

	snprintf(prefix, sizeof(prefix), "ainftp-%s-%d", prog, (int)getpid());
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0)
		die("rte_eal_init");
}

int
fixture_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rte_eal_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void
fixture_up(struct fixture *f)
{
	fixture_up_json(f, fixture_json);
}

void
fixture_up_json(struct fixture *f, const char *json)
{
	uint16_t n_rx;
	char err[512];

	memset(f, 0, sizeof(*f));
	if (ainftp_config_parse(json, "fixture.json", &f->cfg, err, sizeof(err)) != 0)
		die(err);
	ainftp_config_box_view(&f->cfg); /* as the app: a leaf's or spine's own view */
	n_rx = f->cfg.ports[0].rx_queues;
	if (n_rx > 2)
		die("the fixture has at most two RX queues");
	/* TX queue 0 is the RX lcore's, 1 the control lcore's. */
	if (ainftp_ringpair_create(&f->rp, "fix", n_rx, 2, 1024, 0, err, sizeof(err)) != 0)
		die(err);
	f->in = f->rp.in[0];
	f->in1 = f->rp.in[1];
	f->out = f->rp.out[0];
	f->ctrl_out = f->rp.out[1];
	f->pool = rte_pktmbuf_pool_create("fix_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (f->pool == NULL)
		die("pool");
	if (ainftp_ringpair_app_port(&f->rp, "fix", err, sizeof(err)) < 0)
		die(err);

	f->rt.cfg = &f->cfg;
	f->rt.stats_out = stdout;
	f->rt.simd_bits = 512;
	ainftp_counters_reset();
	if (ainftp_ports_setup(&f->rt, err, sizeof(err)) != 0)
		die(err);
	if (ainftp_lcores_setup(&f->rt, err, sizeof(err)) != 0)
		die(err);
}

/* Every frame the lcores took in is in exactly one outcome (ainftp_counters_unaccounted). */
static void
accounting_check(void)
{
	unsigned int lcore;
	uint16_t p;

	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++)
		for (p = 0; p < AINFTP_MAX_PORTS; p++) {
			const struct ainftp_port_ctr *c = &ainftp_stats[lcore].port[p];

			ck_assert_msg(ainftp_counters_unaccounted(c) == 0,
				      "lcore %u port %u: %" PRId64 " of %" PRIu64
				      " frames in no outcome (negative: in two)",
				      lcore, p, ainftp_counters_unaccounted(c), c->rx_pkts);
		}
}

int64_t
fixture_unaccounted(void)
{
	struct ainftp_port_ctr sum;

	ainftp_counters_port_sum(0, &sum);
	return ainftp_counters_unaccounted(&sum);
}

void
fixture_down(struct fixture *f)
{
	ainftp_lcores_free(&f->rt);
	ainftp_ports_close(&f->rt);
	ainftp_ctrl_free(&f->rt);
	/* The vdev removed, so that the next test can make it again, and the rings freed. */
	ainftp_ringpair_free(&f->rp);
	rte_mempool_free(f->pool);
	/* Last: the counters outlive the appliance, and a failure here must not leak it. */
	accounting_check();
}

static void
inject(struct fixture *f, struct rte_ring *r, const void *frame, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(f->pool);

	if (m == NULL || rte_pktmbuf_append(m, len) == NULL)
		die("mbuf");
	memcpy(rte_pktmbuf_mtod(m, void *), frame, len);
	if (rte_ring_enqueue(r, m) != 0)
		die("enqueue");
	ainftp_rx_poll(f->rt.rx[FIX_RX_LCORE]);
}

void
fixture_inject(struct fixture *f, const void *frame, uint16_t len)
{
	inject(f, f->in, frame, len);
}

void
fixture_inject_q1(struct fixture *f, const void *frame, uint16_t len)
{
	inject(f, f->in1, frame, len);
}

unsigned int
fixture_roundtrip(struct fixture *f, const void *frame, uint16_t len, uint8_t *reply,
		  uint16_t *reply_len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(f->pool), *r[8];
	unsigned int n, i;

	if (m == NULL || rte_pktmbuf_append(m, len) == NULL)
		die("mbuf");
	memcpy(rte_pktmbuf_mtod(m, void *), frame, len);
	if (rte_ring_enqueue(f->in, m) != 0)
		die("enqueue");
	ainftp_rx_poll(f->rt.rx[FIX_RX_LCORE]);
	n = rte_ring_dequeue_burst(f->out, (void **)r, RTE_DIM(r), NULL);
	for (i = 0; i < n; i++) {
		if (i == 0 && reply != NULL) {
			*reply_len = rte_pktmbuf_data_len(r[0]);
			memcpy(reply, rte_pktmbuf_mtod(r[0], void *), *reply_len);
		}
		rte_pktmbuf_free(r[i]);
	}
	return n;
}

void
fixture_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint16_t
fixture_ip_csum(const uint8_t *p)
{
	uint32_t sum = 0;
	int i;

	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t
fixture_data_frame(uint8_t *f, const struct ainftp_msg *m, const void *payload,
		   uint16_t payload_len, const uint8_t *key)
{
	static const uint8_t our_mac[6] = FIX_MAC;
	uint8_t *ip = f + 14, *udp = ip + 20, *h = udp + 8;
	uint16_t udp_len = (uint16_t)(8 + 32 + payload_len + 16);
	unsigned int w = m->worker;
	uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, (uint8_t)(0x10 + w)};

	memcpy(f, our_mac, 6);
	memcpy(f + 6, src_mac, 6);
	fixture_put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	fixture_put16(ip + 2, (uint16_t)(20 + udp_len));
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 198, ip[13] = 18, ip[14] = 0, ip[15] = (uint8_t)(11 + w);
	ip[16] = 198, ip[17] = 18, ip[18] = 0, ip[19] = 2;
	fixture_put16(ip + 10, fixture_ip_csum(ip));
	fixture_put16(udp, (uint16_t)(40000 + w));
	fixture_put16(udp + 2, FIX_UDP_PORT);
	fixture_put16(udp + 4, udp_len);
	fixture_put16(udp + 6, 0);
	ainftp_hdr_write((struct ainftp_hdr *)h, m);
	memcpy(h + 32, payload, payload_len);
	ainftp_tag(key, h, 32u + payload_len, h + 32 + payload_len);
	return 14u + 20u + udp_len;
}
