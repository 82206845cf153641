/*
 * virtio-vsock (virtio 1.2, 5.10): the rx, tx and event queues and the configuration
 * space (the guest's CID). Connections are the multiplexer's (vsock_mux.h); the host side
 * is a ready backend handed over at creation (backends/vsock_uds.h).
 */
#ifndef KILN_VIRTIO_VSOCK_H
#define KILN_VIRTIO_VSOCK_H

#include <stdatomic.h>
#include "error.h"
#include "virtio.h"

#define VIRTIO_VSOCK_QUEUE_SIZE	256
#define VSOCK_QUEUE_RX		0
#define VSOCK_QUEUE_TX		1
#define VSOCK_QUEUE_EVENT	2

/* Counters ("vsock" in the metrics). */
struct vsock_stats {
	atomic_ulong conns_added;
	atomic_ulong conns_refused;
	atomic_ulong rst_sent;
	atomic_ulong rx_bytes;		/* host to guest */
	atomic_ulong tx_bytes;		/* guest to host */
	atomic_ulong bad_packets;	/* malformed or misaddressed guest packets */
	atomic_ulong credit_violations;
	atomic_ulong requests_timed_out;	/* host requests the guest never answered */
};

struct vsock_uds;
struct vsock_mux;
struct virtq_chain;

/* The device takes ownership of `be` (also on failure). */
int virtio_vsock_create(const struct guest_mem *mem, uint64_t guest_cid, struct vsock_uds *be,
			struct vsock_stats *stats, struct virtio_dev **out,
			struct error *err) MUST_CHECK;

/*
 * The guest packet path without the device around it (the device uses these; so does the
 * fuzz target). vsock_tx_chain: one tx chain's packet, header checked against the chain,
 * to the multiplexer. vsock_rx_chain: the multiplexer's next packet into an rx chain;
 * 1 with *len the bytes written, 0 when there was none, -EINVAL for a chain that cannot
 * take one (device-readable, or shorter than a header).
 */
void vsock_tx_chain(struct vsock_mux *m, const struct virtq_chain *c);
int vsock_rx_chain(struct vsock_mux *m, const struct virtq_chain *c, uint32_t *len) MUST_CHECK;

#endif
