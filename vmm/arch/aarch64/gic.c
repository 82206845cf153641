/* The in-kernel interrupt controller: a GICv3 (or a GICv2 where KVM has no GICv3). */
#include "gic.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "layout.h"
#include "log.h"

static int set_attr(int fd, uint32_t group, uint64_t attr, const void *val)
{
	struct kvm_device_attr a = { .group = group, .attr = attr,
				     .addr = (uint64_t)(uintptr_t)val };
	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

static int create(int vm_fd, uint32_t type)
{
	struct kvm_create_device cd = { .type = type };
	return ioctl(vm_fd, KVM_CREATE_DEVICE, &cd) < 0 ? -errno : (int)cd.fd;
}

static int configure(struct a64_gic *gic, struct error *err)
{
	const uint32_t nr_irqs = A64_GIC_NR_IRQS;
	int ret;

	if (gic->version == 3) {
		if ((ret = set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
				    KVM_VGIC_V3_ADDR_TYPE_DIST, &gic->dist.base)) < 0 ||
		    (ret = set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
				    KVM_VGIC_V3_ADDR_TYPE_REDIST, &gic->redist.base)) < 0)
			return error_set(err, ret, "GICv3 addresses: %s", strerror(-ret));
	} else {
		if ((ret = set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
				    KVM_VGIC_V2_ADDR_TYPE_DIST, &gic->dist.base)) < 0 ||
		    (ret = set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
				    KVM_VGIC_V2_ADDR_TYPE_CPU, &gic->cpu.base)) < 0)
			return error_set(err, ret, "GICv2 addresses: %s", strerror(-ret));
	}
	if ((ret = set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs)) < 0)
		return error_set(err, ret, "GIC: %u interrupts: %s", nr_irqs, strerror(-ret));
	if ((ret = set_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
			    NULL)) < 0)
		return error_set(err, ret, "GIC: KVM_DEV_ARM_VGIC_CTRL_INIT: %s", strerror(-ret));
	return 0;
}

int a64_gic_create(int vm_fd, unsigned int nr_vcpus, struct a64_gic *gic, struct error *err)
{
	memset(gic, 0, sizeof(*gic));
	gic->dist.base = A64_GICD_BASE;
	gic->fd = create(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3);
	if (gic->fd >= 0) {
		gic->version = 3;
		gic->dist.size = A64_GICD_SIZE;
		gic->redist.size = (uint64_t)nr_vcpus * A64_GICR_SIZE_PER_CPU;
		gic->redist.base = A64_GICD_BASE - gic->redist.size;
		return configure(gic, err);
	}
	int e3 = gic->fd;
	if (nr_vcpus > A64_GICV2_MAX_CPUS)
		return error_set(err, e3, "KVM_CREATE_DEVICE (GICv3): %s; a GICv2 serves at "
				 "most %d vCPUs", strerror(-e3), A64_GICV2_MAX_CPUS);
	gic->fd = create(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V2);
	if (gic->fd < 0)
		return error_set(err, gic->fd, "KVM_CREATE_DEVICE: no GICv3 (%s) nor GICv2 (%s)",
				 strerror(-e3), strerror(-gic->fd));
	log_info("no GICv3 in KVM (%s): using a GICv2", strerror(-e3));
	gic->version = 2;
	gic->dist.size = A64_GICV2_DIST_SIZE;
	gic->cpu.base = A64_GICV2_CPU_BASE;
	gic->cpu.size = A64_GICV2_CPU_SIZE;
	return configure(gic, err);
}

void a64_gic_destroy(struct a64_gic *gic)
{
	if (gic->fd > 0)
		close(gic->fd);
	gic->fd = -1;
}
