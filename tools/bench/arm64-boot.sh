#!/bin/bash
# Boot time of kiln on arm64, in the arm64 lab (tools/lab/arm64/run): Debian's arm64 kernel
# Image with a busybox initramfs, 1 vCPU, 128 MiB, to the guest's /init (which writes the
# boot timer, --boot-timer, as Firecracker's boot-time test does) and back out with PSCI
# SYSTEM_OFF. For each of RUNS boots it reports: Guest-boot-time (wall and CPU, from
# kiln's start), kiln's start-up CPU time and wall time to the first KVM_RUN, and kiln's
# memory overhead (resident memory outside guest RAM, read at /init from /proc/PID/smaps).
# Absolute figures are for TCG-emulated arm64 hardware: compare them only with each other.
# QEMU -M virt is not measured inside the lab: Debian's arm64 QEMU cannot be installed
# beside the host's x86-64 one (see the report in tools/lab/arm64/README or issue 7).
#   tools/bench/arm64-boot.sh [RUNS]     (default 3)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${1:-3}
cd "$root" || exit 1
[ -x build/aarch64/kiln ] || timeout 900 make --no-print-directory -j2 ARCH=aarch64 all >/dev/null ||
	{ echo "arm64-boot: cannot build build/aarch64/kiln" >&2; exit 1; }
eval "$(timeout 900 tools/lab/arm64/image.sh --quiet)" || exit 1
work=$(mktemp -d "${KILN_CACHE:-$HOME/.cache/kiln}/arm64/bench.XXXXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
mem=128
# With --boot-timer the timer takes the first device window: 0x40002000 on arm64.
cat >"$work/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$A64_IMAGE", "initrd_path": "$A64_GUEST_INITRAMFS",
    "boot_args": "console=ttyS0 reboot=k panic=-1 quiet kiln.boottimer=0x40002000 kiln.do=poweroff" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": $mem }
}
JSON
cat >"$work/inside.sh" <<INSIDE
i=0
while [ \$i -lt $runs ]; do
	i=\$((i + 1))
	out=/tmp/boot.\$i
	timeout 300 $root/build/aarch64/kiln --boot-timer --level Debug --no-api --config-file $work/vm.json \\
		</dev/null >\$out 2>&1 &
	pid=\$!
	# At /init: kiln's resident memory outside the guest's RAM mapping ($mem MiB).
	n=0
	while ! grep -q 'KILN-GUEST: /init' \$out 2>/dev/null && [ \$n -lt 3000 ]; do sleep 0.1; n=\$((n + 1)); done
	awk -v g=$((mem * 1024)) '/^[0-9a-f]+-[0-9a-f]+ /{guest=0} /^Size:/{guest=(\$2==g)} /^Rss:/{if(guest) gr+=\$2; else o+=\$2} END{print "overhead_kib", o, "guest_rss_kib", gr}' /proc/\$pid/smaps >\$out.mem 2>/dev/null
	wait \$pid
	echo "run \$i exit \$? \$(grep -o 'Guest-boot-time = .*' \$out) | \$(grep -o 'first KVM_RUN after .*' \$out) | \$(cat \$out.mem)"
done
INSIDE
echo "arm64-boot: $runs boots of Debian's arm64 kernel in the arm64 lab (TCG)"
tools/lab/arm64/run --timeout $((120 + runs * 200)) -- sh "$work/inside.sh" | tee "$work/results"
awk '
/Guest-boot-time/ { for (i = 1; i <= NF; i++) { if ($i == "=") w += $(i + 1); if ($(i + 1) == "CPU" && $(i + 2) == "us") c += $i }
	for (i = 1; i <= NF; i++) { if ($i == "after") s += $(i + 1); if ($i == "of" && $(i + 1) == "CPU") {} if ($i == "us" && $(i + 1) == "since") sw += $(i - 1) }
	for (i = 1; i <= NF; i++) if ($i == "overhead_kib") o += $(i + 1); n++ }
END { if (n) printf "arm64-boot: mean of %d: boot to /init %.0f ms wall, %.0f ms CPU; kiln start-up %.1f ms CPU, %.1f ms wall to the first KVM_RUN; memory overhead %.0f KiB\n", n, w / n / 1000, c / n / 1000, s / n / 1000, sw / n / 1000, o / n }
' "$work/results"
