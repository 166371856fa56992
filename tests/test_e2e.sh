#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Real workers end to end: 4 ainftp-worker processes (the C client library over
# kernel UDP) all-reduce through ainftp-app on net_af_packet in the lab of scripts/lab.sh.
#  1. a clean path: 64 MB of float32 per worker for job 1 (float32), 2 (int16) and
#     3 (int8 blocks, int16 results), every result checked by --verify: bit for bit
#     against the scalar reference, and within the documented bound of the exact sum;
#     then a mean;
#  2. the same through 2% loss, 1% duplication and 25% reordering both ways
#     (netem where the kernel has it, else ainftp-impair), which must have hit;
#  3. misuse: a wrong key, a job the appliance does not have, workers disagreeing on
#     the tensor size or the operation (a collective mismatch), an appliance that is
#     not running: each worker that cannot finish fails with a clear message within
#     its timeout (no hang), no result is ever wrong (--verify's exit 3), and keys
#     never appear in the output. The app's final stats account for every frame.
# Usage: test_e2e.sh APP IMPAIR WORKER SRCDIR [--quick] (--quick: 4 MB, for sanitizers).
# Addresses: 198.18.0.0/24 inside the lab's namespaces only.
set -euo pipefail

app=$1
impair=$2
worker=$3
src=$4
size=64M
[ "${5:-}" = "--quick" ] && size=4M
lab=$src/scripts/lab.sh
cfg=$src/config/lab.json
name=te2e$$
work=$(mktemp -d)

. "$src/tests/lab_lib.sh"

# --- 1. a clean path ------------------------------------------------------------

up
all_verify clean-float32 1
# Two steps, the workers meeting at a barrier before each (ainftp-worker --barrier, as
# scripts/bench-allreduce.sh runs them): 4 workers x 2 arrivals in its file.
all_verify clean-int16 2 --steps 2 --barrier "$work/clean-int16.barrier"
/usr/bin/python3 -c '
import struct, sys
n = struct.unpack("<I", open(sys.argv[1], "rb").read(4))[0]
assert n == 8, "%d arrivals at the barrier, want 8" % n' "$work/clean-int16.barrier" ||
	fail "clean-int16: the barrier file does not count 4 workers x 2 steps"
all_verify clean-int8 3
# Job 1 ran above: a client with default options joins at the step the job is at.
# Every worker stops before the job's step 5 rather than after a count of its own
# steps: one that starts late is out of the quorum (its last process went silent),
# may join a step later than the others, and must not end alone a step beyond them.
all_verify clean-mean 1 --op mean --steps 100 --end-step 5
# A worker with nothing left to do (the job is past its --end-step): no step, and its
# --json line is still JSON (no median, no rate: null, not nan).
run_worker "$work/none" --job 1 --worker 0 --size 1M --steps 3 --end-step 1 --json
[ "$(cat "$work/none.rc")" = 0 ] || fail "none: $(cat "$work/none")"
/usr/bin/python3 -c '
import json, sys
j = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
assert j["steps"] == 0 and j["median_s"] is None and j["gbps"] is None, j
print("ok: none: no step ran, its --json line parses")' "$work/none" || fail "none: $(cat "$work/none")"
down

# --- 2. loss, duplication and reordering ----------------------------------------

up --impair loss=2,dup=1,reorder=25,seed=11
all_verify lossy-float32 1
all_verify lossy-int16 2
all_verify lossy-int8 3
retx=$(cat "$work"/lossy-*.[0-3] | sed -n 's/.* \([0-9]*\) retransmits.*/\1/p' |
	awk '{ s += $1 } END { print s + 0 }')
[ "$retx" -gt 0 ] || fail "lossy: no retransmissions, so nothing was lost"
down
# The relay's counters (netem keeps none per lab): every impairment happened.
if grep -q "ainftp-impair counters" "$work/down.out"; then
	/usr/bin/python3 - "$work/down.out" <<'PY' || fail "the relay did not impair both ways"
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("ainftp-impair counters")][0]
c = json.loads(line.split(":", 1)[1])
for d in ("a2b", "b2a"):
    for k in ("dropped", "duplicated", "reordered"):
        assert c[d][k] > 0, (d, k, c[d])
PY
fi
echo "ok: lossy: $retx retransmissions over 12 workers' runs, every result verified"

# --- 3. misuse --------------------------------------------------------------------

# expect_error TAG TIMEOUT_MS PATTERN: the worker of OUT failed (not exit 3) with a
# message matching PATTERN, in less than its timeout and a margin for the lab.
expect_error() {
	local tag=$1 timeout_ms=$2 pattern=$3 rc
	rc=$(cat "$work/$tag.rc")
	[ "$rc" != 0 ] || fail "$tag: the worker succeeded"
	[ "$rc" != 3 ] || fail "$tag: a wrong result: $(cat "$work/$tag")"
	grep -Eq "$pattern" "$work/$tag" || fail "$tag: no message matching '$pattern': $(cat "$work/$tag")"
	local took=$(($(cat "$work/$tag.end") - $(cat "$work/$tag.start")))
	[ "$took" -lt $((timeout_ms + 5000)) ] || fail "$tag: took $took ms, timeout $timeout_ms ms"
	echo "ok: $tag: exit $rc after $took ms: $(head -c 200 "$work/$tag")"
}
timed_worker() {
	local tag=$1
	shift
	date +%s%3N >"$work/$tag.start"
	run_worker "$work/$tag" "$@"
	date +%s%3N >"$work/$tag.end"
}

up
key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
# A wrong key fails the join: the appliance drops the HELLO for its tag.
timed_worker wrong-key --job 1 --worker 0 --size 1M --steps 1 --opt key=$key --opt timeout_ms=1500
expect_error wrong-key 1500 "join: no HELLO_ACK.*key"
grep -qi "$key" "$work/wrong-key" && fail "wrong-key: the key was printed"
# The appliance counted the refusals (its stats line, once a second).
sleep 1.2
"$lab" stats --name "$name" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
tags = sum(p["drops"].get("tag", 0) for p in s["ports"])
assert tags > 0, s["ports"]
print("ok: wrong-key: the appliance dropped %d packets for their tag" % tags)'

timed_worker no-job --job 9 --worker 0 --size 1M --steps 1
expect_error no-job 0 "job 9"
timed_worker wrong-job --job 1 --worker 0 --size 1M --steps 1 --opt job=9 --opt timeout_ms=1500
expect_error wrong-job 1500 "join: the appliance has no job 9"
# The join names each difference between the worker's view of its job and the appliance's.
timed_worker wrong-worker --job 1 --worker 0 --size 1M --steps 1 --opt worker=60 \
	--opt timeout_ms=1500
expect_error wrong-worker 1500 "join: worker 60 is not a worker of job 1"
timed_worker wrong-elems --job 1 --worker 0 --size 1M --steps 1 --opt elems=2000 \
	--opt timeout_ms=1500
expect_error wrong-elems 1500 "join: job 1's elems_per_packet is 2231 on the appliance, 2000 here"
timed_worker wrong-encoding --job 2 --worker 0 --size 1M --steps 1 --opt encoding=float32 \
	--opt elems=2231 --opt timeout_ms=1500
expect_error wrong-encoding 1500 "join: job 2's encoding is int16 on the appliance, float32 here"
timed_worker wrong-slots --job 1 --worker 0 --size 1M --steps 1 --opt slots=64 --opt timeout_ms=1500
expect_error wrong-slots 1500 "join: job 1's slots is [0-9]+ on the appliance, 64 here"

# Job 10 (every result waits for every worker, min_quorum 4): workers on different
# collectives at one step (issue 18's finding 4; threads of one client that issue
# them in different orders come to the same). Workers 0-2 all-reduce 1 MB, worker
# 3 2 MB: nothing is summed across the two (before, workers 0-2 took a "sum" with
# worker 3's first 1 MB in it), and each side is told at once, naming both sizes.
# Then workers 0-1 sum and 2-3 average 1 MB: the operation differs. Then all four
# agree: they join after the steps where they disagreed, and every result verifies.
# (The first two runs name their step: one that started late would otherwise join
# after the step its peers already gave up, and wait there alone.)
mm="collective mismatch at step [0-9]+, chunk [0-9]+: this worker's all-reduce is of"
# mismatch_case TAG: no worker took a result (none verified an element, none wrong),
# none hung; every worker that was there when the two sides met is told (one that
# started after its side had stopped may find the step given up instead: a skip).
mismatch_case() {
	local tag=$1 w rc took
	for w in 0 1 2 3; do
		rc=$(cat "$work/$tag.$w.rc")
		[ "$rc" != 3 ] || fail "$tag.$w: a wrong result: $(cat "$work/$tag.$w")"
		! grep -q "verified: [1-9]" "$work/$tag.$w" ||
			fail "$tag.$w: took a result across collectives: $(cat "$work/$tag.$w")"
		took=$(($(cat "$work/$tag.$w.end") - $(cat "$work/$tag.$w.start")))
		[ "$took" -lt 9000 ] || fail "$tag.$w: took $took ms"
	done
}
# told TAG PATTERN WORKERS...: at least one of WORKERS was told PATTERN.
told() {
	local tag=$1 pattern=$2 w
	shift 2
	for w in "$@"; do
		if grep -Eq "$pattern" "$work/$tag.$w"; then
			echo "ok: $tag.$w: $(grep -Eo "$pattern" "$work/$tag.$w" | head -1)"
			return 0
		fi
	done
	fail "$tag: none of workers $* was told '$pattern': $(cat "$work/$tag".[0-3])"
}
for w in 0 1 2; do
	timed_worker size.$w --job 10 --worker $w --size 1M --steps 1 --verify 4 \
		--opt timeout_ms=4000 --opt first_step=100 &
done
timed_worker size.3 --job 10 --worker 3 --size 2M --steps 1 --verify 4 --opt timeout_ms=4000 \
	--opt first_step=100 &
wait
mismatch_case size
told size "$mm 262144 elements \(sum\), the other workers' of 524288 elements \(sum\)" 0 1 2
told size "$mm 524288 elements \(sum\), the other workers' of 262144 elements \(sum\)" 3
for w in 0 1 2 3; do
	op=sum
	[ "$w" -lt 2 ] || op=mean
	timed_worker op.$w --job 10 --worker $w --size 1M --steps 1 --verify 4 --op $op \
		--opt timeout_ms=4000 --opt first_step=200 &
done
wait
mismatch_case op
told op "$mm 262144 elements \(sum\), the other workers' of 262144 elements \(mean\)" 0 1
told op "$mm 262144 elements \(mean\), the other workers' of 262144 elements \(sum\)" 2 3
all_verify agreed 10
# The steps where they disagreed were given up, their half sums abandoned for the next.
sleep 1.2
"$lab" stats --name "$name" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
n = sum(p["chunks_abandoned"] for p in s["ports"])
m = sum(p["drops"].get("mismatch", 0) for p in s["ports"])
assert n > 0 and m > 0, s["ports"]
print("ok: size and op: %d contributions refused as mismatch, %d half sums abandoned" % (m, n))'

# The appliance stops: a worker fails with a timeout or the network's word.
kill "$(cat "/run/$name/app.pid")"
for _ in $(seq 50); do kill -0 "$(cat "/run/$name/app.pid")" 2>/dev/null || break; sleep 0.1; done
timed_worker no-app --job 1 --worker 0 --size 1M --steps 1 --opt first_step=20 --opt timeout_ms=1500
expect_error no-app 1500 "join: no HELLO_ACK|unreachable|refused|No route"
down

echo "e2e: all passed"
