/*
 * kiln's virtio-blk, virtio-rng and virtio-vsock driven by test guests through the real MMIO
 * transport.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln_util.h"

static struct kt t;
static struct proc_result r;

static void setup(void) { kt_init(&t); }
static void teardown(void) { kt_fini(&t); }

TestSuite(kiln_virtio, .init = setup, .fini = teardown, .timeout = 90);

/* An image of `size` bytes whose sector 0 starts with `first`. */
static const char *make_image(const char *name, size_t size, const char *first)
{
	const char *p = kt_path(&t, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	cr_assert_eq(pwrite(fd, first, strlen(first), 0), (ssize_t)strlen(first));
	close(fd);
	return p;
}

static void read_back(const char *path, off_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void blk_run(const char *engine, const char *cache)
{
	char data[PATH_MAX], ro[PATH_MAX];
	snprintf(data, sizeof(data), "%s", make_image("data.img", 1 << 20, "kiln sector zero"));
	snprintf(ro, sizeof(ro), "%s", make_image("ro.img", 64 * 1024, "read-only disk"));
	chmod(ro, 0444);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"drives\": [{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		  "\"is_root_device\": false, \"io_engine\": \"%s\", \"cache_type\": \"%s\"}, "
		  "{\"drive_id\": \"rodisk\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		  "\"is_read_only\": true, \"io_engine\": \"%s\"}]}",
		  kt_guest("virtio_blk"), data, engine, cache, ro, engine);
	kt_run(&t, &r, NULL, 60000, "--level", "Debug", NULL);
	cr_assert_eq(r.status, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
}

static const char blk_expected_tail[] =
	"blk0 get-id: status 0 used 21\n"
	"blk0 id: data\n"
	"blk0 read 0: status 0 used 513\n"
	"blk0 sector 0 ok\n"
	"blk0 write 1-2: status 0 used 1\n"
	"blk0 flush: status 0 used 1\n"
	"blk0 read 1-2: status 0 used 1025\n"
	"blk0 readback ok\n"
	"blk0 read past end: status 1 used 1\n"
	"blk0 read across end: status 1 used 1\n"
	"blk0 write past end: status 1 used 1\n"
	"blk0 odd length: status 1 used 1\n"
	"blk0 unsupported: status 2 used 1\n"
	"blk0 indirect read: status 0 used 513\n"
	"blk0 indirect ok\n"
	"blk1: features 0000000130000024\n"
	"blk1 read 0: status 0 used 513\n"
	"blk1 sector 0 ok\n"
	"blk1 write 0: status 1 used 1\n"
	"blk1 flush: status 0 used 1\n"
	"blk: done\n";

static void check_blk(const char *features)
{
	char want[2048], disk[1024];
	snprintf(want, sizeof(want), "blk0: features %s capacity 2048 seg_max 128\n%s", features,
		 blk_expected_tail);
	cr_assert_str_eq(r.out, want, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
	/* What the guest wrote is in the file, and the read-only image is untouched. */
	read_back(kt_path(&t, "data.img"), 512, disk, sizeof(disk));
	for (size_t i = 0; i < sizeof(disk); i++)
		cr_assert_eq(disk[i], "guest wrote this. "[i % 18], "byte %zu", i);
	read_back(kt_path(&t, "ro.img"), 0, disk, 16);
	cr_assert(memcmp(disk, "read-only disk\0\0", 16) == 0);
}

Test(kiln_virtio, blk_sync_engine)
{
	blk_run("Sync", "Unsafe");
	check_blk("0000000130000004");
}

Test(kiln_virtio, blk_async_engine_writeback)
{
	blk_run("Async", "Writeback");
	check_blk("0000000130000204");
}

Test(kiln_virtio, rng_fills_guest_buffers)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"entropy\": {}}", kt_guest("virtio_rng"));
	kt_run(&t, &r, NULL, 60000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "rng: got 64 and 64 bytes, not all zero, different\n", "%s", r.err);
}

/* Raw vsock packets from the guest, Firecracker's protocol on the host (vsock_peer). */
Test(kiln_virtio, vsock_both_directions_resets_and_refusals)
{
	char uds[PATH_MAX + 64];
	struct kt_vsock v;
	snprintf(uds, sizeof(uds), "%s", kt_path(&t, "v.sock"));
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"%s\"}}", kt_guest("virtio_vsock"),
		  uds);
	kt_vsock_start(uds, 1000, &v);
	kt_run(&t, &r, NULL, 60000, NULL);
	kt_vsock_finish(&v);
	cr_assert_eq(r.status, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert_str_eq(r.out,
		"vsock: cid 3\n"
		"vsock: request from host port 1073741824\n"
		"vsock: host connection echoed 1000 bytes, then reset\n"
		"vsock: connected to host port 7000\n"
		"vsock: echo from host port 7000: 1000 bytes, exact, shutdown 2, then reset\n"
		"vsock: request to port 7001: reset\n"
		"vsock: data on no connection: reset\n"
		"vsock: short, spoofed, then seqpacket request: reset\n"
		"vsock: unknown op: reset\n"
		"vsock: length beyond the buffer: reset\n"
		"vsock: done\n", "stdout:\n%s\nstderr:\n%s\nclient (%d):\n%s\nserver (%d):\n%s",
		r.out, r.err, v.client_status, v.client_text, v.server_status, v.server_text);
	cr_assert_eq(v.client_status, 0, "echo client: %s", v.client_text);
	cr_assert(strstr(v.client_text, "ok: 1000 bytes echoed"), "%s", v.client_text);
	cr_assert_eq(v.server_status, 0, "echo server: %s", v.server_text);
	cr_assert(strstr(v.server_text, "served 1 connections\n"), "%s", v.server_text);
	/* What the guest got wrong is counted, not fatal. */
	cr_assert(!strstr(r.err, "needs reset"), "%s", r.err);
}

/* A uds_path kiln cannot bind is a configuration error naming the key. */
Test(kiln_virtio, vsock_uds_path_in_a_missing_directory)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"%s/no/v.sock\"}}",
		  kt_guest("virtio_vsock"), t.dir);
	kt_run(&t, &r, NULL, 60000, NULL);
	cr_assert_eq(r.status, 152, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "vsock.uds_path: ") && strstr(r.err, "/no/v.sock: No such file or "
		  "directory"), "%s", r.err);
}

/* Every protocol violation: DEVICE_NEEDS_RESET seen by the guest, kiln keeps running. */
Test(kiln_virtio, misbehaving_guest_gets_device_reset)
{
	char img[PATH_MAX];
	snprintf(img, sizeof(img), "%s", make_image("data.img", 64 * 1024, "kiln sector zero"));
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"drives\": [{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		  "\"is_root_device\": false}], \"entropy\": {}, "
		  "\"metrics\": {\"metrics_path\": \"%s\"}}", kt_guest("virtio_bad"), img,
		  kt_path(&t, "metrics.json"));
	kt_run(&t, &r, NULL, 60000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out,
		"bad: buffer outside guest memory: needs reset, config interrupt\n"
		"bad: buffer wrapping around 2^64: needs reset, config interrupt\n"
		"bad: descriptor loop: needs reset, config interrupt\n"
		"bad: next index out of range: needs reset, config interrupt\n"
		"bad: readable after writable: needs reset, config interrupt\n"
		"bad: no writable status byte: needs reset, config interrupt\n"
		"bad: short header: needs reset, config interrupt\n"
		"bad: indirect chain loop: needs reset, config interrupt\n"
		"bad: indirect with next: needs reset, config interrupt\n"
		"bad: indirect table length: needs reset, config interrupt\n"
		"bad: nested indirect table: needs reset, config interrupt\n"
		"bad: avail entry out of range: needs reset, config interrupt\n"
		"bad: avail index jump: needs reset, config interrupt\n"
		"bad: notify of a missing queue: needs reset, config interrupt\n"
		"bad: queue 5 has size 0\n"
		"bad: queue select out of range: needs reset\n"
		"bad: queue size not a power of 2: needs reset\n"
		"bad: ring outside guest memory: needs reset\n"
		"bad: DRIVER_OK before FEATURES_OK: needs reset\n"
		"bad: unoffered features refused\n"
		"bad: rng still works\n"
		"bad: disk works after reset\n", "stderr:\n%s", r.err);
	/* kiln said why (rate-limited: at most 10 lines per 5 s, so the first ten cases). */
	static const char *const reasons[] = {
		"descriptor buffer outside guest memory",
		"descriptor chain loops or is longer than the queue",
		"descriptor next index out of range",
		"device-readable descriptor after a device-writable one",
		"block request without a device-writable status byte",
		"block request without a complete device-readable header",
		"indirect descriptor chain loops or is too long",
		"indirect descriptor with the NEXT flag",
	};
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		cr_assert(strstr(r.err, reasons[i]), "no \"%s\" in:\n%s", reasons[i], r.err);
	cr_assert(strstr(r.err, "virtio-blk data at 0xd0000000: "), "%s", r.err);
	/* And counted them. */
	FILE *f = fopen(kt_path(&t, "metrics.json"), "r");
	char line[4096];
	unsigned long total = 0;
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "\"device_needs_reset_count\":");
		if (p)
			total += strtoul(p + strlen("\"device_needs_reset_count\":"), NULL, 10);
	}
	if (f)
		fclose(f);
	cr_assert_eq(total, 18, "metrics: %lu resets counted", total);
}

/* ---- drive configuration: refused before the guest runs, with the key and path named ---- */

static void run_drives(const char *drives)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, \"drives\": [%s]}",
		  kt_guest("hello"), drives);
	kt_run(&t, &r, NULL, 20000, NULL);
}

static void expect_refused(const char *msg)
{
	cr_assert_eq(r.status, 152, "exit %d; stderr:\n%s", r.status, r.err);
	cr_assert_str_eq(r.out, "", "the guest ran");
	cr_assert(strstr(r.err, msg), "want \"%s\" in:\n%s", msg, r.err);
}

Test(kiln_virtio, missing_image_refused)
{
	char want[PATH_MAX + 128], drives[PATH_MAX + 256];
	const char *ok = make_image("ok.img", 4096, "x");
	snprintf(drives, sizeof(drives), "{\"drive_id\": \"a\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true}, {\"drive_id\": \"b\", \"path_on_host\": "
		 "\"/nonexistent/disk.img\", \"is_root_device\": false}", ok);
	run_drives(drives);
	snprintf(want, sizeof(want), "drives[1].path_on_host: /nonexistent/disk.img: No such file "
		 "or directory");
	expect_refused(want);
}

Test(kiln_virtio, directory_refused)
{
	char want[PATH_MAX + 128], drives[PATH_MAX + 256];
	snprintf(drives, sizeof(drives), "{\"drive_id\": \"a\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}", t.dir);
	run_drives(drives);
	snprintf(want, sizeof(want), "drives[0].path_on_host: %s: a directory, not a regular "
		 "file", t.dir);
	expect_refused(want);
}

Test(kiln_virtio, read_only_file_needs_is_read_only)
{
	char want[PATH_MAX + 128], drives[PATH_MAX + 256], path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", make_image("ro.img", 4096, "x"));
	chmod(path, 0444);
	snprintf(drives, sizeof(drives), "{\"drive_id\": \"a\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}", path);
	run_drives(drives);
	snprintf(want, sizeof(want), "drives[0].path_on_host: %s: the file is read-only; set "
		 "is_read_only to true to use it", path);
	expect_refused(want);
}

Test(kiln_virtio, duplicate_ids_and_two_roots_refused)
{
	run_drives("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false}, "
		   "{\"drive_id\": \"a\", \"path_on_host\": \"y\", \"is_root_device\": false}");
	expect_refused("drives[1].drive_id: \"a\" is already used by drives[0]");
	run_drives("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": true}, "
		   "{\"drive_id\": \"b\", \"path_on_host\": \"y\", \"is_root_device\": true}");
	expect_refused("drives[1].is_root_device: drives[0] is already the root device");
}

/*
 * The root drive is vda (first on the command line) and adds root= and rw/ro. ACPI
 * describes the devices, so the command line names none of them.
 */
Test(kiln_virtio, root_device_command_line_and_odd_size)
{
	char a[PATH_MAX], b[PATH_MAX];
	snprintf(a, sizeof(a), "%s", make_image("a.img", 4096, "x"));
	snprintf(b, sizeof(b), "%s", make_image("b.img", 4096 + 100, "x"));
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": "
		  "\"console=ttyS0\"}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"drives\": [{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		  "\"is_root_device\": false}, {\"drive_id\": \"root\", \"path_on_host\": \"%s\", "
		  "\"is_root_device\": true, \"is_read_only\": true, \"partuuid\": \"0eaa91a0-01\"}], "
		  "\"entropy\": {}}", kt_guest("bootinfo"), a, b);
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "cmdline: console=ttyS0 root=PARTUUID=0eaa91a0-01 ro\n"), "%s",
		  r.out);
	cr_assert(strstr(r.err, "b.img: 4196 bytes is not a multiple of 512; the last 100 bytes "
			 "are not used"), "%s", r.err);
}

/* With acpi=off the guest ignores ACPI: kiln names each device on the command line. */
Test(kiln_virtio, acpi_off_lists_devices_on_the_command_line)
{
	char a[PATH_MAX];
	snprintf(a, sizeof(a), "%s", make_image("a.img", 4096, "x"));
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": "
		  "\"console=ttyS0 acpi=off\"}, \"machine-config\": {\"vcpu_count\": 1, "
		  "\"mem_size_mib\": 64}, \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": "
		  "\"%s\", \"is_root_device\": true}], \"entropy\": {}}", kt_guest("bootinfo"), a);
	kt_run(&t, &r, NULL, 20000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "cmdline: console=ttyS0 acpi=off root=/dev/vda rw "
			 "virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6\n"),
		  "%s", r.out);
}

/* The test guests' driver then finds the device from the command line, not the DSDT. */
Test(kiln_virtio, rng_found_through_the_command_line_with_acpi_off)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": "
		  "\"console=ttyS0 reboot=k acpi=off\"}, \"machine-config\": {\"vcpu_count\": 1, "
		  "\"mem_size_mib\": 64}, \"entropy\": {}}", kt_guest("virtio_rng"));
	kt_run(&t, &r, NULL, 60000, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "rng: got 64 and 64 bytes, not all zero, different\n", "%s", r.err);
}
