/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_CLIENT_H
#define AINFTP_CLIENT_H

/*
 * The worker client library: all-reduce float32 buffers through an ainftp
 * appliance over ordinary kernel UDP, with no DPDK on the worker's host.
 *
 *   struct ainftp_opts *o = ainftp_opts_new();
 *   ainftp_opts_from_cluster(o, "cluster.json", job, worker); // or ainftp_opts_set()
 *   struct ainftp_client *c;
 *   if (ainftp_client_open(o, &c) < 0) puts(ainftp_last_error());
 *   ainftp_allreduce(c, grad, n, AINFTP_OP_MEAN);
 *   ainftp_client_close(c);
 *
 * Every call returns 0 (or a count) on success and a negative enum
 * ainftp_status on failure, with a one-line message from ainftp_last_error()
 * in the calling thread (or ainftp_req_error() for a request). Nothing here
 * exits, aborts or prints, and nothing waits longer than the "timeout_ms"
 * option without returning AINFTP_E_TIMEOUT. Keys never appear in messages.
 *
 * One client is one worker of one job: one UDP socket bound to the worker's
 * address, and one engine thread that sends chunks, retransmits them, takes
 * results and answers the appliance's heartbeats (one of each per box when
 * the job is shared out over several appliances: docs/CLIENT.md, "Shards"). The engine works on
 * requests in the order they were started (a later one may finish first only
 * when it is small); every worker of the job must start the same requests,
 * with the same sizes, in the same order (as with any collective, NCCL's
 * rule). Thread-safe: any thread may start and wait for requests, but the
 * order in which they start is the job's order: threads that share a client
 * must agree on it (one thread issuing, or a lock and a schedule). Workers
 * that disagree on a step's size or operation get AINFTP_E_MISMATCH, never a
 * sum of different tensors; two requests of the same size and operation
 * swapped between workers cannot be told apart on the wire.
 *
 * docs/CLIENT.md is the user's guide; docs/PROTOCOL.md the wire rules the
 * engine follows.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AINFTP_CLIENT_ABI 2 /* bumped on any incompatible change of this header */

enum ainftp_status {
	AINFTP_S_OK = 0,
	AINFTP_E_INVAL = -1,	   /* a bad argument or option; the message names it */
	AINFTP_E_TIMEOUT = -2,	   /* no result within timeout_ms */
	AINFTP_E_UNREACHABLE = -3, /* the network says the appliance is not there */
	AINFTP_E_SYSTEM = -4,	   /* a system call failed; the message has errno's text */
	AINFTP_E_NOMEM = -5,
	AINFTP_E_FAILED = -6,	/* an earlier request failed: the client is unusable */
	AINFTP_E_OVERFLOW = -7, /* a result is flagged OVERFLOW: not an exact sum */
	AINFTP_E_VALUE = -8,	/* NaN or infinity in the input */
	AINFTP_E_CLOSED = -9,	/* the client was closed with the request pending */
	/*
	 * The job went on without this worker for some chunks of the request
	 * (it fell behind by more than a slot's turn): those elements keep the
	 * caller's values, the others hold the result. Not a failure: the client
	 * rejoins the job at its next step by itself.
	 */
	AINFTP_E_SKIPPED = -10,
	/*
	 * The workers of a chunk were on different collectives: this worker's
	 * request differs in size or operation from the others' at the same
	 * step (they issued them in different orders). Nothing was summed across
	 * them; the message names both; the client is unusable (AINFTP_E_FAILED
	 * after), as after a timeout.
	 */
	AINFTP_E_MISMATCH = -11,
};

enum ainftp_reduce_op {
	AINFTP_OP_SUM = 0,
	AINFTP_OP_MEAN = 1, /* the sum divided by each result's contributor count */
};

/* The message of the last failed call in this thread ("" when none). */
const char *ainftp_last_error(void);
/* A short name of a status: "timeout", "invalid argument", ... */
const char *ainftp_status_name(int status);

/*
 * Options. Defaults are listed with each name; ainftp_opts_set() takes every
 * value as a string, so bindings need no struct layout:
 *
 *   appliance        IPv4 of the appliance (required); a sharded job's boxes, in
 *                    the job's order: "A,B,..." (up to 8; docs/CLIENT.md, "Shards")
 *   port             its base UDP port (47474)
 *   lanes            RX queues of the job's port: slot k goes to port + k % lanes (1)
 *   bind             local IPv4 to send from: the worker's address in cluster.json
 *                    ("0.0.0.0": the kernel picks, which the appliance refuses
 *                    unless it is the worker's address)
 *   bind_port        local UDP port (0: any); box b of a sharded job: bind_port + b
 *   job              job id (required)
 *   worker           worker id, 0..63 (required)
 *   key              64 hex digits (required when auth is true)
 *   key_file         a file holding the 64 hex digits
 *   auth             true/false (true)
 *   elems            elements per packet: the job's elems_per_packet (required)
 *   slots            the job's slots, a power of two (256)
 *   encoding         float32, int16 or int8: the job's encoding (required)
 *   result_encoding  float32, int16 or int8: the job's result_encoding (float32)
 *   window           most chunks in flight, 1..slots (slots); a congestion
 *                    window under it adapts to timeouts (docs/CLIENT.md)
 *   first_step       the step number of the first request (default: the one the
 *                    appliance gives at join); see below
 *   rto_us           first retransmission timeout (20000); adapts to the RTT
 *   rto_min_us       retransmission timeout floor (2000)
 *   rto_max_us       backoff ceiling (1000000)
 *   timeout_ms       fail when no result arrives for this long (5000)
 *   sockbuf          socket buffer bytes, each way (4194304)
 *   gso              UDP GSO and GRO: auto, on, off (auto: where the kernel has them)
 *   xdp              on/off (off): DATA out and results in through an AF_XDP socket
 *                    of the worker's interface, bypassing the kernel's UDP stack
 *                    (root or CAP_NET_ADMIN+CAP_BPF; jumbo datagrams need Linux
 *                    6.6; one AF_XDP worker per interface). Where it cannot be had, the
 *                    client says why in one line on stderr and uses UDP
 *                    (docs/CLIENT.md, "AF_XDP")
 *   simd_bits        widest SIMD for quantizing: 512, 256 or 0 (512)
 *
 * Joining: ainftp_client_open() sends the appliance a HELLO with the job's
 * geometry as these options have it and fails with a message that names the
 * first difference (elems, encoding, result_encoding, slots, lanes, auth, an
 * unknown job or worker). The appliance answers with the step to start at.
 *
 * Steps: each request uses the next step. A worker that falls behind (its
 * chunks' slots completed without it) gets AINFTP_E_SKIPPED for the request
 * and the client starts its next request where the job is.
 */
struct ainftp_opts;

struct ainftp_opts *ainftp_opts_new(void); /* NULL only when out of memory */
void ainftp_opts_free(struct ainftp_opts *o);
int ainftp_opts_set(struct ainftp_opts *o, const char *name, const char *value);
/*
 * Fill appliance, port, lanes, bind, job, worker, key, auth, elems, slots,
 * encoding and result_encoding from the appliance's cluster.json (checked as
 * the appliance checks it).
 */
int ainftp_opts_from_cluster(struct ainftp_opts *o, const char *path, uint32_t job,
			     uint16_t worker);

struct ainftp_client;

/* Validate the options, open the socket, start the engine thread. */
int ainftp_client_open(const struct ainftp_opts *o, struct ainftp_client **out);
/*
 * Stop the engine; requests still pending complete with AINFTP_E_CLOSED
 * (their waiters return). Requests must still be freed. NULL is a no-op.
 */
void ainftp_client_close(struct ainftp_client *c);
/* The local UDP port the client sends from and receives on (of a sharded job: box 0's). */
int ainftp_client_local_port(const struct ainftp_client *c);

/*
 * All-reduce buf[0..n) in place: start, then wait. buf must be aligned for
 * float; a misaligned one is refused with AINFTP_E_INVAL.
 */
int ainftp_allreduce(struct ainftp_client *c, float *buf, size_t n, int op);

/*
 * Asynchronous: queue buf[0..n) and return at once; the engine works on
 * requests in order, so a framework can start several buckets and overlap
 * them with computation. buf, aligned for float as above, must stay valid,
 * and not be touched, until the request completes.
 */
struct ainftp_req;
int ainftp_allreduce_start(struct ainftp_client *c, float *buf, size_t n, int op,
			   struct ainftp_req **out);
/* 1 when complete, 0 while pending; never blocks. */
int ainftp_req_test(struct ainftp_req *r);
/* Wait for completion; the request's status (0 or negative). */
int ainftp_req_wait(struct ainftp_req *r);
/* Its message when it failed ("" otherwise); valid until ainftp_req_free. */
const char *ainftp_req_error(const struct ainftp_req *r);
/* Free a request; a pending one is waited for first. NULL is a no-op. */
void ainftp_req_free(struct ainftp_req *r);

/*
 * What a completed request was: the step it used (of a sharded job: the last
 * box's, which has a part of every request) and, for each of its
 * chunks (bitmaps[k] for elements k*elems .. (k+1)*elems-1), the workers in
 * that chunk's sum (bit w: worker w), 0 for a chunk skipped. n is the room in
 * bitmaps; up to n are written. 0, or AINFTP_E_INVAL (NULL, or still pending).
 */
int ainftp_req_info(const struct ainftp_req *r, uint32_t *step, uint64_t *bitmaps, size_t n);

/*
 * The step the next request will use, as far as the client knows: exact when
 * no request is pending (a worker that fell behind learns the job's step as
 * its requests end). For a caller whose data depends on the step. Of a
 * sharded job: the last box's, as ainftp_req_info's.
 */
int ainftp_client_next_step(struct ainftp_client *c, uint32_t *step);

/*
 * The engine's counters. Of a sharded job: the boxes' sums, but requests
 * (the last box's, which has a part of every request) and srtt_us, rto_us
 * (the slowest box's).
 */
struct ainftp_client_stats {
	uint64_t requests;	   /* completed requests */
	uint64_t chunks;	   /* chunks whose results arrived */
	uint64_t packets_sent;	   /* DATA datagrams, retransmissions included */
	uint64_t retransmits;	   /* DATA datagrams sent again after a timeout */
	uint64_t results;	   /* RESULT datagrams taken */
	uint64_t dup_results;	   /* RESULTs for chunks already done or not in flight */
	uint64_t bad_packets;	   /* datagrams that were not well-formed ainftp for this job */
	uint64_t heartbeats;	   /* HEARTBEATs answered */
	uint64_t bytes_sent;	   /* UDP payload bytes sent */
	uint64_t bytes_received;   /* UDP payload bytes of RESULTs taken */
	uint64_t probes;	   /* PROBEs sent after a timeout: "is my data in?" */
	uint64_t states;	   /* STATEs taken: where a slot is */
	uint64_t chunks_skipped;   /* chunks the job completed without this worker */
	uint64_t requests_skipped; /* requests with chunks skipped (AINFTP_E_SKIPPED) */
	uint64_t bad_tags;	   /* RESULTs, STATEs and HELLO_ACKs whose tag failed: dropped */
	uint64_t srtt_us;	   /* smoothed chunk round trip */
	uint64_t rto_us;	   /* current retransmission timeout */
};

int ainftp_client_get_stats(struct ainftp_client *c, struct ainftp_client_stats *s);

/*
 * What went through AF_XDP (option xdp), over the job's boxes: all zero when
 * the client uses UDP sockets alone. Since ABI 2's version node 2.1.
 */
struct ainftp_client_xdp_stats {
	uint64_t boxes;	   /* the job's boxes this client reaches through AF_XDP */
	uint64_t native;   /* of which with the XDP program in the driver (else generic XDP) */
	uint64_t sent;	   /* DATA datagrams sent through an AF_XDP socket */
	uint64_t received; /* datagrams taken from its RX ring */
	uint64_t bad;	   /* frames on its RX ring that were not a datagram for this worker */
};

int ainftp_client_get_xdp_stats(struct ainftp_client *c, struct ainftp_client_xdp_stats *s);

#ifdef __cplusplus
}
#endif

#endif
