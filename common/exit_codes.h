/* Process exit codes shared by kiln and the jailer; the values follow Firecracker's. */
#ifndef KILN_EXIT_CODES_H
#define KILN_EXIT_CODES_H

enum kiln_exit {
	EXIT_OK = 0,
	EXIT_GENERIC = 1,		/* a runtime failure (KVM, host resources, guest crash) */
	EXIT_UNEXPECTED = 2,		/* an internal bug */
	EXIT_BAD_SYSCALL = 148,		/* seccomp denied a system call */
	EXIT_SIGBUS = 149,
	EXIT_SIGSEGV = 150,
	EXIT_SIGXFSZ = 151,
	EXIT_BAD_CONFIG = 152,		/* the JSON configuration is invalid */
	EXIT_BAD_ARGS = 153,		/* the command line is invalid */
	EXIT_SIGXCPU = 154,
	EXIT_SIGPIPE = 155,
	EXIT_SIGHUP = 156,
	EXIT_SIGILL = 157,
};

#endif
