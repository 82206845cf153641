/* One virtual machine: KVM handles, guest memory, device buses, vCPUs and the stop protocol. */
#ifndef KILN_VM_H
#define KILN_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "bus.h"
#include "cmdline.h"
#include "config.h"
#include "error.h"
#include "memory.h"
#include "vcpu.h"

struct seccomp_filter;

/*
 * A device as the guest must learn of it: its MMIO window, its interrupt line and what it
 * is (a device-tree "compatible" string). Devices describe themselves with
 * vm_announce_device(); the architecture tells the guest (x86-64: the kernel command
 * line; arm64: a node in the device tree) without devices knowing which.
 */
struct vm_device_desc {
	const char *compatible;	/* e.g. "virtio,mmio"; a string with static lifetime */
	uint64_t base;		/* guest physical address of the window */
	uint64_t size;
	unsigned int irq;	/* interrupt line, as vm_alloc_irq gave it */
	bool edge;		/* edge-triggered (an irqfd's pulse), else level-triggered */
};

#define VM_MAX_DEVICES 32

struct vm;
struct vm_boot_files;

/*
 * The machine's hooks vm.c calls (each architecture's arch_machine_ops, which main.c
 * gives vm_create): vm.c reaches the architecture only through these.
 */
struct vm_machine_ops {
	/* Guest RAM layout for mem_size bytes. */
	int (*mem_layout)(uint64_t mem_size, struct gm_region *regions, unsigned int *nr,
			  struct error *err);
	/* Interrupt controllers, timers and the machine's own state (after memory). */
	int (*init)(struct vm *vm, struct error *err);
	/* Free what init and the machine's devices allocated. */
	void (*destroy)(struct vm *vm);
	/* Check the boot files against the layout before any guest memory exists. */
	int (*check_boot)(const struct gm_region *layout, unsigned int nr,
			  const struct vm_boot_files *files, bool *initrd_at_fault,
			  struct error *err);
	/* Tell the guest about a device (vm_announce_device). */
	int (*announce_device)(struct vm *vm, const struct vm_device_desc *dev,
			       struct error *err);
	/* The KVM_IRQ_LINE number of device interrupt line `line`. */
	uint32_t (*irq_line_id)(unsigned int line);
};

/* What vm_start's caller gives the run; each may be NULL. */
struct vm_start_hooks {
	const struct seccomp_filter *vcpu_filter;	/* each vCPU thread installs it first */
	/*
	 * Runs on the calling thread once every vCPU thread exists and before any runs
	 * guest code, so that no guest instruction executes while a thread of kiln is
	 * unrestricted; a negative return stops the VM.
	 */
	int (*restrict_self)(void *opaque);
	/* On vCPU 0's thread, right before its first KVM_RUN. */
	void (*first_run)(void *opaque);
	void *opaque;
};

/* The boot files, opened and checked by vm_check_boot_files before guest memory exists. */
struct vm_boot_files {
	bool open;		/* false: vm_load_boot_files opens them itself */
	int kernel_fd;
	int initrd_fd;		/* -1 without an initrd */
	uint64_t kernel_size, initrd_size;
};

struct vm {
	const struct vm_machine_ops *machine;	/* the architecture, as vm_create was given it */
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct cmdline cmdline;

	unsigned int nr_vcpus;
	bool smt;
	struct vcpu *vcpus;
	struct vcpu_host vcpu_host;	/* what the vCPUs are given: the buses, the protocol below */
	/*
	 * vm_start holds the gate while it creates the vCPU threads and restricts itself;
	 * each thread installs its filter, passes the gate, then meets the others and
	 * vm_start at the barrier, which counts only the threads that were created. So a
	 * thread that could not be created leaves no one waiting for it.
	 */
	pthread_mutex_t start_gate;
	pthread_barrier_t start_barrier;

	/*
	 * Pause: vm_pause sets `pausing` and kicks every vCPU; each parks between two
	 * KVM_RUNs (its exit handled, its registers KVM's) and counts itself in `parked`
	 * under pause_lock; vm_resume clears `pausing` and wakes them.
	 */
	atomic_bool pausing;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	unsigned int parked;

	atomic_bool stopping;
	atomic_int exit_code;
	int stop_efd;		/* eventfd: wakes the main loop when a stop is requested */

	/* Device placement: the architecture sets the ranges, devices allocate from them. */
	uint64_t mmio_next, mmio_end;
	unsigned int irq_next, irq_last;
	/* What devices announced, in announcement order (vm_announce_device). */
	struct vm_device_desc devices[VM_MAX_DEVICES];
	unsigned int nr_devices;

	struct vm_start_hooks hooks;	/* vm_start's */
	void *arch;		/* the architecture's private state */
	struct vm_boot_files boot_files;
};

/*
 * Create the VM on `machine` (an architecture's arch_machine_ops): KVM_CREATE_VM, guest
 * memory laid out by the machine and registered as memory slots, buses, the machine's
 * interrupt controllers.
 */
int vm_create(struct vm *vm, const struct vm_machine_ops *machine, int kvm_fd,
	      const struct machine_config *mc, struct error *err) MUST_CHECK;
/* Create every vCPU fd and map its kvm_run area (before devices, after vm_create). */
int vm_create_vcpus(struct vm *vm, unsigned int count, struct error *err) MUST_CHECK;
/*
 * Start one thread per vCPU; each installs the hooks' vCPU filter, waits for
 * restrict_self and the others, then runs guest code until a stop is requested.
 */
int vm_start(struct vm *vm, const struct vm_start_hooks *hooks, struct error *err) MUST_CHECK;
/*
 * Ask the VM to stop with an exit code; the first request's code wins. Safe from any
 * thread: every vCPU leaves KVM_RUN promptly (immediate_exit plus a signal).
 */
void vm_request_stop(struct vm *vm, int exit_code);
bool vm_stopping(const struct vm *vm);
/*
 * Stop every vCPU at a clean point and return once all are parked (-ESHUTDOWN when
 * the VM is stopping instead). From one thread at a time (the main thread).
 */
int vm_pause(struct vm *vm) MUST_CHECK;
/* Let the parked vCPUs run again, their state as they left it. */
void vm_resume(struct vm *vm);
/* Join vCPU threads after a stop; returns the exit code. */
int vm_join(struct vm *vm);
void vm_destroy(struct vm *vm);

/*
 * Before any guest memory exists (no KVM needed): open the kernel and the initrd
 * (open_regular_file: regular files only, never waiting) and check them against the
 * memory layout `machine` gives a mem_size-byte guest (its check_boot). They stay open in
 * vm->boot_files for vm_load_boot_files. Errors are prefixed with the key and the path.
 */
int vm_check_boot_files(struct vm *vm, const struct vm_machine_ops *machine,
			const struct boot_source *boot, uint64_t mem_size,
			struct error *err) MUST_CHECK;
/*
 * Read the configured kernel, then the initrd when there is one: each host file (the one
 * vm_check_boot_files opened, else opened now as a regular file) is handed to its loader
 * with its size and closed; a loader's error is prefixed with the config key and the
 * path. The one way a machine reads its boot files (arch_load_boot calls it, then writes
 * its boot structures).
 */
typedef int (*vm_file_loader)(struct vm *vm, int fd, uint64_t size, struct error *err);
int vm_load_boot_files(struct vm *vm, const struct boot_source *boot, vm_file_loader kernel,
		       vm_file_loader initrd, struct error *err) MUST_CHECK;

/* Take a page-aligned MMIO window of `size` bytes; -ENOSPC when the hole is full. */
int vm_alloc_mmio(struct vm *vm, uint64_t size, uint64_t *gpa) MUST_CHECK;
/* Take the next free device interrupt line; -ENOSPC when none is left. */
int vm_alloc_irq(struct vm *vm, unsigned int *gsi) MUST_CHECK;

/*
 * Record a placed device and let the architecture announce it to the guest. Before
 * arch_load_boot. Returns 0, -ENOSPC (too many devices) or the architecture's error.
 */
int vm_announce_device(struct vm *vm, const struct vm_device_desc *dev,
		       struct error *err) MUST_CHECK;

/* Raise or lower an interrupt line of the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, unsigned int gsi, int level);

#endif
