/* Split virtqueues: the rings in guest memory, walked defensively (the guest is hostile). */
#include "queue.h"

#include <errno.h>
#include <string.h>

/* Ring layout (virtio 1.2, 2.7): offsets in 16-bit words for avail, bytes for used. */
#define AVAIL_FLAGS	0
#define AVAIL_IDX	1
#define AVAIL_RING	2
#define USED_IDX_OFF	2
#define USED_RING_OFF	4

static uint64_t desc_bytes(uint16_t size) { return 16ULL * size; }
static uint64_t avail_bytes(uint16_t size) { return 6ULL + 2ULL * size; }
static uint64_t used_bytes(uint16_t size) { return 6ULL + 8ULL * size; }

void virtq_init(struct virtq *q, const struct guest_mem *mem, uint16_t max)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->max = max;
	virtq_reset(q);
}

void virtq_reset(struct virtq *q)
{
	q->size = q->max;
	q->ready = false;
	q->desc_gpa = q->avail_gpa = q->used_gpa = 0;
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	q->event_idx = q->indirect = false;
	q->last_avail = q->used_idx = q->signalled_used = 0;
	q->epoch++;
	q->error = NULL;
}

static int fail(struct virtq *q, const char *why)
{
	q->error = why;
	return -EPROTO;
}

static bool valid_size(const struct virtq *q, uint32_t n)
{
	return n != 0 && n <= q->max && (n & (n - 1)) == 0;
}

int virtq_set_size(struct virtq *q, uint32_t num)
{
	if (q->ready) {
		q->error = "queue size written while the queue is ready";
		return -EINVAL;
	}
	if (!valid_size(q, num)) {
		q->error = "queue size is not a power of 2 within the maximum";
		return -EINVAL;
	}
	q->size = (uint16_t)num;
	return 0;
}

int virtq_enable(struct virtq *q, bool event_idx, bool indirect)
{
	uint16_t n = q->size;

	q->error = NULL;
	/* Holds by construction (virtq_set_size); checked again where the rings are mapped. */
	if (!valid_size(q, n))
		q->error = "queue size is not a power of 2 within the maximum";
	else if (!IS_ALIGNED(q->desc_gpa, 16) || !IS_ALIGNED(q->avail_gpa, 2) ||
		 !IS_ALIGNED(q->used_gpa, 4))
		q->error = "ring address is misaligned";
	if (q->error)
		return -EINVAL;
	void *d = gm_ptr(q->mem, q->desc_gpa, desc_bytes(n));
	void *a = gm_ptr(q->mem, q->avail_gpa, avail_bytes(n));
	void *u = gm_ptr(q->mem, q->used_gpa, used_bytes(n));
	if (!d || !a || !u) {
		q->error = "ring lies outside guest memory";
		return -EINVAL;
	}
	q->desc = d;
	q->avail = a;
	q->used = u;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->last_avail = q->used_idx = q->signalled_used = 0;
	q->epoch++;
	q->error = NULL;
	q->ready = true;
	return 0;
}

static uint16_t avail_idx_acquire(const struct virtq *q)
{
	return __atomic_load_n(&q->avail[AVAIL_IDX], __ATOMIC_ACQUIRE);
}

static volatile uint16_t *avail_event(struct virtq *q)
{
	return (volatile uint16_t *)(q->used + USED_RING_OFF + 8u * q->size);
}

/* Read a descriptor once into a local copy: every check then applies to what is used. */
static struct virtq_desc read_desc(const volatile struct virtq_desc *d)
{
	return (struct virtq_desc){ .addr = d->addr, .len = d->len, .flags = d->flags,
				    .next = d->next };
}

struct walk {
	struct virtq_chain *c;
	bool seen_writable;
};

static int add_buffer(struct virtq *q, struct walk *w, const struct virtq_desc *d)
{
	struct virtq_chain *c = w->c;
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;

	if (d->len == 0)
		return 0;
	if (!writable && w->seen_writable)
		return fail(q, "device-readable descriptor after a device-writable one");
	if (c->nr >= VIRTQ_MAX_CHAIN)
		return fail(q, "descriptor chain too long");
	void *p = gm_ptr(q->mem, d->addr, d->len);
	if (!p)
		return fail(q, "descriptor buffer outside guest memory");
	c->iov[c->nr++] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	if (writable) {
		w->seen_writable = true;
		c->writable_len += d->len;
	} else {
		c->nr_readable++;
		c->readable_len += d->len;
	}
	return 0;
}

/* Walk an indirect table: its own next indices, bounded by its own length. */
static int walk_indirect(struct virtq *q, struct walk *w, const struct virtq_desc *d)
{
	if (!q->indirect)
		return fail(q, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return fail(q, "indirect descriptor with the NEXT flag");
	if (d->len == 0 || d->len % sizeof(struct virtq_desc))
		return fail(q, "indirect table length is not a multiple of 16");
	uint32_t n = d->len / sizeof(struct virtq_desc);
	if (n > VIRTQ_MAX_CHAIN)
		return fail(q, "indirect table too long");
	if (!IS_ALIGNED(d->addr, 8))
		return fail(q, "indirect table is misaligned");
	const volatile struct virtq_desc *table = gm_ptr(q->mem, d->addr, d->len);
	if (!table)
		return fail(q, "indirect table outside guest memory");

	uint32_t i = 0;
	for (uint32_t hops = 0;; hops++) {
		if (hops >= n)
			return fail(q, "indirect descriptor chain loops or is too long");
		struct virtq_desc e = read_desc(&table[i]);
		if (e.flags & VIRTQ_DESC_F_INDIRECT)
			return fail(q, "indirect descriptor inside an indirect table");
		int ret = add_buffer(q, w, &e);
		if (ret < 0)
			return ret;
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (e.next >= n)
			return fail(q, "indirect descriptor next index out of range");
		i = e.next;
	}
}

static int walk_chain(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	struct walk w = { .c = c };
	uint16_t i = head;

	c->head = head;
	c->nr = c->nr_readable = 0;
	c->readable_len = c->writable_len = 0;
	for (uint32_t hops = 0;; hops++) {
		if (hops >= q->size)
			return fail(q, "descriptor chain loops or is longer than the queue");
		struct virtq_desc d = read_desc(&q->desc[i]);
		int ret = (d.flags & VIRTQ_DESC_F_INDIRECT) ? walk_indirect(q, &w, &d)
							    : add_buffer(q, &w, &d);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= q->size)
			return fail(q, "descriptor next index out of range");
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (!q->ready)
		return 0;
	for (;;) {
		uint16_t idx = avail_idx_acquire(q);
		uint16_t pending = (uint16_t)(idx - q->last_avail);
		if (pending > q->size)
			return fail(q, "available index moved by more than the queue size");
		if (pending) {
			uint16_t head = q->avail[AVAIL_RING + (q->last_avail & (q->size - 1))];
			q->last_avail++;
			if (head >= q->size)
				return fail(q, "available ring entry out of range");
			return walk_chain(q, head, c);
		}
		if (!q->event_idx)
			return 0;
		/* Ask for a kick at the next buffer, then look again so none is missed. */
		*avail_event(q) = q->last_avail;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (avail_idx_acquire(q) == q->last_avail)
			return 0;
	}
}

void virtq_unpop(struct virtq *q)
{
	if (q->ready)
		q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	if (!q->ready)
		return;
	volatile uint32_t *elem = (volatile uint32_t *)(q->used + USED_RING_OFF +
							  8u * (q->used_idx & (q->size - 1)));
	elem[0] = head;
	elem[1] = len;
	q->used_idx++;
	__atomic_store_n((volatile uint16_t *)(q->used + USED_IDX_OFF), q->used_idx,
			 __ATOMIC_RELEASE);
}

bool virtq_should_signal(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;

	if (!q->ready || old == now)
		return false;
	q->signalled_used = now;
	/* The used index must be visible before the driver's suppression state is read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(q->avail[AVAIL_FLAGS] & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t used_event = q->avail[AVAIL_RING + q->size];
	return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

/* Copy between buf and the readable or writable part of a chain, from a byte offset. */
static size_t chain_copy(const struct virtq_chain *c, bool writable, uint64_t offset,
			 uint8_t *buf, size_t len)
{
	unsigned int first = writable ? c->nr_readable : 0;
	unsigned int end = writable ? c->nr : c->nr_readable;
	size_t done = 0;

	for (unsigned int i = first; i < end && done < len; i++) {
		uint64_t seg = c->iov[i].iov_len;
		if (offset >= seg) {
			offset -= seg;
			continue;
		}
		size_t n = MIN(seg - offset, len - done);
		uint8_t *p = (uint8_t *)c->iov[i].iov_base + offset;
		if (writable)
			memcpy(p, buf + done, n);
		else
			memcpy(buf + done, p, n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, size_t len)
{
	return chain_copy(c, false, offset, dst, len);
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src,
			 size_t len)
{
	return chain_copy(c, true, offset, (uint8_t *)(uintptr_t)src, len);
}

int virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
		    struct iovec *iov, unsigned int max)
{
	unsigned int first = writable ? c->nr_readable : 0;
	unsigned int end = writable ? c->nr : c->nr_readable;
	unsigned int n = 0;

	for (unsigned int i = first; i < end && len; i++) {
		uint64_t seg = c->iov[i].iov_len;
		if (offset >= seg) {
			offset -= seg;
			continue;
		}
		if (n >= max)
			return -E2BIG;
		uint64_t take = MIN(seg - offset, len);
		iov[n++] = (struct iovec){ .iov_base = (uint8_t *)c->iov[i].iov_base + offset,
					   .iov_len = take };
		len -= take;
		offset = 0;
	}
	return (int)n;
}
