/*
 * virtio-vsock's Unix-socket side with real sockets and no guest: binding uds_path, the
 * CONNECT line, guest connections to <uds_path>_<port>, the OK line, and readiness.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/vsock_uds.h"

static char dir[64], path[128];
static struct vsock_uds *be;
static struct error err;

static int connects, last_fd = -1, readies;
static uint32_t last_port, last_conn;
static bool last_in, last_out;

static int sink_connect(void *opaque, int fd, uint32_t port)
{
	(void)opaque;
	connects++;
	last_fd = fd;
	last_port = port;
	return 0;
}

static void sink_ready(void *opaque, uint32_t conn, bool in, bool out)
{
	(void)opaque;
	readies++;
	last_conn = conn;
	last_in = in;
	last_out = out;
}

static const struct vsock_uds_sink sink = { sink_connect, sink_ready };

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kiln-vsock-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	memset(&err, 0, sizeof(err));
	connects = readies = 0;
	last_fd = -1;
	be = NULL;
}

static void teardown(void)
{
	char cmd[128];
	vsock_uds_destroy(be);
	if (last_fd >= 0)
		close(last_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(vsock_uds, .init = setup, .fini = teardown);

static int client(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cr_assert_lt(strlen(p), sizeof(sa.sun_path));
	memcpy(sa.sun_path, p, strlen(p) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s: %s", p,
		     strerror(errno));
	return fd;
}

static void open_backend(void)
{
	cr_assert_eq(vsock_uds_open("vsock.uds_path", path, &be, &err), 0, "%s", err.msg);
	vsock_uds_set_sink(be, &sink, NULL);
}

/* Let the backend handle what is ready, a few rounds. */
static void process(void)
{
	for (int i = 0; i < 5; i++)
		vsock_uds_process(be);
}

Test(vsock_uds, connect_line_reaches_the_sink_and_leaves_the_data)
{
	open_backend();
	int c = client(path);
	cr_assert_eq(write(c, "CONNECT 52\nhello", 16), 16);
	process();
	cr_assert_eq(connects, 1);
	cr_assert_eq(last_port, 52);
	/* The stream data after the line is still in the socket, for the guest. */
	char buf[16] = "";
	cr_assert_eq(read(last_fd, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	/* kiln's OK line once the guest accepts. */
	cr_assert_eq(vsock_uds_ops.established(be, last_fd, 1073741824u), 0);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read(c, buf, sizeof(buf)), 14);
	cr_assert_str_eq(buf, "OK 1073741824\n");
	close(c);
}

Test(vsock_uds, a_line_sent_a_byte_at_a_time)
{
	open_backend();
	int c = client(path);
	const char *line = "CONNECT  4294967295 \n";
	for (size_t i = 0; line[i]; i++) {
		cr_assert_eq(write(c, &line[i], 1), 1);
		process();
		cr_assert_eq(connects, line[i + 1] ? 0 : 1, "after byte %zu", i);
	}
	cr_assert_eq(last_port, 4294967295u);
	close(c);
}

Test(vsock_uds, a_bad_line_closes_the_client)
{
	open_backend();
	int c = client(path);
	cr_assert_eq(write(c, "HELLO 52\n", 9), 9);
	process();
	cr_assert_eq(connects, 0);
	char buf[4];
	/* Closed without an answer (reset: kiln left the rest of the line unread). */
	ssize_t n = read(c, buf, sizeof(buf));
	cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "read %zd: %s", n, strerror(errno));
	close(c);
}

Test(vsock_uds, more_clients_than_slots_wait_instead_of_failing)
{
	enum { N = VSOCK_UDS_HANDSHAKES + 20 };
	static int fds[N];
	open_backend();
	for (int i = 0; i < N; i++)
		fds[i] = client(path);	/* the backlog (128) holds those not accepted */
	process();
	cr_assert_eq(connects, 0);
	for (int i = 0; i < N; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "CONNECT %d\n", 1000 + i);
		cr_assert_eq(write(fds[i], line, (size_t)n), n);
	}
	for (int round = 0; round < 20 && connects < N; round++) {
		process();
		close(last_fd);
		last_fd = -1;
	}
	cr_assert_eq(connects, N, "%d of %d clients got through", connects, N);
	for (int i = 0; i < N; i++)
		close(fds[i]);
}

Test(vsock_uds, guest_connections_go_to_the_port_socket)
{
	open_backend();
	char p[160];
	snprintf(p, sizeof(p), "%s_7000", path);
	/* Nothing listens there yet. */
	cr_assert_eq(vsock_uds_ops.connect(be, 7000), -ENOENT);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cr_assert_lt(strlen(p), sizeof(sa.sun_path));
	memcpy(sa.sun_path, p, strlen(p) + 1);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 4), 0);
	int fd = vsock_uds_ops.connect(be, 7000);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	int s = accept(l, NULL, NULL);
	cr_assert_geq(s, 0);
	/* Readiness is reported with the connection's index. */
	vsock_uds_ops.watch(be, fd, 17, true, false);
	process();
	cr_assert_eq(readies, 0, "nothing to read yet");
	cr_assert_eq(write(s, "x", 1), 1);
	process();
	cr_assert_gt(readies, 0);
	cr_assert_eq(last_conn, 17);
	cr_assert(last_in);
	struct iovec iov = { (char[8]){ 0 }, 8 };
	cr_assert_eq(vsock_uds_ops.recv(be, fd, &iov, 1), 1);
	cr_assert_eq(vsock_uds_ops.recv(be, fd, &iov, 1), -EAGAIN);
	/* A peer that went away is EPIPE, never SIGPIPE. */
	close(s);
	iov.iov_len = 1;
	ssize_t r;
	while ((r = vsock_uds_ops.send(be, fd, &iov, 1)) > 0)
		;
	cr_assert_eq(r, -EPIPE);
	vsock_uds_ops.close(be, fd);
	close(l);
}

Test(vsock_uds, bad_paths_name_the_key)
{
	cr_assert_eq(vsock_uds_open("vsock.uds_path", "/nonexistent-dir/v.sock", &be, &err), -ENOENT);
	cr_assert_str_eq(err.msg, "vsock.uds_path: /nonexistent-dir/v.sock: No such file or directory");
	FILE *f = fopen(path, "w");
	fclose(f);
	cr_assert_eq(vsock_uds_open("vsock.uds_path", path, &be, &err), -EADDRINUSE);
	char want[256];
	snprintf(want, sizeof(want), "vsock.uds_path: %s: a file already exists there (remove it "
		 "first)", path);
	cr_assert_str_eq(err.msg, want);
	char longp[120];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(vsock_uds_open("vsock.uds_path", longp, &be, &err), -ENAMETOOLONG);
	cr_assert(strstr(err.msg, "is 119 bytes long; at most 96 fit"), "%s", err.msg);
	cr_assert_null(be);
}
