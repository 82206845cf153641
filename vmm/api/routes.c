/* Firecracker's API paths: each request turned into a controller operation and answered. */
#include "routes.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

/* Paths of Firecracker's swagger that kiln answers with "not supported yet". */
static const struct {
	const char *path;
	bool prefix;		/* "/pmem/" matches "/pmem/{id}" */
	const char *what;
} unsupported[] = {
	{ "/balloon", false, "balloon: not supported yet (kiln has no balloon device)" },
	{ "/balloon/", true, "balloon: not supported yet (kiln has no balloon device)" },
	{ "/snapshot/create", false, "snapshot: not supported yet (kiln has no snapshots)" },
	{ "/snapshot/load", false, "snapshot: not supported yet (kiln has no snapshots)" },
	{ "/mmds", false, "mmds: not supported yet (kiln has no MMDS)" },
	{ "/mmds/config", false, "mmds-config: not supported yet (kiln has no MMDS)" },
	{ "/cpu-config", false, "cpu-config: not supported yet (kiln has no CPU templates)" },
	{ "/hotplug/memory", false, "memory-hotplug: not supported yet (kiln has no "
	  "virtio-mem device)" },
	{ "/pmem/", true, "pmem: not supported yet (kiln has no pmem device)" },
};

static void fault(struct http_response *resp, int status, const char *msg)
{
	resp->status = status;
	resp->body_len = http_fault_body(resp->body, HTTP_BODY_OUT_MAX, msg);
}

static void no_content(struct http_response *resp)
{
	resp->status = 204;
	resp->body_len = 0;
}

static void json_body(struct http_response *resp, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void json_body(struct http_response *resp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(resp->body, HTTP_BODY_OUT_MAX, fmt, ap);
	va_end(ap);
	resp->status = 200;
	resp->body_len = n > 0 && n < HTTP_BODY_OUT_MAX ? (size_t)n : 0;
}

/* The path as it may appear in a message: escaped, and cut to a readable length. */
static void shown_path(char *dst, size_t size, const char *path)
{
	size_t len = strlen(path);
	log_escape(dst, size, path, len > 200 ? 200 : len, NULL);
}

static void invalid_method_path(const struct http_request *req, struct http_response *resp)
{
	char p[1024], msg[1200];
	shown_path(p, sizeof(p), req->path);
	snprintf(msg, sizeof(msg), "Invalid request method and/or path: %s %s.", req->method, p);
	fault(resp, 400, msg);
}

static void reply(struct http_response *resp, int ret, const struct error *err)
{
	if (ret < 0)
		fault(resp, 400, err->msg);
	else
		no_content(resp);
}

static void get_instance(struct controller *ctl, struct http_response *resp)
{
	/* The id is --id's: 1 to 64 characters of [A-Za-z0-9-], nothing to escape. */
	json_body(resp, "{\"id\":\"%s\",\"state\":\"%s\",\"vmm_version\":\"%s\","
		  "\"app_name\":\"kiln\"}", ctl->id ? ctl->id : "anonymous-instance",
		  ctl_state_name(ctl->state), KILN_VERSION);
}

static void get_dump(struct controller *ctl, bool machine_only, struct http_response *resp)
{
	struct error err = { 0 };
	int n = machine_only ? config_dump_machine(&ctl->cfg, resp->body, HTTP_BODY_OUT_MAX, &err)
			     : config_dump(&ctl->cfg, resp->body, HTTP_BODY_OUT_MAX, &err);
	if (n < 0) {
		fault(resp, 500, err.msg);
		return;
	}
	resp->status = 200;
	resp->body_len = (size_t)n;
}

/* A body of the form {"<key>": "<one of names>"} (actions, vm state). */
static int one_choice(const struct http_request *req, const char *path, const char *key,
		      const char *const *names, size_t n, struct error *err)
{
	json_error_t jerr;
	json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	int ret = -1;

	if (!o)
		return error_set(err, -EINVAL, "%s: invalid JSON at line %d, column %d: %s", path,
				 jerr.line, jerr.column, jerr.text);
	json_t *v = json_object_get(o, key);
	const char *k;
	json_t *m;
	if (!json_is_object(o)) {
		error_set(err, -EINVAL, "%s: expected an object", path);
		goto out;
	}
	json_object_foreach(o, k, m) {
		if (strcmp(k, key) != 0) {
			char shown[128];
			log_escape(shown, sizeof(shown), k, strnlen(k, 64), NULL);
			error_set(err, -EINVAL, "%s.%s: unknown key", path, shown);
			goto out;
		}
	}
	if (!v) {
		error_set(err, -EINVAL, "%s.%s: missing required key", path, key);
		goto out;
	}
	if (!json_is_string(v)) {
		error_set(err, -EINVAL, "%s.%s: expected a string", path, key);
		goto out;
	}
	for (size_t i = 0; i < n && ret < 0; i++)
		if (strcmp(json_string_value(v), names[i]) == 0)
			ret = (int)i;
	if (ret < 0) {
		char shown[128];
		const char *s = json_string_value(v);
		log_escape(shown, sizeof(shown), s, strnlen(s, 64), NULL);
		error_set(err, -EINVAL, "%s.%s: \"%s\" is not one of %s%s%s%s%s", path, key, shown,
			  names[0], n > 1 ? ", " : "", n > 1 ? names[1] : "", n > 2 ? ", " : "",
			  n > 2 ? names[2] : "");
	}
out:
	json_decref(o);
	return ret;
}

static void put_actions(struct controller *ctl, const struct http_request *req,
			struct http_response *resp)
{
	static const char *const names[] = { "InstanceStart", "FlushMetrics", "SendCtrlAltDel" };
	struct error err = { 0 };
	int ret = one_choice(req, "actions", "action_type", names, 3, &err);

	if (ret == 0)
		ret = ctl_start(ctl, &err);
	else if (ret == 1)
		ret = ctl_flush_metrics(ctl, &err);
	else if (ret == 2)
		ret = ctl_ctrl_alt_del(ctl, &err);
	reply(resp, ret, &err);
}

static void patch_vm(struct controller *ctl, const struct http_request *req,
		     struct http_response *resp)
{
	static const char *const names[] = { "Paused", "Resumed" };
	struct error err = { 0 };
	int ret = one_choice(req, "vm", "state", names, 2, &err);

	if (ret == 0)
		ret = ctl_pause(ctl, &err);
	else if (ret == 1)
		ret = ctl_resume(ctl, &err);
	reply(resp, ret, &err);
}

static void configure(struct controller *ctl, enum config_section s, const char *id,
		      const struct http_request *req, struct http_response *resp)
{
	struct error err = { 0 };
	reply(resp, ctl_configure(ctl, s, id, req->body, req->body_len, &err), &err);
}

static void update_drive(struct controller *ctl, const char *id, const struct http_request *req,
			 struct http_response *resp)
{
	struct error err = { 0 };
	reply(resp, ctl_update_drive(ctl, id, req->body, req->body_len, &err), &err);
}

static void update_net(struct controller *ctl, const char *id, const struct http_request *req,
		       struct http_response *resp)
{
	struct error err = { 0 };
	reply(resp, ctl_update_net(ctl, id, req->body, req->body_len, &err), &err);
}

/* Sections set with PUT, pre-boot only. */
static const struct {
	const char *path;
	enum config_section section;
} put_sections[] = {
	{ "/boot-source", CONFIG_BOOT_SOURCE }, { "/logger", CONFIG_LOGGER },
	{ "/metrics", CONFIG_METRICS }, { "/entropy", CONFIG_ENTROPY },
	{ "/serial", CONFIG_SERIAL }, { "/vsock", CONFIG_VSOCK },
};

/* Returns false when the path is not one of kiln's (nor a known unsupported one). */
static bool route(struct controller *ctl, const struct http_request *req,
		  struct http_response *resp)
{
	const char *path = req->path;
	enum http_verb v = req->verb;

	if (strcmp(path, "/") == 0) {
		if (v != HTTP_VERB_GET)
			return invalid_method_path(req, resp), true;
		return get_instance(ctl, resp), true;
	}
	if (strcmp(path, "/version") == 0) {
		if (v != HTTP_VERB_GET)
			return invalid_method_path(req, resp), true;
		return json_body(resp, "{\"firecracker_version\":\"%s\"}", KILN_VERSION), true;
	}
	if (strcmp(path, "/vm/config") == 0) {
		if (v != HTTP_VERB_GET)
			return invalid_method_path(req, resp), true;
		return get_dump(ctl, false, resp), true;
	}
	if (strcmp(path, "/machine-config") == 0) {
		if (v == HTTP_VERB_GET)
			get_dump(ctl, true, resp);
		else
			configure(ctl, v == HTTP_VERB_PUT ? CONFIG_MACHINE : CONFIG_MACHINE_PATCH,
				  NULL, req, resp);
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(put_sections); i++) {
		if (strcmp(path, put_sections[i].path) != 0)
			continue;
		if (v != HTTP_VERB_PUT)
			return invalid_method_path(req, resp), true;
		return configure(ctl, put_sections[i].section, NULL, req, resp), true;
	}
	if (strncmp(path, "/drives/", 8) == 0 && path[8] && !strchr(path + 8, '/')) {
		if (v == HTTP_VERB_PUT)
			configure(ctl, CONFIG_DRIVE, path + 8, req, resp);
		else if (v == HTTP_VERB_PATCH)
			update_drive(ctl, path + 8, req, resp);
		else
			invalid_method_path(req, resp);
		return true;
	}
	if (strncmp(path, "/network-interfaces/", 20) == 0 && path[20] &&
	    !strchr(path + 20, '/')) {
		if (v == HTTP_VERB_PUT)
			configure(ctl, CONFIG_NET, path + 20, req, resp);
		else if (v == HTTP_VERB_PATCH)
			update_net(ctl, path + 20, req, resp);
		else
			invalid_method_path(req, resp);
		return true;
	}
	if (strcmp(path, "/actions") == 0) {
		if (v != HTTP_VERB_PUT)
			return invalid_method_path(req, resp), true;
		return put_actions(ctl, req, resp), true;
	}
	if (strcmp(path, "/vm") == 0) {
		if (v != HTTP_VERB_PATCH)
			return invalid_method_path(req, resp), true;
		return patch_vm(ctl, req, resp), true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
		size_t n = strlen(unsupported[i].path);
		if (unsupported[i].prefix ? strncmp(path, unsupported[i].path, n) == 0 && path[n]
					  : strcmp(path, unsupported[i].path) == 0)
			return fault(resp, 400, unsupported[i].what), true;
	}
	return false;
}

void api_route(void *opaque, const struct http_request *req, struct http_response *resp)
{
	struct controller *ctl = opaque;

	log_info("The API server received a %s request on \"%s\".", req->method, req->path);
	if (req->verb == HTTP_VERB_OTHER) {
		char msg[64];
		snprintf(msg, sizeof(msg), "Unsupported HTTP method: %s.", req->method);
		fault(resp, 405, msg);
		return;
	}
	if (req->verb == HTTP_VERB_GET && req->body_len)
		fault(resp, 400, "GET request cannot have a body.");
	else if (req->verb != HTTP_VERB_GET && req->body_len == 0)
		fault(resp, 400, req->verb == HTTP_VERB_PUT ? "Empty PUT request."
							    : "Empty PATCH request.");
	else if (!route(ctl, req, resp))
		invalid_method_path(req, resp);
	if (resp->status >= 400)
		log_warn("The API request %s \"%s\" was refused (%d): %.*s", req->method, req->path,
			 resp->status, (int)resp->body_len, resp->body);
}
