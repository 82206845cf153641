#!/bin/bash
# Builds kiln's run image (what kiln-run boots), cached by content.
#   tools/guest/run-image.sh --agent PATH [--env FILE] [--quiet]
# Prints shell-sourceable KILN_RUN_* lines (also written to FILE with --env). The kernel
# and modules are the guest images' (tools/guest/build.sh); on top of them:
#   run-rootfs.ext4        the base root file system, attached read-only and shared by
#                          every run: busybox, Python 3 (Debian's python3.11-minimal and
#                          the libraries it needs) and kiln-agent as /sbin/kiln-agent;
#   run-initramfs.cpio.gz  busybox, the modules and run-init (stage one: the base read-only
#                          under a writable overlay, then kiln-agent as PID 1);
#   image/                 what kiln-run --image takes: vmlinux, initramfs.cpio.gz,
#                          rootfs.ext4 and cmdline.
# See tools/guest/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

agent= envfile=
while [ $# -gt 0 ]; do
	case "$1" in
	--agent) agent=${2:?}; shift 2 ;;
	--env) envfile=${2:?}; shift 2 ;;
	--quiet | -q) export KILN_QUIET=1; shift ;;
	-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) kdie "unknown argument: $1 (see --help)" ;;
	esac
done
[ -n "$agent" ] || kdie "--agent PATH is required (build/kiln-agent: make)"
[ -x "$agent" ] || kdie "$agent: not an executable (make builds build/kiln-agent)"
file_is_static "$agent" || kdie "$agent is not static (a sanitizer build?)"

RUN_MODULES="virtio virtio_ring virtio_mmio virtio_blk virtio_net vmw_vsock_virtio_transport
virtio_rng ext4 overlay"
# Python 3 with its standard library, and the libraries its modules load, from Debian
# (the Depends of python3.11-minimal and libpython3.11-stdlib that scripts use).
PY_PKGS="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libexpat1 zlib1g libssl3
libc6 libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libuuid1 libcrypt1 libncursesw6
libtinfo6 libreadline8 libgcc-s1"

t0=${EPOCHREALTIME/./}
kernel_resolve "${KILN_KERNEL_FLAVOUR:-amd64}"
kernel_fetch
busybox_resolve
pkgs=()
for p in $PY_PKGS; do
	v=$(apt_candidate "$p")
	[ -n "$v" ] || kdie "$p: unknown to apt (apt-get update?)"
	pkgs+=("$p=$v")
done

key=$(
	{
		echo "kernel=$KPKG=$KPKGVER busybox=$BUSYBOX_VER modules=$(echo $RUN_MODULES) pkgs=${pkgs[*]}"
		sha256sum <"$agent"
		cat "$here/run-init" "$here/run-image.sh" "$here/lib.sh"
	} | khash
)
out=$KILN_CACHE/run/$key

# run_build DIR: the run image's base and initramfs in DIR (for kcache).
run_build() {
	local t=$1 base=$1/base init=$1/init p size_kb
	klog "building the run image $key ($KPKG $KPKGVER, ${pkgs[*]})"
	busybox_tree "$base"
	for p in "${pkgs[@]}"; do
		apt_unpack "$p" "$t/work" "$base"
	done
	rm -rf "$base/usr/share/doc" "$base/usr/share/man" "$base/usr/share/lintian" "$t/work"
	ln -sf python3.11 "$base/usr/bin/python3"
	# The interpreter must start in the tree as it will in the guest (checked where we may
	# chroot, i.e. as root).
	if [ "$(id -u)" = 0 ]; then
		chroot "$base" /usr/bin/python3 -c 'import json, os, re, subprocess, sys, hashlib, sqlite3, decimal, lzma, bz2, ctypes, uuid, zlib, ssl, csv, datetime' ||
			kdie "python3 does not start in the run image's tree"
	fi
	install -m 0755 "$agent" "$base/sbin/kiln-agent"
	echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >>"$base/etc/passwd"
	echo 'nogroup:x:65534:' >>"$base/etc/group"
	echo "$KVER" >"$base/etc/kiln-kernel"
	size_kb=$(du -sk "$base" | cut -f1)
	truncate -s "$(((size_kb / 1024) * 3 / 2 + 16))M" "$t/run-rootfs.ext4"
	mkfs.ext4 -q -F -L kiln-run-base -E root_owner=0:0 -d "$base" "$t/run-rootfs.ext4" ||
		kdie "mkfs.ext4 -d failed"
	busybox_tree "$init"
	# shellcheck disable=SC2086
	modules_install "$init" $RUN_MODULES
	install -m 0755 "$here/run-init" "$init/init"
	pack_cpio "$init" "$t/run-initramfs.cpio.gz"
	rm -rf "$base" "$init"
}
kcache "$out" run 3 run_build

# The image as kiln-run takes it (--image DIR): four files under fixed names, linked
# (or copied where a link cannot be made) from the cache.
cmdline='console=ttyS0 reboot=k panic=-1 pci=off quiet'
mkdir -p "$out/image"
for f in "$KDIR/vmlinux:vmlinux" "$out/run-initramfs.cpio.gz:initramfs.cpio.gz" \
	"$out/run-rootfs.ext4:rootfs.ext4"; do
	ln -f "${f%%:*}" "$out/image/${f##*:}" 2>/dev/null || cp -f "${f%%:*}" "$out/image/${f##*:}"
done
echo "$cmdline" >"$out/image/cmdline"
{
	echo "# kiln run image ($(date -u +%Y-%m-%dT%H:%M:%SZ)); source this file"
	echo "KILN_RUN_KEY=$key"
	echo "KILN_RUN_KERNEL=$KDIR/vmlinux"
	echo "KILN_RUN_INITRAMFS=$out/run-initramfs.cpio.gz"
	echo "KILN_RUN_ROOTFS=$out/run-rootfs.ext4"
	echo "KILN_RUN_CMDLINE='$cmdline'"
	echo "KILN_RUN_IMAGE=$out/image"
} >"$out/run.env.tmp"
mv -f "$out/run.env.tmp" "$out/run.env"
[ -n "$envfile" ] && cp "$out/run.env" "$envfile"
cat "$out/run.env"
klog "run image ready in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms: $out"
