/* x86-64 ACPI: the tables kiln writes (parsed back from guest memory), the AML encoder, the PM registers. */
#include <criterion/criterion.h>
#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "acpi.h"
#include "acpi_pm.h"
#include "aml.h"
#include "boot.h"
#include "e820.h"
#include "layout.h"
#include "mptable.h"
#include "vm.h"

#define GUEST_SIZE (4ULL << 20)

static uint8_t *ram;
static struct guest_mem gm;

static void setup(void)
{
	ram = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(ram, MAP_FAILED);
	gm_init_buffer(&gm, 0, ram, GUEST_SIZE);
}

static void teardown(void)
{
	munmap(ram, GUEST_SIZE);
}

TestSuite(acpi, .init = setup, .fini = teardown);

static uint8_t sum(const void *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s += ((const uint8_t *)p)[i];
	return s;
}

/* Two virtio devices as kiln places them, and something x86 does not describe. */
static const struct vm_device_desc devices[] = {
	{ .compatible = "virtio,mmio", .base = 0xd0001000, .size = 0x1000, .irq = 5, .edge = true },
	{ .compatible = "vendor,other", .base = 0xd0002000, .size = 0x1000, .irq = 6, .edge = true },
	{ .compatible = "virtio,mmio", .base = 0xd0003000, .size = 0x1000, .irq = 7, .edge = true },
};

static uint64_t write_tables(unsigned int nr_cpus)
{
	const struct x86_acpi_machine m = { .nr_cpus = nr_cpus, .devices = devices,
					    .nr_devices = ARRAY_SIZE(devices) };
	uint64_t rsdp = 0;
	cr_assert_eq(x86_acpi_write(&gm, &m, &rsdp), 0);
	return rsdp;
}

/* A table in guest memory: inside the ACPI area, its length and checksum right. */
static const struct acpi_header *table(uint64_t gpa, const char *sig)
{
	cr_assert_geq(gpa, X86_ACPI_START, "%s at 0x%llx", sig, (unsigned long long)gpa);
	cr_assert_lt(gpa, X86_ACPI_END);
	const struct acpi_header *h = gm_ptr(&gm, gpa, sizeof(*h));
	cr_assert_not_null(h);
	cr_assert_eq(memcmp(h->signature, sig, 4), 0, "want %s, got %.4s", sig, h->signature);
	cr_assert_leq(gpa + h->length, X86_ACPI_END, "%s runs past the ACPI area", sig);
	cr_assert_eq(sum(h, h->length), 0, "%s checksum", sig);
	cr_assert_eq(memcmp(h->oem_id, "KILN  ", 6), 0);
	return h;
}

static const struct acpi_rsdp *rsdp_at(uint64_t gpa)
{
	const struct acpi_rsdp *r = gm_ptr(&gm, gpa, sizeof(*r));
	cr_assert_not_null(r);
	return r;
}

/* What the tables say, read back the way a guest walks them. */
struct parsed {
	const struct acpi_fadt *fadt;
	const struct acpi_madt *madt;
	const struct acpi_header *dsdt;
	const uint8_t *aml;
	size_t aml_len;
};

static struct parsed walk(uint64_t rsdp_gpa)
{
	struct parsed p = { 0 };
	const struct acpi_rsdp *r = rsdp_at(rsdp_gpa);
	cr_assert_eq(memcmp(r->signature, "RSD PTR ", 8), 0);
	cr_assert_eq(r->revision, 2);
	cr_assert_eq(r->length, 36);
	cr_assert_eq(sum(r, 20), 0, "RSDP checksum (first 20 bytes)");
	cr_assert_eq(sum(r, 36), 0, "RSDP extended checksum");

	const struct acpi_header *x = table(r->xsdt_address, "XSDT");
	cr_assert_eq(x->length, sizeof(*x) + 2 * 8, "XSDT lists FADT and MADT");
	for (unsigned int i = 0; i < (x->length - sizeof(*x)) / 8; i++) {
		uint64_t e;
		memcpy(&e, (const uint8_t *)x + sizeof(*x) + 8 * i, 8);
		const struct acpi_header *t = gm_ptr(&gm, e, sizeof(*t));
		cr_assert_not_null(t);
		if (!memcmp(t->signature, "FACP", 4))
			p.fadt = (const void *)table(e, "FACP");
		else if (!memcmp(t->signature, "APIC", 4))
			p.madt = (const void *)table(e, "APIC");
		else
			cr_assert_fail("unexpected table %.4s in the XSDT", t->signature);
	}
	cr_assert_not_null(p.fadt);
	cr_assert_not_null(p.madt);
	cr_assert_eq(p.fadt->h.length, 276);
	cr_assert_eq(p.fadt->x_dsdt, p.fadt->dsdt, "DSDT and X_DSDT agree");
	p.dsdt = table(p.fadt->x_dsdt, "DSDT");
	cr_assert_eq(p.dsdt->revision, 2, "64-bit AML integers");
	p.aml = (const uint8_t *)p.dsdt + sizeof(*p.dsdt);
	p.aml_len = p.dsdt->length - sizeof(*p.dsdt);
	return p;
}

/* ---- RSDP and the table chain ---- */

Test(acpi, rsdp_in_the_bios_area_where_linux_scans)
{
	uint64_t rsdp = write_tables(1);
	cr_assert_eq(rsdp, X86_ACPI_START);
	/* Linux's fallback: every 16 bytes of 0xe0000-0xfffff, signature and checksum. */
	uint64_t found = 0;
	for (uint64_t a = 0xe0000; a < 0x100000 && !found; a += 16) {
		const struct acpi_rsdp *r = rsdp_at(a);
		if (!memcmp(r->signature, "RSD PTR ", 8) && sum(r, 20) == 0)
			found = a;
	}
	cr_assert_eq(found, rsdp);
	walk(rsdp);
}

Test(acpi, tables_are_outside_e820_ram)
{
	struct e820_entry map[8];
	int n = x86_e820_build(&gm, map, 8);
	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++)
		if (map[i].type == E820_TYPE_RAM)
			cr_assert(map[i].addr + map[i].size <= X86_ACPI_START ||
				  map[i].addr >= X86_ACPI_END, "e820 RAM entry %d covers ACPI tables", i);
}

Test(acpi, boot_information_points_at_the_rsdp)
{
	cr_assert_eq(x86_boot_set_rsdp(&gm, X86_BOOT_LINUX64, X86_ACPI_START), 0);
	uint64_t v;
	cr_assert_eq(gm_read(&gm, X86_ZERO_PAGE_ADDR + 0x70, &v, 8), 0);
	cr_assert_eq(v, X86_ACPI_START, "boot_params.acpi_rsdp_addr (offset 0x70)");
	cr_assert_eq(offsetof(struct boot_params, acpi_rsdp_addr), 0x70);
	cr_assert_eq(x86_boot_set_rsdp(&gm, X86_BOOT_PVH, X86_ACPI_START), 0);
	cr_assert_eq(gm_read(&gm, X86_PVH_INFO_ADDR + 32, &v, 8), 0);
	cr_assert_eq(v, X86_ACPI_START, "hvm_start_info.rsdp_paddr (offset 32)");
}

/* ---- FADT ---- */

static void expect_port_reg(const struct acpi_gas *g, uint64_t port)
{
	cr_assert_eq(g->space_id, 1, "system I/O");
	cr_assert_eq(g->bit_width, 8);
	cr_assert_eq(g->bit_offset, 0);
	cr_assert_eq(g->access_size, 1, "byte access");
	cr_assert_eq(g->address, port);
}

Test(acpi, fadt_is_hardware_reduced_with_sleep_and_reset_registers)
{
	struct parsed p = walk(write_tables(2));
	const struct acpi_fadt *f = p.fadt;
	cr_assert_eq(f->h.revision, 6);
	cr_assert_eq(f->minor_version, 5);
	cr_assert(f->flags & ACPI_FADT_HW_REDUCED);
	cr_assert(f->flags & ACPI_FADT_RESET_REG_SUP);
	/* Linux marks the i8042 absent unless this bit is set (arch/x86/kernel/acpi/boot.c). */
	cr_assert(f->iapc_boot_arch & ACPI_IAPC_8042);
	cr_assert(f->iapc_boot_arch & ACPI_IAPC_CMOS_RTC_NOT_PRESENT);
	cr_assert_eq(f->sci_int, 0);
	cr_assert_eq(f->smi_cmd, 0);
	cr_assert_eq(f->pm1a_cnt_blk, 0);
	cr_assert_eq(f->x_pm_tmr_blk.address, 0);
	expect_port_reg(&f->sleep_control_reg, 0x600);
	expect_port_reg(&f->sleep_status_reg, 0x601);
	expect_port_reg(&f->reset_reg, 0x602);
	cr_assert_eq(f->reset_value, ACPI_PM_RESET_VALUE);
}

/* ---- MADT ---- */

static void check_madt(unsigned int n)
{
	memset(ram, 0, GUEST_SIZE);
	struct parsed p = walk(write_tables(n));
	const uint8_t *b = (const uint8_t *)p.madt;
	unsigned int lapics = 0, ioapics = 0, nmis = 0, overrides = 0;

	cr_assert_eq(p.madt->local_apic_address, 0xfee00000);
	cr_assert_eq(p.madt->flags & 1, 1, "PCAT_COMPAT");
	/* The MP table written for the same machine: APIC ids must agree. */
	cr_assert_eq(x86_mptable_write(&gm, n), 0);
	for (size_t off = sizeof(struct acpi_madt); off < p.madt->h.length; off += b[off + 1]) {
		cr_assert_geq(b[off + 1], 2, "entry length");
		switch (b[off]) {
		case ACPI_MADT_LOCAL_APIC: {
			const struct acpi_madt_local_apic *l = (const void *)(b + off);
			cr_assert_eq(l->length, 8);
			cr_assert_eq(l->processor_uid, lapics);
			cr_assert_eq(l->apic_id, lapics, "APIC id = vCPU index (CPUID, MP table)");
			cr_assert_eq(l->flags, 1, "enabled");
			/* MP table processor entries start after the 16 + 44 byte headers. */
			uint8_t mp_apic_id = ram[X86_EBDA_ADDR + 16 + 44 + 20 * lapics + 1];
			cr_assert_eq(mp_apic_id, l->apic_id, "MP table and MADT disagree");
			lapics++;
			break;
		}
		case ACPI_MADT_IOAPIC: {
			const struct acpi_madt_ioapic *io = (const void *)(b + off);
			cr_assert_eq(io->length, 12);
			cr_assert_eq(io->ioapic_id, x86_mptable_ioapic_id(n));
			cr_assert_eq(io->address, 0xfec00000);
			cr_assert_eq(io->gsi_base, 0);
			ioapics++;
			break;
		}
		case ACPI_MADT_LOCAL_APIC_NMI: {
			const struct acpi_madt_local_apic_nmi *nmi = (const void *)(b + off);
			cr_assert_eq(nmi->length, 6);
			cr_assert_eq(nmi->processor_uid, 0xff);
			cr_assert_eq(nmi->lint, 1);
			nmis++;
			break;
		}
		case ACPI_MADT_INT_OVERRIDE:
			overrides++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", b[off]);
		}
	}
	cr_assert_eq(lapics, n);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(nmis, 1);
	cr_assert_eq(overrides, 0, "ISA IRQ n is GSI n under KVM's default routing");
	cr_assert_eq(p.madt->h.length, 44 + 8 * n + 12 + 6);
}

Test(acpi, madt_one_vcpu) { check_madt(1); }
Test(acpi, madt_four_vcpus) { check_madt(4); }
Test(acpi, madt_thirty_two_vcpus) { check_madt(MPTABLE_MAX_CPUS); }

/* ---- DSDT ---- */

/*
 * Device (VR00) { Name (_HID, "LNRO0005") Name (_UID, Zero) Name (_CCA, One)
 *   Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xD0001000, 0x1000)
 *     Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 5 } }) }
 * encoded by hand from the ACPI 6.5 grammar (sections 6.4, 20.2).
 */
static const uint8_t vr00_golden[] = {
	0x5b, 0x82, 0x41, 0x04,			/* DeviceOp, PkgLength 65 (2 bytes) */
	'V', 'R', '0', '0',
	0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00,
	0x08, '_', 'U', 'I', 'D', 0x00,		/* ZeroOp */
	0x08, '_', 'C', 'C', 'A', 0x01,		/* OneOp */
	0x08, '_', 'C', 'R', 'S', 0x11, 0x1a, 0x0a, 0x17,	/* Buffer, PkgLength 26, 23 bytes */
	0x86, 0x09, 0x00, 0x01,			/* Memory32Fixed, read-write */
	0x00, 0x10, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,
	0x89, 0x06, 0x00, 0x03, 0x01,		/* Interrupt: consumer, edge, high, exclusive */
	0x05, 0x00, 0x00, 0x00,
	0x79, 0x00,				/* EndTag */
};

/* Name (\_S5_, Package (0x04) { 0x05, 0x05, Zero, Zero }) */
static const uint8_t s5_golden[] = {
	0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00,
};

/* Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, Zero)
 *   Name (_CRS, ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08) IRQNoFlags () {4} }) } */
static const uint8_t com1_golden[] = {
	0x5b, 0x82, 0x2b, 'C', 'O', 'M', '1',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,
	0x08, '_', 'U', 'I', 'D', 0x00,
	0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,
	0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08,
	0x22, 0x10, 0x00,
	0x79, 0x00,
};

static const uint8_t *find(const struct parsed *p, const void *needle, size_t len)
{
	return memmem(p->aml, p->aml_len, needle, len);
}

Test(acpi, dsdt_describes_each_virtio_device_in_golden_aml)
{
	struct parsed p = walk(write_tables(1));
	const uint8_t *vr00 = find(&p, vr00_golden, sizeof(vr00_golden));
	cr_assert_not_null(vr00, "Device (VR00) is not byte for byte as expected");
	/* VR01 is the third device (the second virtio one): same but name, UID, base, IRQ. */
	uint8_t vr01[sizeof(vr00_golden)];
	memcpy(vr01, vr00_golden, sizeof(vr01));
	vr01[7] = '1';
	vr01[28] = 0x01;			/* _UID One */
	vr01[49] = 0x30;			/* base 0xd0003000 */
	vr01[61] = 0x07;			/* IRQ 7 */
	cr_assert_not_null(find(&p, vr01, sizeof(vr01)), "Device (VR01)");
	cr_assert_null(memmem(p.aml, p.aml_len, "VR02", 4), "only virtio,mmio devices");
	cr_assert_null(memmem(p.aml, p.aml_len, "\x00\x20\x00\xd0", 4), "vendor,other is left out");
	cr_assert_not_null(find(&p, com1_golden, sizeof(com1_golden)), "Device (COM1)");
	cr_assert_not_null(find(&p, s5_golden, sizeof(s5_golden)), "\\_S5_");
	/* Everything else sits in Scope (\_SB_), which opens the DSDT. */
	cr_assert_eq(p.aml[0], 0x10, "ScopeOp");
	cr_assert_eq(memcmp(p.aml + 1 + (p.aml[1] >> 6) + 1, "\\_SB_", 5), 0);
	cr_assert_lt(vr00, find(&p, s5_golden, sizeof(s5_golden)));
}

Test(acpi, dsdt_without_devices)
{
	const struct x86_acpi_machine m = { .nr_cpus = 1 };
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_write(&gm, &m, &rsdp), 0);
	struct parsed p = walk(rsdp);
	cr_assert_null(memmem(p.aml, p.aml_len, "LNRO0005", 8));
	cr_assert_not_null(find(&p, com1_golden, sizeof(com1_golden)));
}

Test(acpi, thirty_two_devices_fit)
{
	static struct vm_device_desc many[VM_MAX_DEVICES];
	for (unsigned int i = 0; i < VM_MAX_DEVICES; i++)
		many[i] = (struct vm_device_desc){ .compatible = "virtio,mmio",
						   .base = 0xd0000000 + 0x1000 * i, .size = 0x1000,
						   .irq = 5 + i % 19, .edge = true };
	const struct x86_acpi_machine m = { .nr_cpus = 32, .devices = many,
					    .nr_devices = VM_MAX_DEVICES };
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_write(&gm, &m, &rsdp), 0);
	struct parsed p = walk(rsdp);
	cr_assert_not_null(memmem(p.aml, p.aml_len, "VR1F", 4));
}

Test(acpi, bad_machines_are_refused)
{
	struct vm_device_desc high = { .compatible = "virtio,mmio", .base = 0x100000000ULL,
				       .size = 0x1000, .irq = 5, .edge = true };
	struct x86_acpi_machine m = { .nr_cpus = 0 };
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_write(&gm, &m, &rsdp), -EINVAL);
	m = (struct x86_acpi_machine){ .nr_cpus = 1, .devices = &high, .nr_devices = 1 };
	cr_assert_eq(x86_acpi_write(&gm, &m, &rsdp), -EINVAL, "above 4 GiB: no Memory32Fixed");
	/* Guest memory that stops short of the BIOS area. */
	struct guest_mem small;
	gm_init_buffer(&small, 0, ram, 0xa0000);
	m = (struct x86_acpi_machine){ .nr_cpus = 1 };
	cr_assert_eq(x86_acpi_write(&small, &m, &rsdp), -EFAULT);
}

/*
 * Cross-check with ACPICA's disassembler (Debian's acpica-tools) when it is installed:
 * the DSDT and FADT decompile without errors and say what kiln means.
 */
static char *iasl_decompile(const void *table_bytes, size_t len, const char *name)
{
	char dir[] = "/tmp/kiln-acpi-XXXXXX", path[128], cmd[512];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(table_bytes, 1, len, f), len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat >iasl.log 2>&1", dir, name);
	int st = system(cmd);
	snprintf(path, sizeof(path), "%s/iasl.log", dir);
	cr_assert_eq(st, 0, "iasl -d failed (see %s)", path);
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "no %s", path);
	static char text[65536];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	return strdup(text);
}

static void expect_text(const char *text, const char *what)
{
	cr_assert_not_null(strstr(text, what), "no \"%s\" in:\n%s", what, text);
}

Test(acpi, iasl_decompiles_the_dsdt)
{
	if (system("command -v iasl >/dev/null 2>&1") != 0)
		cr_skip_test("iasl (acpica-tools) is not installed");
	struct parsed p = walk(write_tables(1));
	char *dsl = iasl_decompile(p.dsdt, p.dsdt->length, "dsdt");
	expect_text(dsl, "Scope (\\_SB)");
	expect_text(dsl, "Device (VR00)");
	expect_text(dsl, "Name (_HID, \"LNRO0005\")");
	expect_text(dsl, "Name (_CCA, One)");
	expect_text(dsl, "Memory32Fixed (ReadWrite,\n                    0xD0001000,");
	expect_text(dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n"
			 "                {\n                    0x00000005,");
	expect_text(dsl, "Device (VR01)");
	expect_text(dsl, "0xD0003000,");
	expect_text(dsl, "Name (_HID, EisaId (\"PNP0501\")");
	expect_text(dsl, "IO (Decode16,\n                    0x03F8,");
	expect_text(dsl, "IRQNoFlags ()\n                    {4}");
	expect_text(dsl, "Name (_HID, EisaId (\"PNP0303\")");
	expect_text(dsl, "Name (\\_S5, Package (0x04)");
	free(dsl);
}

Test(acpi, iasl_decodes_the_fadt)
{
	if (system("command -v iasl >/dev/null 2>&1") != 0)
		cr_skip_test("iasl (acpica-tools) is not installed");
	struct parsed p = walk(write_tables(1));
	char *dsl = iasl_decompile(p.fadt, p.fadt->h.length, "facp");
	expect_text(dsl, "Hardware Reduced (V5) : 1");
	expect_text(dsl, "8042 Present on ports 60/64 (V2) : 1");
	expect_text(dsl, "Reset Register Supported (V2) : 1");
	cr_assert_null(strstr(dsl, "Warning"), "%s", dsl);
	cr_assert_null(strstr(dsl, "Error"), "%s", dsl);
	free(dsl);
}

/* ---- the AML encoder ---- */

static size_t enc(struct aml *a)
{
	long n = aml_finish(a);
	cr_assert_geq(n, 0, "aml error %ld", n);
	return (size_t)n;
}

Test(aml, integers_take_their_shortest_form)
{
	uint8_t b[64];
	struct aml a;
	aml_init(&a, b, sizeof(b));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ULL);
	static const uint8_t want[] = { 0x00, 0x01, 0x0a, 0x02, 0x0b, 0x00, 0x01,
					0x0c, 0x00, 0x00, 0x01, 0x00,
					0x0e, 0, 0, 0, 0, 1, 0, 0, 0 };
	cr_assert_eq(enc(&a), sizeof(want));
	cr_assert_arr_eq(b, want, sizeof(want));
}

Test(aml, name_strings)
{
	uint8_t b[64];
	struct aml a;
	aml_init(&a, b, sizeof(b));
	aml_name_string(&a, "_HID");
	aml_name_string(&a, "\\_SB");
	aml_name_string(&a, "\\_SB_.VR0");
	aml_name_string(&a, "A.B.C");
	static const uint8_t want[] = { '_', 'H', 'I', 'D',
					'\\', '_', 'S', 'B', '_',
					'\\', 0x2e, '_', 'S', 'B', '_', 'V', 'R', '0', '_',
					0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_' };
	cr_assert_eq(enc(&a), sizeof(want));
	cr_assert_arr_eq(b, want, sizeof(want));

	const char *bad[] = { "_hid", "TOOLONG", "A..B", "A.", "1ABC", "\\.A" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		aml_init(&a, b, sizeof(b));
		aml_name_string(&a, bad[i]);
		cr_assert_eq(aml_finish(&a), -EINVAL, "%s", bad[i]);
	}
}

Test(aml, eisa_ids)
{
	cr_assert_eq(aml_eisaid("PNP0501"), 0x0105d041);
	cr_assert_eq(aml_eisaid("PNP0303"), 0x0303d041);
	cr_assert_eq(aml_eisaid("PNP0A03"), 0x030ad041);
	cr_assert_eq(aml_eisaid("pnp0501"), 0);
	cr_assert_eq(aml_eisaid("PNP05"), 0);
	cr_assert_eq(aml_eisaid("PNP050G"), 0);
}

/* A Package whose body is `body` bytes: PkgLength in 1, 2 or 3 bytes, counting itself. */
static void pkglength_case(size_t body, const uint8_t *want, size_t want_len)
{
	static uint8_t b[1 << 17];
	struct aml a;
	aml_init(&a, b, sizeof(b));
	aml_package(&a, 0);
	for (size_t i = 1; i < body; i++)	/* the element count is the first body byte */
		aml_integer(&a, 0);
	aml_end(&a);
	cr_assert_eq(enc(&a), 1 + want_len + body);
	cr_assert_arr_eq(b + 1, want, want_len, "body %zu", body);
	cr_assert_eq(b[1 + want_len], 0, "the element count follows the PkgLength");
}

Test(aml, package_lengths)
{
	pkglength_case(62, (const uint8_t[]){ 63 }, 1);
	pkglength_case(63, (const uint8_t[]){ 0x41, 0x04 }, 2);		/* 65 */
	pkglength_case(4093, (const uint8_t[]){ 0x4f, 0xff }, 2);	/* 4095 */
	pkglength_case(4094, (const uint8_t[]){ 0x81, 0x00, 0x01 }, 3);	/* 4097 */
}

Test(aml, errors_are_sticky)
{
	uint8_t b[8];
	struct aml a;
	aml_init(&a, b, sizeof(b));
	aml_name_string_value(&a, "_HID", "LNRO0005");
	cr_assert_eq(aml_finish(&a), -ENOSPC);
	aml_integer(&a, 0);
	cr_assert_eq(aml_finish(&a), -ENOSPC);

	uint8_t c[64];
	aml_init(&a, c, sizeof(c));
	aml_scope(&a, "\\_SB_");
	cr_assert_eq(aml_finish(&a), -EINVAL, "an open scope");
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), 7);
	aml_end(&a);
	cr_assert_eq(aml_finish(&a), -EINVAL, "one end too many");

	aml_init(&a, c, sizeof(c));
	struct aml r;
	aml_init(&r, c, sizeof(c));
	aml_res_irq_noflags(&r, 16);
	cr_assert_eq(aml_finish(&r), -EINVAL, "IRQNoFlags takes IRQs 0-15");
}

/* ---- power management registers ---- */

static int powered_off, was_reset;
static void on_power_off(void *opaque) { (void)opaque; powered_off++; }
static void on_reset(void *opaque) { (void)opaque; was_reset++; }
static const struct acpi_pm_ops pm_ops = { .power_off = on_power_off, .reset = on_reset };

static void pm_write8(struct acpi_pm *pm, uint64_t off, uint8_t v)
{
	acpi_pm_bus_ops.write(pm, off, &v, 1);
}

Test(acpi_pm, s5_with_slp_en_powers_off)
{
	struct acpi_pm pm;
	powered_off = was_reset = 0;
	acpi_pm_init(&pm, &pm_ops, NULL);
	pm_write8(&pm, ACPI_PM_SLEEP_CONTROL, 5 << 2);		/* SLP_TYP only */
	cr_assert_eq(powered_off, 0);
	pm_write8(&pm, ACPI_PM_SLEEP_CONTROL, 3 << 2 | 0x20);	/* S3: not supported */
	cr_assert_eq(powered_off, 0);
	cr_assert_eq(atomic_load(&pm.sleep_count), 1);
	uint16_t wide = 0x34;
	acpi_pm_bus_ops.write(&pm, ACPI_PM_SLEEP_CONTROL, (const uint8_t *)&wide, 2);
	cr_assert_eq(powered_off, 0, "the register is one byte wide");
	pm_write8(&pm, ACPI_PM_SLEEP_STATUS, 0x34);
	cr_assert_eq(powered_off, 0);
	/* What Linux's acpi_hw_extended_sleep() writes for \_S5 (SLP_TYP 5). */
	pm_write8(&pm, ACPI_PM_SLEEP_CONTROL, 5 << 2 | 0x20);
	cr_assert_eq(powered_off, 1);
	cr_assert_eq(was_reset, 0);
}

Test(acpi_pm, reset_register_takes_its_value_only)
{
	struct acpi_pm pm;
	powered_off = was_reset = 0;
	acpi_pm_init(&pm, &pm_ops, NULL);
	pm_write8(&pm, ACPI_PM_RESET, 0x02);
	cr_assert_eq(was_reset, 0);
	pm_write8(&pm, ACPI_PM_RESET, ACPI_PM_RESET_VALUE);
	cr_assert_eq(was_reset, 1);
	cr_assert_eq(powered_off, 0);
}

Test(acpi_pm, reads_are_zero)
{
	struct acpi_pm pm;
	uint8_t v[3] = { 0xff, 0xff, 0xff };
	acpi_pm_init(&pm, &pm_ops, NULL);
	acpi_pm_bus_ops.read(&pm, 0, v, 3);
	cr_assert_eq(v[0] | v[1] | v[2], 0, "WAK_STS never set");
}
