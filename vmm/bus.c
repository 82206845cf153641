/* Address-space dispatch: a sorted table of device ranges, looked up by binary search. */
#include "bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, const char *name)
{
	uint64_t end;
	unsigned int i;

	if (len == 0 || ADD_OVERFLOWS(base, len - 1, &end))
		return -EINVAL;
	if (bus->nr == BUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->nr && bus->ranges[i].base < base; i++)
		;
	if (i > 0 && bus->ranges[i - 1].base + (bus->ranges[i - 1].len - 1) >= base)
		return -EEXIST;
	if (i < bus->nr && bus->ranges[i].base <= end)
		return -EEXIST;
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct bus_range){ base, len, ops, opaque, name };
	bus->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len)
{
	unsigned int lo = 0, hi = bus->nr;

	if (len == 0)
		return NULL;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			/* The access must not run past the end of the device. */
			return len <= r->len - (addr - r->base) ? r : NULL;
		}
	}
	return NULL;
}

bool bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);
	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return r != NULL;
	}
	r->ops->read(r->opaque, addr - r->base, data, len);
	return true;
}

bool bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);
	if (!r)
		return false;
	if (r->ops->write)
		r->ops->write(r->opaque, addr - r->base, data, len);
	return true;
}
