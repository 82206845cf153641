/* The bzImage loader on arbitrary files. */
#include "kernel_loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_kernel_loader(x86_bzimage_load, data, size);
}
