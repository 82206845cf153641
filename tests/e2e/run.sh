#!/bin/bash
# Linux end-to-end tests: kiln boots Debian's kernel and runs commands in it.
#   tests/e2e/run.sh BUILD_DIR [CASE...]
# CASE names one case (as listed by cases.sh --list, with or without "case_"); default all.
# Linux guests run directly when this host's /dev/kvm can boot Linux (hardware VMX/SVM),
# in the lab (tools/lab) otherwise; the output says which. The last line is
# "e2e: N passed, N failed, N skipped".
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mkdir -p "$build/e2e"
envfile=$build/e2e/guest.env
sel=()
for c in "${@:2}"; do sel+=("case_${c#case_}"); done

if ! "$top/tools/guest/build.sh" --quiet --env "$envfile" >/dev/null; then
	echo "e2e: the guest images could not be built (see above)"
	echo "e2e: 0 passed, 1 failed, 0 skipped"
	exit 1
fi

# The run image (what kiln-run boots: Python 3 and the agent on a read-only base) goes into
# the same env file; without it only the cases that need it are skipped.
if [ -x "$build/kiln-agent" ] &&
	"$top/tools/guest/run-image.sh" --quiet --agent "$build/kiln-agent" --env "$build/e2e/run.env" >/dev/null; then
	cat "$build/e2e/run.env" >> "$envfile"
else
	echo "e2e: the run image could not be built; the cases that boot it will be skipped"
fi

mode=$("$top/tools/lab/detect")
if [ "$mode" = direct ]; then
	echo "e2e: Linux guests run directly on this host's /dev/kvm"
	exec "$here/cases.sh" "$build" "$envfile" "${sel[@]}"
fi

echo "e2e: this host's /dev/kvm cannot boot Linux ($("$top/tools/lab/detect" -v 2>&1 | tail -n 1));" \
	"Linux guests run in the lab"
# One lab run per case. When the emulated machine hangs or fails to start (status 124 or
# 125), or a case failed for a reason that is the lab's (the line "E2E-LAB: why" from
# cases.sh: kiln stuck on the lab's 9p file transport, or an SMP guest that triple-faulted
# or froze; QEMU's own SMP guests die in the lab too), only that case is run again, at most
# twice. Any other failure inside a working lab is a failure; on a host that runs Linux
# guests directly nothing is retried.
passed=0 failed=0 skipped=0
mapfile -t cases < <(E2E_TMP=/tmp "$here/cases.sh" "$build" "$envfile" --list)
[ ${#sel[@]} -gt 0 ] && cases=("${sel[@]}")
for c in "${cases[@]}"; do
	for attempt in 1 2 3; do
		out=$("$top/tools/lab/run" --timeout "${E2E_LAB_TIMEOUT:-360}" --mem 3072 --cpus 2 -- \
			"$here/cases.sh" "$build" "$envfile" "$c" 2>&1)
		rc=$?
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 125 ]; then
			echo "e2e: the lab failed while running ${c#case_} (status $rc); attempt $attempt"
			printf '%s\n' "$out" | grep '^lab' | tail -n 3 | sed 's/^/    /'
		elif why=$(printf '%s\n' "$out" | sed -n 's/^E2E-LAB: //p' | head -n 1) && [ -n "$why" ]; then
			echo "e2e: ${c#case_}: $why; attempt $attempt"
			printf '%s\n' "$out" | grep -A8 -m1 'still running after\|triple fault' | sed 's/^/    /'
		else
			break
		fi
	done
	printf '%s\n' "$out" | grep -v '^e2e: [0-9]* passed'
	line=$(printf '%s\n' "$out" | grep -E '^e2e: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		echo "FAIL ${c#case_}: no result from the lab (status $rc)"
		continue
	fi
	read -r p f k < <(sed -E 's/^e2e: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' <<<"$line")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
done
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
