#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The lab network (scripts/lab.sh) and its impairment relay (ainftp-impair):
#  1. the relay between two kernels: UDP datagrams whose checksum the sender left
#     to the NIC (CHECKSUM_PARTIAL on veth) and a TCP stream (GSO) arrive intact;
#  2. a lab direct (the default: the app's veth peered into the workers'
#     namespace) and one through a bridge (--bridge), the app on net_af_packet at
#     the config's MTU 9000:
#     ARP resolves the appliance's MAC, every ping answered, 8000-byte ones too
#     (unfragmented), exec's exit status passed through; the commands `up` prints
#     to look inside (dpdk-telemetry.py -f PREFIX; curl for --metrics 0, the port
#     the app got) work as printed; the same on net_tap (--port tap, MTU 1500):
#     ARP and every ping answered, and `up` says its start-up errors are expected;
#  3. a lab through the relay with 20% loss, 10% duplication and 30% reordering
#     both ways, on net_af_packet: some pings answered, not all, and the relay's
#     counters show every impairment in both directions; `down` leaves nothing behind;
#  4. `up` with configs the lab or the app refuses (an MTU the port cannot carry:
#     net_af_packet's framesz too small, net_tap's 1522-byte frame; a port of
#     another kind): a clear error, nothing left;
#  5. the traffic of 2 ainftp-worker processes (2 steps), captured with dumpcap on
#     the app's veth peer (the workers' veth) and read with the Wireshark dissector
#     (contrib/wireshark/ainftp.lua): every DATA is the workers', as many per worker
#     as it says it sent, over the steps and chunks of the run, and every chunk's
#     RESULT reached both workers with 2 contributors. Skipped without tshark.
# Usage: test_lab.sh APP IMPAIR SRCDIR WORKER. Addresses are 198.18.0.0/24, in
# namespaces only.
set -euo pipefail

app=$1
impair=$2
src=$3
worker=$4
lab=$src/scripts/lab.sh
name=tlab$$
ns=timp$$ # the relay-only namespaces: $ns-a, $ns-r, $ns-b
work=$(mktemp -d)
relay_pid=
cap_pid=

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
cleanup() {
	[ -n "$relay_pid" ] && kill -9 "$relay_pid" 2>/dev/null || true
	[ -n "$cap_pid" ] && kill -9 "$cap_pid" 2>/dev/null || true
	"$lab" down --name "$name" >/dev/null 2>&1 || true
	"$lab" down --name "$name-bad" >/dev/null 2>&1 || true
	for n in "$ns-a" "$ns-r" "$ns-b"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, /dev/net/tun)"
command -v ip >/dev/null || fail "needs iproute2"
command -v ping >/dev/null || fail "needs iputils-ping"

ns_gone() {
	! ip netns list | awk '{ print $1 }' | grep -qxF "$1"
}

# --- 1. the relay between two kernels -------------------------------------------

rc=0
"$impair" --a x --b y --loss 120 2>"$work/err" || rc=$?
[ "$rc" = 2 ] || fail "--loss 120: exit $rc, not 2"
grep -q -- '--loss' "$work/err" || fail "no message naming --loss: $(cat "$work/err")"
rc=0
"$impair" --a nosuchif0 --b nosuchif1 2>"$work/err" || rc=$?
[ "$rc" = 1 ] || fail "missing interface: exit $rc, not 1"

# $ns-a (va, .11) ==veth== ra [$ns-r: ainftp-impair] rb ==veth== vb ($ns-b, .1)
for n in "$ns-a" "$ns-r" "$ns-b"; do
	ip netns add "$n"
	ip -n "$n" link set lo up
	ip netns exec "$n" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$ns-r" link add ra type veth peer name va netns "$ns-a"
ip -n "$ns-r" link add rb type veth peer name vb netns "$ns-b"
for nd in "$ns-r ra" "$ns-r rb" "$ns-a va" "$ns-b vb"; do
	read -r n dev <<<"$nd"
	ip -n "$n" link set "$dev" mtu 9000 up
done
ip -n "$ns-a" addr add 198.18.0.11/24 dev va
ip -n "$ns-b" addr add 198.18.0.1/24 dev vb
ip netns exec "$ns-r" "$impair" --a ra --b rb --seed 1 >"$work/relay.out" 2>"$work/relay.err" &
relay_pid=$!
for _ in $(seq 50); do
	grep -q relaying "$work/relay.err" && break
	sleep 0.1
done
grep -q relaying "$work/relay.err" || fail "relay did not start: $(cat "$work/relay.err")"

# The relay's counters (SIGTERM prints them), to say where frames went when some are missing.
relay_stop() {
	kill -TERM "$relay_pid" 2>/dev/null || true
	wait "$relay_pid" 2>/dev/null || true
	relay_pid=
}

# The receiver counts datagrams and bytes; the kernel drops any with a bad checksum.
cat >"$work/peer.py" <<'PY'
import socket, sys, time
role, addr = sys.argv[1], sys.argv[2]
if role == "udp-recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Room for the whole burst: the default 208 KB holds some 13 datagrams of 8000 B,
    # little where this may wait (CI's parallel ASan tests on two vCPUs).
    s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)
    s.bind((addr, 5000))
    s.settimeout(2)
    n = 0
    try:
        while True:
            if len(s.recv(65535)) == int(sys.argv[3]):
                n += 1
    except socket.timeout:
        pass
    print(n)
elif role == "udp-send":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    for i in range(int(sys.argv[4])):
        s.sendto(bytes([i & 255]) * int(sys.argv[5]), (sys.argv[3], 5000))
        time.sleep(0.001)
elif role == "tcp-recv":
    l = socket.socket()
    l.bind((addr, 5001))
    l.listen(1)
    c, _ = l.accept()
    n = 0
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        n += len(d)
    print(n)
elif role == "tcp-send":
    c = socket.create_connection((sys.argv[3], 5001), source_address=(addr, 0), timeout=20)
    for _ in range(int(sys.argv[4])):
        c.sendall(b"t" * (1 << 20))
    c.close()
PY
for size in 100 8000; do
	ip netns exec "$ns-b" /usr/bin/python3 "$work/peer.py" udp-recv 198.18.0.1 $size >"$work/udp" &
	rpid=$!
	sleep 0.3
	ip netns exec "$ns-a" /usr/bin/python3 "$work/peer.py" udp-send 198.18.0.11 198.18.0.1 200 $size
	wait "$rpid"
	if [ "$(cat "$work/udp")" != 200 ]; then
		relay_stop
		fail "UDP $size B across the relay: $(cat "$work/udp") of 200 arrived;" \
			"relay: $(tr '\n' ' ' <"$work/relay.out")"
	fi
done
ip netns exec "$ns-b" /usr/bin/python3 "$work/peer.py" tcp-recv 198.18.0.1 >"$work/tcp" &
rpid=$!
sleep 0.3
ip netns exec "$ns-a" /usr/bin/python3 "$work/peer.py" tcp-send 198.18.0.11 198.18.0.1 32
wait "$rpid"
[ "$(cat "$work/tcp")" = $((32 << 20)) ] || fail "TCP across the relay: $(cat "$work/tcp") bytes of 32 MiB"
kill -INT "$relay_pid"
rc=0
wait "$relay_pid" || rc=$?
relay_pid=
[ "$rc" = 0 ] || fail "relay exit status $rc"
echo "relay between kernels: 2x200 UDP datagrams and 32 MiB of TCP intact: $(cat "$work/relay.out")"
/usr/bin/python3 - "$work/relay.out" <<'PY' || fail "relay counters (clean)"
import json, sys
c = json.load(open(sys.argv[1]))
for d in ("a2b", "b2a"):
    x = c[d]
    assert x["frames"] > 0 and x["dropped"] == x["duplicated"] == x["reordered"] == 0, c
    assert x["sent"] == x["frames"] and x["tx_errors"] == 0, c
assert c["seed"] == 1, c
PY
for n in "$ns-a" "$ns-r" "$ns-b"; do ip netns del "$n"; done

# --- 2. a lab, direct and through a bridge -----------------------------------------

mac=$(/usr/bin/python3 -c "import json; print(json.load(open('$src/config/lab.json'))['appliance']['mac'])")
# ARP: the workers' kernel learnt the appliance's MAC from its reply.
arp_check() { # KIND
	ip -n "$name-wk" neigh show 198.18.0.1 | grep -qi "lladdr $mac" ||
		fail "$1: no ARP entry for 198.18.0.1 at $mac: $(ip -n "$name-wk" neigh show)"
}

# The default (direct): the app's veth peered into the workers' namespace;
# --bridge: both veths on a bridge. The same checks on each.
for wire in direct bridge; do
	up_args=()
	[ "$wire" = direct ] || up_args=(--bridge)
	"$lab" up --name "$name" --app "$app" --metrics 0 "${up_args[@]}" >"$work/up" || fail "lab up ($wire)"
	cat "$work/up"
	# What up prints to look inside, run as printed: rte_telemetry from this
	# namespace (its socket is a file), the Prometheus page from the appliance's.
	tele=$(grep -o 'echo /ainftp/stats | dpdk-telemetry.py -f [^ ]*$' "$work/up") ||
		fail "up printed no dpdk-telemetry.py command"
	bash -c "$tele" >"$work/tele" 2>&1 && grep -q '"/ainftp/stats": {"rx_pkts"' "$work/tele" ||
		fail "$tele: $(head -c 300 "$work/tele")"
	metrics_cmd=$(sed -n 's/^  metrics    //p' "$work/up")
	[[ $metrics_cmd == "ip netns exec $name-box curl -s http://127.0.0.1:"*/metrics ]] ||
		fail "up printed no curl command for --metrics: \"$metrics_cmd\""
	bash -c "$metrics_cmd" >"$work/metrics" && grep -q '^ainftp_' "$work/metrics" ||
		fail "$metrics_cmd: $(head -c 300 "$work/metrics")"
	echo "ok: up's dpdk-telemetry.py and curl commands work as printed"
	if [ "$wire" = direct ]; then
		grep -q "path .*: direct (no bridge" "$work/up" || fail "up did not say the path is direct"
		# One veth each side, each the other's peer: nothing between them.
		veths=$(ip -n "$name-box" -o link show type veth | wc -l)
		[ "$veths" = 1 ] || fail "direct: $veths veths in $name-box, not the app's alone"
		! ip -n "$name-box" -o link show type bridge | grep -q . || fail "direct: a bridge in $name-box"
		wk_if=$(ip -n "$name-wk" -o link show type veth | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
		grep -q "peer $wk_if in $name-wk" "$work/up" || fail "direct: up did not name the workers' veth $wk_if as the app's peer"
	else
		grep -q "path .*: bridge " "$work/up" || fail "up did not say the path is a bridge"
		ip -n "$name-box" -o link show type bridge | grep -q . || fail "--bridge: no bridge in $name-box"
	fi
	grep -q "on net_af_packet on veth .*, MTU 9000" "$work/up" ||
		fail "up did not say the port is net_af_packet at MTU 9000"
	"$lab" exec --name "$name" -- ping -c 10 -i 0.1 -W 2 198.18.0.1 >"$work/ping" ||
		fail "ping ($wire): $(tail -2 "$work/ping")"
	grep -q " 0% packet loss" "$work/ping" || fail "ping ($wire) lost packets"
	arp_check "af_packet ($wire)"
	# The kernel's side of the app's veth holds an address of its own once the app
	# is up (lab.sh app_veth_aside): the box's IP stack drops the workers' frames as
	# another host's instead of routing each, and the app still has them (above).
	links=$(ip -n "$name-box" -o link show)
	grep -qi "link/ether 02:00:00:ab:00:00 " <<<"$links" ||
		fail "the app's veth end kept the app's MAC in the box's kernel: $links"
	! grep -qi "link/ether $mac " <<<"$links" ||
		fail "an interface of the box's kernel has the app's MAC $mac: $links"
	# 8028-byte frames, not fragmented: the jumbo path end to end.
	"$lab" exec --name "$name" -- ping -c 5 -i 0.1 -W 2 -s 8000 -M "do" 198.18.0.1 >"$work/ping" ||
		fail "8000-byte ping ($wire): $(tail -2 "$work/ping")"
	grep -q " 0% packet loss" "$work/ping" || fail "8000-byte ping ($wire) lost packets"
	rc=0
	"$lab" exec --name "$name" -- sh -c 'exit 7' || rc=$?
	[ "$rc" = 7 ] || fail "exec passed exit status $rc, not 7"
	"$lab" stats --name "$name" | grep -q '"ainftp_stats"' || fail "no stats line"
	"$lab" down --name "$name" >/dev/null || fail "lab down ($wire)"
	echo "ok: the $wire lab: ARP, pings of 8000 bytes unfragmented, exec, stats"
done

# net_tap stays the lab's other port: its ARP and ping at MTU 1500, with jobs
# of 1500-byte datagrams (docs/PROTOCOL.md's table).
sed -e 's/"mtu": 9000/"mtu": 1500/' -e 's/"elems_per_packet": 2231/"elems_per_packet": 356/' \
	-e 's/"elems_per_packet": 4462/"elems_per_packet": 712/' \
	-e 's/"elems_per_packet": 4448/"elems_per_packet": 704/' \
	-e 's/"elems_per_packet": 1712/"elems_per_packet": 712/' \
	-e 's/"elems_per_packet": 856/"elems_per_packet": 356/' "$src/config/lab.json" >"$work/tap.json"
"$lab" up --name "$name" --app "$app" --config "$work/tap.json" --port tap >"$work/up" ||
	fail "lab up (net_tap)"
cat "$work/up"
grep -q "on net_tap .*, MTU 1500" "$work/up" || fail "up did not say the port is net_tap at MTU 1500"
grep -q "^  app.err    net_tap's .* errors there are expected" "$work/up" ||
	fail "up did not say net_tap's start-up errors are expected"
"$lab" exec --name "$name" -- ping -c 10 -i 0.1 -W 2 198.18.0.1 >"$work/ping" ||
	fail "ping through net_tap: $(tail -2 "$work/ping")"
grep -q " 0% packet loss" "$work/ping" || fail "ping through net_tap lost packets"
arp_check net_tap
"$lab" down --name "$name" >/dev/null || fail "lab down (net_tap)"

# --- 3. a lab through the relay ---------------------------------------------------

"$lab" up --name "$name" --app "$app" --impair-bin "$impair" \
	--impair loss=20,dup=10,reorder=30,seed=1 >"$work/up" || fail "lab up (impaired)"
cat "$work/up"
grep -q "ainftp-impair" "$work/up" || fail "up did not say the relay is used"
app_pid=$(cat "/run/$name/app.pid")
# Both ways 20% loss: about 64% of the echoes come back.
"$lab" exec --name "$name" -- ping -c 60 -i 0.05 -W 1 198.18.0.1 >"$work/ping" || true
tail -2 "$work/ping"
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$work/ping")
[ -n "$received" ] && [ "$received" -ge 15 ] && [ "$received" -lt 60 ] ||
	fail "impaired ping: ${received:-no} replies of 60, expected 15..59"
"$lab" stats --name "$name" >"$work/stats"
"$lab" down --name "$name" >"$work/down" || fail "lab down (impaired)"
cat "$work/down"
/usr/bin/python3 - "$work/down" <<'PY' || fail "relay counters (impaired)"
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("ainftp-impair counters: ")][0]
c = json.loads(line.split(": ", 1)[1])
for d in ("a2b", "b2a"):
    x = c[d]
    for k in ("frames", "dropped", "duplicated", "reordered"):
        assert x[k] > 0, (d, k, c)
    # Every frame not dropped went out, the duplicated ones twice.
    assert x["sent"] + x["tx_errors"] == x["frames"] - x["dropped"] + x["duplicated"], (d, c)
assert c["seed"] == 1, c
PY
ns_gone "$name-box" && ns_gone "$name-wk" || fail "namespaces left after down"
[ ! -e "/run/$name" ] || fail "/run/$name left after down"
# Gone, or a zombie its new parent has yet to reap.
! grep -qv '^[0-9]* (.*) Z' "/proc/$app_pid/stat" 2>/dev/null || fail "app still running after down"
"$lab" down --name "$name" >/dev/null || fail "a second down failed"

# --- 4. configs the lab or the app refuses ------------------------------------------

# ainftp-app refuses the first two after the namespaces exist (net_af_packet's
# 4 KB ring frames hold no 9018-byte frame; net_tap takes frames of 1522 bytes
# in DPDK 22.11); the lab refuses a port of another kind before.
sed 's/framesz=16384/framesz=4096/' "$src/config/lab.json" >"$work/afp-mtu.json"
cp "$src/config/lab.json" "$work/tap-mtu.json"
sed 's/"device": "[^"]*"/"device": "net_ring0"/' "$src/config/lab.json" >"$work/ring.json"
for bad in afp-mtu tap-mtu ring; do
	port=()
	[ "$bad" != tap-mtu ] || port=(--port tap)
	rc=0
	"$lab" up --name "$name-bad" --app "$app" --config "$work/$bad.json" "${port[@]}" \
		>"$work/out" 2>"$work/err" || rc=$?
	[ "$rc" != 0 ] || fail "lab up took $bad.json"
	cat "$work/err"
	grep -q "^scripts/lab.sh: .*\(ainftp-app exited\|is neither a net_af_packet nor a net_tap\)" \
		"$work/err" || fail "no clear error for $bad.json"
	[ "$bad" != afp-mtu ] || grep -q "ports\[0\].mtu: 9000 is outside .*framesz=" "$work/err" ||
		fail "the app did not say framesz= bounds the MTU"
	ns_gone "$name-bad-box" && ns_gone "$name-bad-wk" || fail "namespaces left after a failed up"
	[ ! -e "/run/$name-bad" ] || fail "/run/$name-bad left after a failed up"
done
# --- 5. the traffic in Wireshark ------------------------------------------------------

# Job 4 (356 float32 per packet) with workers 0 and 1 only; 40 chunks a step.
capture_check() {
	local ifc w pids=()
	/usr/bin/python3 - "$src/config/lab.json" "$work/two.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["jobs"] = [j for j in c["jobs"] if j["id"] == 4]
c["jobs"][0]["workers"] = c["jobs"][0]["workers"][:2]
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
	"$lab" up --name "$name" --app "$app" --config "$work/two.json" >"$work/up" ||
		fail "lab up (capture)"
	# The app's veth peer, the workers' own veth (the direct lab): frames there
	# are single datagrams (the lab turns its segmentation offloads off), in both
	# directions.
	ifc=lw$(printf '%s' "$name" | cksum | awk '{ printf "%08x", $1 }')
	ip netns exec "$name-wk" dumpcap -q -i "$ifc" -f udp -B 64 -w "$work/lab.pcapng" \
		2>"$work/dumpcap.err" &
	cap_pid=$!
	# dumpcap says "Capturing on" before it captures: markers to the discard port
	# (the app drops them) until one is in the file, which it flushes as it goes.
	for _ in $(seq 50); do
		"$lab" exec --name "$name" -- bash -c 'echo mark >/dev/udp/198.18.0.1/9'
		sleep 0.2
		[ -n "$(tshark -r "$work/lab.pcapng" -Y "udp.dstport == 9" -c 1 -T fields \
			-e frame.number 2>/dev/null)" ] && break
	done
	[ -n "$(tshark -r "$work/lab.pcapng" -Y "udp.dstport == 9" -c 1 -T fields \
		-e frame.number 2>/dev/null)" ] || fail "dumpcap captured nothing: $(cat "$work/dumpcap.err")"
	for w in 0 1; do
		"$lab" exec --name "$name" -- "$worker" -c "$work/two.json" --job 4 --worker "$w" \
			--elems 14240 --steps 2 --json --progress 0 >"$work/worker.$w" 2>&1 &
		pids+=($!)
	done
	for w in 0 1; do
		wait "${pids[$w]}" || fail "worker $w: $(cat "$work/worker.$w")"
	done
	sleep 0.5 # the last results on their way to the other worker
	kill -INT "$cap_pid"
	wait "$cap_pid" || fail "dumpcap: $(cat "$work/dumpcap.err")"
	cap_pid=
	"$lab" down --name "$name" >/dev/null || fail "lab down (capture)"
	grep -q "dropped on interface .*: [0-9]*/0 " "$work/dumpcap.err" ||
		fail "dumpcap dropped frames: $(cat "$work/dumpcap.err")"
	WIRESHARK_CONFIG_DIR=$work tshark -r "$work/lab.pcapng" \
		-X "lua_script:$src/contrib/wireshark/ainftp.lua" -T fields -E separator=/t \
		-e udp.dstport -e ip.src -e ip.dst -e ainftp.type -e ainftp.job -e ainftp.worker -e ainftp.elems \
		-e ainftp.step -e ainftp.chunk -e ainftp.contributors -e ainftp.bitmap -e ainftp.len \
		-e ainftp.expected_len >"$work/fields" 2>"$work/tshark.err" ||
		fail "tshark: $(cat "$work/tshark.err")"
	/usr/bin/python3 - "$work/fields" "$work/worker.0" "$work/worker.1" <<'PY' || fail "the captured traffic (above)"
import json, sys
addr = {"198.18.0.11": 0, "198.18.0.12": 1}
sent = {}
for w, path in enumerate(sys.argv[2:]):
    line = [l for l in open(path) if l.startswith("{")][-1]
    sent[w] = json.loads(line)["packets_sent"]
data = {0: [], 1: []}
results = {}
for n, line in enumerate(open(sys.argv[1]), 1):
    dport, src, dst, typ, job, wk, elems, step, chunk, contrib, bitmap, ln, exp = \
        line.rstrip("\n").split("\t")
    if dport == "9":
        continue  # the capture's start markers
    assert typ != "", "frame %d: UDP that the dissector did not take: %s -> %s" % (n, src, dst)
    assert ln == exp, "frame %d: %s bytes, the header calls for %s" % (n, ln, exp)
    typ, job, step, chunk = int(typ), int(job), int(step), int(chunk)
    if typ == 1:  # DATA: fields that versions 1 and 2 share
        assert src in addr and addr[src] == int(wk), "frame %d: DATA of worker %s from %s" % (n, wk, src)
        assert job == 4 and int(elems) == 356, "frame %d: DATA of job %d, %s elements" % (n, job, elems)
        assert 0 <= chunk < 40, "frame %d: chunk %d of a 40-chunk step" % (n, chunk)
        data[int(wk)].append((step, chunk))
    elif typ == 2:
        assert job == 4 and int(wk) == 0xffff, "frame %d: RESULT of job %d from worker %s" % (n, job, wk)
        assert int(contrib) == 2 and int(bitmap, 16) == 3, \
            "frame %d: RESULT with %s contributors, bitmap %s" % (n, contrib, bitmap)
        results.setdefault((step, chunk), set()).add(dst)
    # Anything else (heartbeats, v2's HELLO, STATE, PROBE) is only checked for length.
for w in (0, 1):
    steps = sorted({s for s, _ in data[w]})
    assert len(data[w]) == sent[w], \
        "worker %d: %d DATA captured, it reports packets_sent %d; chunks captured of steps %s: %s" % \
        (w, len(data[w]), sent[w], steps, sorted(set(data[w])))
    assert len(steps) == 2 and steps[1] == steps[0] + 1, "worker %d: steps %s" % (w, steps)
    assert {(s, c) for s in steps for c in range(40)} == set(data[w]), \
        "worker %d: not every chunk of steps %s" % (w, steps)
assert set(results) == set(data[0]) | set(data[1]), \
    "RESULTs for %d chunks, DATA for %d" % (len(results), len(set(data[0]) | set(data[1])))
missing = [k for k, d in results.items() if d != set(addr)]
assert not missing, "RESULTs not sent to both workers: %s" % missing[:5]
print("capture: DATA %d + %d (as the workers report), RESULTs of %d chunks to both workers" %
      (len(data[0]), len(data[1]), len(results)))
PY
}

if command -v tshark >/dev/null && command -v dumpcap >/dev/null; then
	capture_check
else
	echo "SKIP: 5. the capture: no tshark (scripts/deps.sh installs it)"
fi
echo "lab: ok"
