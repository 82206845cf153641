/*
 * kvm-pin: holds one KVM VM with one vCPU open for the lab's whole life (started by
 * tools/lab/init once kvm_amd is loaded; never returns).
 *
 * Why: the lab is QEMU in software (TCG) mode. Each time the number of VMs on the lab's
 * KVM goes from 0 to 1 or back, KVM flips static keys (the scheduler's preempt
 * notifiers, the local APIC's "software disabled" key), and the lab's kernel rewrites
 * the code they guard, finish_task_switch() among it, through an int3 breakpoint. Under
 * QEMU 7.2's multi-threaded TCG a CPU sometimes keeps executing its stale translation of
 * the breakpoint after the code was restored; the kernel's handler then sees no
 * breakpoint, rewinds to the same instruction, and the CPU loops there for ever (soft
 * lockups on every CPU, a silent console). The integration suite starts and stops
 * hundreds of VMs, so about one lab in three froze that way. With one VM and one vCPU
 * (its APIC software-disabled) held here, those counts never return to 0 and the code is
 * patched once, at the first start, while nothing else runs.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("lab-init: kvm-pin: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("lab-init: kvm-pin: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_VCPU, 0) < 0) {
		printf("lab-init: kvm-pin: in-kernel irqchip or vCPU: %s\n", strerror(errno));
		return 1;
	}
	close(kvm);
	for (;;)
		pause();
}
