#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The AF_XDP worker path (issue 15) in the lab of scripts/lab.sh up --xdp, where
# each worker address has a veth of its own at MTU 3500:
#  a. the lab: --xdp refused with --impair, --boxes and --port tap; each of jobs 31
#     and 32's four addresses alone on its own veth, at MTU 3500 at most, routed out
#     of it (ip route get ... from ADDR), pinging the appliance from it (ping -I),
#     its ARP entry for the appliance there; a 3472-byte UDP datagram from it leaves
#     by that veth, unfragmented; the box's kernel, asking for each address, learns
#     it at its own veth's MAC (only that veth answers ARP for it); and a native XDP
#     program (XDP_PASS, built with clang -target bpf) attaches to each veth, which
#     still carries a ping. A kernel that cannot do native XDP on a veth fails here,
#     never a skip: the AF_XDP path would have nothing to run on;
#  b. 4 ainftp-worker processes with --opt xdp=on on job 31 (int16, 1712 elements:
#     3472-byte datagrams both ways), 3 steps, every result verified: each exits 0,
#     and its --json line has xdp_sent > 0, xdp_received > 0 and checked > 0;
#  c. the same on job 32 (float32, 856 elements), 2 steps;
#  d. the fallback, in the lab without --xdp (MTU 9000, one veth for every
#     address): 4 workers with --opt xdp=on on job 2 (int16, 4462 elements:
#     8972-byte datagrams, larger than an AF_XDP frame, which --xdp's veths could
#     not carry either) verify over kernel UDP, each with xdp_sent 0 and exactly one
#     stderr line beginning "ainftp: AF_XDP".
# Both labs' final stats account for every frame (tests/accounting.py).
#
#   test_xdp.sh SRCDIR APP WORKER IMPAIR (IMPAIR: lab_lib.sh's up passes it on; no
#   --impair here)
set -euo pipefail

src=$1 app=$2 worker=$3 impair=$4
size=8M
lab=$src/scripts/lab.sh
name=txdp$$
work=$(mktemp -d)
cfg=$src/config/lab.json
int16_job=31 float32_job=32 jumbo_job=2
# shellcheck source=tests/lab_lib.sh
. "$src/tests/lab_lib.sh"

command -v clang >/dev/null || fail "needs clang to build an XDP program (scripts/deps.sh installs it)"

# --- a. the lab ---------------------------------------------------------------------

for bad in "--impair loss=1" "--boxes 2" "--port tap"; do
	rc=0
	# shellcheck disable=SC2086 # the option and its value, as words
	"$lab" up --name "$name" --xdp $bad --app "$app" >"$work/out" 2>&1 || rc=$?
	if [ "$rc" != 2 ] || ! grep -q "^scripts/lab.sh: --xdp: " "$work/out"; then
		fail "up --xdp $bad: exit $rc, not 2 with a line on --xdp: $(cat "$work/out")"
	fi
done
! ip netns list | grep -q "^$name-" || fail "a refused up --xdp left namespaces"
echo "ok: --xdp refused with --impair, --boxes and --port tap"

# XDP_PASS for every frame, with no header: whether a veth takes a native program.
cat >"$work/pass.c" <<'EOF'
__attribute__((section("xdp"), used)) int xdp_pass(void *ctx) { return 2; /* XDP_PASS */ }
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
clang -O2 -target bpf -c "$work/pass.c" -o "$work/pass.o" 2>"$work/clang.err" ||
	fail "clang -target bpf: $(cat "$work/clang.err")"

up --xdp
cat "$work/up.out"
read -r appliance mac addrs < <(/usr/bin/python3 - "$cfg" "$int16_job" "$float32_job" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
jobs = {j["id"]: j for j in c["jobs"]}
addrs = [w["ipv4"] for w in jobs[int(sys.argv[2])]["workers"]]
assert addrs == [w["ipv4"] for w in jobs[int(sys.argv[3])]["workers"]], "jobs' addresses differ"
print(c["appliance"]["ipv4"], c["appliance"]["mac"].lower(), " ".join(addrs))
PY
)
wk=$name-wk
ifs=()
sysfs() { # IF FILE: a value of the veth's, from the workers' namespace's sysfs
	ip netns exec "$wk" cat "/sys/class/net/$1/$2"
}
tx() { # the transmitted packet counts of the worker veths, in order
	local i
	for i in "${ifs[@]}"; do sysfs "$i" statistics/tx_packets; done | tr '\n' ' '
}
for a in $addrs; do
	i=$(ip -n "$wk" -o -4 addr show | awk -v a="$a/24" '$4 == a { print $2 }')
	[ "$(echo "$i" | wc -w)" = 1 ] || fail "$a: on \"$i\", not on one interface"
	[ "$(ip -n "$wk" -o -4 addr show dev "$i" | wc -l)" = 1 ] || fail "$a: $i has other addresses"
	for j in "${ifs[@]}"; do [ "$j" != "$i" ] || fail "$a: shares $i with another address"; done
	ifs+=("$i")
	[ "$(sysfs "$i" mtu)" -le 3500 ] || fail "$a: $i has MTU $(sysfs "$i" mtu), above 3500"
	ip -n "$wk" route get "$appliance" from "$a" | grep -q " dev $i " ||
		fail "$a: not routed out of $i: $(ip -n "$wk" route get "$appliance" from "$a")"
	ip netns exec "$wk" ping -I "$a" -c1 -W2 "$appliance" >"$work/ping" ||
		fail "ping -I $a $appliance: $(cat "$work/ping")"
	ip -n "$wk" neigh show "$appliance" dev "$i" | grep -qi "lladdr $mac" ||
		fail "$a: no ARP entry for $appliance at $mac on $i: $(ip -n "$wk" neigh show)"
	echo "ok: $a alone on $i (MTU $(sysfs "$i" mtu)), routed out of it, pings $appliance"
done

# A 3472-byte datagram (a job 31 DATA's size) from each address: out of its own
# veth, whole (IP_PMTUDISC_DO: EMSGSIZE rather than fragments), to the discard
# port (the app drops it).
k=0
for a in $addrs; do
	read -ra before <<<"$(tx)"
	ip netns exec "$wk" /usr/bin/python3 - "$a" "$appliance" <<'PY' || fail "UDP from $a"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER, IP_PMTUDISC_DO
s.bind((sys.argv[1], 0))
for _ in range(20):
    s.sendto(bytes(3472), (sys.argv[2], 9))
PY
	read -ra after <<<"$(tx)"
	for j in "${!ifs[@]}"; do
		d=$((after[j] - before[j]))
		if [ "$j" = "$k" ]; then
			[ "$d" -ge 20 ] || fail "$a: ${ifs[j]} sent $d frames of its 20 datagrams"
		else
			[ "$d" -lt 20 ] || fail "$a: its datagrams left by ${ifs[j]} ($d frames), not ${ifs[k]}"
		fi
	done
	k=$((k + 1))
done
echo "ok: 3472-byte UDP datagrams from each address leave whole by its own veth"

# The box's kernel asks for each address (from a spare address on the bridge, as
# scripts/bench-allreduce.sh measures): the answer comes from that address's veth.
br=$(ip -n "$name-box" -o link show type bridge | awk -F': ' '{ print $2; exit }')
ip -n "$name-box" addr add 198.18.0.254/24 dev "$br"
k=0
for a in $addrs; do
	ip netns exec "$name-box" ping -c1 -W2 "$a" >"$work/ping" ||
		fail "ping $a from the box: $(cat "$work/ping")"
	want=$(sysfs "${ifs[k]}" address)
	ip -n "$name-box" neigh show "$a" | grep -qi "lladdr $want" ||
		fail "the box learnt $a at $(ip -n "$name-box" neigh show "$a"), not ${ifs[k]}'s $want"
	k=$((k + 1))
done
ip -n "$name-box" addr del 198.18.0.254/24 dev "$br"
echo "ok: ARP for each address answered by its own veth only"

# Native XDP on each worker veth (its peer at MTU 3500 on the bridge), a ping
# through it, then off again for the workers' own programs.
k=0
for a in $addrs; do
	i=${ifs[k]}
	ip -n "$wk" link set dev "$i" xdpdrv obj "$work/pass.o" sec xdp 2>"$work/xdp.err" ||
		fail "native XDP on $i (MTU $(sysfs "$i" mtu)): $(cat "$work/xdp.err")"
	ip -n "$wk" link show dev "$i" | grep -q "prog/xdp" || fail "$i: no prog/xdp after xdpdrv"
	ip netns exec "$wk" ping -I "$a" -c1 -W2 "$appliance" >"$work/ping" ||
		fail "ping -I $a through XDP_PASS on $i: $(cat "$work/ping")"
	ip -n "$wk" link set dev "$i" xdpdrv off
	k=$((k + 1))
done
echo "ok: native XDP attaches to every worker veth (xdpdrv), pings pass through it"

# --- b, c. AF_XDP workers -------------------------------------------------------------

# run_all TAG JOB STEPS [ARGS...]: workers 0..3 at once, every result verified; each
# one's stdout (its --json line) in TAG.W, stderr in TAG.W.err, exit status in TAG.W.rc.
run_all() {
	local tag=$1 job=$2 steps=$3 w
	shift 3
	for w in 0 1 2 3; do
		(
			rc=0
			"$lab" exec --name "$name" -- timeout 120 "$worker" -c "$cfg" --job "$job" \
				--worker "$w" --size "$size" --steps "$steps" --verify 4 --json --progress 0 \
				"$@" >"$work/$tag.$w" 2>"$work/$tag.$w.err" || rc=$?
			echo "$rc" >"$work/$tag.$w.rc"
		) &
	done
	wait
}

# check TAG xdp|fallback: each worker exited 0, verified, and its datagrams went
# over AF_XDP (xdp) or over kernel UDP after one "ainftp: AF_XDP" line (fallback).
check() {
	/usr/bin/python3 - "$work/$1" "$2" <<'PY' || fail "$1 (above)"
import json, sys
stem, mode = sys.argv[1], sys.argv[2]
bad = []
for w in range(4):
    rc = open("%s.%d.rc" % (stem, w)).read().strip()
    err = open("%s.%d.err" % (stem, w)).read().splitlines()
    xdp_lines = [l for l in err if l.startswith("ainftp: AF_XDP")]
    tail = " | ".join(err[-3:])
    if rc != "0":
        bad.append("worker %d: exit %s: %s" % (w, rc, tail))
        continue
    lines = [l for l in open("%s.%d" % (stem, w)) if l.startswith("{")]
    if not lines:
        bad.append("worker %d: no --json line; stderr: %s" % (w, tail))
        continue
    j = json.loads(lines[-1])
    missing = [k for k in ("xdp_sent", "xdp_received", "checked") if k not in j]
    if missing:
        bad.append("worker %d: no %s in its --json line" % (w, ", ".join(missing)))
        continue
    if j["checked"] <= 0:
        bad.append("worker %d: checked %d elements" % (w, j["checked"]))
    if mode == "xdp" and not (j["xdp_sent"] > 0 and j["xdp_received"] > 0):
        bad.append("worker %d: xdp_sent %d, xdp_received %d (not over AF_XDP)%s" % (
            w, j["xdp_sent"], j["xdp_received"],
            ": " + xdp_lines[0] if xdp_lines else ""))
    if mode == "fallback":
        if j["xdp_sent"] != 0:
            bad.append("worker %d: xdp_sent %d on a job of jumbo datagrams" % (w, j["xdp_sent"]))
        if len(xdp_lines) != 1:
            bad.append("worker %d: %d stderr lines beginning \"ainftp: AF_XDP\", not 1: %s"
                       % (w, len(xdp_lines), xdp_lines))
    print("worker %d: %d elements checked, xdp_sent %d, xdp_received %d, %s Gbit/s per core "
          "tx, %s rx%s" % (w, j["checked"], j["xdp_sent"], j["xdp_received"],
                          j["tx_gbps_per_core"], j["rx_gbps_per_core"],
                          "; " + xdp_lines[0] if xdp_lines else ""))
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
	echo "ok: $1"
}

run_all xdp-int16 "$int16_job" 3 --opt xdp=on
check xdp-int16 xdp
run_all xdp-float32 "$float32_job" 2 --opt xdp=on
check xdp-float32 xdp
down
! ip netns list | grep -q "^$name-" || fail "namespaces left after down"
[ ! -e "/run/$name" ] || fail "/run/$name left after down"

# --- d. the fallback ------------------------------------------------------------------

up
run_all fallback-jumbo "$jumbo_job" 1 --opt xdp=on
check fallback-jumbo fallback
down
echo "xdp: ok"
