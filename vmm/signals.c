/* Process signals: fatal ones end kiln with Firecracker's exit codes; stop requests go to the loop. */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "console.h"
#include "exit_codes.h"
#include "log.h"
#include "vm.h"

static const struct { int sig; int code; const char *name; } fatal[] = {
	{ SIGBUS, EXIT_SIGBUS, "SIGBUS" },
	{ SIGSEGV, EXIT_SIGSEGV, "SIGSEGV" },
	{ SIGXFSZ, EXIT_SIGXFSZ, "SIGXFSZ" },
	{ SIGXCPU, EXIT_SIGXCPU, "SIGXCPU" },
	{ SIGPIPE, EXIT_SIGPIPE, "SIGPIPE" },
	{ SIGILL, EXIT_SIGILL, "SIGILL" },
	{ SIGSYS, EXIT_BAD_SYSCALL, "SIGSYS" },
};

/* Append a decimal number to s; async-signal-safe, unlike snprintf. */
static void append_uint(char *s, unsigned int v)
{
	char digits[12];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	s += strlen(s);
	while (n)
		*s++ = digits[--n];
	*s = '\0';
}

static volatile int metrics_fd = -1;

void signals_set_metrics_fd(int fd)
{
	metrics_fd = fd;
}

static void fatal_handler(int sig, siginfo_t *info, void *uctx)
{
	char msg[96] = "Shutting down VM after intercepting signal ";
	int code = EXIT_UNEXPECTED;
	(void)uctx;

	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++) {
		if (fatal[i].sig == sig) {
			strcat(msg, fatal[i].name);
			code = fatal[i].code;
		}
	}
	if (sig == SIGSYS) {
		/* A seccomp denial: name the system call. */
		strcat(msg, " (bad syscall ");
		append_uint(msg, (unsigned int)info->si_syscall);
		strcat(msg, ")");
		/* The one metric that matters now, written without allocating. */
		static const char line[] = "{\"seccomp\":{\"num_faults\":1}}\n";
		if (metrics_fd >= 0 && write(metrics_fd, line, sizeof(line) - 1) < 0)
			msg[sizeof(msg) - 1] = '\0';	/* nothing more can be done */
	}
	console_restore();
	log_signal_safe(msg);
	_exit(code);
}

int signals_install_fatal(void)
{
	struct sigaction sa = { .sa_sigaction = fatal_handler, .sa_flags = SA_SIGINFO };
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		if (sigaction(fatal[i].sig, &sa, NULL) < 0)
			return -errno;
	return 0;
}

struct stop_signals {
	int fd;
	struct vm *vm;
};
static struct stop_signals stop_sigs = { .fd = -1 };

static void on_signal(void *opaque, uint32_t events)
{
	struct stop_signals *s = opaque;
	struct signalfd_siginfo si;
	(void)events;

	if (read(s->fd, &si, sizeof(si)) != sizeof(si))
		return;
	int code = si.ssi_signo == SIGHUP ? EXIT_SIGHUP : 128 + (int)si.ssi_signo;
	log_info("received %s from pid %u; stopping the VM", strsignal((int)si.ssi_signo),
		 si.ssi_pid);
	vm_request_stop(s->vm, code);
}

int signals_attach(struct evloop *loop, struct vm *vm)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	/* The vCPU kick signal only belongs to vCPU threads: they unblock it. */
	sigaddset(&set, SIGRTMIN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	sigdelset(&set, SIGRTMIN);
	stop_sigs.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (stop_sigs.fd < 0)
		return -errno;
	stop_sigs.vm = vm;
	return evloop_add(loop, stop_sigs.fd, EPOLLIN, on_signal, &stop_sigs);
}
