/* Split virtqueues: the rings in guest memory, walked defensively (the guest is hostile). */
#ifndef KILN_VIRTIO_QUEUE_H
#define KILN_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "memory.h"
#include "util.h"

/* Descriptor flags (virtio 1.2, 2.7.5). */
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* The largest queue (and indirect table) kiln accepts, and so the longest chain. */
#define VIRTQ_MAX_SIZE		256
#define VIRTQ_MAX_CHAIN		VIRTQ_MAX_SIZE

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/*
 * One descriptor chain, mapped: iov[0 .. nr_readable) are device-readable buffers,
 * iov[nr_readable .. nr) device-writable ones (the walker enforces that order).
 * Zero-length descriptors are skipped.
 */
struct virtq_chain {
	uint16_t head;
	unsigned int nr;
	unsigned int nr_readable;
	uint64_t readable_len;
	uint64_t writable_len;
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

struct virtq {
	/*
	 * Set by the driver through the transport. `size` only ever holds a valid size (a
	 * power of 2, 1..max): virtq_reset sets max, virtq_set_size refuses anything else,
	 * so the ring code can index with size - 1 whatever the driver wrote.
	 */
	uint16_t size;
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Fixed by the device. */
	uint16_t max;
	const struct guest_mem *mem;

	/* Derived by virtq_enable(), all checked with gm_ptr() for the whole ring. */
	volatile struct virtq_desc *desc;
	volatile uint16_t *avail;	/* flags, idx, ring[size], used_event */
	volatile uint8_t *used;		/* flags, idx, ring[size] of {id, len}, avail_event */
	bool event_idx;
	bool indirect;

	uint16_t last_avail;		/* next available entry to take */
	uint16_t used_idx;		/* next used entry to fill */
	uint16_t signalled_used;	/* used_idx at the last interrupt decision */
	uint32_t epoch;			/* changes at every reset and enable: requests started
					   in an older epoch must not be completed */

	const char *error;		/* why the last call failed: a protocol violation */
};

/* Set up a queue whose largest size is `max` (a power of 2, at most VIRTQ_MAX_SIZE). */
void virtq_init(struct virtq *q, const struct guest_mem *mem, uint16_t max);
/* Back to the state after device reset: not ready, size = max, addresses 0. */
void virtq_reset(struct virtq *q);
/*
 * The driver wrote QueueNum: `num` becomes the size when it is a power of 2 within 1..max
 * and the queue is not ready; otherwise the size is unchanged and -EINVAL returned, with
 * q->error set (the transport then asks for a reset).
 */
int virtq_set_size(struct virtq *q, uint32_t num) MUST_CHECK;
/*
 * The driver set QueueReady: check the size (a power of 2, 1..max) and that each ring
 * lies in guest RAM, aligned as the spec requires. 0, or -EINVAL with q->error set.
 */
int virtq_enable(struct virtq *q, bool event_idx, bool indirect) MUST_CHECK;
/*
 * Take the next available chain. Returns 1 with *c filled, 0 when the ring is empty
 * (with EVENT_IDX, the driver is then asked to notify at the next buffer), or -EPROTO
 * for a protocol violation (q->error says which; the device must stop using the queue).
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c) MUST_CHECK;
/*
 * Put the chain the last virtq_pop took back on the ring, unused: the next pop takes it
 * again (a device that found it had nothing to put in it after all).
 */
void virtq_unpop(struct virtq *q);
/*
 * Give chain `head` back with `len` bytes written into its writable buffers. On a queue
 * that is not ready (reset or disabled since the chain was taken) it does nothing.
 */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/*
 * Whether the driver wants an interrupt for what was pushed since the last call
 * (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX); false on a queue that is
 * not ready.
 */
bool virtq_should_signal(struct virtq *q);

/* Copy up to `len` bytes of the chain's readable part, starting at `offset`; returns bytes. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, size_t len);
/* Copy into the chain's writable part at `offset`; returns bytes copied. */
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src,
			 size_t len);
/*
 * Describe `len` bytes of the readable (writable == false) or writable part, from
 * `offset`, as an iovec array of at most `max` entries. Returns the count, or -E2BIG.
 */
int virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
		    struct iovec *iov, unsigned int max) MUST_CHECK;

#endif
