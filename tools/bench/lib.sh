# Sourced by the benchmark scripts (tools/bench/*.sh).

# bench_in_lab LABEL TIMEOUT MEM CMD...: runs CMD (the benchmark script itself) inside the lab
# and exits with its outcome. A lab that fails (hangs, freezes, does not boot) is started
# again once; a benchmark that still has no figures says so and exits 1, which fails
# `make bench` (tools/bench/run.sh) after the other figures are out.
bench_in_lab() {
	local label=$1 timeout=$2 mem=$3 rc=0
	shift 3
	"$(dirname "${BASH_SOURCE[0]}")/../lab/run" --timeout "$timeout" --mem "$mem" --cpus 2 \
		--retry 1 -- "$@" || rc=$?
	[ "$rc" -eq 0 ] && exit 0
	case "$rc" in
	124) echo "$label: FAILED: the lab timed out after $timeout s" ;;
	125) echo "$label: FAILED: the lab failed twice (it hung, froze or did not boot)" ;;
	*) echo "$label: FAILED: status $rc in the lab" ;;
	esac
	exit 1
}
