/* Loads an uncompressed ELF vmlinux; finds its PVH entry note when it has one. */
#include "kernel.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "io.h"
#include "layout.h"

#define ELF_MAX_PHDRS 64
#define ELF_MAX_NOTES_SIZE (64 * 1024)
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* Scan one PT_NOTE segment for Xen's PHYS32_ENTRY note; 0 when absent. */
static int find_pvh_entry(int fd, const Elf64_Phdr *ph, uint64_t *entry, struct error *err)
{
	uint8_t buf[ELF_MAX_NOTES_SIZE];
	uint64_t size = ph->p_filesz;

	if (size > sizeof(buf))
		size = sizeof(buf);	/* the Xen notes come first; the rest is not needed */
	if (size == 0)
		return 0;
	if (pread_all(fd, buf, size, (off_t)ph->p_offset) < 0)
		return error_set(err, -EINVAL, "truncated ELF note segment");

	for (uint64_t off = 0; off + sizeof(Elf64_Nhdr) <= size;) {
		Elf64_Nhdr nh;
		memcpy(&nh, buf + off, sizeof(nh));
		uint64_t name_off = off + sizeof(nh);
		uint64_t desc_off = name_off + ALIGN_UP((uint64_t)nh.n_namesz, 4);
		uint64_t next = desc_off + ALIGN_UP((uint64_t)nh.n_descsz, 4);
		if (next > size)
			break;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(buf + name_off, "Xen", 4) == 0) {
			uint32_t e32 = 0;
			if (nh.n_descsz < 4)
				return error_set(err, -EINVAL, "malformed PVH entry note");
			memcpy(&e32, buf + desc_off, 4);
			*entry = e32;
			return 0;
		}
		off = next;
	}
	return 0;
}

int x86_elf_load(int fd, uint64_t file_size, struct guest_mem *gm, struct x86_kernel *k,
		 struct error *err)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	uint64_t pvh_entry = 0, lo = UINT64_MAX, hi = 0;
	bool entry_loaded = false, pvh_loaded = false;
	int ret;

	memset(k, 0, sizeof(*k));
	if (pread_all(fd, &eh, sizeof(eh), 0) < 0)
		return error_set(err, -EINVAL, "truncated ELF header");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return error_set(err, -EINVAL, "not a 64-bit little-endian x86-64 ELF file");
	if (eh.e_type != ET_EXEC)
		return error_set(err, -EINVAL, "ELF file is not an executable (type %u)",
				 eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > ELF_MAX_PHDRS)
		return error_set(err, -EINVAL, "ELF program header table is malformed "
				 "(%u entries of %u bytes)", eh.e_phnum, eh.e_phentsize);
	size_t ph_bytes = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (eh.e_phoff > file_size || ph_bytes > file_size - eh.e_phoff ||
	    pread_all(fd, ph, ph_bytes, (off_t)eh.e_phoff) < 0)
		return error_set(err, -EINVAL, "truncated ELF program header table");

	/* Validate every loadable segment before writing any of them. */
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		uint64_t end;
		if (p->p_type == PT_NOTE) {
			ret = find_pvh_entry(fd, p, &pvh_entry, err);
			if (ret < 0)
				return ret;
			continue;
		}
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (p->p_filesz > p->p_memsz || p->p_offset > file_size ||
		    p->p_filesz > file_size - p->p_offset)
			return error_set(err, -EINVAL, "ELF segment %u lies outside the file "
					 "(truncated image?)", i);
		if (ADD_OVERFLOWS(p->p_paddr, p->p_memsz, &end) || p->p_paddr < X86_HIMEM_START ||
		    !gm_contains(gm, p->p_paddr, p->p_memsz))
			return error_set(err, -ENOMEM, "ELF segment %u (0x%llx-0x%llx) does not "
					 "fit in guest memory", i, (unsigned long long)p->p_paddr,
					 (unsigned long long)end);
		for (unsigned int j = 0; j < i; j++) {
			const Elf64_Phdr *q = &ph[j];
			if (q->p_type != PT_LOAD || q->p_memsz == 0)
				continue;
			if (p->p_paddr < q->p_paddr + q->p_memsz && q->p_paddr < end)
				return error_set(err, -EINVAL, "ELF segments %u and %u overlap", j,
						 i);
		}
		lo = MIN(lo, p->p_paddr);
		hi = MAX(hi, end);
		if (eh.e_entry >= p->p_paddr && eh.e_entry < end)
			entry_loaded = true;
	}
	/* Notes come first or last in the table: check the PVH entry once all are known. */
	for (unsigned int i = 0; i < eh.e_phnum && pvh_entry; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_memsz && pvh_entry >= ph[i].p_paddr &&
		    pvh_entry - ph[i].p_paddr < ph[i].p_memsz)
			pvh_loaded = true;
	if (hi == 0)
		return error_set(err, -EINVAL, "ELF file has no loadable segment");

	/* A layout without memory (gm_init_layout): checked, nothing to copy. */
	for (unsigned int i = 0; i < eh.e_phnum && gm_is_mapped(gm); i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		uint8_t *dst = gm_ptr(gm, p->p_paddr, p->p_memsz);
		ret = pread_all(fd, dst, p->p_filesz, (off_t)p->p_offset);
		if (ret < 0)
			return error_set(err, ret, "reading ELF segment %u: %s", i, strerror(-ret));
		memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
	}

	k->start = lo;
	k->end = hi;
	k->cmdline_max = 4096;
	k->initrd_max = UINT64_MAX;
	if (pvh_entry) {
		if (!pvh_loaded)
			return error_set(err, -EINVAL, "PVH entry point 0x%llx is outside the "
					 "loaded kernel", (unsigned long long)pvh_entry);
		k->protocol = X86_BOOT_PVH;
		k->entry = pvh_entry;
		return 0;
	}
	if (!entry_loaded)
		return error_set(err, -EINVAL, "ELF entry point 0x%llx is outside the loaded "
				 "segments", (unsigned long long)eh.e_entry);
	k->protocol = X86_BOOT_LINUX64;
	k->entry = eh.e_entry;
	return 0;
}
