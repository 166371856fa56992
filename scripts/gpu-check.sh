#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The GPU consumer end to end, on a machine with an NVIDIA GPU (issue 6, item 5):
# builds ainftp with the CUDA consumer (nvcc), runs ainftp-app --emulate with the
# cuda sink (or gpudev: AINFTP_SINK=gpudev) on a loopback ring port, and
# ainftp-gpu-consumer on the arena: the parameter buffer on the GPU must equal
# the host reference bit for bit, every result consumed with no gap. Prints
# results/s and the latency p50/p99 from the host watcher seeing a mark to the
# GPU seeing it. Exit 0 pass, 1 mismatch or incomplete, 2 no GPU or setup failure.
#
#   scripts/gpu-check.sh [CHUNKS]          (default 20000 chunks, 100 per step)
# Environment:
#   AINFTP_SINK=cuda|gpudev      the app's sink backend (default cuda)
#   AINFTP_RULE=sgd|momentum     the update (default: both, one run each)
#   AINFTP_ENC=float32|int16     the job's result encoding (default: both)
#   AINFTP_RATE=N                --emu-rate per worker (default 20000/s)
#   DPDK_GPU_PREFIX=DIR          build against a DPDK with gpu/cuda (scripts/build-dpdk-gpu.sh)
#                                installed in DIR; default: the system's (no GPU driver: gpudev
#                                falls back to host, so AINFTP_SINK=gpudev needs this)
#   BUILD=DIR                    build directory (default build-gpu)
set -euo pipefail

cd "$(dirname "$0")/.."
chunks=${1:-20000}
sink=${AINFTP_SINK:-cuda}
rate=${AINFTP_RATE:-20000}
build=${BUILD:-build-gpu}

die() {
	echo "gpu-check: $*" >&2
	exit 2
}

# 1. A GPU and its driver, before anything else: fail at once, never hang.
command -v nvidia-smi >/dev/null 2>&1 || die "no NVIDIA GPU/driver: nvidia-smi/libcuda not found (nvidia-smi not on PATH)"
[ "$(ldconfig -p 2>/dev/null | grep -c 'libcuda\.so\.1 ')" != 0 ] || die "no NVIDIA GPU/driver: nvidia-smi/libcuda not found (libcuda.so.1 not in the linker cache)"
timeout 20 nvidia-smi -L >/dev/null 2>&1 || die "no NVIDIA GPU/driver: nvidia-smi -L fails"
nvidia-smi -L
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc" ] || die "nvcc not found (CUDA toolkit)"
# The consumer links CUDA's runtime statically: a toolkit of a newer major version than the
# driver's builds a consumer that cannot start ("driver version is insufficient").
# (Whole outputs into variables: a reader that stops early would kill a writer with SIGPIPE,
# which pipefail turns into an exit.)
smi=$(nvidia-smi)
drv_cuda=$(sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' <<<"$smi")
drv_cuda=${drv_cuda%%$'\n'*}
tk_cuda=$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9.]*\),.*/\1/p')
echo "gpu-check: driver CUDA ${drv_cuda:-?}, toolkit $tk_cuda ($nvcc)"
if [ -n "$drv_cuda" ] && [ "${tk_cuda%%.*}" -gt "${drv_cuda%%.*}" ]; then
	die "the toolkit (CUDA $tk_cuda) is newer than the driver (CUDA $drv_cuda): put a CUDA ${drv_cuda%%.*}.x nvcc first on PATH"
fi

# 2. Build.
if [ -n "${DPDK_GPU_PREFIX:-}" ]; then
	pc=$(find "$DPDK_GPU_PREFIX" -name libdpdk.pc -printf '%h\n' | head -n 1)
	[ -n "$pc" ] || die "DPDK_GPU_PREFIX=$DPDK_GPU_PREFIX: no libdpdk.pc under it"
	export PKG_CONFIG_PATH="$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
	export LD_LIBRARY_PATH="$DPDK_GPU_PREFIX/lib:$DPDK_GPU_PREFIX/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	echo "gpu-check: DPDK from $pc"
fi
if [ -f "$build/build.ninja" ]; then
	meson configure "$build" -Dcuda=enabled >/dev/null
else
	rm -rf "$build"
	meson setup "$build" -Dcuda=enabled -Dtests=false >/dev/null
fi
ninja -C "$build" app/ainftp-app gpu/ainftp-gpu-consumer >/dev/null
app=$build/app/ainftp-app
consumer=$build/gpu/ainftp-gpu-consumer

work=$(mktemp -d)
prefix="ainftp-gpu-check-$$"
arena="/dev/shm/ainftp-gpu-check-$$"
app_pid= cpid=
cleanup() {
	[ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
	rm -rf "$work" "$arena" /var/run/dpdk/"$prefix"-* 2>/dev/null || true
}
trap cleanup EXIT

make_config() { # PATH ENCODING
	/usr/bin/python3 - "$1" "$2" "$sink" "$arena" <<'PY'
import json, secrets, sys
path, enc, backend, arena = sys.argv[1:5]
workers = [{"id": i, "ipv4": "198.18.0.%d" % (10 + i), "key": secrets.token_hex(32)} for i in range(4)]
cfg = {
    "appliance": {"ipv4": "198.18.0.2"},
    "ports": [{"device": "net_ring_emu_app"}],
    "lcores": {"control": 0, "rx": [{"lcore": 1, "port": 0, "queue": 0}]},
    "jobs": [{"id": 9, "slots": 64, "elems_per_packet": 256, "encoding": "int16",
              "result_encoding": enc, "auth": True, "workers": workers}],
    "telemetry": {"enabled": False, "stats_interval_s": 0},
    "sink": {"backend": backend, "path": arena},
}
with open(path, "w") as f:
    json.dump(cfg, f, indent=1)
PY
	chmod 600 "$1"
}

# EAL's PCI bus: none for cuda; for gpudev, the first GPU alone, for gpu/cuda to probe
# (it needs no vfio: the NVIDIA driver keeps the device).
pci=(--no-pci)
if [ "$sink" = gpudev ]; then
	bdf=$(nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader)
	bdf=$(sed 's/^0000\(....:\)/\1/' <<<"${bdf%%$'\n'*}" | tr 'A-F' 'a-f')
	[ -n "$bdf" ] || die "nvidia-smi gives no PCI address"
	pci=(-a "$bdf")
fi

rc=0
for enc in ${AINFTP_ENC:-float32 int16}; do
	for rule in ${AINFTP_RULE:-sgd momentum}; do
		label=$enc-$rule
		rm -f "$arena"
		make_config "$work/$label.json" "$enc"
		# The consumer first: it sets up CUDA and says so, then waits for the arena.
		"$consumer" "$arena" --chunks "$chunks" --cps 100 --"$rule" --lr 0.01 --mu 0.9 \
			--wait-ms 60000 --out "$work/$label.params" >"$work/$label.gpu" 2>&1 &
		cpid=$!
		for _ in $(seq 1 1200); do
			grep -q '^ainftp-gpu-consumer: ready' "$work/$label.gpu" && break
			kill -0 "$cpid" 2>/dev/null || break
			sleep 0.1
		done
		grep -q '^ainftp-gpu-consumer: ready' "$work/$label.gpu" || {
			cat "$work/$label.gpu"
			die "$label: the consumer did not get ready"
		}
		# The workers hold back 3 s once the appliance is up: the consumer registers the
		# arena and starts its kernel before the first result (slots are overwritten).
		timeout 300 "$app" -l 0-2 --no-huge -m 1024 "${pci[@]}" --no-shconf --no-telemetry \
			--file-prefix "$prefix-$label" --log-level=lib.eal:error -- \
			-c "$work/$label.json" --stats-interval 0 --emulate "$chunks" --emu-step 100 \
			--emu-rate "$rate" --emu-start 3000 --emu-lcore 2 >"$work/$label.app" 2>&1 &
		app_pid=$!
		arc=0
		wait "$app_pid" || arc=$?
		app_pid=
		crc=0
		timeout 120 tail --pid="$cpid" -f /dev/null || kill "$cpid" 2>/dev/null || true
		wait "$cpid" || crc=$?
		cpid=
		echo "== $label (sink $sink): app exit $arc, consumer exit $crc"
		grep -h '^ainftp: sink' "$work/$label.app" || true
		grep -h '^emulator: workers' "$work/$label.app" || true
		grep '"final":true' "$work/$label.app" | /usr/bin/python3 -c \
			'import json,sys; d=json.loads(sys.stdin.read()); print("app sink:", json.dumps(d["sink"]))' || true
		cat "$work/$label.gpu"
		[ "$arc" = 0 ] || { echo "FAIL: $label: ainftp-app exit $arc"; rc=1; }
		# The backend asked for, no fallback: the consumer registers the arena itself, so a
		# host arena would pass the rest of the check without the path under test.
		grep '"final":true' "$work/$label.app" | /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.stdin.read())["sink"]
sys.exit(0 if s["backend"] == sys.argv[1] and s["fallbacks"] == 0 else 1)' "$sink" 2>/dev/null ||
			{ echo "FAIL: $label: the appliance did not run the $sink sink"; rc=1; }
		[ "$crc" = 0 ] || { echo "FAIL: $label: ainftp-gpu-consumer exit $crc"; [ "$crc" = 2 ] && exit 2; rc=1; }
	done
done
[ "$rc" = 0 ] && echo "gpu-check: PASS" || echo "gpu-check: FAIL"
exit "$rc"
