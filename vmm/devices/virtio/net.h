/*
 * virtio-net (virtio 1.2, 5.1): one rx and one tx queue, the guest's MAC and MTU in the
 * configuration space, checksum and segmentation offloads passed through to the backend
 * (backends/net.h), mergeable receive buffers. The backend is handed over ready.
 */
#ifndef KILN_VIRTIO_NET_H
#define KILN_VIRTIO_NET_H

#include <stdatomic.h>
#include "config.h"
#include "error.h"
#include "virtio.h"

#define VIRTIO_NET_QUEUE_SIZE	256
#define NET_QUEUE_RX		0
#define NET_QUEUE_TX		1

/* Feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM	1
#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4	7
#define VIRTIO_NET_F_GUEST_TSO6	8
#define VIRTIO_NET_F_GUEST_ECN	9
#define VIRTIO_NET_F_GUEST_UFO	10
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_UFO	14
#define VIRTIO_NET_F_MRG_RXBUF	15

/* struct virtio_net_hdr_v1: every frame on either queue starts with it. */
#define VIRTIO_NET_HDR_SIZE	12
#define VIRTIO_NET_HDR_NUM_BUFFERS 10	/* offset of le16 num_buffers */
/* The largest frame either way: a 64 KiB segmentation-offload packet, Ethernet and VLAN. */
#define NET_FRAME_MAX		(65535 + 18)
#define NET_BUF_MAX		(VIRTIO_NET_HDR_SIZE + NET_FRAME_MAX)

/* Counters ("net" in the metrics), for all interfaces together. */
struct net_stats {
	atomic_ulong rx_bytes;		/* host to guest, frames without the header */
	atomic_ulong rx_packets;
	atomic_ulong rx_fails;		/* frames dropped: no guest buffer could ever hold them */
	atomic_ulong tx_bytes;		/* guest to host */
	atomic_ulong tx_packets;
	atomic_ulong tx_fails;		/* frames the backend refused */
	atomic_ulong tx_malformed;	/* tx chains that are no frame: dropped */
	atomic_ulong rx_throttled;	/* the rx rate limiter held a frame back */
	atomic_ulong tx_throttled;
	atomic_ulong rx_throttle_wakeups;
	atomic_ulong tx_throttle_wakeups;
	atomic_ulong tap_read_fails;
	atomic_ulong tap_write_fails;
};

struct net_backend;

/*
 * The device for interface `index` of the configuration (for its MAC, MTU and rate
 * limiters; errors name "network-interfaces[index]"). Takes ownership of `be`, also on
 * failure.
 */
int virtio_net_create(const struct net_config *nc, unsigned int index, struct net_backend *be,
		      const struct guest_mem *mem, struct net_stats *stats,
		      struct virtio_dev **out, struct error *err) MUST_CHECK;

/*
 * PATCH /network-interfaces/{id} after the start: `nc` is the interface as it is to
 * become; the limiters `u` names a bucket of are replaced by nc's (the buckets given
 * start full, the others keep their state). Lock taken here. 0, or -errno with err
 * naming "network-interfaces[<id>]" and nothing changed.
 */
int virtio_net_update(struct virtio_dev *dev, const struct net_config *nc,
		      const struct net_update *u, struct error *err) MUST_CHECK;

/*
 * The packet paths without the event loop around them (the device uses these; so does
 * the fuzz target), lock held, device live.
 * virtio_net_process_tx: every available tx chain to the backend.
 * virtio_net_process_rx: frames from the backend into the guest's rx chains, as long as
 * both have some. Each returns whether the driver is owed an interrupt.
 */
bool virtio_net_process_tx(struct virtio_dev *dev);
bool virtio_net_process_rx(struct virtio_dev *dev);

#endif
