/* Starting one run's microVM: its configuration, and the jailer that builds its jail. */
#ifndef KILN_KILNRUN_VM_H
#define KILN_KILNRUN_VM_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* The run image: a directory with these four files. */
struct run_image {
	char kernel[PATH_MAX];		/* vmlinux */
	char initrd[PATH_MAX];		/* initramfs.cpio.gz */
	char rootfs[PATH_MAX];		/* rootfs.ext4: the read-only base, shared */
	char cmdline[2048];		/* the contents of cmdline */
};

/* Finds and checks the image's files; err names the one that is missing. */
int vm_image_load(const char *dir, struct run_image *img, struct error *err);

struct vm_spec {
	const char *jailer, *kiln;	/* absolute paths */
	const char *id;			/* the jail's id */
	const char *chroot_base;
	const char *parent_cgroup;	/* relative to the cgroup v2 root */
	const char *sup_cgroup;		/* where the jailer itself runs (absolute), or NULL */
	uint32_t uid, gid, cid;
	uint32_t vcpus, mem_mib, pids_max;
	const struct run_image *image;
	const char *extra_cmdline;	/* appended to the image's (may be NULL) */
	const char *netns;		/* a network namespace's path, or NULL: a new empty one */
	const char *tap;		/* with netns: the TAP's name in it */
	const char *guest_mac;
	int console_fd, log_fd;		/* the VM's serial console and kiln's log */
};

/* The jail cgroup's memory.max for a guest of mem_mib: the guest plus kiln's own. */
uint64_t vm_memory_limit(uint32_t mem_mib);

/*
 * Writes kiln's configuration for spec into buf (JSON). Paths are the jail's: /vmlinux,
 * /initrd.img, /rootfs.ext4, /v.sock. Returns its length or -ENOSPC.
 */
int vm_config(const struct vm_spec *spec, char *buf, size_t size);

/*
 * Starts the jailer (supervising: it stays kiln's parent and removes the jail when kiln
 * ends) in a child that dies with the caller (PR_SET_PDEATHSIG), in the cgroup
 * spec->sup_cgroup (so that killing that cgroup also ends a jail half built), in a new,
 * empty network namespace unless spec->netns names one. *pid is the jailer's. Returns 0
 * or -errno.
 */
int vm_start(const struct vm_spec *spec, pid_t *pid, struct error *err);

#endif
