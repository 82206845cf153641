/* The exit-handling benchmark: 100,000 writes to port 0x80, then reboot. */
#include "lib/guest.h"

void guest_main(u8 *bp)
{
	(void)bp;
	for (int i = 0; i < 100000; i++)
		outb(0x80, (u8)i);
	puts("exits: done\n");
}
