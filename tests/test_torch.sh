#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# PyTorch DistributedDataParallel through the appliance, the acceptance test of
# the Python binding: tests/torch_ddp.py trains an MLP on scikit-learn's digits
# with 4 ranks in a lab's workers' namespace, once with Gloo's all-reduce and
# once with ainftp.torch.allreduce_hook on job 4 of config/lab.json, and fails
# when the accuracies differ by more than a point, Gloo's is below 90%, the
# ranks' weights differ, or a rank fails. The lab comes down whatever happens.
# With "sentry" after the arguments, tests/torch_byzantine.py instead
# (tests/test_torch_sentry.sh): 8 ranks, 2 of them attacking, on jobs 5-8.
# With "c10d", the torch.distributed backend (tests/torch_c10d.py) under
# Debian's torchrun, 4 ranks on job 10 (min_quorum 4): all_reduce of sizes,
# dtypes and ops against the reference, DDP with init_process_group("ainftp")
# and no hook against a Gloo group, then a rank on a wrong job and a rank with
# a wrong key: every rank must fail at init with a message that says so; then a
# second, shorter run on the same box (the appliance takes the new processes back).
# Usage: test_torch.sh APP SRCDIR PYTHONPATH [sentry|c10d]. Exit 77 (skipped)
# without torch or scikit-learn in /usr/bin/python3, or for c10d without the
# built backend (ainftp._c10d).
set -euo pipefail

app=$1
src=$2
export PYTHONPATH=$3
lab=$src/scripts/lab.sh
python=/usr/bin/python3
# Debian's torchrun (torch 1.13) fails at start on Python 3.11 without
# --redirects 1 --tee 1 (python/ainftp/torch.py says so to users too).
torchrun=(/usr/bin/torchrun --standalone --nproc_per_node 4 --redirects 1 --tee 1)
if [ "${4:-}" = c10d ]; then
	name=tc10d$$
	what="torch.distributed backend \"ainftp\", 4 ranks under torchrun, job 10"
	run=("${torchrun[@]}" "$src/tests/torch_c10d.py" --config "$src/config/lab.json" --job 10)
	jobs=10
elif [ "${4:-}" = sentry ]; then
	name=tsentry$$
	what="DDP, 8 ranks, 2 of them sign-flipping x10: jobs 5 (clean), 6 (mean), 7 (trimmed_mean), 8 (median)"
	run=("$src/tests/torch_byzantine.py" --config "$src/config/lab.json" --timeout 400)
	jobs="5 6 7 8"
else
	name=ttorch$$
	what="DDP, 4 ranks: Gloo's all-reduce, then ainftp.torch.allreduce_hook on job 4"
	run=("$src/tests/torch_ddp.py" --config "$src/config/lab.json" --job 4 --timeout 300)
	jobs=4
fi

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
cleanup() {
	"$lab" down --name "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, /dev/net/tun)"
if ! "$python" -c 'import torch, sklearn, numpy' 2>/dev/null; then
	echo "SKIP: $python has no torch, sklearn or numpy"
	exit 77
fi
"$python" -c 'import ainftp.torch' || fail "cannot import ainftp.torch from PYTHONPATH=$PYTHONPATH"
if [ "${4:-}" = c10d ] && ! "$python" -c 'import ainftp._c10d' 2>/dev/null; then
	echo "SKIP: ainftp._c10d is not built (g++, libtorch-dev, pybind11-dev: scripts/deps.sh)"
	exit 77
fi

echo "lab $name: ainftp-app $app"
"$lab" up --name "$name" --app "$app" >/dev/null || fail "lab.sh up failed"
echo "$what"
start=$(date +%s)
rc=0
if [ "${4:-}" = c10d ]; then
	"$lab" exec --name "$name" -- env GLOO_SOCKET_IFNAME=lo timeout 400 "${run[@]}" || rc=$?
	for fault in job key; do
		[ "$rc" = 0 ] || break
		echo "rank 2 on a wrong $fault: every rank must fail at init, saying so"
		out=$("$lab" exec --name "$name" -- env GLOO_SOCKET_IFNAME=lo timeout 120 \
			"${run[@]}" --fault "$fault" 2>&1) || rc=$?
		grep '^\[default[0-9]\]:FAULT' <<<"$out" || true
		n=$(grep -c '^\[default[0-9]\]:FAULT' <<<"$out" || true)
		[ "$rc" = 0 ] && [ "$n" = 4 ] || {
			echo "$out" | tail -40
			fail "--fault $fault: torchrun exited $rc, $n of 4 ranks failed as they should"
		}
	done
	# A new training run on the same box, after the runs above ended and their
	# processes went away (some of them after joining only): every all-reduce
	# must again hold every rank (a partial result fails the run).
	if [ "$rc" = 0 ]; then
		echo "a second run on the same box: 3 epochs, every all-reduce of every rank"
		"$lab" exec --name "$name" -- env GLOO_SOCKET_IFNAME=lo timeout 400 "${run[@]}" \
			--epochs 3 --min-accuracy 0 --max-gap 100 || rc=$?
	fi
else
	"$lab" exec --name "$name" -- "$python" "${run[@]}" || rc=$?
fi
echo "the app's last stats line, job(s) $jobs:"
"$lab" stats --name "$name" | "$python" -c '
import json, sys
jobs = [int(j) for j in sys.argv[1].split()]
for j in json.load(sys.stdin).get("jobs", []):
    if j.get("id") in jobs:
        print("  " + json.dumps(j, sort_keys=True))
' "$jobs" || true
[ "$rc" = 0 ] || fail "${run[0]##*/} exited $rc (in $(($(date +%s) - start)) s)"
echo "PASS: in $(($(date +%s) - start)) s"
