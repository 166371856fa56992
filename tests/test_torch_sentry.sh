#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# PyTorch DistributedDataParallel through the appliance with Byzantine workers,
# the acceptance test of the sentry: tests/torch_byzantine.py trains
# tests/torch_ddp.py's MLP with 8 ranks in a lab's workers' namespace, ranks 6
# and 7 sending -10 x their gradients, on jobs 5-8 of config/lab.json: clean,
# then attacked with the plain mean, trimmed_mean (f 2) and median. It fails
# when the clean run is below 90%, trimmed_mean or median is more than 3 points
# from it, the plain mean is not more than 3 points below it, the ranks' weights
# differ, or a rank fails. The lab comes down whatever happens (test_torch.sh
# does the lab's part).
# Usage: test_torch_sentry.sh APP SRCDIR PYTHONPATH. Exit 77 (skipped) without
# torch or scikit-learn in /usr/bin/python3.
set -euo pipefail

[ $# = 3 ] || { echo "usage: $0 APP SRCDIR PYTHONPATH" >&2; exit 2; }
exec "$(dirname "${BASH_SOURCE[0]}")/test_torch.sh" "$1" "$2" "$3" sentry
