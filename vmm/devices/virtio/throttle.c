/* A device's rate limiter on the event loop: the limiter decides, a timerfd wakes the device. */
#include "throttle.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* The timer exists when a limit does, or always when a limit may come later. */
static int init(struct throttle *t, const struct rate_limiter_config *c, atomic_ulong *throttled,
		atomic_ulong *wakeups, bool always_timer)
{
	bool active = rate_limiter_config_active(c);
	int ret;

	memset(t, 0, sizeof(*t));
	t->timer_fd = -1;
	t->throttled = throttled;
	t->wakeups = wakeups;
	if (active && (ret = rate_limiter_init(&t->rl, c, now_ns())) < 0)
		return ret;
	if ((active || always_timer) &&
	    (t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
		return -errno;
	t->limited = active;
	return 0;
}

int throttle_init(struct throttle *t, const struct rate_limiter_config *c,
		  atomic_ulong *throttled, atomic_ulong *wakeups)
{
	return init(t, c, throttled, wakeups, false);
}

int throttle_init_updatable(struct throttle *t, const struct rate_limiter_config *c,
			    atomic_ulong *throttled, atomic_ulong *wakeups)
{
	return init(t, c, throttled, wakeups, true);
}

int throttle_update(struct throttle *t, const struct rate_limiter_config *c, bool bandwidth,
		    bool ops)
{
	struct rate_limiter rl;
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };

	if (t->timer_fd < 0)
		return -ENOTSUP;
	int ret = rate_limiter_init(&rl, c, now_ns());
	if (ret < 0)
		return ret;
	if (!bandwidth)
		rl.bandwidth = t->rl.bandwidth;
	if (!ops)
		rl.ops = t->rl.ops;
	if (t->waiting && timerfd_settime(t->timer_fd, 0, &off, NULL) < 0)
		return -errno;
	t->rl = rl;
	t->limited = rate_limiter_active(&t->rl);
	t->waiting = false;
	return 0;
}

void throttle_fini(struct throttle *t)
{
	if (t->timer_fd >= 0)
		close(t->timer_fd);
	t->timer_fd = -1;
}

int throttle_take(struct throttle *t, uint64_t bytes, uint64_t ops, const char *label)
{
	uint64_t wait;

	if (!t->limited)
		return 0;
	if (t->waiting)
		return -EAGAIN;
	if (rate_limiter_consume(&t->rl, bytes, ops, now_ns(), &wait) == 0)
		return 0;
	struct itimerspec its = {
		.it_value = { (time_t)(wait / 1000000000), (long)(wait % 1000000000) },
	};
	if (timerfd_settime(t->timer_fd, 0, &its, NULL) < 0) {
		/* Nothing would wake the device: let the request through rather than hang. */
		log_ratelimited(LOG_ERROR, "%s: rate limiter timer: %m", label);
		return 0;
	}
	t->waiting = true;
	if (t->throttled)
		atomic_fetch_add(t->throttled, 1);
	return -EAGAIN;
}

void throttle_fired(struct throttle *t, const char *label)
{
	uint64_t n;

	if (read(t->timer_fd, &n, sizeof(n)) < 0) {
		if (errno == EAGAIN)
			return;		/* not expired after all: still waiting */
		log_ratelimited(LOG_WARN, "%s: rate limiter timer: %m", label);
	}
	t->waiting = false;
	if (t->wakeups)
		atomic_fetch_add(t->wakeups, 1);
}
