/* SPDX-License-Identifier: BSD-3-Clause */
#include <stddef.h>
#include <string.h>

#include <sodium.h>

#include "ainftp_partial.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"

_Static_assert(sizeof(((struct ainftp_mac_key *)0)->k) == crypto_shorthash_siphashx24_KEYBYTES,
	       "SipHash-2-4-128 takes a 128-bit key");
_Static_assert(AINFTP_TAG_LEN == crypto_shorthash_siphashx24_BYTES,
	       "the tag is all of SipHash-128");

/* Inputs of the key derivations: name what each derived key is for (docs/PROTOCOL.md). */
static const char mac_key_context[] = "ainftp v2 SipHash-2-4-128 key";
static const char pvmac_key_context[] = "ainftp v2 POLYVAL-AES-128 keys";

const char *const ainftp_mac_alg_names[AINFTP_MAC_ALG_MAX] = {
	[AINFTP_MAC_SIPHASH] = "siphash",
	[AINFTP_MAC_POLYVAL_AES] = "polyval-aes",
};

const char *const ainftp_bad_names[AINFTP_BAD_MAX] = {
	[AINFTP_OK] = "ok",
	[AINFTP_BAD_TRUNCATED] = "truncated",
	[AINFTP_BAD_VERSION] = "version",
	[AINFTP_BAD_TYPE] = "type",
	[AINFTP_BAD_JOB] = "job",
	[AINFTP_BAD_WORKER] = "worker",
	[AINFTP_BAD_SOURCE] = "source",
	[AINFTP_BAD_ENCODING] = "encoding",
	[AINFTP_BAD_ELEMS] = "elems",
	[AINFTP_BAD_LENGTH] = "length",
	[AINFTP_BAD_SLOT] = "slot",
	[AINFTP_BAD_LANE] = "lane",
	[AINFTP_BAD_AUTH_MISSING] = "auth_missing",
	[AINFTP_BAD_TAG] = "tag",
	[AINFTP_BAD_VALUE] = "value",
	[AINFTP_BAD_STALE] = "stale",
	[AINFTP_BAD_DUPLICATE] = "duplicate",
	[AINFTP_BAD_SLOT_BUSY] = "slot_busy",
	[AINFTP_BAD_MISMATCH] = "mismatch",
};

const char *const ainftp_hello_status_names[AINFTP_HELLO_MAX] = {
	[AINFTP_HELLO_OK] = "ok",
	[AINFTP_HELLO_JOB] = "job",
	[AINFTP_HELLO_WORKER] = "worker",
	[AINFTP_HELLO_ELEMS] = "elems_per_packet",
	[AINFTP_HELLO_ENCODING] = "encoding",
	[AINFTP_HELLO_RESULT_ENC] = "result_encoding",
	[AINFTP_HELLO_SLOTS] = "slots",
	[AINFTP_HELLO_LANES] = "lanes",
	[AINFTP_HELLO_AUTH] = "auth",
	[AINFTP_HELLO_SHARD] = "shard",
};

const char *const ainftp_state_reason_names[AINFTP_STATE_REASON_MAX] = {
	[0] = "none",
	[AINFTP_STATE_STALE] = "stale",
	[AINFTP_STATE_AHEAD] = "ahead",
	[AINFTP_STATE_MISSING] = "missing",
	[AINFTP_STATE_HAVE] = "have",
	[AINFTP_STATE_MISMATCH] = "mismatch",
	[AINFTP_STATE_UPSTREAM] = "upstream",
};

size_t
ainftp_payload_len(unsigned int enc, uint32_t n)
{
	const struct ainftp_codec *c = ainftp_codec_get(enc);

	return c == NULL ? 0 : c->payload_len(n);
}

/* Derivation without sodium_init(), which takes a lock: the per-call path of ainftp_tag. */
static void
mac_key_derive(struct ainftp_mac_key *mk, const uint8_t key[AINFTP_KEY_BYTES])
{
	crypto_generichash(mk->k, sizeof(mk->k), (const unsigned char *)mac_key_context,
			   sizeof(mac_key_context) - 1, key, AINFTP_KEY_BYTES);
	mk->alg = AINFTP_MAC_SIPHASH;
}

/* POLYVAL's key h, then the AES-128 key: 32 bytes of one derivation. */
static void
pvmac_key_derive(struct ainftp_mac_key *mk, const uint8_t key[AINFTP_KEY_BYTES])
{
	uint8_t hk[32];

	crypto_generichash(hk, sizeof(hk), (const unsigned char *)pvmac_key_context,
			   sizeof(pvmac_key_context) - 1, key, AINFTP_KEY_BYTES);
	ainftp_pvmac_key_init(&mk->pv, hk, hk + 16);
	sodium_memzero(hk, sizeof(hk));
}

int
ainftp_mac_key_init(struct ainftp_mac_key *mk, const uint8_t key[AINFTP_KEY_BYTES])
{
	/* Lets libsodium pick its fastest BLAKE2b for this CPU; SipHash has only one. */
	if (sodium_init() < 0)
		return -1;
	mac_key_derive(mk, key);
	pvmac_key_derive(mk, key);
	return 0;
}

void
ainftp_mac_as(const struct ainftp_mac_key *mk, enum ainftp_mac_alg alg, const void *msg, size_t len,
	      uint8_t tag[AINFTP_TAG_LEN])
{
	if (alg == AINFTP_MAC_POLYVAL_AES)
		ainftp_pvmac(&mk->pv, msg, len, tag, 512);
	else
		crypto_shorthash_siphashx24(tag, msg, len, mk->k);
}

void
ainftp_mac(const struct ainftp_mac_key *mk, const void *msg, size_t len,
	   uint8_t tag[AINFTP_TAG_LEN])
{
	ainftp_mac_as(mk, (enum ainftp_mac_alg)mk->alg, msg, len, tag);
}

int
ainftp_mac_verify_as(const struct ainftp_mac_key *mk, enum ainftp_mac_alg alg, const void *msg,
		     size_t len, const uint8_t tag[AINFTP_TAG_LEN])
{
	uint8_t want[AINFTP_TAG_LEN];
	int ok;

	ainftp_mac_as(mk, alg, msg, len, want);
	ok = sodium_memcmp(want, tag, AINFTP_TAG_LEN) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

int
ainftp_mac_verify(const struct ainftp_mac_key *mk, const void *msg, size_t len,
		  const uint8_t tag[AINFTP_TAG_LEN])
{
	return ainftp_mac_verify_as(mk, (enum ainftp_mac_alg)mk->alg, msg, len, tag);
}

void
ainftp_tag(const uint8_t key[AINFTP_KEY_BYTES], const void *msg, size_t len,
	   uint8_t tag[AINFTP_TAG_LEN])
{
	struct ainftp_mac_key mk;

	mac_key_derive(&mk, key);
	ainftp_mac(&mk, msg, len, tag);
}

int
ainftp_tag_verify(const uint8_t key[AINFTP_KEY_BYTES], const void *msg, size_t len,
		  const uint8_t tag[AINFTP_TAG_LEN])
{
	struct ainftp_mac_key mk;

	mac_key_derive(&mk, key);
	return ainftp_mac_verify(&mk, msg, len, tag);
}

/* Big-endian by shifts, so the code is the same on any host and needs no arpa/inet.h. */
static void
put_be(uint8_t *p, uint64_t v, size_t n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

#define HDR_PUT(h, field, v) \
	put_be((uint8_t *)(h) + offsetof(struct ainftp_hdr, field), (v), sizeof((h)->field))
#define HDR_GET(h, field) \
	get_be((const uint8_t *)(h) + offsetof(struct ainftp_hdr, field), sizeof((h)->field))

void
ainftp_hdr_write(struct ainftp_hdr *h, const struct ainftp_msg *m)
{
	h->version = AINFTP_PROTO_VERSION;
	h->type = m->type;
	h->encoding = m->encoding;
	h->flags = m->flags;
	HDR_PUT(h, job, m->job);
	HDR_PUT(h, worker, m->worker);
	HDR_PUT(h, elems, m->elems);
	HDR_PUT(h, step, m->step);
	HDR_PUT(h, chunk, m->chunk);
	HDR_PUT(h, slot, m->slot);
	h->scale_exp = m->scale_exp;
	h->contributors = m->contributors;
	HDR_PUT(h, bitmap, m->bitmap);
}

void
ainftp_hdr_read(const struct ainftp_hdr *h, struct ainftp_msg *m)
{
	m->type = h->type;
	m->encoding = h->encoding;
	m->flags = h->flags;
	m->job = (uint32_t)HDR_GET(h, job);
	m->worker = (uint16_t)HDR_GET(h, worker);
	m->elems = (uint16_t)HDR_GET(h, elems);
	m->step = (uint32_t)HDR_GET(h, step);
	m->chunk = (uint32_t)HDR_GET(h, chunk);
	m->slot = (uint16_t)HDR_GET(h, slot);
	m->scale_exp = h->scale_exp;
	m->contributors = h->contributors;
	m->bitmap = HDR_GET(h, bitmap);
}

/* DATA and RESULT carry elements; HELLO, HELLO_ACK and STATE a body; the others nothing. */
static int
carries_payload(uint8_t type)
{
	return type == AINFTP_MSG_DATA || type == AINFTP_MSG_RESULT;
}

size_t
ainftp_body_len(unsigned int type)
{
	return type == AINFTP_MSG_HELLO || type == AINFTP_MSG_HELLO_ACK || type == AINFTP_MSG_STATE
		       ? AINFTP_BODY_LEN
		       : 0;
}

/* Bytes after the UDP header that a message with this header must have exactly. */
static size_t
expected_len(const struct ainftp_hdr *h)
{
	size_t len = sizeof(*h) + ainftp_body_len(h->type);

	if (carries_payload(h->type))
		len += ainftp_payload_len(h->encoding, (uint32_t)HDR_GET(h, elems));
	if (h->flags & AINFTP_F_AUTH)
		len += AINFTP_TAG_LEN;
	return len;
}

/*
 * A leaf's partial sum: its payload is one part of the chunk's exact sum, its
 * length said by the part's own header (ainftp_partial.h), checked whole. A
 * payload of the length a worker's would have passes too: whether the job
 * takes a partial sum at all is its own check (type), which comes first, and
 * a spine's job checks the part again (ainftp_part_valid, in data_check).
 */
static enum ainftp_bad
aggregate_check(const struct ainftp_hdr *h, size_t udp_len)
{
	size_t tag = (h->flags & AINFTP_F_AUTH) ? AINFTP_TAG_LEN : 0;

	if (udp_len == expected_len(h))
		return AINFTP_OK;
	if (udp_len < sizeof(*h) + AINFTP_PART_HDR_LEN + tag)
		return AINFTP_BAD_TRUNCATED;
	return ainftp_part_valid(h, udp_len) ? AINFTP_OK : AINFTP_BAD_LENGTH;
}

bool
ainftp_part_valid(const struct ainftp_hdr *h, size_t udp_len)
{
	size_t tag = (h->flags & AINFTP_F_AUTH) ? AINFTP_TAG_LEN : 0;
	struct ainftp_part_info pi;

	return udp_len >= sizeof(*h) + tag &&
	       ainftp_part_parse(h + 1, udp_len - sizeof(*h) - tag, (uint32_t)HDR_GET(h, elems),
				 &pi) == 0;
}

enum ainftp_bad
ainftp_hdr_check(const struct ainftp_hdr *h, size_t udp_len)
{
	size_t want;

	if (udp_len < sizeof(*h))
		return AINFTP_BAD_TRUNCATED;
	if (h->version != AINFTP_PROTO_VERSION)
		return AINFTP_BAD_VERSION;
	if (h->type < AINFTP_MSG_DATA || h->type > AINFTP_MSG_MAX)
		return AINFTP_BAD_TYPE;
	if (ainftp_codec_get(h->encoding) == NULL)
		return AINFTP_BAD_ENCODING;
	if (carries_payload(h->type) && HDR_GET(h, elems) == 0)
		return AINFTP_BAD_ELEMS;
	if (h->type == AINFTP_MSG_DATA && (h->flags & AINFTP_F_AGGREGATE))
		return aggregate_check(h, udp_len);
	want = expected_len(h);
	if (udp_len < want)
		return AINFTP_BAD_TRUNCATED;
	if (udp_len > want)
		return AINFTP_BAD_LENGTH;
	return AINFTP_OK;
}

#define BODY_PUT(b, field, v) \
	put_be((uint8_t *)(b) + offsetof(__typeof__(*(b)), field), (v), sizeof((b)->field))
#define BODY_GET(b, field) \
	get_be((const uint8_t *)(b) + offsetof(__typeof__(*(b)), field), sizeof((b)->field))

void
ainftp_hello_write(struct ainftp_hello *b, const struct ainftp_hello_info *i)
{
	memset(b, 0, sizeof(*b));
	BODY_PUT(b, slots, i->slots);
	BODY_PUT(b, lanes, i->lanes);
	b->result_encoding = i->result_encoding;
	b->status = i->status;
	BODY_PUT(b, step, i->step);
	b->auth = i->auth;
	b->shard = i->shard;
	b->shards = i->shards;
}

void
ainftp_hello_read(const struct ainftp_hello *b, struct ainftp_hello_info *i)
{
	i->slots = (uint32_t)BODY_GET(b, slots);
	i->lanes = (uint16_t)BODY_GET(b, lanes);
	i->result_encoding = b->result_encoding;
	i->status = b->status;
	i->step = (uint32_t)BODY_GET(b, step);
	i->auth = b->auth;
	i->shard = b->shard;
	i->shards = b->shards != 0 ? b->shards : 1;
}

void
ainftp_state_write(struct ainftp_state *b, const struct ainftp_state_info *i)
{
	memset(b, 0, sizeof(*b));
	BODY_PUT(b, slot_step, i->slot_step);
	BODY_PUT(b, slot_chunk, i->slot_chunk);
	BODY_PUT(b, next_step, i->next_step);
	b->reason = i->reason;
	b->slot_state = i->slot_state;
}

void
ainftp_state_read(const struct ainftp_state *b, struct ainftp_state_info *i)
{
	i->slot_step = (uint32_t)BODY_GET(b, slot_step);
	i->slot_chunk = (uint32_t)BODY_GET(b, slot_chunk);
	i->next_step = (uint32_t)BODY_GET(b, next_step);
	i->reason = b->reason;
	i->slot_state = b->slot_state;
}

int
ainftp_result_verify(const struct ainftp_mac_key *mk, uint8_t *p, size_t udp_len)
{
	uint8_t tag[AINFTP_TAG_LEN];
	size_t hl = sizeof(struct ainftp_hdr);

	if (udp_len < hl + AINFTP_TAG_LEN)
		return 0;
	memcpy(tag, p + hl, AINFTP_TAG_LEN);
	memmove(p + AINFTP_TAG_LEN, p, hl);
	return ainftp_mac_verify(mk, p + AINFTP_TAG_LEN, udp_len - AINFTP_TAG_LEN, tag);
}
