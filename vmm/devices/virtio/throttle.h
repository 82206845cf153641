/*
 * A device's rate limiter on the event loop: the limiter decides, a timerfd (made when
 * the device is, before seccomp) wakes the device when the request it refused may pass.
 */
#ifndef KILN_VIRTIO_THROTTLE_H
#define KILN_VIRTIO_THROTTLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include "ratelimit.h"
#include "util.h"

struct throttle {
	struct rate_limiter rl;
	int timer_fd;			/* -1 without a limiter (unless made updatable) */
	bool limited;			/* a bucket is configured */
	bool waiting;			/* timer armed: leave the queue alone until it fires */
	atomic_ulong *throttled;	/* times a request had to wait */
	atomic_ulong *wakeups;		/* times the timer fired */
};

/*
 * Start the limiter `c` describes (no timer when it limits nothing); the counters may be
 * NULL. 0 or -errno (timerfd_create, or a configuration the limiter refuses).
 */
int throttle_init(struct throttle *t, const struct rate_limiter_config *c,
		  atomic_ulong *throttled, atomic_ulong *wakeups) MUST_CHECK;
/*
 * throttle_init for a limiter that may be replaced while the device runs
 * (throttle_update): its timer is made now, even when it limits nothing yet, because
 * no timer can be made once the thread is filtered.
 */
int throttle_init_updatable(struct throttle *t, const struct rate_limiter_config *c,
			    atomic_ulong *throttled, atomic_ulong *wakeups) MUST_CHECK;
void throttle_fini(struct throttle *t);

/*
 * Replace the limiter with `c` (lock held), for a throttle_init_updatable one: the
 * buckets `bandwidth` and `ops` say are new start full, the others keep their state. A
 * request that was waiting is retried at once by the device (throttle_waiting false).
 * 0, or -errno with the old limiter kept (a configuration the limiter refuses, no timer).
 */
int throttle_update(struct throttle *t, const struct rate_limiter_config *c, bool bandwidth,
		    bool ops) MUST_CHECK;

/* Whether the device must leave its queue alone until the timer fires (lock held). */
static inline bool throttle_waiting(const struct throttle *t)
{
	return t->waiting;
}

/* Whether there is a limiter at all: only then is a request's cost worth computing. */
static inline bool throttle_active(const struct throttle *t)
{
	return t->limited;
}

/*
 * Take a request's cost (lock held): 0 to serve it now; -EAGAIN when it must wait, the
 * timer then armed for when it can pass and throttle_waiting true until it fires.
 * `label` names the device in the log line if the timer cannot be armed.
 */
int throttle_take(struct throttle *t, uint64_t bytes, uint64_t ops, const char *label)
	MUST_CHECK;

/*
 * The timer's fd became readable (lock held): drain it; once it has expired, the device
 * may go on (throttle_waiting false).
 */
void throttle_fired(struct throttle *t, const char *label);

#endif
