#!/bin/bash
# make demo: boot a Linux microVM through the jailer and show what it prints.
#   tools/demo.sh BUILD_DIR
# Debian's kernel and a busybox initramfs (tools/guest) boot in a jail; the guest prints
# a greeting and `uname -a`, then reboots, which ends kiln. Where this host's KVM cannot
# boot Linux the demo runs inside the lab (tools/lab), and says so.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)

if [ "${KILN_LAB:-}" != 1 ]; then
	echo "demo: building the guest images (Debian's kernel, busybox; cached after the first run)"
	mkdir -p "$build/e2e"
	"$top/tools/guest/build.sh" --env "$build/e2e/guest.env" >/dev/null
	if [ "$("$top/tools/lab/detect")" != direct ]; then
		echo "demo: this host's /dev/kvm cannot boot Linux ($("$top/tools/lab/detect" -v 2>&1 >/dev/null | sed 's/^detect: //'));"
		echo "demo: running the demo in the lab, an emulated machine with real KVM inside (allow a minute)"
		LAB_PROGRESS=1 exec "$top/tools/lab/run" --timeout 600 --mem 2048 -- "$0" "$build"
	fi
fi
. "$build/e2e/guest.env"
[ "$(id -u)" = 0 ] || { echo "demo: the jailer needs root" >&2; exit 1; }

id=kiln-demo-$$
base=$(mktemp -d /tmp/kiln-demo-XXXXXX)
trap 'rm -rf "$base"' EXIT
cat > "$base/vm.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "/vmlinux",
    "initrd_path": "/initrd.img",
    "boot_args": "$KILN_GUEST_CMDLINE kiln.greet=1"
  },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 256 }
}
JSON
echo "demo: $ jailer --id $id --exec-file $build/kiln --uid 65534 --gid 65534 \\"
echo "demo:       --bind vmlinux:/vmlinux --bind initramfs:/initrd.img -- --no-api --config-file - < vm.json"
set +e
"$build/jailer" --id "$id" --exec-file "$build/kiln" --uid 65534 --gid 65534 \
	--chroot-base-dir "$base" \
	--bind "$KILN_GUEST_VMLINUX:/vmlinux" --bind "$KILN_GUEST_INITRAMFS:/initrd.img" \
	-- --no-api --config-file - < "$base/vm.json" | sed -u -e 's/\r$//' -e '/^KILN-GUEST/d'
status=${PIPESTATUS[0]}
echo "demo: kiln exited with status $status"
exit "$status"
