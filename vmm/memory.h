/* Guest RAM: the host mapping, its regions, and the one checked accessor for guest addresses. */
#ifndef KILN_MEMORY_H
#define KILN_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define GM_MAX_REGIONS 4

struct gm_region {
	uint64_t gpa;		/* guest physical start */
	uint64_t size;
	uint8_t *host;		/* host address of gpa */
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];	/* sorted by gpa, non-overlapping */
	unsigned int nr;
	uint8_t *map;		/* one host mapping holding every region */
	size_t map_size;
	bool owned;		/* map came from gm_create() and is unmapped by gm_destroy() */
};

enum gm_backing {
	GM_BACKING_ANON,	/* plain anonymous memory */
	GM_BACKING_THP,		/* anonymous, advised for transparent huge pages */
	GM_BACKING_HUGETLB,	/* 2 MiB hugetlbfs pages */
};

/*
 * Map `nr` regions (sorted, non-overlapping, page-aligned) as one anonymous
 * MAP_NORESERVE mapping. Returns 0 or -errno (-ENOMEM when the host cannot map it).
 */
int gm_create(struct guest_mem *gm, const struct gm_region *layout, unsigned int nr,
	      enum gm_backing backing) MUST_CHECK;
/* Describe caller-owned memory as guest memory (unit tests, tools). */
void gm_init_buffer(struct guest_mem *gm, uint64_t gpa, void *buf, size_t size);
void gm_destroy(struct guest_mem *gm);
/*
 * Describe a layout with no memory behind it: gm_contains answers as for the real
 * memory, gm_ptr always gives NULL. Loaders check their files against it, copying
 * nothing, before any guest memory is mapped.
 */
void gm_init_layout(struct guest_mem *gm, const struct gm_region *layout, unsigned int nr);
/* False for a layout from gm_init_layout: there is nothing to copy into. */
bool gm_is_mapped(const struct guest_mem *gm);

/*
 * The only way to turn a guest address into a host pointer: returns a pointer to
 * [gpa, gpa+len) when the whole range lies inside one RAM region, NULL otherwise
 * (including when gpa+len wraps). len 0 is treated as 1.
 */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Copy helpers built on gm_ptr; return 0 or -EFAULT. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len) MUST_CHECK;
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len) MUST_CHECK;
/* True when [gpa, gpa+len) is RAM (or would be, for a layout). */
bool gm_contains(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Total RAM in bytes. */
uint64_t gm_total(const struct guest_mem *gm);

#endif
