#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Heartbeats end to end in one process: ainftp-app --emulate with 4 emulated
# workers (auth on), heartbeats every 20 ms, and the workers lingering a second
# after their last result so that dozens of rounds go by. The final stats line's
# "workers" must show every worker up, acked, with an RTT; then again with
# worker 2 told never to answer (--emu-silent 2): it must be silent with a loss
# near 1 and no acks, the others up. Only hang bounds are timed.
#
#   test_heartbeat.sh APP SRCDIR
set -euo pipefail

app=$1
src=$2
. "$src/tests/emu_lib.sh"

work=$(mktemp -d)
prefix="ainftp-test-hb-$$"
cleanup() {
	rm -rf "$work" /var/run/dpdk/"$prefix"-* 2>/dev/null || true
}
trap cleanup EXIT

cfg="$work/hb.json"
"$src/tests/emu_config.py" "$cfg" --heartbeat-ms 20 --threshold-ms 100

lcores=$(eal_lcores 3)

# run LABEL [EMU OPTIONS...]: the app's stdout in $work/LABEL.out
run() {
	local label=$1 rc=0
	shift
	# shellcheck disable=SC2086
	timeout 120 "$app" $lcores --no-huge -m 512 --no-pci --no-shconf --no-telemetry \
		--file-prefix "$prefix-$label" --log-level=lib.eal:error -- \
		-c "$cfg" --stats-interval 0 --emulate 500 --emu-lcore 2 --emu-linger 1500 "$@" \
		>"$work/$label.out" 2>"$work/$label.err" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "$label: exit status $rc" >&2
		tail -n 20 "$work/$label.err" >&2
		return 1
	fi
	grep '^emulator: workers=' "$work/$label.out"
}

# check LABEL SILENT_ID: the final stats line's workers against what they did (-1: none silent)
check() {
	/usr/bin/python3 - "$work/$1.out" "$2" <<'PY'
import json, sys
path, silent = sys.argv[1], int(sys.argv[2])
final = [json.loads(l) for l in open(path) if l.startswith("{") and '"final":true' in l]
assert len(final) == 1, "want one final stats line, got %d" % len(final)
line = final[0]
workers = {w["id"]: w for w in line["workers"]}
assert sorted(workers) == [0, 1, 2, 3], "workers %s" % sorted(workers)
bad = []
for i, w in sorted(workers.items()):
    print("  worker %d: %s" % (i, json.dumps(w, sort_keys=True)))
    # 1.5 s of lingering at 20 ms: dozens of rounds; ask for a tenth of them.
    if w["job"] != 7 or w["ipv4"] != "10.1.0.%d" % (10 + i) or w["heartbeats_sent"] < 20:
        bad.append("worker %d: job, address or too few heartbeats" % i)
    if i == silent:
        if w["state"] != "silent" or w["acks"] != 0 or w["loss"] < 0.9 or w["last_seen_ms"] != -1:
            bad.append("worker %d should be silent, with no acks and loss near 1" % i)
    elif (w["state"] != "up" or w["acks"] < 10 or w["rtt_us"] <= 0 or w["loss"] > 0.5
          or w["last_seen_ms"] < 0):
        bad.append("worker %d should be up, acked, with an RTT" % i)
port = line["ports"][0]
if port["heartbeat_acks"] != sum(w["acks"] for w in workers.values()):
    bad.append("port heartbeat_acks %d != the workers' acks" % port["heartbeat_acks"])
if port["heartbeats_sent"] != sum(w["heartbeats_sent"] for w in workers.values()):
    bad.append("port heartbeats_sent %d != the workers' heartbeats" % port["heartbeats_sent"])
if port["drops_total"] != 0:
    bad.append("drops: %s" % port["drops"])
if bad:
    sys.exit("; ".join(bad))
PY
}

failures=0
for label in all-up one-silent; do
	if [ "$label" = all-up ]; then silent=-1 opts=(); else silent=2 opts=(--emu-silent 2); fi
	if run "$label" "${opts[@]}" && check "$label" "$silent"; then
		echo "ok   $label"
	else
		echo "FAIL $label"
		failures=$((failures + 1))
	fi
done
echo "heartbeat: 2 runs, $failures failed"
[ "$failures" = 0 ]
