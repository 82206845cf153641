/*
 * The arm64 machine's flattened device tree, built with libfdt from a plain description
 * of the machine: a pure function (no KVM, no guest memory), so it is tested on any host.
 */
#include "devicetree.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

/* Interrupt specifiers: <type number flags> (dt-bindings/interrupt-controller/arm-gic.h). */
#define GIC_SPI			0
#define GIC_PPI			1
#define IRQ_EDGE_RISING		1
#define IRQ_LEVEL_HIGH		4
#define IRQ_LEVEL_LOW		8
#define GICV2_PPI_CPU_SHIFT	8

/* Architected timer PPIs: secure and non-secure physical, virtual, hypervisor. */
static const uint32_t timer_ppis[] = { 13, 14, 11, 10 };
#define GIC_MAINTENANCE_PPI	9

#define UART_CLOCK_HZ		1843200u
#define APB_CLOCK_HZ		24000000u
#define MPIDR_HWID_MASK		0xff00ffffffULL

struct fdt_writer {
	void *fdt;
	int ret;		/* the first libfdt error */
};

static void check(struct fdt_writer *w, int ret)
{
	if (ret < 0 && w->ret == 0)
		w->ret = ret;
}

static void begin(struct fdt_writer *w, const char *name)
{
	check(w, fdt_begin_node(w->fdt, name));
}

static void begin_at(struct fdt_writer *w, const char *name, uint64_t addr)
{
	char n[64];
	snprintf(n, sizeof(n), "%s@%llx", name, (unsigned long long)addr);
	begin(w, n);
}

static void end(struct fdt_writer *w)
{
	check(w, fdt_end_node(w->fdt));
}

static void prop_str(struct fdt_writer *w, const char *name, const char *v)
{
	check(w, fdt_property_string(w->fdt, name, v));
}

/* A string list: `len` bytes of NUL-terminated strings. */
static void prop_strs(struct fdt_writer *w, const char *name, const char *v, size_t len)
{
	check(w, fdt_property(w->fdt, name, v, (int)len));
}

static void prop_u32(struct fdt_writer *w, const char *name, uint32_t v)
{
	check(w, fdt_property_u32(w->fdt, name, v));
}

static void prop_u64(struct fdt_writer *w, const char *name, uint64_t v)
{
	check(w, fdt_property_u64(w->fdt, name, v));
}

static void prop_empty(struct fdt_writer *w, const char *name)
{
	check(w, fdt_property(w->fdt, name, NULL, 0));
}

static void prop_cells(struct fdt_writer *w, const char *name, const uint32_t *cells,
		       unsigned int n)
{
	fdt32_t be[16];
	for (unsigned int i = 0; i < n && i < 16; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	check(w, fdt_property(w->fdt, name, be, (int)(n * sizeof(fdt32_t))));
}

/* reg = <address size> pairs, two cells each (the root's #address-cells and #size-cells). */
static void prop_reg(struct fdt_writer *w, const struct a64_fdt_window *win, unsigned int n)
{
	uint32_t cells[16];
	for (unsigned int i = 0; i < n && i < 4; i++) {
		cells[4 * i + 0] = (uint32_t)(win[i].base >> 32);
		cells[4 * i + 1] = (uint32_t)win[i].base;
		cells[4 * i + 2] = (uint32_t)(win[i].size >> 32);
		cells[4 * i + 3] = (uint32_t)win[i].size;
	}
	prop_cells(w, "reg", cells, 4 * n);
}

static void prop_spi(struct fdt_writer *w, unsigned int spi, bool edge)
{
	const uint32_t irq[] = { GIC_SPI, spi, edge ? IRQ_EDGE_RISING : IRQ_LEVEL_HIGH };
	prop_cells(w, "interrupts", irq, 3);
}

static void add_memory(struct fdt_writer *w, const struct a64_machine *m)
{
	begin_at(w, "memory", m->mem.base);
	prop_str(w, "device_type", "memory");
	prop_reg(w, &m->mem, 1);
	end(w);
}

static void add_cpus(struct fdt_writer *w, const struct a64_machine *m)
{
	begin(w, "cpus");
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 0);
	for (unsigned int i = 0; i < m->nr_cpus; i++) {
		uint64_t id = m->mpidr[i] & MPIDR_HWID_MASK;
		const uint32_t reg[] = { (uint32_t)(id >> 32), (uint32_t)id };
		begin_at(w, "cpu", id);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,arm-v8");
		prop_str(w, "enable-method", "psci");
		prop_cells(w, "reg", reg, 2);
		end(w);
	}
	end(w);
}

static void add_psci(struct fdt_writer *w)
{
	static const char compat[] = "arm,psci-1.0\0arm,psci-0.2";
	begin(w, "psci");
	prop_strs(w, "compatible", compat, sizeof(compat));
	prop_str(w, "method", "hvc");
	end(w);
}

static void add_gic(struct fdt_writer *w, const struct a64_machine *m)
{
	begin_at(w, "intc", m->gic_dist.base);
	if (m->gic_version == 3) {
		const struct a64_fdt_window reg[] = { m->gic_dist, m->gic_redist };
		const uint32_t maint[] = { GIC_PPI, GIC_MAINTENANCE_PPI, IRQ_LEVEL_HIGH };
		prop_str(w, "compatible", "arm,gic-v3");
		prop_reg(w, reg, 2);
		prop_cells(w, "interrupts", maint, 3);
	} else {
		const struct a64_fdt_window reg[] = { m->gic_dist, m->gic_cpu };
		prop_str(w, "compatible", "arm,cortex-a15-gic");
		prop_reg(w, reg, 2);
	}
	prop_u32(w, "#interrupt-cells", 3);
	prop_empty(w, "interrupt-controller");
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 2);
	prop_u32(w, "phandle", A64_PHANDLE_GIC);
	end(w);
}

static void add_timer(struct fdt_writer *w, const struct a64_machine *m)
{
	uint32_t irqs[3 * ARRAY_SIZE(timer_ppis)];
	uint32_t flags = IRQ_LEVEL_LOW;

	/* GICv2 routes a PPI to the CPUs named in the specifier's CPU mask. */
	if (m->gic_version == 2)
		flags |= ((1u << m->nr_cpus) - 1) << GICV2_PPI_CPU_SHIFT;
	for (unsigned int i = 0; i < ARRAY_SIZE(timer_ppis); i++) {
		irqs[3 * i] = GIC_PPI;
		irqs[3 * i + 1] = timer_ppis[i];
		irqs[3 * i + 2] = flags;
	}
	begin(w, "timer");
	prop_str(w, "compatible", "arm,armv8-timer");
	prop_cells(w, "interrupts", irqs, ARRAY_SIZE(irqs));
	prop_empty(w, "always-on");
	end(w);
}

/* The PL031 is an AMBA PrimeCell: Linux probes it only with its bus clock described. */
static void add_clock(struct fdt_writer *w)
{
	begin(w, "apb-pclk");
	prop_str(w, "compatible", "fixed-clock");
	prop_u32(w, "#clock-cells", 0);
	prop_u32(w, "clock-frequency", APB_CLOCK_HZ);
	prop_str(w, "clock-output-names", "clk24mhz");
	prop_u32(w, "phandle", A64_PHANDLE_CLOCK);
	end(w);
}

static void add_serial(struct fdt_writer *w, const struct a64_fdt_device *d)
{
	begin_at(w, "uart", d->reg.base);
	prop_str(w, "compatible", "ns16550a");
	prop_reg(w, &d->reg, 1);
	prop_u32(w, "clock-frequency", UART_CLOCK_HZ);
	prop_spi(w, d->spi, d->edge);
	end(w);
}

static void add_rtc(struct fdt_writer *w, const struct a64_fdt_device *d)
{
	static const char compat[] = "arm,pl031\0arm,primecell";
	begin_at(w, "rtc", d->reg.base);
	prop_strs(w, "compatible", compat, sizeof(compat));
	prop_reg(w, &d->reg, 1);
	prop_spi(w, d->spi, d->edge);
	prop_u32(w, "clocks", A64_PHANDLE_CLOCK);
	prop_str(w, "clock-names", "apb_pclk");
	end(w);
}

/* A device that announced itself, named by its compatible's model ("virtio,mmio": virtio_mmio). */
static void add_device(struct fdt_writer *w, const struct a64_fdt_device *d)
{
	const char *comma = strchr(d->compatible, ',');
	const char *name = !strcmp(d->compatible, "virtio,mmio") ? "virtio_mmio"
			   : comma ? comma + 1 : d->compatible;

	begin_at(w, name, d->reg.base);
	prop_str(w, "compatible", d->compatible);
	prop_reg(w, &d->reg, 1);
	prop_spi(w, d->spi, d->edge);
	/* Guest memory is ordinary cacheable RAM to kiln: no cache maintenance for DMA. */
	prop_empty(w, "dma-coherent");
	end(w);
}

static void add_chosen(struct fdt_writer *w, const struct a64_machine *m)
{
	char path[64];

	begin(w, "chosen");
	prop_str(w, "bootargs", m->bootargs ? m->bootargs : "");
	snprintf(path, sizeof(path), "/uart@%llx", (unsigned long long)m->serial.reg.base);
	prop_str(w, "stdout-path", path);
	if (m->initrd_size) {
		prop_u64(w, "linux,initrd-start", m->initrd_start);
		prop_u64(w, "linux,initrd-end", m->initrd_start + m->initrd_size);
	}
	if (m->rng_seed_len)
		check(w, fdt_property(w->fdt, "rng-seed", m->rng_seed, (int)m->rng_seed_len));
	end(w);
}

int a64_fdt_build(const struct a64_machine *m, void *buf, size_t size, struct error *err)
{
	struct fdt_writer w = { .fdt = buf };

	if (m->nr_cpus == 0 || m->nr_cpus > A64_FDT_MAX_CPUS)
		return error_set(err, -EINVAL, "device tree: %u CPUs (1 to %d)", m->nr_cpus,
				 A64_FDT_MAX_CPUS);
	if (m->gic_version != 2 && m->gic_version != 3)
		return error_set(err, -EINVAL, "device tree: GIC version %u", m->gic_version);
	if (m->gic_version == 2 && m->nr_cpus > 8)
		return error_set(err, -EINVAL, "device tree: a GICv2 serves at most 8 CPUs");
	if (m->nr_devices > A64_FDT_MAX_DEVICES || m->rng_seed_len > A64_FDT_RNG_SEED_MAX)
		return error_set(err, -EINVAL, "device tree: too many devices");
	if (size > INT32_MAX)
		size = INT32_MAX;

	check(&w, fdt_create(buf, (int)size));
	check(&w, fdt_finish_reservemap(buf));
	begin(&w, "");
	prop_str(&w, "compatible", "linux,dummy-virt");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_u32(&w, "interrupt-parent", A64_PHANDLE_GIC);
	add_memory(&w, m);
	add_cpus(&w, m);
	add_psci(&w);
	add_gic(&w, m);
	add_timer(&w, m);
	add_clock(&w);
	add_serial(&w, &m->serial);
	add_rtc(&w, &m->rtc);
	for (unsigned int i = 0; i < m->nr_devices; i++)
		add_device(&w, &m->devices[i]);
	add_chosen(&w, m);
	end(&w);
	check(&w, fdt_finish(buf));
	if (w.ret == 0)
		check(&w, fdt_pack(buf));
	if (w.ret == 0)
		check(&w, fdt_check_full(buf, size));
	if (w.ret == -FDT_ERR_NOSPACE)
		return error_set(err, -ENOSPC, "device tree: more than %zu bytes", size);
	if (w.ret < 0)
		return error_set(err, -EINVAL, "device tree: %s", fdt_strerror(w.ret));
	return 0;
}
