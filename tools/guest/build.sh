#!/bin/bash
# Builds kiln's guest images from Debian packages, cached by content.
#   tools/guest/build.sh [--arch x86_64] [--env FILE] [--quiet]
# Prints shell-sourceable KEY=VALUE lines (also written to FILE with --env, and always to
# $KILN_CACHE/guest/<key>/guest.env). See tools/guest/README.md.
#
# Environment: KILN_CACHE (default ~/.cache/kiln), KILN_KERNEL_PKG (a concrete
# linux-image-* package; default: what linux-image-$KILN_KERNEL_FLAVOUR depends on),
# KILN_KERNEL_FLAVOUR (amd64 or cloud-amd64; default amd64), KILN_GUEST_MODULES
# (module names to bundle, space-separated).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

arch=x86_64 envfile=
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=${2:?}; shift 2 ;;
	--arch=*) arch=${1#--arch=}; shift ;;
	--env) envfile=${2:?}; shift 2 ;;
	--env=*) envfile=${1#--env=}; shift ;;
	--quiet | -q) export KILN_QUIET=1; shift ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) kdie "unknown argument: $1 (see --help)" ;;
	esac
done
case "$arch" in
x86_64 | amd64) arch=x86_64 ;;
*) kdie "--arch $arch: only x86_64 is supported so far" ;;
esac

MODULES=${KILN_GUEST_MODULES:-virtio virtio_ring virtio_mmio virtio_blk virtio_net
vmw_vsock_virtio_transport virtio_rng virtio_console ext4}

t0=${EPOCHREALTIME/./}
kernel_resolve "${KILN_KERNEL_FLAVOUR:-amd64}"
kernel_fetch
busybox_resolve

# The image key: every input that changes the result.
key=$(
	{
		echo "arch=$arch kernel=$KPKG=$KPKGVER busybox=$BUSYBOX_VER modules=$(echo $MODULES)"
		cat "$here/init" "$here/build.sh" "$here/lib.sh"
	} | khash
)
out=$KILN_CACHE/guest/$key

# guest_build DIR: the guest initramfs and ext4 root filesystem in DIR (for kcache).
guest_build() {
	local t=$1 tree=$1/tree size_kb size_mb
	klog "building guest images $key ($KPKG $KPKGVER, busybox $BUSYBOX_VER)"
	busybox_tree "$tree"
	# shellcheck disable=SC2086
	modules_install "$tree" $MODULES
	install -m 0755 "$here/init" "$tree/init"
	ln -sf /init "$tree/sbin/init"
	echo "$KVER" >"$tree/etc/kiln-kernel"
	# The ext4 image: same tree, without the stage-one marker.
	size_kb=$(du -sk "$tree" | cut -f1)
	size_mb=$(((size_kb / 1024) * 2 + 32))
	truncate -s "${size_mb}M" "$t/rootfs.ext4"
	mkfs.ext4 -q -F -L kiln-root -E root_owner=0:0 -d "$tree" "$t/rootfs.ext4" ||
		kdie "mkfs.ext4 -d failed"
	# The initramfs: the marker file tells /init it may switch_root to root=.
	touch "$tree/kiln-initramfs"
	pack_cpio "$tree" "$t/initramfs.cpio.gz"
	rm -f "$tree/kiln-initramfs"
	ln -s "$KDIR/vmlinuz" "$t/vmlinuz"
	ln -s "$KDIR/vmlinux" "$t/vmlinux"
}
kcache "$out" guest 5 guest_build

pvh=$(cat "$KDIR/pvh-entry")
{
	echo "# kiln guest images ($(date -u +%Y-%m-%dT%H:%M:%SZ)); source this file"
	echo "KILN_GUEST_ARCH=$arch"
	echo "KILN_GUEST_KEY=$key"
	echo "KILN_GUEST_DIR=$out"
	echo "KILN_GUEST_KERNEL_PKG=$KPKG"
	echo "KILN_GUEST_KERNEL_PKG_VERSION=$KPKGVER"
	echo "KILN_GUEST_KERNEL_RELEASE=$KVER"
	echo "KILN_GUEST_VMLINUZ=$KDIR/vmlinuz"
	echo "KILN_GUEST_VMLINUX=$KDIR/vmlinux"
	echo "KILN_GUEST_VMLINUX_PVH=$([ -n "$pvh" ] && echo yes || echo no)"
	echo "KILN_GUEST_VMLINUX_PVH_ENTRY=${pvh:-none}"
	echo "KILN_GUEST_KERNEL_CONFIG=$KDIR/config"
	echo "KILN_GUEST_MODULES_DIR=$KMODDIR"
	echo "KILN_GUEST_INITRAMFS=$out/initramfs.cpio.gz"
	echo "KILN_GUEST_ROOTFS=$out/rootfs.ext4"
	echo "KILN_GUEST_BUSYBOX_VERSION=$BUSYBOX_VER"
	echo "KILN_GUEST_CMDLINE='console=ttyS0 reboot=k panic=-1 pci=off quiet'"
} >"$out/guest.env.tmp"
mv -f "$out/guest.env.tmp" "$out/guest.env"
[ -n "$envfile" ] && cp "$out/guest.env" "$envfile"
cat "$out/guest.env"
klog "guest images ready in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms: $out"
