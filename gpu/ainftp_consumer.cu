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

// The poller's shared state from the plan (device memory, read once).
__device__ __forceinline__ void
poll_init(poll_state &ps, const kparams &p, unsigned int lane)
{
	for (unsigned int g = lane; g < NG; g += 32) {
		ps.grp[g] = ainftp_sweep_group{};
		ps.start[g] = p.plan->start[g];
		ps.len[g] = p.plan->len[g];
		ps.bfirst[g] = p.plan->bell_first[g];
		ps.bcount[g] = p.plan->bell_count[g];
	}
}

// 2. Per group, what was rung and the window it calls for. Nonzero when a group's doorbells
//    moved (this lane's groups).
__device__ __forceinline__ unsigned int
poll_windows(poll_state &ps, unsigned int lane, unsigned int G)
{
	unsigned int moved = 0;

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
	return moved;
}

// Where each group's window starts among all the marks to read (a warp scan over groups
// 2 lane and 2 lane + 1). Returns how many marks there are, on every lane.
__device__ __forceinline__ unsigned int
poll_window_starts(poll_state &ps, unsigned int lane, unsigned int G)
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
	return __shfl_sync(FULL_MASK, v, 31);
}

// 3. The T marks the windows name, a lane each, four per lane in flight at once; a new
//    seq_ready goes to its slot's mailbox. Moved here whole: the loads, the timer read under
//    a condition on them and the release stores keep their order. Runs after the doorbells'
//    acquire loads (poll_loop): every result they count is marked, so relaxed loads suffice.
__device__ __forceinline__ void
poll_marks(poll_state &ps, const kparams &p, unsigned int lane, unsigned int G, unsigned int T,
	   unsigned long long &reads)
{
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
}

// 4. Each group's window done: where its next results are expected.
__device__ __forceinline__ void
poll_windows_done(poll_state &ps, const kparams &p, unsigned int lane, unsigned int G)
{
	for (unsigned int g = lane; g < G; g += 32) {
		if (ps.wn[g] == 0)
			continue;
		unsigned int bp =
			ps.found[g] != 0 ? p.pos[(unsigned int)(ps.best[g] - 1) % p.n_slots] : 0;

		ainftp_sweep_done(&ps.grp[g], ps.len[g], ps.wn[g], ps.found[g], ps.best[g], bp);
	}
}

// The poller's counters, once it stops (the warp's mark reads summed).
__device__ __forceinline__ void
poll_stats(const poll_state &ps, const kparams &p, unsigned int lane, unsigned int G,
	   unsigned long long iters, unsigned long long reads, unsigned long long naps)
{
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

// The poller (warp 0 of block 0). The doorbells' acquire loads, the nap and the stop flag
// stay here, in their places in the loop; the steps between them are the helpers above.
__device__ void
poll_loop(const kparams &p)
{
	__shared__ poll_state ps;
	const unsigned int lane = threadIdx.x, G = p.plan->n_groups;
	unsigned long long t_active, t_check, reads = 0, iters = 0, naps = 0;
	unsigned int nap = 0;

	poll_init(ps, p, lane);
	__syncwarp();
	if (lane == 0) {
		*(volatile unsigned int *)p.started = 1;
		__threadfence_system();
	}
	t_active = t_check = globaltimer();
	for (;;) {
		unsigned int T, moved;
		unsigned long long now;

		iters++;
		// 1. The doorbells, one per lane, in one round trip: every result they count is
		//    marked once they are read (acquire).
		for (unsigned int r = lane; r < p.n_rx && r < NG; r += 32)
			ps.bellv[r] = ld_acquire_sys<unsigned int>(
				p.arena + p.bells + (unsigned long long)r * AINFTP_SINK_ALIGN);
		__syncwarp();
		moved = poll_windows(ps, lane, G);
		__syncwarp();
		T = poll_window_starts(ps, lane, G);
		__syncwarp();
		poll_marks(ps, p, lane, G, T, reads);
		__syncwarp();
		poll_windows_done(ps, p, lane, G);
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
	poll_stats(ps, p, lane, G, iters, reads, naps);
}

// Slot k's mailbox, its seq and time as one pair (the poller may be writing the next):
// thread 0, first attempt. Moved here whole, loads and fence in their order.
__device__ __forceinline__ unsigned long long
mailbox_read(const kparams &p, unsigned int k, unsigned long long &t)
{
	unsigned long long hs;

	do {
		hs = ld_acquire_dev(&p.hint_seq[k]);
		t = *(volatile unsigned long long *)&p.hint_t[k];
		cuda::atomic_thread_fence(cuda::memory_order_acquire, cuda::thread_scope_device);
	} while (ld_acquire_dev(&p.hint_seq[k]) != hs);
	return hs;
}

// seq_ready and bitmap (thread 0), and the payload (the block), 16 bytes a load. Between
// gen's acquire load and the fence before gen is read again (work_slot), which stay there.
__device__ __forceinline__ void
entry_copy(const kparams &p, const char *m, unsigned char *stage, unsigned long long &seq,
	   unsigned long long &bitmap)
{
	if (threadIdx.x == 0) {
		uint4 v = ld_volatile_v4(m);

		seq = (unsigned long long)v.y << 32 | v.x;
		bitmap = (unsigned long long)v.w << 32 | v.z;
	}
	{
		const char *src = m + AINFTP_SINK_ALIGN;
		unsigned int n16 = p.payload_len / 16;

		for (unsigned int i = threadIdx.x; i < n16; i += blockDim.x)
			reinterpret_cast<uint4 *>(stage)[i] = ld_volatile_v4(src + 16 * i);
		for (unsigned int i = n16 * 4 + threadIdx.x; i < p.payload_len / 4; i += blockDim.x)
			reinterpret_cast<unsigned int *>(stage)[i] =
				*reinterpret_cast<const volatile unsigned int *>(src + 4 * i);
	}
}

// A whole copy of slot k's result seq (thread 0): taken if newer than the slot's last and of
// a chunk this run has, with its place in the log. state: 0 skip, 2 apply.
__device__ __forceinline__ void
result_claim(const kparams &p, unsigned int k, unsigned long long seq, int &state,
	     unsigned int &idx_out)
{
	if (seq <= p.last[k] || seq == 0) {
		state = 0;
		atomicAdd(&p.stats[STAT_STALE], 1ull);
	} else {
		unsigned int chunk = (unsigned int)(seq - 1);

		p.last[k] = seq;
		state = 0;
		if (chunk >= p.cps) {
			atomicAdd(p.bad, 1u);
		} else {
			unsigned int idx = atomicAdd(p.consumed, 1u);

			if (idx < p.cap) {
				idx_out = idx;
				state = 2;
			}
			if (idx + 1 >= p.cap)
				*(volatile unsigned int *)p.quit = 1;
		}
	}
}

// The copied result (stage, its mark word's low half and seq) into its chunk's parameters;
// --synthetic: its elements against what the writer put, the differing ones into bad.
__device__ __forceinline__ void
result_apply(const kparams &p, const unsigned char *stage, unsigned long long word,
	     unsigned long long seq_ready, unsigned int &bad_out)
{
	unsigned int word_lo = (unsigned int)word;
	unsigned int count = word_lo & 0xffff;
	int exp = (int)(signed char)((word_lo >> 16) & 0xff);
	size_t off = (size_t)(unsigned int)(seq_ready - 1) * p.elems;

	ainftp_gpu_apply(p.params + off, p.vel + off, stage, p.encoding, p.elems, exp, count,
			 p.rule, p.lr, p.mu, threadIdx.x, blockDim.x);
	if (p.synthetic) {
		unsigned long long seq = seq_ready - 1;
		unsigned int bad = 0;

		for (unsigned int i = threadIdx.x; i < p.elems; i += blockDim.x) {
			if (p.encoding == AINFTP_SINK_ENC_INT16)
				bad += reinterpret_cast<const int16_t *>(stage)[i] !=
				       ainftp_synth_q(seq, i);
			else
				bad += __float_as_uint(reinterpret_cast<const float *>(stage)[i]) !=
				       __float_as_uint(ainftp_synth_f(seq, i));
		}
		if (bad)
			atomicAdd(&bad_out, bad);
	}
}

// --synthetic: result seq's mark (bitmap, and the word's count, exp and flags) against
// what the writer put; one that differs is counted.
__device__ __forceinline__ void
synth_mark_check(const kparams &p, unsigned long long seq, unsigned long long word,
		 const unsigned long long &seen_bitmap)
{
	uint64_t bitmap;
	uint16_t count;
	int8_t exp;
	unsigned int word_lo = (unsigned int)word;

	ainftp_synth_mark(seq, p.synth_workers, &bitmap, &count, &exp);
	if (bitmap != seen_bitmap || count != (word_lo & 0xffff) || (word_lo >> 24) != 0 ||
	    (signed char)((word_lo >> 16) & 0xff) !=
		    (p.encoding == AINFTP_SINK_ENC_INT16 ? exp : 0))
		atomicAdd(&p.stats[STAT_BAD_MARK], 1ull);
}

// One result of slot k into the parameters, with the seqcount read (docs/SINK.md, "Protocol").
// gen's acquire load, the fence and gen's second load stay here, in their order; the pieces
// between them are the helpers above.
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

			if (attempt == 0)
				s_hseq = mailbox_read(p, k, s_ht);
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
		entry_copy(p, m, stage, s_seq, s_bitmap);
		__syncthreads();
		if (threadIdx.x == 0) {
			// The copies are done before gen is read again.
			cuda::atomic_thread_fence(cuda::memory_order_acquire,
						  cuda::thread_scope_system);
			unsigned long long w2 = ld_relaxed_sys<unsigned long long>(m + 16);

			if ((w2 >> 32) != (s_word >> 32)) {
				s_state = 3; // a newer result came in while read: read again
				atomicAdd(&p.stats[STAT_TORN], 1ull);
			} else {
				result_claim(p, k, s_seq, s_state, s_idx);
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
	result_apply(p, stage, s_word, s_seq, s_bad);
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
			synth_mark_check(p, r.seq, s_word, s_bitmap);
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

#define PROG "ainftp-gpu-consumer"

// The usage, then exit: 0 after --help on stdout, 2 after a bad command line.
static void
usage(FILE *f, int status)
{
	fprintf(f, "usage: " PROG " ARENA --chunks N [--job INDEX] [--cps C] [--sgd|--momentum]\n"
		   "       [--lr F] [--mu F] [--idle-ms MS] [--wait-ms MS] [--spin-us US] [--out "
		   "FILE]\n"
		   "       [--device D] [--synthetic [--workers W]] [--running-file PATH]\n"
		   "Applies each result of a live arena to parameters on the GPU (SGD or\n"
		   "momentum) and checks them against the host's reference (docs/SINK.md).\n"
		   "  -h, --help   this text\n"
		   "  --version    the tool's name and version\n");
	exit(status);
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

// The command line (usage()).
struct opts {
	const char *path = NULL, *out = NULL, *running_file = NULL;
	unsigned int job_idx = 0, chunks = 0, cps = 0, rule = AINFTP_GPU_SGD, idle_ms = 2000,
		     wait_ms = 30000, spin_us = 10000, synthetic = 0, synth_workers = 8;
	int device = 0;
	float lr = 0.01f, mu = 0.9f;
};

// The host's side of a run, from the set-up to the report.
struct consumer {
	opts o;
	double cal_err; // the clock offset's error, ns
	int64_t offset; // GPU globaltimer minus host CLOCK_MONOTONIC
	cudaFuncAttributes fattr;
	cudaDeviceProp prop;
	void *arena;
	size_t arena_size;
	const struct ainftp_sink_hdr *h;
	struct ainftp_sink_job sj; // a copy: the header is the appliance's to change
	size_t stage_len;	   // a worker block's shared memory for one payload
	ainftp_sweep_plan plan;
	std::vector<unsigned int> slots, pos;
	struct watcher w;
	size_t np;		   // parameters: cps * elems
	std::vector<float> hp, hv; // host: the initial parameters, then the reference's
	kparams kp;
	unsigned int *hstop, *hprog, *hstarted; // host-mapped flags (kparams)
	unsigned int workers;
};

// What the GPU did, and the host's check of it.
struct outcome {
	unsigned int consumed, bad;
	unsigned long long stats[STAT_N];
	std::vector<gpu_rec> glog;
	std::vector<float> gp;	    // the GPU's parameters
	std::vector<uint64_t> seqs; // the results consumed
	long missing;		    // consumed, but not in the host's log
	uint64_t gaps;
	size_t twice, diff, first_diff;
	std::vector<double> lat, lat_done; // us, sorted
	double secs, rps;
};

static void
parse_args(int argc, char **argv, opts &o)
{
	// --help and --version first, as the other tools (tools/ainftp_opt.h): never a value.
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			usage(stdout, 0);
		if (!strcmp(argv[i], "--version")) {
			printf(PROG " %s\n", AINFTP_VERSION);
			exit(0);
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--sgd"))
			o.rule = AINFTP_GPU_SGD;
		else if (!strcmp(a, "--momentum"))
			o.rule = AINFTP_GPU_MOMENTUM;
		else if (!strcmp(a, "--synthetic"))
			o.synthetic = 1;
		else if (a[0] == '-' && a[1] == '-' && v == NULL)
			usage(stderr, 2);
		else if (!strcmp(a, "--job"))
			o.job_idx = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--chunks"))
			o.chunks = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--cps"))
			o.cps = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(a, "--lr"))
			o.lr = strtof(argv[++i], NULL);
		else if (!strcmp(a, "--mu"))
			o.mu = strtof(argv[++i], NULL);
		else if (!strcmp(a, "--idle-ms"))
			o.idle_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--wait-ms"))
			o.wait_ms = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--spin-us"))
			o.spin_us = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--workers"))
			o.synth_workers = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "--out"))
			o.out = argv[++i];
		else if (!strcmp(a, "--running-file"))
			o.running_file = argv[++i];
		else if (!strcmp(a, "--device"))
			o.device = atoi(argv[++i]);
		else if (a[0] == '-' || o.path != NULL)
			usage(stderr, 2);
		else
			o.path = a;
	}
	if (o.path == NULL || o.chunks == 0 || o.synth_workers == 0 || o.synth_workers > 64)
		usage(stderr, 2);
	if (o.cps == 0)
		o.cps = o.chunks;
}

// The GPU first (context creation takes long): ready before the arena fills. 0, or 2.
static int
gpu_setup(consumer &c)
{
	int ndev = 0;
	cudaError_t ce = cudaGetDeviceCount(&ndev);

	if (ce != cudaSuccess || ndev == 0) {
		fprintf(stderr, "ainftp-gpu-consumer: no NVIDIA GPU/driver: %s\n",
			ce != cudaSuccess ? cudaGetErrorString(ce) : "no device");
		return 2;
	}
	CK(cudaSetDevice(c.o.device));
	CK(cudaSetDeviceFlags(cudaDeviceMapHost));
	CK(cudaFree(0));
	c.offset = clock_offset(&c.cal_err);
	// Everything slow before the arena exists: the module loaded, the device's figures.
	CK(cudaFuncGetAttributes(&c.fattr, consume));
	CK(cudaGetDeviceProperties(&c.prop, c.o.device));
	fprintf(stderr, "ainftp-gpu-consumer: ready on %s, waiting for %s\n", c.prop.name,
		c.o.path);
	return 0;
}

// The arena: wait for the appliance to make it (its magic written last). 0, or 2.
static int
arena_wait(consumer &c)
{
	const char *path = c.o.path;
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
				    h->size <= (uint64_t)st.st_size && c.o.job_idx < h->n_jobs &&
				    h->n_rx >= 1 && h->n_rx <= NG)
					break;
				munmap(arena, (size_t)st.st_size);
				arena = MAP_FAILED;
			}
		}
		if (fd >= 0)
			close(fd);
		fd = -1;
		if (now_ns() - t_wait > (uint64_t)c.o.wait_ms * 1000000) {
			fprintf(stderr,
				"ainftp-gpu-consumer: %s: no arena with job index %u after %u ms\n",
				path, c.o.job_idx, c.o.wait_ms);
			return 2;
		}
		usleep(1000);
	}
	close(fd);
	c.arena = arena;
	c.arena_size = (size_t)st.st_size;
	c.h = h;
	return 0;
}

// The job's geometry, checked against what the kernel takes, and which slots each doorbell
// names (the owners the appliance published). 0, or 2.
static int
job_open(consumer &c)
{
	const struct ainftp_sink_job &sj = c.sj = c.h->jobs[c.o.job_idx];

	c.stage_len = (sj.payload_len + 15) / 16 * 16;
	if (sj.offset + (uint64_t)sj.stride * sj.n_slots > c.h->size || sj.n_slots == 0 ||
	    sj.payload_len % 4 != 0 || c.stage_len > 48 * 1024 - c.fattr.sharedSizeBytes ||
	    sj.payload_len < sj.elems * (sj.encoding == AINFTP_SINK_ENC_INT16 ? 2u : 4u)) {
		fprintf(stderr, "ainftp-gpu-consumer: job %u: unsupported geometry\n", sj.id);
		return 2;
	}
	c.slots.resize(sj.n_slots);
	c.pos.resize(sj.n_slots);
	ainftp_sweep_plan_init(&c.plan, c.arena, c.o.job_idx, c.slots.data(), c.pos.data());
	return 0;
}

// The host watcher, before the registration and the kernel (not in --synthetic: the
// results are known). 0, or 2.
static int
watcher_start(consumer &c)
{
	memset(&c.w, 0, sizeof(c.w));
	if (c.o.synthetic)
		return 0;
	if (ainftp_gpu_log_init(&c.w.log, &c.sj, c.o.chunks + c.sj.n_slots) != 0)
		return 2;
	c.w.arena = c.arena;
	c.w.t_last = now_ns();
	if (pthread_create(&c.w.th, NULL, watch, &c.w) != 0) {
		fprintf(stderr, "ainftp-gpu-consumer: cannot start the watcher thread\n");
		return 2;
	}
	return 0;
}

// The kernel's parameters: the arena registered (the GPU reads it in place), the job's
// figures and the options; the chunks' parameters from ainftp_gpu_param_init.
static void
kparams_fill(consumer &c)
{
	kparams &kp = c.kp;
	char *darena;

	CK(cudaHostRegister(c.arena, c.arena_size,
			    cudaHostRegisterMapped | cudaHostRegisterPortable));
	CK(cudaHostGetDevicePointer((void **)&darena, c.arena, 0));
	c.np = (size_t)c.o.cps * c.sj.elems;
	c.hp.resize(c.np);
	c.hv.assign(c.np, 0.0f);
	for (size_t i = 0; i < c.np; i++)
		c.hp[i] = ainftp_gpu_param_init(i);
	memset(&kp, 0, sizeof(kp));
	kp.arena = darena;
	kp.offset = c.sj.offset;
	kp.bells = c.h->doorbells + (unsigned long long)c.o.job_idx * c.h->n_rx * AINFTP_SINK_ALIGN;
	kp.n_rx = c.h->n_rx;
	kp.n_slots = c.sj.n_slots;
	kp.stride = c.sj.stride;
	kp.elems = c.sj.elems;
	kp.encoding = c.sj.encoding;
	kp.payload_len = c.sj.payload_len;
	kp.cps = c.o.cps;
	kp.rule = c.o.rule;
	kp.lr = c.o.lr;
	kp.mu = c.o.mu;
	kp.cap = c.o.chunks;
	kp.synthetic = c.o.synthetic;
	kp.synth_workers = c.o.synth_workers;
	kp.spin_ns = (unsigned long long)c.o.spin_us * 1000;
}

// The kernel's memory: parameters, log, counters, mailboxes and the plan on the device; the
// stop, progress and started flags in host memory it maps.
static void
kparams_alloc(consumer &c)
{
	kparams &kp = c.kp;
	const unsigned int n_slots = c.sj.n_slots;

	kp.params = dalloc<float>(c.np);
	kp.vel = dalloc<float>(c.np);
	CK(cudaMemcpy(kp.params, c.hp.data(), c.np * sizeof(float), cudaMemcpyHostToDevice));
	kp.log = dalloc<gpu_rec>(c.o.chunks);
	kp.consumed = dalloc<unsigned int>(1);
	kp.bad = dalloc<unsigned int>(1);
	kp.quit = dalloc<unsigned int>(1);
	kp.stats = dalloc<unsigned long long>(STAT_N);
	kp.seen = dalloc<unsigned long long>(n_slots);
	kp.hint_seq = dalloc<unsigned long long>(n_slots);
	kp.hint_t = dalloc<unsigned long long>(n_slots);
	kp.last = dalloc<unsigned long long>(n_slots);
	ainftp_sweep_plan *dplan = dalloc<ainftp_sweep_plan>(1);
	unsigned int *dslots = dalloc<unsigned int>(n_slots), *dpos = dalloc<unsigned int>(n_slots);
	CK(cudaMemcpy(dplan, &c.plan, sizeof(c.plan), cudaMemcpyHostToDevice));
	CK(cudaMemcpy(dslots, c.slots.data(), n_slots * sizeof(unsigned int),
		      cudaMemcpyHostToDevice));
	CK(cudaMemcpy(dpos, c.pos.data(), n_slots * sizeof(unsigned int), cudaMemcpyHostToDevice));
	kp.plan = dplan;
	kp.slots = dslots;
	kp.pos = dpos;
	CK(cudaHostAlloc((void **)&c.hstop, sizeof(unsigned int), cudaHostAllocMapped));
	CK(cudaHostAlloc((void **)&c.hprog, sizeof(unsigned int), cudaHostAllocMapped));
	CK(cudaHostAlloc((void **)&c.hstarted, sizeof(unsigned int), cudaHostAllocMapped));
	*c.hstop = 0;
	*c.hprog = 0;
	*c.hstarted = 0;
	CK(cudaHostGetDevicePointer((void **)&kp.stop, c.hstop, 0));
	CK(cudaHostGetDevicePointer((void **)&kp.progress, c.hprog, 0));
	CK(cudaHostGetDevicePointer((void **)&kp.started, c.hstarted, 0));
}

// Launches the kernel and waits for the poller to run; then a writer may start
// (--running-file). 0, or the exit code.
static int
launch(consumer &c)
{
	// Every block resident at once (a persistent kernel): the poller's, and a worker per
	// slot up to the SMs left.
	c.workers = std::max(
		1u, std::min<unsigned int>(c.sj.n_slots, (unsigned)c.prop.multiProcessorCount - 1));
	int per_sm = 0;
	CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, consume, THREADS, c.stage_len));
	if ((long)per_sm * c.prop.multiProcessorCount < (long)c.workers + 1) {
		fprintf(stderr,
			"ainftp-gpu-consumer: %u blocks cannot all be resident (%d per SM)\n",
			c.workers + 1, per_sm);
		return 2;
	}
	c.kp.workers = c.workers;
	consume<<<c.workers + 1, THREADS, c.stage_len>>>(c.kp);
	CK(cudaGetLastError());
	ck_exit = 1;
	// Running when the poller says so: a writer may start (--running-file).
	uint64_t t_launch = now_ns();
	while (__atomic_load_n(c.hstarted, __ATOMIC_ACQUIRE) == 0) {
		if (cudaStreamQuery(0) != cudaErrorNotReady ||
		    now_ns() - t_launch > 10000000000ull) {
			fprintf(stderr, "ainftp-gpu-consumer: the kernel did not start\n");
			CK(cudaDeviceSynchronize());
			return 1;
		}
		usleep(100);
	}
	fprintf(stderr, "ainftp-gpu-consumer: running: %u workers, %u sweep groups (owners %s)\n",
		c.workers, c.plan.n_groups, c.plan.owners_known ? "published" : "unknown");
	if (c.o.running_file != NULL) {
		FILE *rf = fopen(c.o.running_file, "w");
		if (rf == NULL || fclose(rf) != 0) {
			fprintf(stderr, "ainftp-gpu-consumer: %s: %s\n", c.o.running_file,
				strerror(errno));
			*c.hstop = 1;
			CK(cudaDeviceSynchronize());
			return 2;
		}
	}
	return 0;
}

// Until N results, or none new for idle_ms (on the GPU's side or the watcher's); before
// the first result, wait_ms (the appliance may still be starting its workers). Then the
// kernel and the watcher stopped.
static void
run_until_done(consumer &c)
{
	uint64_t t_prog = now_ns(), last_prog = 0;

	for (;;) {
		unsigned int pr = __atomic_load_n(c.hprog, __ATOMIC_ACQUIRE);
		uint64_t t = now_ns();

		if (pr != last_prog) {
			last_prog = pr;
			t_prog = t;
		}
		if (pr >= c.o.chunks || cudaStreamQuery(0) != cudaErrorNotReady)
			break;
		uint64_t limit = (uint64_t)(pr == 0 ? c.o.wait_ms : c.o.idle_ms) * 1000000;
		uint64_t t_host =
			c.o.synthetic ? 0 : __atomic_load_n(&c.w.t_last, __ATOMIC_ACQUIRE);
		if (t - t_prog > limit && t - t_host > limit)
			break;
		usleep(200);
	}
	__atomic_store_n(c.hstop, 1u, __ATOMIC_RELEASE);
	CK(cudaDeviceSynchronize());
	if (!c.o.synthetic) {
		usleep(1000);
		c.w.stop = 1;
		pthread_join(c.w.th, NULL);
	}
}

// The GPU's counters, log and parameters.
static void
collect(const consumer &c, outcome &r)
{
	r.consumed = 0;
	r.bad = 0;
	CK(cudaMemcpy(&r.consumed, c.kp.consumed, sizeof(r.consumed), cudaMemcpyDeviceToHost));
	CK(cudaMemcpy(&r.bad, c.kp.bad, sizeof(r.bad), cudaMemcpyDeviceToHost));
	CK(cudaMemcpy(r.stats, c.kp.stats, sizeof(r.stats), cudaMemcpyDeviceToHost));
	r.consumed = std::min(r.consumed, c.o.chunks);
	r.glog.resize(r.consumed);
	r.gp.resize(c.np);
	CK(cudaMemcpy(r.glog.data(), c.kp.log, r.consumed * sizeof(gpu_rec),
		      cudaMemcpyDeviceToHost));
	CK(cudaMemcpy(r.gp.data(), c.kp.params, c.np * sizeof(float), cudaMemcpyDeviceToHost));
}

// The reference: from the watcher's copies of the results the GPU consumed, or (synthetic)
// from seq alone, a thread per part of the chunks. Then what differs from the GPU's.
static void
reference(consumer &c, outcome &r)
{
	r.seqs.resize(r.consumed);
	for (unsigned int i = 0; i < r.consumed; i++)
		r.seqs[i] = r.glog[i].seq;
	r.missing = 0;
	if (c.o.synthetic) {
		std::sort(r.seqs.begin(), r.seqs.end());
		unsigned int nt = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
		std::vector<std::thread> th;
		std::vector<long> rcs(nt, 0);
		for (unsigned int t = 0; t < nt; t++)
			th.emplace_back([&, t] {
				rcs[t] = ainftp_gpu_synth_apply(c.hp.data(), c.hv.data(), c.o.cps,
								&c.sj, c.o.synth_workers,
								r.seqs.data(), r.seqs.size(),
								c.o.rule, c.o.lr, c.o.mu, t, nt);
			});
		for (auto &x : th)
			x.join();
		for (long rc : rcs)
			r.missing += rc != 0;
	} else {
		ainftp_gpu_log_sort(&c.w.log);
		r.missing = ainftp_gpu_ref_apply(c.hp.data(), c.hv.data(), c.o.cps, &c.w.log,
						 r.seqs.data(), r.seqs.size(), c.o.rule, c.o.lr,
						 c.o.mu);
	}
	r.gaps = ainftp_gpu_gaps(r.seqs.data(), r.seqs.size(), c.sj.n_slots, c.o.cps);
	r.twice = 0;
	for (size_t i = 1; i < r.seqs.size(); i++)
		r.twice += r.seqs[i] == r.seqs[i - 1];
	r.diff = 0;
	r.first_diff = 0;
	for (size_t i = 0; i < c.np; i++)
		if (memcmp(&c.hp[i], &r.gp[i], sizeof(float)) != 0 && r.diff++ == 0)
			r.first_diff = i;
}

// Throughput (GPU's own clock, first to last mark seen) and latency.
static void
timing(const consumer &c, outcome &r)
{
	uint64_t tmin = UINT64_MAX, tmax = 0;

	for (unsigned int i = 0; i < r.consumed; i++) {
		tmin = std::min<uint64_t>(tmin, r.glog[i].t_seen);
		tmax = std::max<uint64_t>(tmax, r.glog[i].t_seen);
		if (c.o.synthetic)
			continue;
		long k = ainftp_gpu_log_find(&c.w.log, r.glog[i].seq);
		if (k >= 0) {
			double t_host = (double)c.w.log.rec[k].t_ns;

			r.lat.push_back(((double)((int64_t)r.glog[i].t_seen - c.offset) - t_host) /
					1000.0);
			r.lat_done.push_back(
				((double)((int64_t)r.glog[i].t_done - c.offset) - t_host) / 1000.0);
		}
	}
	std::sort(r.lat.begin(), r.lat.end());
	std::sort(r.lat_done.begin(), r.lat_done.end());
	r.secs = tmax > tmin ? (tmax - tmin) / 1e9 : 0;
	r.rps = r.secs > 0 ? (r.consumed - 1) / r.secs : 0.0;
}

// The report's figures (stdout), and --out.
static void
report(const consumer &c, outcome &r)
{
	const struct ainftp_sink_job &sj = c.sj;
	const bool synthetic = c.o.synthetic;

	printf("gpu-consumer: job=%u slots=%u elems=%u encoding=%s rule=%s lr=%g mu=%g device=%s "
	       "source=%s\n",
	       sj.id, sj.n_slots, sj.elems,
	       sj.encoding == AINFTP_SINK_ENC_INT16 ? "int16" : "float32",
	       c.o.rule == AINFTP_GPU_MOMENTUM ? "momentum" : "sgd", c.o.lr, c.o.mu, c.prop.name,
	       synthetic ? "synthetic" : "appliance");
	printf("gpu-consumer: consumed=%u want=%u host_seen=%u gaps=%" PRIu64 " torn_host=%" PRIu64
	       " bad_chunks=%u missing_in_host_log=%ld twice=%zu\n",
	       r.consumed, c.o.chunks, synthetic ? 0 : c.w.log.n, r.gaps,
	       synthetic ? 0 : c.w.log.torn, r.bad, r.missing, r.twice);
	printf("gpu-consumer: sweep: workers=%u groups=%u owners=%s iterations=%llu "
	       "mark_reads_per_result=%.2f resyncs=%llu naps=%llu torn=%llu stale=%llu\n",
	       c.workers, c.plan.n_groups, c.plan.owners_known ? "published" : "unknown",
	       r.stats[STAT_ITERS],
	       r.consumed ? (double)r.stats[STAT_MARK_READS] / r.consumed : 0.0,
	       r.stats[STAT_RESYNCS], r.stats[STAT_NAPS], r.stats[STAT_TORN], r.stats[STAT_STALE]);
	if (synthetic)
		printf("gpu-consumer: synthetic: bad_marks=%llu bad_payloads=%llu\n",
		       r.stats[STAT_BAD_MARK], r.stats[STAT_BAD_PAYLOAD]);
	printf("gpu-consumer: results_per_s=%.0f GB_per_s=%.3f (gpu clock, %u results of %u B in "
	       "%.6f s)\n",
	       r.rps, r.rps * sj.payload_len / 1e9, r.consumed, sj.payload_len, r.secs);
	if (!synthetic) {
		printf("gpu-consumer: latency_us (host watcher saw mark -> gpu saw mark; clock "
		       "offset "
		       "+-%.2f us) p50=%.2f p99=%.2f min=%.2f max=%.2f n=%zu\n",
		       c.cal_err / 1000.0, pct(r.lat, 0.5), pct(r.lat, 0.99),
		       r.lat.empty() ? 0 : r.lat.front(), r.lat.empty() ? 0 : r.lat.back(),
		       r.lat.size());
		printf("gpu-consumer: applied_us (host watcher saw mark -> gpu applied it) "
		       "p50=%.2f "
		       "p99=%.2f max=%.2f\n",
		       pct(r.lat_done, 0.5), pct(r.lat_done, 0.99),
		       r.lat_done.empty() ? 0 : r.lat_done.back());
	}
	if (c.o.out != NULL) {
		FILE *f = fopen(c.o.out, "wb");
		if (f == NULL || fwrite(r.gp.data(), sizeof(float), c.np, f) != c.np ||
		    fclose(f) != 0)
			fprintf(stderr, "ainftp-gpu-consumer: %s: %s\n", c.o.out, strerror(errno));
	}
}

// PASS or the first reason to fail, on stdout: 0, or 1.
static int
verdict(const consumer &c, const outcome &r)
{
	if (r.missing != 0 || r.bad != 0 || r.twice != 0) {
		printf("gpu-consumer: FAIL: reference incomplete (%ld results not in the host log, "
		       "%u bad "
		       "chunks, %zu taken twice)\n",
		       r.missing, r.bad, r.twice);
		return 1;
	}
	if (c.o.synthetic && (r.stats[STAT_BAD_MARK] != 0 || r.stats[STAT_BAD_PAYLOAD] != 0)) {
		printf("gpu-consumer: FAIL: %llu marks and %llu payloads differ from what was "
		       "written\n",
		       r.stats[STAT_BAD_MARK], r.stats[STAT_BAD_PAYLOAD]);
		return 1;
	}
	if (r.diff != 0) {
		printf("gpu-consumer: FAIL: %zu of %zu parameters differ from the host reference "
		       "(first: %zu gpu %a host %a)\n",
		       r.diff, c.np, r.first_diff, r.gp[r.first_diff], c.hp[r.first_diff]);
		return 1;
	}
	if (r.consumed < c.o.chunks || r.gaps != 0) {
		printf("gpu-consumer: FAIL: parameters equal the reference, but the GPU consumed "
		       "%u of %u "
		       "results (%" PRIu64 " gaps)\n",
		       r.consumed, c.o.chunks, r.gaps);
		return 1;
	}
	printf("gpu-consumer: PASS: %zu parameters equal the host reference bit for bit\n", c.np);
	return 0;
}

// Set-up (exit 2 on a failure), the run (1 once the kernel is launched), the check.
int
main(int argc, char **argv)
{
	consumer c{};
	outcome r{};
	int rc;

	parse_args(argc, argv, c.o);
	if ((rc = gpu_setup(c)) != 0 || (rc = arena_wait(c)) != 0 || (rc = job_open(c)) != 0 ||
	    (rc = watcher_start(c)) != 0)
		return rc;
	kparams_fill(c);
	kparams_alloc(c);
	if ((rc = launch(c)) != 0)
		return rc;
	run_until_done(c);
	collect(c, r);
	reference(c, r);
	timing(c, r);
	report(c, r);
	rc = verdict(c, r);
	cudaHostUnregister(c.arena);
	munmap(c.arena, c.arena_size);
	if (!c.o.synthetic)
		ainftp_gpu_log_free(&c.w.log);
	return rc;
}
