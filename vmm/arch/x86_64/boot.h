/* x86-64 boot tables: initrd placement, command line, boot_params or PVH start info, GDT, page tables. */
#ifndef KILN_X86_BOOT_H
#define KILN_X86_BOOT_H

#include <stdint.h>
#include "cmdline.h"
#include "error.h"
#include "kernel.h"
#include "memory.h"

struct x86_initrd {
	uint64_t addr;
	uint64_t size;		/* 0: no initrd */
};

/* Load an initrd as high as the kernel allows, above the kernel, page aligned. */
int x86_initrd_load(int fd, struct guest_mem *gm, const struct x86_kernel *k,
		    struct x86_initrd *out, struct error *err) MUST_CHECK;
/*
 * Write the command line, boot_params (64-bit protocol) or hvm_start_info (PVH),
 * the GDT, an empty IDT and identity page tables for the first 1 GiB.
 */
int x86_boot_tables_write(struct guest_mem *gm, const struct x86_kernel *k,
			  const struct cmdline *cl, const struct x86_initrd *initrd,
			  struct error *err) MUST_CHECK;
/*
 * Point the guest at the ACPI RSDP, after x86_boot_tables_write: boot_params.acpi_rsdp_addr
 * (64-bit protocol) or hvm_start_info.rsdp_paddr (PVH). Returns 0 or -EFAULT.
 */
int x86_boot_set_rsdp(struct guest_mem *gm, enum x86_boot_protocol protocol,
		      uint64_t rsdp) MUST_CHECK;

/* The GDT kiln gives the boot vCPU: null, 64-bit code, data, TSS; or 32-bit code for PVH. */
#define X86_GDT_CODE_SEL 0x08
#define X86_GDT_DATA_SEL 0x10
#define X86_GDT_TSS_SEL 0x18
uint64_t x86_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);
void x86_gdt_build(uint64_t gdt[4], enum x86_boot_protocol protocol);

#endif
