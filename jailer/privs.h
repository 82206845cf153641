/* Dropping every privilege with libcap, and proving from /proc that it is gone. */
#ifndef KILN_JAILER_PRIVS_H
#define KILN_JAILER_PRIVS_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "config.h"
#include "errors.h"
#include "procfs.h"

/*
 * In this order: empty the bounding set (needs CAP_SETPCAP, so first), clear the
 * ambient set, setgroups(none), setresgid, setresuid, clear inheritable/permitted/
 * effective (setresuid clears only the last two, and nothing when uid is 0),
 * PR_SET_NO_NEW_PRIVS. Any failure is fatal: a partial drop is never exec'd.
 */
int jail_drop_privileges(uid_t uid, gid_t gid, struct jail_err *err);

/* What the process must look like before exec. */
struct jail_expect {
	uid_t uid;
	gid_t gid;
	dev_t root_dev;		/* the jail root's identity, recorded before pivot_root */
	ino_t root_ino;
	const struct jail_bind *binds;	/* the only mounts besides the root */
	size_t n_binds;
};

/* Check a parsed /proc/self/status against the expectation (pure; unit-tested). */
int jail_check_status(const struct proc_status *st, const struct jail_expect *want,
		      struct jail_err *err);

/*
 * Re-read everything from the kernel: /proc/self/status through proc_fd (a
 * directory fd of the host's /proc, opened before pivot_root), libcap's view of the
 * capability sets, NoNewPrivs, that "/" is the jail root and that the only other
 * mounts are the declared binds (each once, nosuid,nodev,noexec, ro unless rw), and
 * that every fd above 2 is close-on-exec.
 */
int jail_verify(int proc_fd, const struct jail_expect *want, struct jail_err *err);

/* The mount part of jail_verify over mountinfo text (pure; unit-tested). */
int jail_check_mounts(const char *mountinfo, const struct jail_expect *want,
		      struct jail_err *err);

#endif
