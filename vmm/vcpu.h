/* A vCPU thread: KVM_RUN and exit dispatch to the buses, nothing else. */
#ifndef KILN_VCPU_H
#define KILN_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

struct vcpu_stats {
	atomic_ulong exits_io;
	atomic_ulong exits_mmio;
	atomic_ulong unhandled_io;
	atomic_ulong unhandled_mmio;
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	struct vcpu_stats stats;
};

/* Create the vCPU fd and map its kvm_run page. */
int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);
int vcpu_start(struct vcpu *vcpu);
/* Make the vCPU leave KVM_RUN now and not enter it again (any thread). */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Install the signal used by vcpu_kick; once per process, before any vCPU starts. */
int vcpu_signal_setup(void);

#endif
