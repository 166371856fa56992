#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Membership that heals itself (protocol version 2), through the real app and
# real kernel clients in the lab of scripts/lab.sh, with cluster.json's
# defaults (min_quorum a majority). Job 4: 4 workers, float32, auth on.
#
#   restart   worker 3 is killed (SIGKILL) once the job is at step 3 and started
#             again: it joins at
#             the job's step (HELLO), the others go on without it meanwhile, and
#             every worker's results verify over the workers each chunk names.
#   rejoin    worker 0's first process joins (HELLO) and dies before its first
#             all-reduce; the others run 30 steps without it (it leaves the
#             quorum). Then all four run again, worker 0 a new process: its
#             HELLO makes it a member again from its step, so the second run's
#             chunks complete with all four (at most one step's worth without
#             it: the start race of four processes), and nobody skips a step
#             (requests of 1000 elements, 3 chunks, as in a small model's).
#   delay     worker 3 sleeps 1 s before its step 3: more than a slot's turn
#             behind, it is told so (STATE), skips what the job finished
#             without it (AINFTP_E_SKIPPED, counted), rejoins, and ends with the
#             others; every result any worker got verifies over its bitmap.
#   forged    a host in the workers' network sends worker 0 RESULTs spoofed from
#             the appliance's address, for the job, steps, chunks and slots it
#             is running, with a wrong tag, for 3 s (worker 0 pauses 1.5 s at its
#             step 2, so the two overlap on any machine): all dropped and
#             counted (bad_tags), the run verifies, and the appliance abandons
#             no chunk.
#
#   test_catchup.sh APP IMPAIR WORKER SRCDIR
# Addresses: 198.18.0.0/24 inside the lab's namespaces only.
set -euo pipefail

app=$1
impair=$2
worker=$3
src=$4
lab=$src/scripts/lab.sh
cfg=$src/config/lab.json
name=tcu$$
work=$(mktemp -d)
END=40 # every worker stops before this step of the job

. "$src/tests/lab_lib.sh"
# run_worker OUT WORKER-ARGS...: one worker of job 4; its exit status in OUT.rc.
run_worker() {
	local out=$1 rc=0
	shift
	"$lab" exec --name "$name" -- "$worker" -c "$cfg" --job 4 --size 1M --verify 4 \
		--end-step $END --steps 1000 --json --progress 0 "$@" >"$out" 2>"$out.err" || rc=$?
	echo "$rc" >"$out.rc"
}
# ok_worker OUT: it exited 0 and verified what it got.
ok_worker() {
	[ "$(cat "$1.rc")" = 0 ] || fail "$(basename "$1"): exit $(cat "$1.rc"): $(tail -3 "$1.err")"
	/usr/bin/python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["checked"] > 0 and r["steps"] > 0, r
' "$1" || fail "$(basename "$1"): nothing verified: $(cat "$1")"
}
json_field() {
	/usr/bin/python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}
# job_step: the highest step the appliance has started for job 4.
job_step() {
	"$lab" stats --name "$name" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
print(max([j["max_step"] for j in s["jobs"] if j["id"] == 4] + [0]))'
}
box_counter() {
	"$lab" stats --name "$name" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(p.get(sys.argv[1], 0) for p in s["ports"]))' "$1"
}

# --- restart -------------------------------------------------------------------
up
for w in 0 1 2; do run_worker "$work/restart.$w" --worker $w & done
# The first life of worker 3 ends by SIGKILL, mid-run, once the job is at step 3
# (by the job's progress, not the clock: the others must still have steps to go).
"$lab" exec --name "$name" -- "$worker" -c "$cfg" --job 4 --worker 3 --size 1M --steps 1000 \
	--progress 0 --opt timeout_ms=5003 >/dev/null 2>&1 &
first=$!
for _ in $(seq 300); do
	[ "$(job_step)" -ge 3 ] && break
	sleep 0.05
done
pkill -KILL -f "timeout_ms=5003" || fail "restart: worker 3's first life was not running"
wait "$first" 2>/dev/null || true
run_worker "$work/restart.3" --worker 3
wait
for w in 0 1 2 3; do ok_worker "$work/restart.$w"; done
echo "ok: restart: worker 3 killed at the job's step 3 and started again; all four verify" \
	"(worker 3 ran $(json_field "$work/restart.3" steps) steps after its restart," \
	"the others $(json_field "$work/restart.0" steps))"
down

# --- rejoin --------------------------------------------------------------------
up
# Its first life joins and sleeps before step 0; it is killed once the appliance has
# taken its HELLO (the stats line, every second, counts it).
"$lab" exec --name "$name" -- "$worker" -c "$cfg" --job 4 --worker 0 --size 1M --steps 1 \
	--pause 0:60000 --progress 0 --opt timeout_ms=5004 >/dev/null 2>&1 &
first=$!
for _ in $(seq 200); do
	[ "$(box_counter hellos)" -ge 1 ] && break
	sleep 0.05
done
[ "$(box_counter hellos)" -ge 1 ] || fail "rejoin: no HELLO from worker 0's first life"
pkill -KILL -f "timeout_ms=5004" || fail "rejoin: worker 0's first life was not running"
wait "$first" 2>/dev/null || true
for w in 1 2 3; do
	run_worker "$work/rejoin.first.$w" --worker $w --size 4000 --steps 30 &
done
wait
for w in 1 2 3; do ok_worker "$work/rejoin.first.$w"; done
sleep 1.2 # the stats line after the first run
partial_first=$(box_counter chunks_partial)
[ "$partial_first" -gt 0 ] || fail "rejoin: the first run had no result without worker 0"
# The second run: 30 steps from the job's next. Each worker sleeps 1 s between its
# HELLO and its first all-reduce, so that all four have joined before any of them
# sends (four processes started at once may start far apart on a loaded machine).
second=$(($(job_step) + 1))
for w in 0 1 2 3; do
	run_worker "$work/rejoin.$w" --worker $w --size 4000 --pause 0:1000 \
		--end-step $((second + 30)) &
done
wait
for w in 0 1 2 3; do
	ok_worker "$work/rejoin.$w"
	[ "$(json_field "$work/rejoin.$w" requests_skipped)" = 0 ] ||
		fail "rejoin: worker $w skipped requests: $(cat "$work/rejoin.$w")"
done
sleep 1.2
per_step=$(( $(json_field "$work/rejoin.1" first_sends) / 30 ))
partial=$(( $(box_counter chunks_partial) - partial_first ))
[ "$partial" -le "$per_step" ] ||
	fail "rejoin: $partial chunks of the second run completed without a worker" \
		"($per_step chunks a step): worker 0's new process was not taken back"
echo "ok: rejoin: worker 0 died after its HELLO, the others ran on without it" \
	"($partial_first partial chunks); its new process was a member again:" \
	"$partial of $((per_step * 30)) chunks of the second run without a worker"
down

# --- delay ---------------------------------------------------------------------
up
for w in 0 1 2; do run_worker "$work/delay.$w" --worker $w & done
run_worker "$work/delay.3" --worker 3 --pause 3:1000 &
wait
for w in 0 1 2 3; do ok_worker "$work/delay.$w"; done
skipped=$(json_field "$work/delay.3" requests_skipped)
[ "$skipped" -ge 1 ] || fail "delay: worker 3 skipped nothing: $(cat "$work/delay.3")"
echo "ok: delay: worker 3 slept 1 s, skipped $skipped request(s)" \
	"($(json_field "$work/delay.3" chunks_skipped) chunks), rejoined and verified;" \
	"partial results: $(box_counter chunks_partial)"
down

# --- forged --------------------------------------------------------------------
up
box=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["appliance"]["ipv4"])' "$cfg")
victim=$(/usr/bin/python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
print([w["ipv4"] for j in c["jobs"] if j["id"] == 4 for w in j["workers"] if w["id"] == 0][0])' "$cfg")
run_worker "$work/forged.0" --worker 0 --opt bind_port=41000 --pause 2:1500 &
for w in 1 2 3; do run_worker "$work/forged.$w" --worker $w & done
"$lab" exec --name "$name" -- /usr/bin/python3 "$src/tests/forge_results.py" \
	--src "$box" --dst "$victim" --dport 41000 --job 4 --elems 356 --steps $END \
	--chunks 737 --seconds 3 >"$work/forger.out" 2>&1 || fail "forger: $(cat "$work/forger.out")"
wait
for w in 0 1 2 3; do ok_worker "$work/forged.$w"; done
bad=$(json_field "$work/forged.0" bad_tags)
[ "$bad" -gt 0 ] || fail "forged: worker 0 counted no bad tag: $(cat "$work/forged.0") $(cat "$work/forger.out")"
abandoned=$(box_counter chunks_abandoned)
[ "$abandoned" = 0 ] || fail "forged: the appliance abandoned $abandoned chunks"
echo "ok: forged: $(cat "$work/forger.out"); worker 0 dropped $bad on their tag, verified," \
	"no chunk abandoned"
down
echo "catchup: all passed"
