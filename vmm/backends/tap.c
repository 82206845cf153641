/* The TAP backend of virtio-net: a TAP device opened by name, frames with a vnet header. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "io.h"

#define TAP_VNET_HDR_SIZE 12	/* struct virtio_net_hdr_v1: the header virtio 1.x uses */

static ssize_t tap_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	for (;;) {
		ssize_t n = readv(be->fd, iov, iovcnt);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static ssize_t tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	for (;;) {
		ssize_t n = writev(be->fd, iov, iovcnt);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static int tap_set_offload(struct net_backend *be, unsigned int offloads)
{
	unsigned int f = 0;

	if (offloads & NET_OFFLOAD_CSUM)
		f |= TUN_F_CSUM;
	if (offloads & NET_OFFLOAD_TSO4)
		f |= TUN_F_TSO4;
	if (offloads & NET_OFFLOAD_TSO6)
		f |= TUN_F_TSO6;
	if (offloads & NET_OFFLOAD_TSO_ECN)
		f |= TUN_F_TSO_ECN;
	if (offloads & NET_OFFLOAD_UFO)
		f |= TUN_F_UFO;
	return ioctl(be->fd, TUNSETOFFLOAD, (unsigned long)f) < 0 ? -errno : 0;
}

static void tap_destroy(struct net_backend *be)
{
	close_quietly(be->fd);
	free(be);
}

static const struct net_backend_ops tap_ops = {
	.recv = tap_recv,
	.send = tap_send,
	.set_offload = tap_set_offload,
	.destroy = tap_destroy,
};

static const char *tap_hint(int e)
{
	switch (e) {
	case EPERM:
		return " (no TAP by that name exists in kiln's network namespace, and kiln may "
		       "not create one; or it belongs to another user or group)";
	case EBUSY:
		return " (another process has the TAP open)";
	case EINVAL:
		return " (the interface exists but is not a TAP device with these flags)";
	default:
		return "";
	}
}

int net_tap_open(const char *key, const char *name, struct net_backend **out,
		 struct error *err)
{
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_SIZE, e;

	if (strlen(name) >= IFNAMSIZ)
		return error_set(err, -ENAMETOOLONG, "%s: %s: longer than %d characters", key, name,
				 IFNAMSIZ - 1);
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		return error_set(err, -e, "%s: %s: /dev/net/tun: %s", key, name, strerror(e));
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		return error_set(err, -e, "%s: %s: %s%s", key, name, strerror(e), tap_hint(e));
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
		e = errno;
		close(fd);
		return error_set(err, -e, "%s: %s: setting the vnet header: %s", key, name,
				 strerror(e));
	}
	struct net_backend *be = calloc(1, sizeof(*be));
	if (!be) {
		close(fd);
		return error_set(err, -ENOMEM, "%s: out of memory", key);
	}
	be->ops = &tap_ops;
	be->fd = fd;
	*out = be;
	return 0;
}
