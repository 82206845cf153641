#!/bin/bash
# Runs every kiln test suite and prints one closing line: "N passed, N failed[, N skipped]".
#   tests/run.sh BUILD_DIR [SANITIZER_BUILD_DIR]
# Unit tests run from both builds; integration tests drive both builds' kiln and jailer.
set -u
build=${1:-build}
asan=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
failed_suites=()
# The names of the tests that failed, with the first line of what each said, printed
# again at the end: a long log is often read from its last lines only.
digest=()
t_all=$SECONDS

# took START: "(N s)" since START ($SECONDS).
took() { echo "($(( SECONDS - $1 )) s)"; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Run one Criterion binary, add its synthesis line to the totals.
run_criterion() {
	local name=$1; shift
	local out rc t0=$SECONDS
	echo "== $name"
	out=$("$@" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -Ev '^\[----\] .*: (Assertion|  )' | tail -n 40
	echo "== $name $(took "$t0")"
	local f
	while IFS= read -r f; do
		digest+=("$name: $f")
	done < <(printf '%s\n' "$out" | sed -E 's/\x1b\[[0-9;]*m//g' | awk '
		# "[----] file:line: Assertion Failed", its message lines, then "[FAIL] name: ...":
		# the name with the first line of the message.
		/^\[----\] [^ ]+:[0-9]+: / { msg = ""; next }
		/^\[----\]   *[^ ]/ { if (msg == "") { msg = $0; sub(/^\[----\] +/, "", msg) } next }
		/^\[FAIL\] / { n = $2; sub(/:$/, "", n); print n ": " substr(msg, 1, 140); msg = "" }' |
		head -n 6)
	local line
	line=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -n 1)
	if [ -z "$line" ]; then
		echo "   $name: no result line (exit $rc)"
		failed=$((failed + 1)); failed_suites+=("$name"); return
	fi
	local t p f c
	t=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$line")
	p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
	f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
	c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$line")
	passed=$((passed + p)); failed=$((failed + f))
	skipped=$((skipped + t - p - f))
	[ "$c" -gt 0 ] 2>/dev/null && true
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then failed_suites+=("$name"); fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
}

for b in "$build" $asan; do
	[ -d "$b/tests/unit" ] || continue
	for t in "$b"/tests/unit/test_*; do
		[ -x "$t" ] && [ "${t%.[od]}" = "$t" ] || continue
		run_criterion "unit $(basename "$t") ($b)" "$t" --jobs 2
	done
done

# The guest agent on a Unix socket in a temp directory, driven by the real client: no VM.
for b in "$build" $asan; do
	[ -x "$b/tests/agent/agent" ] || continue
	run_criterion "agent ($b)" env AGENT="$b/kiln-agent" AGENT_CLIENT="$b/kiln-agent-client" \
		"$b/tests/agent/agent" --jobs 2
done

# Integration tests boot the freestanding guests on /dev/kvm. A host with no /dev/kvm that
# kiln can open (a machine that is itself a guest without nested KVM) runs them in the lab,
# whose /dev/kvm is real KVM; a failed lab (not a failed test) is retried twice there.
integ_in=()
if ! { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }; then
	echo "== integration: this host has no usable /dev/kvm; the integration suites run in the lab"
	integ_in=("$here/../tools/lab/run" --retry 2 --timeout 1500 --mem 4096 --)
fi
for b in "$build" $asan; do
	[ -x "$build/tests/integ/integ" ] || break
	run_criterion "integration ($b/kiln)" "${integ_in[@]}" env KILN="$b/kiln" JAILER="$b/jailer" \
		GUESTS="$build/tests/guests" "$build/tests/integ/integ" --jobs 2
done

# The arm64 cross build's unit tests, through qemu-user (tools/deps.sh registers it).
if [ -d build/aarch64/tests/unit ]; then
	if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
		for t in build/aarch64/tests/unit/test_*; do
			[ -x "$t" ] && [ "${t%.[od]}" = "$t" ] || continue
			run_criterion "unit $(basename "$t") (aarch64, qemu-user)" "$t" --jobs 2
		done
	else
		echo "== arm64 unit tests: skipped (qemu-aarch64 is not registered with binfmt_misc)"
		skipped=$((skipped + 1))
	fi
fi

# A suite that prints "<label>: N passed, N failed[, N skipped]" as its last such line.
run_suite() {
	local label=$1; shift
	local out rc line t0=$SECONDS
	echo "== $label"
	out=$("$@" 2>&1); rc=$?
	printf '%s\n' "$out"
	echo "== $label $(took "$t0")"
	# A failed case: its name and the last indented line under "FAIL name": a case's
	# failure message comes last.
	local f
	while IFS= read -r f; do
		digest+=("$label: $f")
	done < <(printf '%s\n' "$out" | awk '
		function emit() { if (name != "") print name ": " substr(last != "" ? last : rest, 1, 140); name = "" }
		/^FAIL / { emit(); name = $2; sub(/:$/, "", name); last = ""
			rest = $0; sub(/^FAIL [^ ]+ */, "", rest); next }
		/^    / { if (name != "") { last = $0; sub(/^ +/, "", last) } next }
		{ emit() }
		END { emit() }' | head -n 8)
	line=$(printf '%s\n' "$out" | grep -E "^$label: [0-9]+ passed, [0-9]+ failed" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)); failed_suites+=("$label"); return
	fi
	passed=$((passed + $(sed -E 's/^[^:]*: ([0-9]+) passed.*/\1/' <<<"$line")))
	failed=$((failed + $(sed -E 's/^[^:]*: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")))
	local s
	s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line"); skipped=$((skipped + ${s:-0}))
	[ "$rc" -eq 0 ] || failed_suites+=("$label")
}

# Dependencies one way: no two source files call each other (read from the objects).
[ -x "$here/layering.sh" ] && run_suite layering "$here/layering.sh" "$build" \
	$([ -d build/aarch64/vmm ] && echo build/aarch64)

# Each libFuzzer target (built by `make test` into build/fuzz) for FUZZ_SECONDS from its
# seed corpus; any finding fails.
[ -d build/fuzz/tests/fuzz ] && run_suite fuzz "$here/fuzz/run.sh" build/fuzz "${FUZZ_SECONDS:-10}"

# Linux guests end to end (in the lab where this host's KVM cannot run them).
[ -x "$here/e2e/run.sh" ] && run_suite e2e "$here/e2e/run.sh" "$build"
[ -x "$here/e2e/arm64.sh" ] && [ -x build/aarch64/kiln ] &&
	run_suite arm64 "$here/e2e/arm64.sh" build/aarch64
# kiln@.service under Debian's systemd as PID 1 (always in the lab: it installs and starts
# units). About 5 minutes; a failed lab is retried twice (the cases that passed in it stand),
# each attempt bounded to 15 minutes.
[ -x "$here/e2e/systemd.sh" ] &&
	SYSTEMD_LAB_RETRY=2 SYSTEMD_LAB_TIMEOUT=900 run_suite systemd "$here/e2e/systemd.sh" "$build"

echo
if [ ${#digest[@]} -gt 0 ]; then
	echo "what failed:"
	printf '  %s\n' "${digest[@]}"
fi
if [ ${#failed_suites[@]} -gt 0 ]; then
	echo "failing suites: ${failed_suites[*]}"
fi
echo "all suites $(took "$t_all")"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ ${#failed_suites[@]} -eq 0 ]
