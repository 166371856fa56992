#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# What each Byzantine sentry policy costs an RX lcore next to the plain sum:
# ainftp-bench-sentry aggregates the same N=16 contributions per chunk again and
# again on one thread, repetitions interleaved across policies (the machine may be
# shared: compare the ratios, not absolute numbers). About 30 s.
# Usage: scripts/bench-sentry.sh [ainftp-bench-sentry options], e.g. --cpu 1,
# --workers 32, --elems 712; --help lists them.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
./scripts/build.sh
echo "$ build/tools/ainftp-bench-sentry $*"
exec ./build/tools/ainftp-bench-sentry "$@"
