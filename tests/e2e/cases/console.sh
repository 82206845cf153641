# The interactive console: a person types into the guest's shell through kiln's stdin.

case_interactive_shell_through_the_console() {
	command -v tmux >/dev/null || skip "tmux is not installed"
	local cfg=$E2E_TMP/tty.json sess=kiln-e2e-$$ i
	write_config "$cfg" "$KILN_GUEST_VMLINUX" 1 256 "$KILN_GUEST_CMDLINE kiln.shell=1"
	tmux new-session -d -s "$sess" -x 120 -y 40 \
		"$KILN --no-api --config-file $cfg 2>$E2E_TMP/tty.err; echo \"kiln-status=\$?\"; sleep 30"
	screen() { tmux capture-pane -p -t "$sess" -S -200; }
	wait_for() {
		for i in $(seq 600); do screen | grep -q -- "$1" && return 0; sleep 0.2; done
		echo "screen:"; screen | tail -n 20; return 1
	}
	wait_for 'KILN-GUEST-INIT' || { tmux kill-session -t "$sess"; fail "the guest never started"; }
	sleep 2
	tmux send-keys -t "$sess" 'echo "six times seven is $((6*7))"' Enter
	wait_for 'six times seven is 42' || { tmux kill-session -t "$sess"; fail "no answer"; }
	# Ctrl-C goes to the guest shell, not to kiln: kiln must still be running after it.
	tmux send-keys -t "$sess" 'sleep 100' Enter
	sleep 1
	tmux send-keys -t "$sess" C-c
	tmux send-keys -t "$sess" 'echo still-here' Enter
	wait_for '^still-here' || { tmux kill-session -t "$sess"; fail "Ctrl-C did not reach the guest"; }
	tmux send-keys -t "$sess" 'reboot -f' Enter
	wait_for 'kiln-status=' || { tmux kill-session -t "$sess"; fail "kiln did not end"; }
	local st
	st=$(screen | sed -n 's/.*kiln-status=\([0-9]*\).*/\1/p' | tail -n 1)
	tmux kill-session -t "$sess"
	[ "$st" = 0 ] || fail "kiln exited with $st"
}
