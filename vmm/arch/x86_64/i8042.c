/* The i8042 keyboard controller: enough for Linux to probe it and to reset the machine. */
#include "i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define DATA_OFFSET 0
#define CMD_OFFSET 4

#define STATUS_OBF	0x01	/* output buffer full */
#define STATUS_SYS	0x04	/* self-test passed */
#define STATUS_CMD	0x08	/* last write was a command */
#define CTR_KBD_INT	0x01
#define CTR_SYS		0x04
#define CTR_KBD_DISABLE	0x10
#define CTR_AUX_DISABLE	0x20
#define CTR_XLATE	0x40

#define CMD_READ_CTR	0x20
#define CMD_WRITE_CTR	0x60
#define CMD_AUX_DISABLE	0xa7
#define CMD_AUX_ENABLE	0xa8
#define CMD_AUX_TEST	0xa9
#define CMD_SELF_TEST	0xaa
#define CMD_KBD_TEST	0xab
#define CMD_KBD_DISABLE	0xad
#define CMD_KBD_ENABLE	0xae
#define CMD_READ_OUTP	0xd0
#define CMD_WRITE_OUTP	0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_PULSE_RESET	0xfe

#define KBD_ACK		0xfa
#define KBD_RESET	0xff
#define KBD_SELFTEST_OK	0xaa

struct i8042 {
	pthread_mutex_t lock;
	uint8_t status;
	uint8_t ctr;
	uint8_t pending_cmd;	/* a command waiting for its data byte */
	uint8_t outb[8];	/* bytes for the guest to read from port 0x60 */
	unsigned int out_head, out_len;
	unsigned int keys;	/* of out_len, those up to the last typed key: an edge each */
	int irq_level;
	const struct i8042_ops *ops;
	void *opaque;
	struct i8042_stats stats;
};

struct i8042 *i8042_create(const struct i8042_ops *ops, void *opaque)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	k->ops = ops;
	k->opaque = opaque;
	k->status = STATUS_SYS;
	k->ctr = CTR_KBD_INT | CTR_SYS | CTR_XLATE;
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

const struct i8042_stats *i8042_stats(const struct i8042 *k)
{
	return &k->stats;
}

static void update_irq(struct i8042 *k)
{
	int level = k->out_len && (k->ctr & CTR_KBD_INT);
	if (level != k->irq_level) {
		k->irq_level = level;
		if (k->ops->set_irq)
			k->ops->set_irq(k->opaque, level);
	}
}

static void push(struct i8042 *k, uint8_t b)
{
	if (k->out_len == sizeof(k->outb))
		return;
	k->outb[(k->out_head + k->out_len) % sizeof(k->outb)] = b;
	k->out_len++;
}

/* Returns true when the guest asked for a reset. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR:
		push(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
	case CMD_WRITE_KBD_OBUF:
		k->pending_cmd = cmd;
		break;
	case CMD_SELF_TEST:
		push(k, 0x55);
		break;
	case CMD_KBD_TEST:
		push(k, 0x00);
		break;
	case CMD_AUX_TEST:
		push(k, 0xff);	/* no mouse port */
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBD_DISABLE;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~CTR_KBD_DISABLE;
		break;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUX_DISABLE;
		break;
	case CMD_AUX_ENABLE:
		k->ctr &= (uint8_t)~CTR_AUX_DISABLE;
		break;
	case CMD_READ_OUTP:
		push(k, 0x01);	/* reset line high: not resetting */
		break;
	case CMD_PULSE_RESET:
		return true;
	default:
		break;	/* other pulses and vendor commands: ignored, like a real one */
	}
	return false;
}

static void data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;
	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = v;
		return;
	case CMD_WRITE_KBD_OBUF:
		push(k, v);
		return;
	case CMD_WRITE_OUTP:
		return;
	default:
		break;
	}
	/* A byte for the keyboard itself: acknowledge it; a reset also reports self-test. */
	push(k, KBD_ACK);
	if (v == KBD_RESET)
		push(k, KBD_SELFTEST_OK);
}

static void i8042_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct i8042 *k = opaque;
	uint8_t v = 0;

	pthread_mutex_lock(&k->lock);
	if (offset == DATA_OFFSET) {
		if (k->out_len) {
			v = k->outb[k->out_head];
			k->out_head = (k->out_head + 1) % sizeof(k->outb);
			k->out_len--;
			/*
			 * Linux takes one byte per keyboard interrupt, and IRQ 1 is edge
			 * triggered: another typed byte waiting needs a new edge.
			 */
			if (k->keys && --k->keys && k->out_len && (k->ctr & CTR_KBD_INT) &&
			    k->irq_level && k->ops->set_irq) {
				k->irq_level = 0;
				k->ops->set_irq(k->opaque, 0);
			}
			atomic_fetch_add_explicit(&k->stats.read_count, 1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&k->stats.missed_read_count, 1,
						  memory_order_relaxed);
		}
	} else if (offset == CMD_OFFSET) {
		v = (uint8_t)(k->status | (k->out_len ? STATUS_OBF : 0));
	} else {
		v = 0xff;	/* ports 0x61-0x63 are not the controller's */
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	for (uint32_t i = 0; i < len; i++)
		data[i] = i == 0 ? v : 0;
}

static void i8042_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = opaque;
	bool reset = false;
	(void)len;

	pthread_mutex_lock(&k->lock);
	atomic_fetch_add_explicit(&k->stats.write_count, 1, memory_order_relaxed);
	if (offset == DATA_OFFSET) {
		k->status &= (uint8_t)~STATUS_CMD;
		data_write(k, data[0]);
	} else if (offset == CMD_OFFSET) {
		k->status |= STATUS_CMD;
		reset = command(k, data[0]);
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset) {
		atomic_fetch_add_explicit(&k->stats.reset_count, 1, memory_order_relaxed);
		if (k->ops->reset)
			k->ops->reset(k->opaque);
	}
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Left Ctrl, left Alt, Delete (an E0-prefixed key): set 1, and set 2 untranslated. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53 };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71 };
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	const uint8_t *codes = k->ctr & CTR_XLATE ? set1 : set2;
	if (sizeof(k->outb) - k->out_len < sizeof(set1)) {
		ret = -EAGAIN;
	} else {
		/* Bytes already waiting are the guest's answers: the keys come after them. */
		for (size_t i = 0; i < sizeof(set1); i++)
			push(k, codes[i]);
		k->keys = k->out_len;
		update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

const struct bus_dev_ops i8042_bus_ops = {
	.read = i8042_read,
	.write = i8042_write,
};
