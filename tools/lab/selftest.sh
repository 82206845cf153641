#!/bin/bash
# Proves the guest images and the lab work, timing each step.
#   tools/lab/selftest.sh [--quick]     (--quick: skip the nested QEMU microvm boots)
# Steps (each bounded by a timeout):
#   1. tools/lab/detect answers
#   2. tools/guest/build.sh builds (or finds) the guest images; vmlinux is a valid ELF
#   3. the lab returns a command's stdout, stderr and exit status exactly (status 42)
#   4. inside the lab: /dev/kvm, kvm_amd, cgroup2 with controllers, scratch round trip,
#      cwd and the project tree; at the same time, a second lab times out (exit 124)
#   5. inside the lab, QEMU -M microvm on the lab's KVM boots the guest bzImage and the
#      extracted vmlinux with the busybox initramfs to /init, runs a command (exit 7);
#      then the vmlinux with rootfs.ext4 as root=/dev/vda, in greeting mode
# Prints "selftest: N passed, N failed" last; exit 0 only if nothing failed.
set -uo pipefail
PATH=$PATH:/usr/sbin:/sbin
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quick=0
[ "${1:-}" = --quick ] && quick=1
lab=$here/run
passed=0 failed=0
T0=$EPOCHREALTIME
ms() { echo $(((${EPOCHREALTIME/./} - ${1/./}) / 1000)); }
ok() { passed=$((passed + 1)); echo "  ok    $*"; }
ko() { failed=$((failed + 1)); echo "  FAIL  $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else ko "$what"; fi; }
step() { echo "== $*"; S=$EPOCHREALTIME; }
took() { echo "   ($1: $(ms "$S") ms)"; }

work=$(mktemp -d "${KILN_CACHE:-$HOME/.cache/kiln}/selftest.XXXXXX" 2>/dev/null ||
	{ mkdir -p "${KILN_CACHE:-$HOME/.cache/kiln}" && mktemp -d "${KILN_CACHE:-$HOME/.cache/kiln}/selftest.XXXXXX"; })
trap 'rm -rf "$work"' EXIT
# The labs' run directories go here, so leftovers can be checked without seeing other
# users' labs.
export KILN_LAB_TMP=$work/labtmp
mkdir -p "$KILN_LAB_TMP"

step "1. detect"
where=$(timeout 10 "$here/detect" -v 2>"$work/detect.err")
check "detect prints direct or lab (here: $where; $(cat "$work/detect.err"))" \
	test "$where" = direct -o "$where" = lab
took detect

step "2. guest images"
if timeout 900 "$root/tools/guest/build.sh" --env "$work/guest.env" >/dev/null 2>"$work/build.err"; then
	ok "tools/guest/build.sh"
	. "$work/guest.env"
	check "vmlinux is an x86-64 ELF executable" \
		sh -c "readelf -h '$KILN_GUEST_VMLINUX' | grep -q 'Machine:.*X86-64'"
	echo "   vmlinux PVH note (XEN_ELFNOTE_PHYS32_ENTRY): $KILN_GUEST_VMLINUX_PVH $KILN_GUEST_VMLINUX_PVH_ENTRY"
	check "initramfs is a gzip newc cpio with /init" \
		sh -c "zcat '$KILN_GUEST_INITRAMFS' | cpio -t --quiet 2>/dev/null | grep -qx init"
	check "rootfs.ext4 has /init and /sbin/init" \
		sh -c "debugfs -R 'stat /init' '$KILN_GUEST_ROOTFS' 2>/dev/null | grep -q 'Type: regular' &&
			debugfs -R 'stat /sbin/init' '$KILN_GUEST_ROOTFS' 2>/dev/null | grep -q 'Type: symlink'"
else
	ko "tools/guest/build.sh"; cat "$work/build.err"
fi
took "guest images"
S2=$EPOCHREALTIME
timeout 60 "$root/tools/guest/build.sh" -q >/dev/null
echo "   (second, cached run: $(ms "$S2") ms)"

step "3. lab: output and exit status"
timeout 300 "$lab" --timeout 240 -- sh -c 'printf "%s|" "$@"; echo; echo "to stderr" >&2; exit 42' \
	sh "a b" "c'd" '$HOME' '' >"$work/out" 2>"$work/err"
rc=$?
check "exit status 42 returned (got $rc)" test "$rc" = 42
check "stdout exact (got: $(head -c 200 "$work/out"))" \
	test "$(cat "$work/out")" = "a b|c'd|\$HOME||"
check "stderr exact (got: $(head -c 200 "$work/err"))" test "$(cat "$work/err")" = "to stderr"
timeout 300 "$lab" --timeout 240 -- true
check "exit status 0 returned" test $? = 0
took "two lab runs"

step "4. lab: kvm, cgroup2, scratch, cwd; a second lab at the same time times out"
cat >"$work/inside.sh" <<'EOF'
set -u
echo "detect=$(tools/lab/detect)"
[ -c /dev/kvm ] && echo kvm=yes
grep -q '^kvm_amd ' /proc/modules && echo kvm_amd=yes
echo "cgroupfs=$(stat -fc %T /sys/fs/cgroup)"
echo "controllers=$(cat /sys/fs/cgroup/cgroup.controllers)"
mkdir /sys/fs/cgroup/selftest && echo 64M >/sys/fs/cgroup/selftest/memory.max &&
	echo "memory.max=$(cat /sys/fs/cgroup/selftest/memory.max)" && rmdir /sys/fs/cgroup/selftest
echo "cwd=$PWD"
[ -r tools/lab/selftest.sh ] && echo tree=yes
echo "host-file=$(cat "$SELFTEST_IN")"
echo "written inside the lab" >"$LAB_SCRATCH/from-lab"
echo "tmp-writable=$(echo x >/tmp/lab-selftest.$$ && echo yes)"
EOF
echo "from the host" >"$work/in"
( timeout 120 "$lab" --timeout 15 -- sleep 600 >"$work/to.out" 2>"$work/to.err"; echo $? >"$work/to.rc" ) &
tpid=$!
(cd "$root" && SELFTEST_IN=$work/in LAB_SCRATCH_KEEP=$work/kept \
	timeout 300 "$lab" --timeout 240 -- sh "$work/inside.sh") >"$work/inside.out" 2>&1
rc=$?
sed 's/^/   | /' "$work/inside.out"
check "lab run exit 0 (got $rc)" test "$rc" = 0
check "detect says direct inside the lab" grep -qx 'detect=direct' "$work/inside.out"
check "/dev/kvm exists inside" grep -qx 'kvm=yes' "$work/inside.out"
check "kvm_amd is loaded inside" grep -qx 'kvm_amd=yes' "$work/inside.out"
check "cgroup2 is mounted at /sys/fs/cgroup" grep -qx 'cgroupfs=cgroup2fs' "$work/inside.out"
check "cgroup2 controllers include cpu memory pids" \
	sh -c "grep '^controllers=' '$work/inside.out' | grep -w cpu | grep -w memory | grep -qw pids"
check "a child cgroup takes memory.max" grep -qx 'memory.max=67108864' "$work/inside.out"
check "cwd is the caller's ($root)" grep -qx "cwd=$root" "$work/inside.out"
check "the project tree is readable" grep -qx 'tree=yes' "$work/inside.out"
check "host file readable inside (environment passed)" grep -qx 'host-file=from the host' "$work/inside.out"
check "/tmp is writable inside" grep -qx 'tmp-writable=yes' "$work/inside.out"
check "scratch file came back" test "$(cat "$work/kept/from-lab" 2>/dev/null)" = "written inside the lab"
wait "$tpid"
check "the concurrent lab timed out with exit 124 (got $(cat "$work/to.rc"))" test "$(cat "$work/to.rc")" = 124
check "and said so" grep -q TIMEOUT "$work/to.err"
check "no lab run directories left behind" \
	sh -c "! ls -A '$KILN_LAB_TMP' | grep -q ."
took "two concurrent labs"

if [ "$quick" = 0 ] && [ -n "${KILN_GUEST_VMLINUZ:-}" ]; then
	step "5. QEMU -M microvm on the lab's KVM boots the guest: bzImage, vmlinux, ext4 root"
	cmd=$(printf 'echo "guest says hi from $(uname -r)"; exit 7' | base64 -w0)
	cmdline="console=ttyS0 reboot=k panic=-1 quiet kiln.run=$cmd"
	cmd2=$(printf 'echo "root: $(awk '"'"'$2 == "/" {r = $1 " " $3} END {print r}'"'"' /proc/mounts)"' | base64 -w0)
	cat >"$work/nested.sh" <<EOF
for k in "$KILN_GUEST_VMLINUZ" "$KILN_GUEST_VMLINUX"; do
	echo "kernel=\${k##*/}"
	"$here/qemu-microvm.sh" --timeout 100 "\$k" "$KILN_GUEST_INITRAMFS" "$cmdline" 2>&1 |
		grep -v "TCG doesn't support"
done
echo "kernel=ext4"
cp --sparse=always "$KILN_GUEST_ROOTFS" /tmp/rootfs.ext4
"$here/qemu-microvm.sh" --timeout 100 "$KILN_GUEST_VMLINUX" "$KILN_GUEST_INITRAMFS" \\
	"console=ttyS0 reboot=k panic=-1 quiet root=/dev/vda kiln.greet=1 kiln.run=$cmd2" -- \\
	-drive id=root,file=/tmp/rootfs.ext4,format=raw,if=none -device virtio-blk-device,drive=root 2>&1 |
	grep -v "TCG doesn't support"
EOF
	timeout 280 "$lab" --timeout 260 -- bash "$work/nested.sh" >"$work/nested.out" 2>&1
	grep -E '^(kernel=|qemu-microvm:|guest says|root:|Hello|Linux )' "$work/nested.out" | sed 's/^/   | /'
	for k in vmlinuz vmlinux; do
		sed -n "/^kernel=$k\$/,/^qemu-microvm:/p" "$work/nested.out" >"$work/nested.$k"
		check "microvm boots $k to /init and returns status 7" \
			grep -q 'guest_status=7 result=ok' "$work/nested.$k"
		check "  and the guest's output came back" \
			grep -q "^guest says hi from $KILN_GUEST_KERNEL_RELEASE" "$work/nested.$k"
	done
	sed -n '/^kernel=ext4$/,/^qemu-microvm:/p' "$work/nested.out" >"$work/nested.ext4"
	check "microvm boots the ext4 root (root=/dev/vda, switch_root) with status 0" \
		grep -q 'guest_status=0 result=ok' "$work/nested.ext4"
	check "  / is /dev/vda ext4 in the guest" grep -q '^root: /dev/vda ext4' "$work/nested.ext4"
	check "  greeting mode printed its greeting and uname -a" \
		sh -c "grep -q '^Hello from a kiln microVM guest' '$work/nested.ext4' &&
			grep -q '^Linux kiln-guest $KILN_GUEST_KERNEL_RELEASE' '$work/nested.ext4'"
	took "nested microvm boots"
fi

echo "selftest: $passed passed, $failed failed (total $(ms "$T0") ms)"
[ "$failed" = 0 ]
