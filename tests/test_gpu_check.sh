#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/gpu-check.sh --prebuilt all the way through, without a GPU: a packed
# build whose ainftp-gpu-consumer is tests/gpu_consumer_stub.sh (the work done on
# the CPU, latency figures given), and nvidia-smi and ldconfig stand-ins that say
# there is a GPU. What is tested is the script: the appliance runs (its sink
# asked for, no fallback), the ceiling runs of ainftp-sink-write with the
# running-file handshake, the targets and the one last line.
#  1. AINFTP_SINKS="cuda gpudev" here: cuda falls back to host (no libcuda), gpudev
#     has no gpu/cuda in this DPDK: exit 1, FAIL, both reasons, the figures;
#  2. AINFTP_SINKS=host: PASS sinks=host with the stub's latency and the paced rate;
#  3. a p99 over the target: FAIL with that reason.
#
#   test_gpu_check.sh SRCDIR BUILDDIR
set -euo pipefail

src=$1 build=$2
[ -x "$build/gpu/ainftp-gpu-consumer" ] || { echo "skip: no ainftp-gpu-consumer (nvcc)"; exit 77; }
# EAL loads no PMD from under a world-writable directory: a build under /tmp packs in $HOME.
pack=$build/gpu-check-stub-pack
d=$(readlink -f "$build")
while [ "$d" != / ]; do
	if [ -n "$(find "$d" -maxdepth 0 -perm -0002)" ]; then
		pack=$(mktemp -d -p "${HOME:-/root}" ainftp-gpu-check-stub-pack.XXXXXX)
		break
	fi
	d=$(dirname "$d")
done
work=$(mktemp -d)
cleanup() {
	rm -rf "$work" "$pack"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

"$src/scripts/gpu-check.sh" --pack "$pack" --from "$build" >"$work/pack.out" 2>&1 ||
	fail "--pack: $(cat "$work/pack.out")"
cat >"$pack/bin/ainftp-gpu-consumer" <<STUB
#!/bin/sh
STUB_BIN=$pack/bin exec "$src/tests/gpu_consumer_stub.sh" "\$@"
STUB
mkdir -p "$work/bin"
cat >"$work/bin/nvidia-smi" <<'SMI'
#!/bin/sh
case "$*" in
-L) echo "GPU 0: Stub GPU (UUID: GPU-00000000-stub)" ;;
--query-gpu=pci.bus_id*) echo "00000000:01:00.0" ;;
--query-gpu=*) echo "Stub GPU, 00000000:01:00.0, 0x233510DE" ;;
*) echo "| NVIDIA-SMI 580.00    Driver Version: 580.00    CUDA Version: 13.0 |" ;;
esac
SMI
cat >"$work/bin/ldconfig" <<'LDC'
#!/bin/sh
echo "	libcuda.so.1 (libc6,x86-64) => /stub/libcuda.so.1"
LDC
chmod +x "$pack/bin/ainftp-gpu-consumer" "$work/bin/nvidia-smi" "$work/bin/ldconfig"

check() { # LABEL ENV...: runs gpu-check.sh --prebuilt with ENV, its exit in $rc
	local label=$1
	shift
	rc=0
	# A paced ceiling the stub (ainftp-sink-follow) keeps up with on a busy 2-core box, under
	# ASan too: 256 slots at 2,000/s come round every 128 ms. The real targets are the GPU's.
	env PATH="$work/bin:/usr/bin:/bin" AINFTP_ENC=int16 AINFTP_RULE=sgd AINFTP_CEIL_CHUNKS=4000 \
		AINFTP_MIN_RPS=1000 "$@" "$pack/gpu-check.sh" --prebuilt "$pack" 2000 \
		>"$work/$label.out" 2>&1 || rc=$?
	last=$(tail -n 1 "$work/$label.out")
	echo "$label: exit $rc: $last"
}

# 1. This box's sinks: both fail, each for its reason; the ceiling still measured.
check real AINFTP_SINKS="cuda gpudev" AINFTP_CEIL_RATES="2000 0"
[ "$rc" = 1 ] || { cat "$work/real.out"; fail "real: exit $rc"; }
grep -q '^gpu-check: FAIL sinks=none latency_p50_us=1.50 latency_p99_us=3.00 results_per_s=[0-9]* ' <<<"$last" &&
	grep -qF 'cuda-int16-sgd: the appliance did not run the cuda sink' <<<"$last" &&
	grep -qF 'gpudev: this DPDK has no gpu/cuda driver' <<<"$last" ||
	{ cat "$work/real.out"; fail "real: $last"; }
grep -q 'ainftp: sink: no GPU through CUDA' "$work/real.out" || fail "real: no fallback line shown"
grep -q '^== ceiling-0 (writer rate as fast as it goes): writer exit 0, consumer exit [01]$' "$work/real.out" ||
	fail "real: no full-speed ceiling run"
echo "ok   cuda and gpudev without a GPU: FAIL, with both reasons"

# 2. The host sink: the path around the consumer, PASS.
check host AINFTP_SINKS=host AINFTP_CEIL_RATES="2000"
[ "$rc" = 0 ] || { cat "$work/host.out"; fail "host: exit $rc"; }
rps=$(sed -n 's/.* results_per_s=\([0-9]*\) .*/\1/p' <<<"$last")
grep -q '^gpu-check: PASS sinks=host latency_p50_us=1.50 latency_p99_us=3.00 results_per_s=[0-9]* GB_per_s=[0-9.]*$' <<<"$last" &&
	[ "$rps" -ge 1000 ] || { cat "$work/host.out"; fail "host: $last"; }
grep -q '^== host-int16-sgd: app exit 0, consumer exit 0$' "$work/host.out" || fail "host: the app run"
echo "ok   the host sink: $last"

# 3. A target missed.
check slow AINFTP_SINKS=host AINFTP_CEIL_RATES="2000" STUB_P99=25.00
[ "$rc" = 1 ] && grep -q 'reason: latency_p99_us 25.00 > 20$' <<<"$last" ||
	{ cat "$work/slow.out"; fail "slow: $last"; }
echo "ok   p99 over its target: $last"
echo "gpu_check: all passed"
