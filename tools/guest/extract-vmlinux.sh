#!/bin/sh
# Extracts the uncompressed ELF vmlinux from an x86 bzImage.
#   tools/guest/extract-vmlinux.sh BZIMAGE OUT_VMLINUX
#
# Like the kernel's scripts/extract-vmlinux, but reads the boot protocol header
# instead of guessing: the compressed payload starts payload_offset (0x248) bytes
# after the protected-mode code, which starts (setup_sects + 1) * 512 bytes into the
# file, and is payload_length (0x24c) bytes long. The compressor is recognised by its
# magic. Falls back to scanning for a known magic (as extract-vmlinux does) when the
# header does not lead to an ELF file. Exits non-zero unless OUT is a valid ELF.
set -eu

in=${1:?usage: extract-vmlinux.sh BZIMAGE OUT_VMLINUX}
out=${2:?usage: extract-vmlinux.sh BZIMAGE OUT_VMLINUX}

die() { echo "extract-vmlinux: $*" >&2; exit 1; }
[ -r "$in" ] || die "cannot read $in"

# le32 FILE OFFSET / u8 FILE OFFSET: little-endian integers from the file.
le32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
u8() { od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }

is_elf() { [ "$(od -An -c -N 4 "$1" 2>/dev/null | tr -d ' ')" = '177ELF' ]; }

# decompress FILE START LEN OUT: decompress LEN bytes at START (LEN 0: to the end).
decompress() {
	magic=$(od -An -t x1 -j "$2" -N 6 "$1" | tr -d ' \n')
	case "$magic" in
	fd377a585a00*) dec='xz -dc --single-stream' ;;
	1f8b*) dec='gzip -dc' ;;
	28b52ffd*) dec='zstd -dc' ;;
	5d0000*) dec='xz -dc --format=lzma' ;;
	425a68*) dec='bzip2 -dc' ;;
	02214c18*) dec='lz4 -dc' ;;
	894c5a*) dec='lzop -dc' ;;
	*) return 1 ;;
	esac
	if [ "$3" -gt 0 ]; then
		tail -c +"$(($2 + 1))" "$1" | head -c "$3" | $dec >"$4" 2>/dev/null || true
	else
		tail -c +"$(($2 + 1))" "$1" | $dec >"$4" 2>/dev/null || true
	fi
	is_elf "$4"
}

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT INT TERM

hdr=$(od -An -c -j 514 -N 4 "$in" | tr -d ' ')
[ "$hdr" = HdrS ] || die "$in is not a bzImage (no HdrS boot header)"
setup_sects=$(u8 "$in" 497)
[ "$setup_sects" -eq 0 ] && setup_sects=4
pm_start=$(((setup_sects + 1) * 512))
payload_offset=$(le32 "$in" 584)
payload_length=$(le32 "$in" 588)

if [ -z "${KILN_EXTRACT_SCAN:-}" ] && [ "$payload_offset" -gt 0 ] &&
	decompress "$in" $((pm_start + payload_offset)) "$payload_length" "$tmp"; then
	:
else
	# Fallback (or KILN_EXTRACT_SCAN=1): try every offset where a known magic occurs.
	found=
	for hex in fd377a585a00 1f8b08 28b52ffd 5d000000 425a68 02214c18 894c5a; do
		pat=$(printf '%s' "$hex" | sed 's/../\\x&/g')
		for off in $(LC_ALL=C grep -obUaP -- "$pat" "$in" 2>/dev/null | cut -d: -f1); do
			if decompress "$in" "$off" 0 "$tmp"; then found=1; break 2; fi
		done
	done
	[ -n "$found" ] || die "no decompressible ELF payload found in $in"
fi

# Validate: ELF64, x86-64, executable, with program headers.
if command -v readelf >/dev/null 2>&1; then
	readelf -h "$tmp" >/dev/null 2>&1 || die "extracted payload is not a valid ELF"
	readelf -h "$tmp" | grep -q 'Class:.*ELF64' || die "extracted ELF is not 64-bit"
	readelf -h "$tmp" | grep -q 'Type:.*EXEC' || die "extracted ELF is not an executable"
fi
mv -f "$tmp" "$out"
trap - EXIT INT TERM
