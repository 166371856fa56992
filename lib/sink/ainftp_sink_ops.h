/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_SINK_OPS_H
#define AINFTP_SINK_OPS_H

/*
 * The appliance's side of the result arena (ainftp_sink.h has the layout that
 * consumers share): made once at start-up from cluster.json's "sink", written
 * by the RX lcores, each into the entries of the slots it owns.
 *
 * The arena is always host memory mapped from a file (hugetlbfs when EAL has
 * hugepages, else /dev/shm), so a local process can map it too; a backend
 * makes it visible to a GPU on top of that and supplies the write barrier that
 * orders the payload before the ready mark for that GPU. A backend that cannot
 * (no GPU, no CUDA library) logs one line and the sink runs on host.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ainftp_config.h"
#include "ainftp_sink.h"

struct ainftp_sink;

struct ainftp_sink_ops {
	const char *name;
	/* Make the arena (s->base, s->size) visible to the device: 0, or -1 with why (one
	 * phrase, no newline) and nothing held. */
	int (*open)(struct ainftp_sink *s, char *why, size_t len);
	/* Stores before it reach the consumer before stores after it. Hot path. */
	void (*wmb)(const struct ainftp_sink *s);
	/* Doorbell r of job index j := value, after every mark stored before it. Hot path:
	 * once per job per poll that marked results of it. */
	void (*ring)(const struct ainftp_sink *s, uint16_t j, uint16_t r, uint32_t value);
	void (*close)(struct ainftp_sink *s);
};

extern const struct ainftp_sink_ops ainftp_sink_host_ops;
extern const struct ainftp_sink_ops ainftp_sink_gpudev_ops;
extern const struct ainftp_sink_ops ainftp_sink_cuda_ops;

struct ainftp_sink {
	const struct ainftp_sink_ops *ops; /* the backend in use */
	enum ainftp_sink_backend requested;
	bool fell_back; /* requested a GPU and runs on host */
	bool huge;	/* the arena is in hugetlbfs */
	uint16_t device;
	uint16_t n_jobs;
	uint16_t n_rx; /* doorbells per job */
	void *base;    /* struct ainftp_sink_hdr, then the entries */
	size_t size;
	int fd;
	void *priv; /* the backend's */
	char path[AINFTP_SINK_PATH_LEN];
};

/*
 * The arena for cfg's jobs and its backend; NULL with one line in err when the
 * arena cannot be made (a backend that cannot is not a failure: host). With
 * backend off, *out is NULL and 0 is returned.
 */
int ainftp_sink_open(const struct ainftp_config *cfg, struct ainftp_sink **out, char *err,
		     size_t errlen);
/* Unmaps the arena; its file stays for a consumer to read after the appliance stops. */
void ainftp_sink_close(struct ainftp_sink *s);

/* A doorbell rung in host memory (host and cuda backends): the release store orders it
 * after the marks. */
void ainftp_sink_ring_host(const struct ainftp_sink *s, uint16_t j, uint16_t r, uint32_t value);

/* The entry of slot 0 of job j; the others follow every stride bytes. */
static inline struct ainftp_sink_mark *
ainftp_sink_job_entries(const struct ainftp_sink *s, uint16_t j, uint32_t *stride)
{
	const struct ainftp_sink_hdr *h = s->base;

	*stride = h->jobs[j].stride;
	return ainftp_sink_entry(s->base, &h->jobs[j], 0);
}

/*
 * One finished result into its entry, then its ready mark (the protocol of
 * ainftp_sink.h). Single writer per entry; no lock, no syscall.
 */
static inline void
ainftp_sink_put(const struct ainftp_sink *s, struct ainftp_sink_mark *m, uint64_t seq,
		const void *payload, uint32_t len, uint64_t bitmap, uint16_t count, int8_t exp,
		uint8_t flags)
{
	uint32_t gen = m->gen;

	__atomic_store_n(&m->gen, gen + 1, __ATOMIC_RELAXED);
	/* A reader sees the odd count before any byte of the entry changes. */
	s->ops->wmb(s);
	memcpy(ainftp_sink_payload(m), payload, len);
	m->bitmap = bitmap;
	m->count = count;
	m->exp = exp;
	m->flags = flags;
	/* Payload and fields before the mark: a GPU needs its own barrier, not a CPU fence. */
	s->ops->wmb(s);
	__atomic_store_n(&m->seq_ready, seq + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&m->gen, gen + 2, __ATOMIC_RELEASE);
}

#endif
