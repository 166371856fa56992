#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every test, twice: on the normal build and on an ASan/UBSan build.
# Usage: scripts/test.sh [--no-asan]. Ends with "N passed, N failed"; non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

builds=(build build-asan)
[ "${1:-}" = "--no-asan" ] && builds=(build)

./scripts/deps.sh || exit 1
./scripts/build.sh build || exit 1
if [[ " ${builds[*]} " == *" build-asan "* ]]; then
	# b_lundef=false: the sanitizer runtime provides symbols at load time.
	./scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

for b in "${builds[@]}"; do
	echo "== tests on $b"
	meson test -C "$b" --print-errorlogs --num-processes 2 || true
done

# Count from meson's own logs: one result per test per build.
/usr/bin/python3 - "${builds[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for b in sys.argv[1:]:
    try:
        lines = open(b + "/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
        print("%s: no test log" % b)
        continue
    for line in lines:
        r = json.loads(line)
        res = r["result"]
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
            print("FAILED: %s on %s (%s)" % (r["name"], b, res))
tail = ", %d skipped" % skipped if skipped else ""
print("%d passed, %d failed%s" % (passed, failed, tail))
sys.exit(1 if failed else 0)
PY
