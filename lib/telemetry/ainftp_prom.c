/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ainftp_prom.h"

#define POLL_MS 200	 /* how soon the server sees a stop request */
#define READ_TIMEOUT_S 1 /* a client that says nothing holds the server this long */
#define REQUEST_MAX 2048 /* request line and headers; more is refused */
#define PREFIX "ainftp_"

/* ------------------------------------------------------------ rendering */

/*
 * How one array of the stats object becomes metric families: which fields are
 * labels, which are left out (names and sums the scraper derives), and, for
 * integers, whether a field counts up (a counter, "_total") or goes both ways.
 */
struct section {
	const char *key;	   /* the array in the stats object */
	const char *family;	   /* "port" gives ainftp_port_<field> */
	const char *const *labels; /* fields that label every sample, in this order */
	const char *const *skip;
	const char *const *gauges;   /* integers that are not counters */
	const char *const *counters; /* where integers are gauges unless listed here */
	bool ints_are_counters;
};

static const char *const port_labels[] = {"port", "name", NULL};
static const char *const port_skip[] = {"drops_total", "mac", "socket", NULL};
static const char *const port_gauges[] = {"rx_queues", "tx_queues", "unaccounted", NULL};
static const char *const lcore_labels[] = {"lcore", "role", NULL};
static const char *const lcore_skip[] = {"drops_total", NULL};
static const char *const lcore_gauges[] = {"unaccounted", NULL};
/* "job" is the label Prometheus gives every scraped series (the scrape job's name): ours
 * would be renamed exported_job, so a job's id is "ainftp_job", in both sections. */
static const char *const worker_labels[] = {"job>ainftp_job", "id", "ipv4", NULL};
/* What only grows; the rest (rank, RTT, suspicion, the quarantined flag...) are gauges. */
static const char *const worker_counters[] = {
	"heartbeats_sent", "acks",  "sentry_seen", "sentry_flagged", "quarantines", "readmits",
	"contributions",   "drops", "downranked",  "rejoined",	     NULL};
static const char *const job_labels[] = {"id>ainftp_job", NULL};
/* The sink is one object: its backend in use is a label, its path not a metric. */
static const char *const sink_skip[] = {"path", NULL};
static const char *const sink_counters[] = {"written", "fallbacks", NULL};
static const char *const none[] = {NULL};

static const struct section sections[] = {
	{"ports", "port", port_labels, port_skip, port_gauges, none, true},
	{"lcores", "lcore", lcore_labels, lcore_skip, lcore_gauges, none, true},
	{"workers", "worker", worker_labels, none, none, worker_counters, false},
	{"jobs", "job", job_labels, none, none, none, false},
	{"sink", "sink", none, sink_skip, none, sink_counters, false},
};

/*
 * Where a stats key does not make a Prometheus name by itself (a unit that is
 * only implied, a DPDK abbreviation), the name it takes; units (_us, _ms, _s)
 * and "_pkts" are mapped by rule (unit_of). The JSON keys stay as they are:
 * the stats line has consumers of its own.
 */
static const struct rename {
	const char *family; /* NULL: any */
	const char *key;
	const char *name;
} renames[] = {
	{"worker", "loss", "loss_ratio"},   {NULL, "unaccounted", "unaccounted_packets"},
	{"sink", "bytes", "arena_bytes"},   {"port", "ipackets", "rx_packets"},
	{"port", "opackets", "tx_packets"}, {"port", "imissed", "rx_missed_packets"},
	{"port", "ierrors", "rx_errors"},   {"port", "oerrors", "tx_errors"},
};

/*
 * Each family's HELP, by section family (NULL: any) and stats key. A key not
 * here still gets one naming where it comes from ("stats line field ...");
 * tests/test_metrics.sh fails on such a line on a live page, so a new key
 * comes with its words.
 */
static const struct help {
	const char *family;
	const char *key;
	const char *text;
} helps[] = {
	{NULL, "rx_pkts", "Frames received"},
	{NULL, "rx_bytes", "Bytes received"},
	{NULL, "tx_pkts", "Frames sent"},
	{NULL, "tx_bytes", "Bytes sent"},
	{NULL, "arp_replies", "ARP requests for the appliance answered"},
	{NULL, "icmp_replies", "ICMP echo requests answered"},
	{NULL, "arp_learnt", "ARP replies and announcements for the appliance learnt from"},
	{NULL, "data_pkts", "Contributions (DATA) summed"},
	{NULL, "data_answered", "DATA of a completed chunk answered with its kept result"},
	{NULL, "chunks_done", "Chunks completed: results made"},
	{NULL, "chunks_partial", "Chunks completed without every worker of the job"},
	{NULL, "chunks_abandoned",
	 "Partial sums dropped because every worker in them moved on, or a worker's process "
	 "restarted"},
	{NULL, "chunks_early", "Chunks completed without a worker that moved to a later step"},
	{NULL, "probes", "PROBEs answered"},
	{NULL, "states_sent", "STATEs sent: where a slot is, to a worker off its pace"},
	{NULL, "hellos", "HELLOs answered with the job's HELLO_ACK"},
	{NULL, "results_sent", "Result copies sent, one per worker"},
	{NULL, "results_resent", "Kept results sent again to a worker that retransmitted"},
	{NULL, "overflows", "Results flagged overflow: exponents spread too far"},
	{"worker", "heartbeats_sent", "HEARTBEATs sent to the worker"},
	{NULL, "heartbeats_sent", "HEARTBEATs the control lcore sent"},
	{NULL, "heartbeat_acks", "HEARTBEAT_ACKs checked and handed to the control lcore"},
	{NULL, "spine_results", "A leaf's: results taken from its spine"},
	{NULL, "spine_heartbeats", "A leaf's: HEARTBEATs of its spine answered"},
	{NULL, "spine_states", "A leaf's: STATEs of its spine about its partial sums"},
	{NULL, "unaccounted",
	 "Frames received in no outcome or in two: 0 unless the data path miscounts"},
	{"worker", "drops", "The worker's packets refused"},
	{NULL, "drops", "Frames dropped, by reason"},
	{NULL, "rx_queues", "RX queues of the port"},
	{NULL, "tx_queues", "TX queues of the port"},
	{NULL, "ipackets", "Frames the device received (rte_eth_stats ipackets)"},
	{NULL, "opackets", "Frames the device sent (rte_eth_stats opackets)"},
	{NULL, "imissed", "Frames the device dropped for want of room (rte_eth_stats imissed)"},
	{NULL, "ierrors", "Erroneous frames the device received (rte_eth_stats ierrors)"},
	{NULL, "oerrors", "Frames the device failed to send (rte_eth_stats oerrors)"},
	{NULL, "rx_nombuf", "RX mbuf allocation failures (rte_eth_stats rx_nombuf)"},
	{NULL, "loops", "Polling iterations of the lcore"},
	{NULL, "busy_loops", "Polling iterations that received something"},
	{NULL, "idle_sleeps",
	 "Sleeps of idle mode (--idle-us): polls that found nothing 1024 times in a row"},
	{NULL, "state", "The worker's heartbeat state (up, silent, unknown): 1 for its state"},
	{NULL, "rtt_us", "The worker's heartbeat round-trip time"},
	{NULL, "jitter_us", "The jitter of the worker's heartbeat round-trip time"},
	{NULL, "loss", "Heartbeats lost, over the last ones whose acks are due (0..1)"},
	{NULL, "last_seen_ms", "Time since the worker's last heartbeat ack"},
	{NULL, "acks", "HEARTBEAT_ACKs from the worker"},
	{NULL, "rank", "The worker's rank in the job's straggler ranking"},
	{NULL, "in_quorum", "1 while the worker is in the job's quorum"},
	{NULL, "lag_ms", "The worker's lateness, as the straggler ranking sees it"},
	{NULL, "downranked", "Times the worker left the quorum"},
	{NULL, "rejoined", "Times the worker rejoined the quorum"},
	{NULL, "out_reason", "Why the worker is out of the quorum: 1 for the reason"},
	{NULL, "join_step", "The first step the worker is required for"},
	{NULL, "suspicion", "The sentry's job-wide suspicion score of the worker"},
	{NULL, "quarantined", "1 while the sentry quarantines the worker"},
	{NULL, "sentry_seen", "The worker's contributions the sentry judged"},
	{NULL, "sentry_flagged", "The worker's contributions the sentry flagged"},
	{NULL, "quarantines", "Times the sentry quarantined the worker"},
	{NULL, "readmits", "Times an operator readmitted the worker"},
	{NULL, "contributions", "The worker's contributions in a result"},
	{"job", "workers", "Workers of the job"},
	{NULL, "min_quorum", "The fewest contributors a result may have"},
	{NULL, "threshold_ms", "The job's straggler threshold"},
	{NULL, "sentry", "The job's sentry rule: 1 for it"},
	{NULL, "quorum_version", "Quorum snapshots published for the job"},
	{NULL, "quorum_size", "Workers in the job's quorum"},
	{NULL, "max_step", "The highest step of a chunk started"},
	{NULL, "partial_wait_max_ms",
	 "The longest wait from a chunk's first contribution to a partial result"},
	{NULL, "chunk_latency",
	 "Chunk completion latency: from a slot's first accepted contribution to its result"},
	{NULL, "backend", "The result sink's backend in use: 1 for it"},
	{NULL, "requested", "The result sink's backend asked for: 1 for it"},
	{NULL, "bytes", "Size of the result sink's arena"},
	{NULL, "written", "Results put into the sink's arena"},
	{NULL, "fallbacks", "1 when the sink fell back from the backend asked for"},
	{NULL, "uptime_s", "Time since the appliance started"},
	{NULL, "start_time_s", "When the appliance started, unix time"},
	{NULL, "build_info", "The appliance's version, as labels of a constant 1"},
};

enum kind { GAUGE, COUNTER, HISTOGRAM };

static const char *const kind_names[] = {"gauge", "counter", "histogram"};

struct family {
	char name[128];
	char help[160];
	enum kind kind;
};

struct sample {
	unsigned int family;
	const char *suffix; /* "", or a histogram's "_bucket", "_sum", "_count" */
	char *labels;	    /* {a="b",...}, or "" */
	char value[40];
};

struct render {
	struct family *fam;
	unsigned int n_fam, cap_fam;
	struct sample *smp;
	unsigned int n_smp, cap_smp;
	bool oom;
};

/* Where a sample comes from: the section's family ("port"; "" at the top) and the key. */
struct origin {
	const char *family;
	const char *key;
};

static bool
listed(const char *const *list, const char *key)
{
	for (; *list != NULL; list++) {
		size_t n = strcspn(*list, ">"); /* a label spec's field (label_name) */

		if (strncmp(*list, key, n) == 0 && key[n] == '\0')
			return true;
	}
	return false;
}

static bool
origin_is(const char *want_family, const char *want_key, struct origin o)
{
	return (want_family == NULL || strcmp(want_family, o.family) == 0) &&
	       strcmp(want_key, o.key) == 0;
}

/* The name a key takes before units are mapped: renames[], or the key itself. */
static const char *
renamed(struct origin o)
{
	size_t i;

	for (i = 0; i < sizeof(renames) / sizeof(renames[0]); i++)
		if (origin_is(renames[i].family, renames[i].key, o))
			return renames[i].name;
	return o.key;
}

static void
help_of(struct origin o, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (origin_is(helps[i].family, helps[i].key, o)) {
			snprintf(buf, len, "%s", helps[i].text);
			return;
		}
	snprintf(buf, len, "stats line field %s%s%s", o.family, *o.family ? "." : "", o.key);
}

/* Metric names allow [a-zA-Z0-9_:]; the stats' keys are snake_case, but be sure. */
static void
name_clean(char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
			*s = '_';
}

static int
family_find(struct render *r, const char *name, enum kind kind, struct origin o)
{
	unsigned int i;

	for (i = 0; i < r->n_fam; i++)
		if (strcmp(r->fam[i].name, name) == 0)
			return (int)i;
	if (r->n_fam == r->cap_fam) {
		unsigned int cap = r->cap_fam ? 2 * r->cap_fam : 32;
		struct family *f = realloc(r->fam, cap * sizeof(*f));

		if (f == NULL)
			return -1;
		r->fam = f;
		r->cap_fam = cap;
	}
	snprintf(r->fam[r->n_fam].name, sizeof(r->fam[0].name), "%s", name);
	name_clean(r->fam[r->n_fam].name);
	help_of(o, r->fam[r->n_fam].help, sizeof(r->fam[0].help));
	r->fam[r->n_fam].kind = kind;
	return (int)r->n_fam++;
}

/* One sample of family `name` (its series name: name + suffix); labels and value are copied. */
static void
add(struct render *r, const char *name, enum kind kind, struct origin o, const char *suffix,
    const char *labels, const char *value)
{
	int f;

	if (r->oom)
		return;
	f = family_find(r, name, kind, o);
	if (f < 0)
		goto oom;
	if (r->n_smp == r->cap_smp) {
		unsigned int cap = r->cap_smp ? 2 * r->cap_smp : 128;
		struct sample *smp = realloc(r->smp, cap * sizeof(*smp));

		if (smp == NULL)
			goto oom;
		r->smp = smp;
		r->cap_smp = cap;
	}
	r->smp[r->n_smp].labels = strdup(labels);
	if (r->smp[r->n_smp].labels == NULL)
		goto oom;
	r->smp[r->n_smp].family = (unsigned int)f;
	r->smp[r->n_smp].suffix = suffix;
	snprintf(r->smp[r->n_smp].value, sizeof(r->smp[0].value), "%s", value);
	r->n_smp++;
	return;
oom:
	r->oom = true;
}

/* A JSON number as Prometheus writes it; false for anything else. */
static bool
number_str(const json_t *v, double scale, char *out, size_t len)
{
	double d;

	if (json_is_integer(v) && scale == 1.0) {
		snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return true;
	}
	if (!json_is_number(v))
		return false;
	d = json_number_value(v) * scale;
	if (isnan(d))
		snprintf(out, len, "NaN");
	else if (isinf(d))
		snprintf(out, len, d > 0 ? "+Inf" : "-Inf");
	else
		snprintf(out, len, "%.17g", d);
	return true;
}

/* Label values escape backslash, double quote and newline. */
static void
label_append(char *buf, size_t len, const char *key, const char *value)
{
	size_t n = strlen(buf);

	if (n + 1 >= len)
		return;
	n += (size_t)snprintf(buf + n, len - n, "%s%s=\"", n > 1 ? "," : "", key);
	for (; *value != '\0' && n + 3 < len; value++) {
		if (*value == '\\' || *value == '"')
			buf[n++] = '\\';
		if (*value == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
			continue;
		}
		buf[n++] = *value;
	}
	if (n + 2 < len) {
		buf[n++] = '"';
		buf[n] = '\0';
	}
}

/* {labels} of one element of a section, with an extra label when extra_key is set. */
/* A label spec is "field" or "field>name" (the field's value under another label name). */
static const char *
label_name(const char *spec)
{
	const char *gt = strchr(spec, '>');

	return gt != NULL ? gt + 1 : spec;
}

static void
labels_of(const struct section *sec, const json_t *o, const char *extra_key,
	  const char *extra_value, char *buf, size_t len)
{
	const char *const *k;
	char v[64];

	snprintf(buf, len, "{");
	for (k = sec->labels; *k != NULL; k++) {
		const char *name = label_name(*k);
		char field[32];
		const json_t *x;

		snprintf(field, sizeof(field), "%.*s", (int)strcspn(*k, ">"), *k);
		x = json_object_get(o, field);
		if (json_is_string(x))
			label_append(buf, len, name, json_string_value(x));
		else if (number_str(x, 1.0, v, sizeof(v)))
			label_append(buf, len, name, v);
	}
	if (extra_key != NULL)
		label_append(buf, len, extra_key, extra_value);
	if (strlen(buf) == 1)
		buf[0] = '\0';
	else
		snprintf(buf + strlen(buf), len - strlen(buf), "}");
}

/*
 * Units: Prometheus wants base units, so a field "rtt_us" becomes
 * "rtt_seconds" scaled by 1e-6 (and "_ms" by 1e-3), and spelt out: "_pkts"
 * becomes "_packets". Negative times mean "never" in the stats line: no
 * sample. key is the name after renames[].
 */
static double
unit_of(const char *key, char *base, size_t len)
{
	static const struct {
		const char *suffix, *base;
		double scale;
	} units[] = {
		{"_us", "_seconds", 1e-6},
		{"_ms", "_seconds", 1e-3},
		{"_s", "_seconds", 1.0},
		{"_pkts", "_packets", 1.0},
	};
	size_t n = strlen(key), i;

	snprintf(base, len, "%s", key);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t m = strlen(units[i].suffix);

		if (n > m && strcmp(key + n - m, units[i].suffix) == 0) {
			snprintf(base + n - m, len - (n - m), "%s", units[i].base);
			return units[i].scale;
		}
	}
	return 1.0;
}

/* Object-valued fields (drops, device) become one family with the key as a label. */
static void
render_object(struct render *r, const struct section *sec, const json_t *el, const char *key,
	      const json_t *obj)
{
	const char *k;
	const json_t *v;
	char name[128], labels[512], val[40];

	json_object_foreach((json_t *)obj, k, v)
	{
		struct origin o = {sec->family, k};

		if (!number_str(v, 1.0, val, sizeof(val)))
			continue;
		if (strcmp(key, "drops") == 0) {
			/* Drop reasons are values of one label, so a sum over them works. */
			o.key = key;
			snprintf(name, sizeof(name), PREFIX "%s_drops_total", sec->family);
			labels_of(sec, el, "reason", k, labels, sizeof(labels));
		} else {
			snprintf(name, sizeof(name), PREFIX "%s_%s_%s_total", sec->family, key,
				 renamed(o));
			labels_of(sec, el, NULL, NULL, labels, sizeof(labels));
		}
		add(r, name, COUNTER, o, "", labels, val);
	}
}

/*
 * A histogram of the stats line ({"le_us": [bounds], "counts": [one more],
 * "count", "sum_ms"}, each bucket its own count) as Prometheus has it:
 * cumulative buckets in seconds, "+Inf" the count, _sum and _count. False
 * for an object without "le_us" (not a histogram); one with it but of another
 * shape renders nothing rather than figures made up.
 */
static bool
render_histogram(struct render *r, const struct section *sec, const json_t *el, const char *key,
		 const json_t *h)
{
	const json_t *le = json_object_get(h, "le_us"), *counts = json_object_get(h, "counts");
	const json_t *sum = json_object_get(h, "sum_ms");
	struct origin o = {sec->family, key};
	char name[128], labels[512], val[40], bound[40];
	json_int_t total = 0;
	size_t i;

	if (le == NULL)
		return false;
	if (!json_is_array(le) || !json_is_array(counts) || !json_is_number(sum) ||
	    json_array_size(counts) != json_array_size(le) + 1)
		return true;
	snprintf(name, sizeof(name), PREFIX "%s_%s_seconds", sec->family, key);
	for (i = 0; i < json_array_size(counts); i++) {
		const json_t *c = json_array_get(counts, i);

		if (!json_is_integer(c) ||
		    (i < json_array_size(le) && !json_is_number(json_array_get(le, i))))
			return true;
	}
	for (i = 0; i < json_array_size(counts); i++) {
		total += json_integer_value(json_array_get(counts, i));
		if (i < json_array_size(le))
			snprintf(bound, sizeof(bound), "%.12g",
				 json_number_value(json_array_get(le, i)) * 1e-6);
		else
			snprintf(bound, sizeof(bound), "+Inf");
		labels_of(sec, el, "le", bound, labels, sizeof(labels));
		snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, total);
		add(r, name, HISTOGRAM, o, "_bucket", labels, val);
	}
	labels_of(sec, el, NULL, NULL, labels, sizeof(labels));
	number_str(sum, 1e-3, val, sizeof(val));
	add(r, name, HISTOGRAM, o, "_sum", labels, val);
	snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, total);
	add(r, name, HISTOGRAM, o, "_count", labels, val);
	return true;
}

static void
render_field(struct render *r, const struct section *sec, const json_t *el, const char *key,
	     const json_t *v)
{
	struct origin o = {sec->family, key};
	char name[128], base[96], labels[512], val[40];
	double scale;
	bool counter, is_time;

	if (listed(sec->labels, key) || listed(sec->skip, key))
		return;
	if (json_is_object(v)) {
		if (!render_histogram(r, sec, el, key, v))
			render_object(r, sec, el, key, v);
		return;
	}
	if (json_is_string(v)) {
		/* A state: one sample, the state a label, value 1. */
		snprintf(name, sizeof(name), PREFIX "%s_%s", sec->family, key);
		labels_of(sec, el, key, json_string_value(v), labels, sizeof(labels));
		add(r, name, GAUGE, o, "", labels, "1");
		return;
	}
	if (json_is_boolean(v)) {
		snprintf(name, sizeof(name), PREFIX "%s_%s", sec->family, key);
		labels_of(sec, el, NULL, NULL, labels, sizeof(labels));
		add(r, name, GAUGE, o, "", labels, json_is_true(v) ? "1" : "0");
		return;
	}
	scale = unit_of(renamed(o), base, sizeof(base));
	is_time = strstr(base, "_seconds") != NULL;
	if (!json_is_number(v) || (is_time && json_number_value(v) < 0))
		return;
	counter = json_is_integer(v) && !is_time &&
		  (sec->ints_are_counters ? !listed(sec->gauges, key) : listed(sec->counters, key));
	snprintf(name, sizeof(name), PREFIX "%s_%s%s", sec->family, base, counter ? "_total" : "");
	labels_of(sec, el, NULL, NULL, labels, sizeof(labels));
	number_str(v, scale, val, sizeof(val));
	add(r, name, counter ? COUNTER : GAUGE, o, "", labels, val);
}

static void
render_element(struct render *r, const struct section *sec, const json_t *el)
{
	const char *key;
	const json_t *v;

	if (json_is_object(el))
		json_object_foreach((json_t *)el, key, v) render_field(r, sec, el, key, v);
}

/* An array of elements (ports, workers...), or one object (the sink). */
static void
render_section(struct render *r, const struct section *sec, const json_t *arr)
{
	size_t i;
	const json_t *el;

	if (json_is_object(arr)) {
		render_element(r, sec, arr);
		return;
	}
	json_array_foreach((json_t *)arr, i, el) render_element(r, sec, el);
}

/*
 * What this build is, as Prometheus' own build_info: a constant 1 whose
 * labels are the facts (the renderer's version is the binary's).
 */
static void
render_build_info(struct render *r)
{
	struct origin o = {"", "build_info"};
	char labels[128] = "{";

	label_append(labels, sizeof(labels), "version", AINFTP_VERSION);
	strcat(labels, "}");
	add(r, PREFIX "build_info", GAUGE, o, "", labels, "1");
}

/* Top-level numbers (uptime_s, start_time_s): gauges without labels. */
static void
render_top(struct render *r, const json_t *stats)
{
	const char *key;
	const json_t *v;
	char name[128], base[96], val[40];

	json_object_foreach((json_t *)stats, key, v)
	{
		struct origin o = {"", key};
		double scale;

		if (!json_is_number(v))
			continue;
		scale = unit_of(key, base, sizeof(base));
		snprintf(name, sizeof(name), PREFIX "%s", base);
		number_str(v, scale, val, sizeof(val));
		add(r, name, GAUGE, o, "", "", val);
	}
}

/* HELP text escapes backslash and newline (the format's rule for it). */
static void
help_print(FILE *f, const char *help)
{
	for (; *help != '\0'; help++) {
		if (*help == '\\')
			fputs("\\\\", f);
		else if (*help == '\n')
			fputs("\\n", f);
		else
			fputc(*help, f);
	}
}

/* Every family's HELP and TYPE lines, then its samples together, as the format requires. */
static int
render_emit(const struct render *r, char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);
	unsigned int i, j;

	if (f == NULL)
		return -1;
	for (i = 0; i < r->n_fam; i++) {
		fprintf(f, "# HELP %s ", r->fam[i].name);
		help_print(f, r->fam[i].help);
		fprintf(f, "\n# TYPE %s %s\n", r->fam[i].name, kind_names[r->fam[i].kind]);
		for (j = 0; j < r->n_smp; j++)
			if (r->smp[j].family == i)
				fprintf(f, "%s%s%s %s\n", r->fam[i].name, r->smp[j].suffix,
					r->smp[j].labels, r->smp[j].value);
	}
	return fclose(f) == 0 ? 0 : -1;
}

int
ainftp_prom_render(const json_t *stats, char **text, size_t *len)
{
	struct render r = {0};
	unsigned int i;
	int ret = -1;

	*text = NULL;
	*len = 0;
	if (json_is_object(stats)) {
		render_build_info(&r);
		render_top(&r, stats);
		for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
			const json_t *arr = json_object_get(stats, sections[i].key);

			if (arr != NULL)
				render_section(&r, &sections[i], arr);
		}
	}
	if (!r.oom)
		ret = render_emit(&r, text, len);
	for (i = 0; i < r.n_smp; i++)
		free(r.smp[i].labels);
	free(r.smp);
	free(r.fam);
	if (ret != 0) {
		free(*text);
		*text = NULL;
		*len = 0;
	}
	return ret;
}

/* ------------------------------------------------------------ serving */

struct ainftp_prom {
	int fd;
	uint16_t port;
	ainftp_prom_source source;
	void *arg;
	atomic_bool stop;
	atomic_uint_fast64_t scrapes, refused;
};

struct ainftp_prom *
ainftp_prom_open(uint32_t ipv4, uint16_t port, ainftp_prom_source source, void *arg, char *err,
		 size_t errlen)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = ipv4};
	socklen_t sl = sizeof(sa);
	char addr[INET_ADDRSTRLEN];
	struct ainftp_prom *p;
	int one = 1;

	inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
	if (source == NULL) {
		snprintf(err, errlen, "metrics: no stats source");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	p->source = source;
	p->arg = arg;
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->fd < 0 || setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(p->fd, 16) < 0 ||
	    getsockname(p->fd, (struct sockaddr *)&sa, &sl) < 0) {
		snprintf(err, errlen, "metrics: cannot listen on %s:%u: %s", addr, port,
			 strerror(errno));
		if (p->fd >= 0)
			close(p->fd);
		free(p);
		return NULL;
	}
	p->port = ntohs(sa.sin_port);
	return p;
}

uint16_t
ainftp_prom_port(const struct ainftp_prom *p)
{
	return p->port;
}

uint64_t
ainftp_prom_scrapes(const struct ainftp_prom *p)
{
	return atomic_load(&((struct ainftp_prom *)p)->scrapes);
}

uint64_t
ainftp_prom_refused(const struct ainftp_prom *p)
{
	return atomic_load(&((struct ainftp_prom *)p)->refused);
}

static void
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the scraper went away: nothing to tell it */
		buf += n;
		len -= (size_t)n;
	}
}

static void
reply(struct ainftp_prom *p, int fd, const char *status, const char *type, const char *body,
      size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, len);

	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
	if (strncmp(status, "200", 3) != 0)
		atomic_fetch_add(&p->refused, 1);
}

static void
reply_error(struct ainftp_prom *p, int fd, const char *status, const char *why)
{
	reply(p, fd, status, "text/plain; charset=utf-8", why, strlen(why));
}

/* The request's head, up to the blank line; -1 when it is too long, cut or late. */
static int
read_head(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = recv(fd, buf + n, len - 1 - n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
			return 0;
	}
	return -1;
}

static void
answer(struct ainftp_prom *p, int fd)
{
	char req[REQUEST_MAX], method[16], path[256];
	struct timeval tv = {.tv_sec = READ_TIMEOUT_S};
	char *text;
	size_t len;
	json_t *stats;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_head(fd, req, sizeof(req)) < 0 ||
	    sscanf(req, "%15s %255s HTTP/1.%*1[01]", method, path) != 2) {
		reply_error(p, fd, "400 Bad Request", "expected: GET /metrics HTTP/1.x\n");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		reply_error(p, fd, "405 Method Not Allowed", "only GET /metrics\n");
		return;
	}
	/* A query string (some scrapers add one) does not change the answer. */
	path[strcspn(path, "?")] = '\0';
	if (strcmp(path, "/metrics") != 0) {
		reply_error(p, fd, "404 Not Found", "only /metrics is served here\n");
		return;
	}
	stats = p->source(p->arg);
	if (stats == NULL || ainftp_prom_render(stats, &text, &len) != 0) {
		json_decref(stats);
		reply_error(p, fd, "503 Service Unavailable", "no stats to serve\n");
		return;
	}
	json_decref(stats);
	reply(p, fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text,
	      strcmp(method, "HEAD") == 0 ? 0 : len);
	free(text);
	atomic_fetch_add(&p->scrapes, 1);
}

/*
 * Closing with unread bytes makes the kernel send a reset, which can destroy
 * the answer before the client reads it (an over-long request). So: end our
 * side, then read what the client still sends, briefly and boundedly.
 */
static void
linger_close(int fd)
{
	char sink[4096];
	size_t total = 0;
	ssize_t n;

	shutdown(fd, SHUT_WR);
	while (total < (1u << 16) && (n = recv(fd, sink, sizeof(sink), 0)) > 0)
		total += (size_t)n;
	close(fd);
}

void *
ainftp_prom_serve(void *prom)
{
	struct ainftp_prom *p = prom;
	struct pollfd pf = {.fd = p->fd, .events = POLLIN};

	while (!atomic_load(&p->stop)) {
		int fd;

		if (poll(&pf, 1, POLL_MS) <= 0)
			continue;
		fd = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* EAGAIN (another wake-up), or a connection reset first */
		answer(p, fd);
		linger_close(fd);
	}
	return NULL;
}

void
ainftp_prom_stop(struct ainftp_prom *p)
{
	if (p != NULL)
		atomic_store(&p->stop, true);
}

void
ainftp_prom_close(struct ainftp_prom *p)
{
	if (p == NULL)
		return;
	close(p->fd);
	free(p);
}
