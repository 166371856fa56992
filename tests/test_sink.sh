#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The result sink end to end: ainftp-app --emulate with a host sink, through 5%
# loss, 1% duplication and 1% reordering (so results are retransmitted), and
# clean on two lanes polled by two RX lcores; after each, ainftp-sink-read on
# the arena it left: every mark valid and as many results
# written as chunks completed (the stats line's chunks_done and sink.written).
# Then the GPU backends on a box without a GPU: backend gpudev, cuda and auto
# each log exactly one line saying why and run on host memory; and an arena
# that cannot be made is a one-line failure to start.
#
#   test_sink.sh APP SINK_READ SRCDIR [--quick]     (--quick: 500 chunks, for ASan builds)
set -euo pipefail

app=$1
reader=$2
src=$3
mode=${4:-}
chunks=3000
[ "$mode" = --quick ] && chunks=500
. "$src/tests/emu_lib.sh"

work=$(mktemp -d)
prefix="ainftp-test-sink-$$"
arena="/dev/shm/ainftp-test-sink-$$"
cleanup() {
	rm -rf "$work" "$arena" /var/run/dpdk/"$prefix"-* 2>/dev/null || true
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# run LABEL SINK_JSON [emulator options...]: the app's exit status; stdout and stderr in
# $work. LANES (default 1) lanes and RX lcores; the emulator on the lcore after them.
run() {
	local label=$1 sink=$2 lanes=${LANES:-1} rc=0
	local last=$((lanes + 1)) lcores
	shift 2
	lcores=$(eal_lcores $((last + 1)))
	"$src/tests/emu_config.py" "$work/$label.json" --job 9 --result-encoding float32 \
		--lanes "$lanes" --sink "$sink"
	# shellcheck disable=SC2086
	timeout 300 "$app" $lcores --no-huge -m 512 --no-pci --no-shconf --no-telemetry \
		--file-prefix "$prefix-$label" --log-level=lib.eal:error -- \
		-c "$work/$label.json" --stats-interval 0 --emulate "$chunks" --emu-lcore "$last" "$@" \
		>"$work/$label.out" 2>"$work/$label.err" || rc=$?
	return $rc
}

# A field of the final stats line's sink object, or the port's chunks_done.
stat_of() {
	grep '"final":true' "$1" | /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
print(d["ports"][0]["chunks_done"] if sys.argv[1] == "chunks_done" else d["sink"][sys.argv[1]])' "$2"
}

check_emu_pass() {
	grep -q '^emulator: workers=.*: PASS$' "$work/$1.out" || {
		tail -n 20 "$work/$1.err" >&2
		grep '^emulator' "$work/$1.out" >&2 || true
		fail "$1: no emulator PASS line"
	}
}

# 1. Host sink through loss, duplication and reordering.
run host "{\"backend\": \"host\", \"path\": \"$arena\"}" \
	--emu-loss 0.05 --emu-dup 0.01 --emu-reorder 0.01 --emu-timeout 2000 ||
	fail "host: exit status $?"
check_emu_pass host
done_n=$(stat_of "$work/host.out" chunks_done)
written=$(stat_of "$work/host.out" written)
[ "$done_n" = "$chunks" ] || fail "host: chunks_done=$done_n, want $chunks"
[ "$written" = "$done_n" ] || fail "host: sink.written=$written, chunks_done=$done_n"
[ "$(stat_of "$work/host.out" backend)" = host ] || fail "host: backend not host"
grep -q '"results_resent":[1-9]' "$work/host.out" || fail "host: no retransmission exercised"
"$reader" "$arena" --expect "$done_n" >"$work/read.out" || fail "host: ainftp-sink-read: $(cat "$work/read.out")"
grep -q "^job 9 (index 0): slots=64 elems=256 encoding=float32 ready=64 results=$done_n doorbells=$done_n " \
	"$work/read.out" || fail "host: reader: $(cat "$work/read.out")"
echo "ok   host: $done_n chunks, $written results in the arena, every mark valid, doorbells agree"

# 1b. Two lanes, two RX lcores, each writing the entries of its own slots (clean: four
# busy lcores share the CPUs here, and the lossy case above already retransmits).
LANES=2 run host2 "{\"backend\": \"host\", \"path\": \"$arena\"}" ||
	fail "host2: exit status $?"
check_emu_pass host2
done_n=$(grep '"final":true' "$work/host2.out" | /usr/bin/python3 -c '
import json, sys
print(sum(l["chunks_done"] for l in json.loads(sys.stdin.read())["lcores"]))')
[ "$done_n" = "$chunks" ] || fail "host2: chunks_done=$done_n, want $chunks"
[ "$(stat_of "$work/host2.out" written)" = "$done_n" ] || fail "host2: sink.written differs"
"$reader" "$arena" --expect "$done_n" >"$work/read2.out" || fail "host2: ainftp-sink-read: $(cat "$work/read2.out")"
grep -q ' rx_lcores=2 ' "$work/read2.out" && grep -q " ready=64 results=$done_n doorbells=$done_n " \
	"$work/read2.out" || fail "host2: reader: $(cat "$work/read2.out")"
echo "ok   host, 2 lanes: $done_n chunks, $done_n results in the arena, every mark valid, two RX lcores' doorbells agree"

# 1c. A consumer that attaches first (--emu-start: the workers hold back 3 s): the arena is
# there and valid before any result, nothing ready and every doorbell at 0; afterwards
# every result is in.
rm -f "$arena"
run early "{\"backend\": \"host\", \"path\": \"$arena\"}" --emu-start 3000 &
pid=$!
for _ in $(seq 1 300); do
	"$reader" "$arena" >"$work/early0.out" 2>/dev/null && break
	sleep 0.1
done
grep -q '^job 9 (index 0): .* ready=0 results=0 doorbells=0 ' "$work/early0.out" ||
	fail "early: before the first result: $(cat "$work/early0.out")"
wait "$pid" || fail "early: exit status $?"
check_emu_pass early
"$reader" "$arena" --expect "$chunks" >"$work/early1.out" || fail "early: $(cat "$work/early1.out")"
echo "ok   a consumer attached before the first result (--emu-start 3000), then saw all $chunks"

# 2. gpudev without a GPU: one line, host.
run gpudev "{\"backend\": \"gpudev\", \"path\": \"$arena\"}" || fail "gpudev: exit status $?"
check_emu_pass gpudev
want='ainftp: sink: no GPU through gpudev (rte_gpu_count_avail() == 0): results go to host memory'
[ "$(grep -c '^ainftp: sink: no GPU' "$work/gpudev.err")" = 1 ] || fail "gpudev: not one fallback line"
grep -qxF "$want" "$work/gpudev.err" || fail "gpudev: no line \"$want\""
[ "$(stat_of "$work/gpudev.out" backend)" = host ] || fail "gpudev: backend not host"
[ "$(stat_of "$work/gpudev.out" fallbacks)" = 1 ] || fail "gpudev: fallbacks not 1"
"$reader" "$arena" --expect "$chunks" >/dev/null || fail "gpudev: arena"
echo "ok   gpudev: $want"

# 3. cuda and auto without libcuda: one line each, host (skipped on a box with the driver).
# (grep reads all of it: grep -q could leave ldconfig to die of SIGPIPE under pipefail.)
if [ "$(ldconfig -p | grep -c 'libcuda\.so\.1 ')" != 0 ]; then
	echo "skip cuda, auto: libcuda.so.1 is installed"
else
	run cuda "{\"backend\": \"cuda\", \"path\": \"$arena\"}" || fail "cuda: exit status $?"
	check_emu_pass cuda
	[ "$(grep -c '^ainftp: sink: no GPU' "$work/cuda.err")" = 1 ] || fail "cuda: not one fallback line"
	line=$(grep '^ainftp: sink: no GPU' "$work/cuda.err")
	grep -qE '^ainftp: sink: no GPU through CUDA \((.*; )?cannot load libcuda\.so\.1\): results go to host memory$' \
		<<<"$line" || fail "cuda: line \"$line\""
	[ "$(stat_of "$work/cuda.out" backend)" = host ] || fail "cuda: backend not host"
	[ "$(stat_of "$work/cuda.out" fallbacks)" = 1 ] || fail "cuda: fallbacks not 1"
	echo "ok   cuda: $line"

	run auto "{\"path\": \"$arena\"}" || fail "auto: exit status $?"
	check_emu_pass auto
	[ "$(grep -c '^ainftp: sink: auto: no GPU' "$work/auto.err")" = 1 ] || fail "auto: not one line"
	line=$(grep '^ainftp: sink: auto: no GPU' "$work/auto.err")
	grep -qE '^ainftp: sink: auto: no GPU through gpudev \(rte_gpu_count_avail\(\) == 0\) nor CUDA \(.*\): results go to host memory$' \
		<<<"$line" || fail "auto: line \"$line\""
	[ "$(stat_of "$work/auto.out" fallbacks)" = 0 ] || fail "auto: host is no fallback for auto"
	echo "ok   auto: $line"
fi

# 4. An arena that cannot be made: the app does not start, one line says why.
rc=0
run nopath '{"backend": "host", "path": "/proc/ainftp-no-such-dir/results"}' || rc=$?
[ "$rc" = 1 ] || fail "nopath: exit status $rc, want 1"
grep -q '^[^ ]*: sink.path: cannot map /proc/ainftp-no-such-dir/results: No such file or directory$' \
	"$work/nopath.err" || fail "nopath: $(tail -n 3 "$work/nopath.err")"
echo "ok   an arena that cannot be made stops the app with one line"
echo "sink: all passed"
