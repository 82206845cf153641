/* A vCPU thread: KVM_RUN and exit dispatch to the buses, nothing else. */
#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "arch.h"
#include "bus.h"
#include "exit_codes.h"
#include "log.h"
#include "seccomp_filters.h"
#include "test_hooks.h"

#define VCPU_THREAD_STACK (256 * 1024)

static int kick_signal(void)
{
	return SIGRTMIN;
}

static void kick_handler(int sig)
{
	(void)sig;	/* its only job is to interrupt KVM_RUN */
}

int vcpu_signal_setup(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return EINTR. */
	return sigaction(kick_signal(), &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(const struct vcpu_host *host, struct vcpu *vcpu, unsigned int id)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->host = host;
	vcpu->id = id;
	vcpu->fd = ioctl(host->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return -errno;
	void *run = mmap(NULL, (size_t)host->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (run == MAP_FAILED) {
		int e = -errno;
		close(vcpu->fd);
		vcpu->fd = -1;
		return e;
	}
	vcpu->run = run;
	return 0;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t size = run->io.size, count = run->io.count;
	uint64_t off = run->io.data_offset;
	uint8_t *data = (uint8_t *)run + off;
	bool handled = true;

	/* KVM fills these; still, never let them point outside the shared page. */
	if ((size != 1 && size != 2 && size != 4) || count == 0 ||
	    off + (uint64_t)size * count > (uint64_t)vcpu->host->mmap_size)
		return;
	atomic_fetch_add_explicit(&vcpu->stats.exits_io, 1, memory_order_relaxed);
	for (uint32_t i = 0; i < count; i++, data += size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			handled &= bus_write(vcpu->host->pio, run->io.port, data, size);
		else
			handled &= bus_read(vcpu->host->pio, run->io.port, data, size);
	}
	if (!handled) {
		atomic_fetch_add_explicit(&vcpu->stats.unhandled_io, 1, memory_order_relaxed);
		log_ratelimited(LOG_DEBUG, "vCPU %u: unhandled port %s 0x%x size %u", vcpu->id,
				run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read",
				run->io.port, size);
	}
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;
	bool handled;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	atomic_fetch_add_explicit(&vcpu->stats.exits_mmio, 1, memory_order_relaxed);
	if (run->mmio.is_write)
		handled = bus_write(vcpu->host->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		handled = bus_read(vcpu->host->mmio, run->mmio.phys_addr, run->mmio.data, len);
	if (!handled) {
		atomic_fetch_add_explicit(&vcpu->stats.unhandled_mmio, 1, memory_order_relaxed);
		log_ratelimited(LOG_DEBUG, "vCPU %u: unhandled MMIO %s 0x%llx size %u", vcpu->id,
				run->mmio.is_write ? "write" : "read",
				(unsigned long long)run->mmio.phys_addr, len);
	}
}

/* Returns -1 to keep running, or the exit code the VM stops with. */
static int handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return -1;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return -1;
	case KVM_EXIT_INTR:
		return -1;
	case KVM_EXIT_HLT:
		log_info("vCPU %u halted with interrupts it cannot receive; stopping", vcpu->id);
		return EXIT_OK;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: how a guest without another reset method reboots. */
		log_warn("vCPU %u: guest shut down (triple fault); stopping", vcpu->id);
		arch_vcpu_dump(vcpu);
		return EXIT_OK;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			log_info("vCPU %u: guest powered off", vcpu->id);
			return EXIT_OK;
		case KVM_SYSTEM_EVENT_RESET:
			log_info("vCPU %u: guest reset", vcpu->id);
			return EXIT_OK;
		default:
			log_error("vCPU %u: guest crashed (system event %u)", vcpu->id,
				  run->system_event.type);
			arch_vcpu_dump(vcpu);
			return EXIT_GENERIC;
		}
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vCPU %u: KVM entry failed, hardware reason 0x%llx", vcpu->id,
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		arch_vcpu_dump(vcpu);
		return EXIT_GENERIC;
	case KVM_EXIT_INTERNAL_ERROR:
		log_error("vCPU %u: KVM internal error, suberror %u", vcpu->id,
			  run->internal.suberror);
		arch_vcpu_dump(vcpu);
		return EXIT_GENERIC;
	default:
		log_error("vCPU %u: unexpected KVM exit reason %u", vcpu->id, run->exit_reason);
		arch_vcpu_dump(vcpu);
		return EXIT_GENERIC;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	const struct vcpu_machine_ops *ops = vcpu->host->ops;
	void *machine = vcpu->host->machine;
	bool first_run = vcpu->id == 0;
	char name[16];
	sigset_t set;

	/* Named by the thread itself: pthread_setname_np on another thread needs /proc. */
	snprintf(name, sizeof(name), "kiln_vcpu %u", vcpu->id);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	log_set_thread_name(name);
	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	/* The thread's filter goes on before it runs guest code, after every resource exists. */
	if (vcpu->filter) {
		int ret = seccomp_install(vcpu->filter);
		if (ret < 0) {
			log_error("vCPU %u: installing its seccomp filter: %s", vcpu->id,
				  strerror(-ret));
			ops->request_stop(machine, EXIT_GENERIC);
		}
	}
#ifdef KILN_TEST_HOOKS
	test_hook_bad_syscall("vcpu");
#endif
	ops->wait_start(machine);
	while (!ops->stopping(machine)) {
		if (ops->pausing(machine)) {
			/* Between two KVM_RUNs: the last exit is handled, the state is KVM's. */
			arch_vcpu_paused(vcpu);
			ops->park(machine);
			/* vm_pause's kick set immediate_exit; a stop since then is seen above. */
			__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			continue;
		}
		if (first_run) {
			first_run = false;
			ops->first_run(machine);
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("vCPU %u: KVM_RUN: %m", vcpu->id);
			arch_vcpu_dump(vcpu);
			ops->request_stop(machine, EXIT_GENERIC);
			break;
		}
		int code = handle_exit(vcpu);
		if (code >= 0)
			ops->request_stop(machine, code);
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu, const struct seccomp_filter *filter)
{
	pthread_attr_t attr;
	int ret;

#ifdef KILN_TEST_HOOKS
	if (test_hook_fail_vcpu_start(vcpu->id))
		return -EAGAIN;
#endif
	vcpu->filter = filter;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_THREAD_STACK);
	ret = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	vcpu->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->run)
		return;
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->thread_started && !pthread_equal(vcpu->thread, pthread_self()))
		pthread_kill(vcpu->thread, kick_signal());
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->host->mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
