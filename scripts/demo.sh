#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The appliance on its built-in default: config/loopback.json, with the job's
# workers emulated in the same process over a net_ring port pair. Every result
# is checked bit for bit against a reference; 1% loss, duplication and
# reordering are injected both ways. Usage: scripts/demo.sh [CHUNKS] (default 200000).
set -euo pipefail
cd "$(dirname "$0")/.."

chunks=${1:-200000}
./scripts/deps.sh
./scripts/build.sh
chmod 600 config/loopback.json # its (throwaway) keys: the app warns about readable key files

# Hugepages when at least 1 GiB is free, otherwise ordinary memory.
free_kb=$(awk '/HugePages_Free/ {f=$2} /Hugepagesize/ {s=$2} END {print f*s}' /proc/meminfo)
if [ "${free_kb:-0}" -ge $((1024 * 1024)) ]; then
	mem=(--in-memory)
else
	mem=(--no-huge -m 1024 --no-shconf --file-prefix "ainftp-demo-$$")
fi
# lcore 0: control, 1: RX, 2: emulated workers. On a 2-core machine the emulator
# shares CPU 0 with the control lcore, which mostly sleeps.
cpus=$(nproc)
lcores="0@0,1@1,2@$((cpus > 2 ? 2 : 0))"

echo "demo: ainftp-app on config/loopback.json, 4 emulated workers, $chunks chunks each"
exec ./build/app/ainftp-app --lcores "$lcores" "${mem[@]}" --no-pci -- \
	-c config/loopback.json --stats-interval 1 \
	--emulate "$chunks" --emu-loss 0.01 --emu-dup 0.01 --emu-reorder 0.01
