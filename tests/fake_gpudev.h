/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_FAKE_GPUDEV_H
#define AINFTP_FAKE_GPUDEV_H

/*
 * A gpudev device without a GPU, for tests: what net_ring is to ethdev. It
 * registers with DPDK's gpudev library as a driver would, so the sink's gpudev
 * backend runs its real path (rte_gpu_count_avail, rte_gpu_mem_register,
 * rte_gpu_wmb, rte_gpu_comm_set_flag) against memory the test can inspect:
 * the "GPU" sees host memory, and every barrier is counted and reported.
 */
#include <stddef.h>
#include <stdint.h>

struct fake_gpu {
	int16_t dev_id;
	int refuse_register; /* mem_register fails (the driver's -EPERM) */
	int refuse_wmb;	     /* wmb fails, as gpu/cuda's on a device without GDR write ordering */
	void *reg_ptr;	     /* the one registration held, or NULL */
	size_t reg_size;
	unsigned int registrations; /* made in all */
	unsigned long wmbs;	    /* rte_gpu_wmb calls */
	/* Called at each rte_gpu_wmb, on the caller's thread. */
	void (*on_wmb)(void *arg);
	void *on_wmb_arg;
};

/* The device, available to gpudev (rte_gpu_count_avail() == 1); aborts on failure. */
struct fake_gpu *fake_gpu_attach(void);
/* Released: gpudev has no device again. */
void fake_gpu_detach(struct fake_gpu *g);

#endif
