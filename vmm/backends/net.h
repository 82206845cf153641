/*
 * Network backends: the ops table joining a virtio-net device to where its frames go.
 * A frame crosses it with the 12-byte virtio-net header in front (struct
 * virtio_net_hdr_v1), so offloads need no translation. The TAP backend is the real one;
 * tests and the fuzz target plug in their own.
 */
#ifndef KILN_BACKENDS_NET_H
#define KILN_BACKENDS_NET_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "error.h"
#include "util.h"

/* Offloads a backend may be told the guest accepts (TUN_F_* of <linux/if_tun.h>). */
#define NET_OFFLOAD_CSUM	0x01
#define NET_OFFLOAD_TSO4	0x02
#define NET_OFFLOAD_TSO6	0x04
#define NET_OFFLOAD_TSO_ECN	0x08
#define NET_OFFLOAD_UFO		0x10

struct net_backend;

struct net_backend_ops {
	/*
	 * Take the next frame from the host into iov: its length (header included), or
	 * -EAGAIN when there is none now, or another -errno. Never blocks.
	 */
	ssize_t (*recv)(struct net_backend *be, const struct iovec *iov, int iovcnt);
	/*
	 * Send one frame (header first) to the host: its length, -EAGAIN when the host side
	 * is full (try again once fd is writable), or another -errno (the frame is lost).
	 */
	ssize_t (*send)(struct net_backend *be, const struct iovec *iov, int iovcnt);
	/* Which offloads the host may use in frames it gives (NET_OFFLOAD_*). 0 or -errno. */
	int (*set_offload)(struct net_backend *be, unsigned int offloads);
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	int fd;			/* readable when a frame waits; writable when send may go on */
};

/*
 * Open the TAP device `name` in this process's network namespace (IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, non-blocking, header size 12, no offloads until set_offload). Errors
 * name `key` ("network-interfaces[0].host_dev_name: tap0: ..."), saying what the usual
 * causes are. Before seccomp: it needs /dev/net/tun and TUNSETIFF.
 */
int net_tap_open(const char *key, const char *name, struct net_backend **out,
		 struct error *err) MUST_CHECK;

static inline void net_backend_destroy(struct net_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

#endif
