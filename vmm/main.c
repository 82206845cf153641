/* kiln: run one microVM. Parse, acquire every resource, restrict, run, stop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "api/mailbox.h"
#include "api/routes.h"
#include "api/server.h"
#include "arch.h"
#include "cli.h"
#include "config.h"
#include "console.h"
#include "controller.h"
#include "devices/boot_timer.h"
#include "devices/serial.h"
#include "devices/virtio/devices.h"
#include "evloop.h"
#include "exit_codes.h"
#include "io.h"
#include "json_arena.h"
#include "kvm.h"
#include "log.h"
#include "memlimit.h"
#include "metrics.h"
#include "seccomp_filters.h"
#include "signals.h"
#include "test_hooks.h"
#include "vcpu.h"
#include "vm.h"

struct kiln {
	struct cli cli;
	struct controller ctl;		/* the configuration and the VM's state */
	struct api_server api;		/* without --no-api */
	struct api_mailbox mailbox;	/* API requests to this thread */
	int start_code;			/* the exit code of a failed start */
	struct vm vm;
	struct evloop loop;
	struct metrics metrics;
	struct boot_timer boot_timer;
	struct virtio_devices devices;
	struct seccomp_filter_set loaded_filters;	/* from --seccomp-filter */
	const struct seccomp_filter_set *filters;	/* NULL with --no-seccomp */
	int kvm_fd;
	bool api_on;			/* the API thread runs */
	bool start_fatal;		/* a start failed past its inputs: kiln ends */
	int metrics_timer_fd;
	int console_fd;		/* serial.serial_out_path, -1 for standard output */
	struct serial *console;	/* the console UART, which the machine places on its bus */
	uint64_t main_start_ns;	/* CLOCK_MONOTONIC at main() */
	/* Figures recorded at the first KVM_RUN, for the start-up benchmark. */
	atomic_bool first_run_recorded;
	uint64_t first_run_cpu_us;	/* process CPU time since exec */
	uint64_t first_run_wall_us;	/* wall time since main() */
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Log the error and give main() the exit code to return. */
static int fail(int code, const struct error *err)
{
	log_error("%s", err->msg);
	return code;
}

/*
 * A log, metrics or console output: a file (created if missing), a FIFO or a character
 * device such as /dev/null. Opening never waits: a FIFO with no reader is an error.
 */
static int open_output(const char *key, const char *path, int *fd, struct error *err)
{
	*fd = open_outside_file(key, path, O_WRONLY | O_CREAT | O_APPEND, 0600,
				FILE_KIND_REG | FILE_KIND_FIFO | FILE_KIND_CHR, NULL, err);
	return *fd < 0 ? *fd : 0;
}

/* Logger settings: the config file's logger section, then command-line flags over it. */
static int setup_logger(struct kiln *k, struct error *err)
{
	const struct logger_config *lc = &k->ctl.cfg.logger;
	struct log_config c = { .id = k->cli.id, .level = LOG_INFO, .fd = -1 };
	const char *path = k->cli.log_path ? k->cli.log_path : lc->log_path;

	if (lc->level_set)
		c.level = lc->level;
	if (k->cli.level_set)
		c.level = k->cli.level;
	c.show_level = k->cli.show_level || lc->show_level;
	c.show_origin = k->cli.show_log_origin || lc->show_log_origin;
	if (path && open_output(k->cli.log_path ? "--log-path" : "logger.log_path", path, &c.fd,
				err) < 0)
		return err->code;
	log_configure(&c);
	return 0;
}

static int setup_metrics(struct kiln *k, struct error *err)
{
	const char *path = k->cli.metrics_path ? k->cli.metrics_path : k->ctl.cfg.metrics.metrics_path;
	int fd = -1;

	if (path && open_output(k->cli.metrics_path ? "--metrics-path" : "metrics.metrics_path",
				path, &fd, err) < 0)
		return err->code;
	metrics_init(&k->metrics, fd);
	return 0;
}

static int check_vcpu_limit(int kvm_fd, unsigned int want, struct error *err)
{
	int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && want > (unsigned int)max)
		return error_set(err, -EINVAL, "machine-config.vcpu_count: %u exceeds this host's "
				 "KVM limit of %d", want, max);
	return 0;
}

static void on_stop(void *opaque, uint32_t events)
{
	struct kiln *k = opaque;
	uint64_t v;
	(void)events;
	if (read(k->vm.stop_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error("stop eventfd: %m");
	k->loop.stop = true;
}

static void on_metrics_timer(void *opaque, uint32_t events)
{
	struct kiln *k = opaque;
	uint64_t expirations;
	(void)events;
	if (read(k->metrics_timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	if (metrics_flush(&k->metrics) < 0)
		log_ratelimited(LOG_WARN, "writing metrics: %m");
}

static int setup_boot_timer(struct kiln *k, struct error *err)
{
	uint64_t gpa;
	int ret;

	k->boot_timer.start_wall_us = k->cli.has_start_time ? k->cli.start_time_us
							    : k->main_start_ns / 1000u;
	k->boot_timer.start_cpu_us = k->cli.start_time_cpu_us + k->cli.parent_cpu_time_us;
	ret = vm_alloc_mmio(&k->vm, BOOT_TIMER_SIZE, &gpa);
	if (ret == 0)
		ret = bus_register(&k->vm.mmio, gpa, BOOT_TIMER_SIZE, &boot_timer_bus_ops,
				   &k->boot_timer, "boot-timer");
	if (ret < 0)
		return error_set(err, ret, "--boot-timer: %s", strerror(-ret));
	log_debug("boot timer at MMIO 0x%llx", (unsigned long long)gpa);
	return 0;
}

static int register_metrics(struct kiln *k)
{
	const struct serial_stats *s = serial_stats(k->console);
	int ret = 0;

	ret |= metrics_add(&k->metrics, "uart", "write_count", &s->write_count);
	ret |= metrics_add(&k->metrics, "uart", "missed_write_count", &s->missed_write_count);
	ret |= metrics_add(&k->metrics, "uart", "read_count", &s->read_count);
	/* Each metric sums one counter over every vCPU. */
	const struct vcpu *v = k->vm.vcpus;
	const size_t stride = sizeof(*v);
	const unsigned int n = k->vm.nr_vcpus;
	ret |= metrics_add_sum(&k->metrics, "vcpu", "exit_io", &v->stats.exits_io, stride, n);
	ret |= metrics_add_sum(&k->metrics, "vcpu", "exit_mmio", &v->stats.exits_mmio, stride, n);
	ret |= metrics_add_sum(&k->metrics, "vcpu", "unhandled_io", &v->stats.unhandled_io,
			       stride, n);
	ret |= metrics_add_sum(&k->metrics, "vcpu", "unhandled_mmio", &v->stats.unhandled_mmio,
			       stride, n);
	ret |= metrics_add(&k->metrics, "logger", "missed_log_count", log_missed_counter());
	return ret;
}

/* The filters each thread kind installs: built in, from --seccomp-filter, or none. */
static int choose_filters(struct kiln *k, struct error *err)
{
#ifdef __SANITIZE_ADDRESS__
	/* The sanitizer runtime clones, maps and reads /proc: no kiln filter allows that. */
	k->filters = NULL;
	log_warn("sanitizer build: seccomp filters are not installed");
	(void)err;
	return 0;
#endif
	if (k->cli.no_seccomp) {
		k->filters = NULL;
		log_warn("SECCOMP IS OFF (--no-seccomp): a guest that breaks into kiln can make any "
			 "system call kiln's user may make. Never run production VMs this way.");
		return 0;
	}
	if (k->cli.seccomp_filter) {
		if (seccomp_load_file(k->cli.seccomp_filter, &k->loaded_filters, err) < 0) {
			error_prefix(err, "--seccomp-filter");
			return err->code;
		}
		k->filters = &k->loaded_filters;
		return 0;
	}
	k->filters = &seccomp_builtin;
	return seccomp_validate(k->filters, err);
}

/* The API thread's filter, which a --seccomp-filter file must have unless --no-api. */
static int api_filter(struct kiln *k, const struct seccomp_filter **f, struct error *err)
{
	*f = k->filters ? seccomp_find(k->filters, "api") : NULL;
	if (k->filters && !*f)
		return error_set(err, -EINVAL, "%s: no filter for the \"api\" thread (needed "
				 "unless --no-api)", k->cli.seccomp_filter ? k->cli.seccomp_filter
									   : "built-in filters");
	return 0;
}

/* On vCPU 0's thread, right before its first KVM_RUN: the start-up figures. */
static void record_first_run(void *opaque)
{
	struct kiln *k = opaque;
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	k->first_run_cpu_us = (uint64_t)cpu.tv_sec * 1000000u + (uint64_t)cpu.tv_nsec / 1000u;
	k->first_run_wall_us = (monotonic_ns() - k->main_start_ns) / 1000u;
	atomic_store(&k->first_run_recorded, true);
}

/* The main thread's filter: after the vCPU threads exist, before guest code runs. */
static int restrict_main_thread(void *opaque)
{
	struct kiln *k = opaque;
	int ret = k->filters ? seccomp_install(seccomp_find(k->filters, "vmm")) : 0;
#ifdef KILN_TEST_HOOKS
	if (ret == 0)
		test_hook_bad_syscall("vmm");
#endif
	return ret;
}

/*
 * Memory admission: the guest must fit under the limit kiln runs in (its cgroup's
 * memory.max or memory.limit_in_bytes, or the limit the jailer passed on with
 * --mem-limit-bytes, else the host's memory), unless the operator asked for overcommit.
 */
static int admit_memory(struct kiln *k, struct error *err)
{
	const struct machine_config *mc = &k->ctl.cfg.machine;
	struct mem_limit lim;

	int found = mem_limit_host(&lim);

	/* In a jail there is no /sys: the jailer read the cgroup's limit and passed it on. */
	if (k->cli.mem_limit_bytes && (found < 0 || k->cli.mem_limit_bytes < lim.bytes)) {
		lim.bytes = k->cli.mem_limit_bytes;
		snprintf(lim.source, sizeof(lim.source), "the jail's cgroup, as the jailer read it");
		found = 0;
	}
	if (found < 0) {
		log_warn("machine-config.mem_size_mib: no memory limit found (no cgroup, "
			 "/proc/meminfo or sysinfo); %llu MiB admitted unchecked",
			 (unsigned long long)mc->mem_size_mib);
		return 0;
	}
	if (mem_admit(mc->mem_size_mib, &lim, false, err) == 0)
		return 0;
	if (!k->cli.allow_mem_overcommit)
		return err->code;
	log_warn("machine-config.mem_size_mib: %llu MiB overcommits the %llu MiB kiln may use "
		 "(%s): started because of --allow-mem-overcommit",
		 (unsigned long long)mc->mem_size_mib, (unsigned long long)(lim.bytes >> 20),
		 lim.source);
	return 0;
}

/*
 * Step 3a: every input, before any guest memory, memory slot or KVM object exists: the
 * guest's size against the memory limit, the console output, the kernel and initrd
 * (opened, and checked against the memory layout), the drives (opened), the command
 * line's length. No KVM is needed, so bad input is refused the same way on any host.
 */
static int validate_inputs(struct kiln *k, struct error *err)
{
	const struct vm_config *cfg = &k->ctl.cfg;
	uint64_t mem_size;
	int ret;

	if (MUL_OVERFLOWS(cfg->machine.mem_size_mib, MiB(1), &mem_size))
		return error_set(err, -EINVAL, "machine-config.mem_size_mib: %llu MiB is too large",
				 (unsigned long long)cfg->machine.mem_size_mib);
	if ((ret = admit_memory(k, err)) < 0)
		return ret;
	if (cfg->boot.boot_args && strlen(cfg->boot.boot_args) >= CMDLINE_MAX)
		return error_set(err, -E2BIG, "boot-source.boot_args: the kernel command line is "
				 "%zu bytes; at most %d fit in its page",
				 strlen(cfg->boot.boot_args), CMDLINE_MAX - 1);
	if (cfg->serial.serial_out_path &&
	    (ret = open_output("serial.serial_out_path", cfg->serial.serial_out_path,
			       &k->console_fd, err)) < 0)
		return ret;
	if ((ret = vm_check_boot_files(&k->vm, &arch_machine_ops, &cfg->boot, mem_size, err)) < 0)
		return ret;
	return virtio_devices_open(&k->devices, cfg, err);
}

/* Step 3: every host resource and every guest structure (after validate_inputs). */
static int build_vm(struct kiln *k, struct error *err, int *code)
{
	const struct vm_config *cfg = &k->ctl.cfg;
	int ret;

	*code = EXIT_GENERIC;
	k->kvm_fd = kvm_open("/dev/kvm", err);
	if (k->kvm_fd < 0)
		return k->kvm_fd;
	if ((ret = kvm_check_caps(k->kvm_fd, kvm_common_caps, kvm_common_caps_nr, err)) < 0 ||
	    (ret = arch_check_caps(k->kvm_fd, err)) < 0)
		return ret;

	*code = EXIT_BAD_CONFIG;
	if ((ret = check_vcpu_limit(k->kvm_fd, cfg->machine.vcpu_count, err)) < 0)
		return ret;
	k->vm.smt = cfg->machine.smt;
	if ((ret = vm_create(&k->vm, &arch_machine_ops, k->kvm_fd, &cfg->machine, err)) < 0)
		return ret;

	*code = EXIT_GENERIC;
	if ((ret = vm_create_vcpus(&k->vm, cfg->machine.vcpu_count, err)) < 0)
		return ret;
	k->console = console_uart_create(&k->vm, arch_console_irq(),
					 k->console_fd >= 0 ? k->console_fd : STDOUT_FILENO);
	if (!k->console)
		return error_set(err, -ENOMEM, "out of memory for the console UART");
	struct arch_devices_env env = { .console = k->console, .metrics = &k->metrics };
	if ((ret = arch_devices_init(&k->vm, cfg, &env, err)) < 0)
		return ret;
	if (k->cli.boot_timer && (ret = setup_boot_timer(k, err)) < 0)
		return ret;

	*code = EXIT_BAD_CONFIG;
	cmdline_append(&k->vm.cmdline, "%s",
		       cfg->boot.boot_args ? cfg->boot.boot_args : CONFIG_DEFAULT_BOOT_ARGS);
	/* Virtio devices: open the drives, then give each a window, an IRQ and a cmdline entry. */
	if ((ret = virtio_devices_create(&k->devices, &k->vm, cfg, &k->metrics, err)) < 0)
		return ret;
	*code = EXIT_GENERIC;
	if ((ret = virtio_devices_place(&k->devices, &k->vm, err)) < 0)
		return ret;
	*code = EXIT_BAD_CONFIG;
	if (cmdline_check(&k->vm.cmdline, CMDLINE_MAX) < 0)
		return error_set(err, -E2BIG, "boot-source.boot_args: the kernel command line is "
				 "%zu bytes; at most %d fit in its page", k->vm.cmdline.want,
				 CMDLINE_MAX - 1);
	if ((ret = arch_load_boot(&k->vm, &cfg->boot, err)) < 0)
		return ret;

	*code = EXIT_GENERIC;
	for (unsigned int i = 0; i < k->vm.nr_vcpus; i++)
		if ((ret = arch_vcpu_init(&k->vm, &k->vm.vcpus[i], err)) < 0)
			return ret;
	return 0;
}

/* After the start, each API request is answered here, on the event loop. */
static void on_api_request(void *opaque, uint32_t events)
{
	struct kiln *k = opaque;
	(void)events;
	json_arena_reset();
	api_mailbox_serve(&k->mailbox, api_route, &k->ctl);
}

/* The event loop's sources: stop requests, signals, console input, devices, the metrics timer. */
static int setup_loop(struct kiln *k, struct error *err)
{
	struct itimerspec period = { { METRICS_PERIOD_S, 0 }, { METRICS_PERIOD_S, 0 } };
	int ret;

	if ((ret = evloop_init(&k->loop)) < 0)
		return error_set(err, ret, "epoll: %s", strerror(-ret));
	if ((ret = evloop_add(&k->loop, k->vm.stop_efd, EPOLLIN, on_stop, k)) < 0 ||
	    (ret = signals_attach(&k->loop, &k->vm)) < 0 ||
	    (ret = console_attach(&k->loop, k->console, STDIN_FILENO)) < 0 ||
	    (ret = virtio_devices_attach(&k->devices, &k->loop)) < 0 ||
	    (k->api_on && (ret = evloop_add(&k->loop, k->mailbox.efd, EPOLLIN, on_api_request,
					 k)) < 0))
		return error_set(err, ret, "event loop: %s", strerror(-ret));
	if (k->metrics.fd >= 0) {
		k->metrics_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (k->metrics_timer_fd < 0 ||
		    timerfd_settime(k->metrics_timer_fd, 0, &period, NULL) < 0 ||
		    (ret = evloop_add(&k->loop, k->metrics_timer_fd, EPOLLIN, on_metrics_timer,
				      k)) < 0)
			return error_set(err, -errno, "metrics timer: %s", strerror(errno));
	}
	return register_metrics(k) < 0 ? error_set(err, -ENOSPC, "too many metrics") : 0;
}

/* The machine and the console UART on its bus, once the vCPUs are gone. */
static void machine_destroy(struct kiln *k)
{
	vm_destroy(&k->vm);
	serial_destroy(k->console);
	k->console = NULL;
}

/* Undo what validate_inputs opened, so that a corrected configuration may start. */
static void release_inputs(struct kiln *k)
{
	virtio_devices_destroy(&k->devices);
	machine_destroy(k);
	if (k->console_fd >= 0)
		close(k->console_fd);
	k->console_fd = -1;
}

/*
 * InstanceStart (from the config file or the API): every input checked, then the
 * machine built, the loop set up and the vCPUs started. A bad input leaves kiln as it
 * was; a failure after that ends kiln with start_code once the API has answered.
 */
static int start_vm(void *opaque, struct error *err)
{
	struct kiln *k = opaque;
	int code, ret;

	k->start_code = EXIT_BAD_CONFIG;
	if ((ret = validate_inputs(k, err)) < 0) {
		release_inputs(k);
		return ret;
	}
	k->start_fatal = true;
	if (build_vm(k, err, &code) < 0) {
		k->start_code = code;
		virtio_devices_destroy(&k->devices);
		machine_destroy(k);
		return err->code;
	}
	k->start_code = EXIT_GENERIC;
	if (setup_loop(k, err) < 0) {
		console_restore();
		machine_destroy(k);
		return err->code;
	}
	/*
	 * 4. Start the vCPU threads: each installs its seccomp filter, then this thread
	 * installs its own, and only then does any vCPU run guest code. From here on no
	 * thread of kiln can create threads, exec or open files. (kiln holds no privileges:
	 * the jailer dropped them before exec.)
	 */
	struct vm_start_hooks hooks = {
		.vcpu_filter = k->filters ? seccomp_find(k->filters, "vcpu") : NULL,
		.restrict_self = restrict_main_thread,
		.first_run = record_first_run,
		.opaque = k,
	};
	if (vm_start(&k->vm, &hooks, err) < 0) {
		vm_join(&k->vm);
		console_restore();
		machine_destroy(k);
		return err->code;
	}
	k->start_fatal = false;
	metrics_flush(&k->metrics);
	/* From here this thread's heap never grows: the API's JSON lives in a fixed arena. */
	json_arena_enable();
	return 0;
}

static int flush_metrics(void *opaque, struct error *err)
{
	struct kiln *k = opaque;
	int ret = metrics_flush(&k->metrics);
	return ret < 0 ? error_set(err, ret, "metrics: writing: %s", strerror(-ret)) : 0;
}

static int apply_logger(void *opaque, struct error *err)
{
	return setup_logger(opaque, err);
}

static int apply_metrics(void *opaque, struct error *err)
{
	struct kiln *k = opaque;
	int ret = setup_metrics(k, err);
	if (ret == 0)
		signals_set_metrics_fd(k->metrics.fd);
	return ret;
}

/* PATCH /vm: on the main thread, with the event loop (and so the devices) held meanwhile. */
static int pause_vm(void *opaque, struct error *err)
{
	struct kiln *k = opaque;
	int ret = vm_pause(&k->vm);
	if (ret < 0)
		return error_set(err, ret, "vm.state: the microVM is stopping");
	log_info("the microVM is paused");
	return 0;
}

static int resume_vm(void *opaque, struct error *err)
{
	struct kiln *k = opaque;
	(void)err;
	vm_resume(&k->vm);
	log_info("the microVM is resumed");
	return 0;
}

static int ctrl_alt_del(void *opaque, struct error *err)
{
	struct kiln *k = opaque;
	int ret = arch_ctrl_alt_del(&k->vm);
	if (ret == -ENOTSUP)
		return error_set(err, ret, "SendCtrlAltDel: not supported on this architecture "
				 "(it has no i8042)");
	if (ret < 0)
		return error_set(err, ret, "SendCtrlAltDel: the keyboard's buffer is full (the "
				 "guest is not reading its keyboard)");
	log_info("sent Ctrl+Alt+Del to the guest's keyboard");
	return 0;
}

/* PATCH /drives/{id}: on the main thread, which serves the devices' queues. */
static int update_drive(void *opaque, unsigned int index, const struct drive_config *d,
			bool path, bool bandwidth, bool ops, struct error *err)
{
	struct kiln *k = opaque;
	int ret = virtio_devices_update_drive(&k->devices, index, d, path, bandwidth, ops, err);
	if (ret == 0)
		log_info("drives[%s] updated:%s%s%s", d->drive_id, path ? " path_on_host " : "",
			 path ? d->path_on_host : "", bandwidth || ops ? " rate_limiter" : "");
	return ret;
}

/* PATCH /network-interfaces/{id}: the rate limiters, on the main thread. */
static int update_net(void *opaque, unsigned int index, const struct net_config *n,
		      const struct net_update *u, struct error *err)
{
	struct kiln *k = opaque;
	int ret = virtio_devices_update_net(&k->devices, index, n, u, err);
	if (ret == 0)
		log_info("network-interfaces[%s] updated:%s%s", n->iface_id,
			 u->has_rx_bandwidth || u->has_rx_ops ? " rx_rate_limiter" : "",
			 u->has_tx_bandwidth || u->has_tx_ops ? " tx_rate_limiter" : "");
	return ret;
}

static const struct controller_ops kiln_ops = {
	.update_drive = update_drive,
	.update_net = update_net,
	.ctrl_alt_del = ctrl_alt_del,
	.start = start_vm,
	.pause = pause_vm,
	.resume = resume_vm,
	.flush_metrics = flush_metrics,
	.apply_logger = apply_logger,
	.apply_metrics = apply_metrics,
};

_Static_assert(CLI_MAX_PAYLOAD_LIMIT == HTTP_MAX_PAYLOAD_LIMIT &&
	       CLI_DEFAULT_MAX_PAYLOAD == HTTP_MAX_PAYLOAD, "the API's body limits");

/* The API's socket and thread, before anything else may fail slowly. */
static int start_api(struct kiln *k, struct error *err)
{
	const struct seccomp_filter *filter;
	int ret = api_filter(k, &filter, err);
	if (ret < 0)
		return ret;
	if ((ret = api_mailbox_init(&k->mailbox)) < 0)
		return error_set(err, ret, "API mailbox: %s", strerror(-ret));
	if ((ret = api_server_init(&k->api, k->cli.api_sock, k->cli.http_api_max_payload_size,
				   api_mailbox_call, &k->mailbox, err)) < 0)
		return ret;
	k->api_on = true;
	return api_server_start(&k->api, filter, err);
}

int main(int argc, char **argv)
{
	static struct kiln k = { .kvm_fd = -1, .metrics_timer_fd = -1, .console_fd = -1 };
	struct error err = { 0 };
	int code, ret;

	k.main_start_ns = monotonic_ns();
	/* Freed memory stays in the heap: the filtered main thread never calls brk. */
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	k.vm.vm_fd = k.vm.stop_efd = -1;

	/* 1. The command line. */
	if (cli_parse(argc, argv, &k.cli, &err) < 0)
		return fail(EXIT_BAD_ARGS, &err);
	if (k.cli.help) {
		fputs(cli_usage, stdout);
		return EXIT_OK;
	}
	if (k.cli.version) {
#ifdef __SANITIZE_ADDRESS__
		printf("kiln %s (sanitizer build: no seccomp filters)\n", KILN_VERSION);
#else
		printf("kiln %s\n", KILN_VERSION);
#endif
		return EXIT_OK;
	}
	log_configure(&(struct log_config){ .id = k.cli.id, .level = k.cli.level, .fd = -1,
					    .show_level = k.cli.show_level,
					    .show_origin = k.cli.show_log_origin });
	if (signals_install_fatal() < 0)
		return EXIT_GENERIC;

	/* 2. The configuration file, and the logger and metrics it (or the flags) ask for. */
	ctl_init(&k.ctl, &kiln_ops, &k, k.cli.id);
	if (k.cli.config_file && config_load_file(k.cli.config_file, &k.ctl.cfg, &err) < 0)
		return fail(EXIT_BAD_CONFIG, &err);
	if (setup_logger(&k, &err) < 0 || setup_metrics(&k, &err) < 0)
		return fail(EXIT_BAD_CONFIG, &err);
	k.ctl.metrics_applied = k.metrics.fd >= 0;
	signals_set_metrics_fd(k.metrics.fd);
	log_info("Running kiln v%s", KILN_VERSION);
	if (choose_filters(&k, &err) < 0)
		return fail(EXIT_BAD_ARGS, &err);

	/* 3. The API: its socket, and its thread (filtered from its first request on). */
	if (!k.cli.no_api && (ret = start_api(&k, &err)) < 0) {
		if (k.api_on)
			api_server_destroy(&k.api);
		return fail(ret == -EINVAL ? EXIT_BAD_ARGS : EXIT_GENERIC, &err);
	}

	/*
	 * 4. Acquire and start: KVM, guest memory, vCPUs, devices, kernel and boot tables, the
	 * loop, then the vCPU threads. From the file at once, else when the API's
	 * InstanceStart asks; until then this thread answers the API's requests.
	 */
	if (k.cli.config_file) {
		if (ctl_start(&k.ctl, &err) < 0) {
			if (k.api_on)
				api_server_destroy(&k.api);
			return fail(k.start_code, &err);
		}
	} else {
		while (k.ctl.state == VM_NOT_STARTED && !k.start_fatal) {
			if ((ret = api_mailbox_wait(&k.mailbox)) < 0) {
				log_error("API mailbox: %s", strerror(-ret));
				return EXIT_GENERIC;
			}
			api_mailbox_serve(&k.mailbox, api_route, &k.ctl);
		}
		if (k.start_fatal) {
			/* The API answered with the error: its thread writes it, then ends. */
			api_server_destroy(&k.api);
			return k.start_code;
		}
	}

	/* 5. Run until the guest or a signal stops the VM. */
	ret = evloop_run(&k.loop);
	if (ret < 0) {
		log_error("event loop: %s", strerror(-ret));
		vm_request_stop(&k.vm, EXIT_GENERIC);
	}

	/* 6. Stop: every vCPU out of KVM_RUN, final metrics, the terminal as it was. */
	vm_request_stop(&k.vm, EXIT_OK);
	code = vm_join(&k.vm);
	if (atomic_load(&k.first_run_recorded))
		log_debug("first KVM_RUN after %llu us of CPU time, %llu us since start",
			  (unsigned long long)k.first_run_cpu_us,
			  (unsigned long long)k.first_run_wall_us);
	if (metrics_flush(&k.metrics) < 0)
		log_warn("writing metrics: %m");
	console_restore();
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	log_info("kiln exiting with code %d after %lld ms of CPU time (guest included)", code,
		 (long long)cpu.tv_sec * 1000 + cpu.tv_nsec / 1000000);
	/* The API thread may be waiting on this thread's answer: it ends with the process. */
	virtio_devices_destroy(&k.devices);
	machine_destroy(&k);
	evloop_destroy(&k.loop);
	ctl_free(&k.ctl);
	seccomp_set_free(&k.loaded_filters);
	return code;
}
