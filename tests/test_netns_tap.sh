#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A kernel peer reaches ainftp-app over a net_tap port: in a network namespace
# made (and deleted) here, the kernel resolves the appliance with ARP and pings it.
# Addresses are 198.18.0.0/24 (RFC 2544 benchmarking) and exist only in that namespace.
# net_tap wants as many RX as TX queues: one RX lcore polls two queues, and the two TX
# queues are that lcore's and the control lcore's.
set -euo pipefail

app=$1
ns="ainftp-t$$"
tap="aft$$"
prefix="ainftp-test-tap-$$"
work=$(mktemp -d)
pid=
fail() { echo "FAIL: $*" >&2; [ -f "$work/err" ] && cat "$work/err" >&2; exit 1; }
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, /dev/net/tun)"
command -v ip >/dev/null || fail "needs iproute2"
command -v ping >/dev/null || fail "needs iputils-ping"

cat >"$work/tap.json" <<JSON
{
  "appliance": { "ipv4": "198.18.0.2", "mac": "02:00:00:00:00:02" },
  "ports": [ { "device": "net_tap0,iface=$tap", "rx_queues": 2 } ],
  "lcores": { "control": 0, "rx": [ { "lcore": 1, "port": 0, "queue": 0 },
                                    { "lcore": 1, "port": 0, "queue": 1 } ] },
  "jobs": [ { "id": 1, "elems_per_packet": 256, "encoding": "int16", "auth": false,
              "workers": [ { "id": 0, "ipv4": "198.18.0.1" } ] } ],
  "telemetry": { "stats_interval_s": 1 }
}
JSON

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" "$app" -l 0-1 --no-huge -m 512 --no-pci --no-shconf \
	--file-prefix "$prefix" -- -c "$work/tap.json" >"$work/out" 2>"$work/err" &
pid=$!

# Ready once the first stats line is out: ports started, lcores polling.
for _ in $(seq 100); do
	grep -q '"ainftp_stats"' "$work/out" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || fail "app exited early"
	sleep 0.1
done
grep -q '"ainftp_stats"' "$work/out" || fail "app not up within 10 s"
ip netns exec "$ns" ip link show "$tap" >/dev/null 2>&1 || fail "no $tap in $ns"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1" || true
ip netns exec "$ns" ip addr add 198.18.0.1/24 dev "$tap"
ip netns exec "$ns" ip link set "$tap" up

ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 198.18.0.2 >"$work/ping" || { cat "$work/ping"; tail -1 "$work/out"; fail "no ping replies"; }
cat "$work/ping"
grep -q " 0% packet loss" "$work/ping" || { tail -1 "$work/out"; fail "ping lost packets"; }
# The kernel's neighbour entry came from our ARP reply: the configured MAC.
ip netns exec "$ns" ip neigh show 198.18.0.2 dev "$tap" | tee "$work/neigh"
grep -q 'lladdr 02:00:00:00:00:02' "$work/neigh" || fail "no ARP entry with the appliance's MAC"

kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc"
/usr/bin/python3 - "$work/out" <<'PY' || fail "final stats"
import json, sys
final = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')][-1]
port = final["ports"][0]
assert final["final"] and port["arp_replies"] >= 1 and port["icmp_replies"] >= 3, port
print("final stats: arp_replies=%d icmp_replies=%d drops=%s" %
      (port["arp_replies"], port["icmp_replies"], port["drops"]))
PY
echo "netns_tap: ok"
