#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Stragglers and the quorum end to end in one process: ainftp-app --emulate
# with 4 emulated workers (auth on), straggler.threshold_ms 300, heartbeats
# every 100 ms (the default), each worker paced at 40 new chunks a second.
# Every result is checked bit for bit against the reference sum over the
# workers its bitmap names (the app exits 3 otherwise), and the summary line
# says how many results had how many contributors and who was absent.
#
#   delay      worker 2's data leaves 1 s late from chunk 40 on (min_quorum 3):
#              every result of a chunk from 40 on has 3 contributors and lacks
#              worker 2 only, all those before have 4; the first partial result
#              comes at least 0.8 x threshold and at most threshold + one
#              heartbeat interval + TOLERANCE_MS after the delay started.
#   kill       worker 1 stops entirely at chunk 40 for 1.5 s, then restarts and
#              rejoins at a step boundary (20 chunks a step): results without it
#              (and only without it) while it is out, within the same bound of
#              the kill; once it is back in the quorum (within 3 steps of the
#              step it restarts at) every result includes it again.
#   floor      as delay, with min_quorum 4: the straggler leaves the quorum, but
#              no result has fewer than 4 contributors (results wait).
#
# TOLERANCE_MS (100): the bound is the acceptance's threshold + one heartbeat
# interval (400 ms); measured first partials are 300-340 ms here, and the extra
# 100 ms is for a 2-core shared VM where three busy lcores share two CPUs (time
# slices of several ms each) on top of the control lcore's 10 ms tick. A scenario in which a worker other than
# the faulty one leaves the quorum (logged by the control lcore: all of them go
# silent at once when the VM stalls the process for 300 ms) is run once more, and
# says so; a second such run fails.
#
#   test_straggler.sh APP SRCDIR
set -euo pipefail

app=$1
src=$2
. "$src/tests/emu_lib.sh"

THRESHOLD_MS=300
HEARTBEAT_MS=100
TOLERANCE_MS=100
STEP=20 # chunks per step in the kill scenario

work=$(mktemp -d)
prefix="ainftp-test-strag-$$"
cleanup() {
	rm -rf "$work" /var/run/dpdk/"$prefix"-* 2>/dev/null || true
}
trap cleanup EXIT

for q in 3 4; do
	"$src/tests/emu_config.py" "$work/q$q.json" --threshold-ms "$THRESHOLD_MS" --min-quorum "$q" \
		--heartbeat-ms "$HEARTBEAT_MS"
done

lcores=$(eal_lcores 3)

# run LABEL CONFIG [EMU OPTIONS...]: the app's stdout and stderr in $work/LABEL.{out,err}
run() {
	local label=$1 cfg=$2 rc=0
	shift 2
	# shellcheck disable=SC2086
	timeout 60 "$app" $lcores --no-huge -m 512 --no-pci --no-shconf --no-telemetry \
		--file-prefix "$prefix-$label" --log-level=lib.eal:error -- \
		-c "$cfg" --stats-interval 0 --emu-lcore 2 --emu-rate 40 --emu-timeout 20000 "$@" \
		>"$work/$label.out" 2>"$work/$label.err" || rc=$?
	grep '^emulator: workers=' "$work/$label.out" || true
	grep -E 'leaves the quorum|rejoins|emulator: worker' "$work/$label.err" | sed 's/^/  /' || true
	if [ "$rc" != 0 ]; then
		echo "$label: exit status $rc" >&2
		tail -n 5 "$work/$label.err" >&2
		return 1
	fi
}

# check LABEL SCENARIO FAULTY_ID CHUNKS [FROM]: the summary line against the scenario.
# Exit status 2: another worker than the faulty one left the quorum (the VM stalled).
check() {
	/usr/bin/python3 - "$work/$1.out" "$work/$1.err" "$2" "$3" "$4" "${5:-0}" \
		"$THRESHOLD_MS" "$HEARTBEAT_MS" "$TOLERANCE_MS" "$STEP" <<'PY'
import re, sys
out, err, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
faulty, chunks, first = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
threshold, hb, tol = (float(a) for a in sys.argv[7:10])
step = int(sys.argv[10])
line = [l for l in open(out) if l.startswith("emulator: workers=")]
assert len(line) == 1, "want one summary line, got %d" % len(line)
line = line[0]
f = dict(re.findall(r"(\w+)=(\S+)", re.sub(r": (PASS|FAIL.*)$", "", line.rstrip())))
details = [l for l in open(out) if l.startswith("emulator: details:")]
d = dict(re.findall(r"(\w+)=(\S+)", details[0])) if details else {}
def counts(s):
    return {} if s == "-" else {int(k): int(v) for k, v in (p.split(":") for p in s.split(","))}
by_count, absent = counts(f["by_count"]), counts(f["absent"])
partial, checked = int(f["partial"]), int(f["results_checked"])
p_last, f_last = int(f["partial_last"]), int(f["full_last"])
after = float(f["first_partial_after_ms"])
left = [int(m) for m in re.findall(r"worker (\d+) leaves the quorum", open(err).read())]
bad = []
if not line.rstrip().endswith(": PASS") or int(f["exact"]) != checked:
    bad.append("not every result exact")
if sum(by_count.values()) != checked:
    bad.append("by_count %s does not add up to %d results" % (by_count, checked))
bound = threshold + hb + tol
if scenario in ("delay", "kill"):
    if any(w != faulty for w in left):
        print("  workers %s left the quorum: the VM stalled" % left)
        sys.exit(2)
    if faulty not in left:
        bad.append("worker %d never left the quorum" % faulty)
    if partial == 0 or by_count.get(3, 0) != partial or set(by_count) - {3, 4}:
        bad.append("want partial results of 3 contributors only: %s" % by_count)
    if absent != {faulty: partial}:
        bad.append("want partial results without worker %d only: absent=%s" % (faulty, absent))
    low = 0.8 * threshold if scenario == "delay" else 0
    if not low <= after <= bound:
        bad.append("first partial result %.1f ms after the fault, want %.0f..%.0f"
                   % (after, low, bound))
if scenario == "delay":
    # From the delay on, every chunk completes without the straggler; before it, with.
    if f_last != first - 1 or p_last != chunks - 1:
        bad.append("full results up to chunk %d and partial up to %d, want %d and %d"
                   % (f_last, p_last, first - 1, chunks - 1))
    if int(d.get("delayed", 0)) == 0:
        bad.append("nothing was delayed")
if scenario == "kill":
    rejoin, after_rejoin = int(f["rejoin_at"]), int(f["full_after_rejoin"])
    if rejoin < 0 or after_rejoin == 0:
        bad.append("worker %d never rejoined (rejoin_at=%d, full results after it %d)"
                   % (faulty, rejoin, after_rejoin))
    # Back in the quorum within a few steps of its restart (hysteresis: 8 contributions,
    # an ack, then the next unstarted step): every later result has it.
    if not (first <= p_last < rejoin + 3 * step and f_last == chunks - 1):
        bad.append("partial results up to chunk %d, full up to %d: want none from chunk %d on"
                   % (p_last, f_last, rejoin + 3 * step))
    if int(f["skipped"]) == 0:
        bad.append("the killed worker skipped nothing")
if scenario == "floor":
    if faulty not in left:
        bad.append("worker %d never left the quorum" % faulty)
    if partial != 0 or set(by_count) != {4} or absent:
        bad.append("results below min_quorum 4: by_count=%s absent=%s" % (by_count, absent))
print("  first_partial_after_ms=%s" % f["first_partial_after_ms"])
if bad:
    sys.exit("; ".join(bad))
PY
}

# scenario LABEL SCENARIO CONFIG FAULTY CHUNKS FROM [EMU OPTIONS...]: run and check, once more
# after a stall.
failures=0
scenario() {
	local label=$1 kind=$2 cfg=$3 faulty=$4 chunks=$5 from=$6 try rc
	shift 6
	for try in 1 2; do
		rc=0
		if run "$label-$try" "$cfg" --emulate "$chunks" "$@"; then
			check "$label-$try" "$kind" "$faulty" "$chunks" "$from" || rc=$?
		else
			rc=1
		fi
		if [ "$rc" = 2 ] && [ "$try" = 1 ]; then
			echo "     $label: a healthy worker left the quorum (stall): once more"
			continue
		fi
		break
	done
	if [ "$rc" = 0 ]; then
		echo "ok   $label"
	else
		echo "FAIL $label"
		failures=$((failures + 1))
	fi
}

scenario delay delay "$work/q3.json" 2 200 40 --emu-delay 2:1000:40
scenario kill kill "$work/q3.json" 1 300 40 --emu-step "$STEP" --emu-window 16 --emu-kill 1:40:1500
scenario floor floor "$work/q4.json" 2 120 40 --emu-delay 2:1000:40
echo "straggler: 3 scenarios, $failures failed"
[ "$failures" = 0 ]
