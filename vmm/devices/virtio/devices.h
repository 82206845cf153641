/* The virtio devices a VM's configuration asks for, created and placed in a fixed order. */
#ifndef KILN_VIRTIO_DEVICES_H
#define KILN_VIRTIO_DEVICES_H

#include <stdatomic.h>
#include "blk.h"
#include "config.h"
#include "error.h"
#include "mmio.h"
#include "net.h"
#include "rng.h"
#include "vsock.h"

#define VIRTIO_DEVICES_MAX (CONFIG_MAX_DRIVES + CONFIG_MAX_NETS + 2)

struct vm;
struct metrics;
struct backend;
struct evloop;
struct vsock_uds;
struct net_backend;

struct virtio_devices {
	struct virtio_dev *devs[VIRTIO_DEVICES_MAX];
	struct virtio_mmio transports[VIRTIO_DEVICES_MAX];
	unsigned int nr;
	struct virtio_dev *drive_devs[CONFIG_MAX_DRIVES];	/* by index in cfg->drives */
	struct virtio_dev *net_devs[CONFIG_MAX_NETS];		/* by index in cfg->nets */
	struct blk_stats blk_stats;
	struct net_stats net_stats;
	struct rng_stats rng_stats;
	struct vsock_stats vsock_stats;
	atomic_ulong needs_reset_count;
	/* Drive images from virtio_devices_open, -1 once a device owns its fd. */
	int drive_fds[CONFIG_MAX_DRIVES];
	uint64_t drive_sizes[CONFIG_MAX_DRIVES];
	unsigned int nr_drive_fds;
	/* The vsock listener from virtio_devices_open, NULL once the device owns it. */
	struct vsock_uds *vsock_be;
	/* The TAPs from virtio_devices_open, NULL once a device owns one. */
	struct net_backend *net_bes[CONFIG_MAX_NETS];
};

/*
 * Before any guest memory exists: open every drive's image (regular files only; a
 * writable drive must be writable), every interface's TAP and bind the vsock socket, so
 * that a bad drive, TAP or uds_path is refused before the VM is built. Starts d afresh.
 * Errors name "drives[i].path_on_host", "network-interfaces[i].host_dev_name" or
 * "vsock.uds_path".
 */
int virtio_devices_open(struct virtio_devices *d, const struct vm_config *cfg,
			struct error *err) MUST_CHECK;

/*
 * Create every device on the images and TAPs virtio_devices_open opened (without it they
 * are opened here): the root drive first, so that it is /dev/vda; then the other drives
 * in config order; then the interfaces in config order (the first is the guest's eth0);
 * then virtio-rng and virtio-vsock. Registers their metrics and appends root= and rw/ro
 * for a root drive. Errors are configuration errors naming the key
 * ("drives[1].path_on_host: ...").
 */
int virtio_devices_create(struct virtio_devices *d, struct vm *vm, const struct vm_config *cfg,
			  struct metrics *metrics, struct error *err) MUST_CHECK;
/*
 * The backend drive `index` is served by: its image (`fd` of `*size` bytes from
 * virtio_devices_open, owned from here, even on error; -1 to open it now, errors naming
 * "drives[index].path_on_host", setting *size) behind the engine its io_engine names.
 */
int virtio_drive_backend(const struct drive_config *dc, unsigned int index, int fd,
			 uint64_t *size, struct backend **out, struct error *err) MUST_CHECK;
/* Place each device on the MMIO bus with its IRQ, irqfd, ioeventfds and command-line entry. */
int virtio_devices_place(struct virtio_devices *d, struct vm *vm, struct error *err) MUST_CHECK;
/* Register the devices' fds (kicks, engine completions) on the main loop. */
int virtio_devices_attach(struct virtio_devices *d, struct evloop *loop) MUST_CHECK;
/*
 * PATCH /drives/{id} after the start, for drive `index` of the configuration, `d` being
 * that drive as it is to become: with `path`, its path_on_host is opened (as at the
 * start: regular files only, read-only unless the drive is writable) and replaces the
 * device's image, the guest told of the new size; with `bandwidth` and/or `ops`,
 * d->rate_limiter replaces the drive's limiter, those buckets starting full.
 * Errors name "drives[<id>].path_on_host" or the device; nothing changes then.
 */
int virtio_devices_update_drive(struct virtio_devices *d, unsigned int index,
				const struct drive_config *dc, bool path, bool bandwidth, bool ops,
				struct error *err) MUST_CHECK;
/*
 * PATCH /network-interfaces/{id} after the start, for interface `index` of the
 * configuration, `nc` being it as it is to become (see virtio_net_update).
 */
int virtio_devices_update_net(struct virtio_devices *d, unsigned int index,
			      const struct net_config *nc, const struct net_update *u,
			      struct error *err) MUST_CHECK;
/* Free everything, after the vCPUs stopped. */
void virtio_devices_destroy(struct virtio_devices *d);

#endif
