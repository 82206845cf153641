/* kiln's command line: Firecracker's flags, parsed strictly. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "log.h"

struct cli {
	const char *config_file;
	const char *id;
	const char *log_path;
	enum log_level level;
	bool level_set;
	bool show_level;
	bool show_log_origin;
	const char *metrics_path;
	bool boot_timer;
	bool help;
	bool version;
	uint64_t start_time_us;		/* from the jailer: its CLOCK_MONOTONIC start */
	uint64_t start_time_cpu_us;
	uint64_t parent_cpu_time_us;
	bool has_start_time;
	const char *seccomp_filter;	/* a compiled-filter file instead of the built-in one */
	bool no_seccomp;
	bool allow_mem_overcommit;	/* skip the memory admission check */
	uint64_t mem_limit_bytes;	/* from the jailer: its cgroup's limit; 0 when not given */
	const char *api_sock;		/* the API's socket (CLI_DEFAULT_API_SOCK) */
	bool no_api;			/* --no-api: --config-file alone */
	uint64_t http_api_max_payload_size;	/* a request body's limit (CLI_DEFAULT_MAX_PAYLOAD) */
};

#define CLI_DEFAULT_ID "anonymous-instance"
#define CLI_DEFAULT_API_SOCK "/run/firecracker.socket"	/* Firecracker's */
#define CLI_DEFAULT_MAX_PAYLOAD 51200			/* Firecracker's, in bytes */
#define CLI_MAX_PAYLOAD_LIMIT 1048576			/* the highest accepted */

/* Parse argv; err names the offending flag. */
int cli_parse(int argc, char **argv, struct cli *cli, struct error *err) MUST_CHECK;
/* 1 to 64 characters of [A-Za-z0-9-]. */
bool cli_valid_id(const char *id);
extern const char cli_usage[];

#endif
