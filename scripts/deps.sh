#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the Debian 12 packages ainftp builds, tests and runs with.
# Idempotent: apt-get update runs only when something is missing.
set -euo pipefail

pkgs=(
	gcc meson ninja-build pkg-config   # build
	libdpdk-dev dpdk dpdk-dev          # DPDK 22.11: libraries, PMDs, dpdk-telemetry.py, testpmd
	libnuma-dev libjansson-dev check   # NUMA, cluster.json, unit tests
	libsodium-dev                      # the keyed MAC of the wire format
	python3 iproute2 iputils-ping      # integration tests: JSON checks, namespaces, ping
	curl                               # the lab's Prometheus page (scripts/lab.sh up --metrics)
	ethtool                            # the lab: segmentation offloads off on the veth into net_af_packet
	python3-numpy python3-torch        # the Python binding's tests and the PyTorch DDP hook
	python3-sklearn                    # the DDP test's dataset (digits)
	g++ libtorch-dev pybind11-dev python3-dev   # ainftp._c10d, the torch.distributed backend (C++)
	tshark                             # the Wireshark dissector's test (contrib/wireshark)
	prometheus                         # promtool: the metrics test lints a live /metrics (only promtool is used)
	python3-matplotlib                 # scripts/plot-bench.py: bench results as PNGs, and its test
	clang-14 libclang-rt-14-dev        # the libFuzzer harnesses (scripts/fuzz.sh): libFuzzer comes only with the latter
	man-db groff-base                  # the man pages' test (man -l, groff warnings)
	python3-venv python3-pip           # pip install ./python in a fresh venv (tests/test_pip.sh)
	libxdp-dev libbpf-dev clang        # the AF_XDP worker path: XSK sockets, XDP programs (clang -target bpf; tests/test_xdp.sh)
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: root is needed to install: ${missing[*]}" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture (a setuid dumpcap): no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
