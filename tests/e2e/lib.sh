# Helpers for e2e cases: boot kiln on the guest images with a command, read what came back.
# Sourced by cases.sh with $build and the guest env (KILN_GUEST_*) set.

KILN=${KILN:-$build/kiln}
if [ -z "${E2E_TMP:-}" ]; then
	E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-e2e-XXXXXX")
	trap 'rm -rf "$E2E_TMP"' EXIT
fi

# The failure message a case prints last, then `return 1`.
fail() { echo "$*"; return 1; }
skip() { echo "$*"; exit 77; }

b64() { printf '%s' "$1" | base64 -w0; }

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
	timeout -k 10 "${E2E_TIMEOUT:-180}" "$KILN" --config-file "$cfg" "$@" </dev/null >"$out" 2>"$err"
	status=$?
	gstatus=$(sed -n 's/^KILN-GUEST-EXIT \([0-9]*\).*/\1/p' "$out" | tail -n 1)
	gstatus=${gstatus:-none}
	output=$(tr -d '\r' < "$out" | sed -n '/^KILN-GUEST-INIT/,/^KILN-GUEST-EXIT/p' | sed '1d;$d')
	echo "kiln exit $status, guest exit $gstatus; output:"
	printf '%s\n' "$output" | sed 's/^/  | /'
	if [ "$status" -ne 0 ] || [ "$gstatus" = none ]; then
		echo "kiln's log:"; tail -n 15 "$err" | sed 's/^/  ! /'
		echo "console (tail):"; tr -d '\r' < "$out" | tail -n 15 | sed 's/^/  > /'
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
