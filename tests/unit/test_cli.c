/* Command-line parsing, instance ids, strict numbers and log levels: what kiln accepts and refuses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "parse.h"

static struct cli cli;
static struct error err;

#define ARGV(...) ((char *[]){ "kiln", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "kiln", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &cli, &err)

static void expect_error(int ret, int code, const char *msg)
{
	cr_assert_eq(ret, code, "ret %d (\"%s\")", ret, err.msg);
	cr_assert_eq(err.code, code);
	cr_assert_str_eq(err.msg, msg, "\n got  \"%s\"\n want \"%s\"", err.msg, msg);
}

Test(cli, full_command_line)
{
	cr_assert_eq(PARSE("--config-file", "/vm.json", "--id", "vm-01", "--log-path", "/l",
			   "--level", "Debug", "--show-level", "--show-log-origin",
			   "--metrics-path", "/m", "--boot-timer", "--no-api",
			   "--start-time-us", "123", "--start-time-cpu-us", "45",
			   "--parent-cpu-time-us", "6"), 0, "%s", err.msg);
	cr_assert_str_eq(cli.config_file, "/vm.json");
	cr_assert_str_eq(cli.id, "vm-01");
	cr_assert_str_eq(cli.log_path, "/l");
	cr_assert_eq(cli.level, LOG_DEBUG);
	cr_assert(cli.level_set);
	cr_assert(cli.show_level);
	cr_assert(cli.show_log_origin);
	cr_assert_str_eq(cli.metrics_path, "/m");
	cr_assert(cli.boot_timer);
	cr_assert(cli.has_start_time);
	cr_assert_eq(cli.start_time_us, 123);
	cr_assert_eq(cli.start_time_cpu_us, 45);
	cr_assert_eq(cli.parent_cpu_time_us, 6);
}

Test(cli, defaults_and_equals_form)
{
	cr_assert_eq(PARSE("--config-file=/vm.json"), 0, "%s", err.msg);
	cr_assert_str_eq(cli.config_file, "/vm.json");
	cr_assert_str_eq(cli.id, CLI_DEFAULT_ID);
	cr_assert_eq(cli.level, LOG_INFO);
	cr_assert_not(cli.level_set);
	cr_assert_null(cli.log_path);
	cr_assert_not(cli.boot_timer);
	cr_assert_not(cli.has_start_time);
}

Test(cli, help_and_version_need_no_config)
{
	cr_assert_eq(PARSE("--help"), 0);
	cr_assert(cli.help);
	cr_assert_eq(PARSE("--version"), 0);
	cr_assert(cli.version);
	cr_assert_not(cli.help, "each parse starts afresh");
}

Test(cli, api_socket_by_default)
{
	cr_assert_eq(cli_parse(1, (char *[]){ "kiln", NULL }, &cli, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cli.api_sock, "/run/firecracker.socket");
	cr_assert_not(cli.no_api);
	cr_assert_null(cli.config_file);
	cr_assert_eq(PARSE("--api-sock", "/tmp/a.sock", "--config-file", "/vm.json"), 0, "%s",
		     err.msg);
	cr_assert_str_eq(cli.api_sock, "/tmp/a.sock");
	cr_assert_str_eq(cli.config_file, "/vm.json");
	cr_assert_eq(PARSE("--api-sock=/s"), 0, "%s", err.msg);
	cr_assert_str_eq(cli.api_sock, "/s");
}

Test(cli, no_api_needs_config_file)
{
	cr_assert_eq(PARSE("--no-api", "--config-file", "/vm.json"), 0, "%s", err.msg);
	cr_assert(cli.no_api);
	expect_error(PARSE("--no-api"), -EINVAL, "--no-api requires --config-file");
	expect_error(PARSE("--no-api", "--id", "x"), -EINVAL, "--no-api requires --config-file");
	expect_error(PARSE("--no-api", "--api-sock", "/s", "--config-file", "/c"), -EINVAL,
		     "--api-sock and --no-api exclude each other");
	expect_error(PARSE("--api-sock", ""), -EINVAL, "--api-sock: must not be empty");
	expect_error(PARSE("--api-sock"), -EINVAL, "--api-sock needs a value");
}

Test(cli, unknown_and_positional_arguments)
{
	expect_error(PARSE("--config-file", "/c", "--vcpus", "2"), -EINVAL,
		     "unknown option --vcpus (see --help)");
	expect_error(PARSE("--config-file", "/c", "--config"), -EINVAL,
		     "unknown option --config (see --help)");
	expect_error(PARSE("--config-file=/c", "--level-x=1"), -EINVAL,
		     "unknown option --level-x (see --help)");
	expect_error(PARSE("/vm.json"), -EINVAL, "unexpected argument \"/vm.json\" (see --help)");
	expect_error(PARSE("-h"), -EINVAL, "unexpected argument \"-h\" (see --help)");
}

Test(cli, missing_and_extra_values)
{
	expect_error(PARSE("--config-file"), -EINVAL, "--config-file needs a value");
	expect_error(PARSE("--config-file", "/c", "--boot-timer=yes"), -EINVAL,
		     "--boot-timer takes no value");
}

Test(cli, bad_id)
{
	expect_error(PARSE("--config-file", "/c", "--id", "my_vm"), -EINVAL,
		     "--id: \"my_vm\" must be 1 to 64 characters of A-Z, a-z, 0-9 and -");
	expect_error(PARSE("--config-file", "/c", "--id="), -EINVAL,
		     "--id: \"\" must be 1 to 64 characters of A-Z, a-z, 0-9 and -");
}

Test(cli, bad_level)
{
	expect_error(PARSE("--config-file", "/c", "--level", "verbose"), -EINVAL,
		     "--level: \"verbose\" is not one of Error, Warning, Info, Debug, Trace, Off");
}

Test(cli, bad_numbers)
{
	expect_error(PARSE("--config-file", "/c", "--start-time-us", "-1"), -EINVAL,
		     "--start-time-us: \"-1\" is not a non-negative integer");
	expect_error(PARSE("--config-file", "/c", "--start-time-cpu-us", "12ms"), -EINVAL,
		     "--start-time-cpu-us: \"12ms\" is not a non-negative integer");
	expect_error(PARSE("--config-file", "/c", "--parent-cpu-time-us", "18446744073709551616"),
		     -EINVAL,
		     "--parent-cpu-time-us: \"18446744073709551616\" is not a non-negative integer");
	expect_error(PARSE("--config-file", "/c", "--start-time-us="), -EINVAL,
		     "--start-time-us: \"\" is not a non-negative integer");
}

Test(cli, http_api_max_payload_size)
{
	cr_assert_eq(PARSE("--config-file", "/c"), 0, "%s", err.msg);
	cr_assert_eq(cli.http_api_max_payload_size, 51200, "Firecracker's default");
	cr_assert_eq(PARSE("--http-api-max-payload-size", "1000"), 0, "%s", err.msg);
	cr_assert_eq(cli.http_api_max_payload_size, 1000);
	cr_assert_eq(PARSE("--http-api-max-payload-size=1"), 0, "%s", err.msg);
	cr_assert_eq(cli.http_api_max_payload_size, 1);
	cr_assert_eq(PARSE("--http-api-max-payload-size", "1048576", "--api-sock", "/s"), 0, "%s",
		     err.msg);
	cr_assert_eq(cli.http_api_max_payload_size, 1048576);
	expect_error(PARSE("--http-api-max-payload-size", "0"), -EINVAL,
		     "--http-api-max-payload-size: 0 is out of range (1 to 1048576)");
	expect_error(PARSE("--http-api-max-payload-size", "1048577"), -EINVAL,
		     "--http-api-max-payload-size: 1048577 is out of range (1 to 1048576)");
	expect_error(PARSE("--http-api-max-payload-size", "18446744073709551615"), -EINVAL,
		     "--http-api-max-payload-size: 18446744073709551615 is out of range "
		     "(1 to 1048576)");
	expect_error(PARSE("--http-api-max-payload-size", "50k"), -EINVAL,
		     "--http-api-max-payload-size: \"50k\" is not a non-negative integer");
	expect_error(PARSE("--http-api-max-payload-size", "-1"), -EINVAL,
		     "--http-api-max-payload-size: \"-1\" is not a non-negative integer");
	expect_error(PARSE("--http-api-max-payload-size="), -EINVAL,
		     "--http-api-max-payload-size: \"\" is not a non-negative integer");
	expect_error(PARSE("--http-api-max-payload-size"), -EINVAL,
		     "--http-api-max-payload-size needs a value");
	cr_assert(strstr(cli_usage, "--http-api-max-payload-size N"));
	cr_assert(strstr(cli_usage, "1 to 1048576 (default 51200)"));
}

Test(cli, unsupported_firecracker_flags)
{
	/* Firecracker flags kiln does not have are refused, never ignored. */
	expect_error(PARSE("--mmds-size-limit", "1000"), -EINVAL,
		     "unknown option --mmds-size-limit (see --help)");
	expect_error(PARSE("--metadata", "/m.json"), -EINVAL,
		     "unknown option --metadata (see --help)");
}

Test(cli, seccomp_flags)
{
	cr_assert_eq(PARSE("--config-file", "/c", "--seccomp-filter", "/f"), 0, "%s", err.msg);
	cr_assert_str_eq(cli.seccomp_filter, "/f");
	cr_assert_not(cli.no_seccomp);
	cr_assert_eq(PARSE("--config-file", "/c", "--no-seccomp"), 0, "%s", err.msg);
	cr_assert(cli.no_seccomp);
	cr_assert_null(cli.seccomp_filter);
	expect_error(PARSE("--config-file", "/c", "--no-seccomp", "--seccomp-filter", "/f"),
		     -EINVAL, "--seccomp-filter and --no-seccomp exclude each other");
}

Test(cli, allow_mem_overcommit)
{
	cr_assert_eq(PARSE("--config-file", "/c"), 0, "%s", err.msg);
	cr_assert_not(cli.allow_mem_overcommit, "admission is checked unless asked otherwise");
	cr_assert_eq(PARSE("--config-file", "/c", "--allow-mem-overcommit"), 0, "%s", err.msg);
	cr_assert(cli.allow_mem_overcommit);
	expect_error(PARSE("--config-file", "/c", "--allow-mem-overcommit=yes"), -EINVAL,
		     "--allow-mem-overcommit takes no value");
}

Test(cli, mem_limit_bytes_from_the_jailer)
{
	cr_assert_eq(PARSE("--config-file", "/c"), 0, "%s", err.msg);
	cr_assert_eq(cli.mem_limit_bytes, 0, "no limit unless one is passed");
	cr_assert_eq(PARSE("--config-file", "/c", "--mem-limit-bytes", "536870912"), 0, "%s",
		     err.msg);
	cr_assert_eq(cli.mem_limit_bytes, 536870912);
	expect_error(PARSE("--config-file", "/c", "--mem-limit-bytes", "0"), -EINVAL,
		     "--mem-limit-bytes: must not be 0");
	expect_error(PARSE("--config-file", "/c", "--mem-limit-bytes", "512M"), -EINVAL,
		     "--mem-limit-bytes: \"512M\" is not a non-negative integer");
	expect_error(PARSE("--config-file", "/c", "--mem-limit-bytes"), -EINVAL,
		     "--mem-limit-bytes needs a value");
}

Test(cli, valid_id)
{
	char id65[66];
	cr_assert(cli_valid_id("a"));
	cr_assert(cli_valid_id("Fc-VM-0123456789"));
	memset(id65, 'a', 64);
	id65[64] = '\0';
	cr_assert(cli_valid_id(id65), "64 characters");
	id65[64] = 'a';
	id65[65] = '\0';
	cr_assert_not(cli_valid_id(id65), "65 characters");
	cr_assert_not(cli_valid_id(""));
	cr_assert_not(cli_valid_id("vm 1"));
	cr_assert_not(cli_valid_id("vm/1"));
	cr_assert_not(cli_valid_id("../x"));
	cr_assert_not(cli_valid_id("vm\n"));
}

Test(parse, u64_strict)
{
	uint64_t v = 7;
	cr_assert_eq(parse_u64("0", 10, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_eq(parse_u64("10", 10, &v), 0);
	cr_assert_eq(v, 10);
	v = 7;
	cr_assert_eq(parse_u64("11", 10, &v), -ERANGE);
	cr_assert_eq(parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	cr_assert_eq(parse_u64("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	cr_assert_eq(parse_u64("", 10, &v), -EINVAL);
	cr_assert_eq(parse_u64(NULL, 10, &v), -EINVAL);
	cr_assert_eq(parse_u64("+1", 10, &v), -EINVAL);
	cr_assert_eq(parse_u64("-1", 10, &v), -EINVAL);
	cr_assert_eq(parse_u64(" 1", 10, &v), -EINVAL);
	cr_assert_eq(parse_u64("1 ", 10, &v), -EINVAL);
	cr_assert_eq(parse_u64("0x10", 100, &v), -EINVAL);
	cr_assert_eq(parse_u64("1e3", 10000, &v), -EINVAL);
	cr_assert_eq(v, 7, "failures leave the output alone");
}

Test(log, parse_level)
{
	enum log_level l = LOG_TRACE;
	cr_assert_eq(log_parse_level("Error", &l), 0);
	cr_assert_eq(l, LOG_ERROR);
	cr_assert_eq(log_parse_level("WARNING", &l), 0);
	cr_assert_eq(l, LOG_WARN);
	cr_assert_eq(log_parse_level("warn", &l), 0);
	cr_assert_eq(l, LOG_WARN);
	cr_assert_eq(log_parse_level("info", &l), 0);
	cr_assert_eq(l, LOG_INFO);
	cr_assert_eq(log_parse_level("Debug", &l), 0);
	cr_assert_eq(l, LOG_DEBUG);
	cr_assert_eq(log_parse_level("trace", &l), 0);
	cr_assert_eq(l, LOG_TRACE);
	cr_assert_eq(log_parse_level("Off", &l), 0);
	cr_assert_eq(l, LOG_OFF);
	cr_assert_eq(log_parse_level("", &l), -EINVAL);
	cr_assert_eq(log_parse_level("inf", &l), -EINVAL);
	cr_assert_eq(log_parse_level("infos", &l), -EINVAL);
	cr_assert_eq(log_parse_level("Info ", &l), -EINVAL);
	cr_assert_eq(l, LOG_OFF, "failures leave the output alone");
	cr_assert_str_eq(log_level_name(LOG_WARN), "WARN");
}
