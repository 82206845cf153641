/* Prints a greeting over the serial port and reboots through the i8042. */
#include "lib/guest.h"

void guest_main(u8 *boot_params)
{
	(void)boot_params;
	puts("Hello from a kiln test guest!\n");
}
