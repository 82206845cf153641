/* Where the arm64 machine puts things in guest physical memory, and its interrupt lines. */
#ifndef KILN_A64_LAYOUT_H
#define KILN_A64_LAYOUT_H

#include "util.h"

/*
 * Below 1 GiB: the interrupt controller. GICv3: the distributor in the top 64 KiB, one
 * 128 KiB redistributor frame per vCPU below it. GICv2: distributor and CPU interface.
 */
#define A64_GIC_TOP		GiB(1)
#define A64_GICD_SIZE		KiB(64)
#define A64_GICD_BASE		(A64_GIC_TOP - A64_GICD_SIZE)
#define A64_GICR_SIZE_PER_CPU	KiB(128)
#define A64_GICV2_DIST_SIZE	KiB(4)
#define A64_GICV2_CPU_SIZE	KiB(8)
#define A64_GICV2_CPU_BASE	(A64_GICD_BASE - KiB(64))
#define A64_GICV2_MAX_CPUS	8

/* 1 GiB to 2 GiB: devices. The UART and the RTC first, then what devices allocate. */
#define A64_MMIO_BASE		GiB(1)
#define A64_SERIAL_BASE		A64_MMIO_BASE
#define A64_SERIAL_SIZE		KiB(4)
#define A64_RTC_BASE		(A64_MMIO_BASE + KiB(4))
#define A64_RTC_SIZE		KiB(4)
#define A64_MMIO_START		(A64_MMIO_BASE + KiB(8))	/* vm_alloc_mmio from here */
#define A64_MMIO_END		GiB(2)

/* RAM from 2 GiB up, as on Firecracker's arm64 machine. */
#define A64_DRAM_BASE		GiB(2)
#define A64_FDT_MAX		MiB(2)	/* the boot protocol's limit for the device tree */

/*
 * Interrupt lines are SPI numbers (INTID 32 + n): what KVM_IRQFD's gsi and the device
 * tree's GIC_SPI cells take. The GIC is created with A64_GIC_NR_IRQS interrupts.
 */
#define A64_GIC_NR_IRQS		128
#define A64_SERIAL_SPI		1
#define A64_RTC_SPI		2
#define A64_FIRST_DEVICE_SPI	3
#define A64_LAST_DEVICE_SPI	(A64_GIC_NR_IRQS - 32 - 1)

#endif
