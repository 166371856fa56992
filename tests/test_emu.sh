#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end through the real app: ainftp-app --emulate runs N emulated workers
# on one lcore against the appliance's own RX lcores (a ring port pair in place
# of the job's port) and checks every result bit for bit. Jobs of 2, 8, 32 and
# 64 workers (int16, auth on, random keys, 256 elements, 64 slots), then a
# two-lane layout, int8, float32, int16 results and int8 results; each clean, then with 5%
# loss, 1% duplication and 1% reordering in both directions, and int16 with the
# RX lcore in idle mode (--idle-us). Protocol v2's
# retransmission economy (workers probe on timeout and resend data only when
# the box says it is missing): data retransmissions per injected loss at most
# 1.5 (retx_max) in the lossy runs at N = 8 and N = 64 (issue 16; about 10 at N = 64
# in v1, where every worker of a stalled chunk resent its data). Every run's final
# stats line accounts for every frame the box received (tests/accounting.py).
#
#   test_emu.sh APP SRCDIR [--quick]     (--quick: 1000 chunks, for ASan builds)
#
# Each run's gradient seed is random and printed; AINFTP_EMU_SEED=S repeats one.
set -euo pipefail

app=$1
src=$2
mode=${3:-}
chunks=10000
[ "$mode" = --quick ] && chunks=1000
. "$src/tests/emu_lib.sh"

work=$(mktemp -d)
prefix="ainftp-test-emu-$$"
cleanup() {
	rm -rf "$work" /var/run/dpdk/"$prefix"-* 2>/dev/null || true
}
trap cleanup EXIT

failures=0
summary=()
retx_max=1.5
retx_n=" 8 64 " # the N whose lossy runs must keep to retx_max

app_extra=() # more of the app's options, for some runs

# run_case LABEL WORKERS ENCODING RESULT_ENCODING LANES RX_LCORES LOSS DUP REORDER TIMEOUT_US
run_case() {
	local label=$1 n=$2 enc=$3 res=$4 lanes=$5 rxl=$6 loss=$7 dup=$8 reorder=$9 timeout_us=${10}
	local lcores=$((rxl + 2)) emu_lcore=$((rxl + 1)) cfg="$work/$label.json"
	local out="$work/$label.out" err="$work/$label.err" rc=0 t0 t1 secs line
	local want=$((n * chunks)) seed=${AINFTP_EMU_SEED:-$RANDOM}

	"$src/tests/emu_config.py" "$cfg" --workers "$n" --encoding "$enc" --result-encoding "$res" \
		--lanes "$lanes" --rx-lcores "$rxl"
	t0=$(date +%s%N)
	# shellcheck disable=SC2046
	timeout 300 "$app" $(eal_lcores "$lcores") --no-huge -m 1024 --no-pci --no-shconf \
		--no-telemetry --file-prefix "$prefix-$label" --log-level=lib.eal:error -- \
		-c "$cfg" --stats-interval 0 --emulate "$chunks" --emu-lcore "$emu_lcore" \
		--emu-loss "$loss" --emu-dup "$dup" --emu-reorder "$reorder" --emu-timeout "$timeout_us" \
		--emu-seed "$seed" "${app_extra[@]}" \
		>"$out" 2>"$err" || rc=$?
	t1=$(date +%s%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	line=$(grep -E '^emulator: workers=' "$out" "$err" 2>/dev/null | tail -n 1 | sed 's/^[^:]*:emulator/emulator/' || true)
	local checked exact retx acct ok=1 why=""
	checked=$(sed -n 's/.* results_checked=\([0-9]*\) .*/\1/p' <<<"$line")
	exact=$(sed -n 's/.* exact=\([0-9]*\) .*/\1/p' <<<"$line")
	retx=$(sed -n 's/.* retx_per_loss=\([0-9.]*\) .*/\1/p' <<<"$line")
	if [ "$rc" != 0 ]; then
		ok=0 why="exit status $rc"
	elif ! grep -q ': PASS$' <<<"$line"; then
		ok=0 why="no PASS line"
	elif [ "$checked" != "$want" ] || [ "$exact" != "$want" ]; then
		ok=0 why="results_checked=$checked exact=$exact, want $want"
	elif [ "$loss" != 0 ] && [[ "$retx_n" == *" $n "* ]] &&
		! awk -v r="$retx" -v m="$retx_max" 'BEGIN { exit !(r != "" && r <= m) }'; then
		ok=0 why="retx_per_loss=${retx:-none}, want at most $retx_max"
	elif ! acct=$("$src/tests/accounting.py" "$out"); then
		ok=0 why="$acct"
	fi
	if [ "$ok" = 1 ]; then
		summary+=("ok   ${secs}s  $label (seed $seed) retx/loss=${retx:--}: $line")
	else
		failures=$((failures + 1))
		summary+=("FAIL ${secs}s  $label (seed $seed) retx/loss=${retx:--}: $why")
		{
			echo "---- $label: $why"
			echo "---- stderr (last 20 lines):"
			tail -n 20 "$err"
			echo "---- stdout (emulator lines and the final stats line):"
			grep -E '^emulator:|"final": *true' "$out" || tail -n 5 "$out"
		} >&2
	fi
	echo "${summary[-1]}"
}

# Lossy runs start from a 2 ms timeout (the app's default is 20 ms): every loss
# stalls its slot for a timeout, and the emulator raises it to twice the
# measured round trip when that is longer.
clean=(0 0 0 20000)
lossy=(0.05 0.01 0.01 2000)

# One RX lcore (control 0, RX 1, emulator 2), one lane.
for n in 2 8 32 64; do
	run_case "i16-n$n" "$n" int16 float32 1 1 "${clean[@]}"
	run_case "i16-n$n-lossy" "$n" int16 float32 1 1 "${lossy[@]}"
done
# Two lanes, two RX lcores (control 0, RX 1 and 2, emulator 3).
run_case "i16-n32-2lanes" 32 int16 float32 2 2 "${clean[@]}"
run_case "i16-n32-2lanes-lossy" 32 int16 float32 2 2 "${lossy[@]}"
# The other encodings, and int16 results.
run_case "i8-n8" 8 int8 float32 1 1 "${clean[@]}"
run_case "i8-n8-lossy" 8 int8 float32 1 1 "${lossy[@]}"
run_case "f32-n8" 8 float32 float32 1 1 "${clean[@]}"
run_case "f32-n8-lossy" 8 float32 float32 1 1 "${lossy[@]}"
run_case "i16res-n8" 8 int16 int16 1 1 "${clean[@]}"
run_case "i16res-n8-lossy" 8 int16 int16 1 1 "${lossy[@]}"
run_case "i8res-n8" 8 int8 int8 1 1 "${clean[@]}"
run_case "i8res-n8-lossy" 8 int8 int8 1 1 "${lossy[@]}"
# Idle mode: the RX lcore sleeps 200 us between polls after 1024 empty ones.
app_extra=(--idle-us 200)
run_case "i16-n8-idle" 8 int16 float32 1 1 "${clean[@]}"
run_case "i16-n8-idle-lossy" 8 int16 float32 1 1 "${lossy[@]}"
app_extra=()

echo "emu: ${#summary[@]} runs of $chunks chunks, $failures failed"
[ "$failures" = 0 ]
