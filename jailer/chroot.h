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

#define JAIL_STATE_FILE "jail.state"	/* in jail_dir, next to root/ */
#define JAIL_MAX_ENTRIES (JAIL_MAX_BINDS + 8)

/*
 * What this jail's run made, so that teardown removes exactly that: the directories
 * it created, and the entries it creates in the root (relative paths: "kiln",
 * "kiln.pid", "dev", "run", and per --bind the first component that did not exist).
 * Recorded in the state file before any of the entries exist.
 */
struct jail_layout {
	bool made_exec_dir, made_jail_dir, made_root;
	size_t n_entries;
	char entries[JAIL_MAX_ENTRIES][JAIL_BIND_TARGET_MAX];
};

/*
 * Walk base/exec_name/id/root with O_NOFOLLOW|O_DIRECTORY. A component that exists
 * was prepared by the operator and must be a real directory owned by root and not
 * writable by group or others (JAIL_EXIT_UNSAFE_JAIL_DIR), the root also searchable
 * by uid/gid; a jail_dir holding a state file is a jail (JAIL_EXIT_JAIL_EXISTS), and
 * so is an existing root holding an entry the jailer creates or a --bind target.
 * Missing exec_dir and jail_dir are created (0755 root); the root is not (see
 * jail_make_root). Fills lay. Nothing is created unless every check passed; on
 * failure what was created is removed again.
 */
int jail_make_dirs(const struct jail_paths *p, const struct jail_config *cfg,
		   struct jail_layout *lay, struct jail_err *err);

/* Create the root (0700, uid:gid) if lay->made_root; after the state file exists. */
int jail_make_root(const struct jail_paths *p, uid_t uid, gid_t gid,
		   const struct jail_layout *lay, struct jail_err *err);

/* Remove the directories jail_make_dirs made (empty ones only). */
void jail_undo_dirs(const struct jail_paths *p, const struct jail_layout *lay);

/* A relative path of components that are not empty, "." or "..": 0 or -EINVAL. */
int jail_check_relpath(const char *path);

/*
 * Copy the open exec file src_fd into root_fd/name: O_NOFOLLOW (a symlink there is
 * refused), refused if it has more than one link, owned uid:gid, the source's
 * permission bits without set-id bits. Fails if the source changes during the copy.
 */
int jail_copy_exec(int src_fd, int root_fd, const char *name, uid_t uid, gid_t gid,
		   struct jail_err *err);

/*
 * New mount namespace (plus extra_ns, e.g. CLONE_NEWIPC|CLONE_NEWUTS), "/" made
 * recursively slave, root bind-mounted on itself, then each --bind mounted (see
 * jail_bind_mount), pivot_root into it, the old root detached and removed. The
 * caller's cwd and root are the jail afterwards. src_fds[i] is binds[i]'s source,
 * opened (O_PATH) and checked on the host.
 */
int jail_pivot(const char *root, int extra_ns, const struct jail_bind *binds,
	       const int *src_fds, size_t n_binds, struct jail_err *err);

/*
 * One --bind, below root_fd (the jail root's bind mount): missing parent directories
 * are created (0755 root; existing ones must be real directories owned by root, not
 * group/other-writable), the target itself is created empty (a file or a directory,
 * like the source; refused if it exists), the source is bind-mounted on it
 * (not recursively) and the mount is remounted nosuid,nodev,noexec, and read-only
 * unless b->rw.
 */
int jail_bind_mount(int root_fd, const struct jail_bind *b, int src_fd, struct jail_err *err);

#endif
