/* Intel MultiProcessor table (spec 1.4): CPUs, ISA bus, IOAPIC and interrupt routing. */
#include "mptable.h"

#include <errno.h>
#include <string.h>

#include "layout.h"

struct mpf_intel {
	char signature[4];	/* "_MP_" */
	uint32_t physptr;
	uint8_t length;		/* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4];	/* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define CPU_ENABLED 1
#define CPU_BSP 2
#define APIC_VERSION 0x14
#define IOAPIC_VERSION 0x11
#define CPU_FEATURE_FPU_APIC 0x201	/* CPUID.1:EDX FPU and APIC */
#define CPU_SIGNATURE 0x600		/* family 6 */

static uint8_t checksum(const void *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += ((const uint8_t *)p)[i];
	return (uint8_t)-sum;
}

unsigned int x86_mptable_ioapic_id(unsigned int nr_cpus)
{
	return nr_cpus;
}

int x86_mptable_write(struct guest_mem *gm, unsigned int nr_cpus)
{
	uint8_t buf[X86_EBDA_END - X86_EBDA_ADDR];
	size_t off = sizeof(struct mpf_intel) + sizeof(struct mpc_table);
	uint16_t count = 0;
	uint8_t ioapic = (uint8_t)x86_mptable_ioapic_id(nr_cpus);

	if (nr_cpus == 0 || nr_cpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	size_t need = off + nr_cpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
		      sizeof(struct mpc_ioapic) + (MPTABLE_IRQS + 2) * sizeof(struct mpc_intsrc);
	if (need > sizeof(buf))
		return -ENOSPC;
	memset(buf, 0, sizeof(buf));

#define PUT(entry) do { memcpy(buf + off, &(entry), sizeof(entry)); off += sizeof(entry); \
			count++; } while (0)
	for (unsigned int i = 0; i < nr_cpus; i++) {
		struct mpc_cpu cpu = {
			.type = MP_PROCESSOR, .apicid = (uint8_t)i, .apicver = APIC_VERSION,
			.cpuflag = CPU_ENABLED | (i == 0 ? CPU_BSP : 0),
			.cpufeature = CPU_SIGNATURE, .featureflag = CPU_FEATURE_FPU_APIC,
		};
		PUT(cpu);
	}
	struct mpc_bus bus = { .type = MP_BUS, .busid = 0, .bustype = "ISA   " };
	PUT(bus);
	struct mpc_ioapic io = { .type = MP_IOAPIC, .apicid = ioapic, .apicver = IOAPIC_VERSION,
				 .flags = 1, .apicaddr = (uint32_t)X86_IOAPIC_ADDR };
	PUT(io);
	for (uint8_t irq = 0; irq < MPTABLE_IRQS; irq++) {
		struct mpc_intsrc src = { .type = MP_INTSRC, .irqtype = MP_INT, .srcbus = 0,
					  .srcbusirq = irq, .dstapic = ioapic, .dstirq = irq };
		PUT(src);
	}
	/* LINT0 takes the legacy PIC (ExtINT), LINT1 NMIs, as kiln programs each LAPIC. */
	struct mpc_intsrc lint0 = { .type = MP_LINTSRC, .irqtype = MP_EXTINT, .dstapic = 0xff,
				    .dstirq = 0 };
	struct mpc_intsrc lint1 = { .type = MP_LINTSRC, .irqtype = MP_NMI, .dstapic = 0xff,
				    .dstirq = 1 };
	PUT(lint0);
	PUT(lint1);
#undef PUT

	struct mpc_table *table = (struct mpc_table *)(buf + sizeof(struct mpf_intel));
	memcpy(table->signature, "PCMP", 4);
	table->length = (uint16_t)(off - sizeof(struct mpf_intel));
	table->spec = 4;
	memcpy(table->oem, "KILN    ", 8);
	memcpy(table->productid, "MICROVM     ", 12);
	table->oemcount = count;
	table->lapic = (uint32_t)X86_LAPIC_ADDR;
	table->checksum = checksum(table, table->length);

	struct mpf_intel *mpf = (struct mpf_intel *)buf;
	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(X86_EBDA_ADDR + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = checksum(mpf, sizeof(*mpf));

	return gm_write(gm, X86_EBDA_ADDR, buf, off);
}
