/* Signals boot completion to kiln's boot timer (first MMIO window) and reboots. */
#include "lib/guest.h"

#define BOOT_TIMER 0xd0000000ULL

void guest_main(u8 *bp)
{
	(void)bp;
	map_mmio_hole();
	*(volatile u8 *)BOOT_TIMER = 123;
	puts("boottimer: signalled\n");
}
