#!/bin/sh
# Installs kiln's build and test dependencies from Debian's archive.
#   tools/deps.sh ensure [GROUP]    install only what is missing (quiet when nothing is)
#   tools/deps.sh install [GROUP]   same, but always say what was checked
#   tools/deps.sh list              print every package name any group may install
# Without GROUP: what `make`, `make demo` and `make test` need on the host's own
# architecture. GROUP `arm64`: that too, and what `make ARCH=aarch64`, its unit tests (under
# qemu-user) and the arm64 lab (tools/lab/arm64/) need on an x86-64 host. GROUP `ci`: only
# what CI's host needs to build a fresh Debian root (tools/ci/fresh-debian). GROUP `fuzz`:
# the default packages and clang with libFuzzer, for `make fuzz`.
set -eu

# Build: compiler, pkg-config and the libraries kiln links.
BUILD_PKGS="gcc make pkg-config libc6-dev libjansson-dev libcap-dev libcgroup-dev
libseccomp-dev liburing-dev libfdt-dev libhttp-parser-dev"
# Tests, benchmarks and the demo: unit tests, guest images, the lab, console tests, the
# tests' process and network namespace tools (pgrep, ip netns), and Debian's systemd
# (systemd-analyze; booted as PID 1 in the lab by tests/e2e/systemd.sh), and curl, which
# drives the API socket in the integration tests as Firecracker's getting-started guide does.
TEST_PKGS="libcriterion-dev tmux strace busybox-static cpio e2fsprogs xz-utils zstd
qemu-system-x86 kmod binutils acpica-tools procps iproute2 systemd curl"

# ARM64 (only when asked for): the cross toolchain, its pkg-config (pkgconf:arm64 brings
# aarch64-linux-gnu-pkg-config), arm64 -dev packages (multiarch), the emulators. libfdt-dev,
# libcriterion-dev and libhttp-parser-dev cannot be installed for two architectures at once
# (installing the arm64 one removes the native one): their arm64
# packages (ARM64_SYSROOT_PKGS) are unpacked into $ARM64_SYSROOT, where the Makefile looks
# for them, instead of replacing the native ones.
ARM64_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkgconf:arm64 libjansson-dev:arm64
liburing-dev:arm64 libcap-dev:arm64 libcgroup-dev:arm64 libseccomp-dev:arm64 libffi8:arm64
libgit2-1.5:arm64 qemu-user-static qemu-system-arm device-tree-compiler"
ARM64_SYSROOT_PKGS="libfdt-dev:arm64 libcriterion-dev:arm64 libcriterion3:arm64
libnanomsg5:arm64 libhttp-parser-dev:arm64"
ARM64_SYSROOT=${ARM64_SYSROOT:-${KILN_CACHE:-$HOME/.cache/kiln}/sysroot-aarch64}
# CI's host: a fresh Debian root to run the two commands in.
CI_PKGS="debootstrap git"
# Fuzzing (`make fuzz`): clang and its runtime libraries (libFuzzer, ASan, UBSan).
FUZZ_PKGS="clang libclang-rt-14-dev"
# Several groups may be named at once (one apt-get run installs them all).
shift_groups() { shift; echo "$*"; }
groups=$(shift_groups "$@")
for g in $groups; do
	case "$g" in arm64 | ci | fuzz) ;; *) echo "usage: $0 ensure|install|list [arm64] [fuzz] [ci]" >&2; exit 2 ;; esac
done
has() { case " $groups " in *" $1 "*) return 0 ;; esac; return 1; }

all_pkgs() {
	# The ci group alone is only CI's host tools; any other set includes the defaults.
	if [ "$groups" = ci ]; then echo $CI_PKGS; return 0; fi
	echo $BUILD_PKGS $TEST_PKGS
	has arm64 && echo $ARM64_PKGS
	has fuzz && echo $FUZZ_PKGS
	has ci && echo $CI_PKGS
	return 0
}

# The arm64 packages that live in $ARM64_SYSROOT: fetched once, unpacked there.
arm64_sysroot() {
	# .complete names the packages unpacked: a list that grew unpacks again.
	[ "$(cat "$ARM64_SYSROOT/.complete" 2>/dev/null)" = "$(echo $ARM64_SYSROOT_PKGS)" ] && return 0
	echo "deps: unpacking arm64 libraries into $ARM64_SYSROOT: $ARM64_SYSROOT_PKGS"
	mkdir -p "$ARM64_SYSROOT/debs"
	(cd "$ARM64_SYSROOT/debs" && apt-get download $ARM64_SYSROOT_PKGS) || {
		apt-get update -q && (cd "$ARM64_SYSROOT/debs" && apt-get download $ARM64_SYSROOT_PKGS)
	}
	for d in "$ARM64_SYSROOT"/debs/*.deb; do dpkg-deb -x "$d" "$ARM64_SYSROOT"; done
	echo $ARM64_SYSROOT_PKGS > "$ARM64_SYSROOT/.complete"
}

# arm64 programs (the cross-built unit tests) run through qemu-user: register Debian's
# binfmt entry for it when the kernel does not have it yet (needs root; not persistent).
arm64_binfmt() {
	[ "$(dpkg --print-architecture)" = arm64 ] && return 0
	[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && return 0
	conf=/usr/lib/binfmt.d/qemu-aarch64.conf
	[ -r "$conf" ] || { echo "deps: $conf is missing; arm64 tests cannot run" >&2; return 0; }
	[ "$(id -u)" = 0 ] || { echo "deps: not root; cannot register qemu-aarch64 with binfmt_misc" >&2; return 0; }
	[ -e /proc/sys/fs/binfmt_misc/register ] ||
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
	# The entry is the kernel's, not the mount's: a fresh /proc may show one made earlier.
	[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && return 0
	if grep -v '^#' "$conf" > /proc/sys/fs/binfmt_misc/register 2>/dev/null; then
		echo "deps: registered qemu-aarch64 with binfmt_misc"
	else
		echo "deps: could not register qemu-aarch64 with binfmt_misc; arm64 unit tests will be skipped" >&2
	fi
}

missing() {
	for p in $(all_pkgs); do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in *" installed") ;; *) printf '%s ' "$p" ;; esac
	done
}

mode=${1:-ensure}
case "$mode" in
list) echo $BUILD_PKGS $TEST_PKGS $ARM64_PKGS $ARM64_SYSROOT_PKGS $CI_PKGS $FUZZ_PKGS | tr ' ' '\n'; exit 0 ;;
ensure|install) ;;
*) echo "usage: $0 ensure|install|list [arm64] [fuzz] [ci]" >&2; exit 2 ;;
esac

if has arm64 && [ "$(dpkg --print-architecture)" != arm64 ] &&
	! dpkg --print-foreign-architectures | grep -qx arm64; then
	[ "$(id -u)" = 0 ] || { echo "deps: not root; run: sudo dpkg --add-architecture arm64" >&2; exit 1; }
	echo "deps: adding the arm64 architecture (multiarch)"
	dpkg --add-architecture arm64
	apt-get update -q
fi
need=$(missing)
if [ -z "$need" ]; then
	[ "$mode" = install ] && echo "deps: all $(all_pkgs | wc -w) packages already installed"
	has arm64 && arm64_sysroot && arm64_binfmt
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages: $need" >&2
	echo "deps: not root; run: sudo apt-get install -y --no-install-recommends $need" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# An index that was never fetched, or not for days, may name versions the archive has
# dropped (or lack a source added since): fetch it first then.
# index_missing: the first source apt is configured for whose release file it has never
# fetched (`update --print-uris` names each one and the file it would become).
index_missing() {
	apt-get update --print-uris 2>/dev/null | awk '$2 ~ /_InRelease$/ { print $2 }' | while read -r f; do
		[ -e "/var/lib/apt/lists/$f" ] || { echo "$f"; break; }
	done
}
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -n 1)" ] ||
	[ -n "$(index_missing)" ]; then
	echo "deps: updating apt's package index (apt-get update)"
	apt-get update -q
fi
# Say how much is coming before it comes: apt-get prints each package as it downloads.
mib=$(apt-get install -qq -y --no-install-recommends --print-uris $need 2>/dev/null |
	awk '{ s += $3 } END { printf "%d", (s + 524288) / 1048576 }')
echo "deps: installing $(echo $need | wc -w) missing packages and what they need (${mib:-?} MiB to download): $need"
if ! apt-get install -y -q --no-install-recommends $need; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends $need
fi
has arm64 && arm64_sysroot && arm64_binfmt
exit 0
