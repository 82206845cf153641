/*
 * Run slots: what keeps runs on one machine apart, and what lets a later kiln-run find and
 * remove what a killed one left.
 *
 * Slot N of a state directory is the file N.lock, locked (flock) for as long as a run
 * owns the slot, and N.state, written once the run starts making things (its jail id,
 * cgroup, namespace) and removed once they are gone. A slot whose lock is free and whose
 * state file exists is a leftover: its owner died before tearing down (or kept it with
 * --keep). Lock and state are held by kiln-run and its janitor together (the lock is an
 * open file description both share), so a slot never changes hands mid-teardown.
 */
#ifndef KILN_KILNRUN_SLOT_H
#define KILN_KILNRUN_SLOT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define SLOT_ID_MAX 32

/* What a run made and teardown removes; written to N.state. */
struct run_state {
	char id[SLOT_ID_MAX];		/* the jail's --id: "kiln-run-N" */
	char chroot_base[PATH_MAX];	/* the jailer's --chroot-base-dir */
	char jailer[PATH_MAX];		/* the jailer binary (for --cleanup) */
	char cgroup[PATH_MAX];		/* the jail cgroup's directory, absolute */
	char netns[64];			/* name under /run/netns, "" for none */
	char tap_host[16];		/* --net: the host end of the link, "" for none */
	bool kept;			/* --keep: left running on purpose */
	pid_t owner;			/* the kiln-run that made it */
};

struct run_slot {
	unsigned index;
	int lock_fd;			/* -1 when not held */
	char dir[PATH_MAX];
};

/*
 * Takes slot index if no run holds it: 1 when taken, 0 when held by another run, or
 * -errno. The state directory is created (0700) if missing.
 */
int slot_try_lock(const char *state_dir, unsigned index, struct run_slot *s, struct error *err);
/* Releases the lock (the state file stays as it is). */
void slot_unlock(struct run_slot *s);

/* A file of the slot: "state", "console", "log". */
int slot_path(const struct run_slot *s, const char *what, char *buf, size_t size);

/* Writes the state atomically (a temporary file, then rename). */
int slot_state_write(const struct run_slot *s, const struct run_state *st, struct error *err);
/* 1 with *st filled, 0 when the slot has no state, or -errno (a corrupt file: -EBADMSG). */
int slot_state_read(const struct run_slot *s, struct run_state *st, struct error *err);
/* Removes the state file and the slot's console and log. */
void slot_state_remove(const struct run_slot *s);

#endif
