/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus endpoint without EAL: a stats object of the stats line's
 * shape rendered as exposition text (names, types, labels, units, grouping,
 * escaping, every line well formed), then served over 127.0.0.1 to scrapers
 * that behave and to ones that do not.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "ainftp_prom.h"

/* The stats line's shape, as lib/telemetry/ainftp_stats.c writes it. */
static const char *stats_text =
	"{\"ainftp_stats\":true,\"final\":false,\"start_time_s\":1700000000.25,"
	"\"uptime_s\":12.5,"
	"\"lcores\":[{\"rx_pkts\":7,\"drops_total\":1,\"drops\":{\"tag\":1},\"lcore\":1,"
	"\"role\":\"rx\",\"loops\":1000,\"busy_loops\":10}],"
	"\"ports\":[{\"rx_pkts\":5,\"tx_bytes\":640,\"drops_total\":3,"
	"\"drops\":{\"duplicate\":2,\"ip_checksum\":1},\"port\":0,"
	"\"name\":\"net_\\\"odd\\\\name\",\"mac\":\"02:00:00:00:00:01\",\"socket\":0,"
	"\"rx_queues\":2,\"tx_queues\":3,\"device\":{\"ipackets\":5,\"imissed\":0}}],"
	"\"workers\":[{\"id\":3,\"job\":1,\"ipv4\":\"198.18.0.13\",\"state\":\"up\","
	"\"rtt_us\":250.0,\"jitter_us\":12.5,\"loss\":0.25,\"last_seen_ms\":40,"
	"\"heartbeats_sent\":9,\"acks\":8,\"suspicion\":0.625,\"quarantined\":true,"
	"\"sentry_seen\":64,\"sentry_flagged\":40,\"quarantines\":1,\"readmits\":0},"
	"{\"id\":4,\"job\":1,\"ipv4\":\"198.18.0.14\",\"state\":\"unknown\","
	"\"rtt_us\":0.0,\"jitter_us\":0.0,\"loss\":0.0,\"last_seen_ms\":-1,"
	"\"heartbeats_sent\":0,\"acks\":0}],"
	"\"jobs\":[{\"id\":7,\"workers\":4,\"min_quorum\":3,\"sentry\":\"median\","
	"\"quorum_size\":3,\"partial_wait_max_ms\":250.0,"
	"\"chunk_latency\":{\"le_us\":[8,16,32],\"counts\":[1,0,2,1],\"count\":4,"
	"\"sum_ms\":12.5}}],"
	"\"sink\":{\"backend\":\"host\",\"requested\":\"auto\","
	"\"path\":\"/dev/shm/x\",\"bytes\":4096,\"written\":12,\"fallbacks\":0}}";

static json_t *
stats_load(void)
{
	json_error_t e;
	json_t *o = json_loads(stats_text, 0, &e);

	ck_assert_msg(o != NULL, "test JSON: %s", e.text);
	return o;
}

static char *
render(void)
{
	json_t *o = stats_load();
	char *text;
	size_t len;

	ck_assert_int_eq(ainftp_prom_render(o, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len);
	json_decref(o);
	return text;
}

static void
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		p += n;
	}
	ck_abort_msg("no line \"%s\" in:\n%s", line, text);
}

static void
lacks(const char *text, const char *what)
{
	ck_assert_msg(strstr(text, what) == NULL, "\"%s\" should not be in:\n%s", what, text);
}

START_TEST(names_types_units)
{
	char *t = render();

	has_line(t, "# TYPE ainftp_uptime_seconds gauge");
	has_line(t, "ainftp_uptime_seconds 12.5");
	has_line(t, "# TYPE ainftp_start_time_seconds gauge");
	has_line(t, "ainftp_start_time_seconds 1700000000.25");
	has_line(t, "# HELP ainftp_port_rx_packets_total Frames received");
	has_line(t, "# TYPE ainftp_port_rx_packets_total counter");
	has_line(t, "ainftp_port_rx_packets_total{port=\"0\",name=\"net_\\\"odd\\\\name\"} 5");
	has_line(t, "ainftp_port_tx_bytes_total{port=\"0\",name=\"net_\\\"odd\\\\name\"} 640");
	has_line(t, "# TYPE ainftp_port_rx_queues gauge");
	has_line(t, "ainftp_port_rx_queues{port=\"0\",name=\"net_\\\"odd\\\\name\"} 2");
	/* Drop reasons: one family, the reason a label, so sum() over it works. */
	has_line(t, "# TYPE ainftp_port_drops_total counter");
	has_line(t, "ainftp_port_drops_total{port=\"0\",name=\"net_\\\"odd\\\\name\","
		    "reason=\"duplicate\"} 2");
	has_line(t, "ainftp_port_drops_total{port=\"0\",name=\"net_\\\"odd\\\\name\","
		    "reason=\"ip_checksum\"} 1");
	has_line(t, "ainftp_port_device_rx_missed_packets_total{port=\"0\",name=\"net_"
		    "\\\"odd\\\\name\"} "
		    "0");
	has_line(t,
		 "ainftp_port_device_rx_packets_total{port=\"0\",name=\"net_\\\"odd\\\\name\"} 5");
	has_line(t, "ainftp_lcore_loops_total{lcore=\"1\",role=\"rx\"} 1000");
	has_line(t, "ainftp_lcore_drops_total{lcore=\"1\",role=\"rx\",reason=\"tag\"} 1");
	/* Workers: times in seconds, counts as counters, the state a label. */
	has_line(t, "# TYPE ainftp_worker_rtt_seconds gauge");
	has_line(t, "ainftp_worker_rtt_seconds{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0.13\"} "
		    "0.00025000000000000001");
	has_line(t,
		 "ainftp_worker_last_seen_seconds{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0.13\"} "
		 "0.040000000000000001");
	/* A fraction is a _ratio. */
	has_line(t,
		 "ainftp_worker_loss_ratio{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0.13\"} 0.25");
	has_line(t, "# TYPE ainftp_worker_acks_total counter");
	has_line(t, "ainftp_worker_acks_total{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0.13\"} 8");
	has_line(t, "ainftp_worker_state{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0.13\",state="
		    "\"up\"} 1");
	has_line(t, "ainftp_worker_state{ainftp_job=\"1\",id=\"4\",ipv4=\"198.18.0.14\",state="
		    "\"unknown\"} "
		    "1");
	/* The sentry's: suspicion and quarantine are gauges, what it judged counts up. */
	/* Jobs, labelled by id; the sink, one object: its states as labels, no path. */
	has_line(t, "ainftp_job_quorum_size{ainftp_job=\"7\"} 3");
	has_line(t, "ainftp_job_min_quorum{ainftp_job=\"7\"} 3");
	has_line(t, "ainftp_job_sentry{ainftp_job=\"7\",sentry=\"median\"} 1");
	has_line(t, "ainftp_job_partial_wait_max_seconds{ainftp_job=\"7\"} 0.25");
	has_line(t, "# TYPE ainftp_sink_written_total counter");
	has_line(t, "ainftp_sink_written_total 12");
	has_line(t, "ainftp_sink_backend{backend=\"host\"} 1");
	has_line(t, "ainftp_sink_arena_bytes 4096");
	lacks(t, "/dev/shm/x");
	has_line(t, "# TYPE ainftp_worker_suspicion gauge");
	has_line(t,
		 "ainftp_worker_suspicion{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0.13\"} 0.625");
	has_line(t, "ainftp_worker_quarantined{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0.13\"} 1");
	has_line(t, "# TYPE ainftp_worker_sentry_flagged_total counter");
	has_line(t, "ainftp_worker_sentry_seen_total{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0."
		    "13\"} 64");
	has_line(t, "ainftp_worker_sentry_flagged_total{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0."
		    "13\"} 40");
	has_line(t, "ainftp_worker_quarantines_total{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0."
		    "13\"} 1");
	has_line(t,
		 "ainftp_worker_readmits_total{ainftp_job=\"1\",id=\"3\",ipv4=\"198.18.0.13\"} 0");
	/* "Never seen" (-1 ms) is no sample, not a negative age. */
	lacks(t, "ainftp_worker_last_seen_seconds{ainftp_job=\"1\",id=\"4\"");
	/* Sums the scraper can make, and flags, are not metrics. */
	lacks(t, "drops_total{port=\"0\",name=\"net_\\\"odd\\\\name\"} 3");
	lacks(t, "ainftp_final");
	lacks(t, "ainftp_ainftp_stats");
	/* No abbreviations of packets left. */
	lacks(t, "_pkts");
	free(t);
}
END_TEST

/*
 * The format's own rules: each line a comment or a sample of a well-formed
 * name, labels and value; every family with a HELP line and then its TYPE
 * line, first, and its samples together (a histogram's under its _bucket,
 * _sum and _count names).
 */
START_TEST(well_formed)
{
	char *t = render(), *save = NULL, *line;
	char families[80][128], kind[16] = "", help_of[128] = "";
	unsigned int n_fam = 0;
	regex_t sample, type, help;

	ck_assert_int_eq(regcomp(&sample,
				 "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
				 "(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\",?)*\\})? "
				 "(-?[0-9.e+-]+|NaN|[+-]Inf)$",
				 REG_EXTENDED),
			 0);
	ck_assert_int_eq(regcomp(&type,
				 "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$",
				 REG_EXTENDED),
			 0);
	ck_assert_int_eq(regcomp(&help, "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^ ].*$", REG_EXTENDED),
			 0);
	for (line = strtok_r(t, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[3];
		char name[128], want[160];

		if (regexec(&help, line, 2, m, 0) == 0) {
			snprintf(help_of, sizeof(help_of), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			continue;
		}
		if (regexec(&type, line, 3, m, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			snprintf(kind, sizeof(kind), "%.*s", (int)(m[2].rm_eo - m[2].rm_so),
				 line + m[2].rm_so);
			ck_assert_msg(strcmp(help_of, name) == 0, "no HELP right before %s", line);
			help_of[0] = '\0';
			for (unsigned int i = 0; i < n_fam; i++)
				ck_assert_msg(strcmp(families[i], name) != 0,
					      "family %s declared twice", name);
			ck_assert_uint_lt(n_fam, 80);
			snprintf(families[n_fam++], sizeof(families[0]), "%s", name);
			continue;
		}
		ck_assert_msg(regexec(&sample, line, 2, m, 0) == 0, "malformed line: %s", line);
		ck_assert_msg(n_fam > 0, "sample before any TYPE: %s", line);
		snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
			 line + m[1].rm_so);
		if (strcmp(kind, "histogram") == 0) {
			size_t n = strlen(families[n_fam - 1]);

			ck_assert_msg(strncmp(name, families[n_fam - 1], n) == 0 &&
					      (strcmp(name + n, "_bucket") == 0 ||
					       strcmp(name + n, "_sum") == 0 ||
					       strcmp(name + n, "_count") == 0),
				      "sample %s outside its histogram's block", line);
			continue;
		}
		snprintf(want, sizeof(want), "%s", families[n_fam - 1]);
		ck_assert_msg(strcmp(want, name) == 0, "sample %s outside its family's block",
			      line);
		/* Counters, and only counters, end in _total. */
		ck_assert_msg((strcmp(kind, "counter") == 0) ==
				      (strlen(name) > 6 &&
				       strcmp(name + strlen(name) - 6, "_total") == 0),
			      "%s of a %s", name, kind);
	}
	ck_assert_uint_gt(n_fam, 10);
	regfree(&sample);
	regfree(&type);
	regfree(&help);
	free(t);
}
END_TEST

/* Prometheus' build_info: the version as a label of a constant 1, whatever the stats hold. */
START_TEST(build_info)
{
	char *t = render(), line[128];
	json_t *empty = json_object();
	char *text;
	size_t len;

	snprintf(line, sizeof(line), "ainftp_build_info{version=\"%s\"} 1", AINFTP_VERSION);
	has_line(t, "# TYPE ainftp_build_info gauge");
	has_line(t, line);
	ck_assert_int_eq(ainftp_prom_render(empty, &text, &len), 0);
	has_line(text, line);
	free(text);
	json_decref(empty);
	free(t);
}
END_TEST

/*
 * The chunk latency histogram: the stats line's own counts per bucket (1, 0,
 * 2 and 1 past the last bound) become cumulative buckets in seconds, +Inf the
 * count, the sum in seconds; one that is not of a histogram's shape renders
 * nothing.
 */
START_TEST(histogram)
{
	char *t = render();
	json_t *o;
	char *text;
	size_t len;

	has_line(t, "# HELP ainftp_job_chunk_latency_seconds Chunk completion latency: from a "
		    "slot's first accepted contribution to its result");
	has_line(t, "# TYPE ainftp_job_chunk_latency_seconds histogram");
	has_line(t, "ainftp_job_chunk_latency_seconds_bucket{ainftp_job=\"7\",le=\"8e-06\"} 1");
	has_line(t, "ainftp_job_chunk_latency_seconds_bucket{ainftp_job=\"7\",le=\"1.6e-05\"} 1");
	has_line(t, "ainftp_job_chunk_latency_seconds_bucket{ainftp_job=\"7\",le=\"3.2e-05\"} 3");
	has_line(t, "ainftp_job_chunk_latency_seconds_bucket{ainftp_job=\"7\",le=\"+Inf\"} 4");
	has_line(t, "ainftp_job_chunk_latency_seconds_sum{ainftp_job=\"7\"} 0.012500000000000001");
	has_line(t, "ainftp_job_chunk_latency_seconds_count{ainftp_job=\"7\"} 4");
	/* Its parts are not families of their own. */
	lacks(t, "ainftp_job_chunk_latency_count");
	lacks(t, "ainftp_job_chunk_latency_le_us");
	free(t);

	/* One count short of the bounds: not a histogram, and nothing made up. */
	o = json_pack("{s:[{s:i,s:{s:[i,i],s:[i,i],s:i,s:f}}]}", "jobs", "id", 7, "chunk_latency",
		      "le_us", 8, 16, "counts", 1, 2, "count", 3, "sum_ms", 1.0);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(ainftp_prom_render(o, &text, &len), 0);
	lacks(text, "chunk_latency");
	free(text);
	json_decref(o);
}
END_TEST

START_TEST(not_an_object)
{
	json_t *a = json_array();
	char *text;
	size_t len;

	/* Nothing to say is an empty page, not an error. */
	ck_assert_int_eq(ainftp_prom_render(a, &text, &len), 0);
	ck_assert_uint_eq(len, 0);
	free(text);
	json_decref(a);
}
END_TEST

/* ------------------------------------------------------------ the server */

static json_t *
source(void *arg)
{
	(void)arg;
	return stats_load();
}

struct server {
	struct ainftp_prom *p;
	pthread_t th;
	uint16_t port;
};

static void
server_start(struct server *s)
{
	char err[256];

	s->p = ainftp_prom_open(htonl(INADDR_LOOPBACK), 0, source, NULL, err, sizeof(err));
	ck_assert_msg(s->p != NULL, "%s", err);
	s->port = ainftp_prom_port(s->p);
	ck_assert_uint_ne(s->port, 0);
	ck_assert_int_eq(pthread_create(&s->th, NULL, ainftp_prom_serve, s->p), 0);
}

static void
server_stop(struct server *s)
{
	ainftp_prom_stop(s->p);
	ck_assert_int_eq(pthread_join(s->th, NULL), 0);
	ainftp_prom_close(s->p);
}

static int
connect_to(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Sends req, reads the whole answer (the server closes); a malloc'd string. */
static char *
request(uint16_t port, const char *req)
{
	int fd = connect_to(port);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	while ((r = recv(fd, buf + n, cap - 1 - n, 0)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
	return buf;
}

START_TEST(serves_metrics)
{
	struct server s;
	char *a, *want = render(), *body;

	server_start(&s);
	a = request(s.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "Content-Type: text/plain; version=0.0.4"));
	body = strstr(a, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	ck_assert_str_eq(body + 4, want);
	free(a);
	/* A query string does not matter; HEAD has the head only. */
	a = request(s.port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", a);
	free(a);
	a = request(s.port, "HEAD /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", a);
	ck_assert_str_eq(strstr(a, "\r\n\r\n"), "\r\n\r\n");
	free(a);
	ck_assert_uint_eq(ainftp_prom_scrapes(s.p), 3);
	ck_assert_uint_eq(ainftp_prom_refused(s.p), 0);
	server_stop(&s);
	free(want);
}
END_TEST

START_TEST(refuses_the_rest)
{
	struct server s;
	char *a, big[4096];

	server_start(&s);
	a = request(s.port, "GET /other HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.0 404 ", 13) == 0, "%s", a);
	free(a);
	a = request(s.port, "POST /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.0 405 ", 13) == 0, "%s", a);
	free(a);
	a = request(s.port, "\x01\x02garbage\r\n\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.0 400 ", 13) == 0, "%s", a);
	free(a);
	/* A head longer than the server reads: refused, not overflowed. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET /", 5);
	a = request(s.port, big);
	ck_assert_msg(strncmp(a, "HTTP/1.0 400 ", 13) == 0, "%s", a);
	free(a);
	ck_assert_uint_eq(ainftp_prom_refused(s.p), 4);
	ck_assert_uint_eq(ainftp_prom_scrapes(s.p), 0);
	server_stop(&s);
}
END_TEST

/* A client that connects and says nothing delays the next scrape; it does not stop it. */
START_TEST(silent_client)
{
	struct server s;
	int idle;
	char *a;

	server_start(&s);
	idle = connect_to(s.port);
	a = request(s.port, "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(a, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", a);
	free(a);
	/* The silent one was given up on with a 400. */
	ck_assert_uint_eq(ainftp_prom_refused(s.p), 1);
	close(idle);
	server_stop(&s);
}
END_TEST

START_TEST(port_taken)
{
	struct server s;
	char err[256];
	struct ainftp_prom *p;

	server_start(&s);
	p = ainftp_prom_open(htonl(INADDR_LOOPBACK), s.port, source, NULL, err, sizeof(err));
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err, "cannot listen on 127.0.0.1:") != NULL, "%s", err);
	server_stop(&s);
}
END_TEST

static Suite *
prom_suite(void)
{
	Suite *s = suite_create("prom");
	TCase *render_tc = tcase_create("render"), *serve = tcase_create("serve");

	tcase_add_test(render_tc, names_types_units);
	tcase_add_test(render_tc, well_formed);
	tcase_add_test(render_tc, not_an_object);
	tcase_add_test(render_tc, build_info);
	tcase_add_test(render_tc, histogram);
	tcase_add_test(serve, serves_metrics);
	tcase_add_test(serve, refuses_the_rest);
	tcase_add_test(serve, silent_client);
	tcase_add_test(serve, port_taken);
	tcase_set_timeout(serve, 30);
	suite_add_tcase(s, render_tc);
	suite_add_tcase(s, serve);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(prom_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
