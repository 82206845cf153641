/* File trees as the agent protocol carries them: read one as ENTRY/DATA, write one from them. */
#include "agentproto/tree.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

static int fill_entry(struct ap_entry *e, const struct stat *st, int dirfd, const char *name)
{
	e->mode = st->st_mode & 07777;
	e->size = 0;
	e->target[0] = '\0';
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		e->kind = AP_ENTRY_FILE;
		e->size = (uint64_t)st->st_size;
		return 1;
	case S_IFDIR:
		e->kind = AP_ENTRY_DIR;
		return 1;
	case S_IFLNK: {
		ssize_t n = readlinkat(dirfd, name, e->target, AP_MAX_PATH);
		if (n < 0)
			return -errno;
		if (n == 0 || n >= AP_MAX_PATH)
			return -ENAMETOOLONG;
		e->target[n] = '\0';
		e->kind = AP_ENTRY_SYMLINK;
		e->mode = 0777;
		return 1;
	}
	default:
		return 0;	/* devices, FIFOs, sockets: not part of a transfer */
	}
}

int ap_tree_reader_open(struct ap_tree_reader *r, const char *path)
{
	struct stat st;
	int fd;

	r->depth = 0;
	r->rel[0] = '\0';
	r->file_fd = -1;
	r->file_left = 0;
	r->root_pending = true;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, 0) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	int k = fill_entry(&r->root, &st, -1, NULL);
	if (k <= 0) {
		close(fd);
		return k < 0 ? k : -EINVAL;
	}
	r->root.path[0] = '\0';
	if (r->root.kind == AP_ENTRY_DIR) {
		DIR *d = fdopendir(fd);
		if (!d) {
			int e = -errno;
			close(fd);
			return e;
		}
		r->dirs[0] = d;
		r->plen[0] = 0;
		r->depth = 1;
	} else {
		r->file_fd = fd;
	}
	return 0;
}

/* Enters the directory `name` of the current one; rel already names it. */
static int push_dir(struct ap_tree_reader *r, const char *name)
{
	if (r->depth == AP_TREE_MAX_DEPTH)
		return -ELOOP;
	int fd = openat(dirfd(r->dirs[r->depth - 1]), name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = -errno;
		close(fd);
		return e;
	}
	r->dirs[r->depth] = d;
	r->plen[r->depth] = strlen(r->rel);
	r->depth++;
	return 0;
}

int ap_tree_reader_next(struct ap_tree_reader *r, struct ap_entry *e)
{
	if (r->file_left)
		return -EBUSY;
	if (r->root_pending) {
		r->root_pending = false;
		*e = r->root;
		r->file_left = e->kind == AP_ENTRY_FILE ? e->size : 0;
		if (e->kind != AP_ENTRY_FILE)
			close_fd(&r->file_fd);
		return 1;
	}
	close_fd(&r->file_fd);
	while (r->depth > 0) {
		DIR *d = r->dirs[r->depth - 1];
		size_t base = r->plen[r->depth - 1];
		struct dirent *de;
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				return -errno;
			closedir(d);
			r->depth--;
			continue;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;	/* removed since readdir */
			return -errno;
		}
		int k = fill_entry(e, &st, dirfd(d), de->d_name);
		if (k < 0)
			return k;
		if (k == 0)
			continue;
		size_t nlen = strlen(de->d_name);
		if (base + (base ? 1 : 0) + nlen > AP_MAX_PATH)
			return -ENAMETOOLONG;
		r->rel[base] = '\0';
		if (base)
			strcat(r->rel, "/");
		strcat(r->rel, de->d_name);
		memcpy(e->path, r->rel, strlen(r->rel) + 1);
		if (e->kind == AP_ENTRY_DIR) {
			int rc = push_dir(r, de->d_name);
			if (rc < 0)
				return rc;
		} else if (e->kind == AP_ENTRY_FILE) {
			r->file_fd = openat(dirfd(d), de->d_name,
					    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
			if (r->file_fd < 0)
				return -errno;
			r->file_left = e->size;
		}
		return 1;
	}
	return 0;
}

long ap_tree_reader_data(struct ap_tree_reader *r, void *buf, size_t max)
{
	if (r->file_left == 0 || r->file_fd < 0)
		return 0;
	if (max > r->file_left)
		max = (size_t)r->file_left;
	for (;;) {
		ssize_t n = read(r->file_fd, buf, max);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* shorter than its size said */
		r->file_left -= (uint64_t)n;
		if (r->file_left == 0)
			close_fd(&r->file_fd);
		return n;
	}
}

void ap_tree_reader_close(struct ap_tree_reader *r)
{
	while (r->depth > 0)
		closedir(r->dirs[--r->depth]);
	close_fd(&r->file_fd);
	r->file_left = 0;
}

void ap_tree_writer_init(struct ap_tree_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->root_fd = -1;
	w->file_fd = -1;
}

int ap_tree_writer_open(struct ap_tree_writer *w, const char *dest)
{
	ap_tree_writer_init(w);
	size_t n = strlen(dest);
	if (n == 0 || n > AP_MAX_PATH)
		return -ENAMETOOLONG;
	memcpy(w->dest, dest, n + 1);
	w->mode_mask = 07777;
	return 0;
}

void ap_tree_writer_untrusted(struct ap_tree_writer *w)
{
	w->mode_mask = 0777;
	w->keep_dir_modes = true;
}

static int bad(const char **why, const char *text)
{
	if (why)
		*why = text;
	return -EBADMSG;
}

/* Finishes the current file: its mode, exactly. */
static int finish_file(struct ap_tree_writer *w)
{
	int rc = 0;
	if (fchmod(w->file_fd, w->file_mode) < 0)
		rc = -errno;
	if (close(w->file_fd) < 0 && rc == 0)
		rc = -errno;
	w->file_fd = -1;
	return rc;
}

/*
 * Opens the parent directory of rel (below the root) one component at a time, never
 * following a symlink; *name points at rel's last component.
 */
static int open_parent(struct ap_tree_writer *w, const char *rel, const char **name)
{
	int fd = dup(w->root_fd);
	const char *s = rel;
	if (fd < 0)
		return -errno;
	for (;;) {
		const char *slash = strchr(s, '/');
		if (!slash) {
			*name = s;
			return fd;
		}
		char comp[NAME_MAX + 1];
		size_t len = (size_t)(slash - s);
		if (len > NAME_MAX) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, s, len);
		comp[len] = '\0';
		int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = -errno;
		close(fd);
		if (next < 0)
			return e == -ENOTDIR || e == -ELOOP ? -ENOTDIR : e;
		fd = next;
		s = slash + 1;
	}
}

/*
 * mkdir, accepting an existing directory (not a symlink to one), whose mode is set too
 * unless keep_existing; returns its fd.
 */
static int make_dir(int at, const char *name, uint32_t mode, bool keep_existing)
{
	bool made = mkdirat(at, name, 0700) == 0;
	if (!made && errno != EEXIST)
		return -errno;
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	if ((made || !keep_existing) && fchmod(fd, mode) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int make_entry(struct ap_tree_writer *w, int at, const char *name, const struct ap_entry *e)
{
	int fd;
	switch (e->kind) {
	case AP_ENTRY_DIR:
		fd = make_dir(at, name, e->mode & w->mode_mask, w->keep_dir_modes);
		if (fd < 0)
			return fd;
		if (w->root_fd < 0)
			w->root_fd = fd;
		else
			close(fd);
		return 0;
	case AP_ENTRY_SYMLINK:
		return symlinkat(e->target, at, name) < 0 ? -errno : 0;
	default:
		fd = openat(at, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
			    O_NOCTTY, 0600);
		if (fd < 0)
			return errno == ELOOP ? -EEXIST : -errno;
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return -EEXIST;
		}
		w->file_fd = fd;
		w->file_left = e->size;
		w->file_mode = e->mode & w->mode_mask;
		return e->size == 0 ? finish_file(w) : 0;
	}
}

int ap_tree_writer_entry(struct ap_tree_writer *w, const struct ap_entry *e, const char **why)
{
	if (w->file_fd >= 0)
		return bad(why, "a new ENTRY before the last file's DATA was complete");
	if (!ap_relpath_ok(e->path))
		return bad(why, "ENTRY path is not a clean relative path");
	if (!w->got_root) {
		if (e->path[0] != '\0')
			return bad(why, "the first ENTRY is not the tree's root");
		w->got_root = true;
		return make_entry(w, AT_FDCWD, w->dest, e);
	}
	if (e->path[0] == '\0')
		return bad(why, "a second root ENTRY");
	if (w->root_fd < 0)
		return bad(why, "an ENTRY below a root that is not a directory");
	const char *name;
	int parent = open_parent(w, e->path, &name);
	if (parent < 0)
		return parent == -ENOENT || parent == -ENOTDIR ?
			bad(why, "an ENTRY whose parent directory did not come before it") : parent;
	int rc = make_entry(w, parent, name, e);
	close(parent);
	return rc;
}

int ap_tree_writer_data(struct ap_tree_writer *w, const void *p, size_t n, const char **why)
{
	const char *c = p;
	if (w->file_fd < 0 || n > w->file_left)
		return bad(why, "DATA beyond the size of the file entry");
	w->file_left -= n;
	w->bytes += n;
	while (n > 0) {
		ssize_t k = write(w->file_fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		c += k;
		n -= (size_t)k;
	}
	return w->file_left == 0 ? finish_file(w) : 0;
}

int ap_tree_writer_end(struct ap_tree_writer *w, const char **why)
{
	if (!w->got_root)
		return bad(why, "END before any ENTRY");
	if (w->file_fd >= 0)
		return bad(why, "END before the last file's DATA was complete");
	return 0;
}

void ap_tree_writer_close(struct ap_tree_writer *w)
{
	close_fd(&w->file_fd);
	close_fd(&w->root_fd);
}
