/*
 * The real kiln-agent on a Unix socket in a temp directory, driven by the real
 * kiln-agent-client ($AGENT, $AGENT_CLIENT) and, for what a correct client never sends,
 * by the client library's raw frames.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/agentclient/client.h"
#include "tests/integ/proc.h"

static char dir[64];
static char sock[128];
static pid_t agent = -1;
static const char *client;
static struct proc_result r;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static const char *in_dir(const char *name)
{
	static char paths[8][256];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static void start_agent(void)
{
	const char *bin = getenv("AGENT");
	client = getenv("AGENT_CLIENT");
	if (!bin || !client)
		cr_skip_test("AGENT and AGENT_CLIENT are not set");
	snprintf(dir, sizeof(dir), "/tmp/kiln-test-agent-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "unix:%s/agent.sock", dir);
	const char *argv[] = { bin, "--listen", sock, NULL };
	agent = proc_spawn(argv, NULL, NULL, NULL);
	cr_assert_gt(agent, 0);
	/* The socket appears once the agent listens. */
	for (int i = 0; i < 250 && access(sock + 5, F_OK) != 0; i++)
		usleep(20000);
	cr_assert_eq(access(sock + 5, F_OK), 0, "the agent did not create %s", sock + 5);
}

static pid_t ns = -1;

/* A failed test leaves no namespace behind (unshare --kill-child takes PID 1 along). */
static void end_ns(void)
{
	if (ns > 0 && proc_wait(ns, 0) == -1) {
		kill(ns, SIGKILL);
		proc_wait(ns, 5000);
	}
}

static void stop_agent(void)
{
	end_ns();
	if (agent > 0) {
		kill(agent, SIGTERM);
		cr_expect_eq(proc_wait(agent, 5000), 0, "the agent ends cleanly on SIGTERM");
		agent = -1;
	}
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(agent, .init = start_agent, .fini = stop_agent, .timeout = 120);

/* Runs kiln-agent-client --unix SOCK ARGS... (NULL-terminated) with stdin `in`. */
static void run(const char *in, int timeout_ms, ...)
{
	const char *argv[64] = { client, "--unix", sock + 5 };
	size_t n = 3;
	va_list ap;
	va_start(ap, timeout_ms);
	while ((argv[n] = va_arg(ap, const char *)) && n < 62)
		n++;
	va_end(ap);
	proc_run(argv, in, timeout_ms, &r);
}

static struct agent_client *connect_lib(void)
{
	static struct agent_client cs[16];
	static int next;
	struct agent_client *c = &cs[next++ % 16];
	struct error err = { 0 };
	cr_assert_eq(agent_client_connect_unix(c, sock + 5, 5000, &err), 0, "%s", err.msg);
	return c;
}

static bool alive(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	return rp && rp[2] != 'Z';	/* a zombie is dead */
}

static bool gone_within(pid_t pid, int ms)
{
	long end = now_ms() + ms;
	while (alive(pid) && now_ms() < end)
		usleep(10000);
	return !alive(pid);
}

Test(agent, exec_gives_stdout_stderr_and_exit_status)
{
	run(NULL, 10000, "exec", "--", "sh", "-c", "printf 'out\\0put'; printf err >&2; exit 7", NULL);
	cr_assert_eq(r.status, 7, "stderr: %s", r.err);
	cr_assert_eq(memcmp(r.out, "out\0put", 8), 0, "binary-safe stdout");
	cr_assert_str_eq(r.err, "err");
	run(NULL, 10000, "exec", "-n", "-e", "GREETING=hi there", "-C", "/tmp", "--", "sh", "-c",
	    "echo \"$GREETING\" $(pwd)", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_str_eq(r.out, "hi there /tmp\n");
}

Test(agent, exec_streams_stdin)
{
	run("hello\nworld\n", 10000, "exec", "--", "tr", "a-z", "A-Z", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_str_eq(r.out, "HELLO\nWORLD\n");
}

Test(agent, exec_reports_a_signal_as_128_plus_n)
{
	run(NULL, 10000, "exec", "--", "sh", "-c", "kill -TERM $$", NULL);
	cr_assert_eq(r.status, 128 + SIGTERM);
	run(NULL, 10000, "exec", "--", "sh", "-c", "kill -KILL $$", NULL);
	cr_assert_eq(r.status, 128 + SIGKILL);
}

Test(agent, exec_failures_name_the_program)
{
	run(NULL, 10000, "exec", "--", "/nonexistent/prog", NULL);
	cr_assert_eq(r.status, 127);
	cr_assert(strstr(r.err, "execvp /nonexistent/prog: No such file or directory"), "%s", r.err);
	FILE *f = fopen(in_dir("noexec"), "w");
	cr_assert_not_null(f);
	fputs("#!/bin/sh\necho hi\n", f);
	fclose(f);
	run(NULL, 10000, "exec", "--", in_dir("noexec"), NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	run(NULL, 10000, "exec", "-C", "/nonexistent", "--", "true", NULL);
	cr_assert_eq(r.status, 127);
	cr_assert(strstr(r.err, "chdir /nonexistent: No such file or directory"), "%s", r.err);
}

Test(agent, time_limit_kills_the_process)
{
	long t0 = now_ms();
	run(NULL, 20000, "exec", "-t", "1", "--", "sh", "-c", "echo started; sleep 30", NULL);
	long took = now_ms() - t0;
	cr_assert_eq(r.status, 124, "stderr: %s", r.err);
	cr_assert_str_eq(r.out, "started\n");
	cr_assert(strstr(r.err, "killed at its time limit of 1 s"), "%s", r.err);
	cr_assert(took >= 900 && took < 8000, "took %ld ms", took);
}

Test(agent, output_is_streamed_while_the_process_runs)
{
	const char *argv[] = { client, "--unix", sock + 5, "exec", "-n", "--", "sh", "-c",
			       "echo first; sleep 5; echo second", NULL };
	char buf[256] = "";
	int out;
	long t0 = now_ms();
	pid_t pid = proc_spawn(argv, NULL, &out, NULL);
	cr_assert_gt(pid, 0);
	cr_assert(proc_read_until(out, buf, sizeof(buf), "first\n", 4000), "got \"%s\"", buf);
	cr_assert_lt(now_ms() - t0, 4000, "the first line came before the process ended");
	cr_assert_eq(proc_wait(pid, 0), -1, "the client is still running");
	cr_assert_null(strstr(buf, "second"));
	cr_assert(proc_read_until(out, buf, sizeof(buf), "second\n", 10000));
	cr_assert_eq(proc_wait(pid, 5000), 0);
	close(out);
}

static long agent_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)agent);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

Test(agent, output_of_64_mib_through_a_slow_reader_keeps_the_agent_small)
{
	const char *argv[] = { client, "--unix", sock + 5, "exec", "-n", "--", "head", "-c",
			       "67108864", "/dev/zero", NULL };
	static char buf[65536];
	int out;
	uint64_t total = 0;
	long before = agent_rss_kib(), peak = before;
	pid_t pid = proc_spawn(argv, NULL, &out, NULL);
	cr_assert_gt(pid, 0);
	long t0 = now_ms();
	for (int i = 0;; i++) {
		ssize_t n = read(out, buf, sizeof(buf));
		cr_assert_geq(n, 0);
		if (n == 0)
			break;
		for (ssize_t k = 0; k < n; k++)
			cr_assert_eq(buf[k], 0);
		total += (uint64_t)n;
		if (total < 16u << 20 && i % 4 == 0)
			usleep(5000);	/* slow for the first 16 MiB: the agent must wait */
		if (i % 64 == 0)
			peak = MAX(peak, agent_rss_kib());
	}
	long took = now_ms() - t0;
	cr_assert_eq(proc_wait(pid, 10000), 0);
	close(out);
	cr_assert_eq(total, 64u << 20);
	fprintf(stderr, "agent: 64 MiB in %ld ms; agent RSS %ld KiB before, peak %ld KiB\n", took,
		before, peak);
	cr_assert_lt(peak - before, 8 * 1024, "the agent grew by %ld KiB", peak - before);
}

static void make_tree(void)
{
	char cmd[768];
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -p src/sub/deeper src/empty && "
		 "head -c 5000000 /dev/urandom > src/big && chmod 0600 src/big && "
		 "printf 'x\\0y' > src/sub/bin && chmod 0755 src/sub/bin && chmod 0750 src/sub && "
		 ": > src/sub/deeper/zero && chmod 0444 src/sub/deeper/zero && chmod 0700 src/empty && "
		 "ln -s ../big src/sub/link", dir);
	cr_assert_eq(system(cmd), 0);
}

static void same_tree(const char *a, const char *b)
{
	char cmd[768];
	snprintf(cmd, sizeof(cmd), "cd %s && diff -r --no-dereference %s %s && "
		 "[ \"$(cd %s && find . -printf '%%m %%y %%s %%l %%p\\n' | sort)\" = "
		 "\"$(cd %s && find . -printf '%%m %%y %%s %%l %%p\\n' | sort)\" ]",
		 dir, a, b, a, b);
	cr_assert_eq(system(cmd), 0, "%s and %s differ", a, b);
}

Test(agent, put_and_get_keep_bytes_and_permissions)
{
	make_tree();
	run(NULL, 30000, "put", in_dir("src"), in_dir("guest"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	same_tree("src", "guest");
	run(NULL, 30000, "get", in_dir("guest"), in_dir("back"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	same_tree("src", "back");
	/* A single file, in and out. */
	run(NULL, 30000, "put", in_dir("src/big"), in_dir("one"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run(NULL, 30000, "get", in_dir("one"), in_dir("one.back"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cmp %s/src/big %s/one.back && [ $(stat -c %%a %s/one.back) = "
		 "600 ]", dir, dir, dir);
	cr_assert_eq(system(cmd), 0);
	run(NULL, 10000, "get", "/nonexistent/x", in_dir("nothing"), NULL);
	cr_assert_eq(r.status, 255);
	cr_assert(strstr(r.err, "/nonexistent/x: No such file or directory"), "%s", r.err);
}

/* Reads pids, one per line, printed by a command. */
static int pids_in(const char *text, pid_t *pids, int max)
{
	int n = 0;
	for (const char *p = text; *p && n < max; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
		long v = strtol(p, NULL, 10);
		if (v > 0)
			pids[n++] = (pid_t)v;
	}
	return n;
}

Test(agent, everything_a_process_started_is_killed_when_it_ends)
{
	pid_t pids[4];
	long t0 = now_ms();
	/* A background child holding stdout, one in its own session, and a double fork that
	 * escaped before the main process ended. */
	run(NULL, 15000, "exec", "-n", "--", "sh", "-c",
	    "sleep 1000 & echo $!; setsid sleep 1001 & echo $!; "
	    "sh -c 'setsid sleep 1002 >/dev/null 2>&1 & echo $!'; sleep 0.2; echo done", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_lt(now_ms() - t0, 8000, "the background child holding stdout did not keep the "
		     "exec open");
	cr_assert_eq(pids_in(r.out, pids, 4), 3, "output: %s", r.out);
	for (int i = 0; i < 3; i++)
		cr_assert(gone_within(pids[i], 3000), "pid %d survived", (int)pids[i]);
}

Test(agent, a_timed_out_process_tree_is_killed_too)
{
	pid_t pids[4];
	run(NULL, 15000, "exec", "-n", "-t", "1", "--", "sh", "-c",
	    "setsid sleep 1000 & echo $!; sleep 1001 & echo $!; wait", NULL);
	cr_assert_eq(r.status, 124, "%s", r.err);
	cr_assert_eq(pids_in(r.out, pids, 4), 2, "output: %s", r.out);
	for (int i = 0; i < 2; i++)
		cr_assert(gone_within(pids[i], 3000), "pid %d survived", (int)pids[i]);
}

Test(agent, a_signal_reaches_the_process_group)
{
	const char *argv[] = { client, "--unix", sock + 5, "exec", "-n", "--", "sh", "-c",
			       "trap 'echo got TERM; exit 42' TERM; echo ready; "
			       "while :; do sleep 0.05; done", NULL };
	char buf[256] = "";
	int out;
	pid_t pid = proc_spawn(argv, NULL, &out, NULL);
	cr_assert(proc_read_until(out, buf, sizeof(buf), "ready\n", 5000));
	kill(pid, SIGTERM);	/* the client forwards it as SIGNAL */
	cr_assert(proc_read_until(out, buf, sizeof(buf), "got TERM\n", 5000), "%s", buf);
	cr_assert_eq(proc_wait(pid, 5000), 42);
	close(out);
}

Test(agent, several_connections_run_at_once)
{
	const char *argv[] = { client, "--unix", sock + 5, "exec", "-n", "--", "sh", "-c",
			       "sleep 2; echo ok", NULL };
	pid_t pids[6];
	long t0 = now_ms();
	for (int i = 0; i < 6; i++)
		pids[i] = proc_spawn(argv, NULL, NULL, NULL);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(proc_wait(pids[i], 15000), 0);
	/* One after another they would take 12 s. */
	cr_assert_lt(now_ms() - t0, 9000, "six 2-second processes took %ld ms", now_ms() - t0);
}

Test(agent, ping_and_shutdown)
{
	struct agent_client *c = connect_lib();
	struct error err = { 0 };
	uint64_t rtt;
	cr_assert_eq(agent_client_ping(c, &rtt, &err), 0, "%s", err.msg);
	cr_assert_str_eq(c->peer_name, "kiln-agent " KILN_VERSION);
	cr_assert_eq(agent_client_shutdown(c, AP_SHUTDOWN_AGENT, &err), 0, "%s", err.msg);
	agent_client_close(c);
	cr_assert_eq(proc_wait(agent, 5000), 0, "the agent ends after SHUTDOWN");
	agent = -1;
}

/* After a hostile frame: exactly one ERROR on stream 0, then the end of the connection. */
static void expect_error_then_close(struct agent_client *c, const char *want)
{
	struct ap_frame f;
	struct ap_error e;
	struct error err = { 0 };
	int rc;
	do
		rc = agent_client_recv(c, &f, 5000, &err);
	while (rc == 1 && f.h.type != AP_ERROR);
	cr_assert_eq(rc, 1, "no ERROR frame: %s", err.msg);
	cr_assert_eq(f.h.stream, 0u);
	cr_assert_eq(ap_error_decode(f.payload, f.h.len, &e), 0);
	cr_assert(strstr(e.text, want), "got \"%s\", want \"%s\"", e.text, want);
	cr_assert_eq(agent_client_recv(c, &f, 5000, &err), 0, "the connection ends after it");
	agent_client_close(c);
}

static void raw_bytes(struct agent_client *c, const void *p, size_t n)
{
	cr_assert_eq(write(c->fd, p, n), (ssize_t)n);
}

Test(agent, malformed_frames_close_only_that_connection)
{
	struct error err = { 0 };
	uint64_t rtt;
	struct agent_client *good = connect_lib();
	/* A long-running process on the good connection must not notice. */
	const char *argv[] = { client, "--unix", sock + 5, "exec", "-n", "--", "sh", "-c",
			       "echo $$; sleep 3; echo survived", NULL };
	char buf[256] = "";
	int out;
	pid_t pid = proc_spawn(argv, NULL, &out, NULL);
	cr_assert(proc_read_until(out, buf, sizeof(buf), "\n", 5000));

	struct agent_client *c = connect_lib();
	raw_bytes(c, "GET / HTTP/1.1\r\n\r\n", 18);
	expect_error_then_close(c, "protocol error: bad magic");

	c = connect_lib();
	uint8_t big[12] = { 'k', 'a', 1, AP_DATA, 1, 0, 0, 0, 0x01, 0x00, 0x01, 0x00 };
	raw_bytes(c, big, sizeof(big));	/* 65537 bytes announced */
	expect_error_then_close(c, "frame longer than the limit");

	c = connect_lib();
	uint8_t v2[12] = { 'k', 'a', 2, AP_PING, 1, 0, 0, 0, 0, 0, 0, 0 };
	raw_bytes(c, v2, sizeof(v2));
	expect_error_then_close(c, "unsupported protocol version");

	c = connect_lib();
	uint8_t unknown[12] = { 'k', 'a', 1, 0x77, 1, 0, 0, 0, 0, 0, 0, 0 };
	raw_bytes(c, unknown, sizeof(unknown));
	expect_error_then_close(c, "unknown frame type");

	c = connect_lib();
	cr_assert_eq(agent_client_send(c, AP_EXEC, 1, "\x01\xff\xff\xff\xff", 5), 0);
	expect_error_then_close(c, "EXEC field truncated");

	/* Silence instead of HELLO: the place is given back after 10 s. */
	static struct agent_client mute;
	mute.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un ma = { .sun_family = AF_UNIX };
	strcpy(ma.sun_path, sock + 5);
	cr_assert_eq(connect(mute.fd, (struct sockaddr *)&ma, sizeof(ma)), 0);
	long t_mute = now_ms();

	/* A frame before HELLO. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, sock + 5);
	static struct agent_client rawc;
	rawc.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(connect(rawc.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(agent_client_send(&rawc, AP_PING, 1, "x", 1), 0);
	expect_error_then_close(&rawc, "the first frame is not HELLO");

	/* A credit violation: more stdin than the agent granted, and its process dies. */
	c = connect_lib();
	const char *cat[] = { "sh", "-c", "echo $$; exec sleep 1000", NULL };
	struct ap_exec_params p = { .argv = cat, .stdin_stream = true };
	static uint8_t payload[AP_MAX_PAYLOAD];
	struct ap_builder b;
	ap_builder_init(&b, payload, sizeof(payload));
	cr_assert_eq(ap_exec_encode(&b, &p), 0);
	cr_assert_eq(agent_client_send(c, AP_EXEC, 5, payload, b.len), 0);
	struct ap_frame f;
	cr_assert_eq(agent_client_recv(c, &f, 5000, &err), 1, "%s", err.msg);
	cr_assert_eq(f.h.type, AP_STDOUT);
	pid_t victim = (pid_t)strtol((const char *)f.payload, NULL, 10);
	cr_assert(victim > 0 && alive(victim));
	/* Spend every credit granted until the pipe is full and no more comes, then one byte. */
	memset(payload, 'x', sizeof(payload));
	uint32_t credit = c->peer_window;
	for (;;) {
		while (credit > 0) {
			uint32_t n = MIN(credit, AP_MAX_PAYLOAD / 2);
			cr_assert_eq(agent_client_send(c, AP_STDIN, 5, payload, n), 0);
			credit -= n;
		}
		int rc = agent_client_recv(c, &f, 500, &err);
		if (rc == -ETIMEDOUT)
			break;
		cr_assert_eq(rc, 1, "%s", err.msg);
		uint32_t g;
		cr_assert_eq(f.h.type, AP_WINDOW);
		cr_assert_eq(ap_window_decode(f.payload, f.h.len, &g), 0);
		credit += g;
	}
	cr_assert_eq(agent_client_send(c, AP_STDIN, 5, payload, 1), 0);
	expect_error_then_close(c, "STDIN beyond the credit granted");
	cr_assert(gone_within(victim, 3000), "the broken connection's process was killed");

	struct pollfd mp = { .fd = mute.fd, .events = POLLIN };
	cr_assert_eq(poll(&mp, 1, 15000), 1, "no ERROR for the silent connection");
	expect_error_then_close(&mute, "no HELLO within 10 s");
	cr_assert_geq(now_ms() - t_mute, 9500);

	/* Everything else carried on. */
	cr_assert_eq(agent_client_ping(good, &rtt, &err), 0, "%s", err.msg);
	cr_assert(proc_read_until(out, buf, sizeof(buf), "survived\n", 8000), "%s", buf);
	cr_assert_eq(proc_wait(pid, 5000), 0);
	close(out);
	agent_client_close(good);
}

/* A stand-in for a VMM's vsock socket: CONNECT <port>, OK, then bytes both ways. */
static pid_t fake_vsock(const char *path, const char *answer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 1), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid > 0) {
		close(l);
		return pid;
	}
	int h = accept(l, NULL, NULL);
	char line[64];
	size_t n = 0;
	while (n < sizeof(line) - 1 && read(h, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	if (strcmp(line, "CONNECT 1024") != 0)
		_exit(3);
	if (write(h, answer, strlen(answer)) < 0 || strncmp(answer, "OK ", 3) != 0)
		_exit(0);
	struct sockaddr_un ga = { .sun_family = AF_UNIX };
	strcpy(ga.sun_path, sock + 5);
	int g = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(g, (struct sockaddr *)&ga, sizeof(ga)) < 0)
		_exit(4);
	static char buf[65536];
	for (;;) {
		struct pollfd p[2] = { { h, POLLIN, 0 }, { g, POLLIN, 0 } };
		poll(p, 2, -1);
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t k = read(p[i].fd, buf, sizeof(buf));
			if (k <= 0 || write(p[1 - i].fd, buf, (size_t)k) != k)
				_exit(0);
		}
	}
}

Test(agent, the_client_speaks_firecrackers_vsock_handshake)
{
	const char *uds = in_dir("v.sock");
	pid_t fake = fake_vsock(uds, "OK 1073741824\n");
	const char *argv[] = { client, "--uds", uds, "--port", "1024", "exec", "-n", "--", "sh",
			       "-c", "echo through vsock; exit 5", NULL };
	proc_run(argv, NULL, 10000, &r);
	cr_assert_eq(r.status, 5, "%s", r.err);
	cr_assert_str_eq(r.out, "through vsock\n");
	proc_wait(fake, 2000);
	unlink(uds);

	fake = fake_vsock(uds, "NOPE\n");
	proc_run(argv, NULL, 10000, &r);
	cr_assert_eq(r.status, 255);
	cr_assert(strstr(r.err, "CONNECT 1024: the answer is not \"OK <port>\""), "%s", r.err);
	proc_wait(fake, 2000);
}

Test(agent, ending_the_agent_ends_what_it_runs)
{
	const char *argv[] = { client, "--unix", sock + 5, "exec", "-n", "--", "sh", "-c",
			       "setsid sleep 1000 & echo $!; exec sleep 1001", NULL };
	char buf[256] = "";
	int out;
	pid_t pid = proc_spawn(argv, NULL, &out, NULL);
	cr_assert(proc_read_until(out, buf, sizeof(buf), "\n", 5000));
	pid_t bg = (pid_t)strtol(buf, NULL, 10);
	cr_assert(bg > 0 && alive(bg));
	kill(agent, SIGTERM);
	cr_assert_eq(proc_wait(agent, 8000), 0, "the agent ends on SIGTERM");
	agent = -1;
	cr_assert(gone_within(bg, 3000), "pid %d outlived the agent", (int)bg);
	cr_assert_eq(proc_wait(pid, 5000), 255, "the client reports the lost connection");
	close(out);
}

Test(agent, exec_as_another_user)
{
	if (geteuid() != 0)
		cr_skip_test("not root: the agent cannot change uid");
	run(NULL, 10000, "exec", "-n", "-u", "65534:65533", "--", "sh", "-c", "id -u; id -g; id -G",
	    NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "65534\n65533\n65533\n");
}

static void send_exec(struct agent_client *c, uint32_t stream, const char *script)
{
	const char *argv[] = { "sh", "-c", script, NULL };
	struct ap_exec_params p = { .argv = argv };
	static uint8_t payload[4096];
	struct ap_builder b;
	ap_builder_init(&b, payload, sizeof(payload));
	cr_assert_eq(ap_exec_encode(&b, &p), 0);
	cr_assert_eq(agent_client_send(c, AP_EXEC, stream, payload, b.len), 0);
}

Test(agent, one_connection_carries_several_processes)
{
	struct agent_client *c = connect_lib();
	struct error err = { 0 };
	struct ap_frame f;
	char out[17][16] = { { 0 } };
	int exits = 0, refused = 0;
	/* 16 at once are served, each its own stream; a 17th is refused, not queued. */
	for (uint32_t s = 1; s <= 17; s++) {
		char script[64];
		snprintf(script, sizeof(script), "sleep 0.5; echo %u", s);
		send_exec(c, s, script);
	}
	while (exits + refused < 17) {
		cr_assert_eq(agent_client_recv(c, &f, 10000, &err), 1, "%s", err.msg);
		cr_assert(f.h.stream >= 1 && f.h.stream <= 17);
		if (f.h.type == AP_STDOUT)
			memcpy(out[f.h.stream - 1], f.payload, MIN(f.h.len, 15u));
		else if (f.h.type == AP_EXIT)
			exits++;
		else if (f.h.type == AP_ERROR) {
			struct ap_error e;
			cr_assert_eq(ap_error_decode(f.payload, f.h.len, &e), 0);
			cr_assert_eq(e.code, (uint32_t)EAGAIN, "%s", e.text);
			cr_assert_eq(f.h.stream, 17u);
			refused++;
		}
	}
	cr_assert_eq(refused, 1);
	for (int s = 1; s <= 16; s++) {
		char want[16];
		snprintf(want, sizeof(want), "%d\n", s);
		cr_assert_str_eq(out[s - 1], want);
	}
	agent_client_close(c);
}

/*
 * The agent as PID 1, in new PID and mount namespaces (unshare(1), root only): it mounts
 * what a guest's init must, reaps its children, and SHUTDOWN poweroff ends the namespace
 * the way reboot(2) ends a PID namespace, with SIGINT. It listens in the abstract namespace,
 * since its own /tmp hides the test's.
 */
Test(agent, as_pid1_it_mounts_reaps_and_powers_off)
{
	const char *bin = getenv("AGENT");
	char name[64], out[4096] = "";
	if (geteuid() != 0 || access("/usr/bin/unshare", X_OK) != 0)
		cr_skip_test("needs root and /usr/bin/unshare");
	char spec[80];
	snprintf(name, sizeof(name), "@kiln-test-pid1-%d", (int)getpid());
	snprintf(spec, sizeof(spec), "unix:%s", name);
	const char *argv[] = { "/usr/bin/unshare", "--mount", "--pid", "--fork", "--kill-child",
			       bin, "--listen", spec, NULL };
	ns = proc_spawn(argv, NULL, NULL, NULL);
	cr_assert_gt(ns, 0);
	/* The client retries until the socket exists. */
	const char *exec1[] = { client, "--unix", name, "exec", "-n", "--", "sh", "-c",
				"tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$; "
				"awk '$2 == \"/tmp\" || $2 == \"/run\" || $2 == \"/proc\" "
				"{ print $2, $3 }' /proc/self/mounts | sort", NULL };
	proc_run(exec1, NULL, 20000, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	memcpy(out, r.out, sizeof(out) - 1);
	cr_assert(strstr(out, "kiln-agent --listen"), "PID 1 is the agent: %s", out);
	cr_assert(strstr(out, "\n/proc proc\n/run tmpfs\n/tmp tmpfs\n"), "mounts: %s", out);
	/* Its children are reaped: no zombie in the namespace once a process has ended. */
	const char *exec2[] = { client, "--unix", name, "exec", "-n", "--", "sh", "-c",
				"sleep 0.3; for f in /proc/[0-9]*/stat; do "
				"read -r line < $f && echo \"${line##*) }\" | cut -c1; done | "
				"grep -c Z || true", NULL };
	proc_run(exec2, NULL, 20000, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "0\n", "zombies: %s", r.out);
	const char *off[] = { client, "--unix", name, "shutdown", "poweroff", NULL };
	proc_run(off, NULL, 10000, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(proc_wait(ns, 10000), 128 + SIGINT, "PID 1 ended by reboot(RB_POWER_OFF)");
	ns = -1;
}
