/* virtio-rng: the guest's hardware random number generator, filled from getrandom(). */
#ifndef KILN_VIRTIO_RNG_H
#define KILN_VIRTIO_RNG_H

#include <stdatomic.h>
#include "error.h"
#include "ratelimit.h"
#include "virtio.h"

#define VIRTIO_RNG_QUEUE_SIZE	256
#define VIRTIO_RNG_MAX_REQUEST	65536	/* bytes filled per request at most */

/* Counters ("entropy" in the metrics). */
struct rng_stats {
	atomic_ulong entropy_bytes;
	atomic_ulong entropy_count;	/* requests served */
	atomic_ulong host_rng_fails;
	atomic_ulong throttled;		/* the rate limiter held a request back */
	atomic_ulong throttle_wakeups;	/* its timer resumed the queue */
};

/* The entropy device, limited by `rl` (entropy.rate_limiter; sizes 0: no limit). */
int virtio_rng_create(const struct guest_mem *mem, const struct rate_limiter_config *rl,
		      struct rng_stats *stats, struct virtio_dev **out, struct error *err)
	MUST_CHECK;

#endif
