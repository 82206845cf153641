/* The x86-64 machine: memory layout, in-kernel irqchip and PIT, legacy devices, boot. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "acpi.h"
#include "acpi_pm.h"
#include "arch.h"
#include "boot.h"
#include "cpuid.h"
#include "devices/serial.h"
#include "i8042.h"
#include "kernel.h"
#include "kvm.h"
#include "layout.h"
#include "log.h"
#include "metrics.h"
#include "mptable.h"
#include "regs.h"
#include "vcpu.h"
#include "vm.h"

#define CPUID_MAX_ENTRIES 256

struct x86_vm {
	struct vm *vm;
	struct kvm_cpuid2 *cpuid;	/* what KVM supports; filtered per vCPU */
	struct x86_kernel kernel;
	struct x86_initrd initrd;
	struct i8042 *i8042;
	struct acpi_pm acpi_pm;
};

static const struct kvm_cap_req x86_caps[] = {
	KVM_CAP(KVM_CAP_SET_TSS_ADDR),
	KVM_CAP(KVM_CAP_SET_IDENTITY_MAP_ADDR),
	KVM_CAP(KVM_CAP_PIT2),
	KVM_CAP(KVM_CAP_PIT_STATE2),
	KVM_CAP(KVM_CAP_EXT_CPUID),
	KVM_CAP(KVM_CAP_IRQ_ROUTING),
};

int arch_check_caps(int kvm_fd, struct error *err)
{
	return kvm_check_caps(kvm_fd, x86_caps, ARRAY_SIZE(x86_caps), err);
}

static unsigned int host_phys_bits(void)
{
	unsigned int eax, ebx, ecx, edx;
	__asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx)
			 : "a"(0x80000000u), "c"(0));
	if (eax < 0x80000008u)
		return 36;
	__asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx)
			 : "a"(0x80000008u), "c"(0));
	return eax & 0xff;
}

int arch_mem_layout(uint64_t mem_size, struct gm_region *regions, unsigned int *nr,
		    struct error *err)
{
	if (mem_size == 0)
		return error_set(err, -EINVAL, "machine-config.mem_size_mib: must not be 0");
	regions[0] = (struct gm_region){ .gpa = 0, .size = MIN(mem_size, X86_LOWMEM_END) };
	*nr = 1;
	if (mem_size > X86_LOWMEM_END) {
		regions[1] = (struct gm_region){ .gpa = X86_HIGHMEM_START,
						 .size = mem_size - X86_LOWMEM_END };
		*nr = 2;
	}
	uint64_t top = regions[*nr - 1].gpa + regions[*nr - 1].size;
	unsigned int bits = host_phys_bits();
	if (bits < 64 && top > (1ULL << bits))
		return error_set(err, -ENOMEM, "machine-config.mem_size_mib: %llu MiB of guest "
				 "memory goes past this host's %u-bit physical address space",
				 (unsigned long long)(mem_size >> 20), bits);
	return 0;
}

static int get_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out, struct error *err)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES *
					     sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return error_set(err, -ENOMEM, "out of memory for CPUID");
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int e = errno;
		free(c);
		return error_set(err, -e, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
	}
	*out = c;
	return 0;
}

int arch_vm_init(struct vm *vm, struct error *err)
{
	struct x86_vm *x = calloc(1, sizeof(*x));
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = X86_IDENTITY_MAP_ADDR;

	if (!x)
		return error_set(err, -ENOMEM, "out of memory");
	x->vm = vm;
	vm->arch = x;
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_ADDR) < 0)
		return error_set(err, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0)
		return error_set(err, -errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return error_set(err, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	/* The PIT's speaker port (0x61) stays in the kernel: Linux polls it to calibrate. */
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return error_set(err, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	vm->mmio_next = X86_MMIO_START;
	vm->mmio_end = X86_MMIO_END;
	vm->irq_next = X86_FIRST_DEVICE_IRQ;
	vm->irq_last = X86_LAST_DEVICE_IRQ;
	return get_supported_cpuid(vm->kvm_fd, &x->cpuid, err);
}

static void i8042_irq(void *opaque, int level)
{
	struct vm *vm = opaque;
	if (vm_irq_line(vm, X86_I8042_IRQ, level) < 0)
		log_ratelimited(LOG_ERROR, "i8042 IRQ %d: %m", X86_I8042_IRQ);
}

static void i8042_reset(void *opaque)
{
	struct vm *vm = opaque;
	log_info("guest reset through the i8042 keyboard controller; stopping");
	vm_request_stop(vm, 0);
}

static const struct i8042_ops i8042_ops = {
	.set_irq = i8042_irq,
	.reset = i8042_reset,
};

static void acpi_power_off(void *opaque)
{
	struct vm *vm = opaque;
	log_info("guest powered off through ACPI (S5); stopping");
	vm_request_stop(vm, 0);
}

static void acpi_reset(void *opaque)
{
	struct vm *vm = opaque;
	log_info("guest reset through the ACPI reset register; stopping");
	vm_request_stop(vm, 0);
}

static const struct acpi_pm_ops acpi_pm_ops = {
	.power_off = acpi_power_off,
	.reset = acpi_reset,
};

/* Port 0x80: POST codes and the I/O delay Linux uses; accepted and ignored. */
static const struct bus_dev_ops post_ops = { 0 };

unsigned int arch_console_irq(void)
{
	return X86_SERIAL_IRQ;
}

int arch_devices_init(struct vm *vm, const struct vm_config *cfg,
		      const struct arch_devices_env *env, struct error *err)
{
	struct x86_vm *x = vm->arch;
	int ret;
	(void)cfg;

	x->i8042 = i8042_create(&i8042_ops, vm);
	if (!x->i8042)
		return error_set(err, -ENOMEM, "out of memory for legacy devices");
	ret = bus_register(&vm->pio, X86_SERIAL_PORT, 8, &serial_bus_ops, env->console, "serial");
	if (ret == 0)
		ret = bus_register(&vm->pio, X86_I8042_PORT, 5, &i8042_bus_ops, x->i8042, "i8042");
	if (ret == 0)
		ret = bus_register(&vm->pio, X86_POST_PORT, 1, &post_ops, NULL, "post");
	acpi_pm_init(&x->acpi_pm, &acpi_pm_ops, vm);
	if (ret == 0)
		ret = bus_register(&vm->pio, X86_ACPI_PM_PORT, ACPI_PM_LEN, &acpi_pm_bus_ops,
				   &x->acpi_pm, "acpi-pm");
	if (ret < 0)
		return error_set(err, ret, "registering legacy devices: %s", strerror(-ret));
	if (env->metrics) {
		const struct i8042_stats *st = i8042_stats(x->i8042);
		ret |= metrics_add(env->metrics, "i8042", "reset_count", &st->reset_count);
		ret |= metrics_add(env->metrics, "i8042", "read_count", &st->read_count);
		ret |= metrics_add(env->metrics, "i8042", "write_count", &st->write_count);
		ret |= metrics_add(env->metrics, "i8042", "missed_read_count", &st->missed_read_count);
		if (ret < 0)
			return error_set(err, -ENOSPC, "too many metrics");
	}
	return 0;
}

/* A guest told to ignore ACPI (`acpi=off`) learns of devices from the command line. */
static bool acpi_off(const struct vm *vm)
{
	return cmdline_has(&vm->cmdline, "acpi=off");
}

int arch_announce_device(struct vm *vm, const struct vm_device_desc *dev, struct error *err)
{
	(void)err;
	/*
	 * The DSDT describes every device (arch_load_boot). Only a guest booted with
	 * acpi=off gets Linux's `virtio_mmio.device=` entries (which need
	 * CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES): never both, or a kernel that reads both
	 * would claim each window twice.
	 */
	if (acpi_off(vm) && !strcmp(dev->compatible, "virtio,mmio"))
		cmdline_append(&vm->cmdline, "virtio_mmio.device=%lluK@0x%llx:%u",
			       (unsigned long long)(dev->size >> 10),
			       (unsigned long long)dev->base, dev->irq);
	return 0;
}

uint32_t arch_irq_line_id(unsigned int line)
{
	return line;	/* KVM_IRQ_LINE takes the GSI */
}

static int load_kernel(struct vm *vm, int fd, uint64_t size, struct error *err)
{
	struct x86_vm *x = vm->arch;
	(void)size;
	return x86_kernel_load(fd, &vm->mem, &x->kernel, err);
}

static int load_initrd(struct vm *vm, int fd, uint64_t size, struct error *err)
{
	struct x86_vm *x = vm->arch;
	(void)size;
	return x86_initrd_load(fd, &vm->mem, &x->kernel, &x->initrd, err);
}

int arch_check_boot(const struct gm_region *layout, unsigned int nr,
		    const struct vm_boot_files *files, bool *initrd_at_fault, struct error *err)
{
	struct guest_mem gm;
	struct x86_kernel k;
	struct x86_initrd rd;
	int ret;

	gm_init_layout(&gm, layout, nr);
	*initrd_at_fault = false;
	if ((ret = x86_kernel_load(files->kernel_fd, &gm, &k, err)) < 0)
		return ret;
	*initrd_at_fault = true;
	if (files->initrd_fd >= 0)
		ret = x86_initrd_load(files->initrd_fd, &gm, &k, &rd, err);
	return ret;
}

int arch_load_boot(struct vm *vm, const struct boot_source *boot, struct error *err)
{
	struct x86_vm *x = vm->arch;
	int ret;

	if ((ret = vm_load_boot_files(vm, boot, load_kernel, load_initrd, err)) < 0)
		return ret;
	ret = x86_boot_tables_write(&vm->mem, &x->kernel, &vm->cmdline, &x->initrd, err);
	if (ret == -E2BIG)
		error_prefix(err, "boot-source.boot_args");
	if (ret < 0)
		return ret;
	ret = x86_mptable_write(&vm->mem, vm->nr_vcpus);
	if (ret < 0)
		return error_set(err, ret, "writing the MP table: %s", strerror(-ret));
	const struct x86_acpi_machine acpi = { .nr_cpus = vm->nr_vcpus, .devices = vm->devices,
					       .nr_devices = vm->nr_devices };
	uint64_t rsdp;
	ret = x86_acpi_write(&vm->mem, &acpi, &rsdp);
	if (ret == 0)
		ret = x86_boot_set_rsdp(&vm->mem, x->kernel.protocol, rsdp);
	if (ret < 0)
		return error_set(err, ret, "writing the ACPI tables: %s", strerror(-ret));
	log_debug("kernel: %s at 0x%llx-0x%llx, entry 0x%llx (%s); initrd %llu bytes at 0x%llx",
		  x->kernel.bzimage ? "bzImage" : "ELF", (unsigned long long)x->kernel.start,
		  (unsigned long long)x->kernel.end, (unsigned long long)x->kernel.entry,
		  x->kernel.protocol == X86_BOOT_PVH ? "PVH" : "64-bit boot protocol",
		  (unsigned long long)x->initrd.size, (unsigned long long)x->initrd.addr);
	return 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu, struct error *err)
{
	struct x86_vm *x = vm->arch;
	struct cpu_topology topo = { .vcpu_id = vcpu->id, .nr_vcpus = vm->nr_vcpus,
				     .smt = vm->smt };
	return x86_vcpu_configure(vcpu->fd, &x->kernel, x->cpuid, &topo, err);
}

int arch_ctrl_alt_del(struct vm *vm)
{
	struct x86_vm *x = vm->arch;
	return x && x->i8042 ? i8042_ctrl_alt_del(x->i8042) : -ENODEV;
}

void arch_vcpu_paused(struct vcpu *vcpu)
{
	/* EINVAL: the guest has no kvmclock set up yet; nothing to tell it then. */
	if (ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0) < 0 && errno != EINVAL)
		log_ratelimited(LOG_WARN, "vCPU %u: KVM_KVMCLOCK_CTRL: %m", vcpu->id);
}

void arch_vcpu_dump(struct vcpu *vcpu)
{
	x86_vcpu_log_state(vcpu->fd, vcpu->id);
}

void arch_vm_destroy(struct vm *vm)
{
	struct x86_vm *x = vm->arch;
	if (!x)
		return;
	i8042_destroy(x->i8042);
	free(x->cpuid);
	free(x);
	vm->arch = NULL;
}
