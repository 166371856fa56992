#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A stand-in for ainftp-gpu-consumer on a machine without a GPU, for
# tests/test_gpu_check.sh: the same command line and the lines scripts/gpu-check.sh
# reads, with the work done on the CPU by ainftp-sink-follow (--synthetic) or
# ainftp-sink-read (an appliance's arena). Its latency figures are made up
# (STUB_P50, STUB_P99): what is tested is the script around the consumer.
#
#   gpu_consumer_stub.sh ARENA --chunks N [--cps C] [--synthetic] [--workers W]
#       [--running-file PATH] [--wait-ms MS] [...]    (STUB_BIN: where the tools are)
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 ARENA --chunks N ..." >&2; exit 2; }
arena=$1
shift
chunks=0 cps=0 synthetic=0 workers=8 running='' wait_ms=30000
while [ $# -gt 0 ]; do
	case $1 in
	--chunks) chunks=$2; shift 2 ;;
	--cps) cps=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--running-file) running=$2; shift 2 ;;
	--wait-ms) wait_ms=$2; shift 2 ;;
	--synthetic) synthetic=1; shift ;;
	--sgd | --momentum) shift ;;
	--*) shift 2 ;;
	*) echo "usage: $0 ARENA --chunks N ..." >&2; exit 2 ;;
	esac
done
[ "$chunks" -gt 0 ] || { echo "usage: $0 ARENA --chunks N ..." >&2; exit 2; }
[ "$cps" -gt 0 ] || cps=$chunks
echo "ainftp-gpu-consumer: ready on Stub GPU, waiting for $arena" >&2

if [ "$synthetic" = 1 ]; then
	rc=0
	"$STUB_BIN/ainftp-sink-follow" "$arena" --chunks "$chunks" --cps "$cps" --synthetic \
		--workers "$workers" --allow-gaps --wait-ms "$wait_ms" --idle-ms 1000 \
		${running:+--ready-file "$running"} >"$arena.stub" 2>&1 || rc=$?
	taken=$(sed -n 's/.* taken=\([0-9]*\).*/\1/p' "$arena.stub")
	rps=$(sed -n 's/.*results_per_s=\([0-9]*\) GB_per_s=\([0-9.]*\).*/\1 \2/p' "$arena.stub")
	echo "gpu-consumer: consumed=$taken want=$chunks (stub: ainftp-sink-follow)"
	echo "gpu-consumer: results_per_s=${rps% *} GB_per_s=${rps#* } (stub)"
	rm -f "$arena.stub"
	[ "$rc" = 0 ] || { echo "gpu-consumer: FAIL: the follower failed"; exit 1; }
	if [ "$taken" != "$chunks" ]; then
		echo "gpu-consumer: FAIL: parameters equal the reference, but the GPU consumed $taken of $chunks results (stub)"
		exit 1
	fi
	echo "gpu-consumer: PASS: stub"
	exit 0
fi

# An appliance's arena: every result in it, counted at rest.
t=0
until [ "$("$STUB_BIN/ainftp-sink-read" "$arena" 2>/dev/null | sed -n 's/^results=//p')" = "$chunks" ]; do
	sleep 0.1
	t=$((t + 100))
	[ "$t" -lt "$wait_ms" ] || { echo "gpu-consumer: FAIL: parameters equal the reference, but the GPU consumed 0 of $chunks results (stub)"; exit 1; }
done
echo "gpu-consumer: consumed=$chunks want=$chunks (stub: ainftp-sink-read)"
echo "gpu-consumer: results_per_s=20000 GB_per_s=0.010 (stub)"
echo "gpu-consumer: latency_us (stub) p50=${STUB_P50:-1.50} p99=${STUB_P99:-3.00} min=1 max=4 n=$chunks"
echo "gpu-consumer: PASS: stub"
