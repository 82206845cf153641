/* The virtio devices a VM's configuration asks for, created and placed in a fixed order. */
#include "devices.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/net.h"
#include "backends/vsock_uds.h"
#include "io.h"
#include "log.h"
#include "metrics.h"
#include "vm.h"

static int add(struct virtio_devices *d, struct virtio_dev *dev, struct error *err)
{
	struct virtio_mmio *t = &d->transports[d->nr];
	int ret = virtio_mmio_init(t, dev);

	d->devs[d->nr++] = dev;
	if (ret < 0)
		return error_set(err, ret, "%s: eventfd: %s", dev->label, strerror(-ret));
	t->needs_reset_count = &d->needs_reset_count;
	return 0;
}

/* An image whose size is not whole sectors: the tail is never read or written. */
static void warn_partial_sector(const char *key, const char *path, uint64_t size)
{
	if (size % VIRTIO_BLK_SECTOR)
		log_warn("%s: %s: %llu bytes is not a multiple of %d; the last %llu bytes are not "
			 "used", key, path, (unsigned long long)size, VIRTIO_BLK_SECTOR,
			 (unsigned long long)(size % VIRTIO_BLK_SECTOR));
}

int virtio_drive_backend(const struct drive_config *dc, unsigned int index, int fd,
			 uint64_t *size, struct backend **out, struct error *err)
{
	char key[48];
	int ret;

	snprintf(key, sizeof(key), "drives[%u].path_on_host", index);
	if (fd < 0 && (fd = backend_open_image(key, dc->path_on_host, dc->is_read_only, size,
					       err)) < 0)
		return fd;
	warn_partial_sector(key, dc->path_on_host, *size);
	if (dc->io_engine == DRIVE_ENGINE_ASYNC)
		ret = backend_uring_create(fd, VIRTIO_BLK_QUEUE_SIZE, out);
	else
		ret = backend_file_create(fd, out);
	if (ret < 0)
		return error_set(err, ret, "drives[%u].io_engine: %s: %s", index,
				 dc->io_engine == DRIVE_ENGINE_ASYNC ? "Async (io_uring)" : "Sync",
				 strerror(-ret));
	return 0;
}

static int add_drive(struct virtio_devices *d, struct vm *vm, const struct vm_config *cfg,
		     unsigned int i, struct error *err)
{
	struct virtio_dev *dev;
	struct backend *be;
	int fd = -1;
	uint64_t size = 0;

	if (i < d->nr_drive_fds) {
		fd = d->drive_fds[i];
		size = d->drive_sizes[i];
		d->drive_fds[i] = -1;	/* the backend owns it now */
	}
	int ret = virtio_drive_backend(&cfg->drives[i], i, fd, &size, &be, err);
	if (ret < 0)
		return ret;
	ret = virtio_blk_create(&cfg->drives[i], i, be, size, &vm->mem, &d->blk_stats, &dev, err);
	if (ret < 0)
		return ret;
	d->drive_devs[i] = dev;
	return add(d, dev, err);
}

int virtio_devices_update_drive(struct virtio_devices *d, unsigned int index,
				const struct drive_config *dc, bool path, bool bandwidth, bool ops,
				struct error *err)
{
	char key[CONFIG_DRIVE_ID_MAX + 32];
	uint64_t size = 0;
	int fd = -1, ret;

	if (index >= CONFIG_MAX_DRIVES || !d->drive_devs[index])
		return error_set(err, -ENODEV, "drives[%s]: no such device", dc->drive_id);
	if (path) {
		snprintf(key, sizeof(key), "drives[%s].path_on_host", dc->drive_id);
		fd = backend_open_image(key, dc->path_on_host, dc->is_read_only, &size, err);
		if (fd < 0) {
			atomic_fetch_add(&d->blk_stats.update_fails, 1);
			return fd;
		}
		warn_partial_sector(key, dc->path_on_host, size);
	}
	ret = virtio_blk_update(d->drive_devs[index], fd, size, bandwidth || ops ? &dc->rate_limiter : NULL,
				bandwidth, ops, err);
	atomic_fetch_add(ret < 0 ? &d->blk_stats.update_fails : &d->blk_stats.updates, 1);
	return ret;
}

int virtio_devices_update_net(struct virtio_devices *d, unsigned int index,
			      const struct net_config *nc, const struct net_update *u,
			      struct error *err)
{
	if (index >= CONFIG_MAX_NETS || !d->net_devs[index])
		return error_set(err, -ENODEV, "network-interfaces[%s]: no such device",
				 nc->iface_id);
	return virtio_net_update(d->net_devs[index], nc, u, err);
}

static int open_tap(const struct vm_config *cfg, unsigned int i, struct net_backend **out,
		    struct error *err)
{
	char key[48];

	snprintf(key, sizeof(key), "network-interfaces[%u].host_dev_name", i);
	return net_tap_open(key, cfg->nets[i].host_dev_name, out, err);
}

static int add_net(struct virtio_devices *d, struct vm *vm, const struct vm_config *cfg,
		   unsigned int i, struct error *err)
{
	struct net_backend *be = d->net_bes[i];
	struct virtio_dev *dev;
	int ret;

	d->net_bes[i] = NULL;	/* the device owns it now, also on failure */
	if (!be && (ret = open_tap(cfg, i, &be, err)) < 0)
		return ret;
	if ((ret = virtio_net_create(&cfg->nets[i], i, be, &vm->mem, &d->net_stats, &dev,
				     err)) < 0)
		return ret;
	d->net_devs[i] = dev;
	return add(d, dev, err);
}

static void close_drive_fds(struct virtio_devices *d)
{
	for (unsigned int i = 0; i < d->nr_drive_fds; i++) {
		close_quietly(d->drive_fds[i]);
		d->drive_fds[i] = -1;
	}
	d->nr_drive_fds = 0;
	vsock_uds_destroy(d->vsock_be);
	d->vsock_be = NULL;
	for (unsigned int i = 0; i < CONFIG_MAX_NETS; i++) {
		net_backend_destroy(d->net_bes[i]);
		d->net_bes[i] = NULL;
	}
}

int virtio_devices_open(struct virtio_devices *d, const struct vm_config *cfg,
			struct error *err)
{
	char key[48];

	memset(d, 0, sizeof(*d));
	for (unsigned int i = 0; i < cfg->nr_drives; i++) {
		const struct drive_config *dc = &cfg->drives[i];
		snprintf(key, sizeof(key), "drives[%u].path_on_host", i);
		int fd = backend_open_image(key, dc->path_on_host, dc->is_read_only,
					    &d->drive_sizes[i], err);
		if (fd < 0) {
			close_drive_fds(d);
			return fd;
		}
		d->drive_fds[i] = fd;
		d->nr_drive_fds = i + 1;
	}
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		int ret = open_tap(cfg, i, &d->net_bes[i], err);
		if (ret < 0) {
			close_drive_fds(d);
			return ret;
		}
	}
	if (cfg->has_vsock) {
		int ret = vsock_uds_open("vsock.uds_path", cfg->vsock.uds_path, &d->vsock_be, err);
		if (ret < 0) {
			close_drive_fds(d);
			return ret;
		}
	}
	return 0;
}

static int register_metrics(struct virtio_devices *d, struct metrics *m)
{
	struct blk_stats *b = &d->blk_stats;
	int ret = 0;

	ret |= metrics_add(m, "block", "read_count", &b->read_count);
	ret |= metrics_add(m, "block", "write_count", &b->write_count);
	ret |= metrics_add(m, "block", "flush_count", &b->flush_count);
	ret |= metrics_add(m, "block", "get_id_count", &b->get_id_count);
	ret |= metrics_add(m, "block", "read_bytes", &b->read_bytes);
	ret |= metrics_add(m, "block", "write_bytes", &b->write_bytes);
	ret |= metrics_add(m, "block", "io_errors", &b->io_errors);
	ret |= metrics_add(m, "block", "invalid_reqs_count", &b->invalid_reqs);
	ret |= metrics_add(m, "block", "rate_limiter_throttled_events", &b->throttled);
	ret |= metrics_add(m, "block", "rate_limiter_event_count", &b->throttle_wakeups);
	ret |= metrics_add(m, "block", "update_count", &b->updates);
	ret |= metrics_add(m, "block", "update_fails", &b->update_fails);
	ret |= metrics_add(m, "entropy", "entropy_bytes", &d->rng_stats.entropy_bytes);
	ret |= metrics_add(m, "entropy", "entropy_count", &d->rng_stats.entropy_count);
	ret |= metrics_add(m, "entropy", "host_rng_fails", &d->rng_stats.host_rng_fails);
	ret |= metrics_add(m, "entropy", "entropy_rate_limiter_throttled",
			   &d->rng_stats.throttled);
	ret |= metrics_add(m, "entropy", "rate_limiter_event_count",
			   &d->rng_stats.throttle_wakeups);
	ret |= metrics_add(m, "vsock", "conns_added", &d->vsock_stats.conns_added);
	ret |= metrics_add(m, "vsock", "conns_refused", &d->vsock_stats.conns_refused);
	ret |= metrics_add(m, "vsock", "rst_sent", &d->vsock_stats.rst_sent);
	ret |= metrics_add(m, "vsock", "rx_bytes_count", &d->vsock_stats.rx_bytes);
	ret |= metrics_add(m, "vsock", "tx_bytes_count", &d->vsock_stats.tx_bytes);
	ret |= metrics_add(m, "vsock", "bad_packets", &d->vsock_stats.bad_packets);
	ret |= metrics_add(m, "vsock", "credit_violations", &d->vsock_stats.credit_violations);
	ret |= metrics_add(m, "vsock", "requests_timed_out", &d->vsock_stats.requests_timed_out);
	struct net_stats *n = &d->net_stats;
	ret |= metrics_add(m, "net", "rx_bytes_count", &n->rx_bytes);
	ret |= metrics_add(m, "net", "rx_packets_count", &n->rx_packets);
	ret |= metrics_add(m, "net", "rx_fails", &n->rx_fails);
	ret |= metrics_add(m, "net", "tx_bytes_count", &n->tx_bytes);
	ret |= metrics_add(m, "net", "tx_packets_count", &n->tx_packets);
	ret |= metrics_add(m, "net", "tx_fails", &n->tx_fails);
	ret |= metrics_add(m, "net", "tx_malformed_frames", &n->tx_malformed);
	ret |= metrics_add(m, "net", "rx_rate_limiter_throttled", &n->rx_throttled);
	ret |= metrics_add(m, "net", "tx_rate_limiter_throttled", &n->tx_throttled);
	ret |= metrics_add(m, "net", "rx_rate_limiter_event_count", &n->rx_throttle_wakeups);
	ret |= metrics_add(m, "net", "tx_rate_limiter_event_count", &n->tx_throttle_wakeups);
	ret |= metrics_add(m, "net", "tap_read_fails", &n->tap_read_fails);
	ret |= metrics_add(m, "net", "tap_write_fails", &n->tap_write_fails);
	ret |= metrics_add(m, "virtio", "device_needs_reset_count", &d->needs_reset_count);
	return ret;
}

int virtio_devices_create(struct virtio_devices *d, struct vm *vm, const struct vm_config *cfg,
			  struct metrics *metrics, struct error *err)
{
	int root = -1, ret;

	for (unsigned int i = 0; i < cfg->nr_drives; i++)
		if (cfg->drives[i].is_root_device)
			root = (int)i;
	/* Linux names virtio disks in probe order: the root drive comes first, as vda. */
	if (root >= 0 && (ret = add_drive(d, vm, cfg, (unsigned int)root, err)) < 0)
		return ret;
	for (unsigned int i = 0; i < cfg->nr_drives; i++)
		if ((int)i != root && (ret = add_drive(d, vm, cfg, i, err)) < 0)
			return ret;
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		if ((ret = add_net(d, vm, cfg, i, err)) < 0)
			return ret;
	if (cfg->has_entropy) {
		struct virtio_dev *dev;
		if ((ret = virtio_rng_create(&vm->mem, &cfg->entropy_rate_limiter, &d->rng_stats,
					     &dev, err)) < 0 ||
		    (ret = add(d, dev, err)) < 0)
			return ret;
	}
	if (cfg->has_vsock) {
		struct virtio_dev *dev;
		if (!d->vsock_be &&
		    (ret = vsock_uds_open("vsock.uds_path", cfg->vsock.uds_path, &d->vsock_be,
					  err)) < 0)
			return ret;
		struct vsock_uds *be = d->vsock_be;
		d->vsock_be = NULL;	/* the device owns it now, also on failure */
		if ((ret = virtio_vsock_create(&vm->mem, cfg->vsock.guest_cid, be, &d->vsock_stats,
					       &dev, err)) < 0 ||
		    (ret = add(d, dev, err)) < 0)
			return ret;
	}
	if (d->nr && metrics && register_metrics(d, metrics) < 0)
		return error_set(err, -ENOSPC, "too many metrics");
	if (root >= 0) {
		const struct drive_config *r = &cfg->drives[root];
		if (r->partuuid)
			cmdline_append(&vm->cmdline, "root=PARTUUID=%s", r->partuuid);
		else
			cmdline_append(&vm->cmdline, "root=/dev/vda");
		cmdline_append(&vm->cmdline, "%s", r->is_read_only ? "ro" : "rw");
	}
	return 0;
}

int virtio_devices_place(struct virtio_devices *d, struct vm *vm, struct error *err)
{
	for (unsigned int i = 0; i < d->nr; i++) {
		int ret = virtio_mmio_place(&d->transports[i], vm, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int virtio_devices_attach(struct virtio_devices *d, struct evloop *loop)
{
	for (unsigned int i = 0; i < d->nr; i++) {
		int ret = virtio_mmio_attach(&d->transports[i], loop);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void virtio_devices_destroy(struct virtio_devices *d)
{
	for (unsigned int i = 0; i < d->nr; i++) {
		virtio_mmio_destroy(&d->transports[i]);
		d->devs[i]->ops->destroy(d->devs[i]);
		d->devs[i] = NULL;
	}
	d->nr = 0;
	close_drive_fds(d);
}
