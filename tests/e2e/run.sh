#!/bin/bash
# Linux end-to-end tests: kiln boots Debian's kernel and runs commands in it.
#   tests/e2e/run.sh BUILD_DIR
# Linux guests run directly when this host's /dev/kvm can boot Linux (hardware VMX/SVM),
# in the lab (tools/lab) otherwise; the output says which. The last line is
# "e2e: N passed, N failed, N skipped".
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mkdir -p "$build/e2e"
envfile=$build/e2e/guest.env

if ! "$top/tools/guest/build.sh" --quiet --env "$envfile" >/dev/null; then
	echo "e2e: the guest images could not be built (see above)"
	echo "e2e: 0 passed, 1 failed, 0 skipped"
	exit 1
fi

mode=$("$top/tools/lab/detect")
if [ "$mode" = direct ]; then
	echo "e2e: Linux guests run directly on this host's /dev/kvm"
	exec "$here/cases.sh" "$build" "$envfile"
fi

echo "e2e: this host's /dev/kvm cannot boot Linux ($("$top/tools/lab/detect" -v 2>&1 | tail -n 1));" \
	"Linux guests run in the lab"
# The lab very rarely fails to come up (status 125): try it twice.
for attempt in 1 2; do
	"$top/tools/lab/run" --timeout "${E2E_LAB_TIMEOUT:-1500}" --mem 3072 --cpus 2 -- \
		"$here/cases.sh" "$build" "$envfile"
	rc=$?
	[ "$rc" -ne 125 ] && break
	echo "e2e: the lab failed to start (attempt $attempt)"
done
case $rc in
0|1) exit "$rc" ;;
124) echo "e2e: the lab timed out"; echo "e2e: 0 passed, 1 failed, 0 skipped"; exit 1 ;;
*) echo "e2e: the lab failed (status $rc)"; echo "e2e: 0 passed, 1 failed, 0 skipped"; exit 1 ;;
esac
