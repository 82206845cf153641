/* One virtual machine: KVM handles, guest memory, device buses, vCPUs and the stop protocol. */
#include "vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "exit_codes.h"
#include "io.h"
#include "log.h"
#include "vcpu.h"

static int register_memory(struct vm *vm, struct error *err)
{
	for (unsigned int i = 0; i < vm->mem.nr; i++) {
		const struct gm_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return error_set(err, -errno, "KVM_SET_USER_MEMORY_REGION slot %u "
					 "(0x%llx, %llu MiB): %s", i, (unsigned long long)r->gpa,
					 (unsigned long long)(r->size >> 20), strerror(errno));
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_machine_ops *machine, int kvm_fd,
	      const struct machine_config *mc, struct error *err)
{
	struct gm_region layout[GM_MAX_REGIONS];
	unsigned int nr = 0;
	uint64_t mem_size;
	int ret;

	vm->machine = machine;
	vm->kvm_fd = kvm_fd;
	vm->vm_fd = -1;
	vm->stop_efd = -1;
	atomic_init(&vm->stopping, false);
	atomic_init(&vm->pausing, false);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->parked = 0;
	atomic_init(&vm->exit_code, 0);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	cmdline_init(&vm->cmdline);

	vm->vcpu_mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run))
		return error_set(err, -errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));

	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return error_set(err, -errno, "eventfd: %s", strerror(errno));

	vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return error_set(err, -errno, "KVM_CREATE_VM: %s", strerror(errno));

	if (MUL_OVERFLOWS(mc->mem_size_mib, MiB(1), &mem_size))
		return error_set(err, -EINVAL, "machine-config.mem_size_mib: %llu MiB is too large",
				 (unsigned long long)mc->mem_size_mib);
	ret = machine->mem_layout(mem_size, layout, &nr, err);
	if (ret < 0)
		return ret;
	ret = gm_create(&vm->mem, layout, nr, mc->huge_pages);
	if (ret < 0)
		return error_set(err, ret, "machine-config.mem_size_mib: cannot map %llu MiB of "
				 "guest memory%s: %s", (unsigned long long)mc->mem_size_mib,
				 mc->huge_pages == GM_BACKING_HUGETLB ? " in 2 MiB huge pages" : "",
				 strerror(-ret));
	ret = register_memory(vm, err);
	if (ret < 0)
		return ret;
	return machine->init(vm, err);
}

static bool vm_pausing(const struct vm *vm)
{
	return atomic_load(&vm->pausing);
}

/* A vCPU thread that found vm_pausing(): count itself parked and wait to be resumed. */
static void vm_park(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm_pausing(vm) && !vm_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

/* The run protocol as the vCPU threads see it (struct vcpu_machine_ops). */
static void vcpu_wait_start(void *machine)
{
	struct vm *vm = machine;
	/* vm_start holds the gate until every thread exists, then all meet at the barrier. */
	pthread_mutex_lock(&vm->start_gate);
	pthread_mutex_unlock(&vm->start_gate);
	pthread_barrier_wait(&vm->start_barrier);
}

static bool vcpu_stopping(void *machine)
{
	return vm_stopping(machine);
}

static bool vcpu_pausing(void *machine)
{
	return vm_pausing(machine);
}

static void vcpu_park(void *machine)
{
	vm_park(machine);
}

static void vcpu_request_stop(void *machine, int exit_code)
{
	vm_request_stop(machine, exit_code);
}

static void vcpu_first_run(void *machine)
{
	struct vm *vm = machine;
	if (vm->hooks.first_run)
		vm->hooks.first_run(vm->hooks.opaque);
}

static const struct vcpu_machine_ops vm_vcpu_ops = {
	.wait_start = vcpu_wait_start,
	.stopping = vcpu_stopping,
	.pausing = vcpu_pausing,
	.park = vcpu_park,
	.request_stop = vcpu_request_stop,
	.first_run = vcpu_first_run,
};

int vm_create_vcpus(struct vm *vm, unsigned int count, struct error *err)
{
	vm->vcpu_host = (struct vcpu_host){
		.vm_fd = vm->vm_fd,
		.mmap_size = vm->vcpu_mmap_size,
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.ops = &vm_vcpu_ops,
		.machine = vm,
	};
	vm->vcpus = calloc(count, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return error_set(err, -ENOMEM, "out of memory for %u vCPUs", count);
	for (unsigned int i = 0; i < count; i++) {
		int ret = vcpu_create(&vm->vcpu_host, &vm->vcpus[i], i);
		vm->nr_vcpus = i + (ret == 0);
		if (ret < 0)
			return error_set(err, ret, "KVM_CREATE_VCPU %u: %s", i, strerror(-ret));
	}
	return 0;
}

int vm_start(struct vm *vm, const struct vm_start_hooks *hooks, struct error *err)
{
	vm->hooks = hooks ? *hooks : (struct vm_start_hooks){ 0 };
	int ret = vcpu_signal_setup();
	if (ret < 0)
		return error_set(err, ret, "vCPU kick signal: %s", strerror(-ret));
	unsigned int started = 0;
	pthread_mutex_init(&vm->start_gate, NULL);
	pthread_mutex_lock(&vm->start_gate);
	for (; started < vm->nr_vcpus; started++) {
		ret = vcpu_start(&vm->vcpus[started], vm->hooks.vcpu_filter);
		if (ret < 0) {
			error_set(err, ret, "starting vCPU %u: %s", started, strerror(-ret));
			break;
		}
	}
	if (ret == 0 && vm->hooks.restrict_self &&
	    (ret = vm->hooks.restrict_self(vm->hooks.opaque)) < 0)
		error_set(err, ret, "restricting the main thread: %s", strerror(-ret));
	/* On failure the threads already started find the VM stopping once they pass. */
	if (ret < 0)
		vm_request_stop(vm, EXIT_GENERIC);
	/* No thread has reached the barrier yet: they all wait at the gate. */
	pthread_barrier_init(&vm->start_barrier, NULL, started + 1);
	pthread_mutex_unlock(&vm->start_gate);
	/* Every thread created has installed its filter once this returns. */
	pthread_barrier_wait(&vm->start_barrier);
	return ret;
}

void vm_request_stop(struct vm *vm, int exit_code)
{
	bool expected = false;
	if (atomic_compare_exchange_strong(&vm->stopping, &expected, true))
		atomic_store(&vm->exit_code, exit_code);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	/* Parked vCPUs, and a vm_pause waiting for them, see the stop. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	uint64_t one = 1;
	if (vm->stop_efd >= 0 && write(vm->stop_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("stop eventfd: %m");
}

bool vm_stopping(const struct vm *vm)
{
	return atomic_load(&vm->stopping);
}

static unsigned int started_vcpus(const struct vm *vm)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		n += vm->vcpus[i].thread_started;
	return n;
}

int vm_pause(struct vm *vm)
{
	unsigned int want = started_vcpus(vm);

	atomic_store(&vm->pausing, true);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < want && !vm_stopping(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	return vm_stopping(vm) ? -ESHUTDOWN : 0;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pausing, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_join(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	}
	return atomic_load(&vm->exit_code);
}

static void close_boot_files(struct vm *vm)
{
	struct vm_boot_files *f = &vm->boot_files;
	if (f->open) {
		close_quietly(f->kernel_fd);
		close_quietly(f->initrd_fd);
	}
	*f = (struct vm_boot_files){ .kernel_fd = -1, .initrd_fd = -1 };
}

void vm_destroy(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	if (vm->machine)
		vm->machine->destroy(vm);
	gm_destroy(&vm->mem);
	close_quietly(vm->vm_fd);
	close_quietly(vm->stop_efd);
	vm->vm_fd = vm->stop_efd = -1;
	close_boot_files(vm);
}


int vm_check_boot_files(struct vm *vm, const struct vm_machine_ops *machine,
			const struct boot_source *boot, uint64_t mem_size, struct error *err)
{
	struct vm_boot_files *f = &vm->boot_files;
	struct gm_region layout[GM_MAX_REGIONS];
	unsigned int nr = 0;
	bool initrd_at_fault;
	int ret;

	close_boot_files(vm);
	if ((ret = machine->mem_layout(mem_size, layout, &nr, err)) < 0)
		return ret;
	f->open = true;
	f->kernel_fd = open_regular_file("boot-source.kernel_image_path",
					 boot->kernel_image_path, &f->kernel_size, err);
	if (f->kernel_fd < 0) {
		ret = f->kernel_fd;
		close_boot_files(vm);
		return ret;
	}
	if (boot->initrd_path) {
		f->initrd_fd = open_regular_file("boot-source.initrd_path", boot->initrd_path,
						 &f->initrd_size, err);
		if (f->initrd_fd < 0) {
			ret = f->initrd_fd;
			close_boot_files(vm);
			return ret;
		}
	}
	ret = machine->check_boot(layout, nr, f, &initrd_at_fault, err);
	if (ret < 0) {
		if (initrd_at_fault)
			error_prefix(err, "boot-source.initrd_path: %s", boot->initrd_path);
		else
			error_prefix(err, "boot-source.kernel_image_path: %s",
				     boot->kernel_image_path);
		close_boot_files(vm);
	}
	return ret;
}

static int load_file(struct vm *vm, const char *key, const char *path, int fd, uint64_t size,
		     vm_file_loader load, struct error *err)
{
	if (fd < 0 && (fd = open_regular_file(key, path, &size, err)) < 0)
		return fd;
	int ret = load(vm, fd, size, err);
	close(fd);
	if (ret < 0)
		error_prefix(err, "%s: %s", key, path);
	return ret;
}

int vm_load_boot_files(struct vm *vm, const struct boot_source *boot, vm_file_loader kernel,
		       vm_file_loader initrd, struct error *err)
{
	struct vm_boot_files f = vm->boot_files;
	int ret;

	if (!f.open)
		f = (struct vm_boot_files){ .kernel_fd = -1, .initrd_fd = -1 };
	/* load_file closes them: they are no longer vm's to close. */
	vm->boot_files = (struct vm_boot_files){ .kernel_fd = -1, .initrd_fd = -1 };
	ret = load_file(vm, "boot-source.kernel_image_path", boot->kernel_image_path,
			f.kernel_fd, f.kernel_size, kernel, err);
	if (ret == 0 && boot->initrd_path)
		ret = load_file(vm, "boot-source.initrd_path", boot->initrd_path, f.initrd_fd,
				f.initrd_size, initrd, err);
	else if (f.initrd_fd >= 0)
		close(f.initrd_fd);
	return ret;
}

int vm_alloc_mmio(struct vm *vm, uint64_t size, uint64_t *gpa)
{
	uint64_t start = ALIGN_UP(vm->mmio_next, 4096ULL), end;
	if (size == 0 || ADD_OVERFLOWS(start, size, &end) || end > vm->mmio_end)
		return -ENOSPC;
	*gpa = start;
	vm->mmio_next = end;
	return 0;
}

int vm_alloc_irq(struct vm *vm, unsigned int *gsi)
{
	if (vm->irq_next > vm->irq_last)
		return -ENOSPC;
	*gsi = vm->irq_next++;
	return 0;
}

int vm_announce_device(struct vm *vm, const struct vm_device_desc *dev, struct error *err)
{
	if (vm->nr_devices == VM_MAX_DEVICES)
		return error_set(err, -ENOSPC, "%s: more than %d devices", dev->compatible,
				 VM_MAX_DEVICES);
	vm->devices[vm->nr_devices++] = *dev;
	return vm->machine->announce_device(vm, dev, err);
}

int vm_irq_line(struct vm *vm, unsigned int gsi, int level)
{
	struct kvm_irq_level irq = { .irq = vm->machine->irq_line_id(gsi), .level = level };
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}
