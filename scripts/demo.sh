#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The appliance on its built-in default: config/loopback.json on a net_ring port.
# Usage: scripts/demo.sh [SECONDS] (default 5), then a clean stop with SIGINT.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-5}
./scripts/deps.sh
./scripts/build.sh
chmod 600 config/loopback.json # its (throwaway) keys: the app warns about readable key files

# Hugepages when at least 512 MiB are free, otherwise ordinary memory.
free_kb=$(awk '/HugePages_Free/ {f=$2} /Hugepagesize/ {s=$2} END {print f*s}' /proc/meminfo)
if [ "${free_kb:-0}" -ge $((512 * 1024)) ]; then
	mem=(--in-memory)
else
	mem=(--no-huge -m 512 --no-shconf --file-prefix "ainftp-demo-$$")
fi

echo "demo: ainftp-app on config/loopback.json for ${seconds}s"
./build/app/ainftp-app -l 0-1 "${mem[@]}" --no-pci --vdev=net_ring0 -- \
	-c config/loopback.json --stats-interval 1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true' INT TERM
sleep "$seconds"
kill -INT "$pid"
wait "$pid"
