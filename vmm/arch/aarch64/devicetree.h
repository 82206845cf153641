/*
 * The arm64 machine's flattened device tree, built with libfdt from a plain description
 * of the machine: a pure function (no KVM, no guest memory), so it is tested on any host.
 */
#ifndef KILN_A64_DEVICETREE_H
#define KILN_A64_DEVICETREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define A64_FDT_MAX_CPUS	32
#define A64_FDT_MAX_DEVICES	32
#define A64_FDT_RNG_SEED_MAX	64

struct a64_fdt_window {
	uint64_t base, size;
};

/* A device on the MMIO bus with one SPI. */
struct a64_fdt_device {
	const char *compatible;	/* "virtio,mmio", ... */
	struct a64_fdt_window reg;
	unsigned int spi;
	bool edge;		/* edge-triggered, else level (high) */
};

struct a64_machine {
	struct a64_fdt_window mem;		/* RAM */
	unsigned int nr_cpus;
	uint64_t mpidr[A64_FDT_MAX_CPUS];	/* each vCPU's MPIDR_EL1 */
	unsigned int gic_version;		/* 2 or 3 */
	struct a64_fdt_window gic_dist;
	struct a64_fdt_window gic_redist;	/* GICv3: every vCPU's redistributor */
	struct a64_fdt_window gic_cpu;		/* GICv2: the CPU interface */
	struct a64_fdt_device serial;		/* ns16550a, the console */
	struct a64_fdt_device rtc;		/* PL031 */
	unsigned int nr_devices;
	struct a64_fdt_device devices[A64_FDT_MAX_DEVICES];
	const char *bootargs;
	uint64_t initrd_start, initrd_size;	/* size 0: no initrd */
	uint8_t rng_seed[A64_FDT_RNG_SEED_MAX];	/* chosen/rng-seed: entropy for early boot */
	size_t rng_seed_len;
};

/* Phandles the tree uses. */
#define A64_PHANDLE_GIC		1
#define A64_PHANDLE_CLOCK	2

/*
 * Write the device tree for `m` into buf (at most `size` bytes), packed and checked with
 * fdt_check_full. Returns 0 or a -errno with err set (-ENOSPC: buf too small; -EINVAL: a
 * description the tree cannot express, such as too many CPUs).
 */
int a64_fdt_build(const struct a64_machine *m, void *buf, size_t size,
		  struct error *err) MUST_CHECK;

#endif
