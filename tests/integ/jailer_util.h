/* Helpers for the jailer integration tests: run the real $JAILER, read what it built. */
#ifndef KILN_TESTS_JAILER_UTIL_H
#define KILN_TESTS_JAILER_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct jt {
	const char *jailer;
	char probe[PATH_MAX];		/* build/tests/helpers/jail_probe */
	char base[PATH_MAX];		/* a fresh --chroot-base-dir */
	char id[48];			/* unique per test */
	char root[PATH_MAX + 96];	/* base/jail_probe/id/root */
};

struct jt_result {
	int status;			/* exit code, or 128+signal */
	char out[65536];
	char err[8192];
};

/* Skips the test unless $JAILER is set and we are root; makes a temp base dir. */
void jt_init(struct jt *t);
/* Removes the temp base dir (and whatever a failed test left in it). */
void jt_fini(struct jt *t);

/* Run "$JAILER args..." (NULL-terminated), capture stdout/stderr, wait. */
void jt_run(struct jt_result *r, const char *const *args);
/* Start it in the background with stdout on a pipe; returns the pid. */
pid_t jt_spawn(const char *const *args, int *out_fd);
/* Read from fd until a line "ready" (or timeout); the text is kept in buf. */
bool jt_wait_ready(int fd, char *buf, size_t size, int timeout_ms);
/* waitpid with a timeout; returns exit code / 128+sig, or -1 on timeout. */
int jt_wait(pid_t pid, int timeout_ms);

/* Value of "key=" in key=value lines, or NULL. */
const char *jt_value(const char *text, const char *key, char *buf, size_t size);
/* The pid in root/jail_probe.pid, waiting up to timeout_ms for it; -1 if none. */
pid_t jt_read_pid(const struct jt *t, int timeout_ms);
/* True when dir exists and has no entries. */
bool jt_dir_empty(const char *dir);
/* Read a small file into buf; returns length or -1. */
ssize_t jt_read(const char *path, char *buf, size_t size);
/* Inode of a namespace link such as /proc/PID/ns/net. */
unsigned long jt_ns_inode(pid_t pid, const char *ns);

#endif
