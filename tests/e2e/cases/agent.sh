# The guest agent in a real microVM: kiln-agent in a Linux guest's initramfs, started by
# /init, listening on vsock port 1024; kiln-agent-client on the host through kiln's
# uds_path (Firecracker's CONNECT handshake). exec with separate streams and its exit
# status, a time limit, 16 MiB of output checked by hash, files in and out byte for byte,
# and a shutdown that powers the guest off and ends kiln with 0.

AGENT=${AGENT:-$build/kiln-agent}
AGENT_CLIENT=${AGENT_CLIENT:-$build/kiln-agent-client}

case_agent_serves_a_linux_guest_over_vsock() {
	[ -x "$AGENT" ] && [ -x "$AGENT_CLIENT" ] || skip "no $AGENT or $AGENT_CLIENT (make)"
	ldd "$AGENT" 2>&1 | grep -q "=>" && skip "$AGENT is not static (a sanitizer build?)"
	local dir=$E2E_TMP/agent initrd=$E2E_TMP/agent-initramfs.cpio.gz uds cfg=$E2E_TMP/agent.json
	mkdir -p "$dir/extra" && uds=$dir/v.sock
	cp "$AGENT" "$dir/extra/kiln-agent" && chmod 0755 "$dir/extra/kiln-agent" || fail "cannot copy the agent"
	cat "$KILN_GUEST_INITRAMFS" > "$initrd" &&
		(cd "$dir/extra" && echo kiln-agent | cpio --quiet -o -H newc -R 0:0) | gzip -n >> "$initrd" ||
		fail "cannot build the initramfs with the agent"
	local KILN_GUEST_INITRAMFS=$initrd
	write_config "$cfg" "$KILN_GUEST_VMLINUX" 1 256 \
		"$KILN_GUEST_CMDLINE kiln.exit=poweroff kiln.run=$(b64 'echo agent-starting; exec /kiln-agent')" \
		"\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"$uds\"}"
	bounded 240 agent "$KILN" --no-api --config-file "$cfg" </dev/null >"$dir/console" 2>"$dir/kiln.err" &
	local kpid=$! i ok=1 c=("$AGENT_CLIENT" --uds "$uds" --connect-timeout 2000)
	# The agent is up once a ping comes back.
	for i in $(seq 120); do
		"${c[@]}" ping -c 1 >/dev/null 2>&1 && break
		kill -0 "$kpid" 2>/dev/null || break
		sleep 1
	done
	"${c[@]}" ping -c 3 > "$dir/ping" 2>&1 || { ok=0; echo "no ping: $(cat "$dir/ping")"; }
	local st
	if [ "$ok" = 1 ]; then
		"${c[@]}" exec -n -- sh -c 'echo out-line; echo err-line >&2; exit 3' \
			> "$dir/o1" 2> "$dir/e1"
		st=$?
		echo "exec: status $st, stdout '$(cat "$dir/o1")', stderr '$(cat "$dir/e1")'"
		[ "$st" = 3 ] && [ "$(cat "$dir/o1")" = out-line ] && [ "$(cat "$dir/e1")" = err-line ] || ok=0
		"${c[@]}" exec -n -t 1 -- sleep 30 > /dev/null 2>&1
		st=$?
		echo "exec with a 1 s limit of sleep 30: status $st"
		[ "$st" = 124 ] || ok=0
		"${c[@]}" exec -n -- sh -c 'head -c 16777216 /dev/urandom > /tmp/big; md5sum < /tmp/big >&2; cat /tmp/big' \
			> "$dir/big" 2> "$dir/big.sum"
		st=$?
		echo "16 MiB out: status $st, $(wc -c < "$dir/big") bytes, guest md5 $(cut -d' ' -f1 "$dir/big.sum"), host md5 $(md5sum < "$dir/big" | cut -d' ' -f1)"
		[ "$st" = 0 ] && [ "$(cut -d' ' -f1 "$dir/big.sum")" = "$(md5sum < "$dir/big" | cut -d' ' -f1)" ] || ok=0
		head -c 1048576 /dev/urandom > "$dir/in.bin"
		chmod 0640 "$dir/in.bin"
		"${c[@]}" put "$dir/in.bin" /tmp/in.bin && "${c[@]}" get /tmp/in.bin "$dir/back.bin"
		st=$?
		echo "put and get of 1 MiB: status $st, $(cmp "$dir/in.bin" "$dir/back.bin" 2>&1 && echo identical), mode $(stat -c %a "$dir/back.bin" 2>/dev/null)"
		[ "$st" = 0 ] && cmp -s "$dir/in.bin" "$dir/back.bin" && [ "$(stat -c %a "$dir/back.bin")" = 640 ] || ok=0
		"${c[@]}" shutdown poweroff || { echo "shutdown failed"; ok=0; }
	fi
	wait "$kpid"
	st=$?
	echo "kiln exit $st"
	if [ "$ok" != 1 ] || [ "$st" != 0 ]; then
		echo "kiln's log:"; tail -n 15 "$dir/kiln.err" | sed 's/^/  ! /'
		echo "console (tail):"; tr -d '\r' < "$dir/console" | tail -n 15 | sed 's/^/  > /'
		[ -e "$E2E_TMP/agent.stuck" ] && cat "$E2E_TMP/agent.stuck"
	fi
	grep -qi 'seccomp\|SIGSYS\|bad system call' "$dir/kiln.err" && fail "a seccomp violation in kiln's log"
	[ "$ok" = 1 ] || fail "a request to the agent did not give what was expected (above)"
	[ "$st" = 0 ] || fail "kiln did not end with 0 after the agent powered the guest off"
}

# The run image: kiln-agent as PID 1 over the read-only, shared base with Python 3, the
# writable layer in guest memory. A Python script runs with its own exit status, writes
# where it likes, and the base image is not changed by a byte.
case_run_image_runs_python_on_a_read_only_base() {
	[ -n "${KILN_RUN_ROOTFS:-}" ] && [ -r "$KILN_RUN_ROOTFS" ] || skip "no run image (tools/guest/run-image.sh)"
	local dir=$E2E_TMP/run uds cfg=$E2E_TMP/run.json sum st ok=1
	mkdir -p "$dir" && uds=$dir/v.sock
	sum=$(md5sum < "$KILN_RUN_ROOTFS")
	cat > "$cfg" <<JSON
{ "boot-source": { "kernel_image_path": "$KILN_RUN_KERNEL", "initrd_path": "$KILN_RUN_INITRAMFS",
                   "boot_args": "$KILN_RUN_CMDLINE" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "drives": [{ "drive_id": "base", "path_on_host": "$KILN_RUN_ROOTFS", "is_root_device": false,
               "is_read_only": true }],
  "vsock": { "guest_cid": 3, "uds_path": "$uds" } }
JSON
	bounded 240 runimg "$KILN" --no-api --config-file "$cfg" </dev/null >"$dir/console" 2>"$dir/kiln.err" &
	local kpid=$! i c=("$AGENT_CLIENT" --uds "$uds" --connect-timeout 2000)
	for i in $(seq 120); do
		"${c[@]}" ping -c 1 >/dev/null 2>&1 && break
		kill -0 "$kpid" 2>/dev/null || break
		sleep 1
	done
	cat > "$dir/script.py" <<'PY'
import json, os, sys, hashlib
with open("/etc/written-by-the-run", "w") as f:
    f.write("hello")
print(json.dumps({"sum": 1 + 2, "pid1": open("/proc/1/comm").read().strip(),
                  "sha": hashlib.sha256(b"kiln").hexdigest()[:8]}))
print("to stderr", file=sys.stderr)
sys.exit(7)
PY
	"${c[@]}" put "$dir/script.py" /tmp/script.py || ok=0
	"${c[@]}" exec -n -- python3 /tmp/script.py > "$dir/o" 2> "$dir/e"
	st=$?
	echo "python3: status $st, stdout $(cat "$dir/o"), stderr $(cat "$dir/e")"
	[ "$st" = 7 ] && [ "$(cat "$dir/o")" = '{"sum": 3, "pid1": "kiln-agent", "sha": "cdfe9ad5"}' ] &&
		[ "$(cat "$dir/e")" = "to stderr" ] || ok=0
	"${c[@]}" exec -n -- cat /etc/written-by-the-run > "$dir/w" 2>&1 || ok=0
	[ "$(cat "$dir/w")" = hello ] || { echo "the file written to /etc reads '$(cat "$dir/w")'"; ok=0; }
	"${c[@]}" exec -n -- sh -c 'grep " / " /proc/mounts' > "$dir/m" 2>&1
	echo "root mount: $(cat "$dir/m")"
	grep -q '^overlay / overlay' "$dir/m" || ok=0
	"${c[@]}" shutdown poweroff || ok=0
	wait "$kpid"
	st=$?
	echo "kiln exit $st"
	if [ "$ok" != 1 ] || [ "$st" != 0 ]; then
		echo "kiln's log:"; tail -n 15 "$dir/kiln.err" | sed 's/^/  ! /'
		echo "console (tail):"; tr -d '\r' < "$dir/console" | tail -n 15 | sed 's/^/  > /'
		[ -e "$E2E_TMP/runimg.stuck" ] && cat "$E2E_TMP/runimg.stuck"
	fi
	[ "$ok" = 1 ] || fail "the run image did not run the script as expected (above)"
	[ "$st" = 0 ] || fail "kiln did not end with 0 after the agent powered the guest off"
	[ "$(md5sum < "$KILN_RUN_ROOTFS")" = "$sum" ] || fail "the read-only base image changed"
}
