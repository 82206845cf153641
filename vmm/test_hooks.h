/* Test-only hooks, compiled into build/kiln-testhooks and nowhere else. */
#ifndef KILN_TEST_HOOKS_H
#define KILN_TEST_HOOKS_H

#ifdef KILN_TEST_HOOKS
#include <stdbool.h>
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

/*
 * Whether creating vCPU `id`'s thread should fail: KILN_TEST_FAIL_VCPU_START names it, so
 * tests can check what a thread limit does to a VM that is half started.
 */
static inline bool test_hook_fail_vcpu_start(unsigned int id)
{
	const char *want = getenv("KILN_TEST_FAIL_VCPU_START");
	return want && strtoul(want, NULL, 10) == id;
}
#endif

#endif
