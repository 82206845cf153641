#!/bin/bash
# Builds (once, cached) what the arm64 lab needs, from Debian's arm64 packages, and prints
# shell assignments for it:
#   A64_KERNEL           Debian's arm64 vmlinuz (what QEMU boots)
#   A64_IMAGE            the same kernel as an uncompressed Image (what kiln boots; the
#                        signed package's vmlinuz already is one, others are gunzipped)
#   A64_LAB_INITRAMFS    the lab's initramfs (busybox, 9p and virtio modules, tools/lab/arm64/init)
#   A64_GUEST_INITRAMFS  kiln's test guest initramfs (busybox, virtio-mmio/blk/ext4 modules,
#                        tools/lab/arm64/guest-init)
#   A64_GUEST_ROOTFS     an ext4 image for a virtio-blk root (busybox, tools/lab/arm64/rootfs-init)
# Cache: ${KILN_CACHE:-$HOME/.cache/kiln}/arm64. Needs: dpkg --add-architecture arm64,
# cpio, e2fsprogs, kmod (depmod), gzip. Downloads with apt-get download (no root needed
# once the index has the arm64 packages).
#   tools/lab/arm64/image.sh [--quiet]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
quiet=0
[ "${1:-}" = --quiet ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "arm64-image: $*" >&2; }
die() { echo "arm64-image: $*" >&2; exit 1; }

cache=${KILN_CACHE:-$HOME/.cache/kiln}/arm64
mkdir -p "$cache/debs"
exec 9>"$cache/.lock"
flock -w 600 9 || die "cannot lock $cache"

# The packages: the newest 6.1 arm64 kernel the index knows, and busybox-static.
fetch() { # fetch PACKAGE: the .deb's path in $cache/debs
	local f
	f=$(ls "$cache/debs/${1}_"*_arm64.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$f" ]; then
		say "downloading $1:arm64"
		(cd "$cache/debs" && timeout 300 apt-get download "$1:arm64" >/dev/null 2>&1) ||
			die "apt-get download $1:arm64 failed (dpkg --add-architecture arm64 && apt-get update?)"
		f=$(ls "$cache/debs/${1}_"*_arm64.deb | head -n 1)
	fi
	echo "$f"
}
kpkg=${KILN_ARM64_KERNEL_PKG:-}
if [ -z "$kpkg" ]; then
	kpkg=$(ls "$cache/debs" | sed -n 's/^\(linux-image-6\.1\.0-[0-9]*-arm64\)_.*/\1/p' | sort -V | tail -n 1)
	[ -n "$kpkg" ] || kpkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-arm64$' |
		cut -d' ' -f1 | sort -V | tail -n 1)
fi
[ -n "$kpkg" ] || die "no linux-image-6.1.0-*-arm64 package in the apt index"
kdeb=$(fetch "$kpkg")
bdeb=$(fetch busybox-static)
kver=${kpkg#linux-image-}
kdir=$cache/$kver
if [ ! -e "$kdir/.complete" ]; then
	say "unpacking $kdeb"
	rm -rf "$kdir" && mkdir -p "$kdir"
	dpkg-deb -x "$kdeb" "$kdir/root"
	depmod -b "$kdir/root" "$kver"
	cp "$kdir/root/boot/vmlinuz-$kver" "$kdir/vmlinuz"
	# The signed package's vmlinuz is a plain (EFI-signed) Image; others are gzip'ed.
	if [ "$(head -c 2 "$kdir/vmlinuz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
		gzip -dc "$kdir/vmlinuz" >"$kdir/Image"
	else
		cp "$kdir/vmlinuz" "$kdir/Image"
	fi
	touch "$kdir/.complete"
fi
bb=$cache/busybox
if [ ! -x "$bb" ]; then
	t=$(mktemp -d) && dpkg-deb -x "$bdeb" "$t" && cp "$t/bin/busybox" "$bb.tmp" && mv "$bb.tmp" "$bb"
	rm -rf "$t"
fi

mods=$kdir/root/lib/modules/$kver
# modules_closure NAME...: module paths, dependencies first, each once.
modules_closure() {
	local m path dep
	for m in "$@"; do
		path=$(find "$mods/kernel" -name "$m.ko" | head -n 1)
		[ -n "$path" ] || { [ -n "$(grep -x ".*/$m.ko" "$mods/modules.builtin")" ] && continue; die "module $m not found"; }
		path=${path#$mods/}
		for dep in $(sed -n "s|^$path: *||p" "$mods/modules.dep"); do
			modules_closure "$(basename "$dep" .ko)"
		done
		echo "$path"
	done
}

# initramfs OUT INIT MODULE...: busybox, the modules (loaded in order by /init) and INIT.
initramfs() {
	local out=$1 init=$2 t m
	shift 2
	t=$(mktemp -d)
	mkdir -p "$t"/{bin,sbin,dev,proc,sys,tmp,mnt,newroot,lib/modules/kiln}
	cp "$bb" "$t/bin/busybox"
	for a in sh mount insmod; do ln -s busybox "$t/bin/$a"; done
	modules_closure "$@" | awk '!seen[$0]++' >"$t/order.tmp"
	while read -r m; do
		cp "$mods/$m" "$t/lib/modules/kiln/"
		echo "/lib/modules/kiln/$(basename "$m")" >>"$t/lib/modules/kiln/order"
	done <"$t/order.tmp"
	rm "$t/order.tmp"
	cp "$init" "$t/init" && chmod 755 "$t/init"
	(cd "$t" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$t"
}

key=$(cat "$0" "$here/init" "$here/guest-init" "$here/rootfs-init" | sha256sum | cut -c1-16)
out=$cache/$kver-$key
if [ ! -e "$out/.complete" ]; then
	say "building the lab and guest images in $out"
	rm -rf "$out" && mkdir -p "$out"
	initramfs "$out/lab.cpio.gz" "$here/init" virtio_mmio virtio_console 9p 9pnet_virtio tun
	initramfs "$out/guest.cpio.gz" "$here/guest-init" virtio_mmio virtio_blk ext4 crc32c_generic virtio-rng
	# The virtio-blk root: busybox and an /init of its own, as an ext4 image.
	t=$(mktemp -d)
	mkdir -p "$t"/{bin,dev,proc,sys,tmp,etc}
	cp "$bb" "$t/bin/busybox" && ln -s busybox "$t/bin/sh"
	cp "$here/rootfs-init" "$t/init" && chmod 755 "$t/init"
	echo "kiln arm64 test root filesystem" >"$t/etc/kiln-rootfs"
	mke2fs -q -t ext4 -F -L kilnroot -d "$t" "$out/rootfs.ext4" 32M >/dev/null
	rm -rf "$t"
	touch "$out/.complete"
fi
cat <<VARS
A64_KERNEL=$kdir/vmlinuz
A64_IMAGE=$kdir/Image
A64_LAB_INITRAMFS=$out/lab.cpio.gz
A64_GUEST_INITRAMFS=$out/guest.cpio.gz
A64_GUEST_ROOTFS=$out/rootfs.ext4
VARS
