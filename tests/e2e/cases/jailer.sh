# The jailer on a real cgroup v2 hierarchy with controllers (the lab mounts a fresh one),
# and a Linux guest booted by kiln inside a jail.

# The test's own v2 cgroup, as a path below the hierarchy root ("" for the root).
own_cgroup() { sed -n 's|^0::/*||p' /proc/self/cgroup; }

# Skip unless a writable cgroup2 hierarchy with the controllers we use is mounted.
need_cgroup2() {
	local own
	[ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] ||
		skip "no cgroup2 hierarchy on /sys/fs/cgroup (the lab mounts one)"
	own=/sys/fs/cgroup/$(own_cgroup)
	[ -w "$own" ] || skip "the test's cgroup $own is not writable"
	for c in memory pids cpu; do
		grep -qw "$c" "$own/cgroup.controllers" || skip "controller $c is not available"
	done
}

case_jailer_cgroup_v2_limits_membership_and_cleanup() {
	need_cgroup2
	local base=$E2E_TMP/cg-base parent id=e2e-cg-$$ pid dir i
	parent=$(own_cgroup)
	parent=${parent:+$parent/}kiln-e2e-$$
	mkdir -p "$base"
	"$build/jailer" --id "$id" --exec-file "$build/tests/helpers/jail_probe" \
		--uid 65534 --gid 65534 --chroot-base-dir "$base" --parent-cgroup "$parent" \
		--cgroup memory.max=67108864 --cgroup pids.max=32 --cgroup "cpu.max=50000 100000" \
		-- --wait > "$E2E_TMP/cg.out" 2> "$E2E_TMP/cg.err" &
	local jailer=$!
	for i in $(seq 100); do grep -q '^ready' "$E2E_TMP/cg.out" && break; sleep 0.1; done
	grep -q '^ready' "$E2E_TMP/cg.out" || { kill "$jailer"; cat "$E2E_TMP/cg.err"; fail "the probe never ran"; }
	pid=$(sed -n 's/^pid=//p' "$E2E_TMP/cg.out")
	dir=/sys/fs/cgroup/$parent/$id
	echo "probe pid $pid in $(cat "/proc/$pid/cgroup" 2>/dev/null)"
	[ "$(cat "/proc/$pid/cgroup" 2>/dev/null)" = "0::/$parent/$id" ] ||
		{ kill "$jailer"; fail "the probe is not in $dir"; }
	[ "$(cat "$dir/memory.max")" = 67108864 ] || { kill "$jailer"; fail "memory.max is $(cat "$dir/memory.max")"; }
	[ "$(cat "$dir/pids.max")" = 32 ] || { kill "$jailer"; fail "pids.max is $(cat "$dir/pids.max")"; }
	[ "$(cat "$dir/cpu.max")" = "50000 100000" ] || { kill "$jailer"; fail "cpu.max is $(cat "$dir/cpu.max")"; }
	for c in memory pids cpu; do
		grep -qw "$c" "/sys/fs/cgroup/$parent/cgroup.subtree_control" ||
			{ kill "$jailer"; fail "$c not enabled in the parent's subtree_control"; }
	done
	kill -TERM "$jailer"
	wait "$jailer"
	echo "jailer exited with $?"
	[ ! -e "$dir" ] || fail "the jail cgroup $dir is still there"
	[ -z "$(ls -A "$base" 2>/dev/null)" ] || fail "the jail directory is still there: $(ls -R "$base")"
	rmdir "/sys/fs/cgroup/$parent" 2>/dev/null || true
}

case_linux_boots_in_a_jail_with_cgroup_v2_limits() {
	need_cgroup2
	local base=$E2E_TMP/vm-base parent id=e2e-vm-$$ cfg=$E2E_TMP/jail-vm.json kpid i
	parent=$(own_cgroup)
	parent=${parent:+$parent/}kiln-e2e-vm-$$
	mkdir -p "$base"
	cat > "$cfg" <<JSON
{ "boot-source": { "kernel_image_path": "/vmlinux", "initrd_path": "/initrd.img",
  "boot_args": "$KILN_GUEST_CMDLINE kiln.run=$(b64 'echo in-the-jail; sleep 3')" },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 } }
JSON
	bounded 180 jvm "$build/jailer" --id "$id" --exec-file "$KILN" --uid 65534 --gid 65534 \
		--chroot-base-dir "$base" --parent-cgroup "$parent" \
		--cgroup memory.max=1073741824 --cgroup pids.max=64 \
		--bind "$KILN_GUEST_VMLINUX:/vmlinux" --bind "$KILN_GUEST_INITRAMFS:/initrd.img" \
		-- --no-api --config-file - < "$cfg" > "$E2E_TMP/jvm.out" 2> "$E2E_TMP/jvm.err" &
	local jailer=$!
	for i in $(seq 600); do grep -q in-the-jail "$E2E_TMP/jvm.out" && break; sleep 0.2; done
	kpid=$(pgrep -f -- "--id $id" | while read -r p; do
		[ "$(readlink "/proc/$p/exe")" != "$(readlink -f "$build/jailer")" ] && echo "$p"; done | head -n 1)
	echo "kiln pid ${kpid:-none}: $(cat "/proc/$kpid/cgroup" 2>/dev/null)"
	local incg
	incg=$(cat "/proc/$kpid/cgroup" 2>/dev/null)
	local mem
	mem=$(cat "/sys/fs/cgroup/$parent/$id/memory.current" 2>/dev/null || echo 0)
	wait "$jailer"
	local st=$?
	echo "jailer exit $st; kiln's log:"; tail -n 5 "$E2E_TMP/jvm.err"
	[ -e "$E2E_TMP/jvm.stuck" ] && cat "$E2E_TMP/jvm.stuck"
	grep -q in-the-jail "$E2E_TMP/jvm.out" || fail "the guest's command did not run"
	[ "$st" -eq 0 ] || fail "jailer/kiln exited with $st"
	[ "$incg" = "0::/$parent/$id" ] || fail "kiln was in '$incg', not in /$parent/$id"
	[ "$mem" -gt 0 ] || fail "memory.current of the jail cgroup was $mem"
	[ ! -e "/sys/fs/cgroup/$parent/$id" ] || fail "the jail cgroup is still there"
	rmdir "/sys/fs/cgroup/$parent" 2>/dev/null || true
}

# The job a jailed VM exists for, with the network: kiln under the jailer joins a network
# namespace this case makes (--netns), opens the TAP there that belongs to the jail's user,
# and the guest reaches the host over the TAP (ping, a TCP transfer each way checked byte for byte) and over vsock (the host
# connects through the jail's uds_path).
case_linux_in_a_jail_reaches_the_host_over_a_tap_and_vsock() {
	need_cgroup2
	command -v ip >/dev/null || skip "no ip (iproute2)"
	[ -x "$VSOCK_PEER" ] || skip "no $VSOCK_PEER (make test-bins)"
	ldd "$VSOCK_PEER" 2>&1 | grep -q "=>" && skip "$VSOCK_PEER is not static (a sanitizer build?)"
	[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
	[ -c /dev/net/tun ] || skip "no /dev/net/tun on this host"
	local ns=kiln-e2e-net-$$ base=$E2E_TMP/net-base parent id=e2e-net-$$ dir=$E2E_TMP/jnet
	local cfg=$E2E_TMP/jnet.json initrd=$E2E_TMP/jnet-initramfs.cpio.gz bytes=4194304 i
	parent=$(own_cgroup)
	parent=${parent:+$parent/}kiln-e2e-net-$$
	mkdir -p "$base" "$dir"
	ip netns add "$ns" || fail "cannot make network namespace $ns"
	# Every way out of this shell removes the namespace (and with it the TAP).
	trap 'ip netns del "$ns" 2>/dev/null' EXIT
	ip -n "$ns" link set lo up &&
		ip -n "$ns" tuntap add tap0 mode tap user 65534 group 65534 &&
		ip -n "$ns" addr add 10.200.0.1/24 dev tap0 &&
		ip -n "$ns" link set tap0 up || fail "cannot set up tap0 in $ns"
	vsock_initramfs "$initrd" || fail "cannot build the guest initramfs with vsock_peer"
	local cmd="ip addr add 10.200.0.2/24 dev eth0 && ip link set eth0 up &&
cat /sys/class/net/eth0/address && ping -c 2 -W 10 10.200.0.1 &&
head -c $bytes /dev/urandom > /tmp/d && md5sum /tmp/d && nc 10.200.0.1 7100 < /tmp/d &&
echo receiving && nc -l -p 7200 > /tmp/r && md5sum /tmp/r &&
/vsock_peer serve-vsock 5000 1"
	cat > "$cfg" <<JSON
{ "boot-source": { "kernel_image_path": "/vmlinux", "initrd_path": "/initrd.img",
  "boot_args": "$KILN_GUEST_CMDLINE kiln.run=$(b64 "$cmd")" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "network-interfaces": [{ "iface_id": "eth0", "host_dev_name": "tap0",
                           "guest_mac": "06:00:0a:c8:00:02" }],
  "vsock": { "guest_cid": 3, "uds_path": "/v.sock" } }
JSON
	# The host's end of the TCP transfer, in the namespace; its input never ends, so it
	# closes only when the guest does.
	ip netns exec "$ns" sh -c "sleep 300 | timeout 300 busybox nc -l -p 7100 > '$dir/tcp.bin'" &
	local server=$!
	bounded 240 jnet "$build/jailer" --id "$id" --exec-file "$KILN" --uid 65534 --gid 65534 \
		--chroot-base-dir "$base" --parent-cgroup "$parent" --netns "/var/run/netns/$ns" \
		--cgroup memory.max=1073741824 \
		--bind "$KILN_GUEST_VMLINUX:/vmlinux" --bind "$initrd:/initrd.img" \
		-- --no-api --config-file - < "$cfg" > "$E2E_TMP/jnet.out" 2> "$E2E_TMP/jnet.err" &
	local jailer=$! ok=1
	local root=$base/$(basename "$KILN")/$id/root
	# The host's side of the transfer the other way, once the guest listens.
	head -c "$bytes" /dev/urandom > "$dir/to-guest.bin"
	if wait_for "$E2E_TMP/jnet.out" '^receiving' 200 "$jailer"; then
		for i in $(seq 30); do
			ip netns exec "$ns" busybox nc -w 10 10.200.0.2 7200 < "$dir/to-guest.bin" 2>/dev/null && break
			sleep 1
		done
	fi
	if wait_for "$E2E_TMP/jnet.out" 'listening on vsock port 5000' 200 "$jailer"; then
		echo "host -> guest over vsock, through $root/v.sock:"
		"$VSOCK_PEER" echo-unix "$root/v.sock" 5000 1048576 || ok=0
	else
		echo "the guest's vsock server never started"
		ok=0
	fi
	wait "$jailer"
	local st=$?
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null
	local output gsum hsum
	output=$(tr -d '\r' < "$E2E_TMP/jnet.out" | sed -n '/^KILN-GUEST-INIT/,/^KILN-GUEST-EXIT/p')
	echo "jailer exit $st; guest output:"
	printf '%s\n' "$output" | sed 's/^/  | /'
	gsum=$(printf '%s\n' "$output" | sed -n 's|^\([0-9a-f]\{32\}\)  /tmp/d$|\1|p')
	hsum=$(md5sum < "$dir/tcp.bin" | cut -d' ' -f1)
	echo "guest sent md5 ${gsum:-none}; the host received $(wc -c < "$dir/tcp.bin") bytes, md5 $hsum"
	local rsum sent
	rsum=$(printf '%s\n' "$output" | sed -n 's|^\([0-9a-f]\{32\}\)  /tmp/r$|\1|p')
	sent=$(md5sum < "$dir/to-guest.bin" | cut -d' ' -f1)
	echo "host sent md5 $sent; the guest received md5 ${rsum:-none}"
	if [ "$st" -ne 0 ] || [ "$ok" != 1 ]; then
		echo "kiln's log:"; tail -n 20 "$E2E_TMP/jnet.err" | sed 's/^/  ! /'
		[ -e "$E2E_TMP/jnet.stuck" ] && cat "$E2E_TMP/jnet.stuck"
	fi
	rmdir "/sys/fs/cgroup/$parent" 2>/dev/null || true
	printf '%s\n' "$output" | grep -qx '06:00:0a:c8:00:02' || fail "the guest's eth0 has not the configured MAC"
	printf '%s\n' "$output" | grep -q '2 packets transmitted, 2 packets received' ||
		fail "the guest's pings to the host did not all come back"
	[ -n "$gsum" ] && [ "$gsum" = "$hsum" ] || fail "the TCP transfer to the host did not arrive byte for byte"
	[ -n "$rsum" ] && [ "$rsum" = "$sent" ] || fail "the TCP transfer to the guest did not arrive byte for byte"
	[ "$ok" = 1 ] || fail "the vsock echo through the jail's uds_path failed"
	[ "$st" -eq 0 ] || fail "jailer/kiln exited with $st"
	printf '%s\n' "$output" | grep -q '^KILN-GUEST-EXIT 0' || fail "the guest's command failed"
	grep -qi 'seccomp\|SIGSYS\|bad system call' "$E2E_TMP/jnet.err" && fail "a seccomp violation in kiln's log"
	[ ! -e "$root" ] || fail "the jail $root is still there after kiln ended"
	return 0
}
