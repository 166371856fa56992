#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# pip install ./python, offline, as a new user would, then the package at work:
#  1. a fresh venv (Debian's python3, with the system's site-packages for NumPy);
#     `pip install --no-index ./python` builds the wheel with the in-tree backend
#     (requires = []: nothing to fetch) and installs it, leaving the source tree
#     as it was; again with --no-build-isolation;
#  2. the installed package, imported from the venv: ainftp.__version__ is meson's
#     project version; with no _build.py (pip's install has none) the library is
#     found by its soname on LD_LIBRARY_PATH, or by AINFTP_CLIENT_LIB, or (neither,
#     and not installed) the error names what was tried and AINFTP_CLIENT_LIB;
#  2b. with torch and the built backend (C10D, the build's ainftp._c10d module):
#     the venv's ainftp.torch registers "ainftp", says to set AINFTP_C10D without
#     the module, and loads it from AINFTP_C10D;
#  3. a 2-worker all-reduce (job 4 of config/lab.json with workers 0 and 1) from the
#     venv's python in the lab (scripts/lab.sh): both get the exact sum.
#
#   test_pip.sh SRCDIR APP IMPAIR CLIENT_LIB VERSION [C10D]
set -euo pipefail

[ $# = 5 ] || [ $# = 6 ] || { echo "usage: $0 SRCDIR APP IMPAIR CLIENT_LIB VERSION [C10D]" >&2; exit 2; }
# lab, name, cfg, app and impair are lab_lib.sh's (its up and down).
src=$1 app=$2 impair=$3 clientlib=$4 version=$5 c10d=${6:-}
lab=$src/scripts/lab.sh
name=tpip$$
work=$(mktemp -d)
cfg=$work/two.json
# shellcheck source=tests/lab_lib.sh
. "$src/tests/lab_lib.sh"

venv=$work/venv
/usr/bin/python3 -m venv --system-site-packages "$venv" || fail "python3 -m venv (python3-venv)"
py=$venv/bin/python
before=$(cd "$src/python" && find . | sort)
# PYTHONDONTWRITEBYTECODE: the backend's import leaves no __pycache__ in the tree.
PYTHONDONTWRITEBYTECODE=1 "$py" -m pip install --no-index --disable-pip-version-check -q \
	"$src/python" >"$work/pip.out" 2>&1 || fail "pip install --no-index ./python: $(cat "$work/pip.out")"
PYTHONDONTWRITEBYTECODE=1 "$py" -m pip install --no-index --no-build-isolation --force-reinstall \
	--disable-pip-version-check -q "$src/python" >"$work/pip.out" 2>&1 ||
	fail "pip install --no-build-isolation ./python: $(cat "$work/pip.out")"
[ "$(cd "$src/python" && find . | sort)" = "$before" ] || fail "pip install changed $src/python"
"$py" -m pip show ainftp >"$work/show" 2>&1 || fail "pip show ainftp: $(cat "$work/show")"
grep -qx "Version: $version" "$work/show" || fail "pip show ainftp: not $version: $(cat "$work/show")"
echo "ok: pip install --no-index ./python, with and without build isolation"

# 2. From outside the source tree, so that the venv's copy is the one imported.
cd "$work"
v=$(env -u AINFTP_CLIENT_LIB "$py" -c \
	'import ainftp, sys; assert ainftp.__file__.startswith(sys.prefix), ainftp.__file__; print(ainftp.__version__)') ||
	fail "import ainftp from the venv"
[ "$v" = "$version" ] || fail "ainftp.__version__ is $v, meson's version $version"
echo "ok: ainftp.__version__ $v"

loaded() { # the library the package loads, with the environment given
	env -u AINFTP_CLIENT_LIB -u LD_LIBRARY_PATH "$@" "$py" -c \
		'import ainftp; assert ainftp.status_name(ainftp.E_TIMEOUT); print(ainftp._lib()._name)'
}
so=${clientlib##*/}
so=${so%.*.*} # libainftp-client.so.2.0.0: its soname libainftp-client.so.2
[ "$(loaded LD_LIBRARY_PATH="${clientlib%/*}")" = "$so" ] || fail "not found by the soname $so on LD_LIBRARY_PATH"
[ "$(loaded AINFTP_CLIENT_LIB="$clientlib")" = "$clientlib" ] || fail "AINFTP_CLIENT_LIB not taken"
if ! /sbin/ldconfig -p | grep -qF "$so "; then
	rc=0
	loaded >"$work/none" 2>&1 || rc=$?
	[ "$rc" != 0 ] && grep -qF "$so (soname)" "$work/none" && grep -qF "Set AINFTP_CLIENT_LIB" "$work/none" &&
		! grep -qF "_build.py" "$work/none" || fail "no library: $(tail -n 1 "$work/none")"
fi
echo "ok: the library by its soname $so, by AINFTP_CLIENT_LIB, and a clear error without"

# 2b. The torch.distributed backend from the venv: pip's package has no
# ainftp._c10d (meson builds it), so the import registers "ainftp" and its
# creation says to set AINFTP_C10D, which then loads the build's module.
if [ -n "$c10d" ] && "$py" -c 'import torch' 2>/dev/null; then
	env -u AINFTP_C10D "$py" -c 'import torch.distributed as d, ainftp.torch as t
assert "AINFTP" in d.Backend._plugins
try:
    t._c10d()
except ImportError as e:
    assert "AINFTP_C10D" in str(e), e
else:
    raise SystemExit("ainftp._c10d loaded from nowhere")' || fail "the backend without ainftp._c10d"
	AINFTP_C10D=$c10d "$py" -c 'import sys, ainftp.torch as t
m = t._c10d()
assert m.__file__ == sys.argv[1] and hasattr(m, "ProcessGroupAinftp"), m' "$c10d" ||
		fail "AINFTP_C10D=$c10d does not load"
	echo "ok: ainftp.torch registers the backend; ainftp._c10d from AINFTP_C10D"
fi

# 3. Two workers of job 4 (356 float32 per packet, 3 chunks of 1000 elements).
/usr/bin/python3 - "$src/config/lab.json" "$cfg" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["jobs"] = [j for j in c["jobs"] if j["id"] == 4]
c["jobs"][0]["workers"] = c["jobs"][0]["workers"][:2]
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
cat >"$work/worker.py" <<'PY'
import sys
import numpy as np
import ainftp
cfg, w, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
x = np.arange(1000, dtype=np.float32) * (w + 1)  # integers: the sum is exact
with ainftp.Client(cfg, job=4, worker=w) as c:
    c.allreduce(x)
np.save(out, x)
PY
up
pids=()
for w in 0 1; do
	AINFTP_CLIENT_LIB=$clientlib "$lab" exec --name "$name" -- "$py" "$work/worker.py" "$cfg" "$w" \
		"$work/result$w.npy" >"$work/worker$w.out" 2>&1 &
	pids+=($!)
done
for w in 0 1; do
	wait "${pids[$w]}" || fail "worker $w: $(cat "$work/worker$w.out")"
done
for w in 0 1; do
	"$py" -c 'import sys, numpy as np
r = np.load(sys.argv[1])
assert np.array_equal(r, np.arange(1000, dtype=np.float32) * 3), r[:8]' "$work/result$w.npy" ||
		fail "worker $w: not the sum"
done
echo "ok: 2 workers from the venv, 1000 elements each, both got the exact sum"
down
