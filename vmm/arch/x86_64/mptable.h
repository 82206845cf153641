/* Intel MultiProcessor table: how a guest finds its CPUs, IOAPIC and interrupt routing. */
#ifndef KILN_X86_MPTABLE_H
#define KILN_X86_MPTABLE_H

#include <stdint.h>
#include "memory.h"

#define MPTABLE_MAX_CPUS 32
#define MPTABLE_IRQS 24		/* IOAPIC pins, all routed from ISA bus 0 */

/*
 * Write the floating pointer and configuration table at X86_EBDA_ADDR: one
 * processor entry per vCPU (APIC ID = index, CPU 0 the bootstrap processor),
 * an ISA bus, the IOAPIC, pins 0-23 and LINT0 ExtINT / LINT1 NMI.
 * Returns 0, -EINVAL (vCPU count), -ENOSPC (does not fit in the EBDA) or -EFAULT
 * (guest RAM does not reach the EBDA).
 */
int x86_mptable_write(struct guest_mem *gm, unsigned int nr_cpus);
/* The IOAPIC id the table uses (after the CPUs' APIC ids). */
unsigned int x86_mptable_ioapic_id(unsigned int nr_cpus);

#endif
