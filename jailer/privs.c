/* Dropping every privilege with libcap, and proving from /proc that it is gone. */
#include "privs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "util.h"

int jail_drop_privileges(uid_t uid, gid_t gid, struct jail_err *err)
{
	cap_t empty;
	int r;

	/* Keep-caps would let permitted capabilities survive setresuid. */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno, "PR_SET_KEEPCAPS");
	/* Bounding set: nothing can ever be regained, even by exec'ing a setuid file. */
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		if (cap_drop_bound(c) < 0 && errno != EINVAL)
			return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno,
					       "cannot drop capability %d from the bounding set", c);
	}
	if (cap_reset_ambient() < 0)
		return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno, "cannot clear the ambient set");
	/* Groups before ids: after setresuid we could no longer change them. */
	if (setgroups(0, NULL) < 0)
		return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno, "setgroups(none)");
	if (setresgid(gid, gid, gid) < 0)
		return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno, "setresgid(%u)", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno, "setresuid(%u)", (unsigned)uid);
	/* Inheritable survives setresuid; clear all three sets explicitly. */
	empty = cap_init();
	if (!empty)
		return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno, "cap_init");
	r = cap_set_proc(empty);
	cap_free(empty);
	if (r < 0)
		return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno, "cannot clear capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return jail_fail_errno(err, JAIL_EXIT_PRIVS, errno, "PR_SET_NO_NEW_PRIVS");
	return 0;
}

int jail_check_status(const struct proc_status *st, const struct jail_expect *want,
		      struct jail_err *err)
{
	static const char *const kinds[] = { "real", "effective", "saved", "filesystem" };

	for (int i = 0; i < 4; i++) {
		if (st->uid[i] != want->uid)
			return jail_fail(err, JAIL_EXIT_VERIFY, "%s uid is %u, expected %u", kinds[i],
					 st->uid[i], (unsigned)want->uid);
		if (st->gid[i] != want->gid)
			return jail_fail(err, JAIL_EXIT_VERIFY, "%s gid is %u, expected %u", kinds[i],
					 st->gid[i], (unsigned)want->gid);
	}
	if (st->ngroups)
		return jail_fail(err, JAIL_EXIT_VERIFY, "%zu supplementary groups remain",
				 st->ngroups);
	const struct { const char *name; uint64_t v; } caps[] = {
		{ "CapInh", st->cap_inh }, { "CapPrm", st->cap_prm }, { "CapEff", st->cap_eff },
		{ "CapBnd", st->cap_bnd }, { "CapAmb", st->cap_amb },
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (caps[i].v)
			return jail_fail(err, JAIL_EXIT_VERIFY, "%s is %016llx, expected 0",
					 caps[i].name, (unsigned long long)caps[i].v);
	if (st->no_new_privs != 1)
		return jail_fail(err, JAIL_EXIT_VERIFY, "NoNewPrivs is %d, expected 1",
				 st->no_new_privs);
	return 0;
}

int jail_check_mounts(const char *mountinfo, const struct jail_expect *want,
		      struct jail_err *err)
{
	static struct proc_mount m;
	bool seen[JAIL_MAX_BINDS] = { false };
	int roots = 0;

	for (const char *line = mountinfo; *line;) {
		size_t n = strcspn(line, "\n");
		if (proc_parse_mount_line(line, n, &m) < 0)
			return jail_fail(err, JAIL_EXIT_VERIFY, "cannot parse mountinfo: %.*s",
					 (int)MIN(n, (size_t)200), line);
		line += n + (line[n] == '\n');
		if (strcmp(m.point, "/") == 0) {
			roots++;
			continue;
		}
		size_t i;
		for (i = 0; i < want->n_binds; i++)
			if (strcmp(m.point, want->binds[i].target) == 0)
				break;
		if (i == want->n_binds)
			return jail_fail(err, JAIL_EXIT_VERIFY,
					 "mount %.200s is visible in the jail; expected only its root "
					 "and the --bind targets", m.point);
		if (seen[i])
			return jail_fail(err, JAIL_EXIT_VERIFY, "%s is mounted more than once",
					 m.point);
		seen[i] = true;
		const struct jail_bind *b = &want->binds[i];
		if (!list_contains(m.options, "nosuid") || !list_contains(m.options, "nodev") ||
		    !list_contains(m.options, "noexec") ||
		    !list_contains(m.options, b->rw ? "rw" : "ro"))
			return jail_fail(err, JAIL_EXIT_VERIFY,
					 "--bind %s is mounted %s, expected %s,nosuid,nodev,noexec",
					 b->target, m.options, b->rw ? "rw" : "ro");
	}
	if (roots != 1)
		return jail_fail(err, JAIL_EXIT_VERIFY, "%d mounts on / in the jail, expected one",
				 roots);
	for (size_t i = 0; i < want->n_binds; i++)
		if (!seen[i])
			return jail_fail(err, JAIL_EXIT_VERIFY, "--bind %s is not mounted in the jail",
					 want->binds[i].target);
	return 0;
}

static int check_fds(int proc_fd, struct jail_err *err)
{
	int dfd = openat(proc_fd, "self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int bad = -1;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return jail_fail_errno(err, JAIL_EXIT_VERIFY, errno, "cannot list /proc/self/fd");
	}
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
			continue;
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC)) {
			bad = fd;
			break;
		}
	}
	closedir(d);
	if (bad >= 0)
		return jail_fail(err, JAIL_EXIT_VERIFY, "fd %d would be inherited by the VMM", bad);
	return 0;
}

int jail_verify(int proc_fd, const struct jail_expect *want, struct jail_err *err)
{
	char buf[8192];
	struct proc_status st;
	struct stat root;
	ssize_t n;

	n = read_small_file(proc_fd, "self/status", buf, sizeof(buf));
	if (n < 0)
		return jail_fail_errno(err, JAIL_EXIT_VERIFY, (int)n, "cannot read /proc/self/status");
	if (proc_parse_status(buf, &st) < 0)
		return jail_fail(err, JAIL_EXIT_VERIFY, "cannot parse /proc/self/status");
	if (jail_check_status(&st, want, err) < 0)
		return -1;

	/* libcap's view must agree: no capability in any set, nothing in the bounding set. */
	cap_t now = cap_get_proc(), none = cap_init();
	int differ = !now || !none || cap_compare(now, none) != 0;
	cap_free(now);
	cap_free(none);
	if (differ)
		return jail_fail(err, JAIL_EXIT_VERIFY, "capability sets are not empty");
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (cap_get_bound(c) > 0)
			return jail_fail(err, JAIL_EXIT_VERIFY, "capability %d is still bounded", c);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return jail_fail(err, JAIL_EXIT_VERIFY, "no_new_privs is not set");

	/* The root is the jail, and the host's mounts are gone. */
	if (stat("/", &root) < 0)
		return jail_fail_errno(err, JAIL_EXIT_VERIFY, errno, "stat /");
	if (root.st_dev != want->root_dev || root.st_ino != want->root_ino)
		return jail_fail(err, JAIL_EXIT_VERIFY, "/ is not the jail root");
	static char mounts[65536];
	n = read_small_file(proc_fd, "self/mountinfo", mounts, sizeof(mounts));
	if (n < 0)
		return jail_fail_errno(err, JAIL_EXIT_VERIFY, (int)n, "cannot read mountinfo");
	if (jail_check_mounts(mounts, want, err) < 0)
		return -1;
	return check_fds(proc_fd, err);
}
