#!/bin/bash
# make demo: boot a microVM with kiln and show what it prints.
#   tools/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d /tmp/kiln-demo-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$(realpath "$build/tests/guests/smp.elf")" },
  "machine-config": { "vcpu_count": 4, "mem_size_mib": 128 }
}
JSON
echo "demo: booting a 4-vCPU microVM with a freestanding test kernel:"
echo "      $build/kiln --config-file $tmp/vm.json"
"$build/kiln" --config-file "$tmp/vm.json"
echo "demo: kiln exited with status $?"
