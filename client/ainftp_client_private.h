/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CLIENT_PRIV_H
#define AINFTP_CLIENT_PRIV_H

/* What the client library's files share; not installed. */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ainftp_client.h"
#include "ainftp_config.h"
#include "ainftp_proto.h"

enum ainftp_gso_mode { AINFTP_GSO_OFF, AINFTP_GSO_ON, AINFTP_GSO_AUTO };

struct ainftp_opts {
	/*
	 * The job's boxes, network byte order ("appliance": a comma-separated
	 * list); appliance is the one a box's engine talks to, appliances[0]
	 * until ainftp_client_open gives each engine its own (docs/PROTOCOL.md,
	 * "Shards"), and shard is that box's index of shards.
	 */
	uint32_t appliance;
	bool has_appliance;
	uint8_t shard;
	uint8_t shards; /* 1.. AINFTP_MAX_SHARDS: how many of appliances are set */
	uint32_t appliances[AINFTP_MAX_SHARDS];
	uint16_t port;
	uint16_t lanes;
	uint32_t bind; /* network byte order; 0: any */
	uint16_t bind_port;
	uint32_t job;
	bool has_job;
	int worker; /* -1: not set */
	uint8_t key[AINFTP_KEY_BYTES];
	bool has_key;
	bool auth;
	uint32_t elems;
	int encoding; /* enum ainftp_wire_encoding; -1: not set */
	int result_encoding;
	uint32_t slots;
	uint32_t window; /* 0: slots */
	uint32_t first_step;
	bool has_first_step; /* set: no step from the appliance's HELLO_ACK */
	uint32_t rto_us;
	uint32_t rto_min_us;
	uint32_t rto_max_us;
	uint32_t timeout_ms;
	uint32_t sockbuf;
	int gso;  /* enum ainftp_gso_mode */
	bool xdp; /* AF_XDP where it can be had (ainftp_client_xdp.h), else UDP and one line */
	uint32_t simd_bits;
};

/* CLOCK_MONOTONIC in nanoseconds: the engine's timers and the join's. */
static inline uint64_t
ainftp_client_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Set this thread's ainftp_last_error(); the _status form returns status. */
void ainftp_client_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ainftp_client_seterr_status(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* What the join learnt from the appliance. */
struct ainftp_join {
	uint32_t step;	  /* where to start */
	bool result_tags; /* the job tags its results (auth on, cluster.json result_tags) */
	enum ainftp_mac_alg mac_alg; /* the job's MAC after the handshake (cluster.json auth_mac) */
};

/*
 * The join handshake on fd (bound, not connected): 0 and what the appliance
 * said, or a negative status with the error set.
 */
int ainftp_client_hello(const struct ainftp_opts *o, const struct ainftp_mac_key *mk, int fd,
			struct ainftp_join *j);

/* Zero memory that held a key, in a way the compiler keeps. */
void ainftp_client_wipe(void *p, size_t n);

/*
 * One box's engine (ainftp_client.c): its own socket, engine thread, slots,
 * windows, timers and join, talking to o->appliance as shard o->shard of
 * o->shards. The public client (ainftp_client_shard.c) holds one per box of
 * the job, and a public request one box_req per box that has chunks of it.
 * Failures of a box with shards > 1 name it in their messages.
 */
struct box;
struct box_req;

/* What ainftp_client_open refuses in the options, before it opens any box. */
int ainftp_client_opts_check(const struct ainftp_opts *o);
/* ainftp_client_open for one box (options checked): the join done, the thread started. */
int ainftp_box_open(const struct ainftp_opts *o, struct box **out);
void ainftp_box_close(struct box *c);
uint16_t ainftp_box_local_port(const struct box *c);
/* What the engine last published: its stats, the step of its next request. */
void ainftp_box_stats(struct box *c, struct ainftp_client_stats *s);
void ainftp_box_xdp_stats(struct box *c, struct ainftp_client_xdp_stats *s);
uint32_t ainftp_box_next_step(struct box *c);
/* The first NaN or infinity of x[0..n), or n, with the box's SIMD kernels. */
size_t ainftp_box_first_nonfinite(const struct box *c, const float *x, size_t n);

/*
 * A request of buf[0..n) for box c, not yet queued; NULL when out of memory.
 * n 0: no chunk of the job's request is this box's, but it takes a step
 * here too, so that every box numbers the job's requests alike. Its step
 * is at least min_step.
 */
struct box_req *ainftp_box_req_new(const struct box *c, float *buf, size_t n, int op,
				   uint32_t min_step);
/*
 * Queue reqs[b] on boxes[b] (NULL: nothing for that box), all or none: when
 * one of the boxes failed earlier, none is queued and AINFTP_E_FAILED is
 * returned with that box's message.
 */
int ainftp_box_submit(struct box *const *boxes, struct box_req *const *reqs, unsigned int n);
/* Free a request that was never queued. */
void ainftp_box_req_discard(struct box_req *r);
bool ainftp_box_req_done(const struct box_req *r);
/* Wait for completion: its status; its message in ainftp_box_req_error. */
int ainftp_box_req_wait(struct box_req *r);
const char *ainftp_box_req_error(const struct box_req *r); /* "" while pending or on success */
/* A completed request's step and its chunks' contributors (nchunks of them). */
void ainftp_box_req_info(const struct box_req *r, uint32_t *step, const uint64_t **bitmaps,
			 uint32_t *nchunks);
/* Wait for it, then free it. */
void ainftp_box_req_free(struct box_req *r);

/*
 * The shard rule (docs/PROTOCOL.md, "Shards"): of a request's k chunks, box
 * b of n owns [first, end) = [floor(b*k/n), floor((b+1)*k/n)); the last box
 * always owns at least one.
 */
static inline uint32_t
ainftp_shard_first(uint32_t k, unsigned int b, unsigned int n)
{
	return (uint32_t)((uint64_t)k * b / n);
}

#endif
