#!/bin/sh
# Installs kiln's build and test dependencies from Debian's archive.
#   tools/deps.sh ensure    install only what is missing (quiet when nothing is)
#   tools/deps.sh install   same, but always say what was checked
#   tools/deps.sh list      print the package names
set -eu

# Build: compiler, pkg-config and the libraries kiln links.
BUILD_PKGS="gcc make pkg-config libc6-dev libjansson-dev libcap-dev libcgroup-dev
libseccomp-dev liburing-dev libfdt-dev"
# Tests, benchmarks and the demo: unit tests, guest images, the lab, console tests.
TEST_PKGS="libcriterion-dev tmux strace busybox-static cpio e2fsprogs xz-utils zstd
qemu-system-x86 kmod binutils"

all_pkgs() { echo $BUILD_PKGS $TEST_PKGS; }

missing() {
	for p in $(all_pkgs); do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in *" installed") ;; *) printf '%s ' "$p" ;; esac
	done
}

mode=${1:-ensure}
case "$mode" in
list) all_pkgs | tr ' ' '\n'; exit 0 ;;
ensure|install) ;;
*) echo "usage: $0 ensure|install|list" >&2; exit 2 ;;
esac

need=$(missing)
if [ -z "$need" ]; then
	[ "$mode" = install ] && echo "deps: all $(all_pkgs | wc -w) packages already installed"
	exit 0
fi
echo "deps: installing from Debian: $need"
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; run: sudo apt-get install -y $need" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# An apt index that was never fetched finds nothing: update first when that is so.
if ! apt-get install -y -q --no-install-recommends $need; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends $need
fi
