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

passed=0 failed=0 skipped=0
cases=("${@:3}")
if [ "${cases[0]:-}" = --list ]; then
	declare -F | awk '$3 ~ /^case_/ {print $3}'
	exit 0
fi
[ ${#cases[@]} -gt 0 ] || mapfile -t cases < <(declare -F | awk '$3 ~ /^case_/ {print $3}')
for c in "${cases[@]}"; do
	start=$(date +%s)
	E2E_WHY=""
	touch "$E2E_TMP/.case-start"
	# Each case in its own shell under a watchdog: a stuck case cannot stall the rest.
	E2E_TMP=$E2E_TMP timeout -k 10 "${E2E_CASE_TIMEOUT:-300}" bash -c '
		build=$1; . "$2"; . "$3/lib.sh"; trap - EXIT
		for f in "$3"/cases/*.sh; do . "$f"; done
		set +e; "$4"' case "$build" "$envfile" "$here" "$c" > "$E2E_TMP/$c.log" 2>&1
	rc=$?
	[ "$rc" -eq 124 ] && echo "timed out after ${E2E_CASE_TIMEOUT:-300} s" >> "$E2E_TMP/$c.log"
	secs=$(( $(date +%s) - start ))
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS ${c#case_} (${secs}s)"
	elif [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1)); echo "SKIP ${c#case_}: $(tail -n 1 "$E2E_TMP/$c.log")"
	else
		failed=$((failed + 1)); echo "FAIL ${c#case_} (${secs}s):"
		tail -n 25 "$E2E_TMP/$c.log" | sed 's/^/    /'
		grep -h '^E2E-LAB-STALL' "$E2E_TMP/$c.log" | head -n 1
		# In the lab even QEMU's own microvm loses SMP guests to a sudden triple fault
		# (tools/lab/README.md), so there it marks the lab, not kiln, for the runner.
		if [ "${KILN_LAB:-}" = 1 ] && find "$E2E_TMP" -type f -newer "$E2E_TMP/.case-start" \
			-exec grep -qsI 'guest shut down (triple fault)' {} \; -print -quit | grep -q .; then
			echo "E2E-LAB-FAULT: the guest triple-faulted in the lab"
		fi
	fi
done
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
