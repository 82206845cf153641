/* Network namespace: checking that --netns names one, and joining it. */
#ifndef KILN_JAILER_NETNS_H
#define KILN_JAILER_NETNS_H

#include "errors.h"

/* Open path and check it is a network namespace. Returns an O_CLOEXEC fd or -1. */
int jail_netns_open(const char *path, struct jail_err *err);
/* setns(fd, CLONE_NEWNET) and close fd. */
int jail_netns_join(int fd, struct jail_err *err);

#endif
