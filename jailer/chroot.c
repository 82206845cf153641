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

int jail_make_dirs(const struct jail_paths *p, uid_t uid, gid_t gid, struct jail_err *err)
{
	const char *exec_name = strrchr(p->exec_dir, '/') + 1;
	const char *id = strrchr(p->jail_dir, '/') + 1;
	int base = -1, ed = -1, jd = -1, rd = -1;

	base = open(p->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base < 0)
		return jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot open %s", p->base);
	if (mkdirat(base, exec_name, 0755) < 0 && errno != EEXIST) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot create %s", p->exec_dir);
		goto out;
	}
	/* O_NOFOLLOW|O_DIRECTORY: a symlink planted as exec_dir is refused. */
	ed = openat(base, exec_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ed < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot open %s", p->exec_dir);
		goto out;
	}
	/* A fresh directory per jail: never reuse what someone else may have prepared. */
	if (mkdirat(ed, id, 0755) < 0) {
		if (errno == EEXIST)
			jail_fail(err, JAIL_EXIT_JAIL_EXISTS,
				  "jail %s already exists (running, or left behind: "
				  "use jailer --cleanup)", p->jail_dir);
		else
			jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot create %s",
					p->jail_dir);
		goto out;
	}
	jd = openat(ed, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (jd < 0 || fchmod(jd, 0755) < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot open %s", p->jail_dir);
		goto out;
	}
	if (mkdirat(jd, "root", 0700) < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot create %s", p->root);
		goto out;
	}
	rd = openat(jd, "root", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rd < 0 || fchown(rd, uid, gid) < 0 || fchmod(rd, 0700) < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot set up %s", p->root);
		close_quietly(rd);
		rd = -1;
	}
out:
	close_quietly(jd);
	close_quietly(ed);
	close_quietly(base);
	return rd;
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
	if (fchmod(fd, before.st_mode & 0777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0 ||
	    fsync(fd) < 0) {
		jail_fail_errno(err, JAIL_EXIT_JAIL_DIR, errno, "cannot finish %s", name);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int jail_pivot(const char *root, int extra_ns, struct jail_err *err)
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
