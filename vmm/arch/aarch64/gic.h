/* The in-kernel interrupt controller: a GICv3 (or a GICv2 where KVM has no GICv3). */
#ifndef KILN_A64_GIC_H
#define KILN_A64_GIC_H

#include "devicetree.h"
#include "error.h"

struct a64_gic {
	int fd;				/* the KVM device */
	unsigned int version;		/* 3 or 2 */
	struct a64_fdt_window dist, redist, cpu;
};

/*
 * Create and initialise the GIC for nr_vcpus vCPUs, after every vCPU exists and has had
 * KVM_ARM_VCPU_INIT, and before any irqfd (KVM accepts irqfds only once it is ready).
 */
int a64_gic_create(int vm_fd, unsigned int nr_vcpus, struct a64_gic *gic,
		   struct error *err) MUST_CHECK;
void a64_gic_destroy(struct a64_gic *gic);

#endif
