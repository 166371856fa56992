#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/gpu-check.sh --pack and --prebuilt without a GPU (issue 20, item 4): the
# GPU check of a box that has the NVIDIA driver and nothing else, tried here as
# far as it goes without one.
#  1. --pack DIR --from BUILD: the binaries, the PMDs the runs load, and every
#     library they need but the C runtime, in DIR; each resolves inside DIR;
#  2. the packed ainftp-app starts under env -i with only LD_LIBRARY_PATH=DIR/lib;
#  3. --prebuilt DIR checks the pack, then stops at the GPU: exit 2 and one last
#     line, "gpu-check: FAIL ... reason: no NVIDIA GPU/driver: ...";
#  4. a pack under a world-writable directory (EAL loads no PMD there) is refused;
#  5. as root, in a private mount namespace where DPDK, jansson, libsodium,
#     libnuma, libbsd, libfdt and libmd are hidden (the build's own app no longer
#     starts): from DIR alone, ainftp-app --emulate with a host sink, its PMDs from
#     DIR/pmds, every result in the arena; ainftp-sink-write and ainftp-sink-follow;
#     and --prebuilt as in 3.
#
#   test_gpu_pack.sh SRCDIR BUILDDIR
set -euo pipefail

src=$1 build=$2
check=$src/scripts/gpu-check.sh
[ -x "$build/gpu/ainftp-gpu-consumer" ] || { echo "skip: no ainftp-gpu-consumer (nvcc)"; exit 77; }
# EAL loads no PMD from under a world-writable directory: a build under /tmp packs in $HOME.
pack=$build/gpu-pack-test
d=$(readlink -f "$build")
while [ "$d" != / ]; do
	if [ -n "$(find "$d" -maxdepth 0 -perm -0002)" ]; then
		pack=$(mktemp -d -p "${HOME:-/root}" ainftp-gpu-pack-test.XXXXXX)
		break
	fi
	d=$(dirname "$d")
done
work=$(mktemp -d)
cleanup() {
	rm -rf "$work" "$pack" /dev/shm/ainftp-test-gpu-pack-$$* /var/run/dpdk/ainftp-test-gpu-pack-$$* 2>/dev/null || true
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# 1. The pack.
"$check" --pack "$pack" --from "$build" >"$work/pack.out" 2>&1 || fail "--pack: $(cat "$work/pack.out")"
cat "$work/pack.out"
for b in ainftp-app ainftp-gpu-consumer ainftp-sink-write ainftp-sink-follow ainftp-sink-read; do
	[ -x "$pack/bin/$b" ] || fail "pack: no bin/$b"
done
for p in mempool_ring bus_pci bus_vdev net_ring; do
	[ -n "$(find -L "$pack/pmds" -name "librte_$p.so.*" -type f)" ] || fail "pack: no PMD $p"
done
for l in librte_eal.so.23 libjansson.so.4 libsodium.so.23 libnuma.so.1; do
	[ -f "$pack/lib/$l" ] || fail "pack: no lib/$l"
done
[ ! -e "$pack/lib/libc.so.6" ] || fail "pack: the C runtime is in it"
grep -q '^cuda=[0-9]' "$pack/BUILDINFO" || fail "pack: BUILDINFO: $(cat "$pack/BUILDINFO")"
echo "ok   --pack: $(ls "$pack/lib" | wc -l) libraries, $(ls "$pack/pmds" | wc -l) PMDs"

# 2. Starts from the pack alone.
v=$(env -i LD_LIBRARY_PATH="$pack/lib" "$pack/bin/ainftp-app" --version) || fail "env -i ainftp-app --version"
[[ $v == "ainftp-app "* ]] || fail "ainftp-app --version: $v"
echo "ok   env -i LD_LIBRARY_PATH=DIR/lib ainftp-app --version: $v"

# 3. --prebuilt stops at the GPU (a PATH without nvidia-smi, as here).
no_gpu() { # what --prebuilt says without a GPU: exit 2, the reason on the last line
	local rc=0
	env PATH=/usr/bin:/bin "$pack/gpu-check.sh" --prebuilt "$pack" >"$work/pre.out" 2>"$work/pre.err" || rc=$?
	[ "$rc" = 2 ] || fail "--prebuilt without a GPU: exit $rc: $(cat "$work/pre.out" "$work/pre.err")"
	tail -n 1 "$work/pre.out" | grep -q '^gpu-check: FAIL .* reason: no NVIDIA GPU/driver: ' ||
		fail "--prebuilt without a GPU: $(tail -n 1 "$work/pre.out")"
	grep -q '^gpu-check: prebuilt ' "$work/pre.out" || fail "--prebuilt: the pack was not checked first"
}
if command -v nvidia-smi >/dev/null 2>&1; then
	echo "skip --prebuilt without a GPU: nvidia-smi is here"
else
	no_gpu
	echo "ok   --prebuilt: $(tail -n 1 "$work/pre.out")"
fi

# 4. A world-writable directory on the way: refused.
mkdir -p "$work/ww" && chmod 0777 "$work/ww"
rc=0
"$check" --pack "$work/ww/pack" --from "$build" >"$work/ww.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'is world-writable: EAL would load no PMD' "$work/ww.out" ||
	fail "--pack under a world-writable directory: exit $rc: $(cat "$work/ww.out")"
echo "ok   a pack under a world-writable directory is refused"
# ... and --prebuilt from one uses a copy where EAL takes PMDs (HOME: in the build tree).
if ! command -v nvidia-smi >/dev/null 2>&1; then
	mkdir -p "$work/ww/pack" && cp -a "$pack/." "$work/ww/pack/"
	home=$(dirname "$pack")/gpu-pack-home # beside the pack: a safe place
	mkdir -p "$home" && chmod 755 "$home"
	rc=0
	env PATH=/usr/bin:/bin HOME="$home" "$work/ww/pack/gpu-check.sh" --prebuilt \
		"$work/ww/pack" >"$work/ww2.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] && grep -q "is world-writable (EAL loads no PMD under it): using a copy in $home/" \
		"$work/ww2.out" && grep -q 'reason: no NVIDIA GPU/driver' "$work/ww2.out" ||
		fail "--prebuilt under a world-writable directory: exit $rc: $(cat "$work/ww2.out")"
	[ -z "$(ls -A "$home")" ] || fail "--prebuilt left its copy behind"
	rmdir "$home"
	echo "ok   --prebuilt under a world-writable directory runs from a copy, removed after"
fi

# 5. A box without DPDK and the rest: a private mount namespace hides them.
if [ "$(id -u)" != 0 ] || ! unshare --mount --propagation private true 2>/dev/null; then
	echo "skip the box without DPDK: not root, or no mount namespace"
	echo "gpu_pack: all passed"
	exit 0
fi
arena=/dev/shm/ainftp-test-gpu-pack-$$
"$src/tests/emu_config.py" "$work/app.json" --job 9 --result-encoding float32 \
	--sink "{\"backend\": \"host\", \"path\": \"$arena\"}"
. "$src/tests/emu_lib.sh"
cat >"$work/bare.sh" <<EOF
set -euo pipefail
libdir=\$(dirname "\$(ldconfig -p | sed -n 's/.*librte_eal\.so\.23 .*=> //p' | head -n 1)")
n=0
for f in "\$libdir"/librte_*.so.* "\$libdir"/libjansson.so.* "\$libdir"/libsodium.so.* \\
	"\$libdir"/libnuma.so.* "\$libdir"/libbsd.so.* "\$libdir"/libfdt.so.* "\$libdir"/libmd.so.*; do
	[ -f "\$f" ] && [ ! -L "\$f" ] || continue
	mount --bind /dev/null "\$f"
	n=\$((n + 1))
done
[ -d "\$libdir/dpdk" ] && mount --bind "$work" "\$libdir/dpdk"
echo "hidden: \$n libraries and \$libdir/dpdk"
if "$build/app/ainftp-app" --version >/dev/null 2>&1; then
	echo "the build's app still starts: nothing was hidden"
	exit 1
fi
P=$pack
lcores='$(eal_lcores 3)'
run() { env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH=\$P/lib "\$@"; }
# shellcheck disable=SC2086 # lcores: several words
run \$P/bin/ainftp-app \$lcores --no-huge -m 512 --no-pci -d \$P/pmds --no-shconf \\
	--no-telemetry --file-prefix ainftp-test-gpu-pack-$$ --log-level=lib.eal:error -- \\
	-c "$work/app.json" --stats-interval 0 --emulate 2000 --emu-lcore 2 >"$work/app.out" 2>&1
grep '^emulator: workers=.*: PASS\$' "$work/app.out"
run \$P/bin/ainftp-sink-read "$arena" --expect 2000 | tail -n 1
rm -f "$arena" "$work/go"
run \$P/bin/ainftp-sink-follow "$arena" --chunks 20000 --synthetic --ready-file "$work/go" >"$work/f.out" &
run \$P/bin/ainftp-sink-write "$arena" --chunks 20000 --rate 20000 --go-file "$work/go" 2>/dev/null | tail -n 1
wait \$!
tail -n 1 "$work/f.out"
EOF
# The trace, apart from the output the checks below read: a failure says which step it was.
unshare --mount --propagation private bash -x "$work/bare.sh" >"$work/bare.out" \
	2>"$work/bare.trace" || {
	cat "$work/bare.out" "$work/app.out" 2>/dev/null >&2
	tail -n 20 "$work/bare.trace" >&2
	fail "the box without DPDK"
}
cat "$work/bare.out"
grep -q '^results=2000$' "$work/bare.out" && grep -q '^sink-follow: PASS$' "$work/bare.out" ||
	fail "the box without DPDK: $(cat "$work/bare.out")"
echo "ok   without DPDK, jansson, libsodium, libnuma: the packed app, writer and reader run from DIR"
if ! command -v nvidia-smi >/dev/null 2>&1; then
	cat >"$work/bare2.sh" <<EOF
set -euo pipefail
libdir=\$(dirname "\$(ldconfig -p | sed -n 's/.*librte_eal\.so\.23 .*=> //p' | head -n 1)")
for f in "\$libdir"/librte_*.so.* "\$libdir"/libjansson.so.*; do
	[ -f "\$f" ] && [ ! -L "\$f" ] && mount --bind /dev/null "\$f"
done
[ -d "\$libdir/dpdk" ] && mount --bind "$work" "\$libdir/dpdk"
rc=0
env PATH=/usr/bin:/bin "$pack/gpu-check.sh" --prebuilt "$pack" >"$work/pre.out" 2>"$work/pre.err" || rc=\$?
exit \$rc
EOF
	rc=0
	unshare --mount --propagation private bash "$work/bare2.sh" || rc=$?
	[ "$rc" = 2 ] && tail -n 1 "$work/pre.out" | grep -q 'reason: no NVIDIA GPU/driver: ' &&
		! grep -q "this box has the pack's DPDK" "$work/pre.out" ||
		fail "--prebuilt without DPDK: exit $rc: $(cat "$work/pre.out" "$work/pre.err")"
	echo "ok   --prebuilt without DPDK: $(tail -n 1 "$work/pre.out")"
fi
echo "gpu_pack: all passed"
