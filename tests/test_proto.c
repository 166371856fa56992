/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire format (version 2) against docs/PROTOCOL.md and ainftp_proto.h:
 * header offsets and byte order, each reason ainftp_hdr_check gives, payload
 * and body lengths, the HELLO and STATE bodies, and the tags (a DATA's after
 * the payload, a RESULT's after the header) against vectors computed outside
 * this code.
 */
#include <check.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_proto.h"

/* A DATA header as docs/PROTOCOL.md lays it out, every field distinct. */
static const struct ainftp_msg sample = {
	.type = AINFTP_MSG_DATA,
	.encoding = AINFTP_ENC_INT8,
	.flags = AINFTP_F_AUTH,
	.job = 0x01020304,
	.worker = 7,
	.elems = 40,
	.step = 0x11223344,
	.chunk = 0x55667788,
	.slot = 0x0088,
	.scale_exp = -3,
	.contributors = 0,
	.bitmap = 0,
};

static const uint8_t sample_bytes[32] = {
	0x02, 0x01, 0x02, 0x01, /* version, type, encoding, flags */
	0x01, 0x02, 0x03, 0x04, /* job at 4 */
	0x00, 0x07, 0x00, 0x28, /* worker at 8, elems at 10 */
	0x11, 0x22, 0x33, 0x44, /* step at 12 */
	0x55, 0x66, 0x77, 0x88, /* chunk at 16 */
	0x00, 0x88, 0xfd, 0x00, /* slot at 20, scale_exp at 22, contributors at 23 */
	0x00, 0x00, 0x00, 0x00, /* bitmap at 24 .. */
	0x00, 0x00, 0x00, 0x00, /* .. 31 */
};

static void
assert_msg_eq(const struct ainftp_msg *a, const struct ainftp_msg *b)
{
	ck_assert_uint_eq(a->type, b->type);
	ck_assert_uint_eq(a->encoding, b->encoding);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->job, b->job);
	ck_assert_uint_eq(a->worker, b->worker);
	ck_assert_uint_eq(a->elems, b->elems);
	ck_assert_uint_eq(a->step, b->step);
	ck_assert_uint_eq(a->chunk, b->chunk);
	ck_assert_uint_eq(a->slot, b->slot);
	ck_assert_int_eq(a->scale_exp, b->scale_exp);
	ck_assert_uint_eq(a->contributors, b->contributors);
	ck_assert_uint_eq(a->bitmap, b->bitmap);
}

static void
assert_round_trip(const struct ainftp_msg *m)
{
	struct ainftp_hdr h;
	struct ainftp_msg back;

	memset(&h, 0xa5, sizeof(h));
	ainftp_hdr_write(&h, m);
	ck_assert_uint_eq(h.version, AINFTP_PROTO_VERSION);
	ainftp_hdr_read(&h, &back);
	assert_msg_eq(m, &back);
}

START_TEST(hdr_offsets_and_byte_order)
{
	struct ainftp_hdr h;
	struct ainftp_msg back;

	ainftp_hdr_write(&h, &sample);
	ck_assert_mem_eq(&h, sample_bytes, sizeof(sample_bytes));
	ainftp_hdr_read((const struct ainftp_hdr *)sample_bytes, &back);
	assert_msg_eq(&sample, &back);
}
END_TEST

START_TEST(hdr_bitmap_big_endian)
{
	static const uint8_t want[8] = {0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
	struct ainftp_msg m = sample;
	struct ainftp_hdr h;

	m.bitmap = UINT64_C(0x8001020304050607);
	m.contributors = 64;
	ainftp_hdr_write(&h, &m);
	ck_assert_mem_eq((const uint8_t *)&h + 24, want, sizeof(want));
	ck_assert_uint_eq(((const uint8_t *)&h)[23], 64);
}
END_TEST

START_TEST(hdr_round_trip_extremes)
{
	const struct ainftp_msg all_ones = {
		.type = UINT8_MAX,
		.encoding = UINT8_MAX,
		.flags = UINT8_MAX,
		.job = UINT32_MAX,
		.worker = UINT16_MAX,
		.elems = UINT16_MAX,
		.step = UINT32_MAX,
		.chunk = UINT32_MAX,
		.slot = UINT16_MAX,
		.scale_exp = INT8_MAX,
		.contributors = UINT8_MAX,
		.bitmap = UINT64_MAX,
	};
	const struct ainftp_msg zeros = {.scale_exp = INT8_MIN};
	const struct ainftp_msg top_bits = {
		.job = UINT32_C(1) << 31,
		.worker = AINFTP_WORKER_APPLIANCE,
		.elems = UINT16_C(1) << 15,
		.step = UINT32_C(1) << 31,
		.chunk = 1,
		.slot = UINT16_C(1) << 15,
		.scale_exp = -1,
		.bitmap = UINT64_C(1) << 63,
	};

	assert_round_trip(&sample);
	assert_round_trip(&all_ones);
	assert_round_trip(&zeros);
	assert_round_trip(&top_bits);
}
END_TEST

/* One header, one length, one expected reason. */
struct check_case {
	const char *what;
	uint8_t version, type, encoding, flags;
	uint16_t elems;
	size_t udp_len;
	enum ainftp_bad want;
};

/* int8, 40 elements: 32 header + 40 values + 2 exponents (+ 16 tag) = 74 (90). */
static const struct check_case check_cases[] = {
	{"good int8 data", 2, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 90, AINFTP_OK},
	{"good data without tag", 2, AINFTP_MSG_DATA, 2, 0, 40, 74, AINFTP_OK},
	{"good float32 result", 2, AINFTP_MSG_RESULT, 0, AINFTP_F_OVERFLOW, 360, 32 + 1440,
	 AINFTP_OK},
	{"good int16 result", 2, AINFTP_MSG_RESULT, 1, 0, 3, 38, AINFTP_OK},
	{"good heartbeat", 2, AINFTP_MSG_HEARTBEAT, 0, 0, 0, 32, AINFTP_OK},
	/* HELLO, HELLO_ACK and STATE: header + 16-byte body (+ tag); elems says nothing of it. */
	{"good hello with tag", 2, AINFTP_MSG_HELLO, 0, AINFTP_F_AUTH, 0, 64, AINFTP_OK},
	{"good hello_ack, elems ignored", 2, AINFTP_MSG_HELLO_ACK, 0, 0, 99, 48, AINFTP_OK},
	{"good state with tag", 2, AINFTP_MSG_STATE, 0, AINFTP_F_AUTH, 0, 64, AINFTP_OK},
	{"good state without tag", 2, AINFTP_MSG_STATE, 0, 0, 0, 48, AINFTP_OK},
	/* PROBE: the header and its tag, no body. */
	{"good probe", 2, AINFTP_MSG_PROBE, 2, AINFTP_F_AUTH, 40, 48, AINFTP_OK},
	{"empty", 2, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 0, AINFTP_BAD_TRUNCATED},
	{"shorter than the header", 2, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 31,
	 AINFTP_BAD_TRUNCATED},
	{"short header beats bad version", 9, AINFTP_MSG_DATA, 2, 0, 40, 31, AINFTP_BAD_TRUNCATED},
	{"tag cut by one byte", 2, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 89, AINFTP_BAD_TRUNCATED},
	{"tag missing", 2, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 74, AINFTP_BAD_TRUNCATED},
	{"payload cut", 2, AINFTP_MSG_DATA, 2, 0, 40, 73, AINFTP_BAD_TRUNCATED},
	{"heartbeat tag missing", 2, AINFTP_MSG_HEARTBEAT, 0, AINFTP_F_AUTH, 0, 32,
	 AINFTP_BAD_TRUNCATED},
	/* A v1 HELLO was header + tag: without its body the tag is taken for one. */
	{"hello without body", 2, AINFTP_MSG_HELLO, 0, AINFTP_F_AUTH, 0, 48, AINFTP_BAD_TRUNCATED},
	{"hello body cut", 2, AINFTP_MSG_HELLO, 0, 0, 0, 47, AINFTP_BAD_TRUNCATED},
	{"state without body", 2, AINFTP_MSG_STATE, 0, 0, 0, 32, AINFTP_BAD_TRUNCATED},
	{"version 0", 0, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 90, AINFTP_BAD_VERSION},
	{"version 1: a v1 header", 1, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 90,
	 AINFTP_BAD_VERSION},
	{"version 3", 3, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 90, AINFTP_BAD_VERSION},
	{"version beats type", 1, 0, 2, AINFTP_F_AUTH, 40, 90, AINFTP_BAD_VERSION},
	{"type 0", 2, 0, 2, AINFTP_F_AUTH, 40, 90, AINFTP_BAD_TYPE},
	{"type 9", 2, 9, 2, AINFTP_F_AUTH, 40, 90, AINFTP_BAD_TYPE},
	{"type 255", 2, 255, 2, AINFTP_F_AUTH, 40, 90, AINFTP_BAD_TYPE},
	{"encoding 3", 2, AINFTP_MSG_DATA, 3, AINFTP_F_AUTH, 40, 90, AINFTP_BAD_ENCODING},
	{"encoding 255 on a heartbeat", 2, AINFTP_MSG_HEARTBEAT, 255, 0, 0, 32,
	 AINFTP_BAD_ENCODING},
	{"no elements", 2, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 0, 48, AINFTP_BAD_ELEMS},
	{"result with no elements", 2, AINFTP_MSG_RESULT, 0, 0, 0, 32, AINFTP_BAD_ELEMS},
	{"one trailing byte", 2, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 40, 91, AINFTP_BAD_LENGTH},
	{"tag sent without the flag", 2, AINFTP_MSG_DATA, 2, 0, 40, 90, AINFTP_BAD_LENGTH},
	{"more elements than the count", 2, AINFTP_MSG_DATA, 2, AINFTP_F_AUTH, 39, 90,
	 AINFTP_BAD_LENGTH},
	{"heartbeat with a body", 2, AINFTP_MSG_HEARTBEAT, 0, 0, 0, 33, AINFTP_BAD_LENGTH},
	{"probe with a body", 2, AINFTP_MSG_PROBE, 2, AINFTP_F_AUTH, 40, 64, AINFTP_BAD_LENGTH},
	{"state with a payload's length", 2, AINFTP_MSG_STATE, 2, 0, 40, 74, AINFTP_BAD_LENGTH},
};
#define N_CHECK_CASES ((int)(sizeof(check_cases) / sizeof(check_cases[0])))

START_TEST(hdr_check_case)
{
	const struct check_case *c = &check_cases[_i];
	struct ainftp_msg m = sample;
	struct ainftp_hdr h;
	enum ainftp_bad got;

	m.type = c->type;
	m.encoding = c->encoding;
	m.flags = c->flags;
	m.elems = c->elems;
	ainftp_hdr_write(&h, &m);
	h.version = c->version;
	got = ainftp_hdr_check(&h, c->udp_len);
	ck_assert_msg(got == c->want, "%s: got %s, want %s", c->what, ainftp_bad_names[got],
		      ainftp_bad_names[c->want]);
}
END_TEST

/* Every reason hdr_check can give appears in check_cases. */
START_TEST(hdr_check_every_reason)
{
	static const enum ainftp_bad reasons[] = {
		AINFTP_OK,	     AINFTP_BAD_TRUNCATED, AINFTP_BAD_VERSION, AINFTP_BAD_TYPE,
		AINFTP_BAD_ENCODING, AINFTP_BAD_ELEMS,	   AINFTP_BAD_LENGTH,
	};
	size_t r;
	int i, seen;

	for (r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++) {
		for (seen = 0, i = 0; i < N_CHECK_CASES; i++)
			seen |= check_cases[i].want == reasons[r];
		ck_assert_msg(seen, "no case for %s", ainftp_bad_names[reasons[r]]);
	}
}
END_TEST

START_TEST(bad_names_are_counter_names)
{
	int i, j;
	const char *p;

	for (i = 1; i < AINFTP_BAD_MAX; i++) {
		ck_assert_ptr_nonnull(ainftp_bad_names[i]);
		ck_assert_uint_gt(strlen(ainftp_bad_names[i]), 0);
		for (p = ainftp_bad_names[i]; *p != '\0'; p++)
			ck_assert_msg(islower((unsigned char)*p) || *p == '_',
				      "%s is not snake_case", ainftp_bad_names[i]);
		for (j = 1; j < i; j++)
			ck_assert_str_ne(ainftp_bad_names[i], ainftp_bad_names[j]);
	}
	ck_assert_str_eq(ainftp_bad_names[AINFTP_BAD_TRUNCATED], "truncated");
	ck_assert_str_eq(ainftp_bad_names[AINFTP_BAD_AUTH_MISSING], "auth_missing");
	ck_assert_str_eq(ainftp_bad_names[AINFTP_BAD_SLOT_BUSY], "slot_busy");
	ck_assert_str_eq(ainftp_bad_names[AINFTP_BAD_TAG], "tag");
}
END_TEST

START_TEST(payload_len_each_encoding)
{
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_FLOAT32, 1), 4);
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_FLOAT32, 360), 1440);
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_FLOAT32, 65535), 262140);
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT16, 1), 2);
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT16, 720), 1440);
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT8, 1), 2);	/* a lone tail block */
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT8, 32), 33); /* one full block */
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT8, 33), 35); /* tail of one */
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT8, 40), 42); /* tail of eight */
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT8, 64), 66); /* two full blocks */
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT8, 1400), 1444);
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT8, UINT32_MAX),
			  (size_t)UINT32_MAX + (UINT32_C(1) << 27));
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_FLOAT32, 0), 0);
	ck_assert_uint_eq(ainftp_payload_len(AINFTP_ENC_INT8, 0), 0);
	ck_assert_uint_eq(ainftp_payload_len(3, 10), 0);
}
END_TEST

/*
 * Known answers, computed with Python from the specification, not from this
 * code: BLAKE2b from hashlib, SipHash-2-4-128 written out from the paper and
 * first checked against the reference vectors of github.com/veorq/SipHash.
 *   mk  = hashlib.blake2b(b"ainftp v2 SipHash-2-4-128 key", key=key,
 *                         digest_size=16).digest()
 *   tag = siphash_2_4_128(mk, header + payload)
 */
static const uint8_t kat_key1[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const uint8_t kat_mk1[16] = {
	0x01, 0x1c, 0xaa, 0xb8, 0xb0, 0xf5, 0xbd, 0xcc,
	0xed, 0x67, 0xce, 0x26, 0x8f, 0xc8, 0x42, 0x86,
};
/* sample_bytes, then int8 exponents 0xfa 0xfb and values (7 i + 3) mod 256, i < 40. */
static const uint8_t kat_tag1[16] = {
	0xbc, 0xf9, 0x66, 0x42, 0x23, 0x0c, 0x01, 0x56,
	0xc0, 0x5b, 0xda, 0xe8, 0x40, 0xdd, 0xc5, 0xa3,
};
/* Key of 32 bytes 0xff; a heartbeat header alone: job and worker all ones, AUTH. */
static const uint8_t kat_hdr2[32] = {
	0x02, 0x03, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};
static const uint8_t kat_tag2[16] = {
	0x66, 0x60, 0x40, 0xbe, 0x89, 0xe6, 0x72, 0x8a,
	0x58, 0x73, 0xb9, 0x77, 0x69, 0x69, 0x6f, 0x94,
};

#define KAT1_LEN (32 + 42)

static void
kat1_message(uint8_t msg[KAT1_LEN])
{
	int i;

	memcpy(msg, sample_bytes, sizeof(sample_bytes));
	msg[32] = 0xfa;
	msg[33] = 0xfb;
	for (i = 0; i < 40; i++)
		msg[34 + i] = (uint8_t)(7 * i + 3);
}

/* The codec table: every row found by its wire value and by its name, and no value without one. */
START_TEST(codec_rows_by_value_and_name)
{
	const struct ainftp_codec *const *c;
	unsigned int v, rows = 0, found = 0;

	for (c = ainftp_codec_list; *c != NULL; c++, rows++) {
		ck_assert_ptr_eq(ainftp_codec_get((*c)->enc), *c);
		ck_assert_ptr_eq(ainftp_codec_by_name((*c)->name), *c);
		ck_assert_str_eq(ainftp_encoding_name((*c)->enc), (*c)->name);
		ck_assert_uint_eq((*c)->payload_len(0), 0);
		ck_assert_uint_ne((*c)->elems_multiple, 0);
	}
	for (v = 0; v < 256; v++)
		found += ainftp_codec_get(v) != NULL;
	ck_assert_uint_eq(found, rows);
	ck_assert_ptr_null(ainftp_codec_by_name("int4"));
	ck_assert_str_eq(ainftp_encoding_name(200), "unknown");
}
END_TEST

START_TEST(tag_known_answers)
{
	uint8_t msg[KAT1_LEN], key2[32], tag[AINFTP_TAG_LEN];
	struct ainftp_mac_key mk;

	kat1_message(msg);
	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	ck_assert_mem_eq(mk.k, kat_mk1, sizeof(kat_mk1));
	ainftp_mac(&mk, msg, sizeof(msg), tag);
	ck_assert_mem_eq(tag, kat_tag1, sizeof(tag));
	memset(tag, 0, sizeof(tag));
	ainftp_tag(kat_key1, msg, sizeof(msg), tag);
	ck_assert_mem_eq(tag, kat_tag1, sizeof(tag));

	memset(key2, 0xff, sizeof(key2));
	ainftp_tag(key2, kat_hdr2, sizeof(kat_hdr2), tag);
	ck_assert_mem_eq(tag, kat_tag2, sizeof(tag));
	ck_assert_int_eq(ainftp_tag_verify(key2, kat_hdr2, sizeof(kat_hdr2), kat_tag2), 1);
}
END_TEST

/*
 * POLYVAL-AES-128 under kat_key1 (docs/PROTOCOL.md): the derived keys and the
 * tag of the kat1 message, computed outside this code (Python's
 * hashlib.blake2b for the derivation, a bitwise POLYVAL checked against RFC
 * 8452's vector, and `openssl enc -aes-128-ecb` for the block). The
 * handshake's SipHash stays kat_tag1 whatever the key's MAC.
 */
static const uint8_t kat_pv_h[16] = {
	0xbe, 0x44, 0x3c, 0x8f, 0xc6, 0xc1, 0x6a, 0x56,
	0xa2, 0x78, 0xd4, 0xa6, 0x01, 0x42, 0x4b, 0xf1,
};
static const uint8_t kat_pv_k[16] = {
	0x73, 0xd0, 0x85, 0x35, 0xd7, 0x5f, 0x28, 0xdc,
	0xaf, 0x78, 0x0e, 0xe2, 0x28, 0x0d, 0xf3, 0x83,
};
static const uint8_t kat_pv_tag1[16] = {
	0x5f, 0x8a, 0x57, 0xc0, 0xa1, 0xc6, 0x20, 0xee,
	0x72, 0xce, 0x98, 0x2f, 0x44, 0xfd, 0xf4, 0xac,
};

START_TEST(polyval_aes_known_answers)
{
	uint8_t msg[KAT1_LEN], tag[AINFTP_TAG_LEN];
	struct ainftp_mac_key mk;

	kat1_message(msg);
	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	ck_assert_uint_eq(mk.alg, AINFTP_MAC_SIPHASH); /* until a HELLO_ACK says otherwise */
	ck_assert_mem_eq(mk.pv.h, kat_pv_h, 16);
	ck_assert_mem_eq((const uint8_t *)mk.pv.rk, kat_pv_k, 16); /* w[0..3]: the key */
	mk.alg = AINFTP_MAC_POLYVAL_AES;
	ainftp_mac(&mk, msg, sizeof(msg), tag);
	ck_assert_mem_eq(tag, kat_pv_tag1, sizeof(tag));
	ck_assert_int_eq(ainftp_mac_verify(&mk, msg, sizeof(msg), kat_pv_tag1), 1);
	ck_assert_int_eq(ainftp_mac_verify(&mk, msg, sizeof(msg) - 1, kat_pv_tag1), 0);
	ck_assert_int_eq(ainftp_mac_verify(&mk, msg, sizeof(msg), kat_tag1), 0);
	ainftp_mac_as(&mk, AINFTP_MAC_SIPHASH, msg, sizeof(msg), tag);
	ck_assert_mem_eq(tag, kat_tag1, sizeof(tag));
	ck_assert_int_eq(ainftp_mac_verify_as(&mk, AINFTP_MAC_SIPHASH, msg, sizeof(msg), kat_tag1),
			 1);
	ck_assert_str_eq(ainftp_mac_alg_names[AINFTP_MAC_POLYVAL_AES], "polyval-aes");
	ck_assert_str_eq(ainftp_mac_alg_names[AINFTP_MAC_SIPHASH], "siphash");
}
END_TEST

START_TEST(verify_accepts_the_tag)
{
	uint8_t msg[KAT1_LEN];
	struct ainftp_mac_key mk;

	kat1_message(msg);
	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	ck_assert_int_eq(ainftp_mac_verify(&mk, msg, sizeof(msg), kat_tag1), 1);
	ck_assert_int_eq(ainftp_tag_verify(kat_key1, msg, sizeof(msg), kat_tag1), 1);
	/* The length is part of what is signed: one byte less is another message. */
	ck_assert_int_eq(ainftp_mac_verify(&mk, msg, sizeof(msg) - 1, kat_tag1), 0);
}
END_TEST

/* Every single-bit flip of header or payload: [0, 32) is the header. */
START_TEST(verify_rejects_message_bit_flips)
{
	uint8_t msg[KAT1_LEN];
	struct ainftp_mac_key mk;
	size_t bit;

	kat1_message(msg);
	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	for (bit = 0; bit < 8 * sizeof(msg); bit++) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(ainftp_mac_verify(&mk, msg, sizeof(msg), kat_tag1) == 0,
			      "flip of bit %zu (%s) verified", bit,
			      bit < 256 ? "header" : "payload");
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}
END_TEST

START_TEST(verify_rejects_tag_bit_flips)
{
	uint8_t msg[KAT1_LEN], tag[AINFTP_TAG_LEN];
	struct ainftp_mac_key mk;
	size_t bit;

	kat1_message(msg);
	memcpy(tag, kat_tag1, sizeof(tag));
	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	for (bit = 0; bit < 8 * sizeof(tag); bit++) {
		tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(ainftp_mac_verify(&mk, msg, sizeof(msg), tag) == 0,
			      "tag with bit %zu flipped verified", bit);
		tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}
END_TEST

START_TEST(verify_rejects_key_bit_flips)
{
	uint8_t msg[KAT1_LEN], key[32];
	struct ainftp_mac_key mk;
	size_t bit;

	kat1_message(msg);
	memcpy(key, kat_key1, sizeof(key));
	for (bit = 0; bit < 8 * sizeof(key); bit++) {
		key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(ainftp_mac_key_init(&mk, key), 0);
		ck_assert_msg(ainftp_mac_verify(&mk, msg, sizeof(msg), kat_tag1) == 0,
			      "key with bit %zu flipped verified", bit);
		ck_assert_int_eq(ainftp_tag_verify(key, msg, sizeof(msg), kat_tag1), 0);
		key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}
END_TEST

/* v2: a key derived under the v1 context string is another key, so v1 tags never verify. */
START_TEST(v1_mac_key_is_not_v2)
{
	static const uint8_t v1_mk1[16] = {
		0x07, 0xa4, 0x9d, 0xa2, 0xce, 0xa4, 0x52, 0x59,
		0x82, 0x85, 0x74, 0x0d, 0xba, 0xfb, 0xd4, 0x84,
	};
	struct ainftp_mac_key mk;

	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	ck_assert_mem_ne(mk.k, v1_mk1, sizeof(v1_mk1));
}
END_TEST

/* ------------------------------------------------------------ bodies */

START_TEST(body_len_by_type)
{
	unsigned int t;

	for (t = 0; t < 256; t++)
		ck_assert_uint_eq(ainftp_body_len(t), t == AINFTP_MSG_HELLO ||
								      t == AINFTP_MSG_HELLO_ACK ||
								      t == AINFTP_MSG_STATE
							      ? AINFTP_BODY_LEN
							      : 0);
	ck_assert_uint_eq(AINFTP_BODY_LEN, 16);
}
END_TEST

/* The HELLO body as ainftp_proto.h lays it out: big-endian, every field distinct. */
START_TEST(hello_body_layout_and_round_trip)
{
	static const uint8_t want[16] = {
		0x01, 0x02, 0x03, 0x04, /* slots */
		0x05, 0x06,		/* lanes */
		0x02,			/* result_encoding */
		0x07,			/* status */
		0x89, 0xab, 0xcd, 0xef, /* step */
		0x01,			/* auth */
		0x03,			/* shard */
		0x05,			/* shards */
		0x00,			/* pad, sent as 0 */
	};
	const struct ainftp_hello_info in = {
		.slots = 0x01020304,
		.lanes = 0x0506,
		.result_encoding = 2,
		.status = 7,
		.step = 0x89abcdef,
		.auth = 1,
		.shard = 3,
		.shards = 5,
	};
	const struct ainftp_hello_info ones = {
		.slots = UINT32_MAX,
		.lanes = UINT16_MAX,
		.result_encoding = UINT8_MAX,
		.status = UINT8_MAX,
		.step = UINT32_MAX,
		.auth = UINT8_MAX,
		.shard = UINT8_MAX,
		.shards = UINT8_MAX,
	};
	struct ainftp_hello b;
	struct ainftp_hello_info back;

	memset(&b, 0xa5, sizeof(b)); /* the pad must be written, not left */
	ainftp_hello_write(&b, &in);
	ck_assert_mem_eq(&b, want, sizeof(want));
	memset(&back, 0, sizeof(back));
	ainftp_hello_read((const struct ainftp_hello *)want, &back);
	ck_assert_uint_eq(back.slots, in.slots);
	ck_assert_uint_eq(back.lanes, in.lanes);
	ck_assert_uint_eq(back.result_encoding, in.result_encoding);
	ck_assert_uint_eq(back.status, in.status);
	ck_assert_uint_eq(back.step, in.step);
	ck_assert_uint_eq(back.auth, in.auth);
	ck_assert_uint_eq(back.shard, in.shard);
	ck_assert_uint_eq(back.shards, in.shards);

	ainftp_hello_write(&b, &ones);
	ainftp_hello_read(&b, &back);
	ck_assert_uint_eq(back.slots, UINT32_MAX);
	ck_assert_uint_eq(back.lanes, UINT16_MAX);
	ck_assert_uint_eq(back.result_encoding, UINT8_MAX);
	ck_assert_uint_eq(back.status, UINT8_MAX);
	ck_assert_uint_eq(back.step, UINT32_MAX);
	ck_assert_uint_eq(back.auth, UINT8_MAX);
	ck_assert_uint_eq(back.shard, UINT8_MAX);
	ck_assert_uint_eq(back.shards, UINT8_MAX);
	ck_assert_uint_eq(b.pad, 0);
}
END_TEST

/* A sender from before sharding leaves the shard bytes 0: that reads as the one box. */
START_TEST(hello_body_unsharded_sender)
{
	struct ainftp_hello b;
	struct ainftp_hello_info back;

	memset(&b, 0, sizeof(b));
	memset(&back, 0xa5, sizeof(back));
	ainftp_hello_read(&b, &back);
	ck_assert_uint_eq(back.shard, 0);
	ck_assert_uint_eq(back.shards, 1);
}
END_TEST

START_TEST(state_body_layout_and_round_trip)
{
	static const uint8_t want[16] = {
		0x11, 0x22, 0x33, 0x44, /* slot_step */
		0x55, 0x66, 0x77, 0x88, /* slot_chunk */
		0x99, 0xaa, 0xbb, 0xcc, /* next_step */
		0x03,			/* reason: missing */
		0x02,			/* slot_state: done */
		0x00, 0x00,		/* pad */
	};
	const struct ainftp_state_info in = {
		.slot_step = 0x11223344,
		.slot_chunk = 0x55667788,
		.next_step = 0x99aabbcc,
		.reason = AINFTP_STATE_MISSING,
		.slot_state = AINFTP_SLOT_WIRE_DONE,
	};
	struct ainftp_state b;
	struct ainftp_state_info back;

	memset(&b, 0xa5, sizeof(b));
	ainftp_state_write(&b, &in);
	ck_assert_mem_eq(&b, want, sizeof(want));
	memset(&back, 0, sizeof(back));
	ainftp_state_read((const struct ainftp_state *)want, &back);
	ck_assert_uint_eq(back.slot_step, in.slot_step);
	ck_assert_uint_eq(back.slot_chunk, in.slot_chunk);
	ck_assert_uint_eq(back.next_step, in.next_step);
	ck_assert_uint_eq(back.reason, in.reason);
	ck_assert_uint_eq(back.slot_state, in.slot_state);
}
END_TEST

/* Names for every status and reason a reply can carry: what tools and errors print. */
START_TEST(hello_and_state_names)
{
	int i;

	for (i = 0; i < AINFTP_HELLO_MAX; i++)
		ck_assert_ptr_nonnull(ainftp_hello_status_names[i]);
	for (i = 0; i < AINFTP_STATE_REASON_MAX; i++)
		ck_assert_ptr_nonnull(ainftp_state_reason_names[i]);
	ck_assert_str_eq(ainftp_hello_status_names[AINFTP_HELLO_OK], "ok");
	ck_assert_str_eq(ainftp_hello_status_names[AINFTP_HELLO_RESULT_ENC], "result_encoding");
	ck_assert_str_eq(ainftp_hello_status_names[AINFTP_HELLO_SHARD], "shard");
	ck_assert_str_eq(ainftp_state_reason_names[AINFTP_STATE_STALE], "stale");
	ck_assert_str_eq(ainftp_state_reason_names[AINFTP_STATE_HAVE], "have");
}
END_TEST

/* ------------------------------------------------------------ result tag */

/*
 * A RESULT as the appliance sends it to a worker with key kat_key1: header,
 * tag, payload. The tag is a known answer from the same Python as above, over
 * header ‖ payload (the order it is signed in, not the order it is sent in):
 * float32, AUTH, job 0x01020304, from the appliance, 4 elements, step
 * 0x11223344, chunk 0x55667788, slot 0x88, 3 contributors, bitmap 7; payload
 * bytes 0x10..0x1f.
 */
static const uint8_t kat_rhdr[32] = {
	0x02, 0x02, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0x00,
	0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x00, 0x88,
	0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
};
static const uint8_t kat_rtag[16] = {
	0xaf, 0xcf, 0x40, 0x06, 0x7b, 0x87, 0xc7, 0x82,
	0x1d, 0xa1, 0x0a, 0xd4, 0x5e, 0x1d, 0xd0, 0x84,
};

#define KATR_LEN (32 + 16 + 16)

static void
kat_result_wire(uint8_t p[KATR_LEN])
{
	int i;

	memcpy(p, kat_rhdr, 32);
	memcpy(p + 32, kat_rtag, 16);
	for (i = 0; i < 16; i++)
		p[48 + i] = (uint8_t)(0x10 + i);
}

START_TEST(result_tag_known_answer)
{
	uint8_t p[KATR_LEN], signed_bytes[48];
	struct ainftp_mac_key mk;

	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	kat_result_wire(p);
	ck_assert_int_eq(ainftp_hdr_check((const struct ainftp_hdr *)p, sizeof(p)), AINFTP_OK);
	ck_assert_int_eq(ainftp_result_verify(&mk, p, sizeof(p)), 1);
	/* The MAC itself over header ‖ payload gives that tag: the layout is the only change. */
	kat_result_wire(p);
	memcpy(signed_bytes, p, 32);
	memcpy(signed_bytes + 32, p + 48, 16);
	ck_assert_int_eq(ainftp_mac_verify(&mk, signed_bytes, sizeof(signed_bytes), kat_rtag), 1);
	/* Nor is it a tag over the bytes as sent, header then payload then the tag's place. */
	ck_assert_int_eq(ainftp_mac_verify(&mk, p, 32, kat_rtag), 0);
}
END_TEST

/* Every single-byte flip of header, tag or payload fails; so does another key or a short datagram.
 */
START_TEST(result_verify_rejects_flips)
{
	uint8_t p[KATR_LEN], key[32];
	struct ainftp_mac_key mk;
	size_t i;

	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	for (i = 0; i < KATR_LEN; i++) {
		kat_result_wire(p);
		p[i] ^= 0x01;
		ck_assert_msg(ainftp_result_verify(&mk, p, sizeof(p)) == 0,
			      "flip of byte %zu (%s) verified", i,
			      i < 32   ? "header"
			      : i < 48 ? "tag"
				       : "payload");
	}
	memcpy(key, kat_key1, sizeof(key));
	key[31] ^= 0x80;
	ck_assert_int_eq(ainftp_mac_key_init(&mk, key), 0);
	kat_result_wire(p);
	ck_assert_int_eq(ainftp_result_verify(&mk, p, sizeof(p)), 0);
	ck_assert_int_eq(ainftp_mac_key_init(&mk, kat_key1), 0);
	kat_result_wire(p);
	ck_assert_int_eq(ainftp_result_verify(&mk, p, 47), 0); /* no room for header and tag */
	kat_result_wire(p);
	ck_assert_int_eq(ainftp_result_verify(&mk, p, sizeof(p) - 1), 0); /* payload cut */
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *hdr = tcase_create("header");
	TCase *check = tcase_create("check");
	TCase *len = tcase_create("lengths");
	TCase *tag = tcase_create("tag");
	TCase *body = tcase_create("body");

	tcase_add_test(hdr, hdr_offsets_and_byte_order);
	tcase_add_test(hdr, hdr_bitmap_big_endian);
	tcase_add_test(hdr, hdr_round_trip_extremes);
	suite_add_tcase(s, hdr);

	tcase_add_loop_test(check, hdr_check_case, 0, N_CHECK_CASES);
	tcase_add_test(check, hdr_check_every_reason);
	tcase_add_test(check, bad_names_are_counter_names);
	suite_add_tcase(s, check);

	tcase_add_test(len, payload_len_each_encoding);
	tcase_add_test(len, codec_rows_by_value_and_name);
	suite_add_tcase(s, len);

	tcase_add_test(tag, tag_known_answers);
	tcase_add_test(tag, polyval_aes_known_answers);
	tcase_add_test(tag, verify_accepts_the_tag);
	tcase_add_test(tag, verify_rejects_message_bit_flips);
	tcase_add_test(tag, verify_rejects_tag_bit_flips);
	tcase_add_test(tag, verify_rejects_key_bit_flips);
	tcase_add_test(tag, v1_mac_key_is_not_v2);
	tcase_add_test(tag, result_tag_known_answer);
	tcase_add_test(tag, result_verify_rejects_flips);
	suite_add_tcase(s, tag);

	tcase_add_test(body, body_len_by_type);
	tcase_add_test(body, hello_body_layout_and_round_trip);
	tcase_add_test(body, hello_body_unsharded_sender);
	tcase_add_test(body, state_body_layout_and_round_trip);
	tcase_add_test(body, hello_and_state_names);
	suite_add_tcase(s, body);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
