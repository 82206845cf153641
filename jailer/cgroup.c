/* Applying a cgroup plan: libcgroup for v1, plain file writes for v2 (reasons below). */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include "fmt.h"
#include "io.h"
#include "util.h"

/*
 * Why two mechanisms:
 *  - v1: libcgroup knows every controller's mount point and creates the group in
 *    all of them, writes the values and attaches the task in one well-tested API.
 *  - v2: libcgroup 2.0 enables controllers from the hierarchy root downwards, which
 *    under systemd's Delegate=yes writes into cgroups systemd owns, and it neither
 *    moves the jailer out of the way ("no internal processes") nor retries EBUSY.
 *    v2 is a handful of openat()+write() calls on one directory, and doing them
 *    ourselves lets the unit tests run the very same code against a fake tree.
 */

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cg_write_file(const char *dir, const char *file, const char *value, struct jail_err *err)
{
	char path[PATH_MAX + 160];
	int fd, r = -EBUSY;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	/* The kernel can answer EBUSY while a task is still leaving a cgroup. */
	for (int tries = 0; tries < 200 && r == -EBUSY; tries++) {
		if (tries)
			sleep_ms(5);
		fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (fd < 0)
			return jail_fail_errno(err, JAIL_EXIT_CGROUP, errno, "cannot open %s", path);
		r = write_all(fd, value, strlen(value));
		close(fd);
	}
	if (r < 0)
		return jail_fail_errno(err, JAIL_EXIT_CGROUP, r, "cannot write '%s' to %s", value,
				       path);
	return 0;
}

bool cg_is_delegated(const char *dir)
{
	/* systemd >= 251 marks Delegate=yes cgroups with this attribute. */
	return getxattr(dir, "trusted.delegate", NULL, 0) >= 0 ||
	       getxattr(dir, "user.delegate", NULL, 0) >= 0;
}

static int mkdir_ok_exists(const char *dir, struct jail_err *err)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return jail_fail_errno(err, JAIL_EXIT_CGROUP, errno, "cannot create cgroup %s", dir);
	return 0;
}

int cg_enter_supervisor(const struct cg_plan *plan, struct jail_err *err)
{
	if (plan->supervisor[0] == '\0')
		return 0;
	if (mkdir_ok_exists(plan->supervisor, err) < 0)
		return -1;
	return cg_write_file(plan->supervisor, "cgroup.procs", "0", err);
}

int cg_v2_enable_controllers(const struct cg_plan *plan, struct jail_err *err)
{
	for (size_t i = 0; i < plan->n_levels; i++) {
		const char *dir = plan->levels[i];
		char cur[1024], path[PATH_MAX + 32];
		const char *c = plan->enable;

		if (i > 0 && mkdir_ok_exists(dir, err) < 0)
			return -1;
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
		ssize_t r = read_small_file(AT_FDCWD, path, cur, sizeof(cur));
		if (r < 0)
			return jail_fail_errno(err, JAIL_EXIT_CGROUP, (int)r, "cannot read %s", path);
		for (char *p = cur; *p; p++)
			if (*p == ' ' || *p == '\n')
				*p = ',';
		/* One controller per write so a failure names it; skip what is on already. */
		while (*c) {
			char one[64], cmd[72];
			size_t n = strcspn(c, ",");
			snprintf(one, sizeof(one), "%.*s", (int)MIN(n, sizeof(one) - 1), c);
			c += n + (c[n] == ',');
			if (list_contains(cur, one))
				continue;
			snprintf(cmd, sizeof(cmd), "+%s", one);
			if (cg_write_file(dir, "cgroup.subtree_control", cmd, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int refuse_existing(const struct cg_plan *plan, struct jail_err *err)
{
	struct stat st;

	for (size_t i = 0; i < plan->n; i++)
		if (lstat(plan->t[i].dir, &st) == 0)
			return jail_fail(err, JAIL_EXIT_JAIL_EXISTS,
					 "cgroup %s already exists (a jail with this id is running, "
					 "or needs jailer --cleanup)", plan->t[i].dir);
	return 0;
}

static int create_v2(const struct jail_config *cfg, const struct cg_plan *plan,
		     struct jail_err *err)
{
	const struct cg_target *t = &plan->t[0];

	if (cg_v2_enable_controllers(plan, err) < 0)
		return -1;
	if (mkdir(t->dir, 0755) < 0)
		return jail_fail_errno(err, JAIL_EXIT_CGROUP, errno, "cannot create cgroup %s",
				       t->dir);
	for (size_t i = 0; i < t->n_settings; i++) {
		const struct jail_cgroup_setting *s = &cfg->cgroups[t->settings[i]];
		if (cg_write_file(t->dir, s->file, s->value, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * v1 cpuset groups start with empty cpus/mems and refuse tasks until both are
 * set. Make every missing level from the mount down to the jail's parent with
 * its parent's values (what Firecracker's inherit_from_parent does).
 */
static int prepare_cpuset_v1(const struct cg_target *t, struct jail_err *err)
{
	char dir[PATH_MAX], parent[PATH_MAX];
	const char *p = t->rel;

	snprintf(parent, sizeof(parent), "%s", t->mount);
	for (;;) {
		size_t n = strcspn(p, "/");
		if (p[n] == '\0')
			return 0;	/* the leaf itself is filled in by cg_create */
		if (fmt_buf(dir, sizeof(dir), "%s/%.*s", parent, (int)n, p) < 0)
			return jail_fail(err, JAIL_EXIT_CGROUP, "cgroup path is too long");
		if (mkdir(dir, 0755) == 0) {
			static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
			for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
				char v[4096], path[PATH_MAX + 16];
				snprintf(path, sizeof(path), "%s/%s", parent, files[i]);
				ssize_t r = read_small_file(AT_FDCWD, path, v, sizeof(v));
				if (r < 0)
					return jail_fail_errno(err, JAIL_EXIT_CGROUP, (int)r,
							       "cannot read %s", path);
				if (cg_write_file(dir, files[i], v, err) < 0)
					return -1;
			}
		} else if (errno != EEXIST) {
			return jail_fail_errno(err, JAIL_EXIT_CGROUP, errno,
					       "cannot create cgroup %s", dir);
		}
		snprintf(parent, sizeof(parent), "%s", dir);
		p += n + 1;
	}
}

static bool user_sets(const struct jail_config *cfg, const struct cg_target *t, const char *file)
{
	for (size_t i = 0; i < t->n_settings; i++)
		if (strcmp(cfg->cgroups[t->settings[i]].file, file) == 0)
			return true;
	return false;
}

static int create_v1(const struct jail_config *cfg, const struct cg_plan *plan,
		     struct jail_err *err)
{
	int r = cgroup_init();

	if (r)
		return jail_fail(err, JAIL_EXIT_CGROUP, "libcgroup: cannot initialise: %s",
				 cgroup_strerror(r));
	for (size_t i = 0; i < plan->n; i++) {
		const struct cg_target *t = &plan->t[i];
		struct cgroup *cg = cgroup_new_cgroup(t->rel);
		if (!cg)
			return jail_fail(err, JAIL_EXIT_CGROUP, "libcgroup: out of memory");
		if (list_contains(t->controllers, "cpuset") && prepare_cpuset_v1(t, err) < 0) {
			cgroup_free(&cg);
			return -1;
		}
		/* Each controller of this hierarchy, with its values; cpuset gets the parent's
		 * cpus/mems unless the user set them. */
		const char *c = t->controllers;
		while (*c) {
			char name[64];
			size_t n = strcspn(c, ",");
			snprintf(name, sizeof(name), "%.*s", (int)MIN(n, sizeof(name) - 1), c);
			c += n + (c[n] == ',');
			struct cgroup_controller *ctl = cgroup_add_controller(cg, name);
			if (!ctl) {
				cgroup_free(&cg);
				return jail_fail(err, JAIL_EXIT_CGROUP,
						 "libcgroup: cannot add controller %s", name);
			}
			if (strcmp(name, "cpuset") == 0) {
				static const char *const inh[] = { "cpuset.cpus", "cpuset.mems" };
				char parent[PATH_MAX];
				snprintf(parent, sizeof(parent), "%s", t->dir);
				*strrchr(parent, '/') = '\0';
				for (size_t k = 0; k < ARRAY_SIZE(inh); k++) {
					char v[4096], path[PATH_MAX + 16];
					if (user_sets(cfg, t, inh[k]))
						continue;
					snprintf(path, sizeof(path), "%s/%s", parent, inh[k]);
					ssize_t rr = read_small_file(AT_FDCWD, path, v, sizeof(v));
					if (rr < 0) {
						cgroup_free(&cg);
						return jail_fail_errno(err, JAIL_EXIT_CGROUP, (int)rr,
								       "cannot read %s", path);
					}
					v[strcspn(v, "\n")] = '\0';
					cgroup_add_value_string(ctl, inh[k], v);
				}
			}
			for (size_t k = 0; k < t->n_settings; k++) {
				const struct jail_cgroup_setting *s = &cfg->cgroups[t->settings[k]];
				if (strcmp(s->controller, name) != 0)
					continue;
				r = cgroup_add_value_string(ctl, s->file, s->value);
				if (r) {
					cgroup_free(&cg);
					return jail_fail(err, JAIL_EXIT_CGROUP,
							 "libcgroup: cannot set %s: %s", s->file,
							 cgroup_strerror(r));
				}
			}
		}
		r = cgroup_create_cgroup(cg, 0);
		cgroup_free(&cg);
		if (r) {
			int e = errno;
			return jail_fail(err, JAIL_EXIT_CGROUP, "cannot create cgroup %s: %s%s%s",
					 t->dir, cgroup_strerror(r), e ? ": " : "",
					 e ? strerror(e) : "");
		}
	}
	return 0;
}

int cg_create(const struct jail_config *cfg, const struct cg_plan *plan, struct jail_err *err)
{
	if (plan->n == 0)
		return 0;
	if (refuse_existing(plan, err) < 0)
		return -1;
	return plan->version == 1 ? create_v1(cfg, plan, err) : create_v2(cfg, plan, err);
}

int cg_attach_self(const struct cg_plan *plan, struct jail_err *err)
{
	if (plan->n == 0)
		return 0;
	if (plan->version == 2)
		return cg_write_file(plan->t[0].dir, "cgroup.procs", "0", err);
	for (size_t i = 0; i < plan->n; i++) {
		struct cgroup *cg = cgroup_new_cgroup(plan->t[i].rel);
		const char *c = plan->t[i].controllers;
		if (!cg)
			return jail_fail(err, JAIL_EXIT_CGROUP, "libcgroup: out of memory");
		while (*c) {
			char name[64];
			size_t n = strcspn(c, ",");
			snprintf(name, sizeof(name), "%.*s", (int)MIN(n, sizeof(name) - 1), c);
			c += n + (c[n] == ',');
			if (!cgroup_add_controller(cg, name)) {
				cgroup_free(&cg);
				return jail_fail(err, JAIL_EXIT_CGROUP,
						 "libcgroup: cannot add controller %s", name);
			}
		}
		int r = cgroup_attach_task(cg);
		cgroup_free(&cg);
		if (r)
			return jail_fail(err, JAIL_EXIT_CGROUP, "cannot join cgroup %s: %s",
					 plan->t[i].dir, cgroup_strerror(r));
	}
	return 0;
}

int cg_remove_dir(const char *dir)
{
	/* A task that just exited can keep a cgroup busy for a moment. */
	for (int tries = 0; tries < 200; tries++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		sleep_ms(5);
	}
	return -EBUSY;
}
