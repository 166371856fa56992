// SPDX-License-Identifier: BSD-3-Clause
/*
 * ainftp-gpu-consumer: the result arena's CUDA consumer (docs/SINK.md, "The GPU
 * consumer"). Maps the arena file, registers it with CUDA (cudaHostRegister,
 * Mapped: the GPU reads the marks and payloads in place over PCIe), and runs a
 * persistent kernel of two roles:
 *
 * - the poller, one warp of block 0, never sleeping while results come: each
 *   lane acquire-loads one RX lcore's doorbell, and for each doorbell that
 *   moved it reads, one mark per lane in one round trip, the marks of that
 *   lcore's slots where its next results are due (lib/sink/ainftp_sink_sweep.h:
 *   the doorbell's increase from where the last result was found), not every
 *   mark. A new seq_ready goes to the slot's worker through a mailbox in device
 *   memory, with the %globaltimer the poller saw it at. After --spin-us without
 *   a doorbell moving it naps (__nanosleep, up to 1 us) until one moves.
 * - the workers, every other block, each owning the slots k = w (mod workers):
 *   warp 0 watches its slots' mailboxes (device memory, no PCIe), the block
 *   takes the slot's newest result with the seqcount read (gen acquire-loaded,
 *   seq and payload in 16-byte loads, gen again after a fence), and applies it
 *   to the chunk's float32 parameters in device memory (gpu/ainftp_gpu_apply.h:
 *   dequantize, then SGD or momentum). A slot's results are applied by one
 *   block, in order.
 *
 * Two sources of results:
 * - an appliance (ainftp-app, scripts/gpu-check.sh): a host thread watches the
 *   same entries through ainftp_sink_read and copies every result with its
 *   CLOCK_MONOTONIC time; afterwards the host reference (gpu/ainftp_gpu_ref.c,
 *   C) applies the results the GPU consumed, from the host's copies, and the
 *   parameters are compared bit for bit. Latency: the GPU's %globaltimer when
 *   it saw a mark, moved onto the host clock by a ping-pong calibration, minus
 *   the host watcher's time for the same seq.
 * - --synthetic: ainftp-sink-write's known results (lib/sink/ainftp_sink_synth.h),
 *   for the consumer's ceiling: every mark and payload element is checked on the
 *   GPU, the reference is computed from seq alone, no watcher.
 *
 *   ainftp-gpu-consumer ARENA --chunks N [--job INDEX] [--cps C] [--sgd|--momentum]
 *       [--lr F] [--mu F] [--idle-ms MS] [--wait-ms MS] [--spin-us US] [--out FILE]
 *       [--device D] [--synthetic [--workers W]] [--running-file PATH]
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
#include <thread>
#include <vector>

// lib/sink/ainftp_sink.h is C11 (its layout checks are _Static_assert): C++ spells it
// static_assert.
#ifndef _Static_assert
#define _Static_assert static_assert
#endif
extern "C" {
#include "ainftp_gpu_ref.h"
}
#include "ainftp_gpu_apply.h"
#include "ainftp_sink_sweep.h"
#include "ainftp_sink_synth.h"

// A CUDA failure: setup (2) until the kernel is launched, then a failed run (1).
static int ck_exit = 2;
#define CK(x)                                                                \
	do {                                                                 \
		cudaError_t e_ = (x);                                        \
		if (e_ != cudaSuccess) {                                     \
			fprintf(stderr, "ainftp-gpu-consumer: %s: %s\n", #x, \
				cudaGetErrorString(e_));                     \
			exit(ck_exit);                                       \
		}                                                            \
	} while (0)

#define FULL_MASK 0xffffffffu
#define NG AINFTP_SWEEP_MAX_GROUPS
#define THREADS 256
#define NAP_MAX_NS 1000u   // the poller's longest nap once idle: about one PCIe round trip
#define CHECK_NS 20000ull  // the poller looks at the host's stop flag this often
#define TORN_NS 1000000ull // a worker gives up an entry that stays odd this long
#define STAT_ITERS 0	   // poller: loop iterations
#define STAT_MARK_READS 1  // poller: marks read
#define STAT_RESYNCS 2	   // poller: rounds that found fewer than rung
#define STAT_NAPS 3	   // poller: naps taken
#define STAT_TORN 4	   // workers: reads that met a write
#define STAT_STALE 5	   // workers: mailboxes whose result was already taken
#define STAT_BAD_MARK 6	   // workers, --synthetic: marks not as written
#define STAT_BAD_PAYLOAD 7 // workers, --synthetic: payloads not as written
#define STAT_N 8

struct gpu_rec {
	unsigned long long seq;	   // (step << 32 | chunk)
	unsigned long long t_seen; // %globaltimer, ns: the poller saw its mark
	unsigned long long t_done; // %globaltimer, ns: applied
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
	unsigned int workers;	    // worker blocks: gridDim.x - 1
	unsigned int synthetic;	    // check against ainftp_sink_synth.h
	unsigned int synth_workers; // the writer's --workers
	unsigned long long spin_ns; // the poller's hot period after a doorbell moved
	const ainftp_sweep_plan *plan;
	const unsigned int *slots;    // plan: the groups' slots
	const unsigned int *pos;      // plan: slot k's position in its group
	unsigned long long *seen;     // poller: per slot, the newest seq_ready seen
	unsigned long long *hint_seq; // mailbox per slot: seq_ready the poller saw
	unsigned long long *hint_t;   // and when
	unsigned long long *last;     // workers: per slot, the last seq_ready applied
	unsigned int *consumed;	      // device: results taken
	unsigned int *bad;	      // device: chunks >= cps
	unsigned int *quit;	      // device: the workers stop
	unsigned long long *stats;    // device: STAT_*
	volatile unsigned int *stop;  // host-mapped: set by the host
	unsigned int *progress;	      // host-mapped: consumed, for the host to watch
	unsigned int *started;	      // host-mapped: the poller runs
};

__device__ __forceinline__ unsigned long long
globaltimer(void)
{
	unsigned long long t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

template <typename T>
__device__ __forceinline__ T
ld_acquire_sys(const void *p)
{
	cuda::atomic_ref<T, cuda::thread_scope_system> a(
		*reinterpret_cast<T *>(const_cast<void *>(p)));
	return a.load(cuda::memory_order_acquire);
}

template <typename T>
__device__ __forceinline__ T
ld_relaxed_sys(const void *p)
{
	cuda::atomic_ref<T, cuda::thread_scope_system> a(
		*reinterpret_cast<T *>(const_cast<void *>(p)));
	return a.load(cuda::memory_order_relaxed);
}

template <typename T>
__device__ __forceinline__ T
ld_acquire_dev(const T *p)
{
	cuda::atomic_ref<T, cuda::thread_scope_device> a(*const_cast<T *>(p));
	return a.load(cuda::memory_order_acquire);
}

template <typename T>
__device__ __forceinline__ void
st_release_dev(T *p, T v)
{
	cuda::atomic_ref<T, cuda::thread_scope_device> a(*p);
	a.store(v, cuda::memory_order_release);
}

// 16 bytes of host memory in one load (one PCIe read for a warp's neighbouring lanes).
__device__ __forceinline__ uint4
ld_volatile_v4(const void *p)
{
	uint4 v;
	asm volatile("ld.volatile.global.v4.u32 {%0, %1, %2, %3}, [%4];"
		     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
		     : "l"(p));
	return v;
}

__device__ __forceinline__ const char *
mark_of(const kparams &p, unsigned int k)
{
	return p.arena + p.offset + (unsigned long long)k * p.stride;
}

// The poller's state, in its block's shared memory.
struct poll_state {
	ainftp_sweep_group grp[NG];
	unsigned int start[NG], len[NG], bfirst[NG], bcount[NG];
	unsigned int bellv[NG];			  // this iteration's doorbells
	unsigned int wfirst[NG], wn[NG], wat[NG]; // this iteration's windows, and where each starts
	unsigned int found[NG];
	unsigned long long best[NG];
};

// The group of window item j: the last g with wat[g] <= j (wat ascending over groups).
__device__ __forceinline__ unsigned int
group_of(const poll_state &ps, unsigned int n_groups, unsigned int j)
{
	unsigned int lo = 0, hi = n_groups - 1;

	while (lo < hi) {
		unsigned int mid = (lo + hi + 1) / 2;

		if (ps.wat[mid] <= j)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

__device__ void
poll_loop(const kparams &p)
{
	__shared__ poll_state ps;
	const unsigned int lane = threadIdx.x, G = p.plan->n_groups;
	unsigned long long t_active, t_check, reads = 0, iters = 0, naps = 0;
	unsigned int nap = 0;

	for (unsigned int g = lane; g < NG; g += 32) {
		ps.grp[g] = ainftp_sweep_group{};
		ps.start[g] = p.plan->start[g];
		ps.len[g] = p.plan->len[g];
		ps.bfirst[g] = p.plan->bell_first[g];
		ps.bcount[g] = p.plan->bell_count[g];
	}
	__syncwarp();
	if (lane == 0) {
		*(volatile unsigned int *)p.started = 1;
		__threadfence_system();
	}
	t_active = t_check = globaltimer();
	for (;;) {
		unsigned int T, moved = 0;
		unsigned long long now;

		iters++;
		// 1. The doorbells, one per lane, in one round trip: every result they count is
		//    marked once they are read (acquire).
		for (unsigned int r = lane; r < p.n_rx && r < NG; r += 32)
			ps.bellv[r] = ld_acquire_sys<unsigned int>(
				p.arena + p.bells + (unsigned long long)r * AINFTP_SINK_ALIGN);
		__syncwarp();
		// 2. Per group, what was rung and the window it calls for.
		for (unsigned int g = lane; g < G; g += 32) {
			unsigned int sum = 0;

			for (unsigned int b = 0; b < ps.bcount[g]; b++)
				sum += ps.bellv[ps.bfirst[g] + b];
			moved |= sum != ps.grp[g].bell;
			ainftp_sweep_rung(&ps.grp[g], sum);
			ps.wn[g] = ainftp_sweep_window(&ps.grp[g], ps.len[g], &ps.wfirst[g]);
			ps.found[g] = 0;
			ps.best[g] = 0;
		}
		__syncwarp();
		// Where each group's window starts among all the marks to read (a warp scan over
		// groups 2 lane and 2 lane + 1).
		{
			unsigned int g0 = 2 * lane, g1 = g0 + 1;
			unsigned int a0 = g0 < G ? ps.wn[g0] : 0, a1 = g1 < G ? ps.wn[g1] : 0;
			unsigned int v = a0 + a1;

			for (unsigned int d = 1; d < 32; d <<= 1) {
				unsigned int n = __shfl_up_sync(FULL_MASK, v, d);

				if (lane >= d)
					v += n;
			}
			if (g0 < G)
				ps.wat[g0] = v - a0 - a1;
			if (g1 < G)
				ps.wat[g1] = v - a1;
			T = __shfl_sync(FULL_MASK, v, 31);
		}
		__syncwarp();
		// 3. The marks the windows name, a lane each, four per lane in flight at once.
		for (unsigned int base = 0; base < T; base += 4 * 32) {
			unsigned long long s[4], t = 0;
			unsigned int k[4], g[4], fresh = 0;

#pragma unroll
			for (unsigned int u = 0; u < 4; u++) {
				unsigned int j = base + u * 32 + lane;

				s[u] = 0;
				k[u] = UINT32_MAX;
				g[u] = 0;
				if (j < T) {
					g[u] = group_of(ps, G, j);
					k[u] = p.slots[ps.start[g[u]] +
						       (ps.wfirst[g[u]] + (j - ps.wat[g[u]])) %
							       ps.len[g[u]]];
					s[u] = ld_relaxed_sys<unsigned long long>(mark_of(p, k[u]));
				}
			}
#pragma unroll
			for (unsigned int u = 0; u < 4; u++) {
				if (k[u] == UINT32_MAX)
					continue;
				reads++;
				fresh |= (s[u] > p.seen[k[u]]) << u;
			}
			// When the marks came back: the timer is read under a condition on them,
			// so not before they are in (a volatile asm is not speculated).
			if (fresh != 0)
				t = globaltimer();
#pragma unroll
			for (unsigned int u = 0; u < 4; u++) {
				if (!(fresh & (1u << u)))
					continue;
				// New: to the slot's worker, the time first (it reads hint_seq,
				// then t).
				p.seen[k[u]] = s[u];
				p.hint_t[k[u]] = t;
				st_release_dev(&p.hint_seq[k[u]], s[u]);
				atomicAdd(&ps.found[g[u]], 1u);
				atomicMax(&ps.best[g[u]], s[u]);
			}
		}
		__syncwarp();
		// 4. Each group's window done: where its next results are expected.
		for (unsigned int g = lane; g < G; g += 32) {
			if (ps.wn[g] == 0)
				continue;
			unsigned int bp =
				ps.found[g] != 0 ? p.pos[(unsigned int)(ps.best[g] - 1) % p.n_slots]
						 : 0;

			ainftp_sweep_done(&ps.grp[g], ps.len[g], ps.wn[g], ps.found[g], ps.best[g],
					  bp);
		}
		__syncwarp();
		// 5. Hot while doorbells move; a nap only after spin_ns without.
		now = globaltimer();
		if (__any_sync(FULL_MASK, moved) || T != 0) {
			t_active = now;
			nap = 0;
		} else if (now - t_active > p.spin_ns) {
			nap = nap == 0 ? 32 : min(2 * nap, NAP_MAX_NS);
			naps++;
			__nanosleep(nap);
		}
		if (now - t_check > CHECK_NS) {
			unsigned int q = 0;

			t_check = now;
			if (lane == 0)
				q = *p.stop || *(volatile unsigned int *)p.quit;
			if (__shfl_sync(FULL_MASK, q, 0)) {
				if (lane == 0)
					*(volatile unsigned int *)p.quit = 1;
				break;
			}
		}
	}
	for (unsigned int d = 16; d != 0; d >>= 1)
		reads += __shfl_down_sync(FULL_MASK, reads, d);
	if (lane == 0) {
		unsigned long long resyncs = 0;

		for (unsigned int g = 0; g < G; g++)
			resyncs += ps.grp[g].resyncs;
		p.stats[STAT_ITERS] = iters;
		p.stats[STAT_MARK_READS] = reads;
		p.stats[STAT_RESYNCS] = resyncs;
		p.stats[STAT_NAPS] = naps;
	}
}

// One result of slot k into the parameters, with the seqcount read (docs/SINK.md, "Protocol").
__device__ void
work_slot(const kparams &p, unsigned int k, unsigned char *stage)
{
	__shared__ unsigned long long s_word, s_seq, s_bitmap, s_hseq, s_ht, s_t0;
	__shared__ int s_state; // 0 skip, 1 read, 2 apply, 3 retry
	__shared__ unsigned int s_idx, s_bad;
	const char *m = mark_of(p, k);
	int st = 0;

	for (int attempt = 0; attempt < 64; attempt++) {
		if (threadIdx.x == 0) {
			unsigned long long t0 = globaltimer(), w;

			if (attempt == 0) {
				unsigned long long hs;

				// The mailbox's seq and time as one pair: the poller may be
				// writing the next.
				do {
					hs = ld_acquire_dev(&p.hint_seq[k]);
					s_ht = *(volatile unsigned long long *)&p.hint_t[k];
					cuda::atomic_thread_fence(cuda::memory_order_acquire,
								  cuda::thread_scope_device);
				} while (ld_acquire_dev(&p.hint_seq[k]) != hs);
				s_hseq = hs;
			}
			// gen with count, exp and flags beside it (bytes 16..23), acquired: what
			// follows reads the entry as of this gen or later.
			while (((w = ld_acquire_sys<unsigned long long>(m + 16)) >> 32) & 1) {
				if (globaltimer() - t0 > TORN_NS)
					break;
			}
			s_word = w;
			s_t0 = t0;
			s_state = ((w >> 32) & 1) ? 0 : 1;
			s_bad = 0;
		}
		__syncthreads();
		if (s_state == 0) {
			if (threadIdx.x == 0)
				atomicAdd(&p.stats[STAT_TORN], 1ull);
			return;
		}
		// seq_ready and bitmap, and the payload, 16 bytes a load.
		if (threadIdx.x == 0) {
			uint4 v = ld_volatile_v4(m);

			s_seq = (unsigned long long)v.y << 32 | v.x;
			s_bitmap = (unsigned long long)v.w << 32 | v.z;
		}
		{
			const char *src = m + AINFTP_SINK_ALIGN;
			unsigned int n16 = p.payload_len / 16;

			for (unsigned int i = threadIdx.x; i < n16; i += blockDim.x)
				reinterpret_cast<uint4 *>(stage)[i] = ld_volatile_v4(src + 16 * i);
			for (unsigned int i = n16 * 4 + threadIdx.x; i < p.payload_len / 4;
			     i += blockDim.x)
				reinterpret_cast<unsigned int *>(stage)[i] =
					*reinterpret_cast<const volatile unsigned int *>(src +
											 4 * i);
		}
		__syncthreads();
		if (threadIdx.x == 0) {
			// The copies are done before gen is read again.
			cuda::atomic_thread_fence(cuda::memory_order_acquire,
						  cuda::thread_scope_system);
			unsigned long long w2 = ld_relaxed_sys<unsigned long long>(m + 16);

			if ((w2 >> 32) != (s_word >> 32)) {
				s_state = 3; // a newer result came in while read: read again
				atomicAdd(&p.stats[STAT_TORN], 1ull);
			} else if (s_seq <= p.last[k] || s_seq == 0) {
				s_state = 0;
				atomicAdd(&p.stats[STAT_STALE], 1ull);
			} else {
				unsigned int chunk = (unsigned int)(s_seq - 1);

				p.last[k] = s_seq;
				s_state = 0;
				if (chunk >= p.cps) {
					atomicAdd(p.bad, 1u);
				} else {
					unsigned int idx = atomicAdd(p.consumed, 1u);

					if (idx < p.cap) {
						s_idx = idx;
						s_state = 2;
					}
					if (idx + 1 >= p.cap)
						*(volatile unsigned int *)p.quit = 1;
				}
			}
		}
		__syncthreads();
		st = s_state;
		__syncthreads(); // all have read it before thread 0 writes the next attempt's
		if (st != 3)
			break;
	}
	if (st != 2)
		return;
	{
		unsigned int word_lo = (unsigned int)s_word;
		unsigned int count = word_lo & 0xffff;
		int exp = (int)(signed char)((word_lo >> 16) & 0xff);
		size_t off = (size_t)(unsigned int)(s_seq - 1) * p.elems;

		ainftp_gpu_apply(p.params + off, p.vel + off, stage, p.encoding, p.elems, exp,
				 count, p.rule, p.lr, p.mu, threadIdx.x, blockDim.x);
		if (p.synthetic) {
			unsigned long long seq = s_seq - 1;
			unsigned int bad = 0;

			for (unsigned int i = threadIdx.x; i < p.elems; i += blockDim.x) {
				if (p.encoding == AINFTP_SINK_ENC_INT16)
					bad += reinterpret_cast<const int16_t *>(stage)[i] !=
					       ainftp_synth_q(seq, i);
				else
					bad += __float_as_uint(
						       reinterpret_cast<const float *>(stage)[i]) !=
					       __float_as_uint(ainftp_synth_f(seq, i));
			}
			if (bad)
				atomicAdd(&s_bad, bad);
		}
	}
	__syncthreads();
	if (threadIdx.x == 0) {
		gpu_rec r;

		r.seq = s_seq - 1;
		// The poller's sighting when it is this result's; else (a newer one came first)
		// this block's, later than the mark was there.
		r.t_seen = s_hseq == s_seq ? s_ht : s_t0;
		r.t_done = globaltimer();
		p.log[s_idx] = r;
		*(volatile unsigned int *)p.progress = s_idx + 1;
		if (p.synthetic) {
			uint64_t bitmap;
			uint16_t count;
			int8_t exp;
			unsigned int word_lo = (unsigned int)s_word;

			ainftp_synth_mark(r.seq, p.synth_workers, &bitmap, &count, &exp);
			if (bitmap != s_bitmap || count != (word_lo & 0xffff) ||
			    (word_lo >> 24) != 0 ||
			    (signed char)((word_lo >> 16) & 0xff) !=
				    (p.encoding == AINFTP_SINK_ENC_INT16 ? exp : 0))
				atomicAdd(&p.stats[STAT_BAD_MARK], 1ull);
			if (s_bad)
				atomicAdd(&p.stats[STAT_BAD_PAYLOAD], 1ull);
		}
	}
	__syncthreads();
}

__device__ void
work_loop(const kparams &p, unsigned char *stage)
{
	__shared__ int s_k; // the slot to take; -1 none; -2 quit
	const unsigned int w = blockIdx.x - 1, W = p.workers, lane = threadIdx.x & 31;
	const unsigned int mine = w < p.n_slots ? (p.n_slots - w + W - 1) / W : 0;
	unsigned int rot = 0; // where warp 0 starts looking: after the last slot taken

	for (;;) {
		if (threadIdx.x < 32) {
			int pick = -1;

			for (unsigned int base = 0; base < mine && pick < 0; base += 32) {
				unsigned int i = (rot + base + lane) % (mine ? mine : 1),
					     k = w + i * W;
				bool has = base + lane < mine &&
					   ld_acquire_dev(&p.hint_seq[k]) > p.last[k];
				unsigned int b = __ballot_sync(FULL_MASK, has);

				if (b != 0)
					pick = (int)__shfl_sync(FULL_MASK, i, __ffs(b) - 1);
			}
			if (lane == 0) {
				if (pick >= 0) {
					s_k = (int)(w + (unsigned int)pick * W);
					rot = (unsigned int)pick + 1;
				} else {
					s_k = *(volatile unsigned int *)p.quit ? -2 : -1;
				}
			}
		}
		__syncthreads();
		int k = s_k;
		__syncthreads(); // everyone has s_k before warp 0 writes the next
		if (k == -2)
			return;
		if (k >= 0)
			work_slot(p, (unsigned int)k, stage);
	}
}

__global__ void
__launch_bounds__(THREADS) consume(kparams p)
{
	extern __shared__ __align__(16) unsigned char stage[];

	if (blockIdx.x == 0) {
		if (threadIdx.x < 32)
			poll_loop(p);
		return;
	}
	work_loop(p, stage);
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
		"usage: %s ARENA --chunks N [--job INDEX] [--cps C] [--sgd|--momentum]\n"
		"       [--lr F] [--mu F] [--idle-ms MS] [--wait-ms MS] [--spin-us US] [--out "
		"FILE]\n"
		"       [--device D] [--synthetic [--workers W]] [--running-file PATH]\n",
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

template <typename T>
static T *
dalloc(size_t n)
{
	T *p;

	CK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)));
	CK(cudaMemset(p, 0, std::max<size_t>(n, 1) * sizeof(T)));
	return p;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *out = NULL, *running_file = NULL;
	unsigned int job_idx = 0, chunks = 0, cps = 0, rule = AINFTP_GPU_SGD, idle_ms = 2000,
		     wait_ms = 30000, spin_us = 10000, synthetic = 0, synth_workers = 8;
	int device = 0, ndev = 0;
	float lr = 0.01f, mu = 0.9f;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--sgd"))
			rule = AINFTP_GPU_SGD;
		else if (!strcmp(a, "--momentum"))
			rule = AINFTP_GPU_MOMENTUM;
		else if (!strcmp(a, "--synthetic"))
			synthetic = 1;
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
		else if (!strcmp(a, "--spin-us"))
			spin_us = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--workers"))
			synth_workers = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--out"))
			out = argv[++i];
		else if (!strcmp(a, "--running-file"))
			running_file = argv[++i];
		else if (!strcmp(a, "--device"))
			device = atoi(argv[++i]);
		else if (a[0] == '-' || path != NULL)
			usage(argv[0]);
		else
			path = a;
	}
	if (path == NULL || chunks == 0 || synth_workers == 0 || synth_workers > 64)
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
			arena = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				     fd, 0);
			if (arena != MAP_FAILED) {
				h = (const struct ainftp_sink_hdr *)arena;
				if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) ==
					    AINFTP_SINK_MAGIC &&
				    h->version == AINFTP_SINK_VERSION &&
				    h->size <= (uint64_t)st.st_size && job_idx < h->n_jobs &&
				    h->n_rx >= 1 && h->n_rx <= NG)
					break;
				munmap(arena, (size_t)st.st_size);
				arena = MAP_FAILED;
			}
		}
		if (fd >= 0)
			close(fd);
		fd = -1;
		if (now_ns() - t_wait > (uint64_t)wait_ms * 1000000) {
			fprintf(stderr,
				"ainftp-gpu-consumer: %s: no arena with job index %u after %u ms\n",
				path, job_idx, wait_ms);
			return 2;
		}
		usleep(1000);
	}
	close(fd);
	const struct ainftp_sink_job sj = h->jobs[job_idx];
	size_t stage_len = (sj.payload_len + 15) / 16 * 16;
	if (sj.offset + (uint64_t)sj.stride * sj.n_slots > h->size || sj.n_slots == 0 ||
	    sj.payload_len % 4 != 0 || stage_len > 48 * 1024 - fattr.sharedSizeBytes ||
	    sj.payload_len < sj.elems * (sj.encoding == AINFTP_SINK_ENC_INT16 ? 2u : 4u)) {
		fprintf(stderr, "ainftp-gpu-consumer: job %u: unsupported geometry\n", sj.id);
		return 2;
	}

	// Which slots each doorbell names (the owners the appliance published).
	ainftp_sweep_plan plan;
	std::vector<unsigned int> slots(sj.n_slots), pos(sj.n_slots);
	ainftp_sweep_plan_init(&plan, arena, job_idx, slots.data(), pos.data());

	// The host watcher first (not in --synthetic: the results are known), then the
	// registration and the kernel.
	struct watcher w;
	memset(&w, 0, sizeof(w));
	if (!synthetic) {
		if (ainftp_gpu_log_init(&w.log, &sj, chunks + sj.n_slots) != 0)
			return 2;
		w.arena = arena;
		w.t_last = now_ns();
		if (pthread_create(&w.th, NULL, watch, &w) != 0) {
			fprintf(stderr, "ainftp-gpu-consumer: cannot start the watcher thread\n");
			return 2;
		}
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
	kp.synthetic = synthetic;
	kp.synth_workers = synth_workers;
	kp.spin_ns = (unsigned long long)spin_us * 1000;
	kp.params = dalloc<float>(np);
	kp.vel = dalloc<float>(np);
	CK(cudaMemcpy(kp.params, hp.data(), np * sizeof(float), cudaMemcpyHostToDevice));
	kp.log = dalloc<gpu_rec>(chunks);
	kp.consumed = dalloc<unsigned int>(1);
	kp.bad = dalloc<unsigned int>(1);
	kp.quit = dalloc<unsigned int>(1);
	kp.stats = dalloc<unsigned long long>(STAT_N);
	kp.seen = dalloc<unsigned long long>(sj.n_slots);
	kp.hint_seq = dalloc<unsigned long long>(sj.n_slots);
	kp.hint_t = dalloc<unsigned long long>(sj.n_slots);
	kp.last = dalloc<unsigned long long>(sj.n_slots);
	ainftp_sweep_plan *dplan = dalloc<ainftp_sweep_plan>(1);
	unsigned int *dslots = dalloc<unsigned int>(sj.n_slots),
		     *dpos = dalloc<unsigned int>(sj.n_slots);
	CK(cudaMemcpy(dplan, &plan, sizeof(plan), cudaMemcpyHostToDevice));
	CK(cudaMemcpy(dslots, slots.data(), sj.n_slots * sizeof(unsigned int),
		      cudaMemcpyHostToDevice));
	CK(cudaMemcpy(dpos, pos.data(), sj.n_slots * sizeof(unsigned int), cudaMemcpyHostToDevice));
	kp.plan = dplan;
	kp.slots = dslots;
	kp.pos = dpos;
	unsigned int *hstop, *hprog, *hstarted;
	CK(cudaHostAlloc((void **)&hstop, sizeof(unsigned int), cudaHostAllocMapped));
	CK(cudaHostAlloc((void **)&hprog, sizeof(unsigned int), cudaHostAllocMapped));
	CK(cudaHostAlloc((void **)&hstarted, sizeof(unsigned int), cudaHostAllocMapped));
	*hstop = 0;
	*hprog = 0;
	*hstarted = 0;
	CK(cudaHostGetDevicePointer((void **)&kp.stop, hstop, 0));
	CK(cudaHostGetDevicePointer((void **)&kp.progress, hprog, 0));
	CK(cudaHostGetDevicePointer((void **)&kp.started, hstarted, 0));

	// Every block resident at once (a persistent kernel): the poller's, and a worker per
	// slot up to the SMs left.
	unsigned int workers = std::max(
		1u, std::min<unsigned int>(sj.n_slots, (unsigned)prop.multiProcessorCount - 1));
	int per_sm = 0;
	CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, consume, THREADS, stage_len));
	if ((long)per_sm * prop.multiProcessorCount < (long)workers + 1) {
		fprintf(stderr,
			"ainftp-gpu-consumer: %u blocks cannot all be resident (%d per SM)\n",
			workers + 1, per_sm);
		return 2;
	}
	kp.workers = workers;
	consume<<<workers + 1, THREADS, stage_len>>>(kp);
	CK(cudaGetLastError());
	ck_exit = 1;
	// Running when the poller says so: a writer may start (--running-file).
	uint64_t t_launch = now_ns();
	while (__atomic_load_n(hstarted, __ATOMIC_ACQUIRE) == 0) {
		if (cudaStreamQuery(0) != cudaErrorNotReady ||
		    now_ns() - t_launch > 10000000000ull) {
			fprintf(stderr, "ainftp-gpu-consumer: the kernel did not start\n");
			CK(cudaDeviceSynchronize());
			return 1;
		}
		usleep(100);
	}
	fprintf(stderr, "ainftp-gpu-consumer: running: %u workers, %u sweep groups (owners %s)\n",
		workers, plan.n_groups, plan.owners_known ? "published" : "unknown");
	if (running_file != NULL) {
		FILE *rf = fopen(running_file, "w");
		if (rf == NULL || fclose(rf) != 0) {
			fprintf(stderr, "ainftp-gpu-consumer: %s: %s\n", running_file,
				strerror(errno));
			*hstop = 1;
			CK(cudaDeviceSynchronize());
			return 2;
		}
	}

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
		uint64_t t_host = synthetic ? 0 : __atomic_load_n(&w.t_last, __ATOMIC_ACQUIRE);
		if (t - t_prog > limit && t - t_host > limit)
			break;
		usleep(200);
	}
	__atomic_store_n(hstop, 1u, __ATOMIC_RELEASE);
	CK(cudaDeviceSynchronize());
	if (!synthetic) {
		usleep(1000);
		w.stop = 1;
		pthread_join(w.th, NULL);
	}

	unsigned int consumed = 0, bad = 0;
	unsigned long long stats[STAT_N];
	CK(cudaMemcpy(&consumed, kp.consumed, sizeof(consumed), cudaMemcpyDeviceToHost));
	CK(cudaMemcpy(&bad, kp.bad, sizeof(bad), cudaMemcpyDeviceToHost));
	CK(cudaMemcpy(stats, kp.stats, sizeof(stats), cudaMemcpyDeviceToHost));
	consumed = std::min(consumed, chunks);
	std::vector<gpu_rec> glog(consumed);
	std::vector<float> gp(np);
	CK(cudaMemcpy(glog.data(), kp.log, consumed * sizeof(gpu_rec), cudaMemcpyDeviceToHost));
	CK(cudaMemcpy(gp.data(), kp.params, np * sizeof(float), cudaMemcpyDeviceToHost));

	// The reference: from the watcher's copies of the results the GPU consumed, or (synthetic)
	// from seq alone, a thread per part of the chunks.
	std::vector<uint64_t> seqs(consumed);
	for (unsigned int i = 0; i < consumed; i++)
		seqs[i] = glog[i].seq;
	long missing = 0;
	if (synthetic) {
		std::sort(seqs.begin(), seqs.end());
		unsigned int nt = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
		std::vector<std::thread> th;
		std::vector<long> rcs(nt, 0);
		for (unsigned int t = 0; t < nt; t++)
			th.emplace_back([&, t] {
				rcs[t] = ainftp_gpu_synth_apply(hp.data(), hv.data(), cps, &sj,
								synth_workers, seqs.data(),
								seqs.size(), rule, lr, mu, t, nt);
			});
		for (auto &x : th)
			x.join();
		for (long r : rcs)
			missing += r != 0;
	} else {
		ainftp_gpu_log_sort(&w.log);
		missing = ainftp_gpu_ref_apply(hp.data(), hv.data(), cps, &w.log, seqs.data(),
					       seqs.size(), rule, lr, mu);
	}
	uint64_t gaps = ainftp_gpu_gaps(seqs.data(), seqs.size(), sj.n_slots, cps);
	size_t twice = 0;
	for (size_t i = 1; i < seqs.size(); i++)
		twice += seqs[i] == seqs[i - 1];
	size_t diff = 0, first_diff = 0;
	for (size_t i = 0; i < np; i++)
		if (memcmp(&hp[i], &gp[i], sizeof(float)) != 0 && diff++ == 0)
			first_diff = i;

	// Throughput (GPU's own clock, first to last mark seen) and latency.
	std::vector<double> lat, lat_done;
	uint64_t tmin = UINT64_MAX, tmax = 0;
	for (unsigned int i = 0; i < consumed; i++) {
		tmin = std::min<uint64_t>(tmin, glog[i].t_seen);
		tmax = std::max<uint64_t>(tmax, glog[i].t_seen);
		if (synthetic)
			continue;
		long r = ainftp_gpu_log_find(&w.log, glog[i].seq);
		if (r >= 0) {
			double t_host = (double)w.log.rec[r].t_ns;

			lat.push_back(((double)((int64_t)glog[i].t_seen - offset) - t_host) /
				      1000.0);
			lat_done.push_back(((double)((int64_t)glog[i].t_done - offset) - t_host) /
					   1000.0);
		}
	}
	std::sort(lat.begin(), lat.end());
	std::sort(lat_done.begin(), lat_done.end());
	double secs = tmax > tmin ? (tmax - tmin) / 1e9 : 0;
	double rps = secs > 0 ? (consumed - 1) / secs : 0.0;
	printf("gpu-consumer: job=%u slots=%u elems=%u encoding=%s rule=%s lr=%g mu=%g device=%s "
	       "source=%s\n",
	       sj.id, sj.n_slots, sj.elems,
	       sj.encoding == AINFTP_SINK_ENC_INT16 ? "int16" : "float32",
	       rule == AINFTP_GPU_MOMENTUM ? "momentum" : "sgd", lr, mu, prop.name,
	       synthetic ? "synthetic" : "appliance");
	printf("gpu-consumer: consumed=%u want=%u host_seen=%u gaps=%" PRIu64 " torn_host=%" PRIu64
	       " bad_chunks=%u missing_in_host_log=%ld twice=%zu\n",
	       consumed, chunks, synthetic ? 0 : w.log.n, gaps, synthetic ? 0 : w.log.torn, bad,
	       missing, twice);
	printf("gpu-consumer: sweep: workers=%u groups=%u owners=%s iterations=%llu "
	       "mark_reads_per_result=%.2f resyncs=%llu naps=%llu torn=%llu stale=%llu\n",
	       workers, plan.n_groups, plan.owners_known ? "published" : "unknown",
	       stats[STAT_ITERS], consumed ? (double)stats[STAT_MARK_READS] / consumed : 0.0,
	       stats[STAT_RESYNCS], stats[STAT_NAPS], stats[STAT_TORN], stats[STAT_STALE]);
	if (synthetic)
		printf("gpu-consumer: synthetic: bad_marks=%llu bad_payloads=%llu\n",
		       stats[STAT_BAD_MARK], stats[STAT_BAD_PAYLOAD]);
	printf("gpu-consumer: results_per_s=%.0f GB_per_s=%.3f (gpu clock, %u results of %u B in "
	       "%.6f s)\n",
	       rps, rps * sj.payload_len / 1e9, consumed, sj.payload_len, secs);
	if (!synthetic) {
		printf("gpu-consumer: latency_us (host watcher saw mark -> gpu saw mark; clock "
		       "offset "
		       "+-%.2f us) p50=%.2f p99=%.2f min=%.2f max=%.2f n=%zu\n",
		       cal_err / 1000.0, pct(lat, 0.5), pct(lat, 0.99),
		       lat.empty() ? 0 : lat.front(), lat.empty() ? 0 : lat.back(), lat.size());
		printf("gpu-consumer: applied_us (host watcher saw mark -> gpu applied it) "
		       "p50=%.2f "
		       "p99=%.2f max=%.2f\n",
		       pct(lat_done, 0.5), pct(lat_done, 0.99),
		       lat_done.empty() ? 0 : lat_done.back());
	}
	if (out != NULL) {
		FILE *f = fopen(out, "wb");
		if (f == NULL || fwrite(gp.data(), sizeof(float), np, f) != np || fclose(f) != 0)
			fprintf(stderr, "ainftp-gpu-consumer: %s: %s\n", out, strerror(errno));
	}
	int rc = 0;
	if (missing != 0 || bad != 0 || twice != 0) {
		printf("gpu-consumer: FAIL: reference incomplete (%ld results not in the host log, "
		       "%u bad "
		       "chunks, %zu taken twice)\n",
		       missing, bad, twice);
		rc = 1;
	} else if (synthetic && (stats[STAT_BAD_MARK] != 0 || stats[STAT_BAD_PAYLOAD] != 0)) {
		printf("gpu-consumer: FAIL: %llu marks and %llu payloads differ from what was "
		       "written\n",
		       stats[STAT_BAD_MARK], stats[STAT_BAD_PAYLOAD]);
		rc = 1;
	} else if (diff != 0) {
		printf("gpu-consumer: FAIL: %zu of %zu parameters differ from the host reference "
		       "(first: %zu gpu %a host %a)\n",
		       diff, np, first_diff, gp[first_diff], hp[first_diff]);
		rc = 1;
	} else if (consumed < chunks || gaps != 0) {
		printf("gpu-consumer: FAIL: parameters equal the reference, but the GPU consumed "
		       "%u of %u "
		       "results (%" PRIu64 " gaps)\n",
		       consumed, chunks, gaps);
		rc = 1;
	} else {
		printf("gpu-consumer: PASS: %zu parameters equal the host reference bit for bit\n",
		       np);
	}
	cudaHostUnregister(arena);
	munmap(arena, (size_t)st.st_size);
	if (!synthetic)
		ainftp_gpu_log_free(&w.log);
	return rc;
}
