#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# All-reduce of 64 MB of float32 by 4 workers on this machine, in one run:
#   ainftp   4 ainftp-worker processes (the client library over kernel UDP) through
#            ainftp-app on net_af_packet (a veth pair, MTU 9000) in the lab of
#            scripts/lab.sh, for float32, int16 and int8 wire encodings;
#   gloo     torch.distributed's Gloo all-reduce by 4 processes over 127.0.0.1,
#            with the lab up (the appliance's busy-polling core taken, as for ainftp)
#            and with it down (Gloo alone on the machine).
#   raw UDP  the kernel's ceiling between the same namespaces, with no ainftp code
#            (ainftp-udp-ceiling: 64 KB per sendmsg cut by UDP GSO into datagrams of
#            the lab's MTU, received with UDP GRO), while the lab is up. The lab's
#            wire is a veth pair whose far end the app reads itself, so the ceiling
#            has a veth pair of its own between the namespaces, at the lab's MTU,
#            with the kernel's offloads (a GSO send crosses it whole, to the box's
#            kernel). Workers to box gives the send ceiling (sender in the workers'
#            namespace), box to workers the receive ceiling (receiver in the
#            workers' namespace), as the client sends and receives there.
#   AF_XDP   then the lab again with --xdp (a veth per worker address, MTU 9000):
#            4 ainftp-worker processes on the int16 job (2: 8972-byte datagrams,
#            multi-buffer AF_XDP), once with --opt xdp=on (the client's AF_XDP
#            path: "xdp lab: int16 xdp") and once without (kernel UDP on the same
#            veths, the fair comparison: "xdp lab: int16 udp"), alternately,
#            --xdp-pairs times; then the per-core ratio of each pair and their
#            median. A failure there (an up, a worker) is printed and leaves the
#            xdp_ keys nan; the rest of the bench stands.
# Prints each one's median step time and the ratio to Gloo, the retransmissions
# per chunk (DATA datagrams sent again / chunks, each sent once first), and UDP
# payload Gbit/s per core of CPU time, sent and received (the client's: the
# medians over the 4 workers). On a machine of a few cores the workers, the
# appliance and the kernel's tap share them: compare ratios, not absolute numbers.
# The last line is one summary, KEY=VALUE separated by spaces (the client's
# figures from the int16 run; xdp_tx_gbps_per_core and xdp_rx_gbps_per_core the
# medians over the workers of the AF_XDP run, only if every worker sent and
# received over AF_XDP (xdp_sent and xdp_received above 0), else nan and a line
# saying why: a worker's "ainftp: AF_XDP" line when it fell back to kernel UDP;
# raw_duplex_gbps_per_core = 1 / (1/raw_tx + 1/raw_rx): a worker's two per-core
# figures share one CPU time, so a client that only sent and received each byte
# at the raw ceilings' cost would reach this each way, and ratio_raw_duplex the
# int16 client's lower figure over it).
# Usage: scripts/bench-allreduce.sh [--size 64M] [--steps 5] [--quick] [--idle-us US] [--no-xdp]
#                                   [--xdp-pairs 3] [--gloo-pairs 3]
#   --quick   8M and 2 steps (a minute or so), unless --size or --steps follow it
#   --idle-us the app sleeps US microseconds when its polls come back empty (lab.sh
#             --idle-us): its core is the workers' and the kernel's while idle
#   --no-xdp  without the AF_XDP lab and its runs (the xdp_ keys nan)
#   --xdp-pairs N  AF_XDP and kernel UDP runs in the AF_XDP lab, alternately (default 3)
#   --gloo-pairs N  int16 and Gloo (lab up) runs, alternately (default 3; the first
#             pair is the table's): int16_vs_gloo is the median of their ratios
set -euo pipefail
cd "$(dirname "$0")/.."

size=64M
steps=5
raw_time=2 # seconds each way of the raw UDP ceiling
idle_us=0  # the app's idle mode (lab.sh --idle-us): 0 busy-polls
xdp=1      # the AF_XDP lab's runs (--no-xdp: none)
xdp_job=2  # config/lab.json: int16, 4462 elements, as the int16 row
xdp_pairs=3 # AF_XDP and kernel UDP runs, alternately (--xdp-pairs)
gloo_pairs=3 # ainftp int16 and Gloo (lab up) runs, alternately (--gloo-pairs)
while [ $# -gt 0 ]; do
	case $1 in
	--size) size=$2; shift 2 ;;
	--steps) steps=$2; shift 2 ;;
	--quick) size=8M steps=2 raw_time=1; shift ;;
	--idle-us) idle_us=$2; shift 2 ;;
	--no-xdp) xdp=; shift ;;
	--xdp-pairs) [[ "${2:-}" =~ ^[1-9][0-9]?$ ]] || { echo "$0: --xdp-pairs: 1..99" >&2; exit 2; }
		xdp_pairs=$2; shift 2 ;;
	--gloo-pairs) [[ "${2:-}" =~ ^[1-9][0-9]?$ ]] || { echo "$0: --gloo-pairs: 1..99" >&2; exit 2; }
		gloo_pairs=$2; shift 2 ;;
	*) echo "usage: $0 [--size N[K|M|G]] [--steps N] [--quick] [--idle-us US] [--no-xdp] [--xdp-pairs N] [--gloo-pairs N]" >&2; exit 2 ;;
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

# Worker 0 alone prints progress (every 10 s, on stderr): one line per interval.
# --same-gradient: each step all-reduces the first step's gradient, copied in, as
# bench-gloo.py refills its tensor (the tool's generator is not what is timed);
# --barrier: each step starts when all 4 have refilled, as bench-gloo.py's ranks
# meet at dist.barrier() (a worker's clock would otherwise run while its peers
# still copy 64 MB on the shared core, and that copy was timed as all-reduce).
# Each worker's stderr goes on to ours and into LABEL.W.err, its exit status into
# LABEL.W.rc: the AF_XDP runs are judged by them (a worker that fell back says so).
ainftp() { # JOB LABEL [WORKER-ARGS...]
	local job=$1 label=$2
	shift 2
	for w in 0 1 2 3; do
		(
			rc=0
			scripts/lab.sh exec --name $name -- build/tools/ainftp-worker -c config/lab.json \
				--job "$job" --worker $w --size "$size" --steps "$steps" --json --same-gradient \
				--progress $([ $w = 0 ] && echo 10 || echo 0) --barrier "$work/$label.barrier" \
				"$@" 2>&1 >"$work/$label.$w" |
				tee "$work/$label.$w.err" | sed "s/^/  $label worker $w: /" >&2 ||
				rc=${PIPESTATUS[0]}
			echo "$rc" >"$work/$label.$w.rc"
		) &
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

# One way of the raw ceiling: receiver in RNS on RADDR, sender in SNS from SADDR.
raw_one() { # LABEL RNS RADDR SNS SADDR SEG
	local label=$1 rns=$2 raddr=$3 sns=$4 saddr=$5 seg=$6 i
	ip netns exec "$rns" build/tools/ainftp-udp-ceiling --recv "$raddr:5001" --wait 10 \
		>"$work/$label.recv.json" 2>"$work/$label.err" &
	local pid=$!
	for i in $(seq 50); do
		grep -qs receiving "$work/$label.err" && break
		sleep 0.1
	done
	ip netns exec "$sns" build/tools/ainftp-udp-ceiling --send "$raddr:5001" --bind "$saddr" \
		--seg "$seg" --time "$raw_time" >"$work/$label.send.json"
	wait $pid || { cat "$work/$label.err" >&2; return 1; }
}

raw_ceiling() {
	local mtu=$1 raddr=198.19.255.1 waddr=198.19.255.2
	# A veth pair of its own between the two namespaces, at the lab's MTU, with
	# the kernel's offloads on: a GSO send crosses it whole and ends in the box's
	# kernel, as the lab's path through its bridge did before the direct pair.
	# The lab's wire would not do: its far end is the app's, and the workers'
	# end cuts each GSO send into datagrams for the app's ring. Its own /30, out of
	# the lab's /24, so the lab's routes are untouched.
	ip -n $name-box link add abraw mtu "$mtu" type veth peer name abraw mtu "$mtu" netns $name-wk
	ip -n $name-box addr add $raddr/30 dev abraw
	ip -n $name-wk addr add $waddr/30 dev abraw
	ip -n $name-box link set abraw up
	ip -n $name-wk link set abraw up
	raw_one raw-tx $name-box $raddr $name-wk $waddr $((mtu - 28))
	raw_one raw-rx $name-wk $waddr $name-box $raddr $((mtu - 28))
	ip -n $name-box link del abraw
	echo "raw UDP: $name-wk $waddr <-> $name-box $raddr on a veth pair of their own, MTU $mtu, $raw_time s each way"
}

echo "== 4 workers, $size of float32 each, $steps steps"
scripts/lab.sh up --name $name --idle-us "$idle_us" >/dev/null
raw_ceiling "$(/usr/bin/python3 -c "import json; print(json.load(open('config/lab.json'))['ports'][0]['mtu'])")"
ainftp 1 ainftp-float32
ainftp 2 ainftp-int16
ainftp 3 ainftp-int8
gloo gloo-lab-up ip netns exec $name-wk
# int16 against Gloo again, alternately: Gloo's own time moves by a fifth between
# runs on a shared machine, and int16_vs_gloo is the median of the pairs' ratios.
for k in $(seq 2 "$gloo_pairs"); do
	ainftp 2 ainftp-int16-$k
	gloo gloo-lab-up-$k ip netns exec $name-wk
done
scripts/lab.sh down --name $name >/dev/null
gloo gloo-alone

# The AF_XDP lab: the same job over AF_XDP and over kernel UDP, in one lab. A client
# built without the path says so and uses UDP: printed, xdp_ nan.
if [ -n "$xdp" ]; then
	if scripts/lab.sh up --name $name --xdp --idle-us "$idle_us" >"$work/xdp-up.out" 2>&1; then
		for k in $(seq "$xdp_pairs"); do
			ainftp $xdp_job ainftp-int16-xdp-$k --opt xdp=on
			ainftp $xdp_job ainftp-int16-udp-xdplab-$k
		done
		scripts/lab.sh down --name $name >/dev/null ||
			echo "bench-allreduce: lab.sh down after the AF_XDP runs failed" >&2
	else
		echo "bench-allreduce: lab.sh up --xdp failed: $(tail -n 3 "$work/xdp-up.out")" >&2
		echo "lab.sh up --xdp failed (above)" >"$work/xdp-skipped"
	fi
else
	echo "--no-xdp" >"$work/xdp-skipped"
fi

/usr/bin/python3 - "$work" "$xdp_pairs" "$gloo_pairs" <<'PY'
import json, os, statistics, sys
d, pairs, gpairs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(label):
    return [json.loads(l) for l in open("%s/%s.json" % (d, label)) if l.strip()]
def load_run(label):
    """An AF_XDP lab run: its 4 workers' JSON, or None and why not."""
    ws = []
    for w in range(4):
        stem = "%s/%s.%d" % (d, label, w)
        rc = open(stem + ".rc").read().strip()
        err = [l for l in open(stem + ".err").read().splitlines() if l.strip()]
        lines = [l for l in open(stem) if l.startswith("{")]
        if rc != "0" or not lines:
            return None, "worker %d exit %s: %s" % (w, rc, err[-1] if err else "no output")
        ws.append((json.loads(lines[-1]), err))
    return ws, None
base = load("gloo-lab-up")[0]["median_s"]
alone = load("gloo-alone")[0]["median_s"]
raw_tx, raw_tx_peer = load("raw-tx.send")[0], load("raw-tx.recv")[0]
raw_rx, raw_rx_peer = load("raw-rx.recv")[0], load("raw-rx.send")[0]
print("%-22s %12s %10s %12s %10s %22s %9s" % ("", "median ms", "vs gloo", "retransmits",
      "retx/chunk", "Gbit/s per core tx/rx", "cpu busy"))
res, all_retx, all_first, all_probes, all_dups = {}, 0, 0, 0, 0
def row(name, ws):
    # A collective ends for everyone with its slowest worker.
    med = max(w["median_s"] for w in ws)
    retx = sum(w["retransmits"] for w in ws)
    first = sum(w["first_sends"] for w in ws)
    tx = statistics.median(w["tx_gbps_per_core"] for w in ws)
    rx = statistics.median(w["rx_gbps_per_core"] for w in ws)
    # The share of its wall time a worker's threads were on a CPU: low, and the
    # client waits on the path or its timers rather than computing.
    busy = statistics.median(w["cpu_s"] / w["wall_s"] for w in ws)
    print("%-22s %12.1f %9.2fx %12d %10.4f %11.2f / %-5.2f %8.0f%%" % (name, med * 1e3,
          base / med, retx, retx / first, tx, rx, busy * 100))
    return med, tx, rx, retx, first
for label in ("ainftp-float32", "ainftp-int16", "ainftp-int8"):
    ws = load(label)
    med, tx, rx, retx, first = row(label, ws)
    all_retx, all_first = all_retx + retx, all_first + first
    # The timers' other cost on a clean path: a PROBE when a chunk's timer ran out
    # (its result had not come), and the results that then came twice.
    all_probes += sum(w["probes"] for w in ws)
    all_dups += sum(w["dup_results"] for w in ws)
    res[label] = (med, tx, rx)
# The AF_XDP lab's runs (job 2): over AF_XDP, and over kernel UDP.
xdp_tx = xdp_rx = float("nan")
skipped = os.path.exists("%s/xdp-skipped" % d)
if skipped:
    why = "not run: " + open("%s/xdp-skipped" % d).read().strip()
else:
    why, xdp_runs, ratios = None, [], []
    for k in range(1, pairs + 1):
        got = {}
        for kind, label, name in (("xdp", "ainftp-int16-xdp-%d" % k, "xdp lab: int16 xdp"),
                                  ("udp", "ainftp-int16-udp-xdplab-%d" % k,
                                   "xdp lab: int16 udp")):
            name += " #%d" % k if pairs > 1 else ""
            ws, err = load_run(label)
            if ws is None:
                print("%-22s %12s  %s" % (name, "failed", err))
                why = why or "the %s run %d failed: %s" % (kind, k, err)
                continue
            # A worker that fell back to kernel UDP says why in its "ainftp: AF_XDP" line.
            fell = ["worker %d: xdp_sent %s, xdp_received %s%s" % (
                        n, w.get("xdp_sent", "absent"), w.get("xdp_received", "absent"),
                        "; " + [l for l in e if l.startswith("ainftp: AF_XDP")][0]
                        if any(l.startswith("ainftp: AF_XDP") for l in e) else "")
                    for n, (w, e) in enumerate(ws)
                    if kind == "xdp" and not (w.get("xdp_sent", 0) > 0 and
                                              w.get("xdp_received", 0) > 0)]
            if fell:
                why = why or "not every worker went over AF_XDP: " + " | ".join(fell)
            got[kind] = row(name, [w for w, _ in ws])
        if "xdp" in got:
            xdp_runs.append(got["xdp"])
        if len(got) == 2:
            ratios.append(got["xdp"][1] / got["udp"][1])
    if not why:
        xdp_tx = statistics.median(r[1] for r in xdp_runs)
        xdp_rx = statistics.median(r[2] for r in xdp_runs)
    if ratios:
        print("AF_XDP / kernel UDP, Gbit/s per core tx, each pair: %s; median %.2f" % (
            " ".join("%.2f" % r for r in ratios), statistics.median(ratios)))
print("%-22s %12.1f %9.2fx" % ("gloo (lab up)", base * 1e3, 1.0))
# int16 and Gloo alternated: each pair's ratio (Gloo's time over int16's slowest worker's).
g_ratios = [base / res["ainftp-int16"][0]]
for k in range(2, gpairs + 1):
    g16 = max(w["median_s"] for w in load("ainftp-int16-%d" % k))
    gk = load("gloo-lab-up-%d" % k)[0]["median_s"]
    print("%-22s %12.1f %9.2fx" % ("ainftp-int16 #%d" % k, g16 * 1e3, gk / g16))
    print("%-22s %12.1f %9.2fx" % ("gloo (lab up) #%d" % k, gk * 1e3, 1.0))
    g_ratios.append(gk / g16)
if gpairs > 1:
    print("int16 against Gloo (lab up), alternated, each pair: %s; median %.2f" % (
        " ".join("%.2f" % r for r in g_ratios), statistics.median(g_ratios)))
print("%-22s %12.1f %9.2fx" % ("gloo (alone)", alone * 1e3, base / alone))
# The ceiling's far ends (box side) are shown for what they are, not compared.
print("%-22s %49s %11.2f / %.2f" % ("raw UDP GSO/GRO", "workers' side:", raw_tx["gbps_per_core"],
      raw_rx["gbps_per_core"]))
print("%-22s %49s %11.2f / %.2f" % ("", "box side:", raw_rx_peer["gbps_per_core"],
      raw_tx_peer["gbps_per_core"]))
print("(vs gloo > 1: faster than Gloo with the lab up; ainftp's median is its slowest worker's;")
print(" retx/chunk: DATA datagrams sent again per chunk; raw UDP: %d-byte datagrams, %.0f s each way;"
      % (raw_tx["seg"], raw_tx["wall_s"]))
print(" probes_per_chunk, dup_results_per_chunk: PROBEs sent after a timer ran out, and RESULTs")
print(" for chunks already done, per chunk, over the three table runs;")
print(" cpu busy: the workers' median CPU time / wall time;")
print(" xdp lab: the int16 job in lab.sh up --xdp (a veth per worker), over AF_XDP")
print(" and over kernel UDP, alternately; xdp_ keys: the medians of the AF_XDP runs;")
print(" int16_vs_gloo: the median of the int16 / Gloo pairs' ratios, the first pair the table's)")
if why:
    print("xdp_tx_gbps_per_core, xdp_rx_gbps_per_core: nan: %s" % why)
med16, tx16, rx16 = res["ainftp-int16"]
# A worker sends its bytes and receives as many back, both on the same CPU time, which
# both of its per-core figures divide by; each raw ceiling does one direction only. A
# client that did nothing but send and receive each byte at the raw ceilings' cost
# would move 1 / (1/tx + 1/rx) each way per core: the most ratio_raw_tx and _rx can be.
duplex = 1.0 / (1.0 / raw_tx["gbps_per_core"] + 1.0 / raw_rx["gbps_per_core"])
print("raw duplex bound: %.2f Gbit/s per core each way (a client that only sent and received its"
      % duplex)
print(" bytes at the raw ceilings' cost, on one CPU time): ratio_raw_tx <= %.2f, ratio_raw_rx <= %.2f;"
      % (duplex / raw_tx["gbps_per_core"], duplex / raw_rx["gbps_per_core"]))
print(" the int16 client is at %.2f of it" % (min(tx16, rx16) / duplex))
kv = [("client_tx_gbps_per_core", tx16), ("client_rx_gbps_per_core", rx16),
      ("raw_tx_gbps_per_core", raw_tx["gbps_per_core"]),
      ("raw_rx_gbps_per_core", raw_rx["gbps_per_core"]),
      ("ratio_raw_tx", tx16 / raw_tx["gbps_per_core"]),
      ("ratio_raw_rx", rx16 / raw_rx["gbps_per_core"]),
      ("xdp_tx_gbps_per_core", xdp_tx), ("xdp_rx_gbps_per_core", xdp_rx),
      ("int16_vs_gloo", statistics.median(g_ratios)),
      ("float32_vs_gloo", base / res["ainftp-float32"][0]),
      ("retransmits_per_chunk", all_retx / all_first),
      ("probes_per_chunk", all_probes / all_first),
      ("dup_results_per_chunk", all_dups / all_first),
      ("raw_duplex_gbps_per_core", duplex), ("ratio_raw_duplex", min(tx16, rx16) / duplex)]
print("bench-allreduce: " + " ".join("%s=%.4g" % (k, v) for k, v in kv))
PY
