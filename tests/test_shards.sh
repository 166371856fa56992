#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A job's chunks shared out over two boxes (issue 19, docs/PROTOCOL.md "Shards"):
# the lab with --boxes 2 (config/lab-shards.json: jobs 11 int16, 12 int8 blocks
# with int16 results, 13 float32, each over 198.18.0.1 and 198.18.0.2) and 4 real
# ainftp-worker processes checking every result bit for bit (--verify):
#  1. a clean path: each job, a request of many chunks and one of a single chunk
#     (all on box 1: box 0 has none of it, and its step moves on regardless);
#     both boxes summed data, every frame of both accounted for;
#  2. loss, duplication and reordering on every box's path (one relay between
#     the boxes' bridge and the workers), the same checks;
#  3. a worker whose cluster.json lists the boxes the other way round: its join
#     fails, naming both views of the shard;
#  4. box 1 killed mid-run: every worker fails within its timeout naming
#     198.18.0.2 as shard 1 of 2, none hangs, none takes a wrong result.
#
#   test_shards.sh SRCDIR APP WORKER IMPAIR
set -euo pipefail

src=$1 app=$2 worker=$3 impair=$4
size=4M
lab=$src/scripts/lab.sh
name=tshard$$
work=$(mktemp -d)
cfg=$src/config/lab-shards.json
# shellcheck source=tests/lab_lib.sh
. "$src/tests/lab_lib.sh"

# Both boxes' final stats (down's output): each summed DATA of every job.
both_boxes_summed() {
	/usr/bin/python3 - "$work/down.out" <<'PY' || fail "both boxes: $(cat "$work/down.out" | head -c 300)"
import json, sys
finals = []
for line in open(sys.argv[1]):
    i = line.find('{"ainftp_stats"')
    if i >= 0 and '"final"' in line:
        finals.append(json.loads(line[i:]))
assert len(finals) == 2, "%d final stats lines, want 2 (one per box)" % len(finals)
for k, o in enumerate(finals):
    data = sum(p["data_pkts"] for p in o["ports"])
    done = sum(p["chunks_done"] for p in o["ports"])
    assert data > 0 and done > 0, "box %d: %d DATA, %d chunks done" % (k, data, done)
    print("box %d: %d DATA summed, %d chunks done" % (k, data, done))
PY
}

# --- 1. clean -----------------------------------------------------------------------

up --boxes 2
for job in 11 12 13; do
	all_verify "clean-$job" "$job" --steps 2
	all_verify "one-chunk-$job" "$job" --size 8K
done
down
both_boxes_summed

# --- 2. impaired on every path -----------------------------------------------------

up --boxes 2 --impair loss=2,dup=1,reorder=2
for job in 11 12 13; do
	all_verify "impaired-$job" "$job" --steps 2
done
down
both_boxes_summed

# --- 3. the boxes listed the other way round ----------------------------------------

/usr/bin/python3 - "$cfg" "$work/swapped.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["jobs"] = [j for j in c["jobs"] if "appliances" in j]
for j in c["jobs"]:
    j["appliances"] = j["appliances"][::-1]
c["appliance"]["ipv4"] = c["jobs"][0]["appliances"][0]
json.dump(c, open(sys.argv[2], "w"))
PY
up --boxes 2
cfg=$work/swapped.json run_worker "$work/swapped" --job 11 --worker 0 --size 1M --steps 1
[ "$(cat "$work/swapped.rc")" != 0 ] || fail "swapped: a worker with the boxes the other way round ran"
grep -q "the cluster.json files differ" "$work/swapped" ||
	fail "swapped: no shard mismatch named: $(tail -3 "$work/swapped")"
echo "ok: swapped: $(grep -m1 -o 'box [0-9.]* is shard [^:]*' "$work/swapped")"

# --- 4. box 1 killed mid-run ----------------------------------------------------------

worker_timeout=60 # a worker still running then hangs (exit 124)
for w in 0 1 2 3; do
	run_worker "$work/kill.$w" --job 11 --worker "$w" --size 4M --steps 1000 \
		--verify 4 --opt timeout_ms=3000 &
done
sleep 3
kill -KILL "$(cat "/run/$name/app1.pid")"
t0=$(date +%s)
wait
secs=$(($(date +%s) - t0))
for w in 0 1 2 3; do
	rc=$(cat "$work/kill.$w.rc")
	[ "$rc" != 0 ] || fail "kill: worker $w ran 1000 steps with box 1 gone"
	[ "$rc" != 3 ] || fail "kill: worker $w took a wrong result"
	[ "$rc" != 124 ] || fail "kill: worker $w hung"
	grep -q "198.18.0.2 (shard 1 of 2)" "$work/kill.$w" ||
		fail "kill: worker $w does not name box 1: $(tail -3 "$work/kill.$w")"
done
[ "$secs" -le 20 ] || fail "kill: the workers took $secs s to fail (timeout 3 s)"
echo "ok: kill: every worker failed within $secs s: $(grep -m1 -o 'appliance 198.18.0.2 (shard 1 of 2)[^;]*' "$work/kill.0")"
down # box 0's frames all accounted for; box 1 died with its counters
echo "shards: ok"
