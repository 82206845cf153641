/* Initial vCPU state for x86-64: segments, control registers, MSRs, FPU, LAPIC, CPUID. */
#ifndef KILN_X86_REGS_H
#define KILN_X86_REGS_H

#include <linux/kvm.h>
#include "cpuid.h"
#include "error.h"
#include "kernel.h"

/*
 * Configure one vCPU. The boot vCPU (id 0) starts at the kernel's entry in the
 * mode its protocol wants; the others wait for INIT/SIPI from the guest, as on
 * real hardware, with CPUID, MSRs, FPU and LAPIC already set.
 */
int x86_vcpu_configure(int vcpu_fd, const struct x86_kernel *k, const struct kvm_cpuid2 *cpuid,
		       const struct cpu_topology *topo, struct error *err) MUST_CHECK;
void x86_vcpu_log_state(int vcpu_fd, unsigned int id);

#endif
