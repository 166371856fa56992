# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the tests that run real workers in the lab of scripts/lab.sh
# (test_e2e.sh, test_catchup.sh, test_shards.sh, test_pip.sh). The caller sets
# lab, name, cfg, app, impair, src and work (a temporary folder) first, and
# worker and size for run_worker and all_verify; the lab and work go on exit.

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

# run_worker OUT WORKER-ARGS...: one worker (the caller's worker, on cfg) in the lab,
# stopped after worker_timeout seconds (default 600: 124 then); its exit status in OUT.rc.
run_worker() {
	local out=$1
	shift
	local rc=0
	"$lab" exec --name "$name" -- timeout "${worker_timeout:-600}" "$worker" -c "$cfg" "$@" \
		>"$out" 2>&1 || rc=$?
	echo "$rc" >"$out.rc"
}

# all_verify TAG JOB [ARGS...]: workers 0..3 at once, one step of the caller's size
# (ARGS may say more), every result checked.
all_verify() {
	local tag=$1 job=$2
	shift 2
	local w
	for w in 0 1 2 3; do
		run_worker "$work/$tag.$w" --job "$job" --worker "$w" --size "$size" \
			--steps 1 --verify 4 "$@" &
	done
	wait
	for w in 0 1 2 3; do
		[ "$(cat "$work/$tag.$w.rc")" = 0 ] ||
			fail "$tag: worker $w exit $(cat "$work/$tag.$w.rc"): $(cat "$work/$tag.$w")"
		grep -q "verified: [1-9]" "$work/$tag.$w" || fail "$tag: worker $w verified nothing"
	done
	echo "ok: $tag: $(grep -h '^worker 0:' "$work/$tag.0")"
}
