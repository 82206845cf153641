/* The guest's physical memory map (e820), shared by the Linux and PVH boot paths. */
#ifndef KILN_X86_E820_H
#define KILN_X86_E820_H

#include <stdint.h>
#include "memory.h"

#define E820_TYPE_RAM		1
#define E820_TYPE_RESERVED	2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/*
 * Describe guest RAM: conventional memory below the EBDA, the EBDA reserved, RAM
 * from 1 MiB, and each further RAM region. Returns the entry count or -ENOSPC.
 */
int x86_e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned int max);

#endif
