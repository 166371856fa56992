/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-sink-write: a synthetic writer of the result arena, for measuring a
 * consumer past what emulated workers can produce (docs/SINK.md, "Rate"). It
 * makes the arena as the appliance does (ainftp_sink_open from a cluster.json
 * it writes itself: the real layout, file and owner words) and runs one writer
 * thread per RX lcore, each putting the known results of the slots its lane
 * owns (lib/sink/ainftp_sink_synth.h) with the data path's own calls
 * (ainftp_sink_put, then the backend's ring once per batch, as ainftp_dp_end
 * rings once per poll). No EAL: the host and cuda backends need none.
 *
 *   ainftp-sink-write ARENA --chunks N [--rx R] [--slots S] [--elems E]
 *       [--encoding int16|float32] [--workers W] [--cps C] [--rate R] [--batch B]
 *       [--backend host|cuda] [--go-file PATH] [--go-timeout-ms MS]
 *
 * Result i (0 <= i < N) is chunk i % C of step i / C, on slot chunk % S, owned
 * by lane slot % R, which writer thread R polls. --rate: results/s of all
 * writers together, result i due at i / rate s after the start (0: as fast as
 * they go). --go-file: make the arena, then wait for PATH to exist before the
 * first result (a consumer says it is ready). Prints the writers' results/s
 * and GB/s of payload. Exit 0, 1 on a failure to make the arena, 2 on usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ainftp_clock.h"
#include "ainftp_config.h"
#include "ainftp_opt.h"
#include "ainftp_sink_ops.h"
#include "ainftp_sink_synth.h"

#define PROG "ainftp-sink-write"
#define MAX_RX 16 /* lanes of one port (AINFTP_MAX_QUEUES) */
#define CONFIG_LEN 8192

struct args {
	const char *arena, *go_file, *backend;
	uint64_t chunks, rate;
	unsigned long long rx, slots, elems, workers, cps, batch, go_timeout_ms;
	bool int16;
};

struct writer {
	pthread_t th;
	const struct args *a;
	const struct ainftp_sink *s;
	const uint8_t *patterns; /* AINFTP_SYNTH_PATTERNS payloads */
	uint32_t r, len;
	uint64_t t0;
	uint64_t written;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " ARENA --chunks N [--rx R] [--slots S] [--elems E]\n"
		"       [--encoding int16|float32] [--workers W] [--cps C] [--rate R] [--batch B]\n"
		"       [--backend host|cuda] [--go-file PATH] [--go-timeout-ms MS]\n"
		"Makes a result arena as the appliance does and writes N known results into\n"
		"it, one writer thread per RX lane (man "
		"ainftp-sink-write).\n" AINFTP_OPT_STD_USAGE);
}

/* When result i is due (rate 0: at once). */
static uint64_t
due_ns(const struct writer *w, uint64_t i)
{
	return w->a->rate == 0 ? 0 : w->t0 + (uint64_t)((double)i * 1e9 / (double)w->a->rate);
}

/*
 * Waits until due: spins the last 20 us, sleeps before. A writer that spun between
 * results would take the CPU a reader on the same cores needs (at 1.5 M results/s
 * results are a microsecond apart, and it never sleeps).
 */
static void
pace(uint64_t due)
{
	uint64_t t;

	while ((t = ainftp_now_ns()) < due) {
		if (due - t > 20000) {
			struct timespec ts = {0, (long)(due - t - 20000)};

			nanosleep(&ts, NULL);
		}
	}
}

static void *
write_loop(void *arg)
{
	struct writer *w = arg;
	const struct args *a = w->a;
	uint32_t stride, enc = a->int16 ? 1 : 0, batch = 0;
	struct ainftp_sink_mark *entries = ainftp_sink_job_entries(w->s, 0, &stride);
	uint8_t *buf = malloc(w->len);
	uint64_t i;

	if (buf == NULL)
		return NULL;
	for (i = 0; i < a->chunks; i++) {
		uint32_t chunk = (uint32_t)(i % a->cps), slot = chunk % (uint32_t)a->slots;
		uint64_t seq = (i / a->cps) << 32 | chunk, bitmap;
		uint16_t count;
		int8_t exp;

		uint64_t due;

		if (slot % a->rx != w->r)
			continue;
		due = due_ns(w, i);
		/* Nothing due yet: the end of an RX lcore's poll, its doorbell rung. */
		if (batch != 0 && due != 0 && ainftp_now_ns() < due) {
			w->s->ops->ring(w->s, 0, (uint16_t)w->r, (uint32_t)w->written);
			batch = 0;
		}
		pace(due);
		ainftp_synth_payload_from(seq, enc,
					  w->patterns + (size_t)ainftp_synth_pattern(seq) * w->len,
					  w->len, buf);
		ainftp_synth_mark(seq, (uint32_t)a->workers, &bitmap, &count, &exp);
		ainftp_sink_put(
			w->s, (struct ainftp_sink_mark *)((char *)entries + (size_t)slot * stride),
			seq, buf, w->len, bitmap, count, a->int16 ? exp : 0, 0);
		w->written++;
		if (++batch == a->batch) {
			w->s->ops->ring(w->s, 0, (uint16_t)w->r, (uint32_t)w->written);
			batch = 0;
		}
	}
	if (batch != 0)
		w->s->ops->ring(w->s, 0, (uint16_t)w->r, (uint32_t)w->written);
	free(buf);
	return NULL;
}

static int
num(const char *opt, const char *v, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	return ainftp_opt_uint(PROG, opt, v, min, max, out);
}

/*
 * The options whose integer goes into an unsigned long long of struct args, with their
 * bounds. --chunks and --rate, uint64_t there, are parse_value's own.
 */
static const struct uint_opt {
	const char *name;
	unsigned long long min, max;
	size_t off;
} uint_opts[] = {
	{"--rx", 1, MAX_RX, offsetof(struct args, rx)},
	{"--slots", 1, 65536, offsetof(struct args, slots)},
	{"--elems", 2, 4096, offsetof(struct args, elems)},
	{"--workers", 1, 64, offsetof(struct args, workers)},
	{"--cps", 1, UINT32_MAX, offsetof(struct args, cps)},
	{"--batch", 1, 1024, offsetof(struct args, batch)},
	{"--go-timeout-ms", 1, 3600000, offsetof(struct args, go_timeout_ms)},
};

/* Option o's value val into a: 0, -1 after a message, 1 not an option of ours. */
static int
parse_value(struct args *a, const char *o, const char *val)
{
	unsigned long long v;
	size_t k;

	for (k = 0; k < sizeof(uint_opts) / sizeof(uint_opts[0]); k++)
		if (strcmp(o, uint_opts[k].name) == 0)
			return num(o, val, uint_opts[k].min, uint_opts[k].max,
				   (unsigned long long *)((char *)a + uint_opts[k].off));
	if (strcmp(o, "--chunks") == 0) {
		if (num(o, val, 1, UINT64_C(1) << 40, &v) < 0)
			return -1;
		a->chunks = v;
		return 0;
	}
	if (strcmp(o, "--rate") == 0) {
		if (num(o, val, 0, UINT64_C(1) << 34, &v) < 0)
			return -1;
		a->rate = v;
		return 0;
	}
	if (strcmp(o, "--go-file") == 0) {
		a->go_file = val;
		return 0;
	}
	if (strcmp(o, "--encoding") == 0) {
		if (strcmp(val, "int16") != 0 && strcmp(val, "float32") != 0) {
			fprintf(stderr, PROG ": --encoding: \"%s\" is not int16 or float32\n", val);
			return -1;
		}
		a->int16 = strcmp(val, "int16") == 0;
		return 0;
	}
	if (strcmp(o, "--backend") == 0) {
		if (strcmp(val, "host") != 0 && strcmp(val, "cuda") != 0) {
			fprintf(stderr, PROG ": --backend: \"%s\" is not host or cuda\n", val);
			return -1;
		}
		a->backend = val;
		return 0;
	}
	return 1;
}

/* What the options say together, once all are in: 0, or -1 after a message. */
static int
check_args(struct args *a)
{
	if (a->cps == 0)
		a->cps = a->chunks < UINT32_MAX ? a->chunks : UINT32_MAX;
	if (a->slots & (a->slots - 1)) {
		fprintf(stderr, PROG ": --slots: %llu is not a power of two\n", a->slots);
		return -1;
	}
	if (a->rx > a->slots) {
		fprintf(stderr, PROG ": --rx: %llu writers for %llu slots\n", a->rx, a->slots);
		return -1;
	}
	return 0;
}

static int
parse(int argc, char **argv, struct args *a)
{
	int i, rc;

	*a = (struct args){.rx = 4,
			   .slots = 256,
			   .elems = 512,
			   .workers = 8,
			   .batch = 4,
			   .go_timeout_ms = 60000,
			   .backend = "host",
			   .int16 = true};
	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (o[0] != '-') {
			if (a->arena != NULL)
				goto bad;
			a->arena = o;
			continue;
		}
		if (val == NULL) {
			fprintf(stderr, PROG ": %s: a value is missing\n", o);
			return -1;
		}
		i++;
		rc = parse_value(a, o, val);
		if (rc > 0)
			goto bad;
		if (rc < 0)
			return -1;
	}
	if (a->arena == NULL || a->chunks == 0)
		goto bad;
	return check_args(a);
bad:
	usage(stderr);
	return -1;
}

/*
 * cluster.json for the arena: one job on one port of R lanes, lane q polled by lcore
 * q + 1 (RX lcore rank q); the same parser as the appliance's, so the arena is laid out
 * from a valid configuration.
 */
static int
make_config(const struct args *a, struct ainftp_config *cfg)
{
	char *json = malloc(CONFIG_LEN), err[512];
	size_t n = 0;
	unsigned long long q, w;
	int rc;

	if (json == NULL)
		return -1;
#define PUT(...) n += (size_t)snprintf(json + n, n < CONFIG_LEN ? CONFIG_LEN - n : 0, __VA_ARGS__)
	PUT("{\"appliance\": {\"ipv4\": \"198.18.0.2\"},\n"
	    " \"ports\": [{\"device\": \"net_null0\", \"rx_queues\": %llu}],\n"
	    " \"lcores\": {\"control\": 0, \"rx\": [",
	    a->rx);
	for (q = 0; q < a->rx; q++)
		PUT("%s{\"lcore\": %llu, \"port\": 0, \"queue\": %llu}", q ? ", " : "", q + 1, q);
	PUT("]},\n \"jobs\": [{\"id\": 1, \"slots\": %llu, \"elems_per_packet\": %llu,"
	    " \"encoding\": \"%s\", \"result_encoding\": \"%s\", \"auth\": false, \"workers\": [",
	    a->slots, a->elems, a->int16 ? "int16" : "float32", a->int16 ? "int16" : "float32");
	for (w = 0; w < a->workers; w++)
		PUT("%s{\"id\": %llu, \"ipv4\": \"10.9.0.%llu\"}", w ? ", " : "", w, w + 10);
	PUT("]}],\n \"telemetry\": {\"enabled\": false},\n"
	    " \"sink\": {\"backend\": \"%s\", \"path\": \"%s\"}}\n",
	    a->backend, a->arena);
#undef PUT
	if (n >= CONFIG_LEN) {
		fprintf(stderr, PROG ": the configuration does not fit %d bytes\n", CONFIG_LEN);
		free(json);
		return -1;
	}
	rc = ainftp_config_parse(json, PROG, cfg, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, PROG ": %s\n", err);
	free(json);
	return rc;
}

static int
wait_go(const struct args *a)
{
	uint64_t t0 = ainftp_now_ns();

	if (a->go_file == NULL)
		return 0;
	while (access(a->go_file, F_OK) != 0) {
		if (ainftp_now_ns() - t0 > a->go_timeout_ms * 1000000ull) {
			fprintf(stderr, PROG ": %s did not appear in %llu ms\n", a->go_file,
				a->go_timeout_ms);
			return -1;
		}
		usleep(1000);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct ainftp_config *cfg = calloc(1, sizeof(*cfg));
	struct writer w[MAX_RX];
	struct ainftp_sink *s = NULL;
	uint8_t *patterns = NULL;
	char err[512];
	struct args a;
	uint64_t t0, t1, total = 0;
	uint32_t len, r, p;
	double secs;
	int rc = 1;

	ainftp_opt_std(argc, argv, PROG, usage);
	if (cfg == NULL)
		return 1;
	if (parse(argc, argv, &a) != 0) {
		free(cfg);
		return 2;
	}
	if (make_config(&a, cfg) != 0)
		goto out;
	if (ainftp_sink_open(cfg, &s, err, sizeof(err)) != 0 || s == NULL) {
		fprintf(stderr, PROG ": %s\n", s == NULL ? err : "no arena");
		goto out;
	}
	if (s->fell_back)
		fprintf(stderr, PROG ": the %s backend fell back to host memory\n", a.backend);
	len = ((const struct ainftp_sink_hdr *)s->base)->jobs[0].payload_len;
	patterns = calloc(AINFTP_SYNTH_PATTERNS, len); /* padding past the elements: zeros */
	if (patterns == NULL)
		goto out;
	for (p = 0; p < AINFTP_SYNTH_PATTERNS; p++)
		ainftp_synth_pattern_fill(p, a.int16 ? 1 : 0, (uint32_t)a.elems,
					  patterns + (size_t)p * len);
	if (wait_go(&a) != 0)
		goto out;
	t0 = ainftp_now_ns();
	for (r = 0; r < a.rx; r++) {
		w[r] = (struct writer){
			.a = &a, .s = s, .patterns = patterns, .r = r, .len = len, .t0 = t0};
		if (pthread_create(&w[r].th, NULL, write_loop, &w[r]) != 0) {
			fprintf(stderr, PROG ": cannot start writer %u: %s\n", r, strerror(errno));
			a.rx = r;
			break;
		}
	}
	for (r = 0; r < a.rx; r++) {
		pthread_join(w[r].th, NULL);
		total += w[r].written;
	}
	t1 = ainftp_now_ns();
	secs = (double)(t1 - t0) / 1e9;
	printf("sink-write: results=%" PRIu64 " writers=%llu slots=%llu elems=%llu encoding=%s "
	       "payload_B=%u rate=%" PRIu64 " backend=%s\n",
	       total, a.rx, a.slots, a.elems, a.int16 ? "int16" : "float32", len, a.rate,
	       s->ops->name);
	printf("sink-write: elapsed_s=%.6f results_per_s=%.0f GB_per_s=%.3f\n", secs,
	       secs > 0 ? (double)total / secs : 0.0,
	       secs > 0 ? (double)total * len / secs / 1e9 : 0.0);
	rc = total == a.chunks ? 0 : 1;
	if (rc != 0)
		fprintf(stderr, PROG ": wrote %" PRIu64 " of %" PRIu64 " results\n", total,
			a.chunks);
out:
	free(patterns);
	ainftp_sink_close(s);
	free(cfg);
	return rc;
}
