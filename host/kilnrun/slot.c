/* Run slots: N.lock held with flock, N.state saying what the run made. */
#include "host/kilnrun/slot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"

int slot_try_lock(const char *state_dir, unsigned index, struct run_slot *s, struct error *err)
{
	s->index = index;
	s->lock_fd = -1;
	if (snprintf(s->dir, sizeof(s->dir), "%s", state_dir) >= (int)sizeof(s->dir))
		return error_set(err, -ENAMETOOLONG, "%s: too long", state_dir);
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return error_set(err, -errno, "%s: %s", state_dir, strerror(errno));
	/* Its files name what root removes and runs: nobody else may write there. */
	struct stat st;
	if (lstat(state_dir, &st) < 0)
		return error_set(err, -errno, "%s: %s", state_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return error_set(err, -EPERM, "%s: not a directory of kiln-run's own (it must be "
				 "a directory, not a symlink, owned by uid %u and writable by no one "
				 "else)", state_dir, (unsigned)geteuid());
	char path[PATH_MAX];
	if (slot_path(s, "lock", path, sizeof(path)) < 0)
		return error_set(err, -ENAMETOOLONG, "%s: too long", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_set(err, -errno, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return 0;
		return error_set(err, -e, "%s: flock: %s", path, strerror(e));
	}
	s->lock_fd = fd;
	return 1;
}

void slot_unlock(struct run_slot *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}

int slot_path(const struct run_slot *s, const char *what, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%u.%s", s->dir, s->index, what);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int slot_state_write(const struct run_slot *s, const struct run_state *st, struct error *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], text[4 * PATH_MAX + 512];
	if (slot_path(s, "state", path, sizeof(path)) < 0)
		return error_set(err, -ENAMETOOLONG, "%s: too long", s->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int n = snprintf(text, sizeof(text),
			 "id=%s\nchroot_base=%s\njailer=%s\ncgroup=%s\nnetns=%s\ntap_host=%s\n"
			 "kept=%d\nowner=%d\n", st->id, st->chroot_base, st->jailer, st->cgroup,
			 st->netns, st->tap_host, st->kept ? 1 : 0, (int)st->owner);
	if (n < 0 || (size_t)n >= sizeof(text))
		return error_set(err, -ENAMETOOLONG, "%s: the state does not fit", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_set(err, -errno, "%s: %s", tmp, strerror(errno));
	int rc = write_all(fd, text, (size_t)n);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return error_set(err, rc, "%s: %s", path, strerror(-rc));
	}
	return 0;
}

/* Copies a value into a fixed field; false when it does not fit. */
static bool field(char *dst, size_t size, const char *v)
{
	size_t n = strlen(v);
	if (n >= size)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

int slot_state_read(const struct run_slot *s, struct run_state *st, struct error *err)
{
	char path[PATH_MAX], text[4 * PATH_MAX + 512];
	if (slot_path(s, "state", path, sizeof(path)) < 0)
		return error_set(err, -ENAMETOOLONG, "%s: too long", s->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, -errno, "%s: %s", path, strerror(errno));
	}
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return error_set(err, -errno, "%s: %s", path, strerror(errno));
	text[n] = '\0';
	*st = (struct run_state){ .owner = 0 };
	bool ok = true;
	unsigned seen = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && ok;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq) {
			ok = false;
			break;
		}
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (strcmp(k, "id") == 0)
			ok = field(st->id, sizeof(st->id), v), seen |= 1;
		else if (strcmp(k, "chroot_base") == 0)
			ok = field(st->chroot_base, sizeof(st->chroot_base), v), seen |= 2;
		else if (strcmp(k, "jailer") == 0)
			ok = field(st->jailer, sizeof(st->jailer), v), seen |= 4;
		else if (strcmp(k, "cgroup") == 0)
			ok = field(st->cgroup, sizeof(st->cgroup), v), seen |= 8;
		else if (strcmp(k, "netns") == 0)
			ok = field(st->netns, sizeof(st->netns), v);
		else if (strcmp(k, "tap_host") == 0)
			ok = field(st->tap_host, sizeof(st->tap_host), v);
		else if (strcmp(k, "kept") == 0)
			st->kept = strcmp(v, "1") == 0;
		else if (strcmp(k, "owner") == 0)
			st->owner = (pid_t)atoi(v);
	}
	if (!ok || seen != 15 || st->id[0] == '\0' || st->chroot_base[0] != '/' ||
	    st->jailer[0] != '/' || st->cgroup[0] != '/')
		return error_set(err, -EBADMSG, "%s: not a run's state (id, chroot_base, jailer "
				 "and cgroup are required)", path);
	return 1;
}

void slot_state_remove(const struct run_slot *s)
{
	static const char *const files[] = { "console", "log", "state" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (slot_path(s, files[i], path, sizeof(path)) == 0)
			unlink(path);
}
