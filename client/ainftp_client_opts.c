/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client options: set by name from strings (so bindings need no struct
 * layout), or read from the appliance's own cluster.json.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_client_private.h"

struct ainftp_opts *
ainftp_opts_new(void)
{
	struct ainftp_opts *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		ainftp_client_seterr("out of memory");
		return NULL;
	}
	o->port = AINFTP_DEFAULT_UDP_PORT;
	o->shards = 1;
	o->lanes = 1;
	o->worker = -1;
	o->auth = true;
	o->encoding = -1;
	o->result_encoding = AINFTP_ENC_FLOAT32;
	o->slots = AINFTP_DEFAULT_SLOTS;
	o->rto_us = 20000;
	o->rto_min_us = 2000;
	o->rto_max_us = 1000000;
	o->timeout_ms = 5000;
	o->sockbuf = 4u << 20;
	o->gso = AINFTP_GSO_AUTO;
	o->simd_bits = 512;
	return o;
}

void
ainftp_opts_free(struct ainftp_opts *o)
{
	if (o != NULL)
		ainftp_client_wipe(o->key, sizeof(o->key));
	free(o);
}

static int
bad(const char *name, const char *value, const char *why)
{
	return ainftp_client_seterr_status(AINFTP_E_INVAL, "option \"%s\": \"%.64s\" %s", name,
					   value, why);
}

/* A decimal integer in [lo, hi], the whole string. */
static int
parse_u64(const char *name, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return bad(name, v, "is not a decimal integer");
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return bad(name, v, "is not a decimal integer");
	if (x < lo || x > hi)
		return ainftp_client_seterr_status(
			AINFTP_E_INVAL, "option \"%s\": %llu is out of range (%llu..%llu)", name, x,
			(unsigned long long)lo, (unsigned long long)hi);
	*out = x;
	return 0;
}

static int
parse_u32(const char *name, const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t x = 0;

	if (parse_u64(name, v, lo, hi, &x) < 0)
		return AINFTP_E_INVAL;
	*out = (uint32_t)x;
	return 0;
}

static int
parse_bool(const char *name, const char *v, bool *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return bad(name, v, "is not true or false");
	return 0;
}

/* on/off, or as parse_bool. */
static int
parse_onoff(const char *name, const char *v, bool *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
		*out = v[1] == 'n';
		return 0;
	}
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		return parse_bool(name, v, out);
	return bad(name, v, "is not on or off");
}

static int
parse_ipv4(const char *name, const char *v, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, v, &a) != 1)
		return bad(name, v, "is not an IPv4 address");
	*out = a.s_addr;
	return 0;
}

/*
 * The job's boxes: "A" or "A,B,..." (docs/PROTOCOL.md, "Shards"), in the
 * order of the job's "appliances" in cluster.json, which is the shard order.
 */
static int
parse_appliances(const char *name, const char *v, struct ainftp_opts *o)
{
	uint32_t a[AINFTP_MAX_SHARDS];
	unsigned int n = 0;
	const char *p = v;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char one[INET_ADDRSTRLEN];

		if (n == AINFTP_MAX_SHARDS)
			return ainftp_client_seterr_status(
				AINFTP_E_INVAL,
				"option \"%s\": \"%.64s\" lists more than %u appliances", name, v,
				AINFTP_MAX_SHARDS);
		if (len >= sizeof(one))
			return ainftp_client_seterr_status(
				AINFTP_E_INVAL,
				"option \"%s\": appliance %u of \"%.64s\" is not an IPv4 address",
				name, n + 1, v);
		memcpy(one, p, len);
		one[len] = '\0';
		if (parse_ipv4(name, one, &a[n]) < 0)
			return AINFTP_E_INVAL;
		for (unsigned int i = 0; i < n; i++)
			if (a[i] == a[n])
				return ainftp_client_seterr_status(
					AINFTP_E_INVAL,
					"option \"%s\": \"%s\" is listed twice in \"%.64s\"", name,
					one, v);
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	memcpy(o->appliances, a, n * sizeof(a[0]));
	o->shards = (uint8_t)n;
	o->appliance = a[0];
	o->has_appliance = true;
	return 0;
}

/* An encoding by the codec table's names (ainftp_codec.h); results: only those that encode one. */
static int
parse_encoding(const char *name, const char *v, bool results, int *out)
{
	const struct ainftp_codec *k = ainftp_codec_by_name(v);
	const struct ainftp_codec *const *l;
	char why[96] = "is not one of";
	const char *sep = " ";

	if (k != NULL && (!results || k->result_encode != NULL)) {
		*out = (int)k->enc;
		return 0;
	}
	for (l = ainftp_codec_list; *l != NULL; l++)
		if (!results || (*l)->result_encode != NULL) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s%s", sep,
				 (*l)->name);
			sep = ", ";
		}
	return bad(name, v, why);
}

/* 64 hex digits. The value is a secret: messages give its length, never its text. */
static int
parse_key(const char *name, const char *v, struct ainftp_opts *o)
{
	size_t len = strlen(v), i;
	uint8_t k[AINFTP_KEY_BYTES];

	if (len != 2 * AINFTP_KEY_BYTES)
		return ainftp_client_seterr_status(
			AINFTP_E_INVAL, "option \"%s\": expected 64 hex digits, got %zu characters",
			name, len);
	for (i = 0; i < AINFTP_KEY_BYTES; i++) {
		if (!ainftp_hex_byte(v + 2 * i, &k[i])) {
			ainftp_client_wipe(k, sizeof(k)); /* the key set before stays */
			return ainftp_client_seterr_status(
				AINFTP_E_INVAL, "option \"%s\": not a hex digit at position %zu",
				name, isxdigit((unsigned char)v[2 * i]) ? 2 * i + 1 : 2 * i);
		}
	}
	memcpy(o->key, k, sizeof(k));
	ainftp_client_wipe(k, sizeof(k));
	o->has_key = true;
	return 0;
}

static int
parse_key_file(const char *name, const char *path, struct ainftp_opts *o)
{
	char text[2 * AINFTP_KEY_BYTES + 4];
	size_t len;
	int rc;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL, "option \"%s\": %s: %s", name,
						   path, strerror(errno));
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	rc = parse_key(name, text, o);
	ainftp_client_wipe(text, sizeof(text));
	return rc;
}

static int
parse_gso(const char *name, const char *v, int *out)
{
	if (strcmp(v, "auto") == 0)
		*out = AINFTP_GSO_AUTO;
	else if (strcmp(v, "on") == 0)
		*out = AINFTP_GSO_ON;
	else if (strcmp(v, "off") == 0)
		*out = AINFTP_GSO_OFF;
	else
		return bad(name, v, "is not auto, on or off");
	return 0;
}

static int
set_one(struct ainftp_opts *o, const char *n, const char *v)
{
	uint32_t u;

	if (strcmp(n, "appliance") == 0)
		return parse_appliances(n, v, o);
	if (strcmp(n, "port") == 0)
		return parse_u32(n, v, 1, 65535, &u) < 0 ? AINFTP_E_INVAL
							 : (o->port = (uint16_t)u, 0);
	if (strcmp(n, "lanes") == 0)
		return parse_u32(n, v, 1, AINFTP_MAX_QUEUES, &u) < 0 ? AINFTP_E_INVAL
								     : (o->lanes = (uint16_t)u, 0);
	if (strcmp(n, "bind") == 0)
		return parse_ipv4(n, v, &o->bind);
	if (strcmp(n, "bind_port") == 0)
		return parse_u32(n, v, 0, 65535, &u) < 0 ? AINFTP_E_INVAL
							 : (o->bind_port = (uint16_t)u, 0);
	if (strcmp(n, "job") == 0)
		return parse_u32(n, v, 0, UINT32_MAX, &o->job) < 0 ? AINFTP_E_INVAL
								   : (o->has_job = true, 0);
	if (strcmp(n, "worker") == 0)
		return parse_u32(n, v, 0, AINFTP_MAX_WORKERS - 1, &u) < 0 ? AINFTP_E_INVAL
									  : (o->worker = (int)u, 0);
	if (strcmp(n, "key") == 0)
		return parse_key(n, v, o);
	if (strcmp(n, "key_file") == 0)
		return parse_key_file(n, v, o);
	if (strcmp(n, "auth") == 0)
		return parse_bool(n, v, &o->auth);
	if (strcmp(n, "elems") == 0)
		return parse_u32(n, v, 1, UINT16_MAX, &o->elems);
	if (strcmp(n, "slots") == 0) {
		if (parse_u32(n, v, 1, 65536, &u) < 0)
			return AINFTP_E_INVAL;
		if (u & (u - 1))
			return bad(n, v, "is not a power of two");
		o->slots = u;
		return 0;
	}
	if (strcmp(n, "encoding") == 0)
		return parse_encoding(n, v, false, &o->encoding);
	if (strcmp(n, "result_encoding") == 0)
		return parse_encoding(n, v, true, &o->result_encoding);
	if (strcmp(n, "window") == 0)
		return parse_u32(n, v, 1, 65536, &o->window);
	if (strcmp(n, "first_step") == 0) {
		if (parse_u32(n, v, 0, UINT32_MAX, &o->first_step) < 0)
			return AINFTP_E_INVAL;
		o->has_first_step = true;
		return 0;
	}
	if (strcmp(n, "rto_us") == 0)
		return parse_u32(n, v, 1, 60000000, &o->rto_us);
	if (strcmp(n, "rto_min_us") == 0)
		return parse_u32(n, v, 1, 60000000, &o->rto_min_us);
	if (strcmp(n, "rto_max_us") == 0)
		return parse_u32(n, v, 1, 60000000, &o->rto_max_us);
	if (strcmp(n, "timeout_ms") == 0)
		return parse_u32(n, v, 1, 3600000, &o->timeout_ms);
	if (strcmp(n, "sockbuf") == 0)
		return parse_u32(n, v, 65536, 1u << 30, &o->sockbuf);
	if (strcmp(n, "gso") == 0)
		return parse_gso(n, v, &o->gso);
	if (strcmp(n, "xdp") == 0)
		return parse_onoff(n, v, &o->xdp);
	if (strcmp(n, "simd_bits") == 0) {
		if (parse_u32(n, v, 0, 512, &u) < 0)
			return AINFTP_E_INVAL;
		if (u != 0 && u != 256 && u != 512)
			return bad(n, v, "is not 512, 256 or 0");
		o->simd_bits = u;
		return 0;
	}
	return ainftp_client_seterr_status(AINFTP_E_INVAL, "unknown option \"%.64s\"", n);
}

int
ainftp_opts_set(struct ainftp_opts *o, const char *name, const char *value)
{
	if (o == NULL || name == NULL || value == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_opts_set: options, name and value are "
						   "required (got NULL)");
	return set_one(o, name, value);
}

static const struct ainftp_job_conf *
find_job(const struct ainftp_config *cfg, uint32_t job)
{
	for (uint16_t i = 0; i < cfg->n_jobs; i++)
		if (cfg->jobs[i].id == job)
			return &cfg->jobs[i];
	return NULL;
}

static const struct ainftp_worker_conf *
find_worker(const struct ainftp_job_conf *j, uint16_t worker)
{
	for (uint16_t i = 0; i < j->n_workers; i++)
		if (j->workers[i].id == worker)
			return &j->workers[i];
	return NULL;
}

static void
opts_from_job(struct ainftp_opts *o, const struct ainftp_config *cfg,
	      const struct ainftp_job_conf *j, const struct ainftp_worker_conf *w)
{
	/* The job's boxes; each box's cluster.json lists them all, in the same order. */
	memcpy(o->appliances, j->appliances, j->shard_count * sizeof(j->appliances[0]));
	o->shards = j->shard_count;
	/* With leaves, the worker's box is its leaf (the parser put it in one). */
	if (j->spine != 0)
		o->appliances[0] = j->leaves[ainftp_config_leaf_of(j, w->id)].ipv4;
	o->appliance = j->appliances[0];
	o->has_appliance = true;
	o->port = cfg->udp_port;
	o->lanes = cfg->ports[j->port].rx_queues;
	o->bind = w->ipv4;
	o->job = j->id;
	o->has_job = true;
	o->worker = w->id;
	o->auth = j->auth;
	memcpy(o->key, w->key, sizeof(o->key));
	o->has_key = j->auth;
	o->elems = j->elems_per_packet;
	o->slots = j->slots;
	o->encoding = (int)j->encoding;
	o->result_encoding = (int)j->result_encoding;
}

int
ainftp_opts_from_cluster(struct ainftp_opts *o, const char *path, uint32_t job, uint16_t worker)
{
	struct ainftp_config *cfg;
	const struct ainftp_job_conf *j;
	const struct ainftp_worker_conf *w;
	char err[512];
	int rc = 0;

	if (o == NULL || path == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_opts_from_cluster: options and path are "
						   "required (got NULL)");
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return ainftp_client_seterr_status(AINFTP_E_NOMEM, "out of memory");
	if (ainftp_config_load(path, cfg, err, sizeof(err)) < 0)
		rc = ainftp_client_seterr_status(AINFTP_E_INVAL, "%s", err);
	else if ((j = find_job(cfg, job)) == NULL)
		rc = ainftp_client_seterr_status(AINFTP_E_INVAL, "%s: no job with id %u", path,
						 job);
	else if ((w = find_worker(j, worker)) == NULL)
		rc = ainftp_client_seterr_status(AINFTP_E_INVAL, "%s: job %u has no worker %u",
						 path, job, worker);
	else
		opts_from_job(o, cfg, j, w);
	ainftp_client_wipe(cfg, sizeof(*cfg));
	free(cfg);
	return rc;
}
