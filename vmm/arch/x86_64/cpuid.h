/* CPUID for a guest: what KVM supports, filtered and given a per-vCPU topology. */
#ifndef KILN_X86_CPUID_H
#define KILN_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

struct cpu_topology {
	unsigned int vcpu_id;		/* also the APIC id */
	unsigned int nr_vcpus;
	bool smt;			/* two threads per core */
};

/*
 * Rewrite KVM_GET_SUPPORTED_CPUID output in place for one vCPU: hypervisor bit,
 * KVM signature leaf, APIC ids and topology (leaves 1, 4, 0xb, 0x1f, 0x8000_0008,
 * 0x8000_001e), MONITOR/MWAIT hidden. Entries for leaves kiln does not touch
 * are left as KVM reported them.
 */
void x86_cpuid_filter(struct kvm_cpuid_entry2 *entries, unsigned int nr,
		      const struct cpu_topology *topo);

#endif
