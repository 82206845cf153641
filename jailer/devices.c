/* Device nodes and directories inside the jail: /dev/kvm, /dev/net/tun, /dev/urandom, ... */
#include "devices.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "util.h"

static int make_dir(const char *path, uid_t uid, gid_t gid, struct jail_err *err)
{
	/* "/" exists; everything else is new (checked on the host, refused if planted). */
	if (mkdir(path, 0700) < 0 && (errno != EEXIST || strcmp(path, "/") != 0))
		return jail_fail_errno(err, JAIL_EXIT_DEVICES, errno, "mkdir %s", path);
	if (lchown(path, uid, gid) < 0 || chmod(path, 0700) < 0)
		return jail_fail_errno(err, JAIL_EXIT_DEVICES, errno, "chown %s", path);
	return 0;
}

static int make_node(const char *path, unsigned maj, unsigned min, uid_t uid, gid_t gid,
		     struct jail_err *err)
{
	if (mknod(path, S_IFCHR | 0600, makedev(maj, min)) < 0)
		return jail_fail_errno(err, JAIL_EXIT_DEVICES, errno, "mknod %s", path);
	if (lchown(path, uid, gid) < 0 || chmod(path, 0600) < 0)
		return jail_fail_errno(err, JAIL_EXIT_DEVICES, errno, "chown %s", path);
	return 0;
}

int jail_make_devices(uid_t uid, gid_t gid, bool own_root, int userfaultfd_minor,
		      struct jail_err *err)
{
	static const struct { const char *path; unsigned maj, min; } nodes[] = {
		{ "/dev/kvm", 10, 232 },
		{ "/dev/net/tun", 10, 200 },
		{ "/dev/urandom", 1, 9 },
	};

	/* A root the operator prepared keeps its owner and mode (root, not writable). */
	if ((own_root && make_dir("/", uid, gid, err) < 0) || make_dir("/dev", uid, gid, err) < 0 ||
	    make_dir("/dev/net", uid, gid, err) < 0 || make_dir("/run", uid, gid, err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++)
		if (make_node(nodes[i].path, nodes[i].maj, nodes[i].min, uid, gid, err) < 0)
			return -1;
	if (userfaultfd_minor >= 0 &&
	    make_node("/dev/userfaultfd", 10, (unsigned)userfaultfd_minor, uid, gid, err) < 0)
		return -1;
	return 0;
}
