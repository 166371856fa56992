#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The fast workers' pace with and without a worker that falls behind, in the
# lab (scripts/lab.sh), with cluster.json's defaults: job 4 of config/lab.json
# (4 workers, float32, auth on), every worker stopping before step END. Runs
# are interleaved, ROUNDS of each; each prints the fast workers' (0..2) steps
# per second (steps / wall time in the all-reduce calls) and the delayed
# worker's skips; the summary is the median of each and their ratio. A figure,
# not a test: the issue's bar is a ratio of at least 0.8.
#
#   scripts/bench-catchup.sh [--rounds N] [--end N] [--size S] [--delay-ms MS]
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build}
rounds=3 end=60 size=1M delay=1000
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--end) end=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--delay-ms) delay=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--end N] [--size S] [--delay-ms MS]" >&2; exit 2 ;;
	esac
done
lab=$src/scripts/lab.sh cfg=$src/config/lab.json name=bcu$$ work=$(mktemp -d)
trap '"$lab" down --name "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# one_run TAG [worker 3's extra args]: fast workers' steps per second, one line.
one_run() {
	local tag=$1
	shift
	"$lab" up --name "$name" --config "$cfg" --app "$build/app/ainftp-app" \
		--impair-bin "$build/tools/ainftp-impair" >"$work/up.out" 2>&1 ||
		{ cat "$work/up.out" >&2; exit 1; }
	for w in 0 1 2 3; do
		extra=()
		[ $w = 3 ] && extra=("$@")
		"$lab" exec --name "$name" -- "$build/tools/ainftp-worker" -c "$cfg" --job 4 \
			--worker $w --size "$size" --steps 100000 --end-step "$end" --json \
			--progress 0 "${extra[@]}" >"$work/$tag.$w" 2>"$work/$tag.$w.err" &
	done
	wait
	"$lab" down --name "$name" >/dev/null 2>&1
	/usr/bin/python3 - "$work" "$tag" <<'PY'
import json, sys
work, tag = sys.argv[1:]
rates = []
for w in range(4):
    lines = open("%s/%s.%d" % (work, tag, w)).read().splitlines()
    if not lines:
        sys.exit("worker %d printed nothing: %s" % (w, open("%s/%s.%d.err" % (work, tag, w)).read()))
    r = json.loads(lines[-1])
    if w < 3:
        rates.append(r["steps"] / r["wall_s"])
    else:
        slow = r
print("%s %.2f skipped_requests=%d skipped_chunks=%d" % (
    tag, sorted(rates)[1], slow["requests_skipped"], slow["chunks_skipped"]))
PY
}

for i in $(seq "$rounds"); do
	one_run paced
	one_run delayed --pause 5:"$delay"
done | tee "$work/lines"
/usr/bin/python3 - "$work/lines" "$delay" <<'PY'
import statistics, sys
paced, delayed = [], []
for line in open(sys.argv[1]):
    tag, rate = line.split()[:2]
    (paced if tag == "paced" else delayed).append(float(rate))
p, d = statistics.median(paced), statistics.median(delayed)
print("bench-catchup: fast_steps_per_s_paced=%.2f fast_steps_per_s_delayed=%.2f ratio=%.2f "
      "delay_ms=%s rounds=%d" % (p, d, d / p, sys.argv[2], len(paced)))
PY
