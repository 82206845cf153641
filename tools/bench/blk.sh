#!/bin/bash
# Block benchmark (issue 4): guest sequential write and read throughput and 4 KiB random-read
# IOPS on one image file with kiln's Sync engine, kiln's Async (io_uring) engine and QEMU
# microvm's virtio-blk-device, same kernel and guest, printed side by side with the CPU
# time per request of each VMM's own threads (every thread but the vCPUs, which run the
# guest). Nothing is asserted.
#   tools/bench/blk.sh BUILD_DIR
# Linux guests boot directly where /dev/kvm can run them, in the lab (tools/lab) otherwise;
# lab figures are emulated and only comparable side by side. Knobs: BENCH_BLK_MIB
# (sequential size, default 64), BENCH_BLK_SECONDS (random-read time, default 5).
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mib=${BENCH_BLK_MIB:-64}
secs=${BENCH_BLK_SECONDS:-5}
envfile=$build/e2e/guest.env

if [ "${KILN_LAB:-}" != 1 ]; then
	echo
	mkdir -p "$build/e2e"
	if ! "$top/tools/guest/build.sh" --quiet --env "$envfile" >/dev/null; then
		echo "block benchmark: the guest images could not be built; skipped"
		exit 0
	fi
	if [ "$("$top/tools/lab/detect")" != direct ]; then
		echo "block benchmark: this host's /dev/kvm cannot boot Linux; running in the lab (emulated)"
		. "$top/tools/bench/lib.sh"
		bench_in_lab "block benchmark" "${BENCH_BLK_TIMEOUT:-1500}" 3072 "$0" "$build"
	fi
fi
. "$envfile"
command -v mkfs.ext4 >/dev/null || { echo "block benchmark: mkfs.ext4 missing; skipped"; exit 0; }
command -v qemu-system-x86_64 >/dev/null || echo "block benchmark: no qemu-system-x86_64; QEMU column skipped"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-blkbench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The image every VMM uses (written, not sparse: reads hit data), and a small ext4 drive
# with the guest's tools: the static benchmark program and the script that runs it.
dd if=/dev/zero of="$tmp/bench.img" bs=1M count=$((mib * 2)) status=none
mkdir "$tmp/tools"
gcc -static -O2 -o "$tmp/tools/blkbench" "$here/guest/blkbench.c" ||
	{ echo "block benchmark: cannot build the guest program; skipped"; exit 0; }
cat > "$tmp/tools/bench.sh" <<'EOF'
#!/bin/sh
# In the guest: DEVICE MIB SECONDS. Each phase is framed by markers the host samples CPU at.
cp /t/blkbench /tmp/blkbench
dev=$1 name=${1#/dev/}
phase() {
	echo "BENCH-MARK start $1"; sleep 1
	before=$(cat /sys/block/$name/stat)
	res=$(/tmp/blkbench "$dev" "$1" "$2")
	after=$(cat /sys/block/$name/stat)
	echo "BENCH-MARK end $1"; sleep 1
	# Requests the guest completed: reads, writes and flushes (fields 1, 5 and 16).
	echo "BENCH-RESULT $res reqs=$(echo $before $after | awk '{print ($18 - $1) + ($22 - $5) + ($33 - $16)}')"
}
phase seqwrite "$2"
phase seqread "$2"
phase randread "$3"
sleep 2
EOF
mkfs.ext4 -q -F -d "$tmp/tools" -L kiln-bench "$tmp/tools.img" 16M ||
	{ echo "block benchmark: mkfs.ext4 failed; skipped"; exit 0; }
# Whichever disk holds the tools is mounted; the other is the benchmark disk.
cmd="mkdir -p /t; for d in /dev/vda /dev/vdb; do if mount -o ro \$d /t 2>/dev/null; then :; else b=\$d; fi; done; sh /t/bench.sh \$b $mib $secs"
cmdline="$KILN_GUEST_CMDLINE kiln.exit=poweroff kiln.run=$(printf '%s' "$cmd" | base64 -w0)"

# CPU ticks of the VMM's own threads: every live thread but the vCPUs, plus what threads
# that have exited (io_uring workers) left in the process total. One `cat` reads every
# stat file within microseconds, so the vCPUs (busy with the guest) barely move meanwhile.
own_ticks() { # PID VCPU_COMM_GLOB
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
		END { if (NR < 2) exit 1; dead = total - all; print own + (dead > 0 ? dead : 0) }'
}

# run_vmm NAME VCPU_COMM_GLOB CMD...: the VMM's console goes to $tmp/NAME.out; at each
# BENCH-MARK line its own threads' CPU ticks are recorded in $tmp/NAME.ticks.
run_vmm() {
	local name=$1 glob=$2 seen=0 n deadline
	shift 2
	"$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" &
	local pid=$!
	: > "$tmp/$name.ticks"
	deadline=$(($(date +%s) + ${BENCH_BLK_VM_TIMEOUT:-600}))
	while kill -0 "$pid" 2>/dev/null; do
		n=$(grep -c '^BENCH-MARK' "$tmp/$name.out")
		while [ "$seen" -lt "$n" ]; do
			seen=$((seen + 1))
			echo "$(grep '^BENCH-MARK' "$tmp/$name.out" | sed -n "${seen}p" | tr -d '\r') $(own_ticks "$pid" "$glob")" >> "$tmp/$name.ticks"
		done
		if [ "$(date +%s)" -gt "$deadline" ]; then
			kill "$pid"; echo "block benchmark: $name timed out; console and log tails:" >&2
			tr -d '\r' < "$tmp/$name.out" | tail -n 8 | sed 's/^/  > /' >&2
			tail -n 8 "$tmp/$name.err" | sed 's/^/  ! /' >&2
			break
		fi
		sleep 0.05
	done
	wait "$pid"
	echo "$name: exit status $?; $(grep -c '^BENCH-RESULT' "$tmp/$name.out") results" >&2
}

kiln_vm() { # ENGINE
	cat > "$tmp/kiln-$1.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$KILN_GUEST_VMLINUZ", "initrd_path": "$KILN_GUEST_INITRAMFS",
                   "boot_args": "$cmdline" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "drives": [
    { "drive_id": "bench", "path_on_host": "$tmp/bench.img", "is_root_device": false, "io_engine": "$1" },
    { "drive_id": "tools", "path_on_host": "$tmp/tools.img", "is_root_device": false, "is_read_only": true }
  ],
  "metrics": { "metrics_path": "$tmp/kiln-$1.metrics" }
}
JSON
	run_vmm "kiln-$1" 'kiln_vcpu*' "$build/kiln" --no-api --config-file "$tmp/kiln-$1.json" --level Debug
}

only=${BENCH_BLK_ONLY:-kiln-Sync kiln-Async qemu}	# a subset, for debugging
case " $only " in *" kiln-Sync "*) kiln_vm Sync ;; esac
case " $only " in *" kiln-Async "*) kiln_vm Async ;; esac
if [[ " $only " == *" qemu "* ]] && command -v qemu-system-x86_64 >/dev/null; then
	# As tools/lab/qemu-microvm.sh runs it, plus the two drives (cache=unsafe: kiln's
	# default cache_type, flushes ignored; both VMMs go through the host page cache).
	run_vmm qemu 'CPU */KVM' qemu-system-x86_64 -M microvm -enable-kvm -cpu host -m 256 -smp 1 \
		-name blkbench,debug-threads=on \
		-nodefaults -no-user-config -display none -monitor none -no-reboot -serial stdio \
		-kernel "$KILN_GUEST_VMLINUZ" -initrd "$KILN_GUEST_INITRAMFS" -append "$cmdline" \
		-drive "file=$tmp/bench.img,if=none,id=bench,format=raw,cache=unsafe" \
		-device virtio-blk-device,drive=bench \
		-drive "file=$tmp/tools.img,if=none,id=tools,format=raw,readonly=on" \
		-device virtio-blk-device,drive=tools
fi

# field NAME PHASE KEY: a value from NAME's BENCH-RESULT line for PHASE.
field() {
	tr -d '\r' < "$tmp/$1.out" | sed -n "s/^BENCH-RESULT $2 .*\b$3=\([0-9.]*\).*/\1/p" | tail -n 1
}
# µs of the VMM's own threads per request in PHASE.
cpu_per_req() {
	local s e reqs
	s=$(awk -v p="$2" '$2 == "start" && $3 == p {print $4}' "$tmp/$1.ticks")
	e=$(awk -v p="$2" '$2 == "end" && $3 == p {print $4}' "$tmp/$1.ticks")
	reqs=$(field "$1" "$2" reqs)
	[ -n "$s" ] && [ -n "$e" ] && [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || { echo n/a; return; }
	awk -v t=$((e - s)) -v hz="$(getconf CLK_TCK)" -v r="$reqs" 'BEGIN {printf "%.1f", t * 1e6 / hz / r}'
}
metric_sum() { # NAME KEY: kiln's block.KEY over every metrics line
	sed -n "s/.*\"block\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" "$tmp/$1.metrics" 2>/dev/null |
		awk '{s += $1} END {print s + 0}'
}

vmms=(kiln-Sync kiln-Async qemu)
row() { # LABEL FUNC ARGS...
	local label=$1 f=$2 v
	shift 2
	printf '%-36s' "$label"
	for m in "${vmms[@]}"; do
		v=$("$f" "$m" "$@" 2>/dev/null); printf ' %14s' "${v:-n/a}"
	done
	echo
}
echo
echo "block benchmark: Linux $KILN_GUEST_KERNEL_RELEASE, 1 vCPU, 256 MiB; one image file; $mib MiB sequential in"
echo "1 MiB O_DIRECT requests; 4 KiB O_DIRECT random reads at queue depth 1 for $secs s$( [ "${KILN_LAB:-}" = 1 ] && echo '; in the lab (emulated)')"
printf '%-36s %14s %14s %14s\n' "" "kiln Sync" "kiln Async" "QEMU microvm"
row "sequential write, MB/s" field seqwrite MBps
row "sequential read, MB/s" field seqread MBps
row "random 4 KiB read, IOPS" field randread iops
row "requests (guest-counted): seq write" field seqwrite reqs
row "  seq read" field seqread reqs
row "  random read" field randread reqs
row "VMM CPU us/request: seq write" cpu_per_req seqwrite
row "  seq read" cpu_per_req seqread
row "  random read" cpu_per_req randread
printf '%-36s %14s %14s %14s\n' "kiln metrics: block.read_count" "$(metric_sum kiln-Sync read_count)" \
	"$(metric_sum kiln-Async read_count)" "-"
printf '%-36s %14s %14s %14s\n' "  block.write_count" "$(metric_sum kiln-Sync write_count)" \
	"$(metric_sum kiln-Async write_count)" "-"
echo "(VMM CPU: every thread but the vCPUs', from /proc/PID/stat and /proc/PID/task/*/stat, sampled at"
echo " phase markers; tick = $((1000000 / $(getconf CLK_TCK))) us. kiln metrics also count the boot's reads and both drives.)"
# A VMM that ran without giving its three figures fails the benchmark (n/a above says which).
missing=()
for m in "${vmms[@]}"; do
	[ -e "$tmp/$m.out" ] || continue	# not run (BENCH_BLK_ONLY, or no QEMU)
	for p in seqwrite seqread randread; do
		[ -n "$(field "$m" "$p" reqs)" ] || missing+=("$m:$p")
	done
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "block benchmark: FAILED: no figure for ${missing[*]}"
	exit 1
fi
