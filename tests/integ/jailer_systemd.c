/* Integration: tools/systemd/kiln@.service and kiln-api@.service pass systemd-analyze verify. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "jailer_util.h"

static void verify(const char *name)
{
	char cmd[8 * PATH_MAX], jailer[PATH_MAX], unit[PATH_MAX];
	struct jt t;

	jt_init(&t);
	if (access("/usr/bin/systemd-analyze", X_OK) != 0)
		cr_skip_test("systemd-analyze is not installed");
	cr_assert_not_null(realpath(t.jailer, jailer));
	/* Tests run from the top of the source tree, as `make test` runs them. */
	snprintf(unit, sizeof(unit), "tools/systemd/%s@.service", name);
	cr_assert_eq(access(unit, R_OK), 0, "%s", unit);
	/* verify insists that ExecStart's binary exists: point it at the built jailer. */
	snprintf(cmd, sizeof(cmd),
		 "sed 's#/usr/local/bin/jailer#%s#g' %s > %s/%s@.service && "
		 "ln -s %s@.service %s/%s@vm1.service && cd %s && "
		 "systemd-analyze verify --man=no ./%s@vm1.service 2>&1",
		 jailer, unit, t.base, name, name, t.base, name, t.base, name);
	FILE *p = popen(cmd, "r");
	char out[4096] = "";
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int rc = pclose(p);
	jt_fini(&t);
	cr_assert_eq(rc, 0, "systemd-analyze verify: %s", out);
	cr_assert_eq(n, 0u, "warnings: %s", out);
}

Test(jailer_systemd, unit_verifies) { verify("kiln"); }
Test(jailer_systemd, api_unit_verifies) { verify("kiln-api"); }
