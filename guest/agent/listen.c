/* Where the agent listens: "vsock[:PORT]" or "unix:PATH", parsed and opened. */
#include "guest/agent/listen.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
/* After <sys/socket.h>, which it needs and does not include. */
#include <linux/vm_sockets.h>

#include "agentproto/frame.h"
#include "common/parse.h"

static int listen_on(int fd, const struct sockaddr *sa, socklen_t len, const char *spec,
		     struct error *err)
{
	if (bind(fd, sa, len) < 0 || listen(fd, 16) < 0) {
		int e = -errno;
		close(fd);
		return error_set(err, e, "--listen %s: %s", spec, strerror(-e));
	}
	return fd;
}

static int listen_vsock(const char *spec, const char *port_text, struct error *err)
{
	uint64_t port = AP_DEFAULT_PORT;
	if (port_text && (parse_u64(port_text, VMADDR_PORT_ANY - 1, &port) < 0 || port == 0))
		return error_set(err, -EINVAL, "--listen %s: the port is not a number from 1 to %u",
				 spec, VMADDR_PORT_ANY - 1);
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = (unsigned int)port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, -errno, "--listen %s: AF_VSOCK socket: %s (is the "
				 "vsock transport loaded?)", spec, strerror(errno));
	return listen_on(fd, (struct sockaddr *)&sa, sizeof(sa), spec, err);
}

static int listen_unix(const char *spec, const char *path, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	bool abstract = path[0] == '@';
	size_t n = strlen(path);
	if (n <= (abstract ? 1u : 0u) || n >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG, "--listen %s: the path is empty or longer "
				 "than %zu bytes", spec, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, n);
	if (abstract) {		/* Linux's abstract namespace: no file at all */
		sa.sun_path[0] = '\0';
	} else if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return error_set(err, -EEXIST, "--listen %s: %s exists and is not a socket",
					 spec, path);
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, -errno, "--listen %s: socket: %s", spec, strerror(errno));
	mode_t old = umask(0177);
	fd = listen_on(fd, (struct sockaddr *)&sa,
		       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 0 : 1)),
		       spec, err);
	umask(old);
	return fd;
}

int agent_listen(const char *spec, struct error *err)
{
	if (!strcmp(spec, "vsock"))
		return listen_vsock(spec, NULL, err);
	if (!strncmp(spec, "vsock:", 6))
		return listen_vsock(spec, spec + 6, err);
	if (!strncmp(spec, "unix:", 5))
		return listen_unix(spec, spec + 5, err);
	return error_set(err, -EINVAL, "--listen %s: not vsock, vsock:PORT or unix:PATH", spec);
}
