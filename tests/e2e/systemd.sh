#!/bin/bash
# kiln@.service under a real systemd: Debian's systemd as PID 1 (in the lab, tools/lab/run
# --systemd), kiln installed by `make install`, Linux guests started, stopped, killed and
# crashed as units.
#   tests/e2e/systemd.sh BUILD_DIR [CASE...]
#   tests/e2e/systemd.sh --here BUILD_DIR GUEST_ENV [CASE...]   (inside; see below)
# CASE names one case (a function case_* below, with or without "case_"); default all.
# The suite always runs in the lab: it installs into /usr/local, writes /etc/kiln and
# /etc/systemd/system and starts units, which the lab's overlay throws away. --here runs
# the cases where this shell is: only for a disposable machine with systemd as PID 1 and a
# /dev/kvm that boots Linux. SYSTEMD_E2E_UNITS (default 4)  units boot at once in
# case_units_at_once. The last line is "systemd: N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

if [ "${1:-}" != --here ]; then
	build=$(cd "${1:-build}" && pwd)
	mkdir -p "$build/e2e"
	envfile=$build/e2e/guest.env
	if ! "$top/tools/guest/build.sh" --quiet --env "$envfile" >/dev/null; then
		echo "systemd: the guest images could not be built (see above)"
		echo "systemd: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	if [ ! -x /lib/systemd/systemd ]; then
		echo "systemd: /lib/systemd/systemd is missing (Debian's systemd package: tools/deps.sh ensure)"
		echo "systemd: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	# A failed lab (status 125: it did not boot, its own kernel gave up, or a guest stopped
	# making progress in it, see guest_stuck below; none says anything about kiln) is retried
	# up to SYSTEMD_LAB_RETRY times (default 2) in a new lab. The cases that passed stand; the
	# others run again, after the first case (which starts the VM that later cases use).
	cases_of() { sed -n 's/^case_\([a-z0-9_]*\)() {$/\1/p' "$0"; }
	if [ $# -gt 1 ]; then mapfile -t todo < <(printf '%s\n' "${@:2}" | sed 's/^case_//'); else mapfile -t todo < <(cases_of); fi
	first=$(cases_of | head -n 1)
	tries=$((${SYSTEMD_LAB_RETRY:-2} + 1)) stood=0 attempt=0 rc=125
	log=$build/e2e/systemd-lab.log
	while [ "$attempt" -lt "$tries" ]; do
		attempt=$((attempt + 1))
		echo "systemd: booting Debian's systemd as PID 1 in the lab (tools/lab/run --systemd)"
		"$top/tools/lab/run" --systemd --timeout "${SYSTEMD_LAB_TIMEOUT:-900}" --mem "${SYSTEMD_LAB_MEM:-3072}" \
			--cpus 2 -- "$0" --here "$build" "$envfile" "${todo[@]}" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		[ "$rc" -eq 125 ] && [ "$attempt" -lt "$tries" ] || break
		mapfile -t ok < <(sed -n 's/^PASS \([a-z0-9_]*\) .*/\1/p' "$log")
		mapfile -t rest < <(printf '%s\n' "${todo[@]}" | grep -vxF -f <(printf '%s\n' "${ok[@]}") | grep .)
		if [ ${#rest[@]} -eq 0 ]; then
			# Every case passed before the lab failed (on its way down): nothing to run again.
			echo "systemd: the lab failed after every case passed"
			echo "systemd: $((stood + ${#ok[@]})) passed, 0 failed, 0 skipped (in $attempt labs)"
			exit 0
		fi
		if printf '%s\n' "${todo[@]}" | grep -qx "$first" && ! printf '%s\n' "${rest[@]}" | grep -qx "$first"; then
			rest=("$first" "${rest[@]}")	# counted again when it passes again
			stood=$((stood + ${#ok[@]} - 1))
		else
			stood=$((stood + ${#ok[@]}))
		fi
		todo=("${rest[@]}")
		echo "systemd: the lab failed (attempt $attempt of $tries); cases passed so far, which stand: $stood;" \
			"running again in a new lab: ${todo[*]}"
	done
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 125 ]; then
		echo "systemd: the lab failed (status $rc)"
		echo "systemd: $stood passed, 1 failed, 0 skipped"
	elif [ "$attempt" -gt 1 ]; then
		# The last attempt's counts, with the cases that passed in the failed labs.
		sed -nE 's/^systemd: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p' "$log" | tail -n 1 |
			{ read -r p f s || p=0 f=0 s=0; echo "systemd: $((p + stood)) passed, $f failed, $s skipped (in $attempt labs)"; }
	fi
	exit "$rc"
fi

# ---- inside: systemd is PID 1 ------------------------------------------------------------
build=$2
envfile=$3
shift 3
. "$envfile"
T0=$(date +%s)
say() { echo "systemd: $*"; }
if [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ]; then
	say "PID 1 is $(cat /proc/1/comm 2>/dev/null), not systemd"
	say "0 passed, 1 failed, 0 skipped"
	exit 1
fi
# Bounded calls: nothing in this suite waits without a deadline.
sctl() { timeout -k 5 "${SCTL_TIMEOUT:-90}" systemctl --no-pager "$@"; }
# Every waiting loop below has a deadline in wall-clock seconds (SECONDS), however slow
# each systemctl call is.
jctl() { timeout -k 5 30 journalctl --no-pager "$@"; }
prop() { sctl show -p "$2" --value "kiln@$1.service"; }
cgdir() { echo "/sys/fs/cgroup$(prop "$1" ControlGroup)"; }
fail() { echo "  FAILED: $*"; exit 1; }
# The guest prints this line when its /init runs the command: "the guest booted".
marker() { echo "kiln-systemd-up-$1"; }

# write_vm ID [VCPUS] [MEM_MIB] [GUEST_COMMAND]: /etc/kiln/ID.json and ID.env (as in the
# example: a --cgroup setting, without which the jailer makes no VM cgroup). The guest
# prints its marker, runs the command and then idles (kiln.exit=hang) until stopped.
write_vm() {
	local id=$1 vcpus=${2:-1} mem=${3:-128} cmd="echo $(marker "$1")${4:+; $4}"
	cat >"/etc/kiln/$id.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "/vmlinux",
    "initrd_path": "/initrd.img",
    "boot_args": "$KILN_GUEST_CMDLINE kiln.run=$(printf '%s' "$cmd" | base64 -w0) kiln.exit=hang"
  },
  "machine-config": { "vcpu_count": $vcpus, "mem_size_mib": $mem }
}
JSON
	cat >"/etc/kiln/$id.env" <<ENV
KILN_UID=10001
KILN_GID=10001
KILN_JAILER_ARGS=--bind /srv/kiln/images/vmlinux:/vmlinux --bind /srv/kiln/images/initrd.img:/initrd.img --cgroup memory.max=512M
ENV
}

# dropin ID NAME TEXT: /etc/systemd/system/kiln@ID.service.d/NAME.conf, then daemon-reload.
dropin() {
	mkdir -p "/etc/systemd/system/kiln@$1.service.d"
	printf '[Service]\n%s\n' "$3" >"/etc/systemd/system/kiln@$1.service.d/$2.conf"
	sctl daemon-reload
}

# booted ID [N]: waits (up to SYSTEMD_BOOT_WAIT s, default 180; a guest boots in 10 to 45 s
# in the lab) until the current invocation's journal holds the guest's marker N times
# (default 1).
booted() {
	local id=$1 n=${2:-1} end=$((SECONDS + ${SYSTEMD_BOOT_WAIT:-180})) inv
	while [ "$SECONDS" -lt "$end" ]; do
		# A unit that ended (its guest died) will not boot: no need to wait longer.
		case "$(prop "$id" ActiveState)" in inactive | failed) sleep 1 ;; esac
		case "$(prop "$id" ActiveState)" in inactive | failed)
			echo "  kiln@$id ended; the end of its journal:"
			jctl -u "kiln@$id" -n 12 -o cat | sed 's/^/  | /'
			guest_triple_faulted "$id"
			return 1 ;;
		esac
		inv=$(prop "$id" InvocationID)
		[ -n "$inv" ] && [ "$(jctl "_SYSTEMD_INVOCATION_ID=$inv" -o cat 2>/dev/null |
			tr -d '\r' | grep -cx "$(marker "$id")")" -ge "$n" ] && return 0
		sleep 0.5
	done
	guest_stuck "$id"
	return 1
}

# guest_stuck ID: called when a guest did not boot in time. If kiln still runs, its vCPU
# thread keeps a CPU busy and the unit's journal has been silent for a minute, the guest is
# not running code that gets anywhere. Seen only in the lab, whose KVM runs nested under
# QEMU's TCG: there the lab's kernel later dies of a stack overflow in that very vCPU
# thread. The lab is then given up (LAB_FAILED: the suite ends with 125 and a new lab runs
# the case again, so a guest that never boots under kiln still fails every time).
LAB_FAILED=/run/kiln-systemd-lab-failed
guest_stuck() {
	local id=$1 kpid t a b inv last
	kpid=$(kiln_pid "$id")
	[ -n "$kpid" ] || return 1
	t=$(grep -l '^kiln_vcpu 0$' /proc/"$kpid"/task/*/comm 2>/dev/null | head -n 1)
	[ -n "$t" ] || return 1
	t=${t%/comm}
	a=$(awk '{ print $14 + $15 }' "$t/stat") || return 1
	sleep 5
	b=$(awk '{ print $14 + $15 }' "$t/stat") || return 1
	inv=$(prop "$id" InvocationID)
	last=$(jctl "_SYSTEMD_INVOCATION_ID=$inv" -o short-unix -n 1 2>/dev/null | sed -n 's/^\([0-9]*\)\..*/\1/p' | tail -n 1)
	echo "  kiln@$id: kiln $kpid's vCPU thread ran $(((b - a) * 1000 / $(getconf CLK_TCK))) ms of the last 5000;" \
		"its journal last spoke $(($(date +%s) - ${last:-0})) s ago"
	# Busy: at least 40% of a CPU (a unit with CPUQuota=50% gets no more than half).
	[ $(((b - a) * 100 / $(getconf CLK_TCK))) -ge 200 ] && [ -n "$last" ] && [ $(($(date +%s) - last)) -ge 60 ] || return 1
	echo "  kiln@$id: the guest runs but makes no progress: giving this lab up (its kernel's last lines follow)"
	dmesg | tail -n 5 | sed 's/^/  | /'
	: >"$LAB_FAILED"
}

# guest_triple_faulted ID: called when a unit ended before its guest booted. A guest that
# triple-faulted before its kernel printed a line, in a VM configured as others that
# booted, is the lab's nested SVM failing (tools/lab/README.md; the e2e suite retries such
# a guest too): the lab is given up as in guest_stuck, and a new lab runs the case again,
# so a guest that kiln really cannot boot still fails every time.
guest_triple_faulted() {
	local id=$1 inv log
	inv=$(prop "$id" InvocationID)
	if [ -n "$inv" ]; then
		log=$(jctl "_SYSTEMD_INVOCATION_ID=$inv" -o cat 2>/dev/null | tr -d '\r')
	else
		# A unit that ended (inactive, not restarting) has no invocation any more: its
		# journal since it last started.
		log=$(jctl -u "kiln@$id" -o cat 2>/dev/null | tr -d '\r' |
			awk '/^Starting kiln@/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }')
	fi
	[ -n "$log" ] || return 1
	printf '%s\n' "$log" | grep -q 'guest shut down (triple fault)' || return 1
	# Only before the kernel's first line: a guest that got that far died for another reason.
	printf '%s\n' "$log" | grep -q '^\[ *[0-9]*\.[0-9]*\] ' && return 1
	echo "  kiln@$id: the guest triple-faulted before its kernel printed anything: giving this lab up"
	: >"$LAB_FAILED"
}

# kiln_pid ID: the VMM's pid, from the VM's cgroup under the unit's (empty if none).
kiln_pid() { head -n 1 "$(cgdir "$1")/kiln/$1/cgroup.procs" 2>/dev/null; }

# until_state ID STATE...: waits (up to 120 s) until the unit's ActiveState is one of STATE.
until_state() {
	local id=$1 end=$((SECONDS + 120)) s
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		s=$(prop "$id" ActiveState)
		for w in "$@"; do [ "$s" = "$w" ] && return 0; done
		sleep 0.5
	done
	echo "  kiln@$id is $s, not $*"
	return 1
}

# nothing_left ID: no jail directory, no jail state, no cgroup of the VM, no process of it.
nothing_left() {
	local id=$1 rc
	[ ! -e "/srv/jailer/kiln/$id" ] || fail "the jail /srv/jailer/kiln/$id is still there: $(ls -A "/srv/jailer/kiln/$id")"
	timeout 30 /usr/local/bin/jailer --cleanup --id "$id" >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 202 ] || fail "jailer --cleanup --id $id exited $rc, not 202 (no such jail)"
	[ -z "$(find /sys/fs/cgroup -type d -name "$id" -path "*kiln@$id.service*" 2>/dev/null)" ] ||
		fail "a cgroup of $id is left: $(find /sys/fs/cgroup -type d -path "*kiln@$id.service*")"
	! pgrep -f -- "--id $id( |$)" >/dev/null || fail "processes of $id are left: $(pgrep -af -- "--id $id( |$)")"
}

show_unit() {
	echo "  \$ systemctl status kiln@$1"
	sctl status -l "kiln@$1" 2>&1 | sed 's/^/  | /'
}

# stopped_clean ID INVOCATION: what the documented stop leaves: the unit inactive (not
# failed), kiln's orderly exit with 143 after SIGTERM, which the jailer passed on and
# SuccessExitStatus=143 counts as success ("Deactivated successfully"), and nothing left.
# Read from that run's journal: systemd unloads an inactive instance, so `systemctl show`
# then reports defaults (ExecMainStatus=0), not the run that ended.
stopped_clean() {
	local id=$1 inv=$2 state log
	state=$(prop "$id" ActiveState)
	log=$(jctl "_SYSTEMD_INVOCATION_ID=$inv" + "INVOCATION_ID=$inv" -o cat | tr -d '\r')
	echo "  kiln@$id after stop: ActiveState=$state; $(printf '%s\n' "$log" |
		grep -E 'kiln exiting with code|Deactivated successfully|Failed with result' | sed 's/^.*\] //' | tr '\n' ';')"
	[ "$state" = inactive ] || { show_unit "$id"; fail "kiln@$id is $state after stop, not inactive"; }
	printf '%s\n' "$log" | grep -q 'kiln exiting with code 143' ||
		fail "kiln@$id: kiln did not exit with 143 after SIGTERM"
	printf '%s\n' "$log" | grep -q "kiln@$id.service: Deactivated successfully" ||
		fail "kiln@$id: systemd did not count the stop as a success"
	nothing_left "$id"
}

# stop_clean ID: systemctl stop, then stopped_clean.
stop_clean() {
	local id=$1 inv
	inv=$(prop "$id" InvocationID)
	sctl stop "kiln@$id" || fail "systemctl stop kiln@$id failed"
	stopped_clean "$id" "$inv"
}

# ---- the cases, in order; later ones use the VMs of earlier ones --------------------------

case_start_boots_guest_console_in_journal() {
	write_vm vm1
	sctl start kiln@vm1 || { show_unit vm1; fail "systemctl start kiln@vm1 failed"; }
	booted vm1 || { show_unit vm1; fail "the guest's marker never reached kiln@vm1's journal"; }
	[ "$(prop vm1 ActiveState)" = active ] || fail "kiln@vm1 is not active"
	echo "  \$ journalctl -u kiln@vm1"
	jctl -u kiln@vm1 | sed 's/^/  | /'
	# As a reader sees it (journalctl's default output), not only with -o cat or -a.
	jctl -u kiln@vm1 | grep -q "$(marker vm1)\$" ||
		fail "journalctl -u kiln@vm1 does not show the guest's console line as text"
	# A clean start has nothing to clean up, and says so without an error or a failed step.
	! jctl -u kiln@vm1 | grep -q ':ERROR\]' || fail "a clean start logged an ERROR"
	! sctl status kiln@vm1 | grep -q 'ExecStartPre=.*status=[1-9]' ||
		fail "ExecStartPre failed on a clean start: $(sctl status kiln@vm1 | grep ExecStartPre)"
}

case_status_shows_jailer_cgroup_tree() {
	local cg jpid kpid out
	[ "$(prop vm1 ActiveState)" = active ] || fail "kiln@vm1 is not running (the first case failed)"
	cg=$(cgdir vm1)
	jpid=$(prop vm1 MainPID)
	kpid=$(kiln_pid vm1)
	out=$(sctl status -l kiln@vm1)
	printf '%s\n' "$out" | sed 's/^/  | /'
	[ -n "$kpid" ] || fail "no process in $cg/kiln/vm1"
	grep -qx "$jpid" "$cg/supervisor/cgroup.procs" || fail "the main pid $jpid (the jailer) is not in $cg/supervisor"
	[ "$(readlink "/proc/$jpid/exe")" = /usr/local/bin/jailer ] || fail "the main pid is $(readlink "/proc/$jpid/exe")"
	[ "$(cat "/proc/$kpid/comm")" = kiln ] || fail "$cg/kiln/vm1 holds $(cat "/proc/$kpid/comm"), not kiln"
	# kiln's root is its jail: the bound kernel is there, the host's /etc/kiln is not.
	[ -e "/proc/$kpid/root/vmlinux" ] && [ ! -e "/proc/$kpid/root/etc/kiln" ] ||
		fail "kiln is not in its jail: its root has $(ls "/proc/$kpid/root" | tr '\n' ' ')"
	[ -z "$(cat "$cg/cgroup.procs")" ] || fail "processes in the unit's own cgroup: $(cat "$cg/cgroup.procs")"
	# The tree as systemctl status draws it: supervisor and kiln/vm1 side by side.
	printf '%s\n' "$out" | grep -Eq "[├└]─supervisor\$" || fail "status shows no supervisor cgroup"
	printf '%s\n' "$out" | grep -Eq "[├└]─$jpid " || fail "status shows no jailer $jpid"
	printf '%s\n' "$out" | grep -Eq "[├└]─kiln\$" || fail "status shows no kiln cgroup"
	printf '%s\n' "$out" | grep -Eq "[├└]─vm1\$" || fail "status shows no kiln/vm1 cgroup"
	printf '%s\n' "$out" | grep -Eq "[├└]─$kpid " || fail "status shows no kiln $kpid"
}

# MemoryMax= and CPUQuota= from a drop-in: set on the unit's cgroup, which holds the VM's;
# then a guest larger than MemoryMax= is refused, and one let through with
# --allow-mem-overcommit that fills more memory than that is stopped by the OOM killer.
case_dropin_limits_apply_to_the_vm() {
	local cg kpid vmcur unitcur log
	write_vm vm2
	dropin vm2 limits $'MemoryMax=256M\nCPUQuota=50%'
	sctl start kiln@vm2 || { show_unit vm2; fail "systemctl start kiln@vm2 failed"; }
	booted vm2 || { show_unit vm2; fail "kiln@vm2's guest did not boot"; }
	cg=$(cgdir vm2)
	kpid=$(kiln_pid vm2)
	echo "  $cg: memory.max=$(cat "$cg/memory.max") cpu.max=$(cat "$cg/cpu.max")"
	[ "$(cat "$cg/memory.max")" = 268435456 ] || fail "memory.max of kiln@vm2 is $(cat "$cg/memory.max")"
	[ "$(cat "$cg/cpu.max")" = "50000 100000" ] || fail "cpu.max of kiln@vm2 is $(cat "$cg/cpu.max")"
	grep -qx "$kpid" "$cg/kiln/vm2/cgroup.procs" || fail "kiln is not below the limited cgroup"
	vmcur=$(cat "$cg/kiln/vm2/memory.current") unitcur=$(cat "$cg/memory.current")
	echo "  memory.current: kiln/vm2 $vmcur, unit $unitcur"
	[ "$vmcur" -gt 16777216 ] || fail "the VM's cgroup is charged only $vmcur bytes"
	[ "$unitcur" -ge "$vmcur" ] || fail "the unit's memory.current $unitcur does not include the VM's $vmcur"
	stop_clean vm2

	# A 448 MiB guest does not fit under MemoryMax=192M: the jailer passes the limit on
	# and kiln refuses to start it (exit 152), naming the setting.
	write_vm vm5 1 448 'dd if=/dev/zero of=/fill bs=1M count=300 2>&1; echo kiln-systemd-filled'
	dropin vm5 limits $'MemoryMax=192M\nMemorySwapMax=0\nRestart=no'
	sctl start kiln@vm5 || { show_unit vm5; fail "systemctl start kiln@vm5 failed"; }
	until_state vm5 failed inactive || { show_unit vm5; fail "kiln@vm5 (448 MiB) started under MemoryMax=192M"; }
	show_unit vm5
	[ "$(prop vm5 ExecMainStatus)" = 152 ] || fail "kiln@vm5 ended with status $(prop vm5 ExecMainStatus), not 152"
	jctl -u kiln@vm5 -o cat | grep -qF "machine-config.mem_size_mib: 448 MiB does not fit under the 192 MiB kiln may use (the jail's cgroup, as the jailer read it)" ||
		fail "kiln@vm5's refusal does not name mem_size_mib and the 192 MiB limit"
	nothing_left vm5
	sctl reset-failed kiln@vm5

	# With --allow-mem-overcommit it starts, and the limit is enforced on the guest's
	# memory: a guest that boots within 192 MiB and then writes 300 MiB into its RAM is
	# stopped by the OOM killer, and systemd logs the OOM kill.
	echo KILN_ARGS=--allow-mem-overcommit >>/etc/kiln/vm5.env
	local since
	since=$(date '+%Y-%m-%d %H:%M:%S')
	sleep 1
	sctl start kiln@vm5 || { show_unit vm5; fail "systemctl start kiln@vm5 failed"; }
	until_state vm5 failed inactive || {
		jctl -u kiln@vm5 --since "$since" -o cat | tr -d '\r' | grep -qx "$(marker vm5)" || guest_stuck vm5
		show_unit vm5; fail "kiln@vm5 kept running past its MemoryMax"
	}
	show_unit vm5
	log=$(jctl -u kiln@vm5 --since "$since" -o cat | tr -d '\r')
	printf '%s\n' "$log" | grep -qx "$(marker vm5)" || fail "kiln@vm5's guest did not boot within 192 MiB"
	printf '%s\n' "$log" | grep -qx kiln-systemd-filled && fail "the guest wrote 300 MiB under MemoryMax=192M"
	printf '%s\n' "$log" | grep -q 'killed by the OOM killer' || fail "kiln@vm5 ended without an OOM kill"
	# Either the jailer saw kiln die first and exited 137 for it, or systemd's
	# OOMPolicy=stop killed the unit (the jailer with it) first: a race either may win.
	printf '%s\n' "$log" | grep -qE 'Main process exited, code=(exited, status=137|killed, status=9/KILL)' ||
		fail "the unit's main process neither exited 137 (kiln killed) nor was killed with the unit"
	nothing_left vm5
	sctl reset-failed kiln@vm5
}

case_stop_ends_the_vm_cleanly() {
	[ "$(prop vm1 ActiveState)" = active ] || { sctl start kiln@vm1 && booted vm1; } ||
		fail "kiln@vm1 did not start"
	stop_clean vm1
	jctl -u kiln@vm1 -o cat | tail -n 8 | sed 's/^/  | /'
}

case_sigkill_of_the_unit_leaves_nothing() {
	local kpid
	write_vm vm3
	# Without Restart=, so that what is left is what ExecStopPost= left.
	dropin vm3 norestart 'Restart=no'
	sctl start kiln@vm3 && booted vm3 || { show_unit vm3; fail "kiln@vm3 did not boot"; }
	kpid=$(kiln_pid vm3)
	[ -d /srv/jailer/kiln/vm3/root ] || fail "no jail /srv/jailer/kiln/vm3/root while kiln@vm3 runs"
	sctl kill -s SIGKILL kiln@vm3 || fail "systemctl kill failed"
	until_state vm3 failed inactive || fail "kiln@vm3 did not end after SIGKILL"
	show_unit vm3
	[ "$(prop vm3 Result)" = signal ] || fail "kiln@vm3: Result=$(prop vm3 Result), not signal"
	[ ! -e "/proc/$kpid" ] || fail "kiln ($kpid) survived SIGKILL of the unit"
	nothing_left vm3
	sctl reset-failed kiln@vm3
}

# A crash of the VM (kiln dies of SIGSEGV: the jailer exits 128+11) is restarted by
# Restart=on-failure, and the guest boots again.
case_crash_restarts_the_vm() {
	local kpid n end
	[ "$(prop vm1 ActiveState)" = active ] || { sctl start kiln@vm1 && booted vm1; } ||
		fail "kiln@vm1 did not start"
	n=$(prop vm1 NRestarts)
	kpid=$(kiln_pid vm1)
	kill -SEGV "$kpid" || fail "cannot signal kiln ($kpid)"
	end=$((SECONDS + 120))
	while [ "$SECONDS" -lt "$end" ]; do [ "$(prop vm1 NRestarts)" -gt "$n" ] && break; sleep 0.5; done
	[ "$(prop vm1 NRestarts)" -gt "$n" ] || { show_unit vm1; fail "kiln@vm1 was not restarted"; }
	booted vm1 || { show_unit vm1; fail "the restarted guest did not boot"; }
	[ "$(kiln_pid vm1)" != "$kpid" ] || fail "the same kiln still runs"
	jctl -u kiln@vm1 -o cat | grep -E 'Main process exited|Scheduled restart|guest|signal' | tail -n 6 | sed 's/^/  | /'
	stop_clean vm1
}

# A VM that crashes again and again is stopped by the start limit (StartLimitBurst=5 in
# StartLimitIntervalSec=60s): after 5 starts the automatic restart is refused ("Start
# request repeated too quickly"; systemd 252 keeps Result=exit-code for it), the unit stays
# failed, and a manual start is refused too (Result=start-limit-hit) until reset-failed.
case_start_limit_stops_a_crash_loop() {
	local kpid last= i end
	write_vm vm4
	sctl start kiln@vm4 || fail "systemctl start kiln@vm4 failed"
	for i in $(seq 8); do
		kpid= end=$((SECONDS + 60))
		while [ "$SECONDS" -lt "$end" ]; do
			[ "$(prop vm4 ActiveState)" = failed ] && break 2
			kpid=$(kiln_pid vm4)
			[ -n "$kpid" ] && [ "$kpid" != "$last" ] && break
			kpid=
			sleep 0.25
		done
		[ -n "$kpid" ] || break
		echo "  crash $i: kill -SEGV kiln $kpid"
		kill -SEGV "$kpid"
		last=$kpid
	done
	until_state vm4 failed || { show_unit vm4; fail "kiln@vm4 is still restarting"; }
	show_unit vm4
	jctl -u kiln@vm4 -o cat | grep -q 'Start request repeated too quickly' ||
		fail "kiln@vm4 failed, but not by its start limit"
	# The first start and four restarts ran; the fifth restart was refused.
	[ "$(prop vm4 NRestarts)" = 5 ] || fail "kiln@vm4: NRestarts=$(prop vm4 NRestarts), not 5"
	sleep 3
	[ "$(prop vm4 ActiveState)" = failed ] || fail "kiln@vm4 started again past its start limit"
	nothing_left vm4
	! sctl start kiln@vm4 2>/dev/null || fail "a manual start of kiln@vm4 was not refused by the start limit"
	[ "$(prop vm4 ActiveState)" = failed ] || fail "kiln@vm4 is $(prop vm4 ActiveState) after a refused start"
	echo "  kiln@vm4: NRestarts=$(prop vm4 NRestarts), ActiveState=failed, a manual start refused"
	sctl reset-failed kiln@vm4
}

# kiln-api@.service: kiln waits on its API socket in the jail; the guest is configured and
# started over it with curl, as an orchestrator would, then paused, resumed and stopped.
case_api_unit_is_configured_over_its_socket() {
	local id=vm6 unit=kiln-api@vm6 sock=/srv/jailer/kiln/vm6/root/run/firecracker.socket
	local out=/tmp/kiln-api-vm6.out end cmd inv log
	write_vm "$id"
	rm -f "/etc/kiln/$id.json"	# no config file: everything comes over the API
	api() {
		curl -sS --max-time 30 --unix-socket "$sock" -o "$out" -w '%{http_code}' -X "$1" \
			"http://localhost$2" ${3:+-H 'Content-Type: application/json' -d "$3"}
	}
	expect_api() {
		local code
		code=$(api "$2" "$3" "${4:-}")
		echo "  $2 $3 -> $code $(cat "$out" 2>/dev/null)"
		[ "$code" = "$1" ] || fail "$2 $3 answered $code, not $1: $(cat "$out" 2>/dev/null)"
	}
	sctl start "$unit" || { sctl status -l "$unit" | sed 's/^/  | /'; fail "systemctl start $unit failed"; }
	end=$((SECONDS + 60))
	until [ -S "$sock" ] || [ "$SECONDS" -ge "$end" ]; do sleep 0.5; done
	[ -S "$sock" ] || { sctl status -l "$unit" | sed 's/^/  | /'; fail "no API socket at $sock"; }
	expect_api 200 GET /
	grep -q '"state":"Not started"' "$out" || fail "GET / before the start: $(cat "$out")"
	cmd="echo $(marker "$id")"
	expect_api 204 PUT /boot-source "{\"kernel_image_path\": \"/vmlinux\", \"initrd_path\": \"/initrd.img\", \"boot_args\": \"$KILN_GUEST_CMDLINE kiln.run=$(printf '%s' "$cmd" | base64 -w0) kiln.exit=hang\"}"
	expect_api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
	expect_api 204 PUT /actions '{"action_type": "InstanceStart"}'
	end=$((SECONDS + 240))
	until jctl -u "$unit" -o cat | tr -d '\r' | grep -qx "$(marker "$id")" || [ "$SECONDS" -ge "$end" ]; do
		sleep 0.5
	done
	jctl -u "$unit" -o cat | tr -d '\r' | grep -qx "$(marker "$id")" ||
		{ sctl status -l "$unit" | sed 's/^/  | /'; fail "the guest started over the API never booted"; }
	expect_api 200 GET /
	grep -q '"state":"Running"' "$out" || fail "GET / after the start: $(cat "$out")"
	expect_api 204 PATCH /vm '{"state": "Paused"}'
	expect_api 200 GET /
	grep -q '"state":"Paused"' "$out" || fail "GET / after Paused: $(cat "$out")"
	expect_api 204 PATCH /vm '{"state": "Resumed"}'
	echo "  \$ systemctl status $unit"
	sctl status -l "$unit" 2>&1 | sed 's/^/  | /'
	inv=$(sctl show -p InvocationID --value "$unit")
	sctl stop "$unit" || fail "systemctl stop $unit failed"
	[ "$(sctl show -p ActiveState --value "$unit")" = inactive ] || fail "$unit is not inactive after stop"
	log=$(jctl "_SYSTEMD_INVOCATION_ID=$inv" + "INVOCATION_ID=$inv" -o cat | tr -d '\r')
	printf '%s\n' "$log" | grep -q 'kiln exiting with code 143' || fail "$unit: kiln did not exit with 143 after SIGTERM"
	printf '%s\n' "$log" | grep -q "$unit.service: Deactivated successfully" || fail "$unit: the stop was not a success"
	[ ! -e "/srv/jailer/kiln/$id" ] || fail "the jail /srv/jailer/kiln/$id (and its socket) is still there"
	[ -z "$(find /sys/fs/cgroup -type d -path "*$unit.service*" 2>/dev/null)" ] || fail "a cgroup of $unit is left"
}

case_units_at_once() {
	local n=${SYSTEMD_E2E_UNITS:-4}  ids=() i id units=() kp=()
	for i in $(seq "$n"); do ids+=("p$i"); units+=("kiln@p$i"); write_vm "p$i"; done
	SCTL_TIMEOUT=300 sctl start "${units[@]}" || fail "systemctl start ${units[*]} failed"
	for id in "${ids[@]}"; do
		booted "$id" || { show_unit "$id"; fail "kiln@$id's guest did not boot"; }
	done
	echo "  all $n guests booted at $(($(date +%s) - T0)) s"
	for id in "${ids[@]}"; do
		[ "$(prop "$id" ActiveState)" = active ] || fail "kiln@$id is not active"
		kp+=("$(kiln_pid "$id")")
		[ -n "${kp[-1]}" ] || fail "no kiln in kiln@$id's VM cgroup"
		[ "$(cat "/proc/${kp[-1]}/cgroup")" = "0::$(prop "$id" ControlGroup)/kiln/$id" ] ||
			fail "kiln of $id is in $(cat "/proc/${kp[-1]}/cgroup")"
		[ -e "/srv/jailer/kiln/$id/jail.state" ] || fail "no jail /srv/jailer/kiln/$id"
	done
	[ "$(printf '%s\n' "${kp[@]}" | sort -u | wc -l)" = "$n" ] || fail "not $n distinct kiln processes"
	show_unit p1 | head -n 20
	local invs=()
	for id in "${ids[@]}"; do invs+=("$(prop "$id" InvocationID)"); done
	SCTL_TIMEOUT=300 sctl stop "${units[@]}" || fail "systemctl stop ${units[*]} failed"
	for i in "${!ids[@]}"; do stopped_clean "${ids[$i]}" "${invs[$i]}"; done
}

# ---- setup: make install, the images, /etc/kiln -------------------------------------------
setup() {
	echo "systemd: PID 1 is $(readlink /proc/1/exe) ($(systemctl --version | head -n 1))"
	make --no-print-directory -C "$top" BUILD="$build" PREFIX=/usr/local install >"$build/e2e/systemd-install.log" 2>&1 ||
		{ cat "$build/e2e/systemd-install.log"; return 1; }
	sed 's/^/systemd: make install: /' "$build/e2e/systemd-install.log" | grep -v '^systemd: make install: make'
	grep -q '^ExecStart=/usr/local/bin/jailer ' /usr/local/lib/systemd/system/kiln@.service ||
		{ echo "systemd: the installed unit does not run /usr/local/bin/jailer"; return 1; }
	timeout 60 systemd-analyze verify /usr/local/lib/systemd/system/kiln@.service 2>&1 |
		sed 's/^/systemd: systemd-analyze verify: /'
	mkdir -p /etc/kiln /srv/jailer /srv/kiln/images
	# The images live in the lab's memory: kiln reading them over 9p can stall for minutes.
	cp "$KILN_GUEST_VMLINUX" /srv/kiln/images/vmlinux && cp "$KILN_GUEST_INITRAMFS" /srv/kiln/images/initrd.img &&
		chmod 0644 /srv/kiln/images/* || return 1
	sctl daemon-reload
}

passed=0 failed=0 skipped=0
# The cases in the order of this file.
mapfile -t all < <(sed -n 's/^\(case_[a-z0-9_]*\)() {$/\1/p' "$0")
cases=()
for c in "$@"; do cases+=("case_${c#case_}"); done
[ ${#cases[@]} -gt 0 ] || cases=("${all[@]}")
if ! setup; then
	say "setup failed (make install, images)"
	say "0 passed, 1 failed, 0 skipped"
	exit 1
fi
for c in "${cases[@]}"; do
	start=$(date +%s)
	echo "== ${c#case_}"
	# Each case in its own shell, its output shown as it comes; the first failed
	# expectation ends the case.
	( set +e; "$c" ) 2>&1 | sed -u 's/^/    /'
	rc=${PIPESTATUS[0]}
	secs=$(($(date +%s) - start))
	if [ -e "$LAB_FAILED" ]; then
		echo "LAB FAILED ${c#case_} (${secs}s): a guest stopped making progress in this lab (above)"
		say "total $(($(date +%s) - T0)) s in the lab"
		exit 125
	fi
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS ${c#case_} (${secs}s)"
	else
		failed=$((failed + 1)); echo "FAIL ${c#case_} (${secs}s)"
		# A failed case may leave its VMs running: stop them, so the next case starts clean.
		sctl stop 'kiln@*.service' 'kiln-api@*.service' >/dev/null 2>&1
	fi
done
say "total $(($(date +%s) - T0)) s in the lab"
say "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
