/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cuda backend, for boxes whose DPDK has no GPU driver: the arena
 * page-locked and mapped for a CUDA device (cudaHostRegister, or the driver's
 * cuMemHostRegister), the library loaded at run time so the appliance needs
 * neither CUDA headers to build nor CUDA to run. The few prototypes are
 * declared here; CUDA's ABI for them is stable across versions.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_atomic.h>

#include "ainftp_sink_ops.h"

#define CUDA_HOST_REGISTER_PORTABLE 0x01
#define CUDA_HOST_REGISTER_MAPPED 0x02

/* The runtime's (libcudart) and the driver's (libcuda) entry points; 0 is success in both. */
typedef int (*cudart_count_fn)(int *n);
typedef int (*cudart_set_device_fn)(int dev);
typedef int (*cudart_register_fn)(void *p, size_t size, unsigned int flags);
typedef int (*cudart_unregister_fn)(void *p);
typedef const char *(*cudart_error_fn)(int err);
typedef int (*cu_init_fn)(unsigned int flags);
typedef int (*cu_count_fn)(int *n);
typedef int (*cu_device_get_fn)(int *dev, int ordinal);
typedef int (*cu_ctx_retain_fn)(void **ctx, int dev);
typedef int (*cu_ctx_set_fn)(void *ctx);
typedef int (*cu_register_fn)(void *p, size_t size, unsigned int flags);
typedef int (*cu_unregister_fn)(void *p);

struct cuda_state {
	void *lib;
	cudart_unregister_fn unregister; /* or the driver's, same signature */
};

static const char *const cudart_names[] = {"libcudart.so", "libcudart.so.13", "libcudart.so.12",
					   "libcudart.so.11.0", NULL};

static void *
sym(void *lib, const char *name, bool *missing)
{
	void *p = dlsym(lib, name);

	*missing |= p == NULL;
	return p;
}

/* The runtime API: 0 registered, -1 with why appended. */
static int
try_cudart(struct ainftp_sink *s, struct cuda_state *st, char *why, size_t len)
{
	const char *const *n;
	bool missing = false;
	void *lib = NULL;
	cudart_count_fn count;
	cudart_set_device_fn set_dev;
	cudart_register_fn reg;
	cudart_error_fn errstr;
	int nd = 0, e;

	for (n = cudart_names; *n != NULL && lib == NULL; n++)
		lib = dlopen(*n, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(why, len, "cannot load libcudart.so");
		return -1;
	}
	count = (cudart_count_fn)sym(lib, "cudaGetDeviceCount", &missing);
	set_dev = (cudart_set_device_fn)sym(lib, "cudaSetDevice", &missing);
	reg = (cudart_register_fn)sym(lib, "cudaHostRegister", &missing);
	st->unregister = (cudart_unregister_fn)sym(lib, "cudaHostUnregister", &missing);
	errstr = (cudart_error_fn)sym(lib, "cudaGetErrorString", &missing);
	if (missing) {
		snprintf(why, len, "%s lacks cudaHostRegister and friends", n[-1]);
		goto fail;
	}
	e = count(&nd);
	if (e != 0 || nd == 0) {
		snprintf(why, len, "%s: %s", n[-1], e != 0 ? errstr(e) : "no CUDA device");
		goto fail;
	}
	if (s->device >= nd) {
		snprintf(why, len, "%s: no CUDA device %u (sink.device), %d device(s)", n[-1],
			 s->device, nd);
		goto fail;
	}
	e = set_dev(s->device);
	if (e == 0)
		e = reg(s->base, s->size, CUDA_HOST_REGISTER_PORTABLE | CUDA_HOST_REGISTER_MAPPED);
	if (e != 0) {
		snprintf(why, len, "%s: cudaHostRegister: %s", n[-1], errstr(e));
		goto fail;
	}
	st->lib = lib;
	return 0;
fail:
	dlclose(lib);
	return -1;
}

/* The driver API, when only the driver is installed. */
static int
try_cuda_driver(struct ainftp_sink *s, struct cuda_state *st, char *why, size_t len)
{
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	bool missing = false;
	cu_init_fn init;
	cu_count_fn count;
	cu_device_get_fn get;
	cu_ctx_retain_fn retain;
	cu_ctx_set_fn set;
	cu_register_fn reg;
	void *ctx;
	int nd = 0, dev, e;

	if (lib == NULL) {
		snprintf(why, len, "cannot load libcuda.so.1");
		return -1;
	}
	init = (cu_init_fn)sym(lib, "cuInit", &missing);
	count = (cu_count_fn)sym(lib, "cuDeviceGetCount", &missing);
	get = (cu_device_get_fn)sym(lib, "cuDeviceGet", &missing);
	retain = (cu_ctx_retain_fn)sym(lib, "cuDevicePrimaryCtxRetain", &missing);
	set = (cu_ctx_set_fn)sym(lib, "cuCtxSetCurrent", &missing);
	reg = (cu_register_fn)sym(lib, "cuMemHostRegister_v2", &missing);
	st->unregister = (cudart_unregister_fn)sym(lib, "cuMemHostUnregister", &missing);
	if (missing) {
		snprintf(why, len, "libcuda.so.1 lacks cuMemHostRegister_v2 and friends");
		goto fail;
	}
	e = init(0);
	if (e == 0)
		e = count(&nd);
	if (e != 0 || nd <= s->device) {
		snprintf(why, len, "libcuda.so.1: no CUDA device %u (error %d, %d device(s))",
			 s->device, e, nd);
		goto fail;
	}
	e = get(&dev, s->device);
	if (e == 0)
		e = retain(&ctx, dev);
	if (e == 0)
		e = set(ctx);
	if (e == 0)
		e = reg(s->base, s->size, CUDA_HOST_REGISTER_PORTABLE | CUDA_HOST_REGISTER_MAPPED);
	if (e != 0) {
		snprintf(why, len, "libcuda.so.1: cuMemHostRegister: error %d", e);
		goto fail;
	}
	st->lib = lib;
	return 0;
fail:
	dlclose(lib);
	return -1;
}

static int
cuda_open(struct ainftp_sink *s, char *why, size_t len)
{
	struct cuda_state *st = calloc(1, sizeof(*st));
	char rt_why[160];
	size_t used;

	if (st == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	if (try_cudart(s, st, rt_why, sizeof(rt_why)) == 0) {
		s->priv = st;
		return 0;
	}
	used = (size_t)snprintf(why, len, "%s; ", rt_why);
	if (used < len && try_cuda_driver(s, st, why + used, len - used) == 0) {
		s->priv = st;
		return 0;
	}
	free(st);
	return -1;
}

static void
cuda_wmb(const struct ainftp_sink *s __rte_unused)
{
	/* Registered host memory is read by the GPU over PCIe in the order the CPU's stores
	 * leave it: a store fence is the barrier (what gpudev's CUDA driver does too). */
	rte_wmb();
}

static void
cuda_close(struct ainftp_sink *s)
{
	struct cuda_state *st = s->priv;

	if (st == NULL)
		return;
	st->unregister(s->base);
	/* The library stays loaded: CUDA does not support being unloaded in a live process. */
	free(st);
	s->priv = NULL;
}

const struct ainftp_sink_ops ainftp_sink_cuda_ops = {
	.name = "cuda",
	.open = cuda_open,
	.wmb = cuda_wmb,
	.ring = ainftp_sink_ring_host,
	.close = cuda_close,
};
