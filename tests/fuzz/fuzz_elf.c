/* The ELF vmlinux loader (with its PVH note) on arbitrary files. */
/* coverage: vmm/arch/x86_64/elf.c */
#include "kernel_loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_kernel_loader(x86_elf_load, data, size);
}
