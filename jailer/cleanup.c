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

int jail_state_write(const struct jail_paths *p, const struct jail_layout *lay,
		     const struct cg_plan *plan, struct jail_err *err)
{
	static char text[CG_MAX_TARGETS * (PATH_MAX + 8) + JAIL_MAX_ENTRIES * (JAIL_BIND_TARGET_MAX + 8) + 128];
	char path[PATH_MAX];
	size_t o = 0;
	int fd, r;

	if (fmt_buf(path, sizeof(path), "%s/%s", p->jail_dir, JAIL_STATE_FILE) < 0)
		return jail_fail(err, JAIL_EXIT_JAIL_DIR, "state file path is too long");
	o += (size_t)snprintf(text, sizeof(text), "kiln-jail 2\n");
	if (lay->made_exec_dir)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "made exec_dir\n");
	if (lay->made_jail_dir)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "made jail_dir\n");
	if (lay->made_root)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "made root\n");
	for (size_t i = 0; i < lay->n_entries; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "entry %s\n", lay->entries[i]);
	for (size_t i = 0; i < plan->n; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "cgroup %s\n", plan->t[i].dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return jail_fail(err, JAIL_EXIT_JAIL_EXISTS,
					 "jail %s already exists (running, or left behind: use "
					 "jailer --cleanup)", p->jail_dir);
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot create %s", path);
	}
	r = write_all(fd, text, o);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, r, "cannot write %s", path);
	return 0;
}

int jail_state_parse(char *text, struct jail_layout *lay, char (*cgroups)[PATH_MAX],
		     size_t *n_cgroups)
{
	char *save = NULL;
	int version = 0;

	memset(lay, 0, sizeof(*lay));
	*n_cgroups = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "kiln-jail 1") == 0 || strcmp(line, "kiln-jail 2") == 0) {
			version = line[10] - '0';
		} else if (strcmp(line, "made exec_dir") == 0) {
			lay->made_exec_dir = true;
		} else if (strcmp(line, "made jail_dir") == 0) {
			lay->made_jail_dir = true;
		} else if (strcmp(line, "made root") == 0) {
			lay->made_root = true;
		} else if (strncmp(line, "entry ", 6) == 0) {
			if (jail_check_relpath(line + 6) < 0 || strlen(line + 6) >= JAIL_BIND_TARGET_MAX ||
			    lay->n_entries == JAIL_MAX_ENTRIES)
				return -EINVAL;
			strcpy(lay->entries[lay->n_entries++], line + 6);
		} else if (strncmp(line, "cgroup ", 7) == 0) {
			if (*n_cgroups < CG_MAX_TARGETS &&
			    fmt_buf(cgroups[*n_cgroups], PATH_MAX, "%s", line + 7) == 0)
				(*n_cgroups)++;
		} else {
			return -EINVAL;
		}
	}
	if (version == 0)
		return -EINVAL;
	if (version == 1)	/* before prepared roots: the jailer made everything */
		lay->made_exec_dir = lay->made_jail_dir = lay->made_root = true;
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

/* Remove root_fd/rel (a tree), walking to it without following symlinks. -errno. */
static int remove_entry(int root_fd, dev_t dev, const char *rel)
{
	int dir = dup(root_fd), r;

	if (dir < 0)
		return -errno;
	for (const char *p = rel;;) {
		size_t n = strcspn(p, "/");
		char name[NAME_MAX + 1];
		if (n > NAME_MAX) {
			close(dir);
			return -ENAMETOOLONG;
		}
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		if (p[n] == '\0') {
			r = remove_at(dir, name, dev, 0);
			close(dir);
			return r;
		}
		int next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = -errno;
		close(dir);
		if (next < 0)
			return r == -ENOENT ? 0 : r;
		dir = next;
		p += n + 1;
	}
}

int jail_teardown(const struct jail_paths *p, const struct jail_layout *lay,
		  char (*cgroups)[PATH_MAX], size_t n_cgroups, struct jail_err *err)
{
	char state[PATH_MAX];
	int failed = 0, r;

	for (size_t i = 0; i < n_cgroups; i++) {
		r = cg_remove_dir(cgroups[i]);
		if (r < 0 && !failed++)
			jail_fail_errno(err, JAIL_EXIT_CLEANUP, r, "cannot remove cgroup %s", cgroups[i]);
	}
	if (lay->made_root) {
		r = jail_remove_tree(p->root);
		if (r < 0 && !failed++)
			jail_fail_errno(err, JAIL_EXIT_CLEANUP, r, "cannot remove %s", p->root);
	} else {
		/* The operator's root: only what the jailer put there. */
		int rd = open(p->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (rd < 0 && errno != ENOENT && !failed++)
			jail_fail_errno(err, JAIL_EXIT_CLEANUP, errno, "cannot open %s", p->root);
		if (rd >= 0 && fstat(rd, &st) == 0) {
			for (size_t i = 0; i < lay->n_entries; i++) {
				r = remove_entry(rd, st.st_dev, lay->entries[i]);
				if (r < 0 && !failed++)
					jail_fail_errno(err, JAIL_EXIT_CLEANUP, r, "cannot remove %s/%s",
							p->root, lay->entries[i]);
			}
		}
		close_quietly(rd);
	}
	if (failed)
		return -1;	/* keep the state file: --cleanup can try again */
	if (fmt_buf(state, sizeof(state), "%s/%s", p->jail_dir, JAIL_STATE_FILE) == 0 &&
	    unlink(state) < 0 && errno != ENOENT)
		return jail_fail_errno(err, JAIL_EXIT_CLEANUP, errno, "cannot remove %s", state);
	if (lay->made_jail_dir && rmdir(p->jail_dir) < 0 && errno != ENOENT)
		return jail_fail_errno(err, JAIL_EXIT_CLEANUP, errno, "cannot remove %s", p->jail_dir);
	/* Shared by every jail of this exec file: only goes when it is empty. */
	if (lay->made_exec_dir && rmdir(p->exec_dir) < 0 && errno != ENOTEMPTY &&
	    errno != EEXIST && errno != ENOENT)
		return jail_fail_errno(err, JAIL_EXIT_CLEANUP, errno, "cannot remove %s", p->exec_dir);
	return 0;
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
	static char text[CG_MAX_TARGETS * (PATH_MAX + 8) + JAIL_MAX_ENTRIES * (JAIL_BIND_TARGET_MAX + 8) + 128];
	static struct jail_layout lay;
	char exec_name[NAME_MAX + 1], path[PATH_MAX];
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
	/* No state file: a directory the operator prepared (or a jail that never got as
	 * far as its state file, which holds nothing of the jailer's): left alone. */
	if (len == -ENOENT)
		return jail_fail(err, JAIL_EXIT_NO_JAIL, "no jail at %s: it has no %s (a directory "
				 "prepared for a jail is left alone)", p.jail_dir, JAIL_STATE_FILE);
	if (len < 0)
		return jail_fail_errno(err, JAIL_EXIT_CLEANUP, (int)len, "cannot read %s", path);
	if (jail_state_parse(text, &lay, cgroups, &n) < 0)
		return jail_fail(err, JAIL_EXIT_CLEANUP, "%s is not a jail state file", path);
	for (size_t i = 0; i < n; i++)
		if (!plausible_cgroup(cgroups[i], cfg->id) && lstat(cgroups[i], &st) == 0)
			return jail_fail(err, JAIL_EXIT_CLEANUP,
					 "%s names %s, which is not a cgroup of this jail", path,
					 cgroups[i]);

	if (vmm_running(&p, exec_name))
		return jail_fail(err, JAIL_EXIT_BUSY, "the VMM of jail %s is still running; stop it "
				 "first", cfg->id);
	for (size_t i = 0; i < n; i++)
		if (cgroup_has_tasks(cgroups[i]))
			return jail_fail(err, JAIL_EXIT_BUSY, "cgroup %s still has processes",
					 cgroups[i]);
	return jail_teardown(&p, &lay, cgroups, n, err);
}
