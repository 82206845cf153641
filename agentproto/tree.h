/* File trees as the agent protocol carries them: read one as ENTRY/DATA, write one from them. */
#ifndef KILN_AGENTPROTO_TREE_H
#define KILN_AGENTPROTO_TREE_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentproto/msg.h"

/* Directories nest at most this deep in a tree that is sent or received. */
#define AP_TREE_MAX_DEPTH 64

/*
 * Reads the tree at a path one entry at a time, in memory bounded by its depth: the root
 * (path ""), then, for a directory, every member, parents before children. Regular files,
 * directories and symlinks are sent; other kinds (devices, FIFOs, sockets) are skipped.
 * Symlinks below the root are never followed.
 */
struct ap_tree_reader {
	DIR *dirs[AP_TREE_MAX_DEPTH];
	size_t plen[AP_TREE_MAX_DEPTH];	/* length of rel when each directory was entered */
	int depth;
	char rel[AP_MAX_PATH + 1];
	bool root_pending;
	struct ap_entry root;
	int file_fd;			/* the file whose DATA comes next, or -1 */
	uint64_t file_left;
};

/* Opens the tree at `path` (the root's own symlink is followed). Returns 0 or -errno. */
int ap_tree_reader_open(struct ap_tree_reader *r, const char *path);
/*
 * The next entry: 1 and *e filled, 0 at the end of the tree, or -errno (-ENAMETOOLONG,
 * -ELOOP when nested deeper than AP_TREE_MAX_DEPTH). After a file entry, its e->size
 * bytes come from ap_tree_reader_data before the next entry is asked for.
 */
int ap_tree_reader_next(struct ap_tree_reader *r, struct ap_entry *e);
/*
 * Up to max bytes of the current file: their count, 0 when the file's declared size has
 * been read, or -errno (-EIO when the file shrank while it was read).
 */
long ap_tree_reader_data(struct ap_tree_reader *r, void *buf, size_t max);
void ap_tree_reader_close(struct ap_tree_reader *r);

/*
 * Writes a tree received as entries at `dest`: the root entry becomes dest itself (a file,
 * or a directory, created if missing), every other entry a member below it. Each member's
 * parent must have come first; every path is resolved one component at a time without
 * following a symlink, so that no entry can write outside the tree. Permission bits are
 * applied exactly (umask does not apply).
 */
struct ap_tree_writer {
	char dest[AP_MAX_PATH + 1];
	bool got_root;
	int root_fd;			/* the root directory, or -1 */
	int file_fd;			/* the file being written, or -1 */
	uint64_t file_left;
	uint32_t file_mode;
	uint64_t bytes;			/* file bytes written so far */
	uint32_t mode_mask;		/* applied to every entry's mode (07777) */
	bool keep_dir_modes;		/* a directory that already exists keeps its mode */
};

void ap_tree_writer_init(struct ap_tree_writer *w);
/* dest must be absolute for the agent; the host's client may give a relative one. */
int ap_tree_writer_open(struct ap_tree_writer *w, const char *dest);
/*
 * For a tree from a peer not trusted with the writer's privileges (the host's client,
 * perhaps root, writing what a guest sent): no set-user-ID, set-group-ID or sticky bit on
 * anything written, and directories that already exist (the destination among them) keep
 * their modes.
 */
void ap_tree_writer_untrusted(struct ap_tree_writer *w);
/*
 * One entry. Returns 0, -EBADMSG for an entry that breaks the protocol (*why says how:
 * a second root, a member of a file, a member before its parent, a new entry before the
 * last file's data was complete), or -errno from the file system.
 */
int ap_tree_writer_entry(struct ap_tree_writer *w, const struct ap_entry *e, const char **why);
/* Data for the current file: -EBADMSG when there is no file or n is more than is left. */
int ap_tree_writer_data(struct ap_tree_writer *w, const void *p, size_t n, const char **why);
/* The end: -EBADMSG when no root came or the last file is incomplete. */
int ap_tree_writer_end(struct ap_tree_writer *w, const char **why);
void ap_tree_writer_close(struct ap_tree_writer *w);

#endif
