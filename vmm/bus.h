/* Address-space dispatch: a sorted table of device ranges for port I/O or MMIO. */
#ifndef KILN_BUS_H
#define KILN_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include "util.h"

/*
 * A device's handlers receive the offset inside its range. They may run on any
 * vCPU thread at once, so a device protects its own state.
 */
struct bus_dev_ops {
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_dev_ops *ops;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 64

struct bus {
	const char *name;		/* "pio" or "mmio", for messages */
	struct bus_range ranges[BUS_MAX_RANGES];	/* sorted by base */
	unsigned int nr;
};

void bus_init(struct bus *bus, const char *name);
/*
 * Register a device range. Only before vCPUs run: lookups take no lock.
 * Returns 0, -EINVAL (empty or wrapping range), -EEXIST (overlap) or -ENOSPC.
 */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_dev_ops *ops,
		 void *opaque, const char *name) MUST_CHECK;
/* The range holding [addr, addr+len), or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len);
/* Dispatch an access; false when no device claims it (reads then return all ones). */
bool bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len);
bool bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len);

#endif
