# virtio-net with a Linux guest on a TAP in a network namespace each case makes and
# removes (nothing is configured in the host's own namespace): the guest's eth0 with the
# configured MAC and MTU, ping both ways, TCP both ways checked by sha256, the offloads
# the driver negotiated, every frame crossing kiln whole; and the tx rate limiter holding
# its rate, from the configuration file and after PATCH /network-interfaces.

NET_PEER=${NET_PEER:-$build/tests/helpers/net_peer}
NET_HOST_IP=172.16.0.1
NET_GUEST_IP=172.16.0.2
NET_MAC=06:00:ac:10:00:02

# The guest's side, /net-guest.sh in the initramfs: "up ADDR" brings eth0 up and prints
# what the guest sees of it; "stats" prints its counters.
net_guest_script() {
	cat <<'EOF'
#!/bin/sh
s=/sys/class/net/eth0
case "$1" in
up)
	n=0
	while [ ! -e $s ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	[ -e $s ] || { echo "no eth0: $(ls /sys/class/net | tr '\n' ' ')"; exit 10; }
	# No IPv6: no router solicitations or MLD reports among the frames counted.
	echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
	ip link set eth0 up && ip addr add "$2/24" dev eth0 || exit 11
	n=0
	while [ "$(cat $s/carrier 2>/dev/null)" != 1 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	echo "mac=$(cat $s/address)"
	echo "mtu=$(cat $s/mtu)"
	echo "carrier=$(cat $s/carrier) operstate=$(cat $s/operstate)"
	echo "driver=$(basename "$(readlink $s/device/driver)")"
	echo "features=$(cat $s/device/features)"
	/net_peer offloads eth0 | sed 's/^/offload /' ;;
stats)
	echo "eth0-counters: tx $(cat $s/statistics/tx_packets) $(cat $s/statistics/tx_bytes)" \
		"rx $(cat $s/statistics/rx_packets) $(cat $s/statistics/rx_bytes)" ;;
tcp) # HOST BYTES: ping the host; after the host's go (5003), a file from it (5002), one
     # of BYTES random bytes to it (5001)
	h=$2
	if ping -c 3 -w 20 "$h"; then echo "ping-host: ok"; else echo "ping-host: failed"; fi
	echo "NET-UP"
	/net_peer fetch "$h" 5003 >/dev/null || exit 20
	/net_peer fetch "$h" 5002 >/tmp/in || exit 21
	echo "host-to-guest: $(wc -c </tmp/in) $(sha256sum </tmp/in | cut -d' ' -f1)"
	rm -f /tmp/in
	head -c "$3" /dev/urandom >/tmp/out || exit 22
	echo "guest-to-host: $(wc -c </tmp/out) $(sha256sum </tmp/out | cut -d' ' -f1)"
	p0=$(cat $s/statistics/tx_packets) b0=$(cat $s/statistics/tx_bytes)
	/net_peer send "$h" 5001 </tmp/out || exit 23
	echo "send-frames: $(($(cat $s/statistics/tx_packets) - p0)) $(($(cat $s/statistics/tx_bytes) - b0))" ;;
rl) # HOST BYTES1 BYTES2 FIRST: BYTES1 to the host (5001); after its go (5003), BYTES2 to
    # it (5004); then from it (5002, not limited): first instead with FIRST=1
	[ "$5" = 1 ] && { /net_peer fetch "$2" 5002 >/dev/null || exit 20; }
	/net_peer send "$2" 5001 "$3" || exit 21
	/net_peer fetch "$2" 5003 >/dev/null || exit 22
	/net_peer send "$2" 5004 "$4" || exit 23
	[ "$5" = 1 ] || { /net_peer fetch "$2" 5002 >/dev/null || exit 24; }
	echo "tcp: $(awk '/^Tcp:/ { n++ } /^Tcp:/ && n == 2 { print "retrans", $13, "out", $12 }' /proc/net/snmp)" ;;
esac
EOF
}

# net_initramfs OUT: the guest initramfs with /net_peer and /net-guest.sh appended (a
# second cpio archive: the kernel unpacks them in order).
net_initramfs() {
	local dir=$E2E_TMP/net-extra
	mkdir -p "$dir" && cp "$NET_PEER" "$dir/net_peer" && chmod 0755 "$dir/net_peer" &&
		net_guest_script > "$dir/net-guest.sh" || return 1
	cat "$KILN_GUEST_INITRAMFS" > "$1" &&
		(cd "$dir" && printf '%s\n' net_peer net-guest.sh | cpio --quiet -o -H newc -R 0:0) |
		gzip -n >> "$1"
}

net_requirements() {
	[ "$(id -u)" = 0 ] || skip "network namespaces and TAPs need root"
	command -v ip >/dev/null || skip "no ip (iproute2)"
	[ -x "$NET_PEER" ] || skip "no $NET_PEER (make test-bins)"
	case "$(head -c 20 "$NET_PEER" | od -An -tx1)" in
	*"7f 45 4c 46"*) ;;
	*) skip "$NET_PEER is not an ELF program" ;;
	esac
	ldd "$NET_PEER" 2>&1 | grep -q "=>" && skip "$NET_PEER is not static (a sanitizer build?)"
	[ -c /dev/net/tun ] || fail "no /dev/net/tun (the tun module)"
}

# Processes the case started in its namespace, ended on every way out.
net_pids=()
net_cleanup() {
	local p
	for p in "${net_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${net_pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ -n "${net_ns:-}" ]; then
		for p in $(ip netns pids "$net_ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip -n "$net_ns" link del tap0 2>/dev/null
		ip netns del "$net_ns" 2>/dev/null
	fi
}

# net_setup NAME MTU: a fresh namespace (named in $net_ns) holding tap0, up, MTU, the
# host's address. It goes when the case's shell exits, however it exits.
net_setup() {
	net_ns=kiln-e2e-$1-$$-$RANDOM
	trap net_cleanup EXIT
	trap 'exit 143' TERM INT HUP
	ip netns add "$net_ns" || { net_ns=; fail "ip netns add failed"; }
	ip -n "$net_ns" link set lo up &&
		ip -n "$net_ns" tuntap add dev tap0 mode tap &&
		nsrun sh -c 'echo 1 > /proc/sys/net/ipv6/conf/tap0/disable_ipv6' &&
		ip -n "$net_ns" link set tap0 mtu "$2" up &&
		ip -n "$net_ns" addr add "$NET_HOST_IP/24" dev tap0 || fail "cannot set up tap0 in $net_ns"
	ip link show tap0 >/dev/null 2>&1 && echo "note: the host's own namespace has a tap0 too (not ours)"
	return 0
}

# (In the background, call ip netns exec itself, not nsrun: $! must be the process, which
# ip becomes, not a subshell that a kill would leave it behind.)
nsrun() { ip netns exec "$net_ns" "$@"; }

# net_reap SECONDS PID...: waits for each PID, at most SECONDS in all, then kills what is left.
net_reap() {
	local secs=$1 p i
	shift
	for i in $(seq $((secs * 10))); do
		for p in "$@"; do kill -0 "$p" 2>/dev/null && break; done
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	for p in "$@"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}

# net_kiln NAME CMD NETIF_JSON [KILN_ARGS...]: kiln in the namespace, in the background
# (pid in $kpid), bounded; console in $out, log in $err, metrics in $dir/NAME.metrics.
net_kiln() {
	local name=$1 cmd=$2 netif=$3 initrd=$E2E_TMP/net-initramfs.cpio.gz
	shift 3
	[ -r "$initrd" ] || net_initramfs "$initrd" || fail "cannot build the guest initramfs with net_peer"
	cfg=$E2E_TMP/$name.json out=$E2E_TMP/$name.out err=$E2E_TMP/$name.err
	local KILN_GUEST_INITRAMFS=$initrd
	write_config "$cfg" "$KILN_GUEST_VMLINUX" 1 512 \
		"$KILN_GUEST_CMDLINE kiln.run=$(b64 "$cmd")" \
		"\"network-interfaces\": [$netif],
  \"metrics\": {\"metrics_path\": \"$dir/$name.metrics\"}"
	bounded "${E2E_TIMEOUT:-240}" "$name" ip netns exec "$net_ns" "$KILN" --config-file "$cfg" "$@" \
		</dev/null >"$out" 2>"$err" &
	kpid=$!
}

# net_finish NAME: waits for kiln; sets status, gstatus, output; prints them.
net_finish() {
	wait "$kpid"
	status=$?
	output=$(tr -d '\r' < "$out" | sed -n '/^KILN-GUEST-INIT/,/^KILN-GUEST-EXIT/p' | sed '1d;$d')
	gstatus=$(sed -n 's/^KILN-GUEST-EXIT \([0-9]*\).*/\1/p' "$out" | tail -n 1)
	gstatus=${gstatus:-none}
	echo "kiln exit $status, guest exit $gstatus; guest output:"
	printf '%s\n' "$output" | sed 's/^/  | /'
	echo "kiln's net metrics, summed:"
	grep -o '"net":{[^}]*}' "$dir/$1.metrics" 2>/dev/null | tr -d '"{}' | sed 's/^net://' |
		tr ',' '\n' | awk -F: '{ s[$1] += $2 } END { for (k in s) printf "  %s %d\n", k, s[k] }' | sort
	if [ "$status" -ne 0 ] || [ "$gstatus" != 0 ]; then
		echo "kiln's log:"; tail -n 20 "$err" | sed 's/^/  ! /'
		echo "console (tail):"; tr -d '\r' < "$out" | tail -n 20 | sed 's/^/  > /'
		[ -e "$E2E_TMP/$1.stuck" ] && cat "$E2E_TMP/$1.stuck"
	fi
	grep -q 'SECCOMP IS OFF\|seccomp filters are not installed' "$err" &&
		fail "kiln ran without seccomp filters"
	grep -qi 'seccomp\|SIGSYS\|bad system call' "$err" && fail "a seccomp violation in kiln's log"
	return 0
}

net_metric() { # NAME KEY: kiln's net.KEY summed over the metrics lines
	grep -o '"net":{[^}]*}' "$dir/$1.metrics" 2>/dev/null | grep -o "\"$2\":[0-9]*" |
		cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}

# net_same_frames WHAT GUEST_FRAMES GUEST_BYTES WHAT TAP_FRAMES TAP_BYTES: the two sides
# counted the same frames. The guest's counters are read just before it reboots, tap0's
# after kiln ended: an ARP frame or two in between (at most 64 bytes each) is allowed for.
net_same_frames() {
	local df=$(($5 - $2)) db=$(($6 - $3))
	[ "$df" -ge 0 ] && [ "$df" -le 2 ] && [ "$db" -ge 0 ] && [ "$db" -le $((df * 64)) ] ||
		fail "$1 $2 frames, $3 bytes; $4 $5, $6"
}

# The value after "KEY=" or "KEY: " on the guest's output line starting with KEY.
gval() { printf '%s\n' "$output" | sed -n "s/^$1[=:] *//p" | tail -n 1; }

# What the host's end of a transfer reported: "BYTES SECONDS".
peer_result() { sed -n 's/^net_peer: [a-z]* \([0-9]*\) bytes in \([0-9.]*\) s.*/\1 \2/p' "$1" | tail -n 1; }

case_net_guest_eth0_on_a_tap_ping_and_tcp_both_ways() {
	net_requirements
	local bytes=${E2E_NET_BYTES:-33554432} mtu=9000 dir=$E2E_TMP/net-tcp
	mkdir -p "$dir"
	local ping=(ping)
	command -v ping >/dev/null || ping=(busybox ping)
	net_setup tcp "$mtu"

	# The host's ends are listening before the guest starts: 5002 sends it a random file,
	# 5001 takes one back; 5003, opened after the host has pinged the guest, lets it go on.
	head -c "$bytes" /dev/urandom > "$dir/to-guest" || fail "cannot write $dir/to-guest"
	local sent_sum
	sent_sum=$(sha256sum < "$dir/to-guest" | cut -d' ' -f1)
	ip netns exec "$net_ns" timeout 300 "$NET_PEER" serve 5002 < "$dir/to-guest" 2> "$dir/serve.err" &
	net_pids+=($!)
	ip netns exec "$net_ns" timeout 300 "$NET_PEER" recv 5001 > "$dir/from-guest" 2> "$dir/recv.err" &
	net_pids+=($!)
	local cmd="sh /net-guest.sh up $NET_GUEST_IP && sh /net-guest.sh tcp $NET_HOST_IP $bytes &&
sh /net-guest.sh stats"
	net_kiln net-tcp "$cmd" \
		"{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"$NET_MAC\", \"mtu\": $mtu}" \
		--no-api

	local hostping=none
	if wait_for "$out" '^NET-UP' 200 "$kpid"; then
		nsrun "${ping[@]}" -c 3 -w 20 "$NET_GUEST_IP" > "$dir/ping.out" 2>&1
		hostping=$?
		nsrun timeout 60 "$NET_PEER" serve 5003 0 </dev/null 2>/dev/null
	else
		echo "the guest never brought eth0 up"
	fi
	net_finish net-tcp
	net_reap 10 "${net_pids[@]}"
	echo "host -> guest: $(tail -n 1 "$dir/serve.err")"
	echo "guest -> host: $(tail -n 1 "$dir/recv.err")"
	echo "host's ping of the guest (status $hostping):"
	sed 's/^/  | /' "$dir/ping.out" 2>/dev/null
	local tap
	tap=$(nsrun sh -c 'cd /sys/class/net/tap0/statistics && echo $(cat rx_packets rx_bytes tx_packets tx_bytes tx_dropped)')
	echo "tap0 (host side): rx $tap (rx packets, bytes; tx packets, bytes, dropped)"

	expect_ok || return 1
	[ "$(gval mac)" = "$NET_MAC" ] || fail "eth0's MAC is $(gval mac), not $NET_MAC"
	[ "$(gval mtu)" = "$mtu" ] || fail "eth0's MTU is $(gval mtu), not $mtu"
	[ "$(gval driver)" = virtio_net ] || fail "eth0's driver is $(gval driver)"
	gval carrier | grep -q '^1 operstate=up$' || fail "eth0 is not up: $(gval carrier)"
	# The feature bits the driver accepted (virtio 1.2, 5.1.3): bit N is character N+1.
	local f bit name missing=
	f=$(gval features)
	for bit in 0:CSUM 1:GUEST_CSUM 3:MTU 5:MAC 7:GUEST_TSO4 8:GUEST_TSO6 11:HOST_TSO4 \
		12:HOST_TSO6 15:MRG_RXBUF 32:VERSION_1; do
		name=${bit#*:}; bit=${bit%%:*}
		[ "${f:$bit:1}" = 1 ] || missing="$missing $name"
	done
	[ -z "$missing" ] || fail "features not negotiated:$missing (features=$f)"
	for name in rx-checksumming tx-checksumming scatter-gather tcp-segmentation-offload; do
		[ "$(gval "offload $name")" = on ] || fail "the guest's $name is $(gval "offload $name")"
	done
	[ "$(gval ping-host)" = ok ] || fail "the guest could not ping the host"
	[ "$hostping" = 0 ] || fail "the host could not ping the guest (status $hostping)"
	[ "$(gval host-to-guest)" = "$bytes $sent_sum" ] ||
		fail "host -> guest: the guest got \"$(gval host-to-guest)\", want \"$bytes $sent_sum\""
	local got_sum
	got_sum="$(wc -c < "$dir/from-guest") $(sha256sum < "$dir/from-guest" | cut -d' ' -f1)"
	[ "$(gval guest-to-host)" = "$got_sum" ] ||
		fail "guest -> host: the guest sent \"$(gval guest-to-host)\", the host got \"$got_sum\""
	# TSO at work: the guest handed kiln frames larger than the MTU while it sent.
	local sf
	read -r -a sf <<< "$(gval send-frames)"
	[ "${sf[0]:-0}" -gt 0 ] && [ $((sf[1] / sf[0])) -gt "$mtu" ] ||
		fail "the guest sent ${sf[1]:-?} bytes in ${sf[0]:-?} frames while sending: no TSO"
	echo "while sending, the guest's frames averaged $((sf[1] / sf[0])) bytes (MTU $mtu)"
	# Every frame crossed kiln whole, one for one, in both directions.
	local c t
	read -r -a c <<< "$(gval eth0-counters | tr -d '[:lower:]')"
	read -r -a t <<< "$tap"
	net_same_frames "guest -> host: the guest sent" "${c[0]}" "${c[1]}" "tap0 got" "${t[0]}" "${t[1]}"
	net_same_frames "host -> guest: the guest got" "${c[2]}" "${c[3]}" "tap0 gave" "${t[2]}" "${t[3]}"
	[ "$(net_metric net-tcp tx_malformed_frames)" = 0 ] || fail "kiln counted malformed tx frames"
}

# The tx limiter of the configuration file (10 MiB/s), then another (5 MiB/s) set with
# PATCH /network-interfaces/eth0 while the guest runs: each guest-to-host transfer (4 s
# worth) must run within 10% of its rate, as the host's receiver times it. Buckets hold
# 100 ms of tokens; the first full one passes at once and is not counted. A host-to-guest
# transfer afterwards (not limited) says how fast this machine moves data at all.
# Knobs: E2E_NET_RATE (bytes/s), E2E_NET_RATE_SECONDS, E2E_NET_RATE_BUCKET_MS,
# E2E_NET_RATE_CONTROL (its bytes), E2E_NET_RATE_CONTROL_FIRST=1 (it goes first instead).
case_net_tx_rate_limiter_holds_its_rate() {
	net_requirements
	command -v curl >/dev/null || skip "curl is not installed"
	local rate1=${E2E_NET_RATE:-10485760} secs=${E2E_NET_RATE_SECONDS:-4} dir=$E2E_TMP/net-rl
	local ms=${E2E_NET_RATE_BUCKET_MS:-100} first=${E2E_NET_RATE_CONTROL_FIRST:-0}
	local rate2=$((rate1 / 2))
	local bytes1=$((rate1 * secs)) bytes2=$((rate2 * secs)) ctl=${E2E_NET_RATE_CONTROL:-$((rate1 * secs))}
	mkdir -p "$dir"
	net_setup rl 1500
	local sock=$dir/api.sock
	rm -f "$sock"
	ip netns exec "$net_ns" timeout 300 "$NET_PEER" serve 5002 "$ctl" </dev/null 2> "$dir/control.err" &
	net_pids+=($!)
	ip netns exec "$net_ns" timeout 300 "$NET_PEER" recv 5001 > /dev/null 2> "$dir/limited1.err" &
	local r1=$!
	net_pids+=("$r1")
	local cmd="sh /net-guest.sh up $NET_GUEST_IP && sh /net-guest.sh rl $NET_HOST_IP $bytes1 $bytes2 $first &&
sh /net-guest.sh stats"
	net_kiln net-rl "$cmd" \
		"{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"$NET_MAC\",
    \"tx_rate_limiter\": {\"bandwidth\": {\"size\": $((rate1 * ms / 1000)), \"refill_time\": $ms}}}" \
		--api-sock "$sock"

	local ok=1 code
	# The first limited transfer, or the guest's end.
	for _ in $(seq 2000); do kill -0 "$r1" 2>/dev/null && kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
	net_reap 5 "$r1"
	if ! grep -q '^net_peer: received' "$dir/limited1.err"; then
		echo "the first limited transfer did not happen"
		ok=0
	else
		code=$(curl -s -o "$dir/patch.body" -w '%{http_code}' --max-time 30 --unix-socket "$sock" \
			-X PATCH http://localhost/network-interfaces/eth0 -H 'Content-Type: application/json' \
			-d "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"bandwidth\": {\"size\": $((rate2 * ms / 1000)), \"refill_time\": $ms}}}")
		if [ "$code" != 204 ]; then
			echo "PATCH /network-interfaces/eth0: $code $(cat "$dir/patch.body")"
			ok=0
		fi
		ip netns exec "$net_ns" timeout 300 "$NET_PEER" recv 5004 > /dev/null 2> "$dir/limited2.err" &
		net_pids+=($!)
		nsrun timeout 60 "$NET_PEER" serve 5003 0 </dev/null 2>/dev/null
	fi
	net_finish net-rl
	net_reap 10 "${net_pids[@]}"
	echo "tap0 (host side): $(nsrun sh -c 'cd /sys/class/net/tap0/statistics && echo rx $(cat rx_packets) tx $(cat tx_packets) tx_dropped $(cat tx_dropped)')"
	expect_ok || return 1
	[ "$ok" = 1 ] || fail "a host-side step failed (above)"

	local want got n s control
	read -r n s <<< "$(peer_result "$dir/control.err")"
	control=$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.2f", (s > 0 ? n / s / 1048576 : 0) }')
	echo "not limited, host -> guest: $n bytes in $s s: $control MiB/s"
	for i in 1 2; do
		eval "want=\$rate$i"
		read -r n s <<< "$(peer_result "$dir/limited$i.err")"
		[ -n "$n" ] || fail "no result for limited transfer $i"
		got=$(awk -v n="$n" -v s="$s" -v k="$((want * ms / 1000))" 'BEGIN { printf "%.3f", (s > 0 ? (n - k) / s : 0) }')
		echo "limited to $((want / 1048576)) MiB/s, guest -> host: $n bytes in $s s:" \
			"$(awk -v g="$got" -v w="$want" 'BEGIN { printf "%.2f MiB/s (%+.1f%%)", g / 1048576, (g - w) * 100 / w }')"
		awk -v g="$got" -v w="$want" 'BEGIN { exit !(g >= w * 0.9 && g <= w * 1.1) }' ||
			fail "transfer $i ran at $(awk -v g="$got" 'BEGIN { printf "%.2f", g / 1048576 }') MiB/s, not within 10% of $((want / 1048576)) MiB/s (unlimited host -> guest: $control MiB/s)"
	done
	[ "$(net_metric net-rl tx_rate_limiter_throttled)" -gt 0 ] ||
		fail "net.tx_rate_limiter_throttled stayed 0"
}
