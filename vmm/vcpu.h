/* A vCPU thread: KVM_RUN and exit dispatch to the buses, nothing else. */
#ifndef KILN_VCPU_H
#define KILN_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct bus;
struct seccomp_filter;

/*
 * The run protocol of the machine that owns a vCPU, called on the vCPU's own thread with
 * `machine` from its vcpu_host. It is all a vCPU knows of its machine: the machine calls
 * vcpu.c, never the other way.
 */
struct vcpu_machine_ops {
	/* Once the thread's filter is on: returns when every vCPU may run guest code. */
	void (*wait_start)(void *machine);
	bool (*stopping)(void *machine);
	bool (*pausing)(void *machine);
	/* Count this vCPU parked (between two KVM_RUNs) and wait until resumed or stopping. */
	void (*park)(void *machine);
	/* Stop the machine with this exit code; the first request's code wins. */
	void (*request_stop)(void *machine, int exit_code);
	/* vCPU 0, right before its first KVM_RUN (start-up timing). */
	void (*first_run)(void *machine);
};

/* What a machine gives its vCPUs at creation; it outlives them. */
struct vcpu_host {
	int vm_fd;
	int mmap_size;		/* KVM_GET_VCPU_MMAP_SIZE */
	struct bus *pio;	/* where port I/O exits go */
	struct bus *mmio;	/* where MMIO exits go */
	const struct vcpu_machine_ops *ops;
	void *machine;
};

struct vcpu_stats {
	atomic_ulong exits_io;
	atomic_ulong exits_mmio;
	atomic_ulong unhandled_io;
	atomic_ulong unhandled_mmio;
};

struct vcpu {
	const struct vcpu_host *host;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	const struct seccomp_filter *filter;	/* NULL: the thread runs unfiltered */
	pthread_t thread;
	bool thread_started;
	struct vcpu_stats stats;
};

/* Create the vCPU fd and map its kvm_run page. */
int vcpu_create(const struct vcpu_host *host, struct vcpu *vcpu, unsigned int id);
/* Start its thread, which installs `filter` (may be NULL) before it runs guest code. */
int vcpu_start(struct vcpu *vcpu, const struct seccomp_filter *filter);
/* Make the vCPU leave KVM_RUN now and not enter it again (any thread). */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Install the signal used by vcpu_kick; once per process, before any vCPU starts. */
int vcpu_signal_setup(void);

#endif
