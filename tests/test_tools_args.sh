#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The tools' command lines: every numeric option refuses a value that is not a
# number, out of its range, signed where it is unsigned, NaN or infinite, with
# exit 2 and one line on stderr naming the tool, the option and the value
# (tools/ainftp_opt.h); --help still exits 0. Every value here is refused
# before any work (ainftp-bench's before EAL); the one run is ainftp-bench
# --scaling at its shortest (2 lanes on 2 RX lcores: every chunk back complete,
# failures=0), about a second.
#
#   test_tools_args.sh BENCH BENCH_SENTRY SENTRY_TABLE WORKER IMPAIR [BENCH_AUTH]
set -euo pipefail

[ $# -ge 5 ] || { echo "usage: $0 BENCH BENCH_SENTRY SENTRY_TABLE WORKER IMPAIR [BENCH_AUTH]" >&2; exit 2; }
bench=$1 bench_sentry=$2 sentry_table=$3 worker=$4 impair=$5 bench_auth=${6:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_bad WANT TOOL ARGS...: exit 2, exactly one line on stderr, WANT in it.
expect_bad() {
	local want=$1 tool=$2 rc=0
	shift 2
	timeout 10 "$tool" "$@" >/dev/null 2>"$work/err" || rc=$?
	[ "$rc" = 2 ] || { cat "$work/err" >&2; fail "exit $rc (want 2): ${tool##*/} $*"; }
	grep -qF -- "$want" "$work/err" || { cat "$work/err" >&2; fail "no '$want': ${tool##*/} $*"; }
	[ "$(wc -l <"$work/err")" = 1 ] || { cat "$work/err" >&2; fail "not one line: ${tool##*/} $*"; }
	n=$((n + 1))
}

expect_help() {
	local tool=$1 rc=0
	"$tool" --help >"$work/out" 2>&1 || rc=$?
	[ "$rc" = 0 ] && grep -q "usage" "$work/out" || fail "${tool##*/} --help: exit $rc"
	n=$((n + 1))
}

# ainftp-bench: its options are checked before EAL starts (no hugepages needed).
b=ainftp-bench
expect_bad "$b: --workers: \"abc\" is not an integer in 1..64" "$bench" --workers abc
expect_bad "$b: --workers: \"0\" is not an integer in 1..64" "$bench" --workers 0
expect_bad "$b: --workers: \"65\" is not an integer in 1..64" "$bench" --workers 65
expect_bad "$b: --workers: \"-1\" is not an integer in 1..64" "$bench" --workers -1
expect_bad "$b: --workers: \"4x\" is not an integer in 1..64" "$bench" --workers 4x
expect_bad "$b: --workers: \"\" is not an integer in 1..64" "$bench" --workers ''
expect_bad "$b: --workers: \" 4\" is not an integer in 1..64" "$bench" --workers ' 4'
expect_bad "$b: --slots: \"100\" is not a power of two" "$bench" --slots 100
expect_bad "$b: --slots: \"131072\" is not an integer in 1..65536" "$bench" --slots 131072
expect_bad "$b: --time: \"nan\" is not a number in (0, 60]" "$bench" --time nan
expect_bad "$b: --time: \"inf\" is not a number in (0, 60]" "$bench" --time inf
expect_bad "$b: --time: \"0\" is not a number in (0, 60]" "$bench" --time 0
expect_bad "$b: --time: \"1s\" is not a number in (0, 60]" "$bench" --time 1s
expect_bad "$b: --reps: \"10\" is not an integer in 1..9" "$bench" --reps 10
expect_bad "$b: --only SIZE: \"99999999999999999999\" is not an integer in 256..8192" \
	"$bench" --only int16:99999999999999999999
expect_bad "$b: --only SIZE: \"300\" is not in the table" "$bench" --only int16:300
expect_bad "$b: --only: \"int4:256\" is not ENC:SIZE" "$bench" --only int4:256
expect_bad "$b: --result: \"int4\" is not float32, int16 or int8" "$bench" --result int4
expect_bad "$b: --result int8 with --sink: the sink's consumers read no int8 results" \
	"$bench" --sink --result int8
expect_bad "$b: --sentry: \"krum\" is not a list of" "$bench" --sentry krum
expect_bad "$b: --rx-lcores: \"3\" is not an integer in 1..2" "$bench" --rx-lcores 3
expect_bad "$b: --rx-lcores: \"0\" is not an integer in 1..2" "$bench" --rx-lcores 0
expect_bad "$b: --rx-lcores 2 needs --slots 2 or more" "$bench" --rx-lcores 2 --slots 1
expect_bad "$b: --scaling runs alone: not with --sentry or --sink" "$bench" --scaling --sink
expect_bad "$b: --lcores: \"0-2 --vdev x\" is not an EAL lcore map" "$bench" --lcores '0-2 --vdev x'
expect_help "$bench"

# ainftp-bench --scaling, shortest: 1 RX lcore then 2 on 2 lanes, each chunk back
# complete and the appliance's counts equal to the generator's. On one CPU, all
# three lcores on it (idle polls yield).
lc=()
[ "$(nproc)" -ge 2 ] || lc=(--lcores 0@0,1@0,2@0)
rc=0
timeout 20 "$bench" --scaling --quick --reps 1 --time 0.05 "${lc[@]}" >"$work/out" 2>&1 || rc=$?
last=$(tail -n 1 "$work/out")
[ "$rc" = 0 ] && [[ "$last" == "bench: scaling "*" failures=0" ]] ||
	{ cat "$work/out" >&2; fail "ainftp-bench --scaling: exit $rc, last line: $last"; }
n=$((n + 1))

# ainftp-bench-sentry
b=ainftp-bench-sentry
expect_bad "$b: --workers: \"2\" is not an integer in 3..64" "$bench_sentry" --workers 2
expect_bad "$b: --elems: \"0\" is not an integer in 1..65536" "$bench_sentry" --elems 0
expect_bad "$b: --elems: \"0x10\" is not an integer in 1..65536" "$bench_sentry" --elems 0x10
expect_bad "$b: --f: \"-3\" is not an integer in 1..31" "$bench_sentry" --f -3
expect_bad "$b: --reps: \"16\" is not an integer in 1..15" "$bench_sentry" --reps 16
expect_bad "$b: --time: \"-inf\" is not a number in (0, 60]" "$bench_sentry" --time -inf
expect_bad "$b: --cpu: \"-1\" is not an integer in 0..1023" "$bench_sentry" --cpu -1
expect_bad "$b: --cpu: \"4096\" is not an integer in 0..1023" "$bench_sentry" --cpu 4096
expect_bad "$b: unexpected argument \"extra\"" "$bench_sentry" extra
expect_bad "$b: --f 2 needs --workers 5 or more" "$bench_sentry" --workers 4 --f 2
expect_help "$bench_sentry"

# ainftp-sentry-table
b=ainftp-sentry-table
expect_bad "$b: --seed: \"-1\" is not an integer in 0..18446744073709551615" "$sentry_table" --seed -1
expect_bad "$b: --seed: \"18446744073709551616\" is not an integer in 0..18446744073709551615" \
	"$sentry_table" --seed 18446744073709551616
expect_bad "$b: --chunks: \"0\" is not an integer in 1..1000000" "$sentry_table" --chunks 0
expect_bad "$b: --q-chunks: \"abc\" is not an integer in 1..1000000" "$sentry_table" --q-chunks abc
expect_bad "$b: --warmup: \"+5\" is not an integer in 0..1000000" "$sentry_table" --warmup +5
expect_bad "$b: --sigma: \"abc\" is not a number in [0, 1000]" "$sentry_table" --sigma abc
expect_bad "$b: --sigma: \"NaN\" is not a number in [0, 1000]" "$sentry_table" --sigma NaN
expect_bad "$b: --spread: \"1e400\" is not a number in [0, 32]" "$sentry_table" --spread 1e400
expect_bad "$b: --k: \"-3\" is not a number in (0, 100]" "$sentry_table" --k -3
expect_bad "$b: --k: \"0\" is not a number in (0, 100]" "$sentry_table" --k 0
expect_bad "$b: --clip-norm: \"0\" is not a number in (0, 1e+09]" "$sentry_table" --clip-norm 0
expect_bad "$b: --simd-bits: \"128\" is not 512, 256 or 0" "$sentry_table" --simd-bits 128
expect_help "$sentry_table"

# ainftp-worker: values are refused before the config is read.
b=ainftp-worker
w=(-c /nonexistent.json --job 1 --worker 0)
expect_bad "$b: --job: \"4294967296\" is not an integer in 0..4294967295" "$worker" -c x --job 4294967296
expect_bad "$b: --worker: \"64\" is not an integer in 0..63" "$worker" -c x --job 1 --worker 64
expect_bad "$b: --steps: \"0\" is not an integer in 1..1000000" "$worker" "${w[@]}" --steps 0
expect_bad "$b: --elems: \"-5\" is not an integer in 1..1073741824" "$worker" "${w[@]}" --elems -5
expect_bad "$b: --verify: \"65\" is not an integer in 1..64" "$worker" "${w[@]}" --verify 65
expect_bad "$b: --seed: \"1.5\" is not an integer in 0..18446744073709551615" "$worker" "${w[@]}" --seed 1.5
expect_bad "$b: --size: \"6\" is not a multiple of 4 bytes in 4..4G" "$worker" "${w[@]}" --size 6
expect_bad "$b: --size: \"5G\" is not a multiple of 4 bytes in 4..4G" "$worker" "${w[@]}" --size 5G
expect_bad "$b: --size: \"99999999999999G\" is not a multiple of 4 bytes in 4..4G" \
	"$worker" "${w[@]}" --size 99999999999999G
expect_bad "$b: --op (sum or mean): bad value \"max\"" "$worker" "${w[@]}" --op max
expect_bad "$b: --progress: \"nan\" is not a number in [0, 3600]" "$worker" "${w[@]}" --progress nan
expect_bad "$b: --progress: \"-1\" is not a number in [0, 3600]" "$worker" "${w[@]}" --progress -1
expect_bad "$b: --same-gradient with --verify: the reference is each step's own gradient" \
	"$worker" "${w[@]}" --verify 2 --same-gradient
expect_bad "$b: --barrier with --end-step or --pause: a worker that stops early or falls behind holds its peers at the barrier" \
	"$worker" "${w[@]}" --barrier /nonexistent/b --end-step 3
expect_bad "$b: --barrier with --end-step or --pause: a worker that stops early or falls behind holds its peers at the barrier" \
	"$worker" "${w[@]}" --barrier /nonexistent/b --pause 1:10
# A worker that fails to join (here: its config's address is not on this host, no
# packet sent) marks the barrier's file as left (bit 31 of its word), so that its
# peers stop waiting for it at once.
lo_cfg=$(cd "$(dirname "$0")/.." && pwd)/config/loopback.json
expect_bad "$b: bind " "$worker" -c "$lo_cfg" --job 1 --worker 0 --size 1M --barrier "$work/barrier"
word=$(od -An -tu4 -N4 "$work/barrier" | tr -d ' ')
[ "$word" = $((1 << 31)) ] || fail "the barrier file's word is $word after a failed join, want 2^31"
expect_help "$worker"

# ainftp-impair: values are refused before any interface is opened.
b=ainftp-impair
i=(--a lo --b lo2)
expect_bad "$b: --loss: \"101\" is not a number in [0, 100]" "$impair" "${i[@]}" --loss 101
expect_bad "$b: --dup: \"nan\" is not a number in [0, 100]" "$impair" "${i[@]}" --dup nan
expect_bad "$b: --reorder: \"-1\" is not a number in [0, 100]" "$impair" "${i[@]}" --reorder -1
expect_bad "$b: --hold-us: \"10000001\" is not an integer in 0..10000000" "$impair" "${i[@]}" --hold-us 10000001
expect_bad "$b: --seed: \"-1\" is not an integer in 0..18446744073709551615" "$impair" "${i[@]}" --seed -1
expect_help "$impair"

# ainftp-bench-auth (built where libcrypto is): RUNS, its one argument after --many or not.
if [ -n "$bench_auth" ]; then
	b=ainftp-bench-auth
	expect_bad "$b: RUNS: \"9x\" is not an integer in 1..99" "$bench_auth" 9x
	expect_bad "$b: RUNS: \"0\" is not an integer in 1..99" "$bench_auth" 0
	expect_bad "$b: unexpected argument \"2\"" "$bench_auth" 1 2
	expect_bad "$b: RUNS: \"100\" is not an integer in 1..99" "$bench_auth" --many 100
	expect_bad "$b: unexpected argument \"2\"" "$bench_auth" --many 1 2
	expect_help "$bench_auth"
fi

echo "ok: $n checks"
