/*
 * The reference for kiln's exit-handling benchmark: the same VM set up by kiln's own
 * code, then a bare KVM_RUN loop on the main thread that ignores every exit until
 * the guest resets through the i8042. No threads, no bus, no devices.
 *   barekvm GUEST.elf   prints "barekvm: N exits in S seconds"
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "arch.h"
#include "kvm.h"
#include "vcpu.h"
#include "vm.h"

int main(int argc, char **argv)
{
	static struct vm vm;
	struct machine_config mc = { .vcpu_count = 1, .mem_size_mib = 64 };
	struct boot_source boot = { .kernel_image_path = argc > 1 ? argv[1] : NULL };
	struct error err = { 0 };
	struct timespec a, b;
	unsigned long exits = 0;

	if (!boot.kernel_image_path) {
		fprintf(stderr, "usage: barekvm GUEST.elf\n");
		return 2;
	}
	int kvm = kvm_open("/dev/kvm", &err);
	if (kvm < 0 || vm_create(&vm, &arch_machine_ops, kvm, &mc, &err) < 0 || vm_create_vcpus(&vm, 1, &err) < 0) {
		fprintf(stderr, "barekvm: %s\n", err.msg);
		return 1;
	}
	cmdline_append(&vm.cmdline, "bench");
	if (arch_load_boot(&vm, &boot, &err) < 0 || arch_vcpu_init(&vm, &vm.vcpus[0], &err) < 0) {
		fprintf(stderr, "barekvm: %s\n", err.msg);
		return 1;
	}
	struct kvm_run *run = vm.vcpus[0].run;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (;;) {
		if (ioctl(vm.vcpus[0].fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			perror("KVM_RUN");
			return 1;
		}
		exits++;
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x64 &&
		    run->io.direction == KVM_EXIT_IO_OUT &&
		    *((uint8_t *)run + run->io.data_offset) == 0xfe)
			break;
		if (run->exit_reason != KVM_EXIT_IO && run->exit_reason != KVM_EXIT_MMIO) {
			fprintf(stderr, "barekvm: exit reason %u\n", run->exit_reason);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("barekvm: %lu exits in %.6f seconds\n", exits,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
