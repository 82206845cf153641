# Linux finds kiln's virtio devices through ACPI: ext4 root on virtio-blk (both engines,
# across a reboot), a read-only second drive, virtio-rng as hwrng; ACPI power-off and reset.

# A private copy of the guest's ext4 image (sparse), so cases never share writes.
rootfs_copy() {
	local f=$E2E_TMP/$1.ext4
	cp --sparse=always "$KILN_GUEST_ROOTFS" "$f" || return 1
	echo "$f"
}

# drive_json ID PATH IS_ROOT READ_ONLY ENGINE
drive_json() {
	printf '{"drive_id": "%s", "path_on_host": "%s", "is_root_device": %s, "is_read_only": %s, "io_engine": "%s"}' \
		"$1" "$2" "$3" "$4" "$5"
}

# Boot with an ext4 root on /dev/vda (io engine $1), write a file, reboot; boot again and
# read it back.
root_persists_case() {
	local engine=$1 img
	img=$(rootfs_copy "root-$engine") || fail "cannot copy the root image"
	local E2E_EXTRA_JSON="\"drives\": [$(drive_json root "$img" true false "$engine")]"
	boot "root1-$engine" "$KILN_GUEST_VMLINUX" 1 256 \
		'grep " / " /proc/mounts; echo "kiln-$(cat /proc/sys/kernel/random/boot_id)" > /persist; cat /persist; sync' \
		"" || return 1
	expect_ok || return 1
	printf '%s\n' "$output" | grep -q '^/dev/vda / ext4 rw' || fail "/ is not /dev/vda ext4 rw"
	grep -q 'guest reset through the i8042' "$err" || fail "the first boot did not end in a reboot"
	local written
	written=$(printf '%s\n' "$output" | grep '^kiln-' | tail -n 1)
	[ -n "$written" ] || fail "the guest wrote nothing"
	boot "root2-$engine" "$KILN_GUEST_VMLINUZ" 1 256 'cat /persist' "" || return 1
	expect_ok && expect_output "$written"
}

case_virtio_ext4_root_sync_persists_across_reboot() { root_persists_case Sync; }
case_virtio_ext4_root_async_persists_across_reboot() { root_persists_case Async; }

# A second drive, read-only: it mounts, the guest sees it read-only, and writes fail even
# when the guest forces the block device writable; the host file is unchanged.
ro_drive_case() {
	local engine=$1 root ro sum
	root=$(rootfs_copy "ro-root-$engine") && ro=$(rootfs_copy "ro-data-$engine") ||
		fail "cannot copy the images"
	chmod 0444 "$ro"
	sum=$(md5sum < "$ro")
	local E2E_EXTRA_JSON="\"drives\": [$(drive_json root "$root" true false "$engine"), $(drive_json data "$ro" false true "$engine")]"
	boot "ro-$engine" "$KILN_GUEST_VMLINUX" 1 256 '
		echo "ro=$(cat /sys/block/vdb/ro)"
		mkdir -p /mnt && mount -t ext4 -o ro /dev/vdb /mnt && echo mounted
		head -n 1 /mnt/etc/passwd
		touch /mnt/new 2>/dev/null && echo touch-succeeded || echo touch-refused
		umount /mnt
		blockdev --setrw /dev/vdb
		if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null; then
			echo raw-write-succeeded; else echo raw-write-refused; fi
		true' "" || return 1
	expect_ok && expect_output ro=1 && expect_output mounted && expect_output touch-refused &&
		expect_output raw-write-refused || return 1
	printf '%s\n' "$output" | grep -q '^root:' || fail "could not read /etc/passwd from vdb"
	[ "$(md5sum < "$ro")" = "$sum" ] || fail "the read-only image changed"
}

case_virtio_read_only_drive_sync() { ro_drive_case Sync; }
case_virtio_read_only_drive_async() { ro_drive_case Async; }

case_virtio_rng_is_the_guest_hwrng() {
	local E2E_EXTRA_JSON='"entropy": {}'
	boot rng "$KILN_GUEST_VMLINUZ" 1 256 '
		ls /sys/bus/acpi/devices/ | grep -c "^LNRO0005:"
		cat /sys/class/misc/hw_random/rng_current
		head -c 65536 /dev/hwrng | wc -c
		head -c 4096 /dev/hwrng | od -An -v -tx1 | tr -s " " "\n" | sort -u | wc -l' "" || return 1
	expect_ok && expect_output 1 && expect_output 65536 || return 1
	printf '%s\n' "$output" | grep -q '^virtio_rng' || fail "hwrng is not virtio_rng"
	local distinct
	distinct=$(printf '%s\n' "$output" | tail -n 1)
	[ "$distinct" -ge 200 ] || fail "only $distinct distinct byte values in 4 KiB"
}

case_guest_poweroff_ends_kiln_through_acpi() {
	boot off "$KILN_GUEST_VMLINUZ" 1 256 'echo bye' "kiln.exit=poweroff" || return 1
	expect_ok && expect_output bye || return 1
	grep -q 'guest powered off through ACPI (S5)' "$err" || fail "no ACPI power-off in kiln's log"
}

case_guest_poweroff_through_pvh_entry() {
	boot offpvh "$KILN_GUEST_VMLINUX" 2 256 'echo bye' "kiln.exit=poweroff" || return 1
	expect_ok && expect_output bye || return 1
	grep -q 'guest powered off through ACPI (S5)' "$err" || fail "no ACPI power-off in kiln's log"
}

# reboot=a (the last reboot= wins): Linux resets through the FADT's reset register.
case_guest_reboot_through_the_acpi_reset_register() {
	boot acpireset "$KILN_GUEST_VMLINUX" 1 256 'echo bye' "reboot=a" || return 1
	expect_ok || return 1
	grep -q 'guest reset through the ACPI reset register' "$err" ||
		fail "no ACPI reset in kiln's log"
}
