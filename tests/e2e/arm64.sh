#!/bin/bash
# End-to-end tests of kiln on arm64, in the arm64 lab (tools/lab/arm64/run: QEMU's arm64
# emulator with EL2, Debian's arm64 kernel, KVM in VHE mode). The cross-built kiln boots
# Debian's arm64 kernel Image:
#   poweroff   initramfs to /init with 2 vCPUs (PSCI), PL031 and virtio-rng from the FDT;
#              PSCI SYSTEM_OFF ends kiln with 0; built-in seccomp filters, no violation
#   reboot     PSCI SYSTEM_RESET ends kiln with 0
#   console    a shell on the 16550 console reads kiln's standard input
#   blk        a virtio-blk ext4 root filesystem: mounted, switch_root'ed, written
#   jailer     the arm64 jailer runs kiln in a jail (cgroup v2, bind-mounted kernel)
#   gicv3      KVM gave kiln a GICv3 (checked in kiln's debug log)
# Prints one closing line: "arm64: N passed, N failed[, N skipped]". Exit 0 when none failed.
#   tests/e2e/arm64.sh [BUILD_DIR]      (default build/aarch64; built if missing)
# Environment: ARM64_E2E_TIMEOUT (seconds for the whole lab run, default 600; one run takes about 3 minutes here).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)


build=${1:-build/aarch64}
cd "$root" || exit 1
skip() { echo "arm64: skipped: $*"; echo "arm64: 0 passed, 0 failed, 1 skipped"; exit 0; }
command -v qemu-system-aarch64 >/dev/null || skip "qemu-system-aarch64 missing (tools/deps.sh ensure arm64)"
command -v aarch64-linux-gnu-gcc >/dev/null || skip "no arm64 cross compiler (tools/deps.sh ensure arm64)"
if [ ! -x "$build/kiln" ] || [ ! -x "$build/jailer" ]; then
	timeout 900 make --no-print-directory -j2 ARCH=aarch64 BUILD="$build" all >/dev/null ||
		{ echo "arm64: cannot build $build"; echo "arm64: 0 passed, 1 failed"; exit 1; }
fi
eval "$(timeout 900 tools/lab/arm64/image.sh --quiet)" ||
	{ echo "arm64: cannot build the lab images"; echo "arm64: 0 passed, 1 failed"; exit 1; }

# The work directory must be visible inside the lab: not under /tmp.
work=$(mktemp -d "${KILN_CACHE:-$HOME/.cache/kiln}/arm64/e2e.XXXXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

config() { # config FILE KERNEL INITRD DO [DRIVE]
	local drives='[]'
	[ -n "${5:-}" ] && drives="[{ \"drive_id\": \"root\", \"path_on_host\": \"$5\", \"is_root_device\": true }]"
	cat >"$1" <<JSON
{
  "boot-source": { "kernel_image_path": "$2", "initrd_path": "$3",
                   "boot_args": "console=ttyS0 earlycon reboot=k panic=-1 kiln.do=$4" },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 },
  "drives": $drives,
  "entropy": {}
}
JSON
}
config "$work/poweroff.json" "$A64_IMAGE" "$A64_GUEST_INITRAMFS" poweroff
config "$work/reboot.json" "$A64_IMAGE" "$A64_GUEST_INITRAMFS" reboot
config "$work/console.json" "$A64_IMAGE" "$A64_GUEST_INITRAMFS" console
# Inside the lab the host's files are read-only: the root disk is copied to its tmpfs.
config "$work/blk.json" "$A64_IMAGE" "$A64_GUEST_INITRAMFS" blk /tmp/kiln-arm64-rootfs.ext4
config "$work/jail.json" /Image /initrd.cpio.gz poweroff

# The script the lab runs (busybox sh): each case's output goes to NAME.out and its exit
# status to NAME.rc in the lab's writable scratch directory, copied back to $work/out;
# every kiln run has its own timeout.
cat >"$work/inside.sh" <<INSIDE
# kiln runs from the lab's memory: a page of its code faulted in over 9p could stall a vCPU.
k=/tmp/kiln-arm64
cp $root/$build/kiln \$k || k=$root/$build/kiln
j=$root/$build/jailer
w=\$LAB_SCRATCH
c=$work
t=240
cp $A64_GUEST_ROOTFS /tmp/kiln-arm64-rootfs.ext4
echo "lab: \$(uname -m), \$(ls /dev/kvm)"
timeout \$t \$k --level Debug --no-api --config-file \$c/poweroff.json </dev/null >\$w/poweroff.out 2>&1; echo \$? >\$w/poweroff.rc
echo "lab: poweroff done (\$(cat \$w/poweroff.rc))"
timeout \$t \$k --no-api --config-file \$c/reboot.json </dev/null >\$w/reboot.out 2>&1; echo \$? >\$w/reboot.rc
echo "lab: reboot done (\$(cat \$w/reboot.rc))"
# A line whose characters the guest's tty lost (it does, now and then, under TCG) must not
# power off: the length check and the && chain make a damaged line fail and the next repeat.
(for i in \$(seq 60); do sleep 4; printf 'x=CONSOLE; [ \${#x} = 7 ] && echo \$x-\$((6*7)) && poweroff -f\n'; done) |
	timeout \$t \$k --no-api --config-file \$c/console.json >\$w/console.out 2>&1; echo \$? >\$w/console.rc
echo "lab: console done (\$(cat \$w/console.rc))"
timeout \$t \$k --no-api --config-file \$c/blk.json </dev/null >\$w/blk.out 2>&1; echo \$? >\$w/blk.rc
echo "lab: blk done (\$(cat \$w/blk.rc))"
mkdir -p /run/jail
timeout \$t \$j --id arm64-e2e --exec-file \$k --uid 1000 --gid 1000 --chroot-base-dir /run/jail \\
	--bind $A64_IMAGE:/Image --bind $A64_GUEST_INITRAMFS:/initrd.cpio.gz \\
	-- --no-api --config-file - <\$c/jail.json >\$w/jail.out 2>&1; echo \$? >\$w/jail.rc
echo "lab: jailer done (\$(cat \$w/jail.rc))"
INSIDE

echo "arm64: running the cases in the lab (TCG: several minutes)"
t0=$(date +%s)
# The emulated machine very rarely hangs or fails to start (124, 125): then again, at most
# twice.
for attempt in 1 2 3; do
	rm -rf "$work/out"
	LAB_SCRATCH_KEEP=$work/out tools/lab/arm64/run --timeout "${ARM64_E2E_TIMEOUT:-600}" -- sh "$work/inside.sh"
	lrc=$?
	[ "$lrc" -eq 124 ] || [ "$lrc" -eq 125 ] || break
	echo "arm64: the lab failed (status $lrc); attempt $attempt"
done
echo "arm64: lab finished with $lrc after $(($(date +%s) - t0)) s"

passed=0 failed=0
check() { # check NAME DESCRIPTION PATTERN...: exit 0 and every pattern in NAME.out
	local name=$1 desc=$2 rc p
	shift 2
	rc=$(cat "$work/out/$name.rc" 2>/dev/null || echo none)
	local why=
	[ "$rc" = 0 ] || why="kiln exited with $rc"
	for p in "$@"; do
		[ -n "$why" ] && break
		grep -qE -- "$p" "$work/out/$name.out" 2>/dev/null || why="no '$p' in the output"
	done
	if grep -q "bad syscall" "$work/out/$name.out" 2>/dev/null; then why="seccomp violation: $(grep -m1 'bad syscall' "$work/out/$name.out")"; fi
	if [ -z "$why" ]; then
		echo "ok - $desc"
		passed=$((passed + 1))
	else
		echo "FAIL - $desc: $why"
		tail -n 15 "$work/out/$name.out" 2>/dev/null | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}
check poweroff "boots Debian's arm64 Image to /init; PSCI SYSTEM_OFF ends kiln with 0" \
	'KILN-GUEST: /init' 'KILN-GUEST: arch aarch64 cpus 2' 'rtc rtc-pl031' \
	'hwrng virtio_rng' 'guest powered off' 'exiting with code 0'
check poweroff "GICv3 created with KVM_CREATE_DEVICE, device tree accepted" 'GICv3, 2 vCPUs' \
	'Machine model: |OF: fdt: ' 'ttyS0 at MMIO 0x40000000'
check reboot "PSCI SYSTEM_RESET ends kiln with 0" 'KILN-GUEST: reboot' 'guest reset'
check console "the console shell reads kiln's standard input" 'KILN-GUEST: shell' 'CONSOLE-42' \
	'guest powered off'
check blk "virtio-blk ext4 root: mounted as /, written" 'KILN-ROOTFS: kiln arm64 test root filesystem on /dev/vda ext4' \
	'KILN-ROOTFS: wrote 21 bytes' 'guest powered off'
check jail "the jailer runs kiln (seccomp on) in a jail" 'KILN-GUEST: /init' 'guest powered off'
if [ "$lrc" -ne 0 ]; then
	echo "FAIL - the lab run itself (exit $lrc)"
	failed=$((failed + 1))
fi
echo "arm64: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
