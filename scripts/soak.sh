#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A soak before the box goes into a rack: N minutes of impaired traffic through
# the real app, every result checked, then the app's pools, memory and counters.
#
#   emulator  ainftp-app --emulate, one configuration after another (encodings,
#             result encodings, 8 to 64 workers, one and two lanes), each with
#             5% loss, 1% duplication and 1% reordering both ways and a fresh
#             seed, until the emulator's share of the time is up; every result
#             checked bit for bit by the emulated workers.
#   lab       one ainftp-app in scripts/lab.sh's namespaces behind --impair for
#             the rest of the time, with rounds of bounded runs (--end-step) of
#               job 4  ainftp-worker 0-3 --verify 4; worker 3 is SIGKILLed at a
#                      random moment of each round and started again (catch-up:
#                      it must then see exact results or clean skips)
#               job 2  ainftp-worker 0-3 --verify 4; worker 1 a straggler
#                      (--pause 3:1500: the job goes on without it, it skips)
#               job 7  the sentry jobs, trimmed_mean (f 2) and median, in turn:
#               or 8   6 honest workers and 2 attackers sending 1000 x their
#                      gradient (scripts/soak_sentry.py); every honest mean must
#                      lie between the honest values, coordinate by coordinate;
#                      the attackers, quarantined, are readmitted each time
#             and the app's mbuf pools (telemetry) and RSS at the start (after
#             the first round: warm) and at the end, both idle.
#
# A line a minute as it goes; at the end results checked and exact, wrong
# results, skips, restarts, the pools and RSS, and every counter of the lab
# app's final stats line (per port and per lcore). Exit 0 only when every
# result was exact, pools and RSS are flat, "unaccounted" is 0 wherever the
# stats have it, and the app stopped cleanly on SIGINT; 1 with the reasons
# otherwise, 2 on a usage error.
#
#   scripts/soak.sh --minutes N [--keep DIR] [--build DIR] [--emu-share PCT]
#                   [--impair SPEC] [--name NAME] [--seed S] [--no-restarts]
#
# Needs root (network namespaces). Addresses: config/lab.json's 198.18.0.0/24,
# inside the lab's namespaces only. Keys stay in the configs (0600); nothing
# here prints one.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prog=scripts/soak.sh

usage() {
	cat <<EOF
usage: $prog --minutes N [--keep DIR] [--build DIR] [--emu-share PCT] [--impair SPEC]
                      [--name NAME] [--seed S] [--no-restarts]
  --minutes N      total wall time, 1..1440 (the phases are sized to fit; about
                   15 s of it is the lab's start and stop and the report)
  --keep DIR       keep every log there (created; default: a temporary folder,
                   deleted at the end)
  --build DIR      the build folder (default build)
  --emu-share PCT  the emulator's share of the time (default 40; 0: lab only,
                   100: emulator only)
  --impair SPEC    the lab's impairment, as scripts/lab.sh --impair
                   (default loss=2,dup=1,reorder=2)
  --name NAME      the lab's name (default soak<pid>)
  --seed S         the lab workers' gradient seed (default random; printed)
  --no-restarts    job 4's worker 3 is not killed and restarted (CI's one-minute
                   pass: restarts stalled job 4 now and then before a new process's
                   HELLO took it back in; README.md "Soak")
EOF
}

die_usage() {
	echo "$prog: $*" >&2
	exit 2
}

minutes='' keep='' build=$root/build emu_share=40 impair=loss=2,dup=1,reorder=2 name=soak$$
restarts=1
lab_seed=$((RANDOM * 32768 + RANDOM))
while [ $# -gt 0 ]; do
	case $1 in
	--minutes | --keep | --build | --emu-share | --impair | --name | --seed)
		[ $# -ge 2 ] || die_usage "$1 needs a value"
		case $1 in
		--minutes) minutes=$2 ;;
		--keep) keep=$2 ;;
		--build) build=$(realpath -m "$2") ;;
		--emu-share) emu_share=$2 ;;
		--impair) impair=$2 ;;
		--name) name=$2 ;;
		--seed) lab_seed=$2 ;;
		esac
		shift 2
		;;
	--no-restarts)
		restarts=0
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die_usage "unknown option \"$1\" (see --help)" ;;
	esac
done
if ! [[ $minutes =~ ^[0-9]+$ ]] || [ "$minutes" -lt 1 ] || [ "$minutes" -gt 1440 ]; then
	die_usage "--minutes: \"$minutes\" is not a whole number of minutes in 1..1440"
fi
[[ $lab_seed =~ ^[0-9]{1,18}$ ]] || die_usage "--seed: \"$lab_seed\" is not a number"
if ! [[ $emu_share =~ ^[0-9]+$ ]] || [ "$emu_share" -gt 100 ]; then
	die_usage "--emu-share: \"$emu_share\" is not a percentage"
fi
[ "$(id -u)" = 0 ] || die_usage "needs root (network namespaces)"

app=$build/app/ainftp-app
worker=$build/tools/ainftp-worker
impair_bin=$build/tools/ainftp-impair
lab=$root/scripts/lab.sh
cfg=$root/config/lab.json
for f in "$app" "$worker" "$impair_bin"; do
	[ -x "$f" ] || die_usage "$f: not built (scripts/build.sh)"
done
[ -d "$build/python/ainftp" ] || die_usage "$build/python: no Python binding (scripts/build.sh)"
. "$root/tests/emu_lib.sh"

if [ -n "$keep" ]; then
	mkdir -p "$keep"
	work=$(cd "$keep" && pwd)
else
	work=$(mktemp -d)
fi
records=$work/records.jsonl # one JSON object per finished run: the report reads them
: >"$records"
failures=()
lab_up=0
emu_prefix=ainftp-soak-emu-$$

# kill_tree PID: SIGKILL to PID and everything below it, by process id.
# shellcheck disable=SC2317 # called by the trap's cleanup
kill_tree() {
	local c
	for c in $(pgrep -P "$1"); do
		kill_tree "$c"
	done
	kill -KILL "$1" 2>/dev/null || true
}

# Every child runs under timeout, which we track: on any exit the children go
# (with everything they started), then the lab, then the logs.
children=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	set +e
	# Quietly: bash would report each child it reaps here as "Killed".
	{
		for p in "${children[@]}"; do
			kill_tree "$p"
		done
		wait
	} 2>/dev/null
	[ "$lab_up" = 0 ] || "$lab" down --name "$name" >>"$work/lab-down.out" 2>&1
	rm -rf /var/run/dpdk/"$emu_prefix"-* 2>/dev/null
	if [ -z "$keep" ]; then
		rm -rf "$work"
	else
		echo "$prog: logs in $work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "$prog: interrupted" >&2; exit 130' INT TERM

now() { date +%s; }
t_start=$(now)
t_end=$((t_start + minutes * 60))
# The lab's start (5 s), its stop and the report (about 10 s at the end).
budget=$((minutes * 60 - 15))
emu_end=$((t_start + budget * emu_share / 100))
lab_end=$((t_end - 10))
next_tick=$((t_start + 60))

fail() {
	failures+=("$*")
	echo "$prog: FAIL: $*" >&2
}

# summary [final]: the totals so far, from the records (a line; or the report).
summary() {
	/usr/bin/python3 - "$records" "$@" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t = dict(emu_runs=0, emu_checked=0, emu_exact=0, lab_results=0, lab_elems=0, lab_wrong=0,
         lab_skipped=0, lab_chunks_skipped=0, restarts=0, kills=0, sentry_results=0,
         sentry_exact=0, sentry_wrong=0, sentry_skipped=0, rounds=0, retransmits=0, probes=0)
for r in recs:
    k = r["kind"]
    if k == "emu":
        t["emu_runs"] += 1
        t["emu_checked"] += r.get("checked", 0)
        t["emu_exact"] += r.get("exact", 0)
    elif k == "worker":
        j = r.get("json") or {}
        if r["rc"] == 3:
            t["lab_wrong"] += 1
        t["lab_results"] += j.get("steps", 0) - j.get("requests_skipped", 0)
        t["lab_elems"] += j.get("checked", 0)
        t["lab_skipped"] += j.get("requests_skipped", 0)
        t["lab_chunks_skipped"] += j.get("chunks_skipped", 0)
        t["retransmits"] += j.get("retransmits", 0)
        t["probes"] += j.get("probes", 0)
    elif k == "killed":
        t["kills"] += 1
    elif k == "restart":
        t["restarts"] += 1
    elif k == "sentry":
        j = r.get("json") or {}
        t["sentry_results"] += j.get("results", 0)
        t["sentry_exact"] += j.get("exact", 0)
        t["sentry_wrong"] += j.get("wrong", 0)
        t["sentry_skipped"] += j.get("skipped", 0)
    elif k == "round":
        t["rounds"] += 1
if len(sys.argv) < 3:
    print("emu runs=%(emu_runs)d results=%(emu_checked)d exact=%(emu_exact)d | lab rounds=%(rounds)d "
          "results=%(lab_results)d wrong=%(lab_wrong)d skipped=%(lab_skipped)d kills=%(kills)d "
          "restarts=%(restarts)d | sentry results=%(sentry_results)d exact=%(sentry_exact)d "
          "wrong=%(sentry_wrong)d" % t)
    sys.exit(0)
print("results")
print("  emulator      %d runs: %d results checked, %d exact" % (t["emu_runs"], t["emu_checked"], t["emu_exact"]))
print("  lab workers   %d rounds: %d results checked bit for bit (%d elements), %d wrong runs,"
      " %d requests skipped (%d chunks), %d retransmits, %d probes"
      % (t["rounds"], t["lab_results"], t["lab_elems"], t["lab_wrong"], t["lab_skipped"],
         t["lab_chunks_skipped"], t["retransmits"], t["probes"]))
print("  restarts      %d workers SIGKILLed mid-run and %d started again" % (t["kills"], t["restarts"]))
print("  sentry        %d honest results within the honest range: %d, wrong %d, skipped %d"
      % (t["sentry_results"], t["sentry_exact"], t["sentry_wrong"], t["sentry_skipped"]))
print("TOTALS " + json.dumps(t))
PY
}

tick() {
	local t
	t=$(now)
	[ "$t" -ge "$next_tick" ] || return 0
	next_tick=$((next_tick + 60))
	echo "[$(((t - t_start) / 60)) min] $(summary)"
}

record() {
	printf '%s\n' "$1" >>"$records"
}

# --- the emulator ---------------------------------------------------------------

# LABEL WORKERS ENCODING RESULT_ENCODING LANES: 5% loss, 1% dup, 1% reorder both ways.
emu_configs=(
	"i16-n8 8 int16 float32 1"
	"i16-n64 64 int16 float32 1"
	"i8-n32-r16 32 int8 int16 1"
	"f32-n16 16 float32 float32 1"
	"i8-n8-r8 8 int8 int8 1"
	"i16-n32-2lanes 32 int16 float32 2"
	"i16-n16-r16 16 int16 int16 1"
)

# emu_run LABEL N ENC RES LANES: one --emulate run; a record; a failure if not all exact.
emu_run() {
	local label=$1 n=$2 enc=$3 res=$4 lanes=$5 seed=$((RANDOM * 32768 + RANDOM))
	# Each configuration gets its turn within the emulator's share: about 500
	# chunks a second whatever the workers (2 busy cores, 5% loss), for a
	# seventh of the share, 1000 to 50,000 chunks (longer soaks, longer-lived
	# processes; then the configurations come round again with fresh seeds).
	local chunks=$(((emu_end - t_start) * 500 / ${#emu_configs[@]})) base="$work/emu-$emu_i-$label" rc=0 line checked exact pools
	local t0=$SECONDS
	[ "$chunks" -ge 1000 ] || chunks=1000
	[ "$chunks" -le 50000 ] || chunks=50000
	"$root/tests/emu_config.py" "$base.json" --workers "$n" --encoding "$enc" \
		--result-encoding "$res" --lanes "$lanes" --rx-lcores "$lanes"
	# shellcheck disable=SC2046
	timeout -k 5 180 "$app" $(eal_lcores $((lanes + 2))) --no-huge -m 1024 --no-pci \
		--no-shconf --no-telemetry --file-prefix "$emu_prefix-$emu_i" --log-level=lib.eal:error -- \
		-c "$base.json" --stats-interval 0 --emulate "$chunks" --emu-lcore $((lanes + 1)) \
		--emu-loss 0.05 --emu-dup 0.01 --emu-reorder 0.01 --emu-timeout 2000 --emu-seed "$seed" \
		>"$base.out" 2>"$base.err" &
	children+=($!)
	wait $! || rc=$?
	unset 'children[-1]'
	rm -rf /var/run/dpdk/"$emu_prefix-$emu_i"
	line=$(grep -E '^emulator: workers=' "$base.out" | tail -n 1 || true)
	checked=$(sed -n 's/.* results_checked=\([0-9]*\) .*/\1/p' <<<"$line")
	exact=$(sed -n 's/.* exact=\([0-9]*\) .*/\1/p' <<<"$line")
	pools=$(sed -n 's/.* pool_in_use=\([0-9]*->[0-9]*\) .*/\1/p' <<<"$line")
	grep '"final": *true' "$base.out" | tail -n 1 >"$base.final.json" || true
	record "{\"kind\":\"emu\",\"label\":\"$label\",\"seed\":$seed,\"chunks\":$chunks,\"rc\":$rc,\"checked\":${checked:-0},\"exact\":${exact:-0},\"pool\":\"${pools:-}\",\"final\":\"$base.final.json\"}"
	if [ "$rc" != 0 ]; then
		fail "emulator $label (seed $seed): exit status $rc: $(tail -n 2 "$base.err" | tr '\n' ' ')"
	elif ! grep -q ': PASS$' <<<"$line"; then
		fail "emulator $label (seed $seed): no PASS line: ${line:-none}"
	elif [ "$checked" != $((n * chunks)) ] || [ "$exact" != "$checked" ]; then
		fail "emulator $label (seed $seed): results_checked=$checked exact=$exact, want $((n * chunks))"
	elif [ "${pools%->*}" != "${pools#*->}" ]; then
		fail "emulator $label (seed $seed): worker pool in use $pools (not flat)"
	fi
	echo "  emulator $label: $chunks chunks x $n workers, seed $seed: ${checked:-0} checked, ${exact:-0} exact, pool $pools, rc $rc, $((SECONDS - t0)) s"
}

emu_phase() {
	local i=0 t0 last=8 label n enc res lanes
	emu_i=0
	echo "== emulator: until $(date -d "@$emu_end" +%T) (loss 5%, dup 1%, reorder 1% both ways)"
	# A run starts only when the last one's duration still fits (a run is not cut).
	while [ $(($(now) + last)) -le "$emu_end" ]; do
		read -r label n enc res lanes <<<"${emu_configs[i % ${#emu_configs[@]}]}"
		t0=$(now)
		emu_run "$label" "$n" "$enc" "$res" "$lanes"
		last=$(($(now) - t0 + 1))
		i=$((i + 1))
		emu_i=$i
		tick
	done
}

# --- the lab ----------------------------------------------------------------------

state=/run/$name
lab_tag=$(printf '%s' "$name" | cksum | awk '{ printf "%08x", $1 }')
tel_sock=/var/run/dpdk/ainftp-lab-$lab_tag/dpdk_telemetry.v2

# sample WHEN: the app's mbuf pools (telemetry) and RSS as one JSON line in $work/sample.WHEN.
sample() {
	local pid rss
	pid=$(cat "$state/app.pid")
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
	/usr/bin/python3 - "$tel_sock" "$rss" >"$work/sample.$1" <<'PY'
import json, socket, sys
sock, rss = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sock)
s.recv(4096)
def q(cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 20))
pools = {}
# The app's own command, where it has one, gives mbufs in use; DPDK's
# /mempool/info (22.11) only sizes.
try:
    mine = q("/ainftp/mempools").get("/ainftp/mempools")
except (ValueError, OSError):
    mine = None
for name in q("/mempool/list")["/mempool/list"]:
    info = q("/mempool/info," + name)["/mempool/info"]
    p = {"size": info["size"], "populated": info["populated_size"], "cache": info["cache_size"]}
    if isinstance(mine, dict) and isinstance(mine.get(name), dict):
        p.update({k: mine[name][k] for k in ("in_use", "avail") if k in mine[name]})
    pools[name] = p
print(json.dumps({"rss_kb": rss, "pools": pools}))
PY
}

# tel CMD: one rte_telemetry command to the lab app; its JSON answer.
tel() {
	/usr/bin/python3 - "$tel_sock" "$1" <<'PY2'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
s.recv(4096)
s.send(sys.argv[2].encode())
print(s.recv(1 << 20).decode())
PY2
}

job_step() {
	"$lab" stats --name "$name" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
print(max([j["max_step"] for j in s["jobs"] if j["id"] == int(sys.argv[1])] + [0]))' "$1" || echo 0
}

# lab_worker OUT SECS WORKER-ARGS...: one ainftp-worker in the workers' namespace,
# in the background under timeout; the pid to wait for in $wpid (the worker is
# its grandchild: subshell, timeout, worker, as ip netns exec execs it).
lab_worker() {
	local out=$1 secs=$2
	shift 2
	# In a subshell that waits for it ("|| exit"): a worker killed on purpose
	# ends the subshell with 137, not by a signal, and the subshell's own
	# "Killed" line goes nowhere (the kill is recorded).
	{
		timeout -k 5 "$secs" ip netns exec "$name-wk" "$worker" -c "$cfg" --json --progress 0 \
			"$@" >"$out" 2>"$out.err" || exit $?
	} 2>/dev/null &
	wpid=$!
	children+=("$wpid")
}

# finish_worker OUT PID JOB WORKER ROLE: wait, record, judge.
finish_worker() {
	local out=$1 pid=$2 job=$3 w=$4 role=$5 rc=0 js
	wait "$pid" || rc=$?
	js=$(tail -n 1 "$out" 2>/dev/null | grep '^{' || echo null)
	record "{\"kind\":\"worker\",\"job\":$job,\"worker\":$w,\"role\":\"$role\",\"rc\":$rc,\"json\":$js}"
	case $rc in
	0) ;;
	3) fail "round $round: job $job worker $w ($role): a WRONG result: $(tail -n 2 "$out.err" | tr '\n' ' ')" ;;
	124 | 137) fail "round $round: job $job worker $w ($role): still running after its timeout" ;;
	*)
		if grep -q 'timeout: no result' "$out.err"; then
			# Not a wrong result: the job stopped making progress for this worker.
			# The app's view of the job then: round-N/stats.json.
			[ -s "${out%/*}/stats.json" ] || "$lab" stats --name "$name" >"${out%/*}/stats.json" 2>&1 || true
			fail "round $round: job $job worker $w ($role): STALLED (no result for the client's timeout; stats in ${out%/*}/stats.json): $(tail -n 2 "$out.err" | tr '\n' ' ')"
		else
			fail "round $round: job $job worker $w ($role): exit status $rc: $(tail -n 2 "$out.err" | tr '\n' ' ')"
		fi
		;;
	esac
}

# One round: jobs 4, 2 and 7 or 8 at once, each to K more steps.
lab_round() {
	# One gradient seed for the whole lab: a worker's gradient for a step is the
	# same in every life and every round, so a contribution a slot kept from an
	# earlier life (a stalled step a later round takes up) is still the one the
	# reference expects; with a seed per round, such a result reads as wrong.
	local d=$work/round-$round seed=$lab_seed secs w victim sentry_pid rc js sjob
	local -A pid=()
	mkdir -p "$d"
	end=$((end + K))
	# A round that hangs ends at the lab's end (plus a margin), not later.
	secs=$((lab_end - $(now) + 30))
	[ "$secs" -le 300 ] || secs=300
	for w in 0 1 2; do
		lab_worker "$d/j4.w$w" "$secs" --job 4 --worker "$w" --size 1M --verify 4 --seed "$seed" \
			--steps 100000 --end-step "$end"
		pid[4.$w]=$wpid
	done
	lab_worker "$d/j4.w3.life1" "$secs" --job 4 --worker 3 --size 1M --verify 4 --seed "$seed" \
		--steps 100000 --end-step "$end"
	victim=$wpid
	for w in 0 1 2 3; do
		if [ "$w" = 1 ]; then
			lab_worker "$d/j2.w$w" "$secs" --job 2 --worker "$w" --size 4M --verify 4 \
				--seed "$seed" --steps 100000 --end-step "$end" --pause 3:1500
		else
			lab_worker "$d/j2.w$w" "$secs" --job 2 --worker "$w" --size 4M --verify 4 \
				--seed "$seed" --steps 100000 --end-step "$end"
		fi
		pid[2.$w]=$wpid
	done
	# The sentry's two robust policies in turn: trimmed_mean (f 2), median.
	sjob=$((round % 2 ? 7 : 8))
	# The attackers were quarantined in an earlier round: readmitted, as an
	# operator would, so that every round's trimmed mean sees them again.
	if [ "$round" -gt 2 ]; then
		for w in 6 7; do
			tel "/ainftp/readmit,$sjob,$w" >>"$d/readmit.out" 2>&1 || true
		done
	fi
	timeout -k 5 "$secs" ip netns exec "$name-wk" env PYTHONPATH="$build/python" /usr/bin/python3 \
		"$root/scripts/soak_sentry.py" --config "$cfg" --job "$sjob" --steps "$K" --seed "$seed" \
		>"$d/sentry" 2>"$d/sentry.err" &
	sentry_pid=$!
	children+=("$sentry_pid")

	# Worker 3 of job 4 dies by SIGKILL at a random moment while the job still has
	# steps to go (by the app's stats: a restart at the very end would wait alone
	# for a quorum that has gone home), and starts again at once.
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + r / 32768 * 2 }')"
	if [ "$restarts" = 1 ] && kill -0 "$victim" 2>/dev/null &&
		[ "$(job_step 4)" -lt $((end - 3)) ] &&
		pkill -KILL -P "$(pgrep -P "$victim" | head -n 1)"; then
		wait "$victim" 2>/dev/null || true
		record '{"kind":"killed","job":4,"worker":3}'
		lab_worker "$d/j4.w3" "$secs" --job 4 --worker 3 --size 1M --verify 4 --seed "$seed" \
			--steps 100000 --end-step "$end"
		record '{"kind":"restart","job":4,"worker":3}'
		pid[4.3]=$wpid
	else
		# Not killed this round (finished or too close to the end): its only life counts.
		mv "$d/j4.w3.life1" "$d/j4.w3"
		mv "$d/j4.w3.life1.err" "$d/j4.w3.err"
		pid[4.3]=$victim
	fi

	for w in 0 1 2 3; do
		finish_worker "$d/j4.w$w" "${pid[4.$w]}" 4 "$w" "$([ "$w" = 3 ] && echo restarted || echo steady)"
	done
	for w in 0 1 2 3; do
		finish_worker "$d/j2.w$w" "${pid[2.$w]}" 2 "$w" "$([ "$w" = 1 ] && echo straggler || echo steady)"
	done
	rc=0
	wait "$sentry_pid" || rc=$?
	js=$(tail -n 1 "$d/sentry" 2>/dev/null | grep '^{' || echo null)
	record "{\"kind\":\"sentry\",\"job\":$sjob,\"rc\":$rc,\"json\":$js}"
	[ "$rc" = 0 ] || fail "round $round: sentry job $sjob: exit status $rc: $js $(tail -n 2 "$d/sentry.err" | tr '\n' ' ')"
	children=()
	record "{\"kind\":\"round\",\"round\":$round,\"end_step\":$end}"
}

lab_phase() {
	local t0 last=10
	echo "== lab: until $(date -d "@$lab_end" +%T) ($impair both ways; jobs 4, 2 and 7 or 8; gradient seed $lab_seed)"
	"$lab" up --name "$name" --config "$cfg" --app "$app" --impair-bin "$impair_bin" \
		--impair "$impair" >"$work/lab-up.out" 2>&1 || {
		cat "$work/lab-up.out" >&2
		fail "lab up"
		return
	}
	lab_up=1
	sed -n 's/^  path *//p' "$work/lab-up.out" | sed 's/^/  path: /'
	sample start || fail "no pool or RSS sample at the start (telemetry: $tel_sock)"
	round=0 end=0 K=8
	while [ "$round" = 0 ] || [ $(($(now) + last)) -le "$lab_end" ]; do
		round=$((round + 1))
		t0=$(now)
		lab_round
		last=$(($(now) - t0 + 1))
		# The first round is the warm-up: RSS from here on must stay flat.
		[ "$round" != 1 ] || { sleep 1; sample warm || fail "no sample after warm-up"; }
		tick
	done
	sleep 2 # idle: the last retransmissions and results drain
	sample end || fail "no pool or RSS sample at the end"
	stop_app
}

# SIGINT, as an operator stops it; the final stats line, then the lab goes.
stop_app() {
	local pid i
	pid=$(cat "$state/app.pid")
	kill -INT "$pid"
	for i in $(seq 100); do
		[ -e "/proc/$pid" ] || break
		sleep 0.1
	done
	if [ -e "/proc/$pid" ]; then
		fail "the app did not stop within 10 s of SIGINT"
	fi
	cp "$state/app.out" "$work/app.out"
	cp "$state/app.err" "$work/app.err"
	"$lab" down --name "$name" >"$work/lab-down.out" 2>&1 || fail "lab down: $(cat "$work/lab-down.out")"
	lab_up=0
	grep '"final": *true' "$work/app.out" | tail -n 1 >"$work/app.final.json" || true
	[ -s "$work/app.final.json" ] || fail "the app printed no final stats line on SIGINT"
	! grep -qiE 'error|panic|abort' "$work/app.err" ||
		fail "the app's log has errors: $(grep -iE 'error|panic|abort' "$work/app.err" | head -n 3 | tr '\n' ' ')"
}

# --- the report -------------------------------------------------------------------

# The pools, RSS and counters; "CHECK: reason" lines for what is not right.
report_app() {
	/usr/bin/python3 - "$work" <<'PY'
import json, os, sys
w = sys.argv[1]
def load(p):
    try:
        with open(p) as f:
            t = f.read().strip()
        return json.loads(t) if t else None
    except (OSError, ValueError):
        return None
start, warm, end = (load(os.path.join(w, "sample." + k)) for k in ("start", "warm", "end"))
final = load(os.path.join(w, "app.final.json"))
if start and end:
    base = warm or start
    print("mbuf pools (lab app; in use where the app's telemetry has it)")
    print("  %-16s %8s %6s %12s %12s %12s" % ("pool", "size", "cache", "in_use start", "in_use warm", "in_use end"))
    for name, p in end["pools"].items():
        s, m = start["pools"].get(name, {}), (warm or {}).get("pools", {}).get(name, {})
        print("  %-16s %8d %6d %12s %12s %12s" % (name, p["size"], p["cache"], s.get("in_use", "n/a"),
              m.get("in_use", "n/a"), p.get("in_use", "n/a")))
        if s and (s["size"], s["populated"]) != (p["size"], p["populated"]):
            print("CHECK: pool %s changed size: %s -> %s" % (name, s, p))
        b = base["pools"].get(name, {})
        if "in_use" in b and "in_use" in p:
            # Idle at both ends: what is in use is the lcores' caches and the
            # rings' own; more than every lcore's cache full is a leak.
            slack = p["cache"] * 4 + 64
            if p["in_use"] > b["in_use"] + slack:
                print("CHECK: pool %s: %d in use at the end, %d after warm-up (a leak?)"
                      % (name, p["in_use"], b["in_use"]))
    grow = end["rss_kb"] - base["rss_kb"]
    tol = max(8192, base["rss_kb"] // 20)
    print("RSS (VmRSS) start %d kB, after warm-up %d kB, end %d kB: %+d kB (tolerance %d kB)"
          % (start["rss_kb"], base["rss_kb"], end["rss_kb"], grow, tol))
    if grow > tol:
        print("CHECK: RSS grew by %d kB after warm-up" % grow)
elif os.path.exists(os.path.join(w, "sample.start")):
    print("CHECK: no pool or RSS sample at the end")

try:
    for l in open(os.path.join(w, "lab-down.out")):
        if l.startswith("ainftp-impair counters:"):
            c = json.loads(l.split(":", 1)[1])
            print("lab impairment (ainftp-impair): " + "; ".join(
                "%s %d frames, %d dropped, %d duplicated, %d reordered"
                % (d, c[d]["frames"], c[d]["dropped"], c[d]["duplicated"], c[d]["reordered"])
                for d in ("a2b", "b2a")))
except (OSError, ValueError, KeyError):
    pass

def flat(o, pre=""):
    out = {}
    for k, v in o.items():
        # Counters only: ids and the ports' shape are not.
        if isinstance(v, bool) or k in ("port", "lcore", "socket", "rx_queues", "tx_queues"):
            continue
        if isinstance(v, (int, float)):
            out[pre + k] = v
        elif isinstance(v, dict):
            out.update(flat(v, pre + k + "."))
    return out

def table(title, objs, heads):
    cols = [flat(o) for o in objs]
    keys = []
    for c in cols:
        keys += [k for k in c if k not in keys]
    print(title)
    print("  %-28s" % "counter" + "".join("%16s" % h for h in heads))
    for k in keys:
        print("  %-28s" % k + "".join("%16s" % (c.get(k, "-") if not isinstance(c.get(k), float)
                                            else "%.3f" % c[k]) for c in cols))

def unaccounted(objs, what):
    vals = [o.get("unaccounted") for o in objs]
    if all(v is None for v in vals):
        return "n/a"
    bad = [(i, v) for i, v in enumerate(vals) if v not in (None, 0)]
    for i, v in bad:
        print("CHECK: %s %d: unaccounted %s" % (what, i, v))
    return "0" if not bad else str(bad)

if final:
    table("lab app: final stats, per port", final["ports"],
          ["port %d" % p["port"] for p in final["ports"]])
    table("lab app: final stats, per lcore", final["lcores"],
          ["lcore %d %s" % (l["lcore"], l.get("role", "")) for l in final["lcores"]])
    print("unaccounted (lab app): ports %s, lcores %s"
          % (unaccounted(final["ports"], "port"), unaccounted(final["lcores"], "lcore")))
    print("lab app: jobs' workers (rejoined, sentry_flagged, quarantines, contributions, drops)")
    for j in final["jobs"]:
        ws = [x for x in final.get("workers", []) if x["job"] == j["id"]]
        if not any(x.get("contributions") for x in ws):
            continue
        print("  job %d (%s): %s" % (j["id"], j.get("sentry", "none"), " ".join(
            "w%d:%d/%d/%d/%d/%d" % (x["id"], x.get("rejoined", 0), x.get("sentry_flagged", 0),
                                   x.get("quarantines", 0), x.get("contributions", 0), x.get("drops", 0))
            for x in ws)))
elif os.path.exists(os.path.join(w, "sample.start")):
    print("CHECK: no final stats line from the lab app")

# The emulator runs' final stats, summed over the runs, and their unaccounted.
emu = []
for l in open(os.path.join(w, "records.jsonl")):
    r = json.loads(l)
    if r["kind"] == "emu":
        f = load(r["final"])
        if f:
            emu.append(f)
if emu:
    tot = {}
    for f in emu:
        for p in f["ports"]:
            for k, v in flat(p).items():
                tot[k] = tot.get(k, 0) + v
    table("emulator: final stats of the %d runs, ports summed" % len(emu), [tot], ["all runs"])
    un = [unaccounted(f["ports"], "emulator port") for f in emu] + \
         [unaccounted(f["lcores"], "emulator lcore") for f in emu]
    print("unaccounted (emulator): %s" % ("n/a" if all(u == "n/a" for u in un) else
                                          "0" if all(u in ("0", "n/a") for u in un) else "NOT 0"))
PY
}

# --- main -----------------------------------------------------------------------

echo "$prog: $minutes min from $(date -d "@$t_start" +%T) to $(date -d "@$t_end" +%T); logs in $work"
[ "$emu_share" = 0 ] || emu_phase
[ "$emu_share" = 100 ] || lab_phase

echo "== report ($(($(now) - t_start)) s)"
summary final | grep -v '^TOTALS' || true
totals=$(summary final | sed -n 's/^TOTALS //p')
report_app | tee "$work/report.txt" | grep -v '^CHECK:' || true
while IFS= read -r l; do
	fail "${l#CHECK: }"
done < <(grep '^CHECK:' "$work/report.txt" || true)
/usr/bin/python3 - "$totals" "$emu_share" <<'PY' >"$work/checks.txt" || true
import json, sys
t, share = json.loads(sys.argv[1]), int(sys.argv[2])
if t["emu_checked"] != t["emu_exact"]:
    print("emulator: %d results checked, %d exact" % (t["emu_checked"], t["emu_exact"]))
if share > 0 and t["emu_checked"] == 0:
    print("emulator: no result checked")
if t["lab_wrong"] or t["sentry_wrong"]:
    print("wrong results: %d lab worker runs, %d sentry results" % (t["lab_wrong"], t["sentry_wrong"]))
if share < 100 and t["lab_results"] == 0:
    print("lab: no result checked")
if t["sentry_results"] != t["sentry_exact"]:
    print("sentry: %d honest results, %d within the honest range" % (t["sentry_results"], t["sentry_exact"]))
PY
while IFS= read -r l; do
	fail "$l"
done <"$work/checks.txt"
echo "== $(($(now) - t_start)) s of $((minutes * 60))"
if [ "${#failures[@]}" = 0 ]; then
	echo "soak: PASS"
	exit 0
fi
echo "soak: FAIL (${#failures[@]}):"
printf '  %s\n' "${failures[@]}"
exit 1
