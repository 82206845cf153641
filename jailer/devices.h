/* Device nodes and directories inside the jail: /dev/kvm, /dev/net/tun, /dev/urandom, ... */
#ifndef KILN_JAILER_DEVICES_H
#define KILN_JAILER_DEVICES_H

#include <stdbool.h>
#include <sys/types.h>
#include "errors.h"

/*
 * In the current root (the jail, after pivot_root): /dev, /dev/net and /run as
 * 0700 directories and the device nodes as 0600 character devices, all owned
 * uid:gid; "/" too (0700 uid:gid) when own_root, i.e. the jailer made it.
 * userfaultfd_minor < 0 means the host has no /dev/userfaultfd.
 */
int jail_make_devices(uid_t uid, gid_t gid, bool own_root, int userfaultfd_minor,
		      struct jail_err *err);

#endif
