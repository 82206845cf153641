/* Crashes on purpose: an exception with no IDT escalates to a triple fault. */
#include "lib/guest.h"

void guest_main(u8 *bp)
{
	struct __attribute__((packed)) { u16 limit; u64 base; } idt = { 0, 0 };
	(void)bp;
	puts("triplefault: crashing\n");
	__asm__ volatile("lidt %0; ud2" :: "m"(idt));
}
