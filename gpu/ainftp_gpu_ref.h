/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_GPU_REF_H
#define AINFTP_GPU_REF_H

/*
 * The GPU consumer's host side, plain C (no CUDA, no DPDK): a watcher that
 * copies every result it sees in one job's entries of the arena into a log
 * (with the host time it saw it), and the host reference: the same update
 * (gpu/ainftp_gpu_apply.h) applied in C to the results the GPU says it
 * consumed, taken from the watcher's copies, not from the GPU's. An entry is
 * overwritten by its slot's next result, so the reference cannot re-read the
 * arena afterwards: the watcher's copies are the independent record.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ainftp_sink.h"

struct ainftp_gpu_rec {
	uint64_t seq;  /* (step << 32 | chunk), seq_ready - 1 */
	uint64_t t_ns; /* when the watcher first saw it (CLOCK_MONOTONIC) */
	uint16_t count;
	int8_t exp;
	uint8_t flags;
	uint32_t pad;
};

struct ainftp_gpu_log {
	const struct ainftp_sink_job *job;
	uint32_t cap, n;
	struct ainftp_gpu_rec *rec; /* cap records */
	uint8_t *payload;  /* cap * job->payload_len bytes, record i's at i * payload_len */
	uint64_t *last;	   /* per slot: the last seq_ready taken */
	uint64_t torn;	   /* reads that met a write (retried next pass) */
	uint64_t overflow; /* results seen with the log full */
};

int ainftp_gpu_log_init(struct ainftp_gpu_log *l, const struct ainftp_sink_job *job, uint32_t cap);
void ainftp_gpu_log_free(struct ainftp_gpu_log *l);

/* One pass over the job's entries: new results into the log; how many. now_ns: their time. */
uint32_t ainftp_gpu_log_poll(struct ainftp_gpu_log *l, const void *arena, uint64_t now_ns);

/* Sort the log by seq (for ainftp_gpu_log_find). */
void ainftp_gpu_log_sort(struct ainftp_gpu_log *l);
/* The record of seq in a sorted log, or -1. */
long ainftp_gpu_log_find(const struct ainftp_gpu_log *l, uint64_t seq);

/*
 * The reference: params (cps * elems floats, initialised by the caller) and vel
 * (same size, zeros) updated by the results of seqs[0..n) in ascending seq order
 * (seqs is sorted in place), each from the sorted log. Returns how many seqs the
 * log lacks (not applied: the reference is then incomplete), or -1 on a seq whose
 * chunk is >= cps.
 */
long ainftp_gpu_ref_apply(float *params, float *vel, uint32_t cps, const struct ainftp_gpu_log *l,
			  uint64_t *seqs, size_t n, uint32_t rule, float lr, float mu);

/*
 * Gaps (one or more results missed) between consecutive results of a slot, in seqs sorted
 * ascending: on slot k after chunk c of step s comes chunk c + n_slots of step
 * s, or chunk k of step s + 1 when that is past the step's cps chunks.
 */
uint64_t ainftp_gpu_gaps(const uint64_t *seqs, size_t n, uint32_t n_slots, uint32_t cps);

/*
 * The reference of a synthetic run (ainftp-sink-write's results, lib/sink/ainftp_sink_synth.h):
 * params and vel as for ainftp_gpu_ref_apply, updated by the results of seqs[0..n) (sorted
 * ascending, as ainftp_gpu_ref_apply leaves them) whose chunk c has c % part_n == part, each
 * payload rebuilt from seq. Parts are disjoint in the parameters, so threads may apply
 * them at once. job: the geometry (elems, encoding, payload_len); workers: the writer's
 * --workers. Returns -1 on a chunk >= cps, else 0.
 */
long ainftp_gpu_synth_apply(float *params, float *vel, uint32_t cps,
			    const struct ainftp_sink_job *job, uint32_t workers,
			    const uint64_t *seqs, size_t n, uint32_t rule, float lr, float mu,
			    uint32_t part, uint32_t part_n);

#endif
