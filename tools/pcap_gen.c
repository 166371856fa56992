/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ainftp-pcap-gen: a capture with one ainftp message of every type, versions
 * 1 and 2, and what a correct dissector must decode from each, for
 * tests/test_dissector.sh and contrib/wireshark/ainftp.lua.
 *
 *   ainftp-pcap-gen OUT.pcap > expected.tsv
 *
 * The messages are built with lib/wire's own functions (ainftp_hdr_write,
 * ainftp_hello_write, ainftp_state_write, ainftp_tag), so the capture is what
 * the appliance and the clients put on the wire, not a second reading of the
 * spec. The TSV has a first row of tshark field names (the test passes them to
 * `tshark -T fields -e` in that order) and then one row per frame, each cell
 * as `tshark -T fields` prints it, empty where the field must be absent.
 *
 * Classic pcap (microsecond timestamps, little-endian), Ethernet II, IPv4
 * 10.99.0.0/24: the workers are 10.99.0.11 + id, the appliance 10.99.0.1.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_opt.h"
#include "ainftp_proto.h"

#define BASE_PORT 47474
#define WORKER_PORT 40000 /* the workers' source port */
#define MAX_DGRAM 1024	  /* every message here is small */

/* The tshark fields the test compares, in the TSV's column order. */
enum col {
	C_VERSION,
	C_TYPE,
	C_ENCODING,
	C_FLAGS,
	C_AUTH,
	C_OVERFLOW,
	C_AGGREGATE,
	C_JOB,
	C_WORKER,
	C_ELEMS,
	C_STEP,
	C_CHUNK,
	C_SLOT,
	C_SCALE_EXP,
	C_CONTRIBUTORS,
	C_BITMAP,
	C_LEN,
	C_EXPECTED_LEN,
	C_PAYLOAD_LEN,
	C_INT8_EXPONENTS,
	C_TAG,
	C_HELLO_SLOTS,
	C_HELLO_LANES,
	C_HELLO_RESULT_ENC,
	C_HELLO_STATUS,
	C_HELLO_STEP,
	C_HELLO_AUTH,
	C_HELLO_SHARD,
	C_HELLO_SHARDS,
	C_HELLO_NONCE,
	C_REQ_ELEMS,
	C_REQ_OP,
	C_STATE_SLOT_STEP,
	C_STATE_SLOT_CHUNK,
	C_STATE_NEXT_STEP,
	C_STATE_REASON,
	C_STATE_SLOT_STATE,
	C_TRUNCATED,
	C_TRAILING,
	C_BAD_VERSION,
	C_BAD_TYPE,
	C_MAX
};

static const char *const col_names[C_MAX] = {
	[C_VERSION] = "ainftp.version",
	[C_TYPE] = "ainftp.type",
	[C_ENCODING] = "ainftp.encoding",
	[C_FLAGS] = "ainftp.flags",
	[C_AUTH] = "ainftp.flags.auth",
	[C_OVERFLOW] = "ainftp.flags.overflow",
	[C_AGGREGATE] = "ainftp.flags.aggregate",
	[C_JOB] = "ainftp.job",
	[C_WORKER] = "ainftp.worker",
	[C_ELEMS] = "ainftp.elems",
	[C_STEP] = "ainftp.step",
	[C_CHUNK] = "ainftp.chunk",
	[C_SLOT] = "ainftp.slot",
	[C_SCALE_EXP] = "ainftp.scale_exp",
	[C_CONTRIBUTORS] = "ainftp.contributors",
	[C_BITMAP] = "ainftp.bitmap",
	[C_LEN] = "ainftp.len",
	[C_EXPECTED_LEN] = "ainftp.expected_len",
	[C_PAYLOAD_LEN] = "ainftp.payload_len",
	[C_INT8_EXPONENTS] = "ainftp.int8.exponents",
	[C_TAG] = "ainftp.tag",
	[C_HELLO_SLOTS] = "ainftp.hello.slots",
	[C_HELLO_LANES] = "ainftp.hello.lanes",
	[C_HELLO_RESULT_ENC] = "ainftp.hello.result_encoding",
	[C_HELLO_STATUS] = "ainftp.hello.status",
	[C_HELLO_STEP] = "ainftp.hello.step",
	[C_HELLO_AUTH] = "ainftp.hello.auth",
	[C_HELLO_SHARD] = "ainftp.hello.shard",
	[C_HELLO_SHARDS] = "ainftp.hello.shards",
	[C_HELLO_NONCE] = "ainftp.hello.nonce",
	[C_REQ_ELEMS] = "ainftp.req.elems",
	[C_REQ_OP] = "ainftp.req.op",
	[C_STATE_SLOT_STEP] = "ainftp.state.slot_step",
	[C_STATE_SLOT_CHUNK] = "ainftp.state.slot_chunk",
	[C_STATE_NEXT_STEP] = "ainftp.state.next_step",
	[C_STATE_REASON] = "ainftp.state.reason",
	[C_STATE_SLOT_STATE] = "ainftp.state.slot_state",
	/* Expert items are FT_NONE: tshark prints their presence as an empty cell, so
	 * the test asks for the generated length fields above and these by filter. */
	[C_TRUNCATED] = "ainftp.expert.truncated",
	[C_TRAILING] = "ainftp.expert.trailing",
	[C_BAD_VERSION] = "ainftp.expert.version",
	[C_BAD_TYPE] = "ainftp.expert.type",
};

/* One frame of the capture: a message and what is done to it on the way. */
struct spec {
	uint8_t version; /* the header's version byte (1, 2, or an unknown one) */
	struct ainftp_msg m;
	struct ainftp_hello_info hello; /* HELLO, HELLO_ACK in v2 */
	struct ainftp_state_info state; /* STATE in v2 */
	uint16_t dport;			/* 0: BASE_PORT + lane of the slot (mod 16) */
	int cut;			/* bytes cut off the end: a truncated datagram */
	int extra;			/* bytes of junk added at the end */
	bool raw;			/* not ainftp at all: random bytes on a port of none */
};

struct dgram {
	uint8_t b[MAX_DGRAM];
	size_t len;
	/* Where the decodable parts landed, for the expected row. */
	size_t tag_off, payload_len, body_len;
	bool has_tag;
};

struct row {
	char cell[C_MAX][80];
};

static const uint8_t test_key[AINFTP_KEY_BYTES] = {
	0,  1,	2,  3,	4,  5,	6,  7,	8,  9,	10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

#define MSG(t, e, fl, j, w, n, st, ch, sl, se, co, bm)                                      \
	{                                                                                   \
		.type = (t), .encoding = (e), .flags = (fl), .job = (j), .worker = (w),     \
		.elems = (n), .step = (st), .chunk = (ch), .slot = (sl), .scale_exp = (se), \
		.contributors = (co), .bitmap = (bm)                                        \
	}

enum { F32 = 0, I16 = 1, I8 = 2 };
#define AUTH AINFTP_F_AUTH
#define BOX AINFTP_WORKER_APPLIANCE

static const struct spec frames[] = {
	/* DATA in each encoding, with and without a tag; int8 over 1, 2 and 3 blocks. */
	{.version = 2, .m = MSG(1, F32, 0, 1, 0, 4, 3, 17, 17, 0, 0, 0)},
	{.version = 2, .m = MSG(1, F32, AUTH, 1, 1, 4, 3, 18, 18, 0, 0, 0)},
	{.version = 2, .m = MSG(1, I16, AUTH, 2, 0, 9, 7, 1, 1, -7, 0, 0)},
	{.version = 2, .m = MSG(1, I16, 0, 2, 1, 9, 7, 2, 2, -128, 0, 0)},
	{.version = 2, .m = MSG(1, I8, 0, 3, 2, 40, 0, 0, 0, 0, 0, 0)},
	{.version = 2, .m = MSG(1, I8, AUTH, 3, 3, 70, 4294967295u, 65536, 0, 0, 0, 0)},
	{.version = 2, .m = MSG(1, I8, AUTH, 3, 63, 5, 1, 3, 3, 0, 0, 0)},
	/* A leaf box's sum (AGGREGATE), on a lane port. */
	{.version = 2, .m = MSG(1, F32, AUTH | AINFTP_F_AGGREGATE, 9, 5, 2, 8, 5, 5, 0, 3, 0x7)},
	/* RESULTs: v2's tag right after the header; OVERFLOW. */
	{.version = 2, .m = MSG(2, F32, AUTH, 1, BOX, 4, 3, 17, 17, 0, 2, 0x3)},
	{.version = 2, .m = MSG(2, I16, AUTH | AINFTP_F_OVERFLOW, 2, BOX, 9, 7, 1, 1, -5, 4, 0xf)},
	{.version = 2, .m = MSG(2, F32, 0, 1, BOX, 4, 3, 18, 18, 0, 2, 0x3)},
	/* Heartbeats: the sequence in step, the TSC in bitmap. */
	{.version = 2, .m = MSG(3, 0, 0, 1, BOX, 0, 12, 0, 0, 0, 0, 0x0123456789abcdefull)},
	{.version = 2, .m = MSG(4, 0, AUTH, 1, 1, 0, 12, 0, 0, 0, 0, 0x0123456789abcdefull)},
	/* HELLO and HELLO_ACK with their bodies: the nonce in bitmap. */
	{.version = 2,
	 .m = MSG(5, I8, AUTH, 3, 2, 4448, 0, 0, 0, 0, 0, 0xfedcba9876543210ull),
	 .hello = {.slots = 256,
		   .lanes = 2,
		   .result_encoding = I16,
		   .auth = 1,
		   .shard = 1,
		   .shards = 2}},
	{.version = 2,
	 .m = MSG(6, I8, AUTH, 3, 2, 4448, 0, 0, 0, 0, 0, 0xfedcba9876543210ull),
	 .hello = {.slots = 256,
		   .lanes = 2,
		   .result_encoding = I16,
		   .status = 3,
		   .step = 42,
		   .auth = 1,
		   .shard = 0,
		   .shards = 2}},
	{.version = 2,
	 .m = MSG(6, F32, 0, 77, 9, 356, 0, 0, 0, 0, 0, 0x1122334455667788ull),
	 .hello = {.slots = 0, .lanes = 0, .status = AINFTP_HELLO_JOB}},
	/* STATE and PROBE. */
	{.version = 2,
	 .m = MSG(7, F32, AUTH, 1, BOX, 0, 3, 17, 17, 0, 1, 0x2),
	 .state = {.slot_step = 4,
		   .slot_chunk = 17,
		   .next_step = 5,
		   .reason = AINFTP_STATE_STALE,
		   .slot_state = AINFTP_SLOT_WIRE_SUMMING}},
	{.version = 2,
	 .m = MSG(7, F32, 0, 1, BOX, 0, 3, 18, 18, 0, 0, 0),
	 .state = {.slot_step = 2,
		   .slot_chunk = 18,
		   .next_step = 3,
		   .reason = AINFTP_STATE_HAVE,
		   .slot_state = AINFTP_SLOT_WIRE_DONE}},
	{.version = 2, .m = MSG(8, F32, AUTH, 1, 0, 0, 3, 17, 17, 0, 0, 0)},
	/*
	 * Version 1: the known-answer header of docs/PROTOCOL.md (its tag here is of
	 * this build's key derivation, which names v2), a RESULT with its tag after
	 * the payload, a bodiless HELLO.
	 */
	{.version = 1,
	 .m = MSG(1, I8, AUTH, 0x01020304, 7, 40, 0x11223344, 0x55667788, 0x88, -3, 0, 0)},
	{.version = 1, .m = MSG(2, F32, 0, 1, BOX, 4, 3, 17, 17, 0, 2, 0x3)},
	{.version = 1, .m = MSG(2, F32, AUTH, 1, BOX, 4, 3, 19, 19, 0, 2, 0x3)},
	{.version = 1, .m = MSG(5, F32, AUTH, 1, 0, 356, 0, 0, 0, 0, 0, 0x55)},
	/* On a port of none: found by the heuristic. */
	{.version = 2, .m = MSG(1, F32, AUTH, 1, 0, 4, 3, 20, 20, 0, 0, 0), .dport = 50000},
	/* Not ainftp, on a port of none: the heuristic must leave it (frame 25 of the test). */
	{.version = 2, .dport = 50001, .raw = true},
	/* Broken: truncated, trailing bytes, unknown version, unknown type. */
	{.version = 2, .m = MSG(1, F32, AUTH, 1, 0, 8, 3, 21, 21, 0, 0, 0), .cut = 10},
	{.version = 2, .m = MSG(1, I8, 0, 3, 0, 64, 3, 22, 22, 0, 0, 0), .cut = 50},
	{.version = 2, .m = MSG(3, 0, 0, 1, BOX, 0, 13, 0, 0, 0, 0, 0x42), .extra = 4},
	{.version = 9, .m = MSG(1, F32, 0, 1, 0, 4, 3, 23, 23, 0, 0, 0)},
	{.version = 1, .m = MSG(7, F32, 0, 1, BOX, 0, 3, 24, 24, 0, 0, 0)},
	{.version = 2, .m = MSG(9, F32, 0, 1, 0, 0, 3, 25, 25, 0, 0, 0)},
	/* DATA and PROBE with their request's descriptor: 2^40 + 5 elements, mean; 1000, sum. */
	{.version = 2,
	 .m = MSG(1, I16, AUTH, 2, 3, 9, 8, 4, 4, -2, 0,
		  (UINT64_C(1) << 48) | ((UINT64_C(1) << 40) + 5))},
	{.version = 2, .m = MSG(8, F32, AUTH, 1, 0, 0, 3, 19, 19, 0, 0, 1000)},
};

/* --- building the messages ----------------------------------------------- */

static void
fill_payload(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(7 * i + 3);
}

static bool
known_type(const struct spec *s)
{
	unsigned int max = s->version == 1 ? AINFTP_MSG_HELLO_ACK : AINFTP_MSG_MAX;

	return (s->version == 1 || s->version == 2) && s->m.type >= AINFTP_MSG_DATA &&
	       s->m.type <= max;
}

static bool
carries_payload(const struct spec *s)
{
	return s->m.type == AINFTP_MSG_DATA || s->m.type == AINFTP_MSG_RESULT;
}

/* Version 1 has no bodies: ainftp_body_len is version 2's. */
static size_t
body_len(const struct spec *s)
{
	return s->version >= 2 ? ainftp_body_len(s->m.type) : 0;
}

static void
write_body(const struct spec *s, uint8_t *p)
{
	if (s->m.type == AINFTP_MSG_STATE)
		ainftp_state_write((struct ainftp_state *)p, &s->state);
	else
		ainftp_hello_write((struct ainftp_hello *)p, &s->hello);
}

/*
 * The datagram after the UDP header: header, body or payload, tag. The tag
 * covers header and payload (or body); a v2 RESULT carries it right after the
 * header, so it is computed over the message before the tag is put in.
 */
static void
build(const struct spec *s, struct dgram *d)
{
	size_t off = sizeof(struct ainftp_hdr);
	bool tag_first = s->version >= 2 && s->m.type == AINFTP_MSG_RESULT;

	memset(d, 0, sizeof(*d));
	ainftp_hdr_write((struct ainftp_hdr *)d->b, &s->m);
	d->b[0] = s->version; /* ainftp_hdr_write writes this build's version */
	if (known_type(s) && carries_payload(s))
		d->payload_len = ainftp_payload_len(s->m.encoding, s->m.elems);
	d->body_len = known_type(s) ? body_len(s) : 0;
	fill_payload(d->b + off, d->payload_len);
	if (d->body_len > 0)
		write_body(s, d->b + off);
	off += d->payload_len + d->body_len;
	d->has_tag = known_type(s) && (s->m.flags & AINFTP_F_AUTH);
	if (d->has_tag && tag_first) {
		uint8_t tag[AINFTP_TAG_LEN];

		ainftp_tag(test_key, d->b, off, tag);
		memmove(d->b + sizeof(struct ainftp_hdr) + AINFTP_TAG_LEN,
			d->b + sizeof(struct ainftp_hdr), off - sizeof(struct ainftp_hdr));
		memcpy(d->b + sizeof(struct ainftp_hdr), tag, AINFTP_TAG_LEN);
		d->tag_off = sizeof(struct ainftp_hdr);
	} else if (d->has_tag) {
		ainftp_tag(test_key, d->b, off, d->b + off);
		d->tag_off = off;
	}
	d->len = off + (d->has_tag ? AINFTP_TAG_LEN : 0);
}

/* Bytes that pass for no ainftp header: version 0x45. */
static void
build_raw(struct dgram *d)
{
	memset(d, 0, sizeof(*d));
	d->len = 48;
	fill_payload(d->b, d->len);
	d->b[0] = 0x45;
}

static void
damage(const struct spec *s, struct dgram *d)
{
	d->len -= (size_t)s->cut;
	memset(d->b + d->len, 0xee, (size_t)s->extra);
	d->len += (size_t)s->extra;
}

/* --- the expected row ---------------------------------------------------- */

static void
set(struct row *r, enum col c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->cell[c], sizeof(r->cell[c]), fmt, ap);
	va_end(ap);
}

/* tshark 4.0 prints FT_BYTES fields as lowercase hex without separators. */
static void
set_bytes(struct row *r, enum col c, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && 2 * i + 2 < sizeof(r->cell[c]); i++)
		snprintf(r->cell[c] + 2 * i, 3, "%02x", p[i]);
}

static void
expect_header(const struct spec *s, struct row *r)
{
	const struct ainftp_msg *m = &s->m;

	set(r, C_VERSION, "%u", s->version);
	set(r, C_TYPE, "%u", m->type);
	set(r, C_ENCODING, "%u", m->encoding);
	set(r, C_FLAGS, "0x%02x", m->flags);
	set(r, C_AUTH, "%u", !!(m->flags & AINFTP_F_AUTH));
	set(r, C_OVERFLOW, "%u", !!(m->flags & AINFTP_F_OVERFLOW));
	set(r, C_AGGREGATE, "%u", !!(m->flags & AINFTP_F_AGGREGATE));
	set(r, C_JOB, "%" PRIu32, m->job);
	set(r, C_WORKER, "%u", m->worker);
	set(r, C_ELEMS, "%u", m->elems);
	set(r, C_STEP, "%" PRIu32, m->step);
	set(r, C_CHUNK, "%" PRIu32, m->chunk);
	set(r, C_SLOT, "%u", m->slot);
	set(r, C_SCALE_EXP, "%d", m->scale_exp);
	set(r, C_CONTRIBUTORS, "%u", m->contributors);
	set(r, C_BITMAP, "0x%016" PRIx64, m->bitmap);
	if (m->type == AINFTP_MSG_HELLO || m->type == AINFTP_MSG_HELLO_ACK)
		set(r, C_HELLO_NONCE, "0x%016" PRIx64, m->bitmap);
	/* DATA's and PROBE's request descriptor (not a leaf box's sum, whose bitmap is workers). */
	if (s->version == 2 && (m->type == AINFTP_MSG_DATA || m->type == AINFTP_MSG_PROBE) &&
	    m->bitmap != 0 && !(m->flags & AINFTP_F_AGGREGATE)) {
		set(r, C_REQ_ELEMS, "%" PRIu64, ainftp_req_desc_elems(m->bitmap));
		set(r, C_REQ_OP, "%u", ainftp_req_desc_op(m->bitmap));
	}
	if (!known_type(s))
		set(r, s->version == 1 || s->version == 2 ? C_BAD_TYPE : C_BAD_VERSION, "1");
}

static void
expect_hello(const struct ainftp_hello_info *h, struct row *r)
{
	set(r, C_HELLO_SLOTS, "%" PRIu32, h->slots);
	set(r, C_HELLO_LANES, "%u", h->lanes);
	set(r, C_HELLO_RESULT_ENC, "%u", h->result_encoding);
	set(r, C_HELLO_STATUS, "%u", h->status);
	set(r, C_HELLO_STEP, "%" PRIu32, h->step);
	set(r, C_HELLO_AUTH, "%u", h->auth);
	set(r, C_HELLO_SHARD, "%u", h->shard);
	set(r, C_HELLO_SHARDS, "%u", h->shards);
}

static void
expect_state(const struct ainftp_state_info *st, struct row *r)
{
	set(r, C_STATE_SLOT_STEP, "%" PRIu32, st->slot_step);
	set(r, C_STATE_SLOT_CHUNK, "%" PRIu32, st->slot_chunk);
	set(r, C_STATE_NEXT_STEP, "%" PRIu32, st->next_step);
	set(r, C_STATE_REASON, "%u", st->reason);
	set(r, C_STATE_SLOT_STATE, "%u", st->slot_state);
}

/* The payload's start: after the tag in a v2 RESULT. */
static size_t
payload_off(const struct dgram *d)
{
	return sizeof(struct ainftp_hdr) +
	       (d->has_tag && d->tag_off == sizeof(struct ainftp_hdr) ? AINFTP_TAG_LEN : 0);
}

/* What follows the header, as far as the (maybe truncated) datagram has it. */
static void
expect_rest(const struct spec *s, const struct dgram *d, size_t full_len, struct row *r)
{
	size_t nexp = (s->m.elems + 31) / 32;
	size_t body_off = sizeof(struct ainftp_hdr);

	set(r, C_EXPECTED_LEN, "%zu", full_len);
	if (d->payload_len > 0 && d->len > payload_off(d))
		set(r, C_PAYLOAD_LEN, "%zu", d->payload_len);
	if (d->payload_len > 0 && s->m.encoding == AINFTP_ENC_INT8 &&
	    d->len >= payload_off(d) + nexp)
		set_bytes(r, C_INT8_EXPONENTS, d->b + payload_off(d), nexp);
	if (d->has_tag && d->tag_off + AINFTP_TAG_LEN <= d->len)
		set_bytes(r, C_TAG, d->b + d->tag_off, AINFTP_TAG_LEN);
	if (d->body_len > 0 && s->m.type == AINFTP_MSG_STATE)
		expect_state(&s->state, r);
	else if (d->body_len > 0 && body_off + AINFTP_BODY_LEN <= d->len)
		expect_hello(&s->hello, r);
	if (d->len < full_len)
		set(r, C_TRUNCATED, "1");
	if (d->len > full_len)
		set(r, C_TRAILING, "1");
}

static void
expect(const struct spec *s, const struct dgram *d, size_t full_len, struct row *r)
{
	memset(r, 0, sizeof(*r));
	if (s->raw)
		return;
	set(r, C_LEN, "%zu", d->len);
	expect_header(s, r);
	if (known_type(s))
		expect_rest(s, d, full_len, r);
}

static void
print_row(FILE *f, const struct row *r)
{
	for (int c = 0; c < C_MAX; c++)
		fprintf(f, "%s%s", c > 0 ? "\t" : "", r->cell[c]);
	fputc('\n', f);
}

/* --- pcap ------------------------------------------------------------------ */

static void
put_le(FILE *f, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		fputc((int)(v >> (8 * i)) & 0xff, f);
}

static void
put_be(uint8_t *p, uint32_t v, int n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

static void
pcap_header(FILE *f)
{
	put_le(f, 0xa1b2c3d4, 4); /* microsecond timestamps */
	put_le(f, 2, 2);
	put_le(f, 4, 2);
	put_le(f, 0, 4); /* GMT offset */
	put_le(f, 0, 4); /* accuracy */
	put_le(f, 65535, 4);
	put_le(f, 1, 4); /* LINKTYPE_ETHERNET */
}

static uint16_t
ip_checksum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet II, IPv4 without options (DF), UDP with a zero checksum as the appliance sends. */
static size_t
encapsulate(uint8_t *fr, const struct dgram *d, uint8_t src, uint8_t dst, uint16_t sport,
	    uint16_t dport)
{
	static const uint8_t mac_box[6] = {0x02, 0, 0x0a, 0x63, 0, 1};
	uint8_t *ip = fr + 14, *udp = ip + 20;

	memset(fr, 0, 42);
	memcpy(fr, mac_box, 6);
	memcpy(fr + 6, mac_box, 6);
	fr[6 + 5] = src; /* the sender's MAC ends in its address */
	fr[5] = dst;
	put_be(fr + 12, 0x0800, 2);
	ip[0] = 0x45;
	put_be(ip + 2, (uint32_t)(20 + 8 + d->len), 2);
	put_be(ip + 6, 0x4000, 2); /* DF */
	ip[8] = 64;
	ip[9] = 17;
	put_be(ip + 12, 0x0a630000u | src, 4);
	put_be(ip + 16, 0x0a630000u | dst, 4);
	put_be(ip + 10, ip_checksum(ip, 20), 2);
	put_be(udp, sport, 2);
	put_be(udp + 2, dport, 2);
	put_be(udp + 4, (uint32_t)(8 + d->len), 2);
	memcpy(udp + 8, d->b, d->len);
	return 42 + d->len;
}

static void
pcap_record(FILE *f, unsigned int i, const uint8_t *fr, size_t len)
{
	put_le(f, 1700000000u + i, 4);
	put_le(f, 0, 4);
	put_le(f, (uint32_t)len, 4);
	put_le(f, (uint32_t)len, 4);
	fwrite(fr, 1, len, f);
}

/* From the worker's address and port to the slot's lane, or from the box's lane back. */
static void
write_frame(FILE *f, unsigned int i, const struct spec *s, const struct dgram *d)
{
	uint8_t fr[42 + MAX_DGRAM];
	uint16_t lane_port = (uint16_t)(BASE_PORT + s->m.slot % 16);
	uint16_t box_port = s->dport != 0 ? s->dport : lane_port;
	bool from_box = s->m.worker == AINFTP_WORKER_APPLIANCE;
	uint8_t wk = (uint8_t)(11 + (from_box ? 0 : s->m.worker % 64));
	size_t len;

	if (from_box)
		len = encapsulate(fr, d, 1, wk, box_port, WORKER_PORT);
	else
		len = encapsulate(fr, d, wk, 1, WORKER_PORT, box_port);
	pcap_record(f, i, fr, len);
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: ainftp-pcap-gen OUT.pcap > expected.tsv\n"
		"Writes a capture of every ainftp message type, v1 and v2, to OUT.pcap and\n"
		"the fields a dissector must decode from it to stdout.\n" AINFTP_OPT_STD_USAGE);
}

int
main(int argc, char **argv)
{
	size_t n = sizeof(frames) / sizeof(frames[0]);
	struct row r;
	FILE *f;

	ainftp_opt_std(argc, argv, "ainftp-pcap-gen", usage);
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	f = fopen(argv[1], "wb");
	if (f == NULL) {
		perror(argv[1]);
		return 1;
	}
	pcap_header(f);
	for (int c = 0; c < C_MAX; c++)
		printf("%s%s", c > 0 ? "\t" : "", col_names[c]);
	putchar('\n');
	for (size_t i = 0; i < n; i++) {
		struct dgram d;
		size_t full_len;

		if (frames[i].raw)
			build_raw(&d);
		else
			build(&frames[i], &d);
		full_len = d.len;
		damage(&frames[i], &d);
		write_frame(f, (unsigned int)i, &frames[i], &d);
		expect(&frames[i], &d, full_len, &r);
		print_row(stdout, &r);
	}
	if (fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
