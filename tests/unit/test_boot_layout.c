/* Guest boot layout: command line, e820, boot_params/PVH start info, GDT, page tables, initrd, MP table. */
#include <criterion/criterion.h>
#include <asm/bootparam.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "cmdline.h"
#include "e820.h"
#include "layout.h"
#include "mptable.h"

#define GUEST_SIZE (64ULL << 20)

static uint8_t *ram;
static struct guest_mem gm;
static struct error err;

static void setup(void)
{
	ram = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_NORESERVE, -1, 0);
	cr_assert_neq(ram, MAP_FAILED);
	gm_init_buffer(&gm, 0, ram, GUEST_SIZE);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	munmap(ram, GUEST_SIZE);
}

TestSuite(boot, .init = setup, .fini = teardown);
TestSuite(initrd, .init = setup, .fini = teardown);
TestSuite(mptable, .init = setup, .fini = teardown);

/* ---- command line ---- */

Test(cmdline, append_joins_with_spaces)
{
	struct cmdline cl;
	cmdline_init(&cl);
	cr_assert_str_eq(cl.buf, "");
	cmdline_append(&cl, "%s", "console=ttyS0");
	cmdline_append(&cl, "%s", "");	/* nothing: no double space */
	cmdline_append(&cl, "reboot=%c", 'k');
	cmdline_append(&cl, "quiet");
	cr_assert_str_eq(cl.buf, "console=ttyS0 reboot=k quiet");
	cr_assert_eq(cl.len, strlen(cl.buf));
	cr_assert_eq(cmdline_check(&cl, CMDLINE_MAX), 0);
}

Test(cmdline, has_matches_whole_parameters)
{
	struct cmdline cl;
	cmdline_init(&cl);
	cmdline_append(&cl, "console=ttyS0 noapic pci=off foo=bar=baz");
	cr_assert(cmdline_has(&cl, "console"));
	cr_assert(cmdline_has(&cl, "noapic"));
	cr_assert(cmdline_has(&cl, "pci"));
	cr_assert(cmdline_has(&cl, "foo"));
	cr_assert_not(cmdline_has(&cl, "cons"), "prefix of a name");
	cr_assert_not(cmdline_has(&cl, "apic"), "suffix of a name");
	cr_assert_not(cmdline_has(&cl, "off"), "a value is not a parameter");
	cr_assert_not(cmdline_has(&cl, "ttyS0"));
	cr_assert_not(cmdline_has(&cl, "bar"));
	cr_assert_not(cmdline_has(&cl, "reboot"));
}

Test(cmdline, has_empty_name_is_false, .timeout = 5)
{
	struct cmdline cl;
	cmdline_init(&cl);
	cmdline_append(&cl, "console=ttyS0 quiet");
	cr_assert_not(cmdline_has(&cl, ""));
}

Test(cmdline, one_page_limit)
{
	static char item[CMDLINE_MAX + 16];
	struct cmdline cl;
	cmdline_init(&cl);
	memset(item, 'a', CMDLINE_MAX - 1);
	item[CMDLINE_MAX - 1] = '\0';
	cmdline_append(&cl, "%s", item);	/* 4095 characters: exactly one page with its NUL */
	cr_assert_eq(cl.len, CMDLINE_MAX - 1);
	cr_assert_eq(cmdline_check(&cl, CMDLINE_MAX), 0);
	cmdline_append(&cl, "x");
	cr_assert_eq(cmdline_check(&cl, CMDLINE_MAX), -E2BIG);
	cr_assert_eq(cl.want, CMDLINE_MAX + 1);
	cr_assert_eq(cl.len, CMDLINE_MAX - 1, "the buffer keeps what fitted");
	cr_assert_eq(strlen(cl.buf), CMDLINE_MAX - 1);
	cmdline_append(&cl, "y");
	cr_assert_eq(cl.want, CMDLINE_MAX + 3, "still counting");
	cr_assert_eq(strchr(cl.buf, 'y'), NULL);

	/* One single item longer than a page. */
	memset(item, 'b', CMDLINE_MAX + 10);
	item[CMDLINE_MAX + 10] = '\0';
	cmdline_init(&cl);
	cmdline_append(&cl, "%s", item);
	cr_assert_eq(cmdline_check(&cl, CMDLINE_MAX), -E2BIG);
	cr_assert_eq(cl.len, 0);
}

Test(cmdline, kernel_limit)
{
	struct cmdline cl;
	cmdline_init(&cl);
	cmdline_append(&cl, "0123456789");
	cr_assert_eq(cmdline_check(&cl, 11), 0, "10 characters and a NUL");
	cr_assert_eq(cmdline_check(&cl, 10), -E2BIG);
}

/* ---- e820 ---- */

Test(e820, small_guest)
{
	struct e820_entry m[8];
	struct guest_mem g = { .nr = 1, .regions = { { .gpa = 0, .size = 128ULL << 20 } } };
	cr_assert_eq(x86_e820_build(&g, m, 8), 3);
	cr_assert_eq(m[0].addr, 0);
	cr_assert_eq(m[0].size, 0x9fc00);
	cr_assert_eq(m[0].type, E820_TYPE_RAM);
	cr_assert_eq(m[1].addr, 0x9fc00);
	cr_assert_eq(m[1].size, 0x400);
	cr_assert_eq(m[1].type, E820_TYPE_RESERVED);
	cr_assert_eq(m[2].addr, 0x100000);
	cr_assert_eq(m[2].size, (128ULL << 20) - 0x100000);
	cr_assert_eq(m[2].type, E820_TYPE_RAM);
}

Test(e820, large_guest_has_high_ram)
{
	struct e820_entry m[8];
	struct guest_mem g = { .nr = 2, .regions = {
		{ .gpa = 0, .size = 3ULL << 30 },
		{ .gpa = 4ULL << 30, .size = 5ULL << 30 } } };
	cr_assert_eq(x86_e820_build(&g, m, 8), 4);
	cr_assert_eq(m[2].addr, 0x100000);
	cr_assert_eq(m[2].size, (3ULL << 30) - 0x100000, "low RAM stops at 3 GiB");
	cr_assert_eq(m[3].addr, 4ULL << 30);
	cr_assert_eq(m[3].size, 5ULL << 30);
	cr_assert_eq(m[3].type, E820_TYPE_RAM);
}

Test(e820, tiny_guest)
{
	struct e820_entry m[8];
	struct guest_mem g = { .nr = 1, .regions = { { .gpa = 0, .size = 0x80000 } } };
	cr_assert_eq(x86_e820_build(&g, m, 8), 1);
	cr_assert_eq(m[0].addr, 0);
	cr_assert_eq(m[0].size, 0x80000);
	cr_assert_eq(m[0].type, E820_TYPE_RAM);
}

Test(e820, no_space)
{
	struct e820_entry m[4];
	struct guest_mem g = { .nr = 2, .regions = {
		{ .gpa = 0, .size = 3ULL << 30 },
		{ .gpa = 4ULL << 30, .size = 1ULL << 30 } } };
	cr_assert_eq(x86_e820_build(&g, m, 3), -ENOSPC);
	cr_assert_eq(x86_e820_build(&g, m, 2), -ENOSPC);
	cr_assert_eq(x86_e820_build(&g, m, 0), -ENOSPC);
	cr_assert_eq(x86_e820_build(&g, m, 4), 4);
}

/* ---- GDT ---- */

Test(boot, gdt_entries)
{
	uint64_t gdt[4];
	cr_assert_eq(x86_gdt_entry(0xa09b, 0, 0xfffff), 0x00af9b000000ffffULL);
	cr_assert_eq(x86_gdt_entry(0xc093, 0, 0xfffff), 0x00cf93000000ffffULL);
	cr_assert_eq(x86_gdt_entry(0x0089, 0x12345678, 0x67), 0x1200893456780067ULL);
	x86_gdt_build(gdt, X86_BOOT_LINUX64);
	cr_assert_eq(gdt[0], 0);
	cr_assert_eq(gdt[X86_GDT_CODE_SEL / 8], 0x00af9b000000ffffULL, "64-bit code");
	cr_assert_eq(gdt[X86_GDT_DATA_SEL / 8], 0x00cf93000000ffffULL);
	cr_assert_eq((gdt[X86_GDT_TSS_SEL / 8] >> 40) & 0xff, 0x8b, "busy 64-bit TSS");
	x86_gdt_build(gdt, X86_BOOT_PVH);
	cr_assert_eq(gdt[X86_GDT_CODE_SEL / 8], 0x00cf9b000000ffffULL, "32-bit code for PVH");
}

/* ---- boot tables ---- */

static struct x86_kernel elf_kernel(void)
{
	return (struct x86_kernel){ .protocol = X86_BOOT_LINUX64, .entry = 0x1000000,
				    .start = 0x1000000, .end = 0x1400000, .cmdline_max = 4096,
				    .initrd_max = UINT64_MAX };
}

static void check_common_tables(enum x86_boot_protocol proto, const char *cmdline)
{
	uint64_t *gdt = (uint64_t *)(ram + X86_GDT_ADDR);
	uint64_t *pml4 = (uint64_t *)(ram + X86_PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(ram + X86_PDPT_ADDR);
	uint64_t *pd = (uint64_t *)(ram + X86_PD_ADDR);

	cr_assert_str_eq((char *)ram + X86_CMDLINE_ADDR, cmdline);
	cr_assert_eq(gdt[0], 0);
	cr_assert_eq(gdt[1], proto == X86_BOOT_PVH ? 0x00cf9b000000ffffULL : 0x00af9b000000ffffULL);
	cr_assert_eq(gdt[2], 0x00cf93000000ffffULL);
	cr_assert_eq(*(uint64_t *)(ram + X86_IDT_ADDR), 0);
	cr_assert_eq(pml4[0], X86_PDPT_ADDR | 3);
	cr_assert_eq(pdpt[0], X86_PD_ADDR | 3);
	for (uint64_t i = 0; i < 512; i++)
		cr_assert_eq(pd[i], (i << 21) | 0x83, "PD entry %llu", (unsigned long long)i);
}

Test(boot, zero_page_for_elf_kernel)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { .addr = 0x3000000, .size = 0x12345 };
	struct cmdline cl;
	cmdline_init(&cl);
	cmdline_append(&cl, "console=ttyS0 reboot=k");
	memset(ram, 0xee, 0x30000);	/* stale bytes: what is not written must not matter */

	cr_assert_eq(x86_boot_tables_write(&gm, &k, &cl, &rd, &err), 0, "%s", err.msg);
	check_common_tables(X86_BOOT_LINUX64, "console=ttyS0 reboot=k");

	struct boot_params *bp = (struct boot_params *)(ram + X86_ZERO_PAGE_ADDR);
	cr_assert_eq(bp->hdr.boot_flag, 0xaa55);
	cr_assert_eq(bp->hdr.header, 0x53726448);
	cr_assert_eq(bp->hdr.type_of_loader, 0xff);
	cr_assert(bp->hdr.loadflags & KEEP_SEGMENTS);
	cr_assert_eq(bp->hdr.cmd_line_ptr, X86_CMDLINE_ADDR);
	cr_assert_eq(bp->ext_cmd_line_ptr, 0);
	cr_assert_eq(bp->hdr.cmdline_size, strlen("console=ttyS0 reboot=k") + 1);
	cr_assert_eq(bp->hdr.ramdisk_image, 0x3000000);
	cr_assert_eq(bp->hdr.ramdisk_size, 0x12345);
	cr_assert_eq(bp->ext_ramdisk_image, 0);
	cr_assert_eq(bp->e820_entries, 3);
	cr_assert_eq(bp->e820_table[0].addr, 0);
	cr_assert_eq(bp->e820_table[0].size, 0x9fc00);
	cr_assert_eq(bp->e820_table[0].type, E820_TYPE_RAM);
	cr_assert_eq(bp->e820_table[1].addr, 0x9fc00);
	cr_assert_eq(bp->e820_table[1].type, E820_TYPE_RESERVED);
	cr_assert_eq(bp->e820_table[2].addr, 0x100000);
	cr_assert_eq(bp->e820_table[2].size, GUEST_SIZE - 0x100000);
	cr_assert_eq(bp->e820_table[2].type, E820_TYPE_RAM);
	/* The rest of the zero page really is zero. */
	cr_assert_eq(bp->screen_info.orig_video_isVGA, 0);
	cr_assert_eq(bp->e820_table[3].size, 0);
}

Test(boot, zero_page_keeps_bzimage_header)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	struct cmdline cl;
	k.bzimage = true;
	k.hdr.setup_sects = 27;
	k.hdr.boot_flag = 0xaa55;
	k.hdr.header = 0x53726448;
	k.hdr.version = 0x020f;
	k.hdr.loadflags = LOADED_HIGH;
	k.hdr.code32_start = 0x1000000;
	k.hdr.kernel_alignment = 0x200000;
	k.hdr.xloadflags = XLF_KERNEL_64;
	k.hdr.init_size = 0x2000000;
	k.hdr.type_of_loader = 0;
	k.cmdline_max = 2048;
	cmdline_init(&cl);
	cmdline_append(&cl, "panic=1");

	cr_assert_eq(x86_boot_tables_write(&gm, &k, &cl, &rd, &err), 0, "%s", err.msg);
	struct boot_params *bp = (struct boot_params *)(ram + X86_ZERO_PAGE_ADDR);
	cr_assert_eq(bp->hdr.setup_sects, 27);
	cr_assert_eq(bp->hdr.version, 0x020f);
	cr_assert_eq(bp->hdr.code32_start, 0x1000000);
	cr_assert_eq(bp->hdr.init_size, 0x2000000);
	cr_assert_eq(bp->hdr.xloadflags, XLF_KERNEL_64);
	cr_assert_eq(bp->hdr.loadflags, LOADED_HIGH | KEEP_SEGMENTS);
	cr_assert_eq(bp->hdr.type_of_loader, 0xff);
	cr_assert_eq(bp->hdr.cmd_line_ptr, X86_CMDLINE_ADDR);
	cr_assert_eq(bp->hdr.ramdisk_image, 0);
	cr_assert_eq(bp->hdr.ramdisk_size, 0);
	cr_assert_str_eq((char *)ram + X86_CMDLINE_ADDR, "panic=1");
}

/* Mirrors of Xen's public PVH structures (xen/include/public/arch-x86/hvm/start_info.h). */
struct pvh_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct pvh_mod {
	uint64_t paddr, size, cmdline_paddr, reserved;
};
struct pvh_memmap {
	uint64_t addr, size;
	uint32_t type, reserved;
};

Test(boot, pvh_start_info)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { .addr = 0x3000000, .size = 0x4000 };
	struct cmdline cl;
	k.protocol = X86_BOOT_PVH;
	cmdline_init(&cl);
	cmdline_append(&cl, "console=ttyS0");

	cr_assert_eq(x86_boot_tables_write(&gm, &k, &cl, &rd, &err), 0, "%s", err.msg);
	check_common_tables(X86_BOOT_PVH, "console=ttyS0");
	struct pvh_start_info *si = (struct pvh_start_info *)(ram + X86_PVH_INFO_ADDR);
	cr_assert_eq(si->magic, 0x336ec578);
	cr_assert_eq(si->version, 1);
	cr_assert_eq(si->cmdline_paddr, X86_CMDLINE_ADDR);
	cr_assert_eq(si->nr_modules, 1);
	cr_assert_eq(si->memmap_entries, 3);
	struct pvh_mod *mod = (struct pvh_mod *)(ram + si->modlist_paddr);
	cr_assert_eq(mod->paddr, 0x3000000);
	cr_assert_eq(mod->size, 0x4000);
	cr_assert_eq(mod->cmdline_paddr, 0);
	struct pvh_memmap *mm = (struct pvh_memmap *)(ram + si->memmap_paddr);
	cr_assert_eq(mm[0].addr, 0);
	cr_assert_eq(mm[0].size, 0x9fc00);
	cr_assert_eq(mm[0].type, 1);
	cr_assert_eq(mm[1].addr, 0x9fc00);
	cr_assert_eq(mm[1].type, 2);
	cr_assert_eq(mm[2].addr, 0x100000);
	cr_assert_eq(mm[2].size, GUEST_SIZE - 0x100000);
	cr_assert_eq(mm[2].type, 1);
	/* No zero page for PVH kernels. */
	cr_assert_eq(((struct boot_params *)(ram + X86_ZERO_PAGE_ADDR))->hdr.boot_flag, 0);
}

Test(boot, pvh_without_initrd_has_no_modules)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	struct cmdline cl;
	k.protocol = X86_BOOT_PVH;
	cmdline_init(&cl);
	cr_assert_eq(x86_boot_tables_write(&gm, &k, &cl, &rd, &err), 0, "%s", err.msg);
	struct pvh_start_info *si = (struct pvh_start_info *)(ram + X86_PVH_INFO_ADDR);
	cr_assert_eq(si->magic, 0x336ec578);
	cr_assert_eq(si->nr_modules, 0);
	cr_assert_eq(si->modlist_paddr, 0);
	cr_assert_str_eq((char *)ram + X86_CMDLINE_ADDR, "");
}

Test(boot, command_line_too_long_for_kernel)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	struct cmdline cl;
	k.cmdline_max = 16;
	cmdline_init(&cl);
	cmdline_append(&cl, "console=ttyS0 quiet");
	cr_assert_eq(x86_boot_tables_write(&gm, &k, &cl, &rd, &err), -E2BIG);
	cr_assert_str_eq(err.msg, "kernel command line is 19 bytes; this kernel takes at most 15");
	cr_assert_eq(ram[X86_CMDLINE_ADDR], 0, "nothing written");
}

Test(boot, command_line_longer_than_a_page)
{
	static char item[5000];
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	struct cmdline cl;
	memset(item, 'x', sizeof(item) - 1);
	cmdline_init(&cl);
	cmdline_append(&cl, "console=ttyS0");
	cmdline_append(&cl, "%s", item);
	cr_assert_eq(x86_boot_tables_write(&gm, &k, &cl, &rd, &err), -E2BIG);
	cr_assert_str_eq(err.msg, "kernel command line is 5013 bytes; this kernel takes at most "
			 "4095");
}

Test(boot, guest_too_small_for_command_line)
{
	static uint8_t small[0x10000];
	struct guest_mem g;
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	struct cmdline cl;
	gm_init_buffer(&g, 0, small, sizeof(small));
	cmdline_init(&cl);
	cmdline_append(&cl, "quiet");
	cr_assert_eq(x86_boot_tables_write(&g, &k, &cl, &rd, &err), -ENOMEM);
	cr_assert_str_eq(err.msg, "guest memory too small for the command line");
}

/* ---- initrd ---- */

static int initrd_fd(size_t size, uint8_t fill)
{
	static uint8_t buf[0x3000];
	int fd = memfd_create("initrd", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	memset(buf, fill, sizeof(buf));
	if (size <= sizeof(buf))
		cr_assert_eq(write(fd, buf, size), (ssize_t)size);
	else
		cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

Test(initrd, placed_page_aligned_at_top_of_ram)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	int fd = initrd_fd(0x1800, 0x5c);
	cr_assert_eq(x86_initrd_load(fd, &gm, &k, &rd, &err), 0, "%s", err.msg);
	close(fd);
	cr_assert_eq(rd.addr, GUEST_SIZE - 0x2000);
	cr_assert_eq(rd.size, 0x1800);
	for (size_t i = 0; i < 0x1800; i++)
		cr_assert_eq(ram[rd.addr + i], 0x5c);
}

Test(initrd, respects_initrd_addr_max)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	int fd = initrd_fd(0x1800, 0x5c);
	k.initrd_max = 0x2000000;	/* initrd_addr_max 0x1ffffff */
	cr_assert_eq(x86_initrd_load(fd, &gm, &k, &rd, &err), 0, "%s", err.msg);
	close(fd);
	cr_assert_eq(rd.addr, 0x1ffe000);
	cr_assert_leq(rd.addr + rd.size, 0x2000000);
	cr_assert_eq(ram[0x1ffe000], 0x5c);
}

Test(initrd, below_3gib_on_large_guest)
{
	struct guest_mem big;
	const struct gm_region layout[] = {
		{ .gpa = 0, .size = X86_LOWMEM_END },
		{ .gpa = X86_HIGHMEM_START, .size = 16ULL << 20 },
	};
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	cr_assert_eq(gm_create(&big, layout, 2, GM_BACKING_ANON), 0);
	int fd = initrd_fd(0x2000, 0x77);
	cr_assert_eq(x86_initrd_load(fd, &big, &k, &rd, &err), 0, "%s", err.msg);
	close(fd);
	cr_assert_eq(rd.addr, X86_LOWMEM_END - 0x2000);
	cr_assert_eq(*(uint8_t *)gm_ptr(&big, rd.addr + 0x1fff, 1), 0x77);
	gm_destroy(&big);
}

Test(initrd, too_big)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	int fd = initrd_fd(GUEST_SIZE - 0x1400000 + 1, 0);	/* one byte more than fits */
	cr_assert_eq(x86_initrd_load(fd, &gm, &k, &rd, &err), -ENOMEM);
	cr_assert_str_eq(err.msg, "a 44 MiB initrd does not fit in guest memory above the kernel");
	cr_assert_eq(rd.size, 0);
	close(fd);
	fd = initrd_fd(GUEST_SIZE + 0x1000, 0);
	cr_assert_eq(x86_initrd_load(fd, &gm, &k, &rd, &err), -ENOMEM);
	cr_assert_str_eq(err.msg, "a 64 MiB initrd does not fit in guest memory above the kernel");
	close(fd);
	/* Exactly the room above the kernel fits. */
	fd = initrd_fd(GUEST_SIZE - 0x1400000, 0);
	cr_assert_eq(x86_initrd_load(fd, &gm, &k, &rd, &err), 0, "%s", err.msg);
	cr_assert_eq(rd.addr, 0x1400000);
	close(fd);
}

Test(initrd, empty)
{
	struct x86_kernel k = elf_kernel();
	struct x86_initrd rd = { 0 };
	int fd = initrd_fd(0, 0);
	cr_assert_eq(x86_initrd_load(fd, &gm, &k, &rd, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "initrd is empty");
	close(fd);
}

/* ---- MP table ---- */

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* Parse the table at the EBDA the way Linux's mpparse does, checking every entry. */
static void check_mptable(unsigned int n)
{
	const uint8_t *mpf = ram + X86_EBDA_ADDR;
	cr_assert_eq(memcmp(mpf, "_MP_", 4), 0);
	cr_assert_eq(mpf[8], 1, "length in 16-byte units");
	cr_assert_eq(mpf[9], 4, "MP spec 1.4");
	cr_assert_eq(sum(mpf, 16), 0, "floating pointer checksum");
	cr_assert_eq(mpf[11], 0, "feature byte 1: a configuration table follows");

	uint32_t phys = rd32(mpf + 4);
	cr_assert_eq(phys, X86_EBDA_ADDR + 16);
	const uint8_t *t = ram + phys;
	uint16_t len = rd16(t + 4);
	cr_assert_eq(memcmp(t, "PCMP", 4), 0);
	cr_assert_eq(t[6], 4);
	cr_assert_eq(sum(t, len), 0, "table checksum");
	cr_assert_eq(rd32(t + 36), 0xfee00000, "local APIC address");
	cr_assert_leq(phys + len, X86_EBDA_END);

	unsigned int cpus = 0, buses = 0, ioapics = 0, ints = 0, lints = 0, count = 0;
	uint8_t ioapic_id = 0xff;
	const uint8_t *e = t + 44, *end = t + len;
	while (e < end) {
		count++;
		switch (e[0]) {
		case 0:	/* processor */
			cr_assert_eq(e[1], cpus, "APIC id = index");
			cr_assert(e[3] & 1, "CPU %u enabled", cpus);
			cr_assert_eq(!!(e[3] & 2), cpus == 0, "only CPU 0 is the BSP");
			cpus++;
			e += 20;
			break;
		case 1:	/* bus */
			cr_assert_eq(memcmp(e + 2, "ISA   ", 6), 0);
			cr_assert_eq(e[1], 0);
			buses++;
			e += 8;
			break;
		case 2:	/* IOAPIC */
			ioapic_id = e[1];
			cr_assert(e[3] & 1, "IOAPIC enabled");
			cr_assert_eq(rd32(e + 4), 0xfec00000);
			ioapics++;
			e += 8;
			break;
		case 3:	/* IO interrupt */
			cr_assert_eq(e[1], 0, "INT");
			cr_assert_eq(e[4], 0, "from the ISA bus");
			cr_assert_eq(e[5], ints, "source IRQ");
			cr_assert_eq(e[6], ioapic_id, "to the IOAPIC");
			cr_assert_eq(e[7], ints, "pin = IRQ");
			ints++;
			e += 8;
			break;
		case 4:	/* local interrupt */
			cr_assert_eq(e[1], lints == 0 ? 3 : 1, "LINT0 ExtINT, LINT1 NMI");
			cr_assert_eq(e[6], 0xff, "every local APIC");
			cr_assert_eq(e[7], lints, "LINT pin");
			lints++;
			e += 8;
			break;
		default:
			cr_assert_fail("unknown MP entry type %u", e[0]);
		}
	}
	cr_assert_eq(e, end, "entries end exactly at the table length");
	cr_assert_eq(cpus, n);
	cr_assert_eq(buses, 1);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(ioapic_id, n);
	cr_assert_eq(x86_mptable_ioapic_id(n), n);
	cr_assert_eq(ints, 24);
	cr_assert_eq(lints, 2);
	cr_assert_eq(rd16(t + 34), count, "entry count");
}

Test(mptable, one_cpu)
{
	cr_assert_eq(x86_mptable_write(&gm, 1), 0);
	check_mptable(1);
}

Test(mptable, four_cpus)
{
	cr_assert_eq(x86_mptable_write(&gm, 4), 0);
	check_mptable(4);
}

Test(mptable, thirty_two_cpus_fit_below_640k)
{
	memset(ram + X86_EBDA_END, 0xab, 0x100);
	cr_assert_eq(x86_mptable_write(&gm, 32), 0);
	check_mptable(32);
	cr_assert_eq(ram[X86_EBDA_END], 0xab, "nothing written past the EBDA");
}

Test(mptable, cpu_count_refused)
{
	cr_assert_eq(x86_mptable_write(&gm, 0), -EINVAL);
	cr_assert_eq(x86_mptable_write(&gm, 33), -EINVAL);
	cr_assert_neq(memcmp(ram + X86_EBDA_ADDR, "_MP_", 4), 0, "nothing written");
}

Test(mptable, guest_too_small)
{
	static uint8_t small[0x80000];
	struct guest_mem g;
	gm_init_buffer(&g, 0, small, sizeof(small));
	cr_assert_lt(x86_mptable_write(&g, 2), 0);
}
