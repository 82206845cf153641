/*
 * Firecracker's rate limiter: two optional token buckets, bandwidth (bytes) and ops
 * (requests). Pure arithmetic on a monotonic time the caller passes in (ns): no system
 * calls and no allocation, so it can be tested with a made-up clock.
 */
#ifndef KILN_RATELIMIT_H
#define KILN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include "util.h"

/* The largest refill_time (ms) whose nanoseconds still fit in 64 bits. */
#define TOKEN_BUCKET_REFILL_MS_MAX (UINT64_MAX / 1000000)

/* One bucket as configured: size 0 means no bucket (no limit on that resource). */
struct token_bucket_config {
	uint64_t size;			/* tokens when full */
	uint64_t one_time_burst;	/* extra tokens at the start, never refilled (0: none) */
	uint64_t refill_time_ms;	/* time to refill `size` tokens from empty */
};

/* `rate_limiter` of a drive or of the entropy device. */
struct rate_limiter_config {
	struct token_bucket_config bandwidth;	/* bytes */
	struct token_bucket_config ops;		/* requests */
};

/*
 * A bucket's state. Tokens refill continuously at size per refill_time; `frac` keeps the
 * part of a token earned but not yet whole (in units of 1/refill_ns token), so no time
 * is ever lost to rounding. `since_ns` may lie in the future: a request larger than the
 * bucket was let through on credit, and refilling starts once that debt is paid.
 */
struct token_bucket {
	uint64_t size;
	uint64_t one_time_burst;	/* what is left of it */
	uint64_t refill_ns;
	uint64_t budget;
	uint64_t frac;
	uint64_t since_ns;		/* the time budget and frac are valid for */
};

struct rate_limiter {
	struct token_bucket bandwidth;
	struct token_bucket ops;
};

/* Whether the configuration asks for any limit at all. */
bool rate_limiter_config_active(const struct rate_limiter_config *c);

/*
 * Start a limiter as configured, its buckets full, at time now_ns. -EINVAL when a bucket
 * has a size but no refill_time, -ERANGE when refill_time is above
 * TOKEN_BUCKET_REFILL_MS_MAX; the limiter then lets everything through.
 */
int rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *c,
		      uint64_t now_ns) MUST_CHECK;

/* Whether any bucket is configured (else consume always succeeds). */
bool rate_limiter_active(const struct rate_limiter *rl);

/*
 * Take `bytes` from the bandwidth bucket and `ops` from the ops bucket, both or neither.
 * Returns 0 when taken; -EAGAIN when a bucket lacks the tokens, with *wait_ns (if not
 * NULL) the time until this same request would pass (at least 1). one_time_burst tokens
 * go first. A request larger than a bucket's size is let through whenever that bucket
 * owes nothing: it empties the bucket and the excess is a debt, repaid at the refill rate
 * before the bucket lets anything else through, so it never blocks for ever and the
 * long-run rate still holds.
 */
int rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops,
			 uint64_t now_ns, uint64_t *wait_ns) MUST_CHECK;

/* The tokens a bucket holds at now_ns, one_time_burst included (for tests and logs). */
uint64_t token_bucket_available(struct token_bucket *b, uint64_t now_ns);

#endif
