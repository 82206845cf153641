/* Split virtqueue walking over crafted rings in a buffer: good chains and every violation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/queue.h"

#define BASE 0x100000ULL
#define MEM_SIZE (1u << 20)
#define QSIZE 8
#define DESC_GPA BASE
#define AVAIL_GPA (BASE + 0x1000)
#define USED_GPA (BASE + 0x2000)
#define DATA_GPA (BASE + 0x10000)

static uint8_t *mem;
static struct guest_mem gm;
static struct virtq q;
static struct virtq_chain chain;

static void *at(uint64_t gpa) { return mem + (gpa - BASE); }
static struct virtq_desc *desc(unsigned int i) { return (struct virtq_desc *)at(DESC_GPA) + i; }
static uint16_t *avail(void) { return at(AVAIL_GPA); }	/* flags, idx, ring[], used_event */
static uint16_t used_idx(void) { return ((uint16_t *)at(USED_GPA))[1]; }
static uint32_t *used_elem(unsigned int i) { return (uint32_t *)at(USED_GPA + 4 + 8 * i); }
static uint16_t avail_event(void) { return *(uint16_t *)at(USED_GPA + 4 + 8 * QSIZE); }

/* May run again inside a test: each run starts from fresh, zeroed memory. */
static void setup(void)
{
	free(mem);
	mem = calloc(1, MEM_SIZE);
	cr_assert_not_null(mem);
	gm_init_buffer(&gm, BASE, mem, MEM_SIZE);
	virtq_init(&q, &gm, 256);
	cr_assert_eq(virtq_set_size(&q, QSIZE), 0);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	cr_assert_eq(virtq_enable(&q, false, true), 0, "%s", q.error);
}

static void teardown(void)
{
	free(mem);
	mem = NULL;
}

TestSuite(virtq, .init = setup, .fini = teardown);

static void set(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*desc(i) = (struct virtq_desc){ addr, len, flags, next };
}

/* Offer chain `head` as the next available entry. */
static void offer(uint16_t head)
{
	avail()[2 + (avail()[1] % QSIZE)] = head;
	avail()[1]++;
}

static void expect_violation(const char *why)
{
	int ret = virtq_pop(&q, &chain);
	cr_assert_eq(ret, -EPROTO, "pop returned %d", ret);
	cr_assert_str_eq(q.error, why);
}

Test(virtq, empty_ring_pops_nothing)
{
	cr_assert_eq(virtq_pop(&q, &chain), 0);
}

Test(virtq, normal_chain_readable_then_writable)
{
	set(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 3);
	set(3, DATA_GPA + 0x100, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
	set(5, DATA_GPA + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1, "%s", q.error);
	cr_assert_eq(chain.head, 0);
	cr_assert_eq(chain.nr, 3);
	cr_assert_eq(chain.nr_readable, 1);
	cr_assert_eq(chain.readable_len, 16);
	cr_assert_eq(chain.writable_len, 513);
	cr_assert_eq(chain.iov[0].iov_base, at(DATA_GPA));
	cr_assert_eq(chain.iov[1].iov_base, at(DATA_GPA + 0x100));
	cr_assert_eq(chain.iov[2].iov_len, 1);
	cr_assert_eq(virtq_pop(&q, &chain), 0);

	virtq_push(&q, 0, 513);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(used_elem(0)[0], 0);
	cr_assert_eq(used_elem(0)[1], 513);
}

Test(virtq, chain_copy_helpers_cross_buffers)
{
	set(0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	set(1, DATA_GPA + 0x10, 4, VIRTQ_DESC_F_NEXT, 2);
	set(2, DATA_GPA + 0x20, 3, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	set(3, DATA_GPA + 0x30, 3, VIRTQ_DESC_F_WRITE, 0);
	memcpy(at(DATA_GPA), "abcd", 4);
	memcpy(at(DATA_GPA + 0x10), "efgh", 4);
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	char buf[8] = { 0 };
	cr_assert_eq(virtq_chain_read(&chain, 2, buf, 5), 5);
	cr_assert_str_eq(buf, "cdefg");
	cr_assert_eq(virtq_chain_write(&chain, 1, "XYZW", 4), 4);
	cr_assert(memcmp(at(DATA_GPA + 0x20), "\0XY", 3) == 0);
	cr_assert(memcmp(at(DATA_GPA + 0x30), "ZW", 2) == 0);
	cr_assert_eq(virtq_chain_write(&chain, 4, "12345", 5), 2);	/* only 2 bytes left */
	struct iovec iov[4];
	cr_assert_eq(virtq_chain_iov(&chain, false, 2, 4, iov, 4), 2);
	cr_assert_eq(iov[0].iov_base, at(DATA_GPA + 2));
	cr_assert_eq(iov[0].iov_len, 2);
	cr_assert_eq(iov[1].iov_len, 2);
	cr_assert_eq(virtq_chain_iov(&chain, true, 0, 6, iov, 1), -E2BIG);
}

Test(virtq, indirect_table)
{
	struct virtq_desc *t = at(DATA_GPA);
	t[0] = (struct virtq_desc){ DATA_GPA + 0x100, 16, VIRTQ_DESC_F_NEXT, 2 };
	t[2] = (struct virtq_desc){ DATA_GPA + 0x200, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1 };
	t[1] = (struct virtq_desc){ DATA_GPA + 0x400, 1, VIRTQ_DESC_F_WRITE, 0 };
	set(4, DATA_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(4);
	cr_assert_eq(virtq_pop(&q, &chain), 1, "%s", q.error);
	cr_assert_eq(chain.head, 4);
	cr_assert_eq(chain.nr, 3);
	cr_assert_eq(chain.readable_len, 16);
	cr_assert_eq(chain.writable_len, 513);
}

Test(virtq, indirect_violations)
{
	struct virtq_desc *t = at(DATA_GPA);
	t[0] = (struct virtq_desc){ DATA_GPA + 0x100, 16, VIRTQ_DESC_F_NEXT, 1 };
	t[1] = (struct virtq_desc){ DATA_GPA + 0x200, 16, VIRTQ_DESC_F_NEXT, 0 };
	set(0, DATA_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_violation("indirect descriptor chain loops or is too long");

	const struct { uint64_t addr; uint32_t len; uint16_t flags; const char *why; } cases[] = {
		{ DATA_GPA, 24, VIRTQ_DESC_F_INDIRECT, "indirect table length is not a multiple of 16" },
		{ DATA_GPA, 0, VIRTQ_DESC_F_INDIRECT, "indirect table length is not a multiple of 16" },
		{ DATA_GPA, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
		  "indirect descriptor with the NEXT flag" },
		{ DATA_GPA, 16 * 257, VIRTQ_DESC_F_INDIRECT, "indirect table too long" },
		{ DATA_GPA + 4, 32, VIRTQ_DESC_F_INDIRECT, "indirect table is misaligned" },
		{ BASE + MEM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, "indirect table outside guest memory" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup();
		set(0, cases[i].addr, cases[i].len, cases[i].flags, 1);
		offer(0);
		expect_violation(cases[i].why);
		teardown();
	}
	setup();
	t = at(DATA_GPA);
	t[0] = (struct virtq_desc){ DATA_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0 };
	set(0, DATA_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_violation("indirect descriptor inside an indirect table");
	teardown();
	setup();
	t = at(DATA_GPA);
	t[0] = (struct virtq_desc){ DATA_GPA + 0x100, 16, VIRTQ_DESC_F_NEXT, 9 };
	set(0, DATA_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_violation("indirect descriptor next index out of range");
}

Test(virtq, indirect_needs_the_feature)
{
	cr_assert_eq(virtq_enable(&q, false, false), 0);
	set(0, DATA_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_violation("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
}

Test(virtq, loop_is_caught_by_the_hop_limit)
{
	set(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set(1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	expect_violation("descriptor chain loops or is longer than the queue");
}

Test(virtq, self_loop_and_full_length_chain)
{
	/* A chain using every descriptor once is fine; one more hop is not possible. */
	for (unsigned int i = 0; i < QSIZE; i++)
		set(i, DATA_GPA + 16 * i, 16, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1, "%s", q.error);
	cr_assert_eq(chain.nr, QSIZE);
	set(3, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 3);
	offer(3);
	expect_violation("descriptor chain loops or is longer than the queue");
}

Test(virtq, buffers_outside_memory_or_wrapping)
{
	const uint64_t addrs[] = { 0, BASE - 1, BASE + MEM_SIZE - 8, 0xffffffffffffff00ULL,
				   0xfffffffffffffff0ULL };
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		setup();
		set(0, addrs[i], 0x100, 0, 0);
		offer(0);
		expect_violation("descriptor buffer outside guest memory");
		teardown();
	}
	setup();
	set(0, DATA_GPA, 0xffffffffu, 0, 0);	/* length running past the end */
	offer(0);
	expect_violation("descriptor buffer outside guest memory");
}

Test(virtq, zero_length_buffers_are_skipped)
{
	set(0, 0xdead000000000000ULL, 0, VIRTQ_DESC_F_NEXT, 1);	/* never mapped */
	set(1, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1, "%s", q.error);
	cr_assert_eq(chain.nr, 1);
	cr_assert_eq(chain.nr_readable, 0);
	cr_assert_eq(chain.writable_len, 8);
}

Test(virtq, readable_after_writable_is_refused)
{
	set(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set(1, DATA_GPA + 8, 8, 0, 0);
	offer(0);
	expect_violation("device-readable descriptor after a device-writable one");
}

Test(virtq, indices_from_the_guest_are_checked)
{
	set(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE);
	offer(0);
	expect_violation("descriptor next index out of range");

	setup();
	offer(QSIZE);
	expect_violation("available ring entry out of range");

	setup();
	avail()[1] = QSIZE + 1;
	expect_violation("available index moved by more than the queue size");

	/* Exactly a full ring is fine, and the index wraps around 2^16. */
	setup();
	for (unsigned int i = 0; i < QSIZE; i++)
		set(i, DATA_GPA, 8, 0, 0);
	q.last_avail = 65532;
	avail()[1] = (uint16_t)(65532 + QSIZE);
	for (unsigned int i = 0; i < QSIZE; i++)
		cr_assert_eq(virtq_pop(&q, &chain), 1, "%u: %s", i, q.error);
	cr_assert_eq(virtq_pop(&q, &chain), 0);
}

Test(virtq, enable_checks_alignment_and_placement)
{
	const struct { uint64_t d, a, u; const char *why; } cases[] = {
		{ DESC_GPA + 8, AVAIL_GPA, USED_GPA, "ring address is misaligned" },
		{ DESC_GPA, AVAIL_GPA + 1, USED_GPA, "ring address is misaligned" },
		{ DESC_GPA, AVAIL_GPA, USED_GPA + 2, "ring address is misaligned" },
		{ 0x7f0000000000ULL, AVAIL_GPA, USED_GPA, "ring lies outside guest memory" },
		{ DESC_GPA, BASE + MEM_SIZE - 8, USED_GPA, "ring lies outside guest memory" },
		{ DESC_GPA, AVAIL_GPA, 0xfffffffffffffff0ULL, "ring lies outside guest memory" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		virtq_reset(&q);
		cr_assert_eq(virtq_set_size(&q, 8), 0);
		q.desc_gpa = cases[i].d;
		q.avail_gpa = cases[i].a;
		q.used_gpa = cases[i].u;
		cr_assert_eq(virtq_enable(&q, false, false), -EINVAL, "case %zu", i);
		cr_assert_str_eq(q.error, cases[i].why, "case %zu", i);
		cr_assert_not(q.ready);
	}
}

/* The size only ever holds a power of 2 within the maximum: a bad QueueNum is refused. */
Test(virtq, size_holds_only_valid_values)
{
	const uint32_t bad[] = { 0, 3, 6, 255, 257, 512, 65535, 65536, 0x80000000u, UINT32_MAX };
	virtq_reset(&q);
	cr_assert_eq(q.size, 256, "reset gives the maximum");
	cr_assert_eq(virtq_set_size(&q, 16), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(virtq_set_size(&q, bad[i]), -EINVAL, "%u was taken", bad[i]);
		cr_assert_str_eq(q.error, "queue size is not a power of 2 within the maximum");
		cr_assert_eq(q.size, 16, "a refused value must leave the size as it was");
	}
	for (uint32_t n = 1; n <= 256; n *= 2) {
		cr_assert_eq(virtq_set_size(&q, n), 0, "%u", n);
		cr_assert_eq(q.size, n);
	}
}

Test(virtq, size_cannot_change_while_ready)
{
	cr_assert(q.ready);
	cr_assert_eq(virtq_set_size(&q, 4), -EINVAL);
	cr_assert_str_eq(q.error, "queue size written while the queue is ready");
	cr_assert_eq(q.size, QSIZE);
	/* The ring still works at its size. */
	set(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1, "%s", q.error);
}

/*
 * A chain taken before a reset is given back after it: push and should_signal must not
 * touch the rings (their pointers are gone) nor use the size, whatever callers check.
 */
Test(virtq, push_and_signal_on_a_queue_not_ready_do_nothing)
{
	set(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	virtq_reset(&q);
	cr_assert_null(q.used);
	virtq_push(&q, chain.head, 8);
	cr_assert_eq(used_idx(), 0, "the used ring was written after the reset");
	cr_assert_eq(q.used_idx, 0);
	cr_assert_not(virtq_should_signal(&q));
	/* Disabled (QueueReady 0) rather than reset: the same. */
	setup();
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	q.ready = false;
	virtq_push(&q, chain.head, 8);
	cr_assert_eq(used_idx(), 0);
	cr_assert_not(virtq_should_signal(&q));
}

Test(virtq, interrupt_suppression)
{
	set(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	cr_assert_not(virtq_should_signal(&q), "nothing used yet");
	virtq_push(&q, 0, 8);
	cr_assert(virtq_should_signal(&q));
	avail()[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	virtq_push(&q, 0, 8);
	cr_assert_not(virtq_should_signal(&q));
}

Test(virtq, event_idx)
{
	cr_assert_eq(virtq_enable(&q, true, false), 0);
	set(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	cr_assert_eq(virtq_pop(&q, &chain), 0);
	cr_assert_eq(avail_event(), 2, "the driver is asked to kick at the next buffer");

	avail()[2 + QSIZE] = 1;		/* used_event: interrupt once entry 1 is used */
	virtq_push(&q, 0, 8);
	cr_assert_not(virtq_should_signal(&q));
	virtq_push(&q, 0, 8);
	cr_assert(virtq_should_signal(&q));
}
