/* x86-64 boot tables: initrd placement, command line, boot_params or PVH start info, GDT, page tables. */
#include "boot.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "e820.h"
#include "io.h"
#include "layout.h"

#define PVH_MAGIC 0x336ec578
#define PAGE_PRESENT 0x1
#define PAGE_RW 0x2
#define PAGE_PS 0x80

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

int x86_initrd_load(int fd, struct guest_mem *gm, const struct x86_kernel *k,
		    struct x86_initrd *out, struct error *err)
{
	off_t size = lseek(fd, 0, SEEK_END);
	uint64_t top = 0;

	if (size < 0)
		return error_set(err, -errno, "%s", strerror(errno));
	if (size == 0)
		return error_set(err, -EINVAL, "initrd is empty");
	/* The highest RAM below 4 GiB the kernel accepts an initrd in. */
	for (unsigned int i = 0; i < gm->nr; i++) {
		uint64_t end = gm->regions[i].gpa + gm->regions[i].size;
		if (gm->regions[i].gpa < X86_LOWMEM_END)
			top = MAX(top, MIN(end, X86_LOWMEM_END));
	}
	top = MIN(top, k->initrd_max);
	uint64_t addr = top >= (uint64_t)size ? ALIGN_DOWN(top - (uint64_t)size, 4096) : 0;
	if (addr < k->end || !gm_contains(gm, addr, (uint64_t)size))
		return error_set(err, -ENOMEM, "a %llu MiB initrd does not fit in guest memory "
				 "above the kernel", (unsigned long long)size >> 20);
	/* A layout without memory (gm_init_layout): checked, nothing to copy. */
	int ret = gm_is_mapped(gm) ? pread_all(fd, gm_ptr(gm, addr, (uint64_t)size), (size_t)size, 0)
				   : 0;
	if (ret < 0)
		return error_set(err, ret, "reading initrd: %s", strerror(-ret));
	out->addr = addr;
	out->size = (uint64_t)size;
	return 0;
}

uint64_t x86_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (uint64_t)(limit & 0x0000ffffu);
}

void x86_gdt_build(uint64_t gdt[4], enum x86_boot_protocol protocol)
{
	gdt[0] = 0;
	/* 0xa09b: 64-bit code; 0xc09b: 32-bit code (PVH starts in protected mode). */
	gdt[1] = x86_gdt_entry(protocol == X86_BOOT_PVH ? 0xc09b : 0xa09b, 0, 0xfffff);
	gdt[2] = x86_gdt_entry(0xc093, 0, 0xfffff);
	gdt[3] = x86_gdt_entry(0x008b, 0, 0xfffff);
}

static int write_page_tables(struct guest_mem *gm)
{
	uint64_t pml4 = X86_PDPT_ADDR | PAGE_PRESENT | PAGE_RW;
	uint64_t pdpt = X86_PD_ADDR | PAGE_PRESENT | PAGE_RW;
	uint64_t pd[512];

	/* Identity-map the first 1 GiB with 2 MiB pages: enough for any kernel to start. */
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | PAGE_PRESENT | PAGE_RW | PAGE_PS;
	if (gm_write(gm, X86_PML4_ADDR, &pml4, sizeof(pml4)) < 0 ||
	    gm_write(gm, X86_PDPT_ADDR, &pdpt, sizeof(pdpt)) < 0 ||
	    gm_write(gm, X86_PD_ADDR, pd, sizeof(pd)) < 0)
		return -EFAULT;
	return 0;
}

static int write_zero_page(struct guest_mem *gm, const struct x86_kernel *k,
			   const struct cmdline *cl, const struct x86_initrd *initrd)
{
	struct boot_params bp;
	struct e820_entry map[E820_MAX_ENTRIES_ZEROPAGE];
	int n = x86_e820_build(gm, map, E820_MAX_ENTRIES_ZEROPAGE);

	if (n < 0)
		return n;
	memset(&bp, 0, sizeof(bp));
	if (k->bzimage) {
		bp.hdr = k->hdr;
	} else {
		bp.hdr.boot_flag = 0xaa55;
		bp.hdr.header = 0x53726448;
		bp.hdr.kernel_alignment = 0x1000000;
	}
	bp.hdr.type_of_loader = 0xff;	/* an undefined boot loader */
	bp.hdr.loadflags |= KEEP_SEGMENTS;
	bp.hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_ADDR;
	bp.hdr.cmdline_size = (uint32_t)cl->len + 1;
	bp.hdr.ramdisk_image = (uint32_t)initrd->addr;
	bp.hdr.ramdisk_size = (uint32_t)initrd->size;
	bp.ext_ramdisk_image = (uint32_t)(initrd->addr >> 32);
	bp.ext_ramdisk_size = (uint32_t)(initrd->size >> 32);
	for (int i = 0; i < n; i++) {
		bp.e820_table[i].addr = map[i].addr;
		bp.e820_table[i].size = map[i].size;
		bp.e820_table[i].type = map[i].type;
	}
	bp.e820_entries = (uint8_t)n;
	return gm_write(gm, X86_ZERO_PAGE_ADDR, &bp, sizeof(bp));
}

static int write_pvh_info(struct guest_mem *gm, const struct x86_initrd *initrd)
{
	struct hvm_start_info si = { .magic = PVH_MAGIC, .version = 1 };
	struct e820_entry map[X86_PVH_MEMMAP_MAX];
	struct hvm_memmap_entry mm[X86_PVH_MEMMAP_MAX];
	int n = x86_e820_build(gm, map, X86_PVH_MEMMAP_MAX);

	if (n < 0)
		return n;
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_entry){ map[i].addr, map[i].size, map[i].type, 0 };
	si.cmdline_paddr = X86_CMDLINE_ADDR;
	si.memmap_paddr = X86_PVH_MEMMAP_ADDR;
	si.memmap_entries = (uint32_t)n;
	if (initrd->size) {
		struct hvm_modlist_entry mod = { .paddr = initrd->addr, .size = initrd->size };
		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_MODLIST_ADDR;
		if (gm_write(gm, X86_PVH_MODLIST_ADDR, &mod, sizeof(mod)) < 0)
			return -EFAULT;
	}
	if (gm_write(gm, X86_PVH_MEMMAP_ADDR, mm, (size_t)n * sizeof(mm[0])) < 0 ||
	    gm_write(gm, X86_PVH_INFO_ADDR, &si, sizeof(si)) < 0)
		return -EFAULT;
	return 0;
}

int x86_boot_tables_write(struct guest_mem *gm, const struct x86_kernel *k,
			  const struct cmdline *cl, const struct x86_initrd *initrd,
			  struct error *err)
{
	uint64_t gdt[4];
	uint64_t idt = 0;
	int ret;

	if (cmdline_check(cl, k->cmdline_max) < 0)
		return error_set(err, -E2BIG, "kernel command line is %zu bytes; this kernel "
				 "takes at most %u", cl->want, k->cmdline_max - 1);
	if (gm_write(gm, X86_CMDLINE_ADDR, cl->buf, cl->len + 1) < 0)
		return error_set(err, -ENOMEM, "guest memory too small for the command line");
	x86_gdt_build(gdt, k->protocol);
	if (gm_write(gm, X86_GDT_ADDR, gdt, sizeof(gdt)) < 0 ||
	    gm_write(gm, X86_IDT_ADDR, &idt, sizeof(idt)) < 0 || write_page_tables(gm) < 0)
		return error_set(err, -ENOMEM, "guest memory too small for boot tables");
	ret = k->protocol == X86_BOOT_PVH ? write_pvh_info(gm, initrd)
					  : write_zero_page(gm, k, cl, initrd);
	if (ret < 0)
		return error_set(err, ret, "writing boot information: %s", strerror(-ret));
	return 0;
}

int x86_boot_set_rsdp(struct guest_mem *gm, enum x86_boot_protocol protocol, uint64_t rsdp)
{
	if (protocol == X86_BOOT_PVH)
		return gm_write(gm, X86_PVH_INFO_ADDR + offsetof(struct hvm_start_info, rsdp_paddr),
				&rsdp, sizeof(rsdp));
	return gm_write(gm, X86_ZERO_PAGE_ADDR + offsetof(struct boot_params, acpi_rsdp_addr),
			&rsdp, sizeof(rsdp));
}
