/* Loads a bzImage: its protected-mode payload at the preferred address, entered in 64-bit mode. */
#include "kernel.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "layout.h"

#define SETUP_HDR_OFFSET 0x1f1
#define HDRS_MAGIC 0x53726448	/* "HdrS" */
#define BOOT_FLAG 0xaa55
#define MIN_PROTOCOL 0x020c	/* 2.12: 64-bit entry point and xloadflags */

int x86_bzimage_load(int fd, uint64_t file_size, struct guest_mem *gm, struct x86_kernel *k,
		     struct error *err)
{
	uint8_t head[1024];
	struct setup_header hdr;
	int ret;

	memset(k, 0, sizeof(*k));
	if (file_size < sizeof(head) || pread_all(fd, head, sizeof(head), 0) < 0)
		return error_set(err, -EINVAL, "truncated bzImage: no setup header");
	memcpy(&hdr, head + SETUP_HDR_OFFSET, sizeof(hdr));
	if (hdr.header != HDRS_MAGIC || hdr.boot_flag != BOOT_FLAG)
		return error_set(err, -EINVAL, "not a bzImage: setup header magic missing");
	if (hdr.version < MIN_PROTOCOL)
		return error_set(err, -EINVAL, "bzImage boot protocol %u.%02u is too old "
				 "(kiln needs 2.12 or later)", hdr.version >> 8,
				 hdr.version & 0xff);
	if (!(hdr.xloadflags & XLF_KERNEL_64))
		return error_set(err, -EINVAL, "bzImage has no 64-bit entry point");
	if (!(hdr.loadflags & LOADED_HIGH))
		return error_set(err, -EINVAL, "bzImage is not a protected-mode (high) kernel");

	/* The header's own length: it ends where the jump at 0x200 lands. */
	size_t hdr_len = 0x202 + head[0x201] - SETUP_HDR_OFFSET;
	if (hdr_len > sizeof(hdr))
		hdr_len = sizeof(hdr);
	memset(&k->hdr, 0, sizeof(k->hdr));
	memcpy(&k->hdr, head + SETUP_HDR_OFFSET, hdr_len);

	uint64_t setup_size = ((uint64_t)(hdr.setup_sects ? hdr.setup_sects : 4) + 1) * 512;
	if (setup_size >= file_size)
		return error_set(err, -EINVAL, "truncated bzImage: no payload after %llu bytes "
				 "of setup", (unsigned long long)setup_size);
	uint64_t payload = file_size - setup_size;
	if (hdr.syssize && (uint64_t)hdr.syssize * 16 > payload)
		return error_set(err, -EINVAL, "truncated bzImage: payload is %llu bytes, header "
				 "says %llu", (unsigned long long)payload,
				 (unsigned long long)hdr.syssize * 16);
	uint64_t span = MAX(payload, (uint64_t)hdr.init_size);
	uint64_t align = hdr.kernel_alignment ? hdr.kernel_alignment : MiB(2);
	if (align & (align - 1))
		return error_set(err, -EINVAL, "bzImage kernel_alignment 0x%llx is not a power "
				 "of two", (unsigned long long)align);

	/*
	 * The decompressor works in place from the load address up to init_size:
	 * prefer the kernel's own preferred address, else (relocatable) 1 MiB aligned.
	 */
	uint64_t load = hdr.pref_address;
	if (load < X86_HIMEM_START || !gm_contains(gm, load, span)) {
		if (!hdr.relocatable_kernel)
			return error_set(err, -ENOMEM, "bzImage (%llu MiB at 0x%llx) does not fit "
					 "in guest memory", (unsigned long long)(span >> 20),
					 (unsigned long long)hdr.pref_address);
		load = ALIGN_UP(X86_HIMEM_START, align);
	}
	if (!gm_contains(gm, load, span))
		return error_set(err, -ENOMEM, "bzImage needs %llu MiB from 0x%llx, more than "
				 "guest memory has", (unsigned long long)(span >> 20),
				 (unsigned long long)load);

	/* A layout without memory (gm_init_layout): checked, nothing to copy. */
	ret = gm_is_mapped(gm) ? pread_all(fd, gm_ptr(gm, load, payload), payload,
					   (off_t)setup_size) : 0;
	if (ret < 0)
		return error_set(err, ret, "reading bzImage payload: %s", strerror(-ret));

	k->protocol = X86_BOOT_LINUX64;
	k->bzimage = true;
	k->entry = load + 0x200;	/* startup_64 */
	k->start = load;
	k->end = load + span;
	k->hdr.code32_start = (uint32_t)load;
	k->cmdline_max = hdr.cmdline_size ? hdr.cmdline_size + 1 : 256;
	k->initrd_max = (uint64_t)hdr.initrd_addr_max + 1;
	return 0;
}

int x86_kernel_load(int fd, struct guest_mem *gm, struct x86_kernel *k, struct error *err)
{
	uint8_t magic[4];
	uint8_t hdrs[4];
	off_t size = lseek(fd, 0, SEEK_END);

	if (size < 0)
		return error_set(err, -errno, "%s", strerror(errno));
	if (size < (off_t)sizeof(magic) || pread_all(fd, magic, sizeof(magic), 0) < 0)
		return error_set(err, -EINVAL, "file is empty or too short to be a kernel");
	if (memcmp(magic, "\177ELF", 4) == 0)
		return x86_elf_load(fd, (uint64_t)size, gm, k, err);
	if (size > 0x206 && pread_all(fd, hdrs, sizeof(hdrs), 0x202) == 0 &&
	    memcmp(hdrs, "HdrS", 4) == 0)
		return x86_bzimage_load(fd, (uint64_t)size, gm, k, err);
	return error_set(err, -EINVAL, "not a kernel kiln can boot (neither an ELF vmlinux "
			 "nor a bzImage)");
}
