#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A job aggregated by leaf boxes that send their partial sums to a spine box
# (issue 19): the lab with --boxes 3 --spine 2 (config/lab-hier.json: jobs 21
# int16, 22 int8 blocks with int16 results, 23 float32, each with leaves
# 198.18.0.1 (workers 0, 1) and 198.18.0.2 (workers 2, 3) and spine 198.18.0.3;
# job 24, job 21's settings on 198.18.0.1 alone, for reference) and 4 real
# ainftp-worker processes checking every result bit for bit (--verify):
#  1. a clean path: each job, a request of many chunks and one of a single chunk;
#     every box (both leaves and the spine) summed data, every frame accounted for;
#  2. loss, duplication and reordering on the workers' path (one relay between
#     the boxes' bridge and the workers) and on the spine's (a relay of its own
#     between box 2 and the bridge, --spine 2), the same checks; both relays
#     dropped and duplicated frames;
#  3. the spine killed mid-run: every worker fails within its timeout saying its
#     leaf waits for its upstream box, none hangs, none takes a wrong result, and
#     the leaves report the spine gone.
#
#   test_hier.sh SRCDIR APP WORKER IMPAIR
set -euo pipefail

src=$1 app=$2 worker=$3 impair=$4
size=4M
lab=$src/scripts/lab.sh
name=thier$$
work=$(mktemp -d)
cfg=$src/config/lab-hier.json
spine=2 # box 2 is 198.18.0.3: the boxes are the leaves' addresses, then the spine's
# shellcheck source=tests/lab_lib.sh
. "$src/tests/lab_lib.sh"

# Every box's final stats (down's output): each summed DATA and completed chunks;
# with "clean", none refused a frame as off its lane (a result the spine sent to
# the wrong lane of a leaf is lost there, and costs the leaf an rto).
every_box_summed() {
	/usr/bin/python3 - "$work/down.out" 3 "${1:-}" <<'PY' || fail "every box: $(head -c 300 "$work/down.out")"
import json, sys
finals = []
for line in open(sys.argv[1]):
    i = line.find('{"ainftp_stats"')
    if i >= 0 and '"final"' in line:
        finals.append(json.loads(line[i:]))
want = int(sys.argv[2])
assert len(finals) == want, "%d final stats lines, want %d (one per box)" % (len(finals), want)
for k, o in enumerate(finals):
    data = sum(p["data_pkts"] for p in o["ports"])
    done = sum(p["chunks_done"] for p in o["ports"])
    assert data > 0 and done > 0, "box %d: %d DATA, %d chunks done" % (k, data, done)
    lane = sum(p["drops"].get("lane", 0) for p in o["ports"])
    assert sys.argv[3] != "clean" or lane == 0, "box %d: %d frames off their lane" % (k, lane)
    print("box %d: %d DATA summed, %d chunks done" % (k, data, done))
PY
}

# Both relays' counters (down's output): the workers' path's ("ainftp-impair
# counters:") and the spine's ("ainftp-impair (spine, box 2) counters:") each
# relayed both ways and dropped and duplicated frames.
both_relays_impaired() {
	/usr/bin/python3 - "$work/down.out" "$spine" <<'PY' || fail "relays: $(grep impair "$work/down.out")"
import json, sys
labels = {"workers' path": "ainftp-impair counters: ",
          "spine's path": "ainftp-impair (spine, box %s) counters: " % sys.argv[2]}
lines = open(sys.argv[1]).read().splitlines()
for what, label in labels.items():
    got = [l[len(label):] for l in lines if l.startswith(label)]
    assert len(got) == 1, "%s: %d lines starting %r, want 1" % (what, len(got), label)
    c = json.loads(got[0])
    for d in ("a2b", "b2a"):
        assert c[d]["frames"] > 0, (what, d, c[d])
    dropped = c["a2b"]["dropped"] + c["b2a"]["dropped"]
    duplicated = c["a2b"]["duplicated"] + c["b2a"]["duplicated"]
    assert dropped > 0 and duplicated > 0, (what, c)
    print("%s relay: %d frames, %d dropped, %d duplicated (seed %s)"
          % (what, c["a2b"]["frames"] + c["b2a"]["frames"], dropped, duplicated, c["seed"]))
PY
}

# Each leaf reports the spine gone: its log names it ("job 21: spine 198.18.0.3
# silent for N ms ..."), and its telemetry says "upstream": "down" for job 21,
# within 10 s of the kill (a chunk must have waited a second for it first).
leaves_report_spine_down() {
	local k log prefix end=$(($(date +%s) + 10))
	prefix=$(sed -n 's/.*DPDK file-prefix \([^:]*\):.*/\1/p' "$work/up.out")
	[ -n "$prefix" ] || fail "kill: no file-prefix in lab up's output"
	for k in "" 1; do # box 0 and box 1, the leaves
		log=/run/$name/app$k.err
		until grep -q "job 21: spine 198.18.0.3 silent for" "$log" 2>/dev/null; do
			[ "$(date +%s)" -lt "$end" ] ||
				fail "kill: leaf box ${k:-0} did not log the spine gone: $(tail -3 "$log")"
			sleep 0.5
		done
		echo "ok: kill: leaf box ${k:-0}: $(grep -m1 'spine 198.18.0.3 silent' "$log")"
		echo /ainftp/jobs | ip netns exec "$name-box" dpdk-telemetry.py \
			-f "$prefix${k:+-$k}" >"$work/jobs$k.json" 2>&1 ||
			fail "kill: leaf box ${k:-0}'s telemetry: $(tail -3 "$work/jobs$k.json")"
		/usr/bin/python3 - "$work/jobs$k.json" <<'PY' || fail "kill: leaf box ${k:-0}'s telemetry"
import json, sys
t = open(sys.argv[1]).read()
tree = json.loads(t[t.find("{"):])["/ainftp/jobs"]["job21"]["tree"]
assert tree["role"] == "leaf" and tree["upstream"] == "down", tree
assert float(tree["waiting_ms"]) >= 1000, tree
print("ok: telemetry: job 21 upstream %s, waiting %.0f ms, silent %s ms"
      % (tree["upstream"], float(tree["waiting_ms"]), tree["silent_ms"]))
PY
	done
}

# --- 1. clean -----------------------------------------------------------------------

up --boxes 3 --spine "$spine"
for job in 21 22 23 24; do
	all_verify "clean-$job" "$job" --steps 2
	all_verify "one-chunk-$job" "$job" --size 8K
done
down
every_box_summed clean

# --- 2. impaired on the workers' path and the spine's -------------------------------

# A chunk stuck for good still fails (it once did: the spine gave up a chunk
# that a leaf had sent in part); a result lost while its chunk waited, found
# only at the worker's backed-off probe (rto_max_us, 1 s), must not: three
# apps, two relays and four workers share two CPUs here, under ASan too.
up --boxes 3 --spine "$spine" --impair loss=2,dup=1,reorder=2
for job in 21 22 23; do
	all_verify "impaired-$job" "$job" --steps 2 --opt timeout_ms=10000
	all_verify "impaired-one-chunk-$job" "$job" --size 8K --opt timeout_ms=10000
done
down
every_box_summed
both_relays_impaired

# --- 3. the spine killed mid-run -------------------------------------------------------

up --boxes 3 --spine "$spine"
worker_timeout=60 # a worker still running then hangs (exit 124)
for w in 0 1 2 3; do
	run_worker "$work/kill.$w" --job 21 --worker "$w" --size 4M --steps 1000 \
		--verify 4 --opt timeout_ms=3000 &
done
sleep 3
kill -KILL "$(cat "/run/$name/app$spine.pid")"
t0=$(date +%s)
wait
secs=$(($(date +%s) - t0))
for w in 0 1 2 3; do
	rc=$(cat "$work/kill.$w.rc")
	[ "$rc" != 0 ] || fail "kill: worker $w ran 1000 steps with the spine gone"
	[ "$rc" != 3 ] || fail "kill: worker $w took a wrong result"
	[ "$rc" != 124 ] || fail "kill: worker $w hung"
	grep -q upstream "$work/kill.$w" ||
		fail "kill: worker $w does not say its leaf waits for its upstream: $(tail -3 "$work/kill.$w")"
done
[ "$secs" -le 20 ] || fail "kill: the workers took $secs s to fail (timeout 3 s)"
echo "ok: kill: every worker failed within $secs s: $(grep -m1 upstream "$work/kill.0")"
leaves_report_spine_down
down # the leaves' frames all accounted for; the spine died with its counters
echo "hier: ok"
