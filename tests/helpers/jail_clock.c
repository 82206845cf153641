/* Benchmark program the jailer execs: prints when it started, next to when the jailer did. */
#include <stdio.h>
#include <string.h>
#include <time.h>

/*
 * Usage (from the jailer): jail_clock --id ID --start-time-us T ...
 * Prints "exec_us=<CLOCK_MONOTONIC now, us> start_us=<T>" and exits 0: the difference is
 * the time from the jailer's start to this program's first instruction of main().
 */
int main(int argc, char **argv)
{
	struct timespec ts;
	const char *start = "0";

	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--start-time-us") == 0)
			start = argv[i + 1];
	printf("exec_us=%llu start_us=%s\n",
	       (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000,
	       start);
	return 0;
}
