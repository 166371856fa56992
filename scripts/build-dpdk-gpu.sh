#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds DPDK 22.11 from Debian's source package with the gpu/cuda driver
# (which Debian's DPDK does not ship) against a local CUDA toolkit, patched
# for CUDA 13 and Hopper (patches/dpdk-22.11/, README "GPU build"), and
# installs it under a prefix the ainftp build takes through PKG_CONFIG_PATH.
#
# Usage: scripts/build-dpdk-gpu.sh [--prefix DIR] [--cuda DIR] [--workdir DIR]
#                                  [--version DEBIAN_VERSION] [--jobs N]
#   --prefix   install prefix (default /opt/ainftp-dpdk-gpu)
#   --cuda     CUDA toolkit with include/cuda.h, cudaTypedefs.h
#              (default /usr/local/cuda); only its headers are used: the
#              driver dlopens libcuda.so at run time
#   --workdir  where the source is fetched and built
#              (default build-dpdk-gpu/ in the repository, git-ignored)
#   --version  Debian source version (default: the installed libdpdk-dev's
#              when it is 22.11.x, else the newest 22.11.x apt knows)
#   --jobs     ninja -j (default: nproc)
#
# Idempotent: missing packages and the deb-src entry are added once (root
# needed only then), the source is fetched and unpacked once, patches already
# applied are skipped, meson reconfigures an existing build dir.
# Everything that compiles runs under nice -n 19.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

prefix=/opt/ainftp-dpdk-gpu
cuda=/usr/local/cuda
workdir=$repo/build-dpdk-gpu
version=
jobs=$(nproc)
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=$2; shift 2 ;;
	--cuda) cuda=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--version) version=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	-h|--help) sed -n '3,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-dpdk-gpu.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
log() { echo "build-dpdk-gpu.sh: $*"; }
die() { echo "build-dpdk-gpu.sh: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "root is needed to $*"; }

for h in cuda.h cudaTypedefs.h; do
	[ -f "$cuda/include/$h" ] || die "$cuda/include/$h not found (--cuda)"
done

# 1. Build dependencies: the minimal set DPDK's meson needs, not build-dep
#    (which pulls in ibverbs, ipsec-mb, docs, ...). dpkg-dev: dpkg-source.
pkgs=(gcc meson ninja-build pkg-config python3-pyelftools libnuma-dev dpkg-dev patch xz-utils)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	need_root "install ${missing[*]}"
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. A deb-src entry: the system's deb822 Debian sources with Types: deb-src.
# (Output captured first: grep -q closing the pipe early would fail it.)
showsrc=$(apt-cache showsrc dpdk 2>/dev/null || true)
if ! grep -q '^Version: 22\.11\.' <<<"$showsrc"; then
	need_root "add a deb-src entry"
	src=/etc/apt/sources.list.d/ainftp-debsrc.sources
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src"
	else
		cat > "$src" <<-'EOF'
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: bookworm bookworm-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
	log "added $src"
	apt-get update -qq
fi

# 3. The source package.
if [ -z "$version" ]; then
	version=$(dpkg-query -W -f='${Version}' libdpdk-dev 2>/dev/null || true)
	case $version in
	22.11.*) ;;
	*) version=$(apt-cache showsrc dpdk 2>/dev/null | sed -n 's/^Version: \(22\.11\..*\)/\1/p' |
		sort -V | tail -1) ;;
	esac
fi
case $version in 22.11.*) ;; *) die "no DPDK 22.11.x source (got '$version')" ;; esac
dsc=$workdir/dpdk_${version#*:}.dsc
src=$workdir/dpdk-$version
if [ ! -f "$dsc" ]; then
	log "fetching dpdk $version source"
	# apt verifies the files against the signed Sources index (dpkg-source
	# below cannot check the .dsc's own signature without debian-keyring).
	(cd "$workdir" && apt-get source -qq --download-only -o APT::Sandbox::User=root "dpdk=$version")
fi
if [ ! -f "$src/VERSION" ]; then
	rm -rf "$src"
	log "unpacking into $src"
	dpkg-source -x "$dsc" "$src" >/dev/null 2>&1   # applies Debian's own patches
fi

# 4. Our patches, each once.
for p in "$repo"/patches/dpdk-22.11/*.patch; do
	if patch -d "$src" -p1 -R --dry-run --force -s < "$p" >/dev/null 2>&1; then
		log "already applied: $(basename "$p")"
	else
		log "applying $(basename "$p")"
		patch -d "$src" -p1 --forward -s < "$p"
	fi
done

# 5. Configure: only what ainftp uses. Drivers: the vdevs the app and its
#    tests make (net_ring, net_null, net_tap, net_af_packet), the buses,
#    the default mempool (ring) and gpu/cuda; apps: dpdk-test-gpudev only;
#    optional libraries off. platform=generic: the same ISA baseline as
#    Debian's packages (corei7), not -march=native. The rpath lets the PMDs
#    EAL dlopens from the prefix find the prefix's libraries, not Debian's
#    (same sonames).
libdir=lib/x86_64-linux-gnu
drivers=bus/pci,bus/vdev,mempool/ring,net/ring,net/null,net/tap,net/af_packet,gpu/cuda
disable_libs=bitratestats,cfgfile,flow_classify,gro,jobstats,kni,latencystats,metrics,node,pdump,pipeline,port,power,table,vhost
build=$workdir/build-$version
opts=(--prefix="$prefix" --libdir="$libdir" --buildtype=release
	-Dplatform=generic -Dtests=false -Dexamples= -Denable_docs=false -Denable_kmods=false
	-Denable_apps=test-gpudev -Ddisable_libs="$disable_libs" -Denable_drivers="$drivers"
	-Dc_args="-I$cuda/include" -Dc_link_args="-Wl,-rpath,$prefix/$libdir")
if [ -f "$build/build.ninja" ]; then
	log "reconfiguring $build"
	nice -n 19 meson setup --reconfigure "${opts[@]}" "$build" "$src" > "$workdir/setup.log"
else
	log "configuring $build"
	nice -n 19 meson setup "${opts[@]}" "$build" "$src" > "$workdir/setup.log"
fi
# Meson skips a driver whose dependency is missing rather than failing.
grep -q 'libtmp_rte_gpu_cuda' "$build/build.ninja" ||
	die "gpu/cuda is not in the build (see $workdir/setup.log, 'Content Skipped')"

# 6. Build and install.
log "building (ninja -j$jobs, log: $workdir/build.log)"
nice -n 19 ninja -C "$build" -j "$jobs" > "$workdir/build.log" 2>&1 ||
	{ tail -30 "$workdir/build.log" >&2; die "build failed"; }
if [ ! -w "$(dirname "$prefix")" ] && [ ! -w "$prefix" ]; then need_root "install into $prefix"; fi
nice -n 19 meson install -C "$build" --no-rebuild --quiet > "$workdir/install.log"
pmd=$prefix/$libdir/dpdk/pmds-23.0/librte_gpu_cuda.so
[ -e "$pmd" ] || die "$pmd was not installed"
log "installed DPDK $version with gpu/cuda in $prefix"
log "build ainftp against it: PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig meson setup build-gpu"
