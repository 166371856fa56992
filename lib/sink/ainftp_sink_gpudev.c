/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gpudev backend: the arena registered with a GPU of DPDK's gpudev
 * (rte_gpu_mem_register), so a kernel reads results and their ready marks in
 * place, with rte_gpu_wmb ordering payload before mark; each doorbell is an
 * rte_gpu_comm flag, set with rte_gpu_comm_set_flag after rte_gpu_wmb. The
 * only file built with ALLOW_EXPERIMENTAL_API: gpudev's API is experimental
 * in DPDK 22.11. Debian's DPDK has the library but no GPU driver (gpu/cuda):
 * there, rte_gpu_count_avail() is 0 and the sink falls back to host memory.
 *
 * Why the flags are not made by rte_gpu_comm_create_flag: it takes a word of
 * the appliance's private DPDK heap, which the consumer (another process)
 * cannot map. The doorbells live in the arena instead, which is registered
 * whole, so each is what create_flag makes: a CPU word the GPU can read.
 *
 * Why registered host memory and not rte_gpu_mem_alloc + rte_gpu_mem_cpu_map:
 * memory allocated by gpudev belongs to the appliance's CUDA context, and
 * gpudev offers no way to hand it to a consumer in another process (CUDA IPC).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_atomic.h>
#include <rte_errno.h>
#include <rte_gpudev.h>

#include "ainftp_log.h"
#include "ainftp_sink_ops.h"

/* The backend's state; s->priv. */
struct gpudev_state {
	bool gpu_wmb;			  /* rte_gpu_wmb works on the device (tried at open) */
	struct rte_gpu_comm_flag flags[]; /* the doorbells: flags[j * n_rx + r] */
};

static int
gpudev_open(struct ainftp_sink *s, char *why, size_t len)
{
	int16_t dev = (int16_t)s->device;
	struct gpudev_state *st;
	uint32_t j, r;

	if (rte_gpu_count_avail() == 0) {
		snprintf(why, len, "rte_gpu_count_avail() == 0");
		return -1;
	}
	if (!rte_gpu_is_valid(dev)) {
		snprintf(why, len, "no gpudev device %d, sink.device", dev);
		return -1;
	}
	st = calloc(1, sizeof(*st) + (size_t)s->n_jobs * s->n_rx * sizeof(st->flags[0]));
	if (st == NULL) {
		snprintf(why, len, "%s", strerror(ENOMEM));
		return -1;
	}
	if (rte_gpu_mem_register(dev, s->size, s->base) != 0) {
		snprintf(why, len, "rte_gpu_mem_register on device %d: %s", dev,
			 rte_strerror(rte_errno));
		free(st);
		return -1;
	}
	for (j = 0; j < s->n_jobs; j++)
		for (r = 0; r < s->n_rx; r++) {
			struct rte_gpu_comm_flag *f = &st->flags[j * s->n_rx + r];

			f->dev_id = (uint16_t)dev;
			f->ptr = ainftp_sink_doorbell(s->base, j, r);
			f->mtype = RTE_GPU_COMM_FLAG_CPU;
		}
	/*
	 * Tried once here, not on every result: gpu/cuda answers ENOTSUP, with a warning
	 * each time, on a device that can neither order nor flush GPUDirect RDMA writes.
	 */
	st->gpu_wmb = rte_gpu_wmb(dev) == 0;
	if (!st->gpu_wmb)
		AINFTP_LOG(
			INFO,
			"sink: gpudev device %d: rte_gpu_wmb: %s; CPU store fences order the arena",
			dev, rte_strerror(rte_errno));
	s->priv = st;
	return 0;
}

static void
gpudev_wmb(const struct ainftp_sink *s)
{
	const struct gpudev_state *st = s->priv;

	/* The arena is host memory: a CPU store fence orders it for every reader, a GPU's too. */
	rte_wmb();
	/* And the device's own barrier, which gpudev asks of a writer (a return value to ignore:
	 * it worked at open). */
	if (st->gpu_wmb)
		(void)rte_gpu_wmb((int16_t)s->device);
}

static void
gpudev_ring(const struct ainftp_sink *s, uint16_t j, uint16_t r, uint32_t value)
{
	struct gpudev_state *st = s->priv;

	/* The marks before the flag, as the GPU sees them. */
	gpudev_wmb(s);
	(void)rte_gpu_comm_set_flag(&st->flags[j * s->n_rx + r], value);
}

static void
gpudev_close(struct ainftp_sink *s)
{
	rte_gpu_mem_unregister((int16_t)s->device, s->base);
	free(s->priv);
	s->priv = NULL;
}

const struct ainftp_sink_ops ainftp_sink_gpudev_ops = {
	.name = "gpudev",
	.open = gpudev_open,
	.wmb = gpudev_wmb,
	.ring = gpudev_ring,
	.close = gpudev_close,
};
