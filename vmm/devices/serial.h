/* A 16550A UART: the guest console, with real FIFO, interrupt and loopback behaviour. */
#ifndef KILN_SERIAL_H
#define KILN_SERIAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "bus.h"

#define SERIAL_RX_FIFO 64

struct serial_ops {
	/* Drive the interrupt line (level: 1 pending, 0 none). */
	void (*set_irq)(void *opaque, int level);
	/* The receive FIFO has room again after being full (resume reading input). */
	void (*rx_space)(void *opaque);
};

struct serial_stats {
	atomic_ulong write_count;	/* bytes the guest sent */
	atomic_ulong missed_write_count;	/* bytes that could not be written out */
	atomic_ulong read_count;	/* bytes the guest received */
	atomic_ulong flush_count;
};

struct serial;

/* out_fd receives guest output (-1 discards it); ops/opaque are the machine's wiring. */
struct serial *serial_create(int out_fd, const struct serial_ops *ops, void *opaque);
void serial_destroy(struct serial *s);
/* Feed host input to the guest; returns how many bytes fit in the FIFO. */
size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len);
size_t serial_rx_room(struct serial *s);
const struct serial_stats *serial_stats(const struct serial *s);

/* The register file is 8 bytes wide; accesses are byte-sized. */
extern const struct bus_dev_ops serial_bus_ops;

#endif
