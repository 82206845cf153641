#!/bin/bash
# Builds (or finds in the cache) the lab VM's kernel and initramfs.
#   tools/lab/image.sh [--quiet]
# Prints LAB_KERNEL=... LAB_INITRAMFS=... LAB_KERNEL_RELEASE=... (shell-sourceable).
# The kernel is Debian's linux-image-*-amd64 (it must have kvm_amd; override with
# KILN_LAB_KERNEL_PKG); the initramfs is busybox-static, tools/lab/init and the modules
# for KVM, virtio-pci, 9p, virtio serial, TAP devices (tun) and vhost-vsock (the vsock
# benchmark's QEMU side), and kvm-pin (kvm-pin.c says why). Cached
# under $KILN_CACHE/lab/<key>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../guest/lib.sh"
[ "${1:-}" = --quiet ] && export KILN_QUIET=1

LAB_MODULES="irqbypass ccp kvm kvm_amd virtio_pci virtio_console 9pnet_virtio 9p overlay tun vhost_vsock veth"

KILN_KERNEL_PKG=${KILN_LAB_KERNEL_PKG:-} kernel_resolve amd64
kernel_fetch
busybox_resolve
key=$(
	{
		echo "lab kernel=$KPKG=$KPKGVER busybox=$BUSYBOX_VER modules=$LAB_MODULES"
		cat "$here/init" "$here/kvm-pin.c" "$here/image.sh" "$here/../guest/lib.sh"
	} | khash
)
out=$KILN_CACHE/lab/$key
# lab_build DIR: the lab initramfs in DIR (for kcache).
lab_build() {
	klog "building the lab initramfs $key ($KPKG $KPKGVER)"
	busybox_tree "$1/tree"
	# shellcheck disable=SC2086
	modules_install "$1/tree" $LAB_MODULES
	install -m 0755 "$here/init" "$1/tree/init"
	cc -static -O2 -Wall -Wextra -Werror -o "$1/tree/bin/kvm-pin" "$here/kvm-pin.c"
	pack_cpio "$1/tree" "$1/initramfs.cpio.gz"
	rm -rf "$1/tree"
}
kcache "$out" lab 5 lab_build
echo "LAB_KERNEL=$KDIR/vmlinuz"
echo "LAB_INITRAMFS=$out/initramfs.cpio.gz"
echo "LAB_KERNEL_RELEASE=$KVER"
