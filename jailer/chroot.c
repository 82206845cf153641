/* The jail directory: creating it, copying the VMM in, and pivot_root'ing into it. */
#include "chroot.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fmt.h"
#include "io.h"

int jail_paths_build(const char *canonical_base, const char *exec_name, const char *id,
		     struct jail_paths *p, struct jail_err *err)
{
	if (fmt_buf(p->base, sizeof(p->base), "%s", canonical_base) < 0 ||
	    fmt_buf(p->exec_dir, sizeof(p->exec_dir), "%s/%s",
		    strcmp(canonical_base, "/") ? canonical_base : "", exec_name) < 0 ||
	    fmt_buf(p->jail_dir, sizeof(p->jail_dir), "%s/%s", p->exec_dir, id) < 0 ||
	    fmt_buf(p->root, sizeof(p->root), "%s/root", p->jail_dir) < 0)
		return jail_fail(err, JAIL_EXIT_BAD_CHROOT_BASE,
				 "invalid --chroot-base-dir: the jail path would be too long");
	return 0;
}

int jail_check_relpath(const char *path)
{
	if (*path == '\0' || *path == '/')
		return -EINVAL;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		p += n;
		if (*p == '/' && *++p == '\0')
			return -EINVAL;
	}
	return 0;
}

/* A directory someone else prepared, that only root may change. */
static int check_safe_dir(int fd, const char *path, struct jail_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return jail_fail_errno(err, JAIL_EXIT_UNSAFE_JAIL_DIR, errno, "cannot stat %s", path);
	if (st.st_uid != 0)
		return jail_fail(err, JAIL_EXIT_UNSAFE_JAIL_DIR,
				 "refusing the pre-existing %s: it is owned by uid %u, not root", path,
				 (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return jail_fail(err, JAIL_EXIT_UNSAFE_JAIL_DIR,
				 "refusing the pre-existing %s: mode %04o is writable by group or "
				 "others", path, (unsigned)(st.st_mode & 07777));
	return 0;
}

/*
 * Open the directory name below at: O_NOFOLLOW|O_DIRECTORY. Returns the fd, -ENOENT
 * when it does not exist, or -1 with err (a symlink or not a directory).
 */
static int open_dir_at(int at, const char *name, const char *path, struct jail_err *err)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return -ENOENT;
	if (errno == ELOOP || errno == ENOTDIR) {
		struct stat st;
		bool link = fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
		/* Planted links keep their historical code (190); ownership and mode are 185. */
		jail_fail(err, JAIL_EXIT_JAIL_DIR, "refusing the pre-existing %s: %s", path,
			  link ? "it is a symlink" : "it is not a directory");
		return -1;
	}
	jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot open %s", path);
	return -1;
}

/* Create name below at (0755, root) and open it; EEXIST means another jailer raced us. */
static int make_dir_at(int at, const char *name, const char *path, struct jail_err *err)
{
	if (mkdirat(at, name, 0755) < 0) {
		if (errno == EEXIST)
			return jail_fail(err, JAIL_EXIT_JAIL_EXISTS,
					 "%s appeared while the jail was being made", path);
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot create %s", path);
	}
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0755) < 0) {	/* the umask is 077 */
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot set up %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void add_entry(struct jail_layout *lay, const char *rel, size_t len)
{
	for (size_t i = 0; i < lay->n_entries; i++)
		if (strlen(lay->entries[i]) == len && strncmp(lay->entries[i], rel, len) == 0)
			return;
	if (lay->n_entries < JAIL_MAX_ENTRIES && len < JAIL_BIND_TARGET_MAX) {
		memcpy(lay->entries[lay->n_entries], rel, len);
		lay->entries[lay->n_entries++][len] = '\0';
	}
}

/*
 * A --bind target in an existing root: existing parents must be safe directories, the
 * target must not exist. Records the first component the jailer will create.
 */
static int check_bind_target(int rd, const char *root, const char *target,
			     struct jail_layout *lay, struct jail_err *err)
{
	const char *rel = target + 1;
	int dir = dup(rd);
	char path[PATH_MAX + JAIL_BIND_TARGET_MAX];

	if (dir < 0)
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "dup");
	for (const char *p = rel;;) {
		size_t n = strcspn(p, "/");
		char name[NAME_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		snprintf(path, sizeof(path), "%s/%.*s", root, (int)(p + n - rel), rel);
		if (p[n] == '\0') {
			struct stat st;
			int r = fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW);
			close(dir);
			if (r == 0)
				return jail_fail(err, JAIL_EXIT_JAIL_EXISTS,
						 "refusing --bind target %s: %s already exists (the "
						 "jailer creates it)", target, path);
			if (errno != ENOENT)
				return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot stat %s",
						       path);
			add_entry(lay, rel, strlen(rel));
			return 0;
		}
		int next = open_dir_at(dir, name, path, err);
		close(dir);
		if (next == -ENOENT) {
			add_entry(lay, rel, (size_t)(p + n - rel));
			return 0;
		}
		if (next < 0)
			return -1;
		if (check_safe_dir(next, path, err) < 0) {
			close(next);
			return -1;
		}
		dir = next;
		p += n + 1;
	}
}

int jail_make_dirs(const struct jail_paths *p, const struct jail_config *cfg,
		   struct jail_layout *lay, struct jail_err *err)
{
	const char *exec_name = strrchr(p->exec_dir, '/') + 1;
	const char *id = strrchr(p->jail_dir, '/') + 1;
	char pidfile[NAME_MAX + 8];
	int base = -1, ed = -1, jd = -1, rd = -1, r = -1;
	struct stat st;

	memset(lay, 0, sizeof(*lay));
	snprintf(pidfile, sizeof(pidfile), "%s.pid", cfg->exec_name);
	base = open(p->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base < 0)
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot open %s", p->base);

	/* Each level: checked if it exists; from the first missing one on, all are new. */
	ed = open_dir_at(base, exec_name, p->exec_dir, err);
	if (ed == -1 || (ed >= 0 && check_safe_dir(ed, p->exec_dir, err) < 0))
		goto out;
	if (ed >= 0) {
		jd = open_dir_at(ed, id, p->jail_dir, err);
		if (jd == -1 || (jd >= 0 && check_safe_dir(jd, p->jail_dir, err) < 0))
			goto out;
	}
	if (jd >= 0) {
		/* A state file: a jail (running, or left behind), not a prepared directory. */
		if (fstatat(jd, JAIL_STATE_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			jail_fail(err, JAIL_EXIT_JAIL_EXISTS,
				  "jail %s already exists (running, or left behind: use jailer "
				  "--cleanup)", p->jail_dir);
			goto out;
		}
		rd = open_dir_at(jd, "root", p->root, err);
		if (rd == -1 || (rd >= 0 && check_safe_dir(rd, p->root, err) < 0))
			goto out;
	}
	if (rd >= 0) {
		/* The VMM must reach its files through "/": x for others, or for its group. */
		if (fstat(rd, &st) < 0 ||
		    !((st.st_mode & S_IXOTH) || ((st.st_mode & S_IXGRP) && st.st_gid == cfg->gid) ||
		      cfg->uid == 0)) {
			jail_fail(err, JAIL_EXIT_UNSAFE_JAIL_DIR,
				  "refusing the pre-existing %s: mode %04o does not let uid %u "
				  "gid %u search it", p->root, (unsigned)(st.st_mode & 07777),
				  (unsigned)cfg->uid, (unsigned)cfg->gid);
			goto out;
		}
		const char *own[] = { cfg->exec_name, pidfile, "dev", "run", "old_root" };
		for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
			if (fstatat(rd, own[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
				jail_fail(err, JAIL_EXIT_JAIL_EXISTS,
					  "refusing the jail root %s: %s already exists in it (the "
					  "jailer creates it)", p->root, own[i]);
				goto out;
			}
		}
		for (size_t i = 0; i < cfg->n_binds; i++)
			if (check_bind_target(rd, p->root, cfg->binds[i].target, lay, err) < 0)
				goto out;
	}

	/* Every check passed: create what is missing (the root comes later). */
	lay->made_exec_dir = ed < 0;
	lay->made_jail_dir = jd < 0;
	lay->made_root = rd < 0;
	/* <exec name> is shared by every jail of the binary: one that a jailer starting at the
	 * same moment made is used once checked, as a prepared one is. */
	if (lay->made_exec_dir && mkdirat(base, exec_name, 0755) < 0) {
		lay->made_exec_dir = false;
		if (errno != EEXIST) {
			jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot create %s", p->exec_dir);
			goto out;
		}
	}
	if (ed < 0) {
		int bad;
		ed = open_dir_at(base, exec_name, p->exec_dir, err);
		if (ed == -ENOENT)
			bad = jail_fail(err, JAIL_EXIT_JAIL_DIR, "%s vanished while the jail was "
					"being made", p->exec_dir);
		else if (ed < 0)
			bad = -1;
		else if (lay->made_exec_dir)	/* the umask is 077 */
			bad = fchmod(ed, 0755) < 0 ? jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno,
							     "cannot set up %s", p->exec_dir) : 0;
		else
			bad = check_safe_dir(ed, p->exec_dir, err);
		if (bad < 0) {
			lay->made_jail_dir = false;
			jail_undo_dirs(p, lay);
			lay->made_exec_dir = false;
			goto out;
		}
	}
	if (lay->made_jail_dir && (jd = make_dir_at(ed, id, p->jail_dir, err)) < 0) {
		lay->made_jail_dir = false;
		jail_undo_dirs(p, lay);
		goto out;
	}
	add_entry(lay, cfg->exec_name, strlen(cfg->exec_name));
	add_entry(lay, pidfile, strlen(pidfile));
	add_entry(lay, "dev", 3);
	add_entry(lay, "run", 3);
	if (lay->made_root)
		for (size_t i = 0; i < cfg->n_binds; i++)
			add_entry(lay, cfg->binds[i].target + 1,
				  strcspn(cfg->binds[i].target + 1, "/"));
	r = 0;
out:
	close_quietly(rd);
	close_quietly(jd);
	close_quietly(ed);
	close_quietly(base);
	return r;
}

int jail_make_root(const struct jail_paths *p, uid_t uid, gid_t gid,
		   const struct jail_layout *lay, struct jail_err *err)
{
	if (!lay->made_root)
		return 0;
	int jd = open(p->jail_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (jd < 0)
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot open %s", p->jail_dir);
	if (mkdirat(jd, "root", 0700) < 0) {
		jail_fail_errno(err, errno == EEXIST ? JAIL_EXIT_JAIL_EXISTS : JAIL_EXIT_JAIL_DIR,
				errno, "cannot create %s", p->root);
		close(jd);
		return -1;
	}
	int rd = openat(jd, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(jd);
	if (rd < 0 || fchown(rd, uid, gid) < 0 || fchmod(rd, 0700) < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot set up %s", p->root);
		close_quietly(rd);
		return -1;
	}
	close(rd);
	return 0;
}

void jail_undo_dirs(const struct jail_paths *p, const struct jail_layout *lay)
{
	if (lay->made_jail_dir)
		rmdir(p->jail_dir);
	if (lay->made_exec_dir)
		rmdir(p->exec_dir);
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int jail_copy_exec(int src_fd, int root_fd, const char *name, uid_t uid, gid_t gid,
		   struct jail_err *err)
{
	struct stat before, after, dst;
	char buf[65536];
	off_t copied = 0;
	int fd;

	if (fstat(src_fd, &before) < 0)
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot stat the exec file");
	fd = openat(root_fd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0700);
	if (fd < 0) {
		if (errno == ELOOP)
			return jail_fail(err, JAIL_EXIT_JAIL_DIR,
					 "refusing to copy the exec file: destination %s is a symlink",
					 name);
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot create %s in the jail",
				       name);
	}
	if (fstat(fd, &dst) < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot stat %s", name);
		goto fail;
	}
	if (!S_ISREG(dst.st_mode)) {
		jail_fail(err, JAIL_EXIT_JAIL_DIR,
			  "refusing to copy the exec file: destination %s is not a regular file", name);
		goto fail;
	}
	if (dst.st_nlink > 1) {
		jail_fail(err, JAIL_EXIT_JAIL_DIR,
			  "refusing to copy the exec file: destination %s is a hard link (%lu links)",
			  name, (unsigned long)dst.st_nlink);
		goto fail;
	}
	if (ftruncate(fd, 0) < 0 || fchown(fd, uid, gid) < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot prepare %s", name);
		goto fail;
	}
	/* In the kernel first (no copy through this process; a reflink where the file system
	 * shares extents); through a buffer where it cannot (another file system on an old
	 * kernel, a file system without it). */
	for (;;) {
		loff_t in = copied;
		ssize_t n = copy_file_range(src_fd, &in, fd, NULL, (size_t)1 << 30, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		copied += n;
	}
	for (;;) {
		ssize_t n = pread(src_fd, buf, sizeof(buf), copied);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot read the exec file");
			goto fail;
		}
		if (n == 0)
			break;
		int r = write_all(fd, buf, (size_t)n);
		if (r < 0) {
			jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, r, "cannot write %s", name);
			goto fail;
		}
		copied += n;
	}
	/* The file we validated must be the file we copied, unchanged and whole. */
	if (fstat(src_fd, &after) < 0 || !same_file_state(&before, &after) ||
	    copied != before.st_size) {
		jail_fail(err, JAIL_EXIT_JAIL_DIR, "the exec file changed while it was being copied");
		goto fail;
	}
	/* No fsync: the copy lives as long as the jail, and a host that crashes takes the
	 * jail with it (its teardown removes the copy, whatever is on disk). */
	if (fchmod(fd, before.st_mode & 0777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot finish %s", name);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/* Create the missing parents of target below root_fd; returns the parent's fd. */
static int bind_parent(int root_fd, const char *target, char *last, size_t last_size,
		       struct jail_err *err)
{
	int dir = dup(root_fd);

	if (dir < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "dup");
	for (const char *p = target + 1;;) {
		size_t n = strcspn(p, "/");
		snprintf(last, last_size, "%.*s", (int)n, p);
		if (p[n] == '\0')
			return dir;
		char path[JAIL_BIND_TARGET_MAX];
		snprintf(path, sizeof(path), "%.*s", (int)(p + n - target), target);
		int next = open_dir_at(dir, last, path, err);
		if (next == -ENOENT)
			next = make_dir_at(dir, last, path, err);
		else if (next >= 0 && check_safe_dir(next, path, err) < 0) {
			close(next);
			next = -1;
		}
		close(dir);
		if (next < 0)
			return -1;
		dir = next;
		p += n + 1;
	}
}

int jail_bind_mount(int root_fd, const struct jail_bind *b, int src_fd, struct jail_err *err)
{
	char name[NAME_MAX + 1], src[40], dst[40];
	struct stat st, now;
	int dir, fd;

	/* The fd checked on the host belongs to the host's mount namespace, where this one
	 * may not bind from: open the path again here, and insist it is the same file. */
	int sfd = open(b->source, O_PATH | O_CLOEXEC);
	if (sfd < 0)
		return jail_fail_errno(err, JAIL_EXIT_BIND_SOURCE, errno, "--bind source %s",
				       b->source);
	if (fstat(src_fd, &st) < 0 || fstat(sfd, &now) < 0 || st.st_dev != now.st_dev ||
	    st.st_ino != now.st_ino) {
		close(sfd);
		return jail_fail(err, JAIL_EXIT_BIND_SOURCE,
				 "--bind source %s was replaced while the jail was being built",
				 b->source);
	}
	dir = bind_parent(root_fd, b->target, name, sizeof(name), err);
	if (dir < 0) {
		close(sfd);
		return -1;
	}
	/* The mount point: a new, empty file or directory of the source's kind. */
	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(dir, name, 0700) == 0)
			fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		else
			fd = -1;
	} else {
		fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
			    0600);
	}
	if (fd < 0) {
		jail_fail_errno(err, errno == EEXIST ? JAIL_EXIT_JAIL_EXISTS : JAIL_EXIT_MOUNT, errno,
				"cannot create the --bind target %s", b->target);
		close(dir);
		close(sfd);
		return -1;
	}
	/* Both ends through their fds: what was checked is what gets mounted. */
	snprintf(src, sizeof(src), "/proc/self/fd/%d", sfd);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d", fd);
	int r = mount(src, dst, NULL, MS_BIND, NULL);
	close(fd);
	close(sfd);
	if (r < 0) {
		close(dir);
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "bind-mounting %s on %s",
				       b->source, b->target);
	}
	/* The new mount is on top of the target now: reopen it to reach the mount. */
	fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	close(dir);
	if (fd < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "cannot open %s", b->target);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d", fd);
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC |
			      (b->rw ? 0 : MS_RDONLY);
	r = mount(NULL, dst, NULL, flags, NULL);
	close(fd);
	if (r < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "remounting %s %s,nosuid,nodev,"
				       "noexec", b->target, b->rw ? "rw" : "ro");
	return 0;
}

int jail_pivot(const char *root, int extra_ns, const struct jail_bind *binds,
	       const int *src_fds, size_t n_binds, struct jail_err *err)
{
	if (unshare(CLONE_NEWNS | extra_ns) < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "unshare(mount namespace)");
	/* Slave, recursively: nothing we mount leaks to the host, host mounts still reach
	 * the jail's copies (Firecracker #1089). */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "making / a slave mount");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "bind-mounting %s", root);
	/* The binds go on the root's own mount (opened after it exists), so they move with
	 * it through pivot_root and disappear with the jail's mount namespace. */
	if (n_binds) {
		int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (root_fd < 0)
			return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "open %s", root);
		for (size_t i = 0; i < n_binds; i++) {
			if (jail_bind_mount(root_fd, &binds[i], src_fds[i], err) < 0) {
				close(root_fd);
				return -1;
			}
		}
		close(root_fd);
	}
	if (chdir(root) < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "chdir %s", root);
	if (mkdir("old_root", 0600) < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "mkdir old_root");
	if (syscall(SYS_pivot_root, ".", "old_root") < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "pivot_root into %s", root);
	if (chdir("/") < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "chdir /");
	if (umount2("old_root", MNT_DETACH) < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "detaching the old root");
	if (rmdir("old_root") < 0)
		return jail_fail_errno(err, JAIL_EXIT_MOUNT, errno, "rmdir old_root");
	return 0;
}
