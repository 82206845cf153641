/* Memory admission: the memory limit kiln runs under, and whether a guest fits in it. */
#include "memlimit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "fmt.h"
#include "io.h"
#include "parse.h"

/* cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit value. */
#define V1_UNLIMITED 0x7ffffffffffff000ULL

/* The text of a small kernel file, NUL-terminated; -errno when it cannot be read. */
static ssize_t read_text(const char *path, char *buf, size_t size)
{
	int fd = open_regular_file("memory limit", path, NULL, NULL);
	ssize_t n;

	if (fd < 0)
		return fd;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	n = n < 0 ? -errno : n;
	close_quietly(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static void lower(struct mem_limit *lim, uint64_t bytes, const char *source, bool cgroup)
{
	if (bytes < lim->bytes) {
		lim->bytes = bytes;
		lim->from_cgroup = cgroup;
		snprintf(lim->source, sizeof(lim->source), "%s", source);
	}
}

/* One memory.max or memory.limit_in_bytes file: a number of bytes, or no limit. */
static void consider_file(struct mem_limit *lim, const char *path, uint64_t unlimited)
{
	char text[64];
	uint64_t v;

	if (read_text(path, text, sizeof(text)) <= 0)
		return;
	text[strcspn(text, "\n")] = '\0';
	if (parse_u64(text, UINT64_MAX, &v) == 0 && v < unlimited)
		lower(lim, v, path, true);
}

/* The file `name` in the cgroup at `cg` (below `mount`) and in each of its ancestors. */
static void walk_up(struct mem_limit *lim, const char *mount, const char *cg, const char *name,
		    uint64_t unlimited)
{
	char path[PATH_MAX], dir[PATH_MAX];

	if (cg[0] != '/' || fmt_buf(dir, sizeof(dir), "%s", cg) < 0)
		return;
	for (;;) {
		size_t len = strlen(dir);
		if (len > 1 && dir[len - 1] == '/')
			dir[--len] = '\0';
		if (fmt_buf(path, sizeof(path), "%s%s/%s", mount, len > 1 ? dir : "", name) == 0)
			consider_file(lim, path, unlimited);
		if (len <= 1)
			return;
		char *slash = strrchr(dir, '/');
		slash[slash == dir ? 1 : 0] = '\0';
	}
}

/* Lines of /proc/self/cgroup: "0::/path" (v2), "N:cpu,memory:/path" (v1). */
static void read_cgroups(struct mem_limit *lim, const char *root)
{
	char text[4096], path[PATH_MAX], mount[PATH_MAX];
	char *save = NULL;

	if (fmt_buf(path, sizeof(path), "%s/proc/self/cgroup", root) < 0 ||
	    read_text(path, text, sizeof(text)) <= 0)
		return;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = '\0';
		*c2 = '\0';
		const char *controllers = c1 + 1, *cg = c2 + 1;
		if (strcmp(line, "0") == 0 && controllers[0] == '\0') {
			if (fmt_buf(mount, sizeof(mount), "%s/sys/fs/cgroup", root) == 0)
				walk_up(lim, mount, cg, "memory.max", UINT64_MAX);
			continue;
		}
		char list[256];
		char *csave = NULL;
		if (fmt_buf(list, sizeof(list), "%s", controllers) < 0)
			continue;
		for (char *c = strtok_r(list, ",", &csave); c; c = strtok_r(NULL, ",", &csave))
			if (strcmp(c, "memory") == 0 &&
			    fmt_buf(mount, sizeof(mount), "%s/sys/fs/cgroup/memory", root) == 0)
				walk_up(lim, mount, cg, "memory.limit_in_bytes", V1_UNLIMITED);
	}
}

static void read_meminfo(struct mem_limit *lim, const char *root)
{
	char text[8192], path[PATH_MAX];
	unsigned long long kib;

	if (fmt_buf(path, sizeof(path), "%s/proc/meminfo", root) < 0 ||
	    read_text(path, text, sizeof(text)) <= 0)
		return;
	const char *p = strstr(text, "MemTotal:");
	if (p && sscanf(p, "MemTotal: %llu kB", &kib) == 1 && kib <= UINT64_MAX / 1024)
		lower(lim, (uint64_t)kib * 1024, "the host's MemTotal", false);
}

int mem_limit_read(const char *root, struct mem_limit *lim)
{
	if (strcmp(root, "/") == 0)
		root = "";
	lim->bytes = UINT64_MAX;
	lim->source[0] = '\0';
	lim->from_cgroup = false;
	read_cgroups(lim, root);
	read_meminfo(lim, root);
	return lim->bytes == UINT64_MAX ? -ENOENT : 0;
}

int mem_limit_host(struct mem_limit *lim)
{
	struct sysinfo si;

	if (mem_limit_read("/", lim) == 0)
		return 0;
	if (sysinfo(&si) < 0 || si.totalram == 0)
		return -ENOENT;
	lim->bytes = (uint64_t)si.totalram * si.mem_unit;
	lim->from_cgroup = false;
	snprintf(lim->source, sizeof(lim->source), "the host's RAM");
	return 0;
}

int mem_admit(uint64_t mem_mib, const struct mem_limit *lim, bool overcommit,
	      struct error *err)
{
	uint64_t want;

	if (overcommit || lim->bytes == UINT64_MAX)
		return 0;
	if (!MUL_OVERFLOWS(mem_mib, MiB(1), &want) && want <= lim->bytes)
		return 0;
	return error_set(err, -ENOMEM, "machine-config.mem_size_mib: %llu MiB does not fit under "
			 "the %llu MiB kiln may use (%s); --allow-mem-overcommit starts it anyway",
			 (unsigned long long)mem_mib, (unsigned long long)(lim->bytes >> 20),
			 lim->source);
}
