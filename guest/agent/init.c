/* What the agent does as a guest's PID 1: the file systems a process expects, and the end. */
#include "guest/agent/init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *target, *type, *data;
	unsigned long flags;
	mode_t mode;
} mounts[] = {
	{ "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555 },
	{ "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555 },
	{ "/dev", "devtmpfs", "mode=0755", MS_NOSUID, 0755 },
	{ "/dev/pts", "devpts", "mode=0620,ptmxmode=0666", MS_NOSUID | MS_NOEXEC, 0755 },
	{ "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 01777 },
	{ "/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 01777 },
	{ "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV, 0755 },
};

/* True when path is a mount point already (its device differs from its parent's). */
static int is_mounted(const char *path)
{
	struct stat a, b;
	char parent[64];
	const char *slash = strrchr(path, '/');
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	memcpy(parent, path, n);
	parent[n] = '\0';
	if (stat(path, &a) < 0 || stat(parent, &b) < 0)
		return 0;
	return a.st_dev != b.st_dev;
}

/* The /proc mounted is this PID namespace's (its "self" is this process). */
static bool proc_is_ours(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strtol(buf, NULL, 10) == (long)getpid();
}

void init_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open(fd == 0 ? "/dev/null" : "/dev/console", O_RDWR | O_NOCTTY);
		if (n < 0)
			n = open("/dev/null", O_RDWR | O_NOCTTY);
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

int init_mounts(struct error *err)
{
	int rc = 0;
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		if (mkdir(mounts[i].target, mounts[i].mode) < 0 && errno != EEXIST) {
			if (!rc)
				rc = error_set(err, -errno, "mkdir %s: %s", mounts[i].target,
					       strerror(errno));
			continue;
		}
		if (is_mounted(mounts[i].target) &&
		    (strcmp(mounts[i].target, "/proc") || proc_is_ours()))
			continue;
		if (mount(mounts[i].type, mounts[i].target, mounts[i].type, mounts[i].flags,
			  mounts[i].data) < 0 && !rc)
			rc = error_set(err, -errno, "mount %s on %s: %s", mounts[i].type,
				       mounts[i].target, strerror(errno));
	}
	init_std_fds();
	return rc;
}

void init_halt(enum ap_shutdown_action action)
{
	kill(-1, SIGKILL);
	sync();
	reboot(action == AP_SHUTDOWN_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
	/* reboot(2) failed (not allowed here): nothing else to do but stop. */
	for (;;)
		pause();
}
