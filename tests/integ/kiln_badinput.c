/* Bad input gets one clear line naming the problem and the right exit code, and no VM. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kiln_util.h"

static struct kt t;
static struct proc_result r;

static void setup(void) { kt_init(&t); }
static void teardown(void) { kt_fini(&t); }

TestSuite(kiln_badinput, .init = setup, .fini = teardown, .timeout = 30);

/* Exactly one error line, containing `msg`, and no guest output. */
static void expect_error(int code, const char *msg)
{
	cr_assert_eq(r.status, code, "exit %d, want %d; stderr:\n%s", r.status, code, r.err);
	cr_assert_str_eq(r.out, "", "the guest ran: %s", r.out);
	const char *line = strstr(r.err, "] ");
	cr_assert_not_null(line, "%s", r.err);
	cr_assert(strstr(r.err, msg), "want \"%s\" in:\n%s", msg, r.err);
	int errors = 0;
	for (const char *p = r.err; (p = strstr(p, msg)); p++)
		errors++;
	cr_assert_eq(errors, 1, "%s", r.err);
	cr_assert_null(strstr(r.err, "exiting with code 0"), "%s", r.err);
}

static void run_json(const char *json)
{
	kt_config(&t, "%s", json);
	kt_run(&t, &r, NULL, 20000, NULL);
}

static void run_boot(const char *kernel, const char *extra)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"%s}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}}", kernel, extra);
	kt_run(&t, &r, NULL, 20000, NULL);
}

static const char *write_file(const char *name, const void *data, size_t len)
{
	const char *p = kt_path(&t, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fwrite(data, 1, len, f);
	fclose(f);
	return p;
}

Test(kiln_badinput, missing_kernel)
{
	run_boot("/nonexistent/vmlinux", "");
	expect_error(152, "boot-source.kernel_image_path: /nonexistent/vmlinux: No such file "
		     "or directory");
}

Test(kiln_badinput, kernel_is_a_directory)
{
	run_boot("/tmp", "");
	expect_error(152, "boot-source.kernel_image_path: /tmp: a directory, not a regular file");
}

Test(kiln_badinput, kernel_unreadable_as_unprivileged_user)
{
	/* Root reads anything; check the message path with a file that vanished instead. */
	const char *k = write_file("k", "x", 1);
	unlink(k);
	run_boot(k, "");
	expect_error(152, "No such file or directory");
}

Test(kiln_badinput, garbage_kernel)
{
	char junk[4096];
	memset(junk, 0x5a, sizeof(junk));
	run_boot(write_file("junk", junk, sizeof(junk)), "");
	expect_error(152, "not a kernel kiln can boot (neither an ELF vmlinux nor a bzImage)");
}

Test(kiln_badinput, truncated_elf)
{
	char buf[64 * 1024];
	FILE *f = fopen(kt_guest("hello"), "r");
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_gt(n, 200);
	run_boot(write_file("trunc.elf", buf, 40), "");
	expect_error(152, "truncated ELF header");
	run_boot(write_file("trunc2.elf", buf, 100), "");
	expect_error(152, "truncated ELF program header table");
	/* Headers intact, segment data cut off. */
	run_boot(write_file("trunc3.elf", buf, 0x1000 + 16), "");
	expect_error(152, "lies outside the file (truncated image?)");
}

Test(kiln_badinput, truncated_bzimage)
{
	char buf[2048];
	memset(buf, 0, sizeof(buf));
	memcpy(buf + 0x202, "HdrS", 4);
	buf[0x1fe] = 0x55;
	buf[0x1ff] = (char)0xaa;
	buf[0x206] = 0x0f;	/* version 2.15 */
	buf[0x207] = 0x02;
	buf[0x211] = 0x01;	/* LOADED_HIGH */
	buf[0x236] = 0x01;	/* XLF_KERNEL_64 */
	buf[0x1f1] = 3;		/* setup_sects: payload would start at 2048 */
	run_boot(write_file("bz", buf, sizeof(buf)), "");
	expect_error(152, "truncated bzImage: no payload");
}

Test(kiln_badinput, kernel_does_not_fit_in_memory)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"machine-config\": "
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 1}}", kt_guest("hello"));
	kt_run(&t, &r, NULL, 20000, NULL);
	expect_error(152, "does not fit in guest memory");
}

Test(kiln_badinput, missing_initrd)
{
	run_boot(kt_guest("hello"), ", \"initrd_path\": \"/nonexistent/initrd\"");
	expect_error(152, "boot-source.initrd_path: /nonexistent/initrd: No such file or "
		     "directory");
}

Test(kiln_badinput, initrd_does_not_fit)
{
	const char *p = kt_path(&t, "big.initrd");
	FILE *f = fopen(p, "w");
	cr_assert_eq(ftruncate(fileno(f), 80 << 20), 0);
	fclose(f);
	char extra[512];
	snprintf(extra, sizeof(extra), ", \"initrd_path\": \"%s\"", p);
	run_boot(kt_guest("hello"), extra);
	expect_error(152, "a 80 MiB initrd does not fit in guest memory above the kernel");
}

Test(kiln_badinput, command_line_longer_than_a_page)
{
	static char json[8192], args[5000];
	memset(args, 'x', 4200);
	args[4200] = '\0';
	snprintf(json, sizeof(json), "{\"boot-source\": {\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}}", kt_guest("hello"), args);
	run_json(json);
	expect_error(152, "boot-source.boot_args: the kernel command line is 4200 bytes; at "
		     "most 4095 fit in its page");
}

Test(kiln_badinput, memory_zero_and_too_large)
{
	char json[1024];
	snprintf(json, sizeof(json), "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 0}}", kt_guest("hello"));
	run_json(json);
	expect_error(152, "machine-config.mem_size_mib: must not be 0");
	snprintf(json, sizeof(json), "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 1099511627776}}",
		 kt_guest("hello"));
	run_json(json);
	expect_error(152, "machine-config.mem_size_mib: ");
}

Test(kiln_badinput, vcpu_count_zero_and_33)
{
	char json[1024];
	snprintf(json, sizeof(json), "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"machine-config\": {\"vcpu_count\": 0, \"mem_size_mib\": 64}}", kt_guest("hello"));
	run_json(json);
	expect_error(152, "machine-config.vcpu_count: must not be 0");
	snprintf(json, sizeof(json), "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		 "\"machine-config\": {\"vcpu_count\": 33, \"mem_size_mib\": 64}}", kt_guest("hello"));
	run_json(json);
	expect_error(152, "machine-config.vcpu_count: 33 is out of range (1 to 32)");
}

Test(kiln_badinput, invalid_json)
{
	run_json("{\"boot-source\": {\"kernel_image_path\": \"x\",}}");
	expect_error(152, "invalid JSON at line 1, column 43");
}

Test(kiln_badinput, duplicate_key)
{
	run_json("{\"boot-source\": {\"kernel_image_path\": \"a\", \"kernel_image_path\": \"b\"}}");
	expect_error(152, "duplicate object key");
}

Test(kiln_badinput, unknown_key_names_its_path)
{
	run_json("{\"boot-source\": {\"kernel_image_path\": \"a\"}, \"machine-config\": "
		 "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"vcpus\": 2}}");
	expect_error(152, "machine-config.vcpus: unknown key");
	run_json("{\"boot-source\": {\"kernel_image_path\": \"a\"}, \"bootsource\": {}}");
	expect_error(152, "bootsource: unknown key");
}

Test(kiln_badinput, wrong_type_names_its_path)
{
	run_json("{\"boot-source\": {\"kernel_image_path\": \"a\"}, \"machine-config\": "
		 "{\"vcpu_count\": \"2\", \"mem_size_mib\": 64}}");
	expect_error(152, "machine-config.vcpu_count: expected an integer, got a string");
}

Test(kiln_badinput, sections_without_a_device_are_refused)
{
	run_json("{\"boot-source\": {\"kernel_image_path\": \"a\"}, \"balloon\": "
		 "{\"amount_mib\": 1}}");
	expect_error(152, "balloon: not supported yet");
}

Test(kiln_badinput, vsock_cid_below_3)
{
	run_json("{\"boot-source\": {\"kernel_image_path\": \"a\"}, \"vsock\": {\"guest_cid\": 2, "
		 "\"uds_path\": \"/tmp/v.sock\"}}");
	expect_error(152, "vsock.guest_cid: 2 is out of range (3 to 4294967294)");
}

Test(kiln_badinput, unreadable_config_file)
{
	const char *argv[] = { t.kiln, "--no-api", "--config-file", "/nonexistent.json", NULL };
	proc_run(argv, NULL, 10000, &r);
	expect_error(152, "/nonexistent.json: No such file or directory");
}

Test(kiln_badinput, config_file_is_a_directory)
{
	const char *argv[] = { t.kiln, "--no-api", "--config-file", t.dir, NULL };
	proc_run(argv, NULL, 10000, &r);
	expect_error(152, ": a directory, not a regular file");
}

Test(kiln_badinput, config_on_standard_input)
{
	char json[512];
	snprintf(json, sizeof(json), "{\"boot-source\": {\"kernel_image_path\": \"%s\"}}",
		 kt_guest("hello"));
	const char *argv[] = { t.kiln, "--no-api", "--config-file", "-", NULL };
	proc_run(argv, json, 20000, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "Hello from a kiln test guest!\n");
	proc_run(argv, "{\"boot-source\": 1}", 20000, &r);
	expect_error(152, "boot-source: expected an object, got an integer");
	proc_run(argv, "{", 20000, &r);
	expect_error(152, "standard input: invalid JSON at line 1");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A FIFO nobody writes to (or reads from), where kiln expects a file. */
static const char *make_fifo(const char *name)
{
	const char *p = kt_path(&t, name);
	cr_assert_eq(mkfifo(p, 0600), 0);
	return p;
}

/*
 * How long kiln takes here to refuse a config file that does not exist: its start-up
 * and exit, which on a slow (emulated) host alone may approach a second.
 */
static double startup_s(void)
{
	const char *argv[] = { t.kiln, "--no-api", "--config-file", "/nonexistent/kiln.json", NULL };
	struct proc_result base;
	double t0 = now_s();
	proc_run(argv, NULL, 10000, &base);
	cr_assert_eq(base.status, 152, "%s", base.err);
	return now_s() - t0;
}

/*
 * Each FIFO is refused at once: open(2) never waits for a writer or a reader. A wait
 * would last until the run's 20 s timeout and end with another status; "at once" is
 * within 5 s beyond kiln's own start-up, which leaves room for a loaded, emulated host
 * (ASan builds in a lab shared with other work took up to 3.3 s there).
 */
static void expect_fifo_refused(double t0, const char *key, const char *fifo, const char *why)
{
	static double startup = -1;
	char want[PATH_MAX + 160];
	double took = now_s() - t0;
	if (startup < 0)
		startup = startup_s();
	cr_assert_lt(took, 5.0 + startup, "%s: kiln took %.2f s (%.2f s to start)", key, took,
		     startup);
	snprintf(want, sizeof(want), "%s: %s: %s", key, fifo, why);
	expect_error(152, want);
}

Test(kiln_badinput, fifo_as_kernel_or_initrd_is_refused_at_once)
{
	const char *fifo = make_fifo("fifo");
	char extra[PATH_MAX + 64];
	double t0 = now_s();
	run_boot(fifo, "");
	expect_fifo_refused(t0, "boot-source.kernel_image_path", fifo, "a FIFO, not a regular file");
	snprintf(extra, sizeof(extra), ", \"initrd_path\": \"%s\"", fifo);
	t0 = now_s();
	run_boot(kt_guest("hello"), extra);
	expect_fifo_refused(t0, "boot-source.initrd_path", fifo, "a FIFO, not a regular file");
}

Test(kiln_badinput, fifo_as_drive_is_refused_at_once)
{
	const char *fifo = make_fifo("fifo");
	for (int ro = 0; ro < 2; ro++) {
		kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
			  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
			  "\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"%s\", "
			  "\"is_root_device\": false, \"is_read_only\": %s}]}", kt_guest("hello"),
			  fifo, ro ? "true" : "false");
		double t0 = now_s();
		kt_run(&t, &r, NULL, 20000, NULL);
		expect_fifo_refused(t0, "drives[0].path_on_host", fifo, "a FIFO, not a regular file");
	}
}

Test(kiln_badinput, fifo_as_config_file_is_refused_at_once)
{
	const char *fifo = make_fifo("fifo");
	const char *argv[] = { t.kiln, "--no-api", "--config-file", fifo, NULL };
	double t0 = now_s();
	proc_run(argv, NULL, 10000, &r);
	expect_fifo_refused(t0, "--config-file", fifo, "a FIFO, not a regular file");
}

/* Logs, metrics and the console may go to a FIFO, but one with no reader is an error. */
Test(kiln_badinput, output_fifo_without_reader_is_refused_at_once)
{
	const char *fifo = make_fifo("fifo");
	const char *why = "a FIFO with no reader; start its reader first";
	double t0 = now_s();
	kt_guest_config(&t, "hello", 1, 64);
	kt_run(&t, &r, NULL, 20000, "--log-path", fifo, NULL);
	expect_fifo_refused(t0, "--log-path", fifo, why);
	t0 = now_s();
	kt_run(&t, &r, NULL, 20000, "--metrics-path", fifo, NULL);
	expect_fifo_refused(t0, "--metrics-path", fifo, why);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"logger\": {\"log_path\": \"%s\"}}", kt_guest("hello"), fifo);
	t0 = now_s();
	kt_run(&t, &r, NULL, 20000, NULL);
	expect_fifo_refused(t0, "logger.log_path", fifo, why);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"serial\": {\"serial_out_path\": \"%s\"}}", kt_guest("hello"), fifo);
	t0 = now_s();
	kt_run(&t, &r, NULL, 20000, NULL);
	expect_fifo_refused(t0, "serial.serial_out_path", fifo, why);
}

/* A value that quotes a newline and a fake log line is escaped: stderr has one line. */
Test(kiln_badinput, quoted_newline_cannot_forge_a_log_line)
{
	run_json("{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": "
		 "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"huge_pages\": \"x\\n"
		 "2026-01-01T00:00:00 [anonymous-instance:main] fake\\u001b[2J\"}}");
	expect_error(152, "machine-config.huge_pages: \"x\\x0a2026-01-01T00:00:00 "
		     "[anonymous-instance:main] fake\\x1b[2J\" is not one of");
	cr_assert_eq(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err), "one line: %s", r.err);
}

/* Memory admission: a guest larger than the memory kiln may use is refused, by name. */
Test(kiln_badinput, guest_larger_than_the_memory_limit_is_refused)
{
	/* 64 TiB: more than any host this runs on, and than any cgroup limit. */
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"machine-config\": "
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 67108864}}", kt_guest("hello"));
	kt_run(&t, &r, NULL, 20000, NULL);
	expect_error(152, "machine-config.mem_size_mib: 67108864 MiB does not fit under the ");
	cr_assert(strstr(r.err, "--allow-mem-overcommit starts it anyway"), "%s", r.err);
}

/*
 * Every input is checked before guest memory is mapped: under an address-space limit
 * far below the guest's size, a 128 GiB guest (overcommit allowed) whose kernel is
 * garbage gets the kernel's error, not a failure to map its memory.
 */
Test(kiln_badinput, bad_kernel_is_refused_before_guest_memory_is_mapped)
{
	static const char garbage[4096] = "this is not a kernel";
	const char *kernel = write_file("garbage", garbage, sizeof(garbage));
	struct rlimit as = { 1ULL << 30, 1ULL << 30 };
	/* A sanitizer runtime reserves terabytes of shadow address space at start: under this
	 * limit it could not start at all. */
	const char *version[] = { t.kiln, "--version", NULL };
	proc_run(version, NULL, 10000, &r);
	if (strstr(r.out, "sanitizer build"))
		cr_skip_test("%s is a sanitizer build: it cannot run under RLIMIT_AS", t.kiln);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"machine-config\": "
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 131072}}", kernel);
	/* Criterion runs each test in its own process: the limit stays in this one. */
	cr_assert_eq(setrlimit(RLIMIT_AS, &as), 0);
	kt_run(&t, &r, NULL, 20000, "--allow-mem-overcommit", NULL);
	expect_error(152, "boot-source.kernel_image_path: ");
	cr_assert(strstr(r.err, "not a kernel kiln can boot"), "%s", r.err);
	cr_assert_null(strstr(r.err, "cannot map"), "%s", r.err);
}

Test(kiln_badinput, bad_arguments_exit_153)
{
	const char *none[] = { t.kiln, "--no-api", NULL };
	proc_run(none, NULL, 10000, &r);
	expect_error(153, "--no-api requires --config-file");
	const char *unknown[] = { t.kiln, "--no-api", "--config-file", t.config, "--frobnicate", NULL };
	proc_run(unknown, NULL, 10000, &r);
	expect_error(153, "unknown option --frobnicate (see --help)");
	const char *id[] = { t.kiln, "--no-api", "--config-file", t.config, "--id", "../etc", NULL };
	proc_run(id, NULL, 10000, &r);
	expect_error(153, "--id: \"../etc\" must be 1 to 64 characters");
	const char *level[] = { t.kiln, "--no-api", "--config-file", t.config, "--level", "loud", NULL };
	proc_run(level, NULL, 10000, &r);
	expect_error(153, "--level: \"loud\" is not one of");
	const char *value[] = { t.kiln, "--no-api", "--config-file", NULL };
	proc_run(value, NULL, 10000, &r);
	expect_error(153, "--config-file needs a value");
	const char *payload[] = { t.kiln, "--api-sock", kt_path(&t, "api.sock"),
				  "--http-api-max-payload-size", "0", NULL };
	proc_run(payload, NULL, 10000, &r);
	expect_error(153, "--http-api-max-payload-size: 0 is out of range (1 to 1048576)");
	cr_assert_neq(access(kt_path(&t, "api.sock"), F_OK), 0, "a socket was created");
}

Test(kiln_badinput, help_and_version)
{
	const char *help[] = { t.kiln, "--help", NULL };
	proc_run(help, NULL, 10000, &r);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Usage: kiln [--api-sock PATH] [--config-file FILE]"), "%s", r.out);
	const char *version[] = { t.kiln, "--version", NULL };
	proc_run(version, NULL, 10000, &r);
	cr_assert_eq(r.status, 0);
	cr_assert(strncmp(r.out, "kiln ", 5) == 0, "%s", r.out);
}
