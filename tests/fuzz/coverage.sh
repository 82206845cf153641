#!/bin/sh
# How much of the code it is meant to test each libFuzzer target reaches: each target built
# with clang's source-based coverage (`make fuzz-coverage`, into BUILD) fuzzes for SECONDS
# from its seed corpus, then llvm-cov reports the lines and branches of the files named on
# the target's "/* coverage: FILE... */" line (every file it reached, without one).
#   tests/fuzz/coverage.sh BUILD SECONDS
# Prints one line per file: target, file, lines covered of lines, branches covered of
# branches. Nothing is written outside a scratch directory.
set -u
build=${1:?usage: tests/fuzz/coverage.sh BUILD SECONDS}
seconds=${2:?usage: tests/fuzz/coverage.sh BUILD SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
for tool in llvm-profdata llvm-cov; do
	command -v "$tool" >/dev/null ||
		{ echo "fuzz-coverage: $tool is missing (tools/deps.sh ensure fuzz)" >&2; exit 1; }
done
scratch=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzzcov-XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT INT TERM
status=0 n=0
printf '%-12s %-32s %18s %18s\n' target file lines branches
for bin in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	case "$bin" in *.o | *.d) continue ;; esac
	name=${bin##*/fuzz_}
	n=$((n + 1))
	mkdir -p "$scratch/$name"
	LLVM_PROFILE_FILE=$scratch/$name.profraw "$bin" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$scratch/$name-" "$scratch/$name" \
		"$here/corpus/$name" > "$scratch/$name.log" 2>&1 ||
		{ echo "fuzz-coverage: $name failed (make fuzz reproduces it)" >&2; tail -n 20 "$scratch/$name.log" >&2; status=1; continue; }
	llvm-profdata merge -sparse -o "$scratch/$name.profdata" "$scratch/$name.profraw" || { status=1; continue; }
	files=$(sed -n 's|^/\* coverage: \(.*\) \*/$|\1|p' "$here/fuzz_$name.c" | head -n 1)
	# llvm-cov's per-file report: Filename Regions Missed Cover Functions Missed Cover
	# Lines Missed Cover Branches Missed Cover.
	(cd "$top" && llvm-cov report "$bin" -instr-profile="$scratch/$name.profdata" \
		-show-branch-summary ${files:+$files}) > "$scratch/$name.report" 2>&1 ||
		{ echo "fuzz-coverage: llvm-cov failed for $name" >&2; cat "$scratch/$name.report" >&2; status=1; continue; }
	awk -v t="$name" -v top="$top/" '
		$1 != "TOTAL" && NF >= 13 && $2 ~ /^[0-9]+$/ && $8 > 0 {
			f = $1; sub(top, "", f)
			if (f ~ /^tests\// || ($8 - $9) == 0) next
			printf "%-12s %-32s %7d/%-5d %3.0f%% %7d/%-5d %3.0f%%\n", t, f, $8 - $9, $8,
				100 * ($8 - $9) / $8, $11 - $12, $11, $11 ? 100 * ($11 - $12) / $11 : 100
		}' "$scratch/$name.report"
done
[ "$n" -gt 0 ] || { echo "fuzz-coverage: no targets built in $build/tests/fuzz" >&2; exit 1; }
exit "$status"
