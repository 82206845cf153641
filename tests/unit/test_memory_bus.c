/* Guest memory's checked accessor and the device bus's registration, lookup and dispatch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "bus.h"
#include "memory.h"

/* ---- guest memory ---- */

static uint8_t ram[4096];

Test(memory, ptr_inside_buffer)
{
	struct guest_mem gm;
	gm_init_buffer(&gm, 0x1000, ram, sizeof(ram));
	cr_assert_eq(gm_ptr(&gm, 0x1000, 1), ram);
	cr_assert_eq(gm_ptr(&gm, 0x1000, sizeof(ram)), ram);
	cr_assert_eq(gm_ptr(&gm, 0x1abc, 4), ram + 0xabc);
	cr_assert_eq(gm_ptr(&gm, 0x1fff, 1), ram + 0xfff);
	cr_assert_eq(gm_total(&gm), sizeof(ram));
}

Test(memory, ptr_outside_is_null)
{
	struct guest_mem gm;
	gm_init_buffer(&gm, 0x1000, ram, sizeof(ram));
	cr_assert_null(gm_ptr(&gm, 0xfff, 1), "below the region");
	cr_assert_null(gm_ptr(&gm, 0xfff, 2), "straddling the start");
	cr_assert_null(gm_ptr(&gm, 0x2000, 1), "just past the end");
	cr_assert_null(gm_ptr(&gm, 0x1fff, 2), "straddling the end");
	cr_assert_null(gm_ptr(&gm, 0x1000, sizeof(ram) + 1), "one byte too long");
	cr_assert_null(gm_ptr(&gm, 0, UINT64_MAX), "huge length");
	cr_assert(!gm_contains(&gm, 0x2000, 0));
	cr_assert(gm_contains(&gm, 0x1800, 0x800));
}

Test(memory, zero_length_is_one_byte)
{
	struct guest_mem gm;
	gm_init_buffer(&gm, 0x1000, ram, sizeof(ram));
	cr_assert_eq(gm_ptr(&gm, 0x1fff, 0), ram + 0xfff);
	cr_assert_null(gm_ptr(&gm, 0x2000, 0), "len 0 at the end must not be valid");
}

Test(memory, wrap_around_is_null)
{
	struct guest_mem gm;
	gm_init_buffer(&gm, 0, ram, sizeof(ram));
	/* gpa + len wraps to a small number that would pass a naive end <= size check. */
	cr_assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	cr_assert_null(gm_ptr(&gm, 0x10, UINT64_MAX - 8));
	cr_assert_null(gm_ptr(&gm, UINT64_MAX - 0xfff, 0x2000));
}

Test(memory, read_write_round_trip_and_efault)
{
	struct guest_mem gm;
	uint8_t out[8], in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	memset(ram, 0, sizeof(ram));
	gm_init_buffer(&gm, 0x1000, ram, sizeof(ram));
	cr_assert_eq(gm_write(&gm, 0x1ff8, in, sizeof(in)), 0);
	cr_assert_arr_eq(ram + 0xff8, in, sizeof(in));
	cr_assert_eq(gm_read(&gm, 0x1ff8, out, sizeof(out)), 0);
	cr_assert_arr_eq(out, in, sizeof(in));
	cr_assert_eq(gm_write(&gm, 0x1ff9, in, sizeof(in)), -EFAULT);
	cr_assert_eq(ram[0xff9], 2, "a refused write must not write anything");
	cr_assert_eq(gm_read(&gm, 0xffc, out, sizeof(out)), -EFAULT);
}

Test(memory, two_regions_no_access_across_the_gap)
{
	struct guest_mem gm;
	const struct gm_region layout[] = {
		{ .gpa = 0, .size = 0x10000 },
		{ .gpa = 0x100000000ULL, .size = 0x10000 },
	};
	cr_assert_eq(gm_create(&gm, layout, 2, GM_BACKING_ANON), 0);
	cr_assert_eq(gm.nr, 2);
	cr_assert_eq(gm_total(&gm), 0x20000);
	uint8_t *lo = gm_ptr(&gm, 0xfff0, 0x10), *hi = gm_ptr(&gm, 0x100000000ULL, 0x10);
	cr_assert_not_null(lo);
	cr_assert_not_null(hi);
	cr_assert_neq(lo, hi);
	cr_assert_null(gm_ptr(&gm, 0x10000, 1), "the gap is not RAM");
	cr_assert_null(gm_ptr(&gm, 0xffff, 2), "crossing out of the low region");
	cr_assert_null(gm_ptr(&gm, 0xffffffffULL, 2), "crossing into the high region");
	cr_assert_null(gm_ptr(&gm, 0x10000fff0ULL, 0x20), "past the high region");
	/* The high region is distinct host memory: writing one does not show in the other. */
	cr_assert_eq(gm_write(&gm, 0x100000000ULL, "HIGH", 4), 0);
	cr_assert_eq(gm_write(&gm, 0, "LOW!", 4), 0);
	cr_assert_eq(memcmp(gm_ptr(&gm, 0x100000000ULL, 4), "HIGH", 4), 0);
	gm_destroy(&gm);
	cr_assert_eq(gm.nr, 0);
}

Test(memory, create_refuses_bad_layouts)
{
	struct guest_mem gm;
	const struct gm_region overlap[] = { { .gpa = 0, .size = 0x2000 },
					     { .gpa = 0x1000, .size = 0x1000 } };
	const struct gm_region empty[] = { { .gpa = 0, .size = 0 } };
	cr_assert_eq(gm_create(&gm, overlap, 2, GM_BACKING_ANON), -EINVAL);
	cr_assert_eq(gm_create(&gm, empty, 1, GM_BACKING_ANON), -EINVAL);
	cr_assert_eq(gm_create(&gm, overlap, 0, GM_BACKING_ANON), -EINVAL);
	cr_assert_eq(gm_create(&gm, overlap, GM_MAX_REGIONS + 1, GM_BACKING_ANON), -EINVAL);
}

/* ---- bus ---- */

struct rec {
	uint64_t offset;
	uint32_t len;
	uint8_t data[8];
	int reads, writes;
};

static void rec_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;
	r->reads++;
	r->offset = offset;
	r->len = len;
	memset(data, 0x5a, len);
}

static void rec_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;
	r->writes++;
	r->offset = offset;
	r->len = len;
	memcpy(r->data, data, len);
}

static const struct bus_dev_ops rec_ops = { .read = rec_read, .write = rec_write };

Test(bus, register_keeps_sorted_and_finds)
{
	struct bus bus;
	struct rec a = { 0 }, b = { 0 }, c = { 0 };
	bus_init(&bus, "pio");
	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &rec_ops, &a, "serial"), 0);
	cr_assert_eq(bus_register(&bus, 0x60, 5, &rec_ops, &b, "i8042"), 0);
	cr_assert_eq(bus_register(&bus, 0x80, 1, &rec_ops, &c, "post"), 0);
	cr_assert_eq(bus.nr, 3);
	cr_assert_eq(bus.ranges[0].base, 0x60);
	cr_assert_eq(bus.ranges[1].base, 0x80);
	cr_assert_eq(bus.ranges[2].base, 0x3f8);

	cr_assert_eq(bus_find(&bus, 0x3f8, 1)->opaque, &a);
	cr_assert_eq(bus_find(&bus, 0x3ff, 1)->opaque, &a);
	cr_assert_eq(bus_find(&bus, 0x64, 1)->opaque, &b);
	cr_assert_eq(bus_find(&bus, 0x80, 1)->opaque, &c);
	cr_assert_str_eq(bus_find(&bus, 0x60, 1)->name, "i8042");
	cr_assert_null(bus_find(&bus, 0x65, 1));
	cr_assert_null(bus_find(&bus, 0x3f7, 1));
	cr_assert_null(bus_find(&bus, 0x400, 1));
	cr_assert_null(bus_find(&bus, 0, 1));
}

Test(bus, access_past_device_end_not_found)
{
	struct bus bus;
	struct rec a = { 0 };
	bus_init(&bus, "pio");
	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &rec_ops, &a, "serial"), 0);
	cr_assert_not_null(bus_find(&bus, 0x3fc, 4));
	cr_assert_null(bus_find(&bus, 0x3fd, 4), "a 4-byte access at +5 runs past +7");
	cr_assert_null(bus_find(&bus, 0x3ff, 2));
	cr_assert_null(bus_find(&bus, 0x3f8, 0), "empty access");
}

Test(bus, overlap_refused)
{
	struct bus bus;
	bus_init(&bus, "mmio");
	cr_assert_eq(bus_register(&bus, 0x1000, 0x100, &rec_ops, NULL, "a"), 0);
	cr_assert_eq(bus_register(&bus, 0x1000, 0x100, &rec_ops, NULL, "same"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x10ff, 1, &rec_ops, NULL, "last byte"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0xf00, 0x101, &rec_ops, NULL, "into start"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x800, 0x1000, &rec_ops, NULL, "covers"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x1080, 0x10, &rec_ops, NULL, "inside"), -EEXIST);
	cr_assert_eq(bus.nr, 1);
	/* Adjacent ranges on either side are fine. */
	cr_assert_eq(bus_register(&bus, 0xf00, 0x100, &rec_ops, NULL, "before"), 0);
	cr_assert_eq(bus_register(&bus, 0x1100, 0x100, &rec_ops, NULL, "after"), 0);
	cr_assert_eq(bus.nr, 3);
}

Test(bus, empty_and_wrapping_refused)
{
	struct bus bus;
	bus_init(&bus, "mmio");
	cr_assert_eq(bus_register(&bus, 0x1000, 0, &rec_ops, NULL, "empty"), -EINVAL);
	cr_assert_eq(bus_register(&bus, UINT64_MAX, 2, &rec_ops, NULL, "wraps"), -EINVAL);
	cr_assert_eq(bus.nr, 0);
	/* The very last byte of the address space is a valid range. */
	cr_assert_eq(bus_register(&bus, UINT64_MAX, 1, &rec_ops, NULL, "top"), 0);
	cr_assert_not_null(bus_find(&bus, UINT64_MAX, 1));
	cr_assert_null(bus_find(&bus, UINT64_MAX, 2));
}

Test(bus, full_table_refused)
{
	struct bus bus;
	bus_init(&bus, "pio");
	for (unsigned int i = 0; i < BUS_MAX_RANGES; i++)
		cr_assert_eq(bus_register(&bus, 0x1000 + 0x10 * (uint64_t)i, 0x10, &rec_ops, NULL,
					  "dev"), 0, "range %u", i);
	cr_assert_eq(bus_register(&bus, 0x100, 1, &rec_ops, NULL, "one more"), -ENOSPC);
	cr_assert_eq(bus.nr, BUS_MAX_RANGES);
	/* Binary search finds every one of them, including first and last. */
	for (unsigned int i = 0; i < BUS_MAX_RANGES; i++)
		cr_assert_eq(bus_find(&bus, 0x1000 + 0x10 * (uint64_t)i + 0xf, 1)->base,
			     0x1000 + 0x10 * (uint64_t)i);
}

Test(bus, dispatch_passes_offset)
{
	struct bus bus;
	struct rec a = { 0 };
	uint8_t buf[4] = { 0 };
	const uint8_t w[2] = { 0x12, 0x34 };
	bus_init(&bus, "pio");
	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &rec_ops, &a, "serial"), 0);
	cr_assert(bus_read(&bus, 0x3fd, buf, 1));
	cr_assert_eq(a.reads, 1);
	cr_assert_eq(a.offset, 5);
	cr_assert_eq(buf[0], 0x5a);
	cr_assert(bus_write(&bus, 0x3f9, w, 2));
	cr_assert_eq(a.writes, 1);
	cr_assert_eq(a.offset, 1);
	cr_assert_eq(a.len, 2);
	cr_assert_arr_eq(a.data, w, 2);
}

Test(bus, unclaimed_reads_all_ones)
{
	struct bus bus;
	struct rec a = { 0 };
	uint8_t buf[4] = { 0 };
	const uint8_t w = 1;
	bus_init(&bus, "pio");
	cr_assert_eq(bus_register(&bus, 0x3f8, 8, &rec_ops, &a, "serial"), 0);
	cr_assert_not(bus_read(&bus, 0x2f8, buf, 4));
	for (int i = 0; i < 4; i++)
		cr_assert_eq(buf[i], 0xff);
	cr_assert_not(bus_write(&bus, 0x2f8, &w, 1));
	memset(buf, 0, sizeof(buf));
	cr_assert_not(bus_read(&bus, 0x3fe, buf, 4), "runs past the device");
	cr_assert_eq(buf[0], 0xff);
	cr_assert_eq(a.reads, 0);
	cr_assert_eq(a.writes, 0);
}

Test(bus, device_without_handlers)
{
	struct bus bus;
	static const struct bus_dev_ops none = { 0 };
	uint8_t v = 0;
	bus_init(&bus, "pio");
	cr_assert_eq(bus_register(&bus, 0x80, 1, &none, NULL, "post"), 0);
	cr_assert(bus_read(&bus, 0x80, &v, 1), "claimed, though it has no read handler");
	cr_assert_eq(v, 0xff);
	cr_assert(bus_write(&bus, 0x80, &v, 1));
}
