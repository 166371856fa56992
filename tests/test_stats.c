/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stats line and the rte_telemetry commands: both must parse as JSON and
 * carry the counters of traffic the test sent through the real RX path.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_eal.h>

#include "ainftp_ctrl.h"
#include "ainftp_stats.h"
#include "fixture.h"

static struct fixture fx;

static const uint8_t arp_request[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01,
	198,  18,   0,	  1,	0,    0,    0,	  0,	0,    0,    198,  18,	0,    2,
};

static void
setup(void)
{
	uint8_t runt[8] = {0};

	fixture_up(&fx);
	/* Two ARP requests answered, one runt dropped. */
	ck_assert_uint_eq(fixture_roundtrip(&fx, arp_request, sizeof(arp_request), NULL, NULL), 1);
	ck_assert_uint_eq(fixture_roundtrip(&fx, arp_request, sizeof(arp_request), NULL, NULL), 1);
	ck_assert_uint_eq(fixture_roundtrip(&fx, runt, sizeof(runt), NULL, NULL), 0);
}

static void
teardown(void)
{
	fixture_down(&fx);
}

static json_int_t
get_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "\"%s\" is not an integer", key);
	return json_integer_value(v);
}

START_TEST(stats_line_is_one_json_object)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	json_error_t jerr;
	json_t *o, *port, *lcore, *lat;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ainftp_stats_print(f, &fx.rt, 1), 0);
	fclose(f);
	ck_assert_uint_gt(size, 2);
	ck_assert_msg(buf[size - 1] == '\n' && memchr(buf, '\n', size - 1) == NULL,
		      "not exactly one line");
	o = json_loads(buf, 0, &jerr);
	ck_assert_msg(o != NULL, "stats line is not JSON: %s", jerr.text);
	ck_assert(json_is_true(json_object_get(o, "final")));

	port = json_array_get(json_object_get(o, "ports"), 0);
	ck_assert_int_eq(get_int(port, "rx_pkts"), 3);
	ck_assert_int_eq(get_int(port, "tx_pkts"), 2);
	ck_assert_int_eq(get_int(port, "tx_bytes"), 120);
	ck_assert_int_eq(get_int(port, "arp_replies"), 2);
	ck_assert_int_eq(get_int(port, "drops_total"), 1);
	ck_assert_int_eq(get_int(json_object_get(port, "drops"), "runt"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(port, "mac")), "02:00:00:00:00:02");
	ck_assert_int_eq(get_int(json_object_get(port, "device"), "ipackets"), 3);

	lcore = json_array_get(json_object_get(o, "lcores"), 0);
	ck_assert_int_eq(get_int(lcore, "lcore"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(lcore, "role")), "control");
	lcore = json_array_get(json_object_get(o, "lcores"), 1);
	ck_assert_int_eq(get_int(lcore, "lcore"), FIX_RX_LCORE);
	ck_assert_str_eq(json_string_value(json_object_get(lcore, "role")), "rx");
	ck_assert_int_eq(get_int(lcore, "rx_pkts"), 3);

	/* The job's chunk latency: its bounds, each bucket's own count and one past them. */
	lat = json_object_get(json_array_get(json_object_get(o, "jobs"), 0), "chunk_latency");
	ck_assert_uint_eq(json_array_size(json_object_get(lat, "le_us")), AINFTP_LAT_BUCKETS);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(lat, "le_us"), 1)),
			 2 * AINFTP_LAT_LE0_US);
	ck_assert_uint_eq(json_array_size(json_object_get(lat, "counts")), AINFTP_LAT_BUCKETS + 1);
	ck_assert_int_eq(get_int(lat, "count"), 0);
	ck_assert(json_is_number(json_object_get(o, "start_time_s")));
	json_decref(o);
	free(buf);
}
END_TEST

/* Ask the app's own telemetry socket, as dpdk-telemetry.py does, and parse the answer. */
static json_t *
telemetry_query(const char *cmd)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	static char buf[65536];
	json_error_t jerr;
	json_t *o, *v;
	ssize_t n;
	int s;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/dpdk_telemetry.v2",
		 rte_eal_get_runtime_dir());
	s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_msg(connect(s, (struct sockaddr *)&addr, sizeof(addr)) == 0, "connect %s",
		      addr.sun_path);
	n = read(s, buf, sizeof(buf) - 1); /* the greeting */
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(write(s, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	n = read(s, buf, sizeof(buf) - 1);
	close(s);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	o = json_loads(buf, 0, &jerr);
	ck_assert_msg(o != NULL, "telemetry reply is not JSON: %s: %s", jerr.text, buf);
	v = json_incref(json_object_get(o, cmd));
	json_decref(o);
	ck_assert_msg(json_is_object(v), "no object under %s in %s", cmd, buf);
	return v;
}

START_TEST(telemetry_stats_parse_as_json)
{
	json_t *o = telemetry_query("/ainftp/stats");
	json_t *lcore = json_object_get(json_object_get(o, "lcores"), "lcore1");

	ck_assert_int_eq(get_int(o, "rx_pkts"), 3);
	ck_assert_int_eq(get_int(o, "arp_replies"), 2);
	ck_assert_int_eq(get_int(json_object_get(o, "drops"), "runt"), 1);
	ck_assert_msg(json_is_object(lcore), "no lcores.lcore1");
	ck_assert_int_eq(get_int(lcore, "tx_pkts"), 2);
	ck_assert_str_eq(json_string_value(json_object_get(lcore, "role")), "rx");
	json_decref(o);
}
END_TEST

START_TEST(telemetry_ports_parse_as_json)
{
	json_t *o = telemetry_query("/ainftp/ports");
	json_t *port = json_object_get(o, "port0");

	ck_assert_msg(json_is_object(port), "no port0");
	ck_assert_str_eq(json_string_value(json_object_get(port, "name")), "net_ring_fix");
	ck_assert_int_eq(get_int(port, "tx_pkts"), 2);
	ck_assert_int_eq(get_int(port, "rx_queues"), 1);
	ck_assert_int_eq(get_int(port, "tx_queues"), 2);
	ck_assert_int_eq(get_int(json_object_get(port, "device"), "opackets"), 2);
	json_decref(o);
}
END_TEST

/*
 * /ainftp/workers and the stats line's workers: the test plays the control
 * lcore, with one heartbeat to worker 0 answered after 250 cycles.
 */
START_TEST(workers_in_telemetry_and_the_stats_line)
{
	struct ainftp_peer *p;
	char err[256], *buf = NULL;
	size_t size = 0;
	FILE *f;
	json_t *o, *w;
	uint64_t now = rte_get_tsc_cycles();

	ck_assert_msg(ainftp_ctrl_setup(&fx.rt, err, sizeof(err)) == 0, "%s", err);
	p = &fx.rt.swarm->jobs[0].peers[0];
	ainftp_swarm_known(p);
	ainftp_swarm_sent(p, 0, now - 1000);
	ck_assert(ainftp_swarm_ack(p, 0, now - 1000, now - 750));

	o = telemetry_query("/ainftp/workers");
	w = json_object_get(json_object_get(o, "job1"), "w0");
	ck_assert_msg(json_is_object(w), "no job1.w0");
	ck_assert_int_eq(get_int(w, "id"), 0);
	ck_assert_int_eq(get_int(w, "job"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(w, "ipv4")), "198.18.0.11");
	ck_assert_str_eq(json_string_value(json_object_get(w, "state")), "up");
	ck_assert_int_eq(get_int(w, "heartbeats_sent"), 1);
	ck_assert_int_eq(get_int(w, "acks"), 1);
	ck_assert_int_ge(get_int(w, "last_seen_ms"), 0);
	/* No floating point in DPDK 22.11 telemetry: decimal strings. */
	ck_assert(strtod(json_string_value(json_object_get(w, "rtt_us")), NULL) > 0);
	ck_assert(strtod(json_string_value(json_object_get(w, "loss")), NULL) == 0);
	/* The quorum: in from the start, never moved; a boolean is 1 in telemetry. */
	ck_assert_int_eq(get_int(w, "in_quorum"), 1);
	ck_assert_int_eq(get_int(w, "downranked"), 0);
	ck_assert_int_eq(get_int(w, "rank"), 1);
	ck_assert_int_eq(get_int(w, "contributions"), 0);
	ck_assert_int_eq(get_int(w, "drops"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(w, "out_reason")), "none");
	json_decref(o);
	o = telemetry_query("/ainftp/jobs");
	w = json_object_get(o, "job1");
	ck_assert_msg(json_is_object(w), "no job1 in /ainftp/jobs");
	ck_assert_int_eq(get_int(w, "quorum_version"), 1);
	ck_assert_int_eq(get_int(w, "quorum_size"), 1);
	ck_assert_int_eq(get_int(w, "min_quorum"), 1);
	/* The latency's count; its arrays do not fit DPDK 22.11's telemetry dicts. */
	ck_assert_int_eq(get_int(json_object_get(w, "chunk_latency"), "count"), 0);
	json_decref(o);

	f = open_memstream(&buf, &size);
	ck_assert_int_eq(ainftp_stats_print(f, &fx.rt, 0), 0);
	fclose(f);
	o = json_loads(buf, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(json_array_size(json_object_get(o, "workers")), 1);
	w = json_array_get(json_object_get(o, "workers"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(w, "state")), "up");
	ck_assert(json_real_value(json_object_get(w, "rtt_us")) > 0);
	ck_assert_int_eq(get_int(w, "acks"), 1);
	ck_assert(json_is_true(json_object_get(w, "in_quorum")));
	ck_assert_uint_eq(json_array_size(json_object_get(o, "jobs")), 1);
	w = json_array_get(json_object_get(o, "jobs"), 0);
	ck_assert_int_eq(get_int(w, "quorum_size"), 1);
	ck_assert(json_real_value(json_object_get(w, "partial_wait_max_ms")) == 0);
	json_decref(o);
	free(buf);

	/* A fresh control state: no address learnt, never heard from. */
	ainftp_ctrl_free(&fx.rt);
	ck_assert_msg(ainftp_ctrl_setup(&fx.rt, err, sizeof(err)) == 0, "%s", err);
	o = telemetry_query("/ainftp/workers");
	w = json_object_get(json_object_get(o, "job1"), "w0");
	ck_assert_str_eq(json_string_value(json_object_get(w, "state")), "unknown");
	ck_assert_int_eq(get_int(w, "last_seen_ms"), -1);
	json_decref(o);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("json");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, stats_line_is_one_json_object);
	tcase_add_test(tc, telemetry_stats_parse_as_json);
	tcase_add_test(tc, telemetry_ports_parse_as_json);
	tcase_add_test(tc, workers_in_telemetry_and_the_stats_line);
	suite_add_tcase(s, tc);
	fixture_eal_init("test_stats", 1);
	if (ainftp_stats_telemetry_register(&fx.rt) != 0)
		return EXIT_FAILURE;
	return fixture_run(s);
}
