#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/plot-bench.py on real bench output: a short ainftp-bench (--quick, one
# repetition of 0.05 s a point: seconds), a short bench-gloo.py (2 ranks, 4096
# floats, 2 steps) and the all-reduce runs saved in docs/img/ make rate.png and
# allreduce.png, each a non-empty PNG (its signature and IHDR). Then what it
# cannot read: no bench output, and a table whose row is cut, each exit 1 with
# the file (and line) named and no PNG written. The bench's output has the sumfwd
# ceiling at every point and in its last line, and no failure.
#
#   test_plot.sh BENCH SRCDIR
set -euo pipefail

bench=$1
src=$2
plot=("/usr/bin/python3" "$src/scripts/plot-bench.py")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

timeout 120 "$bench" --quick --reps 1 --time 0.05 >"$work/bench.txt" 2>&1 ||
	fail "ainftp-bench: $(tail -n 5 "$work/bench.txt")"
# The sumfwd ceiling ran at every point (a leak or a stall there is a failure) and is in
# the table and the last line.
/usr/bin/python3 - "$work/bench.txt" <<'PY' || fail "the sumfwd ceiling in the bench's output"
import math, sys
lines = open(sys.argv[1]).read().splitlines()
head = next(i for i, l in enumerate(lines) if l.startswith("encoding "))
cols = lines[head].split()
rows = [dict(zip(cols, l.split())) for l in lines[head + 1:] if l.split()[:1] and
        l.split()[0] in ("int16", "int8", "float32")]
assert len(rows) >= 9, len(rows)
for r in rows:
    assert float(r["sumfwd_Mpps"]) > 0 and float(r["ratio_sumfwd"]) > 0, r
last = dict(kv.split("=", 1) for kv in lines[-1].split()[1:])
for k in ("ratio_sumfwd", "sumfwd_ratio_io", "sumfwd_ratio_io_int8", "sumfwd_ratio_io_float32",
          "cycles_ainftp", "cycles_sumfwd"):
    assert math.isfinite(float(last[k])) and float(last[k]) > 0, (k, last.get(k))
assert last["failures"] == "0", last["failures"]
print("ok   sumfwd: %d rows, ratio_sumfwd=%s cycles_sumfwd=%s" % (
    len(rows), last["ratio_sumfwd"], last["cycles_sumfwd"]))
PY
timeout 120 /usr/bin/python3 "$src/scripts/bench-gloo.py" --workers 2 --elems 4096 --steps 2 \
	>"$work/gloo.txt" 2>"$work/gloo.err" || fail "bench-gloo.py: $(tail -n 5 "$work/gloo.err")"
"${plot[@]}" -o "$work/png" "$work/bench.txt" "$work/gloo.txt" "$src"/docs/img/allreduce-*.txt \
	>"$work/plot.out" || fail "plot-bench.py"

/usr/bin/python3 - "$work/png" "$work/plot.out" <<'PY' || fail "the PNGs"
import os, struct, sys
d, listed = sys.argv[1], open(sys.argv[2]).read().split()
want = [os.path.join(d, n) for n in ("rate.png", "allreduce.png")]
assert sorted(listed) == sorted(want), listed
for p in want:
    b = open(p, "rb").read()
    # The PNG signature, then the IHDR chunk: its length 13, its width and height.
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR", (p, b[:16])
    w, h = struct.unpack(">II", b[16:24])
    assert len(b) > 10000 and w >= 400 and h >= 300, (p, len(b), w, h)
    print("ok   %s: %d bytes, %dx%d" % (os.path.basename(p), len(b), w, h))
PY

# What it cannot read: a clear error, exit 1, nothing written.
rc=0
echo "not a bench" | "${plot[@]}" -o "$work/bad" 2>"$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q '^plot-bench: <stdin>: no bench output in it' "$work/err" ||
	fail "garbage: exit $rc: $(cat "$work/err")"
sed -n '1,/^encoding /p' "$work/bench.txt" >"$work/cut.txt"
echo "int16           256     9.247     18.94" >>"$work/cut.txt"
line=$(wc -l <"$work/cut.txt")
rc=0
"${plot[@]}" -o "$work/bad" "$work/cut.txt" 2>"$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q "^plot-bench: $work/cut.txt:$line: 4 fields, the table has" "$work/err" ||
	fail "cut row: exit $rc: $(cat "$work/err")"
[ ! -e "$work/bad" ] || fail "PNGs written from input that did not parse: $(ls "$work/bad")"
echo "ok   bad input: $(cat "$work/err")"
echo "plot: ok"
