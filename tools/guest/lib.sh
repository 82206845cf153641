# Shared helpers for tools/guest/build.sh and tools/lab/ (sourced by bash scripts).
# Everything lands in $KILN_CACHE (default ~/.cache/kiln), keyed by content.

# depmod, modprobe, mkfs.ext4 live in /usr/sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
KILN_CACHE=${KILN_CACHE:-${HOME:-/root}/.cache/kiln}
# Not under /tmp by default: the lab's --no-overlay mode puts a fresh tmpfs on /tmp, and
# /tmp is often cleaned.
klog() { [ -n "${KILN_QUIET:-}" ] || echo "kiln: $*" >&2; }
kdie() { echo "kiln: error: $*" >&2; exit 1; }

# sha256 of stdin, 16 hex digits.
khash() { sha256sum | cut -c1-16; }

# klock NAME: serialise builds of one cache area across concurrent runs (fd 9).
klock() {
	mkdir -p "$KILN_CACHE"
	exec 9>"$KILN_CACHE/.$1.lock"
	flock -w 900 9 || kdie "timed out waiting for $KILN_CACHE/.$1.lock"
}
kunlock() { exec 9>&-; }

# kprune DIR KEEP: removes all but the KEEP most recently built entries of DIR (images
# built from older inputs), with their leftover .tmp directories. Call under klock.
kprune() {
	ls -1dt "$1"/*/ 2>/dev/null | tail -n +"$(($2 + 1))" | while read -r d; do
		rm -rf "${d%/}" "${d%/}.tmp"
	done
}

# apt_unpack PKG=VERSION WORKDIR DEST: downloads the package into WORKDIR/dl (apt-get
# download: no root needed, nothing installed) and unpacks it into DEST.
apt_unpack() {
	local aptopt=()
	[ "$(id -u)" = 0 ] && aptopt=(-o APT::Sandbox::User=root)
	local size pid n=0
	mkdir -p "$2/dl"
	size=$(apt-cache show "$1" 2>/dev/null | sed -n 's/^Size: //p' | head -n 1)
	klog "downloading $1${size:+ ($(((size + 524287) / 1048576)) MiB)}"
	(cd "$2/dl" && exec timeout 600 apt-get download -q "${aptopt[@]}" "$1" >&2) &
	pid=$!
	# On a slow link, say how far it has come every 10 s.
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		n=$((n + 1))
		[ $((n % 10)) = 0 ] && kill -0 "$pid" 2>/dev/null &&
			klog "  $1: $(du -sm "$2/dl" | cut -f1)${size:+ of $(((size + 524287) / 1048576))} MiB after $n s"
	done
	wait "$pid" || kdie "apt-get download $1 failed"
	dpkg-deb -x "$2"/dl/*.deb "$3" || kdie "dpkg-deb -x $(ls "$2/dl") failed"
	rm -rf "$2/dl"
}

# kcache DIR LOCK KEEP BUILD: makes sure DIR is a complete cache entry. The first caller
# to find no DIR/ok takes the lock LOCK (others wait, then find it done), runs BUILD with
# DIR.tmp (empty) as its argument, renames DIR.tmp to DIR and marks it ok; a build that
# dies leaves only DIR.tmp, redone next time. With KEEP > 0, the KEEP newest entries
# beside DIR stay and older ones go.
kcache() {
	local dir=$1 lock=$2 keep=$3 build=$4
	[ -r "$dir/ok" ] && return 0
	klock "$lock"
	if [ ! -r "$dir/ok" ]; then
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		"$build" "$dir.tmp"
		rm -rf "$dir"
		mv "$dir.tmp" "$dir"
		touch "$dir/ok"
		[ "$keep" -gt 0 ] && kprune "$(dirname "$dir")" "$keep"
	fi
	kunlock
}

# apt_candidate PKG: the version apt would download, empty if unknown.
apt_candidate() {
	apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}

# kernel_resolve [FLAVOUR]: sets KPKG (e.g. linux-image-6.1.0-56-amd64) and KPKGVER,
# from $KILN_KERNEL_PKG or the linux-image-FLAVOUR metapackage (FLAVOUR default amd64).
# Offline, falls back to the newest kernel already in the cache.
kernel_resolve() {
	local flavour=${1:-amd64}
	KPKG=${KILN_KERNEL_PKG:-}
	if [ -z "$KPKG" ]; then
		KPKG=$(apt-cache depends "linux-image-$flavour" 2>/dev/null |
			sed -n "s/^ *Depends: \(linux-image-[0-9].*-$flavour\)\$/\1/p" | head -n 1)
	fi
	KPKGVER=
	[ -n "$KPKG" ] && KPKGVER=$(apt_candidate "$KPKG")
	if [ -z "$KPKGVER" ]; then
		local d
		d=$(ls -d "$KILN_CACHE"/kernel/linux-image-*-"$flavour"_*/ 2>/dev/null | sort -V | tail -n 1)
		if [ -n "$d" ] && [ -r "$d/ok" ]; then
			d=${d%/}; d=${d##*/}
			KPKG=${d%%_*}; KPKGVER=${d#*_}
			klog "apt knows no linux-image-$flavour; using cached $KPKG $KPKGVER"
		else
			kdie "cannot resolve a linux-image-$flavour package (try: apt-get update)"
		fi
	fi
}

# kernel_fetch: after kernel_resolve, makes sure $KILN_CACHE/kernel/${KPKG}_${KPKGVER}
# holds the unpacked package (boot/, lib/modules/ with modules.dep), vmlinuz and an
# extracted vmlinux. Sets KDIR (that directory), KVER (uname -r), KROOT (the unpacked
# tree, for modprobe -d), KMODDIR (lib/modules/KVER).
kernel_fetch() {
	KDIR=$KILN_CACHE/kernel/${KPKG}_${KPKGVER}
	KROOT=$KDIR/root
	kcache "$KDIR" kernel 0 kernel_build
	KVER=$(cat "$KDIR/kver")
	KMODDIR=$KROOT/lib/modules/$KVER
}

# kernel_build DIR: the kernel package $KPKG=$KPKGVER unpacked into DIR (for kcache).
kernel_build() {
	local t=$1 kv here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	apt_unpack "$KPKG=$KPKGVER" "$t" "$t/root"
	kv=$(ls "$t/root/lib/modules" | head -n 1)
	[ -n "$kv" ] || kdie "no lib/modules in $KPKG"
	depmod -b "$t/root" "$kv" || kdie "depmod failed"
	cp "$t/root/boot/vmlinuz-$kv" "$t/vmlinuz"
	cp "$t/root/boot/config-$kv" "$t/config"
	klog "extracting vmlinux from the bzImage"
	"$here/extract-vmlinux.sh" "$t/vmlinuz" "$t/vmlinux" || kdie "vmlinux extraction failed"
	pvh_entry "$t/vmlinux" >"$t/pvh-entry"
	echo "$kv" >"$t/kver"
}

# pvh_entry VMLINUX: prints the XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen") address
# as 0x..., or nothing when the ELF has no such note.
pvh_entry() {
	readelf -n "$1" 2>/dev/null | awk '
		/^ *Xen / && /\(0x00000012\)/ { want = 1; next }
		want && /description data:/ {
			sub(/.*description data: */, "")
			n = split($0, b, " "); s = ""
			for (i = n; i >= 1; i--) s = s b[i]
			sub(/^0+/, "", s); print "0x" (s == "" ? "0" : s); exit
		}
		{ want = 0 }'
}

# modules_resolve NAME...: prints, in load order and without duplicates, the module
# files (paths relative to KMODDIR) needed for NAMEs. Built-in modules print nothing.
modules_resolve() {
	local m
	for m in "$@"; do
		modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" 2>/dev/null |
			sed -n 's/^insmod \([^ ]*\).*/\1/p' || true
		if ! modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" >/dev/null 2>&1; then
			echo "kiln: warning: module $m not found in $KVER" >&2
		fi
	done | awk '!seen[$0]++' | sed "s|^$KMODDIR/||"
}

# modules_install DEST NAME...: copies NAMEs and their dependencies into DEST/lib/modules/
# kiln/ (flat, decompressed), writes DEST/lib/modules/kiln/order (all, in load order) and
# DEST/lib/modules/kiln/deps/NAME (NAME's dependencies then NAME, in order).
modules_install() {
	local dest=$1; shift
	local md=$dest/lib/modules/kiln m rel base
	mkdir -p "$md/deps"
	: >"$md/order"
	for m in "$@"; do
		local key
		key=$(echo "$m" | tr - _)
		: >"$md/deps/$key"
		for rel in $(modules_resolve "$m"); do
			base=${rel##*/}
			base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
			if [ ! -e "$md/$base" ]; then
				case "$rel" in
				*.xz) xz -dc "$KMODDIR/$rel" >"$md/$base" ;;
				*.zst) zstd -qdc "$KMODDIR/$rel" >"$md/$base" ;;
				*.gz) gzip -dc "$KMODDIR/$rel" >"$md/$base" ;;
				*) cp "$KMODDIR/$rel" "$md/$base" ;;
				esac
			fi
			echo "/lib/modules/kiln/$base" >>"$md/deps/$key"
			grep -qxF "/lib/modules/kiln/$base" "$md/order" ||
				echo "/lib/modules/kiln/$base" >>"$md/order"
		done
	done
}

# busybox_path: the busybox-static binary (installed package preferred) and its version
# in BUSYBOX / BUSYBOX_VER. Downloads the package into the cache when not installed.
busybox_resolve() {
	local st
	st=$(dpkg-query -W -f='${Status} ${Version}' busybox-static 2>/dev/null || true)
	case "$st" in
	"install ok installed "*)
		BUSYBOX=/bin/busybox
		BUSYBOX_VER=${st##* } ;;
	*)
		BUSYBOX_VER=$(apt_candidate busybox-static)
		[ -n "$BUSYBOX_VER" ] || kdie "busybox-static: not installed and unknown to apt"
		local d=$KILN_CACHE/busybox/$BUSYBOX_VER
		kcache "$d" busybox 0 busybox_build
		BUSYBOX=$d/bin/busybox ;;
	esac
	file_is_static "$BUSYBOX" || kdie "$BUSYBOX is not static (install busybox-static)"
}

# busybox_build DIR: busybox-static=$BUSYBOX_VER unpacked into DIR (for kcache).
busybox_build() {
	apt_unpack "busybox-static=$BUSYBOX_VER" "$1" "$1"
}

file_is_static() {
	! readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

# busybox_tree DIR: a minimal root: busybox with every applet linked, standard dirs.
busybox_tree() {
	local d=$1 a
	mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,lib/modules,mnt,var/tmp}
	chmod 1777 "$d/tmp" "$d/var/tmp"
	chmod 0700 "$d/root"
	cp "$BUSYBOX" "$d/bin/busybox"
	for a in $("$d/bin/busybox" --list-full); do
		[ -e "$d/$a" ] || ln -s /bin/busybox "$d/$a"
	done
	[ -e "$d/bin/sh" ] || ln -s busybox "$d/bin/sh"
	# Device nodes the kernel needs before /init mounts devtmpfs (root only).
	mknod -m 600 "$d/dev/console" c 5 1 2>/dev/null || true
	mknod -m 666 "$d/dev/null" c 1 3 2>/dev/null || true
	echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
	echo 'root:x:0:' >"$d/etc/group"
	printf 'export PS1="\\u@\\h:\\w\\$ "\n' >"$d/etc/profile"
}

# pack_cpio DIR OUT: newc cpio, gzip, reproducible (sorted names, root-owned).
pack_cpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -6 >"$2.tmp" &&
		mv -f "$2.tmp" "$2"
}
