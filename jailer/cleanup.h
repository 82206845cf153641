/* Tearing a jail down: its cgroups and its directory, from the supervisor or --cleanup. */
#ifndef KILN_JAILER_CLEANUP_H
#define KILN_JAILER_CLEANUP_H

#include "cgroup.h"
#include "chroot.h"

/*
 * Record what --cleanup must remove in <jail_dir>/jail.state (outside the jail root,
 * so the VMM can neither read nor forge it), created O_EXCL (an existing one:
 * JAIL_EXIT_JAIL_EXISTS): "kiln-jail 2", then "made exec_dir|jail_dir|root" for the
 * directories this run created, "entry REL" for what it creates in the root, and
 * "cgroup DIR" per jail cgroup.
 */
int jail_state_write(const struct jail_paths *p, const struct jail_layout *lay,
		     const struct cg_plan *plan, struct jail_err *err);

/*
 * Parse a state file's text (modified in place) into lay and the cgroup list.
 * Version 1 files (no "made" lines) mean the jailer made everything.
 */
int jail_state_parse(char *text, struct jail_layout *lay, char (*cgroups)[PATH_MAX],
		     size_t *n_cgroups);

/* rm -r that never follows a symlink and never crosses into another mount. -errno. */
int jail_remove_tree(const char *path);

/*
 * Remove the cgroups, then what lay says this jail made: the whole root if the jailer
 * made it, else only its entries (never following symlinks or crossing mounts); then
 * the state file, <jail_dir> if made, <exec_dir> if made and now empty. The operator's
 * own directories and files stay. On a failure the state file stays, for --cleanup.
 */
int jail_teardown(const struct jail_paths *p, const struct jail_layout *lay,
		  char (*cgroups)[PATH_MAX], size_t n_cgroups, struct jail_err *err);

/* jailer --cleanup --id ID: find the jail, refuse if its VMM still runs, tear it down. */
int jail_cleanup_by_id(const struct jail_config *cfg, const char *canonical_base,
		       struct jail_err *err);

#endif
