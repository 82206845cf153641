/* Running a helper program (the jailer's --cleanup, ip) and keeping what it said. */
#ifndef KILN_KILNRUN_COMMAND_H
#define KILN_KILNRUN_COMMAND_H

#include <stddef.h>

/*
 * Runs argv[0] (an absolute path, or a name looked up in PATH) with standard input on
 * /dev/null and its standard output and error collected into out (NUL-terminated, the
 * first size-1 bytes kept, trailing newlines removed). Returns its exit status, 128+N
 * when signal N killed it, or -errno when it could not be run.
 */
int command_run(const char *const argv[], char *out, size_t size);

#endif
