/* Parsers for /proc text (status, cgroup, mountinfo, misc): pure functions over strings. */
#ifndef KILN_JAILER_PROCFS_H
#define KILN_JAILER_PROCFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The lines of /proc/PID/status that say what a process may do. */
struct proc_status {
	uint32_t uid[4], gid[4];	/* real, effective, saved, filesystem */
	size_t ngroups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int no_new_privs;
	unsigned seen;			/* bit per field found; all must be there */
};
#define PROC_STATUS_ALL 0x1ffu

/* Returns 0 when every field was found, -EINVAL otherwise. */
int proc_parse_status(const char *text, struct proc_status *st);

/* One line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH". */
struct proc_cgroup_entry {
	unsigned hierarchy;
	char controllers[128];	/* "memory", "cpu,cpuacct", "name=systemd", "" for v2 */
	char path[PATH_MAX];
};
#define PROC_CGROUP_MAX 24
struct proc_cgroup {
	size_t n;
	struct proc_cgroup_entry e[PROC_CGROUP_MAX];
};

int proc_parse_cgroup(const char *text, struct proc_cgroup *out);
/* The path for a v1 controller, or for the v2 hierarchy when controller is NULL. */
const char *proc_cgroup_path(const struct proc_cgroup *cg, const char *controller);

/* True when the comma-separated list contains item. */
bool list_contains(const char *list, const char *item);

/* A cgroup filesystem as /proc/PID/mountinfo shows it. */
struct cg_mount {
	int version;			/* 1 or 2 */
	char root[PATH_MAX];		/* the hierarchy path mounted there (usually "/") */
	char point[PATH_MAX];		/* where it is mounted */
	char controllers[128];		/* v1: from the super options, e.g. "cpu,cpuacct" */
};
#define CG_MOUNTS_MAX 24
struct cg_mounts {
	size_t n;
	struct cg_mount m[CG_MOUNTS_MAX];
};

/* Collects cgroup and cgroup2 mounts (the first of each hierarchy). */
int proc_parse_cgroup_mounts(const char *mountinfo, struct cg_mounts *out);
const struct cg_mount *cg_mount_v1(const struct cg_mounts *m, const char *controller);
const struct cg_mount *cg_mount_v2(const struct cg_mounts *m);

/* One line of /proc/PID/mountinfo: where it is mounted and its per-mount options. */
struct proc_mount {
	char point[PATH_MAX];		/* unescaped */
	char options[256];		/* "ro,nosuid,nodev,noexec,relatime" */
};
/* Parse the first n bytes of one line (no newline). 0, or -EINVAL / -ENAMETOOLONG. */
int proc_parse_mount_line(const char *line, size_t n, struct proc_mount *m);

/* Minor number of NAME in /proc/misc text, or -ENOENT. */
int proc_misc_minor(const char *text, const char *name);

/*
 * Read a whole (small) file relative to dirfd into buf, NUL-terminated.
 * Returns the length or -errno (-EFBIG when it does not fit).
 */
ssize_t read_small_file(int dirfd, const char *path, char *buf, size_t size);

#endif
