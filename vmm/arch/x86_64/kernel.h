/* x86-64 kernel loaders: ELF vmlinux (with optional PVH entry) and bzImage. */
#ifndef KILN_X86_KERNEL_H
#define KILN_X86_KERNEL_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "memory.h"

enum x86_boot_protocol {
	X86_BOOT_LINUX64,	/* 64-bit Linux boot protocol: long mode, RSI = boot_params */
	X86_BOOT_PVH,		/* PVH: 32-bit protected mode, EBX = hvm_start_info */
};

struct x86_kernel {
	enum x86_boot_protocol protocol;
	bool bzimage;
	uint64_t entry;		/* guest physical entry point for `protocol` */
	uint64_t start, end;	/* guest physical range the kernel occupies */
	struct setup_header hdr;	/* bzImage only: its setup header, for boot_params */
	uint32_t cmdline_max;	/* longest command line the kernel takes, NUL included */
	uint64_t initrd_max;	/* highest address an initrd may end at */
};

/* Pick a loader by the file's magic and load it. Errors name what is wrong. */
int x86_kernel_load(int fd, struct guest_mem *gm, struct x86_kernel *k, struct error *err)
	MUST_CHECK;
int x86_elf_load(int fd, uint64_t file_size, struct guest_mem *gm, struct x86_kernel *k,
		 struct error *err) MUST_CHECK;
int x86_bzimage_load(int fd, uint64_t file_size, struct guest_mem *gm, struct x86_kernel *k,
		     struct error *err) MUST_CHECK;

#endif
