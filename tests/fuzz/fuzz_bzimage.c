/* The bzImage loader on arbitrary files. */
/* coverage: vmm/arch/x86_64/bzimage.c */
#include "kernel_loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_kernel_loader(x86_bzimage_load, data, size);
}
