/*
 * arm64's device tree, built from a machine description and read back with libfdt, plus a
 * golden `dtc -I dtb -O dts` rendering; and the kernel Image header parser. Pure code:
 * this test builds and runs on x86-64 as on arm64 (under qemu-user when cross-built).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/aarch64/devicetree.h"
#include "arch/aarch64/image.h"

#define FDT_BUF 65536
static uint8_t fdt[FDT_BUF];

/* Two vCPUs, GICv3, two virtio devices, an initrd, a fixed "random" seed. */
static struct a64_machine sample(void)
{
	struct a64_machine m = {
		.mem = { 0x80000000ULL, 256ULL << 20 },
		.nr_cpus = 2,
		.mpidr = { 0x80000000ULL, 0x80000001ULL },
		.gic_version = 3,
		.gic_dist = { 0x3fff0000ULL, 0x10000 },
		.gic_redist = { 0x3ffb0000ULL, 0x40000 },
		.serial = { "ns16550a", { 0x40000000ULL, 0x1000 }, 1, false },
		.rtc = { "arm,pl031", { 0x40001000ULL, 0x1000 }, 2, false },
		.nr_devices = 2,
		.devices = {
			{ "virtio,mmio", { 0x40003000ULL, 0x1000 }, 3, true },
			{ "virtio,mmio", { 0x40004000ULL, 0x1000 }, 4, true },
		},
		.bootargs = "console=ttyS0 earlycon reboot=k panic=1 root=/dev/vda rw",
		.initrd_start = 0x8fc00000ULL,
		.initrd_size = 0x123456,
		.rng_seed_len = 8,
	};
	memcpy(m.rng_seed, "01234567", 8);
	return m;
}

static void build(const struct a64_machine *m)
{
	struct error err = { 0 };
	memset(fdt, 0xa5, sizeof(fdt));
	cr_assert_eq(a64_fdt_build(m, fdt, sizeof(fdt), &err), 0, "%s", err.msg);
	cr_assert_eq(fdt_check_full(fdt, sizeof(fdt)), 0);
}

static int node(const char *path)
{
	int off = fdt_path_offset(fdt, path);
	cr_assert_geq(off, 0, "%s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(fdt, node(path), name, len);
	cr_assert_not_null(p, "%s: no property %s", path, name);
	return p;
}

static const char *prop_str(const char *path, const char *name)
{
	int len;
	const char *s = prop(path, name, &len);
	cr_assert_eq(s[len - 1], '\0');
	return s;
}

static uint32_t cell(const char *path, const char *name, int i)
{
	int len;
	const fdt32_t *c = prop(path, name, &len);
	cr_assert_lt(i * 4, len, "%s/%s has %d cells", path, name, len / 4);
	return fdt32_to_cpu(c[i]);
}

static uint64_t reg64(const char *path, int i)
{
	return (uint64_t)cell(path, "reg", 2 * i) << 32 | cell(path, "reg", 2 * i + 1);
}

Test(aarch64_fdt, root_memory_and_cpus)
{
	struct a64_machine m = sample();
	build(&m);
	cr_expect_str_eq(prop_str("/", "compatible"), "linux,dummy-virt");
	cr_expect_eq(cell("/", "#address-cells", 0), 2);
	cr_expect_eq(cell("/", "#size-cells", 0), 2);
	cr_expect_str_eq(prop_str("/memory@80000000", "device_type"), "memory");
	cr_expect_eq(reg64("/memory@80000000", 0), 0x80000000ULL);
	cr_expect_eq(reg64("/memory@80000000", 1), 256ULL << 20);
	/* MPIDR's affinity bits, not its RES1 bit 31, name each CPU. */
	cr_expect_eq(reg64("/cpus/cpu@0", 0), 0);
	cr_expect_eq(reg64("/cpus/cpu@1", 0), 1);
	cr_expect_str_eq(prop_str("/cpus/cpu@1", "enable-method"), "psci");
	cr_expect_str_eq(prop_str("/cpus/cpu@1", "device_type"), "cpu");
	cr_expect_lt(fdt_path_offset(fdt, "/cpus/cpu@2"), 0);
}

Test(aarch64_fdt, psci_timer_and_gicv3)
{
	struct a64_machine m = sample();
	int len;
	build(&m);
	cr_expect_eq(fdt_node_check_compatible(fdt, node("/psci"), "arm,psci-0.2"), 0);
	cr_expect_eq(fdt_node_check_compatible(fdt, node("/psci"), "arm,psci-1.0"), 0);
	cr_expect_str_eq(prop_str("/psci", "method"), "hvc");
	cr_expect_str_eq(prop_str("/intc@3fff0000", "compatible"), "arm,gic-v3");
	cr_expect_eq(reg64("/intc@3fff0000", 0), 0x3fff0000ULL);
	cr_expect_eq(reg64("/intc@3fff0000", 1), 0x10000);
	cr_expect_eq(reg64("/intc@3fff0000", 2), 0x3ffb0000ULL);
	cr_expect_eq(reg64("/intc@3fff0000", 3), 0x40000);
	cr_expect_eq(cell("/intc@3fff0000", "#interrupt-cells", 0), 3);
	prop("/intc@3fff0000", "interrupt-controller", &len);
	cr_expect_eq(len, 0);
	/* Every interrupt-parent and clock reference resolves. */
	cr_expect_eq(fdt_node_offset_by_phandle(fdt, cell("/", "interrupt-parent", 0)),
		     node("/intc@3fff0000"));
	cr_expect_eq(fdt_node_offset_by_phandle(fdt, cell("/rtc@40001000", "clocks", 0)),
		     node("/apb-pclk"));
	/* The timer's four PPIs, level-low, without a CPU mask on GICv3. */
	prop("/timer", "interrupts", &len);
	cr_expect_eq(len, 12 * 4);
	const uint32_t ppis[] = { 13, 14, 11, 10 };
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(cell("/timer", "interrupts", 3 * i), 1);
		cr_expect_eq(cell("/timer", "interrupts", 3 * i + 1), ppis[i]);
		cr_expect_eq(cell("/timer", "interrupts", 3 * i + 2), 8);
	}
}

Test(aarch64_fdt, gicv2_fallback)
{
	struct a64_machine m = sample();
	m.gic_version = 2;
	m.gic_dist = (struct a64_fdt_window){ 0x3fff0000ULL, 0x1000 };
	m.gic_cpu = (struct a64_fdt_window){ 0x3ffe0000ULL, 0x2000 };
	build(&m);
	cr_expect_str_eq(prop_str("/intc@3fff0000", "compatible"), "arm,cortex-a15-gic");
	cr_expect_eq(reg64("/intc@3fff0000", 2), 0x3ffe0000ULL);
	cr_expect_eq(reg64("/intc@3fff0000", 3), 0x2000);
	/* PPIs routed to both CPUs. */
	cr_expect_eq(cell("/timer", "interrupts", 2), 0x308);
}

Test(aarch64_fdt, devices_and_chosen)
{
	struct a64_machine m = sample();
	int len;
	build(&m);
	cr_expect_str_eq(prop_str("/uart@40000000", "compatible"), "ns16550a");
	cr_expect_eq(cell("/uart@40000000", "interrupts", 1), 1);
	cr_expect_eq(cell("/uart@40000000", "interrupts", 2), 4);	/* level-high */
	cr_expect_eq(fdt_node_check_compatible(fdt, node("/rtc@40001000"), "arm,primecell"), 0);
	cr_expect_str_eq(prop_str("/rtc@40001000", "clock-names"), "apb_pclk");
	cr_expect_str_eq(prop_str("/virtio_mmio@40003000", "compatible"), "virtio,mmio");
	cr_expect_eq(reg64("/virtio_mmio@40004000", 0), 0x40004000ULL);
	cr_expect_eq(cell("/virtio_mmio@40004000", "interrupts", 0), 0);	/* SPI */
	cr_expect_eq(cell("/virtio_mmio@40004000", "interrupts", 1), 4);
	cr_expect_eq(cell("/virtio_mmio@40004000", "interrupts", 2), 1);	/* edge */
	cr_expect_str_eq(prop_str("/chosen", "bootargs"), m.bootargs);
	/* stdout-path names the UART node. */
	cr_expect_eq(fdt_path_offset(fdt, prop_str("/chosen", "stdout-path")),
		     node("/uart@40000000"));
	fdt64_t v;	/* properties are only 4-byte aligned: copy before reading */
	memcpy(&v, prop("/chosen", "linux,initrd-start", &len), sizeof(v));
	cr_expect_eq(len, 8);
	cr_expect_eq(fdt64_to_cpu(v), 0x8fc00000ULL);
	memcpy(&v, prop("/chosen", "linux,initrd-end", &len), sizeof(v));
	cr_expect_eq(fdt64_to_cpu(v), 0x8fc00000ULL + 0x123456);
	const char *seed = prop("/chosen", "rng-seed", &len);
	cr_expect_eq(len, 8);
	cr_expect_eq(memcmp(seed, "01234567", 8), 0);
}

Test(aarch64_fdt, no_initrd_no_seed)
{
	struct a64_machine m = sample();
	m.initrd_size = 0;
	m.rng_seed_len = 0;
	m.nr_devices = 0;
	build(&m);
	cr_expect_null(fdt_getprop(fdt, node("/chosen"), "linux,initrd-start", NULL));
	cr_expect_null(fdt_getprop(fdt, node("/chosen"), "rng-seed", NULL));
	cr_expect_lt(fdt_path_offset(fdt, "/virtio_mmio@40003000"), 0);
}

Test(aarch64_fdt, thirty_two_cpus_with_affinity_levels)
{
	struct a64_machine m = sample();
	m.nr_cpus = 32;
	for (unsigned int i = 0; i < 32; i++)
		m.mpidr[i] = 0x80000000ULL | ((uint64_t)(i / 16) << 8) | (i % 16);
	build(&m);
	cr_expect_eq(reg64("/cpus/cpu@10f", 0), 0x10f);
	cr_expect_eq(fdt_totalsize(fdt) <= FDT_BUF, 1);
}

Test(aarch64_fdt, refuses_what_it_cannot_describe)
{
	struct a64_machine m = sample();
	struct error err = { 0 };
	m.nr_cpus = 0;
	cr_expect_eq(a64_fdt_build(&m, fdt, sizeof(fdt), &err), -EINVAL);
	m.nr_cpus = 33;
	cr_expect_eq(a64_fdt_build(&m, fdt, sizeof(fdt), &err), -EINVAL);
	m = sample();
	m.gic_version = 2;
	m.nr_cpus = 9;
	cr_expect_eq(a64_fdt_build(&m, fdt, sizeof(fdt), &err), -EINVAL);
	cr_expect(strstr(err.msg, "GICv2") != NULL, "%s", err.msg);
	m = sample();
	m.gic_version = 4;
	cr_expect_eq(a64_fdt_build(&m, fdt, sizeof(fdt), &err), -EINVAL);
	m = sample();
	cr_expect_eq(a64_fdt_build(&m, fdt, 512, &err), -ENOSPC, "%s", err.msg);
}

/* The dtc rendering of the sample machine, against tests/unit/golden/aarch64_virt.dts. */
Test(aarch64_fdt, golden_dts)
{
	char src[] = __FILE__, dtb[] = "/tmp/kiln-fdt-XXXXXX", cmd[512], golden[512];
	static char got[65536], want[65536];
	struct a64_machine m = sample();

	if (system("command -v dtc >/dev/null 2>&1") != 0)
		cr_skip_test("dtc is not installed (Debian: device-tree-compiler)");
	build(&m);
	int fd = mkstemp(dtb);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, fdt, fdt_totalsize(fdt)), (ssize_t)fdt_totalsize(fdt));
	close(fd);
	snprintf(cmd, sizeof(cmd), "dtc -q -I dtb -O dts -o - %s", dtb);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(got, 1, sizeof(got) - 1, p);
	got[n] = '\0';
	cr_assert_eq(pclose(p), 0, "dtc failed");
	unlink(dtb);

	snprintf(golden, sizeof(golden), "%s/golden/aarch64_virt.dts", dirname(src));
	if (getenv("KILN_UPDATE_GOLDEN")) {
		FILE *g = fopen(golden, "w");
		cr_assert_not_null(g, "%s", golden);
		fputs(got, g);
		fclose(g);
	}
	FILE *g = fopen(golden, "r");
	cr_assert_not_null(g, "%s (run the test from the repository root)", golden);
	n = fread(want, 1, sizeof(want) - 1, g);
	want[n] = '\0';
	fclose(g);
	cr_expect_str_eq(got, want, "the device tree differs from %s; dtc renders:\n%s", golden,
			 got);
}

/* Image headers. */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void header(uint8_t *h, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(h, 0, A64_IMAGE_HDR_SIZE);
	h[0] = 'M';
	h[1] = 'Z';
	put64(h + 8, text_offset);
	put64(h + 16, image_size);
	put64(h + 24, flags);
	put64(h + 56, A64_IMAGE_MAGIC);
}

Test(aarch64_image, parses_a_modern_header)
{
	uint8_t h[64];
	struct a64_image img;
	struct error err = { 0 };
	header(h, 0, 0x2000000, 0xa);	/* 4 KiB pages, anywhere */
	cr_assert_eq(a64_image_parse(h, sizeof(h), 0x1800000, &img, &err), 0, "%s", err.msg);
	cr_expect_eq(img.text_offset, 0);
	cr_expect_eq(img.image_size, 0x2000000);
	cr_expect_eq(img.page_size, 4096);
	cr_expect_eq(img.anywhere, 1);
	header(h, 0x80000, 0x2000000, 0x4);	/* 16 KiB pages */
	cr_assert_eq(a64_image_parse(h, sizeof(h), 0x1800000, &img, &err), 0, "%s", err.msg);
	cr_expect_eq(img.text_offset, 0x80000);
	cr_expect_eq(img.page_size, 16384);
	cr_expect_eq(img.anywhere, 0);
}

Test(aarch64_image, old_header_without_size)
{
	uint8_t h[64];
	struct a64_image img;
	struct error err = { 0 };
	header(h, 0x1234, 0, 0xff);	/* before 3.17: offset and flags mean nothing */
	cr_assert_eq(a64_image_parse(h, sizeof(h), 12345678, &img, &err), 0, "%s", err.msg);
	cr_expect_eq(img.text_offset, 0x80000);
	cr_expect_eq(img.image_size, 12345678);
}

Test(aarch64_image, refusals)
{
	uint8_t h[64];
	struct a64_image img;
	struct error err = { 0 };

	header(h, 0, 0x2000000, 0);
	h[56] = 'X';
	cr_expect_eq(a64_image_parse(h, sizeof(h), 4096, &img, &err), -EINVAL);
	cr_expect(strstr(err.msg, "magic") != NULL, "%s", err.msg);
	memset(h, 0, sizeof(h));
	h[0] = 0x1f;
	h[1] = 0x8b;
	cr_expect_eq(a64_image_parse(h, sizeof(h), 4096, &img, &err), -EINVAL);
	cr_expect(strstr(err.msg, "gzip") != NULL, "%s", err.msg);
	header(h, 0, 0x2000000, 1);	/* big-endian */
	cr_expect_eq(a64_image_parse(h, sizeof(h), 4096, &img, &err), -EINVAL);
	cr_expect(strstr(err.msg, "big-endian") != NULL, "%s", err.msg);
	header(h, 0, 4096, 0);		/* image_size below the file size */
	cr_expect_eq(a64_image_parse(h, sizeof(h), 8192, &img, &err), -EINVAL);
	header(h, 0x100, 0x2000000, 0);	/* not page-aligned */
	cr_expect_eq(a64_image_parse(h, sizeof(h), 4096, &img, &err), -EINVAL);
	header(h, 0, 0x2000000, 0);
	cr_expect_eq(a64_image_parse(h, 40, 4096, &img, &err), -EINVAL);
	cr_expect_eq(a64_image_parse(h, sizeof(h), 32, &img, &err), -EINVAL);
}
