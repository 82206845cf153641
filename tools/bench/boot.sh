#!/bin/bash
# Boot time of a Linux guest: kiln against QEMU's -M microvm, same kernel, initramfs and
# command line, on the same KVM (the lab's when this host's KVM cannot boot Linux).
#   tools/bench/boot.sh BUILD_DIR [RUNS]
# Prints, for each VMM, the median wall time from starting it to the guest's /init
# ("KILN-GUEST-INIT" on the console) and to the end of the first command a shell ran in
# the guest ("KILN-GUEST-EXIT"), and the ratio. Figures, not a pass/fail test.
set -u
build=$(cd "${1:-build}" && pwd)
runs=${2:-5}
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${KILN_LAB:-}" != 1 ] && [ "$("$top/tools/lab/detect")" != direct ]; then
	echo "boot: this host's KVM cannot boot Linux; measuring inside the lab (emulated"
	echo "boot: hardware: absolute figures are far slower than on a real host, ratios hold)"
	"$top/tools/guest/build.sh" --quiet --env "$build/e2e/guest.env" >/dev/null || exit 1
	. "$top/tools/bench/lib.sh"
	bench_in_lab boot 1800 3072 "$0" "$build" "$runs"
fi
[ -r "$build/e2e/guest.env" ] || "$top/tools/guest/build.sh" --quiet --env "$build/e2e/guest.env" >/dev/null
. "$build/e2e/guest.env"
kernel=$KILN_GUEST_VMLINUX
cmdline="$KILN_GUEST_CMDLINE kiln.run=$(printf true | base64 -w0)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}'; }

# One kiln boot: prints "INIT_MS EXIT_MS".
kiln_once() {
	cat > "$tmp/vm.json" <<JSON
{ "boot-source": { "kernel_image_path": "$kernel", "initrd_path": "$KILN_GUEST_INITRAMFS",
  "boot_args": "$cmdline" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 } }
JSON
	local t0 init="" exit="" line
	t0=$(now_ms)
	while IFS= read -r line; do
		case $line in
		KILN-GUEST-INIT*) [ -n "$init" ] || init=$(( $(now_ms) - t0 )) ;;
		KILN-GUEST-EXIT*) exit=$(( $(now_ms) - t0 )) ;;
		esac
	done < <(timeout -k 5 120 "$build/kiln" --no-api --config-file "$tmp/vm.json" 2>/dev/null </dev/null | tr -d '\r')
	echo "${init:-0} ${exit:-0}"
}

for i in $(seq "$runs"); do
	kiln_once >> "$tmp/kiln"
	"$top/tools/lab/qemu-microvm.sh" --quiet --mem 256 "$kernel" "$KILN_GUEST_INITRAMFS" \
		"$cmdline" 2>&1 >/dev/null | sed -n 's/.*init_ms=\([0-9]*\) exit_ms=\([0-9]*\).*/\1 \2/p' \
		>> "$tmp/qemu"
	echo "boot: run $i: kiln $(tail -n 1 "$tmp/kiln"), QEMU $(tail -n 1 "$tmp/qemu") (ms to /init, to exit)"
done
ki=$(cut -d' ' -f1 "$tmp/kiln" | median); ke=$(cut -d' ' -f2 "$tmp/kiln" | median)
qi=$(cut -d' ' -f1 "$tmp/qemu" | median); qe=$(cut -d' ' -f2 "$tmp/qemu" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '%-40s %10s %12s %8s\n' "boot of Debian's kernel (median of $runs)" kiln "QEMU microvm" ratio
printf '%-40s %7s ms %9s ms %8s\n' "to /init" "$ki" "$qi" "$(ratio "$ki" "$qi")"
printf '%-40s %7s ms %9s ms %8s\n' "to a shell's first command done" "$ke" "$qe" "$(ratio "$ke" "$qe")"
# A boot that never reached /init or its end is in the medians as 0, and fails the benchmark.
bad=$(awk '$1 == 0 || $2 == 0' "$tmp/kiln" | wc -l) qbad=$(( runs - $(awk '$1 > 0 && $2 > 0' "$tmp/qemu" | wc -l) ))
if [ "$bad" -gt 0 ] || [ "$qbad" -gt 0 ]; then
	echo "boot: FAILED: $bad of kiln's and $qbad of QEMU's $runs boots did not finish"
	exit 1
fi
