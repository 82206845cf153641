/* Metrics: counters registered by devices, written as one JSON object per line. */
#ifndef KILN_METRICS_H
#define KILN_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include "util.h"

#define METRICS_MAX 96
#define METRICS_PERIOD_S 60

struct metric {
	const char *section;
	const char *name;
	const atomic_ulong *counter;
	size_t stride;		/* bytes between counters summed together */
	unsigned int count;	/* how many counters (one per vCPU, say) make this metric */
	unsigned long last;	/* value at the previous flush: lines carry deltas */
};

struct metrics {
	int fd;			/* -1: metrics are counted but not written */
	struct metric m[METRICS_MAX];
	unsigned int nr;
};

void metrics_init(struct metrics *mt, int fd);
/* Register a counter; the pointer must stay valid until the last flush. */
int metrics_add(struct metrics *mt, const char *section, const char *name,
		const atomic_ulong *counter);
/* Register the sum of `count` counters laid out `stride` bytes apart (per-vCPU stats). */
int metrics_add_sum(struct metrics *mt, const char *section, const char *name,
		    const atomic_ulong *first, size_t stride, unsigned int count);
/* Append one line: {"utc_timestamp_ms":..., "<section>": {"<name>": delta, ...}, ...}. */
int metrics_flush(struct metrics *mt);

#endif
