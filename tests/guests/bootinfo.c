/* Prints the command line and the e820 memory map kiln passed in boot_params. */
#include "lib/guest.h"

void guest_main(u8 *bp)
{
	u32 cmdline = *(u32 *)(bp + BP_CMD_LINE_PTR);
	u8 n = bp[BP_E820_ENTRIES];

	puts("cmdline: ");
	puts((const char *)(u64)cmdline);
	puts("\n");
	for (u8 i = 0; i < n; i++) {
		const u8 *e = bp + BP_E820_TABLE + i * 20;
		puts("e820: ");
		put_hex(*(const u64 *)e, 16);
		puts(" ");
		put_hex(*(const u64 *)(e + 8), 16);
		puts(*(const u32 *)(e + 16) == 1 ? " ram\n" : " reserved\n");
	}
	u32 rd = *(u32 *)(bp + BP_RAMDISK_IMAGE), rd_size = *(u32 *)(bp + BP_RAMDISK_SIZE);
	if (rd_size) {
		const char *p = (const char *)(u64)rd;
		puts("initrd: ");
		put_dec(rd_size);
		puts(" bytes: ");
		for (u32 i = 0; i < rd_size && i < 32 && p[i] != '\n'; i++)
			putc(p[i]);
		puts("\n");
	}
}
