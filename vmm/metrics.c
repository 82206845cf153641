/* Metrics: counters registered by devices, written as one JSON object per line. */
#include "metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io.h"

void metrics_init(struct metrics *mt, int fd)
{
	memset(mt, 0, sizeof(*mt));
	mt->fd = fd;
}

int metrics_add(struct metrics *mt, const char *section, const char *name,
		const atomic_ulong *counter)
{
	return metrics_add_sum(mt, section, name, counter, 0, 1);
}

int metrics_add_sum(struct metrics *mt, const char *section, const char *name,
		    const atomic_ulong *first, size_t stride, unsigned int count)
{
	if (mt->nr == METRICS_MAX)
		return -ENOSPC;
	mt->m[mt->nr++] = (struct metric){ section, name, first, stride, count, 0 };
	return 0;
}

static unsigned long metric_value(const struct metric *m)
{
	unsigned long sum = 0;
	const char *p = (const char *)m->counter;
	for (unsigned int i = 0; i < m->count; i++, p += m->stride)
		sum += atomic_load_explicit((const atomic_ulong *)p, memory_order_relaxed);
	return sum;
}

/*
 * Formatted into a fixed buffer: the main thread allocates nothing once the VM runs.
 * Sections come out in registration order, each named once.
 */
int metrics_flush(struct metrics *mt)
{
	static char line[8192];
	struct timespec ts;
	size_t n = 0;
	const char *open_section = NULL;

	if (mt->fd < 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	n += (size_t)snprintf(line, sizeof(line), "{\"utc_timestamp_ms\":%lld",
			      (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	for (unsigned int i = 0; i < mt->nr && n < sizeof(line); i++) {
		struct metric *m = &mt->m[i];
		unsigned long now = metric_value(m);
		bool same = open_section && strcmp(open_section, m->section) == 0;
		if (!same)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s,\"%s\":{",
					      open_section ? "}" : "", m->section);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s\"%s\":%lu", same ? "," : "",
				      m->name, now - m->last);
		m->last = now;
		open_section = m->section;
	}
	if (n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s}\n", open_section ? "}" : "");
	if (n >= sizeof(line))
		return -ENOBUFS;
	return write_all(mt->fd, line, n);
}
