/* kiln's command line: Firecracker's flags, parsed strictly. */
#include "cli.h"

#include <errno.h>
#include <string.h>

#include "parse.h"

const char cli_usage[] =
"Usage: kiln [--api-sock PATH] [--config-file FILE] [OPTIONS]\n"
"       kiln --no-api --config-file FILE [OPTIONS]\n"
"\n"
"Runs one microVM, configured through Firecracker's HTTP API on a Unix socket, or\n"
"from a Firecracker-compatible JSON configuration file, or both (the file boots the VM\n"
"and the API keeps serving).\n"
"\n"
"Options:\n"
"  --api-sock PATH           the API's Unix socket (default /run/firecracker.socket;\n"
"                            a path that exists is refused)\n"
"  --no-api                  no API: run from --config-file alone\n"
"  --http-api-max-payload-size N\n"
"                            the largest request body the API takes, in bytes:\n"
"                            1 to 1048576 (default 51200)\n"
"  --config-file FILE        VM configuration (boot-source, machine-config, ...);\n"
"                            - reads it from standard input\n"
"  --id ID                   instance id for log lines (default anonymous-instance;\n"
"                            1-64 characters of A-Z a-z 0-9 -)\n"
"  --log-path FILE           append log lines to FILE instead of standard error\n"
"  --level LEVEL             Error, Warning, Info (default), Debug, Trace or Off\n"
"  --show-level              add the level to each log line\n"
"  --show-log-origin         add the source file and line to each log line\n"
"  --metrics-path FILE       append metrics as JSON lines to FILE (a file or FIFO)\n"
"  --boot-timer              log Guest-boot-time when the guest writes 123 to the\n"
"                            boot timer's MMIO address (the first MMIO window)\n"
"  --seccomp-filter FILE     use these compiled seccomp filters instead of the\n"
"                            built-in ones (see tools/seccomp/seccompc)\n"
"  --no-seccomp              run without seccomp filters: for debugging only\n"
"  --allow-mem-overcommit    start a guest whose memory exceeds the memory limit\n"
"                            kiln runs under (its cgroup's, else the host's)\n"
"  --mem-limit-bytes N       the memory limit of the jail's cgroup, passed on by the\n"
"                            jailer (a jail has no /sys to read it from)\n"
"  --start-time-us N, --start-time-cpu-us N, --parent-cpu-time-us N\n"
"                            start-up timing passed on by the jailer\n"
"  --version                 print the version and exit\n"
"  --help                    print this help and exit\n"
"\n"
"Exit codes: 0 the guest shut down or rebooted, 1 runtime error, 152 bad\n"
"configuration, 153 bad arguments, 148 seccomp violation, 149-157 fatal signals.\n";

bool cli_valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

enum opt { O_CONFIG, O_ID, O_LOG_PATH, O_LEVEL, O_SHOW_LEVEL, O_SHOW_ORIGIN, O_METRICS,
	   O_BOOT_TIMER, O_NO_API, O_API_SOCK, O_START_US, O_START_CPU_US, O_PARENT_CPU_US,
	   O_VERSION, O_HELP, O_SECCOMP_FILTER, O_NO_SECCOMP, O_MEM_OVERCOMMIT,
	   O_MEM_LIMIT, O_MAX_PAYLOAD };

static const struct { const char *name; enum opt opt; bool arg; } opts[] = {
	{ "config-file", O_CONFIG, true }, { "id", O_ID, true },
	{ "log-path", O_LOG_PATH, true }, { "level", O_LEVEL, true },
	{ "show-level", O_SHOW_LEVEL, false }, { "show-log-origin", O_SHOW_ORIGIN, false },
	{ "metrics-path", O_METRICS, true }, { "boot-timer", O_BOOT_TIMER, false },
	{ "no-api", O_NO_API, false }, { "api-sock", O_API_SOCK, true },
	{ "start-time-us", O_START_US, true }, { "start-time-cpu-us", O_START_CPU_US, true },
	{ "parent-cpu-time-us", O_PARENT_CPU_US, true }, { "version", O_VERSION, false },
	{ "help", O_HELP, false }, { "seccomp-filter", O_SECCOMP_FILTER, true },
	{ "no-seccomp", O_NO_SECCOMP, false },
	{ "allow-mem-overcommit", O_MEM_OVERCOMMIT, false },
	{ "mem-limit-bytes", O_MEM_LIMIT, true },
	{ "http-api-max-payload-size", O_MAX_PAYLOAD, true },
};

static int number(const char *flag, const char *v, uint64_t *out, struct error *err)
{
	if (parse_u64(v, UINT64_MAX, out) < 0)
		return error_set(err, -EINVAL, "--%s: \"%s\" is not a non-negative integer", flag, v);
	return 0;
}

int cli_parse(int argc, char **argv, struct cli *cli, struct error *err)
{
	bool api_sock_given = false;

	memset(cli, 0, sizeof(*cli));
	cli->id = CLI_DEFAULT_ID;
	cli->api_sock = CLI_DEFAULT_API_SOCK;
	cli->http_api_max_payload_size = CLI_DEFAULT_MAX_PAYLOAD;
	cli->level = LOG_INFO;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		size_t k;
		if (strncmp(a, "--", 2) != 0)
			return error_set(err, -EINVAL, "unexpected argument \"%s\" (see --help)", a);
		a += 2;
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		for (k = 0; k < ARRAY_SIZE(opts); k++)
			if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, a, nlen) == 0)
				break;
		if (k == ARRAY_SIZE(opts))
			return error_set(err, -EINVAL, "unknown option --%.*s (see --help)",
					 (int)nlen, a);
		const char *name = opts[k].name;
		if (opts[k].arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return error_set(err, -EINVAL, "--%s needs a value", name);
		} else if (eq) {
			return error_set(err, -EINVAL, "--%s takes no value", name);
		}
		switch (opts[k].opt) {
		case O_CONFIG: cli->config_file = val; break;
		case O_ID:
			if (!cli_valid_id(val))
				return error_set(err, -EINVAL, "--id: \"%s\" must be 1 to 64 "
						 "characters of A-Z, a-z, 0-9 and -", val);
			cli->id = val;
			break;
		case O_LOG_PATH: cli->log_path = val; break;
		case O_LEVEL:
			if (log_parse_level(val, &cli->level) < 0)
				return error_set(err, -EINVAL, "--level: \"%s\" is not one of Error, "
						 "Warning, Info, Debug, Trace, Off", val);
			cli->level_set = true;
			break;
		case O_SHOW_LEVEL: cli->show_level = true; break;
		case O_SHOW_ORIGIN: cli->show_log_origin = true; break;
		case O_METRICS: cli->metrics_path = val; break;
		case O_BOOT_TIMER: cli->boot_timer = true; break;
		case O_NO_API: cli->no_api = true; break;
		case O_API_SOCK:
			if (!*val)
				return error_set(err, -EINVAL, "--api-sock: must not be empty");
			cli->api_sock = val;
			api_sock_given = true;
			break;
		case O_SECCOMP_FILTER: cli->seccomp_filter = val; break;
		case O_NO_SECCOMP: cli->no_seccomp = true; break;
		case O_MEM_OVERCOMMIT: cli->allow_mem_overcommit = true; break;
		case O_MEM_LIMIT:
			if (number(name, val, &cli->mem_limit_bytes, err) < 0)
				return err->code;
			if (cli->mem_limit_bytes == 0)
				return error_set(err, -EINVAL, "--%s: must not be 0", name);
			break;
		case O_MAX_PAYLOAD:
			if (number(name, val, &cli->http_api_max_payload_size, err) < 0)
				return err->code;
			if (cli->http_api_max_payload_size < 1 ||
			    cli->http_api_max_payload_size > CLI_MAX_PAYLOAD_LIMIT)
				return error_set(err, -EINVAL, "--%s: %s is out of range (1 to %d)",
						 name, val, CLI_MAX_PAYLOAD_LIMIT);
			break;
		case O_START_US:
			cli->has_start_time = true;
			if (number(name, val, &cli->start_time_us, err) < 0)
				return err->code;
			break;
		case O_START_CPU_US:
			if (number(name, val, &cli->start_time_cpu_us, err) < 0)
				return err->code;
			break;
		case O_PARENT_CPU_US:
			if (number(name, val, &cli->parent_cpu_time_us, err) < 0)
				return err->code;
			break;
		case O_VERSION: cli->version = true; break;
		case O_HELP: cli->help = true; break;
		}
	}
	if (cli->seccomp_filter && cli->no_seccomp)
		return error_set(err, -EINVAL, "--seccomp-filter and --no-seccomp exclude each other");
	if (cli->no_api && api_sock_given)
		return error_set(err, -EINVAL, "--api-sock and --no-api exclude each other");
	if (!cli->help && !cli->version && cli->no_api && !cli->config_file)
		return error_set(err, -EINVAL, "--no-api requires --config-file");
	return 0;
}
