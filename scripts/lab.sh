#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A lab network for real kernel-UDP workers: ainftp-app on a net_af_packet port
# (a veth pair of its own) or a net_tap port in one network namespace, the
# workers' addresses in another. One app on net_af_packet, unimpaired, is joined
# to the workers by that veth pair alone, as by a cable: its far end is the
# workers'. Otherwise a veth pair joins the namespaces through a bridge (--bridge,
# a tap, --boxes, --xdp), or through an impaired path (--impair): tc netem where
# the kernel has it, else the ainftp-impair relay. Nothing outside the two
# namespaces is touched; addresses come from the config (198.18.0.0/24 in
# config/lab.json).
#
#   appliance ns NAME-box                                     workers ns NAME-wk
#   ainftp-app = veth ============================================= veth: one address per worker
#   ainftp-app = veth == veth =[bridge | ainftp-impair]= veth ==== veth   (--bridge, --impair)
#   (net_af_packet)   or tap =[...] (net_tap)
#
# The bridge costs the workers' CPU what a rack's switch does not: a veth
# delivers each frame in its sender's softirq, so every frame a worker sends
# crosses the bridge and two more veths on the worker's core (the bridge alone 6%
# of it in a perf profile, int16 64M); the direct pair made the lab's 4-worker
# int16 step about 10% shorter (docs/PERFORMANCE.md).
#
# --boxes N puts N apps on one bridge (jobs sharded over them, or a hierarchy of
# leaf boxes and a spine box); --spine K with --impair gives box K a relay of its
# own between its veth and the bridge, so that the leaves' path to the spine is
# impaired as the workers' path is:
#
#   box 0 ........ = veth =\
#   box 1 ........ = veth ==[bridge]= veth =[ainftp-impair | netem]= veth == workers
#   box K = veth =[ainftp-impair]= veth =/
#
# --xdp gives each worker address a veth pair of its own instead of the shared
# one, every pair on the bridge, at the config's MTU: the AF_XDP worker path
# (ainftp-worker --opt xdp=on) binds a socket to the one RX queue of its
# address's veth (setup_xdp_workers). The workers' kernel sends from
# each address out of that address's veth and answers ARP for it there only:
#
#   ainftp-app = veth == veth =[bridge]= veth ==== veth: worker address 1
#                                      = veth ==== veth: worker address 2 ...
#
# net_af_packet copies frames through mmap'ed rings with no system call per frame
# and carries jumbo frames (framesz= of 16384); net_tap costs a write() and a
# SIGIO per frame through the kernel's tun driver, at most MTU 1500, and stays
# for what only it has (the kernel's side of a tap).
#
# Run scripts/lab.sh --help for the commands.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prog=scripts/lab.sh

usage() {
	cat <<EOF
usage: $prog up    [--name N] [--config F] [--port af_packet|tap] [--impair SPEC] [--app PATH]
                   [--impair-bin PATH] [--metrics [ADDR:]PORT] [--boxes N] [--spine K]
                   [--idle-us US] [--xdp] [--bridge]
       $prog exec  [--name N] -- CMD [ARGS...]
       $prog stats [--name N]
       $prog down  [--name N]

  up     builds the lab NAME and starts ainftp-app in it; returns once the app
         prints stats and a worker-namespace ping reaches the appliance (10 s each),
         printing how to look inside: dpdk-telemetry.py's file-prefix, curl for --metrics
  exec   runs CMD in the workers' namespace (its exit status is returned)
  stats  prints the app's latest JSON stats line
  down   stops the apps and the relays, printing their counters ("ainftp-impair
         counters:" the workers' path's relay, "ainftp-impair (spine, box K)
         counters:" the spine's, --spine), deletes the namespaces and the state;
         succeeds when nothing is up

  --name N          lab name (default ainftp-lab): namespaces N-box and N-wk, state in /run/N
  --config F        cluster.json with one port whose device is a net_af_packet or a
                    net_tap vdev (default config/lab.json); its iface= is rewritten
                    in a private copy, to the lab's veth or tap
  --port KIND       af_packet or tap: the app's port is of that kind whatever the
                    config's device (af_packet: qpairs for the config's queues,
                    16 KB ring frames; tap: MTU 1500 at most)
  --impair SPEC     loss=PCT,dup=PCT,reorder=PCT[,hold-us=US][,seed=N][,dir=both|a2b|b2a]
                    (a2b: appliance to workers, b2a: workers to appliance; hold-us
                    and seed are the relay's, netem has neither)
  --app PATH        default build/app/ainftp-app
  --impair-bin PATH default build/tools/ainftp-impair
  --metrics [ADDR:]PORT  the app serves Prometheus text at http://ADDR:PORT/metrics in the
                    appliance's namespace (ainftp-app --metrics: ADDR 127.0.0.1 when left
                    out, PORT 0 any free one); up prints the curl command that reads it
  --boxes N         N appliances (1..4, net_af_packet), for jobs sharded over them
                    (config/lab-shards.json) or aggregated by leaf boxes and a spine
                    (config/lab-hier.json): box 0 at the appliance's address, the
                    others at the addresses the jobs name, in order of first
                    appearance (each job's "appliances", then its "leaves"' "appliance",
                    then its "spine"), each on its own veth into one bridge in NAME-box,
                    with its own config (state/boxK.json: its address, the jobs it
                    serves: those naming it, and the others on box 0), file-prefix and
                    logs (state/appK.*); --impair puts one relay (or netem) between that
                    bridge and the workers, so every box's path is impaired alike
  --spine K         with --boxes N (K < N) and --impair: box K (the spine) reaches the
                    bridge through a relay of its own (ainftp-impair, netem or not), with
                    the same SPEC but its own seed (seed=N: N+1; none: the relay draws
                    one and reports it), so the leaves' path to the spine is impaired
                    too (state/impair-spine.*); without --impair box K stays on the bridge
  --idle-us US      the apps' idle mode (ainftp-app --idle-us; default 0, and 100 with
                    --boxes above 1: several busy-polling apps would share 2 cores)
  --xdp             each worker address on a veth of its own (lxK..., peer lyK... on
                    the bridge; K its index in the config's order), at the config's
                    MTU, for AF_XDP workers (ainftp-worker --opt xdp=on), one per
                    veth (a veth has one RX queue); policy routing sends each address's
                    traffic out of its own veth, which alone answers ARP for it. One
                    box on net_af_packet: not with --impair, --boxes or --port tap
  --bridge          the workers' veth and the app's on a bridge, as a switch would join
                    them (one box on net_af_packet without --impair; the other labs
                    have a bridge or a relay anyway). Without it that lab's app veth
                    is peered straight into the workers' namespace: the bridge and
                    two veths cost the sending worker's core what a switch would not
EOF
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

# --- names ------------------------------------------------------------------

# Everything a lab owns is named from NAME. Interface names may have 15
# characters, so they carry a hash of NAME rather than NAME itself.
set_names() {
	[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$ ]] ||
		die "--name: \"$name\" must be 1..40 letters, digits, '_', '.' or '-'"
	tag=$(printf '%s' "$name" | cksum | awk '{ printf "%08x", $1 }')
	ns_box=$name-box
	ns_wk=$name-wk
	tap=lt$tag
	veth_app=la$tag  # net_af_packet's interface ...
	veth_link=lp$tag # ... and its peer, on the bridge or the relay
	veth_box=lb$tag
	veth_wk=lw$tag
	bridge=lbr$tag
	tap_mac=02:a1:${tag:0:2}:${tag:2:2}:${tag:4:2}:${tag:6:2} # locally administered
	prefix=ainftp-lab-$tag # DPDK's --file-prefix
	state=/run/$name
	relay_a=lm$tag # --boxes: the bridge's end of the veth pair to the relay ...
	relay_b=ln$tag # ... and the relay's end
	spine_a=lsa$tag # --spine: the bridge's end of the veth pair to the spine's relay ...
	spine_b=lsb$tag # ... and that relay's end (its other end: box K's veth peer)
}

# --xdp: worker address k's veth in the workers' namespace, its peer on the
# bridge, and the routing table and rule that send the address's traffic out of it.
xdp_names() {
	local k=$1
	xw_if=lx$k$tag
	xw_peer=ly$k$tag
	xw_table=$((1000 + k))
}

# Box k's names (--boxes): box 0 is the single box's; the others get a digit.
box_names() {
	local k=$1
	if [ "$k" = 0 ]; then
		bx_app=$veth_app bx_link=$veth_link bx_prefix=$prefix bx_cfg=$state/config.json
		bx_pid=$state/app.pid bx_out=$state/app.out bx_err=$state/app.err
	else
		bx_app=la$k${tag} bx_link=lp$k${tag} bx_prefix=$prefix-$k bx_cfg=$state/box$k.json
		bx_pid=$state/app$k.pid bx_out=$state/app$k.out bx_err=$state/app$k.err
	fi
}

# /run/NAME is ours only if it has our marker: never delete someone else's /run/netns.
state_is_ours() {
	[ -f "$state/.ainftp-lab" ]
}

ns_exists() {
	ip netns list | awk '{ print $1 }' | grep -qxF "$1"
}

# --- config -------------------------------------------------------------------

# Checks the config's shape (one net_af_packet or net_tap port, one /24 for
# everyone), writes the private copy with the lab's interface in the device and
# prints what the lab needs as shell words. The app checks everything else when
# it starts.
prepare_config() {
	/usr/bin/python3 - "$config" "$state/config.json" "$port_kind" "$tap" "$veth_app" <<'PY'
import ipaddress, json, os, re, shlex, sys
src, dst, want, tap, veth_app = sys.argv[1:]
# Ring frames of 16 KB hold a 9000-MTU frame (the app checks framesz against
# the MTU); 1024 of them per queue pair, a ring each way, locked in memory.
AFP_ARGS = ["blocksz=16384", "framesz=16384", "framecnt=1024"]
def die(msg):
    print("scripts/lab.sh: %s: %s" % (src, msg), file=sys.stderr)
    sys.exit(1)
try:
    with open(src) as f:
        cfg = json.load(f)
except (OSError, ValueError) as e:
    die("cannot read: %s" % e)
try:
    ports, jobs = cfg["ports"], cfg["jobs"]
    appliance = cfg["appliance"]["ipv4"]
    if len(ports) != 1:
        die("ports: the lab has one port (net_af_packet or net_tap), got %d ports" % len(ports))
    dev = ports[0]["device"]
    m = re.match(r"net_(af_packet|tap)\d+(,|$)", dev)
    if not m:
        die('ports[0].device: "%s" is neither a net_af_packet nor a net_tap vdev '
            '(the lab takes "net_af_packet0[,ARG=V...]" or "net_tap0[,ARG=V...]"; '
            'it sets iface= itself)' % dev)
    kind = want or m.group(1)
    args = [a for a in dev.split(",")[1:] if not a.startswith("iface=")]
    if kind != m.group(1):
        # Another kind's arguments mean nothing to this one.
        args = []
    if kind == "af_packet":
        # One queue pair per RX queue and per TX queue the app opens (one per
        # RX lcore and one for the control lcore), as the PMD has them in pairs.
        rx_lcores = {r["lcore"] for r in cfg.get("lcores", {}).get("rx", [])}
        qpairs = max(ports[0].get("rx_queues", 1), ports[0].get("tx_queues", 1),
                     len(rx_lcores) + 1)
        keys = {a.split("=")[0] for a in args}
        args += [a for a in ["qpairs=%d" % qpairs] + AFP_ARGS if a.split("=")[0] not in keys]
        ports[0]["device"] = ",".join(["net_af_packet0", "iface=" + veth_app] + args)
    else:
        ports[0]["device"] = ",".join(["net_tap0", "iface=" + tap] + args)
    mtu = ports[0].get("mtu", 1500)
    workers = []
    for j in jobs:
        for w in j["workers"]:
            if w["ipv4"] not in workers:
                workers.append(w["ipv4"])
    net = ipaddress.ip_network(appliance + "/24", strict=False)
    for a in workers:
        if ipaddress.ip_address(a) not in net:
            die("worker %s is not in the appliance's /24 (%s)" % (a, net))
except (KeyError, TypeError, AttributeError, ValueError) as e:
    die("not a cluster.json the lab can use: %s %s" % (type(e).__name__, e))
if not workers:
    die("jobs: no workers")
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # keys inside
with os.fdopen(fd, "w") as f:
    json.dump(cfg, f, indent=1)
print(" ".join("%s=%s" % (k, shlex.quote(str(v))) for k, v in [
    ("kind", kind), ("mtu", mtu), ("appliance", appliance),
    ("mac", cfg["appliance"].get("mac", "the port's own")), ("workers", " ".join(workers))]))
PY
}

# --boxes N: box k's config from the private copy. The boxes' addresses are the
# appliance's, then the others the jobs name, in order of first appearance: each
# job's "appliances" list, then its "leaves"' "appliance" addresses, then its
# "spine". Box k serves the jobs that name it (sharded: in "appliances"; in a
# hierarchy: as a leaf or as the spine), and the jobs that name no box, on box 0;
# at its own address, MAC (the last octet plus k) and veth. Prints box_addrs=.
prepare_box_configs() {
	/usr/bin/python3 - "$state/config.json" "$boxes" "$prefix" "$tag" <<'PY'
import json, os, shlex, sys
path, n, prefix, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path) as f:
    cfg = json.load(f)
def boxes_of(j):
    # The boxes a job names: its shards, its leaves, its spine (in that order).
    named = list(j.get("appliances", []))
    named += [l["appliance"] for l in j.get("leaves", [])]
    if "spine" in j:
        named.append(j["spine"])
    return named
try:
    addrs = [cfg["appliance"]["ipv4"]]
    for j in cfg["jobs"]:
        for a in boxes_of(j):
            if a not in addrs:
                addrs.append(a)
except (KeyError, TypeError) as e:
    print("scripts/lab.sh: --boxes %d: a job's \"appliances\", \"leaves\" or \"spine\" is "
          "not as cluster.json(5) has it: %s %s" % (n, type(e).__name__, e), file=sys.stderr)
    sys.exit(1)
if len(addrs) < n:
    print("scripts/lab.sh: --boxes %d: the config's jobs name %d appliance address(es) (%s): "
          "list the boxes in a job's \"appliances\" (config/lab-shards.json) or its "
          "\"leaves\" and \"spine\" (config/lab-hier.json)"
          % (n, len(addrs), ", ".join(addrs)), file=sys.stderr)
    sys.exit(1)
for k in range(n - 1, -1, -1):  # box 0's file, the source, last
    box = json.loads(json.dumps(cfg))
    box["appliance"]["ipv4"] = addrs[k]
    mac = box["appliance"].get("mac")
    if mac and k:
        octets = mac.split(":")
        octets[-1] = "%02x" % ((int(octets[-1], 16) + k) & 0xFF)
        box["appliance"]["mac"] = ":".join(octets)
    box["jobs"] = [j for j in cfg["jobs"] if addrs[k] in (boxes_of(j) or [addrs[0]])]
    if k:
        dev = box["ports"][0]["device"].split(",")
        box["ports"][0]["device"] = ",".join(
            [dev[0]] + ["iface=la%d%s" % (k, tag) if a.startswith("iface=") else a
                        for a in dev[1:]])
    out = path if k == 0 else os.path.join(os.path.dirname(path), "box%d.json" % k)
    if k:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # keys inside
        f = os.fdopen(fd, "w")
    else:
        f = open(out, "w")
    with f:
        json.dump(box, f, indent=1)
print("box_addrs=%s" % shlex.quote(" ".join(addrs[:n])))
PY
}

# --impair loss=2,dup=1,reorder=25 into the relay's options (and netem's words).
parse_impair() {
	local kv k v
	impair_args=()
	loss=0 dup=0 reorder=0 dir=both seed=
	IFS=, read -ra kv <<<"$1"
	for k in "${kv[@]}"; do
		v=${k#*=}
		[[ $k == *=* && -n $v ]] || die "--impair: \"$k\" is not KEY=VALUE"
		case ${k%%=*} in
		loss) loss=$v ;;
		dup) dup=$v ;;
		reorder) reorder=$v ;;
		dir) dir=$v ;;
		hold-us | hold_us) impair_args+=(--hold-us "$v") ;;
		seed)
			seed=$v
			impair_args+=(--seed "$v")
			;;
		*) die "--impair: unknown key \"${k%%=*}\" (loss, dup, reorder, hold-us, seed, dir)" ;;
		esac
	done
	for v in "$loss" "$dup" "$reorder"; do
		[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--impair: \"$v\" is not a percentage"
	done
	[[ $dir =~ ^(both|a2b|b2a)$ ]] || die "--impair: dir=\"$dir\" is not both, a2b or b2a"
	impair_args+=(--loss "$loss" --dup "$dup" --reorder "$reorder" --dir "$dir")
}

# --- up -----------------------------------------------------------------------

# Both namespaces, IPv6 off before any interface exists (no router solicitations
# or MLD reports on the lab's wire), and the veth pair made directly in them.
make_namespaces() {
	local ns
	for ns in "$ns_box" "$ns_wk"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	done
	# Where br_netfilter is loaded (Docker loads it), every frame the lab's bridge
	# forwards goes through iptables' hooks, in the sending worker's system call:
	# 8% of a worker's CPU (perf, int16 64M). A rack's switch does not, and the
	# lab has no rules: off in the box's namespace (the sysctls are per namespace).
	if ip netns exec "$ns_box" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
		ip netns exec "$ns_box" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
			net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0
	fi
	# --xdp: a veth pair per worker address instead (setup_xdp_workers).
	[ -n "$xdp" ] && return 0
	[ -n "$direct" ] && return 0 # make_app_veth makes the workers' end
	ip -n "$ns_box" link add "$veth_box" mtu "$mtu" type veth \
		peer name "$veth_wk" mtu "$mtu" netns "$ns_wk"
}

# net_af_packet's veth pair, up before the app opens its end (the PMD neither
# creates nor brings up an interface). The box's kernel keeps out of the app's
# end: no ARP replies there for addresses of its own (tests/test_xdp.sh puts one
# on the bridge). The peer cuts the workers' UDP GSO super-frames into datagrams
# as it sends to the app: an AF_PACKET ring gets frames as they are, and one
# frame of a ring holds one datagram. Their UDP checksums stay with the "NIC" as
# on a worker with a real one (the peer's checksum offload: each frame reaches
# the app with only the pseudo-header's sum in its field). The app does not read
# that field: IPv4 allows a datagram without one, and a 128-bit tag covers the
# payload. Summing them in software here had cost the workers' core 3% (perf,
# int16 64M, direct lab). Direct (no bridge): the peer is the workers' veth, in
# their namespace, and the workers' kernel cuts each datagram as it sends it.
make_app_veth() {
	local app_if=${1:-$veth_app} link=${2:-$veth_link} ns=$ns_box
	if [ -n "$direct" ]; then
		link=$veth_wk ns=$ns_wk
		ip -n "$ns_box" link add "$app_if" mtu "$mtu" type veth \
			peer name "$link" mtu "$mtu" netns "$ns"
	else
		ip -n "$ns_box" link add "$app_if" mtu "$mtu" type veth peer name "$link" mtu "$mtu"
	fi
	ip netns exec "$ns_box" sysctl -qw "net.ipv4.conf.$app_if.arp_ignore=8"
	ip netns exec "$ns" ethtool -K "$link" tx-udp-segmentation off tso off gso off >/dev/null
	ip -n "$ns_box" link set "$app_if" up
	ip -n "$ns" link set "$link" up
}

# Once the app has started, which sets its port's MAC on its veth end: the
# kernel's side of that end takes an address of its own (k: the box), so that
# the workers' frames, addressed to the app's MAC, are another host's there. The
# app's AF_PACKET socket has each frame first all the same (a veth delivers
# every frame), and the box's IP stack drops it at once instead of looking up a
# route for it first: that lookup and drop had cost the sending worker 4% of
# its CPU (perf, int16 64M; this kernel has no tc classifier to drop it sooner).
app_veth_aside() {
	local app_if=${1:-$veth_app} k=${2:-0}
	ip -n "$ns_box" link set "$app_if" address "$(printf '02:00:00:ab:00:%02x' "$k")"
}

# The tap exists once the app has started: the lab finishes its kernel's side.
finish_tap() {
	# The kernel's side of the tap starts with the appliance's own MAC. A bridge
	# would take that MAC as its local address and keep the workers' frames for
	# itself: give the kernel's side an address of its own (the app's is unchanged).
	ip -n "$ns_box" link set "$tap" address "$tap_mac"
	# The app brings the tap up but leaves the kernel's side at MTU 1500, whatever
	# the port's MTU (checked with DPDK 22.11): the lab sets it.
	# The tap's queue toward the app is the lab's NIC RX ring: 1000 by default,
	# less than 4 workers' windows of 256 chunks in flight, so bursts would be
	# dropped there whenever the app's lcore is descheduled (2-core machines).
	ip -n "$ns_box" link set "$tap" mtu "$mtu" txqueuelen 8192 up
}

# The app as tests/test_netns_tap.sh runs it, in its own session so that the
# caller's Ctrl-C or exit does not reach it; `down` stops it. 768 MB: 16 KB
# mbufs for net_af_packet's ring frames and the slots of jumbo jobs.
start_app() {
	local lcores=(-l 0-1)
	box_names "${1:-0}"
	# One CPU: both lcores on it (slow, but up).
	[ "$(nproc)" -ge 2 ] || lcores=(--lcores '0@0,1@0')
	local opts=()
	[ -z "$metrics" ] || [ "${1:-0}" != 0 ] || opts=(--metrics "$metrics")
	[ "$idle_us" = 0 ] || opts+=(--idle-us "$idle_us")
	setsid ip netns exec "$ns_box" "$app" "${lcores[@]}" --no-huge -m 768 --no-pci \
		--no-shconf --file-prefix "$bx_prefix" -- -c "$bx_cfg" "${opts[@]}" \
		</dev/null >"$bx_out" 2>"$bx_err" &
	echo $! >"$bx_pid"
	wait_for 10 app_ready || {
		[ -s "$bx_err" ] && sed 's/^/  app: /' "$bx_err" | tail -5 >&2
		die "ainftp-app did not come up within 10 s (log: $bx_err)"
	}
}

# The box of start_app's box_names: alive, and its first stats line out.
app_ready() {
	local pid
	pid=$(cat "$bx_pid")
	if ! alive "$pid"; then
		local rc=0
		wait "$pid" || rc=$?
		sed 's/^/  app: /' "$bx_err" | tail -5 >&2
		die "ainftp-app exited with status $rc during start-up (2: the config or the command line)"
	fi
	grep -q '"ainftp_stats"' "$bx_out"
}

# Calls $2.. every 0.1 s until it succeeds, for at most $1 seconds of wall time
# (the call itself may take a while: a ping waits for its reply).
wait_for() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	until "${@:2}"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# netem, if the kernel has it: a throwaway qdisc on the box's veth end.
have_netem() {
	tc -n "$ns_box" qdisc add dev "$veth_box" root netem delay 0ms 2>/dev/null &&
		tc -n "$ns_box" qdisc del dev "$veth_box" root
}

link_bridge() {
	# STP off (the default): ports forward at once. No multicast snooping: the
	# bridge would send IGMP reports of its own onto the lab's wire.
	ip -n "$ns_box" link add "$bridge" type bridge mcast_snooping 0
	ip -n "$ns_box" link set "$link_if" master "$bridge"
	ip -n "$ns_box" link set "$veth_box" master "$bridge"
	ip -n "$ns_box" link set "$bridge" up
}

# Each veth end's egress: the box end impairs appliance to workers (a2b), the
# workers' end the way back (b2a). netem reorders only with a delay.
link_netem() {
	link_bridge
	link_netem_qdiscs
}

link_netem_qdiscs() {
	local spec=(netem loss "$loss%" duplicate "$dup%" reorder "$reorder%" delay 1ms)
	[ "$dir" = b2a ] || tc -n "$ns_box" qdisc add dev "$veth_box" root "${spec[@]}"
	[ "$dir" = a2b ] || tc -n "$ns_wk" qdisc add dev "$veth_wk" root "${spec[@]}"
	path="tc netem on the veth ($dir): loss $loss% duplicate $dup% reorder $reorder% delay 1ms"
}

# start_relay A B STEM RELAY-ARGS...: ainftp-impair between interfaces A (the
# appliance's side: a2b) and B in the box's namespace; its pid, counters and log
# in state/STEM.pid, .out and .err. Sets relay_info (what its start-up line says).
start_relay() {
	local a=$1 b=$2 stem=$3
	shift 3
	[ -x "$impair_bin" ] || die "$impair_bin: not found or not executable (build it: scripts/build.sh)"
	setsid ip netns exec "$ns_box" "$impair_bin" --a "$a" --b "$b" "$@" \
		</dev/null >"$state/$stem.out" 2>"$state/$stem.err" &
	echo $! >"$state/$stem.pid"
	# Its start-up line comes once both sockets are bound: from then on no frame is missed.
	wait_for 5 grep -q relaying "$state/$stem.err" || {
		cat "$state/$stem.err" >&2
		die "ainftp-impair ($stem) did not start"
	}
	relay_info=$(sed -n 's/^ainftp-impair: relaying [^:]*: //p' "$state/$stem.err")
}

link_relay() {
	start_relay "$link_if" "$veth_box" impair "${impair_args[@]}"
	path="ainftp-impair relay, pid $(cat "$state/impair.pid") (no sch_netem in this kernel): $relay_info"
}

# --spine K, impaired: box K's veth peer leaves the bridge for a relay of its own,
# whose other end is a veth pair into the bridge, so that every frame between box
# K and the other boxes or the workers crosses it. The same SPEC, another seed:
# N+1 for seed=N, else the relay's own (reported in its counters).
link_spine() {
	local args=() i
	for ((i = 0; i < ${#impair_args[@]}; i++)); do
		if [ "${impair_args[i]}" = --seed ]; then
			i=$((i + 1))
		else
			args+=("${impair_args[i]}")
		fi
	done
	if [[ $seed =~ ^[0-9]{1,18}$ ]]; then
		args+=(--seed $((10#$seed + 1)))
	fi
	box_names "$spine"
	ip -n "$ns_box" link add "$spine_a" mtu "$mtu" type veth peer name "$spine_b" mtu "$mtu"
	ip -n "$ns_box" link set "$spine_a" master "$bridge"
	ip -n "$ns_box" link set "$spine_a" up
	ip -n "$ns_box" link set "$spine_b" up
	echo "$spine" >"$state/impair-spine.box"
	start_relay "$bx_link" "$spine_b" impair-spine "${args[@]}"
	spine_path="$bx_link <-> $spine_b, $spine_a on bridge $bridge: ainftp-impair relay, pid"
	spine_path+=" $(cat "$state/impair-spine.pid"): $relay_info"
}

# --boxes: every box's veth end on one bridge, and the workers' link on it too,
# or, impaired, one relay (or netem) between the bridge and the workers: every
# box's path gets the same impairment; and with --spine K, box K's through a
# relay of its own (link_spine).
link_boxes() {
	local k
	link_if=$bridge
	ip -n "$ns_box" link add "$bridge" type bridge mcast_snooping 0
	for k in $(seq 0 $((boxes - 1))); do
		[ "$k" != "$spine" ] || [ -z "$impair" ] || continue # link_spine's
		box_names "$k"
		ip -n "$ns_box" link set "$bx_link" master "$bridge"
	done
	ip -n "$ns_box" link set "$bridge" up
	if [ -n "$spine" ] && [ -n "$impair" ]; then
		link_spine
	fi
	if [ -n "$impair" ] && have_netem; then
		ip -n "$ns_box" link set "$veth_box" master "$bridge"
		link_netem_qdiscs
	elif [ -n "$impair" ]; then
		ip -n "$ns_box" link add "$relay_a" mtu "$mtu" type veth peer name "$relay_b" mtu "$mtu"
		ip -n "$ns_box" link set "$relay_a" master "$bridge"
		ip -n "$ns_box" link set "$relay_a" up
		ip -n "$ns_box" link set "$relay_b" up
		link_if=$relay_b
		link_relay
	else
		ip -n "$ns_box" link set "$veth_box" master "$bridge"
		path="bridge $bridge (no impairment)"
	fi
}

# --xdp: the bridge with the app's veth peer on it; setup_xdp_workers adds the
# workers' veths.
link_xdp() {
	ip -n "$ns_box" link add "$bridge" type bridge mcast_snooping 0
	ip -n "$ns_box" link set "$link_if" master "$bridge"
	ip -n "$ns_box" link set "$bridge" up
}

ping_boxes() {
	local a
	for a in $box_addrs; do
		ip netns exec "$ns_wk" ping -c 1 -W 1 -q "$a" >/dev/null 2>&1 || return 1
	done
}

# Worker addresses as /24s on the workers' veth, the first one primary.
setup_workers() {
	local a
	ip -n "$ns_wk" link set "$veth_wk" up
	for a in $workers; do
		ip -n "$ns_wk" addr add "$a/24" dev "$veth_wk"
	done
}

# --xdp: worker address k (in the config's order) on veth lxK in the workers'
# namespace, its peer lyK on the bridge, both at the config's MTU. A veth
# refuses a native XDP program without frags support while its peer's MTU is above
# a page less XDP's headroom (256), the skb's shared info (320 on x86-64) and the
# Ethernet header, 3506 ("Peer MTU is too large to set XDP"); the client's program
# has frags support (multi-buffer AF_XDP, Linux 6.6), so jumbo frames run natively
# too. Jobs 31 and 32 (config/README.md) fit one 4 KB UMEM frame: the path without
# multi-buffer. Every veth has an address of the same /24, so the kernel must be
# told which to use: a rule per address sends what
# leaves from it to a table whose subnet route is its own veth; arp_ignore=1
# answers an ARP request only on the veth that holds the address asked for, and
# arp_announce=2 asks with that veth's own address, so the app and the bridge learn
# each address at its own veth's MAC; rp_filter off, since every veth reaches the
# same subnet. The main table keeps each veth's prefix route: unbound traffic
# (a plain ping of the appliance) leaves by the first.
setup_xdp_workers() {
	local a k=0 subnet=${appliance%.*}.0/24
	ip netns exec "$ns_wk" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
	for a in $workers; do
		xdp_names "$k"
		ip -n "$ns_box" link add "$xw_peer" mtu "$mtu" type veth \
			peer name "$xw_if" mtu "$mtu" netns "$ns_wk"
		ip -n "$ns_box" link set "$xw_peer" master "$bridge"
		ip -n "$ns_box" link set "$xw_peer" up
		ip -n "$ns_wk" link set "$xw_if" up
		ip -n "$ns_wk" addr add "$a/24" dev "$xw_if"
		ip -n "$ns_wk" route add "$subnet" dev "$xw_if" src "$a" table "$xw_table"
		ip -n "$ns_wk" rule add from "$a" table "$xw_table" pref "$xw_table"
		k=$((k + 1))
	done
}

# --xdp: every worker address reaches the appliance over its own veth.
ping_xdp_workers() {
	local a
	for a in $workers; do
		ip netns exec "$ns_wk" ping -c 1 -W 1 -q -I "$a" "$appliance" >/dev/null 2>&1 || return 1
	done
}

# The up summary's lines for --xdp's workers: each address's veth.
xdp_workers_summary() {
	local a k=0
	printf '%s in netns %s, each on a veth of its own at MTU %s (--xdp):' \
		"$workers" "$ns_wk" "$mtu"
	for a in $workers; do
		xdp_names "$k"
		printf '\n             %-15s on %s (peer %s on bridge %s, table %s)' \
			"$a" "$xw_if" "$xw_peer" "$bridge" "$xw_table"
		k=$((k + 1))
	done
}

app_port() {
	if [ "$kind" = af_packet ]; then
		echo "net_af_packet on veth $veth_app (peer $([ -n "$direct" ] && echo "$veth_wk in $ns_wk" || echo "$veth_link"))"
	else
		echo "net_tap $tap"
	fi
}

cmd_up() {
	local kind mtu appliance mac workers path="bridge $bridge (no impairment)" vars link_if
	local wk_link=$veth_box
	local box_addrs k bx_app bx_link bx_prefix bx_cfg bx_pid bx_out bx_err
	local metrics_url='' spine_path='' relay_info
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, /dev/net/tun)"
	[ -x "$app" ] || die "$app: not found or not executable (build it: scripts/build.sh)"
	[[ $port_kind =~ ^(|af_packet|tap)$ ]] || die "--port: \"$port_kind\" is not af_packet or tap"
	[ -r "$config" ] || die "$config: cannot read"
	if state_is_ours || ns_exists "$ns_box" || ns_exists "$ns_wk"; then
		die "lab $name is already up (or half up): $prog down --name $name"
	fi
	[ ! -e "$state" ] || die "$state exists and is not a lab's state directory: pick another --name"
	[ -z "$impair" ] || parse_impair "$impair"

	mkdir -m 700 "$state"
	touch "$state/.ainftp-lab"
	# From here on, any failure takes down what was built.
	[ -n "${LAB_KEEP_FAILED:-}" ] ||
		trap 'echo "$prog: up failed, tearing down" >&2; teardown >/dev/null 2>&1' EXIT
	vars=$(prepare_config) || exit 1
	eval "$vars"
	[ "$kind" != af_packet ] || command -v ethtool >/dev/null ||
		die "needs ethtool for a net_af_packet lab (scripts/deps.sh installs it; or --port tap)"
	# One box on net_af_packet, unimpaired: its veth's peer is the workers' own.
	if [ "$kind" = af_packet ] && [ "$boxes" = 1 ] && [ -z "$impair$xdp$bridged" ]; then
		direct=1 wk_link=$veth_wk
	fi
	if [ -n "$xdp" ]; then
		[ "$kind" = af_packet ] ||
			die "--xdp: the app is on net_af_packet; $config's port is a net_tap (--port af_packet)"
	fi

	box_addrs=$appliance
	if [ "$boxes" -gt 1 ]; then
		[ "$kind" = af_packet ] || die "--boxes: the boxes are on net_af_packet (not --port tap)"
		vars=$(prepare_box_configs) || exit 1
		eval "$vars"
	fi

	make_namespaces
	if [ "$boxes" -gt 1 ]; then
		for k in $(seq 0 $((boxes - 1))); do
			box_names "$k"
			make_app_veth "$bx_app" "$bx_link"
			start_app "$k"
			app_veth_aside "$bx_app" "$k"
		done
	elif [ "$kind" = af_packet ]; then
		link_if=$veth_link
		[ -z "$direct" ] || link_if=$veth_app
		make_app_veth
		start_app
		app_veth_aside
	else
		link_if=$tap
		start_app
		finish_tap
	fi
	[ -n "$xdp" ] || [ -n "$direct" ] || ip -n "$ns_box" link set "$veth_box" up
	if [ "$boxes" -gt 1 ]; then
		link_boxes
	elif [ -n "$xdp" ]; then
		link_xdp
	elif [ -n "$impair" ] && have_netem; then
		link_netem
	elif [ -n "$impair" ]; then
		link_relay
	elif [ -n "$direct" ]; then
		path="direct (no bridge, no impairment)"
	else
		link_bridge
	fi
	if [ -n "$xdp" ]; then
		setup_xdp_workers
		wait_for 10 ping_xdp_workers ||
			die "--xdp: no ping reply from $appliance to every worker address (ping -I ADDR) in $ns_wk within 10 s"
	else
		setup_workers
		wait_for 10 ping_boxes || die "no ping reply from every box ($box_addrs) in $ns_wk within 10 s"
	fi
	[ -z "$metrics" ] || wait_for 5 metrics_url_read ||
		die "--metrics $metrics: the app logged no metrics address (log: $state/app.err)"
	trap - EXIT

	if [ -n "$xdp" ]; then
		cat <<EOF
lab $name is up
  appliance  $appliance (MAC $mac) in netns $ns_box on $(app_port), MTU $mtu: $app, pid $(cat "$state/app.pid")
  workers    $(xdp_workers_summary)
  path       $link_if <-> the workers' veths: $path
EOF
	else
		cat <<EOF
lab $name is up
  appliance  $appliance (MAC $mac) in netns $ns_box on $(app_port), MTU $mtu: $app, pid $(cat "$state/app.pid")$(more_boxes)
  workers    $workers in netns $ns_wk on $veth_wk
  path       $link_if <-> $wk_link: $path$(box_paths)
EOF
	fi
	cat <<EOF
  state      $state (config.json, app.out, app.err$([ ! -f "$state/impair.pid" ] || echo ", impair.out, impair.err")$([ ! -f "$state/impair-spine.pid" ] || echo ", impair-spine.out, impair-spine.err"))
  run        $prog exec --name $name -- CMD    then    $prog down --name $name
EOF
	look_inside
}

# The up summary's lines for boxes 1.. (--boxes).
more_boxes() {
	local k a
	for k in $(seq 1 $((boxes - 1))); do
		box_names "$k"
		a=$(echo "$box_addrs" | cut -d' ' -f$((k + 1)))
		printf '\n  box %d      %s in netns %s on net_af_packet %s, pid %s, file-prefix %s, %s' \
			"$k" "$a" "$ns_box" "$bx_app" "$(cat "$bx_pid")" "$bx_prefix" "${bx_cfg##*/}"
	done
}

# The up summary's lines for each box's path to the bridge (--boxes).
box_paths() {
	local k a
	[ "$boxes" -gt 1 ] || return 0
	for k in $(seq 0 $((boxes - 1))); do
		box_names "$k"
		a=$(echo "$box_addrs" | cut -d' ' -f$((k + 1)))
		printf '\n  box %d path %s: ' "$k" "$a"
		if [ "$k" = "$spine" ] && [ -n "$spine_path" ]; then
			printf 'spine, through its own relay: %s' "$spine_path"
		else
			printf '%s on bridge %s%s' "$bx_link" "$bridge" "$([ "$k" != "$spine" ] || echo " (spine, not impaired: no --impair)")"
		fi
	done
}

# Where a person looks inside the running app: rte_telemetry's socket (a Unix
# socket under /var/run/dpdk/PREFIX, reachable from any namespace) and, with
# --metrics, the Prometheus page, which listens in the appliance's namespace only.
look_inside() {
	cat <<EOF
  telemetry  DPDK file-prefix $prefix: dpdk-telemetry.py -f $prefix
             (then /ainftp/stats, /ainftp/ports, /help), or at once:
             echo /ainftp/stats | dpdk-telemetry.py -f $prefix
EOF
	[ -z "$metrics_url" ] || echo "  metrics    ip netns exec $ns_box curl -s $metrics_url"
	[ "$kind" != tap ] || cat <<EOF
  app.err    net_tap's multiq, flow and secondary-process errors there are expected in
             a kernel without sch_multiq or cls_flower (docs/CLIENT.md, "The lab")
EOF
}

# The Prometheus page's URL, from the app's own line (PORT 0: the port it got);
# 0.0.0.0 is reached at 127.0.0.1.
metrics_url_read() {
	metrics_url=$(sed -n 's|^ainftp: metrics: \(http://[^ ]*\)$|\1|p' "$state/app.err" | tail -n 1)
	metrics_url=${metrics_url/\/\/0.0.0.0:/\/\/127.0.0.1:}
	[ -n "$metrics_url" ]
}

# --- down ---------------------------------------------------------------------

alive() {
	# A zombie still answers kill -0: count it as gone.
	[ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

gone() {
	! alive "$1"
}

ns_empty() {
	[ -z "$(ip netns pids "$1" 2>/dev/null)" ]
}

# SIGINT (the app's and the relay's clean stop), then SIGKILL after $2 seconds.
stop_pid() {
	local pidfile=$1 secs=$2 pid
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	if alive "$pid"; then
		kill -INT "$pid" 2>/dev/null || true
		wait_for "$secs" gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
		wait_for 2 gone "$pid" || true
	fi
	rm -f "$pidfile"
}

# Whatever `exec` left running in the namespaces goes too: a namespace with a
# process in it outlives `ip netns del`.
kill_leftovers() {
	local ns pids
	for ns in "$ns_wk" "$ns_box"; do
		ns_exists "$ns" || continue
		pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
		[ -z "$pids" ] && continue
		echo "stopping processes left in $ns: $pids"
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		# shellcheck disable=SC2046
		wait_for 2 ns_empty "$ns" || kill -KILL $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null || true
	done
}

# Best effort at every step: a half-built lab comes down as far as it was built.
teardown() {
	local ns line k
	set +e
	if state_is_ours; then
		# Every box (--boxes: app1.pid ...), box 0 first. What each app counted to
		# the end: tests check every frame is accounted for.
		for k in "" 1 2 3; do
			[ -f "$state/app$k.pid" ] || continue
			stop_pid "$state/app$k.pid" 5
			line=$(grep -E '"final": ?true' "$state/app$k.out" 2>/dev/null | tail -1)
			[ -z "$line" ] || echo "ainftp-app${k:+ (box $k)} final stats: $line"
		done
		stop_pid "$state/impair.pid" 2
		if [ -s "$state/impair.out" ]; then
			echo "ainftp-impair counters: $(cat "$state/impair.out")"
		fi
		# --spine's relay: its own label, so that readers of the line above keep theirs.
		stop_pid "$state/impair-spine.pid" 2
		if [ -s "$state/impair-spine.out" ]; then
			echo "ainftp-impair (spine, box $(cat "$state/impair-spine.box" 2>/dev/null)) counters: $(cat "$state/impair-spine.out")"
		fi
	fi
	kill_leftovers
	for ns in "$ns_box" "$ns_wk"; do
		! ns_exists "$ns" || ip netns del "$ns"
	done
	rm -rf "/var/run/dpdk/$prefix" "/var/run/dpdk/$prefix"-[123]
	if state_is_ours; then
		rm -rf "$state"
	fi
	set -e
}

cmd_down() {
	[ "$(id -u)" = 0 ] || die "needs root"
	teardown
	echo "lab $name is down"
}

# --- exec, stats -----------------------------------------------------------

cmd_exec() {
	[ $# -gt 0 ] || die "exec: no command (usage: $prog exec [--name N] -- CMD ARGS...)"
	ns_exists "$ns_wk" || die "lab $name is not up"
	exec ip netns exec "$ns_wk" "$@"
}

cmd_stats() {
	local line
	state_is_ours || die "lab $name is not up"
	# Whole lines only: a stats line is tens of KB, which the app's stdio writes
	# in several pieces, and a reader between two of them took the first part
	# for the line (tests/test_e2e.sh once read one cut at 24576 bytes).
	line=$(/usr/bin/python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
d = d[:d.rfind(b"\n") + 1].decode(errors="replace")
print(([l for l in d.splitlines() if "\"ainftp_stats\"" in l] or [""])[-1])' "$state/app.out")
	[ -n "$line" ] || die "no stats line yet in $state/app.out"
	printf '%s\n' "$line"
}

# --- main -----------------------------------------------------------------------

main() {
	local cmd=${1:-}
	name=ainftp-lab
	config=$root/config/lab.json
	impair=
	port_kind=
	app=$root/build/app/ainftp-app
	impair_bin=$root/build/tools/ainftp-impair
	metrics=
	boxes=1
	spine=
	idle_us=
	xdp=
	bridged=
	direct=
	case $cmd in
	-h | --help | help)
		usage
		exit 0
		;;
	up | down | exec | stats) shift ;;
	"")
		usage >&2
		exit 2
		;;
	*)
		echo "$prog: unknown command \"$cmd\" (up, exec, stats, down; see --help)" >&2
		exit 2
		;;
	esac
	while [ $# -gt 0 ]; do
		case $1 in
		--name | --config | --port | --impair | --app | --impair-bin | --metrics | --boxes | --spine | --idle-us)
			[ $# -ge 2 ] || { echo "$prog: $1 needs a value" >&2; exit 2; }
			case $1 in
			--name) name=$2 ;;
			--config) config=$2 ;;
			--port) port_kind=$2 ;;
			--impair) impair=$2 ;;
			--app) app=$(realpath -m "$2") ;;
			--impair-bin) impair_bin=$(realpath -m "$2") ;;
			--metrics) metrics=$2 ;;
			--boxes) boxes=$2 ;;
			--spine) spine=$2 ;;
			--idle-us) idle_us=$2 ;;
			esac
			[ "$cmd" = up ] || [ "$1" = --name ] || { echo "$prog: $cmd does not take $1" >&2; exit 2; }
			shift 2
			;;
		--xdp | --bridge)
			[ "$cmd" = up ] || { echo "$prog: $cmd does not take $1" >&2; exit 2; }
			[ "$1" = --xdp ] && xdp=1 || bridged=1
			shift
			;;
		--)
			shift
			break
			;;
		-h | --help)
			usage
			exit 0
			;;
		*)
			[ "$cmd" = exec ] && break # exec: the command may follow without --
			echo "$prog: $cmd: unknown option \"$1\" (see --help)" >&2
			exit 2
			;;
		esac
	done
	[[ $boxes =~ ^[1-4]$ ]] || { echo "$prog: --boxes: \"$boxes\" is not 1..4" >&2; exit 2; }
	[ -z "$spine" ] || [ "$boxes" -gt 1 ] || { echo "$prog: --spine needs --boxes 2..4" >&2; exit 2; }
	[ -z "$spine" ] || [[ $spine =~ ^[0-3]$ && $spine -lt $boxes ]] ||
		{ echo "$prog: --spine: \"$spine\" is not a box of --boxes $boxes (0..$((boxes - 1)))" >&2; exit 2; }
	# --xdp: a veth per worker address into the one bridge, instead of the one
	# veth that an impaired path, the boxes and a tap's path are built around.
	if [ -n "$xdp" ]; then
		[ -z "$impair" ] || { echo "$prog: --xdp: not with --impair (the impaired path is the one veth of every worker address)" >&2; exit 2; }
		[ "$boxes" = 1 ] || { echo "$prog: --xdp: one box only (not --boxes $boxes)" >&2; exit 2; }
		[ "$port_kind" != tap ] || { echo "$prog: --xdp: the app is on net_af_packet (not --port tap)" >&2; exit 2; }
	fi
	# Several busy-polling apps on a test machine's cores starve each other.
	[ -n "$idle_us" ] || { [ "$boxes" = 1 ] && idle_us=0 || idle_us=100; }
	[[ $idle_us =~ ^[0-9]+$ ]] || { echo "$prog: --idle-us: \"$idle_us\" is not a number" >&2; exit 2; }
	set_names
	"cmd_$cmd" "$@"
}

main "$@"
