# virtio-vsock with a Linux guest (AF_VSOCK, Debian's vsock modules) and Firecracker's
# Unix-socket protocol on the host: both directions, echoed byte for byte, 100
# connections at once, a large transfer (E2E_VSOCK_BYTES, default 100 MiB each way),
# refused ports, and no seccomp violation.

VSOCK_PEER=${VSOCK_PEER:-$build/tests/helpers/vsock_peer}

# vsock_initramfs OUT: the guest initramfs with /vsock_peer appended (a second cpio
# archive: the kernel unpacks them in order).
vsock_initramfs() {
	local dir=$E2E_TMP/vsock-extra
	mkdir -p "$dir" && cp "$VSOCK_PEER" "$dir/vsock_peer" && chmod 0755 "$dir/vsock_peer" || return 1
	cat "$KILN_GUEST_INITRAMFS" > "$1" &&
		(cd "$dir" && echo vsock_peer | cpio --quiet -o -H newc -R 0:0) | gzip -n >> "$1"
}

case_vsock_both_directions_with_a_linux_guest() {
	[ -x "$VSOCK_PEER" ] || skip "no $VSOCK_PEER (make test-bins)"
	case "$(head -c 20 "$VSOCK_PEER" | od -An -tx1)" in
	*"7f 45 4c 46"*) ;;
	*) skip "$VSOCK_PEER is not an ELF program" ;;
	esac
	ldd "$VSOCK_PEER" 2>&1 | grep -q "=>" && skip "$VSOCK_PEER is not static (a sanitizer build?)"

	local big=${E2E_VSOCK_BYTES:-104857600} many=${E2E_VSOCK_CONNS:-100} small=65536
	local dir=$E2E_TMP/vsock uds initrd=$E2E_TMP/vsock-initramfs.cpio.gz
	mkdir -p "$dir" && uds=$dir/v.sock
	rm -f "$uds" "${uds}_6000"
	vsock_initramfs "$initrd" || fail "cannot build the guest initramfs with vsock_peer"

	# The guest: connect to the host (ports 6000, refused 7000), then serve vsock port
	# 5000 for the host's connections: one small, one large, $many at once.
	local served=$((2 + many))
	local cmd="/vsock_peer echo-vsock 2 6000 $small && /vsock_peer echo-vsock 2 6000 $big &&
/vsock_peer refused-vsock 2 7000 && /vsock_peer serve-vsock 5000 $served"

	# The host: an echo server for the guest's connections.
	"$VSOCK_PEER" serve-unix "${uds}_6000" 2 > "$dir/host-server.out" 2>&1 &
	local hs=$!

	local cfg=$E2E_TMP/vsock.json out=$E2E_TMP/vsock.out err=$E2E_TMP/vsock.err
	local KILN_GUEST_INITRAMFS=$initrd
	write_config "$cfg" "$KILN_GUEST_VMLINUX" 1 256 \
		"$KILN_GUEST_CMDLINE kiln.run=$(b64 "$cmd")" \
		"\"vsock\": {\"vsock_id\": \"vsock0\", \"guest_cid\": 3, \"uds_path\": \"$uds\"},
  \"metrics\": {\"metrics_path\": \"$dir/metrics.json\"}"
	bounded "${E2E_TIMEOUT:-240}" vsock "$KILN" --no-api --config-file "$cfg" </dev/null >"$out" 2>"$err" &
	local kpid=$!

	local ok=1
	if ! wait_for "$out" 'listening on vsock port 5000' 200 "$kpid"; then
		echo "the guest's vsock server never started"
		ok=0
	fi
	if [ "$ok" = 1 ]; then
		# The guest's server ends after its last connection, and the guest with it:
		# the refused port is tried while it still runs.
		echo "host -> guest: a port nobody listens on"
		"$VSOCK_PEER" refused-unix "$uds" 5999 || ok=0
		echo "host -> guest: $small bytes"
		"$VSOCK_PEER" echo-unix "$uds" 5000 "$small" || ok=0
		echo "host -> guest: $big bytes"
		"$VSOCK_PEER" echo-unix "$uds" 5000 "$big" || ok=0
		echo "host -> guest: $many connections at once"
		"$VSOCK_PEER" echo-unix "$uds" 5000 "$small" "$many" > "$dir/many.out" \
			2> "$dir/many.err" || ok=0
		grep -v '^ok: ' "$dir/many.out"
		# What the clients that failed said, each different line once with its count.
		sort "$dir/many.err" | uniq -c | sort -rn | head -n 8 | sed 's/^ */  /'
	fi
	wait "$kpid"
	status=$?
	kill "$hs" 2>/dev/null
	wait "$hs" 2>/dev/null
	output=$(tr -d '\r' < "$out" | sed -n '/^KILN-GUEST-INIT/,/^KILN-GUEST-EXIT/p' | sed '1d;$d')
	gstatus=$(sed -n 's/^KILN-GUEST-EXIT \([0-9]*\).*/\1/p' "$out" | tail -n 1)
	gstatus=${gstatus:-none}
	echo "kiln exit $status, guest exit $gstatus; guest output:"
	printf '%s\n' "$output" | sed 's/^/  | /'
	echo "host echo server:"; sed 's/^/  | /' "$dir/host-server.out"
	echo "kiln's vsock metrics, summed:"
	grep -o '"vsock":{[^}]*}' "$dir/metrics.json" 2>/dev/null | tr -d '"{}' | sed 's/^vsock://' |
		tr ',' '\n' | awk -F: '{ s[$1] += $2 } END { for (k in s) printf "  %s %d\n", k, s[k] }' | sort
	if [ "$status" -ne 0 ] || [ "$gstatus" != 0 ] || [ "$ok" != 1 ]; then
		echo "kiln's log:"; tail -n 20 "$err" | sed 's/^/  ! /'
		echo "console (tail):"; tr -d '\r' < "$out" | tail -n 20 | sed 's/^/  > /'
		[ -e "$E2E_TMP/vsock.stuck" ] && cat "$E2E_TMP/vsock.stuck"
	fi
	grep -q 'SECCOMP IS OFF\|seccomp filters are not installed' "$err" &&
		fail "kiln ran without seccomp filters"
	grep -qi 'seccomp\|SIGSYS\|bad system call' "$err" && fail "a seccomp violation in kiln's log"
	[ "$ok" = 1 ] || fail "a host-side check failed (above)"
	expect_ok || return 1
	[ "$(printf '%s\n' "$output" | grep -c '^ok: ')" = 2 ] ||
		fail "the guest's two echoes through <uds_path>_6000 did not both succeed"
	printf '%s\n' "$output" | grep -q "^ok: $big bytes" || fail "no large guest-to-host echo"
	printf '%s\n' "$output" | grep -q '^refused: ' || fail "port 7000 was not refused"
	printf '%s\n' "$output" | grep -q "served $served connections$" ||
		fail "the guest's server did not serve $served connections cleanly"
	grep -q 'served 2 connections$' "$dir/host-server.out" ||
		fail "the host's server did not serve the guest's 2 connections cleanly"
	[ -S "$uds" ] || fail "$uds is not a socket"
}
