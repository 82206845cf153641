/* Tearing a jail down: its cgroups and its directory, from the supervisor or --cleanup. */
#include "cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "fmt.h"
#include "io.h"

int jail_state_write(const struct jail_paths *p, const struct cg_plan *plan,
		     struct jail_err *err)
{
	char path[PATH_MAX], text[CG_MAX_TARGETS * (PATH_MAX + 8) + 64];
	size_t o = 0;
	int fd, r;

	if (fmt_buf(path, sizeof(path), "%s/%s", p->jail_dir, JAIL_STATE_FILE) < 0)
		return jail_fail(err, JAIL_EXIT_JAIL_DIR, "state file path is too long");
	o += (size_t)snprintf(text, sizeof(text), "kiln-jail 1\n");
	for (size_t i = 0; i < plan->n; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "cgroup %s\n", plan->t[i].dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot create %s", path);
	r = write_all(fd, text, o);
	close(fd);
	if (r < 0)
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, r, "cannot write %s", path);
	return 0;
}

static int remove_at(int at, const char *name, dev_t dev, int depth)
{
	struct stat st;
	int fd, r = 0;
	DIR *d;
	struct dirent *de;

	if (depth > 64)
		return -ELOOP;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(at, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EXDEV;	/* a mount inside the jail: leave it, and fail loudly */
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int rr = remove_at(dirfd(d), de->d_name, dev, depth + 1);
		if (rr < 0 && r == 0)
			r = rr;
	}
	closedir(d);
	if (r == 0 && unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int jail_remove_tree(const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int pfd, r;

	if (!slash || slash[1] == '\0' || fmt_buf(parent, sizeof(parent), "%.*s",
						  (int)(slash - path), path) < 0)
		return -EINVAL;
	if (parent[0] == '\0')
		strcpy(parent, "/");
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstatat(pfd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = errno == ENOENT ? 0 : -errno;
		close(pfd);
		return r;
	}
	r = remove_at(pfd, slash + 1, st.st_dev, 0);
	close(pfd);
	return r;
}

int jail_teardown(const struct jail_paths *p, char (*cgroups)[PATH_MAX], size_t n_cgroups,
		  struct jail_err *err)
{
	int failed = 0;

	for (size_t i = 0; i < n_cgroups; i++) {
		int r = cg_remove_dir(cgroups[i]);
		if (r < 0 && !failed++)
			jail_fail_errno(err, JAIL_EXIT_CLEANUP, r, "cannot remove cgroup %s", cgroups[i]);
	}
	int r = jail_remove_tree(p->jail_dir);
	if (r < 0 && !failed++)
		jail_fail_errno(err, JAIL_EXIT_CLEANUP, r, "cannot remove %s", p->jail_dir);
	/* Shared by every jail of this exec file: only goes when it is empty. */
	if (rmdir(p->exec_dir) < 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT &&
	    !failed++)
		jail_fail_errno(err, JAIL_EXIT_CLEANUP, errno, "cannot remove %s", p->exec_dir);
	return failed ? -1 : 0;
}

/* The exec name whose directory holds a jail called id; exactly one must. */
static int find_exec_name(const char *base, const char *id, char *out, size_t size,
			  struct jail_err *err)
{
	DIR *d = opendir(base);
	struct dirent *de;
	int found = 0;

	if (!d)
		return jail_fail_errno(err, JAIL_EXIT_BAD_CHROOT_BASE, errno, "cannot open %s", base);
	while ((de = readdir(d))) {
		struct stat st;
		char path[PATH_MAX];
		if (de->d_name[0] == '.' ||
		    fmt_buf(path, sizeof(path), "%s/%s/%s", base, de->d_name, id) < 0)
			continue;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (found++ == 0 && fmt_buf(out, size, "%s", de->d_name) < 0)
				found = 2;
		}
	}
	closedir(d);
	if (found == 0)
		return jail_fail(err, JAIL_EXIT_NO_JAIL, "no jail with id %s under %s", id, base);
	if (found > 1)
		return jail_fail(err, JAIL_EXIT_USAGE,
				 "several jails are called %s under %s: name one with --exec-file",
				 id, base);
	return 0;
}

/* A "cgroup DIR" line is trusted only if DIR is a jail cgroup: .../ID on a cgroup fs. */
static bool plausible_cgroup(const char *dir, const char *id)
{
	const char *slash = strrchr(dir, '/');
	char parent[PATH_MAX];
	struct statfs sfs;

	if (dir[0] != '/' || strstr(dir, "/../") || strstr(dir, "/./") || !slash ||
	    strcmp(slash + 1, id) != 0)
		return false;
	if (fmt_buf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir) < 0 ||
	    statfs(parent, &sfs) < 0)
		return false;
	return sfs.f_type == CGROUP_SUPER_MAGIC || sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Is the pid in the pid file alive with the jail as its root? */
static bool vmm_running(const struct jail_paths *p, const char *exec_name)
{
	char path[PATH_MAX], buf[32], proot[64];
	struct stat jail_root, its_root;

	if (fmt_buf(path, sizeof(path), "%s/%s.pid", p->root, exec_name) < 0 ||
	    read_small_file(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
		return false;
	long pid = strtol(buf, NULL, 10);
	if (pid <= 0 || kill((pid_t)pid, 0) < 0)
		return false;
	snprintf(proot, sizeof(proot), "/proc/%ld/root/", pid);
	return stat(p->root, &jail_root) == 0 && stat(proot, &its_root) == 0 &&
	       jail_root.st_dev == its_root.st_dev && jail_root.st_ino == its_root.st_ino;
}

static bool cgroup_has_tasks(const char *dir)
{
	char path[PATH_MAX + 16], buf[64];

	if (fmt_buf(path, sizeof(path), "%s/cgroup.procs", dir) < 0)
		return false;
	return read_small_file(AT_FDCWD, path, buf, sizeof(buf)) > 0;
}

int jail_cleanup_by_id(const struct jail_config *cfg, const char *canonical_base,
		       struct jail_err *err)
{
	static char cgroups[CG_MAX_TARGETS][PATH_MAX];
	char exec_name[NAME_MAX + 1], path[PATH_MAX], text[CG_MAX_TARGETS * (PATH_MAX + 8) + 64];
	struct jail_paths p;
	struct stat st;
	size_t n = 0;

	if (cfg->exec_name[0])
		snprintf(exec_name, sizeof(exec_name), "%s", cfg->exec_name);
	else if (find_exec_name(canonical_base, cfg->id, exec_name, sizeof(exec_name), err) < 0)
		return -1;
	if (jail_paths_build(canonical_base, exec_name, cfg->id, &p, err) < 0)
		return -1;
	if (lstat(p.jail_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return jail_fail(err, JAIL_EXIT_NO_JAIL, "no jail at %s", p.jail_dir);

	if (fmt_buf(path, sizeof(path), "%s/%s", p.jail_dir, JAIL_STATE_FILE) < 0)
		return jail_fail(err, JAIL_EXIT_CLEANUP, "path too long");
	ssize_t len = read_small_file(AT_FDCWD, path, text, sizeof(text));
	if (len >= 0) {
		char *save = NULL;
		for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "cgroup ", 7) != 0)
				continue;
			if (!plausible_cgroup(line + 7, cfg->id) && lstat(line + 7, &st) == 0)
				return jail_fail(err, JAIL_EXIT_CLEANUP,
						 "%s names %s, which is not a cgroup of this jail",
						 path, line + 7);
			if (n < CG_MAX_TARGETS && fmt_buf(cgroups[n], PATH_MAX, "%s", line + 7) == 0)
				n++;
		}
	} else if (len != -ENOENT) {
		return jail_fail_errno(err, JAIL_EXIT_CLEANUP, (int)len, "cannot read %s", path);
	}

	if (vmm_running(&p, exec_name))
		return jail_fail(err, JAIL_EXIT_BUSY, "the VMM of jail %s is still running; stop it "
				 "first", cfg->id);
	for (size_t i = 0; i < n; i++)
		if (cgroup_has_tasks(cgroups[i]))
			return jail_fail(err, JAIL_EXIT_BUSY, "cgroup %s still has processes",
					 cgroups[i]);
	return jail_teardown(&p, cgroups, n, err);
}
