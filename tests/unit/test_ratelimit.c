/* The token-bucket rate limiter on a made-up clock: refill, bursts, over-size requests, waits. */
#include <criterion/criterion.h>
#include <errno.h>

#include "ratelimit.h"

#define MS 1000000ULL
#define T0 (1000 * MS)	/* an arbitrary start: the clock need not begin at 0 */

static struct rate_limiter rl;

static void start(uint64_t bw_size, uint64_t bw_burst, uint64_t bw_ms, uint64_t ops_size,
		  uint64_t ops_burst, uint64_t ops_ms)
{
	const struct rate_limiter_config c = {
		.bandwidth = { bw_size, bw_burst, bw_ms },
		.ops = { ops_size, ops_burst, ops_ms },
	};
	cr_assert_eq(rate_limiter_init(&rl, &c, T0), 0);
}

static int take(uint64_t bytes, uint64_t ops, uint64_t at_ms, uint64_t *wait)
{
	return rate_limiter_consume(&rl, bytes, ops, T0 + at_ms * MS, wait);
}

Test(ratelimit, no_bucket_lets_everything_through)
{
	uint64_t wait = 7;
	start(0, 0, 0, 0, 0, 0);
	cr_expect_not(rate_limiter_active(&rl));
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(take(UINT64_MAX, UINT64_MAX, 0, &wait), 0);
	cr_expect_eq(wait, 7, "wait is only written when blocked");
}

Test(ratelimit, bad_configuration_is_refused)
{
	const struct rate_limiter_config no_refill = { .ops = { 10, 0, 0 } };
	const struct rate_limiter_config too_long = {
		.bandwidth = { 10, 0, TOKEN_BUCKET_REFILL_MS_MAX + 1 } };
	cr_expect_eq(rate_limiter_init(&rl, &no_refill, T0), -EINVAL);
	cr_expect_not(rate_limiter_active(&rl));
	cr_expect_eq(rate_limiter_init(&rl, &too_long, T0), -ERANGE);
	const struct rate_limiter_config longest = {
		.bandwidth = { UINT64_MAX, UINT64_MAX, TOKEN_BUCKET_REFILL_MS_MAX } };
	cr_expect_eq(rate_limiter_init(&rl, &longest, T0), 0);
	cr_expect_eq(rate_limiter_consume(&rl, UINT64_MAX, 1, T0, NULL), 0);
	cr_expect_eq(rate_limiter_consume(&rl, UINT64_MAX, 1, UINT64_MAX, NULL), 0);
}

Test(ratelimit, starts_full_and_blocks_when_empty)
{
	uint64_t wait = 0;
	start(1000, 0, 1000, 0, 0, 0);
	cr_expect(rate_limiter_active(&rl));
	cr_expect_eq(token_bucket_available(&rl.bandwidth, T0), 1000);
	cr_expect_eq(take(600, 1, 0, &wait), 0);
	cr_expect_eq(take(400, 1, 0, &wait), 0);
	cr_expect_eq(take(1, 1, 0, &wait), -EAGAIN);
	/* 1000 tokens a second: one token takes 1 ms. */
	cr_expect_eq(wait, 1 * MS, "waited %llu ns", (unsigned long long)wait);
}

Test(ratelimit, refills_continuously_without_losing_fractions)
{
	uint64_t wait = 0;
	start(3, 0, 10, 0, 0, 0);	/* 3 tokens per 10 ms: one every 3.33 ms */
	cr_assert_eq(take(3, 0, 0, NULL), 0);
	cr_expect_eq(take(1, 0, 0, &wait), -EAGAIN);
	cr_expect_eq(wait, 3333334, "ceil(10 ms / 3), got %llu", (unsigned long long)wait);
	/* Looking often (every 1 ms) earns exactly as much as looking once. */
	for (uint64_t ms = 1; ms < 4; ms++)
		cr_expect_eq(take(1, 0, ms, NULL), -EAGAIN, "at %llu ms", (unsigned long long)ms);
	cr_expect_eq(take(1, 0, 4, NULL), 0);
	cr_expect_eq(take(1, 0, 6, &wait), -EAGAIN);
	cr_expect_eq(take(1, 0, 7, NULL), 0, "2 tokens are earned by 6.67 ms");
	cr_expect_eq(take(1, 0, 10, NULL), 0, "3 tokens by 10 ms");
	cr_expect_eq(take(1, 0, 10, NULL), -EAGAIN);
}

Test(ratelimit, the_wait_is_exactly_long_enough)
{
	uint64_t wait = 0;
	start(1000, 0, 100, 0, 0, 0);	/* 10 tokens per ms */
	cr_assert_eq(take(1000, 0, 0, NULL), 0);
	cr_assert_eq(take(250, 0, 5, &wait), -EAGAIN);	/* 50 there, 200 more: 20 ms */
	cr_expect_eq(wait, 20 * MS);
	uint64_t now = T0 + 5 * MS + wait;
	cr_expect_eq(rate_limiter_consume(&rl, 250, 0, now - 1, NULL), -EAGAIN);
	cr_expect_eq(rate_limiter_consume(&rl, 250, 0, now, NULL), 0);
}

Test(ratelimit, never_fills_above_its_size)
{
	start(100, 0, 10, 0, 0, 0);
	cr_assert_eq(take(100, 0, 0, NULL), 0);
	cr_expect_eq(token_bucket_available(&rl.bandwidth, T0 + 3600000 * MS), 100);
	cr_expect_eq(take(100, 0, 3600000, NULL), 0);
	cr_expect_eq(take(1, 0, 3600000, NULL), -EAGAIN);
}

Test(ratelimit, one_time_burst_goes_first_and_never_comes_back)
{
	uint64_t wait = 0;
	start(100, 50, 1000, 0, 0, 0);
	cr_expect_eq(token_bucket_available(&rl.bandwidth, T0), 150);
	cr_expect_eq(take(30, 0, 0, NULL), 0);
	cr_expect_eq(rl.bandwidth.one_time_burst, 20);
	cr_expect_eq(rl.bandwidth.budget, 100, "the burst is spent before the budget");
	cr_expect_eq(take(70, 0, 0, NULL), 0);	/* 20 of the burst, 50 of the budget */
	cr_expect_eq(rl.bandwidth.one_time_burst, 0);
	cr_expect_eq(rl.bandwidth.budget, 50);
	cr_expect_eq(take(51, 0, 0, &wait), -EAGAIN);
	cr_expect_eq(wait, 10 * MS);
	cr_expect_eq(token_bucket_available(&rl.bandwidth, T0 + 10000 * MS), 100,
		     "the burst is not refilled");
}

Test(ratelimit, a_refused_request_takes_nothing)
{
	start(100, 10, 1000, 5, 0, 1000);
	cr_assert_eq(take(0, 5, 0, NULL), 0);		/* the ops bucket is empty */
	cr_expect_eq(take(50, 1, 0, NULL), -EAGAIN);
	cr_expect_eq(rl.bandwidth.one_time_burst, 10, "the burst is still there");
	cr_expect_eq(rl.bandwidth.budget, 100);
}

Test(ratelimit, both_buckets_must_agree)
{
	uint64_t wait = 0;
	start(1000, 0, 1000, 2, 0, 100);	/* 1 byte/ms, 1 op per 50 ms */
	cr_expect_eq(take(100, 1, 0, NULL), 0);
	cr_expect_eq(take(100, 1, 0, NULL), 0);
	cr_expect_eq(take(100, 1, 0, &wait), -EAGAIN);
	cr_expect_eq(wait, 50 * MS, "out of ops");
	cr_expect_eq(rl.bandwidth.budget, 800);
	cr_expect_eq(take(900, 1, 50, &wait), -EAGAIN);
	cr_expect_eq(wait, 50 * MS, "850 bytes by now, 50 to go; the op is there");
	cr_expect_eq(take(900, 2, 50, &wait), -EAGAIN);
	cr_expect_eq(wait, 50 * MS, "the longer of the two waits");
	cr_expect_eq(take(900, 1, 100, NULL), 0);
	cr_expect_eq(rl.ops.budget, 1);
}

Test(ratelimit, zero_sized_requests_always_pass)
{
	start(10, 0, 1000, 1, 0, 1000);
	cr_assert_eq(take(10, 1, 0, NULL), 0);
	cr_expect_eq(take(0, 0, 0, NULL), 0);
	cr_expect_eq(take(0, 1, 0, NULL), -EAGAIN);
	cr_expect_eq(take(1, 0, 0, NULL), -EAGAIN);
}

Test(ratelimit, an_over_size_request_passes_on_credit)
{
	uint64_t wait = 0;
	start(100, 0, 100, 0, 0, 0);	/* 1 token per ms */
	cr_assert_eq(take(40, 0, 0, NULL), 0);
	/* 60 left: 250 goes through anyway and owes 190 tokens, 190 ms of refill. */
	cr_expect_eq(take(250, 0, 0, NULL), 0);
	cr_expect_eq(take(1, 0, 0, &wait), -EAGAIN);
	cr_expect_eq(wait, 191 * MS, "the debt, then one token");
	cr_expect_eq(take(1000, 0, 100, &wait), -EAGAIN);
	cr_expect_eq(wait, 90 * MS, "another over-size request waits for the debt only");
	cr_expect_eq(token_bucket_available(&rl.bandwidth, T0 + 190 * MS), 0);
	cr_expect_eq(token_bucket_available(&rl.bandwidth, T0 + 200 * MS), 10);
	cr_expect_eq(take(10, 0, 200, NULL), 0);
	cr_expect_eq(take(1000, 0, 200, NULL), 0, "no debt: it passes, empty bucket or not");
	cr_expect_eq(take(1, 0, 1199, NULL), -EAGAIN);
	cr_expect_eq(take(1, 0, 1201, NULL), 0);
}

Test(ratelimit, over_size_with_a_burst_uses_the_burst_first)
{
	uint64_t wait = 0;
	start(100, 500, 100, 0, 0, 0);
	cr_expect_eq(take(550, 0, 0, NULL), 0, "500 from the burst, 50 from the budget");
	cr_expect_eq(rl.bandwidth.budget, 50);
	cr_expect_eq(take(200, 0, 0, NULL), 0, "over-size: 50 taken, 150 owed");
	cr_expect_eq(take(1, 0, 0, &wait), -EAGAIN);
	cr_expect_eq(wait, 151 * MS);
}

Test(ratelimit, the_long_run_rate_holds)
{
	/* Requests of 300 bytes as fast as allowed on a 1000-byte, 100 ms bucket. */
	uint64_t now = T0, bytes = 0, wait;
	start(1000, 0, 100, 0, 0, 0);
	while (now < T0 + 10000 * MS) {
		if (rate_limiter_consume(&rl, 300, 1, now, &wait) == 0)
			bytes += 300;
		else
			now += wait;
	}
	/* 10 s at 10000 bytes/s, plus the bucket it started with. */
	cr_expect(bytes >= 100000 && bytes <= 101000 + 300, "%llu bytes",
		  (unsigned long long)bytes);
}
