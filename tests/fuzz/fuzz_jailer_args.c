/* The jailer's command-line parser on arbitrary argument vectors (NUL-separated). */
/* coverage: jailer/args.c */
#include <string.h>

#include "fuzz.h"
#include "jailer/config.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jail_config cfg;
	char *copy = malloc(size + 1);
	char *argv[MAX_ARGS + 2];
	struct jail_err err = { 0 };
	int argc = 1;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[0] = "jailer";
	for (size_t i = 0, start = 0; i <= size && argc <= MAX_ARGS; i++) {
		if (copy[i] == '\0') {
			argv[argc++] = copy + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	if (jail_parse_args(argc, argv, &cfg, &err) < 0) {
		FUZZ_CHECK(err.code >= 170 || err.code == 2, "exit code %d", err.code);
		FUZZ_CHECK(err.msg[0] != '\0', "an error without a message");
	} else {
		FUZZ_CHECK(cfg.n_binds <= JAIL_MAX_BINDS, "%zu binds", (size_t)cfg.n_binds);
		FUZZ_CHECK(strlen(cfg.exec_name) <= NAME_MAX, "exec name");
	}
	free(copy);
	return 0;
}
