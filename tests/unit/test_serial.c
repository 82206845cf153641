/* The 16550A UART seen through its registers: output, FIFO, interrupts, DLAB, loopback, flow control. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "devices/serial.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

struct recorder {
	int irq;		/* current line level */
	int raises, lowers;
	int rx_space;
};

static struct recorder rec;
static struct serial *s;
static int out[2];		/* pipe: the UART writes out[1], the test reads out[0] */

static void on_irq(void *opaque, int level)
{
	struct recorder *r = opaque;
	cr_assert_neq(level, r->irq, "set_irq called without a change of level");
	r->irq = level;
	if (level)
		r->raises++;
	else
		r->lowers++;
}

static void on_rx_space(void *opaque)
{
	((struct recorder *)opaque)->rx_space++;
}

static const struct serial_ops ops = { .set_irq = on_irq, .rx_space = on_rx_space };

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
	cr_assert_eq(pipe2(out, O_NONBLOCK | O_CLOEXEC), 0);
	s = serial_create(out[1], &ops, &rec);
	cr_assert_not_null(s);
}

static void teardown(void)
{
	serial_destroy(s);
	close(out[0]);
	close(out[1]);
}

TestSuite(serial, .init = setup, .fini = teardown);

static uint8_t rd(uint64_t reg)
{
	uint8_t v = 0x5a;
	serial_bus_ops.read(s, reg, &v, 1);
	return v;
}

static void wr(uint64_t reg, uint8_t v)
{
	serial_bus_ops.write(s, reg, &v, 1);
}

/* Everything the guest has sent so far, as a string. */
static const char *output(void)
{
	static char buf[256];
	ssize_t n = read(out[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void push(const char *str)
{
	cr_assert_eq(serial_push_input(s, (const uint8_t *)str, strlen(str)), strlen(str));
}

Test(serial, thr_writes_reach_output)
{
	for (const char *p = "hello\n"; *p; p++)
		wr(THR, (uint8_t)*p);
	cr_assert_str_eq(output(), "hello\n");
	cr_assert_eq(serial_stats(s)->write_count, 6);
	cr_assert_eq(serial_stats(s)->missed_write_count, 0);
}

Test(serial, reset_state)
{
	cr_assert_eq(rd(IER), 0);
	cr_assert_eq(rd(IIR), 0x01, "no interrupt pending, FIFOs off");
	cr_assert_eq(rd(LCR), 0);
	cr_assert_eq(rd(MCR), 0x08, "OUT2");
	cr_assert_eq(rd(LSR), 0x60, "THRE | TEMT, no data");
	cr_assert_eq(rd(MSR) & 0xf0, 0xb0, "DCD, DSR, CTS: the other end is there");
	cr_assert_eq(rec.irq, 0);
}

Test(serial, lsr_data_ready)
{
	cr_assert_eq(rd(LSR) & 0x01, 0);
	push("ab");
	cr_assert_eq(rd(LSR), 0x61);
	cr_assert_eq(rd(RBR), 'a');
	cr_assert_eq(rd(LSR) & 0x01, 1);
	cr_assert_eq(rd(RBR), 'b');
	cr_assert_eq(rd(LSR), 0x60);
	cr_assert_eq(rd(RBR), 0, "empty FIFO reads 0");
	cr_assert_eq(serial_stats(s)->read_count, 2);
}

Test(serial, rda_interrupt_raised_and_cleared)
{
	push("x");
	cr_assert_eq(rec.irq, 0, "IER RDA off: no interrupt");
	cr_assert_eq(rd(IIR), 0x01);
	wr(IER, 0x01);
	cr_assert_eq(rec.irq, 1, "enabling RDA with data waiting raises the line");
	cr_assert_eq(rd(IIR), 0x04);
	cr_assert_eq(rd(RBR), 'x');
	cr_assert_eq(rec.irq, 0, "draining the FIFO lowers it");
	cr_assert_eq(rd(IIR), 0x01);

	push("yz");
	cr_assert_eq(rec.irq, 1, "input with RDA enabled raises the line");
	cr_assert_eq(rd(RBR), 'y');
	cr_assert_eq(rec.irq, 1, "still data left");
	cr_assert_eq(rd(RBR), 'z');
	cr_assert_eq(rec.irq, 0);
	cr_assert_eq(rec.raises, 2);
	cr_assert_eq(rec.lowers, 2);
}

Test(serial, thre_interrupt_on_enable_and_after_write)
{
	wr(IER, 0x02);
	cr_assert_eq(rec.irq, 1, "enabling THRE with an empty THR raises the line");
	cr_assert_eq(rd(IIR), 0x02);
	cr_assert_eq(rec.irq, 0, "reading IIR acknowledges THRE");
	cr_assert_eq(rd(IIR), 0x01, "and only once");

	wr(THR, 'A');
	cr_assert_eq(rec.irq, 1, "THR empty again after the write");
	cr_assert_eq(rd(IIR), 0x02);
	cr_assert_eq(rec.irq, 0);

	/* Re-writing IER with THRE already on does not invent a new interrupt. */
	wr(IER, 0x02);
	cr_assert_eq(rd(IIR), 0x01);
	/* Disabling and enabling again does (Linux's THRE test relies on it). */
	wr(IER, 0x00);
	wr(IER, 0x02);
	cr_assert_eq(rd(IIR), 0x02);
	cr_assert_str_eq(output(), "A");
}

Test(serial, thre_masked_without_ier)
{
	wr(THR, 'A');
	cr_assert_eq(rec.irq, 0);
	cr_assert_eq(rd(IIR), 0x01);
}

Test(serial, iir_priority_rda_over_thre)
{
	wr(IER, 0x03);
	push("q");
	cr_assert_eq(rd(IIR), 0x04, "received data first");
	cr_assert_eq(rd(IIR), 0x04, "reading IIR does not acknowledge RDA");
	cr_assert_eq(rd(RBR), 'q');
	cr_assert_eq(rd(IIR), 0x02, "THRE still owed after RDA is served");
	cr_assert_eq(rd(IIR), 0x01);
	cr_assert_eq(rec.irq, 0);
}

Test(serial, fifo_bits_in_iir)
{
	wr(FCR, 0x01);
	cr_assert_eq(rd(IIR), 0xc1, "FIFOs enabled: bits 6-7 set");
	wr(IER, 0x02);
	cr_assert_eq(rd(IIR), 0xc2);
	wr(FCR, 0x00);
	cr_assert_eq(rd(IIR), 0x01);
}

Test(serial, fcr_clears_receive_fifo)
{
	push("abc");
	wr(FCR, 0x07);
	cr_assert_eq(rd(LSR) & 0x01, 0);
	cr_assert_eq(rd(RBR), 0);
	cr_assert_eq(serial_rx_room(s), SERIAL_RX_FIFO);
}

Test(serial, dlab_switches_divisor_latch)
{
	wr(IER, 0x01);
	wr(LCR, 0x83);
	cr_assert_eq(rd(LCR), 0x83);
	cr_assert_eq(rd(DLL), 0x0c, "9600 baud after reset");
	cr_assert_eq(rd(DLM), 0x00);
	wr(DLL, 0x01);
	wr(DLM, 0x02);
	cr_assert_eq(rd(DLL), 0x01);
	cr_assert_eq(rd(DLM), 0x02);
	cr_assert_str_eq(output(), "", "a DLL write is not output");
	wr(LCR, 0x03);
	cr_assert_eq(rd(IER), 0x01, "IER kept, not overwritten by DLM");
	wr(THR, 'Z');
	cr_assert_str_eq(output(), "Z");
	wr(LCR, 0x83);
	cr_assert_eq(rd(DLL), 0x01, "DLL kept, not overwritten by THR");
}

Test(serial, scratch_register)
{
	wr(SCR, 0xa5);
	cr_assert_eq(rd(SCR), 0xa5);
	wr(SCR, 0x5a);
	cr_assert_eq(rd(SCR), 0x5a);
}

Test(serial, ier_keeps_only_defined_bits)
{
	wr(IER, 0xff);
	cr_assert_eq(rd(IER), 0x0f);
}

Test(serial, loopback)
{
	wr(MCR, 0x1a);	/* what Linux's autoconfig writes */
	cr_assert_eq(rd(MSR) & 0xf0, 0x90, "CTS and DCD follow RTS and OUT2");
	wr(THR, 'L');
	cr_assert_str_eq(output(), "", "loopback data never leaves the UART");
	cr_assert_eq(rd(LSR) & 0x01, 1);
	cr_assert_eq(rd(RBR), 'L');
	cr_assert_eq(serial_push_input(s, (const uint8_t *)"h", 1), 0,
		     "host input refused in loopback");
	cr_assert_eq(serial_rx_room(s), 0);
	wr(MCR, 0x1f);
	cr_assert_eq(rd(MSR) & 0xf0, 0xf0);
	wr(MCR, 0x10);
	cr_assert_eq(rd(MSR) & 0xf0, 0x00);
	cr_assert_eq(rec.rx_space, 0);

	wr(MCR, 0x0b);	/* leave loopback */
	cr_assert_eq(rec.rx_space, 1, "the host is told to resume feeding input");
	cr_assert_eq(rd(MSR) & 0xf0, 0xb0);
	wr(THR, 'O');
	cr_assert_str_eq(output(), "O");
	push("i");
	cr_assert_eq(rd(RBR), 'i');
}

Test(serial, msr_delta_bits)
{
	(void)rd(MSR);
	wr(MCR, 0x10);	/* loopback with every output low: all inputs drop */
	uint8_t v = rd(MSR);
	cr_assert_eq(v & 0xf0, 0);
	cr_assert_eq(v & 0x0b, 0x0b, "DCTS, DDSR, DDCD (0x%02x)", v);
	cr_assert_eq(rd(MSR) & 0x0f, 0, "reading MSR clears the deltas");
	wr(MCR, 0x14);	/* OUT1 -> RI */
	cr_assert_eq(rd(MSR) & 0x40, 0x40);
	wr(MCR, 0x10);	/* RI falls: trailing edge */
	cr_assert_eq(rd(MSR) & 0x04, 0x04);
}

Test(serial, modem_status_interrupt)
{
	(void)rd(MSR);
	wr(IER, 0x08);
	cr_assert_eq(rec.irq, 0);
	wr(MCR, 0x10);
	cr_assert_eq(rec.irq, 1);
	cr_assert_eq(rd(IIR), 0x00, "modem status interrupt");
	(void)rd(MSR);
	cr_assert_eq(rec.irq, 0);
}

Test(serial, push_input_returns_what_fits)
{
	uint8_t buf[100];
	for (int i = 0; i < 100; i++)
		buf[i] = (uint8_t)i;
	cr_assert_eq(serial_push_input(s, buf, 40), 40);
	cr_assert_eq(serial_rx_room(s), SERIAL_RX_FIFO - 40);
	cr_assert_eq(serial_push_input(s, buf + 40, 60), 24);
	cr_assert_eq(serial_rx_room(s), 0);
	cr_assert_eq(serial_push_input(s, buf, 1), 0);
	for (int i = 0; i < SERIAL_RX_FIFO; i++)
		cr_assert_eq(rd(RBR), i, "byte %d in order", i);
	cr_assert_eq(rd(LSR) & 0x01, 0);
}

Test(serial, rx_space_when_full_fifo_gets_room)
{
	uint8_t buf[SERIAL_RX_FIFO] = { 0 };
	cr_assert_eq(serial_push_input(s, buf, sizeof(buf)), SERIAL_RX_FIFO);
	cr_assert_eq(rec.rx_space, 0);
	(void)rd(RBR);
	cr_assert_eq(rec.rx_space, 1);
	(void)rd(RBR);
	cr_assert_eq(rec.rx_space, 1, "only when it was full");
	cr_assert_eq(serial_push_input(s, buf, 2), 2);
	(void)rd(RBR);
	cr_assert_eq(rec.rx_space, 2);
}

Test(serial, rx_space_when_full_fifo_is_cleared)
{
	uint8_t buf[SERIAL_RX_FIFO] = { 0 };
	cr_assert_eq(serial_push_input(s, buf, sizeof(buf)), SERIAL_RX_FIFO);
	wr(FCR, 0x07);	/* Linux clears the FIFOs when it opens the port */
	cr_assert_eq(serial_rx_room(s), SERIAL_RX_FIFO);
	cr_assert_eq(rec.rx_space, 1, "the host must resume feeding input");
	wr(FCR, 0x07);
	cr_assert_eq(rec.rx_space, 1, "not again when it was not full");
}

Test(serial, discarded_output)
{
	struct serial *d = serial_create(-1, &ops, &rec);
	uint8_t c = 'x';
	serial_bus_ops.write(d, THR, &c, 1);
	cr_assert_eq(serial_stats(d)->write_count, 1);
	cr_assert_eq(serial_stats(d)->missed_write_count, 0);
	serial_destroy(d);
}

Test(serial, failed_output_counted)
{
	signal(SIGPIPE, SIG_IGN);	/* each test is its own process */
	close(out[0]);
	out[0] = -1;
	wr(THR, 'x');	/* EPIPE: the reader is gone */
	cr_assert_eq(serial_stats(s)->write_count, 1);
	cr_assert_eq(serial_stats(s)->missed_write_count, 1);
}

Test(serial, wide_read_zero_extends)
{
	uint8_t v[4] = { 0xff, 0xff, 0xff, 0xff };
	wr(SCR, 0x42);
	serial_bus_ops.read(s, SCR, v, 4);
	cr_assert_eq(v[0], 0x42);
	cr_assert_eq(v[1] | v[2] | v[3], 0);
}
