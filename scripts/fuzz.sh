#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the libFuzzer harnesses (tests/fuzz) in build-fuzz, with clang-14 and
# ASan/UBSan, and runs each on a copy of its seed corpus (tests/fuzz/corpus/<name>).
# Usage: scripts/fuzz.sh [--seconds N] [--runs N] [HARNESS...]
#   HARNESS: rx, config, client, xdp (default: all four). --seconds N: each runs N
#   seconds (default 60); --runs N: each stops after N inputs instead.
# Prints per harness its executions, exec/s, corpus and coverage; exits non-zero
# on any finding (crash, leak, timeout, sanitizer report), whose input is kept in
# the results folder it prints.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	sed -n 's/^# Usage: /usage: /p' "$0" >&2
	exit 2
}

seconds=60
runs=
harnesses=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage; seconds=$2; shift 2 ;;
	--runs) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
	rx | config | client | xdp) harnesses+=("$1"); shift ;;
	*) usage ;;
	esac
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(rx config client xdp)

./scripts/deps.sh

# Only the harnesses and what they link: not the app, the tools or the tests.
dir=build-fuzz
if [ ! -f "$dir/build.ninja" ]; then
	echo "fuzz.sh: configuring $dir (clang-14, ASan/UBSan, libFuzzer)"
	CC=clang-14 meson setup "$dir" -Dfuzz=true -Dtests=false -Dcuda=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/fuzz_$h"); done
ninja -C "$dir" "${targets[@]}" >/dev/null

# Any report is fatal, leaks included; libFuzzer keeps the input that caused it.
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1

results=$(mktemp -d "${TMPDIR:-/tmp}/ainftp-fuzz.XXXXXX")
echo "fuzz.sh: results in $results"

max_len() {
	case "$1" in
	config) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

# "name: N runs, N exec/s, corpus N files (N bytes), cov N ft N" from libFuzzer's log.
summary() {
	local log=$1 done_line
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
	[ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+[[:space:]]+(pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
	printf '%s runs, %s exec/s, corpus %s, cov %s ft %s' \
		"$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")" \
		"$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")" \
		"$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$done_line")" \
		"$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")" \
		"$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")"
}

failed=0
for h in "${harnesses[@]}"; do
	out="$results/$h"
	mkdir -p "$out/corpus"
	# A copy: what the run adds to the corpus does not grow the repository's.
	cp tests/fuzz/corpus/"$h"/* "$out/corpus/"
	limit=(-max_total_time="$seconds")
	[ -z "$runs" ] || limit=(-runs="$runs")
	rc=0
	"$dir/tests/fuzz/fuzz_$h" "${limit[@]}" -max_len="$(max_len "$h")" -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" >"$out/log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] || compgen -G "$out/crash-*" >/dev/null || compgen -G "$out/leak-*" >/dev/null ||
		compgen -G "$out/timeout-*" >/dev/null || compgen -G "$out/oom-*" >/dev/null; then
		failed=1
		echo "fuzz_$h: FINDING (exit $rc); log $out/log"
		ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | sed 's/^/  input: /' || true
		grep -E 'ERROR:|SUMMARY:|runtime error:|fuzz_[a-z]+: ' "$out/log" | head -5 | sed 's/^/  /' || true
	else
		echo "fuzz_$h: $(summary "$out/log")"
		rm -rf "$out/corpus" # what it grew: CI would fill the temp folder run after run
	fi
done
exit $failed
