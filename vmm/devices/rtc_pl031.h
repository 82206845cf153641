/* An ARM PL031 real-time clock: the host's time of day, read-only, no alarm interrupts. */
#ifndef KILN_RTC_PL031_H
#define KILN_RTC_PL031_H

#include <stdint.h>
#include "bus.h"

#define PL031_SIZE 0x1000

struct pl031 {
	/* Register state the guest can write; the time itself is never settable. */
	uint32_t match, imsc;
};

void pl031_init(struct pl031 *rtc);
/* Register accesses are 32-bit; others read as 0 and are ignored. */
extern const struct bus_dev_ops pl031_bus_ops;

#endif
