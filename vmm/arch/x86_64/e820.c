/* The guest's physical memory map (e820), shared by the Linux and PVH boot paths. */
#include "e820.h"

#include <errno.h>
#include "layout.h"

static int add(struct e820_entry *out, unsigned int max, unsigned int *n, uint64_t addr,
	       uint64_t size, uint32_t type)
{
	if (size == 0)
		return 0;
	if (*n == max)
		return -ENOSPC;
	out[(*n)++] = (struct e820_entry){ addr, size, type };
	return 0;
}

int x86_e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned int max)
{
	unsigned int n = 0;
	int ret = 0;

	for (unsigned int i = 0; i < gm->nr && ret == 0; i++) {
		uint64_t start = gm->regions[i].gpa, end = start + gm->regions[i].size;
		if (start < X86_HIMEM_START) {
			/* Split low memory the way a PC BIOS reports it. */
			ret = add(out, max, &n, start, MIN(end, X86_EBDA_ADDR) - start,
				  E820_TYPE_RAM);
			if (ret == 0 && end > X86_EBDA_ADDR)
				ret = add(out, max, &n, X86_EBDA_ADDR, X86_EBDA_END - X86_EBDA_ADDR,
					  E820_TYPE_RESERVED);
			start = X86_HIMEM_START;
		}
		if (ret == 0 && end > start)
			ret = add(out, max, &n, start, end - start, E820_TYPE_RAM);
	}
	return ret < 0 ? ret : (int)n;
}
