/* CPUID for a guest: what KVM supports, filtered and given a per-vCPU topology. */
#include "cpuid.h"

#include <string.h>

#define CPUID1_ECX_MONITOR	(1u << 3)
#define CPUID1_ECX_HYPERVISOR	(1u << 31)
#define CPUID1_EDX_HTT		(1u << 28)
#define CPUID_EXT1_ECX_CMP_LEGACY (1u << 1)
#define TOPO_LEVEL_SMT		1
#define TOPO_LEVEL_CORE		2

/* Bits needed to number n items (ceil(log2 n)). */
static unsigned int id_bits(unsigned int n)
{
	unsigned int b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

/* SMT pairs vCPUs into cores; a single vCPU is a core of its own either way. */
static unsigned int threads_per_core(const struct cpu_topology *t)
{
	return t->smt && t->nr_vcpus > 1 ? 2 : 1;
}

static void topology_leaf(struct kvm_cpuid_entry2 *e, const struct cpu_topology *t)
{
	unsigned int threads = threads_per_core(t);
	unsigned int sub = e->index;

	e->edx = t->vcpu_id;	/* x2APIC id */
	if (sub == 0) {
		e->eax = id_bits(threads);
		e->ebx = threads;
		e->ecx = (TOPO_LEVEL_SMT << 8) | sub;
	} else if (sub == 1) {
		e->eax = id_bits(t->nr_vcpus);
		e->ebx = t->nr_vcpus;
		e->ecx = (TOPO_LEVEL_CORE << 8) | sub;
	} else {
		e->eax = 0;
		e->ebx = 0;
		e->ecx = sub;	/* level type 0: no more levels */
	}
}

void x86_cpuid_filter(struct kvm_cpuid_entry2 *entries, unsigned int nr,
		      const struct cpu_topology *t)
{
	unsigned int threads = threads_per_core(t);
	unsigned int cores = t->nr_vcpus / threads ? t->nr_vcpus / threads : 1;

	for (unsigned int i = 0; i < nr; i++) {
		struct kvm_cpuid_entry2 *e = &entries[i];
		switch (e->function) {
		case 0x1:
			e->ebx = (e->ebx & 0x0000ffffu) | (t->vcpu_id << 24) |
				 ((t->nr_vcpus & 0xffu) << 16);
			e->ecx |= CPUID1_ECX_HYPERVISOR;
			e->ecx &= ~CPUID1_ECX_MONITOR;
			if (t->nr_vcpus > 1)
				e->edx |= CPUID1_EDX_HTT;
			else
				e->edx &= ~CPUID1_EDX_HTT;
			break;
		case 0x4: {
			/* Deterministic cache parameters: cores per package, sharing per level. */
			unsigned int level = (e->eax >> 5) & 0x7;
			unsigned int sharing = level >= 3 ? t->nr_vcpus : threads;
			if ((e->eax & 0x1f) == 0)
				break;	/* no cache at this subleaf */
			e->eax &= 0x3fffu;
			e->eax |= ((cores - 1) & 0x3f) << 26;
			e->eax |= ((sharing - 1) & 0xfff) << 14;
			break;
		}
		case 0x6:
			/* Thermal and power management are the host's business. */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
		case 0x1f:
			topology_leaf(e, t);
			break;
		case 0x40000000:
			memcpy(&e->ebx, "KVMK", 4);
			memcpy(&e->ecx, "VMKV", 4);
			memcpy(&e->edx, "M\0\0\0", 4);
			if (e->eax < 0x40000001)
				e->eax = 0x40000001;
			break;
		case 0x80000001:
			if (t->nr_vcpus > 1)
				e->ecx |= CPUID_EXT1_ECX_CMP_LEGACY;
			else
				e->ecx &= ~CPUID_EXT1_ECX_CMP_LEGACY;
			break;
		case 0x80000008:
			/* AMD: NC = logical processors - 1, and the APIC id bits for them. */
			e->ecx = (e->ecx & ~0xf0ffu) | ((t->nr_vcpus - 1) & 0xff) |
				 (id_bits(t->nr_vcpus) << 12);
			break;
		case 0x8000001e:
			e->eax = t->vcpu_id;				/* extended APIC id */
			e->ebx = (e->ebx & ~0xffffu) | ((threads - 1) << 8) | (t->vcpu_id / threads);
			e->ecx &= ~0xffu;				/* node 0 */
			break;
		default:
			break;
		}
	}
}
