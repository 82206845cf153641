/* One process the host asked for, run under its own supervisor so that nothing it starts survives it. */
#ifndef KILN_AGENT_EXEC_H
#define KILN_AGENT_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentproto/msg.h"

/*
 * The agent forks a supervisor per exec: a child subreaper that forks the command in a
 * new session (so its own process group), waits for it, then kills its process group and
 * every descendant left (those that changed group or session are reparented to the
 * supervisor), round after round until none is left, and only then reports how the
 * command ended on a status pipe.
 */
struct exec_proc {
	pid_t supervisor;
	pid_t pgid;		/* the command's pid, its process group and session */
	int in_fd;		/* write end of the command's stdin, or -1 */
	int out_fd, err_fd;	/* read ends of its stdout and stderr, or -1 at EOF */
	int status_fd;		/* the supervisor's reports, or -1 */
	bool ended;		/* the supervisor reported the end (result is valid) */
	struct ap_exit result;
	bool lost;		/* the supervisor died without a report */
	uint64_t start_ns;
	uint64_t deadline_ns;	/* 0: no time limit */
	bool timed_out;
	bool killing;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t exec_now_ns(void);

/*
 * Starts req. Returns 0 with every fd non-blocking and close-on-exec, or -errno: the
 * command could not be started (err names why, e.g. "execvp: ls: No such file or
 * directory", and the code is that errno), or fork/pipe failed.
 */
int exec_start(struct exec_proc *p, const struct ap_exec *req, char *err, size_t err_size);
/* Sends signo to the command's process group (nothing once it has ended). */
int exec_signal(struct exec_proc *p, int signo);
/* Ends the command and everything it started now (the supervisor sweeps). */
void exec_kill(struct exec_proc *p);
/*
 * Reads the supervisor's reports when status_fd is readable. Returns 1 when the end is
 * known (ended or lost), 0 otherwise.
 */
int exec_read_status(struct exec_proc *p);
/* Closes every fd; kills the command first when it has not ended. */
void exec_release(struct exec_proc *p);

#endif
