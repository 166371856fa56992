/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gpudev backend: the arena registered with a GPU of DPDK's gpudev
 * (rte_gpu_mem_register), so a kernel reads results and their ready marks in
 * place, with rte_gpu_wmb ordering payload before mark. The only file built
 * with ALLOW_EXPERIMENTAL_API: gpudev's API is experimental in DPDK 22.11.
 * Debian's DPDK has the library but no GPU driver (gpu/cuda): there,
 * rte_gpu_count_avail() is 0 and the sink falls back to host memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_gpudev.h>

#include "ainftp_sink_ops.h"

static int
gpudev_open(struct ainftp_sink *s, char *why, size_t len)
{
	int16_t dev = (int16_t)s->device;

	if (rte_gpu_count_avail() == 0) {
		snprintf(why, len, "rte_gpu_count_avail() == 0");
		return -1;
	}
	if (!rte_gpu_is_valid(dev)) {
		snprintf(why, len, "no gpudev device %d, sink.device", dev);
		return -1;
	}
	if (rte_gpu_mem_register(dev, s->size, s->base) != 0) {
		snprintf(why, len, "rte_gpu_mem_register on device %d: %s", dev,
			 rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static void
gpudev_wmb(const struct ainftp_sink *s)
{
	/* Orders CPU stores as the GPU sees them (a no-op return value to ignore: the device
	 * was checked at open). */
	(void)rte_gpu_wmb((int16_t)s->device);
}

static void
gpudev_close(struct ainftp_sink *s)
{
	rte_gpu_mem_unregister((int16_t)s->device, s->base);
}

const struct ainftp_sink_ops ainftp_sink_gpudev_ops = {
	.name = "gpudev",
	.open = gpudev_open,
	.wmb = gpudev_wmb,
	.close = gpudev_close,
};
