#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# PyTorch DistributedDataParallel through the appliance, the acceptance test of
# the Python binding: tests/torch_ddp.py trains an MLP on scikit-learn's digits
# with 4 ranks in a lab's workers' namespace, once with Gloo's all-reduce and
# once with ainftp.torch.allreduce_hook on job 4 of config/lab.json, and fails
# when the accuracies differ by more than a point, Gloo's is below 90%, the
# ranks' weights differ, or a rank fails. The lab comes down whatever happens.
# Usage: test_torch.sh APP SRCDIR PYTHONPATH. Exit 77 (skipped) without torch or
# scikit-learn in /usr/bin/python3.
set -euo pipefail

app=$1
src=$2
export PYTHONPATH=$3
lab=$src/scripts/lab.sh
name=ttorch$$
python=/usr/bin/python3

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

echo "lab $name: ainftp-app $app"
"$lab" up --name "$name" --app "$app" >/dev/null || fail "lab.sh up failed"
echo "DDP, 4 ranks: Gloo's all-reduce, then ainftp.torch.allreduce_hook on job 4"
start=$(date +%s)
rc=0
"$lab" exec --name "$name" -- "$python" "$src/tests/torch_ddp.py" \
	--config "$src/config/lab.json" --job 4 --timeout 300 || rc=$?
[ "$rc" = 0 ] || fail "tests/torch_ddp.py exited $rc"
echo "PASS: in $(($(date +%s) - start)) s"
