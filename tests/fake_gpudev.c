/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fake gpudev driver (fake_gpudev.h). A driver's view of gpudev is
 * gpudev_driver.h, which Debian does not install (DPDK's driver SDK is off):
 * the few declarations it needs are copied here from DPDK 22.11, the only
 * version this is built against, hence the version check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_gpudev.h>
#include <rte_version.h>

#include "fake_gpudev.h"

#if RTE_VER_YEAR != 22 || RTE_VER_MONTH != 11
#error "fake_gpudev.c copies gpudev_driver.h of DPDK 22.11"
#endif

/* From lib/gpudev/gpudev_driver.h of DPDK 22.11. */
struct rte_gpu;
typedef int(rte_gpu_close_t)(struct rte_gpu *dev);
typedef int(rte_gpu_info_get_t)(struct rte_gpu *dev, struct rte_gpu_info *info);
typedef int(rte_gpu_mem_alloc_t)(struct rte_gpu *dev, size_t size, unsigned int align, void **ptr);
typedef int(rte_gpu_mem_free_t)(struct rte_gpu *dev, void *ptr);
typedef int(rte_gpu_mem_register_t)(struct rte_gpu *dev, size_t size, void *ptr);
typedef int(rte_gpu_mem_unregister_t)(struct rte_gpu *dev, void *ptr);
typedef int(rte_gpu_mem_cpu_map_t)(struct rte_gpu *dev, size_t size, void *ptr_in, void **ptr_out);
typedef int(rte_gpu_mem_cpu_unmap_t)(struct rte_gpu *dev, void *ptr);
typedef int(rte_gpu_wmb_t)(struct rte_gpu *dev);

struct rte_gpu_ops {
	rte_gpu_info_get_t *dev_info_get;
	rte_gpu_close_t *dev_close;
	rte_gpu_mem_alloc_t *mem_alloc;
	rte_gpu_mem_free_t *mem_free;
	rte_gpu_mem_register_t *mem_register;
	rte_gpu_mem_unregister_t *mem_unregister;
	rte_gpu_mem_cpu_map_t *mem_cpu_map;
	rte_gpu_mem_cpu_unmap_t *mem_cpu_unmap;
	rte_gpu_wmb_t *wmb;
};

struct rte_gpu_mpshared {
	char name[RTE_DEV_NAME_MAX_LEN];
	void *dev_private;
	struct rte_gpu_info info;
	uint16_t process_refcnt;
};

struct rte_gpu_callback;
struct rte_gpu {
	struct rte_device *device;
	struct rte_gpu_mpshared *mpshared;
	struct rte_gpu_ops ops;
	TAILQ_HEAD(rte_gpu_callback_list, rte_gpu_callback) callbacks;
	int process_state;
	void *process_private;
} __rte_cache_aligned;

/* Exported by librte_gpudev in its INTERNAL version. */
struct rte_gpu *rte_gpu_allocate(const char *name);
void rte_gpu_complete_new(struct rte_gpu *dev);
int rte_gpu_release(struct rte_gpu *dev);

#define FAKE_NAME "ainftp_fake_gpu"

static struct fake_gpu fake;
static struct rte_gpu *fake_dev;

static int
fake_register(struct rte_gpu *dev __rte_unused, size_t size, void *ptr)
{
	if (fake.refuse_register || fake.reg_ptr != NULL)
		return -EPERM;
	fake.reg_ptr = ptr;
	fake.reg_size = size;
	fake.registrations++;
	return 0;
}

static int
fake_unregister(struct rte_gpu *dev __rte_unused, void *ptr)
{
	if (ptr != fake.reg_ptr)
		return -EINVAL;
	fake.reg_ptr = NULL;
	fake.reg_size = 0;
	return 0;
}

static int
fake_wmb(struct rte_gpu *dev __rte_unused)
{
	fake.wmbs++;
	if (fake.refuse_wmb)
		return -ENOTSUP;
	if (fake.on_wmb != NULL)
		fake.on_wmb(fake.on_wmb_arg);
	return 0;
}

static void
die(const char *what)
{
	fprintf(stderr, "fake_gpudev: %s: %s\n", what, rte_strerror(rte_errno));
	abort();
}

struct fake_gpu *
fake_gpu_attach(void)
{
	if (fake_dev != NULL)
		die("attached twice");
	fake_dev = rte_gpu_allocate(FAKE_NAME);
	if (fake_dev == NULL)
		die("rte_gpu_allocate");
	/* The copied layout must be gpudev's: the library filled in the name. */
	if (strcmp(fake_dev->mpshared->name, FAKE_NAME) != 0 ||
	    fake_dev->mpshared->info.name != fake_dev->mpshared->name)
		die("struct rte_gpu is not DPDK 22.11's");
	memset(&fake, 0, sizeof(fake));
	fake.dev_id = fake_dev->mpshared->info.dev_id;
	fake_dev->ops.mem_register = fake_register;
	fake_dev->ops.mem_unregister = fake_unregister;
	fake_dev->ops.wmb = fake_wmb;
	rte_gpu_complete_new(fake_dev);
	return &fake;
}

void
fake_gpu_detach(struct fake_gpu *g)
{
	if (g != &fake || fake_dev == NULL || rte_gpu_release(fake_dev) != 0)
		die("rte_gpu_release");
	fake_dev = NULL;
}
