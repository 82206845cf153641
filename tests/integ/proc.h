/* Integration-test helper: run a program with input, a timeout, and captured output. */
#ifndef KILN_TESTS_PROC_H
#define KILN_TESTS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct proc_result {
	int status;		/* exit code, 128+signal, or -1 when it timed out */
	bool timed_out;
	char out[65536];
	char err[32768];
};

/*
 * Run argv[0] with argv, feeding `in` (may be NULL) on stdin and closing it,
 * capturing stdout and stderr; SIGKILL it after timeout_ms.
 */
void proc_run(const char *const *argv, const char *in, int timeout_ms, struct proc_result *r);
/* Start argv with pipes for stdin/stdout/stderr (any pointer may be NULL: /dev/null). */
pid_t proc_spawn(const char *const *argv, int *in_fd, int *out_fd, int *err_fd);
/* Read fd into buf (NUL-terminated) until `needle` appears or timeout; true if found. */
bool proc_read_until(int fd, char *buf, size_t size, const char *needle, int timeout_ms);
/* waitpid with a timeout: exit code, 128+signal, or -1 (still running). */
int proc_wait(pid_t pid, int timeout_ms);

#endif
