/* The i8042 keyboard controller: enough for Linux to probe it and to reset the machine. */
#ifndef KILN_X86_I8042_H
#define KILN_X86_I8042_H

#include <stdatomic.h>
#include "bus.h"

struct i8042_ops {
	void (*set_irq)(void *opaque, int level);	/* IRQ 1 */
	void (*reset)(void *opaque);			/* the guest pulsed the reset line */
};

struct i8042_stats {
	atomic_ulong reset_count;
	atomic_ulong read_count;
	atomic_ulong write_count;
	atomic_ulong missed_read_count;
};

struct i8042;

struct i8042 *i8042_create(const struct i8042_ops *ops, void *opaque);
void i8042_destroy(struct i8042 *k);
const struct i8042_stats *i8042_stats(const struct i8042 *k);
/*
 * Type Ctrl+Alt+Del on the keyboard (Firecracker's SendCtrlAltDel): the three make codes,
 * in the set the guest reads (set 1 while the controller translates, as it does by
 * default; set 2 when the guest turned translation off), with an interrupt edge for each
 * byte. -EAGAIN when the output buffer has no room for them (the guest is not reading).
 */
int i8042_ctrl_alt_del(struct i8042 *k);

/* Registered at port 0x60 with length 5: data at +0, status/command at +4. */
extern const struct bus_dev_ops i8042_bus_ops;

#endif
