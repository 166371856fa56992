#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The GPU path end to end on a machine with an NVIDIA GPU (issues 6 and 20;
# docs/SINK.md, "The GPU consumer"):
#  1. per sink (cuda, gpudev), result encoding (float32, int16) and update (SGD,
#     momentum): ainftp-app --emulate at 20,000 results/s on a loopback ring port
#     with that sink, and ainftp-gpu-consumer on its arena: the GPU's parameters
#     equal the host reference bit for bit, every result consumed, no gap, the
#     sink asked for (no fallback); latency from a host core seeing a mark to
#     the GPU seeing it;
#  2. the consumer's ceiling: ainftp-sink-write's writer threads (4 RX lcores,
#     256 slots of 1 KB int16 results) at 1.5 M results/s, at 3 M, and as fast
#     as they go, into ainftp-gpu-consumer --synthetic (every mark and payload
#     checked on the GPU): results/s and GB/s.
# It ends with one line:
#   gpu-check: PASS sinks=cuda,gpudev latency_p50_us=.. latency_p99_us=.. results_per_s=.. GB_per_s=..
#   gpu-check: FAIL sinks=.. latency_p50_us=.. latency_p99_us=.. results_per_s=.. GB_per_s=.. reason: ..
# (latency: the worst run's; results/s: the highest rate taken with no result missed).
# PASS needs every run to pass and p50 <= 5 us, p99 <= 20 us, >= 1.5 M results/s.
# Exit 0 pass, 1 fail, 2 no GPU or a setup failure.
#
#   scripts/gpu-check.sh [CHUNKS]                 build here (meson, nvcc, DPDK), then run
#   scripts/gpu-check.sh --pack DIR [--from B]    build here (or take build dir B as built),
#                                                 then put into DIR the binaries and every
#                                                 library they need that a GPU box may lack
#                                                 (DPDK with its PMDs, jansson, libsodium,
#                                                 libnuma, ...); needs no GPU. DIR's path may
#                                                 have no world-writable directory (/tmp):
#                                                 EAL loads no PMD from such a path
#   scripts/gpu-check.sh --prebuilt DIR [CHUNKS]  run from such a DIR: no DPDK, meson, jansson
#                                                 or CUDA toolkit needed, only the driver and
#                                                 python3 (DIR/gpu-check.sh is this script)
# Environment:
#   AINFTP_SINKS="cuda gpudev"   the sinks to check (gpudev needs a DPDK with gpu/cuda:
#                                scripts/build-dpdk-gpu.sh, then DPDK_GPU_PREFIX; host: no GPU
#                                in the sink, for trying the script, tests/test_gpu_check.sh)
#   AINFTP_RULE=sgd|momentum     the update (default: both)
#   AINFTP_ENC=float32|int16     the job's result encoding (default: both)
#   AINFTP_RATE=N                --emu-rate per worker (default 20000: 20,000 results/s)
#   AINFTP_CEIL_RATES="1500000 3000000 0"   the writer's rates (0: as fast as it goes)
#   AINFTP_CEIL_CHUNKS=N         results per ceiling run (default 2000000)
#   AINFTP_P50_US, AINFTP_P99_US, AINFTP_MIN_RPS   the targets (5, 20, 1500000)
#   DPDK_GPU_PREFIX=DIR          build against a DPDK with gpu/cuda installed in DIR
#   BUILD=DIR                    build directory (default build-gpu)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mode=build pack='' prebuilt=''
from=''
case ${1:-} in
--pack) [ $# -ge 2 ] || { echo "usage: $0 --pack DIR [--from BUILDDIR]" >&2; exit 2; }
	mode=pack pack=$2
	shift 2
	if [ "${1:-}" = --from ]; then
		[ $# -ge 2 ] || { echo "usage: $0 --pack DIR [--from BUILDDIR]" >&2; exit 2; }
		from=$(cd "$2" && pwd)
		shift 2
	fi ;;
--prebuilt) [ $# -ge 2 ] || { echo "usage: $0 --prebuilt DIR [CHUNKS]" >&2; exit 2; }
	mode=prebuilt prebuilt=$(cd "$2" && pwd); shift 2 ;;
-h|--help) sed -n '3,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
chunks=${1:-20000}
rate=${AINFTP_RATE:-20000}
sinks=${AINFTP_SINKS:-cuda gpudev}
ceil_rates=${AINFTP_CEIL_RATES:-1500000 3000000 0}
ceil_chunks=${AINFTP_CEIL_CHUNKS:-2000000}
want_p50=${AINFTP_P50_US:-5} want_p99=${AINFTP_P99_US:-20} want_rps=${AINFTP_MIN_RPS:-1500000}
bins=(ainftp-app ainftp-gpu-consumer ainftp-sink-write ainftp-sink-follow ainftp-sink-read)
# The PMDs the runs load (EAL -d): the default mempool, the buses, the ring and null ports,
# and gpu/cuda where the DPDK has it. The app links net_ring and bus_vdev itself.
pmds=(mempool_ring bus_pci bus_vdev net_ring net_null gpu_cuda)

# The one last line, and the exit status.
passed_sinks=() reasons=() p50_max='' p99_max='' rps_best=0 gbps_best=0
summary() { # STATUS
	local s
	s="sinks=$(IFS=,; echo "${passed_sinks[*]:-none}") latency_p50_us=${p50_max:-na}"
	s+=" latency_p99_us=${p99_max:-na} results_per_s=$rps_best GB_per_s=$gbps_best"
	if [ "$1" = PASS ]; then
		echo "gpu-check: PASS $s"
	else
		local r why=''
		for r in "${reasons[@]}"; do
			why+=${why:+; }$r
		done
		echo "gpu-check: FAIL $s reason: $why"
	fi
}
die() { # setup failures and no GPU: exit 2
	reasons+=("$*")
	echo "gpu-check: $*" >&2
	summary FAIL
	exit 2
}

# ------------------------------------------------------------------ build
build_here() {
	cd "$here/.."
	build=${BUILD:-build-gpu}
	if [ -n "$from" ]; then
		# As built: a build with tests (meson test) runs this, and must not be rebuilt under it.
		build=$from
		[ -x "$build/gpu/ainftp-gpu-consumer" ] || die "--from $build: no gpu/ainftp-gpu-consumer (nvcc, -Dcuda=enabled)"
		set_bins
		return
	fi
	if [ -n "${DPDK_GPU_PREFIX:-}" ]; then
		pc=$(find "$DPDK_GPU_PREFIX" -name libdpdk.pc -printf '%h\n' | head -n 1)
		[ -n "$pc" ] || die "DPDK_GPU_PREFIX=$DPDK_GPU_PREFIX: no libdpdk.pc under it"
		export PKG_CONFIG_PATH="$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
		export LD_LIBRARY_PATH="$DPDK_GPU_PREFIX/lib:$DPDK_GPU_PREFIX/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
		echo "gpu-check: DPDK from $pc"
	fi
	command -v meson >/dev/null || die "meson not found: build elsewhere with --pack, run with --prebuilt"
	if [ -f "$build/build.ninja" ]; then
		meson configure "$build" -Dcuda=enabled >/dev/null
	else
		rm -rf "$build"
		meson setup "$build" -Dcuda=enabled -Dtests=false >/dev/null ||
			die "meson setup $build failed (is nvcc there? CUDA in /usr/local/cuda)"
	fi
	ninja -C "$build" app/ainftp-app gpu/ainftp-gpu-consumer tools/ainftp-sink-write \
		tools/ainftp-sink-follow tools/ainftp-sink-read >/dev/null || die "the build failed"
	set_bins
}
set_bins() {
	bindir=$(cd "$build" && pwd)
	app=$bindir/app/ainftp-app consumer=$bindir/gpu/ainftp-gpu-consumer
	writer=$bindir/tools/ainftp-sink-write
	pmd_dir=$(pkg-config --variable=libdir libdpdk)/dpdk
	pmd_dir=$(find "$pmd_dir" -maxdepth 1 -name 'pmds-*' 2>/dev/null | head -n 1)
	eal_d=()
	nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
	tk_cuda=$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9.]*\),.*/\1/p')
}

# EAL loads a PMD only when no directory on its real path is world-writable.
world_writable() { # PATH: the first such directory, if any
	local p
	p=$(realpath "$1")
	while :; do
		[ -n "$(find "$p" -maxdepth 0 -perm -0002 2>/dev/null)" ] && { echo "$p"; return 0; }
		[ "$p" = / ] && return 1
		p=$(dirname "$p")
	done
}

# ------------------------------------------------------------------ --pack
# The C runtime: the GPU box has its own (newer), which the binaries must use.
c_runtime() { # NAME
	case $1 in
	linux-vdso.so.* | ld-linux*.so.* | libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | \
		librt.so.* | libresolv.so.* | libutil.so.* | libgcc_s.so.* | libstdc++.so.*) return 0 ;;
	esac
	return 1
}
# "NAME PATH" of each library the loader resolves for FILE (LD_LIBRARY_PATH as set).
resolved() { # FILE
	ldd "$1" | sed -n 's/^[[:space:]]*\([^ ]*\) => \(\/[^ ]*\) .*/\1 \2/p'
}
# Every library FILE needs outside the C runtime, copied into DIR/lib under the name the
# loader asks for (its soname).
copy_libs() { # FILE DIR
	local name path
	if ldd "$1" | grep -q 'not found'; then
		die "pack: $1: $(ldd "$1" | grep 'not found' | head -n 1 | xargs)"
	fi
	while read -r name path; do
		c_runtime "$name" || [ -e "$2/lib/$name" ] || cp -L "$path" "$2/lib/$name"
	done < <(resolved "$1")
}

do_pack() {
	local d=$1 b p f so name path
	build_here
	mkdir -p "$d"
	d=$(cd "$d" && pwd)
	if ww=$(world_writable "$d"); then
		die "pack: $ww is world-writable: EAL would load no PMD from $d; pack elsewhere"
	fi
	rm -rf "${d:?}/bin" "${d:?}/lib" "${d:?}/pmds"
	mkdir -p "$d/bin" "$d/lib" "$d/pmds"
	cp "$app" "$consumer" "$writer" "$bindir/tools/ainftp-sink-follow" \
		"$bindir/tools/ainftp-sink-read" "$d/bin/"
	cp "$here/gpu-check.sh" "$d/"
	for b in "$d"/bin/*; do
		copy_libs "$b" "$d"
	done
	# The PMDs, as DIR/pmds/NAME.so.ABI links to the one copy in DIR/lib: a PMD the app
	# also links (net_ring, bus_vdev) is then one file, loaded once.
	[ -n "$pmd_dir" ] || die "pack: no DPDK PMD directory under $(pkg-config --variable=libdir libdpdk)/dpdk"
	for p in "${pmds[@]}"; do
		f=$(find "$pmd_dir" -maxdepth 1 -name "librte_$p.so.*.*" | head -n 1)
		if [ -z "$f" ]; then
			[ "$p" = gpu_cuda ] && continue # a DPDK without it: no gpudev sink
			die "pack: no librte_$p in $pmd_dir"
		fi
		so=$(objdump -p "$f" | sed -n 's/^ *SONAME *//p')
		[ -e "$d/lib/$so" ] || cp -L "$f" "$d/lib/$so"
		ln -sf "../lib/$so" "$d/pmds/$(basename "$f")"
		copy_libs "$f" "$d"
	done
	{
		echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) git=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo none)"
		echo "cuda=$tk_cuda"
		echo "dpdk=$(pkg-config --modversion libdpdk)"
		echo "pmd_default=$pmd_dir" # where the packed EAL looks for PMDs by itself
		echo "gpu_cuda=$([ -n "$(find "$d/pmds" -name 'librte_gpu_cuda.so*')" ] && echo yes || echo no)"
	} >"$d/BUILDINFO"
	# What a box without DPDK gets: every library but the C runtime from DIR, and the app
	# starts from DIR alone.
	for b in "$d"/bin/* "$d"/pmds/*; do
		while read -r name path; do
			c_runtime "$name" || [ "${path#"$d/lib/"}" != "$path" ] ||
				die "pack: $(basename "$b") resolves $name outside $d: $path"
		done < <(LD_LIBRARY_PATH="$d/lib" resolved "$b")
	done
	env -i LD_LIBRARY_PATH="$d/lib" "$d/bin/ainftp-app" --version >/dev/null ||
		die "pack: $d/bin/ainftp-app --version fails with LD_LIBRARY_PATH=$d/lib"
	echo "gpu-check: packed $(ls "$d/bin" | wc -l) binaries, $(ls "$d/lib" | wc -l) libraries," \
		"$(ls "$d/pmds" | wc -l) PMDs into $d ($(du -sh "$d" | cut -f1)); $(tr '\n' ' ' <"$d/BUILDINFO")"
	echo "gpu-check: on the GPU machine: $d/gpu-check.sh --prebuilt $d"
}

if [ "$mode" = pack ]; then
	do_pack "$pack"
	exit 0
fi

work=$(mktemp -d)
prefix="ainftp-gpu-check-$$"
arena="/dev/shm/ainftp-gpu-check-$$"
app_pid='' cpid='' copy=''
cleanup() {
	[ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
	rm -rf "$work" "$arena" ${copy:+"$copy"} /var/run/dpdk/"$prefix"-* 2>/dev/null || true
}
trap cleanup EXIT

# The pack first (no GPU needed for that): its binaries start from it alone.
if [ "$mode" = prebuilt ]; then
	for b in "${bins[@]}"; do
		[ -x "$prebuilt/bin/$b" ] || die "--prebuilt $prebuilt: no bin/$b (make it with --pack)"
	done
	if ww=$(world_writable "$prebuilt/lib"); then
		# A copy where no directory on the way is world-writable, if there is one.
		for base in "${HOME:-}" /root /opt /srv "$PWD"; do
			[ -n "$base" ] && [ -d "$base" ] && [ -w "$base" ] && ! world_writable "$base" >/dev/null || continue
			copy=$(mktemp -d -p "$base" ainftp-gpu-pack.XXXXXX) || continue
			chmod 755 "$copy"
			cp -a "$prebuilt/." "$copy/"
			echo "gpu-check: $ww is world-writable (EAL loads no PMD under it): using a copy in $copy"
			prebuilt=$copy
			break
		done
		[ -n "$copy" ] || die "--prebuilt: $ww is world-writable: EAL loads no PMD from $prebuilt; move it"
	fi
	export LD_LIBRARY_PATH="$prebuilt/lib"
	app=$prebuilt/bin/ainftp-app consumer=$prebuilt/bin/ainftp-gpu-consumer
	writer=$prebuilt/bin/ainftp-sink-write
	pmd_dir=$prebuilt/pmds
	eal_d=()
	for f in "$prebuilt"/pmds/*; do
		eal_d+=(-d "$f")
	done
	# A box with the very DPDK the pack was built with: EAL loads every PMD of its default
	# directory by itself, and a PMD loaded from there and from the pack registers twice
	# (EAL panics). There, DPDK is the box's: the pack gives the rest (and the PMDs the
	# box lacks, gpu/cuda).
	pmd_default=$(sed -n 's/^pmd_default=//p' "$prebuilt/BUILDINFO" 2>/dev/null || true)
	if [ -n "$pmd_default" ] && [ -d "$pmd_default" ]; then
		mkdir -p "$work/lib"
		for f in "$prebuilt"/lib/*; do
			case ${f##*/} in librte_*) ;; *) ln -s "$f" "$work/lib/" ;; esac
		done
		export LD_LIBRARY_PATH="$work/lib"
		eal_d=()
		for f in "$prebuilt"/pmds/*; do
			[ -e "$pmd_default/${f##*/}" ] || eal_d+=(-d "$f")
		done
		echo "gpu-check: this box has the pack's DPDK ($pmd_default): its DPDK libraries are used"
	fi
	tk_cuda=$(sed -n 's/^cuda=//p' "$prebuilt/BUILDINFO" 2>/dev/null || true)
	"$app" --version >/dev/null 2>&1 || die "--prebuilt: ainftp-app does not start: $("$app" --version 2>&1 | head -n 1)"
	for b in "${bins[@]:1}"; do # without arguments: their usage, once the loader is done
		out=$("$prebuilt/bin/$b" 2>&1 || true)
		grep -qi usage <<<"$out" || die "--prebuilt: $b does not start: ${out%%$'\n'*}"
	done
	echo "gpu-check: prebuilt $prebuilt: $(tr '\n' ' ' <"$prebuilt/BUILDINFO" 2>/dev/null || true)"
fi

# ------------------------------------------------------------------ a GPU, before anything else
# Fail at once, never hang. (Whole outputs into variables: a reader that stops early would
# kill a writer with SIGPIPE, which pipefail turns into an exit.)
command -v nvidia-smi >/dev/null 2>&1 || die "no NVIDIA GPU/driver: nvidia-smi/libcuda not found (nvidia-smi not on PATH)"
[ "$(ldconfig -p 2>/dev/null | grep -c 'libcuda\.so\.1 ')" != 0 ] || die "no NVIDIA GPU/driver: nvidia-smi/libcuda not found (libcuda.so.1 not in the linker cache)"
timeout 20 nvidia-smi -L >/dev/null 2>&1 || die "no NVIDIA GPU/driver: nvidia-smi -L fails"
nvidia-smi -L
smi=$(nvidia-smi)
drv_cuda=$(sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' <<<"$smi")
drv_cuda=${drv_cuda%%$'\n'*}
ids=$(nvidia-smi --query-gpu=name,pci.bus_id,pci.device_id --format=csv,noheader 2>/dev/null || true)
echo "gpu-check: ${ids%%$'\n'*}"
[ "$mode" = build ] && build_here

# The consumer links CUDA's runtime statically: built with a newer major version than the
# driver's, it cannot start ("driver version is insufficient").
echo "gpu-check: driver CUDA ${drv_cuda:-?}, consumer built with CUDA ${tk_cuda:-?}"
if [ -n "$drv_cuda" ] && [ -n "$tk_cuda" ] && [ "${tk_cuda%%.*}" -gt "${drv_cuda%%.*}" ]; then
	die "the consumer was built with CUDA $tk_cuda, newer than the driver's CUDA $drv_cuda: build it with a CUDA ${drv_cuda%%.*}.x nvcc"
fi


make_config() { # PATH ENCODING SINK
	/usr/bin/python3 - "$1" "$2" "$3" "$arena" <<'PY'
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

field() { # FILE KEY: KEY=value's value in FILE
	sed -n "s/.*[ :(]$2=\([^ ]*\).*/\1/p" "$1" | head -n 1
}
worse() { # A B: the larger
	awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'
}

# The consumer first: it sets up CUDA and says so, then waits for the arena.
start_consumer() { # LABEL ARGS...
	local label=$1
	shift
	"$consumer" "$arena" "$@" >"$work/$label.gpu" 2>&1 &
	cpid=$!
	for _ in $(seq 1 1200); do
		grep -q '^ainftp-gpu-consumer: ready' "$work/$label.gpu" && return 0
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/$label.gpu"
	grep -q 'no NVIDIA GPU' "$work/$label.gpu" && die "no NVIDIA GPU/driver: the consumer found none"
	die "$label: the consumer did not get ready"
}
wait_consumer() { # -> crc
	crc=0
	timeout 300 tail --pid="$cpid" -f /dev/null || kill "$cpid" 2>/dev/null || true
	wait "$cpid" || crc=$?
	cpid=
}

# ------------------------------------------------------------------ 1. the appliance's sinks
# EAL lcores 0-2 (control, RX, emulator); on fewer CPUs, floating over those there are.
if [ "$(nproc)" -ge 3 ]; then
	lcores=(-l 0-2)
else
	lcores=(--lcores "(0-2)@(0-$(($(nproc) - 1)))")
fi
for sink in $sinks; do
	sink_ok=1
	case $sink in
	cuda) pci=(--no-pci) ;;
	host) pci=(--no-pci) ;; # no GPU in the sink: tests the path around the consumer
	gpudev)
		# EAL's PCI bus limited to the first GPU, for gpu/cuda to probe (no vfio: the
		# NVIDIA driver keeps the device).
		if [ -z "$pmd_dir" ] || [ -z "$(find -L "$pmd_dir" -maxdepth 1 -name 'librte_gpu_cuda.so*' 2>/dev/null)" ]; then
			reasons+=("gpudev: this DPDK has no gpu/cuda driver (scripts/build-dpdk-gpu.sh, then DPDK_GPU_PREFIX=... with --pack)")
			echo "FAIL: ${reasons[-1]}"
			continue
		fi
		bdf=$(nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader)
		bdf=$(sed 's/^0000\(....:\)/\1/' <<<"${bdf%%$'\n'*}" | tr 'A-F' 'a-f')
		[ -n "$bdf" ] || die "nvidia-smi gives no PCI address"
		pci=(-a "$bdf")
		;;
	*) die "AINFTP_SINKS: unknown sink $sink" ;;
	esac
	for enc in ${AINFTP_ENC:-float32 int16}; do
		for rule in ${AINFTP_RULE:-sgd momentum}; do
			label=$sink-$enc-$rule
			rm -f "$arena"
			make_config "$work/$label.json" "$enc" "$sink"
			start_consumer "$label" --chunks "$chunks" --cps 100 --"$rule" --lr 0.01 \
				--mu 0.9 --wait-ms 60000 --out "$work/$label.params"
			# The workers hold back 3 s once the appliance is up: the consumer registers
			# the arena and starts its kernel before the first result.
			timeout 300 "$app" "${lcores[@]}" --no-huge -m 1024 "${pci[@]}" "${eal_d[@]}" --no-shconf \
				--no-telemetry --file-prefix "$prefix-$label" --log-level=lib.eal:error -- \
				-c "$work/$label.json" --stats-interval 0 --emulate "$chunks" --emu-step 100 \
				--emu-rate "$rate" --emu-start 3000 --emu-lcore 2 >"$work/$label.app" 2>&1 &
			app_pid=$!
			arc=0
			wait "$app_pid" || arc=$?
			app_pid=
			wait_consumer
			echo "== $label: app exit $arc, consumer exit $crc"
			grep -h '^ainftp: sink' "$work/$label.app" || true
			grep -h '^emulator: workers' "$work/$label.app" || true
			grep '"final":true' "$work/$label.app" | /usr/bin/python3 -c \
				'import json,sys; d=json.loads(sys.stdin.read()); print("app sink:", json.dumps(d["sink"]))' || true
			cat "$work/$label.gpu"
			[ "$crc" = 2 ] && die "$label: the consumer could not set up (exit 2)"
			ok=1
			[ "$arc" = 0 ] || { reasons+=("$label: ainftp-app exit $arc"); ok=0; }
			# The sink asked for, no fallback: the consumer registers the arena itself, so
			# a host arena would pass the rest without the path under test.
			grep '"final":true' "$work/$label.app" | /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.stdin.read())["sink"]
sys.exit(0 if s["backend"] == sys.argv[1] and s["fallbacks"] == 0 else 1)' "$sink" 2>/dev/null ||
				{ reasons+=("$label: the appliance did not run the $sink sink"); ok=0; }
			[ "$crc" = 0 ] || { reasons+=("$label: $(grep -h 'gpu-consumer: FAIL' "$work/$label.gpu" | head -n 1 | sed 's/^gpu-consumer: FAIL: //')"); ok=0; }
			p50=$(field "$work/$label.gpu" p50) p99=$(field "$work/$label.gpu" p99)
			if [ -n "$p50" ]; then
				p50_max=$(worse "$p50_max" "$p50")
				p99_max=$(worse "$p99_max" "$p99")
			fi
			[ "$ok" = 1 ] || { sink_ok=0; echo "FAIL: ${reasons[-1]}"; }
		done
	done
	[ "$sink_ok" = 1 ] && passed_sinks+=("$sink")
done

# ------------------------------------------------------------------ 2. the consumer's ceiling
# 4 writer threads (RX lcores), 256 slots of 512 int16 (1 KB) from 8 workers, 4096 chunks
# a step: paced rates must be taken whole; as fast as the writers go, what was taken counts.
for r in $ceil_rates; do
	label=ceiling-$r
	rm -f "$arena" "$work/go"
	start_consumer "$label" --synthetic --workers 8 --chunks "$ceil_chunks" --cps 4096 --sgd \
		--lr 0.01 --wait-ms 60000 --idle-ms 1000 --running-file "$work/go"
	wrc=0
	timeout 300 "$writer" "$arena" --chunks "$ceil_chunks" --cps 4096 --rx 4 --slots 256 \
		--elems 512 --encoding int16 --workers 8 --rate "$r" --go-file "$work/go" \
		--go-timeout-ms 60000 >"$work/$label.write" 2>&1 || wrc=$?
	wait_consumer
	echo "== $label (writer rate ${r/#0/as fast as it goes}): writer exit $wrc, consumer exit $crc"
	cat "$work/$label.write" "$work/$label.gpu"
	[ "$crc" = 2 ] && die "$label: the consumer could not set up (exit 2)"
	[ "$wrc" = 0 ] || { reasons+=("$label: ainftp-sink-write exit $wrc"); continue; }
	rps=$(field "$work/$label.gpu" results_per_s) gbps=$(field "$work/$label.gpu" GB_per_s)
	if [ "$crc" = 0 ]; then
		# Taken whole: the consumer kept up with this rate.
		if awk -v a="$rps" -v b="$rps_best" 'BEGIN { exit !(a + 0 > b + 0) }'; then
			rps_best=${rps%.*} gbps_best=$gbps
		fi
	elif [ "$r" = 0 ] && grep -q 'gpu-consumer: FAIL: parameters equal the reference, but' "$work/$label.gpu"; then
		# As fast as the writers go, results overwritten before the GPU took them are what
		# the rate costs, not a fault: its figure is reported, not counted as a ceiling.
		echo "gpu-check: $label: saturated at $rps results/s ($gbps GB/s), some overwritten first"
	else
		reasons+=("$label: $(grep -h 'gpu-consumer: FAIL' "$work/$label.gpu" | head -n 1 | sed 's/^gpu-consumer: FAIL: //')")
		echo "FAIL: ${reasons[-1]}"
	fi
done

# ------------------------------------------------------------------ verdict
if [ -n "$p50_max" ]; then
	awk -v a="$p50_max" -v b="$want_p50" 'BEGIN { exit !(a + 0 <= b + 0) }' ||
		reasons+=("latency_p50_us $p50_max > $want_p50")
	awk -v a="$p99_max" -v b="$want_p99" 'BEGIN { exit !(a + 0 <= b + 0) }' ||
		reasons+=("latency_p99_us $p99_max > $want_p99")
else
	reasons+=("no latency measured")
fi
awk -v a="$rps_best" -v b="$want_rps" 'BEGIN { exit !(a + 0 >= b + 0) }' ||
	reasons+=("results_per_s $rps_best < $want_rps")
if [ ${#reasons[@]} = 0 ]; then
	summary PASS
	exit 0
fi
summary FAIL
exit 1
