#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# All-reduce of 64 MB of float32 by 4 workers on this machine, in one run:
#   ainftp   4 ainftp-worker processes (the client library over kernel UDP) through
#            ainftp-app on net_tap in the lab of scripts/lab.sh, for float32, int16
#            and int8 wire encodings;
#   gloo     torch.distributed's Gloo all-reduce by 4 processes over 127.0.0.1,
#            with the lab up (the appliance's busy-polling core taken, as for ainftp)
#            and with it down (Gloo alone on the machine).
# Prints each one's median step time and the ratio to Gloo, and the client's
# UDP payload Gbit/s per core of CPU time, sent and received (the medians over
# the 4 workers). On a machine of a few cores the workers, the appliance and the
# kernel's tap share them: compare ratios, not absolute numbers.
# Usage: scripts/bench-allreduce.sh [--size 64M] [--steps 5]
set -euo pipefail
cd "$(dirname "$0")/.."

size=64M
steps=5
while [ $# -gt 0 ]; do
	case $1 in
	--size) size=$2; shift 2 ;;
	--steps) steps=$2; shift 2 ;;
	*) echo "usage: $0 [--size N[K|M|G]] [--steps N]" >&2; exit 2 ;;
	esac
done

./scripts/deps.sh
./scripts/build.sh >/dev/null
name=bench$$
work=$(mktemp -d)
trap 'scripts/lab.sh down --name $name >/dev/null 2>&1 || true; rm -rf $work' EXIT

elems=$(/usr/bin/python3 -c "
s = '$size'.upper(); m = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}
print((int(s[:-1]) * m[s[-1]] if s[-1] in m else int(s)) // 4)")

ainftp() { # JOB LABEL
	local job=$1 label=$2
	for w in 0 1 2 3; do
		scripts/lab.sh exec --name $name -- build/tools/ainftp-worker -c config/lab.json \
			--job "$job" --worker $w --size "$size" --steps "$steps" --json \
			>"$work/$label.$w" &
	done
	wait
	cat "$work/$label".[0-3] >"$work/$label.json"
}

gloo() { # LABEL [ip netns exec NS]
	local label=$1
	shift
	"$@" /usr/bin/python3 scripts/bench-gloo.py --workers 4 --elems "$elems" \
		--steps "$steps" >"$work/$label.json"
}

echo "== 4 workers, $size of float32 each, $steps steps"
scripts/lab.sh up --name $name >/dev/null
ainftp 1 ainftp-float32
ainftp 2 ainftp-int16
ainftp 3 ainftp-int8
gloo gloo-lab-up ip netns exec $name-wk
scripts/lab.sh down --name $name >/dev/null
gloo gloo-alone

/usr/bin/python3 - "$work" <<'PY'
import json, statistics, sys
d = sys.argv[1]
def load(label):
    return [json.loads(l) for l in open("%s/%s.json" % (d, label)) if l.strip()]
base = load("gloo-lab-up")[0]["median_s"]
alone = load("gloo-alone")[0]["median_s"]
print("%-16s %12s %10s %14s %22s" % ("", "median ms", "vs gloo", "retransmits",
      "Gbit/s per core tx/rx"))
for label in ("ainftp-float32", "ainftp-int16", "ainftp-int8"):
    ws = load(label)
    # A collective ends for everyone with its slowest worker.
    med = max(w["median_s"] for w in ws)
    retx = sum(w["retransmits"] for w in ws)
    tx = statistics.median(w["tx_gbps_per_core"] for w in ws)
    rx = statistics.median(w["rx_gbps_per_core"] for w in ws)
    print("%-16s %12.1f %9.2fx %14d %11.2f / %.2f" % (label, med * 1e3, base / med, retx, tx, rx))
print("%-16s %12.1f %9.2fx" % ("gloo (lab up)", base * 1e3, 1.0))
print("%-16s %12.1f %9.2fx" % ("gloo (alone)", alone * 1e3, base / alone))
print("(vs gloo > 1: faster than Gloo with the lab up; ainftp's median is its slowest worker's)")
PY
