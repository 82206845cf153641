/* ACPI tables of the x86-64 machine: RSDP, XSDT, FADT (HW-reduced), MADT and DSDT. */
#ifndef KILN_X86_ACPI_H
#define KILN_X86_ACPI_H

#include <stdint.h>
#include "memory.h"

struct vm_device_desc;

/* What the tables describe. */
struct x86_acpi_machine {
	unsigned int nr_cpus;			/* local APIC ids 0..nr_cpus-1, as CPUID says */
	const struct vm_device_desc *devices;	/* "virtio,mmio" ones become LNRO0005 */
	unsigned int nr_devices;
};

/* Signature, length and checksum of every table; fields as the ACPI 6.5 spec names them. */
struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];	/* "RSD PTR " */
	uint8_t checksum;	/* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision;	/* 2: the XSDT is valid */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;	/* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas {
	uint8_t space_id;	/* 0 memory, 1 port I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;	/* 1 byte, 2 word, 3 dword, 4 qword */
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

/* FADT flags and IA-PC boot architecture flags kiln sets. */
#define ACPI_FADT_PWR_BUTTON		(1u << 4)	/* no fixed-feature power button */
#define ACPI_FADT_SLP_BUTTON		(1u << 5)
#define ACPI_FADT_RESET_REG_SUP		(1u << 10)
#define ACPI_FADT_HW_REDUCED		(1u << 20)
#define ACPI_IAPC_8042			(1u << 1)
#define ACPI_IAPC_VGA_NOT_PRESENT	(1u << 2)
#define ACPI_IAPC_MSI_NOT_SUPPORTED	(1u << 3)
#define ACPI_IAPC_CMOS_RTC_NOT_PRESENT	(1u << 5)

struct acpi_madt {
	struct acpi_header h;
	uint32_t local_apic_address;
	uint32_t flags;		/* bit 0: PCAT_COMPAT, a dual 8259 PIC is present */
} __attribute__((packed));

enum {
	ACPI_MADT_LOCAL_APIC = 0,
	ACPI_MADT_IOAPIC = 1,
	ACPI_MADT_INT_OVERRIDE = 2,
	ACPI_MADT_LOCAL_APIC_NMI = 4,
};

struct acpi_madt_local_apic {
	uint8_t type, length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;		/* bit 0: enabled */
} __attribute__((packed));

struct acpi_madt_ioapic {
	uint8_t type, length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct acpi_madt_local_apic_nmi {
	uint8_t type, length;
	uint8_t processor_uid;	/* 0xff: every processor */
	uint16_t flags;		/* 0: polarity and trigger as the bus says */
	uint8_t lint;
} __attribute__((packed));

/*
 * Write every table into [X86_ACPI_START, X86_ACPI_END): the RSDP at X86_ACPI_START
 * (where Linux also finds it by scanning), then XSDT, FADT, MADT and DSDT. Sets *rsdp
 * to the RSDP's address for boot_params.acpi_rsdp_addr and hvm_start_info.rsdp_paddr.
 * Returns 0, -EINVAL (no vCPU, more than 254), -ENOSPC (the tables do not fit) or -EFAULT
 * (guest memory does not cover the area).
 */
int x86_acpi_write(struct guest_mem *gm, const struct x86_acpi_machine *m, uint64_t *rsdp);

#endif
