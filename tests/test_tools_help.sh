#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Every program the build makes answers as its neighbours do: --help (and -h)
# exit 0 with "usage: NAME" on stdout and nothing on stderr, --version exits 0
# printing "NAME VERSION" alone; ainftp-app the same after "--" (its EAL
# options come first) and without one. The programs are every ainftp-*
# executable of the build (meson-info/intro-targets.json), so a new tool is
# checked without a change here. Then every man page of docs/man renders with
# man -l and groff without a warning, every installed program has its page
# among the installed ones (meson-info/intro-installed.json), and every page is
# installed.
#
#   test_tools_help.sh SRCDIR BUILDDIR VERSION
set -euo pipefail

[ $# = 3 ] || { echo "usage: $0 SRCDIR BUILDDIR VERSION" >&2; exit 2; }
src=$1 build=$2 version=$3
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The build's ainftp-* programs: executables and custom targets (the GPU consumer).
mapfile -t tools < <("$py" - "$build" <<'PY'
import json, os, sys
for t in json.load(open(os.path.join(sys.argv[1], "meson-info", "intro-targets.json"))):
    for f in t["filename"]:
        if t["type"] in ("executable", "custom") and os.path.basename(f).startswith("ainftp-"):
            print(f)
PY
)
[ ${#tools[@]} -ge 10 ] || fail "only ${#tools[@]} ainftp-* programs in $build"

# expect_help TOOL NAME ARGS...: exit 0, "usage: NAME" first on stdout, stderr empty.
expect_help() {
	local tool=$1 name=$2 rc=0
	shift 2
	timeout 10 "$tool" "$@" >"$work/out" 2>"$work/err" || rc=$?
	[ "$rc" = 0 ] || { cat "$work/err" >&2; fail "$name $*: exit $rc"; }
	[ -s "$work/err" ] && { cat "$work/err" >&2; fail "$name $*: wrote to stderr"; }
	head -n 1 "$work/out" | grep -q "^usage: $name " || fail "$name $*: no 'usage: $name' first: $(head -n 1 "$work/out")"
	n=$((n + 1))
}

# expect_version TOOL NAME ARGS...: exit 0, stdout exactly "NAME VERSION".
expect_version() {
	local tool=$1 name=$2 rc=0
	shift 2
	timeout 10 "$tool" "$@" >"$work/out" 2>"$work/err" || rc=$?
	[ "$rc" = 0 ] || { cat "$work/err" >&2; fail "$name $*: exit $rc"; }
	[ "$(cat "$work/out")" = "$name $version" ] || fail "$name $*: \"$(cat "$work/out")\", want \"$name $version\""
	[ -s "$work/err" ] && { cat "$work/err" >&2; fail "$name $*: wrote to stderr"; }
	n=$((n + 1))
}

for t in "${tools[@]}"; do
	[ -x "$t" ] || fail "$t: not built"
	name=${t##*/}
	expect_help "$t" "$name" --help
	expect_help "$t" "$name" -h
	expect_version "$t" "$name" --version
	# --help wins wherever it is, so that it is never taken for a path or a value
	# (but ainftp-app's, whose options before "--" are EAL's).
	[ "$name" = ainftp-app ] || expect_help "$t" "$name" some-path --help
done
app=$build/app/ainftp-app
expect_help "$app" ainftp-app -l 0 --no-huge -- --help
expect_version "$app" ainftp-app -l 0 --no-huge -- --version
expect_version "$app" ainftp-app -- --version

# A bad command line still exits 2 with a message (no usage on stdout).
for t in "$build/tools/ainftp-sink-read" "$build/tools/ainftp-worker" "$app"; do
	rc=0
	"$t" --no-such-option >"$work/out" 2>"$work/err" || rc=$?
	[ "$rc" = 2 ] && [ -s "$work/err" ] && [ ! -s "$work/out" ] ||
		fail "${t##*/} --no-such-option: exit $rc, stderr: $(head -c 200 "$work/err")"
	n=$((n + 1))
done

# Every page renders, at 80 columns, without a warning from man or groff.
pages=("$src"/docs/man/*.[1-8])
[ ${#pages[@]} -ge 7 ] || fail "only ${#pages[@]} man pages in $src/docs/man"
for p in "${pages[@]}"; do
	MANWIDTH=80 man --warnings=w -l "$p" >"$work/out" 2>"$work/err" || fail "man -l $p"
	[ -s "$work/err" ] && { cat "$work/err" >&2; fail "man -l ${p##*/}: warnings"; }
	[ "$(wc -l <"$work/out")" -gt 10 ] || fail "man -l ${p##*/}: $(wc -l <"$work/out") lines"
	groff -ww -z -man "$p" 2>"$work/err" || fail "groff ${p##*/}"
	[ -s "$work/err" ] && { cat "$work/err" >&2; fail "groff ${p##*/}: warnings"; }
	n=$((n + 1))
done

# Every installed program has its installed page; every page of docs/man is installed.
"$py" - "$build" "$src/docs/man" <<'PY' || fail "installed programs and man pages"
import json, os, sys
installed = json.load(open(os.path.join(sys.argv[1], "meson-info", "intro-installed.json")))
dests = set(installed.values())
progs = sorted(os.path.basename(d) for d in dests if os.path.basename(os.path.dirname(d)) in ("bin", "sbin"))
pages = {os.path.basename(d): d for d in dests if "/man/man" in d}
bad = 0
for p in progs:
    mine = [x for x in pages if x.rsplit(".", 1)[0] == p]
    if not mine:
        print("no man page installed for %s" % p, file=sys.stderr)
        bad = 1
for f in sorted(os.listdir(sys.argv[2])):
    if f[-2:-1] == "." and f[-1].isdigit() and f not in pages and \
            (f != "ainftp-gpu-consumer.1" or "ainftp-gpu-consumer" in progs):
        print("%s is not installed" % f, file=sys.stderr)
        bad = 1
if "cluster.json.5" not in pages:
    print("cluster.json.5 is not installed", file=sys.stderr)
    bad = 1
print("installed programs: %s" % " ".join(progs))
sys.exit(bad)
PY
n=$((n + 1))

echo "ok: $n checks"
