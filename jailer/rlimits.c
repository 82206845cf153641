/* Resource limits for the VMM: RLIMIT_NOFILE (default 2048) and optional RLIMIT_FSIZE. */
#include "rlimits.h"

#include <errno.h>
#include <sys/resource.h>

static int set_one(int res, const char *name, uint64_t v, struct jail_err *err)
{
	struct rlimit rl = { .rlim_cur = (rlim_t)v, .rlim_max = (rlim_t)v };
	struct rlimit back;

	if (setrlimit(res, &rl) < 0)
		return jail_fail_errno(err, JAIL_EXIT_RLIMIT, errno, "cannot set %s to %llu", name,
				       (unsigned long long)v);
	if (getrlimit(res, &back) < 0 || back.rlim_cur != rl.rlim_cur ||
	    back.rlim_max != rl.rlim_max)
		return jail_fail(err, JAIL_EXIT_RLIMIT, "%s did not take effect", name);
	return 0;
}

int jail_set_rlimits(const struct jail_config *cfg, struct jail_err *err)
{
	if (cfg->have_fsize && set_one(RLIMIT_FSIZE, "resource limit fsize", cfg->fsize, err) < 0)
		return -1;
	return set_one(RLIMIT_NOFILE, "resource limit no-file", cfg->nofile, err);
}
