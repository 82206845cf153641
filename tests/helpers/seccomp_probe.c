/*
 * Runs one system call under exactly one of kiln's compiled filters:
 *   seccomp_probe FILTER_FILE KIND NR [A0 [A1 ... A5]]
 * Installs KIND's filter, makes the call, then faults on purpose (SIGSEGV) without
 * another system call. Killed by SIGSYS: the filter denied it; SIGSEGV or an exit
 * (for exit and exit_group themselves): the filter allowed it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_filters.h"

int main(int argc, char **argv)
{
	struct seccomp_filter_set set;
	struct error err = { 0 };
	long a[6] = { -1, -1, -1, -1, -1, -1 };

	if (argc < 4 || argc > 10) {
		fprintf(stderr, "usage: seccomp_probe FILTER_FILE KIND NR [A0 ... A5]\n");
		return 2;
	}
	if (seccomp_load_file(argv[1], &set, &err) < 0) {
		fprintf(stderr, "seccomp_probe: %s\n", err.msg);
		return 2;
	}
	const struct seccomp_filter *f = seccomp_find(&set, argv[2]);
	if (!f) {
		fprintf(stderr, "seccomp_probe: no filter \"%s\"\n", argv[2]);
		return 2;
	}
	long nr = strtol(argv[3], NULL, 0);
	for (int i = 4; i < argc; i++)
		a[i - 4] = (long)strtoull(argv[i], NULL, 0);
	if (seccomp_install(f) < 0) {
		perror("seccomp_probe: seccomp");
		return 2;
	}
	syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	*(volatile int *)0 = 0;
	return 3;
}
