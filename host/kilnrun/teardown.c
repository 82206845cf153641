/* Removing a run: its processes, jail, cgroup, network namespace and host link. */
#include "host/kilnrun/teardown.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/kilnrun/command.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reads a small file of the cgroup into buf; -errno (-ENOENT: no such cgroup). */
static int read_cg(const char *cgroup, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", cgroup, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return 0;
}

bool teardown_populated(const char *cgroup)
{
	char buf[256];
	if (read_cg(cgroup, "cgroup.events", buf, sizeof(buf)) < 0)
		return false;
	return strstr(buf, "populated 1") != NULL;
}

int teardown_kill(const char *cgroup, int timeout_ms)
{
	char path[PATH_MAX + 32];
	size_t n = strlen(cgroup);
	if (n + sizeof("/cgroup.kill") > sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, cgroup, n);
	memcpy(path + n, "/cgroup.kill", sizeof("/cgroup.kill"));
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ssize_t w = write(fd, "1", 1);
	int e = errno;
	close(fd);
	if (w < 0)
		return -e;
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		if (!teardown_populated(cgroup))
			return 0;
		sleep_ms(10);
	}
	return timeout_ms > 0 && teardown_populated(cgroup) ? -ETIMEDOUT : 0;
}

int teardown_usage(const char *cgroup, unsigned long long *cpu_us,
		   unsigned long long *mem_peak)
{
	char buf[1024];
	int rc = read_cg(cgroup, "cpu.stat", buf, sizeof(buf));
	if (rc < 0)
		return rc;
	const char *u = strstr(buf, "usage_usec ");
	*cpu_us = u ? strtoull(u + 11, NULL, 10) : 0;
	*mem_peak = 0;
	if (read_cg(cgroup, "memory.peak", buf, sizeof(buf)) == 0)
		*mem_peak = strtoull(buf, NULL, 10);
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int teardown_sup_cgroup(const char *cgroup, char *out, size_t size)
{
	int n = snprintf(out, size, "%s.sup", cgroup);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int teardown_run(const struct run_state *st, struct error *err)
{
	char out[1024], sup[PATH_MAX + 8];
	int rc = 0;
	if (teardown_sup_cgroup(st->cgroup, sup, sizeof(sup)) < 0)
		return error_set(err, -ENAMETOOLONG, "%s: too long", st->cgroup);
	/* 1. No process of the run survives, the jailer (and a jail half built) first: the
	 *    jailer's cleanup then finds everything idle. */
	int k = teardown_kill(sup, 10000);
	if (k == 0)
		k = teardown_kill(st->cgroup, 10000);
	if (k < 0)
		return error_set(err, k, "%s: the run's processes did not all end: %s", st->cgroup,
				 strerror(-k));
	/* 2. The jail and its cgroup. A supervising jailer may still be removing them (its
	 *    VMM just died): --cleanup then reports the VMM as running (201) or finds a
	 *    half-removed jail; try again for a while. */
	const char *argv[] = { st->jailer, "--cleanup", "--id", st->id, "--chroot-base-dir",
			       st->chroot_base, "--missing-ok", NULL };
	int status = -1;
	for (int attempt = 0; attempt < 50; attempt++) {
		status = command_run(argv, out, sizeof(out));
		if (status == 0)
			break;
		teardown_kill(st->cgroup, 1000);
		sleep_ms(100);
	}
	if (status != 0) {
		if (status < 0)
			return error_set(err, status, "%s: %s", st->jailer, strerror(-status));
		rc = error_set(err, -EBUSY, "jailer --cleanup --id %s exited with %d: %s", st->id,
			       status, out);
	}
	/* The jailer removes the jail cgroup; one it never recorded (killed before it
	 * wrote its state) is removed here. */
	if (exists(st->cgroup) && rmdir(st->cgroup) < 0 && errno != ENOENT && rc == 0)
		rc = error_set(err, -errno, "%s: %s", st->cgroup, strerror(errno));
	if (exists(sup) && rmdir(sup) < 0 && errno != ENOENT && rc == 0)
		rc = error_set(err, -errno, "%s: %s", sup, strerror(errno));
	/* 3. The network: the host's end of the link and the namespace (with the TAP in it). */
	if (st->tap_host[0]) {
		const char *ip[] = { "ip", "link", "del", st->tap_host, NULL };
		char path[64];
		snprintf(path, sizeof(path), "/sys/class/net/%s", st->tap_host);
		if (exists(path) && command_run(ip, out, sizeof(out)) != 0 && exists(path) && rc == 0)
			rc = error_set(err, -EBUSY, "ip link del %s: %s", st->tap_host, out);
	}
	if (st->netns[0]) {
		char path[128];
		snprintf(path, sizeof(path), "/run/netns/%s", st->netns);
		const char *ip[] = { "ip", "netns", "del", st->netns, NULL };
		if (exists(path) && command_run(ip, out, sizeof(out)) != 0 && exists(path) && rc == 0)
			rc = error_set(err, -EBUSY, "ip netns del %s: %s", st->netns, out);
	}
	if (rc < 0)
		return rc;
	/* 4. Check: nothing of it is left. */
	if (exists(st->cgroup) || exists(sup))
		return error_set(err, -EBUSY, "%s: the run's cgroup is still there", st->cgroup);
	return 0;
}
