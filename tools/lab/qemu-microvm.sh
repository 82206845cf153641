#!/bin/bash
# Boots KERNEL + INITRD with QEMU's -M microvm on this machine's /dev/kvm and times it.
#   tools/lab/qemu-microvm.sh [--timeout S] [--mem MiB] [--cpus N] [--quiet] [--runs N]
#                             KERNEL INITRD CMDLINE [-- EXTRA_QEMU_ARGS...]
# Options: --accel kvm|tcg (default kvm: -enable-kvm -cpu host; tcg: software, -cpu max),
# --keep-reboot (do not append reboot=t to CMDLINE, see below), --runs N (boot N times,
# console not shown, one summary line per run, then "median over N runs: ..."; exit
# status: the highest of the runs).
# KERNEL may be a bzImage or an ELF vmlinux with a PVH note. The guest console (ttyS0)
# is copied to stdout (not with --quiet). The guest is expected to print the kiln guest
# markers (tools/guest/init): "KILN-GUEST-INIT ..." when /init starts and
# "KILN-GUEST-EXIT <status>" at the end, then reboot (-no-reboot makes QEMU exit).
# Prints one summary line to stderr:
#   qemu-microvm: init_ms=N exit_ms=N end_ms=N guest_init_uptime=S guest_status=N result=R
# (milliseconds since QEMU was started: /init reached, exit marker seen, QEMU gone).
# Exit status: the guest's status from the exit marker; 124 on timeout (no exit marker
# within S seconds, default 120); 125 when QEMU ended without the marker.
# Run it where /dev/kvm is real KVM: directly, or in the lab (tools/lab/run -- ...).
set -uo pipefail
timeout=120 mem=256 cpus=1 quiet=0 accel=kvm reboot=t runs=1
passthru=()
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) timeout=$2; passthru+=("$1" "$2"); shift 2 ;;
	--mem) mem=$2; passthru+=("$1" "$2"); shift 2 ;;
	--cpus) cpus=$2; passthru+=("$1" "$2"); shift 2 ;;
	--quiet) quiet=1; shift ;;
	--accel) accel=$2; passthru+=("$1" "$2"); shift 2 ;;
	--keep-reboot) reboot=; passthru+=("$1"); shift ;;
	--runs) runs=$2; shift 2 ;;
	-h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
[ $# -ge 3 ] || { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 125; }
if [ "$runs" -gt 1 ]; then
	# Repeat, quietly, and summarise: one line per run, then the medians.
	inits=() exits=() ends=() worst=0
	for i in $(seq "$runs"); do
		line=$("$0" --runs 1 --quiet "${passthru[@]}" "$@" 2>&1 >/dev/null | grep '^qemu-microvm:')
		rc=${PIPESTATUS[0]}
		echo "$line run=$i" >&2
		[ "$rc" -gt "$worst" ] && worst=$rc
		f() { printf '%s' "$line" | sed -n "s/.* $1=\([0-9]*\) .*/\1/p"; }
		v=$(f init_ms); [ -n "$v" ] && inits+=("$v")
		v=$(f exit_ms); [ -n "$v" ] && { exits+=("$v"); ends+=("$(f end_ms)"); }
	done
	median() { [ $# -gt 0 ] || { echo none; return; }; printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
	echo "qemu-microvm: median over $runs runs: init_ms=$(median "${inits[@]}") exit_ms=$(median "${exits[@]}") end_ms=$(median "${ends[@]}") ok_runs=${#exits[@]}" >&2
	exit "$worst"
fi
kernel=$1 initrd=$2 cmdline=$3
shift 3
[ "${1:-}" = -- ] && shift
[ -r "$kernel" ] || { echo "qemu-microvm: cannot read $kernel" >&2; exit 125; }
[ -r "$initrd" ] || { echo "qemu-microvm: cannot read $initrd" >&2; exit 125; }
case "$accel" in
kvm) accel_args=(-enable-kvm -cpu host)
	[ -w /dev/kvm ] || { echo "qemu-microvm: /dev/kvm is not usable here" >&2; exit 125; } ;;
tcg) accel_args=(-accel tcg -cpu max) ;;
*) echo "qemu-microvm: --accel kvm|tcg" >&2; exit 125 ;;
esac
# microvm has no i8042, so the guest's reboot=k cannot reset it (the kernel then falls
# back to a BIOS restart, which QEMU does not see as a reset and the VM spins): make
# the guest reboot by triple fault, which -no-reboot turns into QEMU exiting.
[ -n "$reboot" ] && cmdline="$cmdline reboot=$reboot"

# Private copies in ${TMPDIR:-/tmp} (RAM in the lab): what is timed is the VMM and the
# guest, not the file system the images live on (9p in the lab, 66 MB for a vmlinux).
stage=$(mktemp -d "${TMPDIR:-/tmp}/qemu-microvm.XXXXXX") || exit 125
cp "$kernel" "$stage/kernel" && cp "$initrd" "$stage/initrd" || { rm -rf "$stage"; exit 125; }
kernel=$stage/kernel initrd=$stage/initrd

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
t0=$(now_us)
exec 3< <(exec qemu-system-x86_64 -M microvm "${accel_args[@]}" \
	-m "$mem" -smp "$cpus" -nodefaults -no-user-config -display none -monitor none \
	-no-reboot -serial stdio -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	"$@" </dev/null 2>&1)
qpid=$!
trap 'kill -KILL $qpid 2>/dev/null; rm -rf "$stage"; exit 130' INT TERM HUP

init_ms= exit_ms= status= uptime= result=
deadline=$(($(now_us) + timeout * 1000000))
grace=
while :; do
	left=$(((${grace:-$deadline} - $(now_us)) / 1000))
	if [ "$left" -le 0 ]; then
		if [ -n "$grace" ]; then result=hung-after-exit; else result=timeout; fi
		kill -KILL "$qpid" 2>/dev/null
		break
	fi
	if IFS= read -r -t "$((left / 1000)).$(printf '%03d' $((left % 1000)))" line <&3; then
		line=${line%$'\r'}
		[ "$quiet" = 1 ] || printf '%s\n' "$line"
		case "$line" in
		*KILN-GUEST-INIT*)
			[ -n "$init_ms" ] || init_ms=$((($(now_us) - t0) / 1000))
			[ -n "$uptime" ] || uptime=$(printf "%s" "$line" | sed -n "s/.*uptime=\([0-9.]*\).*/\1/p") ;;
		KILN-GUEST-EXIT\ *)
			exit_ms=$((($(now_us) - t0) / 1000))
			status=${line#KILN-GUEST-EXIT }; status=${status%% *}
			grace=$(($(now_us) + 10000000)) ;;
		esac
	else
		rc=$?
		[ "$rc" -gt 128 ] && continue # read timed out: the loop re-checks the deadline
		break                          # EOF: QEMU exited
	fi
done
wait "$qpid" 2>/dev/null
end_ms=$((($(now_us) - t0) / 1000))
exec 3<&-
rm -rf "$stage"
if [ -z "$result" ]; then
	if [ -n "$status" ]; then result=ok; else result=no-exit-marker; fi
fi
echo "qemu-microvm: init_ms=${init_ms:-none} exit_ms=${exit_ms:-none} end_ms=$end_ms guest_init_uptime=${uptime:-none} guest_status=${status:-none} result=$result" >&2
case "$result" in
ok | hung-after-exit) exit "$status" ;;
timeout) exit 124 ;;
*) exit 125 ;;
esac
