/* Command-line parsing and syntax validation into struct jail_config (no I/O besides --help). */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include "io.h"
#include "parse.h"
#include "util.h"

enum opt {
	OPT_ID, OPT_EXEC_FILE, OPT_UID, OPT_GID, OPT_CHROOT_BASE, OPT_NETNS, OPT_DAEMONIZE,
	OPT_NEW_PID_NS, OPT_CGROUP, OPT_CGROUP_VERSION, OPT_PARENT_CGROUP, OPT_RESOURCE_LIMIT,
	OPT_NEW_NS, OPT_CLEANUP, OPT_VERSION, OPT_HELP, OPT_BIND, OPT_ALLOW_ROOT, OPT_MISSING_OK,
};

static const struct {
	const char *name;
	bool has_arg;
	bool repeatable;
} options[] = {
	[OPT_ID] = { "id", true, false },
	[OPT_EXEC_FILE] = { "exec-file", true, false },
	[OPT_UID] = { "uid", true, false },
	[OPT_GID] = { "gid", true, false },
	[OPT_CHROOT_BASE] = { "chroot-base-dir", true, false },
	[OPT_NETNS] = { "netns", true, false },
	[OPT_DAEMONIZE] = { "daemonize", false, false },
	[OPT_NEW_PID_NS] = { "new-pid-ns", false, false },
	[OPT_CGROUP] = { "cgroup", true, true },
	[OPT_CGROUP_VERSION] = { "cgroup-version", true, false },
	[OPT_PARENT_CGROUP] = { "parent-cgroup", true, false },
	[OPT_RESOURCE_LIMIT] = { "resource-limit", true, true },
	[OPT_NEW_NS] = { "new-ns", true, false },
	[OPT_CLEANUP] = { "cleanup", false, false },
	[OPT_VERSION] = { "version", false, false },
	[OPT_HELP] = { "help", false, false },
	[OPT_BIND] = { "bind", true, true },
	[OPT_ALLOW_ROOT] = { "allow-root", false, false },
	[OPT_MISSING_OK] = { "missing-ok", false, false },
};

/*
 * Interface files a --cgroup may write, per controller. Anything else is
 * refused before the jail exists, so a typo cannot leave a half-made cgroup.
 * "*" in a name matches one component of digits and size letters (hugetlb).
 */
struct cg_known {
	const char *controller;
	unsigned versions;	/* bit 1: v1, bit 2: v2 */
	const char *files[16];
};

static const struct cg_known cg_known[] = {
	{ "memory", 1 << 1, { "limit_in_bytes", "soft_limit_in_bytes", "memsw.limit_in_bytes",
	  "kmem.limit_in_bytes", "kmem.tcp.limit_in_bytes", "swappiness", "oom_control",
	  "use_hierarchy", "move_charge_at_immigrate" } },
	{ "memory", 1 << 2, { "max", "high", "low", "min", "swap.max", "swap.high", "oom.group",
	  "zswap.max" } },
	{ "pids", 1 << 1 | 1 << 2, { "max" } },
	{ "cpu", 1 << 1, { "shares", "cfs_quota_us", "cfs_period_us", "rt_runtime_us",
	  "rt_period_us" } },
	{ "cpu", 1 << 2, { "max", "max.burst", "weight", "weight.nice", "idle", "uclamp.min",
	  "uclamp.max" } },
	{ "cpuset", 1 << 1, { "cpus", "mems", "cpu_exclusive", "mem_exclusive",
	  "mem_hardwall", "memory_migrate", "sched_load_balance" } },
	{ "cpuset", 1 << 2, { "cpus", "mems", "cpus.partition" } },
	{ "io", 1 << 2, { "max", "weight", "latency", "bfq.weight" } },
	{ "blkio", 1 << 1, { "weight", "weight_device", "throttle.read_bps_device",
	  "throttle.write_bps_device", "throttle.read_iops_device",
	  "throttle.write_iops_device" } },
	{ "hugetlb", 1 << 1, { "*.limit_in_bytes", "*.rsvd.limit_in_bytes" } },
	{ "hugetlb", 1 << 2, { "*.max", "*.rsvd.max" } },
	{ "freezer", 1 << 1, { "state" } },
	{ "devices", 1 << 1, { "allow", "deny" } },
	{ "net_cls", 1 << 1, { "classid" } },
	{ "net_prio", 1 << 1, { "ifpriomap" } },
	{ "misc", 1 << 1 | 1 << 2, { "max" } },
	{ "rdma", 1 << 1 | 1 << 2, { "max" } },
	{ "cpuacct", 1 << 1, { "usage" } },
};

static bool pattern_matches(const char *pattern, const char *s)
{
	const char *star = strchr(pattern, '*');

	if (!star)
		return strcmp(pattern, s) == 0;
	/* "*" stands for one size component such as "2MB" or "1GB". */
	size_t n = strspn(s, "0123456789KMGB");
	if (n == 0 || s[n] != '.')
		return false;
	return strcmp(star + 1, s + n) == 0;
}

int jail_check_id(const char *id, struct jail_err *err)
{
	size_t len = strlen(id);

	if (len == 0)
		return jail_fail(err, JAIL_EXIT_BAD_ID, "invalid --id: it is empty");
	if (len > JAIL_ID_MAX)
		return jail_fail(err, JAIL_EXIT_BAD_ID,
				 "invalid --id: %zu characters, at most %d allowed", len, JAIL_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return jail_fail(err, JAIL_EXIT_BAD_ID,
					 "invalid --id '%.80s': character %zu is not one of "
					 "[A-Za-z0-9-]", id, i + 1);
	}
	return 0;
}

int jail_parse_cgroup_setting(const char *arg, int version, struct jail_cgroup_setting *out,
			      struct jail_err *err)
{
	const char *eq = strchr(arg, '=');
	size_t flen;

	if (!eq || eq == arg)
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
				 "invalid --cgroup '%.80s': expected FILE=VALUE", arg);
	flen = (size_t)(eq - arg);
	if (flen >= sizeof(out->file))
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
				 "invalid --cgroup: file name is too long");
	memcpy(out->file, arg, flen);
	out->file[flen] = '\0';
	if (strlen(eq + 1) >= sizeof(out->value))
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
				 "invalid --cgroup %s: value is too long", out->file);
	if (eq[1] == '\0')
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
				 "invalid --cgroup %s: the value is empty", out->file);
	if (strchr(eq + 1, '\n'))
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
				 "invalid --cgroup %s: the value contains a newline", out->file);
	strcpy(out->value, eq + 1);

	/* A file name is one path component: no "/", no "." or ".." components. */
	if (strchr(out->file, '/') || strcmp(out->file, "..") == 0 || strcmp(out->file, ".") == 0)
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
				 "invalid --cgroup file '%s': it must be a file name, not a path",
				 out->file);
	const char *dot = strchr(out->file, '.');
	if (!dot || dot == out->file || dot[1] == '\0')
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
				 "invalid --cgroup file '%s': expected CONTROLLER.PROPERTY",
				 out->file);
	size_t clen = (size_t)(dot - out->file);
	if (clen >= sizeof(out->controller))
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_CONTROLLER,
				 "unknown cgroup controller in '%s'", out->file);
	memcpy(out->controller, out->file, clen);
	out->controller[clen] = '\0';

	bool controller_known = false;
	for (size_t i = 0; i < ARRAY_SIZE(cg_known); i++) {
		if (strcmp(cg_known[i].controller, out->controller) != 0 ||
		    !(cg_known[i].versions & (1u << version)))
			continue;
		controller_known = true;
		for (size_t j = 0; j < ARRAY_SIZE(cg_known[i].files) && cg_known[i].files[j]; j++)
			if (pattern_matches(cg_known[i].files[j], dot + 1))
				return 0;
	}
	if (!controller_known)
		return jail_fail(err, JAIL_EXIT_BAD_CGROUP_CONTROLLER,
				 "unknown cgroup v%d controller '%s' in --cgroup %s", version,
				 out->controller, out->file);
	return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
			 "unknown cgroup v%d file '%s' for controller %s", version, out->file,
			 out->controller);
}

int jail_check_parent_cgroup(const char *path, struct jail_err *err)
{
	const char *p = path;

	if (*path == '\0')
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP, "invalid --parent-cgroup: it is empty");
	if (*path == '/')
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP,
				 "invalid --parent-cgroup '%.80s': it must be a relative path", path);
	if (strlen(path) >= PATH_MAX / 2)
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP, "invalid --parent-cgroup: too long");
	/* Components separated by single slashes; none empty, ".", "..", or with a newline. */
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP,
					 "invalid --parent-cgroup '%.80s': empty, '.' or '..' component",
					 path);
		if (memchr(p, '\n', n))
			return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP,
					 "invalid --parent-cgroup: it contains a newline");
		p += n;
		if (*p == '/' && *++p == '\0')
			return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP,
					 "invalid --parent-cgroup '%.80s': trailing '/'", path);
	}
	return 0;
}

int jail_parse_new_ns(const char *list, int *flags, struct jail_err *err)
{
	const char *p = list;

	*flags = 0;
	if (*p == '\0')
		return jail_fail(err, JAIL_EXIT_BAD_NEW_NS, "invalid --new-ns: the list is empty");
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == 3 && strncmp(p, "ipc", 3) == 0)
			*flags |= CLONE_NEWIPC;
		else if (n == 3 && strncmp(p, "uts", 3) == 0)
			*flags |= CLONE_NEWUTS;
		else if (n == 6 && strncmp(p, "cgroup", 6) == 0)
			*flags |= CLONE_NEWCGROUP;
		else
			return jail_fail(err, JAIL_EXIT_BAD_NEW_NS,
					 "invalid --new-ns: unknown namespace '%.*s' (expected "
					 "ipc, uts or cgroup)", (int)MIN(n, (size_t)40), p);
		p += n;
		if (*p == ',' && *++p == '\0')
			return jail_fail(err, JAIL_EXIT_BAD_NEW_NS, "invalid --new-ns: trailing ','");
	}
	return 0;
}

int jail_parse_rlimit(const char *arg, struct jail_config *cfg, struct jail_err *err)
{
	const char *eq = strchr(arg, '=');
	uint64_t v;

	if (!eq)
		return jail_fail(err, JAIL_EXIT_BAD_RLIMIT,
				 "invalid --resource-limit '%.80s': expected NAME=VALUE", arg);
	size_t n = (size_t)(eq - arg);
	bool fsize = n == 5 && strncmp(arg, "fsize", 5) == 0;
	bool nofile = n == 7 && strncmp(arg, "no-file", 7) == 0;
	if (!fsize && !nofile)
		return jail_fail(err, JAIL_EXIT_BAD_RLIMIT,
				 "unknown resource limit '%.*s' (expected fsize or no-file)",
				 (int)MIN(n, (size_t)40), arg);
	/* RLIM_INFINITY is all ones; refuse it so a typo cannot lift a limit. */
	if (parse_u64(eq + 1, UINT64_MAX - 1, &v) < 0)
		return jail_fail(err, JAIL_EXIT_BAD_RLIMIT,
				 "invalid --resource-limit %.*s: '%.40s' is not a number", (int)n, arg,
				 eq + 1);
	if (fsize) {
		cfg->have_fsize = true;
		cfg->fsize = v;
	} else {
		if (v == 0 || v > INT32_MAX)
			return jail_fail(err, JAIL_EXIT_BAD_RLIMIT,
					 "invalid --resource-limit no-file: %s is out of range", eq + 1);
		cfg->nofile = v;
	}
	return 0;
}

/* A jail path component: letters, digits and ._+@- (no spaces, ':' or escapes). */
static bool bind_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '+' || c == '@';
}

int jail_parse_bind(const char *arg, struct jail_bind *out, struct jail_err *err)
{
	size_t len = strlen(arg);
	const char *colon;

	memset(out, 0, sizeof(*out));
	/* An optional ":rw" or ":ro" suffix, then HOST_PATH:JAIL_PATH split at the last ':'. */
	if (len > 3 && (strcmp(arg + len - 3, ":rw") == 0 || strcmp(arg + len - 3, ":ro") == 0)) {
		out->rw = arg[len - 1] == 'w';
		len -= 3;
	}
	colon = memrchr(arg, ':', len);
	if (!colon)
		return jail_fail(err, JAIL_EXIT_BIND_TARGET,
				 "invalid --bind '%.80s': expected HOST_PATH:JAIL_PATH[:rw]", arg);
	size_t slen = (size_t)(colon - arg), tlen = len - slen - 1;
	if (slen == 0)
		return jail_fail(err, JAIL_EXIT_BIND_SOURCE,
				 "invalid --bind '%.80s': the host path is empty", arg);
	if (slen >= sizeof(out->source))
		return jail_fail(err, JAIL_EXIT_BIND_SOURCE, "invalid --bind: the host path is too long");
	memcpy(out->source, arg, slen);
	if (tlen >= sizeof(out->target))
		return jail_fail(err, JAIL_EXIT_BIND_TARGET,
				 "invalid --bind %s: the jail path is too long (at most %d bytes)",
				 out->source, JAIL_BIND_TARGET_MAX - 1);
	memcpy(out->target, colon + 1, tlen);

	const char *t = out->target;
	if (t[0] != '/')
		return jail_fail(err, JAIL_EXIT_BIND_TARGET,
				 "invalid --bind target '%s': it must be an absolute path in the jail",
				 t);
	if (t[1] == '\0')
		return jail_fail(err, JAIL_EXIT_BIND_TARGET,
				 "invalid --bind target '/': the jail root itself cannot be replaced");
	/* Components separated by single slashes; none empty, "." or "..". */
	for (const char *p = t + 1; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return jail_fail(err, JAIL_EXIT_BIND_TARGET,
					 "invalid --bind target '%s': empty, '.' or '..' component", t);
		for (size_t i = 0; i < n; i++)
			if (!bind_char_ok(p[i]))
				return jail_fail(err, JAIL_EXIT_BIND_TARGET,
						 "invalid --bind target '%.80s': character %zu is not "
						 "one of [A-Za-z0-9._+@-/]", t, (size_t)(p + i - t) + 1);
		p += n;
		if (*p == '/' && *++p == '\0')
			return jail_fail(err, JAIL_EXIT_BIND_TARGET,
					 "invalid --bind target '%s': trailing '/'", t);
	}
	return 0;
}

/* True when the first component of the jail path t is name. */
static bool first_component_is(const char *t, const char *name)
{
	size_t n = strcspn(t + 1, "/");
	return n == strlen(name) && strncmp(t + 1, name, n) == 0;
}

/* a is b, or a directory above b. */
static bool path_covers(const char *a, const char *b)
{
	size_t n = strlen(a);
	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

int jail_check_binds(const struct jail_config *cfg, struct jail_err *err)
{
	char pidfile[NAME_MAX + 8];

	snprintf(pidfile, sizeof(pidfile), "%s.pid", cfg->exec_name);
	for (size_t i = 0; i < cfg->n_binds; i++) {
		const char *t = cfg->binds[i].target;
		/* /dev and /run are the jailer's (and the VMM's): nothing of the host goes there. */
		if (first_component_is(t, "dev") || first_component_is(t, "run"))
			return jail_fail(err, JAIL_EXIT_BIND_RESERVED,
					 "invalid --bind target '%s': /dev and /run belong to the "
					 "jailer", t);
		if (first_component_is(t, cfg->exec_name) || first_component_is(t, pidfile) ||
		    first_component_is(t, "old_root"))
			return jail_fail(err, JAIL_EXIT_BIND_RESERVED,
					 "invalid --bind target '%s': the jailer creates /%s itself", t,
					 t + 1);
		for (size_t j = 0; j < i; j++) {
			const char *u = cfg->binds[j].target;
			if (strcmp(t, u) == 0)
				return jail_fail(err, JAIL_EXIT_BIND_DUPLICATE,
						 "--bind target %s given twice", t);
			if (path_covers(t, u) || path_covers(u, t))
				return jail_fail(err, JAIL_EXIT_BIND_DUPLICATE,
						 "--bind targets %s and %s overlap: one is inside the "
						 "other", u, t);
		}
	}
	return 0;
}

static int parse_id_number(const char *s, bool is_uid, uint32_t *out, struct jail_err *err)
{
	uint64_t v;
	int r = parse_u64(s, UINT32_MAX - 1, &v);	/* (uid_t)-1 means "unchanged" */

	if (r < 0)
		return jail_fail(err, is_uid ? JAIL_EXIT_BAD_UID : JAIL_EXIT_BAD_GID,
				 "invalid --%s '%.40s': %s", is_uid ? "uid" : "gid", s,
				 r == -ERANGE ? "out of range" : "not a number");
	*out = (uint32_t)v;
	return 0;
}

static int apply_option(enum opt o, const char *val, struct jail_config *cfg,
			struct jail_err *err)
{
	uint32_t n = 0;
	uint64_t v = 0;

	switch (o) {
	case OPT_ID:
		if (jail_check_id(val, err) < 0)
			return -1;
		strcpy(cfg->id, val);
		return 0;
	case OPT_EXEC_FILE: {
		if (*val == '\0')
			return jail_fail(err, JAIL_EXIT_BAD_EXEC_FILE, "invalid --exec-file: it is empty");
		const char *base = strrchr(val, '/');
		base = base ? base + 1 : val;
		if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
		    strlen(base) > NAME_MAX - 4)	/* room for ".pid" */
			return jail_fail(err, JAIL_EXIT_BAD_EXEC_FILE,
					 "invalid --exec-file '%.80s': it does not name a file", val);
		cfg->exec_file = val;
		strcpy(cfg->exec_name, base);
		return 0;
	}
	case OPT_UID:
		if (parse_id_number(val, true, &n, err) < 0)
			return -1;
		cfg->uid = n;
		return 0;
	case OPT_GID:
		if (parse_id_number(val, false, &n, err) < 0)
			return -1;
		cfg->gid = n;
		return 0;
	case OPT_CHROOT_BASE:
		if (*val == '\0')
			return jail_fail(err, JAIL_EXIT_BAD_CHROOT_BASE,
					 "invalid --chroot-base-dir: it is empty");
		cfg->chroot_base = val;
		return 0;
	case OPT_NETNS:
		if (*val == '\0')
			return jail_fail(err, JAIL_EXIT_BAD_NETNS, "invalid --netns: it is empty");
		cfg->netns = val;
		return 0;
	case OPT_DAEMONIZE:
		cfg->daemonize = true;
		return 0;
	case OPT_NEW_PID_NS:
		cfg->new_pid_ns = true;
		return 0;
	case OPT_CGROUP:
		/* Checked against the version after all options are read. */
		if (cfg->n_cgroups == JAIL_MAX_CGROUP_SETTINGS)
			return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
					 "too many --cgroup options (at most %d)",
					 JAIL_MAX_CGROUP_SETTINGS);
		/* Stash the raw argument in value; parsed in jail_parse_args(). */
		if (strlen(val) >= sizeof(cfg->cgroups[0].value))
			return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
					 "invalid --cgroup: argument is too long");
		strcpy(cfg->cgroups[cfg->n_cgroups++].value, val);
		return 0;
	case OPT_CGROUP_VERSION:
		if (parse_u64(val, 2, &v) < 0 || v < 1)
			return jail_fail(err, JAIL_EXIT_BAD_CGROUP_VERSION,
					 "invalid --cgroup-version '%.40s': expected 1 or 2", val);
		cfg->cgroup_version = (int)v;
		return 0;
	case OPT_PARENT_CGROUP:
		if (jail_check_parent_cgroup(val, err) < 0)
			return -1;
		cfg->parent_cgroup = val;
		return 0;
	case OPT_RESOURCE_LIMIT:
		return jail_parse_rlimit(val, cfg, err);
	case OPT_NEW_NS:
		return jail_parse_new_ns(val, &cfg->new_ns, err);
	case OPT_CLEANUP:
		cfg->cleanup = true;
		return 0;
	case OPT_VERSION:
		cfg->version = true;
		return 0;
	case OPT_HELP:
		cfg->help = true;
		return 0;
	case OPT_BIND:
		if (cfg->n_binds == JAIL_MAX_BINDS)
			return jail_fail(err, JAIL_EXIT_BIND_TARGET, "too many --bind options (at most %d)",
					 JAIL_MAX_BINDS);
		if (jail_parse_bind(val, &cfg->binds[cfg->n_binds], err) < 0)
			return -1;
		cfg->n_binds++;
		return 0;
	case OPT_ALLOW_ROOT:
		cfg->allow_root = true;
		return 0;
	case OPT_MISSING_OK:
		cfg->missing_ok = true;
		return 0;
	}
	return jail_fail(err, JAIL_EXIT_UNEXPECTED, "internal error: option %d", (int)o);
}

int jail_parse_args(int argc, char **argv, struct jail_config *cfg, struct jail_err *err)
{
	unsigned seen = 0;
	int i;

	memset(cfg, 0, offsetof(struct jail_config, cgroups));
	cfg->chroot_base = JAIL_DEFAULT_CHROOT_BASE;
	cfg->cgroup_version = JAIL_DEFAULT_CGROUP_VERSION;
	cfg->nofile = JAIL_DEFAULT_NOFILE;
	cfg->uid = (uid_t)-1;
	cfg->gid = (gid_t)-1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		size_t nlen;
		size_t o;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2) != 0)
			return jail_fail(err, JAIL_EXIT_USAGE,
					 "unexpected argument '%.80s' (arguments for the VMM go "
					 "after --)", a);
		a += 2;
		nlen = strcspn(a, "=");
		for (o = 0; o < ARRAY_SIZE(options); o++)
			if (strlen(options[o].name) == nlen && strncmp(options[o].name, a, nlen) == 0)
				break;
		if (o == ARRAY_SIZE(options))
			return jail_fail(err, JAIL_EXIT_USAGE, "unknown option '--%.*s'",
					 (int)MIN(nlen, (size_t)60), a);
		if (a[nlen] == '=') {
			if (!options[o].has_arg)
				return jail_fail(err, JAIL_EXIT_USAGE,
						 "option --%s takes no value", options[o].name);
			val = a + nlen + 1;
		} else if (options[o].has_arg) {
			if (i + 1 >= argc)
				return jail_fail(err, JAIL_EXIT_USAGE,
						 "option --%s needs a value", options[o].name);
			val = argv[++i];
		}
		if ((seen & (1u << o)) && !options[o].repeatable)
			return jail_fail(err, JAIL_EXIT_USAGE, "option --%s given twice",
					 options[o].name);
		seen |= 1u << o;
		if (apply_option((enum opt)o, val, cfg, err) < 0)
			return -1;
	}
	cfg->vmm_argv = argv + i;
	cfg->vmm_argc = argc > i ? argc - i : 0;

	if (cfg->help || cfg->version)
		return 0;

	/* --cgroup values depend on --cgroup-version, which may come later. */
	for (size_t k = 0; k < cfg->n_cgroups; k++) {
		char raw[sizeof(cfg->cgroups[k].value)];
		strcpy(raw, cfg->cgroups[k].value);
		if (jail_parse_cgroup_setting(raw, cfg->cgroup_version, &cfg->cgroups[k], err) < 0)
			return -1;
		for (size_t j = 0; j < k; j++)
			if (strcmp(cfg->cgroups[j].file, cfg->cgroups[k].file) == 0)
				return jail_fail(err, JAIL_EXIT_BAD_CGROUP_FILE,
						 "--cgroup %s given twice", cfg->cgroups[k].file);
	}

	if (!(seen & (1u << OPT_ID)))
		return jail_fail(err, JAIL_EXIT_USAGE, "missing required option --id");
	if (cfg->cleanup) {
		/* --cleanup names an existing jail; options that build one make no sense. */
		unsigned allowed = 1u << OPT_ID | 1u << OPT_CLEANUP | 1u << OPT_EXEC_FILE |
				   1u << OPT_CHROOT_BASE | 1u << OPT_MISSING_OK;
		for (size_t o = 0; o < ARRAY_SIZE(options); o++)
			if ((seen & (1u << o)) && !(allowed & (1u << o)))
				return jail_fail(err, JAIL_EXIT_USAGE,
						 "option --%s cannot be used with --cleanup",
						 options[o].name);
		if (cfg->vmm_argc)
			return jail_fail(err, JAIL_EXIT_USAGE,
					 "arguments after -- cannot be used with --cleanup");
		return 0;
	}
	if (cfg->missing_ok)
		return jail_fail(err, JAIL_EXIT_USAGE, "--missing-ok is an option of --cleanup");
	if (!(seen & (1u << OPT_EXEC_FILE)))
		return jail_fail(err, JAIL_EXIT_USAGE, "missing required option --exec-file");
	if (!(seen & (1u << OPT_UID)))
		return jail_fail(err, JAIL_EXIT_USAGE, "missing required option --uid");
	if (!(seen & (1u << OPT_GID)))
		return jail_fail(err, JAIL_EXIT_USAGE, "missing required option --gid");
	/* A VMM with uid 0 may signal every root process of the host and write every
	 * root-owned file it can reach (the jail root of a prepared jail, rw binds); gid 0
	 * opens root-group files. Only on explicit request. */
	if (cfg->uid == 0 && !cfg->allow_root)
		return jail_fail(err, JAIL_EXIT_BAD_UID,
				 "refusing --uid 0: the VMM would run as root (capabilities dropped, "
				 "still root-owned files and kill() of root processes); use an "
				 "unprivileged uid, or --allow-root");
	if (cfg->gid == 0 && !cfg->allow_root)
		return jail_fail(err, JAIL_EXIT_BAD_GID,
				 "refusing --gid 0: the VMM would run in the root group; use an "
				 "unprivileged gid, or --allow-root");
	return jail_check_binds(cfg, err);
}

void jail_print_usage(int fd)
{
	static const char text[] =
		"Usage: jailer --id ID --exec-file FILE --uid UID --gid GID [OPTIONS] [-- VMM ARGS]\n"
		"       jailer --cleanup --id ID [--exec-file FILE] [--chroot-base-dir DIR]\n"
		"                        [--missing-ok]\n"
		"       jailer --help | --version\n"
		"\n"
		"Builds a jail for one microVM and execs FILE inside it with no privileges left.\n"
		"\n"
		"  --id ID                 VM id: 1 to 64 characters of [A-Za-z0-9-]\n"
		"  --exec-file FILE        the VMM binary (a regular file, not a symlink); copied\n"
		"                          into the jail\n"
		"  --uid UID, --gid GID    numeric user and group the VMM runs as\n"
		"  --chroot-base-dir DIR   jails live in DIR/<exec name>/<id>/root\n"
		"                          (default " JAIL_DEFAULT_CHROOT_BASE ")\n"
		"  --netns PATH            join this network namespace (e.g. /var/run/netns/NAME)\n"
		"  --daemonize             detach: double fork, setsid, stdio on /dev/null\n"
		"  --new-pid-ns            run the VMM as pid 1 of a new pid namespace\n"
		"  --new-ns LIST           also unshare namespaces from: ipc,uts,cgroup\n"
		"  --cgroup FILE=VALUE     write VALUE to the jail cgroup's FILE (repeatable)\n"
		"  --cgroup-version 1|2    cgroup hierarchy to use (default 2)\n"
		"  --parent-cgroup PATH    parent of the jail cgroup, relative to the hierarchy root\n"
		"  --resource-limit fsize=N|no-file=N   (repeatable; no-file defaults to 2048)\n"
		"  --bind HOST_PATH:JAIL_PATH[:rw]\n"
		"                          bind-mount a host file or directory at JAIL_PATH in the\n"
		"                          jail (repeatable); read-only unless :rw; always nosuid,\n"
		"                          nodev, noexec\n"
		"  --allow-root            accept --uid 0 / --gid 0 (not recommended)\n"
		"  --cleanup               remove the jail directory and cgroup of --id\n"
		"  --missing-ok            with --cleanup: no such jail is not an error (exit 0)\n"
		"  --version, --help\n"
		"\n"
		"See jailer/README.md for the steps, the jail layout and the exit codes.\n";
	if (write_all(fd, text, sizeof(text) - 1) < 0)
		return;	/* nothing useful to do if stdout is gone */
}
