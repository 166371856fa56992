// SPDX-License-Identifier: BSD-3-Clause
/*
 * ainftp-gpu-consumer: the result arena's CUDA consumer (docs/SINK.md, "The GPU
 * consumer"). Maps the arena file, registers it with CUDA (cudaHostRegister,
 * Mapped: the GPU reads the marks and payloads in place over PCIe), and runs a
 * persistent kernel: one block per slot group, thread 0 polls each slot's mark
 * with system-scope acquire loads (gen even, seq_ready advanced), the block
 * copies the payload to shared memory, thread 0 re-reads gen (unchanged: a
 * consistent copy), and the block applies it to the chunk's float32
 * parameters in device memory (gpu/ainftp_gpu_apply.h: dequantize, then SGD
 * or momentum). Per result it logs seq and %globaltimer when it saw the mark.
 * A block sweeps its slots only when the job's doorbells moved since its last
 * sweep (ainftp_sink_bell: the RX lcores ring them once per poll), so between
 * results the GPU polls one word per RX lcore, not every mark.
 *
 * A host thread watches the same entries through ainftp_sink_read and copies
 * every result with its CLOCK_MONOTONIC time: afterwards the host reference
 * (gpu/ainftp_gpu_ref.c, C) applies the results the GPU consumed, from the
 * host's copies, and the parameters are compared bit for bit. Latency: the
 * GPU's %globaltimer when it saw a mark, moved onto the host clock by a
 * ping-pong calibration, minus the host watcher's time for the same seq.
 *
 *   ainftp-gpu-consumer ARENA [--job INDEX] [--chunks N] [--cps C] [--sgd|--momentum]
 *       [--lr F] [--mu F] [--idle-ms MS] [--wait-ms MS] [--out FILE] [--device D]
 *
 * Exit: 0 parameters equal the reference, 1 mismatch or incomplete, 2 usage or setup
 * (no GPU/driver included).
 */
#include <cuda/atomic>
#include <cuda_runtime.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

// lib/sink/ainftp_sink.h is C11 (its layout checks are _Static_assert): C++ spells it static_assert.
#ifndef _Static_assert
#define _Static_assert static_assert
#endif
extern "C" {
#include "ainftp_gpu_ref.h"
}
#include "ainftp_gpu_apply.h"

// A CUDA failure: setup (2) until the kernel is launched, then a failed run (1).
static int ck_exit = 2;
#define CK(x)                                                                                  \
	do {                                                                                   \
		cudaError_t e_ = (x);                                                          \
		if (e_ != cudaSuccess) {                                                       \
			fprintf(stderr, "ainftp-gpu-consumer: %s: %s\n", #x,                   \
				cudaGetErrorString(e_));                                       \
			exit(ck_exit);                                                         \
		}                                                                              \
	} while (0)

struct gpu_rec {
	unsigned long long seq;
	unsigned long long t_gpu; // %globaltimer, ns
};

struct kparams {
	const char *arena; // device pointer of the registered arena
	unsigned long long offset;
	unsigned long long bells; // offset of the job's doorbell of RX lcore 0
	unsigned int n_rx;
	unsigned int n_slots, stride, elems, encoding, payload_len, cps;
	unsigned int rule;
	float lr, mu;
	float *params, *vel;
	gpu_rec *log;
	unsigned int cap;
	unsigned int *consumed;	      // device: results taken
	unsigned int *bad;	      // device: chunks >= cps
	unsigned long long *last;     // device: per slot, last seq_ready applied
	volatile unsigned int *stop;  // host-mapped: set by the host
	unsigned int *progress;	      // host-mapped: consumed, for the host to watch
};

__device__ __forceinline__ unsigned long long
globaltimer(void)
{
	unsigned long long t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

__device__ __forceinline__ unsigned int
load_gen(const ainftp_sink_mark *m)
{
	cuda::atomic_ref<unsigned int, cuda::thread_scope_system> a(
		*const_cast<unsigned int *>(&m->gen));
	return a.load(cuda::memory_order_acquire);
}

__device__ __forceinline__ unsigned long long
load_seq(const ainftp_sink_mark *m)
{
	cuda::atomic_ref<unsigned long long, cuda::thread_scope_system> a(
		*reinterpret_cast<unsigned long long *>(const_cast<uint64_t *>(&m->seq_ready)));
	return a.load(cuda::memory_order_acquire);
}

// The job's doorbells summed (ainftp_sink_bell): every result it counts is marked.
__device__ __forceinline__ unsigned int
load_bell(const kparams &p)
{
	unsigned int sum = 0;

	for (unsigned int r = 0; r < p.n_rx; r++) {
		cuda::atomic_ref<unsigned int, cuda::thread_scope_system> a(*reinterpret_cast<unsigned int *>(
			const_cast<char *>(p.arena + p.bells + (unsigned long long)r * AINFTP_SINK_ALIGN)));
		sum += a.load(cuda::memory_order_acquire);
	}
	return sum;
}

__global__ void
consume(kparams p)
{
	extern __shared__ __align__(16) unsigned char stage[];
	__shared__ unsigned long long s_seq, s_t;
	__shared__ int s_state; // 0 nothing, 1 copy, 2 apply, 3 stop
	__shared__ int s_exp;
	__shared__ unsigned int s_count, s_gen;
	const ainftp_sink_mark *m;
	unsigned int k = blockIdx.x, seen = 0; // seen: thread 0's, the bell of this sweep

	for (;;) {
		// A sweep starts once the doorbells moved: a result it counts is marked by now.
		if (k == blockIdx.x && threadIdx.x == 0) {
			unsigned int b;

			while ((b = load_bell(p)) == seen && !*p.stop &&
			       atomicAdd(p.consumed, 0) < p.cap)
				__nanosleep(200);
			seen = b;
		}
		m = reinterpret_cast<const ainftp_sink_mark *>(p.arena + p.offset +
								(unsigned long long)k * p.stride);
		if (threadIdx.x == 0) {
			s_state = 0;
			if (*p.stop || atomicAdd(p.consumed, 0) >= p.cap) {
				s_state = 3;
			} else {
				unsigned int g0 = load_gen(m);
				unsigned long long s = load_seq(m);

				if (!(g0 & 1) && s > p.last[k]) {
					s_t = globaltimer();
					s_seq = s;
					s_gen = g0;
					s_count = *(volatile const uint16_t *)&m->count;
					s_exp = *(volatile const int8_t *)&m->exp;
					s_state = 1;
				}
			}
		}
		__syncthreads();
		if (s_state == 3)
			return;
		if (s_state == 1) {
			const volatile unsigned int *src = reinterpret_cast<const volatile unsigned int *>(
				reinterpret_cast<const char *>(m) + AINFTP_SINK_ALIGN);
			unsigned int *dst = reinterpret_cast<unsigned int *>(stage);

			for (unsigned int i = threadIdx.x; i < p.payload_len / 4; i += blockDim.x)
				dst[i] = src[i];
			__syncthreads();
			if (threadIdx.x == 0) {
				// The copies are done before gen is read again.
				cuda::atomic_thread_fence(cuda::memory_order_acquire,
							  cuda::thread_scope_system);
				if (load_gen(m) == s_gen) {
					unsigned int chunk = (unsigned int)(s_seq - 1);
					unsigned int idx;

					p.last[k] = s_seq;
					if (chunk >= p.cps) {
						atomicAdd(p.bad, 1u);
						s_state = 0;
					} else {
						idx = atomicAdd(p.consumed, 1u);
						if (idx < p.cap) {
							p.log[idx].seq = s_seq - 1;
							p.log[idx].t_gpu = s_t;
							*(volatile unsigned int *)p.progress = idx + 1;
							s_state = 2;
						} else {
							s_state = 3;
						}
					}
				} else {
					s_state = 0; // torn: the next pass takes the newer result
				}
			}
			__syncthreads();
			if (s_state == 2) {
				size_t off = (size_t)(unsigned int)(s_seq - 1) * p.elems;

				ainftp_gpu_apply(p.params + off, p.vel + off, stage, p.encoding, p.elems,
						 s_exp, s_count, p.rule, p.lr, p.mu, threadIdx.x,
						 blockDim.x);
			}
		}
		__syncthreads();
		k += gridDim.x;
		if (k >= p.n_slots)
			k = blockIdx.x;
	}
}

// Clock calibration: the host writes ping = i, the GPU answers with its globaltimer.
__global__ void
calibrate(volatile unsigned int *ping, volatile unsigned long long *pong, unsigned int rounds)
{
	for (unsigned int i = 1; i <= rounds; i++) {
		while (*ping != i)
			;
		pong[0] = globaltimer();
		__threadfence_system();
		pong[1] = i;
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// GPU globaltimer minus host CLOCK_MONOTONIC, from the round trip of least duration.
static int64_t
clock_offset(double *err_ns)
{
	volatile unsigned int *ping;
	volatile unsigned long long *pong;
	unsigned int *dping;
	unsigned long long *dpong;
	const unsigned int rounds = 200;
	int64_t best = 0;
	uint64_t best_rtt = UINT64_MAX;

	CK(cudaHostAlloc((void **)&ping, sizeof(*ping), cudaHostAllocMapped));
	CK(cudaHostAlloc((void **)&pong, 2 * sizeof(*pong), cudaHostAllocMapped));
	*ping = 0;
	pong[1] = 0;
	CK(cudaHostGetDevicePointer((void **)&dping, (void *)ping, 0));
	CK(cudaHostGetDevicePointer((void **)&dpong, (void *)pong, 0));
	calibrate<<<1, 1>>>(dping, dpong, rounds);
	CK(cudaGetLastError());
	for (unsigned int i = 1; i <= rounds; i++) {
		uint64_t t0 = now_ns(), t1;

		__atomic_store_n((unsigned int *)ping, i, __ATOMIC_RELEASE);
		while (__atomic_load_n((unsigned long long *)&pong[1], __ATOMIC_ACQUIRE) != i)
			;
		t1 = now_ns();
		if (t1 - t0 < best_rtt) {
			best_rtt = t1 - t0;
			best = (int64_t)pong[0] - (int64_t)(t0 + (t1 - t0) / 2);
		}
	}
	CK(cudaDeviceSynchronize());
	CK(cudaFreeHost((void *)ping));
	CK(cudaFreeHost((void *)pong));
	*err_ns = best_rtt / 2.0;
	return best;
}

struct watcher {
	struct ainftp_gpu_log log;
	const void *arena;
	volatile int stop;
	uint64_t t_last; // last new result, host ns
	pthread_t th;
};

static void *
watch(void *arg)
{
	struct watcher *w = (struct watcher *)arg;

	while (!w->stop) {
		uint64_t t = now_ns();

		if (ainftp_gpu_log_poll(&w->log, w->arena, t) != 0)
			__atomic_store_n(&w->t_last, t, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void
usage(const char *p)
{
	fprintf(stderr,
		"usage: %s ARENA [--job INDEX] [--chunks N] [--cps C] [--sgd|--momentum]\n"
		"       [--lr F] [--mu F] [--idle-ms MS] [--wait-ms MS] [--out FILE] [--device D]\n",
		p);
	exit(2);
}

static double
pct(std::vector<double> &v, double q)
{
	if (v.empty())
		return 0;
	size_t i = (size_t)(q * (v.size() - 1) + 0.5);
	return v[std::min(i, v.size() - 1)];
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *out = NULL;
	unsigned int job_idx = 0, chunks = 0, cps = 0, rule = AINFTP_GPU_SGD, idle_ms = 2000,
		     wait_ms = 30000;
	int device = 0, ndev = 0;
	float lr = 0.01f, mu = 0.9f;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--sgd"))
			rule = AINFTP_GPU_SGD;
		else if (!strcmp(a, "--momentum"))
			rule = AINFTP_GPU_MOMENTUM;
		else if (a[0] == '-' && a[1] == '-' && v == NULL)
			usage(argv[0]);
		else if (!strcmp(a, "--job"))
			job_idx = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--chunks"))
			chunks = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--cps"))
			cps = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--lr"))
			lr = strtof(argv[++i], NULL);
		else if (!strcmp(a, "--mu"))
			mu = strtof(argv[++i], NULL);
		else if (!strcmp(a, "--idle-ms"))
			idle_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--wait-ms"))
			wait_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--out"))
			out = argv[++i];
		else if (!strcmp(a, "--device"))
			device = atoi(argv[++i]);
		else if (a[0] == '-' || path != NULL)
			usage(argv[0]);
		else
			path = a;
	}
	if (path == NULL || chunks == 0)
		usage(argv[0]);
	if (cps == 0)
		cps = chunks;

	// The GPU first (context creation takes long): ready before the arena fills.
	cudaError_t ce = cudaGetDeviceCount(&ndev);
	if (ce != cudaSuccess || ndev == 0) {
		fprintf(stderr, "ainftp-gpu-consumer: no NVIDIA GPU/driver: %s\n",
			ce != cudaSuccess ? cudaGetErrorString(ce) : "no device");
		return 2;
	}
	CK(cudaSetDevice(device));
	CK(cudaSetDeviceFlags(cudaDeviceMapHost));
	CK(cudaFree(0));
	double cal_err;
	int64_t offset = clock_offset(&cal_err);
	// Everything slow before the arena exists: the module loaded, the device's figures.
	cudaFuncAttributes fattr;
	cudaDeviceProp prop;
	CK(cudaFuncGetAttributes(&fattr, consume));
	CK(cudaGetDeviceProperties(&prop, device));
	fprintf(stderr, "ainftp-gpu-consumer: ready on %s, waiting for %s\n", prop.name, path);

	// The arena: wait for the appliance to make it (its magic written last).
	uint64_t t_wait = now_ns();
	int fd = -1;
	struct stat st;
	const struct ainftp_sink_hdr *h = NULL;
	void *arena = MAP_FAILED;
	for (;;) {
		fd = open(path, O_RDWR);
		if (fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(*h)) {
			arena = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
				     0);
			if (arena != MAP_FAILED) {
				h = (const struct ainftp_sink_hdr *)arena;
				if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == AINFTP_SINK_MAGIC &&
				    h->version == AINFTP_SINK_VERSION && h->size <= (uint64_t)st.st_size &&
				    job_idx < h->n_jobs)
					break;
				munmap(arena, (size_t)st.st_size);
				arena = MAP_FAILED;
			}
		}
		if (fd >= 0)
			close(fd);
		fd = -1;
		if (now_ns() - t_wait > (uint64_t)wait_ms * 1000000) {
			fprintf(stderr, "ainftp-gpu-consumer: %s: no arena with job index %u after %u ms\n",
				path, job_idx, wait_ms);
			return 2;
		}
		usleep(1000);
	}
	close(fd);
	const struct ainftp_sink_job sj = h->jobs[job_idx];
	if (sj.offset + (uint64_t)sj.stride * sj.n_slots > h->size || sj.n_slots == 0 ||
	    sj.payload_len % 4 != 0 || sj.payload_len > 48 * 1024 - fattr.sharedSizeBytes ||
	    sj.payload_len < sj.elems * (sj.encoding == AINFTP_SINK_ENC_INT16 ? 2u : 4u)) {
		fprintf(stderr, "ainftp-gpu-consumer: job %u: unsupported geometry\n", sj.id);
		return 2;
	}

	// The host watcher first, then the registration and the kernel.
	struct watcher w;
	memset(&w, 0, sizeof(w));
	if (ainftp_gpu_log_init(&w.log, &sj, chunks + sj.n_slots) != 0)
		return 2;
	w.arena = arena;
	w.t_last = now_ns();
	if (pthread_create(&w.th, NULL, watch, &w) != 0) {
		fprintf(stderr, "ainftp-gpu-consumer: cannot start the watcher thread\n");
		return 2;
	}

	CK(cudaHostRegister(arena, (size_t)st.st_size,
			    cudaHostRegisterMapped | cudaHostRegisterPortable));
	char *darena;
	CK(cudaHostGetDevicePointer((void **)&darena, arena, 0));

	size_t np = (size_t)cps * sj.elems;
	std::vector<float> hp(np), hv(np, 0.0f);
	for (size_t i = 0; i < np; i++)
		hp[i] = ainftp_gpu_param_init(i);
	kparams kp;
	memset(&kp, 0, sizeof(kp));
	kp.arena = darena;
	kp.offset = sj.offset;
	kp.bells = h->doorbells + (unsigned long long)job_idx * h->n_rx * AINFTP_SINK_ALIGN;
	kp.n_rx = h->n_rx;
	kp.n_slots = sj.n_slots;
	kp.stride = sj.stride;
	kp.elems = sj.elems;
	kp.encoding = sj.encoding;
	kp.payload_len = sj.payload_len;
	kp.cps = cps;
	kp.rule = rule;
	kp.lr = lr;
	kp.mu = mu;
	kp.cap = chunks;
	CK(cudaMalloc(&kp.params, np * sizeof(float)));
	CK(cudaMalloc(&kp.vel, np * sizeof(float)));
	CK(cudaMemcpy(kp.params, hp.data(), np * sizeof(float), cudaMemcpyHostToDevice));
	CK(cudaMemset(kp.vel, 0, np * sizeof(float)));
	CK(cudaMalloc(&kp.log, chunks * sizeof(gpu_rec)));
	CK(cudaMalloc(&kp.consumed, sizeof(unsigned int)));
	CK(cudaMalloc(&kp.bad, sizeof(unsigned int)));
	CK(cudaMemset(kp.consumed, 0, sizeof(unsigned int)));
	CK(cudaMemset(kp.bad, 0, sizeof(unsigned int)));
	CK(cudaMalloc(&kp.last, sj.n_slots * sizeof(unsigned long long)));
	CK(cudaMemset(kp.last, 0, sj.n_slots * sizeof(unsigned long long)));
	unsigned int *hstop, *hprog;
	CK(cudaHostAlloc((void **)&hstop, sizeof(unsigned int), cudaHostAllocMapped));
	CK(cudaHostAlloc((void **)&hprog, sizeof(unsigned int), cudaHostAllocMapped));
	*hstop = 0;
	*hprog = 0;
	CK(cudaHostGetDevicePointer((void **)&kp.stop, hstop, 0));
	CK(cudaHostGetDevicePointer((void **)&kp.progress, hprog, 0));

	// Every block resident at once (a persistent kernel): one per slot, up to the SMs.
	unsigned int blocks = std::min<unsigned int>(sj.n_slots, (unsigned)prop.multiProcessorCount);
	consume<<<blocks, 256, sj.payload_len>>>(kp);
	CK(cudaGetLastError());
	ck_exit = 1;

	// Until N results, or none new for idle_ms (on the GPU's side or the watcher's); before
	// the first result, wait_ms (the appliance may still be starting its workers).
	uint64_t t_prog = now_ns(), last_prog = 0;
	for (;;) {
		unsigned int pr = __atomic_load_n(hprog, __ATOMIC_ACQUIRE);
		uint64_t t = now_ns();

		if (pr != last_prog) {
			last_prog = pr;
			t_prog = t;
		}
		if (pr >= chunks || cudaStreamQuery(0) != cudaErrorNotReady)
			break;
		uint64_t limit = (uint64_t)(pr == 0 ? wait_ms : idle_ms) * 1000000;
		if (t - t_prog > limit && t - __atomic_load_n(&w.t_last, __ATOMIC_ACQUIRE) > limit)
			break;
		usleep(200);
	}
	__atomic_store_n(hstop, 1u, __ATOMIC_RELEASE);
	CK(cudaDeviceSynchronize());
	usleep(1000);
	w.stop = 1;
	pthread_join(w.th, NULL);

	unsigned int consumed = 0, bad = 0;
	CK(cudaMemcpy(&consumed, kp.consumed, sizeof(consumed), cudaMemcpyDeviceToHost));
	CK(cudaMemcpy(&bad, kp.bad, sizeof(bad), cudaMemcpyDeviceToHost));
	consumed = std::min(consumed, chunks);
	std::vector<gpu_rec> glog(consumed);
	std::vector<float> gp(np);
	CK(cudaMemcpy(glog.data(), kp.log, consumed * sizeof(gpu_rec), cudaMemcpyDeviceToHost));
	CK(cudaMemcpy(gp.data(), kp.params, np * sizeof(float), cudaMemcpyDeviceToHost));

	// The reference, from the watcher's copies of the results the GPU consumed.
	ainftp_gpu_log_sort(&w.log);
	std::vector<uint64_t> seqs(consumed);
	for (unsigned int i = 0; i < consumed; i++)
		seqs[i] = glog[i].seq;
	long missing = ainftp_gpu_ref_apply(hp.data(), hv.data(), cps, &w.log, seqs.data(),
					    seqs.size(), rule, lr, mu);
	uint64_t gaps = ainftp_gpu_gaps(seqs.data(), seqs.size(), sj.n_slots, cps);
	size_t diff = 0, first_diff = 0;
	for (size_t i = 0; i < np; i++)
		if (memcmp(&hp[i], &gp[i], sizeof(float)) != 0 && diff++ == 0)
			first_diff = i;

	// Throughput (GPU's own clock, first to last mark seen) and latency.
	std::vector<double> lat;
	uint64_t tmin = UINT64_MAX, tmax = 0;
	for (unsigned int i = 0; i < consumed; i++) {
		long r = ainftp_gpu_log_find(&w.log, glog[i].seq);
		tmin = std::min<uint64_t>(tmin, glog[i].t_gpu);
		tmax = std::max<uint64_t>(tmax, glog[i].t_gpu);
		if (r >= 0)
			lat.push_back(((double)((int64_t)glog[i].t_gpu - offset) -
				       (double)w.log.rec[r].t_ns) / 1000.0);
	}
	std::sort(lat.begin(), lat.end());
	double secs = tmax > tmin ? (tmax - tmin) / 1e9 : 0;
	printf("gpu-consumer: job=%u slots=%u elems=%u encoding=%s rule=%s lr=%g mu=%g device=%s\n",
	       sj.id, sj.n_slots, sj.elems, sj.encoding == AINFTP_SINK_ENC_INT16 ? "int16" : "float32",
	       rule == AINFTP_GPU_MOMENTUM ? "momentum" : "sgd", lr, mu, prop.name);
	printf("gpu-consumer: consumed=%u want=%u host_seen=%u gaps=%" PRIu64
	       " torn_host=%" PRIu64 " bad_chunks=%u missing_in_host_log=%ld\n",
	       consumed, chunks, w.log.n, gaps, w.log.torn, bad, missing);
	printf("gpu-consumer: results_per_s=%.0f (gpu clock, %u results in %.6f s)\n",
	       secs > 0 ? (consumed - 1) / secs : 0.0, consumed, secs);
	printf("gpu-consumer: latency_us (host watcher saw mark -> gpu saw mark; clock offset +-%.2f us)"
	       " p50=%.2f p99=%.2f min=%.2f max=%.2f n=%zu\n",
	       cal_err / 1000.0, pct(lat, 0.5), pct(lat, 0.99), lat.empty() ? 0 : lat.front(),
	       lat.empty() ? 0 : lat.back(), lat.size());
	if (out != NULL) {
		FILE *f = fopen(out, "wb");
		if (f == NULL || fwrite(gp.data(), sizeof(float), np, f) != np || fclose(f) != 0)
			fprintf(stderr, "ainftp-gpu-consumer: %s: %s\n", out, strerror(errno));
	}
	int rc = 0;
	if (missing != 0 || bad != 0) {
		printf("gpu-consumer: FAIL: reference incomplete (%ld results not in the host log, %u bad chunks)\n",
		       missing, bad);
		rc = 1;
	} else if (diff != 0) {
		printf("gpu-consumer: FAIL: %zu of %zu parameters differ from the host reference "
		       "(first: %zu gpu %a host %a)\n",
		       diff, np, first_diff, gp[first_diff], hp[first_diff]);
		rc = 1;
	} else if (consumed < chunks || gaps != 0) {
		printf("gpu-consumer: FAIL: parameters equal the reference, but the GPU consumed %u of %u "
		       "results (%" PRIu64 " gaps)\n",
		       consumed, chunks, gaps);
		rc = 1;
	} else {
		printf("gpu-consumer: PASS: %zu parameters equal the host reference bit for bit\n", np);
	}
	cudaHostUnregister(arena);
	munmap(arena, (size_t)st.st_size);
	ainftp_gpu_log_free(&w.log);
	return rc;
}
