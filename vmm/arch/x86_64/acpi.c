/* ACPI tables of the x86-64 machine: RSDP, XSDT, FADT (HW-reduced), MADT and DSDT. */
#include "acpi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "acpi_pm.h"
#include "aml.h"
#include "layout.h"
#include "mptable.h"
#include "vm.h"

#define OEM_ID		"KILN  "
#define OEM_TABLE_ID	"KILNVM  "
#define CREATOR_ID	"KILN"
#define GAS_IO		1
#define GAS_ACCESS_BYTE	1
#define IOAPIC_PINS	24
#define MAX_APIC_ID	254	/* xAPIC ids; 0xff is the broadcast id */

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "table header layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout (ACPI 6.x)");
_Static_assert(sizeof(struct acpi_madt_ioapic) == 12, "MADT IOAPIC layout");

static uint8_t checksum(const void *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += ((const uint8_t *)p)[i];
	return (uint8_t)-sum;
}

static void header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, OEM_ID, 6);
	memcpy(h->oem_table_id, OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* The tables are built in place: `area` is guest memory at X86_ACPI_START. */
struct builder {
	uint8_t *area;
	size_t size;
	size_t next;	/* offset of the next table, 16-byte aligned */
};

static void *take(struct builder *b, size_t len, uint64_t *gpa)
{
	size_t off = ALIGN_UP(b->next, (size_t)16);
	if (off > b->size || len > b->size - off)
		return NULL;
	b->next = off + len;
	*gpa = X86_ACPI_START + off;
	return b->area + off;
}

static void finish(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = checksum(h, h->length);
}

static struct acpi_gas port_reg(uint16_t port)
{
	return (struct acpi_gas){ .space_id = GAS_IO, .bit_width = 8, .bit_offset = 0,
				  .access_size = GAS_ACCESS_BYTE, .address = port };
}

static int write_fadt(struct builder *b, uint64_t dsdt, uint64_t *gpa)
{
	struct acpi_fadt *f = take(b, sizeof(*f), gpa);
	if (!f)
		return -ENOSPC;
	memset(f, 0, sizeof(*f));
	header(&f->h, "FACP", sizeof(*f), 6);
	f->minor_version = 5;		/* ACPI 6.5 */
	f->dsdt = (uint32_t)dsdt;
	f->x_dsdt = dsdt;
	/* No PM1 blocks, PM timer, GPEs or SCI: the hardware-reduced ACPI model. */
	f->flags = ACPI_FADT_HW_REDUCED | ACPI_FADT_RESET_REG_SUP | ACPI_FADT_PWR_BUTTON |
		   ACPI_FADT_SLP_BUTTON;
	/*
	 * An 8042 is present (Linux marks it absent otherwise and its i8042 driver gives up;
	 * reboot=k writes port 0x64 either way); no VGA, MSI or CMOS RTC.
	 */
	f->iapc_boot_arch = ACPI_IAPC_8042 | ACPI_IAPC_VGA_NOT_PRESENT |
			    ACPI_IAPC_MSI_NOT_SUPPORTED | ACPI_IAPC_CMOS_RTC_NOT_PRESENT;
	f->reset_reg = port_reg(X86_ACPI_PM_PORT + ACPI_PM_RESET);
	f->reset_value = ACPI_PM_RESET_VALUE;
	f->sleep_control_reg = port_reg(X86_ACPI_PM_PORT + ACPI_PM_SLEEP_CONTROL);
	f->sleep_status_reg = port_reg(X86_ACPI_PM_PORT + ACPI_PM_SLEEP_STATUS);
	memcpy(&f->hypervisor_vendor_id, "KILNKILN", 8);
	finish(&f->h);
	return 0;
}

static int write_madt(struct builder *b, unsigned int nr_cpus, uint64_t *gpa)
{
	size_t len = sizeof(struct acpi_madt) + nr_cpus * sizeof(struct acpi_madt_local_apic) +
		     sizeof(struct acpi_madt_ioapic) + sizeof(struct acpi_madt_local_apic_nmi);
	uint8_t *p = take(b, len, gpa);
	if (!p)
		return -ENOSPC;
	memset(p, 0, len);

	struct acpi_madt *madt = (struct acpi_madt *)p;
	header(&madt->h, "APIC", (uint32_t)len, 6);
	madt->local_apic_address = (uint32_t)X86_LAPIC_ADDR;
	madt->flags = 1;	/* the in-kernel PIC pair is there */
	size_t off = sizeof(*madt);
	/* APIC ids equal vCPU indexes, as in CPUID and the MP table. */
	for (unsigned int i = 0; i < nr_cpus; i++) {
		struct acpi_madt_local_apic lapic = {
			.type = ACPI_MADT_LOCAL_APIC, .length = sizeof(lapic),
			.processor_uid = (uint8_t)i, .apic_id = (uint8_t)i, .flags = 1,
		};
		memcpy(p + off, &lapic, sizeof(lapic));
		off += sizeof(lapic);
	}
	/*
	 * ISA IRQ n is GSI n (KVM's default routing, which kiln keeps and the MP table
	 * states; the PIT drives pin 0), edge-triggered active-high: what ACPI assumes
	 * without overrides, so the MADT needs none. A HW-reduced guest ignores the PIT.
	 */
	struct acpi_madt_ioapic io = {
		.type = ACPI_MADT_IOAPIC, .length = sizeof(io),
		.ioapic_id = (uint8_t)x86_mptable_ioapic_id(nr_cpus),
		.address = (uint32_t)X86_IOAPIC_ADDR, .gsi_base = 0,
	};
	memcpy(p + off, &io, sizeof(io));
	off += sizeof(io);
	/* LINT1 takes NMIs on every CPU, as the MP table says and kiln programs the LAPICs. */
	struct acpi_madt_local_apic_nmi nmi = {
		.type = ACPI_MADT_LOCAL_APIC_NMI, .length = sizeof(nmi),
		.processor_uid = 0xff, .flags = 0, .lint = 1,
	};
	memcpy(p + off, &nmi, sizeof(nmi));
	finish(&madt->h);
	return 0;
}

/* Device (VRnn) { _HID "LNRO0005", _UID, _CCA, _CRS { window, interrupt } } */
static int virtio_device(struct aml *a, const struct vm_device_desc *d, unsigned int uid)
{
	uint8_t res[64];
	struct aml r;
	char name[8];

	if (d->base > UINT32_MAX || d->size > UINT32_MAX - d->base || uid > 0xff)
		return -EINVAL;
	aml_init(&r, res, sizeof(res));
	aml_res_memory32_fixed(&r, 1, (uint32_t)d->base, (uint32_t)d->size);
	/* kiln's irqfd pulses the line: edge-triggered, active high, not shared. */
	aml_res_interrupt(&r, d->edge, 0, d->irq);
	aml_res_end(&r);
	long n = aml_finish(&r);
	if (n < 0)
		return (int)n;

	snprintf(name, sizeof(name), "VR%02X", uid);
	aml_device(a, name);
	aml_name_string_value(a, "_HID", "LNRO0005");
	aml_name_integer(a, "_UID", uid);
	aml_name_integer(a, "_CCA", 1);	/* DMA is cache-coherent */
	aml_name_buffer(a, "_CRS", res, (size_t)n);
	aml_end(a);
	return 0;
}

/* Device (name) { _HID EisaId(hid), _UID, _CRS { IO ports..., IRQNoFlags { irq } } } */
static int isa_device(struct aml *a, const char *name, const char *hid, const uint16_t *ports,
		      const uint8_t *lens, unsigned int nr_ports, unsigned int irq)
{
	uint8_t res[64];
	struct aml r;

	aml_init(&r, res, sizeof(res));
	for (unsigned int i = 0; i < nr_ports; i++)
		aml_res_io(&r, ports[i], ports[i], 0, lens[i]);
	aml_res_irq_noflags(&r, irq);
	aml_res_end(&r);
	long n = aml_finish(&r);
	if (n < 0)
		return (int)n;
	aml_device(a, name);
	aml_name_eisaid(a, "_HID", hid);
	aml_name_integer(a, "_UID", 0);
	aml_name_buffer(a, "_CRS", res, (size_t)n);
	aml_end(a);
	return 0;
}

static int write_dsdt(struct builder *b, const struct x86_acpi_machine *m, uint64_t *gpa)
{
	static const uint16_t com_port[] = { X86_SERIAL_PORT }, kbd_ports[] = { 0x60, 0x64 };
	static const uint8_t com_len[] = { 8 }, kbd_lens[] = { 1, 1 };
	size_t start = ALIGN_UP(b->next, (size_t)16);
	struct aml a;
	int ret;

	if (start + sizeof(struct acpi_header) > b->size)
		return -ENOSPC;
	/* The AML goes right after the header; its length is known once it is encoded. */
	aml_init(&a, b->area + start + sizeof(struct acpi_header),
		 b->size - start - sizeof(struct acpi_header));
	aml_scope(&a, "\\_SB_");
	ret = isa_device(&a, "COM1", "PNP0501", com_port, com_len, 1, X86_SERIAL_IRQ);
	if (ret == 0)
		ret = isa_device(&a, "PS2K", "PNP0303", kbd_ports, kbd_lens, 2, X86_I8042_IRQ);
	for (unsigned int i = 0, uid = 0; i < m->nr_devices && ret == 0; i++)
		if (!strcmp(m->devices[i].compatible, "virtio,mmio"))
			ret = virtio_device(&a, &m->devices[i], uid++);
	if (ret < 0)
		return ret;
	aml_end(&a);
	/* Name (\_S5_, Package (4) { 5, 5, 0, 0 }): SLP_TYP for power-off (acpi_pm.h). */
	aml_name(&a, "\\_S5_");
	aml_package(&a, 4);
	aml_integer(&a, ACPI_PM_SLP_TYP_S5);
	aml_integer(&a, ACPI_PM_SLP_TYP_S5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a);
	long n = aml_finish(&a);
	if (n < 0)
		return (int)n;
	uint8_t *p = take(b, sizeof(struct acpi_header) + (size_t)n, gpa);
	if (!p)
		return -ENOSPC;
	struct acpi_header *h = (struct acpi_header *)p;
	memset(h, 0, sizeof(*h));
	header(h, "DSDT", (uint32_t)(sizeof(*h) + (size_t)n), 2);
	finish(h);
	return 0;
}

int x86_acpi_write(struct guest_mem *gm, const struct x86_acpi_machine *m, uint64_t *rsdp_gpa)
{
	struct builder b = { .size = X86_ACPI_END - X86_ACPI_START };
	uint64_t xsdt_gpa, fadt_gpa, madt_gpa, dsdt_gpa;
	int ret;

	if (m->nr_cpus == 0 || m->nr_cpus > MAX_APIC_ID ||
	    x86_mptable_ioapic_id(m->nr_cpus) > MAX_APIC_ID)
		return -EINVAL;
	b.area = gm_ptr(gm, X86_ACPI_START, b.size);
	if (!b.area)
		return -EFAULT;
	memset(b.area, 0, b.size);

	struct acpi_rsdp *rsdp = take(&b, sizeof(*rsdp), rsdp_gpa);
	uint8_t *xsdt = take(&b, sizeof(struct acpi_header) + 2 * sizeof(uint64_t), &xsdt_gpa);
	if (!rsdp || !xsdt)
		return -ENOSPC;
	/* The DSDT first: the FADT points at it. */
	if ((ret = write_dsdt(&b, m, &dsdt_gpa)) < 0 ||
	    (ret = write_fadt(&b, dsdt_gpa, &fadt_gpa)) < 0 ||
	    (ret = write_madt(&b, m->nr_cpus, &madt_gpa)) < 0)
		return ret;

	struct acpi_header *xh = (struct acpi_header *)xsdt;
	header(xh, "XSDT", sizeof(*xh) + 2 * sizeof(uint64_t), 1);
	memcpy(xsdt + sizeof(*xh), &fadt_gpa, sizeof(uint64_t));
	memcpy(xsdt + sizeof(*xh) + sizeof(uint64_t), &madt_gpa, sizeof(uint64_t));
	finish(xh);

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt_address = 0;		/* no RSDT: ACPI 2.0+ guests use the XSDT */
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt_gpa;
	rsdp->checksum = checksum(rsdp, 20);
	rsdp->extended_checksum = checksum(rsdp, sizeof(*rsdp));
	return 0;
}
