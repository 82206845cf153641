/* Planning the jail's cgroups from the config, the mount table and our own membership. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include "util.h"

static int join(char *out, size_t size, const char *a, const char *b)
{
	int n;

	if (b[0] == '\0')
		n = snprintf(out, size, "%s", a);
	else
		n = snprintf(out, size, "%s%s%s", a, (a[0] && a[strlen(a) - 1] == '/') ? "" : "/",
			     b);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The hierarchy path p as a path relative to a mount whose root is `root`. */
static const char *strip_root(const char *p, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return p[0] == '/' ? p + 1 : NULL;
	if (strncmp(p, root, n) != 0 || (p[n] != '/' && p[n] != '\0'))
		return NULL;
	return p[n] == '/' ? p + n + 1 : p + n;
}

static int fill_target(struct cg_target *t, const struct cg_mount *m, const char *rel,
		       struct jail_err *err)
{
	if (strlen(rel) >= sizeof(t->rel) || strlen(m->point) >= sizeof(t->mount))
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP, "cgroup path is too long");
	strcpy(t->mount, m->point);
	strcpy(t->rel, rel);
	if (join(t->dir, sizeof(t->dir), m->point, rel) < 0 ||
	    join(t->member, sizeof(t->member), m->root, rel) < 0)
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP, "cgroup path is too long");
	return 0;
}

static int add_ctrl(char *list, size_t size, const char *c)
{
	size_t o = strlen(list);

	if (list_contains(list, c))
		return 0;
	if (o + strlen(c) + 2 > size)
		return -E2BIG;
	snprintf(list + o, size - o, "%s%s", o ? "," : "", c);
	return 0;
}

static int plan_v1(const struct jail_config *cfg, const struct cg_mounts *mounts,
		   struct cg_plan *plan, struct jail_err *err)
{
	char rel[PATH_MAX];
	const char *parent = cfg->parent_cgroup ? cfg->parent_cgroup : cfg->exec_name;

	if (join(rel, sizeof(rel), parent, cfg->id) < 0)
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP, "cgroup path is too long");
	for (size_t i = 0; i < cfg->n_cgroups; i++) {
		const struct jail_cgroup_setting *s = &cfg->cgroups[i];
		const struct cg_mount *m = cg_mount_v1(mounts, s->controller);
		struct cg_target *t = NULL;

		if (!m)
			return jail_fail(err, JAIL_EXIT_CGROUP,
					 "cgroup v1 controller %s is not mounted on this host",
					 s->controller);
		for (size_t k = 0; k < plan->n; k++)
			if (strcmp(plan->t[k].mount, m->point) == 0)
				t = &plan->t[k];
		if (!t) {
			if (plan->n == CG_MAX_TARGETS)
				return jail_fail(err, JAIL_EXIT_CGROUP, "too many cgroup hierarchies");
			t = &plan->t[plan->n++];
			if (fill_target(t, m, rel, err) < 0)
				return -1;
		}
		if (add_ctrl(t->controllers, sizeof(t->controllers), s->controller) < 0)
			return jail_fail(err, JAIL_EXIT_CGROUP, "too many controllers");
		t->settings[t->n_settings++] = i;
	}
	return 0;
}

static int add_level(struct cg_plan *plan, const char *dir, struct jail_err *err)
{
	if (plan->n_levels == CG_MAX_LEVELS)
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP,
				 "cgroup parent is more than %d levels deep", CG_MAX_LEVELS);
	if (strlen(dir) >= PATH_MAX)
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP, "cgroup path is too long");
	strcpy(plan->levels[plan->n_levels++], dir);
	return 0;
}

static int plan_v2(const struct jail_config *cfg, const struct cg_mounts *mounts,
		   const struct proc_cgroup *self, bool delegated, struct cg_plan *plan,
		   struct jail_err *err)
{
	const struct cg_mount *m = cg_mount_v2(mounts);
	char base_rel[PATH_MAX] = "";		/* where enabling starts, relative to the mount */
	char parent_rel[PATH_MAX];		/* base_rel + the parent's own components */
	char rel[PATH_MAX], dir[PATH_MAX];

	if (!m)
		return jail_fail(err, JAIL_EXIT_CGROUP, "no cgroup v2 hierarchy is mounted");
	if (cfg->parent_cgroup) {
		snprintf(parent_rel, sizeof(parent_rel), "%s", cfg->parent_cgroup);
	} else if (delegated) {
		const char *own = self ? proc_cgroup_path(self, NULL) : NULL;
		const char *own_rel = own ? strip_root(own, m->root) : NULL;
		if (!own_rel)
			return jail_fail(err, JAIL_EXIT_CGROUP,
					 "cannot place the jailer's own cgroup in the v2 mount");
		snprintf(base_rel, sizeof(base_rel), "%s", own_rel);
		if (join(parent_rel, sizeof(parent_rel), base_rel, cfg->exec_name) < 0 ||
		    join(dir, sizeof(dir), m->point, base_rel) < 0 ||
		    join(plan->supervisor, sizeof(plan->supervisor), dir, "supervisor") < 0)
			return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP, "cgroup path is too long");
	} else {
		snprintf(parent_rel, sizeof(parent_rel), "%s", cfg->exec_name);
	}
	if (join(rel, sizeof(rel), parent_rel, cfg->id) < 0)
		return jail_fail(err, JAIL_EXIT_BAD_PARENT_CGROUP, "cgroup path is too long");
	plan->n = 1;
	if (fill_target(&plan->t[0], m, rel, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_cgroups; i++) {
		struct cg_target *t = &plan->t[0];
		if (add_ctrl(t->controllers, sizeof(t->controllers), cfg->cgroups[i].controller) < 0)
			return jail_fail(err, JAIL_EXIT_CGROUP, "too many controllers");
		t->settings[t->n_settings++] = i;
	}
	strcpy(plan->enable, plan->t[0].controllers);

	/* Levels, top-down: base, then each component of the parent below it. */
	if (join(dir, sizeof(dir), m->point, base_rel) < 0 || add_level(plan, dir, err) < 0)
		return -1;
	const char *p = parent_rel + strlen(base_rel);
	while (*p == '/')
		p++;
	while (*p) {
		size_t n = strcspn(p, "/");
		size_t upto = (size_t)(p - parent_rel) + n;
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%.*s", (int)upto, parent_rel);
		if (join(dir, sizeof(dir), m->point, sub) < 0 || add_level(plan, dir, err) < 0)
			return -1;
		p += n;
		while (*p == '/')
			p++;
	}

	/* Every controller must be available at the top level. */
	char avail[1024];
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", plan->levels[0]);
	ssize_t r = read_small_file(AT_FDCWD, path, avail, sizeof(avail));
	if (r < 0)
		return jail_fail_errno(err, JAIL_EXIT_CGROUP, (int)r, "cannot read %s", path);
	for (char *c = avail; *c; c++)
		if (*c == ' ' || *c == '\n')
			*c = ',';
	const char *c = plan->enable;
	while (*c) {
		char one[64];
		size_t n = strcspn(c, ",");
		snprintf(one, sizeof(one), "%.*s", (int)MIN(n, sizeof(one) - 1), c);
		if (!list_contains(avail, one))
			return jail_fail(err, JAIL_EXIT_CGROUP,
					 "cgroup v2 controller %s is not available in %s", one,
					 plan->levels[0]);
		c += n + (c[n] == ',');
	}
	return 0;
}

int cg_plan_build(const struct jail_config *cfg, const struct cg_mounts *mounts,
		  const struct proc_cgroup *self, bool delegated, struct cg_plan *plan,
		  struct jail_err *err)
{
	memset(plan, 0, sizeof(*plan));
	plan->version = cfg->cgroup_version;
	if (cfg->n_cgroups == 0)
		return 0;
	if (cfg->cgroup_version == 1)
		return plan_v1(cfg, mounts, plan, err);
	return plan_v2(cfg, mounts, self, delegated, plan, err);
}

int cg_verify_member(const struct cg_plan *plan, const struct proc_cgroup *now, bool cgroup_ns,
		     struct jail_err *err)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct cg_target *t = &plan->t[i];
		char first[64];
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(t->controllers, ","),
			 t->controllers);
		const char *p = proc_cgroup_path(now, plan->version == 1 ? first : NULL);
		const char *want = cgroup_ns ? "/" : t->member;
		if (!p || strcmp(p, want) != 0)
			return jail_fail(err, JAIL_EXIT_VERIFY,
					 "not in cgroup %s (v%d%s%s): /proc/self/cgroup says %s", want,
					 plan->version, plan->version == 1 ? " " : "",
					 plan->version == 1 ? first : "", p ? p : "nothing");
	}
	return 0;
}
