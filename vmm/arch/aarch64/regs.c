/* arm64 vCPUs: KVM_ARM_VCPU_INIT with PSCI, the boot registers, MPIDR, the register dump. */
#include "regs.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

#define CORE_REG(field) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
			 KVM_REG_ARM_CORE_REG(field))
#define REG_MPIDR_EL1	ARM64_SYS_REG(3, 0, 0, 0, 5)
#define REG_ESR_EL1	ARM64_SYS_REG(3, 0, 5, 2, 0)
#define REG_FAR_EL1	ARM64_SYS_REG(3, 0, 6, 0, 0)

/* PSTATE at entry: EL1 with SP_EL1, debug, SError, IRQ and FIQ masked. */
#define PSTATE_MODE_EL1h	0x005ULL
#define PSTATE_F		0x040ULL
#define PSTATE_I		0x080ULL
#define PSTATE_A		0x100ULL
#define PSTATE_D		0x200ULL
#define BOOT_PSTATE (PSTATE_MODE_EL1h | PSTATE_F | PSTATE_I | PSTATE_A | PSTATE_D)

static int get_reg(int fd, uint64_t id, uint64_t *v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)v };
	return ioctl(fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int set_reg(int fd, uint64_t id, uint64_t v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&v };
	return ioctl(fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

int a64_vcpu_init(int vm_fd, int vcpu_fd, unsigned int id, uint64_t *mpidr, struct error *err)
{
	struct kvm_vcpu_init init;
	int ret;

	memset(&init, 0, sizeof(init));
	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return error_set(err, -errno, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (id > 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return error_set(err, -errno, "vCPU %u: KVM_ARM_VCPU_INIT (target %u): %s", id,
				 init.target, strerror(errno));
	if ((ret = get_reg(vcpu_fd, REG_MPIDR_EL1, mpidr)) < 0)
		return error_set(err, ret, "vCPU %u: reading MPIDR_EL1: %s", id, strerror(-ret));
	return 0;
}

int a64_vcpu_set_boot_regs(int vcpu_fd, uint64_t pc, uint64_t fdt, struct error *err)
{
	int ret;
	if ((ret = set_reg(vcpu_fd, CORE_REG(regs.pstate), BOOT_PSTATE)) < 0 ||
	    (ret = set_reg(vcpu_fd, CORE_REG(regs.pc), pc)) < 0 ||
	    (ret = set_reg(vcpu_fd, CORE_REG(regs.regs[0]), fdt)) < 0 ||
	    (ret = set_reg(vcpu_fd, CORE_REG(regs.regs[1]), 0)) < 0 ||
	    (ret = set_reg(vcpu_fd, CORE_REG(regs.regs[2]), 0)) < 0 ||
	    (ret = set_reg(vcpu_fd, CORE_REG(regs.regs[3]), 0)) < 0)
		return error_set(err, ret, "KVM_SET_ONE_REG (boot registers): %s", strerror(-ret));
	return 0;
}

void a64_vcpu_log_state(int vcpu_fd, unsigned int id)
{
	uint64_t x[31], pc = 0, pstate = 0, sp = 0, elr = 0, esr = 0, far = 0;
	int ret = 0;

	for (unsigned int i = 0; i < 31 && ret == 0; i++)
		ret = get_reg(vcpu_fd, CORE_REG(regs.regs[i]), &x[i]);
	if (ret == 0 && (ret = get_reg(vcpu_fd, CORE_REG(regs.pc), &pc)) == 0 &&
	    (ret = get_reg(vcpu_fd, CORE_REG(regs.pstate), &pstate)) == 0 &&
	    (ret = get_reg(vcpu_fd, CORE_REG(sp_el1), &sp)) == 0 &&
	    (ret = get_reg(vcpu_fd, CORE_REG(elr_el1), &elr)) == 0 &&
	    (ret = get_reg(vcpu_fd, REG_ESR_EL1, &esr)) == 0)
		ret = get_reg(vcpu_fd, REG_FAR_EL1, &far);
	if (ret < 0) {
		log_error("vCPU %u: cannot read its registers: %s", id, strerror(-ret));
		return;
	}
	log_error("vCPU %u: pc=%016llx pstate=%08llx sp_el1=%016llx elr_el1=%016llx "
		  "esr_el1=%08llx far_el1=%016llx", id, (unsigned long long)pc,
		  (unsigned long long)pstate, (unsigned long long)sp, (unsigned long long)elr,
		  (unsigned long long)esr, (unsigned long long)far);
	for (unsigned int i = 0; i < 31; i += 4) {
		char line[128];
		int n = 0;
		for (unsigned int j = i; j < i + 4 && j < 31; j++)
			n += snprintf(line + n, sizeof(line) - (size_t)n, " x%-2u=%016llx", j,
				      (unsigned long long)x[j]);
		log_error("vCPU %u:%s", id, line);
	}
}
