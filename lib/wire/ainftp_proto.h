/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_PROTO_H
#define AINFTP_PROTO_H

/*
 * The ainftp wire format (docs/PROTOCOL.md), version 2: a fixed header right
 * after the UDP header, then a payload (DATA, RESULT) or a 16-byte body
 * (HELLO, HELLO_ACK, STATE), and (when flags has AUTH) a 16-byte tag: after
 * everything else, but in a RESULT right after the header, so that the
 * payload is one buffer shared by every worker's copy.
 * Shared by the appliance, the emulated workers and the worker client library,
 * so it uses no DPDK: plain C11 and the MAC library.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ainftp_codec.h"
#include "ainftp_pvmac.h"

#define AINFTP_PROTO_VERSION 2
#define AINFTP_BODY_LEN 16 /* HELLO, HELLO_ACK and STATE */
#define AINFTP_TAG_LEN 16
#define AINFTP_KEY_BYTES 32	       /* a worker's key (cluster.json: 64 hex digits) */
#define AINFTP_WORKER_APPLIANCE 0xffff /* the worker field of what the appliance sends */
#define AINFTP_MAX_WORKERS 64	       /* per job: results carry a 64-bit bitmap */

enum ainftp_msg_type {
	AINFTP_MSG_DATA = 1,	  /* worker -> appliance: one chunk's contribution */
	AINFTP_MSG_RESULT = 2,	  /* appliance -> worker: one chunk's sum */
	AINFTP_MSG_HEARTBEAT = 3, /* appliance -> worker (control lcore) */
	AINFTP_MSG_HEARTBEAT_ACK = 4,
	AINFTP_MSG_HELLO = 5,	  /* worker -> appliance: its view of the job; join */
	AINFTP_MSG_HELLO_ACK = 6, /* appliance -> worker: the job's geometry and step */
	AINFTP_MSG_STATE = 7,	  /* appliance -> worker: where a slot is (catch-up) */
	AINFTP_MSG_PROBE = 8,	  /* worker -> appliance: is my contribution in? */
	AINFTP_MSG_MAX = AINFTP_MSG_PROBE,
};

enum ainftp_flags {
	AINFTP_F_AUTH = 1 << 0,	    /* a tag follows the payload */
	AINFTP_F_OVERFLOW = 1 << 1, /* result: the exponents spread too far for an exact sum */
	/*
	 * DATA: a leaf box's partial sum of the workers in contributors and
	 * bitmap, one part of it (ainftp_partial.h), to its spine; the encoding
	 * is the job's, the workers' (docs/PROTOCOL.md, "Hierarchy").
	 */
	AINFTP_F_AGGREGATE = 1 << 2,
};

/*
 * The body of HELLO and HELLO_ACK: the job's geometry as the worker sees it
 * (HELLO) and as the appliance has it (HELLO_ACK), big-endian. The header's
 * encoding and elems are the contributions' and bitmap is the worker's nonce,
 * echoed in the ack.
 */
struct ainftp_hello {
	uint32_t slots;
	uint16_t lanes;
	uint8_t result_encoding;
	uint8_t status; /* HELLO_ACK: enum ainftp_hello_status; HELLO: 0 */
	uint32_t step;	/* HELLO_ACK: the step the worker starts at; HELLO: 0 */
	uint8_t auth;	/* enum ainftp_hello_auth bits */
	/*
	 * The job's shards (docs/PROTOCOL.md, "Shards"): this box's index and
	 * the count, as the worker (HELLO) and the box (HELLO_ACK) see them. A
	 * count of 0, from a sender that predates sharding, reads as 0 of 1.
	 */
	uint8_t shard;
	uint8_t shards;
	uint8_t pad; /* sent as 0 */
} __attribute__((packed));

_Static_assert(sizeof(struct ainftp_hello) == AINFTP_BODY_LEN, "HELLO body is 16 bytes");

/* The body's auth byte: what is tagged. */
enum ainftp_hello_auth {
	AINFTP_HELLO_AUTH_DATA = 1 << 0,    /* workers' messages (the job's auth) */
	AINFTP_HELLO_AUTH_RESULTS = 1 << 1, /* HELLO_ACK: results too (cluster.json result_tags) */
	/*
	 * HELLO: the worker can tag with POLYVAL-AES-128. HELLO_ACK: the job's
	 * messages after the handshake are tagged with it (cluster.json auth_mac).
	 */
	AINFTP_HELLO_AUTH_POLYVAL = 1 << 2,
};

/* What a HELLO_ACK says of the worker's view; the first difference found. */
enum ainftp_hello_status {
	AINFTP_HELLO_OK = 0,
	AINFTP_HELLO_JOB,	 /* no such job on this port (the ack has no tag) */
	AINFTP_HELLO_WORKER,	 /* not a worker of the job (the ack has no tag) */
	AINFTP_HELLO_ELEMS,	 /* elements per packet */
	AINFTP_HELLO_ENCODING,	 /* contributions' encoding */
	AINFTP_HELLO_RESULT_ENC, /* results' encoding */
	AINFTP_HELLO_SLOTS,
	AINFTP_HELLO_LANES,
	AINFTP_HELLO_AUTH,
	AINFTP_HELLO_SHARD, /* the box's place among the job's appliances */
	AINFTP_HELLO_MAX
};

extern const char *const ainftp_hello_status_names[AINFTP_HELLO_MAX];

/*
 * The body of STATE, big-endian: where the slot named in the header (the
 * chunk answered: its step, chunk and slot) is. The header's contributors and
 * bitmap are the slot's current chunk's.
 */
struct ainftp_state {
	uint32_t slot_step; /* the chunk the slot sums, or last completed */
	uint32_t slot_chunk;
	uint32_t next_step; /* where a worker that fell behind rejoins */
	uint8_t reason;	    /* enum ainftp_state_reason */
	uint8_t slot_state; /* enum ainftp_slot_state_wire */
	uint8_t pad[2];
} __attribute__((packed));

_Static_assert(sizeof(struct ainftp_state) == AINFTP_BODY_LEN, "STATE body is 16 bytes");

enum ainftp_state_reason {
	AINFTP_STATE_STALE = 1,	  /* the slot moved past that chunk without you: skip it */
	AINFTP_STATE_AHEAD = 2,	  /* the slot still sums an earlier chunk: send it again later */
	AINFTP_STATE_MISSING = 3, /* probe: nothing of yours in that chunk: send your data again */
	AINFTP_STATE_HAVE = 4,	  /* probe: yours is in, the chunk waits for others */
	/*
	 * The chunk's workers disagree on its request (size or operation): the
	 * header's bitmap is the other request's descriptor (ainftp_req_desc).
	 * Nothing of yours was or will be summed there: stop, and fix the order.
	 */
	AINFTP_STATE_MISMATCH = 5,
	/*
	 * Probe, to a leaf box: yours is in, and the chunk's partial sum went
	 * to the spine, whose result has not come back yet (docs/SCALEOUT.md).
	 */
	AINFTP_STATE_UPSTREAM = 6,
	AINFTP_STATE_REASON_MAX
};

enum ainftp_slot_state_wire {
	AINFTP_SLOT_WIRE_IDLE = 0,    /* nothing summed there yet */
	AINFTP_SLOT_WIRE_SUMMING = 1, /* slot_step/slot_chunk is being summed */
	AINFTP_SLOT_WIRE_DONE = 2,    /* slot_step/slot_chunk completed; its result is kept */
};

extern const char *const ainftp_state_reason_names[AINFTP_STATE_REASON_MAX];

/*
 * 32 bytes, all multi-byte fields big-endian, each at a multiple of its size
 * from the start of the header.
 */
struct ainftp_hdr {
	uint8_t version;      /* AINFTP_PROTO_VERSION */
	uint8_t type;	      /* enum ainftp_msg_type */
	uint8_t encoding;     /* enum ainftp_encoding of the payload */
	uint8_t flags;	      /* enum ainftp_flags */
	uint32_t job;	      /* job id from cluster.json */
	uint16_t worker;      /* sender's worker id; AINFTP_WORKER_APPLIANCE from the box */
	uint16_t elems;	      /* elements in the payload */
	uint32_t step;	      /* training step: chunk numbers restart at each step */
	uint32_t chunk;	      /* chunk index within the step */
	uint16_t slot;	      /* chunk % slots of the job: where the box sums it */
	int8_t scale_exp;     /* int16 payload: value = q * 2^scale_exp */
	uint8_t contributors; /* result: how many workers are in the sum */
	uint64_t bitmap;      /* result: which workers (bit = worker id) */
} __attribute__((packed));    /* at frame offset 42: 2 mod 4, so no alignment is claimed */

_Static_assert(sizeof(struct ainftp_hdr) == 32, "wire header is 32 bytes");

/* Why a packet is refused; each has its own drop counter in the appliance. */
enum ainftp_bad {
	AINFTP_OK = 0,
	AINFTP_BAD_TRUNCATED, /* shorter than the header, or than header+payload+tag */
	AINFTP_BAD_VERSION,
	AINFTP_BAD_TYPE,	 /* unknown, or not one a worker sends */
	AINFTP_BAD_JOB,		 /* no such job */
	AINFTP_BAD_WORKER,	 /* not a worker of the job */
	AINFTP_BAD_SOURCE,	 /* source IPv4 is not that worker's */
	AINFTP_BAD_ENCODING,	 /* not the job's encoding */
	AINFTP_BAD_ELEMS,	 /* element count is not the job's elems_per_packet */
	AINFTP_BAD_LENGTH,	 /* payload length does not match the element count */
	AINFTP_BAD_SLOT,	 /* slot out of range, or not chunk % slots, or step and chunk
				    both 0xffffffff (reserved) */
	AINFTP_BAD_LANE,	 /* arrived on a queue that does not own the slot */
	AINFTP_BAD_AUTH_MISSING, /* the job wants a tag and there is none */
	AINFTP_BAD_TAG,		 /* the tag does not verify */
	AINFTP_BAD_VALUE,	 /* NaN or infinity in a float32 payload */
	AINFTP_BAD_STALE,	 /* older than what the slot holds and keeps */
	AINFTP_BAD_DUPLICATE,	 /* this worker is already in the slot's sum */
	AINFTP_BAD_SLOT_BUSY, /* a newer chunk for a slot still summing: the sender's window is too
				 big */
	AINFTP_BAD_MISMATCH,  /* its request differs from the chunk's other workers' (desc) */
	AINFTP_BAD_MAX
};

extern const char *const ainftp_bad_names[AINFTP_BAD_MAX];

/*
 * What a DATA or PROBE's bitmap says of its request (the collective the
 * chunk belongs to), so that the appliance can refuse to sum chunks of
 * different collectives together: workers that issued them in different
 * orders. Bits 0-47 the request's element count, 48-55 its reduce operation
 * (the client's enum ainftp_reduce_op), 56-63 zero. 0: not said (never
 * compared). A RESULT's bitmap is its contributors, as before.
 */
#define AINFTP_REQ_ELEMS_MAX ((UINT64_C(1) << 48) - 1)

static inline uint64_t
ainftp_req_desc(uint64_t elems, unsigned int op)
{
	return (uint64_t)(op & 0xff) << 48 | (elems & AINFTP_REQ_ELEMS_MAX);
}

static inline uint64_t
ainftp_req_desc_elems(uint64_t desc)
{
	return desc & AINFTP_REQ_ELEMS_MAX;
}

static inline unsigned int
ainftp_req_desc_op(uint64_t desc)
{
	return (unsigned int)(desc >> 48 & 0xff);
}

/*
 * Payload bytes for n elements of an encoding (int8: one exponent byte per
 * block of 32); 0 for an unknown encoding.
 */
size_t ainftp_payload_len(unsigned int enc, uint32_t n);

/*
 * The tag: a MAC over header and payload (everything before the tag), keyed
 * with keys derived from the worker's 32-byte key in cluster.json by keyed
 * BLAKE2b (docs/PROTOCOL.md says why these MACs and gives the derivation).
 * A job tags with one of two (cluster.json "auth_mac"):
 *  - SipHash-2-4 with its 128-bit output, the default;
 *  - POLYVAL-AES-128 (ainftp_pvmac.h): a universal hash and one AES block,
 *    several times cheaper per byte with PCLMULQDQ and AES-NI.
 * The join handshake (HELLO and HELLO_ACK) is always tagged with SipHash: a
 * worker learns the job's MAC from the HELLO_ACK.
 *
 * The derivation costs a few microseconds, so whoever tags or checks many
 * packets derives once per worker, at start, into an ainftp_mac_key; it is
 * read-only after that, so lcores may share it.
 */
enum ainftp_mac_alg { AINFTP_MAC_SIPHASH = 0, AINFTP_MAC_POLYVAL_AES = 1, AINFTP_MAC_ALG_MAX };

extern const char *const ainftp_mac_alg_names[AINFTP_MAC_ALG_MAX]; /* cluster.json's names */

struct ainftp_mac_key {
	uint8_t k[16];		    /* SipHash-2-4-128 */
	uint8_t alg;		    /* enum ainftp_mac_alg: what ainftp_mac tags with */
	struct ainftp_pvmac_key pv; /* POLYVAL-AES-128, derived too */
};

/* Derive the MAC keys, alg SipHash. 0, or -1 when libsodium cannot initialise. */
int ainftp_mac_key_init(struct ainftp_mac_key *mk, const uint8_t key[AINFTP_KEY_BYTES]);
/* The MAC under mk->alg. */
void ainftp_mac(const struct ainftp_mac_key *mk, const void *msg, size_t len,
		uint8_t tag[AINFTP_TAG_LEN]);
/* Constant-time check: 1 when tag is the MAC of msg[0..len), else 0. */
int ainftp_mac_verify(const struct ainftp_mac_key *mk, const void *msg, size_t len,
		      const uint8_t tag[AINFTP_TAG_LEN]);
/* The same under a given MAC: the handshake's SipHash whatever the job's. */
void ainftp_mac_as(const struct ainftp_mac_key *mk, enum ainftp_mac_alg alg, const void *msg,
		   size_t len, uint8_t tag[AINFTP_TAG_LEN]);
int ainftp_mac_verify_as(const struct ainftp_mac_key *mk, enum ainftp_mac_alg alg, const void *msg,
			 size_t len, const uint8_t tag[AINFTP_TAG_LEN]);

/*
 * The same from the worker's 32-byte key, derived again on every call: for
 * tests and one-off messages, not for a per-packet path.
 */
void ainftp_tag(const uint8_t key[AINFTP_KEY_BYTES], const void *msg, size_t len,
		uint8_t tag[AINFTP_TAG_LEN]);
int ainftp_tag_verify(const uint8_t key[AINFTP_KEY_BYTES], const void *msg, size_t len,
		      const uint8_t tag[AINFTP_TAG_LEN]);

/* Host-order view of a header, for building and after parsing. */
struct ainftp_msg {
	uint8_t type;
	uint8_t encoding;
	uint8_t flags;
	uint32_t job;
	uint16_t worker;
	uint16_t elems;
	uint32_t step;
	uint32_t chunk;
	uint16_t slot;
	int8_t scale_exp;
	uint8_t contributors;
	uint64_t bitmap;
};

void ainftp_hdr_write(struct ainftp_hdr *h, const struct ainftp_msg *m);
void ainftp_hdr_read(const struct ainftp_hdr *h, struct ainftp_msg *m);

/*
 * What can be checked without the job: length (udp_len = bytes after the UDP
 * header), version, type, encoding, and that the payload and the tag (when
 * flags has AUTH) fit exactly. Returns AINFTP_OK or the reason.
 */
enum ainftp_bad ainftp_hdr_check(const struct ainftp_hdr *h, size_t udp_len);

/*
 * Whether an AGGREGATE DATA of udp_len bytes (after the UDP header) holds one
 * well-formed part of a partial sum (ainftp_partial.h) and its tag, if any.
 */
bool ainftp_part_valid(const struct ainftp_hdr *h, size_t udp_len);

/* Bytes of body a type carries: AINFTP_BODY_LEN for HELLO, HELLO_ACK and STATE, else 0. */
size_t ainftp_body_len(unsigned int type);

/* Host-order views of the bodies, and their conversions (big-endian on the wire). */
struct ainftp_hello_info {
	uint32_t slots;
	uint16_t lanes;
	uint8_t result_encoding;
	uint8_t status;
	uint32_t step;
	uint8_t auth;
	uint8_t shard;
	uint8_t shards; /* 1.. on read: a 0 on the wire reads as 1 */
};

struct ainftp_state_info {
	uint32_t slot_step;
	uint32_t slot_chunk;
	uint32_t next_step;
	uint8_t reason;
	uint8_t slot_state;
};

void ainftp_hello_write(struct ainftp_hello *b, const struct ainftp_hello_info *i);
void ainftp_hello_read(const struct ainftp_hello *b, struct ainftp_hello_info *i);
void ainftp_state_write(struct ainftp_state *b, const struct ainftp_state_info *i);
void ainftp_state_read(const struct ainftp_state *b, struct ainftp_state_info *i);

/*
 * A RESULT's tag sits right after the header and covers header and payload,
 * which are therefore not contiguous on the wire: this checks it in place of
 * the datagram p (udp_len bytes after the UDP header) by moving the header
 * next to the payload, so p is changed; 1 when the tag is right.
 */
int ainftp_result_verify(const struct ainftp_mac_key *mk, uint8_t *p, size_t udp_len);

#endif
