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

struct family {
	char name[128];
	bool counter;
};

struct sample {
	unsigned int family;
	char *labels; /* {a="b",...}, or "" */
	char value[40];
};

struct render {
	struct family *fam;
	unsigned int n_fam, cap_fam;
	struct sample *smp;
	unsigned int n_smp, cap_smp;
	bool oom;
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
family_find(struct render *r, const char *name, bool counter)
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
	r->fam[r->n_fam].counter = counter;
	return (int)r->n_fam++;
}

/* One sample of family `name`; labels and value are copied. */
static void
add(struct render *r, const char *name, bool counter, const char *labels, const char *value)
{
	int f;

	if (r->oom)
		return;
	f = family_find(r, name, counter);
	if (f < 0)
		goto oom;
	if (r->n_smp == r->cap_smp) {
		unsigned int cap = r->cap_smp ? 2 * r->cap_smp : 128;
		struct sample *s = realloc(r->smp, cap * sizeof(*s));

		if (s == NULL)
			goto oom;
		r->smp = s;
		r->cap_smp = cap;
	}
	r->smp[r->n_smp].labels = strdup(labels);
	if (r->smp[r->n_smp].labels == NULL)
		goto oom;
	r->smp[r->n_smp].family = (unsigned int)f;
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
 * "rtt_seconds" scaled by 1e-6 (and "_ms" by 1e-3). Negative times mean
 * "never" in the stats line: no sample.
 */
static double
unit_of(const char *key, char *base, size_t len)
{
	size_t n = strlen(key);

	snprintf(base, len, "%s", key);
	if (n > 3 && strcmp(key + n - 3, "_us") == 0) {
		snprintf(base + n - 3, len - (n - 3), "_seconds");
		return 1e-6;
	}
	if (n > 3 && strcmp(key + n - 3, "_ms") == 0) {
		snprintf(base + n - 3, len - (n - 3), "_seconds");
		return 1e-3;
	}
	if (n > 2 && strcmp(key + n - 2, "_s") == 0) {
		snprintf(base + n - 2, len - (n - 2), "_seconds");
		return 1.0;
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
		if (!number_str(v, 1.0, val, sizeof(val)))
			continue;
		if (strcmp(key, "drops") == 0) {
			/* Drop reasons are values of one label, so a sum over them works. */
			snprintf(name, sizeof(name), PREFIX "%s_drops_total", sec->family);
			labels_of(sec, el, "reason", k, labels, sizeof(labels));
		} else {
			snprintf(name, sizeof(name), PREFIX "%s_%s_%s_total", sec->family, key, k);
			labels_of(sec, el, NULL, NULL, labels, sizeof(labels));
		}
		add(r, name, true, labels, val);
	}
}

static void
render_field(struct render *r, const struct section *sec, const json_t *el, const char *key,
	     const json_t *v)
{
	char name[128], base[96], labels[512], val[40];
	double scale;
	bool counter;

	if (listed(sec->labels, key) || listed(sec->skip, key))
		return;
	if (json_is_object(v)) {
		render_object(r, sec, el, key, v);
		return;
	}
	if (json_is_string(v)) {
		/* A state: one sample, the state a label, value 1. */
		snprintf(name, sizeof(name), PREFIX "%s_%s", sec->family, key);
		labels_of(sec, el, key, json_string_value(v), labels, sizeof(labels));
		add(r, name, false, labels, "1");
		return;
	}
	if (json_is_boolean(v)) {
		snprintf(name, sizeof(name), PREFIX "%s_%s", sec->family, key);
		labels_of(sec, el, NULL, NULL, labels, sizeof(labels));
		add(r, name, false, labels, json_is_true(v) ? "1" : "0");
		return;
	}
	scale = unit_of(key, base, sizeof(base));
	if (!json_is_number(v) || (scale != 1.0 && json_number_value(v) < 0))
		return;
	counter = json_is_integer(v) && scale == 1.0 &&
		  (sec->ints_are_counters ? !listed(sec->gauges, key) : listed(sec->counters, key));
	snprintf(name, sizeof(name), PREFIX "%s_%s%s", sec->family, base, counter ? "_total" : "");
	labels_of(sec, el, NULL, NULL, labels, sizeof(labels));
	number_str(v, scale, val, sizeof(val));
	add(r, name, counter, labels, val);
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

/* Top-level numbers (uptime_s): gauges without labels. */
static void
render_top(struct render *r, const json_t *stats)
{
	const char *key;
	const json_t *v;
	char name[128], base[96], val[40];

	json_object_foreach((json_t *)stats, key, v)
	{
		double scale;

		if (!json_is_number(v))
			continue;
		scale = unit_of(key, base, sizeof(base));
		snprintf(name, sizeof(name), PREFIX "%s", base);
		number_str(v, scale, val, sizeof(val));
		add(r, name, false, "", val);
	}
}

/* Every family's TYPE line, then its samples together, as the format requires. */
static int
render_emit(const struct render *r, char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);
	unsigned int i, j;

	if (f == NULL)
		return -1;
	for (i = 0; i < r->n_fam; i++) {
		fprintf(f, "# TYPE %s %s\n", r->fam[i].name,
			r->fam[i].counter ? "counter" : "gauge");
		for (j = 0; j < r->n_smp; j++)
			if (r->smp[j].family == i)
				fprintf(f, "%s%s %s\n", r->fam[i].name, r->smp[j].labels,
					r->smp[j].value);
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
