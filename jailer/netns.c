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
	/* A namespace file is a regular file of nsfs; a FIFO is refused without waiting. */
	int fd = jail_open_outside("invalid --netns", path, O_RDONLY, FILE_KIND_REG,
				   JAIL_EXIT_BAD_NETNS, err);

	if (fd < 0)
		return -1;
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
