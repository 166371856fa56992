/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cluster.json parser. Every check reports the first problem it finds as one line,
 * "<source>: <json.path>: <problem>", so an operator can fix the file without reading
 * code; config/README.md lists the fields and the message forms.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ainftp_config.h"
#include "ainftp_partial.h"

#define AINFTP_PATH_LEN 128
/* What a message may quote of a user's string (ainftp_may_show). */
#define AINFTP_ECHO_MAX 48		      /* bytes */
#define AINFTP_ECHO_HEX_RUN 8		      /* hex digits in a row: 32 bits of a key */
#define AINFTP_ECHO_HEX_MAX 20		      /* hex digits in all */
#define AINFTP_ECHO_LEN (AINFTP_ECHO_MAX + 3) /* quotes and NUL */
#define AINFTP_FILE_MAX (1024 * 1024)

struct ainftp_ctx {
	const char *source;
	char *err;
	size_t errlen;
	struct ainftp_config *cfg;
};

/* What a member must be; AINFTP_NUMBER accepts JSON integers and reals. */
enum ainftp_kind {
	AINFTP_OBJECT,
	AINFTP_ARRAY,
	AINFTP_STRING,
	AINFTP_INTEGER,
	AINFTP_NUMBER,
	AINFTP_BOOLEAN,
};

static const char *const ainftp_kind_expected[] = {
	[AINFTP_OBJECT] = "an object", [AINFTP_ARRAY] = "an array",
	[AINFTP_STRING] = "a string",  [AINFTP_INTEGER] = "an integer",
	[AINFTP_NUMBER] = "a number",  [AINFTP_BOOLEAN] = "a boolean",
};

struct ainftp_name {
	const char *name;
	int value;
};

static const struct ainftp_name ainftp_sink_backends[] = {
	{"auto", AINFTP_SINK_AUTO},	{"off", AINFTP_SINK_OFF},   {"host", AINFTP_SINK_HOST},
	{"gpudev", AINFTP_SINK_GPUDEV}, {"cuda", AINFTP_SINK_CUDA}, {NULL, 0},
};

static const char *
ainftp_name_of(const struct ainftp_name *names, int value)
{
	for (; names->name != NULL; names++) {
		if (names->value == value)
			return names->name;
	}
	return "unknown";
}

const char *
ainftp_sink_backend_name(enum ainftp_sink_backend backend)
{
	return ainftp_name_of(ainftp_sink_backends, (int)backend);
}

unsigned int
ainftp_config_rx_lcore_count(const struct ainftp_config *cfg)
{
	unsigned int count = 0;
	uint16_t i, j;

	for (i = 0; i < cfg->n_rx; i++) {
		for (j = 0; j < i; j++) {
			if (cfg->rx[j].lcore == cfg->rx[i].lcore)
				break;
		}
		count += j == i;
	}
	return count;
}

unsigned int
ainftp_config_rx_lcore_rank(const struct ainftp_config *cfg, unsigned int lcore)
{
	unsigned int rank = 0;
	uint16_t i, j;

	for (i = 0; i < cfg->n_rx; i++) {
		if (cfg->rx[i].lcore >= lcore)
			continue;
		for (j = 0; j < i; j++) {
			if (cfg->rx[j].lcore == cfg->rx[i].lcore)
				break;
		}
		rank += j == i;
	}
	return rank;
}

bool
ainftp_config_is_rx_lcore(const struct ainftp_config *cfg, unsigned int lcore)
{
	uint16_t i;

	for (i = 0; i < cfg->n_rx; i++)
		if (cfg->rx[i].lcore == lcore)
			return true;
	return false;
}

uint16_t
ainftp_config_tx_queues_needed(const struct ainftp_config *cfg)
{
	return ainftp_config_rx_lcore_count(cfg) + 1;
}

static const char *
ainftp_plural(unsigned long long n)
{
	return n == 1 ? "" : "s";
}

static int
ainftp_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Characters, not bytes, so that a length in a message matches what an editor shows. */
static size_t
ainftp_utf8_chars(const char *s)
{
	size_t chars = 0;

	for (; *s != '\0'; s++)
		chars += ((unsigned char)*s & 0xc0) != 0x80;
	return chars;
}

/*
 * Whether a user's string may be quoted back. Keys are 64 hex digits, and one
 * pasted into the wrong field (or used as a member name) must not leak: so a
 * string is shown only when it is short and holds too few hex digits, in a row
 * or in all, to be a useful part of a key. What an operator types in the other
 * fields passes: an ADDR:PORT holds at most 17 hex digits, a MAC 12, a PCI
 * address 10, and none of them 8 in a row.
 */
static bool
ainftp_may_show(const char *s)
{
	size_t run = 0, hex = 0;

	if (strlen(s) > AINFTP_ECHO_MAX)
		return false;
	for (; *s != '\0'; s++) {
		run = ainftp_nibble(*s) >= 0 ? run + 1 : 0;
		hex += run > 0;
		if (run >= AINFTP_ECHO_HEX_RUN || hex > AINFTP_ECHO_HEX_MAX)
			return false;
	}
	return true;
}

/*
 * The one way a message shows a user's string s (a value, or a member name:
 * noun says which): quoted when ainftp_may_show allows it, else only its
 * length, "a string of 64 characters". Returns dst.
 */
static const char *
ainftp_echo(char dst[AINFTP_ECHO_LEN], const char *s, const char *noun)
{
	size_t chars = ainftp_utf8_chars(s);

	if (ainftp_may_show(s))
		snprintf(dst, AINFTP_ECHO_LEN, "\"%s\"", s);
	else
		snprintf(dst, AINFTP_ECHO_LEN, "a %s of %zu character%s", noun, chars,
			 ainftp_plural(chars));
	return dst;
}

/* Messages are one line whatever the file holds: control characters become '?'. */
static void
ainftp_one_line(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	}
}

static void ainftp_write_err(struct ainftp_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
ainftp_write_err(struct ainftp_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	ainftp_one_line(c->err);
}

/* Record "<source>: <path>: <problem>"; returns -1 so callers can return it. */
static int ainftp_fail(struct ainftp_ctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
ainftp_fail(struct ainftp_ctx *c, const char *path, const char *fmt, ...)
{
	char problem[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	ainftp_write_err(c, "%s: %s: %s", c->source, path[0] == '\0' ? "(top level)" : path,
			 problem);
	return -1;
}

/*
 * dst = a + b + c, cut at AINFTP_PATH_LEN - 1 bytes. Paths stay well below that
 * (only an unknown key that ainftp_may_show passes is appended); copying by hand rather
 * than with snprintf keeps GCC's truncation warning quiet at -O2.
 */
static void
ainftp_path_cat(char *dst, const char *a, const char *b, const char *c)
{
	const char *parts[] = {a, b, c};
	const char *s;
	size_t n = 0;
	int i;

	for (i = 0; i < 3; i++) {
		for (s = parts[i]; *s != '\0' && n < AINFTP_PATH_LEN - 1; s++)
			dst[n++] = *s;
	}
	dst[n] = '\0';
}

static void
ainftp_path_key(char *dst, const char *parent, const char *key)
{
	ainftp_path_cat(dst, parent, parent[0] == '\0' ? "" : ".", key);
}

static void
ainftp_path_index(char *dst, const char *parent, size_t index)
{
	char sub[32];

	snprintf(sub, sizeof(sub), "[%zu]", index);
	ainftp_path_cat(dst, parent, sub, "");
}

static const char *
ainftp_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static bool
ainftp_kind_matches(enum ainftp_kind kind, const json_t *v)
{
	switch (kind) {
	case AINFTP_OBJECT:
		return json_is_object(v);
	case AINFTP_ARRAY:
		return json_is_array(v);
	case AINFTP_STRING:
		return json_is_string(v);
	case AINFTP_INTEGER:
		return json_is_integer(v);
	case AINFTP_NUMBER:
		return json_is_number(v);
	default:
		return json_is_boolean(v);
	}
}

static int
ainftp_expect(struct ainftp_ctx *c, const json_t *v, const char *path, enum ainftp_kind kind)
{
	if (ainftp_kind_matches(kind, v))
		return 0;
	return ainftp_fail(c, path, "expected %s, got %s", ainftp_kind_expected[kind],
			   ainftp_type_name(v));
}

/* A typo in a key would otherwise silently leave the default in force. */
static int
ainftp_check_keys(struct ainftp_ctx *c, const json_t *obj, const char *path,
		  const char *const allowed[])
{
	char name[AINFTP_ECHO_LEN];
	char kpath[AINFTP_PATH_LEN];
	const char *const *a;
	const char *key;
	void *it;

	for (it = json_object_iter((json_t *)obj); it != NULL;
	     it = json_object_iter_next((json_t *)obj, it)) {
		key = json_object_iter_key(it);
		for (a = allowed; *a != NULL && strcmp(*a, key) != 0; a++)
			;
		if (*a != NULL)
			continue;
		/* A name that may not be shown is described after the object's path instead. */
		if (!ainftp_may_show(key))
			return ainftp_fail(c, path, "unknown key: %s",
					   ainftp_echo(name, key, "name"));
		ainftp_path_key(kpath, path, key);
		return ainftp_fail(c, kpath, "unknown key");
	}
	return 0;
}

/* *out is the member, or NULL when an optional one is absent. */
static int
ainftp_member(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
	      enum ainftp_kind kind, bool required, json_t **out)
{
	char kpath[AINFTP_PATH_LEN];

	*out = json_object_get(obj, key);
	if (*out == NULL) {
		if (required)
			return ainftp_fail(c, path, "missing required key \"%s\"", key);
		return 0;
	}
	ainftp_path_key(kpath, path, key);
	return ainftp_expect(c, *out, kpath, kind);
}

/* An optional object member, its keys checked; *path_out names it for its own members. */
static int
ainftp_get_object(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		  bool required, const char *const keys[], json_t **out, char *path_out)
{
	ainftp_path_key(path_out, path, key);
	if (ainftp_member(c, obj, path, key, AINFTP_OBJECT, required, out) < 0)
		return -1;
	return *out == NULL ? 0 : ainftp_check_keys(c, *out, path_out, keys);
}

/* Element index of an array of objects, its keys checked. */
static int
ainftp_get_element(struct ainftp_ctx *c, const json_t *arr, size_t index, const char *arr_path,
		   const char *const keys[], json_t **out, char *path_out)
{
	ainftp_path_index(path_out, arr_path, index);
	*out = json_array_get(arr, index);
	if (ainftp_expect(c, *out, path_out, AINFTP_OBJECT) < 0)
		return -1;
	return ainftp_check_keys(c, *out, path_out, keys);
}

/* A required array of min..max entries; *path_out names it for its elements. */
static int
ainftp_get_array(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		 size_t min, size_t max, json_t **out, char *path_out)
{
	size_t n;

	ainftp_path_key(path_out, path, key);
	if (ainftp_member(c, obj, path, key, AINFTP_ARRAY, true, out) < 0)
		return -1;
	n = json_array_size(*out);
	if (n < min || n > max)
		return ainftp_fail(c, path_out, "expected %zu..%zu entries, got %zu", min, max, n);
	return 0;
}

/* An integer in lo..hi; *out keeps its default when an optional one is absent. */
static int
ainftp_get_int(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
	       bool required, json_int_t lo, json_int_t hi, json_int_t *out)
{
	char kpath[AINFTP_PATH_LEN];
	json_t *v;
	json_int_t n;

	if (ainftp_member(c, obj, path, key, AINFTP_INTEGER, required, &v) < 0)
		return -1;
	if (v == NULL)
		return 0;
	n = json_integer_value(v);
	if (n < lo || n > hi) {
		ainftp_path_key(kpath, path, key);
		return ainftp_fail(c, kpath,
				   "%" JSON_INTEGER_FORMAT " is out of range (%" JSON_INTEGER_FORMAT
				   "..%" JSON_INTEGER_FORMAT ")",
				   n, lo, hi);
	}
	*out = n;
	return 0;
}

static int
ainftp_get_u16(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
	       bool required, json_int_t lo, json_int_t hi, uint16_t *out)
{
	json_int_t n = *out;

	if (ainftp_get_int(c, obj, path, key, required, lo, hi, &n) < 0)
		return -1;
	*out = (uint16_t)n;
	return 0;
}

static int
ainftp_get_u32(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
	       bool required, json_int_t lo, json_int_t hi, uint32_t *out)
{
	json_int_t n = *out;

	if (ainftp_get_int(c, obj, path, key, required, lo, hi, &n) < 0)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

/* Ring and pool sizes: the DPDK calls that take them want powers of two. */
static int
ainftp_get_pow2(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		json_int_t lo, json_int_t hi, uint32_t *out)
{
	char kpath[AINFTP_PATH_LEN];

	if (ainftp_get_u32(c, obj, path, key, false, lo, hi, out) < 0)
		return -1;
	if ((*out & (*out - 1)) == 0)
		return 0;
	ainftp_path_key(kpath, path, key);
	return ainftp_fail(c, kpath, "%u is not a power of two", *out);
}

/* A number with lo < value <= hi (which also rules out NaN); range is how it is shown. */
static int
ainftp_get_real(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		double lo, double hi, const char *range, double *out)
{
	char kpath[AINFTP_PATH_LEN];
	json_t *v;
	double d;

	if (ainftp_member(c, obj, path, key, AINFTP_NUMBER, false, &v) < 0)
		return -1;
	if (v == NULL)
		return 0;
	d = json_number_value(v);
	if (!(d > lo && d <= hi)) {
		ainftp_path_key(kpath, path, key);
		return ainftp_fail(c, kpath, "%g is out of range %s", d, range);
	}
	*out = d;
	return 0;
}

static int
ainftp_get_bool(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		bool *out)
{
	json_t *v;

	if (ainftp_member(c, obj, path, key, AINFTP_BOOLEAN, false, &v) < 0)
		return -1;
	if (v != NULL)
		*out = json_is_true(v);
	return 0;
}

/* *out is NULL when an optional string is absent. */
static int
ainftp_get_string(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		  bool required, const char **out)
{
	json_t *v;

	*out = NULL;
	if (ainftp_member(c, obj, path, key, AINFTP_STRING, required, &v) < 0)
		return -1;
	if (v != NULL)
		*out = json_string_value(v);
	return 0;
}

static int
ainftp_get_enum(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		bool required, const struct ainftp_name *names, int *out)
{
	char kpath[AINFTP_PATH_LEN];
	char echo[AINFTP_ECHO_LEN];
	char list[128] = "";
	const struct ainftp_name *n;
	const char *s;

	if (ainftp_get_string(c, obj, path, key, required, &s) < 0)
		return -1;
	if (s == NULL)
		return 0;
	for (n = names; n->name != NULL; n++) {
		if (strcmp(n->name, s) == 0) {
			*out = n->value;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"",
			 n == names ? "" : ", ", n->name);
	}
	ainftp_path_key(kpath, path, key);
	return ainftp_fail(c, kpath, "%s is not one of %s", ainftp_echo(echo, s, "string"), list);
}

/*
 * The names a key takes, from the table that owns them: the codecs for an
 * encoding (for a result encoding, only those that encode results, the
 * default first), the sentry's rules for a policy. NULL-ended, as
 * ainftp_get_enum reads them.
 */
#define AINFTP_NAMES_MAX 16

static void
ainftp_codec_names(struct ainftp_name *names, bool result, enum ainftp_encoding dflt)
{
	const struct ainftp_codec *const *k;
	unsigned int n = 0;

	if (result)
		names[n++] = (struct ainftp_name){ainftp_encoding_name(dflt), (int)dflt};
	for (k = ainftp_codec_list; *k != NULL && n < AINFTP_NAMES_MAX - 1; k++)
		if (!result || ((*k)->result_encode != NULL && (*k)->enc != dflt))
			names[n++] = (struct ainftp_name){(*k)->name, (int)(*k)->enc};
	names[n] = (struct ainftp_name){NULL, 0};
}

static void
ainftp_policy_names(struct ainftp_name *names)
{
	int p;

	for (p = 0; p < AINFTP_SENTRY_MAX && p < AINFTP_NAMES_MAX - 1; p++)
		names[p] = (struct ainftp_name){ainftp_sentry_name(p), p};
	names[p] = (struct ainftp_name){NULL, 0};
}

/* A job's auth_mac (ainftp_mac_alg_names); absent: *out unchanged. */
static int
ainftp_get_mac_alg(struct ainftp_ctx *c, const json_t *obj, const char *path,
		   enum ainftp_mac_alg *out)
{
	struct ainftp_name names[AINFTP_MAC_ALG_MAX + 1];
	int a, v = (int)*out;

	for (a = 0; a < AINFTP_MAC_ALG_MAX; a++)
		names[a] = (struct ainftp_name){ainftp_mac_alg_names[a], a};
	names[a] = (struct ainftp_name){NULL, 0};
	if (ainftp_get_enum(c, obj, path, "auth_mac", false, names, &v) < 0)
		return -1;
	*out = (enum ainftp_mac_alg)v;
	return 0;
}

/* An encoding (result: a result encoding, *out its default); absent: *out unchanged. */
static int
ainftp_get_encoding(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		    bool result, enum ainftp_encoding *out)
{
	struct ainftp_name names[AINFTP_NAMES_MAX];
	int v = (int)*out;

	ainftp_codec_names(names, result, *out);
	if (ainftp_get_enum(c, obj, path, key, !result, names, &v) < 0)
		return -1;
	*out = (enum ainftp_encoding)v;
	return 0;
}

/* sentry.policy; absent: *out unchanged. */
static int
ainftp_get_policy(struct ainftp_ctx *c, const json_t *obj, const char *path,
		  enum ainftp_sentry_policy *out)
{
	struct ainftp_name names[AINFTP_NAMES_MAX];
	int v = (int)*out;

	ainftp_policy_names(names);
	if (ainftp_get_enum(c, obj, path, "policy", false, names, &v) < 0)
		return -1;
	*out = (enum ainftp_sentry_policy)v;
	return 0;
}

/* Unicast host addresses only: inet_pton takes strict dotted quads, nothing else. */
static int
ainftp_check_ipv4(struct ainftp_ctx *c, const char *kpath, const char *s, uint32_t *out)
{
	char echo[AINFTP_ECHO_LEN];
	struct in_addr addr;
	uint32_t host;

	ainftp_echo(echo, s, "string");
	if (inet_pton(AF_INET, s, &addr) != 1)
		return ainftp_fail(c, kpath, "%s is not an IPv4 address", echo);
	host = ntohl(addr.s_addr);
	if (host == 0)
		return ainftp_fail(c, kpath, "%s is the unspecified address", echo);
	if (host == UINT32_MAX)
		return ainftp_fail(c, kpath, "%s is the broadcast address", echo);
	if ((host >> 28) == 0xe)
		return ainftp_fail(c, kpath, "%s is a multicast address", echo);
	*out = addr.s_addr;
	return 0;
}

static int
ainftp_get_ipv4(struct ainftp_ctx *c, const json_t *obj, const char *path, const char *key,
		uint32_t *out)
{
	char kpath[AINFTP_PATH_LEN];
	const char *s;

	if (ainftp_get_string(c, obj, path, key, true, &s) < 0)
		return -1;
	ainftp_path_key(kpath, path, key);
	return ainftp_check_ipv4(c, kpath, s, out);
}

bool
ainftp_hex_byte(const char *s, uint8_t *out)
{
	int hi = ainftp_nibble(s[0]);
	int lo = hi < 0 ? -1 : ainftp_nibble(s[1]);

	if (lo < 0)
		return false;
	*out = (uint8_t)(hi << 4 | lo);
	return true;
}

static bool
ainftp_parse_mac(const char *s, uint8_t mac[6])
{
	int i;

	if (strlen(s) != 17)
		return false;
	for (i = 0; i < 6; i++) {
		if (!ainftp_hex_byte(s + 3 * i, &mac[i]) || (i < 5 && s[3 * i + 2] != ':'))
			return false;
	}
	return true;
}

static int
ainftp_get_mac(struct ainftp_ctx *c, const json_t *obj, const char *path)
{
	static const uint8_t zero[6];
	char kpath[AINFTP_PATH_LEN];
	char echo[AINFTP_ECHO_LEN];
	struct ainftp_config *cfg = c->cfg;
	const char *s;

	if (ainftp_get_string(c, obj, path, "mac", false, &s) < 0)
		return -1;
	if (s == NULL)
		return 0;
	ainftp_path_key(kpath, path, "mac");
	ainftp_echo(echo, s, "string");
	if (!ainftp_parse_mac(s, cfg->mac))
		return ainftp_fail(
			c, kpath, "%s is not a MAC address (six hex pairs separated by ':')", echo);
	if (cfg->mac[0] & 1)
		return ainftp_fail(c, kpath, "%s is a multicast MAC address", echo);
	if (memcmp(cfg->mac, zero, sizeof(zero)) == 0)
		return ainftp_fail(c, kpath, "%s is the all-zero MAC address", echo);
	cfg->has_mac = true;
	return 0;
}

/* The key is a secret: messages give its length at most, never any of its text. */
static int
ainftp_get_key(struct ainftp_ctx *c, const json_t *obj, const char *path, bool required,
	       uint8_t key[AINFTP_KEY_BYTES])
{
	char kpath[AINFTP_PATH_LEN];
	const char *s;
	size_t chars;
	size_t i;

	if (ainftp_get_string(c, obj, path, "key", required, &s) < 0)
		return -1;
	if (s == NULL)
		return 0;
	ainftp_path_key(kpath, path, "key");
	chars = ainftp_utf8_chars(s);
	if (chars != 2 * AINFTP_KEY_BYTES)
		return ainftp_fail(
			c, kpath, "must be %d hex digits (%d bytes), got %zu character%s",
			2 * AINFTP_KEY_BYTES, AINFTP_KEY_BYTES, chars, ainftp_plural(chars));
	for (i = 0; i < AINFTP_KEY_BYTES; i++) {
		if (!ainftp_hex_byte(s + 2 * i, &key[i]))
			return ainftp_fail(c, kpath, "is not hexadecimal");
	}
	return 0;
}

static int
ainftp_parse_appliance(struct ainftp_ctx *c, const json_t *root)
{
	static const char *const keys[] = {"ipv4", "udp_port", "mac", NULL};
	char path[AINFTP_PATH_LEN];
	json_t *obj;

	c->cfg->udp_port = AINFTP_DEFAULT_UDP_PORT;
	if (ainftp_get_object(c, root, "", "appliance", true, keys, &obj, path) < 0 ||
	    ainftp_get_ipv4(c, obj, path, "ipv4", &c->cfg->ipv4) < 0 ||
	    ainftp_get_u16(c, obj, path, "udp_port", false, 1, UINT16_MAX, &c->cfg->udp_port) < 0)
		return -1;
	return ainftp_get_mac(c, obj, path);
}

static int
ainftp_parse_device(struct ainftp_ctx *c, const json_t *obj, const char *path, uint16_t index)
{
	struct ainftp_port_conf *ports = c->cfg->ports;
	char kpath[AINFTP_PATH_LEN];
	char echo[AINFTP_ECHO_LEN];
	const char *s;
	size_t len;
	uint16_t i;

	if (ainftp_get_string(c, obj, path, "device", true, &s) < 0)
		return -1;
	ainftp_path_key(kpath, path, "device");
	len = strlen(s);
	if (len == 0)
		return ainftp_fail(c, kpath, "must not be empty");
	if (len >= AINFTP_DEVICE_LEN)
		return ainftp_fail(c, kpath, "is %zu bytes long, more than %d", len,
				   AINFTP_DEVICE_LEN - 1);
	for (i = 0; i < index; i++) {
		if (strcmp(ports[i].device, s) == 0) {
			return ainftp_fail(c, kpath, "%s duplicates ports[%u].device",
					   ainftp_echo(echo, s, "string"), i);
		}
	}
	memcpy(ports[index].device, s, len + 1);
	return 0;
}

static int
ainftp_parse_port(struct ainftp_ctx *c, const json_t *arr, const char *arr_path, uint16_t index)
{
	static const char *const keys[] = {"device",  "rx_queues", "tx_queues", "mtu",
					   "rx_desc", "tx_desc",   NULL};
	struct ainftp_port_conf *port = &c->cfg->ports[index];
	char path[AINFTP_PATH_LEN];
	uint32_t rx_desc = AINFTP_DEFAULT_DESC;
	uint32_t tx_desc = AINFTP_DEFAULT_DESC;
	json_t *obj;

	port->rx_queues = 1;
	port->mtu = 1500;
	if (ainftp_get_element(c, arr, index, arr_path, keys, &obj, path) < 0 ||
	    ainftp_parse_device(c, obj, path, index) < 0 ||
	    ainftp_get_u16(c, obj, path, "rx_queues", false, 1, AINFTP_MAX_QUEUES,
			   &port->rx_queues) < 0 ||
	    ainftp_get_u16(c, obj, path, "tx_queues", false, 1, AINFTP_MAX_QUEUES,
			   &port->tx_queues) < 0 ||
	    ainftp_get_u16(c, obj, path, "mtu", false, AINFTP_MTU_MIN, AINFTP_MTU_MAX, &port->mtu) <
		    0 ||
	    ainftp_get_pow2(c, obj, path, "rx_desc", 64, 16384, &rx_desc) < 0 ||
	    ainftp_get_pow2(c, obj, path, "tx_desc", 64, 16384, &tx_desc) < 0)
		return -1;
	port->rx_desc = (uint16_t)rx_desc;
	port->tx_desc = (uint16_t)tx_desc;
	return 0;
}

static int
ainftp_parse_ports(struct ainftp_ctx *c, const json_t *root)
{
	char path[AINFTP_PATH_LEN];
	json_t *arr;
	uint16_t i;

	if (ainftp_get_array(c, root, "", "ports", 1, AINFTP_MAX_PORTS, &arr, path) < 0)
		return -1;
	for (i = 0; i < json_array_size(arr); i++) {
		if (ainftp_parse_port(c, arr, path, i) < 0)
			return -1;
	}
	c->cfg->n_ports = i;
	return 0;
}

/* Port and queue are indices: out of range is "no such", whatever the sign. */
static int
ainftp_parse_binding_target(struct ainftp_ctx *c, const json_t *obj, const char *path,
			    struct ainftp_rx_binding *b)
{
	const struct ainftp_config *cfg = c->cfg;
	char kpath[AINFTP_PATH_LEN];
	json_int_t port, queue;
	uint16_t nq;

	if (ainftp_get_int(c, obj, path, "port", true, LLONG_MIN, LLONG_MAX, &port) < 0)
		return -1;
	if (port < 0 || port >= cfg->n_ports) {
		ainftp_path_key(kpath, path, "port");
		return ainftp_fail(c, kpath, "no such port: %u port%s %s configured", cfg->n_ports,
				   ainftp_plural(cfg->n_ports), cfg->n_ports == 1 ? "is" : "are");
	}
	if (ainftp_get_int(c, obj, path, "queue", true, LLONG_MIN, LLONG_MAX, &queue) < 0)
		return -1;
	nq = cfg->ports[port].rx_queues;
	if (queue < 0 || queue >= nq) {
		ainftp_path_key(kpath, path, "queue");
		return ainftp_fail(c, kpath, "no such queue: port %u has %u RX queue%s",
				   (unsigned int)port, nq, ainftp_plural(nq));
	}
	b->port = (uint16_t)port;
	b->queue = (uint16_t)queue;
	return 0;
}

/* Two lcores on one queue would race on its descriptor ring. */
static int
ainftp_parse_binding(struct ainftp_ctx *c, const json_t *arr, const char *arr_path, uint16_t index)
{
	static const char *const keys[] = {"lcore", "port", "queue", NULL};
	struct ainftp_config *cfg = c->cfg;
	struct ainftp_rx_binding *b = &cfg->rx[index];
	char path[AINFTP_PATH_LEN];
	char kpath[AINFTP_PATH_LEN];
	uint32_t lcore = 0;
	json_t *obj;
	uint16_t i;

	if (ainftp_get_element(c, arr, index, arr_path, keys, &obj, path) < 0 ||
	    ainftp_get_u32(c, obj, path, "lcore", true, 0, AINFTP_MAX_LCORE - 1, &lcore) < 0)
		return -1;
	if (lcore == cfg->control_lcore) {
		ainftp_path_key(kpath, path, "lcore");
		return ainftp_fail(c, kpath, "%u is the control lcore", lcore);
	}
	b->lcore = lcore;
	if (ainftp_parse_binding_target(c, obj, path, b) < 0)
		return -1;
	for (i = 0; i < index; i++) {
		if (cfg->rx[i].port == b->port && cfg->rx[i].queue == b->queue)
			return ainftp_fail(c, path, "port %u queue %u duplicates %s[%u]", b->port,
					   b->queue, arr_path, i);
	}
	return 0;
}

static int
ainftp_parse_lcores(struct ainftp_ctx *c, const json_t *root)
{
	static const char *const keys[] = {"control", "rx", NULL};
	char path[AINFTP_PATH_LEN];
	char rx_path[AINFTP_PATH_LEN];
	uint32_t control = 0;
	json_t *obj;
	json_t *arr;
	uint16_t i;

	if (ainftp_get_object(c, root, "", "lcores", true, keys, &obj, path) < 0 ||
	    ainftp_get_u32(c, obj, path, "control", true, 0, AINFTP_MAX_LCORE - 1, &control) < 0 ||
	    ainftp_get_array(c, obj, path, "rx", 1, AINFTP_MAX_RX_BINDINGS, &arr, rx_path) < 0)
		return -1;
	c->cfg->control_lcore = control;
	for (i = 0; i < json_array_size(arr); i++) {
		if (ainftp_parse_binding(c, arr, rx_path, i) < 0)
			return -1;
	}
	c->cfg->n_rx = i;
	return 0;
}

/* A queue nobody polls fills up, and RSS keeps steering workers' packets into it. */
static int
ainftp_check_polled(struct ainftp_ctx *c, uint16_t port)
{
	const struct ainftp_config *cfg = c->cfg;
	char path[AINFTP_PATH_LEN];
	uint16_t q, i;

	for (q = 0; q < cfg->ports[port].rx_queues; q++) {
		for (i = 0; i < cfg->n_rx; i++) {
			if (cfg->rx[i].port == port && cfg->rx[i].queue == q)
				break;
		}
		if (i == cfg->n_rx) {
			snprintf(path, sizeof(path), "ports[%u].rx_queues", port);
			return ainftp_fail(c, path, "queue %u is polled by no lcore", q);
		}
	}
	return 0;
}

/* Every lcore that replies transmits on every port through a TX queue of its own. */
static int
ainftp_check_tx_queues(struct ainftp_ctx *c)
{
	const struct ainftp_config *cfg = c->cfg;
	unsigned int rx_lcores = ainftp_config_rx_lcore_count(cfg);
	unsigned int need = rx_lcores + 1;
	char path[AINFTP_PATH_LEN];
	uint16_t p, have;

	if (need > AINFTP_MAX_QUEUES)
		return ainftp_fail(c, "lcores.rx",
				   "%u RX lcores and the control lcore need %u TX queues per port, "
				   "more than %d",
				   rx_lcores, need, AINFTP_MAX_QUEUES);
	for (p = 0; p < cfg->n_ports; p++) {
		have = cfg->ports[p].tx_queues;
		if (have == 0 || have >= need)
			continue;
		snprintf(path, sizeof(path), "ports[%u].tx_queues", p);
		return ainftp_fail(c, path,
				   "%u TX queue%s %s too few: the %u RX lcore%s and the control "
				   "lcore need %u",
				   have, ainftp_plural(have), have == 1 ? "is" : "are", rx_lcores,
				   ainftp_plural(rx_lcores), need);
	}
	return 0;
}

static int
ainftp_check_queues(struct ainftp_ctx *c)
{
	uint16_t p;

	for (p = 0; p < c->cfg->n_ports; p++) {
		if (ainftp_check_polled(c, p) < 0)
			return -1;
	}
	return ainftp_check_tx_queues(c);
}

static uint16_t
ainftp_min_mtu(const struct ainftp_config *cfg)
{
	uint16_t mtu = AINFTP_MTU_MAX;
	uint16_t p;

	for (p = 0; p < cfg->n_ports; p++) {
		if (cfg->ports[p].mtu < mtu)
			mtu = cfg->ports[p].mtu;
	}
	return mtu;
}

/* Packets are never fragmented, so a whole chunk must fit in the smallest MTU. */
static int
ainftp_parse_payload(struct ainftp_ctx *c, const json_t *obj, const char *path,
		     struct ainftp_job_conf *job)
{
	char kpath[AINFTP_PATH_LEN];
	uint16_t mtu = ainftp_min_mtu(c->cfg);
	const struct ainftp_codec *codec;
	uint64_t bytes;

	if (ainftp_get_u32(c, obj, path, "elems_per_packet", true, 1, UINT32_MAX,
			   &job->elems_per_packet) < 0 ||
	    ainftp_get_encoding(c, obj, path, "encoding", false, &job->encoding) < 0)
		return -1;
	codec = ainftp_codec_get(job->encoding);
	ainftp_path_key(kpath, path, "elems_per_packet");
	if (job->elems_per_packet % codec->elems_multiple != 0)
		return ainftp_fail(c, kpath, "%u is not a multiple of %u, the %s block size",
				   job->elems_per_packet, codec->elems_multiple, codec->name);
	bytes = (uint64_t)codec->payload_len(job->elems_per_packet) + AINFTP_PKT_OVERHEAD;
	if (bytes > mtu)
		return ainftp_fail(c, kpath,
				   "%u %s elements need %llu bytes with headers, more than the "
				   "smallest port MTU (%u)",
				   job->elems_per_packet, ainftp_encoding_name(job->encoding),
				   (unsigned long long)bytes, mtu);
	return 0;
}

/* Bytes of a job's results in encoding enc, with headers. */
static uint64_t
ainftp_result_bytes(enum ainftp_encoding enc, const struct ainftp_job_conf *job)
{
	return (uint64_t)ainftp_payload_len(enc, job->elems_per_packet) + AINFTP_PKT_OVERHEAD;
}

/*
 * Results are never fragmented either: their encoding may be wider than the
 * contributions'. The error names the result encodings that would fit.
 */
static int
ainftp_check_result_size(struct ainftp_ctx *c, const char *path, const struct ainftp_job_conf *job)
{
	char kpath[AINFTP_PATH_LEN], fits[128] = "";
	const struct ainftp_codec *const *k;
	uint16_t mtu = ainftp_min_mtu(c->cfg);
	uint64_t bytes = ainftp_result_bytes(job->result_encoding, job);

	if (bytes <= mtu)
		return 0;
	for (k = ainftp_codec_list; *k != NULL; k++)
		if ((*k)->result_encode != NULL && ainftp_result_bytes((*k)->enc, job) <= mtu)
			snprintf(fits + strlen(fits), sizeof(fits) - strlen(fits), "%s\"%s\"",
				 fits[0] == '\0' ? ", or \"result_encoding\": " : " or ",
				 (*k)->name);
	ainftp_path_key(kpath, path, "elems_per_packet");
	return ainftp_fail(c, kpath,
			   "%u elements make %s results of %llu bytes with headers, more than the "
			   "smallest port MTU (%u): fewer elements%s",
			   job->elems_per_packet, ainftp_encoding_name(job->result_encoding),
			   (unsigned long long)bytes, mtu, fits);
}

static int
ainftp_check_worker_unique(struct ainftp_ctx *c, const char *path, const char *arr_path,
			   const struct ainftp_job_conf *job, uint16_t index)
{
	const struct ainftp_worker_conf *w = &job->workers[index];
	char kpath[AINFTP_PATH_LEN];
	char addr[INET_ADDRSTRLEN];
	uint16_t i;

	/* The parsed address, written here: no text of the file, so quoted as is. */
	inet_ntop(AF_INET, &w->ipv4, addr, sizeof(addr));
	for (i = 0; i < index; i++) {
		if (job->workers[i].id == w->id) {
			ainftp_path_key(kpath, path, "id");
			return ainftp_fail(c, kpath, "%u duplicates %s[%u].id", w->id, arr_path, i);
		}
		if (job->workers[i].ipv4 == w->ipv4) {
			ainftp_path_key(kpath, path, "ipv4");
			return ainftp_fail(c, kpath, "\"%s\" duplicates %s[%u].ipv4", addr,
					   arr_path, i);
		}
	}
	if (w->ipv4 == c->cfg->ipv4) {
		ainftp_path_key(kpath, path, "ipv4");
		return ainftp_fail(c, kpath, "\"%s\" is the appliance's address", addr);
	}
	return 0;
}

static int
ainftp_parse_worker(struct ainftp_ctx *c, const json_t *arr, const char *arr_path,
		    struct ainftp_job_conf *job, uint16_t index)
{
	static const char *const keys[] = {"id", "ipv4", "key", NULL};
	struct ainftp_worker_conf *w = &job->workers[index];
	char path[AINFTP_PATH_LEN];
	json_t *obj;

	if (ainftp_get_element(c, arr, index, arr_path, keys, &obj, path) < 0 ||
	    ainftp_get_u16(c, obj, path, "id", true, 0, AINFTP_MAX_WORKERS - 1, &w->id) < 0 ||
	    ainftp_get_ipv4(c, obj, path, "ipv4", &w->ipv4) < 0 ||
	    ainftp_check_worker_unique(c, path, arr_path, job, index) < 0)
		return -1;
	return ainftp_get_key(c, obj, path, job->auth, w->key);
}

static int
ainftp_parse_workers(struct ainftp_ctx *c, const json_t *obj, const char *path,
		     struct ainftp_job_conf *job)
{
	char arr_path[AINFTP_PATH_LEN];
	json_t *arr;
	uint16_t i;

	if (ainftp_get_array(c, obj, path, "workers", 1, AINFTP_MAX_WORKERS, &arr, arr_path) < 0)
		return -1;
	for (i = 0; i < json_array_size(arr); i++) {
		if (ainftp_parse_worker(c, arr, arr_path, job, i) < 0)
			return -1;
	}
	job->n_workers = i;
	return 0;
}

/* The fewest workers of any leaf: a leaf's min_quorum counts its own. */
static uint16_t
ainftp_smallest_leaf(const struct ainftp_job_conf *job)
{
	uint16_t n = AINFTP_MAX_WORKERS;
	uint8_t i;

	for (i = 0; i < job->n_leaves; i++) {
		uint16_t k = (uint16_t)__builtin_popcountll(job->leaves[i].workers);

		n = k < n ? k : n;
	}
	return n;
}

static int
ainftp_parse_straggler(struct ainftp_ctx *c, const json_t *job_obj, const char *job_path,
		       struct ainftp_job_conf *job)
{
	static const char *const keys[] = {"threshold_ms", "min_quorum", NULL};
	struct ainftp_straggler_conf *s = &job->straggler;
	char path[AINFTP_PATH_LEN];
	json_t *obj;

	s->threshold_ms = 500;
	/*
	 * A majority by default: a slow, dead or restarting worker does not hold the
	 * others back, and catches up by itself (protocol v2's STATE), while more
	 * than half of the job is in every result (docs/CONTROL.md).
	 */
	s->min_quorum = (uint16_t)(job->quorum / 2 + 1);
	/* With leaves: 0 until ainftp_config_box_view, each leaf's majority by default. */
	if (job->spine != 0)
		s->min_quorum = 0;
	if (ainftp_get_object(c, job_obj, job_path, "straggler", false, keys, &obj, path) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (ainftp_get_u32(c, obj, path, "threshold_ms", false, 1, 60000, &s->threshold_ms) < 0)
		return -1;
	return ainftp_get_u16(c, obj, path, "min_quorum", false, 1,
			      job->spine != 0 ? ainftp_smallest_leaf(job) : job->quorum,
			      &s->min_quorum);
}

/*
 * f is type- and range-checked whatever the policy, but only a rule that trims f
 * from each end (trimmed_mean) needs workers left over after dropping them.
 */
static int
ainftp_check_trim(struct ainftp_ctx *c, const char *path, const struct ainftp_job_conf *job)
{
	char kpath[AINFTP_PATH_LEN];

	if (!ainftp_sentry_rule(job->sentry.policy)->uses_trim_f ||
	    2 * job->sentry.trim_f < job->n_workers)
		return 0;
	ainftp_path_key(kpath, path, "f");
	return ainftp_fail(c, kpath, "%u is too large for %u worker%s: %s needs 2f < %u",
			   job->sentry.trim_f, job->n_workers, ainftp_plural(job->n_workers),
			   ainftp_sentry_name(job->sentry.policy), job->n_workers);
}

static int
ainftp_parse_sentry(struct ainftp_ctx *c, const json_t *job_obj, const char *job_path,
		    struct ainftp_job_conf *job)
{
	static const char *const keys[] = {"policy", "k", "f", "clip_norm", "suspicion_threshold",
					   NULL};
	struct ainftp_sentry_conf *s = &job->sentry;
	char path[AINFTP_PATH_LEN];
	json_t *obj;

	s->policy = AINFTP_SENTRY_NONE;
	s->zscore_k = 3.5;
	s->trim_f = 1;
	s->clip_norm = 1.0;
	s->suspicion_threshold = 0.5;
	if (ainftp_get_object(c, job_obj, job_path, "sentry", false, keys, &obj, path) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (ainftp_get_policy(c, obj, path, &s->policy) < 0 ||
	    ainftp_get_real(c, obj, path, "k", 0, 100, "(0, 100]", &s->zscore_k) < 0 ||
	    ainftp_get_u16(c, obj, path, "f", false, 1, AINFTP_MAX_WORKERS, &s->trim_f) < 0 ||
	    ainftp_get_real(c, obj, path, "clip_norm", 0, DBL_MAX, "(0, inf)", &s->clip_norm) < 0 ||
	    ainftp_get_real(c, obj, path, "suspicion_threshold", 0, 1, "(0, 1]",
			    &s->suspicion_threshold) < 0)
		return -1;
	return ainftp_check_trim(c, path, job);
}

static int
ainftp_check_job_id(struct ainftp_ctx *c, const char *path, uint16_t index)
{
	const struct ainftp_job_conf *jobs = c->cfg->jobs;
	char kpath[AINFTP_PATH_LEN];
	uint16_t i;

	for (i = 0; i < index; i++) {
		if (jobs[i].id == jobs[index].id) {
			ainftp_path_key(kpath, path, "id");
			return ainftp_fail(c, kpath, "%u duplicates jobs[%u].id", jobs[index].id,
					   i);
		}
	}
	return 0;
}

/*
 * The boxes the job is sharded over: unique unicast addresses, this box's
 * among them (its place is its shard index; a box that is not in the list
 * would sum chunks that no worker sends it). Absent: this box alone.
 */
static int
ainftp_parse_appliances(struct ainftp_ctx *c, const json_t *obj, const char *path,
			struct ainftp_job_conf *job)
{
	char arr_path[AINFTP_PATH_LEN], kpath[AINFTP_PATH_LEN], addr[INET_ADDRSTRLEN];
	json_t *arr;
	size_t i, j;

	job->shard_count = 1;
	job->shard_index = 0;
	job->appliances[0] = c->cfg->ipv4;
	if (json_object_get(obj, "appliances") == NULL)
		return 0;
	if (ainftp_get_array(c, obj, path, "appliances", 1, AINFTP_MAX_SHARDS, &arr, arr_path) < 0)
		return -1;
	job->shard_count = (uint8_t)json_array_size(arr);
	job->shard_index = job->shard_count;
	for (i = 0; i < job->shard_count; i++) {
		const json_t *v = json_array_get(arr, i);

		ainftp_path_index(kpath, arr_path, i);
		if (!json_is_string(v))
			return ainftp_fail(c, kpath, "expected an IPv4 string, got %s",
					   ainftp_type_name(v));
		if (ainftp_check_ipv4(c, kpath, json_string_value(v), &job->appliances[i]) < 0)
			return -1;
		/* The parsed address, written here: no text of the file, so quoted as is. */
		inet_ntop(AF_INET, &job->appliances[i], addr, sizeof(addr));
		for (j = 0; j < i; j++)
			if (job->appliances[j] == job->appliances[i])
				return ainftp_fail(c, kpath, "\"%s\" duplicates %s[%zu]", addr,
						   arr_path, j);
		if (job->appliances[i] == c->cfg->ipv4)
			job->shard_index = (uint8_t)i;
	}
	if (job->shard_index == job->shard_count) {
		inet_ntop(AF_INET, &c->cfg->ipv4, addr, sizeof(addr));
		return ainftp_fail(c, arr_path,
				   "does not list this appliance (appliance.ipv4 \"%s\"): each "
				   "box runs its own cluster.json, with its own address among the "
				   "job's appliances",
				   addr);
	}
	return 0;
}

/* One leaf's workers: ids of the job's workers, none in an earlier leaf. */
static int
ainftp_parse_leaf_workers(struct ainftp_ctx *c, const json_t *obj, const char *path,
			  struct ainftp_job_conf *job, uint64_t *taken, struct ainftp_leaf_conf *l)
{
	char arr_path[AINFTP_PATH_LEN], kpath[AINFTP_PATH_LEN];
	uint64_t known = 0;
	json_t *arr;
	size_t i;

	for (i = 0; i < job->n_workers; i++)
		known |= UINT64_C(1) << job->workers[i].id;
	if (ainftp_get_array(c, obj, path, "workers", 1, AINFTP_MAX_WORKERS, &arr, arr_path) < 0)
		return -1;
	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);
		json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;

		ainftp_path_index(kpath, arr_path, i);
		if (id < 0 || id >= AINFTP_MAX_WORKERS || !(known >> id & 1))
			return ainftp_fail(c, kpath, "expected the id of one of the job's workers");
		if (*taken >> id & 1)
			return ainftp_fail(c, kpath, "worker %d is in another leaf already",
					   (int)id);
		*taken |= UINT64_C(1) << id;
		l->workers |= UINT64_C(1) << id;
	}
	return 0;
}

static int
ainftp_parse_leaf(struct ainftp_ctx *c, const json_t *arr, const char *arr_path,
		  struct ainftp_job_conf *job, uint8_t index, uint64_t *taken)
{
	static const char *const keys[] = {"appliance", "key", "workers", NULL};
	struct ainftp_leaf_conf *l = &job->leaves[index];
	char path[AINFTP_PATH_LEN], kpath[AINFTP_PATH_LEN], addr[INET_ADDRSTRLEN];
	json_t *obj;
	uint8_t i;

	if (ainftp_get_element(c, arr, index, arr_path, keys, &obj, path) < 0 ||
	    ainftp_get_ipv4(c, obj, path, "appliance", &l->ipv4) < 0)
		return -1;
	ainftp_path_key(kpath, path, "appliance");
	inet_ntop(AF_INET, &l->ipv4, addr, sizeof(addr));
	for (i = 0; i < index; i++)
		if (job->leaves[i].ipv4 == l->ipv4)
			return ainftp_fail(c, kpath, "\"%s\" duplicates %s[%u].appliance", addr,
					   arr_path, i);
	if (l->ipv4 == job->spine)
		return ainftp_fail(c, kpath, "\"%s\" is the job's spine", addr);
	for (i = 0; i < job->n_workers; i++)
		if (job->workers[i].ipv4 == l->ipv4)
			return ainftp_fail(c, kpath, "\"%s\" is worker %u's address", addr,
					   job->workers[i].id);
	if (l->ipv4 == c->cfg->ipv4) {
		job->role = AINFTP_ROLE_LEAF;
		job->leaf_index = index;
	}
	if (ainftp_get_key(c, obj, path, job->auth, l->key) < 0)
		return -1;
	return ainftp_parse_leaf_workers(c, obj, path, job, taken, l);
}

/*
 * A hierarchy: "spine" (an address) and "leaves" (2..16 boxes, each with its
 * key and its workers), together or neither, not with "appliances"; every
 * worker in exactly one leaf, and this box the spine or a leaf.
 */
static int
ainftp_parse_hierarchy(struct ainftp_ctx *c, const json_t *obj, const char *path,
		       struct ainftp_job_conf *job)
{
	char arr_path[AINFTP_PATH_LEN], kpath[AINFTP_PATH_LEN], addr[INET_ADDRSTRLEN];
	bool has_spine = json_object_get(obj, "spine") != NULL;
	uint64_t taken = 0;
	json_t *arr;
	uint8_t i;

	job->role = AINFTP_ROLE_BOX;
	if (!has_spine && json_object_get(obj, "leaves") == NULL)
		return 0;
	ainftp_path_key(kpath, path, has_spine ? "leaves" : "spine");
	if (!has_spine || json_object_get(obj, "leaves") == NULL)
		return ainftp_fail(c, kpath,
				   "missing: a hierarchy needs both \"spine\" and "
				   "\"leaves\"");
	if (json_object_get(obj, "appliances") != NULL) {
		ainftp_path_key(kpath, path, "appliances");
		return ainftp_fail(c, kpath, "a job with leaves and a spine is not sharded too");
	}
	if (ainftp_get_ipv4(c, obj, path, "spine", &job->spine) < 0 ||
	    ainftp_get_array(c, obj, path, "leaves", 2, AINFTP_MAX_LEAVES, &arr, arr_path) < 0)
		return -1;
	if (job->spine == c->cfg->ipv4)
		job->role = AINFTP_ROLE_SPINE;
	for (i = 0; i < job->n_workers; i++)
		if (job->workers[i].ipv4 == job->spine) {
			ainftp_path_key(kpath, path, "spine");
			inet_ntop(AF_INET, &job->spine, addr, sizeof(addr));
			return ainftp_fail(c, kpath, "\"%s\" is worker %u's address", addr,
					   job->workers[i].id);
		}
	job->n_leaves = (uint8_t)json_array_size(arr);
	for (i = 0; i < job->n_leaves; i++)
		if (ainftp_parse_leaf(c, arr, arr_path, job, i, &taken) < 0)
			return -1;
	for (i = 0; i < job->n_workers; i++)
		if (!(taken >> job->workers[i].id & 1))
			return ainftp_fail(c, arr_path, "worker %u is in no leaf",
					   job->workers[i].id);
	if (job->role == AINFTP_ROLE_BOX) {
		inet_ntop(AF_INET, &c->cfg->ipv4, addr, sizeof(addr));
		return ainftp_fail(
			c, arr_path,
			"this appliance (appliance.ipv4 \"%s\") is neither the job's "
			"spine nor one of its leaves: each box runs its own cluster.json",
			addr);
	}
	return 0;
}

/*
 * In a hierarchy the quorum is each leaf's, over its own workers: "quorum"
 * has no single meaning there, and robust rules need every worker's row in
 * one box (a leaf's median is not the job's).
 */
static int
ainftp_check_hierarchy(struct ainftp_ctx *c, const json_t *obj, const char *path,
		       const struct ainftp_job_conf *job)
{
	char kpath[AINFTP_PATH_LEN];

	if (job->spine == 0)
		return 0;
	if (ainftp_hier_parts(job, ainftp_min_mtu(c->cfg)) > AINFTP_MAX_PARTS) {
		ainftp_path_key(kpath, path, "elems_per_packet");
		return ainftp_fail(
			c, kpath,
			"%u elements make partial sums of %u frames at MTU %u, more than "
			"%u: fewer elements, or a larger MTU",
			job->elems_per_packet, ainftp_hier_parts(job, ainftp_min_mtu(c->cfg)),
			ainftp_min_mtu(c->cfg), AINFTP_MAX_PARTS);
	}
	if (json_object_get(obj, "quorum") != NULL) {
		ainftp_path_key(kpath, path, "quorum");
		return ainftp_fail(c, kpath,
				   "not for a job with leaves: each leaf waits for its "
				   "own workers (straggler.min_quorum counts them)");
	}
	/*
	 * The leaves judge their own workers. A rule that keeps rows needs every
	 * worker's in one box, and clip adds floats (31-bit contributions) that
	 * the spine could not tell from the job's own width when it merges.
	 */
	if (job->sentry.policy != AINFTP_SENTRY_NONE &&
	    job->sentry.policy != AINFTP_SENTRY_ZSCORE) {
		ainftp_path_key(kpath, path, "sentry");
		return ainftp_fail(c, kpath,
				   "policy %s is not for a job with leaves (none or zscore: each "
				   "leaf judges its own workers)",
				   ainftp_sentry_name(job->sentry.policy));
	}
	return 0;
}

/* Workers come before quorum, straggler and sentry: their ranges depend on the count. */
static int
ainftp_parse_job(struct ainftp_ctx *c, const json_t *arr, const char *arr_path, uint16_t index)
{
	static const char *const keys[] = {"id",	"port",
					   "slots",	"elems_per_packet",
					   "encoding",	"result_encoding",
					   "auth",	"result_tags",
					   "auth_mac",	"quorum",
					   "straggler", "sentry",
					   "workers",	"appliances",
					   "spine",	"leaves",
					   NULL};
	struct ainftp_job_conf *job = &c->cfg->jobs[index];
	char path[AINFTP_PATH_LEN];
	json_t *obj;

	job->slots = AINFTP_DEFAULT_SLOTS;
	job->auth = true;
	job->result_tags = true;
	job->auth_mac = AINFTP_MAC_SIPHASH;
	job->result_encoding = AINFTP_ENC_FLOAT32;
	if (ainftp_get_element(c, arr, index, arr_path, keys, &obj, path) < 0 ||
	    ainftp_get_u32(c, obj, path, "id", true, 0, UINT32_MAX, &job->id) < 0 ||
	    ainftp_check_job_id(c, path, index) < 0 ||
	    ainftp_get_u16(c, obj, path, "port", false, 0, (uint16_t)(c->cfg->n_ports - 1),
			   &job->port) < 0 ||
	    ainftp_get_pow2(c, obj, path, "slots", 1, 65536, &job->slots) < 0 ||
	    ainftp_parse_payload(c, obj, path, job) < 0 ||
	    ainftp_get_encoding(c, obj, path, "result_encoding", true, &job->result_encoding) < 0 ||
	    ainftp_get_bool(c, obj, path, "auth", &job->auth) < 0 ||
	    ainftp_get_bool(c, obj, path, "result_tags", &job->result_tags) < 0 ||
	    ainftp_get_mac_alg(c, obj, path, &job->auth_mac) < 0 ||
	    ainftp_parse_appliances(c, obj, path, job) < 0 ||
	    ainftp_parse_workers(c, obj, path, job) < 0 ||
	    ainftp_parse_hierarchy(c, obj, path, job) < 0)
		return -1;
	if (ainftp_check_result_size(c, path, job) < 0)
		return -1;
	job->quorum = job->n_workers;
	if (ainftp_get_u16(c, obj, path, "quorum", false, 1, job->n_workers, &job->quorum) < 0 ||
	    ainftp_parse_straggler(c, obj, path, job) < 0 ||
	    ainftp_parse_sentry(c, obj, path, job) < 0)
		return -1;
	return ainftp_check_hierarchy(c, obj, path, job);
}

static int
ainftp_parse_jobs(struct ainftp_ctx *c, const json_t *root)
{
	char path[AINFTP_PATH_LEN];
	json_t *arr;
	uint16_t i;

	if (ainftp_get_array(c, root, "", "jobs", 1, AINFTP_MAX_JOBS, &arr, path) < 0)
		return -1;
	for (i = 0; i < json_array_size(arr); i++) {
		if (ainftp_parse_job(c, arr, path, i) < 0)
			return -1;
	}
	c->cfg->n_jobs = i;
	return 0;
}

uint32_t
ainftp_hier_bpp(uint16_t mtu)
{
	return ainftp_part_bpp((size_t)mtu - AINFTP_PKT_OVERHEAD);
}

uint32_t
ainftp_hier_parts(const struct ainftp_job_conf *job, uint16_t mtu)
{
	uint32_t bpp = ainftp_hier_bpp(mtu);

	return bpp == 0 ? UINT32_MAX : ainftp_part_count(job->elems_per_packet, bpp);
}

int
ainftp_config_leaf_of(const struct ainftp_job_conf *job, uint16_t worker)
{
	uint8_t i;

	for (i = 0; i < job->n_leaves && worker < AINFTP_MAX_WORKERS; i++)
		if (job->leaves[i].workers >> worker & 1)
			return i;
	return -1;
}

/* A leaf keeps its own workers, and waits for them as one box would. */
static void
ainftp_leaf_view(struct ainftp_job_conf *job)
{
	uint64_t mine = job->leaves[job->leaf_index].workers;
	uint16_t i, n = 0;

	for (i = 0; i < job->n_workers; i++)
		if (mine >> job->workers[i].id & 1)
			job->workers[n++] = job->workers[i];
	memset(&job->workers[n], 0, (size_t)(job->n_workers - n) * sizeof(job->workers[0]));
	job->n_workers = n;
	job->quorum = n;
	if (job->straggler.min_quorum == 0)
		job->straggler.min_quorum = (uint16_t)(n / 2 + 1);
}

/* The spine's contributors are the leaves, every one in every result. */
static void
ainftp_spine_view(struct ainftp_job_conf *job)
{
	uint8_t i;

	memset(job->workers, 0, sizeof(job->workers));
	for (i = 0; i < job->n_leaves; i++) {
		job->workers[i].id = i;
		job->workers[i].ipv4 = job->leaves[i].ipv4;
		memcpy(job->workers[i].key, job->leaves[i].key, AINFTP_KEY_BYTES);
	}
	job->n_workers = job->n_leaves;
	job->quorum = job->n_leaves;
	job->straggler.min_quorum = job->n_leaves;
	job->sentry.policy = AINFTP_SENTRY_NONE; /* the leaves judged their workers */
}

void
ainftp_config_box_view(struct ainftp_config *cfg)
{
	uint16_t j;

	for (j = 0; j < cfg->n_jobs; j++) {
		if (cfg->jobs[j].role == AINFTP_ROLE_LEAF)
			ainftp_leaf_view(&cfg->jobs[j]);
		else if (cfg->jobs[j].role == AINFTP_ROLE_SPINE)
			ainftp_spine_view(&cfg->jobs[j]);
	}
}

int
ainftp_listen_parse(const char *s, uint32_t *ipv4, uint16_t *port, char *why, size_t len)
{
	const char *colon = strrchr(s, ':'), *ps = colon != NULL ? colon + 1 : s;
	char host[INET_ADDRSTRLEN] = "127.0.0.1";
	struct in_addr a;
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(ps, &end, 10);
	if (*ps < '0' || *ps > '9' || *end != '\0' || errno != 0 || v > 65535) {
		snprintf(why, len, "the port is not a whole number in 0..65535");
		return -1;
	}
	if (colon != NULL) {
		if (colon == s || (size_t)(colon - s) >= sizeof(host)) {
			snprintf(why, len, "expected ADDR:PORT or PORT, ADDR an IPv4 address");
			return -1;
		}
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (inet_pton(AF_INET, host, &a) != 1) {
		snprintf(why, len, "the address is not an IPv4 address");
		return -1;
	}
	*ipv4 = a.s_addr;
	*port = (uint16_t)v;
	return 0;
}

static int
ainftp_parse_prometheus(struct ainftp_ctx *c, const json_t *obj, const char *path)
{
	char kpath[AINFTP_PATH_LEN], echo[AINFTP_ECHO_LEN], why[96];
	const char *s;

	if (ainftp_get_string(c, obj, path, "prometheus", false, &s) < 0)
		return -1;
	if (s == NULL)
		return 0;
	ainftp_path_key(kpath, path, "prometheus");
	ainftp_echo(echo, s, "string");
	if (ainftp_listen_parse(s, &c->cfg->prometheus_ipv4, &c->cfg->prometheus_port, why,
				sizeof(why)) < 0)
		return ainftp_fail(c, kpath, "%s: %s", echo, why);
	if (c->cfg->prometheus_port == 0)
		return ainftp_fail(c, kpath, "%s: port 0 is not a port to scrape", echo);
	c->cfg->prometheus = true;
	return 0;
}

static int
ainftp_parse_telemetry(struct ainftp_ctx *c, const json_t *root)
{
	static const char *const keys[] = {"enabled", "stats_interval_s", "prometheus", NULL};
	char path[AINFTP_PATH_LEN];
	json_t *obj;

	c->cfg->telemetry = true;
	c->cfg->stats_interval_s = 1;
	if (ainftp_get_object(c, root, "", "telemetry", false, keys, &obj, path) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (ainftp_get_bool(c, obj, path, "enabled", &c->cfg->telemetry) < 0 ||
	    ainftp_parse_prometheus(c, obj, path) < 0)
		return -1;
	return ainftp_get_u32(c, obj, path, "stats_interval_s", false, 0, 3600,
			      &c->cfg->stats_interval_s);
}

/* What the control lcore does besides statistics: heartbeats to every worker. */
static int
ainftp_parse_control(struct ainftp_ctx *c, const json_t *root)
{
	static const char *const keys[] = {"heartbeat_interval_ms", NULL};
	char path[AINFTP_PATH_LEN], kpath[AINFTP_PATH_LEN];
	uint32_t *ms = &c->cfg->heartbeat_interval_ms;
	json_t *obj;

	*ms = AINFTP_DEFAULT_HEARTBEAT_MS;
	if (ainftp_get_object(c, root, "", "control", false, keys, &obj, path) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (ainftp_get_u32(c, obj, path, "heartbeat_interval_ms", false, 0, AINFTP_HEARTBEAT_MS_MAX,
			   ms) < 0)
		return -1;
	if (*ms == 0 || *ms >= AINFTP_HEARTBEAT_MS_MIN)
		return 0;
	ainftp_path_key(kpath, path, "heartbeat_interval_ms");
	return ainftp_fail(c, kpath, "%u is out of range (0 for none, or %u..%u)", *ms,
			   AINFTP_HEARTBEAT_MS_MIN, AINFTP_HEARTBEAT_MS_MAX);
}

/*
 * The result sink's consumers (ainftp-sink-read, ainftp-sink-follow, the GPU
 * consumer: docs/SINK.md) read a result as floats, or as int16 at the one
 * exponent its mark holds. int8 results keep an exponent per block inside the
 * payload, which they do not read: refused while the sink is on.
 */
static int
ainftp_check_sink_encodings(struct ainftp_ctx *c)
{
	char kpath[AINFTP_PATH_LEN];
	uint16_t j;

	if (c->cfg->sink.backend == AINFTP_SINK_OFF)
		return 0;
	for (j = 0; j < c->cfg->n_jobs; j++) {
		enum ainftp_encoding enc = c->cfg->jobs[j].result_encoding;

		if (enc == AINFTP_ENC_FLOAT32 || enc == AINFTP_ENC_INT16)
			continue;
		snprintf(kpath, sizeof(kpath), "jobs[%u].result_encoding", j);
		return ainftp_fail(c, kpath,
				   "\"%s\" results have an exponent per block, which the result "
				   "sink's consumers do not read: \"float32\" or \"int16\" with "
				   "\"sink\", or no \"sink\"",
				   ainftp_encoding_name(enc));
	}
	return 0;
}

/*
 * The result sink. Absent: off, so an appliance that never asked for an arena
 * makes no file; present, its backend defaults to auto (a GPU when there is
 * one, host memory otherwise).
 */
static int
ainftp_parse_sink(struct ainftp_ctx *c, const json_t *root)
{
	static const char *const keys[] = {"backend", "device", "path", NULL};
	struct ainftp_sink_conf *sk = &c->cfg->sink;
	char path[AINFTP_PATH_LEN], kpath[AINFTP_PATH_LEN];
	int backend = AINFTP_SINK_AUTO;
	const char *file;
	json_t *obj;

	sk->backend = AINFTP_SINK_OFF;
	if (ainftp_get_object(c, root, "", "sink", false, keys, &obj, path) < 0)
		return -1;
	if (obj == NULL)
		return 0;
	if (ainftp_get_enum(c, obj, path, "backend", false, ainftp_sink_backends, &backend) < 0 ||
	    ainftp_get_u16(c, obj, path, "device", false, 0, 1023, &sk->device) < 0 ||
	    ainftp_get_string(c, obj, path, "path", false, &file) < 0)
		return -1;
	sk->backend = backend;
	if (ainftp_check_sink_encodings(c) < 0)
		return -1;
	if (file == NULL)
		return 0;
	ainftp_path_key(kpath, path, "path");
	if (file[0] != '/')
		return ainftp_fail(c, kpath, "must be an absolute path");
	if (strlen(file) >= sizeof(sk->path))
		return ainftp_fail(c, kpath, "longer than %zu characters", sizeof(sk->path) - 1);
	snprintf(sk->path, sizeof(sk->path), "%s", file);
	return 0;
}

/* Sections in dependency order: lcores need the ports, jobs need both. */
static int
ainftp_parse_root(struct ainftp_ctx *c, const json_t *root)
{
	static const char *const keys[] = {"appliance", "ports",   "lcores", "jobs",
					   "telemetry", "control", "sink",   NULL};

	if (ainftp_expect(c, root, "", AINFTP_OBJECT) < 0 ||
	    ainftp_check_keys(c, root, "", keys) < 0 || ainftp_parse_appliance(c, root) < 0 ||
	    ainftp_parse_ports(c, root) < 0 || ainftp_parse_lcores(c, root) < 0 ||
	    ainftp_check_queues(c) < 0 || ainftp_parse_jobs(c, root) < 0 ||
	    ainftp_parse_control(c, root) < 0 || ainftp_parse_sink(c, root) < 0)
		return -1;
	return ainftp_parse_telemetry(c, root);
}

/*
 * jansson ends most syntax errors with "near '<input>'". That input may be part
 * of a key, so it is cut off; line and column still point at the spot.
 */
static void
ainftp_syntax_error(struct ainftp_ctx *c, const json_error_t *jerr)
{
	char text[JSON_ERROR_TEXT_LENGTH];
	char *near;

	memcpy(text, jerr->text, sizeof(text));
	text[sizeof(text) - 1] = '\0';
	near = strstr(text, " near '");
	if (near != NULL)
		*near = '\0';
	ainftp_write_err(c, "%s:%d:%d: JSON syntax error: %s", c->source, jerr->line, jerr->column,
			 text);
}

static int
ainftp_parse_text(const char *text, size_t len, const char *source, struct ainftp_config *cfg,
		  char *err, size_t errlen)
{
	struct ainftp_ctx c = {.source = source, .err = err, .errlen = errlen, .cfg = cfg};
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->source, sizeof(cfg->source), "%s", source);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		ainftp_syntax_error(&c, &jerr);
		return -1;
	}
	rc = ainftp_parse_root(&c, root);
	json_decref(root);
	return rc;
}

int
ainftp_config_parse(const char *json, const char *source, struct ainftp_config *cfg, char *err,
		    size_t errlen)
{
	return ainftp_parse_text(json, strlen(json), source, cfg, err, errlen);
}

/*
 * The file is read whole, so that a NUL byte inside it is a syntax error
 * rather than the silent end of the text.
 */
int
ainftp_config_load(const char *path, struct ainftp_config *cfg, char *err, size_t errlen)
{
	struct ainftp_ctx c = {.source = path, .err = err, .errlen = errlen, .cfg = cfg};
	char *buf;
	FILE *f;
	size_t len;
	int rc = -1;

	f = fopen(path, "rb");
	if (f == NULL) {
		ainftp_write_err(&c, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(AINFTP_FILE_MAX + 1);
	if (buf == NULL) {
		ainftp_write_err(&c, "%s: cannot read: %s", path, strerror(ENOMEM));
		fclose(f);
		return -1;
	}
	len = fread(buf, 1, AINFTP_FILE_MAX + 1, f);
	if (ferror(f))
		ainftp_write_err(&c, "%s: cannot read: %s", path, strerror(errno));
	else if (len > AINFTP_FILE_MAX)
		ainftp_write_err(&c, "%s: larger than 1 MiB", path);
	else
		rc = ainftp_parse_text(buf, len, path, cfg, err, errlen);
	free(buf);
	fclose(f);
	return rc;
}
