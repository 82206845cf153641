/* A 16550A UART: the guest console, with real FIFO, interrupt and loopback behaviour. */
#include "serial.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "io.h"

enum {
	REG_DATA = 0,	/* RBR on read, THR on write, DLL when DLAB */
	REG_IER = 1,	/* DLM when DLAB */
	REG_IIR = 2,	/* FCR on write */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_RDA		0x01
#define IER_THRE	0x02
#define IER_RLS		0x04
#define IER_MS		0x08
#define IIR_NONE	0x01
#define IIR_MS		0x00
#define IIR_THRE	0x02
#define IIR_RDA		0x04
#define IIR_FIFO	0xc0
#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define LCR_DLAB	0x80
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80
/* Without loopback the other end looks connected and ready. */
#define MSR_CONNECTED	(MSR_DCD | MSR_DSR | MSR_CTS)

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, msr, scr, fcr;
	uint8_t dll, dlm;
	bool thre_pending;	/* THR-empty interrupt owed to the guest */
	int irq_level;
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned int rx_head, rx_len;
	int out_fd;
	const struct serial_ops *ops;
	void *opaque;
	struct serial_stats stats;
};

struct serial *serial_create(int out_fd, const struct serial_ops *ops, void *opaque)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->ops = ops;
	s->opaque = opaque;
	s->msr = MSR_CONNECTED;
	s->dll = 0x0c;		/* 9600 baud, as after a reset */
	s->mcr = MCR_OUT2;
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Which interrupt, by 16550 priority; IIR_NONE when nothing is pending. */
static uint8_t pending_iir(const struct serial *s)
{
	if ((s->ier & IER_RDA) && s->rx_len)
		return IIR_RDA;
	if ((s->ier & IER_THRE) && s->thre_pending)
		return IIR_THRE;
	if ((s->ier & IER_MS) && (s->msr & (MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD)))
		return IIR_MS;
	return IIR_NONE;
}

static void update_irq(struct serial *s)
{
	int level = pending_iir(s) != IIR_NONE;
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->ops && s->ops->set_irq)
			s->ops->set_irq(s->opaque, level);
	}
}

static void rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_len == SERIAL_RX_FIFO)
		return;
	s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_FIFO] = byte;
	s->rx_len++;
}

static void transmit(struct serial *s, uint8_t byte)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, byte);
		return;
	}
	atomic_fetch_add_explicit(&s->stats.write_count, 1, memory_order_relaxed);
	if (s->out_fd < 0)
		return;
	if (write_all(s->out_fd, &byte, 1) < 0)
		atomic_fetch_add_explicit(&s->stats.missed_write_count, 1, memory_order_relaxed);
}

/* In loopback the modem inputs follow the outputs: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
static uint8_t loopback_msr(uint8_t mcr)
{
	return (uint8_t)(((mcr & MCR_DTR) ? MSR_DSR : 0) | ((mcr & MCR_RTS) ? MSR_CTS : 0) |
			 ((mcr & MCR_OUT1) ? MSR_RI : 0) | ((mcr & MCR_OUT2) ? MSR_DCD : 0));
}

static void write_mcr(struct serial *s, uint8_t v)
{
	uint8_t old = (s->mcr & MCR_LOOP) ? loopback_msr(s->mcr) : MSR_CONNECTED;
	s->mcr = v & 0x1f;
	uint8_t now = (s->mcr & MCR_LOOP) ? loopback_msr(s->mcr) : MSR_CONNECTED;
	uint8_t delta = 0;
	if ((old ^ now) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ now) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old ^ now) & MSR_DCD)
		delta |= MSR_DDCD;
	if ((old & MSR_RI) && !(now & MSR_RI))
		delta |= MSR_TERI;
	s->msr = (uint8_t)((s->msr & 0x0f) | delta | now);
}

static uint8_t reg_read(struct serial *s, uint64_t reg, bool *rx_freed)
{
	uint8_t v = 0;

	switch (reg) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_len) {
			*rx_freed = s->rx_len == SERIAL_RX_FIFO;
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
			s->rx_len--;
			atomic_fetch_add_explicit(&s->stats.read_count, 1, memory_order_relaxed);
		}
		return v;
	case REG_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case REG_IIR:
		v = pending_iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if (v == IIR_THRE)
			s->thre_pending = false;
		return (uint8_t)(v | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0));
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		/* Transmission is instantaneous: the transmitter is always empty. */
		return (uint8_t)(LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0));
	case REG_MSR:
		v = s->msr;
		s->msr &= 0xf0;	/* reading clears the delta bits */
		return v;
	case REG_SCR:
		return s->scr;
	default:
		return 0;
	}
}

static void reg_write(struct serial *s, uint64_t reg, uint8_t v)
{
	switch (reg) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		transmit(s, v);
		s->thre_pending = true;	/* sent at once, so the THR is empty again */
		return;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling THRE while the THR is empty raises the interrupt, as on a 16550. */
		if (!(s->ier & IER_THRE) && (v & IER_THRE))
			s->thre_pending = true;
		s->ier = v & (IER_RDA | IER_THRE | IER_RLS | IER_MS);
		return;
	case REG_IIR:
		s->fcr = v & 0xc9;
		if (v & FCR_CLEAR_RX) {
			s->rx_head = 0;
			s->rx_len = 0;
		}
		return;
	case REG_LCR:
		s->lcr = v;
		return;
	case REG_MCR:
		write_mcr(s, v);
		return;
	case REG_SCR:
		s->scr = v;
		return;
	default:
		return;	/* LSR and MSR are read-only */
	}
}

static void serial_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct serial *s = opaque;
	bool rx_freed = false;

	pthread_mutex_lock(&s->lock);
	data[0] = reg_read(s, offset, &rx_freed);
	for (uint32_t i = 1; i < len; i++)
		data[i] = 0;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (rx_freed && s->ops && s->ops->rx_space)
		s->ops->rx_space(s->opaque);
}

static void serial_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct serial *s = opaque;
	(void)len;

	pthread_mutex_lock(&s->lock);
	bool was_loop = s->mcr & MCR_LOOP;
	bool was_full = s->rx_len == SERIAL_RX_FIFO;
	reg_write(s, offset, data[0]);
	/*
	 * Leaving loopback reconnects the input, and clearing a full FIFO (FCR) makes
	 * room in it: either way, let the host resume feeding it.
	 */
	bool resume = (was_loop && !(s->mcr & MCR_LOOP)) ||
		      (was_full && s->rx_len < SERIAL_RX_FIFO);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (resume && s->ops && s->ops->rx_space)
		s->ops->rx_space(s->opaque);
}

const struct bus_dev_ops serial_bus_ops = {
	.read = serial_read,
	.write = serial_write,
};

size_t serial_push_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback the line is disconnected from the outside world. */
	if (!(s->mcr & MCR_LOOP)) {
		for (; n < len && s->rx_len < SERIAL_RX_FIFO; n++)
			rx_push(s, buf[n]);
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_room(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	size_t room = (s->mcr & MCR_LOOP) ? 0 : SERIAL_RX_FIFO - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return room;
}

const struct serial_stats *serial_stats(const struct serial *s)
{
	return &s->stats;
}
