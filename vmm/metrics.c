/* Metrics: counters registered by devices, written as one JSON object per line. */
#include "metrics.h"

#include <errno.h>
#include <jansson.h>
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

int metrics_flush(struct metrics *mt)
{
	struct timespec ts;
	json_t *root;
	int ret = 0;

	if (mt->fd < 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	root = json_object();
	if (!root)
		return -ENOMEM;
	json_object_set_new(root, "utc_timestamp_ms",
			    json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	for (unsigned int i = 0; i < mt->nr; i++) {
		struct metric *m = &mt->m[i];
		json_t *sec = json_object_get(root, m->section);
		if (!sec) {
			sec = json_object();
			json_object_set_new(root, m->section, sec);
		}
		unsigned long now = metric_value(m);
		json_object_set_new(sec, m->name, json_integer((json_int_t)(now - m->last)));
		m->last = now;
	}
	char *line = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!line)
		return -ENOMEM;
	size_t len = strlen(line);
	line[len] = '\n';	/* replaces the NUL; json_dumps allocates len + 1 */
	ret = write_all(mt->fd, line, len + 1);
	free(line);
	return ret;
}
