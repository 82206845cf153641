/* cgroup placement of the jail: planning (pure, testable on a fake tree) and applying it. */
#ifndef KILN_JAILER_CGROUP_H
#define KILN_JAILER_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include "config.h"
#include "procfs.h"

/* One directory the jail's process joins: one per v1 hierarchy used, one for v2. */
struct cg_target {
	char mount[PATH_MAX];		/* mount point of the hierarchy */
	char rel[PATH_MAX];		/* jail cgroup relative to the mount point */
	char dir[PATH_MAX];		/* mount + "/" + rel */
	char member[PATH_MAX];		/* what /proc/self/cgroup shows once joined */
	char controllers[128];		/* controllers written through this directory */
	size_t settings[JAIL_MAX_CGROUP_SETTINGS];	/* indexes into cfg->cgroups */
	size_t n_settings;
};

#define CG_MAX_TARGETS 8
#define CG_MAX_LEVELS 16

struct cg_plan {
	int version;
	size_t n;			/* 0: no cgroup is made (no --cgroup given) */
	struct cg_target t[CG_MAX_TARGETS];
	/* v2: directories whose cgroup.subtree_control gets "+ctrl" for each of
	 * enable[], top-down, ending with the jail cgroup's parent. */
	size_t n_levels;
	char levels[CG_MAX_LEVELS][PATH_MAX];
	char enable[128];		/* comma-separated controllers */
	/* v2 under a Delegate=yes cgroup: the leaf the jailer moves itself into so
	 * that its own cgroup holds no process ("no internal processes" rule). */
	char supervisor[PATH_MAX];
};

/*
 * Where the jail cgroup goes (see README "cgroups"):
 *  v1: <mount of each controller>/<parent>/<id>, parent = --parent-cgroup or the exec name.
 *  v2 with --parent-cgroup: <v2 mount>/<parent>/<id>.
 *  v2 without it, jailer's own cgroup delegated to it (systemd Delegate=yes):
 *      <own cgroup>/<exec name>/<id>, the jailer itself moving to <own cgroup>/supervisor.
 *  v2 otherwise: <v2 mount>/<exec name>/<id> (Firecracker's layout).
 * For v2 the needed controllers must be listed in the top level's cgroup.controllers
 * (read from disk, so a fake tree works).
 */
int cg_plan_build(const struct jail_config *cfg, const struct cg_mounts *mounts,
		  const struct proc_cgroup *self, bool delegated, struct cg_plan *plan,
		  struct jail_err *err);

/* True when the cgroup v2 directory carries systemd's delegation mark. */
bool cg_is_delegated(const char *dir);

/* v2 Delegate=yes case: move the calling process into plan->supervisor. */
int cg_enter_supervisor(const struct cg_plan *plan, struct jail_err *err);

/* Create the jail cgroup(s) and write the values. Nothing is joined yet. */
int cg_create(const struct jail_config *cfg, const struct cg_plan *plan, struct jail_err *err);
/* Move the calling process into every jail cgroup. */
int cg_attach_self(const struct cg_plan *plan, struct jail_err *err);

/* v2 steps, exported for the fake-tree unit tests (cg_create uses them). */
int cg_v2_enable_controllers(const struct cg_plan *plan, struct jail_err *err);
int cg_write_file(const char *dir, const char *file, const char *value, struct jail_err *err);

/* Check /proc/self/cgroup text against the plan; with a cgroup namespace every path is "/". */
int cg_verify_member(const struct cg_plan *plan, const struct proc_cgroup *now, bool cgroup_ns,
		     struct jail_err *err);

/* rmdir one jail cgroup, waiting briefly for exiting tasks; 0 if gone or never made. */
int cg_remove_dir(const char *dir);

#endif
