/* The jailer's configuration: everything the command line says, validated, in one struct. */
#ifndef KILN_JAILER_CONFIG_H
#define KILN_JAILER_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "errors.h"

#define JAIL_ID_MAX 64
#define JAIL_MAX_CGROUP_SETTINGS 32
#define JAIL_DEFAULT_CHROOT_BASE "/srv/jailer"
#define JAIL_DEFAULT_NOFILE 2048
#define JAIL_DEFAULT_CGROUP_VERSION 2
#define JAIL_MAX_BINDS 64
#define JAIL_BIND_TARGET_MAX 256	/* bytes of a --bind JAIL_PATH, with its NUL */

/* One --cgroup FILE=VALUE, split and checked. */
struct jail_cgroup_setting {
	char controller[32];	/* "memory" for "memory.max" */
	char file[128];
	char value[256];
};

/* One --bind HOST_PATH:JAIL_PATH[:rw], split and checked (syntax only). */
struct jail_bind {
	char source[PATH_MAX];			/* host path, as given */
	char target[JAIL_BIND_TARGET_MAX];	/* "/a/b": absolute in the jail, canonical */
	bool rw;				/* ":rw"; read-only otherwise */
};

struct jail_config {
	/* What to do. */
	bool help, version, cleanup;
	bool missing_ok;		/* --cleanup: no such jail is success */

	/* Required for a jail (only --id for --cleanup). */
	char id[JAIL_ID_MAX + 1];
	const char *exec_file;
	char exec_name[NAME_MAX + 1];	/* basename of exec_file: the copy's name in the jail */
	uid_t uid;
	gid_t gid;
	bool allow_root;		/* --allow-root: uid or gid 0 accepted (loudly) */

	const char *chroot_base;	/* as given; validate.c canonicalises it */
	const char *netns;		/* NULL: stay in the jailer's network namespace */
	bool daemonize;
	bool new_pid_ns;
	int new_ns;			/* CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP */

	int cgroup_version;		/* 1 or 2 */
	const char *parent_cgroup;	/* NULL: the default (see cgroup_plan.h) */
	size_t n_cgroups;

	bool have_fsize;
	uint64_t fsize;
	uint64_t nofile;

	size_t n_binds;

	/* Arguments after "--", forwarded to the VMM (points into argv). */
	char **vmm_argv;
	int vmm_argc;

	/*
	 * Last, and not cleared by jail_parse_args (about 280 KiB): each entry is written
	 * whole when its option is read and only the first n_cgroups and n_binds are ever
	 * read, so a jailer touches only the pages it uses. Each page touched is a page fault
	 * here and one more copied at the fork of the jail's builder.
	 */
	struct jail_cgroup_setting cgroups[JAIL_MAX_CGROUP_SETTINGS];
	struct jail_bind binds[JAIL_MAX_BINDS];
};

/*
 * Parse and check argv (syntax only: nothing on disk is looked at).
 * Returns 0, or -1 with err naming the first bad argument and its exit code.
 */
int jail_parse_args(int argc, char **argv, struct jail_config *cfg, struct jail_err *err);

/* Individual checks, exported for the unit tests; each returns 0 or -1 with err. */
int jail_check_id(const char *id, struct jail_err *err);
int jail_parse_cgroup_setting(const char *arg, int version, struct jail_cgroup_setting *out,
			      struct jail_err *err);
int jail_check_parent_cgroup(const char *path, struct jail_err *err);
int jail_parse_new_ns(const char *list, int *flags, struct jail_err *err);
int jail_parse_rlimit(const char *arg, struct jail_config *cfg, struct jail_err *err);
/* HOST_PATH:JAIL_PATH[:rw|:ro]; the jail path's own rules (see jailer/README.md). */
int jail_parse_bind(const char *arg, struct jail_bind *out, struct jail_err *err);
/* The checks between binds and against the jailer's own entries (exec_name set). */
int jail_check_binds(const struct jail_config *cfg, struct jail_err *err);

/* The --help text. */
void jail_print_usage(int fd);

#endif
