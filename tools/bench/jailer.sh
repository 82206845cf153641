#!/bin/bash
# Jailer benchmark: jails per second, and the time from the jailer's start to the exec of
# a trivial program in the jail, sequentially and 10 in parallel, without and with 20
# --bind mounts. Figures are printed; nothing is asserted.
#   tools/bench/jailer.sh BUILD_DIR
#
# The latency is measured inside the processes, on CLOCK_MONOTONIC: the jailer records
# its start (the --start-time-us it forwards) and the program (tests/helpers/jail_clock)
# reads the clock first thing in main(). Throughput is runs / wall time, each run
# including the jailer's own exec and its teardown of the jail after the program exits.
set -euo pipefail
build=${1:-build}
runs=${BENCH_JAIL_RUNS:-200}
par=${BENCH_JAIL_PARALLEL:-10}
nbinds=${BENCH_JAIL_BINDS:-20}
jailer=$build/jailer
clock=$build/tests/helpers/jail_clock

echo
echo "jailer benchmark"
if [ "$(id -u)" -ne 0 ]; then
	echo "  skipped: the jailer needs root"
	exit 0
fi
if [ ! -x "$clock" ]; then
	make --no-print-directory -s BUILD="$build" "$clock" >/dev/null
fi
tmp=$(mktemp -d /tmp/kiln-jailbench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/base" "$tmp/src"
bind_args=()
for i in $(seq "$nbinds"); do
	echo "file $i" > "$tmp/src/f$i"
	bind_args+=(--bind "$tmp/src/f$i:/b/f$i")
done

# one_run ID [--bind ...]: the program's "exec_us=... start_us=..." line, as a latency in us.
one_run() {
	local id=$1; shift
	"$jailer" --id "$id" --exec-file "$clock" --uid 65534 --gid 65534 \
		--chroot-base-dir "$tmp/base" "$@" |
		awk -F'[= ]' '/^exec_us=/ { print $2 - $4 }'
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}'; }
p90() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int(NR*0.9+0.5)]; else print "n/a"}'; }

# bench NAME PARALLEL [--bind ...]: runs jails, prints latency median/p90 and jails per second.
bench() {
	local name=$1 p=$2; shift 2
	local out=$tmp/lat.$p.$#
	: > "$out"
	local t0 t1
	t0=$EPOCHREALTIME
	if [ "$p" -eq 1 ]; then
		for i in $(seq "$runs"); do one_run "s$i" "$@"; done >> "$out"
	else
		local per=$(( (runs + p - 1) / p ))
		for w in $(seq "$p"); do
			( for i in $(seq "$per"); do one_run "p$w-$i" "$@"; done > "$out.$w" ) &
		done
		wait
		cat "$out".* >> "$out"
	fi
	t1=$EPOCHREALTIME
	local n
	n=$(wc -l < "$out")
	printf '%-40s %5d runs  start-to-exec median %6s us  p90 %6s us  %7s jails/s\n' "$name" \
		"$n" "$(median < "$out")" "$(p90 < "$out")" \
		"$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')"
}

one_run warmup >/dev/null
bench "sequential, no mounts" 1
bench "$par in parallel, no mounts" "$par"
bench "sequential, $nbinds --bind mounts" 1 "${bind_args[@]}"
bench "$par in parallel, $nbinds --bind mounts" "$par" "${bind_args[@]}"
left=$(find "$tmp/base" -mindepth 2 | wc -l)
[ "$left" -eq 0 ] || echo "warning: $left entries left under the chroot base"
echo "(Firecracker's docs/jailer.md: about 2x slower with 10 parallel jails, 10x with 500 mounts)"
