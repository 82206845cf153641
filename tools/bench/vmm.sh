#!/bin/bash
# kiln's VMM benchmarks on freestanding test guests: start-up, memory overhead, exit cost
# against a bare KVM_RUN loop, and the cost of seccomp. Nothing is asserted.
#   tools/bench/vmm.sh BUILD_DIR
# They need a /dev/kvm kiln can open; a host without one runs them in the lab (tools/lab),
# whose figures are for emulated KVM and only comparable side by side.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
kiln=$build/kiln
guests=$build/tests/guests
runs=${BENCH_RUNS:-21}

if ! { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }; then
	if [ "${KILN_LAB:-}" = 1 ]; then
		echo "VMM benchmarks: no usable /dev/kvm, even in the lab; skipped"
		exit 0
	fi
	echo "VMM benchmarks: this host has no usable /dev/kvm; running them in the lab (emulated)"
	. "$here/lib.sh"
	bench_in_lab "VMM benchmarks" "${BENCH_VMM_TIMEOUT:-900}" 2048 "$0" "$build"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-vmmbench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}'; }

config() { # GUEST VCPUS MEM
	printf '{"boot-source": {"kernel_image_path": "%s"}, "machine-config": {"vcpu_count": %s, "mem_size_mib": %s}}\n' \
		"$(realpath "$guests/$1.elf")" "$2" "$3" > "$tmp/$1.json"
	echo "$tmp/$1.json"
}

# 1. Start-up: CPU time from exec to the first KVM_RUN, as kiln itself measures it.
cfg=$(config hello 1 128)
for _ in $(seq "$runs"); do
	"$kiln" --no-api --config-file "$cfg" --level Debug 2>&1 >/dev/null |
		sed -n 's/.*first KVM_RUN after \([0-9]*\) us of CPU time, \([0-9]*\) us since start.*/\1 \2/p'
done > "$tmp/startup"
cpu=$(cut -d' ' -f1 "$tmp/startup" | median)
wall=$(cut -d' ' -f2 "$tmp/startup" | median)
cpu_min=$(cut -d' ' -f1 "$tmp/startup" | sort -n | head -1)
printf '%-44s %10s   %s\n' "metric" "kiln" "reference"
printf '%-44s %7s us   %s\n' "start-up CPU time to first KVM_RUN (median)" "$cpu" "target <= 2000 us; Firecracker spec: <= 8000 us to API socket"
printf '%-44s %7s us\n' "start-up CPU time to first KVM_RUN (best)" "$cpu_min"
printf '%-44s %7s us\n' "start-up wall time to first KVM_RUN (median)" "$wall"

# 2. Memory overhead: resident memory outside guest RAM while a guest runs.
cfg=$(config idle 1 128)
exec 3< <("$kiln" --no-api --config-file "$cfg" 2>/dev/null & echo "pid $!"; wait)
read -r _ pid <&3
grep -q -m1 'idle: ready' <&3 || { echo "VMM benchmarks: the idle guest never became ready"; exit 1; }
guest_bytes=$((128 << 20))
rss_kb=$(awk -v g=$((guest_bytes / 1024)) '
	/^[0-9a-f]+-[0-9a-f]+ / { split($1, r, "-"); cur = 0 }
	/^Size:/ { size = $2 }
	/^Rss:/ { if (size != g) total += $2 }
	END { print total }' "/proc/$pid/smaps")
guest_rss_kb=$(awk -v g=$((guest_bytes / 1024)) '/^Size:/ {size=$2} /^Rss:/ {if (size == g) t += $2} END {print t+0}' "/proc/$pid/smaps")
kill "$pid"; wait "$pid" 2>/dev/null || true; exec 3<&-
printf '%-44s %7s KiB  %s\n' "resident memory outside guest RAM" "$rss_kb" "target <= 2048 KiB; Firecracker tests enforce <= 5120 KiB"
printf '%-44s %7s KiB  (of %d MiB mapped)\n' "guest RAM resident (touched by the guest)" "$guest_rss_kb" 128

# 3. Exit-handling cost: 100,000 port writes, kiln against a bare KVM_RUN loop.
# kiln's figure is its whole run minus the same run of a guest that makes no such exits,
# so process start-up and teardown do not count against it.
cfg=$(config exits 1 64)
base=$(config hello 1 64)
wall_us() { local s e; s=$(date +%s%N); "$kiln" --no-api --config-file "$1" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
for _ in 1 2 3 4 5; do
	echo $(( $(wall_us "$cfg") - $(wall_us "$base") )) >> "$tmp/kiln_exits"
	"$build/tools/bench/barekvm" "$guests/exits.elf" | awk '{printf "%d\n", $5 * 1000000}' >> "$tmp/bare_exits"
done
k=$(median < "$tmp/kiln_exits"); b=$(median < "$tmp/bare_exits")
printf '%-44s %7s us   bare KVM_RUN loop: %s us (%s)\n' "100,000 port-write exits (median of 5)" "$k" "$b" \
	"$(awk -v k="$k" -v b="$b" 'BEGIN { printf "kiln adds %+.1f%%; target <= +10%%", (k - b) * 100 / b }')"
printf '%-44s %7s us   bare: %s us\n' "per exit" "$(awk -v k="$k" 'BEGIN {printf "%.2f", k/100000}')" \
	"$(awk -v b="$b" 'BEGIN {printf "%.2f", b/100000}')"

# 4. The cost of seccomp on the hot path: the same exits with kiln's filters off.
for _ in 1 2 3 4 5; do
	s=$(date +%s%N); "$kiln" --no-api --config-file "$cfg" --no-seccomp >/dev/null 2>&1; e=$(date +%s%N)
	s2=$(date +%s%N); "$kiln" --no-api --config-file "$base" --no-seccomp >/dev/null 2>&1; e2=$(date +%s%N)
	echo $(( (e - s) / 1000 - (e2 - s2) / 1000 )) >> "$tmp/kiln_nofilter"
done
nf=$(median < "$tmp/kiln_nofilter")
printf '%-44s %7s us   without filters: %s us (%s)\n' "100,000 exits with seccomp filters" "$k" "$nf" \
	"$(awk -v k="$k" -v n="$nf" 'BEGIN { printf "filters add %+.1f%%", (k - n) * 100 / n }')"
