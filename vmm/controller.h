/* The VM controller: the pending configuration, its changes validated, and the VM's state. */
#ifndef KILN_CONTROLLER_H
#define KILN_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "error.h"

enum vm_state { VM_NOT_STARTED, VM_RUNNING, VM_PAUSED };

/*
 * What the controller asks of the process that owns the machine (main.c): build and run
 * the machine from ctl->cfg, pause or resume its vCPUs, apply a new logger or metrics
 * section. Each returns 0 or -errno with err set. A NULL operation is not available.
 */
struct controller_ops {
	int (*start)(void *opaque, struct error *err);
	int (*pause)(void *opaque, struct error *err);
	int (*resume)(void *opaque, struct error *err);
	int (*flush_metrics)(void *opaque, struct error *err);
	int (*ctrl_alt_del)(void *opaque, struct error *err);
	int (*apply_logger)(void *opaque, struct error *err);
	int (*apply_metrics)(void *opaque, struct error *err);
	/*
	 * PATCH /drives/{id} after the start: drive `index` of cfg becomes `d` (its new
	 * path_on_host opened and swapped in when `path`; its new rate_limiter applied when
	 * `bandwidth` or `ops` says that bucket is new, such buckets starting full).
	 */
	int (*update_drive)(void *opaque, unsigned int index, const struct drive_config *d,
			    bool path, bool bandwidth, bool ops, struct error *err);
	/*
	 * PATCH /network-interfaces/{id} after the start: interface `index` of cfg becomes
	 * `n`, the rate limiters `u` names a bucket of replaced.
	 */
	int (*update_net)(void *opaque, unsigned int index, const struct net_config *n,
			  const struct net_update *u, struct error *err);
};

struct controller {
	struct vm_config cfg;		/* pending before the start, the machine's after */
	enum vm_state state;
	bool metrics_applied;		/* metrics can be set once, as in Firecracker */
	const struct controller_ops *ops;
	void *opaque;
	const char *id;			/* the instance id (--id) */
};

/* Firecracker's texts for an operation in the wrong state. */
#define CTL_ERR_AFTER_START "The requested operation is not supported after starting the microVM."
#define CTL_ERR_BEFORE_START "The requested operation is not supported before starting the microVM."

/* cfg set to its defaults; ops may be NULL (unit tests: every operation unavailable). */
void ctl_init(struct controller *ctl, const struct controller_ops *ops, void *opaque,
	      const char *id);
void ctl_free(struct controller *ctl);
/* One section from a request body: pre-boot only (-EBUSY after), validated by config.c. */
int ctl_configure(struct controller *ctl, enum config_section s, const char *id,
		  const char *json, size_t len, struct error *err) MUST_CHECK;
/*
 * PATCH /drives/{id}: after the start only. The body (Firecracker's partial drive) is
 * validated, the drive looked up, the machine changed (ops->update_drive), and only then
 * the configuration, so that GET /vm/config shows the drive as it is.
 */
int ctl_update_drive(struct controller *ctl, const char *id, const char *json, size_t len,
		     struct error *err) MUST_CHECK;
/*
 * PATCH /network-interfaces/{id}: after the start only; Firecracker's body (iface_id and
 * the rate limiters). Validated, applied to the machine, then to the configuration.
 */
int ctl_update_net(struct controller *ctl, const char *id, const char *json, size_t len,
		   struct error *err) MUST_CHECK;
/* InstanceStart: once, from the pending configuration. */
int ctl_start(struct controller *ctl, struct error *err) MUST_CHECK;
/* PATCH /vm: Paused and Resumed, after the start only. */
int ctl_pause(struct controller *ctl, struct error *err) MUST_CHECK;
int ctl_resume(struct controller *ctl, struct error *err) MUST_CHECK;
int ctl_flush_metrics(struct controller *ctl, struct error *err) MUST_CHECK;
int ctl_ctrl_alt_del(struct controller *ctl, struct error *err) MUST_CHECK;
/* "Not started", "Running", "Paused": GET / */
const char *ctl_state_name(enum vm_state s);

#endif
