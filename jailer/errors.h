/* The jailer's exit codes and the error record that library code fills instead of exiting. */
#ifndef KILN_JAILER_ERRORS_H
#define KILN_JAILER_ERRORS_H

#include "io.h"
#include "util.h"

/*
 * Exit codes of the jailer itself. They start at 170 so they can never be
 * mistaken for kiln's own codes (0-2, 148-157) or for 128+signal (129-159),
 * which the supervising jailer passes through when kiln exits.
 * jailer/README.md carries the same table; keep them in step.
 */
enum jail_exit {
	JAIL_EXIT_OK = 0,
	JAIL_EXIT_UNEXPECTED = 2,	/* an internal bug */
	JAIL_EXIT_USAGE = 170,		/* unknown option, missing value or option, duplicate */
	JAIL_EXIT_NOT_ROOT = 171,
	JAIL_EXIT_BAD_ID = 172,
	JAIL_EXIT_BAD_EXEC_FILE = 173,
	JAIL_EXIT_BAD_UID = 174,
	JAIL_EXIT_BAD_GID = 175,
	JAIL_EXIT_BAD_CHROOT_BASE = 176,
	JAIL_EXIT_BAD_NETNS = 177,
	JAIL_EXIT_BAD_CGROUP_CONTROLLER = 178,
	JAIL_EXIT_BAD_CGROUP_FILE = 179,
	JAIL_EXIT_BAD_CGROUP_VERSION = 180,
	JAIL_EXIT_BAD_PARENT_CGROUP = 181,
	JAIL_EXIT_BAD_RLIMIT = 182,
	JAIL_EXIT_BAD_NEW_NS = 183,
	JAIL_EXIT_JAIL_EXISTS = 184,	/* also: an entry the jailer creates already exists */
	JAIL_EXIT_UNSAFE_JAIL_DIR = 185,	/* a prepared jail directory: not root-owned, or g/o-writable */
	JAIL_EXIT_BIND_SOURCE = 186,	/* --bind: missing source, not a file or directory */
	JAIL_EXIT_BIND_TARGET = 187,	/* --bind: syntax, relative or ".." target */
	JAIL_EXIT_BIND_DUPLICATE = 188,	/* --bind: the same target twice, or one inside another */
	JAIL_EXIT_BIND_RESERVED = 189,	/* --bind: under /dev or /run, or a jailer entry */
	JAIL_EXIT_JAIL_DIR = 190,	/* creating the jail or copying the exec file */
	JAIL_EXIT_NETNS = 191,
	JAIL_EXIT_RLIMIT = 192,
	JAIL_EXIT_CGROUP = 193,
	JAIL_EXIT_MOUNT = 194,
	JAIL_EXIT_DEVICES = 195,
	JAIL_EXIT_PROCESS = 196,	/* fork, daemonize, pid namespace, pid file */
	JAIL_EXIT_PRIVS = 197,
	JAIL_EXIT_VERIFY = 198,
	JAIL_EXIT_EXEC = 199,
	JAIL_EXIT_CLEANUP = 200,
	JAIL_EXIT_BUSY = 201,		/* --cleanup: kiln still runs in the jail */
	JAIL_EXIT_NO_JAIL = 202,	/* --cleanup: no such jail */
};

/* What went wrong: an exit code for main() and one line naming the culprit. */
struct jail_err {
	int code;
	char msg[512];
};

/* Fill err and return -1, so callers can write `return jail_fail(err, ...)`. */
int jail_fail(struct jail_err *err, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Same, appending ": strerror(errnum)" (errnum may be negative). */
int jail_fail_errno(struct jail_err *err, int code, int errnum, const char *fmt, ...)
	PRINTF_LIKE(4, 5);

/*
 * open_outside_file (common/io.h) for the jailer: the one way it opens a path from its
 * command line. On failure err gets `code` and "<what> <path>: <reason>"; returns the fd
 * or -1.
 */
int jail_open_outside(const char *what, const char *path, int flags, unsigned int kinds,
		      int code, struct jail_err *err);

#endif
