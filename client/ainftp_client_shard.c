/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The public client: one worker of one job over the job's boxes
 * (docs/PROTOCOL.md, "Shards"). Each box has its own engine
 * (ainftp_client.c): its socket, thread, slots, windows, timers and join.
 * A request is cut by the shard rule into one contiguous sub-request per box
 * that owns chunks of it, and put back together here: its status, its
 * message, its chunks' contributors in the request's own chunk order. With
 * one box this is a shell around it: one more small allocation per request.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ainftp_client_private.h"
#include "ainftp_quant.h"

struct ainftp_client {
	uint32_t elems;
	unsigned int n_boxes;
	struct box *box[AINFTP_MAX_SHARDS];
};

struct ainftp_req {
	uint32_t nchunks;
	unsigned int n_boxes;
	struct box_req *sub[AINFTP_MAX_SHARDS]; /* NULL: the box owns none of its chunks */
};

/* ------------------------------------------------------------ open and close */

static void
boxes_close(struct ainftp_client *c)
{
	for (unsigned int b = 0; b < c->n_boxes; b++)
		ainftp_box_close(c->box[b]);
	free(c);
}

/* This box's failure to open, named: which of the job's boxes refused or stayed silent. */
static int
box_open_failed(const struct ainftp_opts *o, int rc)
{
	char ip[INET_ADDRSTRLEN], msg[512];
	struct in_addr a = {.s_addr = o->appliance};

	if (o->shards == 1)
		return rc;
	snprintf(msg, sizeof(msg), "%s", ainftp_last_error());
	return ainftp_client_seterr_status(rc, "appliance %s (shard %u of %u): %s",
					   inet_ntop(AF_INET, &a, ip, sizeof(ip)), o->shard,
					   o->shards, msg);
}

int
ainftp_client_open(const struct ainftp_opts *o, struct ainftp_client **out)
{
	struct ainftp_client *c;
	struct ainftp_opts bo;
	int rc = 0;

	if (out == NULL || o == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_client_open: options and out are "
						   "required (got NULL)");
	*out = NULL;
	rc = ainftp_client_opts_check(o);
	if (rc < 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ainftp_client_seterr_status(AINFTP_E_NOMEM, "open: out of memory");
	c->elems = o->elems;
	bo = *o;
	for (unsigned int b = 0; b < o->shards && rc == 0; b++) {
		bo.appliance = o->appliances[b];
		bo.shard = (uint8_t)b;
		bo.bind_port = o->bind_port != 0 ? (uint16_t)(o->bind_port + b) : 0;
		rc = ainftp_box_open(&bo, &c->box[b]);
		if (rc < 0)
			rc = box_open_failed(&bo, rc);
		else
			c->n_boxes++;
	}
	ainftp_client_wipe(&bo, sizeof(bo));
	if (rc < 0) {
		boxes_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
ainftp_client_close(struct ainftp_client *c)
{
	if (c != NULL)
		boxes_close(c);
}

int
ainftp_client_local_port(const struct ainftp_client *c)
{
	if (c == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_client_local_port: client is NULL");
	return ainftp_box_local_port(c->box[0]);
}

/* ------------------------------------------------------------ requests */

static int
req_check(struct ainftp_client *c, const float *buf, size_t n, int op)
{
	size_t bad;

	if (c == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL, "all-reduce: client is NULL");
	if (buf == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL, "all-reduce: buffer is NULL");
	/*
	 * The engine loads and stores buf as floats: at an address that is not a
	 * multiple of their alignment (a C caller's byte buffer, a tensor at an odd
	 * byte offset) that is undefined behaviour, and a fault on some CPUs.
	 */
	if ((uintptr_t)buf % _Alignof(float) != 0)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "all-reduce: buffer %p is not aligned for "
						   "float (a multiple of %zu bytes)",
						   (const void *)buf, _Alignof(float));
	if (n == 0)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "all-reduce: length is 0 elements");
	if ((n + c->elems - 1) / c->elems > UINT32_MAX)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "all-reduce: %zu elements is more than 2^32 "
						   "chunks of %u",
						   n, c->elems);
	if (op != AINFTP_OP_SUM && op != AINFTP_OP_MEAN)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "all-reduce: op %d is not AINFTP_OP_SUM or "
						   "AINFTP_OP_MEAN",
						   op);
	/* The appliance would drop a chunk with one as `value`: refused before any is sent. */
	bad = ainftp_box_first_nonfinite(c->box[0], buf, n);
	if (bad < n)
		return ainftp_client_seterr_status(AINFTP_E_VALUE,
						   "all-reduce: element %zu is %s; the appliance "
						   "refuses NaN and infinity",
						   bad, isnan(buf[bad]) ? "NaN" : "infinite");
	return 0;
}

static void
req_destroy(struct ainftp_req *r)
{
	for (unsigned int b = 0; b < r->n_boxes; b++)
		if (r->sub[b] != NULL)
			ainftp_box_req_free(r->sub[b]);
	free(r);
}

/*
 * The step every part starts at or after: the furthest any box has said the
 * job is. A box that joined earlier in the job's life than another, or that
 * did not yet tell this worker to skip ahead (STATE stale) as another did,
 * would otherwise put its part in an earlier request of the job than the
 * other boxes put theirs. One box: 0, and its engine's own count decides.
 */
static uint32_t
job_step(struct ainftp_client *c)
{
	uint32_t step = 0;

	for (unsigned int b = 0; c->n_boxes > 1 && b < c->n_boxes; b++) {
		uint32_t s = ainftp_box_next_step(c->box[b]);

		step = s > step ? s : step;
	}
	return step;
}

/*
 * Box b's part: the chunks [first, end) of the shard rule, that is elements
 * first * elems up to end * elems or n. A box that owns none gets an empty
 * part that sends nothing: the box sees no request, but the client takes
 * the step there too, so that all boxes number the job's requests alike.
 */
static int
req_split(struct ainftp_client *c, struct ainftp_req *r, float *buf, size_t n, int op)
{
	uint32_t step = job_step(c);

	for (unsigned int b = 0; b < c->n_boxes; b++) {
		uint32_t first = ainftp_shard_first(r->nchunks, b, c->n_boxes);
		uint32_t end = ainftp_shard_first(r->nchunks, b + 1, c->n_boxes);
		size_t lo = (size_t)first * c->elems, hi = (size_t)end * c->elems;

		r->sub[b] = ainftp_box_req_new(c->box[b], buf + lo,
					       first == end ? 0 : (hi < n ? hi : n) - lo, op, step);
		if (r->sub[b] == NULL)
			return ainftp_client_seterr_status(AINFTP_E_NOMEM,
							   "all-reduce: out of memory");
	}
	return 0;
}

int
ainftp_allreduce_start(struct ainftp_client *c, float *buf, size_t n, int op,
		       struct ainftp_req **out)
{
	struct ainftp_req *r;
	int rc;

	if (out == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_allreduce_start: out is NULL");
	*out = NULL;
	rc = req_check(c, buf, n, op);
	if (rc < 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ainftp_client_seterr_status(AINFTP_E_NOMEM, "all-reduce: out of memory");
	r->nchunks = (uint32_t)((n + c->elems - 1) / c->elems);
	rc = req_split(c, r, buf, n, op);
	if (rc == 0)
		rc = ainftp_box_submit(c->box, r->sub, c->n_boxes);
	if (rc < 0) {
		for (unsigned int b = 0; b < c->n_boxes; b++)
			if (r->sub[b] != NULL)
				ainftp_box_req_discard(r->sub[b]);
		free(r);
		return rc;
	}
	r->n_boxes = c->n_boxes;
	*out = r;
	return 0;
}

int
ainftp_allreduce(struct ainftp_client *c, float *buf, size_t n, int op)
{
	struct ainftp_req *r;
	int rc = ainftp_allreduce_start(c, buf, n, op, &r);

	if (rc < 0)
		return rc;
	rc = ainftp_req_wait(r);
	ainftp_req_free(r);
	return rc;
}

int
ainftp_req_test(struct ainftp_req *r)
{
	if (r == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_req_test: request is NULL");
	for (unsigned int b = 0; b < r->n_boxes; b++)
		if (r->sub[b] != NULL && !ainftp_box_req_done(r->sub[b]))
			return 0;
	return 1;
}

/*
 * Wait for every part (a request is complete, and its buffer the caller's
 * again, only when each box is done with its part), then the part whose
 * status is the request's, NULL when all succeeded: the first failure in box
 * order, else the first AINFTP_E_SKIPPED or AINFTP_E_OVERFLOW (their buffers
 * hold results: not failures).
 */
static struct box_req *
req_verdict(const struct ainftp_req *r, int *status)
{
	struct box_req *hard = NULL, *soft = NULL;
	int hard_status = 0, soft_status = 0;

	for (unsigned int b = 0; b < r->n_boxes; b++) {
		int s;

		if (r->sub[b] == NULL)
			continue;
		s = ainftp_box_req_wait(r->sub[b]);
		if (s == AINFTP_E_SKIPPED || s == AINFTP_E_OVERFLOW) {
			if (soft == NULL) {
				soft = r->sub[b];
				soft_status = s;
			}
		} else if (s < 0 && hard == NULL) {
			hard = r->sub[b];
			hard_status = s;
		}
	}
	*status = hard != NULL ? hard_status : soft_status;
	return hard != NULL ? hard : soft;
}

/* No deadline of its own: each box's engine completes its part (timeout_ms, or close). */
int
ainftp_req_wait(struct ainftp_req *r)
{
	const struct box_req *v;
	int status;

	if (r == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_req_wait: request is NULL");
	v = req_verdict(r, &status);
	if (v != NULL)
		ainftp_client_seterr("%s", ainftp_box_req_error(v));
	return status;
}

const char *
ainftp_req_error(const struct ainftp_req *r)
{
	const struct box_req *v;
	int status;

	if (r == NULL || !ainftp_req_test((struct ainftp_req *)r))
		return "";
	v = req_verdict(r, &status);
	return v != NULL ? ainftp_box_req_error(v) : "";
}

void
ainftp_req_free(struct ainftp_req *r)
{
	if (r != NULL)
		req_destroy(r);
}

/*
 * The step is the last box's, the one whose part has chunks of every request
 * (the shard rule gives it at least one), that is the step the box summed it
 * at. The bitmaps are each box's, at its chunks' places.
 */
int
ainftp_req_info(const struct ainftp_req *r, uint32_t *step, uint64_t *bitmaps, size_t n)
{
	if (r == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_req_info: request is NULL");
	if (!ainftp_req_test((struct ainftp_req *)r))
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_req_info: the request is still pending");
	for (unsigned int b = 0; b < r->n_boxes; b++) {
		/* Where box b's chunks start in the request: the shard rule again. */
		uint32_t first = ainftp_shard_first(r->nchunks, b, r->n_boxes);
		const uint64_t *bm;
		uint32_t s, k;

		if (r->sub[b] == NULL)
			continue;
		ainftp_box_req_info(r->sub[b], &s, &bm, &k);
		if (step != NULL && b == r->n_boxes - 1)
			*step = s;
		if (bitmaps != NULL && first < n)
			memcpy(bitmaps + first, bm,
			       (n - first < k ? n - first : k) * sizeof(*bitmaps));
	}
	return 0;
}

/* ------------------------------------------------------------ the client's state */

/* As ainftp_req_info's step: the last box's, which takes part in every request. */
int
ainftp_client_next_step(struct ainftp_client *c, uint32_t *step)
{
	if (c == NULL || step == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_client_next_step: client and step are "
						   "required (got NULL)");
	*step = ainftp_box_next_step(c->box[c->n_boxes - 1]);
	return 0;
}

/*
 * The boxes' counters summed, but requests: the last box's, which takes
 * part in every request; the round trip and timeout: the slowest box's.
 */
int
ainftp_client_get_stats(struct ainftp_client *c, struct ainftp_client_stats *s)
{
	struct ainftp_client_stats t;

	if (c == NULL || s == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_client_get_stats: client and stats are "
						   "required (got NULL)");
	ainftp_box_stats(c->box[0], s);
	for (unsigned int b = 1; b < c->n_boxes; b++) {
		ainftp_box_stats(c->box[b], &t);
		s->requests = t.requests;
		s->chunks += t.chunks;
		s->packets_sent += t.packets_sent;
		s->retransmits += t.retransmits;
		s->results += t.results;
		s->dup_results += t.dup_results;
		s->bad_packets += t.bad_packets;
		s->heartbeats += t.heartbeats;
		s->bytes_sent += t.bytes_sent;
		s->bytes_received += t.bytes_received;
		s->probes += t.probes;
		s->states += t.states;
		s->chunks_skipped += t.chunks_skipped;
		s->requests_skipped += t.requests_skipped;
		s->bad_tags += t.bad_tags;
		s->srtt_us = t.srtt_us > s->srtt_us ? t.srtt_us : s->srtt_us;
		s->rto_us = t.rto_us > s->rto_us ? t.rto_us : s->rto_us;
	}
	return 0;
}

int
ainftp_client_get_xdp_stats(struct ainftp_client *c, struct ainftp_client_xdp_stats *s)
{
	struct ainftp_client_xdp_stats t;

	if (c == NULL || s == NULL)
		return ainftp_client_seterr_status(AINFTP_E_INVAL,
						   "ainftp_client_get_xdp_stats: client and stats "
						   "are required (got NULL)");
	memset(s, 0, sizeof(*s));
	for (unsigned int b = 0; b < c->n_boxes; b++) {
		ainftp_box_xdp_stats(c->box[b], &t);
		s->boxes += t.boxes;
		s->native += t.native;
		s->sent += t.sent;
		s->received += t.received;
		s->bad += t.bad;
	}
	return 0;
}
