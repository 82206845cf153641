#!/bin/bash
# Runs every e2e case (functions named case_* in cases/*.sh) where Linux guests can boot.
#   tests/e2e/cases.sh BUILD_DIR GUEST_ENV_FILE [CASE... | --list]
set -u
build=$1
envfile=$2
. "$envfile"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
for f in "$here"/cases/*.sh; do
	. "$f"
done

# written_contains PATTERN [FIND-TESTS...]: whether a text file the current case wrote contains
# PATTERN (grep basic regex).
written_contains() {
	local pattern=$1
	shift
	find "$E2E_TMP" -type f -newer "$E2E_TMP/.case-start" "$@" \
		-exec grep -qsI "$pattern" {} \; -print -quit | grep -q .
}

# guest_froze: whether a kiln run the case had to stop (bounded's .stuck report) found the
# guest frozen, not kiln: every vCPU thread was inside KVM_RUN (halted, or running guest
# code) and kiln then stopped on SIGTERM, without needing SIGKILL.
guest_froze() {
	local f
	for f in $(find "$E2E_TMP" -type f -newer "$E2E_TMP/.case-start" -name '*.stuck'); do
		grep -q 'after SIGTERM' "$f" && continue
		awk '/^  thread [0-9]+ \(kiln_vcpu / { n++; if (/state R,|waiting in kvm_vcpu_block/) k++ }
			END { exit !(n > 0 && n == k) }' "$f" && return 0
	done
	return 1
}

# lab_fault: why the failed case is the lab's failure rather than kiln's, or nothing. Only
# in the lab, where tests/e2e/run.sh runs such a case again (see there and
# tools/lab/README.md): a kiln thread stuck in the lab's 9p file transport (bounded's
# .stuck report), or an SMP guest that triple-faulted or froze inside KVM (the lab's
# emulated SVM does that; QEMU's own SMP guests die there too).
lab_fault() {
	[ "${KILN_LAB:-}" = 1 ] || return 0
	if written_contains 'p9_\|v9fs_' -name '*.stuck'; then
		echo "a kiln thread waited in the lab's 9p transport"
	elif written_contains 'guest shut down (triple fault)'; then
		echo "the guest triple-faulted in the lab"
	elif guest_froze; then
		echo "the guest froze in the lab (every vCPU thread inside KVM_RUN; kiln stopped on SIGTERM)"
	fi
}

passed=0 failed=0 skipped=0
mapfile -t all < <(declare -F | awk '$3 ~ /^case_/ {print $3}')
cases=("${@:3}")
if [ "${cases[0]:-}" = --list ]; then
	printf '%s\n' "${all[@]}"
	exit 0
fi
[ ${#cases[@]} -gt 0 ] || cases=("${all[@]}")
# E2E_MARK=1 (tests/e2e/run.sh in the lab, where one lab runs many cases): a line
# "E2E-BEGIN name" before each case, and the run ends after a case that failed for the
# lab's reason (E2E-LAB), since a lab whose guest triple-faulted often panics soon after.
root=$E2E_TMP n=0
for c in "${cases[@]}"; do
	n=$((n + 1))
	start=$(date +%s)
	name=${c#case_}
	[ "${E2E_MARK:-}" = 1 ] && echo "E2E-BEGIN $name"
	# Each case in its own directory (a short name: sockets live there), removed when it
	# passed or was skipped (a long run must not fill the lab's memory), and its own shell
	# under a watchdog: a stuck case cannot stall the rest.
	E2E_TMP=$root/$n
	mkdir -p "$E2E_TMP" && touch "$E2E_TMP/.case-start"
	E2E_TMP=$E2E_TMP timeout -k 10 "${E2E_CASE_TIMEOUT:-300}" bash -c '
		build=$1; . "$2"; . "$3/lib.sh"; trap - EXIT
		for f in "$3"/cases/*.sh; do . "$f"; done
		set +e; "$4"' case "$build" "$envfile" "$here" "$c" > "$E2E_TMP/case.log" 2>&1
	rc=$?
	[ "$rc" -eq 124 ] && echo "timed out after ${E2E_CASE_TIMEOUT:-300} s" >> "$E2E_TMP/case.log"
	secs=$(( $(date +%s) - start ))
	why=
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS $name (${secs}s)"
	elif [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1)); echo "SKIP $name: $(tail -n 1 "$E2E_TMP/case.log")"
	else
		failed=$((failed + 1)); echo "FAIL $name (${secs}s):"
		tail -n 80 "$E2E_TMP/case.log" | sed 's/^/    /'
		why=$(lab_fault)
		[ -n "$why" ] && echo "E2E-LAB: $why"
	fi
	[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] && [ -z "${E2E_KEEP:-}" ] && rm -rf "$E2E_TMP"
	E2E_TMP=$root
	[ -n "$why" ] && [ "${E2E_MARK:-}" = 1 ] && break
done
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
