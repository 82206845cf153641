/* Polls the i8042 and prints each byte the keyboard sends, four to a line. */
#include "lib/guest.h"

void guest_main(u8 *bp)
{
	(void)bp;
	puts("keyboard: ready\n");
	for (unsigned int n = 1;; n++) {
		while (!(inb(0x64) & 0x01))
			;
		puts("0x");
		put_hex(inb(0x60), 2);
		putc(n % 4 ? ' ' : '\n');
	}
}
