/* Parsers for /proc text (status, cgroup, mountinfo, misc): pure functions over strings. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io.h"

/* Copy the line starting at p (without its newline) into buf; return the next line. */
static const char *next_line(const char *p, char *buf, size_t size, bool *truncated)
{
	size_t n = strcspn(p, "\n");

	*truncated = n >= size;
	if (!*truncated) {
		memcpy(buf, p, n);
		buf[n] = '\0';
	}
	return p[n] ? p + n + 1 : p + n;
}

static int parse_ids(const char *s, uint32_t out[4])
{
	char *end;

	for (int i = 0; i < 4; i++) {
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || errno || v > UINT32_MAX)
			return -EINVAL;
		out[i] = (uint32_t)v;
		s = end;
	}
	return 0;
}

static int parse_hex(const char *s, uint64_t *out)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	errno = 0;
	*out = strtoull(s, &end, 16);
	return end == s || errno ? -EINVAL : 0;
}

int proc_parse_status(const char *text, struct proc_status *st)
{
	char line[1024];
	bool trunc;
	const char *p = text;

	memset(st, 0, sizeof(*st));
	st->no_new_privs = -1;
	while (*p) {
		p = next_line(p, line, sizeof(line), &trunc);
		if (trunc) {
			/* Only Groups: can be this long; count its entries from the text. */
			if (strncmp(p, "Groups:", 7) == 0)
				return -EINVAL;
			continue;
		}
		char *v = strchr(line, ':');
		if (!v)
			continue;
		*v++ = '\0';
		if (strcmp(line, "Uid") == 0) {
			if (parse_ids(v, st->uid) < 0)
				return -EINVAL;
			st->seen |= 1u << 0;
		} else if (strcmp(line, "Gid") == 0) {
			if (parse_ids(v, st->gid) < 0)
				return -EINVAL;
			st->seen |= 1u << 1;
		} else if (strcmp(line, "Groups") == 0) {
			char *tok, *save = NULL;
			for (tok = strtok_r(v, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
				st->ngroups++;
			st->seen |= 1u << 2;
		} else if (strcmp(line, "CapInh") == 0) {
			if (parse_hex(v, &st->cap_inh) < 0)
				return -EINVAL;
			st->seen |= 1u << 3;
		} else if (strcmp(line, "CapPrm") == 0) {
			if (parse_hex(v, &st->cap_prm) < 0)
				return -EINVAL;
			st->seen |= 1u << 4;
		} else if (strcmp(line, "CapEff") == 0) {
			if (parse_hex(v, &st->cap_eff) < 0)
				return -EINVAL;
			st->seen |= 1u << 5;
		} else if (strcmp(line, "CapBnd") == 0) {
			if (parse_hex(v, &st->cap_bnd) < 0)
				return -EINVAL;
			st->seen |= 1u << 6;
		} else if (strcmp(line, "CapAmb") == 0) {
			if (parse_hex(v, &st->cap_amb) < 0)
				return -EINVAL;
			st->seen |= 1u << 7;
		} else if (strcmp(line, "NoNewPrivs") == 0) {
			st->no_new_privs = atoi(v);
			st->seen |= 1u << 8;
		}
	}
	return st->seen == PROC_STATUS_ALL ? 0 : -EINVAL;
}

int proc_parse_cgroup(const char *text, struct proc_cgroup *out)
{
	char line[PATH_MAX + 160];
	bool trunc;
	const char *p = text;

	out->n = 0;
	while (*p) {
		p = next_line(p, line, sizeof(line), &trunc);
		if (trunc)
			return -ENAMETOOLONG;
		if (line[0] == '\0')
			continue;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/')
			return -EINVAL;
		if (out->n == PROC_CGROUP_MAX)
			return -E2BIG;
		struct proc_cgroup_entry *e = &out->e[out->n];
		char *end;
		*c1 = '\0';
		*c2 = '\0';
		errno = 0;
		unsigned long h = strtoul(line, &end, 10);
		if (end == line || *end || errno || h > 1024)
			return -EINVAL;
		if (strlen(c1 + 1) >= sizeof(e->controllers) || strlen(c2 + 1) >= sizeof(e->path))
			return -ENAMETOOLONG;
		e->hierarchy = (unsigned)h;
		strcpy(e->controllers, c1 + 1);
		strcpy(e->path, c2 + 1);
		out->n++;
	}
	return 0;
}

bool list_contains(const char *list, const char *item)
{
	size_t len = strlen(item);

	while (*list) {
		size_t n = strcspn(list, ",");
		if (n == len && strncmp(list, item, n) == 0)
			return true;
		list += n;
		if (*list == ',')
			list++;
	}
	return false;
}

const char *proc_cgroup_path(const struct proc_cgroup *cg, const char *controller)
{
	for (size_t i = 0; i < cg->n; i++) {
		const struct proc_cgroup_entry *e = &cg->e[i];
		if (!controller ? (e->hierarchy == 0 && e->controllers[0] == '\0')
				: list_contains(e->controllers, controller))
			return e->path;
	}
	return NULL;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static int unescape(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\' && i + 3 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= size)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int proc_parse_mount_line(const char *line, size_t n, struct proc_mount *m)
{
	/* ID PARENT MAJ:MIN ROOT POINT OPTIONS ... */
	const char *f[6];
	size_t len[6], i = 0, k = 0;

	while (k < 6) {
		while (i < n && line[i] == ' ')
			i++;
		if (i == n)
			return -EINVAL;
		f[k] = line + i;
		while (i < n && line[i] != ' ')
			i++;
		len[k] = (size_t)(line + i - f[k]);
		k++;
	}
	if (len[5] >= sizeof(m->options))
		return -ENAMETOOLONG;
	memcpy(m->options, f[5], len[5]);
	m->options[len[5]] = '\0';
	return unescape(f[4], len[4], m->point, sizeof(m->point));
}

static bool token_is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && strncmp(s, word, n) == 0;
}

int proc_parse_cgroup_mounts(const char *mountinfo, struct cg_mounts *out)
{
	char line[3 * PATH_MAX];
	bool trunc;
	const char *p = mountinfo;

	out->n = 0;
	while (*p) {
		const char *f[6];
		size_t flen[6];
		const char *q;

		p = next_line(p, line, sizeof(line), &trunc);
		if (trunc)
			continue;
		/* Fields 0-5: id parent maj:min root point options; then optional tags, "-". */
		q = line;
		for (int i = 0; i < 6; i++) {
			f[i] = q;
			flen[i] = strcspn(q, " ");
			q += flen[i];
			if (*q == ' ')
				q++;
		}
		const char *sep = strstr(q, "- ");
		if (!sep && strncmp(q, "-", 1) != 0)
			continue;
		sep = sep ? sep + 2 : q + 2;
		size_t tlen = strcspn(sep, " ");
		int version;
		if (tlen == 6 && strncmp(sep, "cgroup", 6) == 0)
			version = 1;
		else if (tlen == 7 && strncmp(sep, "cgroup2", 7) == 0)
			version = 2;
		else
			continue;
		const char *src = sep + tlen + (sep[tlen] == ' ');
		const char *super = src + strcspn(src, " ");
		super += *super == ' ';

		struct cg_mount m = { .version = version };
		if (unescape(f[3], flen[3], m.root, sizeof(m.root)) < 0 ||
		    unescape(f[4], flen[4], m.point, sizeof(m.point)) < 0)
			continue;
		if (version == 1) {
			/* Keep the controller names from the super options. */
			const char *s = super;
			size_t o = 0;
			while (*s) {
				size_t n = strcspn(s, ",");
				bool keep = !memchr(s, '=', n) && !token_is(s, n, "rw") &&
					    !token_is(s, n, "ro") && !token_is(s, n, "clone_children") &&
					    !token_is(s, n, "noprefix") && !token_is(s, n, "xattr") &&
					    !token_is(s, n, "cpuset_v2_mode");
				if (keep && o + n + 2 < sizeof(m.controllers)) {
					if (o)
						m.controllers[o++] = ',';
					memcpy(m.controllers + o, s, n);
					o += n;
					m.controllers[o] = '\0';
				}
				s += n;
				if (*s == ',')
					s++;
			}
			if (m.controllers[0] == '\0')
				continue;	/* named hierarchies (name=systemd) have no controller */
		}
		/* The first mount of a hierarchy wins; later ones are bind mounts of it. */
		bool dup = false;
		for (size_t i = 0; i < out->n; i++)
			if (out->m[i].version == version &&
			    (version == 2 || strcmp(out->m[i].controllers, m.controllers) == 0))
				dup = true;
		if (dup)
			continue;
		if (out->n == CG_MOUNTS_MAX)
			return -E2BIG;
		out->m[out->n++] = m;
	}
	return 0;
}

const struct cg_mount *cg_mount_v1(const struct cg_mounts *m, const char *controller)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->m[i].version == 1 && list_contains(m->m[i].controllers, controller))
			return &m->m[i];
	return NULL;
}

const struct cg_mount *cg_mount_v2(const struct cg_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->m[i].version == 2)
			return &m->m[i];
	return NULL;
}

int proc_misc_minor(const char *text, const char *name)
{
	char line[256];
	bool trunc;
	const char *p = text;

	while (*p) {
		char n[64];
		int minor;
		p = next_line(p, line, sizeof(line), &trunc);
		if (trunc)
			continue;
		if (sscanf(line, "%d %63s", &minor, n) == 2 && strcmp(n, name) == 0 && minor >= 0)
			return minor;
	}
	return -ENOENT;
}

ssize_t read_small_file(int dirfd, const char *path, char *buf, size_t size)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (len + 1 >= size) {
			close(fd);
			return -EFBIG;
		}
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}
