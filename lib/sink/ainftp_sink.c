/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The result arena: its layout from the jobs, its file and mapping, and the
 * choice of backend with the fallback to host memory (docs/SINK.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>

#include "ainftp_log.h"
#include "ainftp_proto.h"
#include "ainftp_quant.h"
#include "ainftp_sink_ops.h"

/* The arena says a result's encoding by its wire value: consumers read these numbers. */
_Static_assert(AINFTP_SINK_ENC_FLOAT32 == (int)AINFTP_ENC_FLOAT32 &&
		       AINFTP_SINK_ENC_INT16 == (int)AINFTP_ENC_INT16,
	       "ainftp_sink_enc holds the wire's values (enum ainftp_encoding)");

#define HUGETLBFS_MAGIC_NR 0x958458f6
#define SINK_HUGE_DIR "/dev/hugepages"
#define SINK_FILE "ainftp-results"

_Static_assert(AINFTP_SINK_MAX_JOBS == AINFTP_MAX_JOBS, "one arena job per config job");

/* The header's job table and doorbells, and the arena's size. */
static size_t
layout(const struct ainftp_config *cfg, struct ainftp_sink_hdr *h)
{
	uint64_t off = RTE_ALIGN_CEIL(sizeof(*h), AINFTP_SINK_ALIGN);
	uint16_t j;

	memset(h, 0, sizeof(*h));
	h->magic = AINFTP_SINK_MAGIC;
	h->version = AINFTP_SINK_VERSION;
	h->n_jobs = cfg->n_jobs;
	h->n_rx = ainftp_config_rx_lcore_count(cfg);
	h->doorbells = off;
	off += (uint64_t)cfg->n_jobs * h->n_rx * AINFTP_SINK_ALIGN;
	for (j = 0; j < cfg->n_jobs; j++) {
		const struct ainftp_job_conf *jc = &cfg->jobs[j];
		struct ainftp_sink_job *sj = &h->jobs[j];
		sj->id = jc->id;
		sj->n_slots = jc->slots;
		sj->elems = jc->elems_per_packet;
		sj->encoding = jc->result_encoding;
		sj->payload_len =
			(uint32_t)ainftp_payload_len(jc->result_encoding, (uint16_t)sj->elems);
		sj->stride = RTE_ALIGN_CEIL(AINFTP_SINK_ALIGN + sj->payload_len, AINFTP_SINK_ALIGN);
		sj->offset = off;
		off += (uint64_t)sj->stride * sj->n_slots;
	}
	h->size = off;
	return (size_t)off;
}

static bool
is_hugetlbfs(int fd, long *page)
{
	struct statfs st;

	if (fstatfs(fd, &st) != 0 || (unsigned long)st.f_type != HUGETLBFS_MAGIC_NR)
		return false;
	*page = st.f_bsize;
	return true;
}

/*
 * Beside each doorbell, who writes which slots (ainftp_sink_owns): the job's lanes
 * and, per RX lcore, the lanes of the job's port it polls (lcores.rx). The data
 * path puts slot k on lane k % lanes (ainftp_dp.c, job_init).
 */
static void
owners_publish(void *arena, const struct ainftp_config *cfg, uint32_t n_rx)
{
	uint16_t j, b;

	for (j = 0; j < cfg->n_jobs; j++) {
		uint32_t lanes = cfg->ports[cfg->jobs[j].port].rx_queues;

		for (b = 0; b < cfg->n_rx; b++) {
			const struct ainftp_rx_binding *rb = &cfg->rx[b];
			unsigned int r = ainftp_config_rx_lcore_rank(cfg, rb->lcore);
			char *bell;
			uint64_t mask;

			if (rb->port != cfg->jobs[j].port || r >= n_rx || rb->queue >= 64)
				continue;
			bell = (char *)ainftp_sink_doorbell(arena, j, r);
			memcpy(&mask, bell + AINFTP_SINK_BELL_LANE_MASK, sizeof(mask));
			mask |= UINT64_C(1) << rb->queue;
			memcpy(bell + AINFTP_SINK_BELL_LANES, &lanes, sizeof(lanes));
			memcpy(bell + AINFTP_SINK_BELL_LANE_MASK, &mask, sizeof(mask));
		}
	}
}

/* The file at path, sized and mapped shared: 0, or -1 with errno. */
static int
map_file(struct ainftp_sink *s, const char *path, size_t size)
{
	size_t len = size;
	long page = 0;
	void *p;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	s->huge = is_hugetlbfs(fd, &page);
	if (s->huge)
		len = RTE_ALIGN_CEIL(size, (size_t)page);
	/* Emptied first: nothing of a previous run may look ready. */
	if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)len) != 0)
		goto fail;
	/* hugetlbfs reserves its pages here: no free hugepage is ENOMEM now, not SIGBUS later. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	s->fd = fd;
	s->base = p;
	s->size = len;
	snprintf(s->path, sizeof(s->path), "%s", path);
	return 0;
fail:;
	int e = errno;

	close(fd);
	if (s->huge)
		unlink(path);
	errno = e;
	return -1;
}

/*
 * The path asked for, or hugetlbfs when EAL has hugepages and it is mounted at
 * /dev/hugepages, then /dev/shm (--no-huge, or no hugepage left).
 */
static int
arena_map(struct ainftp_sink *s, const struct ainftp_config *cfg, size_t size, char *err,
	  size_t errlen)
{
	struct statfs st;

	if (cfg->sink.path[0] != '\0') {
		if (map_file(s, cfg->sink.path, size) == 0)
			return 0;
		snprintf(err, errlen, "%s: sink.path: cannot map %s: %s", cfg->source,
			 cfg->sink.path, strerror(errno));
		return -1;
	}
	if (rte_eal_has_hugepages() && statfs(SINK_HUGE_DIR, &st) == 0 &&
	    (unsigned long)st.f_type == HUGETLBFS_MAGIC_NR &&
	    map_file(s, SINK_HUGE_DIR "/" SINK_FILE, size) == 0)
		return 0;
	if (map_file(s, "/dev/shm/" SINK_FILE, size) == 0)
		return 0;
	snprintf(err, errlen, "sink: cannot map /dev/shm/" SINK_FILE ": %s", strerror(errno));
	return -1;
}

/*
 * The GPU backends, in the order auto tries them; "host" is what each falls back
 * to. A new backend is a file with its ops and a row here (docs/ARCHITECTURE.md).
 */
static const struct {
	enum ainftp_sink_backend id;
	const struct ainftp_sink_ops *ops;
	const char *via; /* for the line that says why there is no GPU */
} gpu_backends[] = {
	{AINFTP_SINK_GPUDEV, &ainftp_sink_gpudev_ops, "gpudev"},
	{AINFTP_SINK_CUDA, &ainftp_sink_cuda_ops, "CUDA"},
};

/* auto: the first GPU backend that opens, else host; one line says why no GPU. */
static void
backend_auto(struct ainftp_sink *s)
{
	char why[RTE_DIM(gpu_backends)][200], line[512] = "";
	unsigned int i;

	for (i = 0; i < RTE_DIM(gpu_backends); i++) {
		why[i][0] = '\0';
		if (gpu_backends[i].ops->open(s, why[i], sizeof(why[i])) == 0) {
			s->ops = gpu_backends[i].ops;
			return;
		}
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s (%s)",
			 i == 0 ? "" : " nor ", gpu_backends[i].via, why[i]);
	}
	/* Not a warning: a box without a GPU is what auto is for. */
	AINFTP_LOG(INFO, "sink: auto: no GPU through %s: results go to host memory", line);
	s->ops = &ainftp_sink_host_ops;
}

/* The backend asked for: auto's choice, host, or a GPU backend that falls back to host. */
static void
backend_choose(struct ainftp_sink *s)
{
	char why[200] = "";
	unsigned int i;

	s->ops = &ainftp_sink_host_ops;
	if (s->requested == AINFTP_SINK_AUTO) {
		backend_auto(s);
		return;
	}
	for (i = 0; i < RTE_DIM(gpu_backends); i++) {
		if (gpu_backends[i].id != s->requested)
			continue;
		if (gpu_backends[i].ops->open(s, why, sizeof(why)) == 0) {
			s->ops = gpu_backends[i].ops;
			return;
		}
		AINFTP_LOG(WARNING, "sink: no GPU through %s (%s): results go to host memory",
			   gpu_backends[i].via, why);
		s->fell_back = true;
	}
}

int
ainftp_sink_open(const struct ainftp_config *cfg, struct ainftp_sink **out, char *err,
		 size_t errlen)
{
	struct ainftp_sink_hdr h;
	struct ainftp_sink *s;
	size_t size;

	*out = NULL;
	if (cfg->sink.backend == AINFTP_SINK_OFF)
		return 0;
	size = layout(cfg, &h);
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "sink: %s", strerror(ENOMEM));
		return -1;
	}
	s->fd = -1;
	s->requested = cfg->sink.backend;
	s->device = cfg->sink.device;
	s->n_jobs = cfg->n_jobs;
	s->n_rx = (uint16_t)h.n_rx;
	if (arena_map(s, cfg, size, err, errlen) != 0) {
		free(s);
		return -1;
	}
	h.size = s->size;
	/* The header last of all, magic last of it: a consumer that sees the magic sees a
	 * complete table (the entries are zero: nothing ready). */
	h.magic = 0;
	memcpy(s->base, &h, sizeof(h));
	owners_publish(s->base, cfg, h.n_rx);
	__atomic_store_n(&((struct ainftp_sink_hdr *)s->base)->magic, AINFTP_SINK_MAGIC,
			 __ATOMIC_RELEASE);
	backend_choose(s);
	AINFTP_LOG(INFO, "sink: %s, arena %s (%zu bytes%s)", s->ops->name, s->path, s->size,
		   s->huge ? ", hugepages" : "");
	*out = s;
	return 0;
}

void
ainftp_sink_ring_host(const struct ainftp_sink *s, uint16_t j, uint16_t r, uint32_t value)
{
	__atomic_store_n(ainftp_sink_doorbell(s->base, j, r), value, __ATOMIC_RELEASE);
}

void
ainftp_sink_close(struct ainftp_sink *s)
{
	if (s == NULL)
		return;
	if (s->ops != NULL && s->ops->close != NULL)
		s->ops->close(s);
	munmap(s->base, s->size);
	close(s->fd);
	free(s);
}
