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
