/* Firecracker's rate limiter: token buckets refilled continuously, on a clock passed in. */
#include "ratelimit.h"

#include <errno.h>
#include <string.h>

/* ceil(a / b), saturated to 64 bits. */
static uint64_t div_up(unsigned __int128 a, uint64_t b)
{
	unsigned __int128 q = (a + b - 1) / b;
	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	uint64_t r;
	return ADD_OVERFLOWS(a, b, &r) ? UINT64_MAX : r;
}

static int bucket_init(struct token_bucket *b, const struct token_bucket_config *c,
		       uint64_t now_ns)
{
	memset(b, 0, sizeof(*b));
	if (c->size == 0)
		return 0;
	if (c->refill_time_ms == 0)
		return -EINVAL;
	if (c->refill_time_ms > TOKEN_BUCKET_REFILL_MS_MAX)
		return -ERANGE;
	b->size = c->size;
	b->one_time_burst = c->one_time_burst;
	b->refill_ns = c->refill_time_ms * 1000000;
	b->budget = c->size;
	b->since_ns = now_ns;
	return 0;
}

/* Bring budget and frac up to now_ns (nothing while a debt is being repaid). */
static void replenish(struct token_bucket *b, uint64_t now_ns)
{
	if (now_ns <= b->since_ns)
		return;
	if (b->budget < b->size) {
		unsigned __int128 earned = (unsigned __int128)(now_ns - b->since_ns) * b->size +
					   b->frac;
		unsigned __int128 add = earned / b->refill_ns;
		if (add >= b->size - b->budget) {
			b->budget = b->size;
			b->frac = 0;
		} else {
			b->budget += (uint64_t)add;
			b->frac = (uint64_t)(earned % b->refill_ns);
		}
	}
	b->since_ns = now_ns;
}

/* What a bucket would do with a request for n tokens: take them (0) or wait (ns). */
struct plan {
	uint64_t burst;		/* from one_time_burst */
	uint64_t rest;		/* from the budget, or on credit when above it */
	uint64_t wait_ns;	/* 0: the request passes */
};

static struct plan bucket_plan(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	struct plan p = { 0 };

	if (b->size == 0)
		return p;
	p.burst = MIN(n, b->one_time_burst);
	p.rest = n - p.burst;
	if (p.rest == 0)
		return p;
	replenish(b, now_ns);
	if (now_ns < b->since_ns) {
		/* Repaying a debt: budget is 0 until since_ns, then refills from empty. */
		p.wait_ns = b->since_ns - now_ns;
		if (p.rest <= b->size)
			p.wait_ns = add_sat(p.wait_ns, div_up((unsigned __int128)p.rest *
							      b->refill_ns, b->size));
	} else if (p.rest > b->budget && p.rest <= b->size) {
		p.wait_ns = div_up((unsigned __int128)(p.rest - b->budget) * b->refill_ns -
				   b->frac, b->size);
	}
	return p;
}

static void bucket_take(struct token_bucket *b, const struct plan *p, uint64_t now_ns)
{
	b->one_time_burst -= p->burst;
	if (p->rest <= b->budget) {
		b->budget -= p->rest;
		return;
	}
	/* Larger than the bucket: empty it, and refill nothing until the excess is earned. */
	uint64_t debt = p->rest - b->budget;
	uint64_t repay = div_up((unsigned __int128)debt * b->refill_ns - b->frac, b->size);
	b->budget = 0;
	b->frac = 0;
	b->since_ns = add_sat(now_ns, repay);
}

bool rate_limiter_config_active(const struct rate_limiter_config *c)
{
	return c->bandwidth.size || c->ops.size;
}

int rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *c,
		      uint64_t now_ns)
{
	int ret = bucket_init(&rl->bandwidth, &c->bandwidth, now_ns);
	if (ret == 0)
		ret = bucket_init(&rl->ops, &c->ops, now_ns);
	if (ret < 0)
		memset(rl, 0, sizeof(*rl));
	return ret;
}

bool rate_limiter_active(const struct rate_limiter *rl)
{
	return rl->bandwidth.size || rl->ops.size;
}

int rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops,
			 uint64_t now_ns, uint64_t *wait_ns)
{
	struct plan bw = bucket_plan(&rl->bandwidth, bytes, now_ns);
	struct plan op = bucket_plan(&rl->ops, ops, now_ns);

	if (bw.wait_ns || op.wait_ns) {
		if (wait_ns)
			*wait_ns = MAX(bw.wait_ns, op.wait_ns);
		return -EAGAIN;
	}
	if (rl->bandwidth.size)
		bucket_take(&rl->bandwidth, &bw, now_ns);
	if (rl->ops.size)
		bucket_take(&rl->ops, &op, now_ns);
	return 0;
}

uint64_t token_bucket_available(struct token_bucket *b, uint64_t now_ns)
{
	if (b->size == 0)
		return UINT64_MAX;
	replenish(b, now_ns);
	return add_sat(now_ns < b->since_ns ? 0 : b->budget, b->one_time_burst);
}
