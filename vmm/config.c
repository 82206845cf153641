/* The VM configuration: Firecracker's config-file schema, parsed strictly with jansson. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* Top-level sections kiln knows but has no device for yet: refused, never ignored. */
static const char *const unsupported_sections[] = {
	"balloon", "pmem", "memory-hotplug", "mmds-config", "cpu-config",
};

/*
 * Firecracker's own files list every section and leave the unused ones null, or an empty
 * list for a device list ("pmem": []): that asks for no device and is accepted.
 */
static bool asks_for_nothing(json_t *v)
{
	return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0);
}

static int check_keys(json_t *obj, const char *path, const char *const *known, size_t n,
		      struct error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (size_t i = 0; i < n && !ok; i++)
			ok = strcmp(key, known[i]) == 0;
		if (!ok)
			return error_set(err, -EINVAL, "%s%s%s: unknown key", path, *path ? "." : "",
					 key);
	}
	return 0;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* An optional object member: NULL when absent or null. */
static json_t *member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return v && !json_is_null(v) ? v : NULL;
}

/* The string at key, checked where it is (no copy); *out is NULL when it is absent. */
static int peek_string(json_t *obj, const char *path, const char *key, bool required,
		       const char **out, struct error *err)
{
	json_t *v = member(obj, key);
	*out = NULL;
	if (!v) {
		if (required)
			return error_set(err, -EINVAL, "%s.%s: missing required key", path, key);
		return 0;
	}
	if (!json_is_string(v))
		return error_set(err, -EINVAL, "%s.%s: expected a string, got %s", path, key,
				 type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return error_set(err, -EINVAL, "%s.%s: contains a NUL character", path, key);
	*out = json_string_value(v);
	return 0;
}

/* peek_string, for a path: not empty, shorter than CONFIG_PATH_MAX. */
static int peek_path(json_t *obj, const char *path, const char *key, bool required,
		     const char **out, struct error *err)
{
	int ret = peek_string(obj, path, key, required, out, err);
	if (ret == 0 && *out && **out == '\0')
		return error_set(err, -EINVAL, "%s.%s: must not be empty", path, key);
	if (ret == 0 && *out && strlen(*out) >= CONFIG_PATH_MAX)
		return error_set(err, -ENAMETOOLONG, "%s.%s: %zu bytes; a path has at most %d",
				 path, key, strlen(*out), CONFIG_PATH_MAX - 1);
	return ret;
}

/* A copy of what peek_string or peek_path found, in *out; left alone when absent. */
static int copy_string(int ret, const char *s, char **out, struct error *err)
{
	if (ret < 0 || !s)
		return ret;
	free(*out);
	*out = strdup(s);
	return *out ? 0 : error_set(err, -ENOMEM, "out of memory");
}

static int get_string(json_t *obj, const char *path, const char *key, bool required,
		      char **out, struct error *err)
{
	const char *s;
	int ret = peek_string(obj, path, key, required, &s, err);
	return copy_string(ret, s, out, err);
}

static int get_path(json_t *obj, const char *path, const char *key, bool required,
		    char **out, struct error *err)
{
	const char *s;
	int ret = peek_path(obj, path, key, required, &s, err);
	return copy_string(ret, s, out, err);
}

static int get_uint(json_t *obj, const char *path, const char *key, bool required,
		    uint64_t min, uint64_t max, uint64_t *out, struct error *err)
{
	json_t *v = member(obj, key);
	if (!v) {
		if (required)
			return error_set(err, -EINVAL, "%s.%s: missing required key", path, key);
		return 0;
	}
	if (!json_is_integer(v))
		return error_set(err, -EINVAL, "%s.%s: expected an integer, got %s", path, key,
				 type_name(v));
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max) {
		if (min == 1 && i == 0)
			return error_set(err, -EINVAL, "%s.%s: must not be 0", path, key);
		return error_set(err, -ERANGE, "%s.%s: %lld is out of range (%llu to %llu)",
				 path, key, (long long)i, (unsigned long long)min,
				 (unsigned long long)max);
	}
	*out = (uint64_t)i;
	return 0;
}

static int get_bool(json_t *obj, const char *path, const char *key, bool *out,
		    struct error *err)
{
	json_t *v = member(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return error_set(err, -EINVAL, "%s.%s: expected a boolean, got %s", path, key,
				 type_name(v));
	*out = json_is_true(v);
	return 0;
}

static int expect_object(json_t *v, const char *path, struct error *err)
{
	if (!json_is_object(v))
		return error_set(err, -EINVAL, "%s: expected an object, got %s", path,
				 type_name(v));
	return 0;
}

static int parse_boot_source(json_t *o, struct boot_source *b, struct error *err)
{
	static const char *const keys[] = { "kernel_image_path", "boot_args", "initrd_path" };
	const char *p = "boot-source";
	int ret = expect_object(o, p, err);
	if (ret == 0)
		ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = get_path(o, p, "kernel_image_path", true, &b->kernel_image_path, err);
	if (ret == 0)
		ret = get_string(o, p, "boot_args", false, &b->boot_args, err);
	if (ret == 0)
		ret = get_path(o, p, "initrd_path", false, &b->initrd_path, err);
	return ret;
}

/* PUT semantics (`patch` false): vcpu_count and mem_size_mib are required. */
static int parse_machine(json_t *o, struct machine_config *m, bool patch, struct error *err)
{
	static const char *const keys[] = { "vcpu_count", "mem_size_mib", "smt",
					    "track_dirty_pages", "huge_pages", "cpu_template" };
	const char *p = "machine-config";
	uint64_t vcpus = m->vcpu_count;
	bool dirty = false;
	char *huge = NULL, *tmpl = NULL;
	int ret = expect_object(o, p, err);

	if (ret == 0)
		ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = get_uint(o, p, "vcpu_count", !patch, 1, CONFIG_MAX_VCPUS, &vcpus, err);
	if (ret == 0)
		ret = get_uint(o, p, "mem_size_mib", !patch, 1, UINT64_MAX >> 20,
			       &m->mem_size_mib, err);
	if (ret == 0)
		ret = get_bool(o, p, "smt", &m->smt, err);
	if (ret == 0)
		ret = get_bool(o, p, "track_dirty_pages", &dirty, err);
	if (ret == 0 && dirty)
		ret = error_set(err, -ENOTSUP, "%s.track_dirty_pages: not supported yet "
				"(kiln has no snapshots)", p);
	if (ret == 0)
		ret = get_string(o, p, "huge_pages", false, &huge, err);
	if (ret == 0 && huge) {
		if (strcmp(huge, "None") == 0)
			m->huge_pages = GM_BACKING_ANON;
		else if (strcmp(huge, "Transparent") == 0)
			m->huge_pages = GM_BACKING_THP;
		else if (strcmp(huge, "2M") == 0)
			m->huge_pages = GM_BACKING_HUGETLB;
		else
			ret = error_set(err, -EINVAL, "%s.huge_pages: \"%s\" is not one of None, "
					"Transparent, 2M", p, huge);
	}
	if (ret == 0)
		ret = get_string(o, p, "cpu_template", false, &tmpl, err);
	if (ret == 0 && tmpl && strcmp(tmpl, "None") != 0)
		ret = error_set(err, -ENOTSUP, "%s.cpu_template: \"%s\" is not supported yet "
				"(only \"None\")", p, tmpl);
	if (ret == 0 && m->smt && vcpus > 1 && vcpus % 2)
		ret = error_set(err, -EINVAL, "%s.vcpu_count: must be 1 or even when smt is "
				"true", p);
	if (ret == 0 && m->huge_pages != GM_BACKING_ANON && m->mem_size_mib % 2)
		ret = error_set(err, -EINVAL, "%s.mem_size_mib: must be a multiple of 2 with "
				"huge pages", p);
	m->vcpu_count = (unsigned int)vcpus;
	free(huge);
	free(tmpl);
	return ret;
}

static int parse_logger(json_t *o, struct logger_config *l, struct error *err)
{
	static const char *const keys[] = { "log_path", "level", "show_level",
					    "show_log_origin", "module" };
	const char *p = "logger";
	char *level = NULL, *module = NULL;
	int ret = expect_object(o, p, err);

	if (ret == 0)
		ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = get_path(o, p, "log_path", false, &l->log_path, err);
	if (ret == 0)
		ret = get_string(o, p, "level", false, &level, err);
	if (ret == 0 && level) {
		if (log_parse_level(level, &l->level) < 0)
			ret = error_set(err, -EINVAL, "%s.level: \"%s\" is not one of Error, "
					"Warning, Info, Debug, Trace, Off", p, level);
		l->level_set = true;
	}
	if (ret == 0)
		ret = get_bool(o, p, "show_level", &l->show_level, err);
	if (ret == 0)
		ret = get_bool(o, p, "show_log_origin", &l->show_log_origin, err);
	if (ret == 0)
		ret = get_string(o, p, "module", false, &module, err);
	if (ret == 0 && module)
		ret = error_set(err, -ENOTSUP, "%s.module: filtering by module is not supported "
				"yet", p);
	free(level);
	free(module);
	return ret;
}

static int parse_metrics(json_t *o, struct metrics_config *m, struct error *err)
{
	static const char *const keys[] = { "metrics_path" };
	int ret = expect_object(o, "metrics", err);
	if (ret == 0)
		ret = check_keys(o, "metrics", keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = get_path(o, "metrics", "metrics_path", true, &m->metrics_path, err);
	return ret;
}

static int parse_serial(json_t *o, struct serial_config *s, struct error *err)
{
	static const char *const keys[] = { "serial_out_path" };
	int ret = expect_object(o, "serial", err);
	if (ret == 0)
		ret = check_keys(o, "serial", keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = get_path(o, "serial", "serial_out_path", false, &s->serial_out_path, err);
	return ret;
}

/* One token bucket of a rate_limiter: absent or null is no bucket. */
static int parse_bucket(json_t *rl, const char *path, const char *key,
			struct token_bucket_config *b, struct error *err)
{
	static const char *const keys[] = { "size", "one_time_burst", "refill_time" };
	json_t *o = member(rl, key);
	char p[CONFIG_DRIVE_ID_MAX + 80];
	int ret;

	memset(b, 0, sizeof(*b));
	if (!o)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	ret = expect_object(o, p, err);
	if (ret == 0)
		ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = get_uint(o, p, "size", true, 1, UINT64_MAX, &b->size, err);
	if (ret == 0)
		ret = get_uint(o, p, "one_time_burst", false, 0, UINT64_MAX, &b->one_time_burst,
			       err);
	if (ret == 0)
		ret = get_uint(o, p, "refill_time", true, 1, TOKEN_BUCKET_REFILL_MS_MAX,
			       &b->refill_time_ms, err);
	if (ret < 0)
		memset(b, 0, sizeof(*b));
	return ret;
}

/*
 * A rate limiter (`key`: "rate_limiter" of a drive or of entropy, "rx_rate_limiter" or
 * "tx_rate_limiter" of an interface): Firecracker's two optional buckets.
 */
static int parse_rate_limiter(json_t *obj, const char *path, const char *key,
			      struct rate_limiter_config *rl, struct error *err)
{
	static const char *const keys[] = { "bandwidth", "ops" };
	json_t *o = member(obj, key);
	char p[CONFIG_DRIVE_ID_MAX + 48];
	int ret;

	memset(rl, 0, sizeof(*rl));
	if (!o)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	ret = expect_object(o, p, err);
	if (ret == 0)
		ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = parse_bucket(o, p, "bandwidth", &rl->bandwidth, err);
	if (ret == 0)
		ret = parse_bucket(o, p, "ops", &rl->ops, err);
	return ret;
}

static int get_enum(json_t *obj, const char *path, const char *key, const char *const *names,
		    size_t n, int *out, struct error *err)
{
	char *s = NULL;
	int ret = get_string(obj, path, key, false, &s, err);
	if (ret == 0 && s) {
		ret = -EINVAL;
		for (size_t i = 0; i < n && ret; i++)
			if (strcmp(s, names[i]) == 0) {
				*out = (int)i;
				ret = 0;
			}
		if (ret)
			error_set(err, -EINVAL, "%s.%s: \"%s\" is not one of %s, %s", path, key, s,
				  names[0], names[1]);
	}
	free(s);
	return ret;
}

/* A drive or interface id: 1 to `max` characters of A-Z a-z 0-9 _ -. */
static bool valid_id(const char *id, size_t max)
{
	size_t n = strlen(id);
	if (n == 0 || n > max)
		return false;
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return false;
	return true;
}

static int parse_drive(json_t *o, const char *p, struct drive_config *d, struct error *err)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "is_root_device",
					    "partuuid", "is_read_only", "cache_type",
					    "io_engine", "rate_limiter", "socket" };
	static const char *const caches[] = { "Unsafe", "Writeback" };
	static const char *const engines[] = { "Sync", "Async" };
	int cache = DRIVE_CACHE_UNSAFE, engine = DRIVE_ENGINE_SYNC;
	int ret = expect_object(o, p, err);

	if (ret == 0)
		ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = parse_rate_limiter(o, p, "rate_limiter", &d->rate_limiter, err);
	if (ret == 0 && member(o, "socket"))
		ret = error_set(err, -ENOTSUP, "%s.socket: not supported yet (kiln has no "
				"vhost-user block device)", p);
	if (ret == 0)
		ret = get_string(o, p, "drive_id", true, &d->drive_id, err);
	if (ret == 0 && !valid_id(d->drive_id, CONFIG_DRIVE_ID_MAX))
		ret = error_set(err, -EINVAL, "%s.drive_id: \"%s\" must be 1 to %d characters of "
				"A-Z a-z 0-9 _ -", p, d->drive_id, CONFIG_DRIVE_ID_MAX);
	if (ret == 0)
		ret = get_path(o, p, "path_on_host", true, &d->path_on_host, err);
	if (ret == 0 && !member(o, "is_root_device"))
		ret = error_set(err, -EINVAL, "%s.is_root_device: missing required key", p);
	if (ret == 0)
		ret = get_bool(o, p, "is_root_device", &d->is_root_device, err);
	if (ret == 0)
		ret = get_string(o, p, "partuuid", false, &d->partuuid, err);
	if (ret == 0 && d->partuuid && !*d->partuuid)
		ret = error_set(err, -EINVAL, "%s.partuuid: must not be empty", p);
	if (ret == 0 && d->partuuid && strpbrk(d->partuuid, " \t\n\""))
		ret = error_set(err, -EINVAL, "%s.partuuid: must not contain spaces or quotes",
				p);
	if (ret == 0)
		ret = get_bool(o, p, "is_read_only", &d->is_read_only, err);
	if (ret == 0)
		ret = get_enum(o, p, "cache_type", caches, ARRAY_SIZE(caches), &cache, err);
	if (ret == 0)
		ret = get_enum(o, p, "io_engine", engines, ARRAY_SIZE(engines), &engine, err);
	d->cache_type = (enum drive_cache)cache;
	d->io_engine = (enum drive_engine)engine;
	return ret;
}

static int parse_drives(json_t *v, struct vm_config *cfg, struct error *err)
{
	char p[32];
	size_t i;
	json_t *o;

	if (!json_is_array(v))
		return error_set(err, -EINVAL, "drives: expected an array, got %s", type_name(v));
	if (json_array_size(v) > CONFIG_MAX_DRIVES)
		return error_set(err, -E2BIG, "drives: %zu drives; at most %d are supported",
				 json_array_size(v), CONFIG_MAX_DRIVES);
	json_array_foreach(v, i, o) {
		struct drive_config *d = &cfg->drives[i];
		snprintf(p, sizeof(p), "drives[%zu]", i);
		cfg->nr_drives = (unsigned int)i + 1;
		int ret = parse_drive(o, p, d, err);
		if (ret < 0)
			return ret;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cfg->drives[j].drive_id, d->drive_id) == 0)
				return error_set(err, -EEXIST, "%s.drive_id: \"%s\" is already used "
						 "by drives[%zu]", p, d->drive_id, j);
			if (cfg->drives[j].is_root_device && d->is_root_device)
				return error_set(err, -EEXIST, "%s.is_root_device: drives[%zu] is "
						 "already the root device", p, j);
		}
	}
	return 0;
}

static int parse_entropy(json_t *o, struct vm_config *cfg, struct error *err)
{
	static const char *const keys[] = { "rate_limiter" };
	int ret = expect_object(o, "entropy", err);
	if (ret == 0)
		ret = check_keys(o, "entropy", keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = parse_rate_limiter(o, "entropy", "rate_limiter", &cfg->entropy_rate_limiter,
					 err);
	cfg->has_entropy = ret == 0;
	return ret;
}

/* "06:00:ac:10:00:02": six pairs of hex digits. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = s[3 * i + j];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				return -EINVAL;
			v = v * 16 + (unsigned int)d;
		}
		mac[i] = (uint8_t)v;
		if (s[3 * i + 2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
	}
	return 0;
}

void config_format_mac(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

/* A network interface's name as Linux takes it (dev_valid_name): no '/', ':' or spaces. */
static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CONFIG_TAP_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *c = s; *c; c++)
		if (*c == '/' || *c == ':' || *c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

static int parse_net(json_t *o, const char *p, struct net_config *n, struct error *err)
{
	static const char *const keys[] = { "iface_id", "host_dev_name", "guest_mac", "mtu",
					    "rx_rate_limiter", "tx_rate_limiter" };
	char *mac = NULL;
	uint64_t mtu = 0;
	int ret = expect_object(o, p, err);

	if (ret == 0)
		ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = get_string(o, p, "iface_id", true, &n->iface_id, err);
	if (ret == 0 && !valid_id(n->iface_id, CONFIG_IFACE_ID_MAX))
		ret = error_set(err, -EINVAL, "%s.iface_id: \"%s\" must be 1 to %d characters of "
				"A-Z a-z 0-9 _ -", p, n->iface_id, CONFIG_IFACE_ID_MAX);
	if (ret == 0)
		ret = get_string(o, p, "host_dev_name", true, &n->host_dev_name, err);
	if (ret == 0 && !valid_ifname(n->host_dev_name))
		ret = error_set(err, -EINVAL, "%s.host_dev_name: \"%s\" is not an interface name "
				"(1 to %d characters, no '/', ':' or spaces)", p, n->host_dev_name,
				CONFIG_TAP_NAME_MAX);
	if (ret == 0)
		ret = get_string(o, p, "guest_mac", false, &mac, err);
	if (ret == 0 && mac) {
		if (parse_mac(mac, n->guest_mac) < 0)
			ret = error_set(err, -EINVAL, "%s.guest_mac: \"%s\" is not a MAC address "
					"(six hex pairs separated by ':')", p, mac);
		else if (n->guest_mac[0] & 1)
			ret = error_set(err, -EINVAL, "%s.guest_mac: %s is a multicast address; "
					"a guest's address must be unicast", p, mac);
		else
			n->has_mac = true;
	}
	if (ret == 0)
		ret = get_uint(o, p, "mtu", false, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &mtu, err);
	n->mtu = (unsigned int)mtu;
	if (ret == 0)
		ret = parse_rate_limiter(o, p, "rx_rate_limiter", &n->rx_rate_limiter, err);
	if (ret == 0)
		ret = parse_rate_limiter(o, p, "tx_rate_limiter", &n->tx_rate_limiter, err);
	free(mac);
	return ret;
}

static void free_net(struct net_config *n)
{
	free(n->iface_id);
	free(n->host_dev_name);
	memset(n, 0, sizeof(*n));
}

/* Whether interface `n` clashes with interface j of cfg: the same id, TAP or MAC. */
static int net_clash(const struct vm_config *cfg, unsigned int j, const struct net_config *n,
		     const char *p, struct error *err)
{
	const struct net_config *o = &cfg->nets[j];
	char mac[18];

	if (strcmp(o->host_dev_name, n->host_dev_name) == 0)
		return error_set(err, -EEXIST, "%s.host_dev_name: \"%s\" is already used by "
				 "interface \"%s\"", p, n->host_dev_name, o->iface_id);
	if (n->has_mac && o->has_mac && !memcmp(o->guest_mac, n->guest_mac, 6)) {
		config_format_mac(n->guest_mac, mac);
		return error_set(err, -EEXIST, "%s.guest_mac: %s is already used by interface "
				 "\"%s\"", p, mac, o->iface_id);
	}
	return 0;
}

static int parse_nets(json_t *v, struct vm_config *cfg, struct error *err)
{
	char p[sizeof("network-interfaces[]") + 20];	/* any size_t index */
	size_t i;
	json_t *o;

	if (!json_is_array(v))
		return error_set(err, -EINVAL, "network-interfaces: expected an array, got %s",
				 type_name(v));
	if (json_array_size(v) > CONFIG_MAX_NETS)
		return error_set(err, -E2BIG, "network-interfaces: %zu interfaces; at most %d are "
				 "supported", json_array_size(v), CONFIG_MAX_NETS);
	json_array_foreach(v, i, o) {
		struct net_config *n = &cfg->nets[i];
		snprintf(p, sizeof(p), "network-interfaces[%zu]", i);
		cfg->nr_nets = (unsigned int)i + 1;
		int ret = parse_net(o, p, n, err);
		if (ret < 0)
			return ret;
		for (unsigned int j = 0; j < i; j++) {
			if (strcmp(cfg->nets[j].iface_id, n->iface_id) == 0)
				return error_set(err, -EEXIST, "%s.iface_id: \"%s\" is already used "
						 "by network-interfaces[%u]", p, n->iface_id, j);
			if ((ret = net_clash(cfg, j, n, p, err)) < 0)
				return ret;
		}
	}
	return 0;
}

static int parse_vsock(json_t *o, struct vsock_config *vs, struct error *err)
{
	static const char *const keys[] = { "vsock_id", "guest_cid", "uds_path" };
	const char *p = "vsock";
	int ret = expect_object(o, p, err);
	if (ret == 0)
		ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err);
	if (ret == 0)
		ret = get_string(o, p, "vsock_id", false, &vs->vsock_id, err);
	if (ret == 0)
		ret = get_uint(o, p, "guest_cid", true, CONFIG_VSOCK_CID_MIN, CONFIG_VSOCK_CID_MAX,
			       &vs->guest_cid, err);
	if (ret == 0)
		ret = get_path(o, p, "uds_path", true, &vs->uds_path, err);
	return ret;
}

static int parse_root(json_t *root, struct vm_config *cfg, struct error *err)
{
	static const char *const keys[] = {
		"boot-source", "machine-config", "drives", "network-interfaces", "logger",
		"metrics", "serial", "vsock", "balloon", "entropy", "pmem", "memory-hotplug",
		"mmds-config", "cpu-config",
	};
	json_t *v;
	int ret;

	if (!json_is_object(root))
		return error_set(err, -EINVAL, "the configuration must be a JSON object, not %s",
				 type_name(root));
	ret = check_keys(root, "", keys, ARRAY_SIZE(keys), err);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(unsupported_sections); i++) {
		if (!asks_for_nothing(json_object_get(root, unsupported_sections[i])))
			ret = error_set(err, -ENOTSUP, "%s: not supported yet",
					unsupported_sections[i]);
	}
	if (ret < 0)
		return ret;
	if (!(v = member(root, "boot-source")))
		return error_set(err, -EINVAL, "boot-source: missing required section");
	if ((ret = parse_boot_source(v, &cfg->boot, err)) < 0)
		return ret;
	if ((v = member(root, "machine-config")) &&
	    (ret = parse_machine(v, &cfg->machine, false, err)))
		return ret;
	if ((v = member(root, "drives")) && (ret = parse_drives(v, cfg, err)))
		return ret;
	if ((v = member(root, "entropy")) && (ret = parse_entropy(v, cfg, err)))
		return ret;
	if ((v = member(root, "vsock"))) {
		cfg->has_vsock = true;
		if ((ret = parse_vsock(v, &cfg->vsock, err)))
			return ret;
	}
	if ((v = member(root, "network-interfaces")) && (ret = parse_nets(v, cfg, err)))
		return ret;
	if ((v = member(root, "logger"))) {
		cfg->has_logger = true;
		if ((ret = parse_logger(v, &cfg->logger, err)))
			return ret;
	}
	if ((v = member(root, "metrics"))) {
		cfg->has_metrics = true;
		if ((ret = parse_metrics(v, &cfg->metrics, err)))
			return ret;
	}
	if ((v = member(root, "serial")) && (ret = parse_serial(v, &cfg->serial, err)))
		return ret;
	return 0;
}

void config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->machine.vcpu_count = 1;
	cfg->machine.mem_size_mib = CONFIG_DEFAULT_MEM_MIB;
	cfg->machine.huge_pages = GM_BACKING_ANON;
	cfg->logger.level = LOG_INFO;
}

static int load(json_t *root, const json_error_t *jerr, const char *what,
		struct vm_config *cfg, struct error *err)
{
	if (!root)
		return error_set(err, -EINVAL, "%s: invalid JSON at line %d, column %d: %s", what,
				 jerr->line, jerr->column, jerr->text);
	int ret = parse_root(root, cfg, err);
	json_decref(root);
	return ret;
}

int config_load_file(const char *path, struct vm_config *cfg, struct error *err)
{
	json_error_t jerr;

	/* "-": standard input, for jails that see neither /etc nor /dev/stdin. */
	if (strcmp(path, "-") == 0)
		return load(json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr), &jerr,
			    "standard input", cfg, err);
	int fd = open_regular_file("--config-file", path, NULL, err);
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "re");
	if (!f) {
		close_quietly(fd);
		return error_set(err, -errno, "--config-file: %s: %s", path, strerror(errno));
	}
	json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	return load(root, &jerr, path, cfg, err);
}

int config_load_string(const char *json, struct vm_config *cfg, struct error *err)
{
	json_error_t jerr;
	json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	return load(root, &jerr, "config", cfg, err);
}

void config_free(struct vm_config *cfg)
{
	free(cfg->boot.kernel_image_path);
	free(cfg->boot.boot_args);
	free(cfg->boot.initrd_path);
	free(cfg->logger.log_path);
	free(cfg->metrics.metrics_path);
	free(cfg->serial.serial_out_path);
	free(cfg->vsock.vsock_id);
	free(cfg->vsock.uds_path);
	for (unsigned int i = 0; i < cfg->nr_drives; i++) {
		free(cfg->drives[i].drive_id);
		free(cfg->drives[i].path_on_host);
		free(cfg->drives[i].partuuid);
	}
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		free_net(&cfg->nets[i]);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- One section at a time: the API's request bodies, validated as the file's sections. */

static void free_boot(struct boot_source *b)
{
	free(b->kernel_image_path);
	free(b->boot_args);
	free(b->initrd_path);
	memset(b, 0, sizeof(*b));
}

static void free_drive(struct drive_config *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

static int put_drive(json_t *o, struct vm_config *cfg, const char *id, struct error *err)
{
	struct drive_config d = { 0 };
	char p[CONFIG_DRIVE_ID_MAX + 16];
	unsigned int slot = cfg->nr_drives;
	int ret;

	if (!id || !valid_id(id, CONFIG_DRIVE_ID_MAX))
		return error_set(err, -EINVAL, "drives: the drive id in the path must be 1 to %d "
				 "characters of A-Z a-z 0-9 _ -", CONFIG_DRIVE_ID_MAX);
	snprintf(p, sizeof(p), "drives[%s]", id);
	ret = parse_drive(o, p, &d, err);
	if (ret == 0 && strcmp(d.drive_id, id) != 0)
		ret = error_set(err, -EINVAL, "%s.drive_id: \"%s\" does not match the drive id in "
				"the path", p, d.drive_id);
	for (unsigned int j = 0; ret == 0 && j < cfg->nr_drives; j++) {
		if (strcmp(cfg->drives[j].drive_id, id) == 0)
			slot = j;
		else if (cfg->drives[j].is_root_device && d.is_root_device)
			ret = error_set(err, -EEXIST, "%s.is_root_device: drive \"%s\" is already "
					"the root device", p, cfg->drives[j].drive_id);
	}
	if (ret == 0 && slot == CONFIG_MAX_DRIVES)
		ret = error_set(err, -E2BIG, "%s: at most %d drives are supported", p,
				CONFIG_MAX_DRIVES);
	if (ret < 0) {
		free_drive(&d);
		return ret;
	}
	if (slot < cfg->nr_drives)
		free_drive(&cfg->drives[slot]);
	else
		cfg->nr_drives++;
	cfg->drives[slot] = d;
	return 0;
}

static int put_net(json_t *o, struct vm_config *cfg, const char *id, struct error *err)
{
	struct net_config n = { 0 };
	char p[CONFIG_IFACE_ID_MAX + 32];
	unsigned int slot = cfg->nr_nets;
	int ret;

	if (!id || !valid_id(id, CONFIG_IFACE_ID_MAX))
		return error_set(err, -EINVAL, "network-interfaces: the interface id in the path "
				 "must be 1 to %d characters of A-Z a-z 0-9 _ -",
				 CONFIG_IFACE_ID_MAX);
	snprintf(p, sizeof(p), "network-interfaces[%s]", id);
	ret = parse_net(o, p, &n, err);
	if (ret == 0 && strcmp(n.iface_id, id) != 0)
		ret = error_set(err, -EINVAL, "%s.iface_id: \"%s\" does not match the interface "
				"id in the path", p, n.iface_id);
	for (unsigned int j = 0; ret == 0 && j < cfg->nr_nets; j++) {
		if (strcmp(cfg->nets[j].iface_id, id) == 0)
			slot = j;
		else
			ret = net_clash(cfg, j, &n, p, err);
	}
	if (ret == 0 && slot == CONFIG_MAX_NETS)
		ret = error_set(err, -E2BIG, "%s: at most %d interfaces are supported", p,
				CONFIG_MAX_NETS);
	if (ret < 0) {
		free_net(&n);
		return ret;
	}
	if (slot < cfg->nr_nets)
		free_net(&cfg->nets[slot]);
	else
		cfg->nr_nets++;
	cfg->nets[slot] = n;
	return 0;
}

static int apply(json_t *o, struct vm_config *cfg, enum config_section s, const char *id,
		 struct error *err)
{
	int ret;

	switch (s) {
	case CONFIG_BOOT_SOURCE: {
		struct boot_source b = { 0 };
		if ((ret = parse_boot_source(o, &b, err)) < 0) {
			free_boot(&b);
			return ret;
		}
		free_boot(&cfg->boot);
		cfg->boot = b;
		return 0;
	}
	case CONFIG_MACHINE:
	case CONFIG_MACHINE_PATCH: {
		struct machine_config m = cfg->machine;
		if (s == CONFIG_MACHINE) {
			/* A PUT replaces the section: what it leaves out takes its default. */
			m.smt = false;
			m.huge_pages = GM_BACKING_ANON;
		}
		if ((ret = expect_object(o, "machine-config", err)) < 0 ||
		    (ret = parse_machine(o, &m, s == CONFIG_MACHINE_PATCH, err)) < 0)
			return ret;
		cfg->machine = m;
		return 0;
	}
	case CONFIG_LOGGER: {
		struct logger_config l = { .level = LOG_INFO };
		if ((ret = parse_logger(o, &l, err)) < 0) {
			free(l.log_path);
			return ret;
		}
		free(cfg->logger.log_path);
		cfg->logger = l;
		cfg->has_logger = true;
		return 0;
	}
	case CONFIG_METRICS: {
		struct metrics_config m = { 0 };
		if ((ret = parse_metrics(o, &m, err)) < 0) {
			free(m.metrics_path);
			return ret;
		}
		free(cfg->metrics.metrics_path);
		cfg->metrics = m;
		cfg->has_metrics = true;
		return 0;
	}
	case CONFIG_VSOCK: {
		struct vsock_config v = { 0 };
		if ((ret = parse_vsock(o, &v, err)) < 0) {
			free(v.vsock_id);
			free(v.uds_path);
			return ret;
		}
		free(cfg->vsock.vsock_id);
		free(cfg->vsock.uds_path);
		cfg->vsock = v;
		cfg->has_vsock = true;
		return 0;
	}
	case CONFIG_SERIAL: {
		struct serial_config c = { 0 };
		if ((ret = parse_serial(o, &c, err)) < 0) {
			free(c.serial_out_path);
			return ret;
		}
		free(cfg->serial.serial_out_path);
		cfg->serial = c;
		return 0;
	}
	case CONFIG_ENTROPY: {
		struct vm_config tmp = { 0 };
		if ((ret = parse_entropy(o, &tmp, err)) < 0)
			return ret;
		cfg->has_entropy = true;
		cfg->entropy_rate_limiter = tmp.entropy_rate_limiter;
		return 0;
	}
	case CONFIG_DRIVE:
		return put_drive(o, cfg, id, err);
	case CONFIG_NET:
		return put_net(o, cfg, id, err);
	}
	return error_set(err, -EINVAL, "unknown configuration section");
}

/* A request body (len bytes of JSON) as an object tree, or NULL with err naming `what`. */
static json_t *load_body(const char *json, size_t len, const char *what, struct error *err)
{
	json_error_t jerr;
	json_t *o;

	if (len == 0) {
		error_set(err, -EINVAL, "%s: the request has no body", what);
		return NULL;
	}
	o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		error_set(err, -EINVAL, "%s: invalid JSON at line %d, column %d: %s", what,
			  jerr.line, jerr.column, jerr.text);
	return o;
}

/*
 * Which buckets of the rate limiter `key` a PATCH body gives: a bucket given replaces
 * that bucket, one absent or null keeps its state. Returns whether the limiter is there.
 */
static bool buckets_given(json_t *o, const char *key, bool *bandwidth, bool *ops)
{
	json_t *rl = member(o, key);
	*bandwidth = rl && member(rl, "bandwidth");
	*ops = rl && member(rl, "ops");
	return rl != NULL;
}

int config_apply_json(struct vm_config *cfg, enum config_section s, const char *id,
		      const char *json, size_t len, struct error *err)
{
	json_t *o;
	int ret;

	if (!(o = load_body(json, len, config_section_name(s), err)))
		return err->code;
	ret = apply(o, cfg, s, id, err);
	json_decref(o);
	return ret;
}

static int parse_drive_update(json_t *o, const char *id, struct drive_update *u,
			      struct error *err)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "rate_limiter" };
	char p[CONFIG_DRIVE_ID_MAX + 16];
	const char *s;
	int ret;

	if (!id || !valid_id(id, CONFIG_DRIVE_ID_MAX))
		return error_set(err, -EINVAL, "drives: the drive id in the path must be 1 to %d "
				 "characters of A-Z a-z 0-9 _ -", CONFIG_DRIVE_ID_MAX);
	snprintf(p, sizeof(p), "drives[%s]", id);
	if ((ret = expect_object(o, p, err)) < 0 ||
	    (ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err)) < 0)
		return ret;
	/* Strings are checked in place (peek_*): get_string's copies would allocate. */
	if ((ret = peek_string(o, p, "drive_id", true, &s, err)) < 0)
		return ret;
	if (strcmp(s, id) != 0)
		return error_set(err, -EINVAL, "%s.drive_id: \"%.*s\" does not match the drive id "
				 "in the path", p, CONFIG_DRIVE_ID_MAX + 1, s);
	if ((ret = peek_path(o, p, "path_on_host", false, &s, err)) < 0)
		return ret;
	if (s) {
		memcpy(u->path_on_host, s, strlen(s) + 1);
		u->has_path = true;
	}
	if ((ret = parse_rate_limiter(o, p, "rate_limiter", &u->rate_limiter, err)) < 0)
		return ret;
	if (!buckets_given(o, "rate_limiter", &u->has_bandwidth, &u->has_ops) && !u->has_path)
		return error_set(err, -EINVAL, "%s: nothing to change: give path_on_host or "
				 "rate_limiter", p);
	return 0;
}

int config_parse_drive_update(const char *id, const char *json, size_t len,
			      struct drive_update *u, struct error *err)
{
	json_t *o;
	int ret;

	memset(u, 0, sizeof(*u));
	if (!(o = load_body(json, len, "drives", err)))
		return err->code;
	ret = parse_drive_update(o, id, u, err);
	json_decref(o);
	if (ret < 0)
		memset(u, 0, sizeof(*u));
	return ret;
}

static int parse_net_update(json_t *o, const char *id, struct net_update *u,
			    struct error *err)
{
	static const char *const keys[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter" };
	char p[CONFIG_IFACE_ID_MAX + 32];
	const char *s;
	bool rx, tx;
	int ret;

	if (!id || !valid_id(id, CONFIG_IFACE_ID_MAX))
		return error_set(err, -EINVAL, "network-interfaces: the interface id in the path "
				 "must be 1 to %d characters of A-Z a-z 0-9 _ -",
				 CONFIG_IFACE_ID_MAX);
	snprintf(p, sizeof(p), "network-interfaces[%s]", id);
	if ((ret = expect_object(o, p, err)) < 0 ||
	    (ret = check_keys(o, p, keys, ARRAY_SIZE(keys), err)) < 0)
		return ret;
	/* Checked in place (peek_string): get_string's copy would allocate. */
	if ((ret = peek_string(o, p, "iface_id", true, &s, err)) < 0)
		return ret;
	if (strcmp(s, id) != 0)
		return error_set(err, -EINVAL, "%s.iface_id: \"%.*s\" does not match the "
				 "interface id in the path", p, CONFIG_IFACE_ID_MAX + 1, s);
	if ((ret = parse_rate_limiter(o, p, "rx_rate_limiter", &u->rx_rate_limiter, err)) < 0 ||
	    (ret = parse_rate_limiter(o, p, "tx_rate_limiter", &u->tx_rate_limiter, err)) < 0)
		return ret;
	rx = buckets_given(o, "rx_rate_limiter", &u->has_rx_bandwidth, &u->has_rx_ops);
	tx = buckets_given(o, "tx_rate_limiter", &u->has_tx_bandwidth, &u->has_tx_ops);
	if (!rx && !tx)
		return error_set(err, -EINVAL, "%s: nothing to change: give rx_rate_limiter or "
				 "tx_rate_limiter", p);
	return 0;
}

int config_parse_net_update(const char *id, const char *json, size_t len,
			    struct net_update *u, struct error *err)
{
	json_t *o;
	int ret;

	memset(u, 0, sizeof(*u));
	if (!(o = load_body(json, len, "network-interfaces", err)))
		return err->code;
	ret = parse_net_update(o, id, u, err);
	json_decref(o);
	if (ret < 0)
		memset(u, 0, sizeof(*u));
	return ret;
}

const char *config_section_name(enum config_section s)
{
	switch (s) {
	case CONFIG_BOOT_SOURCE: return "boot-source";
	case CONFIG_MACHINE:
	case CONFIG_MACHINE_PATCH: return "machine-config";
	case CONFIG_LOGGER: return "logger";
	case CONFIG_METRICS: return "metrics";
	case CONFIG_SERIAL: return "serial";
	case CONFIG_ENTROPY: return "entropy";
	case CONFIG_DRIVE: return "drives";
	case CONFIG_VSOCK: return "vsock";
	case CONFIG_NET: return "network-interfaces";
	}
	return "configuration";
}

/* ---- The configuration in the file's schema (GET /vm/config, GET /machine-config). */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static const char *huge_pages_name(enum gm_backing b)
{
	switch (b) {
	case GM_BACKING_THP: return "Transparent";
	case GM_BACKING_HUGETLB: return "2M";
	default: return "None";
	}
}

static json_t *machine_json(const struct machine_config *m)
{
	return json_pack("{s:I, s:I, s:b, s:b, s:s}", "vcpu_count", (json_int_t)m->vcpu_count,
			 "mem_size_mib", (json_int_t)m->mem_size_mib, "smt", m->smt,
			 "track_dirty_pages", 0, "huge_pages", huge_pages_name(m->huge_pages));
}

static json_t *bucket_json(const struct token_bucket_config *b)
{
	if (!b->size)
		return json_null();
	return json_pack("{s:I, s:o, s:I}", "size", (json_int_t)b->size, "one_time_burst",
			 b->one_time_burst ? json_integer((json_int_t)b->one_time_burst)
					   : json_null(),
			 "refill_time", (json_int_t)b->refill_time_ms);
}

static json_t *rate_limiter_json(const struct rate_limiter_config *rl)
{
	if (!rate_limiter_config_active(rl))
		return json_null();
	return json_pack("{s:o, s:o}", "bandwidth", bucket_json(&rl->bandwidth), "ops",
			 bucket_json(&rl->ops));
}

static json_t *config_json(const struct vm_config *cfg)
{
	static const char *const caches[] = { "Unsafe", "Writeback" };
	static const char *const engines[] = { "Sync", "Async" };
	json_t *drives = json_array(), *nets = json_array(), *root;

	for (unsigned int i = 0; drives && i < cfg->nr_drives; i++) {
		const struct drive_config *d = &cfg->drives[i];
		json_array_append_new(drives, json_pack(
			"{s:s, s:o, s:b, s:o, s:b, s:s, s:o, s:s}", "drive_id", d->drive_id,
			"path_on_host", str_or_null(d->path_on_host), "is_root_device",
			d->is_root_device, "partuuid", str_or_null(d->partuuid), "is_read_only",
			d->is_read_only, "cache_type", caches[d->cache_type], "rate_limiter",
			rate_limiter_json(&d->rate_limiter), "io_engine", engines[d->io_engine]));
	}
	for (unsigned int i = 0; nets && i < cfg->nr_nets; i++) {
		const struct net_config *n = &cfg->nets[i];
		char mac[18];
		json_t *o = json_pack("{s:s, s:s}", "iface_id", n->iface_id, "host_dev_name",
				      n->host_dev_name);
		if (!o)
			continue;
		if (n->has_mac) {
			config_format_mac(n->guest_mac, mac);
			json_object_set_new(o, "guest_mac", json_string(mac));
		}
		if (n->mtu)
			json_object_set_new(o, "mtu", json_integer(n->mtu));
		json_object_set_new(o, "rx_rate_limiter", rate_limiter_json(&n->rx_rate_limiter));
		json_object_set_new(o, "tx_rate_limiter", rate_limiter_json(&n->tx_rate_limiter));
		json_array_append_new(nets, o);
	}
	root = json_pack("{s:o, s:o, s:o, s:n, s:n, s:o, s:n, s:n, s:n, s:[], s:n}",
			 "boot-source", json_pack("{s:o, s:o, s:o}", "kernel_image_path",
						  str_or_null(cfg->boot.kernel_image_path),
						  "initrd_path", str_or_null(cfg->boot.initrd_path),
						  "boot_args", str_or_null(cfg->boot.boot_args)),
			 "machine-config", machine_json(&cfg->machine),
			 "drives", drives, "cpu-config", "balloon", "network-interfaces",
			 nets, "vsock", "mmds-config", "memory-hotplug", "pmem", "metrics");
	if (!root)
		return NULL;
	if (cfg->has_vsock) {
		json_t *vs = json_pack("{s:I, s:o}", "guest_cid", (json_int_t)cfg->vsock.guest_cid,
				       "uds_path", str_or_null(cfg->vsock.uds_path));
		if (vs && cfg->vsock.vsock_id)
			json_object_set_new(vs, "vsock_id", json_string(cfg->vsock.vsock_id));
		json_object_set_new(root, "vsock", vs ? vs : json_null());
	}
	json_object_set_new(root, "logger", !cfg->has_logger ? json_null() :
		json_pack("{s:o, s:s, s:b, s:b}", "log_path", str_or_null(cfg->logger.log_path),
			  "level", log_level_name(cfg->logger.level), "show_level",
			  cfg->logger.show_level, "show_log_origin", cfg->logger.show_log_origin));
	if (cfg->has_metrics)
		json_object_set_new(root, "metrics", json_pack("{s:s}", "metrics_path",
							       cfg->metrics.metrics_path));
	json_object_set_new(root, "entropy", !cfg->has_entropy ? json_null() :
		json_pack("{s:o}", "rate_limiter", rate_limiter_json(&cfg->entropy_rate_limiter)));
	if (cfg->serial.serial_out_path)
		json_object_set_new(root, "serial", json_pack("{s:s}", "serial_out_path",
							      cfg->serial.serial_out_path));
	return root;
}

static int dump(json_t *v, char *buf, size_t size, struct error *err)
{
	if (!v)
		return error_set(err, -ENOMEM, "out of memory");
	size_t n = json_dumpb(v, buf, size, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(v);
	if (n == 0 || n >= size)
		return error_set(err, -E2BIG, "the configuration does not fit in %zu bytes", size);
	buf[n] = '\0';
	return (int)n;
}

int config_dump(const struct vm_config *cfg, char *buf, size_t size, struct error *err)
{
	return dump(config_json(cfg), buf, size, err);
}

int config_dump_machine(const struct vm_config *cfg, char *buf, size_t size, struct error *err)
{
	return dump(machine_json(&cfg->machine), buf, size, err);
}
