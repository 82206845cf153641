/* An ARM PL031 real-time clock: the host's time of day, read-only, no alarm interrupts. */
#include "rtc_pl031.h"

#include <string.h>
#include <time.h>

enum {
	RTC_DR = 0x000,		/* data: seconds since the epoch */
	RTC_MR = 0x004,		/* match (alarm) */
	RTC_LR = 0x008,		/* load: setting the time (ignored) */
	RTC_CR = 0x00c,		/* control: bit 0 starts the counter; it always runs */
	RTC_IMSC = 0x010,	/* interrupt mask */
	RTC_RIS = 0x014,	/* raw interrupt status: an alarm never fires */
	RTC_MIS = 0x018,
	RTC_ICR = 0x01c,
	RTC_ID = 0xfe0,		/* PeriphID0-3, then PCellID0-3, one byte per word */
};

/* AMBA identification: part 0x031, designer 0x41 (ARM), revision 0; the PrimeCell id. */
static const uint8_t pl031_id[8] = { 0x31, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

void pl031_init(struct pl031 *rtc)
{
	memset(rtc, 0, sizeof(*rtc));
}

static uint32_t reg_read(struct pl031 *rtc, uint64_t off)
{
	struct timespec ts;

	switch (off) {
	case RTC_DR:
		clock_gettime(CLOCK_REALTIME, &ts);
		return (uint32_t)ts.tv_sec;
	case RTC_MR:
		return __atomic_load_n(&rtc->match, __ATOMIC_RELAXED);
	case RTC_CR:
		return 1;
	case RTC_IMSC:
		return __atomic_load_n(&rtc->imsc, __ATOMIC_RELAXED);
	default:
		if (off >= RTC_ID && off < RTC_ID + 4 * sizeof(pl031_id) && off % 4 == 0)
			return pl031_id[(off - RTC_ID) / 4];
		return 0;	/* LR reads back as 0, RIS and MIS: no interrupt */
	}
}

static void pl031_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	uint32_t v = len == 4 ? reg_read(opaque, offset) : 0;
	memset(data, 0, len);
	memcpy(data, &v, len < 4 ? len : 4);
}

static void pl031_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct pl031 *rtc = opaque;
	uint32_t v;

	if (len != 4)
		return;
	memcpy(&v, data, 4);
	if (offset == RTC_MR)
		__atomic_store_n(&rtc->match, v, __ATOMIC_RELAXED);
	else if (offset == RTC_IMSC)
		__atomic_store_n(&rtc->imsc, v & 1, __ATOMIC_RELAXED);
	/* LR (set the time), CR and ICR: the clock is the host's and raises no interrupt. */
}

const struct bus_dev_ops pl031_bus_ops = {
	.read = pl031_read,
	.write = pl031_write,
};
