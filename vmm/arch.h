/*
 * What an architecture provides to the generic VMM. Each vmm/arch/<arch>/ directory
 * implements these; nothing outside it knows the machine's layout or boot protocol.
 */
#ifndef KILN_ARCH_H
#define KILN_ARCH_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "error.h"
#include "memory.h"

struct vm;
struct serial;
struct metrics;
struct vcpu;
struct vm_device_desc;
struct vm_boot_files;

/* Capabilities this architecture needs beyond kvm_common_caps. */
int arch_check_caps(int kvm_fd, struct error *err) MUST_CHECK;
/* Guest RAM layout for mem_size bytes (e.g. split around the 32-bit MMIO hole). */
int arch_mem_layout(uint64_t mem_size, struct gm_region *regions, unsigned int *nr,
		    struct error *err) MUST_CHECK;
/* Create interrupt controllers, timers and arch-specific VM state (after memory). */
int arch_vm_init(struct vm *vm, struct error *err) MUST_CHECK;
/* What the machine's own devices are given: nothing of them is in struct vm. */
struct arch_devices_env {
	struct serial *console;		/* the console UART, made by its owner on arch_console_irq() */
	struct metrics *metrics;	/* where they register their counters; NULL: nowhere */
};
/* The interrupt line the machine wires its console UART to. */
unsigned int arch_console_irq(void);
/*
 * Create the machine's own devices (keyboard controller, RTC...) and place them and the
 * console UART on the buses. The UART stays its owner's.
 */
int arch_devices_init(struct vm *vm, const struct vm_config *cfg,
		      const struct arch_devices_env *env, struct error *err) MUST_CHECK;
/*
 * Tell the guest about a device (vm_announce_device calls this): x86-64 describes it in
 * the ACPI DSDT at arch_load_boot (and, with acpi=off, appends a command-line entry),
 * arm64 in the device tree at arch_load_boot.
 */
int arch_announce_device(struct vm *vm, const struct vm_device_desc *dev,
			 struct error *err) MUST_CHECK;
/* The KVM_IRQ_LINE number of device interrupt line `line` (x86-64: the GSI itself). */
uint32_t arch_irq_line_id(unsigned int line);
/*
 * Before any guest memory exists: check the kernel (and the initrd, when files has one)
 * against the memory layout, reading headers and copying nothing. *initrd_at_fault says
 * which file an error is about.
 */
int arch_check_boot(const struct gm_region *layout, unsigned int nr,
		    const struct vm_boot_files *files, bool *initrd_at_fault,
		    struct error *err) MUST_CHECK;
/* Load kernel, initrd and command line, and write the boot tables into guest memory. */
int arch_load_boot(struct vm *vm, const struct boot_source *boot, struct error *err) MUST_CHECK;
/* Registers, CPUID, MSRs, interrupt controller state of one vCPU (after arch_load_boot). */
int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu, struct error *err) MUST_CHECK;
/*
 * Firecracker's SendCtrlAltDel: x86-64 types Ctrl+Alt+Del on the i8042 keyboard (so a
 * Linux guest reboots); -ENOTSUP on arm64; -EAGAIN when the guest is not reading its
 * keyboard. From the main thread, after the start.
 */
int arch_ctrl_alt_del(struct vm *vm) MUST_CHECK;
/*
 * On the vCPU's own thread, once it is parked by vm_pause: x86-64 tells KVM the guest
 * was stopped (KVM_KVMCLOCK_CTRL, as Firecracker does, so that the guest's watchdogs do
 * not count the pause); arm64 has nothing to do.
 */
void arch_vcpu_paused(struct vcpu *vcpu);
/* Log a vCPU's registers after a fatal exit. */
void arch_vcpu_dump(struct vcpu *vcpu);
/* Free what arch_vm_init and arch_devices_init allocated. */
void arch_vm_destroy(struct vm *vm);

/*
 * The hooks vm.c calls, as an ops table main.c hands to vm_create and
 * vm_check_boot_files: arch_mem_layout, arch_vm_init, arch_vm_destroy, arch_check_boot,
 * arch_announce_device, arch_irq_line_id.
 */
extern const struct vm_machine_ops arch_machine_ops;

#endif
