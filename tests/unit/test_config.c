/* Config-file parsing: Firecracker-style files accepted, bad ones refused with exact messages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static struct vm_config cfg;
static struct error err;

static void setup(void)
{
	config_defaults(&cfg);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	config_free(&cfg);
}

TestSuite(config, .init = setup, .fini = teardown);

static int load(const char *json)
{
	return config_load_string(json, &cfg, &err);
}

/* The file must be refused with exactly this code and message. */
static void expect_error(const char *json, int code, const char *msg)
{
	int ret = load(json);
	cr_assert_eq(ret, code, "ret %d, expected %d (msg \"%s\") for %s", ret, code, err.msg,
		     json);
	cr_assert_eq(err.code, code);
	cr_assert_str_eq(err.msg, msg, "for %s:\n got  \"%s\"\n want \"%s\"", json, err.msg, msg);
}

#define BOOT "\"boot-source\": {\"kernel_image_path\": \"/vmlinux\"}"
#define MACHINE(body) BOOT ", \"machine-config\": {" body "}"

static const char full_config[] =
	"{\n"
	"  \"boot-source\": {\n"
	"    \"kernel_image_path\": \"./vmlinux.bin\",\n"
	"    \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\",\n"
	"    \"initrd_path\": \"./initrd.img\"\n"
	"  },\n"
	"  \"drives\": [],\n"
	"  \"machine-config\": {\n"
	"    \"vcpu_count\": 2,\n"
	"    \"mem_size_mib\": 1024,\n"
	"    \"smt\": false,\n"
	"    \"track_dirty_pages\": false,\n"
	"    \"huge_pages\": \"None\",\n"
	"    \"cpu_template\": \"None\"\n"
	"  },\n"
	"  \"cpu-config\": null,\n"
	"  \"balloon\": null,\n"
	"  \"network-interfaces\": [],\n"
	"  \"vsock\": null,\n"
	"  \"logger\": {\n"
	"    \"log_path\": \"/tmp/fc.log\",\n"
	"    \"level\": \"Debug\",\n"
	"    \"show_level\": true,\n"
	"    \"show_log_origin\": true\n"
	"  },\n"
	"  \"metrics\": {\"metrics_path\": \"/tmp/metrics.fifo\"},\n"
	"  \"mmds-config\": null,\n"
	"  \"entropy\": null,\n"
	"  \"serial\": {\"serial_out_path\": \"/tmp/serial.out\"}\n"
	"}\n";

/* ---- good files ---- */

Test(config, minimal_file_gets_defaults)
{
	cr_assert_eq(load("{" BOOT "}"), 0, "%s", err.msg);
	cr_assert_str_eq(cfg.boot.kernel_image_path, "/vmlinux");
	cr_assert_null(cfg.boot.boot_args);
	cr_assert_null(cfg.boot.initrd_path);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
	cr_assert_eq(cfg.machine.mem_size_mib, CONFIG_DEFAULT_MEM_MIB);
	cr_assert_eq(cfg.machine.smt, false);
	cr_assert_eq(cfg.machine.huge_pages, GM_BACKING_ANON);
	cr_assert_eq(cfg.has_logger, false);
	cr_assert_eq(cfg.has_metrics, false);
	cr_assert_null(cfg.serial.serial_out_path);
	cr_assert_eq(err.code, 0);
}

Test(config, full_firecracker_file)
{
	cr_assert_eq(load(full_config), 0, "%s", err.msg);
	cr_assert_str_eq(cfg.boot.kernel_image_path, "./vmlinux.bin");
	cr_assert_str_eq(cfg.boot.boot_args, "console=ttyS0 reboot=k panic=1 pci=off");
	cr_assert_str_eq(cfg.boot.initrd_path, "./initrd.img");
	cr_assert_eq(cfg.machine.vcpu_count, 2);
	cr_assert_eq(cfg.machine.mem_size_mib, 1024);
	cr_assert_eq(cfg.machine.smt, false);
	cr_assert_eq(cfg.machine.huge_pages, GM_BACKING_ANON);
	cr_assert(cfg.has_logger);
	cr_assert_str_eq(cfg.logger.log_path, "/tmp/fc.log");
	cr_assert_eq(cfg.logger.level, LOG_DEBUG);
	cr_assert(cfg.logger.level_set);
	cr_assert(cfg.logger.show_level);
	cr_assert(cfg.logger.show_log_origin);
	cr_assert(cfg.has_metrics);
	cr_assert_str_eq(cfg.metrics.metrics_path, "/tmp/metrics.fifo");
	cr_assert_str_eq(cfg.serial.serial_out_path, "/tmp/serial.out");
}

Test(config, null_optional_values_are_absent)
{
	cr_assert_eq(load("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": null,"
			  " \"initrd_path\": null}, \"machine-config\": null, \"logger\": null,"
			  " \"metrics\": null, \"serial\": null, \"drives\": null}"), 0, "%s",
		     err.msg);
	cr_assert_null(cfg.boot.boot_args);
	cr_assert_null(cfg.boot.initrd_path);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
	cr_assert_eq(cfg.has_logger, false);
	cr_assert_eq(cfg.has_metrics, false);
}

Test(config, huge_pages_values)
{
	cr_assert_eq(load("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 256, "
				      "\"huge_pages\": \"2M\"") "}"), 0, "%s", err.msg);
	cr_assert_eq(cfg.machine.huge_pages, GM_BACKING_HUGETLB);
	config_free(&cfg);
	config_defaults(&cfg);
	cr_assert_eq(load("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 256, "
				      "\"huge_pages\": \"Transparent\"") "}"), 0, "%s", err.msg);
	cr_assert_eq(cfg.machine.huge_pages, GM_BACKING_THP);
	config_free(&cfg);
	config_defaults(&cfg);
	cr_assert_eq(load("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 257, "
				      "\"huge_pages\": \"None\"") "}"), 0, "%s", err.msg);
	cr_assert_eq(cfg.machine.huge_pages, GM_BACKING_ANON);
	cr_assert_eq(cfg.machine.mem_size_mib, 257);
}

Test(config, vcpu_and_memory_limits_accepted)
{
	cr_assert_eq(load("{" MACHINE("\"vcpu_count\": 32, \"mem_size_mib\": 1") "}"), 0, "%s",
		     err.msg);
	cr_assert_eq(cfg.machine.vcpu_count, 32);
	cr_assert_eq(cfg.machine.mem_size_mib, 1);
}

Test(config, smt_with_one_or_even_vcpus)
{
	cr_assert_eq(load("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 64, \"smt\": true")
			  "}"), 0, "%s", err.msg);
	cr_assert(cfg.machine.smt);
	config_free(&cfg);
	config_defaults(&cfg);
	cr_assert_eq(load("{" MACHINE("\"vcpu_count\": 4, \"mem_size_mib\": 64, \"smt\": true")
			  "}"), 0, "%s", err.msg);
	cr_assert(cfg.machine.smt);
	cr_assert_eq(cfg.machine.vcpu_count, 4);
}

Test(config, logger_levels_any_case)
{
	static const struct { const char *name; enum log_level level; } cases[] = {
		{ "Error", LOG_ERROR }, { "warning", LOG_WARN }, { "WARN", LOG_WARN },
		{ "info", LOG_INFO }, { "Trace", LOG_TRACE }, { "Off", LOG_OFF },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[256];
		snprintf(json, sizeof(json), "{" BOOT ", \"logger\": {\"level\": \"%s\"}}",
			 cases[i].name);
		config_free(&cfg);
		config_defaults(&cfg);
		cr_assert_eq(load(json), 0, "%s: %s", cases[i].name, err.msg);
		cr_assert_eq(cfg.logger.level, cases[i].level, "%s", cases[i].name);
		cr_assert(cfg.logger.level_set);
		cr_assert(cfg.has_logger);
		cr_assert_null(cfg.logger.log_path);
	}
}

Test(config, load_file_reads_a_file)
{
	char path[] = "/tmp/kiln-config-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, full_config, strlen(full_config)), (ssize_t)strlen(full_config));
	close(fd);
	int ret = config_load_file(path, &cfg, &err);
	unlink(path);
	cr_assert_eq(ret, 0, "%s", err.msg);
	cr_assert_eq(cfg.machine.mem_size_mib, 1024);
	cr_assert_str_eq(cfg.serial.serial_out_path, "/tmp/serial.out");
}

/* ---- bad files ---- */

Test(config, load_file_missing)
{
	cr_assert_eq(config_load_file("/nonexistent/kiln.json", &cfg, &err), -ENOENT);
	cr_assert_str_eq(err.msg, "--config-file: /nonexistent/kiln.json: No such file or "
			 "directory");
}

/* A FIFO as the config file is refused at once: opening it never waits for a writer. */
Test(config, load_file_fifo_is_refused_at_once, .timeout = 5)
{
	char dir[] = "/tmp/kiln-test-config-XXXXXX", fifo[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	int ret = config_load_file(fifo, &cfg, &err);
	unlink(fifo);
	rmdir(dir);
	cr_assert_eq(ret, -EINVAL);
	cr_assert(strstr(err.msg, "--config-file: /tmp/kiln-test-config-"), "%s", err.msg);
	cr_assert(strstr(err.msg, "/fifo: a FIFO, not a regular file"), "%s", err.msg);
}

Test(config, load_file_invalid_json_names_file_line_and_column)
{
	static const char bad[] = "{\n  \"boot-source\": {\n    \"kernel_image_path\": \"/k\",\n  }\n}\n";
	char path[] = "/tmp/kiln-config-XXXXXX", want[128];
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	int ret = config_load_file(path, &cfg, &err);
	unlink(path);
	cr_assert_eq(ret, -EINVAL);
	snprintf(want, sizeof(want), "%s: invalid JSON at line 4, column 3: string or '}' "
		 "expected near '}'", path);
	cr_assert_str_eq(err.msg, want);
}

Test(config, invalid_json)
{
	expect_error("{\n  \"a\": 1,\n  \"b\": }", -EINVAL,
		     "config: invalid JSON at line 3, column 8: unexpected token near '}'");
	expect_error("", -EINVAL,
		     "config: invalid JSON at line 1, column 0: '[' or '{' expected near end of file");
	expect_error("{" BOOT "} trailing", -EINVAL,
		     "config: invalid JSON at line 1, column 59: end of file expected near "
		     "'trailing'");
}

Test(config, duplicate_keys)
{
	expect_error("{" BOOT ", " BOOT "}", -EINVAL,
		     "config: invalid JSON at line 1, column 64: duplicate object key near "
		     "'\"boot-source\"'");
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"vcpu_count\": 2, \"mem_size_mib\": 8")
		     "}", -EINVAL,
		     "config: invalid JSON at line 1, column 99: duplicate object key near "
		     "'\"vcpu_count\"'");
}

Test(config, root_must_be_object)
{
	expect_error("[]", -EINVAL, "the configuration must be a JSON object, not an array");
}

Test(config, unknown_keys_at_each_level)
{
	expect_error("{" BOOT ", \"boot_source\": {}}", -EINVAL, "boot_source: unknown key");
	expect_error("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"kernel\": \"/k\"}}",
		     -EINVAL, "boot-source.kernel: unknown key");
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 8, \"vcpus\": 2") "}",
		     -EINVAL, "machine-config.vcpus: unknown key");
	expect_error("{" BOOT ", \"logger\": {\"path\": \"/x\"}}", -EINVAL,
		     "logger.path: unknown key");
	expect_error("{" BOOT ", \"metrics\": {\"metrics_path\": \"/m\", \"x\": 1}}", -EINVAL,
		     "metrics.x: unknown key");
	expect_error("{" BOOT ", \"serial\": {\"out\": \"/s\"}}", -EINVAL,
		     "serial.out: unknown key");
}

Test(config, wrong_types)
{
	expect_error("{\"boot-source\": \"/vmlinux\"}", -EINVAL,
		     "boot-source: expected an object, got a string");
	expect_error("{\"boot-source\": {\"kernel_image_path\": 42}}", -EINVAL,
		     "boot-source.kernel_image_path: expected a string, got an integer");
	expect_error("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": [\"a\"]}}",
		     -EINVAL, "boot-source.boot_args: expected a string, got an array");
	expect_error("{" BOOT ", \"machine-config\": []}", -EINVAL,
		     "machine-config: expected an object, got an array");
	expect_error("{" MACHINE("\"vcpu_count\": \"2\", \"mem_size_mib\": 8") "}", -EINVAL,
		     "machine-config.vcpu_count: expected an integer, got a string");
	expect_error("{" MACHINE("\"vcpu_count\": 1.5, \"mem_size_mib\": 8") "}", -EINVAL,
		     "machine-config.vcpu_count: expected an integer, got a number with a "
		     "fraction");
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": true") "}", -EINVAL,
		     "machine-config.mem_size_mib: expected an integer, got a boolean");
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 8, \"smt\": \"yes\"") "}",
		     -EINVAL, "machine-config.smt: expected a boolean, got a string");
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 8, \"huge_pages\": 2") "}",
		     -EINVAL, "machine-config.huge_pages: expected a string, got an integer");
	expect_error("{" BOOT ", \"logger\": {\"show_level\": 1}}", -EINVAL,
		     "logger.show_level: expected a boolean, got an integer");
	expect_error("{" BOOT ", \"drives\": {}}", -EINVAL,
		     "drives: expected an array, got an object");
	expect_error("{" BOOT ", \"network-interfaces\": \"eth0\"}", -EINVAL,
		     "network-interfaces: expected an array, got a string");
	expect_error("{" BOOT ", \"serial\": true}", -EINVAL,
		     "serial: expected an object, got a boolean");
}

Test(config, vcpu_count_range)
{
	expect_error("{" MACHINE("\"vcpu_count\": 0, \"mem_size_mib\": 8") "}", -EINVAL,
		     "machine-config.vcpu_count: must not be 0");
	expect_error("{" MACHINE("\"vcpu_count\": 33, \"mem_size_mib\": 8") "}", -ERANGE,
		     "machine-config.vcpu_count: 33 is out of range (1 to 32)");
	expect_error("{" MACHINE("\"vcpu_count\": -1, \"mem_size_mib\": 8") "}", -ERANGE,
		     "machine-config.vcpu_count: -1 is out of range (1 to 32)");
}

Test(config, mem_size_range)
{
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 0") "}", -EINVAL,
		     "machine-config.mem_size_mib: must not be 0");
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 17592186044416") "}",
		     -ERANGE, "machine-config.mem_size_mib: 17592186044416 is out of range "
		     "(1 to 17592186044415)");
}

Test(config, machine_config_required_keys)
{
	expect_error("{" MACHINE("\"mem_size_mib\": 8") "}", -EINVAL,
		     "machine-config.vcpu_count: missing required key");
	expect_error("{" MACHINE("\"vcpu_count\": 2") "}", -EINVAL,
		     "machine-config.mem_size_mib: missing required key");
}

Test(config, boot_source_required)
{
	expect_error("{}", -EINVAL, "boot-source: missing required section");
	expect_error("{\"boot-source\": null}", -EINVAL, "boot-source: missing required section");
	expect_error("{\"boot-source\": {\"boot_args\": \"quiet\"}}", -EINVAL,
		     "boot-source.kernel_image_path: missing required key");
	expect_error("{\"boot-source\": {\"kernel_image_path\": \"\"}}", -EINVAL,
		     "boot-source.kernel_image_path: must not be empty");
	expect_error("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"initrd_path\": \"\"}}",
		     -EINVAL, "boot-source.initrd_path: must not be empty");
	expect_error("{\"boot-source\": {\"kernel_image_path\": \"/k\\u0000/etc/passwd\"}}",
		     -EINVAL, "config: invalid JSON at line 1, column 59: \\u0000 is not allowed "
		     "without JSON_ALLOW_NUL");
}

Test(config, unsupported_sections)
{
	static const char *const names[] = {
		"balloon", "pmem", "memory-hotplug", "mmds-config", "cpu-config",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char json[256], msg[64];
		snprintf(json, sizeof(json), "{" BOOT ", \"%s\": {}}", names[i]);
		snprintf(msg, sizeof(msg), "%s: not supported yet", names[i]);
		expect_error(json, -ENOTSUP, msg);
	}
}

Test(config, vsock_firecracker_schema)
{
	cr_assert_eq(load("{" BOOT ", \"vsock\": {\"vsock_id\": \"vsock0\", \"guest_cid\": 3, "
			  "\"uds_path\": \"/run/v.sock\"}}"), 0, "%s", err.msg);
	cr_assert(cfg.has_vsock);
	cr_assert_eq(cfg.vsock.guest_cid, 3);
	cr_assert_str_eq(cfg.vsock.uds_path, "/run/v.sock");
	cr_assert_str_eq(cfg.vsock.vsock_id, "vsock0");
	config_free(&cfg);
	config_defaults(&cfg);
	cr_assert_eq(load("{" BOOT ", \"vsock\": {\"guest_cid\": 4294967294, "
			  "\"uds_path\": \"v.sock\"}}"), 0, "%s", err.msg);
	cr_assert_eq(cfg.vsock.guest_cid, 4294967294u);
	cr_assert_null(cfg.vsock.vsock_id);
	config_free(&cfg);
	config_defaults(&cfg);
	cr_assert_eq(load("{" BOOT ", \"vsock\": null}"), 0, "%s", err.msg);
	cr_assert_eq(cfg.has_vsock, false);
}

Test(config, vsock_bad_values_name_their_key)
{
	expect_error("{" BOOT ", \"vsock\": {\"guest_cid\": 2, \"uds_path\": \"/v\"}}", -ERANGE,
		     "vsock.guest_cid: 2 is out of range (3 to 4294967294)");
	expect_error("{" BOOT ", \"vsock\": {\"guest_cid\": 4294967295, \"uds_path\": \"/v\"}}",
		     -ERANGE, "vsock.guest_cid: 4294967295 is out of range (3 to 4294967294)");
	expect_error("{" BOOT ", \"vsock\": {\"guest_cid\": \"3\", \"uds_path\": \"/v\"}}",
		     -EINVAL, "vsock.guest_cid: expected an integer, got a string");
	expect_error("{" BOOT ", \"vsock\": {\"uds_path\": \"/v\"}}", -EINVAL,
		     "vsock.guest_cid: missing required key");
	expect_error("{" BOOT ", \"vsock\": {\"guest_cid\": 3}}", -EINVAL,
		     "vsock.uds_path: missing required key");
	expect_error("{" BOOT ", \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"\"}}", -EINVAL,
		     "vsock.uds_path: must not be empty");
	expect_error("{" BOOT ", \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\", "
		     "\"port\": 1}}", -EINVAL, "vsock.port: unknown key");
	expect_error("{" BOOT ", \"vsock\": []}", -EINVAL, "vsock: expected an object, got an array");
}

#define NET(body) "{" BOOT ", \"network-interfaces\": [" body "]}"

Test(config, network_interfaces_firecracker_schema)
{
	cr_assert_eq(load(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			     "\"guest_mac\": \"06:00:AC:10:00:02\", \"rx_rate_limiter\": null, "
			     "\"tx_rate_limiter\": {\"bandwidth\": {\"size\": 1048576, "
			     "\"refill_time\": 100}}}, {\"iface_id\": \"eth_1\", "
			     "\"host_dev_name\": \"tap-1\", \"mtu\": 9000}")), 0, "%s", err.msg);
	cr_assert_eq(cfg.nr_nets, 2);
	cr_assert_str_eq(cfg.nets[0].iface_id, "eth0");
	cr_assert_str_eq(cfg.nets[0].host_dev_name, "tap0");
	cr_assert(cfg.nets[0].has_mac);
	static const uint8_t mac[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };
	cr_assert_eq(memcmp(cfg.nets[0].guest_mac, mac, 6), 0);
	cr_assert_eq(cfg.nets[0].mtu, 0);
	cr_assert_eq(cfg.nets[0].tx_rate_limiter.bandwidth.size, 1048576);
	cr_assert_eq(cfg.nets[0].rx_rate_limiter.bandwidth.size, 0);
	cr_assert_not(cfg.nets[1].has_mac);
	cr_assert_eq(cfg.nets[1].mtu, 9000);

	char buf[8192];
	cr_assert_gt(config_dump(&cfg, buf, sizeof(buf), &err), 0, "%s", err.msg);
	cr_expect(strstr(buf, "\"network-interfaces\":[{\"iface_id\":\"eth0\",\"host_dev_name\":"
			 "\"tap0\",\"guest_mac\":\"06:00:ac:10:00:02\",\"rx_rate_limiter\":null,"
			 "\"tx_rate_limiter\":{\"bandwidth\":{\"size\":1048576,\"one_time_burst\":"
			 "null,\"refill_time\":100},\"ops\":null}},{\"iface_id\":\"eth_1\","
			 "\"host_dev_name\":\"tap-1\",\"mtu\":9000,"), "%s", buf);
	struct vm_config back;
	config_defaults(&back);
	cr_assert_eq(config_load_string(buf, &back, &err), 0, "%s: %s", err.msg, buf);
	cr_expect_eq(back.nr_nets, 2);
	cr_expect_eq(memcmp(back.nets[0].guest_mac, mac, 6), 0);
	cr_expect_eq(back.nets[1].mtu, 9000);
	cr_expect_eq(memcmp(&back.nets[0].tx_rate_limiter, &cfg.nets[0].tx_rate_limiter,
			    sizeof(struct rate_limiter_config)), 0);
	config_free(&back);
}

Test(config, network_interfaces_bad_values_name_their_key)
{
	expect_error(NET("{\"host_dev_name\": \"tap0\"}"), -EINVAL,
		     "network-interfaces[0].iface_id: missing required key");
	expect_error(NET("{\"iface_id\": \"eth0\"}"), -EINVAL,
		     "network-interfaces[0].host_dev_name: missing required key");
	expect_error(NET("{\"iface_id\": \"eth 0\", \"host_dev_name\": \"tap0\"}"), -EINVAL,
		     "network-interfaces[0].iface_id: \"eth 0\" must be 1 to 64 characters of A-Z "
		     "a-z 0-9 _ -");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0123456789abcd\"}"),
		     -EINVAL, "network-interfaces[0].host_dev_name: \"tap0123456789abcd\" is not an "
		     "interface name (1 to 15 characters, no '/', ':' or spaces)");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"../tap\"}"),
		     -EINVAL, "network-interfaces[0].host_dev_name: \"../tap\" is not an interface "
		     "name (1 to 15 characters, no '/', ':' or spaces)");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			 "\"guest_mac\": \"06:00:ac:10:00\"}"), -EINVAL,
		     "network-interfaces[0].guest_mac: \"06:00:ac:10:00\" is not a MAC address (six "
		     "hex pairs separated by ':')");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			 "\"guest_mac\": \"06:00:ac:10:00:0g\"}"), -EINVAL,
		     "network-interfaces[0].guest_mac: \"06:00:ac:10:00:0g\" is not a MAC address (six "
		     "hex pairs separated by ':')");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			 "\"guest_mac\": \"06:00:ac:10:00:02:\"}"), -EINVAL,
		     "network-interfaces[0].guest_mac: \"06:00:ac:10:00:02:\" is not a MAC address (six "
		     "hex pairs separated by ':')");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			 "\"guest_mac\": \"01:00:5e:00:00:01\"}"), -EINVAL,
		     "network-interfaces[0].guest_mac: 01:00:5e:00:00:01 is a multicast address; a "
		     "guest's address must be unicast");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 67}"),
		     -ERANGE, "network-interfaces[0].mtu: 67 is out of range (68 to 65535)");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": "
			 "65536}"), -ERANGE,
		     "network-interfaces[0].mtu: 65536 is out of range (68 to 65535)");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			 "\"rx_rate_limiter\": {\"ops\": {\"size\": 0, \"refill_time\": 1}}}"),
		     -EINVAL, "network-interfaces[0].rx_rate_limiter.ops.size: must not be 0");
	expect_error(NET("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			 "\"allow_mmds_requests\": true}"), -EINVAL,
		     "network-interfaces[0].allow_mmds_requests: unknown key");
	expect_error(NET("{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\"}, "
			 "{\"iface_id\": \"a\", \"host_dev_name\": \"tap1\"}"), -EEXIST,
		     "network-interfaces[1].iface_id: \"a\" is already used by network-interfaces[0]");
	expect_error(NET("{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\"}, "
			 "{\"iface_id\": \"b\", \"host_dev_name\": \"tap0\"}"), -EEXIST,
		     "network-interfaces[1].host_dev_name: \"tap0\" is already used by interface "
		     "\"a\"");
	expect_error(NET("{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
			 "\"06:00:00:00:00:01\"}, {\"iface_id\": \"b\", \"host_dev_name\": \"tap1\", "
			 "\"guest_mac\": \"06:00:00:00:00:01\"}"), -EEXIST,
		     "network-interfaces[1].guest_mac: 06:00:00:00:00:01 is already used by "
		     "interface \"a\"");
	expect_error("{" BOOT ", \"network-interfaces\": {}}", -EINVAL,
		     "network-interfaces: expected an array, got an object");
}

Test(config, too_many_network_interfaces_refused)
{
	char json[4096] = "{" BOOT ", \"network-interfaces\": [";
	for (int i = 0; i <= CONFIG_MAX_NETS; i++) {
		char one[128];
		snprintf(one, sizeof(one), "%s{\"iface_id\": \"e%d\", \"host_dev_name\": \"t%d\"}",
			 i ? ", " : "", i, i);
		strcat(json, one);
	}
	strcat(json, "]}");
	expect_error(json, -E2BIG, "network-interfaces: 9 interfaces; at most 8 are supported");
}

Test(config, network_interface_patch_bodies)
{
	struct net_update u;
	const char *ok = "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\": {\"size\": 10, "
			 "\"refill_time\": 1000}}}";
	cr_assert_eq(config_parse_net_update("eth0", ok, strlen(ok), &u, &err), 0, "%s", err.msg);
	cr_assert(u.has_tx_ops);
	cr_assert_not(u.has_tx_bandwidth || u.has_rx_bandwidth || u.has_rx_ops);
	cr_assert_eq(u.tx_rate_limiter.ops.size, 10);
	static const struct { const char *body, *msg; } bad[] = {
		{ "{\"iface_id\": \"eth1\", \"rx_rate_limiter\": {}}",
		  "network-interfaces[eth0].iface_id: \"eth1\" does not match the interface id in "
		  "the path" },
		{ "{\"iface_id\": \"eth0\"}",
		  "network-interfaces[eth0]: nothing to change: give rx_rate_limiter or "
		  "tx_rate_limiter" },
		{ "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\"}",
		  "network-interfaces[eth0].host_dev_name: unknown key" },
		{ "{\"rx_rate_limiter\": {}}",
		  "network-interfaces[eth0].iface_id: missing required key" },
		{ "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1}}}",
		  "network-interfaces[eth0].rx_rate_limiter.bandwidth.refill_time: missing required "
		  "key" },
		{ "[", "network-interfaces: invalid JSON at line 1, column 1: ']' expected near end "
		  "of file" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		cr_expect_lt(config_parse_net_update("eth0", bad[i].body, strlen(bad[i].body), &u,
						     &err), 0, "%s", bad[i].body);
		cr_expect_str_eq(err.msg, bad[i].msg, "for %s", bad[i].body);
	}
}

Test(config, smt_needs_even_vcpus)
{
	expect_error("{" MACHINE("\"vcpu_count\": 3, \"mem_size_mib\": 8, \"smt\": true") "}",
		     -EINVAL, "machine-config.vcpu_count: must be 1 or even when smt is true");
}

Test(config, track_dirty_pages_refused)
{
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 8, "
				 "\"track_dirty_pages\": true") "}", -ENOTSUP,
		     "machine-config.track_dirty_pages: not supported yet (kiln has no snapshots)");
}

Test(config, cpu_template_refused)
{
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 8, "
				 "\"cpu_template\": \"T2\"") "}", -ENOTSUP,
		     "machine-config.cpu_template: \"T2\" is not supported yet (only \"None\")");
}

Test(config, huge_pages_bad)
{
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 8, \"huge_pages\": \"1G\"")
		     "}", -EINVAL,
		     "machine-config.huge_pages: \"1G\" is not one of None, Transparent, 2M");
	expect_error("{" MACHINE("\"vcpu_count\": 1, \"mem_size_mib\": 129, "
				 "\"huge_pages\": \"2M\"") "}", -EINVAL,
		     "machine-config.mem_size_mib: must be a multiple of 2 with huge pages");
}

Test(config, logger_bad)
{
	expect_error("{" BOOT ", \"logger\": {\"level\": \"Verbose\"}}", -EINVAL,
		     "logger.level: \"Verbose\" is not one of Error, Warning, Info, Debug, "
		     "Trace, Off");
	expect_error("{" BOOT ", \"logger\": {\"level\": \"\"}}", -EINVAL,
		     "logger.level: \"\" is not one of Error, Warning, Info, Debug, Trace, Off");
	expect_error("{" BOOT ", \"logger\": {\"module\": \"api_server\"}}", -ENOTSUP,
		     "logger.module: filtering by module is not supported yet");
	expect_error("{" BOOT ", \"logger\": {\"log_path\": \"\"}}", -EINVAL,
		     "logger.log_path: must not be empty");
}

Test(config, metrics_and_serial_bad)
{
	expect_error("{" BOOT ", \"metrics\": {}}", -EINVAL,
		     "metrics.metrics_path: missing required key");
	expect_error("{" BOOT ", \"metrics\": {\"metrics_path\": \"\"}}", -EINVAL,
		     "metrics.metrics_path: must not be empty");
	expect_error("{" BOOT ", \"serial\": {\"serial_out_path\": \"\"}}", -EINVAL,
		     "serial.serial_out_path: must not be empty");
}

/* ---- drives and entropy ---- */

#define DRIVE(body) "{" BOOT ", \"drives\": [" body "]}"

Test(config, drives_parsed_with_defaults)
{
	cr_assert_eq(load(DRIVE("{\"drive_id\": \"rootfs\", \"path_on_host\": \"r.ext4\", "
			       "\"is_root_device\": true, \"is_read_only\": false}, "
			       "{\"drive_id\": \"data_1\", \"path_on_host\": \"/d.img\", "
			       "\"is_root_device\": false, \"partuuid\": \"1234-01\", "
			       "\"is_read_only\": true, \"cache_type\": \"Writeback\", "
			       "\"io_engine\": \"Async\", \"rate_limiter\": null, \"socket\": null}")),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.nr_drives, 2);
	cr_assert_str_eq(cfg.drives[0].drive_id, "rootfs");
	cr_assert_str_eq(cfg.drives[0].path_on_host, "r.ext4");
	cr_assert(cfg.drives[0].is_root_device);
	cr_assert_not(cfg.drives[0].is_read_only);
	cr_assert_null(cfg.drives[0].partuuid);
	cr_assert_eq(cfg.drives[0].cache_type, DRIVE_CACHE_UNSAFE);
	cr_assert_eq(cfg.drives[0].io_engine, DRIVE_ENGINE_SYNC);
	cr_assert_str_eq(cfg.drives[1].partuuid, "1234-01");
	cr_assert(cfg.drives[1].is_read_only);
	cr_assert_eq(cfg.drives[1].cache_type, DRIVE_CACHE_WRITEBACK);
	cr_assert_eq(cfg.drives[1].io_engine, DRIVE_ENGINE_ASYNC);
	cr_assert_not(cfg.has_entropy);
}

Test(config, bad_drives_refused)
{
	expect_error(DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\"}"), -EINVAL,
		     "drives[0].is_root_device: missing required key");
	expect_error(DRIVE("{\"path_on_host\": \"x\", \"is_root_device\": false}"), -EINVAL,
		     "drives[0].drive_id: missing required key");
	expect_error(DRIVE("{\"drive_id\": \"a\", \"is_root_device\": false}"), -EINVAL,
		     "drives[0].path_on_host: missing required key");
	expect_error(DRIVE("{\"drive_id\": \"a b\", \"path_on_host\": \"x\", "
			   "\"is_root_device\": false}"), -EINVAL,
		     "drives[0].drive_id: \"a b\" must be 1 to 64 characters of A-Z a-z 0-9 _ -");
	expect_error(DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false, "
			   "\"cache_type\": \"None\"}"), -EINVAL,
		     "drives[0].cache_type: \"None\" is not one of Unsafe, Writeback");
	expect_error(DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false, "
			   "\"io_engine\": \"Fast\"}"), -EINVAL,
		     "drives[0].io_engine: \"Fast\" is not one of Sync, Async");
	expect_error(DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false, "
			   "\"socket\": \"/vhost.sock\"}"), -ENOTSUP,
		     "drives[0].socket: not supported yet (kiln has no vhost-user block device)");
	expect_error(DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false, "
			   "\"is_read_only\": 1}"), -EINVAL,
		     "drives[0].is_read_only: expected a boolean, got an integer");
	expect_error(DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false, "
			   "\"bogus\": 1}"), -EINVAL, "drives[0].bogus: unknown key");
	expect_error(DRIVE("7"), -EINVAL, "drives[0]: expected an object, got an integer");
}

Test(config, duplicate_ids_and_two_roots_refused)
{
	expect_error(DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": false}, "
			   "{\"drive_id\": \"a\", \"path_on_host\": \"y\", \"is_root_device\": false}"),
		     -EEXIST, "drives[1].drive_id: \"a\" is already used by drives[0]");
	expect_error(DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\", \"is_root_device\": true}, "
			   "{\"drive_id\": \"b\", \"path_on_host\": \"y\", \"is_root_device\": false}, "
			   "{\"drive_id\": \"c\", \"path_on_host\": \"z\", \"is_root_device\": true}"),
		     -EEXIST, "drives[2].is_root_device: drives[0] is already the root device");
}

Test(config, too_many_drives_refused)
{
	char json[8192] = "{" BOOT ", \"drives\": [";
	for (int i = 0; i <= CONFIG_MAX_DRIVES; i++) {
		char one[128];
		snprintf(one, sizeof(one), "%s{\"drive_id\": \"d%d\", \"path_on_host\": \"x\", "
			 "\"is_root_device\": false}", i ? ", " : "", i);
		strcat(json, one);
	}
	strcat(json, "]}");
	expect_error(json, -E2BIG, "drives: 17 drives; at most 16 are supported");
}

Test(config, entropy)
{
	cr_assert_eq(load("{" BOOT ", \"entropy\": {}}"), 0, "%s", err.msg);
	cr_assert(cfg.has_entropy);
	config_free(&cfg);
	config_defaults(&cfg);
	cr_assert_eq(load("{" BOOT ", \"entropy\": {\"rate_limiter\": null}}"), 0, "%s", err.msg);
	cr_assert(cfg.has_entropy);
	config_free(&cfg);
	config_defaults(&cfg);
	expect_error("{" BOOT ", \"entropy\": {\"rate_limiter\": {\"ops\": {}}}}", -EINVAL,
		     "entropy.rate_limiter.ops.size: missing required key");
	config_free(&cfg);
	config_defaults(&cfg);
	expect_error("{" BOOT ", \"entropy\": {\"bytes\": 1}}", -EINVAL, "entropy.bytes: unknown key");
}

/* ---- rate_limiter: Firecracker's two token buckets on drives and entropy. */

#define RL_DRIVE(rl) DRIVE("{\"drive_id\": \"a\", \"path_on_host\": \"x\", " \
			   "\"is_root_device\": false, \"rate_limiter\": " rl "}")
#define RL_ENTROPY(rl) "{" BOOT ", \"entropy\": {\"rate_limiter\": " rl "}}"

Test(config, rate_limiter_both_buckets)
{
	cr_assert_eq(load(RL_DRIVE("{\"bandwidth\": {\"size\": 1048576, \"one_time_burst\": "
				   "4194304, \"refill_time\": 1000}, \"ops\": {\"size\": 100, "
				   "\"refill_time\": 50}}")), 0, "%s", err.msg);
	const struct rate_limiter_config *rl = &cfg.drives[0].rate_limiter;
	cr_expect_eq(rl->bandwidth.size, 1048576);
	cr_expect_eq(rl->bandwidth.one_time_burst, 4194304);
	cr_expect_eq(rl->bandwidth.refill_time_ms, 1000);
	cr_expect_eq(rl->ops.size, 100);
	cr_expect_eq(rl->ops.one_time_burst, 0);
	cr_expect_eq(rl->ops.refill_time_ms, 50);
	cr_expect(rate_limiter_config_active(rl));
}

Test(config, rate_limiter_buckets_are_optional)
{
	static const char *const limiters[] = {
		"null", "{}", "{\"bandwidth\": null, \"ops\": null}",
		"{\"bandwidth\": {\"size\": 1, \"refill_time\": 1, \"one_time_burst\": null}}",
		"{\"ops\": {\"size\": 1, \"refill_time\": 1, \"one_time_burst\": 0}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(limiters); i++) {
		char json[512];
		snprintf(json, sizeof(json), RL_ENTROPY("%s"), limiters[i]);
		config_free(&cfg);
		config_defaults(&cfg);
		cr_assert_eq(load(json), 0, "%s: %s", json, err.msg);
		cr_expect(cfg.has_entropy);
		cr_expect_eq(rate_limiter_config_active(&cfg.entropy_rate_limiter), i >= 3, "%s",
			     json);
	}
}

Test(config, rate_limiter_bad_values_name_their_key)
{
	expect_error(RL_DRIVE("[]"), -EINVAL,
		     "drives[0].rate_limiter: expected an object, got an array");
	expect_error(RL_DRIVE("{\"bytes\": {}}"), -EINVAL,
		     "drives[0].rate_limiter.bytes: unknown key");
	expect_error(RL_DRIVE("{\"bandwidth\": 5}"), -EINVAL,
		     "drives[0].rate_limiter.bandwidth: expected an object, got an integer");
	expect_error(RL_DRIVE("{\"bandwidth\": {\"size\": 1, \"refill_time\": 1, \"burst\": 1}}"),
		     -EINVAL, "drives[0].rate_limiter.bandwidth.burst: unknown key");
	expect_error(RL_DRIVE("{\"bandwidth\": {\"refill_time\": 100}}"), -EINVAL,
		     "drives[0].rate_limiter.bandwidth.size: missing required key");
	expect_error(RL_DRIVE("{\"bandwidth\": {\"size\": 100}}"), -EINVAL,
		     "drives[0].rate_limiter.bandwidth.refill_time: missing required key");
	expect_error(RL_DRIVE("{\"bandwidth\": {\"size\": 0, \"refill_time\": 100}}"), -EINVAL,
		     "drives[0].rate_limiter.bandwidth.size: must not be 0");
	expect_error(RL_DRIVE("{\"ops\": {\"size\": 10, \"refill_time\": 0}}"), -EINVAL,
		     "drives[0].rate_limiter.ops.refill_time: must not be 0");
	expect_error(RL_DRIVE("{\"ops\": {\"size\": -1, \"refill_time\": 10}}"), -ERANGE,
		     "drives[0].rate_limiter.ops.size: -1 is out of range (1 to "
		     "18446744073709551615)");
	expect_error(RL_DRIVE("{\"ops\": {\"size\": 1, \"refill_time\": 10, "
			      "\"one_time_burst\": -5}}"), -ERANGE,
		     "drives[0].rate_limiter.ops.one_time_burst: -5 is out of range (0 to "
		     "18446744073709551615)");
	expect_error(RL_DRIVE("{\"ops\": {\"size\": 1, \"refill_time\": 18446744073710}}"),
		     -ERANGE, "drives[0].rate_limiter.ops.refill_time: 18446744073710 is out of "
		     "range (1 to 18446744073709)");
	expect_error(RL_DRIVE("{\"ops\": {\"size\": 1.5, \"refill_time\": 10}}"), -EINVAL,
		     "drives[0].rate_limiter.ops.size: expected an integer, got a number with a "
		     "fraction");
	expect_error(RL_DRIVE("{\"ops\": {\"size\": \"1\", \"refill_time\": 10}}"), -EINVAL,
		     "drives[0].rate_limiter.ops.size: expected an integer, got a string");
	expect_error(RL_ENTROPY("{\"ops\": {\"size\": 1, \"refill_time\": false}}"), -EINVAL,
		     "entropy.rate_limiter.ops.refill_time: expected an integer, got a boolean");
	expect_error(RL_ENTROPY("true"), -EINVAL,
		     "entropy.rate_limiter: expected an object, got a boolean");
}

Test(config, rate_limiter_round_trips_through_the_dump)
{
	char buf[8192];
	cr_assert_eq(load("{" BOOT ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"x\", "
			  "\"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": "
			  "1000, \"one_time_burst\": 2000, \"refill_time\": 100}}}, {\"drive_id\": "
			  "\"b\", \"path_on_host\": \"y\", \"is_root_device\": false}], "
			  "\"entropy\": {\"rate_limiter\": {\"ops\": {\"size\": 9223372036854775807, "
			  "\"refill_time\": 18446744073709}}}}"), 0, "%s", err.msg);
	cr_assert_gt(config_dump(&cfg, buf, sizeof(buf), &err), 0, "%s", err.msg);
	cr_expect(strstr(buf, "\"rate_limiter\":{\"bandwidth\":{\"size\":1000,\"one_time_burst\":"
			 "2000,\"refill_time\":100},\"ops\":null}"), "%s", buf);
	cr_expect(strstr(buf, "\"entropy\":{\"rate_limiter\":{\"bandwidth\":null,\"ops\":{\"size\":"
			 "9223372036854775807,\"one_time_burst\":null,\"refill_time\":"
			 "18446744073709}}}"), "%s", buf);
	cr_expect(strstr(buf, "\"drive_id\":\"b\",") && strstr(buf, "\"rate_limiter\":null"),
		  "%s", buf);

	struct vm_config back;
	config_defaults(&back);
	cr_assert_eq(config_load_string(buf, &back, &err), 0, "%s: %s", err.msg, buf);
	cr_expect_eq(memcmp(&back.drives[0].rate_limiter, &cfg.drives[0].rate_limiter,
			    sizeof(struct rate_limiter_config)), 0);
	cr_expect_eq(memcmp(&back.drives[1].rate_limiter, &cfg.drives[1].rate_limiter,
			    sizeof(struct rate_limiter_config)), 0);
	cr_expect_eq(memcmp(&back.entropy_rate_limiter, &cfg.entropy_rate_limiter,
			    sizeof(struct rate_limiter_config)), 0);
	config_free(&back);
}
