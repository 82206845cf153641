/* arm64 vCPUs: KVM_ARM_VCPU_INIT with PSCI, the boot registers, MPIDR, the register dump. */
#ifndef KILN_A64_REGS_H
#define KILN_A64_REGS_H

#include <stdbool.h>
#include <stdint.h>
#include "error.h"

/*
 * Initialise a vCPU as KVM's preferred target with PSCI 0.2+ (`target` from
 * KVM_ARM_PREFERRED_TARGET); secondaries start powered off, waiting for PSCI CPU_ON.
 * Returns its MPIDR_EL1 in *mpidr.
 */
int a64_vcpu_init(int vm_fd, int vcpu_fd, unsigned int id, uint64_t *mpidr,
		  struct error *err) MUST_CHECK;
/* The boot protocol's entry state: PC at the kernel, X0 the FDT, EL1h with DAIF masked. */
int a64_vcpu_set_boot_regs(int vcpu_fd, uint64_t pc, uint64_t fdt,
			   struct error *err) MUST_CHECK;
void a64_vcpu_log_state(int vcpu_fd, unsigned int id);

#endif
