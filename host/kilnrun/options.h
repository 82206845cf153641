/* kiln-run's command line, parsed into one struct (no side effects: unit-tested). */
#ifndef KILN_KILNRUN_OPTIONS_H
#define KILN_KILNRUN_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

#define RUN_MAX_FILES 32	/* --put and --get, each */
#define RUN_MAX_ENV 256
#define RUN_MAX_ARGS 1024

/* kiln-run's own exit statuses; any other status is the command's. */
enum run_exit {
	RUN_EXIT_USAGE = 2,	/* a bad command line: nothing was started */
	RUN_EXIT_TIMEOUT = 124,	/* --timeout ran out: the command was killed */
	RUN_EXIT_FAILED = 125,	/* kiln-run, the jail, the microVM or its agent failed */
	RUN_EXIT_NOEXEC = 126,	/* the command is not executable */
	RUN_EXIT_NOTFOUND = 127,	/* the command was not found */
};

/* A --put LOCAL:GUEST or --get GUEST:LOCAL (the guest path always absolute). */
struct run_file {
	const char *local;
	const char *guest;
};

struct run_options {
	/* What to do. */
	bool gc;			/* --gc: reap what killed or kept runs left, then exit */
	bool help, version;
	const char *const *argv;	/* the command (NULL-terminated), after "--" or a script */
	const char *script;		/* kiln-run SCRIPT: the local file that is copied in */
	const char *script_guest;	/* where it goes in the guest */
	/* The microVM. */
	const char *image;		/* directory: vmlinux, initramfs.cpio.gz, rootfs.ext4 */
	uint32_t vcpus;
	uint32_t mem_mib;
	uint32_t timeout_s;		/* wall clock from start; 0: none */
	uint32_t boot_timeout_s;	/* until the agent answers */
	bool net;
	bool keep;
	bool no_stdin;
	const char *json;		/* --json FILE ("-": standard output), or NULL */
	const char *workdir;
	struct run_file puts[RUN_MAX_FILES], gets[RUN_MAX_FILES];
	unsigned n_puts, n_gets;
	const char *env[RUN_MAX_ENV + 1];
	unsigned n_env;
	int verbose;
	/* The host's set-up (an operator's, usually fixed for a machine). */
	const char *jailer, *kiln;	/* NULL: next to kiln-run's own binary */
	const char *chroot_base;
	const char *state_dir;
	const char *parent_cgroup;
	uint32_t uid_base;		/* run N gets uid and gid uid_base + N */
	uint32_t slots;			/* runs at once on this machine: 0..slots-1 */
	uint32_t pids_max;		/* 0: 32 + 2 per vCPU */
	uint8_t net_base[2];		/* --net-base A.B: the runs' addresses are A.B.0.0/16 */
	const char *dns;		/* --dns: the guest's name server, or NULL */
};

/*
 * Parses argv into o (strings point into argv). Returns 0, or -EINVAL with err naming
 * the option and what is wrong. Defaults come first, so a caller needs nothing else.
 * image defaults to the environment's KILN_RUN_IMAGE (passed as env_image) or
 * /var/lib/kiln/run-image.
 */
int run_options_parse(struct run_options *o, int argc, char **argv, const char *env_image,
		      struct error *err);

void run_options_usage(FILE *f);

#endif
