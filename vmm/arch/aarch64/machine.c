/* The arm64 machine: RAM from 2 GiB, GIC, 16550 UART and PL031 on MMIO, Image + FDT boot. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "arch.h"
#include "devices/rtc_pl031.h"
#include "devices/serial.h"
#include "devicetree.h"
#include "gic.h"
#include "image.h"
#include "io.h"
#include "kvm.h"
#include "layout.h"
#include "log.h"
#include "regs.h"
#include "vcpu.h"
#include "vm.h"

/* arm64 Linux reads at most this much of the command line (COMMAND_LINE_SIZE). */
#define A64_CMDLINE_MAX	2048
/* The default VM's IPA space (KVM_CREATE_VM type 0): 40 bits. */
#define A64_IPA_BITS	40

struct a64_vm {
	struct a64_gic gic;
	uint64_t mpidr[A64_FDT_MAX_CPUS];
	struct pl031 rtc;
	uint64_t kernel_addr, kernel_end;
	uint64_t initrd_addr, initrd_size;
	uint64_t fdt_addr;
};

static const struct kvm_cap_req a64_caps[] = {
	KVM_CAP(KVM_CAP_ARM_PSCI_0_2),
	KVM_CAP(KVM_CAP_DEVICE_CTRL),
	KVM_CAP(KVM_CAP_ONE_REG),
};

int arch_check_caps(int kvm_fd, struct error *err)
{
	return kvm_check_caps(kvm_fd, a64_caps, ARRAY_SIZE(a64_caps), err);
}

int arch_mem_layout(uint64_t mem_size, struct gm_region *regions, unsigned int *nr,
		    struct error *err)
{
	uint64_t end;
	if (mem_size == 0)
		return error_set(err, -EINVAL, "machine-config.mem_size_mib: must not be 0");
	if (ADD_OVERFLOWS(A64_DRAM_BASE, mem_size, &end) || end > (1ULL << A64_IPA_BITS))
		return error_set(err, -ENOMEM, "machine-config.mem_size_mib: %llu MiB of guest "
				 "memory goes past the VM's %d-bit address space",
				 (unsigned long long)(mem_size >> 20), A64_IPA_BITS);
	regions[0] = (struct gm_region){ .gpa = A64_DRAM_BASE, .size = mem_size };
	*nr = 1;
	return 0;
}

int arch_vm_init(struct vm *vm, struct error *err)
{
	struct a64_vm *a = calloc(1, sizeof(*a));
	if (!a)
		return error_set(err, -ENOMEM, "out of memory");
	a->gic.fd = -1;
	vm->arch = a;
	vm->mmio_next = A64_MMIO_START;
	vm->mmio_end = A64_MMIO_END;
	vm->irq_next = A64_FIRST_DEVICE_SPI;
	vm->irq_last = A64_LAST_DEVICE_SPI;
	return 0;
}

uint32_t arch_irq_line_id(unsigned int line)
{
	/* KVM_IRQ_LINE names an SPI by its INTID, 32 above its number. */
	return (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (line + 32);
}

/*
 * vCPUs are initialised here, not in arch_vcpu_init: the GIC needs them initialised, the
 * devices' irqfds need the GIC, and the device tree needs their MPIDRs.
 */
unsigned int arch_console_irq(void)
{
	return A64_SERIAL_SPI;
}

int arch_devices_init(struct vm *vm, const struct vm_config *cfg,
		      const struct arch_devices_env *env, struct error *err)
{
	struct a64_vm *a = vm->arch;
	int ret;
	(void)cfg;

	if (vm->nr_vcpus > A64_FDT_MAX_CPUS)
		return error_set(err, -EINVAL, "machine-config.vcpu_count: at most %d on arm64",
				 A64_FDT_MAX_CPUS);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		if ((ret = a64_vcpu_init(vm->vm_fd, vm->vcpus[i].fd, i, &a->mpidr[i], err)) < 0)
			return ret;
	if ((ret = a64_gic_create(vm->vm_fd, vm->nr_vcpus, &a->gic, err)) < 0)
		return ret;

	pl031_init(&a->rtc);
	ret = bus_register(&vm->mmio, A64_SERIAL_BASE, A64_SERIAL_SIZE, &serial_bus_ops,
			   env->console, "serial");
	if (ret == 0)
		ret = bus_register(&vm->mmio, A64_RTC_BASE, A64_RTC_SIZE, &pl031_bus_ops, &a->rtc,
				   "rtc");
	if (ret < 0)
		return error_set(err, ret, "registering the UART and RTC: %s", strerror(-ret));
	log_debug("GICv%u, %u vCPUs, UART at 0x%llx (SPI %d), PL031 at 0x%llx", a->gic.version,
		  vm->nr_vcpus, (unsigned long long)A64_SERIAL_BASE, A64_SERIAL_SPI,
		  (unsigned long long)A64_RTC_BASE);
	return 0;
}

int arch_announce_device(struct vm *vm, const struct vm_device_desc *dev, struct error *err)
{
	/* Described in the device tree, which arch_load_boot writes once all are known. */
	if (vm->nr_devices > A64_FDT_MAX_DEVICES)
		return error_set(err, -ENOSPC, "%s: too many devices for the device tree",
				 dev->compatible);
	return 0;
}

/* The device tree takes the last 2 MiB-aligned 2 MiB of RAM, as the boot protocol allows. */
static int place_fdt(struct a64_vm *a, const struct guest_mem *gm, struct error *err)
{
	if (gm->regions[0].size < 2 * A64_FDT_MAX)
		return error_set(err, -ENOMEM, "machine-config.mem_size_mib: too small for a kernel");
	a->fdt_addr = ALIGN_DOWN(gm->regions[0].gpa + gm->regions[0].size - A64_FDT_MAX,
				 A64_FDT_MAX);
	return 0;
}

/*
 * The Image goes text_offset above the start of RAM (2 MiB aligned). Against a layout
 * without memory (gm_init_layout) it is checked and nothing is copied.
 */
static int place_kernel(struct a64_vm *a, const struct guest_mem *gm, int fd, uint64_t size,
			struct error *err)
{
	uint8_t hdr[A64_IMAGE_HDR_SIZE] = { 0 };
	struct a64_image img;
	int ret;

	ret = pread_all(fd, hdr, MIN(sizeof(hdr), (size_t)size), 0);
	if (ret < 0)
		return error_set(err, ret, "reading the Image header: %s", strerror(-ret));
	if ((ret = a64_image_parse(hdr, MIN(sizeof(hdr), (size_t)size), size, &img, err)) < 0)
		return ret;
	a->kernel_addr = A64_DRAM_BASE + img.text_offset;
	a->kernel_end = a->kernel_addr + img.image_size;
	if (!gm_contains(gm, a->kernel_addr, img.image_size) ||
	    a->kernel_end > gm->regions[0].gpa + gm->regions[0].size - A64_FDT_MAX)
		return error_set(err, -ENOMEM, "a kernel of %llu MiB does not fit in guest memory "
				 "with its device tree", (unsigned long long)(img.image_size >> 20));
	if (!gm_is_mapped(gm))
		return 0;
	ret = pread_all(fd, gm_ptr(gm, a->kernel_addr, img.image_size), (size_t)size, 0);
	if (ret < 0)
		return error_set(err, ret, "reading the Image: %s", strerror(-ret));
	if (img.page_size)
		log_debug("kernel Image: %u KiB pages%s", img.page_size / 1024,
			  img.anywhere ? ", any 2 MiB-aligned base" : "");
	return 0;
}

/* The initrd goes just below the device tree, page-aligned, above the kernel. */
static int place_initrd(struct a64_vm *a, const struct guest_mem *gm, int fd, uint64_t size,
			struct error *err)
{
	if (size == 0)
		return error_set(err, -EINVAL, "initrd is empty");
	if (size > a->fdt_addr - a->kernel_end ||
	    ALIGN_DOWN(a->fdt_addr - size, 4096ULL) < a->kernel_end)
		return error_set(err, -ENOMEM, "a %llu MiB initrd does not fit in guest memory "
				 "beside the kernel", (unsigned long long)(size >> 20));
	a->initrd_addr = ALIGN_DOWN(a->fdt_addr - size, 4096ULL);
	a->initrd_size = size;
	if (!gm_contains(gm, a->initrd_addr, size))
		return error_set(err, -ENOMEM, "the initrd does not fit in guest memory");
	if (!gm_is_mapped(gm))
		return 0;
	int ret = pread_all(fd, gm_ptr(gm, a->initrd_addr, size), (size_t)size, 0);
	if (ret < 0)
		return error_set(err, ret, "reading initrd: %s", strerror(-ret));
	return 0;
}

static int load_kernel(struct vm *vm, int fd, uint64_t size, struct error *err)
{
	return place_kernel(vm->arch, &vm->mem, fd, size, err);
}

static int load_initrd(struct vm *vm, int fd, uint64_t size, struct error *err)
{
	return place_initrd(vm->arch, &vm->mem, fd, size, err);
}

int arch_check_boot(const struct gm_region *layout, unsigned int nr,
		    const struct vm_boot_files *files, bool *initrd_at_fault, struct error *err)
{
	struct a64_vm a = { 0 };
	struct guest_mem gm;
	int ret;

	gm_init_layout(&gm, layout, nr);
	*initrd_at_fault = false;
	if ((ret = place_fdt(&a, &gm, err)) < 0)
		return ret;
	if ((ret = place_kernel(&a, &gm, files->kernel_fd, files->kernel_size, err)) < 0)
		return ret;
	*initrd_at_fault = true;
	if (files->initrd_fd >= 0)
		ret = place_initrd(&a, &gm, files->initrd_fd, files->initrd_size, err);
	return ret;
}

static int write_fdt(struct vm *vm, struct a64_vm *a, struct error *err)
{
	struct a64_machine *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return error_set(err, -ENOMEM, "out of memory for the device tree");
	m->mem = (struct a64_fdt_window){ vm->mem.regions[0].gpa, vm->mem.regions[0].size };
	m->nr_cpus = vm->nr_vcpus;
	memcpy(m->mpidr, a->mpidr, sizeof(m->mpidr));
	m->gic_version = a->gic.version;
	m->gic_dist = a->gic.dist;
	m->gic_redist = a->gic.redist;
	m->gic_cpu = a->gic.cpu;
	m->serial = (struct a64_fdt_device){ "ns16550a", { A64_SERIAL_BASE, A64_SERIAL_SIZE },
					     A64_SERIAL_SPI, false };
	m->rtc = (struct a64_fdt_device){ "arm,pl031", { A64_RTC_BASE, A64_RTC_SIZE },
					  A64_RTC_SPI, false };
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		const struct vm_device_desc *d = &vm->devices[i];
		m->devices[i] = (struct a64_fdt_device){ d->compatible, { d->base, d->size },
							 d->irq, d->edge };
	}
	m->nr_devices = vm->nr_devices;
	m->bootargs = vm->cmdline.buf;
	m->initrd_start = a->initrd_addr;
	m->initrd_size = a->initrd_size;
	/* Entropy for the guest's early boot (the RNG, KASLR); none is not an error. */
	ssize_t n = getrandom(m->rng_seed, 32, GRND_NONBLOCK);
	m->rng_seed_len = n > 0 ? (size_t)n : 0;

	ret = a64_fdt_build(m, gm_ptr(&vm->mem, a->fdt_addr, A64_FDT_MAX), A64_FDT_MAX, err);
	free(m);
	return ret;
}

int arch_load_boot(struct vm *vm, const struct boot_source *boot, struct error *err)
{
	struct a64_vm *a = vm->arch;
	int ret;

	if (vm->cmdline.len >= A64_CMDLINE_MAX)
		return error_set(err, -E2BIG, "boot-source.boot_args: the kernel command line is "
				 "%zu bytes; arm64 Linux reads at most %d", vm->cmdline.len,
				 A64_CMDLINE_MAX - 1);
	if ((ret = place_fdt(a, &vm->mem, err)) < 0)
		return ret;

	if ((ret = vm_load_boot_files(vm, boot, load_kernel, load_initrd, err)) < 0)
		return ret;
	if ((ret = write_fdt(vm, a, err)) < 0)
		return ret;
	log_debug("kernel Image at 0x%llx-0x%llx; initrd %llu bytes at 0x%llx; device tree at "
		  "0x%llx", (unsigned long long)a->kernel_addr, (unsigned long long)a->kernel_end,
		  (unsigned long long)a->initrd_size, (unsigned long long)a->initrd_addr,
		  (unsigned long long)a->fdt_addr);
	return 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu, struct error *err)
{
	struct a64_vm *a = vm->arch;
	/* Secondaries stay powered off until the guest starts them with PSCI CPU_ON. */
	if (vcpu->id != 0)
		return 0;
	return a64_vcpu_set_boot_regs(vcpu->fd, a->kernel_addr, a->fdt_addr, err);
}

int arch_ctrl_alt_del(struct vm *vm)
{
	(void)vm;
	return -ENOTSUP;	/* no i8042 on arm64, as in Firecracker */
}

void arch_vcpu_paused(struct vcpu *vcpu)
{
	(void)vcpu;	/* no paravirtual clock to tell */
}

void arch_vcpu_dump(struct vcpu *vcpu)
{
	a64_vcpu_log_state(vcpu->fd, vcpu->id);
}

void arch_vm_destroy(struct vm *vm)
{
	struct a64_vm *a = vm->arch;
	if (!a)
		return;
	a64_gic_destroy(&a->gic);
	free(a);
	vm->arch = NULL;
}
