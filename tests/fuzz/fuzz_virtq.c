/*
 * The virtqueue chain walk against a hostile guest: the input is guest memory (descriptor
 * table, available ring, buffers) plus the queue's size and features. Every chain taken
 * must lie inside guest memory, readable buffers first, no longer than the limits; the
 * used ring is written only inside itself.
 */
/* coverage: vmm/devices/virtio/queue.c */
#include <errno.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "fuzz.h"

#define BASE 0x10000ULL
#define MEM_SIZE 0x8000u	/* desc at +0, avail at +0x1000, used at +0x2000, data after */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[MEM_SIZE] __attribute__((aligned(16)));
	static struct virtq_chain chain;
	struct guest_mem gm;
	struct virtq q;
	uint8_t scratch[512];

	if (size < 2)
		return 0;
	uint8_t shift = data[0] % 9;		/* size 1..256 */
	uint8_t features = data[1];
	data += 2;
	size -= 2;
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data, size < sizeof(mem) ? size : sizeof(mem));
	gm_init_buffer(&gm, BASE, mem, sizeof(mem));
	virtq_init(&q, &gm, VIRTQ_MAX_SIZE);
	if (virtq_set_size(&q, 1u << shift) < 0)
		FUZZ_CHECK(0, "size %u refused", 1u << shift);
	q.desc_gpa = BASE;
	q.avail_gpa = BASE + 0x1000;
	q.used_gpa = BASE + 0x2000;
	if (virtq_enable(&q, features & 1, features & 2) < 0)
		return 0;

	for (int n = 0; n < 2 * VIRTQ_MAX_SIZE; n++) {
		int ret = virtq_pop(&q, &chain);
		if (ret <= 0) {
			FUZZ_CHECK(ret == 0 || (ret == -EPROTO && q.error), "pop %d", ret);
			break;
		}
		FUZZ_CHECK(chain.head < q.size, "head %u of %u", chain.head, q.size);
		FUZZ_CHECK(chain.nr <= VIRTQ_MAX_CHAIN && chain.nr_readable <= chain.nr,
			   "%u buffers, %u readable", chain.nr, chain.nr_readable);
		uint64_t readable = 0, writable = 0;
		for (unsigned int i = 0; i < chain.nr; i++) {
			const uint8_t *b = chain.iov[i].iov_base;
			size_t len = chain.iov[i].iov_len;
			FUZZ_CHECK(len > 0 && b >= mem && b <= mem + sizeof(mem) &&
				   len <= (size_t)(mem + sizeof(mem) - b),
				   "buffer %u outside guest memory", i);
			if (i < chain.nr_readable)
				readable += len;
			else
				writable += len;
		}
		FUZZ_CHECK(readable == chain.readable_len && writable == chain.writable_len,
			   "lengths %llu/%llu, counted %llu/%llu",
			   (unsigned long long)chain.readable_len,
			   (unsigned long long)chain.writable_len, (unsigned long long)readable,
			   (unsigned long long)writable);
		size_t got = virtq_chain_read(&chain, features >> 4, scratch, sizeof(scratch));
		FUZZ_CHECK(got <= sizeof(scratch), "read %zu", got);
		size_t put = virtq_chain_write(&chain, features >> 4, scratch, got);
		FUZZ_CHECK(put <= got, "wrote %zu of %zu", put, got);
		struct iovec iov[8];
		int nv = virtq_chain_iov(&chain, features & 4, 0, features & 8 ? 4096 : 1, iov, 8);
		FUZZ_CHECK(nv == -E2BIG || (nv >= 0 && nv <= 8), "iov %d", nv);
		virtq_push(&q, chain.head, (uint32_t)put);
		(void)virtq_should_signal(&q);
	}
	/* A reset queue is never touched again, whatever is pushed. */
	virtq_reset(&q);
	virtq_push(&q, 0, 1);
	FUZZ_CHECK(!virtq_should_signal(&q), "a reset queue signals");
	return 0;
}
