#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The AF_XDP worker path (issue 15) in the lab of scripts/lab.sh up --xdp, where
# each worker address has a veth of its own at the config's MTU (9000):
#  a. the lab: --xdp refused with --impair, --boxes and --port tap; each of the
#     jobs' four addresses alone on its own veth, at the lab's MTU, routed out of it
#     (ip route get ... from ADDR), pinging the appliance from it (ping -I), its ARP
#     entry for the appliance there; a UDP datagram of the MTU from it leaves by
#     that veth, unfragmented; the box's kernel, asking for each address, learns it
#     at its own veth's MAC (only that veth answers ARP for it);
#  b. 4 ainftp-worker processes with --opt xdp=on on job 2 (int16, 4462 elements:
#     8972-byte datagrams both ways, each frame over 3 UMEM frames: multi-buffer),
#     3 steps, every result verified: each exits 0, and its --json line has
#     xdp_sent > 0, xdp_received > 0, xdp_native 1 (the program in the veth's
#     driver: a kernel that cannot fails here, never a skip) and checked > 0;
#  c. the same on job 32 (float32, 856 elements: 3472-byte datagrams, one UMEM
#     frame each), 2 steps, and on job 3 (int8, int16 results), 1 step;
#  d. a worker killed (SIGKILL) while on AF_XDP leaves no XDP program on its
#     veth: the program hangs on a BPF link, gone with the process;
#  e. one veth for every address (the lab without --xdp): 4 workers with --opt
#     xdp=on on job 2 verify, exactly one of them over AF_XDP (the veth's one
#     queue takes one socket) and the other three over kernel UDP, each of those
#     with xdp_sent 0 and exactly one stderr line beginning "ainftp: AF_XDP" that
#     says the queue has a socket already.
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
int16_job=2 float32_job=32 int8_job=3
# shellcheck source=tests/lab_lib.sh
. "$src/tests/lab_lib.sh"


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

up --xdp
cat "$work/up.out"
read -r appliance mac mtu addrs < <(/usr/bin/python3 - "$cfg" "$int16_job" "$float32_job" \
	"$int8_job" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
jobs = {j["id"]: j for j in c["jobs"]}
addrs = [w["ipv4"] for w in jobs[int(sys.argv[2])]["workers"]]
for j in sys.argv[3:]:
    assert addrs == [w["ipv4"] for w in jobs[int(j)]["workers"]], "jobs' addresses differ"
print(c["appliance"]["ipv4"], c["appliance"]["mac"].lower(), c["ports"][0].get("mtu", 1500),
      " ".join(addrs))
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
	[ "$(sysfs "$i" mtu)" = "$mtu" ] || fail "$a: $i has MTU $(sysfs "$i" mtu), not the lab's $mtu"
	ip -n "$wk" route get "$appliance" from "$a" | grep -q " dev $i " ||
		fail "$a: not routed out of $i: $(ip -n "$wk" route get "$appliance" from "$a")"
	ip netns exec "$wk" ping -I "$a" -c1 -W2 "$appliance" >"$work/ping" ||
		fail "ping -I $a $appliance: $(cat "$work/ping")"
	ip -n "$wk" neigh show "$appliance" dev "$i" | grep -qi "lladdr $mac" ||
		fail "$a: no ARP entry for $appliance at $mac on $i: $(ip -n "$wk" neigh show)"
	echo "ok: $a alone on $i (MTU $(sysfs "$i" mtu)), routed out of it, pings $appliance"
done

# A datagram of the MTU (a job 2 DATA's size) from each address: out of its own
# veth, whole (IP_PMTUDISC_DO: EMSGSIZE rather than fragments), to the discard
# port (the app drops it).
k=0
for a in $addrs; do
	read -ra before <<<"$(tx)"
	ip netns exec "$wk" /usr/bin/python3 - "$a" "$appliance" "$mtu" <<'PY' || fail "UDP from $a"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER, IP_PMTUDISC_DO
s.bind((sys.argv[1], 0))
for _ in range(20):
    s.sendto(bytes(int(sys.argv[3]) - 28), (sys.argv[2], 9))
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
echo "ok: $((mtu - 28))-byte UDP datagrams from each address leave whole by its own veth"

# The box's kernel asks for each address (from a spare address on the bridge):
# the answer comes from that address's veth.
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

# check TAG xdp|shared: each worker exited 0 and verified, and its datagrams went
# over AF_XDP in native mode (xdp), or, one veth for all (shared), one worker's did
# and the others' over kernel UDP after one "ainftp: AF_XDP" line on the busy queue.
check() {
	/usr/bin/python3 - "$work/$1" "$2" <<'PY' || fail "$1 (above)"
import json, sys
stem, mode = sys.argv[1], sys.argv[2]
bad = []
n_on = 0
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
    missing = [k for k in ("xdp_sent", "xdp_received", "xdp_native", "checked") if k not in j]
    if missing:
        bad.append("worker %d: no %s in its --json line" % (w, ", ".join(missing)))
        continue
    if j["checked"] <= 0:
        bad.append("worker %d: checked %d elements" % (w, j["checked"]))
    on = j["xdp_sent"] > 0 and j["xdp_received"] > 0
    if mode == "xdp" and not (on and j["xdp_native"] == 1):
        bad.append("worker %d: xdp_sent %d, xdp_received %d, xdp_native %d (not over native "
                   "AF_XDP)%s" % (w, j["xdp_sent"], j["xdp_received"], j["xdp_native"],
                                  ": " + xdp_lines[0] if xdp_lines else ""))
    if mode == "shared":
        n_on += on
        if not on and j["xdp_sent"] != 0:
            bad.append("worker %d: xdp_sent %d but nothing received over AF_XDP"
                       % (w, j["xdp_sent"]))
        if on and xdp_lines:
            bad.append("worker %d: over AF_XDP, yet it said %s" % (w, xdp_lines))
        if not on and (len(xdp_lines) != 1 or "has an AF_XDP socket already" not in xdp_lines[0]):
            bad.append("worker %d: %d stderr lines beginning \"ainftp: AF_XDP\", not 1 on "
                       "the busy queue: %s" % (w, len(xdp_lines), xdp_lines))
    print("worker %d: %d elements checked, xdp_sent %d, xdp_received %d, %s Gbit/s per core "
          "tx, %s rx%s" % (w, j["checked"], j["xdp_sent"], j["xdp_received"],
                          j["tx_gbps_per_core"], j["rx_gbps_per_core"],
                          "; " + xdp_lines[0] if xdp_lines else ""))
if mode == "shared" and n_on != 1:
    bad.append("%d workers over AF_XDP on one veth, not 1" % n_on)
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
run_all xdp-int8 "$int8_job" 1 --opt xdp=on
check xdp-int8 xdp

# --- d. a killed AF_XDP worker leaves nothing on its veth ---------------------------------
# Its program hangs on a BPF link: the kernel takes it off when the process dies, so
# the next worker on that veth attaches its own. (ip netns exec execs the worker: $!
# is the worker itself.)
xdp_on() { ip -n "$wk" link show dev "${ifs[0]}" | grep -q "prog/xdp"; }
! xdp_on || fail "${ifs[0]} has an XDP program before the worker"
ip netns exec "$wk" "$worker" -c "$cfg" --job "$int16_job" --worker 0 --size "$size" \
	--steps 1 --progress 0 --opt xdp=on >"$work/kill.out" 2>&1 &
wpid=$!
for _ in $(seq 50); do xdp_on && break; sleep 0.1; done
xdp_on || fail "worker 0 with --opt xdp=on: no XDP program on ${ifs[0]} within 5 s: $(cat "$work/kill.out")"
kill -9 "$wpid"
wait "$wpid" 2>/dev/null || true
for _ in $(seq 20); do xdp_on || break; sleep 0.1; done
! xdp_on || fail "worker 0 killed: its XDP program still on ${ifs[0]}: $(ip -n "$wk" link show dev "${ifs[0]}")"
echo "ok: a worker killed with its AF_XDP socket open leaves no XDP program on its veth"
down
! ip netns list | grep -q "^$name-" || fail "namespaces left after down"
[ ! -e "/run/$name" ] || fail "/run/$name left after down"

# --- e. one veth for all ----------------------------------------------------------------

up
run_all shared-veth "$int16_job" 1 --opt xdp=on
check shared-veth shared
down
echo "xdp: ok"
