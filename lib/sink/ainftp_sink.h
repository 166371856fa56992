/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SINK_H
#define AINFTP_SINK_H

/*
 * The result arena: where the data path puts every finished result besides
 * the wire, for a consumer on the same box (a process mapping the file, or a
 * GPU kernel reading registered memory). Plain C, no DPDK: consumers include
 * this header alone. docs/SINK.md describes the layout and the protocol.
 *
 * Layout, all offsets from the start of the arena, every entry 64-byte aligned:
 *
 *   struct ainftp_sink_hdr                        (magic, version, jobs)
 *   per job j, per RX lcore r (r < n_rx), at doorbells + (j * n_rx + r) * 64:
 *     uint32_t doorbell                           (results r has marked for j)
 *     uint32_t lanes                              (the job's lanes; 0: not published)
 *     uint64_t lane_mask                          (bit q: r writes the slots of lane q)
 *   per job j, per slot k (k < jobs[j].n_slots):
 *     at jobs[j].offset + k * jobs[j].stride:
 *       struct ainftp_sink_mark                   (64 bytes: readiness)
 *       payload                                   (jobs[j].payload_len bytes,
 *                                                  the result as sent to workers)
 *
 * Slot k of a job has one writer (the RX lcore that sums it), so each entry
 * is written by one thread, with no lock.
 *
 * Write protocol (one result into an entry):
 *   1. gen += 1 (odd: being written), then a write barrier;
 *   2. payload, bitmap, count, exp, flags;
 *   3. a write barrier (rte_wmb() for host memory, rte_gpu_wmb() for a GPU);
 *   4. seq_ready = (step << 32 | chunk) + 1, a release store;
 *   5. gen += 1 (even again), a release store.
 * A consumer acquire-loads gen then seq_ready, copies what it needs, and
 * re-reads gen: the copy is consistent when gen was even and did not move
 * (ainftp_sink_read). seq_ready == 0: no result yet. seq_ready only grows.
 *
 * Doorbells: after a poll that marked results of job j, RX lcore r orders its
 * marks before the doorbell (the same barrier) and stores the number of results
 * of j it has marked since start-up (mod 2^32) into its doorbell of j: one
 * writer per doorbell, each on its own cache line. With the gpudev backend the
 * doorbell is an rte_gpu_comm flag. A consumer waits for the sum of a job's
 * doorbells (ainftp_sink_bell) to move instead of polling every mark, then
 * scans the marks: every result counted in the sum it read is marked.
 *
 * Owners: slot k of a job is on lane k % lanes (the RX queue of the job's port
 * that carries it), and one RX lcore polls each lane. Next to each doorbell the
 * appliance publishes, once before the magic, the job's lanes and the lanes that
 * RX lcore polls (ainftp_sink_owns), so a consumer that sees doorbell r move
 * knows which slots to look at: those of r, not the job's all. An arena whose
 * lanes read 0 does not say (then any slot may belong to any doorbell).
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define AINFTP_SINK_MAGIC UINT64_C(0x314b4e4953464e41) /* "ANFSINK1", little-endian */
#define AINFTP_SINK_VERSION 2
#define AINFTP_SINK_MAX_JOBS 16 /* AINFTP_MAX_JOBS */
#define AINFTP_SINK_ALIGN 64

/*
 * How a job's result payload is encoded (the wire's result encodings that
 * carry at most one exponent, in the mark: cluster.json refuses int8 results,
 * whose exponents are per block, while the sink is on).
 */
enum ainftp_sink_enc {
	AINFTP_SINK_ENC_FLOAT32 = 0, /* elems floats */
	AINFTP_SINK_ENC_INT16 = 1,   /* elems int16, value = q * 2^exp */
};

struct ainftp_sink_job {
	uint32_t id;	      /* the job's id in cluster.json */
	uint32_t n_slots;     /* entries */
	uint32_t elems;	      /* values per result */
	uint32_t encoding;    /* enum ainftp_sink_enc */
	uint32_t payload_len; /* bytes of a result's payload */
	uint32_t stride;      /* bytes from one entry to the next */
	uint64_t offset;      /* of slot 0's entry */
};

struct ainftp_sink_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t n_jobs;
	uint64_t size;	    /* bytes of the whole arena */
	uint64_t doorbells; /* offset of job 0's doorbell of RX lcore 0 */
	uint32_t n_rx;	    /* RX lcores: doorbells per job */
	uint32_t reserved0;
	uint64_t reserved[3];
	struct ainftp_sink_job jobs[AINFTP_SINK_MAX_JOBS];
};

/* A result's readiness and header fields; the payload follows at +AINFTP_SINK_ALIGN. */
struct ainftp_sink_mark {
	uint64_t seq_ready; /* (step << 32 | chunk) + 1 of the result here; 0: none */
	uint64_t bitmap;    /* workers whose contributions are in it */
	uint16_t count;	    /* how many */
	int8_t exp;	    /* int16 results: the power of two of the scale */
	uint8_t flags;	    /* the result header's (AINFTP_F_OVERFLOW) */
	uint32_t gen;	    /* seqcount: odd while the entry is being written */
};

_Static_assert(sizeof(struct ainftp_sink_mark) == 24, "ainftp_sink_mark layout");
_Static_assert(sizeof(struct ainftp_sink_hdr) % AINFTP_SINK_ALIGN == 0, "ainftp_sink_hdr size");

static inline struct ainftp_sink_mark *
ainftp_sink_entry(void *arena, const struct ainftp_sink_job *job, uint32_t slot)
{
	return (struct ainftp_sink_mark *)((char *)arena + job->offset +
					   (uint64_t)slot * job->stride);
}

/* Job index j's doorbell written by RX lcore r (its rank among the RX lcores). */
static inline uint32_t *
ainftp_sink_doorbell(void *arena, uint32_t j, uint32_t r)
{
	const struct ainftp_sink_hdr *h = (const struct ainftp_sink_hdr *)arena;

	return (uint32_t *)((char *)arena + h->doorbells +
			    ((uint64_t)j * h->n_rx + r) * AINFTP_SINK_ALIGN);
}

/*
 * The sum of job index j's doorbells: it moves whenever results of j were
 * marked, and once it is read every result it counts is marked (acquire).
 */
static inline uint32_t
ainftp_sink_bell(void *arena, uint32_t j)
{
	const struct ainftp_sink_hdr *h = (const struct ainftp_sink_hdr *)arena;
	uint32_t r, sum = 0;

	for (r = 0; r < h->n_rx; r++)
		sum += __atomic_load_n(ainftp_sink_doorbell(arena, j, r), __ATOMIC_ACQUIRE);
	return sum;
}

/* Offsets of the owner words in a doorbell's cache line (see the layout above). */
#define AINFTP_SINK_BELL_LANES 4
#define AINFTP_SINK_BELL_LANE_MASK 8

/*
 * Whether RX lcore r writes slot k of job index j: 1 yes, 0 no, -1 the arena does
 * not say (lanes 0). Written once before the magic, so plain loads read them.
 */
static inline int
ainftp_sink_owns(void *arena, uint32_t j, uint32_t r, uint32_t k)
{
	const char *bell = (const char *)ainftp_sink_doorbell(arena, j, r);
	uint32_t lanes;
	uint64_t mask;

	memcpy(&lanes, bell + AINFTP_SINK_BELL_LANES, sizeof(lanes));
	memcpy(&mask, bell + AINFTP_SINK_BELL_LANE_MASK, sizeof(mask));
	if (lanes == 0 || lanes > 64)
		return -1;
	return (int)((mask >> (k % lanes)) & 1);
}

static inline void *
ainftp_sink_payload(struct ainftp_sink_mark *m)
{
	return (char *)m + AINFTP_SINK_ALIGN;
}

/*
 * A consumer's consistent copy of one entry (payload into buf, len bytes at
 * most): 1 copied, 0 nothing there yet, -1 overwritten while read (try again).
 */
static inline int
ainftp_sink_read(const struct ainftp_sink_mark *m, struct ainftp_sink_mark *out, void *buf,
		 uint32_t len)
{
	uint32_t g0 = __atomic_load_n(&m->gen, __ATOMIC_ACQUIRE), g1;

	if (g0 & 1)
		return -1;
	out->gen = g0;
	out->seq_ready = __atomic_load_n(&m->seq_ready, __ATOMIC_ACQUIRE);
	if (out->seq_ready == 0)
		return 0;
	out->bitmap = m->bitmap;
	out->count = m->count;
	out->exp = m->exp;
	out->flags = m->flags;
	if (buf != NULL)
		memcpy(buf, (const char *)m + AINFTP_SINK_ALIGN, len);
	/* The copies complete before gen is read again. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	g1 = __atomic_load_n(&m->gen, __ATOMIC_RELAXED);
	return g1 == g0 ? 1 : -1;
}

#endif
