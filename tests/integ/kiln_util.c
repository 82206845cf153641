/* Integration-test helpers for kiln: temp configs, test guests, running the real binary. */
#include "kiln_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kt_init(struct kt *t)
{
	memset(t, 0, sizeof(*t));
	t->kiln = getenv("KILN");
	if (!t->kiln || !getenv("GUESTS"))
		cr_skip_test("KILN and GUESTS are not set");
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("/dev/kvm is not usable here");
	close(fd);
	snprintf(t->dir, sizeof(t->dir), "/tmp/kiln-test-XXXXXX");
	cr_assert_not_null(mkdtemp(t->dir));
	snprintf(t->config, sizeof(t->config), "%s/vm.json", t->dir);
}

void kt_fini(struct kt *t)
{
	char cmd[PATH_MAX + 16];
	if (!t->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
}

const char *kt_guest(const char *name)
{
	static char path[PATH_MAX];
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/%s.elf", getenv("GUESTS"), name);
	cr_assert_not_null(realpath(rel, path), "test guest %s not built", rel);
	return path;
}

const char *kt_path(struct kt *t, const char *name)
{
	static char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	return path;
}

void kt_config(struct kt *t, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(t->config, "w");
	cr_assert_not_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

void kt_guest_config(struct kt *t, const char *guest, unsigned int vcpus, unsigned int mem_mib)
{
	kt_config(t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": %u, \"mem_size_mib\": %u}}",
		  kt_guest(guest), vcpus, mem_mib);
}

void kt_run(struct kt *t, struct proc_result *r, const char *in, int timeout_ms, ...)
{
	const char *argv[32] = { t->kiln, "--no-api", "--config-file", t->config };
	int n = 4;
	va_list ap;
	va_start(ap, timeout_ms);
	for (const char *a; n < 31 && (a = va_arg(ap, const char *)) != NULL;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	proc_run(argv, in, timeout_ms, r);
}
