/*
 * Finds the CPUs in kiln's MP table, starts each application processor with
 * INIT/SIPI through the local APIC, and has every CPU print one line.
 */
#include "lib/guest.h"

#define TRAMP 0x3000
#define LAPIC 0xfee00000ULL
#define LAPIC_ID 0x20
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_INIT 0x4500
#define ICR_SIPI 0x4600

extern char tramp_start[], tramp_end[], tramp_cr3[], tramp_entry[];
extern void ap_entry64(void);

static volatile u32 ap_done;
static u8 apic_ids[32];

static int checksum_ok(const u8 *p, u32 len)
{
	u8 sum = 0;
	while (len--)
		sum += *p++;
	return sum == 0;
}

/* Returns the number of processor entries, or 0 when the table is missing or corrupt. */
static int read_mptable(void)
{
	const u8 *mpf = 0;
	for (u64 a = 0x9fc00; a < 0xa0000; a += 16) {
		const u8 *p = (const u8 *)a;
		if (p[0] == '_' && p[1] == 'M' && p[2] == 'P' && p[3] == '_') {
			mpf = p;
			break;
		}
	}
	if (!mpf || !checksum_ok(mpf, 16))
		return 0;
	const u8 *t = (const u8 *)(u64)*(const u32 *)(mpf + 4);
	u16 len = *(const u16 *)(t + 4), count = *(const u16 *)(t + 34);
	if (t[0] != 'P' || t[1] != 'C' || t[2] != 'M' || t[3] != 'P' || !checksum_ok(t, len))
		return 0;
	int cpus = 0;
	const u8 *e = t + 44;
	for (u16 i = 0; i < count; i++) {
		if (e[0] == 0) {
			if (cpus < 32)
				apic_ids[cpus] = e[1];
			cpus++;
			e += 20;
		} else {
			e += 8;
		}
	}
	return cpus;
}

static u32 my_apic_id(void)
{
	return mmio_read32(LAPIC + LAPIC_ID) >> 24;
}

void ap_main(void);
void ap_main(void)
{
	puts("cpu ");
	put_dec(my_apic_id());
	puts(" online\n");
	__atomic_store_n(&ap_done, ap_done + 1, __ATOMIC_SEQ_CST);
}

void guest_main(u8 *bp)
{
	(void)bp;
	int cpus = read_mptable();
	puts("smp: mp table lists ");
	put_dec((u64)cpus);
	puts(" cpus\n");
	if (cpus == 0)
		return;

	map_mmio_hole();
	puts("cpu ");
	put_dec(my_apic_id());
	puts(" online (bsp)\n");

	u64 cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	*(u64 *)tramp_cr3 = cr3;
	*(u64 *)tramp_entry = (u64)ap_entry64;
	memcpy((void *)TRAMP, tramp_start, (unsigned long)(tramp_end - tramp_start));

	/* One AP at a time: they share a stack. */
	for (int i = 1; i < cpus; i++) {
		u32 before = ap_done;
		mmio_write32(LAPIC + LAPIC_ICR_HI, (u32)apic_ids[i] << 24);
		mmio_write32(LAPIC + LAPIC_ICR_LO, ICR_INIT);
		mmio_write32(LAPIC + LAPIC_ICR_HI, (u32)apic_ids[i] << 24);
		mmio_write32(LAPIC + LAPIC_ICR_LO, ICR_SIPI | (TRAMP >> 12));
		for (u64 spin = 0; __atomic_load_n(&ap_done, __ATOMIC_SEQ_CST) == before; spin++) {
			/*
			 * 50 times the old bound, which a loaded lab (nested KVM under TCG, a
			 * vCPU thread waiting for one of 2 host CPUs) once ran out: seconds
			 * on hardware, tens of seconds at most in the lab.
			 */
			if (spin == 1000000000ULL) {
				puts("smp: cpu did not start\n");
				return;
			}
		}
	}
	puts("smp: all ");
	put_dec(ap_done + 1);
	puts(" cpus online\n");
}
