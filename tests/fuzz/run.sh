#!/bin/sh
# Runs every libFuzzer target built into BUILD for SECONDS each, from its seed corpus.
#   tests/fuzz/run.sh BUILD SECONDS
# New inputs go to a scratch corpus (the tree's seeds are only read); a finding (crash,
# leak, timeout, broken invariant) is kept as BUILD/fuzz-findings/<target>-* and fails
# the run. Prints, per target, the executions and the coverage libFuzzer reached.
set -u
build=${1:?usage: tests/fuzz/run.sh BUILD SECONDS}
seconds=${2:?usage: tests/fuzz/run.sh BUILD SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
findings=$build/fuzz-findings
scratch=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzz-XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM
mkdir -p "$findings"
failed=0 passed=0 bad=0
for bin in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	case "$bin" in *.o | *.d) continue ;; esac
	name=${bin##*/fuzz_}
	seeds=$here/corpus/$name
	[ -d "$seeds" ] || { echo "fuzz: $name: no seed corpus in $seeds" >&2; failed=1 bad=$((bad + 1)); continue; }
	mkdir -p "$scratch/$name"
	log=$scratch/$name.log
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$findings/$name-" "$scratch/$name" "$seeds" > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		printf 'fuzz: %-12s ok: %s executions in %ss, %s\n' "$name" "${execs:-?}" "$seconds" \
			"${cov:-no coverage reported}"
		passed=$((passed + 1))
	else
		failed=1 bad=$((bad + 1))
		printf 'fuzz: %-12s FAILED (exit %s) after %s executions; findings in %s\n' "$name" \
			"$rc" "${execs:-?}" "$findings" >&2
		tail -n 40 "$log" >&2
	fi
done
[ $((passed + bad)) -gt 0 ] || { echo "fuzz: no targets built in $build/tests/fuzz" >&2; bad=1 failed=1; }
echo "fuzz: $passed passed, $bad failed"
exit "$failed"
