/* kiln boots the freestanding test guests on /dev/kvm: exact output and exit codes. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln_util.h"

static struct kt t;
static struct proc_result r;

static void setup(void) { kt_init(&t); }
static void teardown(void) { kt_fini(&t); }

TestSuite(kiln_boot, .init = setup, .fini = teardown, .timeout = 60);

Test(kiln_boot, hello_prints_and_reboot_exits_zero)
{
	kt_guest_config(&t, "hello", 1, 64);
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_str_eq(r.out, "Hello from a kiln test guest!\n");
	cr_assert_eq(r.status, 0, "exit %d, stderr:\n%s", r.status, r.err);
	cr_assert(strstr(r.err, "guest reset through the i8042"), "%s", r.err);
}

Test(kiln_boot, bootinfo_sees_cmdline_and_e820_below_3g)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": "
		  "\"console=ttyS0 kiln.test=1\"}, \"machine-config\": {\"vcpu_count\": 1, "
		  "\"mem_size_mib\": 128}}", kt_guest("bootinfo"));
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out,
		"cmdline: console=ttyS0 kiln.test=1\n"
		"e820: 0000000000000000 000000000009fc00 ram\n"
		"e820: 000000000009fc00 0000000000000400 reserved\n"
		"e820: 0000000000100000 0000000007f00000 ram\n");
}

Test(kiln_boot, memory_above_3g_continues_at_4g)
{
	/* 6 GiB may be more than the host has: the guest touches little of it. */
	kt_guest_config(&t, "bootinfo", 1, 6144);
	kt_run(&t, &r, NULL, 20000, "--allow-mem-overcommit", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "cmdline: console=ttyS0 reboot=k panic=1 pci=off\n"), "%s", r.out);
	cr_assert(strstr(r.out, "e820: 0000000000100000 00000000bff00000 ram\n"), "%s", r.out);
	cr_assert(strstr(r.out, "e820: 0000000100000000 00000000c0000000 ram\n"), "%s", r.out);
}

Test(kiln_boot, initrd_reaches_the_64bit_boot_protocol)
{
	FILE *f = fopen(kt_path(&t, "initrd"), "w");
	fputs("kiln initrd payload\n", f);
	fclose(f);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"initrd_path\": "
		  "\"%s\"}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}}",
		  kt_guest("bootinfo"), kt_path(&t, "initrd"));
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "initrd: 20 bytes: kiln initrd payload\n"), "%s", r.out);
}

Test(kiln_boot, pvh_entry_gets_start_info_cmdline_memmap_and_module)
{
	FILE *f = fopen(kt_path(&t, "initrd"), "w");
	fputs("pvh module\n", f);
	fclose(f);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"initrd_path\": "
		  "\"%s\", \"boot_args\": \"hello=pvh\"}, \"machine-config\": {\"vcpu_count\": 1, "
		  "\"mem_size_mib\": 256}}", kt_guest("pvh"), kt_path(&t, "initrd"));
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out,
		"pvh: magic 336ec578 version 1\n"
		"pvh: cmdline: hello=pvh\n"
		"pvh: e820: 0000000000000000 000000000009fc00 ram\n"
		"pvh: e820: 000000000009fc00 0000000000000400 reserved\n"
		"pvh: e820: 0000000000100000 000000000ff00000 ram\n"
		"pvh: modules 1\n"
		"pvh: module 0: 11 bytes: pvh module\n");
}

Test(kiln_boot, every_vcpu_of_four_prints_a_line)
{
	kt_guest_config(&t, "smp", 4, 64);
	kt_run(&t, &r, NULL, 30000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out,
		"smp: mp table lists 4 cpus\n"
		"cpu 0 online (bsp)\n"
		"cpu 1 online\n"
		"cpu 2 online\n"
		"cpu 3 online\n"
		"smp: all 4 cpus online\n");
}

Test(kiln_boot, thirty_two_vcpus_all_start)
{
	kt_guest_config(&t, "smp", 32, 64);
	kt_run(&t, &r, NULL, 50000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "smp: mp table lists 32 cpus\n"), "%s", r.out);
	cr_assert(strstr(r.out, "cpu 31 online\n"), "%s", r.out);
	cr_assert(strstr(r.out, "smp: all 32 cpus online\n"), "%s", r.out);
}

Test(kiln_boot, serial_input_is_echoed_by_interrupts)
{
	kt_guest_config(&t, "echo", 1, 64);
	kt_run(&t, &r, "hi kiln!q", 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "echo: ready\nhi kiln!q\necho: interrupt-driven, bye\n");
}

Test(kiln_boot, serial_input_larger_than_the_fifo_arrives_intact)
{
	char in[1024];
	for (int i = 0; i < 1000; i++)
		in[i] = (char)('a' + i % 16);	/* 'a'..'p': no 'q' */
	memcpy(in + 1000, "q", 2);
	kt_guest_config(&t, "echo", 1, 64);
	/* One interrupt per character: in an emulated lab that froze twice before this
	 * attempt, 1001 of them once took more than 30 s. */
	kt_run(&t, &r, in, 55000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strncmp(r.out, "echo: ready\n", 12) == 0);
	cr_assert(strncmp(r.out + 12, in, 1001) == 0, "input lost or reordered:\n%s", r.out);
}

Test(kiln_boot, triple_fault_stops_with_registers_logged)
{
	kt_guest_config(&t, "triplefault", 1, 64);
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_str_eq(r.out, "triplefault: crashing\n");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.err, "guest shut down (triple fault)"), "%s", r.err);
	cr_assert(strstr(r.err, "vCPU 0: rip=0x"), "%s", r.err);
	/* The guest's own page tables, or (KVM on AMD resets a vCPU that shut down) a
	 * note that the registers shown are the reset values. */
	cr_assert(strstr(r.err, "cr3=0x9000") || strstr(r.err, "these are the reset values"),
		  "%s", r.err);
}

/*
 * A vCPU thread that cannot be created (as under a thread limit) ends kiln at once with
 * an error naming it; the vCPU threads already started are let go, not left waiting.
 */
Test(kiln_boot, a_vcpu_thread_that_cannot_start_ends_kiln_with_an_error)
{
	char hooks[PATH_MAX];
	snprintf(hooks, sizeof(hooks), "%s-testhooks", t.kiln);
	if (access(hooks, X_OK) != 0)
		cr_skip_test("%s is not built", hooks);
	kt_guest_config(&t, "hello", 4, 64);
	t.kiln = hooks;
	setenv("KILN_TEST_FAIL_VCPU_START", "2", 1);
	kt_run(&t, &r, NULL, 20000, NULL);
	unsetenv("KILN_TEST_FAIL_VCPU_START");
	cr_assert_not(r.timed_out, "kiln hung after a vCPU thread failed to start:\n%s", r.err);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(strstr(r.err, "starting vCPU 2: Resource temporarily unavailable"), "%s", r.err);
	cr_assert_str_eq(r.out, "");
}

Test(kiln_boot, serial_out_path_receives_the_console)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"serial\": "
		  "{\"serial_out_path\": \"%s\"}}", kt_guest("hello"), kt_path(&t, "console.log"));
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	char buf[128] = "";
	FILE *f = fopen(kt_path(&t, "console.log"), "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, "Hello from a kiln test guest!\n");
}

Test(kiln_boot, boot_timer_logs_guest_boot_time)
{
	kt_guest_config(&t, "boottimer", 1, 64);
	kt_run(&t, &r, NULL, 20000, "--boot-timer", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "boottimer: signalled\n");
	cr_assert(strstr(r.err, "Guest-boot-time = "), "%s", r.err);
	/* Without the flag the write goes nowhere. */
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.err, "Guest-boot-time"), "%s", r.err);
}

Test(kiln_boot, log_lines_use_firecracker_format_and_go_to_log_path)
{
	char buf[4096] = "";
	kt_guest_config(&t, "hello", 1, 64);
	kt_run(&t, &r, NULL, 20000, "--id", "vm-42", "--log-path", kt_path(&t, "kiln.log"),
	       "--show-level", "--show-log-origin", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.err, "", "log lines went to stderr: %s", r.err);
	FILE *f = fopen(kt_path(&t, "kiln.log"), "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	/* 2026-11-21T08:09:53.832925646 [vm-42:main:INFO:main.c:123] Running kiln v0.1.0 */
	int y, mo, d, h, mi, s, ns, line;
	char file[64], msg[64];
	cr_assert_eq(sscanf(buf, "%d-%d-%dT%d:%d:%d.%9d [vm-42:main:INFO:%63[^:]:%d] %63[^\n]",
			    &y, &mo, &d, &h, &mi, &s, &ns, file, &line, msg), 10, "%s", buf);
	cr_assert_str_eq(file, "main.c");
	cr_assert(strncmp(msg, "Running kiln v", 14) == 0, "%s", msg);
	cr_assert(strstr(buf, "[vm-42:kiln_vcpu 0:INFO:"), "%s", buf);
}

Test(kiln_boot, metrics_file_gets_json_lines_with_uart_counts)
{
	char buf[8192] = "";
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"metrics\": "
		  "{\"metrics_path\": \"%s\"}}", kt_guest("hello"), kt_path(&t, "metrics.json"));
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	FILE *f = fopen(kt_path(&t, "metrics.json"), "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	/* A line at start and one at exit; counters are deltas, so they add up to 30 bytes. */
	int lines = 0, total = 0;
	for (const char *p = buf; (p = strstr(p, "\"uart\":{\"write_count\":")); lines++) {
		p += strlen("\"uart\":{\"write_count\":");
		total += atoi(p);
	}
	cr_assert_geq(lines, 2, "%s", buf);
	cr_assert_eq(total, 30, "%s", buf);
	cr_assert(strstr(buf, "\"vcpu\":{\"exit_io\":"), "%s", buf);
}

static int count_threads_named(pid_t pid, const char *prefix)
{
	char path[320], comm[64];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && strncmp(comm, prefix, strlen(prefix)) == 0)
			n++;
		if (f)
			fclose(f);
	}
	closedir(d);
	return n;
}

static pid_t start_idle(int vcpus, int *out_fd)
{
	kt_guest_config(&t, "idle", (unsigned int)vcpus, 64);
	const char *argv[] = { t.kiln, "--no-api", "--config-file", t.config, NULL };
	int in_fd;
	pid_t pid = proc_spawn(argv, &in_fd, out_fd, NULL);
	cr_assert_gt(pid, 0);
	close(in_fd);
	char buf[256] = "";
	cr_assert(proc_read_until(*out_fd, buf, sizeof(buf), "idle: ready\n", 20000), "%s", buf);
	return pid;
}

Test(kiln_boot, vcpu_threads_are_named_and_sigterm_stops_every_vcpu)
{
	int out;
	pid_t pid = start_idle(4, &out);
	cr_assert_eq(count_threads_named(pid, "kiln_vcpu "), 4);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	kill(pid, SIGTERM);
	int status = proc_wait(pid, 5000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (status < 0)
		kill(pid, SIGKILL);
	cr_assert_eq(status, 128 + SIGTERM, "status %d", status);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	cr_assert_lt(ms, 2000, "stop took %ld ms", ms);
	close(out);
}

Test(kiln_boot, sighup_exits_156_like_firecracker)
{
	int out;
	pid_t pid = start_idle(1, &out);
	kill(pid, SIGHUP);
	int status = proc_wait(pid, 5000);
	if (status < 0)
		kill(pid, SIGKILL);
	cr_assert_eq(status, 156, "status %d", status);
	close(out);
}
