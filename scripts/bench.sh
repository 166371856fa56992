#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The data path's benchmark: ainftp-bench runs the appliance's RX lcore against a
# generator in one process and puts each figure next to its I/O-only and
# compute-only ceilings measured in the same run (the machine may be shared:
# compare ratios, not absolute numbers). About 60-90 s on 2 cores.
# Usage: scripts/bench.sh [ainftp-bench options], e.g. --quick (about 20 s),
# --auth, --workers 8, --verbose, --sentry zscore,trimmed_mean,median,clip (each
# policy against none, same run), --sink (a host result arena against none, runs
# interleaved); --help lists them.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
./scripts/build.sh
echo "$ build/tools/ainftp-bench $*"
exec ./build/tools/ainftp-bench "$@"
