# Helpers for e2e cases: boot kiln on the guest images with a command, read what came back.
# Sourced by cases.sh with $build and the guest env (KILN_GUEST_*) set.

KILN=${KILN:-$build/kiln}
if [ -z "${E2E_TMP:-}" ]; then
	E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-e2e-XXXXXX")
	trap 'rm -rf "$E2E_TMP"' EXIT
fi

# The failure message a case prints last. Each case runs in its own shell (cases.sh), so
# the first failed expectation ends the case: nothing after it can turn it into a pass.
fail() { echo "$*"; exit 1; }
skip() { echo "$*"; exit 77; }

b64() { printf '%s' "$1" | base64 -w0; }

# In the lab the host's files arrive over 9p, and a 9p request can stall for minutes when
# the emulated machine is starved. A vCPU thread faulting in a page of kiln's own code
# would then freeze the guest, so inside the lab kiln runs from a copy in the lab's memory.
if [ "${KILN_LAB:-}" = 1 ] && [ "$KILN" != "$E2E_TMP/bin/kiln" ]; then
	if [ ! -x "$E2E_TMP/bin/kiln" ]; then
		mkdir -p "$E2E_TMP/bin" && cp "$KILN" "$E2E_TMP/bin/kiln.tmp" &&
			mv "$E2E_TMP/bin/kiln.tmp" "$E2E_TMP/bin/kiln"
	fi
	[ -x "$E2E_TMP/bin/kiln" ] && KILN=$E2E_TMP/bin/kiln
fi

descendants() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

# threads PID: each thread of PID and of its descendants (the jailer's kiln) with its
# state and the kernel function it waits in, and lines from the kernel log that say why
# (hung tasks, lockups), when readable.
threads() {
	local t
	for t in $(for p in "$1" $(descendants "$1"); do echo /proc/"$p"/task/*; done); do
		[ -r "$t/stat" ] || continue
		printf '  thread %s (%s): state %s, waiting in %s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" \
			"$(sed 's/.*) //' "$t/stat" 2>/dev/null | cut -d' ' -f1)" "$(cat "$t/wchan" 2>/dev/null || echo '?')"
		[ -r "$t/stack" ] && head -n 6 "$t/stack" 2>/dev/null | sed 's/^/      /'
	done
	dmesg 2>/dev/null | grep -E 'blocked for more than|soft lockup|rcu.*stall' | tail -n 3 | sed 's/^/  kernel: /'
}

# bounded SECONDS NAME CMD...: runs CMD in the background (the caller's redirections apply
# to the whole call) for at most SECONDS, then stops it with SIGTERM and, 10 s later,
# SIGKILL. Returns CMD's status, or 124 when it had to be stopped; what its threads were
# doing then goes to $E2E_TMP/NAME.stuck (cases.sh reads it to tell a lab stall in 9p
# from a stuck kiln).
bounded() {
	local secs=$1 name=$2 pid dog st
	shift 2
	rm -f "$E2E_TMP/$name.stuck"
	"$@" <&0 &  # keep the caller's stdin: an asynchronous command would get /dev/null
	pid=$!
	(
		exec >/dev/null 2>&1
		nap=
		trap '[ -n "$nap" ] && kill "$nap"; exit 0' TERM
		sleep "$secs" & nap=$!; wait "$nap"
		kill -0 "$pid" || exit 0
		{ echo "still running after $secs s; sending SIGTERM:"; threads "$pid"; } >"$E2E_TMP/$name.stuck"
		kill -TERM "$pid"
		sleep 10 & nap=$!; wait "$nap"
		kill -0 "$pid" || exit 0
		{ echo "still running 10 s after SIGTERM; sending SIGKILL:"; threads "$pid"; } >>"$E2E_TMP/$name.stuck"
		kill -KILL "$pid"
	) &
	dog=$!
	wait "$pid"
	st=$?
	kill "$dog" 2>/dev/null
	wait "$dog" 2>/dev/null
	[ -e "$E2E_TMP/$name.stuck" ] && return 124
	return "$st"
}

# write_config FILE KERNEL VCPUS MEM_MIB BOOT_ARGS [EXTRA_JSON]
write_config() {
	cat > "$1" <<JSON
{
  "boot-source": {
    "kernel_image_path": "$2",
    "initrd_path": "$KILN_GUEST_INITRAMFS",
    "boot_args": "$5"
  },
  "machine-config": { "vcpu_count": $3, "mem_size_mib": $4 }${6:+,
  $6}
}
JSON
}

# boot NAME KERNEL VCPUS MEM_MIB COMMAND EXTRA_BOOT_ARGS [KILN_ARGS...]
# Runs COMMAND in the guest. Sets: status (kiln's exit code), gstatus (the command's
# exit status from the KILN-GUEST-EXIT marker, or "none"), out and err (file names),
# and output (what the command printed: the lines between the markers).
boot() {
	local name=$1 kernel=$2 vcpus=$3 mem=$4 cmd=$5 extra=$6
	shift 6
	local cfg=$E2E_TMP/$name.json
	write_config "$cfg" "$kernel" "$vcpus" "$mem" \
		"$KILN_GUEST_CMDLINE kiln.run=$(b64 "$cmd") $extra" "${E2E_EXTRA_JSON:-}"
	out=$E2E_TMP/$name.out
	err=$E2E_TMP/$name.err
	bounded "${E2E_TIMEOUT:-120}" "$name" "$KILN" --no-api --config-file "$cfg" "$@" </dev/null >"$out" 2>"$err"
	status=$?
	gstatus=$(sed -n 's/^KILN-GUEST-EXIT \([0-9]*\).*/\1/p' "$out" | tail -n 1)
	gstatus=${gstatus:-none}
	output=$(tr -d '\r' < "$out" | sed -n '/^KILN-GUEST-INIT/,/^KILN-GUEST-EXIT/p' | sed '1d;$d')
	echo "kiln exit $status, guest exit $gstatus; output:"
	printf '%s\n' "$output" | sed 's/^/  | /'
	if [ "$status" -ne 0 ] || [ "$gstatus" = none ]; then
		echo "kiln's log:"; tail -n 15 "$err" | sed 's/^/  ! /'
		echo "console (tail):"; tr -d '\r' < "$out" | tail -n 15 | sed 's/^/  > /'
		[ -e "$E2E_TMP/$name.stuck" ] && cat "$E2E_TMP/$name.stuck"
	fi
	# Every Linux e2e run is filtered: a run with seccomp off fails.
	if grep -q 'SECCOMP IS OFF\|seccomp filters are not installed' "$err"; then
		echo "kiln ran without seccomp filters"
		status=99
	fi
}

# Boot succeeded, the command ran and exited 0.
expect_ok() {
	[ "$status" -eq 0 ] || fail "kiln exited with $status"
	[ "$gstatus" = 0 ] || fail "the guest command exited with $gstatus"
}

expect_output() {
	printf '%s\n' "$output" | grep -qx -- "$1" || fail "no output line \"$1\""
}

# wait_for FILE PATTERN SECONDS PID: until FILE has a line matching PATTERN, or PID ended.
wait_for() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
