/* The VM controller: the pending configuration, its changes validated, and the VM's state. */
#include "controller.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ctl_init(struct controller *ctl, const struct controller_ops *ops, void *opaque,
	      const char *id)
{
	static const struct controller_ops none;
	memset(ctl, 0, sizeof(*ctl));
	config_defaults(&ctl->cfg);
	ctl->ops = ops ? ops : &none;
	ctl->opaque = opaque;
	ctl->id = id;
}

void ctl_free(struct controller *ctl)
{
	config_free(&ctl->cfg);
}

const char *ctl_state_name(enum vm_state s)
{
	switch (s) {
	case VM_RUNNING: return "Running";
	case VM_PAUSED: return "Paused";
	default: return "Not started";
	}
}

static int unavailable(const char *what, struct error *err)
{
	return error_set(err, -ENOTSUP, "%s: not supported by this kiln", what);
}

int ctl_configure(struct controller *ctl, enum config_section s, const char *id,
		  const char *json, size_t len, struct error *err)
{
	int ret;

	if (ctl->state != VM_NOT_STARTED)
		return error_set(err, -EBUSY, CTL_ERR_AFTER_START);
	if (s == CONFIG_METRICS && ctl->metrics_applied)
		return error_set(err, -EEXIST, "metrics: Reinitialization of metrics not allowed.");
	/* Applied to a copy of the section's state only when the operation behind it works. */
	struct logger_config old_logger = ctl->cfg.logger;
	bool had_logger = ctl->cfg.has_logger;
	if (s == CONFIG_LOGGER)
		ctl->cfg.logger.log_path = NULL;	/* kept in old_logger until committed */
	ret = config_apply_json(&ctl->cfg, s, id, json, len, err);
	if (s == CONFIG_LOGGER) {
		if (ret == 0 && ctl->ops->apply_logger &&
		    (ret = ctl->ops->apply_logger(ctl->opaque, err)) < 0) {
			free(ctl->cfg.logger.log_path);
			ctl->cfg.logger = old_logger;
			ctl->cfg.has_logger = had_logger;
			return ret;
		}
		if (ret < 0) {
			ctl->cfg.logger.log_path = old_logger.log_path;
			return ret;
		}
		free(old_logger.log_path);
		return 0;
	}
	if (ret == 0 && s == CONFIG_METRICS && ctl->ops->apply_metrics) {
		if ((ret = ctl->ops->apply_metrics(ctl->opaque, err)) < 0)
			return ret;
		ctl->metrics_applied = true;
	}
	return ret;
}

int ctl_update_drive(struct controller *ctl, const char *id, const char *json, size_t len,
		     struct error *err)
{
	static struct drive_update u;	/* 4 KiB of path: one request at a time, main thread */
	unsigned int i;
	int ret;

	if (ctl->state == VM_NOT_STARTED)
		return error_set(err, -EBUSY, CTL_ERR_BEFORE_START);
	if ((ret = config_parse_drive_update(id, json, len, &u, err)) < 0)
		return ret;
	for (i = 0; i < ctl->cfg.nr_drives; i++)
		if (strcmp(ctl->cfg.drives[i].drive_id, id) == 0)
			break;
	/* The id was checked by the parser: only A-Z a-z 0-9 _ -. */
	if (i == ctl->cfg.nr_drives)
		return error_set(err, -ENOENT, "drives[%s]: no such drive", id);
	if (!ctl->ops->update_drive)
		return unavailable("PATCH /drives", err);
	/* The drive as it is to become: the old one, with what the body changes. */
	struct drive_config d = ctl->cfg.drives[i];
	if (u.has_path)
		d.path_on_host = u.path_on_host;
	if (u.has_bandwidth)
		d.rate_limiter.bandwidth = u.rate_limiter.bandwidth;
	if (u.has_ops)
		d.rate_limiter.ops = u.rate_limiter.ops;
	ret = ctl->ops->update_drive(ctl->opaque, i, &d, u.has_path, u.has_bandwidth, u.has_ops,
				     err);
	if (ret < 0)
		return ret;
	/* ctl_start made room for any path in each drive's string. */
	if (u.has_path)
		memcpy(ctl->cfg.drives[i].path_on_host, u.path_on_host,
		       strlen(u.path_on_host) + 1);
	ctl->cfg.drives[i].rate_limiter = d.rate_limiter;
	return 0;
}

int ctl_update_net(struct controller *ctl, const char *id, const char *json, size_t len,
		   struct error *err)
{
	struct net_update u;
	unsigned int i;
	int ret;

	if (ctl->state == VM_NOT_STARTED)
		return error_set(err, -EBUSY, CTL_ERR_BEFORE_START);
	if ((ret = config_parse_net_update(id, json, len, &u, err)) < 0)
		return ret;
	for (i = 0; i < ctl->cfg.nr_nets; i++)
		if (strcmp(ctl->cfg.nets[i].iface_id, id) == 0)
			break;
	if (i == ctl->cfg.nr_nets)
		return error_set(err, -ENOENT, "network-interfaces[%s]: no such interface", id);
	if (!ctl->ops->update_net)
		return unavailable("PATCH /network-interfaces", err);
	struct net_config n = ctl->cfg.nets[i];
	if (u.has_rx_bandwidth)
		n.rx_rate_limiter.bandwidth = u.rx_rate_limiter.bandwidth;
	if (u.has_rx_ops)
		n.rx_rate_limiter.ops = u.rx_rate_limiter.ops;
	if (u.has_tx_bandwidth)
		n.tx_rate_limiter.bandwidth = u.tx_rate_limiter.bandwidth;
	if (u.has_tx_ops)
		n.tx_rate_limiter.ops = u.tx_rate_limiter.ops;
	if ((ret = ctl->ops->update_net(ctl->opaque, i, &n, &u, err)) < 0)
		return ret;
	ctl->cfg.nets[i].rx_rate_limiter = n.rx_rate_limiter;
	ctl->cfg.nets[i].tx_rate_limiter = n.tx_rate_limiter;
	return 0;
}

/*
 * Each drive's path_on_host gets room for any path (CONFIG_PATH_MAX), so that PATCH
 * /drives can replace it once the VM runs, when this thread no longer allocates.
 */
static int room_for_paths(struct vm_config *cfg, struct error *err)
{
	for (unsigned int i = 0; i < cfg->nr_drives; i++) {
		char *p = realloc(cfg->drives[i].path_on_host, CONFIG_PATH_MAX);
		if (!p)
			return error_set(err, -ENOMEM, "drives[%u]: out of memory", i);
		cfg->drives[i].path_on_host = p;
	}
	return 0;
}

int ctl_start(struct controller *ctl, struct error *err)
{
	int ret;

	if (ctl->state != VM_NOT_STARTED)
		return error_set(err, -EBUSY, CTL_ERR_AFTER_START);
	if (!ctl->cfg.boot.kernel_image_path)
		return error_set(err, -EINVAL, "boot-source: missing required section (PUT "
				 "/boot-source before InstanceStart)");
	if (!ctl->ops->start)
		return unavailable("InstanceStart", err);
	if ((ret = room_for_paths(&ctl->cfg, err)) < 0)
		return ret;
	if ((ret = ctl->ops->start(ctl->opaque, err)) < 0)
		return ret;
	ctl->state = VM_RUNNING;
	return 0;
}

int ctl_pause(struct controller *ctl, struct error *err)
{
	int ret;

	if (ctl->state == VM_NOT_STARTED)
		return error_set(err, -EBUSY, CTL_ERR_BEFORE_START);
	if (ctl->state == VM_PAUSED)
		return 0;
	if (!ctl->ops->pause)
		return unavailable("vm.state Paused", err);
	if ((ret = ctl->ops->pause(ctl->opaque, err)) < 0)
		return ret;
	ctl->state = VM_PAUSED;
	return 0;
}

int ctl_resume(struct controller *ctl, struct error *err)
{
	int ret;

	if (ctl->state == VM_NOT_STARTED)
		return error_set(err, -EBUSY, CTL_ERR_BEFORE_START);
	if (ctl->state == VM_RUNNING)
		return 0;
	if (!ctl->ops->resume)
		return unavailable("vm.state Resumed", err);
	if ((ret = ctl->ops->resume(ctl->opaque, err)) < 0)
		return ret;
	ctl->state = VM_RUNNING;
	return 0;
}

int ctl_flush_metrics(struct controller *ctl, struct error *err)
{
	if (!ctl->ops->flush_metrics)
		return unavailable("FlushMetrics", err);
	return ctl->ops->flush_metrics(ctl->opaque, err);
}

int ctl_ctrl_alt_del(struct controller *ctl, struct error *err)
{
	if (ctl->state == VM_NOT_STARTED)
		return error_set(err, -EBUSY, CTL_ERR_BEFORE_START);
	if (!ctl->ops->ctrl_alt_del)
		return unavailable("SendCtrlAltDel", err);
	return ctl->ops->ctrl_alt_del(ctl->opaque, err);
}
