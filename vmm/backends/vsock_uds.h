/*
 * virtio-vsock's host side, Firecracker's Unix-socket protocol: host processes connect to
 * uds_path and ask for a guest port with "CONNECT <port>\n" (answered "OK <hostport>\n"
 * once the guest accepts); a guest connection to host port P is a connection to the
 * socket "<uds_path>_<P>". Every socket is non-blocking and watched through one epoll
 * fd, which the event loop watches in turn (so hundreds of connections take one entry).
 */
#ifndef KILN_BACKENDS_VSOCK_UDS_H
#define KILN_BACKENDS_VSOCK_UDS_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/virtio/vsock_mux.h"
#include "error.h"

#define VSOCK_UDS_HANDSHAKES	64	/* clients read from before their CONNECT line; the
					   next ones wait in the listening socket's backlog */
#define VSOCK_UDS_PATH_MAX	96	/* room for "_<port>" in sun_path's 108 bytes */

/* How the backend reports to the device what its sockets did. */
struct vsock_uds_sink {
	/* A client asked for guest port `port` on fd (handed over): see vsock_mux_host_connect. */
	int (*host_connect)(void *opaque, int fd, uint32_t port);
	/* Connection `conn`'s socket is readable (or hung up) and/or writable. */
	void (*ready)(void *opaque, uint32_t conn, bool in, bool out);
};

struct vsock_uds;

/*
 * Bind and listen on uds_path (which must not exist yet, as with Firecracker). Errors name
 * `key` ("vsock.uds_path: /run/v.sock: a file already exists there").
 */
int vsock_uds_open(const char *key, const char *uds_path, struct vsock_uds **out,
		   struct error *err) MUST_CHECK;
extern const struct vsock_backend_ops vsock_uds_ops;
void vsock_uds_set_sink(struct vsock_uds *b, const struct vsock_uds_sink *sink, void *opaque);
/* The fd to watch for EPOLLIN: then call vsock_uds_process. */
int vsock_uds_event_fd(const struct vsock_uds *b);
/* Handle what is ready (never blocks): accepts, CONNECT lines, connection readiness. */
void vsock_uds_process(struct vsock_uds *b);
/* Close the listener, pending clients and the epoll fd (connections are the mux's). */
void vsock_uds_destroy(struct vsock_uds *b);

#endif
