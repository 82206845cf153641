/* The i8042 keyboard controller as Linux probes it, and the 0xfe reset pulse. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "i8042.h"

enum { DATA = 0, CMD = 4, STATUS = 4 };

struct recorder {
	int irq, raises, resets;
};

static struct recorder rec;
static struct i8042 *k;

static void on_irq(void *opaque, int level)
{
	struct recorder *r = opaque;
	cr_assert_neq(level, r->irq, "set_irq called without a change of level");
	r->irq = level;
	r->raises += level;
}

static void on_reset(void *opaque)
{
	((struct recorder *)opaque)->resets++;
}

static const struct i8042_ops ops = { .set_irq = on_irq, .reset = on_reset };

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
	k = i8042_create(&ops, &rec);
	cr_assert_not_null(k);
}

static void teardown(void)
{
	i8042_destroy(k);
}

TestSuite(i8042, .init = setup, .fini = teardown);

static uint8_t rd(uint64_t off)
{
	uint8_t v = 0x5a;
	i8042_bus_ops.read(k, off, &v, 1);
	return v;
}

static void wr(uint64_t off, uint8_t v)
{
	i8042_bus_ops.write(k, off, &v, 1);
}

Test(i8042, initial_status)
{
	cr_assert_eq(rd(STATUS) & 0x01, 0, "output buffer empty");
	cr_assert(rd(STATUS) & 0x04, "system flag: self-test passed");
	cr_assert_eq(rd(DATA), 0, "nothing to read");
	cr_assert_eq(i8042_stats(k)->missed_read_count, 1);
	cr_assert_eq(rec.irq, 0);
}

Test(i8042, self_test)
{
	wr(CMD, 0xaa);
	cr_assert(rd(STATUS) & 0x01, "OBF after the command");
	cr_assert(rd(STATUS) & 0x08, "last write was a command");
	cr_assert_eq(rd(DATA), 0x55);
	cr_assert_eq(rd(STATUS) & 0x01, 0, "OBF clears once read");
}

Test(i8042, interface_tests)
{
	wr(CMD, 0xab);
	cr_assert_eq(rd(DATA), 0x00, "keyboard interface OK");
	wr(CMD, 0xa9);
	cr_assert_eq(rd(DATA), 0xff, "no aux port");
}

Test(i8042, command_byte_read_write)
{
	wr(CMD, 0x20);
	cr_assert_eq(rd(DATA), 0x45, "IRQ1 enabled, system flag, translation");
	wr(CMD, 0x60);
	wr(DATA, 0x74);
	cr_assert_eq(rd(STATUS) & 0x08, 0, "last write was data");
	cr_assert_eq(rd(STATUS) & 0x01, 0, "writing the CTR produces no byte");
	wr(CMD, 0x20);
	cr_assert_eq(rd(DATA), 0x74);
}

Test(i8042, enable_disable_commands_update_ctr)
{
	wr(CMD, 0xad);
	wr(CMD, 0xa7);
	wr(CMD, 0x20);
	cr_assert_eq(rd(DATA), 0x45 | 0x10 | 0x20);
	wr(CMD, 0xae);
	wr(CMD, 0xa8);
	wr(CMD, 0x20);
	cr_assert_eq(rd(DATA), 0x45);
}

Test(i8042, irq_when_output_pending_and_enabled)
{
	wr(CMD, 0xaa);
	cr_assert_eq(rec.irq, 1, "CTR bit 0 set by default");
	(void)rd(DATA);
	cr_assert_eq(rec.irq, 0, "lowered when the byte is taken");

	wr(CMD, 0x60);
	wr(DATA, 0x44);	/* IRQ1 off */
	wr(CMD, 0xaa);
	cr_assert_eq(rec.irq, 0, "no IRQ with CTR bit 0 clear");
	cr_assert(rd(STATUS) & 0x01, "the byte is still there to poll");
	cr_assert_eq(rd(DATA), 0x55);
	cr_assert_eq(rec.raises, 1);
}

Test(i8042, keyboard_reset_acks_and_passes)
{
	wr(DATA, 0xff);
	cr_assert_eq(rd(DATA), 0xfa);
	cr_assert_eq(rd(DATA), 0xaa);
	cr_assert_eq(rd(STATUS) & 0x01, 0);
}

Test(i8042, other_keyboard_bytes_acked)
{
	wr(DATA, 0xf4);
	cr_assert_eq(rd(DATA), 0xfa);
	cr_assert_eq(rd(STATUS) & 0x01, 0);
}

Test(i8042, write_keyboard_output_buffer)
{
	wr(CMD, 0xd2);
	wr(DATA, 0x1c);
	cr_assert_eq(rd(DATA), 0x1c, "echoed as if the keyboard sent it");
}

Test(i8042, output_port)
{
	wr(CMD, 0xd0);
	cr_assert_eq(rd(DATA) & 0x01, 0x01, "reset line not asserted");
	wr(CMD, 0xd1);
	wr(DATA, 0xdf);
	cr_assert_eq(rd(STATUS) & 0x01, 0, "writing the output port is not a keyboard byte");
	cr_assert_eq(rec.resets, 0);
}

Test(i8042, reset_pulse_calls_reset_once)
{
	wr(CMD, 0xfe);
	cr_assert_eq(rec.resets, 1);
	cr_assert_eq(i8042_stats(k)->reset_count, 1);
	wr(CMD, 0xfc);	/* another pulse command: ignored */
	cr_assert_eq(rec.resets, 1);
	wr(DATA, 0xfe);	/* 0xfe as data is a keyboard byte, not a reset */
	cr_assert_eq(rec.resets, 1);
	cr_assert_eq(rd(DATA), 0xfa);
}

Test(i8042, output_buffer_bounded)
{
	for (int i = 0; i < 20; i++)
		wr(CMD, 0xaa);
	int n = 0;
	while (rd(STATUS) & 0x01) {
		cr_assert_eq(rd(DATA), 0x55);
		cr_assert_lt(++n, 20);
	}
	cr_assert_gt(n, 0);
	cr_assert_eq(rec.irq, 0);
}

Test(i8042, other_ports_read_all_ones)
{
	cr_assert_eq(rd(1), 0xff);
	cr_assert_eq(rd(3), 0xff);
	wr(2, 0xfe);
	cr_assert_eq(rec.resets, 0);
}

Test(i8042, ctrl_alt_del_types_three_keys_with_an_edge_per_byte)
{
	cr_assert_eq(i8042_ctrl_alt_del(k), 0);
	/* Translation is on by default: scan code set 1, Ctrl, Alt, then E0-prefixed Delete. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53 };
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(rec.irq, 1, "byte %d: IRQ 1 raised", i);
		cr_assert_eq(rec.raises, i + 1, "byte %d: one edge per byte", i);
		cr_assert(rd(STATUS) & 0x01);
		cr_assert_eq(rd(DATA), set1[i], "byte %d", i);
	}
	cr_assert_eq(rec.irq, 0, "lowered once every byte was read");
	cr_assert_not(rd(STATUS) & 0x01);

	/* With translation off (i8042.direct), set 2. */
	wr(CMD, 0x60);
	wr(DATA, 0x05);
	cr_assert_eq(i8042_ctrl_alt_del(k), 0);
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71 };
	for (int i = 0; i < 4; i++)
		cr_assert_eq(rd(DATA), set2[i], "byte %d", i);
}

Test(i8042, ctrl_alt_del_needs_room_in_the_buffer)
{
	cr_assert_eq(i8042_ctrl_alt_del(k), 0);
	cr_assert_eq(i8042_ctrl_alt_del(k), 0);
	/* Eight bytes waiting, none read: a guest that does not read gets no more. */
	cr_assert_eq(i8042_ctrl_alt_del(k), -EAGAIN);
	for (int i = 0; i < 8; i++)
		(void)rd(DATA);
	cr_assert_eq(rec.irq, 0);
	cr_assert_eq(i8042_ctrl_alt_del(k), 0);
}
