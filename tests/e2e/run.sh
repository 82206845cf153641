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
# The cases run in one lab, one after another. When the emulated machine hangs or fails
# (status 124 or 125) or a case failed for a reason that is the lab's (the line "E2E-LAB:
# why" from cases.sh: kiln stuck on the lab's 9p file transport, or an SMP guest that
# triple-faulted or froze; QEMU's own SMP guests die in the lab too), that lab ends; its
# case is counted an attempt, and it and the cases not reached yet run in a new lab. A
# case is tried at most three times. Any other failure inside a working lab is a failure;
# on a host that runs Linux guests directly nothing is retried.
passed=0 failed=0 skipped=0
mapfile -t cases < <(E2E_TMP=/tmp "$here/cases.sh" "$build" "$envfile" --list)
[ ${#sel[@]} -gt 0 ] && cases=("${sel[@]}")
declare -A tries=()
pending=("${cases[@]}")
labs=0 idle=0
while [ ${#pending[@]} -gt 0 ]; do
	labs=$((labs + 1))
	done_now=() cur= seg= pre= rc= began=0
	# flush: the case just read (its name in $cur, its lines in $seg) is over, or was cut
	# short by the lab ($rc set).
	flush() {
		[ -n "$cur" ] || return 0
		local res why
		res=$(printf '%s' "$seg" | grep -E "^(PASS|FAIL|SKIP) $cur[ :]" | head -n 1)
		why=$(printf '%s' "$seg" | sed -n 's/^E2E-LAB: //p' | head -n 1)
		if [ -n "$res" ] && [ -z "$why" ]; then
			printf '%s' "$seg" | grep -v '^e2e: [0-9]* passed'
			case "$res" in
			PASS*) passed=$((passed + 1)) ;;
			SKIP*) skipped=$((skipped + 1)) ;;
			*) failed=$((failed + 1)) ;;
			esac
			done_now+=("case_$cur")
			cur=
			return 0
		fi
		tries[$cur]=$(( ${tries[$cur]:-0} + 1 ))
		if [ -n "$why" ]; then
			echo "e2e: $cur: $why; attempt ${tries[$cur]}"
			printf '%s' "$seg" | grep -A8 -m1 'still running after\|triple fault' | sed 's/^/    /'
		else
			echo "e2e: the lab failed while running $cur (status $rc); attempt ${tries[$cur]}"
			printf '%s' "$seg" | grep '^lab' | tail -n 3 | sed 's/^/    /'
		fi
		if [ "${tries[$cur]}" -ge 3 ]; then
			printf '%s' "$seg" | grep -v '^e2e: [0-9]* passed'
			[ -n "$res" ] || echo "FAIL $cur: no result from the lab (status $rc)"
			failed=$((failed + 1))
			done_now+=("case_$cur")
		fi
		cur=
	}
	# Each case is printed as soon as it ended. Each has its own 300 s watchdog inside;
	# the lab's own heartbeat ends a frozen lab.
	while IFS= read -r line; do
		if [[ $line == "E2E-BEGIN "* ]]; then
			flush
			cur=${line#E2E-BEGIN } seg= began=1
		elif [[ $line == "E2E-LABRC "* ]]; then
			rc=${line#E2E-LABRC }
		elif [ -n "$cur" ]; then
			seg+=$line$'\n'
		else
			pre+=$line$'\n'
		fi
	done < <("$top/tools/lab/run" --timeout $(( ${E2E_LAB_TIMEOUT:-360} + 240 * ${#pending[@]} )) \
		--mem 3072 --cpus 2 -- env E2E_MARK=1 "$here/cases.sh" "$build" "$envfile" \
		"${pending[@]}" 2>&1; echo "E2E-LABRC $?")
	flush
	if [ "$began" = 0 ]; then
		# Not even one case began: the lab could not start. Three such labs end the run.
		idle=$((idle + 1))
		echo "e2e: the lab ran no case (status $rc); attempt $idle"
		printf '%s' "$pre" | tail -n 5 | sed 's/^/    /'
		if [ "$idle" -ge 3 ]; then
			for c in "${pending[@]}"; do echo "FAIL ${c#case_}: no lab ran it"; done
			failed=$((failed + ${#pending[@]}))
			break
		fi
		continue
	fi
	idle=0
	left=()
	for c in "${pending[@]}"; do
		[[ " ${done_now[*]} " == *" $c "* ]] || left+=("$c")
	done
	pending=("${left[@]}")
done
[ "$labs" -gt 1 ] && echo "e2e: the cases ran in $labs labs"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
