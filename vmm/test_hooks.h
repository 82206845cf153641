/* Test-only hooks, compiled into build/kiln-testhooks and nowhere else. */
#ifndef KILN_TEST_HOOKS_H
#define KILN_TEST_HOOKS_H

#ifdef KILN_TEST_HOOKS
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * When KILN_TEST_BAD_SYSCALL names this thread kind, make a system call no filter
 * allows (getppid), so tests can check what a seccomp violation does.
 */
static inline void test_hook_bad_syscall(const char *kind)
{
	const char *want = getenv("KILN_TEST_BAD_SYSCALL");
	if (want && strcmp(want, kind) == 0)
		syscall(SYS_getppid);
}
#endif

#endif
