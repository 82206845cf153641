/* Booted through the PVH entry: prints what hvm_start_info carries. */
#include "lib/guest.h"

struct hvm_start_info {
	u32 magic, version, flags, nr_modules;
	u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	u32 memmap_entries, reserved;
};

void pvh_main(const struct hvm_start_info *si);
void pvh_main(const struct hvm_start_info *si)
{
	puts("pvh: magic ");
	put_hex(si->magic, 8);
	puts(" version ");
	put_dec(si->version);
	puts("\npvh: cmdline: ");
	puts((const char *)si->cmdline_paddr);
	puts("\n");
	const u64 *mm = (const u64 *)si->memmap_paddr;
	for (u32 i = 0; i < si->memmap_entries; i++, mm += 3) {
		puts("pvh: e820: ");
		put_hex(mm[0], 16);
		puts(" ");
		put_hex(mm[1], 16);
		puts((u32)mm[2] == 1 ? " ram\n" : " reserved\n");
	}
	puts("pvh: modules ");
	put_dec(si->nr_modules);
	puts("\n");
	if (si->nr_modules) {
		const u64 *mod = (const u64 *)si->modlist_paddr;
		const char *p = (const char *)mod[0];
		puts("pvh: module 0: ");
		put_dec(mod[1]);
		puts(" bytes: ");
		for (u64 i = 0; i < mod[1] && i < 32 && p[i] != '\n'; i++)
			putc(p[i]);
		puts("\n");
	}
}

void guest_main(u8 *bp)
{
	(void)bp;
	puts("pvh: entered through the 64-bit boot protocol instead\n");
}
