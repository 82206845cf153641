/* ELF vmlinux (with PVH note) and bzImage loaders on crafted images, valid and broken. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernel.h"

#define GUEST_SIZE (64ULL << 20)
#define IMG_MAX 0x10000

static uint8_t *ram;
static struct guest_mem gm;
static struct x86_kernel k;
static struct error err;
static uint8_t img[IMG_MAX] __attribute__((aligned(8)));

static void setup(void)
{
	ram = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_NORESERVE, -1, 0);
	cr_assert_neq(ram, MAP_FAILED);
	gm_init_buffer(&gm, 0, ram, GUEST_SIZE);
	memset(img, 0, sizeof(img));
	memset(&err, 0, sizeof(err));
	memset(&k, 0xa5, sizeof(k));
}

static void teardown(void)
{
	munmap(ram, GUEST_SIZE);
}

TestSuite(elf, .init = setup, .fini = teardown);
TestSuite(bzimage, .init = setup, .fini = teardown);
TestSuite(kernel, .init = setup, .fini = teardown);

/* Load the first `len` bytes of img through the magic-sniffing entry point. */
static int load(size_t len)
{
	int fd = memfd_create("kernel", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, img, len), (ssize_t)len);
	int ret = x86_kernel_load(fd, &gm, &k, &err);
	close(fd);
	return ret;
}

static void expect_error(size_t len, int code, const char *msg)
{
	int ret = load(len);
	cr_assert_eq(ret, code, "ret %d (\"%s\"), expected %d", ret, err.msg, code);
	cr_assert_eq(err.code, code);
	cr_assert_str_eq(err.msg, msg, "\n got  \"%s\"\n want \"%s\"", err.msg, msg);
}

/* ---- ELF ---- */

#define PH_OFF 64

static Elf64_Ehdr *ehdr(void)
{
	return (Elf64_Ehdr *)img;
}

static Elf64_Phdr *phdr(unsigned int i)
{
	return (Elf64_Phdr *)(img + PH_OFF + i * sizeof(Elf64_Phdr));
}

static void elf_header(uint16_t phnum, uint64_t entry)
{
	Elf64_Ehdr *e = ehdr();
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_entry = entry;
	e->e_phoff = PH_OFF;
	e->e_ehsize = sizeof(Elf64_Ehdr);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_phnum = phnum;
}

static void load_seg(unsigned int i, uint64_t offset, uint64_t paddr, uint64_t filesz,
		     uint64_t memsz)
{
	*phdr(i) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = offset,
				 .p_vaddr = 0xffffffff80000000ULL + paddr, .p_paddr = paddr,
				 .p_filesz = filesz, .p_memsz = memsz, .p_align = 0x1000 };
}

/* Two segments: text at 1 MiB, data + bss at 2 MiB; their file bytes are patterns. */
static size_t valid_elf(void)
{
	elf_header(2, 0x100000);
	load_seg(0, 0x1000, 0x100000, 0x800, 0x800);
	load_seg(1, 0x2000, 0x200000, 0x100, 0x3000);
	for (int i = 0; i < 0x800; i++)
		img[0x1000 + i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < 0x100; i++)
		img[0x2000 + i] = (uint8_t)(0xff - i);
	return 0x2100;
}

Test(elf, valid_segments_land_in_guest_memory)
{
	size_t len = valid_elf();
	memset(ram + 0x200000, 0xcc, 0x4000);	/* stale bytes where the bss goes */
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(k.protocol, X86_BOOT_LINUX64);
	cr_assert_eq(k.bzimage, false);
	cr_assert_eq(k.entry, 0x100000);
	cr_assert_eq(k.start, 0x100000);
	cr_assert_eq(k.end, 0x203000);
	cr_assert_eq(k.cmdline_max, 4096);
	cr_assert_arr_eq(ram + 0x100000, img + 0x1000, 0x800);
	cr_assert_arr_eq(ram + 0x200000, img + 0x2000, 0x100);
	for (int i = 0x100; i < 0x3000; i++)
		cr_assert_eq(ram[0x200000 + i], 0, "bss byte 0x%x not zeroed", i);
	cr_assert_eq(ram[0x203000], 0xcc, "wrote past the end of the bss");
}

Test(elf, non_load_and_empty_segments_ignored)
{
	size_t len = valid_elf();
	elf_header(4, 0x100000);
	/* A PT_LOAD with memsz 0 at a bogus address, and a PT_GNU_STACK. */
	load_seg(2, 0, 0x10, 0, 0);
	*phdr(3) = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_paddr = 0xdead };
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(k.start, 0x100000);
	cr_assert_eq(k.end, 0x203000);
}

Test(elf, truncated_header)
{
	valid_elf();
	expect_error(40, -EINVAL, "truncated ELF header");
}

Test(elf, truncated_program_header_table)
{
	valid_elf();
	expect_error(PH_OFF + sizeof(Elf64_Phdr) + 8, -EINVAL,
		     "truncated ELF program header table");
}

Test(elf, program_header_table_past_end)
{
	size_t len = valid_elf();
	ehdr()->e_phoff = len + 0x1000;
	expect_error(len, -EINVAL, "truncated ELF program header table");
}

Test(elf, malformed_program_header_table)
{
	size_t len = valid_elf();
	ehdr()->e_phnum = 0;
	expect_error(len, -EINVAL, "ELF program header table is malformed (0 entries of 56 bytes)");
	ehdr()->e_phnum = 2;
	ehdr()->e_phentsize = 32;
	expect_error(len, -EINVAL, "ELF program header table is malformed (2 entries of 32 bytes)");
	ehdr()->e_phentsize = sizeof(Elf64_Phdr);
	ehdr()->e_phnum = 65;
	expect_error(len, -EINVAL,
		     "ELF program header table is malformed (65 entries of 56 bytes)");
}

Test(elf, segment_beyond_file_end)
{
	size_t len = valid_elf();
	expect_error(len - 0x10, -EINVAL, "ELF segment 1 lies outside the file (truncated image?)");
	phdr(0)->p_offset = UINT64_MAX - 0x100;
	expect_error(len, -EINVAL, "ELF segment 0 lies outside the file (truncated image?)");
}

Test(elf, filesz_larger_than_memsz)
{
	size_t len = valid_elf();
	phdr(1)->p_memsz = 0x80;
	expect_error(len, -EINVAL, "ELF segment 1 lies outside the file (truncated image?)");
}

Test(elf, overlapping_segments)
{
	size_t len = valid_elf();
	phdr(1)->p_paddr = 0x100400;
	expect_error(len, -EINVAL, "ELF segments 0 and 1 overlap");
	/* Overlap where the later segment starts below the earlier one. */
	phdr(1)->p_paddr = 0x101000;
	phdr(0)->p_paddr = 0x102000;
	expect_error(len, -EINVAL, "ELF segments 0 and 1 overlap");
	/* Touching is not overlapping. */
	phdr(0)->p_paddr = 0x100000;
	phdr(1)->p_paddr = 0x100800;
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(k.end, 0x103800);
}

Test(elf, segment_outside_guest_memory)
{
	size_t len = valid_elf();
	phdr(1)->p_paddr = GUEST_SIZE - 0x1000;
	memset(ram + 0x100000, 0xcc, 0x800);
	expect_error(len, -ENOMEM, "ELF segment 1 (0x3fff000-0x4002000) does not fit in guest "
		     "memory");
	/* Validation comes before loading: segment 0 was not written either. */
	cr_assert_eq(ram[0x100000], 0xcc);
	phdr(1)->p_paddr = UINT64_MAX - 0x1000;
	expect_error(len, -ENOMEM, "ELF segment 1 (0xffffffffffffefff-0x1fff) does not fit in "
		     "guest memory");
}

Test(elf, segment_below_1mib)
{
	size_t len = valid_elf();
	phdr(0)->p_paddr = 0x8000;
	ehdr()->e_entry = 0x8000;
	expect_error(len, -ENOMEM, "ELF segment 0 (0x8000-0x8800) does not fit in guest memory");
}

Test(elf, entry_outside_segments)
{
	size_t len = valid_elf();
	ehdr()->e_entry = 0x180000;
	expect_error(len, -EINVAL, "ELF entry point 0x180000 is outside the loaded segments");
	ehdr()->e_entry = 0xffffffff81000000ULL;
	expect_error(len, -EINVAL,
		     "ELF entry point 0xffffffff81000000 is outside the loaded segments");
}

Test(elf, not_an_executable)
{
	size_t len = valid_elf();
	ehdr()->e_type = ET_DYN;
	expect_error(len, -EINVAL, "ELF file is not an executable (type 3)");
	ehdr()->e_type = ET_REL;
	expect_error(len, -EINVAL, "ELF file is not an executable (type 1)");
}

Test(elf, wrong_machine_or_class)
{
	size_t len = valid_elf();
	ehdr()->e_machine = EM_AARCH64;
	expect_error(len, -EINVAL, "not a 64-bit little-endian x86-64 ELF file");
	ehdr()->e_machine = EM_X86_64;
	ehdr()->e_ident[EI_CLASS] = ELFCLASS32;
	expect_error(len, -EINVAL, "not a 64-bit little-endian x86-64 ELF file");
	ehdr()->e_ident[EI_CLASS] = ELFCLASS64;
	ehdr()->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_error(len, -EINVAL, "not a 64-bit little-endian x86-64 ELF file");
}

Test(elf, no_loadable_segment)
{
	size_t len = valid_elf();
	phdr(0)->p_type = PT_NULL;
	phdr(1)->p_type = PT_NULL;
	expect_error(len, -EINVAL, "ELF file has no loadable segment");
}

/* Append one ELF note at `off`; returns the offset after it. */
static size_t put_note(size_t off, const char *name, uint32_t type, const void *desc,
		       uint32_t descsz)
{
	Elf64_Nhdr nh = { .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz,
			  .n_type = type };
	memcpy(img + off, &nh, sizeof(nh));
	off += sizeof(nh);
	memcpy(img + off, name, nh.n_namesz);
	off += (nh.n_namesz + 3) & ~3u;
	memcpy(img + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

/* valid_elf plus a PT_NOTE at 0x3000: a GNU build id, then Xen notes. */
static size_t pvh_elf(uint32_t pvh_entry)
{
	static const uint8_t build_id[20] = { 1, 2, 3 };
	uint64_t virt_base = 0xffffffff80000000ULL;
	valid_elf();
	elf_header(3, 0x100000);
	size_t end = put_note(0x3000, "GNU", NT_GNU_BUILD_ID, build_id, sizeof(build_id));
	end = put_note(end, "Xen", 3, &virt_base, sizeof(virt_base));	/* VIRT_BASE */
	end = put_note(end, "Xen", 18, &pvh_entry, sizeof(pvh_entry));	/* PHYS32_ENTRY */
	*phdr(2) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x3000,
				 .p_filesz = end - 0x3000, .p_memsz = end - 0x3000 };
	return end;
}

Test(elf, pvh_note_selects_pvh_entry)
{
	size_t len = pvh_elf(0x100040);
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(k.protocol, X86_BOOT_PVH);
	cr_assert_eq(k.entry, 0x100040);
	cr_assert_eq(k.start, 0x100000);
	cr_assert_eq(k.end, 0x203000);
	cr_assert_arr_eq(ram + 0x100000, img + 0x1000, 0x800);
}

Test(elf, other_notes_keep_linux_protocol)
{
	size_t len = pvh_elf(0x100040);
	/* Make the PHYS32_ENTRY note some other Xen note type. */
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(img + len - 4 - 4 - sizeof(Elf64_Nhdr));
	cr_assert_eq(nh->n_type, 18);
	nh->n_type = 17;
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(k.protocol, X86_BOOT_LINUX64);
	cr_assert_eq(k.entry, 0x100000);
}

Test(elf, pvh_entry_outside_kernel)
{
	size_t len = pvh_elf(0x50000);
	expect_error(len, -EINVAL, "PVH entry point 0x50000 is outside the loaded kernel");
}

Test(elf, pvh_note_truncated)
{
	size_t len = pvh_elf(0x100040);
	expect_error(len - 8, -EINVAL, "truncated ELF note segment");
}

/* ---- bzImage ---- */

#define SETUP_SECTS 3
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512)
#define PAYLOAD 0x1000

static struct setup_header *hdr(void)
{
	return (struct setup_header *)(img + 0x1f1);
}

static size_t valid_bzimage(void)
{
	struct setup_header *h = hdr();
	h->setup_sects = SETUP_SECTS;
	h->syssize = PAYLOAD / 16;
	h->boot_flag = 0xaa55;
	img[0x200] = 0xeb;			/* jmp short to the end of the header */
	img[0x201] = 0x26c - 0x202;
	memcpy(&h->header, "HdrS", 4);
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64;
	h->cmdline_size = 2047;
	h->pref_address = 0x1000000;
	h->init_size = 0x400000;
	for (int i = 0; i < PAYLOAD; i++)
		img[SETUP_SIZE + i] = (uint8_t)(i * 13 + 5);
	return SETUP_SIZE + PAYLOAD;
}

Test(bzimage, valid_loads_at_preferred_address)
{
	size_t len = valid_bzimage();
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert(k.bzimage);
	cr_assert_eq(k.protocol, X86_BOOT_LINUX64);
	cr_assert_eq(k.start, 0x1000000);
	cr_assert_eq(k.entry, 0x1000200, "64-bit entry is load + 0x200");
	cr_assert_eq(k.end, 0x1000000 + 0x400000, "the kernel reserves init_size");
	cr_assert_eq(k.cmdline_max, 2048);
	cr_assert_eq(k.initrd_max, 0x80000000ULL);
	cr_assert_eq(k.hdr.code32_start, 0x1000000);
	cr_assert_eq(k.hdr.setup_sects, SETUP_SECTS);
	cr_assert_eq(k.hdr.version, 0x020f);
	cr_assert_eq(k.hdr.header, 0x53726448);
	cr_assert_arr_eq(ram + 0x1000000, img + SETUP_SIZE, PAYLOAD, "payload not copied");
	cr_assert_eq(ram[0x1000000 + PAYLOAD], 0, "setup code must not be loaded");
}

Test(bzimage, relocated_when_preferred_address_does_not_fit)
{
	size_t len = valid_bzimage();
	hdr()->pref_address = GUEST_SIZE - 0x100000;
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(k.start, 0x200000, "1 MiB rounded up to kernel_alignment");
	cr_assert_eq(k.entry, 0x200200);
	cr_assert_eq(k.hdr.code32_start, 0x200000);
	cr_assert_arr_eq(ram + 0x200000, img + SETUP_SIZE, PAYLOAD);
}

Test(bzimage, not_relocatable_and_does_not_fit)
{
	size_t len = valid_bzimage();
	hdr()->pref_address = GUEST_SIZE - 0x100000;
	hdr()->relocatable_kernel = 0;
	expect_error(len, -ENOMEM, "bzImage (4 MiB at 0x3f00000) does not fit in guest memory");
}

Test(bzimage, too_big_for_memory)
{
	size_t len = valid_bzimage();
	hdr()->init_size = 0x8000000;
	expect_error(len, -ENOMEM, "bzImage needs 128 MiB from 0x200000, more than guest memory "
		     "has");
}

Test(bzimage, old_protocol)
{
	size_t len = valid_bzimage();
	hdr()->version = 0x020b;
	expect_error(len, -EINVAL, "bzImage boot protocol 2.11 is too old (kiln needs 2.12 or "
		     "later)");
}

Test(bzimage, no_64bit_entry)
{
	size_t len = valid_bzimage();
	hdr()->xloadflags = 0;
	expect_error(len, -EINVAL, "bzImage has no 64-bit entry point");
}

Test(bzimage, not_loaded_high)
{
	size_t len = valid_bzimage();
	hdr()->loadflags = 0;
	expect_error(len, -EINVAL, "bzImage is not a protected-mode (high) kernel");
}

Test(bzimage, missing_boot_flag)
{
	size_t len = valid_bzimage();
	hdr()->boot_flag = 0;
	expect_error(len, -EINVAL, "not a bzImage: setup header magic missing");
}

Test(bzimage, truncated_payload)
{
	size_t len = valid_bzimage();
	expect_error(len - 0x10, -EINVAL, "truncated bzImage: payload is 4080 bytes, header says "
		     "4096");
}

Test(bzimage, no_payload)
{
	valid_bzimage();
	expect_error(SETUP_SIZE, -EINVAL, "truncated bzImage: no payload after 2048 bytes of "
		     "setup");
}

Test(bzimage, truncated_setup_header)
{
	valid_bzimage();
	expect_error(0x300, -EINVAL, "truncated bzImage: no setup header");
}

Test(bzimage, bad_alignment)
{
	size_t len = valid_bzimage();
	hdr()->kernel_alignment = 0x300000;
	expect_error(len, -EINVAL, "bzImage kernel_alignment 0x300000 is not a power of two");
}

Test(bzimage, default_command_line_size)
{
	size_t len = valid_bzimage();
	hdr()->cmdline_size = 0;
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(k.cmdline_max, 256);
}

/* ---- dispatch ---- */

Test(kernel, garbage_file)
{
	for (size_t i = 0; i < 0x1000; i++)
		img[i] = (uint8_t)(i * 31 + 7);
	expect_error(0x1000, -EINVAL, "not a kernel kiln can boot (neither an ELF vmlinux nor a "
		     "bzImage)");
}

Test(kernel, empty_or_tiny_file)
{
	expect_error(0, -EINVAL, "file is empty or too short to be a kernel");
	memcpy(img, "\177EL", 3);
	expect_error(3, -EINVAL, "file is empty or too short to be a kernel");
}

/* ---- checks against a layout without memory (before guest memory exists) ---- */

/* Load img through a layout of the same guest: the same verdict, nothing copied. */
static int check_layout(size_t len, struct x86_kernel *out)
{
	struct guest_mem layout;
	gm_init_layout(&layout, gm.regions, gm.nr);
	cr_assert_not(gm_is_mapped(&layout));
	cr_assert_null(gm_ptr(&layout, 0x100000, 1), "a layout has no memory to point at");
	cr_assert(gm_contains(&layout, 0x100000, 1));
	int fd = memfd_create("kernel", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, img, len), (ssize_t)len);
	int ret = x86_kernel_load(fd, &layout, out, &err);
	close(fd);
	return ret;
}

Test(kernel, layout_check_of_elf_agrees_with_the_load_and_copies_nothing)
{
	struct x86_kernel checked;
	size_t len = valid_elf();
	memset(ram + 0x100000, 0xcc, 0x800);
	cr_assert_eq(check_layout(len, &checked), 0, "%s", err.msg);
	cr_assert_eq(ram[0x100000], 0xcc, "the check copied into guest memory");
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(checked.entry, k.entry);
	cr_assert_eq(checked.start, k.start);
	cr_assert_eq(checked.end, k.end);
	cr_assert_eq(checked.protocol, k.protocol);
}

Test(kernel, layout_check_of_bzimage_agrees_with_the_load_and_copies_nothing)
{
	struct x86_kernel checked;
	size_t len = valid_bzimage();
	cr_assert_eq(check_layout(len, &checked), 0, "%s", err.msg);
	cr_assert_eq(ram[0x1000000], 0, "the check copied into guest memory");
	cr_assert_eq(load(len), 0, "%s", err.msg);
	cr_assert_eq(checked.start, k.start);
	cr_assert_eq(checked.end, k.end);
	cr_assert_eq(checked.entry, k.entry);
}

Test(kernel, layout_check_refuses_what_the_load_refuses)
{
	struct x86_kernel checked;
	size_t len = valid_bzimage();
	hdr()->init_size = 0x8000000;
	cr_assert_eq(check_layout(len, &checked), -ENOMEM);
	cr_assert_str_eq(err.msg, "bzImage needs 128 MiB from 0x200000, more than guest memory "
			 "has");
	memset(img, 0x5a, 4096);
	cr_assert_eq(check_layout(4096, &checked), -EINVAL);
	cr_assert_str_eq(err.msg, "not a kernel kiln can boot (neither an ELF vmlinux nor a "
			 "bzImage)");
}
