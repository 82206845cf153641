/*
 * The API without KVM: every endpoint's body parser on good and bad input with the exact
 * answers, the controller's state rules, and the HTTP layer over a socketpair (pipelining,
 * limits, slow and idle clients).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/http.h"
#include "api/routes.h"
#include "api/server.h"
#include "controller.h"

static struct controller ctl;
static char body_buf[HTTP_BODY_OUT_MAX];
static struct http_response resp;
static int starts, pauses, resumes, flushes;
static int start_result;

static int fake_start(void *o, struct error *err)
{
	(void)o;
	starts++;
	if (start_result < 0)
		return error_set(err, start_result, "boot-source.kernel_image_path: /k: No such "
				 "file or directory");
	return 0;
}

static int fake_pause(void *o, struct error *err) { (void)o; (void)err; pauses++; return 0; }
static int fake_resume(void *o, struct error *err) { (void)o; (void)err; resumes++; return 0; }
static int fake_flush(void *o, struct error *err) { (void)o; (void)err; flushes++; return 0; }
static int cads;
static int fake_cad(void *o, struct error *err)
{
	(void)o;
	if (++cads > 1)
		return error_set(err, -EAGAIN, "SendCtrlAltDel: the keyboard's buffer is full");
	return 0;
}

/* PATCH /drives: what the machine was asked to do, and whether it manages. */
static struct {
	int calls, result;
	unsigned int index;
	char path[256];
	struct rate_limiter_config rl;
	bool path_given, rl_given, bandwidth, ops;
} upd;

static int fake_update_drive(void *o, unsigned int index, const struct drive_config *d,
			     bool path, bool bandwidth, bool ops, struct error *err)
{
	(void)o;
	upd.calls++;
	if (upd.result < 0)
		return error_set(err, upd.result, "drives[%s].path_on_host: %s: a FIFO, not a "
				 "regular file", d->drive_id, d->path_on_host);
	upd.index = index;
	snprintf(upd.path, sizeof(upd.path), "%s", d->path_on_host);
	upd.rl = d->rate_limiter;
	upd.path_given = path;
	upd.rl_given = bandwidth || ops;
	upd.bandwidth = bandwidth;
	upd.ops = ops;
	return 0;
}

/* PATCH /network-interfaces: what the machine was asked to do. */
static struct {
	int calls, result;
	unsigned int index;
	struct rate_limiter_config rx, tx;
	struct net_update u;
} nupd;

static int fake_update_net(void *o, unsigned int index, const struct net_config *n,
			   const struct net_update *u, struct error *err)
{
	(void)o;
	nupd.calls++;
	if (nupd.result < 0)
		return error_set(err, nupd.result, "network-interfaces[%s]: rate limiter: "
				 "No such device", n->iface_id);
	nupd.index = index;
	nupd.rx = n->rx_rate_limiter;
	nupd.tx = n->tx_rate_limiter;
	nupd.u = *u;
	return 0;
}

static const struct controller_ops fake_ops = {
	.start = fake_start, .pause = fake_pause, .resume = fake_resume,
	.flush_metrics = fake_flush, .ctrl_alt_del = fake_cad,
	.update_drive = fake_update_drive, .update_net = fake_update_net,
};

static void setup(void)
{
	ctl_init(&ctl, &fake_ops, NULL, "vm-1");
	starts = pauses = resumes = flushes = cads = 0;
	memset(&upd, 0, sizeof(upd));
	memset(&nupd, 0, sizeof(nupd));
	start_result = 0;
}

static void teardown(void)
{
	ctl_free(&ctl);
}

TestSuite(api, .init = setup, .fini = teardown);

static enum http_verb verb(const char *m)
{
	if (!strcmp(m, "GET"))
		return HTTP_VERB_GET;
	if (!strcmp(m, "PUT"))
		return HTTP_VERB_PUT;
	if (!strcmp(m, "PATCH"))
		return HTTP_VERB_PATCH;
	return HTTP_VERB_OTHER;
}

/* Route one request; the answer's body as a string. */
static const char *req(const char *method, const char *path, const char *body)
{
	static char text[HTTP_BODY_OUT_MAX + 1];
	struct http_request r = { .verb = verb(method), .method = method, .path = path,
				  .body = body ? body : "", .body_len = body ? strlen(body) : 0 };
	resp = (struct http_response){ .status = 0, .body = body_buf };
	api_route(&ctl, &r, &resp);
	memcpy(text, resp.body, resp.body_len);
	text[resp.body_len] = '\0';
	return text;
}

static void expect(const char *method, const char *path, const char *body, int status,
		   const char *answer)
{
	const char *got = req(method, path, body);
	cr_assert_eq(resp.status, status, "%s %s %s: %d %s", method, path, body ? body : "",
		     resp.status, got);
	cr_assert_str_eq(got, answer, "%s %s %s:\n got  %s\n want %s", method, path,
			 body ? body : "", got, answer);
}

static void expect_fault(const char *method, const char *path, const char *body, int status,
			 const char *msg)
{
	char want[2048];
	snprintf(want, sizeof(want), "{\"fault_message\":\"%s\"}", msg);
	expect(method, path, body, status, want);
}

#define OK(method, path, body) expect(method, path, body, 204, "")
#define BAD(method, path, body, msg) expect_fault(method, path, body, 400, msg)

Test(api, instance_info_and_version)
{
	expect("GET", "/", NULL, 200, "{\"id\":\"vm-1\",\"state\":\"Not started\",\"vmm_version\":\""
	       KILN_VERSION "\",\"app_name\":\"kiln\"}");
	expect("GET", "/version", NULL, 200, "{\"firecracker_version\":\"" KILN_VERSION "\"}");
}

Test(api, boot_source)
{
	OK("PUT", "/boot-source", "{\"kernel_image_path\": \"/vmlinux\", \"boot_args\": "
	   "\"console=ttyS0\", \"initrd_path\": \"/initrd\"}");
	cr_assert_str_eq(ctl.cfg.boot.kernel_image_path, "/vmlinux");
	cr_assert_str_eq(ctl.cfg.boot.boot_args, "console=ttyS0");
	BAD("PUT", "/boot-source", "{\"boot_args\": \"x\"}",
	    "boot-source.kernel_image_path: missing required key");
	BAD("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"kernel\": 1}",
	    "boot-source.kernel: unknown key");
	BAD("PUT", "/boot-source", "{\"kernel_image_path\": 7}",
	    "boot-source.kernel_image_path: expected a string, got an integer");
	BAD("PUT", "/boot-source", "[1]", "boot-source: expected an object, got an array");
	BAD("PUT", "/boot-source", "{\"kernel_image_path\": ",
	    "boot-source: invalid JSON at line 1, column 22: unexpected token near end of file");
	/* A refused body leaves the section as it was. */
	cr_assert_str_eq(ctl.cfg.boot.kernel_image_path, "/vmlinux");
	OK("PUT", "/boot-source", "{\"kernel_image_path\": \"/other\"}");
	cr_assert_null(ctl.cfg.boot.boot_args, "a PUT replaces the whole section");
}

Test(api, machine_config_put_patch_get)
{
	OK("PUT", "/machine-config", "{\"vcpu_count\": 4, \"mem_size_mib\": 256, \"smt\": true}");
	expect("GET", "/machine-config", NULL, 200, "{\"vcpu_count\":4,\"mem_size_mib\":256,"
	       "\"smt\":true,\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
	OK("PATCH", "/machine-config", "{\"mem_size_mib\": 512}");
	expect("GET", "/machine-config", NULL, 200, "{\"vcpu_count\":4,\"mem_size_mib\":512,"
	       "\"smt\":true,\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
	BAD("PUT", "/machine-config", "{\"vcpu_count\": 2}",
	    "machine-config.mem_size_mib: missing required key");
	BAD("PATCH", "/machine-config", "{\"vcpu_count\": 0}",
	    "machine-config.vcpu_count: must not be 0");
	BAD("PATCH", "/machine-config", "{\"vcpu_count\": 3}",
	    "machine-config.vcpu_count: must be 1 or even when smt is true");
	BAD("PUT", "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 1}",
	    "machine-config.vcpu_count: 33 is out of range (1 to 32)");
	BAD("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 3, "
	    "\"huge_pages\": \"2M\"}", "machine-config.mem_size_mib: must be a multiple of 2 "
	    "with huge pages");
	BAD("PATCH", "/machine-config", "{\"cpu_template\": \"T2\"}",
	    "machine-config.cpu_template: \\\"T2\\\" is not supported yet (only \\\"None\\\")");
	/* Nothing refused changed anything; a PUT resets what it leaves out. */
	cr_assert_eq(ctl.cfg.machine.vcpu_count, 4);
	OK("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	cr_assert_not(ctl.cfg.machine.smt);
}

Test(api, drives)
{
	OK("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\", "
	   "\"is_root_device\": true}");
	OK("PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/d.img\", "
	   "\"is_root_device\": false, \"is_read_only\": true, \"io_engine\": \"Async\"}");
	cr_assert_eq(ctl.cfg.nr_drives, 2);
	/* The same id again replaces the drive. */
	OK("PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/e.img\", "
	   "\"is_root_device\": false}");
	cr_assert_eq(ctl.cfg.nr_drives, 2);
	cr_assert_str_eq(ctl.cfg.drives[1].path_on_host, "/e.img");
	BAD("PUT", "/drives/other", "{\"drive_id\": \"data\", \"path_on_host\": \"/x\", "
	    "\"is_root_device\": false}", "drives[other].drive_id: \\\"data\\\" does not match the "
	    "drive id in the path");
	BAD("PUT", "/drives/two", "{\"drive_id\": \"two\", \"path_on_host\": \"/x\", "
	    "\"is_root_device\": true}", "drives[two].is_root_device: drive \\\"rootfs\\\" is "
	    "already the root device");
	BAD("PUT", "/drives/bad.id", "{\"drive_id\": \"bad.id\", \"path_on_host\": \"/x\", "
	    "\"is_root_device\": true}", "drives: the drive id in the path must be 1 to 64 "
	    "characters of A-Z a-z 0-9 _ -");
	BAD("PUT", "/drives/x", "{\"drive_id\": \"x\", \"path_on_host\": \"/x\"}",
	    "drives[x].is_root_device: missing required key");
	BAD("PUT", "/drives/x", "{\"drive_id\": \"x\", \"path_on_host\": \"/x\", "
	    "\"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 1}}}",
	    "drives[x].rate_limiter.ops.refill_time: missing required key");
	OK("PUT", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/x\", "
	   "\"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 10, "
	   "\"refill_time\": 100}}}");
	cr_assert_eq(ctl.cfg.drives[1].rate_limiter.ops.size, 10);
	cr_assert_eq(ctl.cfg.drives[1].rate_limiter.ops.refill_time_ms, 100);
	BAD("PUT", "/drives/x", "{\"drive_id\": \"x\", \"path_on_host\": \"/x\", "
	    "\"is_root_device\": false, \"cache_type\": \"Fast\"}",
	    "drives[x].cache_type: \\\"Fast\\\" is not one of Unsafe, Writeback");
	BAD("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}", CTL_ERR_BEFORE_START);
	BAD("GET", "/drives/rootfs", NULL, "Invalid request method and/or path: GET /drives/rootfs.");
	cr_assert_eq(ctl.cfg.nr_drives, 2);
	char path[32], body[128];
	for (int i = 2; i < CONFIG_MAX_DRIVES; i++) {
		snprintf(path, sizeof(path), "/drives/d%d", i);
		snprintf(body, sizeof(body), "{\"drive_id\": \"d%d\", \"path_on_host\": \"/d\", "
			 "\"is_root_device\": false}", i);
		OK("PUT", path, body);
	}
	BAD("PUT", "/drives/d16", "{\"drive_id\": \"d16\", \"path_on_host\": \"/d\", "
	    "\"is_root_device\": false}", "drives[d16]: at most 16 drives are supported");
}

Test(api, logger_metrics_entropy_serial)
{
	OK("PUT", "/logger", "{\"level\": \"Debug\", \"show_level\": true}");
	cr_assert(ctl.cfg.has_logger);
	cr_assert_eq(ctl.cfg.logger.level, LOG_DEBUG);
	BAD("PUT", "/logger", "{\"level\": \"Loud\"}",
	    "logger.level: \\\"Loud\\\" is not one of Error, Warning, Info, Debug, Trace, Off");
	cr_assert_eq(ctl.cfg.logger.level, LOG_DEBUG);
	BAD("PUT", "/metrics", "{}", "metrics.metrics_path: missing required key");
	OK("PUT", "/metrics", "{\"metrics_path\": \"/m.fifo\"}");
	OK("PUT", "/entropy", "{}");
	cr_assert(ctl.cfg.has_entropy);
	BAD("PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {}}}",
	    "entropy.rate_limiter.bandwidth.size: missing required key");
	OK("PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": {\"size\": 4096, "
	   "\"refill_time\": 1000}}}");
	cr_assert_eq(ctl.cfg.entropy_rate_limiter.bandwidth.size, 4096);
	OK("PUT", "/entropy", "{}");
	cr_assert_eq(ctl.cfg.entropy_rate_limiter.bandwidth.size, 0, "a PUT replaces the section");
	OK("PUT", "/serial", "{\"serial_out_path\": \"/s.log\"}");
	BAD("PUT", "/serial", "{\"serial_out_path\": \"\"}",
	    "serial.serial_out_path: must not be empty");
	BAD("GET", "/logger", NULL, "Invalid request method and/or path: GET /logger.");
}

Test(api, actions_and_the_states)
{
	BAD("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
	    "boot-source: missing required section (PUT /boot-source before InstanceStart)");
	cr_assert_eq(starts, 0);
	OK("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}");
	start_result = -ENOENT;
	BAD("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
	    "boot-source.kernel_image_path: /k: No such file or directory");
	start_result = 0;
	BAD("PUT", "/actions", "{\"action_type\": \"Reboot\"}",
	    "actions.action_type: \\\"Reboot\\\" is not one of InstanceStart, FlushMetrics, "
	    "SendCtrlAltDel");
	BAD("PUT", "/actions", "{\"type\": \"InstanceStart\"}", "actions.type: unknown key");
	BAD("PUT", "/actions", "{}", "actions.action_type: missing required key");
	BAD("PATCH", "/vm", "{\"state\": \"Paused\"}", CTL_ERR_BEFORE_START);
	BAD("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", CTL_ERR_BEFORE_START);
	OK("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert_eq(starts, 2);
	cr_assert_eq(ctl.state, VM_RUNNING);
	BAD("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", CTL_ERR_AFTER_START);
	BAD("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", CTL_ERR_AFTER_START);
	BAD("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 8}",
	    CTL_ERR_AFTER_START);
	OK("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
	cr_assert_eq(flushes, 1);
	OK("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}");
	cr_assert_eq(cads, 1);
	BAD("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}",
	    "SendCtrlAltDel: the keyboard's buffer is full");
	OK("PATCH", "/vm", "{\"state\": \"Paused\"}");
	expect("GET", "/", NULL, 200, "{\"id\":\"vm-1\",\"state\":\"Paused\",\"vmm_version\":\""
	       KILN_VERSION "\",\"app_name\":\"kiln\"}");
	OK("PATCH", "/vm", "{\"state\": \"Paused\"}");
	cr_assert_eq(pauses, 1, "pausing a paused VM changes nothing");
	BAD("PATCH", "/vm", "{\"state\": \"Frozen\"}",
	    "vm.state: \\\"Frozen\\\" is not one of Paused, Resumed");
	OK("PATCH", "/vm", "{\"state\": \"Resumed\"}");
	cr_assert_eq(resumes, 1);
	cr_assert_eq(ctl.state, VM_RUNNING);
	BAD("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}",
	    "drives[rootfs]: nothing to change: give path_on_host or rate_limiter");
}

Test(api, network_interfaces_put_before_and_patch_after_the_start)
{
	OK("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}");
	OK("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": "
	   "\"tap0\", \"guest_mac\": \"06:00:ac:10:00:02\", \"rx_rate_limiter\": {\"bandwidth\": "
	   "{\"size\": 1000, \"refill_time\": 100}}}");
	OK("PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": "
	   "\"tap1\"}");
	/* PUT again replaces the interface. */
	OK("PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": "
	   "\"tap2\", \"mtu\": 1400}");
	cr_assert_eq(ctl.cfg.nr_nets, 2);
	cr_assert_str_eq(ctl.cfg.nets[1].host_dev_name, "tap2");
	BAD("PUT", "/network-interfaces/eth2", "{\"iface_id\": \"eth1\", \"host_dev_name\": "
	    "\"tap3\"}", "network-interfaces[eth2].iface_id: \\\"eth1\\\" does not match the "
	    "interface id in the path");
	BAD("PUT", "/network-interfaces/eth2", "{\"iface_id\": \"eth2\", \"host_dev_name\": "
	    "\"tap0\"}", "network-interfaces[eth2].host_dev_name: \\\"tap0\\\" is already used "
	    "by interface \\\"eth0\\\"");
	BAD("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": "
	    "{}}", CTL_ERR_BEFORE_START);
	cr_assert(strstr(req("GET", "/vm/config", NULL), "\"network-interfaces\":[{\"iface_id\":"
			 "\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"06:00:ac:10:00:02\""));
	OK("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	BAD("PUT", "/network-interfaces/eth3", "{\"iface_id\": \"eth3\", \"host_dev_name\": "
	    "\"tap3\"}", CTL_ERR_AFTER_START);

	/* A tx ops bucket: the rx limiter is passed on as it was, both kept in the config. */
	OK("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": "
	   "{\"ops\": {\"size\": 10, \"refill_time\": 1000}}}");
	cr_assert_eq(nupd.calls, 1);
	cr_assert_eq(nupd.index, 0u);
	cr_assert(nupd.u.has_tx_ops && !nupd.u.has_tx_bandwidth && !nupd.u.has_rx_bandwidth);
	cr_assert_eq(nupd.rx.bandwidth.size, 1000);
	cr_assert_eq(nupd.tx.ops.size, 10);
	cr_assert_eq(ctl.cfg.nets[0].tx_rate_limiter.ops.refill_time_ms, 1000);
	cr_assert_eq(ctl.cfg.nets[0].rx_rate_limiter.bandwidth.size, 1000);
	BAD("PATCH", "/network-interfaces/eth9", "{\"iface_id\": \"eth9\", \"rx_rate_limiter\": "
	    "{}}", "network-interfaces[eth9]: no such interface");
	/* The machine refuses: the configuration is unchanged. */
	nupd.result = -ENODEV;
	BAD("PATCH", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"rx_rate_limiter\": "
	    "{\"ops\": {\"size\": 1, \"refill_time\": 1}}}",
	    "network-interfaces[eth1]: rate limiter: No such device");
	cr_assert_eq(ctl.cfg.nets[1].rx_rate_limiter.ops.size, 0);
}

Test(api, patch_drives_after_the_start)
{
	const char *data = "{\"drive_id\": \"data\", \"path_on_host\": \"/d.img\", "
			   "\"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": "
			   "{\"size\": 1000, \"refill_time\": 100}}}";
	OK("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}");
	OK("PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.img\", "
	   "\"is_root_device\": true}");
	OK("PUT", "/drives/data", data);
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/n.img\"}",
	    CTL_ERR_BEFORE_START);
	OK("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");

	/* A new image: the machine gets the drive as it is to become, then the config shows it. */
	OK("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/n.img\"}");
	cr_assert_eq(upd.calls, 1);
	cr_assert_eq(upd.index, 1u);
	cr_assert_str_eq(upd.path, "/n.img");
	cr_assert(upd.path_given && !upd.rl_given);
	cr_assert_eq(upd.rl.bandwidth.size, 1000, "the limiter is passed on unchanged");
	cr_assert_str_eq(ctl.cfg.drives[1].path_on_host, "/n.img");
	cr_assert(strstr(req("GET", "/vm/config", NULL), "\"path_on_host\":\"/n.img\""));
	cr_assert_str_eq(ctl.cfg.drives[0].path_on_host, "/r.img", "other drives stay");

	/* A new ops bucket: bandwidth, not given, is kept. */
	OK("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": "
	   "{\"size\": 10, \"refill_time\": 1000}}}");
	cr_assert_eq(upd.calls, 2);
	cr_assert(!upd.path_given && upd.rl_given && !upd.bandwidth && upd.ops);
	cr_assert_str_eq(upd.path, "/n.img");
	cr_assert_eq(upd.rl.bandwidth.size, 1000);
	cr_assert_eq(upd.rl.ops.size, 10);
	cr_assert_eq(ctl.cfg.drives[1].rate_limiter.ops.refill_time_ms, 1000);
	cr_assert_eq(ctl.cfg.drives[1].rate_limiter.bandwidth.size, 1000);

	/* Both at once, on the root drive; a long path fits the drive's string. */
	static char body[CONFIG_PATH_MAX + 200], longpath[CONFIG_PATH_MAX];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[0] = '/';
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"rate_limiter\": {\"bandwidth\": {\"size\": 5, \"refill_time\": 7}}}",
		 longpath);
	OK("PATCH", "/drives/rootfs", body);
	cr_assert_eq(upd.index, 0u);
	cr_assert(upd.path_given && upd.rl_given && upd.bandwidth && !upd.ops);
	cr_assert_str_eq(ctl.cfg.drives[0].path_on_host, longpath);
	cr_assert_eq(ctl.cfg.drives[0].rate_limiter.bandwidth.refill_time_ms, 7);

	/* Refused: nothing reaches the machine, and nothing changes. */
	upd.calls = 0;
	BAD("PATCH", "/drives/nope", "{\"drive_id\": \"nope\", \"path_on_host\": \"/x\"}",
	    "drives[nope]: no such drive");
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/x\"}",
	    "drives[data].drive_id: \\\"rootfs\\\" does not match the drive id in the path");
	BAD("PATCH", "/drives/data", "{\"path_on_host\": \"/x\"}",
	    "drives[data].drive_id: missing required key");
	BAD("PATCH", "/drives/data", "{\"drive_id\": 1, \"path_on_host\": \"/x\"}",
	    "drives[data].drive_id: expected a string, got an integer");
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"\"}",
	    "drives[data].path_on_host: must not be empty");
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": 5}",
	    "drives[data].path_on_host: expected a string, got an integer");
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"is_read_only\": true}",
	    "drives[data].is_read_only: unknown key");
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": "
	    "{\"size\": 0, \"refill_time\": 1}}}",
	    "drives[data].rate_limiter.ops.size: must not be 0");
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": {\"ops\": "
	    "{\"size\": 1}}}", "drives[data].rate_limiter.ops.refill_time: missing required key");
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"rate_limiter\": null}",
	    "drives[data]: nothing to change: give path_on_host or rate_limiter");
	BAD("PATCH", "/drives/data", "[1]", "drives[data]: expected an object, got an array");
	BAD("PATCH", "/drives/data", "{", "drives: invalid JSON at line 1, column 1: "
	    "string or '}' expected near end of file");
	BAD("PATCH", "/drives/bad%20id", "{\"drive_id\": \"x\"}", "drives: the drive id in the "
	    "path must be 1 to 64 characters of A-Z a-z 0-9 _ -");
	snprintf(body, sizeof(body), "{\"drive_id\": \"data\", \"path_on_host\": \"/%s\"}",
		 longpath);
	BAD("PATCH", "/drives/data", body, "drives[data].path_on_host: 4096 bytes; a path has at "
	    "most 4095");
	cr_assert_eq(upd.calls, 0);
	/* The machine refuses (the file is not a regular one): the config keeps the old path. */
	upd.result = -EINVAL;
	BAD("PATCH", "/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"/fifo\"}",
	    "drives[data].path_on_host: /fifo: a FIFO, not a regular file");
	cr_assert_eq(upd.calls, 1);
	cr_assert_str_eq(ctl.cfg.drives[1].path_on_host, "/n.img");
	cr_assert_eq(ctl.cfg.drives[1].rate_limiter.ops.size, 10);
	cr_assert(strstr(req("GET", "/vm/config", NULL), "\"path_on_host\":\"/n.img\""));
}

Test(api, methods_paths_and_bodies)
{
	BAD("GET", "/nowhere", NULL, "Invalid request method and/or path: GET /nowhere.");
	BAD("PUT", "/", "{}", "Invalid request method and/or path: PUT /.");
	BAD("PATCH", "/boot-source", "{}", "Invalid request method and/or path: PATCH "
	    "/boot-source.");
	BAD("GET", "/actions", NULL, "Invalid request method and/or path: GET /actions.");
	BAD("PUT", "/vm", "{}", "Invalid request method and/or path: PUT /vm.");
	BAD("PUT", "/drives/", "{}", "Invalid request method and/or path: PUT /drives/.");
	BAD("PUT", "/drives/a/b", "{}", "Invalid request method and/or path: PUT /drives/a/b.");
	expect_fault("POST", "/actions", "{}", 405, "Unsupported HTTP method: POST.");
	expect_fault("DELETE", "/drives/rootfs", NULL, 405, "Unsupported HTTP method: DELETE.");
	BAD("GET", "/", "{}", "GET request cannot have a body.");
	BAD("PUT", "/boot-source", NULL, "Empty PUT request.");
	BAD("PATCH", "/vm", NULL, "Empty PATCH request.");
	/* Hostile bytes in a path come back escaped: valid JSON, one line. */
	BAD("GET", "/\x01\"\xff", NULL, "Invalid request method and/or path: GET /\\\\x01\\\"\\\\xff.");
}

Test(api, unimplemented_paths_name_the_feature)
{
	static const struct { const char *m, *p, *msg; } cases[] = {
		{ "GET", "/balloon", "balloon: not supported yet (kiln has no balloon device)" },
		{ "PATCH", "/balloon/statistics", "balloon: not supported yet (kiln has no balloon "
		  "device)" },
		{ "PUT", "/snapshot/create", "snapshot: not supported yet (kiln has no snapshots)" },
		{ "PUT", "/snapshot/load", "snapshot: not supported yet (kiln has no snapshots)" },
		{ "GET", "/mmds", "mmds: not supported yet (kiln has no MMDS)" },
		{ "PUT", "/mmds/config", "mmds-config: not supported yet (kiln has no MMDS)" },
		{ "PUT", "/cpu-config", "cpu-config: not supported yet (kiln has no CPU templates)" },
		{ "PATCH", "/hotplug/memory", "memory-hotplug: not supported yet (kiln has no "
		  "virtio-mem device)" },
		{ "PUT", "/pmem/p0", "pmem: not supported yet (kiln has no pmem device)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		BAD(cases[i].m, cases[i].p, strcmp(cases[i].m, "GET") ? "{}" : NULL, cases[i].msg);
}

Test(api, vsock_is_set_before_the_start_and_shown_in_vm_config)
{
	BAD("PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/v.sock\"}",
	    "vsock.guest_cid: 2 is out of range (3 to 4294967294)");
	BAD("PUT", "/vsock", "{\"guest_cid\": 3}", "vsock.uds_path: missing required key");
	BAD("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v.sock\", \"port\": 1}",
	    "vsock.port: unknown key");
	BAD("GET", "/vsock", NULL, "Invalid request method and/or path: GET /vsock.");
	const char *dump = req("GET", "/vm/config", NULL);
	cr_assert(strstr(dump, "\"vsock\":null"), "a refused PUT set nothing: %s", dump);
	OK("PUT", "/vsock", "{\"guest_cid\": 7, \"uds_path\": \"/v.sock\"}");
	OK("PUT", "/vsock", "{\"vsock_id\": \"v\", \"guest_cid\": 9, \"uds_path\": \"/w.sock\"}");
	dump = req("GET", "/vm/config", NULL);
	cr_assert_eq(resp.status, 200);
	OK("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}");
	dump = req("GET", "/vm/config", NULL);
	struct vm_config back;
	struct error err = { 0 };
	config_defaults(&back);
	cr_assert_eq(config_load_string(dump, &back, &err), 0, "%s: %s", err.msg, dump);
	cr_assert(back.has_vsock, "%s", dump);
	cr_assert_eq(back.vsock.guest_cid, 9, "the second PUT replaced the first: %s", dump);
	cr_assert_str_eq(back.vsock.uds_path, "/w.sock");
	config_free(&back);
}

Test(api, vm_config_round_trips_through_the_config_parser)
{
	OK("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"boot_args\": \"quiet\"}");
	OK("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 96, "
	   "\"huge_pages\": \"2M\"}");
	OK("PUT", "/drives/root", "{\"drive_id\": \"root\", \"path_on_host\": \"/r\", "
	   "\"is_root_device\": true, \"partuuid\": \"abc-1\", \"cache_type\": \"Writeback\", "
	   "\"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, \"one_time_burst\": 8388608, "
	   "\"refill_time\": 1000}, \"ops\": null}}");
	OK("PUT", "/entropy", "{\"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 10}}}");
	OK("PUT", "/logger", "{\"level\": \"Warning\"}");
	const char *dump = req("GET", "/vm/config", NULL);
	cr_assert_eq(resp.status, 200);
	struct vm_config back;
	struct error err = { 0 };
	config_defaults(&back);
	cr_assert_eq(config_load_string(dump, &back, &err), 0, "%s: %s", err.msg, dump);
	cr_assert_str_eq(back.boot.kernel_image_path, "/k");
	cr_assert_str_eq(back.boot.boot_args, "quiet");
	cr_assert_eq(back.machine.vcpu_count, 2);
	cr_assert_eq(back.machine.mem_size_mib, 96);
	cr_assert_eq(back.machine.huge_pages, GM_BACKING_HUGETLB);
	cr_assert_eq(back.nr_drives, 1);
	cr_assert_str_eq(back.drives[0].partuuid, "abc-1");
	cr_assert_eq(back.drives[0].cache_type, DRIVE_CACHE_WRITEBACK);
	cr_assert_eq(back.drives[0].rate_limiter.bandwidth.size, 1048576);
	cr_assert_eq(back.drives[0].rate_limiter.bandwidth.one_time_burst, 8388608);
	cr_assert_eq(back.drives[0].rate_limiter.bandwidth.refill_time_ms, 1000);
	cr_assert_eq(back.drives[0].rate_limiter.ops.size, 0);
	cr_assert(back.has_entropy);
	cr_assert_eq(back.entropy_rate_limiter.ops.size, 5);
	cr_assert_eq(back.entropy_rate_limiter.ops.refill_time_ms, 10);
	cr_assert_eq(back.entropy_rate_limiter.bandwidth.size, 0);
	cr_assert_eq(back.logger.level, LOG_WARN);
	config_free(&back);
	/* Every section Firecracker lists is there, the unused ones null or empty. */
	for (const char *k = "\"balloon\":null|\"vsock\":null|\"pmem\":[]|\"network-interfaces\":[]"
	     "|\"memory-hotplug\":null|\"mmds-config\":null|\"cpu-config\":null|\"metrics\":null";
	     *k;) {
		const char *bar = strchr(k, '|');
		size_t n = bar ? (size_t)(bar - k) : strlen(k);
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)n, k);
		cr_assert(strstr(dump, key), "%s not in %s", key, dump);
		k += n + (bar != NULL);
	}
}

/* ---- The HTTP layer: bytes in, answers out. ---- */

static void echo_handler(void *opaque, const struct http_request *r, struct http_response *rs)
{
	(void)opaque;
	rs->status = 200;
	rs->body_len = (size_t)snprintf(rs->body, HTTP_BODY_OUT_MAX, "{\"m\":\"%s\",\"p\":\"%s\","
					"\"n\":%zu}", r->method, r->path, r->body_len);
}

static struct http_conn conn;
static char conn_body[HTTP_MAX_PAYLOAD_LIMIT + 1], conn_out[HTTP_OUT_MAX];

/* Feed all of `in` (answering as needed); every answer appended to `all`. */
static void feed_all(const char *in, size_t len, char *all, size_t size)
{
	size_t off = 0;
	all[0] = '\0';
	while (off < len) {
		size_t n = http_conn_feed(&conn, in + off, len - off, echo_handler, NULL, body_buf);
		off += n;
		if (http_conn_pending(&conn)) {
			strncat(all, conn.out, MIN(conn.out_len, size - strlen(all) - 1));
			http_conn_sent(&conn);
		}
		if (conn.closing)
			break;
	}
}

Test(api, http_pipelined_requests_answered_in_order)
{
	static char all[8192];
	const char in[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
			  "PUT /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
			  "GET /c?x=1 HTTP/1.1\r\n\r\n";
	http_conn_init(&conn, conn_body, HTTP_MAX_PAYLOAD, conn_out);
	feed_all(in, sizeof(in) - 1, all, sizeof(all));
	const char *a = strstr(all, "{\"m\":\"GET\",\"p\":\"/a\",\"n\":0}");
	const char *b = strstr(all, "{\"m\":\"PUT\",\"p\":\"/b\",\"n\":2}");
	const char *c = strstr(all, "{\"m\":\"GET\",\"p\":\"/c\",\"n\":0}");
	cr_assert(a && b && c && a < b && b < c, "%s", all);
	cr_assert(strstr(all, "HTTP/1.1 200 OK\r\nServer: kiln API\r\nConnection: keep-alive\r\n"
			 "Content-Type: application/json\r\nContent-Length: 26\r\n\r\n"), "%s", all);
}

Test(api, http_one_byte_at_a_time)
{
	static char all[4096], got[4096];
	const char in[] = "PUT /machine-config HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
	http_conn_init(&conn, conn_body, HTTP_MAX_PAYLOAD, conn_out);
	got[0] = '\0';
	for (size_t i = 0; i < sizeof(in) - 1; i++) {
		feed_all(in + i, 1, all, sizeof(all));
		strcat(got, all);
	}
	cr_assert(strstr(got, "{\"m\":\"PUT\",\"p\":\"/machine-config\",\"n\":5}"), "%s", got);
}

static size_t conn_limit = HTTP_MAX_PAYLOAD;	/* the body limit expect_refused uses */

static void expect_refused(const char *in, size_t len, const char *status_line, const char *msg)
{
	static char all[8192];
	http_conn_init(&conn, conn_body, conn_limit, conn_out);
	feed_all(in, len, all, sizeof(all));
	cr_assert(conn.closing, "the connection stays open after: %s", all);
	cr_assert(!strncmp(all, status_line, strlen(status_line)), "%s", all);
	cr_assert(strstr(all, "Connection: close\r\n"), "%s", all);
	cr_assert(strstr(all, msg), "%s", all);
}

Test(api, http_limits_and_malformed_requests)
{
	static char big[HTTP_HEADERS_MAX + 200], url[HTTP_URL_MAX + 100];
	expect_refused("PUT /x HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", 42,
		       "HTTP/1.1 413 Payload Too Large\r\n", "limit of 51200 bytes");
	const char chunked[] = "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			       "c801\r\n";	/* 51201 bytes announced in one chunk */
	static char in[sizeof(chunked) + 51300];
	memcpy(in, chunked, sizeof(chunked) - 1);
	memset(in + sizeof(chunked) - 1, 'a', 51250);
	expect_refused(in, sizeof(chunked) - 1 + 51250, "HTTP/1.1 413 ", "51200");
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'b', sizeof(big) - (size_t)n - 1);
	expect_refused(big, sizeof(big) - 1, "HTTP/1.1 431 ", "larger than 8192 bytes");
	n = snprintf(url, sizeof(url), "GET /");
	memset(url + n, 'u', sizeof(url) - (size_t)n - 1);
	expect_refused(url, sizeof(url) - 1, "HTTP/1.1 414 ", "longer than 1024 bytes");
	expect_refused("HELLO\r\n\r\n", 9, "HTTP/1.1 400 ", "fault_message");
	expect_refused("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 37, "HTTP/1.1 400 ",
		       "fault_message");
}

/* A request of `body_len` bytes of body, by Content-Length or in one chunk. */
static size_t payload_request(char *buf, size_t size, size_t body_len, bool chunked)
{
	int n = chunked ? snprintf(buf, size, "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
				   "\r\n%zx\r\n", body_len)
			: snprintf(buf, size, "PUT /x HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
				   body_len);
	cr_assert(n > 0 && (size_t)n + body_len + 8 < size);
	memset(buf + n, 'a', body_len);
	n += (int)body_len;
	if (chunked)
		n += snprintf(buf + n, size - (size_t)n, "\r\n0\r\n\r\n");
	return (size_t)n;
}

/* The body limit is the connection's own (--http-api-max-payload-size): up to it, served. */
static void expect_limit(size_t limit)
{
	static char in[HTTP_MAX_PAYLOAD_LIMIT + 256], all[8192], want[128];
	for (int chunked = 0; chunked < 2; chunked++) {
		size_t len = payload_request(in, sizeof(in), limit, chunked);
		http_conn_init(&conn, conn_body, limit, conn_out);
		feed_all(in, len, all, sizeof(all));
		snprintf(want, sizeof(want), "\"n\":%zu}", limit);
		cr_assert(strstr(all, "HTTP/1.1 200 OK\r\n") && strstr(all, want),
			  "limit %zu: %s", limit, all);
		cr_assert_not(conn.closing);
		len = payload_request(in, sizeof(in), limit + 1, chunked);
		conn_limit = limit;
		snprintf(want, sizeof(want), "{\"fault_message\":\"Request payload with size "
			 "larger than the limit of %zu bytes allowed by server.\"}", limit);
		expect_refused(in, len, "HTTP/1.1 413 Payload Too Large\r\n", want);
		conn_limit = HTTP_MAX_PAYLOAD;
	}
}

Test(api, http_payload_limit_is_the_one_given)
{
	expect_limit(1);
	expect_limit(100);
	expect_limit(HTTP_MAX_PAYLOAD);
	expect_limit(HTTP_MAX_PAYLOAD_LIMIT);
}

Test(api, http_connection_close_is_honoured)
{
	static char all[4096];
	const char in[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /again HTTP/1.1\r\n\r\n";
	http_conn_init(&conn, conn_body, HTTP_MAX_PAYLOAD, conn_out);
	feed_all(in, sizeof(in) - 1, all, sizeof(all));
	cr_assert(conn.closing);
	cr_assert(strstr(all, "Connection: close"), "%s", all);
	cr_assert_null(strstr(all, "/again"), "answered after Connection: close: %s", all);
}

Test(api, http_fault_body_is_valid_json_for_any_message)
{
	char buf[256];
	size_t n = http_fault_body(buf, sizeof(buf), "a \"quoted\" \\ \n\x7f\xc3");
	cr_assert_str_eq(buf, "{\"fault_message\":\"a \\\"quoted\\\" \\\\ \\\\x0a\\\\x7f\\\\xc3\"}");
	cr_assert_eq(n, strlen(buf));
	/* A message too long for the buffer is cut, never the JSON. */
	static char longmsg[2000];
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	n = http_fault_body(buf, 64, longmsg);
	cr_assert_eq(n, 63u);
	cr_assert_str_eq(buf + n - 2, "\"}");
}

/* ---- The server over socketpairs: no client holds up another. ---- */

static struct api_server srv;

static int client(void)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	api_server_adopt(&srv, sv[1]);
	return sv[0];
}

/* Run the server until fd has an answer (or 2 s): what it answered. */
static const char *answer(int fd)
{
	static char buf[65536];
	size_t got = 0;
	buf[0] = '\0';
	for (int i = 0; i < 200; i++) {
		cr_assert_geq(api_server_poll(&srv, 10), 0);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 0) > 0) {
			ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			if (strstr(buf, "\r\n\r\n") && strstr(buf, "}"))
				break;
		}
	}
	return buf;
}

Test(api, server_slow_client_does_not_hold_up_others)
{
	cr_assert_eq(api_server_init_fd(&srv, -1, HTTP_MAX_PAYLOAD, api_route, &ctl), 0);
	int slow = client(), fast = client();
	cr_assert_eq(write(slow, "GET / HT", 8), 8);
	cr_assert_eq(api_server_poll(&srv, 10), 0);
	cr_assert_eq(write(fast, "GET /version HTTP/1.1\r\n\r\n", 25), 25);
	cr_assert(strstr(answer(fast), "firecracker_version"));
	cr_assert_eq(write(slow, "TP/1.1\r\n\r\n", 10), 10);
	cr_assert(strstr(answer(slow), "\"state\":\"Not started\""));
	close(slow);
	close(fast);
	api_server_destroy(&srv);
}

Test(api, server_full_closes_the_client_idle_longest)
{
	int fds[API_MAX_CONNS + 1];
	cr_assert_eq(api_server_init_fd(&srv, -1, HTTP_MAX_PAYLOAD, api_route, &ctl), 0);
	for (int i = 0; i < API_MAX_CONNS; i++) {
		fds[i] = client();
		usleep(1000);
	}
	/* All idle: the first one goes when one more comes. */
	fds[API_MAX_CONNS] = client();
	cr_assert_eq(srv.evicted, 1u);
	char c;
	cr_assert_eq(read(fds[0], &c, 1), 0, "the oldest client was not closed");
	cr_assert_eq(write(fds[API_MAX_CONNS], "GET / HTTP/1.1\r\n\r\n", 18), 18);
	cr_assert(strstr(answer(fds[API_MAX_CONNS]), "200 OK"));
	cr_assert_eq(write(fds[1], "GET / HTTP/1.1\r\n\r\n", 18), 18);
	cr_assert(strstr(answer(fds[1]), "200 OK"));
	for (int i = 0; i <= API_MAX_CONNS; i++)
		close(fds[i]);
	api_server_destroy(&srv);
}

Test(api, server_applies_its_payload_limit)
{
	static char in[512];
	cr_assert_eq(api_server_init_fd(&srv, -1, 0, api_route, &ctl), -EINVAL);
	api_server_destroy(&srv);
	cr_assert_eq(api_server_init_fd(&srv, -1, HTTP_MAX_PAYLOAD_LIMIT + 1, api_route, &ctl),
		     -EINVAL);
	api_server_destroy(&srv);
	cr_assert_eq(api_server_init_fd(&srv, -1, 20, api_route, &ctl), 0);
	int fd = client();
	const char body[] = "{\"state\": \"Paused\"}";	/* 19 bytes: within the limit */
	int n = snprintf(in, sizeof(in), "PATCH /vm HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
			 sizeof(body) - 1, body);
	cr_assert_eq(write(fd, in, (size_t)n), n);
	const char *a = answer(fd);
	cr_assert(strstr(a, "HTTP/1.1 400 ") && strstr(a, "before starting"), "%s", a);
	n = snprintf(in, sizeof(in), "PUT /actions HTTP/1.1\r\nContent-Length: 33\r\n\r\n"
		     "{\"action_type\": \"FlushMetrics\"}");
	cr_assert_eq(write(fd, in, (size_t)n), n);
	a = answer(fd);
	cr_assert(strstr(a, "HTTP/1.1 413 ") && strstr(a, "the limit of 20 bytes"), "%s", a);
	close(fd);
	api_server_destroy(&srv);
}
