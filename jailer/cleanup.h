/* Tearing a jail down: its cgroups and its directory, from the supervisor or --cleanup. */
#ifndef KILN_JAILER_CLEANUP_H
#define KILN_JAILER_CLEANUP_H

#include "cgroup.h"
#include "chroot.h"

#define JAIL_STATE_FILE "jail.state"

/*
 * Record what --cleanup must remove in <jail_dir>/jail.state (outside the jail root,
 * so the VMM can neither read nor forge it): one "cgroup DIR" line per jail cgroup.
 */
int jail_state_write(const struct jail_paths *p, const struct cg_plan *plan,
		     struct jail_err *err);

/* rm -r that never follows a symlink and never crosses into another mount. -errno. */
int jail_remove_tree(const char *path);

/* Remove the cgroups, then <jail_dir>, then <exec_dir> if it is now empty. */
int jail_teardown(const struct jail_paths *p, char (*cgroups)[PATH_MAX], size_t n_cgroups,
		  struct jail_err *err);

/* jailer --cleanup --id ID: find the jail, refuse if its VMM still runs, tear it down. */
int jail_cleanup_by_id(const struct jail_config *cfg, const char *canonical_base,
		       struct jail_err *err);

#endif
