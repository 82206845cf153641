#!/bin/bash
# kiln's benchmarks: figures printed side by side with their reference; no figure is
# asserted, but a benchmark that gives none fails the run (exit 1).
#   tools/bench/run.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
kiln=$build/kiln
runs=${BENCH_RUNS:-21}
tmp=$(mktemp -d /tmp/kiln-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }; then
	kvm="none usable on this host (VM figures come from the lab, emulated)"
elif [ -e /sys/module/kvm_pvm ]; then
	kvm="nested kvm_pvm (emulated)"
else
	kvm=native
fi
echo "kiln benchmarks on $(uname -r), $(nproc) CPUs; KVM: $kvm"
echo

# 1. The API: how soon a fresh kiln answers on its socket, and request latency (10 000
# requests of each kind).
if "$build/tools/bench/apibench" "$kiln" "$runs" 10000 > "$tmp/api"; then
	api() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$tmp/api"; }
	printf '%-44s %10s   %s\n' "metric" "kiln" "reference"
	printf '%-44s %7s us   %s\n' "exec to API answering GET / (median)" "$(api start_wall_us 2)" \
		"best $(api start_wall_us 3) us; Firecracker: typically ~12 ms wall to its API socket"
	printf '%-44s %7s us   %s\n' "CPU time until then, all threads (median)" "$(api start_cpu_us 2)" \
		"best $(api start_cpu_us 3) us; Firecracker spec: <= 8000 us"
	for r in get_us:"GET / (kept-alive connection)" put_us:"PUT /machine-config (kept-alive)" \
		get_newconn_us:"GET / (new connection each, as curl)"; do
		printf '%-44s %7s us   p99 %s us, max %s us of 2000; Firecracker tests allow 700 ms a call\n' \
			"${r#*:}" "$(api "${r%%:*}" 2)" "$(api "${r%%:*}" 3)" "$(api "${r%%:*}" 4)"
	done
else
	echo "API benchmark failed"
fi
echo

# Each benchmark runs whatever the others did; one that has no figures (its lab failed twice,
# a VM that did not give them) fails `make bench`, after every other figure is out.
failed=()
for b in vmm jailer blk vsock boot kilnrun net; do
	"$(dirname "$0")/$b.sh" "$build" || failed+=("$b")
done
echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "make bench: FAILED: no figures from ${failed[*]} (tools/bench/<name>.sh, above says why)"
	exit 1
fi
echo "make bench: every benchmark gave its figures"
