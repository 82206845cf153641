/* Network namespace: checking that --netns names one, and joining it. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

int jail_netns_open(const char *path, struct jail_err *err)
{
	struct statfs sfs;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return jail_fail_errno(err, JAIL_EXIT_BAD_NETNS, errno, "invalid --netns %s", path);
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC ||
	    ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		close(fd);
		return jail_fail(err, JAIL_EXIT_BAD_NETNS,
				 "invalid --netns %s: not a network namespace", path);
	}
	return fd;
}

int jail_netns_join(int fd, struct jail_err *err)
{
	int r = setns(fd, CLONE_NEWNET);
	int e = errno;

	close(fd);
	if (r < 0)
		return jail_fail_errno(err, JAIL_EXIT_NETNS, e, "cannot join the network namespace");
	return 0;
}
