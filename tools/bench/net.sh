#!/bin/bash
# Network benchmark: TCP throughput guest -> host and host -> guest over virtio-net on a
# TAP, kiln against QEMU microvm's virtio-net-device (its userspace device, vhost=off, as
# kiln has no vhost), same kernel, guest, TAP and network namespace, with the CPU time
# each VMM spends per GiB moved. Nothing is asserted about the figures.
#   tools/bench/net.sh BUILD_DIR
# The transfers are net_peer's (tests/helpers/net_peer.c), not iperf3: one TCP stream of
# BENCH_NET_MIB MiB (default 64) made in memory by the sender and thrown away by the
# receiver, both ends on the host timing it (accept to the peer's close), BENCH_NET_RUNS
# times each way in one boot of each VMM (default 5); the figures are medians. VMM CPU:
# utime + stime from /proc/PID/stat and /proc/PID/task/*/stat around each transfer, for
# the VMM's own threads (every thread but the vCPUs) and for the whole process (the vCPU
# threads included, so the guest's own work too).
# Linux guests boot directly where /dev/kvm can run them, in the lab (tools/lab)
# otherwise; lab figures are emulated and only comparable side by side. A lab run that
# fails is run once more; a VMM that does not finish every transfer fails the run, and a
# second failed lab run fails the benchmark (exit 1). Needs root (a network namespace and
# a TAP, made and removed here; nothing is configured in the host's own namespace).
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mib=${BENCH_NET_MIB:-64}
runs=${BENCH_NET_RUNS:-5}
envfile=$build/e2e/guest.env
peer=$build/tests/helpers/net_peer
bytes=$((mib << 20))

if [ "${KILN_LAB:-}" != 1 ]; then
	echo
	mkdir -p "$build/e2e"
	if ! "$top/tools/guest/build.sh" --quiet --env "$envfile" >/dev/null; then
		echo "network benchmark: the guest images could not be built"
		exit 1
	fi
	if [ "$("$top/tools/lab/detect")" != direct ]; then
		echo "network benchmark: this host's /dev/kvm cannot boot Linux; running in the lab (emulated)"
		for attempt in 1 2; do
			"$top/tools/lab/run" --timeout "${BENCH_NET_TIMEOUT:-1500}" --mem 3072 --cpus 2 \
				-- "$0" "$build" && exit 0
			rc=$?
			echo "network benchmark: the lab run failed (status $rc); attempt $attempt of 2"
		done
		exit 1
	fi
fi
. "$envfile"
fail() { echo "network benchmark: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (a network namespace and a TAP)"
command -v ip >/dev/null || fail "no ip (iproute2)"
[ -x "$peer" ] || fail "no $peer (make bench builds it)"
command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-netbench-XXXXXX")
ns=kiln-bench-net-$$
vmm_pid=
cleanup() {
	[ -n "$vmm_pid" ] && kill -9 "$vmm_pid" 2>/dev/null
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p"; done
	ip -n "$ns" link del tap0 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
host_ip=172.16.0.1 guest_ip=172.16.0.2 mac=06:00:ac:10:00:02

ip netns add "$ns" || fail "ip netns add failed"
nsrun() { ip netns exec "$ns" "$@"; }
ip -n "$ns" link set lo up && ip -n "$ns" tuntap add dev tap0 mode tap &&
	nsrun sh -c 'echo 1 > /proc/sys/net/ipv6/conf/tap0/disable_ipv6' &&
	ip -n "$ns" link set tap0 up && ip -n "$ns" addr add "$host_ip/24" dev tap0 ||
	fail "cannot set up tap0 in $ns"

# The guest: net_peer and a script appended to the initramfs (a second cpio archive).
mkdir "$tmp/extra"
cp "$peer" "$tmp/extra/net_peer"
cat > "$tmp/extra/net-bench.sh" <<'EOF'
#!/bin/sh
# In the guest: ADDR HOST BYTES RUNS. RUNS times: BYTES from the host (port 5002), then
# BYTES to it (5001); then it waits for the host's go (5003) and powers off.
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
ip link set eth0 up && ip addr add "$1/24" dev eth0 || exit 10
echo "BENCH-NET up: mtu $(cat /sys/class/net/eth0/mtu), features $(cat /sys/class/net/eth0/device/features)"
i=0
while [ $i -lt "$4" ]; do
	/net_peer fetch "$2" 5002 >/dev/null || exit 11
	/net_peer send "$2" 5001 "$3" || exit 12
	i=$((i + 1))
done
# The host's go (5003) once it has read the VMM's CPU time after the last transfer.
/net_peer fetch "$2" 5003 >/dev/null
EOF
chmod 0755 "$tmp/extra/net_peer" "$tmp/extra/net-bench.sh"
initrd=$tmp/initramfs.cpio.gz
{ cat "$KILN_GUEST_INITRAMFS" &&
	(cd "$tmp/extra" && printf '%s\n' net_peer net-bench.sh | cpio --quiet -o -H newc -R 0:0) |
	gzip -n; } > "$initrd" || fail "cannot build the guest initramfs"
cmd="sh /net-bench.sh $guest_ip $host_ip $bytes $runs"
cmdline="$KILN_GUEST_CMDLINE kiln.exit=poweroff kiln.run=$(printf '%s' "$cmd" | base64 -w0)"

# ticks PID VCPU_COMM_GLOB: "OWN ALL": CPU ticks of the VMM's own threads (every live
# thread but the vCPUs, plus what exited threads left in the process total) and of the
# whole process. One `cat` reads every stat file at once.
ticks() {
	cat "/proc/$1/stat" /proc/"$1"/task/*/stat 2>/dev/null | awk -v glob="$2" '
		BEGIN { re = glob; gsub(/\*/, ".*", re); re = "^" re "$" }
		{
			o = index($0, "("); c = 0
			for (i = length($0); i > 0; i--) if (substr($0, i, 1) == ")") { c = i; break }
			comm = substr($0, o + 1, c - o - 1)
			split(substr($0, c + 2), f, " ")
			t = f[12] + f[13]
			if (NR == 1) { total = t; next }
			all += t
			if (comm !~ re) own += t
		}
		END { if (NR < 2) exit 1; dead = total - all; print own + (dead > 0 ? dead : 0), total }'
}

# measure NAME VCPU_GLOB CMD...: boots the VMM in the namespace and runs the transfers;
# one line per transfer in $tmp/NAME.res: "DIRECTION BYTES SECONDS OWN_TICKS ALL_TICKS".
measure() {
	local name=$1 glob=$2 i dir t0 t1 o0 o1 a0 a1 res
	shift 2
	: > "$tmp/$name.res"
	# ip becomes the VMM: $! is its pid (through nsrun it would be a subshell's).
	ip netns exec "$ns" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" &
	vmm_pid=$!
	for i in $(seq "$runs"); do
		for dir in host-guest guest-host; do
			t0=$(ticks "$vmm_pid" "$glob") || break 2
			if [ "$dir" = host-guest ]; then
				nsrun timeout 300 "$peer" serve 5002 "$bytes" </dev/null 2>"$tmp/peer.err"
			else
				nsrun timeout 300 "$peer" recv 5001 >/dev/null 2>"$tmp/peer.err"
			fi || { sed 's/^/  /' "$tmp/peer.err"; break 2; }
			t1=$(ticks "$vmm_pid" "$glob") || break 2
			res=$(sed -n 's/^net_peer: [a-z]* \([0-9]*\) bytes in \([0-9.]*\) s.*/\1 \2/p' "$tmp/peer.err")
			read -r o0 a0 <<< "$t0"
			read -r o1 a1 <<< "$t1"
			echo "$dir $res $((o1 - o0)) $((a1 - a0))" >> "$tmp/$name.res"
			echo "network benchmark: $name run $i, $dir: $res ($(awk -v l="$res" 'BEGIN { split(l, a, " "); printf "%.1f MiB/s", a[1] / a[2] / 1048576 }'))"
		done
	done
	# The guest powers off after the host's go.
	nsrun timeout 60 "$peer" serve 5003 0 </dev/null 2>/dev/null
	for i in $(seq 300); do kill -0 "$vmm_pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$vmm_pid" 2>/dev/null
	wait "$vmm_pid"
	echo "network benchmark: $name: exit status $?, $(wc -l < "$tmp/$name.res") of $((2 * runs)) transfers" >&2
	vmm_pid=
	if [ "$(wc -l < "$tmp/$name.res")" != $((2 * runs)) ]; then
		echo "network benchmark: $name did not finish; console and log tails:"
		tr -d '\r' < "$tmp/$name.out" | tail -n 8 | sed 's/^/  > /'
		tail -n 8 "$tmp/$name.err" | sed 's/^/  ! /'
		return 1
	fi
}

cat > "$tmp/kiln.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$KILN_GUEST_VMLINUZ", "initrd_path": "$initrd",
                   "boot_args": "$cmdline" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "network-interfaces": [ { "iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "$mac" } ]
}
JSON
measure kiln 'kiln_vcpu*' "$build/kiln" --no-api --config-file "$tmp/kiln.json" ||
	fail "kiln's run failed"
# debug-threads=on: QEMU names its vCPU threads ("CPU 0/KVM") only when asked to.
measure qemu 'CPU */KVM' qemu-system-x86_64 -name kiln-bench,debug-threads=on \
	-M microvm -enable-kvm -cpu host -m 256 -smp 1 \
	-nodefaults -no-user-config -display none -monitor none -no-reboot -serial stdio \
	-kernel "$KILN_GUEST_VMLINUZ" -initrd "$initrd" -append "$cmdline" \
	-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off \
	-device "virtio-net-device,netdev=n0,mac=$mac" || fail "QEMU's run failed"

hz=$(getconf CLK_TCK)
# median NAME DIRECTION WHAT: the median over the runs of MiB/s (rate), or of CPU seconds
# per GiB of the VMM's own threads (own) or of the whole process (all).
median() {
	awk -v d="$2" -v w="$3" -v hz="$hz" '$1 == d {
			gib = $2 / 1073741824
			v[n++] = w == "rate" ? $2 / $3 / 1048576 : (w == "own" ? $4 : $5) / hz / gib
		}
		END {
			if (!n) { print "n/a"; exit }
			for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
			printf (w == "rate" ? "%.1f" : "%.2f"), m
		}' "$tmp/$1.res"
}
row() { # LABEL DIRECTION WHAT
	printf '%-46s %12s %14s\n' "$1" "$(median kiln "$2" "$3")" "$(median qemu "$2" "$3")"
}
echo
echo "network benchmark: Linux $KILN_GUEST_KERNEL_RELEASE, 1 vCPU, 256 MiB; a TAP in a network namespace,"
echo "MTU 1500, offloads negotiated by each VMM; one TCP stream of $mib MiB each way, $runs times$( [ "${KILN_LAB:-}" = 1 ] && echo '; in the lab (emulated)')"
printf '%-46s %12s %14s\n' "(medians of $runs)" "kiln" "QEMU microvm"
row "guest -> host, MiB/s" guest-host rate
row "host -> guest, MiB/s" host-guest rate
row "VMM CPU s/GiB, guest -> host (VMM threads)" guest-host own
row "  host -> guest" host-guest own
row "process CPU s/GiB, guest -> host (with vCPUs)" guest-host all
row "  host -> guest" host-guest all
echo "(QEMU: virtio-net-device, -netdev tap with vhost=off. VMM threads: every thread but the vCPUs;"
echo " tick = $((1000000 / hz)) us.)"
