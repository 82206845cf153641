/* Initial vCPU state for x86-64: segments, control registers, MSRs, FPU, LAPIC, CPUID. */
#include "regs.h"

#include <asm/processor-flags.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot.h"
#include "layout.h"
#include "log.h"

#define MSR_IA32_TSC		0x10
#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MISC_ENABLE_FAST_STRING	1
#define MTRR_ENABLE		(1u << 11)
#define MTRR_TYPE_WRBACK	6
#define EFER_LME		(1u << 8)
#define EFER_LMA		(1u << 10)

#define APIC_LVT0		0x350
#define APIC_LVT1		0x360
#define APIC_MODE_NMI		0x4
#define APIC_MODE_EXTINT	0x7

static int set_msrs(int fd, struct error *err)
{
	static const struct { uint32_t index; uint64_t value; } boot[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 }, { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WRBACK },
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARRAY_SIZE(boot)];
	} msrs;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = ARRAY_SIZE(boot);
	for (size_t i = 0; i < ARRAY_SIZE(boot); i++) {
		msrs.e[i].index = boot[i].index;
		msrs.e[i].data = boot[i].value;
	}
	int n = ioctl(fd, KVM_SET_MSRS, &msrs);
	if (n < 0)
		return error_set(err, -errno, "KVM_SET_MSRS: %s", strerror(errno));
	if ((size_t)n != ARRAY_SIZE(boot))
		return error_set(err, -EINVAL, "KVM_SET_MSRS: KVM refused MSR 0x%x",
				 boot[n].index);
	return 0;
}

static int set_fpu(int fd, struct error *err)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;	/* x87 default: all exceptions masked, extended precision */
	fpu.mxcsr = 0x1f80;	/* SSE default: all exceptions masked */
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return error_set(err, -errno, "KVM_SET_FPU: %s", strerror(errno));
	return 0;
}

#define APIC_LVT_MASKED		(1u << 16)

static void set_lvt(struct kvm_lapic_state *lapic, unsigned int reg, uint32_t mode, bool masked)
{
	uint32_t v;
	memcpy(&v, lapic->regs + reg, sizeof(v));
	v = (v & ~(0x700u | APIC_LVT_MASKED)) | (mode << 8) | (masked ? APIC_LVT_MASKED : 0);
	memcpy(lapic->regs + reg, &v, sizeof(v));
}

static int set_lapic(int fd, bool bsp, struct error *err)
{
	struct kvm_lapic_state lapic;
	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return error_set(err, -errno, "KVM_GET_LAPIC: %s", strerror(errno));
	/*
	 * Virtual wire mode, as firmware leaves it (MP spec 3.6.2.2): the PIC arrives on
	 * the boot CPU's LINT0, NMIs on every CPU's LINT1.
	 */
	set_lvt(&lapic, APIC_LVT0, APIC_MODE_EXTINT, !bsp);
	set_lvt(&lapic, APIC_LVT1, APIC_MODE_NMI, false);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
		return error_set(err, -errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static int set_cpuid(int fd, const struct kvm_cpuid2 *supported, const struct cpu_topology *t,
		     struct error *err)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	if (!c)
		return error_set(err, -ENOMEM, "out of memory for CPUID");
	memcpy(c, supported, size);
	x86_cpuid_filter(c->entries, c->nent, t);
	int ret = ioctl(fd, KVM_SET_CPUID2, c);
	free(c);
	if (ret < 0)
		return error_set(err, -errno, "KVM_SET_CPUID2: %s", strerror(errno));
	return 0;
}

static struct kvm_segment segment(uint16_t sel, uint64_t gdt_entry)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel,
		.type = (gdt_entry >> 40) & 0xf, .present = (gdt_entry >> 47) & 1,
		.dpl = (gdt_entry >> 45) & 3, .db = (gdt_entry >> 54) & 1,
		.s = (gdt_entry >> 44) & 1, .l = (gdt_entry >> 53) & 1,
		.g = (gdt_entry >> 55) & 1,
	};
}

static int set_boot_regs(int fd, const struct x86_kernel *k, struct error *err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint64_t gdt[4];

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return error_set(err, -errno, "KVM_GET_SREGS: %s", strerror(errno));
	x86_gdt_build(gdt, k->protocol);
	sregs.gdt.base = X86_GDT_ADDR;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = X86_IDT_ADDR;
	sregs.idt.limit = sizeof(uint64_t) - 1;
	sregs.cs = segment(X86_GDT_CODE_SEL, gdt[1]);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss =
		segment(X86_GDT_DATA_SEL, gdt[2]);
	sregs.tr = segment(X86_GDT_TSS_SEL, gdt[3]);

	memset(&regs, 0, sizeof(regs));
	regs.rflags = X86_EFLAGS_FIXED;
	regs.rip = k->entry;
	if (k->protocol == X86_BOOT_PVH) {
		/* 32-bit protected mode, paging off, EBX = start info. */
		sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
		regs.rbx = X86_PVH_INFO_ADDR;
	} else {
		/* Long mode on the identity map, RSI = boot_params. */
		sregs.cr3 = X86_PML4_ADDR;
		sregs.cr4 |= X86_CR4_PAE;
		sregs.cr0 |= X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
		sregs.efer |= EFER_LME | EFER_LMA;
		regs.rsp = regs.rbp = X86_BOOT_STACK;
		regs.rsi = X86_ZERO_PAGE_ADDR;
	}
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return error_set(err, -errno, "KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return error_set(err, -errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int x86_vcpu_configure(int fd, const struct x86_kernel *k, const struct kvm_cpuid2 *cpuid,
		       const struct cpu_topology *topo, struct error *err)
{
	int ret = set_cpuid(fd, cpuid, topo, err);
	if (ret == 0)
		ret = set_msrs(fd, err);
	if (ret == 0)
		ret = set_fpu(fd, err);
	if (ret == 0)
		ret = set_lapic(fd, topo->vcpu_id == 0, err);
	if (ret == 0 && topo->vcpu_id == 0)
		ret = set_boot_regs(fd, k, err);
	if (ret < 0)
		error_prefix(err, "vCPU %u", topo->vcpu_id);
	return ret;
}

void x86_vcpu_log_state(int fd, unsigned int id)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(fd, KVM_GET_REGS, &r) < 0 || ioctl(fd, KVM_GET_SREGS, &s) < 0) {
		log_error("vCPU %u: cannot read registers: %m", id);
		return;
	}
	log_error("vCPU %u: rip=0x%llx rsp=0x%llx rflags=0x%llx rax=0x%llx rbx=0x%llx "
		  "rcx=0x%llx rdx=0x%llx rsi=0x%llx rdi=0x%llx rbp=0x%llx", id, r.rip, r.rsp,
		  r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp);
	log_error("vCPU %u: cr0=0x%llx cr2=0x%llx cr3=0x%llx cr4=0x%llx efer=0x%llx "
		  "cs=0x%x(base 0x%llx l=%u db=%u) ss=0x%x", id, s.cr0, s.cr2, s.cr3, s.cr4,
		  s.efer, s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.ss.selector);
	/* KVM on AMD answers a shutdown by re-initialising the vCPU (the VMCB is undefined
	 * after one), so these registers may be the reset values, not the crash. */
	if (r.rip == 0xfff0 && s.cs.base == 0xffff0000 && !(s.cr0 & X86_CR0_PE))
		log_error("vCPU %u: these are the reset values: KVM re-initialised the vCPU "
			  "(as it does on AMD after a shutdown), so its state at the fault is lost",
			  id);
}
