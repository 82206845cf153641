# Linux through the API: Firecracker's getting-started sequence with curl, and
# SendCtrlAltDel rebooting the guest.

# api_start NAME: kiln serving $E2E_TMP/NAME.sock, its output in NAME.out and NAME.err.
api_start() {
	api_sock=$E2E_TMP/$1.sock
	out=$E2E_TMP/$1.out
	err=$E2E_TMP/$1.err
	rm -f "$api_sock"
	"$KILN" --api-sock "$api_sock" </dev/null >"$out" 2>"$err" &
	api_pid=$!
	for _ in $(seq 100); do [ -S "$api_sock" ] && return 0; sleep 0.1; done
	kill "$api_pid"
	fail "the API socket never appeared"
}

# api CODE METHOD PATH [BODY]: the request must be answered with CODE.
api() {
	local want=$1 method=$2 path=$3 body=${4:-} code
	code=$(curl -s -o "$E2E_TMP/api.body" -w '%{http_code}' --unix-socket "$api_sock" \
		-X "$method" "http://localhost$path" -H 'Accept: application/json' \
		-H 'Content-Type: application/json' ${body:+-d "$body"})
	[ "$code" = "$want" ] || { kill "$api_pid"; fail "$method $path: $code $(cat "$E2E_TMP/api.body"), want $want"; }
}

# api_configure COMMAND: boot-source (the command to run), machine-config, InstanceStart.
api_configure() {
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$KILN_GUEST_VMLINUX\", \"initrd_path\": \"$KILN_GUEST_INITRAMFS\", \"boot_args\": \"$KILN_GUEST_CMDLINE kiln.run=$(b64 "$1")\"}"
	api 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
}

# api_wait: kiln's exit status once it ends (at most 120 s).
api_wait() {
	for _ in $(seq 1200); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$api_pid" 2>/dev/null && { kill -9 "$api_pid"; fail "kiln did not end"; }
	wait "$api_pid"
}

case_linux_boots_through_the_api_with_curl() {
	command -v curl >/dev/null || skip "curl is not installed"
	api_start apiboot
	api 200 GET /
	api_configure 'echo e2e-api-hello; exit 0'
	local st=0
	api_wait || st=$?
	tr -d '\r' < "$out" | grep -qx e2e-api-hello || fail "no output from the guest; $(tail -n 5 "$err")"
	[ "$st" -eq 0 ] || fail "kiln exited with $st"
}

case_send_ctrl_alt_del_reboots_a_linux_guest() {
	command -v curl >/dev/null || skip "curl is not installed"
	api_start apicad
	api_configure 'echo e2e-waiting; sleep 90; echo e2e-slept'
	for _ in $(seq 600); do grep -q e2e-waiting "$out" && break; sleep 0.2; done
	grep -q e2e-waiting "$out" || { kill "$api_pid"; fail "the guest never ran its command"; }
	api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	local st=0
	api_wait || st=$?
	[ "$st" -eq 0 ] || fail "kiln exited with $st; $(tail -n 5 "$err")"
	grep -q e2e-slept "$out" && fail "the guest finished its command: Ctrl+Alt+Del did nothing"
	grep -q 'guest reset through the i8042' "$err" || fail "no i8042 reset in kiln's log"
}

# PATCH /drives/{id} while Linux runs: its virtio-blk driver takes the config-change
# interrupt, the disk grows from 1 MiB to 3 MiB, and reads come from the new image.
case_patch_drive_gives_linux_the_new_image_and_its_size() {
	command -v curl >/dev/null || skip "curl is not installed"
	local old=$E2E_TMP/patch-old.img new=$E2E_TMP/patch-new.img
	printf 'e2e-old-image' > "$old" && truncate -s 1M "$old"
	printf 'e2e-new-image' > "$new" && truncate -s 3M "$new"
	api_start apipatch
	api 204 PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$old\", \"is_root_device\": false, \"is_read_only\": true}"
	api_configure 'cat /sys/block/vda/size; head -c 13 /dev/vda; echo; echo e2e-patch-ready
		i=0; while [ "$(cat /sys/block/vda/size)" = 2048 ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
		echo 3 > /proc/sys/vm/drop_caches
		cat /sys/block/vda/size; head -c 13 /dev/vda; echo; exit 0'
	for _ in $(seq 900); do grep -q e2e-patch-ready "$out" && break; sleep 0.2; done
	grep -q e2e-patch-ready "$out" || { kill "$api_pid"; fail "the guest never read its disk; $(tail -n 5 "$out")"; }
	api 400 PATCH /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$E2E_TMP/no-such.img\"}"
	api 204 PATCH /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$new\"}"
	local st=0
	api_wait || st=$?
	[ "$st" -eq 0 ] || fail "kiln exited with $st; $(tail -n 5 "$err")"
	local got
	got=$(tr -d '\r' < "$out" | grep -x '2048\|6144\|e2e-old-image\|e2e-new-image' | tr '\n' ' ')
	[ "$got" = "2048 e2e-old-image 6144 e2e-new-image " ] ||
		fail "the guest saw: $got; $(tail -n 8 "$out")"
}
