/* What the agent does as a guest's PID 1: the file systems a process expects, and the end. */
#ifndef KILN_AGENT_INIT_H
#define KILN_AGENT_INIT_H

#include "agentproto/msg.h"
#include "common/error.h"

/*
 * Mounts what is missing of /proc (proc), /sys (sysfs), /dev (devtmpfs, with /dev/pts and
 * /dev/shm), /tmp (tmpfs, mode 1777) and /run (tmpfs), creating the mount points, and
 * makes sure descriptors 0, 1 and 2 are open (/dev/console, else /dev/null). A file
 * system that is already mounted is left alone, except a /proc of another PID namespace
 * (a container's), which gets one of its own on top. Returns 0, or -errno for the first
 * failure (err names the mount point); the agent still serves after one.
 */
int init_mounts(struct error *err);
/* Makes sure fds 0, 1 and 2 are open (on /dev/null), so pipes never take them. */
void init_std_fds(void);
/* The end of a guest: kill every process, sync, then power off or reboot. Never returns. */
void init_halt(enum ap_shutdown_action action) __attribute__((noreturn));

#endif
