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
	int timer_fd;			/* -1 without a limiter */
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
void throttle_fini(struct throttle *t);

/* Whether the device must leave its queue alone until the timer fires (lock held). */
static inline bool throttle_waiting(const struct throttle *t)
{
	return t->waiting;
}

/* Whether there is a limiter at all: only then is a request's cost worth computing. */
static inline bool throttle_active(const struct throttle *t)
{
	return t->timer_fd >= 0;
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
