/* Process plumbing: sanitising, the readiness pipe, daemonizing, pid namespace, supervising. */
#ifndef KILN_JAILER_PROCESS_H
#define KILN_JAILER_PROCESS_H

#include <signal.h>
#include <sys/types.h>
#include "errors.h"
#include "util.h"

/* close every fd above 2, empty the environment, umask 077, default signal handling. */
int jail_sanitize(struct jail_err *err);

/*
 * The readiness pipe: the process that will exec the VMM holds the write end
 * (close-on-exec). It either execs (the reader sees EOF) or reports its error
 * through it and exits, so the jailer that started it can print the error even
 * when the builder's stderr is /dev/null, and clean up.
 */
NORETURN void jail_report_and_exit(int ready_fd, const struct jail_err *err);
/* 0 when the pipe closed without a report; -1 with the builder's error otherwise. */
int jail_wait_ready(int ready_fd, struct jail_err *err);

/* Double fork with setsid in between; stdio onto devnull_fd. Only the grandchild returns. */
int jail_daemonize(int devnull_fd, struct jail_err *err);

/* clone(CLONE_NEWPID) with fork semantics: 0 in the child (pid 1), its pid in the parent. */
pid_t jail_fork_new_pidns(struct jail_err *err);

/* Write "PID\n" to path (root-owned, 0644, must not exist). */
int jail_write_pidfile(const char *path, pid_t pid, struct jail_err *err);

/* The signals the supervising jailer forwards to the VMM. */
void jail_supervised_signals(sigset_t *set);
/*
 * Wait for child, forwarding SIGTERM/SIGINT/SIGHUP/SIGQUIT (blocked by the caller
 * before fork). Returns the VMM's exit code, or 128+signal if it was killed.
 */
int jail_supervise(pid_t child);

#endif
