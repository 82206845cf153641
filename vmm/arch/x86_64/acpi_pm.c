/* HW-reduced ACPI power management registers: sleep control/status (S5 = power off) and reset. */
#include "acpi_pm.h"

#include <string.h>

#include "log.h"

void acpi_pm_init(struct acpi_pm *pm, const struct acpi_pm_ops *ops, void *opaque)
{
	pm->ops = ops;
	pm->opaque = opaque;
	atomic_init(&pm->sleep_count, 0);
}

static void pm_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	(void)opaque;
	(void)offset;
	/* Sleep status reads 0 (WAK_STS clear): a guest that sleeps is never woken. */
	memset(data, 0, len);
}

static void pm_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t v = data[0];

	if (len != 1) {
		log_ratelimited(LOG_DEBUG, "ACPI PM: %u-byte write at +%llu ignored", len,
				(unsigned long long)offset);
		return;
	}
	switch (offset) {
	case ACPI_PM_SLEEP_CONTROL:
		if (!(v & ACPI_PM_SLP_EN))
			return;
		if (((v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT) == ACPI_PM_SLP_TYP_S5) {
			pm->ops->power_off(pm->opaque);
			return;
		}
		atomic_fetch_add(&pm->sleep_count, 1);
		log_ratelimited(LOG_WARN, "ACPI PM: sleep type %u is not supported; ignored",
				(v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT);
		return;
	case ACPI_PM_SLEEP_STATUS:
		return;		/* write 1 to clear WAK_STS: it is never set */
	case ACPI_PM_RESET:
		if (v == ACPI_PM_RESET_VALUE)
			pm->ops->reset(pm->opaque);
		return;
	default:
		return;
	}
}

const struct bus_dev_ops acpi_pm_bus_ops = {
	.read = pm_read,
	.write = pm_write,
};
