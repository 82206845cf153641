#!/bin/bash
# kiln-run benchmark: how soon a run's first output byte arrives, how many whole runs a
# minute the machine completes with 1, 4 and 10 at once, and what an idle run costs in
# memory; beside the seed-style baseline (kiln alone booting the test initramfs with the
# command on the kernel command line and its output on the serial console: no jail, no
# agent, no teardown). Nothing is asserted.
#   tools/bench/kilnrun.sh BUILD_DIR
# Knobs: BENCH_KR_RUNS (default 3, the median is shown).
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
runs=${BENCH_KR_RUNS:-3}
envfile=$build/e2e/bench-run.env

if [ "${KILN_LAB:-}" != 1 ]; then
	echo
	mkdir -p "$build/e2e"
	[ -x "$build/kiln-run" ] && [ -x "$build/kiln-agent" ] ||
		{ echo "kiln-run benchmark: no $build/kiln-run or kiln-agent (make); skipped"; exit 0; }
	if ! "$top/tools/guest/build.sh" --quiet --env "$envfile" >/dev/null ||
		! "$top/tools/guest/run-image.sh" --quiet --agent "$build/kiln-agent" >> "$envfile"; then
		echo "kiln-run benchmark: the guest or run images could not be built; skipped"
		exit 0
	fi
	if [ "$("$top/tools/lab/detect")" != direct ]; then
		echo "kiln-run benchmark: this host's /dev/kvm cannot boot Linux; running in the lab (emulated)"
		. "$here/lib.sh"
		bench_in_lab "kiln-run benchmark" "${BENCH_KR_TIMEOUT:-1500}" 3072 "$0" "$build"
	fi
fi
. "$envfile"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-krbench-XXXXXX")
parent=$(sed -n 's|^0::/*||p' /proc/self/cgroup)
parent=${parent:+$parent/}kiln-run-bench-$$
trap 'rm -rf "$tmp"; rmdir "/sys/fs/cgroup/$parent" 2>/dev/null' EXIT
kr=("$build/kiln-run" --image "$KILN_RUN_IMAGE" --state-dir "$tmp/state" --chroot-base-dir "$tmp/base"
	--parent-cgroup "$parent" --kiln "$build/kiln" --jailer "$build/jailer" -n)
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "?" }'; }
ms_since() { echo $(( (${EPOCHREALTIME/./} - $1) / 1000 )); }

# Milliseconds from start to the first line on standard output, for CMD...
first_line_ms() {
	local t0=${EPOCHREALTIME/./} line
	exec 5< <("$@" 2>/dev/null)
	IFS= read -r line <&5
	ms_since "$t0"
	cat <&5 > /dev/null
	exec 5<&-
}

: > "$tmp/kr" && : > "$tmp/seed"
cat > "$tmp/seed.json" <<JSON
{ "boot-source": { "kernel_image_path": "$KILN_GUEST_VMLINUX", "initrd_path": "$KILN_GUEST_INITRAMFS",
    "boot_args": "$KILN_GUEST_CMDLINE kiln.exit=poweroff kiln.run=$(printf 'echo first-output' | base64 -w0)" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 } }
JSON
for i in $(seq "$runs"); do
	first_line_ms "${kr[@]}" -- echo first-output >> "$tmp/kr"
	# The baseline's first line of the command's own output on the console.
	t0=${EPOCHREALTIME/./}
	"$build/kiln" --no-api --config-file "$tmp/seed.json" 2>/dev/null < /dev/null | {
		grep -m1 -q '^first-output' && ms_since "$t0" >> "$tmp/seed"
		cat > /dev/null
	}
done
printf '%-50s %12s   %s\n' "metric" "kiln-run" "seed-style baseline (kiln alone, cmdline + console)"
printf '%-50s %9s ms   %s ms\n' "start to the command's first output (median of $runs)" \
	"$(median < "$tmp/kr")" "$(median < "$tmp/seed")"

# Whole runs a minute, P at once (each a fresh VM, a Python-free shell command).
for p in 1 4 10; do
	t0=${EPOCHREALTIME/./}
	pids=() ok=0
	for i in $(seq "$p"); do
		"${kr[@]}" --mem 128 --boot-timeout 300 -- sh -c 'echo done' > "$tmp/par.$i" 2>&1 &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
	ms=$(ms_since "$t0")
	for i in $(seq "$p"); do
		grep -qx done "$tmp/par.$i" || echo "  run $i of $p failed: $(grep kiln-run "$tmp/par.$i" | head -n 2 | tr '\n' ' ')"
	done
	printf '%-50s %9s /min   %s of %s succeeded in %s ms\n' "whole runs a minute, $p at once" \
		"$(awk -v n="$ok" -v ms="$ms" 'BEGIN { printf "%.1f", n * 60000 / ms }')" "$ok" "$p" "$ms"
done

# Memory of an idle run: a kept VM whose command has ended (the agent waiting).
"${kr[@]}" --keep -- true > /dev/null 2> "$tmp/keep.err"
cg=/sys/fs/cgroup/$parent/kiln-run-0
kpid=$(head -n 1 "$cg/cgroup.procs" 2>/dev/null)
if [ -n "$kpid" ]; then
	printf '%-50s %9s MiB  kiln resident %s MiB (guest memory it touched included), 256 MiB guest\n' \
		"an idle run's cgroup memory (memory.current)" \
		"$(( $(cat "$cg/memory.current") / 1048576 ))" "$(( $(awk '/VmRSS/ { print $2 }' "/proc/$kpid/status") / 1024 ))"
else
	echo "idle run: no kept VM ($(tail -n 1 "$tmp/keep.err"))"
fi
"${kr[@]}" --gc > /dev/null 2>&1
