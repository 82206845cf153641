# kiln-run: one command in a fresh jailed microVM (the run image: kiln-agent as PID 1,
# Python 3 on a read-only base), its output streamed back, files in and out, its exit
# status returned, and nothing left behind: no process, jail, mount, cgroup, namespace or
# state file, whichever party is killed at whichever phase.

KILN_RUN_BIN=${KILN_RUN_BIN:-$build/kiln-run}
KR_UID_BASE=900000

# kr_setup NAME: KR (the command with this test's own state dir, jail base and cgroup).
kr_setup() {
	[ -n "${KILN_RUN_IMAGE:-}" ] && [ -d "$KILN_RUN_IMAGE" ] || skip "no run image (tools/guest/run-image.sh)"
	[ -x "$KILN_RUN_BIN" ] || skip "no $KILN_RUN_BIN (make)"
	[ "$(id -u)" = 0 ] || skip "kiln-run needs root (it starts the jailer)"
	need_cgroup2
	KR_STATE=$E2E_TMP/kr-$1-state
	KR_BASE=$E2E_TMP/kr-$1-base
	KR_PARENT=$(own_cgroup)
	KR_PARENT=${KR_PARENT:+$KR_PARENT/}kiln-run-e2e-$1-$$
	KR=("$KILN_RUN_BIN" --image "$KILN_RUN_IMAGE" --state-dir "$KR_STATE"
		--chroot-base-dir "$KR_BASE" --parent-cgroup "$KR_PARENT" --uid-base "$KR_UID_BASE"
		--kiln "$KILN" --jailer "$build/jailer")
}

# What is left of this test's runs, one line per thing; nothing when all is gone.
kr_leftovers() {
	ps -e -o uid=,pid=,comm= | awk -v b="$KR_UID_BASE" '$1 >= b && $1 < b + 64 { print "process", $0 }'
	pgrep -a -f -- "$KR_STATE" | sed 's/^/kiln-run process /'
	pgrep -a -f -- "--chroot-base-dir $KR_BASE" | sed 's/^/jailer process /'
	local d
	for d in /sys/fs/cgroup/"$KR_PARENT"/*/; do
		[ -d "$d" ] && echo "cgroup $d"
	done
	[ -d "$KR_BASE" ] && find "$KR_BASE" -mindepth 2 -maxdepth 3 | sed 's/^/jail /'
	grep -F -- "$KR_BASE" /proc/self/mountinfo | sed 's/^/mount /'
	[ -d "$KR_STATE" ] && find "$KR_STATE" -mindepth 1 ! -name '*.lock' | sed 's/^/state /'
	ip netns list 2>/dev/null | grep kiln-run | sed 's/^/netns /'
	ip -o link show 2>/dev/null | grep -o 'krh[0-9]*' | sed 's/^/link /'
	return 0
}

# kr_nothing_left WHAT: within 20 s (a janitor may still be at work), nothing is left.
kr_nothing_left() {
	local i left
	for i in $(seq 100); do
		left=$(kr_leftovers)
		[ -z "$left" ] && return 0
		sleep 0.2
	done
	echo "after $1, still there:"
	printf '%s\n' "$left" | sed 's/^/  - /'
	return 1
}

kr_done() {
	rmdir "/sys/fs/cgroup/$KR_PARENT" 2>/dev/null || true
}

case_kiln_run_runs_commands_and_scripts() {
	kr_setup cmd
	local dir=$E2E_TMP/kr-cmd st ok=1
	mkdir -p "$dir/in/sub"
	head -c 1048576 /dev/urandom > "$dir/in/data.bin"
	echo "nested" > "$dir/in/sub/note.txt"
	chmod 0751 "$dir/in/sub"
	chmod 0604 "$dir/in/data.bin"

	# A command: separate streams, its own exit status, the environment and workdir given.
	"${KR[@]}" -n -e GREETING=hello -C / -- sh -c 'echo "$GREETING from $(pwd)"; echo to-err >&2; exit 3' \
		> "$dir/o1" 2> "$dir/e1"
	st=$?
	echo "command: status $st, stdout '$(cat "$dir/o1")', stderr '$(grep -v '^kiln-run' "$dir/e1")'"
	[ "$st" = 3 ] && [ "$(cat "$dir/o1")" = "hello from /" ] && grep -qx to-err "$dir/e1" || ok=0

	# A Python script with arguments, files in (a tree, modes kept) and out, and --json.
	cat > "$dir/job.py" <<'PY'
import hashlib, json, os, sys
data = open("/work/in/data.bin", "rb").read()
os.makedirs("/work/out", exist_ok=True)
with open("/work/out/digest.txt", "w") as f:
    f.write(hashlib.sha256(data).hexdigest() + "\n")
with open("/work/out/copy.bin", "wb") as f:
    f.write(data)
print(json.dumps({"args": sys.argv[1:], "note": open("/work/in/sub/note.txt").read().strip(),
                  "mode": oct(os.stat("/work/in/sub").st_mode & 0o777)}))
sys.exit(5)
PY
	"${KR[@]}" -n --put "$dir/in:/work/in" --get "/work/out:$dir/out" --json "$dir/r.json" \
		"$dir/job.py" one "two words" > "$dir/o2" 2> "$dir/e2"
	st=$?
	echo "script: status $st, stdout $(cat "$dir/o2")"
	echo "json: $(cat "$dir/r.json" 2>/dev/null)"
	[ "$st" = 5 ] && [ "$(cat "$dir/o2")" = '{"args": ["one", "two words"], "note": "nested", "mode": "0o751"}' ] || ok=0
	local want got
	want=$(sha256sum < "$dir/in/data.bin" | cut -d' ' -f1)
	got=$(cat "$dir/out/digest.txt" 2>/dev/null)
	echo "sha256 in $want, the guest's $got; copy back $(cmp "$dir/in/data.bin" "$dir/out/copy.bin" 2>&1 && echo identical)"
	[ "$want" = "$got" ] && cmp -s "$dir/in/data.bin" "$dir/out/copy.bin" || ok=0
	grep -q '"state":"exited","exit_status":5' "$dir/r.json" && grep -q '"exit_code":5' "$dir/r.json" &&
		grep -q '"memory_peak_bytes":[1-9]' "$dir/r.json" || { echo "--json is not as expected"; ok=0; }

	# Standard input streams in; a signal's death is 128+N; a missing command is 127.
	printf 'line one\nline two\n' | "${KR[@]}" -- sh -c 'wc -l' > "$dir/o3" 2> "$dir/e3"
	st=$?
	echo "stdin: status $st, '$(tr -d ' ' < "$dir/o3")'"
	[ "$st" = 0 ] && [ "$(tr -d ' ' < "$dir/o3")" = 2 ] || ok=0
	"${KR[@]}" -n -- sh -c 'kill -9 $$' > /dev/null 2> "$dir/e4"
	st=$?
	echo "killed by SIGKILL: status $st"
	[ "$st" = 137 ] || ok=0
	"${KR[@]}" -n -- /no/such/program > /dev/null 2> "$dir/e5"
	st=$?
	echo "a missing program: status $st, '$(tail -n 1 "$dir/e5")'"
	[ "$st" = 127 ] || ok=0
	# A reader that stops early (| head) ends the command as a pipeline would (141);
	# a working directory that does not exist is kiln-run's failure (125), not 127.
	"${KR[@]}" -n -- sh -c 'while :; do echo y; done' 2> "$dir/e7" | head -n 1 > "$dir/o7"
	st=${PIPESTATUS[0]}
	echo "output to a reader that stops: status $st, read '$(cat "$dir/o7")'"
	[ "$st" = 141 ] && [ "$(cat "$dir/o7")" = y ] || ok=0
	"${KR[@]}" -n -C /no/such/dir -- true > /dev/null 2> "$dir/e8"
	st=$?
	echo "a missing --workdir: status $st, '$(tail -n 1 "$dir/e8")'"
	[ "$st" = 125 ] || ok=0
	# A bad command line starts nothing and says why.
	"${KR[@]}" --vcpus 0 -- true > /dev/null 2> "$dir/e6"
	st=$?
	echo "--vcpus 0: status $st, '$(head -n 1 "$dir/e6")'"
	[ "$st" = 2 ] && grep -q -- '--vcpus' "$dir/e6" || ok=0
	kr_nothing_left "these runs" || ok=0
	kr_done
	[ "$ok" = 1 ] || { tail -n 20 "$dir"/e* | sed 's/^/  ! /'; fail "a run did not give what was expected (above)"; }
	kr_streams_output_as_it_is_written
	kr_keeps_a_run_for_debugging_then_gc_removes_it
}

# (Part of the commands case: one lab machine less.)
kr_streams_output_as_it_is_written() {
	kr_setup stream
	local dir=$E2E_TMP/kr-stream st
	mkdir -p "$dir"
	# One line a second; the host stamps each line as it arrives.
	"${KR[@]}" -n -- sh -c 'for i in 1 2 3 4 5; do echo "line $i"; sleep 1; done' 2> "$dir/err" |
		while IFS= read -r l; do echo "${EPOCHREALTIME} $l"; done > "$dir/stamped"
	st=${PIPESTATUS[0]}
	cat "$dir/stamped"
	local first last
	first=$(head -n 1 "$dir/stamped" | cut -d' ' -f1)
	last=$(tail -n 1 "$dir/stamped" | cut -d' ' -f1)
	[ "$st" = 0 ] || fail "kiln-run exited with $st: $(tail -n 5 "$dir/err")"
	[ "$(wc -l < "$dir/stamped")" = 5 ] || fail "not 5 lines"
	awk -v a="$first" -v b="$last" 'BEGIN { exit !(b - a >= 3.0) }' ||
		fail "the lines arrived together ($first .. $last), not as they were written"
	kr_nothing_left "a run" || fail "the run left something behind"
	kr_done
}

case_kiln_run_contains_what_a_script_does() {
	kr_setup contain
	local dir=$E2E_TMP/kr-contain st t0 ok=1
	mkdir -p "$dir"
	# An endless loop ends at --timeout (124), with the VM and everything else gone.
	t0=$SECONDS
	"${KR[@]}" -n --timeout 20 -- sh -c 'echo looping; while :; do :; done' > "$dir/o1" 2> "$dir/e1"
	st=$?
	echo "endless loop with --timeout 20: status $st after $((SECONDS - t0)) s; $(grep timeout "$dir/e1")"
	[ "$st" = 124 ] && [ $((SECONDS - t0)) -lt 45 ] && grep -qx looping "$dir/o1" || ok=0
	# A memory hog meets the guest's memory, never the host's: MemoryError or the guest's
	# OOM killer, and kiln's cgroup stays under its limit.
	"${KR[@]}" -n --json "$dir/hog.json" -- python3 -c '
a = []
while True:
    a.append(bytearray(16 << 20))' > /dev/null 2> "$dir/e2"
	st=$?
	local peak
	peak=$(sed -n 's/.*"memory_peak_bytes":\([0-9]*\).*/\1/p' "$dir/hog.json")
	echo "memory hog in 256 MiB: status $st, kiln's cgroup peak ${peak:-?} bytes (limit $(( (256 + 64 + 8) << 20 )))"
	{ [ "$st" = 1 ] || [ "$st" = 137 ]; } && [ -n "$peak" ] && [ "$peak" -le $(( (256 + 64 + 8) << 20 )) ] || ok=0
	# A fork bomb (whose first process never returns) stays in the guest and ends at
	# --timeout.
	t0=$SECONDS
	"${KR[@]}" -n --timeout 25 -- sh -c 'echo forking; b() { b & b; }; b' > "$dir/o3" 2> "$dir/e3"
	st=$?
	echo "fork bomb with --timeout 25: status $st after $((SECONDS - t0)) s"
	[ "$st" = 124 ] && [ $((SECONDS - t0)) -lt 55 ] && grep -qx forking "$dir/o3" || ok=0
	# Without --net the guest has no network device at all.
	"${KR[@]}" -n -- python3 -c '
import os, socket, sys
print(" ".join(sorted(os.listdir("/sys/class/net"))))
try:
    socket.create_connection(("10.0.2.2", 22), timeout=5)
    print("connected")
except OSError as e:
    print("refused:", e.__class__.__name__)
    sys.exit(9)' > "$dir/o4" 2> "$dir/e4"
	st=$?
	echo "reaching out without --net: status $st, $(tr '\n' ';' < "$dir/o4")"
	[ "$st" = 9 ] && [ "$(head -n 1 "$dir/o4")" = lo ] || ok=0
	kr_nothing_left "these runs" || ok=0
	kr_done
	[ "$ok" = 1 ] || { tail -n 8 "$dir"/e* | sed 's/^/  ! /'; fail "a script was not contained as expected (above)"; }
}

# kr_kill_one PHASE PARTY: starts a run, kills PARTY (kiln-run, kiln, jailer, all = kiln-run
# and its janitor, guest = a guest kernel panic) once the run is at PHASE (boot: kiln runs
# but the agent has not answered; run: the command has started), then checks the status
# and that nothing is left (after kiln-run --gc for "all").
kr_kill_one() {
	local phase=$1 party=$2 dir=$E2E_TMP/kr-kill out err pid i cg st want
	out=$dir/$phase-$party.out err=$dir/$phase-$party.err
	cg=/sys/fs/cgroup/$KR_PARENT/kiln-run-0
	local cmd='echo started; sleep 12; echo finished'
	[ "$party" = guest ] && cmd='echo started; sleep 1; echo c > /proc/sysrq-trigger; sleep 30'
	"${KR[@]}" -n -- sh -c "$cmd" > "$out" 2> "$err" &
	pid=$!
	for i in $(seq 600); do
		if [ "$phase" = boot ]; then
			grep -qs . "$cg/cgroup.procs" && break
		else
			grep -q started "$out" && break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ "$phase" = boot ] && sleep 1
	case "$party" in
	kiln-run) kill -KILL "$pid"; want=137 ;;
	kiln) kill -KILL $(cat "$cg/cgroup.procs"); want=125 ;;
	jailer) kill -KILL $(cat "$cg.sup/cgroup.procs"); want=0 ;;
	all) kill -KILL $(pgrep -f -- "$KR_STATE"); want=137 ;;
	guest) want=125 ;;
	esac
	wait "$pid"
	st=$?
	local gc=
	if [ "$party" = all ]; then
		gc=$("${KR[@]}" --gc 2>&1)
		echo "      kiln-run --gc: $gc"
	fi
	echo "  $phase, $party killed: kiln-run status $st (expected $want)"
	[ "$st" = "$want" ] || { tail -n 6 "$err" | sed 's/^/      ! /'; return 1; }
	[ "$party" = jailer ] && ! grep -q finished "$out" && { echo "      the run did not finish"; return 1; }
	[ "$party" = all ] && ! printf '%s\n' "$gc" | grep -q 'removed kiln-run-0' && return 1
	kr_nothing_left "killing $party during $phase" | sed 's/^/      /'
	return "${PIPESTATUS[0]}"
}

case_kiln_run_leaves_nothing_whoever_is_killed() {
	kr_setup kill
	mkdir -p "$E2E_TMP/kr-kill"
	local phase party ok=1
	for phase in boot run; do
		for party in kiln-run kiln jailer all; do
			kr_kill_one "$phase" "$party" || ok=0
		done
	done
	kr_kill_one run guest || ok=0
	kr_done
	[ "$ok" = 1 ] || fail "a killed run did not end as expected, or left something (above)"
}

# (Part of the commands case: one lab machine less.)
kr_keeps_a_run_for_debugging_then_gc_removes_it() {
	kr_setup keep
	local dir=$E2E_TMP/kr-keep st uds
	mkdir -p "$dir"
	"${KR[@]}" -n --keep -- sh -c 'echo kept > /tmp/mark' > "$dir/o" 2> "$dir/e"
	st=$?
	cat "$dir/e"
	[ "$st" = 0 ] || fail "kiln-run --keep exited with $st"
	uds=$(sed -n 's/.*--uds \([^ ]*\) exec.*/\1/p' "$dir/e")
	[ -S "$uds" ] || fail "no vsock socket at '$uds' for the kept run"
	"$build/kiln-agent-client" --uds "$uds" exec -n -- cat /tmp/mark > "$dir/mark" 2>&1
	echo "the kept guest's /tmp/mark: $(cat "$dir/mark")"
	[ "$(cat "$dir/mark")" = kept ] || fail "the kept VM does not answer"
	# Another run does not take or reap the kept one's slot.
	"${KR[@]}" -n -- true 2> "$dir/e2" || fail "a second run failed: $(cat "$dir/e2")"
	[ -S "$uds" ] || fail "the second run removed the kept one"
	"${KR[@]}" --gc > "$dir/gc" 2>&1 || fail "kiln-run --gc failed: $(cat "$dir/gc")"
	cat "$dir/gc"
	grep -q 'removed kiln-run-0 (kept' "$dir/gc" || fail "--gc did not say it removed the kept run"
	kr_nothing_left "kiln-run --gc" || fail "--gc left something"
	kr_done
}

case_kiln_run_runs_ten_at_once() {
	kr_setup ten
	local dir=$E2E_TMP/kr-ten i pids=() st ok=1 t0=$SECONDS
	mkdir -p "$dir"
	for i in $(seq 0 9); do
		"${KR[@]}" -n --mem 128 --boot-timeout 200 -- sh -c "echo run $i; cat /proc/sys/kernel/random/boot_id" \
			> "$dir/$i.out" 2> "$dir/$i.err" &
		pids+=($!)
	done
	# What the kiln of a guest still booting after 150 s is doing, for cases.sh to tell a
	# guest frozen in the lab from a failure of kiln's.
	(
		sleep 150
		for p in /sys/fs/cgroup/"$KR_PARENT"/kiln-run-*/cgroup.procs; do
			d=${p%/cgroup.procs}
			for k in $(cat "$p" 2>/dev/null); do
				{ echo "${d##*/}: its guest's agent has not answered after 150 s:"; threads "$k"; } \
					> "$E2E_TMP/kr-ten-${d##*-}.stuck"
			done
		done
	) &
	local watcher=$!
	for i in $(seq 0 9); do
		wait "${pids[$i]}"
		st=$?
		[ "$st" = 0 ] && [ "$(head -n 1 "$dir/$i.out")" = "run $i" ] ||
			{ echo "run $i: status $st; $(tail -n 3 "$dir/$i.err")"; ok=0; }
	done
	kill "$watcher" 2>/dev/null
	echo "10 runs at once: $((SECONDS - t0)) s; distinct guests: $(cat "$dir"/*.out | grep -vc '^run' ) lines, $(cat "$dir"/*.out | grep -v '^run' | sort -u | wc -l) boot ids"
	[ "$(cat "$dir"/*.out | grep -v '^run' | sort -u | wc -l)" = 10 ] || ok=0
	kr_nothing_left "ten runs" || ok=0
	kr_done
	[ "$ok" = 1 ] || fail "the ten runs did not all succeed in their own VMs (above)"
}

# --net: the guest's eth0 on a TAP in the run's own namespace, routed to the host through
# a veth pair; a TCP connection from the guest to the host's end, then nothing of the
# network left, after a normal end and after kiln-run is killed.
case_kiln_run_net_reaches_the_host_and_leaves_no_network() {
	kr_setup net
	command -v busybox > /dev/null || skip "no busybox for the host's end of the test"
	# kiln-run puts the host's end of the link in the namespace it runs in: the lab's own
	# machine, or this host's only when asked (README, "The network cases").
	[ "${KILN_LAB:-}" = 1 ] || [ "${E2E_HOST_NET:-}" = 1 ] ||
		skip "kiln-run --net changes the host's own namespace: lab only (E2E_HOST_NET=1 here)"
	local dir=$E2E_TMP/kr-net st ok=1
	mkdir -p "$dir"
	# Slot 0 of a fresh state directory: the guest is 10.200.0.2, the host's end 10.200.0.5.
	timeout 200 busybox nc -l -p 7300 > "$dir/got" &
	local server=$!
	"${KR[@]}" -n --net --dns 10.200.0.5 -- sh -c '
ip -4 -o addr show eth0 | awk "{print \$4}"
ip route | grep default
cat /etc/resolv.conf
python3 -c "
import socket
s = socket.create_connection((\"10.200.0.5\", 7300), timeout=20)
s.sendall(b\"hello over the network\n\")
s.close()"' > "$dir/o" 2> "$dir/e"
	st=$?
	wait "$server" 2>/dev/null
	echo "--net: status $st; the guest says: $(tr '\n' ';' < "$dir/o"); the host got: $(cat "$dir/got")"
	[ "$st" = 0 ] && [ "$(head -n 1 "$dir/o")" = 10.200.0.2/30 ] && grep -q 'default via 10.200.0.1' "$dir/o" &&
		grep -q 'nameserver 10.200.0.5' "$dir/o" && [ "$(cat "$dir/got")" = "hello over the network" ] ||
		{ ok=0; tail -n 8 "$dir/e" | sed 's/^/  ! /'; }
	kr_nothing_left "a run with --net" || ok=0
	# kiln-run killed mid-run: its janitor removes the namespace and the host's link too.
	"${KR[@]}" -n --net -- sh -c 'echo started; sleep 60' > "$dir/o2" 2> "$dir/e2" &
	local pid=$! i
	for i in $(seq 600); do
		grep -q started "$dir/o2" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "while running: $(ip netns list | grep kiln-run | tr '\n' ' ') $(ip -o link show krh0 2>/dev/null | cut -d' ' -f2)"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	kr_nothing_left "killing kiln-run with --net" || ok=0
	kr_done
	[ "$ok" = 1 ] || fail "--net did not work, or left something (above)"
}

# Much output to a reader that stops for a while: every byte arrives in order, and neither
# kiln-run nor kiln buffers more than flow control allows meanwhile (their resident memory
# is sampled throughout). 128 MiB here (E2E_KR_BIG_MIB): the lab moves vsock data at a few
# MiB/s.
case_kiln_run_streams_much_output_to_a_slow_reader() {
	kr_setup big
	local dir=$E2E_TMP/kr-big st mib=${E2E_KR_BIG_MIB:-128}
	mkdir -p "$dir"
	local want
	want=$(yes 0123456789abcdef | head -c $((mib << 20)) | md5sum | cut -d' ' -f1)
	"${KR[@]}" -n -- sh -c "yes 0123456789abcdef | head -c $((mib << 20))" 2> "$dir/err" |
		{ sleep 15; md5sum; } > "$dir/sum" &
	local pipe=$! max_kr=0 max_kiln=0 r kp pid
	for i in $(seq 1200); do
		kill -0 "$pipe" 2>/dev/null || break
		for pid in $(pgrep -f -- "--state-dir $KR_STATE"); do
			r=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
			[ -n "$r" ] && [ "$r" -gt "$max_kr" ] && max_kr=$r
		done
		kp=$(head -n 1 "/sys/fs/cgroup/$KR_PARENT/kiln-run-0/cgroup.procs" 2>/dev/null)
		if [ -n "$kp" ]; then
			# kiln's resident set includes the guest RAM it has touched: bounded by the
			# guest's size plus kiln's own.
			r=$(awk '/VmRSS/ { print $2 }' "/proc/$kp/status" 2>/dev/null)
			[ -n "$r" ] && [ "$r" -gt "$max_kiln" ] && max_kiln=$r
		fi
		sleep 0.5
	done
	wait "$pipe"
	local got
	got=$(cut -d' ' -f1 "$dir/sum")
	echo "$mib MiB, the reader asleep for the first 15 s: md5 $got (expected $want);" \
		"peak resident kiln-run $max_kr KiB, kiln $max_kiln KiB (a 256 MiB guest inside)"
	[ "$got" = "$want" ] || fail "the output did not arrive byte for byte: $(tail -n 3 "$dir/err")"
	[ "$max_kr" -gt 0 ] && [ "$max_kr" -lt 16384 ] || fail "kiln-run's resident memory reached $max_kr KiB"
	[ "$max_kiln" -lt $(( (256 + 64) * 1024 )) ] || fail "kiln's resident memory reached $max_kiln KiB"
	kr_nothing_left "a run with much output" || fail "the run left something behind"
	kr_done
}
