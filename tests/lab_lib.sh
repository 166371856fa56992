# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the tests that run real workers in the lab of scripts/lab.sh
# (test_e2e.sh, test_catchup.sh). The caller sets lab, name, cfg, app, impair,
# src and work (a temporary folder) first; the lab and work go on exit.

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
lab_cleanup() {
	"$lab" down --name "$name" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap lab_cleanup EXIT
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"

# up [lab.sh up options...]: the lab with the app on cfg.
up() {
	"$lab" up --name "$name" --config "$cfg" --app "$app" --impair-bin "$impair" "$@" \
		>"$work/up.out" 2>&1 || fail "lab up $*: $(cat "$work/up.out")"
}
# down: the lab goes; the app's final stats must account for every frame it received.
down() {
	local acct
	"$lab" down --name "$name" >"$work/down.out" 2>&1 || fail "lab down: $(cat "$work/down.out")"
	acct=$("$src/tests/accounting.py" "$work/down.out") || fail "lab down: $acct"
	echo "ok: $acct"
}
