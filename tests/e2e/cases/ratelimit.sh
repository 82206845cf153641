# Rate limiters as a Linux guest feels them: the rate it measures reading a drive and its
# hwrng is the configured one, within 10% (Firecracker's own acceptance bound). The rates
# are low enough that the guest, even in the lab, is never the bottleneck; the buckets are
# small (100 ms of refill), so the first full bucket hardly counts, and it is subtracted.
# (The same for virtio-net is in net.sh.)

# rate_check NAME BYTES SECONDS RATE BUCKET: the measured rate of BYTES moved in SECONDS
# (the guest's clock), after a first BUCKET bytes that pass at once, against RATE bytes/s.
rate_check() {
	local name=$1 bytes=$2 secs=$3 rate=$4 bucket=$5
	awk -v b="$bytes" -v s="$secs" -v r="$rate" -v k="$bucket" -v n="$name" 'BEGIN {
		if (s <= 0) { print n ": no time measured"; exit 1 }
		m = (b - k) / s
		printf "%s: %d bytes in %.2f s: %.0f bytes/s measured, %d configured (%.1f%%)\n",
			n, b, s, m, r, 100 * (m - r) / r
		exit !(m >= 0.9 * r && m <= 1.1 * r)
	}'
}

# elapsed OUTPUT TAG: seconds between the guest's "TAG-start U" and "TAG-end U" lines.
elapsed() {
	printf '%s\n' "$1" | awk -v t="$2" '$1 == t "-start" { s = $2 } $1 == t "-end" { e = $2 }
		END { printf "%.2f\n", e - s }'
}

case_ratelimit_block_bandwidth_measured_by_the_guest() {
	local img=$E2E_TMP/rl.img rate=2097152 bytes=8388608
	local bucket=$((rate / 10))
	head -c "$bytes" /dev/urandom > "$img" || fail "cannot make $img"
	local E2E_EXTRA_JSON="\"drives\": [{\"drive_id\": \"data\", \"path_on_host\": \"$img\",
  \"is_root_device\": false, \"is_read_only\": true,
  \"rate_limiter\": {\"bandwidth\": {\"size\": $bucket, \"refill_time\": 100}}}],
  \"metrics\": {\"metrics_path\": \"$E2E_TMP/rl-blk.metrics\"}"
	# The whole device once, O_DIRECT in 64 KiB requests: nothing comes from the page cache.
	boot rlblk "$KILN_GUEST_VMLINUZ" 1 256 '
		echo "blk-start $(cut -d" " -f1 /proc/uptime)"
		dd if=/dev/vda of=/dev/null bs=65536 iflag=direct 2>/dev/null
		echo "blk-end $(cut -d" " -f1 /proc/uptime)"' "" || return 1
	expect_ok || return 1
	grep -o '"rate_limiter_throttled_events":[0-9]*' "$E2E_TMP/rl-blk.metrics" | tail -n 1
	rate_check "block read" "$bytes" "$(elapsed "$output" blk)" "$rate" "$bucket" ||
		fail "the drive's measured rate is not within 10% of its rate limiter's"
}

case_ratelimit_entropy_bandwidth_measured_by_the_guest() {
	# Linux's virtio-rng asks for 512 bytes at a time, and in the lab one request takes
	# about 45 ms from the guest's kick to its interrupt: 2 KiB/s (4 requests a second) is
	# well below what the guest can take. A request larger than the bucket passes when the
	# bucket owes nothing and leaves a debt, so the first request (not the bucket) is free.
	local rate=2048 bytes=16384 first=512
	local bucket=$((rate / 10))
	local E2E_EXTRA_JSON="\"entropy\": {\"rate_limiter\": {\"bandwidth\": {\"size\": $bucket,
  \"refill_time\": 100}}}"
	# rng_core.default_quality=0: the kernel's own hwrng thread stays away from the device,
	# so the guest's reader is its only user.
	boot rlrng "$KILN_GUEST_VMLINUZ" 1 256 '
		echo "rng-start $(cut -d" " -f1 /proc/uptime)"
		head -c '"$bytes"' /dev/hwrng | wc -c
		echo "rng-end $(cut -d" " -f1 /proc/uptime)"' "rng_core.default_quality=0" || return 1
	expect_ok && expect_output "$bytes" || return 1
	rate_check "entropy" "$bytes" "$(elapsed "$output" rng)" "$rate" "$first" ||
		fail "the entropy device's measured rate is not within 10% of its rate limiter's"
}
