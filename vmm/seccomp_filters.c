/* Per-thread seccomp filters: compiled BPF (built in or from a file), validated, installed without allocating. */
#include "seccomp_filters.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io.h"

/* vmm and vcpu first: every run has them; api only when the API server runs. */
const char *const seccomp_thread_kinds[] = { "vmm", "vcpu", "api" };
const unsigned int seccomp_thread_kinds_nr = ARRAY_SIZE(seccomp_thread_kinds);

static int read_u32(const uint8_t *buf, size_t len, size_t *off, uint32_t *v)
{
	if (len - *off < 4)
		return -1;
	memcpy(v, buf + *off, 4);
	*off += 4;
	return 0;
}

int seccomp_parse(const uint8_t *buf, size_t len, struct seccomp_filter_set *set,
		  struct error *err)
{
	size_t off = 8;
	uint32_t count;

	memset(set, 0, sizeof(*set));
	if (len > SECCOMP_FILE_MAX)
		return error_set(err, -EFBIG, "%zu bytes is more than a filter file may have "
				 "(%d)", len, SECCOMP_FILE_MAX);
	if (len < 8 || memcmp(buf, SECCOMP_MAGIC, 8) != 0)
		return error_set(err, -EINVAL, "not a compiled kiln filter file (bad magic)");
	if (read_u32(buf, len, &off, &count) < 0)
		return error_set(err, -EINVAL, "truncated filter file");
	if (count == 0 || count > SECCOMP_MAX_FILTERS)
		return error_set(err, -EINVAL, "%u filters; expected 1 to %d", count,
				 SECCOMP_MAX_FILTERS);
	for (uint32_t i = 0; i < count; i++) {
		struct seccomp_filter *f = &set->filters[i];
		uint32_t n;
		if (len - off < SECCOMP_NAME_MAX)
			return error_set(err, -EINVAL, "truncated filter file");
		memcpy(f->name, buf + off, SECCOMP_NAME_MAX);
		off += SECCOMP_NAME_MAX;
		if (f->name[SECCOMP_NAME_MAX - 1] != '\0' || f->name[0] == '\0')
			return error_set(err, -EINVAL, "filter %u has no valid name", i);
		if (read_u32(buf, len, &off, &n) < 0)
			return error_set(err, -EINVAL, "truncated filter file");
		if (n == 0 || n > SECCOMP_MAX_INSNS)
			return error_set(err, -EINVAL, "filter \"%s\" has %u instructions; expected "
					 "1 to %d", f->name, n, SECCOMP_MAX_INSNS);
		if ((len - off) / sizeof(struct sock_filter) < n)
			return error_set(err, -EINVAL, "filter \"%s\" is truncated", f->name);
		f->insns = (const struct sock_filter *)(buf + off);
		f->len = n;
		off += (size_t)n * sizeof(struct sock_filter);
		set->nr = i + 1;
	}
	if (off != len)
		return error_set(err, -EINVAL, "%zu unexpected bytes after the last filter",
				 len - off);
	return seccomp_validate(set, err);
}

int seccomp_validate(const struct seccomp_filter_set *set, struct error *err)
{
	for (unsigned int i = 0; i < set->nr; i++) {
		bool known = false;
		for (unsigned int k = 0; k < seccomp_thread_kinds_nr; k++)
			known |= strcmp(set->filters[i].name, seccomp_thread_kinds[k]) == 0;
		if (!known)
			return error_set(err, -EINVAL, "filter \"%s\" is not a kiln thread kind "
					 "(vmm, vcpu, api)", set->filters[i].name);
		for (unsigned int j = 0; j < i; j++)
			if (strcmp(set->filters[i].name, set->filters[j].name) == 0)
				return error_set(err, -EINVAL, "filter \"%s\" appears twice",
						 set->filters[i].name);
	}
	for (unsigned int k = 0; k < SECCOMP_REQUIRED_KINDS; k++)
		if (!seccomp_find(set, seccomp_thread_kinds[k]))
			return error_set(err, -EINVAL, "no filter for the \"%s\" threads",
					 seccomp_thread_kinds[k]);
	return 0;
}

int seccomp_load_file(const char *path, struct seccomp_filter_set *set, struct error *err)
{
	uint64_t size;
	int ret;

	memset(set, 0, sizeof(*set));
	int fd = open_regular_file("filter file", path, &size, err);
	if (fd < 0)
		return fd;
	if (size > SECCOMP_FILE_MAX) {
		close(fd);
		return error_set(err, -EFBIG, "%s: %llu bytes is more than a filter file may have "
				 "(%d)", path, (unsigned long long)size, SECCOMP_FILE_MAX);
	}
	uint8_t *buf = malloc((size_t)size + 1);
	if (!buf) {
		close(fd);
		return error_set(err, -ENOMEM, "out of memory");
	}
	ret = pread_all(fd, buf, (size_t)size, 0);
	close(fd);
	if (ret < 0) {
		free(buf);
		return error_set(err, ret, "%s: %s", path, strerror(-ret));
	}
	ret = seccomp_parse(buf, (size_t)size, set, err);
	if (ret < 0) {
		free(buf);
		memset(set, 0, sizeof(*set));
		error_prefix(err, "%s", path);
		return ret;
	}
	set->storage = buf;
	return 0;
}

const struct seccomp_filter *seccomp_find(const struct seccomp_filter_set *set,
					  const char *kind)
{
	for (unsigned int i = 0; i < set->nr; i++)
		if (strcmp(set->filters[i].name, kind) == 0)
			return &set->filters[i];
	return NULL;
}

void seccomp_set_free(struct seccomp_filter_set *set)
{
	free(set->storage);
	memset(set, 0, sizeof(*set));
}

int seccomp_install(const struct seccomp_filter *f)
{
	struct sock_fprog prog = {
		.len = (unsigned short)f->len,
		.filter = (struct sock_filter *)f->insns,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* flags 0: no TSYNC; every thread installs its own. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}
