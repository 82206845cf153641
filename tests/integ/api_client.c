/* Integration-test helper: one HTTP/1.1 request to kiln's API socket, its status and body. */
#include "api_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int connect_to(const char *sock)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int api_call(const char *sock, const char *method, const char *path, const char *body,
	     char *resp, size_t size)
{
	static char buf[300000];
	size_t blen = body ? strlen(body) : 0, got = 0;
	char *req = malloc(blen + 512);
	int fd = connect_to(sock), status = -EPROTO;

	if (fd < 0 || !req) {
		free(req);
		return fd < 0 ? fd : -ENOMEM;
	}
	int n = snprintf(req, 512, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n",
			 method, path);
	if (body)
		n += snprintf(req + n, 512 - (size_t)n, "Content-Type: application/json\r\n"
			      "Content-Length: %zu\r\n", blen);
	n += snprintf(req + n, 512 - (size_t)n, "\r\n");
	memcpy(req + n, body ? body : "", blen);
	if (send(fd, req, (size_t)n + blen, MSG_NOSIGNAL) != (ssize_t)((size_t)n + blen)) {
		free(req);
		close(fd);
		return -EIO;
	}
	free(req);
	/* Connection: close: the answer ends when kiln closes. */
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (got < sizeof(buf) - 1 && poll(&p, 1, 30000) > 0) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return -EPROTO;
	if (resp && size) {
		const char *b = strstr(buf, "\r\n\r\n");
		snprintf(resp, size, "%s", b ? b + 4 : "");
	}
	return status;
}

bool api_wait_socket(const char *sock, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		int fd = connect_to(sock);
		if (fd >= 0) {
			close(fd);
			return true;
		}
		usleep(20000);
	}
	return false;
}
