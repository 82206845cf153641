/* Resource limits for the VMM: RLIMIT_NOFILE (default 2048) and optional RLIMIT_FSIZE. */
#ifndef KILN_JAILER_RLIMITS_H
#define KILN_JAILER_RLIMITS_H

#include "config.h"

/* setrlimit with soft = hard for each limit, then read it back. */
int jail_set_rlimits(const struct jail_config *cfg, struct jail_err *err);

#endif
