/* Prints "idle: ready" and halts with interrupts off: only the VMM can end it. */
#include "lib/guest.h"

void guest_main(u8 *bp)
{
	(void)bp;
	puts("idle: ready\n");
	halt_forever();
}
