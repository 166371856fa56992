#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# ainftp-app as a user runs it on the loopback config: it prints JSON stats lines,
# answers dpdk-telemetry.py, and exits 0 with a final stats line within 2 s of
# SIGINT. Then the same for SIGTERM; in idle mode (--idle-us) it sleeps instead
# of spinning when nothing comes (idle_sleeps, and under half the CPU); and the
# command-line errors exit 2.
set -euo pipefail

app=$1
src=$2
prefix="ainftp-test-app-$$"
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	rm -rf "$work" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

eal=(-l 0-1 --no-huge -m 512 --no-pci --vdev=net_ring0 --no-shconf --file-prefix "$prefix")

# start [APP OPTION...]
start() {
	# The last run's lines go first: the background shell may open (and empty) the
	# file only after the loop below has read the old one and signalled too early.
	rm -f "$work/out" "$work/err"
	"$app" "${eal[@]}" -- -c "$src/config/loopback.json" --stats-interval 1 "$@" \
		>"$work/out" 2>"$work/err" &
	pid=$!
	# Up when the first periodic stats line is out.
	for _ in $(seq 100); do
		grep -q '"ainftp_stats"' "$work/out" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; fail "app exited early"; }
		sleep 0.1
	done
	cat "$work/err" >&2
	fail "no stats line within 10 s"
}

# Wait at most 2 s for the app to exit after a signal; echo its status.
stop_within_2s() {
	local sig=$1 t0 t1
	t0=$(date +%s%N)
	kill "-$sig" "$pid"
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	kill -0 "$pid" 2>/dev/null && fail "still running 2 s after SIG$sig"
	t1=$(date +%s%N)
	local rc=0
	wait "$pid" || rc=$?
	pid=
	echo "SIG$sig: exited $rc after $(((t1 - t0) / 1000000)) ms" >&2
	[ "$rc" = 0 ] || { cat "$work/err" >&2; fail "exit status $rc after SIG$sig"; }
}

# Every stats line is a JSON object; the last one is final.
check_stats_lines() {
	/usr/bin/python3 - "$work/out" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith('{')]
assert len(lines) >= 2, "expected periodic and final stats lines, got %d" % len(lines)
objs = [json.loads(l) for l in lines]
assert all(o["ainftp_stats"] for o in objs)
assert objs[-1]["final"] is True and not any(o["final"] for o in objs[:-1])
port = objs[-1]["ports"][0]
assert port["name"] == "net_ring0", port
roles = sorted(l["role"] for l in objs[-1]["lcores"])
assert roles == ["control", "rx"], roles
print("stats lines: %d, all JSON" % len(objs))
PY
}

start
# dpdk-telemetry.py, as an operator would use it.
for cmd in /ainftp/stats /ainftp/ports; do
	echo "$cmd" | dpdk-telemetry.py -f "$prefix" >"$work/tel" 2>&1 || true
	/usr/bin/python3 - "$work/tel" "$cmd" <<'PY' || fail "telemetry $cmd"
import json, sys
text = open(sys.argv[1]).read()
# dpdk-telemetry.py echoes the greeting, then the reply: take the JSON with our command.
dec, i, found = json.JSONDecoder(), 0, None
while i < len(text):
    j = text.find('{', i)
    if j < 0:
        break
    try:
        obj, end = dec.raw_decode(text, j)
    except ValueError:
        i = j + 1
        continue
    if sys.argv[2] in obj:
        found = obj[sys.argv[2]]
    i = end
assert isinstance(found, dict), "no reply to %s in: %s" % (sys.argv[2], text)
if sys.argv[2] == "/ainftp/stats":
    assert "rx_pkts" in found and "lcore1" in found["lcores"], found
else:
    assert found["port0"]["name"] == "net_ring0", found
print("telemetry %s: ok" % sys.argv[2])
PY
done
stop_within_2s INT
check_stats_lines

# CPU ticks (user + system) the app used over 2 s of no traffic.
idle_ticks() {
	local a b
	a=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	sleep 2
	b=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	echo $((b - a))
}

start
spin=$(idle_ticks)
stop_within_2s TERM
check_stats_lines

# Idle mode: with nothing to receive, the RX lcore sleeps instead of spinning:
# it says so in idle_sleeps, and the app uses under half the CPU it spun with.
start --idle-us 1000
idle=$(idle_ticks)
stop_within_2s TERM
echo "CPU ticks over 2 s without traffic: $spin spinning, $idle in idle mode" >&2
[ "$((idle * 2))" -lt "$spin" ] || fail "idle mode used $idle ticks, spinning $spin"
/usr/bin/python3 - "$work/out" <<'PY' || fail "idle_sleeps"
import json, sys
final = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')][-1]
rx = [l for l in final["lcores"] if l["role"] == "rx"]
assert rx and all(l["idle_sleeps"] > 0 for l in rx), rx
print("idle_sleeps: %s" % [l["idle_sleeps"] for l in rx])
PY

# Command-line mistakes: one line, exit 2, before EAL starts.
expect_usage_error() {
	local want=$1 rc=0
	shift
	"$app" "$@" >/dev/null 2>"$work/err" || rc=$?
	[ "$rc" = 2 ] || fail "exit $rc (want 2) for: $*"
	grep -qF -- "$want" "$work/err" || { cat "$work/err" >&2; fail "no '$want' for: $*"; }
}
expect_usage_error "missing -c FILE" "${eal[@]}"
expect_usage_error "unknown option \"--bogus\"" "${eal[@]}" -- --bogus
expect_usage_error "--stats-interval: \"x\" is not a whole number in 0..3600" "${eal[@]}" -- -c f --stats-interval x
expect_usage_error "--stats-interval: \"+5\" is not a whole number in 0..3600" "${eal[@]}" -- -c f --stats-interval +5
expect_usage_error "--stats-interval: \" 5\" is not a whole number in 0..3600" "${eal[@]}" -- -c f --stats-interval " 5"
expect_usage_error "--emulate: \"-1\" is not a whole number in 1..4294967295" "${eal[@]}" -- -c f --emulate -1
expect_usage_error "-c: missing its argument" "${eal[@]}" -- -c
expect_usage_error "--idle-us: \"100001\" is not a whole number in 0..100000" "${eal[@]}" -- -c f --idle-us 100001
expect_usage_error "cannot read" "${eal[@]}" -- -c "$work/nonexistent.json"
"$app" --version | grep -qx "ainftp-app [0-9.]*" || fail "--version"
"$app" -- --help | grep -q '^usage: ainftp-app ' || fail "--help"
echo "app: ok"
