#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# One box against two shards, in the same lab and the same run: 4 ainftp-worker
# processes all-reduce SIZE of float32 (int16 on the wire) through job 14 of
# config/lab-shards.json (one box) and job 11 (the same job over two boxes),
# interleaved ROUNDS times (each worker with --same-gradient: the generator is not
# timed); each run's aggregate is the sum of the 4 workers' float32 Gbit/s (size /
# median step time). Prints a line per run, then
#
#   bench-shards: one_box_gbps=X two_shards_gbps=Y ratio=Y/X size=S workers=4 rounds=R
#
# (medians over the rounds). With --hier, job 24 of config/lab-hier.json (one
# box) against job 21 (the same job through two leaves and a spine, three
# boxes), and the line says hier_gbps= instead of two_shards_gbps=. On a
# machine of few cores, the boxes and the workers share them: docs/SCALEOUT.md
# says what that can and cannot show.
#
#   scripts/bench-shards.sh [--size 16M] [--steps 3] [--rounds 3] [--build DIR] [--hier]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=16M steps=3 rounds=3 build=$root/build hier=0
while [ $# -gt 0 ]; do
	case $1 in
	--hier)
		hier=1
		shift
		;;
	--size | --steps | --rounds | --build)
		[ $# -ge 2 ] || { echo "bench-shards.sh: $1 needs a value" >&2; exit 2; }
		case $1 in
		--size) size=$2 ;;
		--steps) steps=$2 ;;
		--rounds) rounds=$2 ;;
		--build) build=$(realpath -m "$2") ;;
		esac
		shift 2
		;;
	-h | --help)
		sed -n '3,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-shards.sh: unknown option \"$1\" (see --help)" >&2
		exit 2
		;;
	esac
done
[[ $rounds =~ ^[1-9][0-9]?$ ]] || { echo "bench-shards.sh: --rounds: \"$rounds\" is not 1..99" >&2; exit 2; }
# The one-box job, the other job, how many boxes, and what the other is called.
cfg=$root/config/lab-shards.json one_job=14 two_job=11 boxes=2 two_name=two_shards
[ "$hier" = 0 ] || cfg=$root/config/lab-hier.json one_job=24 two_job=21 boxes=3 two_name=hier
name=bshard$$
work=$(mktemp -d)
trap '"$root/scripts/lab.sh" down --name "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

"$root/scripts/lab.sh" up --name "$name" --config "$cfg" --boxes "$boxes" --app "$build/app/ainftp-app" \
	--impair-bin "$build/tools/ainftp-impair" >/dev/null

# run JOB: 4 workers at once; prints their aggregate float32 Gbit/s.
run() {
	local job=$1 w pids=()
	for w in 0 1 2 3; do
		"$root/scripts/lab.sh" exec --name "$name" -- "$build/tools/ainftp-worker" -c "$cfg" \
			--job "$job" --worker "$w" --size "$size" --steps "$steps" --json --progress 0 \
			--same-gradient \
			>"$work/$job.$w" 2>&1 &
		pids+=($!)
	done
	for w in 0 1 2 3; do
		wait "${pids[$w]}" || {
			echo "bench-shards.sh: job $job worker $w failed: $(tail -3 "$work/$job.$w")" >&2
			exit 1
		}
	done
	/usr/bin/python3 - "$work/$job" <<'PY'
import json, sys
total = 0.0
for w in range(4):
    lines = [l for l in open("%s.%d" % (sys.argv[1], w)) if l.startswith("{")]
    if not lines:
        sys.exit("worker %d: no result line" % w)
    gbps = json.loads(lines[-1])["gbps"]
    if gbps is None:
        sys.exit("worker %d: no step ran" % w)
    total += gbps
print("%.3f" % total)
PY
}

one=() two=()
for r in $(seq "$rounds"); do
	one+=("$(run "$one_job")")
	two+=("$(run "$two_job")")
	echo "round $r: one box ${one[-1]} Gbit/s, ${two_name/_/ } ${two[-1]} Gbit/s (4 workers, $size each)"
done
/usr/bin/python3 - "${one[*]}" "${two[*]}" "$size" "$rounds" "$two_name" <<'PY'
import statistics, sys
one = statistics.median(float(x) for x in sys.argv[1].split())
two = statistics.median(float(x) for x in sys.argv[2].split())
print("bench-shards: one_box_gbps=%.3f %s_gbps=%.3f ratio=%.2f size=%s workers=4 rounds=%s"
      % (one, sys.argv[5], two, two / one if one else float("nan"), sys.argv[3], sys.argv[4]))
PY
