# Booting Debian's kernel: both loaders, vCPUs, memory, exit codes, bad input.

case_bzimage_boots_and_runs_a_command() {
	boot bz "$KILN_GUEST_VMLINUZ" 1 256 'echo e2e-hello; uname -r' "" || return 1
	expect_ok && expect_output e2e-hello && expect_output "$KILN_GUEST_KERNEL_RELEASE"
}

case_vmlinux_boots_through_pvh_and_runs_a_command() {
	boot pvh "$KILN_GUEST_VMLINUX" 1 256 'echo e2e-hello; cat /proc/cmdline' "e2e.marker=1" || return 1
	expect_ok && expect_output e2e-hello || return 1
	printf '%s\n' "$output" | grep -q 'e2e.marker=1' || fail "the command line did not arrive"
}

case_guest_exit_status_comes_back_and_reboot_ends_kiln() {
	boot st "$KILN_GUEST_VMLINUX" 1 256 'exit 3' "" || return 1
	[ "$status" -eq 0 ] || fail "kiln exited with $status after the guest rebooted"
	[ "$gstatus" = 3 ] || fail "guest status $gstatus, want 3"
	grep -q 'guest reset through the i8042' "$err" || fail "no i8042 reset in kiln's log"
}

case_one_vcpu() {
	boot cpu1 "$KILN_GUEST_VMLINUX" 1 256 'grep -c ^processor /proc/cpuinfo' "" || return 1
	expect_ok && expect_output 1
}

case_four_vcpus_all_online() {
	boot cpu4 "$KILN_GUEST_VMLINUX" 4 256 \
		'grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online' "" || return 1
	expect_ok && expect_output 4 && expect_output 0-3
}

# The RAM the kernel found ("Memory: used/totalK available") must be within [lo, hi] KiB:
# all of it but the conventional-memory hole and what the e820 map reserves.
mem_case() {
	boot "mem$1" "$KILN_GUEST_VMLINUZ" 1 "$1" \
		"dmesg | sed -n 's|.*Memory: [0-9]*K/\\([0-9]*\\)K available.*|\\1|p'" "" || return 1
	expect_ok || return 1
	local kib
	kib=$(printf '%s\n' "$output" | tail -n 1)
	[ -n "$kib" ] && [ "$kib" -ge "$2" ] && [ "$kib" -le "$3" ] ||
		fail "the kernel found ${kib:-no} KiB of RAM in $1 MiB, want $2..$3"
}

case_memory_128_mib() { mem_case 128 129000 131072; }
case_memory_2_gib() { mem_case 2048 2093000 2097152; }

case_every_kiln_thread_is_filtered_while_linux_runs() {
	local cfg=$E2E_TMP/sec.json
	write_config "$cfg" "$KILN_GUEST_VMLINUX" 2 256 \
		"$KILN_GUEST_CMDLINE kiln.run=$(b64 'echo running; sleep 600')"
	"$KILN" --no-api --config-file "$cfg" </dev/null >"$E2E_TMP/sec.out" 2>"$E2E_TMP/sec.err" &
	local pid=$! n=0 t
	for _ in $(seq 300); do grep -q running "$E2E_TMP/sec.out" && break; sleep 0.2; done
	grep -q running "$E2E_TMP/sec.out" || { kill "$pid"; fail "the guest never ran"; }
	for t in /proc/$pid/task/*; do
		# Kernel workers (kvm-nx-lpage-recovery, io_uring) run no user code.
		local flags
		flags=$(sed 's/.*) //' "$t/stat" | cut -d' ' -f7)
		[ $(( flags & 0x4010 )) -ne 0 ] && continue
		grep -q '^Seccomp:[[:space:]]*2' "$t/status" || { kill "$pid"; fail "$(cat "$t/comm") is not filtered"; }
		n=$((n + 1))
	done
	# The guest sleeps until kiln is stopped (a guest that ended by itself could race the
	# walk above on a slow host): SIGTERM ends kiln in order, with 128+15.
	kill -TERM "$pid"
	wait "$pid"
	local st=$?
	[ "$n" -eq 3 ] || fail "$n filtered threads, want 3 (main and 2 vCPUs)"
	[ "$st" -eq 143 ] || fail "kiln exited with $st after SIGTERM, want 143"
}

case_command_line_longer_than_a_page_is_refused() {
	local long
	long=$(head -c 5000 /dev/zero | tr '\0' x)
	boot long "$KILN_GUEST_VMLINUX" 1 128 true "$long"
	[ "$status" -eq 152 ] || fail "kiln exited with $status, want 152"
	grep -q 'boot-source.boot_args: the kernel command line is' "$err" || fail "no clear error"
}

case_missing_initrd_is_refused() {
	local cfg=$E2E_TMP/noinitrd.json
	write_config "$cfg" "$KILN_GUEST_VMLINUZ" 1 128 "$KILN_GUEST_CMDLINE"
	sed -i 's#"initrd_path": "[^"]*"#"initrd_path": "/nonexistent/initrd.img"#' "$cfg"
	"$KILN" --no-api --config-file "$cfg" </dev/null >"$E2E_TMP/ni.out" 2>"$E2E_TMP/ni.err"
	local st=$?
	[ "$st" -eq 152 ] || fail "kiln exited with $st, want 152"
	grep -q 'boot-source.initrd_path: /nonexistent/initrd.img: No such file or directory' \
		"$E2E_TMP/ni.err" || fail "no clear error: $(cat "$E2E_TMP/ni.err")"
}
