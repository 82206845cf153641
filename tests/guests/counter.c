/* Counts forever, a line per step: a test sees it stop while paused and go on when resumed. */
#include "lib/guest.h"

void guest_main(u8 *bp)
{
	(void)bp;
	puts("counter: ready\n");
	for (u64 n = 0;; n++) {
		/* A pause that costs no exits: about a few lines a second under TCG's KVM. */
		for (volatile u32 d = 0; d < 2000000; d++)
			;
		puts("count ");
		put_dec(n);
		putc('\n');
	}
}
