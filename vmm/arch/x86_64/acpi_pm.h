/* HW-reduced ACPI power management registers: sleep control/status (S5 = power off) and reset. */
#ifndef KILN_X86_ACPI_PM_H
#define KILN_X86_ACPI_PM_H

#include <stdatomic.h>
#include "bus.h"

/*
 * Three byte-wide port registers, which the FADT names: SLEEP_CONTROL_REG at +0,
 * SLEEP_STATUS_REG at +1 and RESET_REG at +2. A write of SLP_EN with SLP_TYP 5 (the
 * DSDT's \_S5) powers off; writing ACPI_PM_RESET_VALUE to the reset register resets.
 */
#define ACPI_PM_SLEEP_CONTROL	0
#define ACPI_PM_SLEEP_STATUS	1
#define ACPI_PM_RESET		2
#define ACPI_PM_LEN		3

#define ACPI_PM_SLP_TYP_S5	5
#define ACPI_PM_SLP_TYP_SHIFT	2	/* SLP_TYP is bits 4:2 of the sleep control register */
#define ACPI_PM_SLP_TYP_MASK	0x1c
#define ACPI_PM_SLP_EN		0x20
#define ACPI_PM_WAK_STS		0x80	/* sleep status: never set, kiln does not wake guests */
#define ACPI_PM_RESET_VALUE	0x01

struct acpi_pm_ops {
	void (*power_off)(void *opaque);	/* S5 entered */
	void (*reset)(void *opaque);		/* the reset value written */
};

struct acpi_pm {
	const struct acpi_pm_ops *ops;
	void *opaque;
	atomic_ulong sleep_count;	/* sleep requests other than S5, ignored */
};

void acpi_pm_init(struct acpi_pm *pm, const struct acpi_pm_ops *ops, void *opaque);

/* Registered at X86_ACPI_PM_PORT with length ACPI_PM_LEN. */
extern const struct bus_dev_ops acpi_pm_bus_ops;

#endif
