/* The jail directory: creating it, copying the VMM in, and pivot_root'ing into it. */
#ifndef KILN_JAILER_CHROOT_H
#define KILN_JAILER_CHROOT_H

#include <limits.h>
#include <sys/types.h>
#include "config.h"

/* Paths of one jail, all absolute and canonical. */
struct jail_paths {
	char base[PATH_MAX];		/* canonical --chroot-base-dir */
	char exec_dir[PATH_MAX];	/* base/<exec name> */
	char jail_dir[PATH_MAX];	/* exec_dir/<id>: holds root/ and the state file */
	char root[PATH_MAX];		/* jail_dir/root: becomes "/" */
};

int jail_paths_build(const char *canonical_base, const char *exec_name, const char *id,
		     struct jail_paths *p, struct jail_err *err);

/*
 * Make exec_dir (if missing), jail_dir (must not exist: JAIL_EXIT_JAIL_EXISTS) and
 * root (0700, owned uid:gid), never following a symlink. Returns an O_PATH-free
 * directory fd of root (O_CLOEXEC), or -1 with err.
 */
int jail_make_dirs(const struct jail_paths *p, uid_t uid, gid_t gid, struct jail_err *err);

/*
 * Copy the open exec file src_fd into root_fd/name: O_NOFOLLOW (a symlink there is
 * refused), refused if it has more than one link, owned uid:gid, the source's
 * permission bits without set-id bits. Fails if the source changes during the copy.
 */
int jail_copy_exec(int src_fd, int root_fd, const char *name, uid_t uid, gid_t gid,
		   struct jail_err *err);

/*
 * New mount namespace (plus extra_ns, e.g. CLONE_NEWIPC|CLONE_NEWUTS), "/" made
 * recursively slave, root bind-mounted on itself, pivot_root into it, the old root
 * detached and removed. The caller's cwd and root are the jail afterwards.
 */
int jail_pivot(const char *root, int extra_ns, struct jail_err *err);

#endif
