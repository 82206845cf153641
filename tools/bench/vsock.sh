#!/bin/bash
# vsock benchmark: a host program and a Linux guest echo a stream through vsock, both ways
# at once; kiln's virtio-vsock (Firecracker's Unix-socket protocol on uds_path) against
# QEMU microvm's vhost-vsock-device (the host side in the kernel, AF_VSOCK), same kernel,
# guest and echo program (tests/helpers/vsock_peer). Printed side by side: throughput each
# way and the VMM's CPU per GiB moved (kiln: every thread but the vCPUs; QEMU: the same
# plus its vhost worker thread, which does the moving there). Nothing is asserted.
#   tools/bench/vsock.sh BUILD_DIR
# Knobs: BENCH_VSOCK_MIB (default 64), BENCH_VSOCK_RUNS (default 3, the median is shown).
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mib=${BENCH_VSOCK_MIB:-64}
runs=${BENCH_VSOCK_RUNS:-3}
envfile=$build/e2e/guest.env
peer=$build/tests/helpers/vsock_peer

if [ "${KILN_LAB:-}" != 1 ]; then
	echo
	mkdir -p "$build/e2e"
	[ -x "$peer" ] || { echo "vsock benchmark: no $peer (make test-bins); skipped"; exit 0; }
	if ! "$top/tools/guest/build.sh" --quiet --env "$envfile" >/dev/null; then
		echo "vsock benchmark: the guest images could not be built; skipped"
		exit 0
	fi
	if [ "$("$top/tools/lab/detect")" != direct ]; then
		echo "vsock benchmark: this host's /dev/kvm cannot boot Linux; running in the lab (emulated)"
		. "$here/lib.sh"
		bench_in_lab "vsock benchmark" "${BENCH_VSOCK_TIMEOUT:-1500}" 3072 "$0" "$build"
	fi
fi
. "$envfile"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-vsockbench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bytes=$((mib * 1048576))

# The guest initramfs with /vsock_peer appended; the guest serves one connection per run.
mkdir -p "$tmp/extra" && cp "$peer" "$tmp/extra/vsock_peer" && chmod 0755 "$tmp/extra/vsock_peer"
cat "$KILN_GUEST_INITRAMFS" > "$tmp/initrd" &&
	(cd "$tmp/extra" && echo vsock_peer | cpio --quiet -o -H newc -R 0:0) | gzip -n >> "$tmp/initrd"
cmdline="$KILN_GUEST_CMDLINE kiln.exit=poweroff kiln.run=$(printf '/vsock_peer serve-vsock 5000 %s' "$runs" | base64 -w0)"

# CPU ticks of PID's threads but those whose name matches GLOB (the vCPUs), plus threads
# named in EXTRA (kernel workers that serve PID).
own_ticks() { # PID GLOB [EXTRA_PID...]
	local pid=$1 glob=$2
	shift 2
	cat /proc/"$pid"/task/*/stat 2>/dev/null | awk -v glob="$glob" '
		BEGIN { re = glob; gsub(/\*/, ".*", re); re = "^" re "$" }
		{ o = index($0, "("); c = 0
		  for (i = length($0); i > 0; i--) if (substr($0, i, 1) == ")") { c = i; break }
		  comm = substr($0, o + 1, c - o - 1); split(substr($0, c + 2), f, " ")
		  if (comm !~ re) own += f[12] + f[13] }
		END { print own + 0 }'
	for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done
}
sum() { awk '{ s += $1 } END { print s + 0 }'; }

# bench NAME CLIENT... : boot the VMM already started as $vmm_pid, run the client $runs
# times, record MiB/s and CPU ticks per run in $tmp/NAME.res.
measure() {
	local name=$1 i line t0 t1 extra
	shift
	: > "$tmp/$name.res"
	for i in $(seq 300); do grep -q 'listening on vsock port 5000' "$tmp/$name.out" && break; sleep 0.2; done
	grep -q 'listening on vsock port 5000' "$tmp/$name.out" ||
		{ echo "vsock benchmark: $name: the guest's server never started" >&2; tail -n 5 "$tmp/$name.err" >&2; return 1; }
	extra=$(pgrep -x "vhost-$vmm_pid" || true)
	for i in $(seq "$runs"); do
		t0=$(own_ticks "$vmm_pid" "$vcpu_glob" $extra | sum)
		line=$("$@" 2>&1 | grep '^ok: ')
		t1=$(own_ticks "$vmm_pid" "$vcpu_glob" $extra | sum)
		echo "$line" | sed -n "s/.*(\([0-9.]*\) MiB\/s each way).*/\1 $((t1 - t0))/p" >> "$tmp/$name.res"
	done
}

# kiln
rm -f "$tmp/v.sock"
cat > "$tmp/kiln.json" <<JSON
{ "boot-source": { "kernel_image_path": "$KILN_GUEST_VMLINUZ", "initrd_path": "$tmp/initrd",
                   "boot_args": "$cmdline" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "vsock": { "guest_cid": 3, "uds_path": "$tmp/v.sock" } }
JSON
"$build/kiln" --no-api --config-file "$tmp/kiln.json" </dev/null >"$tmp/kiln.out" 2>"$tmp/kiln.err" &
vmm_pid=$! vcpu_glob='kiln_vcpu*'
measure kiln "$peer" echo-unix "$tmp/v.sock" 5000 "$bytes"
wait "$vmm_pid"

# QEMU microvm with vhost-vsock (needs /dev/vhost-vsock: the lab loads vhost_vsock)
if command -v qemu-system-x86_64 >/dev/null && [ -c /dev/vhost-vsock ]; then
	qemu-system-x86_64 -M microvm -enable-kvm -cpu host -m 256 -smp 1 -nodefaults \
		-no-user-config -display none -monitor none -no-reboot -serial stdio \
		-kernel "$KILN_GUEST_VMLINUZ" -initrd "$tmp/initrd" -append "$cmdline" \
		-device vhost-vsock-device,guest-cid=3 </dev/null >"$tmp/qemu.out" 2>"$tmp/qemu.err" &
	vmm_pid=$! vcpu_glob='CPU */KVM'
	measure qemu "$peer" echo-vsock 3 5000 "$bytes"
	wait "$vmm_pid"
else
	echo "vsock benchmark: no qemu-system-x86_64 or no /dev/vhost-vsock; QEMU column skipped"
fi

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'; }
rate() { [ -s "$tmp/$1.res" ] && awk '{ print $1 }' "$tmp/$1.res" | median || echo n/a; }
cpu_per_gib() { # ticks per run over 2 * bytes moved (echo: each byte crosses twice)
	[ -s "$tmp/$1.res" ] || { echo n/a; return; }
	awk -v hz="$(getconf CLK_TCK)" -v b="$bytes" '{ printf "%.2f\n", $2 / hz / (2 * b / 1073741824) }' \
		"$tmp/$1.res" | median
}
echo
echo "vsock benchmark: Linux $KILN_GUEST_KERNEL_RELEASE, 1 vCPU, 256 MiB; $mib MiB echoed (sent and"
echo "received at once), median of $runs$( [ "${KILN_LAB:-}" = 1 ] && echo '; in the lab (emulated)')"
printf '%-34s %16s %18s\n' "" "kiln (uds_path)" "QEMU (vhost-vsock)"
printf '%-34s %16s %18s\n' "throughput each way, MiB/s" "$(rate kiln)" "$(rate qemu)"
printf '%-34s %16s %18s\n' "VMM CPU, s per GiB moved" "$(cpu_per_gib kiln)" "$(cpu_per_gib qemu)"
echo "(kiln moves every byte through its own main thread and a Unix socket; with vhost the"
echo " kernel moves it, counted here as QEMU's vhost worker thread.)"
[ -s "$tmp/kiln.res" ] || { echo "vsock benchmark: FAILED: no kiln figure"; tail -n 5 "$tmp/kiln.err"; exit 1; }
