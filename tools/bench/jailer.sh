#!/bin/bash
# Jailer benchmark: jails per second, and the time from the jailer's start to the exec of
# a trivial program in the jail, sequentially and 10 in parallel, without and with 20
# --bind mounts; then where that time goes, step by step (build/jailer-profile: the same
# jailer with its step marks compiled in, jailer/profile.h). Figures are printed; nothing
# is asserted.
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
profiled=$build/jailer-profile
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
# steps PARALLEL [jailer args...]: each step's median and p90 over the runs, from the
# profiling jailer's "jailer-step NAME US" lines; "exec" ends at the program's main().
steps() {
	local p=$1; shift
	local n=$(( runs < 100 ? runs : 100 )) w
	local per=$(( (n + p - 1) / p ))
	for w in $(seq "$p"); do
		( for i in $(seq "$per"); do
			"$profiled" --id "q$w-$i" --exec-file "$clock" --uid 65534 --gid 65534 \
				--chroot-base-dir "$tmp/base" "$@" 2>&1 | awk -v run="$w-$i" '
				/^jailer-step / { print run, $2, $3 }
				/^exec_us=/ { split($0, a, /[= ]/); print run, "exec", a[2]; print run, "start", a[4] }'
		done > "$tmp/steps.$w" ) &
	done
	wait
	cat "$tmp"/steps.* | sort -k1,1 -k3,3n | awk '
		$2 == "start" { t0[$1] = $3; next }
		{ n[$1]++; name[$1, n[$1]] = $2; at[$1, n[$1]] = $3 }
		END {
			for (r in n) {
				prev = t0[r]
				for (i = 1; i <= n[r]; i++) {
					k = name[r, i]
					if (!(k in order)) order[k] = ++ord
					print order[k], k, at[r, i] - prev
					prev = at[r, i]
				}
			}
		}' | sort -k1,1n -k3,3n | awk '
		{ v[$1] = v[$1] " " $3; nm[$1] = $2; c[$1]++ }
		END {
			for (o = 1; o in v; o++) {
				split(substr(v[o], 2), a, " ")
				printf "  %-28s median %6d us  p90 %6d us\n", nm[o], a[int((c[o] + 1) / 2)],
					a[int(c[o] * 0.9 + 0.5)]
			}
		}'
	rm -f "$tmp"/steps.*
}

if [ -x "$profiled" ]; then
	echo "where the time goes, step by step (each from the end of the one before; the"
	echo "first from the jailer's start, \"exec\" until the program's main()), sequential:"
	steps 1
	echo "the same, $par in parallel:"
	steps "$par"
else
	echo "(no $profiled: no step profile; make bench builds it)"
fi
left=$(find "$tmp/base" -mindepth 2 | wc -l)
[ "$left" -eq 0 ] || echo "warning: $left entries left under the chroot base"
echo "(Firecracker's docs/jailer.md: about 2x slower with 10 parallel jails, 10x with 500 mounts)"
