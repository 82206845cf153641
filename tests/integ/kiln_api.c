/*
 * kiln's API on real KVM: Firecracker's getting-started sequence over the socket (with
 * curl, as its guide does), a config file with the API, GET /vm/config booting the same
 * VM again, pause and resume while a guest counts, the unimplemented paths' 400, the
 * payload limit.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "kiln_util.h"

static struct kt t;
static char sock[PATH_MAX + 64];
static char resp[300000];
static pid_t kiln = -1;
static int out = -1, err_fd = -1;

static void setup(void)
{
	kt_init(&t);
	snprintf(sock, sizeof(sock), "%s", kt_path(&t, "api.sock"));
}

static void teardown(void)
{
	if (kiln > 0) {
		kill(kiln, SIGKILL);
		proc_wait(kiln, 10000);
	}
	kiln = -1;
	if (out >= 0)
		close(out);
	if (err_fd >= 0)
		close(err_fd);
	out = err_fd = -1;
	kt_fini(&t);
}

TestSuite(kiln_api, .init = setup, .fini = teardown, .timeout = 120);

/* kiln --api-sock <sock> [extra...], its output on pipes, once the socket answers. */
static void spawn(const char *extra1, const char *extra2)
{
	const char *argv[] = { t.kiln, "--api-sock", sock, extra1, extra2, NULL };
	kiln = proc_spawn(argv, NULL, &out, &err_fd);
	cr_assert_gt(kiln, 0);
	cr_assert(api_wait_socket(sock, 30000), "the API socket never answered");
}

static int call(const char *method, const char *path, const char *body)
{
	return api_call(sock, method, path, body, resp, sizeof(resp));
}

/*
 * When a call cannot even connect: whether kiln is still there, and the end of its log.
 * A guest that triple-faults in the lab (whose nested KVM does that now and then, to Linux
 * guests too, e2e's "E2E-LAB") skips the test instead of failing it: nothing of kiln's.
 */
static const char *kiln_end(void)
{
	static char why[3000];
	char log[8192];
	size_t n = 0;
	int st = 0;
	bool gone = kiln > 0 && waitpid(kiln, &st, WNOHANG) == kiln;
	if (gone)
		kiln = -1;
	fcntl(err_fd, F_SETFL, fcntl(err_fd, F_GETFL) | O_NONBLOCK);
	for (ssize_t k; n < sizeof(log) - 1 && (k = read(err_fd, log + n, sizeof(log) - 1 - n)) > 0;)
		n += (size_t)k;
	log[n] = '\0';
	const char *tail = n > 1500 ? log + n - 1500 : log;
	if (gone && getenv("KILN_LAB") && strstr(log, "triple fault"))
		cr_skip_test("the guest triple-faulted in the lab: %s", tail);
	snprintf(why, sizeof(why), "kiln %s; its log ends: %.1500s",
		 gone ? (WIFEXITED(st) ? "exited" : "was killed") : "still runs", tail);
	return why;
}

#define EXPECT(method, path, body, status) do {						\
	int st_ = call(method, path, body);							\
	cr_assert_eq(st_, status, "%s %s: %d %s%s", method, path, st_, resp,			\
		     st_ < 0 ? kiln_end() : "");						\
} while (0)

static void read_until(const char *needle, char *buf, size_t size)
{
	cr_assert(proc_read_until(out, buf, size, needle, 30000), "no \"%s\" in: %s", needle,
		  buf);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The guest's output during timeout_ms (appended to buf when given): how many bytes came. */
static size_t drain(int timeout_ms, char *buf, size_t size)
{
	long end = now_ms() + timeout_ms;
	size_t got = 0;
	for (long left; (left = end - now_ms()) > 0;) {
		struct pollfd p = { .fd = out, .events = POLLIN };
		char tmp[4096];
		if (poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = read(out, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		if (buf && got + (size_t)n < size) {
			memcpy(buf + got, tmp, (size_t)n);
			buf[got + (size_t)n] = '\0';
		}
		got += (size_t)n;
	}
	return got;
}

static int stop_kiln(void)
{
	kill(kiln, SIGTERM);
	int status = proc_wait(kiln, 30000);
	kiln = -1;
	return status;
}

static bool have_curl(void)
{
	return access("/usr/bin/curl", X_OK) == 0;
}

/* curl --unix-socket, as Firecracker's getting-started guide drives the API. */
static int curl(const char *method, const char *path, const char *body)
{
	static struct proc_result r;
	char url[256];
	snprintf(url, sizeof(url), "http://localhost%s", path);
	const char *argv[] = { "/usr/bin/curl", "-s", "--unix-socket", sock, "-i", "-X", method,
			       url, "-H", "Accept: application/json", "-H",
			       "Content-Type: application/json", body ? "-d" : NULL, body, NULL };
	proc_run(argv, NULL, 30000, &r);
	int status = -1;
	sscanf(r.out, "HTTP/1.1 %d", &status);
	snprintf(resp, sizeof(resp), "%s", r.out);
	return status;
}

Test(kiln_api, getting_started_sequence_with_curl)
{
	char body[PATH_MAX + 256], buf[4096] = "";

	if (!have_curl())
		cr_skip_test("curl is not installed (tools/deps.sh installs it)");
	spawn(NULL, NULL);
	char img[PATH_MAX + 64];
	snprintf(img, sizeof(img), "%s", kt_path(&t, "rootfs.ext4"));
	FILE *f = fopen(img, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(truncate(img, 1 << 20), 0);

	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": "
		 "\"console=ttyS0 reboot=k panic=1 pci=off\"}", kt_guest("idle"));
	cr_assert_eq(curl("PUT", "/boot-source", body), 204, "%s", resp);
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"is_read_only\": false}", img);
	cr_assert_eq(curl("PUT", "/drives/rootfs", body), 204, "%s", resp);
	cr_assert_eq(curl("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}"),
		     204, "%s", resp);
	cr_assert_eq(curl("GET", "/", NULL), 200, "%s", resp);
	cr_assert(strstr(resp, "\"state\":\"Not started\""), "%s", resp);
	cr_assert_eq(curl("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 204, "%s",
		     resp);
	read_until("idle: ready\n", buf, sizeof(buf));
	cr_assert_eq(curl("GET", "/", NULL), 200, "%s", resp);
	cr_assert(strstr(resp, "\"state\":\"Running\""), "%s", resp);
	/* Pre-boot only, and InstanceStart only once. */
	cr_assert_eq(curl("PUT", "/boot-source", body), 400, "%s", resp);
	cr_assert(strstr(resp, "not supported after starting the microVM"), "%s", resp);
	cr_assert_eq(curl("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 400, "%s",
		     resp);
	cr_assert_eq(curl("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 204, "%s",
		     resp);
	cr_assert_eq(stop_kiln(), 143);
}

Test(kiln_api, a_start_refused_for_its_inputs_can_be_retried)
{
	char body[PATH_MAX + 64], buf[4096] = "";
	spawn(NULL, NULL);
	EXPECT("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400);
	cr_assert(strstr(resp, "boot-source: missing required section"), "%s", resp);
	EXPECT("PUT", "/boot-source", "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}", 204);
	EXPECT("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400);
	cr_assert(strstr(resp, "boot-source.kernel_image_path: /nonexistent/vmlinux: No such "
			 "file or directory"), "%s", resp);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kt_guest("idle"));
	EXPECT("PUT", "/boot-source", body, 204);
	EXPECT("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", 204);
	EXPECT("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
	read_until("idle: ready\n", buf, sizeof(buf));
	cr_assert_eq(stop_kiln(), 143);
}

Test(kiln_api, config_file_boots_and_the_api_keeps_serving_and_vm_config_round_trips)
{
	char buf[4096] = "", copy[PATH_MAX + 64];
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"machine-config\": "
		  "{\"vcpu_count\": 2, \"mem_size_mib\": 64}, \"entropy\": {}, \"pmem\": [], "
		  "\"balloon\": null, \"memory-hotplug\": null}", kt_guest("idle"));
	spawn("--config-file", t.config);
	read_until("idle: ready\n", buf, sizeof(buf));
	EXPECT("GET", "/", NULL, 200);
	cr_assert(strstr(resp, "\"state\":\"Running\""), "%s", resp);
	EXPECT("GET", "/machine-config", NULL, 200);
	cr_assert_str_eq(resp, "{\"vcpu_count\":2,\"mem_size_mib\":64,\"smt\":false,"
			 "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
	EXPECT("GET", "/vm/config", NULL, 200);
	cr_assert(strstr(resp, "\"entropy\":{\"rate_limiter\":null}"), "%s", resp);
	cr_assert_eq(stop_kiln(), 143);

	/* What GET /vm/config answered boots the same VM from a file. */
	snprintf(copy, sizeof(copy), "%s", kt_path(&t, "vm-config.json"));
	FILE *f = fopen(copy, "w");
	cr_assert_not_null(f);
	fputs(resp, f);
	fclose(f);
	const char *argv[] = { t.kiln, "--no-api", "--config-file", copy, NULL };
	kiln = proc_spawn(argv, NULL, &out, NULL);
	buf[0] = '\0';
	read_until("idle: ready\n", buf, sizeof(buf));
	cr_assert_eq(stop_kiln(), 143);
}

/* The last whole line "count N\n" in buf, or -1. */
static long last_count(const char *buf)
{
	long n = -1, v;
	char nl;
	for (const char *p = buf; (p = strstr(p, "count ")); p += 6)
		if (sscanf(p, "count %ld%c", &v, &nl) == 2 && nl == '\n')
			n = v;
	return n;
}

Test(kiln_api, pause_stops_a_counting_guest_and_resume_continues_it)
{
	static char acc[1 << 20];
	char body[PATH_MAX + 64];
	size_t len;

	spawn(NULL, NULL);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kt_guest("counter"));
	EXPECT("PUT", "/boot-source", body, 204);
	EXPECT("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}", 204);
	EXPECT("PATCH", "/vm", "{\"state\": \"Paused\"}", 400);
	cr_assert(strstr(resp, "not supported before starting the microVM"), "%s", resp);
	EXPECT("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
	read_until("count 2\n", acc, sizeof(acc));

	EXPECT("PATCH", "/vm", "{\"state\": \"Paused\"}", 204);
	EXPECT("GET", "/", NULL, 200);
	cr_assert(strstr(resp, "\"state\":\"Paused\""), "%s", resp);
	/* What was written before the pause, then nothing while paused. */
	len = strlen(acc);
	len += drain(500, acc + len, sizeof(acc) - len);
	long before = last_count(acc);
	cr_assert_geq(before, 2);
	cr_assert_eq(drain(3000, NULL, 0), 0u, "the guest ran while paused");
	/* Pausing twice is no change; so is resuming a running VM. */
	EXPECT("PATCH", "/vm", "{\"state\": \"Paused\"}", 204);

	EXPECT("PATCH", "/vm", "{\"state\": \"Resumed\"}", 204);
	EXPECT("GET", "/", NULL, 200);
	cr_assert(strstr(resp, "\"state\":\"Running\""), "%s", resp);
	len += drain(3000, acc + len, sizeof(acc) - len);
	long after = last_count(acc);
	cr_assert_gt(after, before, "no count after the resume: %s", acc);
	/* It went on where it stopped: every count from before + 1 is there, in order. */
	char next[64];
	snprintf(next, sizeof(next), "count %ld\ncount %ld\n", before, before + 1);
	cr_assert(strstr(acc, next), "expected \"%s\": %s", next, acc + (len > 400 ? len - 400 : 0));
	EXPECT("PATCH", "/vm", "{\"state\": \"Resumed\"}", 204);
	cr_assert_eq(stop_kiln(), 143);
}

Test(kiln_api, every_unimplemented_endpoint_answers_400_naming_the_feature)
{
	static const struct { const char *method, *path, *feature; } cases[] = {
		{ "PUT", "/balloon", "balloon: not supported yet" },
		{ "PATCH", "/balloon", "balloon: not supported yet" },
		{ "GET", "/balloon", "balloon: not supported yet" },
		{ "GET", "/balloon/statistics", "balloon: not supported yet" },
		{ "PATCH", "/balloon/statistics", "balloon: not supported yet" },
		{ "PATCH", "/balloon/hinting/start", "balloon: not supported yet" },
		{ "GET", "/balloon/hinting/status", "balloon: not supported yet" },
		{ "PUT", "/snapshot/create", "snapshot: not supported yet" },
		{ "PUT", "/snapshot/load", "snapshot: not supported yet" },
		{ "PUT", "/mmds", "mmds: not supported yet" },
		{ "GET", "/mmds", "mmds: not supported yet" },
		{ "PUT", "/mmds/config", "mmds-config: not supported yet" },
		{ "PUT", "/cpu-config", "cpu-config: not supported yet" },
		{ "PUT", "/hotplug/memory", "memory-hotplug: not supported yet" },
		{ "GET", "/hotplug/memory", "memory-hotplug: not supported yet" },
		{ "PUT", "/pmem/pmem0", "pmem: not supported yet" },
	};
	spawn(NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *body = strcmp(cases[i].method, "GET") ? "{}" : NULL;
		int st = call(cases[i].method, cases[i].path, body);
		cr_assert_eq(st, 400, "%s %s: %d %s", cases[i].method, cases[i].path, st, resp);
		cr_assert(strstr(resp, "{\"fault_message\":\""), "%s", resp);
		cr_assert(strstr(resp, cases[i].feature), "%s %s: %s", cases[i].method,
			  cases[i].path, resp);
	}
	EXPECT("GET", "/no/such/path", NULL, 400);
	cr_assert_str_eq(resp, "{\"fault_message\":\"Invalid request method and/or path: GET "
			 "/no/such/path.\"}");
	EXPECT("POST", "/actions", "{}", 405);
	EXPECT("GET", "/", NULL, 200);
}

Test(kiln_api, a_payload_over_51200_bytes_is_refused_and_others_are_still_served)
{
	static char big[51300];
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	spawn(NULL, NULL);
	EXPECT("PUT", "/machine-config", big, 413);
	cr_assert(strstr(resp, "51200"), "%s", resp);
	EXPECT("GET", "/", NULL, 200);
	EXPECT("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}", 204);
}

/* A raw image of `size` bytes whose sector 0 starts with `text`. */
static void make_image(const char *name, const char *text, long size)
{
	FILE *f = fopen(kt_path(&t, name), "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(truncate(kt_path(&t, name), size), 0);
}

Test(kiln_api, patch_drives_swaps_the_image_and_the_guest_sees_the_new_size)
{
	char body[PATH_MAX + 256], buf[8192] = "", want[PATH_MAX + 128];
	make_image("old.img", "old image", 64 << 10);		/* 128 sectors */
	make_image("new.img", "new image", (96 << 10) + 512);	/* 193 sectors */
	cr_assert_eq(mkfifo(kt_path(&t, "fifo"), 0600), 0);
	spawn(NULL, NULL);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kt_guest("virtio_resize"));
	EXPECT("PUT", "/boot-source", body, 204);
	EXPECT("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", 204);
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}", kt_path(&t, "old.img"));
	EXPECT("PUT", "/drives/data", body, 204);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", kt_path(&t, "metrics"));
	EXPECT("PUT", "/metrics", body, 204);
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\"}",
		 kt_path(&t, "new.img"));
	EXPECT("PATCH", "/drives/data", body, 400);
	cr_assert(strstr(resp, "not supported before starting the microVM"), "%s", resp);
	EXPECT("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
	read_until("resize: ready\n", buf, sizeof(buf));
	cr_assert(strstr(buf, "resize: start capacity 128 generation 0\n"), "%s", buf);
	cr_assert(strstr(buf, "resize: sector 0 status 0 old image\n"), "%s", buf);

	/* Refused, naming what is wrong; the drive and the guest are left alone. */
	EXPECT("PATCH", "/drives/nope", "{\"drive_id\": \"nope\", \"path_on_host\": \"/x\"}", 400);
	cr_assert_str_eq(resp, "{\"fault_message\":\"drives[nope]: no such drive\"}");
	EXPECT("PATCH", "/drives/data", "{\"drive_id\": \"other\", \"path_on_host\": \"/x\"}",
	       400);
	cr_assert(strstr(resp, "drives[data].drive_id: \\\"other\\\" does not match the drive "
			 "id in the path"), "%s", resp);
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\"}",
		 kt_path(&t, "missing.img"));
	EXPECT("PATCH", "/drives/data", body, 400);
	snprintf(want, sizeof(want), "drives[data].path_on_host: %s: No such file or directory",
		 kt_path(&t, "missing.img"));
	cr_assert(strstr(resp, want), "%s", resp);
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\"}",
		 kt_path(&t, "fifo"));
	EXPECT("PATCH", "/drives/data", body, 400);
	snprintf(want, sizeof(want), "drives[data].path_on_host: %s: a FIFO, not a regular file",
		 kt_path(&t, "fifo"));
	cr_assert(strstr(resp, want), "%s", resp);
	EXPECT("GET", "/vm/config", NULL, 200);
	cr_assert(strstr(resp, "old.img"), "%s", resp);

	/* The new image: 204, and the guest gets a config change with the new size. */
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\"}",
		 kt_path(&t, "new.img"));
	EXPECT("PATCH", "/drives/data", body, 204);
	read_until("resize: done\n", buf, sizeof(buf));
	cr_assert(strstr(buf, "resize: config change: capacity 193 generation 1\n"), "%s", buf);
	cr_assert(strstr(buf, "resize: sector 0 status 0 new image\n"), "%s", buf);
	cr_assert(strstr(buf, "resize: last sector status 0\n"), "%s", buf);
	EXPECT("GET", "/vm/config", NULL, 200);
	snprintf(want, sizeof(want), "\"path_on_host\":\"%s\"", kt_path(&t, "new.img"));
	cr_assert(strstr(resp, want), "%s", resp);

	/* A rate limiter, live: shown back, and the VM still answers. */
	EXPECT("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": "
	       "{\"ops\": {\"size\": 100, \"refill_time\": 1000}}}", 204);
	EXPECT("GET", "/vm/config", NULL, 200);
	cr_assert(strstr(resp, "\"ops\":{\"size\":100,\"one_time_burst\":null,"
			 "\"refill_time\":1000}"), "%s", resp);
	EXPECT("GET", "/", NULL, 200);
	cr_assert(strstr(resp, "\"state\":\"Running\""), "%s", resp);
	/* Two applied; the missing file and the FIFO refused by the device's side. */
	EXPECT("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 204);
	FILE *f = fopen(kt_path(&t, "metrics"), "r");
	cr_assert_not_null(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	cr_assert(strstr(buf, "\"update_count\":2,\"update_fails\":2"), "%s", buf);
}

Test(kiln_api, http_api_max_payload_size_sets_the_limit)
{
	static char big[60000];
	const char *small = "{\"vcpu_count\": 1, \"mem_size_mib\": 32}";	/* 37 bytes */
	spawn("--http-api-max-payload-size", "36");
	EXPECT("PUT", "/machine-config", small, 413);
	cr_assert_str_eq(resp, "{\"fault_message\":\"Request payload with size larger than the "
			 "limit of 36 bytes allowed by server.\"}");
	EXPECT("GET", "/", NULL, 200);
	cr_assert_eq(stop_kiln(), 143);
	unlink(sock);
	/* Raised: a body over Firecracker's 51200 bytes is served. */
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big, small, strlen(small));
	spawn("--http-api-max-payload-size", "1048576");
	EXPECT("PUT", "/machine-config", big, 204);
	EXPECT("GET", "/machine-config", NULL, 200);
	cr_assert(strstr(resp, "\"mem_size_mib\":32"), "%s", resp);
}

Test(kiln_api, send_ctrl_alt_del_types_the_keys_on_the_i8042)
{
	char body[PATH_MAX + 64], buf[4096] = "";
	spawn(NULL, NULL);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kt_guest("keyboard"));
	EXPECT("PUT", "/boot-source", body, 204);
	EXPECT("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400);
	cr_assert(strstr(resp, "not supported before starting the microVM"), "%s", resp);
	EXPECT("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
	read_until("keyboard: ready\n", buf, sizeof(buf));
	EXPECT("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 204);
	/* Left Ctrl, left Alt, Delete in scan code set 1 (the controller translates). */
	read_until("0x1d 0x38 0xe0 0x53\n", buf, sizeof(buf));
	cr_assert_eq(stop_kiln(), 143);
}
