/* CPUID filtering: hypervisor bits, APIC ids and topology leaves per vCPU; other leaves untouched. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "cpuid.h"

#define ENTRY(fn, idx, a, b, c, d) \
	{ .function = (fn), .index = (idx), .eax = (a), .ebx = (b), .ecx = (c), .edx = (d) }

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *e, unsigned int n,
				     uint32_t function, uint32_t index)
{
	for (unsigned int i = 0; i < n; i++)
		if (e[i].function == function && e[i].index == index)
			return &e[i];
	cr_assert_fail("leaf 0x%x.%u missing", function, index);
	return NULL;
}

Test(cpuid, leaf1_apic_id_hypervisor_monitor_htt)
{
	struct kvm_cpuid_entry2 e[] = {
		/* Family 6 signature; EBX: APIC id 0x77, count 0x55, CLFLUSH 8, brand 0x0d;
		 * ECX: SSE3 | MONITOR | SSE4.2; EDX: FPU | APIC | SSE2 without HTT. */
		ENTRY(0x1, 0, 0x000806f8, 0x77550800 | 0x0d, 0x00100009, 0x04000201),
	};
	struct cpu_topology t = { .vcpu_id = 3, .nr_vcpus = 4 };
	x86_cpuid_filter(e, 1, &t);
	cr_assert_eq(e[0].eax, 0x000806f8, "signature untouched");
	cr_assert_eq(e[0].ebx, 0x0304080d, "APIC id 3, 4 logical CPUs, low half kept");
	cr_assert(e[0].ecx & (1u << 31), "hypervisor bit");
	cr_assert_not(e[0].ecx & (1u << 3), "MONITOR hidden");
	cr_assert_eq(e[0].ecx & ~((1u << 31) | (1u << 3)), 0x00100001, "other ECX bits kept");
	cr_assert(e[0].edx & (1u << 28), "HTT with more than one CPU");
	cr_assert_eq(e[0].edx & ~(1u << 28), 0x04000201);
}

Test(cpuid, leaf1_single_cpu_clears_htt)
{
	struct kvm_cpuid_entry2 e[] = { ENTRY(0x1, 0, 0, 0xff000000, 0, 0x14000000) };
	struct cpu_topology t = { .vcpu_id = 0, .nr_vcpus = 1 };
	x86_cpuid_filter(e, 1, &t);
	cr_assert_eq(e[0].ebx, 0x00010000);
	cr_assert_eq(e[0].edx, 0x04000000, "HTT cleared, SSE2 kept");
	cr_assert_eq(e[0].ecx, 0x80000000u);
}

static void check_topology_leaf(uint32_t leaf)
{
	struct kvm_cpuid_entry2 e[] = {
		ENTRY(leaf, 0, 0xdead, 0xdead, 0xdead, 0xdead),
		ENTRY(leaf, 1, 0xdead, 0xdead, 0xdead, 0xdead),
		ENTRY(leaf, 2, 0xdead, 0xdead, 0xdead, 0xdead),
	};
	struct cpu_topology t = { .vcpu_id = 5, .nr_vcpus = 8, .smt = false };
	x86_cpuid_filter(e, 3, &t);
	/* Subleaf 0: SMT level, one thread per core. */
	cr_assert_eq(e[0].eax, 0);
	cr_assert_eq(e[0].ebx, 1);
	cr_assert_eq(e[0].ecx, 0x100);
	cr_assert_eq(e[0].edx, 5, "x2APIC id");
	/* Subleaf 1: core level, 8 logical CPUs, shift 3 to the package id. */
	cr_assert_eq(e[1].eax, 3);
	cr_assert_eq(e[1].ebx, 8);
	cr_assert_eq(e[1].ecx, 0x201);
	cr_assert_eq(e[1].edx, 5);
	/* Subleaf 2: invalid level ends the enumeration. */
	cr_assert_eq(e[2].eax, 0);
	cr_assert_eq(e[2].ebx, 0);
	cr_assert_eq(e[2].ecx, 2);
	cr_assert_eq(e[2].edx, 5);
}

Test(cpuid, leaf_b_topology)
{
	check_topology_leaf(0xb);
}

Test(cpuid, leaf_1f_topology)
{
	check_topology_leaf(0x1f);
}

Test(cpuid, leaf_b_with_smt)
{
	struct kvm_cpuid_entry2 e[] = {
		ENTRY(0xb, 0, 0, 0, 0, 0),
		ENTRY(0xb, 1, 0, 0, 0, 0),
	};
	struct cpu_topology t = { .vcpu_id = 1, .nr_vcpus = 6, .smt = true };
	x86_cpuid_filter(e, 2, &t);
	cr_assert_eq(e[0].eax, 1, "one bit of thread id");
	cr_assert_eq(e[0].ebx, 2, "two threads per core");
	cr_assert_eq(e[0].ecx, 0x100);
	cr_assert_eq(e[0].edx, 1);
	cr_assert_eq(e[1].eax, 3, "6 CPUs need 3 id bits");
	cr_assert_eq(e[1].ebx, 6);
	cr_assert_eq(e[1].ecx, 0x201);
}

Test(cpuid, leaf4_cache_sharing)
{
	struct kvm_cpuid_entry2 e[] = {
		ENTRY(0x4, 0, 0xfc000121, 0x01c0003f, 0x3f, 0),	/* L1 data */
		ENTRY(0x4, 1, 0xfc000122, 0x01c0003f, 0x3f, 0),	/* L1 instruction */
		ENTRY(0x4, 2, 0xfc01c143, 0x03c0003f, 0x3ff, 0),	/* L2 unified */
		ENTRY(0x4, 3, 0xfc3fc163, 0x03c0003f, 0x3fff, 6),	/* L3 unified */
		ENTRY(0x4, 4, 0, 0, 0, 0),				/* no more caches */
	};
	struct cpu_topology t = { .vcpu_id = 0, .nr_vcpus = 4, .smt = false };
	x86_cpuid_filter(e, 5, &t);
	cr_assert_eq(e[0].eax, (3u << 26) | 0x121, "4 cores, L1 not shared");
	cr_assert_eq(e[1].eax, (3u << 26) | 0x122);
	cr_assert_eq(e[2].eax, (3u << 26) | 0x143, "L2 private to the core");
	cr_assert_eq(e[3].eax, (3u << 26) | (3u << 14) | 0x163, "L3 shared by all 4");
	cr_assert_eq(e[3].ebx, 0x03c0003f, "geometry untouched");
	cr_assert_eq(e[3].edx, 6);
	cr_assert_eq(e[4].eax, 0, "null subleaf untouched");

	struct kvm_cpuid_entry2 s[] = { ENTRY(0x4, 0, 0x121, 0, 0, 0) };
	struct cpu_topology ts = { .vcpu_id = 0, .nr_vcpus = 4, .smt = true };
	x86_cpuid_filter(s, 1, &ts);
	cr_assert_eq(s[0].eax, (1u << 26) | (1u << 14) | 0x121, "2 cores, L1 shared by 2 threads");
}

Test(cpuid, leaf6_hidden)
{
	struct kvm_cpuid_entry2 e[] = { ENTRY(0x6, 0, 0x77, 0x2, 0x9, 0x0) };
	struct cpu_topology t = { .vcpu_id = 0, .nr_vcpus = 1 };
	x86_cpuid_filter(e, 1, &t);
	cr_assert_eq(e[0].eax | e[0].ebx | e[0].ecx | e[0].edx, 0);
}

Test(cpuid, kvm_signature_leaf)
{
	struct kvm_cpuid_entry2 e[] = {
		ENTRY(0x40000000, 0, 0x40000000, 0, 0, 0),
		ENTRY(0x40000001, 0, 0x01007afb, 0, 0, 0),
	};
	struct cpu_topology t = { .vcpu_id = 0, .nr_vcpus = 2 };
	char sig[13] = { 0 };
	x86_cpuid_filter(e, 2, &t);
	memcpy(sig, &e[0].ebx, 4);
	memcpy(sig + 4, &e[0].ecx, 4);
	memcpy(sig + 8, &e[0].edx, 4);
	cr_assert_eq(memcmp(sig, "KVMKVMKVM\0\0\0", 12), 0, "signature \"%s\"", sig);
	cr_assert_eq(e[0].eax, 0x40000001, "the features leaf is reachable");
	cr_assert_eq(e[1].eax, 0x01007afb, "KVM features untouched");

	struct kvm_cpuid_entry2 h[] = { ENTRY(0x40000000, 0, 0x40000010, 1, 2, 3) };
	x86_cpuid_filter(h, 1, &t);
	cr_assert_eq(h[0].eax, 0x40000010, "a higher max leaf is kept");
}

Test(cpuid, amd_leaves)
{
	struct kvm_cpuid_entry2 e[] = {
		ENTRY(0x80000001, 0, 0x00a20f10, 0, 0x75c237ff, 0x2fd3fbff),
		ENTRY(0x80000008, 0, 0x00003030, 0x111ef657, 0xffffffff, 0x00010000),
		ENTRY(0x8000001e, 0, 0xffff, 0xffffffff, 0xffffffff, 0),
	};
	struct cpu_topology t = { .vcpu_id = 5, .nr_vcpus = 6, .smt = true };
	x86_cpuid_filter(e, 3, &t);
	cr_assert_eq(e[0].ecx, 0x75c237ff, "CmpLegacy stays set with several CPUs");
	cr_assert_eq(e[0].eax, 0x00a20f10);
	cr_assert_eq(e[1].ecx, 0xffff0f05 | (3u << 12), "NC = 5, 3 APIC id bits, rest kept");
	cr_assert_eq(e[1].eax, 0x00003030, "address sizes untouched");
	cr_assert_eq(e[1].ebx, 0x111ef657);
	cr_assert_eq(e[2].eax, 5, "extended APIC id");
	cr_assert_eq(e[2].ebx, 0xffff0000 | (1u << 8) | 2, "2 threads per core, core 2");
	cr_assert_eq(e[2].ecx, 0xffffff00, "node 0");

	struct kvm_cpuid_entry2 one[] = {
		ENTRY(0x80000001, 0, 0, 0, 0x2, 0),
		ENTRY(0x80000008, 0, 0, 0, 0x0000f0ff, 0),
	};
	struct cpu_topology t1 = { .vcpu_id = 0, .nr_vcpus = 1 };
	x86_cpuid_filter(one, 2, &t1);
	cr_assert_eq(one[0].ecx, 0, "no CmpLegacy for one CPU");
	cr_assert_eq(one[1].ecx, 0, "NC = 0, no id bits");
}

Test(cpuid, other_leaves_untouched)
{
	struct kvm_cpuid_entry2 e[] = {
		ENTRY(0x0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),
		ENTRY(0x7, 0, 0x2, 0xf3bfa7eb, 0x1b415f6e, 0xbc000410),
		ENTRY(0xd, 1, 0xf, 0x240, 0, 0),
		ENTRY(0x80000000, 0, 0x80000008, 0x68747541, 0x444d4163, 0x69746e65),
		ENTRY(0x1, 0, 0, 0, 0, 0),
	};
	struct kvm_cpuid_entry2 before[5];
	struct cpu_topology t = { .vcpu_id = 2, .nr_vcpus = 4, .smt = true };
	memcpy(before, e, sizeof(e));
	x86_cpuid_filter(e, 5, &t);
	cr_assert_arr_eq(e, before, 4 * sizeof(e[0]));
	cr_assert_neq(memcmp(&e[4], &before[4], sizeof(e[4])), 0, "leaf 1 was filtered");
	cr_assert_eq(find(e, 5, 0x1, 0)->ebx >> 24, 2);
}

Test(cpuid, only_first_nr_entries)
{
	struct kvm_cpuid_entry2 e[] = {
		ENTRY(0x1, 0, 0, 0, 0, 0),
		ENTRY(0x1, 0, 0, 0, 0, 0),
	};
	struct cpu_topology t = { .vcpu_id = 1, .nr_vcpus = 2 };
	x86_cpuid_filter(e, 1, &t);
	cr_assert_eq(e[0].ebx, 0x01020000);
	cr_assert_eq(e[1].ebx, 0, "entry past nr left alone");
}
