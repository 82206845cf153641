/* Where the x86-64 machine puts things in guest physical memory. */
#ifndef KILN_X86_LAYOUT_H
#define KILN_X86_LAYOUT_H

#include "util.h"

/* Boot structures below 1 MiB. */
#define X86_GDT_ADDR		0x500ULL
#define X86_IDT_ADDR		0x520ULL
#define X86_PVH_INFO_ADDR	0x6000ULL
#define X86_PVH_MODLIST_ADDR	0x6040ULL
#define X86_PVH_MEMMAP_ADDR	0x6080ULL
#define X86_PVH_MEMMAP_MAX	64
#define X86_ZERO_PAGE_ADDR	0x7000ULL
#define X86_BOOT_STACK		0x8ff0ULL
#define X86_PML4_ADDR		0x9000ULL
#define X86_PDPT_ADDR		0xa000ULL
#define X86_PD_ADDR		0xb000ULL
#define X86_CMDLINE_ADDR	0x20000ULL
#define X86_EBDA_ADDR		0x9fc00ULL	/* MP table; e820 marks it reserved */
#define X86_EBDA_END		0xa0000ULL
/* ACPI tables in the BIOS area, which e820 leaves out of RAM as a PC BIOS does. */
#define X86_ACPI_START		0xe0000ULL	/* RSDP first: Linux also scans here */
#define X86_ACPI_END		0x100000ULL
#define X86_HIMEM_START		0x100000ULL	/* kernels load at or above 1 MiB */

/* RAM sits below the 32-bit MMIO hole and continues above 4 GiB, as on a PC. */
#define X86_LOWMEM_END		GiB(3)
#define X86_HIGHMEM_START	GiB(4)

/* Device windows inside the hole. */
#define X86_MMIO_START		0xd0000000ULL
#define X86_MMIO_END		0xfec00000ULL
#define X86_IOAPIC_ADDR		0xfec00000ULL
#define X86_LAPIC_ADDR		0xfee00000ULL
#define X86_IDENTITY_MAP_ADDR	0xfffbc000ULL
#define X86_TSS_ADDR		0xfffbd000ULL

/* Legacy devices. */
#define X86_SERIAL_PORT		0x3f8
#define X86_SERIAL_IRQ		4
#define X86_I8042_PORT		0x60
#define X86_I8042_IRQ		1
#define X86_POST_PORT		0x80
#define X86_ACPI_PM_PORT	0x600	/* HW-reduced ACPI sleep and reset registers */
#define X86_FIRST_DEVICE_IRQ	5	/* virtio devices get IRQs from here */
#define X86_LAST_DEVICE_IRQ	23	/* the IOAPIC has 24 pins */

#endif
